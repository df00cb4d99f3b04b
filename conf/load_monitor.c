/*
 * load_monitor.c - a route's `monitor`: the prediction and the input features whose distributions are watched for
 * drift, the reference they are compared with (a file or a baseline captured from live traffic), the sliding window
 * and thresholds of the drift states, and the feedback (delayed ground truth) settings of the quality measures.
 *
 * The block is parsed after the route's cascade (pass 1), so a prediction signal can be checked against the
 * backends that could produce it. A reference file is only named here: it is read and checked against the features
 * when the monitoring policy starts (policies/reference.h) - the file may not exist yet when `sluice reference` reads
 * this config to write it. Every number the policy divides by is bounded here (slots split the window into equal
 * whole milliseconds, bins and categories have caps) so the policy never meets a degenerate config.
 */
#include "conf/conf.h"
#include "common/status.h"
#include "common/str.h"
#include "conf/schema.h"

#include <float.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define SECOND_MS 1000
#define MINUTE_MS 60000
#define DAY_MS 86400000

static const char *const builtin_signals[] = {"logprob_mean", "logprob_min", "top_prob", "margin", NULL};
static const char *const derived_sources[] = {"prompt_tokens", "message_count", "output_tokens", NULL};
static const char *const type_names[] = {"numeric", "categorical", NULL};
static const char *const task_names[] = {"classification", "regression", NULL};

/* Reports an error at the value of key `name` of map (at map when absent), with the key in the path. */
__attribute__((format(printf, 4, 5))) static void error_at_key(sl_conf_ctx_t *ctx, const sl_ynode_t *map, const char *name,
                                                               const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    const sl_ynode_t *n = sl_conf_map_get(map, name);
    size_t saved = sl_conf_path_push_key(ctx, name);
    sl_conf_error(ctx, n != NULL ? n : map, "%s", msg);
    sl_conf_path_pop(ctx, saved);
}

/* prediction ----------------------------------------------------------------------------------------------------- */

/* signal: the accept-signal grammar (logprob_mean | logprob_min | top_prob | margin | json:<ptr> | header:<name>). */
static int p_prediction_signal(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    sl_conf_monitor_value_t *v = (sl_conf_monitor_value_t *)((char *)field - key->offset);
    char buf[256];
    const char *text = sl_conf_scalar(ctx, node), *suggestion;
    int idx;
    if (text == NULL)
        return SL_ECONFIG;
    v->source = SL_MONITOR_SOURCE_SIGNAL;
    if (strncmp(text, "json:", 5) == 0) {
        v->signal.kind = SL_SIGNAL_JSON;
        return (v->signal.arg = sl_conf_json_pointer(ctx, node, text + 5)) != NULL ? SL_OK : SL_ECONFIG;
    }
    if (strncmp(text, "header:", 7) == 0) {
        v->signal.kind = SL_SIGNAL_HEADER;
        return (v->signal.arg = sl_conf_header_name(ctx, node, text + 7)) != NULL ? SL_OK : SL_ECONFIG;
    }
    if (sl_conf_parse_enum(text, builtin_signals, &idx, &suggestion) == SL_OK) {
        v->signal.kind = (enum en_sl_signal_kind_t)(SL_SIGNAL_LOGPROB_MEAN + idx);
        v->signal.arg = NULL;
        return SL_OK;
    }
    if (suggestion != NULL)
        sl_conf_error(ctx, node, "unknown signal %s (did you mean \"%s\"?)", sl_conf_quote(text, buf, sizeof(buf)), suggestion);
    else
        sl_conf_error(ctx, node,
                      "unknown signal %s; expected logprob_mean, logprob_min, top_prob, margin, json:<pointer> or "
                      "header:<name>",
                      sl_conf_quote(text, buf, sizeof(buf)));
    return SL_ECONFIG;
}

/* label / value: a JSON pointer into the answer body ("" is the whole body, e.g. a bare number). */
static int p_prediction_pointer(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    sl_conf_monitor_value_t *v = (sl_conf_monitor_value_t *)((char *)field - key->offset);
    if (sl_conf_p_json_ptr(ctx, node, field, key) != SL_OK)
        return SL_ECONFIG;
    v->source = strcmp(key->name, "label") == 0 ? SL_MONITOR_SOURCE_LABEL : SL_MONITOR_SOURCE_VALUE;
    return SL_OK;
}

