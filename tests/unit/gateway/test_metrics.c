#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "backends/pool.h"
#include "common/str.h"
#include "gateway/metrics.h"
#include "stats/hist.h"

/* A small, fixed state: one route ("chat"), two backends ("small", "big\"q" with a quote to escape), two series,
 * one worker shard, one endpoint. */
static sl_gw_names_t names;
static sl_gw_shard_t shard;
static sl_gw_series_stats_t series[2];
static sl_gw_route_stats_t routes[1];
static sl_gw_backend_stats_t backends[2];
static sl_pool_registry_t reg;
static char *route_names[] = {"chat"};
static char *backend_names[] = {"small", "big\"q"};
static struct {
    uint32_t route, backend;
} series_ids[] = {{0, 0}, {0, 1}};

static void setup(void)
{
    memset(&shard, 0, sizeof(shard));
    memset(series, 0, sizeof(series));
    names.routes = route_names;
    names.num_routes = 1;
    names.backends = backend_names;
    names.num_backends = 2;
    names.series = (void *)series_ids;
    names.num_series = 2;
    shard.series = series;
    shard.num_series = 2;
    shard.routes = routes;
    shard.num_routes = 1;
    shard.backends = backends;
    shard.num_backends = 2;
    sl_hist_init(&routes[0].latency);
    sl_hist_init(&routes[0].ttft);
    sl_hist_init(&routes[0].tpot);
    sl_hist_init(&backends[0].upstream);
    sl_hist_init(&backends[1].upstream);
    memset(backends[0].failures, 0, sizeof(backends[0].failures));
    memset(backends[1].failures, 0, sizeof(backends[1].failures));
    backends[0].retries = backends[1].retries = 0;
    sl_hist_init(&shard.overhead);
    sl_pool_registry_init(&reg);
}

static void teardown(void)
{
    sl_pool_registry_dispose(&reg);
}

TestSuite(metrics, .init = setup, .fini = teardown);

static char *render(sl_gw_metrics_input_t *in)
{
    static sl_buf_t b;
    sl_buf_dispose(&b);
    sl_buf_init(&b, 0);
    cr_assert_eq(sl_gw_metrics_render(in, &b), 0);
    return b.data;
}

static void input(sl_gw_metrics_input_t *in, sl_gw_shard_t **shards)
{
    memset(in, 0, sizeof(*in));
    shards[0] = &shard;
    in->names = &names;
    in->shards = shards;
    in->num_shards = 1;
    in->registry = &reg;
    in->generation = 3;
    in->reloads_ok = 2;
    in->reloads_failed = 1;
    in->open_connections = 7;
}

/* The lines of text starting with prefix, in order, joined. */
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

