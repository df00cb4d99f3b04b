/*
 * window_codec.c - the persisted form of a window: versioned, compact, checksummed, and safe to decode from any
 * byte string.
 *
 * Layout (all integers little endian):
 *   0  "SLWN"            magic
 *   4  u16 version       SL_WINDOW_CODEC_VERSION
 *   6  u16 reserved      0
 *   8  u32 capacity_min  1 .. SL_WINDOW_MAX_MINUTES
 *  12  u32 payload_len
 *  16  i64 head_min      0 .. SL_WINDOW_MAX_MINUTE
 *  24  i64 first_min     0 .. head_min
 *  32  u64 clamped
 *  40  payload           the capacity_min minutes (head - capacity, head], oldest first, as records:
 *                          varint 0, varint r   r >= 1 minutes without traffic
 *                          varint t, varint b   one minute with total t >= 1, of which b <= t bad
 *  40 + payload_len      u32 CRC-32C of bytes [0, 40 + payload_len)
 *
 * Decoding validates everything before touching the window: length, magic, version, checksum, then one pass over
 * the payload that checks the record grammar, the minute count, b <= t, that no minute before first_min has
 * traffic and that no window total overflows 64 bits. Only then does a second pass write the ring, so a failed
 * decode leaves the window as it was. Varints are bounded to 10 bytes and every read is bounds-checked, so no
 * input can make the decoder read outside the buffer or loop without consuming bytes.
 *
 * The CRC-32C detects every error of up to 3 bits and every burst up to 32 bits in messages of this size; it is
 * an integrity check against torn writes and bit rot, not an authenticator.
 */
#include "stats/window.h"

#include <string.h>

#include "common/status.h"

static const unsigned char MAGIC[4] = {'S', 'L', 'W', 'N'};

