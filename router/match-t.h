/*
 * match-t.h - the request facts route matching looks at. The gateway fills them from the HTTP request; the router
 * never sees an h2o type (DESIGN.md §2), so headers are reached through a lookup callback.
 */
#ifndef SL_ROUTER_MATCH_T_H
#define SL_ROUTER_MATCH_T_H

#include <stddef.h>

typedef struct st_sl_router_facts_t {
    const char *path; /* request target as received; the query string (from '?') is ignored */
    size_t path_len;
    const char *host; /* Host / :authority, port included or not; NULL when absent */
    size_t host_len;
    const char *model; /* value of the top-level JSON "model" string (unescaped bytes as they appear); NULL when the
                          body has none or was not scanned */
    size_t model_len;
    /* Returns the value of the first header named `name` (lower case, name_len bytes) and sets *value_len, or NULL
     * when the request has no such header. Must be pure: the matcher may call it several times. */
    const char *(*header)(void *ctx, const char *name, size_t name_len, size_t *value_len);
    void *header_ctx;
} sl_router_facts_t;

#endif
