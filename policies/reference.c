/*
 * reference.c - reading a reference file and checking it against a route's monitor config (format: reference.h).
 *
 * The parser is strict, because a reference silently misread would make every drift score wrong: unknown and
 * duplicate keys are errors, counts must be integers (at most 2^53, so sums stay exact in a double), edges finite
 * and ascending, categories distinct. Every message names the member it is about with a path
 * ("features[2].categories[3]: duplicate category \"en\""). Control thread (at start and reload) or the command
 * line; reading allocates.
 */
#include "policies/reference.h"
#include "common/alloc.h"
#include "common/json_scan.h"
#include "common/status.h"
#include "stats/drift.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_COUNT ((uint64_t)1 << 53)
#define MAX_NAME 128
#define MAX_SOURCE 1100

__attribute__((format(printf, 4, 5))) static int fail(char *err, size_t errsz, const char *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(err, errsz, "%s%s%s", path, path[0] != '\0' ? ": " : "", msg);
    return SL_ESYNTAX;
}

static const char *json_type_name(enum en_sl_json_type_t t)
{
    static const char *const names[] = {"invalid", "null", "false", "true", "a number", "a string", "an array", "an object"};
    return names[t];
}

/* A string member into a new heap copy of at most max bytes. */
static int get_string(const sl_json_span_t *v, size_t max, char **out, char *err, size_t errsz, const char *path)
{
    if (v->type != SL_JSON_STRING)
        return fail(err, errsz, path, "must be a string, got %s", json_type_name(v->type));
    size_t n = sl_json_string_len(v);
    if (n > max)
        return fail(err, errsz, path, "must be at most %zu bytes long", max);
    char *s = sl_malloc(n + 1);
    sl_json_get_string(v, s, n + 1, NULL);
    if (strlen(s) != n) {
        sl_free(s);
        return fail(err, errsz, path, "must not contain NUL characters");
    }
    *out = s;
    return SL_OK;
}

static int get_count(const sl_json_span_t *v, uint64_t *out, char *err, size_t errsz, const char *path)
{
    if (v->type != SL_JSON_NUMBER || sl_json_get_uint64(v, out) != SL_OK || *out > MAX_COUNT)
        return fail(err, errsz, path, "must be an integer between 0 and 2^53");
    return SL_OK;
}

static size_t array_len(const sl_json_span_t *a)
{
    sl_json_iter_t it;
    sl_json_span_t v;
    size_t n = 0;
    sl_json_iter_init(&it, a);
    while (sl_json_iter_next(&it, NULL, &v) == SL_OK)
        ++n;
    return n;
}

enum { K_NAME, K_SOURCE, K_TYPE, K_EDGES, K_COUNTS, K_CATEGORIES, K_OTHER, K_NULLS, K_TYPE_ERRORS, K_NUM };
static const char *const value_keys[K_NUM] = {"name",       "source", "type",  "edges",      "counts",
                                              "categories", "other",  "nulls", "type_errors"};

static int parse_array_member(const sl_json_span_t *v, int key, sl_reference_value_t *out, size_t *n, char *err, size_t errsz,
                              const char *path)
{
    char p[300];
    sl_json_iter_t it;
    sl_json_span_t e;
    if (v->type != SL_JSON_ARRAY)
        return fail(err, errsz, path, "must be an array, got %s", json_type_name(v->type));
    *n = array_len(v);
    if (*n > SL_CONF_MAX_CATEGORIES + 1)
        return fail(err, errsz, path, "has %zu entries; the limit is %u", *n, (unsigned)SL_CONF_MAX_CATEGORIES + 1);
    sl_json_iter_init(&it, v);
    if (key == K_EDGES)
        out->edges = sl_calloc(*n + 1, sizeof(double));
    else if (key == K_COUNTS)
        out->counts = sl_calloc(*n + 1, sizeof(uint64_t));
    else
        out->categories = sl_calloc(*n + 1, sizeof(char *));
    for (size_t i = 0; sl_json_iter_next(&it, NULL, &e) == SL_OK; ++i) {
        snprintf(p, sizeof(p), "%s[%zu]", path, i);
        if (key == K_EDGES) {
            if (e.type != SL_JSON_NUMBER || sl_json_get_double(&e, &out->edges[i]) != SL_OK)
                return fail(err, errsz, p, "must be a finite number");
            if (i != 0 && out->edges[i] < out->edges[i - 1])
                return fail(err, errsz, path, "must be ascending (entry %zu is below entry %zu)", i, i - 1);
        } else if (key == K_COUNTS) {
            if (get_count(&e, &out->counts[i], err, errsz, p) != SL_OK)
                return SL_ESYNTAX;
        } else {
            if (get_string(&e, SL_CONF_MAX_LABEL_LEN, &out->categories[i], err, errsz, p) != SL_OK)
                return SL_ESYNTAX;
            for (size_t j = 0; j != i; ++j)
                if (strcmp(out->categories[j], out->categories[i]) == 0)
                    return fail(err, errsz, p, "duplicate category \"%s\" (also at [%zu])", out->categories[i], j);
        }
    }
    return SL_OK;
}

