/*
 * Tests for stats/window_codec.c: round trips, capacity changes, every rejection with its message, and a fuzz loop
 * of random corruptions and truncations (with and without a repaired checksum) that must never crash and never
 * accept an inconsistent window.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "common/alloc.h"
#include "common/status.h"
#include "common/str.h"
#include "stats/window.h"

#define T0 ((int64_t)29000000)

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A window of capacity cap with random traffic, gaps and a few huge minutes. */
static void fill(sl_window_t *w, uint32_t cap, uint64_t seed, int minutes)
{
    cr_assert_eq(sl_window_init(w, cap, T0), SL_OK);
    int64_t m = T0;
    for (int i = 0; i < minutes; i++) {
        uint64_t r = rnd(&seed) % 100;
        m += r < 10 ? (int64_t)(rnd(&seed) % 50) : 1;
        uint64_t t = r < 3 ? rnd(&seed) >> 20 : rnd(&seed) % 5000;
        uint64_t bad = t == 0 ? 0 : rnd(&seed) % (t / 10 + 1);
        cr_assert_eq(sl_window_add(w, m, t - bad, t), SL_OK);
    }
}

static void encode(const sl_window_t *w, sl_buf_t *b)
{
    sl_buf_init(b, 0);
    cr_assert_eq(sl_window_encode(w, b), SL_OK);
}

static void fix_crc(unsigned char *p, size_t len)
{
    uint32_t c = sl_window_crc32c(p, len - 4);
    for (int i = 0; i < 4; i++)
        p[len - 4 + i] = (unsigned char)(c >> (8 * i));
}

static void expect_same_sums(const sl_window_t *a, const sl_window_t *b, uint32_t upto)
{
    cr_assert_eq(a->head_min, b->head_min);
    for (uint32_t win = 1; win <= upto; win++) {
        sl_window_sum_t x, y;
        cr_assert_eq(sl_window_sum(a, a->head_min, win, &x), SL_OK);
        cr_assert_eq(sl_window_sum(b, b->head_min, win, &y), SL_OK);
        cr_assert_eq(x.good, y.good, "window %u", win);
        cr_assert_eq(x.total, y.total, "window %u", win);
    }
}

Test(window_codec, crc32c_check_value)
{
    /* the standard check value of CRC-32C: "123456789" -> 0xE3069283 (RFC 3720 appendix B.4 parameters) */
    cr_assert_eq(sl_window_crc32c("123456789", 9), 0xE3069283u);
    cr_assert_eq(sl_window_crc32c("", 0), 0u);
}

Test(window_codec, round_trip_is_exact)
{
    sl_window_t w, v;
    fill(&w, 1440, 7, 3000);
    sl_buf_t b, b2;
    encode(&w, &b);
    cr_assert_eq(sl_window_init(&v, 1440, 0), SL_OK);
    const char *why = "unset";
    cr_assert_eq(sl_window_decode(&v, b.data, b.len, &why), SL_OK);
    cr_assert_str_eq(why, "unset"); /* not written on success */
    cr_assert_eq(v.first_min, w.first_min);
    cr_assert_eq(v.clamped, w.clamped);
    expect_same_sums(&w, &v, 1440);
    encode(&v, &b2);
    cr_assert_eq(b2.len, b.len);
    cr_assert(memcmp(b.data, b2.data, b.len) == 0);
    sl_buf_dispose(&b);
    sl_buf_dispose(&b2);
    sl_window_dispose(&w);
    sl_window_dispose(&v);
}

Test(window_codec, idle_window_is_tiny)
{
    sl_window_t w;
    cr_assert_eq(sl_window_init(&w, 40320, T0), SL_OK);
    sl_buf_t b;
    encode(&w, &b);
    cr_assert_eq(b.len, 40 + 4 + 1 + 3); /* header, crc, one run record: 0 and 40320 (3 varint bytes) */
    cr_assert_eq(memcmp(b.data, "SLWN", 4), 0);
    sl_buf_dispose(&b);
    sl_window_dispose(&w);
}

Test(window_codec, capacity_change_keeps_newest_minutes)
{
    sl_window_t w, small, large;
    fill(&w, 1440, 11, 2000);
    sl_buf_t b;
    encode(&w, &b);
    cr_assert_eq(sl_window_init(&small, 60, 0), SL_OK);
    cr_assert_eq(sl_window_init(&large, 4320, 0), SL_OK);
    cr_assert_eq(sl_window_decode(&small, b.data, b.len, NULL), SL_OK);
    cr_assert_eq(sl_window_decode(&large, b.data, b.len, NULL), SL_OK);
    expect_same_sums(&w, &small, 60);
    expect_same_sums(&w, &large, 1440);
    sl_window_sum_t x, y;
    cr_assert_eq(sl_window_sum(&large, large.head_min, 4320, &x), SL_OK);
    cr_assert_eq(sl_window_sum(&w, w.head_min, 1440, &y), SL_OK);
    cr_assert_eq(x.total, y.total); /* nothing older than the encoded 1440 minutes */
    cr_assert_eq(x.good, y.good);
    sl_buf_dispose(&b);
    sl_window_dispose(&w);
    sl_window_dispose(&small);
    sl_window_dispose(&large);
}

