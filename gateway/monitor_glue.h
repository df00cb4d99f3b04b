/*
 * monitor_glue.h - model monitoring in the running gateway (types: monitor_glue-t.h; the policy: policies/monitor.h;
 * docs/MONITORING.md §11 lists the calls and their order, these files make them).
 *
 * Files: monitor_glue.c (a generation's monitor: attach with the handover on reload, release, the tick, /metrics,
 * /admin/state, the quality report), monitor_observe.c (the data path: what a finished request of a monitored route
 * hands to the policy), feedback_endpoint.c (POST /v1/feedback on the client listeners, answered by the control
 * thread).
 *
 * Data path (worker thread): sl_gw_monitor_answer when an accepted whole answer is about to go out,
 * sl_gw_monitor_observe when a request departs, sl_gw_feedback_on_req for POST /v1/feedback. No lock, no allocation
 * outside the request's pool (a feedback body is copied once into a shared object of the request's pool), nothing
 * sleeps.
 * Control thread: sl_gw_monitor_attach (from sl_gw_gen_build), sl_gw_monitor_tick (every control tick), the
 * feedback jobs, the renders. sl_gw_monitor_start from the main thread before any thread runs.
 */
#ifndef SL_GATEWAY_MONITOR_GLUE_H
#define SL_GATEWAY_MONITOR_GLUE_H

#include "gateway/monitor_glue-t.h"

#include "common/str.h"
#include "gateway/gw-t.h"
#include "gateway/proxy-t.h"
#include "policies/quality-t.h"

/*
 * Start-up, after the first generation is published and the listeners are open (main thread): creates gw->monitor
 * and the first generation's monitor. Returns SL_OK, or SL_ECONFIG with a message in err (a reference file that is
 * missing or does not fit its route: "routes[0].monitor.reference: ref.json: ..."): the gateway must not start.
 */
int sl_gw_monitor_start(sl_gw_t *gw, char *err, size_t errlen);

/*
 * Gives a generation being built its monitor (gen->mon; NULL when no route of its config has a monitor block) and,
 * when the published generation has one, carries what it learned into the new one (sl_monitor_adopt: baselines,
 * windows and states of unchanged values, waiting predictions and quality of unchanged feedback). Must be the last
 * step of the build that can fail: the handover moves state out of the published monitor. Does nothing before
 * sl_gw_monitor_start. Returns SL_OK, or SL_ECONFIG with a message in err (gen->mon stays NULL; the published
 * monitor is untouched). Control thread; gen is not published yet.
 */
int sl_gw_monitor_attach(sl_gw_t *gw, sl_gw_gen_t *gen, char *err, size_t errlen);

/* The generation is being disposed (any thread): marks its monitor released; the control thread destroys it. */
void sl_gw_monitor_release(sl_gw_gen_t *gen);

/* The control step (every control tick, monotonic now_ms): ticks the published generation's monitor and destroys
 * the monitors of released generations. */
void sl_gw_monitor_tick(sl_gw_t *gw, sl_gw_gen_t *gen, uint64_t now_ms);

/* Control thread start-up (from sl_gw_control_init, on the control thread): registers the receiver of the feedback
 * jobs on queue. */
void sl_gw_monitor_control_init(sl_gw_t *gw, h2o_multithread_queue_t *queue);

/* Frees gw->monitor and every generation's monitor (gen->mon pointers dangle afterwards). Only when no thread can
 * observe, tick or send a job any more (tests; the gateway itself exits without it). NULL gw->monitor is ignored. */
void sl_gw_monitor_dispose(sl_gw_t *gw);

/*
 * The quality measured from feedback for (route, backend, version) in the published generation, by names (they
 * outlive reloads): accuracy, macro precision/recall/F1 or MAE/RMSE over the route's feedback window, the
 * concept-drift state and the joins behind them. Returns SL_OK (out->has_data says whether any join is in the
 * window), or SL_ENOENT (no such route or backend, or the route has no feedback; *out untouched). Control thread.
 */
int sl_gw_monitor_quality(sl_gw_t *gw, const char *route, const char *backend, enum en_sl_feedback_version_t version,
                          uint64_t now_ms, sl_quality_report_t *out);

/* ---- data path (monitor_observe.c) ---- */

/* The signal the route's monitor needs upstream to produce (its prediction.signal), for a step whose accept rule
 * asks for nothing that yields it; NULL when the route monitors no signal. The step's body then asks for the token
 * logprobs the signal needs and the client's answer is stripped of them (cascade_body.c). Any thread. */
const sl_conf_signal_t *sl_gw_monitor_want_signal(const sl_conf_route_t *route);

/* An accepted whole answer (body, not yet stripped of what sluice asked for) is about to go out: observes the
 * request now, while the answer's bytes exist, with the prediction read from them. Worker thread. */
void sl_gw_monitor_answer(sl_proxy_t *p, const h2o_buffer_t *body);

/* A request departs (its pool's dispose, now_us monotonic): observes a request of a monitored route that
 * sl_gw_monitor_answer did not (errors, streams, aborted requests: no answer body). Worker thread. */
void sl_gw_monitor_observe(sl_proxy_t *p, uint64_t now_us);

/* ---- POST /v1/feedback (feedback_endpoint.c) ---- */

/* Whether req is for the feedback endpoint (the path /v1/feedback, any method, any query). */
int sl_gw_feedback_match(const h2o_req_t *req);

/* Serves the feedback endpoint on worker w: 405 for another method, 413 above server.max_body, else hands the body
 * to the control thread, which joins it (sl_monitor_feedback) and sends the answer back to w. Always takes the
 * request (returns 0). Worker thread. */
int sl_gw_feedback_on_req(sl_gw_worker_t *w, h2o_req_t *req);

/* ---- rendering (monitor_glue.c) ---- */

/* Appends the monitoring metric families of the published generation's monitor (policies/monitor.h) and the
 * feedback endpoint's answers by code. Returns SL_OK or SL_ENOMEM. Control thread. */
int sl_gw_monitor_render_metrics(sl_gw_t *gw, sl_buf_t *out);

/* Appends ",\"monitor\":{...}" (sl_monitor_render_json; {"routes":[]} without monitoring) to the /admin/state
 * object being written. Returns SL_OK or SL_ENOMEM. Control thread. */
int sl_gw_monitor_render_state(sl_gw_t *gw, sl_buf_t *out);

#endif
