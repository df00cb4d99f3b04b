/*
 * fuzz_check.h - what the fuzz targets share: CHECK, the oracle that aborts (libFuzzer then keeps the input).
 */
#ifndef SL_TESTS_FUZZ_CHECK_H
#define SL_TESTS_FUZZ_CHECK_H

#include <stdlib.h>

/* Aborts when cond is false: a failed oracle is a crash to libFuzzer, its input kept as an artifact. */
#define CHECK(cond)                                                                                                            \
    do {                                                                                                                       \
        if (!(cond))                                                                                                           \
            abort();                                                                                                           \
    } while (0)

#endif
