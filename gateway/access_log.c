/*
 * access_log.c - see access_log.h. Formatting is a handful of memcpy and integer conversions into the worker's
 * buffer; the wall-clock time is formatted once per second per worker and cached.
 */
#include "gateway/access_log.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/json_scan.h"
#include "common/status.h"
#include "gateway/cascade.h"
#include "gateway/failure.h"
#include "gateway/worker.h"
#include "router/plan.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <limits.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

/* Caps on the bytes of each string logged; escaped (at most 6 bytes per byte) they keep a line under
 * SL_GW_LOG_LINE_MAX: id 128 (validated: never escaped), method 16, path 256, names 64, tiers 48, and at most
 * SL_CONF_MAX_TIERS cascade attempts of about 260 bytes each. */
#define PATH_MAX_LOGGED 256

int sl_gw_log_target_open(const char *path, sl_gw_log_target_t **out, char *err, size_t errlen)
{
    int fd = -1, owns = 0;
    if (path != NULL && strcmp(path, "-") == 0) {
        fd = STDERR_FILENO;
    } else if (path != NULL) {
        if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) == -1) {
            snprintf(err, errlen, "server.access_log: cannot open %s: %s", path, strerror(errno));
            return SL_EIO;
        }
        owns = 1;
    }
    sl_gw_log_target_t *t = sl_calloc(1, sizeof(*t));
    atomic_init(&t->refs, 1);
    t->fd = fd;
    t->owns_fd = owns;
    struct stat st;
    t->is_pipe = fd != -1 && fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
    t->path = path != NULL ? sl_strdup(path) : NULL;
    *out = t;
    return SL_OK;
}

void sl_gw_log_target_retain(sl_gw_log_target_t *t)
{
    if (t != NULL)
        atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
}

void sl_gw_log_target_release(sl_gw_log_target_t *t)
{
    if (t == NULL || atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (t->owns_fd)
        close(t->fd);
    sl_free(t->path);
    sl_free(t);
}

static char *put(char *o, const char *s, size_t n)
{
    memcpy(o, s, n);
    return o + n;
}

#define PUT_LIT(o, lit) put((o), (lit), sizeof(lit) - 1)

static char *put_u64(char *o, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n != 0)
        *o++ = tmp[--n];
    return o;
}

/* milliseconds with microsecond precision: 12.345 */
static char *put_ms(char *o, uint64_t us)
{
    o = put_u64(o, us / 1000);
    *o++ = '.';
    unsigned frac = (unsigned)(us % 1000);
    *o++ = (char)('0' + frac / 100);
    *o++ = (char)('0' + frac / 10 % 10);
    *o++ = (char)('0' + frac % 10);
    return o;
}

static char *put_str(char *o, const char *s, size_t n, size_t cap)
{
    if (s == NULL)
        return PUT_LIT(o, "null");
    if (n > cap)
        n = cap;
    *o++ = '"';
    o += sl_json_escape(s, n, o);
    *o++ = '"';
    return o;
}

/* ,"cost":C,"escalations":N,"cascade":[{"tier","backend","verdict","reason","signal","tokens_in","tokens_out",
 * "cost"}, ...] - every attempt of the cascade in order (null values before a route matched). */
