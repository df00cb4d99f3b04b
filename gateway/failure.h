/*
 * failure.h - the one place where an upstream failure becomes an HTTP status, and where the gateway's own error
 * answers are formatted in the route protocol's shape.
 *
 *   kind                 status  why
 *   connect_refused      502     nothing listens / the endpoint is unreachable
 *   connect_timeout      504     no TCP connection within timeouts.connect
 *   first_byte_timeout   504     request sent, no response head within timeouts.first_byte
 *   idle_timeout         504     the answer stalled longer than timeouts.idle (stream_idle for streams)
 *   total_timeout        504     the exchange took longer than timeouts.total
 *   reset                502     the connection broke before the answer was complete
 *   upstream_5xx         502     the model server answered 5xx
 *   malformed            502     the answer is not valid HTTP/1.1 (or too large to hold back)
 *   client_abort         499     the client went away (logged only: nobody is left to read it)
 *   overloaded           503     every endpoint at max_concurrency and the queue full or timed out (Retry-After)
 *   no_endpoint          503     every endpoint ejected or unhealthy
 *   gateway_resources    503     the gateway could not open a socket to the endpoint: out of file descriptors or
 *                                memory (Retry-After; not held against the endpoint)
 *
 * Bodies are written by the route protocol's adapter (backends/adapter.h format_error): openai
 * {"error":{"message":M,"type":T,"param":null,"code":C}} (OpenAI's own shape); kserve_v2 {"error":M} (the v2
 * protocol's); http {"error":{"message":M,"code":C}}. Any thread, no allocation.
 */
#ifndef SL_GATEWAY_FAILURE_H
#define SL_GATEWAY_FAILURE_H

#include <stddef.h>

#include "conf/conf-t.h"

/* The status a failure kind maps to (the table above); 500 for SL_FAILURE_NONE or an unknown kind. */
int sl_gw_failure_status(enum en_sl_failure_t failure);

/* The stable snake_case name of a kind ("connect_refused", ...), used as the error code, in metrics labels and in
 * the access log; "none" for SL_FAILURE_NONE. Never NULL. */
const char *sl_gw_failure_code(enum en_sl_failure_t failure);

/* The human message of a kind (static English text). */
const char *sl_gw_failure_message(enum en_sl_failure_t failure);

/* The error type of a status in the openai shape: "invalid_request_error" for 4xx but 429, "timeout_error" for
 * 504, "overloaded_error" for 503 and 429 (the gateway answers 429 only when it sheds), "upstream_error" for other
 * 5xx. */
const char *sl_gw_error_type(int status);

/* Writes the JSON error body for protocol into buf (NUL-terminated). message and code are escaped as needed.
 * Returns the length, or the length it would have had when it does not fit bufsz (then buf holds a truncated,
 * NUL-terminated prefix: callers size buf from SL_GW_ERROR_BODY_MAX). */
size_t sl_gw_error_body(enum en_sl_protocol_t protocol, int status, const char *code, const char *message, char *buf,
                        size_t bufsz);

#define SL_GW_ERROR_BODY_MAX 1024 /* enough for any message the gateway writes (messages are capped at 256 bytes) */

#endif
