/*
 * slo_glue-t.h - types of the gateway's SLO tracking and accuracy scaling (gateway/slo_glue.c, degrade_glue.c,
 * state_admin.c): what a generation carries for them, and the control thread's state that outlives generations.
 *
 * Threads and ownership (fields grouped by the thread that writes them):
 *   sl_gw_slo_gen_t   built by the control thread with its generation (gen->slo) and owned by the control thread,
 *                     not by the generation: it outlives the generation until the control thread has collected
 *                     its last counts. Workers observe into its shards (one writer per shard) and read the degrade
 *                     fractions (relaxed atomics the control thread stores every tick). The generation's dispose,
 *                     on any thread, only sets `released`.
 *   sl_gw_slo_t       gw->slo: the control thread's, for the life of the process (after sl_gw_slo_start).
 */
#ifndef SL_GATEWAY_SLO_GLUE_T_H
#define SL_GATEWAY_SLO_GLUE_T_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/str.h"
#include "policies/degrade-t.h"
#include "policies/persist-t.h"
#include "policies/slo-t.h"
#include "stats/hist-t.h"

/* Why sluice refused a request itself (the `reason` label of sluice_shed_total). */
enum en_sl_gw_shed_t {
    SL_GW_SHED_SATURATED = 0, /* 429: every variant of a degrade tier at max_concurrency */
    SL_GW_SHED_OVERLOADED,    /* 503: every endpoint at max_concurrency and the queue full or timed out */
    SL_GW_SHED_NUM
};

#define SL_GW_DEGRADE_SLOTS 60u        /* the p99 window of a degrade tier is kept in at most this many slots */
#define SL_GW_DEGRADE_SLOT_MIN_MS 100u /* ... each at least one control tick long */
#define SL_GW_DEGRADE_SAMPLES 10u      /* saturation is the mean of the in-flight samples of the last 10 ticks (1 s) */

/* One degrade tier's counters in one worker's shard. Written by that worker only (relaxed load + store). */
typedef struct st_sl_gw_dtier_shard_t {
    sl_hist_t latency;   /* requests the accurate variant served: tier start -> end of the request, microseconds */
    uint64_t routed[2];  /* requests routed to the accurate variant [0] and to a faster variant [1] */
    uint64_t spillovers; /* of which went past their first choice because it was at max_concurrency */
} sl_gw_dtier_shard_t;

/*
 * The SLO and accuracy-scaling part of one generation.
 * Worker w's shard is shards + w x stride: num_dtiers sl_gw_dtier_shard_t, then num_routes x SL_GW_SHED_NUM shed
 * counters; stride is a multiple of 64 and shards is 64-byte aligned, so no two workers write one cache line.
 */
typedef struct st_sl_gw_slo_gen_t {
    /* immutable once attached (workers read) */
    sl_slo_tracker_t *tracker; /* the SLO policy of this generation's config (policies/slo.h) */
    size_t num_routes;
    uint32_t *tier_base; /* [num_routes]: index of the route's first tier in dtier_of */
    int32_t *dtier_of;   /* [tiers of all routes]: index among the degrade tiers, -1 for a tier without degrade */
    size_t num_dtiers;
    size_t num_workers;
    size_t stride;
    char *shards;
    void *shards_raw;
    /* written by the control thread every tick, read by workers with relaxed loads */
    _Atomic uint32_t *fraction_permille; /* [num_dtiers]: the degrade fraction in force */
    /* any thread: set (release) when the generation is disposed; nobody observes into the shards any more */
    _Atomic int released;
    /* control thread */
    uint32_t *dstate;   /* [num_dtiers]: the controller state of each degrade tier (index in gw->slo->dtiers) */
    uint32_t *route_id; /* [num_routes]: the route's totals (index in gw->slo->routes) */
    sl_hist_t *seen;    /* [num_dtiers]: latency already pushed into the controller's window (summed shards) */
    struct st_sl_gw_slo_gen_t *next;
} sl_gw_slo_gen_t;

/* One degrade tier, for the life of the process: found again by (route name, tier index) after a reload, so the
 * fraction, its history and the counters continue. Control thread only. */
typedef struct st_sl_gw_dtier_t {
    char *route; /* owned */
    uint32_t tier;
    char *backend;  /* owned: the accurate backend's name as last configured */
    int configured; /* the published generation has a degrade block on this tier (set again every control tick) */
    sl_degrade_state_t state;
    uint32_t inflight[SL_GW_DEGRADE_SAMPLES]; /* the accurate backend's in-flight requests at the last ticks */
    uint32_t num_samples, next_sample;
    uint32_t capacity;          /* max_concurrency x endpoints of the accurate backend at the last step; 0 = unknown */
    sl_degrade_input_t input;   /* the last step's measurements (in_flight and capacity summed over the samples) */
    sl_degrade_decision_t last; /* the last step's decision */
    int has_change;
    uint64_t change_wall_ms;      /* when the fraction last changed */
    sl_degrade_decision_t change; /* ... and why, with the evidence */
    uint64_t changes[SL_DEGRADE_NUM_CAUSES];
    sl_hist_ring_t ring; /* the accurate variant's latency over latency_window */
    uint32_t slot_ms, window_ms;
    uint64_t gone_routed[2], gone_spillovers; /* counts of generations already freed */
} sl_gw_dtier_t;

/* Counters of one route name that outlive generations. Control thread only. */
typedef struct st_sl_gw_route_totals_t {
    char *name; /* owned */
    uint64_t gone_shed[SL_GW_SHED_NUM];
} sl_gw_route_totals_t;

/* gw->slo. Control thread only (and the main thread before start and after stop). */
typedef struct st_sl_gw_slo_t {
    sl_gw_slo_gen_t *gens;             /* every generation's part not yet freed, newest (the published one) first */
    sl_slo_verdict_t *verdict;         /* the latest SLO verdict (owned) */
    const sl_gw_slo_gen_t *verdict_of; /* the part whose tracker made it: a published successor ticks at once */
    unsigned ticks;
    int persist_on; /* state_dir is set */
    sl_persist_t persist;
    sl_buf_t scratch;
    sl_gw_dtier_t *dtiers;
    size_t num_dtiers, cap_dtiers;
    sl_gw_route_totals_t *routes;
    size_t num_routes, cap_routes;
    sl_hist_t sum, delta; /* scratch of the latency harvest */
} sl_gw_slo_t;

#endif
