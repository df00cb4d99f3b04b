/*
 * gw.c - the gateway process (see gw.h): h2o configuration of the data plane and of the admin listener, TLS, the
 * two servers, the first generation, reloads, the ready file and the stop.
 *
 * Settings that shape listeners, threads, TLS or h2o's global configuration (server.listen, server.threads,
 * server.tls_*, server.header_timeout, admin.listen) are read once at start; a reload that changes them is applied
 * for everything else and logs that those need a restart. server.max_body is enforced per request from the
 * generation, below the ceiling h2o was given at start (the start value). server.busy_poll applies to the workers'
 * next loop iteration.
 */
#include "gateway/gw.h"
#include "backends/pool.h"
#include "common/alloc.h"
#include "gateway/access_log.h"
#include "common/log.h"
#include "common/status.h"
#include "common/str.h"
#include "conf/addr.h"
#include "conf/conf.h"
#include "conf/snapshot.h"
#include "gateway/control.h"
#include "gateway/monitor_glue.h"
#include "gateway/h2_limit.h"
#include "gateway/proxy.h"
#include "gateway/rollout_glue.h"
#include "gateway/slo_glue.h"
#include "gateway/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

sl_gw_gen_t *sl_gw_current(sl_gw_t *gw)
{
    return (sl_gw_gen_t *)sl_snapshot_slot_peek(&gw->slot);
}

uint32_t sl_gw_conns_per_worker(uint32_t max_connections, uint64_t open_files_limit, size_t workers)
{
    uint64_t total = max_connections != 0 ? max_connections : open_files_limit / 2;
    if (total == 0 || workers == 0)
        return 0;
    uint64_t per = (total + workers - 1) / workers;
    return per > UINT32_MAX ? UINT32_MAX : (uint32_t)per;
}

/* server.max_connections per worker; "auto" shares half the soft open-files limit (none when it is unlimited) */
static uint32_t conns_per_worker(const sl_conf_server_t *c, size_t workers)
{
    struct rlimit rl;
    uint64_t limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (uint64_t)rl.rlim_cur : 0;
    return sl_gw_conns_per_worker(c->max_connections, limit, workers);
}

static void worker_init(sl_worker_t *sw)
{
    sl_gw_t *gw = sw->server->data;
    sl_gw_worker_t *w = gw->workers + sw->idx;
    w->gw = gw;
    sl_gw_worker_init(w, sw);
}

static void worker_loop(sl_worker_t *sw)
{
    sl_gw_worker_loop(sw->data);
}

static int worker_drained(sl_worker_t *sw)
{
    sl_gw_worker_t *w = sw->data;
    return __atomic_load_n(&sl_gw_worker_shard(w)->inflight, __ATOMIC_RELAXED) == 0;
}

static void worker_exit(sl_worker_t *sw)
{
    sl_gw_worker_exit(sw->data);
}

static int setup_tls(sl_gw_t *gw, const sl_conf_server_t *s, char *err, size_t errlen)
{
    if (s->tls_cert_file == NULL || s->tls_key_file == NULL)
        return SL_OK;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL || SSL_CTX_use_certificate_chain_file(ctx, s->tls_cert_file) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, s->tls_key_file, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        char ossl[256];
        ERR_error_string_n(ERR_get_error(), ossl, sizeof(ossl));
        snprintf(err, errlen, "server.tls: cannot use %s / %s: %s", s->tls_cert_file, s->tls_key_file, ossl);
        if (ctx != NULL)
            SSL_CTX_free(ctx);
        return SL_EIO;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    h2o_ssl_register_alpn_protocols(ctx, h2o_alpn_protocols); /* h2, then http/1.1 */
    gw->ssl_ctx = ctx;
    return SL_OK;
}

