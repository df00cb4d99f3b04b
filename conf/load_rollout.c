/*
 * load_rollout.c - a tier's `rollout` block: the canary backend that receives a growing share of the tier's
 * traffic, the weight steps, the analysis interval and sample minimum, the sticky key, and the checks that compare
 * the canary with the concurrent stable traffic (policies/canary.h, policies/rollout.h; docs/ROLLOUTS.md).
 *
 * The block is parsed after the tier's other keys (pass 1), so the tier's backend and accept rule are known: the
 * canary must be a defined backend other than the tier's own, speaking the same protocol (a canary request is the
 * same request sent to the new version). Steps are percentages held in permille, strictly increasing, each a whole
 * number of tenths of a percent; at least one must be below 100% (at 100% no stable traffic is left to compare
 * with, so a last step of 100% means "promote"). Checks are on or off by default (error_rate, latency and srm on;
 * ttft, tpot, accept_rate and confidence off) and a check block written in the file is on unless it says
 * `enabled: false`. The critical list names checks that are on; srm cannot be critical (a mismatch holds, it never
 * rolls back).
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

static const char *const check_names[] = {"error_rate", "latency", "ttft",         "tpot", "accept_rate",
                                          "confidence", "srm",     "feedback_accuracy", NULL};

/* The default weight steps and critical checks (lists cannot be written as a key's default text). */
static const uint32_t default_steps[] = {50, 100, 250, 500, 1000};
#define DEFAULT_CRITICAL ((1u << SL_CONF_CHECK_ERROR_RATE) | (1u << SL_CONF_CHECK_LATENCY))

static const sl_conf_tier_t *tier_of(const sl_conf_rollout_t *r)
{
    return (const sl_conf_tier_t *)((const char *)r - offsetof(sl_conf_tier_t, rollout));
}

/* canary: a defined backend, not the tier's own, speaking the tier backend's protocol. */
static int p_canary(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    const sl_conf_rollout_t *r = (const sl_conf_rollout_t *)((char *)field - key->offset);
    const sl_conf_backend_t *b = sl_conf_backend_ref(ctx, node);
    if (b == NULL || sl_conf_check_other_backend(ctx, node, tier_of(r), b, "the canary must be another backend") != SL_OK)
        return SL_ECONFIG;
    *(const sl_conf_backend_t **)field = b;
    return SL_OK;
}

/* One step: a percentage in (0, 100%], a whole number of tenths of a percent, into permille. */
static int parse_step(sl_conf_ctx_t *ctx, const sl_ynode_t *node, uint32_t *out)
{
    char buf[256];
    const char *err, *text = sl_conf_scalar(ctx, node);
    double v;
    if (text == NULL)
        return SL_ECONFIG;
    if (sl_conf_parse_percent(text, &v, &err) != SL_OK) {
        sl_conf_error(ctx, node, "invalid percentage %s: %s", sl_conf_quote(text, buf, sizeof(buf)), err);
        return SL_ECONFIG;
    }
    double pm = v * 1000.0, r = nearbyint(pm);
    if (!(v > 0 && r <= 1000.0)) {
        sl_conf_error(ctx, node, "must be above 0%% and at most 100%%, got %s", sl_conf_bare(text, buf, sizeof(buf)));
        return SL_ECONFIG;
    }
    if (r < 1 || fabs(pm - r) > 1e-6) {
        sl_conf_error(ctx, node, "must be a whole number of tenths of a percent, got %s", sl_conf_bare(text, buf, sizeof(buf)));
        return SL_ECONFIG;
    }
    *out = (uint32_t)r;
    return SL_OK;
}

/* steps: a list of 1 to SL_CONF_MAX_ROLLOUT_STEPS strictly increasing percentages, one of them below 100%. */
static int p_steps(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    sl_conf_rollout_t *r = (sl_conf_rollout_t *)((char *)field - key->offset);
    uint32_t steps[SL_CONF_MAX_ROLLOUT_STEPS];
    char a[16], b[16];
    int rc = SL_OK;
    if (sl_conf_expect(ctx, node, SL_YNODE_SEQ) != SL_OK)
        return SL_ECONFIG;
    if (node->num_items == 0 || node->num_items > SL_CONF_MAX_ROLLOUT_STEPS) {
        sl_conf_error(ctx, node, "list 1 to %u steps, got %zu", (unsigned)SL_CONF_MAX_ROLLOUT_STEPS, node->num_items);
        return SL_ECONFIG;
    }
    size_t n = 0;
    for (size_t i = 0; i != node->num_items; ++i) {
        size_t saved = sl_conf_path_push_index(ctx, i);
        uint32_t v;
        if (parse_step(ctx, node->items[i], &v) != SL_OK) {
            rc = SL_ECONFIG;
        } else if (n != 0 && v <= steps[n - 1]) {
            sl_conf_error(ctx, node->items[i], "steps must increase: %s is not above the step before it (%s)",
                          sl_conf_format_permille(v, a, sizeof(a)), sl_conf_format_permille(steps[n - 1], b, sizeof(b)));
            rc = SL_ECONFIG;
        } else {
            steps[n++] = v;
        }
        sl_conf_path_pop(ctx, saved);
    }
    if (rc != SL_OK)
        return rc;
    if (steps[0] == 1000) {
        sl_conf_error(ctx, node,
                      "needs a step below 100%% (at 100%% no stable traffic is left to compare the canary "
                      "with)");
        return SL_ECONFIG;
    }
    memcpy(r->steps_permille, steps, n * sizeof(*steps));
    r->num_steps = n;
    return SL_OK;
}

