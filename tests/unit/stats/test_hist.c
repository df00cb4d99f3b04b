/*
 * Tests for stats/hist.c and stats/hist_ring.c with exact expectations: the bucket layout and its error bound,
 * record/merge/delta/reset, quantiles, Prometheus counts at the edges, the windowed ring, and a concurrent merge.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/status.h"
#include "stats/hist.h"

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

Test(hist, buckets_tile_the_range_and_respect_the_bound)
{
    uint64_t prev_hi = 0;
    for (uint32_t i = 0; i < SL_HIST_BUCKETS; i++) {
        uint64_t lo, hi;
        sl_hist_bucket_range(i, &lo, &hi);
        cr_assert_eq(lo, i == 0 ? 0 : prev_hi + 1, "bucket %u starts at %llu", i, (unsigned long long)lo);
        cr_assert_leq(lo, hi);
        cr_assert_eq(sl_hist_index(lo), i);
        cr_assert_eq(sl_hist_index(hi), i);
        if (i <= SL_HIST_EXACT_MAX) {
            cr_assert_eq(lo, hi);
        } else {
            /* width at most lo / 32, so the middle is within 1/64 of every value in the bucket */
            cr_assert_leq((hi - lo + 1) * SL_HIST_SUB, lo + SL_HIST_SUB - 1, "bucket %u too wide", i);
            double mid = ((double)lo + (double)hi) / 2.0;
            cr_assert_lt((mid - (double)lo) / (double)lo, SL_HIST_REL_ERROR);
            cr_assert_lt(((double)hi - mid) / (double)hi, SL_HIST_REL_ERROR);
        }
        prev_hi = hi;
    }
    cr_assert_eq(prev_hi, SL_HIST_MAX_US);
    /* every value up to 2^20 and random ones above land in the bucket that holds them */
    for (uint64_t v = 0; v <= (1u << 20); v++) {
        uint64_t lo, hi;
        sl_hist_bucket_range(sl_hist_index(v), &lo, &hi);
        cr_assert(lo <= v && v <= hi, "value %llu", (unsigned long long)v);
    }
    uint64_t seed = 1;
    for (int k = 0; k < 100000; k++) {
        uint64_t v = rnd(&seed) >> (32 + rnd(&seed) % 32), lo, hi;
        sl_hist_bucket_range(sl_hist_index(v), &lo, &hi);
        cr_assert(lo <= v && v <= hi, "value %llu", (unsigned long long)v);
    }
    cr_assert_eq(sl_hist_index(SL_HIST_MAX_US + 1), SL_HIST_BUCKETS - 1);
    cr_assert_eq(sl_hist_index(UINT64_MAX), SL_HIST_BUCKETS - 1);
    cr_assert_eq(sizeof(sl_hist_t), 7216u);
}

Test(hist, empty_and_invalid_quantiles)
{
    sl_hist_t h;
    sl_hist_init(&h);
    double v = -1;
    cr_assert_eq(sl_hist_quantile(&h, 0.5, &v), SL_ENOENT);
    sl_hist_record(&h, 10);
    cr_assert_eq(sl_hist_quantile(&h, -0.1, &v), SL_EINVAL);
    cr_assert_eq(sl_hist_quantile(&h, 1.5, &v), SL_EINVAL);
    cr_assert_eq(sl_hist_quantile(&h, NAN, &v), SL_EINVAL);
    cr_assert_eq(v, -1);
    cr_assert_eq(sl_hist_quantile(&h, 0.0, &v), SL_OK);
    cr_assert_eq(v, 10.0);
}

Test(hist, record_count_sum_and_exact_small_values)
{
    sl_hist_t h;
    sl_hist_init(&h);
    for (uint64_t v = 1; v <= 10; v++) /* 1 .. 10, each once */
        sl_hist_record(&h, v);
    cr_assert_eq(sl_hist_count(&h), 10);
    cr_assert_eq(sl_hist_sum_us(&h), 55);
    cr_assert_eq(h.min_us, 1);
    cr_assert_eq(h.max_us, 10);
    double v;
    /* rank ceil(q n): q = 0.5 -> 5th, 0.51 -> 6th, 0.9 -> 9th, 0.91 -> 10th, 0 -> 1st */
    cr_assert_eq(sl_hist_quantile(&h, 0.5, &v), SL_OK);
    cr_assert_eq(v, 5.0);
    cr_assert_eq(sl_hist_quantile(&h, 0.51, &v), SL_OK);
    cr_assert_eq(v, 6.0);
    cr_assert_eq(sl_hist_quantile(&h, 0.9, &v), SL_OK);
    cr_assert_eq(v, 9.0);
    cr_assert_eq(sl_hist_quantile(&h, 0.91, &v), SL_OK);
    cr_assert_eq(v, 10.0);
    cr_assert_eq(sl_hist_quantile(&h, 0.0, &v), SL_OK);
    cr_assert_eq(v, 1.0);
    sl_hist_record_n(&h, 3, 0); /* zero occurrences change nothing */
    cr_assert_eq(sl_hist_count(&h), 10);
    sl_hist_init(&h);
    cr_assert_eq(sl_hist_count(&h), 0);
    cr_assert_eq(h.min_us, UINT64_MAX);
}

