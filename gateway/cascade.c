/*
 * cascade.c - the steps of a cascade on the data plane (see cascade.h; the rules, for users: docs/CASCADE.md).
 *
 * A request's facts are read once (the route adapter's one pass over the body, made only when the route needs
 * it) and its plan made once (router/plan.h); then steps run one at a time. Every step is one "try": an attempt of
 * gateway/upstream.c on the step's backend, ended by exactly one verdict of the router's judge - on a failure
 * before a response started, on the whole held answer, when a stream's head goes out, or when the step's latency
 * budget runs out. ESCALATE starts the next step; ACCEPT answers; FAIL answers the error.
 *
 * Invariants. At most one attempt runs at a time. A step is started only from the event loop (the zero-timeout
 * entry `next`). Escalations are mostly decided inside a callback of the upstream client (gateway/upclient.h),
 * which would allow a new connect and a cancel right there; but the callback that decided is still on the stack
 * and still works on the attempt's state (in_client_cb / cancel_in_cb, the buffers it hands back, its return value
 * that pools or closes the connection), and a reused connection would run the next step's on_connect nested
 * inside it. Starting from the loop keeps one exchange strictly after the other. Between two steps the attempt's
 * per-answer state (head, mode, tail, usage) is reset, so nothing of an escalated answer reaches the client.
 * Timers (budget, next, deadline) are unlinked by the verdict that ends a step and, whatever happens, by
 * sl_cascade_end.
 *
 * Deadlines. Each attempt keeps its backend's own timeouts. A plan of several steps also has a request deadline:
 * the last step's timeouts.total counted from the request's arrival. When it passes, the running attempt fails with
 * total_timeout and no step starts after it (504), so budgets and escalations never push an answer past the time
 * the last tier alone was allowed.
 *
 * Metrics and the log. A try records its signal, verdict, tokens and cost; sl_cascade_end writes them all at once
 * into the worker's shard (answers by final tier, escalations by from/to/reason, signal histograms, cost per route
 * and backend, and the cost of the same answers on the last tier alone) and the access log reads them.
 */
#include "gateway/cascade.h"
#include "backends/adapter.h"
#include "common/clock.h"
#include "common/status.h"
#include "gateway/failure.h"
#include "gateway/monitor_glue.h"
#include "gateway/proxy.h"
#include "gateway/worker.h"
#include "router/facts.h"
#include "router/plan.h"

#include <stdio.h>
#include <string.h>

static void *pool_alloc(void *ctx, size_t n)
{
    return h2o_mem_alloc_pool((h2o_mem_pool_t *)ctx, n);
}

static sl_cascade_try_t *current(sl_cascade_t *c)
{
    return c->num_tries != 0 ? &c->tries[c->num_tries - 1] : NULL;
}

/* Whether the route reads the request body: an adapter edits it (every protocol but kserve_v2, which names its
 * model in the path), or a skip_when condition looks into it. */
static int reads_body(const sl_conf_route_t *r)
{
    for (size_t i = 0; i != r->num_tiers; ++i) {
        const sl_conf_tier_t *t = &r->tiers[i];
        if (t->backend->protocol != SL_PROTOCOL_KSERVE_V2)
            return 1;
        for (size_t k = 0; k != t->num_skip_when; ++k)
            if (t->skip_when[k].fact != SL_FACT_HEADER)
                return 1;
    }
    return 0;
}

static void set_verdict(sl_cascade_try_t *t, const sl_judge_t *j)
{
    t->verdict = (uint8_t)j->verdict;
    t->reason = (uint8_t)j->reason;
    t->failure = (uint8_t)j->failure;
}

/* Makes the running try's tokens and cost final (the attempt's state still describes it). */
static void close_try(sl_proxy_t *p, sl_cascade_try_t *t)
{
    if (t->closed)
        return;
    t->closed = 1;
    if (p->backend != NULL)
        t->backend = p->backend->conf; /* the backend actually called (a variant may stand in for the tier's) */
    t->charged = p->got_bytes && p->up_status > 0 && p->up_status < 500;
    t->has_usage = p->usage.has_prompt || p->usage.has_completion;
    t->tokens_in = p->usage.has_prompt ? p->usage.prompt_tokens : 0;
    t->tokens_out = p->usage.has_completion ? p->usage.completion_tokens : 0;
    t->cost_nanos = sl_cascade_cost_nanos(&t->backend->cost, t->charged, t->has_usage, t->tokens_in, t->tokens_out);
    p->cas.cost_nanos += t->cost_nanos;
}

