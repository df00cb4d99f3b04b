/*
 * test_rules.c - `sluice rules` output (policies/rules.c): exact decimal thresholds, the group of one route byte
 * for byte, a config without SLOs, and errors. promtool checks and unit-tests the full output of
 * conf/examples/slo.yaml in tests/rules/.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "common/status.h"
#include "conf/conf.h"
#include "policies/rules.h"

typedef unsigned __int128 u128;

static sl_conf_t *load(const char *yaml)
{
    sl_conf_errors_t errs;
    sl_conf_t *conf = NULL;
    sl_conf_errors_init(&errs);
    cr_assert_eq(sl_conf_load_string("r.yaml", yaml, strlen(yaml), &conf, &errs), SL_OK, "%s",
                 errs.count != 0 ? errs.msgs[0] : "");
    sl_conf_errors_dispose(&errs);
    return conf;
}

Test(rules, ratios_are_written_exactly)
{
    static const struct {
        u128 num, den;
        const char *want;
    } cases[] = {
        {1344, 100000, "0.01344"},
        {1344, 100, "13.44"},
        {5, 1, "5"},
        {0, 7, "0"},
        {10, 4, "2.5"},
        {14, 15, "0.93333333333333333"},       /* 17 significant digits, rounded down */
        {2, 3, "0.66666666666666667"},         /* rounded up */
        {14, 15000, "0.00093333333333333333"}, /* leading zeros are not significant */
        {1, 3, "0.33333333333333333"},
        {200000, 3, "66666.666666666667"},
        {999999999999999999ull, 1000000000000000000ull, "0.999999999999999999"}, /* terminating: all digits */
        {1, 1024, "0.0009765625"},
        {19999999999999999ull * 3 + 2, 3, "20000000000000000"}, /* carry into a new leading digit */
        {100, 7, "14.285714285714286"},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        char buf[96];
        cr_expect_str_eq(sl_rules_format_ratio(cases[i].num, cases[i].den, buf, sizeof(buf)), cases[i].want, "case %zu", i);
    }
}

