/* The openai adapter's one-pass read (backends/openai_request.c) against the lookups it replaced: the reference
 * below is the walk the adapter made before (find_key per question, an iterator per array), kept here as the
 * definition of the facts. Both run on hand-made bodies with every shape the facts care about and on thousands of
 * mutations of them; then encode with the located members against encode walking the body. */
#include "adapter_fixture.h"

static const sl_adapter_t *A = &sl_adapter_openai;

#define REF_KEY_IS(k, lit) sl_json_string_eq((k), (lit), sizeof(lit) - 1)

/* Prompt bytes of a completions "prompt": strings count their bytes, token ids 4 bytes each. */
static uint64_t ref_prompt_bytes(const sl_json_span_t *prompt)
{
    if (prompt->type == SL_JSON_STRING)
        return sl_json_string_len(prompt);
    sl_json_leaf_iter_t it;
    sl_json_span_t leaf;
    uint64_t total = 0;
    if (sl_json_leaf_init(&it, prompt) != SL_OK)
        return 0;
    while (sl_json_leaf_next(&it, &leaf) == SL_OK)
        total += leaf.type == SL_JSON_STRING ? sl_json_string_len(&leaf) : leaf.type == SL_JSON_NUMBER ? 4 : 0;
    return total;
}

/* Text bytes of one chat message: "content" as a string, or the "text" of each content part. */
static uint64_t ref_message_bytes(const sl_json_span_t *msg)
{
    sl_json_span_t content, part, text;
    if (msg->type != SL_JSON_OBJECT || sl_json_find_key(msg, "content", 7, &content) != SL_OK)
        return 0;
    if (content.type == SL_JSON_STRING)
        return sl_json_string_len(&content);
    uint64_t total = 0;
    sl_json_iter_t it;
    if (sl_json_iter_init(&it, &content) != SL_OK || content.type != SL_JSON_ARRAY)
        return 0;
    while (sl_json_iter_next(&it, NULL, &part) == SL_OK)
        if (part.type == SL_JSON_OBJECT && sl_json_find_key(&part, "text", 4, &text) == SL_OK && text.type == SL_JSON_STRING)
            total += sl_json_string_len(&text);
    return total;
}

static int reference_inspect(const sl_json_span_t *root, sl_adapter_request_t *out)
{
    if (root->type != SL_JSON_OBJECT)
        return SL_EINVAL;
    sl_adapter_request_t r;
    memset(&r, 0, sizeof(r));
    r.root = *root;
    sl_json_span_t none = {NULL, 0, SL_JSON_INVALID}, messages = none, prompt = none, logprobs = none, top = none,
                   options = none, stream = none, k, v;
    r.model = none;
    sl_json_iter_t it;
    sl_json_iter_init(&it, root);
    int ret;
    /* one pass over the top level; the first occurrence of a key wins, as in every lookup of json_scan */
    while ((ret = sl_json_iter_next(&it, &k, &v)) == SL_OK) {
        sl_json_span_t *slot = REF_KEY_IS(&k, "model")            ? &r.model
                               : REF_KEY_IS(&k, "messages")       ? &messages
                               : REF_KEY_IS(&k, "prompt")         ? &prompt
                               : REF_KEY_IS(&k, "logprobs")       ? &logprobs
                               : REF_KEY_IS(&k, "top_logprobs")   ? &top
                               : REF_KEY_IS(&k, "stream_options") ? &options
                               : REF_KEY_IS(&k, "stream")         ? &stream
                                                              : NULL;
        if (slot != NULL && slot->p == NULL)
            *slot = v;
    }
    if (ret != SL_ENOENT)
        return ret;
    if (r.model.type != SL_JSON_STRING)
        r.model = none;
    r.stream = stream.type == SL_JSON_TRUE;
    uint64_t n;
    if (messages.type == SL_JSON_ARRAY) {
        r.kind = SL_ADAPTER_KIND_CHAT;
        sl_json_iter_init(&it, &messages);
        while (sl_json_iter_next(&it, NULL, &v) == SL_OK) {
            r.num_messages++;
            r.prompt_bytes += ref_message_bytes(&v);
        }
        r.logprobs = logprobs.type == SL_JSON_TRUE;
        if (r.logprobs && sl_json_get_uint64(&top, &n) == SL_OK)
            r.top_logprobs = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
    } else if (prompt.p != NULL) {
        r.kind = SL_ADAPTER_KIND_COMPLETIONS;
        r.prompt_bytes = ref_prompt_bytes(&prompt);
        if (sl_json_get_uint64(&logprobs, &n) == SL_OK) {
            r.logprobs = 1;
            r.top_logprobs = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
        }
    }
    sl_json_span_t inc;
    r.usage = r.stream && options.type == SL_JSON_OBJECT && sl_json_find_key(&options, "include_usage", 13, &inc) == SL_OK &&
              inc.type == SL_JSON_TRUE;
    r.prompt_tokens = sl_adapter_tokens_estimate(r.prompt_bytes);
    *out = r;
    return SL_OK;
}


