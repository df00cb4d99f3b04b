/*
 * test_rollout.c - the rollout state machine (policies/rollout.c) on scripted verdicts: every transition, every
 * hold reason, the precedence of critical failures, operator actions in every phase, the evidence recorded, and
 * the bounded history.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "common/status.h"
#include "policies/canary.h"
#include "policies/rollout.h"

#define MIN 60000u

static sl_conf_backend_t canary_backend = {.name = "large-v2"};

/* steps 5%, 10%, 25%, 50%, 100%; interval 1 min; 200 samples; failure_limit 3; error_rate and latency critical */
static sl_conf_rollout_t conf_default(void)
{
    sl_conf_rollout_t c = {.enabled = 1,
                           .canary = &canary_backend,
                           .steps_permille = {50, 100, 250, 500, 1000},
                           .num_steps = 5,
                           .interval_ms = MIN,
                           .min_samples = 200,
                           .failure_limit = 3,
                           .critical_mask = (1u << SL_CONF_CHECK_ERROR_RATE) | (1u << SL_CONF_CHECK_LATENCY)};
    c.checks[SL_CONF_CHECK_ERROR_RATE].enabled = 1;
    c.checks[SL_CONF_CHECK_LATENCY].enabled = 1;
    c.checks[SL_CONF_CHECK_ACCEPT_RATE].enabled = 1;
    c.checks[SL_CONF_CHECK_SRM].enabled = 1;
    c.checks[SL_CONF_CHECK_SRM].hold = 1;
    return c;
}

static sl_canary_verdict_t verdict(enum en_sl_canary_kind_t kind, enum en_sl_canary_outcome_kind_t outcome)
{
    sl_canary_verdict_t v = {.kind = (uint8_t)kind,
                             .check = (uint8_t)sl_canary_kind_check(kind),
                             .outcome = (uint8_t)outcome,
                             .n_canary = 300,
                             .n_stable = 5700,
                             .p_value = 0.5};
    v.critical = v.check == SL_CONF_CHECK_ERROR_RATE || v.check == SL_CONF_CHECK_LATENCY;
    return v;
}

/* A full analysis: error_rate, latency, latency_p99, accept_rate, srm, all with the given outcomes. */
typedef struct st_script_t {
    sl_canary_verdict_t v[5];
} script_t;

static script_t all(int err, int lat, int p99, int acc, int srm)
{
    script_t s = {{verdict(SL_CANARY_K_ERROR_RATE, err), verdict(SL_CANARY_K_LATENCY, lat),
                   verdict(SL_CANARY_K_LATENCY_P99, p99), verdict(SL_CANARY_K_ACCEPT_RATE, acc),
                   verdict(SL_CANARY_K_SRM, srm)}};
    return s;
}

static int analysis(const sl_conf_rollout_t *c, sl_rollout_state_t *s, const script_t *sc, uint64_t now, uint64_t samples,
                    int budget, sl_rollout_event_t *ev)
{
    sl_rollout_input_t in = {.now_ms = now,
                             .analysis = 1,
                             .verdicts = sc->v,
                             .num_verdicts = 5,
                             .step_canary_requests = samples,
                             .budget_exhausted = budget};
    return sl_rollout_decide(c, s, &in, s, ev);
}

static int tick(const sl_conf_rollout_t *c, sl_rollout_state_t *s, int err, int srm, uint64_t now, sl_rollout_event_t *ev)
{
    sl_canary_verdict_t v[2] = {verdict(SL_CANARY_K_ERROR_RATE, err), verdict(SL_CANARY_K_SRM, srm)};
    sl_rollout_input_t in = {.now_ms = now, .verdicts = v, .num_verdicts = 2, .step_canary_requests = 1};
    return sl_rollout_decide(c, s, &in, s, ev);
}

static int op(const sl_conf_rollout_t *c, sl_rollout_state_t *s, enum en_sl_rollout_op_t o, uint64_t now,
              sl_rollout_event_t *ev)
{
    sl_rollout_input_t in = {.now_ms = now, .op = o};
    return sl_rollout_decide(c, s, &in, s, ev);
}

