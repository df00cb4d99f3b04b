/*
 * rollout_store.h - the durable form of a rollout: its state, its decision history and the whole-rollout part of
 * its analysis, in a versioned, checksummed file in state_dir written atomically, and the rules that apply it at
 * start (identity of the canary, steps changed meanwhile, evidence of the interrupted step).
 *
 * One file per rollout: <state_dir>/rollout+<route>+<backend>.state, where backend is the tier's own (stable)
 * backend; '+' is not allowed in names, so the name is unique. Control thread (or a tool) only.
 *
 * Crash safety. A write goes to a temporary file next to the state file, is fsync'd, renamed over the state file,
 * and the directory is fsync'd: a crash at any moment leaves either the previous file or the new one, whole (the
 * checksum rejects anything else). The caller writes *before* it publishes a new weight, so a restart never
 * resumes ahead of what was decided, and a rollback that was published is never forgotten.
 */
#ifndef SL_POLICIES_ROLLOUT_STORE_H
#define SL_POLICIES_ROLLOUT_STORE_H

#include "common/file.h"
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/str.h"
#include "policies/rollout-t.h"

#define SL_ROLLOUT_STORE_VERSION 2u
#define SL_ROLLOUT_STORE_WHY 256u
/* A file larger than this is not read (the largest valid one is ~35 KB). */
#define SL_ROLLOUT_STORE_MAX_BYTES (1u << 20)

/* What a state file holds. About 33 KB: heap or static storage, not the stack of a worker. */
typedef struct st_sl_rollout_saved_t {
    char route[65], backend[65], canary[65];
    uint64_t written_ms; /* the writer's `now` */
    sl_rollout_state_t state;
    sl_rollout_history_t history;
    sl_canary_durable_t durable;
} sl_rollout_saved_t;

/* The file operations a write uses (common/file.h); tests replace them to crash a write at any point. NULL: POSIX. */
typedef sl_file_io_t sl_rollout_store_io_t;

/* Writes the file name into buf ("<dir>/rollout+<route>+<backend>.state"). Returns SL_OK or SL_ERANGE (too long)
 * or SL_EINVAL (a name empty, longer than 64 bytes, or with a character outside [A-Za-z0-9_.-]). */
int sl_rollout_store_path(const char *dir, const char *route, const char *backend, char *buf, size_t bufsz);

/* Appends the encoded rollout (state, history, durable analysis; names for identity) to out. Returns SL_OK, or
 * SL_EINVAL (a name as above), or SL_ENOMEM (out's cap). */
int sl_rollout_store_encode(const sl_rollout_t *r, const char *route, const char *backend, uint64_t now_ms, sl_buf_t *out);

/* Decodes and validates len bytes: length, magic, version, checksum, then every field (names, phases, steps,
 * weights at most 1000, history within bounds, verdict kinds and outcomes, the sequential tests' consistency).
 * Returns SL_OK with *out filled, or SL_EPROTO with *why naming the first defect (out untouched). */
int sl_rollout_store_decode(const void *buf, size_t len, sl_rollout_saved_t *out, const char **why);

/* Encodes r and writes it atomically to its file in dir (see above) through io (NULL: POSIX). Returns SL_OK, or
 * SL_EIO with why set ("<path>: <step> failed: <strerror>"); on failure the previous file is untouched and the
 * temporary file removed. Clears r->dirty on success. */
int sl_rollout_store_write(const char *dir, const char *route, const char *backend, sl_rollout_t *r, uint64_t now_ms,
                           const sl_rollout_store_io_t *io, char why[SL_ROLLOUT_STORE_WHY]);

/*
 * Reads the file of (route, backend) in dir. Returns SL_OK with *found 1 and *out filled; SL_OK with *found 0 when
 * there is no file; or SL_EPROTO when the file is damaged, foreign (other names inside) or unreadable: it is then
 * renamed to <file>.corrupt-<n> (the first free n from 1) so it is kept for inspection and never read again, and
 * why says what was wrong and where the file went. Leftover temporary files of an interrupted write are removed.
 */
int sl_rollout_store_read(const char *dir, const char *route, const char *backend, sl_rollout_saved_t *out, int *found,
                          char why[SL_ROLLOUT_STORE_WHY]);

/*
 * Applies a saved rollout to r (initialized with the current config) at start, and records what happened:
 *  - the saved canary differs from the configured one: a new rollout (event new_canary; the saved history kept);
 *  - otherwise the saved state, history and whole-rollout tests are taken as they are (event restored), the
 *    interrupted step's evidence begins again (its samples were in memory): step clock at now_ms, next analysis
 *    an interval later, no mismatch flagged; then steps changed meanwhile are applied as sl_rollout_reconfigure
 *    does. The phase, step and weight are never moved forward.
 * The caller matched the file to the rollout by its names (sl_rollout_store_read). Sets r->dirty; returns SL_OK.
 */
int sl_rollout_restore(sl_rollout_t *r, const sl_rollout_saved_t *saved, uint64_t now_ms);

/* The state file was unreadable: there is no way to know whether the canary had been rolled back, so the safe
 * choice is to treat it as rolled back (weight 0, event unreadable) until an operator restarts it. */
void sl_rollout_restore_unreadable(sl_rollout_t *r, uint64_t now_ms);

#endif
