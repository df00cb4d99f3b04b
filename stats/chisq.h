/*
 * chisq.h - Pearson's chi-square tests for categorical features and predictions: goodness of fit of observed
 * counts to reference proportions, and homogeneity of two count vectors (a 2 x k contingency table).
 *
 * Pure functions; any thread; no allocation; O(k). Counts are exact integers up to 2^53 each (9e15).
 */
#ifndef SL_STATS_CHISQ_H
#define SL_STATS_CHISQ_H

#include "stats/chisq-t.h"

#include <stddef.h>

/*
 * Goodness of fit: observed[0..k) against reference proportions prop[0..k) (finite, >= 0, not all 0; they are
 * normalized here, so raw reference counts work too). E_i = N prop_i / sum(prop); statistic sum (O_i - E_i)^2 / E_i
 * over the categories with prop_i > 0, dof = (their number) - 1, p = chi2 sf, exactly
 * scipy.stats.chisquare(observed, E). A category with prop_i = 0 is left out; observations in one are impossible
 * under the reference: they are counted in `unseen` and make p_value 0 (statistic still over the others). Callers
 * that estimate prop from a finite sample should smooth it first (sl_drift_smooth) when unseen categories are
 * expected. N = 0 or fewer than 2 categories with prop_i > 0: SL_OK with SL_STAT_NO_DATA.
 * Returns SL_OK or SL_EINVAL (NULL, k = 0, bad proportions, a count above 2^53; *out untouched).
 */
int sl_chisq_gof(const uint64_t *observed, const double *prop, size_t k, sl_chisq_result_t *out);

/*
 * Homogeneity: are a[0..k) and b[0..k) draws from the same categorical distribution? The 2 x k table's expected
 * counts are row total * column total / N; categories empty in both are left out; statistic and dof = (usable
 * columns) - 1 exactly as scipy.stats.chi2_contingency([a, b], correction=False) on the table without its empty
 * columns. Either row empty, or fewer than 2 usable columns: SL_OK with SL_STAT_NO_DATA.
 * Returns SL_OK or SL_EINVAL (NULL, k = 0, a count above 2^53; *out untouched).
 */
int sl_chisq_homogeneity(const uint64_t *a, const uint64_t *b, size_t k, sl_chisq_result_t *out);

#endif
