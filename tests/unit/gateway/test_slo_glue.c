/*
 * test_slo_glue.c - the gateway's SLO and accuracy-scaling glue (gateway/slo_glue.c, degrade_glue.c,
 * state_admin.c) without threads or sockets: how departing requests are classified (status, shed, overloaded,
 * latency of the accurate variant), the exact text of the metric families, and a reload: the handover of history
 * and counters, requests of the old generation that end after it, and the totals kept once it is freed.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/status.h"
#include "conf/conf.h"
#include "gateway/slo_glue.h"
#include "policies/slo.h"
#include "stats/hist.h"

static const char yaml[] = "backends:\n"
                           "  acc: {protocol: openai, endpoints: 127.0.0.1:8001, max_concurrency: 2}\n"
                           "  fast: {protocol: openai, endpoints: 127.0.0.1:8002}\n"
                           "routes:\n"
                           "  - name: chat\n"
                           "    match: {path: /v1}\n"
                           "    slo: {availability: 99%, latency: {threshold: 100ms, target: 99%}}\n"
                           "    cascade: [{backend: acc, degrade: {to: fast}}]\n"
                           "  - name: batch\n"
                           "    cascade: [{backend: fast}]\n";

#define WALL ((uint64_t)29000000 * 60000)

typedef struct st_fixture_t {
    sl_conf_t *conf;
    sl_gw_gen_t gen;
    sl_gw_backend_rt_t backends[2];
    sl_gw_route_rt_t routes[2];
} fixture_t;

static sl_gw_t gw;
static sl_gw_worker_t worker;

static void setup(void)
{
    sl_log_level = -1;
    memset(&gw, 0, sizeof(gw));
    gw.server.num_threads = 2;
    gw.slo = sl_calloc(1, sizeof(*gw.slo));
    sl_buf_init(&gw.slo->scratch, 0);
    memset(&worker, 0, sizeof(worker));
    worker.idx = 1;
}

static sl_conf_t *confs[8];
static size_t num_confs;

static void teardown(void)
{
    sl_gw_slo_dispose(&gw);
    while (num_confs != 0)
        sl_conf_release(confs[--num_confs]);
}

TestSuite(slo_glue, .init = setup, .fini = teardown);

/* The same routes after a reload that removed chat's degrade block, and after one that renamed chat to talk. */
static const char yaml_no_degrade[] = "backends:\n"
                                      "  acc: {protocol: openai, endpoints: 127.0.0.1:8001, max_concurrency: 2}\n"
                                      "  fast: {protocol: openai, endpoints: 127.0.0.1:8002}\n"
                                      "routes:\n"
                                      "  - name: chat\n"
                                      "    match: {path: /v1}\n"
                                      "    slo: {availability: 99%}\n"
                                      "    cascade: [{backend: acc}]\n"
                                      "  - name: batch\n"
                                      "    cascade: [{backend: fast}]\n";
static const char yaml_renamed[] = "backends:\n"
                                   "  acc: {protocol: openai, endpoints: 127.0.0.1:8001, max_concurrency: 2}\n"
                                   "  fast: {protocol: openai, endpoints: 127.0.0.1:8002}\n"
                                   "routes:\n"
                                   "  - name: talk\n"
                                   "    match: {path: /v1}\n"
                                   "    slo: {availability: 99%}\n"
                                   "    cascade: [{backend: acc, degrade: {to: fast}}]\n"
                                   "  - name: batch\n"
                                   "    cascade: [{backend: fast}]\n";

/* A generation of text with its SLO part attached and, with handover, the published one's history handed over
 * (the rest of a real generation is not needed here). */
static void generation_of(fixture_t *f, const char *text, int handover)
{
    sl_conf_errors_t errs;
    sl_conf_errors_init(&errs);
    memset(f, 0, sizeof(*f));
    cr_assert_eq(sl_conf_load_string("g.yaml", text, strlen(text), &f->conf, &errs), SL_OK);
    sl_conf_errors_dispose(&errs);
    confs[num_confs++] = f->conf;
    f->gen.conf = f->conf;
    f->gen.backends = f->backends;
    f->gen.routes = f->routes;
    for (size_t i = 0; i != 2; ++i) {
        f->backends[i].conf = &f->conf->backends[i]; /* no endpoint: in flight 0, capacity 0 */
        f->routes[i].conf = &f->conf->routes[i];
    }
    char err[256];
    cr_assert_eq(sl_gw_slo_attach(&gw, &f->gen, err, sizeof(err)), SL_OK, "%s", err);
    cr_assert_not_null(f->gen.slo);
    if (handover)
        sl_gw_slo_handover(&gw, &f->gen);
}

