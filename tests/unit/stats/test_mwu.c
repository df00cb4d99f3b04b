/*
 * test_mwu.c - Mann-Whitney U against scipy.stats.mannwhitneyu(method='asymptotic', use_continuity=True)
 * (tests/fixtures/stats/mwu.json): U exactly, p-value and effect size to relative 1e-9.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "common/status.h"
#include "stats/mwu.h"
#include "test_special_fixture.h"

static double *case_sample(const json_t *c, const char *side, size_t *n)
{
    json_t *gen = json_object_get(c, "gen");
    if (gen == NULL)
        return fx_doubles(json_object_get(c, side), n);
    char k[16];
    snprintf(k, sizeof(k), "n_%s", side);
    *n = (size_t)fx_get(gen, k);
    char ks[16], kc[16], kh[16];
    snprintf(ks, sizeof(ks), "seed_%s", side);
    snprintf(kc, sizeof(kc), "scale_%s", side);
    snprintf(kh, sizeof(kh), "shift_%s", side);
    return fx_gen((uint64_t)fx_get(gen, ks), *n, fx_get(gen, kc), fx_get(gen, kh));
}

Test(mwu, matches_scipy)
{
    json_t *root = fixture_load("mwu.json");
    size_t i;
    json_t *c;
    int seen = 0;
    json_array_foreach(json_object_get(root, "cases"), i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        size_t nx, ny;
        double *x = case_sample(c, "x", &nx), *y = case_sample(c, "y", &ny);
        sl_mwu_result_t r;
        cr_assert_eq(sl_mwu_test(x, nx, y, ny, &r), SL_OK, "%s", name);
        cr_assert_eq(r.status, SL_STAT_OK, "%s", name);
        cr_assert_eq(r.n_x, nx);
        cr_assert_eq(r.u_x, fx_get(c, "u"), "%s: U %.17g vs %.17g", name, r.u_x, fx_get(c, "u"));
        assert_close(r.p_value, fx_get(c, "p"), SL_FIXTURE_RTOL, name);
        assert_close(r.prob_superiority, fx_get(c, "ps"), 1e-14, name);
        cr_assert(r.p_value >= 0 && r.p_value <= 1);
        sl_free(x);
        sl_free(y);
        ++seen;
    }
    cr_assert_eq(seen, 19);
    json_decref(root);
}

Test(mwu, extreme_separation_reaches_1e_300)
{
    enum { M = 913 };
    static double x[M], y[M];
    for (int i = 0; i < M; ++i)
        x[i] = i, y[i] = M + i;
    sl_mwu_result_t r;
    cr_assert_eq(sl_mwu_test_sorted(x, M, y, M, &r), SL_OK);
    cr_assert_eq(r.u_x, 0.0);
    cr_assert_eq(r.prob_superiority, 0.0);
    cr_assert(r.p_value > 1e-300 && r.p_value < 1.4e-299, "%g", r.p_value); /* scipy: 1.2995699741350832e-299 */
    /* and the other way round: x entirely above y */
    cr_assert_eq(sl_mwu_test_sorted(y, M, x, M, &r), SL_OK);
    cr_assert_eq(r.prob_superiority, 1.0);
    cr_assert(r.p_value < 1.4e-299);
}

Test(mwu, empty_is_no_data_and_all_tied_is_no_evidence)
{
    double x[] = {1, 2, 3}, t[] = {4, 4, 4};
    sl_mwu_result_t r;
    memset(&r, 0x55, sizeof(r));
    cr_assert_eq(sl_mwu_test_sorted(x, 3, NULL, 0, &r), SL_OK);
    cr_assert_eq(r.status, SL_STAT_NO_DATA);
    cr_assert_eq(r.p_value, 0.0);
    cr_assert_eq(r.z, 0.0);
    cr_assert_eq(r.n_x, 3);
    cr_assert_eq(sl_mwu_test_sorted(t, 3, t, 2, &r), SL_OK);
    cr_assert_eq(r.status, SL_STAT_OK);
    cr_assert_eq(r.p_value, 1.0);
    cr_assert_eq(r.z, 0.0);
    cr_assert_eq(r.prob_superiority, 0.5);
}

Test(mwu, rejects_bad_input_and_leaves_output)
{
    double unsorted[] = {3, 1, 2}, withnan[] = {1, NAN}, ok[] = {1, 2};
    sl_mwu_result_t r;
    memset(&r, 0, sizeof(r));
    r.p_value = 0.125;
    cr_assert_eq(sl_mwu_test_sorted(unsorted, 3, ok, 2, &r), SL_EINVAL);
    cr_assert_eq(sl_mwu_test(withnan, 2, ok, 2, &r), SL_EINVAL);
    cr_assert_eq(sl_mwu_test_sorted(NULL, 2, ok, 2, &r), SL_EINVAL);
    cr_assert_eq(r.p_value, 0.125);
    /* the unsorted entry point sorts in place and agrees with the sorted one */
    cr_assert_eq(sl_mwu_test(unsorted, 3, ok, 2, &r), SL_OK);
    cr_assert_eq(unsorted[0], 1.0);
    cr_assert_eq(unsorted[2], 3.0);
    cr_assert_eq(r.u_x, 4.0); /* 2 > 1 (1), 3 > 1, 3 > 2 (2), 1 = 1 (0.5), 2 = 2 (0.5) */
}
