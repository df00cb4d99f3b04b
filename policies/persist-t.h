/*
 * persist-t.h - types of the atomic state files kept in state_dir (policies/persist.c).
 */
#ifndef SL_POLICIES_PERSIST_T_H
#define SL_POLICIES_PERSIST_T_H

#include <stddef.h>
#include <stdint.h>

/* Envelope layout version written by this build (see persist.c). */
#define SL_PERSIST_VERSION 1u
#define SL_PERSIST_HEADER 40u
#define SL_PERSIST_TRAILER 4u
/* Longest kind name ("slo", "rollout", ...), without the NUL. */
#define SL_PERSIST_KIND_MAX 15u
/* Largest state file read or written; a bigger file is refused as corrupt, a bigger payload is not written. */
#define SL_PERSIST_MAX_BYTES ((size_t)1 << 30)
/* Room for a reason given to the caller ("checksum mismatch", "state_dir ...: Permission denied"). */
#define SL_PERSIST_WHY_MAX 256u

/* Default and bounds of the write interval (state_interval in the config). */
#define SL_PERSIST_DEFAULT_INTERVAL_MS 10000u
#define SL_PERSIST_MIN_INTERVAL_MS 1000u
#define SL_PERSIST_MAX_INTERVAL_MS 3600000u

/*
 * One state file: <dir>/<name>, holding one payload of one kind and payload version. Caller-owned storage
 * (sl_persist_init / sl_persist_dispose). Control thread only.
 */
typedef struct st_sl_persist_t {
    char *dir;      /* owned */
    char *path;     /* owned: dir/name */
    char *tmp_path; /* owned: dir/.name.tmp */
    char kind[SL_PERSIST_KIND_MAX + 1];
    uint16_t payload_version;
    uint32_t interval_ms;   /* longest time between two writes (the most a kill -9 can lose) */
    uint64_t last_write_ms; /* monotonic time of the last successful write; 0 = never written */
    uint64_t writes;        /* successful writes */
    uint64_t failures;      /* failed writes (each one logged) */
    int blocked_private;    /* a damaged state file could not be set aside: refuse to overwrite it */
} sl_persist_t;

/* What sl_persist_read found. */
enum en_sl_persist_found_t {
    SL_PERSIST_FOUND_NONE = 0, /* no file: a first start */
    SL_PERSIST_FOUND_OK,       /* a valid envelope; the payload is in the caller's buffer */
    SL_PERSIST_FOUND_SET_ASIDE /* the file was damaged or foreign; it was reported and renamed aside */
};

#endif
