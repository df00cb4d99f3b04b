/*
 * monitor_adopt.c - config reload: what the monitors of the running config learned is carried into the monitors of
 * the new one, route by route (matched by name), as far as it still means the same thing.
 *
 * A baseline is the expensive part - an hour of traffic after a deploy - and must survive a reload, or a reload
 * after drift has set in would make the drifted traffic the new normal. So, when a route's monitored values are
 * unchanged (names, sources, types, bins, category caps):
 *  - a captured baseline is carried into a route whose reference is still a baseline (a new file wins);
 *  - the drift window and the states are carried when both sides compare with the same reference (the carried
 *    baseline, or a file with the same edges and categories) and the window and slots are the same; the new
 *    monitor's category tables are seeded with the old one's categories, in the same order, so every count keeps
 *    its meaning;
 * and, when a route's feedback has the same task and labels, its waiting predictions move to the new table and its
 * quality groups (with their detectors) to the new route, following each backend by name (predictions of a
 * backend the new config no longer has are dropped). A capture in progress starts over. Counters continue.
 */
#include "common/alloc.h"
#include "common/log.h"
#include "common/status.h"
#include "conf/conf.h"
#include "policies/feedback.h"
#include "policies/monitor.h"
#include "policies/quality.h"

#include <string.h>

static int same_text(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static int same_values(const sl_monitor_plan_t *a, const sl_monitor_plan_t *b)
{
    if (a->num_values != b->num_values)
        return 0;
    for (size_t i = 0; i != a->num_values; ++i) {
        const sl_conf_monitor_value_t *x = a->specs[i].conf, *y = b->specs[i].conf;
        if (!same_text(x->name, y->name) || x->source != y->source || x->type != y->type ||
            !same_text(x->pointer, y->pointer) || a->specs[i].bins != b->specs[i].bins || x->signal.kind != y->signal.kind ||
            !same_text(x->signal.arg, y->signal.arg))
            return 0;
    }
    return 1;
}

/* Whether dst's reference (loaded from a file) is src's: same edges, categories and counts. */
static int same_reference(const sl_monitor_route_t *dst, const sl_monitor_route_t *src)
{
    const sl_monitor_plan_t *p = &dst->plan;
    if (memcmp(dst->model_storage.edges, src->model_storage.edges, p->num_edges * sizeof(double)) != 0 ||
        memcmp(dst->ref_counts, src->ref_counts, p->num_cells * sizeof(uint64_t)) != 0)
        return 0;
    for (size_t i = 0; i != p->num_values; ++i) {
        const sl_monitor_spec_t *s = &p->specs[i];
        if (s->type != SL_MONITOR_CATEGORICAL)
            continue;
        if (dst->ref_categories[i] != src->ref_categories[i])
            return 0;
        const sl_monitor_cattab_t *a = &dst->global_tabs[s->categorical_index], *b = &src->global_tabs[s->categorical_index];
        for (uint32_t j = 0; j != dst->ref_categories[i]; ++j)
            if (a->entries[j].len != b->entries[j].len ||
                memcmp(a->entries[j].text, b->entries[j].text, a->entries[j].len) != 0)
                return 0;
    }
    return 1;
}

/* Seeds dst's category tables (control and workers) with src's categories beyond those dst already has, in src's
 * order, so that category j means the same in both. Returns 0 when dst's existing categories are not a prefix of
 * src's (nothing seeded then). dst must not be observed yet. */
static int seed_categories(sl_monitor_route_t *dst, const sl_monitor_route_t *src)
{
    const sl_monitor_plan_t *p = &dst->plan;
    for (size_t c = 0; c != p->num_categorical; ++c) {
        const sl_monitor_cattab_t *a = &dst->global_tabs[c], *b = &src->global_tabs[c];
        if (a->count > b->count)
            return 0;
        for (uint32_t j = 0; j != a->count; ++j)
            if (a->entries[j].len != b->entries[j].len ||
                memcmp(a->entries[j].text, b->entries[j].text, a->entries[j].len) != 0)
                return 0;
    }
    for (size_t c = 0; c != p->num_categorical; ++c) {
        const sl_monitor_cattab_t *b = &src->global_tabs[c];
        for (uint32_t j = dst->global_tabs[c].count; j != b->count; ++j) {
            const sl_monitor_category_t *e = &b->entries[j];
            uint32_t g = sl_monitor_cattab_add(&dst->global_tabs[c], e->hash, e->text, e->len);
            for (uint32_t w = 0; w != dst->num_workers; ++w) {
                sl_monitor_cattab_add(&dst->shards[w].tabs[c], e->hash, e->text, e->len);
                dst->maps[c * dst->num_workers + w][g] = g;
                dst->mapped[c * dst->num_workers + w] = g + 1;
            }
        }
    }
    return 1;
}

static void carry_reference(sl_monitor_route_t *dst, const sl_monitor_route_t *src)
{
    const sl_monitor_plan_t *p = &dst->plan;
    memcpy(dst->model_storage.edges, src->model_storage.edges, p->num_edges * sizeof(double));
    memcpy(dst->ref_counts, src->ref_counts, p->num_cells * sizeof(uint64_t));
    memcpy(dst->ref_categories, src->ref_categories, sizeof(dst->ref_categories));
    dst->ref_samples = src->ref_samples;
    memcpy(dst->ref_created, src->ref_created, sizeof(dst->ref_created));
    for (size_t i = 0; i != p->num_numeric; ++i) {
        sl_free(dst->capture_values[i]);
        dst->capture_values[i] = NULL;
    }
    dst->capture_count = dst->capture_cap = 0;
    dst->ref_state = SL_MONITOR_REF_READY;
    __atomic_store_n(&dst->model, &dst->model_storage, __ATOMIC_RELEASE);
}

/* The index in dst's config of src's backend b (by name), or UINT32_MAX. */
static uint32_t backend_in(const sl_conf_t *dst, const sl_conf_t *src, uint32_t b)
{
    if (b >= src->num_backends)
        return UINT32_MAX;
    const sl_conf_backend_t *x = sl_conf_find_backend(dst, src->backends[b].name);
    return x != NULL ? (uint32_t)x->index : UINT32_MAX;
}

static int same_feedback(const sl_conf_feedback_t *a, const sl_conf_feedback_t *b)
{
    if (!a->enabled || !b->enabled || a->task != b->task || a->num_labels != b->num_labels)
        return 0;
    for (size_t i = 0; i != a->num_labels; ++i)
        if (strcmp(a->labels[i], b->labels[i]) != 0)
            return 0;
    return 1;
}

static void carry_feedback(sl_monitor_t *dm, sl_monitor_route_t *dst, const sl_monitor_t *sm, sl_monitor_route_t *src,
                           size_t route, uint64_t now_ms)
{
    const sl_feedback_table_t *st = &src->feedback;
    sl_feedback_table_t *dt = &dst->feedback;
    for (uint64_t seq = st->first; seq != st->first + st->count; ++seq) {
        const sl_feedback_entry_t *e = &st->entries[seq % st->capacity];
        uint32_t b = backend_in(dm->conf, sm->conf, e->rec.backend);
        if (e->dead || b == UINT32_MAX)
            continue;
        sl_feedback_record_t rec = e->rec;
        rec.route = (uint32_t)route;
        rec.backend = b;
        sl_feedback_table_insert(dt, &rec);
        if (e->joined) {
            sl_feedback_table_find(dt, rec.id, rec.id_len)->joined = 1;
            --dt->live;
        }
    }
    sl_feedback_table_expire(dt, now_ms);
    dt->recorded = st->recorded;
    dt->evicted = st->evicted;
    dt->expired = st->expired;
    dt->replaced = st->replaced;
    if (dst->quality.slot_ms != src->quality.slot_ms || dst->quality.slots != src->quality.slots)
        return; /* another window: the quality measures start over */
    for (uint32_t b = 0; b != src->quality.num_backends; ++b) {
        uint32_t nb = backend_in(dm->conf, sm->conf, b);
        for (int v = 0; nb != UINT32_MAX && v != SL_FEEDBACK_NUM_VERSIONS; ++v) {
            sl_quality_group_t **from = &src->quality.groups_private[(size_t)b * SL_FEEDBACK_NUM_VERSIONS + v];
            sl_quality_group_t **to = &dst->quality.groups_private[(size_t)nb * SL_FEEDBACK_NUM_VERSIONS + v];
            if (*from != NULL && *to == NULL) {
                *to = *from;
                *from = NULL;
            }
        }
    }
}

int sl_monitor_adopt(sl_monitor_t *dst, sl_monitor_t *src, uint64_t now_ms)
{
    sl_monitor_tick(src, now_ms); /* src's last counts and predictions */
    for (size_t i = 0; i != dst->conf->num_routes; ++i) {
        sl_monitor_route_t *d = dst->routes[i];
        const sl_conf_route_t *cr = sl_conf_find_route(src->conf, dst->conf->routes[i].name);
        sl_monitor_route_t *s = cr != NULL ? src->routes[cr->index] : NULL;
        if (d == NULL || s == NULL)
            continue;
        s->evaluated = 0;
        memcpy(d->carried, s->carried, sizeof(d->carried));
        d->carried[SL_MONITOR_CELL_REQUESTS] += s->requests;
        d->carried[SL_MONITOR_CELL_MALFORMED] += s->malformed;
        d->carried[SL_MONITOR_CELL_NOT_KEPT] += s->not_kept;
        if (d->conf->feedback.enabled && s->conf->feedback.enabled && same_feedback(&d->conf->feedback, &s->conf->feedback))
            carry_feedback(dst, d, src, s, i, now_ms);
        if (!same_values(&d->plan, &s->plan) || s->ref_state != SL_MONITOR_REF_READY)
            continue;
        int same_ref = 0;
        if (d->ref_state == SL_MONITOR_REF_CAPTURING && s->conf->reference.kind == SL_MONITOR_REFERENCE_BASELINE) {
            if (!seed_categories(d, s))
                continue;
            carry_reference(d, s);
            same_ref = 1;
        } else if (d->ref_state == SL_MONITOR_REF_READY) {
            same_ref = same_reference(d, s) && seed_categories(d, s);
        }
        if (same_ref && d->conf->window_ms == s->conf->window_ms && d->conf->slots == s->conf->slots) {
            memcpy(d->window.counts_private, s->window.counts_private,
                   (size_t)s->window.slots * s->window.width * sizeof(uint64_t));
            d->window.head = s->window.head;
            memcpy(d->measures, s->measures, sizeof(d->measures));
        }
        SL_LOG(SL_LOG_INFO, "monitor", "route %s: reload keeps the reference%s", d->route->name,
               same_ref ? " and the window" : "");
    }
    for (int r = 0; r != SL_FEEDBACK_NUM_RESULTS; ++r)
        dst->feedback_results[r] += src->feedback_results[r];
    dst->feedback_items += src->feedback_items;
    dst->feedback_rejected += src->feedback_rejected;
    return SL_OK;
}
