/*
 * upclient.c - the gateway's HTTP/1.1 client to upstreams (API and rules: upclient.h; parser: upclient_parse.c).
 *
 * Why not h2o_http1client + h2o_socketpool. h2o 2.2.5's pool takes an idle socket out of the event loop when it
 * returns (epoll_ctl DEL), puts it back on reuse (fcntl, epoll_ctl ADD) and probes it with recv(MSG_PEEK): four
 * system calls per request, plus a mutex, to learn whether the upstream closed the connection meanwhile. Here an
 * idle connection never leaves the loop: it keeps reading, with a callback that closes it as soon as the upstream
 * closes it (or sends anything), so a reused connection costs no system call at all and a connection the
 * upstream timed out is gone from the pool before a request could pick it. Idle connections wait in a LIFO list
 * per endpoint (the hottest connection is reused; the coldest expire), at most pool->max_idle of them, each with
 * an entry on the context's idle timeout (kept below the upstreams' own keep-alive timeouts, so the upstream
 * rarely closes first).
 *
 * One object per connection. It belongs to the user from connect until the exchange ends; then it goes to the
 * pool's idle list (keep-alive allowed, response framed, request fully written, nothing after the response) or is
 * closed and recycled on the context's free list, so steady traffic allocates nothing. The socket's read callback
 * is the same in every state (on_read dispatches on the state), which is what keeps the epoll registration
 * unchanged between exchanges.
 *
 * Callbacks never nest a release under the user: while a callback runs (_in_cb), sl_upclient_cancel only marks the
 * connection, and the code that called the callback releases it when it returns. Nothing calls back after a
 * release: the socket is closed (h2o skips pending events of a closed socket) and the timer entry unlinked.
 *
 * Thread: the context's thread only. Never blocks; the only system calls are h2o's reads and writes, and
 * socket/connect/setsockopt/close when a connection opens or closes.
 */
#include "gateway/upclient.h"
#include "common/alloc.h"
#include "common/status.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

static void on_read(h2o_socket_t *sock, const char *err);

void sl_upclient_ctx_init(sl_upclient_ctx_t *ctx, h2o_loop_t *loop, h2o_timeout_t *zero_timeout, h2o_timeout_t *idle_timeout,
                          int rcvbuf)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->loop = loop;
    ctx->zero_timeout = zero_timeout;
    ctx->idle_timeout = idle_timeout;
    ctx->rcvbuf = rcvbuf;
}

void sl_upclient_pool_init(sl_upclient_pool_t *pool, sl_upclient_ctx_t *ctx, const struct sockaddr *sa, socklen_t salen,
                           size_t max_idle)
{
    memset(pool, 0, sizeof(*pool));
    pool->ctx = ctx;
    if (salen > sizeof(pool->addr))
        salen = sizeof(pool->addr);
    memcpy(&pool->addr, sa, salen);
    pool->addrlen = salen;
    pool->max_idle = max_idle;
    h2o_linklist_init_anchor(&pool->idle);
    pool->stats = &pool->own_stats;
}

/* A single-writer counter bump readable from another thread (upclient-t.h) */
#define COUNT(field, n) __atomic_store_n(&(field), __atomic_load_n(&(field), __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)

static void set_num_idle(sl_upclient_pool_t *pool, size_t n)
{
    pool->num_idle = n;
    __atomic_store_n(&pool->stats->idle, (uint64_t)n, __ATOMIC_RELAXED);
}

static sl_upclient_t *conn_alloc(sl_upclient_ctx_t *ctx)
{
    sl_upclient_t *c = ctx->_free;
    if (c != NULL) {
        ctx->_free = c->_next_free;
        --ctx->_num_free;
    } else {
        c = sl_malloc(sizeof(*c));
    }
    memset(c, 0, sizeof(*c));
    return c;
}

/* Closes c's connection (counted under why, unless SL_UPCLIENT_CLOSE_COUNT) and recycles the object. No callback
 * of c runs afterwards. */
static void conn_release(sl_upclient_t *c, enum en_sl_upclient_close_t why)
{
    sl_upclient_pool_t *pool = c->_pool;
    sl_upclient_ctx_t *ctx = pool->ctx;
    if (why != SL_UPCLIENT_CLOSE_COUNT)
        COUNT(pool->stats->closed[why], 1);
    if (c->sock != NULL) {
        c->sock->data = NULL;
        h2o_socket_close(c->sock);
        c->sock = NULL;
    }
    h2o_timeout_unlink(&c->_timer);
    if (h2o_linklist_is_linked(&c->_idle_link)) {
        h2o_linklist_unlink(&c->_idle_link);
        set_num_idle(pool, pool->num_idle - 1);
    }
    c->_state = SL_UPCLIENT_S_FREE;
    if (ctx->_num_free < SL_UPCLIENT_FREE_MAX) {
        c->_next_free = ctx->_free;
        ctx->_free = c;
        ++ctx->_num_free;
    } else {
        sl_free(c);
    }
}

