/* The kserve_v2 and http adapters on recorded answers (reference values from tests/fixtures/adapters/expected.py). */
#include "adapter_fixture.h"

TestSuite(kserve, .init = fixture_setup, .fini = fixture_teardown);
TestSuite(http, .init = fixture_setup, .fini = fixture_teardown);

static sl_adapter_answer_t decode(const sl_adapter_t *a, const sl_conf_backend_t *b, const char *file)
{
    size_t len;
    const char *body = fixture_read(file, &len);
    sl_adapter_answer_t ans;
    cr_assert_eq(a->decode(b, 200, body, len, &ans), SL_OK);
    return ans;
}

static sl_signal_t signal_of(const sl_adapter_t *a, const sl_conf_backend_t *b, const sl_adapter_answer_t *ans,
                             enum en_sl_signal_kind_t kind)
{
    sl_conf_signal_t sig = {kind, NULL};
    sl_signal_t out;
    sl_adapter_signal(a, b, ans, NULL, &sig, &out);
    return out;
}

static sl_signal_t signal_of_text(const sl_adapter_t *a, const sl_conf_backend_t *b, const char *text,
                                  enum en_sl_signal_kind_t kind)
{
    sl_adapter_answer_t ans;
    cr_assert_eq(a->decode(b, 200, text, strlen(text), &ans), SL_OK, "%s", text);
    return signal_of(a, b, &ans, kind);
}

Test(kserve, fp32_probabilities)
{
    sl_adapter_answer_t ans = decode(&sl_adapter_kserve_v2, NULL, "kserve_v2_fp32.json");
    cr_assert_eq(ans.prediction_class, 1);
    cr_assert_eq(ans.prediction.type, SL_JSON_ARRAY);
    cr_assert_signal(signal_of(&sl_adapter_kserve_v2, NULL, &ans, SL_SIGNAL_TOP_PROB), 0.7734000086784363);
    cr_assert_signal(signal_of(&sl_adapter_kserve_v2, NULL, &ans, SL_SIGNAL_MARGIN), 0.6300000101327896);
    sl_signal_t s = signal_of(&sl_adapter_kserve_v2, NULL, &ans, SL_SIGNAL_LOGPROB_MEAN);
    cr_assert_signal_state(s, SL_SIGNAL_MISSING, "signal not available for protocol kserve_v2");
}

Test(kserve, fp64_nested_batch_judges_the_first_row)
{
    sl_adapter_answer_t ans = decode(&sl_adapter_kserve_v2, NULL, "kserve_v2_fp64_nested.json");
    cr_assert_eq(ans.prediction_class, 2); /* INT64 and BYTES outputs are skipped */
    cr_assert_signal(signal_of(&sl_adapter_kserve_v2, NULL, &ans, SL_SIGNAL_TOP_PROB), 0.8);
    cr_assert_signal(signal_of(&sl_adapter_kserve_v2, NULL, &ans, SL_SIGNAL_MARGIN), 0.65);
    /* a pointer chooses another tensor and another prediction */
    sl_conf_backend_t b = {.name = "k", .confidence_pointer = "/outputs/1/data/1", .prediction_pointer = "/outputs/2/data/1"};
    ans = decode(&sl_adapter_kserve_v2, &b, "kserve_v2_fp64_nested.json");
    cr_assert(sl_json_string_eq(&ans.prediction, "negative", 8));
    cr_assert_eq(ans.prediction_class, 0);
    cr_assert_signal(signal_of(&sl_adapter_kserve_v2, &b, &ans, SL_SIGNAL_TOP_PROB), 0.6);
    cr_assert_signal(signal_of(&sl_adapter_kserve_v2, &b, &ans, SL_SIGNAL_MARGIN), 0.3);
}

Test(kserve, unusable_tensors)
{
    const sl_adapter_t *k = &sl_adapter_kserve_v2;
    sl_signal_t s = signal_of_text(
        k, NULL, "{\"outputs\":[{\"name\":\"y\",\"datatype\":\"INT64\",\"shape\":[1],\"data\":[3]}]}", SL_SIGNAL_TOP_PROB);
    cr_assert_signal_state(s, SL_SIGNAL_MISSING, "answer has no floating-point output tensor");
    s = signal_of_text(k, NULL, "{\"outputs\":[{\"name\":\"logits\",\"datatype\":\"FP32\",\"shape\":[2],\"data\":[2.5,-1.0]}]}",
                       SL_SIGNAL_TOP_PROB);
    cr_assert_signal_state(s, SL_SIGNAL_UNPARSABLE, "probability outside [0, 1]");
    s = signal_of_text(k, NULL, "{\"outputs\":[{\"name\":\"p\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[0.9]}]}",
                       SL_SIGNAL_MARGIN);
    cr_assert_signal_state(s, SL_SIGNAL_MISSING, "margin needs at least two classes");
    s = signal_of_text(k, NULL, "{\"outputs\":[{\"name\":\"p\",\"datatype\":\"FP32\",\"shape\":[0],\"data\":[]}]}",
                       SL_SIGNAL_TOP_PROB);
    cr_assert_signal_state(s, SL_SIGNAL_MISSING, "empty probability vector");
    s = signal_of_text(k, NULL, "{\"outputs\":[{\"name\":\"p\",\"datatype\":\"FP64\",\"shape\":[2],\"data\":[0.5,\"x\"]}]}",
                       SL_SIGNAL_TOP_PROB);
    cr_assert_signal_state(s, SL_SIGNAL_UNPARSABLE, "probability vector holds a non-number");
    s = signal_of_text(k, NULL, "{\"outputs\":[{\"name\":\"p\",\"datatype\":\"FP64\",\"shape\":[2],\"data\":[0.5,1e400]}]}",
                       SL_SIGNAL_TOP_PROB);
    cr_assert_signal_state(s, SL_SIGNAL_UNPARSABLE, "probability vector holds a non-number");
    sl_adapter_answer_t ans;
    cr_assert_eq(k->decode(NULL, 200, "{\"model_name\":\"m\"}", 18, &ans), SL_EPROTO);
    cr_assert_eq(k->decode(NULL, 400, "{\"error\":\"bad input\"}", 21, &ans), SL_OK);
}

