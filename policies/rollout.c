/*
 * rollout.c - the rollout state machine as a pure function (state, config, verdicts, now, operator action) ->
 * (next state, event), and the bounded history of events.
 *
 * Purity is what makes the rollout testable and durable: every transition can be replayed from a stored state and
 * the inputs recorded in its event, and a crash can only lose inputs, never a half-applied decision. The
 * function never reads a clock; time is the input's now_ms and only ever compared with times it was given before.
 *
 * Safety rules encoded here, in order of precedence:
 *  1. An operator action is applied alone (verdicts in the same input are ignored) and only where it makes sense:
 *     a rolled-back canary is never promoted or resumed without an explicit restart.
 *  2. A failing critical check rolls back at once, in progressing and in paused (a pause stops progress, not
 *     protection).
 *  3. Progress needs positive evidence: a check without data holds the step as surely as a failing one; the
 *     weight never increases while the error budget is exhausted or the sample-ratio check fails (with
 *     srm.hold). A mismatch is recorded once per step (the first time the check fails).
 * Holds are recorded as events only when their reason changes, so a rollout that waits for samples for an hour
 * leaves one event, not sixty.
 */
#include "policies/rollout.h"

#include <string.h>

#include "common/status.h"

static const char *const phase_names[] = {"pending", "progressing", "paused", "promoted", "rolled_back"};
static const char *const op_names[] = {"none", "pause", "resume", "rollback", "promote", "restart"};
static const char *const hold_names[] = {"none", "duration", "samples", "no_data", "failing", "srm", "budget"};
static const char *const event_names[] = {"start", "advance", "promote",    "rollback",    "pause",    "resume",    "restart",
                                          "hold",  "srm",     "new_canary", "reconfigure", "restored", "unreadable"};
static const char *const cause_names[] = {"analysis", "operator", "system"};

_Static_assert(sizeof(phase_names) / sizeof(phase_names[0]) == SL_ROLLOUT_PHASE_COUNT, "phase names");
_Static_assert(sizeof(op_names) / sizeof(op_names[0]) == SL_ROLLOUT_OP_COUNT, "op names");
_Static_assert(sizeof(hold_names) / sizeof(hold_names[0]) == SL_ROLLOUT_HOLD_COUNT, "hold names");
_Static_assert(sizeof(event_names) / sizeof(event_names[0]) == SL_ROLLOUT_EV_COUNT, "event names");

const char *sl_rollout_phase_name(enum en_sl_rollout_phase_t phase)
{
    return (unsigned)phase < SL_ROLLOUT_PHASE_COUNT ? phase_names[phase] : "?";
}

const char *sl_rollout_op_name(enum en_sl_rollout_op_t op)
{
    return (unsigned)op < SL_ROLLOUT_OP_COUNT ? op_names[op] : "?";
}

const char *sl_rollout_hold_name(enum en_sl_rollout_hold_t hold)
{
    return (unsigned)hold < SL_ROLLOUT_HOLD_COUNT ? hold_names[hold] : "?";
}

const char *sl_rollout_event_name(enum en_sl_rollout_event_kind_t kind)
{
    return (unsigned)kind < SL_ROLLOUT_EV_COUNT ? event_names[kind] : "?";
}

const char *sl_rollout_cause_name(enum en_sl_rollout_cause_t cause)
{
    return (unsigned)cause < sizeof(cause_names) / sizeof(cause_names[0]) ? cause_names[cause] : "?";
}

int sl_rollout_parse_op(const char *name, enum en_sl_rollout_op_t *op)
{
    for (int i = SL_ROLLOUT_OP_PAUSE; i != SL_ROLLOUT_OP_COUNT; ++i) {
        if (strcmp(name, op_names[i]) == 0) {
            *op = (enum en_sl_rollout_op_t)i;
            return SL_OK;
        }
    }
    return SL_EINVAL;
}

void sl_rollout_state_init(sl_rollout_state_t *s, uint64_t now_ms)
{
    memset(s, 0, sizeof(*s));
    s->generation = 1;
    s->phase = SL_ROLLOUT_PENDING;
    s->paused_from = SL_ROLLOUT_PENDING;
    s->started_ms = s->step_started_ms = s->updated_ms = now_ms;
}

