/* The openai adapter on a recorded SSE stream (tests/fixtures/adapters/openai_chat_stream.sse). */
#include "adapter_fixture.h"

static const sl_adapter_t *A = &sl_adapter_openai;

TestSuite(openai_stream, .init = fixture_setup, .fini = fixture_teardown);

/* Splits the recorded stream into the data of each event (the wire format: "data: <payload>\n\n"). */
static size_t read_events(const char *data[16], size_t lens[16])
{
    size_t len, n = 0;
    char *text = fixture_read("openai_chat_stream.sse", &len);
    char *p = text, *end = text + len;
    while (p < end) {
        char *sep = strstr(p, "\n\n");
        cr_assert_not_null(sep);
        cr_assert_eq(strncmp(p, "data: ", 6), 0);
        cr_assert_lt(n, 16);
        data[n] = p + 6;
        lens[n] = (size_t)(sep - p - 6);
        ++n;
        p = sep + 2;
    }
    return n;
}

static sl_adapter_request_t inspect(const char *body)
{
    sl_json_span_t root;
    sl_adapter_request_t req;
    cr_assert_eq(sl_json_parse(body, strlen(body), &root), SL_OK);
    cr_assert_eq(A->inspect(&root, &req), SL_OK);
    return req;
}

Test(openai_stream, decode_accumulates_tokens_usage_and_logprobs)
{
    const char *data[16];
    size_t lens[16];
    size_t n = read_events(data, lens);
    cr_assert_eq(n, 7);
    static const struct {
        enum en_sl_adapter_event_t kind;
        uint32_t tokens;
        int has_content;
    } want[] = {
        {SL_ADAPTER_EVENT_CHUNK, 0, 0}, /* role chunk, empty content */
        {SL_ADAPTER_EVENT_CHUNK, 1, 1}, {SL_ADAPTER_EVENT_CHUNK, 1, 1},
        {SL_ADAPTER_EVENT_CHUNK, 1, 1}, {SL_ADAPTER_EVENT_CHUNK, 0, 0}, /* finish_reason chunk */
        {SL_ADAPTER_EVENT_USAGE, 0, 0}, {SL_ADAPTER_EVENT_DONE, 0, 0},
    };
    sl_adapter_stream_t st;
    sl_adapter_stream_init(&st);
    for (size_t i = 0; i != n; ++i) {
        sl_adapter_event_t ev;
        cr_assert_eq(A->decode_event(data[i], lens[i], &st, &ev), SL_OK, "event %zu", i);
        cr_assert_eq(ev.kind, want[i].kind, "event %zu kind %d", i, (int)ev.kind);
        cr_assert_eq(ev.tokens, want[i].tokens, "event %zu tokens %u", i, ev.tokens);
        cr_assert_eq(ev.has_content, want[i].has_content, "event %zu", i);
    }
    cr_assert_eq(st.events, 7);
    cr_assert_eq(st.output_tokens, 3);
    cr_assert_eq(st.has_usage, 1);
    cr_assert_eq(st.prompt_tokens, 9);
    cr_assert_eq(st.completion_tokens, 3);
    cr_assert_eq(st.done, 1);
    cr_assert_eq(st.logprob_count, 3);

    sl_conf_signal_t sig = {SL_SIGNAL_LOGPROB_MEAN, NULL};
    sl_signal_t s;
    sl_adapter_stream_signal(A, &st, NULL, &sig, &s);
    cr_assert_signal(s, -1.2724182644200999);
    sig.kind = SL_SIGNAL_LOGPROB_MIN;
    sl_adapter_stream_signal(A, &st, NULL, &sig, &s);
    cr_assert_signal(s, -3.5);
    sig.kind = SL_SIGNAL_TOP_PROB;
    sl_adapter_stream_signal(A, &st, NULL, &sig, &s);
    cr_assert_signal(s, 0.7281464743452263);
    sig.kind = SL_SIGNAL_MARGIN;
    sl_adapter_stream_signal(A, &st, NULL, &sig, &s);
    cr_assert_signal(s, 0.46027636966565405);
    sig = (sl_conf_signal_t){SL_SIGNAL_JSON, "/usage"};
    sl_adapter_stream_signal(A, &st, NULL, &sig, &s);
    cr_assert_signal_state(s, SL_SIGNAL_MISSING, "json signals are not available on streams");
}

