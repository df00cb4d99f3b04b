/*
 * control.c - the control thread (see control.h). It is one sl_server_t worker, so it has an h2o event loop of
 * its own: the admin listener, the tick, the health-check clients and the reload all run on it, one at a time,
 * which is why nothing here takes a lock. Workers reach it only through flags plus a wake-up message.
 */
#include "gateway/control.h"
#include "backends/pool.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/status.h"
#include "conf/conf.h"
#include "conf/snapshot.h"
#include "gateway/gw.h"
#include "gateway/monitor_glue.h"
#include "gateway/rollout_glue.h"
#include "gateway/slo_glue.h"
#include "gateway/upclient.h"

#include <string.h>

#define TICK_PER_SECOND 10

h2o_timeout_t *sl_gw_control_timeout(sl_gw_t *gw, uint32_t ms)
{
    sl_gw_timeout_class_t *best = NULL;
    for (size_t i = 0; i != gw->ctl_num_timeouts; ++i) {
        if (gw->ctl_timeouts[i]->ms == ms)
            return &gw->ctl_timeouts[i]->timeout;
        if (best == NULL || gw->ctl_timeouts[i]->ms > best->ms)
            best = gw->ctl_timeouts[i];
    }
    if (gw->ctl_num_timeouts == SL_GW_MAX_TIMEOUT_CLASSES)
        return &best->timeout;
    sl_gw_timeout_class_t *c = sl_calloc(1, sizeof(*c));
    c->ms = ms;
    h2o_timeout_init(gw->ctl_loop, &c->timeout, ms);
    gw->ctl_timeouts[gw->ctl_num_timeouts++] = c;
    return &c->timeout;
}

void sl_gw_control_update_endpoints(sl_gw_t *gw, const sl_gw_gen_t *gen, uint64_t now_ms)
{
    for (size_t b = 0; b != gen->conf->num_backends; ++b) {
        const sl_gw_backend_rt_t *bk = gen->backends + b;
        uint64_t before[SL_CONF_MAX_ENDPOINTS];
        size_t n = bk->num_endpoints < SL_CONF_MAX_ENDPOINTS ? bk->num_endpoints : SL_CONF_MAX_ENDPOINTS;
        for (size_t i = 0; i != n; ++i)
            before[i] = bk->endpoints[i]->ejections_outlier;
        if (sl_pool_update(bk->endpoints, bk->num_endpoints, &bk->conf->outlier, now_ms) == 0)
            continue;
        for (size_t i = 0; i != n; ++i)
            if (bk->endpoints[i]->ejections_outlier != before[i])
                SL_LOG(SL_LOG_WARN, "pool", "%s %s ejected for %llu ms after %u failures in a row", bk->conf->name,
                       bk->endpoints[i]->addr.text, (unsigned long long)(bk->endpoints[i]->ejected_until_ms - now_ms),
                       bk->conf->outlier.consecutive_failures);
    }
    (void)gw;
}

/* Frees the metric shards workers replaced (see worker.c: a popped shard can no longer be reached by a render,
 * and renders run on this thread). */
static void free_retired_shards(sl_gw_t *gw)
{
    for (size_t i = 0; i != gw->server.num_threads; ++i) {
        sl_gw_shard_t *s = atomic_exchange_explicit(&gw->workers[i].retired_shards, NULL, memory_order_acquire);
        while (s != NULL) {
            sl_gw_shard_t *next = s->next_retired;
            sl_gw_shard_free(s);
            s = next;
        }
    }
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    sl_gw_t *gw = H2O_STRUCT_FROM_MEMBER(sl_gw_t, tick, entry);
    uint64_t now_ms = sl_clock_now_us() / 1000;
    sl_gw_gen_t *gen = sl_gw_current(gw);
    sl_gw_control_update_endpoints(gw, gen, now_ms);
    sl_gw_health_tick(gw, gen, now_ms);
    sl_gw_slo_tick(gw, gen, now_ms); /* degrade controllers; every second the SLO tick and the state file */
    sl_gw_rollout_tick(gw, sl_clock_wall_ms()); /* canary rollouts: analysis, state files, weights (rollout_glue.h) */
    /* model monitoring: drift windows, feedback tables, measures (monitor_glue.h) */
    sl_gw_monitor_tick(gw, gen, now_ms);
    if (++gw->tick_count % TICK_PER_SECOND == 0) {
        sl_snapshot_reclaim(&gw->slot);
        sl_gw_gen_drop_retired(gw); /* after the reclaim: a retired generation's series leave /metrics */
        free_retired_shards(gw);
    }
    h2o_timeout_link(gw->ctl_loop, &gw->tick_timeout, &gw->tick);
}

void sl_gw_control_init(sl_worker_t *sw)
{
    sl_gw_t *gw = sw->server->data;
    sw->data = gw;
    gw->ctl_loop = sw->ctx.loop;
    /* health checks keep no idle connection, so the idle timeout class is never used */
    sl_upclient_ctx_init(&gw->ctl_client_ctx, gw->ctl_loop, &sw->ctx.zero_timeout, &sw->ctx.one_sec_timeout, 0);
    h2o_timeout_init(gw->ctl_loop, &gw->tick_timeout, 1000 / TICK_PER_SECOND);
    gw->tick.cb = on_tick;
    sl_gw_monitor_control_init(gw, sw->ctx.queue); /* POST /v1/feedback bodies arrive from the workers */
    h2o_timeout_link(gw->ctl_loop, &gw->tick_timeout, &gw->tick);
}

void sl_gw_control_loop(sl_worker_t *sw)
{
    sl_gw_t *gw = sw->server->data;
    if (atomic_exchange_explicit(&gw->reload_requested, 0, memory_order_acq_rel)) {
        sl_conf_errors_t errs;
        sl_conf_errors_init(&errs);
        if (sl_gw_reload(gw, &errs) != SL_OK)
            for (size_t i = 0; i != sl_conf_errors_count(&errs); ++i)
                SL_LOG(SL_LOG_ERROR, "reload", "%s", sl_conf_errors_get(&errs, i));
        sl_conf_errors_dispose(&errs);
    }
    if (atomic_exchange_explicit(&gw->eject_pending, 0, memory_order_acq_rel))
        sl_gw_control_update_endpoints(gw, sl_gw_current(gw), sl_clock_now_us() / 1000);
}

int sl_gw_control_drained(sl_worker_t *sw)
{
    (void)sw;
    return 1; /* admin requests are short and idempotent: the control thread stops without waiting */
}
