/*
 * canary_tail.h - exact tails of the discrete laws the canary checks need, and the alpha-spending rule that keeps
 * a check's false-alarm rate bounded however many times it looks.
 *
 *  - Alpha spending: look k (1, 2, 3, ...) of a check may reject at alpha_k = alpha 6 / (pi^2 k^2); the alpha_k
 *    sum to alpha (sum 1/k^2 = pi^2 / 6), so by the union bound the chance that any look of an unchanged canary
 *    rejects is at most alpha, whatever the looks share (overlapping, cumulative samples). A test that looks 10
 *    times spends 1.5% of alpha on its 10th look.
 *  - Binomial and hypergeometric tails: P(X >= x) and P(X <= x), summed in log space from x outward until the
 *    terms no longer change the sum, so tiny tails (1e-300) keep full relative accuracy and the cost is
 *    O(sqrt(n)) terms for tails of a large n, O(x) at most.
 *
 * Pure functions; any thread; no allocation; deterministic. Arguments are validated: out-of-domain arguments return
 * SL_EINVAL and leave *out untouched.
 */
#ifndef SL_STATS_CANARY_TAIL_H
#define SL_STATS_CANARY_TAIL_H

#include <stdint.h>

/* alpha 6 / (pi^2 k^2) for look k >= 1 (0 for k = 0). */
double sl_canary_spend(double alpha, uint64_t look);

/* X ~ Binomial(n, p), n < 2^53, p in [0, 1], x <= n: *out = P(X >= x) (sf) or P(X <= x) (cdf). */
int sl_canary_binom_sf(uint64_t x, uint64_t n, double p, double *out);
int sl_canary_binom_cdf(uint64_t x, uint64_t n, double p, double *out);

/* Two-sided exact binomial test of x successes in n trials against probability p, the "minlike" rule of
 * scipy.stats.binomtest: the sum of P(X = y) over every y with P(X = y) <= P(X = x) (1 + 1e-7). n >= 1, x <= n,
 * p in (0, 1). */
int sl_canary_binom_test(uint64_t x, uint64_t n, double p, double *out);

/* X ~ Hypergeometric(total, good, draws): draws taken without replacement from total items of which good are
 * marked, X the marked ones drawn (good, draws <= total < 2^53). *out = P(X >= x); 1 when x is at or below the
 * support's minimum, 0 above its maximum. This is the one-sided Fisher exact test of a 2 x 2 table. */
int sl_canary_hypergeom_sf(uint64_t x, uint64_t total, uint64_t good, uint64_t draws, double *out);

#endif
