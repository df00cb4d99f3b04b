/*
 * monitor_measure.c - the drift and data-quality measures of one value over a window, and its state.
 *
 * The numbers come from stats/: PSI and the Jensen-Shannon distance (stats/drift.h), the chi-square goodness of fit
 * (stats/chisq.h), the one-sample Kolmogorov-Smirnov law for the p-value (stats/special.h). What is added here is the
 * KS statistic on binned counts, and the state machine: each criterion (PSI, JS, KS p-value, chi-square p-value,
 * null ratio, type-error ratio) reaches a level (0 ok, 1 warn, 2 alert) against its thresholds; the state is the
 * highest level, raised at once and lowered only past a hysteresis margin, so a measure hovering at a threshold does
 * not flap. Categories empty on both sides are left out, so a categorical value's measures do not depend on the size
 * of its category table. Pure; any thread; no allocation.
 */
#include "policies/monitor.h"
#include "common/status.h"
#include "stats/chisq.h"
#include "stats/drift.h"
#include "stats/special.h"

#include <string.h>

const char *sl_monitor_state_name(enum en_sl_monitor_state_t state)
{
    static const char *const names[] = {"no_data", "ok", "warn", "alert"};
    return (unsigned)state < 4 ? names[state] : "no_data";
}

int sl_monitor_ks_binned(const uint64_t *ref, const uint64_t *cur, size_t k, double *d, double *p, int *has)
{
    if (ref == NULL || cur == NULL || k == 0)
        return SL_EINVAL;
    uint64_t nr = 0, nc = 0;
    for (size_t i = 0; i != k; ++i) {
        nr += ref[i];
        nc += cur[i];
    }
    *d = 0;
    *p = 1;
    *has = 0;
    if (nr == 0 || nc == 0)
        return SL_OK;
    /* |R_i / nr - C_i / nc| = |R_i nc - C_i nr| / (nr nc): the largest numerator, exactly */
    unsigned __int128 best = 0, ri = 0, ci = 0;
    for (size_t i = 0; i + 1 < k; ++i) {
        ri += ref[i];
        ci += cur[i];
        unsigned __int128 a = ri * nc, b = ci * nr, diff = a > b ? a - b : b - a;
        if (diff > best)
            best = diff;
    }
    unsigned __int128 prod = (unsigned __int128)nr * nc, sum = (unsigned __int128)nr + nc;
    *d = (double)((long double)best / (long double)prod);
    unsigned __int128 m = prod / sum, rem = prod % sum;
    if (2 * rem > sum || (2 * rem == sum && (m & 1) != 0))
        ++m; /* round half to even, as numpy.round */
    if (m == 0)
        m = 1; /* one value on each side: the law of one sample */
    if (m > UINT64_MAX)
        m = UINT64_MAX;
    double pv = 1;
    if (*d > 0 && sl_special_kstwo_sf((uint64_t)m, *d > 1 ? 1 : *d, &pv) != SL_OK)
        pv = 1;
    *p = pv;
    *has = 1;
    return SL_OK;
}

/* Level of a "higher is worse" measure against warn/alert thresholds scaled by f (0 is off). */
static int level_high(double v, double warn, double alert, double f)
{
    if (alert > 0 && v >= alert * f)
        return 2;
    if (warn > 0 && v >= warn * f)
        return 1;
    return 0;
}

/* Level of a p-value against an alert threshold scaled by f (alert when below). */
static int level_p(double p, double alert, double f)
{
    return alert > 0 && p < alert * f ? 2 : 0;
}

