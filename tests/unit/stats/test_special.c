/*
 * test_special.c - special functions against scipy (tests/fixtures/stats/special.json), relative 1e-9.
 */
#include <criterion/criterion.h>

#include "common/status.h"
#include "stats/special.h"
#include "test_special_fixture.h"

Test(special, normal_tails_match_scipy)
{
    json_t *root = fixture_load("special.json"), *rows = json_object_get(root, "norm");
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        double z = fx_at(row, 0), cdf, sf;
        char what[64];
        snprintf(what, sizeof(what), "z=%g", z);
        cr_assert_eq(sl_special_norm_cdf(z, &cdf), SL_OK);
        cr_assert_eq(sl_special_norm_sf(z, &sf), SL_OK);
        assert_close(cdf, fx_at(row, 1), SL_FIXTURE_RTOL, what);
        assert_close(sf, fx_at(row, 2), SL_FIXTURE_RTOL, what);
    }
    json_decref(root);
}

Test(special, far_tail_keeps_relative_accuracy)
{
    double sf;
    sl_special_norm_sf(37.5, &sf);
    cr_assert(sf > 4.6e-308 && sf < 4.7e-308, "%g", sf); /* 4.605353e-308, not 0 */
    sl_special_norm_sf(-INFINITY, &sf);
    cr_assert_eq(sf, 1.0);
    sl_special_norm_sf(INFINITY, &sf);
    cr_assert_eq(sf, 0.0);
    cr_assert_eq(sl_special_norm_sf(NAN, &sf), SL_EINVAL);
}

Test(special, chi2_and_gamma_match_scipy)
{
    json_t *root = fixture_load("special.json");
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(root, "chi2_sf"), i, row)
    {
        double x = fx_at(row, 0), dof = fx_at(row, 1), p;
        char what[96];
        snprintf(what, sizeof(what), "chi2 x=%.17g dof=%g", x, dof);
        cr_assert_eq(sl_special_chi2_sf(x, dof, &p), SL_OK);
        assert_close(p, fx_at(row, 2), SL_FIXTURE_RTOL, what);
    }
    json_array_foreach(json_object_get(root, "gamma"), i, row)
    {
        double a = fx_at(row, 0), x = fx_at(row, 1), p, q;
        char what[96];
        snprintf(what, sizeof(what), "gamma a=%g x=%.17g", a, x);
        cr_assert_eq(sl_special_gamma_p(a, x, &p), SL_OK);
        cr_assert_eq(sl_special_gamma_q(a, x, &q), SL_OK);
        assert_close(p, fx_at(row, 2), SL_FIXTURE_RTOL, what);
        assert_close(q, fx_at(row, 3), SL_FIXTURE_RTOL, what);
    }
    json_decref(root);
}

Test(special, chi2_edges)
{
    double p;
    cr_assert_eq(sl_special_chi2_sf(0, 3, &p), SL_OK);
    cr_assert_eq(p, 1.0);
    cr_assert_eq(sl_special_chi2_sf(-1, 3, &p), SL_OK);
    cr_assert_eq(p, 1.0);
    cr_assert_eq(sl_special_chi2_sf(1e6, 1, &p), SL_OK);
    cr_assert_eq(p, 0.0); /* underflow is an exact 0 */
    cr_assert_eq(sl_special_chi2_sf(INFINITY, 2, &p), SL_OK);
    cr_assert_eq(p, 0.0);
    p = 0.5;
    cr_assert_eq(sl_special_chi2_sf(1, 0, &p), SL_EINVAL);
    cr_assert_eq(sl_special_chi2_sf(NAN, 2, &p), SL_EINVAL);
    cr_assert_eq(sl_special_gamma_q(-1, 2, &p), SL_EINVAL);
    cr_assert_eq(sl_special_gamma_q(1, -2, &p), SL_EINVAL);
    cr_assert_eq(p, 0.5); /* untouched on failure */
    /* chi2 with 2 dof is exp(-x/2) exactly */
    cr_assert_eq(sl_special_chi2_sf(1380, 2, &p), SL_OK);
    assert_close(p, exp(-690.0), 1e-13, "chi2(2) closed form");
}

Test(special, kolmogorov_family_matches_scipy)
{
    json_t *root = fixture_load("special.json");
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(root, "kolmogorov_sf"), i, row)
    {
        double y = fx_at(row, 0), p;
        char what[64];
        snprintf(what, sizeof(what), "kolmogorov y=%g", y);
        cr_assert_eq(sl_special_kolmogorov_sf(y, &p), SL_OK);
        assert_close(p, fx_at(row, 1), SL_FIXTURE_RTOL, what);
    }
    json_array_foreach(json_object_get(root, "smirnov_sf"), i, row)
    {
        uint64_t n = fx_u64(json_array_get(row, 0));
        double d = fx_at(row, 1), p;
        char what[64];
        snprintf(what, sizeof(what), "smirnov n=%lu d=%.17g", (unsigned long)n, d);
        cr_assert_eq(sl_special_smirnov_sf(n, d, &p), SL_OK);
        assert_close(p, fx_at(row, 2), SL_FIXTURE_RTOL, what);
    }
    json_array_foreach(json_object_get(root, "kstwo_sf"), i, row)
    {
        uint64_t n = fx_u64(json_array_get(row, 0));
        double d = fx_at(row, 1), p;
        char what[64];
        snprintf(what, sizeof(what), "kstwo n=%lu d=%.17g", (unsigned long)n, d);
        cr_assert_eq(sl_special_kstwo_sf(n, d, &p), SL_OK);
        assert_close(p, fx_at(row, 2), SL_FIXTURE_RTOL, what);
    }
    json_decref(root);
}

Test(special, kolmogorov_family_validates)
{
    double p = 0.25;
    cr_assert_eq(sl_special_kstwo_sf(0, 0.5, &p), SL_EINVAL);
    cr_assert_eq(sl_special_kstwo_sf(10, 1.5, &p), SL_EINVAL);
    cr_assert_eq(sl_special_smirnov_sf(10, NAN, &p), SL_EINVAL);
    cr_assert_eq(sl_special_kolmogorov_sf(NAN, &p), SL_EINVAL);
    cr_assert_eq(p, 0.25);
    cr_assert_eq(sl_special_kstwo_sf(10, 0, &p), SL_OK);
    cr_assert_eq(p, 1.0);
    cr_assert_eq(sl_special_kstwo_sf(10, 1, &p), SL_OK);
    cr_assert_eq(p, 0.0);
}

Test(special, loader_building_blocks)
{
    /* stirlerr(n) = log(n!) - log(sqrt(2 pi n) (n/e)^n): against lgamma where the cancellation is mild */
    for (double n = 1; n < 40; n += 1) {
        double want = lgamma(n + 1) - (n + 0.5) * log(n) + n - 0.5 * log(2 * M_PI);
        cr_assert(fabs(sl_special_stirlerr(n) - want) < 1e-13, "n=%g", n);
    }
    /* bd0(x, m) = x log(x/m) + m - x, including the series branch */
    cr_assert(fabs(sl_special_bd0(10, 20) - (10 * log(0.5) + 10)) < 1e-13);
    double x = 1000, m = 1001, want = x * log1p(-1 / m) + 1; /* x log(x/m) + m - x with log1p for reference */
    cr_assert(fabs(sl_special_bd0(x, m) - want) < 1e-15, "%.17g vs %.17g", sl_special_bd0(x, m), want);
    cr_assert_eq(sl_special_bd0(5, 5), 0.0);
}