static void expect_reject(sl_window_t *v, const void *p, size_t len, int rc, const char *msg)
{
    sl_buf_t before, after;
    encode(v, &before);
    const char *why = NULL;
    cr_assert_eq(sl_window_decode(v, p, len, &why), rc, "expected %d for \"%s\", got message \"%s\"", rc, msg,
                 why ? why : "(null)");
    cr_assert_str_eq(why, msg);
    encode(v, &after);
    cr_assert(before.len == after.len && memcmp(before.data, after.data, before.len) == 0, "window changed");
    sl_buf_dispose(&before);
    sl_buf_dispose(&after);
}

/* A small hand-made valid blob: capacity 4, head 10, first 8, minutes 7..10 = empty, (5 total, 1 bad), empty x2 */
static size_t handmade(unsigned char *p, const unsigned char *payload, size_t plen, uint64_t first)
{
    memset(p, 0, 40);
    memcpy(p, "SLWN", 4);
    p[4] = 1;
    p[8] = 4;
    p[12] = (unsigned char)plen;
    p[16] = 10;
    p[24] = (unsigned char)first;
    memcpy(p + 40, payload, plen);
    fix_crc(p, 40 + plen + 4);
    return 40 + plen + 4;
}

Test(window_codec, rejections_name_the_defect)
{
    sl_window_t v;
    fill(&v, 4, 3, 20);
    unsigned char p[128];
    static const unsigned char good_payload[] = {0, 1, 5, 1, 0, 2};
    size_t n = handmade(p, good_payload, sizeof(good_payload), 8);

    expect_reject(&v, "", 0, SL_EPROTO, "empty input");
    expect_reject(&v, "{\"good\": 1}", 11, SL_EPROTO, "not an encoded window (bad magic)");
    expect_reject(&v, "SLW", 3, SL_EPROTO, "not an encoded window (bad magic)");
    expect_reject(&v, p, 20, SL_ESYNTAX, "truncated header");
    expect_reject(&v, p, n - 1, SL_ESYNTAX, "truncated");
    unsigned char q[160];
    memcpy(q, p, n);
    q[n] = 0;
    expect_reject(&v, q, n + 1, SL_ESYNTAX, "trailing bytes");
    memcpy(q, p, n);
    q[45] ^= 1;
    expect_reject(&v, q, n, SL_ESYNTAX, "checksum mismatch");
    memcpy(q, p, n);
    q[4] = 2;
    expect_reject(&v, q, n, SL_ERANGE, "unsupported encoding version");

    static const unsigned char bad_gt_total[] = {0, 1, 5, 6, 0, 2};
    expect_reject(&v, q, handmade(q, bad_gt_total, sizeof(bad_gt_total), 8), SL_ESYNTAX,
                  "a minute has more bad than total requests");
    static const unsigned char zero_run[] = {0, 0, 0, 1, 5, 1, 0, 2};
    expect_reject(&v, q, handmade(q, zero_run, sizeof(zero_run), 8), SL_ESYNTAX, "bad run of empty minutes");
    static const unsigned char long_run[] = {0, 5};
    expect_reject(&v, q, handmade(q, long_run, sizeof(long_run), 8), SL_ESYNTAX, "bad run of empty minutes");
    static const unsigned char short_cover[] = {0, 3};
    expect_reject(&v, q, handmade(q, short_cover, sizeof(short_cover), 8), SL_ESYNTAX, "payload does not cover the capacity");
    static const unsigned char too_many[] = {1, 0, 1, 0, 1, 0, 1, 0, 1, 0};
    expect_reject(&v, q, handmade(q, too_many, sizeof(too_many), 7), SL_ESYNTAX, "more minutes than the capacity");
    static const unsigned char overlong[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02, 0};
    expect_reject(&v, q, handmade(q, overlong, sizeof(overlong), 8), SL_ESYNTAX, "malformed varint in payload");
    static const unsigned char cut_varint[] = {0, 0x81};
    expect_reject(&v, q, handmade(q, cut_varint, sizeof(cut_varint), 8), SL_ESYNTAX, "malformed varint in payload");
    static const unsigned char before_origin[] = {5, 1, 0, 3};
    expect_reject(&v, q, handmade(q, before_origin, sizeof(before_origin), 8), SL_ESYNTAX,
                  "traffic recorded before the window's origin");
    static const unsigned char overflow[] = {0,    1,    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0,
                                             0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0,    0,    1};
    expect_reject(&v, q, handmade(q, overflow, sizeof(overflow), 8), SL_ESYNTAX, "window total overflows 64 bits");
    handmade(q, good_payload, sizeof(good_payload), 11); /* first after head */
    expect_reject(&v, q, n, SL_ESYNTAX, "header fields out of range");
    memcpy(q, p, n);
    q[8] = 0; /* capacity 0 */
    fix_crc(q, n);
    expect_reject(&v, q, n, SL_ESYNTAX, "header fields out of range");

    /* and the hand-made blob itself is accepted: minute 8 has 5 requests, 1 bad */
    cr_assert_eq(sl_window_decode(&v, p, n, NULL), SL_OK);
    sl_window_sum_t s;
    cr_assert_eq(sl_window_minute(&v, 8, &s), SL_OK);
    cr_assert_eq(s.total, 5);
    cr_assert_eq(s.good, 4);
    cr_assert_eq(sl_window_sum(&v, 10, 4, &s), SL_OK);
    cr_assert_eq(s.total, 5);
    sl_window_dispose(&v);
}

