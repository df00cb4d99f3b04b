/*
 * adapter.c - the adapter table and what every protocol shares: json:/header: signals, probability vectors, prompt
 * text sizes, piece bodies in caller memory. See adapter.h.
 *
 * The table is indexed by en_sl_protocol_t and read-only. Nothing here allocates except through the caller's
 * allocator; nothing keeps state; any thread.
 */
#include "backends/adapter.h"
#include "common/status.h"

#include <math.h>
#include <string.h>

static const sl_adapter_t *const table[] = {
    [SL_PROTOCOL_OPENAI] = &sl_adapter_openai,
    [SL_PROTOCOL_KSERVE_V2] = &sl_adapter_kserve_v2,
    [SL_PROTOCOL_HTTP] = &sl_adapter_http,
};

#define TABLE_SIZE (sizeof(table) / sizeof(table[0]))

const sl_adapter_t *sl_adapter_get(enum en_sl_protocol_t protocol)
{
    return (size_t)protocol < TABLE_SIZE ? table[protocol] : NULL;
}

int sl_adapter_read_object(const char *body, size_t len,
                           void (*on_value)(void *, const sl_json_step_t *, size_t, const sl_json_span_t *), void *ctx,
                           sl_json_span_t *root)
{
    sl_json_visitor_t visitor = {on_value, ctx, SL_JSON_MAX_DEPTH};
    sl_json_span_t rt;
    int ret = sl_json_parse_visit(body, len, &rt, &visitor);
    if (ret != SL_OK)
        return ret;
    *root = rt;
    return rt.type == SL_JSON_OBJECT ? SL_OK : SL_EINVAL;
}

int sl_adapter_read(const sl_adapter_t *a, const char *body, size_t len, sl_json_span_t *root, sl_adapter_request_t *out)
{
    if (a->read != NULL)
        return a->read(body, len, root, out);
    sl_json_span_t r;
    int ret = sl_json_parse(body, len, &r);
    if (ret != SL_OK)
        return ret;
    *root = r;
    return a->inspect(&r, out);
}

const sl_adapter_t *sl_adapter_find(const char *name)
{
    for (size_t i = 0; i != TABLE_SIZE; ++i)
        if (table[i] != NULL && strcmp(table[i]->name, name) == 0)
            return table[i];
    return NULL;
}

void sl_adapter_stream_init(sl_adapter_stream_t *state)
{
    memset(state, 0, sizeof(*state));
}

uint32_t sl_adapter_signal_logprobs(const sl_conf_signal_t *sig)
{
    if (sig == NULL)
        return 0;
    switch (sig->kind) {
    case SL_SIGNAL_LOGPROB_MEAN:
    case SL_SIGNAL_LOGPROB_MIN:
    case SL_SIGNAL_TOP_PROB:
        return 1;
    case SL_SIGNAL_MARGIN:
        return 2;
    default:
        return 0;
    }
}

void sl_adapter_body_borrow(const sl_adapter_alloc_t *alloc, const char *bytes, size_t len, sl_adapter_body_t *out)
{
    sl_json_piece_t piece = {bytes, len};
    sl_adapter_body_pieces(alloc, &piece, 1, out);
}

void sl_adapter_body_pieces(const sl_adapter_alloc_t *alloc, const sl_json_piece_t *pieces, size_t n, sl_adapter_body_t *out)
{
    sl_json_piece_t *copy = sl_adapter_alloc(alloc, (n != 0 ? n : 1) * sizeof(*copy));
    memcpy(copy, pieces, n * sizeof(*copy));
    out->pieces = copy;
    out->num_pieces = n;
    out->len = sl_json_pieces_len(pieces, n);
}

int sl_adapter_path_unchanged(const char *path, size_t len, const char *model, const sl_adapter_alloc_t *alloc,
                              sl_json_piece_t *out)
{
    out->base = path;
    out->len = len;
    return SL_OK;
}

