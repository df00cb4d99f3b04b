/*
 * test_monitor.c - the monitoring policy as the gateway drives it (policies/monitor.c, monitor_feedback.c,
 * monitor_render.c, monitor_json.c): reference files refused at start, a baseline captured from live traffic, the
 * feedback path from a worker's observe to the answer of POST /v1/feedback and the quality it feeds, the metrics
 * (checked by promtool when it is installed) and the JSON state, and workers observing while the control thread
 * ticks.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "common/json_scan.h"
#include "policies/feedback.h"
#include "policies/monitor.h"
#include "policies/reference.h"
#include "stats/drift.h"
#include "stats/reservoir.h"
#include "test_monitor_fixture.h"

#define BACKENDS                                                                                                               \
    "backends:\n"                                                                                                              \
    "  small: {protocol: openai, endpoints: 127.0.0.1:1}\n"                                                                    \
    "  large: {protocol: openai, endpoints: 127.0.0.1:2}\n"

static void observe(sl_monitor_t *m, uint32_t w, const char *body, const char *answer, const char *id, uint32_t backend,
                    enum en_sl_feedback_version_t version, uint64_t now)
{
    sl_monitor_input_t in;
    memset(&in, 0, sizeof(in));
    in.request.type = in.response.type = SL_JSON_INVALID;
    if (body != NULL)
        cr_assert_eq(sl_json_parse(body, strlen(body), &in.request), SL_OK);
    if (answer != NULL)
        cr_assert_eq(sl_json_parse(answer, strlen(answer), &in.response), SL_OK);
    in.request_id = id;
    in.request_id_len = id != NULL ? strlen(id) : 0;
    in.backend = backend;
    in.version = version;
    in.now_ms = now;
    sl_monitor_observe(m, w, 0, &in);
}

Test(monitor, bad_reference_files_fail_the_start)
{
    char dir[64], yaml[1024], path[128], err[1024], want[512];
    sl_monitor_t *m = (sl_monitor_t *)1;
    mon_mkdtemp(dir, sizeof(dir));
    snprintf(yaml, sizeof(yaml),
             BACKENDS "routes:\n"
                      "  - {name: a, cascade: [{backend: small}]}\n"
                      "  - name: b\n"
                      "    cascade: [{backend: small}]\n"
                      "    monitor: {features: [{name: /x}], reference: %s/ref.json}\n",
             dir);
    sl_conf_t *c = mon_conf(yaml);
    cr_assert_eq(sl_monitor_create(c, 2, 0, &m, err, sizeof(err)), SL_ECONFIG);
    snprintf(want, sizeof(want), "routes[1].monitor.reference: %s/ref.json: cannot read: No such file or directory", dir);
    cr_assert_str_eq(err, want);
    cr_assert_eq(m, (sl_monitor_t *)1, "output untouched");
    snprintf(path, sizeof(path), "%s/ref.json", dir);
    const char *doc = "{\"format\":\"sluice-reference\",\"version\":1,\"route\":\"b\",\"created\":\"\",\"samples\":3,"
                      "\"features\":[{\"name\":\"/x\",\"source\":\"/x\",\"type\":\"numeric\",\"edges\":[1,2,3,4,5,6,7,8],"
                      "\"counts\":[1,1,1,0,0,0,0,0,0]}]}";
    mon_write(path, doc, strlen(doc));
    cr_assert_eq(sl_monitor_create(c, 2, 0, &m, err, sizeof(err)), SL_ECONFIG);
    snprintf(want, sizeof(want),
             "routes[1].monitor.reference: %s/ref.json: feature \"/x\": the reference has 9 bins, the config asks for 10", dir);
    cr_assert_str_eq(err, want);
    cr_assert_eq(sl_monitor_create(c, 0, 0, &m, err, sizeof(err)), SL_EINVAL);
    sl_conf_release(c);
    mon_rmdir(dir);
}

/* A baseline of the first 200 requests: x uniform on [0, 100), lang "en" 3 in 4 and "fr" otherwise. The bin edges
 * become the quantiles of the 200 captured values, the categories their counts; then traffic with x shifted by 40
 * and lang all "de" (a category the baseline never saw) raises both to alert. */
