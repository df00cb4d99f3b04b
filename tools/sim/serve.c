/*
 * serve.c - the simulator's request path on a worker thread: routing, admission (slots and a FIFO queue), timing
 * (time to first token, time per output token) and fault injection.
 *
 * Life of an inference request: parse the body (parse.c), draw everything random (model.c) and render the complete
 * answer into the request's pool (render.c) at arrival; then admit it: a free slot starts service at once, else it
 * waits in the worker's FIFO queue, else it is refused (429 openai / 503 kserve_v2). In service, a non-streamed
 * answer is sent whole when its last token is due; a stream sends each token's SSE chunk when it is due, one
 * h2o_send at a time (a token that falls due while a send is in flight goes with the next one). With zero delays an
 * answer is sent from inside the handler, without a timer. The slot is released when the last byte is handed to h2o
 * or when the request dies, and a deferred pump (zero timeout) starts the next queued request.
 *
 * Every function here runs on the worker that owns the request; the only shared state read is the parameter
 * snapshot, borrowed for one loop iteration (internal.h).
 */
#include "tools/sim/internal.h"
#include "common/clock.h"
#include "common/status.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum en_req_state_t { R_NEW = 0, R_QUEUED, R_ACTIVE, R_HUNG, R_DONE };

typedef struct st_sl_sim_req_t {
    h2o_generator_t super;
    h2o_req_t *req;
    sl_sim_worker_t *sw;
    h2o_linklist_t link; /* in sw->queue (R_QUEUED) or sw->hung (R_HUNG) */
    sl_sim_timer_t timer;
    int state;
    int holds_slot, started, sending;
    int stream, protocol, fault;
    sl_sim_rendered_t out;
    double ttft_ms, gaps_ms;   /* gaps_ms: non-stream, the sum of the gaps between tokens */
    double tpot_ms, tpot_jitter_ms;
    uint32_t next_tok;         /* stream: tokens sent so far */
    uint32_t send_tokens;      /* stream: tokens to send (fewer when the stream is reset) */
    size_t sent_bytes, final_bytes;
    uint64_t next_due_us;
    sl_sim_rng_t rng;          /* the answer's own generator: gaps between tokens */
    /* for the stats when the answer completes */
    uint32_t rows, correct, prompt_tokens, completion_tokens, drifted;
} sl_sim_req_t;

void sl_sim_count_status(sl_sim_worker_t *sw, int status)
{
    int which;
    switch (status) {
    case 200: which = SL_SIM_ST_S200; break;
    case 400: which = SL_SIM_ST_S400; break;
    case 404: which = SL_SIM_ST_S404; break;
    case 405: which = SL_SIM_ST_S405; break;
    case 413: which = SL_SIM_ST_S413; break;
    case 429: which = SL_SIM_ST_S429; break;
    case 500: which = SL_SIM_ST_S500; break;
    case 503: which = SL_SIM_ST_S503; break;
    default: which = SL_SIM_ST_SOTHER; break;
    }
    sl_sim_stat_add(sw, which, 1);
}

static const char *reason_of(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

void sl_sim_send_json(h2o_req_t *req, int status, const char *reason, const char *body, size_t len)
{
    req->res.status = status;
    req->res.reason = reason != NULL ? reason : reason_of(status);
    req->res.content_length = len;
    h2o_set_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, H2O_STRLIT("application/json"), 1);
    h2o_send_inline(req, body, len);
}

