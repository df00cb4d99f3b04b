/*
 * usage.c - see usage.h. Each piece is scanned whole; a member split across two pieces is found in the junction:
 * the previous piece's last SL_GW_USAGE_CARRY bytes followed by this piece's first ones, scanned for matches that
 * start in the carried part. A member wholly inside those carried bytes is then read twice, with the same value,
 * before anything newer is read: counts are assigned, never added, so this changes nothing.
 */
#include "gateway/usage.h"

#include <string.h>

void sl_gw_usage_init(sl_gw_usage_t *u)
{
    memset(u, 0, sizeof(*u));
}

/* Tries to read `"name" ws? : ws? digits` at p (p points at the opening quote). Returns 1 with *value set when
 * complete inside [p, end) and within SL_GW_USAGE_CARRY bytes of p (the byte after the digits included), 0 when it
 * is not such a member, is longer, or is cut by end. The length cap makes a member found whole also found across
 * pieces: its opening quote is then among the carried bytes. */
static int read_member(const char *p, const char *end, const char *name, size_t nlen, uint64_t *value)
{
    if ((size_t)(end - p) > SL_GW_USAGE_CARRY)
        end = p + SL_GW_USAGE_CARRY;
    if ((size_t)(end - p) < nlen + 2 || memcmp(p + 1, name, nlen) != 0 || p[nlen + 1] != '"')
        return 0;
    p += nlen + 2;
    while (p != end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        ++p;
    if (p == end || *p != ':')
        return 0;
    ++p;
    while (p != end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        ++p;
    if (p == end || *p < '0' || *p > '9')
        return 0;
    uint64_t v = 0;
    const char *d = p;
    while (p != end && *p >= '0' && *p <= '9') {
        if (p - d >= 19)
            return 0; /* too long for a count we trust */
        v = v * 10 + (uint64_t)(*p - '0');
        ++p;
    }
    if (p == end)
        return 0; /* the number may continue in the next piece */
    *value = v;
    return 1;
}

/* Reads the members whose opening quote is at [from, stop) of buf[0..len) (they may extend up to len). Both names
 * end in `_tokens"`, and underscores are rare in JSON where quotes are everywhere: candidates are found by their
 * underscore, then the name before it is checked. Members come in the order of their quotes. */
static void scan(sl_gw_usage_t *u, const char *buf, size_t len, size_t from, size_t stop)
{
    const char *end = buf + len;
    size_t i = from + 7, last = stop + 11 < len ? stop + 11 : len;
    while (i < last) {
        const char *us = memchr(buf + i, '_', last - i);
        if (us == NULL)
            break;
        i = (size_t)(us - buf);
        uint64_t v;
        if (len - i >= 8 && memcmp(us, "_tokens\"", 8) == 0) {
            if (i >= from + 7 && i - 7 < stop && memcmp(us - 7, "\"prompt", 7) == 0 &&
                read_member(us - 7, end, "prompt_tokens", 13, &v)) {
                u->prompt_tokens = v;
                u->has_prompt = 1;
            } else if (i >= from + 11 && i - 11 < stop && memcmp(us - 11, "\"completion", 11) == 0 &&
                       read_member(us - 11, end, "completion_tokens", 17, &v)) {
                u->completion_tokens = v;
                u->has_completion = 1;
            }
        }
        ++i;
    }
}

void sl_gw_usage_feed(sl_gw_usage_t *u, const char *p, size_t n)
{
    if (n == 0)
        return;
    if (u->carry_len != 0) {
        char junction[2 * SL_GW_USAGE_CARRY];
        size_t take = n < SL_GW_USAGE_CARRY ? n : SL_GW_USAGE_CARRY;
        memcpy(junction, u->carry, u->carry_len);
        memcpy(junction + u->carry_len, p, take);
        scan(u, junction, u->carry_len + take, 0, u->carry_len);
    }
    scan(u, p, n, 0, n);
    /* the new carry: the last SL_GW_USAGE_CARRY bytes seen (the old carry's tail and this piece when it is short) */
    if (n >= SL_GW_USAGE_CARRY) {
        memcpy(u->carry, p + n - SL_GW_USAGE_CARRY, SL_GW_USAGE_CARRY);
        u->carry_len = SL_GW_USAGE_CARRY;
    } else {
        size_t keep = u->carry_len + n > SL_GW_USAGE_CARRY ? SL_GW_USAGE_CARRY - n : u->carry_len;
        memmove(u->carry, u->carry + u->carry_len - keep, keep);
        memcpy(u->carry + keep, p, n);
        u->carry_len = keep + n;
    }
}
