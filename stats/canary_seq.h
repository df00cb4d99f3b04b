/*
 * canary_seq.h - an always-valid sequential test that a canary's error rate exceeds the concurrent stable error
 * rate, exact for the rare events errors are, usable at every control tick however many looks a rollout takes.
 *
 * Model. In one batch (a tick) the canary served n_t requests and the stable version n_c, concurrently; together
 * they failed E = e_t + e_c times. If the canary's error rate is r times the stable one, each failure came from the
 * canary with probability pi(r) = n_t r / (n_t r + n_c), so given E, e_t ~ Binomial(E, pi(r)) (exact for Poisson
 * errors; for Bernoulli requests with r = 1 the exact law is hypergeometric, which is smaller in the convex order,
 * so the bound below still holds). The test compares each alternative r = min_ratio x g_k (g_k on a fixed grid of
 * SL_CANARY_SEQ_GRID ratios from 1.5 to 64) with the null boundary r = min_ratio:
 *     log LR_k += e_t log g_k - E log(1 + w (g_k - 1)),   w = n_t min_ratio / (n_t min_ratio + n_c)
 * and mixes them with fixed weights v_k (summing to 1; twice the mass on g = 3 to 8), Lambda = sum_k v_k exp(log LR_k). Under H0 (r <= min_ratio) Lambda is a
 * non-negative supermartingale over batches, so by Ville's inequality P(Lambda ever >= 1/alpha) <= alpha: the
 * p-value exp(-max log Lambda) is valid at any stopping time, whatever the number and the sizes of the batches
 * (Robbins 1970; Johari, Pekelis and Walsh, "Always valid inference", 2015). Conditioning on the batch totals
 * removes the unknown stable rate exactly, with no normal approximation: a canary failing 10 of its first 20
 * requests is rejected after a handful of them, and the false-alarm bound holds at error rates of 0.1%.
 *
 * O(SL_CANARY_SEQ_GRID) per batch, no allocation, deterministic.
 */
#ifndef SL_STATS_CANARY_SEQ_H
#define SL_STATS_CANARY_SEQ_H

#include "stats/canary_seq-t.h"

/* Starts a test: no batches, p-value 1. Returns SL_OK, or SL_EINVAL (alpha outside (0, 1), min_ratio below 1 or
 * not finite; *s untouched). */
int sl_canary_seq_init(sl_canary_seq_t *s, const sl_canary_seq_params_t *params);

/*
 * Adds one batch of concurrent counts (errors <= requests on each version; each count below 2^53). A batch with
 * no request on one of the versions says nothing about the ratio by itself (every failure in it belongs to the one
 * version with traffic), so it is held back and pooled with the following batches until both versions have had
 * requests; the pooled batch then counts as one. Pooling depends only on request counts, never on failures, so the
 * bound holds (with low traffic and short ticks most ticks are one-sided: dropping them would lose most failures).
 * Updates the running p-value and the sticky `rejected`, and describes the test after the batch in *out (NULL
 * allowed). Returns SL_OK, or SL_EINVAL (errors > requests, a count or a cumulative count above 2^53; nothing
 * changed).
 */
int sl_canary_seq_update(sl_canary_seq_t *s, uint64_t errors_t, uint64_t n_t, uint64_t errors_c, uint64_t n_c,
                         sl_canary_seq_result_t *out);

/*
 * The evidence the test should hold by now if the canary failed at rate p_t and stable at p_c, over the batches
 * applied so far (their sizes as they were): a lower bound on E[log Lambda],
 *     max_k E[log LR_k] + log v_k,   E[log LR_k] = p_t (N_t log g_k - sum_b n_t,b L_bk) - p_c sum_b n_c,b L_bk
 * with L_bk = log(1 + w_b (g_k - 1)) and N_t the canary requests of the applied batches (E[e_t] = n_t p_t and
 * E[E] = n_t p_t + n_c p_c in each batch; log Lambda >= log LR_k + log v_k for every k). When it reaches log(1/alpha),
 * such a canary would have been rejected about half the time or more: the test has had the power to see it.
 * max_k log v_k before the first batch. Rates in [0, 1].
 */
double sl_canary_seq_expected(const sl_canary_seq_t *s, double p_t, double p_c);

/*
 * sl_canary_seq_update, pooling until the held-back batch also has at least stable_per_canary stable requests per
 * canary request (>= 0; 0 is sl_canary_seq_update). Batches of alike composition lose no evidence to the
 * conditioning on their failure totals; the rule depends on request counts only, so the bound holds.
 */
int sl_canary_seq_update_pooled(sl_canary_seq_t *s, uint64_t errors_t, uint64_t n_t, uint64_t errors_c, uint64_t n_c,
                                double stable_per_canary, sl_canary_seq_result_t *out);

/* The test's current figures (as the last update reported them) without adding a batch. */
void sl_canary_seq_read(const sl_canary_seq_t *s, sl_canary_seq_result_t *out);

/* The grid ratios g_k (relative to min_ratio) and their mixture weights v_k, for documentation and tests (0 when k
 * is out of range). */
double sl_canary_seq_grid(unsigned k);
double sl_canary_seq_weight(unsigned k);

/*
 * Sample-ratio mismatch, sequentially: x of n requests went to the canary where a share w (0 < w < 1) was
 * expected. *out = log Lambda of the beta-binomial mixture against Binomial(n, w):
 *     Lambda = B(a + x, b + n - x) / B(a, b) / (w^x (1 - w)^(n - x)),   a = c w,  b = c (1 - w)
 * a Beta prior of mean w and concentration c over the true share (Lindon and Malek, "Anytime-valid inference for
 * multinomial count data", NeurIPS 2022, with two categories). Under H0 it is a martingale in n, so
 * P(Lambda ever >= 1/alpha) <= alpha: the check may look at every tick. c sets the mismatch it detects soonest
 * (about sqrt(w (1 - w) / c) away from w). Returns SL_OK, or SL_EINVAL (x > n, n >= 2^53, w outside (0, 1), c not
 * positive and finite; *out untouched).
 */
int sl_canary_srm_log_lambda(uint64_t x, uint64_t n, double w, double c, double *out);

/* Checks a state read back from storage: finite numbers, counts consistent, parameters valid. Returns SL_OK or
 * SL_EINVAL. */
int sl_canary_seq_validate(const sl_canary_seq_t *s);

#endif
