/*
 * cascade_body.c - the bytes a cascade changes (see cascade.h): the upstream body of each step, what the client
 * gets of an accepted answer, the relay that filters a passing stream, and the x-sluice-* headers of the cascade.
 *
 * Upstream. Each step's body is written by its backend's adapter from the client's bytes (json_scan edits: pieces
 * over the original body, no copy): the backend's model, the logprobs the step's accept signal needs when the
 * client did not ask for them, and for streams the usage chunk (so tokens and cost are known). A body that is not
 * a JSON object is sent as it came.
 *
 * Client. Whatever sluice asked for and the client did not is removed before the client sees it: from a whole
 * answer by the adapter's strip, from a held stream's replay and from a passing stream event by event (the relay).
 * The relay sits between h2o's socket buffer and the streaming double buffer: whole events move, filtered, into
 * its buffer; an incomplete one waits in the socket buffer, at most SL_CASCADE_MAX_EVENT bytes, beyond which the
 * rest of the stream passes unfiltered (a client that asked for nothing may then see a usage chunk, never a
 * truncated event).
 *
 * Monitor. A route whose monitored prediction is a tier signal (sl_gw_monitor_want_signal) has its passing openai
 * streams relayed even when nothing is stripped: each event is decoded on its way into c->watch (the judge's
 * decoder, the adapter's fixed-size state, from the pool once per request), and a stream the upstream ended cleanly
 * gives the monitor its signal when the request departs (monitor_observe.c). The logprobs the signal needs are asked
 * for streams too, and stripped by the relay when the client did not ask for them.
 */
#include "gateway/cascade.h"
#include "backends/adapter.h"
#include "common/status.h"
#include "gateway/monitor_glue.h"
#include "gateway/proxy.h"
#include "router/plan.h"

#include <stdio.h>
#include <string.h>

static void *pool_alloc(void *ctx, size_t n)
{
    return h2o_mem_alloc_pool((h2o_mem_pool_t *)ctx, n);
}

/* Answers 400 for a body the adapter could not edit (r: its error). */
static void bad_body(sl_proxy_t *p, int r)
{
    const sl_json_span_t *root = &p->cas.facts.body.root;
    if (r == SL_EEXIST) {
        sl_json_iter_t it;
        sl_json_span_t k, v;
        int models = 0;
        sl_json_iter_init(&it, root);
        while (sl_json_iter_next(&it, &k, &v) == SL_OK)
            models += sl_json_string_eq(&k, "model", 5);
        if (models > 1)
            sl_proxy_respond_error(p, 400, SL_FAILURE_NONE, "invalid_model", "the request body has more than one \"model\"");
        else
            sl_proxy_respond_error(p, 400, SL_FAILURE_NONE, "invalid_request",
                                   "the request body repeats a member sluice must set (logprobs, top_logprobs or "
                                   "stream_options)");
        return;
    }
    sl_proxy_respond_error(p, 400, SL_FAILURE_NONE, "invalid_request", "the request body cannot be edited safely");
}

int sl_cascade_encode(sl_proxy_t *p, const sl_gw_backend_rt_t *b, h2o_iovec_t *bufs, size_t cap, size_t *num)
{
    sl_cascade_t *c = &p->cas;
    const sl_adapter_request_t *rq = &c->facts.body;
    const sl_adapter_t *a = sl_adapter_get(b->conf->protocol);
    *num = 0;
    if (p->body_len == 0)
        return SL_OK;
    if (!c->planned || rq->root.type != SL_JSON_OBJECT || a == NULL) {
        bufs[0] = h2o_iovec_init(p->body, p->body_len);
        *num = 1;
        return SL_OK;
    }
    const sl_plan_step_t *st = &c->plan.steps[c->step];
    const sl_conf_signal_t *signal = st->judged ? &st->tier->accept.signal : NULL;
    if (sl_adapter_signal_logprobs(signal) == 0 && sl_gw_monitor_want_signal(p->route->conf) != NULL)
        signal = sl_gw_monitor_want_signal(p->route->conf); /* the monitored prediction needs logprobs nobody asked */
    sl_adapter_want_t want = {b->conf->model, signal, b->model_json, b->model_json_len}; /* quoted per generation */
    sl_json_span_t v;
    /* a "model" that is there but not a string: where the read located it, no look at the body */
    if (b->conf->model != NULL && a->protocol != SL_PROTOCOL_KSERVE_V2 && rq->model.type != SL_JSON_STRING &&
        (rq->located_by == a ? rq->edit_at[SL_ADAPTER_EDIT_MODEL].p != NULL
                             : sl_json_find_key(&rq->root, "model", 5, &v) == SL_OK && v.type != SL_JSON_STRING)) {
        sl_proxy_respond_error(p, 400, SL_FAILURE_NONE, "invalid_model", "the request's \"model\" must be a string");
        return -1;
    }
    sl_adapter_alloc_t alloc = {pool_alloc, &p->req->pool};
    sl_adapter_body_t out;
    int r = a->encode(p->body, p->body_len, rq, &want, &alloc, &out);
    if (r != SL_OK) {
        bad_body(p, r);
        return -1;
    }
    c->asked_logprobs = !rq->logprobs && sl_adapter_signal_logprobs(signal) != 0;
    c->asked_usage = rq->stream && !rq->usage;
    c->reads_answer |= c->asked_logprobs || c->asked_usage;
    if (out.num_pieces <= cap) {
        for (size_t i = 0; i != out.num_pieces; ++i)
            bufs[i] = h2o_iovec_init(out.pieces[i].base, out.pieces[i].len);
        *num = out.num_pieces;
    } else { /* more pieces than the request has room for: one copy */
        char *joined = h2o_mem_alloc_pool(&p->req->pool, out.len);
        bufs[0] = h2o_iovec_init(joined, sl_json_pieces_copy(out.pieces, out.num_pieces, joined));
        *num = 1;
    }
    return SL_OK;
}

