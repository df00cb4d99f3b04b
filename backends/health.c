/*
 * health.c - see health.h. Pure state transitions on the control-thread fields of an endpoint; the verdict is
 * published to the workers through the endpoint's `out` mask (release store, workers load it relaxed: a worker
 * that reads a stale mask sends one more request to, or holds one back from, that endpoint, which is harmless).
 */
#include "backends/health.h"

int sl_health_due(const sl_pool_endpoint_t *e, const sl_conf_health_t *h, uint64_t now_ms)
{
    return h->path != NULL && h->interval_ms != 0 && !e->hc_running && now_ms >= e->hc_next_ms;
}

void sl_health_start(sl_pool_endpoint_t *e, const sl_conf_health_t *h, uint64_t now_ms)
{
    e->hc_running = 1;
    e->hc_next_ms = now_ms + h->interval_ms;
}

int sl_health_observe(sl_pool_endpoint_t *e, const sl_conf_health_t *h, int ok, uint64_t now_ms)
{
    uint32_t healthy_at = h->healthy_threshold == 0 ? 1 : h->healthy_threshold;
    uint32_t unhealthy_at = h->unhealthy_threshold == 0 ? 1 : h->unhealthy_threshold;
    uint32_t out = atomic_load_explicit(&e->out, memory_order_relaxed);

    e->hc_running = 0;
    if (ok) {
        e->hc_failures = 0;
        if (e->hc_successes < UINT32_MAX)
            ++e->hc_successes;
        if (out != 0 && e->hc_successes >= healthy_at) {
            atomic_store_explicit(&e->failure_streak, 0, memory_order_relaxed);
            atomic_store_explicit(&e->eject_requested, 0, memory_order_relaxed);
            atomic_store_explicit(&e->out, 0, memory_order_release);
            e->returned_at_ms = now_ms;
            return SL_HEALTH_BACK;
        }
        return SL_HEALTH_UNCHANGED;
    }
    e->hc_successes = 0;
    if (e->hc_failures < UINT32_MAX)
        ++e->hc_failures;
    if ((out & SL_POOL_OUT_UNHEALTHY) == 0 && e->hc_failures >= unhealthy_at) {
        atomic_fetch_or_explicit(&e->out, SL_POOL_OUT_UNHEALTHY, memory_order_release);
        ++e->ejections_health;
        return SL_HEALTH_UNHEALTHY;
    }
    return SL_HEALTH_UNCHANGED;
}
