/* gateway/metrics_cascade.c: the cascade's families, exact text, summed over two worker shards. */
#include <criterion/criterion.h>
#include <string.h>

#include "common/str.h"
#include "gateway/cascade.h"
#include "gateway/metrics.h"

/* One route "chat" with two tiers (small, then big"q), a second route "idle" without traffic; two shards. */
static sl_gw_names_t names;
static sl_gw_shard_t shards[2];
static sl_gw_series_stats_t series[2][2];
static sl_gw_route_stats_t routes[2][2];
static char *route_names[] = {"chat", "idle"};
static char *backend_names[] = {"small", "big\"q"};
static struct {
    uint32_t route, backend;
} series_ids[] = {{0, 0}, {0, 1}};

static void setup(void)
{
    memset(shards, 0, sizeof(shards));
    memset(series, 0, sizeof(series));
    memset(routes, 0, sizeof(routes));
    names.routes = route_names;
    names.num_routes = 2;
    names.backends = backend_names;
    names.num_backends = 2;
    names.series = (void *)series_ids;
    names.num_series = 2;
    for (int s = 0; s != 2; ++s) {
        shards[s].series = series[s];
        shards[s].num_series = 2;
        shards[s].routes = routes[s];
        shards[s].num_routes = 2;
    }
}

TestSuite(metrics_cascade, .init = setup);

static char *render(void)
{
    static sl_buf_t b;
    sl_gw_shard_t *ptrs[2] = {&shards[0], &shards[1]};
    sl_gw_metrics_input_t in;
    memset(&in, 0, sizeof(in));
    in.names = &names;
    in.shards = ptrs;
    in.num_shards = 2;
    sl_buf_dispose(&b);
    sl_buf_init(&b, 0);
    cr_assert_eq(sl_gw_metrics_render_cascade(&in, &b), 0);
    return b.data;
}

static const char *grep(const char *text, const char *prefix)
{
    static char out[16384];
    size_t n = 0, pl = strlen(prefix);
    out[0] = '\0';
    for (const char *line = text; *line != '\0';) {
        const char *nl = strchr(line, '\n');
        size_t len = nl != NULL ? (size_t)(nl - line) + 1 : strlen(line);
        if (len >= pl && memcmp(line, prefix, pl) == 0 && n + len < sizeof(out)) {
            memcpy(out + n, line, len);
            n += len;
            out[n] = '\0';
        }
        line += len;
    }
    return out;
}

static void escalation(sl_gw_route_stats_t *rs, uint32_t from, uint32_t to, uint32_t reason, uint64_t count)
{
    rs->escalations[rs->num_escalations].key = from | to << 8 | reason << 16;
    rs->escalations[rs->num_escalations].count = count;
    rs->num_escalations++;
}

static void signal(sl_gw_signal_hist_t *h, double v)
{
    h->buckets[sl_cascade_signal_bucket(v)]++;
    h->count++;
    double sum;
    memcpy(&sum, &h->sum_bits, sizeof(sum));
    sum += v;
    memcpy(&h->sum_bits, &sum, sizeof(sum));
}

Test(metrics_cascade, answers_escalations_and_costs)
{
    series[0][0].answers[0] = 7;
    series[1][0].answers[0] = 3;
    series[1][1].answers[1] = 4;
    series[0][0].cost_nanos = 1080000;
    series[1][0].cost_nanos = 1000;
    series[0][1].cost_nanos = 25000000000u;
    routes[0][0].cost_last_tier_nanos = 104000000;
    routes[1][0].cost_last_tier_nanos = 1;
    /* the two workers met the same triples in a different order: summed by key, written in key order */
    escalation(&routes[0][0], 0, 1, 32 + SL_FAILURE_UPSTREAM_5XX, 2);
    escalation(&routes[0][0], 0, 1, SL_REASON_LOW_CONFIDENCE, 5);
    escalation(&routes[1][0], 0, 1, SL_REASON_LOW_CONFIDENCE, 1);
    escalation(&routes[1][0], 0, 1, SL_REASON_LATENCY_BUDGET, 1);
    routes[1][0].escalations_other = 9;
    char *text = render();
    cr_assert_str_eq(grep(text, "sluice_cascade_answers_total"),
                     "sluice_cascade_answers_total{route=\"chat\",tier=\"0\",backend=\"small\"} 10\n"
                     "sluice_cascade_answers_total{route=\"chat\",tier=\"1\",backend=\"big\\\"q\"} 4\n");
    cr_assert_str_eq(grep(text, "sluice_cascade_escalations_total"),
                     "sluice_cascade_escalations_total{route=\"chat\",from=\"0\",to=\"1\",reason=\"low_confidence\"} 6\n"
                     "sluice_cascade_escalations_total{route=\"chat\",from=\"0\",to=\"1\",reason=\"latency_budget\"} 1\n"
                     "sluice_cascade_escalations_total{route=\"chat\",from=\"0\",to=\"1\",reason=\"upstream_5xx\"} 2\n"
                     "sluice_cascade_escalations_total{route=\"chat\",from=\"other\",to=\"other\",reason=\"other\"} 9\n");
    cr_assert_str_eq(grep(text, "sluice_cost_"), "sluice_cost_total{route=\"chat\",backend=\"small\"} 0.001081\n"
                                                 "sluice_cost_total{route=\"chat\",backend=\"big\\\"q\"} 25\n"
                                                 "sluice_cost_last_tier_total{route=\"chat\"} 0.104000001\n"
                                                 "sluice_cost_last_tier_total{route=\"idle\"} 0\n");
    cr_assert_str_eq(grep(text, "# TYPE"), "# TYPE sluice_cascade_answers_total counter\n"
                                           "# TYPE sluice_cascade_escalations_total counter\n"
                                           "# TYPE sluice_cascade_signal histogram\n"
                                           "# TYPE sluice_cost_total counter\n"
                                           "# TYPE sluice_cost_last_tier_total counter\n");
    cr_assert_str_eq(grep(text, "sluice_cascade_signal_"), ""); /* no judged answer yet: no series */
}