/* A progressing rollout at step 0 started at time 0. */
static sl_rollout_state_t started(const sl_conf_rollout_t *c)
{
    sl_rollout_state_t s;
    sl_rollout_event_t ev;
    sl_rollout_state_init(&s, 0);
    sl_rollout_input_t in = {.now_ms = 0};
    cr_assert_eq(sl_rollout_decide(c, &s, &in, &s, &ev), 1);
    return s;
}

Test(rollout, start_from_pending)
{
    sl_conf_rollout_t c = conf_default();
    sl_rollout_state_t s, n;
    sl_rollout_event_t ev;
    sl_rollout_state_init(&s, 1000);
    cr_assert_eq(s.phase, SL_ROLLOUT_PENDING);
    cr_assert_eq(s.generation, 1);
    cr_assert_eq(s.weight_permille, 0);
    sl_rollout_input_t in = {.now_ms = 5000};
    cr_assert_eq(sl_rollout_decide(&c, &s, &in, &n, &ev), 1);
    cr_assert_eq(n.phase, SL_ROLLOUT_PROGRESSING);
    cr_assert_eq(n.step, 0);
    cr_assert_eq(n.weight_permille, 50);
    cr_assert_eq(n.step_started_ms, 5000);
    cr_assert_eq(n.events, 1);
    cr_assert_eq(ev.seq, 1);
    cr_assert_eq(ev.kind, SL_ROLLOUT_EV_START);
    cr_assert_eq(ev.cause, SL_ROLLOUT_BY_ANALYSIS);
    cr_assert_eq(ev.from_phase, SL_ROLLOUT_PENDING);
    cr_assert_eq(ev.to_phase, SL_ROLLOUT_PROGRESSING);
    cr_assert_eq(ev.from_weight, 0);
    cr_assert_eq(ev.to_weight, 50);
    cr_assert_eq(ev.at_ms, 5000);
    cr_assert_eq(s.phase, SL_ROLLOUT_PENDING, "cur is not written when next is elsewhere");
}

Test(rollout, exhausted_budget_holds_the_start_once)
{
    sl_conf_rollout_t c = conf_default();
    sl_rollout_state_t s;
    sl_rollout_event_t ev;
    sl_rollout_state_init(&s, 0);
    sl_rollout_input_t in = {.now_ms = 1, .budget_exhausted = 1};
    cr_assert_eq(sl_rollout_decide(&c, &s, &in, &s, &ev), 1);
    cr_assert_eq(ev.kind, SL_ROLLOUT_EV_HOLD);
    cr_assert_eq(ev.hold, SL_ROLLOUT_HOLD_BUDGET);
    cr_assert_eq(s.phase, SL_ROLLOUT_PENDING);
    in.now_ms = 2;
    cr_assert_eq(sl_rollout_decide(&c, &s, &in, &s, &ev), 0, "the same hold is not recorded twice");
    in.budget_exhausted = 0;
    cr_assert_eq(sl_rollout_decide(&c, &s, &in, &s, &ev), 1);
    cr_assert_eq(ev.kind, SL_ROLLOUT_EV_START);
    cr_assert_eq(s.events, 2);
}

