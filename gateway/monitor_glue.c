/*
 * monitor_glue.c - model monitoring in the running gateway: a generation's monitor, the handover on reload, the
 * tick, /metrics and /admin/state (see monitor_glue.h; docs/MONITORING.md).
 *
 * Each generation whose config monitors some route gets its own monitor (policies/monitor.h), sized for the
 * workers, reading and checking its reference files when it is built: a bad file fails the build, so the start
 * (non-zero exit) or the reload (the running config stays) is refused with the policy's message. The monitor
 * belongs to the control thread, not to the generation: workers observe into it while a request pins the
 * generation, and the generation's dispose (on any thread, possibly a worker in the middle of its loop) only marks
 * it released; the next tick destroys it. The monitor borrows its config, so it keeps a reference of its own.
 *
 * Reload. The new monitor takes over what the published one learned (sl_monitor_adopt) before it is published, as
 * the last step of the build that can fail (the handover moves waiting predictions and quality groups out of the old
 * monitor: a build that failed after it would lose them). Requests still pinned to the old generation keep
 * observing into the old monitor until they end; what they add after the handover is not carried (their share of a
 * window is at most the requests in flight during the reload).
 *
 * Ticks, feedback, renders and reports only ever use the published generation's monitor. Thread: the control
 * thread, except sl_gw_monitor_release (any) and sl_gw_monitor_start (main thread, before any other thread runs).
 */
#include "gateway/monitor_glue.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/status.h"
#include "conf/conf.h"
#include "gateway/gw.h"
#include "policies/monitor.h"

static const char *const fb_codes[SL_GW_FB_NUM_CODES] = {"200", "400", "404", "405", "413", "500"};

/* Takes back what a render appended after a failure (out's cap). */
static int restore(sl_buf_t *out, size_t saved)
{
    out->len = saved;
    if (out->data != NULL)
        out->data[saved] = '\0';
    return SL_ENOMEM;
}

static void part_destroy(sl_gw_mon_gen_t *r)
{
    sl_monitor_destroy(r->monitor);
    sl_conf_release(r->conf);
    sl_free(r);
}

int sl_gw_monitor_attach(sl_gw_t *gw, sl_gw_gen_t *gen, char *err, size_t errlen)
{
    sl_gw_monitor_t *s = gw->monitor;
    sl_conf_t *conf = gen->conf;
    int any = 0, any_feedback = 0;
    if (s == NULL)
        return SL_OK;
    for (size_t i = 0; i != conf->num_routes; ++i) {
        any |= conf->routes[i].monitor.enabled;
        any_feedback |= conf->routes[i].monitor.feedback.enabled;
    }
    if (!any)
        return SL_OK;
    uint64_t now_ms = sl_clock_now_us() / 1000;
    sl_monitor_t *m;
    if (sl_monitor_create(conf, (uint32_t)s->num_workers, now_ms, &m, err, errlen) != SL_OK)
        return SL_ECONFIG;
    sl_gw_mon_gen_t *r = sl_calloc(1, sizeof(*r));
    r->monitor = m;
    r->conf = conf;
    sl_conf_retain(conf);
    r->any_feedback = any_feedback;
    /* the handover: the published generation's monitor, before anyone observes into the new one */
    sl_gw_gen_t *cur = sl_gw_current(gw);
    if (cur != NULL && cur != gen && cur->mon != NULL)
        sl_monitor_adopt(m, cur->mon->monitor, now_ms);
    r->next = s->gens;
    s->gens = r;
    gen->mon = r;
    return SL_OK;
}

void sl_gw_monitor_release(sl_gw_gen_t *gen)
{
    if (gen->mon != NULL)
        atomic_store_explicit(&gen->mon->released, 1, memory_order_release);
}

void sl_gw_monitor_tick(sl_gw_t *gw, sl_gw_gen_t *gen, uint64_t now_ms)
{
    sl_gw_monitor_t *s = gw->monitor;
    if (s == NULL)
        return;
    if (gen->mon != NULL)
        sl_monitor_tick(gen->mon->monitor, now_ms);
    sl_gw_mon_gen_t **link = &s->gens;
    while (*link != NULL) {
        sl_gw_mon_gen_t *r = *link;
        if (r == gen->mon || !atomic_load_explicit(&r->released, memory_order_acquire)) {
            link = &r->next;
            continue;
        }
        *link = r->next;
        part_destroy(r);
    }
}