uint32_t sl_rollout_weight_of(const sl_conf_rollout_t *conf, const sl_rollout_state_t *s)
{
    switch (s->phase) {
    case SL_ROLLOUT_PROGRESSING:
        return s->step < conf->num_steps ? conf->steps_permille[s->step] : 0;
    case SL_ROLLOUT_PAUSED:
        return s->weight_permille;
    case SL_ROLLOUT_PROMOTED:
        return 1000;
    default:
        return 0;
    }
}

uint32_t sl_rollout_step_for_weight(const sl_conf_rollout_t *conf, uint32_t weight_permille)
{
    uint32_t step = 0;
    for (size_t i = 0; i != conf->num_steps; ++i)
        if (conf->steps_permille[i] <= weight_permille && conf->steps_permille[i] < 1000)
            step = (uint32_t)i;
    return step;
}

/* Starts *ev as a transition from cur to next. */
static void event(sl_rollout_event_t *ev, enum en_sl_rollout_event_kind_t kind, enum en_sl_rollout_cause_t cause,
                  const sl_rollout_state_t *cur, sl_rollout_state_t *next, uint64_t now_ms)
{
    memset(ev, 0, sizeof(*ev));
    ev->seq = cur->events + 1;
    ev->at_ms = now_ms;
    ev->kind = (uint8_t)kind;
    ev->cause = (uint8_t)cause;
    ev->from_phase = cur->phase;
    ev->to_phase = next->phase;
    ev->hold = next->hold;
    ev->generation = next->generation;
    ev->from_step = cur->step;
    ev->to_step = next->step;
    ev->from_weight = cur->weight_permille;
    ev->to_weight = next->weight_permille;
    next->events = cur->events + 1;
    next->updated_ms = now_ms;
}

/* Copies the verdicts into the event, those with outcome `first` ahead of the others, up to the maximum. */
static void evidence(sl_rollout_event_t *ev, const sl_rollout_input_t *in, int first)
{
    size_t n = 0;
    for (int pass = 0; pass != 2; ++pass)
        for (size_t i = 0; i != in->num_verdicts && n != SL_ROLLOUT_MAX_EVIDENCE; ++i)
            if ((in->verdicts[i].outcome == first) == (pass == 0))
                ev->evidence[n++] = in->verdicts[i];
    ev->num_evidence = (uint8_t)n;
}

static int operator_action(const sl_conf_rollout_t *conf, const sl_rollout_state_t *cur, const sl_rollout_input_t *in,
                           sl_rollout_state_t *next, sl_rollout_event_t *ev)
{
    sl_rollout_state_t n = *cur;
    enum en_sl_rollout_event_kind_t kind;
    switch (in->op) {
    case SL_ROLLOUT_OP_PAUSE:
        if (cur->phase != SL_ROLLOUT_PENDING && cur->phase != SL_ROLLOUT_PROGRESSING)
            return SL_EINVAL;
        n.paused_from = cur->phase;
        n.phase = SL_ROLLOUT_PAUSED;
        kind = SL_ROLLOUT_EV_PAUSE;
        break;
    case SL_ROLLOUT_OP_RESUME:
        if (cur->phase != SL_ROLLOUT_PAUSED)
            return SL_EINVAL;
        n.phase = cur->paused_from == SL_ROLLOUT_PROGRESSING ? SL_ROLLOUT_PROGRESSING : SL_ROLLOUT_PENDING;
        n.step_started_ms = in->now_ms; /* the step's interval starts again */
        n.failing_intervals = 0;
        n.hold = SL_ROLLOUT_HOLD_NONE;
        kind = SL_ROLLOUT_EV_RESUME;
        break;
    case SL_ROLLOUT_OP_ROLLBACK:
        if (cur->phase == SL_ROLLOUT_ROLLED_BACK)
            return SL_EINVAL;
        n.phase = SL_ROLLOUT_ROLLED_BACK;
        kind = SL_ROLLOUT_EV_ROLLBACK;
        break;
    case SL_ROLLOUT_OP_PROMOTE:
        if (cur->phase == SL_ROLLOUT_PROMOTED || cur->phase == SL_ROLLOUT_ROLLED_BACK)
            return SL_EINVAL;
        n.phase = SL_ROLLOUT_PROMOTED;
        kind = SL_ROLLOUT_EV_PROMOTE;
        break;
    case SL_ROLLOUT_OP_RESTART:
        if (cur->phase != SL_ROLLOUT_ROLLED_BACK)
            return SL_EINVAL;
        n.generation = cur->generation + 1;
        n.phase = SL_ROLLOUT_PENDING;
        n.paused_from = SL_ROLLOUT_PENDING;
        n.step = 0;
        n.hold = SL_ROLLOUT_HOLD_NONE;
        n.srm_flagged = 0;
        n.failing_intervals = 0;
        n.started_ms = n.step_started_ms = in->now_ms;
        kind = SL_ROLLOUT_EV_RESTART;
        break;
    default:
        return SL_EINVAL;
    }
    n.weight_permille = sl_rollout_weight_of(conf, &n);
    event(ev, kind, SL_ROLLOUT_BY_OPERATOR, cur, &n, in->now_ms);
    *next = n;
    return 1;
}

