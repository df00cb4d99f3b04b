/*
 * test_degrade.c - the accuracy-scaling controller (policies/degrade.c) on scripted input sequences with exact
 * expected fraction sequences: ramp up under saturation, hold in the band, ramp down after `hold`, no flapping on
 * signals oscillating around a threshold, latency pressure, fast-burn eagerness, missing signals, clamps.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "policies/degrade.h"

/* The defaults of the config block (docs/CONFIG.md). */
static sl_conf_degrade_t defaults(void)
{
    sl_conf_degrade_t c;
    memset(&c, 0, sizeof(c));
    c.enabled = 1;
    c.saturation_high_permille = 900;
    c.saturation_low_permille = 600;
    c.latency_high_permille = 1000;
    c.latency_low_permille = 700;
    c.step_up_permille = 250;
    c.step_down_permille = 100;
    c.hold_ms = 10000;
    c.interval_ms = 1000;
    c.burn_factor_permille = 800;
    c.latency_window_ms = 30000;
    c.spill_over = 1;
    return c;
}

/* One scripted step: time, in-flight of a 100-slot backend, p99 in ms (-1: none) against a 2 s threshold, fast
 * burn; and the expected fraction and cause after it. */
typedef struct st_step_t {
    uint64_t now_ms;
    uint32_t in_flight;
    int p99_ms;
    int fast_burn;
    uint32_t want;
    enum en_sl_degrade_cause_t cause;
} step_t;

static void run(const sl_conf_degrade_t *c, sl_degrade_state_t *s, const step_t *steps, size_t n)
{
    for (size_t i = 0; i != n; ++i) {
        sl_degrade_input_t in = {.now_ms = steps[i].now_ms,
                                 .in_flight = steps[i].in_flight,
                                 .capacity = 100,
                                 .has_p99 = steps[i].p99_ms >= 0,
                                 .p99_us = steps[i].p99_ms >= 0 ? (uint64_t)steps[i].p99_ms * 1000u : 0,
                                 .threshold_us = 2000000,
                                 .fast_burn = steps[i].fast_burn};
        sl_degrade_decision_t d;
        uint32_t before = s->fraction_permille;
        sl_degrade_step(c, s, &in, s, &d); /* out aliases the state */
        cr_assert_eq(s->fraction_permille, steps[i].want, "step %zu (t=%llu): fraction %u, expected %u", i,
                     (unsigned long long)steps[i].now_ms, s->fraction_permille, steps[i].want);
        cr_assert_eq(d.cause, steps[i].cause, "step %zu (t=%llu): cause %s, expected %s", i,
                     (unsigned long long)steps[i].now_ms, sl_degrade_cause_names[d.cause],
                     sl_degrade_cause_names[steps[i].cause]);
        cr_assert_eq(d.from_permille, before);
        cr_assert_eq(d.to_permille, s->fraction_permille);
    }
}

#define RUN(c, s, steps) run(&(c), &(s), steps, sizeof(steps) / sizeof(steps[0]))
#define N SL_DEGRADE_NONE
#define SAT SL_DEGRADE_SATURATION
#define LAT SL_DEGRADE_LATENCY
#define BURN SL_DEGRADE_FAST_BURN
#define REC SL_DEGRADE_RECOVERED

