#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "common/arena.h"
#include "common/status.h"
#include "common/str.h"

Test(str, buf_append_respects_cap)
{
    sl_buf_t b;
    sl_buf_init(&b, 8);
    cr_assert_eq(sl_buf_append(&b, "abcd", 4), SL_OK);
    cr_assert_eq(sl_buf_appendf(&b, "%d", 123), SL_OK);
    cr_assert_str_eq(b.data, "abcd123");
    cr_assert_eq(sl_buf_append(&b, "xy", 2), SL_ENOMEM);
    cr_assert_str_eq(b.data, "abcd123"); /* untouched on failure */
    sl_buf_dispose(&b);
}

Test(str, json_escape)
{
    sl_buf_t b;
    sl_buf_init(&b, 0);
    const char in[] = "a\"b\\c\n\x01";
    cr_assert_eq(sl_buf_append_json_escaped(&b, in, sizeof(in) - 1), SL_OK);
    cr_assert_str_eq(b.data, "a\\\"b\\\\c\\n\\u0001");
    sl_buf_dispose(&b);
}

Test(str, edit_distance_and_suggest)
{
    cr_assert_eq(sl_str_edit_distance("kitten", "sitting"), 3);
    cr_assert_eq(sl_str_edit_distance("", "abc"), 3);
    cr_assert_eq(sl_str_edit_distance("same", "same"), 0);
    const char *const keys[] = {"listen", "threads", "max_body", NULL};
    cr_assert_str_eq(sl_str_suggest("threds", keys), "threads");
    cr_assert_str_eq(sl_str_suggest("max_bdy", keys), "max_body");
    cr_assert_null(sl_str_suggest("completely_else", keys));
}

Test(arena, alloc_is_zeroed_aligned_and_survives_growth)
{
    sl_arena_t a;
    sl_arena_init(&a);
    char *first = sl_arena_strdup(&a, "hello");
    for (int i = 0; i != 1000; ++i) {
        unsigned char *p = sl_arena_alloc(&a, (size_t)(i % 97) + 1);
        cr_assert_eq((uintptr_t)p % 16, 0);
        for (int j = 0; j != i % 97 + 1; ++j)
            cr_assert_eq(p[j], 0);
        memset(p, 0xff, (size_t)(i % 97) + 1);
    }
    char *big = sl_arena_alloc(&a, 3 << 20);
    big[(3 << 20) - 1] = 1;
    cr_assert_str_eq(first, "hello");
    cr_assert_geq(a.total, 3u << 20);
    sl_arena_dispose(&a);
}

Test(str, prom_label)
{
    char buf[16];
    cr_assert_str_eq(sl_prom_label("a\\b\"c\nd", buf, sizeof(buf)), "a\\\\b\\\"c\\nd");
    cr_assert_str_eq(sl_prom_label("plain", buf, sizeof(buf)), "plain");
    char small[6];
    cr_assert_str_eq(sl_prom_label("ab\"cdef", small, sizeof(small)), "ab\\\""); /* cut whole: the escape kept entire */
    char tiny[5];
    cr_assert_str_eq(sl_prom_label("ab\"cdef", tiny, sizeof(tiny)), "ab"); /* no room for the escape: cut before it */
}