/* sticky: header:<name> | cookie:<name> */
static int p_sticky(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    sl_conf_rollout_t *r = (sl_conf_rollout_t *)((char *)field - key->offset);
    char buf[256];
    const char *text = sl_conf_scalar(ctx, node);
    if (text == NULL)
        return SL_ECONFIG;
    if (strncmp(text, "header:", 7) == 0) {
        if ((r->sticky_name = sl_conf_header_name(ctx, node, text + 7)) == NULL)
            return SL_ECONFIG;
        r->sticky = SL_CONF_STICKY_HEADER;
        return SL_OK;
    }
    if (strncmp(text, "cookie:", 7) == 0) {
        /* RFC 6265 §4.1.1: a cookie name is an RFC 2616 token */
        const char *name = text + 7;
        size_t len = strlen(name);
        if (len == 0 || len > 128 ||
            strspn(name, "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") != len) {
            sl_conf_error(ctx, node, "invalid cookie name %s", sl_conf_quote(name, buf, sizeof(buf)));
            return SL_ECONFIG;
        }
        r->sticky_name = sl_arena_strdup(ctx->arena, name);
        r->sticky = SL_CONF_STICKY_COOKIE;
        return SL_OK;
    }
    sl_conf_error(ctx, node, "invalid sticky key %s; expected header:<name> or cookie:<name>",
                  sl_conf_quote(text, buf, sizeof(buf)));
    return SL_ECONFIG;
}

/* critical: a list of check names (validated against the enabled checks in check_rollout). */
static int p_critical(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    char buf[256];
    uint32_t mask = 0;
    int rc = SL_OK;
    if (sl_conf_expect(ctx, node, SL_YNODE_SEQ) != SL_OK)
        return SL_ECONFIG;
    for (size_t i = 0; i != node->num_items; ++i) {
        size_t saved = sl_conf_path_push_index(ctx, i);
        const char *text = sl_conf_scalar(ctx, node->items[i]), *suggestion;
        int idx;
        if (text == NULL) {
            rc = SL_ECONFIG;
        } else if (sl_conf_parse_enum(text, check_names, &idx, &suggestion) != SL_OK) {
            if (suggestion != NULL)
                sl_conf_error(ctx, node->items[i], "unknown check %s (did you mean \"%s\"?)",
                              sl_conf_quote(text, buf, sizeof(buf)), suggestion);
            else
                sl_conf_error(ctx, node->items[i],
                              "unknown check %s; expected error_rate, latency, ttft, tpot, accept_rate or confidence",
                              sl_conf_quote(text, buf, sizeof(buf)));
            rc = SL_ECONFIG;
        } else if (idx == SL_CONF_CHECK_SRM) {
            sl_conf_error(ctx, node->items[i],
                          "srm cannot be critical: a sample-ratio mismatch holds the rollout, it "
                          "never rolls back");
            rc = SL_ECONFIG;
        } else if (mask & (1u << idx)) {
            sl_conf_error(ctx, node->items[i], "check \"%s\" is listed twice", check_names[idx]);
            rc = SL_ECONFIG;
        } else {
            mask |= 1u << idx;
        }
        sl_conf_path_pop(ctx, saved);
    }
    if (rc == SL_OK)
        *(uint32_t *)field = mask;
    return rc;
}

/* A check block written in the file is on unless it says `enabled: false` (enabled is key 0 of every table). */
static int check_enabled(sl_conf_ctx_t *ctx, const sl_ynode_t *map, void *obj, uint64_t seen)
{
    if ((seen & 1) == 0)
        ((sl_conf_check_t *)obj)->enabled = 1;
    return SL_OK;
}

#define ENABLED(dflt)                                                                                                          \
    {                                                                                                                          \
        "enabled", sl_conf_p_bool, offsetof(sl_conf_check_t, enabled), .def = dflt                                             \
    }
#define ALPHA(dflt)                                                                                                            \
    {                                                                                                                          \
        "alpha", sl_conf_p_number, offsetof(sl_conf_check_t, alpha), .def = dflt, .fmin = 1e-9, .fmax = 0.5                    \
    }