char *sl_adapter_quote(const sl_adapter_alloc_t *alloc, const char *s, size_t *len)
{
    size_t n = strlen(s);
    char *q = sl_adapter_alloc(alloc, 6 * n + 2);
    q[0] = '"';
    size_t w = 1 + sl_json_escape(s, n, q + 1);
    q[w++] = '"';
    *len = w;
    return q;
}

const char *sl_adapter_want_model(const sl_adapter_want_t *want, const sl_adapter_alloc_t *alloc, size_t *len)
{
    if (want->model_quoted != NULL) {
        *len = want->model_quoted_len;
        return want->model_quoted;
    }
    return sl_adapter_quote(alloc, want->model, len);
}

size_t sl_adapter_put_json_string(char *dst, const char *s)
{
    if (s == NULL) {
        memcpy(dst, "null", 4);
        return 4;
    }
    dst[0] = '"';
    size_t w = 1 + sl_json_escape(s, strlen(s), dst + 1);
    dst[w++] = '"';
    return w;
}

/* Parses a whole span as a number into *out: MISSING/UNPARSABLE with reasons on failure. */
static void number_signal(const sl_json_span_t *v, sl_signal_t *out)
{
    double d;
    if (v->type != SL_JSON_NUMBER) {
        sl_signal_set_unparsable(out, "not a number");
        return;
    }
    if (sl_json_get_double(v, &d) != SL_OK) {
        sl_signal_set_unparsable(out, "number out of range");
        return;
    }
    sl_signal_set_value(out, d);
}

void sl_adapter_signal_at(const sl_json_span_t *root, const char *ptr, sl_signal_t *out)
{
    sl_json_span_t v;
    if (root->type == SL_JSON_INVALID) {
        sl_signal_set_missing(out, "answer is not JSON");
        return;
    }
    int ret = sl_json_find_pointer(root, ptr, strlen(ptr), &v);
    if (ret == SL_ENOENT) {
        sl_signal_set_missing(out, "no value at the signal's JSON pointer");
        return;
    }
    if (ret != SL_OK) {
        sl_signal_set_unparsable(out, "answer cannot be walked to the signal's JSON pointer");
        return;
    }
    number_signal(&v, out);
}

