/*
 * ks.h - the two-sample Kolmogorov-Smirnov test (two-sided), for drift of a numeric feature or of a prediction
 * score against a reference sample, and for the canary's confidence distribution.
 *
 * Control thread; deterministic. The exact p-value allocates one column of min(n_x, n_y) + 1 doubles per call.
 */
#ifndef SL_STATS_KS_H
#define SL_STATS_KS_H

#include "stats/ks-t.h"

#include <stddef.h>

/*
 * D = sup_t |F_x(t) - F_y(t)| over two samples sorted ascending (borrowed, not modified), and its two-sided
 * p-value as scipy.stats.ks_2samp(x, y, method='auto') computes it:
 *  - max(n_x, n_y) <= SL_KS_EXACT_MAX_N: exact. With g = gcd(n_x, n_y) and h = lcm * D (an integer), the
 *    probability that a uniformly random lattice path from (0, 0) to (n_x, n_y) reaches |i n_y/g - j n_x/g| >= h.
 *    n_x = n_y: the reflection series 2 sum_k (-1)^(k-1) C(2n, n - kh) / C(2n, n), O(n). Otherwise a dynamic
 *    programme over the band of the lattice, O(n_x n_y D) (at most 1e8 cell updates, ~0.2 s, at 10,000 x 10,000).
 *    Ties in the data do not change the null law used (as scipy).
 *  - otherwise: sl_special_kstwo_sf(round(n_x n_y / (n_x + n_y)), D) (round half to even).
 * Either sample empty: SL_OK with status SL_STAT_NO_DATA. Returns SL_OK, or SL_EINVAL (NULL with a non-zero
 * length, NaN, unsorted input), or SL_ERANGE (a sample longer than 2^31 - 1); *out untouched on failure.
 */
int sl_ks_test_sorted(const double *x, size_t n_x, const double *y, size_t n_y, sl_ks_result_t *out);

/* The same on unsorted samples, which it sorts in place first (x and y are reordered). */
int sl_ks_test(double *x, size_t n_x, double *y, size_t n_y, sl_ks_result_t *out);

/*
 * The exact null tail: *p = P(D >= h / lcm(n_x, n_y)) for samples of sizes n_x, n_y (1 .. 2^31 - 1) and an
 * integer distance h (0 .. lcm), computed as described above, accurate to relative ~1e-14 even for tiny p (the
 * crossing probability is propagated directly, never formed as 1 - P(inside)). Returns SL_OK or SL_EINVAL.
 */
int sl_ks_exact_sf(uint64_t n_x, uint64_t n_y, uint64_t h, double *p);

#endif
