/*
 * hist_ring.c - a windowed latency distribution: the last N ticks of per-tick histograms and their running sum.
 *
 * The control thread turns the workers' shards into one histogram per tick (sl_hist_merge of every shard into a
 * cumulative sum, then sl_hist_delta against the previous tick's sum) and pushes it here. The ring keeps the sum of
 * the live slots up to date: a push adds the tick's buckets, an expiring tick subtracts its slot's buckets, both
 * exact integer operations, so a windowed quantile costs one scan of the merged histogram (O(buckets)) instead of
 * merging N slots. min/max cannot be subtracted; they are recomputed from the live slots (O(N)) when a tick
 * expires.
 *
 * Ticks are caller-chosen numbers (e.g. monotonic seconds); nothing here reads a clock. Ticks that pass without a
 * push are empty, a jump ahead longer than the window empties it, and a tick older than the head (which only a
 * caller bug or a stepped clock produces) is counted in the head tick and in r->late - the window never rewinds.
 *
 * Memory is allocated once in sl_hist_ring_init(). Control thread only.
 */
#include "stats/hist.h"

#include "common/alloc.h"
#include "common/status.h"

#define MAX_TICKS 86400u

static inline sl_hist_t *slot_of(const sl_hist_ring_t *r, int64_t tick)
{
    return &r->slots_private[(uint64_t)tick % r->num_ticks];
}

int sl_hist_ring_init(sl_hist_ring_t *r, uint32_t num_ticks, int64_t now_tick)
{
    if (num_ticks == 0 || num_ticks > MAX_TICKS || now_tick < 0)
        return SL_EINVAL;
    r->slots_private = sl_malloc((size_t)num_ticks * sizeof(sl_hist_t));
    for (uint32_t i = 0; i < num_ticks; i++)
        sl_hist_init(&r->slots_private[i]);
    sl_hist_init(&r->merged);
    r->num_ticks = num_ticks;
    r->head_tick = now_tick;
    r->late = 0;
    return SL_OK;
}

void sl_hist_ring_dispose(sl_hist_ring_t *r)
{
    sl_free(r->slots_private);
    r->slots_private = NULL;
    r->num_ticks = 0;
}

static void expire(sl_hist_ring_t *r, sl_hist_t *s)
{
    if (s->count == 0)
        return;
    for (uint32_t i = 0; i < SL_HIST_BUCKETS; i++)
        r->merged.buckets[i] -= s->buckets[i];
    r->merged.count -= s->count;
    r->merged.sum_us -= s->sum_us;
    r->merged.clamped -= s->clamped;
    sl_hist_init(s);
}

int sl_hist_ring_advance(sl_hist_ring_t *r, int64_t now_tick)
{
    if (now_tick < 0)
        return SL_EINVAL;
    if (now_tick <= r->head_tick)
        return SL_OK;
    int64_t steps = now_tick - r->head_tick;
    if (steps > (int64_t)r->num_ticks)
        steps = r->num_ticks;
    /* ticks (now - steps, now] reuse the slots of ticks steps earlier, which leave the window */
    for (int64_t t = now_tick - steps + 1; t <= now_tick; t++)
        expire(r, slot_of(r, t));
    r->head_tick = now_tick;

    uint64_t mn = UINT64_MAX, mx = 0;
    for (uint32_t i = 0; i < r->num_ticks; i++) {
        const sl_hist_t *s = &r->slots_private[i];
        if (s->count == 0)
            continue;
        if (s->min_us < mn)
            mn = s->min_us;
        if (s->max_us > mx)
            mx = s->max_us;
    }
    r->merged.min_us = mn;
    r->merged.max_us = mx;
    return SL_OK;
}

int sl_hist_ring_push(sl_hist_ring_t *r, int64_t tick, const sl_hist_t *h)
{
    if (tick < 0)
        return SL_EINVAL;
    if (tick > r->head_tick)
        sl_hist_ring_advance(r, tick);
    else if (tick < r->head_tick)
        r->late++;
    /* read each counter of h once and add it to both, so the sum stays the exact sum of the slots even if h were
     * still being written */
    sl_hist_t *s = slot_of(r, r->head_tick);
    uint64_t n = 0;
    for (uint32_t i = 0; i < SL_HIST_BUCKETS; i++) {
        uint64_t c = SL_HIST_LOAD_(&h->buckets[i]);
        s->buckets[i] += c;
        r->merged.buckets[i] += c;
        n += c;
    }
    uint64_t sum = SL_HIST_LOAD_(&h->sum_us), clamped = SL_HIST_LOAD_(&h->clamped);
    uint64_t mn = SL_HIST_LOAD_(&h->min_us), mx = SL_HIST_LOAD_(&h->max_us);
    sl_hist_t *both[2] = {s, &r->merged};
    for (int k = 0; k < 2; k++) {
        both[k]->count += n;
        both[k]->sum_us += sum;
        both[k]->clamped += clamped;
        if (n != 0 && mn < both[k]->min_us)
            both[k]->min_us = mn;
        if (n != 0 && mx > both[k]->max_us)
            both[k]->max_us = mx;
    }
    return SL_OK;
}

int sl_hist_ring_quantile(const sl_hist_ring_t *r, double q, double *out_us)
{
    return sl_hist_quantile(&r->merged, q, out_us);
}

const sl_hist_t *sl_hist_ring_merged(const sl_hist_ring_t *r)
{
    return &r->merged;
}
