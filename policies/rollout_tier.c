/*
 * rollout_tier.c - the rollout of one tier: runs the analysis on the traffic the control thread hands over, feeds
 * its verdicts to the pure state machine (rollout.c), keeps the analysis in step with the state (a new step drops
 * the step's samples, a restart starts every test again) and records events in the history.
 *
 * Control thread only. Nothing here writes to disk: sl_rollout_tick and sl_rollout_admin set `dirty` when the
 * state or the history changed, and the caller writes it (policies/rollout_store.h) before publishing the weight.
 *
 * Intervals are counted from the start of a step (and restarted by a resume or a restore), so a step's first
 * analysis comes one full interval after the weight changed and sees only traffic at that weight.
 */
#include "policies/rollout.h"

#include <string.h>

#include "common/status.h"
#include "policies/canary.h"

int sl_rollout_init(sl_rollout_t *r, const sl_conf_rollout_t *conf, uint64_t now_ms)
{
    if (r == NULL || conf == NULL || !conf->enabled || conf->num_steps == 0)
        return SL_EINVAL;
    memset(r, 0, sizeof(*r));
    r->conf = conf;
    sl_rollout_state_init(&r->state, now_ms);
    sl_rollout_history_clear(&r->history);
    if (sl_canary_init(&r->analysis, conf) != SL_OK)
        return SL_EINVAL;
    r->next_analysis_ms = now_ms + conf->interval_ms;
    r->dirty = 1;
    return SL_OK;
}

void sl_rollout_dispose(sl_rollout_t *r)
{
    sl_canary_dispose(&r->analysis);
}

int sl_rollout_analysis_due(const sl_rollout_t *r, uint64_t now_ms)
{
    return (r->state.phase == SL_ROLLOUT_PROGRESSING || r->state.phase == SL_ROLLOUT_PAUSED) && now_ms >= r->next_analysis_ms;
}

/* Keeps the latest verdict of each kind for /admin/state. */
static void remember(sl_rollout_t *r, const sl_canary_verdict_t *v, size_t n)
{
    for (size_t i = 0; i != n; ++i) {
        if (v[i].kind < SL_CANARY_K_COUNT && v[i].outcome <= SL_CANARY_NO_DATA)
            r->verdicts_total[v[i].kind][v[i].outcome]++;
        size_t j = 0;
        while (j != r->num_last && r->last[j].kind != v[i].kind)
            ++j;
        if (j == r->num_last) {
            if (r->num_last == SL_CANARY_K_COUNT)
                continue;
            r->num_last++;
        }
        r->last[j] = v[i];
    }
}

/* Applies a decision: the analysis follows the state (new step, new rollout), the event goes to the history. */
static int apply(sl_rollout_t *r, const sl_rollout_state_t *next, const sl_rollout_event_t *ev, uint64_t now_ms)
{
    const sl_rollout_state_t old = r->state;
    r->state = *next;
    if (next->phase == SL_ROLLOUT_ROLLED_BACK && old.phase != SL_ROLLOUT_ROLLED_BACK)
        r->rollbacks_total++;
    if (next->generation != old.generation)
        sl_canary_restart(&r->analysis);
    if (next->phase == SL_ROLLOUT_PROGRESSING &&
        (old.phase != SL_ROLLOUT_PROGRESSING || next->step != old.step || next->generation != old.generation)) {
        if (old.phase != SL_ROLLOUT_PAUSED || next->step != old.step)
            sl_canary_begin_step(&r->analysis, next->weight_permille);
        r->next_analysis_ms = now_ms + r->conf->interval_ms;
    }
    if (ev != NULL)
        sl_rollout_history_push(&r->history, ev);
    r->dirty = 1;
    return ev != NULL;
}

static int decide(sl_rollout_t *r, const sl_rollout_input_t *in)
{
    sl_rollout_state_t next;
    sl_rollout_event_t ev;
    int rc = sl_rollout_decide(r->conf, &r->state, in, &next, &ev);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        if (memcmp(&next, &r->state, sizeof(next)) != 0) {
            r->state = next; /* a counter or a hold reason moved without an event */
            r->dirty = 1;
        }
        return 0;
    }
    return apply(r, &next, &ev, in->now_ms);
}