static char *put_cascade(char *o, const sl_proxy_t *p)
{
    const sl_cascade_t *c = &p->cas;
    char num[SL_CASCADE_COST_MAX];
    if (!c->planned) {
        return PUT_LIT(o, ",\"cost\":null,\"escalations\":null,\"cascade\":null");
    }
    o = PUT_LIT(o, ",\"cost\":");
    o = put(o, num, sl_cascade_cost_format(c->cost_nanos, num));
    o = PUT_LIT(o, ",\"escalations\":");
    o = put_u64(o, c->num_tries != 0 ? c->num_tries - 1 : 0);
    o = PUT_LIT(o, ",\"cascade\":[");
    for (size_t i = 0; i != c->num_tries; ++i) {
        const sl_cascade_try_t *t = &c->tries[i];
        if (i != 0)
            *o++ = ',';
        o = PUT_LIT(o, "{\"tier\":");
        o = put_u64(o, t->tier);
        o = PUT_LIT(o, ",\"backend\":");
        o = put_str(o, t->backend->name, strlen(t->backend->name), 64);
        o = PUT_LIT(o, ",\"verdict\":");
        const char *v = t->verdict == SL_CASCADE_PENDING ? "pending" : sl_router_verdict_name((enum en_sl_verdict_t)t->verdict);
        o = put_str(o, v, strlen(v), 16);
        o = PUT_LIT(o, ",\"reason\":");
        const char *r = sl_cascade_try_reason(t);
        o = put_str(o, r, strlen(r), 32);
        o = PUT_LIT(o, ",\"signal\":");
        if (t->signal_state == SL_SIGNAL_VALUE)
            o = put(o, num, sl_cascade_signal_format(t->signal, num));
        else if (t->signal_state == SL_SIGNAL_MISSING)
            o = PUT_LIT(o, "\"missing\"");
        else if (t->signal_state == SL_SIGNAL_UNPARSABLE)
            o = PUT_LIT(o, "\"unparsable\"");
        else
            o = PUT_LIT(o, "null");
        o = PUT_LIT(o, ",\"tokens_in\":");
        o = t->has_usage ? put_u64(o, t->tokens_in) : PUT_LIT(o, "null");
        o = PUT_LIT(o, ",\"tokens_out\":");
        o = t->has_usage ? put_u64(o, t->tokens_out) : PUT_LIT(o, "null");
        o = PUT_LIT(o, ",\"cost\":");
        o = put(o, num, sl_cascade_cost_format(t->cost_nanos, num));
        *o++ = '}';
    }
    *o++ = ']';
    return o;
}

/* "YYYY-MM-DDTHH:MM:SS" (19 bytes) of a wall-clock second: formatted once per second per thread */
static const char *second_text(uint64_t sec)
{
    static __thread uint64_t cached_sec = UINT64_MAX;
    static __thread char cached[32];
    if (sec != cached_sec) {
        time_t secs = (time_t)sec;
        struct tm tm;
        gmtime_r(&secs, &tm);
        strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
        cached_sec = sec;
    }
    return cached;
}

size_t sl_gw_log_format(const sl_proxy_t *p, uint64_t now_wall_ms, char *buf)
{
    char *o = buf;
    unsigned ms = (unsigned)(now_wall_ms % 1000);
    o = PUT_LIT(o, "{\"time\":\"");
    o = put(o, second_text(now_wall_ms / 1000), 19);
    *o++ = '.';
    *o++ = (char)('0' + ms / 100);
    *o++ = (char)('0' + ms / 10 % 10);
    *o++ = (char)('0' + ms % 10);
    o = PUT_LIT(o, "Z\",\"id\":");
    o = put_str(o, p->request_id.base, p->request_id.len, 128);
    o = PUT_LIT(o, ",\"method\":");
    o = put_str(o, p->req->method.base, p->req->method.len, 16);
    o = PUT_LIT(o, ",\"path\":");
    o = put_str(o, p->req->path.base, p->req->path.len, PATH_MAX_LOGGED);
    o = PUT_LIT(o, ",\"route\":");
    o = p->route != NULL ? put_str(o, p->route->conf->name, strlen(p->route->conf->name), 64) : PUT_LIT(o, "null");
    o = PUT_LIT(o, ",\"tiers\":");
    o = p->route != NULL ? put_str(o, p->tiers_tried, strlen(p->tiers_tried), 64) : PUT_LIT(o, "null");
    o = PUT_LIT(o, ",\"backend\":");
    o = p->backend != NULL ? put_str(o, p->backend->conf->name, strlen(p->backend->conf->name), 64) : PUT_LIT(o, "null");
    o = PUT_LIT(o, ",\"endpoint\":");
    o = p->endpoint != NULL ? put_str(o, p->endpoint->addr.text, strlen(p->endpoint->addr.text), 64) : PUT_LIT(o, "null");
    o = PUT_LIT(o, ",\"status\":");
    o = put_u64(o, (uint64_t)p->status);
    o = PUT_LIT(o, ",\"upstream_status\":");
    o = p->up_status != 0 ? put_u64(o, (uint64_t)p->up_status) : PUT_LIT(o, "null");
    o = PUT_LIT(o, ",\"failure\":");
    const char *f = sl_gw_failure_code(p->failure);
    o = put_str(o, f, strlen(f), 32);
    o = PUT_LIT(o, ",\"attempts\":");
    o = put_u64(o, p->attempts);
    o = PUT_LIT(o, ",\"latency_ms\":");
    o = put_ms(o, p->t_end_us - p->t_recv_us);
    o = PUT_LIT(o, ",\"upstream_ms\":");
    o = p->t_up_end_us != 0 && p->t_attempt_us != 0 ? put_ms(o, p->t_up_end_us - p->t_attempt_us) : PUT_LIT(o, "null");
    o = PUT_LIT(o, ",\"ttft_ms\":");
    o = p->t_first_byte_us != 0 ? put_ms(o, p->t_first_byte_us - p->t_recv_us) : PUT_LIT(o, "null");
    o = PUT_LIT(o, ",\"overhead_us\":");
    o = p->t_dispatch_us != 0 ? put_u64(o, p->overhead_us + (p->t_dispatch_us - p->t_recv_us)) : PUT_LIT(o, "null");
    o = PUT_LIT(o, ",\"tokens_in\":");
    o = p->usage.has_prompt ? put_u64(o, p->usage.prompt_tokens) : PUT_LIT(o, "null");
    o = PUT_LIT(o, ",\"tokens_out\":");
    o = p->usage.has_completion ? put_u64(o, p->usage.completion_tokens) : PUT_LIT(o, "null");
    o = PUT_LIT(o, ",\"bytes_in\":");
    o = put_u64(o, p->body_len);
    o = PUT_LIT(o, ",\"bytes_out\":");
    o = put_u64(o, p->bytes_out);
    o = put_cascade(o, p);
    o = PUT_LIT(o, "}\n");
    return (size_t)(o - buf);
}

