/*
 * cascade_sse.c - streams the cascade holds or filters (see cascade.h): the judge of a held stream (every data
 * event decoded into the adapter's fixed-size stream state), and the filter that writes events for the client with
 * what it did not ask for removed (the usage chunk, logprobs) - used whole for the replay of a held stream and
 * event by event by the relay of a passing one, which may also decode each event with the judge's decoder for the
 * route's monitored prediction (the same fixed-size state).
 *
 * Pure over caller bytes: output goes to an h2o_buffer_t, temporary memory (joined multi-line data, the pieces of a
 * stripped event) to a scratch allocator that is reset for every event, so a long stream never grows the request's
 * pool. An event whose data the adapter cannot strip (not JSON) is copied as it is: the client gets what the model
 * server sent rather than nothing.
 */
#include "gateway/cascade.h"
#include "backends/adapter.h"
#include "common/status.h"
#include "gateway/sse.h"

#include <string.h>

void sl_cascade_scratch_init(sl_cascade_scratch_t *s, char *mem, size_t cap, sl_adapter_alloc_t fallback)
{
    s->mem = mem;
    s->cap = cap;
    s->used = 0;
    s->fallback = fallback;
}

void *sl_cascade_scratch_alloc(void *ctx, size_t n)
{
    sl_cascade_scratch_t *s = ctx;
    size_t at = (s->used + 15) & ~(size_t)15;
    if (at <= s->cap && n <= s->cap - at) {
        s->used = at + n;
        return s->mem + at;
    }
    return s->fallback.alloc(s->fallback.ctx, n);
}

/* The data of an event: in place when it is one line, else joined into scratch memory. */
static const char *event_data(const char *p, const sl_sse_event_t *ev, sl_cascade_scratch_t *scratch)
{
    if (ev->data != NULL)
        return ev->data;
    char *buf = sl_cascade_scratch_alloc(scratch, ev->data_len + 1);
    sl_sse_data(p, ev, buf);
    return buf;
}

int sl_cascade_sse_judge(const sl_adapter_t *a, const char *in, size_t len, sl_adapter_stream_t *state,
                         sl_cascade_scratch_t *scratch)
{
    sl_adapter_stream_t st;
    sl_adapter_stream_init(&st);
    size_t pos = 0;
    sl_sse_event_t ev;
    while (pos < len && sl_sse_next(in + pos, len - pos, 1, &ev) == SL_OK) {
        if (ev.data_lines != 0) {
            scratch->used = 0;
            sl_adapter_event_t out;
            if (a->decode_event(event_data(in + pos, &ev, scratch), ev.data_len, &st, &out) != SL_OK)
                return SL_EPROTO;
        }
        pos += ev.len;
    }
    *state = st;
    return SL_OK;
}

static void put(h2o_buffer_t **out, const char *p, size_t n)
{
    if (n == 0)
        return;
    h2o_iovec_t room = h2o_buffer_reserve(out, n);
    memcpy(room.base, p, n);
    (*out)->size += n;
}

/* Writes one event, stripped. */
static void filter_event(const sl_adapter_t *a, const sl_adapter_request_t *req, const char *p, const sl_sse_event_t *ev,
                         h2o_buffer_t **out, sl_cascade_scratch_t *scratch, sl_cascade_watch_t *watch)
{
    if (ev->data_lines == 0) {
        put(out, p, ev->len);
        return;
    }
    scratch->used = 0;
    sl_adapter_alloc_t alloc = {sl_cascade_scratch_alloc, scratch};
    const char *data = event_data(p, ev, scratch);
    sl_adapter_event_t decoded;
    if (watch != NULL && a->decode_event(data, ev->data_len, &watch->state, &decoded) != SL_OK)
        watch->malformed = 1; /* the judge's answer would be malformed: the prediction is invalid */
    sl_adapter_body_t body;
    int drop = 0;
    if (a->strip_event(data, ev->data_len, req, &alloc, &body, &drop) != SL_OK ||
        (body.num_pieces == 1 && body.pieces[0].base == data && body.pieces[0].len == ev->data_len)) {
        put(out, p, ev->len); /* unchanged, or not the protocol's: as the model server sent it */
        return;
    }
    if (drop)
        return;
    size_t n = sl_sse_rewrite_len(p, ev, body.pieces, body.num_pieces);
    h2o_iovec_t room = h2o_buffer_reserve(out, n);
    (*out)->size += sl_sse_rewrite(p, ev, body.pieces, body.num_pieces, room.base);
}

size_t sl_cascade_sse_filter(const sl_adapter_t *a, const sl_adapter_request_t *req, const char *in, size_t len, int final,
                             h2o_buffer_t **out, sl_cascade_scratch_t *scratch, sl_cascade_watch_t *watch)
{
    size_t pos = 0;
    sl_sse_event_t ev;
    while (pos < len && sl_sse_next(in + pos, len - pos, final, &ev) == SL_OK) {
        filter_event(a, req, in + pos, &ev, out, scratch, watch);
        pos += ev.len;
    }
    return pos;
}
