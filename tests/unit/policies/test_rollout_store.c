/*
 * test_rollout_store.c - the durable form of a rollout (policies/rollout_store*.c): the encoding round trip, every
 * truncation and every single-bit flip refused, forged files (checksum repaired) refused field by field, the file
 * name, the atomic write and its failures, reading a missing, a valid, a damaged and a foreign file.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "common/status.h"
#include "policies/rollout_store.h"
#include "rollout_fixture.h"
#include "stats/window.h"

/* A rollout with a history: started, advanced twice, paused, resumed, then rolled back by a failing canary. */
static void scripted(sl_rollout_t *r, const sl_conf_rollout_t *conf)
{
    fx_traffic_t t;
    fx_traffic_init(&t, 11);
    cr_assert_eq(sl_rollout_init(r, conf, 0), SL_OK);
    uint64_t now = 0;
    while (r->state.step < 2 && now < 200000)
        fx_tick(r, &t, 400, 0, now += 1000);
    cr_assert_eq(r->state.step, 2);
    cr_assert_eq(sl_rollout_admin(r, SL_ROLLOUT_OP_PAUSE, now += 1000), SL_OK);
    cr_assert_eq(sl_rollout_admin(r, SL_ROLLOUT_OP_RESUME, now += 1000), SL_OK);
    while (r->state.phase == SL_ROLLOUT_PROGRESSING && now < 400000)
        fx_tick(r, &t, 400, 3, now += 1000);
    cr_assert_eq(r->state.phase, SL_ROLLOUT_ROLLED_BACK);
    fx_traffic_dispose(&t);
}

static void same_state(const sl_rollout_state_t *a, const sl_rollout_state_t *b)
{
    cr_assert_eq(a->generation, b->generation);
    cr_assert_eq(a->phase, b->phase);
    cr_assert_eq(a->paused_from, b->paused_from);
    cr_assert_eq(a->hold, b->hold);
    cr_assert_eq(a->srm_flagged, b->srm_flagged);
    cr_assert_eq(a->step, b->step);
    cr_assert_eq(a->weight_permille, b->weight_permille);
    cr_assert_eq(a->failing_intervals, b->failing_intervals);
    cr_assert_eq(a->started_ms, b->started_ms);
    cr_assert_eq(a->step_started_ms, b->step_started_ms);
    cr_assert_eq(a->updated_ms, b->updated_ms);
    cr_assert_eq(a->events, b->events);
}

static void same_event(const sl_rollout_event_t *a, const sl_rollout_event_t *b)
{
    cr_assert_eq(a->seq, b->seq);
    cr_assert_eq(a->at_ms, b->at_ms);
    cr_assert_eq(a->kind, b->kind);
    cr_assert_eq(a->cause, b->cause);
    cr_assert_eq(a->from_phase, b->from_phase);
    cr_assert_eq(a->to_phase, b->to_phase);
    cr_assert_eq(a->hold, b->hold);
    cr_assert_eq(a->generation, b->generation);
    cr_assert_eq(a->from_step, b->from_step);
    cr_assert_eq(a->to_step, b->to_step);
    cr_assert_eq(a->from_weight, b->from_weight);
    cr_assert_eq(a->to_weight, b->to_weight);
    cr_assert_eq(a->num_evidence, b->num_evidence);
    cr_assert_eq(memcmp(a->evidence, b->evidence, a->num_evidence * sizeof(a->evidence[0])), 0);
}

static sl_rollout_saved_t *saved_new(void)
{
    return sl_calloc(1, sizeof(sl_rollout_saved_t));
}

