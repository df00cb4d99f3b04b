/*
 * conf.h - load, validate and look up the configuration (types in conf/conf-t.h, full reference in docs/CONFIG.md).
 *
 * A load reads one YAML file into a new immutable sl_conf_t whose every string and array lives in the snapshot's
 * arena. Either the whole file is valid and a snapshot is returned, or nothing is returned and every error found is
 * reported as "file:line:col: key.path: message". Loading runs on the control thread (or in `sluice check`); the
 * result is shared read-only with the workers through conf/snapshot.h.
 */
#ifndef SL_CONF_CONF_H
#define SL_CONF_CONF_H

#include <stdint.h>

#include "conf/conf-t.h"
#include "conf/snapshot.h"

/* Reads and validates the file at path (at most SL_CONF_MAX_FILE_BYTES). Returns SL_OK with *out a new snapshot
 * holding one reference owned by the caller (release with sl_conf_release); SL_ECONFIG when the file has errors,
 * SL_EIO when it cannot be read. On failure every error is appended to errs (at least one) and *out is untouched.
 * Any thread, but not concurrently with itself on the same errs. */
int sl_conf_load_file(const char *path, sl_conf_t **out, sl_conf_errors_t *errs);

/* As sl_conf_load_file on the len bytes at yaml; name is what errors print as the file and becomes conf->path.
 * Returns SL_OK or SL_ECONFIG. yaml need not be NUL-terminated. */
int sl_conf_load_string(const char *name, const char *yaml, size_t len, sl_conf_t **out, sl_conf_errors_t *errs);

/* Adds / drops a counted reference to a snapshot (see conf/snapshot.h); the last release frees the arena. */
void sl_conf_retain(sl_conf_t *conf);
void sl_conf_release(sl_conf_t *conf);

/* The config a snapshot pinned from a config slot is; NULL stays NULL. */
static inline sl_conf_t *sl_conf_from_snapshot(sl_snapshot_t *snap)
{
    return (sl_conf_t *)snap;
}

/* Error lists: caller-owned storage. dispose frees every message and leaves an empty, reusable list. */
void sl_conf_errors_init(sl_conf_errors_t *errs);
void sl_conf_errors_dispose(sl_conf_errors_t *errs);
/* Appends one formatted message (kept only while fewer than SL_CONF_MAX_ERRORS are stored, else counted). */
void sl_conf_errors_addf(sl_conf_errors_t *errs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline size_t sl_conf_errors_count(const sl_conf_errors_t *errs)
{
    return errs->count;
}
/* Message i (0 <= i < count), borrowed from errs. */
static inline const char *sl_conf_errors_get(const sl_conf_errors_t *errs, size_t i)
{
    return errs->msgs[i];
}

/* Lookups by name; return a pointer borrowed from conf, or NULL. */
const sl_conf_backend_t *sl_conf_find_backend(const sl_conf_t *conf, const char *name);
const sl_conf_route_t *sl_conf_find_route(const sl_conf_t *conf, const char *name);

/* Display names of enum values ("openai", "logprob_mean", "upstream_5xx", "gt", ...); never NULL. */
const char *sl_conf_protocol_name(enum en_sl_protocol_t protocol);
const char *sl_conf_signal_name(enum en_sl_signal_kind_t kind);
const char *sl_conf_failure_name(enum en_sl_failure_t failure);
const char *sl_conf_cmp_name(enum en_sl_cmp_t cmp);
/* "error_rate", "latency", "ttft", "tpot", "accept_rate", "confidence", "srm" (conf/load_rollout.c). */
const char *sl_conf_rollout_check_name(enum en_sl_conf_check_t check);

/* Formats a duration (ms) or a size (bytes) in the largest unit that divides it exactly, as the file would write
 * it: "10m", "1500ms", "8MiB", "100B"; 0 is "0". Returns buf. Any thread. */
const char *sl_conf_format_duration(uint64_t ms, char *buf, size_t bufsz);
/* The same for a duration in microseconds: "50us", "1500us", "2ms", "1s". */
const char *sl_conf_format_duration_us(uint64_t us, char *buf, size_t bufsz);
const char *sl_conf_format_size(uint64_t bytes, char *buf, size_t bufsz);

/*
 * Unit parsers. Each takes a NUL-terminated text, returns SL_OK with the value in *out, or SL_EINVAL / SL_ERANGE
 * with *err pointing to a static message (and *out untouched). Ranges specific to a key are the caller's.
 */

/* Durations: a decimal number and one unit of ms, s, m, h or d: "250ms", "2s", "1.5s", "5m", "1h", "28d". The value
 * must be a whole number of milliseconds; "0" alone is accepted; bare numbers are rejected (with a hint); values
 * above 2^53 ms are SL_ERANGE. */
int sl_conf_parse_duration_ms(const char *text, uint64_t *out, const char **err);

/* Short durations, in microseconds: a decimal number and one unit of us, ms or s: "50us", "0.5ms", "1s". The value
 * must be a whole number of microseconds; "0" alone is accepted; bare numbers are rejected (with a hint); values
 * above 2^53 us are SL_ERANGE. */
int sl_conf_parse_duration_us(const char *text, uint64_t *out, const char **err);

/* Sizes: a decimal number and a unit: B; KiB, MiB, GiB, TiB (powers of 1024); KB (or kB), MB, GB, TB (powers of
 * 1000). "8MiB" = 8388608, "8MB" = 8000000, "1.5KiB" = 1536. The value must be a whole number of bytes; "0" alone is
 * accepted; bare numbers are rejected; values above 2^53 bytes are SL_ERANGE. */
int sl_conf_parse_size(const char *text, uint64_t *out, const char **err);

/* Percentages: a decimal number followed by "%": "99.9%" -> 0.999 (correctly rounded), "5%" -> 0.05. At most 15
 * significant digits; the sign is allowed, the range is the caller's. */
int sl_conf_parse_percent(const char *text, double *out, const char **err);

/* Booleans: exactly "true" or "false". */
int sl_conf_parse_bool(const char *text, int *out, const char **err);

/* Integers: optional '-', decimal digits only; SL_ERANGE outside [min, max]. */
int sl_conf_parse_int(const char *text, int64_t min, int64_t max, int64_t *out, const char **err);

/* Numbers: a finite decimal number ("-0.35", "1e-4", "2"); no hex, inf or nan. */
int sl_conf_parse_number(const char *text, double *out, const char **err);

/* Enums: *out = the index of text in the NULL-terminated names. On SL_EINVAL, *suggestion is the closest name when
 * text looks like a typo of it, else NULL. */
int sl_conf_parse_enum(const char *text, const char *const *names, int *out, const char **suggestion);

/* JSON pointers (RFC 6901): "" or a sequence of "/" + reference tokens in which "~" is followed by "0" or "1". */
int sl_conf_check_json_pointer(const char *text, const char **err);

#endif
