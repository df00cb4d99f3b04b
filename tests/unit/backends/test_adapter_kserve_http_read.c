/* The one-pass reads of the kserve_v2 and http adapters (backends/kserve_v2.c, backends/http.c) against their
 * inspect, which walks a parsed root with lookups and iterators and stays the definition of the facts. Both run on
 * hand-made bodies with every shape the facts care about and on tens of thousands of mutations of them (fixed
 * seed); then http's encode from the located "model" against encode walking the body. */
#include "adapter_fixture.h"

/* read(body) against sl_json_parse(body) + inspect(root): the same returns, root and facts. */
static void assert_same_facts(const sl_adapter_t *a, const char *body, size_t len)
{
    sl_json_span_t root, root2;
    sl_adapter_request_t got, want;
    memset(&got, 0xab, sizeof(got));
    memset(&root2, 0xab, sizeof(root2));
    int parsed = sl_json_parse(body, len, &root);
    int ret = a->read(body, len, &root2, &got);
    if (parsed != SL_OK) {
        cr_assert_eq(ret, parsed, "%s: %.*s", a->name, (int)len, body);
        return;
    }
    cr_assert_eq(root2.p, root.p, "%.*s", (int)len, body);
    cr_assert_eq(root2.len, root.len);
    cr_assert_eq(root2.type, root.type);
    int ref = a->inspect(&root, &want);
    cr_assert_eq(ret, ref, "%s: %.*s", a->name, (int)len, body);
    if (ret != SL_OK)
        return;
    cr_assert_eq(got.kind, want.kind, "%.*s", (int)len, body);
    cr_assert_eq(got.root.p, want.root.p);
    cr_assert_eq(got.root.len, want.root.len);
    cr_assert_eq(got.root.type, want.root.type);
    cr_assert_eq(got.model.p, want.model.p, "%s: %.*s", a->name, (int)len, body);
    cr_assert_eq(got.model.len, want.model.len);
    cr_assert_eq(got.model.type, want.model.type);
    cr_assert_eq(got.stream, want.stream, "%s: %.*s", a->name, (int)len, body);
    cr_assert_eq(got.logprobs, want.logprobs);
    cr_assert_eq(got.top_logprobs, want.top_logprobs);
    cr_assert_eq(got.usage, want.usage);
    cr_assert_eq(got.num_messages, want.num_messages);
    cr_assert_eq(got.prompt_bytes, want.prompt_bytes, "%s: %.*s: %llu vs %llu", a->name, (int)len, body,
                 (unsigned long long)got.prompt_bytes, (unsigned long long)want.prompt_bytes);
    cr_assert_eq(got.prompt_tokens, want.prompt_tokens);
    /* http locates "model" in an object for its encode; kserve sends the body as it came and locates nothing */
    cr_assert_eq(got.located_by, a == &sl_adapter_http && root.type == SL_JSON_OBJECT ? a : NULL, "%.*s", (int)len, body);
}

