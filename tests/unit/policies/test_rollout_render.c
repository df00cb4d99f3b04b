/*
 * test_rollout_render.c - a rollout as JSON (parsed back with jansson, every field checked) and as Prometheus
 * metrics (exact lines), after a scripted rollout that started, advanced and was rolled back.
 */
#include <criterion/criterion.h>
#include <jansson.h>

#include "common/status.h"
#include "policies/rollout_render.h"
#include "rollout_fixture.h"

static void scripted(sl_rollout_t *r, const sl_conf_rollout_t *conf)
{
    fx_traffic_t t;
    fx_traffic_init(&t, 21);
    cr_assert_eq(sl_rollout_init(r, conf, 0), SL_OK);
    uint64_t now = 0;
    while (r->state.step < 1)
        fx_tick(r, &t, 400, 0, now += 1000);
    while (r->state.phase == SL_ROLLOUT_PROGRESSING)
        fx_tick(r, &t, 400, 2, now += 1000);
    fx_traffic_dispose(&t);
}

Test(rollout_render, json_holds_state_verdicts_and_history)
{
    sl_conf_t *conf = fx_conf("large-v2", "");
    sl_rollout_t r;
    scripted(&r, fx_rollout(conf));
    sl_buf_t b;
    sl_buf_init(&b, 0);
    cr_assert_eq(sl_rollout_render_json(&r, "chat", "large", &b), SL_OK);
    json_error_t err;
    json_t *j = json_loadb(b.data, b.len, 0, &err);
    cr_assert_not_null(j, "%s: %s", err.text, b.data);
    cr_assert_str_eq(json_string_value(json_object_get(j, "route")), "chat");
    cr_assert_str_eq(json_string_value(json_object_get(j, "backend")), "large");
    cr_assert_str_eq(json_string_value(json_object_get(j, "canary")), "large-v2");
    cr_assert_str_eq(json_string_value(json_object_get(j, "phase")), "rolled_back");
    cr_assert_eq(json_integer_value(json_object_get(j, "weight_permille")), 0);
    cr_assert_eq(json_integer_value(json_object_get(j, "step")), 1);
    cr_assert_eq(json_integer_value(json_object_get(j, "generation")), 1);
    json_t *steps = json_object_get(j, "steps");
    cr_assert_eq(json_array_size(steps), 5);
    cr_assert_eq(json_integer_value(json_array_get(steps, 4)), 1000);
    json_t *verdicts = json_object_get(j, "verdicts");
    cr_assert_eq(json_array_size(verdicts), r.num_last);
    json_t *v0 = json_array_get(verdicts, 0);
    cr_assert_str_eq(json_string_value(json_object_get(v0, "verdict")), "error_rate");
    cr_assert_str_eq(json_string_value(json_object_get(v0, "check")), "error_rate");
    cr_assert_str_eq(json_string_value(json_object_get(v0, "outcome")), "fail");
    cr_assert(json_is_true(json_object_get(v0, "critical")));
    cr_assert_eq(json_real_value(json_object_get(v0, "p_value")), r.last[0].p_value, "17 digits read back exactly");
    cr_assert_eq(json_real_value(json_object_get(v0, "effect")), r.last[0].effect);
    cr_assert_eq((uint64_t)json_integer_value(json_object_get(v0, "n_canary")), r.last[0].n_canary);
    json_t *h = json_object_get(j, "history");
    cr_assert_eq(json_array_size(h), r.history.count);
    json_t *first = json_array_get(h, 0), *last = json_array_get(h, json_array_size(h) - 1);
    cr_assert_str_eq(json_string_value(json_object_get(first, "event")), "start");
    cr_assert_eq(json_integer_value(json_object_get(first, "seq")), 1);
    cr_assert_str_eq(json_string_value(json_object_get(last, "event")), "rollback");
    cr_assert_str_eq(json_string_value(json_object_get(last, "cause")), "analysis");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(last, "from"), "phase")), "progressing");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(last, "from"), "weight_permille")), 100);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(last, "to"), "phase")), "rolled_back");
    json_t *ev = json_object_get(last, "evidence");
    cr_assert_geq(json_array_size(ev), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(ev, 0), "outcome")), "fail");
    json_decref(j);
    sl_buf_dispose(&b);
    sl_rollout_dispose(&r);
    sl_conf_release(conf);
}

Test(rollout_render, metrics)
{
    sl_conf_t *conf = fx_conf("large-v2", "");
    sl_rollout_t r;
    scripted(&r, fx_rollout(conf));
    sl_buf_t b;
    sl_buf_init(&b, 0);
    sl_rollout_render_metrics_header(&b);
    cr_assert_eq(sl_rollout_render_metrics(&r, "chat", "large", &b), SL_OK);
    const char *L = "{route=\"chat\",backend=\"large\",canary=\"large-v2\"";
    char want[256];
    static const char *const lines[] = {
        "# TYPE sluice_rollout_weight gauge\n",
        "sluice_rollout_weight%s} 0\n",
        "sluice_rollout_state%s,state=\"rolled_back\"} 1\n",
        "sluice_rollout_state%s,state=\"progressing\"} 0\n",
        "sluice_rollout_step%s} 1\n",
        "sluice_rollout_verdict%s,check=\"error_rate\",outcome=\"fail\"} 1\n",
        "sluice_rollout_verdict%s,check=\"error_rate\",outcome=\"pass\"} 0\n",
        "sluice_rollout_rollbacks_total%s} 1\n",
    };
    for (size_t i = 0; i != sizeof(lines) / sizeof(lines[0]); ++i) {
        snprintf(want, sizeof(want), lines[i], L);
        cr_assert_not_null(strstr(b.data, want), "missing %s", want);
    }
    /* every pass of the latency shift at the step-0 analysis is counted */
    snprintf(want, sizeof(want), "sluice_rollout_verdicts_total%s,check=\"latency\",outcome=\"pass\"} %llu\n", L,
             (unsigned long long)r.verdicts_total[SL_CANARY_K_LATENCY][SL_CANARY_PASS]);
    cr_assert_not_null(strstr(b.data, want), "missing %s", want);
    cr_assert_eq(r.verdicts_total[SL_CANARY_K_LATENCY][SL_CANARY_PASS], 1);
    /* a capped buffer is left as it was */
    sl_buf_t small;
    sl_buf_init(&small, 64);
    cr_assert_eq(sl_rollout_render_metrics(&r, "chat", "large", &small), SL_ENOMEM);
    cr_assert_eq(small.len, 0);
    cr_assert_eq(sl_rollout_render_json(&r, "chat", "large", &small), SL_ENOMEM);
    cr_assert_eq(small.len, 0);
    sl_buf_dispose(&small);
    sl_buf_dispose(&b);
    sl_rollout_dispose(&r);
    sl_conf_release(conf);
}
