#include <criterion/criterion.h>
#include <string.h>

#include "backends/health.h"
#include "backends/pool.h"
#include "common/status.h"

static sl_pool_registry_t reg;
static sl_pool_endpoint_t *eps[4];

static void setup(void)
{
    static const char *addrs[] = {"127.0.0.1:1001", "127.0.0.1:1002", "127.0.0.1:1003", "127.0.0.1:1004"};
    sl_pool_registry_init(&reg);
    for (int i = 0; i != 4; ++i) {
        sl_conf_addr_t a;
        memset(&a, 0, sizeof(a));
        a.text = addrs[i];
        cr_assert_eq(sl_pool_registry_get(&reg, "b", &a, &eps[i]), SL_OK);
    }
}

static void teardown(void)
{
    sl_pool_registry_dispose(&reg);
}

TestSuite(pool, .init = setup, .fini = teardown);

Test(pool, registry_is_keyed_by_backend_and_address)
{
    sl_conf_addr_t a;
    sl_pool_endpoint_t *e;
    memset(&a, 0, sizeof(a));
    a.text = "127.0.0.1:1002";
    cr_assert_eq(sl_pool_registry_get(&reg, "b", &a, &e), SL_OK);
    cr_assert_eq(e, eps[1]);
    cr_assert_eq(e->id, 1);
    cr_assert_eq(sl_pool_registry_get(&reg, "other", &a, &e), SL_OK);
    cr_assert_neq(e, eps[1]);
    cr_assert_eq(e->id, 4);
    cr_assert_str_eq(e->backend, "other");
    cr_assert_eq((uintptr_t)e % 64, 0);
    cr_assert_eq(reg.num_endpoints, 5);
}

Test(pool, acquire_respects_limit)
{
    cr_assert_eq(sl_pool_acquire(eps[0], 2), 1);
    cr_assert_eq(sl_pool_acquire(eps[0], 2), 1);
    cr_assert_eq(sl_pool_acquire(eps[0], 2), 0);
    cr_assert_eq(atomic_load(&eps[0]->inflight), 2);
    sl_pool_release(eps[0]);
    cr_assert_eq(sl_pool_acquire(eps[0], 2), 1);
    cr_assert_eq(sl_pool_acquire(eps[0], 0), 1); /* 0 = unlimited */
    cr_assert_eq(atomic_load(&eps[0]->inflight), 3);
}

static uint64_t draw(uint32_t lo, uint32_t hi)
{
    return (uint64_t)hi << 32 | lo;
}

Test(pool, p2c_takes_the_less_loaded_of_two_candidates)
{
    sl_pool_endpoint_t *out = NULL;
    atomic_store(&eps[0]->inflight, 5);
    atomic_store(&eps[2]->inflight, 1);
    /* candidates i = 0 % 4 = 0 and j = 1 % 3 = 1 -> 2 (j >= i is shifted): endpoints 0 and 2 */
    cr_assert_eq(sl_pool_pick(eps, 4, 0, draw(0, 1), &out), SL_POOL_PICKED);
    cr_assert_eq(out, eps[2]);
    cr_assert_eq(atomic_load(&eps[2]->inflight), 2);
    /* candidates 3 and 0 -> 3 (load 0) */
    cr_assert_eq(sl_pool_pick(eps, 4, 0, draw(3, 0), &out), SL_POOL_PICKED);
    cr_assert_eq(out, eps[3]);
    cr_assert_eq(sl_pool_pick(eps, 4, 0, draw(1, 2), &out), SL_POOL_PICKED); /* 1 (load 0) vs 3 (load 1) */
    cr_assert_eq(out, eps[1]);
    /* equal loads: the first candidate wins */
    for (int i = 0; i != 4; ++i)
        atomic_store(&eps[i]->inflight, 0);
    cr_assert_eq(sl_pool_pick(eps, 4, 0, draw(2, 0), &out), SL_POOL_PICKED); /* 2 vs 0 */
    cr_assert_eq(out, eps[2]);
    cr_assert_eq(sl_pool_pick(eps, 4, 0, draw(0, 1), &out), SL_POOL_PICKED); /* 0 (load 0) vs 2 (load 1) */
    cr_assert_eq(out, eps[0]);
}

