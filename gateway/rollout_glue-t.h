/*
 * rollout_glue-t.h - types of canary rollouts in the running gateway (functions: rollout_glue.h).
 *
 * Threads and ownership:
 *   sl_gw_rollouts_t   created at start, freed at stop; written by the control thread only, except each slot's
 *                      weight (control thread stores, workers load) and its rings (one producer each).
 *   sl_gw_ro_slot_t    one rollout, keyed by (route name, tier index, tier backend); never freed while the process
 *                      runs, so a worker holding an old generation still reaches a live slot.
 *   sl_gw_ro_ring_t    single-producer (one worker) single-consumer (the control thread) ring of outcomes.
 */
#ifndef SL_GATEWAY_ROLLOUT_GLUE_T_H
#define SL_GATEWAY_ROLLOUT_GLUE_T_H

#include <stdatomic.h>
#include <stdint.h>

#include "policies/canary-t.h"
#include "policies/rollout-t.h"

#define SL_GW_MAX_ROLLOUTS 32   /* rollouts a process keeps (slots are never reused for another key) */
#define SL_GW_ROLLOUT_RING 2048 /* outcomes a worker may hand over between two ticks of 100 ms, per rollout */
#define SL_GW_ROLLOUT_NONE 0xff /* gen->rollout_slot entry of a tier without a rollout */

/* One request's outcome on a tier with a rollout, as a worker hands it to the control thread. */
typedef struct st_sl_gw_ro_rec_t {
    uint8_t version;          /* en_sl_canary_version_t */
    uint16_t weight_permille; /* the weight the version was picked with (the sample-ratio test counts the step's) */
    sl_canary_outcome_t outcome;
} sl_gw_ro_rec_t;

typedef struct st_sl_gw_ro_ring_t {
    _Alignas(64) _Atomic uint64_t head; /* next record to write: the worker stores (release) */
    _Alignas(64) _Atomic uint64_t tail; /* next record to read: the control thread stores (release) */
    _Alignas(64) uint64_t dropped;      /* records lost to a full ring (worker writes, relaxed) */
    sl_gw_ro_rec_t recs[SL_GW_ROLLOUT_RING];
} sl_gw_ro_ring_t;

typedef struct st_sl_gw_ro_slot_t {
    _Atomic uint32_t weight_permille; /* the canary weight in force: control thread stores, workers load */
    /* control thread only */
    char *route, *backend, *canary; /* owned names: the key and, for labels, the canary */
    uint32_t tier;
    int configured;               /* the current generation has this rollout */
    sl_rollout_t r;               /* conf borrowed from `conf` */
    sl_conf_t *conf;              /* one reference: the config r.conf lives in, kept while the slot needs it */
    sl_canary_sample_t values[2]; /* value samples of the running interval, by version */
    sl_gw_ro_ring_t **rings;      /* [num_workers] */
    uint64_t rng;                 /* splitmix64 state: reservoir draws and merges */
    uint64_t write_failures;      /* state file writes that failed */
} sl_gw_ro_slot_t;

typedef struct st_sl_gw_rollouts_t {
    size_t num_workers;
    char *state_dir; /* owned copy of the boot config's (restart-only); NULL = nothing persisted */
    sl_gw_ro_slot_t *slots[SL_GW_MAX_ROLLOUTS];
    size_t num_slots;
} sl_gw_rollouts_t;

#endif
