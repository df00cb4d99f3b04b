/*
 * errors.c - the list of messages a config load reports. Messages beyond SL_CONF_MAX_ERRORS are counted, not
 * stored, so a pathological file cannot make the report itself unbounded. Single-threaded per list.
 */
#include "conf/conf.h"
#include "common/alloc.h"

#include <stdarg.h>
#include <stdio.h>

void sl_conf_errors_init(sl_conf_errors_t *errs)
{
    errs->msgs = NULL;
    errs->count = 0;
    errs->alloc = 0;
    errs->dropped = 0;
}

void sl_conf_errors_dispose(sl_conf_errors_t *errs)
{
    for (size_t i = 0; i != errs->count; ++i)
        sl_free(errs->msgs[i]);
    sl_free(errs->msgs);
    sl_conf_errors_init(errs);
}

void sl_conf_errors_addf(sl_conf_errors_t *errs, const char *fmt, ...)
{
    if (errs->count == SL_CONF_MAX_ERRORS) {
        ++errs->dropped;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    char *msg = sl_malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(msg, (size_t)n + 1, fmt, ap);
    va_end(ap);
    if (errs->count == errs->alloc) {
        errs->alloc = errs->alloc == 0 ? 8 : errs->alloc * 2;
        errs->msgs = sl_realloc(errs->msgs, errs->alloc * sizeof(*errs->msgs));
    }
    errs->msgs[errs->count++] = msg;
}
