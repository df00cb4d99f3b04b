/*
 * snapshot.c - epoch-based publish/reclaim of immutable snapshots; the protocol is described in snapshot.h.
 *
 * Why it is safe. The publisher writes `current` (exchange) and then increments `epoch` (release); a reader reads
 * `epoch` (acquire) and then `current`. If a reader loaded the snapshot S that a publish replaced, its epoch load
 * happened before that publish's increment was visible, so the epoch it announces after taking its reference is
 * below S's retire epoch. The slot drops its own reference to S only once every reader announced an epoch >= the
 * retire epoch (acquire, pairing with the reader's release store), so the reader's increment of S's count is
 * ordered before the slot's decrement: the count cannot reach zero while a reader is between its load and its
 * increment. After that, plain reference counting frees S when the last holder lets go.
 *
 * Threads: slot functions on the control thread; reader functions on the reader's worker thread. Pin and unpin
 * touch only reader-local fields. Memory for a reader's list of superseded snapshots is grown at quiescent points,
 * never on a request.
 */
#include "conf/snapshot.h"
#include "common/alloc.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

void sl_snapshot_init(sl_snapshot_t *snap, void (*dispose)(sl_snapshot_t *self))
{
    atomic_init(&snap->refs, 1);
    snap->dispose = dispose;
    snap->retire_epoch = 0;
    snap->next_retired = NULL;
}

void sl_snapshot_retain(sl_snapshot_t *snap)
{
    uint32_t prev = atomic_fetch_add_explicit(&snap->refs, 1, memory_order_relaxed);
    assert(prev != 0);
    (void)prev;
}

void sl_snapshot_release(sl_snapshot_t *snap)
{
    if (snap == NULL)
        return;
    uint32_t prev = atomic_fetch_sub_explicit(&snap->refs, 1, memory_order_acq_rel);
    assert(prev != 0);
    if (prev == 1)
        snap->dispose(snap);
}

int sl_snapshot_is_last_ref(sl_snapshot_t *snap)
{
    return atomic_load_explicit(&snap->refs, memory_order_acquire) == 1;
}

void sl_snapshot_slot_init(sl_snapshot_slot_t *slot, sl_snapshot_t *initial)
{
    memset(slot, 0, sizeof(*slot));
    atomic_init(&slot->current, initial);
    atomic_init(&slot->epoch, 1);
}

void sl_snapshot_slot_dispose(sl_snapshot_slot_t *slot)
{
    sl_snapshot_t *s = slot->retired;
    while (s != NULL) {
        sl_snapshot_t *next = s->next_retired;
        sl_snapshot_release(s);
        s = next;
    }
    slot->retired = NULL;
    slot->num_retired = 0;
    sl_snapshot_release(atomic_exchange_explicit(&slot->current, NULL, memory_order_acq_rel));
    slot->readers = NULL;
}

sl_snapshot_t *sl_snapshot_slot_peek(sl_snapshot_slot_t *slot)
{
    return atomic_load_explicit(&slot->current, memory_order_relaxed);
}

void sl_snapshot_publish(sl_snapshot_slot_t *slot, sl_snapshot_t *snap)
{
    sl_snapshot_t *old = atomic_exchange_explicit(&slot->current, snap, memory_order_acq_rel);
    uint64_t retire_epoch = atomic_fetch_add_explicit(&slot->epoch, 1, memory_order_acq_rel) + 1;
    if (old == NULL)
        return;
    old->retire_epoch = retire_epoch;
    old->next_retired = slot->retired;
    slot->retired = old;
    ++slot->num_retired;
}

size_t sl_snapshot_reclaim(sl_snapshot_slot_t *slot)
{
    uint64_t min_epoch = UINT64_MAX;
    for (sl_snapshot_reader_t *r = slot->readers; r != NULL; r = r->next) {
        uint64_t e = atomic_load_explicit(&r->announced_epoch, memory_order_acquire);
        if (e < min_epoch)
            min_epoch = e;
    }
    sl_snapshot_t **link = &slot->retired;
    while (*link != NULL) {
        sl_snapshot_t *s = *link;
        if (s->retire_epoch <= min_epoch) {
            *link = s->next_retired;
            --slot->num_retired;
            sl_snapshot_release(s);
        } else {
            link = &s->next_retired;
        }
    }
    return slot->num_retired;
}

void sl_snapshot_reader_init(sl_snapshot_reader_t *reader, sl_snapshot_slot_t *slot)
{
    memset(reader, 0, sizeof(*reader));
    reader->slot = slot;
    atomic_init(&reader->announced_epoch, atomic_load_explicit(&slot->epoch, memory_order_acquire));
    reader->next = slot->readers;
    slot->readers = reader;
}

/* Keeps a superseded snapshot that requests still pin, or drops the reader's reference at once. */
static void set_aside(sl_snapshot_reader_t *reader, sl_snapshot_t *snap, size_t pins)
{
    if (pins == 0) {
        sl_snapshot_release(snap);
        return;
    }
    if (reader->num_old == reader->cap_old) {
        reader->cap_old = reader->cap_old == 0 ? 4 : reader->cap_old * 2;
        reader->old = sl_realloc(reader->old, reader->cap_old * sizeof(*reader->old));
    }
    reader->old[reader->num_old].snap = snap;
    reader->old[reader->num_old].pins = pins;
    ++reader->num_old;
}

void sl_snapshot_reader_quiesce(sl_snapshot_reader_t *reader)
{
    sl_snapshot_slot_t *slot = reader->slot;
    uint64_t epoch = atomic_load_explicit(&slot->epoch, memory_order_acquire);
    sl_snapshot_t *cur = atomic_load_explicit(&slot->current, memory_order_acquire);
    if (cur != reader->held) {
        if (cur != NULL)
            sl_snapshot_retain(cur); /* safe: the epoch announced so far predates cur's retirement */
        if (reader->held != NULL)
            set_aside(reader, reader->held, reader->held_pins);
        reader->held = cur;
        reader->held_pins = 0;
    }
    atomic_store_explicit(&reader->announced_epoch, epoch, memory_order_release);
}

sl_snapshot_t *sl_snapshot_pin(sl_snapshot_reader_t *reader)
{
    if (reader->held != NULL)
        ++reader->held_pins;
    return reader->held;
}

void sl_snapshot_unpin(sl_snapshot_reader_t *reader, sl_snapshot_t *snap)
{
    if (snap == NULL)
        return;
    if (snap == reader->held) {
        assert(reader->held_pins != 0);
        --reader->held_pins;
        return;
    }
    for (size_t i = 0; i != reader->num_old; ++i) {
        if (reader->old[i].snap != snap)
            continue;
        assert(reader->old[i].pins != 0);
        if (--reader->old[i].pins == 0) {
            reader->old[i] = reader->old[--reader->num_old];
            sl_snapshot_release(snap);
        }
        return;
    }
    assert(!"unpin of a snapshot this reader never pinned");
}

void sl_snapshot_reader_dispose(sl_snapshot_reader_t *reader)
{
    assert(reader->held_pins == 0 && reader->num_old == 0);
    for (size_t i = 0; i != reader->num_old; ++i)
        sl_snapshot_release(reader->old[i].snap);
    sl_free(reader->old);
    reader->old = NULL;
    reader->num_old = reader->cap_old = 0;
    sl_snapshot_release(reader->held);
    reader->held = NULL;
    reader->held_pins = 0;
    atomic_store_explicit(&reader->announced_epoch, UINT64_MAX, memory_order_release);
}
