/*
 * slo_render.c - an SLO verdict as Prometheus metrics (for /metrics) and as JSON (for /admin/state).
 *
 * The metric names and labels are a contract with `sluice rules` (policies/rules.c) and with users' dashboards;
 * docs/SLO.md ("Metrics") lists them. Labels are bounded: route names come from the config, objective, window and
 * severity from fixed lists. A measure without data (no traffic in its window) has no sample at all - Prometheus
 * treats an absent series as "no data", where NaN would poison aggregations - and is null in JSON.
 * Targets are printed exactly from parts per billion ("0.999"), ratios with 17 significant digits (round trip).
 *
 * Thread: any (a verdict is immutable). Allocates only by growing the caller's buffer.
 */
#include "policies/slo.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/status.h"
#include "stats/slo.h"

/* "0.999" from parts per billion: exact, no trailing zeros. */
static const char *ratio_ppb(uint32_t ppb, char *buf, size_t sz)
{
    char digits[16];
    snprintf(digits, sizeof(digits), "%09" PRIu32, ppb);
    size_t n = strlen(digits);
    while (n > 1 && digits[n - 1] == '0')
        digits[--n] = '\0';
    snprintf(buf, sz, "0.%s", digits);
    return buf;
}

static int any_enabled(const sl_slo_verdict_t *v)
{
    for (size_t i = 0; i != v->num_routes; ++i)
        for (int o = 0; o != SL_SLO_NUM_OBJECTIVES; ++o)
            if (v->routes[i].objectives[o].enabled)
                return 1;
    return 0;
}