Test(rollout, a_step_advances_after_an_interval_with_enough_samples_and_every_check_passing)
{
    sl_conf_rollout_t c = conf_default();
    sl_rollout_state_t s = started(&c);
    sl_rollout_event_t ev;
    script_t pass = all(SL_CANARY_PASS, SL_CANARY_PASS, SL_CANARY_PASS, SL_CANARY_PASS, SL_CANARY_PASS);

    cr_assert_eq(analysis(&c, &s, &pass, MIN - 1, 500, 0, &ev), 1);
    cr_assert_eq(ev.kind, SL_ROLLOUT_EV_HOLD);
    cr_assert_eq(ev.hold, SL_ROLLOUT_HOLD_DURATION);
    cr_assert_eq(s.hold, SL_ROLLOUT_HOLD_DURATION);

    cr_assert_eq(analysis(&c, &s, &pass, MIN, 199, 0, &ev), 1);
    cr_assert_eq(ev.hold, SL_ROLLOUT_HOLD_SAMPLES);
    cr_assert_eq(analysis(&c, &s, &pass, 2 * MIN, 199, 0, &ev), 0);

    script_t nodata = all(SL_CANARY_PASS, SL_CANARY_NO_DATA, SL_CANARY_PASS, SL_CANARY_PASS, SL_CANARY_PASS);
    cr_assert_eq(analysis(&c, &s, &nodata, 3 * MIN, 200, 0, &ev), 1);
    cr_assert_eq(ev.hold, SL_ROLLOUT_HOLD_NO_DATA);
    cr_assert_eq(ev.num_evidence, 5);
    cr_assert_eq(ev.evidence[0].kind, SL_CANARY_K_LATENCY, "the verdict without data comes first");

    cr_assert_eq(analysis(&c, &s, &pass, 4 * MIN, 200, 1, &ev), 1);
    cr_assert_eq(ev.hold, SL_ROLLOUT_HOLD_BUDGET);
    cr_assert_eq(s.step, 0);

    cr_assert_eq(analysis(&c, &s, &pass, 5 * MIN, 200, 0, &ev), 1);
    cr_assert_eq(ev.kind, SL_ROLLOUT_EV_ADVANCE);
    cr_assert_eq(ev.from_step, 0);
    cr_assert_eq(ev.to_step, 1);
    cr_assert_eq(ev.from_weight, 50);
    cr_assert_eq(ev.to_weight, 100);
    cr_assert_eq(ev.num_evidence, 5);
    cr_assert_eq(s.step, 1);
    cr_assert_eq(s.weight_permille, 100);
    cr_assert_eq(s.step_started_ms, 5 * MIN);
    cr_assert_eq(s.hold, SL_ROLLOUT_HOLD_NONE);
    cr_assert_eq(s.events, 6);

    /* the new step needs its own interval */
    cr_assert_eq(analysis(&c, &s, &pass, 5 * MIN + 1000, 5000, 0, &ev), 1);
    cr_assert_eq(ev.hold, SL_ROLLOUT_HOLD_DURATION);
}

Test(rollout, passing_the_step_before_100_percent_promotes)
{
    sl_conf_rollout_t c = conf_default();
    sl_rollout_state_t s = started(&c);
    sl_rollout_event_t ev;
    script_t pass = all(SL_CANARY_PASS, SL_CANARY_PASS, SL_CANARY_PASS, SL_CANARY_PASS, SL_CANARY_PASS);
    static const uint32_t weights[] = {100, 250, 500};
    for (int k = 0; k != 3; ++k) {
        cr_assert_eq(analysis(&c, &s, &pass, (uint64_t)(k + 1) * MIN, 200, 0, &ev), 1);
        cr_assert_eq(ev.kind, SL_ROLLOUT_EV_ADVANCE);
        cr_assert_eq(s.weight_permille, weights[k]);
    }
    cr_assert_eq(analysis(&c, &s, &pass, 4 * MIN, 200, 1, &ev), 1, "no promotion with an exhausted budget");
    cr_assert_eq(ev.hold, SL_ROLLOUT_HOLD_BUDGET);
    cr_assert_eq(s.phase, SL_ROLLOUT_PROGRESSING);
    cr_assert_eq(analysis(&c, &s, &pass, 5 * MIN, 200, 0, &ev), 1);
    cr_assert_eq(ev.kind, SL_ROLLOUT_EV_PROMOTE);
    cr_assert_eq(ev.cause, SL_ROLLOUT_BY_ANALYSIS);
    cr_assert_eq(s.phase, SL_ROLLOUT_PROMOTED);
    cr_assert_eq(s.weight_permille, 1000);
    cr_assert_eq(s.step, 3, "the 100% step is never entered");
    /* promoted is final for the analysis */
    script_t fail = all(SL_CANARY_FAIL, SL_CANARY_FAIL, SL_CANARY_PASS, SL_CANARY_PASS, SL_CANARY_PASS);
    cr_assert_eq(analysis(&c, &s, &fail, 6 * MIN, 200, 0, &ev), 0);
    cr_assert_eq(s.phase, SL_ROLLOUT_PROMOTED);
}

