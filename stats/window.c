/*
 * window.c - per-minute (good, total) counters over a rolling window, summed over any trailing span in O(1).
 *
 * Design. The ring stores running totals, not per-minute counts: slot (m mod (capacity + 1)) holds C(m), the sum of
 * everything added up to and including minute m. A trailing sum over (now - w, now] is then C(head) - C(now - w):
 * two loads and a subtraction, whatever w is (5 minutes or 90 days). A Fenwick tree would give O(log n) queries
 * and O(log n) updates for arbitrary ranges, which we do not need: every query ends at "now", every update lands
 * on the newest minute, so plain prefix sums are both simpler and faster. The price is paid when the head moves:
 * each skipped minute's slot is set to C(head), O(1) per minute of wall time and at most capacity + 1 writes for
 * any gap (a gap longer than the window clears it entirely).
 *
 * Running totals wrap modulo 2^64; the difference of two of them is exact as long as the true sum of the span is
 * below 2^64 (1.8e19 requests; 1e12 a minute for 90 days is 1.3e17). All arithmetic is on integers: no rounding,
 * no NaN, nothing to divide.
 *
 * Time only moves forward: a minute older than the head (the wall clock stepped back) is counted in the head
 * minute and counted in w->clamped, which the policy may report. Gaps (no traffic for hours, the process stopped,
 * the clock jumped forward) simply leave zero minutes behind.
 *
 * Thread: the control thread only. Allocation: once, in sl_window_init().
 */
#include "stats/window.h"

#include <string.h>

#include "common/alloc.h"
#include "common/status.h"

static inline uint32_t slot_of(const sl_window_t *w, int64_t minute)
{
    /* minute >= 0 always (validated), so the remainder is non-negative */
    return (uint32_t)((uint64_t)minute % ((uint64_t)w->capacity_min + 1));
}

static inline int minute_ok(int64_t minute)
{
    return minute >= 0 && minute <= SL_WINDOW_MAX_MINUTE;
}

int sl_window_init(sl_window_t *w, uint32_t capacity_min, int64_t now_min)
{
    if (capacity_min == 0 || capacity_min > SL_WINDOW_MAX_MINUTES || !minute_ok(now_min))
        return SL_EINVAL;
    w->cum_private = sl_calloc((size_t)capacity_min + 1, 2 * sizeof(uint64_t));
    w->capacity_min = capacity_min;
    w->head_min = now_min;
    w->first_min = now_min;
    w->clamped = 0;
    return SL_OK;
}

void sl_window_dispose(sl_window_t *w)
{
    sl_free(w->cum_private);
    w->cum_private = NULL;
    w->capacity_min = 0;
}

int sl_window_reset(sl_window_t *w, int64_t now_min)
{
    if (!minute_ok(now_min))
        return SL_EINVAL;
    memset(w->cum_private, 0, ((size_t)w->capacity_min + 1) * 2 * sizeof(uint64_t));
    w->head_min = now_min;
    w->first_min = now_min;
    w->clamped = 0;
    return SL_OK;
}

int sl_window_advance(sl_window_t *w, int64_t now_min)
{
    if (!minute_ok(now_min))
        return SL_EINVAL;
    if (now_min <= w->head_min)
        return SL_OK;
    uint32_t h = slot_of(w, w->head_min);
    uint64_t g = w->cum_private[2 * h], t = w->cum_private[2 * h + 1];
    /* Every minute in (head, now] gets C(head); beyond capacity + 1 minutes each slot would be written again with
     * the same value, so stop there. */
    int64_t steps = now_min - w->head_min;
    if (steps > (int64_t)w->capacity_min + 1)
        steps = (int64_t)w->capacity_min + 1;
    for (int64_t m = now_min - steps + 1; m <= now_min; m++) {
        uint32_t s = slot_of(w, m);
        w->cum_private[2 * s] = g;
        w->cum_private[2 * s + 1] = t;
    }
    w->head_min = now_min;
    return SL_OK;
}

int sl_window_add(sl_window_t *w, int64_t now_min, uint64_t good, uint64_t total)
{
    if (good > total || !minute_ok(now_min))
        return SL_EINVAL;
    if (now_min > w->head_min)
        sl_window_advance(w, now_min);
    else if (now_min < w->head_min)
        w->clamped++;
    uint32_t h = slot_of(w, w->head_min);
    w->cum_private[2 * h] += good;
    w->cum_private[2 * h + 1] += total;
    return SL_OK;
}

int sl_window_sum(const sl_window_t *w, int64_t now_min, uint32_t window_min, sl_window_sum_t *out)
{
    if (window_min == 0 || window_min > w->capacity_min)
        return SL_EINVAL;
    int64_t end = now_min > w->head_min ? now_min : w->head_min;
    int64_t lo = end - (int64_t)window_min; /* exclusive; >= head - capacity since end >= head */
    if (lo >= w->head_min) {
        out->good = out->total = 0;
        return SL_OK;
    }
    uint32_t h = slot_of(w, w->head_min);
    /* lo < 0 happens only while head < capacity: C(lo) is then 0 (nothing is ever counted before minute 0) */
    uint64_t lg = 0, lt = 0;
    if (lo >= 0) {
        uint32_t l = slot_of(w, lo);
        lg = w->cum_private[2 * l];
        lt = w->cum_private[2 * l + 1];
    }
    out->good = w->cum_private[2 * h] - lg;
    out->total = w->cum_private[2 * h + 1] - lt;
    return SL_OK;
}

int sl_window_minute(const sl_window_t *w, int64_t minute, sl_window_sum_t *out)
{
    if (minute > w->head_min || minute <= w->head_min - (int64_t)w->capacity_min || minute < 0)
        return SL_ENOENT;
    uint32_t s = slot_of(w, minute);
    uint64_t pg = 0, pt = 0;
    if (minute > 0) {
        uint32_t p = slot_of(w, minute - 1);
        pg = w->cum_private[2 * p];
        pt = w->cum_private[2 * p + 1];
    }
    out->good = w->cum_private[2 * s] - pg;
    out->total = w->cum_private[2 * s + 1] - pt;
    return SL_OK;
}

uint32_t sl_window_coverage_min(const sl_window_t *w, int64_t now_min)
{
    int64_t end = now_min > w->head_min ? now_min : w->head_min;
    int64_t span = end - w->first_min + 1;
    if (span <= 0)
        return 0;
    return span > (int64_t)w->capacity_min ? w->capacity_min : (uint32_t)span;
}
