/*
 * test_rollout_glue.c - canary rollouts in the gateway (gateway/rollout_glue.c, rollout_admin.c) without threads or
 * sockets: a rollout restored at start and started by the first tick, outcomes handed over through a worker's ring
 * (a failing canary rolls back, the state file is written and a new start stays rolled back), the admin actions,
 * the reload rule (same canary: the rollout goes on; another canary: a new rollout) and the renders.
 */
#include <criterion/criterion.h>
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
    sl_gw_backend_rt_t backends[3];
    sl_gw_route_rt_t routes[1];
} fixture_t;

static void no_dispose(sl_snapshot_t *s)
{
    (void)s;
}

static void generation(fixture_t *f, const char *canary)
{
    char yaml[1024];
    snprintf(yaml, sizeof(yaml),
             "server: {threads: 2}\nstate_dir: %s\n"
             "backends:\n"
             "  a: {protocol: openai, endpoints: 127.0.0.1:8001}\n"
             "  b: {protocol: openai, endpoints: 127.0.0.1:8002}\n"
             "  c: {protocol: openai, endpoints: 127.0.0.1:8003}\n"
             "routes:\n"
             "  - name: chat\n"
             "    cascade: [{backend: a, rollout: {canary: %s, steps: [50%%], interval: 1s, min_samples: 10, checks: "
             "{latency: {enabled: false}}}}]\n",
             dir, canary);
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
    for (size_t i = 0; i != 3; ++i)
        f->backends[i].conf = &f->conf->backends[i];
    f->routes[0].conf = &f->conf->routes[0];
    sl_gw_rollout_attach(&gw, &f->gen);
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

/* A request of version `canary` answered with `status` departs from worker 1. */
static void depart(fixture_t *f, int canary, int status)
{
    sl_proxy_t p;
    memset(&p, 0, sizeof(p));
    p.w = &worker;
    p.gen = &f->gen;
    p.route = &f->routes[0];
    p.status = status;
    p.ro_slot = 1;
    p.ro_version = canary ? SL_CANARY_CANARY : SL_CANARY_STABLE;
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
