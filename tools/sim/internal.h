/*
 * internal.h - what the simulator's files share and nobody else uses: the sim object, its per-worker state, the
 * request-scoped output buffer and the answer renderers.
 *
 * Threads: sl_sim_t is created and destroyed by the controlling thread; `current` is read by every worker (one
 * atomic load per loop iteration) and replaced under config_shared.mutex by whoever applies a configuration. A
 * sl_sim_worker_t is written only by its own worker; its stats are read by any worker answering GET /sim/stats.
 */
#ifndef SL_TOOLS_SIM_INTERNAL_H
#define SL_TOOLS_SIM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <h2o.h>

#include "gateway/server.h"
#include "tools/sim/model.h"
#include "tools/sim/sim.h"
#include "tools/sim/timer.h"

/* An immutable parameter snapshot. Workers borrow it between two loop iterations only: a request copies or renders
 * what it needs at arrival, so no request holds a snapshot across iterations. */
typedef struct st_sl_sim_snap_t sl_sim_snap_t;
struct st_sl_sim_snap_t {
    sl_sim_params_t p;
    uint64_t gen;
    sl_sim_snap_t *next_retired;
};

enum en_sl_sim_stat_t {
    SL_SIM_ST_REQUESTS = 0,
    SL_SIM_ST_S200, SL_SIM_ST_S400, SL_SIM_ST_S404, SL_SIM_ST_S405, SL_SIM_ST_S413, SL_SIM_ST_S429, SL_SIM_ST_S500,
    SL_SIM_ST_S503, SL_SIM_ST_SOTHER,
    SL_SIM_ST_F_ERROR, SL_SIM_ST_F_HANG, SL_SIM_ST_F_RESET, SL_SIM_ST_F_MALFORMED, SL_SIM_ST_F_SLOW,
    SL_SIM_ST_REJECTED, /* queue full */
    SL_SIM_ST_ANSWERS, SL_SIM_ST_CORRECT, SL_SIM_ST_INCORRECT, SL_SIM_ST_DRIFTED,
    SL_SIM_ST_PROMPT_TOKENS, SL_SIM_ST_COMPLETION_TOKENS,
    SL_SIM_ST_QUEUED_NOW, SL_SIM_ST_ACTIVE_NOW, SL_SIM_ST_HUNG_NOW,
    SL_SIM_ST_COUNT
};

typedef struct st_sl_sim_worker_t {
    /* written by this worker only; read by others through atomics (stats, seen_gen) */
    _Atomic uint64_t stats[SL_SIM_ST_COUNT]; /* each worker's struct is its own allocation of several cache lines */
    _Atomic uint64_t seen_gen; /* generation of the snapshot this worker may still be using */
    sl_sim_t *sim;
    sl_worker_t *w;
    const sl_sim_snap_t *snap; /* borrowed, refreshed before every loop iteration */
    sl_sim_rng_t rng;
    sl_sim_timers_t timers;
    h2o_linklist_t queue;      /* sl_sim_req_t waiting for a slot, FIFO */
    h2o_linklist_t hung;       /* sl_sim_req_t never to be answered (until stop) */
    uint32_t active;           /* answers holding a slot */
    h2o_timeout_entry_t pump;  /* deferred start of queued requests (ctx->zero_timeout) */
    int stopping;
    int torn_down;             /* this worker's timers were disposed after a clean drain */
} sl_sim_worker_t;

struct st_sl_sim_t {
    sl_server_t server;
    h2o_globalconf_t h2o;
    sl_conf_addr_t listen;
    _Atomic(sl_sim_snap_t *) current;
    struct {
        pthread_mutex_t mutex; /* serialises writers of `current` (configuration changes); never taken by a reader */
        sl_sim_snap_t *retired; /* replaced snapshots not yet known to be unused */
        uint64_t gen;
    } config_shared;
    char fingerprint[24];
    uint64_t started_unix;
};

