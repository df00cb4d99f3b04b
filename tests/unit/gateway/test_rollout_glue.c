/*
 * test_rollout_glue.c - canary rollouts in the gateway (gateway/rollout_glue.c, rollout_admin.c) without threads or
 * sockets: a rollout restored at start and started by the first tick, outcomes handed over through a worker's ring
 * (a failing canary rolls back, the state file is written and a new start stays rolled back), the admin actions,
 * the reload rule (same canary: the rollout goes on; another canary: a new rollout) and the renders.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/status.h"
#include "conf/conf.h"
#include "conf/snapshot.h"
#include "gateway/rollout_glue.h"
#include "policies/rollout.h"

#define WALL ((uint64_t)29000000 * 60000)

static char dir[64];
static sl_gw_t gw;
static sl_gw_worker_t worker;

typedef struct st_fixture_t {
    sl_conf_t *conf;
    sl_gw_gen_t gen;
    sl_gw_backend_rt_t backends[4];
    sl_gw_route_rt_t routes[1];
} fixture_t;

static void no_dispose(sl_snapshot_t *s)
{
    (void)s;
}

/* A generation whose route "chat" has the cascade `cascade` over backends a, b, c, d. */
static void generation_of(fixture_t *f, const char *cascade)
{
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "server: {threads: 2}\nstate_dir: %s\n"
             "backends:\n"
             "  a: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
             "  b: {protocol: openai, endpoints: 127.0.0.1:8002}\n"
             "  c: {protocol: openai, endpoints: 127.0.0.1:8003}\n"
             "  d: {protocol: openai, endpoints: 127.0.0.1:8004}\n"
             "routes:\n"
             "  - name: chat\n"
             "    cascade: %s\n",
             dir, cascade);
    sl_conf_errors_t errs;
    sl_conf_errors_init(&errs);
    memset(f, 0, sizeof(*f));
    cr_assert_eq(sl_conf_load_string("g.yaml", yaml, strlen(yaml), &f->conf, &errs), SL_OK);
    sl_conf_errors_dispose(&errs);
    sl_snapshot_init(&f->gen.super, no_dispose);
    sl_arena_init(&f->gen.arena);
    f->gen.conf = f->conf;
    f->gen.backends = f->backends;
    f->gen.routes = f->routes;
    for (size_t i = 0; i != 4; ++i)
        f->backends[i].conf = &f->conf->backends[i];
    f->routes[0].conf = &f->conf->routes[0];
    sl_gw_rollout_attach(&gw, &f->gen);
}

static void generation(fixture_t *f, const char *canary)
{
    char cascade[512];
    snprintf(cascade, sizeof(cascade),
             "[{backend: a, rollout: {canary: %s, steps: [50%%], interval: 1s, min_samples: 10, checks: "
             "{latency: {enabled: false}}}}]",
             canary);
    generation_of(f, cascade);
}

static void dispose(fixture_t *f)
{
    sl_arena_dispose(&f->gen.arena);
    sl_conf_release(f->conf);
}

