/*
 * upstream.c - one upstream attempt of a proxied request: slot, connect, head, body, deadlines, retry.
 *
 * Deadlines. The upstream client (gateway/upclient.h) has no timeout of its own; each attempt links its own
 * entries: `timer` for the current phase (queue_timeout, connect, first_byte, then idle or stream_idle re-armed on
 * every read) and `total_timer`. They fire from the event loop and cancel the exchange (sl_upclient_cancel);
 * inside the client's callbacks the proxy returns NULL / -1 instead, which ends the exchange the same way.
 *
 * Classification. Each failure is classified once, where it is seen, into en_sl_failure_t; failure.c maps it to a
 * status. A failure before any response byte on a reused keep-alive connection (the upstream closed it as we sent)
 * is retried once on a fresh connection, keeping the slot, and counts against neither the endpoint nor the client.
 *
 * Backpressure. The client never stops reading on its own: when SL_GW_HIGH_WATER bytes wait in its socket buffer
 * (the client downstream is slower), reads pause (sl_upclient_pause) until the buffer drains below half of it;
 * the idle deadline is suspended meanwhile (the upstream is not idle, we are not reading).
 */
#include "gateway/proxy.h"
#include "backends/pool.h"
#include "common/clock.h"
#include "gateway/cascade.h"
#include "gateway/failure.h"
#include "gateway/gw.h"
#include "gateway/rollout_glue.h"
#include "gateway/slo_glue.h"
#include "gateway/upclient.h"
#include "gateway/worker.h"
#include "stats/hist.h"

#include <string.h>

static void connect_attempt(sl_proxy_t *p, int fresh, uint64_t now);

static void link_timer(sl_proxy_t *p, h2o_timeout_entry_t *e, uint32_t ms)
{
    h2o_timeout_unlink(e);
    if (ms != 0)
        h2o_timeout_link(p->w->ctx->loop, sl_gw_worker_timeout(p->w, ms), e);
}

static void schedule_dispatch(sl_gw_worker_t *w)
{
    if (h2o_linklist_is_empty(&w->waiters))
        return;
    h2o_timeout_unlink(&w->queue_poll);
    h2o_timeout_link(w->ctx->loop, &w->ctx->zero_timeout, &w->queue_poll);
}

/* Gives the slot back; observe: report the outcome to the endpoint's passive ejection. */
static void release_slot(sl_proxy_t *p, int observe, int failed)
{
    if (!p->holds_slot)
        return;
    p->holds_slot = 0;
    sl_pool_release(p->endpoint);
    if (observe && sl_pool_observe(p->endpoint, failed, p->backend->conf->outlier.consecutive_failures))
        sl_gw_wake_control(p->w->gw);
    schedule_dispatch(p->w);
}

static void dequeue(sl_proxy_t *p)
{
    if (!h2o_linklist_is_linked(&p->waiter))
        return;
    h2o_linklist_unlink(&p->waiter);
    --p->w->queued[p->backend->id];
    h2o_timeout_unlink(&p->timer);
}

/* Cancels the upstream exchange from outside its callbacks, keeping the body bytes not handed over yet. */
static void cancel_client(sl_proxy_t *p)
{
    if (p->client == NULL)
        return;
    if (p->phase == SL_PROXY_BODY) {
        h2o_buffer_t *t = p->tail;
        p->tail = p->client->sock->input;
        p->client->sock->input = t;
        p->input_seen = 0;
    }
    sl_upclient_cancel(p->client);
    p->client = NULL;
}

void sl_proxy_abandon(sl_proxy_t *p)
{
    if (p->in_client_cb) {
        /* only reachable if h2o tore the request down from inside one of our client callbacks; the callback
         * sees cancel_in_cb and returns NULL / -1, which ends the exchange */
        p->cancel_in_cb = 1;
        p->client = NULL;
    }
    cancel_client(p);
    dequeue(p);
    h2o_timeout_unlink(&p->timer);
    h2o_timeout_unlink(&p->total_timer);
    release_slot(p, 0, 0);
    if (p->phase != SL_PROXY_IDLE)
        p->phase = SL_PROXY_DONE;
    p->upstream_done = 1;
}

