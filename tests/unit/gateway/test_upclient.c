/* Unit tests of gateway/upclient.c on a real event loop against a scripted upstream (a thread per connection on
 * 127.0.0.1): the exact bytes sent, keep-alive reuse without a new connection, idle connections closed by the
 * upstream noticed and dropped, the idle cap and timeout, the stale-connection report, 1xx, HEAD, framing errors,
 * backpressure, and cancels at every point (the ASan build checks that nothing runs after them). */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "gateway/upclient.h"

/* ---- the scripted upstream --------------------------------------------------------------------------------- */

/* Answers request number idx of connection conn (0-based); returns 0 to read the next request, -1 to close. */
typedef int (*script_fn)(int fd, int conn, int idx, const char *req, size_t len);

static struct {
    int lfd;
    struct sockaddr_in addr;
    script_fn script;
    _Atomic int accepts, closes_seen, requests;
    char last_request[8192];
    _Atomic size_t last_request_len;
} up;

static void send_all(int fd, const char *s, size_t n)
{
    while (n != 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static void send_str(int fd, const char *s)
{
    send_all(fd, s, strlen(s));
}

static void pause_ms(int ms)
{
    usleep((useconds_t)ms * 1000);
}

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg, conn = atomic_fetch_add(&up.accepts, 1);
    char buf[65536];
    size_t have = 0;
    for (int idx = 0;; ++idx) {
        char *end;
        while ((end = memmem(buf, have, "\r\n\r\n", 4)) == NULL) {
            ssize_t r = recv(fd, buf + have, sizeof(buf) - have, 0);
            if (r <= 0) {
                atomic_fetch_add(&up.closes_seen, 1);
                close(fd);
                return NULL;
            }
            have += (size_t)r;
        }
        size_t head = (size_t)(end - buf) + 4, body = 0;
        char *cl = memmem(buf, head, "content-length: ", 16);
        if (cl != NULL)
            body = strtoul(cl + 16, NULL, 10);
        while (have < head + body) {
            ssize_t r = recv(fd, buf + have, sizeof(buf) - have, 0);
            if (r <= 0)
                break;
            have += (size_t)r;
        }
        size_t n = head + body < sizeof(up.last_request) ? head + body : sizeof(up.last_request);
        memcpy(up.last_request, buf, n);
        atomic_store(&up.last_request_len, n);
        atomic_fetch_add(&up.requests, 1);
        if (up.script(fd, conn, idx, buf, head + body) != 0)
            break;
        memmove(buf, buf + head + body, have - head - body);
        have -= head + body;
    }
    close(fd);
    return NULL;
}

static void *accept_loop(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = accept(up.lfd, NULL, NULL);
        if (fd == -1)
            return NULL;
        pthread_t t;
        pthread_create(&t, NULL, serve, (void *)(intptr_t)fd);
        pthread_detach(t);
    }
}

static void up_start(script_fn script)
{
    memset(&up, 0, sizeof(up));
    up.script = script;
    up.lfd = socket(AF_INET, SOCK_STREAM, 0);
    up.addr.sin_family = AF_INET;
    up.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(up.lfd, (struct sockaddr *)&up.addr, sizeof(up.addr)), 0);
    socklen_t l = sizeof(up.addr);
    getsockname(up.lfd, (struct sockaddr *)&up.addr, &l);
    cr_assert_eq(listen(up.lfd, 64), 0);
    pthread_t t;
    pthread_create(&t, NULL, accept_loop, NULL);
    pthread_detach(t);
}

/* ---- the client side --------------------------------------------------------------------------------------- */

static h2o_evloop_t *loop;
static h2o_timeout_t zero_timeout, idle_timeout;
static sl_upclient_ctx_t ctx;
static sl_upclient_pool_t pool;

typedef struct {
    sl_upclient_t *c;
    h2o_iovec_t req[2];
    int is_head;
    int in_connect, connect_was_sync;
    const char *connect_err, *head_err, *body_err;
    int status, heads, bodies, done, reused;
    char body[1 << 21];
    size_t body_len;
    int cancel_in; /* 1: cancel inside on_head, 2: inside the first on_body */
    int pause_first;
    int keep_in_buffer; /* on_body leaves the bytes: the test takes them between callbacks */
    int calls_after_end;
} ex_t;

