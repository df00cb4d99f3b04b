/*
 * worker.c - see worker.h.
 *
 * Shard growth. A shard is indexed by stable metric ids, so a reload that names a new route or backend needs a
 * bigger one. The worker allocates it at a quiescent point, copies its counters, publishes the new pointer
 * (release) and pushes the old one on retired_shards; the control thread frees a retired shard one tick after it
 * popped it, when no render can still be reading it (renders run on the control thread only).
 */
#include "gateway/worker.h"
#include "backends/pool.h"
#include "common/alloc.h"
#include "common/log.h"
#include "conf/snapshot.h"
#include "gateway/access_log.h"
#include "gateway/proxy.h"
#include "gateway/upclient.h"
#include "stats/hist.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static void seed_rng(sl_gw_worker_t *w)
{
    if (getrandom(w->rng, sizeof(w->rng), 0) != (ssize_t)sizeof(w->rng)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        w->rng[0] = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
        w->rng[1] = (uint64_t)ts.tv_sec * 0x9e3779b97f4a7c15ull + w->idx;
        w->rng[2] = 0x94d049bb133111ebull ^ (uint64_t)(uintptr_t)w;
        w->rng[3] = 0xbf58476d1ce4e5b9ull;
    }
    if ((w->rng[0] | w->rng[1] | w->rng[2] | w->rng[3]) == 0)
        w->rng[0] = 1; /* the one state xoshiro cannot leave */
}

static sl_gw_shard_t *shard_new(uint32_t num_series, uint32_t num_routes, uint32_t num_backends, uint32_t num_endpoints)
{
    sl_gw_shard_t *s = sl_calloc(1, sizeof(*s));
    s->num_series = num_series;
    s->num_routes = num_routes;
    s->num_backends = num_backends;
    s->num_endpoints = num_endpoints;
    s->series = sl_calloc(num_series != 0 ? num_series : 1, sizeof(*s->series));
    s->routes = sl_calloc(num_routes != 0 ? num_routes : 1, sizeof(*s->routes));
    s->backends = sl_calloc(num_backends != 0 ? num_backends : 1, sizeof(*s->backends));
    s->endpoints = sl_calloc(num_endpoints != 0 ? num_endpoints : 1, sizeof(*s->endpoints));
    sl_hist_init(&s->overhead);
    for (uint32_t i = 0; i != num_routes; ++i) {
        sl_hist_init(&s->routes[i].latency);
        sl_hist_init(&s->routes[i].ttft);
        sl_hist_init(&s->routes[i].tpot);
    }
    for (uint32_t i = 0; i != num_backends; ++i)
        sl_hist_init(&s->backends[i].upstream);
    return s;
}

void sl_gw_shard_free(sl_gw_shard_t *s)
{
    if (s == NULL)
        return;
    sl_free(s->series);
    sl_free(s->routes);
    sl_free(s->backends);
    sl_free(s->endpoints);
    sl_free(s);
}

static uint32_t grow_to(uint32_t have, uint32_t need)
{
    uint32_t n = have < 8 ? 8 : have;
    while (n < need)
        n *= 2;
    return n;
}

