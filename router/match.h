/*
 * match.h - route matching: the first route (in declaration order) whose every condition holds wins.
 *
 * Conditions of a route (conf/conf-t.h sl_conf_match_t), all optional, all must hold:
 *   path_prefix  matched on a path segment boundary: "/v1/chat" matches "/v1/chat", "/v1/chat/x" and "/v1/chat?x",
 *                never "/v1/chatx"; a prefix ending in '/' matches everything below it; "/" matches every path.
 *   host         exact, ASCII case-insensitive, the port (":8080") ignored on both sides.
 *   headers      each named header present, with exactly the given value when one is given.
 *   model        the body's top-level JSON "model" string equals it byte for byte.
 * Pure functions: no allocation, no I/O, no clock; any thread.
 */
#ifndef SL_ROUTER_MATCH_H
#define SL_ROUTER_MATCH_H

#include "router/match-t.h"
#include "conf/conf-t.h"

/* Returns 1 when `prefix` (NUL-terminated) matches `path` (path_len bytes, query string allowed) on a segment
 * boundary, else 0. */
int sl_router_match_path(const char *prefix, const char *path, size_t path_len);

/* Returns 1 when `want` equals the host part of `host` (host_len bytes), ignoring ASCII case and any ":port" on
 * either side, else 0. IPv6 literals in brackets keep their brackets. */
int sl_router_match_host(const char *want, const char *host, size_t host_len);

/* Returns 1 when every condition of `m` holds for `facts`, else 0. */
int sl_router_match_one(const sl_conf_match_t *m, const sl_router_facts_t *facts);

/* Returns the first matching route of `conf`, or NULL when none matches. Borrowed from conf. */
const sl_conf_route_t *sl_router_match(const sl_conf_t *conf, const sl_router_facts_t *facts);

/* Returns 1 when at least one route of `conf` matches on the JSON "model" (so the gateway must scan request bodies
 * before matching), else 0. */
int sl_router_needs_model(const sl_conf_t *conf);

#endif