static void assert_same_facts(const char *body, size_t len, int expect_ok)
{
    sl_json_span_t root, root2;
    sl_adapter_request_t got, want;
    memset(&got, 0xab, sizeof(got));
    int parsed = sl_json_parse(body, len, &root);
    int ret = A->read(body, len, &root2, &got);
    if (parsed != SL_OK) {
        cr_assert_eq(ret, parsed, "%.*s", (int)len, body);
        return;
    }
    cr_assert_eq(root2.p, root.p);
    cr_assert_eq(root2.len, root.len);
    int ref = reference_inspect(&root, &want);
    cr_assert_eq(ret, ref, "%.*s", (int)len, body);
    if (expect_ok)
        cr_assert_eq(ret, SL_OK, "%.*s", (int)len, body);
    if (ret != SL_OK)
        return;
    cr_assert_eq(got.kind, want.kind, "%.*s", (int)len, body);
    cr_assert_eq(got.root.p, want.root.p);
    cr_assert_eq(got.model.p, want.model.p, "%.*s", (int)len, body);
    cr_assert_eq(got.model.len, want.model.len);
    cr_assert_eq(got.model.type, want.model.type);
    cr_assert_eq(got.stream, want.stream, "%.*s", (int)len, body);
    cr_assert_eq(got.logprobs, want.logprobs, "%.*s", (int)len, body);
    cr_assert_eq(got.top_logprobs, want.top_logprobs, "%.*s", (int)len, body);
    cr_assert_eq(got.usage, want.usage, "%.*s", (int)len, body);
    cr_assert_eq(got.num_messages, want.num_messages, "%.*s", (int)len, body);
    cr_assert_eq(got.prompt_bytes, want.prompt_bytes, "%.*s: %llu vs %llu", (int)len, body,
                 (unsigned long long)got.prompt_bytes, (unsigned long long)want.prompt_bytes);
    cr_assert_eq(got.prompt_tokens, want.prompt_tokens);
    cr_assert_eq(got.located_by, A);
}

