/*
 * openai_stream.c - the openai protocol on SSE streams: decoding chunk events into a fixed-size signal state, and
 * removing from what the client receives the logprobs and the usage chunk it did not ask for (the same stripping
 * serves whole answers). See openai.c for the protocol notes.
 *
 * A stream is decoded one event at a time as it passes: the state keeps sums, the minimum and the first token's
 * alternatives, never a pointer into an earlier event, so the gateway may free each event once forwarded.
 */
#include "backends/openai_internal.h"
#include "common/status.h"

#include <string.h>

static void acc_load(logprob_acc_t *acc, const sl_adapter_stream_t *st)
{
    acc->count = st->logprob_count;
    acc->sum = st->logprob_sum;
    acc->min = st->logprob_min;
    acc->bad = st->logprob_bad;
    acc->first_seen = st->first_seen;
    acc->first = st->first_logprob;
    acc->top_n = st->first_top_n;
    acc->top[0] = st->first_top[0];
    acc->top[1] = st->first_top[1];
}

static void acc_store(const logprob_acc_t *acc, sl_adapter_stream_t *st)
{
    st->logprob_count = acc->count;
    st->logprob_sum = acc->sum;
    st->logprob_min = acc->min;
    st->logprob_bad = acc->bad;
    st->first_seen = acc->first_seen;
    st->first_logprob = acc->first;
    st->first_top_n = acc->top_n;
    st->first_top[0] = acc->top[0];
    st->first_top[1] = acc->top[1];
}

/* Whether a choice of a chunk carries answer text (or a tool call, a refusal, reasoning). */
static int choice_has_content(const sl_json_span_t *choice)
{
    static const char *const keys[] = {"content", "reasoning_content", "refusal", "tool_calls"};
    sl_json_span_t delta, v;
    if (sl_json_find_key(choice, "delta", 5, &delta) != SL_OK || delta.type != SL_JSON_OBJECT)
        return sl_json_find_key(choice, "text", 4, &v) == SL_OK && v.type == SL_JSON_STRING && v.len > 2;
    for (size_t i = 0; i != sizeof(keys) / sizeof(keys[0]); ++i) {
        if (sl_json_find_key(&delta, keys[i], strlen(keys[i]), &v) != SL_OK)
            continue;
        sl_json_iter_t it;
        sl_json_span_t first;
        if ((v.type == SL_JSON_STRING && v.len > 2) ||
            (v.type == SL_JSON_ARRAY && sl_json_iter_init(&it, &v) == SL_OK && sl_json_iter_next(&it, NULL, &first) == SL_OK))
            return 1;
    }
    return 0;
}

int sl_openai__decode_event(const char *data, size_t len, sl_adapter_stream_t *st, sl_adapter_event_t *out)
{
    sl_adapter_event_t ev = {SL_ADAPTER_EVENT_CHUNK, 0, 0};
    sl_json_span_t root, choices, c, idx, logprobs, err;
    while (len != 0 && (data[len - 1] == ' ' || data[len - 1] == '\n' || data[len - 1] == '\r'))
        --len;
    while (len != 0 && (data[0] == ' ' || data[0] == '\n' || data[0] == '\r'))
        ++data, --len;
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
        ev.kind = SL_ADAPTER_EVENT_DONE;
        st->done = 1;
        st->events++;
        *out = ev;
        return SL_OK;
    }
    if (sl_json_parse(data, len, &root) != SL_OK || root.type != SL_JSON_OBJECT)
        return SL_EPROTO;
    st->events++;
    if (sl_json_find_key(&root, "error", 5, &err) == SL_OK && err.type != SL_JSON_NULL) {
        ev.kind = SL_ADAPTER_EVENT_ERROR;
        st->failed = 1;
        *out = ev;
        return SL_OK;
    }
    sl_openai__read_usage(&root, &st->has_usage, &st->prompt_tokens, &st->completion_tokens);
    size_t num_choices = 0;
    sl_json_iter_t it;
    if (sl_json_find_key(&root, "choices", 7, &choices) == SL_OK && sl_json_iter_init(&it, &choices) == SL_OK &&
        choices.type == SL_JSON_ARRAY) {
        logprob_acc_t acc;
        acc_load(&acc, st);
        while (sl_json_iter_next(&it, NULL, &c) == SL_OK) {
            ++num_choices;
            if (c.type != SL_JSON_OBJECT)
                continue;
            uint64_t i = 0;
            if (sl_json_find_key(&c, "index", 5, &idx) == SL_OK)
                sl_json_get_uint64(&idx, &i);
            int content = choice_has_content(&c);
            uint32_t tokens = 0;
            if (sl_json_find_key(&c, "logprobs", 8, &logprobs) == SL_OK && logprobs.type == SL_JSON_OBJECT) {
                logprob_acc_t other;
                memset(&other, 0, sizeof(other));
                tokens = sl_openai__acc_logprobs(i == 0 ? &acc : &other, &logprobs);
            }
            if (tokens == 0 && content)
                tokens = 1;
            ev.tokens += tokens;
            ev.has_content |= content;
        }
        acc_store(&acc, st);
    }
    if (num_choices == 0 && st->has_usage && sl_json_find_key(&root, "usage", 5, &c) == SL_OK && c.type == SL_JSON_OBJECT)
        ev.kind = SL_ADAPTER_EVENT_USAGE;
    st->output_tokens += ev.tokens;
    *out = ev;
    return SL_OK;
}

