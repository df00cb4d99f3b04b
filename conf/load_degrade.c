/*
 * load_degrade.c - a tier's `degrade` block: the faster variants it may answer with under load (accuracy scaling)
 * and the settings of the controller that decides how much traffic goes to them (policies/degrade.h).
 *
 * The block is parsed after the tier's other keys (pass 1), so the tier's own backend is known: every variant must
 * be a defined backend, not the tier's own, listed once, and speak the same protocol (a degraded request is the
 * same request sent elsewhere). Shares are percentages held in permille, so the controller's arithmetic is exact
 * integers; a share finer than 0.1% is refused rather than rounded. The hysteresis band must stay open even when a
 * fast budget burn lowers the high thresholds: low < high x burn_factor, for saturation and for latency.
 */
#include "conf/conf.h"
#include "common/status.h"
#include "common/str.h"
#include "conf/schema.h"

#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define HOUR_MS 3600000

/* A percentage in [key->min, key->max] permille, a whole number of tenths of a percent, into a uint32_t. */
static int p_share(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    char buf[256], lo[16], hi[16];
    const char *err, *text = sl_conf_scalar(ctx, node);
    double v;
    if (text == NULL)
        return SL_ECONFIG;
    if (sl_conf_parse_percent(text, &v, &err) != SL_OK) {
        sl_conf_error(ctx, node, "invalid percentage %s: %s", sl_conf_quote(text, buf, sizeof(buf)), err);
        return SL_ECONFIG;
    }
    double pm = v * 1000.0, r = nearbyint(pm);
    if (!(r >= (double)key->min && r <= (double)key->max) || fabs(pm - r) > 1e-6) {
        if (r >= (double)key->min && r <= (double)key->max)
            sl_conf_error(ctx, node, "must be a whole number of tenths of a percent, got %s",
                          sl_conf_bare(text, buf, sizeof(buf)));
        else
            sl_conf_error(ctx, node, "must be between %s and %s, got %s",
                          sl_conf_format_permille((uint32_t)key->min, lo, sizeof(lo)),
                          sl_conf_format_permille((uint32_t)key->max, hi, sizeof(hi)), sl_conf_bare(text, buf, sizeof(buf)));
        return SL_ECONFIG;
    }
    *(uint32_t *)field = (uint32_t)r;
    return SL_OK;
}

/* One variant name: defined, not the tier's own backend, same protocol, not listed before. */
static const sl_conf_backend_t *variant(sl_conf_ctx_t *ctx, const sl_ynode_t *node, const sl_conf_tier_t *tier,
                                        const sl_conf_backend_t **seen, size_t n)
{
    const sl_conf_backend_t *b = sl_conf_backend_ref(ctx, node);
    if (b == NULL)
        return NULL;
    for (size_t i = 0; i != n; ++i) {
        if (seen[i] == b) {
            sl_conf_error(ctx, node, "backend \"%s\" is listed twice", b->name);
            return NULL;
        }
    }
    if (sl_conf_check_other_backend(ctx, node, tier, b, "name a faster variant") != SL_OK)
        return NULL;
    return b;
}

/* to: one backend name, or a list of 1 to SL_CONF_MAX_DEGRADE_TO names in order of preference. */
static int p_to(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    sl_conf_degrade_t *d = (sl_conf_degrade_t *)((char *)field - key->offset);
    const sl_conf_tier_t *tier = (const sl_conf_tier_t *)((char *)d - offsetof(sl_conf_tier_t, degrade));
    const sl_conf_backend_t *list[SL_CONF_MAX_DEGRADE_TO];
    char buf[256];
    size_t n = 0;
    int rc = SL_OK;
    if (node->kind == SL_YNODE_SCALAR) {
        if ((list[0] = variant(ctx, node, tier, list, 0)) == NULL)
            return SL_ECONFIG;
        n = 1;
    } else if (node->kind == SL_YNODE_SEQ) {
        if (node->num_items == 0 || node->num_items > SL_CONF_MAX_DEGRADE_TO) {
            sl_conf_error(ctx, node, "list 1 to %u faster variants, got %zu", (unsigned)SL_CONF_MAX_DEGRADE_TO,
                          node->num_items);
            return SL_ECONFIG;
        }
        for (size_t i = 0; i != node->num_items; ++i) {
            size_t saved = sl_conf_path_push_index(ctx, i);
            const sl_conf_backend_t *b = variant(ctx, node->items[i], tier, list, n);
            if (b != NULL)
                list[n++] = b;
            else
                rc = SL_ECONFIG;
            sl_conf_path_pop(ctx, saved);
        }
    } else {
        if (node->kind == SL_YNODE_ALIAS)
            return sl_conf_expect(ctx, node, SL_YNODE_SCALAR);
        sl_conf_error(ctx, node, "expected a backend name or a list of backend names, got %s",
                      sl_conf_describe(node, buf, sizeof(buf)));
        return SL_ECONFIG;
    }
    if (rc != SL_OK)
        return rc;
    const sl_conf_backend_t **to = sl_arena_alloc(ctx->arena, n * sizeof(*to));
    memcpy(to, list, n * sizeof(*to));
    d->to = to;
    d->num_to = n;
    return SL_OK;
}

