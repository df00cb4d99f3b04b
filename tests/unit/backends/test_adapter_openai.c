/* The openai adapter on recorded answers (tests/fixtures/adapters/, reference values from expected.py there). */
#include "adapter_fixture.h"

static const sl_adapter_t *A = &sl_adapter_openai;

static sl_adapter_request_t inspect(const char *body)
{
    sl_json_span_t root;
    sl_adapter_request_t req;
    cr_assert_eq(sl_json_parse(body, strlen(body), &root), SL_OK);
    cr_assert_eq(A->inspect(&root, &req), SL_OK);
    return req;
}

static const char *encode(const char *body, const char *model, enum en_sl_signal_kind_t kind)
{
    sl_adapter_request_t req = inspect(body);
    sl_conf_signal_t sig = {kind, NULL};
    sl_adapter_want_t want = {model, &sig};
    sl_adapter_body_t out;
    cr_assert_eq(A->encode(body, strlen(body), &req, &want, &fixture_alloc, &out), SL_OK);
    return fixture_join(&out);
}

static sl_adapter_answer_t decode(const char *body, size_t len)
{
    sl_adapter_answer_t ans;
    cr_assert_eq(A->decode(NULL, 200, body, len, &ans), SL_OK);
    return ans;
}

static sl_signal_t signal_of(const sl_adapter_answer_t *ans, enum en_sl_signal_kind_t kind, const char *arg)
{
    sl_conf_signal_t sig = {kind, arg};
    sl_signal_t out;
    sl_adapter_signal(A, NULL, ans, NULL, &sig, &out);
    return out;
}

TestSuite(openai, .init = fixture_setup, .fini = fixture_teardown);

Test(openai, table_lookup)
{
    cr_assert_eq(sl_adapter_get(SL_PROTOCOL_OPENAI), &sl_adapter_openai);
    cr_assert_eq(sl_adapter_get(SL_PROTOCOL_KSERVE_V2), &sl_adapter_kserve_v2);
    cr_assert_eq(sl_adapter_get(SL_PROTOCOL_HTTP), &sl_adapter_http);
    cr_assert_null(sl_adapter_get((enum en_sl_protocol_t)17));
    cr_assert_eq(sl_adapter_find("kserve_v2"), &sl_adapter_kserve_v2);
    cr_assert_null(sl_adapter_find("grpc"));
}

Test(openai, inspect_chat_request)
{
    size_t len;
    const char *body = fixture_read("openai_chat_request.json", &len);
    sl_adapter_request_t req = inspect(body);
    cr_assert_eq(req.kind, SL_ADAPTER_KIND_CHAT);
    cr_assert(sl_json_string_eq(&req.model, "gpt-4o-mini", 11));
    cr_assert_eq(req.stream, 1);
    cr_assert_eq(req.usage, 0); /* include_usage: false */
    cr_assert_eq(req.logprobs, 0);
    cr_assert_eq(req.num_messages, 4);
    cr_assert_eq(req.prompt_bytes, 98); /* text parts only; the image URL does not count */
    cr_assert_eq(req.prompt_tokens, 25);
}

Test(openai, inspect_completions_and_flags)
{
    sl_adapter_request_t req = inspect("{\"prompt\":[[1,2,3],[4]],\"logprobs\":3,\"model\":7}");
    cr_assert_eq(req.kind, SL_ADAPTER_KIND_COMPLETIONS);
    cr_assert_eq(req.prompt_bytes, 16); /* token ids count 4 bytes each */
    cr_assert_eq(req.prompt_tokens, 4);
    cr_assert_eq(req.logprobs, 1);
    cr_assert_eq(req.top_logprobs, 3);
    cr_assert_eq(req.model.type, SL_JSON_INVALID); /* not a string */
    req = inspect("{\"messages\":[],\"logprobs\":true,\"top_logprobs\":5,\"stream\":true,"
                  "\"stream_options\":{\"include_usage\":true},\"stream\":false}");
    cr_assert_eq(req.kind, SL_ADAPTER_KIND_CHAT);
    cr_assert_eq(req.logprobs, 1);
    cr_assert_eq(req.top_logprobs, 5);
    cr_assert_eq(req.stream, 1); /* first occurrence wins */
    cr_assert_eq(req.usage, 1);
    cr_assert_eq(req.prompt_tokens, 0);
    req = inspect("{\"prompt\":\"abcde\"}");
    cr_assert_eq(req.prompt_tokens, 2);
    req = inspect("{\"input\":\"abc\"}");
    cr_assert_eq(req.kind, SL_ADAPTER_KIND_OTHER);
    sl_json_span_t arr = {"[]", 2, SL_JSON_ARRAY};
    cr_assert_eq(A->inspect(&arr, &req), SL_EINVAL);
}