/* One value object into *out; on failure *out holds what was allocated (the caller disposes of it). */
static int parse_value(const sl_json_span_t *obj, sl_reference_value_t *out, char *err, size_t errsz, const char *path)
{
    char p[300];
    sl_json_iter_t it;
    sl_json_span_t k, v;
    unsigned seen = 0;
    size_t n_edges = 0, n_counts = 0, n_categories = 0;
    int type = -1;
    if (obj->type != SL_JSON_OBJECT)
        return fail(err, errsz, path, "must be an object, got %s", json_type_name(obj->type));
    sl_json_iter_init(&it, obj);
    while (sl_json_iter_next(&it, &k, &v) == SL_OK) {
        int key = 0;
        while (key != K_NUM && !sl_json_string_eq(&k, value_keys[key], strlen(value_keys[key])))
            ++key;
        if (key == K_NUM) {
            char name[80];
            if (sl_json_get_string(&k, name, sizeof(name), NULL) != SL_OK)
                snprintf(name, sizeof(name), "...");
            return fail(err, errsz, path, "unknown key \"%s\"", name);
        }
        snprintf(p, sizeof(p), "%s.%s", path, value_keys[key]);
        if (seen & (1u << key))
            return fail(err, errsz, path, "duplicate key \"%s\"", value_keys[key]);
        seen |= 1u << key;
        int r = SL_OK;
        switch (key) {
        case K_NAME:
            r = get_string(&v, MAX_NAME, &out->name, err, errsz, p);
            break;
        case K_SOURCE:
            r = get_string(&v, MAX_SOURCE, &out->source, err, errsz, p);
            break;
        case K_TYPE:
            if (sl_json_string_eq(&v, "numeric", 7))
                type = SL_MONITOR_NUMERIC;
            else if (sl_json_string_eq(&v, "categorical", 11))
                type = SL_MONITOR_CATEGORICAL;
            else
                r = fail(err, errsz, p, "must be \"numeric\" or \"categorical\"");
            break;
        case K_EDGES:
            r = parse_array_member(&v, key, out, &n_edges, err, errsz, p);
            break;
        case K_COUNTS:
            r = parse_array_member(&v, key, out, &n_counts, err, errsz, p);
            break;
        case K_CATEGORIES:
            r = parse_array_member(&v, key, out, &n_categories, err, errsz, p);
            break;
        case K_OTHER:
            r = get_count(&v, &out->other, err, errsz, p);
            break;
        case K_NULLS:
            r = get_count(&v, &out->nulls, err, errsz, p);
            break;
        case K_TYPE_ERRORS:
            r = get_count(&v, &out->type_errors, err, errsz, p);
            break;
        }
        if (r != SL_OK)
            return r;
    }
    static const int required[] = {K_NAME, K_SOURCE, K_TYPE, K_COUNTS};
    for (size_t i = 0; i != sizeof(required) / sizeof(required[0]); ++i)
        if ((seen & (1u << required[i])) == 0)
            return fail(err, errsz, path, "missing \"%s\"", value_keys[required[i]]);
    out->type = (enum en_sl_monitor_type_t)type;
    if (type == SL_MONITOR_NUMERIC) {
        if ((seen & (1u << K_EDGES)) == 0)
            return fail(err, errsz, path, "missing \"edges\" (a numeric value is binned)");
        if (seen & ((1u << K_CATEGORIES) | (1u << K_OTHER)))
            return fail(err, errsz, path, "\"categories\" and \"other\" are for categorical values");
        if (n_counts < 2 || n_counts > SL_CONF_MAX_BINS)
            return fail(err, errsz, path, "must have 2 to %u bins, got %zu counts", (unsigned)SL_CONF_MAX_BINS, n_counts);
        if (n_edges + 1 != n_counts)
            return fail(err, errsz, path, "needs one more count than edges (%zu edges, %zu counts)", n_edges, n_counts);
    } else {
        if ((seen & (1u << K_CATEGORIES)) == 0)
            return fail(err, errsz, path, "missing \"categories\"");
        if (seen & (1u << K_EDGES))
            return fail(err, errsz, path, "\"edges\" are for numeric values");
        if (n_categories != n_counts)
            return fail(err, errsz, path, "needs one count per category (%zu categories, %zu counts)", n_categories, n_counts);
        if (n_categories > SL_CONF_MAX_CATEGORIES)
            return fail(err, errsz, path, "has %zu categories; the limit is %u", n_categories,
                        (unsigned)SL_CONF_MAX_CATEGORIES);
    }
    out->num_bins = n_counts;
    return SL_OK;
}

