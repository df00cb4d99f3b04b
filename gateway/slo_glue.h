/*
 * slo_glue.h - SLO tracking, error-budget persistence and accuracy scaling in the running gateway (types:
 * slo_glue-t.h; docs/SLO.md, "The policy at run time").
 *
 * Files: slo_glue.c (a generation's part: attach, release, the handover on reload; the tick: SLO minutes, verdicts,
 * the state file; start and stop), degrade_glue.c (the variant of each request, its outcome on departure, the
 * controller of each degrade tier), state_admin.c (the metric families and /admin/state).
 *
 * Data path (worker thread): sl_gw_degrade_pick when a tier starts, sl_gw_slo_observe when a request departs. Both
 * touch only the worker's own shard and relaxed atomics: no lock, no allocation.
 * Control thread: sl_gw_slo_attach, sl_gw_slo_handover (from sl_gw_gen_build), sl_gw_slo_tick (every tick), renders.
 */
#ifndef SL_GATEWAY_SLO_GLUE_H
#define SL_GATEWAY_SLO_GLUE_H

#include "gateway/slo_glue-t.h"

#include "common/str.h"
#include "gateway/gw-t.h"
#include "gateway/proxy-t.h"

/*
 * Start-up, after the first generation is published and the listeners are open, before any thread runs (main
 * thread): creates gw->slo, attaches the published generation, opens state_dir (creating it when its parent exists)
 * and reads the "slo" state file: a damaged or foreign file is reported and set aside and the gateway starts with
 * empty budgets (policies/slo.h, sl_slo_tracker_load). Then the first SLO tick. Returns SL_OK, or SL_EIO with a
 * message in err naming the directory and the reason (state_dir missing and not creatable, not a directory, not
 * writable) or SL_EINVAL (an SLO target that parts per billion cannot hold): the gateway must not start.
 */
int sl_gw_slo_start(sl_gw_t *gw, char *err, size_t errlen);

/*
 * Gives a generation being built its SLO tracker, degrade tiers and shards (gen->slo), empty: nothing moves out of
 * the published generation yet, so a build refused after this step leaves the running SLO state as it was.
 * Does nothing before sl_gw_slo_start (the first generation is attached by it). Returns SL_OK, or SL_EINVAL with a
 * message in err (gen->slo stays NULL). Control thread (or the main thread before start); gen is not published yet.
 */
int sl_gw_slo_attach(sl_gw_t *gw, sl_gw_gen_t *gen, char *err, size_t errlen);

/*
 * After every step of the build that can fail: gen's degrade tiers take its settings (sl_gw_degrade_follow) and the
 * published generation's SLO history and counters move to gen's tracker (sl_slo_tracker_adopt), before anyone
 * observes into it; requests still pinned to the old generation are absorbed later, tick by tick, until it is
 * released. sl_gw_slo_start calls it for the first generation (nothing to adopt). Does nothing without
 * sl_gw_slo_start. Control thread; gen is attached and not published yet.
 */
void sl_gw_slo_handover(sl_gw_t *gw, sl_gw_gen_t *gen);

/* The generation is being disposed (any thread, possibly a worker): marks its part released for the control
 * thread, which collects its last counts and frees it. */
void sl_gw_slo_release(sl_gw_gen_t *gen);

/*
 * The control thread's step, every control tick (100 ms) with the monotonic now_ms: collects the latency of the
 * degrade tiers, steps each controller and publishes the fractions; once a second ticks the SLO tracker at the wall
 * clock's minute (docs/SLO.md: counts go to the minute of the tick that collects them), keeps the verdict for
 * /metrics, /admin/state and the controllers' fast-burn input, and writes the state file when state_interval has
 * passed; frees the parts of released generations after their last collection. gen is the published generation.
 */
void sl_gw_slo_tick(sl_gw_t *gw, sl_gw_gen_t *gen, uint64_t now_ms);

/* Shutdown, after every worker and the control thread stopped (main thread): collects everything, ticks a last
 * time and writes the state file. */
void sl_gw_slo_stop(sl_gw_t *gw);

