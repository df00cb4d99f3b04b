/*
 * test_variant.c - the accurate/degraded choice (router/variant.c): the mixed draw against values computed
 * independently, exact split counts over a fixed draw sequence, independence from the canary draw of the same
 * tier, the extremes, the spill-over order and the application to a plan step.
 *
 * Expected figures come from this Python (splitmix64 as in stats/reservoir.c):
 *   M = 2**64 - 1; G = 0x9E3779B97F4A7C15; S = 0xD1B54A32D192ED03
 *   def fmix(k): k ^= k >> 33; k = k * 0xff51afd7ed558ccd & M; k ^= k >> 33; k = k * 0xc4ceb9fe1a85ec53 & M;
 *                return k ^ (k >> 33)
 *   vdraw = lambda d, t: fmix((d + (t + 1) * G + S) & M)      # the variant draw
 *   vers  = lambda d, t: fmix((d + (t + 1) * G) & M)          # the version draw (router/version.c)
 *   bucket = lambda h: h * 1000 >> 64
 *   def sm(s): s = (s + G) & M; z = s; z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9 & M
 *              z = (z ^ (z >> 27)) * 0x94D049BB133111EB & M; return s, z ^ (z >> 31)
 *   s = 7; n = 0
 *   for i in range(100000): s, d = sm(s); n += bucket(vdraw(d, 1)) < f
 */
#include <criterion/criterion.h>

#include "router/variant.h"
#include "router/version.h"
#include "stats/reservoir.h"

static sl_conf_backend_t large = {.name = "large"};
static sl_conf_backend_t fp8 = {.name = "large-fp8"};
static sl_conf_backend_t int4 = {.name = "large-int4"};
static const sl_conf_backend_t *two[] = {&fp8, &int4};

static sl_conf_tier_t tier_with(int spill_over, size_t num_to)
{
    sl_conf_tier_t t = {.backend = &large};
    t.degrade.enabled = 1;
    t.degrade.to = two;
    t.degrade.num_to = num_to;
    t.degrade.spill_over = spill_over;
    return t;
}

Test(variant, draw_matches_the_reference)
{
    cr_assert_eq(sl_router_variant_draw(12345, 0), 0xdbeadbac7e8034deull);
    cr_assert_eq(sl_router_variant_draw(0, 0), 0xaf746c6a82c185ccull);
    cr_assert_eq(sl_router_variant_draw(12345, 3), 0x9ce467a2e7bb47e6ull);
    /* not the version draw of the same tier */
    cr_assert_neq(sl_router_variant_draw(12345, 0), sl_router_version_draw(12345, 0));
}

Test(variant, split_is_exact_over_a_fixed_draw_sequence)
{
    sl_conf_tier_t t = tier_with(1, 1);
    static const uint32_t fractions[] = {1, 250, 500, 999};
    static const int expected[] = {93, 25279, 50115, 99886};
    for (size_t k = 0; k != 4; ++k) {
        uint64_t s = 7;
        int n = 0;
        for (int i = 0; i != 100000; ++i)
            n += sl_router_variant_pick(&t.degrade, fractions[k], sl_reservoir_splitmix64(&s), 1) == SL_PLAN_VARIANT_DEGRADED;
        cr_assert_eq(n, expected[k], "fraction %u: %d", fractions[k], n);
    }
}

Test(variant, independent_of_the_version_draw)
{
    /* joint counts of (degraded at 40%, canary at 30%) on tier 1 over the same draws: the Python gives
     * [[41844, 17854], [28225, 12077]] (rows: accurate, degraded; columns: stable, canary); 12077 is within
     * 0.8 standard deviations of the 12000 that independence predicts */
    sl_conf_tier_t t = tier_with(1, 1);
    int c[2][2] = {{0, 0}, {0, 0}};
    uint64_t s = 7;
    for (int i = 0; i != 100000; ++i) {
        uint64_t d = sl_reservoir_splitmix64(&s);
        int deg = sl_router_variant_pick(&t.degrade, 400, d, 1) == SL_PLAN_VARIANT_DEGRADED;
        int can = sl_router_version_bucket(sl_router_version_draw(d, 1)) < 300;
        c[deg][can]++;
    }
    cr_assert_eq(c[0][0], 41844);
    cr_assert_eq(c[0][1], 17854);
    cr_assert_eq(c[1][0], 28225);
    cr_assert_eq(c[1][1], 12077);
}

