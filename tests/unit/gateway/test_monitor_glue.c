/*
 * test_monitor_glue.c - the gateway's model-monitoring glue (gateway/monitor_glue.c, monitor_observe.c) without
 * threads or sockets: what a finished request hands to the monitor (the prediction read from the answer's bytes,
 * the derived values, a malformed body, the rollout version), a reload that carries the waiting predictions into
 * the new monitor, the old monitor freed only once released, a reload refused for a missing reference file, the
 * quality report by names, and the renders. POST /v1/feedback itself (worker -> control thread -> worker) is
 * covered end to end by tests/integration/test_gw_monitor.py.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/json_scan.h"
#include "common/log.h"
#include "common/status.h"
#include "conf/conf.h"
#include "conf/snapshot.h"
#include "gateway/gw.h"
#include "gateway/monitor_glue.h"
#include "policies/canary-t.h"
#include "policies/monitor.h"

static const char yaml[] = "backends:\n"
                           "  small: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
                           "  large: {protocol: openai, endpoints: 127.0.0.1:8002}\n"
                           "routes:\n"
                           "  - name: chat\n"
                           "    match: {path: /v1}\n"
                           "    cascade: [{backend: small}, {backend: large}]\n"
                           "    monitor:\n"
                           "      prediction: {label: /choices/0/message/content}\n"
                           "      features: [{name: prompt_tokens}, {name: message_count}, {name: output_tokens},\n"
                           "                 {name: lang, source: /metadata/lang, type: categorical}]\n"
                           "      reference: %s\n"
                           "      min_samples: 1\n"
                           "      feedback: {task: classification, labels: [positive, negative]}\n"
                           "  - name: plain\n"
                           "    cascade: [{backend: large}]\n";

typedef struct st_fixture_t {
    sl_conf_t *conf;
    sl_gw_gen_t gen;
    sl_gw_backend_rt_t backends[2];
    sl_gw_route_rt_t routes[2];
} fixture_t;

static sl_gw_t gw;
static sl_gw_worker_t worker;
static h2o_req_t req;
static fixture_t gens[3];

static uint64_t now_ms(void)
{
    return sl_clock_now_us() / 1000;
}

static void no_dispose(sl_snapshot_t *s)
{
    (void)s;
}

static void generation(fixture_t *f, const char *reference)
{
    char text[4096];
    snprintf(text, sizeof(text), yaml, reference);
    sl_conf_errors_t errs;
    sl_conf_errors_init(&errs);
    memset(f, 0, sizeof(*f));
    cr_assert_eq(sl_conf_load_string("g.yaml", text, strlen(text), &f->conf, &errs), SL_OK, "%s",
                 sl_conf_errors_count(&errs) != 0 ? sl_conf_errors_get(&errs, 0) : "");
    sl_conf_errors_dispose(&errs);
    sl_snapshot_init(&f->gen.super, no_dispose);
    f->gen.conf = f->conf;
    f->gen.backends = f->backends;
    f->gen.routes = f->routes;
    for (size_t i = 0; i != 2; ++i) {
        f->backends[i].conf = &f->conf->backends[i];
        f->routes[i].conf = &f->conf->routes[i];
    }
}

static void setup(void)
{
    sl_log_level = -1;
    memset(&gw, 0, sizeof(gw));
    gw.server.num_threads = 2;
    memset(&worker, 0, sizeof(worker));
    worker.idx = 1;
    memset(&req, 0, sizeof(req));
    generation(&gens[0], "{baseline: 1h, baseline_samples: 100}");
    sl_snapshot_slot_init(&gw.slot, &gens[0].gen.super);
}

static void teardown(void)
{
    sl_gw_monitor_dispose(&gw);
    sl_snapshot_slot_dispose(&gw.slot);
    for (size_t i = 0; i != 3; ++i)
        if (gens[i].conf != NULL)
            sl_conf_release(gens[i].conf);
    memset(gens, 0, sizeof(gens));
}

TestSuite(monitor_glue, .init = setup, .fini = teardown);

/* A finished request of route `chat` on `worker`: body, request id, answering backend and output tokens. */
static void request(sl_proxy_t *p, fixture_t *f, const char *body, const char *id, size_t backend, uint64_t out_tokens)
{
    memset(p, 0, sizeof(*p));
    p->req = &req;
    p->w = &worker;
    p->gen = &f->gen;
    p->route = &f->routes[0];
    p->backend = &f->backends[backend];
    p->body = body;
    p->body_len = strlen(body);
    p->root.type = SL_JSON_INVALID;
    p->request_id = h2o_iovec_init(id, strlen(id));
    sl_gw_usage_init(&p->usage);
    p->usage.has_completion = 1;
    p->usage.completion_tokens = out_tokens;
}

