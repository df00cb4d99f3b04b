/*
 * rollout_store.c - the encoded form of a rollout (policies/rollout_store.h), safe to decode from any bytes.
 *
 * Layout, all integers little endian, doubles as their IEEE-754 bits:
 *   0   "SLRO"        magic
 *   4   u16 version   SL_ROLLOUT_STORE_VERSION
 *   6   u16 reserved  0
 *   8   u32 length    of the payload
 *   12  payload:
 *         names       route, stable backend, canary backend: u8 length + bytes each
 *         u64         the writer's now (ms)
 *         state       every field of sl_rollout_state_t
 *         durable     the error-rate test (parameters, log likelihood ratios, running maximum, counts, batches,
 *                     the pooled batch held back, rejected), the accept-rate mSPRT (parameters, p-value, looks, rejected), the
 *                     cumulative judged / escalated counts, the looks of each verdict kind
 *         history     u32 count, then the events oldest first, each with its evidence verdicts
 *         loads       (version 2) the error-rate test's loads, 2 x 8 doubles (version 1 files are read with zeros)
 *   Version 1 also had one look count fewer (no feedback_accuracy check: it reads as 0).
 *   12 + length       u32 CRC-32C of every byte before it
 * Field by field rather than a memory image, so the format does not depend on the compiler's padding and a field added
 * later is a new version, not a silent misreading.
 *
 * Decoding checks length, magic, version and checksum first, then every field against its domain before it writes
 * the output, so a damaged or forged file is refused with a reason, never half applied. Every read is
 * bounds-checked.
 */
#include "policies/rollout_store.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/status.h"
#include "policies/rollout.h"
#include "stats/canary_seq.h"
#include "stats/msprt.h"
#include "stats/window.h"

static const unsigned char MAGIC[4] = {'S', 'L', 'R', 'O'};
#define HEADER 12u

/* ---- writing ---- */

typedef struct st_writer_t {
    sl_buf_t *b;
    int rc;
} writer_t;

static void put(writer_t *w, uint64_t v, int n)
{
    unsigned char p[8];
    for (int i = 0; i != n; ++i)
        p[i] = (unsigned char)(v >> (8 * i));
    if (w->rc == SL_OK)
        w->rc = sl_buf_append(w->b, p, (size_t)n);
}

static void put_f64(writer_t *w, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof(v));
    put(w, v, 8);
}

static void put_name(writer_t *w, const char *s)
{
    size_t n = strlen(s);
    put(w, n, 1);
    if (w->rc == SL_OK)
        w->rc = sl_buf_append(w->b, s, n);
}

static void put_verdict(writer_t *w, const sl_canary_verdict_t *v)
{
    put(w, v->kind, 1);
    put(w, v->check, 1);
    put(w, v->outcome, 1);
    put(w, v->critical, 1);
    put(w, v->look, 4);
    put(w, v->n_canary, 8);
    put(w, v->n_stable, 8);
    put_f64(w, v->statistic);
    put_f64(w, v->p_value);
    put_f64(w, v->threshold);
    put_f64(w, v->effect);
    put_f64(w, v->canary_value);
    put_f64(w, v->stable_value);
}

static void put_event(writer_t *w, const sl_rollout_event_t *e)
{
    put(w, e->seq, 8);
    put(w, e->at_ms, 8);
    put(w, e->kind, 1);
    put(w, e->cause, 1);
    put(w, e->from_phase, 1);
    put(w, e->to_phase, 1);
    put(w, e->hold, 1);
    put(w, e->num_evidence, 1);
    put(w, e->generation, 4);
    put(w, e->from_step, 4);
    put(w, e->to_step, 4);
    put(w, e->from_weight, 4);
    put(w, e->to_weight, 4);
    for (unsigned i = 0; i != e->num_evidence; ++i)
        put_verdict(w, &e->evidence[i]);
}

static int name_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    return n != 0 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

