/*
 * test_rollout_tier.c - the rollout of one tier (policies/rollout_tier.c and the restore rules of
 * rollout_store_file.c) on synthetic traffic: a healthy canary promoted step by step, a failing one rolled back
 * within a few requests, the identity rule on reloads and restarts (another canary starts a new rollout, other
 * changes keep the running one), steps changed under a running rollout, the budget hold.
 */
#include <criterion/criterion.h>

#include "common/alloc.h"
#include "common/status.h"
#include "policies/rollout_store.h"
#include "rollout_fixture.h"

static int count_kind(const sl_rollout_t *r, int kind)
{
    int n = 0;
    for (uint32_t i = 0; i != r->history.count; ++i)
        n += sl_rollout_history_get(&r->history, i)->kind == kind;
    return n;
}

static const sl_rollout_event_t *last_event(const sl_rollout_t *r)
{
    return sl_rollout_history_get(&r->history, r->history.count - 1);
}

Test(rollout_tier, a_healthy_canary_is_promoted_step_by_step)
{
    sl_conf_t *conf = fx_conf("large-v2", "");
    sl_rollout_t r;
    fx_traffic_t t;
    fx_traffic_init(&t, 1);
    cr_assert_eq(sl_rollout_init(&r, fx_rollout(conf), 0), SL_OK);
    cr_assert_eq(r.dirty, 1);
    cr_assert_eq(sl_rollout_analysis_due(&r, 1000000), 0, "pending: no analysis");
    uint64_t now = 1000;
    cr_assert_eq(fx_tick(&r, &t, 400, 0, now), 1);
    cr_assert_eq(last_event(&r)->kind, SL_ROLLOUT_EV_START);
    cr_assert_eq(sl_rollout_weight(&r), 50);
    static const uint32_t weights[] = {100, 250, 500, 1000};
    for (int k = 0; k != 4; ++k) {
        uint64_t began = now;
        uint32_t w = sl_rollout_weight(&r);
        while (sl_rollout_weight(&r) == w)
            fx_tick(&r, &t, 400, 0, now += 1000);
        cr_assert_eq(sl_rollout_weight(&r), weights[k]);
        /* each step lasts exactly one interval: the first analysis already has 10 x 20+ canary requests */
        cr_assert_eq(now - began, 10000, "step %d lasted %llu ms", k, (unsigned long long)(now - began));
    }
    cr_assert_eq(r.state.phase, SL_ROLLOUT_PROMOTED);
    cr_assert_eq(count_kind(&r, SL_ROLLOUT_EV_ADVANCE), 3);
    cr_assert_eq(count_kind(&r, SL_ROLLOUT_EV_PROMOTE), 1);
    cr_assert_eq(count_kind(&r, SL_ROLLOUT_EV_ROLLBACK), 0);
    cr_assert_eq(last_event(&r)->num_evidence, 4, "error_rate, latency, latency_p99 and srm: every verdict");
    /* the latest verdict of each check is kept for /admin/state */
    cr_assert_eq(r.num_last, 4);
    cr_assert_eq(r.last[0].kind, SL_CANARY_K_ERROR_RATE);
    cr_assert_eq(sl_rollout_tick(&r, NULL, NULL, NULL, NULL, now + 1000, 0, &t.rng), 0, "promoted is final");
    fx_traffic_dispose(&t);
    sl_rollout_dispose(&r);
    sl_conf_release(conf);
}