static void answer(sl_proxy_t *p, const char *json)
{
    h2o_buffer_t *b;
    h2o_buffer_init(&b, &h2o_socket_buffer_prototype);
    h2o_iovec_t room = h2o_buffer_reserve(&b, strlen(json));
    memcpy(room.base, json, strlen(json));
    b->size += strlen(json);
    sl_gw_monitor_answer(p, b);
    h2o_buffer_dispose(&b);
}

static const char chat_body[] = "{\"messages\":[{\"role\":\"user\",\"content\":\"classify: twelve bytes\"},"
                                "{\"role\":\"user\",\"content\":\"x\"}],\"metadata\":{\"lang\":\"fr\"}}";

/* The feedback answer of body, on the published generation's monitor, after a control step (as the endpoint). */
static void join(const char *body, const char *want)
{
    sl_buf_t out;
    sl_buf_init(&out, 0);
    sl_gw_gen_t *cur = sl_gw_current(&gw);
    sl_monitor_tick(cur->mon->monitor, now_ms());
    cr_assert_eq(sl_monitor_feedback(cur->mon->monitor, body, strlen(body), now_ms(), &out), 200);
    cr_assert_str_eq(out.data, want);
    sl_buf_dispose(&out);
}

Test(monitor_glue, a_request_is_observed_once_with_its_prediction)
{
    char err[512];
    cr_assert_eq(sl_gw_monitor_start(&gw, err, sizeof(err)), SL_OK, "%s", err);
    cr_assert_not_null(gens[0].gen.mon);
    sl_monitor_t *m = gens[0].gen.mon->monitor;
    sl_proxy_t p;
    request(&p, &gens[0], chat_body, "r1", 1, 7);
    answer(&p, "{\"choices\":[{\"message\":{\"content\":\"negative\"}}]}");
    cr_assert_eq(p.mon_observed, 1);
    sl_gw_monitor_observe(&p, sl_clock_now_us()); /* its departure: already observed, not counted again */
    request(&p, &gens[0], "{not json", "r2", 0, 0);
    p.usage.has_completion = 0;
    sl_gw_monitor_observe(&p, sl_clock_now_us()); /* an error: no answer, a malformed body */
    sl_monitor_tick(m, now_ms());
    const sl_monitor_route_t *r = sl_monitor_route(m, 0);
    cr_assert_eq(r->requests, 2);
    cr_assert_eq(r->malformed, 1);
    cr_assert_null(sl_monitor_route(m, 1)); /* the plain route has no monitor */
    /* the first request's values went into the baseline capture: prompt tokens ceil((22 + 1) / 4) = 6,
     * two messages, 7 output tokens */
    cr_assert_eq(r->ref_state, SL_MONITOR_REF_CAPTURING);
    cr_assert_eq(r->capture_count, 2);
    cr_assert_eq(r->capture_values[0][0], 6.0, "prompt tokens %g", r->capture_values[0][0]);
    cr_assert_eq(r->capture_values[1][0], 2.0);
    cr_assert_eq(r->capture_values[2][0], 7.0);
    cr_assert_eq(r->capture_values[0][1], 0.0);                    /* no JSON body: an estimate of 0 */
    cr_assert(r->capture_values[1][1] != r->capture_values[1][1]); /* NaN: no messages, no answer */
    cr_assert(r->capture_values[2][1] != r->capture_values[2][1]);
    /* the prediction was read from the answer, the backend is large, the version stable: a label joins */
    join("{\"id\":\"r1\",\"label\":\"negative\"}", "{\"id\":\"r1\",\"result\":\"joined\",\"route\":\"chat\"}");
    join("{\"id\":\"r2\",\"label\":\"negative\"}", "{\"id\":\"r2\",\"result\":\"no_prediction\",\"route\":\"chat\"}");
    sl_quality_report_t q;
    cr_assert_eq(sl_gw_monitor_quality(&gw, "chat", "large", SL_FEEDBACK_STABLE, now_ms(), &q), SL_OK);
    cr_assert_eq(q.n, 1);
    cr_assert_eq(q.accuracy, 1.0);
    cr_assert_eq(sl_gw_monitor_quality(&gw, "chat", "small", SL_FEEDBACK_STABLE, now_ms(), &q), SL_OK);
    cr_assert_eq(q.has_data, 0);
    cr_assert_eq(sl_gw_monitor_quality(&gw, "plain", "large", SL_FEEDBACK_STABLE, now_ms(), &q), SL_ENOENT);
    cr_assert_eq(sl_gw_monitor_quality(&gw, "chat", "nope", SL_FEEDBACK_STABLE, now_ms(), &q), SL_ENOENT);
}

