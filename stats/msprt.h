/*
 * msprt.h - a sequential test of two error rates whose false-alarm rate holds however often it is looked at: the
 * mixture sequential probability ratio test (mSPRT) of Johari, Koomen, Pekelis and Walsh, "Peeking at A/B tests"
 * (KDD 2017) / Johari, Pekelis and Walsh, "Always valid inference" (2015), in its normal-approximation form for the
 * difference of two proportions.
 *
 * At a look with e_t errors in n_t treatment (canary) requests and e_c in n_c control (stable) ones:
 *     diff = e_t/n_t - e_c/n_c
 *     V    = pt (1 - pt) / n_t + pc (1 - pc) / n_c,   pt = (e_t + 1/2) / (n_t + 1),  pc likewise
 *     log Lambda = 1/2 log(V / (V + tau^2)) + tau^2 (diff - min_effect)^2 / (2 V (V + tau^2))
 * (GREATER: log Lambda = 0 unless diff > min_effect), and the always-valid p-value is p = min(p, 1 / Lambda) over
 * all looks so far. Under H0, P(p ever <= alpha) <= alpha (Ville's inequality on the mixture martingale), in the
 * normal approximation. The variance is the plug-in estimate with each rate shrunk by half an observation (the
 * Jeffreys prior mean), so it is never 0: with raw rates, one failed request among the first canary requests
 * would give V = 0 and an infinite ratio. tau sets where the test is most sensitive: effects near tau are detected
 * soonest; much smaller ones need more data, much larger ones are detected anyway.
 *
 * O(1) per look, no allocation, deterministic; one thread (the control thread's analysis tick).
 */
#ifndef SL_STATS_MSPRT_H
#define SL_STATS_MSPRT_H

#include "stats/msprt-t.h"

/* Fills *params with the defaults: tau 0.05, alpha 0.05, min_effect 0, min_samples 1, side GREATER. */
void sl_msprt_params_default(sl_msprt_params_t *params);

/* Starts a test (p-value 1, no looks). Returns SL_OK, or SL_EINVAL (tau not > 0 and finite, alpha outside (0, 1),
 * min_effect < 0 or not finite, TWO_SIDED with min_effect != 0, min_samples 0; *m untouched). */
int sl_msprt_init(sl_msprt_t *m, const sl_msprt_params_t *params);

/*
 * One look at the cumulative counts since the test started (errors <= requests on each arm; counts never
 * decrease between looks, which is not checked). Updates the running p-value and the sticky `rejected`, and
 * describes the look in *out. An arm with fewer than min_samples requests: SL_OK with SL_STAT_NO_DATA and the
 * state unchanged. Returns SL_OK or SL_EINVAL (errors > requests, a count above 2^53; nothing changed).
 */
int sl_msprt_look(sl_msprt_t *m, uint64_t errors_t, uint64_t n_t, uint64_t errors_c, uint64_t n_c, sl_msprt_result_t *out);

/* The pure part of a look: *log_lr, *diff and *variance for the given counts and parameters (validated as in
 * sl_msprt_init/sl_msprt_look; n_t, n_c >= 1). Returns SL_OK or SL_EINVAL. */
int sl_msprt_log_lr(const sl_msprt_params_t *params, uint64_t errors_t, uint64_t n_t, uint64_t errors_c, uint64_t n_c,
                    double *log_lr, double *diff, double *variance);

#endif
