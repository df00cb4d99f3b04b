/*
 * rules_monitor.c - `sluice rules`: Prometheus alerting rules for the model monitors of a config (rules.h;
 * docs/MONITORING.md §10, "Alert rules").
 *
 * One group per monitored route, named sluice-monitor-<route>, each rule with a static route label and severity
 * ticket (drift and falling quality call for a look, not for waking someone):
 *   SluiceFeatureDrift      a value's drift state has been alert for 15 minutes (any criterion: PSI, JS, KS,
 *                           chi-square, null or type-error ratio; /admin/state names them)
 *   SluiceFeatureNullRatio  with thresholds.null_ratio_alert: the share of missing values at or above it over all
 *                           of the last 15 minutes (min_over_time: a sustained rise, not one window's blip)
 *   SluiceFeatureTypeErrors the same for thresholds.type_error_ratio_alert
 *   SluiceModelAccuracy     with feedback.min_accuracy: a (backend, version)'s accuracy below it for 15 minutes,
 *                           with at least min_samples joins in its quality window
 *   SluiceModelError        with feedback.max_mae: its mean absolute error above it, likewise
 *   SluiceConceptDrift      with feedback: a (backend, version)'s concept-drift state is drift, with at least
 *                           min_samples joins behind its quality measures
 * The gauges are per instance, so each replica alerts on its own traffic. A measure without data has no sample
 * (never NaN), so no data never alerts. Thresholds are written as the shortest decimal that reads back as the
 * configured double. Thread: any; pure over the config.
 */
#include "policies/rules.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/status.h"

#define MONITOR_FOR "15m"