uint64_t sl_cascade_cost_so_far(const sl_proxy_t *p)
{
    const sl_cascade_t *c = &p->cas;
    const sl_cascade_try_t *t = c->num_tries != 0 ? &c->tries[c->num_tries - 1] : NULL;
    uint64_t n = c->cost_nanos;
    if (t != NULL && !t->closed && p->got_bytes && p->up_status > 0 && p->up_status < 500 && p->backend != NULL)
        n += sl_cascade_cost_nanos(&p->backend->conf->cost, 1, 0, 0, 0);
    return n;
}

/* Forgets everything of the attempt that was escalated: nothing of its answer may reach the client. */
static void reset_attempt(sl_proxy_t *p)
{
    h2o_req_t *req = p->req;
    memset(&req->res.headers, 0, sizeof(req->res.headers));
    req->res.status = 0;
    req->res.reason = NULL;
    req->res.content_length = SIZE_MAX;
    p->mode = SL_PROXY_STREAM;
    p->is_stream = 0;
    p->upstream_done = 0;
    p->upstream_error = 0;
    p->paused = 0;
    p->got_bytes = 0;
    p->fresh_retry_done = 0;
    p->up_status = 0;
    p->failure = SL_FAILURE_NONE;
    p->t_first_byte_us = 0;
    p->input_seen = 0;
    if (p->tail->size != 0)
        h2o_buffer_consume(&p->tail, p->tail->size);
    sl_gw_usage_init(&p->usage);
}

static void start_step(sl_proxy_t *p)
{
    sl_cascade_t *c = &p->cas;
    const sl_plan_step_t *st = &c->plan.steps[c->step];
    sl_cascade_try_t *t = &c->tries[c->num_tries++];
    memset(t, 0, sizeof(*t));
    t->backend = st->backend;
    t->tier = st->tier_index;
    t->verdict = SL_CASCADE_PENDING;
    t->signal_state = SL_CASCADE_NO_SIGNAL;
    p->tier = st->tier_index;
    size_t n = strlen(p->tiers_tried);
    if (n != 0)
        p->tiers_tried[n++] = ',';
    sl_cascade_u64_format(st->tier_index, p->tiers_tried + n); /* below SL_CONF_MAX_TIERS: 2 digits at most */
    p->reqbufs_for = NULL; /* each step encodes its own body (its signal may ask for logprobs) */
    c->asked_logprobs = 0;
    c->asked_usage = 0;
    c->reads_answer = st->judged || st->mode == SL_PLAN_STREAM_BUFFERED;
    if (st->latency_budget_ms != 0)
        h2o_timeout_link(p->w->ctx->loop, sl_gw_worker_timeout(p->w, st->latency_budget_ms), &c->budget);
    sl_proxy_start_tier(p);
}

void sl_cascade_scratch_ready(sl_proxy_t *p)
{
    sl_cascade_scratch_t *s = &p->cas.scratch;
    if (s->mem == NULL) {
        s->mem = h2o_mem_alloc_pool(&p->req->pool, SL_CASCADE_SCRATCH);
        s->cap = SL_CASCADE_SCRATCH;
    }
}

static void on_next(h2o_timeout_entry_t *entry)
{
    sl_proxy_t *p = H2O_STRUCT_FROM_MEMBER(sl_proxy_t, cas.next, entry);
    start_step(p);
}

/* The running try was judged ESCALATE: close it and start the next step from the loop, unless the request's
 * deadline is gone (then 504 now). */
static void escalate(sl_proxy_t *p)
{
    sl_cascade_t *c = &p->cas;
    h2o_timeout_unlink(&c->budget);
    close_try(p, current(c));
    if (c->deadline_us != 0 && sl_clock_now_us() >= c->deadline_us) {
        h2o_timeout_unlink(&c->deadline);
        sl_proxy_respond_error(p, 504, SL_FAILURE_TOTAL_TIMEOUT, sl_gw_failure_code(SL_FAILURE_TOTAL_TIMEOUT),
                               sl_gw_failure_message(SL_FAILURE_TOTAL_TIMEOUT));
        return;
    }
    reset_attempt(p);
    ++c->step;
    h2o_timeout_link(p->w->ctx->loop, &p->w->ctx->zero_timeout, &c->next);
}