static uint64_t count_lines(const char *buf, size_t len)
{
    uint64_t n = 0;
    for (const char *p = buf, *end = buf + len; (p = memchr(p, '\n', (size_t)(end - p))) != NULL; ++p)
        ++n;
    return n;
}

void sl_gw_log_flush(sl_gw_worker_t *w)
{
    if (w->log_len == 0)
        return;
    if (w->log_target == NULL || w->log_target->fd == -1) {
        w->log_len = 0;
        return;
    }
    uint64_t handed = atomic_load_explicit(&w->log_handed, memory_order_relaxed);
    if (handed - atomic_load_explicit(&w->log_written, memory_order_acquire) > SL_GW_LOG_SLOTS - 2) {
        /* every other buffer still waits for the writer (its destination is not keeping up): drop these lines
         * rather than wait */
        SL_GW_ADD(sl_gw_worker_shard(w)->log_dropped, count_lines(w->log_buf, w->log_len));
        w->log_len = 0;
        return;
    }
    sl_gw_log_slot_t *slot = &w->log_slots[handed % SL_GW_LOG_SLOTS];
    slot->len = w->log_len;
    sl_gw_log_target_retain(w->log_target);
    slot->target = w->log_target;
    atomic_store_explicit(&w->log_handed, handed + 1, memory_order_release);
    uint64_t one = 1;
    if (w->gw->log_efd != -1 && write(w->gw->log_efd, &one, sizeof(one)) < 0) {
        /* an eventfd write fails only when its counter is full: the writer has a wake-up pending anyway */
    }
    w->log_buf = w->log_slots[(handed + 1) % SL_GW_LOG_SLOTS].buf;
    w->log_len = 0;
}

/* Writes len bytes; returns how many went out before a failure. */
static size_t write_all(int fd, const char *buf, size_t len)
{
    size_t off = 0;
    while (off != len) {
        ssize_t n = write(fd, buf + off, len - off);
        if (n > 0)
            off += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else
            break;
    }
    return off;
}

/* The bytes of buf to write at once: everything, or for a pipe the whole lines that fit in PIPE_BUF (a pipe writes
 * that much atomically; a longer line goes alone). */
