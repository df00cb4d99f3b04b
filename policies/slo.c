/*
 * slo.c - the per-route SLO policy: per-worker shards on the data path, per-minute windows and verdicts on the
 * control thread.
 *
 * Data path. sl_slo_observe() (slo.h, inline) classifies a finished request exactly - status, shed flag, and the
 * request's own latency and TTFT in microseconds against the thresholds - and adds 1 to one counter per counted
 * objective in the calling worker's shard. Each objective has two counters, good and bad, and a request touches
 * exactly one of them, never both: so every counter only grows, and any pair of loads the control thread makes is
 * a valid count (at worst one that misses the newest request, which the next tick collects). A good/total pair
 * would not have that property: a read between "total += 1" and "good += 1" sees a bad request that later turns
 * good, and the difference of two such reads can even have more good than total.
 *
 * Why relaxed atomics and not plain words. There is exactly one writer per shard (its worker), so the increment
 * needs no read-modify-write: a relaxed load and a relaxed store, which compile to the same plain instructions as
 * "++" on x86-64 and arm64. But the control thread reads concurrently, and a plain concurrent read is a data race
 * in C11 (undefined behaviour, and a torn 64-bit read on 32-bit targets). Relaxed atomic loads make it defined, keep
 * each word whole, and cost nothing; no ordering between the words is needed (see above). No lock, no allocation.
 *
 * Shards. Worker w's counters are cells[w x stride, (w + 1) x stride): num_routes x 3 cells of 16 bytes, the stride
 * rounded up to 64 bytes and the whole array aligned to 64, so no two workers ever write the same cache line.
 *
 * Control thread. sl_slo_tick() sums the shards of every objective, adds the increase since the last tick to the
 * objective's sl_window_t at the tick's minute (so a count lands at most one tick late, in the next minute when a
 * tick straddles a minute boundary), advances idle windows, evaluates (stats/slo.h) and copies everything into a
 * new, self-contained verdict. Alert conditions are re-evaluated at every tick, so an alert fires at the first tick
 * whose counts satisfy it: within one tick of the minute the math implies. Zero traffic is "no data"
 * (has_data = 0), never NaN or infinity.
 *
 * Memory: one window per declared objective, 16 bytes per minute of max(period, 3 days) (645 KB for 28 days);
 * 48 bytes per route per worker of shards; a verdict of about 1.3 KB per route, allocated per tick.
 */
#include "policies/slo.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/status.h"
#include "stats/slo.h"
#include "stats/window.h"

#define MAX_WORKERS 1024u

const char *const sl_slo_objective_names[SL_SLO_NUM_OBJECTIVES] = {"availability", "latency", "ttft"};

static int route_init(sl_slo_route_t *r, const sl_conf_route_t *cr)
{
    const sl_conf_slo_t *s = &cr->slo;
    const sl_conf_objective_t *objs[SL_SLO_NUM_OBJECTIVES] = {&s->availability, &s->latency, &s->ttft};
    snprintf(r->name, sizeof(r->name), "%s", cr->name);
    if (!s->enabled)
        return SL_OK;
    for (int i = 0; i != SL_SLO_NUM_OBJECTIVES; ++i) {
        if (!objs[i]->enabled)
            continue;
        if (sl_slo_init(&r->math[i], objs[i]->target, s->window_s / 60) != SL_OK) {
            SL_LOG(SL_LOG_ERROR, "slo", "route %s: %s target %.17g cannot be held in parts per billion", cr->name,
                   sl_slo_objective_names[i], objs[i]->target);
            return SL_EINVAL;
        }
        r->threshold_us[i] = i == SL_SLO_AVAILABILITY ? 0 : (uint64_t)objs[i]->threshold_ms * 1000u;
        r->enabled |= (uint8_t)(1u << i);
    }
    return SL_OK;
}

int sl_slo_tracker_create(const sl_conf_t *conf, uint32_t num_workers, uint64_t wall_ms, sl_slo_tracker_t **out)
{
    int64_t minute = (int64_t)(wall_ms / 60000u);
    if (num_workers == 0 || num_workers > MAX_WORKERS || minute > SL_WINDOW_MAX_MINUTE)
        return SL_EINVAL;
    size_t n = conf->num_routes;
    sl_slo_route_t *routes = sl_calloc(n != 0 ? n : 1, sizeof(*routes));
    for (size_t i = 0; i != n; ++i) {
        if (route_init(&routes[i], &conf->routes[i]) != SL_OK) {
            sl_free(routes);
            return SL_EINVAL;
        }
    }

    sl_slo_tracker_t *t = sl_calloc(1, sizeof(*t));
    t->routes = routes;
    t->num_routes = n;
    t->num_workers = num_workers;
    size_t per_line = 64 / sizeof(sl_slo_cell_t);
    t->stride = (n * SL_SLO_NUM_OBJECTIVES + per_line - 1) / per_line * per_line;
    if (t->stride == 0)
        t->stride = per_line;
    size_t bytes = t->stride * num_workers * sizeof(sl_slo_cell_t);
    t->cells_alloc_private = sl_calloc(1, bytes + 63);
    t->cells = (sl_slo_cell_t *)(((uintptr_t)t->cells_alloc_private + 63) & ~(uintptr_t)63);

    t->tracks = sl_calloc(n * SL_SLO_NUM_OBJECTIVES + 1, sizeof(*t->tracks));
    for (size_t i = 0; i != n; ++i) {
        for (int o = 0; o != SL_SLO_NUM_OBJECTIVES; ++o) {
            sl_slo_track_t *tr = &t->tracks[i * SL_SLO_NUM_OBJECTIVES + (size_t)o];
            if ((routes[i].enabled >> o & 1u) == 0)
                continue;
            int rc = sl_window_init(&tr->window, sl_slo_window_capacity_min(&routes[i].math[o]), minute);
            assert(rc == SL_OK); /* capacity and minute were validated above */
            (void)rc;
            snprintf(tr->reset_reason, sizeof(tr->reset_reason), "no state file");
        }
    }
    t->last_wall_ms = wall_ms;
    *out = t;
    return SL_OK;
}