Test(metrics, counters_and_escaping_exact_text)
{
    sl_gw_metrics_input_t in;
    sl_gw_shard_t *shards[1];
    input(&in, shards);
    series[0].requests[2] = 40;
    series[0].requests[5] = 2;
    series[1].requests[4] = 1;
    series[0].tokens_in = 100;
    series[0].tokens_out = 250;
    backends[0].failures[SL_FAILURE_RESET] = 2;
    backends[1].failures[SL_FAILURE_CONNECT_TIMEOUT] = 1;
    backends[0].retries = 3;
    shard.unmatched = 5;
    shard.too_large = 1;
    shard.inflight = 2;
    char *text = render(&in);

    cr_assert_str_eq(grep(text, "sluice_requests_total"),
                     "sluice_requests_total{route=\"chat\",backend=\"small\",code=\"2xx\"} 40\n"
                     "sluice_requests_total{route=\"chat\",backend=\"small\",code=\"5xx\"} 2\n"
                     "sluice_requests_total{route=\"chat\",backend=\"big\\\"q\",code=\"4xx\"} 1\n");
    cr_assert_str_eq(grep(text, "sluice_rejected_requests_total"),
                     "sluice_rejected_requests_total{reason=\"no_route\"} 5\n"
                     "sluice_rejected_requests_total{reason=\"body_too_large\"} 1\n"
                     "sluice_rejected_requests_total{reason=\"bad_request\"} 0\n");
    cr_assert_str_eq(grep(text, "sluice_tokens_total"),
                     "sluice_tokens_total{route=\"chat\",backend=\"small\",direction=\"input\"} 100\n"
                     "sluice_tokens_total{route=\"chat\",backend=\"small\",direction=\"output\"} 250\n");
    cr_assert_str_eq(grep(text, "sluice_upstream_failures_total"),
                     "sluice_upstream_failures_total{backend=\"small\",kind=\"reset\"} 2\n"
                     "sluice_upstream_failures_total{backend=\"big\\\"q\",kind=\"connect_timeout\"} 1\n");
    cr_assert_str_eq(grep(text, "sluice_upstream_retries_total"), "sluice_upstream_retries_total{backend=\"small\"} 3\n"
                                                                  "sluice_upstream_retries_total{backend=\"big\\\"q\"} 0\n");
    cr_assert_str_eq(grep(text, "sluice_inflight_requests "), "sluice_inflight_requests 2\n");
    cr_assert_str_eq(grep(text, "sluice_open_connections "), "sluice_open_connections 7\n");
    cr_assert_str_eq(grep(text, "sluice_config_"), "sluice_config_generation 3\n"
                                                   "sluice_config_reloads_total{result=\"ok\"} 2\n"
                                                   "sluice_config_reloads_total{result=\"error\"} 1\n");
    cr_assert_str_eq(grep(text, "# TYPE sluice_requests_total"), "# TYPE sluice_requests_total counter\n");
    cr_assert_str_eq(grep(text, "# TYPE sluice_ttft_seconds"), "# TYPE sluice_ttft_seconds histogram\n");
    cr_assert_str_eq(grep(text, "process_"), ""); /* not read: has_process == 0 */
    cr_assert_str_eq(grep(text, "sluice_jemalloc"), "");
}

Test(metrics, only_live_names_are_rendered)
{
    sl_gw_metrics_input_t in;
    sl_gw_shard_t *shards[1];
    input(&in, shards);
    series[0].requests[2] = 40;
    series[1].requests[2] = 7;
    backends[0].retries = 3;
    backends[1].retries = 1;
    sl_conf_addr_t a0 = {.text = "127.0.0.1:8001"}, a1 = {.text = "127.0.0.1:8002"};
    sl_pool_endpoint_t *e0, *e1;
    cr_assert_eq(sl_pool_registry_get(&reg, "small", &a0, &e0), 0);
    cr_assert_eq(sl_pool_registry_get(&reg, "big\"q", &a1, &e1), 0);
    /* a reload removed backend "big\"q" (series 1, endpoint 1); the route stays */
    uint8_t routes_live[] = {1}, backends_live[] = {1, 0}, series_live[] = {1, 0}, endpoints_live[] = {1, 0};
    sl_gw_live_t live = {routes_live, backends_live, series_live, endpoints_live};
    in.live = &live;
    char *text = render(&in);
    cr_assert_str_eq(grep(text, "sluice_requests_total{"),
                     "sluice_requests_total{route=\"chat\",backend=\"small\",code=\"2xx\"} 40\n");
    cr_assert_str_eq(grep(text, "sluice_upstream_retries_total{"), "sluice_upstream_retries_total{backend=\"small\"} 3\n");
    cr_assert_str_eq(grep(text, "sluice_endpoint_up{"), "sluice_endpoint_up{backend=\"small\",endpoint=\"127.0.0.1:8001\"} 1\n");
    cr_assert_str_eq(grep(text, "sluice_upstream_duration_seconds_count"),
                     "sluice_upstream_duration_seconds_count{backend=\"small\"} 0\n");
    cr_assert_str_eq(grep(text, "sluice_request_duration_seconds_count"),
                     "sluice_request_duration_seconds_count{route=\"chat\"} 0\n");
    /* the route goes too */
    routes_live[0] = series_live[0] = 0;
    text = render(&in);
    cr_assert_str_eq(grep(text, "sluice_requests_total{"), "");
    cr_assert_str_eq(grep(text, "sluice_request_duration_seconds_count"), "");
    /* without live marks every name is rendered */
    in.live = NULL;
    text = render(&in);
    cr_assert_str_eq(grep(text, "sluice_upstream_retries_total{"), "sluice_upstream_retries_total{backend=\"small\"} 3\n"
                                                                  "sluice_upstream_retries_total{backend=\"big\\\"q\"} 1\n");
}

