/*
 * gw.h - the gateway process: the data-plane server, the control thread, the published generation.
 *
 * Lifecycle (main thread): sl_gw_init (one config, h2o setup, listeners opened so bind errors come first) ->
 * sl_gw_start (control thread, then workers; every listener accepts on return) -> sl_gw_write_ready ->
 * signals: SIGHUP -> sl_gw_request_reload; SIGTERM/SIGINT -> sl_gw_stop (stop accepting, drain in-flight
 * requests and streams up to server.shutdown_timeout, stop the control thread). The process then exits: h2o 2.2.5
 * cannot tear a context down reliably (libh2o notes §5.2), so nothing is disposed beyond what the drain needs.
 *
 * Threads: N workers (sl_server_t `server`), one control thread (sl_server_t `control`, one worker) serving the
 * admin listener, ticking every 100 ms (ejections, health checks, snapshot reclaim, retired shards) and applying
 * reloads. The main thread only waits for signals.
 */
#ifndef SL_GATEWAY_GW_H
#define SL_GATEWAY_GW_H

#include "gateway/gw-t.h"

/* Prepares gw for conf (takes the caller's reference): registry, names, first generation published, h2o
 * configuration of the data plane and the admin listener, TLS, listeners opened. conf_path is what reloads read
 * (NULL: a built-in config; gw->builtin_conf then rebuilds it). Returns SL_OK, or SL_EIO / SL_ECONFIG with a
 * message in err (nothing started). Main thread. */
int sl_gw_init(sl_gw_t *gw, sl_conf_t *conf, const char *conf_path, char *err, size_t errlen);

/* Starts the control thread and the workers; returns when every listener accepts. Main thread. */
int sl_gw_start(sl_gw_t *gw);

/* server.max_connections per worker (pure): the configured total, or with 0 ("auto") half of open_files_limit,
 * shared by the workers and rounded up; 0 (no cap) when that is 0 too. */
uint32_t sl_gw_conns_per_worker(uint32_t max_connections, uint64_t open_files_limit, size_t workers);

/* Writes the ready file {"pid":..,"listen":[..],"admin":".."} atomically (temporary file + rename). Returns SL_OK
 * or SL_EIO. Main thread. */
int sl_gw_write_ready(sl_gw_t *gw, const char *path);

/* The data-plane address i / the admin address, formatted into buf (returns buf; "" when there is no admin). */
const char *sl_gw_listen_text(sl_gw_t *gw, size_t i, char *buf, size_t bufsz);
const char *sl_gw_admin_text(sl_gw_t *gw, char *buf, size_t bufsz);

/* Asks the control thread to reload the config (SIGHUP). Any thread; async-signal-unsafe (takes h2o's queue
 * mutex), call it from the sigwait loop. */
void sl_gw_request_reload(sl_gw_t *gw);

/* Wakes the control thread to grant a pending ejection. Worker thread. */
void sl_gw_wake_control(sl_gw_t *gw);

/* Graceful stop. Main thread. */
void sl_gw_stop(sl_gw_t *gw);

/* Waits for signals on the main thread: SIGHUP reloads, SIGINT/SIGTERM stop gracefully (then returns 0). */
int sl_gw_run_until_signal(sl_gw_t *gw);

/* Control thread ------------------------------------------------------------------------------------------------ */

/* Reloads the config file (or the built-in config) and publishes it when valid. On failure the running config
 * stays and every error ("file:line:col: ...") is in errs. Returns SL_OK, SL_ECONFIG or SL_EIO. */
int sl_gw_reload(sl_gw_t *gw, sl_conf_errors_t *errs);

/* The published generation (borrowed until the next publish). */
sl_gw_gen_t *sl_gw_current(sl_gw_t *gw);

/* Builds a generation for conf (takes the reference). Returns SL_OK with *out, or SL_EIO / SL_ENOMEM with a
 * message in err (conf released). */
int sl_gw_gen_build(sl_gw_t *gw, sl_conf_t *conf, sl_gw_gen_t **out, char *err, size_t errlen);

/* Stable ids of metric labels (control thread). */
/* After a reload published its successor: keeps one reference on gen, the generation it replaced, so that its
 * metric series stay shown while requests of that config finish. Control thread. */
void sl_gw_gen_keep_replaced(sl_gw_t *gw, sl_gw_gen_t *gen);

/* Drops every kept generation that nobody else holds any more (its series disappear from /metrics). Control
 * thread, every second. */
void sl_gw_gen_drop_retired(sl_gw_t *gw);

/* Marks in live (allocated here; sl_gw_live_dispose) the ids the published and the kept generations name. Control
 * thread. */
void sl_gw_live_init(sl_gw_t *gw, sl_gw_live_t *live);
void sl_gw_live_dispose(sl_gw_live_t *live);

/* 1 when the published or a kept generation has a route of this name (for renders keyed by route name), or when
 * nothing is published yet. Control thread. */
int sl_gw_live_route_name(sl_gw_t *gw, const char *name);

uint32_t sl_gw_names_route(sl_gw_names_t *n, const char *name);
uint32_t sl_gw_names_backend(sl_gw_names_t *n, const char *name);
uint32_t sl_gw_names_series(sl_gw_names_t *n, uint32_t route, uint32_t backend);
void sl_gw_names_dispose(sl_gw_names_t *n);

/* Frees a metric shard (control thread, once no reader can see it). */
void sl_gw_shard_free(sl_gw_shard_t *s);

#endif
