/*
 * json_scan_read.c - reading scanned values: strings (unescaped, compared, measured), numbers, booleans. See
 * json_scan.h.
 *
 * Strings are decoded one escape at a time with runs of plain bytes copied or counted in bulk, so reading never
 * needs a buffer of its own. Numbers are converted by strtod on a bounded stack copy (SL_JSON_MAX_NUMBER_LEN) and an
 * overflow to infinity is reported, never returned.
 */
#include "common/json_scan_internal.h"
#include "common/status.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Decodes one unit of string content at p (not the closing quote) into up to 4 UTF-8 bytes. Returns the byte after
 * it, or NULL on an invalid escape. Raw bytes are passed through one at a time. */
static const char *decode_unit(const char *p, const char *end, unsigned char out[4], size_t *n)
{
    if (*p != '\\') {
        if ((unsigned char)*p < 0x20)
            return NULL;
        out[0] = (unsigned char)*p;
        *n = 1;
        return p + 1;
    }
    if (end - p < 2)
        return NULL;
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *e = p[1] != '\0' ? strchr(from, p[1]) : NULL;
    if (e != NULL && p[1] != 'u') {
        out[0] = (unsigned char)to[e - from];
        *n = 1;
        return p + 2;
    }
    if (p[1] != 'u')
        return NULL;
    unsigned long cp;
    if ((p = sl_json__decode_u(p + 1, end, &cp)) == NULL)
        return NULL;
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        *n = 1;
    } else if (cp < 0x800) {
        out[0] = (unsigned char)(0xc0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3f));
        *n = 2;
    } else if (cp < 0x10000) {
        out[0] = (unsigned char)(0xe0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (unsigned char)(0x80 | (cp & 0x3f));
        *n = 3;
    } else {
        out[0] = (unsigned char)(0xf0 | (cp >> 18));
        out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        out[3] = (unsigned char)(0x80 | (cp & 0x3f));
        *n = 4;
    }
    return p;
}

size_t sl_json_string_len(const sl_json_span_t *v)
{
    if (v->type != SL_JSON_STRING || v->len < 2)
        return 0;
    const char *p = v->p + 1, *end = v->p + v->len - 1;
    size_t total = 0;
    if (v->plain)
        return (size_t)(end - p);
    while (p != end) {
        /* runs without escapes count as they are (the scanner already checked them) */
        const char *esc = memchr(p, '\\', (size_t)(end - p));
        if (esc == NULL)
            return total + (size_t)(end - p);
        total += (size_t)(esc - p);
        unsigned char u[4];
        size_t n;
        if ((p = decode_unit(esc, end, u, &n)) == NULL)
            return 0;
        total += n;
    }
    return total;
}

int sl_json_get_string(const sl_json_span_t *v, char *buf, size_t bufsz, size_t *out_len)
{
    if (v->type != SL_JSON_STRING || v->len < 2)
        return SL_EINVAL;
    const char *p = v->p + 1, *end = v->p + v->len - 1;
    /* decoding never lengthens the text, so a buffer larger than the raw body always fits */
    if ((size_t)(end - p) >= bufsz) {
        size_t need = sl_json_string_len(v);
        if (need == 0 && end != p)
            return SL_EINVAL;
        if (need >= bufsz)
            return SL_ENOMEM;
    }
    size_t w = 0;
    while (p != end) {
        const char *esc = memchr(p, '\\', (size_t)(end - p));
        size_t run = (size_t)((esc != NULL ? esc : end) - p);
        memcpy(buf + w, p, run);
        w += run;
        if ((p += run) == end)
            break;
        unsigned char u[4];
        size_t n;
        if ((p = decode_unit(p, end, u, &n)) == NULL)
            return SL_EINVAL; /* only for a span that did not come from the scanner */
        memcpy(buf + w, u, n);
        w += n;
    }
    buf[w] = '\0';
    if (out_len != NULL)
        *out_len = w;
    return SL_OK;
}

int sl_json_string_eq(const sl_json_span_t *v, const char *s, size_t n)
{
    if (v->type != SL_JSON_STRING || v->len < 2)
        return 0;
    const char *p = v->p + 1, *end = v->p + v->len - 1;
    /* fast path: without an escape the raw text is the string (a key compared against several names is mostly
     * told apart by its length here, without decoding it) */
    if (v->plain || memchr(p, '\\', (size_t)(end - p)) == NULL)
        return (size_t)(end - p) == n && memcmp(p, s, n) == 0;
    size_t i = 0;
    while (p != end) {
        unsigned char u[4];
        size_t k;
        if ((p = decode_unit(p, end, u, &k)) == NULL || n - i < k || memcmp(s + i, u, k) != 0)
            return 0;
        i += k;
    }
    return i == n;
}

int sl_json_string_index(const sl_json_span_t *v, const sl_json_piece_t *names, size_t num_names)
{
    if (v->type != SL_JSON_STRING || v->len < 2)
        return -1;
    const char *body = v->p + 1;
    size_t len = v->len - 2;
    /* raw text equal to a name (which has no backslash) is that name, unescaped */
    for (size_t i = 0; i != num_names; ++i)
        if (names[i].len == len && memcmp(names[i].base, body, len) == 0)
            return (int)i;
    if (v->plain || memchr(body, '\\', len) == NULL)
        return -1;
    for (size_t i = 0; i != num_names; ++i)
        if (sl_json_string_eq(v, names[i].base, names[i].len))
            return (int)i;
    return -1;
}

int sl_json_is_string_body(const char *s, size_t n)
{
    const char *p = s, *end = s + n;
    while (p != end) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c < 0x20)
            return 0;
        if (c == '\\') {
            unsigned char u[4];
            size_t k;
            if ((p = decode_unit(p, end, u, &k)) == NULL)
                return 0;
        } else if (c >= 0x80) {
            size_t k = sl_json__utf8_len((const unsigned char *)p, (const unsigned char *)end);
            if (k == 0)
                return 0;
            p += k;
        } else
            ++p;
    }
    return 1;
}

int sl_json_get_double(const sl_json_span_t *v, double *out)
{
    if (v->type != SL_JSON_NUMBER || v->len == 0 || sl_json__scan_number(v->p, v->p + v->len) != v->p + v->len)
        return SL_EINVAL;
    if (v->len > SL_JSON_MAX_NUMBER_LEN)
        return SL_ERANGE;
    char buf[SL_JSON_MAX_NUMBER_LEN + 1];
    memcpy(buf, v->p, v->len);
    buf[v->len] = '\0';
    double d = strtod(buf, NULL); /* errno is not consulted: underflow is reported as ERANGE too, but is fine */
    if (isinf(d))
        return SL_ERANGE;
    *out = d;
    return SL_OK;
}

int sl_json_get_uint64(const sl_json_span_t *v, uint64_t *out)
{
    if (v->type != SL_JSON_NUMBER || v->len == 0)
        return SL_EINVAL;
    if (v->p[0] == '0' && v->len > 1)
        return SL_EINVAL;
    for (size_t i = 0; i != v->len; ++i)
        if (v->p[i] < '0' || v->p[i] > '9')
            return SL_EINVAL;
    uint64_t x = 0;
    for (size_t i = 0; i != v->len; ++i) {
        unsigned d = (unsigned)(v->p[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return SL_ERANGE;
        x = x * 10 + d;
    }
    *out = x;
    return SL_OK;
}

int sl_json_get_bool(const sl_json_span_t *v, int *out)
{
    if (v->type == SL_JSON_TRUE)
        *out = 1;
    else if (v->type == SL_JSON_FALSE)
        *out = 0;
    else
        return SL_EINVAL;
    return SL_OK;
}
