/*
 * gw-t.h - the data plane's types: the process object, the published generation (a config snapshot plus what
 * the gateway derives from it), per-worker state and the per-worker metric shards.
 *
 * Threads and ownership (fields are grouped by the thread that writes them):
 *   sl_gw_t          created by main(); its control part is written only by the control thread.
 *   sl_gw_gen_t      built by the control thread, published through gw->slot, then immutable; workers pin it
 *                    per request (conf/snapshot.h). Its dispose may run on any thread.
 *   sl_gw_worker_t   written only by its worker, except the shard pointer and the retired-shard stack which the
 *                    control thread reads (acquire) and pops.
 *   sl_gw_shard_t    counters written by one worker (relaxed load + store, no locked instruction), read by the
 *                    control thread when it renders /metrics.
 */
#ifndef SL_GATEWAY_GW_T_H
#define SL_GATEWAY_GW_T_H

#include <stdatomic.h>
#include <stdint.h>
#include <h2o.h>

#include "backends/pool-t.h"
#include "conf/conf-t.h"
#include "conf/snapshot-t.h"
#include "gateway/server.h"
#include "gateway/upclient-t.h"
#include "stats/hist-t.h"

#define SL_GW_MAX_WORKERS 64
#define SL_GW_LOG_BUF (64 * 1024)          /* an access-log buffer */
#define SL_GW_LOG_SLOTS 4                  /* access-log buffers per worker: one filling, the rest for the writer */
#define SL_GW_LOG_LINE_MAX 8192            /* one access-log line never exceeds this */
#define SL_GW_HIGH_WATER (256 * 1024)      /* upstream bytes waiting for the client before reads pause */
#define SL_GW_UPSTREAM_RCVBUF (256 * 1024) /* SO_RCVBUF of upstream connections (the kernel doubles it) */
#define SL_GW_MAX_BUFFERED (1u << 20)      /* larger answers of known length stream instead of being held back */
#define SL_GW_REQUEST_ID_MAX 128           /* longest x-request-id taken from a client */
#define SL_GW_KEEPALIVE_MS 2000            /* idle upstream connections are closed after this */
#define SL_GW_QUEUE_POLL_MS 5              /* queued requests look for a slot freed by another worker this often */
#define SL_GW_MAX_TIMEOUT_CLASSES 128      /* distinct timeout durations per worker */
#define SL_GW_BUFFER_RECYCLE 256           /* freed socket buffers a worker keeps for reuse (h2o keeps 16) */

/* Status classes of the requests counter: index status / 100 (1..5); 0 holds anything else. */
#define SL_GW_CLASSES 6

typedef struct st_sl_gw_t sl_gw_t;
typedef struct st_sl_gw_worker_t sl_gw_worker_t;
struct st_sl_gw_slo_gen_t; /* gateway/slo_glue-t.h */
struct st_sl_gw_slo_t;
struct st_sl_gw_rollouts_t; /* gateway/rollout_glue-t.h */
struct st_sl_gw_mon_gen_t;  /* gateway/monitor_glue-t.h */
struct st_sl_gw_monitor_t;

/* An access-log destination shared by the generations that name the same path. */
typedef struct st_sl_gw_log_target_t {
    _Atomic uint32_t refs;
    int fd;      /* -1 = logging off */
    int owns_fd; /* 0 for stderr */
    int is_pipe; /* a pipe or FIFO: written PIPE_BUF at most at a time, so lines from elsewhere never land inside one */
    char *path;  /* owned; NULL when off */
} sl_gw_log_target_t;

/* An access-log buffer handed from a worker to the log writer thread (gateway/access_log.h). */
typedef struct st_sl_gw_log_slot_t {
    char *buf; /* SL_GW_LOG_BUF bytes, the worker's */
    size_t len;
    sl_gw_log_target_t *target; /* one reference while the slot waits for the writer */
} sl_gw_log_slot_t;

