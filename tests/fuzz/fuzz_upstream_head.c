/*
 * fuzz_upstream_head.c - libFuzzer target for the upstream client's response parser (gateway/upclient_parse.c):
 * the head (sl_upclient_parse_head) and the body framing after it (sl_upclient_body_decode: content-length,
 * chunked, until close). The bytes are the model server's, so any bytes.
 *
 * The target drives the parser as gateway/upclient.c does: bytes appended to one buffer, the head parsed again on
 * every arrival with last_len the size of the previous incomplete attempt, 1xx heads skipped, the final head's
 * body decoded in place piece by piece (the bytes that came with the head first), and the connection's close at
 * the end of the input. It does so once with the stream in one piece and once in the pieces the input chooses
 * (tests/fuzz/split.h), and checks:
 *   - a head never claims more bytes than were given, its fields point inside it, its names are lower case;
 *   - both runs see the same heads (status, version, length, fields, framing, content-length, keep-alive), the same
 *     body bytes (unless the framing broke), the same bytes past the response's end and the same verdict (error string or end), except that a
 *     head which the whole stream shows to be malformed may still be waiting in the split run: picohttpparser,
 *     given last_len, only looks for the head's end and judges the head when it is complete (or too large).
 * Flags: bit 0 the request was a HEAD; bit 1 a header of padding is inserted after the first line, so that heads
 * reach SL_UPCLIENT_HEAD_MAX (byte 2 of the stream's header picks how close).
 * Run by scripts/fuzz, built only with -Dfuzz=true.
 */
#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "gateway/upclient.h"
#include "split.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { PHASE_HEAD, PHASE_BODY, PHASE_DONE };

/* One exchange as the client sees it. */
typedef struct {
    int method_is_head;
    char *in; /* the socket buffer: head bytes, then (body phase) only what the last read appended */
    size_t in_size, head_seen;
    int phase;
    const char *err; /* the verdict: NULL while running, sl_upclient_error_is_eos when the response ended */
    int head_failed; /* the verdict is the head parser's */
    sl_upclient_body_t body;
    uint64_t heads; /* FNV-1a over every head seen */
    size_t num_heads;
    char *out; /* decoded body bytes */
    size_t out_size;
    size_t extra; /* bytes after the response's end */
} exchange_t;

static void mix(uint64_t *h, const void *p, size_t n)
{
    for (size_t i = 0; i != n; ++i)
        *h = (*h ^ ((const uint8_t *)p)[i]) * 1099511628211u;
}

static void check_head(const exchange_t *x, const sl_upclient_head_t *h, const h2o_header_t *headers)
{
    if (h->head_len == 0 || h->head_len > x->in_size || h->num_headers > SL_UPCLIENT_MAX_HEADERS)
        abort();
    if (h->reason.len != 0 && (h->reason.base < x->in || h->reason.base + h->reason.len > x->in + h->head_len))
        abort();
    for (size_t i = 0; i != h->num_headers; ++i) {
        const h2o_iovec_t *n = headers[i].name, *v = &headers[i].value;
        for (size_t j = 0; j != n->len; ++j)
            if (n->base[j] >= 'A' && n->base[j] <= 'Z')
                abort();
        if (v->len != 0 && (v->base < x->in || v->base + v->len > x->in + h->head_len))
            abort();
    }
}

static void record_head(exchange_t *x, const sl_upclient_head_t *h, const h2o_header_t *headers)
{
    int fields[5] = {h->minor_version, h->status, (int)h->framing, h->keepalive, (int)h->num_headers};
    mix(&x->heads, fields, sizeof(fields));
    mix(&x->heads, &h->head_len, sizeof(h->head_len));
    mix(&x->heads, &h->content_length, sizeof(h->content_length));
    mix(&x->heads, h->reason.base, h->reason.len);
    for (size_t i = 0; i != h->num_headers; ++i) {
        mix(&x->heads, headers[i].name->base, headers[i].name->len);
        mix(&x->heads, ":", 1);
        mix(&x->heads, headers[i].value.base, headers[i].value.len);
        mix(&x->heads, "\n", 1);
    }
    ++x->num_heads;
}

static void consume(exchange_t *x, size_t n)
{
    memmove(x->in, x->in + n, x->in_size - n);
    x->in_size -= n;
}

/* read_body: decodes the x->in_size bytes just read. */
static void read_body(exchange_t *x)
{
    size_t n = x->in_size, extra = 0;
    int r = sl_upclient_body_decode(&x->body, x->in, &n, &extra);
    if (r < 0) {
        x->err = sl_upclient_error_chunked;
        x->phase = PHASE_DONE;
        return;
    }
    if (n > x->in_size || (r == 1 && n + extra > x->in_size))
        abort();
    memcpy(x->out + x->out_size, x->in, n);
    x->out_size += n;
    x->in_size = 0;
    if (r == 1) {
        x->extra += extra;
        x->err = sl_upclient_error_is_eos;
        x->phase = PHASE_DONE;
    }
}