static const char *const kserve_bodies[] = {
    "{}",
    "{\"id\":\"1\",\"inputs\":[{\"name\":\"text\",\"shape\":[2],\"datatype\":\"BYTES\",\"data\":[\"caf\\u00e9\",\"ok\"]},"
    "{\"name\":\"mask\",\"shape\":[1,3],\"datatype\":\"INT64\",\"data\":[[1,1,0]]}]}",
    /* nested data, data before datatype, a string datum, an object datum (its string values count, keys not) */
    "{\"inputs\":[{\"data\":[[\"ab\",[\"c\"]],[\"\\n\"]],\"datatype\":\"BYTES\"},{\"datatype\":\"BYTES\",\"data\":\"xyz\"},"
    "{\"datatype\":\"BYTES\",\"data\":{\"k\":\"vv\",\"n\":[\"w\"]}},{\"datatype\":\"BYTES\",\"data\":7}]}",
    /* the first "datatype" and the first "data" of an input win */
    "{\"inputs\":[{\"datatype\":\"FP32\",\"datatype\":\"BYTES\",\"data\":[\"no\"]},{\"datatype\":\"BYTES\",\"data\":[\"a\"],"
    "\"data\":[\"bbbb\"]},{\"data\":[\"no\"]},{\"datatype\":\"BYTES\"},{\"datatype\":\"BYTES\",\"data\":[\"cc\"],"
    "\"datatype\":\"INT8\"}]}",
    /* escaped names are names; "BYTES" written with an escape is BYTES; other spellings are not */
    "{\"in\\u0070uts\":[{\"d\\u0061tatype\":\"BYT\\u0045S\",\"dat\\u0061\":[\"abc\"]},{\"datatype\":\"bytes\",\"data\":[\"x\"]},"
    "{\"datatype\":[\"BYTES\"],\"data\":[\"x\"]},{\"datatype\":\"BYTES \",\"data\":[\"x\"]}]}",
    /* the first "inputs" wins, an object "inputs" has no inputs, inputs that are not objects count nothing */
    "{\"inputs\":[{\"datatype\":\"BYTES\",\"data\":[\"a\"]}],\"inputs\":[{\"datatype\":\"BYTES\",\"data\":[\"bbbbbb\"]}]}",
    "{\"inputs\":{\"x\":{\"datatype\":\"BYTES\",\"data\":[\"a\"]}},\"inputs\":[{\"datatype\":\"BYTES\",\"data\":[\"b\"]}]}",
    "{\"inputs\":[[{\"datatype\":\"BYTES\",\"data\":[\"a\"]}],\"s\",3,null,{\"datatype\":\"BYTES\",\"data\":[\"de\"]}]}",
    "{\"inputs\":\"BYTES\",\"outputs\":[{\"name\":\"o\"}]}",
    /* names at other depths are not the input's members */
    "{\"x\":{\"inputs\":[{\"datatype\":\"BYTES\",\"data\":[\"no\"]}]},\"inputs\":[{\"p\":{\"datatype\":\"BYTES\","
    "\"data\":[\"no\"]},\"datatype\":\"BYTES\",\"data\":[{\"datatype\":\"BYTES\",\"data\":\"yes\"}]}]}",
    "{\"inputs\":[{\"datatype\":\"BYTES\",\"data\":[\"\\ud83d\\ude00 caf\xc3\xa9\",\"\"]}],\"model\":\"m\",\"stream\":true}",
    "{\"inputs\":[]}",
    "[]",
    "[{\"inputs\":[{\"datatype\":\"BYTES\",\"data\":[\"a\"]}]}]",
    "\"inputs\"",
    "12",
};

