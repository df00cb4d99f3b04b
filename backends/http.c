/*
 * http.c - any JSON-over-HTTP model service: the backend's configuration says where the prediction and the
 * confidence live in the answer (prediction_pointer, confidence_pointer: RFC 6901 JSON pointers).
 *
 * Request facts: kind JSON; prompt bytes are the bytes of every string value of the body (keys excluded), the
 * only measure that does not presume a schema; "stream": true at the top level marks a stream; "model" at the
 * top level is the model (and is rewritten when the backend names one; nothing is inserted into a body that is
 * not an object).
 * Signals: top_prob and margin read the value at confidence_pointer: a number in [0, 1] is the top probability
 * (margin then is missing), an array (nested arrays read row-major) is a probability vector. json:<pointer> and
 * header:<name> work as for every protocol. No token logprobs.
 * Errors: {"error": {"message": "...", "code": "..."}} (code: the error's code, else its type).
 */
#include "backends/adapter.h"
#include "common/status.h"

#include <string.h>

static int http_inspect(const sl_json_span_t *root, sl_adapter_request_t *out)
{
    sl_adapter_request_t r;
    memset(&r, 0, sizeof(r));
    r.kind = SL_ADAPTER_KIND_JSON;
    r.root = *root;
    r.model.type = SL_JSON_INVALID;
    sl_json_span_t v;
    if (root->type == SL_JSON_OBJECT) {
        if (sl_json_find_key(root, "model", 5, &v) == SL_OK && v.type == SL_JSON_STRING)
            r.model = v;
        r.stream = sl_json_find_key(root, "stream", 6, &v) == SL_OK && v.type == SL_JSON_TRUE;
    }
    r.prompt_bytes = sl_adapter_text_bytes(root);
    r.prompt_tokens = sl_adapter_tokens_estimate(r.prompt_bytes);
    *out = r;
    return SL_OK;
}

static int http_encode(const char *body, size_t len, const sl_adapter_request_t *req, const sl_adapter_want_t *want,
                       const sl_adapter_alloc_t *alloc, sl_adapter_body_t *out)
{
    if (want->model == NULL || req->root.type != SL_JSON_OBJECT) {
        sl_adapter_body_borrow(alloc, body, len, out);
        return SL_OK;
    }
    size_t qlen;
    const char *q = sl_adapter_want_model(want, alloc, &qlen);
    sl_json_edit_t e = {"model", 5, q, qlen, 0};
    sl_json_piece_t pieces[SL_JSON_EDIT_PIECES(1)];
    size_t np;
    int ret = sl_json_edit_object(body, len, &req->root, &e, 1, pieces, SL_JSON_EDIT_PIECES(1), &np);
    if (ret != SL_OK)
        return ret;
    sl_adapter_body_pieces(alloc, pieces, np, out);
    return SL_OK;
}

static int http_decode(const sl_conf_backend_t *backend, int status, const char *body, size_t len, sl_adapter_answer_t *out)
{
    sl_adapter_answer_t a;
    memset(&a, 0, sizeof(a));
    a.status = status;
    a.prediction_class = -1;
    int ok = status >= 200 && status <= 299;
    if (sl_json_parse(body, len, &a.root) != SL_OK) {
        if (ok)
            return SL_EPROTO;
        a.root.type = SL_JSON_INVALID;
        *out = a;
        return SL_OK;
    }
    sl_json_span_t conf;
    if (ok && backend != NULL && backend->confidence_pointer != NULL &&
        sl_json_find_pointer(&a.root, backend->confidence_pointer, strlen(backend->confidence_pointer), &conf) == SL_OK &&
        conf.type == SL_JSON_ARRAY) {
        sl_signal_t sig;
        sl_adapter_class_signal(&conf, 0, SL_SIGNAL_TOP_PROB, &sig, &a.prediction_class);
    }
    if (ok && backend != NULL && backend->prediction_pointer != NULL &&
        sl_json_find_pointer(&a.root, backend->prediction_pointer, strlen(backend->prediction_pointer), &a.prediction) != SL_OK)
        a.prediction.type = SL_JSON_INVALID;
    *out = a;
    return SL_OK;
}