/* now: the monotonic clock where the answer's last bytes were seen, when the caller read it; 0 reads it here */
static void attempt_succeeded(sl_proxy_t *p, uint64_t now)
{
    if (now == 0)
        now = sl_clock_now_us();
    h2o_timeout_unlink(&p->timer);
    h2o_timeout_unlink(&p->total_timer);
    release_slot(p, 1, 0);
    p->phase = SL_PROXY_DONE;
    p->t_up_end_us = now;
    sl_gw_shard_t *s = sl_gw_worker_shard(p->w);
    sl_hist_record(&s->backends[p->backend->id].upstream, now - p->t_attempt_us);
}

static void attempt_failed(sl_proxy_t *p, enum en_sl_failure_t f)
{
    sl_gw_shard_t *s = sl_gw_worker_shard(p->w);
    h2o_timeout_unlink(&p->timer);
    if (f == SL_FAILURE_RESET && p->reused && !p->got_bytes && !p->fresh_retry_done && !p->responded) {
        p->fresh_retry_done = 1;
        SL_GW_ADD(s->backends[p->backend->id].retries, 1);
        connect_attempt(p, 1, 0);
        return;
    }
    h2o_timeout_unlink(&p->total_timer);
    SL_GW_ADD(s->backends[p->backend->id].failures[f], 1);
    p->failure = f;
    release_slot(p,
                 f != SL_FAILURE_OVERLOADED && f != SL_FAILURE_NO_ENDPOINT && f != SL_FAILURE_CLIENT_ABORT &&
                     f != SL_FAILURE_GATEWAY_RESOURCES,
                 1);
    p->phase = SL_PROXY_DONE;
    p->t_up_end_us = sl_clock_now_us();
    if (sl_cascade_on_failure(p, f))
        return; /* the cascade moves on to its next tier (or answered the deadline's 504) */
    if (!p->responded) {
        /* a shed (every variant of a degrade tier full) is 429, not the 503 of a full queue */
        sl_proxy_respond_error(p, p->shed ? 429 : sl_gw_failure_status(f), f, sl_gw_failure_code(f), sl_gw_failure_message(f));
        return;
    }
    /* mid-stream: what already arrived still goes out, then the response ends broken (HTTP/1: the connection
     * closes without the last chunk; HTTP/2: RST_STREAM) */
    p->upstream_done = 1;
    p->upstream_error = 1;
    if (p->sending.bytes_inflight == 0)
        sl_proxy_flush(p);
}

/* errstr of a failed exchange: a broken connection ("I/O error ..."), or an answer the client could not parse */
static enum en_sl_failure_t classify(const char *errstr)
{
    if (strncmp(errstr, "I/O error", 9) == 0)
        return SL_FAILURE_RESET;
    return SL_FAILURE_MALFORMED;
}

static void pause_reads(sl_proxy_t *p)
{
    sl_upclient_pause(p->client);
    p->paused = 1;
    h2o_timeout_unlink(&p->timer);
}

void sl_proxy_resume_reads(sl_proxy_t *p)
{
    if (!p->paused || p->client == NULL || (*sl_proxy_pending(p))->size >= SL_GW_HIGH_WATER / 2)
        return;
    sl_upclient_resume(p->client);
    p->paused = 0;
    link_timer(p, &p->timer, p->idle_ms);
}

/* Times and scans the bytes that arrived since the last call; returns the time it read, 0 when nothing arrived. */
static uint64_t observe_input(sl_proxy_t *p, h2o_buffer_t *in)
{
    uint64_t now = 0;
    if (in->size > p->input_seen) {
        now = sl_clock_now_us();
        if (p->t_first_byte_us == 0) {
            p->t_first_byte_us = now;
        } else if (p->is_stream) {
            sl_gw_shard_t *s = sl_gw_worker_shard(p->w);
            sl_hist_record(&s->routes[p->route->id].tpot, now - p->t_last_chunk_us);
        }
        p->t_last_chunk_us = now;
        sl_gw_usage_feed(&p->usage, in->bytes + p->input_seen, in->size - p->input_seen);
        p->input_seen = in->size;
    }
    return now;
}

/* A buffered attempt: the body stays in the client's socket buffer until the end (content-length bounded it, or
 * for an answer the cascade holds without a length, the check against SL_GW_MAX_BUFFERED here). */
