/*
 * server.c - see server.h.
 *
 * Threads: sl_server_open/start/stop run on the main thread; everything else in this file runs on a worker, which
 * owns its loop, context, listeners and connection count. Cross-thread traffic is the shutdown flag (atomic) and
 * wake-ups through each worker's h2o_multithread receiver.
 */
#include "gateway/server.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/status.h"
#include "conf/addr.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

void sl_server_block_signals(void)
{
    sigset_t set;
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int sl_server_wait_signal(void)
{
    sigset_t set;
    int sig = 0;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    while (sigwait(&set, &sig) != 0)
        ;
    return sig;
}

static int open_one(const struct sockaddr *sa, socklen_t len, int reuseport, char *err, size_t errlen)
{
    int fd, on = 1;
    char text[128];
    if ((fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
        goto Error;
    if (sa->sa_family != AF_UNIX) {
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0)
            goto Error;
        if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0)
            goto Error;
        if (sa->sa_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
    } else {
        /* a stale socket file from an earlier run is removed; any other kind of file is left alone */
        struct stat st;
        const char *path = ((const struct sockaddr_un *)sa)->sun_path;
        if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
            unlink(path);
    }
    if (bind(fd, sa, len) != 0 || listen(fd, H2O_SOMAXCONN) != 0)
        goto Error;
    return fd;
Error:
    snprintf(err, errlen, "listen %s: %s", sl_conf_addr_format(sa, len, text, sizeof(text)), strerror(errno));
    if (fd != -1)
        close(fd);
    return -1;
}

/* The soft RLIMIT_NOFILE up to the hard limit (an unlimited hard limit: up to the kernel's fs.nr_open). */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == rl.rlim_max)
        return;
    rlim_t was = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (rl.rlim_cur == RLIM_INFINITY) {
        unsigned long nr_open = 1048576;
        FILE *f = fopen("/proc/sys/fs/nr_open", "r");
        if (f != NULL) {
            if (fscanf(f, "%lu", &nr_open) != 1)
                nr_open = 1048576;
            fclose(f);
        }
        rl.rlim_cur = (rlim_t)nr_open;
    }
    if (rl.rlim_cur <= was)
        return;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        SL_LOG(SL_LOG_WARN, "server", "could not raise the open files limit from %llu: %s", (unsigned long long)was,
               strerror(errno));
        return;
    }
    SL_LOG(SL_LOG_DEBUG, "server", "open files limit raised from %llu to %llu", (unsigned long long)was,
           (unsigned long long)rl.rlim_cur);
}

int sl_server_open(sl_server_t *s, char *err, size_t errlen)
{
    static pthread_once_t nofile_once = PTHREAD_ONCE_INIT;
    pthread_once(&nofile_once, raise_nofile);
    if (s->num_threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        s->num_threads = n < 1 ? 1 : (size_t)n;
    }
    if (s->num_threads > SL_SERVER_MAX_THREADS)
        s->num_threads = SL_SERVER_MAX_THREADS;
    if (s->num_listen > SL_SERVER_MAX_LISTEN) {
        snprintf(err, errlen, "at most %d listen addresses", SL_SERVER_MAX_LISTEN);
        return SL_EINVAL;
    }
    for (size_t i = 0; i != s->num_listen; ++i)
        for (size_t t = 0; t != SL_SERVER_MAX_THREADS; ++t)
            s->fds[i][t] = -1;

    for (size_t i = 0; i != s->num_listen; ++i) {
        const sl_conf_addr_t *a = s->listen + i;
        memcpy(&s->bound[i], &a->sa, a->salen);
        s->bound_len[i] = a->salen;
        for (size_t t = 0; t != s->num_threads; ++t) {
            int fd;
            if (a->family == AF_UNIX && t != 0) {
                fd = dup(s->fds[i][0]);
            } else {
                fd = open_one((struct sockaddr *)&s->bound[i], s->bound_len[i], 1, err, errlen);
                if (fd != -1 && t == 0 && a->family != AF_UNIX) {
                    /* resolve port 0 once so every worker binds the same port */
                    socklen_t l = sizeof(s->bound[i]);
                    getsockname(fd, (struct sockaddr *)&s->bound[i], &l);
                    s->bound_len[i] = l;
                }
            }
            if (fd == -1) {
                for (size_t j = 0; j <= i; ++j)
                    for (size_t u = 0; u != SL_SERVER_MAX_THREADS; ++u)
                        if (s->fds[j][u] != -1) {
                            close(s->fds[j][u]);
                            s->fds[j][u] = -1;
                        }
                return SL_EIO;
            }
            s->fds[i][t] = fd;
        }
    }
    return SL_OK;
}

