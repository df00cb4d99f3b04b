/*
 * test_canary_tail.c - exact binomial and hypergeometric tails and alpha spending (stats/canary_tail.h), against
 * scipy.stats (tests/fixtures/stats/canary.json, made by tests/reference/canary_reference.py): every tail to
 * relative 1e-9, down to 1e-38; argument checks; the spending series.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>

#include "common/status.h"
#include "stats/canary_tail.h"

static json_t *load_fixture(void)
{
    json_error_t err;
    json_t *root = json_load_file(SL_SOURCE_DIR "/tests/fixtures/stats/canary.json", 0, &err);
    cr_assert_not_null(root, "canary.json: %s", err.text);
    return root;
}

static double num(const json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

static void close_to(double got, double want, const char *what, size_t i)
{
    double tol = 1e-9 * fmax(fabs(want), 1e-300);
    cr_expect(fabs(got - want) <= tol, "%s case %zu: %.17g, want %.17g", what, i, got, want);
}

Test(canary_tail, binomial_matches_scipy)
{
    json_t *root = load_fixture(), *c;
    size_t i;
    json_array_foreach(json_object_get(root, "binom"), i, c)
    {
        uint64_t x = (uint64_t)num(c, "x"), n = (uint64_t)num(c, "n");
        double p = num(c, "p"), sf = -1, cdf = -1, t = -1;
        cr_assert_eq(sl_canary_binom_sf(x, n, p, &sf), SL_OK);
        cr_assert_eq(sl_canary_binom_cdf(x, n, p, &cdf), SL_OK);
        cr_assert_eq(sl_canary_binom_test(x, n, p, &t), SL_OK);
        close_to(sf, num(c, "sf"), "sf", i);
        close_to(cdf, num(c, "cdf"), "cdf", i);
        close_to(t, num(c, "test"), "test", i);
    }
    cr_assert_eq(i, 20);
    json_decref(root);
}

Test(canary_tail, hypergeometric_matches_scipy)
{
    json_t *root = load_fixture(), *c;
    size_t i;
    json_array_foreach(json_object_get(root, "hypergeom"), i, c)
    {
        double sf = -1;
        cr_assert_eq(sl_canary_hypergeom_sf((uint64_t)num(c, "x"), (uint64_t)num(c, "total"), (uint64_t)num(c, "good"),
                                            (uint64_t)num(c, "draws"), &sf),
                     SL_OK);
        close_to(sf, num(c, "sf"), "hypergeom", i);
    }
    cr_assert_eq(i, 18);
    json_decref(root);
}

Test(canary_tail, edges_of_the_support)
{
    double v = -1;
    cr_assert_eq(sl_canary_binom_sf(0, 5, 0.5, &v), SL_OK);
    cr_assert_eq(v, 1);
    cr_assert_eq(sl_canary_binom_sf(5, 5, 0.5, &v), SL_OK);
    cr_assert_eq(v, 0.03125);
    cr_assert_eq(sl_canary_binom_cdf(0, 5, 0.5, &v), SL_OK);
    cr_assert_eq(v, 0.03125);
    cr_assert_eq(sl_canary_binom_cdf(5, 5, 0.5, &v), SL_OK);
    cr_assert_eq(v, 1);
    cr_assert_eq(sl_canary_binom_sf(1, 5, 0, &v), SL_OK);
    cr_assert_eq(v, 0);
    cr_assert_eq(sl_canary_binom_cdf(4, 5, 1, &v), SL_OK);
    cr_assert_eq(v, 0);
    cr_assert_eq(sl_canary_binom_test(1, 2, 0.5, &v), SL_OK);
    cr_assert_eq(v, 1);
    /* hypergeometric: 10 items, 4 marked, draw 8: at least 2 marked are always drawn, at most 4 */
    cr_assert_eq(sl_canary_hypergeom_sf(2, 10, 4, 8, &v), SL_OK);
    cr_assert_eq(v, 1);
    cr_assert_eq(sl_canary_hypergeom_sf(5, 10, 4, 8, &v), SL_OK);
    cr_assert_eq(v, 0);
    /* P(X = 4) = C(4,4) C(6,4) / C(10,8) = 15 / 45 */
    cr_assert_eq(sl_canary_hypergeom_sf(4, 10, 4, 8, &v), SL_OK);
    cr_assert_float_eq(v, 1.0 / 3.0, 1e-15);
}

Test(canary_tail, bad_arguments_leave_the_output_alone)
{
    double v = 42;
    cr_assert_eq(sl_canary_binom_sf(6, 5, 0.5, &v), SL_EINVAL);
    cr_assert_eq(sl_canary_binom_cdf(1, 5, 1.5, &v), SL_EINVAL);
    cr_assert_eq(sl_canary_binom_sf(1, 5, NAN, &v), SL_EINVAL);
    cr_assert_eq(sl_canary_binom_test(1, 0, 0.5, &v), SL_EINVAL);
    cr_assert_eq(sl_canary_binom_test(1, 5, 0, &v), SL_EINVAL);
    cr_assert_eq(sl_canary_binom_sf(1, 1ull << 53, 0.5, &v), SL_EINVAL);
    cr_assert_eq(sl_canary_hypergeom_sf(1, 10, 11, 2, &v), SL_EINVAL);
    cr_assert_eq(sl_canary_hypergeom_sf(1, 10, 2, 11, &v), SL_EINVAL);
    cr_assert_eq(v, 42);
}

Test(canary_tail, spending_sums_to_alpha)
{
    cr_assert_eq(sl_canary_spend(0.01, 0), 0);
    cr_assert_float_eq(sl_canary_spend(0.01, 1), 0.06 / (M_PI * M_PI), 1e-18);
    cr_assert_float_eq(sl_canary_spend(0.01, 10), 0.0006 / (M_PI * M_PI), 1e-18);
    double sum = 0;
    for (uint64_t k = 1; k <= 1000000; ++k)
        sum += sl_canary_spend(0.01, k);
    /* the tail beyond 10^6 is about alpha 6 / (pi^2 10^6) */
    cr_assert(sum < 0.01 && sum > 0.01 - 0.06 / (M_PI * M_PI) / 1e6 * 1.01, "sum %.17g", sum);
}
