/*
 * degrade-t.h - types of the accuracy-scaling controller (policies/degrade.c).
 */
#ifndef SL_POLICIES_DEGRADE_T_H
#define SL_POLICIES_DEGRADE_T_H

#include <stdint.h>

/* Why the degrade fraction changed (a metric label: sluice_degrade_changes_total{cause}). */
enum en_sl_degrade_cause_t {
    SL_DEGRADE_NONE = 0,   /* no change */
    SL_DEGRADE_SATURATION, /* stepped up: saturation reached saturation_high */
    SL_DEGRADE_LATENCY,    /* stepped up: the p99 reached latency_high of the SLO threshold */
    SL_DEGRADE_FAST_BURN,  /* stepped up: a signal crossed a high threshold only because a fast burn lowered it */
    SL_DEGRADE_RECOVERED,  /* stepped down: both signals stayed low for `hold` */
    SL_DEGRADE_NUM_CAUSES
};

/* The controller's memory between two steps; zero-filled is the initial state (fraction 0, free to change). */
typedef struct st_sl_degrade_state_t {
    uint32_t fraction_permille; /* share of the tier's requests sent to the faster variants, 0 .. 1000 */
    uint64_t next_change_ms;    /* no change before this monotonic time (the `interval` after the last one) */
    int relief;                 /* 1 when the last step saw relief (both signals low, no fast burn) */
    uint64_t relief_since_ms;   /* start of that unbroken run of relief */
} sl_degrade_state_t;

/* What the control thread measured for one tier at one step. */
typedef struct st_sl_degrade_input_t {
    uint64_t now_ms;       /* monotonic */
    uint32_t in_flight;    /* requests in flight on the accurate backend, over all its endpoints */
    uint32_t capacity;     /* max_concurrency x endpoints of the accurate backend; 0 = no saturation signal */
    int has_p99;           /* 0 when the latency window holds no request */
    uint64_t p99_us;       /* windowed p99 latency of the accurate backend */
    uint64_t threshold_us; /* the route's latency SLO threshold; 0 = no latency signal */
    int fast_burn;         /* the route burns an error budget fast (a page alert, sl_slo_verdict_fast_burn) */
} sl_degrade_input_t;

/* What one step decided and saw: the cause of a change, and the evidence for an event or /admin/state. */
typedef struct st_sl_degrade_decision_t {
    enum en_sl_degrade_cause_t cause;
    uint32_t from_permille, to_permille;
    int has_saturation;                /* capacity was known */
    uint32_t saturation_permille;      /* in_flight x 1000 / capacity, rounded down (may exceed 1000) */
    int has_latency;                   /* a p99 and a threshold were known */
    uint64_t latency_permille;         /* p99 x 1000 / threshold, rounded down */
    uint32_t saturation_high_permille; /* the high thresholds in force (lowered during a fast burn) */
    uint32_t latency_high_permille;
    int pressure; /* some signal at or above its high threshold */
    int relief;   /* every signal at or below its low threshold, and no fast burn */
} sl_degrade_decision_t;

#endif