h2o_buffer_t *sl_cascade_client_body(sl_proxy_t *p, h2o_buffer_t *body)
{
    sl_cascade_t *c = &p->cas;
    const sl_adapter_t *a = p->backend != NULL ? sl_adapter_get(p->backend->conf->protocol) : NULL;
    h2o_buffer_t *out;
    if (!c->planned || a == NULL || p->is_head)
        return body;
    if (sl_cascade_is_sse(p)) {
        if (!c->asked_logprobs && !c->asked_usage)
            return body;
        sl_cascade_scratch_ready(p);
        h2o_buffer_init(&out, &h2o_socket_buffer_prototype);
        sl_cascade_sse_filter(a, &c->facts.body, body->bytes, body->size, 1, &out, &c->scratch, NULL);
        h2o_buffer_dispose(&body);
        return out;
    }
    if (!c->asked_logprobs)
        return body;
    sl_adapter_alloc_t alloc = {pool_alloc, &p->req->pool};
    sl_adapter_body_t stripped;
    if (a->strip(body->bytes, body->size, &c->facts.body, &alloc, &stripped) != SL_OK ||
        (stripped.num_pieces == 1 && stripped.pieces[0].base == body->bytes))
        return body; /* nothing to strip, or not JSON: as the model server sent it */
    h2o_buffer_init(&out, &h2o_socket_buffer_prototype);
    if (stripped.len != 0) {
        h2o_iovec_t room = h2o_buffer_reserve(&out, stripped.len);
        out->size += sl_json_pieces_copy(stripped.pieces, stripped.num_pieces, room.base);
    }
    h2o_buffer_dispose(&body);
    return out;
}

void sl_cascade_on_stream(sl_proxy_t *p)
{
    sl_cascade_t *c = &p->cas;
    if (!c->planned || c->num_tries == 0)
        return;
    sl_cascade_try_t *t = &c->tries[c->num_tries - 1];
    if (t->verdict == SL_CASCADE_PENDING) {
        sl_judge_input_t in = {SL_FAILURE_NONE, NULL, 0, 1}; /* once the head is out nothing else can be tried */
        sl_judge_t j;
        sl_router_judge(&c->plan, c->step, &in, &j);
        t->verdict = (uint8_t)j.verdict;
        t->reason = (uint8_t)j.reason;
        t->failure = (uint8_t)j.failure;
        h2o_timeout_unlink(&c->budget);
    }
    int watch = sl_gw_monitor_want_signal(p->route->conf) != NULL; /* the monitored prediction is in the events */
    if ((c->asked_usage || c->asked_logprobs || watch) && !p->is_head && p->backend->conf->protocol == SL_PROTOCOL_OPENAI &&
        sl_cascade_is_sse(p)) {
        sl_cascade_scratch_ready(p);
        c->relay_on = 1;
        if (watch) {
            c->watch = h2o_mem_alloc_pool(&p->req->pool, sizeof(*c->watch));
            memset(c->watch, 0, sizeof(*c->watch));
            sl_adapter_stream_init(&c->watch->state);
        }
    }
}

static void copy_raw(h2o_buffer_t **out, const char *p, size_t n)
{
    h2o_iovec_t room = h2o_buffer_reserve(out, n);
    memcpy(room.base, p, n);
    (*out)->size += n;
}

void sl_cascade_relay_feed(sl_proxy_t *p, h2o_buffer_t **in, int final, int eos)
{
    sl_cascade_t *c = &p->cas;
    if (c->relay_on && final && eos && c->watch != NULL && !c->relay_raw)
        c->watch->ended = 1; /* every event is decoded once the bytes below are */
    if (!c->relay_on || (*in)->size == 0)
        return;
    size_t used = 0, size = (*in)->size;
    if (!c->relay_raw) {
        const sl_adapter_t *a = sl_adapter_get(p->backend->conf->protocol);
        used = sl_cascade_sse_filter(a, &c->facts.body, (*in)->bytes, size, final, &c->relay, &c->scratch, c->watch);
        if (!final && size - used > SL_CASCADE_MAX_EVENT)
            c->relay_raw = 1; /* the rest passes undecoded too: the monitor gets no prediction (watch->ended stays 0) */
    }
    if (c->relay_raw && used != size) {
        copy_raw(&c->relay, (*in)->bytes + used, size - used);
        used = size;
    }
    h2o_buffer_consume(in, used);
    p->input_seen = (*in)->size; /* an incomplete event already timed and scanned */
}

void sl_cascade_add_headers(sl_proxy_t *p)
{
    sl_cascade_t *c = &p->cas;
    h2o_req_t *req = p->req;
    if (!c->planned || p->backend == NULL || !p->gen->conf->server.routing_headers)
        return;
    char *v = h2o_mem_alloc_pool(&req->pool, 24 + SL_CASCADE_COST_MAX);
    size_t n = sl_cascade_u64_format(c->num_tries != 0 ? c->num_tries - 1 : 0, v);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-sluice-escalations"), 0, NULL, v, n);
    size_t len = sl_cascade_cost_format(sl_cascade_cost_so_far(p), v + 24);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-sluice-cost"), 0, NULL, v + 24, len);
}