static int check_prediction(sl_conf_ctx_t *ctx, const sl_ynode_t *map, void *obj, uint64_t seen);
static const sl_conf_key_t prediction_keys[] = {
    {"signal", p_prediction_signal, offsetof(sl_conf_monitor_value_t, signal)},
    {"label", p_prediction_pointer, offsetof(sl_conf_monitor_value_t, pointer), .max = 1024},
    {"value", p_prediction_pointer, offsetof(sl_conf_monitor_value_t, pointer), .max = 1024},
    {"bins", sl_conf_p_u32, offsetof(sl_conf_monitor_value_t, bins), .def = "10", .min = 2, .max = SL_CONF_MAX_BINS},
    {"max_categories", sl_conf_p_u32, offsetof(sl_conf_monitor_value_t, max_categories), .def = "64", .min = 1,
     .max = SL_CONF_MAX_CATEGORIES},
    {NULL}};
static const sl_conf_block_t prediction_block = {prediction_keys, check_prediction};

static int check_prediction(sl_conf_ctx_t *ctx, const sl_ynode_t *map, void *obj, uint64_t seen)
{
    sl_conf_monitor_value_t *v = obj;
    int n = sl_conf_seen(&prediction_block, seen, "signal") + sl_conf_seen(&prediction_block, seen, "label") +
            sl_conf_seen(&prediction_block, seen, "value");
    if (n != 1) {
        sl_conf_error(ctx, map, n == 0 ? "set one of signal, label and value" : "set only one of signal, label and value");
        return SL_ECONFIG;
    }
    v->name = "prediction";
    v->type = v->source == SL_MONITOR_SOURCE_LABEL ? SL_MONITOR_CATEGORICAL : SL_MONITOR_NUMERIC;
    if (v->type == SL_MONITOR_CATEGORICAL && sl_conf_seen(&prediction_block, seen, "bins")) {
        error_at_key(ctx, map, "bins", "applies to numeric predictions (signal, value), not to label");
        return SL_ECONFIG;
    }
    if (v->type == SL_MONITOR_NUMERIC && sl_conf_seen(&prediction_block, seen, "max_categories")) {
        error_at_key(ctx, map, "max_categories", "applies to label predictions, not to %s",
                     v->source == SL_MONITOR_SOURCE_SIGNAL ? "signal" : "value");
        return SL_ECONFIG;
    }
    return SL_OK;
}

static int p_prediction(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    sl_conf_monitor_t *m = (sl_conf_monitor_t *)((char *)field - key->offset);
    if (sl_conf_walk(ctx, node, key->sub, field) != SL_OK)
        return SL_ECONFIG;
    m->has_prediction = 1;
    return SL_OK;
}

/* features --------------------------------------------------------------------------------------------------------- */

/* Sets v's source from text: a derived source's name or a JSON pointer of the request body. Returns SL_OK, or
 * SL_EINVAL (nothing recorded) when text is neither. */
static int parse_source(sl_conf_ctx_t *ctx, const sl_ynode_t *node, const char *text, sl_conf_monitor_value_t *v)
{
    for (int i = 0; derived_sources[i] != NULL; ++i) {
        if (strcmp(text, derived_sources[i]) == 0) {
            v->source = (enum en_sl_monitor_source_t)(SL_MONITOR_SOURCE_PROMPT_TOKENS + i);
            v->pointer = NULL;
            return SL_OK;
        }
    }
    if (text[0] != '/')
        return SL_EINVAL;
    if ((v->pointer = sl_conf_json_pointer(ctx, node, text)) == NULL)
        return SL_ECONFIG;
    v->source = SL_MONITOR_SOURCE_POINTER;
    return SL_OK;
}