void sl_upclient_pool_dispose(sl_upclient_pool_t *pool)
{
    while (!h2o_linklist_is_empty(&pool->idle))
        conn_release(H2O_STRUCT_FROM_MEMBER(sl_upclient_t, _idle_link, pool->idle.next), SL_UPCLIENT_CLOSE_COUNT);
}

static void fail_connect(sl_upclient_t *c, const char *errstr)
{
    c->_in_cb = 1;
    c->_cb.connect(c, errstr, NULL, NULL, NULL);
    c->_in_cb = 0;
    conn_release(c, SL_UPCLIENT_CLOSE_ERROR);
}

static void fail_head(sl_upclient_t *c, const char *errstr)
{
    c->_keepalive = 0;
    c->_in_cb = 1;
    c->_cb.head(c, errstr, 0, 0, h2o_iovec_init(NULL, 0), NULL, 0, 0);
    c->_in_cb = 0;
    conn_release(c, SL_UPCLIENT_CLOSE_ERROR);
}

static void fail_body(sl_upclient_t *c, const char *errstr)
{
    c->_keepalive = 0;
    c->_in_cb = 1;
    c->_cb.body(c, errstr);
    c->_in_cb = 0;
    conn_release(c, SL_UPCLIENT_CLOSE_ERROR);
}

static void on_idle_timeout(h2o_timeout_entry_t *entry)
{
    sl_upclient_t *c = H2O_STRUCT_FROM_MEMBER(sl_upclient_t, _timer, entry);
    conn_release(c, SL_UPCLIENT_CLOSE_IDLE_EXPIRED);
}

/* An idle connection becomes available to the next exchange (most recently used first). */
static void make_available(sl_upclient_t *c)
{
    sl_upclient_pool_t *pool = c->_pool;
    h2o_linklist_insert(pool->idle.next, &c->_idle_link);
    set_num_idle(pool, pool->num_idle + 1);
    if (pool->num_idle > pool->max_idle) /* the coldest goes */
        conn_release(H2O_STRUCT_FROM_MEMBER(sl_upclient_t, _idle_link, pool->idle.prev), SL_UPCLIENT_CLOSE_IDLE_OVER_CAP);
}

/* The exchange ended with its response: the connection goes idle when it can carry another request. */
static void end_exchange(sl_upclient_t *c)
{
    sl_upclient_pool_t *pool = c->_pool;
    if (!c->_keepalive || pool->max_idle == 0) {
        conn_release(c, SL_UPCLIENT_CLOSE_NOT_REUSABLE);
        return;
    }
    if (c->sock->input->size != 0)
        h2o_buffer_consume(&c->sock->input, c->sock->input->size); /* body bytes the user left */
    c->data = NULL;
    c->reused = 0;
    c->_state = SL_UPCLIENT_S_IDLE;
    if (c->_paused || !h2o_socket_is_reading(c->sock)) {
        c->_paused = 0;
        h2o_socket_read_start(c->sock, on_read);
    }
    c->_timer.cb = on_idle_timeout;
    h2o_timeout_link(pool->ctx->loop, pool->ctx->idle_timeout, &c->_timer);
    /* h2o reports a finished write from the loop, possibly after the answer was read: until then the connection
     * waits (idle, timed, watched) outside the list; a write that never finishes ends with the idle timeout */
    if (!c->_writing)
        make_available(c);
}

static void end_body(sl_upclient_t *c)
{
    c->_in_cb = 1;
    c->_cb.body(c, sl_upclient_error_is_eos);
    c->_in_cb = 0;
    if (c->_cancelled)
        conn_release(c, SL_UPCLIENT_CLOSE_CANCELLED);
    else
        end_exchange(c);
}

/* Decodes what the last read appended (sock->bytes_read bytes at the end of sock->input: the user may have taken
 * or swapped the buffer since, even outside a callback) and hands it over. */
