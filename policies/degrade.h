/*
 * degrade.h - the accuracy-scaling controller: a pure function from (state, measurements, config) to a new degrade
 * fraction and the cause of any change. docs/SLO.md ("Accuracy scaling") states the control law.
 */
#ifndef SL_POLICIES_DEGRADE_H
#define SL_POLICIES_DEGRADE_H

#include "policies/degrade-t.h"

#include "conf/conf-t.h"

/* "none", "saturation", "latency", "fast_burn", "recovered". */
extern const char *const sl_degrade_cause_names[SL_DEGRADE_NUM_CAUSES];

/*
 * One controller step for a tier with degrade settings c (c->enabled), from state *s and measurements *in, into
 * *out (which may alias s) and *d (the decision and its evidence). No clock, no I/O, no allocation: the same inputs
 * give the same outputs, so any sequence can be replayed in a test. Any thread; the gateway calls it on the control
 * thread each tick for every tier with a degrade block and publishes out->fraction_permille in its verdicts.
 */
void sl_degrade_step(const sl_conf_degrade_t *c, const sl_degrade_state_t *s, const sl_degrade_input_t *in,
                     sl_degrade_state_t *out, sl_degrade_decision_t *d);

#endif