static int p_source(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    char buf[256];
    const char *text = sl_conf_scalar(ctx, node), *suggestion;
    if (text == NULL)
        return SL_ECONFIG;
    if (node->len > 1024) {
        sl_conf_error(ctx, node, "must be at most 1024 bytes long, got %zu", node->len);
        return SL_ECONFIG;
    }
    int r = parse_source(ctx, node, text, field);
    if (r != SL_EINVAL)
        return r;
    if ((suggestion = sl_str_suggest(text, derived_sources)) != NULL)
        sl_conf_error(ctx, node, "unknown source %s (did you mean \"%s\"?)", sl_conf_quote(text, buf, sizeof(buf)), suggestion);
    else
        sl_conf_error(ctx, node,
                      "unknown source %s; expected a JSON pointer of the request body (\"/a/b\"), prompt_tokens, "
                      "message_count or output_tokens",
                      sl_conf_quote(text, buf, sizeof(buf)));
    return SL_ECONFIG;
}

/* name: 1 to 128 bytes without control characters (it is a metric label value); "prediction" is taken. */
static int p_feature_name(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    const char *text = sl_conf_scalar(ctx, node);
    if (text == NULL)
        return SL_ECONFIG;
    for (size_t i = 0; i != node->len; ++i) {
        if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f) {
            sl_conf_error(ctx, node, "must not contain control characters");
            return SL_ECONFIG;
        }
    }
    if (strcmp(text, "prediction") == 0) {
        sl_conf_error(ctx, node, "\"prediction\" is the name of the monitored prediction; choose another name");
        return SL_ECONFIG;
    }
    return sl_conf_p_string(ctx, node, field, key);
}

static int check_feature(sl_conf_ctx_t *ctx, const sl_ynode_t *map, void *obj, uint64_t seen);
static const sl_conf_key_t feature_keys[] = {
    {"name", p_feature_name, offsetof(sl_conf_monitor_value_t, name), .required = 1, .min = 1, .max = 128},
    {"source", p_source, 0},
    {"type", sl_conf_p_enum, offsetof(sl_conf_monitor_value_t, type), .def = "numeric", .arg = type_names},
    {"bins", sl_conf_p_u32, offsetof(sl_conf_monitor_value_t, bins), .def = "10", .min = 2, .max = SL_CONF_MAX_BINS},
    {"max_categories", sl_conf_p_u32, offsetof(sl_conf_monitor_value_t, max_categories), .def = "64", .min = 1,
     .max = SL_CONF_MAX_CATEGORIES},
    {NULL}};
static const sl_conf_block_t feature_block = {feature_keys, check_feature};

static int check_feature(sl_conf_ctx_t *ctx, const sl_ynode_t *map, void *obj, uint64_t seen)
{
    sl_conf_monitor_value_t *v = obj;
    char buf[256];
    if (!sl_conf_seen(&feature_block, seen, "source")) {
        /* the name doubles as the source: {name: prompt_tokens} or {name: /metadata/lang} */
        const sl_ynode_t *n = sl_conf_map_get(map, "name");
        size_t saved = sl_conf_path_push_key(ctx, "name");
        int r = parse_source(ctx, n, v->name, v);
        if (r == SL_EINVAL)
            sl_conf_error(ctx, n,
                          "%s is not a source; add source: a JSON pointer of the request body (\"/a/b\"), "
                          "prompt_tokens, message_count or output_tokens",
                          sl_conf_quote(v->name, buf, sizeof(buf)));
        sl_conf_path_pop(ctx, saved);
        if (r != SL_OK)
            return SL_ECONFIG;
    }
    if (v->source != SL_MONITOR_SOURCE_POINTER && v->type == SL_MONITOR_CATEGORICAL) {
        error_at_key(ctx, map, "type", "must be numeric for %s (a count)", derived_sources[v->source - 1]);
        return SL_ECONFIG;
    }
    if (v->type == SL_MONITOR_CATEGORICAL && sl_conf_seen(&feature_block, seen, "bins")) {
        error_at_key(ctx, map, "bins", "applies to numeric features");
        return SL_ECONFIG;
    }
    if (v->type == SL_MONITOR_NUMERIC && sl_conf_seen(&feature_block, seen, "max_categories")) {
        error_at_key(ctx, map, "max_categories", "applies to categorical features");
        return SL_ECONFIG;
    }
    return SL_OK;
}

