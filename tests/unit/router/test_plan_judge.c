/* router/plan_judge.c: accept, escalate or fail after each attempt, with exact reasons. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "common/status.h"
#include "router/facts.h"
#include "router/plan.h"

static sl_conf_backend_t backends[3] = {{.name = "small"}, {.name = "medium"}, {.name = "large"}};
static sl_conf_tier_t tiers[3];
static sl_conf_route_t route;
static sl_plan_t plan;

/* small: accept logprob_mean in [-0.35, +inf); medium: top_prob in [0.5, 0.9], only 5xx escalates; large: last. */
static void build(int stream)
{
    memset(tiers, 0, sizeof(tiers));
    for (int i = 0; i != 3; ++i) {
        tiers[i].backend = &backends[i];
        tiers[i].escalate_on = SL_CONF_ESCALATE_ALL;
        tiers[i].has_accept = 1;
        tiers[i].accept = (sl_conf_accept_t){{SL_SIGNAL_LOGPROB_MEAN, NULL}, 1, 0, -0.35, 0};
    }
    tiers[0].latency_budget_ms = 300;
    tiers[1].accept = (sl_conf_accept_t){{SL_SIGNAL_TOP_PROB, NULL}, 1, 1, 0.5, 0.9};
    tiers[1].escalate_on = 1u << SL_FAILURE_UPSTREAM_5XX;
    memset(&route, 0, sizeof(route));
    route.tiers = tiers;
    route.num_tiers = 3;
    sl_router_facts_t http = {0};
    sl_facts_t f;
    sl_facts_init(&f, &http);
    f.body.stream = stream;
    cr_assert_eq(sl_router_plan(&route, &f, 7, &plan), SL_OK);
    cr_assert_eq(plan.num_steps, 3);
}

static void setup(void)
{
    build(0);
}

TestSuite(judge, .init = setup);

static sl_judge_t judge(size_t step, enum en_sl_failure_t failure, const sl_signal_t *sig, int budget, int sent)
{
    sl_judge_input_t in = {failure, sig, budget, sent};
    sl_judge_t j;
    memset(&j, 0xab, sizeof(j));
    sl_router_judge(&plan, step, &in, &j);
    return j;
}

static sl_signal_t value(double v)
{
    return (sl_signal_t){SL_SIGNAL_VALUE, v, NULL};
}

#define cr_assert_judge(j, v, r, f)                                                                                            \
    do {                                                                                                                       \
        sl_judge_t j_ = (j);                                                                                                   \
        cr_assert_eq(j_.verdict, (v), "verdict %s", sl_router_verdict_name(j_.verdict));                                       \
        cr_assert_eq(j_.reason, (r), "reason %s", sl_router_reason_name(&j_));                                                 \
        cr_assert_eq(j_.failure, (f));                                                                                         \
    } while (0)

Test(judge, thresholds_are_inclusive_at_the_boundary)
{
    sl_signal_t s = value(-0.35);
    cr_assert_judge(judge(0, SL_FAILURE_NONE, &s, 0, 0), SL_VERDICT_ACCEPT, SL_REASON_CONFIDENT, SL_FAILURE_NONE);
    s = value(nextafter(-0.35, -1));
    cr_assert_judge(judge(0, SL_FAILURE_NONE, &s, 0, 0), SL_VERDICT_ESCALATE, SL_REASON_LOW_CONFIDENCE, SL_FAILURE_NONE);
    s = value(0); /* no max on tier 0 */
    cr_assert_judge(judge(0, SL_FAILURE_NONE, &s, 0, 0), SL_VERDICT_ACCEPT, SL_REASON_CONFIDENT, SL_FAILURE_NONE);
    s = value(0.9);
    cr_assert_judge(judge(1, SL_FAILURE_NONE, &s, 0, 0), SL_VERDICT_ACCEPT, SL_REASON_CONFIDENT, SL_FAILURE_NONE);
    s = value(nextafter(0.9, 1));
    cr_assert_judge(judge(1, SL_FAILURE_NONE, &s, 0, 0), SL_VERDICT_ESCALATE, SL_REASON_LOW_CONFIDENCE, SL_FAILURE_NONE);
    s = value(0.5);
    cr_assert_judge(judge(1, SL_FAILURE_NONE, &s, 0, 0), SL_VERDICT_ACCEPT, SL_REASON_CONFIDENT, SL_FAILURE_NONE);
    s = value(0.4999999);
    cr_assert_judge(judge(1, SL_FAILURE_NONE, &s, 0, 0), SL_VERDICT_ESCALATE, SL_REASON_LOW_CONFIDENCE, SL_FAILURE_NONE);
}

