/*
 * test_rollout_conf.c - a tier's `rollout` block (conf/load_rollout.c): every default, every key set away from its
 * default, and the table of invalid blocks with the exact errors the loader reports, as "line:col: key.path:
 * message", in file order.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/status.h"
#include "conf/conf.h"

#define BACKENDS                                                                                                               \
    "backends:\n"                                                                                                              \
    "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"                                                                 \
    "  large: {protocol: openai, endpoints: 127.0.0.1:8011}\n"                                                                 \
    "  large-v2: {protocol: openai, endpoints: 127.0.0.1:8014}\n"                                                              \
    "  clf: {protocol: kserve_v2, endpoints: 127.0.0.1:8021}\n"

/* BACKENDS is 5 lines; the tier's rollout starts on line 9 */
#define ROUTE_HEAD                                                                                                             \
    "routes:\n"                                                                                                                \
    "  - name: chat\n"                                                                                                         \
    "    cascade:\n"

static sl_conf_t *load_ok(const char *yaml)
{
    sl_conf_errors_t errs;
    sl_conf_t *conf = NULL;
    sl_conf_errors_init(&errs);
    int rc = sl_conf_load_string("test.yaml", yaml, strlen(yaml), &conf, &errs);
    cr_assert_eq(rc, SL_OK, "load failed: %s", errs.count != 0 ? errs.msgs[0] : "?");
    sl_conf_errors_dispose(&errs);
    return conf;
}

Test(rollout_conf, no_block_leaves_the_rollout_off)
{
    sl_conf_t *c = load_ok(BACKENDS ROUTE_HEAD "      - backend: large\n");
    const sl_conf_rollout_t *r = &c->routes[0].tiers[0].rollout;
    cr_assert_eq(r->enabled, 0);
    cr_assert_null(r->canary);
    cr_assert_eq(r->num_steps, 0);
    sl_conf_release(c);
}

Test(rollout_conf, defaults)
{
    sl_conf_t *c = load_ok(BACKENDS ROUTE_HEAD "      - backend: large\n"
                                               "        rollout: {canary: large-v2}\n");
    const sl_conf_rollout_t *r = &c->routes[0].tiers[0].rollout;
    cr_assert_eq(r->enabled, 1);
    cr_assert_str_eq(r->canary->name, "large-v2");
    cr_assert_eq(r->num_steps, 5);
    static const uint32_t steps[] = {50, 100, 250, 500, 1000};
    for (size_t i = 0; i != 5; ++i)
        cr_assert_eq(r->steps_permille[i], steps[i], "step %zu", i);
    cr_assert_eq(r->interval_ms, 60000);
    cr_assert_eq(r->min_samples, 200);
    cr_assert_eq(r->failure_limit, 3);
    cr_assert_eq(r->sticky, SL_CONF_STICKY_NONE);
    cr_assert_null(r->sticky_name);
    cr_assert_eq(r->critical_mask, (1u << SL_CONF_CHECK_ERROR_RATE) | (1u << SL_CONF_CHECK_LATENCY));

    const sl_conf_check_t *e = &r->checks[SL_CONF_CHECK_ERROR_RATE];
    cr_assert_eq(e->enabled, 1);
    cr_assert_float_eq(e->alpha, 0.0025, 1e-15);
    cr_assert_float_eq(e->ratio, 1.1, 0);
    cr_assert_float_eq(e->min_effect, 0.001, 1e-15);
    cr_assert_float_eq(e->detect_ratio, 5, 0);
    cr_assert_float_eq(e->detect_increase, 0.005, 1e-15);
    for (int k = SL_CONF_CHECK_LATENCY; k <= SL_CONF_CHECK_TPOT; ++k) {
        const sl_conf_check_t *l = &r->checks[k];
        cr_assert_eq(l->enabled, k == SL_CONF_CHECK_LATENCY, "%s", sl_conf_rollout_check_name(k));
        cr_assert_float_eq(l->alpha, 0.0001, 1e-15);
        cr_assert_float_eq(l->min_effect, 0.05, 1e-15);
        cr_assert_float_eq(l->ratio, 1.5, 0);
        cr_assert_eq(l->min_samples, 50);
    }
    const sl_conf_check_t *a = &r->checks[SL_CONF_CHECK_ACCEPT_RATE];
    cr_assert_eq(a->enabled, 0);
    cr_assert_float_eq(a->alpha, 0.0001, 1e-15);
    cr_assert_float_eq(a->min_effect, 0.02, 1e-15);
    cr_assert_eq(a->min_samples, 100);
    const sl_conf_check_t *k = &r->checks[SL_CONF_CHECK_CONFIDENCE];
    cr_assert_eq(k->enabled, 0);
    cr_assert_float_eq(k->min_effect, 0.1, 0);
    cr_assert_eq(k->min_samples, 100);
    const sl_conf_check_t *s = &r->checks[SL_CONF_CHECK_SRM];
    cr_assert_eq(s->enabled, 1);
    cr_assert_float_eq(s->alpha, 0.005, 1e-15);
    cr_assert_eq(s->hold, 1);
    const sl_conf_check_t *f = &r->checks[SL_CONF_CHECK_FEEDBACK_ACCURACY];
    cr_assert_eq(f->enabled, 0);
    cr_assert_float_eq(f->alpha, 0.001, 1e-15);
    cr_assert_float_eq(f->min_effect, 0.02, 1e-15);
    cr_assert_eq(f->min_samples, 200);
    sl_conf_release(c);
}

