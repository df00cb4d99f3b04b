/*
 * test_units.c - the value grammars of conf/units.c: exact values, boundaries, overflow, and outputs left untouched
 * on every error.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "common/status.h"
#include "conf/conf.h"

#define UNTOUCHED 0xdeadbeefu

typedef int (*parse_fn)(const char *text, uint64_t *out, const char **err);

static void parsed_ok(parse_fn parse, const char *text, uint64_t want)
{
    uint64_t v = UNTOUCHED;
    const char *err = NULL;
    cr_expect_eq(parse(text, &v, &err), SL_OK, "%s: %s", text, err != NULL ? err : "");
    cr_expect_eq(v, want, "%s: got %llu, want %llu", text, (unsigned long long)v, (unsigned long long)want);
}

static void parsed_bad(parse_fn parse, const char *text, int rc, const char *msg)
{
    uint64_t v = UNTOUCHED;
    const char *err = NULL;
    cr_expect_eq(parse(text, &v, &err), rc, "%s", text);
    cr_expect_eq(v, UNTOUCHED, "%s: output written", text);
    cr_expect_str_eq(err != NULL ? err : "(null)", msg, "%s", text);
}

#define dur_ok(text, want) parsed_ok(sl_conf_parse_duration_ms, text, want)
#define dur_bad(text, rc, msg) parsed_bad(sl_conf_parse_duration_ms, text, rc, msg)
#define dur_us_ok(text, want) parsed_ok(sl_conf_parse_duration_us, text, want)
#define dur_us_bad(text, rc, msg) parsed_bad(sl_conf_parse_duration_us, text, rc, msg)

Test(units, durations)
{
    dur_ok("250ms", 250);
    dur_ok("2s", 2000);
    dur_ok("5m", 300000);
    dur_ok("1h", 3600000);
    dur_ok("28d", 2419200000ull);
    dur_ok("1.5s", 1500);
    dur_ok("0.25s", 250);
    dur_ok("1.50s", 1500);
    dur_ok("0.001s", 1);
    dur_ok("1.5h", 5400000);
    dur_ok("0", 0);
    dur_ok("0s", 0);
    dur_ok("0ms", 0);
    dur_ok("007s", 7000);
    dur_ok("90d", 7776000000ull);
    dur_ok("104249991d", 9007199222400000ull);         /* just under 2^53 ms */
    dur_ok("9007199254740992ms", 9007199254740992ull); /* 2^53 ms exactly */
}

Test(units, bad_durations)
{
    dur_bad("", SL_EINVAL, "empty");
    dur_bad("5", SL_EINVAL, "a bare number has no unit; write e.g. \"2s\" or \"250ms\"");
    dur_bad("1.5", SL_EINVAL, "a bare number has no unit; write e.g. \"2s\" or \"250ms\"");
    dur_bad("-1s", SL_EINVAL, "must not be negative");
    dur_bad("s", SL_EINVAL, "expected a number followed by ms, s, m, h or d");
    dur_bad(".5s", SL_EINVAL, "expected a number followed by ms, s, m, h or d");
    dur_bad("1.s", SL_EINVAL, "expected a number followed by ms, s, m, h or d");
    dur_bad("+1s", SL_EINVAL, "expected a number followed by ms, s, m, h or d");
    dur_bad("5 s", SL_EINVAL, "unknown unit; use ms, s, m, h or d");
    dur_bad("5sec", SL_EINVAL, "unknown unit; use ms, s, m, h or d");
    dur_bad("5S", SL_EINVAL, "unknown unit; use ms, s, m, h or d");
    dur_bad("1h30m", SL_EINVAL, "unknown unit; use ms, s, m, h or d");
    dur_bad("5us", SL_EINVAL, "unknown unit; use ms, s, m, h or d");
    dur_bad("1.5ms", SL_EINVAL, "finer than a millisecond");
    dur_bad("0.0001s", SL_EINVAL, "finer than a millisecond");
    dur_bad("9007199254740993ms", SL_ERANGE, "too large"); /* 2^53 + 1 */
    dur_bad("104249992d", SL_ERANGE, "too large");
    dur_bad("18446744073709551615d", SL_ERANGE, "too many digits");
    dur_bad("999999999999999999d", SL_ERANGE, "too large"); /* 18 digits: scanned, then the product overflows */
}

Test(units, durations_us)
{
    dur_us_ok("50us", 50);
    dur_us_ok("0.5ms", 500);
    dur_us_ok("2ms", 2000);
    dur_us_ok("1s", 1000000);
    dur_us_ok("0.000001s", 1);
    dur_us_ok("1.5ms", 1500);
    dur_us_ok("0", 0);
    dur_us_ok("0us", 0);
    dur_us_ok("9007199254740992us", 9007199254740992ull); /* 2^53 us exactly */
}

