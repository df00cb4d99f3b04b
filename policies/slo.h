/*
 * slo.h - the per-route SLO policy: workers observe finished requests into their own shards (no lock, no
 * allocation, no atomic read-modify-write); the control thread ticks, adds the shards' new counts to per-minute
 * windows, evaluates error budgets, burn rates and alert states (stats/slo.h) and publishes an immutable verdict.
 * Persistence of the windows is in slo_state.c, rendering of a verdict in slo_render.c; docs/SLO.md explains all.
 */
#ifndef SL_POLICIES_SLO_H
#define SL_POLICIES_SLO_H

#include "policies/slo-t.h"

#include <assert.h>

#include "common/str.h"
#include "conf/conf-t.h"
#include "policies/persist-t.h"

/* "availability", "latency", "ttft": the `objective` label. */
extern const char *const sl_slo_objective_names[SL_SLO_NUM_OBJECTIVES];

/*
 * How one outcome counts for a route's declared objectives (pure; any thread):
 *   availability  every request; good when not shed and status < 500 (a shed or a gateway error is bad, a client
 *                 error such as 400 or an upstream 429 passed through is good)
 *   latency       every request that was not shed; good when latency_us <= threshold
 *   ttft          requests with has_ttft that were not shed; good when ttft_us <= threshold
 * Comparisons are on the exact microseconds of the request, never on a histogram bucket.
 */
static inline sl_slo_class_t sl_slo_classify(const sl_slo_route_t *r, const sl_slo_outcome_t *o)
{
    sl_slo_class_t c = {0, 0};
    c.counted |= 1u << SL_SLO_AVAILABILITY;
    if (!o->shed && o->status < 500)
        c.good |= 1u << SL_SLO_AVAILABILITY;
    if (!o->shed) {
        c.counted |= 1u << SL_SLO_LATENCY;
        if (o->latency_us <= r->threshold_us[SL_SLO_LATENCY])
            c.good |= 1u << SL_SLO_LATENCY;
        if (o->has_ttft) {
            c.counted |= 1u << SL_SLO_TTFT;
            if (o->ttft_us <= r->threshold_us[SL_SLO_TTFT])
                c.good |= 1u << SL_SLO_TTFT;
        }
    }
    c.counted &= r->enabled;
    c.good &= c.counted;
    return c;
}

/* The shard of worker w (borrowed; w < t->num_workers). */
static inline sl_slo_cell_t *sl_slo_shard(const sl_slo_tracker_t *t, uint32_t w)
{
    assert(w < t->num_workers);
    return t->cells + (size_t)w * t->stride;
}

/*
 * Counts one finished request of route `route` (its index in the tracker's config) in worker w's shard.
 * Worker w's thread only: a single writer per shard, so each counter is a relaxed load and store (no lock, no
 * read-modify-write, no allocation); the control thread reads them with relaxed loads. O(1).
 */