Test(rollout_store, round_trip)
{
    sl_conf_t *conf = fx_conf("large-v2", "");
    sl_rollout_t r;
    scripted(&r, fx_rollout(conf));
    sl_buf_t b;
    sl_buf_init(&b, 0);
    cr_assert_eq(sl_rollout_store_encode(&r, "chat", "large", 123456, &b), SL_OK);
    sl_rollout_saved_t *s = saved_new();
    const char *why = NULL;
    cr_assert_eq(sl_rollout_store_decode(b.data, b.len, s, &why), SL_OK, "%s", why);
    cr_assert_str_eq(s->route, "chat");
    cr_assert_str_eq(s->backend, "large");
    cr_assert_str_eq(s->canary, "large-v2");
    cr_assert_eq(s->written_ms, 123456);
    same_state(&s->state, &r.state);
    cr_assert_eq(s->history.count, r.history.count);
    cr_assert_geq(r.history.count, 6);
    for (uint32_t i = 0; i != r.history.count; ++i)
        same_event(sl_rollout_history_get(&s->history, i), sl_rollout_history_get(&r.history, i));
    const sl_rollout_event_t *last = sl_rollout_history_get(&s->history, s->history.count - 1);
    cr_assert_eq(last->kind, SL_ROLLOUT_EV_ROLLBACK);
    cr_assert_eq(last->evidence[0].kind, SL_CANARY_K_ERROR_RATE);
    cr_assert_eq(last->evidence[0].outcome, SL_CANARY_FAIL);
    const sl_canary_durable_t *a = &s->durable, *d = &r.analysis.durable;
    cr_assert_eq(memcmp(a->errors.log_lr, d->errors.log_lr, sizeof(a->errors.log_lr)), 0);
    cr_assert_eq(a->errors.max_log_lambda, d->errors.max_log_lambda);
    cr_assert_eq(a->errors.n_t, d->errors.n_t);
    cr_assert_eq(a->errors.errors_t, d->errors.errors_t);
    cr_assert_eq(a->errors.n_c, d->errors.n_c);
    cr_assert_eq(a->errors.errors_c, d->errors.errors_c);
    cr_assert_eq(a->errors.batches, d->errors.batches);
    cr_assert_eq(memcmp(a->errors.load_t, d->errors.load_t, sizeof(a->errors.load_t)), 0);
    cr_assert_eq(memcmp(a->errors.load_c, d->errors.load_c, sizeof(a->errors.load_c)), 0);
    cr_assert_gt(d->errors.load_c[0], 0);
    cr_assert_eq(a->errors.rejected, 1);
    cr_assert_eq(a->accept.p_value, d->accept.p_value);
    cr_assert_eq(a->accept.params.alpha, d->accept.params.alpha);
    cr_assert_eq(memcmp(a->looks, d->looks, sizeof(a->looks)), 0);
    cr_assert_eq(a->looks[SL_CANARY_K_LATENCY], d->looks[SL_CANARY_K_LATENCY]);
    cr_assert_eq(d->looks[SL_CANARY_K_LATENCY], 2); /* one analysis at each of steps 0 and 1 */
    sl_free(s);
    sl_buf_dispose(&b);
    sl_rollout_dispose(&r);
    sl_conf_release(conf);
}

Test(rollout_store, every_truncation_and_every_bit_flip_is_refused)
{
    sl_conf_t *conf = fx_conf("large-v2", "");
    sl_rollout_t r;
    scripted(&r, fx_rollout(conf));
    sl_buf_t b;
    sl_buf_init(&b, 0);
    cr_assert_eq(sl_rollout_store_encode(&r, "chat", "large", 1, &b), SL_OK);
    sl_rollout_saved_t *s = saved_new();
    memset(s, 0x33, sizeof(*s));
    const char *why;
    for (size_t n = 0; n < b.len; ++n) {
        why = NULL;
        cr_assert_eq(sl_rollout_store_decode(b.data, n, s, &why), SL_EPROTO, "length %zu", n);
        cr_assert_not_null(why);
    }
    unsigned char *p = (unsigned char *)b.data;
    for (size_t i = 0; i != b.len; ++i) {
        for (int bit = 0; bit != 8; ++bit) {
            p[i] ^= (unsigned char)(1u << bit);
            cr_assert_eq(sl_rollout_store_decode(p, b.len, s, &why), SL_EPROTO, "byte %zu bit %d", i, bit);
            p[i] ^= (unsigned char)(1u << bit);
        }
    }
    cr_assert_eq(((unsigned char *)s)[0], 0x33, "a refused file writes nothing");
    sl_free(s);
    sl_buf_dispose(&b);
    sl_rollout_dispose(&r);
    sl_conf_release(conf);
}

