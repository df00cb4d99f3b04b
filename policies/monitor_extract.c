/*
 * monitor_extract.c - the worker's half of monitoring: pulling the monitored values out of a request and its answer
 * (sl_monitor_extract), and counting them in the worker's shard (sl_monitor_record).
 *
 * Both run on the request path, so neither allocates, locks, or does an atomic read-modify-write. Extraction reads
 * the request body once: the top-level members are walked a single time and each pointer value is resolved inside
 * the member its first reference token names, so ten features cost one pass over the body, not ten. Counting is a
 * binary search over at most 999 bin edges (numeric) or one probe of the worker's own category table (categorical),
 * then a relaxed load and store of one counter the control thread sums later.
 *
 * A worker's category table is written by that worker only: a new category is written first and published by a
 * release store of the table's count, so the control thread, which reads entries below an acquired count, always
 * sees whole entries. Each worker numbers categories in the order it meets them; the control thread maps every
 * worker's numbers to its own table when it sums the shards (monitor.c).
 */
#include "policies/monitor.h"
#include "common/alloc.h"
#include "common/json_scan.h"
#include "common/status.h"
#include "stats/drift.h"

#include <math.h>
#include <string.h>

_Static_assert(SL_CONF_MAX_BINS <= SL_DRIFT_MAX_BINS, "bins of the config must be within stats/drift's cap");

uint64_t sl_monitor_hash(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i != n; ++i)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

/* Plans ------------------------------------------------------------------------------------------------------------ */

/* Splits an RFC 6901 pointer "/tok/rest..." into its first token, unescaped (owned), and the rest (borrowed). */
static void split_pointer(sl_monitor_spec_t *s, const char *ptr)
{
    size_t raw = strcspn(ptr + 1, "/");
    char *first = sl_malloc(raw + 1);
    size_t n = 0;
    for (size_t i = 1; i <= raw; ++i) {
        if (ptr[i] == '~' && i < raw && (ptr[i + 1] == '0' || ptr[i + 1] == '1')) {
            first[n++] = ptr[i + 1] == '0' ? '~' : '/';
            ++i;
        } else {
            first[n++] = ptr[i];
        }
    }
    first[n] = '\0';
    s->first = first;
    s->first_len = n;
    s->rest = ptr + 1 + raw;
    s->rest_len = strlen(s->rest);
}

int sl_monitor_plan_init(sl_monitor_plan_t *plan, const sl_conf_monitor_t *conf)
{
    size_t num = (conf->has_prediction ? 1 : 0) + conf->num_features;
    if (num > SL_MONITOR_MAX_VALUES)
        return SL_EINVAL;
    memset(plan, 0, sizeof(*plan));
    for (size_t i = 0; i != num; ++i) {
        sl_monitor_spec_t *s = &plan->specs[i];
        const sl_conf_monitor_value_t *v =
            conf->has_prediction ? (i == 0 ? &conf->prediction : &conf->features[i - 1]) : &conf->features[i];
        s->conf = v;
        s->source = v->source;
        s->type = v->type;
        s->bins = v->type == SL_MONITOR_NUMERIC ? v->bins : v->max_categories + 1;
        s->cell = plan->num_cells;
        plan->num_cells += s->bins + 2;
        if (v->type == SL_MONITOR_NUMERIC) {
            s->numeric_index = (uint32_t)plan->num_numeric++;
            s->edge = plan->num_edges;
            plan->num_edges += s->bins - 1;
        } else {
            s->categorical_index = (uint32_t)plan->num_categorical++;
        }
        if (v->source == SL_MONITOR_SOURCE_POINTER) {
            split_pointer(s, v->pointer);
            ++plan->num_pointers;
        }
    }
    plan->num_values = num;
    return SL_OK;
}

void sl_monitor_plan_dispose(sl_monitor_plan_t *plan)
{
    for (size_t i = 0; i != plan->num_values; ++i) {
        sl_free((char *)plan->specs[i].first);
        plan->specs[i].first = NULL;
    }
    plan->num_values = 0;
}

