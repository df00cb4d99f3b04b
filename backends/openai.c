/*
 * openai.c - the OpenAI-compatible protocol (OpenAI, vLLM, TGI, llama.cpp, Ollama ...): /v1/chat/completions and
 * the legacy /v1/completions, whole answers and SSE streams.
 *
 * Request facts. The shape is told by the body: "messages" -> chat, else "prompt" -> completions, else OTHER.
 * Prompt bytes count the text the model reads: chat message "content" strings and the "text" of content parts
 * (images and audio are not counted); completions "prompt" strings, and 4 bytes per token id when the prompt is
 * given as token ids (so the estimate is then exact). prompt_tokens = ceil(bytes / 4).
 *
 * Upstream request. Edits are spliced into the client's bytes (json_scan edits, no copy of the body):
 *  - "model" when the backend names one;
 *  - chat: "logprobs": true when the accept signal needs token logprobs and the client did not ask, and
 *    "top_logprobs": 2 for margin; completions: "logprobs": 1 (or 2 for margin), raised when the client asked for
 *    fewer. A client that asked for logprobs keeps them, and may get more alternatives than it asked for when the
 *    signal needs them (a superset of its request; nothing is removed from a field it asked for);
 *  - streams: "stream_options": {"include_usage": true} (merged into the client's stream_options object) so that
 *    tokens and cost are known; the usage chunk is then dropped from what a client that did not ask receives.
 * A member the client already set as needed is kept, but refused when repeated (as an edited one is): sluice read the
 * first occurrence, an upstream parser may keep the last ("logprobs": true, "logprobs": false).
 * Both sides of the request (reading the facts in one pass over the body, writing the edits): openai_request.c.
 *
 * Signals, on choice 0 only (with n > 1 the other choices are not judged):
 *  - logprob_mean / logprob_min: over the answer's content tokens (chat logprobs.content[].logprob, completions
 *    logprobs.token_logprobs[], where null entries - the first echoed prompt token - are skipped). The mean is the
 *    sequential sum divided by the count.
 *  - top_prob: exp(logprob) of the first content token; margin: exp(l1) - exp(l2) of the two best alternatives of
 *    the first content token (top_logprobs).
 * Stripping sets "logprobs" of every choice to null, which is what the API answers when none were asked.
 */
#include "backends/openai_internal.h"
#include "common/status.h"

#include <math.h>
#include <string.h>

/* choices[0] of an answer or chunk (the element whose "index" is 0, else the first). */
static int first_choice(const sl_json_span_t *root, sl_json_span_t *choice)
{
    sl_json_span_t choices, c, idx;
    sl_json_iter_t it;
    if (root->type != SL_JSON_OBJECT || sl_json_find_key(root, "choices", 7, &choices) != SL_OK ||
        sl_json_iter_init(&it, &choices) != SL_OK || choices.type != SL_JSON_ARRAY)
        return SL_ENOENT;
    int found = 0;
    while (sl_json_iter_next(&it, NULL, &c) == SL_OK) {
        if (c.type != SL_JSON_OBJECT)
            continue;
        uint64_t i;
        int has_index = sl_json_find_key(&c, "index", 5, &idx) == SL_OK && sl_json_get_uint64(&idx, &i) == SL_OK;
        if (has_index && i == 0) {
            *choice = c;
            return SL_OK;
        }
        if (!has_index && !found) {
            *choice = c;
            found = 1;
        }
    }
    return found ? SL_OK : SL_ENOENT;
}

void sl_openai__read_usage(const sl_json_span_t *root, int *has, uint64_t *prompt, uint64_t *completion)
{
    sl_json_span_t usage, a, b;
    uint64_t pa, cb;
    if (sl_json_find_key(root, "usage", 5, &usage) == SL_OK && usage.type == SL_JSON_OBJECT &&
        sl_json_find_key(&usage, "prompt_tokens", 13, &a) == SL_OK && sl_json_get_uint64(&a, &pa) == SL_OK &&
        sl_json_find_key(&usage, "completion_tokens", 17, &b) == SL_OK && sl_json_get_uint64(&b, &cb) == SL_OK) {
        *has = 1;
        *prompt = pa;
        *completion = cb;
    }
}