static void setup(size_t max_idle, uint32_t idle_ms)
{
    loop = h2o_evloop_create();
    h2o_timeout_init(loop, &zero_timeout, 0);
    h2o_timeout_init(loop, &idle_timeout, idle_ms);
    sl_upclient_ctx_init(&ctx, loop, &zero_timeout, &idle_timeout, 64 * 1024);
    sl_upclient_pool_init(&pool, &ctx, (struct sockaddr *)&up.addr, sizeof(up.addr), max_idle);
}

static int run_until(int (*cond)(void *), void *arg, int timeout_ms)
{
    uint64_t deadline = sl_clock_now_us() + (uint64_t)timeout_ms * 1000;
    while (!cond(arg)) {
        if (sl_clock_now_us() > deadline)
            return 0;
        h2o_evloop_run(loop, 10);
    }
    return 1;
}

static int is_done(void *arg)
{
    return ((ex_t *)arg)->done;
}

static int on_body(sl_upclient_t *c, const char *errstr)
{
    ex_t *e = c->data;
    if (e->done)
        ++e->calls_after_end;
    ++e->bodies;
    h2o_buffer_t **in = &c->sock->input;
    if (!e->keep_in_buffer || errstr != NULL) {
        memcpy(e->body + e->body_len, (*in)->bytes, (*in)->size);
        e->body_len += (*in)->size;
        h2o_buffer_consume(in, (*in)->size);
    }
    if (errstr != NULL) {
        e->body_err = errstr;
        e->done = 1;
        e->c = NULL;
        return 0;
    }
    if (e->cancel_in == 2) {
        sl_upclient_cancel(c);
        e->c = NULL;
        e->done = 1;
        return 0;
    }
    if (e->pause_first && e->bodies == 1) {
        sl_upclient_pause(c);
        e->done = 1; /* the test resumes it */
    }
    return 0;
}

static sl_upclient_body_cb on_head(sl_upclient_t *c, const char *errstr, int minor_version, int status, h2o_iovec_t msg,
                                   h2o_header_t *headers, size_t num_headers, int rlen)
{
    ex_t *e = c->data;
    if (e->done)
        ++e->calls_after_end;
    ++e->heads;
    e->head_err = errstr;
    e->status = status;
    if (errstr != NULL) {
        e->done = 1;
        e->c = NULL;
        return NULL;
    }
    if (e->cancel_in == 1) {
        sl_upclient_cancel(c);
        e->c = NULL;
        e->done = 1;
        return on_body;
    }
    return on_body;
}

static sl_upclient_head_cb on_connect(sl_upclient_t *c, const char *errstr, h2o_iovec_t **reqbufs, size_t *reqbufcnt,
                                      int *method_is_head)
{
    ex_t *e = c->data;
    e->connect_was_sync = e->in_connect;
    e->reused = c->reused;
    if (errstr != NULL) {
        e->connect_err = errstr;
        e->done = 1;
        e->c = NULL;
        return NULL;
    }
    *reqbufs = e->req;
    *reqbufcnt = 2;
    *method_is_head = e->is_head;
    return on_head;
}

static ex_t *ex_new(const char *method)
{
    ex_t *e = calloc(1, sizeof(*e));
    static char head[128];
    int n = snprintf(head, sizeof(head), "%s /x HTTP/1.1\r\nhost: up\r\ncontent-length: 5\r\n\r\n", method);
    e->req[0] = h2o_iovec_init(head, (size_t)n);
    e->req[1] = h2o_iovec_init("hello", 5);
    e->is_head = strcmp(method, "HEAD") == 0;
    return e;
}

static void ex_start(ex_t *e, int fresh)
{
    e->in_connect = 1;
    sl_upclient_connect(&e->c, e, &pool, fresh, on_connect);
    e->in_connect = 0;
}

/* One exchange to the end; returns it (the caller frees it). */
static ex_t *exchange(const char *method, int fresh)
{
    ex_t *e = ex_new(method);
    ex_start(e, fresh);
    cr_assert(run_until(is_done, e, 3000), "exchange did not end");
    return e;
}

static int idle_is(void *arg)
{
    return pool.num_idle == (size_t)(intptr_t)arg;
}

/* ---- scripts ----------------------------------------------------------------------------------------------- */