static void setup_h2o(sl_gw_t *gw, const sl_conf_t *conf)
{
    static const char server_name[] = "sluice";
    h2o_globalconf_t *g = &gw->h2o;
    h2o_config_init(g);
    g->server_name = h2o_iovec_init(server_name, 0); /* the data plane's filter adds the field (respond.c) */
    g->max_request_entity_size = sl_gw_h2_limit_entity_size(conf->server.max_body_bytes);
    g->http1.upgrade_to_http2 = 0; /* HTTP/2 comes through sl_gw_h2_limit_accept only; h2c upgrades stay HTTP/1.1 */
    if (conf->server.header_timeout_ms != 0)
        g->http1.req_timeout = conf->server.header_timeout_ms;
    g->http2.graceful_shutdown_timeout = conf->server.shutdown_timeout_ms;
    h2o_hostconf_t *host = h2o_config_register_host(g, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    host->http2.push_preload = 0;
    h2o_pathconf_t *pc = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *h = h2o_create_handler(pc, sizeof(*h));
    h->on_req = sl_proxy_on_req;
    sl_proxy_register_filters(pc);
    sl_proxy_register_filters(&host->fallback_path); /* h2o's 413 is sent before routing, from the fallback */

    h2o_globalconf_t *a = &gw->h2o_admin;
    h2o_config_init(a);
    a->server_name = h2o_iovec_init(server_name, sizeof(server_name) - 1);
    a->max_request_entity_size = 1 << 20;
    h2o_hostconf_t *ah = h2o_config_register_host(a, h2o_iovec_init(H2O_STRLIT("admin")), 65535);
    ah->http2.push_preload = 0;
    sl_gw_admin_register(gw, ah);
}

int sl_gw_init(sl_gw_t *gw, sl_conf_t *conf, const char *conf_path, char *err, size_t errlen)
{
    gw->conf_path = conf_path;
    gw->log_efd = -1;
    gw->boot_conf = conf;
    sl_conf_retain(conf);
    gw->started_ms = (uint64_t)time(NULL) * 1000;
    sl_pool_registry_init(&gw->registry);
    sl_gw_gen_t *gen;
    sl_snapshot_slot_init(&gw->slot, NULL);
    if (sl_gw_gen_build(gw, conf, &gen, err, errlen) != SL_OK)
        return SL_ECONFIG;
    sl_snapshot_publish(&gw->slot, &gen->super);
    gw->generation = 1;
    if (setup_tls(gw, &conf->server, err, errlen) != SL_OK)
        return SL_EIO;
    setup_h2o(gw, conf);

    gw->server.h2o = &gw->h2o;
    gw->server.listen = conf->server.listen;
    gw->server.num_listen = conf->server.num_listen;
    gw->server.num_threads = conf->server.threads;
    gw->server.ssl_ctx = gw->ssl_ctx;
    gw->server.drain_timeout_ms = conf->server.shutdown_timeout_ms;
    atomic_store_explicit(&gw->server.busy_poll_us, conf->server.busy_poll_us, memory_order_relaxed);
    gw->server.name = "sluice-w";
    gw->server.data = gw;
    gw->server.on_accept = sl_gw_h2_limit_accept;
    gw->server.on_worker_init = worker_init;
    gw->server.on_worker_loop = worker_loop;
    gw->server.is_drained = worker_drained;
    gw->server.on_worker_exit = worker_exit;
    if (sl_server_open(&gw->server, err, errlen) != SL_OK)
        return SL_EIO;
    atomic_store_explicit(&gw->server.max_conns, conns_per_worker(&conf->server, gw->server.num_threads),
                          memory_order_relaxed); /* after the open: the open-files limit is raised then */

    gw->control.h2o = &gw->h2o_admin;
    gw->control.listen = conf->admin.enabled ? &conf->admin.listen : NULL;
    gw->control.num_listen = conf->admin.enabled ? 1 : 0;
    gw->control.num_threads = 1;
    gw->control.drain_timeout_ms = 1000;
    gw->control.name = "sluice-admin";
    gw->control.data = gw;
    gw->control.on_worker_init = sl_gw_control_init;
    gw->control.on_worker_loop = sl_gw_control_loop;
    gw->control.is_drained = sl_gw_control_drained;
    if (sl_server_open(&gw->control, err, errlen) != SL_OK)
        return SL_EIO;
    /* SLO trackers (one shard per worker, now that their number is known) and the state file */
    int rc = sl_gw_slo_start(gw, err, errlen);
    if (rc != SL_OK)
        return rc;
    sl_gw_rollout_start(gw); /* canary rollouts, restored from state_dir (rollout_glue.h) */
    /* model monitoring: reference files are read here */
    if ((rc = sl_gw_monitor_start(gw, err, errlen)) != SL_OK)
        return rc;

    /* one cache-line-aligned block: each worker's struct starts on its own line */
    gw->workers_raw = sl_calloc(1, gw->server.num_threads * sizeof(*gw->workers) + 64);
    gw->workers = (sl_gw_worker_t *)(((uintptr_t)gw->workers_raw + 63) & ~(uintptr_t)63);
    for (size_t i = 0; i != gw->server.num_threads; ++i)
        sl_snapshot_reader_init(&gw->workers[i].reader, &gw->slot);
    return SL_OK;
}

int sl_gw_start(sl_gw_t *gw)
{
    if (sl_gw_log_writer_start(gw) != SL_OK)
        SL_LOG(SL_LOG_ERROR, "access_log", "no writer thread: access-log lines will be dropped");
    sl_server_start(&gw->control);
    sl_server_start(&gw->server);
    return SL_OK;
}

const char *sl_gw_listen_text(sl_gw_t *gw, size_t i, char *buf, size_t bufsz)
{
    return sl_server_bound_text(&gw->server, i, buf, bufsz);
}

const char *sl_gw_admin_text(sl_gw_t *gw, char *buf, size_t bufsz)
{
    if (gw->control.num_listen == 0) {
        buf[0] = '\0';
        return buf;
    }
    return sl_server_bound_text(&gw->control, 0, buf, bufsz);
}

int sl_gw_write_ready(sl_gw_t *gw, const char *path)
{
    sl_buf_t b;
    char addr[256], tmp[4096];
    sl_buf_init(&b, 0);
    sl_buf_appendf(&b, "{\"pid\":%d,\"listen\":[", (int)getpid());
    for (size_t i = 0; i != gw->server.num_listen; ++i) {
        sl_buf_append(&b, i != 0 ? ",\"" : "\"", i != 0 ? 2 : 1);
        sl_gw_listen_text(gw, i, addr, sizeof(addr));
        sl_buf_append_json_escaped(&b, addr, strlen(addr));
        sl_buf_append(&b, "\"", 1);
    }
    sl_buf_append(&b, "],\"admin\":\"", 11);
    sl_gw_admin_text(gw, addr, sizeof(addr));
    sl_buf_append_json_escaped(&b, addr, strlen(addr));
    sl_buf_append(&b, "\"}\n", 3);
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), ok = 0;
    if (fd != -1) {
        ok = write(fd, b.data, b.len) == (ssize_t)b.len;
        ok = close(fd) == 0 && ok;
        ok = ok && rename(tmp, path) == 0;
        if (!ok)
            unlink(tmp);
    }
    sl_buf_dispose(&b);
    if (!ok) {
        SL_LOG(SL_LOG_ERROR, "run", "cannot write the ready file %s: %s", path, strerror(errno));
        return SL_EIO;
    }
    return SL_OK;
}