Test(hist, quantile_is_bucket_middle_clamped_to_min_max)
{
    sl_hist_t h;
    sl_hist_init(&h);
    /* 1000 falls in the bucket (992, 1008]: middle 1000.5; min = max = 1000 clamps it to the true value */
    sl_hist_record(&h, 1000);
    double v;
    cr_assert_eq(sl_hist_quantile(&h, 0.5, &v), SL_OK);
    cr_assert_eq(v, 1000.0);
    sl_hist_record(&h, 1003);
    sl_hist_record(&h, 2000000);
    cr_assert_eq(sl_hist_quantile(&h, 0.5, &v), SL_OK); /* rank 2 -> 1003, reported as the middle 1000.5 */
    cr_assert_eq(v, 1000.5);
    cr_assert_eq(sl_hist_quantile(&h, 1.0, &v), SL_OK); /* the top bucket's middle is above max: max */
    uint64_t lo, hi;
    sl_hist_bucket_range(sl_hist_index(2000000), &lo, &hi);
    cr_assert_gt((lo + hi) / 2, 2000000u);
    cr_assert_eq(v, 2000000.0);
}

Test(hist, huge_counts_and_clamped_values)
{
    sl_hist_t h;
    sl_hist_init(&h);
    sl_hist_record_n(&h, 1000, 1000000000000ull);
    sl_hist_record_n(&h, 250000, 3000000000000ull);
    sl_hist_record_n(&h, 7200000000ull, 2); /* two hours: beyond the range */
    cr_assert_eq(sl_hist_count(&h), 4000000000002ull);
    cr_assert_eq(h.clamped, 2);
    cr_assert_eq(h.max_us, 7200000000ull);
    cr_assert_eq(h.buckets[SL_HIST_BUCKETS - 1], 2);
    double v;
    uint64_t lo, hi;
    /* q = 0.25: rank ceil(0.25 x (4e12 + 2)) = 1e12 + 1, the first 250000 */
    cr_assert_eq(sl_hist_quantile(&h, 0.25, &v), SL_OK);
    sl_hist_bucket_range(sl_hist_index(250000), &lo, &hi);
    cr_assert_eq(v, ((double)lo + (double)hi) / 2.0);
    cr_assert_leq(fabs(v - 250000.0) / 250000.0, SL_HIST_REL_ERROR);
    /* q = 0.2: rank 8e11 + 1, a 1000: the middle of (992, 1008] */
    cr_assert_eq(sl_hist_quantile(&h, 0.2, &v), SL_OK);
    cr_assert_eq(v, 1000.5);
    cr_assert_eq(sl_hist_quantile(&h, 1.0, &v), SL_OK); /* a lower bound here, at most max */
    cr_assert_leq(v, 7200000000.0);
    cr_assert_geq(v, (double)(SL_HIST_MAX_US - (SL_HIST_MAX_US >> 6)));
}