static void generation(fixture_t *f)
{
    generation_of(f, yaml, 1);
}

/* One departing request of route 0 ("chat"), served by its degrade tier when it has one. */
static void depart(fixture_t *f, int status, int shed, enum en_sl_failure_t failure, uint64_t latency_us)
{
    sl_proxy_t p;
    memset(&p, 0, sizeof(p));
    p.gen = &f->gen;
    p.route = &f->routes[0];
    p.w = &worker;
    p.status = status;
    p.shed = shed;
    p.failure = failure;
    p.t_recv_us = 1000000;
    p.t_tier_us = 1000000 + 500;
    p.dtier = f->gen.slo->num_dtiers != 0; /* the degrade tier's index + 1; 0 in a config without one */
    p.variant = SL_PLAN_VARIANT_ACCURATE;
    sl_gw_slo_observe(&p, 1000000 + latency_us);
}

static void routed(fixture_t *f, uint64_t accurate, uint64_t degraded, uint64_t spillovers)
{
    sl_gw_dtier_shard_t *d = sl_gw_slo_dshard(f->gen.slo, worker.idx, 0);
    d->routed[0] += accurate;
    d->routed[1] += degraded;
    d->spillovers += spillovers;
}

/* The families after the SLO ones (which policies/slo_render.c renders and test_slo checks). */
static char *render_tail(void)
{
    sl_buf_t b;
    sl_buf_init(&b, 0);
    cr_assert_eq(sl_gw_slo_render_metrics(&gw, &b), SL_OK);
    char *at = strstr(b.data, "# HELP sluice_shed_total");
    cr_assert_not_null(at);
    char *out = sl_strdup(at);
    sl_buf_dispose(&b);
    return out;
}

static const char shed_help[] =
    "# HELP sluice_shed_total Requests sluice refused itself, by route and reason (saturated: 429, every variant at "
    "max_concurrency; overloaded: 503, queue full or timed out).\n# TYPE sluice_shed_total counter\n";
static const char degrade_help[] =
    "# HELP sluice_degrade_fraction Share of a tier's requests the controller sends to its faster variants.\n"
    "# TYPE sluice_degrade_fraction gauge\n";
static const char changes_help[] =
    "# HELP sluice_degrade_changes_total Changes of a tier's degrade fraction, by cause (saturation, latency, "
    "fast_burn: up; recovered: down).\n# TYPE sluice_degrade_changes_total counter\n";
static const char variant_help[] = "# HELP sluice_variant_requests_total Requests of a degrade tier routed to its "
                                   "accurate variant or to a faster (degraded) one.\n"
                                   "# TYPE sluice_variant_requests_total counter\n";
static const char spill_help[] = "# HELP sluice_degrade_spillovers_total Requests of a degrade tier that went past "
                                 "their first variant because it was at max_concurrency.\n"
                                 "# TYPE sluice_degrade_spillovers_total counter\n";
static const char p99_help[] = "# HELP sluice_degrade_latency_p99_seconds p99 latency of a degrade tier's accurate "
                               "variant over its latency_window (the controller's input).\n"
                               "# TYPE sluice_degrade_latency_p99_seconds gauge\n";

