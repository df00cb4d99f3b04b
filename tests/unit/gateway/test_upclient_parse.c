/* Unit tests of gateway/upclient_parse.c: response heads and body framing against exact byte streams, fed whole,
 * split at every position and byte by byte, the way the client feeds them (bytes decoded in place, the decoded
 * prefix kept at the start of the buffer). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "gateway/upclient.h"

typedef struct {
    int r;
    sl_upclient_head_t h;
    const char *err;
    h2o_header_t headers[SL_UPCLIENT_MAX_HEADERS];
    h2o_iovec_t names[SL_UPCLIENT_MAX_HEADERS];
    char buf[SL_UPCLIENT_HEAD_MAX + 4096];
} parsed_t;

/* Parses a copy of text (names are lower-cased in place). */
static parsed_t *parse(const char *text, size_t len, int method_is_head)
{
    static parsed_t p;
    memset(&p.h, 0xa5, sizeof(p.h));
    p.err = NULL;
    cr_assert_leq(len, sizeof(p.buf));
    memcpy(p.buf, text, len);
    p.r = sl_upclient_parse_head(p.buf, len, 0, method_is_head, p.headers, p.names, &p.h, &p.err);
    return &p;
}

static parsed_t *parse_str(const char *text, int method_is_head)
{
    return parse(text, strlen(text), method_is_head);
}

static void expect_error(const char *text, const char *err)
{
    parsed_t *p = parse_str(text, 0);
    cr_assert_eq(p->r, SL_EPROTO, "%s", text);
    cr_assert_eq(p->err, err, "%s: got %s", text, p->err != NULL ? p->err : "(null)");
}

static void expect_framing(const char *text, int method_is_head, int status, enum en_sl_upclient_framing_t framing,
                           size_t length, int keepalive)
{
    parsed_t *p = parse_str(text, method_is_head);
    cr_assert_eq(p->r, SL_OK, "%s: %s", text, p->err != NULL ? p->err : "");
    cr_assert_eq(p->h.head_len, strlen(text), "%s", text);
    cr_assert_eq(p->h.status, status, "%s", text);
    cr_assert_eq(p->h.framing, framing, "%s", text);
    cr_assert_eq(p->h.content_length, length, "%s", text);
    cr_assert_eq(p->h.keepalive, keepalive, "%s", text);
}

