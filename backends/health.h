/*
 * health.h - verdicts of active health checks (a GET of health.path on every endpoint, every interval).
 *
 * healthy_threshold successes in a row bring an endpoint back: out of the unhealthy state, and also out of a
 * passive ejection before its time is up (successes are counted from the ejection on, see sl_pool_update).
 * unhealthy_threshold failures in a row take it out of rotation until it passes again; this is not capped by
 * max_ejected_percent: an endpoint that does not answer its health check is down whatever the share.
 * The I/O (the GET itself, its timeout) is the gateway's; this file only turns results into verdicts.
 * Control thread only.
 */
#ifndef SL_BACKENDS_HEALTH_H
#define SL_BACKENDS_HEALTH_H

#include "backends/pool-t.h"

enum en_sl_health_change_t {
    SL_HEALTH_UNCHANGED = 0,
    SL_HEALTH_BACK,      /* the endpoint returned to rotation */
    SL_HEALTH_UNHEALTHY, /* the endpoint left rotation */
};

/* 1 when active checks are configured and the endpoint's next check is due at now_ms (and none is running). */
int sl_health_due(const sl_pool_endpoint_t *e, const sl_conf_health_t *h, uint64_t now_ms);

/* Records that a check starts at now_ms: schedules the next one interval_ms later and marks it running. */
void sl_health_start(sl_pool_endpoint_t *e, const sl_conf_health_t *h, uint64_t now_ms);

/* Records the result of a check (ok = answered 2xx within timeout) at now_ms and returns what changed. */
int sl_health_observe(sl_pool_endpoint_t *e, const sl_conf_health_t *h, int ok, uint64_t now_ms);

#endif
