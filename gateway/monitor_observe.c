/*
 * monitor_observe.c - the data path of model monitoring (see monitor_glue.h): what one finished request of a
 * monitored route hands to the policy (sl_monitor_input_t, policies/monitor-t.h), on its worker.
 *
 * When. A request is observed once. An accepted whole answer is observed when it is about to go out
 * (sl_gw_monitor_answer, from the cascade): its bytes are linked to the request's pool and freed before the pool's
 * dispose hook runs, so the prediction has to be read while they exist. Every other request (an error, a stream, a
 * client gone before the answer) is observed when it departs (sl_gw_monitor_observe), without an answer body (a
 * passing stream with what the relay decoded of its events).
 *
 * What. The request body as the proxy parsed it (parsed here when the route itself had no reason to: a monitored
 * pointer needs it; a body that is not JSON is malformed), the route adapter's facts (prompt token estimate, chat
 * message count; inspected here when the cascade did not), output tokens from the answer's usage (the proxy asks a
 * stream for its usage chunk), the answering backend and rollout version, the x-request-id, and the prediction:
 *  - signal: the accepted try's own signal when its accept rule extracted the same one; otherwise it is extracted
 *    from the whole answer (asking upstream for the logprobs it needs, sl_gw_monitor_want_signal); a stream that was
 *    not held is decoded event by event by the cascade's relay (cascade_body.c) and gives the signal of its state
 *    when the upstream ended it cleanly; a stream cut before its end, or an error, has none (a null);
 *  - label / value: read from the whole answer by the policy at its pointer; none for streams and errors.
 *
 * Cost. No allocation, no lock: a stack input, a few field reads, and when the prediction is in the answer one more
 * pass over the answer (sl_json_parse, or the adapter's decode for a signal). The policy's own cost is bench/monitor.
 */
#include "gateway/monitor_glue.h"

#include <string.h>

#include "backends/adapter.h"
#include "common/clock.h"
#include "common/json_scan.h"
#include "common/status.h"
#include "gateway/cascade.h"
#include "gateway/rollout_glue.h"
#include "policies/monitor.h"

const sl_conf_signal_t *sl_gw_monitor_want_signal(const sl_conf_route_t *route)
{
    const sl_conf_monitor_t *m = &route->monitor;
    return m->enabled && m->has_prediction && m->prediction.source == SL_MONITOR_SOURCE_SIGNAL ? &m->prediction.signal : NULL;
}

static int same_signal(const sl_conf_signal_t *a, const sl_conf_signal_t *b)
{
    return a->kind == b->kind && (a->arg == b->arg || (a->arg != NULL && b->arg != NULL && strcmp(a->arg, b->arg) == 0));
}

static sl_monitor_t *monitor_of(const sl_proxy_t *p)
{
    const sl_gw_mon_gen_t *mg = p->gen->mon;
    return p->route != NULL && mg != NULL && p->route->conf->monitor.enabled && !p->mon_observed ? mg->monitor : NULL;
}

static void set_signal(sl_monitor_input_t *in, enum en_sl_signal_state_t state, double value)
{
    in->signal_state = state == SL_SIGNAL_VALUE        ? SL_MONITOR_PRESENT
                       : state == SL_SIGNAL_UNPARSABLE ? SL_MONITOR_INVALID
                                                       : SL_MONITOR_ABSENT;
    in->signal = state == SL_SIGNAL_VALUE ? value : 0;
}

/* The accepted try's own signal, when its accept rule extracted the signal the monitor wants. Returns 1 when set. */
static int try_signal(const sl_proxy_t *p, const sl_conf_monitor_value_t *v, sl_monitor_input_t *in)
{
    const sl_cascade_t *c = &p->cas;
    const sl_cascade_try_t *t = c->num_tries != 0 ? &c->tries[c->num_tries - 1] : NULL;
    if (v->source != SL_MONITOR_SOURCE_SIGNAL || !c->planned || t == NULL || t->signal_state == SL_CASCADE_NO_SIGNAL ||
        !same_signal(&c->plan.steps[c->step].tier->accept.signal, &v->signal))
        return 0;
    set_signal(in, (enum en_sl_signal_state_t)t->signal_state, t->signal);
    return 1;
}

