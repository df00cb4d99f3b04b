/*
 * metrics.h - /metrics in the Prometheus text exposition format 0.0.4, rendered on the control thread from the
 * workers' shards (summed), the endpoint registry and process figures. Label values are bounded by the config:
 * route, backend, endpoint (an address of a backend), status class, failure kind, token direction.
 *
 * Histograms come from stats/hist (log-linear, mergeable); their `le` bounds are exact bucket edges of it, so
 * every cumulative count is exact: LLM-scale latency buckets from 1 ms to 10 min (time to first token, end to end,
 * upstream), 1 ms to 5 s for time per output token, and 5 µs to 100 ms for the gateway's own overhead.
 */
#ifndef SL_GATEWAY_METRICS_H
#define SL_GATEWAY_METRICS_H

#include "backends/pool-t.h"
#include "common/str.h"
#include "gateway/gw-t.h"

typedef struct st_sl_gw_metrics_input_t {
    const sl_gw_names_t *names;
    sl_gw_shard_t *const *shards; /* one per worker (read with relaxed loads while workers write) */
    size_t num_shards;
    const sl_pool_registry_t *registry;
    const sl_gw_gen_t *gen; /* the published generation: max_concurrency of each backend (may be NULL) */
    const sl_gw_live_t *live; /* only the ids it marks are rendered; NULL: every name */
    uint64_t generation;
    uint64_t reloads_ok, reloads_failed;
    uint64_t open_connections;
    uint64_t busy_poll_idle_us; /* every worker's sl_busy_poll_t.idle_us */
    uint64_t log_write_dropped; /* access-log lines the writer thread could not write */
    uint64_t accept_pauses_data, accept_pauses_admin; /* sl_worker_t.accept_pauses of the workers, of the control */
    uint64_t max_connections;                         /* the workers' cap times their number; 0: none */
    uint64_t connection_caps;                         /* sl_worker_t.conn_caps of the workers */
    int has_process; /* process_* figures below are valid */
    double cpu_seconds;
    uint64_t rss_bytes;
    uint64_t open_fds;
    uint64_t max_fds; /* the soft RLIMIT_NOFILE */
    double start_time_seconds;
    int has_alloc; /* jemalloc figures below are valid */
    uint64_t alloc_allocated, alloc_resident;
} sl_gw_metrics_input_t;

/* Whether the series of a route, backend, (route, backend) series or endpoint id are rendered (in->live). */
static inline int sl_gw_live_route(const sl_gw_metrics_input_t *in, uint32_t id)
{
    return in->live == NULL || in->live->routes[id];
}

static inline int sl_gw_live_backend(const sl_gw_metrics_input_t *in, uint32_t id)
{
    return in->live == NULL || in->live->backends[id];
}

static inline int sl_gw_live_series(const sl_gw_metrics_input_t *in, uint32_t id)
{
    return in->live == NULL || in->live->series[id];
}

static inline int sl_gw_live_endpoint(const sl_gw_metrics_input_t *in, uint32_t id)
{
    return in->live == NULL || in->live->endpoints[id];
}

/* Appends the whole exposition to out. Returns SL_OK, or SL_ENOMEM when out's cap was reached. Control thread. */
int sl_gw_metrics_render(const sl_gw_metrics_input_t *in, sl_buf_t *out);

/* The cascade's families (metrics_cascade.c): answers by tier, escalations, signals, costs. Same contract. */
int sl_gw_metrics_render_cascade(const sl_gw_metrics_input_t *in, sl_buf_t *out);

/* Fills the process_* fields of in from /proc/self (has_process = 0 when unreadable). */
void sl_gw_metrics_read_process(sl_gw_metrics_input_t *in);

#endif
