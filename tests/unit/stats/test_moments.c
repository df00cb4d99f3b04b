/*
 * test_moments.c - Welford moments and the Chan merge against numpy over the concatenated data
 * (tests/fixtures/stats/moments.json), relative 1e-9; merges of shards of 1e12 observations against closed forms.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "common/status.h"
#include "stats/moments.h"
#include "test_special_fixture.h"

Test(moments, shards_merge_to_numpy)
{
    json_t *root = fixture_load("moments.json");
    size_t i, j, n;
    json_t *c, *shard;
    int seen = 0;
    json_array_foreach(json_object_get(root, "cases"), i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        sl_moments_t total;
        sl_moments_init(&total);
        json_array_foreach(json_object_get(c, "shards"), j, shard)
        {
            double *v = fx_doubles(shard, &n);
            sl_moments_t m;
            sl_moments_init(&m);
            for (size_t t = 0; t != n; ++t)
                cr_assert_eq(sl_moments_observe(&m, v[t]), SL_OK);
            sl_moments_merge(&total, &m);
            sl_free(v);
        }
        double mean, vp, vs, mn, mx;
        enum en_sl_stat_status_t st = sl_moments_read(&total, &mean, &vp, &vs, &mn, &mx);
        if (json_object_get(c, "no_data")) {
            cr_assert_eq(st, SL_STAT_NO_DATA, "%s", name);
            cr_assert_eq(mean, 0.0);
            cr_assert_eq(vp, 0.0);
            continue;
        }
        cr_assert_eq(st, SL_STAT_OK, "%s", name);
        cr_assert_eq(total.n, fx_u64(json_object_get(c, "n")), "%s", name);
        assert_close(mean, fx_get(c, "mean"), SL_FIXTURE_RTOL, name);
        if (fx_get(c, "var_pop") == 0) {
            cr_assert(vp < 1e-25 && vs < 1e-25, "%s: %g", name, vp);
        } else {
            assert_close(vp, fx_get(c, "var_pop"), SL_FIXTURE_RTOL, name);
            assert_close(vs, fx_get(c, "var_sample"), SL_FIXTURE_RTOL, name);
        }
        cr_assert_eq(mn, fx_get(c, "min"), "%s", name);
        cr_assert_eq(mx, fx_get(c, "max"), "%s", name);
        ++seen;
    }
    cr_assert_eq(seen, 7);
    json_decref(root);
}

Test(moments, huge_counts_merge)
{
    /* two shards of 1e12 observations: means 1 and 3, population variances 4 and 9 */
    sl_moments_t a = {.n = 1000000000000ull, .shift = 0.5, .mean = 0.5, .m2 = 4e12, .min = -5, .max = 7};
    sl_moments_t b = {.n = 1000000000000ull, .shift = 4, .mean = -1, .m2 = 9e12, .min = -2, .max = 11};
    sl_moments_merge(&a, &b);
    double mean, vp, vs, mn, mx;
    cr_assert_eq(sl_moments_read(&a, &mean, &vp, &vs, &mn, &mx), SL_STAT_OK);
    cr_assert_eq(a.n, 2000000000000ull);
    assert_close(mean, 2.0, 1e-15, "mean");
    assert_close(vp, 7.5, 1e-15, "var"); /* (4 + 9)/2 + (1 - 3)^2 / 4 */
    assert_close(vs, 7.5 * 2e12 / (2e12 - 1), 1e-15, "sample var");
    cr_assert_eq(mn, -5.0);
    cr_assert_eq(mx, 11.0);
}

Test(moments, rejects_non_finite_and_reads_small)
{
    sl_moments_t m;
    sl_moments_init(&m);
    cr_assert_eq(sl_moments_observe(&m, NAN), SL_EINVAL);
    cr_assert_eq(sl_moments_observe(&m, INFINITY), SL_EINVAL);
    cr_assert_eq(m.n, 0);
    double mean = 9, vs = 9;
    cr_assert_eq(sl_moments_read(&m, &mean, NULL, &vs, NULL, NULL), SL_STAT_NO_DATA);
    cr_assert_eq(mean, 0.0);
    cr_assert_eq(vs, 0.0);
    cr_assert_eq(sl_moments_observe(&m, 5), SL_OK);
    cr_assert_eq(sl_moments_read(&m, &mean, NULL, &vs, NULL, NULL), SL_STAT_OK);
    cr_assert_eq(mean, 5.0);
    cr_assert_eq(vs, 0.0); /* one value: no spread */
    sl_moments_t empty;
    sl_moments_init(&empty);
    sl_moments_merge(&m, &empty);
    cr_assert_eq(m.n, 1);
    sl_moments_merge(&empty, &m);
    cr_assert_eq(empty.n, 1);
    cr_assert_eq(empty.shift + empty.mean, 5.0);
}
