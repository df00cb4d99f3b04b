/*
 * rollout_render.h - a rollout as JSON for /admin/state and as Prometheus metrics for /metrics
 * (policies/rollout_render.c; the metric families are listed in docs/ROLLOUTS.md).
 */
#ifndef SL_POLICIES_ROLLOUT_RENDER_H
#define SL_POLICIES_ROLLOUT_RENDER_H

#include "common/str.h"
#include "policies/rollout-t.h"

/* Appends one JSON object: names, phase, step, steps, weight, hold reason, the latest verdict of each check with its
 * numbers, and the decision history with the evidence of each event. route and backend (the tier's own backend)
 * are config names (no escaping needed). Returns SL_OK, or SL_ENOMEM at out's cap (out as it was). */
int sl_rollout_render_json(const sl_rollout_t *r, const char *route, const char *backend, sl_buf_t *out);

/* Appends the HELP and TYPE lines of the rollout metric families, once per /metrics page. */
void sl_rollout_render_metrics_header(sl_buf_t *out);

/* Appends one rollout's samples: sluice_rollout_weight, sluice_rollout_state{state}, sluice_rollout_step,
 * sluice_rollout_verdict{check,outcome}, sluice_rollout_verdicts_total{check,outcome},
 * sluice_rollout_rollbacks_total, each labelled route, backend and canary. Returns SL_OK, or SL_ENOMEM at out's
 * cap (out as it was). */
int sl_rollout_render_metrics(const sl_rollout_t *r, const char *route, const char *backend, sl_buf_t *out);

#endif
