/*
 * test_degrade_conf.c - a tier's `degrade` block (conf/load_degrade.c): defaults, every key away from its default,
 * variant references, and a table of invalid blocks with the exact "file:line:col: key.path: message" errors.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/status.h"
#include "conf/conf.h"

/* 6 lines: the tier's first line is line 10 */
#define HEAD                                                                                                                   \
    "backends:\n"                                                                                                              \
    "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"                                                                 \
    "  large: {protocol: openai, endpoints: 127.0.0.1:8011, max_concurrency: 16}\n"                                            \
    "  large-fp8: {protocol: openai, endpoints: 127.0.0.1:8013}\n"                                                             \
    "  large-int4: {protocol: openai, endpoints: 127.0.0.1:8014}\n"                                                            \
    "  clf: {protocol: kserve_v2, endpoints: 127.0.0.1:8021}\n"                                                                \
    "routes:\n"                                                                                                                \
    "  - name: chat\n"                                                                                                         \
    "    cascade:\n"

static sl_conf_t *load_ok(const char *tier)
{
    char yaml[4096];
    snprintf(yaml, sizeof(yaml), "%s%s", HEAD, tier);
    sl_conf_errors_t errs;
    sl_conf_t *conf = NULL;
    sl_conf_errors_init(&errs);
    int rc = sl_conf_load_string("test.yaml", yaml, strlen(yaml), &conf, &errs);
    cr_assert_eq(rc, SL_OK, "load failed: %s", errs.count != 0 ? errs.msgs[0] : "?");
    sl_conf_errors_dispose(&errs);
    return conf;
}

Test(degrade_conf, no_block_leaves_scaling_off)
{
    sl_conf_t *c = load_ok("      - backend: large\n");
    const sl_conf_degrade_t *d = &c->routes[0].tiers[0].degrade;
    cr_assert_eq(d->enabled, 0);
    cr_assert_null(d->to);
    cr_assert_eq(d->num_to, 0);
    cr_assert_eq(d->saturation_high_permille, 0);
    cr_assert_eq(d->spill_over, 0);
    sl_conf_release(c);
}

Test(degrade_conf, defaults)
{
    sl_conf_t *c = load_ok("      - backend: large\n"
                           "        degrade: {to: large-fp8}\n");
    const sl_conf_degrade_t *d = &c->routes[0].tiers[0].degrade;
    cr_assert_eq(d->enabled, 1);
    cr_assert_eq(d->num_to, 1);
    cr_assert_str_eq(d->to[0]->name, "large-fp8");
    cr_assert_eq(d->to[0], &c->backends[2]);
    cr_assert_eq(d->saturation_high_permille, 900);
    cr_assert_eq(d->saturation_low_permille, 600);
    cr_assert_eq(d->latency_high_permille, 1000);
    cr_assert_eq(d->latency_low_permille, 700);
    cr_assert_eq(d->step_up_permille, 250);
    cr_assert_eq(d->step_down_permille, 100);
    cr_assert_eq(d->hold_ms, 10000);
    cr_assert_eq(d->interval_ms, 1000);
    cr_assert_eq(d->burn_factor_permille, 800);
    cr_assert_eq(d->latency_window_ms, 30000);
    cr_assert_eq(d->spill_over, 1);
    sl_conf_release(c);
}

Test(degrade_conf, every_key_away_from_its_default)
{
    /* degrade before backend: the block is parsed after the tier's other keys, whatever the order */
    sl_conf_t *c = load_ok("      - degrade:\n"
                           "          to: [large-int4, large-fp8]\n"
                           "          saturation_high: 85.5%\n"
                           "          saturation_low: 40%\n"
                           "          latency_high: 120%\n"
                           "          latency_low: 50%\n"
                           "          step_up: 50%\n"
                           "          step_down: 2.5%\n"
                           "          hold: 30s\n"
                           "          interval: 250ms\n"
                           "          burn_factor: 60%\n"
                           "          latency_window: 1m\n"
                           "          spill_over: false\n"
                           "        backend: large\n");
    const sl_conf_degrade_t *d = &c->routes[0].tiers[0].degrade;
    cr_assert_eq(d->enabled, 1);
    cr_assert_eq(d->num_to, 2);
    cr_assert_str_eq(d->to[0]->name, "large-int4");
    cr_assert_str_eq(d->to[1]->name, "large-fp8");
    cr_assert_eq(d->saturation_high_permille, 855);
    cr_assert_eq(d->saturation_low_permille, 400);
    cr_assert_eq(d->latency_high_permille, 1200);
    cr_assert_eq(d->latency_low_permille, 500);
    cr_assert_eq(d->step_up_permille, 500);
    cr_assert_eq(d->step_down_permille, 25);
    cr_assert_eq(d->hold_ms, 30000);
    cr_assert_eq(d->interval_ms, 250);
    cr_assert_eq(d->burn_factor_permille, 600);
    cr_assert_eq(d->latency_window_ms, 60000);
    cr_assert_eq(d->spill_over, 0);
    sl_conf_release(c);
}