static int p_features(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    sl_conf_monitor_t *m = (sl_conf_monitor_t *)((char *)field - key->offset);
    int rc = SL_OK;
    if (sl_conf_expect(ctx, node, SL_YNODE_SEQ) != SL_OK)
        return SL_ECONFIG;
    if (node->num_items > SL_CONF_MAX_FEATURES) {
        sl_conf_error(ctx, node, "too many features (%zu; the limit is %u)", node->num_items, (unsigned)SL_CONF_MAX_FEATURES);
        return SL_ECONFIG;
    }
    sl_conf_monitor_value_t *f = sl_arena_alloc(ctx->arena, (node->num_items != 0 ? node->num_items : 1) * sizeof(*f));
    for (size_t i = 0; i != node->num_items; ++i) {
        size_t saved = sl_conf_path_push_index(ctx, i);
        sl_conf_apply_defaults(ctx, key->sub, &f[i]);
        int ok = sl_conf_walk(ctx, node->items[i], key->sub, &f[i]) == SL_OK;
        if (ok) {
            for (size_t j = 0; j != i; ++j) {
                if (f[j].name != NULL && strcmp(f[j].name, f[i].name) == 0) {
                    const sl_ynode_t *first = sl_conf_map_get(node->items[j], "name");
                    error_at_key(ctx, node->items[i], "name", "duplicate feature name (first defined at %u:%u)",
                                 (unsigned)first->line, (unsigned)first->col);
                    ok = 0;
                    break;
                }
            }
        }
        if (!ok) {
            f[i].name = NULL; /* not compared with later features */
            rc = SL_ECONFIG;
        }
        sl_conf_path_pop(ctx, saved);
    }
    m->features = f;
    m->num_features = node->num_items;
    return rc;
}

/* reference -------------------------------------------------------------------------------------------------------- */

/* file: a path, relative to the config file. It is not opened here: `sluice reference` reads the config to write
 * it, and the policy reads and checks it (contents against the features) when the gateway starts or reloads. */
static int p_reference_file(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    sl_conf_monitor_reference_t *r = (sl_conf_monitor_reference_t *)((char *)field - key->offset);
    if (sl_conf_p_path(ctx, node, field, key) != SL_OK)
        return SL_ECONFIG;
    r->kind = SL_MONITOR_REFERENCE_FILE;
    return SL_OK;
}

static int check_reference(sl_conf_ctx_t *ctx, const sl_ynode_t *map, void *obj, uint64_t seen);
static const sl_conf_key_t reference_keys[] = {
    {"file", p_reference_file, offsetof(sl_conf_monitor_reference_t, file)},
    {"baseline", sl_conf_p_duration, offsetof(sl_conf_monitor_reference_t, baseline_ms), .def = "1h", .min = SECOND_MS,
     .max = 30 * (int64_t)DAY_MS},
    {"baseline_samples", sl_conf_p_u32, offsetof(sl_conf_monitor_reference_t, baseline_samples), .def = "100000", .min = 1,
     .max = 10000000},
    {NULL}};
static const sl_conf_block_t reference_block = {reference_keys, check_reference};

static int check_reference(sl_conf_ctx_t *ctx, const sl_ynode_t *map, void *obj, uint64_t seen)
{
    if (sl_conf_seen(&reference_block, seen, "file") &&
        (sl_conf_seen(&reference_block, seen, "baseline") || sl_conf_seen(&reference_block, seen, "baseline_samples"))) {
        sl_conf_error(ctx, map, "file and baseline are alternatives: set file, or baseline and baseline_samples");
        return SL_ECONFIG;
    }
    return SL_OK;
}

