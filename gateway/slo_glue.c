/*
 * slo_glue.c - SLO tracking and error-budget persistence in the running gateway (see slo_glue.h, docs/SLO.md).
 *
 * Each generation gets its own SLO tracker (policies/slo.h), sized for its config, with one shard per worker. The
 * tracker and the generation's other SLO and accuracy-scaling counters (sl_gw_slo_gen_t) belong to the control
 * thread, not to the generation: a generation may be disposed on a worker, in the middle of its loop, while the
 * tracker's last counts still have to be collected and handed over on the control thread. The dispose only sets
 * `released`; the control thread frees the part at its next tick, after a last collection.
 *
 * Reload. The new generation's tracker takes the published one's history and counters before it is published
 * (sl_slo_tracker_adopt: nobody observes into the new one yet, as adopt requires). Requests pinned to the old
 * generation keep observing into the old tracker until they end: every second their counts are absorbed into the
 * published tracker (sl_slo_tracker_absorb), and a last time when the old generation is released. Nothing is lost
 * and nothing is counted twice, and the Prometheus counters stay monotonic.
 *
 * Time. The control thread ticks every 100 ms; the SLO tracker once a second, at the wall clock's minute: per-minute
 * buckets are wall-clock minutes so that a restart finds them where they were (docs/SLO.md, "Timing"). Durations
 * (the state-file interval, the controllers) use the monotonic clock.
 *
 * Persistence. With state_dir, the "slo" state file is read at start (a damaged or foreign one is reported, set
 * aside and the budgets start empty: the gateway always starts), written every state_interval after the SLO tick,
 * and at shutdown after a final collection and tick. A kill -9 loses at most one interval. Writes (fsync included)
 * run on the control thread, never on a worker.
 *
 * Thread: the control thread, except sl_gw_slo_release (any) and start / stop (main thread, no other thread runs).
 */
#include "gateway/slo_glue.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/status.h"
#include "gateway/gw.h"
#include "policies/persist.h"
#include "policies/slo.h"
#include "stats/hist.h"

#define SLO_TICK_EVERY 10u /* control ticks (100 ms) per SLO tick */
#define SLO_TICK_MS 1000u  /* ... so an SLO tick every second */

/* Index of the totals of route `name`, created when new. */
static uint32_t route_id(sl_gw_slo_t *s, const char *name)
{
    for (size_t i = 0; i != s->num_routes; ++i)
        if (strcmp(s->routes[i].name, name) == 0)
            return (uint32_t)i;
    if (s->num_routes == s->cap_routes) {
        s->cap_routes = s->cap_routes == 0 ? 8 : s->cap_routes * 2;
        s->routes = sl_realloc(s->routes, s->cap_routes * sizeof(*s->routes));
    }
    sl_gw_route_totals_t *t = &s->routes[s->num_routes];
    memset(t, 0, sizeof(*t));
    t->name = sl_strdup(name);
    return (uint32_t)s->num_routes++;
}

static void part_destroy(sl_gw_slo_gen_t *r)
{
    sl_slo_tracker_destroy(r->tracker);
    sl_free(r->tier_base);
    sl_free(r->dtier_of);
    sl_free(r->fraction_permille);
    sl_free(r->dstate);
    sl_free(r->route_id);
    sl_free(r->seen);
    sl_free(r->shards_raw);
    sl_free(r);
}

int sl_gw_slo_attach(sl_gw_t *gw, sl_gw_gen_t *gen, char *err, size_t errlen)
{
    sl_gw_slo_t *s = gw->slo;
    if (s == NULL)
        return SL_OK;
    const sl_conf_t *conf = gen->conf;
    uint64_t wall = sl_clock_wall_ms(), now_ms = sl_clock_now_us() / 1000;
    sl_slo_tracker_t *t;
    if (sl_slo_tracker_create(conf, (uint32_t)gw->server.num_threads, wall, &t) != SL_OK) {
        snprintf(err, errlen, "routes: an SLO target cannot be held in parts per billion (the log names the route)");
        return SL_EINVAL;
    }
    sl_gw_slo_gen_t *r = sl_calloc(1, sizeof(*r));
    r->tracker = t;
    r->num_routes = conf->num_routes;
    r->num_workers = gw->server.num_threads;
    r->tier_base = sl_calloc(conf->num_routes + 1, sizeof(*r->tier_base));
    r->route_id = sl_calloc(conf->num_routes + 1, sizeof(*r->route_id));
    size_t tiers = 0;
    for (size_t i = 0; i != conf->num_routes; ++i) {
        r->tier_base[i] = (uint32_t)tiers;
        tiers += conf->routes[i].num_tiers;
        r->route_id[i] = route_id(s, conf->routes[i].name);
    }
    r->dtier_of = sl_calloc(tiers + 1, sizeof(*r->dtier_of));
    r->dstate = sl_calloc(tiers + 1, sizeof(*r->dstate));
    for (size_t i = 0; i != conf->num_routes; ++i) {
        const sl_conf_route_t *cr = &conf->routes[i];
        for (size_t k = 0; k != cr->num_tiers; ++k) {
            int32_t *slot = &r->dtier_of[r->tier_base[i] + k];
            *slot = -1;
            if (!cr->tiers[k].degrade.enabled)
                continue;
            *slot = (int32_t)r->num_dtiers;
            r->dstate[r->num_dtiers++] = sl_gw_degrade_bind(s, cr, (uint32_t)k, now_ms);
        }
    }
    r->fraction_permille = sl_calloc(r->num_dtiers + 1, sizeof(*r->fraction_permille));
    r->seen = sl_malloc((r->num_dtiers + 1) * sizeof(*r->seen));
    for (size_t k = 0; k != r->num_dtiers; ++k) {
        sl_hist_init(&r->seen[k]);
        /* a reload keeps the fraction in force */
        atomic_store_explicit(&r->fraction_permille[k], s->dtiers[r->dstate[k]].state.fraction_permille, memory_order_relaxed);
    }

    size_t bytes = r->num_dtiers * sizeof(sl_gw_dtier_shard_t) + r->num_routes * SL_GW_SHED_NUM * sizeof(uint64_t);
    r->stride = (bytes + 63) / 64 * 64;
    if (r->stride == 0)
        r->stride = 64;
    r->shards_raw = sl_calloc(1, r->stride * r->num_workers + 63);
    r->shards = (char *)(((uintptr_t)r->shards_raw + 63) & ~(uintptr_t)63);
    for (size_t w = 0; w != r->num_workers; ++w)
        for (size_t k = 0; k != r->num_dtiers; ++k)
            sl_hist_init(&sl_gw_slo_dshard(r, w, k)->latency);

    r->next = s->gens;
    s->gens = r;
    gen->slo = r;
    return SL_OK;
}

