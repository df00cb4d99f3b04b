/*
 * hist.c - a mergeable log-linear latency histogram in the manner of HdrHistogram (Gil Tene): exact below 64 us,
 * then every power of two split into 32 linear sub-buckets, up to 2^32 us (71.6 minutes, past the one-hour
 * ceiling of any request we time). 897 buckets, 7.2 KB.
 *
 * Why this layout. Latencies of model servers span six decades (a cached gateway answer in tens of microseconds, a
 * long generation in minutes); a relative error is what matters at every scale. Log-linear buckets give a fixed
 * relative width (at most 1/32) with an index computed by one count-leading-zeros and a shift - no floating point,
 * no table, no loop - so sl_hist_record() costs a handful of instructions on the worker. Histograms with the same
 * layout add bucket by bucket, so per-worker shards merge exactly on the control thread.
 *
 * Buckets are closed at the top, (lo, hi] (the index is taken on value - 1), the way Prometheus counts `le`: the
 * number of values at most an edge is a plain prefix sum, exact. The Prometheus bounds below are chosen among the
 * edges, so the exported `le` counts carry no approximation at all.
 *
 * Quantile. The rank r = ceil(q x n) (inverted CDF) is found by a prefix scan; the bucket holding rank r contains
 * the true r-th value, and its middle, clamped to the recorded [min, max], is within (hi - lo) / 2 / lo < 1/64 of
 * any value in it. Nothing divides by a count, so no NaN can appear; an empty histogram reports "no data".
 *
 * Threads: one writer per histogram (sl_hist_record); every field is accessed with relaxed atomics so the control
 * thread may merge a shard while its worker writes it. Everything else here runs on the control thread.
 */
#include "stats/hist.h"

#include <math.h>
#include <string.h>

#include "common/status.h"

/* Nearest edges to 1, 2.5, 5, 10, 25, 50, 100, 150, 250, 400, 600 ms, 1, 1.5, 2.5, 4, 6, 10, 15, 25, 40, 60 s,
 * 2, 5, 10 min; each is m x 2^s with 33 <= m <= 64, the top of a bucket. */
const uint64_t sl_hist_prom_bounds_us[SL_HIST_PROM_NUM] = {
    992,     2496,    4992,    9984,    25088,   50176,    100352,   151552,   249856,   401408,    606208,    999424,
    1507328, 2490368, 3997696, 6029312, 9961472, 14942208, 25165824, 39845888, 59768832, 119537664, 301989888, 603979776,
};
const char *const sl_hist_prom_labels[SL_HIST_PROM_NUM] = {
    "0.000992", "0.002496",  "0.004992",  "0.009984",  "0.025088",  "0.050176",   "0.100352",   "0.151552",
    "0.249856", "0.401408",  "0.606208",  "0.999424",  "1.507328",  "2.490368",   "3.997696",   "6.029312",
    "9.961472", "14.942208", "25.165824", "39.845888", "59.768832", "119.537664", "301.989888", "603.979776",
};

void sl_hist_bucket_range(uint32_t index, uint64_t *lo_us, uint64_t *hi_us)
{
    if (index <= SL_HIST_EXACT_MAX) {
        *lo_us = *hi_us = index;
        return;
    }
    uint32_t j = index - 1;
    uint32_t shift = j / SL_HIST_SUB - 1;
    uint64_t sub = j % SL_HIST_SUB + SL_HIST_SUB;
    *lo_us = (sub << shift) + 1;
    *hi_us = (sub + 1) << shift;
}

void sl_hist_init(sl_hist_t *h)
{
    for (uint32_t i = 0; i < SL_HIST_BUCKETS; i++)
        SL_HIST_STORE_(&h->buckets[i], 0);
    SL_HIST_STORE_(&h->count, 0);
    SL_HIST_STORE_(&h->sum_us, 0);
    SL_HIST_STORE_(&h->clamped, 0);
    SL_HIST_STORE_(&h->min_us, UINT64_MAX);
    SL_HIST_STORE_(&h->max_us, 0);
}

uint64_t sl_hist_count(const sl_hist_t *h)
{
    return SL_HIST_LOAD_(&h->count);
}

uint64_t sl_hist_sum_us(const sl_hist_t *h)
{
    return SL_HIST_LOAD_(&h->sum_us);
}

