/*
 * rules.c - `sluice rules`: Prometheus recording and alerting rules derived from the SLOs of a config.
 *
 * Layout of the generated file: one group per route with an SLO, named sluice-slo-<route>, holding in order
 *   - for every burn window (5m 30m 1h 2h 6h 1d 3d) and the route's SLO window:
 *       route_objective:sluice_slo_sli:ratio_rate<w>     good / requests
 *       route_objective:sluice_slo_errors:ratio_rate<w>  (requests - good) / requests
 *     each a ratio of two sums of rate() by (route, objective), so replicas add up;
 *   - for each objective: its burn rate over every window (route_objective:sluice_slo_burn_rate:ratio{window}),
 *     its budget remaining over the SLO window, and two alerts, SluiceSLOBudgetBurn with severity page and ticket.
 * Rules of one group are evaluated in order at the same instant, while groups run independently; keeping a route's
 * ratios and its alerts in one group means an alert always reads the ratios of its own evaluation, never those of
 * the previous one (which would delay it by an interval, or miss them when the interval exceeds the lookback).
 * Every rule carries a static route label (and objective where it has one), so no two rules share a name and a
 * label set (promtool's duplicate-rule lint).
 * Each alert is the stats/slo.h rule set: page = (1h and 5m) or (6h and 30m), ticket = (1d and 2h) or (3d and 6h),
 * each window's error ratio strictly above share x period / long window x (1 - target). The thresholds are written
 * from exact integers - 13.44 x 0.001 becomes 0.01344, never 0.013439999999999999 - and rounded to 17 significant
 * digits only when the decimal does not terminate (0.9333... for the 28-day 3d rule).
 *
 * No traffic: both rates are 0 and the ratio is NaN, which compares false - no alert, as in-process ("no data").
 * Thread: any; pure over the config.
 */
#include "policies/rules.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/status.h"
#include "policies/slo.h"
#include "stats/slo.h"

typedef unsigned __int128 u128;