void sl_gw_slo_handover(sl_gw_t *gw, sl_gw_gen_t *gen)
{
    sl_gw_slo_t *s = gw->slo;
    if (s == NULL || gen->slo == NULL)
        return;
    const sl_gw_slo_gen_t *r = gen->slo;
    const sl_conf_t *conf = gen->conf;
    uint64_t now_ms = sl_clock_now_us() / 1000;
    for (size_t i = 0; i != conf->num_routes; ++i) /* the degrade tiers take this config's settings */
        for (size_t k = 0; k != conf->routes[i].num_tiers; ++k) {
            int32_t dt = r->dtier_of[r->tier_base[i] + k];
            if (dt >= 0)
                sl_gw_degrade_follow(s, &conf->routes[i], (uint32_t)k, r->dstate[dt], now_ms);
        }
    /* the newest part after gen's that no generation let go of: the published one (a refused build's part is
     * released at once) */
    const sl_gw_slo_gen_t *from = gen->slo->next;
    while (from != NULL && atomic_load_explicit(&from->released, memory_order_acquire))
        from = from->next;
    if (from == NULL)
        return;
    sl_slo_tracker_adopt(gen->slo->tracker, from->tracker, sl_clock_wall_ms());
    const char *dir = s->persist_on ? s->persist.dir : NULL;
    if ((dir == NULL) != (conf->state_dir == NULL) || (dir != NULL && strcmp(dir, conf->state_dir) != 0) ||
        (dir != NULL && conf->state_interval_ms != s->persist.interval_ms))
        SL_LOG(SL_LOG_WARN, "reload", "state_dir or state_interval changed: takes effect after a restart");
}

void sl_gw_slo_release(sl_gw_gen_t *gen)
{
    if (gen->slo != NULL)
        atomic_store_explicit(&gen->slo->released, 1, memory_order_release);
}

/* Absorbs what requests of older generations observed since the last call into the published tracker. */
static void absorb_older(sl_gw_slo_t *s, sl_gw_slo_gen_t *cur, uint64_t wall)
{
    for (sl_gw_slo_gen_t *r = s->gens; r != NULL; r = r->next)
        if (r != cur)
            sl_slo_tracker_absorb(cur->tracker, r->tracker, wall);
}

static void slo_tick(sl_gw_slo_t *s, sl_gw_slo_gen_t *cur, uint64_t wall)
{
    sl_slo_verdict_t *v = NULL;
    s->verdict_of = cur;
    absorb_older(s, cur, wall);
    if (sl_slo_tick(cur->tracker, wall, &v) != SL_OK) {
        SL_LOG(SL_LOG_ERROR, "slo", "wall clock %" PRIu64 " ms is out of range: SLO tick skipped", wall);
        return;
    }
    sl_slo_verdict_destroy(s->verdict);
    s->verdict = v;
}

/* The degrade tiers the published part names are the configured ones: a reload's tiers count once it is published,
 * not when it is built (a reload refused after the build leaves the running ones as they were). */
static void mark_configured(sl_gw_slo_t *s, const sl_gw_slo_gen_t *cur)
{
    for (size_t i = 0; i != s->num_dtiers; ++i)
        s->dtiers[i].configured = 0;
    for (size_t k = 0; k != cur->num_dtiers; ++k)
        s->dtiers[cur->dstate[k]].configured = 1;
}