/* An error in the protocol's own shape: OpenAI {"error":{"message","type","param","code"}}, KServe {"error":"..."}. */
static void send_error(h2o_req_t *req, int protocol, const sl_sim_error_t *e)
{
    sl_sim_out_t o;
    sl_sim_out_init(&o, &req->pool, 256);
    if (protocol == SL_SIM_PROTOCOL_KSERVE_V2) {
        sl_sim_out_lit(&o, "{\"error\":\"");
        sl_sim_out_append_escaped(&o, e->message, strlen(e->message));
        sl_sim_out_lit(&o, "\"}");
    } else {
        sl_sim_out_lit(&o, "{\"error\":{\"message\":\"");
        sl_sim_out_append_escaped(&o, e->message, strlen(e->message));
        sl_sim_out_printf(&o, "\",\"type\":\"%s\",\"param\":", e->type != NULL ? e->type : "invalid_request_error");
        if (e->param != NULL)
            sl_sim_out_printf(&o, "\"%s\"", e->param);
        else
            sl_sim_out_lit(&o, "null");
        sl_sim_out_lit(&o, ",\"code\":");
        if (e->code != NULL)
            sl_sim_out_printf(&o, "\"%s\"", e->code);
        else
            sl_sim_out_lit(&o, "null");
        sl_sim_out_lit(&o, "}}");
    }
    sl_sim_send_json(req, e->status, NULL, o.buf, o.len);
}

static int simple_error(h2o_req_t *req, int protocol, int status, const char *message, const char *type,
                        const char *code)
{
    sl_sim_error_t e = {status, message, type, NULL, code};
    send_error(req, protocol, &e);
    return 0;
}

static int has_slot(sl_sim_worker_t *sw)
{
    uint32_t slots = sw->snap->p.slots;
    return slots == 0 || sw->active < slots;
}

static void schedule_pump(sl_sim_worker_t *sw)
{
    if (!h2o_linklist_is_empty(&sw->queue) && !h2o_timeout_is_linked(&sw->pump))
        h2o_timeout_link(sw->w->ctx.loop, &sw->w->ctx.zero_timeout, &sw->pump);
}

static void release_slot(sl_sim_req_t *r)
{
    if (!r->holds_slot)
        return;
    r->holds_slot = 0;
    --r->sw->active;
    sl_sim_stat_add(r->sw, SL_SIM_ST_ACTIVE_NOW, (uint64_t)-1);
    schedule_pump(r->sw);
}

/* The answer is complete as far as the simulator is concerned: count it and free its slot. r stays valid (it lives in
 * the pool) until the request is disposed, which may happen inside the h2o_send that follows. */
static void finish(sl_sim_req_t *r)
{
    sl_sim_worker_t *sw = r->sw;
    r->state = R_DONE;
    sl_sim_timer_unlink(&sw->timers, &r->timer);
    release_slot(r);
    sl_sim_stat_add(sw, SL_SIM_ST_ANSWERS, 1);
    sl_sim_stat_add(sw, SL_SIM_ST_CORRECT, r->correct);
    sl_sim_stat_add(sw, SL_SIM_ST_INCORRECT, r->rows - r->correct);
    sl_sim_stat_add(sw, SL_SIM_ST_DRIFTED, r->drifted);
    sl_sim_stat_add(sw, SL_SIM_ST_PROMPT_TOKENS, r->prompt_tokens);
    sl_sim_stat_add(sw, SL_SIM_ST_COMPLETION_TOKENS, r->completion_tokens);
}

static void on_proceed(h2o_generator_t *gen, h2o_req_t *req);

static void on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    sl_sim_req_t *r = H2O_STRUCT_FROM_MEMBER(sl_sim_req_t, super, gen);
    sl_sim_timer_unlink(&r->sw->timers, &r->timer);
    release_slot(r);
    r->state = R_DONE;
}

static void send_whole(sl_sim_req_t *r)
{
    h2o_req_t *req = r->req;
    h2o_iovec_t body = r->out.body;
    req->res.content_length = body.len;
    h2o_start_response(req, &r->super);
    finish(r);
    if (r->fault == SL_SIM_FAULT_RESET) {
        body.len /= 2; /* head and half the body, then the connection is closed */
        h2o_send(req, &body, 1, H2O_SEND_STATE_ERROR);
    } else {
        h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
    }
}

static uint64_t gap_us(sl_sim_req_t *r)
{
    return (uint64_t)((r->tpot_ms + sl_sim_rng_exponential(&r->rng, r->tpot_jitter_ms)) * 1000);
}