/* reference: a file name, or a mapping (file, or the baseline settings). */
static int p_reference(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    if (node->kind == SL_YNODE_SCALAR)
        return p_reference_file(ctx, node, &((sl_conf_monitor_reference_t *)field)->file, &reference_keys[0]);
    if (node->kind == SL_YNODE_MAP)
        return sl_conf_walk(ctx, node, key->sub, field);
    if (node->kind == SL_YNODE_ALIAS)
        return sl_conf_expect(ctx, node, SL_YNODE_MAP);
    char buf[256];
    sl_conf_error(ctx, node, "expected a file name or a mapping, got %s", sl_conf_describe(node, buf, sizeof(buf)));
    return SL_ECONFIG;
}

/* thresholds ------------------------------------------------------------------------------------------------------- */

static int check_thresholds(sl_conf_ctx_t *ctx, const sl_ynode_t *map, void *obj, uint64_t seen);
static const sl_conf_key_t thresholds_keys[] = {
    {"psi_warn", sl_conf_p_number, offsetof(sl_conf_monitor_thresholds_t, psi_warn), .def = "0.1", .fmax = 1e6},
    {"psi_alert", sl_conf_p_number, offsetof(sl_conf_monitor_thresholds_t, psi_alert), .def = "0.25", .fmax = 1e6},
    {"js_warn", sl_conf_p_number, offsetof(sl_conf_monitor_thresholds_t, js_warn), .def = "0", .fmax = 1},
    {"js_alert", sl_conf_p_number, offsetof(sl_conf_monitor_thresholds_t, js_alert), .def = "0", .fmax = 1},
    {"ks_pvalue", sl_conf_p_number, offsetof(sl_conf_monitor_thresholds_t, ks_pvalue), .def = "0", .fmax = 0.5},
    {"chi2_pvalue", sl_conf_p_number, offsetof(sl_conf_monitor_thresholds_t, chi2_pvalue), .def = "0", .fmax = 0.5},
    {"null_ratio_warn", sl_conf_p_percent, offsetof(sl_conf_monitor_thresholds_t, null_ratio_warn), .def = "0%", .fmax = 1},
    {"null_ratio_alert", sl_conf_p_percent, offsetof(sl_conf_monitor_thresholds_t, null_ratio_alert), .def = "0%", .fmax = 1},
    {"type_error_ratio_warn", sl_conf_p_percent, offsetof(sl_conf_monitor_thresholds_t, type_error_ratio_warn), .def = "0%",
     .fmax = 1},
    {"type_error_ratio_alert", sl_conf_p_percent, offsetof(sl_conf_monitor_thresholds_t, type_error_ratio_alert), .def = "0%",
     .fmax = 1},
    {"hysteresis", sl_conf_p_percent, offsetof(sl_conf_monitor_thresholds_t, hysteresis), .def = "20%", .fmax = 0.9},
    {NULL}};
static const sl_conf_block_t thresholds_block = {thresholds_keys, check_thresholds};

/* An alert threshold below its warning threshold (both on) would skip the warning state. */
static int check_pair(sl_conf_ctx_t *ctx, const sl_ynode_t *map, const char *warn_name, double warn, const char *alert_name,
                      double alert)
{
    if (warn == 0 || alert == 0 || alert >= warn)
        return SL_OK;
    const sl_ynode_t *w = sl_conf_map_get(map, warn_name);
    const char *as_written = w != NULL ? w->text : NULL;
    for (const sl_conf_key_t *k = thresholds_keys; as_written == NULL && k->name != NULL; ++k)
        if (strcmp(k->name, warn_name) == 0)
            as_written = k->def;
    error_at_key(ctx, map, alert_name, "must not be below %s (%s)", warn_name, as_written);
    return SL_ECONFIG;
}

static int check_thresholds(sl_conf_ctx_t *ctx, const sl_ynode_t *map, void *obj, uint64_t seen)
{
    const sl_conf_monitor_thresholds_t *t = obj;
    int rc = SL_OK;
    if (check_pair(ctx, map, "psi_warn", t->psi_warn, "psi_alert", t->psi_alert) != SL_OK)
        rc = SL_ECONFIG;
    if (check_pair(ctx, map, "js_warn", t->js_warn, "js_alert", t->js_alert) != SL_OK)
        rc = SL_ECONFIG;
    if (check_pair(ctx, map, "null_ratio_warn", t->null_ratio_warn, "null_ratio_alert", t->null_ratio_alert) != SL_OK)
        rc = SL_ECONFIG;
    if (check_pair(ctx, map, "type_error_ratio_warn", t->type_error_ratio_warn, "type_error_ratio_alert",
                   t->type_error_ratio_alert) != SL_OK)
        rc = SL_ECONFIG;
    return rc;
}