static u128 gcd(u128 a, u128 b)
{
    while (b != 0) {
        u128 t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static size_t u128_str(u128 v, char *buf)
{
    char tmp[48];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i != n; ++i)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return n;
}

const char *sl_rules_format_ratio(u128 num, u128 den, char *buf, size_t bufsz)
{
    char d[128]; /* integer digits, then fraction digits; the point sits after `ip` digits */
    u128 g = gcd(num, den);
    if (g > 1) {
        num /= g;
        den /= g;
    }
    size_t ip = u128_str(num / den, d), n = ip;
    u128 r = num % den, rest = den;
    int twos = 0, fives = 0;
    while (rest % 2 == 0) {
        rest /= 2;
        twos++;
    }
    while (rest % 5 == 0) {
        rest /= 5;
        fives++;
    }
    int terminating = rest == 1 && (twos > fives ? twos : fives) <= 40;
    if (terminating) {
        while (r != 0) {
            r *= 10;
            d[n++] = (char)('0' + (int)(r / den));
            r %= den;
        }
    } else if (ip <= 17 || d[0] == '0') {
        /* 17 significant digits and one more to round on; the remainder never ends, so no exact half */
        size_t sig = d[0] == '0' ? 0 : ip;
        while (sig < 18) {
            r *= 10;
            d[n] = (char)('0' + (int)(r / den));
            r %= den;
            if (sig != 0 || d[n] != '0')
                sig++;
            n++;
        }
        int up = d[--n] >= '5';
        for (size_t i = n; up && i-- > 0;) {
            if (d[i] == '9') {
                d[i] = '0';
            } else {
                d[i]++;
                up = 0;
            }
        }
        if (up) {
            memmove(d + 1, d, n);
            d[0] = '1';
            n++;
            ip++;
        }
    }
    while (n > ip && d[n - 1] == '0')
        n--;
    if (n > ip)
        snprintf(buf, bufsz, "%.*s.%.*s", (int)ip, d, (int)(n - ip), d + ip);
    else
        snprintf(buf, bufsz, "%.*s", (int)ip, d);
    return buf;
}

/* A window of whole minutes in Prometheus duration syntax: "5m", "1h", "28d". */
static const char *prom_duration(uint32_t minutes, char *buf, size_t sz)
{
    if (minutes % 1440 == 0)
        snprintf(buf, sz, "%" PRIu32 "d", minutes / 1440);
    else if (minutes % 60 == 0)
        snprintf(buf, sz, "%" PRIu32 "h", minutes / 60);
    else
        snprintf(buf, sz, "%" PRIu32 "m", minutes);
    return buf;
}

/* The objectives of a route, initialized from the config as the SLO policy does. */
static int route_objectives(const sl_conf_route_t *r, sl_slo_t math[SL_SLO_NUM_OBJECTIVES], int *enabled)
{
    const sl_conf_objective_t *objs[SL_SLO_NUM_OBJECTIVES] = {&r->slo.availability, &r->slo.latency, &r->slo.ttft};
    *enabled = 0;
    if (!r->slo.enabled)
        return SL_OK;
    for (int o = 0; o != SL_SLO_NUM_OBJECTIVES; ++o) {
        if (!objs[o]->enabled)
            continue;
        if (sl_slo_init(&math[o], objs[o]->target, r->slo.window_s / 60) != SL_OK)
            return SL_EINVAL;
        *enabled |= 1 << o;
    }
    return SL_OK;
}

/* SLI and error ratios of one route over one window, summed over replicas (and instances) by objective. */
static int ratio_rules(sl_buf_t *out, const char *route, uint32_t minutes)
{
    char w[16];
    prom_duration(minutes, w, sizeof(w));
    return sl_buf_appendf(out,
                          "      - record: route_objective:sluice_slo_sli:ratio_rate%s\n"
                          "        expr: |\n"
                          "          sum by (route, objective) (rate(sluice_slo_good_total{route=\"%s\"}[%s]))\n"
                          "          /\n"
                          "          sum by (route, objective) (rate(sluice_slo_requests_total{route=\"%s\"}[%s]))\n"
                          "        labels:\n"
                          "          route: \"%s\"\n"
                          "      - record: route_objective:sluice_slo_errors:ratio_rate%s\n"
                          "        expr: |\n"
                          "          (\n"
                          "            sum by (route, objective) (rate(sluice_slo_requests_total{route=\"%s\"}[%s]))\n"
                          "            -\n"
                          "            sum by (route, objective) (rate(sluice_slo_good_total{route=\"%s\"}[%s]))\n"
                          "          )\n"
                          "          /\n"
                          "          sum by (route, objective) (rate(sluice_slo_requests_total{route=\"%s\"}[%s]))\n"
                          "        labels:\n"
                          "          route: \"%s\"\n",
                          w, route, w, route, w, route, w, route, w, route, w, route, w, route);
}

/* The error-ratio threshold of rule k: share x P / L x (1 - target), exactly. */
static const char *rule_ratio(const sl_slo_t *m, int k, char *buf, size_t sz)
{
    const sl_slo_rule_t *rule = &sl_slo_rules[k];
    u128 num = (u128)rule->share_bp * m->period_min * m->budget_ppb;
    u128 den = (u128)SL_SLO_SHARE_BP * sl_slo_window_minutes[rule->long_window] * SL_SLO_PPB;
    return sl_rules_format_ratio(num, den, buf, sz);
}

static const char *rule_burn(const sl_slo_t *m, int k, char *buf, size_t sz)
{
    const sl_slo_rule_t *rule = &sl_slo_rules[k];
    return sl_rules_format_ratio((u128)rule->share_bp * m->period_min,
                                 (u128)SL_SLO_SHARE_BP * sl_slo_window_minutes[rule->long_window], buf, sz);
}

static int alert_rule(sl_buf_t *out, const char *route, int o, const sl_slo_t *m, int severity)
{
    static const char *const sev_names[] = {"page", "ticket"};
    const char *on = sl_slo_objective_names[o];
    int ks[2], n = 0;
    for (int k = 0; k != SL_SLO_NUM_RULES; ++k)
        if ((int)sl_slo_rules[k].severity == severity)
            ks[n++] = k;
    char t[2][64], b[2][64], target[64], win[16];
    int rc = sl_buf_appendf(out, "      - alert: SluiceSLOBudgetBurn\n        expr: |\n");
    for (int j = 0; j != n && rc == SL_OK; ++j) {
        const sl_slo_rule_t *rule = &sl_slo_rules[ks[j]];
        rule_ratio(m, ks[j], t[j], sizeof(t[j]));
        rule_burn(m, ks[j], b[j], sizeof(b[j]));
        rc = sl_buf_appendf(out,
                            "          %s(\n"
                            "            route_objective:sluice_slo_errors:ratio_rate%s{route=\"%s\",objective=\"%s\"} "
                            "> %s\n"
                            "            and\n"
                            "            route_objective:sluice_slo_errors:ratio_rate%s{route=\"%s\",objective=\"%s\"} "
                            "> %s\n"
                            "          )\n",
                            j != 0 ? "or\n          " : "", sl_slo_window_names[rule->long_window], route, on, t[j],
                            sl_slo_window_names[rule->short_window], route, on, t[j]);
    }
    if (rc != SL_OK)
        return rc;
    const sl_slo_rule_t *r0 = &sl_slo_rules[ks[0]], *r1 = &sl_slo_rules[ks[1]];
    return sl_buf_appendf(
        out,
        "        labels:\n"
        "          route: \"%s\"\n"
        "          objective: %s\n"
        "          severity: %s\n"
        "        annotations:\n"
        "          summary: \"route %s: %s error budget burning %s\"\n"
        "          description: \"The %s SLO of route %s (%s%% over %s) burns its error budget at more than %sx over "
        "%s and %s, or more than %sx over %s and %s.\"\n",
        route, on, sev_names[severity], route, on, severity == SL_SLO_PAGE ? "fast" : "steadily", on, route,
        sl_rules_format_ratio((u128)m->target_ppb * 100u, SL_SLO_PPB, target, sizeof(target)),
        prom_duration(m->period_min, win, sizeof(win)), b[0], sl_slo_window_names[r0->long_window],
        sl_slo_window_names[r0->short_window], b[1], sl_slo_window_names[r1->long_window],
        sl_slo_window_names[r1->short_window]);
}

static int route_group(sl_buf_t *out, const sl_conf_route_t *r, const sl_slo_t *math, int enabled)
{
    char w[16], budget[64];
    int rc = sl_buf_appendf(out, "  - name: sluice-slo-%s\n    rules:\n", r->name);
    /* the ratios first: rules of one group run in order, so the alerts below read this evaluation's ratios */
    uint32_t period = r->slo.window_s / 60;
    int period_is_burn_window = 0;
    for (int k = 0; k != SL_SLO_NUM_WINDOWS && rc == SL_OK; ++k) {
        rc = ratio_rules(out, r->name, sl_slo_window_minutes[k]);
        period_is_burn_window |= sl_slo_window_minutes[k] == period;
    }
    if (rc == SL_OK && !period_is_burn_window)
        rc = ratio_rules(out, r->name, period);
    for (int o = 0; o != SL_SLO_NUM_OBJECTIVES && rc == SL_OK; ++o) {
        if ((enabled >> o & 1) == 0)
            continue;
        const sl_slo_t *m = &math[o];
        const char *on = sl_slo_objective_names[o];
        sl_rules_format_ratio(m->budget_ppb, SL_SLO_PPB, budget, sizeof(budget));
        prom_duration(m->period_min, w, sizeof(w));
        for (int k = 0; k != SL_SLO_NUM_WINDOWS && rc == SL_OK; ++k)
            rc = sl_buf_appendf(out,
                                "      - record: route_objective:sluice_slo_burn_rate:ratio\n"
                                "        expr: route_objective:sluice_slo_errors:ratio_rate%s{route=\"%s\","
                                "objective=\"%s\"} / %s\n"
                                "        labels:\n"
                                "          route: \"%s\"\n"
                                "          objective: %s\n"
                                "          window: \"%s\"\n",
                                sl_slo_window_names[k], r->name, on, budget, r->name, on, sl_slo_window_names[k]);
        if (rc == SL_OK)
            rc = sl_buf_appendf(out,
                                "      - record: route_objective:sluice_slo_budget_remaining:ratio\n"
                                "        expr: 1 - route_objective:sluice_slo_errors:ratio_rate%s{route=\"%s\","
                                "objective=\"%s\"} / %s\n"
                                "        labels:\n"
                                "          route: \"%s\"\n"
                                "          objective: %s\n",
                                w, r->name, on, budget, r->name, on);
        if (rc == SL_OK)
            rc = alert_rule(out, r->name, o, m, SL_SLO_PAGE);
        if (rc == SL_OK)
            rc = alert_rule(out, r->name, o, m, SL_SLO_TICKET);
    }
    return rc;
}

int sl_rules_render(const sl_conf_t *conf, sl_buf_t *out, size_t *num_objectives)
{
    size_t start = out->len, count = 0;
    sl_slo_t math[SL_SLO_NUM_OBJECTIVES];
    int enabled;

    for (size_t i = 0; i != conf->num_routes; ++i) {
        if (route_objectives(&conf->routes[i], math, &enabled) != SL_OK)
            return SL_EINVAL;
        count += (size_t)__builtin_popcount((unsigned)enabled);
    }
    int rc = sl_buf_appendf(
        out, "# Prometheus recording and alerting rules for the SLOs and monitors of a sluice config, written by\n"
             "# `sluice rules`: regenerate them when those change. docs/SLO.md and docs/MONITORING.md explain them.\n");
    if (rc == SL_OK)
        rc = sl_buf_appendf(out, count == 0 && sl_rules_monitored_routes(conf) == 0
                                     ? "# This config declares no SLO.\ngroups: []\n"
                                     : "groups:\n");
    for (size_t i = 0; i != conf->num_routes && rc == SL_OK; ++i) {
        route_objectives(&conf->routes[i], math, &enabled);
        if (enabled != 0)
            rc = route_group(out, &conf->routes[i], math, enabled);
    }
    for (size_t i = 0; i != conf->num_routes && rc == SL_OK; ++i)
        rc = sl_rules_render_monitor(&conf->routes[i], out); /* model monitoring alerts (rules_monitor.c) */
    if (rc != SL_OK) {
        out->len = start;
        return rc;
    }
    if (num_objectives != NULL)
        *num_objectives = count;
    return SL_OK;
}
