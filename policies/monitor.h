/*
 * monitor.h - model monitoring: drift of the prediction and of input features against a reference, data quality
 * (null and type-error ratios), and model quality from delayed ground truth. docs/MONITORING.md is the reference of
 * every measure, state and metric.
 *
 * The split between threads is the one of every policy:
 *  - workers call sl_monitor_observe() once per finished request of a monitored route: the values are pulled out
 *    of the request and answer with the JSON scanner (no allocation), binned or looked up in a bounded category
 *    table, and counted in the worker's own shard; the prediction is queued for feedback on the worker's own ring.
 *    No lock, no atomic read-modify-write, no allocation.
 *  - the control thread calls sl_monitor_tick(): it sums the shards into a sliding window, drains the rings into
 *    the feedback tables, closes a baseline capture, and recomputes the measures; it answers feedback bodies
 *    (sl_monitor_feedback) and renders metrics and state. Everything it owns is touched by it alone.
 */
#ifndef SL_POLICIES_MONITOR_H
#define SL_POLICIES_MONITOR_H

#include "policies/monitor-t.h"

#include "common/str.h"

/* ---- extraction (monitor_extract.c): pure, any thread ---- */

/* Builds the extraction plan of a route's monitor config (borrowed: it must outlive the plan). Returns SL_OK, or
 * SL_EINVAL when conf declares more values than SL_MONITOR_MAX_VALUES (plan untouched). Free with
 * sl_monitor_plan_dispose. */
int sl_monitor_plan_init(sl_monitor_plan_t *plan, const sl_conf_monitor_t *conf);
void sl_monitor_plan_dispose(sl_monitor_plan_t *plan);

/*
 * Extracts every value of the plan from one request into *out (values in plan order: the prediction first when
 * configured, then the features). Request pointers are resolved in one pass over the body's top-level members
 * (the first member of a name wins, as everywhere in sluice). Per value:
 *   numeric      a JSON number (one that does not fit a double is a type error); derived sources as given
 *   categorical  a string (unescaped), or a number or boolean by its JSON text; longer than
 *                SL_MONITOR_CATEGORY_MAX bytes: overflow (counted as __other__)
 *   missing or JSON null: SL_MONITOR_NULL; anything else (an object, an array, text for a number): TYPE_ERROR.
 * A malformed body (in->request_malformed) makes its pointer values null. No allocation; O(body) once plus a
 * pointer walk per value.
 */
void sl_monitor_extract(const sl_monitor_plan_t *plan, const sl_monitor_input_t *in, sl_monitor_obs_t *out);

/* FNV-1a, 64 bits, of s[0..n). */
uint64_t sl_monitor_hash(const char *s, size_t n);

/* Category tables: init allocates room for cap (1 .. SL_CONF_MAX_CATEGORIES) entries (returns SL_OK or
 * SL_EINVAL); find returns the entry index of text (hash given) or UINT32_MAX; add appends text and returns its
 * index, or UINT32_MAX when the table is full. add publishes the entry to a concurrent reader of `count` (release). */
int sl_monitor_cattab_init(sl_monitor_cattab_t *t, uint32_t cap);
void sl_monitor_cattab_dispose(sl_monitor_cattab_t *t);
uint32_t sl_monitor_cattab_find(const sl_monitor_cattab_t *t, uint64_t hash, const char *text, size_t len);
uint32_t sl_monitor_cattab_add(sl_monitor_cattab_t *t, uint64_t hash, const char *text, size_t len);

/* Counts an extracted observation in worker w's shard of route monitor r (see monitor.c for the cell layout):
 * numeric values in their bin (once the bin edges exist; during a baseline capture they go on the capture ring),
 * categories in the worker's category table (__other__ when it is full), nulls and type errors in their cells; the
 * answer values once more in the cells of `backend` (the config index of the backend that answered; ignored when it
 * cannot answer the route). Worker w's thread only; no lock, no allocation. */
void sl_monitor_record(sl_monitor_route_t *r, uint32_t w, uint32_t backend, const sl_monitor_obs_t *obs);

/* ---- the sliding window (monitor_window.c): control thread ---- */