static int on_body_buffered(sl_upclient_t *client, const char *errstr)
{
    sl_proxy_t *p = client->data;
    uint64_t seen_at = observe_input(p, client->sock->input);
    if (errstr == NULL && client->sock->input->size > SL_GW_MAX_BUFFERED) {
        p->client = NULL; /* returning -1 ends the exchange (the connection is closed) */
        attempt_failed(p, SL_FAILURE_MALFORMED);
        return -1;
    }
    if (errstr == NULL) {
        link_timer(p, &p->timer, p->idle_ms);
        return 0;
    }
    p->client = NULL;
    if (errstr != sl_upclient_error_is_eos) {
        attempt_failed(p, classify(errstr));
        return 0;
    }
    h2o_buffer_t *body = client->sock->input;
    h2o_buffer_init(&client->sock->input, &h2o_socket_buffer_prototype); /* the connection keeps an empty one */
    p->input_seen = 0;
    attempt_succeeded(p, seen_at);
    sl_cascade_on_answer(p, body); /* judged: answered, or the next tier starts */
    return 0;
}

static int on_body(sl_upclient_t *client, const char *errstr)
{
    sl_proxy_t *p = client->data;
    h2o_buffer_t *in = client->sock->input;
    p->in_client_cb = 1;
    uint64_t seen_at = observe_input(p, in);
    /* a filtered (or watched) stream: whole events move on */
    sl_cascade_relay_feed(p, &client->sock->input, errstr != NULL, errstr == sl_upclient_error_is_eos);
    if (errstr != NULL) {
        /* the client's last call: keep the bytes not sent yet (the connection is pooled or closed after we return) */
        h2o_buffer_t *t = p->tail;
        p->tail = client->sock->input;
        client->sock->input = t;
        p->input_seen = 0;
        p->client = NULL;
        if (errstr == sl_upclient_error_is_eos) {
            attempt_succeeded(p, seen_at);
            p->upstream_done = 1;
            if (p->sending.bytes_inflight == 0)
                sl_proxy_flush(p);
        } else {
            attempt_failed(p, classify(errstr));
        }
        p->in_client_cb = 0;
        return 0;
    }
    link_timer(p, &p->timer, p->idle_ms);
    if (!p->paused && (*sl_proxy_pending(p))->size >= SL_GW_HIGH_WATER)
        pause_reads(p);
    if (p->sending.bytes_inflight == 0)
        sl_proxy_flush(p);
    p->in_client_cb = 0;
    return p->cancel_in_cb ? -1 : 0;
}

static sl_upclient_body_cb on_head(sl_upclient_t *client, const char *errstr, int minor_version, int status, h2o_iovec_t msg,
                                   h2o_header_t *headers, size_t num_headers, int rlen)
{
    sl_proxy_t *p = client->data;
    h2o_timeout_unlink(&p->timer);
    if (errstr != NULL && errstr != sl_upclient_error_is_eos) {
        p->client = NULL;
        p->got_bytes = client->got_bytes; /* part of an answer arrived: the request is not sent again */
        attempt_failed(p, classify(errstr));
        return NULL;
    }
    p->got_bytes = 1;
    p->t_head_us = sl_clock_now_us();
    p->up_status = status;
    if (status >= 500) {
        p->client = NULL; /* returning NULL closes the connection: the body of a failed answer is not read */
        attempt_failed(p, SL_FAILURE_UPSTREAM_5XX);
        return NULL;
    }
    sl_proxy_set_head(p, status, msg, headers, num_headers);
    const sl_conf_timeouts_t *t = &p->backend->conf->timeouts;
    p->idle_ms = p->is_stream ? t->stream_idle_ms : t->idle_ms;
    int hold = sl_cascade_holds(p); /* judged by the cascade (or a stream it buffers): held whatever its form */
    if (hold && p->req->res.content_length != SIZE_MAX && p->req->res.content_length > SL_GW_MAX_BUFFERED) {
        p->client = NULL;
        attempt_failed(p, SL_FAILURE_MALFORMED); /* too large to hold back and judge */
        return NULL;
    }
    if (hold && errstr == sl_upclient_error_is_eos) { /* an answer without a body is judged as such */
        p->client = NULL;
        h2o_buffer_t *empty;
        h2o_buffer_init(&empty, &h2o_socket_buffer_prototype);
        attempt_succeeded(p, 0);
        sl_cascade_on_answer(p, empty);
        return NULL;
    }
    if (errstr != sl_upclient_error_is_eos && (hold || (!p->is_stream && p->req->res.content_length <= SL_GW_MAX_BUFFERED))) {
        /* a whole answer of known length: hold it back, so a failure before its end still gets a clean error
         * (and the next attempt, with the cascade) instead of a truncated answer */
        p->mode = SL_PROXY_BUFFER;
        p->phase = SL_PROXY_BODY;
        p->overhead_us += sl_clock_now_us() - p->t_head_us;
        link_timer(p, &p->timer, p->idle_ms);
        return on_body_buffered;
    }
    p->mode = SL_PROXY_STREAM;
    p->in_client_cb = 1;
    sl_proxy_start_stream(p);
    p->in_client_cb = 0;
    uint64_t head_done = sl_clock_now_us();
    p->overhead_us += head_done - p->t_head_us;
    if (errstr == sl_upclient_error_is_eos) { /* no body: HEAD, 204, 304 */
        p->client = NULL;
        attempt_succeeded(p, head_done);
        p->upstream_done = 1;
        sl_proxy_flush(p);
        return NULL;
    }
    if (p->cancel_in_cb)
        return NULL;
    p->phase = SL_PROXY_BODY;
    link_timer(p, &p->timer, p->idle_ms);
    return on_body;
}

