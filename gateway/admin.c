/*
 * admin.c - the admin listener's endpoints, served by the control thread:
 *   GET  /healthz          200 while the process runs
 *   GET  /readyz           200 when a config is loaded and every route has an endpoint in rotation, else 503
 *   GET  /metrics          Prometheus text format 0.0.4 (metrics.c)
 *   POST /admin/reload     reload the config file; 200 with the new generation, or 400 with every error
 *   GET  /admin/endpoints  JSON: every endpoint's in-flight count, rotation state and ejection counters
 *   GET  /admin/state      JSON: SLO budgets, burn rates and alerts; the state file; accuracy scaling (slo_glue.h);
 *                          canary rollouts (rollout_glue.h)
 *   POST /admin/rollouts/<route>/<tier>/<action>  pause, resume, rollback, promote or restart a rollout (tier: its
 *                          index or its backend's name); 200 with the rollout, 404 when there is none, 409 when the
 *                          action is not allowed in its current state
 * When admin.token_file is set, the /admin/ paths require "Authorization: Bearer <token>" (401 otherwise); the probes and
 * /metrics stay open so that orchestrators and Prometheus need no secret. Answers are JSON unless noted.
 */
#include "backends/pool.h"
#include "common/alloc.h"
#include "common/status.h"
#include "common/str.h"
#include "conf/conf.h"
#include "gateway/control.h"
#include "gateway/gw.h"
#include "gateway/metrics.h"
#include "gateway/monitor_glue.h"
#include "gateway/rollout_glue.h"
#include "gateway/slo_glue.h"
#include "gateway/worker.h"

#include <stdio.h>
#include <string.h>

#define METRICS_CAP (64u << 20)

typedef struct st_sl_gw_admin_handler_t {
    h2o_handler_t super;
    sl_gw_t *gw;
} sl_gw_admin_handler_t;

static void respond(h2o_req_t *req, int status, const char *reason, const char *type, const char *body, size_t len)
{
    static h2o_generator_t oneshot = {NULL, NULL};
    req->res.status = status;
    req->res.reason = reason;
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, type, strlen(type));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    h2o_start_response(req, &oneshot);
    h2o_iovec_t v = h2o_strdup(&req->pool, body, len);
    int head = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    h2o_send(req, &v, head ? 0 : 1, H2O_SEND_STATE_FINAL);
}

static void respond_json(h2o_req_t *req, int status, const char *reason, const char *body)
{
    respond(req, status, reason, "application/json", body, strlen(body));
}

/* Constant-time comparison of the bearer token (no early exit on the first differing byte). */
static int authorized(sl_gw_t *gw, h2o_req_t *req)
{
    const char *token = sl_gw_current(gw)->conf->admin.token;
    if (token == NULL)
        return 1;
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (i < 0)
        return 0;
    h2o_iovec_t v = req->headers.entries[i].value;
    size_t tl = strlen(token);
    if (v.len != 7 + tl || !h2o_lcstris(v.base, 7, H2O_STRLIT("bearer ")))
        return 0;
    unsigned char diff = 0;
    for (size_t k = 0; k != tl; ++k)
        diff |= (unsigned char)(v.base[7 + k] ^ token[k]);
    return diff == 0;
}

