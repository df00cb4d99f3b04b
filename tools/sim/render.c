/*
 * render.c - turns one drawn answer into the bytes a real server would send: OpenAI chat completions and legacy
 * completions (a JSON object, or an SSE stream of chunk objects ending with `data: [DONE]`) and KServe v2 infer
 * answers. The shapes follow the public API references; tests/fixtures holds examples of real answers that the
 * integration tests compare these with key by key.
 *
 * Everything is written into the request's pool: rendering allocates no heap memory. It runs once, at arrival, so
 * the rest of the request's life only moves bytes. Text is made of a fixed vocabulary and the configured labels,
 * which need no JSON escaping; the one client-supplied string echoed (a KServe request id) is escaped.
 */
#include "tools/sim/internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const vocab[] = {"the",  "model",  "answer", "is",   "a",      "short", "reply", "from",
                                    "sluice", "sim",  "that",   "has",  "no",     "meaning", "but", "plenty",
                                    "of",   "tokens", "to",     "stream", "and",  "count", "while", "load",
                                    "rises", "slowly", "in",    "every", "test",  "run",   "here",  "today"};
#define VOCAB_SIZE (sizeof(vocab) / sizeof(vocab[0]))

void sl_sim_out_init(sl_sim_out_t *o, h2o_mem_pool_t *pool, size_t cap)
{
    o->pool = pool;
    o->cap = cap < 256 ? 256 : cap;
    o->buf = h2o_mem_alloc_pool(pool, o->cap);
    o->len = 0;
}

static void reserve(sl_sim_out_t *o, size_t n)
{
    if (o->len + n + 1 <= o->cap)
        return;
    size_t cap = o->cap * 2;
    while (cap < o->len + n + 1)
        cap *= 2;
    char *buf = h2o_mem_alloc_pool(o->pool, cap);
    memcpy(buf, o->buf, o->len);
    o->buf = buf;
    o->cap = cap;
}

void sl_sim_out_append(sl_sim_out_t *o, const char *s, size_t n)
{
    reserve(o, n);
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

void sl_sim_out_printf(sl_sim_out_t *o, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        reserve(o, (size_t)n);
    }
}

void sl_sim_out_append_escaped(sl_sim_out_t *o, const char *s, size_t n)
{
    for (size_t i = 0; i != n; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            sl_sim_out_printf(o, "\\%c", c);
        else if (c < 0x20)
            sl_sim_out_printf(o, "\\u%04x", c);
        else
            sl_sim_out_append(o, (const char *)&c, 1);
    }
}

static void make_id(sl_sim_rng_t *rng, char *buf)
{
    static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    for (int w = 0; w != 3; ++w) {
        uint64_t v = sl_sim_rng_next(rng);
        for (int i = 0; i != 8; ++i, v /= 62)
            buf[w * 8 + i] = digits[v % 62];
    }
    buf[24] = '\0';
}

/* Per-answer token data: the words (free text) and the logprobs. */
typedef struct st_tokens_t {
    const sl_sim_answer_t *a;
    uint32_t n;
    uint8_t *words;
    double *lp;
} tokens_t;

static void token_text(const tokens_t *t, uint32_t i, char *buf, size_t bufsz)
{
    if (t->a->is_classify)
        snprintf(buf, bufsz, "%s", t->a->p->labels[t->a->draws[0].predicted]);
    else
        snprintf(buf, bufsz, "%s%s", i == 0 ? "" : " ", vocab[t->words[i]]);
}

static void append_bytes(sl_sim_out_t *o, const char *s)
{
    sl_sim_out_lit(o, "[");
    for (size_t i = 0; s[i] != '\0'; ++i)
        sl_sim_out_printf(o, "%s%u", i == 0 ? "" : ",", (unsigned char)s[i]);
    sl_sim_out_lit(o, "]");
}

static double clamp_lp(double v)
{
    return v < -9999 ? -9999 : v;
}

/* The k-th alternative (k >= 1) of token i: its text and logprob. Classification: the other labels in order, sharing
 * 1 - c equally. Free text: other words, the k-th with probability (1 - p_i) / 2^k. */
static int alternative(const tokens_t *t, uint32_t i, uint32_t k, char *buf, size_t bufsz, double *lp)
{
    const sl_sim_answer_t *a = t->a;
    if (a->is_classify) {
        uint32_t L = a->p->num_labels, pred = a->draws[0].predicted;
        if (k >= L)
            return 0;
        uint32_t idx = k - 1 >= pred ? k : k - 1;
        snprintf(buf, bufsz, "%s", a->p->labels[idx]);
        *lp = clamp_lp(log((1 - a->draws[0].confidence) / (L - 1)));
        return 1;
    }
    if (k >= VOCAB_SIZE)
        return 0;
    snprintf(buf, bufsz, "%s%s", i == 0 ? "" : " ", vocab[(t->words[i] + k) % VOCAB_SIZE]);
    *lp = clamp_lp(log1p(-exp(t->lp[i])) - k * M_LN2);
    return 1;
}

