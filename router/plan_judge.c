/*
 * plan_judge.c - the judge: after each attempt of a plan, accept the answer, escalate to the next step, or fail.
 *
 * One function holds every rule (plan.h lists them in order) so that the cascade's behaviour reads in one place:
 * the last step's answer is always returned, a stream that reached the client is never escalated, a missing or
 * unparsable signal is "not confident" with its own reason, failures escalate only when the tier says so. Pure,
 * allocation-free; the reason it returns is what the gateway logs and counts.
 */
#include "router/plan.h"
#include "conf/conf.h"

#include <math.h>

static void set(sl_judge_t *out, enum en_sl_verdict_t v, enum en_sl_reason_t r, enum en_sl_failure_t f)
{
    out->verdict = v;
    out->reason = r;
    out->failure = f;
}

/* An answer arrived for a step that is judged by its accept rule. */
static void judge_signal(const sl_conf_accept_t *acc, const sl_signal_t *sig, sl_judge_t *out)
{
    if (sig == NULL || sig->state == SL_SIGNAL_MISSING) {
        set(out, SL_VERDICT_ESCALATE, SL_REASON_MISSING_SIGNAL, SL_FAILURE_NONE);
        return;
    }
    if (sig->state != SL_SIGNAL_VALUE || !isfinite(sig->value)) {
        set(out, SL_VERDICT_ESCALATE, SL_REASON_UNPARSABLE_SIGNAL, SL_FAILURE_NONE);
        return;
    }
    if ((acc->has_min && sig->value < acc->min) || (acc->has_max && sig->value > acc->max)) {
        set(out, SL_VERDICT_ESCALATE, SL_REASON_LOW_CONFIDENCE, SL_FAILURE_NONE);
        return;
    }
    set(out, SL_VERDICT_ACCEPT, SL_REASON_CONFIDENT, SL_FAILURE_NONE);
}

void sl_router_judge(const sl_plan_t *plan, size_t step, const sl_judge_input_t *in, sl_judge_t *out)
{
    const sl_plan_step_t *st = &plan->steps[step];
    int last = step + 1 >= plan->num_steps;

    if (in->failure == SL_FAILURE_CLIENT_ABORT) {
        set(out, SL_VERDICT_FAIL, SL_REASON_FAILURE, SL_FAILURE_CLIENT_ABORT);
        return;
    }
    if (in->client_bytes_sent) {
        if (in->failure != SL_FAILURE_NONE)
            set(out, SL_VERDICT_FAIL, SL_REASON_STREAM_STARTED, in->failure);
        else
            set(out, SL_VERDICT_ACCEPT, SL_REASON_STREAMED, SL_FAILURE_NONE);
        return;
    }
    if (in->budget_expired) {
        /* the last step has no budget; if one fired anyway there is nowhere to go */
        set(out, last ? SL_VERDICT_FAIL : SL_VERDICT_ESCALATE, SL_REASON_LATENCY_BUDGET, SL_FAILURE_NONE);
        return;
    }
    if (in->failure != SL_FAILURE_NONE) {
        int escalate = !last && (unsigned)in->failure < 32 && (st->tier->escalate_on & (1u << in->failure)) != 0;
        set(out, escalate ? SL_VERDICT_ESCALATE : SL_VERDICT_FAIL, SL_REASON_FAILURE, in->failure);
        return;
    }
    if (last)
        set(out, SL_VERDICT_ACCEPT, SL_REASON_LAST_TIER, SL_FAILURE_NONE);
    else if (st->mode == SL_PLAN_STREAMED)
        set(out, SL_VERDICT_ACCEPT, SL_REASON_STREAMED, SL_FAILURE_NONE);
    else if (!st->tier->has_accept)
        set(out, SL_VERDICT_ACCEPT, SL_REASON_NO_RULE, SL_FAILURE_NONE);
    else
        judge_signal(&st->tier->accept, in->signal, out);
}

const char *sl_router_reason_name(const sl_judge_t *j)
{
    static const char *const names[] = {"confident",      "no_rule",           "last_tier",      "streamed", "low_confidence",
                                        "missing_signal", "unparsable_signal", "latency_budget", "failure",  "stream_started"};
    _Static_assert(sizeof(names) / sizeof(names[0]) == SL_REASON_COUNT, "one name per reason");
    if (j->reason == SL_REASON_FAILURE)
        return sl_conf_failure_name(j->failure);
    return (unsigned)j->reason < SL_REASON_COUNT ? names[j->reason] : "?";
}

const char *sl_router_verdict_name(enum en_sl_verdict_t v)
{
    static const char *const names[] = {"accept", "escalate", "fail"};
    return (unsigned)v <= SL_VERDICT_FAIL ? names[v] : "?";
}