Test(slo_glue, departures_are_classified_and_rendered_exactly)
{
    fixture_t f;
    generation(&f);
    depart(&f, 200, 0, SL_FAILURE_NONE, 50000);          /* good */
    depart(&f, 502, 0, SL_FAILURE_UPSTREAM_5XX, 150000); /* bad for both */
    depart(&f, 429, 1, SL_FAILURE_OVERLOADED, 600);      /* shed: bad for availability, no latency */
    depart(&f, 503, 0, SL_FAILURE_OVERLOADED, 700);      /* sluice's own overload: a shed too */
    depart(&f, 503, 0, SL_FAILURE_NO_ENDPOINT, 800);     /* not a shed: judged like any 5xx */
    routed(&f, 3, 2, 1);
    cr_assert_eq(sl_slo_tick(f.gen.slo->tracker, WALL, &gw.slo->verdict), SL_OK);
    const sl_slo_route_verdict_t *r = &gw.slo->verdict->routes[0];
    cr_assert_eq(r->objectives[SL_SLO_AVAILABILITY].requests_total, 5);
    cr_assert_eq(r->objectives[SL_SLO_AVAILABILITY].good_total, 1);
    cr_assert_eq(r->objectives[SL_SLO_LATENCY].requests_total, 3); /* the two sheds are left out */
    cr_assert_eq(r->objectives[SL_SLO_LATENCY].good_total, 2);     /* 50 ms and 800 us; not 150 ms */

    /* the accurate variant's latency, from the tier's start, of the requests that reached it (not the sheds, not
     * the one without an endpoint) */
    const sl_hist_t *h = &sl_gw_slo_dshard(f.gen.slo, worker.idx, 0)->latency;
    cr_assert_eq(sl_hist_count(h), 2);
    cr_assert_eq(sl_hist_sum_us(h), 49500 + 149500);

    char *text = render_tail();
    char want[4096];
    snprintf(want, sizeof(want),
             "%ssluice_shed_total{route=\"chat\",reason=\"saturated\"} 1\n"
             "sluice_shed_total{route=\"chat\",reason=\"overloaded\"} 1\n"
             "sluice_shed_total{route=\"batch\",reason=\"saturated\"} 0\n"
             "sluice_shed_total{route=\"batch\",reason=\"overloaded\"} 0\n"
             "%ssluice_degrade_fraction{route=\"chat\",tier=\"0\"} 0\n"
             "%ssluice_degrade_changes_total{route=\"chat\",tier=\"0\",cause=\"saturation\"} 0\n"
             "sluice_degrade_changes_total{route=\"chat\",tier=\"0\",cause=\"latency\"} 0\n"
             "sluice_degrade_changes_total{route=\"chat\",tier=\"0\",cause=\"fast_burn\"} 0\n"
             "sluice_degrade_changes_total{route=\"chat\",tier=\"0\",cause=\"recovered\"} 0\n"
             "%ssluice_variant_requests_total{route=\"chat\",tier=\"0\",variant=\"accurate\"} 3\n"
             "sluice_variant_requests_total{route=\"chat\",tier=\"0\",variant=\"degraded\"} 2\n"
             "%ssluice_degrade_spillovers_total{route=\"chat\",tier=\"0\"} 1\n"
             "%s",
             shed_help, degrade_help, changes_help, variant_help, spill_help, p99_help);
    cr_assert_str_eq(text, want);
    sl_free(text);
}

Test(slo_glue, a_reload_hands_over_and_old_requests_are_collected)
{
    fixture_t a, b;
    generation(&a);
    depart(&a, 200, 0, SL_FAILURE_NONE, 40000);
    depart(&a, 429, 1, SL_FAILURE_OVERLOADED, 600);
    routed(&a, 1, 0, 0);
    cr_assert_eq(sl_slo_tick(a.gen.slo->tracker, WALL, NULL), SL_OK);

    generation(&b); /* the reload: b takes a's history and counters before it is published */
    cr_assert_eq(gw.slo->gens, b.gen.slo);
    /* a request pinned to a ends after the reload; then a is released */
    depart(&a, 502, 0, SL_FAILURE_RESET, 80000);
    routed(&a, 1, 0, 0);
    depart(&b, 200, 0, SL_FAILURE_NONE, 40000);
    routed(&b, 0, 1, 1);
    sl_gw_slo_release(&a.gen);

    uint64_t now_ms = 5000000;
    for (int i = 0; i != 10; ++i) /* ten control ticks: one SLO tick */
        sl_gw_slo_tick(&gw, &b.gen, now_ms + 100 * (uint64_t)i);
    cr_assert_eq(gw.slo->gens, b.gen.slo);
    cr_assert_null(gw.slo->gens->next); /* a's part was collected and freed */

    const sl_slo_objective_verdict_t *av = &gw.slo->verdict->routes[0].objectives[SL_SLO_AVAILABILITY];
    cr_assert_eq(av->requests_total, 4);
    cr_assert_eq(av->good_total, 2);
    cr_assert_eq(av->report.period.total, 4);
    const sl_gw_dtier_t *d = &gw.slo->dtiers[0];
    cr_assert_eq(gw.slo->num_dtiers, 1);
    cr_assert_eq(d->gone_routed[0], 2);
    cr_assert_eq(d->input.has_p99, 1); /* the latency of both generations reached the controller's window */
    cr_assert_eq(d->input.threshold_us, 100000);
    cr_assert_eq(d->state.fraction_permille, 0);

    char *text = render_tail();
    cr_assert(strstr(text, "sluice_shed_total{route=\"chat\",reason=\"saturated\"} 1\n") != NULL, "%s", text);
    cr_assert(strstr(text, "variant=\"accurate\"} 2\nsluice_variant_requests_total{route=\"chat\",tier=\"0\","
                           "variant=\"degraded\"} 1\n") != NULL,
              "%s", text);
    cr_assert(strstr(text, "sluice_degrade_spillovers_total{route=\"chat\",tier=\"0\"} 1\n") != NULL, "%s", text);
    sl_hist_t one;
    sl_hist_init(&one);
    sl_hist_record(&one, 79500);
    sl_hist_record(&one, 39500);
    sl_hist_record(&one, 39500);
    double p99;
    cr_assert_eq(sl_hist_quantile(&one, 0.99, &p99), SL_OK);
    char line[128];
    snprintf(line, sizeof(line), "sluice_degrade_latency_p99_seconds{route=\"chat\",tier=\"0\"} 0.%06llu\n",
             (unsigned long long)p99);
    cr_assert(strstr(text, line) != NULL, "%s\nwants %s", text, line);
    sl_free(text);
}