Test(window_codec, every_truncation_and_single_bit_flip_is_rejected)
{
    sl_window_t w, v;
    fill(&w, 120, 5, 150);
    cr_assert_eq(sl_window_init(&v, 120, 0), SL_OK);
    sl_buf_t b;
    encode(&w, &b);
    unsigned char *q = sl_malloc(b.len);
    for (size_t len = 0; len < b.len; len++)
        cr_assert_lt(sl_window_decode(&v, b.data, len, NULL), 0, "truncation to %zu accepted", len);
    for (size_t bit = 0; bit < b.len * 8; bit++) {
        memcpy(q, b.data, b.len);
        q[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        cr_assert_lt(sl_window_decode(&v, q, b.len, NULL), 0, "flip of bit %zu accepted", bit);
    }
    cr_assert_eq(v.head_min, 0); /* never touched */
    sl_free(q);
    sl_buf_dispose(&b);
    sl_window_dispose(&w);
    sl_window_dispose(&v);
}

/* After an accepted decode the window must be consistent: every sum has good <= total and sums grow with the
 * window length. */
static void check_consistent(const sl_window_t *v)
{
    sl_window_sum_t prev = {0, 0};
    for (uint32_t win = 1; win <= v->capacity_min; win++) {
        sl_window_sum_t s;
        cr_assert_eq(sl_window_sum(v, v->head_min, win, &s), SL_OK);
        cr_assert_leq(s.good, s.total);
        cr_assert_geq(s.total, prev.total);
        cr_assert_geq(s.good, prev.good);
        prev = s;
    }
}

Test(window_codec, fuzz_random_corruptions)
{
    uint64_t seed = 2024;
    sl_window_t v;
    cr_assert_eq(sl_window_init(&v, 64, 0), SL_OK);
    unsigned char *q = sl_malloc(4096);
    int accepted = 0, rejected = 0;
    for (int iter = 0; iter < 3000; iter++) {
        sl_window_t w;
        fill(&w, 48 + (uint32_t)(rnd(&seed) % 32), rnd(&seed), 40 + (int)(rnd(&seed) % 40));
        sl_buf_t b;
        encode(&w, &b);
        sl_window_dispose(&w);
        cr_assert_lt(b.len, 2048);
        size_t len = b.len;
        memcpy(q, b.data, len);
        sl_buf_dispose(&b);
        int edits = 1 + (int)(rnd(&seed) % 4);
        for (int e = 0; e < edits; e++) {
            uint64_t kind = rnd(&seed) % 5, at = rnd(&seed) % len;
            if (kind == 0) {
                q[at] = (unsigned char)rnd(&seed); /* overwrite a byte */
            } else if (kind == 1) {
                len = at; /* truncate */
            } else if (kind == 2 && len < 4000) {
                memmove(q + at + 1, q + at, len - at); /* insert a byte */
                q[at] = (unsigned char)rnd(&seed);
                len++;
            } else if (kind == 3 && len > 1) {
                memmove(q + at, q + at + 1, len - at - 1); /* delete a byte */
                len--;
            } else {
                q[at] ^= (unsigned char)(1u << (rnd(&seed) % 8));
            }
            if (len == 0)
                break;
        }
        /* half of the time repair the checksum and the payload length, to reach the payload parser */
        if (len >= 44 && rnd(&seed) % 2 == 0) {
            uint32_t plen = (uint32_t)(len - 44);
            for (int i = 0; i < 4; i++)
                q[12 + i] = (unsigned char)(plen >> (8 * i));
            fix_crc(q, len);
        }
        const char *why = NULL;
        int rc = sl_window_decode(&v, q, len, &why);
        if (rc == SL_OK) {
            accepted++;
            check_consistent(&v);
        } else {
            rejected++;
            cr_assert(rc == SL_EPROTO || rc == SL_ERANGE || rc == SL_ESYNTAX);
            cr_assert_not_null(why);
        }
    }
    /* pure random bytes, any length */
    for (int iter = 0; iter < 2000; iter++) {
        size_t len = rnd(&seed) % 300;
        for (size_t i = 0; i < len; i++)
            q[i] = (unsigned char)rnd(&seed);
        if (len >= 4 && iter % 2 == 0)
            memcpy(q, "SLWN", 4);
        cr_assert_lt(sl_window_decode(&v, q, len, NULL), 0);
    }
    cr_assert_gt(rejected, 1000);
    cr_log_info("fuzz: %d accepted (consistent), %d rejected", accepted, rejected);
    sl_free(q);
    sl_window_dispose(&v);
}