static inline void sl_slo_observe(sl_slo_tracker_t *t, uint32_t w, size_t route, const sl_slo_outcome_t *o)
{
    assert(route < t->num_routes);
    const sl_slo_route_t *r = &t->routes[route];
    if (r->enabled == 0)
        return;
    sl_slo_class_t c = sl_slo_classify(r, o);
    sl_slo_cell_t *cell = sl_slo_shard(t, w) + route * SL_SLO_NUM_OBJECTIVES;
    for (int i = 0; i != SL_SLO_NUM_OBJECTIVES; ++i, ++cell) {
        if ((c.counted >> i & 1u) == 0)
            continue;
        uint64_t *n = (c.good >> i & 1u) != 0 ? &cell->good : &cell->bad;
        __atomic_store_n(n, __atomic_load_n(n, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
    }
}

/*
 * Builds the policy for every route of conf (routes without an slo block get an index and no counters) and
 * num_workers shards (1 .. 1024). Windows start empty at wall_ms's minute with reset_reason "no state file";
 * see sl_slo_tracker_load() and sl_slo_tracker_adopt() to carry history in.
 * Returns SL_OK with *out owned by the caller (sl_slo_tracker_destroy), or SL_EINVAL (bad worker count, or a
 * target that rounds to 0 or 100% in parts per billion - logged with the route; *out untouched). Control thread.
 * conf is only read during the call.
 */
int sl_slo_tracker_create(const sl_conf_t *conf, uint32_t num_workers, uint64_t wall_ms, sl_slo_tracker_t **out);

/* Frees the tracker. Call only when no worker can observe into it any more. NULL is ignored. */
void sl_slo_tracker_destroy(sl_slo_tracker_t *t);

/*
 * The control loop's step: sums every shard, adds what is new since the last tick to each objective's window at
 * minute wall_ms / 60000 (counts are attributed to the minute of the tick that collects them), advances idle
 * windows, and evaluates budget, burn rates and alerts at that minute. When out is not NULL, *out receives a new
 * immutable verdict owned by the caller (sl_slo_verdict_destroy). A clock that stepped back is handled by the
 * window (counts go to its newest minute). Returns SL_OK, or SL_EINVAL (wall_ms beyond the window's range;
 * nothing changed). Control thread; allocates only the verdict.
 */
int sl_slo_tick(sl_slo_tracker_t *t, uint64_t wall_ms, sl_slo_verdict_t **out);

/* Frees a verdict; NULL is ignored. Any thread (the verdict is immutable). */
void sl_slo_verdict_destroy(sl_slo_verdict_t *v);

/* 1 when some objective of route index `route` is burning its budget fast (a page alert), else 0 (also for an
 * index out of range). The degrade controller's fast-burn input. Any thread. */
int sl_slo_verdict_fast_burn(const sl_slo_verdict_t *v, size_t route);

/* ---- persistence and reload (policies/slo_state.c) ---- */

/*
 * Appends the windows of every declared objective to out, each with its identity (route name, objective, target,
 * threshold, period): the payload of the "slo" state file, version SL_SLO_STATE_VERSION. Returns SL_OK or SL_ENOMEM
 * (out's cap; out's length restored). Control thread.
 */
int sl_slo_tracker_encode(const sl_slo_tracker_t *t, sl_buf_t *out);

/*
 * Loads an encoded payload into t, all or nothing: every record is decoded and checked first; on any defect
 * nothing changes and SL_ESYNTAX (or SL_EPROTO, SL_ERANGE from the window codec) is returned with why set.
 * Then each declared objective whose route name and objective match a record takes its history by the carry rule
 * (docs/SLO.md): same threshold - kept, whatever the target and window (a changed window keeps the newest minutes
 * that fit); changed threshold - reset, because past requests were judged against another threshold.
 * Objectives of t without a record start empty ("new objective"); records without an objective are dropped (logged).
 * Call it before the first tick. Control thread.
 */
int sl_slo_tracker_restore(sl_slo_tracker_t *t, const void *payload, size_t len, char why[SL_PERSIST_WHY_MAX]);

/*
 * Start-up: reads the state file of p and restores it. A missing file leaves every objective empty with reason
 * "no state file"; a damaged or foreign file (envelope or payload) is reported, set aside (policies/persist.h) and
 * every objective starts empty with reason "state file set aside: ...". Returns SL_OK in all these cases (the
 * gateway always starts), or SL_EIO when a damaged file could not be set aside (p then refuses writes; objectives
 * start empty with that reason). scratch is a caller buffer reused for the file. Control thread.
 */
int sl_slo_tracker_load(sl_slo_tracker_t *t, sl_persist_t *p, sl_buf_t *scratch, uint64_t wall_ms);

/* Writes the current windows to p's file (atomically; see sl_persist_write). Call it when sl_persist_due() and at
 * shutdown, after a final tick. Returns what sl_persist_write returns. Control thread. */
int sl_slo_tracker_save(const sl_slo_tracker_t *t, sl_persist_t *p, sl_buf_t *scratch, uint64_t now_ms, uint64_t wall_ms);

/*
 * Config reload: collects src's shards one last time (at wall_ms), then moves each window of src to the objective
 * of dst with the same route name and objective, by the same carry rule as a restore; the Prometheus counters
 * (good_total, requests_total) continue. Call it when no worker observes into src any more, before dst's first
 * tick; then destroy src. Returns SL_OK. Control thread.
 */
int sl_slo_tracker_adopt(sl_slo_tracker_t *dst, sl_slo_tracker_t *src, uint64_t wall_ms);

/*
 * After sl_slo_tracker_adopt(dst, src) (or after dst adopted a tracker that had adopted src): collects what workers
 * observed into src since src's last collection - requests that started under src's config and ended after the
 * reload - and adds it to dst at minute wall_ms / 60000, objective by objective as the carry rule hands history
 * over: an objective of dst with the same route name and threshold gets the counts in its window and its Prometheus
 * counters; one whose threshold changed only in its counters (the requests were judged against the old threshold);
 * an objective dst no longer declares drops them. Each call adds only what is new, so it may run every tick while
 * src is still observed into; call it a last time once no worker can observe into src, then destroy src.
 * Returns SL_OK, or SL_EINVAL (wall_ms beyond the window's range; nothing changed). Control thread; no allocation.
 */
int sl_slo_tracker_absorb(sl_slo_tracker_t *dst, sl_slo_tracker_t *src, uint64_t wall_ms);

/* ---- rendering (policies/slo_render.c) ---- */

/*
 * Appends the SLO metric families of a verdict in the Prometheus text format (docs/SLO.md, "Metrics"):
 * sluice_slo_requests_total, sluice_slo_good_total (counters), sluice_slo_objective, sluice_slo_budget_remaining,
 * sluice_slo_burn_rate{window}, sluice_slo_alert{severity}. Objectives without data have no budget or burn-rate
 * sample (never NaN). Returns SL_OK or SL_ENOMEM (out's cap; out's length restored). Any thread.
 */
int sl_slo_render_metrics(const sl_slo_verdict_t *v, sl_buf_t *out);

/* Appends the verdict as a JSON object for /admin/state ("slo": {...}); absent measures are null. Returns SL_OK
 * or SL_ENOMEM (out's length restored). Any thread. */
int sl_slo_render_json(const sl_slo_verdict_t *v, sl_buf_t *out);

#endif
