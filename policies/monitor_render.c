/*
 * monitor_render.c - what monitoring shows: the Prometheus metric families (the contract of docs/MONITORING.md,
 * "Metrics") and the JSON state for /admin/state.
 *
 * Labels stay bounded: route, feature (configured names), backend (configured names), version (stable, canary),
 * state and result (fixed sets) - never a request id or a category value. A measure without data has no sample at
 * all, never a NaN or a made-up 0, and a family without any sample is left out. Control thread: everything read
 * here is the control thread's own (windows, measures, tables), except the rings' drop counters (relaxed reads).
 */
#include "policies/monitor.h"
#include "common/status.h"
#include "policies/feedback.h"
#include "policies/quality.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct st_render_t {
    sl_buf_t *out;
    sl_buf_t tmp; /* the samples of the family being written */
    int failed;
} render_t;

__attribute__((format(printf, 3, 4))) static void put(render_t *r, sl_buf_t *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    if (r->failed)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(small) || sl_buf_append(b, small, (size_t)n) != SL_OK)
        r->failed = 1;
}

/* A label value in the text format: backslash, double quote and line feed escaped. */
static void put_label(render_t *r, const char *key, const char *value)
{
    put(r, &r->tmp, "%s=\"", key);
    for (const char *p = value; *p != '\0' && !r->failed; ++p) {
        if (*p == '\\' || *p == '"')
            put(r, &r->tmp, "\\%c", *p);
        else if (*p == '\n')
            put(r, &r->tmp, "\\n");
        else if (sl_buf_append(&r->tmp, p, 1) != SL_OK)
            r->failed = 1;
    }
    put(r, &r->tmp, "\"");
}