Test(rollout_tier, a_hard_failure_rolls_back_within_a_few_canary_requests)
{
    sl_conf_t *conf = fx_conf("large-v2", "");
    sl_rollout_t r;
    fx_traffic_t t;
    fx_traffic_init(&t, 2);
    cr_assert_eq(sl_rollout_init(&r, fx_rollout(conf), 0), SL_OK);
    fx_tick(&r, &t, 40, 0, 1000); /* start: 2 canary requests a tick from now on */
    uint64_t now = 1000, canary = 0;
    while (r.state.phase == SL_ROLLOUT_PROGRESSING && canary < 100) {
        fx_tick(&r, &t, 40, 2, now += 1000);
        canary += 2;
    }
    cr_assert_eq(r.state.phase, SL_ROLLOUT_ROLLED_BACK);
    cr_assert_leq(canary, 12, "rolled back after %llu canary requests", (unsigned long long)canary);
    const sl_rollout_event_t *ev = last_event(&r);
    cr_assert_eq(ev->kind, SL_ROLLOUT_EV_ROLLBACK);
    cr_assert_eq(ev->evidence[0].kind, SL_CANARY_K_ERROR_RATE);
    cr_assert_eq(ev->evidence[0].n_canary, canary);
    cr_assert(ev->evidence[0].p_value <= 0.004, "p %g", ev->evidence[0].p_value); /* the default alpha */
    cr_assert_eq(sl_rollout_weight(&r), 0);
    fx_traffic_dispose(&t);
    sl_rollout_dispose(&r);
    sl_conf_release(conf);
}

Test(rollout_tier, an_exhausted_budget_holds_every_step_up)
{
    sl_conf_t *conf = fx_conf("large-v2", "");
    sl_rollout_t r;
    fx_traffic_t t;
    fx_traffic_init(&t, 4);
    cr_assert_eq(sl_rollout_init(&r, fx_rollout(conf), 0), SL_OK);
    sl_canary_counts_t c = {0}, s = {.requests = 400};
    cr_assert_eq(sl_rollout_tick(&r, &c, &s, NULL, NULL, 1000, 1, &t.rng), 1);
    cr_assert_eq(last_event(&r)->hold, SL_ROLLOUT_HOLD_BUDGET);
    cr_assert_eq(r.state.phase, SL_ROLLOUT_PENDING);
    cr_assert_eq(sl_rollout_tick(&r, &c, &s, NULL, NULL, 2000, 0, &t.rng), 1);
    cr_assert_eq(r.state.phase, SL_ROLLOUT_PROGRESSING);
    fx_traffic_dispose(&t);
    sl_rollout_dispose(&r);
    sl_conf_release(conf);
}

Test(rollout_tier, reload_with_another_canary_starts_a_new_rollout)
{
    sl_conf_t *c1 = fx_conf("large-v2", ""), *c2 = fx_conf("large-v3", "");
    sl_rollout_t r;
    fx_traffic_t t;
    fx_traffic_init(&t, 5);
    cr_assert_eq(sl_rollout_init(&r, fx_rollout(c1), 0), SL_OK);
    uint64_t now = 0;
    while (r.state.step < 2)
        fx_tick(&r, &t, 400, 0, now += 1000);
    uint64_t events = r.state.events;
    r.dirty = 0;
    cr_assert_eq(sl_rollout_reconfigure(&r, fx_rollout(c2), now += 1000), 1);
    cr_assert_eq(r.dirty, 1);
    cr_assert_eq(r.state.phase, SL_ROLLOUT_PENDING);
    cr_assert_eq(r.state.generation, 1);
    cr_assert_eq(sl_rollout_weight(&r), 0);
    cr_assert_eq(r.state.events, events + 1);
    const sl_rollout_event_t *ev = last_event(&r);
    cr_assert_eq(ev->kind, SL_ROLLOUT_EV_NEW_CANARY);
    cr_assert_eq(ev->from_weight, 250);
    cr_assert_eq(ev->from_step, 2);
    cr_assert_eq(ev->to_phase, SL_ROLLOUT_PENDING);
    cr_assert_eq(r.analysis.durable.errors.n_t, 0, "the new canary's evidence starts from nothing");
    cr_assert_eq(r.conf, fx_rollout(c2));
    fx_tick(&r, &t, 400, 0, now += 1000);
    cr_assert_eq(sl_rollout_weight(&r), 50);
    fx_traffic_dispose(&t);
    sl_rollout_dispose(&r);
    sl_conf_release(c1);
    sl_conf_release(c2);
}