Test(degrade, ramp_up_hold_and_ramp_down)
{
    sl_conf_degrade_t c = defaults();
    sl_degrade_state_t s;
    memset(&s, 0, sizeof(s));
    /* clang-format off */
    static const step_t steps[] = {
        /* saturation 95% >= 90%: +25% a second up to 100% */
        {0, 95, -1, 0, 250, SAT},
        {1000, 95, -1, 0, 500, SAT},
        {2000, 95, -1, 0, 750, SAT},
        {3000, 95, -1, 0, 1000, SAT},
        {4000, 95, -1, 0, 1000, N},
        /* 70% lies between the thresholds: hold */
        {5000, 70, -1, 0, 1000, N},
        {9000, 70, -1, 0, 1000, N},
        /* 50% is relief from t=10 s; the first step down comes after `hold` (10 s), then one per second */
        {10000, 50, -1, 0, 1000, N},
        {15000, 50, -1, 0, 1000, N},
        {19999, 50, -1, 0, 1000, N},
        {20000, 50, -1, 0, 900, REC},
        {20500, 50, -1, 0, 900, N}, /* interval: not before 21 s */
        {21000, 50, -1, 0, 800, REC},
        {22000, 50, -1, 0, 700, REC},
        {23000, 50, -1, 0, 600, REC},
        {24000, 50, -1, 0, 500, REC},
        {25000, 50, -1, 0, 400, REC},
        {26000, 50, -1, 0, 300, REC},
        {27000, 50, -1, 0, 200, REC},
        {28000, 50, -1, 0, 100, REC},
        {29000, 50, -1, 0, 0, REC},
        {30000, 50, -1, 0, 0, N},
    };
    /* clang-format on */
    RUN(c, s, steps);
}

Test(degrade, steps_up_no_faster_than_the_interval)
{
    sl_conf_degrade_t c = defaults();
    c.interval_ms = 2000;
    sl_degrade_state_t s;
    memset(&s, 0, sizeof(s));
    /* clang-format off */
    static const step_t steps[] = {
        {5000, 90, -1, 0, 250, SAT}, /* exactly at saturation_high */
        {5500, 99, -1, 0, 250, N},  {6999, 99, -1, 0, 250, N},  {7000, 99, -1, 0, 500, SAT},
        {8000, 99, -1, 0, 500, N},  {9000, 99, -1, 0, 750, SAT},
    };
    /* clang-format on */
    RUN(c, s, steps);
}

Test(degrade, no_flapping_around_the_high_threshold)
{
    /* saturation alternating 91% / 89% around 90%: up on every touch, never down (89% is not relief) */
    sl_conf_degrade_t c = defaults();
    sl_degrade_state_t s;
    memset(&s, 0, sizeof(s));
    /* clang-format off */
    static const step_t steps[] = {
        {0, 91, -1, 0, 250, SAT},     {1000, 89, -1, 0, 250, N},    {2000, 91, -1, 0, 500, SAT},
        {3000, 89, -1, 0, 500, N},    {4000, 91, -1, 0, 750, SAT},  {5000, 89, -1, 0, 750, N},
        {6000, 91, -1, 0, 1000, SAT}, {7000, 89, -1, 0, 1000, N},   {8000, 91, -1, 0, 1000, N},
        {30000, 89, -1, 0, 1000, N},  {60000, 91, -1, 0, 1000, N},  {90000, 89, -1, 0, 1000, N},
    };
    /* clang-format on */
    RUN(c, s, steps);
}

Test(degrade, no_flapping_around_the_low_threshold)
{
    /* saturation alternating 60% (relief, the bound is inclusive) / 61% (not): no run of relief reaches `hold` */
    sl_conf_degrade_t c = defaults();
    sl_degrade_state_t s = {.fraction_permille = 1000};
    step_t steps[60];
    for (size_t i = 0; i != 60; ++i)
        steps[i] = (step_t){(uint64_t)i * 1000, i % 2 == 0 ? 60u : 61u, -1, 0, 1000, N};
    run(&c, &s, steps, 60);
    /* relief that breaks at 9.999 s starts over */
    /* clang-format off */
    static const step_t again[] = {
        {100000, 60, -1, 0, 1000, N}, {109999, 60, -1, 0, 1000, N}, {110000, 61, -1, 0, 1000, N},
        {110001, 60, -1, 0, 1000, N}, {120000, 60, -1, 0, 1000, N}, {120001, 60, -1, 0, 900, REC},
    };
    /* clang-format on */
    RUN(c, s, again);
}

