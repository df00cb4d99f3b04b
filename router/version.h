/*
 * version.h - the stable/canary choice of a tier with a rollout: by the canary's weight and the request's random
 * draw, or, with a sticky key, by a hash of the key's value so a given user always lands on the same version.
 * Pure functions: no I/O, no clock, no locks, no allocation, no logging (DESIGN.md §2); any thread.
 *
 * The hash (documented in docs/ROLLOUTS.md): FNV-1a (64-bit) over the canary backend's name, one 0 byte, then the
 * key's value bytes, finalized with the murmur3 fmix64 mixer. The value's bucket is floor(h x 1000 / 2^64), in
 * [0, 1000); the request goes to the canary when bucket < weight_permille. Hence:
 *   - the same value always gets the same bucket, on every worker, after every restart and reload;
 *   - the canary's set of values only grows as its weight grows (a value in the canary at 5% stays there at 10%);
 *   - another canary backend (a new rollout) draws a fresh, independent set;
 *   - weight 0 sends every request to stable, weight 1000 every request to the canary.
 * Requests without the key (no such header or cookie, or an empty value) draw at random. The random choice uses
 * the plan's draw mixed with the tier's index through fmix64, so it is independent of the other choices made with
 * the same draw (accuracy scaling) and of the other tiers'.
 */
#ifndef SL_ROUTER_VERSION_H
#define SL_ROUTER_VERSION_H

#include <stddef.h>
#include <stdint.h>

#include "conf/conf-t.h"
#include "router/facts-t.h"
#include "router/plan-t.h"

/* The sticky hash of a key value for a canary named canary_name (see above). */
uint64_t sl_router_version_hash(const char *canary_name, const char *value, size_t len);

/* The bucket of a hash: floor(h x 1000 / 2^64), in [0, 1000). */
uint32_t sl_router_version_bucket(uint64_t h);

/* The draw used for the random choice of tier tier_index: fmix64(draw + (tier_index + 1) x 0x9E3779B97F4A7C15). */
uint64_t sl_router_version_draw(uint64_t draw, size_t tier_index);

/* The sticky key's value in the request: the header's value (blanks around it trimmed), or the value of the first
 * cookie of that name in the Cookie header (RFC 6265 §5.4: "name=value" pairs separated by ";", blanks around
 * each pair ignored; the value as sent, quotes included). Returns a pointer into the request and sets *len, or NULL
 * when the rollout is not sticky, the key is absent or its value is empty. */
const char *sl_router_version_key(const sl_conf_rollout_t *rollout, const sl_facts_t *facts, size_t *len);

/* Stable or canary for one request of a tier with a rollout at weight_permille (0 .. 1000; above is 1000). Sets
 * *by_key (when not NULL) to 1 when the sticky key decided, 0 when the random draw did. A tier without a rollout
 * (rollout->enabled 0) is always stable. */
enum en_sl_plan_version_t sl_router_version_pick(const sl_conf_rollout_t *rollout, uint32_t weight_permille,
                                                 const sl_facts_t *facts, uint64_t draw, size_t tier_index, int *by_key);

/* Applies the choice to one step of a plan (made by sl_router_plan with the same draw): a step of a tier with a
 * rollout, on its accurate variant, goes to the canary backend when sl_router_version_pick says so (version
 * CANARY, backend = rollout.canary). A degraded step stays on its variant and stable: accuracy scaling and
 * canaries are not mixed. Returns the version of the step. */
enum en_sl_plan_version_t sl_router_version_apply(sl_plan_step_t *step, uint32_t weight_permille, const sl_facts_t *facts,
                                                  uint64_t draw, int *by_key);

#endif
