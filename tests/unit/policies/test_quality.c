/*
 * test_quality.c - quality measures from joined labels (policies/quality.c) against a plain Python computation
 * (tests/fixtures/monitor/quality.json: accuracy, macro precision / recall / F1, MAE, RMSE, to 1e-9); the window
 * ageing out old joins; and the concept-drift detectors fed with the error stream, checked against DDM and ADWIN
 * run directly on the same stream (stats/ddm.h, stats/adwin.h).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "policies/quality.h"
#include "stats/adwin.h"
#include "stats/ddm.h"
#include "test_monitor_fixture.h"

static const char *const five[] = {"a", "b", "c", "d", "e"};

static sl_conf_feedback_t fb(enum en_sl_feedback_task_t task, size_t labels, uint32_t window_ms)
{
    sl_conf_feedback_t f;
    memset(&f, 0, sizeof(f));
    f.enabled = 1;
    f.task = task;
    f.labels = task == SL_FEEDBACK_CLASSIFICATION ? (const char **)five : NULL;
    f.num_labels = task == SL_FEEDBACK_CLASSIFICATION ? labels : 0;
    f.horizon_ms = 60000;
    f.max_pending = 100;
    f.window_ms = window_ms;
    return f;
}

Test(quality, init_bounds)
{
    sl_quality_t q;
    sl_conf_feedback_t f = fb(SL_FEEDBACK_CLASSIFICATION, 1, 60000);
    cr_assert_eq(sl_quality_init(&q, &f, 2, 60, 1000), SL_EINVAL, "one label");
    f = fb(SL_FEEDBACK_CLASSIFICATION, 2, 60001);
    cr_assert_eq(sl_quality_init(&q, &f, 2, 60, 1000), SL_EINVAL, "window not split in whole ms");
    f = fb(SL_FEEDBACK_REGRESSION, 0, 60000);
    cr_assert_eq(sl_quality_init(&q, &f, 0, 60, 1000), SL_EINVAL, "no backend");
    cr_assert_eq(sl_quality_init(&q, &f, 2, 60, 1000), SL_OK);
    cr_assert_eq(q.width, 3);
    cr_assert_eq(sl_quality_add(&q, 2, SL_FEEDBACK_STABLE, 1, 1, 0), SL_EINVAL, "backend out of range");
    cr_assert_eq(sl_quality_add(&q, 0, SL_FEEDBACK_NUM_VERSIONS, 1, 1, 0), SL_EINVAL);
    cr_assert_eq(sl_quality_add(&q, 0, SL_FEEDBACK_STABLE, NAN, 1, 0), SL_EINVAL);
    cr_assert_eq(sl_quality_has_group(&q, 0, SL_FEEDBACK_STABLE), 0, "nothing counted");
    sl_quality_report_t r;
    cr_assert_eq(sl_quality_read(&q, 0, SL_FEEDBACK_STABLE, 0, &r), SL_OK);
    cr_assert_eq(r.has_data, 0);
    cr_assert_eq(r.concept, SL_CONCEPT_NO_DATA);
    sl_quality_dispose(&q);
    f = fb(SL_FEEDBACK_CLASSIFICATION, 3, 60000);
    cr_assert_eq(sl_quality_init(&q, &f, 1, 60, 1000), SL_OK);
    cr_assert_eq(sl_quality_add(&q, 0, SL_FEEDBACK_STABLE, 4, 1, 0), SL_EINVAL, "prediction past 'none of them' (3)");
    cr_assert_eq(sl_quality_add(&q, 0, SL_FEEDBACK_STABLE, 1, 3, 0), SL_EINVAL, "truth must be a label");
    cr_assert_eq(sl_quality_add(&q, 0, SL_FEEDBACK_STABLE, 0.5, 1, 0), SL_EINVAL);
    sl_quality_dispose(&q);
}

Test(quality, measures_match_the_reference)
{
    json_t *root = mon_fixture("quality.json");
    size_t i, j, seen = 0;
    json_t *c, *pair;
    json_array_foreach(json_object_get(root, "cases"), i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        int cls = strcmp(json_string_value(json_object_get(c, "task")), "classification") == 0;
        sl_conf_feedback_t f =
            fb(cls ? SL_FEEDBACK_CLASSIFICATION : SL_FEEDBACK_REGRESSION, cls ? (size_t)mon_num(c, "labels") : 0, 3600000);
        sl_quality_t q;
        cr_assert_eq(sl_quality_init(&q, &f, 3, 60, 3600000), SL_OK, "%s", name);
        json_array_foreach(json_object_get(c, "pairs"), j, pair)
        {
            double p = json_number_value(json_array_get(pair, 0)), t = json_number_value(json_array_get(pair, 1));
            /* every join lands in the window: 1 ms apart, on backend 1, canary */
            cr_assert_eq(sl_quality_add(&q, 1, SL_FEEDBACK_CANARY, p, t, 1000 + j), SL_OK, "%s pair %zu", name, j);
        }
        sl_quality_report_t r;
        cr_assert_eq(sl_quality_read(&q, 1, SL_FEEDBACK_CANARY, 1000 + j, &r), SL_OK);
        json_t *e = json_object_get(c, "expect");
        char what[96];
        cr_assert_eq(r.n, (uint64_t)mon_num(e, "n"), "%s", name);
        cr_assert_eq(r.joins_total, r.n);
        cr_assert_eq(r.has_data, 1);
        if (cls) {
            static const char *const keys[] = {"accuracy", "precision", "recall", "f1"};
            double got[] = {r.accuracy, r.precision, r.recall, r.f1};
            for (int k = 0; k != 4; ++k) {
                snprintf(what, sizeof(what), "%s %s", name, keys[k]);
                mon_close(got[k], mon_num(e, keys[k]), what);
            }
            cr_assert_eq(r.labels_present, (uint32_t)mon_num(e, "labels_present"), "%s", name);
            cr_assert_eq(r.mae, 0);
        } else {
            snprintf(what, sizeof(what), "%s mae", name);
            mon_close(r.mae, mon_num(e, "mae"), what);
            snprintf(what, sizeof(what), "%s rmse", name);
            mon_close(r.rmse, mon_num(e, "rmse"), what);
            cr_assert_eq(r.concept, SL_CONCEPT_NO_DATA, "no tolerance: no detector");
            cr_assert_eq(r.accuracy, 0);
        }
        /* the other groups saw nothing */
        cr_assert_eq(sl_quality_has_group(&q, 1, SL_FEEDBACK_STABLE), 0);
        cr_assert_eq(sl_quality_has_group(&q, 0, SL_FEEDBACK_CANARY), 0);
        sl_quality_dispose(&q);
        ++seen;
    }
    cr_assert_eq(seen, 6);
    json_decref(root);
}

