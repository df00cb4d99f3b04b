/*
 * alloc.c - see alloc.h. Out-of-memory is not a recoverable condition for a gateway: every buffer sized by client
 * input is capped before it is allocated, so an allocation failure means the machine is out of memory and the
 * cleanest outcome is a crash with a clear message (the supervisor restarts us) instead of undefined behaviour.
 */
#include "common/alloc.h"
#include "common/status.h"

#include <jemalloc/jemalloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void oom(size_t n)
{
    char msg[96];
    int len = snprintf(msg, sizeof(msg), "sluice: out of memory allocating %zu bytes\n", n);
    ssize_t r = write(STDERR_FILENO, msg, (size_t)len);
    (void)r;
    abort();
}

void *sl_malloc(size_t n)
{
    void *p = malloc(n == 0 ? 1 : n);
    if (p == NULL)
        oom(n);
    return p;
}

void *sl_calloc(size_t count, size_t n)
{
    void *p = calloc(count == 0 ? 1 : count, n == 0 ? 1 : n);
    if (p == NULL)
        oom(count * n);
    return p;
}

void *sl_realloc(void *p, size_t n)
{
    void *q = realloc(p, n == 0 ? 1 : n);
    if (q == NULL)
        oom(n);
    return q;
}

char *sl_strndup(const char *s, size_t n)
{
    char *d = sl_malloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *sl_strdup(const char *s)
{
    return sl_strndup(s, strlen(s));
}

void sl_free(void *p)
{
    free(p);
}

int sl_alloc_stats(size_t *allocated, size_t *resident)
{
    uint64_t epoch = 1;
    size_t sz = sizeof(epoch), a, r, szs = sizeof(size_t);
    if (mallctl("epoch", &epoch, &sz, &epoch, sz) != 0)
        return SL_ENOENT;
    if (mallctl("stats.allocated", &a, &szs, NULL, 0) != 0 || mallctl("stats.resident", &r, &szs, NULL, 0) != 0)
        return SL_ENOENT;
    *allocated = a;
    *resident = r;
    return SL_OK;
}