static void family_end(render_t *r, const char *name, const char *type, const char *help)
{
    if (r->tmp.len != 0) {
        put(r, r->out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
        if (!r->failed && sl_buf_append(r->out, r->tmp.data, r->tmp.len) != SL_OK)
            r->failed = 1;
    }
    r->tmp.len = 0;
}

static void sample_value(render_t *r, double v)
{
    put(r, &r->tmp, "} %.17g\n", v == 0 ? 0.0 : v);
}

static void sample_count(render_t *r, uint64_t v)
{
    put(r, &r->tmp, "} %" PRIu64 "\n", v);
}

/* name{route="..." */
static void sample_route(render_t *r, const char *name, const sl_monitor_route_t *mr)
{
    put(r, &r->tmp, "%s{", name);
    put_label(r, "route", mr->route->name);
}

#define FOR_ROUTES(m, mr)                                                                                                      \
    for (size_t ri_ = 0; ri_ != (m)->conf->num_routes; ++ri_)                                                                  \
        for (const sl_monitor_route_t *mr = (m)->routes[ri_]; mr != NULL; mr = NULL)

/* Per-value gauges: which measure, and whether it exists. */
enum { G_PSI, G_JS, G_KS_STAT, G_KS_P, G_CHI2_STAT, G_CHI2_P, G_NULL, G_TYPE, G_SAMPLES, G_NUM };

static int measure_of(const sl_monitor_measures_t *m, int g, double *v)
{
    switch (g) {
    case G_PSI:
        *v = m->psi;
        return m->has_drift;
    case G_JS:
        *v = m->js;
        return m->has_drift;
    case G_KS_STAT:
        *v = m->ks_statistic;
        return m->has_ks;
    case G_KS_P:
        *v = m->ks_pvalue;
        return m->has_ks;
    case G_CHI2_STAT:
        *v = m->chi2_statistic;
        return m->has_chi2;
    case G_CHI2_P:
        *v = m->chi2_pvalue;
        return m->has_chi2;
    case G_NULL:
        *v = m->null_ratio;
        return m->has_ratios;
    case G_TYPE:
        *v = m->type_error_ratio;
        return m->has_ratios;
    default:
        *v = (double)m->n_cur;
        return 1;
    }
}

static void render_values(render_t *r, const sl_monitor_t *m)
{
    static const struct {
        const char *name, *help;
    } gauges[G_NUM] = {
        {"sluice_drift_psi", "Population stability index of a monitored value, window against reference."},
        {"sluice_drift_js", "Jensen-Shannon distance (base 2) of a monitored value, window against reference."},
        {"sluice_drift_ks_statistic", "Two-sample Kolmogorov-Smirnov statistic of a numeric value on its reference bins."},
        {"sluice_drift_ks_pvalue", "Asymptotic p-value of the Kolmogorov-Smirnov statistic."},
        {"sluice_drift_chi2_statistic", "Chi-square statistic of a categorical value against its smoothed reference."},
        {"sluice_drift_chi2_pvalue", "P-value of the chi-square goodness of fit of a categorical value."},
        {"sluice_feature_null_ratio", "Share of requests in the window where the value was missing or null."},
        {"sluice_feature_type_error_ratio", "Share of requests in the window where the value had the wrong type."},
        {"sluice_drift_window_samples", "Values (not null, not mistyped) in the window."},
    };
    for (int g = 0; g != G_NUM; ++g) {
        FOR_ROUTES(m, mr)
        {
            for (size_t i = 0; i != mr->plan.num_values; ++i) {
                double v;
                if (!mr->evaluated || !measure_of(&mr->measures[i], g, &v))
                    continue;
                sample_route(r, gauges[g].name, mr);
                put(r, &r->tmp, ",");
                put_label(r, "feature", mr->plan.specs[i].conf->name);
                sample_value(r, v);
            }
        }
        family_end(r, gauges[g].name, "gauge", gauges[g].help);
    }
    FOR_ROUTES(m, mr)
    {
        for (size_t i = 0; mr->evaluated && i != mr->plan.num_values; ++i) {
            for (int s = SL_MONITOR_STATE_NO_DATA; s <= SL_MONITOR_STATE_ALERT; ++s) {
                sample_route(r, "sluice_drift_state", mr);
                put(r, &r->tmp, ",");
                put_label(r, "feature", mr->plan.specs[i].conf->name);
                put(r, &r->tmp, ",state=\"%s\"", sl_monitor_state_name((enum en_sl_monitor_state_t)s));
                sample_count(r, mr->measures[i].state == (enum en_sl_monitor_state_t)s);
            }
        }
    }
    family_end(r, "sluice_drift_state", "gauge",
               "Drift state of a monitored value: 1 for the current state, 0 for the others.");
}

/* The answer values per backend that can answer the route: the same measures, in families of their own. */
static void render_backend_values(render_t *r, const sl_monitor_t *m)
{
    static const struct {
        int g;
        const char *name, *help;
    } gauges[] = {
        {G_PSI, "sluice_drift_backend_psi",
         "Population stability index of an answer value of one backend, window against reference."},
        {G_JS, "sluice_drift_backend_js", "Jensen-Shannon distance (base 2) of an answer value of one backend."},
        {G_KS_STAT, "sluice_drift_backend_ks_statistic",
         "Binned two-sample Kolmogorov-Smirnov statistic of a numeric answer value of one backend."},
        {G_KS_P, "sluice_drift_backend_ks_pvalue", "Asymptotic p-value of the per-backend Kolmogorov-Smirnov statistic."},
        {G_CHI2_STAT, "sluice_drift_backend_chi2_statistic",
         "Chi-square statistic of a categorical answer value of one backend."},
        {G_CHI2_P, "sluice_drift_backend_chi2_pvalue", "P-value of the per-backend chi-square goodness of fit."},
        {G_NULL, "sluice_drift_backend_null_ratio",
         "Share of one backend's answers in the window where the value was missing or null."},
        {G_TYPE, "sluice_drift_backend_type_error_ratio",
         "Share of one backend's answers in the window where the value had the wrong type."},
        {G_SAMPLES, "sluice_drift_backend_window_samples", "Values (not null, not mistyped) of one backend in the window."},
    };
    for (size_t g = 0; g != sizeof(gauges) / sizeof(gauges[0]); ++g) {
        FOR_ROUTES(m, mr)
        {
            for (uint32_t b = 0; mr->evaluated && b != mr->num_bbackends; ++b) {
                for (uint32_t k = 0; k != mr->num_bvalues; ++k) {
                    double v;
                    if (!measure_of(&mr->bmeasures[(size_t)b * mr->num_bvalues + k], gauges[g].g, &v))
                        continue;
                    sample_route(r, gauges[g].name, mr);
                    put(r, &r->tmp, ",");
                    put_label(r, "feature", mr->plan.specs[mr->bvalues[k]].conf->name);
                    put(r, &r->tmp, ",");
                    put_label(r, "backend", mr->bbackends[b]->name);
                    sample_value(r, v);
                }
            }
        }
        family_end(r, gauges[g].name, "gauge", gauges[g].help);
    }
    FOR_ROUTES(m, mr)
    {
        for (uint32_t b = 0; mr->evaluated && b != mr->num_bbackends; ++b) {
            for (uint32_t k = 0; k != mr->num_bvalues; ++k) {
                for (int s = SL_MONITOR_STATE_NO_DATA; s <= SL_MONITOR_STATE_ALERT; ++s) {
                    sample_route(r, "sluice_drift_backend_state", mr);
                    put(r, &r->tmp, ",");
                    put_label(r, "feature", mr->plan.specs[mr->bvalues[k]].conf->name);
                    put(r, &r->tmp, ",");
                    put_label(r, "backend", mr->bbackends[b]->name);
                    put(r, &r->tmp, ",state=\"%s\"", sl_monitor_state_name((enum en_sl_monitor_state_t)s));
                    sample_count(r, mr->bmeasures[(size_t)b * mr->num_bvalues + k].state == (enum en_sl_monitor_state_t)s);
                }
            }
        }
    }
    family_end(r, "sluice_drift_backend_state", "gauge",
               "Drift state of an answer value of one backend: 1 for the current state, 0 for the others.");
}

static void render_route_counters(render_t *r, const sl_monitor_t *m)
{
    FOR_ROUTES(m, mr)
    {
        sample_route(r, "sluice_monitor_requests_total", mr);
        sample_count(r, mr->requests + mr->carried[SL_MONITOR_CELL_REQUESTS]);
    }
    family_end(r, "sluice_monitor_requests_total", "counter", "Requests observed by the route's monitor.");
    FOR_ROUTES(m, mr)
    {
        sample_route(r, "sluice_monitor_malformed_total", mr);
        sample_count(r, mr->malformed + mr->carried[SL_MONITOR_CELL_MALFORMED]);
    }
    family_end(r, "sluice_monitor_malformed_total", "counter", "Monitored requests whose body was not JSON.");
    FOR_ROUTES(m, mr)
    {
        sample_route(r, "sluice_monitor_reference_capturing", mr);
        sample_count(r, mr->ref_state == SL_MONITOR_REF_CAPTURING);
    }
    family_end(r, "sluice_monitor_reference_capturing", "gauge",
               "1 while the route's baseline reference is being captured, else 0.");
    FOR_ROUTES(m, mr)
    {
        if (mr->ref_state == SL_MONITOR_REF_READY) {
            sample_route(r, "sluice_monitor_reference_samples", mr);
            sample_count(r, mr->ref_samples);
        }
    }
    family_end(r, "sluice_monitor_reference_samples", "gauge", "Requests behind the route's drift reference.");
}

static void render_feedback(render_t *r, const sl_monitor_t *m)
{
    if (m->feedback_rings == NULL)
        return;
    for (int res = 0; res != SL_FEEDBACK_NUM_RESULTS; ++res)
        put(r, &r->tmp, "sluice_feedback_total{result=\"%s\"} %" PRIu64 "\n",
            sl_feedback_result_name((enum en_sl_feedback_result_t)res), m->feedback_results[res]);
    family_end(r, "sluice_feedback_total", "counter", "Feedback items received, by the result of their join.");
    put(r, &r->tmp, "sluice_feedback_rejected_total %" PRIu64 "\n", m->feedback_rejected);
    family_end(r, "sluice_feedback_rejected_total", "counter", "Feedback bodies refused as malformed (400).");
    uint64_t dropped = 0;
    for (uint32_t w = 0; w != m->num_workers; ++w)
        dropped += sl_monitor_ring_dropped(&m->feedback_rings[w]);
    put(r, &r->tmp, "sluice_feedback_dropped_total %" PRIu64 "\n", dropped);
    family_end(r, "sluice_feedback_dropped_total", "counter", "Predictions lost because a worker's feedback ring was full.");
    static const char *const names[] = {"sluice_feedback_pending", "sluice_feedback_evicted_total",
                                        "sluice_feedback_expired_total", "sluice_feedback_not_kept_total"};
    static const char *const helps[] = {
        "Predictions waiting for their label.",
        "Predictions dropped unlabelled, within their horizon, because the table was full.",
        "Predictions whose horizon passed without a label.",
        "Monitored requests not kept for feedback (no request id, or one longer than 64 bytes)."};
    for (int f = 0; f != 4; ++f) {
        FOR_ROUTES(m, mr)
        {
            if (!mr->conf->feedback.enabled)
                continue;
            const sl_feedback_table_t *t = &mr->feedback;
            sample_route(r, names[f], mr);
            sample_count(r, f == 0   ? t->live
                            : f == 1 ? t->evicted
                            : f == 2 ? t->expired
                                     : mr->not_kept + mr->carried[SL_MONITOR_CELL_NOT_KEPT]);
        }
        family_end(r, names[f], f == 0 ? "gauge" : "counter", helps[f]);
    }
}

/* name{route,backend,version */
static void sample_group(render_t *r, const char *name, const sl_monitor_t *m, const sl_monitor_route_t *mr, uint32_t b, int v)
{
    sample_route(r, name, mr);
    put(r, &r->tmp, ",");
    put_label(r, "backend", m->conf->backends[b].name);
    put(r, &r->tmp, ",version=\"%s\"", v == SL_FEEDBACK_STABLE ? "stable" : "canary");
}

enum { Q_SAMPLES, Q_ACCURACY, Q_PRECISION, Q_RECALL, Q_F1, Q_MAE, Q_RMSE, Q_ERROR_RATE, Q_NUM };

static int quality_of(const sl_quality_report_t *q, enum en_sl_feedback_task_t task, int f, double *v)
{
    int cls = task == SL_FEEDBACK_CLASSIFICATION;
    double values[Q_NUM] = {(double)q->n, q->accuracy, q->precision, q->recall, q->f1, q->mae, q->rmse, q->error_rate};
    int has[Q_NUM] = {1,
                      cls && q->has_data,
                      cls && q->labels_present != 0,
                      cls && q->labels_present != 0,
                      cls && q->labels_present != 0,
                      !cls && q->has_data,
                      !cls && q->has_data,
                      q->adwin_width != 0};
    *v = values[f];
    return has[f];
}

typedef void (*group_fn)(render_t *r, const sl_monitor_t *m, const sl_monitor_route_t *mr, uint32_t b, int v,
                         const sl_quality_report_t *q, int f);

/* Calls fn for every (route, backend, version) that has had a join, with its report at now_ms. */
static void for_groups(render_t *r, const sl_monitor_t *m, uint64_t now_ms, group_fn fn, int f)
{
    sl_quality_report_t q;
    FOR_ROUTES(m, mr)
    {
        if (!mr->conf->feedback.enabled)
            continue;
        for (uint32_t b = 0; b != mr->quality.num_backends; ++b) {
            for (int v = 0; v != SL_FEEDBACK_NUM_VERSIONS; ++v) {
                if (!sl_quality_has_group(&mr->quality, b, (enum en_sl_feedback_version_t)v))
                    continue;
                sl_quality_read(&mr->quality, b, (enum en_sl_feedback_version_t)v, now_ms, &q);
                fn(r, m, mr, b, v, &q, f);
            }
        }
    }
}

static const struct {
    const char *name, *help;
} quality_families[Q_NUM] = {
    {"sluice_quality_window_samples", "Joined labels in the quality window."},
    {"sluice_quality_accuracy", "Share of correct predictions among joined labels in the window."},
    {"sluice_quality_precision", "Macro-averaged precision over the labels present in the window."},
    {"sluice_quality_recall", "Macro-averaged recall over the labels present in the window."},
    {"sluice_quality_f1", "Macro-averaged F1 over the labels present in the window."},
    {"sluice_quality_mae", "Mean absolute error of the predictions joined in the window."},
    {"sluice_quality_rmse", "Root mean squared error of the predictions joined in the window."},
    {"sluice_quality_error_rate", "Error rate over ADWIN's adaptive window (the concept-drift detector's view)."},
};

static void quality_gauge(render_t *r, const sl_monitor_t *m, const sl_monitor_route_t *mr, uint32_t b, int v,
                          const sl_quality_report_t *q, int f)
{
    double x;
    if (!quality_of(q, mr->quality.task, f, &x))
        return;
    sample_group(r, quality_families[f].name, m, mr, b, v);
    sample_value(r, x);
}

static void concept_state(render_t *r, const sl_monitor_t *m, const sl_monitor_route_t *mr, uint32_t b, int v,
                          const sl_quality_report_t *q, int f)
{
    for (int s = SL_CONCEPT_NO_DATA; s <= SL_CONCEPT_DRIFT; ++s) {
        sample_group(r, "sluice_concept_drift_state", m, mr, b, v);
        put(r, &r->tmp, ",state=\"%s\"", sl_quality_concept_name((enum en_sl_concept_state_t)s));
        sample_count(r, q->concept == (enum en_sl_concept_state_t)s);
    }
}

static void concept_signals(render_t *r, const sl_monitor_t *m, const sl_monitor_route_t *mr, uint32_t b, int v,
                            const sl_quality_report_t *q, int f)
{
    for (int d = 0; d != 2; ++d) {
        sample_group(r, "sluice_concept_drift_signals_total", m, mr, b, v);
        put(r, &r->tmp, ",detector=\"%s\"", d == 0 ? "ddm" : "adwin");
        sample_count(r, d == 0 ? q->ddm_drifts : q->adwin_drifts);
    }
}

static void render_quality(render_t *r, const sl_monitor_t *m, uint64_t now_ms)
{
    for (int f = 0; f != Q_NUM; ++f) {
        for_groups(r, m, now_ms, quality_gauge, f);
        family_end(r, quality_families[f].name, "gauge", quality_families[f].help);
    }
    for_groups(r, m, now_ms, concept_state, 0);
    family_end(r, "sluice_concept_drift_state", "gauge",
               "Concept-drift state of a backend and version: 1 for the current state, 0 for the others.");
    for_groups(r, m, now_ms, concept_signals, 0);
    family_end(r, "sluice_concept_drift_signals_total", "counter",
               "Concept-drift signals of the DDM and ADWIN detectors on the error stream.");
}

int sl_monitor_render_metrics(const sl_monitor_t *m, uint64_t now_ms, sl_buf_t *out)
{
    render_t r = {out, {0}, 0};
    size_t saved = out->len;
    sl_buf_init(&r.tmp, 0);
    render_route_counters(&r, m);
    render_values(&r, m);
    render_backend_values(&r, m);
    render_feedback(&r, m);
    render_quality(&r, m, now_ms);
    sl_buf_dispose(&r.tmp);
    if (r.failed) {
        out->len = saved;
        if (out->data != NULL)
            out->data[saved] = '\0';
        return SL_ENOMEM;
    }
    return SL_OK;
}
