/*
 * fuzz_openai_request.c - libFuzzer target for the openai adapter's read of a client's chat/completions request body
 * (one pass, backends/openai_request.c) and its encode for an upstream, which splices the backend's model name (and
 * logprobs / stream_options when a signal or a stream needs them) into the body.
 *
 * The input is the body; the upstream model, the tier's signal and whether the model comes quoted ahead are drawn
 * from a hash of it, so every body meets every combination over time. Beyond "no crash, leak or sanitizer report":
 *  - the read returns what sl_json_parse says of the body (SL_EINVAL for JSON that is not an object), and inspect
 *    on its root gives the same facts;
 *  - the read names the member it takes a fact from that repeats first (found again with the iterator), or none;
 *  - when both it and jansson accept the body (jansson's refusals of legal text: fuzz_json.c), the facts agree
 *    with jansson's tree (kind, model, stream, messages, member count) where the body repeats no top-level key;
 *  - encode with the located members and encode walking the body give the same bytes; with a result, jansson
 *    loads it, its "model" is the new name, and every other member equals the original's, but for the members
 *    encode sets for the signal and the stream (logprobs, top_logprobs, stream_options), which are checked to
 *    carry what was asked.
 * A failed check aborts. Run by scripts/fuzz, built only with -Dfuzz=true.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backends/adapter.h"
#include "common/status.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every allocation of one input, freed when the input is done. */
typedef struct st_blocks_t {
    void *p[32];
    size_t n;
} blocks_t;

static void *blocks_alloc(void *ctx, size_t n)
{
    blocks_t *b = ctx;
    CHECK(b->n != sizeof(b->p) / sizeof(b->p[0]));
    void *p = malloc(n != 0 ? n : 1);
    CHECK(p != NULL);
    return b->p[b->n++] = p;
}

static void blocks_free(blocks_t *b)
{
    for (size_t i = 0; i != b->n; ++i)
        free(b->p[i]);
    b->n = 0;
}

/* Upstream model names: plain, with bytes JSON must escape, non-ASCII, empty. */
static const char *const models[] = {"gpt-4o-mini", "m\"x\\y/z\n\t\x01", "mod\xc3\xa8le-\xf0\x9f\x98\x80", ""};
static const sl_conf_signal_t signals[] = {
    {SL_SIGNAL_NONE, NULL}, {SL_SIGNAL_LOGPROB_MEAN, NULL}, {SL_SIGNAL_MARGIN, NULL}, {SL_SIGNAL_JSON, "/x"}};

static int same_span(const sl_json_span_t *a, const sl_json_span_t *b)
{
    return a->p == b->p && a->len == b->len && a->type == b->type;
}

static int same_facts(const sl_adapter_request_t *a, const sl_adapter_request_t *b)
{
    if (a->kind != b->kind || !same_span(&a->root, &b->root) || a->stream != b->stream || a->logprobs != b->logprobs ||
        a->top_logprobs != b->top_logprobs || a->usage != b->usage || a->num_messages != b->num_messages ||
        a->prompt_bytes != b->prompt_bytes || a->prompt_tokens != b->prompt_tokens || a->located_by != b->located_by ||
        a->num_members != b->num_members)
        return 0;
    if (a->model.type != b->model.type || (a->model.type != SL_JSON_INVALID && !same_span(&a->model, &b->model)))
        return 0;
    for (size_t i = 0; i != SL_ADAPTER_EDIT_KEYS; ++i)
        if (a->edit_count[i] != b->edit_count[i] || (a->edit_count[i] != 0 && !same_span(&a->edit_at[i], &b->edit_at[i])))
            return 0;
    return 1;
}

static size_t members_of(const sl_json_span_t *obj)
{
    sl_json_iter_t it;
    sl_json_span_t k, v;
    CHECK(sl_json_iter_init(&it, obj) == SL_OK);
    while (sl_json_iter_next(&it, &k, &v) == SL_OK)
        ;
    return it.index;
}

/* The first member of the root that the read takes a fact from and that occurs again (by name), NULL when none:
 * found with the iterator, the lookups the read replaced. */
static const char *first_repeated(const sl_json_span_t *root)
{
    static const char *const read[] = {"model", "messages", "prompt", "logprobs", "top_logprobs", "stream_options", "stream"};
    const char *found = NULL;
    size_t found_at = SIZE_MAX; /* the index of the member's second occurrence: the one that repeats first is named */
    for (size_t n = 0; n != sizeof(read) / sizeof(read[0]); ++n) {
        sl_json_iter_t it;
        sl_json_span_t k, v;
        size_t seen = 0;
        CHECK(sl_json_iter_init(&it, root) == SL_OK);
        for (size_t i = 0; sl_json_iter_next(&it, &k, &v) == SL_OK; ++i)
            if (sl_json_string_eq(&k, read[n], strlen(read[n])) && ++seen == 2 && i < found_at) {
                found = read[n];
                found_at = i;
            }
    }
    return found;
}

