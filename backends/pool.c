/*
 * pool.c - see pool.h. The registry is a plain array grown on the control thread; workers never read it (they
 * hold endpoint pointers from a published snapshot), so growing it needs no synchronization.
 */
#include "backends/pool.h"
#include "common/alloc.h"
#include "common/status.h"

#include <string.h>

void sl_pool_registry_init(sl_pool_registry_t *r)
{
    memset(r, 0, sizeof(*r));
}

void sl_pool_registry_dispose(sl_pool_registry_t *r)
{
    for (size_t i = 0; i != r->num_endpoints; ++i) {
        sl_pool_endpoint_t *e = r->endpoints[i];
        sl_free((void *)e->backend);
        sl_free((void *)e->addr.text);
        sl_free(e->raw);
    }
    sl_free(r->endpoints);
    memset(r, 0, sizeof(*r));
}

int sl_pool_registry_get(sl_pool_registry_t *r, const char *backend, const sl_conf_addr_t *addr, sl_pool_endpoint_t **out)
{
    for (size_t i = 0; i != r->num_endpoints; ++i) {
        sl_pool_endpoint_t *e = r->endpoints[i];
        if (strcmp(e->backend, backend) == 0 && strcmp(e->addr.text, addr->text) == 0) {
            *out = e;
            return SL_OK;
        }
    }
    if (r->num_endpoints == SL_POOL_MAX_ENDPOINTS)
        return SL_ENOMEM;
    if (r->num_endpoints == r->cap) {
        r->cap = r->cap == 0 ? 16 : r->cap * 2;
        r->endpoints = sl_realloc(r->endpoints, r->cap * sizeof(*r->endpoints));
    }
    /* over-allocate so the struct can start on a cache line whatever the allocator's alignment for this size */
    void *raw = sl_calloc(1, sizeof(sl_pool_endpoint_t) + 64);
    sl_pool_endpoint_t *e = (sl_pool_endpoint_t *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
    e->raw = raw;
    e->id = (uint32_t)r->num_endpoints;
    e->backend = sl_strdup(backend);
    e->addr = *addr;
    e->addr.text = sl_strdup(addr->text);
    r->endpoints[r->num_endpoints++] = e;
    *out = e;
    return SL_OK;
}

int sl_pool_acquire(sl_pool_endpoint_t *e, uint32_t max_concurrency)
{
    if (max_concurrency == 0) {
        atomic_fetch_add_explicit(&e->inflight, 1, memory_order_relaxed);
        return 1;
    }
    uint32_t v = atomic_load_explicit(&e->inflight, memory_order_relaxed);
    while (v < max_concurrency)
        if (atomic_compare_exchange_weak_explicit(&e->inflight, &v, v + 1, memory_order_relaxed, memory_order_relaxed))
            return 1;
    return 0;
}

void sl_pool_release(sl_pool_endpoint_t *e)
{
    atomic_fetch_sub_explicit(&e->inflight, 1, memory_order_relaxed);
}

/* The k-th (0-based) endpoint in rotation. */
static sl_pool_endpoint_t *nth_in_rotation(sl_pool_endpoint_t *const *eps, size_t n, size_t k)
{
    for (size_t i = 0; i != n; ++i)
        if (sl_pool_in_rotation(eps[i]) && k-- == 0)
            return eps[i];
    return NULL;
}

int sl_pool_pick(sl_pool_endpoint_t *const *eps, size_t n, uint32_t max_concurrency, uint64_t r, sl_pool_endpoint_t **out)
{
    size_t avail = 0;
    for (size_t i = 0; i != n; ++i)
        avail += sl_pool_in_rotation(eps[i]);
    if (avail == 0)
        return SL_POOL_NONE;

    sl_pool_endpoint_t *a, *b = NULL;
    if (avail == 1) {
        a = nth_in_rotation(eps, n, 0);
    } else {
        size_t i = (size_t)((uint32_t)r % avail), j = (size_t)((uint32_t)(r >> 32) % (avail - 1));
        if (j >= i)
            ++j;
        a = nth_in_rotation(eps, n, i);
        b = nth_in_rotation(eps, n, j);
        if (atomic_load_explicit(&b->inflight, memory_order_relaxed) <
            atomic_load_explicit(&a->inflight, memory_order_relaxed)) {
            sl_pool_endpoint_t *t = a;
            a = b;
            b = t;
        }
    }
    if (sl_pool_acquire(a, max_concurrency)) {
        *out = a;
        return SL_POOL_PICKED;
    }
    if (b != NULL && sl_pool_acquire(b, max_concurrency)) {
        *out = b;
        return SL_POOL_PICKED;
    }
    /* both candidates are full: fall back to the least loaded endpoint that still has room, if any */
    for (;;) {
        sl_pool_endpoint_t *best = NULL;
        uint32_t best_load = UINT32_MAX;
        for (size_t i = 0; i != n; ++i) {
            if (!sl_pool_in_rotation(eps[i]))
                continue;
            uint32_t l = atomic_load_explicit(&eps[i]->inflight, memory_order_relaxed);
            if (l < max_concurrency && l < best_load) {
                best = eps[i];
                best_load = l;
            }
        }
        if (best == NULL)
            return SL_POOL_FULL;
        if (sl_pool_acquire(best, max_concurrency)) {
            *out = best;
            return SL_POOL_PICKED;
        }
        /* another worker took that slot between the load and the CAS: look again (each retry saw a slot taken,
         * so the loop ends once every endpoint is full) */
    }
}

int sl_pool_observe(sl_pool_endpoint_t *e, int failed, uint32_t threshold)
{
    if (!failed) {
        /* read first: a healthy endpoint's line is then only read by successes, never written */
        if (atomic_load_explicit(&e->failure_streak, memory_order_relaxed) != 0)
            atomic_store_explicit(&e->failure_streak, 0, memory_order_relaxed);
        return 0;
    }
    if (threshold == 0)
        return 0;
    uint32_t streak = atomic_fetch_add_explicit(&e->failure_streak, 1, memory_order_relaxed) + 1;
    if (streak < threshold)
        return 0;
    return atomic_exchange_explicit(&e->eject_requested, 1, memory_order_acq_rel) == 0;
}

uint64_t sl_pool_ejection_ms(const sl_conf_outlier_t *o, uint32_t level)
{
    uint64_t ms = o->base_ejection_ms;
    for (uint32_t i = 0; i != level && ms < o->max_ejection_ms; ++i)
        ms <<= 1;
    return ms > o->max_ejection_ms ? o->max_ejection_ms : ms;
}

int sl_pool_may_eject(size_t num_endpoints, size_t num_ejected, uint32_t max_percent)
{
    if (num_ejected == 0)
        return num_endpoints != 0;
    return (num_ejected + 1) * 100 <= (size_t)max_percent * num_endpoints;
}

size_t sl_pool_update(sl_pool_endpoint_t *const *eps, size_t n, const sl_conf_outlier_t *o, uint64_t now_ms)
{
    size_t ejected = 0, fresh = 0;
    for (size_t i = 0; i != n; ++i) {
        sl_pool_endpoint_t *e = eps[i];
        uint32_t out = atomic_load_explicit(&e->out, memory_order_relaxed);
        if ((out & SL_POOL_OUT_EJECTED) != 0 && now_ms >= e->ejected_until_ms) {
            atomic_store_explicit(&e->failure_streak, 0, memory_order_relaxed);
            atomic_fetch_and_explicit(&e->out, ~(uint32_t)SL_POOL_OUT_EJECTED, memory_order_release);
            e->returned_at_ms = now_ms;
            out &= ~(uint32_t)SL_POOL_OUT_EJECTED;
        }
        if ((out & SL_POOL_OUT_EJECTED) != 0)
            ++ejected;
        else if (e->ejection_level != 0 && now_ms - e->returned_at_ms >= o->max_ejection_ms)
            e->ejection_level = 0;
    }
    for (size_t i = 0; i != n; ++i) {
        sl_pool_endpoint_t *e = eps[i];
        if (atomic_load_explicit(&e->eject_requested, memory_order_acquire) == 0)
            continue;
        if ((atomic_load_explicit(&e->out, memory_order_relaxed) & SL_POOL_OUT_EJECTED) != 0 || o->consecutive_failures == 0 ||
            atomic_load_explicit(&e->failure_streak, memory_order_relaxed) < o->consecutive_failures) {
            /* already out, ejection disabled by a reload, or a success broke the streak meanwhile */
            atomic_store_explicit(&e->eject_requested, 0, memory_order_release);
            continue;
        }
        if (!sl_pool_may_eject(n, ejected, o->max_ejected_percent))
            continue; /* stays requested: granted as soon as another endpoint comes back */
        atomic_store_explicit(&e->eject_requested, 0, memory_order_release);
        e->ejected_until_ms = now_ms + sl_pool_ejection_ms(o, e->ejection_level);
        if (e->ejection_level < 32)
            ++e->ejection_level;
        ++e->ejections_outlier;
        e->hc_successes = 0; /* active checks must see it healthy again after the ejection to bring it back */
        atomic_fetch_or_explicit(&e->out, SL_POOL_OUT_EJECTED, memory_order_release);
        ++ejected;
        ++fresh;
    }
    return fresh;
}
