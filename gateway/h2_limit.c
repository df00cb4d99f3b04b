/*
 * h2_limit.c - an oversized HTTP/2 request body answered 413 instead of reset (see h2_limit.h).
 *
 * h2o 2.2.5 hands an HTTP/2 request to a handler only once its body is complete (END_STREAM), and resets a stream
 * whose body outgrows max_request_entity_size, inside a static DATA frame handler: no hook runs in between. So the
 * gateway puts a reader of its own between the socket and h2o's HTTP/2 reader. It sees the bytes h2o is about to
 * parse (decrypted, for TLS) and walks their frames; only DATA frames matter. For a DATA frame of a stream whose
 * body is still arriving, it adds up what h2o already holds (the stream's body buffer) and what earlier frames of
 * the same read bring. When the frame takes the body past the limit (the max_request_entity_size h2o was given,
 * minus one frame, that is server.max_body at start):
 *
 *  - the frame gets END_STREAM, and the stream's expected content-length is forgotten (h2o would otherwise reset a
 *    body shorter than announced): h2o completes the request, with at most one frame more than the limit, and the
 *    handler answers 413 as for HTTP/1;
 *  - the stream joins a small list of cut streams: what the client still sends on it is taken out of the input
 *    before h2o sees it (h2o would reset the stream mid-answer, or answer RST_STREAM(STREAM_CLOSED)); the bytes
 *    still count in the connection's flow-control window, exactly as h2o counts a DATA frame, so other streams never
 *    stall. h2o no longer opens that stream's own window, which bounds what the client can still send (16 MiB,
 *    h2o's initial window), and none of it is kept;
 *  - when the stream closes (its answer written), RST_STREAM(NO_ERROR) follows the answer: RFC 9113 §8.1's way of
 *    asking a client to stop sending a request whose response is complete. Not when the frame was already the last.
 *
 * h2o parses everything readable in one go, so a stream opened earlier in the same read does not exist yet when its
 * first DATA frame is walked: its body so far is what this read brings. Only when such a body must be cut (the
 * stream object is needed) does the reader let h2o parse the frames before it first, then walk on. Streams are found in h2o's priority tree (every open stream has a node there): the stream table is a
 * khash that the Debian package's headers cannot reach (gateway/h2o_private/khash.h).
 *
 * This relies on h2o 2.2.5's private structs (h2o/http2_internal.h: the stream's state, body buffer and expected
 * length; the connection's input window and write buffer). They are the installed headers of the library the
 * gateway links; a libh2o upgrade must revisit this file (tests: test_gw_h2_body_limit.py).
 *
 * The accept mirrors h2o_accept (lib/core/util.c) so that the reader is in place before h2o parses a byte. Worker
 * thread.
 */
#include "gateway/h2_limit.h"

#include <h2o/http1.h>
#include <h2o/http2.h>
#include <h2o/http2_internal.h>
#include <stdlib.h>
#include <string.h>

#define PREFACE_LEN 24      /* "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" (RFC 9113 §3.4) */
#define PREFACE_SIG "PRI * HTTP/2" /* what h2o's HTTP/1 parser itself checks */
#define MAX_CUT 8           /* cut streams remembered per connection (the oldest is forgotten) */
#define MAX_RUN 8           /* streams with DATA in one walked stretch of input */

size_t sl_gw_h2_limit_entity_size(size_t max_body)
{
    return max_body + H2O_HTTP2_SETTINGS_HOST.max_frame_size;
}

/* --- the reader ------------------------------------------------------------------------------------------------ */

typedef struct st_sl_gw_h2_guard_t {
    h2o_socket_cb h2o_on_read; /* h2o's reader of the connection */
    void (*next_close)(void *);
    void *next_close_data;
    size_t limit;        /* a body beyond this many bytes is ended at the frame that passes it */
    size_t preface_left; /* bytes of the client preface not walked yet (h2o checks them) */
    uint32_t cut[MAX_CUT];
    size_t cut_next;
    int in_read, closed; /* the socket closed while h2o was reading: freed by the reader when h2o returns */
} sl_gw_h2_guard_t;

typedef struct st_sl_gw_h2_rst_t {
    h2o_http2_conn_t *conn;
    uint32_t stream_id;
} sl_gw_h2_rst_t;

static uint32_t decode24(const uint8_t *p)
{
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static uint32_t decode31(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]) & 0x7fffffff;
}

/* The stream of id in the priority tree below node, or NULL. The tree is small and shallow enough to walk for every
 * DATA frame: h2o keeps at most max_concurrent_streams (100) open streams plus http2.max_streams_for_priority (16)
 * idle or closed ones that PRIORITY frames created. */