/* The whole text of the families after the SLO ones, and of /admin/state. */
static char *render_all(int state)
{
    sl_buf_t b;
    sl_buf_init(&b, 0);
    cr_assert_eq(state ? sl_gw_slo_render_state(&gw, &b) : sl_gw_slo_render_metrics(&gw, &b), SL_OK);
    char *out = sl_strdup(b.data);
    sl_buf_dispose(&b);
    return out;
}

Test(slo_glue, series_of_a_removed_degrade_tier_stay_while_its_config_runs_then_leave)
{
    fixture_t a, b, c;
    generation(&a);
    routed(&a, 2, 1, 0);
    depart(&a, 200, 0, SL_FAILURE_NONE, 1000);
    depart(&a, 200, 0, SL_FAILURE_NONE, 1000);
    cr_assert_eq(sl_slo_tick(a.gen.slo->tracker, WALL, NULL), SL_OK);
    generation_of(&b, yaml_no_degrade, 1); /* the reload: chat keeps its SLO, its tier loses its degrade block */
    uint64_t now_ms = 5000000;
    sl_gw_slo_tick(&gw, &b.gen, now_ms);
    /* the new config's verdict at once: chat's latency objective is gone, not only at the next SLO tick */
    cr_assert_eq(gw.slo->verdict->num_routes, 2);
    cr_assert(gw.slo->verdict->routes[0].objectives[SL_SLO_AVAILABILITY].enabled);
    cr_assert(!gw.slo->verdict->routes[0].objectives[SL_SLO_LATENCY].enabled);
    char *text = render_all(0);
    cr_assert(strstr(text, "sluice_slo_requests_total{route=\"chat\",objective=\"latency\"}") == NULL, "%s", text);
    /* a still holds requests: the tier's counters stay (it is no longer configured: no fraction) */
    cr_assert(strstr(text, "sluice_degrade_fraction{") == NULL, "%s", text);
    cr_assert(strstr(text, "sluice_variant_requests_total{route=\"chat\",tier=\"0\",variant=\"accurate\"} 2\n") != NULL, "%s",
              text);
    sl_free(text);
    text = render_all(1);
    cr_assert(strstr(text, "\"degrade\":[{\"route\":\"chat\",\"tier\":0,\"backend\":\"acc\",\"configured\":false,") != NULL,
              "%s", text);
    sl_free(text);

    /* a is retired: its part is freed at the next tick, and the tier leaves /metrics and /admin/state */
    sl_gw_slo_release(&a.gen);
    sl_gw_slo_tick(&gw, &b.gen, now_ms + 100);
    cr_assert_null(gw.slo->gens->next);
    text = render_all(0);
    cr_assert(strstr(text, "tier=") == NULL, "%s", text);
    cr_assert(strstr(text, "sluice_shed_total{route=\"chat\",reason=\"saturated\"} 0\n") != NULL, "%s", text);
    sl_free(text);
    text = render_all(1);
    cr_assert(strstr(text, "\"degrade\":[],\"shed\":[{\"route\":\"chat\",") != NULL, "%s", text);
    sl_free(text);

    /* a config built and then refused (the build failed after the attach: its part is released at once) changes
     * nothing shown, and the next build takes the history from the published part, not from the refused one */
    depart(&b, 200, 0, SL_FAILURE_NONE, 1000);
    sl_gw_slo_tick(&gw, &b.gen, now_ms + 150);
    generation_of(&c, yaml_renamed, 0);
    sl_gw_slo_release(&c.gen);
    sl_gw_slo_tick(&gw, &b.gen, now_ms + 200);
    text = render_all(0);
    cr_assert(strstr(text, "sluice_degrade_fraction{") == NULL, "%s", text);
    sl_free(text);
    sl_gw_slo_tick(&gw, &b.gen, now_ms + 300);
    cr_assert_eq(gw.slo->gens, b.gen.slo);
    cr_assert_null(gw.slo->gens->next);

    /* the degrade block comes back: the tier's counters continue where they were; so does chat's availability */
    fixture_t d, e;
    generation_of(&e, yaml_renamed, 0); /* refused once more, just before: no tick freed its part yet */
    sl_gw_slo_release(&e.gen);
    generation(&d);
    sl_gw_slo_release(&b.gen);
    sl_gw_slo_tick(&gw, &d.gen, now_ms + 400);
    const sl_slo_objective_verdict_t *av = &gw.slo->verdict->routes[0].objectives[SL_SLO_AVAILABILITY];
    cr_assert_eq(av->requests_total, 3); /* a's two, handed over at each reload, and b's one */
    cr_assert_eq(av->report.period.total, 3);
    text = render_all(0);
    cr_assert(strstr(text, "sluice_degrade_fraction{route=\"chat\",tier=\"0\"} 0\n") != NULL, "%s", text);
    cr_assert(strstr(text, "sluice_variant_requests_total{route=\"chat\",tier=\"0\",variant=\"accurate\"} 2\n") != NULL, "%s",
              text);
    cr_assert(strstr(text, "sluice_variant_requests_total{route=\"talk\"") == NULL, "%s", text);
    sl_free(text);
}