static void http_signal(const sl_conf_backend_t *backend, const sl_adapter_answer_t *ans, enum en_sl_signal_kind_t kind,
                        sl_signal_t *out)
{
    sl_json_span_t conf;
    int64_t top;
    if (kind != SL_SIGNAL_TOP_PROB && kind != SL_SIGNAL_MARGIN) {
        sl_signal_set_missing(out, "signal not available for protocol http");
        return;
    }
    if (backend == NULL || backend->confidence_pointer == NULL) {
        sl_signal_set_missing(out, "backend has no confidence_pointer");
        return;
    }
    int ret = sl_json_find_pointer(&ans->root, backend->confidence_pointer, strlen(backend->confidence_pointer), &conf);
    if (ret == SL_ENOENT) {
        sl_signal_set_missing(out, "no value at the backend's confidence_pointer");
        return;
    }
    if (ret != SL_OK) {
        sl_signal_set_unparsable(out, "answer cannot be walked to the backend's confidence_pointer");
        return;
    }
    sl_adapter_class_signal(&conf, 0, kind, out, &top);
}

static int http_decode_event(const char *data, size_t len, sl_adapter_stream_t *st, sl_adapter_event_t *out)
{
    sl_json_span_t root, err;
    if (sl_json_parse(data, len, &root) != SL_OK)
        return SL_EPROTO;
    st->events++;
    if (root.type == SL_JSON_OBJECT && sl_json_find_key(&root, "error", 5, &err) == SL_OK && err.type != SL_JSON_NULL) {
        st->failed = 1;
        *out = (sl_adapter_event_t){SL_ADAPTER_EVENT_ERROR, 0, 0};
        return SL_OK;
    }
    st->output_tokens++;
    *out = (sl_adapter_event_t){SL_ADAPTER_EVENT_CHUNK, 1, 1};
    return SL_OK;
}

static void http_stream_signal(const sl_adapter_stream_t *st, enum en_sl_signal_kind_t kind, sl_signal_t *out)
{
    sl_signal_set_missing(out, "signal not available on http streams");
}

static int http_strip(const char *body, size_t len, const sl_adapter_request_t *req, const sl_adapter_alloc_t *alloc,
                      sl_adapter_body_t *out)
{
    sl_adapter_body_borrow(alloc, body, len, out); /* nothing is ever asked beyond the client's request */
    return SL_OK;
}

static int http_strip_event(const char *data, size_t len, const sl_adapter_request_t *req, const sl_adapter_alloc_t *alloc,
                            sl_adapter_body_t *out, int *drop)
{
    sl_adapter_body_borrow(alloc, data, len, out);
    *drop = 0;
    return SL_OK;
}

static int http_format_error(const sl_adapter_error_t *err, const sl_adapter_alloc_t *alloc, sl_adapter_body_t *out)
{
    const char *msg = err->message != NULL ? err->message : "";
    const char *code = err->code != NULL ? err->code : err->type;
    char *buf = sl_adapter_alloc(alloc, 48 + 6 * (strlen(msg) + (code != NULL ? strlen(code) : 0)));
    size_t w = 0;
    memcpy(buf, "{\"error\":{\"message\":", 20);
    w = 20 + sl_adapter_put_json_string(buf + 20, msg);
    memcpy(buf + w, ",\"code\":", 8);
    w += 8;
    w += sl_adapter_put_json_string(buf + w, code);
    memcpy(buf + w, "}}", 2);
    w += 2;
    sl_adapter_body_borrow(alloc, buf, w, out);
    return SL_OK;
}

const sl_adapter_t sl_adapter_http = {
    .name = "http",
    .protocol = SL_PROTOCOL_HTTP,
    .inspect = http_inspect,
    .encode = http_encode,
    .encode_path = sl_adapter_path_unchanged,
    .decode = http_decode,
    .signal = http_signal,
    .decode_event = http_decode_event,
    .stream_signal = http_stream_signal,
    .strip = http_strip,
    .strip_event = http_strip_event,
    .format_error = http_format_error,
};