void sl_gw_request_reload(sl_gw_t *gw)
{
    atomic_store_explicit(&gw->reload_requested, 1, memory_order_release);
    h2o_multithread_send_message(&gw->control.workers[0].wakeup, NULL);
}

void sl_gw_wake_control(sl_gw_t *gw)
{
    atomic_store_explicit(&gw->eject_pending, 1, memory_order_release);
    h2o_multithread_send_message(&gw->control.workers[0].wakeup, NULL);
}

void sl_gw_stop(sl_gw_t *gw)
{
    sl_server_stop(&gw->server);
    sl_gw_log_writer_stop(gw, 2000); /* the workers' last lines */
    sl_server_stop(&gw->control);
    sl_gw_slo_stop(gw); /* every thread is gone: the last collection, the last tick, the state file */
    sl_gw_rollout_stop(gw);
}

static int same_addr(const sl_conf_addr_t *a, const sl_conf_addr_t *b)
{
    return strcmp(a->text, b->text) == 0;
}

/* Logs the settings of conf that only a restart applies, when they differ from the running ones. */
static void warn_restart_only(sl_gw_t *gw, const sl_conf_t *conf)
{
    const sl_conf_t *boot = gw->boot_conf;
    int listen_changed = conf->server.num_listen != boot->server.num_listen;
    for (size_t i = 0; !listen_changed && i != conf->server.num_listen; ++i)
        listen_changed = !same_addr(conf->server.listen + i, boot->server.listen + i);
    if (listen_changed)
        SL_LOG(SL_LOG_WARN, "reload", "server.listen changed: takes effect after a restart");
    if (conf->server.threads != boot->server.threads)
        SL_LOG(SL_LOG_WARN, "reload", "server.threads changed: takes effect after a restart");
    if (conf->admin.enabled != boot->admin.enabled ||
        (conf->admin.enabled && !same_addr(&conf->admin.listen, &boot->admin.listen)))
        SL_LOG(SL_LOG_WARN, "reload", "admin.listen changed: takes effect after a restart");
    if ((conf->server.tls_cert_file == NULL) != (boot->server.tls_cert_file == NULL) ||
        (conf->server.tls_cert_file != NULL && strcmp(conf->server.tls_cert_file, boot->server.tls_cert_file) != 0))
        SL_LOG(SL_LOG_WARN, "reload", "server.tls changed: takes effect after a restart");
    if (conf->server.max_body_bytes > boot->server.max_body_bytes)
        SL_LOG(SL_LOG_WARN, "reload",
               "server.max_body above its start value (%llu bytes): the start value applies "
               "until a restart",
               (unsigned long long)boot->server.max_body_bytes);
}

