/*
 * cascade.h - the cascade on the data plane: a request's facts and plan, its attempts tier by tier, the judge of
 * each answer, the cost, and what the client receives of it (state: cascade-t.h; the rules: docs/CASCADE.md).
 *
 * Files: cascade.c (the steps: start, judge, escalate, latency budget, deadline; the end of a request: metrics),
 * cascade_body.c (the upstream request body of a step; what the client gets of an accepted answer; the relay of a
 * passing stream; headers), cascade_sse.c (held streams: judge, replay, filter; pure), cascade_cost.c (cost
 * arithmetic and formats; pure). The router decides (router/plan.h); this code runs its decisions and never
 * reimplements them.
 *
 * Plug points (worker thread): proxy.c calls sl_cascade_start once a route matched and sl_cascade_end when the
 * request's pool goes away; upstream.c asks sl_cascade_holds when a head arrives, hands over every failure before
 * a response started (sl_cascade_on_failure) and every whole held answer (sl_cascade_on_answer); respond.c calls
 * sl_cascade_on_stream before a stream goes out and sl_cascade_add_headers on every answer. A new step always
 * starts from the event loop (a zero timeout), once the upstream client's callback that ended the previous attempt
 * returned: the client allows cancels anywhere, but the proxy carries the state of one exchange at a time.
 */
#ifndef SL_GATEWAY_CASCADE_H
#define SL_GATEWAY_CASCADE_H

#include "gateway/cascade-t.h"
#include "gateway/proxy-t.h"

/* cascade.c ------------------------------------------------------------------------------------------------- */

/* Once the route matched: reads the body facts (parsing the body when the route needs them; 400 for a JSON body
 * that is not valid JSON), makes the plan and starts its first step. Always takes the request (it may have been
 * answered already). */
void sl_cascade_start(sl_proxy_t *p, const sl_router_facts_t *http);

/* From the pool's dispose hook, after sl_proxy_abandon: unlinks the cascade's timers, closes the attempt still
 * open (client_abort when the client left), records the cascade metrics into the worker's shard and frees the
 * relay. Idempotent. */
void sl_cascade_end(sl_proxy_t *p);

/* Whether the answer of the running step must be held back whole before the client sees anything: it is judged,
 * or it is a stream to buffer (buffer_streams). */
int sl_cascade_holds(const sl_proxy_t *p);

/* An attempt failed (kind f, already classified and counted). Returns 1 when the cascade took it over (the next
 * step starts from the loop, or the request was answered with the deadline's 504); 0 when the caller answers
 * the error (or ends the started stream broken) as it would without a cascade. */
int sl_cascade_on_failure(sl_proxy_t *p, enum en_sl_failure_t f);

/* The whole held answer of an attempt arrived (taken: body is linked to the response or disposed). Judges it and
 * either answers the client (stripped of what it did not ask for) or moves on to the next step. */
void sl_cascade_on_answer(sl_proxy_t *p, h2o_buffer_t *body);

/* Gives the request's scratch allocator its memory (from the pool, once): before a stream is judged or filtered. */
void sl_cascade_scratch_ready(sl_proxy_t *p);

/* Header lookup over the response head copied into req->res (ctx: the h2o_req_t), for sl_adapter_headers_t. */
const char *sl_cascade_res_header(void *ctx, const char *name, size_t name_len, size_t *value_len);

/* Whether the head of the current attempt (copied into the response) says text/event-stream. */
int sl_cascade_is_sse(const sl_proxy_t *p);

/* The cost of the request so far in 10^-9 units: the closed attempts, plus the running one's per-request price
 * once its answer started. */
uint64_t sl_cascade_cost_so_far(const sl_proxy_t *p);

/* cascade_body.c -------------------------------------------------------------------------------------------- */

/* The upstream body of the running step for backend b: the tier's adapter encodes it (model, logprobs the accept
 * signal needs, the usage of streams); bodies that are not a JSON object pass as they are. Writes at most cap
 * pieces to bufs (more are joined into one) and their number to *num. Returns SL_OK, or -1 after answering 400. */
int sl_cascade_encode(sl_proxy_t *p, const sl_gw_backend_rt_t *b, h2o_iovec_t *bufs, size_t cap, size_t *num);

/* What the client gets of an accepted held answer: body itself, or a new buffer (body disposed) with the logprobs
 * and usage chunk it did not ask for removed; a held stream is replayed as SSE. */
