/*
 * worker.h - per-worker state of the data plane: snapshot reader, upstream client context and connection pools,
 * timeout classes, PRNG, metric shard, queue of requests waiting for a slot. Everything here runs on the worker's
 * own thread unless said otherwise.
 */
#ifndef SL_GATEWAY_WORKER_H
#define SL_GATEWAY_WORKER_H

#include "gateway/gw-t.h"

/* A single-writer counter bump: a relaxed load and store, no locked instruction (the control thread only reads). */
#define SL_GW_ADD(field, n) __atomic_store_n(&(field), __atomic_load_n(&(field), __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)
#define SL_GW_SUB(field, n) __atomic_store_n(&(field), __atomic_load_n(&(field), __ATOMIC_RELAXED) - (n), __ATOMIC_RELAXED)

static inline sl_gw_worker_t *sl_gw_worker_of(h2o_req_t *req)
{
    return sl_worker_of(req->conn->ctx)->data;
}

/* The worker's shard (the worker is the only writer of the pointer, so a plain load suffices here). */
static inline sl_gw_shard_t *sl_gw_worker_shard(sl_gw_worker_t *w)
{
    return atomic_load_explicit(&w->shard, memory_order_relaxed);
}

/* xoshiro256** (Blackman & Vigna, 2021): the worker's random draws (endpoint picks, request ids). */
static inline uint64_t sl_gw_worker_rand(sl_gw_worker_t *w)
{
    uint64_t *s = w->rng;
    uint64_t x = s[1] * 5, result = ((x << 7) | (x >> 57)) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
}

/* Sets up w on its worker thread (sl_server_t.on_worker_init). The reader was registered by the main thread. */
void sl_gw_worker_init(sl_gw_worker_t *w, sl_worker_t *sw);

/* Quiescent point before each loop iteration (sl_server_t.on_worker_loop): announces the epoch, adopts a new
 * generation (grows the shard, switches the access-log target). */
void sl_gw_worker_loop(sl_gw_worker_t *w);

/* After the drain (sl_server_t.on_worker_exit): flushes the access log and detaches the reader. */
void sl_gw_worker_exit(sl_gw_worker_t *w);

/* The timeout class of `ms` milliseconds on w's loop, created on first use. Classes are never disposed (the
 * process drains and exits, see docs/ARCHITECTURE.md); past SL_GW_MAX_TIMEOUT_CLASSES distinct durations the
 * nearest longer existing class is used (or the longest one). */
h2o_timeout_t *sl_gw_worker_timeout(sl_gw_worker_t *w, uint32_t ms);

/* The worker's pool of upstream connections to endpoint e, created on first use. */
sl_upclient_pool_t *sl_gw_worker_pool(sl_gw_worker_t *w, const sl_pool_endpoint_t *e);

/* Makes sure the shard and the per-backend arrays can hold the ids of gen (called when a generation is adopted,
 * and by tests). */
void sl_gw_worker_fit(sl_gw_worker_t *w, const sl_gw_gen_t *gen);

#endif