static const char *const http_bodies[] = {
    "{}",
    "{\"model\":\"a\",\"text\":\"hello\",\"opts\":{\"lang\":\"fr\",\"n\":2},\"tags\":[\"x\",\"yz\"],\"stream\":true}",
    /* the first "model" and "stream" win; a model that is not a string is none */
    "{\"model\":\"a\",\"model\":\"bb\",\"stream\":false,\"stream\":true}",
    "{\"model\":5,\"model\":\"b\",\"stream\":\"true\"}",
    "{\"stream\":true,\"model\":null}",
    "{\"mod\\u0065l\":\"esc\",\"str\\u0065am\":true,\"\\u006dodel\":\"late\"}",
    /* names at other depths, names of other lengths */
    "{\"x\":{\"model\":\"inner\",\"stream\":true},\"models\":\"no\",\"mode\":\"no\",\"streams\":true}",
    "{\"data\":[[\"a\",[\"bc\"]],{\"k\":\"\\u00e9\\n\"}],\"key\\\"s\":\"\",\"n\":[1,2.5,true,null]}",
    "{\"model\":\"\\ud83d\\ude00\",\"t\":\"caf\xc3\xa9\"}",
    /* not objects: facts without model or stream, strings counted all the same */
    "[1,\"ab\",{\"model\":\"m\",\"stream\":true}]",
    "\"a string root\"",
    "\"esc\\u00e9\"",
    "42",
    "true",
    "null",
    "[]",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

TestSuite(kserve_http_read, .init = fixture_setup, .fini = fixture_teardown);

Test(kserve_http_read, same_facts_as_inspect)
{
    for (size_t i = 0; i != COUNT(kserve_bodies); ++i)
        assert_same_facts(&sl_adapter_kserve_v2, kserve_bodies[i], strlen(kserve_bodies[i]));
    for (size_t i = 0; i != COUNT(http_bodies); ++i)
        assert_same_facts(&sl_adapter_http, http_bodies[i], strlen(http_bodies[i]));
    /* every body through both adapters (and the openai requests through these two) */
    for (size_t i = 0; i != COUNT(http_bodies); ++i)
        assert_same_facts(&sl_adapter_kserve_v2, http_bodies[i], strlen(http_bodies[i]));
    for (size_t i = 0; i != COUNT(kserve_bodies); ++i)
        assert_same_facts(&sl_adapter_http, kserve_bodies[i], strlen(kserve_bodies[i]));
    size_t len;
    const char *body = fixture_read("openai_chat_request.json", &len);
    assert_same_facts(&sl_adapter_http, body, len);
    assert_same_facts(&sl_adapter_kserve_v2, body, len);
}

Test(kserve_http_read, http_names_a_repeated_model_or_stream)
{
    static const char *const cases[][2] = {
        {"{\"model\":\"a\",\"model\":\"b\"}", "model"},
        {"{\"stream\":true,\"x\":1,\"stream\":false}", "stream"},
        {"{\"stream\":true,\"model\":\"a\",\"stream\":true,\"model\":\"a\"}", "stream"},
        {"{\"model\":\"a\",\"opts\":{\"model\":\"b\",\"stream\":1},\"stream\":true}", NULL},
        {"{\"text\":\"a\",\"text\":\"b\"}", NULL},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        sl_json_span_t root;
        sl_adapter_request_t r;
        cr_assert_eq(sl_adapter_http.read(cases[i][0], strlen(cases[i][0]), &root, &r), SL_OK, "case %zu", i);
        sl_adapter_request_t inspected;
        cr_assert_eq(sl_adapter_http.inspect(&root, &inspected), SL_OK);
        if (cases[i][1] == NULL) {
            cr_expect_null(r.repeated, "case %zu: %s", i, r.repeated);
            cr_expect_null(inspected.repeated, "case %zu inspected: %s", i, inspected.repeated);
        } else {
            cr_expect_str_eq(r.repeated != NULL ? r.repeated : "(none)", cases[i][1], "case %zu", i);
            cr_expect_str_eq(inspected.repeated != NULL ? inspected.repeated : "(none)", cases[i][1], "case %zu inspected", i);
        }
    }
}

Test(kserve_http_read, exact_values)
{
    const sl_adapter_t *k = &sl_adapter_kserve_v2, *h = &sl_adapter_http;
    sl_json_span_t root;
    sl_adapter_request_t r;
    const char *b = kserve_bodies[1];
    cr_assert_eq(k->read(b, strlen(b), &root, &r), SL_OK);
    cr_assert_eq(r.kind, SL_ADAPTER_KIND_INFER);
    cr_assert_eq(r.prompt_bytes, 5 + 2); /* "caf\u00e9" (4 bytes of UTF-8 and one more), "ok" */
    cr_assert_eq(r.prompt_tokens, 2);
    cr_assert_eq(r.model.type, SL_JSON_INVALID);
    b = kserve_bodies[2];
    cr_assert_eq(k->read(b, strlen(b), &root, &r), SL_OK);
    cr_assert_eq(r.prompt_bytes, 2 + 1 + 1 + 3 + 2 + 1); /* "ab" "c" "\n", "xyz", "vv" "w" (the key "k" not), 7 none */
    b = kserve_bodies[3];
    cr_assert_eq(k->read(b, strlen(b), &root, &r), SL_OK);
    cr_assert_eq(r.prompt_bytes, 1 + 2);
    b = kserve_bodies[4];
    cr_assert_eq(k->read(b, strlen(b), &root, &r), SL_OK);
    cr_assert_eq(r.prompt_bytes, 3);
    b = kserve_bodies[7];
    cr_assert_eq(k->read(b, strlen(b), &root, &r), SL_OK);
    cr_assert_eq(r.prompt_bytes, 2);
    b = kserve_bodies[9];
    cr_assert_eq(k->read(b, strlen(b), &root, &r), SL_OK);
    cr_assert_eq(r.prompt_bytes, 5 + 3); /* every string value of the data: "BYTES" and "yes" */
    cr_assert_eq(k->read("[1]", 3, &root, &r), SL_EINVAL);
    cr_assert_eq(root.type, SL_JSON_ARRAY);
    cr_assert_eq(k->read("{\"inputs\":[}", 12, &root, &r), SL_ESYNTAX);

    b = http_bodies[1];
    cr_assert_eq(h->read(b, strlen(b), &root, &r), SL_OK);
    cr_assert_eq(r.kind, SL_ADAPTER_KIND_JSON);
    cr_assert_eq(r.prompt_bytes, 1 + 5 + 2 + 1 + 2);
    cr_assert_eq(r.stream, 1);
    cr_assert(sl_json_string_eq(&r.model, "a", 1));
    cr_assert_eq(r.num_members, 5);
    cr_assert_eq(r.edit_count[0], 1);
    cr_assert_eq(r.edit_at[0].p, strchr(b, ':') + 1);
    b = http_bodies[2];
    cr_assert_eq(h->read(b, strlen(b), &root, &r), SL_OK);
    cr_assert_eq(r.edit_count[0], 2); /* "model" twice */
    cr_assert_eq(r.stream, 0);
    b = http_bodies[5];
    cr_assert_eq(h->read(b, strlen(b), &root, &r), SL_OK);
    cr_assert(sl_json_string_eq(&r.model, "esc", 3));
    cr_assert_eq(r.edit_count[0], 2);
    cr_assert_eq(r.stream, 1);
    cr_assert_eq(h->read("[1,\"ab\"]", 8, &root, &r), SL_OK); /* any JSON is an http request */
    cr_assert_eq(r.prompt_bytes, 2);
    cr_assert_eq(r.located_by, NULL);
    cr_assert_eq(h->read("\"esc\\u00e9\"", 11, &root, &r), SL_OK);
    cr_assert_eq(r.prompt_bytes, 5);
    cr_assert_eq(h->read("{\"a\":1,}", 8, &root, &r), SL_ESYNTAX);
}

/* Flips one or two bytes of each seed body, mostly to structural bytes and digits (they move values between
 * members and levels), and compares the two reads of every result. */
static void mutate_and_compare(const sl_adapter_t *a, const char *const *seeds, size_t num_seeds, int rounds, uint64_t x)
{
    for (int round = 0; round != rounds; ++round) {
        const char *seed = seeds[round % num_seeds];
        size_t n = strlen(seed);
        char *doc = malloc(n + 1);
        memcpy(doc, seed, n + 1);
        for (int k = 0; k != 1 + round % 2; ++k) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            static const char alphabet[] = "{}[],:\"0129 tBx";
            doc[x % n] = (x >> 40) % 4 == 0 ? (char)(x >> 32) : alphabet[(x >> 32) % (sizeof(alphabet) - 1)];
        }
        assert_same_facts(a, doc, n);
        free(doc);
    }
}

