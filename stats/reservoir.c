/*
 * reservoir.c - uniform reservoir sampling (algorithm R) and the merge of two reservoirs.
 *
 * Design. The latency checks need samples of canary and stable traffic, but the traffic is unbounded and the
 * workers must not allocate or lock. Each worker keeps its own reservoir of fixed capacity and offers every value
 * with a random draw from its own PRNG: after the first capacity values, the t-th value enters with probability
 * capacity / t, evicting a uniformly chosen slot, which keeps every value seen so far equally likely to be held
 * (Vitter, "Random sampling with a reservoir", ACM TOMS 1985). Both choices come from one draw: j = floor(draw t /
 * 2^64) is uniform on [0, t), and j < capacity decides entry and slot at once.
 *
 * The control thread merges the shards. A uniform k-sample of the union of two streams of sizes Na and Nb takes K
 * values from the first with K hypergeometric(Na, Nb, k), and the K values are a uniform K-subset of a uniform
 * sample of the first stream, hence of the first stream itself. K is drawn by k sequential draws without
 * replacement; the K values by a partial Fisher-Yates over a scratch copy (allocated per merge, control thread).
 */
#include "stats/reservoir.h"

#include <math.h>
#include <string.h>

#include "common/alloc.h"
#include "common/status.h"

uint64_t sl_reservoir_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* uniform on [0, bound) */
static inline uint64_t below(uint64_t draw, uint64_t bound)
{
    return (uint64_t)(((unsigned __int128)draw * bound) >> 64);
}

int sl_reservoir_init(sl_reservoir_t *r, uint32_t capacity)
{
    if (r == NULL || capacity == 0 || capacity > SL_RESERVOIR_MAX_CAPACITY)
        return SL_EINVAL;
    r->values_private = sl_calloc(capacity, sizeof(double));
    r->capacity = capacity;
    r->size = 0;
    r->seen = 0;
    return SL_OK;
}

void sl_reservoir_dispose(sl_reservoir_t *r)
{
    sl_free(r->values_private);
    memset(r, 0, sizeof(*r));
}

void sl_reservoir_reset(sl_reservoir_t *r)
{
    r->size = 0;
    r->seen = 0;
}

int sl_reservoir_observe(sl_reservoir_t *r, double x, uint64_t draw)
{
    if (isnan(x))
        return SL_EINVAL;
    r->seen++;
    if (r->size < r->capacity) {
        r->values_private[r->size++] = x;
        return SL_OK;
    }
    uint64_t j = below(draw, r->seen);
    if (j < r->capacity)
        r->values_private[j] = x;
    return SL_OK;
}

/* moves `take` values chosen uniformly at random from src[0..size) into out, using scratch (size doubles) */
static void pick(double *out, const double *src, uint32_t size, uint32_t take, double *scratch, uint64_t *rng)
{
    memcpy(scratch, src, size * sizeof(double));
    for (uint32_t i = 0; i < take; ++i) {
        uint32_t j = i + (uint32_t)below(sl_reservoir_splitmix64(rng), size - i);
        double t = scratch[i];
        scratch[i] = scratch[j];
        scratch[j] = t;
        out[i] = scratch[i];
    }
}

int sl_reservoir_merge(sl_reservoir_t *dst, const sl_reservoir_t *a, const sl_reservoir_t *b, uint64_t *rng)
{
    uint64_t total = a->seen + b->seen;
    uint32_t k = total < dst->capacity ? (uint32_t)total : dst->capacity;
    uint32_t need_a = a->seen < dst->capacity ? (uint32_t)a->seen : dst->capacity;
    uint32_t need_b = b->seen < dst->capacity ? (uint32_t)b->seen : dst->capacity;
    if (a->size < need_a || b->size < need_b || dst == a || dst == b)
        return SL_EINVAL;
    /* K ~ hypergeometric: k sequential draws without replacement from a.seen "a" and b.seen "b" values */
    uint64_t left_a = a->seen, left = total;
    uint32_t ka = 0;
    for (uint32_t i = 0; i < k; ++i, --left) {
        if (below(sl_reservoir_splitmix64(rng), left) < left_a) {
            ++ka;
            --left_a;
        }
    }
    uint32_t kb = k - ka;
    uint32_t scratch_n = a->size > b->size ? a->size : b->size;
    double *scratch = sl_malloc((size_t)scratch_n * sizeof(double));
    pick(dst->values_private, a->values_private, a->size, ka, scratch, rng);
    pick(dst->values_private + ka, b->values_private, b->size, kb, scratch, rng);
    sl_free(scratch);
    dst->size = k;
    dst->seen = total;
    return SL_OK;
}