static sl_upclient_head_cb on_connect(sl_upclient_t *client, const char *errstr, h2o_iovec_t **reqbufs, size_t *reqbufcnt,
                                      int *method_is_head)
{
    sl_proxy_t *p = client->data;
    h2o_timeout_unlink(&p->timer);
    if (errstr != NULL) {
        p->client = NULL;
        /* no socket: the gateway's own descriptors or memory ran out, not the endpoint's fault; a connect that
         * takes too long is our timer's (on_timer) */
        attempt_failed(p, errstr == sl_upclient_error_socket ? SL_FAILURE_GATEWAY_RESOURCES : SL_FAILURE_CONNECT_REFUSED);
        return NULL;
    }
    /* an idle keep-alive connection is handed over synchronously, inside sl_upclient_connect; a new connection
     * completes later, from the event loop */
    p->reused = client->reused;
    p->phase = SL_PROXY_WAITING_HEAD;
    *reqbufs = p->reqbufs;
    *reqbufcnt = p->num_reqbufs;
    *method_is_head = p->is_head;
    link_timer(p, &p->timer, p->backend->conf->timeouts.first_byte_ms);
    return on_head;
}

static void on_timer(h2o_timeout_entry_t *entry)
{
    sl_proxy_t *p = H2O_STRUCT_FROM_MEMBER(sl_proxy_t, timer, entry);
    enum en_sl_failure_t f;
    switch (p->phase) {
    case SL_PROXY_QUEUED:
        dequeue(p);
        attempt_failed(p, SL_FAILURE_OVERLOADED);
        return;
    case SL_PROXY_CONNECTING:
        f = SL_FAILURE_CONNECT_TIMEOUT;
        break;
    case SL_PROXY_WAITING_HEAD:
        f = SL_FAILURE_FIRST_BYTE_TIMEOUT;
        break;
    case SL_PROXY_BODY:
        f = SL_FAILURE_IDLE_TIMEOUT;
        break;
    default:
        return;
    }
    cancel_client(p);
    attempt_failed(p, f);
}

static void on_total_timer(h2o_timeout_entry_t *entry)
{
    sl_proxy_t *p = H2O_STRUCT_FROM_MEMBER(sl_proxy_t, total_timer, entry);
    if (p->phase == SL_PROXY_DONE || p->phase == SL_PROXY_IDLE)
        return;
    cancel_client(p);
    attempt_failed(p, SL_FAILURE_TOTAL_TIMEOUT);
}

void sl_proxy_fail_attempt(sl_proxy_t *p, enum en_sl_failure_t f)
{
    if (p->phase == SL_PROXY_DONE || p->phase == SL_PROXY_IDLE)
        return;
    cancel_client(p);
    dequeue(p);
    attempt_failed(p, f);
}

