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
 *
 * Reading is one pass (read): sl_json_parse_visit() validates the body and hands every value to on_value, which adds
 * up the bytes of the string values and keeps the first top-level "model" (where encode rewrites it, and how often
 * it occurs) and "stream", and which of the two repeats first. inspect walks a validated root instead (find_key,
 * then every string of the body): it is the definition read is tested against, and what reads a body some other
 * adapter validated. Any JSON document is a request: a body that is not an object has facts too (no model, no
 * stream) and nothing is rewritten in it.
 */
#include "backends/adapter.h"
#include "common/status.h"

#include <string.h>

/* The first of "model" and "stream" to occur a second time among the members of an object root, NULL when neither. */
static const char *http_repeated(const sl_json_span_t *root)
{
    sl_json_iter_t it;
    sl_json_span_t k, v;
    int models = 0, streams = 0;
    if (sl_json_iter_init(&it, root) != SL_OK)
        return NULL;
    while (sl_json_iter_next(&it, &k, &v) == SL_OK) {
        if (sl_json_string_eq(&k, "model", 5) && ++models == 2)
            return "model";
        if (sl_json_string_eq(&k, "stream", 6) && ++streams == 2)
            return "stream";
    }
    return NULL;
}

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
        r.repeated = http_repeated(root);
    }
    r.prompt_bytes = sl_adapter_text_bytes(root);
    r.prompt_tokens = sl_adapter_tokens_estimate(r.prompt_bytes);
    *out = r;
    return SL_OK;
}

/* What the one pass collects. */
typedef struct st_http_read_t {
    uint64_t text_bytes;          /* string values at depth >= 1 */
    sl_json_span_t model, stream; /* first top-level occurrences; p NULL until seen */
    uint8_t model_count;          /* top-level "model" members, 2 standing for more */
    const char *repeated;         /* "model" or "stream" when it occurs again, the first such; NULL before */
    size_t num_members;           /* the root's members */
} http_read_t;

static void http_on_value(void *ctx, const sl_json_step_t *path, size_t depth, const sl_json_span_t *v)
{
    static const sl_json_piece_t names[] = {{"model", 5}, {"stream", 6}};
    http_read_t *s = ctx;
    if (v->type == SL_JSON_STRING)
        s->text_bytes += sl_json_string_len(v);
    if (depth != 1 || path[0].key.type == SL_JSON_INVALID)
        return; /* only the members of an object root are looked at */
    s->num_members = path[0].index + 1;
    const sl_json_span_t *k = &path[0].key;
    if (k->plain && k->len != 7 && k->len != 8)
        return; /* a plain key of another length is neither name */
    switch (sl_json_string_index(k, names, 2)) {
    case 0:
        if (s->model.p == NULL)
            s->model = *v;
        if (s->model_count < 2)
            s->model_count++;
        if (s->model_count == 2 && s->repeated == NULL)
            s->repeated = "model";
        break;
    case 1:
        if (s->stream.p == NULL)
            s->stream = *v;
        else if (s->repeated == NULL)
            s->repeated = "stream";
        break;
    default:
        break;
    }
}

static int http_read(const char *body, size_t len, sl_json_span_t *root, sl_adapter_request_t *out)
{
    static const sl_json_span_t none = {NULL, 0, SL_JSON_INVALID, 0};
    http_read_t s = {0, none, none, 0, NULL, 0};
    sl_json_visitor_t visitor = {http_on_value, &s, SL_JSON_MAX_DEPTH};
    sl_json_span_t rt;
    int ret = sl_json_parse_visit(body, len, &rt, &visitor);
    if (ret != SL_OK)
        return ret;
    sl_adapter_request_t r;
    memset(&r, 0, sizeof(r));
    r.kind = SL_ADAPTER_KIND_JSON;
    r.root = rt;
    r.model = s.model.type == SL_JSON_STRING ? s.model : none;
    r.stream = s.stream.type == SL_JSON_TRUE;
    r.repeated = s.repeated;
    r.prompt_bytes = rt.type == SL_JSON_STRING ? sl_json_string_len(&rt) : s.text_bytes; /* the root is no member */
    r.prompt_tokens = sl_adapter_tokens_estimate(r.prompt_bytes);
    if (rt.type == SL_JSON_OBJECT) {
        r.located_by = &sl_adapter_http;
        r.num_members = (uint32_t)s.num_members;
        for (size_t i = 0; i != SL_ADAPTER_EDIT_KEYS; ++i)
            r.edit_at[i] = none;
        r.edit_at[SL_ADAPTER_EDIT_MODEL] = s.model;
        r.edit_count[SL_ADAPTER_EDIT_MODEL] = s.model_count;
    }
    *root = rt;
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
    int ret;
    if (req->located_by == &sl_adapter_http) { /* where the read found "model": no walk of the body */
        if (req->edit_count[SL_ADAPTER_EDIT_MODEL] > 1)
            return SL_EEXIST;
        ret = sl_json_edit_object_at(body, len, &req->root, &e, 1, &req->edit_at[SL_ADAPTER_EDIT_MODEL], req->num_members,
                                     pieces, SL_JSON_EDIT_PIECES(1), &np);
    } else {
        ret = sl_json_edit_object(body, len, &req->root, &e, 1, pieces, SL_JSON_EDIT_PIECES(1), &np);
    }
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
    .read = http_read,
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