void sl_openai__stream_signal(const sl_adapter_stream_t *st, enum en_sl_signal_kind_t kind, sl_signal_t *out)
{
    logprob_acc_t acc;
    acc_load(&acc, st);
    sl_openai__acc_signal(&acc, kind, out);
}

/* Collects, in document order, the spans to replace with null: every non-null "logprobs" of every choice (when
 * logprobs), and the top-level non-null "usage" (when usage). Counts when spans is NULL. *choices_seen gets the
 * number of choices. */
static size_t collect_strip(const sl_json_span_t *root, int logprobs, int usage, sl_json_span_t *spans, size_t *choices_seen)
{
    sl_json_iter_t it, cit, mit;
    sl_json_span_t k, v, c, mk, mv;
    size_t n = 0;
    *choices_seen = 0;
    sl_json_iter_init(&it, root);
    while (sl_json_iter_next(&it, &k, &v) == SL_OK) {
        if (usage && v.type != SL_JSON_NULL && KEY_IS(&k, "usage")) {
            if (spans != NULL)
                spans[n] = v;
            ++n;
        } else if (v.type == SL_JSON_ARRAY && KEY_IS(&k, "choices")) {
            sl_json_iter_init(&cit, &v);
            while (sl_json_iter_next(&cit, NULL, &c) == SL_OK) {
                ++*choices_seen;
                if (!logprobs || sl_json_iter_init(&mit, &c) != SL_OK || c.type != SL_JSON_OBJECT)
                    continue;
                while (sl_json_iter_next(&mit, &mk, &mv) == SL_OK) {
                    if (mv.type != SL_JSON_NULL && KEY_IS(&mk, "logprobs")) {
                        if (spans != NULL)
                            spans[n] = mv;
                        ++n;
                    }
                }
            }
        }
    }
    return n;
}

static int strip_common(const char *body, size_t len, int logprobs, int usage, const sl_adapter_alloc_t *alloc,
                        sl_adapter_body_t *out, int *drop)
{
    sl_json_span_t root;
    size_t choices;
    if (sl_json_parse(body, len, &root) != SL_OK || root.type != SL_JSON_OBJECT)
        return SL_EPROTO;
    *drop = 0;
    size_t n = collect_strip(&root, logprobs, usage, NULL, &choices);
    if (usage && choices == 0 && n != 0) { /* the usage chunk only a stream that asked for it gets */
        *drop = 1;
        sl_adapter_body_borrow(alloc, body, 0, out);
        return SL_OK;
    }
    if (n == 0) {
        sl_adapter_body_borrow(alloc, body, len, out);
        return SL_OK;
    }
    sl_json_span_t *spans = sl_adapter_alloc(alloc, n * sizeof(*spans));
    collect_strip(&root, logprobs, usage, spans, &choices);
    sl_json_piece_t *pieces = sl_adapter_alloc(alloc, (2 * n + 1) * sizeof(*pieces));
    size_t np = 0;
    const char *cursor = body;
    for (size_t i = 0; i != n; ++i) {
        pieces[np++] = (sl_json_piece_t){cursor, (size_t)(spans[i].p - cursor)};
        pieces[np++] = (sl_json_piece_t){"null", 4};
        cursor = spans[i].p + spans[i].len;
    }
    pieces[np++] = (sl_json_piece_t){cursor, (size_t)(body + len - cursor)};
    out->pieces = pieces;
    out->num_pieces = np;
    out->len = sl_json_pieces_len(pieces, np);
    return SL_OK;
}

int sl_openai__strip(const char *body, size_t len, const sl_adapter_request_t *req, const sl_adapter_alloc_t *alloc,
                     sl_adapter_body_t *out)
{
    int drop;
    if (req->logprobs) {
        sl_adapter_body_borrow(alloc, body, len, out);
        return SL_OK;
    }
    return strip_common(body, len, 1, 0, alloc, out, &drop);
}

int sl_openai__strip_event(const char *data, size_t len, const sl_adapter_request_t *req, const sl_adapter_alloc_t *alloc,
                           sl_adapter_body_t *out, int *drop)
{
    const char *p = data;
    size_t n = len;
    while (n != 0 && (p[0] == ' ' || p[0] == '\n' || p[0] == '\r'))
        ++p, --n;
    if ((req->logprobs && req->usage) || (n >= 6 && memcmp(p, "[DONE]", 6) == 0)) {
        sl_adapter_body_borrow(alloc, data, len, out);
        *drop = 0;
        return SL_OK;
    }
    return strip_common(data, len, !req->logprobs, !req->usage, alloc, out, drop);
}
