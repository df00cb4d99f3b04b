/*
 * proxy-t.h - the state of one proxied request (sl_proxy_t), shared by the proxy's files.
 *
 * One client request runs one or more upstream attempts in sequence: a retry on a fresh connection when a reused
 * keep-alive connection failed before answering, and (with the cascade) the next tier after a failure. Each attempt
 * is either streamed (the answer goes to the client as it arrives; once the head is sent nothing else can be tried)
 * or buffered (the whole answer is held back, then sent or dropped for the next attempt). The struct lives in
 * req->pool (h2o_mem_alloc_shared) and its dispose hook cancels whatever is still running.
 *
 * Phases of an attempt (p->phase): QUEUED (waiting for a free slot), CONNECTING, WAITING_HEAD, BODY, then DONE
 * once the upstream side is over (the client may still be receiving the tail of a stream).
 */
#ifndef SL_GATEWAY_PROXY_T_H
#define SL_GATEWAY_PROXY_T_H

#include <h2o.h>

#include "common/json_scan.h"
#include "gateway/cascade-t.h"
#include "gateway/gw-t.h"
#include "gateway/usage.h"

enum en_sl_proxy_phase_t {
    SL_PROXY_IDLE = 0,
    SL_PROXY_QUEUED,
    SL_PROXY_CONNECTING,
    SL_PROXY_WAITING_HEAD,
    SL_PROXY_BODY,
    SL_PROXY_DONE,
};

enum en_sl_proxy_mode_t {
    SL_PROXY_STREAM = 0, /* pass the answer through as it arrives */
    SL_PROXY_BUFFER,     /* hold the whole answer, then decide */
};

#define SL_PROXY_MAX_BODY_PIECES SL_JSON_EDIT_PIECES(4) /* the most an adapter's encode writes (openai: 4 edits) */

typedef struct st_sl_proxy_t {
    h2o_generator_t super; /* the response generator while an answer streams */
    h2o_req_t *req;
    sl_gw_worker_t *w;
    sl_gw_gen_t *gen; /* pinned for the whole request */
    const sl_gw_route_rt_t *route;
    size_t tier; /* tier being tried */
    const sl_gw_backend_rt_t *backend;
    sl_pool_endpoint_t *endpoint; /* the endpoint of the current attempt (a slot is held while `holds_slot`) */
    /* the client's request, as the upstream will get it */
    const char *body; /* the client's body (req->entity) */
    size_t body_len;
    sl_json_span_t root; /* the body's root when it was parsed (type INVALID otherwise) */
    h2o_iovec_t model;   /* the client's "model" (bytes inside the body), base NULL when none */
    int body_read;       /* the body went through sl_proxy_parse_body() */
    const sl_adapter_t *facts_by;    /* the adapter whose facts body_facts holds; NULL = none */
    sl_adapter_request_t body_facts; /* what that adapter read in the body (sl_proxy_parse_body) */
    h2o_iovec_t request_id;
    h2o_iovec_t reqbufs[1 + SL_PROXY_MAX_BODY_PIECES]; /* head, then body pieces; rebuilt for each backend */
    size_t num_reqbufs;
    const sl_gw_backend_rt_t *reqbufs_for; /* the backend reqbufs were built for */
    int is_head;
    /* the current attempt */
    enum en_sl_proxy_phase_t phase;
    enum en_sl_proxy_mode_t mode;
    sl_upclient_t *client;           /* non-NULL while the upstream exchange runs */
    h2o_timeout_entry_t timer;       /* the phase's deadline: queue, connect, first byte or idle */
    h2o_timeout_entry_t total_timer; /* the attempt's total deadline */
    h2o_linklist_t waiter;           /* in w->waiters while QUEUED */
    uint32_t idle_ms;                /* idle deadline of the body phase (stream_idle for streams) */
    unsigned attempts;               /* attempts started */
    unsigned holds_slot : 1;         /* an in-flight slot on `endpoint` is held */
    unsigned reused : 1;             /* the attempt runs on a pooled keep-alive connection */
    unsigned fresh_retry_done : 1;   /* the one retry on a fresh connection was used */
    unsigned got_bytes : 1;          /* the attempt received some response byte */
    unsigned responded : 1;          /* h2o_start_response was called */
    unsigned finished : 1;           /* the final h2o_send was made */
    unsigned paused : 1;             /* upstream reads are paused (backpressure) */
    unsigned upstream_done : 1;      /* the upstream side of the streamed answer ended */
    unsigned upstream_error : 1;     /* ... and it ended broken */
    unsigned is_stream : 1;          /* the answer is a stream (SSE or chunked without length) */
    unsigned disposed : 1;
    unsigned in_client_cb : 1; /* inside one of the upstream client's callbacks */
    unsigned cancel_in_cb : 1; /* the request went away during such a callback: it returns NULL / -1 */
    size_t input_seen;         /* bytes of the client's socket buffer already timed and scanned */
    /* streaming to the client */
    h2o_doublebuffer_t sending;
    h2o_buffer_t *tail; /* bytes the upstream delivered after its client was released */
    /* a buffered answer */
    int up_status;
    const char *up_reason;
    h2o_headers_t up_headers;
    h2o_buffer_t *held;
    /* outcome, for metrics and the access log */
    enum en_sl_failure_t failure;
    int status;                   /* what the client got (499 when it went away) */
    char tiers_tried[3 * 16 + 1]; /* "0", "0,1", ... */
    uint64_t t_recv_us, t_end_us, t_dispatch_us, t_attempt_us, t_head_us, t_first_byte_us, t_last_chunk_us, t_up_end_us;
    uint64_t overhead_us;
    uint64_t bytes_out;
    /* the client connection read ahead while the request runs (read_ahead.c) */
    h2o_socket_t *client_sock;
    h2o_buffer_t *client_held; /* the request's input buffer, given back when the request ends */

    sl_gw_usage_t usage; /* of the current attempt (reset when the cascade moves on) */
    sl_cascade_t cas;    /* facts, plan, attempts, cost (gateway/cascade.h) */
    /* accuracy scaling and SLO (degrade_glue.c): set when the current tier starts */
    uint32_t dtier;     /* 1 + index of the tier among its generation's degrade tiers; 0 = a tier without degrade */
    uint8_t variant;    /* en_sl_plan_variant_t the tier's request went to */
    unsigned shed : 1;  /* sluice shed the request itself: every variant of the tier at max_concurrency (429) */
    uint64_t t_tier_us; /* when the degrade tier started (its accurate variant's latency is measured from here) */
    /* canary rollouts (rollout_glue.c): every tier with a rollout the request started, in order */
    uint8_t num_ro;
    struct st_sl_proxy_ro_t {
        uint8_t slot;             /* the rollout's slot */
        uint8_t tier;             /* the tier with the rollout */
        uint8_t version;          /* en_sl_canary_version_t it went to */
        uint16_t weight_permille; /* the weight it was picked with */
    } ro[SL_CONF_MAX_TIERS];
    uint64_t t_ro_us; /* when the last of them started */
    /* model monitoring (monitor_observe.c) */
    uint8_t mon_observed; /* the request was handed to its route's monitor */
} sl_proxy_t;

#endif