Test(openai, encode_rewrites_model_and_asks_what_the_signal_needs)
{
    const char *body = "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":true}";
    cr_assert_str_eq(encode(body, "llama-8b", SL_SIGNAL_LOGPROB_MEAN),
                     "{\"model\":\"llama-8b\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":true,"
                     "\"logprobs\":true,\"stream_options\":{\"include_usage\":true}}");
    cr_assert_str_eq(encode(body, NULL, SL_SIGNAL_MARGIN),
                     "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":true,"
                     "\"logprobs\":true,\"top_logprobs\":2,\"stream_options\":{\"include_usage\":true}}");
    /* the client's stream_options object is kept and completed */
    cr_assert_str_eq(
        encode("{\"messages\":[],\"stream\":true,\"stream_options\":{\"continuous_usage_stats\":false}}", NULL, SL_SIGNAL_NONE),
        "{\"messages\":[],\"stream\":true,\"stream_options\":{\"continuous_usage_stats\":false,"
        "\"include_usage\":true}}");
    cr_assert_str_eq(
        encode("{\"messages\":[],\"stream\":true,\"stream_options\":{\"include_usage\":false}}", NULL, SL_SIGNAL_NONE),
        "{\"messages\":[],\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
    /* model names are escaped, and inserted when the client sent none */
    cr_assert_str_eq(encode("{\"messages\":[]}", "m\"1", SL_SIGNAL_NONE), "{\"messages\":[],\"model\":\"m\\\"1\"}");
    /* completions ask "logprobs": n */
    cr_assert_str_eq(encode("{\"model\":\"x\",\"prompt\":[1,2,3]}", NULL, SL_SIGNAL_LOGPROB_MIN),
                     "{\"model\":\"x\",\"prompt\":[1,2,3],\"logprobs\":1}");
    cr_assert_str_eq(encode("{\"prompt\":\"a\",\"logprobs\":0}", NULL, SL_SIGNAL_MARGIN), "{\"prompt\":\"a\",\"logprobs\":2}");
    cr_assert_str_eq(encode("{\"prompt\":\"a\",\"logprobs\":4}", NULL, SL_SIGNAL_MARGIN), "{\"prompt\":\"a\",\"logprobs\":4}");
}

Test(openai, encode_without_changes_is_the_body_itself)
{
    const char *body = "{\"messages\":[],\"logprobs\":true,\"top_logprobs\":3}";
    sl_adapter_request_t req = inspect(body);
    sl_conf_signal_t sig = {SL_SIGNAL_MARGIN, NULL};
    sl_adapter_want_t want = {NULL, &sig};
    sl_adapter_body_t out;
    cr_assert_eq(A->encode(body, strlen(body), &req, &want, &fixture_alloc, &out), SL_OK);
    cr_assert_eq(out.num_pieces, 1);
    cr_assert_eq(out.pieces[0].base, body);
    cr_assert_eq(out.len, strlen(body));
}

Test(openai, encode_refuses_duplicated_keys)
{
    const char *body = "{\"model\":\"a\",\"messages\":[],\"model\":\"b\"}";
    sl_adapter_request_t req = inspect(body);
    sl_adapter_want_t want = {"small", NULL};
    sl_adapter_body_t out = {NULL, 0, 0};
    cr_assert_eq(A->encode(body, strlen(body), &req, &want, &fixture_alloc, &out), SL_EEXIST);
    cr_assert_null(out.pieces);
}