Test(rules, one_route_byte_for_byte)
{
    sl_conf_t *c = load("backends:\n"
                        "  llm: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
                        "routes:\n"
                        "  - name: api.v1\n"
                        "    cascade: [{backend: llm}]\n"
                        "    slo: {availability: 99.95%, window: 1d}\n");
    sl_buf_t b;
    sl_buf_init(&b, 0);
    size_t n = 99;
    cr_assert_eq(sl_rules_render(c, &b, &n), SL_OK);
    cr_assert_eq(n, 1);
    /* the window is one of the burn windows: no extra ratio pair */
    cr_assert_null(strstr(b.data, "ratio_rate1440m"));
    cr_assert_not_null(strstr(b.data, "groups:\n  - name: sluice-slo-api.v1\n    rules:\n"
                                      "      - record: route_objective:sluice_slo_sli:ratio_rate5m\n"
                                      "        expr: |\n"
                                      "          sum by (route, objective) (rate(sluice_slo_good_total{route=\"api.v1\"}"
                                      "[5m]))\n"
                                      "          /\n"
                                      "          sum by (route, objective) (rate(sluice_slo_requests_total{route="
                                      "\"api.v1\"}[5m]))\n"
                                      "        labels:\n"
                                      "          route: \"api.v1\"\n"));
    /* budget 0.05%; 1-day window: page 0.48x over 1h (0.02 x 1440 / 60), 0.2x over 6h; ticket 0.1x over 1d,
     * 0.0333...x over 3d. Error-ratio thresholds: 0.00024, 0.0001, 0.00005, 0.000016666... */
    const char *page = "      - alert: SluiceSLOBudgetBurn\n"
                       "        expr: |\n"
                       "          (\n"
                       "            route_objective:sluice_slo_errors:ratio_rate1h{route=\"api.v1\",objective="
                       "\"availability\"} > 0.00024\n"
                       "            and\n"
                       "            route_objective:sluice_slo_errors:ratio_rate5m{route=\"api.v1\",objective="
                       "\"availability\"} > 0.00024\n"
                       "          )\n"
                       "          or\n"
                       "          (\n"
                       "            route_objective:sluice_slo_errors:ratio_rate6h{route=\"api.v1\",objective="
                       "\"availability\"} > 0.0001\n"
                       "            and\n"
                       "            route_objective:sluice_slo_errors:ratio_rate30m{route=\"api.v1\",objective="
                       "\"availability\"} > 0.0001\n"
                       "          )\n"
                       "        labels:\n"
                       "          route: \"api.v1\"\n"
                       "          objective: availability\n"
                       "          severity: page\n"
                       "        annotations:\n"
                       "          summary: \"route api.v1: availability error budget burning fast\"\n"
                       "          description: \"The availability SLO of route api.v1 (99.95% over 1d) burns its error "
                       "budget at more than 0.48x over 1h and 5m, or more than 0.2x over 6h and 30m.\"\n";
    cr_assert_not_null(strstr(b.data, page), "%s", b.data);
    cr_assert_not_null(strstr(b.data, "ratio_rate3d{route=\"api.v1\",objective=\"availability\"} > "
                                      "0.000016666666666666667\n"));
    cr_assert_not_null(strstr(b.data, "      - record: route_objective:sluice_slo_budget_remaining:ratio\n"
                                      "        expr: 1 - route_objective:sluice_slo_errors:ratio_rate1d{route="
                                      "\"api.v1\",objective=\"availability\"} / 0.0005\n"));
    cr_assert_not_null(strstr(b.data, "      - record: route_objective:sluice_slo_burn_rate:ratio\n"
                                      "        expr: route_objective:sluice_slo_errors:ratio_rate30m{route="
                                      "\"api.v1\",objective=\"availability\"} / 0.0005\n"
                                      "        labels:\n"
                                      "          route: \"api.v1\"\n"
                                      "          objective: availability\n"
                                      "          window: \"30m\"\n"));
    size_t records = 0, alerts = 0;
    for (const char *p = b.data; (p = strstr(p, "- record: ")) != NULL; ++p)
        ++records;
    for (const char *p = b.data; (p = strstr(p, "- alert: ")) != NULL; ++p)
        ++alerts;
    cr_assert_eq(records, 14 + 7 + 1); /* 7 windows x 2 ratios, 7 burn rates, 1 budget */
    cr_assert_eq(alerts, 2);
    sl_buf_dispose(&b);
    sl_conf_release(c);
}

Test(rules, a_window_outside_the_burn_windows_gets_its_ratios)
{
    sl_conf_t *c = load("backends:\n"
                        "  llm: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
                        "routes:\n"
                        "  - name: a\n"
                        "    cascade: [{backend: llm}]\n"
                        "    slo: {latency: {threshold: 1s, target: 90%}, window: 90m}\n");
    sl_buf_t b;
    sl_buf_init(&b, 0);
    cr_assert_eq(sl_rules_render(c, &b, NULL), SL_OK);
    cr_assert_not_null(strstr(b.data, "- record: route_objective:sluice_slo_errors:ratio_rate90m\n"));
    cr_assert_not_null(strstr(b.data, "expr: 1 - route_objective:sluice_slo_errors:ratio_rate90m{route=\"a\","
                                      "objective=\"latency\"} / 0.1\n"));
    cr_assert_not_null(strstr(b.data, "(90% over 90m)"));
    sl_buf_dispose(&b);
    sl_conf_release(c);
}

Test(rules, no_slo_no_groups)
{
    sl_conf_t *c = load("backends:\n"
                        "  llm: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
                        "routes:\n"
                        "  - name: a\n"
                        "    cascade: [{backend: llm}]\n");
    sl_buf_t b;
    sl_buf_init(&b, 0);
    size_t n = 99;
    cr_assert_eq(sl_rules_render(c, &b, &n), SL_OK);
    cr_assert_eq(n, 0);
    cr_assert_str_eq(b.data,
                     "# Prometheus recording and alerting rules for the SLOs and monitors of a sluice config, written by\n"
                     "# `sluice rules`: regenerate them when those change. docs/SLO.md and docs/MONITORING.md explain them.\n"
                     "# This config declares no SLO.\n"
                     "groups: []\n");
    sl_buf_dispose(&b);
    sl_conf_release(c);
}