/* feedback --------------------------------------------------------------------------------------------------------- */

/* labels: 2 to SL_CONF_MAX_LABELS distinct scalars of 1 to SL_CONF_MAX_LABEL_LEN bytes (0, 1 and "0", "1" alike). */
static int p_labels(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    sl_conf_feedback_t *fb = (sl_conf_feedback_t *)((char *)field - key->offset);
    sl_conf_key_t one = {.name = key->name, .min = 1, .max = SL_CONF_MAX_LABEL_LEN};
    int rc = SL_OK;
    if (sl_conf_expect(ctx, node, SL_YNODE_SEQ) != SL_OK)
        return SL_ECONFIG;
    if (node->num_items < 2 || node->num_items > SL_CONF_MAX_LABELS) {
        sl_conf_error(ctx, node, "must list between 2 and %u labels, got %zu", (unsigned)SL_CONF_MAX_LABELS, node->num_items);
        return SL_ECONFIG;
    }
    const char **labels = sl_arena_alloc(ctx->arena, node->num_items * sizeof(*labels));
    for (size_t i = 0; i != node->num_items; ++i) {
        size_t saved = sl_conf_path_push_index(ctx, i);
        if (sl_conf_p_string(ctx, node->items[i], &labels[i], &one) != SL_OK) {
            rc = SL_ECONFIG;
        } else {
            for (size_t j = 0; j != i; ++j) {
                if (labels[j] != NULL && strcmp(labels[j], labels[i]) == 0) {
                    sl_conf_error(ctx, node->items[i], "duplicate label (also at [%zu])", j);
                    rc = SL_ECONFIG;
                    break;
                }
            }
        }
        sl_conf_path_pop(ctx, saved);
    }
    fb->labels = labels;
    fb->num_labels = node->num_items;
    return rc;
}

static int check_feedback(sl_conf_ctx_t *ctx, const sl_ynode_t *map, void *obj, uint64_t seen);
static const sl_conf_key_t feedback_keys[] = {
    {"task", sl_conf_p_enum, offsetof(sl_conf_feedback_t, task), .required = 1, .arg = task_names},
    {"labels", p_labels, offsetof(sl_conf_feedback_t, labels)},
    {"horizon", sl_conf_p_duration, offsetof(sl_conf_feedback_t, horizon_ms), .def = "24h", .min = SECOND_MS,
     .max = 30 * (int64_t)DAY_MS},
    {"max_pending", sl_conf_p_u32, offsetof(sl_conf_feedback_t, max_pending), .def = "100000", .min = 1, .max = 1000000},
    {"window", sl_conf_p_duration, offsetof(sl_conf_feedback_t, window_ms), .def = "24h", .min = MINUTE_MS,
     .max = 30 * (int64_t)DAY_MS},
    {"tolerance", sl_conf_p_number, offsetof(sl_conf_feedback_t, tolerance), .fmax = DBL_MAX},
    {"min_accuracy", sl_conf_p_percent, offsetof(sl_conf_feedback_t, min_accuracy), .def = "0%", .fmax = 1},
    {"max_mae", sl_conf_p_number, offsetof(sl_conf_feedback_t, max_mae), .fmax = DBL_MAX},
    {NULL}};
static const sl_conf_block_t feedback_block = {feedback_keys, check_feedback};

