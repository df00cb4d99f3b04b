/*
 * test_monitor_measure.c - the measures of one value (policies/monitor_measure.c) against numpy/scipy
 * (tests/fixtures/monitor/measures.json): PSI, JS, binned KS statistic and p-value, chi-square on the smoothed
 * reference, ratios, to 1e-9; and the state machine with its hysteresis on designed sequences.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "policies/monitor.h"
#include "test_monitor_fixture.h"

static sl_conf_monitor_thresholds_t defaults(void)
{
    sl_conf_monitor_thresholds_t t;
    memset(&t, 0, sizeof(t));
    t.psi_warn = 0.1;
    t.psi_alert = 0.25;
    t.hysteresis = 0.2;
    return t;
}

/* p-values are compared relatively: they span 300 orders of magnitude. */
static void p_close(double got, double want, const char *what)
{
    if (want < 1e-300) {
        cr_assert(got < 1e-300, "%s: got %g, want %g", what, got, want);
        return;
    }
    cr_assert(fabs(got - want) <= 1e-9 * want, "%s: got %.17g, want %.17g", what, got, want);
}

Test(monitor_measure, fixture_cases_match_numpy_scipy)
{
    json_t *root = mon_fixture("measures.json");
    cr_assert_eq(mon_num(root, "eps"), 1e-4);
    sl_conf_monitor_thresholds_t t = defaults();
    size_t i, seen = 0;
    json_t *c;
    json_array_foreach(json_object_get(root, "cases"), i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        int cat = strcmp(json_string_value(json_object_get(c, "type")), "categorical") == 0;
        uint64_t ref[SL_CONF_MAX_CATEGORIES + 1], cur[SL_CONF_MAX_CATEGORIES + 1];
        size_t k = mon_counts(json_object_get(c, "ref"), ref, SL_CONF_MAX_CATEGORIES + 1);
        cr_assert_eq(mon_counts(json_object_get(c, "cur"), cur, SL_CONF_MAX_CATEGORIES + 1), k);
        sl_monitor_measures_t m;
        cr_assert_eq(sl_monitor_measure(cat ? SL_MONITOR_CATEGORICAL : SL_MONITOR_NUMERIC, ref, cur, k,
                                        (uint64_t)mon_num(c, "nulls"), (uint64_t)mon_num(c, "type_errors"),
                                        (uint32_t)mon_num(c, "min_samples"), &t, SL_MONITOR_STATE_NO_DATA, &m),
                     SL_OK, "%s", name);
        json_t *e = json_object_get(c, "expect");
        char what[128];
        cr_assert_eq(m.n_ref, (uint64_t)mon_num(e, "n_ref"), "%s", name);
        cr_assert_eq(m.n_cur, (uint64_t)mon_num(e, "n_cur"), "%s", name);
        cr_assert_eq(m.has_ratios, json_object_get(e, "null_ratio") != NULL, "%s ratios", name);
        if (m.has_ratios) {
            snprintf(what, sizeof(what), "%s null_ratio", name);
            mon_close(m.null_ratio, mon_num(e, "null_ratio"), what);
            snprintf(what, sizeof(what), "%s type_error_ratio", name);
            mon_close(m.type_error_ratio, mon_num(e, "type_error_ratio"), what);
        }
        cr_assert_eq(m.has_drift, json_object_get(e, "psi") != NULL, "%s drift", name);
        if (m.has_drift) {
            snprintf(what, sizeof(what), "%s psi", name);
            mon_close(m.psi, mon_num(e, "psi"), what);
            snprintf(what, sizeof(what), "%s js", name);
            mon_close(m.js, mon_num(e, "js"), what);
        }
        cr_assert_eq(m.has_ks, json_object_get(e, "ks_statistic") != NULL, "%s ks", name);
        if (m.has_ks) {
            snprintf(what, sizeof(what), "%s ks_statistic", name);
            mon_close(m.ks_statistic, mon_num(e, "ks_statistic"), what);
            snprintf(what, sizeof(what), "%s ks_pvalue", name);
            p_close(m.ks_pvalue, mon_num(e, "ks_pvalue"), what);
        }
        cr_assert_eq(m.has_chi2, json_object_get(e, "chi2_statistic") != NULL, "%s chi2", name);
        if (m.has_chi2) {
            snprintf(what, sizeof(what), "%s chi2_statistic", name);
            cr_assert(fabs(m.chi2_statistic - mon_num(e, "chi2_statistic")) <= 1e-9 * mon_num(e, "chi2_statistic") + 1e-15,
                      "%s: %.17g vs %.17g", what, m.chi2_statistic, mon_num(e, "chi2_statistic"));
            snprintf(what, sizeof(what), "%s chi2_pvalue", name);
            p_close(m.chi2_pvalue, mon_num(e, "chi2_pvalue"), what);
            cr_assert_eq(m.chi2_dof, (uint32_t)mon_num(e, "chi2_dof"), "%s", name);
        }
        ++seen;
    }
    cr_assert_geq(seen, 18);
    json_decref(root);
}

