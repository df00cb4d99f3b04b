/*
 * failure.c - see failure.h. Keep the switch and the table in failure.h in step.
 */
#include "gateway/failure.h"
#include "common/json_scan.h"

#include <stdio.h>
#include <string.h>

int sl_gw_failure_status(enum en_sl_failure_t failure)
{
    switch (failure) {
    case SL_FAILURE_CONNECT_REFUSED:
    case SL_FAILURE_RESET:
    case SL_FAILURE_UPSTREAM_5XX:
    case SL_FAILURE_MALFORMED:
        return 502;
    case SL_FAILURE_CONNECT_TIMEOUT:
    case SL_FAILURE_FIRST_BYTE_TIMEOUT:
    case SL_FAILURE_IDLE_TIMEOUT:
    case SL_FAILURE_TOTAL_TIMEOUT:
        return 504;
    case SL_FAILURE_OVERLOADED:
    case SL_FAILURE_NO_ENDPOINT:
        return 503;
    case SL_FAILURE_CLIENT_ABORT:
        return 499;
    case SL_FAILURE_NONE:
    case SL_FAILURE_COUNT:
        break;
    }
    return 500;
}

const char *sl_gw_failure_code(enum en_sl_failure_t failure)
{
    static const char *const codes[SL_FAILURE_COUNT] = {
        [SL_FAILURE_NONE] = "none",
        [SL_FAILURE_CONNECT_REFUSED] = "connect_refused",
        [SL_FAILURE_CONNECT_TIMEOUT] = "connect_timeout",
        [SL_FAILURE_FIRST_BYTE_TIMEOUT] = "first_byte_timeout",
        [SL_FAILURE_IDLE_TIMEOUT] = "idle_timeout",
        [SL_FAILURE_TOTAL_TIMEOUT] = "total_timeout",
        [SL_FAILURE_RESET] = "reset",
        [SL_FAILURE_UPSTREAM_5XX] = "upstream_5xx",
        [SL_FAILURE_MALFORMED] = "malformed",
        [SL_FAILURE_CLIENT_ABORT] = "client_abort",
        [SL_FAILURE_OVERLOADED] = "overloaded",
        [SL_FAILURE_NO_ENDPOINT] = "no_endpoint",
    };
    return (unsigned)failure < SL_FAILURE_COUNT ? codes[failure] : "none";
}

const char *sl_gw_failure_message(enum en_sl_failure_t failure)
{
    switch (failure) {
    case SL_FAILURE_CONNECT_REFUSED:
        return "the model server refused the connection";
    case SL_FAILURE_CONNECT_TIMEOUT:
        return "timed out connecting to the model server";
    case SL_FAILURE_FIRST_BYTE_TIMEOUT:
        return "the model server did not start answering in time";
    case SL_FAILURE_IDLE_TIMEOUT:
        return "the model server stopped sending its answer";
    case SL_FAILURE_TOTAL_TIMEOUT:
        return "the model server took too long to answer";
    case SL_FAILURE_RESET:
        return "the connection to the model server broke";
    case SL_FAILURE_UPSTREAM_5XX:
        return "the model server failed to answer";
    case SL_FAILURE_MALFORMED:
        return "the model server sent an invalid response";
    case SL_FAILURE_CLIENT_ABORT:
        return "the client closed the request";
    case SL_FAILURE_OVERLOADED:
        return "every model server is busy; retry later";
    case SL_FAILURE_NO_ENDPOINT:
        return "no model server is available";
    case SL_FAILURE_NONE:
    case SL_FAILURE_COUNT:
        break;
    }
    return "internal error";
}

const char *sl_gw_error_type(int status)
{
    if (status >= 400 && status < 500)
        return "invalid_request_error";
    if (status == 504)
        return "timeout_error";
    if (status == 503)
        return "overloaded_error";
    return "upstream_error";
}

size_t sl_gw_error_body(enum en_sl_protocol_t protocol, int status, const char *code, const char *message, char *buf,
                        size_t bufsz)
{
    char msg[256 * 6 + 1], cd[64 * 6 + 1];
    size_t mlen = strlen(message), clen = strlen(code);
    if (mlen > 256)
        mlen = 256;
    if (clen > 64)
        clen = 64;
    msg[sl_json_escape(message, mlen, msg)] = '\0';
    cd[sl_json_escape(code, clen, cd)] = '\0';
    int n;
    if (protocol == SL_PROTOCOL_KSERVE_V2)
        n = snprintf(buf, bufsz, "{\"error\":\"%s\"}", msg);
    else
        n = snprintf(buf, bufsz, "{\"error\":{\"message\":\"%s\",\"type\":\"%s\",\"code\":\"%s\"}}", msg,
                     sl_gw_error_type(status), cd);
    return n < 0 ? 0 : (size_t)n;
}
