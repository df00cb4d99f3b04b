/*
 * canary_sample.c - one version's counts and value samples over a span: what a worker records per request (its
 * own shard, O(1), no allocation, no lock) and what the control thread merges into one sample per version.
 *
 * Each metric has its own reservoir (stats/reservoir.h) so a value that only some requests have (time to first
 * token of streams, the accept signal of judged answers) is sampled uniformly among the requests that have it.
 * The reservoirs need one uniform draw each per value; they are derived from the request's draw with splitmix64
 * steps, so one PRNG call per request suffices and the derived draws are independent in practice.
 */
#include "policies/canary.h"

#include <math.h>
#include <string.h>

#include "common/status.h"
#include "stats/reservoir.h"

int sl_canary_sample_init(sl_canary_sample_t *s)
{
    memset(s, 0, sizeof(*s));
    for (int m = 0; m != SL_CANARY_M_COUNT; ++m)
        sl_reservoir_init(&s->values[m], SL_CANARY_RESERVOIR);
    return SL_OK;
}

void sl_canary_sample_dispose(sl_canary_sample_t *s)
{
    for (int m = 0; m != SL_CANARY_M_COUNT; ++m)
        sl_reservoir_dispose(&s->values[m]);
    memset(&s->counts, 0, sizeof(s->counts));
}

void sl_canary_sample_reset(sl_canary_sample_t *s)
{
    memset(&s->counts, 0, sizeof(s->counts));
    for (int m = 0; m != SL_CANARY_M_COUNT; ++m)
        sl_reservoir_reset(&s->values[m]);
}

void sl_canary_sample_observe(sl_canary_sample_t *s, const sl_canary_outcome_t *o, uint64_t draw)
{
    const double v[SL_CANARY_M_COUNT] = {o->latency_ms, o->ttft_ms, o->tpot_ms, o->judged ? o->confidence : NAN};
    s->counts.requests++;
    s->counts.errors += o->error != 0;
    s->counts.judged += o->judged != 0;
    s->counts.accepted += o->judged != 0 && o->accepted != 0;
    uint64_t state = draw;
    for (int m = 0; m != SL_CANARY_M_COUNT; ++m)
        if (!isnan(v[m]))
            sl_reservoir_observe(&s->values[m], v[m], sl_reservoir_splitmix64(&state));
}

int sl_canary_sample_merge(sl_canary_sample_t *dst, const sl_canary_sample_t *src, uint64_t *rng)
{
    if (dst == src)
        return SL_EINVAL;
    sl_reservoir_t tmp[SL_CANARY_M_COUNT];
    for (int m = 0; m != SL_CANARY_M_COUNT; ++m) {
        sl_reservoir_init(&tmp[m], SL_CANARY_RESERVOIR);
        sl_reservoir_merge(&tmp[m], &dst->values[m], &src->values[m], rng);
    }
    for (int m = 0; m != SL_CANARY_M_COUNT; ++m) {
        sl_reservoir_dispose(&dst->values[m]);
        dst->values[m] = tmp[m];
    }
    dst->counts.requests += src->counts.requests;
    dst->counts.errors += src->counts.errors;
    dst->counts.judged += src->counts.judged;
    dst->counts.accepted += src->counts.accepted;
    return SL_OK;
}
