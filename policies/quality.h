/*
 * quality.h - model quality from joined feedback, per backend and rollout version of a route, over a sliding window:
 * accuracy and macro precision / recall / F1 (classification), MAE and RMSE (regression), and the concept-drift
 * detectors DDM and ADWIN (stats/ddm.h, stats/adwin.h) on the stream of errors. docs/MONITORING.md gives the
 * formulas. Control thread only.
 */
#ifndef SL_POLICIES_QUALITY_H
#define SL_POLICIES_QUALITY_H

#include "policies/quality-t.h"

#include "policies/feedback-t.h"

/* Prepares the measures of one route: its feedback config (borrowed), the number of backends of the config (groups
 * are indexed by backend), the slots its window slides by (fb->window_ms / slots whole ms) and how long a detector's
 * signal holds the drift state. Returns SL_OK or SL_EINVAL (q untouched). Groups are allocated at their first join. */
int sl_quality_init(sl_quality_t *q, const sl_conf_feedback_t *fb, uint32_t num_backends, uint32_t slots, uint64_t hold_ms);
void sl_quality_dispose(sl_quality_t *q);

/*
 * Counts one joined prediction of (backend, version) at now_ms. Classification: predicted is the predicted label's
 * index (num_labels when the answer was none of the labels: a wrong answer that is no class's false positive),
 * truth the posted label's index; an error is predicted != truth. Regression: predicted and truth are the numbers;
 * e = predicted - truth, and an error for the detectors is |e| > tolerance (no detector without a tolerance).
 * Returns SL_OK, or SL_EINVAL (an index out of range, a non-finite number; nothing counted).
 */
int sl_quality_add(sl_quality_t *q, uint32_t backend, enum en_sl_feedback_version_t version, double predicted, double truth,
                   uint64_t now_ms);

/* The window at now_ms of (backend, version) into *out (a group without joins reads as zero with no data). Returns
 * SL_OK or SL_EINVAL (index out of range). */
int sl_quality_read(const sl_quality_t *q, uint32_t backend, enum en_sl_feedback_version_t version, uint64_t now_ms,
                    sl_quality_report_t *out);

/* Whether (backend, version) has had a join (its group exists). */
int sl_quality_has_group(const sl_quality_t *q, uint32_t backend, enum en_sl_feedback_version_t version);

/* "no_data", "ok", "warning", "drift". */
const char *sl_quality_concept_name(enum en_sl_concept_state_t state);

#endif
