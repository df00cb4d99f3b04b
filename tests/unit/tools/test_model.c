/*
 * Unit tests of tools/sim/model.c: the PRNG (against values computed with an independent implementation of
 * SplitMix64 + xoshiro256**), the distributions (sample means within 4.5 standard errors of the exact mean, the
 * standard error computed from the exact variance and the sample size), FNV-1a 64 (published test vectors), the
 * ground-truth rule, the confidence -> logprobs construction and the calibration of sl_sim_draw.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "tools/sim/model.h"
#include "tools/sim/sim.h"

#define N 200000

static void expect_mean(double sum, double n, double mean, double var, const char *what)
{
    double m = sum / n, se = sqrt(var / n);
    cr_expect(fabs(m - mean) <= 4.5 * se, "%s: sample mean %.6f, expected %.6f +- %.6f", what, m, mean, 4.5 * se);
}

Test(model, rng_matches_reference_values)
{
    sl_sim_rng_t r;
    sl_sim_rng_seed(&r, 1, 0);
    cr_assert_eq(sl_sim_rng_next(&r), 0xb3f2af6d0fc710c5ull);
    cr_assert_eq(sl_sim_rng_next(&r), 0x853b559647364ceaull);
    cr_assert_eq(sl_sim_rng_next(&r), 0x92f89756082a4514ull);
    sl_sim_rng_seed(&r, 42, 3);
    cr_assert_eq(sl_sim_rng_next(&r), 0x0dc3ec305728c5d8ull);
    cr_assert_eq(sl_sim_rng_next(&r), 0x95fc5b7a6f67f39full);
}

Test(model, rng_streams_differ_and_repeat)
{
    sl_sim_rng_t a, b, c;
    sl_sim_rng_seed(&a, 7, 0);
    sl_sim_rng_seed(&b, 7, 0);
    sl_sim_rng_seed(&c, 7, 1);
    int same_c = 0;
    for (int i = 0; i != 1000; ++i) {
        uint64_t x = sl_sim_rng_next(&a);
        cr_assert_eq(x, sl_sim_rng_next(&b));
        same_c += x == sl_sim_rng_next(&c);
    }
    cr_assert_eq(same_c, 0);
}

Test(model, uniform_range_and_mean)
{
    sl_sim_rng_t r;
    sl_sim_rng_seed(&r, 3, 0);
    double sum = 0;
    for (int i = 0; i != N; ++i) {
        double u = sl_sim_rng_uniform(&r), v = sl_sim_rng_uniform_pos(&r);
        cr_assert(u >= 0 && u < 1);
        cr_assert(v > 0 && v <= 1);
        sum += u;
    }
    expect_mean(sum, N, 0.5, 1.0 / 12, "uniform");
}

Test(model, exponential_and_normal)
{
    sl_sim_rng_t r;
    sl_sim_rng_seed(&r, 4, 0);
    double se = 0, sn = 0, sn2 = 0;
    for (int i = 0; i != N; ++i) {
        se += sl_sim_rng_exponential(&r, 5);
        double z = sl_sim_rng_normal(&r);
        sn += z;
        sn2 += z * z;
    }
    expect_mean(se, N, 5, 25, "exponential(5)");
    expect_mean(sn, N, 0, 1, "normal mean");
    expect_mean(sn2, N, 1, 2, "normal variance"); /* E[z^2] = 1, Var[z^2] = 2 */
    cr_assert_eq(sl_sim_rng_exponential(&r, 0), 0);
}

