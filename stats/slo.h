/*
 * slo.h - error budgets, burn rates and multi-window multi-burn-rate alert conditions of one SLO objective.
 *
 * Pure functions of (objective, counts): no clock, no I/O, no allocation except in sl_slo_first_alerts().
 * No result is ever NaN or infinite: zero traffic is reported as has_data = 0 (or SL_ENOENT).
 */
#ifndef SL_STATS_SLO_H
#define SL_STATS_SLO_H

#include "stats/slo-t.h"

#include <stddef.h>

#include "stats/window-t.h"

/* Minutes of each enum en_sl_slo_window_t: 5, 30, 60, 120, 360, 1440, 4320. */
extern const uint32_t sl_slo_window_minutes[SL_SLO_NUM_WINDOWS];
/* Label of each window: "5m", "30m", "1h", "2h", "6h", "1d", "3d". */
extern const char *const sl_slo_window_names[SL_SLO_NUM_WINDOWS];
/* The four rules, indexed by enum en_sl_slo_rule_id_t: page 1h/5m 2%, page 6h/30m 5%, ticket 1d/2h 10%,
 * ticket 3d/6h 10%. */
extern const sl_slo_rule_t sl_slo_rules[SL_SLO_NUM_RULES];

/*
 * Initializes an objective from a target share of good requests in (0, 1) (0.999 for 99.9%) and a period in
 * minutes (1 .. SL_WINDOW_MAX_MINUTES). The target is rounded to the nearest part per billion, which must fall
 * in 1 .. 999999999. Returns SL_OK, or SL_EINVAL (NaN, out of range; *slo untouched). Any thread.
 */
int sl_slo_init(sl_slo_t *slo, double target, uint32_t period_min);

/* Same with the target already in parts per billion (1 .. SL_SLO_PPB - 1). */
int sl_slo_init_ppb(sl_slo_t *slo, uint32_t target_ppb, uint32_t period_min);

/* Capacity the objective's sl_window_t needs: max(period, 3 days), in minutes. */
uint32_t sl_slo_window_capacity_min(const sl_slo_t *slo);

/* Allowed bad requests out of total: (1 - target) x total. 0 when total is 0. */
double sl_slo_allowed_bad(const sl_slo_t *slo, uint64_t total);

/*
 * Budget remaining over counts s: 1 - bad / ((1 - target) x total), computed exactly in integers and rounded once
 * at the end. 1 means untouched, 0 exactly spent, below 0 overspent (no lower bound).
 * Returns SL_OK with *out set, SL_ENOENT when s.total == 0 (no data), SL_EINVAL when s.good > s.total; *out is
 * untouched unless SL_OK.
 */
int sl_slo_budget_remaining(const sl_slo_t *slo, sl_window_sum_t s, double *out);

/*
 * Burn rate over counts s: (bad / total) / (1 - target), the speed at which the budget is spent (1 = exactly the
 * whole budget over one period). Same returns as sl_slo_budget_remaining().
 */
int sl_slo_burn_rate(const sl_slo_t *slo, sl_window_sum_t s, double *out);

/* The rule's threshold, share x period / long window (14.4 for page_1h of a 30-day period, 13.44 for 28 days),
 * as a double for display. Decisions never use it: see sl_slo_burn_above(). */
double sl_slo_threshold(const sl_slo_t *slo, enum en_sl_slo_rule_id_t rule);

/*
 * 1 when the burn rate over s is strictly above the rule's threshold, decided exactly in 128-bit integers:
 * bad x 10^9 x 10^4 x long_min > total x budget_ppb x share_bp x period_min. 0 otherwise, and 0 when s.total is 0
 * (no data never fires) or s.good > s.total.
 */
int sl_slo_burn_above(const sl_slo_t *slo, enum en_sl_slo_rule_id_t rule, sl_window_sum_t s);

/*
 * Fills *out from counts alone: period = counts over the SLO period, sums = counts over each burn window (indexed
 * by enum en_sl_slo_window_t). A rule fires when both its long and its short window are above its threshold.
 * Returns SL_OK, or SL_EINVAL when some good > total (*out untouched). Pure; any thread.
 */
int sl_slo_evaluate_sums(const sl_slo_t *slo, sl_window_sum_t period, const sl_window_sum_t sums[SL_SLO_NUM_WINDOWS],
                         sl_slo_report_t *out);

/*
 * Reads the period and every burn window ending at minute now_min from w (whose capacity must be at least
 * sl_slo_window_capacity_min(slo)) and evaluates them. Returns SL_OK, or SL_EINVAL (window too small; *out
 * untouched). Control thread (w is single-threaded).
 */
int sl_slo_evaluate(const sl_slo_t *slo, const sl_window_t *w, int64_t now_min, sl_slo_report_t *out);

/*
 * Replays a per-minute trace - trace[i] holds the counts of minute first_min + i - and reports the first minute at
 * whose end each condition held (counts of that minute included), or SL_SLO_NEVER. This is the time the math
 * implies; a policy ticking every few seconds must fire within one tick of it. Allocates a window for the replay.
 * Returns SL_OK, or SL_EINVAL (a minute with good > total, or first_min out of range; *out untouched).
 */
int sl_slo_first_alerts(const sl_slo_t *slo, const sl_window_sum_t *trace, size_t n, int64_t first_min, sl_slo_first_t *out);

#endif
