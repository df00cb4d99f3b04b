/*
 * str.c - see str.h.
 */
#include "common/str.h"
#include "common/alloc.h"
#include "common/status.h"

#include <stdio.h>

void sl_buf_init(sl_buf_t *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap;
}

void sl_buf_dispose(sl_buf_t *b)
{
    sl_free(b->data);
    b->data = NULL;
    b->len = b->alloc = 0;
}

static int reserve(sl_buf_t *b, size_t extra)
{
    if (b->cap != 0 && b->len + extra > b->cap)
        return SL_ENOMEM;
    if (b->len + extra + 1 > b->alloc) {
        size_t n = b->alloc < 64 ? 64 : b->alloc;
        while (n < b->len + extra + 1)
            n *= 2;
        b->data = sl_realloc(b->data, n);
        b->alloc = n;
    }
    return SL_OK;
}

int sl_buf_append(sl_buf_t *b, const void *p, size_t n)
{
    if (reserve(b, n) != SL_OK)
        return SL_ENOMEM;
    if (n != 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return SL_OK;
}

int sl_buf_appendf(sl_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return SL_EINVAL;
    if (reserve(b, (size_t)n) != SL_OK)
        return SL_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return SL_OK;
}

int sl_buf_append_json_escaped(sl_buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i != n; ++i) {
        unsigned char c = (unsigned char)s[i];
        char esc[6];
        size_t el = 0;
        switch (c) {
        case '"':
            esc[0] = '\\', esc[1] = '"', el = 2;
            break;
        case '\\':
            esc[0] = '\\', esc[1] = '\\', el = 2;
            break;
        case '\n':
            esc[0] = '\\', esc[1] = 'n', el = 2;
            break;
        case '\r':
            esc[0] = '\\', esc[1] = 'r', el = 2;
            break;
        case '\t':
            esc[0] = '\\', esc[1] = 't', el = 2;
            break;
        default:
            if (c < 0x20) {
                esc[0] = '\\', esc[1] = 'u', esc[2] = '0', esc[3] = '0', esc[4] = hex[c >> 4], esc[5] = hex[c & 15];
                el = 6;
            }
        }
        int r = el != 0 ? sl_buf_append(b, esc, el) : sl_buf_append(b, s + i, 1);
        if (r != SL_OK)
            return r;
    }
    return SL_OK;
}

size_t sl_str_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return la > lb ? la : lb; /* names are short; long ones are never typos of each other */
    size_t row[65];
    for (size_t j = 0; j <= lb; ++j)
        row[j] = j;
    for (size_t i = 1; i <= la; ++i) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; ++j) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

const char *sl_str_suggest(const char *s, const char *const *candidates)
{
    size_t len = strlen(s), limit = len / 3 > 1 ? len / 3 : 1, best_d = (size_t)-1;
    const char *best = NULL;
    for (size_t i = 0; candidates[i] != NULL; ++i) {
        size_t d = sl_str_edit_distance(s, candidates[i]);
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    return best_d <= limit ? best : NULL;
}

const char *sl_prom_label(const char *s, char *buf, size_t bufsz)
{
    size_t j = 0;
    for (; *s != '\0' && j + 3 < bufsz; ++s) {
        if (*s == '\\' || *s == '"' || *s == '\n') {
            buf[j++] = '\\';
            buf[j++] = *s == '\n' ? 'n' : *s;
        } else {
            buf[j++] = *s;
        }
    }
    buf[j] = '\0';
    return buf;
}
