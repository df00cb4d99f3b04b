/*
 * quality-t.h - types of the model-quality measures fed by feedback joins (functions: quality.h).
 */
#ifndef SL_POLICIES_QUALITY_T_H
#define SL_POLICIES_QUALITY_T_H

#include <stddef.h>
#include <stdint.h>

#include "conf/conf-t.h"
#include "stats/adwin-t.h"
#include "stats/ddm-t.h"

enum en_sl_concept_state_t {
    SL_CONCEPT_NO_DATA = 0, /* fewer joins than DDM's minimum since the group started */
    SL_CONCEPT_OK,
    SL_CONCEPT_WARNING, /* DDM warns: the error rate may be rising */
    SL_CONCEPT_DRIFT,   /* DDM or ADWIN signalled a change within the monitor's window */
};

/* One (backend, version) of a route: a ring of per-slot sums and the concept-drift detectors. Control thread. */
typedef struct st_sl_quality_group_t {
    double *slots_private; /* slots x width sums (exact integers up to 2^53 for counts) */
    int64_t head;          /* newest slot number; -1 before the first join */
    sl_ddm_t ddm;
    sl_adwin_t adwin;
    uint64_t joins; /* since start */
    uint64_t ddm_drifts, adwin_drifts;
    int signalled;      /* a detector has signalled at least once */
    uint64_t signal_ms; /* time of the last signal */
} sl_quality_group_t;

/*
 * The quality of one route per backend and version. Cells of a slot, classification: total, correct, then per
 * label tp, fp, fn (width 2 + 3 L); regression: n, sum |e|, sum e^2 (width 3).
 */
typedef struct st_sl_quality_t {
    enum en_sl_feedback_task_t task;
    uint32_t num_labels;
    uint32_t num_backends;
    size_t width;
    uint32_t slots;
    uint64_t slot_ms;
    uint64_t hold_ms; /* a detector's signal keeps the state at drift this long */
    int has_tolerance;
    double tolerance;
    sl_quality_group_t **groups_private; /* num_backends x SL_FEEDBACK_NUM_VERSIONS, created at the first join */
} sl_quality_t;

/* What the window says about one group. Measures marked absent are 0. */
typedef struct st_sl_quality_report_t {
    uint64_t n;                   /* joins in the window */
    uint64_t joins_total;         /* since start */
    int has_data;                 /* n > 0 */
    double accuracy;              /* classification */
    double precision, recall, f1; /* macro averages over the labels present in the window */
    uint32_t labels_present;
    double mae, rmse; /* regression */
    enum en_sl_concept_state_t concept;
    uint64_t ddm_drifts, adwin_drifts;
    double error_rate; /* ADWIN's window mean: the current error rate */
    uint64_t adwin_width;
} sl_quality_report_t;

#endif