static int check_feedback(sl_conf_ctx_t *ctx, const sl_ynode_t *map, void *obj, uint64_t seen)
{
    sl_conf_feedback_t *fb = obj;
    if (fb->task == SL_FEEDBACK_CLASSIFICATION && !sl_conf_seen(&feedback_block, seen, "labels")) {
        sl_conf_error(ctx, map, "classification needs labels: the classes that precision, recall and F1 average over");
        return SL_ECONFIG;
    }
    if (fb->task == SL_FEEDBACK_REGRESSION && sl_conf_seen(&feedback_block, seen, "labels")) {
        error_at_key(ctx, map, "labels", "applies to classification only");
        return SL_ECONFIG;
    }
    if (fb->task == SL_FEEDBACK_CLASSIFICATION && sl_conf_seen(&feedback_block, seen, "tolerance")) {
        error_at_key(ctx, map, "tolerance", "applies to regression only");
        return SL_ECONFIG;
    }
    if (fb->task == SL_FEEDBACK_REGRESSION && sl_conf_seen(&feedback_block, seen, "min_accuracy")) {
        error_at_key(ctx, map, "min_accuracy", "applies to classification only (regression: max_mae)");
        return SL_ECONFIG;
    }
    if (fb->task == SL_FEEDBACK_CLASSIFICATION && sl_conf_seen(&feedback_block, seen, "max_mae")) {
        error_at_key(ctx, map, "max_mae", "applies to regression only (classification: min_accuracy)");
        return SL_ECONFIG;
    }
    fb->has_tolerance = sl_conf_seen(&feedback_block, seen, "tolerance");
    fb->has_max_mae = sl_conf_seen(&feedback_block, seen, "max_mae");
    fb->enabled = 1;
    return SL_OK;
}

/* monitor ---------------------------------------------------------------------------------------------------------- */

static const sl_conf_key_t monitor_keys[] = {
    {"prediction", p_prediction, offsetof(sl_conf_monitor_t, prediction), .sub = &prediction_block},
    {"features", p_features, offsetof(sl_conf_monitor_t, features), .sub = &feature_block, .sub_path = "[]"},
    {"reference", p_reference, offsetof(sl_conf_monitor_t, reference), .sub = &reference_block},
    {"window", sl_conf_p_duration, offsetof(sl_conf_monitor_t, window_ms), .def = "1h", .min = MINUTE_MS,
     .max = 30 * (int64_t)DAY_MS},
    {"slots", sl_conf_p_u32, offsetof(sl_conf_monitor_t, slots), .def = "60", .min = 2, .max = 1440},
    {"min_samples", sl_conf_p_u32, offsetof(sl_conf_monitor_t, min_samples), .def = "100", .min = 1, .max = 1000000000},
    {"thresholds", sl_conf_p_block, offsetof(sl_conf_monitor_t, thresholds), .sub = &thresholds_block},
    {"feedback", sl_conf_p_block, offsetof(sl_conf_monitor_t, feedback), .sub = &feedback_block},
    {NULL}};
const sl_conf_block_t sl_conf_monitor_block = {monitor_keys, NULL};

/* Describes in msg why window_ms does not split into `slots` equal slots of whole milliseconds of at least a second,
 * or returns 0 when it does. */
static int bad_slots(uint32_t window_ms, uint32_t slots, char *msg, size_t msgsz)
{
    char w[32];
    if (window_ms % slots == 0 && window_ms / slots >= SECOND_MS)
        return 0;
    sl_conf_format_duration(window_ms, w, sizeof(w));
    if (window_ms / slots < SECOND_MS)
        snprintf(msg, msgsz, "%s split into %u slots gives slots shorter than 1s", w, (unsigned)slots);
    else
        snprintf(msg, msgsz, "%s does not split into %u equal slots of whole milliseconds", w, (unsigned)slots);
    return 1;
}

/* Whether some tier of the route has a backend that can produce signal kind. */
static int route_can_produce(const sl_conf_route_t *r, enum en_sl_signal_kind_t kind)
{
    for (size_t i = 0; i != r->num_tiers; ++i) {
        const sl_conf_backend_t *b = r->tiers[i].backend;
        if (b == NULL)
            continue;
        if ((kind == SL_SIGNAL_LOGPROB_MEAN || kind == SL_SIGNAL_LOGPROB_MIN) && b->protocol == SL_PROTOCOL_OPENAI)
            return 1;
        if ((kind == SL_SIGNAL_TOP_PROB || kind == SL_SIGNAL_MARGIN) &&
            (b->protocol == SL_PROTOCOL_KSERVE_V2 || (b->protocol == SL_PROTOCOL_HTTP && b->confidence_pointer != NULL)))
            return 1;
    }
    return kind != SL_SIGNAL_LOGPROB_MEAN && kind != SL_SIGNAL_LOGPROB_MIN && kind != SL_SIGNAL_TOP_PROB &&
           kind != SL_SIGNAL_MARGIN;
}