Test(rollout_conf, every_key_away_from_its_default)
{
    sl_conf_t *c =
        load_ok(BACKENDS ROUTE_HEAD "      - backend: small\n"
                                    "        accept: {signal: logprob_mean, min: -0.4}\n"
                                    "        rollout:\n"
                                    "          canary: large\n"
                                    "          steps: [0.5%, 2.5%, 12.5%, 60%]\n"
                                    "          interval: 90s\n"
                                    "          min_samples: 1000\n"
                                    "          failure_limit: 5\n"
                                    "          sticky: header:X-User-Id\n"
                                    "          critical: [error_rate, ttft, accept_rate]\n"
                                    "          checks:\n"
                                    "            error_rate: {alpha: 0.0005, min_ratio: 1.25, min_increase: 0.5%, detect_ratio: 3,"
                                    " detect_increase: 1%}\n"
                                    "            latency: {enabled: false}\n"
                                    "            ttft: {alpha: 0.001, min_effect: 10%, p99_ratio: 2, min_samples: 200}\n"
                                    "            tpot: {enabled: true}\n"
                                    "            accept_rate: {min_effect: 5%, min_samples: 300}\n"
                                    "            confidence: {alpha: 0.01, min_effect: 0.2, min_samples: 400}\n"
                                    "            srm: {alpha: 0.0001, hold: false}\n"
                                    "            feedback_accuracy: {alpha: 0.01, min_effect: 5%, min_samples: 5000}\n"
                                    "      - backend: large\n"
                                    "        rollout: {canary: large-v2, sticky: cookie:session_ID}\n"
                                    "    monitor:\n"
                                    "      prediction: {label: /choices/0/message/content}\n"
                                    "      feedback: {task: classification, labels: [yes, no]}\n");
    const sl_conf_rollout_t *r = &c->routes[0].tiers[0].rollout;
    cr_assert_str_eq(r->canary->name, "large");
    cr_assert_eq(r->num_steps, 4);
    cr_assert_eq(r->steps_permille[0], 5);
    cr_assert_eq(r->steps_permille[1], 25);
    cr_assert_eq(r->steps_permille[2], 125);
    cr_assert_eq(r->steps_permille[3], 600);
    cr_assert_eq(r->interval_ms, 90000);
    cr_assert_eq(r->min_samples, 1000);
    cr_assert_eq(r->failure_limit, 5);
    cr_assert_eq(r->sticky, SL_CONF_STICKY_HEADER);
    cr_assert_str_eq(r->sticky_name, "x-user-id");
    cr_assert_eq(r->critical_mask,
                 (1u << SL_CONF_CHECK_ERROR_RATE) | (1u << SL_CONF_CHECK_TTFT) | (1u << SL_CONF_CHECK_ACCEPT_RATE));
    cr_assert_float_eq(r->checks[SL_CONF_CHECK_ERROR_RATE].alpha, 0.0005, 1e-15);
    cr_assert_float_eq(r->checks[SL_CONF_CHECK_ERROR_RATE].ratio, 1.25, 0);
    cr_assert_float_eq(r->checks[SL_CONF_CHECK_ERROR_RATE].min_effect, 0.005, 1e-15);
    cr_assert_float_eq(r->checks[SL_CONF_CHECK_ERROR_RATE].detect_ratio, 3, 0);
    cr_assert_float_eq(r->checks[SL_CONF_CHECK_ERROR_RATE].detect_increase, 0.01, 1e-15);
    cr_assert_eq(r->checks[SL_CONF_CHECK_LATENCY].enabled, 0);
    cr_assert_eq(r->checks[SL_CONF_CHECK_TTFT].enabled, 1);
    cr_assert_float_eq(r->checks[SL_CONF_CHECK_TTFT].alpha, 0.001, 1e-15);
    cr_assert_float_eq(r->checks[SL_CONF_CHECK_TTFT].min_effect, 0.1, 1e-15);
    cr_assert_float_eq(r->checks[SL_CONF_CHECK_TTFT].ratio, 2, 0);
    cr_assert_eq(r->checks[SL_CONF_CHECK_TTFT].min_samples, 200);
    cr_assert_eq(r->checks[SL_CONF_CHECK_TPOT].enabled, 1);
    cr_assert_eq(r->checks[SL_CONF_CHECK_TPOT].min_samples, 50);
    cr_assert_eq(r->checks[SL_CONF_CHECK_ACCEPT_RATE].enabled, 1);
    cr_assert_float_eq(r->checks[SL_CONF_CHECK_ACCEPT_RATE].min_effect, 0.05, 1e-15);
    cr_assert_eq(r->checks[SL_CONF_CHECK_ACCEPT_RATE].min_samples, 300);
    cr_assert_eq(r->checks[SL_CONF_CHECK_CONFIDENCE].enabled, 1);
    cr_assert_float_eq(r->checks[SL_CONF_CHECK_CONFIDENCE].alpha, 0.01, 1e-15);
    cr_assert_float_eq(r->checks[SL_CONF_CHECK_CONFIDENCE].min_effect, 0.2, 0);
    cr_assert_eq(r->checks[SL_CONF_CHECK_CONFIDENCE].min_samples, 400);
    cr_assert_eq(r->checks[SL_CONF_CHECK_SRM].enabled, 1);
    cr_assert_float_eq(r->checks[SL_CONF_CHECK_SRM].alpha, 0.0001, 1e-15);
    cr_assert_eq(r->checks[SL_CONF_CHECK_SRM].hold, 0);
    const sl_conf_check_t *f = &r->checks[SL_CONF_CHECK_FEEDBACK_ACCURACY];
    cr_assert_eq(f->enabled, 1);
    cr_assert_float_eq(f->alpha, 0.01, 1e-15);
    cr_assert_float_eq(f->min_effect, 0.05, 1e-15);
    cr_assert_eq(f->min_samples, 5000);

    const sl_conf_rollout_t *r2 = &c->routes[0].tiers[1].rollout;
    cr_assert_eq(r2->sticky, SL_CONF_STICKY_COOKIE);
    cr_assert_str_eq(r2->sticky_name, "session_ID");
    sl_conf_release(c);
}

