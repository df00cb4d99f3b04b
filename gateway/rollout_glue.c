/*
 * rollout_glue.c - canary rollouts in the running gateway: the version of each request, what departing requests
 * report, and the control-thread side that feeds each rollout and publishes its weight (docs/ROLLOUTS.md §9).
 *
 * Slots. Every (route name, tier index, tier backend) with a rollout gets a slot the first time a generation names
 * it; the slot holds the rollout (policies/rollout.h), its value samples and one ring per worker, and is freed only
 * at stop. A generation maps (route, tier) to a slot index, so a worker still serving an old generation writes to a
 * live slot, and a reload keeps the running rollout (sl_rollout_reconfigure decides whether the canary changed).
 *
 * Data path. When a tier with a rollout starts on its accurate variant (accuracy scaling and canaries are not
 * mixed), the worker loads the slot's weight (one relaxed atomic load: the control thread stores it after the state
 * file is written) and lets the router choose the version (router/version.h: pure; sticky by header or cookie,
 * several Cookie fields joined with "; " as RFC 9113 §8.2.3 asks), and notes the tier, the version and the weight it
 * picked with. On departure it writes one record per rollout tier the request started - version, weight, error,
 * accept or escalation and the accept signal, and for the tier that answered latency, TTFT and time per token - into
 * its own single-producer ring of that rollout; a full ring drops the record and counts it (a tick drains it every
 * 100 ms, so that takes 20,000 requests per second on one worker for one rollout). No lock, no allocation, nothing
 * sleeps.
 *
 * Control thread, every tick: drain each slot's rings into the tick's counts and the interval's value samples,
 * marking as stale the records picked with another weight than the step's (in flight when the weight changed: the
 * sample-ratio test leaves them out), call sl_rollout_tick (with "budget exhausted" from the latest SLO verdict of
 * the route), and when the rollout changed, write its state file first, then store the new weight (a crash between
 * the two can only leave the older, published weight behind a newer file, never the reverse). Events are logged.
 */
#include "gateway/rollout_glue.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/status.h"
#include "conf/conf.h"
#include "gateway/gw.h"
#include "gateway/monitor_glue.h"
#include "gateway/slo_glue-t.h"
#include "gateway/worker.h"
#include "policies/canary.h"
#include "policies/rollout.h"
#include "policies/rollout_store.h"
#include "policies/slo-t.h"
#include "router/version.h"
#include "stats/reservoir.h"

/* ---- data path ---- */

/* The router's header lookup over an h2o request, with every Cookie field joined (RFC 9113 §8.2.3: HTTP/2 clients
 * may split the cookie into several fields). A joined value lives in the request's pool. */
static const char *lookup_joined(void *ctx, const char *name, size_t name_len, size_t *value_len)
{
    h2o_req_t *req = ctx;
    ssize_t i = h2o_find_header_by_str(&req->headers, name, name_len, -1);
    if (i < 0)
        return NULL;
    h2o_iovec_t v = req->headers.entries[i].value;
    if (name_len == 6 && memcmp(name, "cookie", 6) == 0) {
        size_t total = v.len, n = 1;
        for (ssize_t j = i; (j = h2o_find_header_by_str(&req->headers, name, name_len, j)) >= 0; ++n)
            total += 2 + req->headers.entries[j].value.len;
        if (n > 1) {
            char *buf = h2o_mem_alloc_pool(&req->pool, total), *o = buf;
            memcpy(o, v.base, v.len);
            o += v.len;
            for (ssize_t j = i; (j = h2o_find_header_by_str(&req->headers, name, name_len, j)) >= 0;) {
                memcpy(o, "; ", 2);
                memcpy(o + 2, req->headers.entries[j].value.base, req->headers.entries[j].value.len);
                o += 2 + req->headers.entries[j].value.len;
            }
            *value_len = total;
            return buf;
        }
    }
    *value_len = v.len;
    return v.base;
}

