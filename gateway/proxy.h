/*
 * proxy.h - the request handler of the data plane and the pieces of its state machine (state: proxy-t.h).
 *
 * Files: proxy.c (arrival: limits, routing, body rewrite, the upstream request; departure: metrics and the access
 * log), upstream.c (one attempt: slot, connect, head, body, deadlines, failure classification, retries), respond.c
 * (what the client receives: errors, headers, the streamed body with backpressure). Worker thread only.
 */
#ifndef SL_GATEWAY_PROXY_H
#define SL_GATEWAY_PROXY_H

#include "gateway/proxy-t.h"

/* h2o handler of every data-plane request. Always takes the request (returns 0). */
int sl_proxy_on_req(h2o_handler_t *self, h2o_req_t *req);

/* The worker's queue timer: queued requests look for a slot freed by another worker. */
void sl_proxy_on_queue_poll(h2o_timeout_entry_t *entry);

/* Builds p->reqbufs for backend b: the upstream request head and the body pieces (the cascade step's encoding,
 * gateway/cascade.h). Returns 0, or -1 after answering 400 (a JSON body that cannot be edited safely). */
int sl_proxy_build_request(sl_proxy_t *p, const sl_gw_backend_rt_t *b);

/* Reads the client's body once: one pass that validates it (p->root) and finds its "model" (p->model) and, when a
 * is not NULL, the facts of a's protocol (p->body_facts, p->facts_by = a; through sl_adapter_read, one pass for an
 * adapter with a read callback). A later call with another adapter takes that adapter's facts from p->root (its
 * inspect) without validating again; a later call with the same adapter, or none, does nothing. Returns 0 (also for
 * a body that is not JSON and not said to be: it passes as it is), or -1 after answering 400 (a body declared JSON
 * that is not). */
int sl_proxy_parse_body(sl_proxy_t *p, const sl_adapter_t *a);

/* The buffer holding upstream bytes the client has not taken yet: the cascade's relay for a filtered stream, else
 * the upstream client's socket buffer while the exchange runs, else the tail it left. */
static inline h2o_buffer_t **sl_proxy_pending(sl_proxy_t *p)
{
    if (p->cas.relay_on)
        return &p->cas.relay;
    return p->client != NULL ? &p->client->sock->input : &p->tail;
}

/* upstream.c -------------------------------------------------------------------------------------------------- */

/* Starts the current tier: takes a slot on an endpoint (or queues, or fails with 503) and connects. */
void sl_proxy_start_tier(sl_proxy_t *p);

/* Ends whatever the attempt still runs (client, timers, queue place, slot) without reporting anything: the
 * request is going away, or the cascade abandons the attempt (latency budget). */
void sl_proxy_abandon(sl_proxy_t *p);

/* Fails the running attempt with kind f as if its own deadline had fired (cancels the client, leaves the queue),
 * then reports it like any failure. From the event loop only (never inside a client callback). */
void sl_proxy_fail_attempt(sl_proxy_t *p, enum en_sl_failure_t f);

/* Tries to start queued requests of this worker (after a slot was released here, or on the poll timer). */
void sl_proxy_dispatch_waiters(sl_gw_worker_t *w);

/* Restarts upstream reads paused for backpressure once the client took enough (from the generator's proceed). */
void sl_proxy_resume_reads(sl_proxy_t *p);

/* read_ahead.c ------------------------------------------------------------------------------------------------ */

/* Keeps a cleartext HTTP/1 client connection reading while the request runs (h2o stops it, at the cost of two
 * epoll_ctl per request): the request's input buffer is set aside, reads go to a fresh one. Call once, first. */
void sl_proxy_read_ahead_start(sl_proxy_t *p);

/* Gives the request's input buffer back to the connection, with what was read meanwhile appended. From the pool's
 * dispose hook, after the last use of the request's strings. */
void sl_proxy_read_ahead_end(sl_proxy_t *p);

/* respond.c --------------------------------------------------------------------------------------------------- */

/* Answers with the gateway's own JSON error in the route's protocol shape (openai when no route matched) and
 * records status and failure. Retry-After is added to 503 overloaded answers. Only before a response started. */
void sl_proxy_respond_error(sl_proxy_t *p, int status, enum en_sl_failure_t failure, const char *code, const char *message);

/* 413 for a body above max_body, as JSON in the protocol of the route the request's head alone matches (path, host,
 * headers; the body is not read), openai's when none does. Counted as rejected (body_too_large). */
void sl_proxy_respond_too_large(sl_proxy_t *p);

/* The protocol of the route req's head matches in gen (sl_router_match without the body's model), or
 * SL_PROTOCOL_OPENAI when none does: the shape of the errors answered before routing. */
enum en_sl_protocol_t sl_proxy_head_protocol(h2o_req_t *req, const sl_gw_gen_t *gen);

/* sl_router_facts_t's header lookup over req->headers (ctx: the h2o_req_t). */
const char *sl_proxy_lookup_header(void *ctx, const char *name, size_t name_len, size_t *value_len);

/* Copies the upstream response head into req->res (hop-by-hop and framing fields dropped, content-length into
 * res.content_length, the gateway's own headers added, p->is_stream set for SSE and unframed answers). Nothing is
 * sent: an attempt that fails later still answers with an error (which resets the headers). */
void sl_proxy_set_head(sl_proxy_t *p, int status, h2o_iovec_t reason, const h2o_header_t *headers, size_t num_headers);

/* Starts the streamed response with the head set by sl_proxy_set_head. */
void sl_proxy_start_stream(sl_proxy_t *p);

/* Answers with the head set by sl_proxy_set_head and the whole body of a buffered attempt (taken: linked to the
 * request's pool). */
void sl_proxy_respond_buffered(sl_proxy_t *p, h2o_buffer_t *body);

/* Sends what the upstream delivered and the client can take now: never an empty IN_PROGRESS send, one send at a
 * time, FINAL (or ERROR) once the upstream side is over and everything went out. */
void sl_proxy_flush(sl_proxy_t *p);

/* The generator callbacks of a streamed response. */
void sl_proxy_on_proceed(h2o_generator_t *self, h2o_req_t *req);
void sl_proxy_on_stop(h2o_generator_t *self, h2o_req_t *req);

/* Registers on pc the output filter that turns h2o's own 413 answers into the JSON error (startup). */
void sl_proxy_register_filters(h2o_pathconf_t *pc);

/* The reason phrase of a status the gateway sends (static). */
const char *sl_proxy_reason(int status);

#endif