Test(pool, p2c_skips_endpoints_out_of_rotation)
{
    sl_pool_endpoint_t *out = NULL;
    atomic_store(&eps[0]->out, SL_POOL_OUT_EJECTED);
    atomic_store(&eps[1]->out, SL_POOL_OUT_UNHEALTHY);
    atomic_store(&eps[2]->out, SL_POOL_OUT_EJECTED | SL_POOL_OUT_UNHEALTHY);
    for (uint32_t k = 0; k != 16; ++k) {
        cr_assert_eq(sl_pool_pick(eps, 4, 0, draw(k, k * 7), &out), SL_POOL_PICKED);
        cr_assert_eq(out, eps[3]);
    }
    atomic_store(&eps[3]->out, SL_POOL_OUT_EJECTED);
    out = NULL;
    cr_assert_eq(sl_pool_pick(eps, 4, 0, draw(0, 0), &out), SL_POOL_NONE);
    cr_assert_null(out);
}

Test(pool, p2c_falls_back_to_any_free_slot_then_full)
{
    sl_pool_endpoint_t *out = NULL;
    atomic_store(&eps[0]->inflight, 2);
    atomic_store(&eps[1]->inflight, 2);
    atomic_store(&eps[2]->inflight, 2);
    atomic_store(&eps[3]->inflight, 1);
    /* candidates 0 and 1 are full (limit 2): endpoint 3 has the only free slot */
    cr_assert_eq(sl_pool_pick(eps, 4, 2, draw(0, 0), &out), SL_POOL_PICKED);
    cr_assert_eq(out, eps[3]);
    cr_assert_eq(atomic_load(&eps[3]->inflight), 2);
    out = NULL;
    cr_assert_eq(sl_pool_pick(eps, 4, 2, draw(0, 0), &out), SL_POOL_FULL);
    cr_assert_null(out);
    for (int i = 0; i != 4; ++i)
        cr_assert_eq(atomic_load(&eps[i]->inflight), 2); /* nothing leaked by the failed attempts */
}

Test(pool, p2c_spreads_load_evenly)
{
    /* requests that never finish: P2C must keep the four loads within one of each other */
    uint64_t x = 88172645463325252ull;
    for (int k = 0; k != 400; ++k) {
        sl_pool_endpoint_t *out;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        cr_assert_eq(sl_pool_pick(eps, 4, 0, x, &out), SL_POOL_PICKED);
    }
    for (int i = 0; i != 4; ++i)
        cr_assert(atomic_load(&eps[i]->inflight) >= 99 && atomic_load(&eps[i]->inflight) <= 101, "endpoint %d: %u", i,
                  atomic_load(&eps[i]->inflight));
}

Test(pool, ejection_interval_doubles_up_to_the_cap)
{
    sl_conf_outlier_t o = {
        .consecutive_failures = 3, .base_ejection_ms = 1000, .max_ejection_ms = 5000, .max_ejected_percent = 50};
    cr_assert_eq(sl_pool_ejection_ms(&o, 0), 1000);
    cr_assert_eq(sl_pool_ejection_ms(&o, 1), 2000);
    cr_assert_eq(sl_pool_ejection_ms(&o, 2), 4000);
    cr_assert_eq(sl_pool_ejection_ms(&o, 3), 5000);
    cr_assert_eq(sl_pool_ejection_ms(&o, 40), 5000);
}

Test(pool, ejection_cap)
{
    cr_assert_eq(sl_pool_may_eject(1, 0, 10), 1); /* the first ejection is always allowed */
    cr_assert_eq(sl_pool_may_eject(1, 1, 100), 0);
    cr_assert_eq(sl_pool_may_eject(4, 1, 50), 1);
    cr_assert_eq(sl_pool_may_eject(4, 2, 50), 0);
    cr_assert_eq(sl_pool_may_eject(10, 2, 30), 1);
    cr_assert_eq(sl_pool_may_eject(10, 3, 30), 0);
    cr_assert_eq(sl_pool_may_eject(0, 0, 100), 0);
}

