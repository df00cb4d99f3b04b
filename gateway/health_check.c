/*
 * health_check.c - active health checks, run by the control thread on its own event loop: a GET of health.path on
 * every endpoint of a backend that configures it, every health.interval, with its own deadline (health.timeout).
 * Each check uses a connection of its own ("connection: close", and a pool that keeps no idle connection), so a
 * stale keep-alive connection never fails a check. Verdicts go through backends/health.c; the outcome is visible
 * to workers through the endpoint's `out`.
 */
#include "backends/health.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "gateway/control.h"
#include "gateway/gw.h"
#include "gateway/upclient.h"

#include <stdio.h>
#include <string.h>

static void finish(sl_gw_check_t *c, int ok, const char *why)
{
    h2o_timeout_unlink(&c->timer);
    c->client = NULL;
    const sl_conf_health_t *h = c->health;
    int change = sl_health_observe(c->endpoint, h, ok, sl_clock_now_us() / 1000);
    if (change == SL_HEALTH_UNHEALTHY)
        SL_LOG(SL_LOG_WARN, "health", "%s %s is unhealthy (%s)", c->endpoint->backend, c->endpoint->addr.text, why);
    else if (change == SL_HEALTH_BACK)
        SL_LOG(SL_LOG_INFO, "health", "%s %s is back in rotation", c->endpoint->backend, c->endpoint->addr.text);
}

static int on_body(sl_upclient_t *client, const char *errstr)
{
    sl_gw_check_t *c = client->data;
    if (errstr == NULL) {
        h2o_buffer_consume(&client->sock->input, client->sock->input->size); /* the body is not looked at */
        return 0;
    }
    int ok = errstr == sl_upclient_error_is_eos && c->status >= 200 && c->status < 300;
    finish(c, ok, ok ? "" : errstr == sl_upclient_error_is_eos ? "bad status" : errstr);
    return 0;
}

static sl_upclient_body_cb on_head(sl_upclient_t *client, const char *errstr, int minor_version, int status, h2o_iovec_t msg,
                                   h2o_header_t *headers, size_t num_headers, int rlen)
{
    sl_gw_check_t *c = client->data;
    if (errstr != NULL && errstr != sl_upclient_error_is_eos) {
        finish(c, 0, errstr);
        return NULL;
    }
    c->status = status;
    if (errstr == sl_upclient_error_is_eos) {
        finish(c, status >= 200 && status < 300, "bad status");
        return NULL;
    }
    return on_body;
}

static sl_upclient_head_cb on_connect(sl_upclient_t *client, const char *errstr, h2o_iovec_t **reqbufs, size_t *reqbufcnt,
                                      int *method_is_head)
{
    sl_gw_check_t *c = client->data;
    if (errstr == sl_upclient_error_socket) {
        /* the gateway's own descriptors or memory ran out: no verdict on the endpoint, the next interval retries */
        h2o_timeout_unlink(&c->timer);
        c->client = NULL;
        return NULL;
    }
    if (errstr != NULL) {
        finish(c, 0, errstr);
        return NULL;
    }
    *reqbufs = &c->reqbuf;
    *reqbufcnt = 1;
    *method_is_head = 0;
    return on_head;
}

static void on_timeout(h2o_timeout_entry_t *entry)
{
    sl_gw_check_t *c = H2O_STRUCT_FROM_MEMBER(sl_gw_check_t, timer, entry);
    if (c->client != NULL)
        sl_upclient_cancel(c->client);
    finish(c, 0, "timed out");
}

/* Starts one check of e with the settings h (copied: a reload during the check changes nothing under it). */
static void start(sl_gw_t *gw, sl_pool_endpoint_t *e, const sl_conf_health_t *h, uint64_t now_ms)
{
    if (e->id >= gw->num_checks) {
        size_t n = gw->num_checks < 16 ? 16 : gw->num_checks;
        while (n <= e->id)
            n *= 2;
        gw->checks = sl_realloc(gw->checks, n * sizeof(*gw->checks));
        memset(gw->checks + gw->num_checks, 0, (n - gw->num_checks) * sizeof(*gw->checks));
        gw->num_checks = n;
    }
    sl_gw_check_t *c = gw->checks[e->id];
    if (c == NULL) {
        c = gw->checks[e->id] = sl_calloc(1, sizeof(*c));
        c->gw = gw;
        c->endpoint = e;
        c->timer.cb = on_timeout;
        sl_upclient_pool_init(&c->pool, &gw->ctl_client_ctx, (struct sockaddr *)&e->addr.sa, e->addr.salen, 0);
    }
    c->settings = *h;
    c->health = &c->settings;
    size_t plen = strlen(h->path), hlen = strlen(e->addr.text);
    sl_free(c->reqbuf.base);
    c->reqbuf.base = sl_malloc(plen + hlen + 96);
    c->reqbuf.len = (size_t)sprintf(c->reqbuf.base,
                                    "GET %s HTTP/1.1\r\nhost: %s\r\nconnection: close\r\n"
                                    "user-agent: sluice-health\r\n\r\n",
                                    h->path, e->addr.text);
    c->settings.path = NULL; /* the copy must not keep a pointer into the config */
    c->status = 0;
    sl_health_start(e, h, now_ms);
    h2o_timeout_link(gw->ctl_loop, sl_gw_control_timeout(gw, h->timeout_ms != 0 ? h->timeout_ms : 1000), &c->timer);
    sl_upclient_connect(&c->client, c, &c->pool, 1, on_connect);
}

void sl_gw_health_tick(sl_gw_t *gw, const sl_gw_gen_t *gen, uint64_t now_ms)
{
    for (size_t b = 0; b != gen->conf->num_backends; ++b) {
        const sl_gw_backend_rt_t *bk = gen->backends + b;
        const sl_conf_health_t *h = &bk->conf->health;
        if (h->path == NULL)
            continue;
        for (size_t i = 0; i != bk->num_endpoints; ++i)
            if (sl_health_due(bk->endpoints[i], h, now_ms))
                start(gw, bk->endpoints[i], h, now_ms);
    }
}