void sl_hist_merge(sl_hist_t *dst, const sl_hist_t *src)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < SL_HIST_BUCKETS; i++) {
        uint64_t c = SL_HIST_LOAD_(&src->buckets[i]);
        dst->buckets[i] += c;
        n += c;
    }
    dst->count += n;
    dst->sum_us += SL_HIST_LOAD_(&src->sum_us);
    dst->clamped += SL_HIST_LOAD_(&src->clamped);
    uint64_t mn = SL_HIST_LOAD_(&src->min_us), mx = SL_HIST_LOAD_(&src->max_us);
    if (n != 0 && mn < dst->min_us)
        dst->min_us = mn;
    if (n != 0 && mx > dst->max_us)
        dst->max_us = mx;
}

int sl_hist_delta(sl_hist_t *out, const sl_hist_t *now, const sl_hist_t *prev)
{
    for (uint32_t i = 0; i < SL_HIST_BUCKETS; i++)
        if (SL_HIST_LOAD_(&prev->buckets[i]) > SL_HIST_LOAD_(&now->buckets[i]))
            return SL_ERANGE;
    uint64_t n = 0;
    uint32_t lo = SL_HIST_BUCKETS, hi = 0;
    for (uint32_t i = 0; i < SL_HIST_BUCKETS; i++) {
        uint64_t c = SL_HIST_LOAD_(&now->buckets[i]) - SL_HIST_LOAD_(&prev->buckets[i]);
        out->buckets[i] = c;
        n += c;
        if (c != 0) {
            if (lo == SL_HIST_BUCKETS)
                lo = i;
            hi = i;
        }
    }
    out->count = n;
    out->sum_us = SL_HIST_LOAD_(&now->sum_us) - SL_HIST_LOAD_(&prev->sum_us);
    uint64_t cn = SL_HIST_LOAD_(&now->clamped), cp = SL_HIST_LOAD_(&prev->clamped);
    out->clamped = cn >= cp ? cn - cp : 0;
    out->min_us = UINT64_MAX;
    out->max_us = 0;
    if (n != 0) {
        uint64_t a, b;
        sl_hist_bucket_range(lo, &out->min_us, &b);
        sl_hist_bucket_range(hi, &a, &out->max_us);
        /* the top bucket also holds clamped values above its edge */
        if (hi == SL_HIST_BUCKETS - 1 && out->clamped != 0)
            out->max_us = SL_HIST_LOAD_(&now->max_us);
    }
    return SL_OK;
}

int sl_hist_quantile(const sl_hist_t *h, double q, double *out_us)
{
    if (!(q >= 0.0 && q <= 1.0))
        return SL_EINVAL;
    uint64_t n = 0;
    for (uint32_t i = 0; i < SL_HIST_BUCKETS; i++)
        n += SL_HIST_LOAD_(&h->buckets[i]);
    if (n == 0)
        return SL_ENOENT;
    double x = ceil(q * (double)n);
    uint64_t rank = x < 1.0 ? 1 : x >= (double)n ? n : (uint64_t)x;

    uint64_t seen = 0;
    uint32_t i = 0;
    for (; i < SL_HIST_BUCKETS - 1; i++) {
        seen += SL_HIST_LOAD_(&h->buckets[i]);
        if (seen >= rank)
            break;
    }
    uint64_t lo, hi;
    sl_hist_bucket_range(i, &lo, &hi);
    double v = ((double)lo + (double)hi) / 2.0;
    double mn = (double)SL_HIST_LOAD_(&h->min_us), mx = (double)SL_HIST_LOAD_(&h->max_us);
    if (mn <= mx) { /* a merged snapshot taken mid-record may lack them; the bucket alone is still within bound */
        if (v < mn)
            v = mn;
        if (v > mx)
            v = mx;
    }
    *out_us = v;
    return SL_OK;
}

void sl_hist_prom_cumulative(const sl_hist_t *h, uint64_t out[SL_HIST_PROM_NUM])
{
    uint64_t seen = 0;
    uint32_t i = 0;
    for (uint32_t b = 0; b < SL_HIST_PROM_NUM; b++) {
        uint32_t last = sl_hist_index(sl_hist_prom_bounds_us[b]);
        for (; i <= last; i++)
            seen += SL_HIST_LOAD_(&h->buckets[i]);
        out[b] = seen;
    }
}
