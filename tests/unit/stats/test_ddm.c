/*
 * test_ddm.c - DDM against a Python transcription of the paper's rules (tests/fixtures/stats/detect.json): the
 * state of every sample of designed streams with change points, exactly; and the false-alarm share on stationary
 * streams of 100,000 samples at the default settings.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "common/status.h"
#include "stats/ddm.h"
#include "stats/reservoir.h"
#include "test_special_fixture.h"

Test(ddm, designed_streams_match_reference)
{
    json_t *root = fixture_load("detect.json");
    size_t i, j;
    json_t *c, *v;
    int seen = 0;
    json_array_foreach(json_object_get(root, "ddm"), i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *bits = json_string_value(json_object_get(c, "stream"));
        size_t n = strlen(bits);
        char *want = sl_calloc(n, 1);
        json_array_foreach(json_object_get(c, "drifts"), j, v) want[(size_t)fx_num(v)] = SL_DDM_DRIFT;
        json_array_foreach(json_object_get(c, "warnings"), j, v)
        {
            for (size_t t = (size_t)fx_at(v, 0); t <= (size_t)fx_at(v, 1); ++t)
                want[t] = SL_DDM_WARNING;
        }
        sl_ddm_params_t p;
        sl_ddm_params_default(&p);
        sl_ddm_t d;
        cr_assert_eq(sl_ddm_init(&d, &p), SL_OK);
        uint64_t drifts = 0;
        for (size_t t = 0; t != n; ++t) {
            enum en_sl_ddm_state_t st;
            cr_assert_eq(sl_ddm_observe(&d, bits[t] == '1', &st), SL_OK);
            cr_assert_eq((int)st, (int)want[t], "%s: sample %zu state %d, reference %d", name, t, st, want[t]);
            drifts += st == SL_DDM_DRIFT;
        }
        cr_assert_eq(d.drifts, drifts);
        cr_assert_eq(d.seen, n);
        sl_free(want);
        ++seen;
    }
    cr_assert_eq(seen, 6);
    json_decref(root);
}

Test(ddm, validation_and_restart)
{
    sl_ddm_params_t p;
    sl_ddm_t d;
    sl_ddm_params_default(&p);
    p.drift = p.warning;
    cr_assert_eq(sl_ddm_init(&d, &p), SL_EINVAL);
    sl_ddm_params_default(&p);
    p.min_samples = 0;
    cr_assert_eq(sl_ddm_init(&d, &p), SL_EINVAL);
    sl_ddm_params_default(&p);
    cr_assert_eq(sl_ddm_init(&d, &p), SL_OK);
    cr_assert_eq(sl_ddm_observe(&d, 2, NULL), SL_EINVAL);
    cr_assert_eq(d.seen, 0);
    /* an error-free start registers p_min = s_min = 0: the first error is a drift, then a fresh start */
    enum en_sl_ddm_state_t st;
    for (int i = 0; i < 40; ++i) {
        cr_assert_eq(sl_ddm_observe(&d, 0, &st), SL_OK);
        cr_assert_eq(st, SL_DDM_IN_CONTROL); /* strict comparisons: no signal while p = s = 0 */
    }
    cr_assert_eq(sl_ddm_observe(&d, 1, &st), SL_OK);
    cr_assert_eq(st, SL_DDM_DRIFT);
    cr_assert_eq(d.n, 0);
    cr_assert_eq(d.drifts, 1);
}

/* Drift signals on a stationary Bernoulli(p) error stream of n samples (seeded splitmix64). */
static uint64_t stationary_drifts(double p, int n, uint64_t seed)
{
    sl_ddm_params_t params;
    sl_ddm_params_default(&params);
    sl_ddm_t d;
    sl_ddm_init(&d, &params);
    uint64_t rng = seed, thr = (uint64_t)(p * 18446744073709551616.0);
    for (int i = 0; i < n; ++i)
        sl_ddm_observe(&d, sl_reservoir_splitmix64(&rng) < thr, NULL);
    return d.drifts;
}

/*
 * DDM is not quiet on stationary streams: it tests at every sample against a minimum taken over a random walk. The
 * expected share of 100,000-sample runs with at least one drift signal was measured over 2,000 runs (seeds
 * 900000..901999, docs/STATISTICS.md): 0.633 at p = 0.05, 0.3230 at p = 0.2, 0.2325 at p = 0.3. Fifty other
 * seeded runs must not exceed that share by more than three binomial standard deviations.
 */
Test(ddm, stationary_false_alarm_share_within_expected)
{
    const struct {
        double p, expected;
    } cases[] = {{0.05, 0.633}, {0.2, 0.323}, {0.3, 0.2325}};
    enum { RUNS = 50 };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); ++c) {
        int alarmed = 0;
        for (int r = 0; r < RUNS; ++r)
            alarmed += stationary_drifts(cases[c].p, 100000, 1000 + (uint64_t)r) > 0;
        double e = cases[c].expected, bound = e + 3 * sqrt(e * (1 - e) / RUNS);
        cr_log_info("DDM stationary p=%.2f: %d of %d runs alarmed (expected share %.3f, bound %.3f)", cases[c].p, alarmed, RUNS,
                    e, bound);
        cr_assert((double)alarmed / RUNS <= bound, "p=%.2f: %d of %d runs alarmed", cases[c].p, alarmed, RUNS);
    }
}