static h2o_http2_stream_t *find_stream(h2o_http2_scheduler_node_t *node, uint32_t id)
{
    for (h2o_linklist_t *l = node->_all_refs.next; l != &node->_all_refs; l = l->next) {
        h2o_http2_scheduler_openref_t *ref = H2O_STRUCT_FROM_MEMBER(h2o_http2_scheduler_openref_t, _all_link, l);
        h2o_http2_stream_t *st = H2O_STRUCT_FROM_MEMBER(h2o_http2_stream_t, _refs.scheduler, ref);
        if (st->stream_id == id)
            return st;
        if ((st = find_stream(&ref->node, id)) != NULL)
            return st;
    }
    return NULL;
}

static int is_cut(const sl_gw_h2_guard_t *g, uint32_t id)
{
    for (size_t i = 0; i != MAX_CUT; ++i)
        if (g->cut[i] == id)
            return 1;
    return 0;
}

/* The body bytes of a DATA frame (its padding excluded, as h2o counts them); -1 when the padding is invalid (h2o
 * then fails the connection itself). */
static int data_length(const uint8_t *frame, size_t len, size_t *out)
{
    if ((frame[4] & H2O_HTTP2_FRAME_FLAG_PADDED) == 0) {
        *out = len;
        return 0;
    }
    if (len == 0 || (size_t)frame[H2O_HTTP2_FRAME_HEADER_SIZE] >= len)
        return -1;
    *out = len - 1 - frame[H2O_HTTP2_FRAME_HEADER_SIZE];
    return 0;
}

/* What connection.c's update_input_window does for a DATA frame's bytes on the connection window (stream 0). */
static void count_in_window(h2o_http2_conn_t *conn, size_t len)
{
    h2o_http2_window_consume_window(&conn->_input_window, len);
    if (h2o_http2_window_get_window(&conn->_input_window) * 2 < H2O_HTTP2_SETTINGS_HOST.initial_window_size) {
        int32_t delta = (int32_t)(H2O_HTTP2_SETTINGS_HOST.initial_window_size - h2o_http2_window_get_window(&conn->_input_window));
        h2o_http2_encode_window_update_frame(&conn->_write.buf, 0, delta);
        h2o_http2_conn_request_write(conn);
        h2o_http2_window_update(&conn->_input_window, delta);
    }
}

/* The pool of a cut stream's request is cleared when h2o closes the stream, after the answer went to the write
 * buffer: RST_STREAM(NO_ERROR) goes out behind it. */
static void on_cut_stream_closed(void *_r)
{
    sl_gw_h2_rst_t *r = _r;
    h2o_http2_conn_t *conn = r->conn;
    if (conn->state == H2O_HTTP2_CONN_STATE_IS_CLOSING)
        return;
    h2o_iovec_t dst = h2o_buffer_reserve(&conn->_write.buf, H2O_HTTP2_FRAME_HEADER_SIZE + 4);
    uint8_t *p = h2o_http2_encode_frame_header((uint8_t *)dst.base, 4, H2O_HTTP2_FRAME_TYPE_RST_STREAM, 0, (int32_t)r->stream_id);
    memset(p, 0, 4); /* NO_ERROR */
    conn->_write.buf->size += H2O_HTTP2_FRAME_HEADER_SIZE + 4;
    h2o_http2_conn_request_write(conn);
}

static void cut_stream(sl_gw_h2_guard_t *g, h2o_http2_conn_t *conn, h2o_http2_stream_t *st, uint8_t *frame)
{
    int client_done = (frame[4] & H2O_HTTP2_FRAME_FLAG_END_STREAM) != 0;
    frame[4] |= H2O_HTTP2_FRAME_FLAG_END_STREAM;
    st->_expected_content_length = SIZE_MAX;
    if (client_done)
        return; /* nothing more comes: the stream closes normally after the answer */
    g->cut[g->cut_next] = st->stream_id;
    g->cut_next = (g->cut_next + 1) % MAX_CUT;
    sl_gw_h2_rst_t *r = h2o_mem_alloc_shared(&st->req.pool, sizeof(*r), on_cut_stream_closed);
    r->conn = conn;
    r->stream_id = st->stream_id;
}

/* Lets h2o parse the first n bytes of the input, then puts the rest back behind whatever it left. h2o frees an input
 * buffer it consumed whole, so the rest waits in a buffer of its own meanwhile. Returns -1 when the connection's
 * socket was closed meanwhile (nothing may be touched any more). Only on the rare paths: a body cut in the read that
 * opened its stream, or more streams in one read than the walk keeps sums for. */