Test(slo_glue, a_refused_build_leaves_the_running_degrade_tier_as_it_was)
{
    static const char longer_window[] = "backends:\n"
                                        "  acc: {protocol: openai, endpoints: 127.0.0.1:8001, max_concurrency: 2}\n"
                                        "  fast: {protocol: openai, endpoints: 127.0.0.1:8002}\n"
                                        "routes:\n"
                                        "  - name: chat\n"
                                        "    slo: {availability: 99%}\n"
                                        "    cascade: [{backend: fast, degrade: {to: acc, latency_window: 1m}}]\n"
                                        "  - name: batch\n"
                                        "    cascade: [{backend: fast}]\n";
    fixture_t a, c;
    generation(&a);
    depart(&a, 200, 0, SL_FAILURE_NONE, 40000);
    uint64_t now_ms = 5000000;
    sl_gw_slo_tick(&gw, &a.gen, now_ms);
    const sl_gw_dtier_t *d = &gw.slo->dtiers[0];
    cr_assert_eq(d->window_ms, 30000);
    cr_assert_str_eq(d->backend, "acc");
    cr_assert_eq(d->input.has_p99, 1);

    generation_of(&c, longer_window, 0); /* built, then refused: released without a handover */
    sl_gw_slo_release(&c.gen);
    sl_gw_slo_tick(&gw, &a.gen, now_ms + 100);
    cr_assert_eq(gw.slo->num_dtiers, 1);
    cr_assert_eq(d->window_ms, 30000); /* the running window and its latency, not an empty one of 1m */
    cr_assert_str_eq(d->backend, "acc");
    cr_assert_eq(d->input.has_p99, 1);

    fixture_t b;
    generation_of(&b, longer_window, 1); /* the same config, accepted */
    cr_assert_eq(d->window_ms, 60000);
    cr_assert_str_eq(d->backend, "fast");
}
