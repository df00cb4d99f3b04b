/*
 * status.h - the one error vocabulary of sluice.
 *
 * Every function that can fail returns int: SL_OK (0) or a negative SL_E* code, and leaves its outputs untouched
 * on failure. Codes are small and stable so tests can compare them; sl_strerror() gives the words.
 */
#ifndef SL_COMMON_STATUS_H
#define SL_COMMON_STATUS_H

enum en_sl_status_t {
    SL_OK = 0,
    SL_EINVAL = -1,    /* an argument or input value is invalid */
    SL_ENOMEM = -2,    /* a hard cap was reached (allocation failure itself aborts) */
    SL_ENOENT = -3,    /* no such file, key or entry */
    SL_EIO = -4,       /* an operating-system I/O call failed (errno says why) */
    SL_ERANGE = -5,    /* a value is out of its allowed range */
    SL_EEXIST = -6,    /* a duplicate name or key */
    SL_ETIMEDOUT = -7, /* a deadline passed */
    SL_EAGAIN = -8,    /* try again later (queue full, shed) */
    SL_ESYNTAX = -9,   /* malformed text: YAML, JSON, a unit */
    SL_ECONFIG = -10,  /* the configuration has errors (they were reported) */
    SL_EPROTO = -11,   /* a peer violated its protocol */
    SL_ECLOSED = -12,  /* the peer or the object is gone */
};

/* Returns a static, human-readable description of a status code; never NULL. Any thread. */
const char *sl_strerror(int status);

#endif