static int feed(sl_gw_h2_guard_t *g, h2o_socket_t *sock, size_t n)
{
    h2o_buffer_t *rest;
    size_t rest_len = sock->input->size - n;
    h2o_buffer_init(&rest, &h2o_socket_buffer_prototype);
    if (rest_len != 0) {
        memcpy(h2o_buffer_reserve(&rest, rest_len).base, sock->input->bytes + n, rest_len);
        rest->size = rest_len;
    }
    sock->input->size = n;
    g->h2o_on_read(sock, NULL);
    if (g->closed) {
        h2o_buffer_dispose(&rest);
        return -1;
    }
    if (sock->input->size == 0) {
        h2o_buffer_t *empty = sock->input;
        sock->input = rest;
        rest = empty;
    } else if (rest_len != 0) {
        memcpy(h2o_buffer_reserve(&sock->input, rest_len).base, rest->bytes, rest_len);
        sock->input->size += rest_len;
    }
    h2o_buffer_dispose(&rest);
    return 0;
}

static void walk_and_feed(sl_gw_h2_guard_t *g, h2o_socket_t *sock)
{
    h2o_http2_conn_t *conn = sock->data;
    struct {
        uint32_t id;
        size_t bytes;
    } run[MAX_RUN];
    size_t pos = 0, num_run = 0;

    if (g->preface_left != 0) {
        if (sock->input->size < g->preface_left)
            goto Feed;
        pos = g->preface_left;
        g->preface_left = 0;
    }
    while (pos + H2O_HTTP2_FRAME_HEADER_SIZE <= sock->input->size) {
        uint8_t *f = (uint8_t *)sock->input->bytes + pos;
        size_t len = decode24(f), flen = H2O_HTTP2_FRAME_HEADER_SIZE + len, data_len, i, held;
        if (len > H2O_HTTP2_SETTINGS_HOST.max_frame_size || flen > sock->input->size - pos)
            break; /* refused by h2o, or not complete yet */
        uint32_t id = decode31(f + 5);
        if (f[3] != H2O_HTTP2_FRAME_TYPE_DATA || id == 0) {
            pos += flen;
            continue;
        }
        if (is_cut(g, id)) {
            memmove(f, f + flen, sock->input->size - pos - flen);
            sock->input->size -= flen;
            if (conn->state == H2O_HTTP2_CONN_STATE_OPEN)
                count_in_window(conn, len);
            continue;
        }
        h2o_http2_stream_t *st = find_stream(&conn->scheduler, id);
        if (st != NULL && st->state == H2O_HTTP2_STREAM_STATE_RECV_BODY)
            held = st->_req_body->size;
        else if (st == NULL && id > conn->pull_stream_ids.max_open)
            held = 0; /* opened by a HEADERS frame earlier in this input (else h2o refuses the frame) */
        else
            held = SIZE_MAX; /* not receiving a body: h2o answers the frame as it sees fit */
        if (held == SIZE_MAX || data_length(f, len, &data_len) != 0) {
            pos += flen;
            continue;
        }
        for (i = 0; i != num_run && run[i].id != id; ++i)
            ;
        size_t body = held + (i != num_run ? run[i].bytes : 0) + data_len; /* with this frame */
        if (i == MAX_RUN || (st == NULL && body > g->limit)) {
            /* h2o parses up to here first: it opens the stream, or takes the sums into its body buffers */
            if (feed(g, sock, pos) != 0)
                return;
            if (conn->state == H2O_HTTP2_CONN_STATE_IS_CLOSING)
                break;
            pos = 0;
            num_run = 0;
            continue;
        }
        if (i == num_run) {
            run[num_run].id = id;
            run[num_run++].bytes = 0;
        }
        if (body > g->limit)
            cut_stream(g, conn, st, f);
        run[i].bytes += data_len;
        pos += flen;
    }
Feed:
    g->h2o_on_read(sock, NULL);
}

static void on_guarded_read(h2o_socket_t *sock, const char *err)
{
    sl_gw_h2_guard_t *g = sock->on_close.data;
    if (err != NULL) {
        g->h2o_on_read(sock, err);
        return;
    }
    g->in_read = 1;
    walk_and_feed(g, sock);
    g->in_read = 0;
    if (g->closed)
        free(g);
}

static void on_guarded_close(void *_g)
{
    sl_gw_h2_guard_t *g = _g;
    if (g->next_close != NULL)
        g->next_close(g->next_close_data);
    if (g->in_read)
        g->closed = 1;
    else
        free(g);
}