void sl_slo_tracker_destroy(sl_slo_tracker_t *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i != t->num_routes * SL_SLO_NUM_OBJECTIVES; ++i)
        sl_window_dispose(&t->tracks[i].window);
    sl_free(t->tracks);
    sl_free(t->cells_alloc_private);
    sl_free(t->routes);
    sl_free(t);
}

/* Sums the shards of every declared objective and adds what is new to its window at `minute`. */
static void harvest(sl_slo_tracker_t *t, int64_t minute)
{
    for (size_t i = 0; i != t->num_routes; ++i) {
        const sl_slo_route_t *r = &t->routes[i];
        for (int o = 0; o != SL_SLO_NUM_OBJECTIVES; ++o) {
            if ((r->enabled >> o & 1u) == 0)
                continue;
            size_t c = i * SL_SLO_NUM_OBJECTIVES + (size_t)o;
            sl_slo_track_t *tr = &t->tracks[c];
            uint64_t good = 0, bad = 0;
            for (uint32_t w = 0; w != t->num_workers; ++w) {
                const sl_slo_cell_t *cell = sl_slo_shard(t, w) + c;
                good += __atomic_load_n(&cell->good, __ATOMIC_RELAXED);
                bad += __atomic_load_n(&cell->bad, __ATOMIC_RELAXED);
            }
            uint64_t dg = good - tr->harvested.good, db = bad - tr->harvested.bad;
            if (dg != 0 || db != 0)
                sl_window_add(&tr->window, minute, dg, dg + db);
            else
                sl_window_advance(&tr->window, minute);
            tr->harvested.good = good;
            tr->harvested.bad = bad;
        }
    }
}

static void fill_objective(const sl_slo_tracker_t *t, size_t i, int o, int64_t minute, sl_slo_objective_verdict_t *ov)
{
    const sl_slo_route_t *r = &t->routes[i];
    const sl_slo_track_t *tr = &t->tracks[i * SL_SLO_NUM_OBJECTIVES + (size_t)o];
    const sl_slo_t *m = &r->math[o];
    ov->enabled = 1;
    ov->target_ppb = m->target_ppb;
    ov->period_min = m->period_min;
    ov->threshold_us = r->threshold_us[o];
    int rc = sl_slo_evaluate(m, &tr->window, minute, &ov->report);
    assert(rc == SL_OK); /* the window was sized for the objective */
    (void)rc;
    for (int k = 0; k != SL_SLO_NUM_RULES; ++k)
        ov->thresholds[k] = sl_slo_threshold(m, (enum en_sl_slo_rule_id_t)k);
    uint32_t cov = sl_window_coverage_min(&tr->window, minute);
    ov->coverage_min = cov < m->period_min ? cov : m->period_min;
    ov->good_total = tr->carried_good + tr->harvested.good;
    ov->requests_total = ov->good_total + tr->carried_bad + tr->harvested.bad;
    ov->restored = tr->restored;
    memcpy(ov->reset_reason, tr->reset_reason, sizeof(ov->reset_reason));
    memcpy(ov->restore_note, tr->restore_note, sizeof(ov->restore_note));
}

int sl_slo_tick(sl_slo_tracker_t *t, uint64_t wall_ms, sl_slo_verdict_t **out)
{
    int64_t minute = (int64_t)(wall_ms / 60000u);
    if (wall_ms / 60000u > (uint64_t)SL_WINDOW_MAX_MINUTE)
        return SL_EINVAL;
    harvest(t, minute);
    t->ticks++;
    t->last_wall_ms = wall_ms;
    if (out == NULL)
        return SL_OK;

    sl_slo_verdict_t *v = sl_calloc(1, sizeof(*v) + t->num_routes * sizeof(v->routes[0]));
    v->tick = t->ticks;
    v->wall_ms = wall_ms;
    v->minute = minute;
    v->num_routes = t->num_routes;
    for (size_t i = 0; i != t->num_routes; ++i) {
        sl_slo_route_verdict_t *rv = &v->routes[i];
        memcpy(rv->name, t->routes[i].name, sizeof(rv->name));
        for (int o = 0; o != SL_SLO_NUM_OBJECTIVES; ++o) {
            if ((t->routes[i].enabled >> o & 1u) == 0)
                continue;
            fill_objective(t, i, o, minute, &rv->objectives[o]);
            rv->page |= rv->objectives[o].report.page;
            rv->ticket |= rv->objectives[o].report.ticket;
        }
    }
    *out = v;
    return SL_OK;
}

void sl_slo_verdict_destroy(sl_slo_verdict_t *v)
{
    sl_free(v);
}

int sl_slo_verdict_fast_burn(const sl_slo_verdict_t *v, size_t route)
{
    return v != NULL && route < v->num_routes && v->routes[route].page;
}