/* A member the client set itself and encode keeps (logprobs asked, stream_options with include_usage) decides what
 * sluice asks for no more than an edited one: repeated, an upstream that keeps the last would see another value. */
Test(openai, encode_refuses_repeated_members_it_keeps)
{
    static const struct {
        const char *body;
        enum en_sl_signal_kind_t kind;
    } cases[] = {
        {"{\"messages\":[],\"logprobs\":true,\"logprobs\":false}", SL_SIGNAL_LOGPROB_MEAN},
        {"{\"messages\":[],\"logprobs\":true,\"top_logprobs\":5,\"top_logprobs\":0}", SL_SIGNAL_MARGIN},
        {"{\"prompt\":\"a\",\"logprobs\":2,\"logprobs\":0}", SL_SIGNAL_MARGIN},
        {"{\"messages\":[],\"stream\":true,\"stream_options\":{\"include_usage\":true},\"stream_options\":{}}", SL_SIGNAL_NONE},
        {"{\"messages\":[],\"stream\":true,\"stream_options\":{\"include_usage\":true,\"include_usage\":false}}",
         SL_SIGNAL_NONE},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        sl_adapter_request_t req = inspect(cases[i].body);
        sl_conf_signal_t sig = {cases[i].kind, NULL};
        sl_adapter_want_t want = {NULL, &sig};
        sl_adapter_body_t out = {NULL, 0, 0};
        cr_expect_eq(A->encode(cases[i].body, strlen(cases[i].body), &req, &want, &fixture_alloc, &out), SL_EEXIST,
                     "case %zu: %s", i, cases[i].body);
        cr_expect_null(out.pieces);
        /* the same without the located members (the walk finds the repeat too) */
        req.located_by = NULL;
        cr_expect_eq(A->encode(cases[i].body, strlen(cases[i].body), &req, &want, &fixture_alloc, &out), SL_EEXIST,
                     "case %zu walked", i);
    }
    /* asked once, the body goes as it came */
    const char *once = "{\"messages\":[],\"stream\":true,\"stream_options\":{\"include_usage\":true},\"logprobs\":true}";
    cr_assert_str_eq(encode(once, NULL, SL_SIGNAL_LOGPROB_MEAN), once);
}

Test(openai, decode_chat_with_logprobs)
{
    size_t len;
    const char *body = fixture_read("openai_chat_logprobs.json", &len);
    sl_adapter_answer_t ans = decode(body, len);
    cr_assert_eq(ans.has_usage, 1);
    cr_assert_eq(ans.prompt_tokens, 24);
    cr_assert_eq(ans.completion_tokens, 6);
    cr_assert(sl_json_string_eq(&ans.prediction, "The capital is Paris (caf\xc3\xa9 \xe2\x98\x95).", 33));
    cr_assert_eq(ans.prediction_class, -1);
    cr_assert_signal(signal_of(&ans, SL_SIGNAL_LOGPROB_MEAN, NULL), -1666.7615636613016);
    cr_assert_signal(signal_of(&ans, SL_SIGNAL_LOGPROB_MIN, NULL), -9999.0);
    cr_assert_signal(signal_of(&ans, SL_SIGNAL_TOP_PROB, NULL), 0.9980625693464341);
    cr_assert_signal(signal_of(&ans, SL_SIGNAL_MARGIN, NULL), 0.9961358553121508);
    cr_assert_signal(signal_of(&ans, SL_SIGNAL_JSON, "/usage/completion_tokens_details/reasoning_tokens"), 0);
    cr_assert_signal(signal_of(&ans, SL_SIGNAL_JSON, "/choices/0/logprobs/content/3/logprob"), -0.00012856863);
}

