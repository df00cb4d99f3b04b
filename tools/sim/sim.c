/*
 * sim.c - the simulator's life cycle (start, stop) and its control plane (GET/POST /sim/config, GET /sim/stats).
 *
 * Start builds an h2o configuration with one catch-all handler and hands sockets and threads to the shared server
 * bootstrap (gateway/server.h). Stop drains through the same bootstrap, then, on the calling thread and after every
 * worker has been joined, tears down each worker's h2o context and loop so an in-process user can start and stop
 * simulators repeatedly without leaking.
 *
 * Configuration changes: the parameters in force are one immutable snapshot behind an atomic pointer. A change copies
 * it, applies every key (all or nothing), validates, publishes the copy with one atomic exchange and wakes the
 * workers. Each worker re-reads the pointer before every loop iteration and records the generation it holds; a
 * replaced snapshot is freed once every worker holds a later one. Writers serialise on config_shared.mutex, which
 * no request-path code takes.
 */
#include "tools/sim/internal.h"
#include "common/alloc.h"
#include "common/log.h"
#include "common/status.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

typedef struct st_sim_handler_t {
    h2o_handler_t super;
    sl_sim_t *sim;
} sim_handler_t;

static int on_handler_req(h2o_handler_t *self, h2o_req_t *req)
{
    return sl_sim_on_req(((sim_handler_t *)self)->sim, req);
}

static sl_sim_worker_t *worker(sl_sim_t *sim, size_t i)
{
    return sim->server.workers[i].data;
}

static void on_worker_init(sl_worker_t *w)
{
    sl_sim_t *sim = w->server->data;
    sl_sim_worker_t *sw = sl_calloc(1, sizeof(*sw));
    sw->sim = sim;
    sw->w = w;
    sw->snap = atomic_load_explicit(&sim->current, memory_order_acquire);
    atomic_store_explicit(&sw->seen_gen, sw->snap->gen, memory_order_release);
    sl_sim_rng_seed(&sw->rng, sw->snap->p.seed, w->idx);
    w->data = sw;
    sl_sim_worker_start(sw);
}

static void on_worker_loop(sl_worker_t *w)
{
    sl_sim_worker_refresh(w->data);
}

/* Drained when no answer is pending; then idle keep-alive connections are closed at once (their read timeouts are
 * run early) instead of lingering until h2o's request timeout. */
static int is_drained(sl_worker_t *w)
{
    sl_sim_worker_t *sw = w->data;
    sl_sim_worker_refresh(sw);
    if (sl_sim_worker_pending(sw) != 0)
        return 0;
    if (w->num_conns != 0) {
        h2o_timeout_run(w->ctx.loop, &w->ctx.http1.req_timeout, UINT64_MAX);
        h2o_timeout_run(w->ctx.loop, &w->ctx.http2.idle_timeout, UINT64_MAX);
    }
    return w->num_conns == 0;
}

static void on_worker_exit(sl_worker_t *w)
{
    sl_sim_worker_t *sw = w->data;
    if (sl_sim_worker_pending(sw) != 0 || w->num_conns != 0)
        return; /* the drain deadline passed: leave everything in place, sl_sim_stop will not tear it down */
    h2o_timeout_unlink(&sw->pump);
    if (sl_sim_timers_dispose(&sw->timers) == SL_OK)
        sw->torn_down = 1;
}

/* Frees one worker's h2o context and loop. Runs on the stopping thread after the worker was joined and drained. */
static void teardown_worker(sl_worker_t *w)
{
    h2o_loop_t *loop = w->ctx.loop;
    h2o_multithread_queue_t *queue = w->ctx.queue;
    h2o_timeout_unlink(&w->ctx.http2._graceful_shutdown_timeout); /* linked by h2o_context_request_shutdown */
    h2o_multithread_unregister_receiver(queue, &w->wakeup);
    h2o_context_dispose(&w->ctx);
    free(queue); /* h2o 2.2.5's h2o_multithread_destroy_queue closes the queue but does not free what it allocated */
    h2o_evloop_destroy(loop);
}

