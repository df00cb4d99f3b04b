/*
 * rollout_render.c - a rollout as JSON (for /admin/state) and as Prometheus metrics (for /metrics).
 *
 * The JSON holds everything an operator needs to understand a decision: the phase, step and weight, why the
 * rollout holds, the latest verdict of every check with its numbers, and the decision history with the evidence of
 * each event. Numbers are printed with 17 significant digits (they read back exactly); every number of a verdict is
 * finite by construction.
 *
 * Metric names and labels are a contract with dashboards; docs/ROLLOUTS.md ("Metrics") lists them. Labels are
 * bounded: route, tier backend and canary come from the config, state, check and outcome from fixed lists.
 * Control thread (the rollout is not shared); allocates only by growing the caller's buffer.
 */
#include "policies/rollout_render.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/status.h"
#include "conf/conf.h"
#include "policies/canary.h"
#include "policies/rollout.h"

/* Appends and remembers the first failure in *rc (SL_ENOMEM at the buffer's cap). */
#define PUT(call)                                                                                                              \
    do {                                                                                                                       \
        int put_rc_ = (call);                                                                                                  \
        if (put_rc_ != SL_OK)                                                                                                  \
            rc = put_rc_;                                                                                                      \
    } while (0)

static int verdict_json(sl_buf_t *b, const sl_canary_verdict_t *v)
{
    return sl_buf_appendf(
        b,
        "{\"check\":\"%s\",\"verdict\":\"%s\",\"outcome\":\"%s\",\"critical\":%s,\"look\":%" PRIu32 ",\"n_canary\":%" PRIu64
        ",\"n_stable\":%" PRIu64 ",\"statistic\":%.17g,\"p_value\":%.17g,\"threshold\":%.17g,\"effect\":%.17g,\"canary\":%.17g,"
        "\"stable\":%.17g}",
        sl_conf_rollout_check_name((enum en_sl_conf_check_t)v->check), sl_canary_kind_name((enum en_sl_canary_kind_t)v->kind),
        sl_canary_outcome_name((enum en_sl_canary_outcome_kind_t)v->outcome), v->critical ? "true" : "false", v->look,
        v->n_canary, v->n_stable, v->statistic, v->p_value, v->threshold, v->effect, v->canary_value, v->stable_value);
}

int sl_rollout_render_json(const sl_rollout_t *r, const char *route, const char *backend, sl_buf_t *out)
{
    const sl_rollout_state_t *s = &r->state;
    size_t start = out->len;
    int rc = SL_OK;
    PUT(sl_buf_appendf(out,
                       "{\"route\":\"%s\",\"backend\":\"%s\",\"canary\":\"%s\",\"generation\":%" PRIu32
                       ",\"phase\":\"%s\",\"step\":%" PRIu32 ",\"steps\":[",
                       route, backend, r->conf->canary->name, s->generation,
                       sl_rollout_phase_name((enum en_sl_rollout_phase_t)s->phase), s->step));
    for (size_t i = 0; i != r->conf->num_steps; ++i)
        PUT(sl_buf_appendf(out, "%s%" PRIu32, i != 0 ? "," : "", r->conf->steps_permille[i]));
    PUT(sl_buf_appendf(out,
                       "],\"weight_permille\":%" PRIu32 ",\"hold\":\"%s\",\"srm_flagged\":%s,\"failing_intervals\":%" PRIu32
                       ",\"started_ms\":%" PRIu64 ",\"step_started_ms\":%" PRIu64 ",\"updated_ms\":%" PRIu64
                       ",\"step_canary_requests\":%" PRIu64 ",\"next_analysis_ms\":%" PRIu64 ",\"verdicts\":[",
                       s->weight_permille, sl_rollout_hold_name((enum en_sl_rollout_hold_t)s->hold),
                       s->srm_flagged ? "true" : "false", s->failing_intervals, s->started_ms, s->step_started_ms,
                       s->updated_ms, sl_canary_step_requests(&r->analysis), r->next_analysis_ms));
    for (size_t i = 0; i != r->num_last; ++i) {
        if (i != 0)
            PUT(sl_buf_append(out, ",", 1));
        PUT(verdict_json(out, &r->last[i]));
    }
    PUT(sl_buf_append(out, "],\"history\":[", 13));
    for (uint32_t i = 0; i != r->history.count; ++i) {
        const sl_rollout_event_t *e = sl_rollout_history_get(&r->history, i);
        PUT(sl_buf_appendf(out,
                           "%s{\"seq\":%" PRIu64 ",\"at_ms\":%" PRIu64 ",\"event\":\"%s\",\"cause\":\"%s\","
                           "\"generation\":%" PRIu32 ",\"from\":{\"phase\":\"%s\",\"step\":%" PRIu32
                           ",\"weight_permille\":%" PRIu32 "},\"to\":{\"phase\":\"%s\",\"step\":%" PRIu32
                           ",\"weight_permille\":%" PRIu32 "},\"hold\":\"%s\",\"evidence\":[",
                           i != 0 ? "," : "", e->seq, e->at_ms, sl_rollout_event_name((enum en_sl_rollout_event_kind_t)e->kind),
                           sl_rollout_cause_name((enum en_sl_rollout_cause_t)e->cause), e->generation,
                           sl_rollout_phase_name((enum en_sl_rollout_phase_t)e->from_phase), e->from_step, e->from_weight,
                           sl_rollout_phase_name((enum en_sl_rollout_phase_t)e->to_phase), e->to_step, e->to_weight,
                           sl_rollout_hold_name((enum en_sl_rollout_hold_t)e->hold)));
        for (unsigned k = 0; k != e->num_evidence; ++k) {
            if (k != 0)
                PUT(sl_buf_append(out, ",", 1));
            PUT(verdict_json(out, &e->evidence[k]));
        }
        PUT(sl_buf_append(out, "]}", 2));
    }
    PUT(sl_buf_append(out, "]}", 2));
    if (rc != SL_OK)
        out->len = start;
    return rc;
}