Test(units, bad_durations_us)
{
    dur_us_bad("", SL_EINVAL, "empty");
    dur_us_bad("50", SL_EINVAL, "a bare number has no unit; write e.g. \"50us\"");
    dur_us_bad("-1us", SL_EINVAL, "must not be negative");
    dur_us_bad("us", SL_EINVAL, "expected a number followed by us, ms or s");
    dur_us_bad("5m", SL_EINVAL, "unknown unit; use us, ms or s");
    dur_us_bad("5\xc2\xb5s", SL_EINVAL, "unknown unit; use us, ms or s");
    dur_us_bad("1.5us", SL_EINVAL, "finer than a microsecond");
    dur_us_bad("0.0000001s", SL_EINVAL, "finer than a microsecond");
    dur_us_bad("9007199254740993us", SL_ERANGE, "too large"); /* 2^53 + 1 */
}

#define size_ok(text, want) parsed_ok(sl_conf_parse_size, text, want)
#define size_bad(text, rc, msg) parsed_bad(sl_conf_parse_size, text, rc, msg)

Test(units, sizes)
{
    size_ok("8MiB", 8388608);
    size_ok("512KiB", 524288);
    size_ok("1GiB", 1073741824);
    size_ok("2TiB", 2199023255552ull);
    size_ok("100B", 100);
    size_ok("8MB", 8000000);
    size_ok("8KB", 8000);
    size_ok("8kB", 8000);
    size_ok("3GB", 3000000000ull);
    size_ok("1TB", 1000000000000ull);
    size_ok("1.5KiB", 1536);
    size_ok("0.5MB", 500000);
    size_ok("0", 0);
    size_ok("0B", 0);
    size_ok("8192TiB", 9007199254740992ull); /* 2^53 */
}

Test(units, bad_sizes)
{
    size_bad("", SL_EINVAL, "empty");
    size_bad("8", SL_EINVAL, "a bare number has no unit; write e.g. \"8MiB\" or \"512KiB\"");
    size_bad("-1MiB", SL_EINVAL, "must not be negative");
    size_bad("MiB", SL_EINVAL, "expected a number followed by B, KiB, MiB, GiB, TiB, KB, MB, GB or TB");
    size_bad("8mb", SL_EINVAL, "unknown unit; use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB");
    size_bad("8Mi", SL_EINVAL, "unknown unit; use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB");
    size_bad("8 MiB", SL_EINVAL, "unknown unit; use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB");
    size_bad("1.5B", SL_EINVAL, "not a whole number of bytes");
    size_bad("0.0001KB", SL_EINVAL, "not a whole number of bytes");
    size_bad("8193TiB", SL_ERANGE, "too large");
    size_bad("99999999999999999999B", SL_ERANGE, "too many digits");
}

static void pct_ok(const char *text, double want)
{
    double v = -42;
    const char *err = NULL;
    cr_expect_eq(sl_conf_parse_percent(text, &v, &err), SL_OK, "%s: %s", text, err != NULL ? err : "");
    cr_expect(v == want, "%s: got %.17g, want %.17g", text, v, want); /* exact: correctly rounded */
}

static void pct_bad(const char *text, const char *msg)
{
    double v = -42;
    const char *err = NULL;
    cr_expect_eq(sl_conf_parse_percent(text, &v, &err), SL_EINVAL, "%s", text);
    cr_expect(v == -42, "%s: output written", text);
    cr_expect_str_eq(err != NULL ? err : "(null)", msg, "%s", text);
}

Test(units, percentages)
{
    pct_ok("99.9%", 0.999);
    pct_ok("99.99%", 0.9999);
    pct_ok("99.999%", 0.99999);
    pct_ok("95%", 0.95);
    pct_ok("5%", 0.05);
    pct_ok("0.1%", 0.001);
    pct_ok("100%", 1.0);
    pct_ok("0%", 0.0);
    pct_ok("150%", 1.5);
    pct_ok("-5%", -0.05);
    pct_ok("+5%", 0.05);
    pct_ok("12.5%", 0.125);
    pct_ok("33.333333333333%", 0.33333333333333);
}

Test(units, bad_percentages)
{
    pct_bad("99.9", "a bare number is ambiguous; write it with \"%\", e.g. \"99.9%\"");
    pct_bad("0.999", "a bare number is ambiguous; write it with \"%\", e.g. \"99.9%\"");
    pct_bad("%", "expected a percentage such as \"99.9%\"");
    pct_bad("", "expected a percentage such as \"99.9%\"");
    pct_bad("99.9 %", "expected a percentage such as \"99.9%\"");
    pct_bad("99.9%%", "expected a percentage such as \"99.9%\"");
    pct_bad("1e2%", "expected a percentage such as \"99.9%\"");
    pct_bad("nan%", "expected a percentage such as \"99.9%\"");
    pct_bad("12345678901234567%", "more than 15 significant digits");
}

