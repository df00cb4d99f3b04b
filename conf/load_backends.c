/*
 * load_backends.c - the `backends` block: a mapping from backend name to its protocol, endpoints, limits,
 * timeouts, cost, health checks and outlier ejection.
 *
 * Every backend whose name is valid and unique gets its entry even when some of its fields are wrong, so routes
 * that name it do not add "undefined backend" errors on top of the real one. Defaults that depend on the protocol
 * (the health-check path) are settled in the backend's check, after its keys are parsed.
 */
#include "conf/conf.h"
#include "common/status.h"
#include "conf/schema.h"

#include <stddef.h>
#include <string.h>

#define HOUR_MS 3600000
#define DAY_MS 86400000

static const char *const protocol_names[] = {"openai", "kserve_v2", "http", NULL};

/* A whole percentage into a uint32_t: "50%" -> 50. */
static int p_whole_percent(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    double v;
    if (sl_conf_p_percent(ctx, node, &v, key) != SL_OK)
        return SL_ECONFIG;
    double pct = v * 100;
    uint32_t whole = (uint32_t)(pct + 0.5);
    if (pct - whole > 1e-9 || whole - pct > 1e-9) {
        sl_conf_error(ctx, node, "must be a whole percentage, got %s", node->text);
        return SL_ECONFIG;
    }
    *(uint32_t *)field = whole;
    return SL_OK;
}

static const sl_conf_key_t timeouts_keys[] = {
    {"connect", sl_conf_p_duration, offsetof(sl_conf_timeouts_t, connect_ms), .def = "1s", .max = DAY_MS},
    {"first_byte", sl_conf_p_duration, offsetof(sl_conf_timeouts_t, first_byte_ms), .def = "60s", .max = DAY_MS},
    {"idle", sl_conf_p_duration, offsetof(sl_conf_timeouts_t, idle_ms), .def = "30s", .max = DAY_MS},
    {"stream_idle", sl_conf_p_duration, offsetof(sl_conf_timeouts_t, stream_idle_ms), .def = "120s", .max = DAY_MS},
    {"total", sl_conf_p_duration, offsetof(sl_conf_timeouts_t, total_ms), .def = "10m", .max = DAY_MS},
    {NULL}};
static const sl_conf_block_t timeouts_block = {timeouts_keys, NULL};

static const sl_conf_key_t cost_keys[] = {
    {"per_request", sl_conf_p_number, offsetof(sl_conf_cost_t, per_request), .def = "0", .fmax = 1e6},
    {"per_1k_input_tokens", sl_conf_p_number, offsetof(sl_conf_cost_t, per_1k_input_tokens), .def = "0", .fmax = 1e6},
    {"per_1k_output_tokens", sl_conf_p_number, offsetof(sl_conf_cost_t, per_1k_output_tokens), .def = "0", .fmax = 1e6},
    {NULL}};
static const sl_conf_block_t cost_block = {cost_keys, NULL};

static int check_health(sl_conf_ctx_t *ctx, const sl_ynode_t *map, void *obj, uint64_t seen)
{
    sl_conf_health_t *h = obj;
    char a[32], b[32];
    if (h->timeout_ms > h->interval_ms) {
        const sl_ynode_t *n = sl_conf_map_get(map, "timeout");
        size_t saved = sl_conf_path_push_key(ctx, "timeout");
        sl_conf_error(ctx, n != NULL ? n : map, "must not be longer than interval (%s > %s)",
                      sl_conf_format_duration(h->timeout_ms, a, sizeof(a)),
                      sl_conf_format_duration(h->interval_ms, b, sizeof(b)));
        sl_conf_path_pop(ctx, saved);
        return SL_ECONFIG;
    }
    return SL_OK;
}

static const sl_conf_key_t health_keys[] = {
    {"enabled", sl_conf_p_bool, offsetof(sl_conf_health_t, enabled), .def = "true"},
    {"path", sl_conf_p_http_path, offsetof(sl_conf_health_t, path), .max = 1024},
    {"interval", sl_conf_p_duration, offsetof(sl_conf_health_t, interval_ms), .def = "5s", .min = 100, .max = HOUR_MS},
    {"timeout", sl_conf_p_duration, offsetof(sl_conf_health_t, timeout_ms), .def = "1s", .min = 1, .max = HOUR_MS},
    {"healthy_threshold", sl_conf_p_u32, offsetof(sl_conf_health_t, healthy_threshold), .def = "2", .min = 1, .max = 100},
    {"unhealthy_threshold", sl_conf_p_u32, offsetof(sl_conf_health_t, unhealthy_threshold), .def = "3", .min = 1, .max = 100},
    {NULL}};
static const sl_conf_block_t health_block = {health_keys, check_health};

static int check_outlier(sl_conf_ctx_t *ctx, const sl_ynode_t *map, void *obj, uint64_t seen)
{
    sl_conf_outlier_t *o = obj;
    char a[32], b[32];
    if (o->base_ejection_ms > o->max_ejection_ms) {
        const sl_ynode_t *n = sl_conf_map_get(map, "base_ejection");
        size_t saved = sl_conf_path_push_key(ctx, "base_ejection");
        sl_conf_error(ctx, n != NULL ? n : map, "must not be longer than max_ejection (%s > %s)",
                      sl_conf_format_duration(o->base_ejection_ms, a, sizeof(a)),
                      sl_conf_format_duration(o->max_ejection_ms, b, sizeof(b)));
        sl_conf_path_pop(ctx, saved);
        return SL_ECONFIG;
    }
    return SL_OK;
}

