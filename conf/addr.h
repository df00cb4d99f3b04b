/*
 * addr.h - listen/endpoint address parsing: "127.0.0.1:8080", "[::1]:8080", "localhost:8080" (numeric hosts and
 * "localhost" only: sluice never resolves names on the data path), "unix:/path/to.sock". Any thread.
 */
#ifndef SL_CONF_ADDR_H
#define SL_CONF_ADDR_H

#include "conf/conf-t.h"

/* Parses text into *out (text copied into arena when arena != NULL, else borrowed). Port 0 is allowed only when
 * allow_port_zero (listeners: "pick a free port"). Returns SL_OK, or SL_EINVAL with *err set to a static message
 * (out untouched). */
int sl_conf_parse_addr(const char *text, int allow_port_zero, sl_arena_t *arena, sl_conf_addr_t *out,
                       const char **err);

/* Formats an address as host:port / [v6]:port / unix:path into buf; returns buf. */
const char *sl_conf_addr_format(const struct sockaddr *sa, socklen_t salen, char *buf, size_t bufsz);

#endif
