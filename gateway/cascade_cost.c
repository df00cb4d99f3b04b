/*
 * cascade_cost.c - cost arithmetic and the text forms of costs and signals (see cascade.h). Pure, any thread.
 *
 * Costs are counted in integer units of 10^-9 of the configured currency (nanos): each attempt's cost is computed
 * in double precision from its backend's prices, then rounded once to the nearest nano; everything after that
 * (the request's total, the metric counters summed over workers) is integer arithmetic, so totals are exact and
 * their decimal text is exact. Prices are at most 1e6 per request or per 1k tokens (config bounds), so one
 * attempt stays far below the 2^62 saturation unless its usage claims absurd token counts.
 */
#include "gateway/cascade.h"
#include "router/plan.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define COST_SATURATION ((uint64_t)1 << 62)

uint64_t sl_cascade_cost_nanos(const sl_conf_cost_t *cost, int charged, int has_usage, uint64_t tokens_in, uint64_t tokens_out)
{
    if (!charged)
        return 0;
    double c = cost->per_request;
    if (has_usage)
        c += (cost->per_1k_input_tokens * (double)tokens_in + cost->per_1k_output_tokens * (double)tokens_out) / 1000.0;
    double n = nearbyint(c * SL_CASCADE_NANOS);
    if (!(n > 0))
        return 0;
    if (n >= (double)COST_SATURATION)
        return COST_SATURATION;
    return (uint64_t)n;
}

size_t sl_cascade_u64_format(uint64_t v, char *buf)
{
    /* two digits per division, written backwards into the end of digits[] */
    static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                "8081828384858687888990919293949596979899";
    char digits[20];
    size_t i = sizeof(digits);
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        digits[--i] = pairs[2 * r + 1];
        digits[--i] = pairs[2 * r];
    }
    if (v >= 10) {
        digits[--i] = pairs[2 * v + 1];
        digits[--i] = pairs[2 * v];
    } else {
        digits[--i] = (char)('0' + v);
    }
    size_t n = sizeof(digits) - i;
    memcpy(buf, digits + i, n);
    buf[n] = '\0';
    return n;
}

/* digit by digit, without snprintf: this runs for every answer (x-sluice-cost, the access log) */
size_t sl_cascade_cost_format(uint64_t nanos, char *buf)
{
    size_t n = sl_cascade_u64_format(nanos / 1000000000u, buf);
    unsigned frac = (unsigned)(nanos % 1000000000u);
    if (frac == 0)
        return n;
    char digits[9];
    for (size_t i = 9; i != 0; --i, frac /= 10)
        digits[i - 1] = (char)('0' + frac % 10);
    size_t k = 9;
    while (digits[k - 1] == '0')
        --k;
    buf[n++] = '.';
    memcpy(buf + n, digits, k);
    buf[n + k] = '\0';
    return n + k;
}

size_t sl_cascade_signal_format(double v, char *buf)
{
    if (!isfinite(v)) {
        memcpy(buf, "null", 5);
        return 4;
    }
    if (v == 0)
        v = 0; /* -0 prints as 0 */
    int n = snprintf(buf, 32, "%.9g", v);
    return (size_t)n;
}

const double sl_cascade_signal_bounds[SL_GW_SIGNAL_BUCKETS] = {
    -10, -5,  -3,  -2,  -1.5, -1,  -0.75, -0.5, -0.35, -0.25, -0.15, -0.1, -0.05, -0.01,
    0,   0.1, 0.2, 0.3, 0.4,  0.5, 0.6,   0.7,  0.8,   0.9,   0.95,  0.99, 1,
};

size_t sl_cascade_signal_bucket(double v)
{
    size_t b = 0;
    while (b != SL_GW_SIGNAL_BUCKETS && !(v <= sl_cascade_signal_bounds[b]))
        ++b;
    return b;
}

const char *sl_cascade_try_reason(const sl_cascade_try_t *t)
{
    if (t->verdict == SL_CASCADE_PENDING)
        return "pending";
    sl_judge_t j = {(enum en_sl_verdict_t)t->verdict, (enum en_sl_reason_t)t->reason, (enum en_sl_failure_t)t->failure};
    return sl_router_reason_name(&j);
}
