/*
 * gen.c - generations (a config snapshot and what the gateway derives from it) and the stable metric names.
 *
 * A generation is built on the control thread, published once, then read by workers without locks; its dispose
 * runs on whichever thread drops the last reference (a worker ending the last request that pinned it, or the
 * control thread reclaiming it), so it only frees memory and drops references: no h2o object lives in it.
 */
#include "gateway/gw.h"
#include "backends/adapter.h"
#include "backends/pool.h"
#include "common/alloc.h"
#include "common/json_scan.h"
#include "common/status.h"
#include "conf/conf.h"
#include "conf/snapshot.h"
#include "gateway/access_log.h"
#include "gateway/monitor_glue.h"
#include "gateway/rollout_glue.h"
#include "gateway/slo_glue.h"
#include "router/match.h"

#include <stdio.h>
#include <string.h>

static uint32_t find_or_add(char ***names, uint32_t *num, uint32_t *cap, const char *name)
{
    for (uint32_t i = 0; i != *num; ++i)
        if (strcmp((*names)[i], name) == 0)
            return i;
    if (*num == *cap) {
        *cap = *cap == 0 ? 16 : *cap * 2;
        *names = sl_realloc(*names, *cap * sizeof(**names));
    }
    (*names)[*num] = sl_strdup(name);
    return (*num)++;
}

uint32_t sl_gw_names_route(sl_gw_names_t *n, const char *name)
{
    return find_or_add(&n->routes, &n->num_routes, &n->cap_routes, name);
}

uint32_t sl_gw_names_backend(sl_gw_names_t *n, const char *name)
{
    return find_or_add(&n->backends, &n->num_backends, &n->cap_backends, name);
}

uint32_t sl_gw_names_series(sl_gw_names_t *n, uint32_t route, uint32_t backend)
{
    for (uint32_t i = 0; i != n->num_series; ++i)
        if (n->series[i].route == route && n->series[i].backend == backend)
            return i;
    if (n->num_series == n->cap_series) {
        n->cap_series = n->cap_series == 0 ? 16 : n->cap_series * 2;
        n->series = sl_realloc(n->series, n->cap_series * sizeof(*n->series));
    }
    n->series[n->num_series].route = route;
    n->series[n->num_series].backend = backend;
    return n->num_series++;
}

void sl_gw_names_dispose(sl_gw_names_t *n)
{
    for (uint32_t i = 0; i != n->num_routes; ++i)
        sl_free(n->routes[i]);
    for (uint32_t i = 0; i != n->num_backends; ++i)
        sl_free(n->backends[i]);
    sl_free(n->routes);
    sl_free(n->backends);
    sl_free(n->series);
    memset(n, 0, sizeof(*n));
}

void sl_gw_gen_keep_replaced(sl_gw_t *gw, sl_gw_gen_t *gen)
{
    if (gw->num_replaced == gw->cap_replaced) {
        gw->cap_replaced = gw->cap_replaced == 0 ? 4 : gw->cap_replaced * 2;
        gw->replaced = sl_realloc(gw->replaced, gw->cap_replaced * sizeof(*gw->replaced));
    }
    sl_snapshot_retain(&gen->super);
    gw->replaced[gw->num_replaced++] = gen;
}

void sl_gw_gen_drop_retired(sl_gw_t *gw)
{
    size_t j = 0;
    for (size_t i = 0; i != gw->num_replaced; ++i) {
        sl_gw_gen_t *gen = gw->replaced[i];
        if (sl_snapshot_is_last_ref(&gen->super))
            sl_snapshot_release(&gen->super); /* retired: the slot and every worker let go of it */
        else
            gw->replaced[j++] = gen;
    }
    gw->num_replaced = j;
}

static void mark_gen(const sl_gw_gen_t *gen, sl_gw_live_t *live)
{
    for (size_t b = 0; b != gen->conf->num_backends; ++b) {
        const sl_gw_backend_rt_t *bk = gen->backends + b;
        live->backends[bk->id] = 1;
        for (size_t e = 0; e != bk->num_endpoints; ++e)
            live->endpoints[bk->endpoints[e]->id] = 1;
    }
    for (size_t r = 0; r != gen->conf->num_routes; ++r) {
        const sl_gw_route_rt_t *rt = gen->routes + r;
        live->routes[rt->id] = 1;
        for (size_t t = 0; t != rt->conf->num_tiers; ++t)
            live->series[rt->series[t]] = 1;
    }
}

void sl_gw_live_init(sl_gw_t *gw, sl_gw_live_t *live)
{
    live->routes = sl_calloc(gw->names.num_routes + 1, 1);
    live->backends = sl_calloc(gw->names.num_backends + 1, 1);
    live->series = sl_calloc(gw->names.num_series + 1, 1);
    live->endpoints = sl_calloc(gw->registry.num_endpoints + 1, 1);
    if (sl_gw_current(gw) != NULL)
        mark_gen(sl_gw_current(gw), live);
    for (size_t i = 0; i != gw->num_replaced; ++i)
        mark_gen(gw->replaced[i], live);
}

static int has_route(const sl_gw_gen_t *gen, const char *name)
{
    for (size_t r = 0; r != gen->conf->num_routes; ++r)
        if (strcmp(gen->conf->routes[r].name, name) == 0)
            return 1;
    return 0;
}

int sl_gw_live_route_name(sl_gw_t *gw, const char *name)
{
    const sl_gw_gen_t *cur = sl_gw_current(gw);
    if (cur == NULL || has_route(cur, name))
        return 1; /* nothing published yet (a bare fixture): every name counts */
    for (size_t i = 0; i != gw->num_replaced; ++i)
        if (has_route(gw->replaced[i], name))
            return 1;
    return 0;
}