static void chat_logprob_entry(sl_sim_out_t *o, const tokens_t *t, uint32_t i)
{
    char tok[64], alt[64];
    double alp;
    token_text(t, i, tok, sizeof(tok));
    sl_sim_out_printf(o, "{\"token\":\"%s\",\"logprob\":%.9g,\"bytes\":", tok, t->lp[i]);
    append_bytes(o, tok);
    sl_sim_out_lit(o, ",\"top_logprobs\":[");
    for (uint32_t k = 0; k < t->a->top_logprobs; ++k) {
        if (k == 0) {
            sl_sim_out_printf(o, "{\"token\":\"%s\",\"logprob\":%.9g,\"bytes\":", tok, t->lp[i]);
        } else {
            if (!alternative(t, i, k, alt, sizeof(alt), &alp))
                break;
            sl_sim_out_printf(o, ",{\"token\":\"%s\",\"logprob\":%.9g,\"bytes\":", alt, alp);
        }
        append_bytes(o, k == 0 ? tok : alt);
        sl_sim_out_lit(o, "}");
    }
    sl_sim_out_lit(o, "]}");
}

/* Legacy completions logprobs of tokens [from, to): {"tokens":..,"token_logprobs":..,"top_logprobs":..,"text_offset":..} */
static void completion_logprobs(sl_sim_out_t *o, const tokens_t *t, uint32_t from, uint32_t to, size_t offset)
{
    char tok[64], alt[64];
    double alp;
    sl_sim_out_lit(o, "{\"tokens\":[");
    for (uint32_t i = from; i != to; ++i) {
        token_text(t, i, tok, sizeof(tok));
        sl_sim_out_printf(o, "%s\"%s\"", i == from ? "" : ",", tok);
    }
    sl_sim_out_lit(o, "],\"token_logprobs\":[");
    for (uint32_t i = from; i != to; ++i)
        sl_sim_out_printf(o, "%s%.9g", i == from ? "" : ",", t->lp[i]);
    sl_sim_out_lit(o, "],\"top_logprobs\":[");
    for (uint32_t i = from; i != to; ++i) {
        token_text(t, i, tok, sizeof(tok));
        sl_sim_out_printf(o, "%s{", i == from ? "" : ",");
        for (uint32_t k = 0; k < t->a->top_logprobs; ++k) {
            if (k == 0) {
                sl_sim_out_printf(o, "\"%s\":%.9g", tok, t->lp[i]);
            } else {
                if (!alternative(t, i, k, alt, sizeof(alt), &alp))
                    break;
                sl_sim_out_printf(o, ",\"%s\":%.9g", alt, alp);
            }
        }
        sl_sim_out_lit(o, "}");
    }
    sl_sim_out_lit(o, "],\"text_offset\":[");
    for (uint32_t i = from; i != to; ++i) {
        token_text(t, i, tok, sizeof(tok));
        sl_sim_out_printf(o, "%s%zu", i == from ? "" : ",", offset);
        offset += strlen(tok);
    }
    sl_sim_out_lit(o, "]}");
}

static void usage(sl_sim_out_t *o, const sl_sim_answer_t *a, uint32_t n)
{
    sl_sim_out_printf(o, "{\"prompt_tokens\":%u,\"completion_tokens\":%u,\"total_tokens\":%u", a->prompt_tokens, n,
                      a->prompt_tokens + n);
    if (a->kind == SL_SIM_KIND_CHAT)
        sl_sim_out_lit(o, ",\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},"
                          "\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,"
                          "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}");
    sl_sim_out_lit(o, "}");
}

static const char *finish_reason(const sl_sim_answer_t *a)
{
    return a->draws[0].truncated ? "length" : "stop";
}

