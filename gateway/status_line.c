/*
 * status_line.c - the first lines of h2o's HTTP/1 response heads, written without printf.
 *
 * h2o 2.2.5 starts every HTTP/1 response head (lib/http1.c, flatten_headers) with one sprintf of
 *     "HTTP/1.1 %d %s\r\nDate: %s\r\nConnection: %s\r\nContent-Length: %zu\r\n"
 * or of the same format without its Content-Length line. glibc's printf machinery spends about 2,000 instructions
 * on it, a tenth of what a worker spends on a whole proxied request. libh2o is built with _FORTIFY_SOURCE, so that
 * call is a call of __sprintf_chk through the PLT, and the sluice executable defines __sprintf_chk: the dynamic
 * linker binds a library's call to the executable's definition before libc's (the rule that lets a program bring
 * its own malloc). For exactly those two formats the definition below writes the same bytes digit by digit; any
 * other call - another format, a status outside 0..999, a head longer than the caller's buffer - goes to glibc's
 * __vsprintf_chk with the same arguments, fortification checks included. A later h2o that changes its format
 * string is therefore only slower, never wrong.
 *
 * Pure, no state, any thread. The bytes are those of glibc's sprintf (tests/unit/gateway/test_status_line.c
 * compares them for every status and many lengths).
 */
#include "gateway/cascade.h"

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

int __sprintf_chk(char *s, int flag, size_t slen, const char *format, ...);
int __vsprintf_chk(char *s, int flag, size_t slen, const char *format, va_list ap);

static const char head_with_length[] = "HTTP/1.1 %d %s\r\nDate: %s\r\nConnection: %s\r\nContent-Length: %zu\r\n";
static const char head_without_length[] = "HTTP/1.1 %d %s\r\nDate: %s\r\nConnection: %s\r\n";

#define PUT(src, n) (memcpy(s + w, (src), (n)), w += (n))
#define PUT_LIT(lit) PUT(lit, sizeof(lit) - 1)

/* Writes the head (with_length: the first format) to s when it fits slen; returns its length, or -1 to let glibc
 * handle the call. ap holds the format's arguments. */
static int write_head(char *s, size_t slen, int with_length, va_list ap)
{
    int status = va_arg(ap, int);
    const char *reason = va_arg(ap, const char *), *date = va_arg(ap, const char *), *conn = va_arg(ap, const char *);
    size_t length = with_length ? va_arg(ap, size_t) : 0;
    if (status < 0 || status > 999 || reason == NULL || date == NULL || conn == NULL)
        return -1;
    char status_digits[24], length_digits[24];
    size_t ns = sl_cascade_u64_format((uint64_t)status, status_digits),
           nl = with_length ? sl_cascade_u64_format(length, length_digits) : 0;
    size_t nr = strlen(reason), nd = strlen(date), nc = strlen(conn);
    size_t total = (sizeof("HTTP/1.1 ") - 1) + ns + 1 + nr + (sizeof("\r\nDate: ") - 1) + nd +
                   (sizeof("\r\nConnection: ") - 1) + nc + 2 + (with_length ? (sizeof("Content-Length: ") - 1) + nl + 2 : 0);
    if (total >= slen || total > (size_t)0x7fffffff)
        return -1;
    size_t w = 0;
    PUT_LIT("HTTP/1.1 ");
    PUT(status_digits, ns);
    PUT_LIT(" ");
    PUT(reason, nr);
    PUT_LIT("\r\nDate: ");
    PUT(date, nd);
    PUT_LIT("\r\nConnection: ");
    PUT(conn, nc);
    PUT_LIT("\r\n");
    if (with_length) {
        PUT_LIT("Content-Length: ");
        PUT(length_digits, nl);
        PUT_LIT("\r\n");
    }
    s[w] = '\0';
    return (int)w;
}

#undef PUT
#undef PUT_LIT

int __sprintf_chk(char *s, int flag, size_t slen, const char *format, ...)
{
    va_list ap;
    int n = -1;
    /* a first byte other than 'H' (nearly every other format) costs one comparison */
    if (format[0] == 'H') {
        int with = strcmp(format, head_with_length) == 0, without = !with && strcmp(format, head_without_length) == 0;
        if (with || without) {
            va_start(ap, format);
            n = write_head(s, slen, with, ap);
            va_end(ap);
        }
    }
    if (n < 0) {
        va_start(ap, format);
        n = __vsprintf_chk(s, flag, slen, format, ap);
        va_end(ap);
    }
    return n;
}