Test(model, gamma_beta_geometric_means)
{
    sl_sim_rng_t r;
    sl_sim_rng_seed(&r, 5, 0);
    const double shapes[] = {0.5, 2.5, 8};
    for (int k = 0; k != 3; ++k) {
        double s = 0;
        for (int i = 0; i != N; ++i)
            s += sl_sim_rng_gamma(&r, shapes[k]);
        expect_mean(s, N, shapes[k], shapes[k], "gamma");
    }
    const double ab[][2] = {{8, 2}, {0.6, 0.4}, {3, 7}};
    for (int k = 0; k != 3; ++k) {
        double a = ab[k][0], b = ab[k][1], s = 0;
        for (int i = 0; i != N; ++i) {
            double x = sl_sim_rng_beta(&r, a, b);
            cr_assert(x >= 0 && x <= 1);
            s += x;
        }
        expect_mean(s, N, a / (a + b), a * b / ((a + b) * (a + b) * (a + b + 1)), "beta");
    }
    double s = 0;
    for (int i = 0; i != N; ++i) {
        uint32_t g = sl_sim_rng_geometric(&r, 16);
        cr_assert(g >= 1);
        s += g;
    }
    double p = 1.0 / 16;
    expect_mean(s, N, 16, (1 - p) / (p * p), "geometric(16)");
    cr_assert_eq(sl_sim_rng_geometric(&r, 1), 1);
}

Test(model, fnv1a64_vectors_and_truth)
{
    cr_assert_eq(sl_sim_fnv1a64("", 0), 0xcbf29ce484222325ull);
    cr_assert_eq(sl_sim_fnv1a64("a", 1), 0xaf63dc4c8601ec8cull);
    cr_assert_eq(sl_sim_fnv1a64("foobar", 6), 0x85944171f73967e8ull);
    cr_assert_eq(sl_sim_truth("great movie", 11, 2), 0);   /* 0x6c46fdd9aaf669b2 */
    cr_assert_eq(sl_sim_truth("terrible plot", 13, 2), 1); /* 0x9e8a37bd5b46ee81 */
    cr_assert_eq(sl_sim_truth("", 0, 3), 2);
}

Test(model, classify_prefix)
{
    const char *body = NULL;
    size_t len = 99;
    cr_assert_eq(sl_sim_classify_text("classify:   great movie", 23, &body, &len), 1);
    cr_assert_eq(len, 11);
    cr_assert(memcmp(body, "great movie", 11) == 0);
    cr_assert_eq(sl_sim_classify_text("classify:", 9, &body, &len), 1);
    cr_assert_eq(len, 0);
    body = NULL;
    cr_assert_eq(sl_sim_classify_text("Classify: x", 11, &body, &len), 0);
    cr_assert_eq(sl_sim_classify_text("classif", 7, &body, &len), 0);
    cr_assert_null(body);
}

Test(model, logprobs_mean_is_log_confidence)
{
    const double cs[] = {0.999999, 0.9, 0.62, 0.5, 0.1};
    double lp[9];
    for (int k = 0; k != 5; ++k) {
        for (uint32_t n = 1; n <= 9; ++n) {
            sl_sim_logprobs(cs[k], n, lp);
            double sum = 0;
            for (uint32_t i = 0; i != n; ++i) {
                cr_assert(lp[i] <= 0, "lp[%u] = %g", i, lp[i]);
                sum += lp[i];
            }
            cr_assert(fabs(exp(sum / n) - cs[k]) < 1e-12, "c=%g n=%u exp(mean)=%.15g", cs[k], n, exp(sum / n));
        }
    }
    sl_sim_logprobs(0.64, 2, lp); /* ln 0.64 = -0.4463; a = 0.2231: -0.2231 and -0.6694 */
    cr_assert(fabs(lp[0] - 0.5 * log(0.64)) < 1e-12);
    cr_assert(fabs(lp[1] - 1.5 * log(0.64)) < 1e-12);
}

