/*
 * cascade-t.h - the cascade state of one proxied request (functions: cascade.h): its facts and plan, every attempt
 * made tier by tier with the signal it gave and what the judge said of it, the cost, the timers of the latency
 * budget and of the next step, and the relay that strips a passing stream of what the client did not ask for
 * and decodes it for the route's monitor.
 *
 * It lives inside sl_proxy_t (req->pool) and is written by the worker that serves the request only.
 */
#ifndef SL_GATEWAY_CASCADE_T_H
#define SL_GATEWAY_CASCADE_T_H

#include <h2o.h>
#include <stdint.h>

#include "backends/adapter-t.h"
#include "router/facts-t.h"
#include "router/plan-t.h"

#define SL_CASCADE_PENDING 0xff           /* sl_cascade_try_t.verdict while the attempt runs */
#define SL_CASCADE_NO_SIGNAL 0xff         /* sl_cascade_try_t.signal_state when no signal was extracted */
#define SL_CASCADE_MAX_EVENT (64u * 1024) /* longest SSE event the relay waits for; beyond, it passes bytes raw */
#define SL_CASCADE_SCRATCH 2048           /* per-event scratch memory of the relay (the request's pool beyond it) */
#define SL_CASCADE_COST_MAX 32            /* bytes of a formatted cost, NUL included: "18446744073.709551615" */
#define SL_CASCADE_NANOS 1000000000.0     /* costs are counted in 10^-9 of the configured currency unit */

/* One attempt of the plan: a step that was started. */
typedef struct st_sl_cascade_try_t {
    const sl_conf_backend_t *backend; /* borrowed from the pinned generation's config */
    double signal;                    /* the accept signal, when signal_state is SL_SIGNAL_VALUE */
    uint64_t tokens_in, tokens_out;   /* from the answer's usage (has_usage) */
    uint64_t cost_nanos;              /* what this attempt cost (final once closed) */
    uint8_t tier;                     /* index of the tier in the route */
    uint8_t verdict;                  /* en_sl_verdict_t, SL_CASCADE_PENDING while the attempt runs */
    uint8_t reason;                   /* en_sl_reason_t of the verdict */
    uint8_t failure;                  /* en_sl_failure_t judged (reasons failure and stream_started) */
    uint8_t signal_state;             /* en_sl_signal_state_t, or SL_CASCADE_NO_SIGNAL when not judged */
    uint8_t has_usage;
    uint8_t charged; /* an answer arrived (a head with status below 500): its price applies */
    uint8_t closed;  /* tokens and cost are final */
} sl_cascade_try_t;

/* Bump allocator over a fixed buffer, reset for every SSE event, with a fallback allocator once it is full. */
typedef struct st_sl_cascade_scratch_t {
    char *mem;
    size_t cap, used;
    sl_adapter_alloc_t fallback;
} sl_cascade_scratch_t;

/* A passing stream's events decoded as they are relayed, for the route's monitored prediction (a tier signal). */
typedef struct st_sl_cascade_watch_t {
    sl_adapter_stream_t state; /* the adapter's fixed-size stream state: a long stream does not grow it */
    uint8_t malformed;         /* an event was not the protocol's: the prediction is invalid */
    uint8_t ended;             /* the upstream ended the stream cleanly and every event was decoded */
} sl_cascade_watch_t;

typedef struct st_sl_cascade_t {
    sl_facts_t facts; /* HTTP facts and what the route's adapter found in the body (inspect) */
    sl_plan_t plan;
    size_t step; /* the step running or last run (index in plan.steps) */
    sl_cascade_try_t tries[SL_CONF_MAX_TIERS];
    size_t num_tries;
    uint64_t cost_nanos;          /* sum over the closed tries */
    uint64_t deadline_us;         /* the request's total deadline (monotonic); 0 = none */
    h2o_timeout_entry_t budget;   /* the running step's latency budget */
    h2o_timeout_entry_t next;     /* starts the next step from the loop, after the last attempt's callback returned */
    h2o_timeout_entry_t deadline; /* the request's total deadline (plans of several steps) */
    h2o_buffer_t *relay;          /* a passing stream's filtered bytes waiting for the client (relay_on) */
    sl_cascade_watch_t *watch;    /* from the pool when a passing stream of a monitored signal is relayed, else NULL */
    unsigned planned : 1;         /* the plan exists: everything below applies */
    unsigned asked_logprobs : 1;  /* the running step asked upstream for logprobs the client did not ask for */
    unsigned asked_usage : 1;     /* ... and for the usage chunk of a stream the client did not ask for */
    unsigned relay_on : 1;        /* a passing stream goes through the relay */
    unsigned relay_raw : 1;       /* an event outgrew SL_CASCADE_MAX_EVENT: the rest passes unfiltered */
    unsigned reads_answer : 1;    /* the running step's answer is read (judged, held, stripped): asked uncompressed */
    unsigned ended : 1;           /* sl_cascade_end ran */
    sl_cascade_scratch_t scratch; /* SL_CASCADE_SCRATCH bytes from the pool once a stream is held or relayed */
} sl_cascade_t;

#endif
