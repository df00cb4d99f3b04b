/*
 * monitor_json.c - the monitoring state as one JSON object, for /admin/state: per route its reference, every
 * value's measures and state with the reasons, its feedback table and its quality per backend and version.
 * Absent measures are null, never 0 or NaN. Control thread.
 */
#include "policies/monitor.h"
#include "common/status.h"
#include "policies/feedback.h"
#include "policies/quality.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct st_json_t {
    sl_buf_t *b;
    int failed;
} json_t;

__attribute__((format(printf, 2, 3))) static void put(json_t *j, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    if (j->failed)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(small) || sl_buf_append(j->b, small, (size_t)n) != SL_OK)
        j->failed = 1;
}

static void put_string(json_t *j, const char *key, const char *s)
{
    put(j, "\"%s\":\"", key);
    if (!j->failed && sl_buf_append_json_escaped(j->b, s, strlen(s)) != SL_OK)
        j->failed = 1;
    put(j, "\"");
}

static void put_number(json_t *j, const char *key, int has, double v)
{
    if (has)
        put(j, ",\"%s\":%.17g", key, v == 0 ? 0.0 : v);
    else
        put(j, ",\"%s\":null", key);
}

/* Value i of route r with the measures m (the route's, or one backend's). */
static void put_value(json_t *j, const sl_monitor_route_t *r, size_t i, const sl_monitor_measures_t *m)
{
    static const char *const reasons[] = {"psi", "js", "ks_pvalue", "chi2_pvalue", "null_ratio", "type_error_ratio"};
    const sl_monitor_spec_t *s = &r->plan.specs[i];
    put(j, "{");
    put_string(j, "name", s->conf->name);
    put(j, ",\"type\":\"%s\",\"state\":\"%s\",\"reasons\":[", s->type == SL_MONITOR_NUMERIC ? "numeric" : "categorical",
        sl_monitor_state_name(m->state));
    for (int k = 0, first = 1; k != 6; ++k) {
        if (m->reasons & (1u << k)) {
            put(j, "%s\"%s\"", first ? "" : ",", reasons[k]);
            first = 0;
        }
    }
    put(j, "],\"n_ref\":%" PRIu64 ",\"n_cur\":%" PRIu64 ",\"nulls\":%" PRIu64 ",\"type_errors\":%" PRIu64, m->n_ref, m->n_cur,
        m->nulls, m->type_errors);
    put_number(j, "psi", m->has_drift, m->psi);
    put_number(j, "js", m->has_drift, m->js);
    put_number(j, "ks_statistic", m->has_ks, m->ks_statistic);
    put_number(j, "ks_pvalue", m->has_ks, m->ks_pvalue);
    put_number(j, "chi2_statistic", m->has_chi2, m->chi2_statistic);
    put_number(j, "chi2_pvalue", m->has_chi2, m->chi2_pvalue);
    put_number(j, "null_ratio", m->has_ratios, m->null_ratio);
    put_number(j, "type_error_ratio", m->has_ratios, m->type_error_ratio);
    if (s->type == SL_MONITOR_CATEGORICAL)
        put(j, ",\"categories\":%u", (unsigned)r->global_tabs[s->categorical_index].count);
    put(j, "}");
}

static void put_quality(json_t *j, const sl_monitor_t *m, const sl_monitor_route_t *r, uint64_t now_ms)
{
    const sl_feedback_table_t *t = &r->feedback;
    int first = 1;
    put(j,
        ",\"feedback\":{\"task\":\"%s\",\"pending\":%" PRIu64 ",\"recorded\":%" PRIu64 ",\"evicted\":%" PRIu64
        ",\"expired\":%" PRIu64 ",\"replaced\":%" PRIu64 ",\"not_kept\":%" PRIu64 ",\"quality\":[",
        r->conf->feedback.task == SL_FEEDBACK_CLASSIFICATION ? "classification" : "regression", t->live, t->recorded,
        t->evicted, t->expired, t->replaced, r->not_kept + r->carried[SL_MONITOR_CELL_NOT_KEPT]);
    for (uint32_t b = 0; b != r->quality.num_backends; ++b) {
        for (int v = 0; v != SL_FEEDBACK_NUM_VERSIONS; ++v) {
            sl_quality_report_t q;
            if (!sl_quality_has_group(&r->quality, b, (enum en_sl_feedback_version_t)v))
                continue;
            sl_quality_read(&r->quality, b, (enum en_sl_feedback_version_t)v, now_ms, &q);
            int cls = r->quality.task == SL_FEEDBACK_CLASSIFICATION;
            put(j, "%s{", first ? "" : ",");
            first = 0;
            put_string(j, "backend", m->conf->backends[b].name);
            put(j, ",\"version\":\"%s\",\"n\":%" PRIu64 ",\"joins_total\":%" PRIu64, v == 0 ? "stable" : "canary", q.n,
                q.joins_total);
            put_number(j, "accuracy", cls && q.has_data, q.accuracy);
            put_number(j, "precision", cls && q.labels_present != 0, q.precision);
            put_number(j, "recall", cls && q.labels_present != 0, q.recall);
            put_number(j, "f1", cls && q.labels_present != 0, q.f1);
            put_number(j, "mae", !cls && q.has_data, q.mae);
            put_number(j, "rmse", !cls && q.has_data, q.rmse);
            put(j, ",\"concept_drift\":\"%s\",\"ddm_drifts\":%" PRIu64 ",\"adwin_drifts\":%" PRIu64,
                sl_quality_concept_name(q.concept), q.ddm_drifts, q.adwin_drifts);
            put_number(j, "error_rate", q.adwin_width != 0, q.error_rate);
            put(j, "}");
        }
    }
    put(j, "]}");
}