Test(rollout, steps_without_100_percent_promote_after_the_last)
{
    sl_conf_rollout_t c = conf_default();
    c.num_steps = 2; /* 5%, 10% */
    sl_rollout_state_t s = started(&c);
    sl_rollout_event_t ev;
    script_t pass = all(SL_CANARY_PASS, SL_CANARY_PASS, SL_CANARY_PASS, SL_CANARY_PASS, SL_CANARY_PASS);
    cr_assert_eq(analysis(&c, &s, &pass, MIN, 200, 0, &ev), 1);
    cr_assert_eq(ev.kind, SL_ROLLOUT_EV_ADVANCE);
    cr_assert_eq(analysis(&c, &s, &pass, 2 * MIN, 200, 0, &ev), 1);
    cr_assert_eq(ev.kind, SL_ROLLOUT_EV_PROMOTE);
    cr_assert_eq(ev.from_weight, 100);
    cr_assert_eq(ev.to_weight, 1000);
}

Test(rollout, a_critical_failure_at_a_tick_rolls_back_at_once_with_its_evidence)
{
    sl_conf_rollout_t c = conf_default();
    sl_rollout_state_t s = started(&c);
    sl_rollout_event_t ev;
    cr_assert_eq(tick(&c, &s, SL_CANARY_PASS, SL_CANARY_PASS, 1000, &ev), 0);
    cr_assert_eq(tick(&c, &s, SL_CANARY_FAIL, SL_CANARY_PASS, 2000, &ev), 1);
    cr_assert_eq(ev.kind, SL_ROLLOUT_EV_ROLLBACK);
    cr_assert_eq(ev.cause, SL_ROLLOUT_BY_ANALYSIS);
    cr_assert_eq(ev.from_weight, 50);
    cr_assert_eq(ev.to_weight, 0);
    cr_assert_eq(ev.num_evidence, 2);
    cr_assert_eq(ev.evidence[0].kind, SL_CANARY_K_ERROR_RATE);
    cr_assert_eq(ev.evidence[0].outcome, SL_CANARY_FAIL);
    cr_assert_eq(ev.evidence[0].n_canary, 300);
    cr_assert_eq(s.phase, SL_ROLLOUT_ROLLED_BACK);
    cr_assert_eq(s.weight_permille, 0);
    /* nothing moves a rolled-back rollout but a restart */
    script_t pass = all(SL_CANARY_PASS, SL_CANARY_PASS, SL_CANARY_PASS, SL_CANARY_PASS, SL_CANARY_PASS);
    cr_assert_eq(analysis(&c, &s, &pass, 10 * MIN, 10000, 0, &ev), 0);
    cr_assert_eq(s.phase, SL_ROLLOUT_ROLLED_BACK);
}

Test(rollout, a_critical_failure_in_an_analysis_wins_over_everything_else)
{
    sl_conf_rollout_t c = conf_default();
    sl_rollout_state_t s = started(&c);
    sl_rollout_event_t ev;
    script_t sc = all(SL_CANARY_PASS, SL_CANARY_PASS, SL_CANARY_FAIL, SL_CANARY_FAIL, SL_CANARY_FAIL);
    cr_assert_eq(analysis(&c, &s, &sc, MIN, 200, 1, &ev), 1);
    cr_assert_eq(ev.kind, SL_ROLLOUT_EV_ROLLBACK);
    cr_assert_eq(ev.evidence[0].kind, SL_CANARY_K_LATENCY_P99);
    cr_assert_eq(ev.evidence[1].kind, SL_CANARY_K_ACCEPT_RATE);
    cr_assert_eq(ev.evidence[2].kind, SL_CANARY_K_SRM);
    cr_assert_eq(ev.evidence[3].kind, SL_CANARY_K_ERROR_RATE);
}