h2o_buffer_t *sl_cascade_client_body(sl_proxy_t *p, h2o_buffer_t *body);

/* A stream is about to go out as it arrives: the judge accepts it (nothing can be tried after its head) and the
 * relay is switched on when the upstream was asked for what the client was not, or when the route's monitor
 * predicts from a tier signal (its events are then decoded into c->watch, from the pool). */
void sl_cascade_on_stream(sl_proxy_t *p);

/* Moves the bytes of the upstream's socket buffer *in that form whole events into the relay, each filtered (and
 * decoded into c->watch when the route's monitor watches the stream); with final set (the upstream is done),
 * everything. eos: the upstream ended cleanly (only with final). What stays in *in is an event still incomplete. */
void sl_cascade_relay_feed(sl_proxy_t *p, h2o_buffer_t **in, int final, int eos);

/* Adds x-sluice-escalations and x-sluice-cost to the response headers (before h2o_start_response). */
void sl_cascade_add_headers(sl_proxy_t *p);

/* cascade_sse.c: held streams and the relay, pure ------------------------------------------------------------ */

/* Decodes every data event of a whole stream in[0..len) with adapter a into *state (initialized here). Returns
 * SL_OK, or SL_EPROTO when an event is not the protocol's (the answer is malformed). scratch serves joined data. */
int sl_cascade_sse_judge(const sl_adapter_t *a, const char *in, size_t len, sl_adapter_stream_t *state,
                         sl_cascade_scratch_t *scratch);

/* Filters the whole events at the start of in[0..len) (with final, all of it) into *out, in order: each data event
 * stripped by adapter a of what req did not ask for (strip_event), dropped when the adapter says so, copied as it
 * is when nothing changes or its data is not the protocol's; other events copied. With watch (NULL: none), each
 * data event is first decoded into watch->state as the judge does (watch->malformed set when one is not the
 * protocol's). Returns the bytes of in used. */
size_t sl_cascade_sse_filter(const sl_adapter_t *a, const sl_adapter_request_t *req, const char *in, size_t len, int final,
                             h2o_buffer_t **out, sl_cascade_scratch_t *scratch, sl_cascade_watch_t *watch);

/* A scratch allocator over mem[0..cap) (cap may be 0) that falls back to `fallback` once full. */
void sl_cascade_scratch_init(sl_cascade_scratch_t *s, char *mem, size_t cap, sl_adapter_alloc_t fallback);

/* sl_adapter_alloc_t callback of a scratch (ctx: the sl_cascade_scratch_t). 16-byte aligned. */
void *sl_cascade_scratch_alloc(void *ctx, size_t n);

/* cascade_cost.c: pure ---------------------------------------------------------------------------------------- */

/* The cost of one attempt in 10^-9 units of the config's currency, rounded to the nearest unit: per_request when
 * charged, plus the token prices applied to the usage counts when has_usage. Saturates at 2^62. */
uint64_t sl_cascade_cost_nanos(const sl_conf_cost_t *cost, int charged, int has_usage, uint64_t tokens_in, uint64_t tokens_out);

/* Writes nanos as a decimal number of currency units: the integer part, then the fraction without trailing zeros
 * ("0", "0.0021", "12.5"). buf holds SL_CASCADE_COST_MAX bytes; returns the length (NUL not counted). */
size_t sl_cascade_cost_format(uint64_t nanos, char *buf);

/* Writes v in decimal, NUL-terminated, into buf (21 bytes); returns the length (NUL not counted). */
size_t sl_cascade_u64_format(uint64_t v, char *buf);

/* Writes a signal value as a JSON number (shortest of %.9g that is valid JSON: no inf/nan, which the adapters
 * never report as values). buf holds 32 bytes; returns the length. */
size_t sl_cascade_signal_format(double v, char *buf);

/* Upper bounds of the buckets of the signal histograms, increasing: log-probabilities from -10 to 0, then
 * probabilities from 0.1 to 1 (docs/CASCADE.md). A value v falls in the first bucket whose bound is >= v. */
extern const double sl_cascade_signal_bounds[SL_GW_SIGNAL_BUCKETS];

/* The bucket of value v: the index of the first bound >= v, SL_GW_SIGNAL_BUCKETS above every bound. */
size_t sl_cascade_signal_bucket(double v);

/* The stable name of a try's reason (sl_router_reason_name of its verdict), "pending" for an open try. */
const char *sl_cascade_try_reason(const sl_cascade_try_t *t);

#endif
