/*
 * load_tiers.c - a route's `cascade`: the list of tiers, each naming a backend, with its accept rule (which
 * answers are confident enough to return), its pre-routing skip rules (load_conditions.c), the failures that
 * escalate to the next tier, a latency budget and stream buffering.
 *
 * Tiers are parsed after every backend (the root table parses routes in a second pass), so a tier resolves its
 * backend by name at once and can check that its accept signal is one that backend's protocol can produce. A tier
 * whose backend is undefined is reported with the closest defined name; when the backends block itself failed to
 * parse, references are not checked (the real error is already reported).
 */
#include "conf/conf.h"
#include "common/status.h"
#include "common/str.h"
#include "conf/schema.h"

#include <float.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define HOUR_MS 3600000

static const char *const builtin_signals[] = {"logprob_mean", "logprob_min", "top_prob", "margin", NULL};

/* signal: logprob_mean | logprob_min | top_prob | margin | json:<pointer> | header:<name> */
static int p_signal(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    sl_conf_signal_t *sig = field;
    char buf[256];
    const char *text = sl_conf_scalar(ctx, node), *suggestion;
    int idx;
    if (text == NULL)
        return SL_ECONFIG;
    if (strncmp(text, "json:", 5) == 0) {
        sig->kind = SL_SIGNAL_JSON;
        return (sig->arg = sl_conf_json_pointer(ctx, node, text + 5)) != NULL ? SL_OK : SL_ECONFIG;
    }
    if (strncmp(text, "header:", 7) == 0) {
        sig->kind = SL_SIGNAL_HEADER;
        return (sig->arg = sl_conf_header_name(ctx, node, text + 7)) != NULL ? SL_OK : SL_ECONFIG;
    }
    if (sl_conf_parse_enum(text, builtin_signals, &idx, &suggestion) == SL_OK) {
        sig->kind = (enum en_sl_signal_kind_t)(SL_SIGNAL_LOGPROB_MEAN + idx);
        sig->arg = NULL;
        return SL_OK;
    }
    if (suggestion != NULL)
        sl_conf_error(ctx, node, "unknown signal %s (did you mean \"%s\"?)", sl_conf_quote(text, buf, sizeof(buf)), suggestion);
    else
        sl_conf_error(ctx, node,
                      "unknown signal %s; expected logprob_mean, logprob_min, top_prob, margin, json:<pointer> or "
                      "header:<name>",
                      sl_conf_quote(text, buf, sizeof(buf)));
    return SL_ECONFIG;
}

static int check_accept(sl_conf_ctx_t *ctx, const sl_ynode_t *map, void *obj, uint64_t seen);
static const sl_conf_key_t accept_keys[] = {
    {"signal", p_signal, offsetof(sl_conf_accept_t, signal), .required = 1},
    {"min", sl_conf_p_number, offsetof(sl_conf_accept_t, min), .fmin = -DBL_MAX, .fmax = DBL_MAX},
    {"max", sl_conf_p_number, offsetof(sl_conf_accept_t, max), .fmin = -DBL_MAX, .fmax = DBL_MAX},
    {NULL}};
static const sl_conf_block_t accept_block = {accept_keys, check_accept};

/* Reports a bound outside what the signal can take (a log-probability is <= 0, a probability is in [0, 1]). */
static int check_bound(sl_conf_ctx_t *ctx, const sl_ynode_t *map, const char *name, const sl_conf_accept_t *a, double v)
{
    const sl_ynode_t *n = sl_conf_map_get(map, name);
    const char *what = sl_conf_signal_name(a->signal.kind);
    int rc = SL_OK;
    size_t saved = sl_conf_path_push_key(ctx, name);
    if ((a->signal.kind == SL_SIGNAL_LOGPROB_MEAN || a->signal.kind == SL_SIGNAL_LOGPROB_MIN) && v > 0) {
        sl_conf_error(ctx, n, "must be at most 0 for %s (a log-probability), got %s", what, n->text);
        rc = SL_ECONFIG;
    } else if ((a->signal.kind == SL_SIGNAL_TOP_PROB || a->signal.kind == SL_SIGNAL_MARGIN) && (v < 0 || v > 1)) {
        sl_conf_error(ctx, n, "must be between 0 and 1 for %s (a probability), got %s", what, n->text);
        rc = SL_ECONFIG;
    }
    sl_conf_path_pop(ctx, saved);
    return rc;
}