/* Whether a verdict of the input has outcome `outcome`, among critical (1) or non-critical (0) checks other than
 * srm. */
static int any(const sl_rollout_input_t *in, int outcome, int critical)
{
    for (size_t i = 0; i != in->num_verdicts; ++i) {
        const sl_canary_verdict_t *v = &in->verdicts[i];
        if (v->kind != SL_CANARY_K_SRM && v->outcome == outcome && (critical < 0 || v->critical == critical))
            return 1;
    }
    return 0;
}

static int srm_fails(const sl_rollout_input_t *in)
{
    for (size_t i = 0; i != in->num_verdicts; ++i)
        if (in->verdicts[i].kind == SL_CANARY_K_SRM && in->verdicts[i].outcome == SL_CANARY_FAIL)
            return 1;
    return 0;
}

/* Where an analysis of a progressing rollout with no failing check stands. */
static enum en_sl_rollout_hold_t hold_reason(const sl_conf_rollout_t *conf, const sl_rollout_state_t *cur,
                                             const sl_rollout_input_t *in)
{
    if (in->now_ms < cur->step_started_ms + conf->interval_ms)
        return SL_ROLLOUT_HOLD_DURATION;
    if (in->step_canary_requests < conf->min_samples)
        return SL_ROLLOUT_HOLD_SAMPLES;
    if (any(in, SL_CANARY_NO_DATA, -1))
        return SL_ROLLOUT_HOLD_NO_DATA;
    if (srm_fails(in) && conf->checks[SL_CONF_CHECK_SRM].hold)
        return SL_ROLLOUT_HOLD_SRM;
    if (in->budget_exhausted)
        return SL_ROLLOUT_HOLD_BUDGET;
    return SL_ROLLOUT_HOLD_NONE;
}

