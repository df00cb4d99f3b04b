/* gateway/cascade_cost.c: cost of an attempt in 10^-9 units, its decimal text (x-sluice-cost, metrics, the access
 * log), signal values as JSON numbers, the signal histogram's buckets and the names of reasons. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gateway/cascade.h"

static const char *fmt(uint64_t nanos)
{
    static char buf[SL_CASCADE_COST_MAX];
    size_t n = sl_cascade_cost_format(nanos, buf);
    cr_assert_eq(n, strlen(buf));
    return buf;
}

Test(cascade_cost, attempt_cost_in_nanos)
{
    sl_conf_cost_t c = {0.001, 0.01, 0.02};
    /* 0.001 + (0.01 * 6 + 0.02 * 1) / 1000 = 0.00108 */
    cr_assert_eq(sl_cascade_cost_nanos(&c, 1, 1, 6, 1), 1080000);
    cr_assert_eq(sl_cascade_cost_nanos(&c, 1, 0, 6, 1), 1000000); /* no usage: the per-request price only */
    cr_assert_eq(sl_cascade_cost_nanos(&c, 0, 1, 6, 1), 0);       /* no answer: nothing charged */
    sl_conf_cost_t tokens = {0, 0.0001, 0.0002};
    /* (0.0001 * 1234 + 0.0002 * 56) / 1000 = 0.0001346 */
    cr_assert_eq(sl_cascade_cost_nanos(&tokens, 1, 1, 1234, 56), 134600);
    sl_conf_cost_t tiny = {1.4e-9, 0, 0}, half = {1.6e-9, 0, 0};
    cr_assert_eq(sl_cascade_cost_nanos(&tiny, 1, 0, 0, 0), 1); /* rounded to the nearest unit */
    cr_assert_eq(sl_cascade_cost_nanos(&half, 1, 0, 0, 0), 2);
    sl_conf_cost_t free_ = {0, 0, 0};
    cr_assert_eq(sl_cascade_cost_nanos(&free_, 1, 1, 100, 100), 0);
    sl_conf_cost_t huge = {1e6, 1e6, 1e6};
    cr_assert_eq(sl_cascade_cost_nanos(&huge, 1, 1, UINT64_MAX, UINT64_MAX), (uint64_t)1 << 62); /* saturates */
}

Test(cascade_cost, integers)
{
    char buf[21];
    cr_assert_eq(sl_cascade_u64_format(0, buf), 1);
    cr_assert_str_eq(buf, "0");
    cr_assert_eq(sl_cascade_u64_format(907, buf), 3);
    cr_assert_str_eq(buf, "907");
    cr_assert_eq(sl_cascade_u64_format(UINT64_MAX, buf), 20);
    cr_assert_str_eq(buf, "18446744073709551615");
}

Test(cascade_cost, decimal_text)
{
    cr_assert_str_eq(fmt(0), "0");
    cr_assert_str_eq(fmt(1), "0.000000001");
    cr_assert_str_eq(fmt(1080000), "0.00108");
    cr_assert_str_eq(fmt(1000000000), "1");
    cr_assert_str_eq(fmt(12500000000u), "12.5");
    cr_assert_str_eq(fmt(UINT64_MAX), "18446744073.709551615");
}

Test(cascade_cost, signal_text_is_a_json_number)
{
    char buf[32];
    cr_assert_eq(sl_cascade_signal_format(-0.5, buf), 4);
    cr_assert_str_eq(buf, "-0.5");
    sl_cascade_signal_format(-0.0, buf);
    cr_assert_str_eq(buf, "0");
    sl_cascade_signal_format(log(0.9), buf);
    cr_assert_str_eq(buf, "-0.105360516");
    sl_cascade_signal_format(1e-5, buf);
    cr_assert_str_eq(buf, "1e-05");
    sl_cascade_signal_format(NAN, buf);
    cr_assert_str_eq(buf, "null");
}

Test(cascade_cost, signal_buckets)
{
    cr_assert_eq(sl_cascade_signal_bounds[0], -10);
    cr_assert_eq(sl_cascade_signal_bounds[14], 0);
    cr_assert_eq(sl_cascade_signal_bounds[SL_GW_SIGNAL_BUCKETS - 1], 1);
    for (size_t i = 1; i != SL_GW_SIGNAL_BUCKETS; ++i)
        cr_assert_lt(sl_cascade_signal_bounds[i - 1], sl_cascade_signal_bounds[i]);
    cr_assert_eq(sl_cascade_signal_bucket(-12), 0);
    cr_assert_eq(sl_cascade_signal_bucket(-10), 0); /* bounds are inclusive, as Prometheus' le */
    cr_assert_eq(sl_cascade_signal_bucket(-9.99), 1);
    cr_assert_eq(sl_cascade_signal_bucket(-0.35), 8);
    cr_assert_eq(sl_cascade_signal_bucket(-0.3), 9);
    cr_assert_eq(sl_cascade_signal_bucket(0), 14);
    cr_assert_eq(sl_cascade_signal_bucket(0.05), 15);
    cr_assert_eq(sl_cascade_signal_bucket(0.97), 25);
    cr_assert_eq(sl_cascade_signal_bucket(1), 26);
    cr_assert_eq(sl_cascade_signal_bucket(1.5), SL_GW_SIGNAL_BUCKETS);
    cr_assert_eq(sl_cascade_signal_bucket(NAN), SL_GW_SIGNAL_BUCKETS);
}

Test(cascade_cost, reason_names)
{
    sl_cascade_try_t t;
    memset(&t, 0, sizeof(t));
    t.verdict = SL_CASCADE_PENDING;
    cr_assert_str_eq(sl_cascade_try_reason(&t), "pending");
    t.verdict = SL_VERDICT_ESCALATE;
    t.reason = SL_REASON_LOW_CONFIDENCE;
    cr_assert_str_eq(sl_cascade_try_reason(&t), "low_confidence");
    t.reason = SL_REASON_FAILURE;
    t.failure = SL_FAILURE_UPSTREAM_5XX;
    cr_assert_str_eq(sl_cascade_try_reason(&t), "upstream_5xx");
    t.verdict = SL_VERDICT_ACCEPT;
    t.reason = SL_REASON_LAST_TIER;
    cr_assert_str_eq(sl_cascade_try_reason(&t), "last_tier");
}

Test(cascade_cost, u64_format_as_printf)
{
    char got[24], want[24];
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (uint64_t i = 0; i != 200000; ++i) {
        uint64_t v = i < 100000 ? i : (x ^= x << 13, x ^= x >> 7, x ^= x << 17, x >> (i % 64));
        snprintf(want, sizeof(want), "%llu", (unsigned long long)v);
        cr_assert_eq(sl_cascade_u64_format(v, got), strlen(want));
        cr_assert_str_eq(got, want);
    }
}
