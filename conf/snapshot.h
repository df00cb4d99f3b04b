/*
 * snapshot.h - publish an immutable snapshot (config, verdicts) to worker threads with one atomic pointer swap, and
 * free each old one once no worker can still see it.
 *
 * Roles. One control thread owns a slot (sl_snapshot_slot_t) and publishes into it. Each worker thread owns one
 * reader (sl_snapshot_reader_t), registered with the slot before the workers start. A snapshot is any struct that
 * embeds sl_snapshot_t as its first member and frees itself in its dispose callback.
 *
 * Protocol (epoch-based, lock-free for readers, zero atomic operations per request):
 *  - the worker calls sl_snapshot_reader_quiesce() at the top of every event-loop iteration, where it holds no raw
 *    snapshot pointer: it reads the slot's epoch, then `current`; when current changed it takes a counted reference
 *    on the new one, keeps the previous one aside while requests still pin it, then announces the epoch it read;
 *  - a request calls sl_snapshot_pin() once and sl_snapshot_unpin() when it ends (any later iteration of the same
 *    worker's loop); both only touch reader-local counters;
 *  - sl_snapshot_publish() swaps `current` (one atomic exchange), then increments the epoch and retires the old
 *    snapshot with that epoch; sl_snapshot_reclaim() drops the slot's reference to a retired snapshot once every
 *    reader has announced an epoch at least as new, i.e. no reader can still be between its load of `current` and
 *    its increment of the reference count.
 * A reader idle in its event loop stalls reclamation (never correctness): wake the workers after a publish.
 */
#ifndef SL_CONF_SNAPSHOT_H
#define SL_CONF_SNAPSHOT_H

#include "conf/snapshot-t.h"

/* Initializes the header of a new snapshot with one reference (owned by the caller) and its dispose callback. */
void sl_snapshot_init(sl_snapshot_t *snap, void (*dispose)(sl_snapshot_t *self));

/* Adds a counted reference (atomic). The caller must already hold one. Any thread. */
void sl_snapshot_retain(sl_snapshot_t *snap);

/* Drops a counted reference (atomic); the last one runs dispose on the calling thread. NULL is ignored. */
void sl_snapshot_release(sl_snapshot_t *snap);

/* 1 when the caller's reference is the only one left (acquire), so nobody else can reach snap any more: a
 * snapshot the slot retired and reclaimed, that no reader holds. Any thread holding a reference. */
int sl_snapshot_is_last_ref(sl_snapshot_t *snap);

/* Initializes a slot; takes the caller's reference to initial (may be NULL: nothing published yet). Control thread,
 * before any reader is registered. */
void sl_snapshot_slot_init(sl_snapshot_slot_t *slot, sl_snapshot_t *initial);

/* Drops the slot's references to current and to every retired snapshot. Call after every reader was disposed
 * (workers joined). */
void sl_snapshot_slot_dispose(sl_snapshot_slot_t *slot);

/* The published snapshot, borrowed (valid until the next publish on this thread). Control thread only. */
sl_snapshot_t *sl_snapshot_slot_peek(sl_snapshot_slot_t *slot);

/* Publishes snap, taking the caller's reference; the previous snapshot is retired. Control thread. */
void sl_snapshot_publish(sl_snapshot_slot_t *slot, sl_snapshot_t *snap);

/* Drops the slot's reference to every retired snapshot that no reader can still be acquiring. Returns how many
 * retired snapshots remain waiting. Control thread, periodically. */
size_t sl_snapshot_reclaim(sl_snapshot_slot_t *slot);

/* Initializes reader storage and registers it with slot. Control thread, before the workers start. The reader
 * holds nothing until its first quiesce and, until then, stalls reclamation like any registered reader. */
void sl_snapshot_reader_init(sl_snapshot_reader_t *reader, sl_snapshot_slot_t *slot);

/* Quiescent point: see the protocol above. Worker thread, at the top of each loop iteration. */
void sl_snapshot_reader_quiesce(sl_snapshot_reader_t *reader);

/* Returns the reader's current snapshot (borrowed until the matching unpin), or NULL if none was published before
 * the last quiesce. Reader-local, no atomics. Worker thread. */
sl_snapshot_t *sl_snapshot_pin(sl_snapshot_reader_t *reader);

/* Ends a pin returned by sl_snapshot_pin() on the same reader. When the last pin of a superseded snapshot ends,
 * the reader's reference to it is dropped (it may be freed here). NULL is ignored. Worker thread. */
void sl_snapshot_unpin(sl_snapshot_reader_t *reader, sl_snapshot_t *snap);

/* Detaches the reader: drops every reference it holds and stops it from stalling reclamation. Every pin must have
 * ended. The storage stays registered (the slot may still read it) until sl_snapshot_slot_dispose(). Worker
 * thread, when it exits. */
void sl_snapshot_reader_dispose(sl_snapshot_reader_t *reader);

#endif