static void free_snapshots(sl_sim_t *sim)
{
    while (sim->config_shared.retired != NULL) {
        sl_sim_snap_t *s = sim->config_shared.retired;
        sim->config_shared.retired = s->next_retired;
        sl_free(s);
    }
    sl_free(atomic_load(&sim->current));
}

int sl_sim_start(const sl_sim_params_t *params, const sl_conf_addr_t *listen, sl_sim_t **out, char *err,
                 size_t errlen)
{
    if (sl_sim_params_check(params, err, errlen) != SL_OK)
        return SL_EINVAL;
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
        signal(SIGPIPE, SIG_IGN);

    sl_sim_t *sim = sl_calloc(1, sizeof(*sim));
    sim->listen = *listen;
    sim->listen.text = NULL; /* borrowed text is not kept */
    sim->started_unix = (uint64_t)time(NULL);
    snprintf(sim->fingerprint, sizeof(sim->fingerprint), "fp_%010llx",
             (unsigned long long)(sl_sim_fnv1a64(params->model, strlen(params->model)) ^ params->seed) &
                 0xFFFFFFFFFFull);
    pthread_mutex_init(&sim->config_shared.mutex, NULL);
    sl_sim_snap_t *snap = sl_calloc(1, sizeof(*snap));
    snap->p = *params;
    snap->gen = sim->config_shared.gen = 1;
    atomic_store(&sim->current, snap);

    h2o_config_init(&sim->h2o);
    sim->h2o.max_request_entity_size = (size_t)params->max_body_kb * 1024;
    sim->h2o.server_name = h2o_iovec_init(H2O_STRLIT("sluice-sim"));
    h2o_hostconf_t *host = h2o_config_register_host(&sim->h2o, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pc = h2o_config_register_path(host, "/", 0);
    sim_handler_t *h = (sim_handler_t *)h2o_create_handler(pc, sizeof(*h));
    h->super.on_req = on_handler_req;
    h->sim = sim;

    sl_server_t *s = &sim->server;
    s->h2o = &sim->h2o;
    s->listen = &sim->listen;
    s->num_listen = 1;
    s->num_threads = params->threads;
    s->drain_timeout_ms = params->drain_ms;
    s->name = "sluice-sim";
    s->data = sim;
    s->on_worker_init = on_worker_init;
    s->on_worker_loop = on_worker_loop;
    s->is_drained = is_drained;
    s->on_worker_exit = on_worker_exit;
    if (sl_server_open(s, err, errlen) != SL_OK) {
        h2o_config_dispose(&sim->h2o);
        free_snapshots(sim);
        pthread_mutex_destroy(&sim->config_shared.mutex);
        sl_free(sim);
        return SL_EIO;
    }
    sl_server_start(s);
    *out = sim;
    return SL_OK;
}

uint16_t sl_sim_port(sl_sim_t *sim)
{
    return sl_server_bound_port(&sim->server, 0);
}

const char *sl_sim_address(sl_sim_t *sim, char *buf, size_t bufsz)
{
    return sl_server_bound_text(&sim->server, 0, buf, bufsz);
}

void sl_sim_get_params(sl_sim_t *sim, sl_sim_params_t *out)
{
    pthread_mutex_lock(&sim->config_shared.mutex); /* the current snapshot cannot be retired and freed meanwhile */
    *out = atomic_load(&sim->current)->p;
    pthread_mutex_unlock(&sim->config_shared.mutex);
}

/* Frees retired snapshots that no worker can hold any more. Under config_shared.mutex. */
static void reclaim(sl_sim_t *sim)
{
    uint64_t min_seen = UINT64_MAX;
    for (size_t i = 0; i != sim->server.num_threads; ++i) {
        uint64_t g = atomic_load_explicit(&worker(sim, i)->seen_gen, memory_order_acquire);
        if (g < min_seen)
            min_seen = g;
    }
    sl_sim_snap_t **slot = &sim->config_shared.retired;
    while (*slot != NULL) {
        sl_sim_snap_t *s = *slot;
        if (s->gen < min_seen) {
            *slot = s->next_retired;
            sl_free(s);
        } else {
            slot = &s->next_retired;
        }
    }
}

/* Applies n changes to a copy of the parameters in force; publishes it only if every change and the final check
 * pass. msgs[i] receives the reason key i failed (empty when it did not); check_msg the cross-parameter reason.
 * Returns SL_OK or the first failure code. */
static int apply(sl_sim_t *sim, const char *const *keys, const char *const *values, size_t n, char (*msgs)[200],
                 char *check_msg, size_t check_len)
{
    int rc = SL_OK;
    check_msg[0] = '\0';
    pthread_mutex_lock(&sim->config_shared.mutex);
    sl_sim_params_t p = atomic_load(&sim->current)->p;
    for (size_t i = 0; i != n; ++i) {
        const sl_sim_param_def_t *d = sl_sim_params_find(keys[i]);
        int r;
        msgs[i][0] = '\0';
        if (d != NULL && !d->runtime) {
            snprintf(msgs[i], sizeof(msgs[i]), "%s: can only be set at start-up", d->name);
            r = SL_EINVAL;
        } else {
            r = sl_sim_params_set(&p, keys[i], values[i], msgs[i], sizeof(msgs[i]));
        }
        if (r != SL_OK && rc == SL_OK)
            rc = r;
    }
    if (rc == SL_OK)
        rc = sl_sim_params_check(&p, check_msg, check_len);
    if (rc == SL_OK) {
        sl_sim_snap_t *snap = sl_calloc(1, sizeof(*snap));
        snap->p = p;
        snap->gen = ++sim->config_shared.gen;
        sl_sim_snap_t *old = atomic_exchange_explicit(&sim->current, snap, memory_order_acq_rel);
        old->next_retired = sim->config_shared.retired;
        sim->config_shared.retired = old;
        reclaim(sim);
    }
    pthread_mutex_unlock(&sim->config_shared.mutex);
    if (rc == SL_OK)
        sl_server_wake_all(&sim->server);
    return rc;
}

int sl_sim_configure(sl_sim_t *sim, const char *const *keys, const char *const *values, size_t n, char *err,
                     size_t errlen)
{
    char(*msgs)[200] = sl_calloc(n == 0 ? 1 : n, sizeof(*msgs));
    char check[200];
    int rc = apply(sim, keys, values, n, msgs, check, sizeof(check));
    size_t off = 0;
    if (errlen != 0)
        err[0] = '\0';
    for (size_t i = 0; i != n && off < errlen; ++i)
        if (msgs[i][0] != '\0')
            off += (size_t)snprintf(err + off, errlen - off, "%s%s", off == 0 ? "" : "; ", msgs[i]);
    if (check[0] != '\0' && off < errlen)
        snprintf(err + off, errlen - off, "%s%s", off == 0 ? "" : "; ", check);
    sl_free(msgs);
    return rc;
}

static int send_config(h2o_req_t *req, const sl_sim_params_t *p)
{
    char *buf = h2o_mem_alloc_pool(&req->pool, 4096);
    int n = sl_sim_params_to_json(p, buf, 4096);
    sl_sim_send_json(req, 200, "OK", buf, n < 0 ? 0 : (size_t)n);
    return 0;
}

/* POST /sim/config: a JSON object of parameter -> value (number, string, or for labels an array of strings). */
static int post_config(sl_sim_t *sim, sl_sim_worker_t *sw, h2o_req_t *req)
{
    json_error_t je;
    json_t *root = req->entity.len != 0 ? json_loadb(req->entity.base, req->entity.len, 0, &je) : NULL, *v;
    sl_sim_out_t o;
    sl_sim_out_init(&o, &req->pool, 512);
    if (!json_is_object(root)) {
        sl_sim_out_lit(&o, "{\"error\":\"the body must be a JSON object of parameter names to values\",\"errors\":[]}");
        json_decref(root);
        sl_sim_send_json(req, 400, NULL, o.buf, o.len);
        return 0;
    }
    size_t n = json_object_size(root), i = 0;
    const char *key;
    const char **keys = h2o_mem_alloc_pool(&req->pool, sizeof(char *) * (n + 1));
    const char **values = h2o_mem_alloc_pool(&req->pool, sizeof(char *) * (n + 1));
    char(*msgs)[200] = h2o_mem_alloc_pool(&req->pool, sizeof(*msgs) * (n + 1));
    int bad_type = 0;
    json_object_foreach(root, key, v) {
        char *text = h2o_mem_alloc_pool(&req->pool, 1024);
        keys[i] = h2o_strdup(&req->pool, key, SIZE_MAX).base;
        values[i] = text;
        msgs[i][0] = '\0';
        if (json_is_string(v)) {
            snprintf(text, 1024, "%s", json_string_value(v));
        } else if (json_is_integer(v)) {
            snprintf(text, 1024, "%lld", (long long)json_integer_value(v));
        } else if (json_is_real(v)) {
            snprintf(text, 1024, "%.17g", json_real_value(v));
        } else if (json_is_array(v)) { /* labels as a list */
            size_t j, off = 0;
            json_t *e;
            text[0] = '\0';
            json_array_foreach(v, j, e) {
                if (off < 1024)
                    off += (size_t)snprintf(text + off, 1024 - off, "%s%s", j == 0 ? "" : ",",
                                            json_is_string(e) ? json_string_value(e) : "?");
            }
        } else {
            snprintf(msgs[i], sizeof(msgs[i]), "%s: expected a number or a string", key);
            bad_type = 1;
        }
        ++i;
    }
    char check[200] = "";
    int rc = SL_EINVAL;
    if (!bad_type) {
        rc = apply(sim, keys, values, n, msgs, check, sizeof(check));
    }
    json_decref(root);
    if (rc == SL_OK) {
        sl_sim_params_t p;
        sl_sim_get_params(sim, &p);
        return send_config(req, &p);
    }
    size_t num_bad = 0;
    for (i = 0; i != n; ++i)
        num_bad += msgs[i][0] != '\0';
    num_bad += check[0] != '\0';
    sl_sim_out_printf(&o, "{\"error\":\"invalid configuration: %zu problem%s, nothing changed\",\"errors\":[", num_bad,
                      num_bad == 1 ? "" : "s");
    int first = 1;
    for (i = 0; i != n; ++i) {
        if (msgs[i][0] == '\0')
            continue;
        sl_sim_out_printf(&o, "%s{\"key\":\"", first ? "" : ",");
        sl_sim_out_append_escaped(&o, keys[i], strlen(keys[i]));
        sl_sim_out_lit(&o, "\",\"message\":\"");
        sl_sim_out_append_escaped(&o, msgs[i], strlen(msgs[i]));
        sl_sim_out_lit(&o, "\"}");
        first = 0;
    }
    if (check[0] != '\0') {
        sl_sim_out_printf(&o, "%s{\"key\":null,\"message\":\"", first ? "" : ",");
        sl_sim_out_append_escaped(&o, check, strlen(check));
        sl_sim_out_lit(&o, "\"}");
    }
    sl_sim_out_lit(&o, "]}");
    (void)sw;
    sl_sim_send_json(req, 400, NULL, o.buf, o.len);
    return 0;
}

static int get_stats(sl_sim_t *sim, h2o_req_t *req)
{
    uint64_t t[SL_SIM_ST_COUNT] = {0};
    for (size_t i = 0; i != sim->server.num_threads; ++i)
        for (int k = 0; k != SL_SIM_ST_COUNT; ++k)
            t[k] += atomic_load_explicit(&worker(sim, i)->stats[k], memory_order_relaxed);
    sl_sim_out_t o;
    sl_sim_out_init(&o, &req->pool, 1024);
#define U(k) (unsigned long long)t[SL_SIM_ST_##k]
    sl_sim_out_printf(&o,
                      "{\"requests\":%llu,\"by_status\":{\"200\":%llu,\"400\":%llu,\"404\":%llu,\"405\":%llu,"
                      "\"413\":%llu,\"429\":%llu,\"500\":%llu,\"503\":%llu,\"other\":%llu},"
                      "\"faults\":{\"error\":%llu,\"hang\":%llu,\"reset\":%llu,\"malformed\":%llu,\"slow\":%llu},"
                      "\"rejected\":%llu,\"queued_now\":%llu,\"in_flight\":%llu,\"hung_now\":%llu,\"answers\":%llu,"
                      "\"correct\":%llu,\"incorrect\":%llu,\"drifted\":%llu,\"prompt_tokens\":%llu,"
                      "\"completion_tokens\":%llu,\"workers\":%zu}",
                      U(REQUESTS), U(S200), U(S400), U(S404), U(S405), U(S413), U(S429), U(S500), U(S503), U(SOTHER),
                      U(F_ERROR), U(F_HANG), U(F_RESET), U(F_MALFORMED), U(F_SLOW), U(REJECTED), U(QUEUED_NOW),
                      U(ACTIVE_NOW), U(HUNG_NOW), U(ANSWERS), U(CORRECT), U(INCORRECT), U(DRIFTED), U(PROMPT_TOKENS),
                      U(COMPLETION_TOKENS), sim->server.num_threads);
#undef U
    sl_sim_send_json(req, 200, "OK", o.buf, o.len);
    return 0;
}

int sl_sim_on_control(sl_sim_t *sim, h2o_req_t *req)
{
    sl_sim_worker_t *sw = sl_sim_worker_of(req);
    int is_get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"));
    int is_post = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"));
    static const char not_allowed[] = "{\"error\":\"method not allowed\"}";
    if (h2o_memis(req->path_normalized.base, req->path_normalized.len, H2O_STRLIT("/sim/config"))) {
        if (is_get)
            return send_config(req, &sw->snap->p);
        if (is_post)
            return post_config(sim, sw, req);
        sl_sim_send_json(req, 405, NULL, not_allowed, sizeof(not_allowed) - 1);
        return 0;
    }
    if (h2o_memis(req->path_normalized.base, req->path_normalized.len, H2O_STRLIT("/sim/stats"))) {
        if (is_get)
            return get_stats(sim, req);
        sl_sim_send_json(req, 405, NULL, not_allowed, sizeof(not_allowed) - 1);
        return 0;
    }
    static const char unknown[] = "{\"error\":\"unknown path: /sim/config and /sim/stats exist\"}";
    sl_sim_send_json(req, 404, NULL, unknown, sizeof(unknown) - 1);
    return 0;
}

void sl_sim_stop(sl_sim_t *sim)
{
    sl_server_t *s = &sim->server;
    sl_server_stop(s);
    int clean = 1;
    for (size_t i = 0; i != s->num_threads; ++i)
        clean &= worker(sim, i)->torn_down;
    if (!clean) {
        /* an answer or a connection outlived the drain deadline: h2o still references this memory, so it is
         * deliberately not freed (the process is normally about to exit) */
        SL_LOG(SL_LOG_WARN, "sim", "drain deadline passed with answers or connections open; not freeing the simulator");
        return;
    }
    for (size_t i = 0; i != s->num_threads; ++i) {
        sl_worker_t *w = s->workers + i;
        sl_sim_worker_t *sw = w->data;
        teardown_worker(w);
        sl_free(sw);
    }
    sl_free(s->workers); /* allocated by sl_server_start, which leaves its release to the owner */
    h2o_config_dispose(&sim->h2o);
    free_snapshots(sim);
    pthread_mutex_destroy(&sim->config_shared.mutex);
    sl_free(sim);
}
