/*
 * test_canary.c - the canary checks (policies/canary_checks.c) on synthetic samples with exact expected verdicts
 * and numbers, and the analysis of a rollout (policies/canary.c) on synthetic streams.
 *
 * Reference figures (scipy 1.10.1, Debian's python3):
 *   s = [100 + i for i in range(200)]
 *   mannwhitneyu([130 + i ...], s, method='asymptotic'): U 25550, p (two-sided) 1.586260540112515e-06
 *   mannwhitneyu([100.5 + i ...], s): U 20100, p 0.9314171173559691
 *   canary tail [(100 + i) * (100 if i % 14 == 0 else 1)]: 15 values above 1.5 x 297;
 *     hypergeom.sf(14, 400, 15, 200) = 2.3239782735188208e-05
 *   ks_2samp([0.5 + i/400 ...], [0.4 + i/400 ...]): D 0.2, p 0.000648608042418048
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "common/status.h"
#include "policies/canary.h"
#include "stats/canary_seq.h"
#include "stats/canary_tail.h"
#include "stats/msprt.h"
#include "stats/reservoir.h"

#define N 200

static double stable[N], shifted[N], nudged[N], tailed[N], conf_c[N], conf_s[N];

static void fill(void)
{
    for (int i = 0; i != N; ++i) {
        stable[i] = 100.0 + i;
        shifted[i] = 130.0 + i;
        nudged[i] = 100.5 + i;
        tailed[i] = (100.0 + i) * (i % 14 == 0 ? 100 : 1);
        conf_c[i] = 0.5 + i / 400.0;
        conf_s[i] = 0.4 + i / 400.0;
    }
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static sl_conf_check_t timing_check(void)
{
    sl_conf_check_t c = {.enabled = 1, .alpha = 0.0001, .min_effect = 0.05, .ratio = 1.5, .min_samples = 50};
    return c;
}

static void close_rel(double got, double want, double rel, const char *what)
{
    cr_assert(fabs(got - want) <= rel * fabs(want), "%s: %.17g, want %.17g", what, got, want);
}

Test(canary_checks, shift_fails_on_a_significant_large_shift)
{
    fill();
    sl_conf_check_t cc = timing_check();
    sl_canary_verdict_t v;
    sl_canary_check_shift(&cc, SL_CANARY_K_LATENCY, shifted, N, stable, N, 1, &v);
    cr_assert_eq(v.kind, SL_CANARY_K_LATENCY);
    cr_assert_eq(v.check, SL_CONF_CHECK_LATENCY);
    cr_assert_eq(v.outcome, SL_CANARY_FAIL);
    cr_assert_eq(v.look, 1);
    cr_assert_eq(v.n_canary, N);
    cr_assert_eq(v.n_stable, N);
    close_rel(v.p_value, 1.586260540112515e-06 / 2, 1e-9, "p");
    close_rel(v.effect, 0.63875 - 0.5, 1e-12, "effect");
    close_rel(v.threshold, 0.00005 * 6 / (M_PI * M_PI), 1e-12, "threshold");
    cr_assert_eq(v.canary_value, 229); /* rank 100 of 130..329 */
    cr_assert_eq(v.stable_value, 199);
    cr_assert(v.statistic > 4.7 && v.statistic < 4.9, "z %g", v.statistic);
}

Test(canary_checks, shift_needs_the_effect_floor_and_the_spent_level)
{
    fill();
    sl_conf_check_t cc = timing_check();
    sl_canary_verdict_t v;
    /* same data, a floor above the effect: significant but too small to matter */
    cc.min_effect = 0.14;
    sl_canary_check_shift(&cc, SL_CANARY_K_LATENCY, shifted, N, stable, N, 1, &v);
    cr_assert_eq(v.outcome, SL_CANARY_PASS);
    /* at look 100 the level is alpha / 2 x 6 / (pi^2 10^4) = 3.0e-9: the p-value 7.9e-7 no longer suffices */
    cc.min_effect = 0.05;
    sl_canary_check_shift(&cc, SL_CANARY_K_LATENCY, shifted, N, stable, N, 100, &v);
    cr_assert_eq(v.outcome, SL_CANARY_PASS);
    cr_assert_eq(v.look, 100);
    /* a nudge of half a millisecond: no evidence */
    sl_canary_check_shift(&cc, SL_CANARY_K_TTFT, nudged, N, stable, N, 1, &v);
    cr_assert_eq(v.outcome, SL_CANARY_PASS);
    cr_assert_eq(v.kind, SL_CANARY_K_TTFT);
    cr_assert_eq(v.check, SL_CONF_CHECK_TTFT);
    close_rel(v.p_value, 0.9314171173559691 / 2, 1e-9, "p");
    close_rel(v.effect, 0.0025, 1e-9, "effect");
    /* the canary faster: the one-sided p-value is large */
    sl_canary_check_shift(&cc, SL_CANARY_K_LATENCY, stable, N, shifted, N, 1, &v);
    cr_assert_eq(v.outcome, SL_CANARY_PASS);
    close_rel(v.p_value, 1 - 1.586260540112515e-06 / 2, 1e-12, "p");
    close_rel(v.effect, -0.13875, 1e-12, "effect");
}

