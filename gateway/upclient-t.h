/*
 * upclient-t.h - types of the upstream HTTP/1.1 client (gateway/upclient.h): per-worker context, per-endpoint
 * pools of idle keep-alive connections, one connection, and the response parser's state (upclient_parse.c).
 *
 * Threads: every object here belongs to the one thread whose event loop it was created on.
 */
#ifndef SL_GATEWAY_UPCLIENT_T_H
#define SL_GATEWAY_UPCLIENT_T_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <h2o.h>

#define SL_UPCLIENT_MAX_HEADERS 100      /* response header fields; more -> malformed */
#define SL_UPCLIENT_HEAD_MAX (64 * 1024) /* bytes of a response head (1xx heads count each on their own) */
#define SL_UPCLIENT_MAX_IDLE 128         /* idle keep-alive connections kept per endpoint per worker */
#define SL_UPCLIENT_FREE_MAX 256         /* connection objects kept for reuse per worker */

/*
 * picohttpparser, bundled in and exported by libh2o-evloop 2.2.5 (phr_parse_response, phr_decode_chunked); its
 * header is not installed, so the two declarations the client needs are repeated here, as in the library's
 * deps/picohttpparser/picohttpparser.h of that version.
 */
struct phr_header {
    const char *name; /* NULL for a continuation line (obsolete folding) */
    size_t name_len;
    const char *value;
    size_t value_len;
};

struct phr_chunked_decoder {
    size_t bytes_left_in_chunk;
    char consume_trailer;
    char _hex_count;
    char _state;
};

/* How the body of a response ends (RFC 9112 §6.3). */
enum en_sl_upclient_framing_t {
    SL_UPCLIENT_NO_BODY = 0, /* HEAD, 1xx, 204, 304 */
    SL_UPCLIENT_LENGTH,      /* content-length bytes */
    SL_UPCLIENT_CHUNKED,     /* transfer-encoding: chunked */
    SL_UPCLIENT_UNTIL_CLOSE, /* neither: the upstream closing ends it (the connection is not reused) */
};

/* A parsed response head. Headers and reason point into the parsed bytes. */
typedef struct st_sl_upclient_head_t {
    size_t head_len; /* bytes of the head, blank line included */
    int minor_version;
    int status;
    h2o_iovec_t reason;
    size_t num_headers;
    enum en_sl_upclient_framing_t framing;
    size_t content_length; /* LENGTH */
    int keepalive;         /* the connection may carry another request once this response ended */
} sl_upclient_head_t;

/* The body decoder of one response. */
typedef struct st_sl_upclient_body_t {
    enum en_sl_upclient_framing_t framing;
    size_t left; /* LENGTH: bytes still to come */
    struct phr_chunked_decoder chunked;
} sl_upclient_body_t;

typedef struct st_sl_upclient_t sl_upclient_t;

/* The callbacks of one exchange, shaped like h2o_http1client's (see upclient.h for when each runs). */
typedef int (*sl_upclient_body_cb)(sl_upclient_t *c, const char *errstr);
typedef sl_upclient_body_cb (*sl_upclient_head_cb)(sl_upclient_t *c, const char *errstr, int minor_version, int status,
                                                   h2o_iovec_t msg, h2o_header_t *headers, size_t num_headers, int rlen);
typedef sl_upclient_head_cb (*sl_upclient_connect_cb)(sl_upclient_t *c, const char *errstr, h2o_iovec_t **reqbufs,
                                                      size_t *reqbufcnt, int *method_is_head);

