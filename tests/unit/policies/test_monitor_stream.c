/*
 * test_monitor_stream.c - the whole drift path against an independent replay (tests/fixtures/monitor/stream.json):
 * a reference file, 900 request bodies observed by two workers over four minutes (a phase like the reference, a
 * drifted phase with many nulls, a phase back to normal), ticks, and at 31 times the window's measures and drift
 * states of a numeric and a categorical feature, as numpy/scipy compute them. Counts exactly, measures to 1e-9,
 * states exactly (hysteresis included: the script replays the tick schedule).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "common/json_scan.h"
#include "policies/monitor.h"
#include "test_monitor_fixture.h"

static void check(const sl_monitor_measures_t *m, const json_t *e, const char *what, uint64_t t)
{
    char w[96];
    cr_assert_eq(m->n_cur, (uint64_t)mon_num(e, "n_cur"), "%s at %llu: n_cur %llu", what, (unsigned long long)t,
                 (unsigned long long)m->n_cur);
    cr_assert_eq(m->n_ref, (uint64_t)mon_num(e, "n_ref"), "%s at %llu", what, (unsigned long long)t);
    cr_assert_eq(m->nulls, (uint64_t)mon_num(e, "nulls"), "%s at %llu: nulls", what, (unsigned long long)t);
    cr_assert_eq(m->type_errors, (uint64_t)mon_num(e, "type_errors"), "%s at %llu", what, (unsigned long long)t);
    cr_assert_eq(m->has_drift, json_object_get(e, "psi") != NULL, "%s at %llu: drift", what, (unsigned long long)t);
    if (m->has_drift) {
        snprintf(w, sizeof(w), "%s psi at %llu", what, (unsigned long long)t);
        mon_close(m->psi, mon_num(e, "psi"), w);
        snprintf(w, sizeof(w), "%s js at %llu", what, (unsigned long long)t);
        mon_close(m->js, mon_num(e, "js"), w);
    }
    cr_assert_eq(m->has_ks, json_object_get(e, "ks_statistic") != NULL, "%s at %llu: ks", what, (unsigned long long)t);
    if (m->has_ks) {
        snprintf(w, sizeof(w), "%s ks at %llu", what, (unsigned long long)t);
        mon_close(m->ks_statistic, mon_num(e, "ks_statistic"), w);
        double p = mon_num(e, "ks_pvalue");
        cr_assert(fabs(m->ks_pvalue - p) <= 1e-9 * p || (p < 1e-300 && m->ks_pvalue < 1e-300), "%s ks p: %g vs %g", what,
                  m->ks_pvalue, p);
    }
    cr_assert_eq(m->has_chi2, json_object_get(e, "chi2_statistic") != NULL, "%s at %llu: chi2", what, (unsigned long long)t);
    if (m->has_chi2) {
        double s = mon_num(e, "chi2_statistic"), p = mon_num(e, "chi2_pvalue");
        cr_assert(fabs(m->chi2_statistic - s) <= 1e-9 * s, "%s chi2 %g vs %g", what, m->chi2_statistic, s);
        cr_assert(fabs(m->chi2_pvalue - p) <= 1e-9 * p || (p < 1e-300 && m->chi2_pvalue < 1e-300), "%s chi2 p %g vs %g", what,
                  m->chi2_pvalue, p);
    }
    if (m->has_ratios) {
        snprintf(w, sizeof(w), "%s null ratio at %llu", what, (unsigned long long)t);
        mon_close(m->null_ratio, mon_num(e, "null_ratio"), w);
    }
    cr_assert_eq((int)m->state, (int)mon_num(e, "state"), "%s at %llu: state %s", what, (unsigned long long)t,
                 sl_monitor_state_name(m->state));
}

Test(monitor_stream, window_measures_and_states_match_the_replay)
{
    json_t *fx = mon_fixture("stream.json");
    char dir[64], ref_path[128], yaml[2048];
    mon_mkdtemp(dir, sizeof(dir));
    snprintf(ref_path, sizeof(ref_path), "%s/ref.json", dir);
    json_t *raw = mon_fixture_flags("stream.json", 0);
    cr_assert_eq(json_dump_file(json_object_get(raw, "reference"), ref_path, JSON_REAL_PRECISION(17)), 0);
    json_decref(raw);
    snprintf(yaml, sizeof(yaml),
             "backends: {a: {protocol: openai, endpoints: 127.0.0.1:1}}\n"
             "routes:\n"
             "  - name: r\n"
             "    cascade: [{backend: a}]\n"
             "    monitor:\n"
             "      features:\n"
             "        - {name: x, source: /x, bins: 5}\n"
             "        - {name: c, source: /c, type: categorical, max_categories: 3}\n"
             "      reference: %s\n"
             "      window: 1m\n"
             "      slots: 6\n"
             "      min_samples: 20\n"
             "      thresholds: {psi_warn: 0.1, psi_alert: 0.25, ks_pvalue: 0.000001, null_ratio_warn: 20%%,\n"
             "                   null_ratio_alert: 50%%, hysteresis: 20%%}\n",
             ref_path);
    sl_conf_t *conf = mon_conf(yaml);
    sl_monitor_t *m = NULL;
    char err[1024];
    cr_assert_eq(sl_monitor_create(conf, 2, 0, &m, err, sizeof(err)), SL_OK, "%s", err);
    const sl_monitor_route_t *r = sl_monitor_route(m, 0);
    cr_assert_not_null(r);
    cr_assert_eq(r->ref_state, SL_MONITOR_REF_READY);
    cr_assert_eq(r->ref_samples, 1000);
    cr_assert_eq(r->ref_categories[1], 2);

    json_t *events = json_object_get(fx, "events"), *evals = json_object_get(fx, "evals");
    size_t ne = json_array_size(events), nv = json_array_size(evals), ie = 0, iv = 0, checked = 0;
    cr_assert_eq(ne, 900);
    while (ie != ne || iv != nv) {
        json_t *ev = ie != ne ? json_array_get(events, ie) : NULL, *vv = iv != nv ? json_array_get(evals, iv) : NULL;
        uint64_t te = ev != NULL ? (uint64_t)json_number_value(json_array_get(ev, 0)) : UINT64_MAX;
        uint64_t tv = vv != NULL ? (uint64_t)mon_num(vv, "t") : UINT64_MAX;
        if (te <= tv) { /* an event first when both fall on the same millisecond */
            const char *body = json_string_value(json_array_get(ev, 2));
            sl_monitor_input_t in;
            memset(&in, 0, sizeof(in));
            cr_assert_eq(sl_json_parse(body, strlen(body), &in.request), SL_OK);
            in.response.type = SL_JSON_INVALID;
            in.now_ms = te;
            sl_monitor_observe(m, (uint32_t)json_number_value(json_array_get(ev, 1)), 0, &in);
            sl_monitor_tick(m, te);
            ++ie;
            continue;
        }
        sl_monitor_tick(m, tv);
        sl_monitor_evaluate(m, tv);
        check(&r->measures[0], json_object_get(vv, "x"), "x", tv);
        check(&r->measures[1], json_object_get(vv, "c"), "c", tv);
        ++checked;
        ++iv;
    }
    cr_assert_eq(checked, 31);
    cr_assert_eq(r->requests, 900);
    /* the drifted phase raised both features to alert on the way: the fixture says so, and so did we */
    sl_monitor_destroy(m);
    sl_conf_release(conf);
    mon_rmdir(dir);
    json_decref(fx);
}
