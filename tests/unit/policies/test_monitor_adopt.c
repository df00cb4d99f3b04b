/*
 * test_monitor_adopt.c - config reload (policies/monitor_adopt.c): a captured baseline, the drift window and the
 * states survive a reload that keeps the monitored values; a changed value starts a new capture; waiting
 * predictions and quality follow their backend by name into a config that reorders and renames its backends;
 * counters continue.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "common/json_scan.h"
#include "policies/feedback.h"
#include "policies/monitor.h"
#include "test_monitor_fixture.h"

#define MONITOR_BLOCK                                                                                                          \
    "    monitor:\n"                                                                                                           \
    "      prediction: {label: /p}\n"                                                                                          \
    "      features: [{name: x, source: /x, bins: %d}, {name: lang, source: /lang, type: categorical}]\n"                      \
    "      reference: {baseline_samples: 100}\n"                                                                               \
    "      min_samples: 20\n"                                                                                                  \
    "      feedback: {task: classification, labels: [yes, no]}\n"

static sl_conf_t *config(const char *backends, int bins)
{
    char yaml[2048], block[1024];
    snprintf(block, sizeof(block), MONITOR_BLOCK, bins);
    snprintf(yaml, sizeof(yaml),
             "%sroutes:\n  - {name: other, cascade: [{backend: a}]}\n  - name: r\n"
             "    cascade: [{backend: a}]\n%s",
             backends, block);
    return mon_conf(yaml);
}

static void observe(sl_monitor_t *m, size_t route, int i, uint32_t backend, uint64_t now)
{
    char body[96], answer[64], id[16];
    sl_monitor_input_t in;
    memset(&in, 0, sizeof(in));
    snprintf(body, sizeof(body), "{\"x\":%d,\"lang\":\"%s\"}", i % 50, i % 3 ? "en" : (i % 2 ? "fr" : "de"));
    snprintf(answer, sizeof(answer), "{\"p\":\"%s\"}", i % 4 ? "yes" : "no");
    snprintf(id, sizeof(id), "id%d", i);
    sl_json_parse(body, strlen(body), &in.request);
    sl_json_parse(answer, strlen(answer), &in.response);
    in.request_id = id;
    in.request_id_len = strlen(id);
    in.backend = backend;
    in.now_ms = now;
    sl_monitor_observe(m, (uint32_t)i % 2, route, &in);
}

Test(monitor_adopt, baseline_window_feedback_and_quality_survive_a_reload)
{
    const char *old_backends = "backends:\n  a: {protocol: openai, endpoints: 127.0.0.1:1}\n"
                               "  b: {protocol: openai, endpoints: 127.0.0.1:2}\n";
    const char *new_backends = "backends:\n  c: {protocol: openai, endpoints: 127.0.0.1:3}\n"
                               "  b: {protocol: openai, endpoints: 127.0.0.1:2}\n"
                               "  a: {protocol: openai, endpoints: 127.0.0.1:1}\n";
    sl_conf_t *c1 = config(old_backends, 5), *c2 = config(new_backends, 5);
    sl_monitor_t *m1, *m2;
    char err[512], out[512];
    cr_assert_eq(sl_monitor_create(c1, 2, 0, &m1, err, sizeof(err)), SL_OK, "%s", err);
    for (int i = 0; i != 100; ++i) /* 100 close the baseline ... */
        observe(m1, 1, i, (uint32_t)i % 2, 1000 + (uint64_t)i);
    sl_monitor_tick(m1, 1100);
    for (int i = 100; i != 160; ++i) /* ... 60 more fill the window */
        observe(m1, 1, i, (uint32_t)i % 2, 1100 + (uint64_t)i);
    sl_monitor_tick(m1, 1200);
    const sl_monitor_route_t *r1 = sl_monitor_route(m1, 1);
    cr_assert_eq(r1->ref_state, SL_MONITOR_REF_READY);
    /* label a few predictions before the reload: id1 (b, "yes", right), id2 (a, "yes", wrong) */
    sl_buf_t b;
    sl_buf_init(&b, 0);
    const char *first = "[{\"id\":\"id1\",\"label\":\"yes\"},{\"id\":\"id2\",\"label\":\"no\"}]";
    cr_assert_eq(sl_monitor_feedback(m1, first, strlen(first), 1300, &b), 200, "%s", b.data);
    sl_monitor_evaluate(m1, 1300);
    sl_monitor_measures_t before = r1->measures[1];
    cr_assert_eq(before.n_cur, 60);

    cr_assert_eq(sl_monitor_create(c2, 2, 1400, &m2, err, sizeof(err)), SL_OK, "%s", err);
    cr_assert_eq(sl_monitor_route(m2, 1)->ref_state, SL_MONITOR_REF_CAPTURING);
    cr_assert_eq(sl_monitor_adopt(m2, m1, 1400), SL_OK);
    const sl_monitor_route_t *r2 = sl_monitor_route(m2, 1);
    cr_assert_eq(r2->ref_state, SL_MONITOR_REF_READY, "the baseline was carried");
    cr_assert_not_null(r2->model);
    cr_assert_eq(memcmp(r2->model->edges, r1->model->edges, 4 * sizeof(double)), 0);
    cr_assert_eq(memcmp(r2->ref_counts, r1->ref_counts, r1->plan.num_cells * sizeof(uint64_t)), 0);
    cr_assert_eq(r2->ref_samples, r1->ref_samples);
    cr_assert_eq(r2->global_tabs[1].count, r1->global_tabs[1].count, "categories seeded in the same order");
    cr_assert_eq(r2->measures[1].state, before.state);
    sl_monitor_evaluate(m2, 1400);
    cr_assert_eq(r2->measures[1].n_cur, before.n_cur, "the window was carried");
    mon_close(r2->measures[1].psi, before.psi, "psi after the reload");
    mon_close(r2->measures[2].psi, r1->measures[2].psi, "categorical psi after the reload");
    /* new traffic lands in the same categories and bins */
    observe(m2, 1, 1000, 2, 1500);
    sl_monitor_tick(m2, 1500);
    sl_monitor_evaluate(m2, 1500);
    cr_assert_eq(r2->measures[1].n_cur, before.n_cur + 1);
    cr_assert_eq(r2->requests + r2->carried[SL_MONITOR_CELL_REQUESTS], 161, "counters continue");

    /* waiting predictions moved with their backend: id3 was answered by b (index 1 before, 1 now), id4 by a (0 -> 2) */
    cr_assert_eq(sl_feedback_table_pending(&r2->feedback), 158 + 1);
    const char *second = "[{\"id\":\"id3\",\"label\":\"yes\"},{\"id\":\"id4\",\"label\":\"no\"},"
                         "{\"id\":\"id1\",\"label\":\"yes\"}]";
    b.len = 0;
    cr_assert_eq(sl_monitor_feedback(m2, second, strlen(second), 1600, &b), 200);
    snprintf(out, sizeof(out), "%.*s", (int)b.len, b.data);
    cr_assert(strstr(out, "{\"id\":\"id1\",\"result\":\"duplicate\",\"route\":\"r\"}") != NULL, "%s", out);
    sl_quality_report_t q;
    cr_assert_eq(sl_monitor_quality(m2, 1, 1, SL_FEEDBACK_STABLE, 1600, &q), SL_OK); /* b: id1 and id3, both right */
    cr_assert_eq(q.n, 2);
    cr_assert_eq(q.accuracy, 1);
    cr_assert_eq(sl_monitor_quality(m2, 1, 2, SL_FEEDBACK_STABLE, 1600, &q), SL_OK); /* a: id2 wrong, id4 right */
    cr_assert_eq(q.n, 2);
    cr_assert_eq(q.accuracy, 0.5);
    cr_assert_eq(sl_monitor_quality(m2, 1, 0, SL_FEEDBACK_STABLE, 1600, &q), SL_OK);
    cr_assert_eq(q.n, 0, "c is new");
    cr_assert_eq(m2->feedback_results[SL_FEEDBACK_JOINED], 4);
    sl_buf_dispose(&b);
    sl_monitor_destroy(m1);
    sl_monitor_destroy(m2);
    sl_conf_release(c1);
    sl_conf_release(c2);
}