/* The facts against jansson's tree of the same body (no top-level key repeated). */
static void check_facts(const sl_adapter_request_t *r, const json_t *j)
{
    CHECK(r->num_members == json_object_size(j));
    json_t *model = json_object_get(j, "model"), *messages = json_object_get(j, "messages");
    if (json_is_string(model)) {
        CHECK(r->model.type == SL_JSON_STRING);
        CHECK(sl_json_string_eq(&r->model, json_string_value(model), json_string_length(model)));
    } else
        CHECK(r->model.type == SL_JSON_INVALID);
    CHECK(r->stream == json_is_true(json_object_get(j, "stream")));
    if (json_is_array(messages)) {
        CHECK(r->kind == SL_ADAPTER_KIND_CHAT && r->num_messages == json_array_size(messages));
    } else if (json_object_get(j, "prompt") != NULL) {
        CHECK(r->kind == SL_ADAPTER_KIND_COMPLETIONS);
    } else
        CHECK(r->kind == SL_ADAPTER_KIND_OTHER);
}

/* The encoded body against the original (jansson's tree j), for upstream model `model` and `need` logprobs. */
static void check_encoded(const char *out, size_t len, const json_t *j, const sl_adapter_request_t *r, const char *model,
                          uint32_t need)
{
    json_error_t err;
    json_t *e = json_loadb(out, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    CHECK(e != NULL && json_is_object(e));
    CHECK(sl_json_parse(out, len, NULL) == SL_OK);
    json_t *expected = json_deep_copy(j);
    if (model != NULL) {
        json_t *m = json_object_get(e, "model");
        CHECK(json_is_string(m) && json_string_length(m) == strlen(model) && strcmp(json_string_value(m), model) == 0);
        json_object_set_new(expected, "model", json_string(model));
    }
    /* the members encode sets for the signal and the stream hold what was asked; the rest is as the client sent */
    static const char *const asked[] = {"logprobs", "top_logprobs", "stream_options"};
    for (size_t i = 0; i != sizeof(asked) / sizeof(asked[0]); ++i) {
        json_t *v = json_object_get(e, asked[i]);
        if (v != NULL)
            json_object_set(expected, asked[i], v);
        else
            json_object_del(expected, asked[i]);
    }
    CHECK(json_equal(e, expected));
    if (r->kind == SL_ADAPTER_KIND_CHAT && need != 0)
        CHECK(json_is_true(json_object_get(e, "logprobs")));
    if (r->kind == SL_ADAPTER_KIND_CHAT && need == 2)
        CHECK(json_integer_value(json_object_get(e, "top_logprobs")) >= 2);
    if (r->kind == SL_ADAPTER_KIND_COMPLETIONS && need != 0)
        CHECK(json_integer_value(json_object_get(e, "logprobs")) >= need);
    if (r->stream)
        CHECK(json_is_true(json_object_get(json_object_get(e, "stream_options"), "include_usage")));
    json_decref(expected);
    json_decref(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    const sl_adapter_t *a = &sl_adapter_openai;
    sl_json_span_t root, parsed;
    sl_adapter_request_t r, again;
    int parse = sl_json_parse(body, size, &parsed);
    int rc = sl_adapter_read(a, body, size, &root, &r);
    if (parse != SL_OK) {
        CHECK(rc == parse);
        return 0;
    }
    if (parsed.type != SL_JSON_OBJECT) {
        CHECK(rc == SL_EINVAL && same_span(&root, &parsed));
        return 0;
    }
    CHECK(rc == SL_OK && same_span(&root, &parsed) && r.located_by == a);
    CHECK(a->inspect(&root, &again) == SL_OK && same_facts(&r, &again));
    const char *rep = first_repeated(&root);
    CHECK(rep == NULL ? r.repeated == NULL : r.repeated != NULL && strcmp(r.repeated, rep) == 0);

    uint32_t h = 2166136261u; /* FNV-1a of the body picks the upstream's side */
    for (size_t i = 0; i != size; ++i)
        h = (h ^ data[i]) * 16777619u;
    const char *model = (h & 7) == 7 ? NULL : models[h & 3];
    const sl_conf_signal_t *signal = &signals[(h >> 3) & 3];
    uint32_t need = sl_adapter_signal_logprobs(signal);

    blocks_t blocks = {{NULL}, 0};
    sl_adapter_alloc_t alloc = {blocks_alloc, &blocks};
    sl_adapter_want_t want = {model, signal, NULL, 0};
    if (model != NULL && (h >> 5) & 1)
        want.model_quoted = sl_adapter_quote(&alloc, model, &want.model_quoted_len);
    sl_adapter_body_t out, walked;
    int enc = a->encode(body, size, &r, &want, &alloc, &out);
    /* the same encode without the located members walks the body: same verdict, same bytes */
    sl_adapter_request_t unlocated = r;
    unlocated.located_by = NULL;
    int enc_walk = a->encode(body, size, &unlocated, &want, &alloc, &walked);
    CHECK(enc == enc_walk);
    CHECK(enc == SL_OK || enc == SL_EEXIST || enc == SL_EINVAL);

    json_t *j = json_loadb(body, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    int unique = j != NULL && members_of(&root) == json_object_size(j);
    if (unique)
        check_facts(&r, j);
    if (enc == SL_OK) {
        char *joined = blocks_alloc(&blocks, out.len), *joined_walk = blocks_alloc(&blocks, walked.len);
        CHECK(sl_json_pieces_copy(out.pieces, out.num_pieces, joined) == out.len && out.len == walked.len);
        CHECK(sl_json_pieces_copy(walked.pieces, walked.num_pieces, joined_walk) == walked.len);
        CHECK(memcmp(joined, joined_walk, out.len) == 0);
        if (j != NULL)
            check_encoded(joined, out.len, j, &r, model, need);
    }
    json_decref(j);
    blocks_free(&blocks);
    return 0;
}