Test(degrade_conf, bounds_are_inclusive)
{
    sl_conf_t *c = load_ok("      - backend: large\n"
                           "        degrade: {to: [large-fp8], saturation_high: 100%, saturation_low: 0%, latency_high: "
                           "1000%, latency_low: 0%, step_up: 100%, step_down: 0.1%, hold: 0, interval: 0, burn_factor: "
                           "10%, latency_window: 10m}\n");
    const sl_conf_degrade_t *d = &c->routes[0].tiers[0].degrade;
    cr_assert_eq(d->saturation_high_permille, 1000);
    cr_assert_eq(d->saturation_low_permille, 0);
    cr_assert_eq(d->latency_high_permille, 10000);
    cr_assert_eq(d->step_up_permille, 1000);
    cr_assert_eq(d->step_down_permille, 1);
    cr_assert_eq(d->hold_ms, 0);
    cr_assert_eq(d->interval_ms, 0);
    cr_assert_eq(d->burn_factor_permille, 100);
    cr_assert_eq(d->latency_window_ms, 600000);
    sl_conf_release(c);
}

typedef struct st_bad_case_t {
    const char *name;
    const char *tier;
    const char *expected[4]; /* after "bad.yaml:"; NULL-terminated */
} bad_case_t;

#define P "routes[0].cascade[0].degrade"