void sl_gw_rollout_pick(sl_proxy_t *p, const sl_conf_tier_t *tier, const sl_gw_backend_rt_t **b)
{
    const sl_gw_gen_t *gen = p->gen;
    const sl_gw_rollouts_t *rs = p->w->gw->rollouts;
    if (!tier->rollout.enabled || gen->rollout_slot == NULL || rs == NULL || p->variant != SL_PLAN_VARIANT_ACCURATE)
        return;
    uint8_t k = gen->rollout_slot[p->route->conf->index * SL_CONF_MAX_TIERS + p->tier];
    if (k == SL_GW_ROLLOUT_NONE)
        return;
    uint32_t weight = atomic_load_explicit(&rs->slots[k]->weight_permille, memory_order_relaxed);
    sl_facts_t facts = p->cas.facts;
    facts.http.header = lookup_joined;
    facts.http.header_ctx = p->req;
    enum en_sl_plan_version_t v = sl_router_version_pick(&tier->rollout, weight, &facts, p->cas.plan.draw, p->tier, NULL);
    /* every rollout tier the request starts is reported at its departure (a cascade may cross several) */
    if (p->num_ro == SL_CONF_MAX_TIERS)
        return;
    struct st_sl_proxy_ro_t *ro = &p->ro[p->num_ro++];
    ro->slot = k;
    ro->tier = (uint8_t)p->tier;
    ro->version = v == SL_PLAN_VERSION_CANARY ? SL_CANARY_CANARY : SL_CANARY_STABLE;
    ro->weight_permille = (uint16_t)weight;
    p->t_ro_us = sl_clock_now_us();
    if (v == SL_PLAN_VERSION_CANARY)
        *b = gen->backends + tier->rollout.canary->index;
}

/* The outcome of rollout tier ro of a departing request: its own attempt's verdict (answered, escalated or failed);
 * the timings and the status only when it answered the client (`last`: it is the tier that ran last). */
static void observe_one(sl_proxy_t *p, const struct st_sl_proxy_ro_t *ro, int last, uint64_t now_us)
{
    const sl_gw_rollouts_t *rs = p->w->gw->rollouts;
    sl_gw_ro_rec_t rec;
    memset(&rec, 0, sizeof(rec));
    rec.version = ro->version;
    rec.weight_permille = ro->weight_permille;
    sl_canary_outcome_t *o = &rec.outcome;
    o->latency_ms = o->ttft_ms = o->tpot_ms = o->confidence = NAN;
    const sl_cascade_try_t *t = NULL;
    for (size_t i = 0; i != p->cas.num_tries; ++i)
        if (p->cas.tries[i].tier == ro->tier)
            t = &p->cas.tries[i];
    if (t != NULL && t->verdict != SL_CASCADE_PENDING) {
        o->error = t->reason == SL_REASON_FAILURE && t->failure != SL_FAILURE_CLIENT_ABORT;
        o->judged = t->reason == SL_REASON_CONFIDENT || t->reason == SL_REASON_LOW_CONFIDENCE ||
                    t->reason == SL_REASON_MISSING_SIGNAL || t->reason == SL_REASON_UNPARSABLE_SIGNAL;
        o->accepted = t->reason == SL_REASON_CONFIDENT;
        if (o->judged && t->signal_state == SL_SIGNAL_VALUE)
            o->confidence = t->signal;
    }
    if (last && p->tier == ro->tier) { /* it answered the client: its status and timings are the request's */
        o->error |= p->status >= 500 || (p->failure != SL_FAILURE_NONE && p->failure != SL_FAILURE_CLIENT_ABORT);
        o->latency_ms = (double)(now_us - p->t_ro_us) / 1000.0;
        if (p->is_stream && p->t_first_byte_us > p->t_ro_us) {
            o->ttft_ms = (double)(p->t_first_byte_us - p->t_ro_us) / 1000.0;
            if (p->usage.has_completion && p->usage.completion_tokens > 1 && now_us > p->t_first_byte_us)
                o->tpot_ms = (double)(now_us - p->t_first_byte_us) / 1000.0 / (double)(p->usage.completion_tokens - 1);
        }
    }
    sl_gw_ro_ring_t *ring = rs->slots[ro->slot]->rings[p->w->idx];
    uint64_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
    if (head - atomic_load_explicit(&ring->tail, memory_order_acquire) >= SL_GW_ROLLOUT_RING) {
        SL_GW_ADD(ring->dropped, 1);
        return;
    }
    ring->recs[head % SL_GW_ROLLOUT_RING] = rec;
    atomic_store_explicit(&ring->head, head + 1, memory_order_release);
}

void sl_gw_rollout_observe(sl_proxy_t *p, uint64_t now_us)
{
    if (p->num_ro == 0 || p->route == NULL || p->status == 499 || p->failure == SL_FAILURE_CLIENT_ABORT)
        return;
    for (uint8_t i = 0; i != p->num_ro; ++i)
        observe_one(p, &p->ro[i], i + 1 == p->num_ro, now_us);
}

/* ---- control thread ---- */