/* low < high x burn_factor, reported at the low key (or at the block when low was defaulted). */
static int check_band(sl_conf_ctx_t *ctx, const sl_ynode_t *map, const char *low_key, const char *high_key, uint32_t low,
                      uint32_t high, uint32_t burn)
{
    char a[16], b[16], c[16], d[16];
    if ((uint64_t)low * 1000u < (uint64_t)high * burn)
        return SL_OK;
    const sl_ynode_t *n = sl_conf_map_get(map, low_key);
    size_t saved = sl_conf_path_push_key(ctx, low_key);
    sl_conf_error(ctx, n != NULL ? n : map, "must be below %s x burn_factor (%s x %s = %s), got %s%s", high_key,
                  sl_conf_format_permille(high, a, sizeof(a)), sl_conf_format_permille(burn, b, sizeof(b)),
                  sl_conf_format_permille((uint32_t)((uint64_t)high * burn / 1000u), c, sizeof(c)),
                  sl_conf_format_permille(low, d, sizeof(d)), n != NULL ? "" : " (the default)");
    sl_conf_path_pop(ctx, saved);
    return SL_ECONFIG;
}

static int check_degrade(sl_conf_ctx_t *ctx, const sl_ynode_t *map, void *obj, uint64_t seen)
{
    sl_conf_degrade_t *d = obj;
    int rc = SL_OK;
    if (check_band(ctx, map, "saturation_low", "saturation_high", d->saturation_low_permille, d->saturation_high_permille,
                   d->burn_factor_permille) != SL_OK)
        rc = SL_ECONFIG;
    if (check_band(ctx, map, "latency_low", "latency_high", d->latency_low_permille, d->latency_high_permille,
                   d->burn_factor_permille) != SL_OK)
        rc = SL_ECONFIG;
    return rc;
}

#define SHARE(name, field, dflt, lo, hi)                                                                                       \
    {                                                                                                                          \
        name, p_share, offsetof(sl_conf_degrade_t, field), .def = dflt, .min = lo, .max = hi                                   \
    }

static const sl_conf_key_t degrade_keys[] = {
    {"to", p_to, offsetof(sl_conf_degrade_t, to), .required = 1},
    SHARE("saturation_high", saturation_high_permille, "90%", 1, 1000),
    SHARE("saturation_low", saturation_low_permille, "60%", 0, 999),
    SHARE("latency_high", latency_high_permille, "100%", 1, 10000),
    SHARE("latency_low", latency_low_permille, "70%", 0, 9999),
    SHARE("step_up", step_up_permille, "25%", 1, 1000),
    SHARE("step_down", step_down_permille, "10%", 1, 1000),
    {"hold", sl_conf_p_duration, offsetof(sl_conf_degrade_t, hold_ms), .def = "10s", .max = HOUR_MS},
    {"interval", sl_conf_p_duration, offsetof(sl_conf_degrade_t, interval_ms), .def = "1s", .max = HOUR_MS},
    SHARE("burn_factor", burn_factor_permille, "80%", 100, 1000),
    {"latency_window", sl_conf_p_duration, offsetof(sl_conf_degrade_t, latency_window_ms), .def = "30s", .min = 1000,
     .max = 600000},
    {"spill_over", sl_conf_p_bool, offsetof(sl_conf_degrade_t, spill_over), .def = "true"},
    {NULL}};
const sl_conf_block_t sl_conf_degrade_block = {degrade_keys, check_degrade};

int sl_conf_p_degrade(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    sl_conf_degrade_t *d = field;
    sl_conf_apply_defaults(ctx, &sl_conf_degrade_block, d);
    if (sl_conf_walk(ctx, node, &sl_conf_degrade_block, d) != SL_OK)
        return SL_ECONFIG;
    d->enabled = 1;
    return SL_OK;
}
