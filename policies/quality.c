/*
 * quality.c - windowed quality measures and concept-drift detectors per (backend, version) of a route.
 *
 * Each group keeps a ring of per-slot sums, like the drift window (monitor_window.c) but in doubles, because a
 * regression window sums absolute and squared errors; counts in doubles stay exact up to 2^53. A read sums the
 * slots that lie within the window ending at the reading time, so an idle group's old joins age out without a
 * write. Macro averages follow scikit-learn's definitions (average='macro', zero_division=0) over the labels that
 * occur in the window as a truth or as a prediction. The detectors see every join in arrival order; their signal
 * holds the state at "drift" for hold_ms. Control thread only; a group allocates at its first join.
 */
#include "policies/quality.h"
#include "common/alloc.h"
#include "common/status.h"
#include "stats/adwin.h"
#include "stats/ddm.h"

#include <math.h>
#include <string.h>

int sl_quality_init(sl_quality_t *q, const sl_conf_feedback_t *fb, uint32_t num_backends, uint32_t slots, uint64_t hold_ms)
{
    if (num_backends == 0 || slots < 2 || fb->window_ms % slots != 0 || fb->window_ms / slots == 0 ||
        (fb->task == SL_FEEDBACK_CLASSIFICATION && (fb->num_labels < 2 || fb->num_labels > SL_CONF_MAX_LABELS)))
        return SL_EINVAL;
    memset(q, 0, sizeof(*q));
    q->task = fb->task;
    q->num_labels = fb->task == SL_FEEDBACK_CLASSIFICATION ? (uint32_t)fb->num_labels : 0;
    q->num_backends = num_backends;
    q->width = fb->task == SL_FEEDBACK_CLASSIFICATION ? 2 + 3 * (size_t)q->num_labels : 3;
    q->slots = slots;
    q->slot_ms = fb->window_ms / slots;
    q->hold_ms = hold_ms;
    q->has_tolerance = fb->has_tolerance;
    q->tolerance = fb->tolerance;
    q->groups_private = sl_calloc((size_t)num_backends * SL_FEEDBACK_NUM_VERSIONS, sizeof(*q->groups_private));
    return SL_OK;
}

void sl_quality_dispose(sl_quality_t *q)
{
    for (size_t i = 0; q->groups_private != NULL && i != (size_t)q->num_backends * SL_FEEDBACK_NUM_VERSIONS; ++i) {
        sl_quality_group_t *g = q->groups_private[i];
        if (g == NULL)
            continue;
        sl_adwin_dispose(&g->adwin);
        sl_free(g->slots_private);
        sl_free(g);
    }
    sl_free(q->groups_private);
    q->groups_private = NULL;
}

static sl_quality_group_t *group(const sl_quality_t *q, uint32_t backend, enum en_sl_feedback_version_t version)
{
    return q->groups_private[(size_t)backend * SL_FEEDBACK_NUM_VERSIONS + version];
}

int sl_quality_has_group(const sl_quality_t *q, uint32_t backend, enum en_sl_feedback_version_t version)
{
    return backend < q->num_backends && (unsigned)version < SL_FEEDBACK_NUM_VERSIONS && group(q, backend, version) != NULL;
}

static sl_quality_group_t *group_get(sl_quality_t *q, uint32_t backend, enum en_sl_feedback_version_t version)
{
    sl_quality_group_t **slot = &q->groups_private[(size_t)backend * SL_FEEDBACK_NUM_VERSIONS + version];
    if (*slot == NULL) {
        sl_quality_group_t *g = sl_calloc(1, sizeof(*g));
        sl_ddm_params_t dp;
        sl_adwin_params_t ap;
        g->slots_private = sl_calloc((size_t)q->slots * q->width, sizeof(double));
        g->head = -1;
        sl_ddm_params_default(&dp);
        sl_ddm_init(&g->ddm, &dp);
        sl_adwin_params_default(&ap);
        sl_adwin_init(&g->adwin, &ap);
        *slot = g;
    }
    return *slot;
}

/* The head slot of g at now_ms, after emptying the slots that fell out of the window. */
static double *advance(const sl_quality_t *q, sl_quality_group_t *g, uint64_t now_ms)
{
    int64_t slot = (int64_t)(now_ms / q->slot_ms);
    if (g->head < 0 || slot - g->head >= (int64_t)q->slots) {
        memset(g->slots_private, 0, (size_t)q->slots * q->width * sizeof(double));
        g->head = slot;
    } else {
        for (int64_t s = g->head + 1; s <= slot; ++s)
            memset(g->slots_private + (size_t)(s % q->slots) * q->width, 0, q->width * sizeof(double));
        if (slot > g->head)
            g->head = slot;
    }
    return g->slots_private + (size_t)(g->head % q->slots) * q->width;
}