/* A window of `slots` (2 .. 1440) slots of slot_ms (>= 1) over width (>= 1) counters; empty. Returns SL_OK or
 * SL_EINVAL. Memory: slots x width x 8 bytes. */
int sl_monitor_window_init(sl_monitor_window_t *w, size_t width, uint32_t slots, uint64_t slot_ms);
void sl_monitor_window_dispose(sl_monitor_window_t *w);
/* Moves the head to the slot of now_ms, emptying the slots that fall out (at most all of them). A time before the
 * head's slot counts as the head's slot. O(min(slots moved, slots) x width). */
void sl_monitor_window_advance(sl_monitor_window_t *w, uint64_t now_ms);
/* Advances to now_ms, then adds delta[0..width) to the head slot. */
void sl_monitor_window_add(sl_monitor_window_t *w, uint64_t now_ms, const uint64_t *delta);
/* out[0..width) = the sum of the window's slots (the newest `slots` slots up to the head). O(slots x width). */
void sl_monitor_window_sum(const sl_monitor_window_t *w, uint64_t *out);
/* Empties every slot (a new reference starts a new comparison). */
void sl_monitor_window_clear(sl_monitor_window_t *w);

/* ---- measures (monitor_measure.c): pure, any thread ---- */

/*
 * The measures of one value from its reference counts ref[0..k) and window counts cur[0..k) (bins of a numeric
 * value; categories and __other__ of a categorical one), with the window's nulls and type errors:
 *   PSI and JS (stats/drift.h), KS from the binned counts (numeric: sl_monitor_ks_binned) or the chi-square goodness
 *   of fit of cur to ref smoothed with SL_DRIFT_PSI_EPSILON (categorical), when both sides hold >= min_samples
 *   values; null and type-error ratios over values + nulls + type errors, when that is > 0.
 * State: NO_DATA while values + nulls + type errors < min_samples; otherwise the level each criterion reaches
 * (docs/MONITORING.md), raised at once, lowered only once every criterion holding prev's level has gone back past
 * its threshold by the hysteresis margin. Returns SL_OK, or SL_EINVAL (k = 0 or above SL_CONF_MAX_CATEGORIES + 1;
 * *out untouched).
 */
int sl_monitor_measure(enum en_sl_monitor_type_t type, const uint64_t *ref, const uint64_t *cur, size_t k, uint64_t nulls,
                       uint64_t type_errors, uint32_t min_samples, const sl_conf_monitor_thresholds_t *t,
                       enum en_sl_monitor_state_t prev, sl_monitor_measures_t *out);

/*
 * Two-sample Kolmogorov-Smirnov statistic from binned counts: D = max over the k - 1 inner edges of
 * |R_i / N_r - C_i / N_c| (R_i, C_i cumulative counts up to bin i), computed exactly in integers and rounded once;
 * p = P(D_m >= D) of the one-sample law with m = round(N_r N_c / (N_r + N_c)) (half to even), as
 * scipy.stats.ks_2samp(method='asymp'). D is a lower bound of the statistic of the unbinned samples (it is only
 * looked at on the edges). Either side empty: SL_OK with *d = 0, *p = 1 and *has = 0. Returns SL_OK or SL_EINVAL.
 */
int sl_monitor_ks_binned(const uint64_t *ref, const uint64_t *cur, size_t k, double *d, double *p, int *has);

/* "no_data", "ok", "warn", "alert". */
const char *sl_monitor_state_name(enum en_sl_monitor_state_t state);

/* ---- the policy (monitor.c): lifecycle, workers, tick ---- */

/*
 * Builds the monitors of every route of conf with a monitor block, for num_workers (1 .. 1024) workers, starting
 * at monotonic now_ms: reads and checks each reference file against its route's values (policies/reference.h),
 * or prepares the baseline capture; allocates shards, windows and feedback tables. Returns SL_OK with *out owned
 * by the caller (sl_monitor_destroy), SL_EINVAL (bad worker count) or SL_ECONFIG with a message in err
 * ("routes[2].monitor.reference: ref.json: ...", NUL-terminated, truncated to errsz) and *out untouched.
 * conf is borrowed for the monitor's life. Control thread.
 */
