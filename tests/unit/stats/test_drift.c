/*
 * test_drift.c - reference-quantile bins, PSI and Jensen-Shannon distance against numpy/scipy
 * (tests/fixtures/stats/drift.json): bin edges bit for bit, bin counts exactly, PSI and JS to relative 1e-9.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "common/status.h"
#include "stats/drift.h"
#include "test_special_fixture.h"

static void check_measures(const json_t *c, const uint64_t *ref, const uint64_t *cur, size_t k)
{
    const char *name = json_string_value(json_object_get(c, "name"));
    sl_drift_result_t psi, js;
    cr_assert_eq(sl_drift_psi(ref, cur, k, SL_DRIFT_PSI_EPSILON, &psi), SL_OK, "%s", name);
    cr_assert_eq(sl_drift_js(ref, cur, k, &js), SL_OK, "%s", name);
    if (json_object_get(c, "no_data")) {
        cr_assert_eq(psi.status, SL_STAT_NO_DATA, "%s", name);
        cr_assert_eq(js.status, SL_STAT_NO_DATA, "%s", name);
        cr_assert_eq(psi.value, 0.0);
        cr_assert_eq(js.value, 0.0);
        return;
    }
    cr_assert_eq(psi.status, SL_STAT_OK, "%s", name);
    cr_assert_eq(js.status, SL_STAT_OK, "%s", name);
    double want_psi = fx_get(c, "psi"), want_js = fx_get(c, "js");
    char what[96];
    snprintf(what, sizeof(what), "%s psi", name);
    if (want_psi < 1e-300)
        cr_assert_eq(psi.value, 0.0, "%s", what);
    else
        assert_close(psi.value, want_psi, SL_FIXTURE_RTOL, what);
    snprintf(what, sizeof(what), "%s js", name);
    if (want_js < 1e-300)
        cr_assert_eq(js.value, 0.0, "%s", what);
    else
        assert_close(js.value, want_js, SL_FIXTURE_RTOL, what);
}

Test(drift, numeric_bins_psi_js_match_numpy_scipy)
{
    json_t *root = fixture_load("drift.json");
    cr_assert_eq(fx_get(root, "eps"), SL_DRIFT_PSI_EPSILON);
    size_t i, n_ref, n_cur, n_edges, k;
    json_t *c;
    int seen = 0;
    json_array_foreach(json_object_get(root, "numeric"), i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        uint32_t bins = (uint32_t)fx_get(c, "k");
        double *ref = fx_doubles(json_object_get(c, "ref"), &n_ref);
        double *cur = fx_doubles(json_object_get(c, "cur"), &n_cur);
        double *want_edges = fx_doubles(json_object_get(c, "edges"), &n_edges);
        uint64_t *want_rc = fx_counts(json_object_get(c, "ref_counts"), &k);
        uint64_t *want_cc = fx_counts(json_object_get(c, "cur_counts"), &k);
        cr_assert_eq(n_edges, bins - 1);
        double edges[SL_DRIFT_MAX_BINS];
        cr_assert_eq(sl_drift_edges(ref, n_ref, bins, edges), SL_OK, "%s", name);
        for (size_t e = 0; e + 1 < bins; ++e)
            cr_assert_eq(edges[e], want_edges[e], "%s edge %zu: %.17g vs %.17g", name, e, edges[e], want_edges[e]);
        uint64_t rc[SL_DRIFT_MAX_BINS] = {0}, cc[SL_DRIFT_MAX_BINS] = {0};
        for (size_t j = 0; j != n_ref; ++j) {
            uint32_t b;
            cr_assert_eq(sl_drift_bin(edges, bins, ref[j], &b), SL_OK);
            rc[b]++;
        }
        for (size_t j = 0; j != n_cur; ++j) {
            uint32_t b;
            cr_assert_eq(sl_drift_bin(edges, bins, cur[j], &b), SL_OK);
            cc[b]++;
        }
        for (size_t b = 0; b != bins; ++b) {
            cr_assert_eq(rc[b], want_rc[b], "%s ref bin %zu", name, b);
            cr_assert_eq(cc[b], want_cc[b], "%s cur bin %zu", name, b);
        }
        check_measures(c, rc, cc, bins);
        sl_free(ref);
        sl_free(cur);
        sl_free(want_edges);
        sl_free(want_rc);
        sl_free(want_cc);
        ++seen;
    }
    cr_assert_eq(seen, 13);
    json_decref(root);
}

Test(drift, categorical_psi_js_match_numpy_scipy)
{
    json_t *root = fixture_load("drift.json");
    size_t i, k, k2;
    json_t *c;
    int seen = 0;
    json_array_foreach(json_object_get(root, "categorical"), i, c)
    {
        uint64_t *ref = fx_counts(json_object_get(c, "ref"), &k), *cur = fx_counts(json_object_get(c, "cur"), &k2);
        cr_assert_eq(k, k2);
        check_measures(c, ref, cur, k);
        sl_free(ref);
        sl_free(cur);
        ++seen;
    }
    cr_assert_eq(seen, 12);
    json_decref(root);
}

Test(drift, bounds_and_identities)
{
    uint64_t a[] = {10, 0}, b[] = {0, 10}, c[] = {5, 5};
    sl_drift_result_t r;
    cr_assert_eq(sl_drift_js(a, b, 2, &r), SL_OK);
    cr_assert_eq(r.value, 1.0); /* disjoint supports */
    cr_assert_eq(sl_drift_js(c, c, 2, &r), SL_OK);
    cr_assert_eq(r.value, 0.0);
    cr_assert_eq(sl_drift_psi(c, c, 2, SL_DRIFT_PSI_EPSILON, &r), SL_OK);
    cr_assert_eq(r.value, 0.0);
    /* PSI of disjoint bins is finite thanks to eps: 2 (1 - 2e-4)/(1 + 2e-4) ln((1 + 1e-4)/1e-4) */
    cr_assert_eq(sl_drift_psi(a, b, 2, SL_DRIFT_PSI_EPSILON, &r), SL_OK);
    double hi = (1 + 1e-4) / (1 + 2e-4), lo = 1e-4 / (1 + 2e-4);
    assert_close(r.value, 2 * (hi - lo) * log(hi / lo), 1e-13, "disjoint psi");
}

