/*
 * monitor.c - the monitoring policy's life cycle: creating the monitors of a config, the workers' observe, and the
 * control thread's tick (summing shards into windows, draining the feedback rings, closing a baseline capture,
 * recomputing the measures).
 *
 * Cell layout. Every monitored value owns a run of cells in each shard and in every control-side vector: its bins
 * (numeric) or its categories then __other__ (categorical), then its nulls, then its type errors. After the values
 * come the route's own cells (requests, malformed bodies, predictions not kept). Shard cells are cumulative and have
 * one writer; the tick sums them over the workers (a worker's categories are translated to the control thread's
 * numbering on the way), subtracts the previous sum, and adds the difference to the window's newest slot. Nothing a
 * worker writes is ever reset, so a tick that races with a worker at most sees a count one tick late.
 *
 * Per backend. The answer values (the prediction, output_tokens) are counted a second time in the worker's cells of
 * the backend that answered, bwidth cells per backend that can answer the route, laid out like the route's (a
 * categorical value by the worker's own category numbers). The tick sums them the same way into a second window
 * and measures each backend against the route's reference. A reload starts these windows empty.
 *
 * Bin edges. Workers bin numeric values with edges read through one atomic pointer: set before any worker runs when
 * the reference is a file, published once (release) when a baseline capture closes. Until then the values travel on
 * the capture rings to the control thread, which bins the captured sample at its own quantiles - the same code as
 * `sluice reference` (sl_reference_numeric).
 */
#include "policies/monitor.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/status.h"
#include "policies/feedback.h"
#include "policies/quality.h"
#include "policies/reference.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static size_t route_cells(const sl_monitor_route_t *r)
{
    return r->plan.num_cells + SL_MONITOR_NUM_ROUTE_CELLS;
}

static void route_destroy(sl_monitor_route_t *r)
{
    if (r == NULL)
        return;
    const sl_monitor_plan_t *plan = &r->plan;
    for (uint32_t w = 0; r->shards != NULL && w != r->num_workers; ++w) {
        sl_monitor_shard_t *sh = &r->shards[w];
        for (size_t c = 0; sh->tabs != NULL && c != plan->num_categorical; ++c)
            sl_monitor_cattab_dispose(&sh->tabs[c]);
        sl_free(sh->tabs);
        sl_free(sh->cells_alloc_private);
        sl_free(sh->bcells_alloc_private);
        sl_monitor_ring_dispose(&sh->capture);
    }
    sl_free(r->shards);
    for (size_t c = 0; r->global_tabs != NULL && c != plan->num_categorical; ++c)
        sl_monitor_cattab_dispose(&r->global_tabs[c]);
    sl_free(r->global_tabs);
    for (size_t i = 0; r->maps != NULL && i != plan->num_categorical * r->num_workers; ++i)
        sl_free(r->maps[i]);
    sl_free(r->maps);
    sl_free(r->mapped);
    sl_free(r->totals);
    sl_free(r->scratch);
    sl_free(r->ref_counts);
    sl_free(r->model_storage.edges);
    for (size_t i = 0; r->capture_values != NULL && i != plan->num_numeric; ++i)
        sl_free(r->capture_values[i]);
    sl_free(r->capture_values);
    sl_monitor_window_dispose(&r->window);
    sl_free(r->bbackends);
    sl_free(r->bslot);
    sl_free(r->btotals);
    sl_free(r->bscratch);
    sl_free(r->bmeasures);
    if (r->bwindow.counts_private != NULL)
        sl_monitor_window_dispose(&r->bwindow);
    if (r->conf != NULL && r->conf->feedback.enabled) {
        sl_feedback_table_dispose(&r->feedback);
        sl_quality_dispose(&r->quality);
    }
    sl_monitor_plan_dispose(&r->plan);
    sl_free(r);
}

/* Adds category text to the control thread's table of categorical value c and to every worker's (same index). */
static void preseed(sl_monitor_route_t *r, size_t c, const char *text)
{
    size_t len = strlen(text);
    uint64_t h = sl_monitor_hash(text, len);
    uint32_t g = sl_monitor_cattab_add(&r->global_tabs[c], h, text, len);
    for (uint32_t w = 0; w != r->num_workers; ++w) {
        sl_monitor_cattab_add(&r->shards[w].tabs[c], h, text, len);
        r->maps[c * r->num_workers + w][g] = g;
        r->mapped[c * r->num_workers + w] = g + 1;
    }
}