Test(canary_checks, too_few_samples_are_no_data_and_spend_no_look)
{
    fill();
    sl_conf_check_t cc = timing_check();
    sl_canary_verdict_t v;
    sl_canary_check_shift(&cc, SL_CANARY_K_LATENCY, shifted, 49, stable, N, 7, &v);
    cr_assert_eq(v.outcome, SL_CANARY_NO_DATA);
    cr_assert_eq(v.look, 0);
    cr_assert_eq(v.n_canary, 49);
    cr_assert_eq(v.p_value, 1);
    sl_canary_check_tail(&cc, SL_CANARY_K_LATENCY_P99, shifted, N, stable, 10, 7, &v);
    cr_assert_eq(v.outcome, SL_CANARY_NO_DATA);
    sl_canary_check_shift(&cc, SL_CANARY_K_LATENCY, NULL, 0, NULL, 0, 1, &v);
    cr_assert_eq(v.outcome, SL_CANARY_NO_DATA);
    cr_assert_eq(v.canary_value, 0);
    sl_canary_check_confidence(&cc, conf_c, 3, conf_s, N, 1, &v);
    cr_assert_eq(v.outcome, SL_CANARY_NO_DATA);
}

Test(canary_checks, tail_catches_a_slow_minority_the_shift_misses)
{
    fill();
    double sorted[N];
    memcpy(sorted, tailed, sizeof(sorted));
    qsort(sorted, N, sizeof(double), cmp);
    sl_conf_check_t cc = timing_check();
    sl_canary_verdict_t shift, tail;
    sl_canary_check_shift(&cc, SL_CANARY_K_LATENCY, sorted, N, stable, N, 1, &shift);
    cr_assert_eq(shift.outcome, SL_CANARY_PASS, "7.5%% slow requests barely move the ranks");
    close_rel(shift.effect, 0.0380625, 1e-9, "effect");
    sl_canary_check_tail(&cc, SL_CANARY_K_LATENCY_P99, sorted, N, stable, N, 1, &tail);
    cr_assert_eq(tail.outcome, SL_CANARY_FAIL);
    cr_assert_eq(tail.kind, SL_CANARY_K_LATENCY_P99);
    cr_assert_eq(tail.statistic, 15);
    close_rel(tail.p_value, 2.3239782735188208e-05, 1e-9, "p");
    cr_assert_eq(tail.canary_value, 26800);
    cr_assert_eq(tail.stable_value, 297);
    close_rel(tail.effect, 26800.0 / 297.0, 1e-12, "ratio");
    /* the second look is held to a quarter of the level: 7.6e-6 < 2.3e-5 */
    sl_canary_check_tail(&cc, SL_CANARY_K_LATENCY_P99, sorted, N, stable, N, 2, &tail);
    cr_assert_eq(tail.outcome, SL_CANARY_PASS);
    /* a ratio floor above the canary's p99 / stable p99 (90.2) passes whatever the p-value */
    cc.ratio = 100;
    sl_canary_check_tail(&cc, SL_CANARY_K_LATENCY_P99, sorted, N, stable, N, 1, &tail);
    cr_assert_eq(tail.outcome, SL_CANARY_PASS);
    /* identical samples: nothing above 1.5 x p99 on either side */
    cc.ratio = 1.5;
    sl_canary_check_tail(&cc, SL_CANARY_K_LATENCY_P99, stable, N, stable, N, 1, &tail);
    cr_assert_eq(tail.outcome, SL_CANARY_PASS);
    cr_assert_eq(tail.statistic, 0);
    cr_assert_eq(tail.p_value, 1);
    cr_assert_eq(tail.effect, 1);
}

Test(canary_checks, confidence_by_kolmogorov_smirnov)
{
    fill();
    sl_conf_check_t cc = {.enabled = 1, .alpha = 0.01, .min_effect = 0.1, .min_samples = 100};
    sl_canary_verdict_t v;
    sl_canary_check_confidence(&cc, conf_c, N, conf_s, N, 1, &v);
    cr_assert_eq(v.kind, SL_CANARY_K_CONFIDENCE);
    cr_assert_eq(v.outcome, SL_CANARY_FAIL);
    close_rel(v.statistic, 0.2, 1e-12, "D");
    close_rel(v.p_value, 0.000648608042418048, 1e-9, "p");
    cc.alpha = 0.0001; /* level 6.1e-5 < 6.5e-4 */
    sl_canary_check_confidence(&cc, conf_c, N, conf_s, N, 1, &v);
    cr_assert_eq(v.outcome, SL_CANARY_PASS);
    cc.alpha = 0.01;
    cc.min_effect = 0.25;
    sl_canary_check_confidence(&cc, conf_c, N, conf_s, N, 1, &v);
    cr_assert_eq(v.outcome, SL_CANARY_PASS);
}

