/*
 * khash.h - the declarations <h2o/http2_internal.h> needs from klib's khash, which the Debian libh2o-dev package
 * does not ship. Only gateway/h2_limit.c includes that header, for the layout of h2o's HTTP/2 connection and
 * stream structs; the stream table stays opaque here (a pointer in the connection). h2o's inline lookup in it is
 * compiled but can never be linked: kh_get names a function that exists nowhere, so a call of
 * h2o_http2_conn_get_stream() fails the build instead of returning a wrong answer.
 */
#ifndef SL_GATEWAY_H2O_PRIVATE_KHASH_H
#define SL_GATEWAY_H2O_PRIVATE_KHASH_H

#include <stdint.h>

typedef uint32_t khint_t;
typedef khint_t khiter_t;

unsigned sl_h2o_khash_lookup_is_not_available(void);

#define khash_t(name) kh_##name##_t
#define KHASH_MAP_INIT_INT64(name, khval_t) typedef struct kh_##name##_s kh_##name##_t;
#define kh_get(name, h, k) ((khiter_t)sl_h2o_khash_lookup_is_not_available())
#define kh_end(h) ((khiter_t)0)
#define kh_val(h, x) ((void)(h), (void)(x), NULL)

#endif