void sl_gw_worker_fit(sl_gw_worker_t *w, const sl_gw_gen_t *gen)
{
    sl_gw_shard_t *old = sl_gw_worker_shard(w);
    if (old == NULL || old->num_series < gen->num_series || old->num_routes < gen->num_route_ids ||
        old->num_backends < gen->num_backend_ids || old->num_endpoints < gen->num_endpoint_ids) {
        uint32_t ns = old != NULL ? old->num_series : 0, nr = old != NULL ? old->num_routes : 0,
                 nb = old != NULL ? old->num_backends : 0, ne = old != NULL ? old->num_endpoints : 0;
        sl_gw_shard_t *s = shard_new(grow_to(ns, gen->num_series), grow_to(nr, gen->num_route_ids),
                                     grow_to(nb, gen->num_backend_ids), grow_to(ne, gen->num_endpoint_ids));
        if (old != NULL) {
            /* this thread is the only writer: a plain copy is exact */
            memcpy(s->series, old->series, ns * sizeof(*s->series));
            memcpy(s->routes, old->routes, nr * sizeof(*s->routes));
            memcpy(s->backends, old->backends, nb * sizeof(*s->backends));
            memcpy(s->endpoints, old->endpoints, ne * sizeof(*s->endpoints));
            s->overhead = old->overhead;
            s->unmatched = old->unmatched;
            s->too_large = old->too_large;
            s->bad_request = old->bad_request;
            s->inflight = old->inflight;
            s->log_dropped = old->log_dropped;
        }
        atomic_store_explicit(&w->shard, s, memory_order_release);
        for (size_t i = 0; i != w->num_pools; ++i) /* the pools count into the new shard from now on */
            if (w->pools[i] != NULL && i < s->num_endpoints)
                w->pools[i]->stats = s->endpoints + i;
        if (old != NULL) {
            sl_gw_shard_t *head = atomic_load_explicit(&w->retired_shards, memory_order_relaxed);
            do
                old->next_retired = head;
            while (!atomic_compare_exchange_weak_explicit(&w->retired_shards, &head, old, memory_order_release,
                                                          memory_order_relaxed));
        }
    }
    if (w->num_queued < gen->num_backend_ids) {
        size_t n = grow_to((uint32_t)w->num_queued, gen->num_backend_ids);
        w->queued = sl_realloc(w->queued, n * sizeof(*w->queued));
        memset(w->queued + w->num_queued, 0, (n - w->num_queued) * sizeof(*w->queued));
        w->num_queued = n;
    }
    /* connection pools of the generation's endpoints are created here, off the request path */
    for (size_t b = 0; b != gen->conf->num_backends; ++b)
        for (size_t i = 0; i != gen->backends[b].num_endpoints; ++i)
            sl_gw_worker_pool(w, gen->backends[b].endpoints[i]);
}

h2o_timeout_t *sl_gw_worker_timeout(sl_gw_worker_t *w, uint32_t ms)
{
    sl_gw_timeout_class_t *best = NULL;
    for (size_t i = 0; i != w->num_timeouts; ++i) {
        sl_gw_timeout_class_t *c = w->timeouts[i];
        if (c->ms == ms)
            return &c->timeout;
        if (c->ms > ms && (best == NULL || c->ms < best->ms))
            best = c;
    }
    if (w->num_timeouts == SL_GW_MAX_TIMEOUT_CLASSES) {
        if (best == NULL)
            for (size_t i = 0; i != w->num_timeouts; ++i)
                if (best == NULL || w->timeouts[i]->ms > best->ms)
                    best = w->timeouts[i];
        SL_LOG(SL_LOG_WARN, "worker", "more than %d distinct timeouts: %u ms rounded to %u ms", SL_GW_MAX_TIMEOUT_CLASSES, ms,
               best->ms);
        return &best->timeout;
    }
    sl_gw_timeout_class_t *c = sl_calloc(1, sizeof(*c));
    c->ms = ms;
    h2o_timeout_init(w->ctx->loop, &c->timeout, ms);
    w->timeouts[w->num_timeouts++] = c;
    return &c->timeout;
}

