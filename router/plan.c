/*
 * plan.c - the cascade plan: which tiers a request tries, in which order, and how each attempt travels.
 *
 * The plan is computed once per request, after route matching, from the route (config snapshot), the request facts
 * and a random draw, into caller storage of fixed size (SL_CONF_MAX_TIERS steps): no allocation, no clock, no
 * I/O, so a decision is replayable from its inputs. The cost is one pass over the tiers plus, per skip_when
 * condition, a header lookup or a walk of the body to a JSON pointer (router/facts.c).
 * Variant (accurate/degraded) and version (stable/canary) fields are set to their defaults here; the capabilities
 * that choose them will use the verdict snapshot and the draw.
 */
#include "router/plan.h"
#include "common/status.h"
#include "router/facts.h"

#include <string.h>

/* Index of the first skip_when condition of tier that holds, or -1. */
static int first_holding(const sl_conf_tier_t *tier, const sl_facts_t *facts)
{
    for (size_t i = 0; i != tier->num_skip_when; ++i)
        if (sl_facts_cond_holds(facts, &tier->skip_when[i]))
            return (int)i;
    return -1;
}

int sl_router_plan(const sl_conf_route_t *route, const sl_facts_t *facts, uint64_t draw, sl_plan_t *out)
{
    size_t n = route->num_tiers;
    if (n == 0 || n > SL_CONF_MAX_TIERS)
        return SL_EINVAL;
    out->route = route;
    out->draw = draw;
    out->stream = facts->body.stream;
    out->num_steps = 0;
    out->num_skipped = 0;
    for (size_t i = 0; i != n; ++i) {
        const sl_conf_tier_t *tier = &route->tiers[i];
        int last = i + 1 == n;
        int cond = last ? -1 : first_holding(tier, facts);
        if (cond >= 0) {
            sl_plan_skip_t *s = &out->skipped[out->num_skipped++];
            s->cond = &tier->skip_when[cond];
            s->tier_index = (uint8_t)i;
            s->cond_index = (uint8_t)cond;
            continue;
        }
        sl_plan_step_t *st = &out->steps[out->num_steps++];
        st->tier = tier;
        st->backend = tier->backend;
        st->tier_index = (uint8_t)i;
        st->variant = SL_PLAN_VARIANT_ACCURATE;
        st->version = SL_PLAN_VERSION_STABLE;
        if (!out->stream)
            st->mode = SL_PLAN_BUFFERED;
        else
            st->mode = !last && tier->buffer_streams ? SL_PLAN_STREAM_BUFFERED : SL_PLAN_STREAMED;
        st->judged = !last && tier->has_accept && st->mode != SL_PLAN_STREAMED;
        st->latency_budget_ms = last ? 0 : tier->latency_budget_ms;
    }
    return SL_OK;
}
