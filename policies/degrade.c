/*
 * degrade.c - the accuracy-scaling controller: how much of a tier's traffic goes to its faster variants.
 *
 * The control law (docs/SLO.md, "Accuracy scaling", has a worked example). With S = in-flight / capacity of the
 * accurate backend and L = windowed p99 / latency SLO threshold, and the high thresholds lowered during a fast
 * budget burn (H' = H x burn_factor):
 *   pressure = S >= saturation_high' or L >= latency_high'
 *   relief   = no pressure, S <= saturation_low (or unknown), L <= latency_low (or unknown), and no fast burn
 *   - pressure: step up by step_up (at most to 100%), if `interval` has passed since the last change;
 *   - relief that has lasted `hold` without a break: step down by step_down (at least to 0%), if `interval` has
 *     passed since the last change; while relief lasts, one step per interval;
 *   - anything else (a signal between its thresholds, or a fast burn without pressure): hold, and a relief run
 *     that was under way starts over.
 * Hysteresis comes from the band between the low and the high threshold (validated open: low < high x burn_factor)
 * and from `hold`: a signal oscillating around one threshold moves the fraction one way only - up while it touches
 * the high threshold, never down while it keeps crossing above the low one - so the fraction cannot flap. Steps up
 * are large and quick (load spikes hurt at once), steps down small and late (recovering accuracy can wait).
 * A fast burn makes the controller more eager twice: lower high thresholds, and no step down while it lasts.
 *
 * Exactness: thresholds and the fraction are integers in permille and every comparison is done in 64-bit
 * integers (in_flight x 1000 >= high x capacity), so a scripted sequence has one exact expected output.
 * A missing signal (capacity 0, no p99, no latency SLO) neither pushes up nor blocks relief.
 *
 * Thread: any; pure.
 */
#include "policies/degrade.h"

#include <string.h>

const char *const sl_degrade_cause_names[SL_DEGRADE_NUM_CAUSES] = {"none", "saturation", "latency", "fast_burn", "recovered"};

void sl_degrade_step(const sl_conf_degrade_t *c, const sl_degrade_state_t *s, const sl_degrade_input_t *in,
                     sl_degrade_state_t *out, sl_degrade_decision_t *d)
{
    sl_degrade_state_t n = *s;
    sl_degrade_decision_t e;
    memset(&e, 0, sizeof(e));
    if (n.fraction_permille > 1000)
        n.fraction_permille = 1000;
    e.from_permille = n.fraction_permille;

    uint32_t burn = in->fast_burn ? c->burn_factor_permille : 1000u;
    e.saturation_high_permille = (uint32_t)((uint64_t)c->saturation_high_permille * burn / 1000u);
    e.latency_high_permille = (uint32_t)((uint64_t)c->latency_high_permille * burn / 1000u);

    int sat_over = 0, sat_over_nominal = 0, sat_low = 1;
    if (in->capacity != 0) {
        uint64_t x = (uint64_t)in->in_flight * 1000u;
        e.has_saturation = 1;
        e.saturation_permille = (uint32_t)(x / in->capacity);
        sat_over = x >= (uint64_t)e.saturation_high_permille * in->capacity;
        sat_over_nominal = x >= (uint64_t)c->saturation_high_permille * in->capacity;
        sat_low = x <= (uint64_t)c->saturation_low_permille * in->capacity;
    }
    int lat_over = 0, lat_over_nominal = 0, lat_low = 1;
    if (in->has_p99 && in->threshold_us != 0) {
        /* p99 and threshold are below 2^32 us in practice; 128 bits keep any input exact */
        unsigned __int128 x = (unsigned __int128)in->p99_us * 1000u;
        unsigned __int128 t = in->threshold_us;
        e.has_latency = 1;
        unsigned __int128 q = x / t;
        e.latency_permille = q > UINT64_MAX ? UINT64_MAX : (uint64_t)q;
        lat_over = x >= (unsigned __int128)e.latency_high_permille * t;
        lat_over_nominal = x >= (unsigned __int128)c->latency_high_permille * t;
        lat_low = x <= (unsigned __int128)c->latency_low_permille * t;
    }
    e.pressure = sat_over || lat_over;
    e.relief = !e.pressure && sat_low && lat_low && !in->fast_burn;

    int may_change = in->now_ms >= n.next_change_ms;
    if (e.pressure) {
        n.relief = 0;
        if (may_change && n.fraction_permille < 1000) {
            uint32_t f = n.fraction_permille + c->step_up_permille;
            n.fraction_permille = f > 1000 ? 1000 : f;
            n.next_change_ms = in->now_ms + c->interval_ms;
            e.cause = sat_over_nominal ? SL_DEGRADE_SATURATION : lat_over_nominal ? SL_DEGRADE_LATENCY : SL_DEGRADE_FAST_BURN;
        }
    } else if (e.relief) {
        if (!n.relief) {
            n.relief = 1;
            n.relief_since_ms = in->now_ms;
        }
        if (may_change && n.fraction_permille > 0 && in->now_ms - n.relief_since_ms >= c->hold_ms) {
            n.fraction_permille = n.fraction_permille > c->step_down_permille ? n.fraction_permille - c->step_down_permille : 0;
            n.next_change_ms = in->now_ms + c->interval_ms;
            e.cause = SL_DEGRADE_RECOVERED;
        }
    } else {
        n.relief = 0;
    }
    e.to_permille = n.fraction_permille;
    *out = n;
    *d = e;
}