static void family(sl_buf_t *out, int *rc, const char *name, const char *type, const char *help)
{
    if (*rc == SL_OK)
        *rc = sl_buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int sl_slo_render_metrics(const sl_slo_verdict_t *v, sl_buf_t *out)
{
    static const char *const severities[] = {"page", "ticket"};
    size_t start = out->len;
    int rc = SL_OK;
    char b[32];
    if (!any_enabled(v))
        return SL_OK;

    for (int f = 0; f != 6; ++f) {
        switch (f) {
        case 0:
            family(out, &rc, "sluice_slo_requests_total", "counter",
                   "Requests counted by an SLO objective since the process started.");
            break;
        case 1:
            family(out, &rc, "sluice_slo_good_total", "counter",
                   "Requests that met an SLO objective since the process started.");
            break;
        case 2:
            family(out, &rc, "sluice_slo_objective", "gauge", "Target share of good requests of an SLO objective.");
            break;
        case 3:
            family(out, &rc, "sluice_slo_budget_remaining", "gauge",
                   "Share of the error budget left over the SLO window (1 untouched, 0 spent, negative overspent).");
            break;
        case 4:
            family(out, &rc, "sluice_slo_burn_rate", "gauge",
                   "Error rate over a trailing window divided by the error budget (1 spends it in one SLO window).");
            break;
        default:
            family(out, &rc, "sluice_slo_alert", "gauge",
                   "1 while a multi-window multi-burn-rate alert of the objective fires, else 0.");
            break;
        }
        for (size_t i = 0; i != v->num_routes && rc == SL_OK; ++i) {
            const sl_slo_route_verdict_t *r = &v->routes[i];
            for (int o = 0; o != SL_SLO_NUM_OBJECTIVES && rc == SL_OK; ++o) {
                const sl_slo_objective_verdict_t *ov = &r->objectives[o];
                const char *on = sl_slo_objective_names[o];
                if (!ov->enabled)
                    continue;
                switch (f) {
                case 0:
                    rc = sl_buf_appendf(out, "sluice_slo_requests_total{route=\"%s\",objective=\"%s\"} %" PRIu64 "\n", r->name,
                                        on, ov->requests_total);
                    break;
                case 1:
                    rc = sl_buf_appendf(out, "sluice_slo_good_total{route=\"%s\",objective=\"%s\"} %" PRIu64 "\n", r->name, on,
                                        ov->good_total);
                    break;
                case 2:
                    rc = sl_buf_appendf(out, "sluice_slo_objective{route=\"%s\",objective=\"%s\"} %s\n", r->name, on,
                                        ratio_ppb(ov->target_ppb, b, sizeof(b)));
                    break;
                case 3:
                    if (ov->report.budget_remaining.has_data)
                        rc = sl_buf_appendf(out, "sluice_slo_budget_remaining{route=\"%s\",objective=\"%s\"} %.17g\n", r->name,
                                            on, ov->report.budget_remaining.value);
                    break;
                case 4:
                    for (int w = 0; w != SL_SLO_NUM_WINDOWS && rc == SL_OK; ++w)
                        if (ov->report.burn_rate[w].has_data)
                            rc = sl_buf_appendf(out,
                                                "sluice_slo_burn_rate{route=\"%s\",objective=\"%s\",window=\"%s\"} "
                                                "%.17g\n",
                                                r->name, on, sl_slo_window_names[w], ov->report.burn_rate[w].value);
                    break;
                default:
                    for (int s = 0; s != 2 && rc == SL_OK; ++s)
                        rc = sl_buf_appendf(out, "sluice_slo_alert{route=\"%s\",objective=\"%s\",severity=\"%s\"} %d\n",
                                            r->name, on, severities[s], s == 0 ? ov->report.page : ov->report.ticket);
                    break;
                }
            }
        }
    }
    if (rc != SL_OK)
        out->len = start;
    return rc;
}

static void json_str(sl_buf_t *out, int *rc, const char *s)
{
    if (*rc == SL_OK && s[0] == '\0') {
        *rc = sl_buf_append(out, "null", 4);
        return;
    }
    if (*rc == SL_OK)
        *rc = sl_buf_append(out, "\"", 1);
    if (*rc == SL_OK)
        *rc = sl_buf_append_json_escaped(out, s, strlen(s));
    if (*rc == SL_OK)
        *rc = sl_buf_append(out, "\"", 1);
}

static void json_value(sl_buf_t *out, int *rc, sl_slo_value_t v)
{
    if (*rc != SL_OK)
        return;
    *rc = v.has_data ? sl_buf_appendf(out, "%.17g", v.value) : sl_buf_append(out, "null", 4);
}

static int json_objective(sl_buf_t *out, const sl_slo_objective_verdict_t *ov)
{
    const sl_slo_report_t *rep = &ov->report;
    char b[32];
    int rc =
        sl_buf_appendf(out, "{\"target\":%s,\"window_minutes\":%" PRIu32 ",", ratio_ppb(ov->target_ppb, b, 32), ov->period_min);
    if (rc == SL_OK && ov->threshold_us != 0)
        rc = sl_buf_appendf(out, "\"threshold_us\":%" PRIu64 ",", ov->threshold_us);
    if (rc == SL_OK)
        rc = sl_buf_appendf(out,
                            "\"requests_total\":%" PRIu64 ",\"good_total\":%" PRIu64 ",\"coverage_minutes\":%" PRIu32
                            ",\"window\":{\"good\":%" PRIu64 ",\"total\":%" PRIu64 "},\"allowed_bad\":%.17g,"
                            "\"budget_remaining\":",
                            ov->requests_total, ov->good_total, ov->coverage_min, rep->period.good, rep->period.total,
                            rep->allowed_bad);
    json_value(out, &rc, rep->budget_remaining);
    if (rc == SL_OK)
        rc = sl_buf_append(out, ",\"burn_rates\":{", 15);
    for (int w = 0; w != SL_SLO_NUM_WINDOWS && rc == SL_OK; ++w) {
        rc = sl_buf_appendf(out, "%s\"%s\":", w != 0 ? "," : "", sl_slo_window_names[w]);
        json_value(out, &rc, rep->burn_rate[w]);
    }
    if (rc == SL_OK)
        rc = sl_buf_append(out, "},\"rules\":{", 11);
    for (int k = 0; k != SL_SLO_NUM_RULES && rc == SL_OK; ++k)
        rc = sl_buf_appendf(out, "%s\"%s\":{\"firing\":%s,\"threshold\":%.17g}", k != 0 ? "," : "", sl_slo_rules[k].name,
                            rep->rule_firing[k] ? "true" : "false", ov->thresholds[k]);
    if (rc == SL_OK)
        rc = sl_buf_appendf(out, "},\"page\":%s,\"ticket\":%s,\"restored\":%s,\"reset_reason\":", rep->page ? "true" : "false",
                            rep->ticket ? "true" : "false", ov->restored ? "true" : "false");
    json_str(out, &rc, ov->reset_reason);
    if (rc == SL_OK)
        rc = sl_buf_append(out, ",\"restore_note\":", 16);
    json_str(out, &rc, ov->restore_note);
    if (rc == SL_OK)
        rc = sl_buf_append(out, "}", 1);
    return rc;
}

int sl_slo_render_json(const sl_slo_verdict_t *v, sl_buf_t *out)
{
    size_t start = out->len;
    int first = 1;
    int rc = sl_buf_appendf(out, "{\"tick\":%" PRIu64 ",\"wall_ms\":%" PRIu64 ",\"minute\":%" PRId64 ",\"routes\":[", v->tick,
                            v->wall_ms, v->minute);
    for (size_t i = 0; i != v->num_routes && rc == SL_OK; ++i) {
        const sl_slo_route_verdict_t *r = &v->routes[i];
        int has = 0;
        for (int o = 0; o != SL_SLO_NUM_OBJECTIVES; ++o)
            has |= r->objectives[o].enabled;
        if (!has)
            continue;
        rc = sl_buf_appendf(out, "%s{\"route\":", first ? "" : ",");
        json_str(out, &rc, r->name);
        if (rc == SL_OK)
            rc = sl_buf_appendf(out, ",\"page\":%s,\"ticket\":%s,\"objectives\":{", r->page ? "true" : "false",
                                r->ticket ? "true" : "false");
        int firsto = 1;
        for (int o = 0; o != SL_SLO_NUM_OBJECTIVES && rc == SL_OK; ++o) {
            if (!r->objectives[o].enabled)
                continue;
            rc = sl_buf_appendf(out, "%s\"%s\":", firsto ? "" : ",", sl_slo_objective_names[o]);
            if (rc == SL_OK)
                rc = json_objective(out, &r->objectives[o]);
            firsto = 0;
        }
        if (rc == SL_OK)
            rc = sl_buf_append(out, "}}", 2);
        first = 0;
    }
    if (rc == SL_OK)
        rc = sl_buf_append(out, "]}", 2);
    if (rc != SL_OK)
        out->len = start;
    return rc;
}