Test(rollout_tier, reload_with_the_same_canary_keeps_the_rollout)
{
    sl_conf_t *c1 = fx_conf("large-v2", ""),
              *c2 = fx_conf("large-v2", "min_samples: 300, checks: {latency: {alpha: 0.001}, " FX_NO_POWER "}, sticky: header:x-u"),
              *c3 = fx_conf("large-v2", "steps: [2%, 20%, 40%, 80%]"),
              *c4 = fx_conf("large-v2", "steps: [2%, 20%, 40%, 80%], checks: {error_rate: {alpha: 0.0001, detect_ratio: 1, detect_increase: 0%}}");
    sl_rollout_t r;
    fx_traffic_t t;
    fx_traffic_init(&t, 6);
    cr_assert_eq(sl_rollout_init(&r, fx_rollout(c1), 0), SL_OK);
    uint64_t now = 0;
    while (r.state.step < 2)
        fx_tick(&r, &t, 400, 0, now += 1000);
    fx_tick(&r, &t, 400, 0, now += 1000);
    uint64_t events = r.state.events, n_t = r.analysis.durable.errors.n_t;
    cr_assert_eq(sl_rollout_reconfigure(&r, fx_rollout(c2), now), 0);
    cr_assert_eq(r.state.step, 2);
    cr_assert_eq(sl_rollout_weight(&r), 250);
    cr_assert_eq(r.state.events, events);
    cr_assert_eq(r.analysis.durable.errors.n_t, n_t, "the error test goes on");
    cr_assert_eq(r.conf->min_samples, 300);
    /* steps changed: the highest new step not above 25% is 20% (index 1) */
    cr_assert_eq(sl_rollout_reconfigure(&r, fx_rollout(c3), now), 1);
    const sl_rollout_event_t *ev = last_event(&r);
    cr_assert_eq(ev->kind, SL_ROLLOUT_EV_RECONFIGURE);
    cr_assert_eq(ev->from_weight, 250);
    cr_assert_eq(ev->to_weight, 200);
    cr_assert_eq(r.state.step, 1);
    cr_assert_eq(sl_rollout_weight(&r), 200);
    cr_assert_eq(r.analysis.weight_permille, 200);
    cr_assert_eq(sl_canary_step_requests(&r.analysis), 0, "the step's evidence begins again");
    /* the error test's parameters changed: it starts again, the rollout stays */
    cr_assert_eq(sl_rollout_reconfigure(&r, fx_rollout(c4), now), 0);
    cr_assert_eq(r.analysis.durable.errors.n_t, 0);
    cr_assert_eq(sl_rollout_weight(&r), 200);
    fx_traffic_dispose(&t);
    sl_rollout_dispose(&r);
    sl_conf_release(c1);
    sl_conf_release(c2);
    sl_conf_release(c3);
    sl_conf_release(c4);
}

/* Runs a rollout to step 2 and saves it through the codec. */
static sl_rollout_saved_t *saved_at_step_2(const sl_conf_rollout_t *conf, int paused)
{
    sl_rollout_t r;
    fx_traffic_t t;
    fx_traffic_init(&t, 8);
    cr_assert_eq(sl_rollout_init(&r, conf, 0), SL_OK);
    uint64_t now = 0;
    while (r.state.step < 2)
        fx_tick(&r, &t, 400, 0, now += 1000);
    if (paused)
        sl_rollout_admin(&r, SL_ROLLOUT_OP_PAUSE, now += 1000);
    sl_buf_t b;
    sl_buf_init(&b, 0);
    cr_assert_eq(sl_rollout_store_encode(&r, "chat", "large", now, &b), SL_OK);
    sl_rollout_saved_t *s = sl_calloc(1, sizeof(*s));
    const char *why;
    cr_assert_eq(sl_rollout_store_decode(b.data, b.len, s, &why), SL_OK);
    sl_buf_dispose(&b);
    fx_traffic_dispose(&t);
    sl_rollout_dispose(&r);
    return s;
}