static void header_signal(const sl_adapter_headers_t *headers, const char *name, sl_signal_t *out)
{
    size_t len;
    const char *value = headers != NULL && name != NULL ? headers->get(headers->ctx, name, strlen(name), &len) : NULL;
    if (value == NULL) {
        sl_signal_set_missing(out, "no such response header");
        return;
    }
    while (len != 0 && (value[0] == ' ' || value[0] == '\t'))
        ++value, --len;
    while (len != 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
        --len;
    sl_json_span_t v;
    if (sl_json_parse(value, len, &v) != SL_OK || v.type != SL_JSON_NUMBER) {
        sl_signal_set_unparsable(out, "response header is not a number");
        return;
    }
    number_signal(&v, out);
}

void sl_adapter_signal(const sl_adapter_t *a, const sl_conf_backend_t *backend, const sl_adapter_answer_t *ans,
                       const sl_adapter_headers_t *headers, const sl_conf_signal_t *sig, sl_signal_t *out)
{
    if (sig == NULL || sig->kind == SL_SIGNAL_NONE) {
        sl_signal_set_missing(out, "no signal configured");
        return;
    }
    switch (sig->kind) {
    case SL_SIGNAL_JSON:
        sl_adapter_signal_at(&ans->root, sig->arg != NULL ? sig->arg : "", out);
        return;
    case SL_SIGNAL_HEADER:
        header_signal(headers, sig->arg, out);
        return;
    default:
        if (ans->status < 200 || ans->status > 299) {
            sl_signal_set_missing(out, "upstream answer is not a success");
            return;
        }
        a->signal(backend, ans, sig->kind, out);
        return;
    }
}

void sl_adapter_stream_signal(const sl_adapter_t *a, const sl_adapter_stream_t *state, const sl_adapter_headers_t *headers,
                              const sl_conf_signal_t *sig, sl_signal_t *out)
{
    if (sig == NULL || sig->kind == SL_SIGNAL_NONE) {
        sl_signal_set_missing(out, "no signal configured");
        return;
    }
    switch (sig->kind) {
    case SL_SIGNAL_JSON:
        sl_signal_set_missing(out, "json signals are not available on streams");
        return;
    case SL_SIGNAL_HEADER:
        header_signal(headers, sig->arg, out);
        return;
    default:
        if (state->failed) {
            sl_signal_set_missing(out, "stream carried an error event");
            return;
        }
        a->stream_signal(state, sig->kind, out);
        return;
    }
}

void sl_adapter_class_signal(const sl_json_span_t *probs, size_t row, enum en_sl_signal_kind_t kind, sl_signal_t *out,
                             int64_t *top_class)
{
    double top1 = -1, top2 = -1;
    int64_t best = -1;
    size_t n = 0;
    *top_class = -1;
    if (probs->type == SL_JSON_NUMBER) {
        number_signal(probs, out);
        if (out->state != SL_SIGNAL_VALUE)
            return;
        if (!(out->value >= 0 && out->value <= 1)) {
            sl_signal_set_unparsable(out, "confidence outside [0, 1]");
            return;
        }
        if (kind == SL_SIGNAL_MARGIN)
            sl_signal_set_missing(out, "margin needs a probability vector, got one number");
        return;
    }
    sl_json_leaf_iter_t it;
    if (sl_json_leaf_init(&it, probs) != SL_OK) {
        sl_signal_set_unparsable(out, "probabilities are neither a number nor an array");
        return;
    }
    sl_json_span_t leaf;
    int ret = SL_ENOENT;
    while ((row == 0 || n < row) && (ret = sl_json_leaf_next(&it, &leaf)) == SL_OK) {
        double p;
        if (leaf.type != SL_JSON_NUMBER || sl_json_get_double(&leaf, &p) != SL_OK) {
            sl_signal_set_unparsable(out, "probability vector holds a non-number");
            return;
        }
        if (!(p >= 0 && p <= 1)) {
            sl_signal_set_unparsable(out, "probability outside [0, 1]");
            return;
        }
        if (p > top1) {
            top2 = top1;
            top1 = p;
            best = (int64_t)n;
        } else if (p > top2)
            top2 = p;
        ++n;
    }
    if (row == 0 || n < row) {
        if (ret != SL_ENOENT) {
            sl_signal_set_unparsable(out, "probability vector holds a non-number");
            return;
        }
    }
    if (n == 0) {
        sl_signal_set_missing(out, "empty probability vector");
        return;
    }
    *top_class = best;
    if (kind == SL_SIGNAL_MARGIN) {
        if (n < 2)
            sl_signal_set_missing(out, "margin needs at least two classes");
        else
            sl_signal_set_value(out, top1 - top2);
    } else
        sl_signal_set_value(out, top1);
}

uint64_t sl_adapter_text_bytes(const sl_json_span_t *v)
{
    if (v->type == SL_JSON_STRING)
        return sl_json_string_len(v);
    if (v->type != SL_JSON_ARRAY && v->type != SL_JSON_OBJECT)
        return 0;
    /* The span was validated: every '"' outside a string opens a string, which is a key exactly when the next
     * non-blank byte is ':'. */
    uint64_t total = 0;
    const char *p = v->p, *end = v->p + v->len;
    while (p != end) {
        if (*p != '"') {
            ++p;
            continue;
        }
        sl_json_span_t s;
        size_t used;
        if (sl_json_scan(p, (size_t)(end - p), &s, &used) != SL_OK)
            return total;
        p += used;
        const char *q = p;
        while (q != end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'))
            ++q;
        if (q == end || *q != ':')
            total += sl_json_string_len(&s);
    }
    return total;
}