/* now: the monotonic clock the caller read just before (the attempt's start); 0 reads it here */
static void connect_attempt(sl_proxy_t *p, int fresh, uint64_t now)
{
    sl_gw_worker_t *w = p->w;
    const sl_conf_timeouts_t *t = &p->backend->conf->timeouts;
    p->phase = SL_PROXY_CONNECTING;
    ++p->attempts;
    p->reused = 0;
    p->got_bytes = 0;
    p->t_attempt_us = now != 0 ? now : sl_clock_now_us();
    p->timer.cb = on_timer;
    p->total_timer.cb = on_total_timer;
    link_timer(p, &p->timer, t->connect_ms);
    link_timer(p, &p->total_timer, t->total_ms);
    /* fresh: a new connection even when idle ones wait (the retry after a stale one failed) */
    sl_upclient_connect(&p->client, p, sl_gw_worker_pool(w, p->endpoint), fresh, on_connect);
}

static int pick(sl_proxy_t *p)
{
    const sl_gw_backend_rt_t *b = p->backend;
    sl_pool_endpoint_t *e;
    int r = sl_pool_pick(b->endpoints, b->num_endpoints, b->conf->max_concurrency, sl_gw_worker_rand(p->w), &e);
    if (r == SL_POOL_PICKED) {
        p->endpoint = e;
        p->holds_slot = 1;
    }
    return r;
}

static void enqueue(sl_proxy_t *p)
{
    sl_gw_worker_t *w = p->w;
    p->phase = SL_PROXY_QUEUED;
    h2o_linklist_insert(&w->waiters, &p->waiter);
    ++w->queued[p->backend->id];
    p->timer.cb = on_timer;
    link_timer(p, &p->timer, p->backend->conf->queue_timeout_ms);
    if (!h2o_timeout_is_linked(&w->queue_poll))
        h2o_timeout_link(w->ctx->loop, sl_gw_worker_timeout(w, SL_GW_QUEUE_POLL_MS), &w->queue_poll);
}

void sl_proxy_start_tier(sl_proxy_t *p)
{
    const sl_conf_tier_t *tier = p->route->conf->tiers + p->tier;
    const sl_gw_backend_rt_t *b = p->gen->backends + tier->backend->index;
    /* accuracy scaling (degrade_glue.c): the variant, with its slot taken under spill-over; -1: pick b below */
    int r = sl_gw_degrade_pick(p, tier, &b);
    if (r < 0)
        sl_gw_rollout_pick(p, tier, &b); /* canary rollouts (rollout_glue.c): stable or canary on the accurate variant */
    p->backend = b;
    if (p->reqbufs_for != b && sl_proxy_build_request(p, b) != 0) {
        release_slot(p, 0, 0);
        return;
    }
    uint64_t now = sl_clock_now_us(); /* the request is ready to go: dispatch (the first tier's) and the attempt's start */
    if (p->t_dispatch_us == 0)
        p->t_dispatch_us = now;
    switch (r >= 0 ? r : pick(p)) {
    case SL_POOL_PICKED:
        connect_attempt(p, 0, now);
        break;
    case SL_POOL_FULL:
        if (!p->shed && b->conf->max_queue != 0 && p->w->queued[b->id] < b->conf->max_queue)
            enqueue(p);
        else
            attempt_failed(p, SL_FAILURE_OVERLOADED);
        break;
    default:
        attempt_failed(p, SL_FAILURE_NO_ENDPOINT);
        break;
    }
}

void sl_proxy_dispatch_waiters(sl_gw_worker_t *w)
{
    h2o_linklist_t *node = w->waiters.next;
    while (node != &w->waiters) {
        sl_proxy_t *p = H2O_STRUCT_FROM_MEMBER(sl_proxy_t, waiter, node);
        node = node->next;
        int r = pick(p);
        if (r == SL_POOL_FULL)
            continue; /* FIFO per backend: later waiters of another backend may still go */
        dequeue(p);
        if (r == SL_POOL_PICKED)
            connect_attempt(p, 0, 0);
        else
            attempt_failed(p, SL_FAILURE_NO_ENDPOINT);
    }
}

void sl_proxy_on_queue_poll(h2o_timeout_entry_t *entry)
{
    sl_gw_worker_t *w = H2O_STRUCT_FROM_MEMBER(sl_gw_worker_t, queue_poll, entry);
    sl_proxy_dispatch_waiters(w);
    if (!h2o_linklist_is_empty(&w->waiters) && !h2o_timeout_is_linked(&w->queue_poll))
        h2o_timeout_link(w->ctx->loop, sl_gw_worker_timeout(w, SL_GW_QUEUE_POLL_MS), &w->queue_poll);
}
