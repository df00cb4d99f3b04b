/*
 * headers.c - see headers.h. Names arrive lower-cased from h2o (requests) and from its HTTP/1 client parser
 * (responses), so the fixed list is compared byte for byte, dispatched on length first.
 */
#include "gateway/headers.h"
#include "gateway/gw-t.h"

#include <string.h>

#define IS(lit) (len == sizeof(lit) - 1 && memcmp(name, lit, sizeof(lit) - 1) == 0)

int sl_gw_header_is_hop_by_hop(const char *name, size_t len)
{
    switch (len) {
    case 2:
        return IS("te");
    case 7:
        return IS("upgrade");
    case 10:
        return IS("connection") || IS("keep-alive");
    case 14:
        return IS("http2-settings");
    case 16:
        return IS("proxy-connection");
    case 17:
        return IS("transfer-encoding");
    case 18:
        return IS("proxy-authenticate");
    case 19:
        return IS("proxy-authorization");
    default:
        return 0;
    }
}

#undef IS

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* The next token of a Connection value at *p (comma-separated, blanks around): its start and length (0 at the end
 * or for an empty element); *p moves past it. */
static const char *next_token(const char **p, const char *end, size_t *len)
{
    const char *q = *p;
    while (q < end && (*q == ' ' || *q == '\t' || *q == ','))
        ++q;
    const char *tok = q;
    while (q < end && *q != ',' && *q != ' ' && *q != '\t')
        ++q;
    *len = (size_t)(q - tok);
    while (q < end && *q != ',')
        ++q;
    *p = q;
    return tok;
}

int sl_gw_header_connection_lists(const char *conn, size_t conn_len, const char *name, size_t name_len)
{
    const char *p = conn, *end = conn + conn_len;
    while (p < end) {
        size_t tlen;
        const char *tok = next_token(&p, end, &tlen);
        if (tlen == name_len && tlen != 0) {
            size_t i = 0;
            while (i != tlen && lower((unsigned char)tok[i]) == (unsigned char)name[i])
                ++i;
            if (i == tlen)
                return 1;
        }
    }
    return 0;
}

int sl_gw_header_connection_names_more(const char *conn, size_t conn_len)
{
    const char *p = conn, *end = conn + conn_len;
    while (p < end) {
        size_t tlen;
        const char *tok = next_token(&p, end, &tlen);
        char name[20];
        if (tlen == 0)
            continue;
        if (tlen > sizeof(name))
            return 1;
        for (size_t i = 0; i != tlen; ++i)
            name[i] = (char)lower((unsigned char)tok[i]);
        if (!sl_gw_header_is_hop_by_hop(name, tlen))
            return 1;
    }
    return 0;
}

int sl_gw_request_id_valid(const char *value, size_t len)
{
    if (len == 0 || len > SL_GW_REQUEST_ID_MAX)
        return 0;
    for (size_t i = 0; i != len; ++i) {
        unsigned char c = (unsigned char)value[i];
        if (c < 0x21 || c > 0x7e || c == '"' || c == '\\')
            return 0;
    }
    return 1;
}

void sl_gw_request_id_format(uint64_t hi, uint64_t lo, char out[32])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i != 16; ++i) {
        out[i] = hex[(hi >> (60 - 4 * i)) & 15];
        out[16 + i] = hex[(lo >> (60 - 4 * i)) & 15];
    }
}

size_t sl_gw_ipv4_format(const void *addr, char out[16])
{
    const unsigned char *b = addr;
    size_t n = 0;
    for (int i = 0; i != 4; ++i) {
        unsigned v = b[i];
        if (v >= 100)
            out[n++] = (char)('0' + v / 100);
        if (v >= 10)
            out[n++] = (char)('0' + v / 10 % 10);
        out[n++] = (char)('0' + v % 10);
        out[n++] = '.';
    }
    out[--n] = '\0';
    return n;
}