static void log_events(const sl_gw_ro_slot_t *s, int n)
{
    for (int i = 0; i != n; ++i) {
        const sl_rollout_event_t *ev = sl_rollout_history_get(&s->r.history, s->r.history.count - (uint32_t)n + (uint32_t)i);
        if (ev == NULL)
            continue;
        char why[160] = "";
        for (uint32_t e = 0; e != ev->num_evidence; ++e)
            if (ev->evidence[e].outcome == SL_CANARY_FAIL) {
                snprintf(why, sizeof(why), "; %s failed (p %.3g, effect %.3g, canary %.4g vs stable %.4g)",
                         sl_canary_kind_name(ev->evidence[e].kind), ev->evidence[e].p_value, ev->evidence[e].effect,
                         ev->evidence[e].canary_value, ev->evidence[e].stable_value);
                break;
            }
        SL_LOG(ev->kind == SL_ROLLOUT_EV_ROLLBACK ? SL_LOG_WARN : SL_LOG_INFO, "rollout",
               "route %s tier %" PRIu32 " (%s -> %s): %s by %s, %s -> %s, weight %" PRIu32 " -> %" PRIu32 " permille%s",
               s->route, s->tier, s->backend, s->canary, sl_rollout_event_name(ev->kind), sl_rollout_cause_name(ev->cause),
               sl_rollout_phase_name(ev->from_phase), sl_rollout_phase_name(ev->to_phase), ev->from_weight, ev->to_weight, why);
    }
}

/* Writes the slot's state when it changed (state_dir), then publishes its weight. */
static void commit(const sl_gw_rollouts_t *rs, sl_gw_ro_slot_t *s)
{
    if (s->r.dirty && rs->state_dir != NULL) {
        char why[SL_ROLLOUT_STORE_WHY];
        if (sl_rollout_store_write(rs->state_dir, s->route, s->backend, &s->r, sl_clock_wall_ms(), NULL, why) != SL_OK) {
            ++s->write_failures;
            SL_LOG(SL_LOG_ERROR, "rollout", "%s", why);
        }
    }
    if (rs->state_dir == NULL)
        s->r.dirty = 0;
    atomic_store_explicit(&s->weight_permille, sl_rollout_weight(&s->r), memory_order_relaxed);
}

static void set_name(char **dst, const char *src)
{
    if (*dst != NULL && strcmp(*dst, src) == 0)
        return;
    sl_free(*dst);
    *dst = sl_strdup(src);
}

/* The slot of (route, tier) for conf, created (and restored) when new; SL_GW_ROLLOUT_NONE when every slot is taken. */
static void hold_conf(sl_gw_ro_slot_t *s, sl_conf_t *conf)
{
    if (s->conf == conf)
        return;
    sl_conf_retain(conf);
    if (s->conf != NULL)
        sl_conf_release(s->conf);
    s->conf = conf;
}

static uint8_t bind_slot(sl_gw_rollouts_t *rs, sl_conf_t *conf, const sl_conf_route_t *route, uint32_t tier)
{
    const sl_conf_tier_t *ct = &route->tiers[tier];
    uint64_t now_ms = sl_clock_wall_ms();
    for (size_t i = 0; i != rs->num_slots; ++i) {
        sl_gw_ro_slot_t *s = rs->slots[i];
        if (s->tier != tier || strcmp(s->route, route->name) != 0 || strcmp(s->backend, ct->backend->name) != 0)
            continue;
        int n = sl_rollout_reconfigure(&s->r, &ct->rollout, now_ms);
        hold_conf(s, conf);
        log_events(s, n);
        set_name(&s->canary, ct->rollout.canary->name);
        s->configured = 1;
        commit(rs, s);
        return (uint8_t)i;
    }
    if (rs->num_slots == SL_GW_MAX_ROLLOUTS) {
        SL_LOG(SL_LOG_ERROR, "rollout", "route %s tier %" PRIu32 ": more than %d rollouts in this process; it stays on stable",
               route->name, tier, SL_GW_MAX_ROLLOUTS);
        return SL_GW_ROLLOUT_NONE;
    }
    sl_gw_ro_slot_t *s = sl_calloc(1, sizeof(*s));
    s->route = sl_strdup(route->name);
    s->backend = sl_strdup(ct->backend->name);
    s->canary = sl_strdup(ct->rollout.canary->name);
    s->tier = tier;
    s->configured = 1;
    s->rng = now_ms ^ ((uint64_t)rs->num_slots << 32) ^ 0x9E3779B97F4A7C15ull;
    sl_rollout_init(&s->r, &ct->rollout, now_ms);
    hold_conf(s, conf);
    sl_canary_sample_init(&s->values[0]);
    sl_canary_sample_init(&s->values[1]);
    s->rings = sl_calloc(rs->num_workers, sizeof(*s->rings));
    for (size_t w = 0; w != rs->num_workers; ++w) { /* the ring's fields sit on their own cache lines */
        s->rings[w] = aligned_alloc(64, (sizeof(*s->rings[w]) + 63) & ~(size_t)63);
        if (s->rings[w] == NULL) {
            SL_LOG(SL_LOG_ERROR, "rollout", "out of memory");
            abort();
        }
        memset(s->rings[w], 0, sizeof(*s->rings[w]));
    }
    int n = 0;
    if (rs->state_dir != NULL) {
        sl_rollout_saved_t *saved = sl_calloc(1, sizeof(*saved));
        char why[SL_ROLLOUT_STORE_WHY] = "";
        int found = 0, rc = sl_rollout_store_read(rs->state_dir, s->route, s->backend, saved, &found, why);
        if (rc == SL_OK && found) {
            sl_rollout_restore(&s->r, saved, now_ms);
            n = 1;
        } else if (rc != SL_OK) {
            SL_LOG(SL_LOG_ERROR, "rollout", "%s; the canary stays rolled back until an operator restarts it", why);
            sl_rollout_restore_unreadable(&s->r, now_ms);
            n = 1;
        }
        sl_free(saved);
    }
    log_events(s, n);
    rs->slots[rs->num_slots] = s;
    commit(rs, s);
    return (uint8_t)rs->num_slots++;
}

