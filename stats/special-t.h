/*
 * special-t.h - the vocabulary shared by the statistical modules of stats/ (tests, drift measures, detectors).
 */
#ifndef SL_STATS_SPECIAL_T_H
#define SL_STATS_SPECIAL_T_H

/* What a statistical computation found, beside its numbers. A result is never NaN or infinite: when there is
 * nothing to measure, the status says so and every number of the result is 0. */
enum en_sl_stat_status_t {
    SL_STAT_OK = 0,  /* the numbers are meaningful */
    SL_STAT_NO_DATA, /* an input had no observations (or too few for the measure): hold, this is not a verdict */
};

#endif
