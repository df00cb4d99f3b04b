/*
 * metrics.c - see metrics.h. Families are written in a fixed order and series in id order, so the output of a
 * given state is byte-for-byte stable (the unit tests compare exact text).
 */
#include "gateway/metrics.h"
#include "common/alloc.h"
#include "common/status.h"
#include "gateway/failure.h"
#include "stats/hist.h"

#include <dirent.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define LD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

static const char *const class_labels[SL_GW_CLASSES] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};

/* Custom ladders (µs targets; each is moved to the nearest bucket edge of stats/hist). */
static const uint64_t tpot_targets_us[] = {1000,  2500,   5000,   10000,  15000,  20000,  25000,   30000,   40000,  50000,
                                           75000, 100000, 150000, 200000, 300000, 500000, 1000000, 2500000, 5000000};
static const uint64_t overhead_targets_us[] = {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000};

typedef struct st_ladder_t {
    size_t n;
    uint64_t bounds[32];
    char labels[32][24];
} ladder_t;

/* The edge (top of a bucket) nearest to target. */
static uint64_t nearest_edge(uint64_t target)
{
    uint64_t lo, hi;
    sl_hist_bucket_range(sl_hist_index(target), &lo, &hi);
    if (hi == target || lo == 0)
        return hi;
    return target - (lo - 1) <= hi - target ? lo - 1 : hi;
}

static void ladder_init(ladder_t *l, const uint64_t *targets, size_t n)
{
    l->n = n;
    for (size_t i = 0; i != n; ++i) {
        l->bounds[i] = nearest_edge(targets[i]);
        snprintf(l->labels[i], sizeof(l->labels[i]), "%" PRIu64 ".%06" PRIu64, l->bounds[i] / 1000000, l->bounds[i] % 1000000);
    }
}

static void ladder_prom(ladder_t *l)
{
    l->n = SL_HIST_PROM_NUM;
    for (size_t i = 0; i != SL_HIST_PROM_NUM; ++i) {
        l->bounds[i] = sl_hist_prom_bounds_us[i];
        snprintf(l->labels[i], sizeof(l->labels[i]), "%s", sl_hist_prom_labels[i]);
    }
}

typedef struct st_out_t {
    sl_buf_t *buf;
    int err;
} out_t;

static void emit(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(out_t *o, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line))
        n = sizeof(line) - 1;
    if (o->err == 0 && sl_buf_append(o->buf, line, (size_t)n) != SL_OK)
        o->err = SL_ENOMEM;
}