static const char *const bodies[] = {
    "{}",
    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}],\"max_tokens\":16}",
    /* content parts: text counts, other parts not; the first "text" of a part wins even when not a string */
    "{\"messages\":[{\"content\":[{\"type\":\"text\",\"text\":\"abc\"},{\"type\":\"image_url\",\"image_url\":"
    "{\"url\":\"http://x\"}},{\"text\":7,\"text\":\"late\"},\"bare\",[{\"text\":\"in array\"}],{\"text\":\"d\\u00e9\"}]}]}",
    /* a message's first "content" wins; later ones and their parts count nothing */
    "{\"messages\":[{\"content\":\"one\",\"content\":[{\"text\":\"never\"}]},{\"content\":[{\"text\":\"two\"}],"
    "\"content\":\"never\"},{\"role\":\"x\"},[],\"s\",3,{\"content\":{\"text\":\"object content\"}}]}",
    /* the first "messages" wins; an object "messages" is no chat */
    "{\"messages\":[{\"content\":\"a\"}],\"messages\":[{\"content\":\"bbbbbbbb\"},{}]}",
    "{\"messages\":{\"content\":\"a\"},\"prompt\":\"xyz\",\"messages\":[{\"content\":\"b\"}]}",
    "{\"messages\":[],\"logprobs\":true,\"top_logprobs\":5,\"stream\":true,\"stream_options\":{\"include_usage\":true},"
    "\"stream\":false}",
    "{\"messages\":[],\"logprobs\":false,\"top_logprobs\":5}",
    "{\"messages\":[],\"logprobs\":true,\"top_logprobs\":99999999999,\"logprobs\":false}",
    "{\"messages\":[],\"logprobs\":true,\"top_logprobs\":-1}",
    /* completions: strings, token ids, nested arrays; the leaves stop at the first object */
    "{\"prompt\":[[1,2,3],[4]],\"logprobs\":3,\"model\":7}",
    "{\"prompt\":\"abcde\",\"prompt\":[1]}",
    "{\"prompt\":[\"ab\",[\"c\\n\",5],true,null,[],[[[1.5]]]]}",
    "{\"prompt\":[1,{\"a\":\"bbbb\"},2]}",
    "{\"prompt\":[1,[{}],2,\"zz\"]}",
    "{\"prompt\":[[1,[{\"x\":[3]}]],4]}",
    "{\"prompt\":{\"a\":1}}",
    "{\"prompt\":12,\"logprobs\":2.5}",
    "{\"prompt\":\"a\",\"logprobs\":0}",
    /* stream_options: the first object's first include_usage */
    "{\"stream\":true,\"stream_options\":{\"include_usage\":false,\"include_usage\":true}}",
    "{\"stream\":true,\"stream_options\":[{\"include_usage\":true}]}",
    "{\"stream\":true,\"stream_options\":{\"x\":{\"include_usage\":true}}}",
    "{\"stream\":true,\"stream_options\":{},\"stream_options\":{\"include_usage\":true}}",
    "{\"stream\":true,\"stream_options\":7,\"stream_options\":{\"include_usage\":true}}",
    "{\"stream_options\":{\"include_usage\":true}}",
    /* escaped names are names; a member named like a nested one is not confused with it */
    "{\"mod\\u0065l\":\"esc\",\"m\\u0065ssages\":[{\"cont\\u0065nt\":\"abc\"}]}",
    "{\"x\":{\"model\":\"inner\",\"messages\":[{\"content\":\"no\"}]},\"model\":5,\"model\":\"second\"}",
    "{\"model\":\"a\",\"model\":\"b\"}",
    "{\"messages\":[{\"content\":\"\\ud83d\\ude00 caf\xc3\xa9\"}],\"prompt\":\"ignored\"}",
    "[]",
    "[{\"model\":\"m\"}]",
    "\"messages\"",
    "{\"messages\":[{\"content\":[[{\"text\":\"x\"}],{\"text\":[\"y\"]},{\"a\":{\"text\":\"z\"}}]}]}",
};

TestSuite(openai_read, .init = fixture_setup, .fini = fixture_teardown);

Test(openai_read, same_facts_as_the_lookups)
{
    for (size_t i = 0; i != sizeof(bodies) / sizeof(bodies[0]); ++i)
        assert_same_facts(bodies[i], strlen(bodies[i]), 0);
    size_t len;
    const char *body = fixture_read("openai_chat_request.json", &len);
    assert_same_facts(body, len, 1);
}

