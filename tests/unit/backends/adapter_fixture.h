/*
 * adapter_fixture.h - helpers shared by the adapter tests: fixture files, an arena-backed allocator, piece joining.
 */
#ifndef SL_TESTS_ADAPTER_FIXTURE_H
#define SL_TESTS_ADAPTER_FIXTURE_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/adapter.h"
#include "common/alloc.h"
#include "common/arena.h"
#include "common/status.h"

static sl_arena_t fixture_arena;

static inline void *fixture_alloc_fn(void *ctx, size_t n)
{
    return sl_arena_alloc(ctx, n);
}

static sl_adapter_alloc_t fixture_alloc = {fixture_alloc_fn, &fixture_arena};

static inline void fixture_setup(void)
{
    sl_arena_init(&fixture_arena);
}

static inline void fixture_teardown(void)
{
    sl_arena_dispose(&fixture_arena);
}

/* Reads tests/fixtures/adapters/<name> into arena memory (NUL-terminated); *len gets its size. */
static inline char *fixture_read(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/fixtures/adapters/%s", SL_SOURCE_DIR, name);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = sl_arena_alloc(&fixture_arena, (size_t)n + 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

/* The bytes of a piece body, NUL-terminated, in arena memory. */
static inline char *fixture_join(const sl_adapter_body_t *b)
{
    char *out = sl_arena_alloc(&fixture_arena, b->len + 1);
    size_t n = sl_json_pieces_copy(b->pieces, b->num_pieces, out);
    cr_assert_eq(n, b->len);
    out[n] = '\0';
    return out;
}

/* Exit status of python3's json module parsing `text` (0 = valid JSON), as a second opinion on our output. */
static inline int fixture_python_json_ok(const char *text)
{
    FILE *p = popen("python3 -c 'import json,sys; json.loads(sys.stdin.buffer.read())' 2>/dev/null", "w");
    cr_assert_not_null(p);
    fwrite(text, 1, strlen(text), p);
    return pclose(p);
}

#define cr_assert_signal(sig, expected)                                                                                        \
    do {                                                                                                                       \
        cr_assert_eq((sig).state, SL_SIGNAL_VALUE, "signal state %d (%s)", (int)(sig).state,                                   \
                     (sig).reason ? (sig).reason : "");                                                                        \
        cr_assert_float_eq((sig).value, (expected), 1e-12, "got %.17g want %.17g", (sig).value, (double)(expected));           \
    } while (0)

#define cr_assert_signal_state(sig, st, why)                                                                                   \
    do {                                                                                                                       \
        cr_assert_eq((sig).state, (st));                                                                                       \
        cr_assert_str_eq((sig).reason, (why));                                                                                 \
    } while (0)

#endif
