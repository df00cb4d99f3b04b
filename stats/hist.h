/*
 * hist.h - mergeable log-linear latency histogram (HDR-style) with quantiles, exact Prometheus bucket counts, and a
 * windowed ring of per-tick histograms.
 *
 * Per-worker shards are recorded into on the data path (O(1), integer operations only, no allocation) and summed
 * on the control thread. Values are integer microseconds.
 */
#ifndef SL_STATS_HIST_H
#define SL_STATS_HIST_H

#include "stats/hist-t.h"

#include <stddef.h>

#define SL_HIST_LOAD_(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define SL_HIST_STORE_(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

/* Exact Prometheus `le` bounds in microseconds, ascending, each the top of a bucket: 992 us, 2.496 ms, ... 603.98 s
 * (the edges nearest to 1, 2.5, 5, 10, 25, 50, 100, 150, 250, 400, 600 ms, 1, 1.5, 2.5, 4, 6, 10, 15, 25, 40, 60 s,
 * 2, 5, 10 min). */
extern const uint64_t sl_hist_prom_bounds_us[SL_HIST_PROM_NUM];
/* The same bounds in seconds as Prometheus label values ("0.000992", ... "603.979776"), exact decimals. */
extern const char *const sl_hist_prom_labels[SL_HIST_PROM_NUM];

/* Index of the bucket holding value_us: value_us itself up to 64, then log-linear; values above SL_HIST_MAX_US go
 * to the top bucket. O(1): one count-leading-zeros, a shift and an add. */
static inline uint32_t sl_hist_index(uint64_t value_us)
{
    if (value_us <= SL_HIST_EXACT_MAX)
        return (uint32_t)value_us;
    if (value_us > SL_HIST_MAX_US)
        value_us = SL_HIST_MAX_US;
    uint64_t x = value_us - 1; /* buckets are (lo, hi]: index by value - 1, which is >= 64 here */
    uint32_t shift = (uint32_t)(63 - __builtin_clzll(x)) - SL_HIST_SUB_BITS;
    return shift * SL_HIST_SUB + (uint32_t)(x >> shift) + 1;
}

/* The values bucket `index` (< SL_HIST_BUCKETS) holds: [*lo_us, *hi_us], both inclusive. */
void sl_hist_bucket_range(uint32_t index, uint64_t *lo_us, uint64_t *hi_us);

/* Empties h. Call it on a histogram nobody writes concurrently (its owner, or before publishing it). */
void sl_hist_init(sl_hist_t *h);

/*
 * Records n occurrences of value_us. O(1): integer operations only, no allocation, no lock.
 * Only the thread that owns h may call it (single writer); readers on other threads see relaxed-atomic counters.
 */
static inline void sl_hist_record_n(sl_hist_t *h, uint64_t value_us, uint64_t n)
{
    uint32_t i = sl_hist_index(value_us);
    SL_HIST_STORE_(&h->buckets[i], SL_HIST_LOAD_(&h->buckets[i]) + n);
    SL_HIST_STORE_(&h->count, SL_HIST_LOAD_(&h->count) + n);
    SL_HIST_STORE_(&h->sum_us, SL_HIST_LOAD_(&h->sum_us) + value_us * n);
    if (value_us > SL_HIST_MAX_US)
        SL_HIST_STORE_(&h->clamped, SL_HIST_LOAD_(&h->clamped) + n);
    if (n != 0 && value_us < SL_HIST_LOAD_(&h->min_us))
        SL_HIST_STORE_(&h->min_us, value_us);
    if (n != 0 && value_us > SL_HIST_LOAD_(&h->max_us))
        SL_HIST_STORE_(&h->max_us, value_us);
}

static inline void sl_hist_record(sl_hist_t *h, uint64_t value_us)
{
    sl_hist_record_n(h, value_us, 1);
}

/* Values recorded, and their sum in microseconds (modulo 2^64). Any thread. */
uint64_t sl_hist_count(const sl_hist_t *h);
uint64_t sl_hist_sum_us(const sl_hist_t *h);

/*
 * Adds src into dst (dst += src). src may be a shard its owner is still writing; dst must be private to the caller
 * (control thread). dst's count becomes the sum of its buckets. O(buckets).
 */
void sl_hist_merge(sl_hist_t *dst, const sl_hist_t *src);

/*
 * out = now - prev, for two snapshots of one growing histogram (the per-tick increment of a merged shard sum).
 * min/max of the difference are not known exactly; they are set to the edges of its lowest and highest non-empty
 * buckets, which still bound every value in it. Returns SL_OK, or SL_ERANGE when some bucket of prev exceeds now
 * (prev is not an earlier snapshot; *out untouched). out may alias neither input. Control thread.
 */
int sl_hist_delta(sl_hist_t *out, const sl_hist_t *now, const sl_hist_t *prev);

/*
 * The q-quantile (0 <= q <= 1) of the recorded values: the value of rank ceil(q x count) (at least 1) in sorted
 * order, the "inverted CDF" definition (Hyndman and Fan type 1). Reports the middle of the bucket holding that
 * rank, kept within [min, max]; the result is within SL_HIST_REL_ERROR (1/64) of the true value, exact for values
 * up to 64 us. Values clamped above SL_HIST_MAX_US make the top quantiles a lower bound.
 * Returns SL_OK with *out_us set, SL_ENOENT when h is empty (no data), SL_EINVAL for q outside [0, 1] or NaN;
 * *out_us untouched unless SL_OK. O(buckets). Reads h without writing it.
 */
int sl_hist_quantile(const sl_hist_t *h, double q, double *out_us);

/* Cumulative counts at the Prometheus bounds: out[i] = number of values <= sl_hist_prom_bounds_us[i], exactly
 * (the +Inf bucket is sl_hist_count()). O(buckets). */
void sl_hist_prom_cumulative(const sl_hist_t *h, uint64_t out[SL_HIST_PROM_NUM]);

/*
 * Ring of per-tick histograms covering the last num_ticks ticks (1 .. 86400). A tick is any caller-chosen time step
 * (the control loop's, e.g. one second) numbered by a non-negative int64 passed in; nothing here reads a clock.
 * init allocates num_ticks histograms and starts empty at now_tick; returns SL_OK or SL_EINVAL. Control thread.
 */
int sl_hist_ring_init(sl_hist_ring_t *r, uint32_t num_ticks, int64_t now_tick);
void sl_hist_ring_dispose(sl_hist_ring_t *r);

/* Moves the head forward to now_tick; ticks that fall out of the window leave the sum. A tick at or before the head
 * changes nothing. Cost O(min(gap, num_ticks) x buckets) when ticks expire, O(1) otherwise. */
int sl_hist_ring_advance(sl_hist_ring_t *r, int64_t now_tick);

/* Adds the histogram of one tick (advancing to it first). A tick older than the head is added to the head tick and
 * counted in r->late. Returns SL_OK or SL_EINVAL (negative tick). O(buckets). */
int sl_hist_ring_push(sl_hist_ring_t *r, int64_t tick, const sl_hist_t *h);

/* The q-quantile of every value in ticks (head - num_ticks, head], as sl_hist_quantile() (SL_ENOENT when the window
 * holds nothing). Call sl_hist_ring_advance() with the current tick first so idle ticks expire. */
int sl_hist_ring_quantile(const sl_hist_ring_t *r, double q, double *out_us);

/* The merged histogram of the window (borrowed; valid until the next advance or push). */
const sl_hist_t *sl_hist_ring_merged(const sl_hist_ring_t *r);

#endif