Test(openai_read, exact_values)
{
    sl_json_span_t root;
    sl_adapter_request_t r;
    const char *b = bodies[2];
    cr_assert_eq(A->read(b, strlen(b), &root, &r), SL_OK);
    cr_assert_eq(r.kind, SL_ADAPTER_KIND_CHAT);
    cr_assert_eq(r.num_messages, 1);
    cr_assert_eq(r.prompt_bytes, 3 + 3); /* "abc" and "d\u00e9" (d, then 2 bytes of UTF-8) */
    b = bodies[3];
    cr_assert_eq(A->read(b, strlen(b), &root, &r), SL_OK);
    cr_assert_eq(r.num_messages, 7);
    cr_assert_eq(r.prompt_bytes, 3 + 3);
    b = bodies[12];
    cr_assert_eq(A->read(b, strlen(b), &root, &r), SL_OK);
    cr_assert_eq(r.kind, SL_ADAPTER_KIND_COMPLETIONS);
    cr_assert_eq(r.prompt_bytes, 2 + 2 + 4 + 4); /* "ab", "c\n", 5, 1.5 */
    b = bodies[13];
    cr_assert_eq(A->read(b, strlen(b), &root, &r), SL_OK);
    cr_assert_eq(r.prompt_bytes, 4);
    b = bodies[27];
    cr_assert_eq(A->read(b, strlen(b), &root, &r), SL_OK);
    cr_assert_eq(r.edit_count[0], 2); /* "model" twice */
    cr_assert_eq(r.num_members, 2);
    cr_assert_eq(A->read("[1]", 3, &root, &r), SL_EINVAL);
    cr_assert_eq(root.type, SL_JSON_ARRAY);
    cr_assert_eq(A->read("{\"a\":}", 6, &root, &r), SL_ESYNTAX);
}

/* A member the facts come from, twice: named in `repeated` (the first such), whatever its values. */
Test(openai_read, repeated_members_are_named)
{
    static const struct {
        const char *body, *repeated;
    } cases[] = {
        {"{\"model\":\"a\",\"messages\":[],\"model\":\"b\"}", "model"},
        {"{\"messages\":[],\"stream\":true,\"stream\":false}", "stream"},
        {"{\"messages\":[],\"messages\":[{\"content\":\"x\"}]}", "messages"},
        {"{\"prompt\":\"a\",\"prompt\":\"b\"}", "prompt"},
        {"{\"messages\":[],\"logprobs\":true,\"logprobs\":true}", "logprobs"},
        {"{\"messages\":[],\"top_logprobs\":1,\"top_logprobs\":1}", "top_logprobs"},
        {"{\"messages\":[],\"stream_options\":{},\"stream_options\":{}}", "stream_options"},
        {"{\"stream\":true,\"model\":\"a\",\"model\":\"a\",\"stream\":true}", "model"}, /* the first to repeat */
        {"{\"messages\":[{\"model\":\"a\"}],\"model\":\"b\",\"x\":{\"stream\":1},\"stream\":true}", NULL}, /* nested */
        {"{\"user\":\"a\",\"user\":\"b\",\"model\":\"m\"}", NULL}, /* a member no fact comes from */
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        sl_json_span_t root;
        sl_adapter_request_t r;
        cr_assert_eq(A->read(cases[i].body, strlen(cases[i].body), &root, &r), SL_OK, "case %zu", i);
        if (cases[i].repeated == NULL)
            cr_expect_null(r.repeated, "case %zu: %s", i, r.repeated);
        else
            cr_expect_str_eq(r.repeated != NULL ? r.repeated : "(none)", cases[i].repeated, "case %zu", i);
    }
}

Test(openai_read, same_facts_on_mutations)
{
    uint64_t x = 0x2545f4914f6cdd1du;
    for (int round = 0; round != 30000; ++round) {
        const char *seed = bodies[round % (sizeof(bodies) / sizeof(bodies[0]))];
        size_t n = strlen(seed);
        char *doc = malloc(n + 1);
        memcpy(doc, seed, n + 1);
        for (int k = 0; k != 1 + round % 2; ++k) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            /* mostly structural bytes and digits: they move values between members and levels */
            static const char alphabet[] = "{}[],:\"0129 tx";
            doc[x % n] = (x >> 40) % 4 == 0 ? (char)(x >> 32) : alphabet[(x >> 32) % (sizeof(alphabet) - 1)];
        }
        assert_same_facts(doc, n, 0);
        free(doc);
    }
}