void sl_gw_live_dispose(sl_gw_live_t *live)
{
    sl_free(live->routes);
    sl_free(live->backends);
    sl_free(live->series);
    sl_free(live->endpoints);
}

static void gen_dispose(sl_snapshot_t *snap)
{
    sl_gw_gen_t *gen = (sl_gw_gen_t *)snap;
    sl_gw_slo_release(gen); /* its SLO part outlives it: the control thread collects and frees it */
    /* so does its monitor */
    sl_gw_monitor_release(gen);
    sl_gw_log_target_release(gen->log);
    sl_conf_release(gen->conf);
    sl_arena_dispose(&gen->arena);
    sl_free(gen);
}

/* The adapter that reads the body for every route, when it reads in one pass: a body read before routing (to match
 * on its "model") then gives the matched route its facts too. NULL when the routes speak several protocols. */
static const sl_adapter_t *body_adapter(const sl_conf_t *conf)
{
    const sl_adapter_t *a = NULL;
    for (size_t i = 0; i != conf->num_routes; ++i) {
        const sl_adapter_t *r = sl_adapter_get(conf->routes[i].protocol);
        if (r == NULL || r->read == NULL || (a != NULL && r != a))
            return NULL;
        a = r;
    }
    return a;
}

int sl_gw_gen_build(sl_gw_t *gw, sl_conf_t *conf, sl_gw_gen_t **out, char *err, size_t errlen)
{
    sl_gw_gen_t *gen = sl_calloc(1, sizeof(*gen));
    sl_snapshot_init(&gen->super, gen_dispose);
    sl_arena_init(&gen->arena);
    gen->conf = conf;

    /* the access log is opened again by every generation: renaming the file then reloading rotates it */
    if (sl_gw_log_target_open(conf->server.access_log, &gen->log, err, errlen) != SL_OK)
        goto Error;

    gen->backends = sl_arena_alloc(&gen->arena, (conf->num_backends + 1) * sizeof(*gen->backends));
    for (size_t i = 0; i != conf->num_backends; ++i) {
        const sl_conf_backend_t *cb = conf->backends + i;
        sl_gw_backend_rt_t *b = gen->backends + i;
        b->conf = cb;
        b->id = sl_gw_names_backend(&gw->names, cb->name);
        b->num_endpoints = cb->num_endpoints;
        b->endpoints = sl_arena_alloc(&gen->arena, (cb->num_endpoints + 1) * sizeof(*b->endpoints));
        for (size_t e = 0; e != cb->num_endpoints; ++e) {
            if (sl_pool_registry_get(&gw->registry, cb->name, cb->endpoints + e, b->endpoints + e) != SL_OK) {
                snprintf(err, errlen, "backends.%s: more than %u endpoints registered in this process", cb->name,
                         SL_POOL_MAX_ENDPOINTS);
                goto Error;
            }
        }
        if (cb->model != NULL) {
            size_t n = strlen(cb->model);
            char *esc = sl_arena_alloc(&gen->arena, 6 * n + 3);
            esc[0] = '"';
            b->model_json_len = 1 + sl_json_escape(cb->model, n, esc + 1);
            esc[b->model_json_len++] = '"';
            esc[b->model_json_len] = '\0';
            b->model_json = esc;
        }
    }
    gen->routes = sl_arena_alloc(&gen->arena, (conf->num_routes + 1) * sizeof(*gen->routes));
    for (size_t i = 0; i != conf->num_routes; ++i) {
        const sl_conf_route_t *cr = conf->routes + i;
        sl_gw_route_rt_t *r = gen->routes + i;
        r->conf = cr;
        r->id = sl_gw_names_route(&gw->names, cr->name);
        r->series = sl_arena_alloc(&gen->arena, (cr->num_tiers + 1) * sizeof(*r->series));
        for (size_t t = 0; t != cr->num_tiers; ++t)
            r->series[t] = sl_gw_names_series(&gw->names, r->id, gen->backends[cr->tiers[t].backend->index].id);
    }
    gen->needs_model = sl_router_needs_model(conf);
    gen->body_adapter = body_adapter(conf);
    gen->max_body_bytes = conf->server.max_body_bytes;
    if (gw->boot_conf != NULL && gen->max_body_bytes > gw->boot_conf->server.max_body_bytes)
        gen->max_body_bytes = gw->boot_conf->server.max_body_bytes; /* a body cut at the start value is never whole */
    gen->num_series = gw->names.num_series;
    gen->num_route_ids = gw->names.num_routes;
    gen->num_backend_ids = gw->names.num_backends;
    gen->num_endpoint_ids = (uint32_t)gw->registry.num_endpoints;
    if (sl_gw_slo_attach(gw, gen, err, errlen) != SL_OK) /* an empty tracker: nothing moved yet (slo_glue.h) */
        goto Error;
    /* the last step that can fail: a bad reference file refuses the config; the handover moves state (monitor_glue.h) */
    if (sl_gw_monitor_attach(gw, gen, err, errlen) != SL_OK)
        goto Error;
    /* the SLO history and counters of the published generation move to this one: nothing can refuse it now */
    sl_gw_slo_handover(gw, gen);
    sl_gw_rollout_attach(gw, gen); /* never fails; its slots borrow this config from here on (rollout_glue.h) */
    *out = gen;
    return SL_OK;
Error:
    sl_snapshot_release(&gen->super); /* releases conf with it */
    return SL_EIO;
}