Test(canary_checks, error_rate_from_the_sequential_test)
{
    sl_conf_check_t cc = {.enabled = 1, .alpha = 0.001, .ratio = 1, .min_effect = 0.001};
    sl_canary_seq_params_t p = {.alpha = 0.001, .min_ratio = 1};
    sl_canary_seq_t seq;
    sl_canary_seq_init(&seq, &p);
    sl_canary_verdict_t v;
    sl_canary_check_error_rate(&cc, &seq, &v);
    cr_assert_eq(v.outcome, SL_CANARY_NO_DATA);
    sl_canary_seq_update(&seq, 0, 50, 1, 950, NULL);
    sl_canary_check_error_rate(&cc, &seq, &v);
    cr_assert_eq(v.outcome, SL_CANARY_PASS);
    cr_assert_eq(v.n_canary, 50);
    cr_assert_eq(v.n_stable, 950);
    /* 5 of the next 50 canary requests fail, 1 of 950 stable ones: rejected */
    sl_canary_seq_update(&seq, 5, 50, 1, 950, NULL);
    cr_assert_eq(seq.rejected, 1);
    sl_canary_check_error_rate(&cc, &seq, &v);
    cr_assert_eq(v.outcome, SL_CANARY_FAIL);
    close_rel(v.canary_value, 0.05, 1e-12, "canary rate");
    close_rel(v.stable_value, 2.0 / 1900, 1e-12, "stable rate");
    close_rel(v.effect, 0.05 - 2.0 / 1900, 1e-12, "effect");
    cr_assert(v.p_value <= 0.001);
    cr_assert_eq(v.threshold, 0.001);
    /* the same evidence under a floor of 5 points is not a failure */
    cc.min_effect = 0.05;
    sl_canary_check_error_rate(&cc, &seq, &v);
    cr_assert_eq(v.outcome, SL_CANARY_PASS);
}

/* The error-rate check holds (no data) until the test has had the power to see the configured regression: the
 * first batch it passes is the one tests/reference/canary_reference.py computed independently ("power"). */
Test(canary_checks, error_rate_has_no_data_until_the_test_could_have_seen_the_regression)
{
    json_error_t err;
    json_t *root = json_load_file(SL_SOURCE_DIR "/tests/fixtures/stats/canary.json", 0, &err), *c;
    cr_assert_not_null(root, "canary.json: %s", err.text);
    size_t i;
    json_array_foreach(json_object_get(root, "power"), i, c)
    {
        sl_conf_check_t cc = {.enabled = 1,
                              .alpha = json_number_value(json_object_get(c, "alpha")),
                              .ratio = json_number_value(json_object_get(c, "min_ratio")),
                              .min_effect = 0.001,
                              .detect_ratio = json_number_value(json_object_get(c, "detect_ratio")),
                              .detect_increase = json_number_value(json_object_get(c, "detect_increase"))};
        sl_canary_seq_params_t p = {.alpha = cc.alpha, .min_ratio = cc.ratio};
        json_t *b = json_object_get(c, "batch");
        uint64_t et = (uint64_t)json_integer_value(json_array_get(b, 0)), nt = (uint64_t)json_integer_value(json_array_get(b, 1)),
                 ec = (uint64_t)json_integer_value(json_array_get(b, 2)), nc = (uint64_t)json_integer_value(json_array_get(b, 3));
        int64_t first = json_integer_value(json_object_get(c, "first"));
        sl_canary_seq_t seq;
        sl_canary_seq_init(&seq, &p);
        sl_canary_verdict_t v;
        for (int64_t k = 1; k <= first; ++k) {
            sl_canary_seq_update(&seq, et, nt, ec, nc, NULL);
            sl_canary_check_error_rate(&cc, &seq, &v);
            cr_assert_eq(v.outcome, k < first ? SL_CANARY_NO_DATA : SL_CANARY_PASS, "case %zu batch %lld", i, (long long)k);
            cr_assert_eq(sl_canary_error_power(&cc, &seq), k == first);
        }
        cr_assert_eq(v.n_canary, (uint64_t)first * nt, "the numbers are reported while it holds");
        /* with both parameters at their neutral values the requirement is off */
        cc.detect_ratio = 1;
        cc.detect_increase = 0;
        sl_canary_seq_init(&seq, &p);
        sl_canary_seq_update(&seq, et, nt, ec, nc, NULL);
        cr_assert_eq(sl_canary_error_power(&cc, &seq), 1);
    }
    cr_assert_eq(i, 3);
    json_decref(root);
}

/* The hypergeometric upper tail tests/reference/canary_reference.py computed with scipy for (x, total, good, draws). */
static double fixture_sf(uint64_t x, uint64_t total, uint64_t good, uint64_t draws)
{
    json_error_t err;
    json_t *root = json_load_file(SL_SOURCE_DIR "/tests/fixtures/stats/canary.json", 0, &err), *h;
    cr_assert_not_null(root, "canary.json: %s", err.text);
    size_t i;
    double sf = -1;
    json_array_foreach(json_object_get(root, "hypergeom"), i, h)
    {
        if ((uint64_t)json_integer_value(json_object_get(h, "x")) == x &&
            (uint64_t)json_integer_value(json_object_get(h, "total")) == total &&
            (uint64_t)json_integer_value(json_object_get(h, "good")) == good &&
            (uint64_t)json_integer_value(json_object_get(h, "draws")) == draws)
            sf = json_number_value(json_object_get(h, "sf"));
    }
    json_decref(root);
    cr_assert_geq(sf, 0, "no fixture row (%llu, %llu, %llu, %llu)", (unsigned long long)x, (unsigned long long)total,
                  (unsigned long long)good, (unsigned long long)draws);
    return sf;
}