/* Checks across the monitor's keys and against its route (cascade parsed first: this key is in pass 1). */
static int check_monitor(sl_conf_ctx_t *ctx, const sl_ynode_t *map, const sl_conf_route_t *route, sl_conf_monitor_t *m)
{
    int rc = SL_OK;
    const sl_ynode_t *fb_map = sl_conf_map_get(map, "feedback");
    if (!m->has_prediction && m->num_features == 0) {
        sl_conf_error(ctx, map, "declare prediction, features or both");
        return SL_ECONFIG;
    }
    char msg[160];
    if (bad_slots(m->window_ms, m->slots, msg, sizeof(msg))) {
        /* blame slots when it was written (or nothing was), else the window */
        int at_slots = sl_conf_map_get(map, "slots") != NULL || sl_conf_map_get(map, "window") == NULL;
        error_at_key(ctx, map, at_slots ? "slots" : "window", "the window %s", msg);
        rc = SL_ECONFIG;
    }
    if (m->feedback.enabled) {
        size_t saved = sl_conf_path_push_key(ctx, "feedback");
        if (bad_slots(m->feedback.window_ms, m->slots, msg, sizeof(msg))) {
            error_at_key(ctx, fb_map, "window", "the window %s", msg);
            rc = SL_ECONFIG;
        }
        enum en_sl_monitor_source_t src = m->has_prediction ? m->prediction.source : SL_MONITOR_SOURCE_POINTER;
        if (m->feedback.task == SL_FEEDBACK_CLASSIFICATION && src != SL_MONITOR_SOURCE_LABEL) {
            error_at_key(ctx, fb_map, "task", "classification needs prediction.label (the predicted class)");
            rc = SL_ECONFIG;
        } else if (m->feedback.task == SL_FEEDBACK_REGRESSION && src != SL_MONITOR_SOURCE_VALUE &&
                   src != SL_MONITOR_SOURCE_SIGNAL) {
            error_at_key(ctx, fb_map, "task", "regression needs prediction.value or prediction.signal (the predicted number)");
            rc = SL_ECONFIG;
        }
        sl_conf_path_pop(ctx, saved);
    }
    if (m->has_prediction && m->prediction.source == SL_MONITOR_SOURCE_SIGNAL && route->tiers != NULL &&
        !route_can_produce(route, m->prediction.signal.kind)) {
        int lp = m->prediction.signal.kind == SL_SIGNAL_LOGPROB_MEAN || m->prediction.signal.kind == SL_SIGNAL_LOGPROB_MIN;
        size_t saved = sl_conf_path_push_key(ctx, "prediction");
        error_at_key(ctx, sl_conf_map_get(map, "prediction"), "signal",
                     "%s needs a backend with %s; no tier of this route has one",
                     sl_conf_signal_name(m->prediction.signal.kind),
                     lp ? "protocol openai" : "protocol kserve_v2, or http with a confidence pointer");
        sl_conf_path_pop(ctx, saved);
        rc = SL_ECONFIG;
    }
    return rc;
}

int sl_conf_p_monitor(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    const sl_conf_route_t *route = (const sl_conf_route_t *)((char *)field - key->offset);
    sl_conf_monitor_t *m = field;
    sl_conf_apply_defaults(ctx, key->sub, m);
    sl_conf_apply_defaults(ctx, &reference_block, &m->reference);
    sl_conf_apply_defaults(ctx, &prediction_block, &m->prediction);
    if (sl_conf_walk(ctx, node, key->sub, m) != SL_OK || check_monitor(ctx, node, route, m) != SL_OK)
        return SL_ECONFIG;
    m->enabled = 1;
    return SL_OK;
}
