/* gateway/status_line.c: the head lines h2o formats with __sprintf_chk come out as glibc's vsnprintf writes them,
 * and every other call still reaches glibc (with its fortification check). */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int __sprintf_chk(char *s, int flag, size_t slen, const char *format, ...);

/* h2o 2.2.5's two formats (lib/http1.c), written out here again on purpose: the test must not borrow them */
#define WITH "HTTP/1.1 %d %s\r\nDate: %s\r\nConnection: %s\r\nContent-Length: %zu\r\n"
#define WITHOUT "HTTP/1.1 %d %s\r\nDate: %s\r\nConnection: %s\r\n"

static void reference(char *out, size_t cap, int with, int status, const char *reason, const char *date, const char *conn,
                      size_t len)
{
    int n = with ? snprintf(out, cap, WITH, status, reason, date, conn, len)
                 : snprintf(out, cap, WITHOUT, status, reason, date, conn);
    cr_assert(n > 0 && (size_t)n < cap);
}

Test(status_line, same_bytes_as_printf_for_every_status)
{
    const char *date = "Thu, 26 Nov 2026 15:10:00 GMT";
    static const size_t lengths[] = {0, 1, 9, 10, 480, 65535, 1000000007, SIZE_MAX};
    static const char *const reasons[] = {"OK", "", "Internal Server Error", "x"};
    for (int status = 0; status <= 999; ++status) {
        for (int with = 0; with != 2; ++with) {
            const char *reason = reasons[status % 4], *conn = status % 2 ? "keep-alive" : "close";
            size_t len = lengths[status % 8];
            char got[256], want[256];
            memset(got, 'z', sizeof(got));
            int n = with ? __sprintf_chk(got, 1, sizeof(got), WITH, status, reason, date, conn, len)
                         : __sprintf_chk(got, 1, sizeof(got), WITHOUT, status, reason, date, conn);
            reference(want, sizeof(want), with, status, reason, date, conn, len);
            cr_assert_str_eq(got, want);
            cr_assert_eq(n, (int)strlen(want));
        }
    }
}

Test(status_line, exact_fit_and_other_calls)
{
    char want[128], got[128];
    reference(want, sizeof(want), 1, 200, "OK", "D", "keep-alive", 480);
    size_t need = strlen(want) + 1;
    cr_assert_eq(__sprintf_chk(got, 1, need, WITH, 200, "OK", "D", "keep-alive", (size_t)480), (int)need - 1);
    cr_assert_str_eq(got, want);
    /* out of the fast path's range, or another format: glibc writes it */
    cr_assert_eq(__sprintf_chk(got, 1, sizeof(got), WITHOUT, -5, "neg", "D", "close"), (int)strlen(got));
    cr_assert_str_eq(got, "HTTP/1.1 -5 neg\r\nDate: D\r\nConnection: close\r\n");
    cr_assert_eq(__sprintf_chk(got, 1, sizeof(got), WITHOUT, 1000, "big", "D", "close"), (int)strlen(got));
    cr_assert_str_eq(got, "HTTP/1.1 1000 big\r\nDate: D\r\nConnection: close\r\n");
    cr_assert_eq(__sprintf_chk(got, 1, sizeof(got), "Server: %s\r\n", "sluice"), 16);
    cr_assert_str_eq(got, "Server: sluice\r\n");
    cr_assert_eq(__sprintf_chk(got, 1, sizeof(got), "HTTP/%d.%d", 1, 0), 8);
    cr_assert_str_eq(got, "HTTP/1.0");
}

/* a head one byte too long for the caller's buffer is glibc's: it stops the process as a fortified sprintf does.
 * (AddressSanitizer replaces glibc's __vsprintf_chk with an interceptor that does not check the length it is
 * given, so there is nothing to see in the sanitized build.) */
#ifndef __SANITIZE_ADDRESS__
Test(status_line, overflow_still_stops_the_process, .signal = SIGABRT)
{
    char got[128];
    char want[128];
    reference(want, sizeof(want), 1, 200, "OK", "D", "keep-alive", 480);
    __sprintf_chk(got, 1, strlen(want), WITH, 200, "OK", "D", "keep-alive", (size_t)480);
}
#endif