Test(units, booleans)
{
    int v = 7;
    const char *err = NULL;
    cr_assert_eq(sl_conf_parse_bool("true", &v, &err), SL_OK);
    cr_assert_eq(v, 1);
    cr_assert_eq(sl_conf_parse_bool("false", &v, &err), SL_OK);
    cr_assert_eq(v, 0);
    static const char *const bad[] = {"yes", "no", "on", "off", "True", "FALSE", "1", "0", "", NULL};
    for (size_t i = 0; bad[i] != NULL; ++i) {
        v = 7;
        cr_expect_eq(sl_conf_parse_bool(bad[i], &v, &err), SL_EINVAL, "%s", bad[i]);
        cr_expect_eq(v, 7, "%s", bad[i]);
        cr_expect_str_eq(err, "must be true or false");
    }
}

Test(units, integers)
{
    int64_t v = 99;
    const char *err = NULL;
    cr_assert_eq(sl_conf_parse_int("0", 0, 10, &v, &err), SL_OK);
    cr_assert_eq(v, 0);
    cr_assert_eq(sl_conf_parse_int("10", 0, 10, &v, &err), SL_OK);
    cr_assert_eq(v, 10);
    cr_assert_eq(sl_conf_parse_int("-3", -5, 5, &v, &err), SL_OK);
    cr_assert_eq(v, -3);
    cr_assert_eq(sl_conf_parse_int("9223372036854775807", INT64_MIN, INT64_MAX, &v, &err), SL_OK);
    cr_assert_eq(v, INT64_MAX);
    cr_assert_eq(sl_conf_parse_int("-9223372036854775808", INT64_MIN, INT64_MAX, &v, &err), SL_OK);
    cr_assert_eq(v, INT64_MIN);
    v = 99;
    cr_assert_eq(sl_conf_parse_int("11", 0, 10, &v, &err), SL_ERANGE);
    cr_assert_str_eq(err, "out of range");
    cr_assert_eq(sl_conf_parse_int("-1", 0, 10, &v, &err), SL_ERANGE);
    cr_assert_eq(sl_conf_parse_int("9223372036854775808", INT64_MIN, INT64_MAX, &v, &err), SL_ERANGE);
    cr_assert_eq(sl_conf_parse_int("-9223372036854775809", INT64_MIN, INT64_MAX, &v, &err), SL_ERANGE);
    cr_assert_eq(sl_conf_parse_int("99999999999999999999999", INT64_MIN, INT64_MAX, &v, &err), SL_ERANGE);
    static const char *const bad[] = {"", "-", "1.0", "1e3", "0x10", " 1", "1 ", "+1", "12a", "99999999999999999999x", NULL};
    for (size_t i = 0; bad[i] != NULL; ++i) {
        cr_expect_eq(sl_conf_parse_int(bad[i], INT64_MIN, INT64_MAX, &v, &err), SL_EINVAL, "%s", bad[i]);
        cr_expect_str_eq(err, "must be an integer");
    }
    cr_assert_eq(v, 99);
}

Test(units, numbers)
{
    double v = 42;
    const char *err = NULL;
    cr_assert_eq(sl_conf_parse_number("-0.35", &v, &err), SL_OK);
    cr_assert(v == -0.35);
    cr_assert_eq(sl_conf_parse_number("1e-4", &v, &err), SL_OK);
    cr_assert(v == 1e-4);
    cr_assert_eq(sl_conf_parse_number("2", &v, &err), SL_OK);
    cr_assert(v == 2);
    cr_assert_eq(sl_conf_parse_number("+2.5E3", &v, &err), SL_OK);
    cr_assert(v == 2500);
    v = 42;
    cr_assert_eq(sl_conf_parse_number("1e400", &v, &err), SL_ERANGE);
    cr_assert_str_eq(err, "out of range");
    static const char *const bad[] = {"", "abc", "inf", "nan", "0x10", "1,5", "1.2.3", "e", "-", ".", "1e", NULL};
    for (size_t i = 0; bad[i] != NULL; ++i) {
        cr_expect_eq(sl_conf_parse_number(bad[i], &v, &err), SL_EINVAL, "%s", bad[i]);
        cr_expect_str_eq(err, "must be a number", "%s", bad[i]);
    }
    cr_assert(v == 42);
}