static int save(sl_gw_slo_t *s, sl_gw_slo_gen_t *cur, uint64_t now_ms, uint64_t wall)
{
    return s->persist_on ? sl_slo_tracker_save(cur->tracker, &s->persist, &s->scratch, now_ms, wall) : SL_OK;
}

/* Frees the parts of generations nobody can observe into any more, after collecting their last counts. */
static void free_released(sl_gw_slo_t *s, sl_gw_slo_gen_t *cur, uint64_t now_ms)
{
    sl_gw_slo_gen_t **link = &s->gens;
    while (*link != NULL) {
        sl_gw_slo_gen_t *r = *link;
        if (r == cur || !atomic_load_explicit(&r->released, memory_order_acquire)) {
            link = &r->next;
            continue;
        }
        sl_gw_degrade_retire(s, r, now_ms);
        sl_slo_tracker_absorb(cur->tracker, r->tracker, sl_clock_wall_ms());
        *link = r->next;
        part_destroy(r);
    }
}

void sl_gw_slo_tick(sl_gw_t *gw, sl_gw_gen_t *gen, uint64_t now_ms)
{
    sl_gw_slo_t *s = gw->slo;
    if (s == NULL || gen->slo == NULL)
        return;
    mark_configured(s, gen->slo);
    sl_gw_degrade_tick(gw, gen, now_ms);
    free_released(s, gen->slo, now_ms);
    if (s->verdict_of != gen->slo) /* a reload was published: the verdict of the config it replaced names routes */
        slo_tick(s, gen->slo, sl_clock_wall_ms()); /* and objectives that may be gone; the new one's replaces it now */
    if (++s->ticks % SLO_TICK_EVERY != 0)
        return;
    uint64_t wall = sl_clock_wall_ms();
    slo_tick(s, gen->slo, wall);
    /* writes happen at SLO ticks, a second apart: half a tick early keeps them state_interval apart, not one
     * tick more whenever the clock lands a millisecond short of the interval */
    if (s->persist_on && sl_persist_due(&s->persist, now_ms + SLO_TICK_MS / 2))
        save(s, gen->slo, now_ms, wall);
}

int sl_gw_slo_start(sl_gw_t *gw, char *err, size_t errlen)
{
    sl_gw_slo_t *s = sl_calloc(1, sizeof(*s));
    sl_buf_init(&s->scratch, 0);
    gw->slo = s;
    sl_gw_gen_t *gen = sl_gw_current(gw);
    int rc = sl_gw_slo_attach(gw, gen, err, errlen);
    if (rc != SL_OK)
        return rc;
    sl_gw_slo_handover(gw, gen); /* the first generation: only its degrade settings */
    const sl_conf_t *conf = gen->conf;
    uint64_t wall = sl_clock_wall_ms();
    if (conf->state_dir != NULL) {
        char why[SL_PERSIST_WHY_MAX] = "";
        rc = sl_persist_init(&s->persist, conf->state_dir, "slo.state", "slo", SL_SLO_STATE_VERSION, conf->state_interval_ms,
                             why);
        if (rc != SL_OK) {
            snprintf(err, errlen, "%s", why[0] != '\0' ? why : "state_dir: cannot be used");
            return rc;
        }
        s->persist_on = 1;
        /* a missing or damaged file leaves empty budgets (reported); SL_EIO: a damaged file stays in place and
         * writes are refused, so it can never be replaced by an empty budget - the gateway still starts */
        sl_slo_tracker_load(gen->slo->tracker, &s->persist, &s->scratch, wall);
    }
    slo_tick(s, gen->slo, wall);
    return SL_OK;
}

void sl_gw_slo_dispose(sl_gw_t *gw)
{
    sl_gw_slo_t *s = gw->slo;
    if (s == NULL)
        return;
    while (s->gens != NULL) {
        sl_gw_slo_gen_t *r = s->gens;
        s->gens = r->next;
        part_destroy(r);
    }
    sl_slo_verdict_destroy(s->verdict);
    sl_persist_dispose(&s->persist);
    sl_buf_dispose(&s->scratch);
    for (size_t i = 0; i != s->num_dtiers; ++i) {
        sl_free(s->dtiers[i].route);
        sl_free(s->dtiers[i].backend);
        sl_hist_ring_dispose(&s->dtiers[i].ring);
    }
    sl_free(s->dtiers);
    for (size_t i = 0; i != s->num_routes; ++i)
        sl_free(s->routes[i].name);
    sl_free(s->routes);
    sl_free(s);
    gw->slo = NULL;
}

void sl_gw_slo_stop(sl_gw_t *gw)
{
    sl_gw_slo_t *s = gw->slo;
    sl_gw_gen_t *gen = sl_gw_current(gw);
    if (s == NULL || gen == NULL || gen->slo == NULL)
        return;
    uint64_t wall = sl_clock_wall_ms(), now_ms = sl_clock_now_us() / 1000;
    slo_tick(s, gen->slo, wall);
    if (!s->persist_on)
        return;
    if (save(s, gen->slo, now_ms, wall) == SL_OK)
        SL_LOG(SL_LOG_INFO, "slo", "error budgets written to %s", s->persist.path);
}