Test(rules, errors_leave_the_buffer_as_it_was)
{
    sl_conf_t *c = load("backends:\n"
                        "  llm: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
                        "routes:\n"
                        "  - name: a\n"
                        "    cascade: [{backend: llm}]\n"
                        "    slo: {availability: 99.9%}\n"
                        "  - name: b\n"
                        "    cascade: [{backend: llm}]\n"
                        "    slo: {availability: 99.9%}\n");
    /* the loader refuses a target that rounds to 100% in parts per billion; the render must still refuse one */
    c->routes[1].slo.availability.target = 0.99999999999999;
    sl_buf_t b;
    sl_buf_init(&b, 0);
    sl_buf_append(&b, "keep", 4);
    size_t n = 99;
    cr_assert_eq(sl_rules_render(c, &b, &n), SL_EINVAL);
    cr_assert_eq(b.len, 4);
    cr_assert_eq(n, 99);
    sl_buf_dispose(&b);
    sl_conf_release(c);

    c = load("backends:\n"
             "  llm: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
             "routes:\n"
             "  - name: a\n"
             "    cascade: [{backend: llm}]\n"
             "    slo: {availability: 99.9%}\n");
    sl_buf_init(&b, 1000);
    sl_buf_append(&b, "keep", 4);
    cr_assert_eq(sl_rules_render(c, &b, &n), SL_ENOMEM);
    cr_assert_eq(b.len, 4);
    sl_buf_dispose(&b);
    sl_conf_release(c);
}

Test(rules, a_monitor_without_slo)
{
    sl_conf_t *c = load("backends:\n"
                        "  llm: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
                        "routes:\n"
                        "  - name: a\n"
                        "    cascade: [{backend: llm}]\n"
                        "    monitor:\n"
                        "      prediction: {label: /l}\n"
                        "      thresholds: {null_ratio_alert: 7%}\n"
                        "      feedback: {task: classification, labels: [x, y], min_accuracy: 0.1%}\n");
    sl_buf_t b;
    sl_buf_init(&b, 0);
    size_t n = 99;
    cr_assert_eq(sl_rules_monitored_routes(c), 1);
    cr_assert_eq(sl_rules_render(c, &b, &n), SL_OK);
    cr_assert_eq(n, 0);
    cr_assert(strstr(b.data, "\ngroups:\n  - name: sluice-monitor-a\n    rules:\n      - alert: SluiceFeatureDrift\n") != NULL,
              "%s", b.data);
    /* thresholds as the shortest decimal of the configured double: 7% is 0.07, not 0.070000000000000007 */
    cr_assert(strstr(b.data, "expr: min_over_time(sluice_feature_null_ratio{route=\"a\"}[15m]) >= 0.07\n") != NULL);
    cr_assert(strstr(b.data, "          sluice_quality_accuracy{route=\"a\"} < 0.001\n") != NULL);
    cr_assert(strstr(b.data, "alert: SluiceFeatureTypeErrors") == NULL); /* no type-error threshold: no alert */
    cr_assert(strstr(b.data, "alert: SluiceModelError") == NULL);
    cr_assert(strstr(b.data, "alert: SluiceConceptDrift") != NULL);

    /* a cap reached inside the monitor group restores the buffer */
    size_t full = b.len;
    for (size_t cap = 200; cap < full; cap += 700) {
        sl_buf_t s;
        sl_buf_init(&s, cap);
        sl_buf_append(&s, "keep", 4);
        cr_assert_eq(sl_rules_render(c, &s, &n), SL_ENOMEM, "cap %zu", cap);
        cr_assert_eq(s.len, 4);
        sl_buf_dispose(&s);
    }
    sl_buf_dispose(&b);
    sl_conf_release(c);
}