/* read_head: parses what arrived so far; on the final head, decodes the body bytes that came with it. */
static void read_head(exchange_t *x)
{
    h2o_header_t headers[SL_UPCLIENT_MAX_HEADERS];
    h2o_iovec_t names[SL_UPCLIENT_MAX_HEADERS];
    while (x->in_size != 0) {
        sl_upclient_head_t h;
        const char *err = NULL;
        int r = sl_upclient_parse_head(x->in, x->in_size, x->head_seen, x->method_is_head, headers, names, &h, &err);
        if (r == SL_EAGAIN) {
            x->head_seen = x->in_size;
            return;
        }
        if (r != SL_OK) {
            if (r != SL_EPROTO || err == NULL)
                abort();
            x->err = err;
            x->head_failed = 1;
            x->phase = PHASE_DONE;
            return;
        }
        check_head(x, &h, headers);
        record_head(x, &h, headers);
        x->head_seen = 0;
        consume(x, h.head_len);
        if (h.status >= 200) {
            sl_upclient_body_init(&x->body, &h);
            x->phase = PHASE_BODY;
            read_body(x);
            return;
        }
    }
}

static void on_read(exchange_t *x, const char *p, size_t n)
{
    if (x->phase == PHASE_DONE) {
        x->extra += n; /* the exchange is over: what follows belongs to no response */
        return;
    }
    memcpy(x->in + x->in_size, p, n);
    x->in_size += n;
    if (x->phase == PHASE_HEAD)
        read_head(x);
    else
        read_body(x);
}

static void on_close(exchange_t *x)
{
    if (x->phase == PHASE_HEAD)
        x->err = sl_upclient_error_head;
    else if (x->phase == PHASE_BODY)
        x->err = sl_upclient_body_ends_at_close(&x->body) ? sl_upclient_error_is_eos : sl_upclient_error_body;
}

static void run(exchange_t *x, const char *stream, size_t len, const sl_fuzz_split_t *s, int method_is_head)
{
    memset(x, 0, sizeof(*x));
    x->method_is_head = method_is_head;
    x->in = malloc(len + 1);
    x->out = malloc(len + 1);
    x->heads = 14695981039346656037u;
    size_t pos = 0;
    for (size_t i = 0; s != NULL && i != s->num_cuts; ++i) {
        on_read(x, stream + pos, s->cuts[i] - pos);
        pos = s->cuts[i];
    }
    on_read(x, stream + pos, len - pos);
    on_close(x);
}

static void dispose(exchange_t *x)
{
    free(x->in);
    free(x->out);
}

/* The stream with a padding field after its first line, so that its head ends near SL_UPCLIENT_HEAD_MAX. */
static char *pad(const sl_fuzz_split_t *s, size_t *len)
{
    const uint8_t *lf = memchr(s->stream, '\n', s->len);
    size_t first = lf != NULL ? (size_t)(lf - s->stream) + 1 : s->len;
    size_t fill = SL_UPCLIENT_HEAD_MAX - 600 + (s->len != 0 ? s->stream[0] : 0) * 4;
    char *out = malloc(s->len + fill + 16);
    size_t n = 0;
    memcpy(out, s->stream, first);
    n = first;
    memcpy(out + n, "x-pad: ", 7);
    n += 7;
    memset(out + n, 'a', fill);
    n += fill;
    memcpy(out + n, "\r\n", 2);
    n += 2;
    memcpy(out + n, s->stream + first, s->len - first);
    *len = n + s->len - first;
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sl_fuzz_split_t s;
    if (sl_fuzz_split_read(data, size, &s) != 0)
        return 0;
    size_t len = s.len;
    char *stream;
    if (s.flags & 2) {
        stream = pad(&s, &len);
    } else {
        stream = malloc(len + 1);
        memcpy(stream, s.stream, len);
    }
    sl_fuzz_split_place(&s, len);

    exchange_t whole, pieces;
    run(&whole, stream, len, NULL, s.flags & 1);
    run(&pieces, stream, len, &s, s.flags & 1);
    if (whole.err == NULL || pieces.err == NULL)
        abort();
    if (whole.num_heads != pieces.num_heads || whole.heads != pieces.heads)
        abort();
    if (whole.err != pieces.err && !(whole.head_failed && pieces.err == sl_upclient_error_head))
        abort();
    /* before broken framing a split run has handed over the bytes of the reads before it; the one-piece run none */
    if (whole.err != sl_upclient_error_chunked &&
        (whole.out_size != pieces.out_size || memcmp(whole.out, pieces.out, whole.out_size) != 0))
        abort();
    if (whole.err == sl_upclient_error_is_eos && whole.extra != pieces.extra)
        abort();
    dispose(&whole);
    dispose(&pieces);
    free(stream);
    return 0;
}