static int openai_decode(const sl_conf_backend_t *backend, int status, const char *body, size_t len, sl_adapter_answer_t *out)
{
    sl_adapter_answer_t a;
    memset(&a, 0, sizeof(a));
    a.status = status;
    a.prediction_class = -1;
    int ok = status >= 200 && status <= 299;
    if (sl_json_parse(body, len, &a.root) != SL_OK || a.root.type != SL_JSON_OBJECT) {
        if (ok)
            return SL_EPROTO;
        a.root.type = SL_JSON_INVALID;
        *out = a;
        return SL_OK;
    }
    sl_openai__read_usage(&a.root, &a.has_usage, &a.prompt_tokens, &a.completion_tokens);
    sl_json_span_t choice, msg;
    if (first_choice(&a.root, &choice) == SL_OK) {
        if (sl_json_find_key(&choice, "message", 7, &msg) == SL_OK && msg.type == SL_JSON_OBJECT)
            sl_json_find_key(&msg, "content", 7, &a.prediction);
        else
            sl_json_find_key(&choice, "text", 4, &a.prediction);
    }
    *out = a;
    return SL_OK;
}

static void acc_top(logprob_acc_t *acc, double lp)
{
    if (acc->top_n < 2)
        acc->top[acc->top_n++] = lp;
    else if (lp > acc->top[1])
        acc->top[1] = lp;
    if (acc->top_n == 2 && acc->top[1] > acc->top[0]) {
        double t = acc->top[0];
        acc->top[0] = acc->top[1];
        acc->top[1] = t;
    }
}

/* The first token's alternatives: chat [{token, logprob, ...}], completions {token: logprob}. */
static void acc_first_alternatives(logprob_acc_t *acc, const sl_json_span_t *alts)
{
    sl_json_iter_t it;
    sl_json_span_t v, lp;
    double d;
    if (sl_json_iter_init(&it, alts) != SL_OK)
        return;
    while (sl_json_iter_next(&it, NULL, &v) == SL_OK) {
        if (v.type == SL_JSON_OBJECT && sl_json_find_key(&v, "logprob", 7, &lp) == SL_OK)
            v = lp;
        if (sl_json_get_double(&v, &d) == SL_OK)
            acc_top(acc, d);
    }
}

/* Adds one token logprob value (a number, or for completions null: skipped). Returns 1 when counted. */
static int acc_token(logprob_acc_t *acc, const sl_json_span_t *v)
{
    double d;
    if (v->type == SL_JSON_NULL)
        return 0;
    if (sl_json_get_double(v, &d) != SL_OK) {
        acc->bad = 1;
        return 0;
    }
    if (acc->count++ == 0 || d < acc->min)
        acc->min = d;
    acc->sum += d;
    if (!acc->first_seen) {
        acc->first_seen = 1;
        acc->first = d;
    }
    return 1;
}

/* Walks the logprobs object of one choice; returns the tokens it carried. */
uint32_t sl_openai__acc_logprobs(logprob_acc_t *acc, const sl_json_span_t *logprobs)
{
    sl_json_span_t content, tok, lp, alts;
    sl_json_iter_t it;
    uint32_t tokens = 0;
    if (logprobs->type != SL_JSON_OBJECT)
        return 0;
    if (sl_json_find_key(logprobs, "content", 7, &content) == SL_OK) { /* chat */
        if (sl_json_iter_init(&it, &content) != SL_OK)
            return 0;
        while (sl_json_iter_next(&it, NULL, &tok) == SL_OK) {
            ++tokens;
            int first = !acc->first_seen;
            if (tok.type != SL_JSON_OBJECT || sl_json_find_key(&tok, "logprob", 7, &lp) != SL_OK) {
                acc->bad = 1;
                continue;
            }
            if (acc_token(acc, &lp) && first && sl_json_find_key(&tok, "top_logprobs", 12, &alts) == SL_OK)
                acc_first_alternatives(acc, &alts);
        }
        return tokens;
    }
    if (sl_json_find_key(logprobs, "token_logprobs", 14, &content) != SL_OK || sl_json_iter_init(&it, &content) != SL_OK)
        return 0;
    sl_json_span_t tops = {NULL, 0, SL_JSON_INVALID};
    sl_json_iter_t tit;
    int has_tops = sl_json_find_key(logprobs, "top_logprobs", 12, &tops) == SL_OK && sl_json_iter_init(&tit, &tops) == SL_OK &&
                   tops.type == SL_JSON_ARRAY;
    while (sl_json_iter_next(&it, NULL, &tok) == SL_OK) {
        ++tokens;
        int first = !acc->first_seen;
        if (has_tops && sl_json_iter_next(&tit, NULL, &alts) != SL_OK)
            has_tops = 0;
        if (acc_token(acc, &tok) && first && has_tops)
            acc_first_alternatives(acc, &alts);
    }
    return tokens;
}

