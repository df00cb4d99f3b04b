/*
 * monitor_window.c - the sliding window of the drift measures: a ring of per-slot count vectors.
 *
 * Time is the caller's monotonic milliseconds; slot s covers [s * slot_ms, (s + 1) * slot_ms) and lives at s mod
 * slots. The window is the head slot and the slots - 1 before it: it slides by one slot at a time, so at any
 * moment it spans between (slots - 1) and slots slot lengths of history. Counts are exact integers; the sum is
 * recomputed from the slots on each read (O(slots x width), a few thousand additions), so nothing drifts.
 * Control thread only.
 */
#include "policies/monitor.h"
#include "common/alloc.h"
#include "common/status.h"

#include <string.h>

int sl_monitor_window_init(sl_monitor_window_t *w, size_t width, uint32_t slots, uint64_t slot_ms)
{
    if (width == 0 || slots < 2 || slots > 1440 || slot_ms == 0)
        return SL_EINVAL;
    memset(w, 0, sizeof(*w));
    w->counts_private = sl_calloc((size_t)slots * width, sizeof(uint64_t));
    w->width = width;
    w->slots = slots;
    w->slot_ms = slot_ms;
    w->head = -1;
    return SL_OK;
}

void sl_monitor_window_dispose(sl_monitor_window_t *w)
{
    sl_free(w->counts_private);
    w->counts_private = NULL;
}

void sl_monitor_window_advance(sl_monitor_window_t *w, uint64_t now_ms)
{
    int64_t slot = (int64_t)(now_ms / w->slot_ms);
    if (w->head < 0) {
        w->head = slot;
        return;
    }
    if (slot <= w->head)
        return;
    int64_t moved = slot - w->head;
    if (moved >= (int64_t)w->slots) {
        memset(w->counts_private, 0, (size_t)w->slots * w->width * sizeof(uint64_t));
    } else {
        for (int64_t s = w->head + 1; s <= slot; ++s)
            memset(w->counts_private + (size_t)(s % w->slots) * w->width, 0, w->width * sizeof(uint64_t));
    }
    w->head = slot;
}

void sl_monitor_window_add(sl_monitor_window_t *w, uint64_t now_ms, const uint64_t *delta)
{
    sl_monitor_window_advance(w, now_ms);
    uint64_t *row = w->counts_private + (size_t)(w->head % w->slots) * w->width;
    for (size_t i = 0; i != w->width; ++i)
        row[i] += delta[i];
}

void sl_monitor_window_sum(const sl_monitor_window_t *w, uint64_t *out)
{
    memset(out, 0, w->width * sizeof(uint64_t));
    for (uint32_t s = 0; s != w->slots; ++s) {
        const uint64_t *row = w->counts_private + (size_t)s * w->width;
        for (size_t i = 0; i != w->width; ++i)
            out[i] += row[i];
    }
}

void sl_monitor_window_clear(sl_monitor_window_t *w)
{
    memset(w->counts_private, 0, (size_t)w->slots * w->width * sizeof(uint64_t));
}
