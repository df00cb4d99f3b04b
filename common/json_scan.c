/*
 * json_scan.c - the JSON scanner: validation, iteration and lookup over borrowed bytes. See json_scan.h.
 *
 * One iterative routine, scan_value(), walks a value of any depth with a fixed stack of SL_JSON_MAX_DEPTH closing
 * brackets (64 bytes on the C stack): there is no recursion, so hostile nesting costs neither stack nor time beyond
 * one pass. Every lookup is a loop over scan_value(), so it validates each byte it steps over and stops at the
 * first match; a document that went through sl_json_parse() once can then be queried any number of times.
 * Strings are validated as UTF-8 while scanned; decoding them (escapes to UTF-8) happens only when a caller reads
 * or compares one (json_scan_read.c).
 */
#include "common/json_scan_internal.h"
#include "common/status.h"

#include <string.h>

static inline const char *skip_ws(const char *p, const char *end)
{
    /* one comparison sends every byte above the space (nearly all of them) out of the loop */
    while (p != end && (unsigned char)*p <= ' ' && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        ++p;
    return p;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads 4 hex digits at p (p + 4 <= end checked by the caller); returns the code unit or -1. */
static long hex4(const char *p)
{
    long v = 0;
    for (int i = 0; i != 4; ++i) {
        int d = hex_digit(p[i]);
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Length of the valid UTF-8 sequence starting with the non-ASCII byte at p, or 0 (RFC 3629 table). */
size_t sl_json__utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; ++i)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return n;
}

/* Decodes one \u escape (p at the 'u'), pairing surrogates. Returns the byte after it and the code point in *cp, or
 * NULL when invalid (bad hex, lone or reversed surrogate). */
const char *sl_json__decode_u(const char *p, const char *end, unsigned long *cp)
{
    if (end - p < 5)
        return NULL;
    long u = hex4(p + 1);
    if (u < 0)
        return NULL;
    p += 5;
    if (u >= 0xdc00 && u <= 0xdfff)
        return NULL;
    if (u >= 0xd800 && u <= 0xdbff) {
        if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
            return NULL;
        long lo = hex4(p + 2);
        if (lo < 0xdc00 || lo > 0xdfff)
            return NULL;
        *cp = 0x10000 + (((unsigned long)u - 0xd800) << 10) + ((unsigned long)lo - 0xdc00);
        return p + 6;
    }
    *cp = (unsigned long)u;
    return p;
}

#define ONES 0x0101010101010101ull

/* Scans a string (p at the opening quote); returns the byte after the closing quote or NULL. *escaped is set when
 * the string holds a backslash (and left alone otherwise). */
static inline __attribute__((always_inline)) const char *scan_string(const char *p, const char *end, int *escaped)
{
    ++p;
    for (;;) {
        /* fast path over plain ASCII, 8 bytes at a time: a word is skipped when none of its bytes is a quote, a
         * backslash, a control character or non-ASCII (the SWAR "has zero byte" / "has byte less than" tests) */
        while (end - p >= 8) {
            uint64_t x;
            memcpy(&x, p, 8);
            uint64_t quote = x ^ (ONES * '"'), bslash = x ^ (ONES * '\\');
            uint64_t special = ((quote - ONES) & ~quote) | ((bslash - ONES) & ~bslash) | ((x - ONES * 0x20) & ~x) | x;
            special &= ONES * 0x80;
            if (special != 0) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
                /* the lowest flagged byte is exact in each test (borrows only run upwards): go straight to it */
                p += __builtin_ctzll(special) >> 3;
#endif
                break;
            }
            p += 8;
        }
        while (p != end && (unsigned char)*p >= 0x20 && *p != '"' && *p != '\\' && (unsigned char)*p < 0x80)
            ++p;
        if (p == end)
            return NULL;
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            return p + 1;
        if (c < 0x20)
            return NULL;
        if (c == '\\') {
            *escaped = 1;
            if (end - p < 2)
                return NULL;
            switch (p[1]) {
            case '"':
            case '\\':
            case '/':
            case 'b':
            case 'f':
            case 'n':
            case 'r':
            case 't':
                p += 2;
                break;
            case 'u': {
                unsigned long cp;
                if ((p = sl_json__decode_u(p + 1, end, &cp)) == NULL)
                    return NULL;
                break;
            }
            default:
                return NULL;
            }
            continue;
        }
        size_t n = sl_json__utf8_len((const unsigned char *)p, (const unsigned char *)end);
        if (n == 0)
            return NULL;
        p += n;
    }
}

/* Scans a number (p at '-' or a digit); returns the byte after it or NULL. */
const char *sl_json__scan_number(const char *p, const char *end)
{
    if (*p == '-' && ++p == end)
        return NULL;
    if (*p == '0')
        ++p;
    else if (*p >= '1' && *p <= '9')
        while (p != end && *p >= '0' && *p <= '9')
            ++p;
    else
        return NULL;
    if (p != end && *p == '.') {
        if (++p == end || *p < '0' || *p > '9')
            return NULL;
        while (p != end && *p >= '0' && *p <= '9')
            ++p;
    }
    if (p != end && (*p == 'e' || *p == 'E')) {
        if (++p != end && (*p == '+' || *p == '-'))
            ++p;
        if (p == end || *p < '0' || *p > '9')
            return NULL;
        while (p != end && *p >= '0' && *p <= '9')
            ++p;
    }
    return p;
}

static enum en_sl_json_type_t type_of(char c)
{
    switch (c) {
    case '{':
        return SL_JSON_OBJECT;
    case '[':
        return SL_JSON_ARRAY;
    case '"':
        return SL_JSON_STRING;
    case 't':
        return SL_JSON_TRUE;
    case 'f':
        return SL_JSON_FALSE;
    case 'n':
        return SL_JSON_NULL;
    default:
        return (c == '-' || (c >= '0' && c <= '9')) ? SL_JSON_NUMBER : SL_JSON_INVALID;
    }
}

/* Scans one value starting exactly at p. On success sets *out and returns SL_OK with *next after the value. With a
 * visitor (vis != NULL) every value at depth 1..vis->max_depth is reported as it completes; scan_value() and
 * visit_value() are the two instances of this one routine, so lookups pay nothing for the visitor's bookkeeping. */
static inline __attribute__((always_inline)) int scan_core(const char *p, const char *end, sl_json_span_t *out,
                                                           const char **next, const sl_json_visitor_t *vis)
{
    char stack[SL_JSON_MAX_DEPTH];
    const char *opened[SL_JSON_MAX_DEPTH]; /* visitor only: where each open container starts */
    sl_json_step_t path[SL_JSON_MAX_DEPTH];   /* visitor only: the step into each open container */
    size_t depth = 0;
    const char *start = p, *vstart = p;
    int escaped = 0; /* the last string value scanned held a backslash */

value:
    vstart = p;
    escaped = 0;
    if (p == end)
        return SL_ESYNTAX;
    switch (*p) {
    case '{':
    case '[':
        if (depth == SL_JSON_MAX_DEPTH)
            return SL_ENOMEM;
        if (vis != NULL) {
            opened[depth] = p;
            path[depth].key.type = SL_JSON_INVALID;
            path[depth].index = 0;
        }
        stack[depth++] = *p == '{' ? '}' : ']';
        p = skip_ws(p + 1, end);
        if (p != end && *p == stack[depth - 1]) {
            ++p;
            --depth;
            goto after_value;
        }
        if (stack[depth - 1] == '}')
            goto member;
        goto value;
    case '"':
        if ((p = scan_string(p, end, &escaped)) == NULL)
            return SL_ESYNTAX;
        goto after_value;
    case 't':
        if (end - p < 4 || memcmp(p, "true", 4) != 0)
            return SL_ESYNTAX;
        p += 4;
        goto after_value;
    case 'f':
        if (end - p < 5 || memcmp(p, "false", 5) != 0)
            return SL_ESYNTAX;
        p += 5;
        goto after_value;
    case 'n':
        if (end - p < 4 || memcmp(p, "null", 4) != 0)
            return SL_ESYNTAX;
        p += 4;
        goto after_value;
    default:
        if (type_of(*p) != SL_JSON_NUMBER || (p = sl_json__scan_number(p, end)) == NULL)
            return SL_ESYNTAX;
        goto after_value;
    }

member:
    if (p == end || *p != '"')
        return SL_ESYNTAX;
    {
        const char *key = p;
        int key_escaped = 0;
        if ((p = scan_string(p, end, &key_escaped)) == NULL)
            return SL_ESYNTAX;
        if (vis != NULL) {
            path[depth - 1].key.p = key;
            path[depth - 1].key.len = (size_t)(p - key);
            path[depth - 1].key.type = SL_JSON_STRING;
            path[depth - 1].key.plain = !key_escaped;
        }
    }
    p = skip_ws(p, end);
    if (p == end || *p != ':')
        return SL_ESYNTAX;
    p = skip_ws(p + 1, end);
    goto value;

after_value:
    if (depth == 0) {
        out->p = start;
        out->len = (size_t)(p - start);
        out->type = type_of(*start);
        out->plain = out->type == SL_JSON_STRING && !escaped;
        *next = p;
        return SL_OK;
    }
    if (vis != NULL && depth <= vis->max_depth) {
        sl_json_span_t v = {vstart, (size_t)(p - vstart), type_of(*vstart), 0};
        v.plain = v.type == SL_JSON_STRING && !escaped;
        vis->on_value(vis->ctx, path, depth, &v);
    }
    p = skip_ws(p, end);
    if (p == end)
        return SL_ESYNTAX;
    if (*p == ',') {
        p = skip_ws(p + 1, end);
        if (vis != NULL)
            path[depth - 1].index++;
        if (stack[depth - 1] == '}')
            goto member;
        goto value;
    }
    if (*p != stack[depth - 1])
        return SL_ESYNTAX;
    ++p;
    --depth;
    if (vis != NULL)
        vstart = opened[depth];
    goto after_value;
}

static int scan_value(const char *p, const char *end, sl_json_span_t *out, const char **next)
{
    return scan_core(p, end, out, next, NULL);
}

int sl_json_scan(const char *json, size_t len, sl_json_span_t *value, size_t *consumed)
{
    const char *end = json + len, *p = skip_ws(json, end), *next;
    sl_json_span_t v;
    int ret = scan_value(p, end, &v, &next);
    if (ret != SL_OK)
        return ret;
    *value = v;
    *consumed = (size_t)(next - json);
    return SL_OK;
}

/* A whole document: one value and whitespace around it. Inlined into both entry points, as scan_core is. */
static inline __attribute__((always_inline)) int parse_doc(const char *json, size_t len, sl_json_span_t *root,
                                                           const sl_json_visitor_t *vis)
{
    const char *end = json + len, *next;
    sl_json_span_t v;
    int ret = scan_core(skip_ws(json, end), end, &v, &next, vis);
    if (ret != SL_OK)
        return ret;
    if (skip_ws(next, end) != end)
        return SL_ESYNTAX;
    if (root != NULL)
        *root = v;
    return SL_OK;
}

int sl_json_parse(const char *json, size_t len, sl_json_span_t *root)
{
    return parse_doc(json, len, root, NULL);
}

int sl_json_parse_visit(const char *json, size_t len, sl_json_span_t *root, const sl_json_visitor_t *v)
{
    return parse_doc(json, len, root, v);
}

int sl_json_iter_init(sl_json_iter_t *it, const sl_json_span_t *c)
{
    if ((c->type != SL_JSON_ARRAY && c->type != SL_JSON_OBJECT) || c->len < 2)
        return SL_EINVAL;
    it->p = c->p + 1;
    it->end = c->p + c->len;
    it->close = c->type == SL_JSON_ARRAY ? ']' : '}';
    it->index = 0;
    return SL_OK;
}

int sl_json_iter_next(sl_json_iter_t *it, sl_json_span_t *key, sl_json_span_t *value)
{
    if (it->p == NULL)
        return SL_ESYNTAX;
    const char *p = skip_ws(it->p, it->end), *next;
    if (p == it->end)
        goto syntax;
    if (*p == it->close) {
        it->p = p;
        return SL_ENOENT;
    }
    if (it->index != 0) {
        if (*p != ',')
            goto syntax;
        p = skip_ws(p + 1, it->end);
    }
    sl_json_span_t k = {NULL, 0, SL_JSON_INVALID, 0}, v;
    if (it->close == '}') {
        int escaped = 0;
        if (p == it->end || *p != '"' || (next = scan_string(p, it->end, &escaped)) == NULL)
            goto syntax;
        k.p = p;
        k.len = (size_t)(next - p);
        k.type = SL_JSON_STRING;
        k.plain = !escaped;
        p = skip_ws(next, it->end);
        if (p == it->end || *p != ':')
            goto syntax;
        p = skip_ws(p + 1, it->end);
    }
    int ret = scan_value(p, it->end, &v, &next);
    if (ret != SL_OK) {
        it->p = NULL;
        return ret;
    }
    it->p = next;
    it->index++;
    if (key != NULL)
        *key = k;
    *value = v;
    return SL_OK;
syntax:
    it->p = NULL;
    return SL_ESYNTAX;
}

int sl_json_find_key(const sl_json_span_t *obj, const char *key, size_t key_len, sl_json_span_t *out)
{
    if (obj->type != SL_JSON_OBJECT)
        return SL_EINVAL;
    sl_json_iter_t it;
    sl_json_span_t k, v;
    int ret;
    if ((ret = sl_json_iter_init(&it, obj)) != SL_OK)
        return ret;
    while ((ret = sl_json_iter_next(&it, &k, &v)) == SL_OK) {
        if (sl_json_string_eq(&k, key, key_len)) {
            *out = v;
            return SL_OK;
        }
    }
    return ret;
}

int sl_json_find_path(const sl_json_span_t *obj, const char *const *keys, size_t num_keys, sl_json_span_t *out)
{
    sl_json_span_t cur = *obj;
    for (size_t i = 0; i != num_keys; ++i) {
        if (cur.type != SL_JSON_OBJECT)
            return i == 0 ? SL_EINVAL : SL_ENOENT;
        int ret = sl_json_find_key(&cur, keys[i], strlen(keys[i]), &cur);
        if (ret != SL_OK)
            return ret;
    }
    *out = cur;
    return SL_OK;
}

/* Decodes one RFC 6901 reference token ptr[0..n) (~0, ~1) into tok; returns its length or -1 when invalid. */
static long pointer_token(const char *ptr, size_t n, char tok[SL_JSON_MAX_TOKEN_LEN])
{
    size_t w = 0;
    for (size_t i = 0; i != n; ++i) {
        char c = ptr[i];
        if (c == '~') {
            if (i + 1 == n || (ptr[i + 1] != '0' && ptr[i + 1] != '1'))
                return -1;
            c = ptr[++i] == '0' ? '~' : '/';
        }
        if (w == SL_JSON_MAX_TOKEN_LEN)
            return -1;
        tok[w++] = c;
    }
    return (long)w;
}

int sl_json_find_pointer(const sl_json_span_t *root, const char *ptr, size_t ptr_len, sl_json_span_t *out)
{
    const char *p = ptr, *end = ptr + ptr_len;
    sl_json_span_t cur = *root;
    if (p != end && *p != '/')
        return SL_EINVAL;
    /* check the whole pointer's syntax first: an invalid pointer is an error even where it would not resolve */
    for (const char *q = p; q != end; ++q)
        if (*q == '~' && (q + 1 == end || (q[1] != '0' && q[1] != '1')))
            return SL_EINVAL;
    while (p != end) {
        const char *tstart = ++p;
        while (p != end && *p != '/')
            ++p;
        char tok[SL_JSON_MAX_TOKEN_LEN];
        long tlen = pointer_token(tstart, (size_t)(p - tstart), tok);
        if (tlen < 0)
            return SL_EINVAL;
        int ret;
        if (cur.type == SL_JSON_OBJECT) {
            if ((ret = sl_json_find_key(&cur, tok, (size_t)tlen, &cur)) != SL_OK)
                return ret;
        } else if (cur.type == SL_JSON_ARRAY) {
            if (tlen == 0 || tlen > 19 || (tok[0] == '0' && tlen > 1))
                return SL_ENOENT;
            uint64_t idx = 0;
            for (long i = 0; i != tlen; ++i) {
                if (tok[i] < '0' || tok[i] > '9')
                    return SL_ENOENT;
                idx = idx * 10 + (uint64_t)(tok[i] - '0');
            }
            sl_json_iter_t it;
            sl_json_iter_init(&it, &cur);
            sl_json_span_t v;
            for (;;) {
                if ((ret = sl_json_iter_next(&it, NULL, &v)) != SL_OK)
                    return ret;
                if (it.index == idx + 1)
                    break;
            }
            cur = v;
        } else
            return SL_ENOENT;
    }
    *out = cur;
    return SL_OK;
}

int sl_json_leaf_init(sl_json_leaf_iter_t *it, const sl_json_span_t *array)
{
    if (array->type != SL_JSON_ARRAY || array->len < 2)
        return SL_EINVAL;
    it->p = array->p;
    it->end = array->p + array->len;
    return SL_OK;
}

int sl_json_leaf_next(sl_json_leaf_iter_t *it, sl_json_span_t *leaf)
{
    /* Brackets and commas carry no information for a row-major walk: the span was validated when it was scanned,
     * so skipping them cannot merge or split leaves. Only the scalars are scanned (and checked) again. */
    const char *p = it->p;
    while (p != it->end && (*p == '[' || *p == ']' || *p == ',' || *p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        ++p;
    it->p = p;
    if (p == it->end)
        return SL_ENOENT;
    if (*p == '{')
        return SL_EINVAL;
    const char *next;
    sl_json_span_t v;
    int ret = scan_value(p, it->end, &v, &next);
    if (ret != SL_OK)
        return ret;
    it->p = next;
    *leaf = v;
    return SL_OK;
}
