/*
 * variant.c - the accurate/degraded choice of one request (router/variant.h states the rules).
 *
 * Why a threshold on a bucket of the draw rather than a coin per request with probability p: the same rule as the
 * canary split (router/version.c), so a decision is replayable from (fraction, draw, tier index) and the share is
 * exact in permille. Unlike the canary split there is no sticky key: which variant answers is a matter of load, not
 * of the user, and a user pinned to the degraded variant would see worse answers for as long as the overload lasts.
 * The salt keeps this draw independent of the version draw made from the same 64-bit number: both mix the draw
 * with the tier index through fmix64, and without it the two choices of one tier would be the same bucket.
 *
 * Spill-over order: the chosen backend first; then the accurate backend (a request the fraction sent to a faster
 * variant that is full is better served by the accurate one if it has room); then the faster variants in the
 * order the config lists them, best first.
 */
#include "router/variant.h"

#define GOLDEN 0x9E3779B97F4A7C15ull
#define VARIANT_SALT 0xD1B54A32D192ED03ull

static uint64_t fmix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return k;
}

uint64_t sl_router_variant_draw(uint64_t draw, size_t tier_index)
{
    return fmix64(draw + ((uint64_t)tier_index + 1) * GOLDEN + VARIANT_SALT);
}

enum en_sl_plan_variant_t sl_router_variant_pick(const sl_conf_degrade_t *d, uint32_t fraction_permille, uint64_t draw,
                                                 size_t tier_index)
{
    if (!d->enabled || d->num_to == 0 || fraction_permille == 0)
        return SL_PLAN_VARIANT_ACCURATE;
    uint32_t bucket = (uint32_t)(((unsigned __int128)sl_router_variant_draw(draw, tier_index) * 1000u) >> 64);
    return bucket < fraction_permille ? SL_PLAN_VARIANT_DEGRADED : SL_PLAN_VARIANT_ACCURATE;
}

size_t sl_router_variant_order(const sl_conf_tier_t *tier, enum en_sl_plan_variant_t v,
                               const sl_conf_backend_t *out[SL_ROUTER_MAX_VARIANTS])
{
    const sl_conf_degrade_t *d = &tier->degrade;
    int degraded = v == SL_PLAN_VARIANT_DEGRADED && d->enabled && d->num_to != 0;
    size_t n = 0;
    out[n++] = degraded ? d->to[0] : tier->backend;
    if (!d->enabled || !d->spill_over)
        return n;
    if (degraded)
        out[n++] = tier->backend;
    for (size_t i = 0; i != d->num_to && n != SL_ROUTER_MAX_VARIANTS; ++i)
        if (d->to[i] != out[0])
            out[n++] = d->to[i];
    return n;
}

enum en_sl_plan_variant_t sl_router_variant_apply(sl_plan_step_t *step, uint32_t fraction_permille, uint64_t draw)
{
    const sl_conf_degrade_t *d = &step->tier->degrade;
    enum en_sl_plan_variant_t v = sl_router_variant_pick(d, fraction_permille, draw, step->tier_index);
    step->variant = (uint8_t)v;
    if (v == SL_PLAN_VARIANT_DEGRADED)
        step->backend = d->to[0];
    return v;
}