Test(rollout_tier, restore_applies_the_identity_rule)
{
    sl_conf_t *c1 = fx_conf("large-v2", ""), *c2 = fx_conf("large-v3", ""),
              *c3 = fx_conf("large-v2", "steps: [2%, 20%, 40%, 80%]");
    sl_rollout_saved_t *s = saved_at_step_2(fx_rollout(c1), 0);
    cr_assert_eq(s->state.weight_permille, 250);

    /* same canary: resumes at the same step and weight, the step's clock restarted */
    sl_rollout_t r;
    cr_assert_eq(sl_rollout_init(&r, fx_rollout(c1), 500000), SL_OK);
    cr_assert_eq(sl_rollout_restore(&r, s, 500000), SL_OK);
    cr_assert_eq(r.state.phase, SL_ROLLOUT_PROGRESSING);
    cr_assert_eq(r.state.step, 2);
    cr_assert_eq(sl_rollout_weight(&r), 250);
    cr_assert_eq(r.state.step_started_ms, 500000);
    cr_assert_eq(r.next_analysis_ms, 510000);
    cr_assert_eq(r.history.count, s->history.count + 1);
    cr_assert_eq(last_event(&r)->kind, SL_ROLLOUT_EV_RESTORED);
    cr_assert_eq(r.analysis.durable.errors.n_t, s->durable.errors.n_t);
    cr_assert_eq(r.analysis.weight_permille, 250);
    cr_assert_eq(sl_rollout_analysis_due(&r, 509999), 0);
    cr_assert_eq(sl_rollout_analysis_due(&r, 510000), 1);
    sl_rollout_dispose(&r);

    /* another canary in the config: a new rollout, the old history kept */
    cr_assert_eq(sl_rollout_init(&r, fx_rollout(c2), 500000), SL_OK);
    cr_assert_eq(sl_rollout_restore(&r, s, 500000), SL_OK);
    cr_assert_eq(r.state.phase, SL_ROLLOUT_PENDING);
    cr_assert_eq(sl_rollout_weight(&r), 0);
    cr_assert_eq(r.history.count, s->history.count + 1);
    cr_assert_eq(last_event(&r)->kind, SL_ROLLOUT_EV_NEW_CANARY);
    cr_assert_eq(last_event(&r)->from_weight, 250);
    cr_assert_eq(r.state.events, s->state.events + 1);
    sl_rollout_dispose(&r);

    /* steps changed while down: never above the stored weight */
    cr_assert_eq(sl_rollout_init(&r, fx_rollout(c3), 500000), SL_OK);
    cr_assert_eq(sl_rollout_restore(&r, s, 500000), SL_OK);
    cr_assert_eq(r.state.step, 1);
    cr_assert_eq(sl_rollout_weight(&r), 200);
    cr_assert_eq(last_event(&r)->kind, SL_ROLLOUT_EV_RECONFIGURE);
    cr_assert_eq(r.analysis.weight_permille, 200);
    sl_rollout_dispose(&r);
    sl_free(s);

    /* a paused rollout stays paused at its weight */
    s = saved_at_step_2(fx_rollout(c1), 1);
    cr_assert_eq(sl_rollout_init(&r, fx_rollout(c1), 600000), SL_OK);
    cr_assert_eq(sl_rollout_restore(&r, s, 600000), SL_OK);
    cr_assert_eq(r.state.phase, SL_ROLLOUT_PAUSED);
    cr_assert_eq(sl_rollout_weight(&r), 250);
    cr_assert_eq(sl_rollout_admin(&r, SL_ROLLOUT_OP_RESUME, 600001), SL_OK);
    cr_assert_eq(sl_rollout_weight(&r), 250);
    sl_rollout_dispose(&r);
    sl_free(s);
    sl_conf_release(c1);
    sl_conf_release(c2);
    sl_conf_release(c3);
}