Test(monitor_measure, ks_binned_edges)
{
    uint64_t ref[4] = {10, 10, 10, 10}, cur[4] = {0, 0, 0, 0}, one[1] = {5};
    double d, p;
    int has;
    cr_assert_eq(sl_monitor_ks_binned(ref, cur, 4, &d, &p, &has), SL_OK);
    cr_assert_eq(has, 0);
    cr_assert_eq(d, 0);
    cr_assert_eq(p, 1);
    cr_assert_eq(sl_monitor_ks_binned(ref, cur, 0, &d, &p, &has), SL_EINVAL);
    cur[3] = 40; /* everything in the last bin: the largest gap is at the last inner edge, 3/4 */
    cr_assert_eq(sl_monitor_ks_binned(ref, cur, 4, &d, &p, &has), SL_OK);
    cr_assert_eq(has, 1);
    cr_assert_eq(d, 0.75);
    cr_assert(p < 1e-9);
    cr_assert_eq(sl_monitor_ks_binned(one, one, 1, &d, &p, &has), SL_OK); /* one bin: no inner edge, no gap */
    cr_assert_eq(d, 0);
    cr_assert_eq(p, 1);
}

typedef struct st_step_t {
    uint64_t values, nulls;
    enum en_sl_monitor_state_t want;
} step_t;

/* Null ratio thresholds 20% / 50% with 20% hysteresis: a warning holds down to 16%, an alert down to 40%. */
Test(monitor_measure, state_hysteresis_on_null_ratio)
{
    sl_conf_monitor_thresholds_t t = defaults();
    t.null_ratio_warn = 0.2;
    t.null_ratio_alert = 0.5;
    static const step_t steps[] = {
        {90, 10, SL_MONITOR_STATE_OK},    {75, 25, SL_MONITOR_STATE_WARN},    {82, 18, SL_MONITOR_STATE_WARN},
        {85, 15, SL_MONITOR_STATE_OK},    {45, 55, SL_MONITOR_STATE_ALERT},   {55, 45, SL_MONITOR_STATE_ALERT},
        {60, 40, SL_MONITOR_STATE_ALERT}, {61, 39, SL_MONITOR_STATE_WARN},    {45, 55, SL_MONITOR_STATE_ALERT},
        {83, 17, SL_MONITOR_STATE_WARN},  {30, 20, SL_MONITOR_STATE_NO_DATA}, {84, 16, SL_MONITOR_STATE_OK},
        {45, 55, SL_MONITOR_STATE_ALERT}, {90, 10, SL_MONITOR_STATE_OK},
    };
    enum en_sl_monitor_state_t prev = SL_MONITOR_STATE_NO_DATA;
    uint64_t ref[2] = {0, 0};
    for (size_t i = 0; i != sizeof(steps) / sizeof(steps[0]); ++i) {
        uint64_t cur[2] = {steps[i].values, 0};
        sl_monitor_measures_t m;
        cr_assert_eq(sl_monitor_measure(SL_MONITOR_CATEGORICAL, ref, cur, 2, steps[i].nulls, 0, 100, &t, prev, &m), SL_OK);
        cr_assert_eq(m.state, steps[i].want, "step %zu: state %s, want %s", i, sl_monitor_state_name(m.state),
                     sl_monitor_state_name(steps[i].want));
        cr_assert_eq(m.has_drift, 0, "no reference: no drift measures");
        cr_assert_eq(m.reasons, m.state >= SL_MONITOR_STATE_WARN ? SL_MONITOR_REASON_NULL : 0u, "step %zu", i);
        prev = m.state;
    }
}

