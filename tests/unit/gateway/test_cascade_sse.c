/* gateway/cascade_sse.c: the judge of a held stream, its replay for the client, and the relay's event-by-event filter
 * (fed in arbitrary pieces, as upstream reads arrive; watched for the monitor, it decodes as the judge does), on the recorded OpenAI stream of the adapter tests
 * (tests/fixtures/adapters/openai_chat_stream.sse) and on hand-made streams. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/adapter.h"
#include "common/arena.h"
#include "common/status.h"
#include "gateway/cascade.h"

static const sl_adapter_t *A = &sl_adapter_openai;
static sl_arena_t arena;
static char scratch_mem[SL_CASCADE_SCRATCH];
static sl_cascade_scratch_t scratch;

static void *arena_alloc(void *ctx, size_t n)
{
    return sl_arena_alloc(ctx, n);
}

static void setup(void)
{
    sl_arena_init(&arena);
    sl_cascade_scratch_init(&scratch, scratch_mem, sizeof(scratch_mem), (sl_adapter_alloc_t){arena_alloc, &arena});
}

static void teardown(void)
{
    sl_arena_dispose(&arena);
}

TestSuite(cascade_sse, .init = setup, .fini = teardown);

static char *fixture(size_t *len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/fixtures/adapters/openai_chat_stream.sse", SL_SOURCE_DIR);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = sl_arena_alloc(&arena, (size_t)n + 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

static sl_adapter_request_t client(const char *body)
{
    sl_json_span_t root;
    sl_adapter_request_t req;
    const char *copy = sl_arena_alloc(&arena, strlen(body) + 1);
    memcpy((char *)copy, body, strlen(body) + 1);
    cr_assert_eq(sl_json_parse(copy, strlen(copy), &root), SL_OK);
    cr_assert_eq(A->inspect(&root, &req), SL_OK);
    return req;
}

/* The whole filter of in[0..len) as a NUL-terminated string. */
static char *filter_all(const sl_adapter_request_t *req, const char *in, size_t len)
{
    h2o_buffer_t *out;
    h2o_buffer_init(&out, &h2o_socket_buffer_prototype);
    cr_assert_eq(sl_cascade_sse_filter(A, req, in, len, 1, &out, &scratch, NULL), len);
    char *s = sl_arena_alloc(&arena, out->size + 1);
    memcpy(s, out->bytes, out->size);
    s[out->size] = '\0';
    h2o_buffer_dispose(&out);
    return s;
}

Test(cascade_sse, judge_of_a_held_stream)
{
    size_t len;
    char *in = fixture(&len);
    sl_adapter_stream_t st;
    cr_assert_eq(sl_cascade_sse_judge(A, in, len, &st, &scratch), SL_OK);
    cr_assert_eq(st.events, 7);
    cr_assert_eq(st.logprob_count, 3);
    cr_assert_eq(st.has_usage, 1);
    cr_assert_eq(st.prompt_tokens, 9);
    cr_assert_eq(st.completion_tokens, 3);
    cr_assert_eq(st.done, 1);
    sl_conf_signal_t sig = {SL_SIGNAL_LOGPROB_MEAN, NULL};
    sl_signal_t s;
    sl_adapter_stream_signal(A, &st, NULL, &sig, &s);
    cr_assert_eq(s.state, SL_SIGNAL_VALUE);
    cr_assert_eq(s.value, -1.2724182644200999); /* the adapter test's reference (tests/fixtures/adapters/expected.py) */
    /* an event that is not the protocol's makes the whole answer malformed */
    const char *bad = "data: {\"choices\":[]}\n\ndata: {\"choices\":\n\ndata: [DONE]\n\n";
    cr_assert_eq(sl_cascade_sse_judge(A, bad, strlen(bad), &st, &scratch), SL_EPROTO);
    /* a stream without events has no signal (missing), and is not malformed */
    cr_assert_eq(sl_cascade_sse_judge(A, ": ping\n\n", 8, &st, &scratch), SL_OK);
    cr_assert_eq(st.events, 0);
}

Test(cascade_sse, replay_for_a_client_that_asked_nothing)
{
    size_t len;
    char *in = fixture(&len);
    sl_adapter_request_t req = client("{\"messages\":[],\"stream\":true}");
    char *out = filter_all(&req, in, len);
    /* six events: the usage chunk is gone, [DONE] stays last; every JSON event has logprobs and usage null */
    size_t events = 0;
    for (char *p = out; *p != '\0'; ++events) {
        char *end = strstr(p, "\n\n");
        cr_assert_not_null(end);
        cr_assert_eq(strncmp(p, "data: ", 6), 0);
        *end = '\0';
        if (strcmp(p + 6, "[DONE]") != 0) {
            sl_json_span_t root, v;
            cr_assert_eq(sl_json_parse(p + 6, strlen(p + 6), &root), SL_OK, "%s", p);
            cr_assert_eq(sl_json_find_pointer(&root, "/choices/0/logprobs", 19, &v), SL_OK);
            cr_assert_eq(v.type, SL_JSON_NULL);
            cr_assert_eq(sl_json_find_key(&root, "usage", 5, &v), SL_OK);
            cr_assert_eq(v.type, SL_JSON_NULL);
        } else {
            cr_assert_eq(end[2], '\0'); /* the last event */
        }
        p = end + 2;
    }
    cr_assert_eq(events, 6);
    /* a client that asked for logprobs and usage gets the stream byte for byte */
    sl_adapter_request_t all = client("{\"messages\":[],\"stream\":true,\"logprobs\":true,\"top_logprobs\":2,"
                                      "\"stream_options\":{\"include_usage\":true}}");
    cr_assert_str_eq(filter_all(&all, in, len), in);
}

