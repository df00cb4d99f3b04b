/*
 * reference_build.c - making a reference: tallying the values of sample requests (the same extraction as the data
 * path, sl_monitor_extract) and writing the reference document (format: reference.h).
 *
 * Numeric values are kept whole until the end, then binned at their own quantiles (sl_reference_numeric); a
 * categorical value is tallied per distinct text in a growing hash table (at most SL_REFERENCE_MAX_DISTINCT texts;
 * later new texts count as other), and its max_categories most frequent texts become the reference's categories.
 * Used by `sluice reference`, off the request path; memory grows with the sample.
 */
#include "policies/reference.h"
#include "common/alloc.h"
#include "common/status.h"
#include "policies/monitor.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct st_sl_reference_cat_t {
    uint64_t hash;
    uint64_t count;
    uint32_t len;
    char text[SL_MONITOR_CATEGORY_MAX + 1];
} sl_reference_cat_t;

struct st_sl_reference_tally_t {
    sl_reference_cat_t *cats; /* n used of cap */
    uint32_t *slots;          /* mask + 1: index + 1, 0 empty */
    size_t n, cap;
    uint32_t mask;
};

static sl_reference_tally_t *tally_new(void)
{
    sl_reference_tally_t *t = sl_calloc(1, sizeof(*t));
    t->cap = 64;
    t->cats = sl_calloc(t->cap, sizeof(*t->cats));
    t->mask = 127;
    t->slots = sl_calloc(t->mask + 1, sizeof(*t->slots));
    return t;
}

static void tally_free(sl_reference_tally_t *t)
{
    if (t == NULL)
        return;
    sl_free(t->cats);
    sl_free(t->slots);
    sl_free(t);
}

static void tally_reindex(sl_reference_tally_t *t)
{
    memset(t->slots, 0, (t->mask + 1) * sizeof(*t->slots));
    for (size_t i = 0; i != t->n; ++i) {
        uint32_t s = (uint32_t)t->cats[i].hash & t->mask;
        while (t->slots[s] != 0)
            s = (s + 1) & t->mask;
        t->slots[s] = (uint32_t)i + 1;
    }
}

/* Counts one text; returns 0 when the tally is full and the text is new. */
static int tally_add(sl_reference_tally_t *t, const sl_monitor_item_t *it)
{
    uint32_t s = (uint32_t)it->hash & t->mask;
    for (; t->slots[s] != 0; s = (s + 1) & t->mask) {
        sl_reference_cat_t *c = &t->cats[t->slots[s] - 1];
        if (c->hash == it->hash && c->len == it->len && memcmp(c->text, it->text, it->len) == 0) {
            ++c->count;
            return 1;
        }
    }
    if (t->n == SL_REFERENCE_MAX_DISTINCT)
        return 0;
    if (t->n == t->cap) {
        t->cap *= 2;
        t->cats = sl_realloc(t->cats, t->cap * sizeof(*t->cats));
        t->mask = (uint32_t)(2 * t->cap - 1);
        t->slots = sl_realloc(t->slots, (t->mask + 1) * sizeof(*t->slots));
        tally_reindex(t);
        s = (uint32_t)it->hash & t->mask;
        while (t->slots[s] != 0)
            s = (s + 1) & t->mask;
    }
    sl_reference_cat_t *c = &t->cats[t->n];
    c->hash = it->hash;
    c->count = 1;
    c->len = it->len;
    memcpy(c->text, it->text, it->len);
    c->text[it->len] = '\0';
    t->slots[s] = (uint32_t)++t->n;
    return 1;
}

static const sl_conf_monitor_value_t *value_conf(const sl_conf_monitor_t *conf, size_t i)
{
    return conf->has_prediction ? (i == 0 ? &conf->prediction : &conf->features[i - 1]) : &conf->features[i];
}

void sl_reference_builder_init(sl_reference_builder_t *b, const sl_conf_monitor_t *conf)
{
    memset(b, 0, sizeof(*b));
    b->conf = conf;
    b->num_values = (conf->has_prediction ? 1 : 0) + conf->num_features;
    for (size_t i = 0; i != b->num_values; ++i)
        if (value_conf(conf, i)->type == SL_MONITOR_CATEGORICAL)
            b->values[i].tally = tally_new();
}

void sl_reference_builder_dispose(sl_reference_builder_t *b)
{
    for (size_t i = 0; i != b->num_values; ++i) {
        sl_free(b->values[i].numbers);
        tally_free(b->values[i].tally);
    }
    memset(b, 0, sizeof(*b));
}

void sl_reference_builder_add(sl_reference_builder_t *b, const sl_monitor_obs_t *obs)
{
    ++b->samples;
    for (size_t i = 0; i != b->num_values && i != obs->num_values; ++i) {
        struct st_sl_reference_builder_value_t *v = &b->values[i];
        const sl_monitor_item_t *it = &obs->values[i];
        if (it->status == SL_MONITOR_NULL) {
            ++v->nulls;
        } else if (it->status == SL_MONITOR_TYPE_ERROR) {
            ++v->type_errors;
        } else if (v->tally == NULL) {
            if (v->n == v->cap) {
                v->cap = v->cap == 0 ? 1024 : v->cap * 2;
                v->numbers = sl_realloc(v->numbers, v->cap * sizeof(double));
            }
            v->numbers[v->n++] = it->number;
        } else if (it->overflow || !tally_add(v->tally, it)) {
            ++v->other;
        }
    }
}

/* Most frequent first; equal counts by text, so the result does not depend on the order of the sample. */
static int cmp_cat(const void *a, const void *b)
{
    const sl_reference_cat_t *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->text, y->text);
}

