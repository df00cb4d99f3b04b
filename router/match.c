/*
 * match.c - see match.h. Route tables are short (tens of routes) and declared in priority order, so a linear scan
 * with cheap early exits beats any index: the common route matches on its path prefix within a few comparisons.
 */
#include "router/match.h"

#include <string.h>

int sl_router_match_path(const char *prefix, const char *path, size_t path_len)
{
    size_t plen = strlen(prefix);
    const char *q = memchr(path, '?', path_len);
    if (q != NULL)
        path_len = (size_t)(q - path);
    if (plen == 0)
        return 1;
    if (path_len < plen || memcmp(path, prefix, plen) != 0)
        return 0;
    if (path_len == plen || prefix[plen - 1] == '/')
        return 1;
    return path[plen] == '/';
}

/* Length of the host part of s: everything before ":port", brackets of an IPv6 literal kept. */
static size_t host_part(const char *s, size_t len)
{
    if (len != 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        return close != NULL ? (size_t)(close - s) + 1 : len;
    }
    const char *colon = memchr(s, ':', len);
    return colon != NULL ? (size_t)(colon - s) : len;
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

int sl_router_match_host(const char *want, const char *host, size_t host_len)
{
    size_t wl = host_part(want, strlen(want)), hl = host_part(host, host_len);
    if (wl != hl)
        return 0;
    for (size_t i = 0; i != wl; ++i)
        if (lower((unsigned char)want[i]) != lower((unsigned char)host[i]))
            return 0;
    return 1;
}

int sl_router_match_one(const sl_conf_match_t *m, const sl_router_facts_t *facts)
{
    if (m->path_prefix != NULL && !sl_router_match_path(m->path_prefix, facts->path, facts->path_len))
        return 0;
    if (m->host != NULL && (facts->host == NULL || !sl_router_match_host(m->host, facts->host, facts->host_len)))
        return 0;
    for (size_t i = 0; i != m->num_headers; ++i) {
        const sl_conf_header_match_t *h = m->headers + i;
        size_t vlen = 0;
        const char *v = facts->header != NULL ? facts->header(facts->header_ctx, h->name, strlen(h->name), &vlen) : NULL;
        if (v == NULL)
            return 0;
        if (h->value != NULL && (strlen(h->value) != vlen || memcmp(h->value, v, vlen) != 0))
            return 0;
    }
    if (m->model != NULL &&
        (facts->model == NULL || strlen(m->model) != facts->model_len || memcmp(m->model, facts->model, facts->model_len) != 0))
        return 0;
    return 1;
}

const sl_conf_route_t *sl_router_match(const sl_conf_t *conf, const sl_router_facts_t *facts)
{
    for (size_t i = 0; i != conf->num_routes; ++i)
        if (sl_router_match_one(&conf->routes[i].match, facts))
            return conf->routes + i;
    return NULL;
}

int sl_router_needs_model(const sl_conf_t *conf)
{
    for (size_t i = 0; i != conf->num_routes; ++i)
        if (conf->routes[i].match.model != NULL)
            return 1;
    return 0;
}