static void on_metrics(sl_gw_t *gw, h2o_req_t *req)
{
    sl_gw_shard_t *shards[SL_SERVER_MAX_THREADS];
    sl_gw_metrics_input_t in;
    memset(&in, 0, sizeof(in));
    for (size_t i = 0; i != gw->server.num_threads; ++i)
        shards[i] = atomic_load_explicit(&gw->workers[i].shard, memory_order_acquire);
    for (size_t i = 0; i != gw->server.num_threads; ++i) {
        in.open_connections += __atomic_load_n(&gw->server.workers[i].num_conns, __ATOMIC_RELAXED);
        in.busy_poll_idle_us += __atomic_load_n(&gw->server.workers[i].busy_poll_idle_us, __ATOMIC_RELAXED);
        in.accept_pauses_data += __atomic_load_n(&gw->server.workers[i].accept_pauses, __ATOMIC_RELAXED);
        in.connection_caps += __atomic_load_n(&gw->server.workers[i].conn_caps, __ATOMIC_RELAXED);
    }
    in.max_connections = sl_server_max_connections(&gw->server);
    in.log_write_dropped = atomic_load_explicit(&gw->log_write_dropped, memory_order_relaxed);
    for (size_t i = 0; i != gw->control.num_threads; ++i)
        in.accept_pauses_admin += __atomic_load_n(&gw->control.workers[i].accept_pauses, __ATOMIC_RELAXED);
    in.names = &gw->names;
    in.shards = shards;
    in.num_shards = gw->server.num_threads;
    in.registry = &gw->registry;
    in.gen = sl_gw_current(gw);
    in.generation = gw->generation;
    in.reloads_ok = gw->reloads_ok;
    in.reloads_failed = gw->reloads_failed;
    sl_gw_live_t live;
    sl_gw_live_init(gw, &live); /* routes and backends a reload removed leave once their generation is retired */
    in.live = &live;
    sl_gw_metrics_read_process(&in);
    size_t allocated, resident;
    if (sl_alloc_stats(&allocated, &resident) == SL_OK) {
        in.has_alloc = 1;
        in.alloc_allocated = allocated;
        in.alloc_resident = resident;
    }
    sl_buf_t out;
    sl_buf_init(&out, METRICS_CAP);
    int rc = sl_gw_metrics_render(&in, &out);
    sl_gw_live_dispose(&live);
    if (rc != SL_OK || sl_gw_slo_render_metrics(gw, &out) != SL_OK || sl_gw_rollout_render_metrics(gw, &out) != SL_OK ||
        sl_gw_monitor_render_metrics(gw, &out) != SL_OK) {
        sl_buf_dispose(&out);
        respond_json(req, 500, "Internal Server Error", "{\"error\":\"metrics too large\"}");
        return;
    }
    respond(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", out.data != NULL ? out.data : "", out.len);
    sl_buf_dispose(&out);
}

static void on_readyz(sl_gw_t *gw, h2o_req_t *req)
{
    const sl_gw_gen_t *gen = sl_gw_current(gw);
    sl_buf_t names, b;
    sl_buf_init(&names, 0);
    sl_buf_init(&b, 0);
    size_t missing = 0;
    for (size_t r = 0; r != gen->conf->num_routes; ++r) {
        const sl_conf_route_t *route = gen->conf->routes + r;
        const sl_gw_backend_rt_t *bk = gen->backends + route->tiers[0].backend->index;
        int any = 0;
        for (size_t i = 0; i != bk->num_endpoints && !any; ++i)
            any = sl_pool_in_rotation(bk->endpoints[i]);
        if (!any) {
            sl_buf_append(&names, missing != 0 ? ",\"" : "\"", missing != 0 ? 2 : 1);
            ++missing;
            sl_buf_append_json_escaped(&names, route->name, strlen(route->name));
            sl_buf_append(&names, "\"", 1);
        }
    }
    sl_buf_appendf(&b, "{\"status\":\"%s\",\"generation\":%llu,\"routes_without_endpoint\":[",
                   missing == 0 ? "ready" : "not_ready", (unsigned long long)gw->generation);
    if (names.len != 0)
        sl_buf_append(&b, names.data, names.len);
    sl_buf_append(&b, "]}", 2);
    if (missing == 0)
        respond(req, 200, "OK", "application/json", b.data, b.len);
    else
        respond(req, 503, "Service Unavailable", "application/json", b.data, b.len);
    sl_buf_dispose(&names);
    sl_buf_dispose(&b);
}

static void on_reload(sl_gw_t *gw, h2o_req_t *req)
{
    sl_conf_errors_t errs;
    sl_conf_errors_init(&errs);
    sl_buf_t b;
    sl_buf_init(&b, 0);
    if (sl_gw_reload(gw, &errs) == SL_OK) {
        sl_buf_appendf(&b, "{\"status\":\"ok\",\"generation\":%llu}", (unsigned long long)gw->generation);
        respond(req, 200, "OK", "application/json", b.data, b.len);
    } else {
        sl_buf_appendf(&b, "{\"status\":\"error\",\"generation\":%llu,\"errors\":[", (unsigned long long)gw->generation);
        for (size_t i = 0; i != sl_conf_errors_count(&errs); ++i) {
            const char *m = sl_conf_errors_get(&errs, i);
            sl_buf_append(&b, i != 0 ? ",\"" : "\"", i != 0 ? 2 : 1);
            sl_buf_append_json_escaped(&b, m, strlen(m));
            sl_buf_append(&b, "\"", 1);
        }
        sl_buf_append(&b, "]}", 2);
        respond(req, 400, "Bad Request", "application/json", b.data, b.len);
    }
    sl_buf_dispose(&b);
    sl_conf_errors_dispose(&errs);
}

static void on_endpoints(sl_gw_t *gw, h2o_req_t *req)
{
    sl_buf_t b;
    sl_buf_init(&b, 0);
    sl_buf_append(&b, "{\"endpoints\":[", 14);
    for (size_t i = 0; i != gw->registry.num_endpoints; ++i) {
        const sl_pool_endpoint_t *e = gw->registry.endpoints[i];
        uint32_t out = atomic_load_explicit(&e->out, memory_order_relaxed);
        sl_buf_append(&b, i != 0 ? ",{\"backend\":\"" : "{\"backend\":\"", i != 0 ? 13 : 12);
        sl_buf_append_json_escaped(&b, e->backend, strlen(e->backend));
        sl_buf_append(&b, "\",\"address\":\"", 13);
        sl_buf_append_json_escaped(&b, e->addr.text, strlen(e->addr.text));
        sl_buf_appendf(&b,
                       "\",\"in_rotation\":%s,\"ejected\":%s,\"unhealthy\":%s,\"inflight\":%u,\"failure_streak\":%u,"
                       "\"ejections_outlier\":%llu,\"ejections_health\":%llu}",
                       out == 0 ? "true" : "false", (out & SL_POOL_OUT_EJECTED) ? "true" : "false",
                       (out & SL_POOL_OUT_UNHEALTHY) ? "true" : "false",
                       (unsigned)atomic_load_explicit(&e->inflight, memory_order_relaxed),
                       (unsigned)atomic_load_explicit(&e->failure_streak, memory_order_relaxed),
                       (unsigned long long)e->ejections_outlier, (unsigned long long)e->ejections_health);
    }
    sl_buf_append(&b, "]}", 2);
    respond(req, 200, "OK", "application/json", b.data, b.len);
    sl_buf_dispose(&b);
}

/* SLO budgets, burn rates and alerts per route and objective, the state file, accuracy scaling (slo_glue.h) */
static void on_state(sl_gw_t *gw, h2o_req_t *req)
{
    sl_buf_t b;
    sl_buf_init(&b, METRICS_CAP);
    int ok = sl_gw_slo_render_state(gw, &b) == SL_OK && b.len != 0 && b.data[b.len - 1] == '}';
    if (ok) { /* the rollouts go into the same object, as its last member */
        b.len--;
        ok = sl_gw_rollout_render_state(gw, &b) == SL_OK && sl_gw_monitor_render_state(gw, &b) == SL_OK &&
             sl_buf_append(&b, "}", 1) == SL_OK;
    }
    if (!ok)
        respond_json(req, 500, "Internal Server Error", "{\"error\":\"state too large\"}");
    else
        respond(req, 200, "OK", "application/json", b.data, b.len);
    sl_buf_dispose(&b);
}

/* POST /admin/rollouts/<route>/<tier>/<action> (rollout_admin.c) */
static void on_rollout(sl_gw_t *gw, h2o_req_t *req, h2o_iovec_t rest)
{
    char buf[256], *parts[3];
    size_t n = 0;
    if (rest.len >= sizeof(buf)) {
        respond_json(req, 404, "Not Found", "{\"error\":\"no such rollout\"}");
        return;
    }
    memcpy(buf, rest.base, rest.len);
    buf[rest.len] = '\0';
    for (char *s = buf, *tok; n != 3 && (tok = strsep(&s, "/")) != NULL;)
        parts[n++] = tok;
    const char *why = "expected /admin/rollouts/<route>/<tier>/<action>";
    int rc = n == 3 && strchr(parts[2], '/') == NULL ? sl_gw_rollout_admin(gw, parts[0], parts[1], parts[2], &why) : SL_ENOENT;
    sl_buf_t b;
    sl_buf_init(&b, METRICS_CAP);
    if (rc == SL_OK) {
        sl_buf_append(&b, "{\"status\":\"ok\"", 15);
        if (sl_gw_rollout_render_state(gw, &b) == SL_OK && sl_buf_append(&b, "}", 1) == SL_OK)
            respond(req, 200, "OK", "application/json", b.data, b.len);
        else
            respond_json(req, 200, "OK", "{\"status\":\"ok\"}");
    } else {
        sl_buf_append(&b, "{\"error\":\"", 10);
        sl_buf_append_json_escaped(&b, why, strlen(why));
        sl_buf_append(&b, "\"}", 2);
        if (rc == SL_EINVAL)
            respond(req, 409, "Conflict", "application/json", b.data, b.len);
        else
            respond(req, 404, "Not Found", "application/json", b.data, b.len);
    }
    sl_buf_dispose(&b);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    sl_gw_t *gw = ((sl_gw_admin_handler_t *)self)->gw;
    h2o_iovec_t path = req->path_normalized;
    int get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) ||
              h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    int post = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"));

    if (h2o_memis(path.base, path.len, H2O_STRLIT("/healthz")) && get) {
        respond_json(req, 200, "OK", "{\"status\":\"ok\"}");
    } else if (h2o_memis(path.base, path.len, H2O_STRLIT("/readyz")) && get) {
        on_readyz(gw, req);
    } else if (h2o_memis(path.base, path.len, H2O_STRLIT("/metrics")) && get) {
        on_metrics(gw, req);
    } else if (path.len > 7 && memcmp(path.base, "/admin/", 7) == 0) {
        if (!authorized(gw, req)) {
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL, H2O_STRLIT("Bearer"));
            respond_json(req, 401, "Unauthorized", "{\"error\":\"a valid bearer token is required\"}");
        } else if (h2o_memis(path.base, path.len, H2O_STRLIT("/admin/reload")) && post) {
            on_reload(gw, req);
        } else if (h2o_memis(path.base, path.len, H2O_STRLIT("/admin/endpoints")) && get) {
            on_endpoints(gw, req);
        } else if (h2o_memis(path.base, path.len, H2O_STRLIT("/admin/state")) && get) {
            on_state(gw, req);
        } else if (path.len > 16 && memcmp(path.base, "/admin/rollouts/", 16) == 0 && post) {
            on_rollout(gw, req, h2o_iovec_init(path.base + 16, path.len - 16));
        } else {
            respond_json(req, 404, "Not Found", "{\"error\":\"no such admin endpoint or method\"}");
        }
    } else {
        respond_json(req, 404, "Not Found", "{\"error\":\"not found\"}");
    }
    return 0;
}

void sl_gw_admin_register(sl_gw_t *gw, h2o_hostconf_t *host)
{
    h2o_pathconf_t *pc = h2o_config_register_path(host, "/", 0);
    sl_gw_admin_handler_t *h = (sl_gw_admin_handler_t *)h2o_create_handler(pc, sizeof(*h));
    h->super.on_req = on_req;
    h->gw = gw;
}
