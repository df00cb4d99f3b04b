/*
 * failure.c - see failure.h. Keep the switch and the table in failure.h in step.
 */
#include "gateway/failure.h"
#include "backends/adapter.h"

#include <stdio.h>
#include <stdlib.h>
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
    case SL_FAILURE_GATEWAY_RESOURCES:
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
        [SL_FAILURE_GATEWAY_RESOURCES] = "gateway_resources",
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
    case SL_FAILURE_GATEWAY_RESOURCES:
        return "the gateway is out of file descriptors or memory; retry later";
    case SL_FAILURE_NONE:
    case SL_FAILURE_COUNT:
        break;
    }
    return "internal error";
}

const char *sl_gw_error_type(int status)
{
    if (status == 503 || status == 429)
        return "overloaded_error"; /* the gateway's own 429 is a shed (overload), not a client's error */
    if (status >= 400 && status < 500)
        return "invalid_request_error";
    if (status == 504)
        return "timeout_error";
    return "upstream_error";
}

/* A bump allocator over a fixed buffer for the adapter's formatter (messages are capped, so it always fits). */
typedef struct st_error_arena_t {
    _Alignas(16) char mem[4096];
    size_t used;
} error_arena_t;

static void *arena_alloc(void *ctx, size_t n)
{
    error_arena_t *a = ctx;
    size_t at = (a->used + 15) & ~(size_t)15;
    if (at + n > sizeof(a->mem))
        abort(); /* unreachable: message 256 bytes, code 64, type 32 escape to well under 4 KiB */
    a->used = at + n;
    return a->mem + at;
}

size_t sl_gw_error_body(enum en_sl_protocol_t protocol, int status, const char *code, const char *message, char *buf,
                        size_t bufsz)
{
    char msg[257], cd[65];
    snprintf(msg, sizeof(msg), "%s", message);
    snprintf(cd, sizeof(cd), "%s", code);
    error_arena_t arena;
    arena.used = 0;
    sl_adapter_alloc_t alloc = {arena_alloc, &arena};
    sl_adapter_error_t err = {status, sl_gw_error_type(status), cd, msg};
    sl_adapter_body_t body;
    const sl_adapter_t *a = sl_adapter_get(protocol);
    if (a == NULL)
        a = &sl_adapter_openai;
    a->format_error(&err, &alloc, &body);
    size_t len = 0;
    for (size_t i = 0; i != body.num_pieces; ++i) {
        size_t n = body.pieces[i].len;
        if (bufsz != 0 && len < bufsz - 1)
            memcpy(buf + len, body.pieces[i].base, n < bufsz - 1 - len ? n : bufsz - 1 - len);
        len += n;
    }
    if (bufsz != 0)
        buf[len < bufsz - 1 ? len : bufsz - 1] = '\0';
    return len;
}