static void render_json(sl_sim_out_t *o, const tokens_t *t, const char *id)
{
    const sl_sim_answer_t *a = t->a;
    char tok[64];
    if (a->kind == SL_SIM_KIND_CHAT) {
        sl_sim_out_printf(o,
                          "{\"id\":\"chatcmpl-%s\",\"object\":\"chat.completion\",\"created\":%llu,\"model\":\"%s\","
                          "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"",
                          id, (unsigned long long)a->created, a->p->model);
        for (uint32_t i = 0; i != t->n; ++i) {
            token_text(t, i, tok, sizeof(tok));
            sl_sim_out_append(o, tok, strlen(tok));
        }
        sl_sim_out_lit(o, "\",\"refusal\":null,\"annotations\":[]},\"logprobs\":");
        if (a->logprobs) {
            sl_sim_out_lit(o, "{\"content\":[");
            for (uint32_t i = 0; i != t->n; ++i) {
                if (i != 0)
                    sl_sim_out_lit(o, ",");
                chat_logprob_entry(o, t, i);
            }
            sl_sim_out_lit(o, "],\"refusal\":null}");
        } else {
            sl_sim_out_lit(o, "null");
        }
        sl_sim_out_printf(o, ",\"finish_reason\":\"%s\"}],\"usage\":", finish_reason(a));
        usage(o, a, t->n);
        sl_sim_out_printf(o, ",\"service_tier\":\"default\",\"system_fingerprint\":\"%s\"}", a->fingerprint);
    } else {
        sl_sim_out_printf(o, "{\"id\":\"cmpl-%s\",\"object\":\"text_completion\",\"created\":%llu,\"model\":\"%s\","
                             "\"system_fingerprint\":\"%s\",\"choices\":[{\"text\":\"",
                          id, (unsigned long long)a->created, a->p->model, a->fingerprint);
        for (uint32_t i = 0; i != t->n; ++i) {
            token_text(t, i, tok, sizeof(tok));
            sl_sim_out_append(o, tok, strlen(tok));
        }
        sl_sim_out_lit(o, "\",\"index\":0,\"logprobs\":");
        if (a->logprobs)
            completion_logprobs(o, t, 0, t->n, 0);
        else
            sl_sim_out_lit(o, "null");
        sl_sim_out_printf(o, ",\"finish_reason\":\"%s\"}],\"usage\":", finish_reason(a));
        usage(o, a, t->n);
        sl_sim_out_lit(o, "}");
    }
}

static void chunk_head(sl_sim_out_t *o, const sl_sim_answer_t *a, const char *id)
{
    if (a->kind == SL_SIM_KIND_CHAT)
        sl_sim_out_printf(o,
                          "data: {\"id\":\"chatcmpl-%s\",\"object\":\"chat.completion.chunk\",\"created\":%llu,"
                          "\"model\":\"%s\",\"service_tier\":\"default\",\"system_fingerprint\":\"%s\",\"choices\":[",
                          id, (unsigned long long)a->created, a->p->model, a->fingerprint);
    else
        sl_sim_out_printf(o,
                          "data: {\"id\":\"cmpl-%s\",\"object\":\"text_completion\",\"created\":%llu,\"model\":\"%s\","
                          "\"system_fingerprint\":\"%s\",\"choices\":[",
                          id, (unsigned long long)a->created, a->p->model, a->fingerprint);
}

static void chunk_tail(sl_sim_out_t *o, const sl_sim_answer_t *a)
{
    if (a->include_usage)
        sl_sim_out_lit(o, "],\"usage\":null}\n\n");
    else
        sl_sim_out_lit(o, "]}\n\n");
}

static void render_stream(sl_sim_out_t *o, const tokens_t *t, const char *id, int malformed, sl_sim_rendered_t *out)
{
    const sl_sim_answer_t *a = t->a;
    char tok[64];
    size_t text_offset = 0;
    if (a->kind == SL_SIM_KIND_CHAT) {
        chunk_head(o, a, id);
        sl_sim_out_lit(o, "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},"
                          "\"logprobs\":null,\"finish_reason\":null}");
        chunk_tail(o, a);
    }
    out->role_end = o->len;
    for (uint32_t i = 0; i != t->n; ++i) {
        size_t start = o->len;
        token_text(t, i, tok, sizeof(tok));
        chunk_head(o, a, id);
        if (a->kind == SL_SIM_KIND_CHAT) {
            sl_sim_out_printf(o, "{\"index\":0,\"delta\":{\"content\":\"%s\"},\"logprobs\":", tok);
            if (a->logprobs) {
                sl_sim_out_lit(o, "{\"content\":[");
                chat_logprob_entry(o, t, i);
                sl_sim_out_lit(o, "],\"refusal\":null}");
            } else {
                sl_sim_out_lit(o, "null");
            }
            sl_sim_out_lit(o, ",\"finish_reason\":null}");
        } else {
            sl_sim_out_printf(o, "{\"text\":\"%s\",\"index\":0,\"logprobs\":", tok);
            if (a->logprobs)
                completion_logprobs(o, t, i, i + 1, text_offset);
            else
                sl_sim_out_lit(o, "null");
            sl_sim_out_lit(o, ",\"finish_reason\":null}");
            text_offset += strlen(tok);
        }
        chunk_tail(o, a);
        if (malformed && i == 0) { /* cut the first content chunk's JSON in half, keep the SSE framing */
            o->len = start + (o->len - start) / 2;
            sl_sim_out_lit(o, "\n\n");
        }
        if (i + 1 == t->n) {
            chunk_head(o, a, id);
            if (a->kind == SL_SIM_KIND_CHAT)
                sl_sim_out_printf(o, "{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"%s\"}",
                                  finish_reason(a));
            else
                sl_sim_out_printf(o, "{\"text\":\"\",\"index\":0,\"logprobs\":null,\"finish_reason\":\"%s\"}",
                                  finish_reason(a));
            chunk_tail(o, a);
            if (a->include_usage) {
                chunk_head(o, a, id);
                sl_sim_out_lit(o, "],\"usage\":");
                usage(o, a, t->n);
                sl_sim_out_lit(o, "}\n\n");
            }
            sl_sim_out_lit(o, "data: [DONE]\n\n");
        }
        out->seg_end[i] = o->len;
    }
}