/* Copies a checked reference into the route's vectors and bin edges. */
static void apply_reference(sl_monitor_route_t *r, const sl_reference_t *ref)
{
    for (size_t i = 0; i != r->plan.num_values; ++i) {
        const sl_monitor_spec_t *s = &r->plan.specs[i];
        const sl_reference_value_t *v = sl_reference_find(ref, s->conf->name);
        uint64_t *cells = r->ref_counts + s->cell;
        if (s->type == SL_MONITOR_NUMERIC) {
            memcpy(r->model_storage.edges + s->edge, v->edges, (s->bins - 1) * sizeof(double));
            memcpy(cells, v->counts, s->bins * sizeof(uint64_t));
        } else {
            for (size_t j = 0; j != v->num_bins; ++j) {
                preseed(r, s->categorical_index, v->categories[j]);
                cells[j] = v->counts[j];
            }
            cells[s->bins - 1] = v->other;
            r->ref_categories[i] = (uint32_t)v->num_bins;
        }
        cells[s->bins] = v->nulls;
        cells[s->bins + 1] = v->type_errors;
    }
    r->ref_samples = ref->samples;
    snprintf(r->ref_created, sizeof(r->ref_created), "%s", ref->created);
}

/* 64-byte aligned zeroed cells; *alloc is what to free. */
static uint64_t *cells_alloc(size_t n, void **alloc)
{
    size_t bytes = (n * sizeof(uint64_t) + 63) & ~(size_t)63;
    *alloc = sl_calloc(1, bytes + 63);
    return (uint64_t *)(((uintptr_t)*alloc + 63) & ~(uintptr_t)63);
}

static int answer_derived(enum en_sl_monitor_source_t source)
{
    return source == SL_MONITOR_SOURCE_SIGNAL || source == SL_MONITOR_SOURCE_LABEL || source == SL_MONITOR_SOURCE_VALUE ||
           source == SL_MONITOR_SOURCE_OUTPUT_TOKENS;
}

/* Adds b to the backends that can answer the route, once. */
static void add_backend(sl_monitor_route_t *r, const sl_conf_backend_t *b)
{
    if (b == NULL || r->bslot[b->index] != UINT32_MAX)
        return;
    r->bslot[b->index] = r->num_bbackends;
    r->bbackends[r->num_bbackends++] = b;
}

/* Per-backend drift: the answer values, and the backends that can answer (every tier's own, its degrade variants and
 * its rollout canary), each with bwidth cells per worker and in the window. Nothing when the route monitors no
 * answer value. */
static void plan_backends(sl_monitor_route_t *r, size_t num_backends)
{
    const sl_conf_route_t *route = r->route;
    for (size_t i = 0; i != r->plan.num_values; ++i) {
        const sl_monitor_spec_t *s = &r->plan.specs[i];
        if (!answer_derived(s->source))
            continue;
        r->bcell[r->num_bvalues] = r->bwidth;
        r->bvalues[r->num_bvalues++] = (uint32_t)i;
        r->bwidth += s->bins + 2;
    }
    if (r->num_bvalues == 0 || num_backends == 0)
        return;
    r->num_bslots = num_backends;
    r->bslot = sl_malloc(num_backends * sizeof(uint32_t));
    memset(r->bslot, 0xff, num_backends * sizeof(uint32_t));
    r->bbackends = sl_calloc(route->num_tiers * (2 + SL_CONF_MAX_DEGRADE_TO) + 1, sizeof(*r->bbackends));
    for (size_t t = 0; t != route->num_tiers; ++t) {
        const sl_conf_tier_t *tier = &route->tiers[t];
        add_backend(r, tier->backend);
        for (size_t d = 0; tier->degrade.enabled && d != tier->degrade.num_to; ++d)
            add_backend(r, tier->degrade.to[d]);
        if (tier->rollout.enabled)
            add_backend(r, tier->rollout.canary);
    }
    size_t width = r->num_bbackends * r->bwidth;
    for (uint32_t w = 0; w != r->num_workers; ++w)
        r->shards[w].bcells = cells_alloc(width, &r->shards[w].bcells_alloc_private);
    r->btotals = sl_calloc(width, sizeof(uint64_t));
    r->bscratch = sl_calloc(width, sizeof(uint64_t));
    r->bmeasures = sl_calloc((size_t)r->num_bbackends * r->num_bvalues, sizeof(*r->bmeasures));
    sl_monitor_window_init(&r->bwindow, width, r->conf->slots, r->conf->window_ms / r->conf->slots);
}