Test(openai, decode_chat_without_logprobs_reports_missing)
{
    size_t len;
    const char *body = fixture_read("openai_chat_plain.json", &len);
    sl_adapter_answer_t ans = decode(body, len);
    cr_assert_eq(ans.completion_tokens, 8);
    cr_assert(sl_json_string_eq(&ans.prediction, "The capital of France is Paris.", 31));
    sl_signal_t s = signal_of(&ans, SL_SIGNAL_LOGPROB_MEAN, NULL);
    cr_assert_signal_state(s, SL_SIGNAL_MISSING, "answer has no token logprobs");
    s = signal_of(&ans, SL_SIGNAL_MARGIN, NULL);
    cr_assert_signal_state(s, SL_SIGNAL_MISSING, "answer has no token logprobs");
    s = signal_of(&ans, SL_SIGNAL_NONE, NULL);
    cr_assert_signal_state(s, SL_SIGNAL_MISSING, "no signal configured");
}

Test(openai, decode_legacy_completions)
{
    size_t len;
    const char *body = fixture_read("openai_completions_logprobs.json", &len);
    sl_adapter_answer_t ans = decode(body, len);
    cr_assert_eq(ans.prompt_tokens, 7);
    cr_assert_eq(ans.completion_tokens, 4);
    cr_assert(sl_json_string_eq(&ans.prediction, " Paris.\n\nIt", 11));
    cr_assert_signal(signal_of(&ans, SL_SIGNAL_LOGPROB_MEAN, NULL), -1.05664334);
    cr_assert_signal(signal_of(&ans, SL_SIGNAL_LOGPROB_MIN, NULL), -2.75);
    cr_assert_signal(signal_of(&ans, SL_SIGNAL_TOP_PROB, NULL), 0.9788772767788124);
    cr_assert_signal(signal_of(&ans, SL_SIGNAL_MARGIN, NULL), 0.9627194303449327);
}

Test(openai, decode_odd_but_legal_json)
{
    size_t len;
    const char *body = fixture_read("openai_chat_odd.json", &len);
    sl_adapter_answer_t ans = decode(body, len);
    cr_assert_eq(ans.has_usage, 1);
    cr_assert_eq(ans.prompt_tokens, 2);
    cr_assert_eq(ans.completion_tokens, 3);
    cr_assert(sl_json_string_eq(&ans.prediction,
                                "\xf0\x9f\x98\x80\xc3\xa7"
                                "a va\"\\",
                                12));
    cr_assert_signal(signal_of(&ans, SL_SIGNAL_LOGPROB_MEAN, NULL), -0.43333333333333335);
    cr_assert_signal(signal_of(&ans, SL_SIGNAL_LOGPROB_MIN, NULL), -1.25);
    cr_assert_signal(signal_of(&ans, SL_SIGNAL_TOP_PROB, NULL), 0.951229424500714);
    sl_signal_t s = signal_of(&ans, SL_SIGNAL_MARGIN, NULL);
    cr_assert_signal_state(s, SL_SIGNAL_MISSING, "margin needs two alternatives for the first token");
    s = signal_of(&ans, SL_SIGNAL_JSON, "/x_vendor_big");
    cr_assert_signal_state(s, SL_SIGNAL_UNPARSABLE, "number out of range");
    cr_assert_signal(signal_of(&ans, SL_SIGNAL_JSON, "/x_vendor_seed"), 1.2345678901234568e29);
}

Test(openai, unparsable_token_logprob)
{
    const char *body = "{\"choices\":[{\"index\":0,\"message\":{\"content\":\"a\"},\"logprobs\":{\"content\":"
                       "[{\"token\":\"a\",\"logprob\":\"-0.5\"}]}}]}";
    sl_adapter_answer_t ans = decode(body, strlen(body));
    sl_signal_t s = signal_of(&ans, SL_SIGNAL_LOGPROB_MEAN, NULL);
    cr_assert_signal_state(s, SL_SIGNAL_UNPARSABLE, "a token logprob is not a number");
    body = "{\"choices\":[{\"index\":0,\"message\":{\"content\":\"\"},\"logprobs\":{\"content\":[]}}]}";
    ans = decode(body, strlen(body));
    s = signal_of(&ans, SL_SIGNAL_LOGPROB_MIN, NULL);
    cr_assert_signal_state(s, SL_SIGNAL_MISSING, "answer has no token logprobs");
    body = "{\"object\":\"list\"}";
    ans = decode(body, strlen(body));
    s = signal_of(&ans, SL_SIGNAL_LOGPROB_MIN, NULL);
    cr_assert_signal_state(s, SL_SIGNAL_MISSING, "answer has no choices");
}