/* Extraction ------------------------------------------------------------------------------------------------------- */

static void set_number(sl_monitor_item_t *it, double v)
{
    it->status = SL_MONITOR_VALUE;
    it->overflow = 0;
    it->number = v;
}

static void set_status(sl_monitor_item_t *it, enum en_sl_monitor_status_t status)
{
    it->status = (uint8_t)status;
    it->overflow = 0;
    it->number = 0;
}

/* Reads one JSON value as the value of a spec of the given type. */
static void classify(const sl_json_span_t *v, enum en_sl_monitor_type_t type, sl_monitor_item_t *it)
{
    double d;
    size_t len;
    if (v->type == SL_JSON_NULL) {
        set_status(it, SL_MONITOR_NULL);
        return;
    }
    if (type == SL_MONITOR_NUMERIC) {
        if (v->type == SL_JSON_NUMBER && sl_json_get_double(v, &d) == SL_OK)
            set_number(it, d);
        else
            set_status(it, SL_MONITOR_TYPE_ERROR);
        return;
    }
    switch (v->type) {
    case SL_JSON_STRING: {
        int r = sl_json_get_string(v, it->text, sizeof(it->text), &len);
        if (r == SL_ENOMEM) {
            set_status(it, SL_MONITOR_VALUE);
            it->overflow = 1;
            return;
        }
        if (r != SL_OK) {
            set_status(it, SL_MONITOR_TYPE_ERROR);
            return;
        }
        break;
    }
    case SL_JSON_NUMBER:
    case SL_JSON_TRUE:
    case SL_JSON_FALSE:
        if (v->len > SL_MONITOR_CATEGORY_MAX) {
            set_status(it, SL_MONITOR_VALUE);
            it->overflow = 1;
            return;
        }
        memcpy(it->text, v->p, v->len);
        it->text[v->len] = '\0';
        len = v->len;
        break;
    default:
        set_status(it, SL_MONITOR_TYPE_ERROR);
        return;
    }
    set_status(it, SL_MONITOR_VALUE);
    it->len = (uint8_t)len;
    it->hash = sl_monitor_hash(it->text, len);
}

/* Resolves the request pointers of the plan into found[] (have[i] set when value i was found). */
static void find_request_values(const sl_monitor_plan_t *plan, const sl_json_span_t *root, sl_json_span_t *found, uint8_t *have)
{
    size_t missing = plan->num_pointers;
    if (root->type != SL_JSON_OBJECT) {
        for (size_t i = 0; i != plan->num_values; ++i) {
            const sl_monitor_spec_t *s = &plan->specs[i];
            if (s->source == SL_MONITOR_SOURCE_POINTER &&
                sl_json_find_pointer(root, s->conf->pointer, strlen(s->conf->pointer), &found[i]) == SL_OK)
                have[i] = 1;
        }
        return;
    }
    sl_json_iter_t it;
    sl_json_span_t key, value;
    if (sl_json_iter_init(&it, root) != SL_OK)
        return;
    while (missing != 0 && sl_json_iter_next(&it, &key, &value) == SL_OK) {
        for (size_t i = 0; i != plan->num_values; ++i) {
            const sl_monitor_spec_t *s = &plan->specs[i];
            if (s->source != SL_MONITOR_SOURCE_POINTER || have[i] != 0 || !sl_json_string_eq(&key, s->first, s->first_len))
                continue;
            have[i] = 2; /* its member was seen (first one wins): found or definitely absent */
            --missing;
            if (s->rest_len == 0)
                found[i] = value;
            else if (sl_json_find_pointer(&value, s->rest, s->rest_len, &found[i]) != SL_OK)
                have[i] = 3;
        }
    }
    for (size_t i = 0; i != plan->num_values; ++i)
        have[i] = have[i] == 2;
}