Test(model, draw_is_calibrated_and_matches_accuracy)
{
    sl_sim_params_t p;
    sl_sim_params_init(&p);
    p.accuracy = 0.75;
    sl_sim_rng_t r;
    sl_sim_rng_seed(&r, 11, 0);
    sl_sim_facts_t f = {.prompt_tokens = 10, .is_classify = 1, .truth = 1};
    double bins_c[10] = {0}, bins_ok[10] = {0}, bins_n[10] = {0}, sum_c = 0, sum_ok = 0;
    for (int i = 0; i != N; ++i) {
        sl_sim_draw_t d;
        sl_sim_draw(&p, &r, &f, &d);
        cr_assert(d.confidence >= 0.5 && d.confidence < 1);
        cr_assert_eq(d.correct, d.predicted == 1);
        int b = (int)(d.confidence * 10);
        bins_c[b] += d.confidence;
        bins_ok[b] += d.correct;
        bins_n[b] += 1;
        sum_c += d.confidence;
        sum_ok += d.correct;
    }
    cr_expect(fabs(sum_c / N - 0.75) < 0.002, "E[c] = %g", sum_c / N);
    expect_mean(sum_ok, N, 0.75, 0.75 * 0.25, "accuracy");
    for (int b = 5; b != 10; ++b) {
        if (bins_n[b] < 100)
            continue;
        double c = bins_c[b] / bins_n[b];
        expect_mean(bins_ok[b], bins_n[b], c, c * (1 - c), "calibration bin");
    }
}

Test(model, draw_faults_drift_and_determinism)
{
    sl_sim_params_t p;
    sl_sim_params_init(&p);
    p.error_rate = 0.1;
    p.hang_rate = 0.05;
    p.reset_rate = 0.2;
    p.malformed_rate = 0.15;
    p.drift = 1;
    p.drift_label = 1;
    sl_sim_rng_t r1, r2;
    sl_sim_rng_seed(&r1, 12, 0);
    sl_sim_rng_seed(&r2, 12, 0);
    sl_sim_facts_t f = {.prompt_tokens = 10, .is_classify = 1, .truth = 0};
    double counts[SL_SIM_FAULT_COUNT] = {0};
    for (int i = 0; i != N; ++i) {
        sl_sim_draw_t a, b;
        sl_sim_draw(&p, &r1, &f, &a);
        sl_sim_draw(&p, &r2, &f, &b);
        cr_assert(memcmp(&a, &b, sizeof(a)) == 0);
        cr_assert_eq(a.predicted, 1); /* drift 1: every prediction is drift_label */
        cr_assert_eq(a.correct, 0);
        counts[a.fault] += 1;
    }
    const double rates[] = {0.5, 0.1, 0.05, 0.2, 0.15};
    for (int k = 0; k != SL_SIM_FAULT_COUNT; ++k)
        expect_mean(counts[k], N, rates[k], rates[k] * (1 - rates[k]), "fault rate");

    /* drift lowers the mean confidence: m = (0.6 * (1 - d/2)) for accuracy 0.8 and two labels */
    cr_assert(fabs(sl_sim_beta_mean(&p, 0.5) - 0.3) < 1e-12);
    p.drift = 0;
    cr_assert(fabs(sl_sim_beta_mean(&p, 0.5) - 0.6) < 1e-12);
}

Test(model, output_length_and_max_tokens)
{
    sl_sim_params_t p;
    sl_sim_params_init(&p);
    sl_sim_rng_t r;
    sl_sim_rng_seed(&r, 13, 0);
    sl_sim_facts_t f = {.prompt_tokens = 4, .max_tokens = 5};
    double sum = 0;
    int truncated = 0;
    for (int i = 0; i != 20000; ++i) {
        sl_sim_draw_t d;
        sl_sim_draw(&p, &r, &f, &d);
        cr_assert(d.output_tokens >= 1 && d.output_tokens <= 5);
        truncated += d.truncated;
        cr_assert_eq(d.truncated, d.output_tokens == 5 && d.truncated);
        sum += d.output_tokens;
    }
    /* P(n > 5) for a geometric of mean 16 is (15/16)^5 = 0.724 */
    expect_mean(truncated, 20000, pow(15.0 / 16, 5), pow(15.0 / 16, 5) * (1 - pow(15.0 / 16, 5)), "truncated");
}
