/*
 * str.h - small string helpers and a growable byte buffer with a hard cap.
 * sl_buf_t owns its bytes (heap); the cap bounds every buffer whose size is driven by outside input.
 */
#ifndef SL_COMMON_STR_H
#define SL_COMMON_STR_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

typedef struct st_sl_buf_t {
    char *data; /* owned; NUL-terminated while len < alloc */
    size_t len;
    size_t alloc;
    size_t cap; /* hard limit on len; 0 = unlimited */
} sl_buf_t;

void sl_buf_init(sl_buf_t *b, size_t cap);
void sl_buf_dispose(sl_buf_t *b);
/* Appends; returns SL_OK or SL_ENOMEM when the cap would be exceeded (buffer untouched). */
int sl_buf_append(sl_buf_t *b, const void *p, size_t n);
int sl_buf_appendf(sl_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as the body of a JSON string (without quotes), escaping as RFC 8259 requires. */
int sl_buf_append_json_escaped(sl_buf_t *b, const char *s, size_t n);
/* Writes s as a Prometheus text-format label value (backslash, double quote and line feed escaped) into buf of
 * bufsz >= 1 bytes, NUL-terminated, cut at a character boundary when it does not fit; returns buf. */
const char *sl_prom_label(const char *s, char *buf, size_t bufsz);

static inline int sl_str_has_prefix(const char *s, size_t len, const char *prefix)
{
    size_t pl = strlen(prefix);
    return len >= pl && memcmp(s, prefix, pl) == 0;
}

/* Levenshtein edit distance between a and b (ASCII, case-sensitive); used for "did you mean" hints. */
size_t sl_str_edit_distance(const char *a, const char *b);

/* Returns the candidate closest to s when it is close enough to be a plausible typo (distance <= max(1, len/3)),
 * else NULL. candidates is NULL-terminated. */
const char *sl_str_suggest(const char *s, const char *const *candidates);

#endif
