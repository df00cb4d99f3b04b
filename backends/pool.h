/*
 * pool.h - the endpoint registry, power-of-two-choices with in-flight accounting, and passive outlier ejection.
 *
 * Threads. Registration (sl_pool_registry_*) and the ejection verdicts (sl_pool_update) run on the control thread.
 * Workers call sl_pool_pick / sl_pool_release / sl_pool_observe on the endpoints of the snapshot they pinned: each
 * is a few relaxed atomic operations on the endpoint's own cache line, never a lock.
 *
 * Concurrency limit. max_concurrency is enforced process-wide with one atomic counter per endpoint (a CAS that
 * never lets the count pass the limit), not split per worker: a per-worker share of a small limit (16 over 8
 * workers = 2 each) would refuse work that another worker's share could take, and the cost of one contended
 * atomic per request start and end on a line that only this endpoint's requests touch is tens of nanoseconds.
 *
 * Passive ejection. A failed request increments the endpoint's failure streak, a success clears it. The worker
 * whose failure makes the streak reach outlier.consecutive_failures sets eject_requested and wakes the control
 * thread, which alone decides (so the max_ejected_percent cap holds exactly, with no race between workers): the
 * endpoint leaves rotation for base_ejection_ms << level, capped at max_ejection_ms, where level counts the
 * ejections in a row; level falls back to 0 once the endpoint has stayed in rotation for max_ejection_ms. As in
 * Envoy, the cap never prevents the first ejection of a backend: one endpoint may always be ejected.
 */
#ifndef SL_BACKENDS_POOL_H
#define SL_BACKENDS_POOL_H

#include "backends/pool-t.h"

void sl_pool_registry_init(sl_pool_registry_t *r);
/* Frees every endpoint. Only once no thread can reach them (process exit). */
void sl_pool_registry_dispose(sl_pool_registry_t *r);

/* Returns the endpoint registered for (backend, addr->text), registering it first when new (state: in rotation,
 * nothing in flight). The pointer stays valid until sl_pool_registry_dispose. Returns SL_OK with *out set, or
 * SL_ENOMEM when SL_POOL_MAX_ENDPOINTS are registered (*out untouched). Control thread. */
int sl_pool_registry_get(sl_pool_registry_t *r, const char *backend, const sl_conf_addr_t *addr, sl_pool_endpoint_t **out);

/* 1 when the endpoint is in rotation (neither ejected nor unhealthy). Any thread. */
static inline int sl_pool_in_rotation(const sl_pool_endpoint_t *e)
{
    return atomic_load_explicit(&e->out, memory_order_relaxed) == 0;
}

/* Takes one in-flight slot on e if fewer than max_concurrency (0 = unlimited) are taken. Returns 1 on success,
 * 0 when full. Any thread. */
int sl_pool_acquire(sl_pool_endpoint_t *e, uint32_t max_concurrency);

/* Gives back a slot taken by sl_pool_acquire or sl_pool_pick. Any thread. */
void sl_pool_release(sl_pool_endpoint_t *e);

/* Power of two choices (Mitzenmacher, "The Power of Two Choices in Randomized Load Balancing", 2001) among the
 * endpoints of eps[0..n) that are in rotation: two distinct candidates drawn from the random value r (low and high
 * 32 bits), the one with fewer requests in flight is tried first, then the other; when both are at
 * max_concurrency, the least loaded endpoint with a free slot is taken. Returns SL_POOL_PICKED with a slot taken
 * and *out set, SL_POOL_FULL or SL_POOL_NONE (*out untouched). Worker thread. */
int sl_pool_pick(sl_pool_endpoint_t *const *eps, size_t n, uint32_t max_concurrency, uint64_t r, sl_pool_endpoint_t **out);

/* Records the outcome of one request on e. Returns 1 when this failure made the streak reach threshold (> 0) and
 * no ejection request was pending: the caller must then wake the control thread. Worker thread. */
int sl_pool_observe(sl_pool_endpoint_t *e, int failed, uint32_t threshold);

/* Length of an ejection at the given level: base_ejection_ms << level, capped at max_ejection_ms. Pure. */
uint64_t sl_pool_ejection_ms(const sl_conf_outlier_t *o, uint32_t level);

/* 1 when one more endpoint may be ejected out of num_endpoints of which num_ejected already are: always when none
 * is, else when (num_ejected + 1) * 100 <= max_percent * num_endpoints. Pure. */
int sl_pool_may_eject(size_t num_endpoints, size_t num_ejected, uint32_t max_percent);

/* The control thread's pass over one backend's endpoints at now_ms (monotonic): ends passive ejections whose time
 * is up (the streak restarts at 0), decays ejection levels, then grants pending ejection requests within the cap.
 * Returns the number of endpoints ejected by this call. */
size_t sl_pool_update(sl_pool_endpoint_t *const *eps, size_t n, const sl_conf_outlier_t *o, uint64_t now_ms);

#endif