static void read_body(sl_upclient_t *c, const char *err)
{
    if (err != NULL) {
        if (err == h2o_socket_error_closed && sl_upclient_body_ends_at_close(&c->_body)) {
            c->_keepalive = 0;
            end_body(c);
        } else {
            fail_body(c, sl_upclient_error_body);
        }
        return;
    }
    h2o_buffer_t *in = c->sock->input;
    size_t raw = c->sock->bytes_read <= in->size ? c->sock->bytes_read : in->size, n = raw, extra = 0;
    size_t kept = in->size - raw; /* decoded body bytes the user left */
    int r = sl_upclient_body_decode(&c->_body, in->bytes + kept, &n, &extra);
    if (r < 0) {
        if (raw != 0)
            in->size = kept; /* the undecodable bytes are not body */
        fail_body(c, sl_upclient_error_chunked);
        return;
    }
    if (n != raw)
        in->size = kept + n; /* chunk framing, or bytes after the body's end */
    if (r == 1) {
        if (extra != 0)
            c->_keepalive = 0; /* the upstream wrote past its response */
        end_body(c);
        return;
    }
    if (raw == 0)
        return; /* a wake-up without bytes */
    c->_in_cb = 1;
    int stop = c->_cb.body(c, NULL);
    c->_in_cb = 0;
    if (stop != 0 || c->_cancelled)
        conn_release(c, SL_UPCLIENT_CLOSE_CANCELLED);
}

static void deliver_head(sl_upclient_t *c, const sl_upclient_head_t *h, h2o_header_t *headers)
{
    int eos = h->framing == SL_UPCLIENT_NO_BODY;
    c->_keepalive = h->keepalive != 0;
    sl_upclient_body_init(&c->_body, h);
    c->_in_cb = 1;
    sl_upclient_body_cb body = c->_cb.head(c, eos ? sl_upclient_error_is_eos : NULL, h->minor_version, h->status, h->reason,
                                           headers, h->num_headers, (int)h->head_len);
    c->_in_cb = 0;
    if (c->_cancelled || (!eos && body == NULL)) {
        conn_release(c, SL_UPCLIENT_CLOSE_CANCELLED);
        return;
    }
    h2o_buffer_consume(&c->sock->input, h->head_len);
    if (eos) {
        if (c->sock->input->size != 0)
            c->_keepalive = 0; /* bytes after an answer without body */
        end_exchange(c);
        return;
    }
    c->_cb.body = body;
    c->_state = SL_UPCLIENT_S_BODY;
    c->sock->bytes_read = c->sock->input->size; /* body bytes that came with the head count as just read */
    read_body(c, NULL);
}

static void read_head(sl_upclient_t *c, const char *err)
{
    h2o_header_t headers[SL_UPCLIENT_MAX_HEADERS];
    h2o_iovec_t names[SL_UPCLIENT_MAX_HEADERS];
    if (err != NULL) {
        fail_head(c, c->got_bytes || c->sock->input->size != 0 ? sl_upclient_error_head : sl_upclient_error_no_response);
        return;
    }
    for (;;) {
        h2o_buffer_t *in = c->sock->input;
        sl_upclient_head_t h;
        const char *perr = NULL;
        if (in->size == 0)
            return;
        c->got_bytes = 1;
        int r = sl_upclient_parse_head(in->bytes, in->size, c->_head_seen, c->_method_is_head, headers, names, &h, &perr);
        if (r == SL_EAGAIN) {
            c->_head_seen = in->size;
            return;
        }
        if (r != SL_OK) {
            fail_head(c, perr);
            return;
        }
        c->_head_seen = 0;
        if (h.status >= 200) {
            deliver_head(c, &h, headers);
            return;
        }
        h2o_buffer_consume(&c->sock->input, h.head_len); /* 100, 103, ...: skipped */
    }
}

/* An idle connection that becomes readable is closed: the upstream closed it, or wrote what no request asked. */
static void read_idle(sl_upclient_t *c, const char *err)
{
    if (err == NULL && c->sock->input->size == 0)
        return;
    conn_release(c, SL_UPCLIENT_CLOSE_IDLE_UPSTREAM);
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    sl_upclient_t *c = sock->data;
    switch (c->_state) {
    case SL_UPCLIENT_S_HEAD:
        read_head(c, err);
        break;
    case SL_UPCLIENT_S_BODY:
        read_body(c, err);
        break;
    case SL_UPCLIENT_S_IDLE:
        read_idle(c, err);
        break;
    default:
        break;
    }
}

static void on_written(h2o_socket_t *sock, const char *err)
{
    sl_upclient_t *c = sock->data;
    c->_writing = 0;
    if (c->_state == SL_UPCLIENT_S_IDLE) {
        /* the answer ended before this report (see end_exchange) */
        if (err != NULL)
            conn_release(c, SL_UPCLIENT_CLOSE_ERROR);
        else
            make_available(c);
        return;
    }
    if (err == NULL)
        return;
    c->_keepalive = 0;
    if (c->_state == SL_UPCLIENT_S_HEAD)
        fail_head(c, c->got_bytes ? sl_upclient_error_head : sl_upclient_error_send);
    /* in the body, the upstream answered before it read the whole request: reading goes on, the connection
     * closes at the end */
}