int sl_gw_monitor_start(sl_gw_t *gw, char *err, size_t errlen)
{
    sl_gw_monitor_t *s = sl_calloc(1, sizeof(*s));
    s->gw = gw;
    s->num_workers = gw->server.num_threads;
    s->workers_raw = sl_calloc(1, s->num_workers * sizeof(*s->workers) + 64);
    s->workers = (sl_gw_fb_worker_t *)(((uintptr_t)s->workers_raw + 63) & ~(uintptr_t)63);
    gw->monitor = s;
    return sl_gw_monitor_attach(gw, sl_gw_current(gw), err, errlen);
}

void sl_gw_monitor_dispose(sl_gw_t *gw)
{
    sl_gw_monitor_t *s = gw->monitor;
    if (s == NULL)
        return;
    while (s->gens != NULL) {
        sl_gw_mon_gen_t *r = s->gens;
        s->gens = r->next;
        part_destroy(r);
    }
    sl_free(s->workers_raw);
    sl_free(s);
    gw->monitor = NULL;
}

int sl_gw_monitor_quality(sl_gw_t *gw, const char *route, const char *backend, enum en_sl_feedback_version_t version,
                          uint64_t now_ms, sl_quality_report_t *out)
{
    const sl_gw_gen_t *gen = sl_gw_current(gw);
    if (gen == NULL || gen->mon == NULL || (unsigned)version >= SL_FEEDBACK_NUM_VERSIONS)
        return SL_ENOENT;
    const sl_conf_route_t *r = sl_conf_find_route(gen->conf, route);
    const sl_conf_backend_t *b = sl_conf_find_backend(gen->conf, backend);
    if (r == NULL || b == NULL)
        return SL_ENOENT;
    return sl_monitor_quality(gen->mon->monitor, r->index, (uint32_t)b->index, version, now_ms, out);
}

int sl_gw_monitor_render_metrics(sl_gw_t *gw, sl_buf_t *out)
{
    sl_gw_monitor_t *s = gw->monitor;
    const sl_gw_gen_t *gen = sl_gw_current(gw);
    if (s == NULL)
        return SL_OK;
    if (gen->mon != NULL && sl_monitor_render_metrics(gen->mon->monitor, sl_clock_now_us() / 1000, out) != SL_OK)
        return SL_ENOMEM;
    static const char head[] = "# HELP sluice_feedback_requests_total POST /v1/feedback requests by the status answered.\n"
                               "# TYPE sluice_feedback_requests_total counter\n";
    size_t saved = out->len;
    int rc = sl_buf_append(out, head, sizeof(head) - 1);
    for (int c = 0; rc == SL_OK && c != SL_GW_FB_NUM_CODES; ++c) {
        uint64_t n = 0;
        for (size_t w = 0; w != s->num_workers; ++w)
            n += __atomic_load_n(&s->workers[w].answers[c], __ATOMIC_RELAXED);
        rc = sl_buf_appendf(out, "sluice_feedback_requests_total{code=\"%s\"} %llu\n", fb_codes[c], (unsigned long long)n);
    }
    return rc == SL_OK ? SL_OK : restore(out, saved);
}

int sl_gw_monitor_render_state(sl_gw_t *gw, sl_buf_t *out)
{
    const sl_gw_gen_t *gen = sl_gw_current(gw);
    size_t saved = out->len;
    int rc = sl_buf_append(out, ",\"monitor\":", 11);
    if (rc == SL_OK && gen->mon != NULL)
        rc = sl_monitor_render_json(gen->mon->monitor, sl_clock_now_us() / 1000, out);
    else if (rc == SL_OK)
        rc = sl_buf_append(out, "{\"routes\":[]}", 13);
    return rc == SL_OK ? SL_OK : restore(out, saved);
}
