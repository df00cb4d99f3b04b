/*
 * fuzz_sse.c - libFuzzer target for the Server-Sent Events framing (gateway/sse.c) and the relay's event filter
 * over it (gateway/cascade_sse.c with the openai adapter, backends/openai_stream.c): the stream is the model
 * server's, so any bytes.
 *
 * The stream is fed once in one piece and once in the pieces the input chooses (tests/fuzz/split.h), as the relay
 * receives it: the bytes of an incomplete event are kept and the next piece appended to them; the last piece comes
 * with the end of the stream when flag bit 0 is set (eos / final). Oracles:
 *   - sl_sse_next finds the same events (length, data lines, data) either way, each inside the bytes given;
 *     sl_sse_data writes exactly data_len bytes, the same as the in-place value of a one-line event;
 *   - sl_sse_rewrite writes exactly sl_sse_rewrite_len bytes, and what it writes is one event whose data is the
 *     concatenation of the pieces it was given (here the event's data cut in two around an added line break);
 *   - sl_cascade_sse_filter writes the same bytes for the client either way, and its watch decodes the same state;
 *     when the judge accepts the whole stream, the watch of the one-piece run holds the judge's state;
 *   - no crash, leak or sanitizer report.
 * Flags: bit 0 the stream ends with the last piece; bit 1 the client asked for logprobs; bit 2 for the usage chunk.
 * Run by scripts/fuzz, built only with -Dfuzz=true.
 */
#include <stdlib.h>
#include <string.h>

#include "backends/adapter.h"
#include "common/arena.h"
#include "common/status.h"
#include "gateway/cascade.h"
#include "gateway/sse.h"
#include "split.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What one run saw. */
typedef struct {
    uint64_t events; /* FNV-1a over every event found: length, data lines, data */
    size_t num_events;
    size_t used; /* bytes taken as whole events */
    h2o_buffer_t *out; /* the filter's output */
    sl_cascade_watch_t watch;
    size_t filtered; /* bytes the filter took */
} run_t;

static sl_arena_t arena;

static void *arena_alloc(void *ctx, size_t n)
{
    return sl_arena_alloc(ctx, n);
}

static void mix(uint64_t *h, const void *p, size_t n)
{
    for (size_t i = 0; i != n; ++i)
        *h = (*h ^ ((const uint8_t *)p)[i]) * 1099511628211u;
}

/* Rewrites the event at p with its data cut at `at` and a line break added there; checks length and round trip. */
static void check_rewrite(const char *p, const sl_sse_event_t *ev, const char *data, size_t at)
{
    sl_json_piece_t pieces[3] = {{data, at}, {"\n", 1}, {data + at, ev->data_len - at}};
    size_t n = sl_sse_rewrite_len(p, ev, pieces, 3);
    char *dst = malloc(n);
    if (sl_sse_rewrite(p, ev, pieces, 3, dst) != n)
        abort();
    sl_sse_event_t back;
    if (sl_sse_next(dst, n, 0, &back) != SL_OK || back.len != n || back.data_len != ev->data_len + 1 || back.data_lines < 2)
        abort();
    char *joined = malloc(back.data_len + 1);
    if (sl_sse_data(dst, &back, joined) != back.data_len || memcmp(joined, data, at) != 0 || joined[at] != '\n' ||
        memcmp(joined + at + 1, data + at, ev->data_len - at) != 0)
        abort();
    free(joined);
    free(dst);
}

/* The events of buf[0..len) not yet taken (from r->used), as the relay finds them. */
static void scan_events(run_t *r, const char *buf, size_t len, int eos, uint8_t cut)
{
    sl_sse_event_t ev;
    while (r->used < len) {
        const char *p = buf + r->used;
        size_t left = len - r->used;
        memset(&ev, 0xa5, sizeof(ev));
        if (sl_sse_next(p, left, eos, &ev) != SL_OK)
            break;
        if (ev.len == 0 || ev.len > left || (ev.data_lines == 1) != (ev.data != NULL) ||
            (ev.data_lines == 0 && ev.data_len != 0))
            abort();
        char *data = malloc(ev.data_len + 1);
        if (sl_sse_data(p, &ev, data) != ev.data_len)
            abort();
        if (ev.data != NULL && (ev.data < p || ev.data + ev.data_len > p + ev.len || memcmp(ev.data, data, ev.data_len) != 0))
            abort();
        uint32_t lines = ev.data_lines;
        mix(&r->events, &ev.len, sizeof(ev.len));
        mix(&r->events, &lines, sizeof(lines));
        mix(&r->events, data, ev.data_len);
        ++r->num_events;
        check_rewrite(p, &ev, data, cut % (ev.data_len + 1));
        free(data);
        r->used += ev.len;
    }
}

