/*
 * monitor_feedback.c - answering POST /v1/feedback (contract: sl_monitor_feedback in monitor.h).
 *
 * The body is parsed whole first (feedback_parse.c): a bad body joins nothing. Each item is then looked up in the
 * tables of the routes with feedback, in route order; the first table that knows the id decides the result (ids are
 * per request, so at most one does). A joined label goes to the quality measures and the concept-drift detectors
 * of the backend and version that answered. The answer lists every item's result, so a client can tell a label
 * that arrived too late from one whose id was never seen. Control thread.
 */
#include "policies/monitor.h"
#include "common/alloc.h"
#include "common/status.h"
#include "policies/feedback.h"
#include "policies/quality.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct st_answer_t {
    sl_buf_t *b;
    int failed;
} answer_t;

__attribute__((format(printf, 2, 3))) static void put(answer_t *a, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    if (a->failed)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(small) || sl_buf_append(a->b, small, (size_t)n) != SL_OK)
        a->failed = 1;
}

static void put_string(answer_t *a, const char *s, size_t n)
{
    put(a, "\"");
    if (!a->failed && sl_buf_append_json_escaped(a->b, s, n) != SL_OK)
        a->failed = 1;
    put(a, "\"");
}

/* Joins one item; returns its result and sets *route_name (NULL when no table knows the id) and *detail. */
static enum en_sl_feedback_result_t join_one(sl_monitor_t *m, const sl_feedback_item_t *item, uint64_t now_ms,
                                             const char **route_name, const char **detail)
{
    *route_name = NULL;
    *detail = NULL;
    for (size_t i = 0; i != m->conf->num_routes; ++i) {
        sl_monitor_route_t *r = m->routes[i];
        const sl_feedback_entry_t *e;
        double truth;
        if (r == NULL || !r->conf->feedback.enabled)
            continue;
        enum en_sl_feedback_result_t res = sl_feedback_join(&r->feedback, &r->conf->feedback, item, now_ms, &e, &truth, detail);
        if (res == SL_FEEDBACK_UNKNOWN)
            continue;
        *route_name = r->route->name;
        if (res == SL_FEEDBACK_JOINED) {
            double predicted = r->conf->feedback.task == SL_FEEDBACK_CLASSIFICATION ? (double)e->rec.label : e->rec.value;
            sl_quality_add(&r->quality, e->rec.backend, (enum en_sl_feedback_version_t)e->rec.version, predicted, truth,
                           now_ms);
        }
        return res;
    }
    return SL_FEEDBACK_UNKNOWN;
}

static void put_result(answer_t *a, const sl_feedback_item_t *item, enum en_sl_feedback_result_t res, const char *route,
                       const char *detail)
{
    put(a, "{\"id\":");
    put_string(a, item->id, item->id_len);
    put(a, ",\"result\":\"%s\"", sl_feedback_result_name(res));
    if (route != NULL) {
        put(a, ",\"route\":");
        put_string(a, route, strlen(route));
    }
    if (detail != NULL) {
        put(a, ",\"detail\":");
        put_string(a, detail, strlen(detail));
    }
    put(a, "}");
}

int sl_monitor_feedback(sl_monitor_t *m, const char *body, size_t len, uint64_t now_ms, sl_buf_t *out)
{
    char err[256];
    size_t n = 0, saved = out->len;
    int batch = 0, status = 200;
    answer_t a = {out, 0};
    sl_feedback_item_t *items = sl_malloc(SL_FEEDBACK_MAX_BATCH * sizeof(*items));
    if (sl_feedback_parse(body, len, items, SL_FEEDBACK_MAX_BATCH, &n, &batch, err, sizeof(err)) != SL_OK) {
        ++m->feedback_rejected;
        put(&a, "{\"error\":{\"message\":");
        put_string(&a, err, strlen(err));
        put(&a, ",\"type\":\"invalid_request_error\",\"code\":\"invalid_feedback\"}}");
        status = 400;
        goto Exit;
    }
    uint64_t counts[SL_FEEDBACK_NUM_RESULTS] = {0};
    if (batch)
        put(&a, "{\"results\":[");
    for (size_t i = 0; i != n; ++i) {
        const char *route, *detail;
        enum en_sl_feedback_result_t res = join_one(m, &items[i], now_ms, &route, &detail);
        ++counts[res];
        ++m->feedback_results[res];
        if (i != 0)
            put(&a, ",");
        put_result(&a, &items[i], res, route, detail);
    }
    m->feedback_items += n;
    if (batch) {
        put(&a, "],\"counts\":{");
        for (int r = 0; r != SL_FEEDBACK_NUM_RESULTS; ++r)
            put(&a, "%s\"%s\":%llu", r != 0 ? "," : "", sl_feedback_result_name((enum en_sl_feedback_result_t)r),
                (unsigned long long)counts[r]);
        put(&a, "}}");
    }
Exit:
    sl_free(items);
    if (a.failed) {
        out->len = saved;
        if (out->data != NULL)
            out->data[saved] = '\0';
        return 500;
    }
    return status;
}