static size_t chunk(const sl_gw_log_target_t *t, const char *buf, size_t len)
{
    if (!t->is_pipe || len <= PIPE_BUF)
        return len;
    for (size_t i = PIPE_BUF; i != 0; --i)
        if (buf[i - 1] == '\n')
            return i;
    const char *nl = memchr(buf, '\n', len);
    return nl != NULL ? (size_t)(nl - buf) + 1 : len;
}

/* Writes the buffers a worker handed over, in order; a failed write loses the lines it did not write. */
static void write_handed(sl_gw_t *gw, sl_gw_worker_t *w)
{
    uint64_t written = atomic_load_explicit(&w->log_written, memory_order_relaxed);
    uint64_t handed = atomic_load_explicit(&w->log_handed, memory_order_acquire);
    for (; written != handed; ++written) {
        sl_gw_log_slot_t *slot = &w->log_slots[written % SL_GW_LOG_SLOTS];
        for (size_t off = 0; off != slot->len;) {
            size_t n = chunk(slot->target, slot->buf + off, slot->len - off),
                   done = write_all(slot->target->fd, slot->buf + off, n);
            if (done != n) {
                atomic_fetch_add_explicit(&gw->log_write_dropped, count_lines(slot->buf + off + done, slot->len - off - done),
                                          memory_order_relaxed);
                break;
            }
            off += n;
        }
        sl_gw_log_target_release(slot->target);
        slot->target = NULL;
        atomic_store_explicit(&w->log_written, written + 1, memory_order_release);
    }
}

static void *log_writer_main(void *arg)
{
    sl_gw_t *gw = arg;
    pthread_setname_np(pthread_self(), "sluice-log");
    for (;;) {
        int stop = atomic_load_explicit(&gw->log_stop, memory_order_acquire);
        for (size_t i = 0; i != gw->server.num_threads; ++i)
            write_handed(gw, &gw->workers[i]);
        if (stop)
            return NULL; /* the workers had ended (and handed their last buffers over) before stop was set */
        struct pollfd pfd = {.fd = gw->log_efd, .events = POLLIN};
        if (poll(&pfd, 1, -1) > 0) {
            uint64_t n;
            if (read(gw->log_efd, &n, sizeof(n)) < 0) {
                /* EAGAIN: another wake-up already consumed; the scan above runs again either way */
            }
        }
    }
}

int sl_gw_log_writer_start(sl_gw_t *gw)
{
    gw->log_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (gw->log_efd == -1)
        return SL_EIO;
    if (pthread_create(&gw->log_writer, NULL, log_writer_main, gw) != 0) {
        close(gw->log_efd);
        gw->log_efd = -1;
        return SL_EIO;
    }
    return SL_OK;
}

void sl_gw_log_writer_stop(sl_gw_t *gw, uint32_t wait_ms)
{
    if (gw->log_efd == -1)
        return;
    atomic_store_explicit(&gw->log_stop, 1, memory_order_release);
    uint64_t one = 1;
    if (write(gw->log_efd, &one, sizeof(one)) < 0) {
        /* a full counter: a wake-up is pending already */
    }
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += wait_ms / 1000;
    deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec += 1;
        deadline.tv_nsec -= 1000000000L;
    }
    if (pthread_timedjoin_np(gw->log_writer, NULL, &deadline) != 0) {
        /* its destination does not take the last lines (a pipe nobody reads): the process ends without them (the
         * writer still waits on log_efd, which stays open) */
        SL_LOG(SL_LOG_WARN, "access_log", "the access log's last lines were not written within %u ms; they are lost", wait_ms);
        return;
    }
    close(gw->log_efd);
    gw->log_efd = -1;
}

void sl_gw_log_request(sl_gw_worker_t *w, const sl_proxy_t *p)
{
    if (w->log_target == NULL || w->log_target->fd == -1)
        return;
    if (SL_GW_LOG_BUF - w->log_len < SL_GW_LOG_LINE_MAX)
        sl_gw_log_flush(w);
    w->log_len += sl_gw_log_format(p, sl_clock_wall_ms(), w->log_buf + w->log_len);
}