void sl_monitor_extract(const sl_monitor_plan_t *plan, const sl_monitor_input_t *in, sl_monitor_obs_t *out)
{
    sl_json_span_t found[SL_MONITOR_MAX_VALUES], v;
    uint8_t have[SL_MONITOR_MAX_VALUES];
    memset(have, 0, plan->num_values);
    out->num_values = plan->num_values;
    out->malformed = in->request_malformed != 0;
    if (plan->num_pointers != 0 && !in->request_malformed && in->request.type != SL_JSON_INVALID)
        find_request_values(plan, &in->request, found, have);
    for (size_t i = 0; i != plan->num_values; ++i) {
        const sl_monitor_spec_t *s = &plan->specs[i];
        sl_monitor_item_t *it = &out->values[i];
        switch (s->source) {
        case SL_MONITOR_SOURCE_POINTER:
            if (have[i])
                classify(&found[i], s->type, it);
            else
                set_status(it, SL_MONITOR_NULL);
            break;
        case SL_MONITOR_SOURCE_PROMPT_TOKENS:
            set_number(it, (double)in->prompt_tokens);
            break;
        case SL_MONITOR_SOURCE_MESSAGE_COUNT:
        case SL_MONITOR_SOURCE_OUTPUT_TOKENS: {
            int mc = s->source == SL_MONITOR_SOURCE_MESSAGE_COUNT;
            enum en_sl_monitor_presence_t st = mc ? in->message_count_state : in->output_tokens_state;
            if (st == SL_MONITOR_PRESENT)
                set_number(it, (double)(mc ? in->message_count : in->output_tokens));
            else
                set_status(it, st == SL_MONITOR_ABSENT ? SL_MONITOR_NULL : SL_MONITOR_TYPE_ERROR);
            break;
        }
        case SL_MONITOR_SOURCE_SIGNAL:
            if (in->prediction != NULL)
                classify(in->prediction, SL_MONITOR_NUMERIC, it);
            else if (in->signal_state == SL_MONITOR_PRESENT && isfinite(in->signal))
                set_number(it, in->signal);
            else
                set_status(it, in->signal_state == SL_MONITOR_ABSENT ? SL_MONITOR_NULL : SL_MONITOR_TYPE_ERROR);
            break;
        case SL_MONITOR_SOURCE_LABEL:
        case SL_MONITOR_SOURCE_VALUE:
            if (in->prediction != NULL)
                classify(in->prediction, s->type, it);
            else if (in->response.type != SL_JSON_INVALID &&
                     sl_json_find_pointer(&in->response, s->conf->pointer, strlen(s->conf->pointer), &v) == SL_OK)
                classify(&v, s->type, it);
            else
                set_status(it, SL_MONITOR_NULL);
            break;
        }
    }
}

/* Category tables -------------------------------------------------------------------------------------------------- */

int sl_monitor_cattab_init(sl_monitor_cattab_t *t, uint32_t cap)
{
    if (cap == 0 || cap > SL_CONF_MAX_CATEGORIES)
        return SL_EINVAL;
    uint32_t n = 4;
    while (n < 2 * cap)
        n *= 2;
    memset(t, 0, sizeof(*t));
    t->entries = sl_calloc(cap, sizeof(*t->entries));
    t->slots = sl_calloc(n, sizeof(*t->slots));
    t->mask = n - 1;
    t->cap = cap;
    return SL_OK;
}

void sl_monitor_cattab_dispose(sl_monitor_cattab_t *t)
{
    sl_free(t->entries);
    sl_free(t->slots);
    t->entries = NULL;
    t->slots = NULL;
    t->count = t->cap = 0;
}

uint32_t sl_monitor_cattab_find(const sl_monitor_cattab_t *t, uint64_t hash, const char *text, size_t len)
{
    for (uint32_t i = (uint32_t)hash & t->mask; t->slots[i] != 0; i = (i + 1) & t->mask) {
        const sl_monitor_category_t *e = &t->entries[t->slots[i] - 1];
        if (e->hash == hash && e->len == len && memcmp(e->text, text, len) == 0)
            return t->slots[i] - 1;
    }
    return UINT32_MAX;
}

