/*
 * server.h - the HTTP server bootstrap shared by `sluice run` and `sluice sim`.
 *
 * N worker threads, each with its own h2o evloop and context, each with its own SO_REUSEPORT listener per address
 * (unix sockets: one socket, dup'ed per worker). The caller configures the h2o_globalconf_t (hosts, handlers) before
 * sl_server_start(); the server only owns sockets, threads and the drain. Signals are handled on the calling thread
 * with sigwait (never in a signal handler): call sl_server_block_signals() before creating any thread.
 *
 * Shutdown (sl_server_stop): every worker closes its listeners, asks h2o to wind down (HTTP/2 GOAWAY, HTTP/1
 * "connection: close" on later responses), then runs its loop until is_drained() says so or drain_timeout_ms passes.
 *
 * Out of descriptors. A listener stays readable while accept(2) fails with EMFILE, ENFILE, ENOBUFS or ENOMEM, and
 * a level-triggered loop would spin on it at full CPU. The worker stops reading its listeners for
 * SL_SERVER_ACCEPT_PAUSE_MS instead (the kernel keeps the waiting connections in the listen queue), counts the
 * pause and logs it at most every SL_SERVER_ACCEPT_LOG_MS. sl_server_open raises the soft RLIMIT_NOFILE to the
 * hard limit first. The connection cap (max_conns) stops the listeners the same way while a worker holds that many
 * connections, until one closes.
 */
#ifndef SL_GATEWAY_SERVER_H
#define SL_GATEWAY_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <h2o.h>

#include "conf/conf-t.h"

#define SL_SERVER_MAX_THREADS 64
#define SL_SERVER_MAX_LISTEN 16
#define SL_SERVER_ACCEPT_PAUSE_MS 100 /* the pause runs on the h2o context's hundred_ms_timeout */
#define SL_SERVER_ACCEPT_LOG_MS 10000

typedef struct st_sl_server_t sl_server_t;

typedef struct st_sl_worker_t {
    sl_server_t *server;
    size_t idx;
    pthread_t tid;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listeners[SL_SERVER_MAX_LISTEN];
    h2o_multithread_receiver_t wakeup;
    size_t num_conns; /* accepted connections still open; this worker only */
    uint64_t busy_poll_idle_us; /* sl_busy_poll_t.idle_us, published (relaxed) for /metrics */
    /* accepting paused after accept(2) failed for want of descriptors or memory (SL_SERVER_ACCEPT_PAUSE_MS) */
    uint64_t accept_pauses; /* how often; published (relaxed) for /metrics */
    h2o_timeout_entry_t accept_resume; /* on the context's hundred_ms_timeout */
    uint64_t accept_pauses_logged, accept_logged_ms;
    /* accepting stopped while the worker holds max_conns connections */
    uint64_t conn_caps; /* how often; published (relaxed) for /metrics */
    uint64_t conn_caps_logged, conn_cap_logged_ms;
    int accepting, capped; /* the listeners are read; the cap stopped them */
    uint32_t cap_seen;     /* the max_conns update_accepting last applied */
    void *data;       /* the application's per-worker state */
} sl_worker_t;

struct st_sl_server_t {
    /* set by the caller before sl_server_open() */
    h2o_globalconf_t *h2o;          /* borrowed; fully configured before start */
    const sl_conf_addr_t *listen;   /* borrowed */
    size_t num_listen;
    size_t num_threads;             /* 0 = one per online core */
    void *ssl_ctx;                  /* SSL_CTX *, or NULL for cleartext (HTTP/1.1 + h2c prior knowledge) */
    uint32_t drain_timeout_ms;
    const char *name;               /* worker threads are named "<name>-<idx>" (at most 15 bytes); NULL: unnamed */
    void *data;
    void (*on_accept)(h2o_accept_ctx_t *ctx, h2o_socket_t *sock); /* NULL: h2o_accept */
    void (*on_worker_init)(sl_worker_t *w);  /* on the worker thread, after h2o_context_init */
    void (*on_worker_loop)(sl_worker_t *w);  /* on the worker thread before every loop iteration (quiescent point) */
    int (*is_drained)(sl_worker_t *w);       /* default: no connection left */
    void (*on_worker_exit)(sl_worker_t *w);  /* on the worker thread after the drain */
    /* may change at any time (a reload): see sl_busy_poll_wait() */
    _Atomic uint32_t busy_poll_us;
    /* client connections per worker, 0 for no cap; may change at any time (a reload). A worker holding this many
     * stops reading its listeners until one closes (new connections wait in the listen queue). */
    _Atomic uint32_t max_conns;
    /* private */
    int fds[SL_SERVER_MAX_LISTEN][SL_SERVER_MAX_THREADS];
    struct sockaddr_storage bound[SL_SERVER_MAX_LISTEN];
    socklen_t bound_len[SL_SERVER_MAX_LISTEN];
    sl_worker_t *workers;
    pthread_barrier_t started;
    _Atomic int shutdown;
};