Test(units, enums_with_suggestions)
{
    static const char *const names[] = {"openai", "kserve_v2", "http", NULL};
    int v = -1;
    const char *sugg = "unset";
    cr_assert_eq(sl_conf_parse_enum("kserve_v2", names, &v, &sugg), SL_OK);
    cr_assert_eq(v, 1);
    cr_assert_str_eq(sugg, "unset");
    cr_assert_eq(sl_conf_parse_enum("opnai", names, &v, &sugg), SL_EINVAL);
    cr_assert_str_eq(sugg, "openai");
    cr_assert_eq(sl_conf_parse_enum("kserv_v2", names, &v, &sugg), SL_EINVAL);
    cr_assert_str_eq(sugg, "kserve_v2");
    cr_assert_eq(sl_conf_parse_enum("kserve", names, &v, &sugg), SL_EINVAL); /* 3 edits: too far to be a typo */
    cr_assert_null(sugg);
    cr_assert_eq(sl_conf_parse_enum("grpc", names, &v, &sugg), SL_EINVAL);
    cr_assert_null(sugg);
    cr_assert_eq(sl_conf_parse_enum("OPENAI", names, &v, &sugg), SL_EINVAL);
    cr_assert_eq(v, 1);
}

Test(units, json_pointers)
{
    const char *err = NULL;
    static const char *const good[] = {"", "/", "/a", "/a/0/b", "/a~0b", "/a~1b", "/~01", "/outputs/0/data/0", NULL};
    for (size_t i = 0; good[i] != NULL; ++i)
        cr_expect_eq(sl_conf_check_json_pointer(good[i], &err), SL_OK, "%s", good[i]);
    cr_assert_eq(sl_conf_check_json_pointer("a/b", &err), SL_EINVAL);
    cr_assert_str_eq(err, "a JSON pointer must be empty or start with \"/\" (RFC 6901)");
    static const char *const bad_tilde[] = {"/a~", "/a~2", "/~/", "/a~b", NULL};
    for (size_t i = 0; bad_tilde[i] != NULL; ++i) {
        cr_expect_eq(sl_conf_check_json_pointer(bad_tilde[i], &err), SL_EINVAL, "%s", bad_tilde[i]);
        cr_expect_str_eq(err, "\"~\" must be followed by \"0\" or \"1\" in a JSON pointer (RFC 6901)");
    }
}

Test(units, formatting)
{
    char buf[32];
    cr_assert_str_eq(sl_conf_format_duration(0, buf, sizeof(buf)), "0");
    cr_assert_str_eq(sl_conf_format_duration(1500, buf, sizeof(buf)), "1500ms");
    cr_assert_str_eq(sl_conf_format_duration(2000, buf, sizeof(buf)), "2s");
    cr_assert_str_eq(sl_conf_format_duration(120000, buf, sizeof(buf)), "2m");
    cr_assert_str_eq(sl_conf_format_duration(5400000, buf, sizeof(buf)), "90m");
    cr_assert_str_eq(sl_conf_format_duration(2419200000ull, buf, sizeof(buf)), "28d");
    cr_assert_str_eq(sl_conf_format_duration_us(0, buf, sizeof(buf)), "0");
    cr_assert_str_eq(sl_conf_format_duration_us(50, buf, sizeof(buf)), "50us");
    cr_assert_str_eq(sl_conf_format_duration_us(1500, buf, sizeof(buf)), "1500us");
    cr_assert_str_eq(sl_conf_format_duration_us(2000, buf, sizeof(buf)), "2ms");
    cr_assert_str_eq(sl_conf_format_duration_us(10000000, buf, sizeof(buf)), "10s");
    cr_assert_str_eq(sl_conf_format_size(0, buf, sizeof(buf)), "0");
    cr_assert_str_eq(sl_conf_format_size(8388608, buf, sizeof(buf)), "8MiB");
    cr_assert_str_eq(sl_conf_format_size(1536, buf, sizeof(buf)), "1536B");
    cr_assert_str_eq(sl_conf_format_size(1073741824, buf, sizeof(buf)), "1GiB");
    cr_assert_str_eq(sl_conf_format_size(8000000, buf, sizeof(buf)), "8000000B");
}

Test(units, enum_names)
{
    cr_assert_str_eq(sl_conf_protocol_name(SL_PROTOCOL_KSERVE_V2), "kserve_v2");
    cr_assert_str_eq(sl_conf_signal_name(SL_SIGNAL_MARGIN), "margin");
    cr_assert_str_eq(sl_conf_failure_name(SL_FAILURE_UPSTREAM_5XX), "upstream_5xx");
    cr_assert_str_eq(sl_conf_failure_name(SL_FAILURE_NO_ENDPOINT), "no_endpoint");
    cr_assert_str_eq(sl_conf_failure_name(SL_FAILURE_GATEWAY_RESOURCES), "gateway_resources");
    cr_assert_str_eq(sl_conf_failure_name(SL_FAILURE_COUNT), "?");
    cr_assert_str_eq(sl_conf_cmp_name(SL_CMP_EXISTS), "exists");
    cr_assert_str_eq(sl_conf_cmp_name(SL_CMP_GE), "ge");
}
