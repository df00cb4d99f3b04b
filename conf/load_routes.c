/*
 * load_routes.c - the `routes` list: each route's name, what requests it matches, its cascade (load_tiers.c) and
 * its service-level objectives.
 *
 * Routes are kept in file order: the router tries them in that order and the first match wins. Names are unique
 * (they label metrics and persisted error budgets). SLO targets are strictly between 0% and 100%: a 100% target
 * leaves no error budget to burn, and burn rates divide by it; so does one that rounds to 100% in the parts per
 * billion budgets are counted in. SLO windows are whole minutes because budgets are
 * counted in per-minute buckets.
 */
#include "conf/conf.h"
#include "common/status.h"
#include "conf/schema.h"

#include <ctype.h>
#include <math.h>
#include <stddef.h>
#include <strings.h>
#include <string.h>

#define HOUR_MS 3600000
#define DAY_MS 86400000

static int p_route_name(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    if (sl_conf_scalar(ctx, node) == NULL || sl_conf_check_name(ctx, node, "route") != SL_OK)
        return SL_ECONFIG;
    return sl_conf_p_string(ctx, node, field, key);
}

/* host: a DNS name or an IP literal ([v6] in brackets), without a port; stored lower-case. */
static int p_host(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    char buf[256];
    const char *text = sl_conf_scalar(ctx, node);
    if (text == NULL)
        return SL_ECONFIG;
    size_t len = node->len;
    int ok = len != 0 && len <= 255;
    if (ok && text[0] == '[')
        ok = text[len - 1] == ']' && strspn(text + 1, "0123456789abcdefABCDEF:.") == len - 2;
    else if (ok)
        ok = strspn(text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._") == len;
    if (!ok) {
        sl_conf_error(ctx, node, "invalid host %s: write a host name or IP address without a port",
                      sl_conf_quote(text, buf, sizeof(buf)));
        return SL_ECONFIG;
    }
    char *lower = sl_arena_strdup(ctx->arena, text);
    for (char *p = lower; *p != '\0'; ++p)
        *p = (char)tolower((unsigned char)*p);
    *(const char **)field = lower;
    return SL_OK;
}

/* headers: {name: value} with exact values, or null for "present with any value"; names are case-insensitive. */
static int p_headers(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    sl_conf_match_t *m = (sl_conf_match_t *)((char *)field - key->offset);
    int rc = SL_OK;
    if (sl_conf_expect(ctx, node, SL_YNODE_MAP) != SL_OK)
        return SL_ECONFIG;
    size_t pairs = node->num_items / 2;
    if (pairs > SL_CONF_MAX_HEADERS) {
        sl_conf_error(ctx, node, "too many headers (%zu; the limit is %u)", pairs, (unsigned)SL_CONF_MAX_HEADERS);
        return SL_ECONFIG;
    }
    sl_conf_header_match_t *h = sl_arena_alloc(ctx->arena, (pairs != 0 ? pairs : 1) * sizeof(*h));
    const sl_ynode_t *name_nodes[SL_CONF_MAX_HEADERS];
    size_t n = 0;
    for (size_t i = 0; i != pairs; ++i) {
        const sl_ynode_t *k = node->items[2 * i], *v = node->items[2 * i + 1];
        if (sl_conf_expect(ctx, k, SL_YNODE_SCALAR) != SL_OK) {
            rc = SL_ECONFIG;
            continue;
        }
        size_t saved = sl_conf_path_push_key(ctx, k->text);
        size_t dup = 0;
        while (dup != n && strcasecmp(name_nodes[dup]->text, k->text) != 0)
            ++dup;
        const char *lower = sl_conf_header_name(ctx, k, k->text);
        if (lower == NULL) {
            rc = SL_ECONFIG;
        } else if (dup != n) {
            sl_conf_error(ctx, k, "duplicate header (first defined at %u:%u)", (unsigned)name_nodes[dup]->line,
                          (unsigned)name_nodes[dup]->col);
            rc = SL_ECONFIG;
        } else if (v->kind != SL_YNODE_NULL && sl_conf_expect(ctx, v, SL_YNODE_SCALAR) != SL_OK) {
            rc = SL_ECONFIG;
        } else if (v->kind == SL_YNODE_SCALAR && v->len > 4096) {
            sl_conf_error(ctx, v, "must be at most 4096 bytes long, got %zu", v->len);
            rc = SL_ECONFIG;
        } else {
            h[n].name = lower;
            h[n].value = v->kind == SL_YNODE_NULL ? NULL : sl_arena_strdup(ctx->arena, v->text);
            name_nodes[n++] = k;
        }
        sl_conf_path_pop(ctx, saved);
    }
    m->headers = h;
    m->num_headers = n;
    return rc;
}

static const sl_conf_key_t match_keys[] = {{"path", sl_conf_p_http_path, offsetof(sl_conf_match_t, path_prefix), .max = 1024},
                                           {"host", p_host, offsetof(sl_conf_match_t, host)},
                                           {"headers", p_headers, offsetof(sl_conf_match_t, headers)},
                                           {"model", sl_conf_p_string, offsetof(sl_conf_match_t, model), .min = 1, .max = 256},
                                           {NULL}};
static const sl_conf_block_t match_block = {match_keys, NULL};

/* A target share of good requests, strictly between 0% and 100%, into an objective's target. */
static int p_target(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    double v;
    sl_conf_key_t any = {.name = key->name, .fmin = -1e9, .fmax = 1e9};
    if (sl_conf_p_percent(ctx, node, &v, &any) != SL_OK)
        return SL_ECONFIG;
    if (!(v > 0 && v < 1)) {
        sl_conf_error(ctx, node, "must be above 0%% and below 100%%, got %s", node->text);
        return SL_ECONFIG;
    }
    /* budgets are counted in parts per billion (stats/slo.h): the target rounded there must stay inside too */
    double ppb = nearbyint(v * 1e9);
    if (ppb < 1 || ppb > 1e9 - 1) {
        sl_conf_error(ctx, node, "%s rounds to %s in parts per billion, which leaves %s; use at most 99.9999999%% "
                                 "and at least 0.0000001%%", node->text, ppb < 1 ? "0%" : "100%",
                      ppb < 1 ? "no good request" : "no error budget");
        return SL_ECONFIG;
    }
    *(double *)field = v;
    return SL_OK;
}

/* availability: a target; enables the objective. */
static int p_availability(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    sl_conf_objective_t *o = field;
    if (p_target(ctx, node, &o->target, key) != SL_OK)
        return SL_ECONFIG;
    o->enabled = 1;
    return SL_OK;
}

static int check_objective(sl_conf_ctx_t *ctx, const sl_ynode_t *map, void *obj, uint64_t seen)
{
    ((sl_conf_objective_t *)obj)->enabled = 1;
    return SL_OK;
}

static const sl_conf_key_t objective_keys[] = {
    {"threshold", sl_conf_p_duration, offsetof(sl_conf_objective_t, threshold_ms), .required = 1, .min = 1, .max = HOUR_MS},
    {"target", p_target, offsetof(sl_conf_objective_t, target), .required = 1},
    {NULL}};
static const sl_conf_block_t objective_block = {objective_keys, check_objective};

/* window: 1h to 90d in whole minutes, stored in seconds (90d in ms does not fit the generic uint32 parser). */
static int p_window(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    char buf[256];
    const char *err, *text = sl_conf_scalar(ctx, node);
    uint64_t v;
    if (text == NULL)
        return SL_ECONFIG;
    int r = sl_conf_parse_duration_ms(text, &v, &err);
    if (r == SL_EINVAL) {
        sl_conf_error(ctx, node, "invalid duration %s: %s", sl_conf_quote(text, buf, sizeof(buf)), err);
        return SL_ECONFIG;
    }
    if (r != SL_OK || v < (uint64_t)HOUR_MS || v > (uint64_t)90 * DAY_MS) {
        sl_conf_error(ctx, node, "must be between 1h and 90d, got %s", sl_conf_bare(text, buf, sizeof(buf)));
        return SL_ECONFIG;
    }
    if (v % 60000 != 0) {
        sl_conf_error(ctx, node, "must be a whole number of minutes, got %s", text);
        return SL_ECONFIG;
    }
    *(uint32_t *)field = (uint32_t)(v / 1000);
    return SL_OK;
}

static int check_slo(sl_conf_ctx_t *ctx, const sl_ynode_t *map, void *obj, uint64_t seen);
static const sl_conf_key_t slo_keys[] = {
    {"availability", p_availability, offsetof(sl_conf_slo_t, availability)},
    {"latency", sl_conf_p_block, offsetof(sl_conf_slo_t, latency), .sub = &objective_block},
    {"ttft", sl_conf_p_block, offsetof(sl_conf_slo_t, ttft), .sub = &objective_block},
    {"window", p_window, offsetof(sl_conf_slo_t, window_s), .def = "28d"},
    {NULL}};
static const sl_conf_block_t slo_block = {slo_keys, check_slo};

static int check_slo(sl_conf_ctx_t *ctx, const sl_ynode_t *map, void *obj, uint64_t seen)
{
    sl_conf_slo_t *slo = obj;
    if (!sl_conf_seen(&slo_block, seen, "availability") && !sl_conf_seen(&slo_block, seen, "latency") &&
        !sl_conf_seen(&slo_block, seen, "ttft")) {
        sl_conf_error(ctx, map, "declare at least one objective: availability, latency or ttft");
        return SL_ECONFIG;
    }
    slo->enabled = 1;
    return SL_OK;
}

/* The route answers in the shape of its first tier's protocol (error bodies, headers). A rollout's feedback_accuracy
 * check needs the route's classification feedback (labels to measure accuracy with). */
static int check_route(sl_conf_ctx_t *ctx, const sl_ynode_t *map, void *obj, uint64_t seen)
{
    sl_conf_route_t *r = obj;
    int rc = SL_OK;
    r->protocol = r->tiers[0].backend->protocol;
    int labels = r->monitor.enabled && r->monitor.feedback.enabled && r->monitor.feedback.task == SL_FEEDBACK_CLASSIFICATION;
    for (size_t t = 0; t != r->num_tiers && !labels; ++t) {
        if (!r->tiers[t].rollout.enabled || !r->tiers[t].rollout.checks[SL_CONF_CHECK_FEEDBACK_ACCURACY].enabled)
            continue;
        static const char *const keys[] = {"rollout", "checks", "feedback_accuracy"};
        const sl_ynode_t *cascade = sl_conf_map_get(map, "cascade"), *at = cascade;
        size_t saved = sl_conf_path_push_key(ctx, "cascade");
        sl_conf_path_push_index(ctx, t);
        at = at != NULL && t < at->num_items ? at->items[t] : NULL;
        for (size_t k = 0; k != sizeof(keys) / sizeof(keys[0]); ++k) {
            sl_conf_path_push_key(ctx, keys[k]);
            at = at != NULL && at->kind == SL_YNODE_MAP ? sl_conf_map_get(at, keys[k]) : NULL;
        }
        sl_conf_error(ctx, at != NULL ? at : map, "needs the route's monitor.feedback with a classification task (labels)");
        sl_conf_path_pop(ctx, saved);
        rc = SL_ECONFIG;
    }
    return rc;
}

static const sl_conf_key_t route_keys[] = {{"name", p_route_name, offsetof(sl_conf_route_t, name), .required = 1},
                                           {"match", sl_conf_p_block, offsetof(sl_conf_route_t, match), .sub = &match_block},
                                           {"cascade", sl_conf_p_cascade, offsetof(sl_conf_route_t, tiers), .required = 1,
                                            .sub = &sl_conf_tier_block, .sub_path = "[]"},
                                           {"slo", sl_conf_p_block, offsetof(sl_conf_route_t, slo), .sub = &slo_block},
                                           {"monitor", sl_conf_p_monitor, offsetof(sl_conf_route_t, monitor),
                                            .sub = &sl_conf_monitor_block, .pass = 1},
                                           {NULL}};
const sl_conf_block_t sl_conf_route_block = {route_keys, check_route};

int sl_conf_p_routes(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    sl_conf_t *conf = ctx->conf;
    int rc = SL_OK;
    if (sl_conf_expect(ctx, node, SL_YNODE_SEQ) != SL_OK)
        return SL_ECONFIG;
    if (node->num_items == 0) {
        sl_conf_error(ctx, node, "declare at least one route");
        return SL_ECONFIG;
    }
    if (node->num_items > SL_CONF_MAX_ROUTES) {
        sl_conf_error(ctx, node, "too many routes (%zu; the limit is %u)", node->num_items, (unsigned)SL_CONF_MAX_ROUTES);
        return SL_ECONFIG;
    }
    sl_conf_route_t *routes = sl_arena_alloc(ctx->arena, node->num_items * sizeof(*routes));
    const sl_ynode_t **names = sl_arena_alloc(&ctx->scratch, node->num_items * sizeof(*names));
    for (size_t i = 0; i != node->num_items; ++i) {
        size_t saved = sl_conf_path_push_index(ctx, i);
        routes[i].index = i;
        sl_conf_apply_defaults(ctx, key->sub, &routes[i]);
        if (sl_conf_walk(ctx, node->items[i], key->sub, &routes[i]) != SL_OK)
            rc = SL_ECONFIG;
        /* duplicate names: compare with the earlier routes whose name parsed */
        const sl_ynode_t *nn = sl_conf_map_get(node->items[i], "name");
        if (routes[i].name != NULL) {
            for (size_t j = 0; j != i; ++j) {
                if (routes[j].name != NULL && strcmp(routes[j].name, routes[i].name) == 0) {
                    size_t saved2 = sl_conf_path_push_key(ctx, "name");
                    sl_conf_error(ctx, nn, "duplicate route name \"%s\" (first defined at %u:%u)", routes[i].name,
                                  (unsigned)names[j]->line, (unsigned)names[j]->col);
                    sl_conf_path_pop(ctx, saved2);
                    rc = SL_ECONFIG;
                    break;
                }
            }
        }
        names[i] = nn;
        sl_conf_path_pop(ctx, saved);
    }
    conf->routes = routes;
    conf->num_routes = node->num_items;
    return rc;
}
