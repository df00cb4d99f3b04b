/*
 * window.h - per-minute (good, total) counters over a rolling window of up to 90 days, with O(1) sums over any
 * trailing span, and a versioned, checksummed encoded form for persistence.
 *
 * Time is an argument: a "minute" is a wall-clock minute number (e.g. unix_ms / 60000), never read here.
 * Everything is called from one thread (the control thread), which sums the workers' counters every tick and adds
 * the difference here.
 */
#ifndef SL_STATS_WINDOW_H
#define SL_STATS_WINDOW_H

#include "stats/window-t.h"

#include <stddef.h>

#include "common/str.h"

/*
 * Prepares w to hold capacity_min minutes (1 .. SL_WINDOW_MAX_MINUTES) and allocates its ring (16 bytes per minute,
 * plus one slot). The ring starts empty with head_min = first_min = now_min (0 .. SL_WINDOW_MAX_MINUTE).
 * Returns SL_OK, or SL_EINVAL (bad capacity or minute; w untouched). The caller owns w and must call
 * sl_window_dispose(). Control thread (allocates).
 */
int sl_window_init(sl_window_t *w, uint32_t capacity_min, int64_t now_min);

/* Frees the ring; w may be initialized again afterwards. Safe on a zero-filled or already disposed w. */
void sl_window_dispose(sl_window_t *w);

/* Empties the ring and restarts it at now_min, keeping its capacity. For a policy that decides a persisted or
 * stepped-back history is no longer trustworthy. Returns SL_OK or SL_EINVAL (minute out of range; w untouched). */
int sl_window_reset(sl_window_t *w, int64_t now_min);

/*
 * Moves the head forward to now_min, recording zero counts for every minute skipped (a gap in traffic). Cost is
 * O(min(now_min - head_min, capacity_min)); amortized O(1) per minute of wall time. A minute at or before the head
 * changes nothing (the ring never moves backward). Returns SL_OK or SL_EINVAL (minute out of range).
 */
int sl_window_advance(sl_window_t *w, int64_t now_min);

/*
 * Adds good and total counts to minute now_min (advancing first if now_min is newer than the head).
 * Clock stepped back: a minute older than the head is counted in the head minute and w->clamped grows by one, so
 * no count is ever lost or double-counted and the window never rewinds; if the step is large the policy may call
 * sl_window_reset(). Returns SL_OK, or SL_EINVAL (good > total, or minute out of range; w untouched).
 * Exactness holds while the true total over the whole window stays below 2^64.
 */
int sl_window_add(sl_window_t *w, int64_t now_min, uint64_t good, uint64_t total);

/*
 * Sums the trailing window_min minutes ending at minute now_min inclusive, i.e. minutes (now_min - window_min,
 * now_min]. Minutes after the head have no counts yet; a now_min older than the head is read as the head (see
 * sl_window_add). O(1). Returns SL_OK with *out set, or SL_EINVAL (window_min is 0 or above the capacity; *out
 * untouched). An all-zero result is valid: callers report it as "no data".
 */
int sl_window_sum(const sl_window_t *w, int64_t now_min, uint32_t window_min, sl_window_sum_t *out);

/* Counts of one minute (0 when outside the ring). Returns SL_OK or SL_ENOENT (minute outside the ring). */
int sl_window_minute(const sl_window_t *w, int64_t minute, sl_window_sum_t *out);

/* Minutes of the trailing capacity that lie at or after first_min, as of now_min: how much history the window
 * actually has (for "budget over 3 h of data" displays). */
uint32_t sl_window_coverage_min(const sl_window_t *w, int64_t now_min);

/*
 * Appends the encoded window to out: a 40-byte header (magic "SLWN", version, capacity, payload length, head, first,
 * clamped; little endian), a payload of per-minute counts (LEB128 varints, empty runs collapsed), and a CRC-32C of
 * everything before it. An idle 28-day window encodes in a few dozen bytes; a busy one in about 3-12 bytes a minute.
 * Returns SL_OK or SL_ENOMEM (out's cap reached; out's length restored). Control thread.
 */
int sl_window_encode(const sl_window_t *w, sl_buf_t *out);

/*
 * Loads an encoded window into an initialized w. When the encoded capacity differs from w's (the configured window
 * changed), the newest min(both) minutes are kept. On any defect - short input, foreign magic, unknown version,
 * length mismatch, checksum mismatch, malformed payload, good > total, counts overflowing, data before the origin -
 * returns a negative status, sets *why (if not NULL) to a static message and leaves w untouched:
 *   SL_EPROTO  not an encoded window (empty, wrong magic)
 *   SL_ERANGE  a version this build does not read
 *   SL_ESYNTAX corrupt (truncated, checksum, malformed payload, inconsistent fields)
 * Never reads outside [buf, buf + len); any byte string is safe. Control thread.
 */
int sl_window_decode(sl_window_t *w, const void *buf, size_t len, const char **why);

/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, init and final xor 0xFFFFFFFF) of len bytes. */
uint32_t sl_window_crc32c(const void *buf, size_t len);

#endif