Test(pool, passive_ejection_lifecycle)
{
    sl_conf_outlier_t o = {
        .consecutive_failures = 3, .base_ejection_ms = 1000, .max_ejection_ms = 4000, .max_ejected_percent = 50};
    cr_assert_eq(sl_pool_observe(eps[0], 1, 3), 0);
    cr_assert_eq(sl_pool_observe(eps[0], 1, 3), 0);
    cr_assert_eq(sl_pool_observe(eps[0], 0, 3), 0); /* a success breaks the streak */
    cr_assert_eq(atomic_load(&eps[0]->failure_streak), 0);
    cr_assert_eq(sl_pool_observe(eps[0], 1, 3), 0);
    cr_assert_eq(sl_pool_observe(eps[0], 1, 3), 0);
    cr_assert_eq(sl_pool_observe(eps[0], 1, 3), 1); /* reaches the threshold: wake the control thread */
    cr_assert_eq(sl_pool_observe(eps[0], 1, 3), 0); /* already requested */

    cr_assert_eq(sl_pool_update(eps, 4, &o, 10000), 1);
    cr_assert_eq(atomic_load(&eps[0]->out), SL_POOL_OUT_EJECTED);
    cr_assert_eq(eps[0]->ejected_until_ms, 11000);
    cr_assert_eq(eps[0]->ejections_outlier, 1);
    cr_assert_eq(sl_pool_update(eps, 4, &o, 10999), 0);
    cr_assert_eq(atomic_load(&eps[0]->out), SL_POOL_OUT_EJECTED);
    cr_assert_eq(sl_pool_update(eps, 4, &o, 11000), 0);
    cr_assert_eq(atomic_load(&eps[0]->out), 0);
    cr_assert_eq(atomic_load(&eps[0]->failure_streak), 0);

    /* fails again soon: the second ejection lasts twice as long */
    for (int k = 0; k != 3; ++k)
        sl_pool_observe(eps[0], 1, 3);
    cr_assert_eq(sl_pool_update(eps, 4, &o, 12000), 1);
    cr_assert_eq(eps[0]->ejected_until_ms, 14000);
    cr_assert_eq(sl_pool_update(eps, 4, &o, 14000), 0);
    cr_assert_eq(atomic_load(&eps[0]->out), 0);
    /* in rotation for max_ejection_ms: the level decays to 0 */
    cr_assert_eq(eps[0]->ejection_level, 2);
    sl_pool_update(eps, 4, &o, 17999);
    cr_assert_eq(eps[0]->ejection_level, 2);
    sl_pool_update(eps, 4, &o, 18000);
    cr_assert_eq(eps[0]->ejection_level, 0);
}

Test(pool, ejection_requests_beyond_the_cap_wait)
{
    sl_conf_outlier_t o = {
        .consecutive_failures = 1, .base_ejection_ms = 1000, .max_ejection_ms = 4000, .max_ejected_percent = 50};
    for (int i = 0; i != 3; ++i)
        cr_assert_eq(sl_pool_observe(eps[i], 1, 1), 1);
    cr_assert_eq(sl_pool_update(eps, 4, &o, 0), 2); /* 2 of 4 = 50 % */
    cr_assert_eq(atomic_load(&eps[0]->out), SL_POOL_OUT_EJECTED);
    cr_assert_eq(atomic_load(&eps[1]->out), SL_POOL_OUT_EJECTED);
    cr_assert_eq(atomic_load(&eps[2]->out), 0);
    cr_assert_eq(atomic_load(&eps[2]->eject_requested), 1);
    cr_assert_eq(sl_pool_update(eps, 4, &o, 1000), 1); /* the first two come back, the third goes */
    cr_assert_eq(atomic_load(&eps[0]->out), 0);
    cr_assert_eq(atomic_load(&eps[2]->out), SL_POOL_OUT_EJECTED);
}

