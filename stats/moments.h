/*
 * moments.h - Welford's running mean and variance, with Chan et al.'s merge so per-worker shards combine exactly
 * as if one thread had seen every value.
 */
#ifndef SL_STATS_MOMENTS_H
#define SL_STATS_MOMENTS_H

#include "stats/moments-t.h"

#include "stats/special-t.h"

/* Empties m. */
void sl_moments_init(sl_moments_t *m);

/* Adds one finite value: O(1), no allocation, for the request path (on the caller's own shard). Returns SL_OK, or
 * SL_EINVAL (x is NaN or infinite: not counted, m untouched). */
int sl_moments_observe(sl_moments_t *m, double x);

/* dst = dst merged with src (Chan, Golub and LeVeque, "Algorithms for computing the sample variance", 1983):
 * n = na + nb, mean = ma + d nb / n, m2 = m2a + m2b + d^2 na nb / n with d = mb - ma. Either may be empty.
 * src is borrowed and unchanged; dst and src may not alias. Control thread (or whoever owns dst). */
void sl_moments_merge(sl_moments_t *dst, const sl_moments_t *src);

/* Reads the summary: mean, population variance m2/n, sample variance m2/(n-1), min, max. Returns SL_STAT_OK, or
 * SL_STAT_NO_DATA with every output 0 when n = 0; with n = 1 the sample variance is 0 (there is no spread to see).
 * Any output pointer may be NULL. */
enum en_sl_stat_status_t sl_moments_read(const sl_moments_t *m, double *mean, double *var_pop, double *var_sample, double *min,
                                         double *max);

#endif
