/*
 * plan.h - the cascade plan of one request and the judge of each attempt. Pure functions of their arguments: no
 * I/O, no clock, no locks, no allocation, no logging (DESIGN.md §2); any thread. Every decision can be replayed.
 *
 * Use (gateway, worker thread):
 *     sl_plan_t plan;                              // on the stack or in the request's pool
 *     sl_router_plan(route, &facts, draw, &plan);  // once, after route matching and body inspection
 *     for (size_t i = 0; i != plan.num_steps; ++i) {
 *         attempt plan.steps[i] (encode with the step's accept signal when .judged, arm .latency_budget_ms);
 *         sl_router_judge(&plan, i, &input, &j);   // once per attempt, when it ended
 *         ACCEPT -> respond; ESCALATE -> continue; FAIL -> respond with the error of j.failure
 *     }
 * The last step never escalates, so the loop always ends in ACCEPT or FAIL.
 */
#ifndef SL_ROUTER_PLAN_H
#define SL_ROUTER_PLAN_H

#include "router/facts-t.h"
#include "router/plan-t.h"

/* Builds the plan of `route` for a request: its tiers in order, minus those whose skip_when holds (the first
 * holding condition of each is recorded in out->skipped). The last tier is never skipped: it is where skipped
 * requests go and its answer is always returned, so its own skip_when is ignored. Per step: the backend, the mode
 * (buffered; for streams buffer_streams decides, and the last step streams through), whether the accept rule
 * judges it, and its latency budget (none on the last step). `draw` is a uniform random 64-bit number kept for the
 * variant and version choices. Returns SL_OK, or SL_EINVAL when the route has no tier or more than
 * SL_CONF_MAX_TIERS (*out untouched). Borrowed: route and facts; out points into route. */
int sl_router_plan(const sl_conf_route_t *route, const sl_facts_t *facts, uint64_t draw, sl_plan_t *out);

/* Judges attempt `step` of plan (step < plan->num_steps). Rules, first match wins:
 *  1. client_abort                               -> FAIL (failure client_abort): nobody is left to answer;
 *  2. bytes already sent to the client: a failure -> FAIL (stream_started), else ACCEPT (streamed);
 *  3. latency budget expired (never on the last step) -> ESCALATE (latency_budget);
 *  4. a failure: last step -> FAIL; kind in the tier's escalate_on -> ESCALATE; else FAIL (reason failure);
 *  5. an answer: last step -> ACCEPT (last_tier); streamed step -> ACCEPT (streamed); no accept rule -> ACCEPT
 *     (no_rule); signal missing -> ESCALATE (missing_signal); unparsable or not finite -> ESCALATE
 *     (unparsable_signal); outside [min, max] (bounds inclusive, each optional) -> ESCALATE (low_confidence);
 *     else ACCEPT (confident).
 * Always fills *out. */
void sl_router_judge(const sl_plan_t *plan, size_t step, const sl_judge_input_t *in, sl_judge_t *out);

/* Stable, bounded name of a verdict's reason for logs and metric labels: "confident", "no_rule", "last_tier",
 * "streamed", "low_confidence", "missing_signal", "unparsable_signal", "latency_budget", "stream_started", or for
 * SL_REASON_FAILURE the failure kind's name ("connect_refused", "upstream_5xx", ...). Never NULL. */
const char *sl_router_reason_name(const sl_judge_t *j);

/* "accept", "escalate" or "fail". */
const char *sl_router_verdict_name(enum en_sl_verdict_t v);

#endif