Test(canary_checks, feedback_accuracy_by_the_fisher_exact_test)
{
    sl_conf_check_t cc = {.enabled = 1, .alpha = 0.001, .min_effect = 0.02, .min_samples = 100};
    sl_canary_verdict_t v;
    /* 9 of 200 canary answers wrong, 3 of 1000 stable ones: p 1.17e-5 under the first look's 6.08e-4, 4.2 points */
    sl_canary_labels_t c = {.n = 200, .correct = 191}, s = {.n = 1000, .correct = 997};
    sl_canary_check_feedback(&cc, &c, &s, 1, &v);
    cr_assert_eq(v.kind, SL_CANARY_K_FEEDBACK_ACCURACY);
    cr_assert_eq(v.check, SL_CONF_CHECK_FEEDBACK_ACCURACY);
    cr_assert_eq(v.outcome, SL_CANARY_FAIL);
    close_rel(v.p_value, fixture_sf(9, 1200, 12, 200), 1e-9, "p");
    close_rel(v.threshold, 0.001 * 6 / (M_PI * M_PI), 1e-12, "first look's level");
    close_rel(v.effect, 0.997 - 0.955, 1e-12, "accuracy drop");
    cr_assert_eq(v.statistic, 9);
    cr_assert_eq(v.n_canary, 200);
    cr_assert_eq(v.n_stable, 1000);
    cr_assert_eq(v.look, 1);
    /* 30 of 1000 wrong against 10 of 1000: a drop of exactly 2 points, p 0.0010 above the first look's level */
    c = (sl_canary_labels_t){.n = 1000, .correct = 970};
    s = (sl_canary_labels_t){.n = 1000, .correct = 990};
    sl_canary_check_feedback(&cc, &c, &s, 1, &v);
    cr_assert_eq(v.outcome, SL_CANARY_PASS);
    close_rel(v.p_value, fixture_sf(30, 2000, 40, 1000), 1e-9, "p");
    cc.alpha = 0.01; /* level 6.08e-3: significant, and 2 points meet the floor */
    sl_canary_check_feedback(&cc, &c, &s, 1, &v);
    cr_assert_eq(v.outcome, SL_CANARY_FAIL);
    /* the second look is held to a quarter of the first's level: 35 of 1000 against 5 of 1000 still fails */
    cc.alpha = 0.001;
    c.correct = 965;
    s.correct = 995;
    sl_canary_check_feedback(&cc, &c, &s, 2, &v);
    cr_assert_eq(v.outcome, SL_CANARY_FAIL);
    close_rel(v.threshold, 0.001 * 6 / (M_PI * M_PI) / 4, 1e-12, "second look's level");
    close_rel(v.p_value, fixture_sf(35, 2000, 40, 1000), 1e-9, "p");
    /* below the floor: 5 of 200 wrong against 7 of 1000 is 1.8 points, whatever the level */
    cc.alpha = 0.5;
    c = (sl_canary_labels_t){.n = 200, .correct = 195};
    s = (sl_canary_labels_t){.n = 1000, .correct = 993};
    sl_canary_check_feedback(&cc, &c, &s, 1, &v);
    cr_assert_eq(v.outcome, SL_CANARY_PASS);
    close_rel(v.p_value, fixture_sf(5, 1200, 12, 200), 1e-9, "p");
    /* no data below min_samples labelled answers on either version, or with inconsistent counts */
    c.n = 99;
    c.correct = 90;
    sl_canary_check_feedback(&cc, &c, &s, 1, &v);
    cr_assert_eq(v.outcome, SL_CANARY_NO_DATA);
    cr_assert_eq(v.look, 0);
    cr_assert_eq(v.n_canary, 99);
    c = (sl_canary_labels_t){.n = 200, .correct = 201};
    sl_canary_check_feedback(&cc, &c, &s, 1, &v);
    cr_assert_eq(v.outcome, SL_CANARY_NO_DATA);
    sl_canary_labels_t none = {0};
    sl_canary_check_feedback(&cc, &none, &none, 1, &v);
    cr_assert_eq(v.outcome, SL_CANARY_NO_DATA);
    cr_assert_eq(v.p_value, 1);
}

Test(canary_checks, accept_rate_from_the_msprt)
{
    sl_conf_check_t cc = {.enabled = 1, .alpha = 0.0001, .min_effect = 0.02, .min_samples = 100};
    sl_msprt_params_t p;
    sl_msprt_params_default(&p);
    p.alpha = 0.0001;
    p.min_effect = 0.02;
    sl_msprt_t m;
    sl_msprt_init(&m, &p);
    uint64_t judged[2] = {99, 1000}, escalated[2] = {10, 100};
    sl_canary_verdict_t v;
    sl_canary_check_accept_rate(&cc, &m, judged, escalated, &v);
    cr_assert_eq(v.outcome, SL_CANARY_NO_DATA, "stable below min_samples");
    /* stable accepts 90%, canary 60% of 1000: escalations 10% vs 40% */
    judged[0] = 1000;
    escalated[0] = 100;
    escalated[1] = 400;
    sl_msprt_result_t r;
    sl_msprt_look(&m, escalated[1], judged[1], escalated[0], judged[0], &r);
    sl_canary_check_accept_rate(&cc, &m, judged, escalated, &v);
    cr_assert_eq(v.outcome, SL_CANARY_FAIL);
    close_rel(v.canary_value, 0.6, 1e-12, "canary accept");
    close_rel(v.stable_value, 0.9, 1e-12, "stable accept");
    close_rel(v.effect, 0.3, 1e-12, "drop");
    cr_assert_eq(v.statistic, r.log_lr);
    cr_assert_eq(v.p_value, r.p_value);
}