/* encode from the read's located members == encode walking the body (located cleared) */
Test(openai_read, located_encode_equals_walking_encode)
{
    static const enum en_sl_signal_kind_t kinds[] = {SL_SIGNAL_NONE, SL_SIGNAL_LOGPROB_MEAN, SL_SIGNAL_MARGIN};
    static const char *const extra[] = {
        "{\"model\":\"gpt\",\"messages\":[{\"content\":\"hi\"}],\"stream\":true}",
        "{\"messages\":[],\"stream\":true,\"stream_options\":{\"continuous_usage_stats\":false}}",
        "{\"stream\":true,\"stream_options\":{\"a\":1},\"messages\":[],\"stream_options\":{}}",
        "{\"messages\":[],\"logprobs\":true,\"logprobs\":true}",
        "{\"prompt\":[1],\"logprobs\":1,\"top_logprobs\":3,\"top_logprobs\":4}",
    };
    for (size_t i = 0; i != sizeof(bodies) / sizeof(bodies[0]) + sizeof(extra) / sizeof(extra[0]); ++i) {
        const char *body = i < sizeof(bodies) / sizeof(bodies[0]) ? bodies[i] : extra[i - sizeof(bodies) / sizeof(bodies[0])];
        size_t len = strlen(body);
        sl_json_span_t root;
        sl_adapter_request_t located;
        if (A->read(body, len, &root, &located) != SL_OK)
            continue;
        sl_adapter_request_t walking = located;
        walking.located_by = NULL;
        for (size_t k = 0; k != sizeof(kinds) / sizeof(kinds[0]); ++k) {
            for (int m = 0; m != 2; ++m) {
                sl_conf_signal_t sig = {kinds[k], NULL};
                sl_adapter_want_t want = {m ? "small\"1" : NULL, &sig};
                sl_adapter_body_t a = {NULL, 0, 0}, b = {NULL, 0, 0};
                int ra = A->encode(body, len, &located, &want, &fixture_alloc, &a);
                int rb = A->encode(body, len, &walking, &want, &fixture_alloc, &b);
                cr_assert_eq(ra, rb, "%s (signal %d, model %d)", body, (int)kinds[k], m);
                if (ra == SL_OK)
                    cr_assert_str_eq(fixture_join(&a), fixture_join(&b), "%s", body);
            }
        }
    }
}

/* a model quoted ahead (per config generation) is written as the adapter would have written it */
Test(openai_read, model_quoted_ahead_is_used_as_is)
{
    const char *body = "{\"model\":\"gpt\",\"messages\":[]}";
    sl_json_span_t root;
    sl_adapter_request_t req;
    cr_assert_eq(A->read(body, strlen(body), &root, &req), SL_OK);
    sl_adapter_want_t own = {"m\"1", NULL, NULL, 0}, ahead = {"m\"1", NULL, "\"m\\\"1\"", 6};
    sl_adapter_body_t a, b;
    cr_assert_eq(A->encode(body, strlen(body), &req, &own, &fixture_alloc, &a), SL_OK);
    cr_assert_eq(A->encode(body, strlen(body), &req, &ahead, &fixture_alloc, &b), SL_OK);
    cr_assert_str_eq(fixture_join(&a), "{\"model\":\"m\\\"1\",\"messages\":[]}");
    cr_assert_str_eq(fixture_join(&b), fixture_join(&a));
    int borrowed = 0;
    for (size_t i = 0; i != b.num_pieces; ++i)
        borrowed |= b.pieces[i].base == ahead.model_quoted;
    cr_assert(borrowed); /* the caller's bytes, not a copy */
}