static void on_budget(h2o_timeout_entry_t *entry)
{
    sl_proxy_t *p = H2O_STRUCT_FROM_MEMBER(sl_proxy_t, cas.budget, entry);
    sl_cascade_t *c = &p->cas;
    if (p->responded || p->phase == SL_PROXY_DONE || p->phase == SL_PROXY_IDLE)
        return;          /* a stream already went out, or the attempt is over: nothing to abandon */
    sl_proxy_abandon(p); /* from the loop: the exchange is cancelled at once; the slot is not reported */
    sl_judge_input_t in = {SL_FAILURE_NONE, NULL, 1, 0};
    sl_judge_t j;
    sl_router_judge(&c->plan, c->step, &in, &j);
    set_verdict(current(c), &j);
    if (j.verdict == SL_VERDICT_ESCALATE) {
        escalate(p);
        return;
    }
    close_try(p, current(c)); /* unreachable by the plan's rules (the last step has no budget) */
    sl_proxy_respond_error(p, 504, SL_FAILURE_TOTAL_TIMEOUT, sl_gw_failure_code(SL_FAILURE_TOTAL_TIMEOUT),
                           sl_gw_failure_message(SL_FAILURE_TOTAL_TIMEOUT));
}

static void on_deadline(h2o_timeout_entry_t *entry)
{
    sl_proxy_t *p = H2O_STRUCT_FROM_MEMBER(sl_proxy_t, cas.deadline, entry);
    sl_cascade_t *c = &p->cas;
    if (p->finished)
        return;
    c->deadline_us = 1; /* in the past from now on: no step starts after this one */
    if (p->phase != SL_PROXY_DONE && p->phase != SL_PROXY_IDLE) {
        sl_proxy_fail_attempt(p, SL_FAILURE_TOTAL_TIMEOUT);
        return;
    }
    if (!p->responded) { /* between two steps */
        h2o_timeout_unlink(&c->next);
        sl_proxy_respond_error(p, 504, SL_FAILURE_TOTAL_TIMEOUT, sl_gw_failure_code(SL_FAILURE_TOTAL_TIMEOUT),
                               sl_gw_failure_message(SL_FAILURE_TOTAL_TIMEOUT));
    }
}

void sl_cascade_start(sl_proxy_t *p, const sl_router_facts_t *http)
{
    sl_cascade_t *c = &p->cas;
    const sl_conf_route_t *route = p->route->conf;
    sl_cascade_scratch_init(&c->scratch, NULL, 0, (sl_adapter_alloc_t){pool_alloc, &p->req->pool});
    h2o_buffer_init(&c->relay, &h2o_socket_buffer_prototype);
    c->budget.cb = on_budget;
    c->next.cb = on_next;
    c->deadline.cb = on_deadline;
    sl_facts_init(&c->facts, http);
    if (p->body_len != 0 && reads_body(route)) {
        const sl_adapter_t *a = sl_adapter_get(route->protocol);
        if (sl_proxy_parse_body(p, a) != 0)
            return; /* answered 400 */
        if (a != NULL && p->facts_by == a)
            c->facts.body = p->body_facts; /* a body that is not an object leaves no body facts */
    }
    if (sl_router_plan(route, &c->facts, sl_gw_worker_rand(p->w), &c->plan) != SL_OK) {
        sl_proxy_respond_error(p, 500, SL_FAILURE_NONE, "no_tier", "the route has no tier to try");
        return;
    }
    c->planned = 1;
    p->tiers_tried[0] = '\0';
    const sl_conf_backend_t *last = c->plan.steps[c->plan.num_steps - 1].backend;
    if (c->plan.num_steps > 1 && last->timeouts.total_ms != 0) {
        c->deadline_us = p->t_recv_us + (uint64_t)last->timeouts.total_ms * 1000;
        h2o_timeout_link(p->w->ctx->loop, sl_gw_worker_timeout(p->w, last->timeouts.total_ms), &c->deadline);
    }
    start_step(p);
}

int sl_cascade_holds(const sl_proxy_t *p)
{
    const sl_cascade_t *c = &p->cas;
    if (!c->planned || p->is_head || c->num_tries == 0)
        return 0;
    const sl_plan_step_t *st = &c->plan.steps[c->step];
    /* logprobs asked for the monitor only (not streams): a whole answer is held so they can be stripped */
    return st->judged || st->mode == SL_PLAN_STREAM_BUFFERED || (c->asked_logprobs && !c->plan.stream);
}

