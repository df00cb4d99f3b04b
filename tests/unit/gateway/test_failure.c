#include <criterion/criterion.h>
#include <string.h>

#include "gateway/failure.h"

Test(failure, every_kind_maps_to_its_status)
{
    static const struct {
        enum en_sl_failure_t kind;
        int status;
        const char *code;
    } table[] = {
        {SL_FAILURE_CONNECT_REFUSED, 502, "connect_refused"},
        {SL_FAILURE_CONNECT_TIMEOUT, 504, "connect_timeout"},
        {SL_FAILURE_FIRST_BYTE_TIMEOUT, 504, "first_byte_timeout"},
        {SL_FAILURE_IDLE_TIMEOUT, 504, "idle_timeout"},
        {SL_FAILURE_TOTAL_TIMEOUT, 504, "total_timeout"},
        {SL_FAILURE_RESET, 502, "reset"},
        {SL_FAILURE_UPSTREAM_5XX, 502, "upstream_5xx"},
        {SL_FAILURE_MALFORMED, 502, "malformed"},
        {SL_FAILURE_CLIENT_ABORT, 499, "client_abort"},
        {SL_FAILURE_OVERLOADED, 503, "overloaded"},
        {SL_FAILURE_NO_ENDPOINT, 503, "no_endpoint"},
        {SL_FAILURE_GATEWAY_RESOURCES, 503, "gateway_resources"},
        {SL_FAILURE_NONE, 500, "none"},
    };
    cr_assert_eq(sizeof(table) / sizeof(table[0]), SL_FAILURE_COUNT);
    for (size_t i = 0; i != sizeof(table) / sizeof(table[0]); ++i) {
        cr_assert_eq(sl_gw_failure_status(table[i].kind), table[i].status, "kind %d", (int)table[i].kind);
        cr_assert_str_eq(sl_gw_failure_code(table[i].kind), table[i].code);
        cr_assert_neq(strlen(sl_gw_failure_message(table[i].kind)), 0);
    }
    cr_assert_eq(sl_gw_failure_status(SL_FAILURE_COUNT), 500);
    cr_assert_str_eq(sl_gw_failure_code(SL_FAILURE_COUNT), "none");
}

Test(failure, openai_error_body)
{
    char buf[SL_GW_ERROR_BODY_MAX];
    size_t n = sl_gw_error_body(SL_PROTOCOL_OPENAI, 504, "first_byte_timeout",
                                "the model server did not start answering in time", buf, sizeof(buf));
    const char *want = "{\"error\":{\"message\":\"the model server did not start answering in time\","
                       "\"type\":\"timeout_error\",\"param\":null,\"code\":\"first_byte_timeout\"}}";
    cr_assert_str_eq(buf, want);
    cr_assert_eq(n, strlen(want));
    sl_gw_error_body(SL_PROTOCOL_OPENAI, 413, "body_too_large", "say \"hi\"\n", buf, sizeof(buf));
    cr_assert_str_eq(buf, "{\"error\":{\"message\":\"say \\\"hi\\\"\\n\",\"type\":\"invalid_request_error\","
                          "\"param\":null,\"code\":\"body_too_large\"}}");
    sl_gw_error_body(SL_PROTOCOL_OPENAI, 503, "overloaded", "busy", buf, sizeof(buf));
    cr_assert_str_eq(buf, "{\"error\":{\"message\":\"busy\",\"type\":\"overloaded_error\",\"param\":null,"
                          "\"code\":\"overloaded\"}}");
    sl_gw_error_body(SL_PROTOCOL_OPENAI, 502, "reset", "x", buf, sizeof(buf));
    cr_assert_str_eq(buf, "{\"error\":{\"message\":\"x\",\"type\":\"upstream_error\",\"param\":null,"
                          "\"code\":\"reset\"}}");
}

Test(failure, http_error_body)
{
    char buf[SL_GW_ERROR_BODY_MAX];
    sl_gw_error_body(SL_PROTOCOL_HTTP, 503, "overloaded", "busy", buf, sizeof(buf));
    cr_assert_str_eq(buf, "{\"error\":{\"message\":\"busy\",\"code\":\"overloaded\"}}");
}

Test(failure, kserve_error_body)
{
    char buf[SL_GW_ERROR_BODY_MAX];
    sl_gw_error_body(SL_PROTOCOL_KSERVE_V2, 502, "connect_refused", "refused", buf, sizeof(buf));
    cr_assert_str_eq(buf, "{\"error\":\"refused\"}");
}

Test(failure, long_messages_are_capped)
{
    char msg[1000], buf[SL_GW_ERROR_BODY_MAX];
    memset(msg, 'm', sizeof(msg) - 1);
    msg[sizeof(msg) - 1] = '\0';
    size_t n = sl_gw_error_body(SL_PROTOCOL_OPENAI, 502, "reset", msg, buf, sizeof(buf));
    cr_assert_lt(n, sizeof(buf));
    cr_assert_eq(strlen(buf), n);
    cr_assert_eq(strstr(buf, "\",\"type\"") - strstr(buf, "mmm"), 256);
    /* a buffer too small: the length it would need, a truncated NUL-terminated prefix */
    char small[16];
    size_t need = sl_gw_error_body(SL_PROTOCOL_KSERVE_V2, 502, "reset", "refused", small, sizeof(small));
    cr_assert_eq(need, strlen("{\"error\":\"refused\"}"));
    cr_assert_str_eq(small, "{\"error\":\"refus");
}