/* One backend of a generation. */
typedef struct st_sl_gw_backend_rt_t {
    const sl_conf_backend_t *conf;  /* borrowed from the generation's conf */
    uint32_t id;                    /* stable metric id (gw->names) */
    sl_pool_endpoint_t **endpoints; /* registry entries, parallel to conf->endpoints */
    size_t num_endpoints;
    const char *model_json; /* conf->model as a JSON string, quotes included; NULL = no rewrite */
    size_t model_json_len;
} sl_gw_backend_rt_t;

/* One route of a generation. */
typedef struct st_sl_gw_route_rt_t {
    const sl_conf_route_t *conf;
    uint32_t id;      /* stable metric id */
    uint32_t *series; /* [num_tiers]: stable (route, tier backend) series id */
} sl_gw_route_rt_t;

/* What workers see: a config and everything derived from it, published as one immutable snapshot. */
typedef struct st_sl_gw_gen_t {
    sl_snapshot_t super;                                 /* first: conf/snapshot.h */
    sl_conf_t *conf;                                     /* one counted reference */
    sl_arena_t arena;                                    /* owns the arrays below */
    sl_gw_backend_rt_t *backends;                        /* parallel to conf->backends */
    sl_gw_route_rt_t *routes;                            /* parallel to conf->routes */
    int needs_model;                                     /* some route matches on the JSON "model" */
    const struct st_sl_adapter_t *body_adapter; /* the adapter of every route that reads the body, when it reads in one
                                                   pass (the body is then read once, even before routing); else NULL */
    uint64_t max_body_bytes; /* server.max_body, never above its start value (h2o's limit, the HTTP/2 cut: h2_limit.h) */
    uint32_t num_series, num_route_ids, num_backend_ids; /* shard sizes this generation needs */
    uint32_t num_endpoint_ids;                           /* endpoints registered so far (their ids are below) */
    sl_gw_log_target_t *log;                             /* one reference */
    struct st_sl_gw_slo_gen_t *slo; /* SLO tracker and accuracy scaling (slo_glue.h); owned by the control thread */
    uint8_t *rollout_slot; /* [route index x SL_CONF_MAX_TIERS + tier]: rollout slot (rollout_glue.h); NULL = none */
    /* model monitoring (monitor_glue.h); owned by the control thread; NULL when no route is monitored */
    struct st_sl_gw_mon_gen_t *mon;
} sl_gw_gen_t;

/* Counters of one (route, backend) pair. */
typedef struct st_sl_gw_series_stats_t {
    uint64_t requests[SL_GW_CLASSES];
    uint64_t tokens_in, tokens_out;
    uint64_t cost_nanos;                 /* cost of this backend's attempts for this route, 10^-9 currency units */
    uint64_t answers[SL_CONF_MAX_TIERS]; /* requests this backend answered for the cascade, by tier index */
} sl_gw_series_stats_t;

/* Buckets of the cascade signal histograms (their bounds: sl_cascade_signal_bounds, gateway/cascade.h). */
#define SL_GW_SIGNAL_BUCKETS 27
#define SL_GW_ESCALATION_SLOTS 64 /* distinct (from, to, reason) escalations counted per route and worker */

/* Values of one tier's accept signal: fixed buckets fit for log-probabilities and probabilities. */
typedef struct st_sl_gw_signal_hist_t {
    uint64_t buckets[SL_GW_SIGNAL_BUCKETS + 1]; /* the last counts values above every bound */
    uint64_t count;
    uint64_t sum_bits; /* the sum, a double stored as its bits (single writer, relaxed) */
} sl_gw_signal_hist_t;

/* Escalations of one (from tier, to tier, reason) triple; key = from | to << 8 | reason << 16 (cascade.c). */
typedef struct st_sl_gw_escalation_t {
    uint32_t key;
    uint64_t count;
} sl_gw_escalation_t;

typedef struct st_sl_gw_route_stats_t {
    sl_hist_t latency; /* end to end, as the client saw it */
    sl_hist_t ttft;    /* request received -> first byte of the answer's body */
    sl_hist_t tpot;    /* gaps between two body reads of a streamed answer */
    /* the cascade: the worker appends an escalation slot (key first), then publishes num_escalations (release) */
    sl_gw_signal_hist_t signal[SL_CONF_MAX_TIERS];
    sl_gw_escalation_t escalations[SL_GW_ESCALATION_SLOTS];
    uint32_t num_escalations;
    uint64_t escalations_other;    /* escalations of triples beyond the slots */
    uint64_t cost_last_tier_nanos; /* what answered requests would have cost on the route's last tier alone */
} sl_gw_route_stats_t;