Test(rollout_conf, disabled_latency_leaves_the_default_critical_list)
{
    sl_conf_t *c = load_ok(BACKENDS ROUTE_HEAD "      - backend: large\n"
                                               "        rollout: {canary: large-v2, checks: {latency: {enabled: "
                                               "false}, error_rate: {}}}\n");
    const sl_conf_rollout_t *r = &c->routes[0].tiers[0].rollout;
    cr_assert_eq(r->critical_mask, 1u << SL_CONF_CHECK_ERROR_RATE);
    cr_assert_eq(r->checks[SL_CONF_CHECK_ERROR_RATE].enabled, 1);
    cr_assert_eq(r->checks[SL_CONF_CHECK_LATENCY].enabled, 0);
    sl_conf_release(c);
}

Test(rollout_conf, check_names)
{
    static const char *const names[] = {"error_rate", "latency",    "ttft", "tpot",
                                        "accept_rate", "confidence", "srm",  "feedback_accuracy"};
    for (int c = 0; c != SL_CONF_CHECK_COUNT; ++c)
        cr_assert_str_eq(sl_conf_rollout_check_name(c), names[c]);
    cr_assert_str_eq(sl_conf_rollout_check_name(SL_CONF_CHECK_COUNT), "?");
}

typedef struct st_bad_case_t {
    const char *name;
    const char *tier; /* YAML of the cascade's tiers, starting on line 9 */
    const char *expected[10];
} bad_case_t;