Test(monitor, baseline_capture_then_drift)
{
    sl_conf_t *c = mon_conf(BACKENDS "routes:\n"
                                     "  - name: r\n"
                                     "    cascade: [{backend: small}]\n"
                                     "    monitor:\n"
                                     "      features: [{name: x, source: /x}, {name: lang, source: /lang, type: categorical}]\n"
                                     "      reference: {baseline: 1h, baseline_samples: 200}\n"
                                     "      min_samples: 50\n");
    sl_monitor_t *m;
    char err[512], body[128];
    cr_assert_eq(sl_monitor_create(c, 2, 1000, &m, err, sizeof(err)), SL_OK, "%s", err);
    const sl_monitor_route_t *r = sl_monitor_route(m, 0);
    cr_assert_eq(r->ref_state, SL_MONITOR_REF_CAPTURING);
    cr_assert_null(r->model);
    double xs[200];
    uint64_t rng = 99, t = 1000;
    for (int i = 0; i != 200; ++i, t += 10) {
        xs[i] = (double)(sl_reservoir_splitmix64(&rng) % 10000) / 100;
        snprintf(body, sizeof(body), "{\"x\":%.2f,\"lang\":\"%s\"}", xs[i], i % 4 == 3 ? "fr" : "en");
        observe(m, (uint32_t)i % 2, body, NULL, NULL, 0, SL_FEEDBACK_STABLE, t);
        if (i % 50 == 49 && i != 199) {
            sl_monitor_tick(m, t);
            cr_assert_eq(r->ref_state, SL_MONITOR_REF_CAPTURING, "still capturing after %d", i + 1);
            cr_assert_eq(r->measures[0].has_drift, 0, "no drift without a reference");
        }
    }
    sl_monitor_tick(m, t);
    cr_assert_eq(r->ref_state, SL_MONITOR_REF_READY);
    cr_assert_not_null(r->model);
    cr_assert_eq(r->ref_samples, 200);
    double edges[9];
    uint64_t counts[10];
    sl_reference_numeric(xs, 200, 10, edges, counts);
    for (int i = 0; i != 9; ++i)
        cr_assert_eq(r->model->edges[i], edges[i], "edge %d", i);
    for (int i = 0; i != 10; ++i)
        cr_assert_eq(r->ref_counts[i], counts[i], "bin %d", i);
    const sl_monitor_spec_t *lang = &r->plan.specs[1];
    cr_assert_eq(r->ref_categories[1], 2);
    cr_assert_eq(r->ref_counts[lang->cell + 0], 150, "en");
    cr_assert_eq(r->ref_counts[lang->cell + 1], 50, "fr");
    cr_assert_eq(r->measures[0].n_cur, 0, "the window starts afresh with the reference");
    for (int i = 0; i != 100; ++i, t += 10) {
        snprintf(body, sizeof(body), "{\"x\":%.2f,\"lang\":\"de\"}", 40 + (double)(sl_reservoir_splitmix64(&rng) % 6000) / 100);
        observe(m, (uint32_t)i % 2, body, NULL, NULL, 0, SL_FEEDBACK_STABLE, t);
    }
    sl_monitor_tick(m, t);
    sl_monitor_evaluate(m, t);
    cr_assert_eq(r->measures[0].n_cur, 100);
    cr_assert_eq(r->measures[0].state, SL_MONITOR_STATE_ALERT);
    cr_assert(r->measures[0].psi > 0.25, "psi %g", r->measures[0].psi);
    cr_assert_eq(r->measures[1].state, SL_MONITOR_STATE_ALERT);
    cr_assert_eq(r->measures[1].n_cur, 100);
    cr_assert_eq(r->global_tabs[lang->categorical_index].count, 3, "de was tracked as a category of its own");
    sl_monitor_destroy(m);
    sl_conf_release(c);
}

static const char *const classify_yaml =
    BACKENDS "routes:\n"
             "  - name: chat\n"
             "    cascade: [{backend: small}, {backend: large}]\n"
             "    monitor:\n"
             "      prediction: {label: /choices/0/message/content}\n"
             "      reference: {baseline: 1h, baseline_samples: 1000}\n"
             "      feedback: {task: classification, labels: [positive, negative], horizon: 10s}\n";

static int feedback(sl_monitor_t *m, const char *body, uint64_t now, char *out, size_t outsz)
{
    sl_buf_t b;
    sl_buf_init(&b, 0);
    int status = sl_monitor_feedback(m, body, strlen(body), now, &b);
    snprintf(out, outsz, "%s", b.data != NULL ? b.data : "");
    sl_buf_dispose(&b);
    return status;
}