Test(canary_checks, sample_ratio)
{
    sl_conf_check_t cc = {.enabled = 1, .alpha = 0.001, .hold = 1};
    sl_canary_verdict_t v;
    sl_canary_check_srm(&cc, 0, 0, 50, 0, 5, &v);
    cr_assert_eq(v.outcome, SL_CANARY_NO_DATA);
    double l;
    /* 100 of 1000 at 5%: twice the expected share */
    cr_assert_eq(sl_canary_srm_log_lambda(100, 1000, 0.05, SL_CANARY_SRM_CONCENTRATION, &l), SL_OK);
    cr_assert(l > log(5 / 0.001), "log Lambda %g", l);
    sl_canary_check_srm(&cc, 100, 1000, 50, l, 5, &v);
    cr_assert_eq(v.outcome, SL_CANARY_FAIL);
    cr_assert_eq(v.n_canary, 100);
    cr_assert_eq(v.n_stable, 900);
    close_rel(v.canary_value, 0.1, 1e-12, "share");
    close_rel(v.effect, 0.05, 1e-9, "excess");
    close_rel(v.threshold, 0.0002, 1e-12, "alpha per step");
    /* 52 of 1000 at 5%: consistent */
    cr_assert_eq(sl_canary_srm_log_lambda(52, 1000, 0.05, SL_CANARY_SRM_CONCENTRATION, &l), SL_OK);
    cr_assert(l < 0, "log Lambda %g", l);
    sl_canary_check_srm(&cc, 52, 1000, 50, 0, 5, &v);
    cr_assert_eq(v.outcome, SL_CANARY_PASS);
    cr_assert_eq(v.p_value, 1);
    /* flagged earlier in the step (a high running maximum), consistent now: the verdict follows the present */
    sl_canary_check_srm(&cc, 52, 1000, 50, 12, 5, &v);
    cr_assert_eq(v.outcome, SL_CANARY_PASS);
    close_rel(v.p_value, exp(-12), 1e-12, "always-valid p of the step");
    cr_assert_eq(sl_canary_srm_log_lambda(2, 1, 0.05, 100, &l), SL_EINVAL);
    cr_assert_eq(sl_canary_srm_log_lambda(0, 1, 0, 100, &l), SL_EINVAL);
    cr_assert_eq(sl_canary_srm_log_lambda(0, 1, 0.5, 0, &l), SL_EINVAL);
}

/* ---- the analysis object on synthetic streams ---- */

static sl_conf_backend_t canary_backend = {.name = "large-v2"};

static sl_conf_rollout_t conf_analysis(void)
{
    sl_conf_rollout_t c = {.enabled = 1,
                           .canary = &canary_backend,
                           .steps_permille = {50, 500, 1000},
                           .num_steps = 3,
                           .interval_ms = 60000,
                           .min_samples = 200,
                           .failure_limit = 3,
                           .critical_mask = (1u << SL_CONF_CHECK_ERROR_RATE) | (1u << SL_CONF_CHECK_LATENCY)};
    c.checks[SL_CONF_CHECK_ERROR_RATE] = (sl_conf_check_t){.enabled = 1, .alpha = 0.001, .ratio = 1, .min_effect = 0.001};
    c.checks[SL_CONF_CHECK_LATENCY] = timing_check();
    c.checks[SL_CONF_CHECK_TTFT] = timing_check();
    c.checks[SL_CONF_CHECK_ACCEPT_RATE] =
        (sl_conf_check_t){.enabled = 1, .alpha = 0.0001, .min_effect = 0.02, .min_samples = 100};
    c.checks[SL_CONF_CHECK_CONFIDENCE] =
        (sl_conf_check_t){.enabled = 1, .alpha = 0.0001, .min_effect = 0.1, .min_samples = 100};
    c.checks[SL_CONF_CHECK_SRM] = (sl_conf_check_t){.enabled = 1, .alpha = 0.001, .hold = 1};
    return c;
}

/* n requests of one version: latency lognormal-ish from a fixed generator times `slow`, no ttft (not streams),
 * errors every `err_every`-th request, accepted unless every `esc_every`-th */
static void stream(sl_canary_sample_t *s, uint64_t *rng, int n, double slow, int err_every, int esc_every)
{
    for (int i = 0; i != n; ++i) {
        double u = (double)(sl_reservoir_splitmix64(rng) >> 11) * 0x1p-53;
        sl_canary_outcome_t o = {.error = err_every != 0 && i % err_every == 0,
                                 .judged = 1,
                                 .accepted = esc_every == 0 || i % esc_every != 0,
                                 .latency_ms = slow * (200 + 100 * u),
                                 .ttft_ms = NAN,
                                 .tpot_ms = NAN,
                                 .confidence = u};
        sl_canary_sample_observe(s, &o, sl_reservoir_splitmix64(rng));
    }
}