Test(degrade, latency_pressure_and_relief)
{
    sl_conf_degrade_t c = defaults();
    sl_degrade_state_t s;
    memset(&s, 0, sizeof(s));
    /* clang-format off */
    static const step_t steps[] = {
        {0, 10, 2000, 0, 250, LAT},   /* p99 = 100% of the 2 s threshold: pressure */
        {1000, 10, 1999, 0, 250, N},  /* 99.95%: between 70% and 100% */
        {2000, 10, 2500, 0, 500, LAT},
        {3000, 95, 2500, 0, 750, SAT}, /* both high: saturation is named */
        {4000, 10, 1400, 0, 750, N},   /* p99 70%: relief starts */
        {14000, 10, 1400, 0, 650, REC},
        {15000, 10, 1401, 0, 650, N},  /* 70.05%: relief broken */
        {16000, 10, -1, 0, 650, N},    /* no latency data: relief on saturation alone, a new run */
        {25999, 10, -1, 0, 650, N},
        {26000, 10, -1, 0, 550, REC},
    };
    /* clang-format on */
    RUN(c, s, steps);
}

Test(degrade, fast_burn_makes_it_eager)
{
    sl_conf_degrade_t c = defaults();
    sl_degrade_state_t s;
    memset(&s, 0, sizeof(s));
    /* clang-format off */
    static const step_t steps[] = {
        {0, 75, -1, 0, 0, N},        /* 75% < 90%: nothing */
        {1000, 75, -1, 1, 250, BURN}, /* fast burn: 90% x 80% = 72% <= 75% */
        {2000, 71, -1, 1, 250, N},    /* 71% < 72% */
        {3000, 72, -1, 1, 500, BURN},
        {4000, 95, -1, 1, 750, SAT}, /* above the nominal threshold: saturation */
        {5000, 10, 1700, 1, 1000, BURN}, /* p99 85% >= 100% x 80% */
        {6000, 10, 100, 1, 1000, N},  /* everything low, but no step down during a fast burn */
        {30000, 10, 100, 1, 1000, N},
        {31000, 10, 100, 0, 1000, N}, /* the burn ends: relief starts now */
        {40999, 10, 100, 0, 1000, N},
        {41000, 10, 100, 0, 900, REC},
    };
    /* clang-format on */
    RUN(c, s, steps);
}

Test(degrade, missing_signals_neither_push_nor_block)
{
    sl_conf_degrade_t c = defaults();
    sl_degrade_state_t s = {.fraction_permille = 300};
    sl_degrade_decision_t d;
    /* no capacity, no p99: relief; steps down after hold */
    sl_degrade_input_t in = {.now_ms = 0, .in_flight = 500, .capacity = 0};
    sl_degrade_step(&c, &s, &in, &s, &d);
    cr_assert_eq(d.pressure, 0);
    cr_assert_eq(d.relief, 1);
    cr_assert_eq(d.has_saturation, 0);
    cr_assert_eq(d.has_latency, 0);
    in.now_ms = 10000;
    sl_degrade_step(&c, &s, &in, &s, &d);
    cr_assert_eq(s.fraction_permille, 200);
    cr_assert_eq(d.cause, SL_DEGRADE_RECOVERED);
    /* a p99 without a latency SLO threshold is no signal */
    in = (sl_degrade_input_t){.now_ms = 11000, .capacity = 0, .has_p99 = 1, .p99_us = 60000000, .threshold_us = 0};
    sl_degrade_step(&c, &s, &in, &s, &d);
    cr_assert_eq(s.fraction_permille, 100);
    cr_assert_eq(d.cause, SL_DEGRADE_RECOVERED);
    /* latency alone pushes when capacity is unknown */
    in.threshold_us = 2000000;
    in.now_ms = 12000;
    sl_degrade_step(&c, &s, &in, &s, &d);
    cr_assert_eq(s.fraction_permille, 350);
    cr_assert_eq(d.cause, SL_DEGRADE_LATENCY);
    cr_assert_eq(d.latency_permille, 30000);
}