Test(monitor_glue, the_canary_version_is_the_rollout_tiers_answer)
{
    char err[512];
    cr_assert_eq(sl_gw_monitor_start(&gw, err, sizeof(err)), SL_OK, "%s", err);
    sl_proxy_t p;
    request(&p, &gens[0], chat_body, "c1", 1, 1);
    p.num_ro = 1;
    p.ro[0].version = SL_CANARY_CANARY;
    p.ro[0].tier = 1;
    p.tier = 1;
    answer(&p, "{\"choices\":[{\"message\":{\"content\":\"positive\"}}]}");
    request(&p, &gens[0], chat_body, "c2", 1, 1);
    p.num_ro = 1;
    p.ro[0].version = SL_CANARY_CANARY;
    p.ro[0].tier = 0; /* the canary was on tier 0, but tier 1 answered */
    p.tier = 1;
    answer(&p, "{\"choices\":[{\"message\":{\"content\":\"positive\"}}]}");
    join("[{\"id\":\"c1\",\"label\":\"negative\"},{\"id\":\"c2\",\"label\":\"positive\"}]",
         "{\"results\":[{\"id\":\"c1\",\"result\":\"joined\",\"route\":\"chat\"},{\"id\":\"c2\",\"result\":\"joined\","
         "\"route\":\"chat\"}],\"counts\":{\"joined\":2,\"unknown\":0,\"expired\":0,\"duplicate\":0,\"invalid\":0,"
         "\"no_prediction\":0}}");
    sl_quality_report_t q;
    cr_assert_eq(sl_gw_monitor_quality(&gw, "chat", "large", SL_FEEDBACK_CANARY, now_ms(), &q), SL_OK);
    cr_assert_eq(q.n, 1);
    cr_assert_eq(q.accuracy, 0.0);
    cr_assert_eq(sl_gw_monitor_quality(&gw, "chat", "large", SL_FEEDBACK_STABLE, now_ms(), &q), SL_OK);
    cr_assert_eq(q.n, 1);
    cr_assert_eq(q.accuracy, 1.0);
}