Test(canary, samples_count_and_merge)
{
    sl_canary_sample_t a, b;
    sl_canary_sample_init(&a);
    sl_canary_sample_init(&b);
    uint64_t rng = 1;
    stream(&a, &rng, 1500, 1, 10, 4);
    cr_assert_eq(a.counts.requests, 1500);
    cr_assert_eq(a.counts.errors, 150);
    cr_assert_eq(a.counts.judged, 1500);
    cr_assert_eq(a.counts.accepted, 1125);
    cr_assert_eq(a.values[SL_CANARY_M_LATENCY].seen, 1500);
    cr_assert_eq(a.values[SL_CANARY_M_LATENCY].size, SL_CANARY_RESERVOIR);
    cr_assert_eq(a.values[SL_CANARY_M_TTFT].seen, 0, "NaN values are not sampled");
    cr_assert_eq(a.values[SL_CANARY_M_CONFIDENCE].seen, 1500);
    stream(&b, &rng, 100, 1, 0, 0);
    cr_assert_eq(sl_canary_sample_merge(&a, &b, &rng), SL_OK);
    cr_assert_eq(a.counts.requests, 1600);
    cr_assert_eq(a.counts.errors, 150);
    cr_assert_eq(a.values[SL_CANARY_M_LATENCY].seen, 1600);
    cr_assert_eq(a.values[SL_CANARY_M_LATENCY].size, SL_CANARY_RESERVOIR);
    cr_assert_eq(sl_canary_sample_merge(&a, &a, &rng), SL_EINVAL);
    sl_canary_sample_reset(&a);
    cr_assert_eq(a.counts.requests, 0);
    cr_assert_eq(a.values[SL_CANARY_M_LATENCY].size, 0);
    sl_canary_sample_dispose(&a);
    sl_canary_sample_dispose(&b);
}

/* One step of `ticks` ticks of 100 requests at 5%/95% (5 canary, 95 stable), values added at the end. */
static size_t run_step(sl_canary_t *an, uint64_t *rng, int ticks, double slow, int canary_err_every, int canary_esc_every,
                       sl_canary_verdict_t *out)
{
    sl_canary_sample_t vc, vs, tc, ts;
    sl_canary_sample_init(&vc);
    sl_canary_sample_init(&vs);
    sl_canary_sample_init(&tc);
    sl_canary_sample_init(&ts);
    for (int t = 0; t != ticks; ++t) {
        sl_canary_sample_reset(&tc);
        sl_canary_sample_reset(&ts);
        stream(&tc, rng, 5, slow, canary_err_every, canary_esc_every);
        stream(&ts, rng, 95, 1, 0, 10);
        sl_canary_verdict_t tv[2];
        size_t n = sl_canary_tick(an, &tc.counts, &ts.counts, tv);
        cr_assert_eq(n, 2);
        cr_assert_eq(tv[0].kind, SL_CANARY_K_ERROR_RATE);
        cr_assert_eq(tv[0].critical, 1);
        cr_assert_eq(tv[1].kind, SL_CANARY_K_SRM);
        sl_canary_sample_merge(&vc, &tc, rng);
        sl_canary_sample_merge(&vs, &ts, rng);
    }
    cr_assert_eq(sl_canary_add_values(an, &vc, &vs, rng), SL_OK);
    size_t n = sl_canary_analyze(an, out);
    sl_canary_sample_dispose(&vc);
    sl_canary_sample_dispose(&vs);
    sl_canary_sample_dispose(&tc);
    sl_canary_sample_dispose(&ts);
    return n;
}

static const sl_canary_verdict_t *find(const sl_canary_verdict_t *v, size_t n, int kind)
{
    for (size_t i = 0; i != n; ++i)
        if (v[i].kind == kind)
            return &v[i];
    cr_assert_fail("no verdict %s", sl_canary_kind_name(kind));
    return NULL;
}