Test(cascade_sse, exact_replay_of_a_small_stream)
{
    const char *in = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"logprobs\":{\"content\":"
                     "[{\"token\":\"Hi\",\"logprob\":-0.5}]}}],\"usage\":null}\r\n\r\n"
                     ": keep-alive\n\n"
                     "data: {\"choices\":[],\ndata: \"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}\n\n"
                     "data: not json\n\n"
                     "data: [DONE]\n\n";
    sl_adapter_request_t req = client("{\"messages\":[],\"stream\":true}");
    cr_assert_str_eq(filter_all(&req, in, strlen(in)),
                     "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"logprobs\":null}],\"usage\":null}\n\n"
                     ": keep-alive\n\n"
                     "data: not json\n\n"
                     "data: [DONE]\n\n");
    /* the same client asking for usage keeps the (two-line) usage event as it was sent */
    sl_adapter_request_t usage = client("{\"messages\":[],\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
    char *out = filter_all(&usage, in, strlen(in));
    cr_assert_not_null(
        strstr(out, "data: {\"choices\":[],\ndata: \"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}\n\n"));
    cr_assert_not_null(strstr(out, "\"logprobs\":null"));
}

/* As the relay: in[0..len) arrives `step` bytes at a time, what was not used waits for the next read; the client's
 * bytes go to *out, the events are decoded into watch (NULL: not watched). */
static void relay_in_pieces(const sl_adapter_request_t *req, const char *in, size_t len, size_t step, h2o_buffer_t **out,
                            sl_cascade_watch_t *watch)
{
    char *pending = malloc(len);
    size_t have = 0, given = 0;
    while (given < len) {
        size_t n = len - given < step ? len - given : step;
        memcpy(pending + have, in + given, n);
        have += n;
        given += n;
        size_t used = sl_cascade_sse_filter(A, req, pending, have, given == len, out, &scratch, watch);
        memmove(pending, pending + used, have - used);
        have -= used;
    }
    cr_assert_eq(have, 0);
    free(pending);
}

Test(cascade_sse, relay_in_pieces_equals_the_whole_replay)
{
    size_t len;
    char *in = fixture(&len);
    sl_adapter_request_t req = client("{\"messages\":[],\"stream\":true}");
    char *whole = filter_all(&req, in, len);
    for (size_t step = 1; step <= 61; step += 6) {
        h2o_buffer_t *out;
        h2o_buffer_init(&out, &h2o_socket_buffer_prototype);
        relay_in_pieces(&req, in, len, step, &out, NULL);
        cr_assert_eq(out->size, strlen(whole), "step %zu", step);
        cr_assert_eq(memcmp(out->bytes, whole, out->size), 0, "step %zu", step);
        h2o_buffer_dispose(&out);
    }
}

Test(cascade_sse, scratch_falls_back_when_full)
{
    char small[32];
    sl_cascade_scratch_t s;
    sl_cascade_scratch_init(&s, small, sizeof(small), (sl_adapter_alloc_t){arena_alloc, &arena});
    char *a = sl_cascade_scratch_alloc(&s, 10), *b = sl_cascade_scratch_alloc(&s, 10), *c = sl_cascade_scratch_alloc(&s, 10);
    cr_assert_eq(a, small);
    cr_assert_eq(b, small + 16);                        /* 16-byte aligned */
    cr_assert(c < small || c >= small + sizeof(small)); /* from the fallback */
    s.used = 0;
    cr_assert_eq(sl_cascade_scratch_alloc(&s, 32), small);
}

Test(cascade_sse, watched_relay_in_pieces_decodes_as_the_judge)
{
    size_t len;
    char *in = fixture(&len);
    sl_adapter_request_t req = client("{\"messages\":[],\"stream\":true}");
    sl_adapter_stream_t judged;
    cr_assert_eq(sl_cascade_sse_judge(A, in, len, &judged, &scratch), SL_OK);
    cr_assert(judged.logprob_count > 0 && judged.done);
    char *whole = filter_all(&req, in, len);
    for (size_t step = 1; step <= 61; step += 12) {
        /* as the relay of a watched stream: the client's bytes are those of the unwatched filter, the state the
         * judge's of the whole stream */
        sl_cascade_watch_t watch;
        memset(&watch, 0, sizeof(watch));
        sl_adapter_stream_init(&watch.state);
        h2o_buffer_t *out;
        h2o_buffer_init(&out, &h2o_socket_buffer_prototype);
        relay_in_pieces(&req, in, len, step, &out, &watch);
        cr_assert_eq(watch.malformed, 0);
        cr_assert_eq(memcmp(&watch.state, &judged, sizeof(judged)), 0, "step %zu", step);
        cr_assert_eq(out->size, strlen(whole), "step %zu", step);
        cr_assert_eq(memcmp(out->bytes, whole, out->size), 0, "step %zu", step);
        h2o_buffer_dispose(&out);
    }
}

Test(cascade_sse, watched_relay_marks_an_event_not_the_protocols)
{
    const char *in = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"choices\":[{\"ind\n\n"
                     "data: [DONE]\n\n";
    sl_adapter_request_t req = client("{\"messages\":[],\"stream\":true}");
    sl_cascade_watch_t watch;
    memset(&watch, 0, sizeof(watch));
    sl_adapter_stream_init(&watch.state);
    h2o_buffer_t *out;
    h2o_buffer_init(&out, &h2o_socket_buffer_prototype);
    cr_assert_eq(sl_cascade_sse_filter(A, &req, in, strlen(in), 1, &out, &scratch, &watch), strlen(in));
    cr_assert_eq(watch.malformed, 1);
    cr_assert_eq(watch.state.done, 1);
    cr_assert_eq(out->size, strlen(in)); /* the client gets what the model server sent */
    h2o_buffer_dispose(&out);
}