static void value_dispose(sl_reference_value_t *v)
{
    for (size_t i = 0; v->categories != NULL && v->categories[i] != NULL; ++i)
        sl_free(v->categories[i]);
    sl_free(v->categories);
    sl_free(v->name);
    sl_free(v->source);
    sl_free(v->edges);
    sl_free(v->counts);
    memset(v, 0, sizeof(*v));
}

void sl_reference_dispose(sl_reference_t *ref)
{
    for (size_t i = 0; i != ref->num_features; ++i)
        value_dispose(&ref->features[i]);
    value_dispose(&ref->prediction);
    sl_free(ref->features);
    sl_free(ref->route);
    sl_free(ref->created);
    memset(ref, 0, sizeof(*ref));
}

enum { T_FORMAT, T_VERSION, T_ROUTE, T_CREATED, T_SAMPLES, T_PREDICTION, T_FEATURES, T_NUM };
static const char *const top_keys[T_NUM] = {"format", "version", "route", "created", "samples", "prediction", "features"};

static int parse_top(const sl_json_span_t *root, sl_reference_t *r, char *err, size_t errsz)
{
    sl_json_iter_t it, fit;
    sl_json_span_t k, v, f;
    unsigned seen = 0;
    uint64_t version;
    char p[64];
    if (root->type != SL_JSON_OBJECT)
        return fail(err, errsz, "", "expected a JSON object, got %s", json_type_name(root->type));
    sl_json_iter_init(&it, root);
    while (sl_json_iter_next(&it, &k, &v) == SL_OK) {
        int key = 0;
        while (key != T_NUM && !sl_json_string_eq(&k, top_keys[key], strlen(top_keys[key])))
            ++key;
        if (key == T_NUM) {
            char name[80];
            if (sl_json_get_string(&k, name, sizeof(name), NULL) != SL_OK)
                snprintf(name, sizeof(name), "...");
            return fail(err, errsz, "", "unknown key \"%s\"", name);
        }
        if (seen & (1u << key))
            return fail(err, errsz, "", "duplicate key \"%s\"", top_keys[key]);
        seen |= 1u << key;
        int rc = SL_OK;
        switch (key) {
        case T_FORMAT:
            if (!sl_json_string_eq(&v, SL_REFERENCE_FORMAT, strlen(SL_REFERENCE_FORMAT)))
                rc = fail(err, errsz, "format", "must be \"%s\"", SL_REFERENCE_FORMAT);
            break;
        case T_VERSION:
            if (v.type != SL_JSON_NUMBER || sl_json_get_uint64(&v, &version) != SL_OK)
                rc = fail(err, errsz, "version", "must be an integer");
            else if (version != SL_REFERENCE_VERSION)
                rc = fail(err, errsz, "version", "version %llu is not supported (this build reads version %d)",
                          (unsigned long long)version, SL_REFERENCE_VERSION);
            break;
        case T_ROUTE:
            rc = get_string(&v, 64, &r->route, err, errsz, "route");
            break;
        case T_CREATED:
            rc = get_string(&v, 39, &r->created, err, errsz, "created");
            break;
        case T_SAMPLES:
            rc = get_count(&v, &r->samples, err, errsz, "samples");
            break;
        case T_PREDICTION:
            rc = parse_value(&v, &r->prediction, err, errsz, "prediction");
            r->has_prediction = 1;
            break;
        case T_FEATURES:
            if (v.type != SL_JSON_ARRAY) {
                rc = fail(err, errsz, "features", "must be an array, got %s", json_type_name(v.type));
                break;
            }
            if ((r->num_features = array_len(&v)) > SL_CONF_MAX_FEATURES) {
                rc = fail(err, errsz, "features", "has %zu entries; the limit is %u", r->num_features,
                          (unsigned)SL_CONF_MAX_FEATURES);
                r->num_features = 0;
                break;
            }
            r->features = sl_calloc(r->num_features + 1, sizeof(*r->features));
            sl_json_iter_init(&fit, &v);
            for (size_t i = 0; rc == SL_OK && sl_json_iter_next(&fit, NULL, &f) == SL_OK; ++i) {
                snprintf(p, sizeof(p), "features[%zu]", i);
                rc = parse_value(&f, &r->features[i], err, errsz, p);
                for (size_t j = 0; rc == SL_OK && j != i; ++j)
                    if (strcmp(r->features[j].name, r->features[i].name) == 0)
                        rc = fail(err, errsz, p, "duplicate feature \"%s\" (also at features[%zu])", r->features[i].name, j);
            }
            break;
        }
        if (rc != SL_OK)
            return rc;
    }
    for (int key = 0; key != T_NUM; ++key)
        if (key != T_PREDICTION && (seen & (1u << key)) == 0)
            return fail(err, errsz, "", "missing \"%s\"", top_keys[key]);
    return SL_OK;
}

