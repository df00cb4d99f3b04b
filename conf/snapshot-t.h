/*
 * snapshot-t.h - the header every immutable, shared snapshot (config, verdicts) starts with. See snapshot.h.
 */
#ifndef SL_CONF_SNAPSHOT_T_H
#define SL_CONF_SNAPSHOT_T_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct st_sl_snapshot_t sl_snapshot_t;
struct st_sl_snapshot_t {
    _Atomic uint32_t refs;                  /* counted holders: the slot, and each worker that holds it */
    void (*dispose)(sl_snapshot_t *self);   /* frees the snapshot; runs on the thread that drops the last ref */
    uint64_t retire_epoch;                  /* set when the slot stops pointing at it */
    sl_snapshot_t *next_retired;            /* the slot's list of retired snapshots, control thread only */
};

#endif