static const bad_case_t cases[] = {
    {"canary_missing",
     "      - backend: large\n"
     "        rollout: {steps: [10%, 50%]}\n",
     {"10:18: routes[0].cascade[0].rollout: missing required key \"canary\"", NULL}},
    {"canary_undefined",
     "      - backend: large\n"
     "        rollout: {canary: large-v3}\n",
     {"10:27: routes[0].cascade[0].rollout.canary: undefined backend \"large-v3\" (did you mean \"large-v2\"?)", NULL}},
    {"canary_is_the_tier_backend",
     "      - backend: large\n"
     "        rollout: {canary: large}\n",
     {"10:27: routes[0].cascade[0].rollout.canary: backend \"large\" is the tier's own backend; the canary must be "
      "another backend",
      NULL}},
    {"canary_other_protocol",
     "      - backend: large\n"
     "        rollout: {canary: clf}\n",
     {"10:27: routes[0].cascade[0].rollout.canary: backend \"clf\" speaks kserve_v2 but the tier's backend "
      "\"large\" speaks openai",
      NULL}},
    {"canary_not_a_string",
     "      - backend: large\n"
     "        rollout: {canary: [large-v2]}\n",
     {"10:27: routes[0].cascade[0].rollout.canary: expected a single value, got a sequence", NULL}},
    {"rollout_not_a_mapping",
     "      - backend: large\n"
     "        rollout: large-v2\n",
     {"10:18: routes[0].cascade[0].rollout: expected a mapping, got \"large-v2\"", NULL}},
    {"steps_not_increasing",
     "      - backend: large\n"
     "        rollout: {canary: large-v2, steps: [5%, 25%, 10%, 10%, 100%]}\n",
     {"10:54: routes[0].cascade[0].rollout.steps[2]: steps must increase: 10% is not above the step before it (25%)",
      "10:59: routes[0].cascade[0].rollout.steps[3]: steps must increase: 10% is not above the step before it (25%)", NULL}},
    {"steps_out_of_range",
     "      - backend: large\n"
     "        rollout: {canary: large-v2, steps: [0%, 50%, 150%]}\n",
     {"10:45: routes[0].cascade[0].rollout.steps[0]: must be above 0% and at most 100%, got 0%",
      "10:54: routes[0].cascade[0].rollout.steps[2]: must be above 0% and at most 100%, got 150%", NULL}},
    {"step_finer_than_a_tenth",
     "      - backend: large\n"
     "        rollout: {canary: large-v2, steps: [12.25%, 0.01%]}\n",
     {"10:45: routes[0].cascade[0].rollout.steps[0]: must be a whole number of tenths of a percent, got 12.25%",
      "10:53: routes[0].cascade[0].rollout.steps[1]: must be a whole number of tenths of a percent, got 0.01%", NULL}},
    {"step_not_a_percentage",
     "      - backend: large\n"
     "        rollout: {canary: large-v2, steps: [5, half]}\n",
     {"10:45: routes[0].cascade[0].rollout.steps[0]: invalid percentage \"5\": a bare number is ambiguous; write it "
      "with \"%\", e.g. \"99.9%\"",
      "10:48: routes[0].cascade[0].rollout.steps[1]: invalid percentage \"half\": expected a percentage such as "
      "\"99.9%\"",
      NULL}},
    {"only_100_percent",
     "      - backend: large\n"
     "        rollout: {canary: large-v2, steps: [100%]}\n",
     {"10:44: routes[0].cascade[0].rollout.steps: needs a step below 100% (at 100% no stable traffic is left to "
      "compare the canary with)",
      NULL}},
    {"steps_empty_and_too_many",
     "      - backend: large\n"
     "        rollout: {canary: large-v2, steps: []}\n"
     "      - backend: small\n"
     "        rollout: {canary: large, steps: [1%, 2%, 3%, 4%, 5%, 6%, 7%, 8%, 9%, 10%, 11%, 12%, 13%, 14%, 15%, "
     "16%, 17%]}\n",
     {"10:44: routes[0].cascade[0].rollout.steps: list 1 to 16 steps, got 0",
      "12:41: routes[0].cascade[1].rollout.steps: list 1 to 16 steps, got 17", NULL}},
    {"power_and_feedback_out_of_range",
     "      - backend: large\n"
     "        rollout: {canary: large-v2, checks: {error_rate: {detect_ratio: 0.5, detect_increase: 120%},"
     " feedback_accuracy: {min_samples: 2}}}\n",
     {"10:73: routes[0].cascade[0].rollout.checks.error_rate.detect_ratio: must be between 1 and 1000, got 0.5",
      "10:95: routes[0].cascade[0].rollout.checks.error_rate.detect_increase: must be between 0% and 100%, got 120%",
      "10:135: routes[0].cascade[0].rollout.checks.feedback_accuracy.min_samples: must be between 5 and 1000000000, got 2",
      NULL}},
    {"feedback_accuracy_without_labels",
     "      - backend: large\n"
     "        rollout: {canary: large-v2, checks: {feedback_accuracy: {min_samples: 50}}}\n",
     {"10:65: routes[0].cascade[0].rollout.checks.feedback_accuracy: needs the route's monitor.feedback with a "
      "classification task (labels)",
      NULL}},
    {"steps_scalar",
     "      - backend: large\n"
     "        rollout: {canary: large-v2, steps: 5%}\n",
     {"10:44: routes[0].cascade[0].rollout.steps: expected a sequence, got \"5%\"", NULL}},
    {"interval_and_counts_out_of_range",
     "      - backend: large\n"
     "        rollout: {canary: large-v2, interval: 500ms, min_samples: 0, failure_limit: 1001}\n",
     {"10:47: routes[0].cascade[0].rollout.interval: must be between 1s and 1h, got 500ms",
      "10:67: routes[0].cascade[0].rollout.min_samples: must be between 1 and 1000000000, got 0",
      "10:85: routes[0].cascade[0].rollout.failure_limit: must be between 1 and 1000, got 1001", NULL}},
    {"sticky_bad_kind",
     "      - backend: large\n"
     "        rollout: {canary: large-v2, sticky: query:user}\n",
     {"10:45: routes[0].cascade[0].rollout.sticky: invalid sticky key \"query:user\"; expected header:<name> or "
      "cookie:<name>",
      NULL}},
    {"sticky_bad_names",
     "      - backend: large\n"
     "        rollout: {canary: large-v2, sticky: \"header:x user\"}\n"
     "      - backend: small\n"
     "        rollout: {canary: large, sticky: \"cookie:\"}\n",
     {"10:45: routes[0].cascade[0].rollout.sticky: invalid header name \"x user\"",
      "12:42: routes[0].cascade[1].rollout.sticky: invalid cookie name \"\"", NULL}},
    {"critical_unknown_duplicate_srm",
     "      - backend: large\n"
     "        rollout: {canary: large-v2, critical: [error_rat, latency, latency, srm, speed]}\n",
     {"10:48: routes[0].cascade[0].rollout.critical[0]: unknown check \"error_rat\" (did you mean \"error_rate\"?)",
      "10:68: routes[0].cascade[0].rollout.critical[2]: check \"latency\" is listed twice",
      "10:77: routes[0].cascade[0].rollout.critical[3]: srm cannot be critical: a sample-ratio mismatch holds the "
      "rollout, it never rolls back",
      "10:82: routes[0].cascade[0].rollout.critical[4]: unknown check \"speed\"; expected error_rate, latency, ttft, "
      "tpot, accept_rate or confidence",
      NULL}},
    {"critical_not_enabled",
     "      - backend: large\n"
     "        rollout:\n"
     "          canary: large-v2\n"
     "          critical: [error_rate, ttft]\n"
     "          checks: {latency: {enabled: false}}\n",
     {"12:34: routes[0].cascade[0].rollout.critical[1]: check \"ttft\" is not enabled (checks.ttft)", NULL}},
    {"accept_checks_need_an_accept_rule",
     "      - backend: large\n"
     "        rollout:\n"
     "          canary: large-v2\n"
     "          checks:\n"
     "            accept_rate: {}\n"
     "            confidence: {min_effect: 0.3}\n",
     {"13:26: routes[0].cascade[0].rollout.checks.accept_rate: needs the tier's accept rule (an accept signal to "
      "measure)",
      "14:25: routes[0].cascade[0].rollout.checks.confidence: needs the tier's accept rule (an accept signal to "
      "measure)",
      NULL}},
    {"check_keys",
     "      - backend: large\n"
     "        rollout:\n"
     "          canary: large-v2\n"
     "          checks:\n"
     "            latancy: {}\n"
     "            error_rate: {alpha: 0.9, min_ratio: 0.5, min_increase: 0.1}\n"
     "            ttft: {min_effect: 60%, p99_ratio: 0.9, min_samples: 2000, enabled: yes}\n",
     {"13:13: routes[0].cascade[0].rollout.checks.latancy: unknown key (did you mean \"latency\"?)",
      "14:33: routes[0].cascade[0].rollout.checks.error_rate.alpha: must be between 1e-09 and 0.5, got 0.9",
      "14:49: routes[0].cascade[0].rollout.checks.error_rate.min_ratio: must be between 1 and 100, got 0.5",
      "14:68: routes[0].cascade[0].rollout.checks.error_rate.min_increase: invalid percentage \"0.1\": a bare number "
      "is ambiguous; write it with \"%\", e.g. \"99.9%\"",
      "15:32: routes[0].cascade[0].rollout.checks.ttft.min_effect: must be between 0% and 50%, got 60%",
      "15:48: routes[0].cascade[0].rollout.checks.ttft.p99_ratio: must be between 1 and 1000, got 0.9",
      "15:66: routes[0].cascade[0].rollout.checks.ttft.min_samples: must be between 5 and 1024, got 2000",
      "15:81: routes[0].cascade[0].rollout.checks.ttft.enabled: must be true or false, got \"yes\"", NULL}},
    {"rollout_unknown_key",
     "      - backend: large\n"
     "        rollout: {canary: large-v2, weight: 5%}\n",
     {"10:37: routes[0].cascade[0].rollout.weight: unknown key; expected one of: canary, steps, interval, "
      "min_samples, failure_limit, sticky, critical, checks",
      NULL}},
    {"rollout_before_backend_key",
     "      - rollout: {canary: large}\n"
     "        backend: large\n",
     {"9:27: routes[0].cascade[0].rollout.canary: backend \"large\" is the tier's own backend; the canary must be "
      "another backend",
      NULL}},
};

