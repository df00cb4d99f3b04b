/*
 * arena.h - a bump allocator that frees everything in one call. A config or verdict snapshot owns one arena:
 * every string and array of the snapshot lives in it, so releasing the snapshot is one sl_arena_dispose().
 * Not thread-safe: filled by one thread, then only read.
 */
#ifndef SL_COMMON_ARENA_H
#define SL_COMMON_ARENA_H

#include <stddef.h>

typedef struct st_sl_arena_chunk_t sl_arena_chunk_t;

typedef struct st_sl_arena_t {
    sl_arena_chunk_t *chunks;
    size_t used;  /* bytes used in the newest chunk */
    size_t avail; /* capacity of the newest chunk */
    size_t total; /* bytes handed out, for accounting */
} sl_arena_t;

void sl_arena_init(sl_arena_t *a);
void sl_arena_dispose(sl_arena_t *a);
/* Returns zeroed memory aligned to 16 bytes; never NULL (aborts on OOM). */
void *sl_arena_alloc(sl_arena_t *a, size_t n);
char *sl_arena_strndup(sl_arena_t *a, const char *s, size_t n);
char *sl_arena_strdup(sl_arena_t *a, const char *s);

#endif
