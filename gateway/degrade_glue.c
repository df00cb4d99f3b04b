/*
 * degrade_glue.c - accuracy scaling in the running gateway: the variant of each request, what departing requests
 * report, and the controller of each degrade tier (see slo_glue.h; the control law is docs/SLO.md, "Accuracy
 * scaling").
 *
 * Data path. When a tier with a `degrade` block starts, the worker reads the tier's degrade fraction (one relaxed
 * atomic load from its generation's part: the control thread stores it every tick, and a single word needs no
 * snapshot) and lets the router choose the variant from it and a random draw (router/variant.h: the router stays a
 * pure function of its inputs). With spill_over, the variants are tried in the router's order and the first with
 * a free slot takes the request: a request never waits for the accurate variant while a faster one has room. When
 * every variant is at max_concurrency the request is shed at once - 429 with Retry-After, in the route protocol's
 * error shape - instead of queueing past the latency SLO; the SLO policy counts it as bad for availability. On
 * departure the request reports its SLO outcome and, when it reached the accurate variant, its latency from the
 * start of the tier into the worker's shard of the tier's histogram. No lock, no allocation, nothing sleeps.
 *
 * Control thread, every tick (100 ms). For each degrade tier: the latency the workers recorded since the last tick
 * (summed shards minus what was already taken) goes into a ring of per-slot histograms over latency_window
 * (stats/hist.h: at most SL_GW_DEGRADE_SLOTS slots of at least one tick, so a 30 s window is 60 slots of 500 ms and
 * 440 KB); then the controller (policies/degrade.h, a pure function) steps with the accurate backend's saturation
 * (in flight over max_concurrency x endpoints, from the endpoints' own atomics, averaged over the last ten ticks:
 * one sample of a queue is noise, and instant saturation is spill-over's business), the ring's p99 against the
 * route's latency threshold, and the route's fast-burn state from the last SLO verdict; the fraction is stored in the
 * part of every generation still alive. Every change is counted by cause, logged, and kept with its evidence for
 * /admin/state. The controller's state is keyed by (route name, tier index) and survives reloads.
 */
#include "gateway/slo_glue.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "backends/pool.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/status.h"
#include "gateway/worker.h"
#include "policies/degrade.h"
#include "policies/slo.h"
#include "router/variant.h"
#include "stats/hist.h"

/* ---- data path ---- */

int sl_gw_degrade_pick(sl_proxy_t *p, const sl_conf_tier_t *tier, const sl_gw_backend_rt_t **b)
{
    const sl_gw_slo_gen_t *r = p->gen->slo;
    p->shed = 0;
    p->dtier = 0;
    p->variant = SL_PLAN_VARIANT_ACCURATE;
    if (!tier->degrade.enabled || r == NULL)
        return -1;
    int32_t k = r->dtier_of[r->tier_base[p->route->conf->index] + p->tier];
    if (k < 0)
        return -1;
    sl_gw_dtier_shard_t *ds = sl_gw_slo_dshard(r, p->w->idx, (size_t)k);
    p->dtier = (uint32_t)k + 1;
    p->t_tier_us = sl_clock_now_us();
    uint32_t f = atomic_load_explicit(&r->fraction_permille[k], memory_order_relaxed);
    enum en_sl_plan_variant_t v = sl_router_variant_pick(&tier->degrade, f, sl_gw_worker_rand(p->w), p->tier);
    const sl_conf_backend_t *order[SL_ROUTER_MAX_VARIANTS];
    size_t n = sl_router_variant_order(tier, v, order);
    *b = p->gen->backends + order[0]->index;
    if (!tier->degrade.spill_over) {
        p->variant = (uint8_t)v;
        SL_GW_ADD(ds->routed[v == SL_PLAN_VARIANT_DEGRADED], 1);
        return -1;
    }
    int full = 0;
    for (size_t i = 0; i != n; ++i) {
        const sl_gw_backend_rt_t *c = p->gen->backends + order[i]->index;
        sl_pool_endpoint_t *e;
        int rc = sl_pool_pick(c->endpoints, c->num_endpoints, c->conf->max_concurrency, sl_gw_worker_rand(p->w), &e);
        if (rc == SL_POOL_PICKED) {
            p->endpoint = e;
            p->holds_slot = 1;
            p->variant = order[i] == tier->backend ? SL_PLAN_VARIANT_ACCURATE : SL_PLAN_VARIANT_DEGRADED;
            *b = c;
            SL_GW_ADD(ds->routed[p->variant == SL_PLAN_VARIANT_DEGRADED], 1);
            if (i != 0)
                SL_GW_ADD(ds->spillovers, 1);
            return SL_POOL_PICKED;
        }
        full |= rc == SL_POOL_FULL;
    }
    if (!full)
        return SL_POOL_NONE;
    p->shed = 1;
    return SL_POOL_FULL;
}

