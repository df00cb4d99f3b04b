/*
 * moments-t.h - running count, mean, variance, min and max of a numeric stream (Welford), mergeable.
 */
#ifndef SL_STATS_MOMENTS_T_H
#define SL_STATS_MOMENTS_T_H

#include <stdint.h>

/* Zero-filled (or sl_moments_init) is empty. Plain data: a worker owns its shard, the control thread merges. */
typedef struct st_sl_moments_t {
    uint64_t n;   /* observations */
    double shift; /* the first value seen: the running sums are kept on x - shift */
    double mean;  /* running mean of x - shift (0 when n = 0) */
    double m2;    /* sum of squared deviations from the mean */
    double min, max;
} sl_moments_t;

#endif
