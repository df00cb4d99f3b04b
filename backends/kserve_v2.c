/*
 * kserve_v2.c - the KServe / Triton v2 inference protocol (REST): POST /v2/models/<name>[/versions/<v>]/infer with
 * {"inputs": [{"name", "shape", "datatype", "data"}]}, answered by {"model_name", "outputs": [...]}.
 *
 * Request facts: kind INFER; prompt bytes are the bytes of the strings of BYTES inputs (text models), 0 for
 * numeric tensors. The protocol has no "stream" flag and no token logprobs.
 * Upstream request: the body is sent as it came; the model is named in the path (encode_path rewrites the
 * <name> segment, percent-encoding what is not an RFC 3986 unreserved character).
 * Signals: top_prob and margin read a probability tensor: the output at the backend's confidence_pointer when set,
 * else the first output whose datatype is FP16, FP32 or FP64. Its "data" may be flat (row-major, as the protocol
 * specifies) or nested; with a shape of two or more dimensions only the first row (the first instance of the
 * batch: the product of the dimensions after the first) is judged. Values must be probabilities in [0, 1].
 * The prediction is the top class of that row (prediction_class), or the value at prediction_pointer when set.
 * Errors: {"error": "<message>"}, the protocol's own shape.
 *
 * Reading is one pass (read): sl_json_parse_visit() validates the body and hands every value to on_value, which
 * follows the first top-level "inputs": per input (values arrive after their contents) the first "datatype" and the
 * string bytes of the first "data", settled when the input object itself arrives. inspect walks a validated root
 * instead (find_key and iterators): it is the definition read is tested against, and what reads a body some other
 * adapter validated. The body is sent unchanged, so the read locates no member for encode.
 */
#include "backends/adapter.h"
#include "common/status.h"

#include <string.h>

/* The facts of a request whose root is an object and whose BYTES inputs hold prompt_bytes of text. */
static int kserve_request(const sl_json_span_t *root, uint64_t prompt_bytes, sl_adapter_request_t *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = SL_ADAPTER_KIND_INFER;
    out->root = *root;
    out->model.type = SL_JSON_INVALID;
    out->prompt_bytes = prompt_bytes;
    out->prompt_tokens = sl_adapter_tokens_estimate(prompt_bytes);
    return SL_OK;
}

static int kserve_inspect(const sl_json_span_t *root, sl_adapter_request_t *out)
{
    if (root->type != SL_JSON_OBJECT)
        return SL_EINVAL;
    uint64_t bytes = 0;
    sl_json_span_t inputs, in, dt, data;
    sl_json_iter_t it;
    if (sl_json_find_key(root, "inputs", 6, &inputs) == SL_OK && sl_json_iter_init(&it, &inputs) == SL_OK &&
        inputs.type == SL_JSON_ARRAY) {
        while (sl_json_iter_next(&it, NULL, &in) == SL_OK) {
            if (in.type == SL_JSON_OBJECT && sl_json_find_key(&in, "datatype", 8, &dt) == SL_OK &&
                sl_json_string_eq(&dt, "BYTES", 5) && sl_json_find_key(&in, "data", 4, &data) == SL_OK)
                bytes += sl_adapter_text_bytes(&data);
        }
    }
    return kserve_request(root, bytes, out);
}

/* What the one pass collects. */
typedef struct st_kserve_read_t {
    sl_json_span_t inputs;  /* the first top-level "inputs"; p NULL until it has arrived */
    const char *member_key; /* the top-level member classified last ... */
    int member_is_inputs;   /* ... and whether it is "inputs" */
    const char *field_key;  /* the input member classified last ... */
    int field;              /* ... 1 "datatype", 2 "data", 0 another */
    uint64_t bytes;         /* text of the BYTES inputs completed so far */
    /* the input being read */
    int dt_seen, dt_bytes; /* its first "datatype" has arrived; it is "BYTES" */
    int data_seen;         /* its first "data" has arrived */
    uint64_t data_bytes;   /* the text bytes of that "data" (then) or of its strings so far (before) */
} kserve_read_t;

static int key_is(const sl_json_span_t *k, const sl_json_piece_t *names, size_t n)
{
    return sl_json_string_index(k, names, n) + 1;
}