Test(kserve, inspect_path_and_errors)
{
    const sl_adapter_t *k = &sl_adapter_kserve_v2;
    const char *body =
        "{\"id\":\"1\",\"inputs\":[{\"name\":\"text\",\"shape\":[2],\"datatype\":\"BYTES\",\"data\":[\"caf\\u00e9\",\"ok\"]},"
        "{\"name\":\"mask\",\"shape\":[1,3],\"datatype\":\"INT64\",\"data\":[[1,1,0]]}]}";
    sl_json_span_t root;
    sl_adapter_request_t req;
    cr_assert_eq(sl_json_parse(body, strlen(body), &root), SL_OK);
    cr_assert_eq(k->inspect(&root, &req), SL_OK);
    cr_assert_eq(req.kind, SL_ADAPTER_KIND_INFER);
    cr_assert_eq(req.prompt_bytes, 7);
    cr_assert_eq(req.prompt_tokens, 2);
    cr_assert_eq(req.stream, 0);
    sl_adapter_body_t out;
    sl_adapter_want_t want = {"iris-v2", NULL};
    cr_assert_eq(k->encode(body, strlen(body), &req, &want, &fixture_alloc, &out), SL_OK);
    cr_assert_eq(out.num_pieces, 1);
    cr_assert_eq(out.pieces[0].base, body);

    sl_json_piece_t p;
    const char *path = "/v2/models/iris/versions/1/infer?x=1";
    cr_assert_eq(k->encode_path(path, strlen(path), "iris v2/é", &fixture_alloc, &p), SL_OK);
    char buf[128];
    memcpy(buf, p.base, p.len);
    buf[p.len] = '\0';
    cr_assert_str_eq(buf, "/v2/models/iris%20v2%2F%C3%A9/versions/1/infer?x=1");
    cr_assert_eq(k->encode_path(path, strlen(path), NULL, &fixture_alloc, &p), SL_OK);
    cr_assert_eq(p.base, path);
    cr_assert_eq(k->encode_path("/v1/infer", 9, "m", &fixture_alloc, &p), SL_EINVAL);
    cr_assert_eq(k->encode_path("/v2/models//infer", 17, "m", &fixture_alloc, &p), SL_EINVAL);

    sl_adapter_error_t e = {503, "overloaded", NULL, "all endpoints \"busy\""};
    cr_assert_eq(k->format_error(&e, &fixture_alloc, &out), SL_OK);
    cr_assert_str_eq(fixture_join(&out), "{\"error\":\"all endpoints \\\"busy\\\"\"}");
}