Test(metrics, histogram_exact_text)
{
    sl_gw_metrics_input_t in;
    sl_gw_shard_t *shards[1];
    input(&in, shards);
    sl_hist_record(&shard.overhead, 7);      /* exact bucket */
    sl_hist_record(&shard.overhead, 30);     /* <= 50 us */
    sl_hist_record(&shard.overhead, 120);    /* <= 250 us */
    sl_hist_record(&shard.overhead, 200000); /* above the last bound (100 ms) */
    char *text = render(&in);
    cr_assert_str_eq(grep(text, "sluice_gateway_overhead_seconds"),
                     "sluice_gateway_overhead_seconds_bucket{le=\"0.000005\"} 0\n"
                     "sluice_gateway_overhead_seconds_bucket{le=\"0.000010\"} 1\n"
                     "sluice_gateway_overhead_seconds_bucket{le=\"0.000025\"} 1\n"
                     "sluice_gateway_overhead_seconds_bucket{le=\"0.000050\"} 2\n"
                     "sluice_gateway_overhead_seconds_bucket{le=\"0.000100\"} 2\n"
                     "sluice_gateway_overhead_seconds_bucket{le=\"0.000248\"} 3\n"
                     "sluice_gateway_overhead_seconds_bucket{le=\"0.000496\"} 3\n"
                     "sluice_gateway_overhead_seconds_bucket{le=\"0.000992\"} 3\n"
                     "sluice_gateway_overhead_seconds_bucket{le=\"0.002496\"} 3\n"
                     "sluice_gateway_overhead_seconds_bucket{le=\"0.004992\"} 3\n"
                     "sluice_gateway_overhead_seconds_bucket{le=\"0.009984\"} 3\n"
                     "sluice_gateway_overhead_seconds_bucket{le=\"0.025088\"} 3\n"
                     "sluice_gateway_overhead_seconds_bucket{le=\"0.050176\"} 3\n"
                     "sluice_gateway_overhead_seconds_bucket{le=\"0.100352\"} 3\n"
                     "sluice_gateway_overhead_seconds_bucket{le=\"+Inf\"} 4\n"
                     "sluice_gateway_overhead_seconds_sum 0.200157\n"
                     "sluice_gateway_overhead_seconds_count 4\n");
    /* route histograms use the stats/hist ladder (1 ms .. 10 min) with the route label */
    sl_hist_record(&routes[0].ttft, 250000);
    text = render(&in);
    cr_assert(strstr(text, "sluice_ttft_seconds_bucket{route=\"chat\",le=\"0.249856\"} 0\n") != NULL);
    cr_assert(strstr(text, "sluice_ttft_seconds_bucket{route=\"chat\",le=\"0.401408\"} 1\n") != NULL);
    cr_assert(strstr(text, "sluice_ttft_seconds_bucket{route=\"chat\",le=\"+Inf\"} 1\n") != NULL);
    cr_assert(strstr(text, "sluice_ttft_seconds_sum{route=\"chat\"} 0.250000\n") != NULL);
    cr_assert(strstr(text, "sluice_ttft_seconds_count{route=\"chat\"} 1\n") != NULL);
}