int sl_monitor_create(const sl_conf_t *conf, uint32_t num_workers, uint64_t now_ms, sl_monitor_t **out, char *err,
                      size_t errsz);

/* Frees everything. Call only when no worker can observe into m any more. NULL is ignored. */
void sl_monitor_destroy(sl_monitor_t *m);

/*
 * Worker w's report of one finished request of route index `route` (a route without monitor is ignored):
 * extracts and records its values, and when the route has feedback, queues the prediction with the request id on
 * the worker's ring (a full ring drops it and counts it). Worker w's thread only; no lock, no allocation.
 */
void sl_monitor_observe(sl_monitor_t *m, uint32_t w, size_t route, const sl_monitor_input_t *in);

/*
 * The control step, at monotonic now_ms: moves the rings' predictions into the feedback tables, sums the shards
 * into each window, marks predictions past their horizon as expired, closes a baseline capture whose end has come
 * (docs/MONITORING.md) and, at most every SL_MONITOR_EVAL_INTERVAL_MS (and on the first tick), recomputes every
 * measure and state. Control thread; allocates only when a capture closes.
 */
void sl_monitor_tick(sl_monitor_t *m, uint64_t now_ms);

/*
 * Config reload: carries into dst (the new config's monitors, not yet published to the workers) what src learned,
 * route by route by name (policies/monitor_adopt.c): a captured baseline, the drift window and states when the
 * monitored values and the reference are unchanged, the waiting predictions and the quality measures when the
 * feedback task and labels are unchanged (backends followed by name); counters continue; the per-backend drift
 * windows start empty. Ticks src one last time first; src may still be observed during the call (its later requests
 * are not carried). Call on the control thread before dst is published, then retire src as usual. Returns SL_OK.
 */
int sl_monitor_adopt(sl_monitor_t *dst, sl_monitor_t *src, uint64_t now_ms);

/* Recomputes the measures now, whatever the interval (tests, and /admin/state on demand). Control thread. */
void sl_monitor_evaluate(sl_monitor_t *m, uint64_t now_ms);

/* The monitor of route index `route`, or NULL (no monitor, or out of range). Control thread. */
const sl_monitor_route_t *sl_monitor_route(const sl_monitor_t *m, size_t route);

/* The quality of (route, backend, version) over its window at now_ms. Returns SL_OK, or SL_ENOENT (no feedback on
 * that route, or an index out of range; *out untouched). A group without joins reads as no data. Control thread. */
int sl_monitor_quality(const sl_monitor_t *m, size_t route, uint32_t backend, enum en_sl_feedback_version_t version,
                       uint64_t now_ms, sl_quality_report_t *out);

/*
 * POST /v1/feedback: parses body (sl_feedback_parse), joins each item to its prediction in the tables of the routes
 * with feedback (sl_feedback_join), feeds the quality measures and the concept-drift detectors, and appends the
 * JSON answer to out. Returns the HTTP status: 200 with {"id": ..., "result": ...} for one item or
 * {"results": [...], "counts": {...}} for a batch; 400 with {"error": {"message": ..., "type":
 * "invalid_request_error"}} when the body is refused (nothing is joined). A full out (its cap) yields 500 with out
 * restored to its length. Control thread.
 */
int sl_monitor_feedback(sl_monitor_t *m, const char *body, size_t len, uint64_t now_ms, sl_buf_t *out);

/* ---- rendering (monitor_render.c): control thread ---- */

/* Appends the monitoring metric families (docs/MONITORING.md, "Metrics") in the Prometheus text format. Measures
 * without data have no sample (never NaN). Returns SL_OK or SL_ENOMEM (out's cap; out's length restored). */
int sl_monitor_render_metrics(const sl_monitor_t *m, uint64_t now_ms, sl_buf_t *out);

/* Appends the state of every monitor as one JSON object (the "monitor" member of /admin/state): references,
 * measures and states per value, feedback tables, quality per backend and version. Returns SL_OK or SL_ENOMEM. */
int sl_monitor_render_json(const sl_monitor_t *m, uint64_t now_ms, sl_buf_t *out);

#endif
