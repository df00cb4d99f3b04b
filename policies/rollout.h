/*
 * rollout.h - canary rollouts: the state machine (pure), the decision history, and the per-tier rollout that feeds
 * the analysis (policies/canary.h) and applies its verdicts. docs/ROLLOUTS.md describes the behaviour for users.
 *
 *   pending --start--> progressing(0) --advance--> progressing(k) ... --promote--> promoted
 *      |                    |   ^                      |
 *      |                  pause resume               rollback (a critical check fails; a non-critical one fails
 *      |                    v   |                      |        failure_limit intervals in a row; an operator)
 *      +------pause------> paused ----rollback------> rolled_back --restart--> pending (generation + 1)
 *
 * The canary weight is 0 in pending and rolled_back, steps[k] in progressing(k), kept in paused, 1000 (all
 * traffic) in promoted. A last step of 100% is never entered: passing the step before it promotes.
 *
 * Order of a control tick (sl_rollout_tick): the tick's counts go to the analysis; the sequential checks
 * (error rate, sample ratio) may roll back at once; at an interval end the value samples are added, every check
 * runs, and the step advances when the step lasted an interval, has min_samples canary requests, no check fails,
 * every check has data, no sample-ratio mismatch holds it and the error budget is not exhausted.
 *
 * Durability is the caller's duty and must come first: when sl_rollout_tick / sl_rollout_admin report a change
 * (r->dirty: every event, and every interval end, where the whole-rollout tests have moved), write the state
 * (policies/rollout_store.h) *before* publishing the new weight, so that a crash after the publication can never
 * be followed by a restart at an older, different decision. Evidence gathered between two writes (a few ticks of
 * the sequential tests) may be lost by a crash; that only delays a decision.
 */
#ifndef SL_POLICIES_ROLLOUT_H
#define SL_POLICIES_ROLLOUT_H

#include "policies/rollout-t.h"

/* ---- the state machine (rollout.c): pure functions of their arguments, any thread ---- */

/* A new rollout: pending, generation 1, weight 0, no events, timestamps now_ms. */
void sl_rollout_state_init(sl_rollout_state_t *s, uint64_t now_ms);

/*
 * Decides the next state from cur, the config and one input: an operator action (in->op; verdicts are then
 * ignored), or verdicts (a tick's sequential ones, or an analysis's full set when in->analysis). Writes *next (may
 * alias cur) and returns 1 with *ev filled when something happened worth recording (a transition, a hold for a
 * new reason, a mismatch flagged), 0 when nothing did. Returns SL_EINVAL when the action is not allowed in the
 * current phase (pause outside pending/progressing, resume outside paused, rollback when rolled back, promote when
 * promoted or rolled back, restart outside rolled_back): *next and *ev untouched.
 * Rules: docs/ROLLOUTS.md "State machine"; conf borrowed.
 */
int sl_rollout_decide(const sl_conf_rollout_t *conf, const sl_rollout_state_t *cur, const sl_rollout_input_t *in,
                      sl_rollout_state_t *next, sl_rollout_event_t *ev);

/* The weight a phase and step give (pending, rolled_back: 0; promoted: 1000; progressing: steps[step]). */
uint32_t sl_rollout_weight_of(const sl_conf_rollout_t *conf, const sl_rollout_state_t *s);

/* The step of conf to continue at with weight_permille in force: the highest step whose weight is at most
 * weight_permille, or 0 when every step is higher. Used when a reload changes the steps. */
uint32_t sl_rollout_step_for_weight(const sl_conf_rollout_t *conf, uint32_t weight_permille);

/* Names for logs, metric labels and /admin/state; never NULL ("?" when out of range). */
const char *sl_rollout_phase_name(enum en_sl_rollout_phase_t phase);
const char *sl_rollout_op_name(enum en_sl_rollout_op_t op);
const char *sl_rollout_hold_name(enum en_sl_rollout_hold_t hold);
const char *sl_rollout_event_name(enum en_sl_rollout_event_kind_t kind);
const char *sl_rollout_cause_name(enum en_sl_rollout_cause_t cause);
/* "pause", "resume", "rollback", "promote", "restart" -> the action. Returns SL_OK or SL_EINVAL (*op untouched). */
int sl_rollout_parse_op(const char *name, enum en_sl_rollout_op_t *op);

/* History: the last SL_ROLLOUT_HISTORY events. */
void sl_rollout_history_clear(sl_rollout_history_t *h);
void sl_rollout_history_push(sl_rollout_history_t *h, const sl_rollout_event_t *ev);
/* Event i, 0 the oldest held; NULL when i >= count. */
const sl_rollout_event_t *sl_rollout_history_get(const sl_rollout_history_t *h, uint32_t i);

/* ---- the rollout of one tier (rollout_tier.c): control thread ---- */

/* Prepares r for conf (borrowed; enabled): a new pending rollout at now_ms. Returns SL_OK or SL_EINVAL. The caller
 * owns r and calls sl_rollout_dispose(). Allocates (the analysis's samples). */
int sl_rollout_init(sl_rollout_t *r, const sl_conf_rollout_t *conf, uint64_t now_ms);
void sl_rollout_dispose(sl_rollout_t *r);

/* 1 when the current analysis interval has ended at now_ms: the next sl_rollout_tick should carry the interval's
 * value samples. */
int sl_rollout_analysis_due(const sl_rollout_t *r, uint64_t now_ms);

/*
 * One control tick: canary / stable are the tick's counts; values_canary / values_stable the value samples since
 * the last interval end, or NULL when sl_rollout_analysis_due() said 0 (then no analysis runs). rng is a splitmix64
 * state for the sample merge. Records the events of the tick in the history and returns how many there were (0 to
 * 2; they are the newest ones); sets r->dirty when the state changed.
 */
int sl_rollout_tick(sl_rollout_t *r, const sl_canary_counts_t *canary, const sl_canary_counts_t *stable,
                    const sl_canary_sample_t *values_canary, const sl_canary_sample_t *values_stable, uint64_t now_ms,
                    int budget_exhausted, uint64_t *rng);

/* An operator action. Returns SL_OK (the event is the newest in the history; r->dirty set) or SL_EINVAL when the
 * action is not allowed in the current phase (nothing changed). */
int sl_rollout_admin(sl_rollout_t *r, enum en_sl_rollout_op_t op, uint64_t now_ms);

/*
 * A reloaded config (conf borrowed from the new snapshot, enabled). Another canary backend starts a new rollout
 * (event new_canary; generation 1; the old rollout's history is kept). The same canary keeps the rollout: a
 * progressing or paused rollout whose steps changed continues at sl_rollout_step_for_weight() of its weight
 * (event reconfigure); a sequential test whose parameters changed starts again. Returns the number of events.
 */
int sl_rollout_reconfigure(sl_rollout_t *r, const sl_conf_rollout_t *conf, uint64_t now_ms);

/* The canary weight to publish. */
static inline uint32_t sl_rollout_weight(const sl_rollout_t *r)
{
    return r->state.weight_permille;
}

#endif