int sl_rollout_store_encode(const sl_rollout_t *r, const char *route, const char *backend, uint64_t now_ms, sl_buf_t *out)
{
    if (!name_ok(route) || !name_ok(backend) || !name_ok(r->conf->canary->name))
        return SL_EINVAL;
    size_t start = out->len;
    writer_t w = {out, SL_OK};
    w.rc = sl_buf_append(out, MAGIC, 4);
    put(&w, SL_ROLLOUT_STORE_VERSION, 2);
    put(&w, 0, 2);
    put(&w, 0, 4); /* the length, filled in below */
    put_name(&w, route);
    put_name(&w, backend);
    put_name(&w, r->conf->canary->name);
    put(&w, now_ms, 8);

    const sl_rollout_state_t *s = &r->state;
    put(&w, s->generation, 4);
    put(&w, s->phase, 1);
    put(&w, s->paused_from, 1);
    put(&w, s->hold, 1);
    put(&w, s->srm_flagged, 1);
    put(&w, s->step, 4);
    put(&w, s->weight_permille, 4);
    put(&w, s->failing_intervals, 4);
    put(&w, s->started_ms, 8);
    put(&w, s->step_started_ms, 8);
    put(&w, s->updated_ms, 8);
    put(&w, s->events, 8);

    const sl_canary_durable_t *d = &r->analysis.durable;
    const sl_canary_seq_t *q = &d->errors;
    put_f64(&w, q->params.alpha);
    put_f64(&w, q->params.min_ratio);
    for (unsigned k = 0; k != SL_CANARY_SEQ_GRID; ++k)
        put_f64(&w, q->log_lr[k]);
    put_f64(&w, q->max_log_lambda);
    put(&w, q->errors_t, 8);
    put(&w, q->n_t, 8);
    put(&w, q->errors_c, 8);
    put(&w, q->n_c, 8);
    put(&w, q->batches, 8);
    put(&w, q->pend_errors_t, 8);
    put(&w, q->pend_n_t, 8);
    put(&w, q->pend_errors_c, 8);
    put(&w, q->pend_n_c, 8);
    put(&w, (uint64_t)q->rejected, 1);
    const sl_msprt_t *m = &d->accept;
    put_f64(&w, m->params.tau);
    put_f64(&w, m->params.alpha);
    put_f64(&w, m->params.min_effect);
    put(&w, m->params.min_samples, 8);
    put(&w, (uint64_t)m->params.side, 1);
    put_f64(&w, m->p_value);
    put(&w, m->looks, 8);
    put(&w, (uint64_t)m->rejected, 1);
    for (int v = 0; v != 2; ++v) {
        put(&w, d->judged[v], 8);
        put(&w, d->escalated[v], 8);
    }
    for (int k = 0; k != SL_CANARY_K_COUNT; ++k)
        put(&w, d->looks[k], 4);

    put(&w, r->history.count, 4);
    for (uint32_t i = 0; i != r->history.count; ++i)
        put_event(&w, sl_rollout_history_get(&r->history, i));
    for (unsigned k = 0; k != SL_CANARY_SEQ_GRID; ++k) /* version 2 */
        put_f64(&w, q->load_t[k]);
    for (unsigned k = 0; k != SL_CANARY_SEQ_GRID; ++k)
        put_f64(&w, q->load_c[k]);
    if (w.rc != SL_OK) {
        out->len = start;
        return w.rc;
    }
    size_t len = out->len - start - HEADER;
    unsigned char *h = (unsigned char *)out->data + start;
    for (int i = 0; i != 4; ++i)
        h[8 + i] = (unsigned char)(len >> (8 * i));
    put(&w, sl_window_crc32c(h, HEADER + len), 4);
    if (w.rc != SL_OK)
        out->len = start;
    return w.rc;
}

/* ---- reading ---- */

typedef struct st_reader_t {
    const unsigned char *p;
    size_t len, off;
    const char *why; /* the first defect */
} reader_t;

static int fail(reader_t *r, const char *why)
{
    if (r->why == NULL)
        r->why = why;
    return 0;
}

static uint64_t get(reader_t *r, int n)
{
    if (r->why != NULL || r->len - r->off < (size_t)n) {
        fail(r, "truncated payload");
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i != n; ++i)
        v |= (uint64_t)r->p[r->off + i] << (8 * i);
    r->off += (size_t)n;
    return v;
}

static double get_f64(reader_t *r)
{
    uint64_t v = get(r, 8);
    double d;
    memcpy(&d, &v, sizeof(d));
    if (!isfinite(d))
        fail(r, "a number is not finite");
    return d;
}

static void get_name(reader_t *r, char out[65])
{
    size_t n = (size_t)get(r, 1);
    if (r->why != NULL)
        return;
    if (n == 0 || n > 64 || r->len - r->off < n) {
        fail(r, "bad name");
        return;
    }
    memcpy(out, r->p + r->off, n);
    out[n] = '\0';
    r->off += n;
    if (!name_ok(out))
        fail(r, "bad name");
}