int sl_reference_builder_finish(const sl_reference_builder_t *b, const char *route, const char *created, sl_reference_t *out)
{
    char src[1200];
    sl_reference_t r;
    memset(&r, 0, sizeof(r));
    r.route = sl_strdup(route);
    r.created = sl_strdup(created);
    r.samples = b->samples;
    r.num_features = b->conf->num_features;
    r.features = sl_calloc(r.num_features + 1, sizeof(*r.features));
    r.has_prediction = b->conf->has_prediction;
    for (size_t i = 0; i != b->num_values; ++i) {
        const sl_conf_monitor_value_t *c = value_conf(b->conf, i);
        const struct st_sl_reference_builder_value_t *v = &b->values[i];
        sl_reference_value_t *o = b->conf->has_prediction ? (i == 0 ? &r.prediction : &r.features[i - 1]) : &r.features[i];
        o->name = sl_strdup(c->name);
        o->source = sl_strdup(sl_reference_source(c, src, sizeof(src)));
        o->type = c->type;
        o->nulls = v->nulls;
        o->type_errors = v->type_errors;
        if (c->type == SL_MONITOR_NUMERIC) {
            double *copy = sl_malloc((v->n != 0 ? v->n : 1) * sizeof(double));
            memcpy(copy, v->numbers, v->n * sizeof(double));
            o->num_bins = c->bins;
            o->edges = sl_calloc(c->bins, sizeof(double));
            o->counts = sl_calloc(c->bins, sizeof(uint64_t));
            sl_reference_numeric(copy, v->n, c->bins, o->edges, o->counts);
            sl_free(copy);
            continue;
        }
        size_t n = v->tally->n;
        sl_reference_cat_t *sorted = sl_malloc((n != 0 ? n : 1) * sizeof(*sorted));
        memcpy(sorted, v->tally->cats, n * sizeof(*sorted));
        qsort(sorted, n, sizeof(*sorted), cmp_cat);
        size_t keep = n < c->max_categories ? n : c->max_categories;
        o->num_bins = keep;
        o->categories = sl_calloc(keep + 1, sizeof(char *));
        o->counts = sl_calloc(keep + 1, sizeof(uint64_t));
        o->other = v->other;
        for (size_t j = 0; j != n; ++j) {
            if (j < keep) {
                o->categories[j] = sl_strdup(sorted[j].text);
                o->counts[j] = sorted[j].count;
            } else {
                o->other += sorted[j].count;
            }
        }
        sl_free(sorted);
    }
    *out = r;
    return SL_OK;
}

/* Writing ---------------------------------------------------------------------------------------------------------- */

/* A buffer and whether any append to it failed (its cap): every later append is skipped. */
typedef struct st_writer_t {
    sl_buf_t *b;
    int failed;
} writer_t;

__attribute__((format(printf, 2, 3))) static void put(writer_t *w, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    if (w->failed)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(small) || sl_buf_append(w->b, small, (size_t)n) != SL_OK)
        w->failed = 1;
}

static void put_string(writer_t *w, const char *s)
{
    put(w, "\"");
    if (!w->failed && sl_buf_append_json_escaped(w->b, s, strlen(s)) != SL_OK)
        w->failed = 1;
    put(w, "\"");
}

static void put_value(writer_t *w, const sl_reference_value_t *v)
{
    put(w, "{\"name\":");
    put_string(w, v->name);
    put(w, ",\"source\":");
    put_string(w, v->source);
    put(w, ",\"type\":\"%s\",", v->type == SL_MONITOR_NUMERIC ? "numeric" : "categorical");
    if (v->type == SL_MONITOR_NUMERIC) {
        put(w, "\"edges\":[");
        for (size_t i = 0; i + 1 < v->num_bins; ++i)
            put(w, "%s%.17g", i != 0 ? "," : "", v->edges[i] == 0 ? 0.0 : v->edges[i]); /* never "-0" */
    } else {
        put(w, "\"categories\":[");
        for (size_t i = 0; i != v->num_bins; ++i) {
            put(w, "%s", i != 0 ? "," : "");
            put_string(w, v->categories[i]);
        }
    }
    put(w, "],\"counts\":[");
    for (size_t i = 0; i != v->num_bins; ++i)
        put(w, "%s%" PRIu64, i != 0 ? "," : "", v->counts[i]);
    put(w, "]");
    if (v->type == SL_MONITOR_CATEGORICAL)
        put(w, ",\"other\":%" PRIu64, v->other);
    put(w, ",\"nulls\":%" PRIu64 ",\"type_errors\":%" PRIu64 "}", v->nulls, v->type_errors);
}

int sl_reference_write(const sl_reference_t *ref, sl_buf_t *out)
{
    writer_t w = {out, 0};
    size_t saved = out->len;
    put(&w, "{\"format\":\"%s\",\"version\":%d,\"route\":", SL_REFERENCE_FORMAT, SL_REFERENCE_VERSION);
    put_string(&w, ref->route != NULL ? ref->route : "");
    put(&w, ",\"created\":");
    put_string(&w, ref->created != NULL ? ref->created : "");
    put(&w, ",\"samples\":%" PRIu64, ref->samples);
    if (ref->has_prediction) {
        put(&w, ",\"prediction\":");
        put_value(&w, &ref->prediction);
    }
    put(&w, ",\"features\":[");
    for (size_t i = 0; i != ref->num_features; ++i) {
        put(&w, "%s", i != 0 ? "," : "");
        put_value(&w, &ref->features[i]);
    }
    put(&w, "]}\n");
    if (w.failed) {
        out->len = saved;
        if (out->data != NULL)
            out->data[saved] = '\0';
        return SL_ENOMEM;
    }
    return SL_OK;
}
