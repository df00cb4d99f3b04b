/*
 * test_version.c - the stable/canary choice (router/version.c): the sticky hash against values computed
 * independently (a Python rendering of FNV-1a + fmix64, kept in the comments), exact split counts over fixed key
 * sets and draw sequences, a canary set that only grows with the weight, header and cookie keys, and the
 * application to a plan step.
 *
 * Expected figures come from this Python:
 *   M = 2**64 - 1
 *   def fmix(k): k ^= k >> 33; k = k * 0xff51afd7ed558ccd & M; k ^= k >> 33; k = k * 0xc4ceb9fe1a85ec53 & M;
 *                return k ^ (k >> 33)
 *   def fnv(h, b): for c in b: h = (h ^ c) * 0x100000001b3 & M; return h
 *   def H(canary, v): return fmix(fnv(fnv(fnv(0xcbf29ce484222325, canary.encode()), b'\0'), v))
 *   bucket = lambda h: h * 1000 >> 64
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "router/facts.h"
#include "router/version.h"
#include "stats/reservoir.h"

typedef struct st_headers_t {
    const char *names[4];
    const char *values[4];
} headers_t;

static const char *lookup(void *ctx, const char *name, size_t name_len, size_t *value_len)
{
    headers_t *h = ctx;
    for (int i = 0; i != 4 && h->names[i] != NULL; ++i) {
        if (strlen(h->names[i]) == name_len && memcmp(h->names[i], name, name_len) == 0) {
            *value_len = strlen(h->values[i]);
            return h->values[i];
        }
    }
    return NULL;
}

static sl_facts_t facts_with(headers_t *h)
{
    sl_router_facts_t http = {.path = "/v1/chat/completions", .path_len = 20, .header = lookup, .header_ctx = h};
    sl_facts_t f;
    sl_facts_init(&f, &http);
    return f;
}

static sl_conf_backend_t stable_backend = {.name = "large"};
static sl_conf_backend_t canary_backend = {.name = "large-v2"};

static sl_conf_rollout_t rollout(enum en_sl_conf_sticky_t sticky, const char *name)
{
    sl_conf_rollout_t r = {.enabled = 1, .canary = &canary_backend, .sticky = sticky, .sticky_name = name};
    return r;
}

Test(version, hash_and_bucket_match_the_reference)
{
    cr_assert_eq(sl_router_version_hash("large-v2", "user-42", 7), 0xc1ee6cec6e15a41dull);
    cr_assert_eq(sl_router_version_hash("large-v2", "user-43", 7), 0x69b0bf46176d35dfull);
    cr_assert_eq(sl_router_version_hash("large-v3", "user-42", 7), 0x46ab8cc73301e815ull);
    cr_assert_eq(sl_router_version_hash("large-v2", "", 0), 0x7ae8346447d4e4a2ull);
    cr_assert_eq(sl_router_version_bucket(0xc1ee6cec6e15a41dull), 757);
    cr_assert_eq(sl_router_version_bucket(0x69b0bf46176d35dfull), 412);
    cr_assert_eq(sl_router_version_bucket(0), 0);
    cr_assert_eq(sl_router_version_bucket(UINT64_MAX), 999);
    cr_assert_eq(sl_router_version_bucket(1ull << 63), 500);
    cr_assert_eq(sl_router_version_draw(12345, 0), 0x31a36fc405094051ull);
}

Test(version, sticky_split_is_exact_and_only_grows)
{
    sl_conf_rollout_t r = rollout(SL_CONF_STICKY_HEADER, "x-user-id");
    static const uint32_t weights[] = {0, 50, 100, 250, 500, 1000};
    static const int expected[] = {0, 504, 1028, 2537, 5060, 10000};
    static unsigned char canary_at[6][10000];
    char id[16];
    for (size_t w = 0; w != 6; ++w) {
        int n = 0;
        for (int i = 0; i != 10000; ++i) {
            snprintf(id, sizeof(id), "u%d", i);
            headers_t h = {{"x-user-id"}, {id}};
            sl_facts_t f = facts_with(&h);
            int by_key = -1;
            /* the draw must not matter when the key is present */
            enum en_sl_plan_version_t v = sl_router_version_pick(&r, weights[w], &f, (uint64_t)i * 7919, 1, &by_key);
            cr_assert_eq(by_key, weights[w] != 0);
            canary_at[w][i] = v == SL_PLAN_VERSION_CANARY;
            n += canary_at[w][i];
            if (w != 0)
                cr_assert(canary_at[w][i] >= canary_at[w - 1][i], "u%d left the canary when the weight grew", i);
        }
        cr_assert_eq(n, expected[w], "weight %u: %d canary keys", weights[w], n);
    }
}

