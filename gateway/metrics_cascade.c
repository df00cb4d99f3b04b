/*
 * metrics_cascade.c - the cascade's families of /metrics (see metrics.h), summed over the workers' shards on the
 * control thread: answers by final tier, escalations by from/to/reason, the accept signal's histogram per tier, the
 * cost per route and backend, and what the answered requests would have cost on the route's last tier alone (so
 * that the savings are one PromQL ratio, docs/CASCADE.md).
 *
 * Costs are integer counts of 10^-9 currency units in the shards and are written as exact decimals. Series are
 * written in id order (escalations in key order), so a given state renders byte for byte the same.
 */
#include "gateway/cascade.h"
#include "gateway/metrics.h"
#include "common/alloc.h"
#include "common/status.h"
#include "router/plan.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define LD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

static int family(sl_buf_t *out, const char *name, const char *type, const char *help)
{
    return sl_buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int answers(const sl_gw_metrics_input_t *in, sl_buf_t *out)
{
    const sl_gw_names_t *n = in->names;
    char r[256], b[256];
    int err = family(out, "sluice_cascade_answers_total", "counter",
                     "Requests answered by a cascade tier (accepted), by route, tier index and backend.");
    for (uint32_t i = 0; i != n->num_series && err == SL_OK; ++i) {
        if (!sl_gw_live_series(in, i))
            continue;
        for (size_t t = 0; t != SL_CONF_MAX_TIERS && err == SL_OK; ++t) {
            uint64_t v = 0;
            for (size_t s = 0; s != in->num_shards; ++s)
                if (i < in->shards[s]->num_series)
                    v += LD(in->shards[s]->series[i].answers[t]);
            if (v != 0)
                err =
                    sl_buf_appendf(out, "sluice_cascade_answers_total{route=\"%s\",tier=\"%zu\",backend=\"%s\"} %" PRIu64 "\n",
                                   sl_prom_label(n->routes[n->series[i].route], r, sizeof(r)), t,
                                   sl_prom_label(n->backends[n->series[i].backend], b, sizeof(b)), v);
        }
    }
    return err;
}

typedef struct st_esc_sum_t {
    uint32_t key;
    uint64_t count;
} esc_sum_t;

static int by_key(const void *a, const void *b)
{
    uint32_t x = ((const esc_sum_t *)a)->key, y = ((const esc_sum_t *)b)->key;
    return x < y ? -1 : x > y;
}

static const char *reason_of(uint32_t code)
{
    sl_judge_t j = {SL_VERDICT_ESCALATE, code >= 32 ? SL_REASON_FAILURE : (enum en_sl_reason_t)code,
                    code >= 32 ? (enum en_sl_failure_t)(code - 32) : SL_FAILURE_NONE};
    return sl_router_reason_name(&j);
}

static int escalations(const sl_gw_metrics_input_t *in, sl_buf_t *out)
{
    const sl_gw_names_t *n = in->names;
    char r[256];
    int err = family(out, "sluice_cascade_escalations_total", "counter",
                     "Attempts a cascade left for a later tier, by route, tier indexes and reason.");
    esc_sum_t *sums = sl_malloc((in->num_shards * SL_GW_ESCALATION_SLOTS + 1) * sizeof(*sums));
    for (uint32_t id = 0; id != n->num_routes && err == SL_OK; ++id) {
        if (!sl_gw_live_route(in, id))
            continue;
        size_t num = 0;
        uint64_t other = 0;
        for (size_t s = 0; s != in->num_shards; ++s) {
            if (id >= in->shards[s]->num_routes)
                continue;
            const sl_gw_route_stats_t *rs = &in->shards[s]->routes[id];
            uint32_t used = __atomic_load_n(&rs->num_escalations, __ATOMIC_ACQUIRE);
            other += LD(rs->escalations_other);
            for (uint32_t k = 0; k != used; ++k) {
                size_t j = 0;
                while (j != num && sums[j].key != rs->escalations[k].key)
                    ++j;
                if (j == num)
                    sums[num++] = (esc_sum_t){rs->escalations[k].key, 0};
                sums[j].count += LD(rs->escalations[k].count);
            }
        }
        qsort(sums, num, sizeof(*sums), by_key);
        sl_prom_label(n->routes[id], r, sizeof(r));
        for (size_t j = 0; j != num && err == SL_OK; ++j) {
            uint32_t key = sums[j].key;
            err = sl_buf_appendf(
                out, "sluice_cascade_escalations_total{route=\"%s\",from=\"%u\",to=\"%u\",reason=\"%s\"} %" PRIu64 "\n", r,
                key & 0xff, (key >> 8) & 0xff, reason_of(key >> 16), sums[j].count);
        }
        if (other != 0 && err == SL_OK)
            err = sl_buf_appendf(
                out,
                "sluice_cascade_escalations_total{route=\"%s\",from=\"other\",to=\"other\",reason=\"other\"} %" PRIu64 "\n", r,
                other);
    }
    sl_free(sums);
    return err;
}

static int signals(const sl_gw_metrics_input_t *in, sl_buf_t *out)
{
    const sl_gw_names_t *n = in->names;
    char r[256];
    int err = family(out, "sluice_cascade_signal", "histogram",
                     "Accept signal of judged answers, by route and tier index (log-probabilities and probabilities).");
    for (uint32_t id = 0; id != n->num_routes && err == SL_OK; ++id) {
        if (!sl_gw_live_route(in, id))
            continue;
        sl_prom_label(n->routes[id], r, sizeof(r));
        for (size_t t = 0; t != SL_CONF_MAX_TIERS && err == SL_OK; ++t) {
            uint64_t buckets[SL_GW_SIGNAL_BUCKETS + 1] = {0}, count = 0;
            double sum = 0;
            for (size_t s = 0; s != in->num_shards; ++s) {
                if (id >= in->shards[s]->num_routes)
                    continue;
                const sl_gw_signal_hist_t *h = &in->shards[s]->routes[id].signal[t];
                for (size_t b = 0; b != SL_GW_SIGNAL_BUCKETS + 1; ++b)
                    buckets[b] += LD(h->buckets[b]);
                count += LD(h->count);
                uint64_t bits = LD(h->sum_bits);
                double d;
                memcpy(&d, &bits, sizeof(d));
                sum += d;
            }
            if (count == 0)
                continue;
            uint64_t cum = 0;
            for (size_t b = 0; b != SL_GW_SIGNAL_BUCKETS && err == SL_OK; ++b) {
                cum += buckets[b];
                err = sl_buf_appendf(out, "sluice_cascade_signal_bucket{route=\"%s\",tier=\"%zu\",le=\"%g\"} %" PRIu64 "\n", r,
                                     t, sl_cascade_signal_bounds[b], cum);
            }
            if (err == SL_OK)
                err = sl_buf_appendf(out,
                                     "sluice_cascade_signal_bucket{route=\"%s\",tier=\"%zu\",le=\"+Inf\"} %" PRIu64 "\n"
                                     "sluice_cascade_signal_sum{route=\"%s\",tier=\"%zu\"} %.9g\n"
                                     "sluice_cascade_signal_count{route=\"%s\",tier=\"%zu\"} %" PRIu64 "\n",
                                     r, t, count, r, t, sum == 0 ? 0.0 : sum, r, t, count);
        }
    }
    return err;
}

static int costs(const sl_gw_metrics_input_t *in, sl_buf_t *out)
{
    const sl_gw_names_t *n = in->names;
    char r[256], b[256], v[SL_CASCADE_COST_MAX];
    int err = family(out, "sluice_cost_total", "counter",
                     "Cost of the upstream attempts, by route and backend (escalated attempts included), in the "
                     "currency of the backends' cost settings.");
    for (uint32_t i = 0; i != n->num_series && err == SL_OK; ++i) {
        if (!sl_gw_live_series(in, i))
            continue;
        uint64_t nanos = 0, requests = 0;
        for (size_t s = 0; s != in->num_shards; ++s)
            if (i < in->shards[s]->num_series) {
                const sl_gw_series_stats_t *ss = &in->shards[s]->series[i];
                nanos += LD(ss->cost_nanos);
                for (int c = 0; c != SL_GW_CLASSES; ++c)
                    requests += LD(ss->requests[c]);
            }
        if (nanos == 0 && requests == 0)
            continue;
        sl_cascade_cost_format(nanos, v);
        err = sl_buf_appendf(out, "sluice_cost_total{route=\"%s\",backend=\"%s\"} %s\n",
                             sl_prom_label(n->routes[n->series[i].route], r, sizeof(r)),
                             sl_prom_label(n->backends[n->series[i].backend], b, sizeof(b)), v);
    }
    if (err == SL_OK)
        err = family(out, "sluice_cost_last_tier_total", "counter",
                     "What the answered requests would have cost on their route's last tier alone (its per-request "
                     "price and token prices applied to the same token counts), by route.");
    for (uint32_t id = 0; id != n->num_routes && err == SL_OK; ++id) {
        if (!sl_gw_live_route(in, id))
            continue;
        uint64_t nanos = 0;
        for (size_t s = 0; s != in->num_shards; ++s)
            if (id < in->shards[s]->num_routes)
                nanos += LD(in->shards[s]->routes[id].cost_last_tier_nanos);
        sl_cascade_cost_format(nanos, v);
        err = sl_buf_appendf(out, "sluice_cost_last_tier_total{route=\"%s\"} %s\n", sl_prom_label(n->routes[id], r, sizeof(r)), v);
    }
    return err;
}

int sl_gw_metrics_render_cascade(const sl_gw_metrics_input_t *in, sl_buf_t *out)
{
    int err = answers(in, out);
    if (err == SL_OK)
        err = escalations(in, out);
    if (err == SL_OK)
        err = signals(in, out);
    if (err == SL_OK)
        err = costs(in, out);
    return err;
}