void sl_gw_slo_observe(sl_proxy_t *p, uint64_t now_us)
{
    const sl_gw_slo_gen_t *r = p->gen->slo;
    if (r == NULL || p->route == NULL)
        return;
    size_t route = p->route->conf->index, w = p->w->idx;
    int overloaded = p->status == 503 && p->failure == SL_FAILURE_OVERLOADED;
    sl_slo_outcome_t o = {(uint32_t)p->status, p->shed || overloaded, now_us - p->t_recv_us, 0, 0};
    if (p->is_stream && p->t_first_byte_us != 0) {
        o.has_ttft = 1;
        o.ttft_us = p->t_first_byte_us - p->t_recv_us;
    }
    sl_slo_observe(r->tracker, (uint32_t)w, route, &o);
    if (o.shed)
        SL_GW_ADD(sl_gw_slo_shed(r, w, route)[p->shed ? SL_GW_SHED_SATURATED : SL_GW_SHED_OVERLOADED], 1);
    /* the accurate variant's latency: requests that reached it (served or failed), not those refused before */
    if (p->dtier != 0 && !o.shed && p->failure != SL_FAILURE_NO_ENDPOINT && p->variant == SL_PLAN_VARIANT_ACCURATE &&
        p->t_tier_us != 0)
        sl_hist_record(&sl_gw_slo_dshard(r, w, p->dtier - 1)->latency, now_us - p->t_tier_us);
}

/* ---- control thread ---- */

uint32_t sl_gw_degrade_bind(sl_gw_slo_t *s, const sl_conf_route_t *route, uint32_t tier, uint64_t now_ms)
{
    size_t i = 0;
    while (i != s->num_dtiers && !(s->dtiers[i].tier == tier && strcmp(s->dtiers[i].route, route->name) == 0))
        ++i;
    if (i == s->num_dtiers) {
        if (s->num_dtiers == s->cap_dtiers) {
            s->cap_dtiers = s->cap_dtiers == 0 ? 4 : s->cap_dtiers * 2;
            s->dtiers = sl_realloc(s->dtiers, s->cap_dtiers * sizeof(*s->dtiers));
        }
        memset(&s->dtiers[i], 0, sizeof(s->dtiers[i]));
        s->dtiers[i].route = sl_strdup(route->name);
        s->dtiers[i].tier = tier;
        s->num_dtiers++;
        sl_gw_degrade_follow(s, route, tier, (uint32_t)i, now_ms); /* new: no running config depends on it */
    }
    return (uint32_t)i;
}

void sl_gw_degrade_follow(sl_gw_slo_t *s, const sl_conf_route_t *route, uint32_t tier, uint32_t id, uint64_t now_ms)
{
    const sl_conf_tier_t *ct = &route->tiers[tier];
    sl_gw_dtier_t *d = &s->dtiers[id];
    d->configured = 1;
    if (d->backend == NULL || strcmp(d->backend, ct->backend->name) != 0) {
        sl_free(d->backend);
        d->backend = sl_strdup(ct->backend->name);
    }
    uint32_t window = ct->degrade.latency_window_ms;
    if (window != d->window_ms) {
        uint32_t slot = (window + SL_GW_DEGRADE_SLOTS - 1) / SL_GW_DEGRADE_SLOTS;
        if (slot < SL_GW_DEGRADE_SLOT_MIN_MS)
            slot = SL_GW_DEGRADE_SLOT_MIN_MS;
        if (d->ring.slots_private != NULL)
            sl_hist_ring_dispose(&d->ring);
        int rc = sl_hist_ring_init(&d->ring, (window + slot - 1) / slot, (int64_t)(now_ms / slot));
        assert(rc == SL_OK); /* latency_window is 1 s .. 10 min: 10 .. 60 slots */
        (void)rc;
        d->slot_ms = slot;
        d->window_ms = window;
    }
}