Test(http, confidence_and_prediction_pointers)
{
    sl_conf_backend_t b = {.name = "h", .prediction_pointer = "/result/label", .confidence_pointer = "/result/scores"};
    sl_adapter_answer_t ans = decode(&sl_adapter_http, &b, "http_answer.json");
    cr_assert(sl_json_string_eq(&ans.prediction, "spam", 4));
    cr_assert_eq(ans.prediction_class, 1);
    cr_assert_signal(signal_of(&sl_adapter_http, &b, &ans, SL_SIGNAL_TOP_PROB), 0.75);
    cr_assert_signal(signal_of(&sl_adapter_http, &b, &ans, SL_SIGNAL_MARGIN), 0.625);

    b.confidence_pointer = "/confidence";
    ans = decode(&sl_adapter_http, &b, "http_answer.json");
    cr_assert_eq(ans.prediction_class, -1);
    cr_assert_signal(signal_of(&sl_adapter_http, &b, &ans, SL_SIGNAL_TOP_PROB), 0.75);
    sl_signal_t s = signal_of(&sl_adapter_http, &b, &ans, SL_SIGNAL_MARGIN);
    cr_assert_signal_state(s, SL_SIGNAL_MISSING, "margin needs a probability vector, got one number");

    b.confidence_pointer = "/meta/version";
    s = signal_of(&sl_adapter_http, &b, &ans, SL_SIGNAL_TOP_PROB);
    cr_assert_signal_state(s, SL_SIGNAL_UNPARSABLE, "probabilities are neither a number nor an array");
    b.confidence_pointer = "/meta/latency_ms";
    s = signal_of(&sl_adapter_http, &b, &ans, SL_SIGNAL_TOP_PROB);
    cr_assert_signal_state(s, SL_SIGNAL_UNPARSABLE, "confidence outside [0, 1]");
    b.confidence_pointer = "/nothing/here";
    s = signal_of(&sl_adapter_http, &b, &ans, SL_SIGNAL_TOP_PROB);
    cr_assert_signal_state(s, SL_SIGNAL_MISSING, "no value at the backend's confidence_pointer");
    b.confidence_pointer = NULL;
    s = signal_of(&sl_adapter_http, &b, &ans, SL_SIGNAL_TOP_PROB);
    cr_assert_signal_state(s, SL_SIGNAL_MISSING, "backend has no confidence_pointer");
    s = signal_of(&sl_adapter_http, &b, &ans, SL_SIGNAL_LOGPROB_MIN);
    cr_assert_signal_state(s, SL_SIGNAL_MISSING, "signal not available for protocol http");
    sl_conf_signal_t sig = {SL_SIGNAL_JSON, "/meta/latency_ms"};
    sl_adapter_signal(&sl_adapter_http, &b, &ans, NULL, &sig, &s);
    cr_assert_signal(s, 12);
}

Test(http, inspect_encode_and_errors)
{
    const sl_adapter_t *h = &sl_adapter_http;
    const char *body =
        "{\"model\":\"a\",\"text\":\"hello\",\"opts\":{\"lang\":\"fr\",\"n\":2},\"tags\":[\"x\",\"yz\"],\"stream\":true}";
    sl_json_span_t root;
    sl_adapter_request_t req;
    cr_assert_eq(sl_json_parse(body, strlen(body), &root), SL_OK);
    cr_assert_eq(h->inspect(&root, &req), SL_OK);
    cr_assert_eq(req.kind, SL_ADAPTER_KIND_JSON);
    cr_assert_eq(req.prompt_bytes, 1 + 5 + 2 + 1 + 2); /* string values, keys excluded */
    cr_assert_eq(req.prompt_tokens, 3);
    cr_assert_eq(req.stream, 1);
    cr_assert(sl_json_string_eq(&req.model, "a", 1));
    sl_adapter_body_t out;
    sl_adapter_want_t want = {"b", NULL};
    cr_assert_eq(h->encode(body, strlen(body), &req, &want, &fixture_alloc, &out), SL_OK);
    cr_assert_str_eq(
        fixture_join(&out),
        "{\"model\":\"b\",\"text\":\"hello\",\"opts\":{\"lang\":\"fr\",\"n\":2},\"tags\":[\"x\",\"yz\"],\"stream\":true}");
    /* a body that is not an object is sent as is */
    cr_assert_eq(sl_json_parse("[1,\"ab\"]", 8, &root), SL_OK);
    cr_assert_eq(h->inspect(&root, &req), SL_OK);
    cr_assert_eq(req.prompt_bytes, 2);
    cr_assert_eq(h->encode("[1,\"ab\"]", 8, &req, &want, &fixture_alloc, &out), SL_OK);
    cr_assert_str_eq(fixture_join(&out), "[1,\"ab\"]");

    sl_adapter_error_t e = {429, "rate_limit_error", NULL, "slow down"};
    cr_assert_eq(h->format_error(&e, &fixture_alloc, &out), SL_OK);
    cr_assert_str_eq(fixture_join(&out), "{\"error\":{\"message\":\"slow down\",\"code\":\"rate_limit_error\"}}");
    e.code = "shed";
    cr_assert_eq(h->format_error(&e, &fixture_alloc, &out), SL_OK);
    cr_assert_str_eq(fixture_join(&out), "{\"error\":{\"message\":\"slow down\",\"code\":\"shed\"}}");

    sl_adapter_stream_t st;
    sl_adapter_event_t ev;
    sl_adapter_stream_init(&st);
    cr_assert_eq(h->decode_event("{\"token\":\"a\"}", 13, &st, &ev), SL_OK);
    cr_assert_eq(ev.kind, SL_ADAPTER_EVENT_CHUNK);
    cr_assert_eq(ev.tokens, 1);
    cr_assert_eq(h->decode_event("{\"error\":\"x\"}", 13, &st, &ev), SL_OK);
    cr_assert_eq(ev.kind, SL_ADAPTER_EVENT_ERROR);
    cr_assert_eq(h->decode_event("tok", 3, &st, &ev), SL_EPROTO);
    sl_adapter_answer_t ans;
    cr_assert_eq(h->decode(NULL, 200, "not json", 8, &ans), SL_EPROTO);
    cr_assert_eq(h->decode(NULL, 200, "42", 2, &ans), SL_OK);
}