int sl_reference_parse(const char *text, size_t len, sl_reference_t *out, char *err, size_t errsz)
{
    sl_json_span_t root;
    sl_reference_t r;
    memset(&r, 0, sizeof(r));
    if (sl_json_parse(text, len, &root) != SL_OK)
        return fail(err, errsz, "", "not valid JSON");
    int rc = parse_top(&root, &r, err, errsz);
    if (rc != SL_OK) {
        sl_reference_dispose(&r);
        return rc;
    }
    *out = r;
    return SL_OK;
}

int sl_reference_load(const char *path, sl_reference_t *out, char *err, size_t errsz)
{
    char msg[512];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errsz, "%s: cannot read: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return SL_EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errsz, "%s: cannot read: not a regular file", path);
        close(fd);
        return SL_EIO;
    }
    if ((uint64_t)st.st_size > SL_REFERENCE_MAX_BYTES) {
        snprintf(err, errsz, "%s: larger than %u MiB", path, SL_REFERENCE_MAX_BYTES >> 20);
        close(fd);
        return SL_EIO;
    }
    size_t len = 0, cap = (size_t)st.st_size + 1;
    char *buf = sl_malloc(cap);
    ssize_t n = 0;
    while (len < cap && ((n = read(fd, buf + len, cap - len)) > 0 || (n < 0 && errno == EINTR)))
        len += n > 0 ? (size_t)n : 0;
    int read_errno = n < 0 ? errno : 0;
    close(fd);
    if (read_errno != 0 || len == cap) {
        snprintf(err, errsz, "%s: cannot read: %s", path, read_errno != 0 ? strerror(read_errno) : "the file grew");
        sl_free(buf);
        return SL_EIO;
    }
    int rc = sl_reference_parse(buf, len, out, msg, sizeof(msg));
    if (rc != SL_OK)
        snprintf(err, errsz, "%s: %s", path, msg);
    sl_free(buf);
    return rc;
}

const sl_reference_value_t *sl_reference_find(const sl_reference_t *ref, const char *name)
{
    if (strcmp(name, "prediction") == 0)
        return ref->has_prediction ? &ref->prediction : NULL;
    for (size_t i = 0; i != ref->num_features; ++i)
        if (strcmp(ref->features[i].name, name) == 0)
            return &ref->features[i];
    return NULL;
}