static void emit(sl_sim_req_t *r)
{
    if (r->sending || r->state != R_ACTIVE)
        return;
    uint64_t horizon = sl_clock_now_us() + 500;
    uint32_t j = r->next_tok;
    while (j < r->send_tokens && r->next_due_us <= horizon) {
        ++j;
        if (j < r->send_tokens)
            r->next_due_us += gap_us(r);
    }
    if (j == r->next_tok) {
        sl_sim_timer_link(&r->sw->timers, &r->timer, r->next_due_us);
        return;
    }
    int last = j == r->send_tokens;
    size_t end = last ? r->final_bytes : r->out.seg_end[j - 1];
    h2o_iovec_t buf = h2o_iovec_init(r->out.body.base + r->sent_bytes, end - r->sent_bytes);
    r->sent_bytes = end;
    r->next_tok = j;
    if (!r->started) {
        r->started = 1;
        h2o_start_response(r->req, &r->super);
    }
    if (last) {
        h2o_req_t *req = r->req;
        int state = r->fault == SL_SIM_FAULT_RESET ? H2O_SEND_STATE_ERROR : H2O_SEND_STATE_FINAL;
        finish(r);
        h2o_send(req, &buf, buf.len != 0, state);
    } else {
        r->sending = 1;
        sl_sim_timer_link(&r->sw->timers, &r->timer, r->next_due_us);
        h2o_send(r->req, &buf, 1, H2O_SEND_STATE_IN_PROGRESS);
    }
}

static void on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    sl_sim_req_t *r = H2O_STRUCT_FROM_MEMBER(sl_sim_req_t, super, gen);
    r->sending = 0;
    if (!sl_sim_timer_is_linked(&r->timer))
        emit(r);
}

static void on_timer(sl_sim_timer_t *t)
{
    sl_sim_req_t *r = H2O_STRUCT_FROM_MEMBER(sl_sim_req_t, timer, t);
    if (r->stream)
        emit(r);
    else
        send_whole(r);
}

static void start_service(sl_sim_req_t *r)
{
    sl_sim_worker_t *sw = r->sw;
    r->state = R_ACTIVE;
    r->holds_slot = 1;
    ++sw->active;
    sl_sim_stat_add(sw, SL_SIM_ST_ACTIVE_NOW, 1);
    uint64_t now = sl_clock_now_us();
    if (r->stream) {
        r->next_due_us = now + (uint64_t)(r->ttft_ms * 1000);
        emit(r);
    } else {
        double delay_ms = r->ttft_ms + r->gaps_ms;
        if (delay_ms < 0.001)
            send_whole(r);
        else
            sl_sim_timer_link(&sw->timers, &r->timer, now + (uint64_t)(delay_ms * 1000));
    }
}

static void on_pump(h2o_timeout_entry_t *entry)
{
    sl_sim_worker_t *sw = H2O_STRUCT_FROM_MEMBER(sl_sim_worker_t, pump, entry);
    while (has_slot(sw) && !h2o_linklist_is_empty(&sw->queue)) {
        sl_sim_req_t *r = H2O_STRUCT_FROM_MEMBER(sl_sim_req_t, link, sw->queue.next);
        h2o_linklist_unlink(&r->link);
        sl_sim_stat_add(sw, SL_SIM_ST_QUEUED_NOW, (uint64_t)-1);
        start_service(r);
    }
}

/* Runs when the request's pool is cleared: the request ended, or its client went away before the answer. */
static void on_dispose(void *p)
{
    sl_sim_req_t *r = p;
    sl_sim_timer_unlink(&r->sw->timers, &r->timer);
    if (r->state == R_QUEUED || r->state == R_HUNG) {
        h2o_linklist_unlink(&r->link);
        sl_sim_stat_add(r->sw, r->state == R_QUEUED ? SL_SIM_ST_QUEUED_NOW : SL_SIM_ST_HUNG_NOW, (uint64_t)-1);
    }
    release_slot(r);
    r->state = R_DONE;
}

static void add_header(h2o_req_t *req, const char *name, const char *value, size_t len)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, strlen(name), 0, NULL, value, len);
}