#define MIN_SAMPLES(dflt)                                                                                                      \
    {                                                                                                                          \
        "min_samples", sl_conf_p_u32, offsetof(sl_conf_check_t, min_samples), .def = dflt, .min = 5, .max = 1024               \
    }

static const sl_conf_key_t error_rate_keys[] = {
    ENABLED("true"),
    ALPHA("0.0025"),
    {"min_ratio", sl_conf_p_number, offsetof(sl_conf_check_t, ratio), .def = "1.1", .fmin = 1, .fmax = 100},
    {"min_increase", sl_conf_p_percent, offsetof(sl_conf_check_t, min_effect), .def = "0.1%", .fmin = 0, .fmax = 1},
    {"detect_ratio", sl_conf_p_number, offsetof(sl_conf_check_t, detect_ratio), .def = "5", .fmin = 1, .fmax = 1000},
    {"detect_increase", sl_conf_p_percent, offsetof(sl_conf_check_t, detect_increase), .def = "0.5%", .fmin = 0, .fmax = 1},
    {NULL}};
static const sl_conf_block_t error_rate_block = {error_rate_keys, check_enabled};

#define MIN_EFFECT_PERCENT(dflt, hi)                                                                                           \
    {                                                                                                                          \
        "min_effect", sl_conf_p_percent, offsetof(sl_conf_check_t, min_effect), .def = dflt, .fmin = 0, .fmax = hi             \
    }
#define P99_RATIO(dflt)                                                                                                        \
    {                                                                                                                          \
        "p99_ratio", sl_conf_p_number, offsetof(sl_conf_check_t, ratio), .def = dflt, .fmin = 1, .fmax = 1000                  \
    }

static const sl_conf_key_t latency_keys[] = {ENABLED("true"),  ALPHA("0.0001"),   MIN_EFFECT_PERCENT("5%", 0.5),
                                             P99_RATIO("1.5"), MIN_SAMPLES("50"), {NULL}};
static const sl_conf_block_t latency_block = {latency_keys, check_enabled};
/* ttft and tpot: the same keys, off by default (only streams have them) */
static const sl_conf_key_t stream_timing_keys[] = {ENABLED("false"), ALPHA("0.0001"),   MIN_EFFECT_PERCENT("5%", 0.5),
                                                   P99_RATIO("1.5"), MIN_SAMPLES("50"), {NULL}};
static const sl_conf_block_t stream_timing_block = {stream_timing_keys, check_enabled};

static const sl_conf_key_t accept_rate_keys[] = {
    ENABLED("false"), ALPHA("0.0001"), MIN_EFFECT_PERCENT("2%", 1), MIN_SAMPLES("100"), {NULL}};
static const sl_conf_block_t accept_rate_block = {accept_rate_keys, check_enabled};

static const sl_conf_key_t confidence_keys[] = {
    ENABLED("false"),
    ALPHA("0.0001"),
    {"min_effect", sl_conf_p_number, offsetof(sl_conf_check_t, min_effect), .def = "0.1", .fmin = 0, .fmax = 1},
    MIN_SAMPLES("100"),
    {NULL}};
static const sl_conf_block_t confidence_block = {confidence_keys, check_enabled};

static const sl_conf_key_t srm_keys[] = {
    ENABLED("true"), ALPHA("0.005"), {"hold", sl_conf_p_bool, offsetof(sl_conf_check_t, hold), .def = "true"}, {NULL}};
static const sl_conf_block_t srm_block = {srm_keys, check_enabled};

static const sl_conf_key_t feedback_accuracy_keys[] = {
    ENABLED("false"),
    ALPHA("0.001"),
    MIN_EFFECT_PERCENT("2%", 1),
    {"min_samples", sl_conf_p_u32, offsetof(sl_conf_check_t, min_samples), .def = "200", .min = 5, .max = 1000000000},
    {NULL}};
static const sl_conf_block_t feedback_accuracy_block = {feedback_accuracy_keys, check_enabled};

/* the checks block fills the array rollout.checks: entry idx is at idx x sizeof(sl_conf_check_t) */
#define CHECK(name, idx, block)                                                                                                \
    {                                                                                                                          \
        name, sl_conf_p_block, (idx) * sizeof(sl_conf_check_t), .sub = &block                                                  \
    }

static const sl_conf_key_t checks_keys[] = {CHECK("error_rate", SL_CONF_CHECK_ERROR_RATE, error_rate_block),
                                            CHECK("latency", SL_CONF_CHECK_LATENCY, latency_block),
                                            CHECK("ttft", SL_CONF_CHECK_TTFT, stream_timing_block),
                                            CHECK("tpot", SL_CONF_CHECK_TPOT, stream_timing_block),
                                            CHECK("accept_rate", SL_CONF_CHECK_ACCEPT_RATE, accept_rate_block),
                                            CHECK("confidence", SL_CONF_CHECK_CONFIDENCE, confidence_block),
                                            CHECK("srm", SL_CONF_CHECK_SRM, srm_block),
                                            CHECK("feedback_accuracy", SL_CONF_CHECK_FEEDBACK_ACCURACY, feedback_accuracy_block),
                                            {NULL}};