static void run(run_t *r, const char *stream, size_t len, const sl_fuzz_split_t *s, const sl_adapter_request_t *req)
{
    int eos = s->flags & 1;
    char mem[SL_CASCADE_SCRATCH];
    sl_cascade_scratch_t scratch;
    sl_cascade_scratch_init(&scratch, mem, sizeof(mem), (sl_adapter_alloc_t){arena_alloc, &arena});
    memset(r, 0, sizeof(*r));
    r->events = 14695981039346656037u;
    h2o_buffer_init(&r->out, &h2o_socket_buffer_prototype);
    sl_adapter_stream_init(&r->watch.state);
    /* the relay's input buffer: pieces are appended, whole events consumed from its start */
    char *in = malloc(len + 1);
    size_t in_size = 0, pos = 0;
    for (size_t i = 0; i <= s->num_cuts; ++i) {
        size_t end = sl_fuzz_split_end(s, i, len);
        int final = eos && i == s->num_cuts;
        memcpy(in + in_size, stream + pos, end - pos);
        in_size += end - pos;
        pos = end;
        if (in_size == 0)
            continue;
        r->used = 0;
        scan_events(r, in, in_size, final, (uint8_t)(s->flags >> 3));
        size_t used = sl_cascade_sse_filter(&sl_adapter_openai, req, in, in_size, final, &r->out, &scratch, &r->watch);
        if (used != r->used)
            abort();
        memmove(in, in + used, in_size - used);
        in_size -= used;
        r->filtered += used;
    }
    r->used = r->filtered;
    free(in);
}

static int same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof(a)) == 0;
}

static int same_state(const sl_adapter_stream_t *a, const sl_adapter_stream_t *b)
{
    return a->events == b->events && a->output_tokens == b->output_tokens && a->has_usage == b->has_usage &&
           a->prompt_tokens == b->prompt_tokens && a->completion_tokens == b->completion_tokens &&
           a->logprob_count == b->logprob_count && same_double(a->logprob_sum, b->logprob_sum) &&
           same_double(a->logprob_min, b->logprob_min) && a->logprob_bad == b->logprob_bad && a->first_seen == b->first_seen &&
           a->first_top_n == b->first_top_n && same_double(a->first_top[0], b->first_top[0]) &&
           same_double(a->first_top[1], b->first_top[1]) && same_double(a->first_logprob, b->first_logprob) &&
           a->done == b->done && a->failed == b->failed;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sl_fuzz_split_t s;
    if (sl_fuzz_split_read(data, size, &s) != 0)
        return 0;
    char *stream = sl_fuzz_split_copy(&s);
    sl_adapter_request_t req;
    memset(&req, 0, sizeof(req));
    req.kind = SL_ADAPTER_KIND_CHAT;
    req.root.type = SL_JSON_INVALID;
    req.model.type = SL_JSON_INVALID;
    req.stream = 1;
    req.logprobs = (s.flags & 2) != 0;
    req.usage = (s.flags & 4) != 0;
    sl_arena_init(&arena);

    sl_fuzz_split_t one = s;
    one.num_cuts = 0;
    run_t whole, pieces;
    run(&whole, stream, s.len, &one, &req);
    run(&pieces, stream, s.len, &s, &req);
    if (whole.num_events != pieces.num_events || whole.events != pieces.events || whole.used != pieces.used)
        abort();
    if (whole.out->size != pieces.out->size ||
        (whole.out->size != 0 && memcmp(whole.out->bytes, pieces.out->bytes, whole.out->size) != 0))
        abort();
    if (whole.watch.malformed != pieces.watch.malformed || !same_state(&whole.watch.state, &pieces.watch.state))
        abort();
    if (s.flags & 1) {
        if (whole.used != s.len)
            abort(); /* at the end of the stream every byte belongs to an event */
        char mem[SL_CASCADE_SCRATCH];
        sl_cascade_scratch_t scratch;
        sl_cascade_scratch_init(&scratch, mem, sizeof(mem), (sl_adapter_alloc_t){arena_alloc, &arena});
        sl_adapter_stream_t judged;
        if (sl_cascade_sse_judge(&sl_adapter_openai, stream, s.len, &judged, &scratch) == SL_OK &&
            (whole.watch.malformed || !same_state(&judged, &whole.watch.state)))
            abort();
    }
    h2o_buffer_dispose(&whole.out);
    h2o_buffer_dispose(&pieces.out);
    sl_arena_dispose(&arena);
    free(stream);
    return 0;
}
