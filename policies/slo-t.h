/*
 * slo-t.h - types of the per-route SLO policy (policies/slo.c, slo_state.c, slo_render.c): what workers observe,
 * the per-worker shards, the control thread's windows, and the immutable verdict a tick publishes.
 */
#ifndef SL_POLICIES_SLO_T_H
#define SL_POLICIES_SLO_T_H

#include <stddef.h>
#include <stdint.h>

#include "stats/slo-t.h"
#include "stats/window-t.h"

/* The objectives a route may declare; also the `objective` label of every SLO metric. */
enum en_sl_slo_objective_t {
    SL_SLO_AVAILABILITY = 0, /* good: status < 500 and not shed */
    SL_SLO_LATENCY,          /* good: latency_us <= threshold (requests that were not shed) */
    SL_SLO_TTFT,             /* good: ttft_us <= threshold (requests that sent a first token) */
    SL_SLO_NUM_OBJECTIVES
};

#define SL_SLO_NAME_MAX 64u     /* longest route name (the config allows 1 to 64 characters) */
#define SL_SLO_REASON_MAX 256u  /* room for a reset reason or a restore note */
#define SL_SLO_STATE_VERSION 1u /* payload version of the "slo" state file (policies/slo_state.c) */

/* What a worker reports about one finished request. */
typedef struct st_sl_slo_outcome_t {
    uint32_t status;     /* the final status the client received, sluice's own 429/502/503/504 included */
    int shed;            /* 1 when sluice refused the request itself (load shedding, 429 or 503 with Retry-After) */
    uint64_t latency_us; /* end to end, from the request's arrival to the last byte sent */
    int has_ttft;        /* 1 when the answer was streamed and a first token reached the client */
    uint64_t ttft_us;    /* arrival to first token, when has_ttft */
} sl_slo_outcome_t;

/* How one outcome counts: bit (1 << objective) of `counted` when the objective counts it, of `good` when good. */
typedef struct st_sl_slo_class_t {
    uint8_t counted;
    uint8_t good;
} sl_slo_class_t;

/* One objective's counters in one worker's shard. Each counted request adds 1 to exactly one of the two, so any
 * pair of loads is a consistent count (see policies/slo.c). Written by the owning worker only. */
typedef struct st_sl_slo_cell_t {
    uint64_t good;
    uint64_t bad;
} sl_slo_cell_t;

/* The SLO of one route as the tracker holds it; immutable after sl_slo_tracker_create (workers read it). */
typedef struct st_sl_slo_route_t {
    char name[SL_SLO_NAME_MAX + 1];
    uint8_t enabled; /* bit (1 << objective) per declared objective; 0 for a route without an SLO */
    uint64_t threshold_us[SL_SLO_NUM_OBJECTIVES]; /* latency and TTFT thresholds; 0 for availability */
    sl_slo_t math[SL_SLO_NUM_OBJECTIVES];         /* target and period of each enabled objective (stats/slo.h) */
} sl_slo_route_t;

/* Control-thread state of one objective of one route. */
typedef struct st_sl_slo_track_t {
    sl_window_t window;                   /* per-minute counts over max(period, 3 days); capacity 0 when disabled */
    sl_slo_cell_t harvested;              /* shard counts already added to the window, summed over workers */
    uint64_t carried_good, carried_bad;   /* counts carried over from a previous tracker (config reload) */
    int restored;                         /* 1 when the window's history came from a state file or a reload */
    char reset_reason[SL_SLO_REASON_MAX]; /* why it started empty ("" when restored) */
    char restore_note[SL_SLO_REASON_MAX]; /* what a restore changed ("" when nothing) */
} sl_slo_track_t;

/*
 * The SLO policy of one config snapshot. Fields are grouped by who writes them:
 *   immutable after create  routes, num_routes, num_workers, stride (workers read them)
 *   each worker             its own shard in cells (num_workers shards of stride cells, 64-byte aligned)
 *   control thread          tracks, ticks, last_wall_ms
 */
typedef struct st_sl_slo_tracker_t {
    sl_slo_route_t *routes; /* indexed like the config's routes */
    size_t num_routes;
    uint32_t num_workers;
    size_t stride;        /* cells per shard: num_routes x SL_SLO_NUM_OBJECTIVES rounded up to 64 bytes */
    sl_slo_cell_t *cells; /* shard w is cells + w x stride; 64-byte aligned */
    void *cells_alloc_private;

    sl_slo_track_t *tracks; /* num_routes x SL_SLO_NUM_OBJECTIVES */
    uint64_t ticks;
    uint64_t last_wall_ms;
} sl_slo_tracker_t;

/* What a tick publishes about one objective. */
typedef struct st_sl_slo_objective_verdict_t {
    int enabled;
    uint32_t target_ppb;
    uint32_t period_min;
    uint64_t threshold_us;               /* latency and TTFT; 0 for availability */
    sl_slo_report_t report;              /* period counts, budget remaining, burn rates, alert states (stats/slo.h) */
    double thresholds[SL_SLO_NUM_RULES]; /* each rule's burn-rate threshold, for display */
    uint32_t coverage_min;               /* minutes of history the window holds (at most the period) */
    uint64_t good_total;                 /* good requests counted since the process started (Prometheus counter) */
    uint64_t requests_total;             /* requests counted since the process started (Prometheus counter) */
    int restored;
    char reset_reason[SL_SLO_REASON_MAX];
    char restore_note[SL_SLO_REASON_MAX];
} sl_slo_objective_verdict_t;

typedef struct st_sl_slo_route_verdict_t {
    char name[SL_SLO_NAME_MAX + 1];
    int page;   /* some objective's page alert fires */
    int ticket; /* some objective's ticket alert fires */
    sl_slo_objective_verdict_t objectives[SL_SLO_NUM_OBJECTIVES];
} sl_slo_route_verdict_t;

/* The immutable result of one tick. Self-contained (one allocation, no borrowed pointers): it may outlive the
 * tracker and the config that made it. */
typedef struct st_sl_slo_verdict_t {
    uint64_t tick;    /* 1 for the first tick of a tracker */
    uint64_t wall_ms; /* the tick's wall clock */
    int64_t minute;   /* wall_ms / 60000: the minute counts were added to */
    size_t num_routes;
    sl_slo_route_verdict_t routes[];
} sl_slo_verdict_t;

#endif