Test(upclient_parse, framing_and_keepalive)
{
    expect_framing("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 0, 200, SL_UPCLIENT_LENGTH, 5, 1);
    expect_framing("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", 0, 200, SL_UPCLIENT_LENGTH, 0, 1);
    expect_framing("HTTP/1.1 200 OK\r\ncontent-length:  12 \r\n\r\n", 0, 200, SL_UPCLIENT_LENGTH, 12, 1);
    expect_framing("HTTP/1.1 200 OK\r\ncontent-length: 7\r\nContent-Length: 7\r\n\r\n", 0, 200, SL_UPCLIENT_LENGTH, 7, 1);
    expect_framing("HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 5\r\n\r\n", 0, 200, SL_UPCLIENT_LENGTH, 5, 0);
    expect_framing("HTTP/1.1 200 OK\r\nConnection: Upgrade, Close\r\ncontent-length: 5\r\n\r\n", 0, 200, SL_UPCLIENT_LENGTH, 5,
                   0);
    expect_framing("HTTP/1.0 200 OK\r\ncontent-length: 5\r\n\r\n", 0, 200, SL_UPCLIENT_LENGTH, 5, 0);
    expect_framing("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\ncontent-length: 5\r\n\r\n", 0, 200, SL_UPCLIENT_LENGTH, 5, 1);
    expect_framing("HTTP/1.0 200 OK\r\nConnection: x-foo,  KEEP-ALIVE \r\ncontent-length: 5\r\n\r\n", 0, 200,
                   SL_UPCLIENT_LENGTH, 5, 1);
    expect_framing("HTTP/1.1 200 OK\r\nConnection: closed, x-close\r\ncontent-length: 5\r\n\r\n", 0, 200, SL_UPCLIENT_LENGTH, 5,
                   1);
    expect_framing("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nConnection: ,close,\r\ncontent-length: 5\r\n\r\n", 0, 200,
                   SL_UPCLIENT_LENGTH, 5, 0);
    expect_framing("HTTP/1.0 200 OK\r\n\r\n", 0, 200, SL_UPCLIENT_UNTIL_CLOSE, 0, 0);
    expect_framing("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n", 0, 200, SL_UPCLIENT_UNTIL_CLOSE, 0, 0);
    expect_framing("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 200, SL_UPCLIENT_CHUNKED, 0, 1);
    expect_framing("HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked \r\n\r\n", 0, 200, SL_UPCLIENT_CHUNKED, 0, 1);
    expect_framing("HTTP/1.1 200 OK\r\ntransfer-encoding: identity\r\ncontent-length: 3\r\n\r\n", 0, 200, SL_UPCLIENT_LENGTH, 3,
                   1);
    /* both: chunked wins and the connection is not reused */
    expect_framing("HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n", 0, 200, SL_UPCLIENT_CHUNKED, 0,
                   0);
    /* no body whatever the fields say */
    expect_framing("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n", 1, 200, SL_UPCLIENT_NO_BODY, 0, 1);
    expect_framing("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", 1, 200, SL_UPCLIENT_NO_BODY, 0, 1);
    expect_framing("HTTP/1.1 204 No Content\r\n\r\n", 0, 204, SL_UPCLIENT_NO_BODY, 0, 1);
    expect_framing("HTTP/1.1 304 Not Modified\r\ncontent-length: 10\r\n\r\n", 0, 304, SL_UPCLIENT_NO_BODY, 0, 1);
    expect_framing("HTTP/1.1 100 Continue\r\n\r\n", 0, 100, SL_UPCLIENT_NO_BODY, 0, 1);
    expect_framing("HTTP/1.1 103 Early Hints\r\nlink: </a>; rel=preload\r\n\r\n", 0, 103, SL_UPCLIENT_NO_BODY, 0, 1);
    expect_framing("HTTP/1.1 503 \r\ncontent-length: 2\r\n\r\n", 0, 503, SL_UPCLIENT_LENGTH, 2, 1);
}

Test(upclient_parse, refused_heads)
{
    expect_error("HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n", sl_upclient_error_upgrade);
    expect_error("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n", sl_upclient_error_transfer_encoding);
    expect_error("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n", sl_upclient_error_transfer_encoding);
    expect_error("HTTP/1.1 200 OK\r\ncontent-length: abc\r\n\r\n", sl_upclient_error_content_length);
    expect_error("HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n", sl_upclient_error_content_length);
    expect_error("HTTP/1.1 200 OK\r\ncontent-length: \r\n\r\n", sl_upclient_error_content_length);
    expect_error("HTTP/1.1 200 OK\r\ncontent-length: 5, 5\r\n\r\n", sl_upclient_error_content_length);
    expect_error("HTTP/1.1 200 OK\r\ncontent-length: 12345678901234567890\r\n\r\n", sl_upclient_error_content_length);
    expect_error("HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n", sl_upclient_error_content_length);
    expect_error("HTTP/1.1 200 OK\r\nx-a: one\r\n two\r\n\r\n", sl_upclient_error_folding);
    expect_error("HTTP/1.1 2x0 OK\r\n\r\n", sl_upclient_error_malformed);
    expect_error("HTTP/1.1 200OK\r\n\r\n", sl_upclient_error_malformed);
    expect_error("HTTP/2 200 OK\r\n\r\n", sl_upclient_error_malformed);
    expect_error("SSH-2.0-OpenSSH_9.2\r\n\r\n", sl_upclient_error_malformed);
    expect_error("HTTP/1.1 099 Low\r\n\r\n", sl_upclient_error_malformed);
    expect_error("HTTP/1.1 200 OK\r\nbad header\r\n\r\n", sl_upclient_error_malformed);
}

Test(upclient_parse, header_names_lower_cased_tokens_and_values)
{
    parsed_t *p = parse_str("HTTP/1.1 201 Created Here\r\nContent-Type: application/json\r\nX-Custom-Name:  v a l \r\n"
                            "content-length: 2\r\n\r\n",
                            0);
    cr_assert_eq(p->r, SL_OK);
    cr_assert_eq(p->h.status, 201);
    cr_assert_eq(p->h.minor_version, 1);
    cr_assert(h2o_memis(p->h.reason.base, p->h.reason.len, H2O_STRLIT("Created Here")));
    cr_assert_eq(p->h.num_headers, 3);
    cr_assert_eq(p->headers[0].name, &H2O_TOKEN_CONTENT_TYPE->buf);
    cr_assert(h2o_memis(p->headers[0].value.base, p->headers[0].value.len, H2O_STRLIT("application/json")));
    cr_assert(h2o_memis(p->headers[1].name->base, p->headers[1].name->len, H2O_STRLIT("x-custom-name")));
    cr_assert(!h2o_iovec_is_token(p->headers[1].name));
    cr_assert(h2o_memis(p->headers[1].value.base, p->headers[1].value.len, H2O_STRLIT("v a l")));
    cr_assert_eq(p->headers[2].name, &H2O_TOKEN_CONTENT_LENGTH->buf);
    cr_assert_null(p->headers[0].orig_name);
}

/* n header fields of a few bytes each */
static size_t head_with_fields(char *out, size_t cap, size_t n, size_t value_len)
{
    size_t len = (size_t)snprintf(out, cap, "HTTP/1.1 200 OK\r\n");
    for (size_t i = 0; i != n; ++i) {
        len += (size_t)snprintf(out + len, cap - len, "x-f%zu: ", i);
        memset(out + len, 'v', value_len);
        len += value_len;
        len += (size_t)snprintf(out + len, cap - len, "\r\n");
    }
    len += (size_t)snprintf(out + len, cap - len, "content-length: 0\r\n\r\n");
    return len;
}

Test(upclient_parse, limits_on_fields_and_size)
{
    static char text[SL_UPCLIENT_HEAD_MAX + 8192];
    size_t len = head_with_fields(text, sizeof(text), 99, 4); /* 99 + content-length = 100 fields */
    cr_assert_eq(parse(text, len, 0)->r, SL_OK);
    len = head_with_fields(text, sizeof(text), 100, 4);
    parsed_t *p = parse(text, len, 0);
    cr_assert_eq(p->r, SL_EPROTO);
    cr_assert_eq(p->err, sl_upclient_error_too_many_headers);

    /* a head just under the cap parses; one over it is refused, complete or not */
    len = head_with_fields(text, sizeof(text), 10, (SL_UPCLIENT_HEAD_MAX - 300) / 10);
    cr_assert_lt(len, SL_UPCLIENT_HEAD_MAX);
    cr_assert_eq(parse(text, len, 0)->r, SL_OK);
    len = head_with_fields(text, sizeof(text), 10, SL_UPCLIENT_HEAD_MAX / 10 + 10);
    cr_assert_gt(len, SL_UPCLIENT_HEAD_MAX);
    p = parse(text, len, 0);
    cr_assert_eq(p->r, SL_EPROTO);
    cr_assert_eq(p->err, sl_upclient_error_head_too_large);
    p = parse(text, SL_UPCLIENT_HEAD_MAX - 1, 0);
    cr_assert_eq(p->r, SL_EAGAIN);
    p = parse(text, SL_UPCLIENT_HEAD_MAX, 0);
    cr_assert_eq(p->r, SL_EPROTO);
    cr_assert_eq(p->err, sl_upclient_error_head_too_large);
}

/* Parses text[0..first) and then text[0..len) with last_len = first, as the client does when a head arrives in two
 * reads; the first attempt must be incomplete. */
static parsed_t *parse_in_two(const char *text, size_t len, size_t first)
{
    parsed_t *p = parse(text, first, 0);
    cr_assert_eq(p->r, SL_EAGAIN, "first %zu bytes", first);
    memcpy(p->buf, text, len);
    p->err = NULL;
    p->r = sl_upclient_parse_head(p->buf, len, first, 0, p->headers, p->names, &p->h, &p->err);
    return p;
}

/* With last_len picohttpparser only looks for the end of the head, refusing a CR without its LF on the way: a head
 * was refused early where the whole bytes still wait for more (the version needs 9 bytes), refused for that CR where
 * the whole bytes have too many fields first, and called too large where the whole bytes are malformed first. The
 * verdict is now the same however the bytes arrived. */
Test(upclient_parse, verdict_of_a_head_in_two_reads_is_that_of_the_whole)
{
    cr_assert_eq(parse_in_two("\nX1\n\r\r\n", 7, 5)->r, SL_EAGAIN);
    cr_assert_eq(parse(("\nX1\n\r\r\n"), 7, 0)->r, SL_EAGAIN);

    static char text[SL_UPCLIENT_HEAD_MAX + 8192];
    size_t len = head_with_fields(text, sizeof(text), 101, 1);
    memcpy(text + len - 2, "c\r\r\n\r\n", 7); /* a bare CR after the 101st field */
    len += 5;
    parsed_t *p = parse_in_two(text, len, 17);
    cr_assert_eq(p->r, SL_EPROTO);
    cr_assert_eq(p->err, sl_upclient_error_too_many_headers);
    p = parse(text, len, 0);
    cr_assert_eq(p->r, SL_EPROTO);
    cr_assert_eq(p->err, sl_upclient_error_too_many_headers);

    len = head_with_fields(text, sizeof(text), 10, SL_UPCLIENT_HEAD_MAX / 10 + 10);
    text[19] = ' '; /* "x- f0:": a space inside the first field's name */
    p = parse_in_two(text, len, 17);
    cr_assert_eq(p->r, SL_EPROTO);
    cr_assert_eq(p->err, sl_upclient_error_malformed);
    p = parse(text, len, 0);
    cr_assert_eq(p->r, SL_EPROTO);
    cr_assert_eq(p->err, sl_upclient_error_malformed);
}

/* Every prefix of a head is incomplete until the blank line, with and without picohttpparser's last_len hint, and
 * the bytes after the head are not part of it. */
Test(upclient_parse, head_split_at_every_position)
{
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n";
    char stream[sizeof(head) + 16];
    size_t hl = sizeof(head) - 1;
    memcpy(stream, head, hl);
    memcpy(stream + hl, "5\r\nhello\r\n", 10);
    size_t total = hl + 10;
    for (size_t k = 0; k <= total; ++k) {
        for (int hint = 0; hint != 2; ++hint) {
            char buf[sizeof(stream)];
            h2o_header_t headers[SL_UPCLIENT_MAX_HEADERS];
            h2o_iovec_t names[SL_UPCLIENT_MAX_HEADERS];
            sl_upclient_head_t h;
            const char *err = NULL;
            memcpy(buf, stream, total);
            size_t last = 0;
            int r = SL_EAGAIN;
            if (hint && k != 0) {
                /* first the k-byte prefix, then everything with last_len = k */
                r = sl_upclient_parse_head(buf, k, 0, 0, headers, names, &h, &err);
                if (r == SL_EAGAIN)
                    last = k;
            }
            if (r == SL_EAGAIN || !hint)
                r = sl_upclient_parse_head(buf, hint ? total : k, last, 0, headers, names, &h, &err);
            size_t fed = hint ? total : k;
            if (fed < hl) {
                cr_assert_eq(r, SL_EAGAIN, "k=%zu hint=%d", k, hint);
            } else {
                cr_assert_eq(r, SL_OK, "k=%zu hint=%d err=%s", k, hint, err ? err : "");
                cr_assert_eq(h.head_len, hl);
                cr_assert_eq(h.framing, SL_UPCLIENT_CHUNKED);
                cr_assert_eq(h.num_headers, 3);
            }
        }
    }
}

/* Feeds stream to a decoder in pieces cut at the given positions (ascending, within the stream), as the client
 * does: raw bytes appended after the decoded ones, decoded in place. Returns the decoder's last result; the body
 * and the bytes after its end are returned in body/extra. */
static int feed(sl_upclient_body_t *b, const char *stream, size_t len, const size_t *cuts, size_t num_cuts, char *body,
                size_t *body_len, size_t *extra)
{
    char *buf = malloc(len + 1);
    size_t kept = 0, pos = 0;
    int r = 0;
    *extra = 0;
    for (size_t i = 0; i <= num_cuts && r == 0; ++i) {
        size_t end = i < num_cuts ? cuts[i] : len;
        memcpy(buf + kept, stream + pos, end - pos);
        size_t n = end - pos, x = 0;
        pos = end;
        r = sl_upclient_body_decode(b, buf + kept, &n, &x);
        if (r < 0)
            break;
        kept += n;
        if (r == 1)
            *extra = x + (len - pos); /* what followed the end in this piece, and everything not fed */
    }
    memcpy(body, buf, kept);
    *body_len = kept;
    free(buf);
    return r;
}

static void init_body(sl_upclient_body_t *b, enum en_sl_upclient_framing_t framing, size_t length)
{
    sl_upclient_head_t h = {0};
    h.framing = framing;
    h.content_length = length;
    sl_upclient_body_init(b, &h);
}

/* The stream split into two and into three pieces at every pair of positions, and byte by byte. */
static void check_all_splits(enum en_sl_upclient_framing_t framing, size_t length, const char *stream, size_t len, int want_r,
                             const char *want_body, size_t want_extra)
{
    char body[4096];
    size_t body_len, extra;
    sl_upclient_body_t b;
    for (size_t i = 0; i <= len; ++i) {
        for (size_t j = i; j <= len; ++j) {
            size_t cuts[2] = {i, j};
            init_body(&b, framing, length);
            int r = feed(&b, stream, len, cuts, 2, body, &body_len, &extra);
            cr_assert_eq(r, want_r, "cuts %zu %zu", i, j);
            if (want_r == 1) {
                cr_assert_eq(body_len, strlen(want_body), "cuts %zu %zu: %zu", i, j, body_len);
                cr_assert(memcmp(body, want_body, body_len) == 0, "cuts %zu %zu", i, j);
                cr_assert_eq(extra, want_extra, "cuts %zu %zu", i, j);
            }
        }
    }
    size_t *every = malloc(sizeof(*every) * (len + 1));
    for (size_t i = 0; i != len; ++i)
        every[i] = i + 1;
    init_body(&b, framing, length);
    cr_assert_eq(feed(&b, stream, len, every, len, body, &body_len, &extra), want_r, "byte by byte");
    if (want_r == 1) {
        cr_assert_eq(body_len, strlen(want_body));
        cr_assert(memcmp(body, want_body, body_len) == 0);
        cr_assert_eq(extra, want_extra);
    }
    free(every);
}

Test(upclient_parse, content_length_body)
{
    static const char s[] = "hello world";
    check_all_splits(SL_UPCLIENT_LENGTH, 11, s, 11, 1, "hello world", 0);
    check_all_splits(SL_UPCLIENT_LENGTH, 5, s, 11, 1, "hello", 6); /* the upstream wrote past its response */
    check_all_splits(SL_UPCLIENT_LENGTH, 20, s, 11, 0, NULL, 0);   /* more to come */
    /* an empty body ends before any byte */
    sl_upclient_body_t b;
    init_body(&b, SL_UPCLIENT_LENGTH, 0);
    size_t n = 0, extra = 7;
    cr_assert_eq(sl_upclient_body_decode(&b, NULL, &n, &extra), 1);
    cr_assert_eq(n, 0);
    cr_assert_eq(extra, 0);
    cr_assert_eq(sl_upclient_body_ends_at_close(&b), 0);
}

Test(upclient_parse, chunked_body_with_extensions_and_trailers)
{
    static const char s[] = "5\r\nhello\r\n6;ext=\"a b\"\r\n world\r\n0\r\ntrailer-a: x\r\ntrailer-b: y\r\n\r\n";
    check_all_splits(SL_UPCLIENT_CHUNKED, 0, s, sizeof(s) - 1, 1, "hello world", 0);
    static const char upper[] = "A\r\n0123456789\r\n00\r\n\r\n";
    check_all_splits(SL_UPCLIENT_CHUNKED, 0, upper, sizeof(upper) - 1, 1, "0123456789", 0);
    static const char extra[] = "3\r\nabc\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n";
    check_all_splits(SL_UPCLIENT_CHUNKED, 0, extra, sizeof(extra) - 1, 1, "abc", 17);
    static const char partial[] = "5\r\nhello\r\n6\r\n wo";
    check_all_splits(SL_UPCLIENT_CHUNKED, 0, partial, sizeof(partial) - 1, 0, NULL, 0);
}

Test(upclient_parse, chunked_garbage_is_malformed)
{
    const char *bad[] = {
        "zz\r\nhello\r\n0\r\n\r\n",  /* size not hex */
        "5\r\nhelloXX\r\n0\r\n\r\n", /* no CRLF after the data */
        "11111111111111111\r\n",     /* size past 64 bits */
        "\r\n",                      /* no size */
    };
    for (size_t k = 0; k != sizeof(bad) / sizeof(bad[0]); ++k)
        check_all_splits(SL_UPCLIENT_CHUNKED, 0, bad[k], strlen(bad[k]), SL_EPROTO, NULL, 0);
}

Test(upclient_parse, until_close_and_no_body)
{
    sl_upclient_body_t b;
    char buf[] = "anything at all";
    size_t n = sizeof(buf) - 1, extra = 0;
    init_body(&b, SL_UPCLIENT_UNTIL_CLOSE, 0);
    cr_assert_eq(sl_upclient_body_decode(&b, buf, &n, &extra), 0);
    cr_assert_eq(n, sizeof(buf) - 1);
    cr_assert_eq(sl_upclient_body_ends_at_close(&b), 1);

    init_body(&b, SL_UPCLIENT_NO_BODY, 0);
    n = 4;
    cr_assert_eq(sl_upclient_body_decode(&b, buf, &n, &extra), 1);
    cr_assert_eq(n, 0);
    cr_assert_eq(extra, 4);
    init_body(&b, SL_UPCLIENT_CHUNKED, 0);
    cr_assert_eq(sl_upclient_body_ends_at_close(&b), 0); /* a chunked stream cut short is broken, not ended */
}