int sl_rollout_tick(sl_rollout_t *r, const sl_canary_counts_t *canary, const sl_canary_counts_t *stable,
                    const sl_canary_sample_t *values_canary, const sl_canary_sample_t *values_stable, uint64_t now_ms,
                    int budget_exhausted, uint64_t *rng)
{
    sl_rollout_input_t in = {.now_ms = now_ms, .budget_exhausted = budget_exhausted};
    sl_canary_verdict_t v[SL_CANARY_K_COUNT];
    int events = 0;
    switch (r->state.phase) {
    case SL_ROLLOUT_PENDING:
        return decide(r, &in) > 0;
    case SL_ROLLOUT_PROGRESSING:
    case SL_ROLLOUT_PAUSED:
        break;
    default:
        return 0;
    }
    in.num_verdicts = sl_canary_tick(&r->analysis, canary, stable, v);
    in.verdicts = v;
    in.step_canary_requests = sl_canary_step_requests(&r->analysis);
    remember(r, v, in.num_verdicts);
    events += decide(r, &in) > 0;
    if (r->state.phase == SL_ROLLOUT_ROLLED_BACK || values_canary == NULL || values_stable == NULL ||
        !sl_rollout_analysis_due(r, now_ms))
        return events;
    sl_canary_add_values(&r->analysis, values_canary, values_stable, rng);
    in.num_verdicts = sl_canary_analyze(&r->analysis, v);
    in.analysis = 1;
    remember(r, v, in.num_verdicts);
    uint32_t step = r->state.step;
    r->dirty = 1; /* the looks counted and the whole-rollout tests moved: worth writing at every interval end */
    events += decide(r, &in) > 0;
    if (r->state.step == step && r->state.phase != SL_ROLLOUT_ROLLED_BACK)
        r->next_analysis_ms = now_ms + r->conf->interval_ms;
    return events;
}

int sl_rollout_admin(sl_rollout_t *r, enum en_sl_rollout_op_t op, uint64_t now_ms)
{
    sl_rollout_input_t in = {.now_ms = now_ms, .op = op};
    int rc = decide(r, &in);
    if (rc < 0)
        return rc;
    if (op == SL_ROLLOUT_OP_RESUME)
        r->next_analysis_ms = now_ms + r->conf->interval_ms;
    return SL_OK;
}

/* Records a transition the system made (not the analysis, not an operator) from r->state to next. */
static void system_event(sl_rollout_t *r, enum en_sl_rollout_event_kind_t kind, sl_rollout_state_t *next, uint64_t now_ms)
{
    sl_rollout_event_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.seq = r->state.events + 1;
    ev.at_ms = now_ms;
    ev.kind = (uint8_t)kind;
    ev.cause = SL_ROLLOUT_BY_SYSTEM;
    ev.from_phase = r->state.phase;
    ev.to_phase = next->phase;
    ev.hold = next->hold;
    ev.generation = next->generation;
    ev.from_step = r->state.step;
    ev.to_step = next->step;
    ev.from_weight = r->state.weight_permille;
    ev.to_weight = next->weight_permille;
    next->events = r->state.events + 1;
    next->updated_ms = now_ms;
    r->state = *next;
    sl_rollout_history_push(&r->history, &ev);
    r->dirty = 1;
}

int sl_rollout_reconfigure(sl_rollout_t *r, const sl_conf_rollout_t *conf, uint64_t now_ms)
{
    const sl_conf_rollout_t *old = r->conf;
    sl_rollout_state_t next = r->state;
    r->conf = conf;
    if (strcmp(conf->canary->name, old->canary->name) != 0) {
        /* another canary: a new rollout; the history stays and its numbering goes on */
        sl_rollout_state_init(&next, now_ms);
        r->analysis.conf = conf;
        sl_canary_restart(&r->analysis);
        r->next_analysis_ms = now_ms + conf->interval_ms;
        system_event(r, SL_ROLLOUT_EV_NEW_CANARY, &next, now_ms);
        return 1;
    }
    sl_canary_reconfigure(&r->analysis, conf);
    if (r->state.phase != SL_ROLLOUT_PROGRESSING && r->state.phase != SL_ROLLOUT_PAUSED)
        return 0;
    /* the same canary with other steps: continue at the highest step not above the weight in force */
    next.step = sl_rollout_step_for_weight(conf, r->state.weight_permille);
    if (next.phase == SL_ROLLOUT_PROGRESSING)
        next.weight_permille = conf->steps_permille[next.step];
    if (next.step == r->state.step && conf->steps_permille[next.step] == old->steps_permille[r->state.step])
        return 0;
    next.step_started_ms = now_ms;
    next.srm_flagged = 0;
    next.hold = SL_ROLLOUT_HOLD_NONE;
    system_event(r, SL_ROLLOUT_EV_RECONFIGURE, &next, now_ms);
    sl_canary_begin_step(&r->analysis, next.weight_permille);
    r->next_analysis_ms = now_ms + conf->interval_ms;
    return 1;
}