uint32_t sl_window_crc32c(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return crc ^ 0xFFFFFFFFu;
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int put_varint(sl_buf_t *out, uint64_t v)
{
    unsigned char b[10];
    int n = 0;
    do {
        b[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v != 0)
            b[n] |= 0x80;
        n++;
    } while (v != 0);
    return sl_buf_append(out, b, (size_t)n);
}

/* Reads one LEB128 varint at *pos; returns 0 on success, -1 when truncated or longer than 64 bits. */
static int get_varint(const unsigned char *p, size_t len, size_t *pos, uint64_t *v)
{
    uint64_t r = 0;
    for (int i = 0; i < 10; i++) {
        if (*pos >= len)
            return -1;
        unsigned char c = p[(*pos)++];
        if (i == 9 && c > 1)
            return -1;
        r |= (uint64_t)(c & 0x7f) << (7 * i);
        if ((c & 0x80) == 0) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

int sl_window_encode(const sl_window_t *w, sl_buf_t *out)
{
    size_t start = out->len;
    unsigned char hdr[SL_WINDOW_CODEC_HEADER];
    memset(hdr, 0, sizeof(hdr));
    if (sl_buf_append(out, hdr, sizeof(hdr)) != SL_OK)
        goto Fail;

    uint64_t run = 0;
    for (int64_t m = w->head_min - (int64_t)w->capacity_min + 1; m <= w->head_min; m++) {
        sl_window_sum_t c = {0, 0};
        if (m >= 0)
            sl_window_minute(w, m, &c);
        if (c.total == 0) {
            run++;
            continue;
        }
        if (run != 0 && (put_varint(out, 0) != SL_OK || put_varint(out, run) != SL_OK))
            goto Fail;
        run = 0;
        if (put_varint(out, c.total) != SL_OK || put_varint(out, c.total - c.good) != SL_OK)
            goto Fail;
    }
    if (run != 0 && (put_varint(out, 0) != SL_OK || put_varint(out, run) != SL_OK))
        goto Fail;

    size_t payload = out->len - start - SL_WINDOW_CODEC_HEADER;
    if (payload > UINT32_MAX)
        goto Fail;
    unsigned char *h = (unsigned char *)out->data + start;
    memcpy(h, MAGIC, 4);
    put_le(h + 4, SL_WINDOW_CODEC_VERSION, 2);
    put_le(h + 6, 0, 2);
    put_le(h + 8, w->capacity_min, 4);
    put_le(h + 12, payload, 4);
    put_le(h + 16, (uint64_t)w->head_min, 8);
    put_le(h + 24, (uint64_t)w->first_min, 8);
    put_le(h + 32, w->clamped, 8);
    unsigned char crc[SL_WINDOW_CODEC_TRAILER];
    put_le(crc, sl_window_crc32c(out->data + start, out->len - start), 4);
    if (sl_buf_append(out, crc, sizeof(crc)) != SL_OK)
        goto Fail;
    return SL_OK;

Fail:
    out->len = start;
    if (out->data != NULL)
        out->data[start] = '\0';
    return SL_ENOMEM;
}

static void put_slot(sl_window_t *w, int64_t m, uint64_t g, uint64_t t)
{
    uint32_t s = (uint32_t)((uint64_t)m % ((uint64_t)w->capacity_min + 1));
    w->cum_private[2 * s] = g;
    w->cum_private[2 * s + 1] = t;
}

/*
 * Walks the payload. With w == NULL it only validates (returns NULL or the defect). With w it writes the running
 * totals of every minute the ring keeps, [head - w->capacity_min, head] (minutes older than that only feed the
 * running totals, minutes before 0 are skipped); the caller has zeroed the slots, which is right for any minute
 * before the encoded span.
 */
static const char *walk(const unsigned char *p, size_t len, uint32_t cap, int64_t head, int64_t first, sl_window_t *w)
{
    size_t pos = 0;
    int64_t m = head - (int64_t)cap + 1; /* next minute to decode */
    uint64_t sum_total = 0, cg = 0, ct = 0;
    int64_t keep_from = w != NULL ? head - (int64_t)w->capacity_min : 0;
    if (keep_from < 0)
        keep_from = 0;
    while (pos < len) {
        uint64_t a, b;
        if (get_varint(p, len, &pos, &a) != 0 || get_varint(p, len, &pos, &b) != 0)
            return "malformed varint in payload";
        if (a == 0) {
            if (b == 0 || b > (uint64_t)(head - m + 1))
                return "bad run of empty minutes";
            if (w != NULL) {
                int64_t from = m > keep_from ? m : keep_from;
                for (int64_t k = from; k < m + (int64_t)b; k++)
                    put_slot(w, k, cg, ct);
            }
            m += (int64_t)b;
            continue;
        }
        if (m > head)
            return "more minutes than the capacity";
        if (b > a)
            return "a minute has more bad than total requests";
        if (m < first)
            return "traffic recorded before the window's origin";
        if (sum_total + a < sum_total)
            return "window total overflows 64 bits";
        sum_total += a;
        cg += a - b;
        ct += a;
        if (w != NULL && m >= keep_from)
            put_slot(w, m, cg, ct);
        m++;
    }
    if (m != head + 1)
        return "payload does not cover the capacity";
    return NULL;
}

int sl_window_decode(sl_window_t *w, const void *buf, size_t len, const char **why)
{
    const unsigned char *p = buf;
    const char *msg;
    int rc = SL_ESYNTAX;

    if (len < 4 || memcmp(p, MAGIC, 4) != 0) {
        msg = len == 0 ? "empty input" : "not an encoded window (bad magic)";
        rc = SL_EPROTO;
        goto Fail;
    }
    if (len < SL_WINDOW_CODEC_HEADER + SL_WINDOW_CODEC_TRAILER) {
        msg = "truncated header";
        goto Fail;
    }
    if (get_le(p + 4, 2) != SL_WINDOW_CODEC_VERSION) {
        msg = "unsupported encoding version";
        rc = SL_ERANGE;
        goto Fail;
    }
    uint64_t payload = get_le(p + 12, 4);
    if (len != SL_WINDOW_CODEC_HEADER + payload + SL_WINDOW_CODEC_TRAILER) {
        msg = len < SL_WINDOW_CODEC_HEADER + payload + SL_WINDOW_CODEC_TRAILER ? "truncated" : "trailing bytes";
        goto Fail;
    }
    if (sl_window_crc32c(p, len - SL_WINDOW_CODEC_TRAILER) != (uint32_t)get_le(p + len - SL_WINDOW_CODEC_TRAILER, 4)) {
        msg = "checksum mismatch";
        goto Fail;
    }
    uint64_t cap = get_le(p + 8, 4), head = get_le(p + 16, 8), first = get_le(p + 24, 8);
    uint64_t clamped = get_le(p + 32, 8);
    if (get_le(p + 6, 2) != 0 || cap == 0 || cap > SL_WINDOW_MAX_MINUTES || head > (uint64_t)SL_WINDOW_MAX_MINUTE ||
        first > head) {
        msg = "header fields out of range";
        goto Fail;
    }
    if ((msg = walk(p + SL_WINDOW_CODEC_HEADER, payload, (uint32_t)cap, (int64_t)head, (int64_t)first, NULL)) != NULL)
        goto Fail;

    /* Valid: rebuild the ring from zeroed slots; the second walk cannot fail. */
    memset(w->cum_private, 0, ((size_t)w->capacity_min + 1) * 2 * sizeof(uint64_t));
    w->head_min = (int64_t)head;
    w->first_min = (int64_t)first;
    w->clamped = clamped;
    walk(p + SL_WINDOW_CODEC_HEADER, payload, (uint32_t)cap, (int64_t)head, (int64_t)first, w);
    return SL_OK;

Fail:
    if (why != NULL)
        *why = msg;
    return rc;
}
