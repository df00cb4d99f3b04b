/*
 * plan-t.h - the per-request plan of a cascade and the judge's verdicts (functions: plan.h).
 */
#ifndef SL_ROUTER_PLAN_T_H
#define SL_ROUTER_PLAN_T_H

#include <stddef.h>
#include <stdint.h>

#include "backends/adapter-t.h"
#include "conf/conf-t.h"

/* How an attempt's answer travels. */
enum en_sl_plan_mode_t {
    SL_PLAN_BUFFERED = 0,    /* not a stream: the whole answer is read, judged, then sent or escalated */
    SL_PLAN_STREAM_BUFFERED, /* a stream held back to its end (buffer_streams), judged, then replayed or escalated */
    SL_PLAN_STREAMED,        /* a stream passed through as it arrives: final once a byte reached the client */
};

/* Accuracy scaling and progressive delivery choose these per step; until they exist every step is ACCURATE and
 * STABLE and calls the tier's own backend. */
enum en_sl_plan_variant_t { SL_PLAN_VARIANT_ACCURATE = 0, SL_PLAN_VARIANT_DEGRADED };
enum en_sl_plan_version_t { SL_PLAN_VERSION_STABLE = 0, SL_PLAN_VERSION_CANARY };

/* One attempt to make. Pointers are borrowed from the config snapshot the plan was made from. */
typedef struct st_sl_plan_step_t {
    const sl_conf_tier_t *tier;
    const sl_conf_backend_t *backend; /* the backend to call (the tier's, until variant/version pick another) */
    uint32_t latency_budget_ms;       /* arm this timer for the attempt; 0 = none (always 0 on the last step) */
    uint8_t tier_index;               /* position of the tier in route->tiers */
    uint8_t mode;                     /* en_sl_plan_mode_t */
    uint8_t variant;                  /* en_sl_plan_variant_t */
    uint8_t version;                  /* en_sl_plan_version_t */
    uint8_t judged;                   /* the accept rule decides this step (has a rule, not last, not streamed):
                                         extract its signal (and ask upstream for the logprobs it needs) */
} sl_plan_step_t;

/* A tier that skip_when left out, and the condition that held. */
typedef struct st_sl_plan_skip_t {
    const sl_conf_cond_t *cond; /* borrowed from the tier */
    uint8_t tier_index;
    uint8_t cond_index;
} sl_plan_skip_t;

typedef struct st_sl_plan_t {
    const sl_conf_route_t *route;
    uint64_t draw;                           /* the random draw the plan was made with (variant, version) */
    int stream;                              /* the client asked for a stream */
    size_t num_steps;                        /* >= 1 */
    sl_plan_step_t steps[SL_CONF_MAX_TIERS]; /* in the order to try */
    size_t num_skipped;
    sl_plan_skip_t skipped[SL_CONF_MAX_TIERS]; /* in route order */
} sl_plan_t;

enum en_sl_verdict_t {
    SL_VERDICT_ACCEPT = 0, /* send this answer to the client (or keep streaming it) */
    SL_VERDICT_ESCALATE,   /* drop this attempt, go to the next step */
    SL_VERDICT_FAIL,       /* answer the client with an error for judge.failure (the gateway's status mapping) */
};

enum en_sl_reason_t {
    SL_REASON_CONFIDENT = 0,     /* accept: the signal met the accept rule */
    SL_REASON_NO_RULE,           /* accept: the tier has no accept rule */
    SL_REASON_LAST_TIER,         /* accept: the last step's answer is always returned */
    SL_REASON_STREAMED,          /* accept: a stream passed through cannot be judged */
    SL_REASON_LOW_CONFIDENCE,    /* escalate: the signal is outside the accept bounds */
    SL_REASON_MISSING_SIGNAL,    /* escalate: the answer has no such signal */
    SL_REASON_UNPARSABLE_SIGNAL, /* escalate: the signal is there but not a usable number */
    SL_REASON_LATENCY_BUDGET,    /* escalate: the step's latency budget ran out before the answer */
    SL_REASON_FAILURE,           /* escalate or fail: an upstream failure; the kind is in judge.failure */
    SL_REASON_STREAM_STARTED,    /* fail: a stream failed after bytes reached the client; the kind in .failure */
    SL_REASON_COUNT
};

/* What happened to one attempt. */
typedef struct st_sl_judge_input_t {
    enum en_sl_failure_t failure; /* SL_FAILURE_NONE when an answer arrived (any HTTP status below 500) */
    const sl_signal_t *signal;    /* the step's accept signal on that answer; NULL = not extracted (missing) */
    int budget_expired;           /* the step's latency budget timer fired first */
    int client_bytes_sent;        /* bytes of this attempt already reached the client (STREAMED steps) */
} sl_judge_input_t;

typedef struct st_sl_judge_t {
    enum en_sl_verdict_t verdict;
    enum en_sl_reason_t reason;
    enum en_sl_failure_t failure; /* the failure judged (reasons FAILURE and STREAM_STARTED), else NONE */
} sl_judge_t;

#endif