Test(hist, prometheus_bounds_are_edges_and_counts_exact)
{
    for (uint32_t b = 0; b < SL_HIST_PROM_NUM; b++) {
        uint64_t e = sl_hist_prom_bounds_us[b], lo, hi;
        sl_hist_bucket_range(sl_hist_index(e), &lo, &hi);
        cr_assert_eq(hi, e, "bound %llu is not a bucket top", (unsigned long long)e);
        cr_assert_neq(sl_hist_index(e), sl_hist_index(e + 1));
        cr_assert_eq((uint64_t)llround(strtod(sl_hist_prom_labels[b], NULL) * 1e6), e);
        char want[32];
        snprintf(want, sizeof(want), "%llu.%06llu", (unsigned long long)(e / 1000000), (unsigned long long)(e % 1000000));
        cr_assert_str_eq(sl_hist_prom_labels[b], want);
        if (b > 0)
            cr_assert_gt(e, sl_hist_prom_bounds_us[b - 1]);
    }
    sl_hist_t h;
    sl_hist_init(&h);
    /* at each bound: one value exactly on it (counted) and one just above (not counted) */
    for (uint32_t b = 0; b < SL_HIST_PROM_NUM; b++) {
        sl_hist_record(&h, sl_hist_prom_bounds_us[b]);
        sl_hist_record(&h, sl_hist_prom_bounds_us[b] + 1);
    }
    uint64_t c[SL_HIST_PROM_NUM];
    sl_hist_prom_cumulative(&h, c);
    for (uint32_t b = 0; b < SL_HIST_PROM_NUM; b++)
        cr_assert_eq(c[b], 2 * b + 1, "bound %u: %llu", b, (unsigned long long)c[b]);
}

Test(hist, merge_equals_recording_into_one)
{
    sl_hist_t one, shard[4], sum;
    sl_hist_init(&one);
    sl_hist_init(&sum);
    for (int i = 0; i < 4; i++)
        sl_hist_init(&shard[i]);
    uint64_t seed = 9;
    for (int k = 0; k < 20000; k++) {
        uint64_t v = rnd(&seed) >> (30 + rnd(&seed) % 34);
        sl_hist_record(&one, v);
        sl_hist_record(&shard[k % 4], v);
    }
    for (int i = 0; i < 4; i++)
        sl_hist_merge(&sum, &shard[i]);
    cr_assert_eq(memcmp(&one, &sum, sizeof(one)), 0);
    sl_hist_t empty;
    sl_hist_init(&empty);
    sl_hist_merge(&sum, &empty); /* merging an empty shard keeps min/max */
    cr_assert_eq(memcmp(&one, &sum, sizeof(one)), 0);
}

Test(hist, delta_of_snapshots)
{
    sl_hist_t h, prev, d;
    sl_hist_init(&h);
    sl_hist_record(&h, 100);
    sl_hist_record(&h, 5000);
    prev = h;
    sl_hist_record(&h, 70);
    sl_hist_record(&h, 3000);
    sl_hist_record(&h, 3000);
    cr_assert_eq(sl_hist_delta(&d, &h, &prev), SL_OK);
    cr_assert_eq(d.count, 3);
    cr_assert_eq(d.sum_us, 6070);
    /* min/max of a difference are the edges of its outer buckets: 70 lies in [69, 70], 3000 in [2945, 3008] */
    cr_assert_eq(d.min_us, 69);
    cr_assert_eq(d.max_us, 3008);
    double v;
    cr_assert_eq(sl_hist_quantile(&d, 1.0, &v), SL_OK);
    cr_assert_leq(fabs(v - 3000.0) / 3000.0, SL_HIST_REL_ERROR);
    d.count = 12345;
    cr_assert_eq(sl_hist_delta(&d, &prev, &h), SL_ERANGE); /* reversed */
    cr_assert_eq(d.count, 12345);
    cr_assert_eq(sl_hist_delta(&d, &h, &h), SL_OK);
    cr_assert_eq(d.count, 0);
    cr_assert_eq(sl_hist_quantile(&d, 0.5, &v), SL_ENOENT);
}