/* Re-signs a modified encoding (its checksum repaired), as a forger or a bug elsewhere would produce it. */
static void resign(unsigned char *p, size_t len)
{
    uint32_t crc = sl_window_crc32c(p, len - 4);
    for (int i = 0; i != 4; ++i)
        p[len - 4 + (size_t)i] = (unsigned char)(crc >> (8 * i));
}

static const char *decode_forged(const sl_buf_t *b, size_t at, const void *bytes, size_t n)
{
    static unsigned char copy[1 << 16];
    cr_assert(b->len <= sizeof(copy));
    memcpy(copy, b->data, b->len);
    memcpy(copy + at, bytes, n);
    resign(copy, b->len);
    sl_rollout_saved_t *s = saved_new();
    const char *why = NULL;
    int rc = sl_rollout_store_decode(copy, b->len, s, &why);
    sl_free(s);
    return rc == SL_OK ? NULL : why;
}

Test(rollout_store, forged_fields_are_refused)
{
    sl_conf_t *conf = fx_conf("large-v2", "");
    sl_rollout_t r;
    scripted(&r, fx_rollout(conf));
    sl_buf_t b;
    sl_buf_init(&b, 0);
    cr_assert_eq(sl_rollout_store_encode(&r, "chat", "large", 1, &b), SL_OK);
    /* offsets: 12 header; names "chat" (1+4), "large" (1+5), "large-v2" (1+8): state at 12 + 20 + 8 = 40 */
    const size_t state = 40;
    unsigned char v;
    cr_assert_null(decode_forged(&b, 0, "SLRO", 4), "an untouched copy decodes");
    cr_assert_str_eq(decode_forged(&b, 0, "SLWN", 4), "not a rollout state file");
    v = 3;
    cr_assert_str_eq(decode_forged(&b, 4, &v, 1), "unknown version");
    v = 0;
    cr_assert_str_eq(decode_forged(&b, 12, &v, 1), "bad name");
    cr_assert_str_eq(decode_forged(&b, 13, "ch/t", 4), "bad name");
    v = 9;
    cr_assert_str_eq(decode_forged(&b, state + 4, &v, 1), "bad state"); /* phase */
    v = 3;
    cr_assert_str_eq(decode_forged(&b, state + 5, &v, 1), "bad state"); /* paused_from */
    uint32_t w = 1001;
    cr_assert_str_eq(decode_forged(&b, state + 12, &w, 4), "bad state"); /* weight */
    w = 0;
    cr_assert_str_eq(decode_forged(&b, state, &w, 4), "bad state"); /* generation */
    /* durable: after the state's 52 bytes; the error test's alpha first */
    double nan = NAN, two = 2;
    cr_assert_str_eq(decode_forged(&b, state + 52, &nan, 8), "a number is not finite");
    cr_assert_str_eq(decode_forged(&b, state + 52, &two, 8), "bad error-rate test");
    /* the error test's rejected flag no longer matches its evidence */
    size_t rejected = state + 52 + 8 * (2 + SL_CANARY_SEQ_GRID + 1) + 8 * 9;
    v = 0;
    cr_assert_str_eq(decode_forged(&b, rejected, &v, 1), "bad error-rate test");
    /* the history count beyond its bound (the count sits right after the durable part) */
    size_t history = rejected + 1 + 8 * 3 + 8 + 1 + 8 + 8 + 1 + 32 + 4 * SL_CANARY_K_COUNT;
    uint32_t count = SL_ROLLOUT_HISTORY + 1;
    cr_assert_str_eq(decode_forged(&b, history, &count, 4), "bad history");
    count = r.history.count - 1;
    cr_assert_not_null(decode_forged(&b, history, &count, 4), "one event fewer leaves bytes unexplained");
    /* the loads that end the payload: a negative one */
    double minus = -1;
    cr_assert_str_eq(decode_forged(&b, b.len - 4 - 16 * 8, &minus, 8), "bad error-rate test");
    /* the first event's kind */
    v = SL_ROLLOUT_EV_COUNT;
    cr_assert_str_eq(decode_forged(&b, history + 4 + 16, &v, 1), "bad event");
    sl_buf_dispose(&b);
    sl_rollout_dispose(&r);
    sl_conf_release(conf);
}