/* The shortest of %.15g, %.16g, %.17g that reads back as v. */
static const char *number(double v, char *buf, size_t sz)
{
    for (int prec = 15; prec <= 17; ++prec) {
        snprintf(buf, sz, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return buf;
}

static int drift_rules(sl_buf_t *out, const char *route)
{
    return sl_buf_appendf(out,
                          "      - alert: SluiceFeatureDrift\n"
                          "        expr: sluice_drift_state{route=\"%s\",state=\"alert\"} == 1\n"
                          "        for: " MONITOR_FOR "\n"
                          "        labels:\n"
                          "          route: \"%s\"\n"
                          "          severity: ticket\n"
                          "        annotations:\n"
                          "          summary: \"route %s: {{ $labels.feature }} drifted from its reference\"\n"
                          "          description: \"The drift state of {{ $labels.feature }} on route %s has been alert "
                          "for " MONITOR_FOR ": a drift measure (PSI, Jensen-Shannon, Kolmogorov-Smirnov, chi-square) or "
                          "a null or type-error ratio is past its alert threshold; /admin/state lists the reasons.\"\n",
                          route, route, route, route);
}

/* SluiceFeatureNullRatio / SluiceFeatureTypeErrors: the ratio at or above `threshold` over all of the last 15 minutes. */
static int ratio_rule(sl_buf_t *out, const char *route, const char *alert, const char *metric, const char *what,
                      const char *key, double threshold)
{
    char t[40], pct[40];
    number(threshold, t, sizeof(t));
    number(threshold * 100, pct, sizeof(pct));
    return sl_buf_appendf(out,
                          "      - alert: %s\n"
                          "        expr: min_over_time(%s{route=\"%s\"}[" MONITOR_FOR "]) >= %s\n"
                          "        labels:\n"
                          "          route: \"%s\"\n"
                          "          severity: ticket\n"
                          "        annotations:\n"
                          "          summary: \"route %s: {{ $labels.feature }} %s in at least %s%% of requests\"\n"
                          "          description: \"At least %s%% of the values of {{ $labels.feature }} on route %s were "
                          "%s over all of the last " MONITOR_FOR " (thresholds.%s).\"\n",
                          alert, metric, route, t, route, route, what, pct, pct, route, what, key);
}

/* SluiceModelAccuracy / SluiceModelError: a quality measure past its bound with min_samples joins behind it. */
static int quality_rule(sl_buf_t *out, const char *route, const char *alert, const char *metric, const char *op, double bound,
                        uint32_t min_samples, const char *what, const char *key)
{
    char b[40];
    number(bound, b, sizeof(b));
    return sl_buf_appendf(out,
                          "      - alert: %s\n"
                          "        expr: |\n"
                          "          %s{route=\"%s\"} %s %s\n"
                          "          and\n"
                          "          sluice_quality_window_samples{route=\"%s\"} >= %u\n"
                          "        for: " MONITOR_FOR "\n"
                          "        labels:\n"
                          "          route: \"%s\"\n"
                          "          severity: ticket\n"
                          "        annotations:\n"
                          "          summary: \"route %s: %s of {{ $labels.backend }} ({{ $labels.version }}) is "
                          "{{ $value }}\"\n"
                          "          description: \"The %s measured from feedback on route %s for backend "
                          "{{ $labels.backend }} ({{ $labels.version }}) has been %s %s for " MONITOR_FOR
                          ", with at least %u labels in its window (feedback.%s).\"\n",
                          alert, metric, route, op, b, route, (unsigned)min_samples, route, route, what, what, route,
                          op[0] == '<' ? "below" : "above", b, (unsigned)min_samples, key);
}

static int concept_rule(sl_buf_t *out, const char *route, uint32_t min_samples)
{
    return sl_buf_appendf(out,
                          "      - alert: SluiceConceptDrift\n"
                          "        expr: |\n"
                          "          sluice_concept_drift_state{route=\"%s\",state=\"drift\"} == 1\n"
                          "          and on (route, backend, version)\n"
                          "          sluice_quality_window_samples{route=\"%s\"} >= %u\n"
                          "        labels:\n"
                          "          route: \"%s\"\n"
                          "          severity: ticket\n"
                          "        annotations:\n"
                          "          summary: \"route %s: concept drift on {{ $labels.backend }} ({{ $labels.version }})\"\n"
                          "          description: \"DDM or ADWIN found the error rate of {{ $labels.backend }} "
                          "({{ $labels.version }}) on route %s rising (sluice_concept_drift_signals_total says which); "
                          "check sluice_quality_accuracy and sluice_quality_error_rate.\"\n",
                          route, route, (unsigned)min_samples, route, route, route);
}

size_t sl_rules_monitored_routes(const sl_conf_t *conf)
{
    size_t n = 0;
    for (size_t i = 0; i != conf->num_routes; ++i)
        n += conf->routes[i].monitor.enabled != 0;
    return n;
}

int sl_rules_render_monitor(const sl_conf_route_t *r, sl_buf_t *out)
{
    const sl_conf_monitor_t *m = &r->monitor;
    const sl_conf_feedback_t *fb = &m->feedback;
    const char *name = r->name;
    if (!m->enabled)
        return SL_OK;
    int rc = sl_buf_appendf(out, "  - name: sluice-monitor-%s\n    rules:\n", name);
    if (rc == SL_OK)
        rc = drift_rules(out, name);
    if (rc == SL_OK && m->thresholds.null_ratio_alert > 0)
        rc = ratio_rule(out, name, "SluiceFeatureNullRatio", "sluice_feature_null_ratio", "missing", "null_ratio_alert",
                        m->thresholds.null_ratio_alert);
    if (rc == SL_OK && m->thresholds.type_error_ratio_alert > 0)
        rc = ratio_rule(out, name, "SluiceFeatureTypeErrors", "sluice_feature_type_error_ratio", "of the wrong type",
                        "type_error_ratio_alert", m->thresholds.type_error_ratio_alert);
    if (rc == SL_OK && fb->enabled && fb->task == SL_FEEDBACK_CLASSIFICATION && fb->min_accuracy > 0)
        rc = quality_rule(out, name, "SluiceModelAccuracy", "sluice_quality_accuracy", "<", fb->min_accuracy, m->min_samples,
                          "accuracy", "min_accuracy");
    if (rc == SL_OK && fb->enabled && fb->task == SL_FEEDBACK_REGRESSION && fb->has_max_mae)
        rc = quality_rule(out, name, "SluiceModelError", "sluice_quality_mae", ">", fb->max_mae, m->min_samples,
                          "mean absolute error", "max_mae");
    if (rc == SL_OK && fb->enabled)
        rc = concept_rule(out, name, m->min_samples);
    return rc;
}