void sl_gw_rollout_attach(sl_gw_t *gw, sl_gw_gen_t *gen)
{
    sl_conf_t *conf = gen->conf;
    int any = 0;
    for (size_t i = 0; i != conf->num_routes && !any; ++i)
        for (size_t t = 0; t != conf->routes[i].num_tiers; ++t)
            any |= conf->routes[i].tiers[t].rollout.enabled;
    sl_gw_rollouts_t *rs = gw->rollouts;
    if (rs != NULL)
        for (size_t i = 0; i != rs->num_slots; ++i)
            rs->slots[i]->configured = 0;
    if (!any)
        return;
    size_t n = (conf->num_routes * SL_CONF_MAX_TIERS);
    gen->rollout_slot = sl_arena_alloc(&gen->arena, n);
    memset(gen->rollout_slot, SL_GW_ROLLOUT_NONE, n);
    if (rs == NULL)
        return; /* the first generation: sl_gw_rollout_start binds it */
    for (size_t i = 0; i != conf->num_routes; ++i)
        for (size_t t = 0; t != conf->routes[i].num_tiers; ++t)
            if (conf->routes[i].tiers[t].rollout.enabled)
                gen->rollout_slot[i * SL_CONF_MAX_TIERS + t] = bind_slot(rs, gen->conf, &conf->routes[i], (uint32_t)t);
}

int sl_gw_rollout_start(sl_gw_t *gw)
{
    sl_gw_gen_t *gen = sl_gw_current(gw);
    sl_gw_rollouts_t *rs = sl_calloc(1, sizeof(*rs));
    rs->num_workers = gen->conf->server.threads;
    if (gw->boot_conf != NULL && gw->boot_conf->state_dir != NULL)
        rs->state_dir = sl_strdup(gw->boot_conf->state_dir);
    else if (gw->boot_conf == NULL && gen->conf->state_dir != NULL)
        rs->state_dir = sl_strdup(gen->conf->state_dir);
    gw->rollouts = rs;
    if (gen->rollout_slot != NULL) /* no worker runs yet: the map may still be filled in */
        for (size_t i = 0; i != gen->conf->num_routes; ++i)
            for (size_t t = 0; t != gen->conf->routes[i].num_tiers; ++t)
                if (gen->conf->routes[i].tiers[t].rollout.enabled)
                    gen->rollout_slot[i * SL_CONF_MAX_TIERS + t] = bind_slot(rs, gen->conf, &gen->conf->routes[i], (uint32_t)t);
    return SL_OK;
}

void sl_gw_rollout_stop(sl_gw_t *gw)
{
    sl_gw_rollouts_t *rs = gw->rollouts;
    if (rs == NULL)
        return;
    for (size_t i = 0; i != rs->num_slots; ++i) {
        sl_gw_ro_slot_t *s = rs->slots[i];
        if (s->configured)
            commit(rs, s);
        sl_rollout_dispose(&s->r);
        sl_conf_release(s->conf);
        sl_canary_sample_dispose(&s->values[0]);
        sl_canary_sample_dispose(&s->values[1]);
        for (size_t w = 0; w != rs->num_workers; ++w)
            free(s->rings[w]);
        sl_free(s->rings);
        sl_free(s->route);
        sl_free(s->backend);
        sl_free(s->canary);
        sl_free(s);
    }
    sl_free(rs->state_dir);
    sl_free(rs);
    gw->rollouts = NULL;
}

