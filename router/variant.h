/*
 * variant.h - the accurate/degraded choice of a tier with accuracy scaling (`degrade`): by the degrade fraction the
 * control loop publishes and the request's random draw, plus the order in which the variants are tried when the
 * chosen one is full (spill-over). Pure functions: no I/O, no clock, no locks, no allocation, no logging
 * (DESIGN.md §2); any thread.
 *
 * The fraction is data (policies/degrade.h computes it, the gateway hands it over from its verdicts); the draw is an
 * argument. A request goes to the degraded variant when the bucket of its draw, floor(d x 1000 / 2^64), is below
 * the fraction in permille: fraction 0 never degrades, 1000 always does, and for a uniform draw the share of degraded
 * requests is exactly fraction / 1000. The draw is mixed with the tier's index through fmix64 with a salt of its
 * own, so it is independent of the stable/canary draw of the same tier (router/version.h) and of the other tiers'.
 */
#ifndef SL_ROUTER_VARIANT_H
#define SL_ROUTER_VARIANT_H

#include <stddef.h>
#include <stdint.h>

#include "conf/conf-t.h"
#include "router/plan-t.h"

/* Backends one request of a tier may try: the accurate one and up to SL_CONF_MAX_DEGRADE_TO faster variants. */
#define SL_ROUTER_MAX_VARIANTS (1 + SL_CONF_MAX_DEGRADE_TO)

/* The draw used for the variant choice of tier tier_index: fmix64(draw + (tier_index + 1) x 0x9E3779B97F4A7C15
 * + 0xD1B54A32D192ED03). */
uint64_t sl_router_variant_draw(uint64_t draw, size_t tier_index);

/* Accurate or degraded for one request of a tier with degrade settings d at fraction_permille (0 .. 1000; above
 * is 1000): DEGRADED when the bucket of sl_router_variant_draw(draw, tier_index) is below the fraction. A tier
 * without degrade (d->enabled 0, or no variant) is always ACCURATE. */
enum en_sl_plan_variant_t sl_router_variant_pick(const sl_conf_degrade_t *d, uint32_t fraction_permille, uint64_t draw,
                                                 size_t tier_index);

/*
 * The backends to try, in order, for one request of tier whose variant is v: the chosen one first (the tier's own
 * backend for ACCURATE, the first faster variant for DEGRADED); then, when the tier spills over
 * (degrade.spill_over), every other one: the accurate backend, then the faster variants in their order of
 * preference. Writes at most SL_ROUTER_MAX_VARIANTS borrowed pointers into out and returns their count (1 without
 * spill-over or without degrade).
 */
size_t sl_router_variant_order(const sl_conf_tier_t *tier, enum en_sl_plan_variant_t v,
                               const sl_conf_backend_t *out[SL_ROUTER_MAX_VARIANTS]);

/* Applies the choice to one step of a plan (made by sl_router_plan): a step of a tier with degrade goes to its
 * first faster variant when sl_router_variant_pick says so (variant DEGRADED, backend = degrade.to[0]). Call it
 * before sl_router_version_apply, which keeps a degraded step on its variant. Returns the variant of the step. */
enum en_sl_plan_variant_t sl_router_variant_apply(sl_plan_step_t *step, uint32_t fraction_permille, uint64_t draw);

#endif
