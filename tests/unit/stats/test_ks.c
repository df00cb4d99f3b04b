/*
 * test_ks.c - two-sample Kolmogorov-Smirnov against scipy.stats.ks_2samp(method='auto') and, for the exact null
 * tail, against exact rational path counts (tests/fixtures/stats/ks.json).
 * Tolerances: D relative 1e-12; p-values relative 1e-9 against the exact rational value wherever the fixture has
 * it, and relative 1e-9 against scipy otherwise.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "common/status.h"
#include "stats/ks.h"
#include "test_special_fixture.h"

static double *case_sample(const json_t *c, const char *side, size_t *n)
{
    json_t *gen = json_object_get(c, "gen");
    if (gen == NULL)
        return fx_doubles(json_object_get(c, side), n);
    char kn[16], ks[16], kc[16], kh[16];
    snprintf(kn, sizeof(kn), "n_%s", side);
    snprintf(ks, sizeof(ks), "seed_%s", side);
    snprintf(kc, sizeof(kc), "scale_%s", side);
    snprintf(kh, sizeof(kh), "shift_%s", side);
    *n = (size_t)fx_get(gen, kn);
    return fx_gen((uint64_t)fx_get(gen, ks), *n, fx_get(gen, kc), fx_get(gen, kh));
}

Test(ks, matches_scipy)
{
    json_t *root = fixture_load("ks.json");
    size_t i;
    json_t *c;
    int seen = 0, asymptotic = 0;
    json_array_foreach(json_object_get(root, "cases"), i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        size_t nx, ny;
        double *x = case_sample(c, "x", &nx), *y = case_sample(c, "y", &ny);
        sl_ks_result_t r;
        cr_assert_eq(sl_ks_test(x, nx, y, ny, &r), SL_OK, "%s", name);
        cr_assert_eq(r.status, SL_STAT_OK);
        int asymp = strcmp(json_string_value(json_object_get(c, "method")), "asymp") == 0;
        cr_assert_eq(r.method, asymp ? SL_KS_ASYMPTOTIC : SL_KS_EXACT, "%s", name);
        asymptotic += asymp;
        assert_close(r.statistic, fx_get(c, "d"), 1e-12, name);
        json_t *exact = json_object_get(c, "p_exact");
        assert_close(r.p_value, exact ? fx_num(exact) : fx_get(c, "p"), SL_FIXTURE_RTOL, name);
        sl_free(x);
        sl_free(y);
        ++seen;
    }
    cr_assert_eq(seen, 31);
    cr_assert_eq(asymptotic, 7);
    json_decref(root);
}

Test(ks, exact_tail_matches_rational_counts_and_scipy)
{
    json_t *root = fixture_load("ks.json");
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(root, "exact_sf"), i, row)
    {
        uint64_t n1 = fx_u64(json_array_get(row, 0)), n2 = fx_u64(json_array_get(row, 1));
        uint64_t h = fx_u64(json_array_get(row, 2));
        double p, p2;
        char what[80];
        snprintf(what, sizeof(what), "n1=%lu n2=%lu h=%lu", (unsigned long)n1, (unsigned long)n2, (unsigned long)h);
        cr_assert_eq(sl_ks_exact_sf(n1, n2, h, &p), SL_OK);
        assert_close(p, fx_at(row, 4), SL_FIXTURE_RTOL, what);
        if (!json_is_null(json_array_get(row, 3)))
            assert_close(p, fx_at(row, 3), SL_FIXTURE_RTOL, what);
        cr_assert_eq(sl_ks_exact_sf(n2, n1, h, &p2), SL_OK); /* symmetric in the sizes */
        assert_close(p2, p, 1e-13, what);
    }
    json_decref(root);
}

Test(ks, no_data_ranges_and_validation)
{
    double x[] = {1, 2, 3}, bad[] = {2, 1};
    sl_ks_result_t r;
    memset(&r, 0x55, sizeof(r));
    cr_assert_eq(sl_ks_test_sorted(x, 3, NULL, 0, &r), SL_OK);
    cr_assert_eq(r.status, SL_STAT_NO_DATA);
    cr_assert_eq(r.statistic, 0.0);
    cr_assert_eq(r.p_value, 0.0);
    r.p_value = 0.375;
    cr_assert_eq(sl_ks_test_sorted(bad, 2, x, 3, &r), SL_EINVAL);
    cr_assert_eq(r.p_value, 0.375);
    double p = 0.5;
    cr_assert_eq(sl_ks_exact_sf(3, 4, 13, &p), SL_EINVAL); /* h above lcm = 12 */
    cr_assert_eq(sl_ks_exact_sf(0, 4, 1, &p), SL_EINVAL);
    cr_assert_eq(p, 0.5);
    /* complete separation of two samples of 3: 2 / C(6, 3) = 0.1 */
    cr_assert_eq(sl_ks_exact_sf(3, 3, 3, &p), SL_OK);
    assert_close(p, 0.1, 1e-15, "3x3 separated");
    /* complete separation of 3 and 4: the two extreme interleavings of C(7, 3) = 35 */
    cr_assert_eq(sl_ks_exact_sf(3, 4, 12, &p), SL_OK);
    assert_close(p, 2.0 / 35, 1e-15, "3x4 separated");
}

Test(ks, tiny_p_values_keep_relative_accuracy)
{
    /* complete separation of 400 and 300: 2 / C(700, 300) = 1.6e-206 */
    double p;
    cr_assert_eq(sl_ks_exact_sf(400, 300, 1200, &p), SL_OK);
    double want = 2 * exp(lgamma(301) + lgamma(401) - lgamma(701));
    assert_close(p, want, 1e-9, "2/C(700,300)");
}