/* A single-writer counter bump: a plain load and store, no locked instruction. */
static inline void sl_sim_stat_add(sl_sim_worker_t *sw, int which, uint64_t n)
{
    atomic_store_explicit(&sw->stats[which], atomic_load_explicit(&sw->stats[which], memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static inline sl_sim_worker_t *sl_sim_worker_of(h2o_req_t *req)
{
    return sl_worker_of(req->conn->ctx)->data;
}

/* A growable output buffer in a request's pool (no heap allocation). */
typedef struct st_sl_sim_out_t {
    h2o_mem_pool_t *pool;
    char *buf;
    size_t len, cap;
} sl_sim_out_t;

void sl_sim_out_init(sl_sim_out_t *o, h2o_mem_pool_t *pool, size_t cap);
void sl_sim_out_append(sl_sim_out_t *o, const char *s, size_t n);
void sl_sim_out_printf(sl_sim_out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as the body of a JSON string (quotes, backslashes and control characters escaped). */
void sl_sim_out_append_escaped(sl_sim_out_t *o, const char *s, size_t n);
#define sl_sim_out_lit(o, s) sl_sim_out_append((o), (s), sizeof(s) - 1)

enum en_sl_sim_kind_t { SL_SIM_KIND_CHAT = 0, SL_SIM_KIND_COMPLETION, SL_SIM_KIND_KSERVE };

/* What a renderer needs to know about one answer. */
typedef struct st_sl_sim_answer_t {
    int kind;
    int stream, include_usage;
    int logprobs;          /* logprobs asked for */
    uint32_t top_logprobs; /* alternatives per token (0..20) */
    uint32_t prompt_tokens;
    int is_classify;
    const sl_sim_params_t *p;
    const sl_sim_draw_t *draws; /* one per row (kserve), else one */
    uint32_t rows;
    h2o_iovec_t request_id;     /* kserve: the request's "id" (may be empty) */
    uint64_t created;           /* unix seconds */
    const char *fingerprint;
    sl_sim_rng_t rng;           /* the answer's own generator: ids and words */
} sl_sim_answer_t;

/* The rendered bytes of an answer. For a stream, seg_end[i] is the end offset of what token i's arrival sends (the
 * role chunk and the first token for i = 0; the finish chunk, usage chunk and [DONE] for the last token) and
 * role_end the end of the role chunk. */
typedef struct st_sl_sim_rendered_t {
    h2o_iovec_t body;
    size_t *seg_end;
    size_t role_end;
    uint32_t tokens;
} sl_sim_rendered_t;

/* Renders an OpenAI chat or completion answer (JSON or SSE), into pool memory. malformed: the JSON is cut (non-stream:
 * the body is cut in half; stream: the first content chunk is cut in half). */
void sl_sim_render_openai(sl_sim_answer_t *a, int malformed, h2o_mem_pool_t *pool, sl_sim_rendered_t *out);
/* Renders a KServe v2 infer answer. */
void sl_sim_render_kserve(sl_sim_answer_t *a, int malformed, h2o_mem_pool_t *pool, sl_sim_rendered_t *out);

/* A request's facts, parsed from its body (parse.c). */
typedef struct st_sl_sim_request_t {
    int kind;
    int stream, include_usage, logprobs;
    uint32_t top_logprobs, max_tokens;
    uint32_t rows;            /* 1, or the rows of a KServe input */
    sl_sim_facts_t *facts;    /* one per row, in the pool */
    h2o_iovec_t request_id;   /* KServe "id", in the pool */
} sl_sim_request_t;

/* A protocol error to send: status and the fields of the protocol's error shape (strings static or in the pool). */
typedef struct st_sl_sim_error_t {
    int status;
    const char *message, *type, *param, *code;
} sl_sim_error_t;

/* Parses an OpenAI chat (SL_SIM_KIND_CHAT) or completion request body. Returns SL_OK, or SL_EINVAL with *err set. */
int sl_sim_parse_openai(h2o_req_t *req, int kind, const sl_sim_params_t *p, sl_sim_request_t *out, sl_sim_error_t *err);
/* Parses a KServe v2 infer request body. Returns SL_OK, or SL_EINVAL with *err set. */
int sl_sim_parse_kserve(h2o_req_t *req, const sl_sim_params_t *p, sl_sim_request_t *out, sl_sim_error_t *err);

/* Answers GET /sim/config, POST /sim/config and GET /sim/stats (sim.c). */
int sl_sim_on_control(sl_sim_t *sim, h2o_req_t *req);
/* Sends a JSON body with the given status (content-length set, copied into the pool). */
void sl_sim_send_json(h2o_req_t *req, int status, const char *reason, const char *body, size_t len);
/* Counts a response status in the worker's stats. */
void sl_sim_count_status(sl_sim_worker_t *sw, int status);

/* serve.c: the h2o handler entry point and the per-worker hooks. */
int sl_sim_on_req(sl_sim_t *sim, h2o_req_t *req);
void sl_sim_worker_start(sl_sim_worker_t *sw);
/* Called before every loop iteration: refreshes the snapshot, starts queued requests if slots were added, and on
 * shutdown answers hung requests with 503. */
void sl_sim_worker_refresh(sl_sim_worker_t *sw);
/* Requests still to be answered (active + queued). */
size_t sl_sim_worker_pending(sl_sim_worker_t *sw);

#endif