int sl_monitor_measure(enum en_sl_monitor_type_t type, const uint64_t *ref, const uint64_t *cur, size_t k, uint64_t nulls,
                       uint64_t type_errors, uint32_t min_samples, const sl_conf_monitor_thresholds_t *t,
                       enum en_sl_monitor_state_t prev, sl_monitor_measures_t *out)
{
    uint64_t r[SL_CONF_MAX_CATEGORIES + 1], c[SL_CONF_MAX_CATEGORIES + 1];
    sl_monitor_measures_t m;
    if (ref == NULL || cur == NULL || t == NULL || k == 0 || k > SL_CONF_MAX_CATEGORIES + 1)
        return SL_EINVAL;
    memset(&m, 0, sizeof(m));
    size_t n = 0;
    for (size_t i = 0; i != k; ++i) {
        m.n_ref += ref[i];
        m.n_cur += cur[i];
        if (type == SL_MONITOR_NUMERIC || ref[i] != 0 || cur[i] != 0) {
            r[n] = ref[i];
            c[n++] = cur[i];
        }
    }
    m.nulls = nulls;
    m.type_errors = type_errors;
    uint64_t total = m.n_cur + nulls + type_errors;
    if (total != 0) {
        m.has_ratios = 1;
        m.null_ratio = (double)nulls / (double)total;
        m.type_error_ratio = (double)type_errors / (double)total;
    }
    if (m.n_ref >= min_samples && m.n_cur >= min_samples && m.n_ref != 0 && m.n_cur != 0) {
        sl_drift_result_t psi, js;
        sl_drift_psi(r, c, n, SL_DRIFT_PSI_EPSILON, &psi);
        sl_drift_js(r, c, n, &js);
        m.has_drift = 1;
        m.psi = psi.value;
        m.js = js.value;
        if (type == SL_MONITOR_NUMERIC) {
            sl_monitor_ks_binned(r, c, n, &m.ks_statistic, &m.ks_pvalue, &m.has_ks);
        } else {
            double prop[SL_CONF_MAX_CATEGORIES + 1];
            sl_chisq_result_t chi;
            if (sl_drift_smooth(r, n, SL_DRIFT_PSI_EPSILON, prop) == SL_OK && sl_chisq_gof(c, prop, n, &chi) == SL_OK &&
                chi.status == SL_STAT_OK) {
                m.has_chi2 = 1;
                m.chi2_statistic = chi.statistic;
                m.chi2_pvalue = chi.p_value;
                m.chi2_dof = chi.dof;
            }
        }
    }
    if (total < min_samples || total == 0) {
        m.state = SL_MONITOR_STATE_NO_DATA;
        *out = m;
        return SL_OK;
    }
    /* each criterion: its raw level, and the level it still holds with thresholds relaxed by the hysteresis */
    double lo = 1 - t->hysteresis, hi = 1 + t->hysteresis;
    int raw[6] = {0}, hold[6] = {0};
    if (m.has_drift) {
        raw[0] = level_high(m.psi, t->psi_warn, t->psi_alert, 1);
        hold[0] = level_high(m.psi, t->psi_warn, t->psi_alert, lo);
        raw[1] = level_high(m.js, t->js_warn, t->js_alert, 1);
        hold[1] = level_high(m.js, t->js_warn, t->js_alert, lo);
    }
    if (m.has_ks) {
        raw[2] = level_p(m.ks_pvalue, t->ks_pvalue, 1);
        hold[2] = level_p(m.ks_pvalue, t->ks_pvalue, hi);
    }
    if (m.has_chi2) {
        raw[3] = level_p(m.chi2_pvalue, t->chi2_pvalue, 1);
        hold[3] = level_p(m.chi2_pvalue, t->chi2_pvalue, hi);
    }
    raw[4] = level_high(m.null_ratio, t->null_ratio_warn, t->null_ratio_alert, 1);
    hold[4] = level_high(m.null_ratio, t->null_ratio_warn, t->null_ratio_alert, lo);
    raw[5] = level_high(m.type_error_ratio, t->type_error_ratio_warn, t->type_error_ratio_alert, 1);
    hold[5] = level_high(m.type_error_ratio, t->type_error_ratio_warn, t->type_error_ratio_alert, lo);
    int level = 0, held = 0, before = prev >= SL_MONITOR_STATE_OK ? (int)prev - SL_MONITOR_STATE_OK : 0;
    for (int i = 0; i != 6; ++i) {
        if (raw[i] > level)
            level = raw[i];
        if (hold[i] > held)
            held = hold[i];
    }
    if (level < before) /* held >= level: relaxed thresholds never give a lower level */
        level = held < before ? held : before;
    for (int i = 0; level != 0 && i != 6; ++i)
        if (raw[i] >= level || (hold[i] >= level && before >= level))
            m.reasons |= 1u << i;
    m.state = (enum en_sl_monitor_state_t)(SL_MONITOR_STATE_OK + level);
    *out = m;
    return SL_OK;
}