/* The connection is ready: asks the user for the request and writes it in one write. */
static void start_exchange(sl_upclient_t *c, sl_upclient_connect_cb cb)
{
    h2o_iovec_t *bufs = NULL;
    size_t cnt = 0;
    int is_head = 0;
    c->_state = SL_UPCLIENT_S_HEAD;
    c->got_bytes = 0;
    c->_head_seen = 0;
    c->_keepalive = 0;
    c->_in_cb = 1;
    sl_upclient_head_cb head = cb(c, NULL, &bufs, &cnt, &is_head);
    c->_in_cb = 0;
    if (head == NULL || c->_cancelled) {
        conn_release(c, SL_UPCLIENT_CLOSE_CANCELLED);
        return;
    }
    c->_cb.head = head;
    c->_method_is_head = is_head != 0;
    c->_writing = 1;
    h2o_socket_write(c->sock, bufs, cnt, on_written);
    if (!h2o_socket_is_reading(c->sock))
        h2o_socket_read_start(c->sock, on_read); /* a new connection; an idle one reads already */
}

static void on_connected(h2o_socket_t *sock, const char *err)
{
    sl_upclient_t *c = sock->data;
    if (err != NULL) {
        fail_connect(c, sl_upclient_error_connect);
        return;
    }
    start_exchange(c, c->_cb.connect);
}

static void on_deferred_failure(h2o_timeout_entry_t *entry)
{
    sl_upclient_t *c = H2O_STRUCT_FROM_MEMBER(sl_upclient_t, _timer, entry);
    fail_connect(c, c->_deferred_err);
}

void sl_upclient_connect(sl_upclient_t **slot, void *data, sl_upclient_pool_t *pool, int fresh, sl_upclient_connect_cb cb)
{
    sl_upclient_ctx_t *ctx = pool->ctx;
    sl_upclient_t *c;
    if (!fresh && pool->num_idle != 0) {
        c = H2O_STRUCT_FROM_MEMBER(sl_upclient_t, _idle_link, pool->idle.next);
        h2o_linklist_unlink(&c->_idle_link);
        set_num_idle(pool, pool->num_idle - 1);
        h2o_timeout_unlink(&c->_timer);
        COUNT(pool->stats->reuses, 1);
        c->data = data;
        c->reused = 1;
        *slot = c;
        start_exchange(c, cb);
        return;
    }

    c = conn_alloc(ctx);
    c->_pool = pool;
    c->data = data;
    c->_cb.connect = cb;
    c->_state = SL_UPCLIENT_S_CONNECTING;
    *slot = c;
    COUNT(pool->stats->connects, 1);
    const char *err = NULL;
    int fd = socket(pool->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        err = sl_upclient_error_socket;
    } else {
        int on = 1;
        if (pool->addr.ss_family != AF_UNIX)
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
        /* set before connect(2): the window the upstream may fill is then bounded from the first byte */
        if (ctx->rcvbuf != 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &ctx->rcvbuf, sizeof(ctx->rcvbuf));
        if (connect(fd, (struct sockaddr *)&pool->addr, pool->addrlen) != 0 && errno != EINPROGRESS) {
            close(fd);
            err = sl_upclient_error_connect;
        }
    }
    if (err != NULL) {
        /* reported from the loop: the user's connect call returns before any callback */
        c->_deferred_err = err;
        c->_timer.cb = on_deferred_failure;
        h2o_timeout_link(ctx->loop, ctx->zero_timeout, &c->_timer);
        return;
    }
    c->sock = h2o_evloop_socket_create(ctx->loop, fd, H2O_SOCKET_FLAG_IS_CONNECTING);
    c->sock->data = c;
    h2o_socket_notify_write(c->sock, on_connected);
}

void sl_upclient_cancel(sl_upclient_t *c)
{
    if (c->_in_cb) {
        c->_cancelled = 1;
        return;
    }
    conn_release(c, SL_UPCLIENT_CLOSE_CANCELLED);
}

void sl_upclient_pause(sl_upclient_t *c)
{
    if (c->_paused || c->_state != SL_UPCLIENT_S_BODY)
        return;
    c->_paused = 1;
    h2o_socket_read_stop(c->sock);
}

void sl_upclient_resume(sl_upclient_t *c)
{
    if (!c->_paused)
        return;
    c->_paused = 0;
    h2o_socket_read_start(c->sock, on_read);
}