static void kserve_on_value(void *ctx, const sl_json_step_t *path, size_t depth, const sl_json_span_t *v)
{
    static const sl_json_piece_t inputs_name[] = {{"inputs", 6}}, field_names[] = {{"datatype", 8}, {"data", 4}};
    kserve_read_t *s = ctx;
    if (path[0].key.type == SL_JSON_INVALID)
        return; /* the root is an array: read fails with SL_EINVAL */
    if (path[0].key.p != s->member_key) {
        s->member_key = path[0].key.p;
        s->member_is_inputs = key_is(&path[0].key, inputs_name, 1);
    }
    if (!s->member_is_inputs || s->inputs.p != NULL)
        return; /* not in the first "inputs" */
    if (depth == 1) {
        s->inputs = *v;
        return;
    }
    if (path[1].key.type != SL_JSON_INVALID)
        return; /* "inputs" is an object: no inputs */
    if (depth == 2) { /* an input: settle it, start the next */
        if (v->type == SL_JSON_OBJECT && s->dt_bytes && s->data_seen)
            s->bytes += s->data_bytes;
        s->dt_seen = s->dt_bytes = s->data_seen = 0;
        s->data_bytes = 0;
        return;
    }
    if (path[2].key.type == SL_JSON_INVALID)
        return; /* the input is an array */
    if (path[2].key.p != s->field_key) {
        s->field_key = path[2].key.p;
        s->field = key_is(&path[2].key, field_names, 2);
    }
    if (s->field == 1 && depth == 3 && !s->dt_seen) {
        s->dt_seen = 1;
        s->dt_bytes = sl_json_string_eq(v, "BYTES", 5);
    } else if (s->field == 2 && !s->data_seen) {
        if (v->type == SL_JSON_STRING)
            s->data_bytes += sl_json_string_len(v); /* a string of the data, or the data itself */
        s->data_seen = depth == 3;
    }
}

static int kserve_read(const char *body, size_t len, sl_json_span_t *root, sl_adapter_request_t *out)
{
    kserve_read_t s;
    memset(&s, 0, sizeof(s));
    int ret = sl_adapter_read_object(body, len, kserve_on_value, &s, root);
    if (ret != SL_OK)
        return ret;
    return kserve_request(root, s.inputs.type == SL_JSON_ARRAY ? s.bytes : 0, out);
}

static int kserve_encode(const char *body, size_t len, const sl_adapter_request_t *req, const sl_adapter_want_t *want,
                         const sl_adapter_alloc_t *alloc, sl_adapter_body_t *out)
{
    sl_adapter_body_borrow(alloc, body, len, out);
    return SL_OK;
}

static int kserve_encode_path(const char *path, size_t len, const char *model, const sl_adapter_alloc_t *alloc,
                              sl_json_piece_t *out)
{
    static const char prefix[] = "/v2/models/";
    static const char hex[] = "0123456789ABCDEF";
    const size_t plen = sizeof(prefix) - 1;
    if (model == NULL) {
        out->base = path;
        out->len = len;
        return SL_OK;
    }
    if (len <= plen || memcmp(path, prefix, plen) != 0)
        return SL_EINVAL;
    size_t name_end = plen;
    while (name_end != len && path[name_end] != '/' && path[name_end] != '?')
        ++name_end;
    if (name_end == plen)
        return SL_EINVAL;
    size_t mlen = strlen(model);
    char *buf = sl_adapter_alloc(alloc, len + 3 * mlen);
    memcpy(buf, path, plen);
    size_t w = plen;
    for (size_t i = 0; i != mlen; ++i) {
        unsigned char c = (unsigned char)model[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
            c == '~') {
            buf[w++] = (char)c;
        } else {
            buf[w++] = '%';
            buf[w++] = hex[c >> 4];
            buf[w++] = hex[c & 15];
        }
    }
    memcpy(buf + w, path + name_end, len - name_end);
    w += len - name_end;
    out->base = buf;
    out->len = w;
    return SL_OK;
}

/* The probability tensor's data span and the length of its first row (0 = all of it). */
static int find_probs(const sl_conf_backend_t *backend, const sl_json_span_t *root, sl_json_span_t *data, size_t *row)
{
    sl_json_span_t outputs, o, dt, shape, dim;
    sl_json_iter_t it, sit;
    *row = 0;
    if (backend != NULL && backend->confidence_pointer != NULL)
        return sl_json_find_pointer(root, backend->confidence_pointer, strlen(backend->confidence_pointer), data);
    if (sl_json_find_key(root, "outputs", 7, &outputs) != SL_OK || sl_json_iter_init(&it, &outputs) != SL_OK)
        return SL_ENOENT;
    while (sl_json_iter_next(&it, NULL, &o) == SL_OK) {
        if (o.type != SL_JSON_OBJECT || sl_json_find_key(&o, "datatype", 8, &dt) != SL_OK ||
            !(sl_json_string_eq(&dt, "FP32", 4) || sl_json_string_eq(&dt, "FP64", 4) || sl_json_string_eq(&dt, "FP16", 4)))
            continue;
        if (sl_json_find_key(&o, "data", 4, data) != SL_OK)
            return SL_ENOENT;
        if (sl_json_find_key(&o, "shape", 5, &shape) == SL_OK && sl_json_iter_init(&sit, &shape) == SL_OK) {
            uint64_t d, prod = 1;
            size_t dims = 0;
            while (sl_json_iter_next(&sit, NULL, &dim) == SL_OK && sl_json_get_uint64(&dim, &d) == SL_OK) {
                if (dims++ != 0)
                    prod = d != 0 && prod > UINT32_MAX / d ? UINT32_MAX : prod * d;
            }
            if (dims >= 2)
                *row = (size_t)prod;
        }
        return SL_OK;
    }
    return SL_ENOENT;
}