const char *sl_server_bound_text(sl_server_t *s, size_t i, char *buf, size_t bufsz)
{
    return sl_conf_addr_format((struct sockaddr *)&s->bound[i], s->bound_len[i], buf, bufsz);
}

uint16_t sl_server_bound_port(sl_server_t *s, size_t i)
{
    const struct sockaddr *sa = (const struct sockaddr *)&s->bound[i];
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err);
static void update_accepting(sl_worker_t *w);

static void on_conn_close(void *data)
{
    sl_worker_t *w = data;
    --w->num_conns;
    if (w->capped)
        update_accepting(w); /* one below the cap: accept again */
}

static const char *worker_name(sl_worker_t *w)
{
    return w->server->name != NULL ? w->server->name : "worker";
}

/* Counts an event in *count (published, relaxed, for /metrics) and says whether to report it: the first time, then
 * at most every SL_SERVER_ACCEPT_LOG_MS, with "; N <what> since the last report" in since from the second on. */
static int count_and_report(sl_worker_t *w, uint64_t *count, uint64_t *logged, uint64_t *logged_ms, const char *what,
                            char *since, size_t size)
{
    uint64_t n = __atomic_add_fetch(count, 1, __ATOMIC_RELAXED), now = h2o_now(w->ctx.loop);
    if (*logged != 0 && now - *logged_ms < SL_SERVER_ACCEPT_LOG_MS)
        return 0;
    since[0] = '\0';
    if (*logged != 0)
        snprintf(since, size, "; %llu %s since the last report", (unsigned long long)(n - *logged), what);
    *logged = n;
    *logged_ms = now;
    return 1;
}

/* Reads the listeners, or stops, as the accept pause and the connection cap say. Called when one of them may have
 * changed: a pause starts or ends, the cap is reached (on_accept), a connection closes while capped, the cap changes
 * (seen before a loop iteration). */
static void update_accepting(sl_worker_t *w)
{
    uint32_t cap = atomic_load_explicit(&w->server->max_conns, memory_order_relaxed);
    w->cap_seen = cap;
    int capped = cap != 0 && w->num_conns >= cap;
    if (capped != w->capped) {
        char since[64];
        w->capped = capped;
        if (capped &&
            count_and_report(w, &w->conn_caps, &w->conn_caps_logged, &w->conn_cap_logged_ms, "times", since, sizeof(since)))
            SL_LOG(SL_LOG_WARN, "server",
                   "%s-%zu: %zu connections open, its share of server.max_connections: new connections wait in the "
                   "listen queue until one closes (reported at most every %d s%s)",
                   worker_name(w), w->idx, w->num_conns, SL_SERVER_ACCEPT_LOG_MS / 1000, since);
    }
    int want = !capped && !h2o_timeout_is_linked(&w->accept_resume);
    if (want == w->accepting)
        return;
    w->accepting = want;
    for (size_t i = 0; i != w->server->num_listen; ++i) {
        if (w->listeners[i] == NULL)
            continue;
        if (want)
            h2o_socket_read_start(w->listeners[i], on_accept);
        else
            h2o_socket_read_stop(w->listeners[i]);
    }
}

static void on_accept_resume(h2o_timeout_entry_t *entry)
{
    update_accepting(H2O_STRUCT_FROM_MEMBER(sl_worker_t, accept_resume, entry));
}

/* accept(2) failed for want of descriptors or memory: the listeners stay readable, so stop reading them a while */
static void pause_accepting(sl_worker_t *w, int error)
{
    char since[64];
    if (!h2o_timeout_is_linked(&w->accept_resume))
        h2o_timeout_link(w->ctx.loop, &w->ctx.hundred_ms_timeout, &w->accept_resume);
    update_accepting(w);
    if (count_and_report(w, &w->accept_pauses, &w->accept_pauses_logged, &w->accept_logged_ms, "pauses", since, sizeof(since)))
        SL_LOG(SL_LOG_WARN, "server",
               "%s-%zu: accept failed (%s): new connections wait in the listen queue, "
               "accepting pauses for %d ms at each failure (reported at most every %d s%s)",
               worker_name(w), w->idx, strerror(error), SL_SERVER_ACCEPT_PAUSE_MS, SL_SERVER_ACCEPT_LOG_MS / 1000, since);
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    sl_worker_t *w = listener->data;
    if (err != NULL)
        return;
    uint32_t cap = atomic_load_explicit(&w->server->max_conns, memory_order_relaxed);
    for (int i = 0; i != 64; ++i) { /* a bounded batch, then back to the loop so other work is not starved */
        if (cap != 0 && w->num_conns >= cap) {
            update_accepting(w);
            break;
        }
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                pause_accepting(w, errno);
            break;
        }
        ++w->num_conns;
        sock->on_close.cb = on_conn_close;
        sock->on_close.data = w;
        if (w->server->on_accept != NULL)
            w->server->on_accept(&w->accept_ctx, sock);
        else
            h2o_accept(&w->accept_ctx, sock);
    }
}