int sl_rollout_decide(const sl_conf_rollout_t *conf, const sl_rollout_state_t *cur, const sl_rollout_input_t *in,
                      sl_rollout_state_t *next, sl_rollout_event_t *ev)
{
    if (in->op != SL_ROLLOUT_OP_NONE)
        return operator_action(conf, cur, in, next, ev);

    sl_rollout_state_t n = *cur;
    int happened = 0;
    switch (cur->phase) {
    case SL_ROLLOUT_PENDING:
        if (in->budget_exhausted) {
            n.hold = SL_ROLLOUT_HOLD_BUDGET;
            if (cur->hold != n.hold) {
                event(ev, SL_ROLLOUT_EV_HOLD, SL_ROLLOUT_BY_ANALYSIS, cur, &n, in->now_ms);
                happened = 1;
            }
            break;
        }
        n.phase = SL_ROLLOUT_PROGRESSING;
        n.step = 0;
        n.hold = SL_ROLLOUT_HOLD_NONE;
        n.srm_flagged = 0;
        n.failing_intervals = 0;
        n.step_started_ms = in->now_ms;
        n.weight_permille = sl_rollout_weight_of(conf, &n);
        event(ev, SL_ROLLOUT_EV_START, SL_ROLLOUT_BY_ANALYSIS, cur, &n, in->now_ms);
        happened = 1;
        break;
    case SL_ROLLOUT_PROGRESSING:
    case SL_ROLLOUT_PAUSED:
        if (any(in, SL_CANARY_FAIL, 1)) {
            n.phase = SL_ROLLOUT_ROLLED_BACK;
            n.weight_permille = 0;
            event(ev, SL_ROLLOUT_EV_ROLLBACK, SL_ROLLOUT_BY_ANALYSIS, cur, &n, in->now_ms);
            evidence(ev, in, SL_CANARY_FAIL);
            happened = 1;
            break;
        }
        if (srm_fails(in) && !cur->srm_flagged) {
            n.srm_flagged = 1;
            event(ev, SL_ROLLOUT_EV_SRM, SL_ROLLOUT_BY_ANALYSIS, cur, &n, in->now_ms);
            evidence(ev, in, SL_CANARY_FAIL);
            happened = 1;
        }
        if (cur->phase == SL_ROLLOUT_PAUSED || !in->analysis)
            break;
        if (any(in, SL_CANARY_FAIL, 0)) {
            n.failing_intervals = cur->failing_intervals + 1;
            if (n.failing_intervals >= conf->failure_limit) {
                n.phase = SL_ROLLOUT_ROLLED_BACK;
                n.weight_permille = 0;
                event(ev, SL_ROLLOUT_EV_ROLLBACK, SL_ROLLOUT_BY_ANALYSIS, cur, &n, in->now_ms);
                evidence(ev, in, SL_CANARY_FAIL);
                *next = n;
                return 1;
            }
            n.hold = SL_ROLLOUT_HOLD_FAILING;
        } else {
            n.failing_intervals = 0;
            n.hold = hold_reason(conf, &n, in);
        }
        if (n.hold == SL_ROLLOUT_HOLD_NONE && happened) {
            n.hold = cur->hold; /* a mismatch flagged just now: its event first, progress at the next interval */
            break;
        }
        if (n.hold == SL_ROLLOUT_HOLD_NONE) {
            if (cur->step + 1 >= conf->num_steps || conf->steps_permille[cur->step + 1] >= 1000) {
                n.phase = SL_ROLLOUT_PROMOTED;
                n.weight_permille = 1000;
                event(ev, SL_ROLLOUT_EV_PROMOTE, SL_ROLLOUT_BY_ANALYSIS, cur, &n, in->now_ms);
            } else {
                n.step = cur->step + 1;
                n.weight_permille = conf->steps_permille[n.step];
                n.step_started_ms = in->now_ms;
                n.srm_flagged = 0;
                event(ev, SL_ROLLOUT_EV_ADVANCE, SL_ROLLOUT_BY_ANALYSIS, cur, &n, in->now_ms);
            }
            evidence(ev, in, SL_CANARY_PASS);
            *next = n;
            return 1;
        }
        if (n.hold != cur->hold && !happened) {
            event(ev, SL_ROLLOUT_EV_HOLD, SL_ROLLOUT_BY_ANALYSIS, cur, &n, in->now_ms);
            evidence(ev, in, n.hold == SL_ROLLOUT_HOLD_FAILING ? SL_CANARY_FAIL : SL_CANARY_NO_DATA);
            happened = 1;
        }
        break;
    default: /* promoted and rolled_back are final (a restart is an operator action) */
        break;
    }
    *next = n;
    return happened;
}

void sl_rollout_history_clear(sl_rollout_history_t *h)
{
    h->count = 0;
    h->head = 0;
}

void sl_rollout_history_push(sl_rollout_history_t *h, const sl_rollout_event_t *ev)
{
    if (h->count < SL_ROLLOUT_HISTORY) {
        h->events[(h->head + h->count) % SL_ROLLOUT_HISTORY] = *ev;
        h->count++;
    } else {
        h->events[h->head] = *ev;
        h->head = (h->head + 1) % SL_ROLLOUT_HISTORY;
    }
}

const sl_rollout_event_t *sl_rollout_history_get(const sl_rollout_history_t *h, uint32_t i)
{
    return i < h->count ? &h->events[(h->head + i) % SL_ROLLOUT_HISTORY] : NULL;
}