/* A p-value alert holds while p stays below threshold x (1 + hysteresis). */
Test(monitor_measure, state_on_ks_pvalue_and_psi)
{
    sl_conf_monitor_thresholds_t t = defaults();
    t.psi_warn = t.psi_alert = 0; /* only the p-value decides */
    t.ks_pvalue = 0.05;
    uint64_t ref[2] = {500, 500};
    sl_monitor_measures_t m;
    /* m = round(1000 x 1000 / 2000) = 500. cur 561/439: D = 0.061, p = 0.0464 (alert); 560/440: D = 0.06,
     * p = 0.0524, above 0.05 but below 0.06 (held); 558/442: p = 0.0665 (ok) - p from scipy.stats.kstwo.sf */
    uint64_t a[2] = {561, 439}, b[2] = {560, 440}, b2[2] = {558, 442};
    cr_assert_eq(sl_monitor_measure(SL_MONITOR_NUMERIC, ref, a, 2, 0, 0, 10, &t, SL_MONITOR_STATE_OK, &m), SL_OK);
    cr_assert_eq(m.has_ks, 1);
    cr_assert_eq(m.ks_statistic, 0.061);
    p_close(m.ks_pvalue, 0.046421401495898906, "p(561)");
    cr_assert_eq(m.state, SL_MONITOR_STATE_ALERT);
    cr_assert_eq(m.reasons, SL_MONITOR_REASON_KS);
    cr_assert_eq(sl_monitor_measure(SL_MONITOR_NUMERIC, ref, b, 2, 0, 0, 10, &t, SL_MONITOR_STATE_OK, &m), SL_OK);
    p_close(m.ks_pvalue, 0.05243463489026223, "p(560)");
    cr_assert_eq(m.state, SL_MONITOR_STATE_OK, "from ok, 0.0524 does not alert");
    cr_assert_eq(sl_monitor_measure(SL_MONITOR_NUMERIC, ref, b, 2, 0, 0, 10, &t, SL_MONITOR_STATE_ALERT, &m), SL_OK);
    cr_assert_eq(m.state, SL_MONITOR_STATE_ALERT, "from alert, 0.0524 holds it");
    cr_assert_eq(m.reasons, SL_MONITOR_REASON_KS);
    cr_assert_eq(sl_monitor_measure(SL_MONITOR_NUMERIC, ref, b2, 2, 0, 0, 10, &t, SL_MONITOR_STATE_ALERT, &m), SL_OK);
    cr_assert_eq(m.state, SL_MONITOR_STATE_OK);
    /* PSI and JS levels: 0.1 / 0.25 and JS 0.05 / 0.5 */
    t = defaults();
    t.js_warn = 0.05;
    t.js_alert = 0.5;
    uint64_t c[2] = {700, 300};
    cr_assert_eq(sl_monitor_measure(SL_MONITOR_NUMERIC, ref, c, 2, 0, 0, 10, &t, SL_MONITOR_STATE_NO_DATA, &m), SL_OK);
    /* PSI = 0.16939 (warn), JS = 0.17408 (warn), from numpy and scipy */
    mon_close(m.psi, 0.16938760838568895, "psi");
    mon_close(m.js, 0.17408372939284805, "js");
    cr_assert_eq(m.state, SL_MONITOR_STATE_WARN);
    cr_assert_eq(m.reasons, SL_MONITOR_REASON_PSI | SL_MONITOR_REASON_JS);
    uint64_t d[2] = {520, 480};
    cr_assert_eq(sl_monitor_measure(SL_MONITOR_NUMERIC, ref, d, 2, 0, 0, 10, &t, SL_MONITOR_STATE_WARN, &m), SL_OK);
    cr_assert_eq(m.state, SL_MONITOR_STATE_OK);
    cr_assert_eq(m.reasons, 0);
    /* below min_samples on the reference side: ratios only */
    cr_assert_eq(sl_monitor_measure(SL_MONITOR_NUMERIC, ref, c, 2, 0, 0, 1001, &t, SL_MONITOR_STATE_NO_DATA, &m), SL_OK);
    cr_assert_eq(m.has_drift, 0);
    cr_assert_eq(m.state, SL_MONITOR_STATE_NO_DATA);
    cr_assert_eq(sl_monitor_measure(SL_MONITOR_NUMERIC, ref, c, 0, 0, 0, 1, &t, SL_MONITOR_STATE_NO_DATA, &m), SL_EINVAL);
    cr_assert_str_eq(sl_monitor_state_name(SL_MONITOR_STATE_WARN), "warn");
    cr_assert_str_eq(sl_monitor_state_name((enum en_sl_monitor_state_t)9), "no_data");
}
