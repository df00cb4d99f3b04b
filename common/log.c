/*
 * log.c - see log.h. Lines look like
 *     2026-11-26T12:00:00.123Z error [proxy] upstream 127.0.0.1:8001: connection refused (3 similar suppressed)
 * The rate limiter is lock-free: a call site's burst counter is reset by whoever first sees a new second; a race
 * can let one or two extra lines through, never lose the suppressed count.
 */
#include "common/log.h"
#include "common/status.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int sl_log_level = SL_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int sl_log_parse_level(const char *s, int *level)
{
    for (int i = 0; i != 4; ++i) {
        if (strcmp(s, level_names[i]) == 0) {
            *level = i;
            return SL_OK;
        }
    }
    return SL_EINVAL;
}

int sl_log_admit(sl_log_site_t *site, uint64_t sec, uint32_t *suppressed)
{
    uint64_t prev = atomic_load_explicit(&site->second, memory_order_relaxed);
    if (prev != sec && atomic_compare_exchange_strong(&site->second, &prev, sec))
        atomic_store_explicit(&site->count, 0, memory_order_relaxed);
    if (atomic_fetch_add_explicit(&site->count, 1, memory_order_relaxed) >= SL_LOG_BURST) {
        atomic_fetch_add_explicit(&site->suppressed, 1, memory_order_relaxed);
        return 0;
    }
    *suppressed = atomic_exchange_explicit(&site->suppressed, 0, memory_order_relaxed);
    return 1;
}

/* One line to stderr without ever waiting for its reader: a socket (journald) is sent to with MSG_DONTWAIT, a pipe
 * or FIFO written through a descriptor of its own opened with O_NONBLOCK (/proc/self/fd/2: the flag then stays off
 * stderr's open file description, which the parent shares); a line (at most 2 KiB, under PIPE_BUF) then goes in
 * whole or not at all. Files and terminals are written as they are. Returns 1 when the line went out. */
static int write_line(const char *line, size_t n)
{
    struct stat st;
    if (fstat(STDERR_FILENO, &st) == 0) {
        if (S_ISSOCK(st.st_mode))
            return send(STDERR_FILENO, line, n, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)n;
        if (S_ISFIFO(st.st_mode)) {
            int fd = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
            if (fd != -1) {
                ssize_t r = write(fd, line, n);
                close(fd);
                return r == (ssize_t)n;
            }
        }
    }
    return write(STDERR_FILENO, line, n) == (ssize_t)n;
}

void sl_log_write(sl_log_site_t *site, int level, const char *module, const char *fmt, ...)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    uint32_t suppressed;
    if (!sl_log_admit(site, (uint64_t)tv.tv_sec, &suppressed))
        return;

    char line[2048];
    struct tm tm;
    time_t t = tv.tv_sec;
    gmtime_r(&t, &tm);
    int n = (int)strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(line + n, sizeof(line) - n, ".%03dZ %s [%s] ", (int)(tv.tv_usec / 1000),
                  level_names[level < 0 ? 0 : level > 3 ? 3 : level], module);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    va_end(ap);
    n = m < 0 ? n : n + m;
    if (n > (int)sizeof(line) - 48)
        n = (int)sizeof(line) - 48; /* truncated: keep room for the suffix */
    if (suppressed != 0)
        n += snprintf(line + n, sizeof(line) - n, " (%u similar suppressed)", suppressed);
    line[n++] = '\n';
    if (!write_line(line, (size_t)n))
        atomic_fetch_add_explicit(&site->suppressed, 1, memory_order_relaxed);
}

const char *sl_strerror(int status)
{
    switch (status) {
    case SL_OK:
        return "success";
    case SL_EINVAL:
        return "invalid argument";
    case SL_ENOMEM:
        return "limit reached";
    case SL_ENOENT:
        return "not found";
    case SL_EIO:
        return "I/O error";
    case SL_ERANGE:
        return "out of range";
    case SL_EEXIST:
        return "already exists";
    case SL_ETIMEDOUT:
        return "timed out";
    case SL_EAGAIN:
        return "try again";
    case SL_ESYNTAX:
        return "syntax error";
    case SL_ECONFIG:
        return "configuration error";
    case SL_EPROTO:
        return "protocol error";
    case SL_ECLOSED:
        return "closed";
    default:
        return "unknown error";
    }
}