Test(rollout_store, file_names)
{
    char buf[64];
    cr_assert_eq(sl_rollout_store_path("/var/lib/sluice", "chat", "large", buf, sizeof(buf)), SL_OK);
    cr_assert_str_eq(buf, "/var/lib/sluice/rollout+chat+large.state");
    cr_assert_eq(sl_rollout_store_path("/x", "a.b-c_d", "E9", buf, sizeof(buf)), SL_OK);
    cr_assert_str_eq(buf, "/x/rollout+a.b-c_d+E9.state");
    cr_assert_eq(sl_rollout_store_path("/x", "a/b", "large", buf, sizeof(buf)), SL_EINVAL);
    cr_assert_eq(sl_rollout_store_path("/x", "", "large", buf, sizeof(buf)), SL_EINVAL);
    cr_assert_eq(sl_rollout_store_path("/x", "chat", "a+b", buf, sizeof(buf)), SL_EINVAL);
    cr_assert_eq(sl_rollout_store_path(NULL, "chat", "large", buf, sizeof(buf)), SL_EINVAL);
    cr_assert_eq(
        sl_rollout_store_path("/a/very/long/state/directory/name/that/does/not/fit", "chat", "large", buf, sizeof(buf)),
        SL_ERANGE);
}

Test(rollout_store, write_then_read_and_damaged_files_set_aside)
{
    char dir[64], path[256], why[SL_ROLLOUT_STORE_WHY];
    fx_mkdtemp(dir, sizeof(dir));
    sl_conf_t *conf = fx_conf("large-v2", "");
    sl_rollout_t r;
    scripted(&r, fx_rollout(conf));
    sl_rollout_saved_t *s = saved_new();
    int found = -1;
    cr_assert_eq(sl_rollout_store_read(dir, "chat", "large", s, &found, why), SL_OK);
    cr_assert_eq(found, 0, "no file: a first start");

    cr_assert_eq(r.dirty, 1);
    cr_assert_eq(sl_rollout_store_write(dir, "chat", "large", &r, 777, NULL, why), SL_OK, "%s", why);
    cr_assert_eq(r.dirty, 0);
    cr_assert_eq(fx_count_files(dir), 1, "no temporary file is left");
    sl_rollout_store_path(dir, "chat", "large", path, sizeof(path));
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0644);
    cr_assert_eq(sl_rollout_store_read(dir, "chat", "large", s, &found, why), SL_OK);
    cr_assert_eq(found, 1);
    cr_assert_eq(s->written_ms, 777);
    same_state(&s->state, &r.state);

    /* a leftover temporary file of an interrupted write is removed at read */
    char tmp[300];
    snprintf(tmp, sizeof(tmp), "%s/.rollout+chat+large.state.tmp", dir);
    FILE *f = fopen(tmp, "w");
    fputs("half a write", f);
    fclose(f);
    cr_assert_eq(sl_rollout_store_read(dir, "chat", "large", s, &found, why), SL_OK);
    cr_assert_eq(found, 1);
    cr_assert_eq(access(tmp, F_OK), -1);

    /* the file of another rollout under this name: foreign, set aside */
    cr_assert_eq(sl_rollout_store_write(dir, "other", "large", &r, 1, NULL, why), SL_OK);
    char other[300];
    sl_rollout_store_path(dir, "other", "large", other, sizeof(other));
    cr_assert_eq(rename(other, path), 0);
    cr_assert_eq(sl_rollout_store_read(dir, "chat", "large", s, &found, why), SL_EPROTO);
    char want[600];
    snprintf(want, sizeof(want), "%s: written for another rollout; moved to %s.corrupt-1", path, path);
    cr_assert_str_eq(why, want);
    cr_assert_eq(access(path, F_OK), -1);

    /* a torn file: set aside under the next free number */
    f = fopen(path, "w");
    fputs("SLRO", f);
    fclose(f);
    cr_assert_eq(sl_rollout_store_read(dir, "chat", "large", s, &found, why), SL_EPROTO);
    snprintf(want, sizeof(want), "%s: truncated file; moved to %s.corrupt-2", path, path);
    cr_assert_str_eq(why, want);
    cr_assert_eq(sl_rollout_store_read(dir, "chat", "large", s, &found, why), SL_OK);
    cr_assert_eq(found, 0);
    cr_assert_eq(fx_count_files(dir), 2);

    /* a failed write leaves the old file as it was and no temporary file */
    cr_assert_eq(sl_rollout_store_write(dir, "chat", "large", &r, 1, NULL, why), SL_OK);
    char missing[128];
    snprintf(missing, sizeof(missing), "%s/no-such-dir", dir);
    r.dirty = 1;
    cr_assert_eq(sl_rollout_store_write(missing, "chat", "large", &r, 1, NULL, why), SL_EIO);
    snprintf(want, sizeof(want), "%s/rollout+chat+large.state: create failed: No such file or directory", missing);
    cr_assert_str_eq(why, want);
    cr_assert_eq(r.dirty, 1);
    cr_assert_eq(fx_count_files(dir), 3);

    sl_free(s);
    sl_rollout_dispose(&r);
    sl_conf_release(conf);
    fx_rmdir(dir);
}