static int kserve_decode(const sl_conf_backend_t *backend, int status, const char *body, size_t len, sl_adapter_answer_t *out)
{
    sl_adapter_answer_t a;
    memset(&a, 0, sizeof(a));
    a.status = status;
    a.prediction_class = -1;
    int ok = status >= 200 && status <= 299;
    sl_json_span_t outputs;
    if (sl_json_parse(body, len, &a.root) != SL_OK || a.root.type != SL_JSON_OBJECT) {
        if (ok)
            return SL_EPROTO;
        a.root.type = SL_JSON_INVALID;
        *out = a;
        return SL_OK;
    }
    if (ok && (sl_json_find_key(&a.root, "outputs", 7, &outputs) != SL_OK || outputs.type != SL_JSON_ARRAY))
        return SL_EPROTO;
    size_t row;
    if (ok && find_probs(backend, &a.root, &a.prediction, &row) == SL_OK) {
        sl_signal_t sig;
        sl_adapter_class_signal(&a.prediction, row, SL_SIGNAL_TOP_PROB, &sig, &a.prediction_class);
    }
    if (ok && backend != NULL && backend->prediction_pointer != NULL &&
        sl_json_find_pointer(&a.root, backend->prediction_pointer, strlen(backend->prediction_pointer), &a.prediction) != SL_OK)
        a.prediction.type = SL_JSON_INVALID;
    *out = a;
    return SL_OK;
}

static void kserve_signal(const sl_conf_backend_t *backend, const sl_adapter_answer_t *ans, enum en_sl_signal_kind_t kind,
                          sl_signal_t *out)
{
    sl_json_span_t data;
    size_t row;
    int64_t top;
    if (kind != SL_SIGNAL_TOP_PROB && kind != SL_SIGNAL_MARGIN) {
        sl_signal_set_missing(out, "signal not available for protocol kserve_v2");
        return;
    }
    int ret = find_probs(backend, &ans->root, &data, &row);
    if (ret == SL_ENOENT) {
        sl_signal_set_missing(out, "answer has no floating-point output tensor");
        return;
    }
    if (ret != SL_OK) {
        sl_signal_set_unparsable(out, "answer cannot be walked to the probability tensor");
        return;
    }
    sl_adapter_class_signal(&data, row, kind, out, &top);
}

static int kserve_decode_event(const char *data, size_t len, sl_adapter_stream_t *st, sl_adapter_event_t *out)
{
    sl_json_span_t root, err;
    if (sl_json_parse(data, len, &root) != SL_OK)
        return SL_EPROTO;
    st->events++;
    if (root.type == SL_JSON_OBJECT && sl_json_find_key(&root, "error", 5, &err) == SL_OK) {
        st->failed = 1;
        *out = (sl_adapter_event_t){SL_ADAPTER_EVENT_ERROR, 0, 0};
        return SL_OK;
    }
    st->output_tokens++;
    *out = (sl_adapter_event_t){SL_ADAPTER_EVENT_CHUNK, 1, 1};
    return SL_OK;
}

static void kserve_stream_signal(const sl_adapter_stream_t *st, enum en_sl_signal_kind_t kind, sl_signal_t *out)
{
    sl_signal_set_missing(out, "signal not available on kserve_v2 streams");
}

static int kserve_strip(const char *body, size_t len, const sl_adapter_request_t *req, const sl_adapter_alloc_t *alloc,
                        sl_adapter_body_t *out)
{
    sl_adapter_body_borrow(alloc, body, len, out); /* sluice never asks a kserve upstream for more than the client */
    return SL_OK;
}

static int kserve_strip_event(const char *data, size_t len, const sl_adapter_request_t *req, const sl_adapter_alloc_t *alloc,
                              sl_adapter_body_t *out, int *drop)
{
    sl_adapter_body_borrow(alloc, data, len, out);
    *drop = 0;
    return SL_OK;
}

static int kserve_format_error(const sl_adapter_error_t *err, const sl_adapter_alloc_t *alloc, sl_adapter_body_t *out)
{
    const char *msg = err->message != NULL ? err->message : "";
    char *buf = sl_adapter_alloc(alloc, 16 + 6 * strlen(msg));
    size_t w = 0;
    memcpy(buf, "{\"error\":", 9);
    w = 9 + sl_adapter_put_json_string(buf + 9, msg);
    buf[w++] = '}';
    sl_adapter_body_borrow(alloc, buf, w, out);
    return SL_OK;
}

const sl_adapter_t sl_adapter_kserve_v2 = {
    .name = "kserve_v2",
    .protocol = SL_PROTOCOL_KSERVE_V2,
    .inspect = kserve_inspect,
    .read = kserve_read,
    .encode = kserve_encode,
    .encode_path = kserve_encode_path,
    .decode = kserve_decode,
    .signal = kserve_signal,
    .decode_event = kserve_decode_event,
    .stream_signal = kserve_stream_signal,
    .strip = kserve_strip,
    .strip_event = kserve_strip_event,
    .format_error = kserve_format_error,
};
