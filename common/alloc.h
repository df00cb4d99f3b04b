/*
 * alloc.h - allocation wrappers. jemalloc is the process allocator (linked in, it replaces malloc); these wrappers
 * abort with a message on out-of-memory so no caller has to handle NULL, and they are the one place to hook
 * accounting. Hot-path code allocates from the request's h2o pool instead.
 */
#ifndef SL_COMMON_ALLOC_H
#define SL_COMMON_ALLOC_H

#include <stddef.h>

void *sl_malloc(size_t n);
void *sl_calloc(size_t count, size_t n);
void *sl_realloc(void *p, size_t n);
char *sl_strdup(const char *s);
char *sl_strndup(const char *s, size_t n);
void sl_free(void *p);

/* Reads jemalloc's "stats.allocated" and "stats.resident" (bytes), refreshing its epoch first. Returns SL_OK, or
 * SL_ENOENT when the allocator does not expose them (outputs untouched). Control thread. */
int sl_alloc_stats(size_t *allocated, size_t *resident);

#endif