void sl_sim_render_openai(sl_sim_answer_t *a, int malformed, h2o_mem_pool_t *pool, sl_sim_rendered_t *out)
{
    tokens_t t = {.a = a, .n = a->draws[0].output_tokens};
    char id[25];
    make_id(&a->rng, id);
    if (!a->is_classify) {
        t.words = h2o_mem_alloc_pool(pool, t.n);
        for (uint32_t i = 0; i != t.n; ++i)
            t.words[i] = (uint8_t)(sl_sim_rng_next(&a->rng) % VOCAB_SIZE);
    }
    if (a->logprobs) {
        t.lp = h2o_mem_alloc_pool(pool, sizeof(double) * t.n);
        sl_sim_logprobs(a->draws[0].confidence, t.n, t.lp);
    }
    size_t per_token = 40 + (a->logprobs ? 120 + 90 * (size_t)a->top_logprobs : 0) + (a->stream ? 200 : 0);
    sl_sim_out_t o;
    sl_sim_out_init(&o, pool, 600 + per_token * t.n);
    out->tokens = t.n;
    if (a->stream) {
        out->seg_end = h2o_mem_alloc_pool(pool, sizeof(size_t) * t.n);
        render_stream(&o, &t, id, malformed, out);
    } else {
        out->seg_end = NULL;
        render_json(&o, &t, id);
        if (malformed)
            o.len /= 2;
    }
    out->body = h2o_iovec_init(o.buf, o.len);
}

void sl_sim_render_kserve(sl_sim_answer_t *a, int malformed, h2o_mem_pool_t *pool, sl_sim_rendered_t *out)
{
    const sl_sim_params_t *p = a->p;
    uint32_t L = p->num_labels;
    sl_sim_out_t o;
    sl_sim_out_init(&o, pool, 300 + (size_t)a->rows * (40 + 16 * L));
    sl_sim_out_printf(&o, "{\"model_name\":\"%s\",\"model_version\":\"1\",\"id\":\"", p->model);
    if (a->request_id.len != 0) {
        sl_sim_out_append_escaped(&o, a->request_id.base, a->request_id.len);
    } else {
        char id[25];
        make_id(&a->rng, id);
        sl_sim_out_append(&o, id, 24);
    }
    sl_sim_out_printf(&o, "\",\"outputs\":[{\"name\":\"probabilities\",\"datatype\":\"FP32\",\"shape\":[%u,%u],\"data\":[",
                      a->rows, L);
    for (uint32_t r = 0; r != a->rows; ++r) {
        const sl_sim_draw_t *d = a->draws + r;
        double rest = (1 - d->confidence) / (L - 1);
        for (uint32_t l = 0; l != L; ++l)
            sl_sim_out_printf(&o, "%s%.9g", r == 0 && l == 0 ? "" : ",", l == d->predicted ? d->confidence : rest);
    }
    sl_sim_out_printf(&o, "]},{\"name\":\"label\",\"datatype\":\"BYTES\",\"shape\":[%u],\"data\":[", a->rows);
    for (uint32_t r = 0; r != a->rows; ++r)
        sl_sim_out_printf(&o, "%s\"%s\"", r == 0 ? "" : ",", p->labels[a->draws[r].predicted]);
    sl_sim_out_lit(&o, "]}]}");
    if (malformed)
        o.len /= 2;
    out->body = h2o_iovec_init(o.buf, o.len);
    out->seg_end = NULL;
    out->role_end = 0;
    out->tokens = a->rows;
}