static int route_create(const sl_conf_route_t *route, uint32_t num_workers, uint32_t num_backends, uint64_t now_ms,
                        sl_monitor_route_t **out, char *err, size_t errsz)
{
    const sl_conf_monitor_t *conf = &route->monitor;
    sl_monitor_route_t *r = sl_calloc(1, sizeof(*r));
    r->route = route;
    r->conf = conf;
    r->num_workers = num_workers;
    if (sl_monitor_plan_init(&r->plan, conf) != SL_OK) {
        snprintf(err, errsz, "too many monitored values");
        sl_free(r);
        return SL_ECONFIG;
    }
    const sl_monitor_plan_t *plan = &r->plan;
    size_t ncells = route_cells(r);
    r->shards = sl_calloc(num_workers, sizeof(*r->shards));
    for (uint32_t w = 0; w != num_workers; ++w) {
        sl_monitor_shard_t *sh = &r->shards[w];
        sh->cells = cells_alloc(ncells, &sh->cells_alloc_private);
        sh->tabs = sl_calloc(plan->num_categorical + 1, sizeof(*sh->tabs));
    }
    r->global_tabs = sl_calloc(plan->num_categorical + 1, sizeof(*r->global_tabs));
    r->maps = sl_calloc(plan->num_categorical * num_workers + 1, sizeof(*r->maps));
    r->mapped = sl_calloc(plan->num_categorical * num_workers + 1, sizeof(*r->mapped));
    for (size_t i = 0; i != plan->num_values; ++i) {
        const sl_monitor_spec_t *s = &plan->specs[i];
        if (s->type != SL_MONITOR_CATEGORICAL)
            continue;
        size_t c = s->categorical_index;
        sl_monitor_cattab_init(&r->global_tabs[c], s->bins - 1);
        for (uint32_t w = 0; w != num_workers; ++w) {
            sl_monitor_cattab_init(&r->shards[w].tabs[c], s->bins - 1);
            r->maps[c * num_workers + w] = sl_calloc(s->bins, sizeof(uint32_t));
        }
    }
    r->totals = sl_calloc(ncells, sizeof(uint64_t));
    r->scratch = sl_calloc(ncells, sizeof(uint64_t));
    r->ref_counts = sl_calloc(plan->num_cells + 1, sizeof(uint64_t));
    r->model_storage.edges = sl_calloc(plan->num_edges + 1, sizeof(double));
    sl_monitor_window_init(&r->window, plan->num_cells, conf->slots, conf->window_ms / conf->slots);
    plan_backends(r, num_backends);
    if (conf->feedback.enabled) {
        sl_feedback_table_init(&r->feedback, conf->feedback.max_pending, conf->feedback.horizon_ms);
        sl_quality_init(&r->quality, &conf->feedback, num_backends, conf->slots, conf->window_ms);
    }

    if (conf->reference.kind == SL_MONITOR_REFERENCE_FILE) {
        sl_reference_t ref;
        char why[1024];
        if (sl_reference_load(conf->reference.file, &ref, err, errsz) != SL_OK) {
            route_destroy(r);
            return SL_ECONFIG;
        }
        if (sl_reference_check(&ref, conf, why, sizeof(why)) != SL_OK) {
            snprintf(err, errsz, "%.400s: %.500s", conf->reference.file, why);
            sl_reference_dispose(&ref);
            route_destroy(r);
            return SL_ECONFIG;
        }
        apply_reference(r, &ref);
        sl_reference_dispose(&ref);
        r->ref_state = SL_MONITOR_REF_READY;
        __atomic_store_n(&r->model, &r->model_storage, __ATOMIC_RELEASE);
    } else {
        r->ref_state = SL_MONITOR_REF_CAPTURING;
        r->capture_start_ms = now_ms;
        r->capturing = 1;
        for (uint32_t w = 0; plan->num_numeric != 0 && w != num_workers; ++w)
            sl_monitor_ring_init(&r->shards[w].capture, SL_MONITOR_CAPTURE_RING,
                                 (uint32_t)(plan->num_numeric * sizeof(double)));
        r->capture_values = sl_calloc(plan->num_numeric + 1, sizeof(double *));
    }
    *out = r;
    return SL_OK;
}