Test(openai, decode_failures_and_non_success)
{
    sl_adapter_answer_t ans;
    ans.status = 1;
    cr_assert_eq(A->decode(NULL, 200, "<html>", 6, &ans), SL_EPROTO);
    cr_assert_eq(A->decode(NULL, 200, "[1]", 3, &ans), SL_EPROTO);
    cr_assert_eq(A->decode(NULL, 200, "{\"choices\":[}", 13, &ans), SL_EPROTO);
    cr_assert_eq(ans.status, 1); /* untouched */
    cr_assert_eq(A->decode(NULL, 503, "<html>busy</html>", 17, &ans), SL_OK);
    cr_assert_eq(ans.status, 503);
    cr_assert_eq(ans.root.type, SL_JSON_INVALID);
    sl_signal_t s = signal_of(&ans, SL_SIGNAL_LOGPROB_MEAN, NULL);
    cr_assert_signal_state(s, SL_SIGNAL_MISSING, "upstream answer is not a success");
    s = signal_of(&ans, SL_SIGNAL_JSON, "/x");
    cr_assert_signal_state(s, SL_SIGNAL_MISSING, "answer is not JSON");
    const char *err = "{\"error\":{\"message\":\"This model's maximum context length is 8192 tokens\","
                      "\"type\":\"invalid_request_error\",\"param\":\"messages\",\"code\":\"context_length_exceeded\"}}";
    cr_assert_eq(A->decode(NULL, 400, err, strlen(err), &ans), SL_OK);
    cr_assert_eq(ans.root.type, SL_JSON_OBJECT);
    s = signal_of(&ans, SL_SIGNAL_LOGPROB_MEAN, NULL);
    cr_assert_signal_state(s, SL_SIGNAL_MISSING, "upstream answer is not a success");
}

static const char *header_get(void *ctx, const char *name, size_t name_len, size_t *value_len)
{
    const char *const *kv = ctx;
    for (; kv[0] != NULL; kv += 2) {
        if (strlen(kv[0]) == name_len && memcmp(kv[0], name, name_len) == 0) {
            *value_len = strlen(kv[1]);
            return kv[1];
        }
    }
    return NULL;
}

Test(openai, header_signals)
{
    const char *kv[] = {"x-confidence", " 0.875 ", "x-bad", "high", "x-huge", "1e999", NULL};
    sl_adapter_headers_t h = {header_get, kv};
    sl_adapter_answer_t ans = decode("{}", 2);
    sl_conf_signal_t sig = {SL_SIGNAL_HEADER, "x-confidence"};
    sl_signal_t s;
    sl_adapter_signal(A, NULL, &ans, &h, &sig, &s);
    cr_assert_signal(s, 0.875);
    sig.arg = "x-bad";
    sl_adapter_signal(A, NULL, &ans, &h, &sig, &s);
    cr_assert_signal_state(s, SL_SIGNAL_UNPARSABLE, "response header is not a number");
    sig.arg = "x-huge";
    sl_adapter_signal(A, NULL, &ans, &h, &sig, &s);
    cr_assert_signal_state(s, SL_SIGNAL_UNPARSABLE, "number out of range");
    sig.arg = "x-none";
    sl_adapter_signal(A, NULL, &ans, &h, &sig, &s);
    cr_assert_signal_state(s, SL_SIGNAL_MISSING, "no such response header");
    sl_adapter_signal(A, NULL, &ans, NULL, &sig, &s);
    cr_assert_signal_state(s, SL_SIGNAL_MISSING, "no such response header");
}