/* 1 when some objective of the route named `name` has spent its error budget in the latest SLO verdict. */
static int budget_exhausted(const sl_gw_t *gw, const char *name)
{
    const sl_slo_verdict_t *v = gw->slo != NULL ? gw->slo->verdict : NULL;
    if (v == NULL)
        return 0;
    for (size_t i = 0; i != v->num_routes; ++i) {
        if (strcmp(v->routes[i].name, name) != 0)
            continue;
        for (size_t o = 0; o != SL_SLO_NUM_OBJECTIVES; ++o) {
            const sl_slo_objective_verdict_t *ov = &v->routes[i].objectives[o];
            if (ov->enabled && ov->report.budget_remaining.has_data && ov->report.budget_remaining.value <= 0)
                return 1;
        }
    }
    return 0;
}

/* Hands the feedback_accuracy check each version's labelled answers as model monitoring measures them now: the
 * canary backend's with version canary, the tier backend's with version stable. Nothing (no data) when the route has
 * no classification feedback or no label arrived. */
static void hand_labels(sl_gw_t *gw, sl_gw_ro_slot_t *s)
{
    sl_canary_labels_t l[2];
    memset(l, 0, sizeof(l));
    const sl_conf_route_t *route = sl_conf_find_route(sl_gw_current(gw)->conf, s->route);
    if (route != NULL && route->monitor.feedback.enabled && route->monitor.feedback.task == SL_FEEDBACK_CLASSIFICATION) {
        const char *names[2] = {s->backend, s->canary};
        uint64_t mono_ms = sl_clock_now_us() / 1000;
        for (int v = 0; v != 2; ++v) {
            sl_quality_report_t q;
            enum en_sl_feedback_version_t fv = v == SL_CANARY_CANARY ? SL_FEEDBACK_CANARY : SL_FEEDBACK_STABLE;
            if (sl_gw_monitor_quality(gw, s->route, names[v], fv, mono_ms, &q) == SL_OK && q.has_data)
                l[v] = (sl_canary_labels_t){.n = q.n, .correct = (uint64_t)llround(q.accuracy * (double)q.n)};
        }
    }
    sl_canary_set_labels(&s->r.analysis, &l[SL_CANARY_CANARY], &l[SL_CANARY_STABLE]);
}

void sl_gw_rollout_tick(sl_gw_t *gw, uint64_t now_ms)
{
    sl_gw_rollouts_t *rs = gw->rollouts;
    if (rs == NULL)
        return;
    for (size_t i = 0; i != rs->num_slots; ++i) {
        sl_gw_ro_slot_t *s = rs->slots[i];
        sl_canary_counts_t counts[2];
        memset(counts, 0, sizeof(counts));
        for (size_t w = 0; w != rs->num_workers; ++w) {
            sl_gw_ro_ring_t *ring = s->rings[w];
            uint64_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
            uint64_t head = atomic_load_explicit(&ring->head, memory_order_acquire);
            for (; tail != head; ++tail) {
                const sl_gw_ro_rec_t *rec = &ring->recs[tail % SL_GW_ROLLOUT_RING];
                const sl_canary_outcome_t *o = &rec->outcome;
                int v = rec->version == SL_CANARY_CANARY;
                counts[v].requests++;
                counts[v].errors += o->error != 0;
                counts[v].judged += o->judged != 0;
                counts[v].accepted += o->judged != 0 && o->accepted != 0;
                counts[v].stale += rec->weight_permille != s->r.analysis.weight_permille;
                if (s->configured)
                    sl_canary_sample_observe(&s->values[v], o, sl_reservoir_splitmix64(&s->rng));
            }
            atomic_store_explicit(&ring->tail, tail, memory_order_release);
        }
        if (!s->configured)
            continue;
        int due = sl_rollout_analysis_due(&s->r, now_ms);
        if (due && s->r.conf->checks[SL_CONF_CHECK_FEEDBACK_ACCURACY].enabled)
            hand_labels(gw, s);
        int n = sl_rollout_tick(&s->r, &counts[SL_CANARY_CANARY], &counts[SL_CANARY_STABLE],
                                due ? &s->values[SL_CANARY_CANARY] : NULL, due ? &s->values[SL_CANARY_STABLE] : NULL, now_ms,
                                budget_exhausted(gw, s->route), &s->rng);
        if (due) {
            sl_canary_sample_reset(&s->values[0]);
            sl_canary_sample_reset(&s->values[1]);
        }
        log_events(s, n);
        commit(rs, s);
    }
}