Test(rollout, a_non_critical_failure_holds_then_rolls_back_at_the_failure_limit)
{
    sl_conf_rollout_t c = conf_default();
    sl_rollout_state_t s = started(&c);
    sl_rollout_event_t ev;
    script_t bad = all(SL_CANARY_PASS, SL_CANARY_PASS, SL_CANARY_PASS, SL_CANARY_FAIL, SL_CANARY_PASS);
    script_t pass = all(SL_CANARY_PASS, SL_CANARY_PASS, SL_CANARY_PASS, SL_CANARY_PASS, SL_CANARY_PASS);
    cr_assert_eq(analysis(&c, &s, &bad, MIN, 200, 0, &ev), 1);
    cr_assert_eq(ev.kind, SL_ROLLOUT_EV_HOLD);
    cr_assert_eq(ev.hold, SL_ROLLOUT_HOLD_FAILING);
    cr_assert_eq(ev.evidence[0].kind, SL_CANARY_K_ACCEPT_RATE);
    cr_assert_eq(s.failing_intervals, 1);
    cr_assert_eq(analysis(&c, &s, &bad, 2 * MIN, 200, 0, &ev), 0);
    cr_assert_eq(s.failing_intervals, 2);
    /* a passing interval resets the count (and advances) */
    cr_assert_eq(analysis(&c, &s, &pass, 3 * MIN, 200, 0, &ev), 1);
    cr_assert_eq(ev.kind, SL_ROLLOUT_EV_ADVANCE);
    cr_assert_eq(s.failing_intervals, 0);
    cr_assert_eq(analysis(&c, &s, &bad, 4 * MIN, 200, 0, &ev), 1);
    cr_assert_eq(analysis(&c, &s, &bad, 5 * MIN, 200, 0, &ev), 0);
    cr_assert_eq(analysis(&c, &s, &bad, 6 * MIN, 200, 0, &ev), 1);
    cr_assert_eq(ev.kind, SL_ROLLOUT_EV_ROLLBACK);
    cr_assert_eq(s.failing_intervals, 3);
    cr_assert_eq(s.weight_permille, 0);
    /* a non-critical failure at a tick counts only at analyses */
    sl_rollout_state_t t = started(&c);
    sl_canary_verdict_t v = verdict(SL_CANARY_K_ERROR_RATE, SL_CANARY_FAIL);
    v.critical = 0;
    for (int i = 0; i != 10; ++i) {
        sl_rollout_input_t in = {.now_ms = (uint64_t)i, .verdicts = &v, .num_verdicts = 1};
        cr_assert_eq(sl_rollout_decide(&c, &t, &in, &t, &ev), 0);
    }
    cr_assert_eq(t.failing_intervals, 0);
    cr_assert_eq(t.phase, SL_ROLLOUT_PROGRESSING);
}

Test(rollout, a_sample_ratio_mismatch_is_flagged_once_and_holds_while_it_lasts)
{
    sl_conf_rollout_t c = conf_default();
    sl_rollout_state_t s = started(&c);
    sl_rollout_event_t ev;
    cr_assert_eq(tick(&c, &s, SL_CANARY_PASS, SL_CANARY_FAIL, 1000, &ev), 1);
    cr_assert_eq(ev.kind, SL_ROLLOUT_EV_SRM);
    cr_assert_eq(ev.evidence[0].kind, SL_CANARY_K_SRM);
    cr_assert_eq(s.srm_flagged, 1);
    cr_assert_eq(s.phase, SL_ROLLOUT_PROGRESSING);
    cr_assert_eq(s.weight_permille, 50);
    cr_assert_eq(tick(&c, &s, SL_CANARY_PASS, SL_CANARY_FAIL, 2000, &ev), 0, "flagged once per step");
    script_t mismatch = all(SL_CANARY_PASS, SL_CANARY_PASS, SL_CANARY_PASS, SL_CANARY_PASS, SL_CANARY_FAIL);
    cr_assert_eq(analysis(&c, &s, &mismatch, MIN, 200, 0, &ev), 1);
    cr_assert_eq(ev.kind, SL_ROLLOUT_EV_HOLD);
    cr_assert_eq(ev.hold, SL_ROLLOUT_HOLD_SRM);
    cr_assert_eq(s.step, 0);
    cr_assert_eq(analysis(&c, &s, &mismatch, 2 * MIN, 200, 0, &ev), 0);
    cr_assert_eq(s.step, 0);
    /* the evidence of a mismatch faded (a chance flag): the hold ends */
    script_t pass = all(SL_CANARY_PASS, SL_CANARY_PASS, SL_CANARY_PASS, SL_CANARY_PASS, SL_CANARY_PASS);
    cr_assert_eq(analysis(&c, &s, &pass, 3 * MIN, 200, 0, &ev), 1);
    cr_assert_eq(ev.kind, SL_ROLLOUT_EV_ADVANCE);
    cr_assert_eq(s.step, 1);

    /* with hold: false the mismatch is flagged and the rollout goes on at the next interval */
    c.checks[SL_CONF_CHECK_SRM].hold = 0;
    sl_rollout_state_t t = started(&c);
    script_t srm = all(SL_CANARY_PASS, SL_CANARY_PASS, SL_CANARY_PASS, SL_CANARY_PASS, SL_CANARY_FAIL);
    cr_assert_eq(analysis(&c, &t, &srm, MIN, 200, 0, &ev), 1);
    cr_assert_eq(ev.kind, SL_ROLLOUT_EV_SRM);
    cr_assert_eq(t.step, 0);
    cr_assert_eq(analysis(&c, &t, &srm, 2 * MIN, 200, 0, &ev), 1);
    cr_assert_eq(ev.kind, SL_ROLLOUT_EV_ADVANCE);
    cr_assert_eq(t.step, 1);
    cr_assert_eq(t.srm_flagged, 0, "a new step is judged afresh");
}

