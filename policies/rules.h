/*
 * rules.h - Prometheus recording and alerting rules for the SLOs and the model monitors a config declares
 * (`sluice rules`; the monitors' alerts: rules_monitor.c).
 *
 * The rules read the counters the gateway exports (sluice_slo_requests_total, sluice_slo_good_total; docs/SLO.md)
 * and alert with the same multi-window multi-burn-rate conditions and the same exact thresholds as the in-process
 * alerts (stats/slo.h), so Prometheus and /admin/state agree on what is burning - summed over every replica.
 */
#ifndef SL_POLICIES_RULES_H
#define SL_POLICIES_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "common/str.h"
#include "conf/conf-t.h"

/*
 * Appends a Prometheus rule file (YAML) for every declared SLO objective of conf to out: one group per route with
 * recording rules for the SLI and error ratios over every burn window (5m .. 3d) and its SLO window, per-objective
 * burn rates and budget remaining, and one page and one ticket alert per objective; then one group of alerts per
 * monitored route (sl_rules_render_monitor). A config without SLOs and monitors gives a file with no groups.
 * *num_objectives (if not NULL) receives the number of objectives covered. Returns SL_OK, SL_EINVAL (a target that
 * cannot be held in parts per billion; nothing appended) or SL_ENOMEM (out's cap; out's length restored).
 * Pure over conf; any thread.
 */
int sl_rules_render(const sl_conf_t *conf, sl_buf_t *out, size_t *num_objectives);

/*
 * Writes num / den (den > 0) as a decimal number: exact when the fraction terminates within 40 fractional
 * digits ("0.01344", "13.44", "5"), else rounded half up to 17 significant digits ("0.93333333333333333"; an
 * integer part longer than 17 digits is written whole, without a fraction).
 * Returns buf.
 */
/*
 * Appends the group sluice-monitor-<route> of route r's monitor (nothing without one): SluiceFeatureDrift always,
 * SluiceFeatureNullRatio / SluiceFeatureTypeErrors with their alert thresholds, SluiceModelAccuracy (feedback
 * min_accuracy) or SluiceModelError (max_mae), and SluiceConceptDrift with feedback. Returns SL_OK or SL_ENOMEM
 * (out's cap; what was appended stays: the caller restores). Pure; any thread.
 */
int sl_rules_render_monitor(const sl_conf_route_t *r, sl_buf_t *out);

/* Routes of conf with a monitor block. */
size_t sl_rules_monitored_routes(const sl_conf_t *conf);

const char *sl_rules_format_ratio(unsigned __int128 num, unsigned __int128 den, char *buf, size_t bufsz);

#endif
