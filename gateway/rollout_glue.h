/*
 * rollout_glue.h - canary rollouts in the running gateway (rollout_glue.c: data path, reload, tick;
 * rollout_admin.c: the admin actions, /admin/state and /metrics). docs/ROLLOUTS.md §9 lists the calls and their
 * order; this is where they are made.
 *
 * Worker threads: sl_gw_rollout_pick (a tier starts), sl_gw_rollout_observe (a request departs). Lock-free, no
 * allocation outside the request's pool, nothing sleeps.
 * Control thread: sl_gw_rollout_attach (from sl_gw_gen_build), sl_gw_rollout_tick (every control tick), the admin
 * calls and renders. sl_gw_rollout_start / stop from the main thread while no other thread runs.
 */
#ifndef SL_GATEWAY_ROLLOUT_GLUE_H
#define SL_GATEWAY_ROLLOUT_GLUE_H

#include "common/str.h"
#include "gateway/gw-t.h"
#include "gateway/proxy-t.h"
#include "gateway/rollout_glue-t.h"

/* Creates gw->rollouts for the current generation (num_workers from the config, state_dir from the boot config)
 * and restores every rollout from its state file: a damaged one is kept aside and its rollout treated as rolled
 * back (policies/rollout_store.h). Returns SL_OK (failures to read are logged, never fatal). Main thread, before
 * the workers start. */
int sl_gw_rollout_start(sl_gw_t *gw);

/* Writes the state of every rollout that changed since its last write and frees everything. Every thread is gone. */
void sl_gw_rollout_stop(sl_gw_t *gw);

/* Gives gen its map from (route, tier) to rollout slot (gen's arena) and binds each tier with a rollout to its slot:
 * a new key creates a rollout (restored from state_dir), a known one is reconfigured (sl_rollout_reconfigure: a
 * changed canary starts a new rollout, otherwise the running one continues). Before sl_gw_rollout_start it only
 * builds the map. Never fails; must be the last step of the build (the slots borrow gen's config from here on). */
void sl_gw_rollout_attach(sl_gw_t *gw, sl_gw_gen_t *gen);

/* A tier starts (worker): on a tier with a rollout whose request stays on the accurate variant, picks stable or
 * canary (router/version.h, sticky when configured; Cookie fields joined) with the weight the control thread
 * published, and points *b at the canary backend when the canary is chosen. Appends the choice and the weight to
 * p's list of rollout tiers: a cascade that crosses several tiers with rollouts reports to each of them. */
void sl_gw_rollout_pick(sl_proxy_t *p, const sl_conf_tier_t *tier, const sl_gw_backend_rt_t **b);

/* 1 when the tier that answered p (p->tier) has a rollout and the request went to its canary there (any thread
 * that owns p). Model monitoring tags its predictions with this version. */
static inline int sl_gw_rollout_answered_by_canary(const sl_proxy_t *p)
{
    return p->num_ro != 0 && p->ro[p->num_ro - 1].tier == p->tier && p->ro[p->num_ro - 1].version == SL_CANARY_CANARY;
}

/* A request departs (worker): hands the outcome of every tier with a rollout it started (error, accept or
 * escalation and the accept signal from the tier's own attempt; latency, TTFT and time per token for the tier that
 * answered) to the control thread through the worker's ring of each rollout. Client aborts are not counted. */
void sl_gw_rollout_observe(sl_proxy_t *p, uint64_t now_us);

/* Control tick: drains the rings, feeds each configured rollout (sl_rollout_tick, with the route's error budget),
 * writes the state file of a rollout that changed and only then publishes its weight. */
void sl_gw_rollout_tick(sl_gw_t *gw, uint64_t now_ms);

/* An operator action on the rollout of route `route`, tier `tier` (its index, or its backend's name): op is
 * "pause", "resume", "rollback", "promote" or "restart". Returns SL_OK (written, then published), SL_ENOENT (no
 * such rollout in the current config; also an unknown op: *why says which), or SL_EINVAL (not allowed in the
 * current phase). *why is a static message. Control thread. */
int sl_gw_rollout_admin(sl_gw_t *gw, const char *route, const char *tier, const char *op, const char **why);

/* Appends ",\"rollouts\":[...]" (every configured rollout as policies/rollout_render.h renders it). Returns SL_OK
 * or SL_ENOMEM. Control thread. */
int sl_gw_rollout_render_state(sl_gw_t *gw, sl_buf_t *out);

/* Appends the rollout metric families (once) and every configured rollout's samples. Returns SL_OK or SL_ENOMEM. */
int sl_gw_rollout_render_metrics(sl_gw_t *gw, sl_buf_t *out);

#endif