Test(degrade, clamps_and_evidence)
{
    sl_conf_degrade_t c = defaults();
    c.step_up_permille = 400;
    c.step_down_permille = 300;
    c.hold_ms = 0;
    sl_degrade_state_t s = {.fraction_permille = 700};
    sl_degrade_decision_t d;
    sl_degrade_input_t in = {
        .now_ms = 0, .in_flight = 37, .capacity = 40, .has_p99 = 1, .p99_us = 1234567, .threshold_us = 2000000, .fast_burn = 1};
    sl_degrade_step(&c, &s, &in, &s, &d);
    cr_assert_eq(s.fraction_permille, 1000); /* 700 + 400, clamped */
    cr_assert_eq(d.cause, SL_DEGRADE_SATURATION);
    cr_assert_eq(d.saturation_permille, 925);
    cr_assert_eq(d.latency_permille, 617);
    cr_assert_eq(d.saturation_high_permille, 720);
    cr_assert_eq(d.latency_high_permille, 800);
    cr_assert_eq(d.pressure, 1);
    cr_assert_eq(d.relief, 0);

    s = (sl_degrade_state_t){.fraction_permille = 200};
    in = (sl_degrade_input_t){.now_ms = 5000, .in_flight = 1, .capacity = 40};
    sl_degrade_step(&c, &s, &in, &s, &d); /* hold 0: the first relief step already steps down */
    cr_assert_eq(s.fraction_permille, 0); /* 200 - 300, clamped */
    cr_assert_eq(d.cause, SL_DEGRADE_RECOVERED);
    cr_assert_eq(d.saturation_high_permille, 900);

    s = (sl_degrade_state_t){.fraction_permille = 5000}; /* out of range state: read as 100% */
    in.in_flight = 30;                                   /* 75%: between the thresholds */
    sl_degrade_step(&c, &s, &in, &s, &d);
    cr_assert_eq(s.fraction_permille, 1000);
    cr_assert_eq(d.from_permille, 1000);
    cr_assert_eq(d.cause, SL_DEGRADE_NONE);
}

Test(degrade, is_a_pure_function)
{
    sl_conf_degrade_t c = defaults();
    sl_degrade_state_t s = {.fraction_permille = 500, .next_change_ms = 3000, .relief = 1, .relief_since_ms = 100};
    sl_degrade_input_t in = {
        .now_ms = 12000, .in_flight = 3, .capacity = 10, .has_p99 = 1, .p99_us = 100, .threshold_us = 1000};
    sl_degrade_state_t a, b;
    sl_degrade_decision_t da, db;
    sl_degrade_step(&c, &s, &in, &a, &da);
    sl_degrade_step(&c, &s, &in, &b, &db);
    cr_assert_eq(a.fraction_permille, b.fraction_permille);
    cr_assert_eq(a.next_change_ms, b.next_change_ms);
    cr_assert_eq(a.relief, b.relief);
    cr_assert_eq(a.relief_since_ms, b.relief_since_ms);
    cr_assert_eq(da.cause, db.cause);
    cr_assert_eq(da.saturation_permille, db.saturation_permille);
    cr_assert_eq(da.latency_permille, db.latency_permille);
    cr_assert_eq(da.relief, 1);
    cr_assert_eq(db.relief, 1);
    cr_assert_eq(a.relief_since_ms, 100);   /* the run of relief goes on */
    cr_assert_eq(s.fraction_permille, 500); /* the input state is untouched */
    cr_assert_eq(a.fraction_permille, 400);
    cr_assert_eq(a.next_change_ms, 13000);
    cr_assert_str_eq(sl_degrade_cause_names[SL_DEGRADE_FAST_BURN], "fast_burn");
    cr_assert_str_eq(sl_degrade_cause_names[SL_DEGRADE_RECOVERED], "recovered");
}