int sl_quality_add(sl_quality_t *q, uint32_t backend, enum en_sl_feedback_version_t version, double predicted, double truth,
                   uint64_t now_ms)
{
    int error = -1;
    if (backend >= q->num_backends || (unsigned)version >= SL_FEEDBACK_NUM_VERSIONS || !isfinite(predicted) || !isfinite(truth))
        return SL_EINVAL;
    if (q->task == SL_FEEDBACK_CLASSIFICATION &&
        (predicted < 0 || predicted > q->num_labels || truth < 0 || truth >= q->num_labels || predicted != floor(predicted) ||
         truth != floor(truth)))
        return SL_EINVAL;
    sl_quality_group_t *g = group_get(q, backend, version);
    double *row = advance(q, g, now_ms);
    row[0] += 1;
    if (q->task == SL_FEEDBACK_CLASSIFICATION) {
        size_t p = (size_t)predicted, t = (size_t)truth;
        if (p == t) {
            row[1] += 1;
            row[2 + 3 * t] += 1; /* tp */
        } else {
            row[2 + 3 * t + 2] += 1; /* fn of the truth */
            if (p < q->num_labels)
                row[2 + 3 * p + 1] += 1; /* fp of the prediction */
        }
        error = p != t;
    } else {
        double e = predicted - truth;
        row[1] += fabs(e);
        row[2] += e * e;
        if (q->has_tolerance)
            error = fabs(e) > q->tolerance;
    }
    ++g->joins;
    if (error >= 0) {
        enum en_sl_ddm_state_t st;
        int changed = 0;
        sl_ddm_observe(&g->ddm, error, &st);
        sl_adwin_observe(&g->adwin, (double)error, &changed);
        if (st == SL_DDM_DRIFT)
            ++g->ddm_drifts;
        if (changed)
            ++g->adwin_drifts;
        if (st == SL_DDM_DRIFT || changed) {
            g->signalled = 1;
            g->signal_ms = now_ms;
        }
    }
    return SL_OK;
}

int sl_quality_read(const sl_quality_t *q, uint32_t backend, enum en_sl_feedback_version_t version, uint64_t now_ms,
                    sl_quality_report_t *out)
{
    if (backend >= q->num_backends || (unsigned)version >= SL_FEEDBACK_NUM_VERSIONS)
        return SL_EINVAL;
    memset(out, 0, sizeof(*out));
    const sl_quality_group_t *g = group(q, backend, version);
    if (g == NULL)
        return SL_OK;
    double sum[2 + 3 * SL_CONF_MAX_LABELS];
    memset(sum, 0, q->width * sizeof(double));
    int64_t now_slot = (int64_t)(now_ms / q->slot_ms);
    for (int64_t s = g->head; s > g->head - (int64_t)q->slots && s >= 0; --s) {
        if (s > now_slot || s <= now_slot - (int64_t)q->slots)
            continue;
        const double *row = g->slots_private + (size_t)(s % q->slots) * q->width;
        for (size_t i = 0; i != q->width; ++i)
            sum[i] += row[i];
    }
    out->n = (uint64_t)sum[0];
    out->joins_total = g->joins;
    out->has_data = out->n != 0;
    if (out->has_data && q->task == SL_FEEDBACK_CLASSIFICATION) {
        out->accuracy = sum[1] / sum[0];
        double ps = 0, rs = 0, fs = 0;
        for (uint32_t c = 0; c != q->num_labels; ++c) {
            double tp = sum[2 + 3 * c], fp = sum[2 + 3 * c + 1], fn = sum[2 + 3 * c + 2];
            if (tp + fp + fn == 0)
                continue;
            ++out->labels_present;
            ps += tp + fp > 0 ? tp / (tp + fp) : 0;
            rs += tp + fn > 0 ? tp / (tp + fn) : 0;
            fs += 2 * tp / (2 * tp + fp + fn);
        }
        if (out->labels_present != 0) {
            out->precision = ps / out->labels_present;
            out->recall = rs / out->labels_present;
            out->f1 = fs / out->labels_present;
        }
    } else if (out->has_data) {
        out->mae = sum[1] / sum[0];
        out->rmse = sqrt(sum[2] / sum[0]);
    }
    out->ddm_drifts = g->ddm_drifts;
    out->adwin_drifts = g->adwin_drifts;
    out->error_rate = sl_adwin_mean(&g->adwin);
    out->adwin_width = sl_adwin_width(&g->adwin);
    if (q->task == SL_FEEDBACK_REGRESSION && !q->has_tolerance)
    out->concept = SL_CONCEPT_NO_DATA;
    else if (g->signalled && now_ms < g->signal_ms + q->hold_ms) out->concept = SL_CONCEPT_DRIFT;
    else if (g->ddm.seen < g->ddm.params.min_samples) out->concept = SL_CONCEPT_NO_DATA;
    else if (g->ddm.state == SL_DDM_WARNING) out->concept = SL_CONCEPT_WARNING;
    else out->concept = SL_CONCEPT_OK;
    return SL_OK;
}

const char *sl_quality_concept_name(enum en_sl_concept_state_t state)
{
    static const char *const names[] = {"no_data", "ok", "warning", "drift"};
    return (unsigned)state < 4 ? names[state] : "no_data";
}