/* x-sim-* headers that let a test score the answer: correctness, truth, confidence (one entry per row). */
static void add_sim_headers(h2o_req_t *req, const sl_sim_params_t *p, const sl_sim_request_t *q, const sl_sim_draw_t *d)
{
    sl_sim_out_t correct, truth, conf;
    sl_sim_out_init(&correct, &req->pool, q->rows + 1);
    sl_sim_out_init(&truth, &req->pool, 16 * q->rows);
    sl_sim_out_init(&conf, &req->pool, 10 * q->rows);
    for (uint32_t i = 0; i != q->rows; ++i) {
        sl_sim_out_printf(&correct, "%d", d[i].correct);
        sl_sim_out_printf(&conf, "%s%.6f", i == 0 ? "" : ",", d[i].confidence);
        if (q->facts[i].is_classify)
            sl_sim_out_printf(&truth, "%s%s", i == 0 ? "" : ",", p->labels[q->facts[i].truth]);
    }
    add_header(req, "x-sim-correct", correct.buf, correct.len);
    add_header(req, "x-sim-confidence", conf.buf, conf.len);
    if (truth.len != 0)
        add_header(req, "x-sim-truth", truth.buf, truth.len);
    if (d[0].fault != SL_SIM_FAULT_NONE) {
        static const char *const names[] = {"none", "error", "hang", "reset", "malformed"};
        add_header(req, "x-sim-fault", names[d[0].fault], strlen(names[d[0].fault]));
    }
}

static int reject_overload(sl_sim_worker_t *sw, h2o_req_t *req, int protocol)
{
    const sl_sim_params_t *p = &sw->snap->p;
    double service_ms = p->ttft_ms + p->output_tokens_mean * p->tpot_ms;
    double wait_s = (p->slots == 0 ? 1.0 : (double)p->queue / p->slots + 1) * service_ms / 1000;
    char *retry = h2o_mem_alloc_pool(&req->pool, 24);
    int n = snprintf(retry, 24, "%.0f", wait_s < 1 ? 1 : ceil(wait_s));
    sl_sim_stat_add(sw, SL_SIM_ST_REJECTED, 1);
    h2o_set_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, retry, (size_t)n, 1);
    int status = protocol == SL_SIM_PROTOCOL_OPENAI ? 429 : 503;
    sl_sim_count_status(sw, status);
    char *msg = h2o_mem_alloc_pool(&req->pool, 160);
    snprintf(msg, 160, "The server is overloaded: %u slots busy and %u requests queued. Retry after %.*s s.",
             p->slots, p->queue, n, retry);
    sl_sim_error_t e = {status, msg, protocol == SL_SIM_PROTOCOL_OPENAI ? "requests" : NULL, NULL,
                        protocol == SL_SIM_PROTOCOL_OPENAI ? "rate_limit_exceeded" : NULL};
    send_error(req, protocol, &e); /* keeps the retry-after header set above */
    return 0;
}