Test(openai_stream, stream_without_logprobs_and_error_events)
{
    sl_adapter_stream_t st;
    sl_adapter_event_t ev;
    sl_adapter_stream_init(&st);
    const char *c1 = "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}]}";
    cr_assert_eq(A->decode_event(c1, strlen(c1), &st, &ev), SL_OK);
    cr_assert_eq(ev.tokens, 1);
    cr_assert_eq(ev.has_content, 1);
    const char *tool =
        "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\"}}]}}]}";
    cr_assert_eq(A->decode_event(tool, strlen(tool), &st, &ev), SL_OK);
    cr_assert_eq(ev.has_content, 1);
    sl_conf_signal_t sig = {SL_SIGNAL_LOGPROB_MEAN, NULL};
    sl_signal_t s;
    sl_adapter_stream_signal(A, &st, NULL, &sig, &s);
    cr_assert_signal_state(s, SL_SIGNAL_MISSING, "answer has no token logprobs");
    const char *err = "{\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\",\"code\":null}}";
    cr_assert_eq(A->decode_event(err, strlen(err), &st, &ev), SL_OK);
    cr_assert_eq(ev.kind, SL_ADAPTER_EVENT_ERROR);
    sl_adapter_stream_signal(A, &st, NULL, &sig, &s);
    cr_assert_signal_state(s, SL_SIGNAL_MISSING, "stream carried an error event");
    cr_assert_eq(A->decode_event("{\"choices\":", 11, &st, &ev), SL_EPROTO);
    cr_assert_eq(A->decode_event(" [DONE]\n", 8, &st, &ev), SL_OK);
    cr_assert_eq(ev.kind, SL_ADAPTER_EVENT_DONE);
}

Test(openai_stream, strip_events_for_a_client_that_asked_nothing)
{
    const char *data[16];
    size_t lens[16];
    size_t n = read_events(data, lens);
    sl_adapter_request_t client = inspect("{\"messages\":[],\"stream\":true}");
    char all[8192] = "["; /* every stripped JSON event, checked by python3's json module at once */
    for (size_t i = 0; i != n; ++i) {
        sl_adapter_body_t out;
        int drop = -1;
        cr_assert_eq(A->strip_event(data[i], lens[i], &client, &fixture_alloc, &out, &drop), SL_OK);
        if (i == 5) { /* the usage chunk the client did not ask for */
            cr_assert_eq(drop, 1);
            continue;
        }
        cr_assert_eq(drop, 0, "event %zu", i);
        const char *text = fixture_join(&out);
        if (i == 6) {
            cr_assert_str_eq(text, "[DONE]");
            continue;
        }
        sl_json_span_t root, lp, usage, delta;
        cr_assert_eq(sl_json_parse(text, out.len, &root), SL_OK, "event %zu: %s", i, text);
        cr_assert_eq(sl_json_find_pointer(&root, "/choices/0/logprobs", 19, &lp), SL_OK);
        cr_assert_eq(lp.type, SL_JSON_NULL, "event %zu", i);
        cr_assert_eq(sl_json_find_key(&root, "usage", 5, &usage), SL_OK);
        cr_assert_eq(usage.type, SL_JSON_NULL);
        cr_assert_eq(sl_json_find_pointer(&root, "/choices/0/delta", 16, &delta), SL_OK);
        cr_assert_lt(strlen(all) + out.len + 2, sizeof(all));
        if (all[1] != '\0')
            strcat(all, ",");
        strcat(all, text);
    }
    strcat(all, "]");
    cr_assert_eq(fixture_python_json_ok(all), 0);
    /* a chunk carrying both text and usage keeps its text, loses its usage */
    const char *both = "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}],\"usage\":{\"prompt_tokens\":1}}";
    sl_adapter_body_t out;
    int drop;
    cr_assert_eq(A->strip_event(both, strlen(both), &client, &fixture_alloc, &out, &drop), SL_OK);
    cr_assert_eq(drop, 0);
    cr_assert_str_eq(fixture_join(&out), "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}],\"usage\":null}");
}

Test(openai_stream, strip_events_for_a_client_that_asked_everything)
{
    const char *data[16];
    size_t lens[16];
    size_t n = read_events(data, lens);
    sl_adapter_request_t client =
        inspect("{\"messages\":[],\"stream\":true,\"logprobs\":true,\"stream_options\":{\"include_usage\":true}}");
    for (size_t i = 0; i != n; ++i) {
        sl_adapter_body_t out;
        int drop = -1;
        cr_assert_eq(A->strip_event(data[i], lens[i], &client, &fixture_alloc, &out, &drop), SL_OK);
        cr_assert_eq(drop, 0);
        cr_assert_eq(out.num_pieces, 1);
        cr_assert_eq(out.pieces[0].base, data[i]);
        cr_assert_eq(out.len, lens[i]);
    }
}