static void on_wakeup(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    /* pure wake-ups carry no message; anything else would be a bug in a sender, but drain it to keep h2o's assert */
    while (!h2o_linklist_is_empty(messages))
        h2o_linklist_unlink(messages->next);
    (void)receiver;
}

static int default_is_drained(sl_worker_t *w)
{
    return w->num_conns == 0;
}

static void *worker_main(void *arg)
{
    sl_worker_t *w = arg;
    sl_server_t *s = w->server;

    if (s->name != NULL) {
        char name[16];
        snprintf(name, sizeof(name), "%s-%zu", s->name, w->idx);
        pthread_setname_np(pthread_self(), name);
    }
    h2o_context_init(&w->ctx, h2o_evloop_create(), s->h2o);
    h2o_multithread_register_receiver(w->ctx.queue, &w->wakeup, on_wakeup);
    w->accept_ctx.ctx = &w->ctx;
    w->accept_ctx.hosts = s->h2o->hosts;
    w->accept_ctx.ssl_ctx = s->ssl_ctx;
    w->accept_resume.cb = on_accept_resume;
    if (s->on_worker_init != NULL)
        s->on_worker_init(w);
    for (size_t i = 0; i != s->num_listen; ++i) {
        w->listeners[i] = h2o_evloop_socket_create(w->ctx.loop, s->fds[i][w->idx], H2O_SOCKET_FLAG_DONT_READ);
        w->listeners[i]->data = w;
        h2o_socket_read_start(w->listeners[i], on_accept);
    }
    w->accepting = 1;
    pthread_barrier_wait(&s->started);

    sl_busy_poll_t busy = {.seen = w->ctx.loop->exec_time_counter.prev.index};
    while (!atomic_load_explicit(&s->shutdown, memory_order_acquire)) {
        if (s->on_worker_loop != NULL)
            s->on_worker_loop(w);
        if (atomic_load_explicit(&s->max_conns, memory_order_relaxed) != w->cap_seen)
            update_accepting(w); /* a reload changed the cap */
        h2o_evloop_run(w->ctx.loop, busy.polling ? 0 : INT32_MAX);
        uint32_t window = atomic_load_explicit(&s->busy_poll_us, memory_order_relaxed);
        if (window != 0 || busy.polling) {
            sl_busy_poll_wait(&busy, window, w->ctx.loop->exec_time_counter.prev.index, sl_clock_now_us());
            __atomic_store_n(&w->busy_poll_idle_us, busy.idle_us, __ATOMIC_RELAXED);
        }
    }

    if (h2o_timeout_is_linked(&w->accept_resume))
        h2o_timeout_unlink(&w->accept_resume);
    for (size_t i = 0; i != s->num_listen; ++i) {
        h2o_socket_read_stop(w->listeners[i]);
        h2o_socket_close(w->listeners[i]);
        w->listeners[i] = NULL;
    }
    h2o_context_request_shutdown(&w->ctx);
    int (*drained)(sl_worker_t *) = s->is_drained != NULL ? s->is_drained : default_is_drained;
    uint64_t deadline = h2o_now(w->ctx.loop) + s->drain_timeout_ms;
    while (!drained(w) && h2o_now(w->ctx.loop) < deadline) {
        if (s->on_worker_loop != NULL)
            s->on_worker_loop(w);
        h2o_evloop_run(w->ctx.loop, 50);
    }
    if (!drained(w))
        SL_LOG(SL_LOG_WARN, "server", "worker %zu: drain deadline passed with %zu connections open", w->idx,
               w->num_conns);
    if (s->on_worker_exit != NULL)
        s->on_worker_exit(w);
    return NULL;
}

int sl_server_start(sl_server_t *s)
{
    s->workers = sl_calloc(s->num_threads, sizeof(*s->workers));
    pthread_barrier_init(&s->started, NULL, (unsigned)s->num_threads + 1);
    for (size_t i = 0; i != s->num_threads; ++i) {
        sl_worker_t *w = s->workers + i;
        w->server = s;
        w->idx = i;
        h2o_multithread_create_thread(&w->tid, NULL, worker_main, w);
    }
    pthread_barrier_wait(&s->started);
    return SL_OK;
}

void sl_server_wake_all(sl_server_t *s)
{
    for (size_t i = 0; i != s->num_threads; ++i)
        h2o_multithread_send_message(&s->workers[i].wakeup, NULL);
}

void sl_server_stop(sl_server_t *s)
{
    atomic_store_explicit(&s->shutdown, 1, memory_order_release);
    sl_server_wake_all(s);
    for (size_t i = 0; i != s->num_threads; ++i)
        pthread_join(s->workers[i].tid, NULL);
}
