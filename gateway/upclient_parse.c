/*
 * upclient_parse.c - the upstream client's response parser: the head (status line and fields, through
 * picohttpparser's phr_parse_response) and the body framing (content-length, chunked through phr_decode_chunked,
 * or until the connection closes), as a pure state machine over bytes so tests can feed it any split of a stream.
 *
 * What a head decides (RFC 9112 §6.3, §9.3): the body framing (HEAD, 1xx, 204 and 304 have none; chunked wins over
 * content-length, and then the connection is not reused; neither means read until close), and whether the
 * connection may carry another request (HTTP/1.1 unless `connection: close`; HTTP/1.0 only with `keep-alive`).
 * Everything that makes the framing ambiguous is refused as malformed rather than guessed: conflicting or invalid
 * content-length, transfer codings other than chunked, obsolete line folding, 101 (never asked for), heads over
 * SL_UPCLIENT_HEAD_MAX bytes or SL_UPCLIENT_MAX_HEADERS fields.
 */
#include "gateway/upclient.h"
#include "common/status.h"

#include <string.h>

/* exported by libh2o-evloop (picohttpparser of h2o 2.2.5); see upclient-t.h */
int phr_parse_response(const char *buf, size_t len, int *minor_version, int *status, const char **msg, size_t *msg_len,
                       struct phr_header *headers, size_t *num_headers, size_t last_len);
ssize_t phr_decode_chunked(struct phr_chunked_decoder *decoder, char *buf, size_t *bufsz);

const char sl_upclient_error_is_eos[] = "end of stream";
const char sl_upclient_error_connect[] = "connection failed";
const char sl_upclient_error_socket[] = "socket create error";
const char sl_upclient_error_no_response[] = "I/O error (no response)";
const char sl_upclient_error_send[] = "I/O error (send request)";
const char sl_upclient_error_head[] = "I/O error (head)";
const char sl_upclient_error_body[] = "I/O error (body)";
const char sl_upclient_error_malformed[] = "failed to parse the response";
const char sl_upclient_error_head_too_large[] = "response head too large";
const char sl_upclient_error_too_many_headers[] = "too many response header fields";
const char sl_upclient_error_folding[] = "obsolete line folding in the response head";
const char sl_upclient_error_content_length[] = "invalid content-length";
const char sl_upclient_error_transfer_encoding[] = "unexpected type of transfer-encoding";
const char sl_upclient_error_upgrade[] = "unexpected 101 switching protocols";
const char sl_upclient_error_chunked[] = "failed to parse the response (chunked)";

static h2o_iovec_t trim(const char *s, size_t n)
{
    while (n != 0 && (*s == ' ' || *s == '\t'))
        ++s, --n;
    while (n != 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        --n;
    return h2o_iovec_init(s, n);
}

/* The options of a Connection field (a comma-separated list, RFC 9110 §7.6.1) that decide reuse. */
static void connection_options(h2o_iovec_t v, int *close, int *keep_alive)
{
    const char *p = v.base, *end = v.base + v.len;
    while (p != end) {
        const char *t = p;
        while (p != end && *p != ',')
            ++p;
        h2o_iovec_t opt = trim(t, (size_t)(p - t));
        if (h2o_lcstris(opt.base, opt.len, H2O_STRLIT("close")))
            *close = 1;
        else if (h2o_lcstris(opt.base, opt.len, H2O_STRLIT("keep-alive")))
            *keep_alive = 1;
        if (p != end)
            ++p;
    }
}

/* content-length = 1*DIGIT, at most 19 digits (no overflow of size_t on 64-bit) */
static int parse_length(h2o_iovec_t v, size_t *out)
{
    if (v.len == 0 || v.len > 19)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i != v.len; ++i) {
        if (v.base[i] < '0' || v.base[i] > '9')
            return -1;
        n = n * 10 + (size_t)(v.base[i] - '0');
    }
    *out = n;
    return 0;
}