Test(rollout, pause_resume_and_protection_while_paused)
{
    sl_conf_rollout_t c = conf_default();
    sl_rollout_state_t s = started(&c);
    sl_rollout_event_t ev;
    script_t pass = all(SL_CANARY_PASS, SL_CANARY_PASS, SL_CANARY_PASS, SL_CANARY_PASS, SL_CANARY_PASS);
    cr_assert_eq(analysis(&c, &s, &pass, MIN, 200, 0, &ev), 1); /* step 1, 10% */
    cr_assert_eq(op(&c, &s, SL_ROLLOUT_OP_PAUSE, 70000, &ev), 1);
    cr_assert_eq(ev.kind, SL_ROLLOUT_EV_PAUSE);
    cr_assert_eq(ev.cause, SL_ROLLOUT_BY_OPERATOR);
    cr_assert_eq(s.phase, SL_ROLLOUT_PAUSED);
    cr_assert_eq(s.weight_permille, 100);
    cr_assert_eq(analysis(&c, &s, &pass, 10 * MIN, 10000, 0, &ev), 0, "no progress while paused");
    cr_assert_eq(s.step, 1);
    cr_assert_eq(op(&c, &s, SL_ROLLOUT_OP_RESUME, 11 * MIN, &ev), 1);
    cr_assert_eq(ev.kind, SL_ROLLOUT_EV_RESUME);
    cr_assert_eq(s.phase, SL_ROLLOUT_PROGRESSING);
    cr_assert_eq(s.weight_permille, 100);
    cr_assert_eq(s.step_started_ms, 11 * MIN);
    cr_assert_eq(analysis(&c, &s, &pass, 11 * MIN + 1, 10000, 0, &ev), 1);
    cr_assert_eq(ev.hold, SL_ROLLOUT_HOLD_DURATION, "a resumed step needs a whole interval again");
    /* paused: a critical failure still rolls back */
    cr_assert_eq(op(&c, &s, SL_ROLLOUT_OP_PAUSE, 12 * MIN, &ev), 1);
    cr_assert_eq(tick(&c, &s, SL_CANARY_FAIL, SL_CANARY_PASS, 12 * MIN + 1, &ev), 1);
    cr_assert_eq(ev.kind, SL_ROLLOUT_EV_ROLLBACK);
    cr_assert_eq(ev.from_phase, SL_ROLLOUT_PAUSED);
    cr_assert_eq(s.weight_permille, 0);
}