Test(metrics_cascade, signal_histogram_exact_text)
{
    signal(&routes[0][0].signal[0], -0.05);
    signal(&routes[0][0].signal[0], -1.2);
    signal(&routes[1][0].signal[0], -0.35); /* on a bound: counted at that bound */
    signal(&routes[1][0].signal[2], 0.97);
    char *text = render();
    cr_assert_str_eq(grep(text, "sluice_cascade_signal_bucket{route=\"chat\",tier=\"0\""),
                     "sluice_cascade_signal_bucket{route=\"chat\",tier=\"0\",le=\"-10\"} 0\n"
                     "sluice_cascade_signal_bucket{route=\"chat\",tier=\"0\",le=\"-5\"} 0\n"
                     "sluice_cascade_signal_bucket{route=\"chat\",tier=\"0\",le=\"-3\"} 0\n"
                     "sluice_cascade_signal_bucket{route=\"chat\",tier=\"0\",le=\"-2\"} 0\n"
                     "sluice_cascade_signal_bucket{route=\"chat\",tier=\"0\",le=\"-1.5\"} 0\n"
                     "sluice_cascade_signal_bucket{route=\"chat\",tier=\"0\",le=\"-1\"} 1\n"
                     "sluice_cascade_signal_bucket{route=\"chat\",tier=\"0\",le=\"-0.75\"} 1\n"
                     "sluice_cascade_signal_bucket{route=\"chat\",tier=\"0\",le=\"-0.5\"} 1\n"
                     "sluice_cascade_signal_bucket{route=\"chat\",tier=\"0\",le=\"-0.35\"} 2\n"
                     "sluice_cascade_signal_bucket{route=\"chat\",tier=\"0\",le=\"-0.25\"} 2\n"
                     "sluice_cascade_signal_bucket{route=\"chat\",tier=\"0\",le=\"-0.15\"} 2\n"
                     "sluice_cascade_signal_bucket{route=\"chat\",tier=\"0\",le=\"-0.1\"} 2\n"
                     "sluice_cascade_signal_bucket{route=\"chat\",tier=\"0\",le=\"-0.05\"} 3\n"
                     "sluice_cascade_signal_bucket{route=\"chat\",tier=\"0\",le=\"-0.01\"} 3\n"
                     "sluice_cascade_signal_bucket{route=\"chat\",tier=\"0\",le=\"0\"} 3\n"
                     "sluice_cascade_signal_bucket{route=\"chat\",tier=\"0\",le=\"0.1\"} 3\n"
                     "sluice_cascade_signal_bucket{route=\"chat\",tier=\"0\",le=\"0.2\"} 3\n"
                     "sluice_cascade_signal_bucket{route=\"chat\",tier=\"0\",le=\"0.3\"} 3\n"
                     "sluice_cascade_signal_bucket{route=\"chat\",tier=\"0\",le=\"0.4\"} 3\n"
                     "sluice_cascade_signal_bucket{route=\"chat\",tier=\"0\",le=\"0.5\"} 3\n"
                     "sluice_cascade_signal_bucket{route=\"chat\",tier=\"0\",le=\"0.6\"} 3\n"
                     "sluice_cascade_signal_bucket{route=\"chat\",tier=\"0\",le=\"0.7\"} 3\n"
                     "sluice_cascade_signal_bucket{route=\"chat\",tier=\"0\",le=\"0.8\"} 3\n"
                     "sluice_cascade_signal_bucket{route=\"chat\",tier=\"0\",le=\"0.9\"} 3\n"
                     "sluice_cascade_signal_bucket{route=\"chat\",tier=\"0\",le=\"0.95\"} 3\n"
                     "sluice_cascade_signal_bucket{route=\"chat\",tier=\"0\",le=\"0.99\"} 3\n"
                     "sluice_cascade_signal_bucket{route=\"chat\",tier=\"0\",le=\"1\"} 3\n"
                     "sluice_cascade_signal_bucket{route=\"chat\",tier=\"0\",le=\"+Inf\"} 3\n");
    cr_assert_str_eq(grep(text, "sluice_cascade_signal_sum"), "sluice_cascade_signal_sum{route=\"chat\",tier=\"0\"} -1.6\n"
                                                              "sluice_cascade_signal_sum{route=\"chat\",tier=\"2\"} 0.97\n");
    cr_assert_str_eq(grep(text, "sluice_cascade_signal_count"), "sluice_cascade_signal_count{route=\"chat\",tier=\"0\"} 3\n"
                                                                "sluice_cascade_signal_count{route=\"chat\",tier=\"2\"} 1\n");
    cr_assert(strstr(text, "sluice_cascade_signal_bucket{route=\"chat\",tier=\"2\",le=\"0.95\"} 0\n") != NULL);
    cr_assert(strstr(text, "sluice_cascade_signal_bucket{route=\"chat\",tier=\"2\",le=\"0.99\"} 1\n") != NULL);
}