/* Why a connection was closed (the counters of sl_upclient_stats_t.closed). */
enum en_sl_upclient_close_t {
    SL_UPCLIENT_CLOSE_NOT_REUSABLE = 0, /* its answer ended without keep-alive (or the pool keeps no idle ones) */
    SL_UPCLIENT_CLOSE_ERROR,            /* connect, I/O or protocol error during an exchange */
    SL_UPCLIENT_CLOSE_CANCELLED,        /* the user ended the exchange early (sl_upclient_cancel, NULL, -1) */
    SL_UPCLIENT_CLOSE_IDLE_UPSTREAM,    /* idle, the upstream closed it (or wrote what no request asked) */
    SL_UPCLIENT_CLOSE_IDLE_EXPIRED,     /* idle longer than the idle timeout */
    SL_UPCLIENT_CLOSE_IDLE_OVER_CAP,    /* idle beyond the pool's cap (the coldest goes) */
    SL_UPCLIENT_CLOSE_COUNT
};

/* Counters of one pool. Single writer (the pool's thread), with relaxed atomic stores: another thread may read
 * them with relaxed loads (the gateway points pool->stats into its per-worker metric shard). */
typedef struct st_sl_upclient_stats_t {
    uint64_t connects;                        /* new connections started */
    uint64_t reuses;                          /* exchanges on an idle keep-alive connection */
    uint64_t idle;                            /* a gauge: idle connections in the pool now */
    uint64_t closed[SL_UPCLIENT_CLOSE_COUNT]; /* connections closed, by reason (not those closed at dispose) */
} sl_upclient_stats_t;

/* One thread's client: its loop, timers and recycled connection objects. */
typedef struct st_sl_upclient_ctx_t {
    h2o_loop_t *loop;
    h2o_timeout_t *zero_timeout; /* borrowed: deferred callbacks (an immediate connect failure) */
    h2o_timeout_t *idle_timeout; /* borrowed: an idle connection closes when its entry fires */
    int rcvbuf;                  /* SO_RCVBUF of new connections; 0 = the kernel's default */
    sl_upclient_t *_free; /* recycled connection objects, linked by _next_free */
    size_t _num_free;
} sl_upclient_ctx_t;

/* The connections of one thread to one endpoint address. */
typedef struct st_sl_upclient_pool_t {
    sl_upclient_ctx_t *ctx;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    size_t max_idle;     /* idle connections kept; 0 = none (every connection closes after its exchange) */
    h2o_linklist_t idle; /* sl_upclient_t._idle_link, most recently used first */
    size_t num_idle;
    sl_upclient_stats_t *stats; /* &own_stats after init; the owner may point it elsewhere between two events */
    sl_upclient_stats_t own_stats;
} sl_upclient_pool_t;

enum en_sl_upclient_state_t {
    SL_UPCLIENT_S_FREE = 0,
    SL_UPCLIENT_S_CONNECTING,
    SL_UPCLIENT_S_HEAD,
    SL_UPCLIENT_S_BODY,
    SL_UPCLIENT_S_IDLE,
};

/* One connection. The user sees it for one exchange: from connect until the callback that ends the exchange
 * returns, or until sl_upclient_cancel. */
struct st_sl_upclient_t {
    void *data;             /* the user's pointer given to sl_upclient_connect */
    h2o_socket_t *sock;     /* the connection's socket: body bytes are in sock->input (read-only otherwise) */
    unsigned reused : 1;    /* this exchange runs on an idle keep-alive connection */
    unsigned got_bytes : 1; /* some byte of a response arrived in this exchange */
    /* private */
    sl_upclient_pool_t *_pool;
    union {
        sl_upclient_connect_cb connect;
        sl_upclient_head_cb head;
        sl_upclient_body_cb body;
    } _cb;
    h2o_timeout_entry_t _timer; /* the idle timeout, or a deferred connect failure */
    h2o_linklist_t _idle_link;  /* in _pool->idle while idle */
    sl_upclient_body_t _body;
    const char *_deferred_err;
    size_t _head_seen; /* bytes of an incomplete head already scanned (picohttpparser's last_len) */
    uint8_t _state;    /* en_sl_upclient_state_t */
    unsigned _method_is_head : 1;
    unsigned _keepalive : 1;
    unsigned _writing : 1;
    unsigned _in_cb : 1;
    unsigned _cancelled : 1;
    unsigned _paused : 1;
    sl_upclient_t *_next_free;
};

#endif
