/*
 * monitor_ring.c - the single-producer single-consumer ring (see monitor_ring.h for the protocol).
 *
 * head and tail only grow (64-bit: they never wrap in practice); head - tail is the number of records in the ring,
 * at most capacity. The producer reads tail with acquire so it never overwrites a slot the consumer is still
 * copying; the consumer reads head with acquire so it never copies a slot before the producer's writes to it.
 */
#include "policies/monitor_ring.h"
#include "common/alloc.h"
#include "common/status.h"

#include <string.h>

int sl_monitor_ring_init(sl_monitor_ring_t *r, uint32_t capacity, uint32_t record_size)
{
    if (capacity < 2 || capacity > (1u << 24) || (capacity & (capacity - 1)) != 0 || record_size == 0 || record_size > 65536)
        return SL_EINVAL;
    memset(r, 0, sizeof(*r));
    r->mask = capacity - 1;
    r->record_size = record_size;
    r->records_private = sl_malloc((size_t)capacity * record_size);
    return SL_OK;
}

void sl_monitor_ring_dispose(sl_monitor_ring_t *r)
{
    sl_free(r->records_private);
    r->records_private = NULL;
}

int sl_monitor_ring_push(sl_monitor_ring_t *r, const void *rec)
{
    uint64_t head = __atomic_load_n(&r->head, __ATOMIC_RELAXED);
    uint64_t tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
    if (head - tail > r->mask) {
        __atomic_store_n(&r->dropped, __atomic_load_n(&r->dropped, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
        return 0;
    }
    memcpy(r->records_private + (size_t)(head & r->mask) * r->record_size, rec, r->record_size);
    __atomic_store_n(&r->head, head + 1, __ATOMIC_RELEASE);
    return 1;
}

int sl_monitor_ring_pop(sl_monitor_ring_t *r, void *out)
{
    uint64_t tail = __atomic_load_n(&r->tail, __ATOMIC_RELAXED);
    uint64_t head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
    if (head == tail)
        return 0;
    memcpy(out, r->records_private + (size_t)(tail & r->mask) * r->record_size, r->record_size);
    __atomic_store_n(&r->tail, tail + 1, __ATOMIC_RELEASE);
    return 1;
}

uint64_t sl_monitor_ring_dropped(const sl_monitor_ring_t *r)
{
    return __atomic_load_n(&r->dropped, __ATOMIC_RELAXED);
}
