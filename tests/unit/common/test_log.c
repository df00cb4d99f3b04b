#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/status.h"

Test(log, rate_limit_burst_then_suppressed_count_reported)
{
    sl_log_site_t site = {0};
    uint32_t suppressed = 99;
    for (int i = 0; i != SL_LOG_BURST; ++i) {
        cr_assert_eq(sl_log_admit(&site, 100, &suppressed), 1, "line %d of the burst", i);
        cr_assert_eq(suppressed, 0);
    }
    for (int i = 0; i != 5; ++i)
        cr_assert_eq(sl_log_admit(&site, 100, &suppressed), 0);
    /* the next second lets a line through and reports what was dropped, once */
    cr_assert_eq(sl_log_admit(&site, 101, &suppressed), 1);
    cr_assert_eq(suppressed, 5);
    cr_assert_eq(sl_log_admit(&site, 101, &suppressed), 1);
    cr_assert_eq(suppressed, 0);
}

static int side_effects;
static int touch(void)
{
    return ++side_effects;
}

Test(log, disabled_level_evaluates_no_argument)
{
    int saved = sl_log_level;
    sl_log_level = SL_LOG_WARN;
    side_effects = 0;
    SL_LOG(SL_LOG_DEBUG, "test", "value %d", touch());
    SL_LOG(SL_LOG_INFO, "test", "value %d", touch());
    cr_assert_eq(side_effects, 0);
    sl_log_level = saved;
}

Test(log, line_format_on_stderr)
{
    char path[] = "/tmp/sluice-log-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    int saved_fd = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    int saved_level = sl_log_level;
    sl_log_level = SL_LOG_INFO;
    SL_LOG(SL_LOG_ERROR, "proxy", "upstream %s: %s", "127.0.0.1:8001", "connection refused");
    sl_log_level = saved_level;
    dup2(saved_fd, STDERR_FILENO);
    close(saved_fd);

    char buf[512] = {0};
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    unlink(path);
    cr_assert_gt(n, 0);
    /* 2026-11-26T12:00:00.123Z error [proxy] upstream 127.0.0.1:8001: connection refused\n */
    cr_assert_eq(buf[4], '-');
    cr_assert_eq(buf[10], 'T');
    cr_assert_eq(buf[23], 'Z');
    cr_assert_str_eq(buf + 24, " error [proxy] upstream 127.0.0.1:8001: connection refused\n");
}

Test(log, parse_level)
{
    int level = -1;
    cr_assert_eq(sl_log_parse_level("debug", &level), SL_OK);
    cr_assert_eq(level, SL_LOG_DEBUG);
    cr_assert_eq(sl_log_parse_level("loud", &level), SL_EINVAL);
    cr_assert_eq(level, SL_LOG_DEBUG); /* untouched on failure */
}

Test(alloc, wrappers_and_stats)
{
    char *s = sl_strndup("abcdef", 3);
    cr_assert_str_eq(s, "abc");
    int *v = sl_calloc(1000, sizeof(int));
    for (int i = 0; i != 1000; ++i)
        cr_assert_eq(v[i], 0);
    v = sl_realloc(v, 4000 * sizeof(int));
    cr_assert_eq(v[999], 0);
    size_t allocated = 0, resident = 0;
    int r = sl_alloc_stats(&allocated, &resident);
    /* under ASan the sanitizer's allocator replaces jemalloc's malloc, but mallctl still answers */
    cr_assert(r == SL_OK || r == SL_ENOENT);
    if (r == SL_OK)
        cr_assert_geq(resident, allocated);
    sl_free(v);
    sl_free(s);
}

Test(clock, monotonic_units)
{
    uint64_t a = sl_clock_now_us(), ns = sl_clock_now_ns(), b = sl_clock_now_us();
    cr_assert_geq(b, a);
    cr_assert_geq(ns / 1000, a);
    cr_assert_leq(ns / 1000, b);
    cr_assert_gt(sl_clock_wall_ms(), 1700000000000ull); /* after 2023 */
}

Test(status, every_code_has_words)
{
    for (int c = 0; c >= SL_ECLOSED; --c)
        cr_assert_str_neq(sl_strerror(c), "unknown error", "code %d", c);
    cr_assert_str_eq(sl_strerror(-1000), "unknown error");
}