static int check_accept(sl_conf_ctx_t *ctx, const sl_ynode_t *map, void *obj, uint64_t seen)
{
    sl_conf_accept_t *a = obj;
    a->has_min = sl_conf_seen(&accept_block, seen, "min");
    a->has_max = sl_conf_seen(&accept_block, seen, "max");
    if (!a->has_min && !a->has_max) {
        sl_conf_error(ctx, map, "set min, max or both");
        return SL_ECONFIG;
    }
    int rc = SL_OK;
    if (a->has_min && check_bound(ctx, map, "min", a, a->min) != SL_OK)
        rc = SL_ECONFIG;
    if (a->has_max && check_bound(ctx, map, "max", a, a->max) != SL_OK)
        rc = SL_ECONFIG;
    if (rc == SL_OK && a->has_min && a->has_max && a->min > a->max) {
        size_t saved = sl_conf_path_push_key(ctx, "max");
        sl_conf_error(ctx, sl_conf_map_get(map, "max"), "must not be below min (%g < %g)", a->max, a->min);
        sl_conf_path_pop(ctx, saved);
        rc = SL_ECONFIG;
    }
    return rc;
}

static int p_accept(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    sl_conf_tier_t *tier = (sl_conf_tier_t *)((char *)field - key->offset);
    if (sl_conf_walk(ctx, node, key->sub, field) != SL_OK)
        return SL_ECONFIG;
    tier->has_accept = 1;
    return SL_OK;
}

/* escalate_on: "all" (every failure kind but client_abort), "none", or a sequence of failure kind names. */
static int p_escalate_on(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    const char *names[SL_FAILURE_COUNT + 1];
    char buf[256];
    uint32_t mask = 0;
    int rc = SL_OK;
    size_t n = 0;
    names[n++] = "all";
    for (int f = SL_FAILURE_NONE + 1; f != SL_FAILURE_COUNT; ++f)
        names[n++] = sl_conf_failure_name((enum en_sl_failure_t)f);
    names[n] = NULL;

    if (node->kind == SL_YNODE_SCALAR && strcmp(node->text, "none") == 0) {
        *(uint32_t *)field = 0;
        return SL_OK;
    }
    const sl_ynode_t *const *items = &node;
    size_t count = 1;
    if (node->kind == SL_YNODE_SEQ) {
        items = (const sl_ynode_t *const *)node->items;
        count = node->num_items;
    }
    for (size_t i = 0; i != count; ++i) {
        size_t saved = node->kind == SL_YNODE_SEQ ? sl_conf_path_push_index(ctx, i) : ctx->path_len;
        const char *text = sl_conf_scalar(ctx, items[i]), *suggestion;
        int idx;
        if (text == NULL) {
            rc = SL_ECONFIG;
        } else if (sl_conf_parse_enum(text, names, &idx, &suggestion) == SL_OK) {
            mask |= idx == 0 ? SL_CONF_ESCALATE_ALL : 1u << idx;
        } else {
            if (suggestion != NULL)
                sl_conf_error(ctx, items[i], "unknown failure kind %s (did you mean \"%s\"?)",
                              sl_conf_quote(text, buf, sizeof(buf)), suggestion);
            else
                sl_conf_error(ctx, items[i],
                              "unknown failure kind %s; expected all, none or a list of: connect_refused, "
                              "connect_timeout, first_byte_timeout, idle_timeout, total_timeout, reset, "
                              "upstream_5xx, malformed, client_abort, overloaded, no_endpoint, gateway_resources",
                              sl_conf_quote(text, buf, sizeof(buf)));
            rc = SL_ECONFIG;
        }
        sl_conf_path_pop(ctx, saved);
    }
    if (rc == SL_OK)
        *(uint32_t *)field = mask;
    return rc;
}

static int p_tier_backend(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    const sl_conf_backend_t *b = sl_conf_backend_ref(ctx, node);
    if (b == NULL)
        return SL_ECONFIG;
    *(const sl_conf_backend_t **)field = b;
    return SL_OK;
}