static int handle_infer(sl_sim_worker_t *sw, h2o_req_t *req, int kind)
{
    const sl_sim_snap_t *snap = sw->snap;
    const sl_sim_params_t *p = &snap->p;
    int protocol = p->protocol;
    sl_sim_request_t q;
    sl_sim_error_t err;
    sl_sim_stat_add(sw, SL_SIM_ST_REQUESTS, 1);
    int rc = kind == SL_SIM_KIND_KSERVE ? sl_sim_parse_kserve(req, p, &q, &err) : sl_sim_parse_openai(req, kind, p, &q, &err);
    if (rc != SL_OK) {
        sl_sim_count_status(sw, err.status);
        send_error(req, protocol, &err);
        return 0;
    }

    sl_sim_draw_t *d = h2o_mem_alloc_pool(&req->pool, sizeof(*d) * q.rows);
    for (uint32_t i = 0; i != q.rows; ++i)
        sl_sim_draw(p, &sw->rng, &q.facts[i], &d[i]);
    if (d[0].slow)
        sl_sim_stat_add(sw, SL_SIM_ST_F_SLOW, 1);
    add_sim_headers(req, p, &q, d);

    /* admission comes first: an overloaded server refuses before doing anything else */
    uint32_t queued = (uint32_t)atomic_load_explicit(&sw->stats[SL_SIM_ST_QUEUED_NOW], memory_order_relaxed);
    if (!(has_slot(sw) && queued == 0) && queued >= p->queue)
        return reject_overload(sw, req, protocol);
    if (d[0].fault == SL_SIM_FAULT_ERROR) {
        sl_sim_stat_add(sw, SL_SIM_ST_F_ERROR, 1);
        sl_sim_count_status(sw, 500);
        return simple_error(req, protocol, 500, "The server had an error while processing your request (injected).",
                            "server_error", NULL);
    }

    sl_sim_req_t *r = h2o_mem_alloc_shared(&req->pool, sizeof(*r), on_dispose);
    memset(r, 0, sizeof(*r));
    r->super.proceed = on_proceed;
    r->super.stop = on_stop;
    r->req = req;
    r->sw = sw;
    r->timer.cb = on_timer;
    r->protocol = protocol;
    r->fault = d[0].fault;
    r->stream = q.stream;
    r->rows = q.rows;
    r->ttft_ms = d[0].ttft_ms;
    r->tpot_ms = p->tpot_ms;
    r->tpot_jitter_ms = p->tpot_jitter_ms;
    for (uint32_t i = 0; i != q.rows; ++i) {
        r->correct += (uint32_t)d[i].correct;
        r->drifted += (uint32_t)d[i].drifted;
        r->prompt_tokens += q.facts[i].prompt_tokens;
        r->completion_tokens += d[i].output_tokens;
    }

    if (r->fault == SL_SIM_FAULT_HANG) {
        sl_sim_stat_add(sw, SL_SIM_ST_F_HANG, 1);
        r->state = R_HUNG;
        h2o_linklist_insert(&sw->hung, &r->link);
        sl_sim_stat_add(sw, SL_SIM_ST_HUNG_NOW, 1);
        return 0;
    }
    if (r->fault == SL_SIM_FAULT_RESET)
        sl_sim_stat_add(sw, SL_SIM_ST_F_RESET, 1);
    else if (r->fault == SL_SIM_FAULT_MALFORMED)
        sl_sim_stat_add(sw, SL_SIM_ST_F_MALFORMED, 1);

    sl_sim_answer_t a = {.kind = kind, .stream = q.stream, .include_usage = q.include_usage, .logprobs = q.logprobs,
                         .top_logprobs = q.top_logprobs, .prompt_tokens = q.facts[0].prompt_tokens,
                         .is_classify = q.facts[0].is_classify, .p = p, .draws = d, .rows = q.rows,
                         .request_id = q.request_id, .created = (uint64_t)time(NULL), .fingerprint = sw->sim->fingerprint};
    sl_sim_rng_seed(&a.rng, d[0].answer_seed, 0);
    sl_sim_rng_seed(&r->rng, d[0].answer_seed, 1);
    int malformed = r->fault == SL_SIM_FAULT_MALFORMED;
    if (kind == SL_SIM_KIND_KSERVE)
        sl_sim_render_kserve(&a, malformed, &req->pool, &r->out);
    else
        sl_sim_render_openai(&a, malformed, &req->pool, &r->out);

    req->res.status = 200;
    req->res.reason = "OK";
    if (r->stream) {
        h2o_set_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, H2O_STRLIT("text/event-stream"), 1);
        h2o_set_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, H2O_STRLIT("no-cache"), 1);
        uint32_t n = r->out.tokens;
        if (r->fault == SL_SIM_FAULT_RESET) { /* cut after ceil(n/2) chunks, before the finish chunk */
            r->send_tokens = n == 1 ? 1 : (n + 1) / 2;
            r->final_bytes = n == 1 ? r->out.role_end : r->out.seg_end[r->send_tokens - 1];
        } else {
            r->send_tokens = n;
            r->final_bytes = r->out.body.len;
        }
    } else {
        h2o_set_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, H2O_STRLIT("application/json"), 1);
        for (uint32_t i = 1; i < r->out.tokens; ++i)
            r->gaps_ms += (double)gap_us(r) / 1000;
    }
    sl_sim_count_status(sw, 200);

    if (has_slot(sw) && h2o_linklist_is_empty(&sw->queue)) {
        start_service(r);
    } else {
        r->state = R_QUEUED;
        h2o_linklist_insert(&sw->queue, &r->link);
        sl_sim_stat_add(sw, SL_SIM_ST_QUEUED_NOW, 1);
    }
    return 0;
}