Test(hist, ring_window_expiry_gaps_and_late_ticks)
{
    sl_hist_ring_t r;
    cr_assert_eq(sl_hist_ring_init(&r, 0, 0), SL_EINVAL);
    cr_assert_eq(sl_hist_ring_init(&r, 10, -1), SL_EINVAL);
    cr_assert_eq(sl_hist_ring_init(&r, 10, 100), SL_OK);
    double v;
    cr_assert_eq(sl_hist_ring_quantile(&r, 0.99, &v), SL_ENOENT);
    sl_hist_t t;
    /* tick 101: ten values of 10; tick 105: one of 40 */
    sl_hist_init(&t);
    sl_hist_record_n(&t, 10, 10);
    cr_assert_eq(sl_hist_ring_push(&r, 101, &t), SL_OK);
    sl_hist_init(&t);
    sl_hist_record(&t, 40);
    cr_assert_eq(sl_hist_ring_push(&r, 105, &t), SL_OK);
    cr_assert_eq(sl_hist_ring_merged(&r)->count, 11);
    cr_assert_eq(sl_hist_ring_quantile(&r, 1.0, &v), SL_OK);
    cr_assert_eq(v, 40.0);
    /* tick 110: still both (window is (100, 110]); tick 111: tick 101 leaves */
    cr_assert_eq(sl_hist_ring_advance(&r, 110), SL_OK);
    cr_assert_eq(sl_hist_ring_merged(&r)->count, 11);
    cr_assert_eq(sl_hist_ring_advance(&r, 111), SL_OK);
    cr_assert_eq(sl_hist_ring_merged(&r)->count, 1);
    cr_assert_eq(sl_hist_ring_quantile(&r, 0.0, &v), SL_OK);
    cr_assert_eq(v, 40.0);
    cr_assert_eq(sl_hist_ring_merged(&r)->min_us, 40);
    /* a late push lands in the head tick */
    sl_hist_init(&t);
    sl_hist_record(&t, 20);
    cr_assert_eq(sl_hist_ring_push(&r, 103, &t), SL_OK);
    cr_assert_eq(r.late, 1);
    cr_assert_eq(sl_hist_ring_merged(&r)->count, 2);
    cr_assert_eq(sl_hist_ring_push(&r, -1, &t), SL_EINVAL);
    /* a jump far beyond the window empties it */
    cr_assert_eq(sl_hist_ring_advance(&r, 1000000), SL_OK);
    cr_assert_eq(sl_hist_ring_quantile(&r, 0.5, &v), SL_ENOENT);
    const sl_hist_t *m = sl_hist_ring_merged(&r);
    cr_assert_eq(m->count, 0);
    cr_assert_eq(m->sum_us, 0);
    for (uint32_t i = 0; i < SL_HIST_BUCKETS; i++)
        cr_assert_eq(m->buckets[i], 0);
    sl_hist_ring_dispose(&r);
}

Test(hist, ring_sum_matches_a_fresh_merge)
{
    enum { N = 7 };
    sl_hist_ring_t r;
    cr_assert_eq(sl_hist_ring_init(&r, N, 0), SL_OK);
    sl_hist_t ticks[400];
    uint64_t seed = 3;
    int64_t tick = 0;
    int64_t at[400];
    for (int k = 0; k < 400; k++) {
        tick += 1 + (rnd(&seed) % 10 == 0 ? (int64_t)(rnd(&seed) % 12) : 0);
        at[k] = tick;
        sl_hist_init(&ticks[k]);
        int n = (int)(rnd(&seed) % 30);
        for (int j = 0; j < n; j++)
            sl_hist_record(&ticks[k], rnd(&seed) >> (36 + rnd(&seed) % 28));
        cr_assert_eq(sl_hist_ring_push(&r, tick, &ticks[k]), SL_OK);
        sl_hist_t want;
        sl_hist_init(&want);
        for (int j = k; j >= 0 && at[j] > tick - N; j--)
            sl_hist_merge(&want, &ticks[j]);
        cr_assert_eq(memcmp(&want, sl_hist_ring_merged(&r), sizeof(want)), 0, "tick %lld", (long long)tick);
    }
    sl_hist_ring_dispose(&r);
}

static sl_hist_t shared_shard;
static volatile int writer_done;

static void *writer(void *arg)
{
    (void)arg;
    for (uint64_t k = 0; k < 200000; k++)
        sl_hist_record(&shared_shard, k % 5000);
    __atomic_store_n(&writer_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

Test(hist, merge_while_the_owner_records)
{
    sl_hist_init(&shared_shard);
    writer_done = 0;
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, writer, NULL), 0);
    uint64_t last = 0;
    int merges = 0;
    while (!__atomic_load_n(&writer_done, __ATOMIC_ACQUIRE) || merges == 0) {
        sl_hist_t snap;
        sl_hist_init(&snap);
        sl_hist_merge(&snap, &shared_shard);
        uint64_t n = 0;
        for (uint32_t i = 0; i < SL_HIST_BUCKETS; i++)
            n += snap.buckets[i];
        cr_assert_eq(snap.count, n); /* self-consistent whatever the writer was doing */
        cr_assert_leq(n, 200000u);
        cr_assert_geq(n + 1, last); /* grows (a bucket read early may miss one in-flight record) */
        last = n;
        merges++;
    }
    pthread_join(th, NULL);
    sl_hist_t fin;
    sl_hist_init(&fin);
    sl_hist_merge(&fin, &shared_shard);
    cr_assert_eq(fin.count, 200000u);
    cr_assert_gt(merges, 0);
}