static void accept_h2(h2o_accept_ctx_t *ctx, h2o_socket_t *sock, struct timeval connected_at)
{
    /* h2o parses at once what was read already: hide it until the reader is in place */
    h2o_buffer_t *early = sock->input;
    h2o_buffer_init(&sock->input, &h2o_socket_buffer_prototype);
    h2o_http2_accept(ctx, sock, connected_at);
    h2o_buffer_dispose(&sock->input);
    sock->input = early;

    sl_gw_h2_guard_t *g = h2o_mem_alloc(sizeof(*g));
    memset(g, 0, sizeof(*g));
    g->h2o_on_read = sock->_cb.read;
    g->next_close = sock->on_close.cb;
    g->next_close_data = sock->on_close.data;
    g->limit = ctx->ctx->globalconf->max_request_entity_size - H2O_HTTP2_SETTINGS_HOST.max_frame_size;
    g->preface_left = PREFACE_LEN;
    sock->on_close.cb = on_guarded_close;
    sock->on_close.data = g;
    h2o_socket_read_start(sock, on_guarded_read);
    if (sock->input->size != 0)
        on_guarded_read(sock, NULL);
}

/* --- the accept ------------------------------------------------------------------------------------------------ */

typedef struct st_sl_gw_h2_accept_t {
    h2o_accept_ctx_t *ctx;
    h2o_socket_t *sock;
    struct timeval connected_at;
    h2o_timeout_entry_t timeout;
} sl_gw_h2_accept_t;

static void accept_done(sl_gw_h2_accept_t *a)
{
    a->sock->data = NULL;
    h2o_timeout_unlink(&a->timeout);
    free(a);
}

static void on_accept_timeout(h2o_timeout_entry_t *entry)
{
    sl_gw_h2_accept_t *a = H2O_STRUCT_FROM_MEMBER(sl_gw_h2_accept_t, timeout, entry);
    h2o_socket_t *sock = a->sock;
    accept_done(a);
    h2o_socket_close(sock);
}

static void on_handshake(h2o_socket_t *sock, const char *err)
{
    sl_gw_h2_accept_t *a = sock->data;
    h2o_accept_ctx_t *ctx = a->ctx;
    struct timeval at = a->connected_at;
    accept_done(a);
    if (err != NULL) {
        h2o_socket_close(sock);
        return;
    }
    h2o_iovec_t proto = h2o_socket_ssl_get_selected_protocol(sock);
    for (const h2o_iovec_t *id = h2o_http2_alpn_protocols; id->len != 0; ++id) {
        if (h2o_memis(proto.base, proto.len, id->base, id->len)) {
            accept_h2(ctx, sock, at);
            return;
        }
    }
    h2o_http1_accept(ctx, sock, at);
}

/* The first bytes of a cleartext connection: the HTTP/2 preface, or HTTP/1. */
static void on_first_read(h2o_socket_t *sock, const char *err)
{
    sl_gw_h2_accept_t *a = sock->data;
    if (err != NULL) {
        accept_done(a);
        h2o_socket_close(sock);
        return;
    }
    size_t n = sock->input->size < sizeof(PREFACE_SIG) - 1 ? sock->input->size : sizeof(PREFACE_SIG) - 1;
    int h2 = memcmp(sock->input->bytes, PREFACE_SIG, n) == 0;
    if (h2 && n < sizeof(PREFACE_SIG) - 1)
        return; /* could still be the preface */
    h2o_accept_ctx_t *ctx = a->ctx;
    struct timeval at = a->connected_at;
    accept_done(a);
    if (h2)
        accept_h2(ctx, sock, at);
    else
        h2o_http1_accept(ctx, sock, at);
}

void sl_gw_h2_limit_accept(h2o_accept_ctx_t *ctx, h2o_socket_t *sock)
{
    sl_gw_h2_accept_t *a = h2o_mem_alloc(sizeof(*a));
    *a = (sl_gw_h2_accept_t){ctx, sock, *h2o_get_timestamp(ctx->ctx, NULL, NULL), {0}};
    a->timeout.cb = on_accept_timeout;
    sock->data = a;
    if (ctx->ssl_ctx != NULL) {
        h2o_timeout_link(ctx->ctx->loop, &ctx->ctx->handshake_timeout, &a->timeout);
        h2o_socket_ssl_handshake(sock, ctx->ssl_ctx, NULL, on_handshake);
    } else {
        h2o_timeout_link(ctx->ctx->loop, &ctx->ctx->http1.req_timeout, &a->timeout);
        h2o_socket_read_start(sock, on_first_read);
    }
}
