/*
 * control.h - the control thread: one sl_server_t worker that serves the admin listener and runs the periodic
 * work (every 100 ms: ejection verdicts and health checks; every second: snapshot reclaim and freeing retired
 * metric shards), reloads (SIGHUP via a flag, or POST /admin/reload) and ejection requests from workers.
 */
#ifndef SL_GATEWAY_CONTROL_H
#define SL_GATEWAY_CONTROL_H

#include "gateway/gw-t.h"

/* sl_server_t hooks of the control server. */
void sl_gw_control_init(sl_worker_t *sw);
void sl_gw_control_loop(sl_worker_t *sw);
int sl_gw_control_drained(sl_worker_t *sw);

/* A timeout class of ms milliseconds on the control loop, created on first use (bounded like the workers'). */
h2o_timeout_t *sl_gw_control_timeout(sl_gw_t *gw, uint32_t ms);

/* Starts the active health checks that are due (health_check.c). */
void sl_gw_health_tick(sl_gw_t *gw, const sl_gw_gen_t *gen, uint64_t now_ms);

/* Applies pending ejection requests and ends expired ejections for every backend of gen. */
void sl_gw_control_update_endpoints(sl_gw_t *gw, const sl_gw_gen_t *gen, uint64_t now_ms);

/* Registers the admin handlers on the admin host (admin.c). */
void sl_gw_admin_register(sl_gw_t *gw, h2o_hostconf_t *host);

#endif