static void check(reader_t *r, int ok, const char *why)
{
    if (!ok)
        fail(r, why);
}

static void get_verdict(reader_t *r, sl_canary_verdict_t *v)
{
    v->kind = (uint8_t)get(r, 1);
    v->check = (uint8_t)get(r, 1);
    v->outcome = (uint8_t)get(r, 1);
    v->critical = (uint8_t)get(r, 1);
    v->look = (uint32_t)get(r, 4);
    v->n_canary = get(r, 8);
    v->n_stable = get(r, 8);
    v->statistic = get_f64(r);
    v->p_value = get_f64(r);
    v->threshold = get_f64(r);
    v->effect = get_f64(r);
    v->canary_value = get_f64(r);
    v->stable_value = get_f64(r);
    check(r,
          v->kind < SL_CANARY_K_COUNT && v->check < SL_CONF_CHECK_COUNT && v->outcome <= SL_CANARY_NO_DATA &&
              v->critical <= 1 && v->p_value >= 0 && v->p_value <= 1,
          "bad verdict");
}

static void get_event(reader_t *r, sl_rollout_event_t *e)
{
    memset(e, 0, sizeof(*e));
    e->seq = get(r, 8);
    e->at_ms = get(r, 8);
    e->kind = (uint8_t)get(r, 1);
    e->cause = (uint8_t)get(r, 1);
    e->from_phase = (uint8_t)get(r, 1);
    e->to_phase = (uint8_t)get(r, 1);
    e->hold = (uint8_t)get(r, 1);
    e->num_evidence = (uint8_t)get(r, 1);
    e->generation = (uint32_t)get(r, 4);
    e->from_step = (uint32_t)get(r, 4);
    e->to_step = (uint32_t)get(r, 4);
    e->from_weight = (uint32_t)get(r, 4);
    e->to_weight = (uint32_t)get(r, 4);
    check(r,
          e->kind < SL_ROLLOUT_EV_COUNT && e->cause <= SL_ROLLOUT_BY_SYSTEM && e->from_phase < SL_ROLLOUT_PHASE_COUNT &&
              e->to_phase < SL_ROLLOUT_PHASE_COUNT && e->hold < SL_ROLLOUT_HOLD_COUNT &&
              e->num_evidence <= SL_ROLLOUT_MAX_EVIDENCE && e->from_weight <= 1000 && e->to_weight <= 1000 && e->seq != 0,
          "bad event");
    for (unsigned i = 0; i != e->num_evidence && r->why == NULL; ++i)
        get_verdict(r, &e->evidence[i]);
}

static void get_state(reader_t *r, sl_rollout_state_t *s)
{
    memset(s, 0, sizeof(*s));
    s->generation = (uint32_t)get(r, 4);
    s->phase = (uint8_t)get(r, 1);
    s->paused_from = (uint8_t)get(r, 1);
    s->hold = (uint8_t)get(r, 1);
    s->srm_flagged = (uint8_t)get(r, 1);
    s->step = (uint32_t)get(r, 4);
    s->weight_permille = (uint32_t)get(r, 4);
    s->failing_intervals = (uint32_t)get(r, 4);
    s->started_ms = get(r, 8);
    s->step_started_ms = get(r, 8);
    s->updated_ms = get(r, 8);
    s->events = get(r, 8);
    check(r,
          s->generation >= 1 && s->phase < SL_ROLLOUT_PHASE_COUNT &&
              (s->paused_from == SL_ROLLOUT_PENDING || s->paused_from == SL_ROLLOUT_PROGRESSING) &&
              s->hold < SL_ROLLOUT_HOLD_COUNT && s->srm_flagged <= 1 && s->step < SL_CONF_MAX_ROLLOUT_STEPS &&
              s->weight_permille <= 1000,
          "bad state");
}

