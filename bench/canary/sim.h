/*
 * sim.h - simulated traffic for canary rollouts, and two controllers run on it: sluice's rollout
 * (policies/rollout.h, the real code) and Flagger's default analysis. bench_canary.c drives the scenarios.
 */
#ifndef SL_BENCH_CANARY_SIM_H
#define SL_BENCH_CANARY_SIM_H

#include <stdint.h>

#include "conf/conf-t.h"
#include "policies/canary-t.h"

/* How the canary's latency differs from stable's (stable: lognormal, median 200 ms, sigma 0.5). */
enum en_sim_latency_t {
    SIM_LAT_SAME = 0,
    SIM_LAT_P50_30,  /* every canary request 30% slower: median 260 ms */
    SIM_LAT_BIMODAL, /* 7 in 10 canary requests 100x slower */
    SIM_LAT_TAIL,    /* 7 in 100 canary requests 100x slower */
};

typedef struct st_sim_scenario_t {
    double rate;     /* requests per second to the tier */
    double p_stable; /* error rate of stable */
    double p_canary; /* error rate of the canary */
    enum en_sim_latency_t latency;
    double split_factor;   /* the router sends this many times the weight to the canary (1: a correct split) */
    uint64_t max_canary;   /* stop when the canary has served this many requests (0: no limit) */
    uint64_t max_requests; /* stop after this many requests in all (0: no limit) */
    uint64_t max_ticks;    /* hard stop (control ticks) */
    uint32_t tick_ms;      /* the control tick of sluice's rollout (Flagger's analysis runs every 60 s) */
} sim_scenario_t;

enum en_sim_end_t { SIM_PROMOTED = 0, SIM_ROLLED_BACK, SIM_STOPPED };

typedef struct st_sim_result_t {
    enum en_sim_end_t end;
    uint64_t ticks;
    uint64_t requests;     /* requests to the tier until the end */
    uint64_t canary;       /* canary requests until the end */
    int cause;             /* rolled back: en_sl_canary_kind_t of the first failing verdict; -1 otherwise */
    uint64_t srm_requests; /* requests (both versions, since the canary first had a weight) when a mismatch
                              was first flagged; 0 if never */
    uint64_t looks;        /* sequential looks (ticks in progress) plus interval analyses */
} sim_result_t;

/* Per-thread simulation state: PRNG and scratch samples. */
typedef struct st_sim_t {
    uint64_t rng;
    sl_canary_sample_t values[2]; /* the interval's value samples, by en_sl_canary_version_t */
    uint64_t seen[2];             /* requests behind them */
} sim_t;

void sim_init(sim_t *s, uint64_t seed);
void sim_dispose(sim_t *s);

/* One rollout of conf under the scenario, with sluice's rollout. */
void sim_sluice(sim_t *s, const sl_conf_rollout_t *conf, const sim_scenario_t *sc, sim_result_t *out);

/* One rollout under the scenario with Flagger's default analysis: every interval (60 s) the canary's request
 * success rate must be >= 99 % and its p99 latency <= p99_limit_ms; a failed check (or an interval without canary
 * traffic: "no values") counts one failure, 5 failures roll back; a passing interval moves to the next weight of
 * the same steps, and passing the last one promotes. */
void sim_flagger(sim_t *s, const sl_conf_rollout_t *conf, const sim_scenario_t *sc, double p99_limit_ms, sim_result_t *out);

/* The error-rate check alone with stats/msprt (the normal-approximation mSPRT) at a fixed weight, looking at every
 * tick of the scenario: canary requests until it rejects (max_canary if never). For comparison. */
uint64_t sim_msprt_delay(sim_t *s, const sim_scenario_t *sc, double weight, double alpha, double tau);

/* The p99 of stable's latency law (ms). */
double sim_stable_p99(void);

#endif