Test(canary, a_healthy_canary_passes_every_check_and_looks_are_counted)
{
    sl_conf_rollout_t conf = conf_analysis();
    sl_canary_t an;
    cr_assert_eq(sl_canary_init(&an, &conf), SL_OK);
    sl_canary_begin_step(&an, 50);
    uint64_t rng = 42;
    sl_canary_verdict_t v[SL_CANARY_K_COUNT];
    size_t n = run_step(&an, &rng, 60, 1, 0, 10, v);
    cr_assert_eq(n, 8); /* error_rate, latency x2, ttft x2, accept_rate, confidence, srm (tpot is off) */
    static const int order[] = {SL_CANARY_K_ERROR_RATE, SL_CANARY_K_LATENCY,     SL_CANARY_K_LATENCY_P99, SL_CANARY_K_TTFT,
                                SL_CANARY_K_TTFT_P99,   SL_CANARY_K_ACCEPT_RATE, SL_CANARY_K_CONFIDENCE,  SL_CANARY_K_SRM};
    for (size_t i = 0; i != 8; ++i)
        cr_assert_eq(v[i].kind, order[i], "verdict %zu is %s", i, sl_canary_kind_name(v[i].kind));
    cr_assert_eq(find(v, n, SL_CANARY_K_ERROR_RATE)->outcome, SL_CANARY_PASS);
    cr_assert_eq(find(v, n, SL_CANARY_K_LATENCY)->outcome, SL_CANARY_PASS);
    cr_assert_eq(find(v, n, SL_CANARY_K_LATENCY)->n_canary, 300);
    cr_assert_eq(find(v, n, SL_CANARY_K_LATENCY)->n_stable, SL_CANARY_RESERVOIR);
    cr_assert_eq(find(v, n, SL_CANARY_K_LATENCY)->critical, 1);
    cr_assert_eq(find(v, n, SL_CANARY_K_LATENCY_P99)->outcome, SL_CANARY_PASS);
    cr_assert_eq(find(v, n, SL_CANARY_K_TTFT)->outcome, SL_CANARY_NO_DATA, "no streams, no ttft");
    cr_assert_eq(find(v, n, SL_CANARY_K_TTFT)->critical, 0);
    cr_assert_eq(find(v, n, SL_CANARY_K_ACCEPT_RATE)->outcome, SL_CANARY_PASS);
    cr_assert_eq(find(v, n, SL_CANARY_K_CONFIDENCE)->outcome, SL_CANARY_PASS);
    const sl_canary_verdict_t *srm = find(v, n, SL_CANARY_K_SRM);
    cr_assert_eq(srm->outcome, SL_CANARY_PASS);
    cr_assert_eq(srm->n_canary, 300, "no tick is left out");
    cr_assert_eq(srm->n_canary + srm->n_stable, 6000);
    cr_assert_eq(sl_canary_step_requests(&an), 300);
    cr_assert_eq(an.durable.looks[SL_CANARY_K_LATENCY], 1);
    cr_assert_eq(an.durable.looks[SL_CANARY_K_LATENCY_P99], 1);
    cr_assert_eq(an.durable.looks[SL_CANARY_K_TTFT], 0, "a look without data is not counted");
    cr_assert_eq(an.durable.looks[SL_CANARY_K_CONFIDENCE], 1);
    cr_assert_eq(an.durable.looks[SL_CANARY_K_FEEDBACK_ACCURACY], 0, "off: no look");
    /* a second interval at the same step: samples accumulate, the look number grows */
    n = run_step(&an, &rng, 60, 1, 0, 10, v);
    cr_assert_eq(find(v, n, SL_CANARY_K_LATENCY)->n_canary, 600);
    cr_assert_eq(find(v, n, SL_CANARY_K_LATENCY)->look, 2);
    cr_assert_eq(an.durable.looks[SL_CANARY_K_LATENCY], 2);
    /* a new step drops the step's samples and counts, not the whole-rollout tests */
    uint64_t n_t = an.durable.errors.n_t;
    sl_canary_begin_step(&an, 500);
    cr_assert_eq(sl_canary_step_requests(&an), 0);
    cr_assert_eq(an.values[SL_CANARY_CANARY][SL_CANARY_M_LATENCY].size, 0);
    cr_assert_eq(an.durable.errors.n_t, n_t);
    cr_assert_eq(an.weight_permille, 500);
    sl_canary_restart(&an);
    cr_assert_eq(an.durable.errors.n_t, 0);
    cr_assert_eq(an.durable.looks[SL_CANARY_K_LATENCY], 0);
    sl_canary_dispose(&an);
}

Test(canary, feedback_accuracy_judges_the_latest_labels_handed_over)
{
    sl_conf_rollout_t conf = conf_analysis();
    sl_canary_t an;
    sl_canary_init(&an, &conf);
    sl_canary_begin_step(&an, 50);
    uint64_t rng = 5;
    sl_canary_verdict_t v[SL_CANARY_K_COUNT];
    run_step(&an, &rng, 60, 1, 0, 10, v);
    /* once on, feedback accuracy judges the latest labelled answers handed over, after srm */
    conf.checks[SL_CONF_CHECK_FEEDBACK_ACCURACY] =
        (sl_conf_check_t){.enabled = 1, .alpha = 0.001, .min_effect = 0.02, .min_samples = 100};
    sl_canary_verdict_t fv[SL_CANARY_K_COUNT];
    cr_assert_eq(sl_canary_analyze(&an, fv), 9, "after srm, in kind order");
    cr_assert_eq(fv[8].kind, SL_CANARY_K_FEEDBACK_ACCURACY);
    cr_assert_eq(fv[8].outcome, SL_CANARY_NO_DATA, "no labels yet");
    sl_canary_set_labels(&an, &(sl_canary_labels_t){.n = 200, .correct = 191}, &(sl_canary_labels_t){.n = 1000, .correct = 997});
    sl_canary_analyze(&an, fv);
    cr_assert_eq(fv[8].outcome, SL_CANARY_FAIL);
    cr_assert_eq(fv[8].critical, 0);
    cr_assert_eq(an.durable.looks[SL_CANARY_K_FEEDBACK_ACCURACY], 1);
    sl_canary_dispose(&an);
}