Test(monitor, feedback_from_observe_to_quality)
{
    sl_conf_t *c = mon_conf(classify_yaml);
    sl_monitor_t *m;
    char err[512], out[2048];
    cr_assert_eq(sl_monitor_create(c, 2, 0, &m, err, sizeof(err)), SL_OK, "%s", err);
    const char *pos = "{\"choices\":[{\"message\":{\"content\":\"positive\"}}]}";
    const char *neg = "{\"choices\":[{\"message\":{\"content\":\"negative\"}}]}";
    const char *odd = "{\"choices\":[{\"message\":{\"content\":\"perhaps\"}}]}";
    observe(m, 0, "{}", pos, "r1", 0, SL_FEEDBACK_STABLE, 100);
    observe(m, 1, "{}", neg, "r2", 0, SL_FEEDBACK_STABLE, 110);
    observe(m, 0, "{}", pos, "r3", 1, SL_FEEDBACK_CANARY, 120);
    observe(m, 1, "{}", odd, "r4", 0, SL_FEEDBACK_STABLE, 130);
    observe(m, 0, "{}", "{\"error\":{}}", "r5", 0, SL_FEEDBACK_STABLE, 140);
    observe(m, 1, "{}", pos, NULL, 0, SL_FEEDBACK_STABLE, 150); /* no request id: not kept */
    sl_monitor_tick(m, 200);
    const sl_monitor_route_t *r = sl_monitor_route(m, 0);
    cr_assert_eq(r->feedback.recorded, 5);
    cr_assert_eq(sl_feedback_table_pending(&r->feedback), 5);
    cr_assert_eq(r->not_kept, 1);

    cr_assert_eq(feedback(m, "{\"id\":\"r1\",\"label\":\"positive\"}", 1000, out, sizeof(out)), 200);
    cr_assert_str_eq(out, "{\"id\":\"r1\",\"result\":\"joined\",\"route\":\"chat\"}");
    cr_assert_eq(feedback(m,
                          "[{\"id\":\"r2\",\"label\":\"positive\"},{\"id\":\"r3\",\"label\":\"positive\"},"
                          "{\"id\":\"r4\",\"label\":\"negative\"},{\"id\":\"r5\",\"label\":\"negative\"},"
                          "{\"id\":\"r1\",\"label\":\"positive\"},{\"id\":\"zz\",\"label\":\"positive\"},"
                          "{\"id\":\"r2\",\"label\":\"maybe\"},{\"id\":\"r2\",\"value\":1}]",
                          1000, out, sizeof(out)),
                 200);
    cr_assert_str_eq(out, "{\"results\":["
                          "{\"id\":\"r2\",\"result\":\"joined\",\"route\":\"chat\"},"
                          "{\"id\":\"r3\",\"result\":\"joined\",\"route\":\"chat\"},"
                          "{\"id\":\"r4\",\"result\":\"joined\",\"route\":\"chat\"},"
                          "{\"id\":\"r5\",\"result\":\"no_prediction\",\"route\":\"chat\"},"
                          "{\"id\":\"r1\",\"result\":\"duplicate\",\"route\":\"chat\"},"
                          "{\"id\":\"zz\",\"result\":\"unknown\"},"
                          "{\"id\":\"r2\",\"result\":\"duplicate\",\"route\":\"chat\"},"
                          "{\"id\":\"r2\",\"result\":\"duplicate\",\"route\":\"chat\"}],"
                          "\"counts\":{\"joined\":3,\"unknown\":1,\"expired\":0,\"duplicate\":3,\"invalid\":0,"
                          "\"no_prediction\":1}}");
    cr_assert_eq(feedback(m, "{\"id\":\"r1\",\"lable\":\"x\"}", 1000, out, sizeof(out)), 400);
    cr_assert_str_eq(out, "{\"error\":{\"message\":\"unknown key \\\"lable\\\"\",\"type\":\"invalid_request_error\","
                          "\"code\":\"invalid_feedback\"}}");
    observe(m, 0, "{}", pos, "r6", 0, SL_FEEDBACK_STABLE, 2000);
    observe(m, 0, "{}", pos, "r7", 0, SL_FEEDBACK_STABLE, 2000);
    sl_monitor_tick(m, 2000);
    cr_assert_eq(feedback(m, "{\"id\":\"r6\",\"label\":\"sure\"}", 3000, out, sizeof(out)), 200);
    cr_assert_str_eq(out, "{\"id\":\"r6\",\"result\":\"invalid\",\"route\":\"chat\",\"detail\":\"the label is not one of the "
                          "route's labels\"}");
    cr_assert_eq(feedback(m, "{\"id\":\"r6\",\"label\":\"negative\"}", 12001, out, sizeof(out)), 200);
    cr_assert_str_eq(out, "{\"id\":\"r6\",\"result\":\"expired\",\"route\":\"chat\"}");
    sl_monitor_tick(m, 12001);
    cr_assert_eq(r->feedback.expired, 2, "r6 and r7 expired without a label");
    cr_assert_eq(m->feedback_results[SL_FEEDBACK_JOINED], 4);
    cr_assert_eq(m->feedback_results[SL_FEEDBACK_DUPLICATE], 3);
    cr_assert_eq(m->feedback_results[SL_FEEDBACK_INVALID], 1);
    cr_assert_eq(m->feedback_results[SL_FEEDBACK_EXPIRED], 1);
    cr_assert_eq(m->feedback_rejected, 1);

    /* small/stable: r1 positive->positive (right), r2 negative->positive (wrong), r4 "perhaps"->negative (wrong) */
    sl_quality_report_t q;
    cr_assert_eq(sl_monitor_quality(m, 0, 0, SL_FEEDBACK_STABLE, 3000, &q), SL_OK);
    cr_assert_eq(q.n, 3);
    mon_close(q.accuracy, 1.0 / 3, "accuracy");
    /* positive: tp 1, fp 0, fn 1 -> P 1, R 1/2, F1 2/3; negative: tp 0, fp 1, fn 1 -> 0, 0, 0 */
    mon_close(q.precision, 0.5, "precision");
    mon_close(q.recall, 0.25, "recall");
    mon_close(q.f1, 1.0 / 3, "f1");
    cr_assert_eq(sl_monitor_quality(m, 0, 1, SL_FEEDBACK_CANARY, 3000, &q), SL_OK);
    cr_assert_eq(q.n, 1);
    cr_assert_eq(q.accuracy, 1);
    cr_assert_eq(sl_monitor_quality(m, 0, 1, SL_FEEDBACK_STABLE, 3000, &q), SL_OK);
    cr_assert_eq(q.has_data, 0);
    cr_assert_eq(sl_monitor_quality(m, 0, 2, SL_FEEDBACK_STABLE, 3000, &q), SL_ENOENT);
    cr_assert_eq(sl_monitor_quality(m, 1, 0, SL_FEEDBACK_STABLE, 3000, &q), SL_ENOENT);
    sl_monitor_destroy(m);
    sl_conf_release(c);
}