Test(judge, missing_and_unparsable_signals_are_not_confident)
{
    sl_signal_t missing = {SL_SIGNAL_MISSING, 0, "answer has no token logprobs"};
    sl_signal_t bad = {SL_SIGNAL_UNPARSABLE, 0, "a token logprob is not a number"};
    cr_assert_judge(judge(0, SL_FAILURE_NONE, &missing, 0, 0), SL_VERDICT_ESCALATE, SL_REASON_MISSING_SIGNAL, SL_FAILURE_NONE);
    cr_assert_judge(judge(0, SL_FAILURE_NONE, NULL, 0, 0), SL_VERDICT_ESCALATE, SL_REASON_MISSING_SIGNAL, SL_FAILURE_NONE);
    cr_assert_judge(judge(0, SL_FAILURE_NONE, &bad, 0, 0), SL_VERDICT_ESCALATE, SL_REASON_UNPARSABLE_SIGNAL, SL_FAILURE_NONE);
    sl_signal_t nan_value = value(NAN), inf_value = value(INFINITY);
    cr_assert_judge(judge(0, SL_FAILURE_NONE, &nan_value, 0, 0), SL_VERDICT_ESCALATE, SL_REASON_UNPARSABLE_SIGNAL,
                    SL_FAILURE_NONE);
    cr_assert_judge(judge(0, SL_FAILURE_NONE, &inf_value, 0, 0), SL_VERDICT_ESCALATE, SL_REASON_UNPARSABLE_SIGNAL,
                    SL_FAILURE_NONE);
}

Test(judge, every_failure_kind)
{
    for (int f = SL_FAILURE_NONE + 1; f != SL_FAILURE_COUNT; ++f) {
        sl_judge_t j = judge(0, (enum en_sl_failure_t)f, NULL, 0, 0);
        if (f == SL_FAILURE_CLIENT_ABORT) {
            cr_assert_judge(j, SL_VERDICT_FAIL, SL_REASON_FAILURE, SL_FAILURE_CLIENT_ABORT);
            continue;
        }
        cr_assert_judge(j, SL_VERDICT_ESCALATE, SL_REASON_FAILURE, (enum en_sl_failure_t)f);
        /* tier 1 escalates on upstream_5xx only */
        j = judge(1, (enum en_sl_failure_t)f, NULL, 0, 0);
        cr_assert_judge(j, f == SL_FAILURE_UPSTREAM_5XX ? SL_VERDICT_ESCALATE : SL_VERDICT_FAIL, SL_REASON_FAILURE,
                        (enum en_sl_failure_t)f);
        /* the last step has nowhere to go */
        cr_assert_judge(judge(2, (enum en_sl_failure_t)f, NULL, 0, 0), SL_VERDICT_FAIL, SL_REASON_FAILURE,
                        (enum en_sl_failure_t)f);
    }
    /* client_abort fails even when a tier lists it */
    tiers[0].escalate_on = ~0u;
    cr_assert_judge(judge(0, SL_FAILURE_CLIENT_ABORT, NULL, 0, 0), SL_VERDICT_FAIL, SL_REASON_FAILURE, SL_FAILURE_CLIENT_ABORT);
    tiers[0].escalate_on = 0;
    cr_assert_judge(judge(0, SL_FAILURE_RESET, NULL, 0, 0), SL_VERDICT_FAIL, SL_REASON_FAILURE, SL_FAILURE_RESET);
}

Test(judge, the_last_answer_is_always_returned)
{
    sl_signal_t low = value(-5), missing = {SL_SIGNAL_MISSING, 0, "x"};
    cr_assert_judge(judge(2, SL_FAILURE_NONE, &low, 0, 0), SL_VERDICT_ACCEPT, SL_REASON_LAST_TIER, SL_FAILURE_NONE);
    cr_assert_judge(judge(2, SL_FAILURE_NONE, &missing, 0, 0), SL_VERDICT_ACCEPT, SL_REASON_LAST_TIER, SL_FAILURE_NONE);
}

Test(judge, latency_budget)
{
    sl_signal_t good = value(0);
    cr_assert_judge(judge(0, SL_FAILURE_NONE, &good, 1, 0), SL_VERDICT_ESCALATE, SL_REASON_LATENCY_BUDGET, SL_FAILURE_NONE);
    cr_assert_judge(judge(0, SL_FAILURE_FIRST_BYTE_TIMEOUT, NULL, 1, 0), SL_VERDICT_ESCALATE, SL_REASON_LATENCY_BUDGET,
                    SL_FAILURE_NONE);
    cr_assert_judge(judge(2, SL_FAILURE_NONE, NULL, 1, 0), SL_VERDICT_FAIL, SL_REASON_LATENCY_BUDGET, SL_FAILURE_NONE);
}