uint32_t sl_monitor_cattab_add(sl_monitor_cattab_t *t, uint64_t hash, const char *text, size_t len)
{
    uint32_t n = t->count;
    if (n == t->cap || len > SL_MONITOR_CATEGORY_MAX)
        return UINT32_MAX;
    sl_monitor_category_t *e = &t->entries[n];
    e->hash = hash;
    e->len = (uint32_t)len;
    memcpy(e->text, text, len);
    e->text[len] = '\0';
    uint32_t i = (uint32_t)hash & t->mask;
    while (t->slots[i] != 0)
        i = (i + 1) & t->mask;
    t->slots[i] = n + 1;
    __atomic_store_n(&t->count, n + 1, __ATOMIC_RELEASE);
    return n;
}

/* Counting --------------------------------------------------------------------------------------------------------- */

/* One writer per cell: a relaxed load and store, never a read-modify-write (see policies/slo.h). */
static inline void bump(uint64_t *c)
{
    __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

void sl_monitor_record(sl_monitor_route_t *r, uint32_t w, uint32_t backend, const sl_monitor_obs_t *obs)
{
    const sl_monitor_plan_t *plan = &r->plan;
    sl_monitor_shard_t *sh = &r->shards[w];
    uint64_t *cells = sh->cells;
    const sl_monitor_model_t *model = __atomic_load_n(&r->model, __ATOMIC_ACQUIRE);
    double capture[SL_MONITOR_MAX_VALUES];
    int capture_any = 0;
    uint32_t slot = backend < r->num_bslots ? r->bslot[backend] : UINT32_MAX, k = 0;
    uint64_t *bcells = slot != UINT32_MAX ? sh->bcells + (size_t)slot * r->bwidth : NULL;

    bump(cells + plan->num_cells + SL_MONITOR_CELL_REQUESTS);
    if (obs->malformed)
        bump(cells + plan->num_cells + SL_MONITOR_CELL_MALFORMED);
    for (size_t i = 0; i != plan->num_values; ++i) {
        const sl_monitor_spec_t *s = &plan->specs[i];
        const sl_monitor_item_t *it = &obs->values[i];
        uint32_t cell = UINT32_MAX; /* the value's cell, counted again for the backend when it is an answer value */
        if (it->status != SL_MONITOR_VALUE) {
            cell = s->bins + (it->status == SL_MONITOR_NULL ? 0 : 1);
            if (s->type == SL_MONITOR_NUMERIC)
                capture[s->numeric_index] = NAN;
        } else if (s->type == SL_MONITOR_NUMERIC) {
            uint32_t bin;
            capture[s->numeric_index] = it->number;
            capture_any = 1;
            if (model != NULL && sl_drift_bin(model->edges + s->edge, s->bins, it->number, &bin) == SL_OK)
                cell = bin;
        } else {
            uint32_t j = UINT32_MAX;
            if (!it->overflow) {
                sl_monitor_cattab_t *tab = &sh->tabs[s->categorical_index];
                if ((j = sl_monitor_cattab_find(tab, it->hash, it->text, it->len)) == UINT32_MAX)
                    j = sl_monitor_cattab_add(tab, it->hash, it->text, it->len);
            }
            cell = j != UINT32_MAX ? j : s->bins - 1;
        }
        if (cell != UINT32_MAX)
            bump(cells + s->cell + cell);
        if (k != r->num_bvalues && r->bvalues[k] == i) {
            if (bcells != NULL && cell != UINT32_MAX)
                bump(bcells + r->bcell[k] + cell);
            ++k;
        }
    }
    if (model == NULL && r->capturing && capture_any)
        sl_monitor_ring_push(&sh->capture, capture);
}
