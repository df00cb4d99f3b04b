/*
 * test_chisq.c - chi-square goodness of fit and homogeneity against scipy.stats.chisquare and
 * scipy.stats.chi2_contingency(correction=False) (tests/fixtures/stats/chisq.json): statistic and p-value to
 * relative 1e-9, dof exactly; no-data and unseen-category cases as documented in stats/chisq.h.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "common/status.h"
#include "stats/chisq.h"
#include "test_special_fixture.h"

static void check(const json_t *c, const sl_chisq_result_t *r)
{
    const char *name = json_string_value(json_object_get(c, "name"));
    if (json_object_get(c, "no_data")) {
        cr_assert_eq(r->status, SL_STAT_NO_DATA, "%s", name);
        cr_assert_eq(r->statistic, 0.0, "%s", name);
        cr_assert_eq(r->p_value, 0.0, "%s", name);
        return;
    }
    cr_assert_eq(r->status, SL_STAT_OK, "%s", name);
    cr_assert_eq(r->dof, (uint32_t)fx_get(c, "dof"), "%s", name);
    assert_close(r->statistic, fx_get(c, "stat"), SL_FIXTURE_RTOL, name);
    assert_close(r->p_value, fx_get(c, "p"), SL_FIXTURE_RTOL, name);
    json_t *unseen = json_object_get(c, "unseen");
    cr_assert_eq(r->unseen, unseen ? fx_u64(unseen) : 0, "%s", name);
}

Test(chisq, goodness_of_fit_matches_scipy)
{
    json_t *root = fixture_load("chisq.json");
    size_t i, k, k2;
    json_t *c;
    int seen = 0;
    json_array_foreach(json_object_get(root, "gof"), i, c)
    {
        uint64_t *obs = fx_counts(json_object_get(c, "obs"), &k);
        double *prop = fx_doubles(json_object_get(c, "prop"), &k2);
        cr_assert_eq(k, k2);
        sl_chisq_result_t r;
        cr_assert_eq(sl_chisq_gof(obs, prop, k, &r), SL_OK);
        check(c, &r);
        sl_free(obs);
        sl_free(prop);
        ++seen;
    }
    cr_assert_eq(seen, 21);
    json_decref(root);
}

Test(chisq, homogeneity_matches_scipy)
{
    json_t *root = fixture_load("chisq.json");
    size_t i, k, k2;
    json_t *c;
    int seen = 0;
    json_array_foreach(json_object_get(root, "homogeneity"), i, c)
    {
        uint64_t *a = fx_counts(json_object_get(c, "a"), &k), *b = fx_counts(json_object_get(c, "b"), &k2);
        cr_assert_eq(k, k2);
        sl_chisq_result_t r;
        cr_assert_eq(sl_chisq_homogeneity(a, b, k, &r), SL_OK);
        check(c, &r);
        sl_free(a);
        sl_free(b);
        ++seen;
    }
    cr_assert_eq(seen, 16);
    json_decref(root);
}

Test(chisq, validation_leaves_output_untouched)
{
    uint64_t obs[] = {1, 2, 3};
    double neg[] = {0.5, -0.1, 0.6}, zero[] = {0, 0, 0}, nan[] = {0.2, NAN, 0.8};
    sl_chisq_result_t r;
    memset(&r, 0, sizeof(r));
    r.p_value = 0.625;
    cr_assert_eq(sl_chisq_gof(obs, neg, 3, &r), SL_EINVAL);
    cr_assert_eq(sl_chisq_gof(obs, zero, 3, &r), SL_EINVAL);
    cr_assert_eq(sl_chisq_gof(obs, nan, 3, &r), SL_EINVAL);
    cr_assert_eq(sl_chisq_gof(obs, NULL, 3, &r), SL_EINVAL);
    cr_assert_eq(sl_chisq_homogeneity(obs, obs, 0, &r), SL_EINVAL);
    uint64_t huge[] = {1ull << 60, 1};
    double half[] = {0.5, 0.5};
    cr_assert_eq(sl_chisq_gof(huge, half, 2, &r), SL_EINVAL);
    cr_assert_eq(r.p_value, 0.625);
}

Test(chisq, perfect_fit_is_zero_statistic_p_one)
{
    uint64_t obs[] = {25, 25, 50};
    double prop[] = {1, 1, 2};
    sl_chisq_result_t r;
    cr_assert_eq(sl_chisq_gof(obs, prop, 3, &r), SL_OK);
    cr_assert_eq(r.statistic, 0.0);
    cr_assert_eq(r.p_value, 1.0);
    cr_assert_eq(r.dof, 2);
    cr_assert_eq(r.n, 100);
}