Test(version, same_key_same_version_whatever_the_draw)
{
    sl_conf_rollout_t r = rollout(SL_CONF_STICKY_HEADER, "x-user-id");
    headers_t h = {{"x-user-id"}, {"  user-43\t"}}; /* blanks are trimmed: bucket 412 */
    sl_facts_t f = facts_with(&h);
    for (uint64_t d = 0; d != 1000; ++d) {
        cr_assert_eq(sl_router_version_pick(&r, 413, &f, d * 0x9E3779B97F4A7C15ull, 0, NULL), SL_PLAN_VERSION_CANARY);
        cr_assert_eq(sl_router_version_pick(&r, 412, &f, d * 0x9E3779B97F4A7C15ull, 0, NULL), SL_PLAN_VERSION_STABLE);
    }
}

Test(version, random_split_is_exact_over_a_fixed_draw_sequence)
{
    sl_conf_rollout_t r = rollout(SL_CONF_STICKY_NONE, NULL);
    headers_t h = {{NULL}};
    sl_facts_t f = facts_with(&h);
    uint64_t s = 7;
    int n = 0, by_key = -1;
    for (int i = 0; i != 100000; ++i)
        n += sl_router_version_pick(&r, 50, &f, sl_reservoir_splitmix64(&s), 1, &by_key) == SL_PLAN_VERSION_CANARY;
    cr_assert_eq(n, 4882);
    cr_assert_eq(by_key, 0);
}

Test(version, missing_or_empty_key_draws_at_random)
{
    sl_conf_rollout_t r = rollout(SL_CONF_STICKY_HEADER, "x-user-id");
    headers_t none = {{"x-other"}, {"1"}}, empty = {{"x-user-id"}, {"  "}};
    sl_facts_t f1 = facts_with(&none), f2 = facts_with(&empty);
    size_t len;
    cr_assert_null(sl_router_version_key(&r, &f1, &len));
    cr_assert_null(sl_router_version_key(&r, &f2, &len));
    /* draw whose version bucket is known: choose draws until both outcomes are seen, and check them against the
     * bucket of the mixed draw */
    for (uint64_t d = 0; d != 64; ++d) {
        int by_key = -1;
        enum en_sl_plan_version_t v = sl_router_version_pick(&r, 300, &f1, d, 2, &by_key);
        cr_assert_eq(by_key, 0);
        cr_assert_eq(v == SL_PLAN_VERSION_CANARY, sl_router_version_bucket(sl_router_version_draw(d, 2)) < 300);
    }
}

Test(version, cookie_keys)
{
    sl_conf_rollout_t r = rollout(SL_CONF_STICKY_COOKIE, "session");
    static const struct {
        const char *cookie, *want;
    } cases[] = {
        {"a=1; session=xyz; b=2", "xyz"},
        {"session=xyz", "xyz"},
        {"  session = xyz  ;b=2", "xyz"},
        {"sessionx=1; xsession=2; session=abc", "abc"},
        {"session=first; session=second", "first"},
        {"flag; session=\"quoted\"", "\"quoted\""},
        {"a=1;session=tight;b=2", "tight"},
        {"session=", NULL},
        {"session", NULL},
        {"a=1; b=2", NULL},
        {"", NULL},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        headers_t h = {{"cookie"}, {cases[i].cookie}};
        sl_facts_t f = facts_with(&h);
        size_t len = 0;
        const char *v = sl_router_version_key(&r, &f, &len);
        if (cases[i].want == NULL) {
            cr_expect_null(v, "case %zu", i);
        } else {
            cr_assert_not_null(v, "case %zu", i);
            cr_expect_eq(len, strlen(cases[i].want), "case %zu", i);
            cr_expect_eq(memcmp(v, cases[i].want, len), 0, "case %zu", i);
        }
    }
    /* a cookie key decides like a header key with the same value */
    headers_t hc = {{"cookie"}, {"session=user-42"}};
    sl_facts_t f = facts_with(&hc);
    int by_key = 0;
    cr_assert_eq(sl_router_version_pick(&r, 758, &f, 0, 0, &by_key), SL_PLAN_VERSION_CANARY); /* bucket 757 */
    cr_assert_eq(by_key, 1);
    cr_assert_eq(sl_router_version_pick(&r, 757, &f, 0, 0, &by_key), SL_PLAN_VERSION_STABLE);
}

