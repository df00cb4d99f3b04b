/*
 * log.h - leveled, rate-limited logging to stderr.
 *
 * SL_LOG(level, module, fmt, ...) evaluates none of its arguments when the level is disabled. Each call site is
 * rate limited on its own (SL_LOG_BURST lines per second); what it drops is counted and reported with the next line
 * it lets through, so a storm of identical errors costs one line per second and loses no information about volume.
 * Safe from any thread: the line is formatted on the stack and written with one write(2), which never waits for a
 * reader that does not read (a pipe or socket on stderr): a line that finds no room is dropped and counted with the
 * suppressed ones.
 * The router never logs; it returns reasons and the gateway logs them.
 */
#ifndef SL_COMMON_LOG_H
#define SL_COMMON_LOG_H

#include <stdatomic.h>
#include <stdint.h>

enum en_sl_log_level_t { SL_LOG_ERROR = 0, SL_LOG_WARN = 1, SL_LOG_INFO = 2, SL_LOG_DEBUG = 3 };

#define SL_LOG_BURST 10

typedef struct st_sl_log_site_t {
    _Atomic uint64_t second;     /* the wall-clock second the current burst belongs to */
    _Atomic uint32_t count;      /* lines let through in that second */
    _Atomic uint32_t suppressed; /* lines dropped since the last line let through */
} sl_log_site_t;

extern int sl_log_level;

/* Parses "error", "warn", "info" or "debug"; returns SL_OK or SL_EINVAL (level untouched). */
int sl_log_parse_level(const char *s, int *level);

/* The rate limiter alone: decides whether a line of `site` in wall-clock second `sec` is let through. Returns 1
 * (and the number of lines dropped since the last one let through in *suppressed) or 0 (the line is dropped and
 * counted). Lock-free; any thread. */
int sl_log_admit(sl_log_site_t *site, uint64_t sec, uint32_t *suppressed);

void sl_log_write(sl_log_site_t *site, int level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define SL_LOG(level, module, ...)                                                                                   \
    do {                                                                                                               \
        if ((level) <= sl_log_level) {                                                                                 \
            static sl_log_site_t sl_log_site_;                                                                         \
            sl_log_write(&sl_log_site_, (level), (module), __VA_ARGS__);                                               \
        }                                                                                                              \
    } while (0)

#endif
