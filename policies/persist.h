/*
 * persist.h - atomic, checksummed state files in state_dir, written at a bounded interval and read at start.
 *
 * A policy that must survive restarts (error budgets, rollout state) owns one sl_persist_t. It builds its payload
 * after sl_persist_begin(), hands it to sl_persist_write() when sl_persist_due() says so and at shutdown, and reads
 * it back once at start with sl_persist_read(). A damaged or foreign file is never trusted, never overwritten and
 * never deleted: it is logged and renamed aside, and the caller is told why.
 * Control thread only (or a command-line tool); nothing here is on the request path.
 */
#ifndef SL_POLICIES_PERSIST_H
#define SL_POLICIES_PERSIST_H

#include "policies/persist-t.h"

#include "common/str.h"

/*
 * Prepares p for the file <dir>/<name> holding payloads of `kind` (1 .. 15 characters) at `payload_version`,
 * written at most interval_ms apart (SL_PERSIST_MIN_INTERVAL_MS .. SL_PERSIST_MAX_INTERVAL_MS).
 * dir is created (mode 0700) when missing and its parent exists; it must then be a directory this process can
 * create files in (checked by creating and removing the temp file). name is 1 .. 64 of [A-Za-z0-9._-], not
 * starting with '.'.
 * Returns SL_OK; SL_EINVAL (bad name, kind or interval); SL_EIO (the directory is missing and cannot be created,
 * is not a directory, or is not writable) - then why holds "state_dir <dir>: <reason>", the failure is logged and p
 * is left zeroed (sl_persist_dispose is still safe). The caller owns p and calls sl_persist_dispose().
 */
int sl_persist_init(sl_persist_t *p, const char *dir, const char *name, const char *kind, uint16_t payload_version,
                    uint32_t interval_ms, char why[SL_PERSIST_WHY_MAX]);

/* Frees p's strings; safe on a zeroed or disposed p. */
void sl_persist_dispose(sl_persist_t *p);

/* 1 when interval_ms have passed since the last successful write (or nothing was ever written), by the monotonic
 * clock now_ms. */
int sl_persist_due(const sl_persist_t *p, uint64_t now_ms);

/* Empties b and reserves the envelope header: append the payload to b afterwards, then call sl_persist_write(). */
int sl_persist_begin(sl_buf_t *b);

/*
 * Completes the envelope in b (filled by sl_persist_begin() and the payload; b grows by the 4-byte checksum) and
 * writes it atomically: temp file, write, fsync, rename over the state file, fsync of the directory. A crash at any
 * point leaves either the previous file or the new one, whole. now_ms (monotonic) becomes last_write_ms; wall_ms is
 * recorded in the file. Returns SL_OK; SL_EINVAL (b was not begun, or the payload exceeds SL_PERSIST_MAX_BYTES);
 * SL_ENOMEM (b's cap); SL_EIO with why set and the failure logged (the old file is untouched and the temp file
 * removed). Writes are refused with SL_EIO while a state file that could not be read or set aside is in place.
 */
int sl_persist_write(sl_persist_t *p, sl_buf_t *b, uint64_t now_ms, uint64_t wall_ms, char why[SL_PERSIST_WHY_MAX]);

/*
 * Reads the state file into buf (emptied first) and checks its envelope: length, magic, envelope version, payload
 * length, CRC-32C, kind and payload version. Returns SL_OK and *found:
 *   SL_PERSIST_FOUND_NONE       no file (first start)
 *   SL_PERSIST_FOUND_OK         *payload, *len point into buf; *written_wall_ms is the writer's wall clock
 *   SL_PERSIST_FOUND_SET_ASIDE  the file was empty, truncated, corrupt, foreign, of another version or unreadable:
 *                               it was logged with its path and reason and renamed to
 *                               <name>.corrupt-<unix seconds> (".N" appended if taken); why says what was wrong and
 *                               where the file went
 * or SL_EIO when a damaged file could not even be renamed aside (why set, logged); p then refuses every write so
 * the file is never overwritten. Outputs other than *found and why are untouched unless FOUND_OK.
 */
int sl_persist_read(sl_persist_t *p, sl_buf_t *buf, enum en_sl_persist_found_t *found, const void **payload, size_t *len,
                    uint64_t *written_wall_ms, uint64_t wall_ms, char why[SL_PERSIST_WHY_MAX]);

/*
 * Sets the state file aside because its payload failed the policy's own checks (reason, e.g. "window of route chat:
 * checksum mismatch"): logs it with the path and renames it as sl_persist_read() does. Returns SL_OK with why
 * naming the new file, SL_ENOENT when there is no file, or SL_EIO (why set; p then refuses writes).
 */
int sl_persist_set_aside(sl_persist_t *p, const char *reason, uint64_t wall_ms, char why[SL_PERSIST_WHY_MAX]);

/*
 * Writes len bytes to path atomically (temp file next to it, fsync, rename, fsync of the directory), mode 0644.
 * For generated files (`sluice rules -o`). Returns SL_OK or SL_EIO with why set (nothing logged).
 */
int sl_persist_write_file(const char *path, const void *data, size_t len, char why[SL_PERSIST_WHY_MAX]);

#endif
