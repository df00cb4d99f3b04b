/*
 * rollout-t.h - types of the rollout state machine and of the per-tier rollout (functions: policies/rollout.h).
 */
#ifndef SL_POLICIES_ROLLOUT_T_H
#define SL_POLICIES_ROLLOUT_T_H

#include <stddef.h>
#include <stdint.h>

#include "conf/conf-t.h"
#include "policies/canary-t.h"

enum en_sl_rollout_phase_t {
    SL_ROLLOUT_PENDING = 0, /* declared, not started: canary weight 0 */
    SL_ROLLOUT_PROGRESSING, /* at step `step`, canary weight steps[step] */
    SL_ROLLOUT_PAUSED,      /* held by an operator at its weight; a critical failure still rolls back */
    SL_ROLLOUT_PROMOTED,    /* every step passed (or an operator promoted): the canary takes all traffic */
    SL_ROLLOUT_ROLLED_BACK, /* a regression (or an operator) sent every request back to stable: weight 0 */
    SL_ROLLOUT_PHASE_COUNT
};

/* Operator actions (the admin API). */
enum en_sl_rollout_op_t {
    SL_ROLLOUT_OP_NONE = 0,
    SL_ROLLOUT_OP_PAUSE,    /* pending or progressing -> paused */
    SL_ROLLOUT_OP_RESUME,   /* paused -> the phase it was paused from */
    SL_ROLLOUT_OP_ROLLBACK, /* any phase but rolled_back -> rolled_back */
    SL_ROLLOUT_OP_PROMOTE,  /* pending, progressing or paused -> promoted */
    SL_ROLLOUT_OP_RESTART,  /* rolled_back -> pending, as a new rollout (generation + 1) */
    SL_ROLLOUT_OP_COUNT
};

/* Why the rollout did not move forward at an analysis (or what it was). */
enum en_sl_rollout_hold_t {
    SL_ROLLOUT_HOLD_NONE = 0,
    SL_ROLLOUT_HOLD_DURATION, /* the step has not lasted a whole interval yet */
    SL_ROLLOUT_HOLD_SAMPLES,  /* fewer than min_samples canary requests at the step */
    SL_ROLLOUT_HOLD_NO_DATA,  /* a check has not enough data to judge */
    SL_ROLLOUT_HOLD_FAILING,  /* a non-critical check fails (below failure_limit intervals in a row) */
    SL_ROLLOUT_HOLD_SRM,      /* sample-ratio mismatch with srm.hold */
    SL_ROLLOUT_HOLD_BUDGET,   /* the route's error budget is exhausted */
    SL_ROLLOUT_HOLD_COUNT
};

enum en_sl_rollout_event_kind_t {
    SL_ROLLOUT_EV_START = 0, /* pending -> progressing at step 0 */
    SL_ROLLOUT_EV_ADVANCE,   /* to the next step */
    SL_ROLLOUT_EV_PROMOTE,   /* promoted (automatically after the last step, or by an operator) */
    SL_ROLLOUT_EV_ROLLBACK,  /* rolled back (a failing critical check, failure_limit, or an operator) */
    SL_ROLLOUT_EV_PAUSE,
    SL_ROLLOUT_EV_RESUME,
    SL_ROLLOUT_EV_RESTART,     /* a rolled-back rollout begins again as a new generation */
    SL_ROLLOUT_EV_HOLD,        /* an analysis held the step, for a reason other than the last one */
    SL_ROLLOUT_EV_SRM,         /* a sample-ratio mismatch was flagged at this step */
    SL_ROLLOUT_EV_NEW_CANARY,  /* the config names another canary: a new rollout */
    SL_ROLLOUT_EV_RECONFIGURE, /* the config changed the steps: the rollout moved to the matching step */
    SL_ROLLOUT_EV_RESTORED,    /* the state was read back at start */
    SL_ROLLOUT_EV_UNREADABLE,  /* the stored state could not be read: rolled back to be safe */
    SL_ROLLOUT_EV_COUNT
};

/* Who caused a transition. */
enum en_sl_rollout_cause_t { SL_ROLLOUT_BY_ANALYSIS = 0, SL_ROLLOUT_BY_OPERATOR, SL_ROLLOUT_BY_SYSTEM };