/*
 * Busy polling (server.busy_poll). A worker that goes to sleep in epoll_wait and is woken by the next packet pays
 * the kernel's sleep and wake-up, and on a virtual machine an idle virtual CPU's halt and resumption, on every
 * exchange: at one connection that is most of the latency a proxy adds. With a window set, a worker whose last
 * loop iteration handled events polls without sleeping (epoll_wait with a zero timeout) until window_us have passed
 * with none; then it sleeps as usual. An idle worker never spins; a worker under steady light load keeps a core
 * busy. events_mark is anything that changes whenever an iteration handled events (h2o's loop counts them in
 * exec_time_counter.prev.index). Returns the max_wait for the next h2o_evloop_run(): 0 or INT32_MAX.
 */
typedef struct st_sl_busy_poll_t {
    uint64_t until_us;
    size_t seen;
    int polling;      /* the iteration after the last call polls (max_wait 0) rather than sleeps */
    uint64_t last_us; /* the time of the last call: when that iteration started */
    uint64_t idle_us; /* time spent in polls that found nothing: what busy polling cost beyond its catches */
} sl_busy_poll_t;

static inline int32_t sl_busy_poll_wait(sl_busy_poll_t *bp, uint32_t window_us, size_t events_mark, uint64_t now_us)
{
    if (events_mark != bp->seen) {
        bp->seen = events_mark;
        bp->until_us = now_us + window_us;
    } else if (bp->polling) {
        bp->idle_us += now_us - bp->last_us;
    }
    bp->last_us = now_us;
    bp->polling = now_us < bp->until_us;
    return bp->polling ? 0 : INT32_MAX;
}

/* Blocks SIGINT, SIGTERM, SIGHUP, SIGUSR1 and ignores SIGPIPE in the calling thread (inherited by threads created
 * afterwards). Call first in main(). */
void sl_server_block_signals(void);

/* Raises the soft limit on open files to the hard limit (once per process; a failure is logged, not fatal) and
 * opens every listener socket for every worker on the calling thread, so bind errors are reported before anything
 * starts. A port of 0 is resolved once and the same port used for every worker. Returns SL_OK, or SL_EIO with a
 * message in err (everything opened so far closed). */
int sl_server_open(sl_server_t *s, char *err, size_t errlen);

/* The address listener i is bound to (after sl_server_open), formatted into buf. */
const char *sl_server_bound_text(sl_server_t *s, size_t i, char *buf, size_t bufsz);
uint16_t sl_server_bound_port(sl_server_t *s, size_t i);

/* The client connections the workers accept at most (max_conns times the workers), 0 for no cap. Any thread. */
static inline uint64_t sl_server_max_connections(sl_server_t *s)
{
    return (uint64_t)atomic_load_explicit(&s->max_conns, memory_order_relaxed) * s->num_threads;
}

/* Starts the workers and returns when every worker is accepting. */
int sl_server_start(sl_server_t *s);

/* Waits for a signal on the calling thread and returns it (SIGINT, SIGTERM, SIGHUP or SIGUSR1). */
int sl_server_wait_signal(void);

/* Wakes every worker's loop (e.g. after publishing a new snapshot). Any thread. */
void sl_server_wake_all(sl_server_t *s);

/* Graceful stop: close listeners, drain, join the threads. Main thread. */
void sl_server_stop(sl_server_t *s);

static inline sl_worker_t *sl_worker_of(h2o_context_t *ctx)
{
    return H2O_STRUCT_FROM_MEMBER(sl_worker_t, ctx, ctx);
}

#endif
