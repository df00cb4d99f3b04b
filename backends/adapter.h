/*
 * adapter.h - protocol adapters: the table (types in adapter-t.h) and the helpers shared by every protocol.
 *
 * Using an adapter, per request (worker thread, all pure functions over borrowed bytes, no malloc):
 *   1. a = sl_adapter_get(route->protocol); sl_adapter_read(a, body, len, &root, &req)  -> request facts (one pass
 *      over the body where the adapter has a read callback; else sl_json_parse(body) then a->inspect(&root, &req))
 *   2. per tier: b = sl_adapter_get(tier->backend->protocol); b->encode(body, len, &req, &want, &alloc, &up)
 *      -> send up.pieces (the client's bytes, model rewritten, logprobs/usage asked when needed) to the target
 *      b->encode_path(path, path_len, backend->model, &alloc, &target)
 *   3a. buffered: b->decode(backend, status, answer, len, &ans); sl_adapter_signal(b, ..., &sig) -> judge;
 *       when the answer goes to the client: b->strip(answer, len, &req, &alloc, &out) and send out.pieces
 *   3b. streamed: sl_adapter_stream_init(&st); per SSE event: b->decode_event(data, len, &st, &ev) (TTFT on the
 *       first ev.has_content), b->strip_event(...) before forwarding; at the end sl_adapter_stream_signal()
 *   4. errors: a->format_error(&err, &alloc, &out) (the ROUTE's protocol: the client speaks it).
 *
 * Contracts common to the callbacks (adapter-t.h):
 *   inspect      SL_OK; SL_EINVAL when root is not an object (the shape openai and kserve_v2 require; http reads
 *                any JSON document). Unknown shapes are not errors: kind OTHER. Never fails on missing optional
 *                fields.
 *   read         as inspect, on the body's bytes, in one walk (openai, kserve_v2, http): SL_OK with *root and *out;
 *                SL_EINVAL where inspect gives it (*root set, *out untouched); SL_ESYNTAX / SL_ENOMEM when it is
 *                not JSON (as sl_json_parse; nothing set). Where the adapter's encode edits the body, *out also
 *                says where (located_by, edit_at): that encode then splices without walking the body again.
 *                out->repeated names a member the facts come from that occurs twice (openai: model, messages,
 *                prompt, stream, logprobs, top_logprobs, stream_options; http: model, stream): answer 400.
 *   encode       SL_OK with out->pieces covering the whole upstream body; SL_EINVAL / SL_EEXIST when the body
 *                cannot be edited safely (a duplicated "model"/"logprobs"/"stream_options" key, set or kept
 *                as the client sent it, a non-string "model"): answer 400. With nothing to change, out is one
 *                piece: the body itself.
 *   decode       SL_OK; SL_EPROTO when a 2xx answer is not a JSON document of the protocol's shape (classify as
 *                SL_FAILURE_MALFORMED). A non-2xx answer always decodes (root INVALID when it is not JSON).
 *   decode_event SL_OK; SL_EPROTO when the data is neither JSON nor the protocol's end marker.
 *   strip, strip_event
 *                SL_OK; SL_EPROTO on data that is not JSON (forward it untouched instead). With nothing to strip,
 *                out is one piece: the input itself (no copy).
 *   encode_path  SL_OK; SL_EINVAL when the path cannot carry the model (answer 400).
 *   format_error SL_OK; out is one allocated piece.
 * Every piece array and every new byte comes from the caller's allocator (sl_adapter_alloc_t); outputs are written
 * only on success.
 *
 * Adding a protocol: one file defining `const sl_adapter_t sl_adapter_<name>`, one entry in adapter.c's table, one
 * value in en_sl_protocol_t (conf/conf-t.h).
 */
#ifndef SL_BACKENDS_ADAPTER_H
#define SL_BACKENDS_ADAPTER_H

#include "backends/adapter-t.h"
#include "common/json_scan.h"

extern const sl_adapter_t sl_adapter_openai;
extern const sl_adapter_t sl_adapter_kserve_v2;
extern const sl_adapter_t sl_adapter_http;

/* The adapter of a protocol; never NULL for a value of en_sl_protocol_t (NULL for anything else). */
const sl_adapter_t *sl_adapter_get(enum en_sl_protocol_t protocol);

/* Reads the client's body with adapter a: a->read when it has one (one pass), else sl_json_parse() then
 * a->inspect(). Returns as the read contract above. */
int sl_adapter_read(const sl_adapter_t *a, const char *body, size_t len, sl_json_span_t *root, sl_adapter_request_t *out);

/* The walk of a read callback: sl_json_parse_visit(body) with visitor `on_value` (ctx, every depth). Returns SL_OK
 * with *root when the body is a JSON object; SL_EINVAL when it is JSON of another kind (*root set); as
 * sl_json_parse() otherwise (nothing set). */
int sl_adapter_read_object(const char *body, size_t len,
                           void (*on_value)(void *, const sl_json_step_t *, size_t, const sl_json_span_t *), void *ctx,
                           sl_json_span_t *root);

