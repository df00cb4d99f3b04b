/*
 * pool-t.h - endpoint pools: the state of every upstream endpoint shared by all threads of the process.
 *
 * An endpoint (one address of one backend) keeps its state for the life of the process, across config reloads,
 * in a registry keyed by (backend name, address text): in-flight requests, failure streaks and ejections must not
 * reset when the config is reloaded. Fields are grouped by the thread that writes them (HAProxy's habit):
 *   - atomics written by every worker: the in-flight count and the passive failure streak;
 *   - atomics written only by the control thread and read by the workers: the verdicts (ejected, unhealthy);
 *   - plain fields owned by the control thread: ejection level, health-check counters, schedule.
 * Each endpoint starts on its own 64-byte cache line so two endpoints never false-share.
 */
#ifndef SL_BACKENDS_POOL_T_H
#define SL_BACKENDS_POOL_T_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf-t.h"

#define SL_POOL_MAX_ENDPOINTS (1u << 16) /* endpoints ever registered in one process */

/* Why an endpoint is out of rotation (bit mask in sl_pool_endpoint_t.out). */
enum en_sl_pool_out_t {
    SL_POOL_OUT_EJECTED = 1,   /* passive outlier ejection (consecutive failed requests) */
    SL_POOL_OUT_UNHEALTHY = 2, /* active health checks failed */
};

typedef struct st_sl_pool_endpoint_t {
    /* written by every worker */
    _Alignas(64) _Atomic uint32_t inflight; /* requests holding a slot on this endpoint, process-wide */
    _Atomic uint32_t failure_streak;        /* consecutive failed requests; a success stores 0 */
    _Atomic uint32_t eject_requested;       /* set by the worker whose failure reached the threshold */
    /* written by the control thread, read by workers */
    _Atomic uint32_t out; /* en_sl_pool_out_t mask; 0 = in rotation */
    /* control thread only */
    uint64_t ejected_until_ms;          /* monotonic ms when the current passive ejection ends */
    uint64_t ejections_outlier;         /* passive ejections so far */
    uint64_t ejections_health;          /* transitions to unhealthy so far */
    uint32_t ejection_level;            /* ejections in a row; the next one lasts base << level (capped) */
    uint64_t returned_at_ms;            /* when it last came back in rotation (ejection level decays after this) */
    uint32_t hc_successes, hc_failures; /* consecutive active check results */
    uint64_t hc_next_ms;                /* next active check due */
    int hc_running;                     /* a check is in flight */
    /* immutable after registration */
    uint32_t id;         /* dense index in the registry, stable for the life of the process */
    const char *backend; /* owned copy of the backend name */
    sl_conf_addr_t addr; /* owned copy (addr.text too) */
    void *raw;           /* the allocation this aligned struct lives in */
} sl_pool_endpoint_t;

/* The process-wide registry. Registration happens on the control thread only (config load); workers read the
 * endpoint pointers they got through a published snapshot, never the registry's arrays. */
typedef struct st_sl_pool_registry_t {
    sl_pool_endpoint_t **endpoints; /* by id */
    size_t num_endpoints;
    size_t cap;
} sl_pool_registry_t;

/* Result of one pick. */
enum en_sl_pool_pick_t {
    SL_POOL_PICKED = 0, /* a slot was taken on *out */
    SL_POOL_FULL,       /* endpoints are in rotation but every one is at max_concurrency */
    SL_POOL_NONE,       /* no endpoint is in rotation */
};

#endif