Test(rollout, operator_actions_in_every_phase)
{
    /* allowed[phase][op]: pause, resume, rollback, promote, restart */
    static const int allowed[SL_ROLLOUT_PHASE_COUNT][5] = {[SL_ROLLOUT_PENDING] = {1, 0, 1, 1, 0},
                                                           [SL_ROLLOUT_PROGRESSING] = {1, 0, 1, 1, 0},
                                                           [SL_ROLLOUT_PAUSED] = {0, 1, 1, 1, 0},
                                                           [SL_ROLLOUT_PROMOTED] = {0, 0, 1, 0, 0},
                                                           [SL_ROLLOUT_ROLLED_BACK] = {0, 0, 0, 0, 1}};
    static const uint32_t weight_after[5] = {0, 0, 0, 1000, 0}; /* pause keeps; resume: see below */
    sl_conf_rollout_t c = conf_default();
    for (int ph = 0; ph != SL_ROLLOUT_PHASE_COUNT; ++ph) {
        for (int o = SL_ROLLOUT_OP_PAUSE; o != SL_ROLLOUT_OP_COUNT; ++o) {
            sl_rollout_state_t s = started(&c), before;
            s.step = 2;
            s.weight_permille = 250;
            s.phase = (uint8_t)ph;
            s.paused_from = SL_ROLLOUT_PROGRESSING;
            before = s;
            sl_rollout_event_t ev;
            memset(&ev, 0x5a, sizeof(ev));
            int rc = op(&c, &s, (enum en_sl_rollout_op_t)o, 99, &ev);
            if (!allowed[ph][o - 1]) {
                cr_assert_eq(rc, SL_EINVAL, "%s in %s", sl_rollout_op_name(o), sl_rollout_phase_name(ph));
                cr_assert_eq(memcmp(&s, &before, sizeof(s)), 0);
                cr_assert_eq(((unsigned char *)&ev)[0], 0x5a);
                continue;
            }
            cr_assert_eq(rc, 1, "%s in %s", sl_rollout_op_name(o), sl_rollout_phase_name(ph));
            cr_assert_eq(ev.cause, SL_ROLLOUT_BY_OPERATOR);
            cr_assert_eq(ev.from_phase, ph);
            cr_assert_eq(ev.to_phase, s.phase);
            switch (o) {
            case SL_ROLLOUT_OP_PAUSE:
                cr_assert_eq(s.phase, SL_ROLLOUT_PAUSED);
                cr_assert_eq(s.paused_from, ph);
                cr_assert_eq(s.weight_permille, 250);
                break;
            case SL_ROLLOUT_OP_RESUME:
                cr_assert_eq(s.phase, SL_ROLLOUT_PROGRESSING);
                cr_assert_eq(s.weight_permille, 250);
                break;
            case SL_ROLLOUT_OP_RESTART:
                cr_assert_eq(s.phase, SL_ROLLOUT_PENDING);
                cr_assert_eq(s.generation, 2);
                cr_assert_eq(ev.generation, 2);
                cr_assert_eq(s.step, 0);
                cr_assert_eq(s.started_ms, 99);
                cr_assert_eq(s.weight_permille, 0);
                break;
            default:
                cr_assert_eq(s.weight_permille, weight_after[o - 1], "%s", sl_rollout_op_name(o));
            }
        }
    }
}

Test(rollout, a_rolled_back_canary_is_never_promoted_without_a_restart)
{
    sl_conf_rollout_t c = conf_default();
    sl_rollout_state_t s = started(&c);
    sl_rollout_event_t ev;
    cr_assert_eq(tick(&c, &s, SL_CANARY_FAIL, SL_CANARY_PASS, 10, &ev), 1);
    cr_assert_eq(op(&c, &s, SL_ROLLOUT_OP_PROMOTE, 11, &ev), SL_EINVAL);
    cr_assert_eq(op(&c, &s, SL_ROLLOUT_OP_RESUME, 12, &ev), SL_EINVAL);
    cr_assert_eq(s.weight_permille, 0);
    cr_assert_eq(op(&c, &s, SL_ROLLOUT_OP_RESTART, 13, &ev), 1);
    cr_assert_eq(ev.kind, SL_ROLLOUT_EV_RESTART);
    sl_rollout_input_t in = {.now_ms = 14};
    cr_assert_eq(sl_rollout_decide(&c, &s, &in, &s, &ev), 1);
    cr_assert_eq(ev.kind, SL_ROLLOUT_EV_START);
    cr_assert_eq(ev.generation, 2);
    cr_assert_eq(s.weight_permille, 50);
    cr_assert_eq(ev.seq, 4);
}

