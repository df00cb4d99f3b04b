/*
 * hist-t.h - types of the mergeable log-linear latency histogram (stats/hist.c) and of its windowed ring
 * (stats/hist_ring.c).
 */
#ifndef SL_STATS_HIST_T_H
#define SL_STATS_HIST_T_H

#include <stdint.h>

/*
 * Bucket layout (values are integer microseconds):
 *   values 0 .. 64          one bucket each (exact)
 *   values 65 .. 2^32       each power-of-two range (2^k, 2^(k+1)] split into 32 equal sub-buckets
 *   values above 2^32 us    (71.6 minutes) counted in the top bucket and in `clamped`
 * Buckets are closed at the top, (lo, hi], like Prometheus `le` buckets, so a count "at most hi" is exact for
 * every bucket edge. A bucket (lo, hi] above 64 has hi - lo <= lo / 32; reporting its middle gives a value within
 * 1/64 (1.5625%) of any value in it.
 */
#define SL_HIST_SUB_BITS 5
#define SL_HIST_SUB (1u << SL_HIST_SUB_BITS) /* 32 linear sub-buckets per power of two */
#define SL_HIST_EXACT_MAX 64u                /* values up to this are held exactly */
#define SL_HIST_MAX_US ((uint64_t)1 << 32)   /* 4294.967296 s; larger values are clamped */
#define SL_HIST_BUCKETS 897u                 /* index of SL_HIST_MAX_US, plus one */
#define SL_HIST_REL_ERROR (1.0 / 64.0)       /* quantile bound, relative to the true sample quantile */

/* Prometheus bucket bounds (see sl_hist_prom_bounds_us): exact bucket edges nearest to a 1 ms .. 10 min ladder. */
#define SL_HIST_PROM_NUM 24u

/*
 * A histogram. One thread writes it (a worker, through sl_hist_record); any thread may read it concurrently with
 * sl_hist_merge() or sl_hist_delta() - fields are accessed with relaxed atomics, so a concurrent read sees each
 * counter whole but may see a record half-applied (the merge derives counts from the buckets it read, so its
 * result is always self-consistent). Its size is a multiple of 8, not of 64: a per-worker shard that holds
 * histograms pads itself to a cache line so two workers never write the same line.
 *
 * Memory: 7,216 bytes (897 eight-byte buckets and five counters).
 */
typedef struct st_sl_hist_t {
    uint64_t count;   /* values recorded; equals the sum of the buckets */
    uint64_t sum_us;  /* sum of the recorded values (not clamped), modulo 2^64 (5.8e5 years of latency) */
    uint64_t min_us;  /* smallest value, UINT64_MAX when empty */
    uint64_t max_us;  /* largest value, 0 when empty */
    uint64_t clamped; /* values above SL_HIST_MAX_US */
    uint64_t buckets[SL_HIST_BUCKETS];
} sl_hist_t;

/*
 * The last num_ticks ticks of a stream of per-tick histograms, and their sum: a windowed latency distribution
 * (the degrade controller's p99 over the last N seconds). Control thread only.
 * Memory: (num_ticks + 1) histograms, 7,216 bytes each: 440 KB for a 60-tick window.
 */
typedef struct st_sl_hist_ring_t {
    sl_hist_t *slots_private; /* num_ticks histograms; tick t lives in slot t mod num_ticks */
    sl_hist_t merged;         /* sum of the slots of ticks (head_tick - num_ticks, head_tick] */
    uint32_t num_ticks;
    int64_t head_tick; /* newest tick; never moves backward */
    uint64_t late;     /* pushes for a tick older than the head (counted in the head tick) */
} sl_hist_ring_t;

#endif
