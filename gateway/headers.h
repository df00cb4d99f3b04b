/*
 * headers.h - header rules of the proxy, as pure functions over bytes (unit-tested without a server).
 *
 * Hop-by-hop fields (RFC 9110 §7.6.1) apply to one connection only and are never forwarded, in either direction:
 * Connection, Proxy-Connection, Keep-Alive, TE, Transfer-Encoding, Upgrade, plus every field named in a Connection
 * header. Proxy-Authorization / Proxy-Authenticate (meant for this proxy, RFC 9110 §11.7) and HTTP2-Settings are
 * dropped as well. Framing and identity fields (Host, Content-Length, Expect, X-Request-Id, X-Forwarded-*) are
 * rebuilt by the proxy itself, not copied.
 *
 * Request ids: a client's x-request-id is kept when it is 1..SL_GW_REQUEST_ID_MAX bytes of visible ASCII other
 * than '"' and '\' (so it can be echoed in headers and JSON logs as is); otherwise a fresh 128-bit id is generated
 * (32 lower-case hex digits). Any thread.
 */
#ifndef SL_GATEWAY_HEADERS_H
#define SL_GATEWAY_HEADERS_H

#include <stddef.h>
#include <stdint.h>

/* 1 when the lower-case field name is hop-by-hop by itself (the fixed list above), else 0. */
int sl_gw_header_is_hop_by_hop(const char *name, size_t len);

/* 1 when the lower-case name appears as a token of the Connection field value (comma-separated, optional
 * whitespace, compared case-insensitively), else 0. */
int sl_gw_header_connection_lists(const char *conn, size_t conn_len, const char *name, size_t name_len);

/* 1 when the Connection field value names some field that is not hop-by-hop by itself (a token other than
 * keep-alive, te, upgrade, ...: compared case-insensitively), else 0. A value that names none ("keep-alive", the
 * usual one) cannot remove any field the fixed list keeps, so the proxy does not look up each field in it. */
int sl_gw_header_connection_names_more(const char *conn, size_t conn_len);

/* 1 when value is acceptable as an x-request-id (see above), else 0. */
int sl_gw_request_id_valid(const char *value, size_t len);

/* Writes 32 lower-case hex digits of (hi, lo) to out (no NUL). */
void sl_gw_request_id_format(uint64_t hi, uint64_t lo, char out[32]);

/* Writes the IPv4 address at addr (4 bytes, network order) in dotted-decimal form, as inet_ntop() writes it but
 * without its sprintf per byte (x-forwarded-for is written for every request), NUL-terminated, to out; returns
 * the bytes before the NUL (7 to 15). */
size_t sl_gw_ipv4_format(const void *addr, char out[16]);

#endif
