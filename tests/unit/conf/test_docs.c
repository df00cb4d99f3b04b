/*
 * test_docs.c - docs/CONFIG.md documents every key of the loader's tables (conf/schema.h) in a row of its own,
 * "| `full.key.path` | type | default | ...", and every default given in a table appears in that row as written.
 * Adding a key without documenting it fails here.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/schema.h"

static char *read_doc(void)
{
    FILE *f = fopen(SL_SOURCE_ROOT "/docs/CONFIG.md", "rb");
    cr_assert_not_null(f, "docs/CONFIG.md is missing");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *doc = calloc(1, (size_t)n + 1);
    cr_assert_eq(fread(doc, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return doc;
}

/* Returns the row documenting path (up to its newline, in buf), or NULL. */
static const char *find_row(const char *doc, const char *path, char *buf, size_t bufsz)
{
    char needle[300];
    snprintf(needle, sizeof(needle), "\n| `%s` |", path);
    const char *p = strstr(doc, needle);
    if (p == NULL)
        return NULL;
    const char *end = strchr(p + 1, '\n');
    size_t len = end != NULL ? (size_t)(end - p - 1) : strlen(p + 1);
    snprintf(buf, bufsz, "%.*s", (int)len, p + 1);
    return buf;
}

static size_t walk(const char *doc, const sl_conf_block_t *block, const char *prefix)
{
    size_t n = 0;
    for (const sl_conf_key_t *k = block->keys; k->name != NULL; ++k, ++n) {
        char path[256], row[2048];
        snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] != '\0' ? "." : "", k->name);
        const char *r = find_row(doc, path, row, sizeof(row));
        cr_expect_not_null(r, "docs/CONFIG.md has no row for `%s`", path);
        if (r != NULL && k->def != NULL) {
            char def[128];
            snprintf(def, sizeof(def), "`%s`", k->def);
            cr_expect_not_null(strstr(r, def), "the row of `%s` does not give its default %s: %s", path, def, r);
        }
        if (r != NULL && k->required)
            cr_expect_not_null(strstr(r, "(required)"), "the row of `%s` does not say it is required", path);
        if (k->sub != NULL) {
            char sub[256];
            snprintf(sub, sizeof(sub), "%s%s", path, k->sub_path != NULL ? k->sub_path : "");
            n += walk(doc, k->sub, sub);
        }
    }
    return n;
}

Test(docs, every_key_is_documented_with_its_default)
{
    char *doc = read_doc();
    size_t n = walk(doc, &sl_conf_root_block, "");
    cr_assert_geq(n, 70, "only %zu keys walked", n);
    free(doc);
}