static int path_is(h2o_req_t *req, const char *path)
{
    return h2o_memis(req->path_normalized.base, req->path_normalized.len, path, strlen(path));
}

static int method_is(h2o_req_t *req, const char *m)
{
    return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}

static int send_literal(h2o_req_t *req, const char *body)
{
    sl_sim_send_json(req, 200, "OK", body, strlen(body));
    return 0;
}

static int handle_openai(sl_sim_worker_t *sw, h2o_req_t *req)
{
    const sl_sim_params_t *p = &sw->snap->p;
    int kind = path_is(req, "/v1/chat/completions") ? SL_SIM_KIND_CHAT
               : path_is(req, "/v1/completions")    ? SL_SIM_KIND_COMPLETION
                                                    : -1;
    if (kind >= 0) {
        if (!method_is(req, "POST"))
            return simple_error(req, SL_SIM_PROTOCOL_OPENAI, 405, "Only POST is allowed here.", NULL, NULL);
        return handle_infer(sw, req, kind);
    }
    if (path_is(req, "/v1/models")) {
        sl_sim_out_t o;
        sl_sim_out_init(&o, &req->pool, 256);
        sl_sim_out_printf(&o,
                          "{\"object\":\"list\",\"data\":[{\"id\":\"%s\",\"object\":\"model\",\"created\":%llu,"
                          "\"owned_by\":\"sluice-sim\"}]}",
                          p->model, (unsigned long long)sw->sim->started_unix);
        sl_sim_send_json(req, 200, "OK", o.buf, o.len);
        return 0;
    }
    return simple_error(req, SL_SIM_PROTOCOL_OPENAI, 404, "Unknown path: this server answers /v1/chat/completions, "
                        "/v1/completions and /v1/models.", NULL, "unknown_url");
}

/* KServe v2 paths: /v2, /v2/health/{live,ready}, /v2/models/{name}[/ready|/infer]. */
static int handle_kserve(sl_sim_worker_t *sw, h2o_req_t *req)
{
    const sl_sim_params_t *p = &sw->snap->p;
    h2o_iovec_t path = req->path_normalized;
    if (path_is(req, "/v2/health/live"))
        return send_literal(req, "{\"live\":true}");
    if (path_is(req, "/v2/health/ready"))
        return send_literal(req, "{\"ready\":true}");
    if (path_is(req, "/v2"))
        return send_literal(req, "{\"name\":\"sluice-sim\",\"version\":\"" SL_VERSION "\",\"extensions\":[]}");
    static const char prefix[] = "/v2/models/";
    if (path.len > sizeof(prefix) - 1 && memcmp(path.base, prefix, sizeof(prefix) - 1) == 0) {
        const char *name = path.base + sizeof(prefix) - 1, *end = path.base + path.len;
        const char *slash = memchr(name, '/', (size_t)(end - name));
        size_t name_len = (size_t)((slash != NULL ? slash : end) - name);
        h2o_iovec_t rest = h2o_iovec_init(slash != NULL ? slash : end, (size_t)(end - (slash != NULL ? slash : end)));
        if (!h2o_memis(name, name_len, p->model, strlen(p->model))) {
            char *msg = h2o_mem_alloc_pool(&req->pool, 160);
            snprintf(msg, 160, "Model %.*s not found", (int)(name_len > 100 ? 100 : name_len), name);
            if (h2o_memis(rest.base, rest.len, H2O_STRLIT("/infer"))) {
                sl_sim_stat_add(sw, SL_SIM_ST_REQUESTS, 1);
                sl_sim_count_status(sw, 404);
            }
            return simple_error(req, SL_SIM_PROTOCOL_KSERVE_V2, 404, msg, NULL, NULL);
        }
        if (h2o_memis(rest.base, rest.len, H2O_STRLIT("/infer"))) {
            if (!method_is(req, "POST"))
                return simple_error(req, SL_SIM_PROTOCOL_KSERVE_V2, 405, "Only POST is allowed here", NULL, NULL);
            return handle_infer(sw, req, SL_SIM_KIND_KSERVE);
        }
        sl_sim_out_t o;
        sl_sim_out_init(&o, &req->pool, 512);
        if (h2o_memis(rest.base, rest.len, H2O_STRLIT("/ready"))) {
            sl_sim_out_printf(&o, "{\"name\":\"%s\",\"ready\":true}", p->model);
        } else if (rest.len == 0) {
            sl_sim_out_printf(&o,
                              "{\"name\":\"%s\",\"versions\":[\"1\"],\"platform\":\"sluice-sim\","
                              "\"inputs\":[{\"name\":\"text\",\"datatype\":\"BYTES\",\"shape\":[-1]}],"
                              "\"outputs\":[{\"name\":\"probabilities\",\"datatype\":\"FP32\",\"shape\":[-1,%u]},"
                              "{\"name\":\"label\",\"datatype\":\"BYTES\",\"shape\":[-1]}]}",
                              p->model, p->num_labels);
        } else {
            return simple_error(req, SL_SIM_PROTOCOL_KSERVE_V2, 404, "Unknown path", NULL, NULL);
        }
        sl_sim_send_json(req, 200, "OK", o.buf, o.len);
        return 0;
    }
    return simple_error(req, SL_SIM_PROTOCOL_KSERVE_V2, 404, "Unknown path: this server answers /v2/...", NULL, NULL);
}