/* The adapter named `name` ("openai", "kserve_v2", "http"), or NULL. */
const sl_adapter_t *sl_adapter_find(const char *name);

/* Extracts signal `sig` from a decoded answer: json:<pointer> (a number at that pointer of the answer) and
 * header:<name> (a number in that response header; headers may be NULL) for every protocol, the others through
 * the adapter's own callback. sig NULL or SL_SIGNAL_NONE gives MISSING. Always fills *out. */
void sl_adapter_signal(const sl_adapter_t *a, const sl_conf_backend_t *backend, const sl_adapter_answer_t *ans,
                       const sl_adapter_headers_t *headers, const sl_conf_signal_t *sig, sl_signal_t *out);

/* Same for an accumulated stream. json: signals are MISSING on streams (no single document to point into). */
void sl_adapter_stream_signal(const sl_adapter_t *a, const sl_adapter_stream_t *state, const sl_adapter_headers_t *headers,
                              const sl_conf_signal_t *sig, sl_signal_t *out);

/* Initializes caller-owned stream state (no teardown). */
void sl_adapter_stream_init(sl_adapter_stream_t *state);

/* Alternatives per token a signal needs from an openai upstream: 0 = no logprobs, 1 = the chosen token's logprob,
 * 2 = the two best alternatives of each token (margin). */
uint32_t sl_adapter_signal_logprobs(const sl_conf_signal_t *sig);

/* Helpers for the protocol files ------------------------------------------------------------------------------- */

static inline void *sl_adapter_alloc(const sl_adapter_alloc_t *a, size_t n)
{
    return a->alloc(a->ctx, n);
}

/* out = one piece: bytes[0..len) (borrowed, not copied). The piece array comes from alloc. */
void sl_adapter_body_borrow(const sl_adapter_alloc_t *alloc, const char *bytes, size_t len, sl_adapter_body_t *out);

/* out = a copy of pieces[0..n) (the array is copied into alloc memory; the bytes stay borrowed). */
void sl_adapter_body_pieces(const sl_adapter_alloc_t *alloc, const sl_json_piece_t *pieces, size_t n, sl_adapter_body_t *out);

/* encode_path of protocols whose model is not in the path: *out = the client's path, borrowed. Returns SL_OK. */
int sl_adapter_path_unchanged(const char *path, size_t len, const char *model, const sl_adapter_alloc_t *alloc,
                              sl_json_piece_t *out);

/* Returns allocated "\"<escaped s>\"" and its length in *len (for a model name written into JSON). */
char *sl_adapter_quote(const sl_adapter_alloc_t *alloc, const char *s, size_t *len);

/* want->model as a JSON string: want->model_quoted when the caller has it ready, else sl_adapter_quote(). */
const char *sl_adapter_want_model(const sl_adapter_want_t *want, const sl_adapter_alloc_t *alloc, size_t *len);

/* Writes s as a quoted, escaped JSON string, or null when s is NULL, to dst (room: 6 * strlen(s) + 4 bytes);
 * returns the bytes written. */
size_t sl_adapter_put_json_string(char *dst, const char *s);

static inline void sl_signal_set_value(sl_signal_t *out, double v)
{
    out->state = SL_SIGNAL_VALUE;
    out->value = v;
    out->reason = NULL;
}

static inline void sl_signal_set_missing(sl_signal_t *out, const char *reason)
{
    out->state = SL_SIGNAL_MISSING;
    out->value = 0;
    out->reason = reason;
}

static inline void sl_signal_set_unparsable(sl_signal_t *out, const char *reason)
{
    out->state = SL_SIGNAL_UNPARSABLE;
    out->value = 0;
    out->reason = reason;
}

/* Reads a number at JSON pointer ptr of root into *out (MISSING when nothing is there, UNPARSABLE when it is not a
 * finite number). */
void sl_adapter_signal_at(const sl_json_span_t *root, const char *ptr, sl_signal_t *out);

/* Top-1 probability and top-1 minus top-2 margin of a probability vector (a NUMBER: top_prob only; an ARRAY of
 * numbers, nested arrays read row-major, only the first `row` leaves when row > 0). *top_class gets the index of
 * the top class (-1 when none). Values must lie in [0, 1]: sluice does not apply a softmax. */
void sl_adapter_class_signal(const sl_json_span_t *probs, size_t row, enum en_sl_signal_kind_t kind, sl_signal_t *out,
                             int64_t *top_class);

/* Sum of the unescaped byte lengths of every string VALUE inside v (object keys excluded), for prompt sizes. */
uint64_t sl_adapter_text_bytes(const sl_json_span_t *v);

/* ceil(bytes / 4): the prompt token estimate every adapter uses. */
static inline uint64_t sl_adapter_tokens_estimate(uint64_t bytes)
{
    return bytes / 4 + (bytes % 4 != 0);
}

#endif