/* The accept signal must be one the backend's protocol can produce. */
static int check_tier(sl_conf_ctx_t *ctx, const sl_ynode_t *map, void *obj, uint64_t seen)
{
    sl_conf_tier_t *t = obj;
    const sl_conf_backend_t *b = t->backend;
    const char *need = NULL;
    if (!t->has_accept)
        return SL_OK;
    switch (t->accept.signal.kind) {
    case SL_SIGNAL_LOGPROB_MEAN:
    case SL_SIGNAL_LOGPROB_MIN:
        if (b->protocol != SL_PROTOCOL_OPENAI)
            need = "protocol openai";
        break;
    case SL_SIGNAL_TOP_PROB:
    case SL_SIGNAL_MARGIN:
        if (b->protocol == SL_PROTOCOL_OPENAI || (b->protocol == SL_PROTOCOL_HTTP && b->confidence_pointer == NULL))
            need = "protocol kserve_v2, or http with a confidence pointer";
        break;
    default:
        break;
    }
    if (need == NULL)
        return SL_OK;
    size_t saved = sl_conf_path_push_key(ctx, "accept.signal");
    sl_conf_error(ctx, sl_conf_map_get(sl_conf_map_get(map, "accept"), "signal"),
                  "%s needs a backend with %s (backend \"%s\" speaks %s)", sl_conf_signal_name(t->accept.signal.kind), need,
                  b->name, sl_conf_protocol_name(b->protocol));
    sl_conf_path_pop(ctx, saved);
    return SL_ECONFIG;
}

static const sl_conf_key_t tier_keys[] = {
    {"backend", p_tier_backend, offsetof(sl_conf_tier_t, backend), .required = 1},
    {"accept", p_accept, offsetof(sl_conf_tier_t, accept), .sub = &accept_block},
    {"skip_when", sl_conf_p_skip_when, offsetof(sl_conf_tier_t, skip_when)},
    {"escalate_on", p_escalate_on, offsetof(sl_conf_tier_t, escalate_on), .def = "all"},
    {"latency_budget", sl_conf_p_duration, offsetof(sl_conf_tier_t, latency_budget_ms), .def = "0", .max = HOUR_MS},
    {"buffer_streams", sl_conf_p_bool, offsetof(sl_conf_tier_t, buffer_streams), .def = "false"},
    {"degrade", sl_conf_p_degrade, offsetof(sl_conf_tier_t, degrade), .sub = &sl_conf_degrade_block, .pass = 1},
    {"rollout", sl_conf_p_rollout, offsetof(sl_conf_tier_t, rollout), .sub = &sl_conf_rollout_block, .pass = 1},
    {NULL}};
const sl_conf_block_t sl_conf_tier_block = {tier_keys, check_tier};

int sl_conf_p_cascade(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    sl_conf_route_t *route = (sl_conf_route_t *)((char *)field - key->offset);
    int rc = SL_OK;
    if (sl_conf_expect(ctx, node, SL_YNODE_SEQ) != SL_OK)
        return SL_ECONFIG;
    if (node->num_items == 0) {
        sl_conf_error(ctx, node, "a cascade needs at least one tier");
        return SL_ECONFIG;
    }
    if (node->num_items > SL_CONF_MAX_TIERS) {
        sl_conf_error(ctx, node, "too many tiers (%zu; the limit is %u)", node->num_items, (unsigned)SL_CONF_MAX_TIERS);
        return SL_ECONFIG;
    }
    sl_conf_tier_t *tiers = sl_arena_alloc(ctx->arena, node->num_items * sizeof(*tiers));
    for (size_t i = 0; i != node->num_items; ++i) {
        size_t saved = sl_conf_path_push_index(ctx, i);
        sl_conf_apply_defaults(ctx, key->sub, &tiers[i]);
        if (sl_conf_walk(ctx, node->items[i], key->sub, &tiers[i]) != SL_OK)
            rc = SL_ECONFIG;
        sl_conf_path_pop(ctx, saved);
    }
    route->tiers = tiers;
    route->num_tiers = node->num_items;
    return rc;
}
