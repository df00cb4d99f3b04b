/*
 * test_monitor_conf.c - the route-level `monitor` block (conf/load_monitor.c): every default, every key, and a
 * table of invalid blocks with the exact errors the loader must report ("line:col: key.path: message").
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/status.h"
#include "conf/conf.h"

#define HEAD                                                                                                                   \
    "backends:\n"                                                                                                              \
    "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"                                                                 \
    "  cls: {protocol: kserve_v2, endpoints: 127.0.0.1:8002}\n"                                                                \
    "routes:\n"                                                                                                                \
    "  - name: r\n"                                                                                                            \
    "    cascade: [{backend: small}]\n"                                                                                        \
    "    monitor:\n"

static sl_conf_t *load_ok(const char *yaml)
{
    sl_conf_errors_t errs;
    sl_conf_t *c = NULL;
    sl_conf_errors_init(&errs);
    int rc = sl_conf_load_string("m.yaml", yaml, strlen(yaml), &c, &errs);
    cr_assert_eq(rc, SL_OK, "refused: %s", errs.count != 0 ? errs.msgs[0] : "?");
    sl_conf_errors_dispose(&errs);
    return c;
}

Test(monitor_conf, defaults)
{
    sl_conf_t *c = load_ok(HEAD "      prediction: {signal: logprob_mean}\n");
    const sl_conf_monitor_t *m = &c->routes[0].monitor;
    cr_assert_eq(m->enabled, 1);
    cr_assert_eq(m->has_prediction, 1);
    cr_assert_str_eq(m->prediction.name, "prediction");
    cr_assert_eq(m->prediction.source, SL_MONITOR_SOURCE_SIGNAL);
    cr_assert_eq(m->prediction.signal.kind, SL_SIGNAL_LOGPROB_MEAN);
    cr_assert_eq(m->prediction.type, SL_MONITOR_NUMERIC);
    cr_assert_eq(m->prediction.bins, 10);
    cr_assert_eq(m->num_features, 0);
    cr_assert_eq(m->reference.kind, SL_MONITOR_REFERENCE_BASELINE);
    cr_assert_eq(m->reference.baseline_ms, 3600000);
    cr_assert_eq(m->reference.baseline_samples, 100000);
    cr_assert_eq(m->window_ms, 3600000);
    cr_assert_eq(m->slots, 60);
    cr_assert_eq(m->min_samples, 100);
    cr_assert_eq(m->thresholds.psi_warn, 0.1);
    cr_assert_eq(m->thresholds.psi_alert, 0.25);
    cr_assert_eq(m->thresholds.js_warn, 0);
    cr_assert_eq(m->thresholds.js_alert, 0);
    cr_assert_eq(m->thresholds.ks_pvalue, 0);
    cr_assert_eq(m->thresholds.chi2_pvalue, 0);
    cr_assert_eq(m->thresholds.null_ratio_warn, 0);
    cr_assert_eq(m->thresholds.null_ratio_alert, 0);
    cr_assert_eq(m->thresholds.type_error_ratio_warn, 0);
    cr_assert_eq(m->thresholds.type_error_ratio_alert, 0);
    cr_assert_eq(m->thresholds.hysteresis, 0.2);
    cr_assert_eq(m->feedback.enabled, 0);
    sl_conf_release(c);
}

Test(monitor_conf, route_without_monitor_is_off)
{
    sl_conf_t *c = load_ok("backends: {a: {protocol: openai, endpoints: 127.0.0.1:1}}\n"
                           "routes: [{name: r, cascade: [{backend: a}]}]\n");
    cr_assert_eq(c->routes[0].monitor.enabled, 0);
    cr_assert_eq(c->routes[0].monitor.num_features, 0);
    sl_conf_release(c);
}

Test(monitor_conf, every_key)
{
    sl_conf_t *c = load_ok(HEAD "      prediction: {label: /choices/0/message/content, max_categories: 8}\n"
                                "      features:\n"
                                "        - {name: prompt_tokens, bins: 20}\n"
                                "        - {name: /metadata/lang, type: categorical, max_categories: 200}\n"
                                "        - {name: temp, source: \"/params/t~1x\"}\n"
                                "        - {name: out, source: output_tokens}\n"
                                "        - {name: turns, source: message_count}\n"
                                "      reference: {file: ref/chat.json}\n"
                                "      window: 6h\n"
                                "      slots: 120\n"
                                "      min_samples: 1000\n"
                                "      thresholds: {psi_warn: 0.15, psi_alert: 0.3, js_warn: 0.1, js_alert: 0.2,\n"
                                "                   ks_pvalue: 0.001, chi2_pvalue: 0.01, null_ratio_warn: 5%,\n"
                                "                   null_ratio_alert: 20%, type_error_ratio_warn: 1%,\n"
                                "                   type_error_ratio_alert: 5%, hysteresis: 10%}\n"
                                "      feedback: {task: classification, labels: [positive, negative, 3], horizon: 1h,\n"
                                "                 max_pending: 20000, window: 2h, min_accuracy: 92.5%}\n");
    const sl_conf_monitor_t *m = &c->routes[0].monitor;
    cr_assert_eq(m->prediction.source, SL_MONITOR_SOURCE_LABEL);
    cr_assert_str_eq(m->prediction.pointer, "/choices/0/message/content");
    cr_assert_eq(m->prediction.type, SL_MONITOR_CATEGORICAL);
    cr_assert_eq(m->prediction.max_categories, 8);
    cr_assert_eq(m->num_features, 5);
    cr_assert_str_eq(m->features[0].name, "prompt_tokens");
    cr_assert_eq(m->features[0].source, SL_MONITOR_SOURCE_PROMPT_TOKENS);
    cr_assert_eq(m->features[0].bins, 20);
    cr_assert_str_eq(m->features[1].name, "/metadata/lang");
    cr_assert_eq(m->features[1].source, SL_MONITOR_SOURCE_POINTER);
    cr_assert_str_eq(m->features[1].pointer, "/metadata/lang");
    cr_assert_eq(m->features[1].type, SL_MONITOR_CATEGORICAL);
    cr_assert_eq(m->features[1].max_categories, 200);
    cr_assert_str_eq(m->features[2].pointer, "/params/t~1x");
    cr_assert_eq(m->features[2].type, SL_MONITOR_NUMERIC);
    cr_assert_eq(m->features[3].source, SL_MONITOR_SOURCE_OUTPUT_TOKENS);
    cr_assert_eq(m->features[4].source, SL_MONITOR_SOURCE_MESSAGE_COUNT);
    cr_assert_eq(m->reference.kind, SL_MONITOR_REFERENCE_FILE);
    cr_assert_str_eq(m->reference.file, "ref/chat.json");
    cr_assert_eq(m->window_ms, 6 * 3600000);
    cr_assert_eq(m->slots, 120);
    cr_assert_eq(m->min_samples, 1000);
    const sl_conf_monitor_thresholds_t *t = &m->thresholds;
    cr_assert_eq(t->psi_warn, 0.15);
    cr_assert_eq(t->psi_alert, 0.3);
    cr_assert_eq(t->js_warn, 0.1);
    cr_assert_eq(t->js_alert, 0.2);
    cr_assert_eq(t->ks_pvalue, 0.001);
    cr_assert_eq(t->chi2_pvalue, 0.01);
    cr_assert_eq(t->null_ratio_warn, 0.05);
    cr_assert_eq(t->null_ratio_alert, 0.2);
    cr_assert_eq(t->type_error_ratio_warn, 0.01);
    cr_assert_eq(t->type_error_ratio_alert, 0.05);
    cr_assert_eq(t->hysteresis, 0.1);
    const sl_conf_feedback_t *f = &m->feedback;
    cr_assert_eq(f->enabled, 1);
    cr_assert_eq(f->task, SL_FEEDBACK_CLASSIFICATION);
    cr_assert_eq(f->num_labels, 3);
    cr_assert_str_eq(f->labels[0], "positive");
    cr_assert_str_eq(f->labels[2], "3");
    cr_assert_eq(f->horizon_ms, 3600000);
    cr_assert_eq(f->max_pending, 20000);
    cr_assert_eq(f->window_ms, 7200000);
    cr_assert_eq(f->has_tolerance, 0);
    cr_assert_eq(f->min_accuracy, 0.925);
    cr_assert_eq(f->has_max_mae, 0);
    sl_conf_release(c);
}

Test(monitor_conf, reference_forms_and_regression_feedback)
{
    sl_conf_t *c = load_ok(HEAD "      prediction: {value: \"\"}\n"
                                "      reference: my.json\n"
                                "      feedback: {task: regression, tolerance: 0.5, max_mae: 2.5}\n");
    const sl_conf_monitor_t *m = &c->routes[0].monitor;
    cr_assert_eq(m->prediction.source, SL_MONITOR_SOURCE_VALUE);
    cr_assert_str_eq(m->prediction.pointer, "");
    cr_assert_eq(m->reference.kind, SL_MONITOR_REFERENCE_FILE);
    cr_assert_str_eq(m->reference.file, "my.json");
    cr_assert_eq(m->feedback.task, SL_FEEDBACK_REGRESSION);
    cr_assert_eq(m->feedback.has_tolerance, 1);
    cr_assert_eq(m->feedback.tolerance, 0.5);
    cr_assert_eq(m->feedback.has_max_mae, 1);
    cr_assert_eq(m->feedback.max_mae, 2.5);
    cr_assert_eq(m->feedback.min_accuracy, 0);
    cr_assert_eq(m->feedback.horizon_ms, 86400000);
    cr_assert_eq(m->feedback.max_pending, 100000);
    cr_assert_eq(m->feedback.window_ms, 86400000);
    sl_conf_release(c);
    c = load_ok(HEAD "      features: [{name: message_count}]\n"
                     "      reference: {baseline: 30m, baseline_samples: 5000}\n");
    m = &c->routes[0].monitor;
    cr_assert_eq(m->has_prediction, 0);
    cr_assert_eq(m->reference.kind, SL_MONITOR_REFERENCE_BASELINE);
    cr_assert_eq(m->reference.baseline_ms, 1800000);
    cr_assert_eq(m->reference.baseline_samples, 5000);
    sl_conf_release(c);
}

Test(monitor_conf, signal_checked_against_the_cascade)
{
    /* top_prob is produced by a kserve_v2 tier: accepted when the cascade has one */
    sl_conf_t *c = load_ok("backends:\n"
                           "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
                           "  cls: {protocol: kserve_v2, endpoints: 127.0.0.1:8002}\n"
                           "routes:\n"
                           "  - name: r\n"
                           "    monitor: {prediction: {signal: top_prob}}\n" /* before the cascade: parsed after it */
                           "    cascade: [{backend: small}, {backend: cls}]\n");
    cr_assert_eq(c->routes[0].monitor.prediction.signal.kind, SL_SIGNAL_TOP_PROB);
    sl_conf_release(c);
}