int sl_monitor_render_json(const sl_monitor_t *m, uint64_t now_ms, sl_buf_t *out)
{
    json_t j = {out, 0};
    size_t saved = out->len;
    int first = 1;
    put(&j, "{\"routes\":[");
    for (size_t ri = 0; ri != m->conf->num_routes; ++ri) {
        const sl_monitor_route_t *r = m->routes[ri];
        if (r == NULL)
            continue;
        const sl_conf_monitor_t *c = r->conf;
        put(&j, "%s{", first ? "" : ",");
        first = 0;
        put_string(&j, "route", r->route->name);
        put(&j, ",\"requests\":%" PRIu64 ",\"malformed\":%" PRIu64 ",\"window_ms\":%u,\"slots\":%u,\"min_samples\":%u",
            r->requests + r->carried[SL_MONITOR_CELL_REQUESTS], r->malformed + r->carried[SL_MONITOR_CELL_MALFORMED],
            (unsigned)c->window_ms, (unsigned)c->slots, (unsigned)c->min_samples);
        put(&j, ",\"reference\":{\"kind\":\"%s\",\"state\":\"%s\"",
            c->reference.kind == SL_MONITOR_REFERENCE_FILE ? "file" : "baseline",
            r->ref_state == SL_MONITOR_REF_READY ? "ready" : "capturing");
        if (c->reference.kind == SL_MONITOR_REFERENCE_FILE) {
            put(&j, ",");
            put_string(&j, "file", c->reference.file);
        }
        if (r->ref_state == SL_MONITOR_REF_READY) {
            put(&j, ",\"samples\":%" PRIu64 ",", r->ref_samples);
            put_string(&j, "created", r->ref_created);
        } else {
            put(&j, ",\"requests_seen\":%" PRIu64 ",\"baseline_samples\":%u,\"baseline_ms\":%u", r->requests,
                (unsigned)c->reference.baseline_samples, (unsigned)c->reference.baseline_ms);
        }
        put(&j, "},\"values\":[");
        for (size_t i = 0; i != r->plan.num_values; ++i) {
            if (i != 0)
                put(&j, ",");
            put_value(&j, r, i, &r->measures[i]);
        }
        put(&j, "],\"backends\":[");
        for (uint32_t b = 0; b != r->num_bbackends; ++b) {
            put(&j, "%s{", b != 0 ? "," : "");
            put_string(&j, "backend", r->bbackends[b]->name);
            put(&j, ",\"values\":[");
            for (uint32_t k = 0; k != r->num_bvalues; ++k) {
                if (k != 0)
                    put(&j, ",");
                put_value(&j, r, r->bvalues[k], &r->bmeasures[(size_t)b * r->num_bvalues + k]);
            }
            put(&j, "]}");
        }
        put(&j, "]");
        if (c->feedback.enabled)
            put_quality(&j, m, r, now_ms);
        put(&j, "}");
    }
    put(&j, "],\"feedback_total\":{");
    for (int res = 0; res != SL_FEEDBACK_NUM_RESULTS; ++res)
        put(&j, "%s\"%s\":%" PRIu64, res != 0 ? "," : "", sl_feedback_result_name((enum en_sl_feedback_result_t)res),
            m->feedback_results[res]);
    put(&j, "},\"feedback_rejected\":%" PRIu64 "}", m->feedback_rejected);
    if (j.failed) {
        out->len = saved;
        if (out->data != NULL)
            out->data[saved] = '\0';
        return SL_ENOMEM;
    }
    return SL_OK;
}
