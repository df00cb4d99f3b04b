/*
 * monitor_ring.h - a bounded single-producer single-consumer ring of fixed-size records: how monitoring data that
 * is more than a counter crosses from a worker to the control thread (a prediction waiting for its label, a sample
 * of a baseline being captured) without a lock.
 *
 * One worker pushes, the control thread pops. The producer owns `head`, the consumer owns `tail`, each on its own
 * cache line; a push writes the record, then publishes it with a release store of head; a pop reads head with an
 * acquire load, copies the record out, then frees its slot with a release store of tail. A full ring drops the
 * record and counts it (`dropped`, written by the producer only): the worker never waits.
 */
#ifndef SL_POLICIES_MONITOR_RING_H
#define SL_POLICIES_MONITOR_RING_H

#include <stddef.h>
#include <stdint.h>

typedef struct st_sl_monitor_ring_t {
    _Alignas(64) uint64_t head; /* records pushed (producer) */
    uint64_t dropped;           /* records refused because the ring was full (producer) */
    _Alignas(64) uint64_t tail; /* records popped (consumer) */
    _Alignas(64) uint32_t mask; /* capacity - 1; immutable after init */
    uint32_t record_size;       /* bytes of one record; immutable after init */
    unsigned char *records_private;
} sl_monitor_ring_t;

/* Prepares an empty ring of `capacity` records (a power of two, 2 .. 2^24) of record_size bytes (1 .. 65536) and
 * allocates them. Returns SL_OK or SL_EINVAL (r untouched). Caller-owned r; sl_monitor_ring_dispose frees. Not
 * concurrent with anything on r. */
int sl_monitor_ring_init(sl_monitor_ring_t *r, uint32_t capacity, uint32_t record_size);

/* Frees the records; safe on a zero-filled or disposed ring. Call when neither side uses it any more. */
void sl_monitor_ring_dispose(sl_monitor_ring_t *r);

/* Producer: copies record_size bytes of rec into the ring. Returns 1, or 0 when the ring is full (the record is
 * dropped and counted). O(1), no allocation, no lock. */
int sl_monitor_ring_push(sl_monitor_ring_t *r, const void *rec);

/* Consumer: copies the oldest record into out and frees its slot. Returns 1, or 0 when the ring is empty. */
int sl_monitor_ring_pop(sl_monitor_ring_t *r, void *out);

/* Records dropped so far (any thread; a relaxed read of the producer's counter). */
uint64_t sl_monitor_ring_dropped(const sl_monitor_ring_t *r);

#endif