Test(quality, window_ages_out_old_joins)
{
    sl_quality_t q;
    sl_quality_report_t r;
    sl_conf_feedback_t f = fb(SL_FEEDBACK_REGRESSION, 0, 60000); /* 60 slots of 1 s */
    cr_assert_eq(sl_quality_init(&q, &f, 1, 60, 1000), SL_OK);
    sl_quality_add(&q, 0, SL_FEEDBACK_STABLE, 3, 1, 500);   /* |e| = 2, slot 0 */
    sl_quality_add(&q, 0, SL_FEEDBACK_STABLE, 1, 5, 30500); /* |e| = 4, slot 30 */
    sl_quality_read(&q, 0, SL_FEEDBACK_STABLE, 59999, &r);
    cr_assert_eq(r.n, 2);
    cr_assert_eq(r.mae, 3);
    cr_assert_eq(r.rmse, sqrt(10));
    sl_quality_read(&q, 0, SL_FEEDBACK_STABLE, 60000, &r); /* slot 0 left the window, without any write */
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.mae, 4);
    sl_quality_read(&q, 0, SL_FEEDBACK_STABLE, 90500, &r);
    cr_assert_eq(r.n, 0);
    cr_assert_eq(r.has_data, 0);
    cr_assert_eq(r.mae, 0);
    cr_assert_eq(r.joins_total, 2);
    sl_quality_add(&q, 0, SL_FEEDBACK_STABLE, 0, 0, 200000); /* long after: the ring starts over */
    sl_quality_read(&q, 0, SL_FEEDBACK_STABLE, 200000, &r);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.mae, 0);
    sl_quality_dispose(&q);
}

/* A designed error stream: 600 joins with every 10th wrong (10%), then 200 with 3 wrong in 5 (60%). The group's
 * detectors must count exactly what DDM and ADWIN count on the same stream, the state must be drift right after a
 * signal and for hold_ms, and ok before the change. */