Test(pool, stale_ejection_request_is_dropped)
{
    sl_conf_outlier_t o = {
        .consecutive_failures = 2, .base_ejection_ms = 1000, .max_ejection_ms = 4000, .max_ejected_percent = 50};
    sl_pool_observe(eps[1], 1, 2);
    cr_assert_eq(sl_pool_observe(eps[1], 1, 2), 1);
    sl_pool_observe(eps[1], 0, 2); /* success before the control thread ran */
    cr_assert_eq(sl_pool_update(eps, 4, &o, 0), 0);
    cr_assert_eq(atomic_load(&eps[1]->out), 0);
    cr_assert_eq(atomic_load(&eps[1]->eject_requested), 0);
}

Test(pool, health_checks_eject_and_bring_back)
{
    sl_conf_health_t h = {
        .path = "/health", .interval_ms = 500, .timeout_ms = 100, .healthy_threshold = 2, .unhealthy_threshold = 3};
    sl_conf_health_t off = {.path = NULL};
    cr_assert_eq(sl_health_due(eps[0], &off, 0), 0);
    cr_assert_eq(sl_health_due(eps[0], &h, 0), 1);
    sl_health_start(eps[0], &h, 0);
    cr_assert_eq(sl_health_due(eps[0], &h, 600), 0); /* still running */
    cr_assert_eq(sl_health_observe(eps[0], &h, 0, 50), SL_HEALTH_UNCHANGED);
    cr_assert_eq(sl_health_due(eps[0], &h, 499), 0);
    cr_assert_eq(sl_health_due(eps[0], &h, 500), 1);
    cr_assert_eq(sl_health_observe(eps[0], &h, 0, 550), SL_HEALTH_UNCHANGED);
    cr_assert_eq(sl_health_observe(eps[0], &h, 0, 1050), SL_HEALTH_UNHEALTHY);
    cr_assert_eq(atomic_load(&eps[0]->out), SL_POOL_OUT_UNHEALTHY);
    cr_assert_eq(eps[0]->ejections_health, 1);
    cr_assert_eq(sl_health_observe(eps[0], &h, 0, 1550), SL_HEALTH_UNCHANGED);
    cr_assert_eq(sl_health_observe(eps[0], &h, 1, 2050), SL_HEALTH_UNCHANGED);
    cr_assert_eq(sl_health_observe(eps[0], &h, 1, 2550), SL_HEALTH_BACK);
    cr_assert_eq(atomic_load(&eps[0]->out), 0);
}

Test(pool, health_checks_end_a_passive_ejection_early)
{
    sl_conf_outlier_t o = {
        .consecutive_failures = 1, .base_ejection_ms = 60000, .max_ejection_ms = 60000, .max_ejected_percent = 100};
    sl_conf_health_t h = {
        .path = "/health", .interval_ms = 100, .timeout_ms = 50, .healthy_threshold = 2, .unhealthy_threshold = 2};
    cr_assert_eq(sl_health_observe(eps[3], &h, 1, 0), SL_HEALTH_UNCHANGED); /* success before the ejection */
    sl_pool_observe(eps[3], 1, 1);
    cr_assert_eq(sl_pool_update(eps, 4, &o, 10), 1);
    cr_assert_eq(sl_health_observe(eps[3], &h, 1, 100), SL_HEALTH_UNCHANGED); /* counted from the ejection */
    cr_assert_eq(atomic_load(&eps[3]->out), SL_POOL_OUT_EJECTED);
    cr_assert_eq(sl_health_observe(eps[3], &h, 1, 200), SL_HEALTH_BACK);
    cr_assert_eq(atomic_load(&eps[3]->out), 0);
    cr_assert_eq(atomic_load(&eps[3]->failure_streak), 0);
}