int sl_monitor_create(const sl_conf_t *conf, uint32_t num_workers, uint64_t now_ms, sl_monitor_t **out, char *err, size_t errsz)
{
    char why[1024];
    if (num_workers == 0 || num_workers > 1024) {
        snprintf(err, errsz, "bad worker count %u", (unsigned)num_workers);
        return SL_EINVAL;
    }
    sl_monitor_t *m = sl_calloc(1, sizeof(*m));
    m->conf = conf;
    m->num_workers = num_workers;
    m->routes = sl_calloc(conf->num_routes + 1, sizeof(*m->routes));
    int any_feedback = 0;
    for (size_t i = 0; i != conf->num_routes; ++i) {
        if (!conf->routes[i].monitor.enabled)
            continue;
        if (route_create(&conf->routes[i], num_workers, (uint32_t)conf->num_backends, now_ms, &m->routes[i], why,
                         sizeof(why)) != SL_OK) {
            snprintf(err, errsz, "routes[%zu].monitor.reference: %.900s", i, why);
            sl_monitor_destroy(m);
            return SL_ECONFIG;
        }
        any_feedback |= conf->routes[i].monitor.feedback.enabled;
    }
    if (any_feedback) {
        m->feedback_rings = sl_calloc(num_workers, sizeof(*m->feedback_rings));
        for (uint32_t w = 0; w != num_workers; ++w)
            sl_monitor_ring_init(&m->feedback_rings[w], SL_MONITOR_FEEDBACK_RING, sizeof(sl_feedback_record_t));
    }
    *out = m;
    return SL_OK;
}

void sl_monitor_destroy(sl_monitor_t *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i != m->conf->num_routes; ++i)
        route_destroy(m->routes[i]);
    sl_free(m->routes);
    for (uint32_t w = 0; m->feedback_rings != NULL && w != m->num_workers; ++w)
        sl_monitor_ring_dispose(&m->feedback_rings[w]);
    sl_free(m->feedback_rings);
    sl_free(m);
}

/* Workers ---------------------------------------------------------------------------------------------------------- */

void sl_monitor_observe(sl_monitor_t *m, uint32_t w, size_t route, const sl_monitor_input_t *in)
{
    sl_monitor_route_t *r = route < m->conf->num_routes ? m->routes[route] : NULL;
    sl_monitor_obs_t obs;
    if (r == NULL)
        return;
    assert(w < m->num_workers);
    sl_monitor_extract(&r->plan, in, &obs);
    sl_monitor_record(r, w, in->backend, &obs);
    const sl_conf_feedback_t *fb = &r->conf->feedback;
    if (!fb->enabled)
        return;
    if (in->request_id == NULL || in->request_id_len == 0 || in->request_id_len > SL_FEEDBACK_ID_MAX) {
        uint64_t *c = r->shards[w].cells + r->plan.num_cells + SL_MONITOR_CELL_NOT_KEPT;
        __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
        return;
    }
    const sl_monitor_item_t *p = &obs.values[0]; /* a route with feedback monitors a prediction: it comes first */
    sl_feedback_record_t rec;
    rec.ts_ms = in->now_ms;
    rec.route = (uint32_t)route;
    rec.backend = in->backend;
    rec.version = (uint8_t)in->version;
    rec.has_prediction = p->status == SL_MONITOR_VALUE;
    rec.value = fb->task == SL_FEEDBACK_REGRESSION && rec.has_prediction ? p->number : 0;
    rec.label = fb->task == SL_FEEDBACK_CLASSIFICATION && rec.has_prediction && !p->overflow
                    ? sl_feedback_label_index(fb, p->text, p->len)
                    : (int32_t)fb->num_labels;
    rec.id_len = (uint8_t)in->request_id_len;
    memcpy(rec.id, in->request_id, in->request_id_len);
    sl_monitor_ring_push(&m->feedback_rings[w], &rec);
}

/* The control thread --------------------------------------------------------------------------------------------- */

