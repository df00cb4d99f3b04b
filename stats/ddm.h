/*
 * ddm.h - the Drift Detection Method of Gama, Medas, Castillo and Rodrigues, "Learning with drift detection"
 * (SBIA 2004), on a stream of prediction errors (1 = wrong, 0 = right): it watches the error rate p_i of the
 * samples since its last restart and its binomial standard deviation s_i = sqrt(p_i (1 - p_i) / i), remembers the
 * point where p + s was smallest (p_min, s_min), and signals a warning when p_i + s_i > p_min + 2 s_min and a
 * drift when p_i + s_i > p_min + 3 s_min, after a minimum of 30 samples; a drift restarts it.
 */
#ifndef SL_STATS_DDM_H
#define SL_STATS_DDM_H

#include "stats/ddm-t.h"

/* Fills *params with the paper's settings: 30 samples, warning 2, drift 3. */
void sl_ddm_params_default(sl_ddm_params_t *params);

/* Starts a detector. Returns SL_OK, or SL_EINVAL (min_samples 0, warning <= 0, drift <= warning, non-finite). */
int sl_ddm_init(sl_ddm_t *d, const sl_ddm_params_t *params);

/*
 * Feeds one outcome (error: 0 or 1). For sample i since the restart (i counted from 1): p = errors / i,
 * s = sqrt(p (1 - p) / i). While i < min_samples the state is IN_CONTROL. From i = min_samples on: if
 * p + s < p_min + s_min the minimum moves to (p, s); then DRIFT if p + s > p_min + drift s_min (and the detector
 * restarts: counts and minimum cleared), else WARNING if p + s > p_min + warning s_min, else IN_CONTROL.
 * The comparisons are strict: with the paper's ">=" a run of error-free samples (s_min = 0) would signal drift
 * at once. Note that a minimum taken while p = 0 (no error in the first min_samples) makes the next error a drift:
 * DDM suits error rates with several errors per min_samples. O(1), no allocation.
 * Returns SL_OK with *state set (may be NULL), or SL_EINVAL (error not 0 or 1; nothing changed).
 */
int sl_ddm_observe(sl_ddm_t *d, int error, enum en_sl_ddm_state_t *state);

#endif
