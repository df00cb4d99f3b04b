#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>

#include "gateway/headers.h"

static int hop(const char *n)
{
    return sl_gw_header_is_hop_by_hop(n, strlen(n));
}

Test(headers, fixed_hop_by_hop_list)
{
    const char *yes[] = {"connection",          "keep-alive",         "proxy-connection", "te", "transfer-encoding", "upgrade",
                         "proxy-authorization", "proxy-authenticate", "http2-settings"};
    const char *no[] = {"content-type", "authorization",  "trailer-x", "t",           "tee", "upgrade-insecure-requests",
                        "x-request-id", "content-length", "connectio", "keep-alive2", ""};
    for (size_t i = 0; i != sizeof(yes) / sizeof(yes[0]); ++i)
        cr_assert_eq(hop(yes[i]), 1, "%s", yes[i]);
    for (size_t i = 0; i != sizeof(no) / sizeof(no[0]); ++i)
        cr_assert_eq(hop(no[i]), 0, "%s", no[i]);
}

static int listed(const char *conn, const char *name)
{
    return sl_gw_header_connection_lists(conn, strlen(conn), name, strlen(name));
}

Test(headers, names_listed_in_connection)
{
    cr_assert_eq(listed("close", "close"), 1);
    cr_assert_eq(listed("keep-alive, X-Secret-Hop", "x-secret-hop"), 1);
    cr_assert_eq(listed("X-A,X-B", "x-b"), 1);
    cr_assert_eq(listed("  x-a ,\tx-b  ", "x-a"), 1);
    cr_assert_eq(listed("x-ab", "x-a"), 0);
    cr_assert_eq(listed("x-a", "x-ab"), 0);
    cr_assert_eq(listed("", "x-a"), 0);
    cr_assert_eq(listed(",,,", "x-a"), 0);
    cr_assert_eq(listed("upgrade", "x-upgrade"), 0);
}

static int rid(const char *s)
{
    return sl_gw_request_id_valid(s, strlen(s));
}

Test(headers, request_id_validation)
{
    char longest[129], too_long[130];
    memset(longest, 'a', 128);
    longest[128] = '\0';
    memset(too_long, 'a', 129);
    too_long[129] = '\0';
    cr_assert_eq(rid("0f8e2b8c-3c3a-4c1e-9d9a-1c2b3d4e5f60"), 1);
    cr_assert_eq(rid("abc_DEF.123:xyz/+="), 1);
    cr_assert_eq(rid(longest), 1);
    cr_assert_eq(rid(too_long), 0);
    cr_assert_eq(rid(""), 0);
    cr_assert_eq(rid("has space"), 0);
    cr_assert_eq(rid("quote\"d"), 0);
    cr_assert_eq(rid("back\\slash"), 0);
    cr_assert_eq(rid("tab\there"), 0);
    cr_assert_eq(rid("nl\n"), 0);
    cr_assert_eq(sl_gw_request_id_valid("caf\xc3\xa9", 5), 0); /* non-ASCII */
}

Test(headers, request_id_format)
{
    char out[33];
    sl_gw_request_id_format(0x0123456789abcdefull, 0xfedcba9876543210ull, out);
    out[32] = '\0';
    cr_assert_str_eq(out, "0123456789abcdeffedcba9876543210");
    sl_gw_request_id_format(0, 1, out);
    cr_assert_str_eq(out, "00000000000000000000000000000001");
}

/* dotted-decimal IPv4, checked against inet_ntop on the edge bytes and on random addresses */
Test(headers, ipv4_format_as_inet_ntop)
{
    static const unsigned char edges[][4] = {{0, 0, 0, 0}, {127, 0, 0, 1}, {255, 255, 255, 255}, {9, 10, 99, 100},
                                             {100, 199, 200, 249}, {250, 1, 20, 205}};
    uint32_t x = 2463534242u;
    for (size_t i = 0; i != 10000 + sizeof(edges) / sizeof(edges[0]); ++i) {
        unsigned char a[4];
        if (i < sizeof(edges) / sizeof(edges[0])) {
            memcpy(a, edges[i], 4);
        } else {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            memcpy(a, &x, 4);
        }
        char want[INET_ADDRSTRLEN], got[16];
        cr_assert_not_null(inet_ntop(AF_INET, a, want, sizeof(want)));
        size_t n = sl_gw_ipv4_format(a, got);
        cr_assert_str_eq(got, want);
        cr_assert_eq(n, strlen(want));
    }
}

static int more(const char *v)
{
    return sl_gw_header_connection_names_more(v, strlen(v));
}

Test(headers, connection_values_that_name_more_fields)
{
    cr_assert_eq(more("keep-alive"), 0);
    cr_assert_eq(more("Keep-Alive"), 0);
    cr_assert_eq(more(" keep-alive , TE,upgrade,, "), 0);
    cr_assert_eq(more(""), 0);
    cr_assert_eq(more("close"), 1); /* a field named "close" would go */
    cr_assert_eq(more("keep-alive, x-secret"), 1);
    cr_assert_eq(more("X-Secret"), 1);
    cr_assert_eq(more("proxy-authorization"), 0);
    cr_assert_eq(more("proxy-authorizationx"), 1); /* 20 bytes: longer than any fixed name */
    cr_assert_eq(more("a-name-much-longer-than-any-hop-by-hop-field"), 1);
}