Test(variant, extremes_and_no_degrade)
{
    sl_conf_tier_t t = tier_with(1, 1), off = {.backend = &large};
    sl_conf_tier_t empty = tier_with(1, 0);
    for (uint64_t d = 0; d != 1000; ++d) {
        uint64_t draw = d * 0x9E3779B97F4A7C15ull;
        cr_assert_eq(sl_router_variant_pick(&t.degrade, 0, draw, 0), SL_PLAN_VARIANT_ACCURATE);
        cr_assert_eq(sl_router_variant_pick(&t.degrade, 1000, draw, 0), SL_PLAN_VARIANT_DEGRADED);
        cr_assert_eq(sl_router_variant_pick(&t.degrade, 5000, draw, 0), SL_PLAN_VARIANT_DEGRADED);
        cr_assert_eq(sl_router_variant_pick(&off.degrade, 1000, draw, 0), SL_PLAN_VARIANT_ACCURATE);
        cr_assert_eq(sl_router_variant_pick(&empty.degrade, 1000, draw, 0), SL_PLAN_VARIANT_ACCURATE);
    }
    /* the threshold is on the bucket of the mixed draw */
    for (uint64_t d = 0; d != 64; ++d)
        cr_assert_eq(sl_router_variant_pick(&t.degrade, 300, d, 2) == SL_PLAN_VARIANT_DEGRADED,
                     sl_router_version_bucket(sl_router_variant_draw(d, 2)) < 300);
}

Test(variant, spill_over_order)
{
    const sl_conf_backend_t *out[SL_ROUTER_MAX_VARIANTS];
    sl_conf_tier_t t = tier_with(1, 2);
    cr_assert_eq(sl_router_variant_order(&t, SL_PLAN_VARIANT_ACCURATE, out), 3);
    cr_assert_eq(out[0], &large);
    cr_assert_eq(out[1], &fp8);
    cr_assert_eq(out[2], &int4);
    cr_assert_eq(sl_router_variant_order(&t, SL_PLAN_VARIANT_DEGRADED, out), 3);
    cr_assert_eq(out[0], &fp8);
    cr_assert_eq(out[1], &large);
    cr_assert_eq(out[2], &int4);

    sl_conf_tier_t no_spill = tier_with(0, 2);
    cr_assert_eq(sl_router_variant_order(&no_spill, SL_PLAN_VARIANT_ACCURATE, out), 1);
    cr_assert_eq(out[0], &large);
    cr_assert_eq(sl_router_variant_order(&no_spill, SL_PLAN_VARIANT_DEGRADED, out), 1);
    cr_assert_eq(out[0], &fp8);

    sl_conf_tier_t plain = {.backend = &large};
    cr_assert_eq(sl_router_variant_order(&plain, SL_PLAN_VARIANT_DEGRADED, out), 1);
    cr_assert_eq(out[0], &large);
}

Test(variant, apply_to_plan_steps)
{
    sl_conf_tier_t t = tier_with(1, 2);
    /* the first draws from 0 whose variant bucket on tier 1 is below / at or above 500 */
    uint64_t deg = 0, acc = 0;
    while (sl_router_version_bucket(sl_router_variant_draw(deg, 1)) >= 500)
        ++deg;
    while (sl_router_version_bucket(sl_router_variant_draw(acc, 1)) < 500)
        ++acc;
    sl_plan_step_t a = {.tier = &t, .backend = &large, .tier_index = 1};
    cr_assert_eq(sl_router_variant_apply(&a, 500, deg), SL_PLAN_VARIANT_DEGRADED);
    cr_assert_eq(a.variant, SL_PLAN_VARIANT_DEGRADED);
    cr_assert_eq(a.backend, &fp8);

    sl_plan_step_t b = {.tier = &t, .backend = &large, .tier_index = 1};
    cr_assert_eq(sl_router_variant_apply(&b, 500, acc), SL_PLAN_VARIANT_ACCURATE);
    cr_assert_eq(b.backend, &large);

    sl_conf_tier_t plain = {.backend = &large};
    sl_plan_step_t c = {.tier = &plain, .backend = &large, .tier_index = 0};
    cr_assert_eq(sl_router_variant_apply(&c, 1000, deg), SL_PLAN_VARIANT_ACCURATE);
    cr_assert_eq(c.backend, &large);
}