static const sl_conf_key_t outlier_keys[] = {
    {"consecutive_failures", sl_conf_p_u32, offsetof(sl_conf_outlier_t, consecutive_failures), .def = "5", .max = 1000},
    {"base_ejection", sl_conf_p_duration, offsetof(sl_conf_outlier_t, base_ejection_ms), .def = "10s", .min = 1, .max = DAY_MS},
    {"max_ejection", sl_conf_p_duration, offsetof(sl_conf_outlier_t, max_ejection_ms), .def = "5m", .min = 1, .max = DAY_MS},
    {"max_ejected_percent", p_whole_percent, offsetof(sl_conf_outlier_t, max_ejected_percent), .def = "50%", .fmax = 1},
    {NULL}};
static const sl_conf_block_t outlier_block = {outlier_keys, check_outlier};

static int check_backend(sl_conf_ctx_t *ctx, const sl_ynode_t *map, void *obj, uint64_t seen)
{
    sl_conf_backend_t *b = obj;
    int rc = SL_OK;
    if (b->protocol != SL_PROTOCOL_HTTP) {
        static const char *const http_only[] = {"prediction", "confidence"};
        for (size_t i = 0; i != 2; ++i) {
            const sl_ynode_t *n = sl_conf_map_get(map, http_only[i]);
            if (n == NULL)
                continue;
            size_t saved = sl_conf_path_push_key(ctx, http_only[i]);
            sl_conf_error(ctx, n, "only valid with protocol http (this backend speaks %s)", sl_conf_protocol_name(b->protocol));
            sl_conf_path_pop(ctx, saved);
            rc = SL_ECONFIG;
        }
    }
    if (!b->health.enabled)
        b->health.path = NULL;
    else if (b->health.path == NULL)
        b->health.path = b->protocol == SL_PROTOCOL_KSERVE_V2 ? "/v2/health/ready" : "/health";
    return rc;
}

static const sl_conf_key_t backend_keys[] = {
    {"protocol", sl_conf_p_enum, offsetof(sl_conf_backend_t, protocol), .required = 1, .arg = protocol_names},
    {"endpoints", sl_conf_p_addr_list, offsetof(sl_conf_backend_t, endpoints), .required = 1, .min = 1,
     .max = SL_CONF_MAX_ENDPOINTS, .count_offset = offsetof(sl_conf_backend_t, num_endpoints)},
    {"model", sl_conf_p_string, offsetof(sl_conf_backend_t, model), .min = 1, .max = 256},
    {"max_concurrency", sl_conf_p_u32, offsetof(sl_conf_backend_t, max_concurrency), .def = "0", .max = 1000000},
    {"max_queue", sl_conf_p_u32, offsetof(sl_conf_backend_t, max_queue), .def = "0", .max = 100000},
    {"queue_timeout", sl_conf_p_duration, offsetof(sl_conf_backend_t, queue_timeout_ms), .def = "1s", .min = 1,
     .max = 10 * 60000},
    {"timeouts", sl_conf_p_block, offsetof(sl_conf_backend_t, timeouts), .sub = &timeouts_block},
    {"cost", sl_conf_p_block, offsetof(sl_conf_backend_t, cost), .sub = &cost_block},
    {"health", sl_conf_p_block, offsetof(sl_conf_backend_t, health), .sub = &health_block},
    {"outlier", sl_conf_p_block, offsetof(sl_conf_backend_t, outlier), .sub = &outlier_block},
    {"prediction", sl_conf_p_json_ptr, offsetof(sl_conf_backend_t, prediction_pointer), .max = 1024},
    {"confidence", sl_conf_p_json_ptr, offsetof(sl_conf_backend_t, confidence_pointer), .max = 1024},
    {NULL}};
const sl_conf_block_t sl_conf_backend_block = {backend_keys, check_backend};

int sl_conf_p_backends(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    sl_conf_t *conf = ctx->conf;
    char buf[256];
    int rc = SL_OK;
    if (sl_conf_expect(ctx, node, SL_YNODE_MAP) != SL_OK)
        return SL_ECONFIG;
    size_t pairs = node->num_items / 2;
    if (pairs == 0) {
        sl_conf_error(ctx, node, "declare at least one backend");
        return SL_ECONFIG;
    }
    if (pairs > SL_CONF_MAX_BACKENDS) {
        sl_conf_error(ctx, node, "too many backends (%zu; the limit is %u)", pairs, (unsigned)SL_CONF_MAX_BACKENDS);
        return SL_ECONFIG;
    }
    const sl_ynode_t **first = sl_conf_find_duplicates(ctx, node);
    conf->backends = sl_arena_alloc(ctx->arena, pairs * sizeof(*conf->backends));
    conf->num_backends = 0;
    for (size_t i = 0; i != pairs; ++i) {
        const sl_ynode_t *k = node->items[2 * i], *v = node->items[2 * i + 1];
        if (k->kind != SL_YNODE_SCALAR) {
            sl_conf_error(ctx, k, "backend names must be strings, got %s", sl_conf_describe(k, buf, sizeof(buf)));
            rc = SL_ECONFIG;
            continue;
        }
        size_t saved = sl_conf_path_push_key(ctx, k->text);
        if (first[i] != NULL) {
            sl_conf_error(ctx, k, "duplicate backend name (first defined at %u:%u)", (unsigned)first[i]->line,
                          (unsigned)first[i]->col);
            rc = SL_ECONFIG;
        } else if (sl_conf_check_name(ctx, k, "backend") != SL_OK) {
            rc = SL_ECONFIG;
        } else {
            sl_conf_backend_t *b = &conf->backends[conf->num_backends];
            b->name = sl_arena_strdup(ctx->arena, k->text);
            b->index = conf->num_backends++;
            sl_conf_apply_defaults(ctx, key->sub, b);
            if (sl_conf_walk(ctx, v, key->sub, b) != SL_OK)
                rc = SL_ECONFIG;
        }
        sl_conf_path_pop(ctx, saved);
    }
    return rc;
}