Test(canary, regressions_fail_their_checks)
{
    sl_conf_rollout_t conf = conf_analysis();
    sl_canary_t an;
    sl_canary_init(&an, &conf);
    sl_canary_begin_step(&an, 50);
    uint64_t rng = 7;
    sl_canary_verdict_t v[SL_CANARY_K_COUNT];
    /* the canary is twice as slow, fails one request in 4 and escalates every other answer */
    size_t n = run_step(&an, &rng, 60, 2, 4, 2, v);
    cr_assert_eq(find(v, n, SL_CANARY_K_ERROR_RATE)->outcome, SL_CANARY_FAIL);
    const sl_canary_verdict_t *lat = find(v, n, SL_CANARY_K_LATENCY);
    cr_assert_eq(lat->outcome, SL_CANARY_FAIL);
    cr_assert_eq(lat->effect, 0.5, "every canary request is slower than every stable one");
    cr_assert_eq(find(v, n, SL_CANARY_K_ACCEPT_RATE)->outcome, SL_CANARY_FAIL);
    cr_assert_eq(find(v, n, SL_CANARY_K_CONFIDENCE)->outcome, SL_CANARY_PASS, "the signal's law did not change");
    cr_assert_eq(find(v, n, SL_CANARY_K_SRM)->outcome, SL_CANARY_PASS);
    sl_canary_dispose(&an);
}

Test(canary, a_broken_split_is_flagged_at_a_tick)
{
    sl_conf_rollout_t conf = conf_analysis();
    sl_canary_t an;
    sl_canary_init(&an, &conf);
    sl_canary_begin_step(&an, 50);
    sl_canary_counts_t c = {.requests = 10}, s = {.requests = 90};
    sl_canary_verdict_t tv[2];
    int flagged_at = 0;
    for (int t = 1; t <= 100 && flagged_at == 0; ++t) {
        sl_canary_tick(&an, &c, &s, tv);
        if (tv[1].outcome == SL_CANARY_FAIL)
            flagged_at = t;
    }
    /* 10% observed at a 5% weight: flagged within a few hundred requests */
    cr_assert(flagged_at >= 2 && flagged_at <= 10, "flagged at tick %d", flagged_at);
    sl_canary_dispose(&an);
}

Test(canary, inconsistent_counts_change_nothing)
{
    sl_conf_rollout_t conf = conf_analysis();
    sl_canary_t an;
    sl_canary_init(&an, &conf);
    sl_canary_begin_step(&an, 50);
    sl_canary_counts_t bad = {.requests = 1, .errors = 2}, ok = {.requests = 10};
    sl_canary_verdict_t tv[2];
    cr_assert_eq(sl_canary_tick(&an, &bad, &ok, tv), 0);
    sl_canary_counts_t bad2 = {.requests = 1, .judged = 1, .accepted = 2};
    cr_assert_eq(sl_canary_tick(&an, &ok, &bad2, tv), 0);
    cr_assert_eq(an.ticks, 0);
    cr_assert_eq(an.durable.errors.n_t, 0);
    cr_assert_eq(sl_canary_init(&an, NULL), SL_EINVAL);
    sl_canary_dispose(&an);
}

Test(canary, reconfigure_restarts_only_tests_whose_parameters_changed)
{
    sl_conf_rollout_t conf = conf_analysis(), conf2;
    sl_canary_t an;
    sl_canary_init(&an, &conf);
    sl_canary_begin_step(&an, 50);
    sl_canary_counts_t c = {.requests = 10, .errors = 1, .judged = 10, .accepted = 9},
                       s = {.requests = 90, .judged = 90, .accepted = 80};
    sl_canary_verdict_t tv[2];
    sl_canary_tick(&an, &c, &s, tv);
    conf2 = conf;
    conf2.checks[SL_CONF_CHECK_LATENCY].alpha = 0.01;
    cr_assert_eq(sl_canary_reconfigure(&an, &conf2), 0);
    cr_assert_eq(an.durable.errors.n_t, 10);
    cr_assert_eq(an.durable.judged[1], 10);
    conf2.checks[SL_CONF_CHECK_ERROR_RATE].alpha = 0.0005;
    cr_assert_eq(sl_canary_reconfigure(&an, &conf2), 1);
    cr_assert_eq(an.durable.errors.n_t, 0);
    cr_assert_eq(an.durable.errors.params.alpha, 0.0005);
    cr_assert_eq(an.durable.judged[1], 10, "the accept-rate test is unchanged");
    conf2.checks[SL_CONF_CHECK_ACCEPT_RATE].min_effect = 0.05;
    cr_assert_eq(sl_canary_reconfigure(&an, &conf2), 1);
    cr_assert_eq(an.durable.judged[1], 0);
    /* restore applies the current config the same way */
    sl_canary_durable_t saved = an.durable;
    saved.errors.params.alpha = 0.002;
    saved.errors.n_t = 77;
    sl_canary_restore(&an, &saved);
    cr_assert_eq(an.durable.errors.n_t, 0, "evidence weighed against other parameters starts again");
    saved.errors.params.alpha = 0.0005;
    sl_canary_restore(&an, &saved);
    cr_assert_eq(an.durable.errors.n_t, 77);
    sl_canary_dispose(&an);
}