void sl_rollout_render_metrics_header(sl_buf_t *out)
{
    sl_buf_appendf(out, "# HELP sluice_rollout_weight Share of the tier's requests sent to the canary (0 to 1).\n"
                        "# TYPE sluice_rollout_weight gauge\n"
                        "# HELP sluice_rollout_state 1 for the rollout's current state, 0 for the others.\n"
                        "# TYPE sluice_rollout_state gauge\n"
                        "# HELP sluice_rollout_step Index of the current weight step (0 is the first).\n"
                        "# TYPE sluice_rollout_step gauge\n"
                        "# HELP sluice_rollout_verdict 1 for the outcome of the latest verdict of each check.\n"
                        "# TYPE sluice_rollout_verdict gauge\n"
                        "# HELP sluice_rollout_verdicts_total Verdicts by check and outcome since the start.\n"
                        "# TYPE sluice_rollout_verdicts_total counter\n"
                        "# HELP sluice_rollout_rollbacks_total Rollbacks since the start.\n"
                        "# TYPE sluice_rollout_rollbacks_total counter\n");
}

int sl_rollout_render_metrics(const sl_rollout_t *r, const char *route, const char *backend, sl_buf_t *out)
{
    char labels[256];
    size_t start = out->len;
    int rc = SL_OK;
    snprintf(labels, sizeof(labels), "route=\"%s\",backend=\"%s\",canary=\"%s\"", route, backend, r->conf->canary->name);
    PUT(sl_buf_appendf(out, "sluice_rollout_weight{%s} %.17g\n", labels, r->state.weight_permille / 1000.0));
    for (int p = 0; p != SL_ROLLOUT_PHASE_COUNT; ++p)
        PUT(sl_buf_appendf(out, "sluice_rollout_state{%s,state=\"%s\"} %d\n", labels,
                           sl_rollout_phase_name((enum en_sl_rollout_phase_t)p), r->state.phase == p));
    PUT(sl_buf_appendf(out, "sluice_rollout_step{%s} %" PRIu32 "\n", labels, r->state.step));
    for (size_t i = 0; i != r->num_last; ++i)
        for (int o = 0; o != 3; ++o)
            PUT(sl_buf_appendf(out, "sluice_rollout_verdict{%s,check=\"%s\",outcome=\"%s\"} %d\n", labels,
                               sl_canary_kind_name((enum en_sl_canary_kind_t)r->last[i].kind),
                               sl_canary_outcome_name((enum en_sl_canary_outcome_kind_t)o), r->last[i].outcome == o));
    for (int k = 0; k != SL_CANARY_K_COUNT; ++k)
        for (int o = 0; o != 3; ++o)
            if (r->verdicts_total[k][0] + r->verdicts_total[k][1] + r->verdicts_total[k][2] != 0)
                PUT(sl_buf_appendf(out, "sluice_rollout_verdicts_total{%s,check=\"%s\",outcome=\"%s\"} %" PRIu64 "\n", labels,
                                   sl_canary_kind_name((enum en_sl_canary_kind_t)k),
                                   sl_canary_outcome_name((enum en_sl_canary_outcome_kind_t)o), r->verdicts_total[k][o]));
    PUT(sl_buf_appendf(out, "sluice_rollout_rollbacks_total{%s} %" PRIu64 "\n", labels, r->rollbacks_total));
    if (rc != SL_OK)
        out->len = start;
    return rc;
}
