/*
 * state_admin.c - what the SLO policy and accuracy scaling show: their /metrics families and the /admin/state
 * document (see slo_glue.h; the names and fields are a contract, listed in docs/SLO.md, "Metrics and /admin/state").
 *
 * Counters add three sources, so they stay monotonic across reloads: the totals of generations already freed,
 * and the shards of every generation still alive (the published one and those requests still pin). Gauges come
 * from the published generation. Labels are bounded by the config: route names, tier indexes, and fixed lists
 * (variant, cause, reason). A measure without data has no sample (and is null in JSON), never NaN.
 *
 * Thread: the control thread (the admin listener's).
 */
#include "gateway/slo_glue.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/status.h"
#include "gateway/gw.h"
#include "policies/degrade.h"
#include "policies/slo.h"

static const char *const shed_reasons[SL_GW_SHED_NUM] = {"saturated", "overloaded"};
static const char *const variants[2] = {"accurate", "degraded"};

typedef struct st_out_t {
    sl_buf_t *b;
    int rc;
} out_t;

static void put(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out_t *o, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0 || o->rc != SL_OK)
        return;
    o->rc = sl_buf_append(o->b, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* A JSON string (quoted), or null for NULL. */
static void json_str(out_t *o, const char *s)
{
    if (o->rc != SL_OK)
        return;
    if (s == NULL) {
        o->rc = sl_buf_append(o->b, "null", 4);
        return;
    }
    o->rc = sl_buf_append(o->b, "\"", 1);
    if (o->rc == SL_OK)
        o->rc = sl_buf_append_json_escaped(o->b, s, strlen(s));
    if (o->rc == SL_OK)
        o->rc = sl_buf_append(o->b, "\"", 1);
}

static uint64_t shed_total(const sl_gw_slo_t *s, size_t id, int reason)
{
    uint64_t v = s->routes[id].gone_shed[reason];
    for (const sl_gw_slo_gen_t *r = s->gens; r != NULL; r = r->next)
        for (size_t i = 0; i != r->num_routes; ++i)
            if (r->route_id[i] == id)
                for (size_t w = 0; w != r->num_workers; ++w)
                    v += __atomic_load_n(&sl_gw_slo_shed(r, w, i)[reason], __ATOMIC_RELAXED);
    return v;
}

/* routed[0], routed[1], spillovers of degrade tier state `id`, over freed and live generations. */
static void dtier_totals(const sl_gw_slo_t *s, size_t id, uint64_t out[3])
{
    const sl_gw_dtier_t *d = &s->dtiers[id];
    out[0] = d->gone_routed[0];
    out[1] = d->gone_routed[1];
    out[2] = d->gone_spillovers;
    for (const sl_gw_slo_gen_t *r = s->gens; r != NULL; r = r->next)
        for (size_t k = 0; k != r->num_dtiers; ++k)
            if (r->dstate[k] == id)
                for (size_t w = 0; w != r->num_workers; ++w) {
                    const sl_gw_dtier_shard_t *ds = sl_gw_slo_dshard(r, w, k);
                    out[0] += __atomic_load_n(&ds->routed[0], __ATOMIC_RELAXED);
                    out[1] += __atomic_load_n(&ds->routed[1], __ATOMIC_RELAXED);
                    out[2] += __atomic_load_n(&ds->spillovers, __ATOMIC_RELAXED);
                }
}

/* 1 while the part of a generation not yet freed (the published one, or one requests still hold) has degrade tier
 * state `id`: its counters are shown until the last config that had the tier is retired, like the data plane's
 * series (gen.c), then they leave /metrics and /admin/state; the state itself stays for a tier that comes back. */
static int dtier_live(const sl_gw_slo_t *s, size_t id)
{
    for (const sl_gw_slo_gen_t *r = s->gens; r != NULL; r = r->next)
        for (size_t k = 0; k != r->num_dtiers; ++k)
            if (r->dstate[k] == id)
                return 1;
    return 0;
}

/* A share in permille as a decimal ("0.25", "1"): exact, at most three digits. */
static const char *permille(uint32_t v, char *buf, size_t sz)
{
    snprintf(buf, sz, "%.3g", (double)v / 1000.0);
    return buf;
}

static void family(out_t *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int sl_gw_slo_render_metrics(sl_gw_t *gw, sl_buf_t *out)
{
    const sl_gw_slo_t *s = gw->slo;
    if (s == NULL)
        return SL_OK;
    out_t o = {out, SL_OK};
    size_t start = out->len;
    char r[256], b[32];
    if (s->verdict != NULL)
        o.rc = sl_slo_render_metrics(s->verdict, out);

    family(&o, "sluice_shed_total", "counter",
           "Requests sluice refused itself, by route and reason (saturated: 429, every variant at max_concurrency; "
           "overloaded: 503, queue full or timed out).");
    for (size_t i = 0; i != s->num_routes; ++i) {
        if (!sl_gw_live_route_name(gw, s->routes[i].name))
            continue; /* removed by a reload whose replaced config is retired (gen.c) */
        for (int reason = 0; reason != SL_GW_SHED_NUM; ++reason)
            put(&o, "sluice_shed_total{route=\"%s\",reason=\"%s\"} %" PRIu64 "\n", sl_prom_label(s->routes[i].name, r, sizeof(r)),
                shed_reasons[reason], shed_total(s, i, reason));
    }

    if (s->num_dtiers != 0) {
        family(&o, "sluice_degrade_fraction", "gauge",
               "Share of a tier's requests the controller sends to its faster variants.");
        for (size_t i = 0; i != s->num_dtiers; ++i)
            if (s->dtiers[i].configured)
                put(&o, "sluice_degrade_fraction{route=\"%s\",tier=\"%" PRIu32 "\"} %s\n",
                    sl_prom_label(s->dtiers[i].route, r, sizeof(r)), s->dtiers[i].tier,
                    permille(s->dtiers[i].state.fraction_permille, b, sizeof(b)));
        family(&o, "sluice_degrade_changes_total", "counter",
               "Changes of a tier's degrade fraction, by cause (saturation, latency, fast_burn: up; recovered: down).");
        for (size_t i = 0; i != s->num_dtiers; ++i) {
            if (!dtier_live(s, i))
                continue;
            for (int c = SL_DEGRADE_SATURATION; c != SL_DEGRADE_NUM_CAUSES; ++c)
                put(&o, "sluice_degrade_changes_total{route=\"%s\",tier=\"%" PRIu32 "\",cause=\"%s\"} %" PRIu64 "\n",
                    sl_prom_label(s->dtiers[i].route, r, sizeof(r)), s->dtiers[i].tier, sl_degrade_cause_names[c],
                    s->dtiers[i].changes[c]);
        }
        family(&o, "sluice_variant_requests_total", "counter",
               "Requests of a degrade tier routed to its accurate variant or to a faster (degraded) one.");
        for (size_t i = 0; i != s->num_dtiers; ++i) {
            uint64_t t[3];
            if (!dtier_live(s, i))
                continue;
            dtier_totals(s, i, t);
            for (int v = 0; v != 2; ++v)
                put(&o, "sluice_variant_requests_total{route=\"%s\",tier=\"%" PRIu32 "\",variant=\"%s\"} %" PRIu64 "\n",
                    sl_prom_label(s->dtiers[i].route, r, sizeof(r)), s->dtiers[i].tier, variants[v], t[v]);
        }
        family(&o, "sluice_degrade_spillovers_total", "counter",
               "Requests of a degrade tier that went past their first variant because it was at max_concurrency.");
        for (size_t i = 0; i != s->num_dtiers; ++i) {
            uint64_t t[3];
            if (!dtier_live(s, i))
                continue;
            dtier_totals(s, i, t);
            put(&o, "sluice_degrade_spillovers_total{route=\"%s\",tier=\"%" PRIu32 "\"} %" PRIu64 "\n",
                sl_prom_label(s->dtiers[i].route, r, sizeof(r)), s->dtiers[i].tier, t[2]);
        }
        family(&o, "sluice_degrade_latency_p99_seconds", "gauge",
               "p99 latency of a degrade tier's accurate variant over its latency_window (the controller's input).");
        for (size_t i = 0; i != s->num_dtiers; ++i) {
            const sl_gw_dtier_t *d = &s->dtiers[i];
            if (d->configured && d->input.has_p99)
                put(&o, "sluice_degrade_latency_p99_seconds{route=\"%s\",tier=\"%" PRIu32 "\"} %" PRIu64 ".%06" PRIu64 "\n",
                    sl_prom_label(d->route, r, sizeof(r)), d->tier, d->input.p99_us / 1000000, d->input.p99_us % 1000000);
        }
    }
    if (s->persist_on) {
        family(&o, "sluice_state_writes_total", "counter", "Writes of a state file in state_dir, by file and result.");
        put(&o, "sluice_state_writes_total{file=\"slo.state\",result=\"ok\"} %" PRIu64 "\n", s->persist.writes);
        put(&o, "sluice_state_writes_total{file=\"slo.state\",result=\"error\"} %" PRIu64 "\n", s->persist.failures);
    }
    if (o.rc != SL_OK)
        out->len = start;
    return o.rc;
}

/* The configured tier of gen for degrade state d, or NULL. */
static const sl_conf_tier_t *conf_tier(const sl_gw_gen_t *gen, const sl_gw_dtier_t *d)
{
    for (size_t i = 0; i != gen->conf->num_routes; ++i) {
        const sl_conf_route_t *cr = &gen->conf->routes[i];
        if (strcmp(cr->name, d->route) == 0 && d->tier < cr->num_tiers && cr->tiers[d->tier].degrade.enabled)
            return &cr->tiers[d->tier];
    }
    return NULL;
}

/* A decision's evidence: saturation and latency as shares (null when unknown), the thresholds in force. */
static void evidence(out_t *o, const sl_degrade_decision_t *e)
{
    char a[32], b[32];
    put(o, "\"from\":%s,\"to\":%s,\"cause\":\"%s\",\"saturation\":", permille(e->from_permille, a, sizeof(a)),
        permille(e->to_permille, b, sizeof(b)), sl_degrade_cause_names[e->cause]);
    if (e->has_saturation)
        put(o, "%.17g", (double)e->saturation_permille / 1000.0);
    else
        put(o, "null");
    put(o, ",\"latency\":");
    if (e->has_latency)
        put(o, "%.17g", (double)e->latency_permille / 1000.0);
    else
        put(o, "null");
    put(o, ",\"saturation_high\":%s,\"latency_high\":%s,\"pressure\":%s,\"relief\":%s",
        permille(e->saturation_high_permille, a, sizeof(a)), permille(e->latency_high_permille, b, sizeof(b)),
        e->pressure ? "true" : "false", e->relief ? "true" : "false");
}

static void render_dtier(out_t *o, const sl_gw_slo_t *s, const sl_gw_gen_t *gen, size_t i, int first)
{
    const sl_gw_dtier_t *d = &s->dtiers[i];
    const sl_degrade_input_t *in = &d->input;
    const sl_conf_tier_t *ct = d->configured ? conf_tier(gen, d) : NULL;
    char a[32];
    uint64_t t[3];
    dtier_totals(s, i, t);
    put(o, "%s{\"route\":", first ? "" : ",");
    json_str(o, d->route);
    put(o, ",\"tier\":%" PRIu32 ",\"backend\":", d->tier);
    json_str(o, d->backend);
    put(o, ",\"configured\":%s,\"variants\":[", ct != NULL ? "true" : "false");
    for (size_t k = 0; ct != NULL && k != ct->degrade.num_to; ++k) {
        put(o, k != 0 ? "," : "");
        json_str(o, ct->degrade.to[k]->name);
    }
    uint32_t now = d->inflight[(d->next_sample + SL_GW_DEGRADE_SAMPLES - 1) % SL_GW_DEGRADE_SAMPLES];
    put(o, "],\"spill_over\":%s,\"fraction\":%s,\"in_flight\":%" PRIu32 ",\"capacity\":%" PRIu32 ",\"saturation\":",
        ct != NULL && ct->degrade.spill_over ? "true" : "false", permille(d->state.fraction_permille, a, sizeof(a)),
        d->num_samples != 0 ? now : 0, d->capacity);
    if (in->capacity != 0)
        put(o, "%.17g", (double)in->in_flight / (double)in->capacity);
    else
        put(o, "null");
    put(o, ",\"p99_us\":");
    if (in->has_p99)
        put(o, "%" PRIu64, in->p99_us);
    else
        put(o, "null");
    put(o, ",\"threshold_us\":");
    if (in->threshold_us != 0)
        put(o, "%" PRIu64, in->threshold_us);
    else
        put(o, "null");
    put(o,
        ",\"fast_burn\":%s,\"requests\":{\"accurate\":%" PRIu64 ",\"degraded\":%" PRIu64 "},\"spillovers\":%" PRIu64
        ",\"changes\":{",
        in->fast_burn ? "true" : "false", t[0], t[1], t[2]);
    for (int c = SL_DEGRADE_SATURATION; c != SL_DEGRADE_NUM_CAUSES; ++c)
        put(o, "%s\"%s\":%" PRIu64, c != SL_DEGRADE_SATURATION ? "," : "", sl_degrade_cause_names[c], d->changes[c]);
    put(o, "},\"last_step\":{");
    evidence(o, &d->last);
    put(o, "},\"last_change\":");
    if (d->has_change) {
        put(o, "{\"wall_ms\":%" PRIu64 ",", d->change_wall_ms);
        evidence(o, &d->change);
        put(o, "}");
    } else {
        put(o, "null");
    }
    put(o, "}");
}

int sl_gw_slo_render_state(sl_gw_t *gw, sl_buf_t *out)
{
    const sl_gw_slo_t *s = gw->slo;
    const sl_gw_gen_t *gen = sl_gw_current(gw);
    out_t o = {out, SL_OK};
    size_t start = out->len;
    put(&o, "{\"generation\":%" PRIu64 ",\"wall_ms\":%" PRIu64 ",\"state_file\":", gw->generation, sl_clock_wall_ms());
    if (s != NULL && s->persist_on) {
        put(&o, "{\"path\":");
        json_str(&o, s->persist.path);
        put(&o, ",\"interval_ms\":%" PRIu32 ",\"writes\":%" PRIu64 ",\"failures\":%" PRIu64 ",\"writable\":%s}",
            s->persist.interval_ms, s->persist.writes, s->persist.failures, s->persist.blocked_private ? "false" : "true");
    } else {
        put(&o, "null");
    }
    put(&o, ",\"slo\":");
    if (s != NULL && s->verdict != NULL && o.rc == SL_OK)
        o.rc = sl_slo_render_json(s->verdict, out);
    else
        put(&o, "null");
    put(&o, ",\"degrade\":[");
    int first = 1;
    for (size_t i = 0; s != NULL && i != s->num_dtiers; ++i)
        if (dtier_live(s, i)) {
            render_dtier(&o, s, gen, i, first);
            first = 0;
        }
    put(&o, "],\"shed\":[");
    first = 1;
    for (size_t i = 0; s != NULL && i != s->num_routes; ++i) {
        if (!sl_gw_live_route_name(gw, s->routes[i].name))
            continue; /* as in /metrics */
        put(&o, "%s{\"route\":", first ? "" : ",");
        first = 0;
        json_str(&o, s->routes[i].name);
        for (int reason = 0; reason != SL_GW_SHED_NUM; ++reason)
            put(&o, ",\"%s\":%" PRIu64, shed_reasons[reason], shed_total(s, i, reason));
        put(&o, "}");
    }
    put(&o, "]}");
    if (o.rc != SL_OK)
        out->len = start;
    return o.rc;
}
