/*
 * window-t.h - types of the per-minute (good, total) counter ring behind every SLO objective.
 */
#ifndef SL_STATS_WINDOW_T_H
#define SL_STATS_WINDOW_T_H

#include <stdint.h>

/* Longest rolling window a ring may hold: 90 days of minutes. */
#define SL_WINDOW_MAX_MINUTES 129600u

/* Largest wall-clock minute accepted (minutes since the Unix epoch); far beyond any real clock, small enough that
 * minute arithmetic never overflows an int64_t. */
#define SL_WINDOW_MAX_MINUTE ((int64_t)1 << 40)

/* Encoded form: fixed header, payload, CRC-32C trailer (see window_codec.c). */
#define SL_WINDOW_CODEC_VERSION 1u
#define SL_WINDOW_CODEC_HEADER 40u
#define SL_WINDOW_CODEC_TRAILER 4u

/* Counts over some span of minutes. Invariant: good <= total. bad = total - good. */
typedef struct st_sl_window_sum_t {
    uint64_t good;
    uint64_t total;
} sl_window_sum_t;

/*
 * A ring of cumulative counters, one slot per minute. Slot (m mod (capacity_min + 1)) holds the running totals of
 * every count added up to and including minute m, for m in [head_min - capacity_min, head_min]. Running totals are
 * kept modulo 2^64: only differences of two slots are ever used, and those are exact as long as the true sum over
 * the whole window stays below 2^64.
 *
 * Memory: 16 bytes per slot, (capacity_min + 1) slots: 645 KB for 28 days, 691 KB for 30 days, 2.07 MB for 90 days.
 * Written and read by one thread (the control thread); not safe for concurrent use.
 */
typedef struct st_sl_window_t {
    uint64_t *cum_private; /* 2 * (capacity_min + 1) words: slot i is cum[2i] (good), cum[2i + 1] (total) */
    uint32_t capacity_min; /* longest trailing window that can be summed, in minutes */
    int64_t head_min;      /* newest minute held; the ring never moves backward */
    int64_t first_min;     /* minute the ring started at (init or the persisted origin); for coverage */
    uint64_t clamped;      /* adds whose minute lay before head_min (wall clock stepped back); counted at head */
} sl_window_t;

#endif
