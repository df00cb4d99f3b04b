/*
 * drift.h - distribution drift between a reference and a current window, over bins: the population stability
 * index (PSI) and the Jensen-Shannon distance, for numeric features (binned at the reference's quantiles) and for
 * categorical ones (one bin per category).
 *
 * Streaming: the reference's bin edges are computed once (control thread, from a sorted reference sample); each
 * current value then costs one O(log k) binary search (sl_drift_bin) and one counter increment, which a worker may
 * do on the request path (no allocation, no locks: the counters are the caller's per-worker shard). The measures
 * themselves are O(k) on the control thread. Everything is pure and deterministic.
 */
#ifndef SL_STATS_DRIFT_H
#define SL_STATS_DRIFT_H

#include "stats/drift-t.h"

#include <stddef.h>

/*
 * The k - 1 inner bin edges of a numeric feature: edge i (1 <= i < k) is the i/k quantile of the reference sample
 * ref[0..n) (sorted ascending, borrowed), by linear interpolation between order statistics (Hyndman-Fan type 7,
 * numpy.quantile's default, evaluated with numpy's two-sided lerp so edges agree bit for bit). Writes edges[0..k-1).
 * Duplicated edges (ties, a constant feature) are kept: the bins between them stay empty on both sides and add
 * nothing to PSI or JS. Returns SL_OK, or SL_EINVAL (n = 0, k < 2 or > SL_DRIFT_MAX_BINS, NaN/inf or unsorted
 * input; edges untouched).
 */
int sl_drift_edges(const double *ref, size_t n, uint32_t k, double *edges);

/* Bin of value v among the k bins cut by edges[0..k-1): the number of edges <= v, so bin 0 is (-inf, e_0), bin i
 * is [e_(i-1), e_i), bin k-1 is [e_(k-2), +inf) (numpy.searchsorted(edges, v, side='right')). O(log k), any
 * thread, no allocation. Returns SL_OK with *bin set, or SL_EINVAL (v is NaN: the caller counts a type error). */
int sl_drift_bin(const double *edges, uint32_t k, double v, uint32_t *bin);

/*
 * Population stability index of cur against ref (counts per bin, k bins):
 *     a_i = (cur_i / N_cur + eps) / (1 + k eps),  r_i = (ref_i / N_ref + eps) / (1 + k eps),
 *     PSI = sum_i (a_i - r_i) ln(a_i / r_i)
 * eps (0 < eps <= 0.1; SL_DRIFT_PSI_EPSILON by default) keeps empty bins finite; the renormalization keeps both
 * vectors summing to 1. Usual reading: < 0.1 stable, 0.1 - 0.25 moderate shift, > 0.25 major shift.
 * Either side empty: SL_OK with SL_STAT_NO_DATA. Returns SL_OK or SL_EINVAL (NULL, k = 0, bad eps).
 */
int sl_drift_psi(const uint64_t *ref, const uint64_t *cur, size_t k, double eps, sl_drift_result_t *out);

/*
 * Jensen-Shannon distance (base 2) between the bin distributions of ref and cur:
 *     p = ref / N_ref, q = cur / N_cur, m = (p + q) / 2,
 *     JS = sqrt( (sum p_i log2(p_i / m_i) + sum q_i log2(q_i / m_i)) / 2 ),  0 log 0 = 0,
 * as scipy.spatial.distance.jensenshannon(p, q, base=2): 0 for identical distributions, 1 for disjoint supports.
 * No epsilon is needed (m_i > 0 wherever a term is). Either side empty: SL_OK with SL_STAT_NO_DATA.
 * Returns SL_OK or SL_EINVAL (NULL, k = 0).
 */
int sl_drift_js(const uint64_t *ref, const uint64_t *cur, size_t k, sl_drift_result_t *out);

/* Smooths categorical reference counts into proportions for sl_chisq_gof: prop_i = (count_i + eps N) / (N (1 + k
 * eps)). Writes prop[0..k). Returns SL_OK, or SL_EINVAL (NULL, k = 0, eps outside (0, 0.1], no observations). */
int sl_drift_smooth(const uint64_t *counts, size_t k, double eps, double *prop);

#endif