Test(monitor, a_full_ring_drops_and_counts)
{
    sl_conf_t *c = mon_conf(classify_yaml);
    sl_monitor_t *m;
    char err[512], id[32];
    cr_assert_eq(sl_monitor_create(c, 1, 0, &m, err, sizeof(err)), SL_OK, "%s", err);
    for (uint32_t i = 0; i != SL_MONITOR_FEEDBACK_RING + 5; ++i) {
        snprintf(id, sizeof(id), "req-%u", (unsigned)i);
        observe(m, 0, "{}", NULL, id, 0, SL_FEEDBACK_STABLE, 1);
    }
    cr_assert_eq(sl_monitor_ring_dropped(&m->feedback_rings[0]), 5);
    sl_monitor_tick(m, 2);
    cr_assert_eq(sl_monitor_route(m, 0)->feedback.recorded, SL_MONITOR_FEEDBACK_RING);
    cr_assert_eq(sl_monitor_route(m, 0)->requests, SL_MONITOR_FEEDBACK_RING + 5);
    sl_monitor_destroy(m);
    sl_conf_release(c);
}

/* The /metrics contract: the families and labels docs/MONITORING.md names, no NaN, and promtool's approval. */
Test(monitor, metrics_and_state)
{
    char dir[64], path[128], yaml[2048], err[512], out[256];
    mon_mkdtemp(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/ref.json", dir);
    const char *doc =
        "{\"format\":\"sluice-reference\",\"version\":1,\"route\":\"chat\",\"created\":\"2025-01-01T00:00:00Z\","
        "\"samples\":100,\"prediction\":{\"name\":\"prediction\",\"source\":\"label:/choices/0/message/content\","
        "\"type\":\"categorical\",\"categories\":[\"positive\",\"negative\"],\"counts\":[60,40],\"other\":0,"
        "\"nulls\":0,\"type_errors\":0},\"features\":[{\"name\":\"we\\\"ird\",\"source\":\"/x\",\"type\":\"numeric\","
        "\"edges\":[10],\"counts\":[50,50],\"nulls\":0,\"type_errors\":0}]}";
    mon_write(path, doc, strlen(doc));
    snprintf(yaml, sizeof(yaml),
             BACKENDS "routes:\n"
                      "  - name: chat\n"
                      "    cascade: [{backend: small}]\n"
                      "    monitor:\n"
                      "      prediction: {label: /choices/0/message/content}\n"
                      "      features: [{name: \"we\\\"ird\", source: /x, bins: 2}]\n"
                      "      reference: %s\n"
                      "      min_samples: 10\n"
                      "      feedback: {task: classification, labels: [positive, negative]}\n",
             path);
    sl_conf_t *c = mon_conf(yaml);
    sl_monitor_t *m;
    cr_assert_eq(sl_monitor_create(c, 2, 0, &m, err, sizeof(err)), SL_OK, "%s", err);
    for (int i = 0; i != 40; ++i) {
        char body[64], rid[16];
        snprintf(body, sizeof(body), i % 10 == 0 ? "{\"x\":\"n/a\"}" : "{\"x\":%d}", i);
        snprintf(rid, sizeof(rid), "q%d", i);
        observe(m, (uint32_t)i % 2, body, i % 3 ? "{\"choices\":[{\"message\":{\"content\":\"positive\"}}]}" : NULL, rid,
                (uint32_t)i % 2, i % 4 == 0 ? SL_FEEDBACK_CANARY : SL_FEEDBACK_STABLE, 10);
    }
    sl_monitor_tick(m, 100);
    feedback(m, "[{\"id\":\"q1\",\"label\":\"positive\"},{\"id\":\"q2\",\"label\":\"negative\"},{\"id\":\"q9\",\"value\":1}]",
             200, out, sizeof(out));
    sl_buf_t b;
    sl_buf_init(&b, 0);
    cr_assert_eq(sl_monitor_render_metrics(m, 200, &b), SL_OK);
    static const char *const lines[] = {
        "# TYPE sluice_drift_psi gauge\n",
        "sluice_monitor_requests_total{route=\"chat\"} 40\n",
        "sluice_monitor_reference_samples{route=\"chat\"} 100\n",
        "sluice_monitor_reference_capturing{route=\"chat\"} 0\n",
        "sluice_drift_window_samples{route=\"chat\",feature=\"we\\\"ird\"} 36\n",
        "sluice_feature_type_error_ratio{route=\"chat\",feature=\"we\\\"ird\"} 0.10000000000000001\n",
        "sluice_feature_null_ratio{route=\"chat\",feature=\"prediction\"} 0.34999999999999998\n",
        "sluice_drift_state{route=\"chat\",feature=\"prediction\",state=\"alert\"} 1\n",
        "sluice_drift_state{route=\"chat\",feature=\"prediction\",state=\"ok\"} 0\n",
        "sluice_feedback_total{result=\"joined\"} 2\n",
        "sluice_feedback_total{result=\"invalid\"} 1\n",
        "sluice_feedback_pending{route=\"chat\"} 38\n",
        "sluice_quality_accuracy{route=\"chat\",backend=\"large\",version=\"stable\"} 1\n",
        "sluice_quality_window_samples{route=\"chat\",backend=\"small\",version=\"stable\"} 1\n",
        "sluice_concept_drift_state{route=\"chat\",backend=\"small\",version=\"stable\",state=\"no_data\"} 1\n",
        "sluice_concept_drift_signals_total{route=\"chat\",backend=\"small\",version=\"stable\",detector=\"adwin\"} 0\n",
    };
    for (size_t i = 0; i != sizeof(lines) / sizeof(lines[0]); ++i)
        cr_expect_not_null(strstr(b.data, lines[i]), "missing: %s", lines[i]);
    cr_assert_null(strstr(b.data, "nan"));
    cr_assert_null(strstr(b.data, "inf"));
    /* promtool, when installed (Debian's prometheus package, which scripts/install-deps installs), must accept it */
    if (access("/usr/bin/promtool", X_OK) == 0) {
        char mpath[128], cmd[300];
        snprintf(mpath, sizeof(mpath), "%s/metrics.txt", dir);
        mon_write(mpath, b.data, b.len);
        snprintf(cmd, sizeof(cmd), "/usr/bin/promtool check metrics < %s > %s/promtool.out 2>&1", mpath, dir);
        int rc = system(cmd);
        snprintf(cmd, sizeof(cmd), "%s/promtool.out", dir);
        FILE *f = fopen(cmd, "r");
        size_t n = f != NULL ? fread(out, 1, sizeof(out) - 1, f) : 0;
        out[n] = '\0';
        if (f != NULL)
            fclose(f);
        cr_assert_eq(rc, 0, "promtool: %s", out);
        cr_assert_str_eq(out, "", "promtool: %s", out);
    }
    /* the JSON state parses and says the same */
    b.len = 0;
    cr_assert_eq(sl_monitor_render_json(m, 200, &b), SL_OK);
    json_error_t jerr;
    json_t *st = json_loadb(b.data, b.len, 0, &jerr);
    cr_assert_not_null(st, "%s: %s", jerr.text, b.data);
    json_t *route = json_array_get(json_object_get(st, "routes"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(route, "route")), "chat");
    cr_assert_eq(json_integer_value(json_object_get(route, "requests")), 40);
    json_t *ref = json_object_get(route, "reference");
    cr_assert_str_eq(json_string_value(json_object_get(ref, "state")), "ready");
    cr_assert_str_eq(json_string_value(json_object_get(ref, "created")), "2025-01-01T00:00:00Z");
    json_t *pred = json_array_get(json_object_get(route, "values"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(pred, "state")), "alert");
    cr_assert(json_is_null(json_object_get(pred, "ks_pvalue")), "a categorical value has no KS");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(st, "feedback_total"), "joined")), 2);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(route, "feedback"), "pending")), 38);
    json_decref(st);
    /* a capped buffer gets nothing, not half */
    sl_buf_t small;
    sl_buf_init(&small, 64);
    cr_assert_eq(sl_monitor_render_metrics(m, 200, &small), SL_ENOMEM);
    cr_assert_eq(small.len, 0);
    cr_assert_eq(sl_monitor_render_json(m, 200, &small), SL_ENOMEM);
    cr_assert_eq(small.len, 0);
    const char *one = "{\"id\":\"q3\",\"label\":\"positive\"}";
    cr_assert_eq(sl_monitor_feedback(m, one, strlen(one), 200, &small), 200);
    const char *two = "[{\"id\":\"q5\",\"label\":\"positive\"},{\"id\":\"q7\",\"label\":\"positive\"}]";
    cr_assert_eq(sl_monitor_feedback(m, two, strlen(two), 200, &small), 500);
    cr_assert_str_eq(small.data, "{\"id\":\"q3\",\"result\":\"no_prediction\",\"route\":\"chat\"}",
                     "the first answer stays, the second is not half written");
    sl_buf_dispose(&small);
    sl_buf_dispose(&b);
    sl_monitor_destroy(m);
    sl_conf_release(c);
    mon_rmdir(dir);
}

