/*
 * monitor-t.h - types of the model-monitoring policy (functions: monitor.h): what a worker hands over about one
 * finished request, the values extracted from it, the per-worker shards, the control thread's windows and the
 * measures a tick computes. docs/MONITORING.md explains the measures and the memory bounds.
 */
#ifndef SL_POLICIES_MONITOR_T_H
#define SL_POLICIES_MONITOR_T_H

#include <stddef.h>
#include <stdint.h>

#include "common/json_scan-t.h"
#include "conf/conf-t.h"
#include "policies/feedback-t.h"
#include "policies/monitor_ring.h"
#include "policies/quality-t.h"
#include "policies/reference-t.h"

#define SL_MONITOR_MAX_VALUES (SL_CONF_MAX_FEATURES + 1) /* the prediction and the features of one route */
#define SL_MONITOR_CATEGORY_MAX SL_CONF_MAX_LABEL_LEN    /* bytes of a category; longer values count as __other__ */
#define SL_MONITOR_OTHER "__other__"                     /* the bucket of categories beyond the table */
#define SL_MONITOR_CAPTURE_RING 4096u                    /* baseline samples in flight per worker (a power of 2) */
#define SL_MONITOR_FEEDBACK_RING 8192u                   /* predictions in flight per worker (a power of 2) */
#define SL_MONITOR_EVAL_INTERVAL_MS 5000u                /* the drift measures are recomputed at most this often */

/* Whether a derived number the gateway passes is known. */
enum en_sl_monitor_presence_t {
    SL_MONITOR_ABSENT = 0, /* not known for this request (counted as a null) */
    SL_MONITOR_PRESENT,    /* the number is set */
    SL_MONITOR_INVALID,    /* it exists but is not a usable number (an unparsable signal: a type error) */
};

/* What the gateway knows about one finished request of a monitored route. Everything is borrowed for the call. */
typedef struct st_sl_monitor_input_t {
    sl_json_span_t request; /* root of the request body (sl_json_parse); type SL_JSON_INVALID: no JSON body */
    int request_malformed;  /* a body was sent but is not JSON (its pointer features count as nulls) */
    uint64_t prompt_tokens; /* the route adapter's estimate; 0 without a body */
    enum en_sl_monitor_presence_t message_count_state;
    uint64_t message_count; /* chat requests: entries of "messages" */
    enum en_sl_monitor_presence_t output_tokens_state;
    uint64_t output_tokens;                     /* usage, or counted on a stream */
    sl_json_span_t response;                    /* root of the answer body; type SL_JSON_INVALID when not JSON (or streamed) */
    enum en_sl_monitor_presence_t signal_state; /* prediction.signal: the answering tier's signal */
    double signal;
    const sl_json_span_t *prediction; /* the prediction itself, already located (reference samples); NULL: use
                                         signal or the answer body as configured */
    /* for feedback: */
    const char *request_id; /* x-request-id; NULL or longer than SL_FEEDBACK_ID_MAX: not kept for feedback */
    size_t request_id_len;
    uint32_t backend; /* index in conf->backends of the backend that answered */
    enum en_sl_feedback_version_t version;
    uint64_t now_ms; /* monotonic clock at the end of the request */
} sl_monitor_input_t;

enum en_sl_monitor_status_t {
    SL_MONITOR_VALUE = 0,  /* a number, or a category */
    SL_MONITOR_NULL,       /* missing, or JSON null */
    SL_MONITOR_TYPE_ERROR, /* present but of the wrong type (a string where a number is expected, an object, ...) */
};

/* One extracted value. Categorical: text[0..len) (a JSON string unescaped, or the JSON text of a number or a
 * boolean) with its FNV-1a hash; `overflow` when the text is longer than SL_MONITOR_CATEGORY_MAX (counted as
 * __other__, text not kept). */
typedef struct st_sl_monitor_item_t {
    uint8_t status; /* en_sl_monitor_status_t */
    uint8_t overflow;
    uint8_t len;
    double number;
    uint64_t hash;
    char text[SL_MONITOR_CATEGORY_MAX + 1];
} sl_monitor_item_t;

/* The values of one request: the prediction first (when configured), then the features in config order. */
typedef struct st_sl_monitor_obs_t {
    size_t num_values;
    int malformed;
    sl_monitor_item_t values[SL_MONITOR_MAX_VALUES];
} sl_monitor_obs_t;

/* How one value is extracted and where it is counted; built from the config by sl_monitor_plan_init. */
typedef struct st_sl_monitor_spec_t {
    const sl_conf_monitor_value_t *conf; /* borrowed from the config snapshot */
    enum en_sl_monitor_source_t source;
    enum en_sl_monitor_type_t type;
    const char *first; /* POINTER: the first reference token, unescaped (owned) */
    size_t first_len;
    const char *rest; /* POINTER: the rest of the pointer ("" or "/..."), a suffix of conf->pointer */
    size_t rest_len;
    uint32_t bins;          /* numeric: bins; categorical: max_categories + 1 (the last is __other__) */
    size_t cell;            /* first cell of the value: bins cells, then null, then type_error */
    uint32_t numeric_index; /* numeric values: position among them (baseline capture records) */
    uint32_t categorical_index;
    size_t edge; /* numeric: first of its bins - 1 edges in the model */
} sl_monitor_spec_t;