static const sl_conf_block_t checks_block = {checks_keys, NULL};

/* Across keys: critical checks must be on; accept_rate and confidence need the tier's accept rule. */
static int check_rollout(sl_conf_ctx_t *ctx, const sl_ynode_t *map, void *obj, uint64_t seen)
{
    sl_conf_rollout_t *r = obj;
    const sl_conf_tier_t *tier = tier_of(r);
    int rc = SL_OK;
    uint32_t enabled = 0;
    for (int c = 0; c != SL_CONF_CHECK_COUNT; ++c)
        if (r->checks[c].enabled)
            enabled |= 1u << c;
    if (!sl_conf_seen(&sl_conf_rollout_block, seen, "critical")) {
        r->critical_mask = DEFAULT_CRITICAL & enabled; /* the default names only checks that are on */
    } else {
        const sl_ynode_t *list = sl_conf_map_get(map, "critical");
        for (size_t i = 0; i != list->num_items; ++i) {
            int idx;
            const char *suggestion;
            sl_conf_parse_enum(list->items[i]->text, check_names, &idx, &suggestion);
            if ((enabled >> idx & 1) == 0) {
                size_t saved = sl_conf_path_push_key(ctx, "critical");
                size_t saved2 = sl_conf_path_push_index(ctx, i);
                sl_conf_error(ctx, list->items[i], "check \"%s\" is not enabled (checks.%s)", check_names[idx],
                              check_names[idx]);
                sl_conf_path_pop(ctx, saved2);
                sl_conf_path_pop(ctx, saved);
                rc = SL_ECONFIG;
            }
        }
    }
    static const int need_accept[] = {SL_CONF_CHECK_ACCEPT_RATE, SL_CONF_CHECK_CONFIDENCE};
    for (size_t i = 0; i != sizeof(need_accept) / sizeof(need_accept[0]); ++i) {
        int c = need_accept[i];
        if (!r->checks[c].enabled || tier->has_accept)
            continue;
        const sl_ynode_t *checks = sl_conf_map_get(map, "checks");
        const sl_ynode_t *at = sl_conf_map_get(checks, check_names[c]);
        size_t saved = sl_conf_path_push_key(ctx, "checks");
        size_t saved2 = sl_conf_path_push_key(ctx, check_names[c]);
        sl_conf_error(ctx, at != NULL ? at : map, "needs the tier's accept rule (an accept signal to measure)");
        sl_conf_path_pop(ctx, saved2);
        sl_conf_path_pop(ctx, saved);
        rc = SL_ECONFIG;
    }
    return rc;
}

static const sl_conf_key_t rollout_keys[] = {
    {"canary", p_canary, offsetof(sl_conf_rollout_t, canary), .required = 1},
    {"steps", p_steps, offsetof(sl_conf_rollout_t, steps_permille)},
    {"interval", sl_conf_p_duration, offsetof(sl_conf_rollout_t, interval_ms), .def = "60s", .min = 1000, .max = HOUR_MS},
    {"min_samples", sl_conf_p_u32, offsetof(sl_conf_rollout_t, min_samples), .def = "200", .min = 1, .max = 1000000000},
    {"failure_limit", sl_conf_p_u32, offsetof(sl_conf_rollout_t, failure_limit), .def = "3", .min = 1, .max = 1000},
    {"sticky", p_sticky, offsetof(sl_conf_rollout_t, sticky)},
    {"critical", p_critical, offsetof(sl_conf_rollout_t, critical_mask)},
    {"checks", sl_conf_p_block, offsetof(sl_conf_rollout_t, checks), .sub = &checks_block},
    {NULL}};
const sl_conf_block_t sl_conf_rollout_block = {rollout_keys, check_rollout};

int sl_conf_p_rollout(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    sl_conf_rollout_t *r = field;
    sl_conf_apply_defaults(ctx, &sl_conf_rollout_block, r);
    memcpy(r->steps_permille, default_steps, sizeof(default_steps));
    r->num_steps = sizeof(default_steps) / sizeof(default_steps[0]);
    if (sl_conf_walk(ctx, node, &sl_conf_rollout_block, r) != SL_OK)
        return SL_ECONFIG;
    r->enabled = 1;
    return SL_OK;
}

const char *sl_conf_rollout_check_name(enum en_sl_conf_check_t check)
{
    return (unsigned)check < SL_CONF_CHECK_COUNT ? check_names[check] : "?";
}