int sl_upclient_parse_head(char *buf, size_t len, size_t last_len, int method_is_head, h2o_header_t *headers,
                           h2o_iovec_t *names, sl_upclient_head_t *out, const char **err)
{
    struct phr_header src[SL_UPCLIENT_MAX_HEADERS];
    size_t num = SL_UPCLIENT_MAX_HEADERS, scan = len < SL_UPCLIENT_HEAD_MAX ? len : SL_UPCLIENT_HEAD_MAX;
    int minor, status;
    const char *msg;
    size_t msg_len;
    if (last_len > scan)
        last_len = 0;
    int r = phr_parse_response(buf, scan, &minor, &status, &msg, &msg_len, src, &num, last_len);
    if (last_len != 0 && (r == -1 || (r == -2 && scan == SL_UPCLIENT_HEAD_MAX))) {
        /* Given last_len, picohttpparser only looks for the head's end, refusing a CR without its LF on the way: a
         * verdict is taken from a parse of the whole bytes instead, which may still wait for more (the version needs
         * 9 bytes) or name another fault first, so that how the head arrived never changes it. */
        num = SL_UPCLIENT_MAX_HEADERS;
        r = phr_parse_response(buf, scan, &minor, &status, &msg, &msg_len, src, &num, 0);
    }
    if (r == -2) {
        if (scan < SL_UPCLIENT_HEAD_MAX)
            return SL_EAGAIN;
        *err = sl_upclient_error_head_too_large;
        return SL_EPROTO;
    }
    if (r < 0) {
        *err = num == SL_UPCLIENT_MAX_HEADERS ? sl_upclient_error_too_many_headers : sl_upclient_error_malformed;
        return SL_EPROTO;
    }
    if (status < 100) {
        *err = sl_upclient_error_malformed;
        return SL_EPROTO;
    }
    if (status == 101) {
        *err = sl_upclient_error_upgrade;
        return SL_EPROTO;
    }

    int chunked = 0, has_length = 0, close = 0, keep_alive = 0;
    size_t length = 0;
    for (size_t i = 0; i != num; ++i) {
        if (src[i].name == NULL) {
            *err = sl_upclient_error_folding;
            return SL_EPROTO;
        }
        char *name = (char *)src[i].name;
        h2o_strtolower(name, src[i].name_len);
        const h2o_token_t *t = h2o_lookup_token(name, src[i].name_len);
        if (t != NULL) {
            headers[i].name = (h2o_iovec_t *)&t->buf;
        } else {
            names[i] = h2o_iovec_init(name, src[i].name_len);
            headers[i].name = &names[i];
        }
        headers[i].orig_name = NULL;
        headers[i].value = trim(src[i].value, src[i].value_len); /* OWS is not part of a value (RFC 9110 §5.5) */
        if (t == H2O_TOKEN_CONNECTION) {
            connection_options(headers[i].value, &close, &keep_alive);
        } else if (t == H2O_TOKEN_TRANSFER_ENCODING) {
            h2o_iovec_t v = headers[i].value;
            if (h2o_lcstris(v.base, v.len, H2O_STRLIT("chunked"))) {
                chunked = 1;
            } else if (!h2o_lcstris(v.base, v.len, H2O_STRLIT("identity"))) {
                *err = sl_upclient_error_transfer_encoding;
                return SL_EPROTO;
            }
        } else if (t == H2O_TOKEN_CONTENT_LENGTH) {
            size_t v;
            if (parse_length(headers[i].value, &v) != 0 || (has_length && v != length)) {
                *err = sl_upclient_error_content_length;
                return SL_EPROTO;
            }
            has_length = 1;
            length = v;
        }
    }

    out->head_len = (size_t)r;
    out->minor_version = minor;
    out->status = status;
    out->reason = h2o_iovec_init(msg, msg_len);
    out->num_headers = num;
    out->content_length = 0;
    out->keepalive = !close && (minor >= 1 || keep_alive);
    if (method_is_head || status < 200 || status == 204 || status == 304) {
        out->framing = SL_UPCLIENT_NO_BODY;
    } else if (chunked) {
        out->framing = SL_UPCLIENT_CHUNKED;
        if (has_length)
            out->keepalive = 0; /* both: chunked wins, and the connection is not trusted further (RFC 9112 §6.3) */
    } else if (has_length) {
        out->framing = SL_UPCLIENT_LENGTH;
        out->content_length = length;
    } else {
        out->framing = SL_UPCLIENT_UNTIL_CLOSE;
        out->keepalive = 0;
    }
    return SL_OK;
}

void sl_upclient_body_init(sl_upclient_body_t *b, const sl_upclient_head_t *h)
{
    memset(b, 0, sizeof(*b));
    b->framing = h->framing;
    b->left = h->content_length;
    b->chunked.consume_trailer = 1; /* trailers are read and dropped */
}

int sl_upclient_body_decode(sl_upclient_body_t *b, char *buf, size_t *len, size_t *extra)
{
    size_t n = *len;
    ssize_t r;
    switch (b->framing) {
    case SL_UPCLIENT_NO_BODY:
        *len = 0;
        *extra = n;
        return 1;
    case SL_UPCLIENT_LENGTH:
        if (n >= b->left) {
            *len = b->left;
            *extra = n - b->left;
            b->left = 0;
            return 1;
        }
        b->left -= n;
        return 0;
    case SL_UPCLIENT_CHUNKED:
        if (n == 0)
            return 0;
        r = phr_decode_chunked(&b->chunked, buf, &n);
        if (r == -1)
            return SL_EPROTO;
        *len = n;
        if (r == -2)
            return 0;
        *extra = (size_t)r;
        b->framing = SL_UPCLIENT_NO_BODY; /* ended: anything later is not body */
        return 1;
    case SL_UPCLIENT_UNTIL_CLOSE:
    default:
        return 0;
    }
}

int sl_upclient_body_ends_at_close(const sl_upclient_body_t *b)
{
    return b->framing == SL_UPCLIENT_UNTIL_CLOSE;
}