/* What every observation carries: the request and its facts, the answer's usage, the id, backend, version, time. */
static void fill_request(const sl_proxy_t *p, sl_monitor_input_t *in, sl_adapter_request_t *facts, uint64_t now_ms)
{
    const sl_conf_route_t *route = p->route->conf;
    const sl_adapter_request_t *rq = &p->cas.facts.body;
    memset(in, 0, sizeof(*in));
    in->request = p->root;
    in->response.type = SL_JSON_INVALID;
    if (p->body_len != 0 && in->request.type == SL_JSON_INVALID && sl_json_parse(p->body, p->body_len, &in->request) != SL_OK) {
        in->request.type = SL_JSON_INVALID;
        in->request_malformed = 1;
    }
    if (rq->root.type == SL_JSON_INVALID && in->request.type != SL_JSON_INVALID) {
        /* the cascade did not inspect this body (its route reads no body facts): the monitor needs them */
        const sl_adapter_t *a = sl_adapter_get(route->protocol);
        facts->root.type = SL_JSON_INVALID;
        if (a != NULL && a->inspect(&in->request, facts) != SL_OK)
            facts->root.type = SL_JSON_INVALID;
        rq = facts;
    }
    if (rq->root.type != SL_JSON_INVALID) {
        in->prompt_tokens = rq->prompt_tokens;
        if (rq->kind == SL_ADAPTER_KIND_CHAT) {
            in->message_count_state = SL_MONITOR_PRESENT;
            in->message_count = rq->num_messages;
        }
    }
    if (p->usage.has_completion) {
        in->output_tokens_state = SL_MONITOR_PRESENT;
        in->output_tokens = p->usage.completion_tokens;
    }
    in->signal_state = SL_MONITOR_ABSENT;
    in->request_id = p->request_id.base;
    in->request_id_len = p->request_id.len;
    in->backend = (uint32_t)(p->backend != NULL ? p->backend->conf->index : route->tiers[0].backend->index);
    in->version = sl_gw_rollout_answered_by_canary(p) ? SL_FEEDBACK_CANARY : SL_FEEDBACK_STABLE;
    in->now_ms = now_ms;
}

/* The prediction of a whole answer: the answer's root for a label or a value, or the signal extracted from it. */
static void answer_prediction(sl_proxy_t *p, const h2o_buffer_t *body, const sl_conf_monitor_value_t *v, sl_monitor_input_t *in)
{
    if (try_signal(p, v, in) || p->backend == NULL || sl_cascade_is_sse(p))
        return; /* a held stream is no document: only the judge's signal applies to it */
    if (v->source != SL_MONITOR_SOURCE_SIGNAL) {
        if (sl_json_parse(body->bytes, body->size, &in->response) != SL_OK)
            in->response.type = SL_JSON_INVALID; /* not JSON: the prediction is missing */
        return;
    }
    const sl_adapter_t *a = sl_adapter_get(p->backend->conf->protocol);
    sl_adapter_answer_t ans;
    if (a == NULL || a->decode(p->backend->conf, p->up_status, body->bytes, body->size, &ans) != SL_OK)
        return; /* not the protocol's answer: no signal */
    sl_adapter_headers_t headers = {sl_cascade_res_header, p->req};
    sl_signal_t sig;
    sl_adapter_signal(a, p->backend->conf, &ans, &headers, &v->signal, &sig);
    set_signal(in, sig.state, sig.value);
}

/* The prediction of a passing stream the relay decoded (sl_cascade_t.watch): its signal when the upstream ended it
 * cleanly after the protocol's end marker, invalid when an event was not the protocol's; a stream cut before its end
 * has none (a null). */
static void stream_prediction(const sl_proxy_t *p, const sl_conf_monitor_value_t *v, sl_monitor_input_t *in)
{
    const sl_cascade_watch_t *w = p->cas.watch;
    if (w == NULL || !w->ended || !w->state.done || p->backend == NULL || v->source != SL_MONITOR_SOURCE_SIGNAL)
        return; /* cut before its end (no [DONE]: a stream delimited by the connection's close ends like this too) */
    if (w->malformed) {
        in->signal_state = SL_MONITOR_INVALID;
        return;
    }
    const sl_adapter_t *a = sl_adapter_get(p->backend->conf->protocol);
    sl_adapter_headers_t headers = {sl_cascade_res_header, p->req};
    sl_signal_t sig;
    sl_adapter_stream_signal(a, &w->state, &headers, &v->signal, &sig);
    set_signal(in, sig.state, sig.value);
}

/* Observes p once: with the whole answer's bytes (body), or at its departure without them (body NULL). now_us: the
 * monotonic clock when the caller read it, 0 to read it here (only for a monitored route). */
static void observe(sl_proxy_t *p, const h2o_buffer_t *body, uint64_t now_us)
{
    sl_monitor_t *m = monitor_of(p);
    if (m == NULL)
        return;
    uint64_t now_ms = (now_us != 0 ? now_us : sl_clock_now_us()) / 1000;
    const sl_conf_monitor_t *mc = &p->route->conf->monitor;
    sl_monitor_input_t in;
    sl_adapter_request_t facts;
    fill_request(p, &in, &facts, now_ms);
    if (mc->has_prediction && body != NULL)
        answer_prediction(p, body, &mc->prediction, &in);
    else if (mc->has_prediction && !try_signal(p, &mc->prediction, &in)) /* a judged stream's signal */
        stream_prediction(p, &mc->prediction, &in); /* a passing stream's, decoded by the relay; errors have none */
    sl_monitor_observe(m, (uint32_t)p->w->idx, p->route->conf->index, &in);
    p->mon_observed = 1;
}

void sl_gw_monitor_answer(sl_proxy_t *p, const h2o_buffer_t *body)
{
    observe(p, body, 0);
}

void sl_gw_monitor_observe(sl_proxy_t *p, uint64_t now_us)
{
    observe(p, NULL, now_us);
}