Test(rollout, weights_and_steps_for_weights)
{
    sl_conf_rollout_t c = conf_default();
    sl_rollout_state_t s;
    sl_rollout_state_init(&s, 0);
    cr_assert_eq(sl_rollout_weight_of(&c, &s), 0);
    s.phase = SL_ROLLOUT_PROGRESSING;
    s.step = 3;
    cr_assert_eq(sl_rollout_weight_of(&c, &s), 500);
    s.step = 9;
    cr_assert_eq(sl_rollout_weight_of(&c, &s), 0);
    s.phase = SL_ROLLOUT_PROMOTED;
    cr_assert_eq(sl_rollout_weight_of(&c, &s), 1000);
    s.phase = SL_ROLLOUT_PAUSED;
    s.weight_permille = 123;
    cr_assert_eq(sl_rollout_weight_of(&c, &s), 123);
    cr_assert_eq(sl_rollout_step_for_weight(&c, 0), 0);
    cr_assert_eq(sl_rollout_step_for_weight(&c, 50), 0);
    cr_assert_eq(sl_rollout_step_for_weight(&c, 249), 1);
    cr_assert_eq(sl_rollout_step_for_weight(&c, 250), 2);
    cr_assert_eq(sl_rollout_step_for_weight(&c, 1000), 3, "never the 100% step");
}

Test(rollout, history_keeps_the_last_events_in_order)
{
    sl_rollout_history_t h;
    sl_rollout_history_clear(&h);
    cr_assert_null(sl_rollout_history_get(&h, 0));
    sl_rollout_event_t ev = {0};
    for (uint64_t i = 1; i <= 40; ++i) {
        ev.seq = i;
        sl_rollout_history_push(&h, &ev);
        cr_assert_eq(h.count, i < SL_ROLLOUT_HISTORY ? i : SL_ROLLOUT_HISTORY);
    }
    for (uint32_t i = 0; i != SL_ROLLOUT_HISTORY; ++i)
        cr_assert_eq(sl_rollout_history_get(&h, i)->seq, 9 + i);
    cr_assert_null(sl_rollout_history_get(&h, SL_ROLLOUT_HISTORY));
}

Test(rollout, names)
{
    cr_assert_str_eq(sl_rollout_phase_name(SL_ROLLOUT_ROLLED_BACK), "rolled_back");
    cr_assert_str_eq(sl_rollout_phase_name(SL_ROLLOUT_PHASE_COUNT), "?");
    cr_assert_str_eq(sl_rollout_hold_name(SL_ROLLOUT_HOLD_NO_DATA), "no_data");
    cr_assert_str_eq(sl_rollout_event_name(SL_ROLLOUT_EV_NEW_CANARY), "new_canary");
    cr_assert_str_eq(sl_rollout_cause_name(SL_ROLLOUT_BY_OPERATOR), "operator");
    cr_assert_str_eq(sl_canary_kind_name(SL_CANARY_K_TTFT_P99), "ttft_p99");
    cr_assert_str_eq(sl_canary_outcome_name(SL_CANARY_NO_DATA), "no_data");
    static const char *const ops[] = {"pause", "resume", "rollback", "promote", "restart"};
    for (int i = 0; i != 5; ++i) {
        enum en_sl_rollout_op_t o = SL_ROLLOUT_OP_NONE;
        cr_assert_eq(sl_rollout_parse_op(ops[i], &o), SL_OK);
        cr_assert_eq(o, SL_ROLLOUT_OP_PAUSE + i);
        cr_assert_str_eq(sl_rollout_op_name(o), ops[i]);
    }
    enum en_sl_rollout_op_t o = SL_ROLLOUT_OP_PAUSE;
    cr_assert_eq(sl_rollout_parse_op("none", &o), SL_EINVAL);
    cr_assert_eq(sl_rollout_parse_op("Pause", &o), SL_EINVAL);
    cr_assert_eq(o, SL_ROLLOUT_OP_PAUSE);
}