typedef struct st_sl_monitor_plan_t {
    size_t num_values;
    size_t num_pointers; /* values read from the request body by pointer */
    size_t num_numeric, num_categorical;
    size_t num_cells; /* per route: every value's cells, then SL_MONITOR_CELL_* */
    size_t num_edges;
    sl_monitor_spec_t specs[SL_MONITOR_MAX_VALUES];
} sl_monitor_plan_t;

/* Route-wide cells after the values' cells. */
enum {
    SL_MONITOR_CELL_REQUESTS = 0, /* requests observed */
    SL_MONITOR_CELL_MALFORMED,    /* ... whose body was not JSON */
    SL_MONITOR_CELL_NOT_KEPT,     /* ... not kept for feedback: no request id, or one longer than SL_FEEDBACK_ID_MAX */
    SL_MONITOR_NUM_ROUTE_CELLS
};

/* One category in a table. */
typedef struct st_sl_monitor_category_t {
    uint64_t hash;
    uint32_t len;
    char text[SL_MONITOR_CATEGORY_MAX + 1];
} sl_monitor_category_t;

/* A bounded table of categories: entries in insertion order (index = the category's cell), and an open-addressing
 * index over them. A worker's table has one writer (the worker) and one reader (the control thread): entries below
 * `count` are immutable, and count is published with a release store after the entry is written. */
typedef struct st_sl_monitor_cattab_t {
    sl_monitor_category_t *entries; /* cap */
    uint32_t *slots;                /* mask + 1 slots: entry index + 1, 0 when empty */
    uint32_t mask;
    uint32_t cap;
    uint32_t count;
} sl_monitor_cattab_t;

/* One worker's counters for one route. Single writer (the worker): relaxed loads and stores, no read-modify-write;
 * the control thread reads them with relaxed loads. Cells are cumulative since the monitor started. */
typedef struct st_sl_monitor_shard_t {
    uint64_t *cells; /* plan.num_cells + SL_MONITOR_NUM_ROUTE_CELLS, 64-byte aligned */
    void *cells_alloc_private;
    sl_monitor_cattab_t *tabs; /* one per categorical value */
    sl_monitor_ring_t capture; /* baseline capture: one record of num_numeric doubles (NaN: no value) per request */
    uint64_t *bcells;          /* per backend of the route: the answer values' cells (bwidth each), indexed like the route's */
    void *bcells_alloc_private;
} sl_monitor_shard_t;

/* The bin edges every worker reads; published once (baseline) or at creation (file), immutable afterwards. */
typedef struct st_sl_monitor_model_t {
    double *edges; /* plan.num_edges; value i's at specs[i].edge */
} sl_monitor_model_t;

/* A sliding window: a ring of `slots` per-slot count vectors of `width` counters; slot s covers the monotonic
 * milliseconds [s * slot_ms, (s + 1) * slot_ms). The window is the newest `slots` slots, the current one included. */
typedef struct st_sl_monitor_window_t {
    uint64_t *counts_private; /* slots x width */
    size_t width;
    uint32_t slots;
    uint64_t slot_ms;
    int64_t head; /* newest slot number; -1 before the first add */
} sl_monitor_window_t;

enum en_sl_monitor_state_t {
    SL_MONITOR_STATE_NO_DATA = 0, /* fewer than min_samples values in the window: no verdict */
    SL_MONITOR_STATE_OK,
    SL_MONITOR_STATE_WARN,
    SL_MONITOR_STATE_ALERT,
};

/* Bits of sl_monitor_measures_t.reasons: the criteria at the state's level. */
enum {
    SL_MONITOR_REASON_PSI = 1u << 0,
    SL_MONITOR_REASON_JS = 1u << 1,
    SL_MONITOR_REASON_KS = 1u << 2,
    SL_MONITOR_REASON_CHI2 = 1u << 3,
    SL_MONITOR_REASON_NULL = 1u << 4,
    SL_MONITOR_REASON_TYPE_ERROR = 1u << 5,
};

/* The measures of one value over the window. Numbers a flag marks as absent are 0. */
typedef struct st_sl_monitor_measures_t {
    enum en_sl_monitor_state_t state;
    uint32_t reasons;
    uint64_t n_ref, n_cur; /* values (not null, not mistyped) in the reference and in the window */
    uint64_t nulls, type_errors;
    int has_drift; /* n_ref and n_cur >= min_samples: psi, js and ks or chi2 are set */
    double psi, js;
    int has_ks; /* numeric */
    double ks_statistic, ks_pvalue;
    int has_chi2; /* categorical, with at least 2 usable categories */
    double chi2_statistic, chi2_pvalue;
    uint32_t chi2_dof;
    int has_ratios; /* at least one value seen in the window */
    double null_ratio, type_error_ratio;
} sl_monitor_measures_t;