Test(metrics, endpoints_and_saturation)
{
    sl_gw_metrics_input_t in;
    sl_gw_shard_t *shards[1];
    input(&in, shards);
    sl_conf_addr_t a = {.text = "127.0.0.1:8001"};
    sl_pool_endpoint_t *e;
    cr_assert_eq(sl_pool_registry_get(&reg, "small", &a, &e), 0);
    atomic_store(&e->inflight, 3);
    atomic_store(&e->out, SL_POOL_OUT_EJECTED);
    e->ejections_outlier = 2;
    /* a generation with one backend whose max_concurrency is 4: saturation 3 / 4 */
    sl_conf_backend_t cb = {.name = "small", .max_concurrency = 4};
    sl_conf_t conf = {.num_backends = 1};
    sl_gw_backend_rt_t brt = {.conf = &cb, .endpoints = &e, .num_endpoints = 1};
    sl_gw_gen_t gen = {.conf = &conf, .backends = &brt};
    in.gen = &gen;
    char *text = render(&in);
    cr_assert_str_eq(grep(text, "sluice_endpoint_"),
                     "sluice_endpoint_inflight_requests{backend=\"small\",endpoint=\"127.0.0.1:8001\"} 3\n"
                     "sluice_endpoint_up{backend=\"small\",endpoint=\"127.0.0.1:8001\"} 0\n"
                     "sluice_endpoint_ejections_total{backend=\"small\",endpoint=\"127.0.0.1:8001\",reason=\"outlier\"} 2\n"
                     "sluice_endpoint_ejections_total{backend=\"small\",endpoint=\"127.0.0.1:8001\",reason=\"health\"} 0\n");
    cr_assert_str_eq(grep(text, "sluice_backend_saturation{"), "sluice_backend_saturation{backend=\"small\"} 0.750000\n");
}

Test(metrics, upstream_pools_summed_over_workers_by_endpoint)
{
    sl_gw_metrics_input_t in;
    sl_gw_shard_t *shards[2], other = shard;
    input(&in, shards);
    shards[1] = &other;
    in.num_shards = 2;
    sl_conf_addr_t a0 = {.text = "127.0.0.1:8001"}, a1 = {.text = "127.0.0.1:8002"};
    sl_pool_endpoint_t *e0, *e1;
    cr_assert_eq(sl_pool_registry_get(&reg, "small", &a0, &e0), 0);
    cr_assert_eq(sl_pool_registry_get(&reg, "small", &a1, &e1), 0);
    /* worker 0 knows both endpoints, worker 1 only the first one so far (its shard was not grown yet) */
    sl_upclient_stats_t w0[2] = {{.connects = 5, .reuses = 40, .idle = 2}, {.connects = 1}};
    sl_upclient_stats_t w1[1] = {{.connects = 2, .reuses = 7, .idle = 1}};
    w0[0].closed[SL_UPCLIENT_CLOSE_IDLE_EXPIRED] = 3;
    w1[0].closed[SL_UPCLIENT_CLOSE_IDLE_EXPIRED] = 1;
    w1[0].closed[SL_UPCLIENT_CLOSE_ERROR] = 1;
    w0[1].closed[SL_UPCLIENT_CLOSE_NOT_REUSABLE] = 1;
    shard.endpoints = w0;
    shard.num_endpoints = 2;
    other.endpoints = w1;
    other.num_endpoints = 1;
    char *text = render(&in);
    cr_assert_str_eq(grep(text, "sluice_upstream_connections_"),
                     "sluice_upstream_connections_opened_total{backend=\"small\",endpoint=\"127.0.0.1:8001\"} 7\n"
                     "sluice_upstream_connections_opened_total{backend=\"small\",endpoint=\"127.0.0.1:8002\"} 1\n"
                     "sluice_upstream_connections_reused_total{backend=\"small\",endpoint=\"127.0.0.1:8001\"} 47\n"
                     "sluice_upstream_connections_reused_total{backend=\"small\",endpoint=\"127.0.0.1:8002\"} 0\n"
                     "sluice_upstream_connections_idle{backend=\"small\",endpoint=\"127.0.0.1:8001\"} 3\n"
                     "sluice_upstream_connections_idle{backend=\"small\",endpoint=\"127.0.0.1:8002\"} 0\n"
                     "sluice_upstream_connections_closed_total{backend=\"small\",endpoint=\"127.0.0.1:8001\",reason=\"not_reusable\"} 0\n"
                     "sluice_upstream_connections_closed_total{backend=\"small\",endpoint=\"127.0.0.1:8001\",reason=\"error\"} 1\n"
                     "sluice_upstream_connections_closed_total{backend=\"small\",endpoint=\"127.0.0.1:8001\",reason=\"cancelled\"} 0\n"
                     "sluice_upstream_connections_closed_total{backend=\"small\",endpoint=\"127.0.0.1:8001\",reason=\"idle_upstream\"} 0\n"
                     "sluice_upstream_connections_closed_total{backend=\"small\",endpoint=\"127.0.0.1:8001\",reason=\"idle_expired\"} 4\n"
                     "sluice_upstream_connections_closed_total{backend=\"small\",endpoint=\"127.0.0.1:8001\",reason=\"idle_over_cap\"} 0\n"
                     "sluice_upstream_connections_closed_total{backend=\"small\",endpoint=\"127.0.0.1:8002\",reason=\"not_reusable\"} 1\n"
                     "sluice_upstream_connections_closed_total{backend=\"small\",endpoint=\"127.0.0.1:8002\",reason=\"error\"} 0\n"
                     "sluice_upstream_connections_closed_total{backend=\"small\",endpoint=\"127.0.0.1:8002\",reason=\"cancelled\"} 0\n"
                     "sluice_upstream_connections_closed_total{backend=\"small\",endpoint=\"127.0.0.1:8002\",reason=\"idle_upstream\"} 0\n"
                     "sluice_upstream_connections_closed_total{backend=\"small\",endpoint=\"127.0.0.1:8002\",reason=\"idle_expired\"} 0\n"
                     "sluice_upstream_connections_closed_total{backend=\"small\",endpoint=\"127.0.0.1:8002\",reason=\"idle_over_cap\"} 0\n");
    cr_assert_str_eq(grep(text, "# TYPE sluice_upstream_connections_idle"), "# TYPE sluice_upstream_connections_idle gauge\n");
}