int sl_gw_reload(sl_gw_t *gw, sl_conf_errors_t *errs)
{
    sl_conf_t *conf = NULL;
    int r;
    if (gw->conf_path != NULL)
        r = sl_conf_load_file(gw->conf_path, &conf, errs);
    else
        r = (conf = gw->builtin_conf(errs)) != NULL ? SL_OK : SL_ECONFIG;
    if (r != SL_OK) {
        ++gw->reloads_failed;
        SL_LOG(SL_LOG_ERROR, "reload", "%s: %zu error(s), the running config (generation %llu) stays",
               gw->conf_path != NULL ? gw->conf_path : "built-in config", sl_conf_errors_count(errs),
               (unsigned long long)gw->generation);
        return r;
    }
    warn_restart_only(gw, conf);
    char err[512];
    sl_gw_gen_t *gen;
    if (sl_gw_gen_build(gw, conf, &gen, err, sizeof(err)) != SL_OK) {
        ++gw->reloads_failed;
        sl_conf_errors_addf(errs, "%s", err);
        SL_LOG(SL_LOG_ERROR, "reload", "%s; the running config (generation %llu) stays", err,
               (unsigned long long)gw->generation);
        return SL_EIO;
    }
    sl_gw_gen_keep_replaced(gw, sl_gw_current(gw)); /* its series stay in /metrics until it is retired */
    sl_snapshot_publish(&gw->slot, &gen->super);
    atomic_store_explicit(&gw->server.busy_poll_us, conf->server.busy_poll_us, memory_order_relaxed);
    atomic_store_explicit(&gw->server.max_conns, conns_per_worker(&conf->server, gw->server.num_threads), memory_order_relaxed);
    sl_server_wake_all(&gw->server); /* idle workers adopt it (and let the old one be reclaimed) promptly */
    ++gw->generation;
    ++gw->reloads_ok;
    SL_LOG(SL_LOG_INFO, "reload", "config reloaded: generation %llu, %zu routes, %zu backends",
           (unsigned long long)gw->generation, gen->conf->num_routes, gen->conf->num_backends);
    return SL_OK;
}