enum en_sl_monitor_ref_state_t {
    SL_MONITOR_REF_READY = 0, /* a reference is in use */
    SL_MONITOR_REF_CAPTURING, /* a baseline is being captured */
};

/* The monitor of one route. Fields are grouped by who writes them. */
typedef struct st_sl_monitor_route_t {
    /* immutable after create (workers read them) */
    const sl_conf_route_t *route; /* borrowed from the config */
    const sl_conf_monitor_t *conf;
    sl_monitor_plan_t plan;
    uint32_t num_workers;
    sl_monitor_shard_t *shards;
    const sl_monitor_model_t *model; /* atomic pointer: NULL while a baseline is captured */
    int capturing;                   /* the capture rings exist (baseline reference) */
    /* per-backend drift of the values an answer determines (the prediction, output_tokens features): each backend
     * that can answer the route counts them again in a vector of bwidth cells, laid out like the route's */
    uint32_t num_bvalues;                    /* answer values; 0: no per-backend drift */
    uint32_t bvalues[SL_MONITOR_MAX_VALUES]; /* their indices in plan.specs */
    size_t bcell[SL_MONITOR_MAX_VALUES];     /* answer value k: its first cell in a backend's vector */
    size_t bwidth;                           /* cells of one backend: the answer values' bins + 2 */
    uint32_t num_bbackends;                  /* backends that can answer: tiers, degrade variants, canaries */
    const sl_conf_backend_t **bbackends;     /* owned array; the backends are borrowed from the config */
    uint32_t *bslot;                         /* per config backend: its index in bbackends, or UINT32_MAX */
    size_t num_bslots;

    /* control thread */
    sl_monitor_model_t model_storage;
    sl_monitor_cattab_t *global_tabs; /* per categorical value */
    uint32_t **maps;                  /* [categorical value x worker]: worker's local index -> global cell */
    uint32_t *mapped;                 /* [categorical value x worker]: local entries mapped so far */
    uint64_t *totals;                 /* plan.num_cells + route cells: summed shards at the last harvest */
    uint64_t *scratch;                /* as many: sums and deltas of one tick */
    sl_monitor_window_t window;
    uint64_t *ref_counts;                           /* plan.num_cells: the reference's counts in the values' cell layout */
    uint64_t ref_samples;                           /* requests behind the reference */
    uint32_t ref_categories[SL_MONITOR_MAX_VALUES]; /* categorical value i: its first ref_categories[i] categories
                                                       are the reference's; the others are compared as __other__ */
    char ref_created[40];                           /* the reference's creation time as written in it (or of the capture) */
    enum en_sl_monitor_ref_state_t ref_state;
    uint64_t capture_start_ms;
    uint64_t capture_requests;         /* requests counted at the capture's start */
    double **capture_values;           /* per numeric value: captured values (NaN: none in that request) */
    size_t capture_count, capture_cap; /* records taken (at most baseline_samples), room */
    uint64_t capture_dropped;          /* records lost to full rings */
    sl_monitor_measures_t measures[SL_MONITOR_MAX_VALUES];
    uint64_t *btotals, *bscratch;     /* num_bbackends x bwidth: summed shards, and one tick's sums and deltas */
    sl_monitor_window_t bwindow;      /* num_bbackends x bwidth counters, same slots; starts empty on a reload */
    sl_monitor_measures_t *bmeasures; /* [backend x answer value] */
    uint64_t evaluated_ms;
    int evaluated;
    uint64_t requests, malformed, not_kept;       /* since start, from the shards */
    uint64_t carried[SL_MONITOR_NUM_ROUTE_CELLS]; /* the same counters of the monitors this one replaced (reloads) */
    sl_feedback_table_t feedback;                 /* when conf->feedback.enabled */
    sl_quality_t quality;
} sl_monitor_route_t;

/* Results of the feedback joins (the `result` label of sluice_feedback_total). */
enum en_sl_feedback_result_t {
    SL_FEEDBACK_JOINED = 0,    /* the label met its prediction: quality updated */
    SL_FEEDBACK_UNKNOWN,       /* no prediction with that id (never recorded, or already dropped) */
    SL_FEEDBACK_EXPIRED,       /* the prediction is older than the route's horizon */
    SL_FEEDBACK_DUPLICATE,     /* the prediction was already joined */
    SL_FEEDBACK_INVALID,       /* the label does not fit the route (not one of its labels, label vs value) */
    SL_FEEDBACK_NO_PREDICTION, /* the request was recorded but its answer had no usable prediction */
    SL_FEEDBACK_NUM_RESULTS
};

/* Every monitored route of one config snapshot. */
typedef struct st_sl_monitor_t {
    const sl_conf_t *conf; /* borrowed: must outlive the monitor */
    uint32_t num_workers;
    sl_monitor_route_t **routes;       /* indexed like conf->routes; NULL for a route without monitor */
    sl_monitor_ring_t *feedback_rings; /* one per worker; NULL when no route has feedback */
    uint64_t feedback_results[SL_FEEDBACK_NUM_RESULTS];
    uint64_t feedback_items;    /* items received in valid bodies */
    uint64_t feedback_rejected; /* bodies refused with 400 */
} sl_monitor_t;

#endif