/* Pushes the latency recorded since the last call into each degrade tier's window. */
static void harvest(sl_gw_slo_t *s, sl_gw_slo_gen_t *r, uint64_t now_ms)
{
    for (size_t k = 0; k != r->num_dtiers; ++k) {
        sl_gw_dtier_t *d = &s->dtiers[r->dstate[k]];
        sl_hist_init(&s->sum);
        for (size_t w = 0; w != r->num_workers; ++w)
            sl_hist_merge(&s->sum, &sl_gw_slo_dshard(r, w, k)->latency);
        if (sl_hist_count(&s->sum) == sl_hist_count(&r->seen[k]))
            continue;
        if (sl_hist_delta(&s->delta, &s->sum, &r->seen[k]) == SL_OK)
            sl_hist_ring_push(&d->ring, (int64_t)(now_ms / d->slot_ms), &s->delta);
        r->seen[k] = s->sum;
    }
}

void sl_gw_degrade_retire(sl_gw_slo_t *s, sl_gw_slo_gen_t *r, uint64_t now_ms)
{
    harvest(s, r, now_ms);
    for (size_t k = 0; k != r->num_dtiers; ++k) {
        sl_gw_dtier_t *d = &s->dtiers[r->dstate[k]];
        for (size_t w = 0; w != r->num_workers; ++w) {
            const sl_gw_dtier_shard_t *ds = sl_gw_slo_dshard(r, w, k);
            d->gone_routed[0] += __atomic_load_n(&ds->routed[0], __ATOMIC_RELAXED);
            d->gone_routed[1] += __atomic_load_n(&ds->routed[1], __ATOMIC_RELAXED);
            d->gone_spillovers += __atomic_load_n(&ds->spillovers, __ATOMIC_RELAXED);
        }
    }
    for (size_t i = 0; i != r->num_routes; ++i)
        for (size_t w = 0; w != r->num_workers; ++w)
            for (int reason = 0; reason != SL_GW_SHED_NUM; ++reason)
                s->routes[r->route_id[i]].gone_shed[reason] +=
                    __atomic_load_n(&sl_gw_slo_shed(r, w, i)[reason], __ATOMIC_RELAXED);
}

/* 1 when the route named `name` pages in verdict v (by name: v may come from the previous config). */
static int fast_burn(const sl_slo_verdict_t *v, const char *name)
{
    if (v == NULL)
        return 0;
    for (size_t i = 0; i != v->num_routes; ++i)
        if (strcmp(v->routes[i].name, name) == 0)
            return sl_slo_verdict_fast_burn(v, i);
    return 0;
}