Test(metrics, process_and_allocator_figures)
{
    sl_gw_metrics_input_t in;
    sl_gw_shard_t *shards[1];
    input(&in, shards);
    in.has_process = 1;
    in.cpu_seconds = 1.25;
    in.rss_bytes = 1048576;
    in.open_fds = 12;
    in.max_fds = 4096;
    in.start_time_seconds = 1700000000.5;
    in.has_alloc = 1;
    in.alloc_allocated = 100;
    in.alloc_resident = 200;
    char *text = render(&in);
    cr_assert_str_eq(grep(text, "process_"), "process_cpu_seconds_total 1.25\n"
                                             "process_resident_memory_bytes 1048576\n"
                                             "process_open_fds 12\n"
                                             "process_max_fds 4096\n"
                                             "process_start_time_seconds 1700000000.500\n");
    cr_assert_str_eq(grep(text, "sluice_jemalloc"), "sluice_jemalloc_allocated_bytes 100\n"
                                                    "sluice_jemalloc_resident_bytes 200\n");
    sl_gw_metrics_input_t live;
    memset(&live, 0, sizeof(live));
    sl_gw_metrics_read_process(&live);
    cr_assert_eq(live.has_process, 1);
    cr_assert_gt(live.rss_bytes, 0);
    cr_assert_gt(live.open_fds, 2);
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    cr_assert_eq(live.max_fds, rl.rlim_cur);
}

Test(metrics, accept_pauses_by_listener)
{
    sl_gw_metrics_input_t in;
    sl_gw_shard_t *shards[1];
    input(&in, shards);
    in.accept_pauses_data = 7;
    in.accept_pauses_admin = 2;
    char *text = render(&in);
    cr_assert_str_eq(grep(text, "sluice_accept_pauses_total"), "sluice_accept_pauses_total{listener=\"data\"} 7\n"
                                                               "sluice_accept_pauses_total{listener=\"admin\"} 2\n");
    cr_assert_str_eq(grep(text, "# TYPE sluice_accept_pauses_total"), "# TYPE sluice_accept_pauses_total counter\n");
}
