/*
 * reservoir.h - a uniform random sample of bounded size from an unbounded stream (Vitter's algorithm R), fed with
 * explicit random draws so it is deterministic and testable, and a merge of two reservoirs into a uniform sample
 * of their union (per-worker shards into one sample for the Mann-Whitney and Kolmogorov-Smirnov tests).
 */
#ifndef SL_STATS_RESERVOIR_H
#define SL_STATS_RESERVOIR_H

#include "stats/reservoir-t.h"

#include <stddef.h>

/* Allocates room for capacity (1 .. SL_RESERVOIR_MAX_CAPACITY) values; empty. Returns SL_OK or SL_EINVAL. The
 * caller owns r and calls sl_reservoir_dispose(). Control thread (allocates). */
int sl_reservoir_init(sl_reservoir_t *r, uint32_t capacity);

/* Frees the storage; safe on a zero-filled or disposed r. */
void sl_reservoir_dispose(sl_reservoir_t *r);

/* Forgets the sample (keeps the storage). */
void sl_reservoir_reset(sl_reservoir_t *r);

/*
 * Offers one value. While fewer than capacity were seen it is kept; afterwards it replaces slot j when
 * j = floor(draw * seen / 2^64) < capacity, i.e. with probability capacity/seen, so every value seen so far is in
 * the sample with the same probability. draw is a uniform 64-bit random number supplied by the caller (the worker's
 * PRNG); the bias of the multiply-shift map is below seen / 2^64. O(1), no allocation: the request path.
 * Returns SL_OK, or SL_EINVAL (x is NaN: not counted).
 */
int sl_reservoir_observe(sl_reservoir_t *r, double x, uint64_t draw);

/*
 * dst := a uniform sample of size min(capacity of dst, a.seen + b.seen) of the union of the streams behind a and
 * b, as if one reservoir had seen both (dst->seen = a.seen + b.seen). The number taken from a is drawn
 * hypergeometrically (sequentially, without replacement over the a.seen + b.seen values), and that many values are
 * picked at random from a's sample (likewise b). Requires each source's size to be min(its seen, dst capacity) or
 * more, i.e. sources at least as large as dst. *rng is a splitmix64 state advanced by the merge. dst must not
 * alias a or b. O(capacity). Returns SL_OK or SL_EINVAL (a source too small; dst untouched).
 */
int sl_reservoir_merge(sl_reservoir_t *dst, const sl_reservoir_t *a, const sl_reservoir_t *b, uint64_t *rng);

/* The splitmix64 generator (Steele, Lea and Flood 2014): advances *state and returns a uniform 64-bit value. */
uint64_t sl_reservoir_splitmix64(uint64_t *state);

#endif