/* One controller step for tier t of route i of gen, whose state is d. */
static void step(sl_gw_slo_t *s, const sl_gw_gen_t *gen, size_t i, size_t t, sl_gw_dtier_t *d, uint64_t now_ms)
{
    const sl_conf_route_t *cr = &gen->conf->routes[i];
    const sl_conf_tier_t *ct = &cr->tiers[t];
    const sl_gw_backend_rt_t *b = gen->backends + ct->backend->index;
    sl_degrade_input_t in;
    memset(&in, 0, sizeof(in));
    in.now_ms = now_ms;
    uint64_t inflight = 0, capacity = (uint64_t)b->conf->max_concurrency * b->num_endpoints;
    for (size_t e = 0; e != b->num_endpoints; ++e)
        inflight += atomic_load_explicit(&b->endpoints[e]->inflight, memory_order_relaxed);
    /* the mean over the last second: one tick's count is a noisy sample of a queue, and instant saturation is
     * spill-over's business; summing both terms keeps the ratio exact */
    if (capacity > UINT32_MAX / SL_GW_DEGRADE_SAMPLES)
        capacity = UINT32_MAX / SL_GW_DEGRADE_SAMPLES;
    if (capacity != d->capacity) {
        d->capacity = (uint32_t)capacity;
        d->num_samples = 0; /* a reload changed the limit: earlier samples measured another capacity */
        d->next_sample = 0;
    }
    d->inflight[d->next_sample] = inflight > UINT32_MAX ? UINT32_MAX : (uint32_t)inflight;
    d->next_sample = (d->next_sample + 1) % SL_GW_DEGRADE_SAMPLES;
    if (d->num_samples < SL_GW_DEGRADE_SAMPLES)
        d->num_samples++;
    uint64_t sum = 0;
    for (uint32_t k = 0; k != d->num_samples; ++k)
        sum += d->inflight[k];
    in.in_flight = sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum;
    in.capacity = d->capacity * d->num_samples;
    sl_hist_ring_advance(&d->ring, (int64_t)(now_ms / d->slot_ms));
    double p99;
    if (sl_hist_ring_quantile(&d->ring, 0.99, &p99) == SL_OK) {
        in.has_p99 = 1;
        in.p99_us = (uint64_t)p99;
    }
    if (cr->slo.enabled && cr->slo.latency.enabled)
        in.threshold_us = (uint64_t)cr->slo.latency.threshold_ms * 1000u;
    in.fast_burn = fast_burn(s->verdict, cr->name);

    sl_degrade_decision_t dec;
    sl_degrade_step(&ct->degrade, &d->state, &in, &d->state, &dec);
    d->input = in;
    d->last = dec;
    if (dec.cause == SL_DEGRADE_NONE)
        return;
    d->changes[dec.cause]++;
    d->has_change = 1;
    d->change = dec;
    d->change_wall_ms = sl_clock_wall_ms();
    char sat[32] = "n/a", lat[32] = "n/a";
    if (dec.has_saturation)
        snprintf(sat, sizeof(sat), "%" PRIu32 ".%" PRIu32 "%%", dec.saturation_permille / 10, dec.saturation_permille % 10);
    if (in.has_p99)
        snprintf(lat, sizeof(lat), "%" PRIu64 " ms", in.p99_us / 1000);
    SL_LOG(SL_LOG_INFO, "degrade",
           "route %s tier %zu (%s): degrade fraction %" PRIu32 ".%" PRIu32 "%% -> %" PRIu32 ".%" PRIu32
           "%% (%s; saturation %s, p99 %s%s)",
           cr->name, t, ct->backend->name, dec.from_permille / 10, dec.from_permille % 10, dec.to_permille / 10,
           dec.to_permille % 10, sl_degrade_cause_names[dec.cause], sat, lat, in.fast_burn ? ", fast burn" : "");
}

void sl_gw_degrade_tick(sl_gw_t *gw, sl_gw_gen_t *gen, uint64_t now_ms)
{
    sl_gw_slo_t *s = gw->slo;
    for (sl_gw_slo_gen_t *r = s->gens; r != NULL; r = r->next)
        harvest(s, r, now_ms);
    const sl_gw_slo_gen_t *cur = gen->slo;
    for (size_t i = 0; i != cur->num_routes; ++i)
        for (size_t t = 0; t != gen->conf->routes[i].num_tiers; ++t) {
            int32_t k = cur->dtier_of[cur->tier_base[i] + t];
            if (k >= 0)
                step(s, gen, i, t, &s->dtiers[cur->dstate[k]], now_ms);
        }
    /* the fractions in force, for every generation requests may still start a tier under */
    for (sl_gw_slo_gen_t *r = s->gens; r != NULL; r = r->next)
        for (size_t k = 0; k != r->num_dtiers; ++k)
            atomic_store_explicit(&r->fraction_permille[k], s->dtiers[r->dstate[k]].state.fraction_permille,
                                  memory_order_relaxed);
}
