/* gateway/sse.c: event framing (LF, CRLF, CR), data lines, incomplete input, the end of a stream, rewrites. */
#include <criterion/criterion.h>
#include <string.h>

#include "common/status.h"
#include "gateway/sse.h"

static sl_sse_event_t next_ok(const char *s, int eos)
{
    sl_sse_event_t ev;
    cr_assert_eq(sl_sse_next(s, strlen(s), eos, &ev), SL_OK, "%s", s);
    return ev;
}

static const char *data_of(const char *s, const sl_sse_event_t *ev)
{
    static char buf[256];
    cr_assert_lt(ev->data_len, sizeof(buf));
    size_t n = sl_sse_data(s, ev, buf);
    cr_assert_eq(n, ev->data_len);
    buf[n] = '\0';
    return buf;
}

Test(sse, one_line_events_in_lf_crlf_and_cr)
{
    const char *lf = "data: {\"a\":1}\n\ndata: x\n\n";
    sl_sse_event_t ev = next_ok(lf, 0);
    cr_assert_eq(ev.len, 15);
    cr_assert_eq(ev.data_lines, 1);
    cr_assert_eq(ev.data_len, 7);
    cr_assert_eq(ev.data, lf + 6); /* in place, no copy */
    ev = next_ok(lf + 15, 0);
    cr_assert_eq(ev.len, 9);
    cr_assert_str_eq(data_of(lf + 15, &ev), "x");

    const char *crlf = "data:{\"a\":1}\r\n\r\nrest";
    ev = next_ok(crlf, 0);
    cr_assert_eq(ev.len, 16);
    cr_assert_str_eq(data_of(crlf, &ev), "{\"a\":1}"); /* no space after the colon: nothing dropped */

    const char *cr = "data: y\r\rdata: z\r\r";
    ev = next_ok(cr, 0);
    cr_assert_eq(ev.len, 9);
    cr_assert_str_eq(data_of(cr, &ev), "y");
}

Test(sse, multi_line_data_comments_and_other_fields)
{
    const char *s = ": keep-alive\nevent: delta\ndata: {\"a\":\ndata\ndata:  1}\nid: 7\n\n";
    sl_sse_event_t ev = next_ok(s, 0);
    cr_assert_eq(ev.len, strlen(s));
    cr_assert_eq(ev.data_lines, 3);
    cr_assert_null(ev.data);
    /* lines joined with LF; "data" alone is an empty line; only one leading space is dropped */
    cr_assert_str_eq(data_of(s, &ev), "{\"a\":\n\n 1}");
    const char *comment = ": ping\n\n";
    ev = next_ok(comment, 0);
    cr_assert_eq(ev.len, 8);
    cr_assert_eq(ev.data_lines, 0);
    cr_assert_eq(ev.data_len, 0);
    const char *blank = "\n\ndata: a\n\n"; /* a stray blank line is an empty event */
    ev = next_ok(blank, 0);
    cr_assert_eq(ev.len, 1);
    cr_assert_eq(ev.data_lines, 0);
    const char *notdata = "database: 1\ndata: 2\n\n"; /* "database" is another field */
    ev = next_ok(notdata, 0);
    cr_assert_str_eq(data_of(notdata, &ev), "2");
}

Test(sse, incomplete_input_waits_and_the_end_of_the_stream_closes_it)
{
    sl_sse_event_t ev;
    const char *cases[] = {"", "data: {\"a\"", "data: 1\n", "data: 1\n\r", "data: 1\r"};
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i)
        cr_assert_eq(sl_sse_next(cases[i], strlen(cases[i]), 0, &ev), SL_EAGAIN, "%s", cases[i]);
    cr_assert_eq(sl_sse_next("", 0, 1, &ev), SL_EAGAIN);
    /* at the end of the stream what is left is one last event */
    ev = next_ok("data: [DONE]", 1);
    cr_assert_eq(ev.len, 12);
    cr_assert_str_eq(data_of("data: [DONE]", &ev), "[DONE]");
    ev = next_ok("data: 1\r", 1);
    cr_assert_eq(ev.len, 8);
    cr_assert_str_eq(data_of("data: 1\r", &ev), "1");
    /* a CR followed by its LF in a later read is one line end */
    const char *later = "data: 1\r\n\r\n";
    ev = next_ok(later, 0);
    cr_assert_eq(ev.len, strlen(later));
}

Test(sse, rewrite_keeps_other_fields_and_splits_lines)
{
    const char *s = "event: chunk\ndata: {\"usage\":{\"x\":1}}\nid: 3\n\n";
    sl_sse_event_t ev = next_ok(s, 0);
    sl_json_piece_t pieces[] = {{"{\"usage\":", 9}, {"null", 4}, {"}", 1}};
    char out[128];
    size_t n = sl_sse_rewrite_len(s, &ev, pieces, 3);
    cr_assert_eq(sl_sse_rewrite(s, &ev, pieces, 3, out), n);
    out[n] = '\0';
    cr_assert_str_eq(out, "event: chunk\nid: 3\ndata: {\"usage\":null}\n\n");
    sl_json_piece_t two[] = {{"{\"a\":\n1}", 8}};
    n = sl_sse_rewrite_len(s, &ev, two, 1);
    cr_assert_eq(sl_sse_rewrite(s, &ev, two, 1, out), n);
    out[n] = '\0';
    cr_assert_str_eq(out, "event: chunk\nid: 3\ndata: {\"a\":\ndata: 1}\n\n");
}