Test(drift, validation)
{
    double sorted[] = {1, 2, 3}, unsorted[] = {2, 1}, withinf[] = {1, INFINITY}, edges[9] = {0};
    edges[0] = 42;
    cr_assert_eq(sl_drift_edges(unsorted, 2, 10, edges), SL_EINVAL);
    cr_assert_eq(sl_drift_edges(withinf, 2, 10, edges), SL_EINVAL);
    cr_assert_eq(sl_drift_edges(sorted, 0, 10, edges), SL_EINVAL);
    cr_assert_eq(sl_drift_edges(sorted, 3, 1, edges), SL_EINVAL);
    cr_assert_eq(sl_drift_edges(sorted, 3, SL_DRIFT_MAX_BINS + 1, edges), SL_EINVAL);
    cr_assert_eq(edges[0], 42.0);
    uint32_t bin = 7;
    cr_assert_eq(sl_drift_bin(edges, 10, NAN, &bin), SL_EINVAL);
    cr_assert_eq(bin, 7);
    uint64_t x[] = {1, 2};
    sl_drift_result_t r;
    cr_assert_eq(sl_drift_psi(x, x, 2, 0, &r), SL_EINVAL);
    cr_assert_eq(sl_drift_psi(x, x, 2, 0.5, &r), SL_EINVAL);
    cr_assert_eq(sl_drift_js(NULL, x, 2, &r), SL_EINVAL);
    double prop[2];
    cr_assert_eq(sl_drift_smooth(x, 2, 1e-4, prop), SL_OK);
    assert_close(prop[0], (1.0 / 3 + 1e-4) / (1 + 2e-4), 1e-15, "smooth");
    assert_close(prop[0] + prop[1], 1.0, 1e-15, "smooth sums to 1");
    uint64_t none[] = {0, 0};
    cr_assert_eq(sl_drift_smooth(none, 2, 1e-4, prop), SL_EINVAL);
}