typedef struct st_bad_monitor_t {
    const char *name;
    const char *yaml; /* appended to HEAD: line 8 is the first line of the monitor block */
    const char *expected[4];
} bad_monitor_t;

static const bad_monitor_t bad[] = {
    {"empty", "      {}\n", {"8:7: routes[0].monitor: declare prediction, features or both", NULL}},
    {"not_a_mapping", "      on\n", {"8:7: routes[0].monitor: expected a mapping, got \"on\"", NULL}},
    {"unknown_key", "      feature: []\n", {"8:7: routes[0].monitor.feature: unknown key (did you mean \"features\"?)", NULL}},
    {"two_predictions",
     "      prediction: {signal: logprob_mean, value: /x}\n",
     {"8:19: routes[0].monitor.prediction: set only one of signal, label and value", NULL}},
    {"no_prediction_source",
     "      prediction: {bins: 5}\n",
     {"8:19: routes[0].monitor.prediction: set one of signal, label and value", NULL}},
    {"signal_typo",
     "      prediction: {signal: logprob_maen}\n",
     {"8:28: routes[0].monitor.prediction.signal: unknown signal \"logprob_maen\" (did you mean \"logprob_mean\"?)", NULL}},
    {"signal_without_backend",
     "      prediction: {signal: top_prob}\n",
     {"8:28: routes[0].monitor.prediction.signal: top_prob needs a backend with protocol kserve_v2, or http with a "
      "confidence pointer; no tier of this route has one",
      NULL}},
    {"bins_on_label",
     "      prediction: {label: /l, bins: 4}\n",
     {"8:37: routes[0].monitor.prediction.bins: applies to numeric predictions (signal, value), not to label", NULL}},
    {"max_categories_on_value",
     "      prediction: {value: /v, max_categories: 4}\n",
     {"8:47: routes[0].monitor.prediction.max_categories: applies to label predictions, not to value", NULL}},
    {"bad_label_pointer",
     "      prediction: {label: a/b}\n",
     {"8:27: routes[0].monitor.prediction.label: invalid JSON pointer \"a/b\": a JSON pointer must be empty or start with "
      "\"/\" (RFC 6901)",
      NULL}},
    {"name_is_not_a_source",
     "      features: [{name: lang}]\n",
     {"8:25: routes[0].monitor.features[0].name: \"lang\" is not a source; add source: a JSON pointer of the request body "
      "(\"/a/b\"), prompt_tokens, message_count or output_tokens",
      NULL}},
    {"source_typo",
     "      features: [{name: p, source: prompt_token}]\n",
     {"8:36: routes[0].monitor.features[0].source: unknown source \"prompt_token\" (did you mean \"prompt_tokens\"?)", NULL}},
    {"source_not_a_pointer",
     "      features: [{name: p, source: metadata/lang}]\n",
     {"8:36: routes[0].monitor.features[0].source: unknown source \"metadata/lang\"; expected a JSON pointer of the request "
      "body (\"/a/b\"), prompt_tokens, message_count or output_tokens",
      NULL}},
    {"source_bad_escape",
     "      features: [{name: p, source: /a~2}]\n",
     {"8:36: routes[0].monitor.features[0].source: invalid JSON pointer \"/a~2\": \"~\" must be followed by \"0\" or \"1\" in "
      "a JSON pointer (RFC 6901)",
      NULL}},
    {"derived_categorical",
     "      features: [{name: prompt_tokens, type: categorical}]\n",
     {"8:46: routes[0].monitor.features[0].type: must be numeric for prompt_tokens (a count)", NULL}},
    {"type_typo",
     "      features: [{name: /x, type: categorial}]\n",
     {"8:35: routes[0].monitor.features[0].type: invalid value \"categorial\" (did you mean \"categorical\"?)", NULL}},
    {"bins_on_categorical",
     "      features: [{name: /x, type: categorical, bins: 4}]\n",
     {"8:54: routes[0].monitor.features[0].bins: applies to numeric features", NULL}},
    {"max_categories_on_numeric",
     "      features: [{name: /x, max_categories: 4}]\n",
     {"8:45: routes[0].monitor.features[0].max_categories: applies to categorical features", NULL}},
    {"bins_range",
     "      features: [{name: /x, bins: 1}, {name: /y, max_categories: 2000, type: categorical}]\n",
     {"8:35: routes[0].monitor.features[0].bins: must be between 2 and 1000, got 1",
      "8:66: routes[0].monitor.features[1].max_categories: must be between 1 and 1024, got 2000", NULL}},
    {"duplicate_feature",
     "      features: [{name: /x}, {name: /y}, {name: /x}]\n",
     {"8:49: routes[0].monitor.features[2].name: duplicate feature name (first defined at 8:25)", NULL}},
    {"reserved_name",
     "      features: [{name: prediction, source: /p}]\n",
     {"8:25: routes[0].monitor.features[0].name: \"prediction\" is the name of the monitored prediction; choose another name",
      NULL}},
    {"name_control_char",
     "      features: [{name: \"a\\tb\", source: /p}]\n",
     {"8:25: routes[0].monitor.features[0].name: must not contain control characters", NULL}},
    {"missing_name",
     "      features: [{source: /p}]\n",
     {"8:18: routes[0].monitor.features[0]: missing required key \"name\"", NULL}},
    {"reference_both",
     "      features: [{name: /x}]\n      reference: {file: r.json, baseline: 1h}\n",
     {"9:18: routes[0].monitor.reference: file and baseline are alternatives: set file, or baseline and "
      "baseline_samples",
      NULL}},
    {"reference_sequence",
     "      features: [{name: /x}]\n      reference: [r.json]\n",
     {"9:18: routes[0].monitor.reference: expected a file name or a mapping, got a sequence", NULL}},
    {"reference_empty_file",
     "      features: [{name: /x}]\n      reference: \"\"\n",
     {"9:18: routes[0].monitor.reference: must not be empty", NULL}},
    {"baseline_range",
     "      features: [{name: /x}]\n      reference: {baseline: 100ms, baseline_samples: 0}\n",
     {"9:29: routes[0].monitor.reference.baseline: must be between 1s and 30d, got 100ms",
      "9:54: routes[0].monitor.reference.baseline_samples: must be between 1 and 10000000, got 0", NULL}},
    {"slots_do_not_divide",
     "      features: [{name: /x}]\n      slots: 7\n",
     {"9:14: routes[0].monitor.slots: the window 1h does not split into 7 equal slots of whole milliseconds", NULL}},
    {"slots_too_short",
     "      features: [{name: /x}]\n      window: 1m\n      slots: 100\n",
     {"10:14: routes[0].monitor.slots: the window 1m split into 100 slots gives slots shorter than 1s", NULL}},
    {"window_does_not_split",
     "      features: [{name: /x}]\n      window: 61s\n",
     {"9:15: routes[0].monitor.window: the window 61s does not split into 60 equal slots of whole milliseconds", NULL}},
    {"window_range",
     "      features: [{name: /x}]\n      window: 31d\n",
     {"9:15: routes[0].monitor.window: must be between 1m and 30d, got 31d", NULL}},
    {"alert_below_warn",
     "      features: [{name: /x}]\n      thresholds: {psi_warn: 0.3, psi_alert: 0.2}\n",
     {"9:46: routes[0].monitor.thresholds.psi_alert: must not be below psi_warn (0.3)", NULL}},
    {"alert_below_default_warn",
     "      features: [{name: /x}]\n      thresholds: {null_ratio_warn: 10%, null_ratio_alert: 5%,\n"
     "                   js_alert: 0.05, js_warn: 0.1}\n",
     {"9:60: routes[0].monitor.thresholds.null_ratio_alert: must not be below null_ratio_warn (10%)",
      "10:30: routes[0].monitor.thresholds.js_alert: must not be below js_warn (0.1)", NULL}},
    {"ratio_without_percent",
     "      features: [{name: /x}]\n      thresholds: {type_error_ratio_warn: 0.05}\n",
     {"9:43: routes[0].monitor.thresholds.type_error_ratio_warn: invalid percentage \"0.05\": a bare number is ambiguous; "
      "write it with \"%\", e.g. \"99.9%\"",
      NULL}},
    {"pvalue_range",
     "      features: [{name: /x}]\n      thresholds: {ks_pvalue: 0.9, psi_warn: -1}\n",
     {"9:31: routes[0].monitor.thresholds.ks_pvalue: must be between 0 and 0.5, got 0.9",
      "9:46: routes[0].monitor.thresholds.psi_warn: must be between 0 and 1e+06, got -1", NULL}},
    {"feedback_without_task",
     "      prediction: {label: /l}\n      feedback: {labels: [a, b]}\n",
     {"9:17: routes[0].monitor.feedback: missing required key \"task\"", NULL}},
    {"classification_without_labels",
     "      prediction: {label: /l}\n      feedback: {task: classification}\n",
     {"9:17: routes[0].monitor.feedback: classification needs labels: the classes that precision, recall and F1 "
      "average over",
      NULL}},
    {"labels_on_regression",
     "      prediction: {value: /v}\n      feedback: {task: regression, labels: [a, b]}\n",
     {"9:44: routes[0].monitor.feedback.labels: applies to classification only", NULL}},
    {"tolerance_on_classification",
     "      prediction: {label: /l}\n      feedback: {task: classification, labels: [a, b], tolerance: 1}\n",
     {"9:67: routes[0].monitor.feedback.tolerance: applies to regression only", NULL}},
    {"min_accuracy_on_regression",
     "      prediction: {value: /v}\n      feedback: {task: regression, min_accuracy: 90%}\n",
     {"9:50: routes[0].monitor.feedback.min_accuracy: applies to classification only (regression: max_mae)", NULL}},
    {"max_mae_on_classification",
     "      prediction: {label: /l}\n      feedback: {task: classification, labels: [a, b], max_mae: 1}\n",
     {"9:65: routes[0].monitor.feedback.max_mae: applies to regression only (classification: min_accuracy)", NULL}},
    {"min_accuracy_range",
     "      prediction: {label: /l}\n      feedback: {task: classification, labels: [a, b], min_accuracy: 120%}\n",
     {"9:70: routes[0].monitor.feedback.min_accuracy: must be between 0% and 100%, got 120%", NULL}},
    {"classification_needs_label",
     "      prediction: {signal: logprob_mean}\n"
     "      feedback: {task: classification, labels: [a, b]}\n",
     {"9:24: routes[0].monitor.feedback.task: classification needs prediction.label (the predicted class)", NULL}},
    {"regression_needs_number",
     "      features: [{name: /x}]\n      feedback: {task: regression}\n",
     {"9:24: routes[0].monitor.feedback.task: regression needs prediction.value or prediction.signal (the predicted "
      "number)",
      NULL}},
    {"labels_bad",
     "      prediction: {label: /l}\n      feedback: {task: classification, labels: [a, b, a, \"\"]}\n",
     {"9:55: routes[0].monitor.feedback.labels[2]: duplicate label (also at [0])",
      "9:58: routes[0].monitor.feedback.labels[3]: must not be empty", NULL}},
    {"one_label",
     "      prediction: {label: /l}\n      feedback: {task: classification, labels: [a]}\n",
     {"9:48: routes[0].monitor.feedback.labels: must list between 2 and 64 labels, got 1", NULL}},
    {"feedback_ranges",
     "      prediction: {value: /v}\n"
     "      feedback: {task: regression, horizon: 0, max_pending: 2000000, window: 61s}\n",
     {"9:45: routes[0].monitor.feedback.horizon: must be between 1s and 30d, got 0",
      "9:61: routes[0].monitor.feedback.max_pending: must be between 1 and 1000000, got 2000000", NULL}},
    {"feedback_window_does_not_split",
     "      prediction: {value: /v}\n      feedback: {task: regression, window: 61s}\n",
     {"9:44: routes[0].monitor.feedback.window: the window 61s does not split into 60 equal slots of whole milliseconds",
      NULL}},
};