Test(rollout_conf, bad_blocks_report_exactly_their_errors)
{
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        const bad_case_t *c = &cases[i];
        char yaml[4096];
        snprintf(yaml, sizeof(yaml), "%s%s%s", BACKENDS, ROUTE_HEAD, c->tier);
        sl_conf_errors_t errs;
        sl_conf_t *sentinel = (sl_conf_t *)&errs, *out = sentinel;
        sl_conf_errors_init(&errs);
        int rc = sl_conf_load_string("bad.yaml", yaml, strlen(yaml), &out, &errs);
        cr_expect_eq(rc, SL_ECONFIG, "%s: rc %d", c->name, rc);
        cr_expect_eq(out, sentinel, "%s: output written on failure", c->name);
        size_t n = 0;
        while (n != sizeof(c->expected) / sizeof(c->expected[0]) && c->expected[n] != NULL)
            ++n;
        cr_expect_eq(errs.count, n, "%s: %zu errors, expected %zu (first: %s)", c->name, errs.count, n,
                     errs.count != 0 ? errs.msgs[0] : "none");
        for (size_t j = 0; j != errs.count; ++j) {
            char want[1024];
            snprintf(want, sizeof(want), "bad.yaml:%s", j < n ? c->expected[j] : "(none)");
            cr_expect_str_eq(sl_conf_errors_get(&errs, j), want, "%s: error %zu is %s", c->name, j,
                             sl_conf_errors_get(&errs, j));
        }
        if (rc == SL_OK && out != sentinel)
            sl_conf_release(out);
        sl_conf_errors_dispose(&errs);
    }
}