Test(monitor_glue, reload_carries_predictions_and_frees_the_old_monitor_once_released)
{
    char err[512];
    cr_assert_eq(sl_gw_monitor_start(&gw, err, sizeof(err)), SL_OK, "%s", err);
    sl_proxy_t p;
    request(&p, &gens[0], chat_body, "before", 0, 1);
    answer(&p, "{\"choices\":[{\"message\":{\"content\":\"positive\"}}]}");

    /* a missing reference file: refused, nothing changes */
    generation(&gens[2], "/nonexistent/dir/ref.json");
    err[0] = '\0';
    cr_assert_eq(sl_gw_monitor_attach(&gw, &gens[2].gen, err, sizeof(err)), SL_ECONFIG);
    cr_assert(strstr(err, "routes[0].monitor.reference: /nonexistent/dir/ref.json") == err, "%s", err);
    cr_assert_null(gens[2].gen.mon);
    cr_assert_eq(gw.monitor->gens, gens[0].gen.mon);
    cr_assert_null(gw.monitor->gens->next);

    /* the same monitor block: the waiting prediction moves to the new monitor before it is published */
    generation(&gens[1], "{baseline: 1h, baseline_samples: 100}");
    cr_assert_eq(sl_gw_monitor_attach(&gw, &gens[1].gen, err, sizeof(err)), SL_OK, "%s", err);
    sl_snapshot_publish(&gw.slot, &gens[1].gen.super);
    join("{\"id\":\"before\",\"label\":\"positive\"}", "{\"id\":\"before\",\"result\":\"joined\",\"route\":\"chat\"}");
    cr_assert_eq(sl_monitor_route(gens[1].gen.mon->monitor, 0)->requests +
                     sl_monitor_route(gens[1].gen.mon->monitor, 0)->carried[SL_MONITOR_CELL_REQUESTS],
                 1); /* counters continue */

    /* the old monitor lives while its generation may still be observed into, and goes at the tick after release */
    sl_gw_monitor_tick(&gw, &gens[1].gen, now_ms());
    cr_assert_eq(gw.monitor->gens, gens[1].gen.mon);
    cr_assert_eq(gw.monitor->gens->next, gens[0].gen.mon);
    request(&p, &gens[0], chat_body, "late", 0, 1); /* a request of the old generation ends after the handover */
    sl_gw_monitor_observe(&p, sl_clock_now_us());
    sl_gw_monitor_release(&gens[0].gen);
    sl_gw_monitor_tick(&gw, &gens[1].gen, now_ms());
    cr_assert_eq(gw.monitor->gens, gens[1].gen.mon);
    cr_assert_null(gw.monitor->gens->next);
}

Test(monitor_glue, renders)
{
    char err[512];
    fixture_t *f = &gens[0];
    /* a config without any monitor: no monitor, an empty member, the endpoint's counters only */
    sl_conf_errors_t errs;
    sl_conf_errors_init(&errs);
    const char *plain =
        "backends: {b: {protocol: openai, endpoints: 127.0.0.1:1}}\nroutes: [{name: r, cascade: [{backend: b}]}]\n";
    sl_conf_release(f->conf);
    cr_assert_eq(sl_conf_load_string("p.yaml", plain, strlen(plain), &f->conf, &errs), SL_OK);
    sl_conf_errors_dispose(&errs);
    f->gen.conf = f->conf;
    cr_assert_eq(sl_gw_monitor_start(&gw, err, sizeof(err)), SL_OK, "%s", err);
    cr_assert_null(f->gen.mon);
    sl_buf_t b;
    sl_buf_init(&b, 0);
    cr_assert_eq(sl_gw_monitor_render_state(&gw, &b), SL_OK);
    cr_assert_str_eq(b.data, ",\"monitor\":{\"routes\":[]}");
    b.len = 0;
    gw.monitor->workers[1].answers[SL_GW_FB_404] = 3;
    cr_assert_eq(sl_gw_monitor_render_metrics(&gw, &b), SL_OK);
    cr_assert_str_eq(b.data, "# HELP sluice_feedback_requests_total POST /v1/feedback requests by the status answered.\n"
                             "# TYPE sluice_feedback_requests_total counter\n"
                             "sluice_feedback_requests_total{code=\"200\"} 0\n"
                             "sluice_feedback_requests_total{code=\"400\"} 0\n"
                             "sluice_feedback_requests_total{code=\"404\"} 3\n"
                             "sluice_feedback_requests_total{code=\"405\"} 0\n"
                             "sluice_feedback_requests_total{code=\"413\"} 0\n"
                             "sluice_feedback_requests_total{code=\"500\"} 0\n");
    sl_buf_dispose(&b);
    sl_buf_init(&b, 20); /* a cap: the buffer is restored */
    sl_buf_append(&b, "keep", 4);
    cr_assert_eq(sl_gw_monitor_render_metrics(&gw, &b), SL_ENOMEM);
    cr_assert_eq(sl_gw_monitor_render_state(&gw, &b), SL_ENOMEM);
    cr_assert_eq(b.len, 4);
    sl_buf_dispose(&b);
}