static const bad_case_t cases[] = {
    {"undefined variant",
     "      - backend: large\n        degrade: {to: large-fp9}\n",
     {"11:23: " P ".to: undefined backend \"large-fp9\" (did you mean \"large-fp8\"?)"}},
    {"undefined variant, nothing close",
     "      - backend: large\n        degrade: {to: [large-fp8, tiny]}\n",
     {"11:35: " P ".to[1]: undefined backend \"tiny\""}},
    {"the tier's own backend",
     "      - backend: large\n        degrade: {to: large}\n",
     {"11:23: " P ".to: backend \"large\" is the tier's own backend; name a faster variant"}},
    {"another protocol",
     "      - backend: large\n        degrade: {to: [clf]}\n",
     {"11:24: " P ".to[0]: backend \"clf\" speaks kserve_v2 but the tier's backend \"large\" speaks openai"}},
    {"listed twice",
     "      - backend: large\n        degrade: {to: [large-fp8, large-int4, large-fp8]}\n",
     {"11:47: " P ".to[2]: backend \"large-fp8\" is listed twice"}},
    {"empty list",
     "      - backend: large\n        degrade: {to: []}\n",
     {"11:23: " P ".to: list 1 to 8 faster variants, got 0"}},
    {"a mapping",
     "      - backend: large\n        degrade: {to: {large-fp8: 1}}\n",
     {"11:23: " P ".to: expected a backend name or a list of backend names, got a mapping"}},
    {"missing to", "      - backend: large\n        degrade: {step_up: 10%}\n", {"11:18: " P ": missing required key \"to\""}},
    {"not a mapping",
     "      - backend: large\n        degrade: large-fp8\n",
     {"11:18: " P ": expected a mapping, got \"large-fp8\""}},
    {"a bare number",
     "      - backend: large\n        degrade: {to: large-fp8, saturation_high: 0.9}\n",
     {"11:51: " P ".saturation_high: invalid percentage \"0.9\": a bare number is ambiguous; write it with \"%\", "
      "e.g. \"99.9%\""}},
    {"below the range",
     "      - backend: large\n        degrade: {to: large-fp8, step_up: 0%}\n",
     {"11:43: " P ".step_up: must be between 0.1% and 100%, got 0%"}},
    {"above the range",
     "      - backend: large\n        degrade: {to: large-fp8, saturation_high: 101%}\n",
     {"11:51: " P ".saturation_high: must be between 0.1% and 100%, got 101%"}},
    {"finer than a tenth of a percent",
     "      - backend: large\n        degrade: {to: large-fp8, step_down: 2.55%}\n",
     {"11:45: " P ".step_down: must be a whole number of tenths of a percent, got 2.55%"}},
    {"saturation band closed by the burn factor",
     "      - backend: large\n        degrade: {to: large-fp8, saturation_low: 75%}\n",
     {"11:50: " P ".saturation_low: must be below saturation_high x burn_factor (90% x 80% = 72%), got 75%"}},
    {"saturation band closed, low defaulted",
     "      - backend: large\n        degrade: {to: large-fp8, saturation_high: 70%}\n",
     {"11:18: " P ".saturation_low: must be below saturation_high x burn_factor (70% x 80% = 56%), got 60% "
      "(the default)"}},
    {"latency band exactly closed",
     "      - backend: large\n        degrade: {to: large-fp8, latency_low: 80%}\n",
     {"11:47: " P ".latency_low: must be below latency_high x burn_factor (100% x 80% = 80%), got 80%"}},
    {"burn factor closes both bands",
     "      - backend: large\n        degrade: {to: large-fp8, burn_factor: 50%}\n",
     {"11:18: " P ".saturation_low: must be below saturation_high x burn_factor (90% x 50% = 45%), got 60% "
      "(the default)",
      "11:18: " P ".latency_low: must be below latency_high x burn_factor (100% x 50% = 50%), got 70% (the default)"}},
    {"unknown key",
     "      - backend: large\n        degrade: {to: large-fp8, holds: 5s}\n",
     {"11:34: " P ".holds: unknown key (did you mean \"hold\"?)"}},
    {"latency window too short",
     "      - backend: large\n        degrade: {to: large-fp8, latency_window: 500ms}\n",
     {"11:50: " P ".latency_window: must be between 1s and 10m, got 500ms"}},
    {"several errors in file order",
     "      - backend: large\n        degrade:\n          to: [large, nope]\n          step_up: 200%\n",
     {"12:16: " P ".to[0]: backend \"large\" is the tier's own backend; name a faster variant",
      "12:23: " P ".to[1]: undefined backend \"nope\"", "13:20: " P ".step_up: must be between 0.1% and 100%, got 200%"}},
    {"the tier's backend is undefined: only that is reported",
     "      - backend: larg\n        degrade: {to: large-fp8}\n",
     {"10:18: routes[0].cascade[0].backend: undefined backend \"larg\" (did you mean \"large\"?)"}},
};

Test(degrade_conf, bad_blocks_report_exactly_their_errors)
{
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        const bad_case_t *c = &cases[i];
        char yaml[4096];
        snprintf(yaml, sizeof(yaml), "%s%s", HEAD, c->tier);
        sl_conf_errors_t errs;
        sl_conf_t *sentinel = (sl_conf_t *)&errs, *out = sentinel;
        sl_conf_errors_init(&errs);
        int rc = sl_conf_load_string("bad.yaml", yaml, strlen(yaml), &out, &errs);
        cr_expect_eq(rc, SL_ECONFIG, "%s: rc %d", c->name, rc);
        cr_expect_eq(out, sentinel, "%s: output written on failure", c->name);
        size_t n = 0;
        while (n != 4 && c->expected[n] != NULL)
            ++n;
        cr_expect_eq(errs.count, n, "%s: %zu errors, expected %zu (first: %s)", c->name, errs.count, n,
                     errs.count != 0 ? errs.msgs[0] : "none");
        for (size_t j = 0; j != errs.count && j != n; ++j) {
            char want[1024];
            snprintf(want, sizeof(want), "bad.yaml:%s", c->expected[j]);
            cr_expect_str_eq(sl_conf_errors_get(&errs, j), want, "%s: error %zu", c->name, j);
        }
        if (rc == SL_OK && out != sentinel)
            sl_conf_release(out);
        sl_conf_errors_dispose(&errs);
    }
}
