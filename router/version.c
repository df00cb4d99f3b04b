/*
 * version.c - the stable/canary choice of one request (router/version.h states the rules and the hash).
 *
 * A sticky split must stay consistent across workers and restarts and must only grow the canary's set of users as
 * its weight grows; that is why the decision is a threshold on a fixed per-value bucket rather than a fresh draw.
 * FNV-1a is cheap on short keys (a user id, a session cookie), and its weak avalanche is fixed by the fmix64
 * finalizer, so buckets are uniform even for keys that differ in their last byte. The canary's name salts the hash
 * so that a new canary starts with an independent set of users instead of the ones that saw the last one.
 *
 * Cookie parsing is the lenient reading of RFC 6265 §5.4 that user agents' output needs: pairs split at ';',
 * optional blanks around each pair, the name compared byte for byte, the first match wins, pairs without '=' are
 * skipped. Only the first Cookie header the lookup returns is searched (HTTP/2 clients may split cookies over
 * several fields; the gateway's lookup is expected to join them with "; " as RFC 9113 §8.2.3 requires before
 * passing them on).
 */
#include "router/version.h"

#include <string.h>

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull
#define GOLDEN 0x9E3779B97F4A7C15ull

static uint64_t fmix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    k ^= k >> 33;
    return k;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i != n; ++i) {
        h ^= b[i];
        h *= FNV_PRIME;
    }
    return h;
}

uint64_t sl_router_version_hash(const char *canary_name, const char *value, size_t len)
{
    static const unsigned char zero = 0;
    uint64_t h = fnv1a(FNV_OFFSET, canary_name, canary_name != NULL ? strlen(canary_name) : 0);
    h = fnv1a(h, &zero, 1);
    return fmix64(fnv1a(h, value, len));
}

uint32_t sl_router_version_bucket(uint64_t h)
{
    return (uint32_t)(((unsigned __int128)h * 1000u) >> 64);
}

uint64_t sl_router_version_draw(uint64_t draw, size_t tier_index)
{
    return fmix64(draw + ((uint64_t)tier_index + 1) * GOLDEN);
}

static int blank(char c)
{
    return c == ' ' || c == '\t';
}

/* The value of cookie `name` in a Cookie header value, or NULL. */
static const char *cookie_value(const char *s, size_t n, const char *name, size_t *len)
{
    size_t name_len = strlen(name), i = 0;
    while (i < n) {
        size_t end = i;
        while (end < n && s[end] != ';')
            ++end;
        size_t a = i, b = end;
        while (a < b && blank(s[a]))
            ++a;
        while (b > a && blank(s[b - 1]))
            --b;
        const char *eq = memchr(s + a, '=', b - a);
        if (eq != NULL) {
            size_t k = (size_t)(eq - (s + a)), kb = k;
            while (kb != 0 && blank(s[a + kb - 1]))
                --kb;
            if (kb == name_len && memcmp(s + a, name, name_len) == 0) {
                size_t v = a + k + 1;
                while (v < b && blank(s[v]))
                    ++v;
                *len = b - v;
                return s + v;
            }
        }
        i = end + 1;
    }
    return NULL;
}

const char *sl_router_version_key(const sl_conf_rollout_t *rollout, const sl_facts_t *facts, size_t *len)
{
    if (rollout->sticky == SL_CONF_STICKY_NONE || rollout->sticky_name == NULL || facts->http.header == NULL)
        return NULL;
    size_t n;
    const char *v;
    if (rollout->sticky == SL_CONF_STICKY_HEADER) {
        v = facts->http.header(facts->http.header_ctx, rollout->sticky_name, strlen(rollout->sticky_name), &n);
        if (v == NULL)
            return NULL;
        while (n != 0 && blank(v[0]))
            ++v, --n;
        while (n != 0 && blank(v[n - 1]))
            --n;
    } else {
        const char *c = facts->http.header(facts->http.header_ctx, "cookie", 6, &n);
        if (c == NULL || (v = cookie_value(c, n, rollout->sticky_name, &n)) == NULL)
            return NULL;
    }
    if (n == 0)
        return NULL;
    *len = n;
    return v;
}

enum en_sl_plan_version_t sl_router_version_pick(const sl_conf_rollout_t *rollout, uint32_t weight_permille,
                                                 const sl_facts_t *facts, uint64_t draw, size_t tier_index, int *by_key)
{
    uint32_t bucket;
    size_t len;
    const char *key;
    int keyed = 0;
    if (!rollout->enabled || rollout->canary == NULL || weight_permille == 0) {
        bucket = 1000; /* never below the weight */
    } else if ((key = sl_router_version_key(rollout, facts, &len)) != NULL) {
        bucket = sl_router_version_bucket(sl_router_version_hash(rollout->canary->name, key, len));
        keyed = 1;
    } else {
        bucket = sl_router_version_bucket(sl_router_version_draw(draw, tier_index));
    }
    if (by_key != NULL)
        *by_key = keyed;
    return bucket < weight_permille ? SL_PLAN_VERSION_CANARY : SL_PLAN_VERSION_STABLE;
}

enum en_sl_plan_version_t sl_router_version_apply(sl_plan_step_t *step, uint32_t weight_permille, const sl_facts_t *facts,
                                                  uint64_t draw, int *by_key)
{
    const sl_conf_rollout_t *r = &step->tier->rollout;
    if (by_key != NULL)
        *by_key = 0;
    if (step->variant != SL_PLAN_VARIANT_ACCURATE || !r->enabled) {
        step->version = SL_PLAN_VERSION_STABLE;
        return SL_PLAN_VERSION_STABLE;
    }
    enum en_sl_plan_version_t v = sl_router_version_pick(r, weight_permille, facts, draw, step->tier_index, by_key);
    step->version = (uint8_t)v;
    if (v == SL_PLAN_VERSION_CANARY)
        step->backend = r->canary;
    return v;
}