void sl_openai__acc_signal(const logprob_acc_t *acc, enum en_sl_signal_kind_t kind, sl_signal_t *out)
{
    if (acc->bad) {
        sl_signal_set_unparsable(out, "a token logprob is not a number");
        return;
    }
    switch (kind) {
    case SL_SIGNAL_LOGPROB_MEAN:
    case SL_SIGNAL_LOGPROB_MIN:
        if (acc->count == 0)
            sl_signal_set_missing(out, "answer has no token logprobs");
        else
            sl_signal_set_value(out, kind == SL_SIGNAL_LOGPROB_MIN ? acc->min : acc->sum / (double)acc->count);
        return;
    case SL_SIGNAL_TOP_PROB:
        if (!acc->first_seen)
            sl_signal_set_missing(out, "answer has no token logprobs");
        else
            sl_signal_set_value(out, exp(acc->first));
        return;
    case SL_SIGNAL_MARGIN:
        if (acc->top_n < 2)
            sl_signal_set_missing(out, "margin needs two alternatives for the first token");
        else
            sl_signal_set_value(out, exp(acc->top[0]) - exp(acc->top[1]));
        return;
    default:
        sl_signal_set_missing(out, "signal not available for protocol openai");
        return;
    }
}

static void openai_signal(const sl_conf_backend_t *backend, const sl_adapter_answer_t *ans, enum en_sl_signal_kind_t kind,
                          sl_signal_t *out)
{
    sl_json_span_t choice, logprobs;
    logprob_acc_t acc;
    memset(&acc, 0, sizeof(acc));
    if (first_choice(&ans->root, &choice) != SL_OK) {
        sl_signal_set_missing(out, "answer has no choices");
        return;
    }
    if (sl_json_find_key(&choice, "logprobs", 8, &logprobs) != SL_OK || logprobs.type != SL_JSON_OBJECT) {
        sl_signal_set_missing(out, "answer has no token logprobs");
        return;
    }
    sl_openai__acc_logprobs(&acc, &logprobs);
    sl_openai__acc_signal(&acc, kind, out);
}

static int openai_format_error(const sl_adapter_error_t *err, const sl_adapter_alloc_t *alloc, sl_adapter_body_t *out)
{
    const char *msg = err->message != NULL ? err->message : "", *type = err->type != NULL ? err->type : "error";
    char *buf = sl_adapter_alloc(alloc, 64 + 6 * (strlen(msg) + strlen(type) + (err->code ? strlen(err->code) : 0)));
    size_t w = 0;
#define LIT(s) (memcpy(buf + w, s, sizeof(s) - 1), w += sizeof(s) - 1)
    LIT("{\"error\":{\"message\":");
    w += sl_adapter_put_json_string(buf + w, msg);
    LIT(",\"type\":");
    w += sl_adapter_put_json_string(buf + w, type);
    LIT(",\"param\":null,\"code\":");
    w += sl_adapter_put_json_string(buf + w, err->code);
    LIT("}}");
#undef LIT
    sl_adapter_body_borrow(alloc, buf, w, out);
    return SL_OK;
}

const sl_adapter_t sl_adapter_openai = {
    .name = "openai",
    .protocol = SL_PROTOCOL_OPENAI,
    .inspect = sl_openai__inspect,
    .read = sl_openai__read,
    .encode = sl_openai__encode,
    .encode_path = sl_adapter_path_unchanged,
    .decode = openai_decode,
    .signal = openai_signal,
    .decode_event = sl_openai__decode_event,
    .stream_signal = sl_openai__stream_signal,
    .strip = sl_openai__strip,
    .strip_event = sl_openai__strip_event,
    .format_error = openai_format_error,
};
