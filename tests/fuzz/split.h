/*
 * split.h - the input layout shared by the stream targets (fuzz_upstream_head, fuzz_sse, fuzz_usage): a small
 * header that chooses flags and where the stream is cut into pieces, then the stream itself. Each target feeds the
 * stream once whole and once piece by piece, as the gateway receives it from a socket, and compares the outcomes.
 *
 *   byte 0      flags, the target's own
 *   byte 1      number of cuts (modulo SL_FUZZ_MAX_CUTS + 1)
 *   2 bytes     per cut, big-endian: a position, taken modulo the stream's length + 1
 *   the rest    the stream
 */
#ifndef SL_TESTS_FUZZ_SPLIT_H
#define SL_TESTS_FUZZ_SPLIT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SL_FUZZ_MAX_CUTS 16

typedef struct st_sl_fuzz_split_t {
    uint8_t flags;
    size_t num_cuts;
    uint16_t raw[SL_FUZZ_MAX_CUTS];
    size_t cuts[SL_FUZZ_MAX_CUTS]; /* after sl_fuzz_split_place: ascending positions inside the stream */
    const uint8_t *stream;         /* borrowed from the input */
    size_t len;
} sl_fuzz_split_t;

/* Reads the header of in[0..n). Returns 0, or -1 when the input is too short to hold it. */
static inline int sl_fuzz_split_read(const uint8_t *in, size_t n, sl_fuzz_split_t *s)
{
    if (n < 2)
        return -1;
    s->flags = in[0];
    s->num_cuts = in[1] % (SL_FUZZ_MAX_CUTS + 1);
    if (n < 2 + 2 * s->num_cuts)
        return -1;
    for (size_t i = 0; i != s->num_cuts; ++i)
        s->raw[i] = (uint16_t)(in[2 + 2 * i] << 8 | in[3 + 2 * i]);
    s->stream = in + 2 + 2 * s->num_cuts;
    s->len = n - 2 - 2 * s->num_cuts;
    return 0;
}

/* Places the cuts in a stream of len bytes (which may differ from s->len when the target builds its stream):
 * s->cuts gets them in ascending order; equal cuts give empty pieces. */
static inline void sl_fuzz_split_place(sl_fuzz_split_t *s, size_t len)
{
    for (size_t i = 0; i != s->num_cuts; ++i) {
        size_t c = s->raw[i] % (len + 1), j = i;
        for (; j != 0 && s->cuts[j - 1] > c; --j)
            s->cuts[j] = s->cuts[j - 1];
        s->cuts[j] = c;
    }
}

/* Places the cuts in the input's own stream and returns a copy of the stream (malloc, the caller frees it) of exactly
 * its length, so that a read past its end is one the address sanitizer sees. */
static inline char *sl_fuzz_split_copy(sl_fuzz_split_t *s)
{
    sl_fuzz_split_place(s, s->len);
    char *copy = malloc(s->len + 1);
    memcpy(copy, s->stream, s->len);
    return copy;
}

/* The end of piece i (0 .. num_cuts) of a stream of len bytes. */
static inline size_t sl_fuzz_split_end(const sl_fuzz_split_t *s, size_t i, size_t len)
{
    return i < s->num_cuts ? s->cuts[i] : len;
}

#endif
