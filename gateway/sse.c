/*
 * sse.c - see sse.h. One scanner of lines serves the three walks (find, read data, rewrite): the event's extent is
 * known after sl_sse_next, so the later walks run over exactly ev->len bytes, where the last line may lack its
 * terminator only when the stream ended there.
 */
#include "gateway/sse.h"
#include "common/status.h"

#include <string.h>

/* The line at p[pos..len): sets *end (one past its last byte) and *term (0 when it runs to len, else the bytes of
 * its terminator: 1 for LF or CR, 2 for CRLF). Returns 0, or -1 when it cannot be told yet (no terminator before
 * len, or a CR at len - 1, and not eos). */
static int next_line(const char *p, size_t len, size_t pos, int eos, size_t *end, size_t *term)
{
    const char *lf = memchr(p + pos, '\n', len - pos);
    size_t stop = lf != NULL ? (size_t)(lf - p) : len;
    const char *cr = memchr(p + pos, '\r', stop - pos);
    if (cr != NULL) {
        size_t at = (size_t)(cr - p);
        if (at + 1 == len && !eos)
            return -1;
        *end = at;
        *term = at + 1 < len && p[at + 1] == '\n' ? 2 : 1;
        return 0;
    }
    if (lf != NULL) {
        *end = stop;
        *term = 1;
        return 0;
    }
    if (!eos)
        return -1;
    *end = len;
    *term = 0;
    return 0;
}

/* Whether the line p[0..n) is a data line; *value and *vlen get its value. */
static int is_data(const char *p, size_t n, const char **value, size_t *vlen)
{
    if (n < 4 || memcmp(p, "data", 4) != 0 || (n > 4 && p[4] != ':'))
        return 0;
    size_t at = n > 4 ? 5 : 4;
    if (at < n && p[at] == ' ')
        ++at;
    *value = p + at;
    *vlen = n - at;
    return 1;
}

int sl_sse_next(const char *p, size_t len, int eos, sl_sse_event_t *ev)
{
    sl_sse_event_t e = {0, 0, 0, NULL};
    size_t pos = 0, end, term;
    while (pos < len) {
        if (next_line(p, len, pos, eos, &end, &term) != 0)
            return SL_EAGAIN;
        const char *value;
        size_t vlen;
        if (end == pos && term != 0) { /* a blank line ends the event */
            e.len = pos + term;
            *ev = e;
            return SL_OK;
        }
        if (is_data(p + pos, end - pos, &value, &vlen)) {
            e.data_len += (e.data_lines != 0 ? 1 : 0) + vlen;
            e.data = e.data_lines++ == 0 ? value : NULL;
        }
        pos = end + term;
        if (term == 0)
            break;
    }
    if (!eos || len == 0)
        return SL_EAGAIN;
    e.len = len; /* the stream ended inside the event */
    *ev = e;
    return SL_OK;
}

size_t sl_sse_data(const char *p, const sl_sse_event_t *ev, char *dst)
{
    size_t pos = 0, end, term, w = 0;
    uint32_t seen = 0;
    while (pos < ev->len && next_line(p, ev->len, pos, 1, &end, &term) == 0) {
        const char *value;
        size_t vlen;
        if (is_data(p + pos, end - pos, &value, &vlen)) {
            if (seen++ != 0)
                dst[w++] = '\n';
            memcpy(dst + w, value, vlen);
            w += vlen;
        }
        pos = end + term;
        if (term == 0)
            break;
    }
    return w;
}

/* Copies the lines of the event that are neither data nor blank to dst, each LF-terminated (dst NULL: only
 * counts); returns their bytes. */
static size_t other_lines(const char *p, const sl_sse_event_t *ev, char *dst)
{
    size_t pos = 0, end, term, w = 0;
    while (pos < ev->len && next_line(p, ev->len, pos, 1, &end, &term) == 0) {
        const char *value;
        size_t vlen;
        if (end != pos && !is_data(p + pos, end - pos, &value, &vlen)) {
            if (dst != NULL) {
                memcpy(dst + w, p + pos, end - pos);
                dst[w + end - pos] = '\n';
            }
            w += end - pos + 1;
        }
        pos = end + term;
        if (term == 0)
            break;
    }
    return w;
}

size_t sl_sse_rewrite_len(const char *p, const sl_sse_event_t *ev, const sl_json_piece_t *pieces, size_t n)
{
    size_t total = other_lines(p, ev, NULL) + 6 + 2;
    for (size_t i = 0; i != n; ++i) {
        total += pieces[i].len;
        for (const char *q = pieces[i].base, *e = q + pieces[i].len; (q = memchr(q, '\n', (size_t)(e - q))) != NULL; ++q)
            total += 6; /* "data: " after each line break */
    }
    return total;
}

size_t sl_sse_rewrite(const char *p, const sl_sse_event_t *ev, const sl_json_piece_t *pieces, size_t n, char *dst)
{
    size_t w = other_lines(p, ev, dst);
    memcpy(dst + w, "data: ", 6);
    w += 6;
    for (size_t i = 0; i != n; ++i) {
        const char *q = pieces[i].base, *e = q + pieces[i].len;
        while (q != e) {
            const char *nl = memchr(q, '\n', (size_t)(e - q));
            size_t k = nl != NULL ? (size_t)(nl - q) + 1 : (size_t)(e - q);
            memcpy(dst + w, q, k);
            w += k;
            q += k;
            if (nl != NULL) {
                memcpy(dst + w, "data: ", 6);
                w += 6;
            }
        }
    }
    memcpy(dst + w, "\n\n", 2);
    return w + 2;
}
