/*
 * units.c - the value grammars of the config language: durations, sizes, percentages, booleans, integers, numbers,
 * enums and JSON pointers, plus the display names of the config enums.
 *
 * Decimal values are scanned as an exact integer mantissa and a count of fraction digits, never through a binary
 * float: "1.5s" is 15 * 1000 / 10 milliseconds, computed in integers with overflow checks, and "99.9%" is 999 / 1000
 * as one correctly rounded division, which equals the double nearest to 0.999. Every function is pure and
 * thread-safe; messages are static strings so callers can compose them into "file:line:col: key: message".
 */
#include "conf/conf.h"
#include "common/status.h"
#include "common/str.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EXACT ((uint64_t)1 << 53) /* largest duration (ms) or size (bytes) accepted: exact in a double */

/* Scans digits [ "." digits ] at s. On success *mant holds all digits as an integer, *frac the number of digits
 * after the point, *end the first byte after the number. Returns SL_EINVAL when s does not start with a digit or
 * the point has no digit after it, SL_ERANGE when there are more than max_digits significant digits. */
static int scan_decimal(const char *s, unsigned max_digits, uint64_t *mant, unsigned *frac, const char **end)
{
    uint64_t m = 0;
    unsigned f = 0, sig = 0;
    int seen_point = 0;
    const char *p = s;
    if (*p < '0' || *p > '9')
        return SL_EINVAL;
    for (;; ++p) {
        if (*p >= '0' && *p <= '9') {
            if (m != 0 || *p != '0')
                ++sig;
            if (sig > max_digits)
                return SL_ERANGE;
            m = m * 10 + (uint64_t)(*p - '0');
            if (seen_point)
                ++f;
        } else if (*p == '.' && !seen_point) {
            if (p[1] < '0' || p[1] > '9')
                return SL_EINVAL;
            seen_point = 1;
        } else {
            break;
        }
    }
    if (f > 19)
        return SL_ERANGE;
    *mant = m;
    *frac = f;
    *end = p;
    return SL_OK;
}

static uint64_t pow10u(unsigned n)
{
    uint64_t v = 1;
    while (n-- != 0)
        v *= 10;
    return v;
}

/* value = mant * unit / 10^frac, exact; SL_EINVAL (*err = inexact_msg) when not whole, SL_ERANGE above MAX_EXACT. */
static int scale_exact(uint64_t mant, unsigned frac, uint64_t unit, uint64_t *out, const char **err, const char *inexact_msg)
{
    uint64_t div = pow10u(frac), v;
    /* reduce the fraction first so that "1.000000000000000001d" does not overflow needlessly */
    while (div > 1 && mant % 10 == 0) {
        mant /= 10;
        div /= 10;
    }
    if (__builtin_mul_overflow(mant, unit, &v)) {
        *err = "too large";
        return SL_ERANGE;
    }
    if (v % div != 0) {
        *err = inexact_msg;
        return SL_EINVAL;
    }
    v /= div;
    if (v > MAX_EXACT) {
        *err = "too large";
        return SL_ERANGE;
    }
    *out = v;
    return SL_OK;
}

typedef struct {
    const char *suffix;
    uint64_t factor;
} unit_t;

/* What a duration grammar says in its errors; the grammar itself is the same for every resolution. */
typedef struct {
    const unit_t *units;
    const char *expected, *bare, *unknown, *inexact;
} duration_grammar_t;

static const unit_t ms_units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {NULL, 0}};
static const duration_grammar_t ms_grammar = {ms_units, "expected a number followed by ms, s, m, h or d",
                                              "a bare number has no unit; write e.g. \"2s\" or \"250ms\"",
                                              "unknown unit; use ms, s, m, h or d", "finer than a millisecond"};
static const unit_t us_units[] = {{"us", 1}, {"ms", 1000}, {"s", 1000000}, {NULL, 0}};
static const duration_grammar_t us_grammar = {us_units, "expected a number followed by us, ms or s",
                                              "a bare number has no unit; write e.g. \"50us\"",
                                              "unknown unit; use us, ms or s", "finer than a microsecond"};