static inline uint64_t load(const uint64_t *c)
{
    return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/* sum[0..n) becomes what is new since totals, and totals the sum. */
static void take_deltas(uint64_t *totals, uint64_t *sum, size_t n)
{
    for (size_t i = 0; i != n; ++i) {
        uint64_t delta = sum[i] - totals[i];
        totals[i] = sum[i];
        sum[i] = delta;
    }
}

/* Sums the shards' backend cells into r->btotals and adds what is new to the backends' window; called by harvest()
 * once it has mapped every worker's categories known so far (a category a worker added since is counted on the next
 * tick, as in the route's cells). */
static void harvest_backends(sl_monitor_route_t *r, uint64_t now_ms)
{
    size_t width = r->num_bbackends * r->bwidth;
    uint64_t *sum = r->bscratch;
    if (width == 0)
        return;
    memset(sum, 0, width * sizeof(uint64_t));
    for (uint32_t w = 0; w != r->num_workers; ++w) {
        for (uint32_t b = 0; b != r->num_bbackends; ++b) {
            for (uint32_t k = 0; k != r->num_bvalues; ++k) {
                const sl_monitor_spec_t *s = &r->plan.specs[r->bvalues[k]];
                const uint64_t *src = r->shards[w].bcells + (size_t)b * r->bwidth + r->bcell[k];
                uint64_t *dst = sum + (size_t)b * r->bwidth + r->bcell[k];
                uint32_t first = 0;
                if (s->type == SL_MONITOR_CATEGORICAL) {
                    size_t mi = s->categorical_index * r->num_workers + w;
                    for (uint32_t j = 0; j != r->mapped[mi]; ++j)
                        dst[r->maps[mi][j]] += load(src + j);
                    first = s->bins - 1;
                }
                for (uint32_t c = first; c != s->bins + 2; ++c)
                    dst[c] += load(src + c);
            }
        }
    }
    take_deltas(r->btotals, sum, width);
    sl_monitor_window_add(&r->bwindow, now_ms, sum);
}

/* Sums every shard into r->totals and adds what is new to the window at now_ms. */
static void harvest(sl_monitor_route_t *r, uint64_t now_ms)
{
    const sl_monitor_plan_t *plan = &r->plan;
    size_t ncells = route_cells(r);
    uint64_t *sum = r->scratch;
    memset(sum, 0, ncells * sizeof(uint64_t));
    for (uint32_t w = 0; w != r->num_workers; ++w) {
        sl_monitor_shard_t *sh = &r->shards[w];
        const uint64_t *cells = sh->cells;
        for (size_t i = 0; i != plan->num_values; ++i) {
            const sl_monitor_spec_t *s = &plan->specs[i];
            const uint64_t *src = cells + s->cell;
            uint64_t *dst = sum + s->cell;
            if (s->type == SL_MONITOR_NUMERIC) {
                for (uint32_t b = 0; b != s->bins + 2; ++b)
                    dst[b] += load(src + b);
                continue;
            }
            size_t c = s->categorical_index, mi = c * r->num_workers + w;
            const sl_monitor_cattab_t *tab = &sh->tabs[c];
            uint32_t n = __atomic_load_n(&tab->count, __ATOMIC_ACQUIRE), *map = r->maps[mi];
            for (uint32_t j = r->mapped[mi]; j < n; ++j) {
                const sl_monitor_category_t *e = &tab->entries[j];
                uint32_t g = sl_monitor_cattab_find(&r->global_tabs[c], e->hash, e->text, e->len);
                if (g == UINT32_MAX)
                    g = sl_monitor_cattab_add(&r->global_tabs[c], e->hash, e->text, e->len);
                map[j] = g != UINT32_MAX ? g : s->bins - 1;
            }
            if (n > r->mapped[mi])
                r->mapped[mi] = n;
            for (uint32_t j = 0; j != n; ++j)
                dst[map[j]] += load(src + j);
            for (uint32_t b = s->bins - 1; b != s->bins + 2; ++b)
                dst[b] += load(src + b);
        }
        for (size_t i = plan->num_cells; i != ncells; ++i)
            sum[i] += load(cells + i);
    }
    take_deltas(r->totals, sum, ncells);
    sl_monitor_window_add(&r->window, now_ms, sum);
    harvest_backends(r, now_ms);
    r->requests = r->totals[plan->num_cells + SL_MONITOR_CELL_REQUESTS];
    r->malformed = r->totals[plan->num_cells + SL_MONITOR_CELL_MALFORMED];
    r->not_kept = r->totals[plan->num_cells + SL_MONITOR_CELL_NOT_KEPT];
}

/* Takes the captured samples off the rings (at most baseline_samples of them). */
static void drain_capture(sl_monitor_route_t *r)
{
    const sl_monitor_plan_t *plan = &r->plan;
    double rec[SL_MONITOR_MAX_VALUES];
    for (uint32_t w = 0; plan->num_numeric != 0 && w != r->num_workers; ++w) {
        while (sl_monitor_ring_pop(&r->shards[w].capture, rec)) {
            if (r->capture_count == r->conf->reference.baseline_samples)
                continue;
            if (r->capture_count == r->capture_cap) {
                r->capture_cap = r->capture_cap == 0 ? 1024 : r->capture_cap * 2;
                for (size_t i = 0; i != plan->num_numeric; ++i)
                    r->capture_values[i] = sl_realloc(r->capture_values[i], r->capture_cap * sizeof(double));
            }
            for (size_t i = 0; i != plan->num_numeric; ++i)
                r->capture_values[i][r->capture_count] = rec[i];
            ++r->capture_count;
        }
    }
}

/* Turns the capture into the reference, publishes the bin edges and starts the window afresh. */
static void close_capture(sl_monitor_route_t *r, uint64_t now_ms)
{
    const sl_monitor_plan_t *plan = &r->plan;
    uint64_t counts[SL_CONF_MAX_BINS];
    for (size_t i = 0; i != plan->num_values; ++i) {
        const sl_monitor_spec_t *s = &plan->specs[i];
        uint64_t *ref = r->ref_counts + s->cell;
        if (s->type == SL_MONITOR_CATEGORICAL) {
            memcpy(ref, r->totals + s->cell, (s->bins + 2) * sizeof(uint64_t));
            r->ref_categories[i] = r->global_tabs[s->categorical_index].count;
            continue;
        }
        double *v = r->capture_values[s->numeric_index];
        size_t n = 0;
        for (size_t j = 0; j != r->capture_count; ++j)
            if (!isnan(v[j]))
                v[n++] = v[j];
        sl_reference_numeric(v, n, s->bins, r->model_storage.edges + s->edge, counts);
        memcpy(ref, counts, s->bins * sizeof(uint64_t));
        ref[s->bins] = r->totals[s->cell + s->bins];
        ref[s->bins + 1] = r->totals[s->cell + s->bins + 1];
    }
    r->ref_samples = r->requests;
    time_t wall = (time_t)(sl_clock_wall_ms() / 1000);
    struct tm tm;
    gmtime_r(&wall, &tm);
    strftime(r->ref_created, sizeof(r->ref_created), "%Y-%m-%dT%H:%M:%SZ", &tm);
    __atomic_store_n(&r->model, &r->model_storage, __ATOMIC_RELEASE);
    for (size_t i = 0; i != plan->num_numeric; ++i) {
        sl_free(r->capture_values[i]);
        r->capture_values[i] = NULL;
    }
    for (uint32_t w = 0; w != r->num_workers; ++w)
        r->capture_dropped += r->shards[w].capture.records_private != NULL ? sl_monitor_ring_dropped(&r->shards[w].capture) : 0;
    sl_monitor_window_clear(&r->window);
    if (r->bwindow.counts_private != NULL)
        sl_monitor_window_clear(&r->bwindow);
    r->ref_state = SL_MONITOR_REF_READY;
    r->evaluated = 0;
    SL_LOG(SL_LOG_INFO, "monitor", "route %s: baseline reference captured from %llu requests in %llu ms", r->route->name,
           (unsigned long long)r->requests, (unsigned long long)(now_ms - r->capture_start_ms));
}

/* The measures of value i from the window's cells cur (its bins, then nulls and type errors); out->state is the
 * state before. */
static void measure_value(sl_monitor_route_t *r, size_t i, const uint64_t *cur, sl_monitor_measures_t *out)
{
    const sl_monitor_spec_t *s = &r->plan.specs[i];
    const uint64_t *ref = r->ref_counts + s->cell;
    uint64_t nulls = cur[s->bins], type_errors = cur[s->bins + 1];
    size_t k = s->bins;
    uint64_t rf[SL_CONF_MAX_CATEGORIES + 1], cf[SL_CONF_MAX_CATEGORIES + 1];
    if (s->type == SL_MONITOR_CATEGORICAL) {
        /* compare on the reference's partition: its categories, and everything else as __other__ */
        uint32_t n = r->ref_categories[i];
        memcpy(rf, ref, n * sizeof(uint64_t));
        memcpy(cf, cur, n * sizeof(uint64_t));
        rf[n] = cf[n] = 0;
        for (uint32_t j = n; j != s->bins; ++j) {
            rf[n] += ref[j];
            cf[n] += cur[j];
        }
        ref = rf;
        cur = cf;
        k = n + 1;
    }
    sl_monitor_measure(s->type, ref, cur, k, nulls, type_errors, r->conf->min_samples, &r->conf->thresholds, out->state, out);
}

static void evaluate(sl_monitor_route_t *r, uint64_t now_ms)
{
    const sl_monitor_plan_t *plan = &r->plan;
    uint64_t *sum = r->scratch;
    sl_monitor_window_advance(&r->window, now_ms);
    sl_monitor_window_sum(&r->window, sum);
    for (size_t i = 0; i != plan->num_values; ++i)
        measure_value(r, i, sum + plan->specs[i].cell, &r->measures[i]);
    if (r->num_bbackends != 0) {
        sl_monitor_window_advance(&r->bwindow, now_ms);
        sl_monitor_window_sum(&r->bwindow, r->bscratch);
        for (uint32_t b = 0; b != r->num_bbackends; ++b)
            for (uint32_t k = 0; k != r->num_bvalues; ++k)
                measure_value(r, r->bvalues[k], r->bscratch + (size_t)b * r->bwidth + r->bcell[k],
                              &r->bmeasures[(size_t)b * r->num_bvalues + k]);
    }
    r->evaluated = 1;
    r->evaluated_ms = now_ms;
}

void sl_monitor_tick(sl_monitor_t *m, uint64_t now_ms)
{
    sl_feedback_record_t rec;
    for (size_t i = 0; i != m->conf->num_routes; ++i)
        if (m->routes[i] != NULL && m->routes[i]->conf->feedback.enabled)
            sl_feedback_table_expire(&m->routes[i]->feedback, now_ms);
    for (uint32_t w = 0; m->feedback_rings != NULL && w != m->num_workers; ++w) {
        while (sl_monitor_ring_pop(&m->feedback_rings[w], &rec)) {
            sl_monitor_route_t *r = rec.route < m->conf->num_routes ? m->routes[rec.route] : NULL;
            if (r != NULL && r->conf->feedback.enabled)
                sl_feedback_table_insert(&r->feedback, &rec);
        }
    }
    for (size_t i = 0; i != m->conf->num_routes; ++i) {
        sl_monitor_route_t *r = m->routes[i];
        if (r == NULL)
            continue;
        harvest(r, now_ms);
        if (r->ref_state == SL_MONITOR_REF_CAPTURING) {
            drain_capture(r);
            const sl_conf_monitor_reference_t *ref = &r->conf->reference;
            if (r->requests >= ref->baseline_samples ||
                (now_ms - r->capture_start_ms >= ref->baseline_ms && r->requests >= r->conf->min_samples))
                close_capture(r, now_ms);
        }
        if (!r->evaluated || now_ms - r->evaluated_ms >= SL_MONITOR_EVAL_INTERVAL_MS)
            evaluate(r, now_ms);
    }
}

void sl_monitor_evaluate(sl_monitor_t *m, uint64_t now_ms)
{
    for (size_t i = 0; i != m->conf->num_routes; ++i)
        if (m->routes[i] != NULL)
            evaluate(m->routes[i], now_ms);
}

const sl_monitor_route_t *sl_monitor_route(const sl_monitor_t *m, size_t route)
{
    return route < m->conf->num_routes ? m->routes[route] : NULL;
}

int sl_monitor_quality(const sl_monitor_t *m, size_t route, uint32_t backend, enum en_sl_feedback_version_t version,
                       uint64_t now_ms, sl_quality_report_t *out)
{
    const sl_monitor_route_t *r = sl_monitor_route(m, route);
    if (r == NULL || !r->conf->feedback.enabled || backend >= r->quality.num_backends ||
        (unsigned)version >= SL_FEEDBACK_NUM_VERSIONS)
        return SL_ENOENT;
    return sl_quality_read(&r->quality, backend, version, now_ms, out) == SL_OK ? SL_OK : SL_ENOENT;
}