typedef struct st_sl_gw_backend_stats_t {
    sl_hist_t upstream; /* connect -> end of the upstream answer, successful attempts */
    uint64_t failures[SL_FAILURE_COUNT];
    uint64_t retries; /* requests sent again on a fresh connection after a stale keep-alive one failed */
} sl_gw_backend_stats_t;

/* A worker's metric shard, indexed by stable ids; replaced (never resized in place) when a generation needs
 * more room, so the control thread can keep reading the old one until it frees it. */
typedef struct st_sl_gw_shard_t {
    sl_gw_series_stats_t *series;
    uint32_t num_series;
    sl_gw_route_stats_t *routes;
    uint32_t num_routes;
    sl_gw_backend_stats_t *backends;
    uint32_t num_backends;
    sl_upclient_stats_t *endpoints; /* by endpoint id: the worker's connection pools count here (pool->stats) */
    uint32_t num_endpoints;
    sl_hist_t overhead;   /* time spent in the gateway itself (µs), per request */
    uint64_t unmatched;   /* 404: no route */
    uint64_t too_large;   /* 413 */
    uint64_t bad_request; /* 400 */
    uint64_t inflight;    /* client requests being served now (a gauge: the owner adds and subtracts) */
    uint64_t log_dropped; /* access-log lines lost to a failed write */
    struct st_sl_gw_shard_t *next_retired;
} sl_gw_shard_t;

/* A timeout class of one duration on one worker's loop (h2o 2.2.5 timers are per-duration lists). */
typedef struct st_sl_gw_timeout_class_t {
    uint32_t ms;
    h2o_timeout_t timeout;
} sl_gw_timeout_class_t;

struct st_sl_gw_worker_t {
    /* the snapshot reader is read by the control thread (its announced epoch): keep it on its own line */
    sl_snapshot_reader_t reader;
    /* read by the control thread */
    _Alignas(64) _Atomic(sl_gw_shard_t *) shard;
    _Atomic(sl_gw_shard_t *) retired_shards; /* replaced shards, freed by the control thread */
    /* this worker only */
    _Alignas(64) sl_gw_t *gw;
    size_t idx;
    h2o_context_t *ctx;
    uint64_t rng[4];              /* xoshiro256** */
    sl_upclient_ctx_t client_ctx; /* upstream connections (gateway/upclient.h) */
    sl_gw_timeout_class_t *timeouts[SL_GW_MAX_TIMEOUT_CLASSES];
    size_t num_timeouts;
    sl_upclient_pool_t **pools; /* by endpoint id; NULL until first used */
    size_t num_pools;
    h2o_linklist_t waiters; /* sl_proxy_t waiting for a slot, FIFO */
    uint32_t *queued;       /* by backend id: how many of the waiters wait for that backend */
    size_t num_queued;
    h2o_timeout_entry_t queue_poll;
    int in_own_start; /* set while the proxy calls h2o_start_response itself */
    char *log_buf;    /* log_slots[log_handed % SL_GW_LOG_SLOTS].buf, being filled */
    size_t log_len;
    sl_gw_log_target_t *log_target; /* where log_buf goes; one reference */
    h2o_timeout_entry_t log_flush;
    sl_gw_log_slot_t log_slots[SL_GW_LOG_SLOTS];
    /* shared with the log writer thread: buffers handed over (stored by the worker), buffers written (by the writer) */
    _Alignas(64) _Atomic uint64_t log_handed;
    _Atomic uint64_t log_written;
};

/* Stable names for metric labels: ids are assigned on the control thread when a generation first mentions a
 * name, and never reused, so counters stay monotonic across reloads. */