int sl_sim_on_req(sl_sim_t *sim, h2o_req_t *req)
{
    sl_sim_worker_t *sw = sl_sim_worker_of(req);
    if (path_is(req, "/health"))
        return send_literal(req, "{\"status\":\"ok\"}");
    if (req->path_normalized.len >= 5 && memcmp(req->path_normalized.base, "/sim/", 5) == 0)
        return sl_sim_on_control(sim, req);
    if (sw->snap->p.protocol == SL_SIM_PROTOCOL_KSERVE_V2)
        return handle_kserve(sw, req);
    return handle_openai(sw, req);
}

void sl_sim_worker_start(sl_sim_worker_t *sw)
{
    h2o_linklist_init_anchor(&sw->queue);
    h2o_linklist_init_anchor(&sw->hung);
    sw->pump.cb = on_pump;
    sl_sim_timers_init(&sw->timers, sw->w->ctx.loop);
}

void sl_sim_worker_refresh(sl_sim_worker_t *sw)
{
    const sl_sim_snap_t *snap = atomic_load_explicit(&sw->sim->current, memory_order_acquire);
    if (snap != sw->snap) {
        sw->snap = snap;
        atomic_store_explicit(&sw->seen_gen, snap->gen, memory_order_release);
        schedule_pump(sw); /* slots may have been added */
    }
    if (!sw->stopping && atomic_load_explicit(&sw->w->server->shutdown, memory_order_acquire)) {
        /* stopping: hung requests would hold the drain forever; answer them 503 (the connection then closes) */
        sw->stopping = 1;
        while (!h2o_linklist_is_empty(&sw->hung)) {
            sl_sim_req_t *r = H2O_STRUCT_FROM_MEMBER(sl_sim_req_t, link, sw->hung.next);
            h2o_linklist_unlink(&r->link);
            sl_sim_stat_add(sw, SL_SIM_ST_HUNG_NOW, (uint64_t)-1);
            r->state = R_DONE;
            sl_sim_count_status(sw, 503);
            simple_error(r->req, r->protocol, 503, "The server is shutting down.", "server_error", NULL);
        }
    }
}

size_t sl_sim_worker_pending(sl_sim_worker_t *sw)
{
    return sw->active + (size_t)atomic_load_explicit(&sw->stats[SL_SIM_ST_QUEUED_NOW], memory_order_relaxed) +
           (size_t)atomic_load_explicit(&sw->stats[SL_SIM_ST_HUNG_NOW], memory_order_relaxed);
}