Test(rollout_store, a_version_1_file_is_read_with_the_loads_counted_again)
{
    sl_conf_t *conf = fx_conf("large-v2", "");
    sl_rollout_t r;
    scripted(&r, fx_rollout(conf));
    sl_buf_t b;
    sl_buf_init(&b, 0);
    cr_assert_eq(sl_rollout_store_encode(&r, "chat", "large", 1, &b), SL_OK);
    /* version 1 is version 2 without the last look count (feedback_accuracy) and the 16 doubles of loads that end
     * the payload; offsets as in forged_fields_are_refused */
    size_t rejected = 40 + 52 + 8 * (2 + SL_CANARY_SEQ_GRID + 1) + 8 * 9;
    size_t history = rejected + 1 + 8 * 3 + 8 + 1 + 8 + 8 + 1 + 32 + 4 * SL_CANARY_K_COUNT;
    unsigned char *p = (unsigned char *)b.data;
    r.analysis.durable.looks[SL_CANARY_K_FEEDBACK_ACCURACY] = 0;
    memmove(p + history - 4, p + history, b.len - history);
    size_t len = b.len - 4 - 16 * 8;
    memmove(p + len - 4, p + b.len - 4 - 4, 4);
    p[4] = 1;
    uint32_t plen = (uint32_t)(len - 12 - 4);
    for (int i = 0; i != 4; ++i)
        p[8 + i] = (unsigned char)(plen >> (8 * i));
    resign(p, len);
    sl_rollout_saved_t *s = saved_new();
    const char *why = NULL;
    cr_assert_eq(sl_rollout_store_decode(p, len, s, &why), SL_OK, "%s", why != NULL ? why : "");
    cr_assert_eq(s->durable.errors.n_t, r.analysis.durable.errors.n_t);
    cr_assert_eq(memcmp(s->durable.looks, r.analysis.durable.looks, sizeof(s->durable.looks)), 0);
    cr_assert_eq(s->history.count, r.history.count);
    cr_assert_eq(s->durable.errors.load_t[0], 0);
    cr_assert_eq(s->durable.errors.load_c[7], 0);
    p[4] = 2; /* the same bytes claiming version 2 lack the loads */
    resign(p, len);
    cr_assert_eq(sl_rollout_store_decode(p, len, s, &why), SL_EPROTO);
    sl_free(s);
    sl_buf_dispose(&b);
    sl_rollout_dispose(&r);
    sl_conf_release(conf);
}