Test(kserve_http_read, same_facts_on_mutations)
{
    mutate_and_compare(&sl_adapter_kserve_v2, kserve_bodies, COUNT(kserve_bodies), 30000, 0x2545f4914f6cdd1du);
    mutate_and_compare(&sl_adapter_http, http_bodies, COUNT(http_bodies), 30000, 0x9e3779b97f4a7c15u);
}

/* http: encode from the read's located "model" == encode walking the body (located_by cleared) */
Test(kserve_http_read, located_encode_equals_walking_encode)
{
    const sl_adapter_t *h = &sl_adapter_http;
    uint64_t x = 0x853c49e6748fea9bu;
    for (int round = 0; round != 6000; ++round) {
        const char *seed = http_bodies[round % COUNT(http_bodies)];
        size_t len = strlen(seed);
        char *body = malloc(len + 1);
        memcpy(body, seed, len + 1);
        if (round >= (int)COUNT(http_bodies)) { /* the seeds as they are first, then mutated */
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            static const char alphabet[] = "{}[],:\" m";
            body[x % len] = alphabet[(x >> 32) % (sizeof(alphabet) - 1)];
        }
        sl_json_span_t root;
        sl_adapter_request_t located;
        if (h->read(body, len, &root, &located) == SL_OK) {
            sl_adapter_request_t walking = located;
            walking.located_by = NULL;
            for (int m = 0; m != 2; ++m) {
                sl_adapter_want_t want = {m ? "small\"1" : NULL, NULL};
                sl_adapter_body_t a = {NULL, 0, 0}, b = {NULL, 0, 0};
                int ra = h->encode(body, len, &located, &want, &fixture_alloc, &a);
                int rb = h->encode(body, len, &walking, &want, &fixture_alloc, &b);
                cr_assert_eq(ra, rb, "%s (model %d)", body, m);
                if (ra == SL_OK)
                    cr_assert_str_eq(fixture_join(&a), fixture_join(&b), "%s", body);
            }
        }
        free(body);
    }
    /* exact results: replaced, inserted into an empty object, refused when repeated */
    sl_adapter_want_t want = {"b", NULL};
    sl_json_span_t root;
    sl_adapter_request_t req;
    sl_adapter_body_t out;
    const char *b = "{\"x\":1,\"model\":\"a\"}";
    cr_assert_eq(h->read(b, strlen(b), &root, &req), SL_OK);
    cr_assert_eq(h->encode(b, strlen(b), &req, &want, &fixture_alloc, &out), SL_OK);
    cr_assert_str_eq(fixture_join(&out), "{\"x\":1,\"model\":\"b\"}");
    b = " { } ";
    cr_assert_eq(h->read(b, strlen(b), &root, &req), SL_OK);
    cr_assert_eq(h->encode(b, strlen(b), &req, &want, &fixture_alloc, &out), SL_OK);
    cr_assert_str_eq(fixture_join(&out), " { \"model\":\"b\"} ");
    b = "{\"x\":[],\"y\":2}";
    cr_assert_eq(h->read(b, strlen(b), &root, &req), SL_OK);
    cr_assert_eq(h->encode(b, strlen(b), &req, &want, &fixture_alloc, &out), SL_OK);
    cr_assert_str_eq(fixture_join(&out), "{\"x\":[],\"y\":2,\"model\":\"b\"}");
    b = http_bodies[2];
    cr_assert_eq(h->read(b, strlen(b), &root, &req), SL_OK);
    cr_assert_eq(h->encode(b, strlen(b), &req, &want, &fixture_alloc, &out), SL_EEXIST);
}

/* Facts one adapter located are not another's: an openai tier behind an http route walks the body. */
Test(kserve_http_read, located_members_belong_to_their_adapter)
{
    const char *b = "{\"model\":\"a\",\"messages\":[],\"logprobs\":false}";
    sl_json_span_t root;
    sl_adapter_request_t req;
    cr_assert_eq(sl_adapter_http.read(b, strlen(b), &root, &req), SL_OK);
    sl_conf_signal_t sig = {SL_SIGNAL_LOGPROB_MEAN, NULL};
    sl_adapter_want_t want = {"m", &sig};
    req.kind = SL_ADAPTER_KIND_CHAT; /* what openai would read here: its logprobs edit applies */
    sl_adapter_body_t out;
    cr_assert_eq(sl_adapter_openai.encode(b, strlen(b), &req, &want, &fixture_alloc, &out), SL_OK);
    cr_assert_str_eq(fixture_join(&out), "{\"model\":\"m\",\"messages\":[],\"logprobs\":true}");
}