int sl_cascade_on_failure(sl_proxy_t *p, enum en_sl_failure_t f)
{
    sl_cascade_t *c = &p->cas;
    sl_cascade_try_t *t = current(c);
    if (!c->planned || t == NULL)
        return 0;
    sl_judge_input_t in = {f, NULL, 0, p->responded};
    sl_judge_t j;
    sl_router_judge(&c->plan, c->step, &in, &j);
    set_verdict(t, &j);
    if (j.verdict == SL_VERDICT_ESCALATE) {
        escalate(p);
        return 1;
    }
    h2o_timeout_unlink(&c->budget);
    return 0;
}

const char *sl_cascade_res_header(void *ctx, const char *name, size_t name_len, size_t *value_len)
{
    h2o_req_t *req = ctx;
    ssize_t i = h2o_find_header_by_str(&req->res.headers, name, name_len, -1);
    if (i < 0)
        return NULL;
    *value_len = req->res.headers.entries[i].value.len;
    return req->res.headers.entries[i].value.base;
}

int sl_cascade_is_sse(const sl_proxy_t *p)
{
    ssize_t i = h2o_find_header(&p->req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (i < 0)
        return 0;
    h2o_iovec_t v = p->req->res.headers.entries[i].value;
    return v.len >= 17 && h2o_lcstris(v.base, 17, H2O_STRLIT("text/event-stream"));
}

/* Extracts the step's accept signal from a held answer: *sig and in->signal, or in->failure = malformed when the
 * answer is not the protocol's. */
static void judge_answer(sl_proxy_t *p, const sl_plan_step_t *st, h2o_buffer_t *body, sl_signal_t *sig, sl_judge_input_t *in)
{
    const sl_adapter_t *a = sl_adapter_get(p->backend->conf->protocol);
    sl_adapter_headers_t headers = {sl_cascade_res_header, p->req};
    const sl_conf_signal_t *want = &st->tier->accept.signal;
    int ok;
    if (sl_cascade_is_sse(p)) {
        sl_cascade_scratch_ready(p);
        sl_adapter_stream_t state;
        if ((ok = sl_cascade_sse_judge(a, body->bytes, body->size, &state, &p->cas.scratch) == SL_OK))
            sl_adapter_stream_signal(a, &state, &headers, want, sig);
    } else {
        sl_adapter_answer_t ans;
        if ((ok = a->decode(p->backend->conf, p->up_status, body->bytes, body->size, &ans) == SL_OK))
            sl_adapter_signal(a, p->backend->conf, &ans, &headers, want, sig);
    }
    if (ok) {
        in->signal = sig;
    } else {
        in->failure = SL_FAILURE_MALFORMED;
        SL_GW_ADD(sl_gw_worker_shard(p->w)->backends[p->backend->id].failures[SL_FAILURE_MALFORMED], 1);
    }
}

void sl_cascade_on_answer(sl_proxy_t *p, h2o_buffer_t *body)
{
    sl_cascade_t *c = &p->cas;
    sl_cascade_try_t *t = current(c);
    if (!c->planned || t == NULL) {
        sl_proxy_respond_buffered(p, body);
        return;
    }
    const sl_plan_step_t *st = &c->plan.steps[c->step];
    sl_signal_t sig;
    sl_judge_input_t in = {SL_FAILURE_NONE, NULL, 0, 0};
    h2o_timeout_unlink(&c->budget);
    if (st->judged)
        judge_answer(p, st, body, &sig, &in);
    sl_judge_t j;
    sl_router_judge(&c->plan, c->step, &in, &j);
    set_verdict(t, &j);
    if (in.signal != NULL) {
        t->signal_state = (uint8_t)sig.state;
        t->signal = sig.value;
    }
    if (j.verdict == SL_VERDICT_ESCALATE) {
        h2o_buffer_dispose(&body);
        escalate(p);
        return;
    }
    close_try(p, t);
    if (j.verdict == SL_VERDICT_FAIL) {
        h2o_buffer_dispose(&body);
        sl_proxy_respond_error(p, sl_gw_failure_status(j.failure), j.failure, sl_gw_failure_code(j.failure),
                               sl_gw_failure_message(j.failure));
        return;
    }
    sl_gw_monitor_answer(p, body); /* the prediction is read while the answer's bytes exist (monitor_glue.h) */
    int replay = sl_cascade_is_sse(p);
    body = sl_cascade_client_body(p, body);
    if (replay)
        p->t_first_byte_us = sl_clock_now_us(); /* a held stream's first byte reaches the client now */
    sl_proxy_respond_buffered(p, body);
}

/* ---- the end of a request: close the last try, record the metrics ---- */

static void signal_record(sl_gw_signal_hist_t *h, double v)
{
    SL_GW_ADD(h->buckets[sl_cascade_signal_bucket(v)], 1);
    SL_GW_ADD(h->count, 1);
    double sum;
    uint64_t bits = __atomic_load_n(&h->sum_bits, __ATOMIC_RELAXED);
    memcpy(&sum, &bits, sizeof(sum));
    sum += v;
    memcpy(&bits, &sum, sizeof(bits));
    __atomic_store_n(&h->sum_bits, bits, __ATOMIC_RELAXED);
}

static void escalation_record(sl_gw_route_stats_t *rs, const sl_cascade_try_t *from, const sl_cascade_try_t *to)
{
    uint32_t reason = from->reason == SL_REASON_FAILURE ? 32u + from->failure : from->reason;
    uint32_t key = (uint32_t)from->tier | (uint32_t)to->tier << 8 | reason << 16;
    uint32_t n = __atomic_load_n(&rs->num_escalations, __ATOMIC_RELAXED);
    for (uint32_t i = 0; i != n; ++i)
        if (rs->escalations[i].key == key) {
            SL_GW_ADD(rs->escalations[i].count, 1);
            return;
        }
    if (n == SL_GW_ESCALATION_SLOTS) {
        SL_GW_ADD(rs->escalations_other, 1);
        return;
    }
    rs->escalations[n].key = key;
    __atomic_store_n(&rs->escalations[n].count, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&rs->num_escalations, n + 1, __ATOMIC_RELEASE);
}

static void record(sl_proxy_t *p)
{
    sl_cascade_t *c = &p->cas;
    sl_gw_shard_t *s = sl_gw_worker_shard(p->w);
    const sl_gw_route_rt_t *r = p->route;
    sl_gw_route_stats_t *rs = s->routes + r->id;
    for (size_t i = 0; i != c->num_tries; ++i) {
        const sl_cascade_try_t *t = &c->tries[i];
        sl_gw_series_stats_t *ss = s->series + r->series[t->tier];
        SL_GW_ADD(ss->cost_nanos, t->cost_nanos);
        if (t->signal_state == SL_SIGNAL_VALUE)
            signal_record(&rs->signal[t->tier], t->signal);
        if (i + 1 == c->num_tries)
            break;
        escalation_record(rs, t, &c->tries[i + 1]);
        SL_GW_ADD(ss->tokens_in, t->tokens_in); /* the last try's tokens are counted with its request */
        SL_GW_ADD(ss->tokens_out, t->tokens_out);
    }
    const sl_cascade_try_t *last = current(c);
    if (last == NULL || last->verdict != SL_VERDICT_ACCEPT)
        return;
    SL_GW_ADD(s->series[r->series[last->tier]].answers[last->tier], 1);
    const sl_conf_backend_t *top = c->plan.steps[c->plan.num_steps - 1].backend;
    SL_GW_ADD(rs->cost_last_tier_nanos,
              sl_cascade_cost_nanos(&top->cost, 1, last->has_usage, last->tokens_in, last->tokens_out));
}

void sl_cascade_end(sl_proxy_t *p)
{
    sl_cascade_t *c = &p->cas;
    if (c->ended)
        return;
    c->ended = 1;
    h2o_timeout_unlink(&c->budget);
    h2o_timeout_unlink(&c->next);
    h2o_timeout_unlink(&c->deadline);
    if (c->relay != NULL)
        h2o_buffer_dispose(&c->relay);
    sl_cascade_try_t *t = current(c);
    if (!c->planned || t == NULL)
        return;
    if (t->verdict == SL_CASCADE_PENDING) {
        enum en_sl_failure_t f = p->failure != SL_FAILURE_NONE ? p->failure : SL_FAILURE_CLIENT_ABORT;
        sl_judge_t j = {SL_VERDICT_FAIL, SL_REASON_FAILURE, f};
        set_verdict(t, &j);
    }
    close_try(p, t);
    record(p);
}