sl_upclient_pool_t *sl_gw_worker_pool(sl_gw_worker_t *w, const sl_pool_endpoint_t *e)
{
    if (e->id >= w->num_pools) {
        size_t n = w->num_pools < 16 ? 16 : w->num_pools;
        while (n <= e->id)
            n *= 2;
        w->pools = sl_realloc(w->pools, n * sizeof(*w->pools));
        memset(w->pools + w->num_pools, 0, (n - w->num_pools) * sizeof(*w->pools));
        w->num_pools = n;
    }
    if (w->pools[e->id] == NULL) {
        sl_upclient_pool_t *pool = sl_calloc(1, sizeof(*pool));
        sl_upclient_pool_init(pool, &w->client_ctx, (struct sockaddr *)&e->addr.sa, e->addr.salen, SL_UPCLIENT_MAX_IDLE);
        sl_gw_shard_t *s = sl_gw_worker_shard(w);
        if (s != NULL && e->id < s->num_endpoints)
            pool->stats = s->endpoints + e->id; /* else its own, until the shard grows (sl_gw_worker_fit) */
        w->pools[e->id] = pool;
    }
    return w->pools[e->id];
}

static void on_log_flush(h2o_timeout_entry_t *entry)
{
    sl_gw_worker_t *w = H2O_STRUCT_FROM_MEMBER(sl_gw_worker_t, log_flush, entry);
    sl_gw_log_flush(w);
    h2o_timeout_link(w->ctx->loop, &w->ctx->one_sec_timeout, &w->log_flush);
}

/* Adopts the generation new requests will get: fits the shard and follows its access-log target. */
static void adopt(sl_gw_worker_t *w)
{
    sl_gw_gen_t *gen = (sl_gw_gen_t *)sl_snapshot_pin(&w->reader);
    if (gen == NULL)
        return;
    sl_gw_worker_fit(w, gen);
    if (gen->log != w->log_target) {
        sl_gw_log_flush(w);
        sl_gw_log_target_release(w->log_target);
        sl_gw_log_target_retain(gen->log);
        w->log_target = gen->log;
    }
    sl_snapshot_unpin(&w->reader, &gen->super);
}

void sl_gw_worker_init(sl_gw_worker_t *w, sl_worker_t *sw)
{
    w->ctx = &sw->ctx;
    w->idx = sw->idx;
    sw->data = w;
    /* Every proxied request takes two socket buffers (the client's, set aside while the request is handled, and
     * the upstream's, handed to the response) and gives them back when it ends. h2o caches 16 freed buffers per
     * thread and frees the rest, so with more requests in flight each of those went through malloc and free: some
     * 3,000 instructions per request at 64 connections (callgrind). Keeping up to SL_GW_BUFFER_RECYCLE (8 KiB each,
     * 2 MiB at most per worker, kept until the process ends) makes them a list push and pop again. */
    h2o_socket_buffer_prototype.allocator.max = SL_GW_BUFFER_RECYCLE;
    seed_rng(w);
    /* SO_RCVBUF bounds what one read burst can pull in while the client is slower (backpressure, upstream.c) */
    sl_upclient_ctx_init(&w->client_ctx, w->ctx->loop, &w->ctx->zero_timeout, sl_gw_worker_timeout(w, SL_GW_KEEPALIVE_MS),
                         SL_GW_UPSTREAM_RCVBUF);
    h2o_linklist_init_anchor(&w->waiters);
    w->queue_poll.cb = sl_proxy_on_queue_poll;
    for (size_t i = 0; i != SL_GW_LOG_SLOTS; ++i)
        w->log_slots[i].buf = sl_malloc(SL_GW_LOG_BUF);
    w->log_buf = w->log_slots[0].buf;
    w->log_flush.cb = on_log_flush;
    h2o_timeout_link(w->ctx->loop, &w->ctx->one_sec_timeout, &w->log_flush);
    sl_snapshot_reader_quiesce(&w->reader);
    adopt(w);
}

void sl_gw_worker_loop(sl_gw_worker_t *w)
{
    sl_snapshot_t *before = w->reader.held;
    sl_snapshot_reader_quiesce(&w->reader);
    if (w->reader.held != before)
        adopt(w);
}

void sl_gw_worker_exit(sl_gw_worker_t *w)
{
    sl_gw_log_flush(w);
    if (w->reader.held_pins == 0 && w->reader.num_old == 0)
        sl_snapshot_reader_dispose(&w->reader);
}