Test(openai, strip_logprobs_from_a_whole_answer)
{
    size_t len;
    const char *body = fixture_read("openai_chat_logprobs.json", &len);
    sl_adapter_request_t client = inspect("{\"messages\":[]}");
    sl_adapter_body_t out;
    cr_assert_eq(A->strip(body, len, &client, &fixture_alloc, &out), SL_OK);
    const char *text = fixture_join(&out);
    sl_json_span_t root, lp, orig_root, orig_lp, msg;
    cr_assert_eq(sl_json_parse(text, out.len, &root), SL_OK);
    cr_assert_eq(sl_json_find_pointer(&root, "/choices/0/logprobs", 19, &lp), SL_OK);
    cr_assert_eq(lp.type, SL_JSON_NULL);
    cr_assert_eq(sl_json_parse(body, len, &orig_root), SL_OK);
    cr_assert_eq(sl_json_find_pointer(&orig_root, "/choices/0/logprobs", 19, &orig_lp), SL_OK);
    cr_assert_eq(out.len, len - orig_lp.len + 4);
    /* everything before and after the replaced value is byte for byte the original */
    size_t before = (size_t)(orig_lp.p - body);
    cr_assert_eq(memcmp(text, body, before), 0);
    cr_assert_eq(memcmp(text + before + 4, orig_lp.p + orig_lp.len, len - before - orig_lp.len), 0);
    cr_assert_eq(sl_json_find_pointer(&root, "/choices/0/message/content", 26, &msg), SL_OK);
    cr_assert(sl_json_string_eq(&msg, "The capital is Paris (caf\xc3\xa9 \xe2\x98\x95).", 33));
    cr_assert_eq(fixture_python_json_ok(text), 0);

    /* a client that asked keeps them: the answer itself, not a copy */
    sl_adapter_request_t asked = inspect("{\"messages\":[],\"logprobs\":true}");
    cr_assert_eq(A->strip(body, len, &asked, &fixture_alloc, &out), SL_OK);
    cr_assert_eq(out.num_pieces, 1);
    cr_assert_eq(out.pieces[0].base, body);
    /* every choice, and every duplicate of the key */
    const char *multi = "{\"choices\":[{\"logprobs\":{\"content\":[]},\"logprobs\":[]},{\"index\":1,\"logprobs\":null}]}";
    cr_assert_eq(A->strip(multi, strlen(multi), &client, &fixture_alloc, &out), SL_OK);
    cr_assert_str_eq(fixture_join(&out),
                     "{\"choices\":[{\"logprobs\":null,\"logprobs\":null},{\"index\":1,\"logprobs\":null}]}");
    cr_assert_eq(A->strip("nope", 4, &client, &fixture_alloc, &out), SL_EPROTO);
}

Test(openai, format_error_in_openai_shape)
{
    sl_adapter_body_t out;
    sl_adapter_error_t e = {504, "upstream_error", "upstream_timeout", "upstream \"small\" timed out"};
    cr_assert_eq(A->format_error(&e, &fixture_alloc, &out), SL_OK);
    const char *text = fixture_join(&out);
    cr_assert_str_eq(text, "{\"error\":{\"message\":\"upstream \\\"small\\\" timed out\",\"type\":\"upstream_error\","
                           "\"param\":null,\"code\":\"upstream_timeout\"}}");
    e.code = NULL;
    cr_assert_eq(A->format_error(&e, &fixture_alloc, &out), SL_OK);
    cr_assert_str_eq(fixture_join(&out), "{\"error\":{\"message\":\"upstream \\\"small\\\" timed out\","
                                         "\"type\":\"upstream_error\",\"param\":null,\"code\":null}}");
    cr_assert_eq(sl_json_parse(text, strlen(text), NULL), SL_OK);
}

Test(openai, path_is_unchanged)
{
    sl_json_piece_t p;
    cr_assert_eq(A->encode_path("/v1/chat/completions", 20, "llama", &fixture_alloc, &p), SL_OK);
    cr_assert_eq(p.len, 20);
    cr_assert_eq(memcmp(p.base, "/v1/chat/completions", 20), 0);
}
