/*
 * rollout_admin.c - the operator's side of canary rollouts (see rollout_glue.h): the admin actions, the rollouts in
 * /admin/state and their metrics. Control thread only, like everything else the admin listener does.
 *
 * An action follows the order of a tick: the state machine decides (sl_rollout_admin), the state file is written,
 * and only then is the new weight published to the workers.
 */
#include "gateway/rollout_glue.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/status.h"
#include "gateway/gw.h"
#include "policies/rollout.h"
#include "policies/rollout_render.h"
#include "policies/rollout_store.h"

/* The configured slot of route `route`, tier `tier` (an index or the tier backend's name), or NULL. */
static sl_gw_ro_slot_t *find(sl_gw_rollouts_t *rs, const char *route, const char *tier)
{
    char *end;
    unsigned long idx = strtoul(tier, &end, 10);
    int numeric = tier[0] >= '0' && tier[0] <= '9' && *end == '\0';
    for (size_t i = 0; i != rs->num_slots; ++i) {
        sl_gw_ro_slot_t *s = rs->slots[i];
        if (!s->configured || strcmp(s->route, route) != 0)
            continue;
        if (numeric ? s->tier == idx : strcmp(s->backend, tier) == 0)
            return s;
    }
    return NULL;
}

int sl_gw_rollout_admin(sl_gw_t *gw, const char *route, const char *tier, const char *op, const char **why)
{
    sl_gw_rollouts_t *rs = gw->rollouts;
    sl_gw_ro_slot_t *s = rs != NULL ? find(rs, route, tier) : NULL;
    if (s == NULL) {
        *why = "no rollout on this route and tier";
        return SL_ENOENT;
    }
    enum en_sl_rollout_op_t o;
    if (sl_rollout_parse_op(op, &o) != SL_OK) {
        *why = "no such action (pause, resume, rollback, promote, restart)";
        return SL_ENOENT;
    }
    if (sl_rollout_admin(&s->r, o, sl_clock_wall_ms()) != SL_OK) {
        *why = "this action is not allowed in the rollout's current state";
        return SL_EINVAL;
    }
    const sl_rollout_event_t *ev = sl_rollout_history_get(&s->r.history, s->r.history.count - 1);
    if (ev != NULL)
        SL_LOG(SL_LOG_INFO, "rollout", "route %s tier %u (%s -> %s): %s by operator, weight %u -> %u permille", s->route,
               (unsigned)s->tier, s->backend, s->canary, sl_rollout_event_name(ev->kind), (unsigned)ev->from_weight,
               (unsigned)ev->to_weight);
    if (s->r.dirty && rs->state_dir != NULL) {
        char err[SL_ROLLOUT_STORE_WHY];
        if (sl_rollout_store_write(rs->state_dir, s->route, s->backend, &s->r, sl_clock_wall_ms(), NULL, err) != SL_OK) {
            ++s->write_failures;
            SL_LOG(SL_LOG_ERROR, "rollout", "%s", err);
        }
    }
    if (rs->state_dir == NULL)
        s->r.dirty = 0;
    atomic_store_explicit(&s->weight_permille, sl_rollout_weight(&s->r), memory_order_relaxed);
    *why = NULL;
    return SL_OK;
}

int sl_gw_rollout_render_state(sl_gw_t *gw, sl_buf_t *out)
{
    const sl_gw_rollouts_t *rs = gw->rollouts;
    size_t mark = out->len;
    int first = 1;
    if (sl_buf_append(out, ",\"rollouts\":[", 13) != SL_OK)
        return SL_ENOMEM;
    for (size_t i = 0; rs != NULL && i != rs->num_slots; ++i) {
        const sl_gw_ro_slot_t *s = rs->slots[i];
        if (!s->configured)
            continue;
        if ((!first && sl_buf_append(out, ",", 1) != SL_OK) ||
            sl_rollout_render_json(&s->r, s->route, s->backend, out) != SL_OK)
            goto NoMem;
        first = 0;
    }
    if (sl_buf_append(out, "]", 1) != SL_OK)
        goto NoMem;
    return SL_OK;
NoMem:
    out->len = mark;
    return SL_ENOMEM;
}

int sl_gw_rollout_render_metrics(sl_gw_t *gw, sl_buf_t *out)
{
    const sl_gw_rollouts_t *rs = gw->rollouts;
    int any = 0;
    for (size_t i = 0; rs != NULL && i != rs->num_slots; ++i)
        any |= rs->slots[i]->configured;
    if (!any)
        return SL_OK;
    sl_rollout_render_metrics_header(out);
    for (size_t i = 0; i != rs->num_slots; ++i)
        if (rs->slots[i]->configured &&
            sl_rollout_render_metrics(&rs->slots[i]->r, rs->slots[i]->route, rs->slots[i]->backend, out) != SL_OK)
            return SL_ENOMEM;
    if (sl_buf_appendf(out, "# HELP sluice_rollout_outcomes_dropped_total Request outcomes a worker could not hand over to "
                            "the rollout's analysis (its ring was full).\n"
                            "# TYPE sluice_rollout_outcomes_dropped_total counter\n"
                            "# HELP sluice_rollout_state_write_failures_total Writes of the rollout's state file that "
                            "failed.\n"
                            "# TYPE sluice_rollout_state_write_failures_total counter\n") != SL_OK)
        return SL_ENOMEM;
    for (size_t i = 0; i != rs->num_slots; ++i) {
        const sl_gw_ro_slot_t *s = rs->slots[i];
        if (!s->configured)
            continue;
        uint64_t dropped = 0;
        for (size_t w = 0; w != rs->num_workers; ++w)
            dropped += __atomic_load_n(&s->rings[w]->dropped, __ATOMIC_RELAXED);
        if (sl_buf_appendf(out,
                           "sluice_rollout_outcomes_dropped_total{route=\"%s\",backend=\"%s\",canary=\"%s\"} %" PRIu64 "\n",
                           s->route, s->backend, s->canary, dropped) != SL_OK)
            return SL_ENOMEM;
    }
    for (size_t i = 0; i != rs->num_slots; ++i) {
        const sl_gw_ro_slot_t *s = rs->slots[i];
        if (s->configured &&
            sl_buf_appendf(out,
                           "sluice_rollout_state_write_failures_total{route=\"%s\",backend=\"%s\",canary=\"%s\"} %" PRIu64 "\n",
                           s->route, s->backend, s->canary, s->write_failures) != SL_OK)
            return SL_ENOMEM;
    }
    return SL_OK;
}