static void family(out_t *o, const char *name, const char *type, const char *help)
{
    emit(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void histogram(out_t *o, const char *name, const char *labels, const sl_hist_t *h, const ladder_t *l)
{
    uint64_t count = sl_hist_count(h), seen = 0;
    uint32_t i = 0;
    const char *sep = labels[0] != '\0' ? "," : "";
    for (size_t b = 0; b != l->n; ++b) {
        uint32_t last = sl_hist_index(l->bounds[b]);
        for (; i <= last; ++i)
            seen += LD(h->buckets[i]);
        emit(o, "%s_bucket{%s%sle=\"%s\"} %" PRIu64 "\n", name, labels, sep, l->labels[b], seen);
    }
    emit(o, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", name, labels, sep, count);
    uint64_t sum = sl_hist_sum_us(h);
    if (labels[0] != '\0') {
        emit(o, "%s_sum{%s} %" PRIu64 ".%06" PRIu64 "\n", name, labels, sum / 1000000, sum % 1000000);
        emit(o, "%s_count{%s} %" PRIu64 "\n", name, labels, count);
    } else {
        emit(o, "%s_sum %" PRIu64 ".%06" PRIu64 "\n", name, sum / 1000000, sum % 1000000);
        emit(o, "%s_count %" PRIu64 "\n", name, count);
    }
}

/* Sums one histogram over the shards that have it; kind selects which (0 latency, 1 ttft, 2 tpot, 3 upstream). */
static void sum_hist(const sl_gw_metrics_input_t *in, uint32_t id, int kind, sl_hist_t *out)
{
    sl_hist_init(out);
    for (size_t s = 0; s != in->num_shards; ++s) {
        const sl_gw_shard_t *sh = in->shards[s];
        if (kind < 3 && id < sh->num_routes)
            sl_hist_merge(out, kind == 0 ? &sh->routes[id].latency : kind == 1 ? &sh->routes[id].ttft : &sh->routes[id].tpot);
        else if (kind == 3 && id < sh->num_backends)
            sl_hist_merge(out, &sh->backends[id].upstream);
    }
}

static void render_requests(out_t *o, const sl_gw_metrics_input_t *in)
{
    const sl_gw_names_t *n = in->names;
    char r[256], b[256];
    family(o, "sluice_requests_total", "counter", "Requests answered, by route, backend and status class.");
    for (uint32_t i = 0; i != n->num_series; ++i) {
        if (!sl_gw_live_series(in, i))
            continue;
        for (int c = 0; c != SL_GW_CLASSES; ++c) {
            uint64_t v = 0;
            for (size_t s = 0; s != in->num_shards; ++s)
                if (i < in->shards[s]->num_series)
                    v += LD(in->shards[s]->series[i].requests[c]);
            if (v != 0)
                emit(o, "sluice_requests_total{route=\"%s\",backend=\"%s\",code=\"%s\"} %" PRIu64 "\n",
                     sl_prom_label(n->routes[n->series[i].route], r, sizeof(r)), sl_prom_label(n->backends[n->series[i].backend], b, sizeof(b)),
                     class_labels[c], v);
        }
    }
    uint64_t unmatched = 0, too_large = 0, bad = 0, inflight = 0, dropped = 0;
    for (size_t s = 0; s != in->num_shards; ++s) {
        unmatched += LD(in->shards[s]->unmatched);
        too_large += LD(in->shards[s]->too_large);
        bad += LD(in->shards[s]->bad_request);
        inflight += LD(in->shards[s]->inflight);
        dropped += LD(in->shards[s]->log_dropped);
    }
    family(o, "sluice_rejected_requests_total", "counter", "Requests refused before any route took them, by reason.");
    emit(o, "sluice_rejected_requests_total{reason=\"no_route\"} %" PRIu64 "\n", unmatched);
    emit(o, "sluice_rejected_requests_total{reason=\"body_too_large\"} %" PRIu64 "\n", too_large);
    emit(o, "sluice_rejected_requests_total{reason=\"bad_request\"} %" PRIu64 "\n", bad);
    family(o, "sluice_inflight_requests", "gauge", "Client requests being served now.");
    emit(o, "sluice_inflight_requests %" PRIu64 "\n", inflight);
    family(o, "sluice_access_log_dropped_lines_total", "counter",
           "Access-log lines lost: dropped while the log's destination was not keeping up, or failed writes.");
    emit(o, "sluice_access_log_dropped_lines_total %" PRIu64 "\n", dropped + in->log_write_dropped);

    family(o, "sluice_tokens_total", "counter", "Tokens reported in the answers' usage, by route, backend and direction.");
    for (uint32_t i = 0; i != n->num_series; ++i) {
        if (!sl_gw_live_series(in, i))
            continue;
        uint64_t tin = 0, tout = 0;
        for (size_t s = 0; s != in->num_shards; ++s)
            if (i < in->shards[s]->num_series) {
                tin += LD(in->shards[s]->series[i].tokens_in);
                tout += LD(in->shards[s]->series[i].tokens_out);
            }
        if (tin == 0 && tout == 0)
            continue;
        sl_prom_label(n->routes[n->series[i].route], r, sizeof(r));
        sl_prom_label(n->backends[n->series[i].backend], b, sizeof(b));
        emit(o, "sluice_tokens_total{route=\"%s\",backend=\"%s\",direction=\"input\"} %" PRIu64 "\n", r, b, tin);
        emit(o, "sluice_tokens_total{route=\"%s\",backend=\"%s\",direction=\"output\"} %" PRIu64 "\n", r, b, tout);
    }
}

static void render_histograms(out_t *o, const sl_gw_metrics_input_t *in)
{
    static const struct {
        const char *name, *help;
        int kind;
    } route_families[] = {
        {"sluice_request_duration_seconds", "End-to-end latency as the client saw it, by route.", 0},
        {"sluice_ttft_seconds", "Time from the request to the first byte of the answer's body, by route.", 1},
        {"sluice_tpot_seconds", "Gap between two chunks of a streamed answer (time per output token), by route.", 2},
    };
    const sl_gw_names_t *n = in->names;
    ladder_t prom, tpot, overhead;
    ladder_prom(&prom);
    ladder_init(&tpot, tpot_targets_us, sizeof(tpot_targets_us) / sizeof(tpot_targets_us[0]));
    ladder_init(&overhead, overhead_targets_us, sizeof(overhead_targets_us) / sizeof(overhead_targets_us[0]));
    sl_hist_t *h = sl_malloc(sizeof(*h));
    char lab[300], e[256];
    for (size_t f = 0; f != 3; ++f) {
        family(o, route_families[f].name, "histogram", route_families[f].help);
        for (uint32_t i = 0; i != n->num_routes; ++i) {
            if (!sl_gw_live_route(in, i))
                continue;
            sum_hist(in, i, route_families[f].kind, h);
            snprintf(lab, sizeof(lab), "route=\"%s\"", sl_prom_label(n->routes[i], e, sizeof(e)));
            histogram(o, route_families[f].name, lab, h, route_families[f].kind == 2 ? &tpot : &prom);
        }
    }
    family(o, "sluice_upstream_duration_seconds", "histogram",
           "Upstream exchange time of successful attempts (connect to end of answer), by backend.");
    for (uint32_t i = 0; i != n->num_backends; ++i) {
        if (!sl_gw_live_backend(in, i))
            continue;
        sum_hist(in, i, 3, h);
        snprintf(lab, sizeof(lab), "backend=\"%s\"", sl_prom_label(n->backends[i], e, sizeof(e)));
        histogram(o, "sluice_upstream_duration_seconds", lab, h, &prom);
    }
    family(o, "sluice_gateway_overhead_seconds", "histogram",
           "Time spent in the gateway itself per request (arrival to upstream dispatch, plus head processing).");
    sl_hist_init(h);
    for (size_t s = 0; s != in->num_shards; ++s)
        sl_hist_merge(h, &in->shards[s]->overhead);
    histogram(o, "sluice_gateway_overhead_seconds", "", h, &overhead);
    sl_free(h);
}

/* One endpoint's pool counter summed over the workers' shards (a shard not grown to the id yet counts 0). */
static uint64_t sum_pool(const sl_gw_metrics_input_t *in, uint32_t id, size_t offset)
{
    uint64_t v = 0;
    for (size_t s = 0; s != in->num_shards; ++s)
        if (id < in->shards[s]->num_endpoints)
            v += __atomic_load_n((const uint64_t *)((const char *)(in->shards[s]->endpoints + id) + offset), __ATOMIC_RELAXED);
    return v;
}

/* The workers' upstream connection pools (gateway/upclient.c), by endpoint. */
static void render_pools(out_t *o, const sl_gw_metrics_input_t *in)
{
    static const char *const reasons[SL_UPCLIENT_CLOSE_COUNT] = {"not_reusable", "error",        "cancelled",
                                                                 "idle_upstream", "idle_expired", "idle_over_cap"};
    static const struct {
        const char *name, *type, *help;
        size_t offset;
    } families[] = {
        {"sluice_upstream_connections_opened_total", "counter", "Upstream connections opened, by endpoint (all workers).",
         offsetof(sl_upclient_stats_t, connects)},
        {"sluice_upstream_connections_reused_total", "counter",
         "Upstream exchanges sent on an idle keep-alive connection, by endpoint (all workers).",
         offsetof(sl_upclient_stats_t, reuses)},
        {"sluice_upstream_connections_idle", "gauge", "Idle keep-alive upstream connections, by endpoint (all workers).",
         offsetof(sl_upclient_stats_t, idle)},
    };
    const sl_pool_registry_t *reg = in->registry;
    char b[256], ep[256];
    for (size_t f = 0; f != sizeof(families) / sizeof(families[0]); ++f) {
        family(o, families[f].name, families[f].type, families[f].help);
        for (size_t i = 0; i != reg->num_endpoints; ++i) {
            if (!sl_gw_live_endpoint(in, (uint32_t)i))
                continue;
            const sl_pool_endpoint_t *e = reg->endpoints[i];
            emit(o, "%s{backend=\"%s\",endpoint=\"%s\"} %" PRIu64 "\n", families[f].name, sl_prom_label(e->backend, b, sizeof(b)),
                 sl_prom_label(e->addr.text, ep, sizeof(ep)), sum_pool(in, e->id, families[f].offset));
        }
    }
    family(o, "sluice_upstream_connections_closed_total", "counter",
           "Upstream connections closed, by endpoint and reason (all workers).");
    for (size_t i = 0; i != reg->num_endpoints; ++i) {
        if (!sl_gw_live_endpoint(in, (uint32_t)i))
            continue;
        const sl_pool_endpoint_t *e = reg->endpoints[i];
        sl_prom_label(e->backend, b, sizeof(b));
        sl_prom_label(e->addr.text, ep, sizeof(ep));
        for (int r = 0; r != SL_UPCLIENT_CLOSE_COUNT; ++r)
            emit(o, "sluice_upstream_connections_closed_total{backend=\"%s\",endpoint=\"%s\",reason=\"%s\"} %" PRIu64 "\n",
                 b, ep, reasons[r], sum_pool(in, e->id, offsetof(sl_upclient_stats_t, closed) + (size_t)r * sizeof(uint64_t)));
    }
}

static void render_backends(out_t *o, const sl_gw_metrics_input_t *in)
{
    const sl_gw_names_t *n = in->names;
    char b[256], ep[256];
    family(o, "sluice_upstream_failures_total", "counter", "Failed upstream attempts, by backend and kind.");
    for (uint32_t i = 0; i != n->num_backends; ++i) {
        if (!sl_gw_live_backend(in, i))
            continue;
        for (int k = 1; k != SL_FAILURE_COUNT; ++k) {
            uint64_t v = 0;
            for (size_t s = 0; s != in->num_shards; ++s)
                if (i < in->shards[s]->num_backends)
                    v += LD(in->shards[s]->backends[i].failures[k]);
            if (v != 0)
                emit(o, "sluice_upstream_failures_total{backend=\"%s\",kind=\"%s\"} %" PRIu64 "\n",
                     sl_prom_label(n->backends[i], b, sizeof(b)), sl_gw_failure_code((enum en_sl_failure_t)k), v);
        }
    }
    family(o, "sluice_upstream_retries_total", "counter",
           "Requests sent again on a fresh connection after a reused keep-alive connection failed, by backend.");
    for (uint32_t i = 0; i != n->num_backends; ++i) {
        if (!sl_gw_live_backend(in, i))
            continue;
        uint64_t v = 0;
        for (size_t s = 0; s != in->num_shards; ++s)
            if (i < in->shards[s]->num_backends)
                v += LD(in->shards[s]->backends[i].retries);
        emit(o, "sluice_upstream_retries_total{backend=\"%s\"} %" PRIu64 "\n", sl_prom_label(n->backends[i], b, sizeof(b)), v);
    }

    const sl_pool_registry_t *reg = in->registry;
    family(o, "sluice_endpoint_inflight_requests", "gauge", "Requests in flight on an endpoint (all workers).");
    for (size_t i = 0; i != reg->num_endpoints; ++i) {
        if (!sl_gw_live_endpoint(in, (uint32_t)i))
            continue;
        const sl_pool_endpoint_t *e = reg->endpoints[i];
        emit(o, "sluice_endpoint_inflight_requests{backend=\"%s\",endpoint=\"%s\"} %u\n", sl_prom_label(e->backend, b, sizeof(b)),
             sl_prom_label(e->addr.text, ep, sizeof(ep)), (unsigned)atomic_load_explicit(&e->inflight, memory_order_relaxed));
    }
    family(o, "sluice_endpoint_up", "gauge", "1 when the endpoint is in rotation, 0 when ejected or unhealthy.");
    for (size_t i = 0; i != reg->num_endpoints; ++i) {
        if (!sl_gw_live_endpoint(in, (uint32_t)i))
            continue;
        const sl_pool_endpoint_t *e = reg->endpoints[i];
        emit(o, "sluice_endpoint_up{backend=\"%s\",endpoint=\"%s\"} %d\n", sl_prom_label(e->backend, b, sizeof(b)),
             sl_prom_label(e->addr.text, ep, sizeof(ep)), atomic_load_explicit(&e->out, memory_order_relaxed) == 0);
    }
    family(o, "sluice_endpoint_ejections_total", "counter",
           "Times an endpoint left rotation, by reason (outlier: failed requests; health: failed checks).");
    for (size_t i = 0; i != reg->num_endpoints; ++i) {
        if (!sl_gw_live_endpoint(in, (uint32_t)i))
            continue;
        const sl_pool_endpoint_t *e = reg->endpoints[i];
        sl_prom_label(e->backend, b, sizeof(b));
        sl_prom_label(e->addr.text, ep, sizeof(ep));
        emit(o, "sluice_endpoint_ejections_total{backend=\"%s\",endpoint=\"%s\",reason=\"outlier\"} %" PRIu64 "\n", b, ep,
             e->ejections_outlier);
        emit(o, "sluice_endpoint_ejections_total{backend=\"%s\",endpoint=\"%s\",reason=\"health\"} %" PRIu64 "\n", b, ep,
             e->ejections_health);
    }
    render_pools(o, in);
    family(o, "sluice_backend_saturation", "gauge",
           "In-flight requests over capacity (max_concurrency x endpoints) of backends that set max_concurrency.");
    if (in->gen != NULL)
        for (size_t i = 0; i != in->gen->conf->num_backends; ++i) {
            const sl_gw_backend_rt_t *bk = in->gen->backends + i;
            if (bk->conf->max_concurrency == 0 || bk->num_endpoints == 0)
                continue;
            uint64_t inflight = 0;
            for (size_t k = 0; k != bk->num_endpoints; ++k)
                inflight += atomic_load_explicit(&bk->endpoints[k]->inflight, memory_order_relaxed);
            emit(o, "sluice_backend_saturation{backend=\"%s\"} %.6f\n", sl_prom_label(bk->conf->name, b, sizeof(b)),
                 (double)inflight / ((double)bk->conf->max_concurrency * (double)bk->num_endpoints));
        }
}

static void render_process(out_t *o, const sl_gw_metrics_input_t *in)
{
    family(o, "sluice_open_connections", "gauge", "Client connections open on the data-plane listeners.");
    emit(o, "sluice_open_connections %" PRIu64 "\n", in->open_connections);
    family(o, "sluice_busy_poll_idle_seconds_total", "counter",
           "Time workers spent polling without sleeping (server.busy_poll) and found nothing: its CPU cost.");
    emit(o, "sluice_busy_poll_idle_seconds_total %.6f\n", (double)in->busy_poll_idle_us / 1e6);
    family(o, "sluice_accept_pauses_total", "counter",
           "Times a listener stopped accepting for 100 ms because accept failed for want of file descriptors or memory.");
    emit(o, "sluice_accept_pauses_total{listener=\"data\"} %" PRIu64 "\n", in->accept_pauses_data);
    emit(o, "sluice_accept_pauses_total{listener=\"admin\"} %" PRIu64 "\n", in->accept_pauses_admin);
    family(o, "sluice_max_connections", "gauge",
           "Client connections the data-plane workers accept at most (server.max_connections; 0: no cap).");
    emit(o, "sluice_max_connections %" PRIu64 "\n", in->max_connections);
    family(o, "sluice_connection_cap_reached_total", "counter",
           "Times a worker stopped accepting because it held its share of server.max_connections.");
    emit(o, "sluice_connection_cap_reached_total %" PRIu64 "\n", in->connection_caps);
    family(o, "sluice_config_generation", "gauge", "Generation of the config in force (1 = the one loaded at start).");
    emit(o, "sluice_config_generation %" PRIu64 "\n", in->generation);
    family(o, "sluice_config_reloads_total", "counter", "Config reloads, by result.");
    emit(o, "sluice_config_reloads_total{result=\"ok\"} %" PRIu64 "\n", in->reloads_ok);
    emit(o, "sluice_config_reloads_total{result=\"error\"} %" PRIu64 "\n", in->reloads_failed);
    if (in->has_process) {
        family(o, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
        emit(o, "process_cpu_seconds_total %.2f\n", in->cpu_seconds);
        family(o, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
        emit(o, "process_resident_memory_bytes %" PRIu64 "\n", in->rss_bytes);
        family(o, "process_open_fds", "gauge", "Number of open file descriptors.");
        emit(o, "process_open_fds %" PRIu64 "\n", in->open_fds);
        family(o, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
        emit(o, "process_max_fds %" PRIu64 "\n", in->max_fds);
        family(o, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
        emit(o, "process_start_time_seconds %.3f\n", in->start_time_seconds);
    }
    if (in->has_alloc) {
        family(o, "sluice_jemalloc_allocated_bytes", "gauge", "Bytes allocated by the application (jemalloc).");
        emit(o, "sluice_jemalloc_allocated_bytes %" PRIu64 "\n", in->alloc_allocated);
        family(o, "sluice_jemalloc_resident_bytes", "gauge", "Bytes in physically resident data pages (jemalloc).");
        emit(o, "sluice_jemalloc_resident_bytes %" PRIu64 "\n", in->alloc_resident);
    }
}

int sl_gw_metrics_render(const sl_gw_metrics_input_t *in, sl_buf_t *out)
{
    out_t o = {out, 0};
    render_requests(&o, in);
    render_histograms(&o, in);
    render_backends(&o, in);
    if (o.err == 0)
        o.err = sl_gw_metrics_render_cascade(in, out);
    render_process(&o, in);
    return o.err;
}

void sl_gw_metrics_read_process(sl_gw_metrics_input_t *in)
{
    in->has_process = 0;
    FILE *fp = fopen("/proc/self/stat", "r");
    if (fp == NULL)
        return;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    /* fields after the command name (which may hold spaces) start after the last ')' */
    char *p = strrchr(buf, ')');
    unsigned long long utime, stime, start;
    long rss;
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu %*u %ld",
                            &utime, &stime, &start, &rss) != 4)
        return;
    long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    in->cpu_seconds = (double)(utime + stime) / (double)tck;
    in->rss_bytes = (uint64_t)rss * (uint64_t)page;
    /* start time: boot time + start ticks */
    double btime = 0;
    if ((fp = fopen("/proc/stat", "r")) != NULL) {
        char line[256];
        while (fgets(line, sizeof(line), fp) != NULL)
            if (sscanf(line, "btime %lf", &btime) == 1)
                break;
        fclose(fp);
    }
    in->start_time_seconds = btime + (double)start / (double)tck;
    in->open_fds = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d != NULL) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL)
            if (de->d_name[0] != '.')
                ++in->open_fds;
        closedir(d);
        if (in->open_fds != 0)
            --in->open_fds; /* the directory stream itself */
    }
    struct rlimit rl;
    in->max_fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (uint64_t)rl.rlim_cur : 0;
    in->has_process = 1;
}