/* Frees gw->slo and every generation's part (gen->slo pointers dangle afterwards) and sets gw->slo to NULL. Only
 * when no thread can observe or tick any more: the gateway itself exits without it (docs/ARCHITECTURE.md,
 * "Stopping"); tests call it. NULL gw->slo is ignored. */
void sl_gw_slo_dispose(sl_gw_t *gw);

/* ---- data path (degrade_glue.c) ---- */

/*
 * When the current tier of p starts: for a tier with a degrade block, chooses the variant by the published degrade
 * fraction and a random draw (router/variant.h) and, with spill_over, takes a slot on the first of the variants
 * that has room, in the router's order (the chosen one, the accurate one, the faster ones). Sets *b to the backend
 * to call and p's variant fields. Returns:
 *   -1              the caller picks *b itself (a tier without degrade, or spill_over off: queueing as usual)
 *   SL_POOL_PICKED  a slot is held on p->endpoint of *b
 *   SL_POOL_FULL    every variant is at max_concurrency: p->shed is set, the caller answers 429 (Retry-After)
 *   SL_POOL_NONE    no variant has an endpoint in rotation
 * Worker thread; no lock, no allocation.
 */
int sl_gw_degrade_pick(sl_proxy_t *p, const sl_conf_tier_t *tier, const sl_gw_backend_rt_t **b);

/* When p departs (its pool's dispose, now_us monotonic): the SLO outcome (final status, shed, latency and TTFT of
 * the request), sheds by reason, and the accurate variant's latency of a degrade tier. Worker thread. */
void sl_gw_slo_observe(sl_proxy_t *p, uint64_t now_us);

/* The controllers' step (degrade_glue.c, from sl_gw_slo_tick). */
void sl_gw_degrade_tick(sl_gw_t *gw, sl_gw_gen_t *gen, uint64_t now_ms);

/* Collects the latency of a released generation's part a last time and folds its counters into the totals that
 * outlive it (degrade_glue.c). Control thread. */
void sl_gw_degrade_retire(sl_gw_slo_t *s, sl_gw_slo_gen_t *r, uint64_t now_ms);

/* Finds (or creates, with the tier's settings) the controller state of tier `tier` of route (degrade_glue.c);
 * an existing one is left as it is, for the config it runs with. Returns its index in s->dtiers. Control thread. */
uint32_t sl_gw_degrade_bind(sl_gw_slo_t *s, const sl_conf_route_t *route, uint32_t tier, uint64_t now_ms);

/* Controller state `id` follows the settings of tier `tier` of route, a config about to be published: marks it
 * configured, takes the accurate backend and the latency window (a changed window starts an empty one). Control
 * thread (sl_gw_slo_handover). */
void sl_gw_degrade_follow(sl_gw_slo_t *s, const sl_conf_route_t *route, uint32_t tier, uint32_t id, uint64_t now_ms);

/* Worker w's degrade-tier shard k and shed counters of r. */
static inline sl_gw_dtier_shard_t *sl_gw_slo_dshard(const sl_gw_slo_gen_t *r, size_t w, size_t k)
{
    return (sl_gw_dtier_shard_t *)(r->shards + w * r->stride) + k;
}

static inline uint64_t *sl_gw_slo_shed(const sl_gw_slo_gen_t *r, size_t w, size_t route)
{
    return (uint64_t *)(r->shards + w * r->stride + r->num_dtiers * sizeof(sl_gw_dtier_shard_t)) + route * SL_GW_SHED_NUM;
}

/* ---- rendering (state_admin.c) ---- */

/* Appends the SLO and accuracy-scaling metric families (docs/SLO.md, "Metrics") to out. Returns SL_OK or
 * SL_ENOMEM (out's cap). Control thread. */
int sl_gw_slo_render_metrics(sl_gw_t *gw, sl_buf_t *out);

/* Appends the /admin/state document: the SLO verdict per route and objective, the state file, each degrade tier's
 * fraction, measurements and last change with its cause, and the sheds. Returns SL_OK or SL_ENOMEM. Control
 * thread. */
int sl_gw_slo_render_state(sl_gw_t *gw, sl_buf_t *out);

#endif