static int answer_hello(int fd, int conn, int idx, const char *req, size_t len)
{
    char out[128];
    snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\ncontent-length: 7\r\nx-conn: %d\r\n\r\nhello %d", conn, idx % 10);
    send_str(fd, out);
    return 0;
}

static int answer_then_close_later(int fd, int conn, int idx, const char *req, size_t len)
{
    send_str(fd, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    pause_ms(100);
    return -1; /* the upstream's own keep-alive timeout, shorter than ours */
}

static int stale_second(int fd, int conn, int idx, const char *req, size_t len)
{
    if (conn == 0 && idx == 1)
        return -1; /* reads the request, closes without a word */
    send_str(fd, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    return 0;
}

static int chunked_in_pieces(int fd, int conn, int idx, const char *req, size_t len)
{
    send_str(fd, "HTTP/1.1 100 Continue\r\n\r\n");
    pause_ms(5);
    send_str(fd, "HTTP/1.1 103 Early Hints\r\nlink: </s>\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Enc");
    pause_ms(5);
    send_str(fd, "oding: chunked\r\n\r\n5\r\nhel");
    pause_ms(5);
    send_str(fd, "lo\r\n6\r\n world\r");
    pause_ms(5);
    send_str(fd, "\n0\r\ntrailer: x\r\n\r\n");
    return 0;
}

static int head_and_204(int fd, int conn, int idx, const char *req, size_t len)
{
    if (strncmp(req, "HEAD", 4) == 0)
        send_str(fd, "HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n");
    else
        send_str(fd, "HTTP/1.1 204 No Content\r\n\r\n");
    return 0;
}

static int until_close(int fd, int conn, int idx, const char *req, size_t len)
{
    send_str(fd, "HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\nall of ");
    pause_ms(5);
    send_str(fd, "it");
    return -1;
}

static int garbage(int fd, int conn, int idx, const char *req, size_t len)
{
    send_str(fd, "HTTP/1.1 200 OK\r\nbroken header line\r\n\r\n");
    return 0;
}

static int trailing_bytes(int fd, int conn, int idx, const char *req, size_t len)
{
    send_str(fd, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokEXTRA");
    return 0;
}

static int truncated_chunked(int fd, int conn, int idx, const char *req, size_t len)
{
    send_str(fd, "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n");
    pause_ms(20);
    return -1;
}

static int close_with_partial_head(int fd, int conn, int idx, const char *req, size_t len)
{
    if (idx == 0) {
        send_str(fd, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
        return 0;
    }
    send_str(fd, "HTTP/1.1 200 O");
    return -1;
}

static int big_body(int fd, int conn, int idx, const char *req, size_t len)
{
    static char chunk[65536];
    memset(chunk, 'b', sizeof(chunk));
    send_str(fd, "HTTP/1.1 200 OK\r\ncontent-length: 1048576\r\n\r\n");
    for (int i = 0; i != 16; ++i)
        send_all(fd, chunk, sizeof(chunk));
    return 0;
}

static int two_pieces(int fd, int conn, int idx, const char *req, size_t len)
{
    send_str(fd, "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nfirst");
    pause_ms(20);
    send_str(fd, "later");
    return 0;
}

static int chunked_slowly(int fd, int conn, int idx, const char *req, size_t len)
{
    char piece[600];
    send_str(fd, "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n");
    for (int k = 0; k != 20; ++k) {
        int n = snprintf(piece, sizeof(piece), "1f4\r\n");
        memset(piece + n, 'a' + k, 500);
        memcpy(piece + n + 500, "\r\n", 2);
        send_all(fd, piece, (size_t)n + 502);
        pause_ms(3);
    }
    send_str(fd, "0\r\n\r\n");
    return 0;
}

static int slow_answer(int fd, int conn, int idx, const char *req, size_t len)
{
    pause_ms(50);
    send_str(fd, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    return 0;
}

/* ---- tests ------------------------------------------------------------------------------------------------- */

Test(upclient, exact_request_bytes_and_keepalive_reuse)
{
    up_start(answer_hello);
    setup(4, 2000);
    ex_t *e = exchange("POST", 0);
    cr_assert_null(e->connect_err);
    cr_assert_eq(e->connect_was_sync, 0); /* a new connection answers from the loop */
    cr_assert_eq(e->reused, 0);
    cr_assert_eq(e->head_err, NULL);
    cr_assert_eq(e->status, 200);
    cr_assert_eq(e->body_err, sl_upclient_error_is_eos);
    cr_assert_eq(e->body_len, 7);
    cr_assert(memcmp(e->body, "hello 0", 7) == 0);
    const char *want = "POST /x HTTP/1.1\r\nhost: up\r\ncontent-length: 5\r\n\r\nhello";
    cr_assert_eq(atomic_load(&up.last_request_len), strlen(want));
    cr_assert(memcmp(up.last_request, want, strlen(want)) == 0);
    cr_assert_eq(pool.num_idle, 1);
    free(e);
    for (int i = 1; i != 4; ++i) {
        e = exchange("POST", 0);
        cr_assert_eq(e->connect_was_sync, 1); /* an idle connection: on_connect inside sl_upclient_connect */
        cr_assert_eq(e->reused, 1);
        cr_assert_eq(e->body_err, sl_upclient_error_is_eos);
        cr_assert(memcmp(e->body, "hello ", 6) == 0 && e->body[6] == '0' + i);
        free(e);
    }
    cr_assert_eq(atomic_load(&up.accepts), 1);
    cr_assert_eq(pool.stats->connects, 1);
    cr_assert_eq(pool.stats->reuses, 3);
    cr_assert_eq(pool.stats->idle, 1);
    for (int k = 0; k != SL_UPCLIENT_CLOSE_COUNT; ++k)
        cr_assert_eq(pool.stats->closed[k], 0);
    /* fresh: a new connection even with one idle; both are kept afterwards */
    e = exchange("POST", 1);
    cr_assert_eq(e->reused, 0);
    cr_assert_eq(atomic_load(&up.accepts), 2);
    cr_assert_eq(pool.num_idle, 2);
    free(e);
}

Test(upclient, upstream_closing_an_idle_connection_is_noticed)
{
    up_start(answer_then_close_later);
    setup(4, 2000);
    ex_t *e = exchange("GET", 0);
    cr_assert_eq(e->body_err, sl_upclient_error_is_eos);
    cr_assert_eq(pool.num_idle, 1);
    free(e);
    /* the upstream closes it after 100 ms: dropped from the pool without any request on it */
    cr_assert(run_until(idle_is, (void *)0, 2000));
    cr_assert_eq(pool.stats->closed[SL_UPCLIENT_CLOSE_IDLE_UPSTREAM], 1);
    cr_assert_eq(pool.stats->idle, 0);
    e = exchange("GET", 0);
    cr_assert_eq(e->reused, 0);
    cr_assert_eq(e->body_err, sl_upclient_error_is_eos);
    cr_assert_eq(atomic_load(&up.accepts), 2);
    cr_assert_eq(atomic_load(&up.requests), 2);
    free(e);
}

Test(upclient, stale_connection_fails_before_any_response_byte)
{
    up_start(stale_second);
    setup(4, 2000);
    free(exchange("POST", 0));
    ex_t *e = exchange("POST", 0);
    cr_assert_eq(e->reused, 1);
    cr_assert_eq(e->head_err, sl_upclient_error_no_response);
    free(e);
    cr_assert_eq(pool.num_idle, 0);
    e = exchange("POST", 0); /* a fresh connection works */
    cr_assert_eq(e->body_err, sl_upclient_error_is_eos);
    free(e);
}

Test(upclient, partial_head_then_close_is_not_a_stale_connection)
{
    up_start(close_with_partial_head);
    setup(4, 2000);
    free(exchange("GET", 0));
    ex_t *e = exchange("GET", 0);
    cr_assert_eq(e->reused, 1);
    cr_assert_eq(e->head_err, sl_upclient_error_head);
    free(e);
}

Test(upclient, informational_heads_skipped_and_chunked_body_across_reads)
{
    up_start(chunked_in_pieces);
    setup(4, 2000);
    ex_t *e = exchange("GET", 0);
    cr_assert_eq(e->heads, 1);
    cr_assert_eq(e->status, 200);
    cr_assert_eq(e->body_err, sl_upclient_error_is_eos);
    cr_assert_eq(e->body_len, 11);
    cr_assert(memcmp(e->body, "hello world", 11) == 0);
    cr_assert_eq(pool.num_idle, 1);
    free(e);
}

Test(upclient, head_and_204_end_at_the_head_and_are_pooled)
{
    up_start(head_and_204);
    setup(4, 2000);
    ex_t *e = exchange("HEAD", 0);
    cr_assert_eq(e->head_err, sl_upclient_error_is_eos);
    cr_assert_eq(e->status, 200);
    cr_assert_eq(e->bodies, 0);
    free(e);
    e = exchange("GET", 0);
    cr_assert_eq(e->reused, 1);
    cr_assert_eq(e->head_err, sl_upclient_error_is_eos);
    cr_assert_eq(e->status, 204);
    free(e);
    cr_assert_eq(pool.num_idle, 1);
    cr_assert_eq(atomic_load(&up.accepts), 1);
}

Test(upclient, body_until_close_is_not_pooled)
{
    up_start(until_close);
    setup(4, 2000);
    ex_t *e = exchange("GET", 0);
    cr_assert_eq(e->body_err, sl_upclient_error_is_eos);
    cr_assert_eq(e->body_len, 9);
    cr_assert(memcmp(e->body, "all of it", 9) == 0);
    cr_assert_eq(pool.num_idle, 0);
    cr_assert_eq(pool.stats->closed[SL_UPCLIENT_CLOSE_NOT_REUSABLE], 1);
    free(e);
}

Test(upclient, malformed_head)
{
    up_start(garbage);
    setup(4, 2000);
    ex_t *e = exchange("GET", 0);
    cr_assert_eq(e->head_err, sl_upclient_error_malformed);
    cr_assert_eq(pool.num_idle, 0);
    cr_assert_eq(pool.stats->closed[SL_UPCLIENT_CLOSE_ERROR], 1);
    cr_assert_eq(pool.stats->closed[SL_UPCLIENT_CLOSE_NOT_REUSABLE], 0);
    free(e);
}

Test(upclient, bytes_after_the_response_forbid_reuse)
{
    up_start(trailing_bytes);
    setup(4, 2000);
    ex_t *e = exchange("GET", 0);
    cr_assert_eq(e->body_err, sl_upclient_error_is_eos);
    cr_assert_eq(e->body_len, 2);
    cr_assert_eq(pool.num_idle, 0); /* bytes past the response: the connection is not trusted */
    free(e);
}

Test(upclient, chunked_stream_cut_short_is_an_error)
{
    up_start(truncated_chunked);
    setup(4, 2000);
    ex_t *e = exchange("GET", 0);
    cr_assert_eq(e->body_err, sl_upclient_error_body);
    cr_assert_eq(e->body_len, 5);
    free(e);
}

Test(upclient, connect_failure_is_reported_from_the_loop)
{
    up_start(answer_hello);
    setup(4, 2000);
    /* a port nobody listens on: bound, never listening */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(sin);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    getsockname(fd, (struct sockaddr *)&sin, &l);
    sl_upclient_pool_init(&pool, &ctx, (struct sockaddr *)&sin, sizeof(sin), 4);
    ex_t *e = exchange("GET", 0);
    cr_assert_eq(e->connect_err, sl_upclient_error_connect);
    cr_assert_eq(e->connect_was_sync, 0);
    free(e);
    close(fd);
}

static int both_done(void *arg)
{
    ex_t **e = arg;
    return e[0]->done && e[1]->done;
}

Test(upclient, idle_connections_are_capped_and_expire)
{
    up_start(answer_hello);
    setup(1, 100);
    ex_t *e[2] = {ex_new("GET"), ex_new("GET")};
    ex_start(e[0], 0);
    ex_start(e[1], 0); /* no idle connection yet: a second one */
    cr_assert(run_until(both_done, e, 3000));
    cr_assert_eq(atomic_load(&up.accepts), 2);
    cr_assert_eq(pool.num_idle, 1);
    cr_assert_eq(pool.stats->closed[SL_UPCLIENT_CLOSE_IDLE_OVER_CAP], 1);
    cr_assert_eq(pool.stats->idle, 1);
    cr_assert(run_until(idle_is, (void *)0, 2000));
    cr_assert_eq(pool.stats->closed[SL_UPCLIENT_CLOSE_IDLE_EXPIRED], 1);
    cr_assert_eq(pool.stats->idle, 0);
    cr_assert_eq(pool.stats->connects, 2);
    free(e[0]);
    free(e[1]);
    /* the upstream sees both closed */
    uint64_t deadline = sl_clock_now_us() + 2000000;
    while (atomic_load(&up.closes_seen) != 2 && sl_clock_now_us() < deadline)
        pause_ms(5);
    cr_assert_eq(atomic_load(&up.closes_seen), 2);
}

Test(upclient, cancel_inside_callbacks_and_from_outside)
{
    up_start(answer_hello);
    setup(4, 2000);
    ex_t *e = ex_new("GET");
    e->cancel_in = 1;
    ex_start(e, 0);
    cr_assert(run_until(is_done, e, 3000));
    cr_assert_eq(pool.num_idle, 0);
    free(e);

    up.script = two_pieces;
    e = ex_new("GET");
    e->cancel_in = 2;
    ex_start(e, 0);
    cr_assert(run_until(is_done, e, 3000));
    cr_assert_eq(pool.num_idle, 0);
    free(e);

    /* from outside: while connecting, then while waiting for the head; nothing calls back afterwards */
    up.script = slow_answer;
    e = ex_new("GET");
    ex_start(e, 0);
    sl_upclient_cancel(e->c);
    for (int i = 0; i != 10; ++i)
        h2o_evloop_run(loop, 10);
    cr_assert_eq(e->heads + e->bodies + e->done, 0);
    free(e);
    e = ex_new("GET");
    int before = atomic_load(&up.requests);
    ex_start(e, 0);
    while (atomic_load(&up.requests) == before)
        h2o_evloop_run(loop, 5);
    sl_upclient_cancel(e->c);
    for (int i = 0; i != 10; ++i)
        h2o_evloop_run(loop, 10);
    cr_assert_eq(e->heads + e->bodies + e->done, 0);
    cr_assert_eq(pool.num_idle, 0);
    cr_assert_eq(pool.stats->closed[SL_UPCLIENT_CLOSE_CANCELLED], 4);
    cr_assert_eq(pool.stats->connects, 4);
    free(e);
}

static int pool_has_one(void *arg)
{
    (void)arg;
    return pool.num_idle == 1;
}

Test(upclient, pause_stops_reading_until_resumed)
{
    up_start(big_body);
    setup(4, 2000);
    ex_t *e = ex_new("GET");
    e->pause_first = 1;
    ex_start(e, 0);
    cr_assert(run_until(is_done, e, 3000));
    size_t got = e->body_len;
    cr_assert_lt(got, 1048576);
    for (int i = 0; i != 10; ++i)
        h2o_evloop_run(loop, 10);
    cr_assert_eq(e->body_len, got); /* nothing read while paused */
    e->done = 0;
    sl_upclient_resume(e->c);
    cr_assert(run_until(is_done, e, 3000));
    cr_assert_eq(e->body_err, sl_upclient_error_is_eos);
    cr_assert_eq(e->body_len, 1048576);
    cr_assert(run_until(pool_has_one, NULL, 1000));
    free(e);
}

/* The user takes the body between callbacks (as the proxy's double buffer does when the client drains it): by
 * consuming it, or by swapping the socket's buffer for an empty one. */
Test(upclient, body_taken_outside_callbacks)
{
    up_start(chunked_slowly);
    setup(4, 2000);
    ex_t *e = ex_new("GET");
    e->keep_in_buffer = 1;
    ex_start(e, 0);
    uint64_t deadline = sl_clock_now_us() + 3000000;
    for (int k = 0; !e->done && sl_clock_now_us() < deadline; ++k) {
        h2o_evloop_run(loop, 10);
        if (e->done || e->c == NULL || e->c->sock->input->size == 0)
            continue;
        h2o_buffer_t **in = &e->c->sock->input;
        memcpy(e->body + e->body_len, (*in)->bytes, (*in)->size);
        e->body_len += (*in)->size;
        if (k % 2 == 0) {
            h2o_buffer_consume(in, (*in)->size);
        } else {
            h2o_buffer_t *taken = *in;
            h2o_buffer_init(in, &h2o_socket_buffer_prototype);
            h2o_buffer_dispose(&taken);
        }
    }
    cr_assert_eq(e->body_err, sl_upclient_error_is_eos);
    cr_assert_eq(e->body_len, 10000);
    for (size_t i = 0; i != 10000; ++i)
        cr_assert_eq(e->body[i], 'a' + (char)(i / 500), "byte %zu", i);
    cr_assert_eq(pool.num_idle, 1);
    free(e);
}