static void setup(void)
{
    sl_log_level = -1;
    snprintf(dir, sizeof(dir), "/tmp/sl-rollout-glue-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    memset(&gw, 0, sizeof(gw));
    memset(&worker, 0, sizeof(worker));
    worker.gw = &gw;
    worker.idx = 1;
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(rollout_glue, .init = setup, .fini = teardown);

/* Starts the gateway's rollouts on f (published as the current generation). */
static void start(fixture_t *f)
{
    sl_snapshot_slot_init(&gw.slot, &f->gen.super);
    cr_assert_eq(sl_gw_rollout_start(&gw), SL_OK);
}

static void stop(void)
{
    sl_gw_rollout_stop(&gw);
    sl_snapshot_slot_dispose(&gw.slot);
}

static sl_gw_ro_slot_t *slot0(void)
{
    cr_assert_eq(gw.rollouts->num_slots, 1);
    return gw.rollouts->slots[0];
}

/* A request of f's route on worker 1 that ended with `status`. */
static void request(fixture_t *f, sl_proxy_t *p, int status)
{
    memset(p, 0, sizeof(*p));
    p->w = &worker;
    p->gen = &f->gen;
    p->route = &f->routes[0];
    p->status = status;
}

/* A request of version `canary` answered with `status` departs from worker 1. */
static void depart(fixture_t *f, int canary, int status)
{
    sl_proxy_t p;
    request(f, &p, status);
    p.num_ro = 1;
    p.ro[0].slot = 0;
    p.ro[0].version = canary ? SL_CANARY_CANARY : SL_CANARY_STABLE;
    p.ro[0].weight_permille = (uint16_t)atomic_load(&gw.rollouts->slots[0]->weight_permille);
    p.t_ro_us = 1000;
    sl_gw_rollout_observe(&p, 21000);
}

Test(rollout_glue, starts_rolls_back_on_errors_and_stays_rolled_back)
{
    fixture_t f;
    generation(&f, "b");
    cr_assert_not_null(f.gen.rollout_slot);
    cr_assert_eq(f.gen.rollout_slot[0], SL_GW_ROLLOUT_NONE); /* bound at start */
    start(&f);
    cr_assert_eq(f.gen.rollout_slot[0], 0);
    sl_gw_ro_slot_t *s = slot0();
    cr_assert_eq(s->r.state.phase, SL_ROLLOUT_PENDING);
    cr_assert_eq(atomic_load(&s->weight_permille), 0);

    sl_gw_rollout_tick(&gw, WALL);
    cr_assert_eq(s->r.state.phase, SL_ROLLOUT_PROGRESSING);
    cr_assert_eq(atomic_load(&s->weight_permille), 500);

    /* outcomes through worker 1's ring: the canary fails every answer */
    for (int i = 0; i != 200; ++i) {
        depart(&f, 0, 200);
        depart(&f, 1, 502);
    }
    depart(&f, 1, 499); /* a client abort is not counted */
    cr_assert_eq(atomic_load(&s->rings[1]->head), 400);
    for (uint64_t t = 1; t != 20 && s->r.state.phase != SL_ROLLOUT_ROLLED_BACK; ++t)
        sl_gw_rollout_tick(&gw, WALL + t * 100);
    cr_assert_eq(s->r.state.phase, SL_ROLLOUT_ROLLED_BACK);
    cr_assert_eq(atomic_load(&s->weight_permille), 0);
    cr_assert_eq(atomic_load(&s->rings[1]->tail), 400);
    cr_assert_eq(s->write_failures, 0);
    stop();
    dispose(&f);

    /* a new start reads the file: rolled back, weight 0 */
    memset(&gw, 0, sizeof(gw));
    generation(&f, "b");
    start(&f);
    s = slot0();
    cr_assert_eq(s->r.state.phase, SL_ROLLOUT_ROLLED_BACK);
    cr_assert_eq(atomic_load(&s->weight_permille), 0);
    sl_gw_rollout_tick(&gw, WALL + 5000);
    cr_assert_eq(s->r.state.phase, SL_ROLLOUT_ROLLED_BACK);
    stop();
    dispose(&f);
}

Test(rollout_glue, admin_actions_and_renders)
{
    fixture_t f;
    generation(&f, "b");
    start(&f);
    sl_gw_ro_slot_t *s = slot0();
    const char *why;
    cr_assert_eq(sl_gw_rollout_admin(&gw, "chat", "0", "resume", &why), SL_EINVAL);
    cr_assert_eq(sl_gw_rollout_admin(&gw, "chat", "0", "bogus", &why), SL_ENOENT);
    cr_assert_eq(sl_gw_rollout_admin(&gw, "chat", "1", "pause", &why), SL_ENOENT);
    cr_assert_eq(sl_gw_rollout_admin(&gw, "other", "0", "pause", &why), SL_ENOENT);
    cr_assert_eq(sl_gw_rollout_admin(&gw, "chat", "a", "promote", &why), SL_OK);
    cr_assert_null(why);
    cr_assert_eq(s->r.state.phase, SL_ROLLOUT_PROMOTED);
    cr_assert_eq(atomic_load(&s->weight_permille), 1000);

    sl_buf_t b;
    sl_buf_init(&b, 0);
    cr_assert_eq(sl_gw_rollout_render_state(&gw, &b), SL_OK);
    cr_assert(strncmp(b.data, ",\"rollouts\":[{\"route\":\"chat\",\"backend\":\"a\",\"canary\":\"b\"", 54) == 0, "%s", b.data);
    cr_assert(strstr(b.data, "\"phase\":\"promoted\"") != NULL);
    sl_buf_dispose(&b);
    sl_buf_init(&b, 0);
    cr_assert_eq(sl_gw_rollout_render_metrics(&gw, &b), SL_OK);
    cr_assert(strstr(b.data, "sluice_rollout_weight{route=\"chat\",backend=\"a\",canary=\"b\"} 1\n") != NULL, "%s", b.data);
    cr_assert(strstr(b.data, "sluice_rollout_outcomes_dropped_total{route=\"chat\",backend=\"a\",canary=\"b\"} 0\n") != NULL);
    sl_buf_dispose(&b);
    stop();
    dispose(&f);
}

Test(rollout_glue, a_reload_keeps_the_rollout_unless_the_canary_changes)
{
    fixture_t f1, f2, f3;
    generation(&f1, "b");
    start(&f1);
    sl_gw_ro_slot_t *s = slot0();
    sl_gw_rollout_tick(&gw, WALL);
    const char *why;
    cr_assert_eq(sl_gw_rollout_admin(&gw, "chat", "0", "pause", &why), SL_OK);

    generation(&f2, "b"); /* the same canary: paused at its weight, same generation */
    sl_snapshot_publish(&gw.slot, &f2.gen.super);
    cr_assert_eq(f2.gen.rollout_slot[0], 0);
    cr_assert_eq(s->r.state.phase, SL_ROLLOUT_PAUSED);
    cr_assert_eq(atomic_load(&s->weight_permille), 500);
    cr_assert_eq(s->r.conf, &f2.conf->routes[0].tiers[0].rollout);

    generation(&f3, "c"); /* another canary: a new rollout in the same slot */
    sl_snapshot_publish(&gw.slot, &f3.gen.super);
    cr_assert_eq(f3.gen.rollout_slot[0], 0);
    cr_assert_eq(gw.rollouts->num_slots, 1);
    cr_assert_eq(s->r.state.phase, SL_ROLLOUT_PENDING);
    cr_assert_eq(atomic_load(&s->weight_permille), 0);
    cr_assert_str_eq(s->canary, "c");
    const sl_rollout_event_t *ev = sl_rollout_history_get(&s->r.history, s->r.history.count - 1);
    cr_assert_eq(ev->kind, SL_ROLLOUT_EV_NEW_CANARY);
    stop();
    dispose(&f1);
    dispose(&f2);
    dispose(&f3);
}

/* The next record of worker 1's ring of slot k (consumed). */
static sl_gw_ro_rec_t take(size_t k)
{
    sl_gw_ro_ring_t *ring = gw.rollouts->slots[k]->rings[1];
    uint64_t tail = atomic_load(&ring->tail);
    cr_assert_lt(tail, atomic_load(&ring->head), "a record in slot %zu's ring", k);
    atomic_store(&ring->tail, tail + 1);
    return ring->recs[tail % SL_GW_ROLLOUT_RING];
}

Test(rollout_glue, a_request_crossing_two_rollout_tiers_reports_to_both)
{
    fixture_t f;
    generation_of(&f, "[{backend: a, accept: {signal: logprob_mean, min: -1}, rollout: {canary: b, steps: [20%]}},"
                      " {backend: c, rollout: {canary: d, steps: [30%]}}]");
    start(&f);
    cr_assert_eq(gw.rollouts->num_slots, 2);
    cr_assert_eq(f.gen.rollout_slot[1], 1);
    sl_proxy_t p;
    request(&f, &p, 200);
    /* tier 0 (canary) escalated on a low signal; tier 1 (stable) answered */
    p.num_ro = 2;
    p.ro[0] = (struct st_sl_proxy_ro_t){.slot = 0, .tier = 0, .version = SL_CANARY_CANARY, .weight_permille = 200};
    p.ro[1] = (struct st_sl_proxy_ro_t){.slot = 1, .tier = 1, .version = SL_CANARY_STABLE, .weight_permille = 300};
    p.cas.num_tries = 2;
    p.cas.tries[0] = (sl_cascade_try_t){.tier = 0, .verdict = SL_VERDICT_ESCALATE, .reason = SL_REASON_LOW_CONFIDENCE,
                                        .signal_state = SL_SIGNAL_VALUE, .signal = -2.5};
    p.cas.tries[1] = (sl_cascade_try_t){.tier = 1, .verdict = SL_VERDICT_ACCEPT, .reason = SL_REASON_NO_RULE};
    p.tier = 1;
    p.t_ro_us = 5000;
    sl_gw_rollout_observe(&p, 9000);
    sl_gw_ro_rec_t r0 = take(0), r1 = take(1);
    cr_assert_eq(r0.version, SL_CANARY_CANARY);
    cr_assert_eq(r0.weight_permille, 200);
    cr_assert_eq(r0.outcome.error, 0);
    cr_assert_eq(r0.outcome.judged, 1);
    cr_assert_eq(r0.outcome.accepted, 0, "an escalation");
    cr_assert_eq(r0.outcome.confidence, -2.5);
    cr_assert(isnan(r0.outcome.latency_ms), "the tier that escalated did not answer: no timing");
    cr_assert_eq(r1.version, SL_CANARY_STABLE);
    cr_assert_eq(r1.weight_permille, 300);
    cr_assert_eq(r1.outcome.judged, 0);
    cr_assert_eq(r1.outcome.latency_ms, 4.0, "the answering tier's latency, from its start");
    /* a 5xx answer of the last tier fails that tier only */
    p.status = 502;
    p.cas.tries[1].verdict = SL_VERDICT_FAIL;
    p.cas.tries[1].reason = SL_REASON_FAILURE;
    p.cas.tries[1].failure = SL_FAILURE_UPSTREAM_5XX;
    sl_gw_rollout_observe(&p, 9000);
    r0 = take(0);
    r1 = take(1);
    cr_assert_eq(r0.outcome.error, 0);
    cr_assert_eq(r1.outcome.error, 1);
    stop();
    dispose(&f);
}

Test(rollout_glue, requests_routed_under_another_weight_are_left_out_of_the_split)
{
    fixture_t f;
    generation(&f, "b");
    start(&f);
    sl_gw_ro_slot_t *s = slot0();
    sl_gw_rollout_tick(&gw, WALL); /* starts: weight 500 */
    cr_assert_eq(s->r.analysis.weight_permille, 500);
    for (int i = 0; i != 30; ++i)
        depart(&f, 0, 200);
    for (int i = 0; i != 10; ++i)
        depart(&f, 1, 200);
    /* in flight when the weight changed: picked with weight 0, all on stable */
    for (int i = 0; i != 7; ++i) {
        sl_proxy_t p;
        request(&f, &p, 200);
        p.num_ro = 1;
        p.ro[0].version = SL_CANARY_STABLE;
        p.t_ro_us = 1000;
        sl_gw_rollout_observe(&p, 21000);
    }
    sl_gw_rollout_tick(&gw, WALL + 100);
    cr_assert_eq(s->r.analysis.step[SL_CANARY_STABLE].requests, 37, "stale requests still count as traffic");
    cr_assert_eq(s->r.analysis.srm_canary, 10);
    cr_assert_eq(s->r.analysis.srm_total, 40, "the split is tested on the requests routed at 50 %% only");
    stop();
    dispose(&f);
}