static void get_durable(reader_t *r, sl_canary_durable_t *d, uint32_t version)
{
    memset(d, 0, sizeof(*d));
    sl_canary_seq_t *q = &d->errors;
    q->params.alpha = get_f64(r);
    q->params.min_ratio = get_f64(r);
    for (unsigned k = 0; k != SL_CANARY_SEQ_GRID; ++k)
        q->log_lr[k] = get_f64(r);
    q->max_log_lambda = get_f64(r);
    q->errors_t = get(r, 8);
    q->n_t = get(r, 8);
    q->errors_c = get(r, 8);
    q->n_c = get(r, 8);
    q->batches = get(r, 8);
    q->pend_errors_t = get(r, 8);
    q->pend_n_t = get(r, 8);
    q->pend_errors_c = get(r, 8);
    q->pend_n_c = get(r, 8);
    q->rejected = (int)get(r, 1);
    if (r->why == NULL)
        check(r, sl_canary_seq_validate(q) == SL_OK, "bad error-rate test");
    sl_msprt_t *m = &d->accept;
    sl_msprt_params_t p;
    memset(&p, 0, sizeof(p));
    p.tau = get_f64(r);
    p.alpha = get_f64(r);
    p.min_effect = get_f64(r);
    p.min_samples = get(r, 8);
    p.side = (enum en_sl_msprt_side_t)get(r, 1);
    double pv = get_f64(r);
    uint64_t looks = get(r, 8);
    int rejected = (int)get(r, 1);
    if (r->why == NULL &&
        (sl_msprt_init(m, &p) != SL_OK || !(pv >= 0 && pv <= 1) || rejected > 1 || rejected != (pv <= p.alpha)))
        fail(r, "bad accept-rate test");
    m->p_value = pv;
    m->looks = looks;
    m->rejected = rejected;
    for (int v = 0; v != 2; ++v) {
        d->judged[v] = get(r, 8);
        d->escalated[v] = get(r, 8);
        check(r, d->escalated[v] <= d->judged[v], "bad accept counts");
    }
    /* version 1 had no feedback_accuracy check: its looks start at 0 */
    int kinds = version >= 2 ? SL_CANARY_K_COUNT : SL_CANARY_K_SRM + 1;
    for (int k = 0; k != kinds; ++k)
        d->looks[k] = (uint32_t)get(r, 4);
}

int sl_rollout_store_decode(const void *buf, size_t len, sl_rollout_saved_t *out, const char **why)
{
    const unsigned char *p = buf;
    if (len < HEADER + 4) {
        *why = "truncated file";
        return SL_EPROTO;
    }
    if (memcmp(p, MAGIC, 4) != 0) {
        *why = "not a rollout state file";
        return SL_EPROTO;
    }
    uint32_t version = (uint32_t)(p[4] | p[5] << 8), plen = 0;
    for (int i = 0; i != 4; ++i)
        plen |= (uint32_t)p[8 + i] << (8 * i);
    if (version != SL_ROLLOUT_STORE_VERSION && version != 1) {
        *why = "unknown version";
        return SL_EPROTO;
    }
    if ((size_t)plen != len - HEADER - 4) {
        *why = "length mismatch";
        return SL_EPROTO;
    }
    uint32_t crc = 0;
    for (int i = 0; i != 4; ++i)
        crc |= (uint32_t)p[HEADER + plen + i] << (8 * i);
    if (crc != sl_window_crc32c(p, HEADER + plen)) {
        *why = "checksum mismatch";
        return SL_EPROTO;
    }
    sl_rollout_saved_t *s = sl_calloc(1, sizeof(*s)); /* ~33 KB: not on the stack */
    reader_t r = {p, HEADER + plen, HEADER, NULL};
    get_name(&r, s->route);
    get_name(&r, s->backend);
    get_name(&r, s->canary);
    s->written_ms = get(&r, 8);
    get_state(&r, &s->state);
    get_durable(&r, &s->durable, version);
    uint32_t count = (uint32_t)get(&r, 4);
    check(&r, count <= SL_ROLLOUT_HISTORY, "bad history");
    for (uint32_t i = 0; i != count && r.why == NULL; ++i)
        get_event(&r, &s->history.events[i]);
    s->history.count = count;
    s->history.head = 0;
    /* version 1 had no loads of the error-rate test: its power is counted again from here (it only holds longer) */
    sl_canary_seq_t *q = &s->durable.errors;
    for (unsigned k = 0; k != SL_CANARY_SEQ_GRID && version >= 2; ++k)
        q->load_t[k] = get_f64(&r);
    for (unsigned k = 0; k != SL_CANARY_SEQ_GRID && version >= 2; ++k)
        q->load_c[k] = get_f64(&r);
    if (r.why == NULL && version >= 2)
        check(&r, sl_canary_seq_validate(q) == SL_OK, "bad error-rate test");
    if (r.why == NULL && r.off != r.len)
        fail(&r, "trailing bytes");
    int rc = SL_OK;
    if (r.why != NULL) {
        *why = r.why;
        rc = SL_EPROTO;
    } else {
        *out = *s;
    }
    sl_free(s);
    return rc;
}