Test(quality, concept_drift_detectors_follow_the_error_stream)
{
    sl_quality_t q;
    sl_quality_report_t r;
    sl_conf_feedback_t f = fb(SL_FEEDBACK_CLASSIFICATION, 2, 3600000);
    cr_assert_eq(sl_quality_init(&q, &f, 1, 60, 10000), SL_OK); /* a signal holds the drift state for 10 s */
    sl_ddm_t ddm;
    sl_adwin_t adwin;
    sl_ddm_params_t dp;
    sl_adwin_params_t ap;
    sl_ddm_params_default(&dp);
    sl_adwin_params_default(&ap);
    sl_ddm_init(&ddm, &dp);
    sl_adwin_init(&adwin, &ap);
    uint64_t ddm_signals = 0, adwin_signals = 0, first_signal = 0, last_signal = 0, t = 0;
    for (int i = 0; i != 800; ++i, t += 100) {
        int wrong = i < 600 ? i % 10 == 9 : i % 5 < 3;
        enum en_sl_ddm_state_t st;
        int changed = 0;
        sl_ddm_observe(&ddm, wrong, &st);
        sl_adwin_observe(&adwin, wrong, &changed);
        ddm_signals += st == SL_DDM_DRIFT;
        adwin_signals += changed != 0;
        if ((st == SL_DDM_DRIFT || changed) && first_signal == 0)
            first_signal = t;
        if (st == SL_DDM_DRIFT || changed)
            last_signal = t;
        /* truth is label 0; a wrong answer predicts label 1 */
        cr_assert_eq(sl_quality_add(&q, 0, SL_FEEDBACK_STABLE, wrong, 0, t), SL_OK);
        if (i == 20) {
            sl_quality_read(&q, 0, SL_FEEDBACK_STABLE, t, &r);
            cr_assert_eq(r.concept, SL_CONCEPT_NO_DATA, "fewer joins than DDM's 30");
        }
        if (i == 599) {
            sl_quality_read(&q, 0, SL_FEEDBACK_STABLE, t, &r);
            cr_assert_eq(r.concept, SL_CONCEPT_OK, "a stationary 10%% error rate");
            cr_assert_eq(r.ddm_drifts + r.adwin_drifts, 0);
            mon_close(r.accuracy, 0.9, "accuracy before the change");
        }
    }
    cr_assert_gt(first_signal, 60000, "no signal before the change");
    cr_assert_lt(first_signal, 60000 + 100 * 60, "a change to 60%% errors is seen within 60 joins");
    sl_quality_read(&q, 0, SL_FEEDBACK_STABLE, t - 100, &r);
    cr_assert_eq(r.ddm_drifts, ddm_signals);
    cr_assert_eq(r.adwin_drifts, adwin_signals);
    cr_assert_gt(r.ddm_drifts + r.adwin_drifts, 0);
    mon_close(r.error_rate, sl_adwin_mean(&adwin), "adwin error rate");
    cr_assert_eq(r.adwin_width, sl_adwin_width(&adwin));
    mon_close(r.accuracy, (540.0 + 80.0) / 800.0, "accuracy over the window");
    sl_quality_read(&q, 0, SL_FEEDBACK_STABLE, last_signal + 9999, &r);
    cr_assert_eq(r.concept, SL_CONCEPT_DRIFT, "a signal holds the state for 10 s");
    sl_quality_read(&q, 0, SL_FEEDBACK_STABLE, last_signal + 10000, &r);
    cr_assert_neq(r.concept, SL_CONCEPT_DRIFT);
    sl_quality_read(&q, 0, SL_FEEDBACK_STABLE, t + 3600000, &r);
    cr_assert_eq(r.has_data, 0);
    cr_assert_str_eq(sl_quality_concept_name(SL_CONCEPT_WARNING), "warning");
    sl_adwin_dispose(&adwin);
    sl_quality_dispose(&q);
}

Test(quality, regression_errors_beyond_the_tolerance)
{
    sl_quality_t q;
    sl_quality_report_t r;
    sl_conf_feedback_t f = fb(SL_FEEDBACK_REGRESSION, 0, 3600000);
    f.has_tolerance = 1;
    f.tolerance = 0.5;
    cr_assert_eq(sl_quality_init(&q, &f, 1, 60, 1000), SL_OK);
    for (int i = 0; i != 40; ++i) /* |e| = 0.5 is not above the tolerance */
        sl_quality_add(&q, 0, SL_FEEDBACK_CANARY, i % 2 ? 10.5 : 9.5, 10, (uint64_t)i);
    sl_quality_read(&q, 0, SL_FEEDBACK_CANARY, 40, &r);
    cr_assert_eq(r.concept, SL_CONCEPT_OK);
    cr_assert_eq(r.adwin_width, 40);
    cr_assert_eq(r.error_rate, 0);
    cr_assert_eq(r.mae, 0.5);
    sl_quality_dispose(&q);
}