static int parse_duration(const char *text, const duration_grammar_t *g, uint64_t *out, const char **err)
{
    uint64_t mant;
    unsigned frac;
    const char *end;
    if (*text == '\0') {
        *err = "empty";
        return SL_EINVAL;
    }
    if (*text == '-') {
        *err = "must not be negative";
        return SL_EINVAL;
    }
    int r = scan_decimal(text, 18, &mant, &frac, &end);
    if (r == SL_ERANGE) {
        *err = "too many digits";
        return SL_ERANGE;
    }
    if (r != SL_OK) {
        *err = g->expected;
        return SL_EINVAL;
    }
    if (*end == '\0') {
        if (mant == 0) {
            *out = 0;
            return SL_OK;
        }
        *err = g->bare;
        return SL_EINVAL;
    }
    for (size_t i = 0; g->units[i].suffix != NULL; ++i)
        if (strcmp(end, g->units[i].suffix) == 0)
            return scale_exact(mant, frac, g->units[i].factor, out, err, g->inexact);
    *err = g->unknown;
    return SL_EINVAL;
}

int sl_conf_parse_duration_ms(const char *text, uint64_t *out, const char **err)
{
    return parse_duration(text, &ms_grammar, out, err);
}

int sl_conf_parse_duration_us(const char *text, uint64_t *out, const char **err)
{
    return parse_duration(text, &us_grammar, out, err);
}

static const struct {
    const char *suffix;
    uint64_t factor;
} size_units[] = {{"B", 1},
                  {"KiB", (uint64_t)1 << 10},
                  {"MiB", (uint64_t)1 << 20},
                  {"GiB", (uint64_t)1 << 30},
                  {"TiB", (uint64_t)1 << 40},
                  {"KB", 1000},
                  {"kB", 1000},
                  {"MB", 1000000},
                  {"GB", 1000000000},
                  {"TB", 1000000000000},
                  {NULL, 0}};

int sl_conf_parse_size(const char *text, uint64_t *out, const char **err)
{
    uint64_t mant;
    unsigned frac;
    const char *end;
    if (*text == '\0') {
        *err = "empty";
        return SL_EINVAL;
    }
    if (*text == '-') {
        *err = "must not be negative";
        return SL_EINVAL;
    }
    int r = scan_decimal(text, 18, &mant, &frac, &end);
    if (r == SL_ERANGE) {
        *err = "too many digits";
        return SL_ERANGE;
    }
    if (r != SL_OK) {
        *err = "expected a number followed by B, KiB, MiB, GiB, TiB, KB, MB, GB or TB";
        return SL_EINVAL;
    }
    if (*end == '\0') {
        if (mant == 0) {
            *out = 0;
            return SL_OK;
        }
        *err = "a bare number has no unit; write e.g. \"8MiB\" or \"512KiB\"";
        return SL_EINVAL;
    }
    for (size_t i = 0; size_units[i].suffix != NULL; ++i)
        if (strcmp(end, size_units[i].suffix) == 0)
            return scale_exact(mant, frac, size_units[i].factor, out, err, "not a whole number of bytes");
    *err = "unknown unit; use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB";
    return SL_EINVAL;
}

int sl_conf_parse_percent(const char *text, double *out, const char **err)
{
    uint64_t mant;
    unsigned frac;
    const char *end, *p = text;
    int negative = 0;
    if (*p == '-' || *p == '+')
        negative = *p++ == '-';
    int r = scan_decimal(p, 15, &mant, &frac, &end);
    if (r == SL_ERANGE) {
        *err = "more than 15 significant digits";
        return SL_EINVAL;
    }
    if (r != SL_OK || (*end != '%' && *end != '\0') || (*end == '%' && end[1] != '\0')) {
        *err = "expected a percentage such as \"99.9%\"";
        return SL_EINVAL;
    }
    if (*end == '\0') {
        *err = "a bare number is ambiguous; write it with \"%\", e.g. \"99.9%\"";
        return SL_EINVAL;
    }
    /* both operands are exact doubles (mant < 10^15, divisor <= 10^21 < 2^53 * 2^22), so the quotient is correctly
     * rounded */
    double div = 1;
    for (unsigned i = 0; i != frac + 2; ++i)
        div *= 10;
    double v = (double)mant / div;
    *out = negative ? -v : v;
    return SL_OK;
}

int sl_conf_parse_bool(const char *text, int *out, const char **err)
{
    if (strcmp(text, "true") == 0) {
        *out = 1;
        return SL_OK;
    }
    if (strcmp(text, "false") == 0) {
        *out = 0;
        return SL_OK;
    }
    *err = "must be true or false";
    return SL_EINVAL;
}

