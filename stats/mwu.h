/*
 * mwu.h - the two-sided Mann-Whitney U (Wilcoxon rank-sum) test with its common-language effect size, as the
 * canary latency check uses it (Kayenta's judge compares canary and stable samples with this test and an
 * effect-size floor).
 *
 * Control thread (the work is O(n log n) or O(n)); no allocation; deterministic.
 */
#ifndef SL_STATS_MWU_H
#define SL_STATS_MWU_H

#include "stats/mwu-t.h"

#include <stddef.h>

/*
 * Tests whether x and y (each sorted ascending; borrowed, not modified) come from the same distribution.
 * U_x counts the pairs with x_i > y_j plus half the ties; the p-value is the normal approximation with the tie
 * correction sigma^2 = n_x n_y / 12 ((n + 1) - sum(t^3 - t) / (n (n - 1))) and a continuity correction of 1/2,
 * exactly scipy.stats.mannwhitneyu(x, y, alternative='two-sided', method='asymptotic', use_continuity=True).
 * One merge pass, O(n_x + n_y). Either sample empty: SL_OK with status SL_STAT_NO_DATA.
 * Returns SL_OK, or SL_EINVAL (NULL with a non-zero length, a NaN, or a sample not sorted; *out untouched).
 */
int sl_mwu_test_sorted(const double *x, size_t n_x, const double *y, size_t n_y, sl_mwu_result_t *out);

/* The same on unsorted samples, which it sorts in place first (O(n log n); x and y are reordered). Returns as
 * sl_mwu_test_sorted(); on SL_EINVAL the samples may have been reordered but are otherwise unchanged. */
int sl_mwu_test(double *x, size_t n_x, double *y, size_t n_y, sl_mwu_result_t *out);

/* Sorts a[0..n) ascending in place (NaN-free input); shared by the two-sample tests. */
void sl_mwu_sort(double *a, size_t n);

#endif