const char *sl_reference_source(const sl_conf_monitor_value_t *v, char *buf, size_t bufsz)
{
    static const char *const derived[] = {"", "prompt_tokens", "message_count", "output_tokens"};
    switch (v->source) {
    case SL_MONITOR_SOURCE_POINTER:
        snprintf(buf, bufsz, "%s", v->pointer);
        break;
    case SL_MONITOR_SOURCE_PROMPT_TOKENS:
    case SL_MONITOR_SOURCE_MESSAGE_COUNT:
    case SL_MONITOR_SOURCE_OUTPUT_TOKENS:
        snprintf(buf, bufsz, "%s", derived[v->source]);
        break;
    case SL_MONITOR_SOURCE_SIGNAL:
        if (v->signal.kind == SL_SIGNAL_JSON)
            snprintf(buf, bufsz, "signal:json:%s", v->signal.arg);
        else if (v->signal.kind == SL_SIGNAL_HEADER)
            snprintf(buf, bufsz, "signal:header:%s", v->signal.arg);
        else
            snprintf(buf, bufsz, "signal:%s",
                     (const char *const[]){"none", "logprob_mean", "logprob_min", "top_prob", "margin"}[v->signal.kind]);
        break;
    case SL_MONITOR_SOURCE_LABEL:
        snprintf(buf, bufsz, "label:%s", v->pointer);
        break;
    case SL_MONITOR_SOURCE_VALUE:
        snprintf(buf, bufsz, "value:%s", v->pointer);
        break;
    }
    return buf;
}

static int check_value(const sl_reference_t *ref, const sl_conf_monitor_value_t *v, int is_prediction, char *err, size_t errsz)
{
    char what[200], src[1200];
    static const char *const types[] = {"numeric", "categorical"};
    if (is_prediction)
        snprintf(what, sizeof(what), "the prediction");
    else
        snprintf(what, sizeof(what), "feature \"%s\"", v->name);
    const sl_reference_value_t *r = sl_reference_find(ref, v->name);
    if (r == NULL) {
        snprintf(err, errsz, "no reference for %s", what);
        return SL_ECONFIG;
    }
    if (r->type != v->type) {
        snprintf(err, errsz, "%s: the reference is %s, the config says %s", what, types[r->type], types[v->type]);
        return SL_ECONFIG;
    }
    sl_reference_source(v, src, sizeof(src));
    if (strcmp(src, r->source) != 0) {
        snprintf(err, errsz, "%s: the reference was made from \"%s\", the config reads \"%s\"", what, r->source, src);
        return SL_ECONFIG;
    }
    if (v->type == SL_MONITOR_NUMERIC && r->num_bins != v->bins) {
        snprintf(err, errsz, "%s: the reference has %zu bins, the config asks for %u", what, r->num_bins, (unsigned)v->bins);
        return SL_ECONFIG;
    }
    if (v->type == SL_MONITOR_CATEGORICAL && r->num_bins > v->max_categories) {
        snprintf(err, errsz, "%s: the reference has %zu categories, more than max_categories (%u)", what, r->num_bins,
                 (unsigned)v->max_categories);
        return SL_ECONFIG;
    }
    return SL_OK;
}

int sl_reference_check(const sl_reference_t *ref, const sl_conf_monitor_t *conf, char *err, size_t errsz)
{
    if (conf->has_prediction && check_value(ref, &conf->prediction, 1, err, errsz) != SL_OK)
        return SL_ECONFIG;
    for (size_t i = 0; i != conf->num_features; ++i)
        if (check_value(ref, &conf->features[i], 0, err, errsz) != SL_OK)
            return SL_ECONFIG;
    return SL_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int sl_reference_numeric(double *values, size_t n, uint32_t bins, double *edges, uint64_t *counts)
{
    if (bins < 2 || bins > SL_CONF_MAX_BINS)
        return SL_EINVAL;
    for (size_t i = 0; i != n; ++i)
        if (!isfinite(values[i]))
            return SL_EINVAL;
    memset(counts, 0, bins * sizeof(*counts));
    if (n == 0) {
        memset(edges, 0, (bins - 1) * sizeof(*edges));
        return SL_OK;
    }
    qsort(values, n, sizeof(*values), cmp_double);
    int rc = sl_drift_edges(values, n, bins, edges);
    if (rc != SL_OK)
        return rc;
    for (size_t i = 0; i != n; ++i) {
        uint32_t b;
        sl_drift_bin(edges, bins, values[i], &b);
        ++counts[b];
    }
    return SL_OK;
}