int sl_conf_parse_int(const char *text, int64_t min, int64_t max, int64_t *out, const char **err)
{
    const char *p = text;
    int negative = *p == '-';
    if (negative)
        ++p;
    if (*p == '\0') {
        *err = "must be an integer";
        return SL_EINVAL;
    }
    if (strspn(p, "0123456789") != strlen(p)) {
        *err = "must be an integer";
        return SL_EINVAL;
    }
    uint64_t v = 0;
    for (; *p != '\0'; ++p) {
        if (v > (UINT64_MAX - 9) / 10) {
            *err = "out of range";
            return SL_ERANGE;
        }
        v = v * 10 + (uint64_t)(*p - '0');
    }
    int64_t s;
    if (negative) {
        if (v > (uint64_t)INT64_MAX + 1) {
            *err = "out of range";
            return SL_ERANGE;
        }
        s = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX) {
            *err = "out of range";
            return SL_ERANGE;
        }
        s = (int64_t)v;
    }
    if (s < min || s > max) {
        *err = "out of range";
        return SL_ERANGE;
    }
    *out = s;
    return SL_OK;
}

int sl_conf_parse_number(const char *text, double *out, const char **err)
{
    if (*text == '\0' || strspn(text, "0123456789.eE+-") != strlen(text) || strpbrk(text, "0123456789") == NULL) {
        *err = "must be a number";
        return SL_EINVAL;
    }
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (*end != '\0') {
        *err = "must be a number";
        return SL_EINVAL;
    }
    if (!isfinite(v) || (errno == ERANGE && fabs(v) > 1)) {
        *err = "out of range";
        return SL_ERANGE;
    }
    *out = v;
    return SL_OK;
}

int sl_conf_parse_enum(const char *text, const char *const *names, int *out, const char **suggestion)
{
    for (int i = 0; names[i] != NULL; ++i) {
        if (strcmp(text, names[i]) == 0) {
            *out = i;
            return SL_OK;
        }
    }
    *suggestion = sl_str_suggest(text, names);
    return SL_EINVAL;
}

int sl_conf_check_json_pointer(const char *text, const char **err)
{
    if (*text == '\0')
        return SL_OK;
    if (*text != '/') {
        *err = "a JSON pointer must be empty or start with \"/\" (RFC 6901)";
        return SL_EINVAL;
    }
    for (const char *p = text; *p != '\0'; ++p) {
        if (*p == '~' && p[1] != '0' && p[1] != '1') {
            *err = "\"~\" must be followed by \"0\" or \"1\" in a JSON pointer (RFC 6901)";
            return SL_EINVAL;
        }
    }
    return SL_OK;
}

const char *sl_conf_protocol_name(enum en_sl_protocol_t protocol)
{
    switch (protocol) {
    case SL_PROTOCOL_OPENAI:
        return "openai";
    case SL_PROTOCOL_KSERVE_V2:
        return "kserve_v2";
    case SL_PROTOCOL_HTTP:
        return "http";
    }
    return "?";
}

const char *sl_conf_signal_name(enum en_sl_signal_kind_t kind)
{
    switch (kind) {
    case SL_SIGNAL_NONE:
        return "none";
    case SL_SIGNAL_LOGPROB_MEAN:
        return "logprob_mean";
    case SL_SIGNAL_LOGPROB_MIN:
        return "logprob_min";
    case SL_SIGNAL_TOP_PROB:
        return "top_prob";
    case SL_SIGNAL_MARGIN:
        return "margin";
    case SL_SIGNAL_JSON:
        return "json";
    case SL_SIGNAL_HEADER:
        return "header";
    }
    return "?";
}

const char *sl_conf_failure_name(enum en_sl_failure_t failure)
{
    static const char *const names[] = {
        "none",         "connect_refused", "connect_timeout", "first_byte_timeout", "idle_timeout", "total_timeout",    "reset",
        "upstream_5xx", "malformed",       "client_abort",    "overloaded",         "no_endpoint",  "gateway_resources"};
    _Static_assert(sizeof(names) / sizeof(names[0]) == SL_FAILURE_COUNT, "one name per failure kind");
    return (unsigned)failure < SL_FAILURE_COUNT ? names[failure] : "?";
}

const char *sl_conf_cmp_name(enum en_sl_cmp_t cmp)
{
    static const char *const names[] = {"gt", "ge", "lt", "le", "eq", "ne", "exists"};
    return (unsigned)cmp <= SL_CMP_EXISTS ? names[cmp] : "?";
}
