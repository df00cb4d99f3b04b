/*
 * snapshot-t.h - the header every immutable, shared snapshot (config, verdicts) starts with. See snapshot.h.
 */
#ifndef SL_CONF_SNAPSHOT_T_H
#define SL_CONF_SNAPSHOT_T_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct st_sl_snapshot_t sl_snapshot_t;
struct st_sl_snapshot_t {
    _Atomic uint32_t refs;                /* counted holders: the slot, and each worker that holds it */
    void (*dispose)(sl_snapshot_t *self); /* frees the snapshot; runs on the thread that drops the last ref */
    uint64_t retire_epoch;                /* set when the slot stops pointing at it */
    sl_snapshot_t *next_retired;          /* the slot's list of retired snapshots, control thread only */
};

/* One reader per worker thread (conf/snapshot.h). Caller-owned storage; written by its worker, except
 * announced_epoch which the control thread reads. Aligned so two workers' readers never share a cache line. */
typedef struct st_sl_snapshot_pinned_t {
    sl_snapshot_t *snap; /* a snapshot the slot no longer points at, still pinned by requests of this worker */
    size_t pins;
} sl_snapshot_pinned_t;

typedef struct st_sl_snapshot_slot_t sl_snapshot_slot_t;
typedef struct st_sl_snapshot_reader_t sl_snapshot_reader_t;

struct st_sl_snapshot_reader_t {
    _Alignas(64) _Atomic uint64_t announced_epoch; /* UINT64_MAX once detached */
    sl_snapshot_slot_t *slot;
    sl_snapshot_reader_t *next; /* the slot's list of readers */
    /* worker thread only */
    sl_snapshot_t *held; /* the snapshot new requests get; one counted reference */
    size_t held_pins;
    sl_snapshot_pinned_t *old; /* heap array, grown on demand at quiescent points */
    size_t num_old, cap_old;
};

/* Where a snapshot is published. current and epoch are shared; the rest belongs to the control thread. */
struct st_sl_snapshot_slot_t {
    _Alignas(64) _Atomic(sl_snapshot_t *) current; /* one counted reference owned by the slot */
    _Atomic uint64_t epoch;                        /* incremented after every publish */
    sl_snapshot_reader_t *readers;                 /* registered before the workers start */
    sl_snapshot_t *retired;                        /* still referenced by the slot, newest first */
    size_t num_retired;
};

#endif