Test(judge, rules_without_accept_and_streams)
{
    tiers[0].has_accept = 0;
    cr_assert_judge(judge(0, SL_FAILURE_NONE, NULL, 0, 0), SL_VERDICT_ACCEPT, SL_REASON_NO_RULE, SL_FAILURE_NONE);
    build(1); /* a stream, no buffer_streams: the first step streams through */
    sl_signal_t low = value(-5);
    cr_assert_eq(plan.steps[0].mode, SL_PLAN_STREAMED);
    cr_assert_judge(judge(0, SL_FAILURE_NONE, &low, 0, 0), SL_VERDICT_ACCEPT, SL_REASON_STREAMED, SL_FAILURE_NONE);
    /* before the first byte a failure may still fail over ... */
    cr_assert_judge(judge(0, SL_FAILURE_CONNECT_REFUSED, NULL, 0, 0), SL_VERDICT_ESCALATE, SL_REASON_FAILURE,
                    SL_FAILURE_CONNECT_REFUSED);
    /* ... after it, never; and a budget no longer applies */
    cr_assert_judge(judge(0, SL_FAILURE_RESET, NULL, 0, 1), SL_VERDICT_FAIL, SL_REASON_STREAM_STARTED, SL_FAILURE_RESET);
    cr_assert_judge(judge(0, SL_FAILURE_NONE, NULL, 1, 1), SL_VERDICT_ACCEPT, SL_REASON_STREAMED, SL_FAILURE_NONE);
    tiers[0].buffer_streams = 1;
    sl_router_facts_t http = {0};
    sl_facts_t f;
    sl_facts_init(&f, &http);
    f.body.stream = 1;
    cr_assert_eq(sl_router_plan(&route, &f, 7, &plan), SL_OK);
    cr_assert_eq(plan.steps[0].mode, SL_PLAN_STREAM_BUFFERED);
    cr_assert_judge(judge(0, SL_FAILURE_NONE, &low, 0, 0), SL_VERDICT_ESCALATE, SL_REASON_LOW_CONFIDENCE, SL_FAILURE_NONE);
}

Test(judge, names)
{
    static const char *const want[] = {"confident",      "no_rule",           "last_tier",      "streamed", "low_confidence",
                                       "missing_signal", "unparsable_signal", "latency_budget", NULL,       "stream_started"};
    for (int r = 0; r != SL_REASON_COUNT; ++r) {
        sl_judge_t j = {SL_VERDICT_ESCALATE, (enum en_sl_reason_t)r, SL_FAILURE_UPSTREAM_5XX};
        cr_assert_str_eq(sl_router_reason_name(&j), want[r] != NULL ? want[r] : "upstream_5xx");
    }
    sl_judge_t j = {SL_VERDICT_FAIL, SL_REASON_FAILURE, SL_FAILURE_CONNECT_TIMEOUT};
    cr_assert_str_eq(sl_router_reason_name(&j), "connect_timeout");
    cr_assert_str_eq(sl_router_verdict_name(SL_VERDICT_ACCEPT), "accept");
    cr_assert_str_eq(sl_router_verdict_name(SL_VERDICT_ESCALATE), "escalate");
    cr_assert_str_eq(sl_router_verdict_name(SL_VERDICT_FAIL), "fail");
}

/* A whole request replayed: small is unsure, medium fails with a 5xx, large answers. */
Test(judge, replay_of_a_cascade)
{
    sl_signal_t unsure = value(-1.2);
    sl_judge_input_t attempts[3] = {
        {SL_FAILURE_NONE, &unsure, 0, 0},
        {SL_FAILURE_UPSTREAM_5XX, NULL, 0, 0},
        {SL_FAILURE_NONE, NULL, 0, 0},
    };
    const char *path[3];
    size_t i;
    sl_judge_t j;
    for (i = 0; i != plan.num_steps; ++i) {
        sl_router_judge(&plan, i, &attempts[i], &j);
        path[i] = sl_router_reason_name(&j);
        if (j.verdict != SL_VERDICT_ESCALATE)
            break;
    }
    cr_assert_eq(i, 2);
    cr_assert_eq(j.verdict, SL_VERDICT_ACCEPT);
    cr_assert_str_eq(path[0], "low_confidence");
    cr_assert_str_eq(path[1], "upstream_5xx");
    cr_assert_str_eq(path[2], "last_tier");
}
