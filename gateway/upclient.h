/*
 * upclient.h - the gateway's HTTP/1.1 client to upstreams, with per-thread pools of idle keep-alive connections
 * that stay registered in the event loop (types: upclient-t.h; design: upclient.c).
 *
 * One exchange, as with h2o_http1client:
 *   sl_upclient_connect(&c, data, pool, fresh, on_connect)
 *   on_connect(c, NULL, &reqbufs, &reqbufcnt, &method_is_head) -> on_head   the request is written in one write
 *   on_head(c, NULL | eos, minor, status, reason, headers, n, rlen) -> on_body
 *   on_body(c, NULL) ... on_body(c, eos)                                     body bytes in c->sock->input
 * or a callback with an error string (then the exchange is over). Rules:
 *   - a callback that receives a non-NULL errstr ends the exchange: the client is released (pooled or closed)
 *     when it returns; so is it after on_head with eos (no body: HEAD, 204, 304) and after on_body with eos. The
 *     user forgets its pointer there. Returning NULL from on_connect / on_head or non-zero from on_body also ends
 *     the exchange (the connection is closed);
 *   - on_connect runs synchronously inside sl_upclient_connect when an idle connection is reused, later from
 *     the loop for a new one (c->reused tells which);
 *   - body bytes (de-chunked) accumulate in c->sock->input: the user takes them (h2o_buffer_consume, or swaps
 *     the buffer for another) when it likes, inside a callback or between them; bytes still there when the
 *     exchange ends are dropped;
 *   - sl_upclient_cancel may be called at any time, inside a callback too; no callback runs after it;
 *   - header names are lower case (tokens where h2o has one); names, values and reason point into the socket
 *     buffer and are valid only during on_head.
 * Error strings are the constants below (compare pointers): "I/O error ..." means the connection broke, the
 * others that the upstream broke the protocol. sl_upclient_error_no_response is the one failure after which a
 * request that ran on a reused connection may safely be sent again (nothing of a response arrived).
 *
 * Thread: all of it on the thread that owns the context.
 */
#ifndef SL_GATEWAY_UPCLIENT_H
#define SL_GATEWAY_UPCLIENT_H

#include "gateway/upclient-t.h"

extern const char sl_upclient_error_is_eos[];         /* "end of stream": not an error */
extern const char sl_upclient_error_connect[];        /* connect(2) failed or was refused */
extern const char sl_upclient_error_socket[];         /* no socket could be created */
extern const char sl_upclient_error_no_response[];    /* "I/O error (no response)": closed or reset before any byte */
extern const char sl_upclient_error_send[];           /* "I/O error (send request)" before any byte of a response */
extern const char sl_upclient_error_head[];           /* "I/O error (head)": broke inside the head */
extern const char sl_upclient_error_body[];           /* "I/O error (body)": broke before the body's end */
extern const char sl_upclient_error_malformed[];      /* a head picohttpparser rejects */
extern const char sl_upclient_error_head_too_large[]; /* a head past SL_UPCLIENT_HEAD_MAX */
extern const char sl_upclient_error_too_many_headers[];
extern const char sl_upclient_error_folding[];           /* obsolete line folding in a head */
extern const char sl_upclient_error_content_length[];    /* invalid or conflicting content-length */
extern const char sl_upclient_error_transfer_encoding[]; /* a transfer coding other than chunked */
extern const char sl_upclient_error_upgrade[];           /* 101 Switching Protocols: never asked for */
extern const char sl_upclient_error_chunked[];           /* broken chunked framing */

/* Sets up ctx for the thread of `loop`. zero_timeout and idle_timeout are timeout classes on that loop owned by
 * the caller (the idle one's duration is the keep-alive idle timeout); rcvbuf is SO_RCVBUF for new connections
 * (0 = default). Never fails. */
void sl_upclient_ctx_init(sl_upclient_ctx_t *ctx, h2o_loop_t *loop, h2o_timeout_t *zero_timeout, h2o_timeout_t *idle_timeout,
                          int rcvbuf);

/* Sets up pool for connections of ctx to sa (copied), keeping at most max_idle idle ones. Never fails. */
void sl_upclient_pool_init(sl_upclient_pool_t *pool, sl_upclient_ctx_t *ctx, const struct sockaddr *sa, socklen_t salen,
                           size_t max_idle);

/* Closes every idle connection of pool (connections in use are not affected and close after their exchange
 * when the pool is gone from the caller's view: the caller must not dispose a pool with exchanges running). */
void sl_upclient_pool_dispose(sl_upclient_pool_t *pool);

/* Starts an exchange on pool: on the most recently used idle connection (on_connect runs before this returns),
 * or on a new one when there is none or `fresh` is set. *slot is set before any callback runs; data goes to
 * c->data. Failures are reported through on_connect (never before this returns). */
void sl_upclient_connect(sl_upclient_t **slot, void *data, sl_upclient_pool_t *pool, int fresh, sl_upclient_connect_cb cb);

/* Ends the exchange at once: closes its connection (never pooled) without any further callback. Any time, also
 * from inside one of c's callbacks (the close then happens when that callback returns). */
void sl_upclient_cancel(sl_upclient_t *c);

/* Stops reading the response (backpressure) until sl_upclient_resume. Only while the body is being read. */
void sl_upclient_pause(sl_upclient_t *c);
void sl_upclient_resume(sl_upclient_t *c);

/* upclient_parse.c: the response parser, pure (no sockets) --------------------------------------------------- */

/* Parses the response head at buf[0..len) for a request that was (method_is_head) or was not a HEAD. Header names
 * are lower-cased in place; headers and names are caller arrays of SL_UPCLIENT_MAX_HEADERS entries, filled with
 * pointers into buf. last_len is the length of an earlier incomplete attempt on the same bytes (0 the first time).
 * Returns SL_OK with *out (1xx heads too: the caller skips them), SL_EAGAIN when the head is incomplete, or
 * SL_EPROTO with *err set to one of the error constants above (out untouched). */
int sl_upclient_parse_head(char *buf, size_t len, size_t last_len, int method_is_head, h2o_header_t *headers,
                           h2o_iovec_t *names, sl_upclient_head_t *out, const char **err);

/* Starts decoding the body of head h. */
void sl_upclient_body_init(sl_upclient_body_t *b, const sl_upclient_head_t *h);

/* Decodes *len newly arrived bytes at buf in place. On return *len is the number of body bytes now at buf. Returns
 * 0 when more body is expected, 1 when the body ended (*extra bytes that followed it are left after the body bytes
 * and belong to no response), or SL_EPROTO on broken framing. */
int sl_upclient_body_decode(sl_upclient_body_t *b, char *buf, size_t *len, size_t *extra);

/* Whether the upstream closing the connection now ends the body properly (read-until-close framing). */
int sl_upclient_body_ends_at_close(const sl_upclient_body_t *b);

#endif