Test(version, extremes_and_no_rollout)
{
    sl_conf_rollout_t r = rollout(SL_CONF_STICKY_NONE, NULL), off = {0};
    headers_t h = {{NULL}};
    sl_facts_t f = facts_with(&h);
    for (uint64_t d = 0; d != 1000; ++d) {
        uint64_t draw = d * 0xD1B54A32D192ED03ull;
        cr_assert_eq(sl_router_version_pick(&r, 0, &f, draw, 0, NULL), SL_PLAN_VERSION_STABLE);
        cr_assert_eq(sl_router_version_pick(&r, 1000, &f, draw, 0, NULL), SL_PLAN_VERSION_CANARY);
        cr_assert_eq(sl_router_version_pick(&r, 5000, &f, draw, 0, NULL), SL_PLAN_VERSION_CANARY);
        cr_assert_eq(sl_router_version_pick(&off, 1000, &f, draw, 0, NULL), SL_PLAN_VERSION_STABLE);
    }
}

Test(version, apply_to_plan_steps)
{
    sl_conf_tier_t tier = {.backend = &stable_backend};
    tier.rollout = rollout(SL_CONF_STICKY_HEADER, "x-user-id");
    headers_t h = {{"x-user-id"}, {"user-42"}}; /* bucket 757 */
    sl_facts_t f = facts_with(&h);
    sl_plan_step_t step = {.tier = &tier, .backend = &stable_backend, .tier_index = 1, .variant = SL_PLAN_VARIANT_ACCURATE};
    int by_key = 0;
    cr_assert_eq(sl_router_version_apply(&step, 800, &f, 0, &by_key), SL_PLAN_VERSION_CANARY);
    cr_assert_eq(step.version, SL_PLAN_VERSION_CANARY);
    cr_assert_eq(step.backend, &canary_backend);
    cr_assert_eq(by_key, 1);

    sl_plan_step_t low = {.tier = &tier, .backend = &stable_backend, .variant = SL_PLAN_VARIANT_ACCURATE};
    cr_assert_eq(sl_router_version_apply(&low, 700, &f, 0, NULL), SL_PLAN_VERSION_STABLE);
    cr_assert_eq(low.backend, &stable_backend);

    sl_conf_backend_t fp8 = {.name = "large-fp8"};
    sl_plan_step_t degraded = {
        .tier = &tier, .backend = &fp8, .variant = SL_PLAN_VARIANT_DEGRADED, .version = SL_PLAN_VERSION_CANARY};
    by_key = 1;
    cr_assert_eq(sl_router_version_apply(&degraded, 1000, &f, 0, &by_key), SL_PLAN_VERSION_STABLE);
    cr_assert_eq(degraded.version, SL_PLAN_VERSION_STABLE);
    cr_assert_eq(degraded.backend, &fp8);
    cr_assert_eq(by_key, 0);

    sl_conf_tier_t plain = {.backend = &stable_backend};
    sl_plan_step_t s2 = {.tier = &plain, .backend = &stable_backend};
    cr_assert_eq(sl_router_version_apply(&s2, 1000, &f, 0, NULL), SL_PLAN_VERSION_STABLE);
    cr_assert_eq(s2.backend, &stable_backend);
}