Test(monitor_conf, bad_blocks_report_exactly_their_errors)
{
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i) {
        char yaml[4096];
        snprintf(yaml, sizeof(yaml), "%s%s", HEAD, bad[i].yaml);
        sl_conf_errors_t errs;
        sl_conf_t *out = NULL;
        sl_conf_errors_init(&errs);
        int rc = sl_conf_load_string("bad.yaml", yaml, strlen(yaml), &out, &errs);
        cr_expect_eq(rc, SL_ECONFIG, "%s: rc %d", bad[i].name, rc);
        cr_expect_null(out, "%s: output written on failure", bad[i].name);
        size_t n = 0;
        while (bad[i].expected[n] != NULL)
            ++n;
        cr_expect_eq(errs.count, n, "%s: %zu errors, expected %zu (first: %s)", bad[i].name, errs.count, n,
                     errs.count != 0 ? errs.msgs[0] : "none");
        for (size_t j = 0; j != n && j != errs.count; ++j) {
            char want[1024];
            snprintf(want, sizeof(want), "bad.yaml:%s", bad[i].expected[j]);
            cr_expect_str_eq(errs.msgs[j], want, "%s: error %zu is\n  %s\nnot\n  %s", bad[i].name, j, errs.msgs[j], want);
        }
        if (out != NULL)
            sl_conf_release(out);
        sl_conf_errors_dispose(&errs);
    }
}

Test(monitor_conf, too_many_features)
{
    char yaml[8192];
    size_t o = (size_t)snprintf(yaml, sizeof(yaml), "%s      features:\n", HEAD);
    for (int i = 0; i != SL_CONF_MAX_FEATURES + 1; ++i)
        o += (size_t)snprintf(yaml + o, sizeof(yaml) - o, "        - {name: /f%d}\n", i);
    sl_conf_errors_t errs;
    sl_conf_t *out = NULL;
    sl_conf_errors_init(&errs);
    cr_assert_eq(sl_conf_load_string("bad.yaml", yaml, o, &out, &errs), SL_ECONFIG);
    cr_assert_eq(errs.count, 1);
    cr_assert_str_eq(errs.msgs[0], "bad.yaml:9:9: routes[0].monitor.features: too many features (33; the limit is 32)");
    sl_conf_errors_dispose(&errs);
}