/* The state of one rollout. Plain data: persisted as it is (policies/rollout_store.c). */
typedef struct st_sl_rollout_state_t {
    uint32_t generation;        /* 1 for the first rollout of this canary, + 1 at each restart */
    uint8_t phase;              /* en_sl_rollout_phase_t */
    uint8_t paused_from;        /* the phase a pause left (pending or progressing) */
    uint8_t hold;               /* en_sl_rollout_hold_t of the last analysis */
    uint8_t srm_flagged;        /* a mismatch was flagged at the current step */
    uint32_t step;              /* index into the steps (progressing, paused) */
    uint32_t weight_permille;   /* the canary weight in force */
    uint32_t failing_intervals; /* consecutive analyses in which a non-critical check failed */
    uint64_t started_ms;        /* when this generation started (the `now` given; wall clock in the gateway) */
    uint64_t step_started_ms;   /* when the current step (or phase) began */
    uint64_t updated_ms;        /* last transition */
    uint64_t events;            /* events recorded so far; the next one gets number events + 1 */
} sl_rollout_state_t;

/* What the state machine decides on at one call. */
typedef struct st_sl_rollout_input_t {
    uint64_t now_ms;
    enum en_sl_rollout_op_t op;          /* an operator action, or NONE */
    int analysis;                        /* an interval ended: verdicts hold every enabled check */
    const sl_canary_verdict_t *verdicts; /* borrowed; any number, in any order */
    size_t num_verdicts;
    uint64_t step_canary_requests; /* canary requests at the current step */
    int budget_exhausted;          /* the route's error budget is spent (the SLO policy) */
} sl_rollout_input_t;

#define SL_ROLLOUT_MAX_EVIDENCE SL_CANARY_K_COUNT

/* One decision with its evidence. Plain data: persisted in the history. */
typedef struct st_sl_rollout_event_t {
    uint64_t seq;   /* 1, 2, 3, ... over the life of the rollout (across generations) */
    uint64_t at_ms; /* the input's now */
    uint8_t kind;   /* en_sl_rollout_event_kind_t */
    uint8_t cause;  /* en_sl_rollout_cause_t */
    uint8_t from_phase, to_phase;
    uint8_t hold; /* HOLD: the reason */
    uint8_t num_evidence;
    uint16_t reserved;
    uint32_t generation;
    uint32_t from_step, to_step;
    uint32_t from_weight, to_weight;                       /* permille */
    sl_canary_verdict_t evidence[SL_ROLLOUT_MAX_EVIDENCE]; /* the verdicts that decided (rollback: the failing ones
                                                              first), or the analysis's verdicts */
} sl_rollout_event_t;

/* The last SL_ROLLOUT_HISTORY events, oldest first. Plain data. */
#define SL_ROLLOUT_HISTORY 32
typedef struct st_sl_rollout_history_t {
    uint32_t count; /* events held (at most SL_ROLLOUT_HISTORY) */
    uint32_t head;  /* slot of the oldest */
    sl_rollout_event_t events[SL_ROLLOUT_HISTORY];
} sl_rollout_history_t;

/* The rollout of one tier: config, state, history, analysis. Caller-owned (sl_rollout_init / dispose); control
 * thread. The data plane reads only the weight, through the verdict snapshot the control thread publishes. */
typedef struct st_sl_rollout_t {
    const sl_conf_rollout_t *conf; /* borrowed from the current config snapshot */
    sl_rollout_state_t state;
    sl_rollout_history_t history;
    sl_canary_t analysis;
    uint64_t next_analysis_ms; /* the end of the current interval */
    size_t num_last;
    sl_canary_verdict_t last[SL_CANARY_K_COUNT]; /* the latest verdict of each check (for /admin/state) */
    int dirty;                                   /* the state changed since it was last written */
    /* counters for /metrics since the process started */
    uint64_t rollbacks_total;
    uint64_t verdicts_total[SL_CANARY_K_COUNT][3]; /* by verdict kind and en_sl_canary_outcome_kind_t */
} sl_rollout_t;

#endif