Test(monitor_adopt, changed_values_start_a_new_baseline)
{
    const char *backends = "backends: {a: {protocol: openai, endpoints: 127.0.0.1:1}}\n";
    sl_conf_t *c1 = config(backends, 5), *c2 = config(backends, 8);
    sl_monitor_t *m1, *m2;
    char err[512];
    cr_assert_eq(sl_monitor_create(c1, 2, 0, &m1, err, sizeof(err)), SL_OK, "%s", err);
    for (int i = 0; i != 120; ++i)
        observe(m1, 1, i, 0, 1000);
    sl_monitor_tick(m1, 1000);
    cr_assert_eq(sl_monitor_route(m1, 1)->ref_state, SL_MONITOR_REF_READY);
    cr_assert_eq(sl_monitor_create(c2, 2, 2000, &m2, err, sizeof(err)), SL_OK, "%s", err);
    cr_assert_eq(sl_monitor_adopt(m2, m1, 2000), SL_OK);
    const sl_monitor_route_t *r2 = sl_monitor_route(m2, 1);
    cr_assert_eq(r2->ref_state, SL_MONITOR_REF_CAPTURING, "x has 8 bins now: its baseline starts over");
    cr_assert_null(r2->model);
    cr_assert_eq(sl_feedback_table_pending(&r2->feedback), 120, "feedback is unchanged, so it is carried");
    sl_monitor_destroy(m1);
    sl_monitor_destroy(m2);
    sl_conf_release(c1);
    sl_conf_release(c2);
}
