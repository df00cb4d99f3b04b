/*
 * h2_limit.h - the data plane's accept, which makes an HTTP/2 request body over server.max_body reach the handler
 * (and get the same 413 JSON answer as HTTP/1) instead of h2o's RST_STREAM.
 *
 * h2o 2.2.5 checks an HTTP/2 body against max_request_entity_size in its DATA frame handler (lib/http2/
 * connection.c, handle_data_frame) and answers a body that outgrows it with RST_STREAM(REFUSED_STREAM), before any
 * handler or filter of ours runs; REFUSED_STREAM tells clients the request was never processed and may be retried
 * (curl re-sends the whole body, five times). So the gateway accepts connections itself: HTTP/1 goes to h2o as
 * before, and an HTTP/2 connection (cleartext prior knowledge, or TLS with ALPN h2) gets a reader of its own in
 * front of h2o's, installed before h2o reads any frame. That reader ends a body at the DATA frame that takes it past
 * the limit (so the handler runs, sees the body is too large and answers 413), discards what the client still sends
 * on that stream, and after the answer tells the client to stop with RST_STREAM(NO_ERROR) (RFC 9113 §8.1). Details
 * in h2_limit.c. Worker thread.
 */
#ifndef SL_GATEWAY_H2_LIMIT_H
#define SL_GATEWAY_H2_LIMIT_H

#include <h2o.h>

/* The max_request_entity_size to give h2o for a body limit of max_body bytes: max_body plus one HTTP/2 frame, so
 * that h2o never refuses a stream the reader ended at the frame that passed max_body. HTTP/1 bodies between the
 * two are read and answered 413 by the handler, those beyond by h2o (rewritten to JSON by respond.c's filter). */
size_t sl_gw_h2_limit_entity_size(size_t max_body);

/* Accepts sock like h2o_accept() (an sl_server_t.on_accept): TLS handshake when ctx->ssl_ctx is set, then HTTP/2
 * when ALPN chose h2; in cleartext, HTTP/2 when the first bytes are the prior-knowledge preface. HTTP/1 connections
 * are h2o's from their first request on. h2c upgrades (deprecated by RFC 9113) need http1.upgrade_to_http2 = 0. */
void sl_gw_h2_limit_accept(h2o_accept_ctx_t *ctx, h2o_socket_t *sock);

#endif