typedef struct st_sl_gw_names_t {
    char **routes;
    uint32_t num_routes, cap_routes;
    char **backends;
    uint32_t num_backends, cap_backends;
    struct {
        uint32_t route, backend;
    } * series;
    uint32_t num_series, cap_series;
} sl_gw_names_t;

/* The stable ids (routes, backends, series; endpoint ids of the registry) that the published generation or a
 * replaced one still held by someone names: /metrics shows only their series (gen.c). Control thread. */
typedef struct st_sl_gw_live_t {
    uint8_t *routes, *backends, *series, *endpoints; /* 1 = named, by id */
} sl_gw_live_t;

/* Active health check of one endpoint (control thread). The check copies what it needs from the config so a
 * reload while it runs changes nothing under it. */
typedef struct st_sl_gw_check_t {
    sl_gw_t *gw;
    sl_pool_endpoint_t *endpoint;
    sl_upclient_t *client;     /* non-NULL while the check runs */
    h2o_timeout_entry_t timer; /* the check's own timeout */
    h2o_iovec_t reqbuf;        /* owned */
    int status;
    sl_upclient_pool_t pool;        /* keeps no idle connection: every check connects anew */
    sl_conf_health_t settings;      /* copied when the check starts (path NULLed: it lives in reqbuf) */
    const sl_conf_health_t *health; /* &settings */
} sl_gw_check_t;

struct st_sl_gw_t {
    /* set by main() before sl_gw_start, then read-only */
    const char *conf_path; /* NULL for a built-in config (demo): reloads then re-read nothing */
    const char *ready_file;
    sl_server_t server;  /* the data-plane workers */
    sl_server_t control; /* one thread: admin listener, ticks, health checks, reloads */
    h2o_globalconf_t h2o;
    h2o_globalconf_t h2o_admin;
    void *ssl_ctx;           /* SSL_CTX *, NULL for cleartext */
    sl_gw_worker_t *workers; /* [server.num_threads], cache-line aligned inside workers_raw */
    void *workers_raw;
    sl_snapshot_slot_t slot; /* publishes sl_gw_gen_t */
    uint64_t started_ms;
    /* the access-log writer thread (access_log.h): started before the workers, stopped after them */
    pthread_t log_writer;
    int log_efd;                        /* eventfd: a worker handed a buffer over; -1 while no writer runs */
    _Atomic int log_stop;               /* the workers are gone: write what is left and end */
    _Atomic uint64_t log_write_dropped; /* lines the writer could not write (a failed write) */
    /* any thread */
    _Atomic int reload_requested; /* SIGHUP: the control thread reloads at its next loop iteration */
    _Atomic int eject_pending;    /* a worker asked for an ejection */
    /* control thread only */
    h2o_loop_t *ctl_loop;
    sl_upclient_ctx_t ctl_client_ctx; /* health checks */
    sl_gw_timeout_class_t *ctl_timeouts[SL_GW_MAX_TIMEOUT_CLASSES];
    size_t ctl_num_timeouts;
    sl_conf_t *boot_conf; /* the config the process started with (restart-only settings), one ref */
    sl_gw_names_t names;
    sl_pool_registry_t registry;
    sl_gw_check_t **checks; /* by endpoint id */
    size_t num_checks;
    h2o_timeout_entry_t tick;
    h2o_timeout_t tick_timeout;
    unsigned tick_count;
    uint64_t generation;
    uint64_t reloads_ok, reloads_failed;
    sl_gw_gen_t **replaced; /* generations a reload replaced, one reference each, until nobody else holds them */
    size_t num_replaced, cap_replaced;
    sl_gw_shard_t *shards_to_free;                      /* retired shards popped last tick: nobody can read them any more */
    sl_conf_t *(*builtin_conf)(sl_conf_errors_t *errs); /* demo: re-creates the built-in config on reload */
    struct st_sl_gw_slo_t *slo;                         /* SLO tracking, error budgets, accuracy scaling (slo_glue.h) */
    struct st_sl_gw_rollouts_t *rollouts;               /* canary rollouts (rollout_glue.h) */
    struct st_sl_gw_monitor_t *monitor;                 /* model monitoring and POST /v1/feedback (monitor_glue.h) */
};

#endif