/* Per-backend drift of the prediction: the reference says positive 60 %, negative 40 %. The tier's own backend
 * answers like the reference, its degrade variant large-fp8 answers "negative" (and 5 times nothing), and large
 * does not answer at all: only large-fp8 goes to alert. The request feature x is not counted per backend, and an
 * answer from a backend the route cannot reach (other) counts for the route only. */
Test(monitor, drift_per_backend)
{
    char dir[64], path[128], yaml[2048], err[512];
    mon_mkdtemp(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/ref.json", dir);
    const char *doc = "{\"format\":\"sluice-reference\",\"version\":1,\"route\":\"chat\",\"created\":\"2025-01-01T00:00:00Z\","
                      "\"samples\":100,\"prediction\":{\"name\":\"prediction\",\"source\":\"label:/choices/0/message/content\","
                      "\"type\":\"categorical\",\"categories\":[\"positive\",\"negative\"],\"counts\":[60,40],\"other\":0,"
                      "\"nulls\":0,\"type_errors\":0},\"features\":[{\"name\":\"x\",\"source\":\"/x\",\"type\":\"numeric\","
                      "\"edges\":[10],\"counts\":[50,50],\"nulls\":0,\"type_errors\":0}]}";
    mon_write(path, doc, strlen(doc));
    snprintf(yaml, sizeof(yaml),
             "backends:\n"
             "  small: {protocol: openai, endpoints: 127.0.0.1:1}\n"
             "  large: {protocol: openai, endpoints: 127.0.0.1:2}\n"
             "  large-fp8: {protocol: openai, endpoints: 127.0.0.1:3}\n"
             "  other: {protocol: openai, endpoints: 127.0.0.1:4}\n"
             "routes:\n"
             "  - name: chat\n"
             "    cascade: [{backend: small}, {backend: large, degrade: {to: large-fp8}}]\n"
             "    monitor:\n"
             "      prediction: {label: /choices/0/message/content}\n"
             "      features: [{name: x, source: /x, bins: 2}]\n"
             "      reference: %s\n"
             "      min_samples: 50\n",
             path);
    sl_conf_t *c = mon_conf(yaml);
    sl_monitor_t *m;
    cr_assert_eq(sl_monitor_create(c, 2, 0, &m, err, sizeof(err)), SL_OK, "%s", err);
    const sl_monitor_route_t *r = sl_monitor_route(m, 0);
    cr_assert_eq(r->num_bvalues, 1, "the prediction only: x comes from the request");
    cr_assert_eq(r->bvalues[0], 0);
    cr_assert_eq(r->num_bbackends, 3);
    cr_assert_str_eq(r->bbackends[0]->name, "small");
    cr_assert_str_eq(r->bbackends[1]->name, "large");
    cr_assert_str_eq(r->bbackends[2]->name, "large-fp8");
    static const char *const pos = "{\"choices\":[{\"message\":{\"content\":\"positive\"}}]}";
    static const char *const neg = "{\"choices\":[{\"message\":{\"content\":\"negative\"}}]}";
    for (int i = 0; i != 100; ++i)
        observe(m, (uint32_t)i % 2, "{\"x\":5}", i % 5 < 3 ? pos : neg, NULL, 0, SL_FEEDBACK_STABLE, 10);
    for (int i = 0; i != 100; ++i)
        observe(m, (uint32_t)i % 2, "{\"x\":50}", i < 5 ? NULL : neg, NULL, 2, SL_FEEDBACK_STABLE, 10);
    for (int i = 0; i != 10; ++i)
        observe(m, (uint32_t)i % 2, "{\"x\":5}", pos, NULL, 3, SL_FEEDBACK_STABLE, 10);
    sl_monitor_tick(m, 100);
    const sl_monitor_measures_t *small = &r->bmeasures[0], *large = &r->bmeasures[1], *fp8 = &r->bmeasures[2];
    cr_assert_eq(small->n_cur, 100);
    cr_assert_eq(small->nulls, 0);
    cr_assert_eq(small->state, SL_MONITOR_STATE_OK);
    cr_assert_eq(small->psi, 0.0, "the reference's own shares: psi %g", small->psi);
    cr_assert_eq(large->n_cur, 0);
    cr_assert_eq(large->state, SL_MONITOR_STATE_NO_DATA);
    cr_assert_eq(large->has_drift, 0);
    cr_assert_eq(fp8->n_cur, 95);
    cr_assert_eq(fp8->nulls, 5);
    cr_assert_eq(fp8->state, SL_MONITOR_STATE_ALERT);
    cr_assert(fp8->reasons & SL_MONITOR_REASON_PSI, "reasons %x", fp8->reasons);
    cr_assert_eq(r->measures[0].n_cur, 205, "the route counts every answer, other's too");
    cr_assert_eq(r->measures[0].nulls, 5);
    cr_assert_eq(r->measures[1].n_cur, 210);

    sl_buf_t b;
    sl_buf_init(&b, 0);
    cr_assert_eq(sl_monitor_render_metrics(m, 200, &b), SL_OK);
    static const char *const lines[] = {
        "# TYPE sluice_drift_backend_psi gauge\n",
        "sluice_drift_backend_psi{route=\"chat\",feature=\"prediction\",backend=\"small\"} 0\n",
        "sluice_drift_backend_window_samples{route=\"chat\",feature=\"prediction\",backend=\"small\"} 100\n",
        "sluice_drift_backend_window_samples{route=\"chat\",feature=\"prediction\",backend=\"large\"} 0\n",
        "sluice_drift_backend_window_samples{route=\"chat\",feature=\"prediction\",backend=\"large-fp8\"} 95\n",
        "sluice_drift_backend_null_ratio{route=\"chat\",feature=\"prediction\",backend=\"large-fp8\"} 0.050000000000000003\n",
        "sluice_drift_backend_state{route=\"chat\",feature=\"prediction\",backend=\"small\",state=\"ok\"} 1\n",
        "sluice_drift_backend_state{route=\"chat\",feature=\"prediction\",backend=\"large\",state=\"no_data\"} 1\n",
        "sluice_drift_backend_state{route=\"chat\",feature=\"prediction\",backend=\"large-fp8\",state=\"alert\"} 1\n",
        "sluice_drift_window_samples{route=\"chat\",feature=\"prediction\"} 205\n",
    };
    for (size_t i = 0; i != sizeof(lines) / sizeof(lines[0]); ++i)
        cr_expect_not_null(strstr(b.data, lines[i]), "missing: %s", lines[i]);
    cr_assert_null(strstr(b.data, "backend=\"other\""));
    cr_assert_null(strstr(b.data, "feature=\"x\",backend="));
    b.len = 0;
    cr_assert_eq(sl_monitor_render_json(m, 200, &b), SL_OK);
    json_error_t jerr;
    json_t *st = json_loadb(b.data, b.len, 0, &jerr);
    cr_assert_not_null(st, "%s: %s", jerr.text, b.data);
    json_t *backends = json_object_get(json_array_get(json_object_get(st, "routes"), 0), "backends");
    cr_assert_eq(json_array_size(backends), 3);
    json_t *b2 = json_array_get(backends, 2);
    cr_assert_str_eq(json_string_value(json_object_get(b2, "backend")), "large-fp8");
    json_t *v = json_array_get(json_object_get(b2, "values"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(v, "name")), "prediction");
    cr_assert_str_eq(json_string_value(json_object_get(v, "state")), "alert");
    cr_assert_eq(json_integer_value(json_object_get(v, "n_cur")), 95);
    cr_assert_eq(json_integer_value(json_object_get(v, "nulls")), 5);
    json_decref(st);
    sl_buf_dispose(&b);
    sl_monitor_destroy(m);
    sl_conf_release(c);
    mon_rmdir(dir);
}

typedef struct st_worker_arg_t {
    sl_monitor_t *m;
    uint32_t w;
    int n;
} worker_arg_t;

static void *worker(void *p)
{
    worker_arg_t *a = p;
    char body[96], id[32];
    for (int i = 0; i != a->n; ++i) {
        sl_monitor_input_t in;
        memset(&in, 0, sizeof(in));
        snprintf(body, sizeof(body), "{\"x\":%d,\"lang\":\"l%d\"}", i % 100, (i * 7 + (int)a->w) % 90);
        sl_json_parse(body, strlen(body), &in.request);
        in.response.type = SL_JSON_INVALID;
        in.signal_state = SL_MONITOR_PRESENT;
        in.signal = (double)(i % 10);
        snprintf(id, sizeof(id), "w%u-%d", (unsigned)a->w, i);
        in.request_id = id;
        in.request_id_len = strlen(id);
        sl_monitor_observe(a->m, a->w, 0, &in);
    }
    return NULL;
}

/* Four workers observe while the control thread ticks: every request is counted once, every category of the 90 is
 * either tracked or in __other__, and the category tables of all workers agree on the 64 tracked. */
Test(monitor, workers_observe_while_the_control_thread_ticks)
{
    enum { WORKERS = 4, PER = 20000 };
    sl_conf_t *c = mon_conf(BACKENDS "routes:\n"
                                     "  - name: r\n"
                                     "    cascade: [{backend: small}]\n"
                                     "    monitor:\n"
                                     "      prediction: {signal: logprob_mean}\n"
                                     "      features: [{name: x, source: /x}, {name: lang, source: /lang, type: categorical}]\n"
                                     "      reference: {baseline_samples: 1000}\n"
                                     "      feedback: {task: regression, max_pending: 1000}\n");
    sl_monitor_t *m;
    char err[512];
    cr_assert_eq(sl_monitor_create(c, WORKERS, 0, &m, err, sizeof(err)), SL_OK, "%s", err);
    pthread_t th[WORKERS];
    worker_arg_t args[WORKERS];
    for (uint32_t w = 0; w != WORKERS; ++w) {
        args[w] = (worker_arg_t){m, w, PER};
        pthread_create(&th[w], NULL, worker, &args[w]);
    }
    uint64_t now = 0;
    for (int i = 0; i != 200; ++i)
        sl_monitor_tick(m, now += 5);
    for (uint32_t w = 0; w != WORKERS; ++w)
        pthread_join(th[w], NULL);
    sl_monitor_tick(m, now += 5);
    const sl_monitor_route_t *r = sl_monitor_route(m, 0);
    cr_assert_eq(r->requests, WORKERS * PER);
    cr_assert_eq(r->ref_state, SL_MONITOR_REF_READY);
    const sl_monitor_spec_t *lang = &r->plan.specs[2];
    uint64_t all = 0;
    for (uint32_t j = 0; j != lang->bins; ++j)
        all += r->totals[lang->cell + j];
    cr_assert_eq(all, WORKERS * PER, "every category counted once, tracked or __other__");
    cr_assert_eq(r->global_tabs[lang->categorical_index].count, 64);
    uint64_t dropped = 0;
    for (uint32_t w = 0; w != WORKERS; ++w)
        dropped += sl_monitor_ring_dropped(&m->feedback_rings[w]);
    cr_assert_eq(r->feedback.recorded + dropped, WORKERS * PER, "every prediction recorded or counted as dropped");
    cr_assert_eq(r->feedback.count, 1000);
    sl_monitor_destroy(m);
    sl_conf_release(c);
}

/* conf/examples/full.yaml declares a monitor on each route (baselines): the policy starts on it. */
Test(monitor, the_full_example_starts)
{
    sl_conf_errors_t errs;
    sl_conf_t *c = NULL;
    sl_monitor_t *m;
    char err[512];
    sl_conf_errors_init(&errs);
    cr_assert_eq(sl_conf_load_file(SL_SOURCE_DIR "/conf/examples/full.yaml", &c, &errs), SL_OK, "%s",
                 errs.count != 0 ? errs.msgs[0] : "");
    sl_conf_errors_dispose(&errs);
    cr_assert_eq(sl_monitor_create(c, 3, 0, &m, err, sizeof(err)), SL_OK, "%s", err);
    const sl_monitor_route_t *chat = sl_monitor_route(m, 0), *classify = sl_monitor_route(m, 1);
    cr_assert_not_null(chat);
    cr_assert_eq(chat->plan.num_values, 4);
    cr_assert_eq(chat->ref_state, SL_MONITOR_REF_CAPTURING);
    cr_assert_not_null(classify);
    cr_assert_eq(classify->conf->feedback.enabled, 1);
    cr_assert_not_null(m->feedback_rings);
    sl_monitor_destroy(m);
    sl_conf_release(c);
}
