/*
 * arena.c - see arena.h. Chunks grow geometrically (4 KiB to 1 MiB); an allocation larger than a chunk gets a
 * chunk of its own.
 */
#include "common/arena.h"
#include "common/alloc.h"

#include <string.h>

struct st_sl_arena_chunk_t {
    sl_arena_chunk_t *next;
    size_t size;
    _Alignas(16) char bytes[];
};

void sl_arena_init(sl_arena_t *a)
{
    memset(a, 0, sizeof(*a));
}

void sl_arena_dispose(sl_arena_t *a)
{
    sl_arena_chunk_t *c = a->chunks;
    while (c != NULL) {
        sl_arena_chunk_t *next = c->next;
        sl_free(c);
        c = next;
    }
    memset(a, 0, sizeof(*a));
}

void *sl_arena_alloc(sl_arena_t *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (a->chunks == NULL || a->used + n > a->avail) {
        size_t size = a->avail == 0 ? 4096 : a->avail * 2;
        if (size > 1 << 20)
            size = 1 << 20;
        if (size < n)
            size = n;
        sl_arena_chunk_t *c = sl_malloc(sizeof(*c) + size);
        c->size = size;
        if (a->chunks != NULL && n > a->avail - a->used && size == n) {
            /* an oversized block: link it behind the current chunk so the current one stays in use */
            c->next = a->chunks->next;
            a->chunks->next = c;
            memset(c->bytes, 0, n);
            a->total += n;
            return c->bytes;
        }
        c->next = a->chunks;
        a->chunks = c;
        a->used = 0;
        a->avail = size;
    }
    void *p = a->chunks->bytes + a->used;
    a->used += n;
    a->total += n;
    memset(p, 0, n);
    return p;
}

char *sl_arena_strndup(sl_arena_t *a, const char *s, size_t n)
{
    char *d = sl_arena_alloc(a, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *sl_arena_strdup(sl_arena_t *a, const char *s)
{
    return sl_arena_strndup(a, s, strlen(s));
}
