/*
 * persist.c - atomic state files: an envelope that says what a file is and whether it is whole, written so that a
 * crash never leaves half a file, and read so that no damaged file is ever trusted or destroyed.
 *
 * Envelope (integers little endian):
 *   0  "SLST"               magic
 *   4  u16 envelope version SL_PERSIST_VERSION
 *   6  u16 payload version  the owning policy's own format version
 *   8  kind[16]             "slo", "rollout", ... NUL-padded
 *  24  u64 written_wall_ms  the writer's wall clock (for people reading the file, and for the policy)
 *  32  u64 payload_len
 *  40  payload
 *  40 + payload_len         u32 CRC-32C of bytes [0, 40 + payload_len)
 *
 * Writing (POSIX rename(2) is atomic within a file system): the whole envelope goes to "<dir>/.<name>.tmp", which is
 * fsync'ed, renamed over "<dir>/<name>", and the directory is fsync'ed so the rename itself survives a power loss.
 * At any instant the state file is either the previous version or the new one, whole; the temp file is removed on
 * any failure. A kill -9 therefore loses at most what happened since the last write: one interval.
 *
 * Reading checks, in order: size, magic, envelope version, payload length, checksum, kind, payload version. Any
 * defect - including an empty file left by a file system that lost the data of a rename - is reported with the path
 * and the reason and the file is renamed to "<name>.corrupt-<unix seconds>" (".1", ".2", ... if that is taken), so
 * an operator can inspect or restore it, and the next write cannot overwrite it. Only when even that rename fails
 * does the file stay in place; writes are then refused (a budget is never silently replaced by an empty one).
 *
 * Thread: the control thread (or a command-line tool). Blocking file I/O; never on a worker.
 */
#include "policies/persist.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/file.h"
#include "common/log.h"
#include "common/status.h"
#include "stats/window.h"

static const unsigned char MAGIC[4] = {'S', 'L', 'S', 'T'};

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

static void say(char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(char *why, const char *fmt, ...)
{
    if (why == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, SL_PERSIST_WHY_MAX, fmt, ap);
    va_end(ap);
}

static char *join(const char *dir, const char *prefix, const char *name, const char *suffix)
{
    size_t n = strlen(dir) + strlen(prefix) + strlen(name) + strlen(suffix) + 2;
    char *s = sl_malloc(n);
    snprintf(s, n, "%s/%s%s%s", dir, prefix, name, suffix);
    return s;
}

static int name_ok(const char *name)
{
    size_t len = strlen(name);
    return len != 0 && len <= 64 && name[0] != '.' &&
           strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == len;
}

/* Creates dir when missing, then proves it writable by creating and removing tmp. */
static int check_dir(const char *dir, const char *tmp, char *why)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno != ENOENT || mkdir(dir, 0700) != 0) {
            say(why, "state_dir %s: cannot create: %s", dir, strerror(errno));
            return SL_EIO;
        }
        SL_LOG(SL_LOG_INFO, "persist", "created state_dir %s", dir);
    } else if (!S_ISDIR(st.st_mode)) {
        say(why, "state_dir %s: not a directory", dir);
        return SL_EIO;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        say(why, "state_dir %s: not writable: %s", dir, strerror(errno));
        return SL_EIO;
    }
    close(fd);
    unlink(tmp);
    return SL_OK;
}

int sl_persist_init(sl_persist_t *p, const char *dir, const char *name, const char *kind, uint16_t payload_version,
                    uint32_t interval_ms, char why[SL_PERSIST_WHY_MAX])
{
    memset(p, 0, sizeof(*p));
    if (dir == NULL || dir[0] == '\0' || !name_ok(name) || kind == NULL || kind[0] == '\0' ||
        strlen(kind) > SL_PERSIST_KIND_MAX || interval_ms < SL_PERSIST_MIN_INTERVAL_MS ||
        interval_ms > SL_PERSIST_MAX_INTERVAL_MS) {
        say(why, "invalid state file parameters");
        return SL_EINVAL;
    }
    char *tmp = join(dir, ".", name, ".tmp");
    int rc = check_dir(dir, tmp, why);
    if (rc != SL_OK) {
        SL_LOG(SL_LOG_ERROR, "persist", "%s", why != NULL ? why : "state_dir unusable");
        sl_free(tmp);
        return rc;
    }
    p->dir = sl_strdup(dir);
    p->path = join(dir, "", name, "");
    p->tmp_path = tmp;
    memcpy(p->kind, kind, strlen(kind) + 1);
    p->payload_version = payload_version;
    p->interval_ms = interval_ms;
    return SL_OK;
}

void sl_persist_dispose(sl_persist_t *p)
{
    sl_free(p->dir);
    sl_free(p->path);
    sl_free(p->tmp_path);
    p->dir = p->path = p->tmp_path = NULL;
}

int sl_persist_due(const sl_persist_t *p, uint64_t now_ms)
{
    return p->writes == 0 || now_ms - p->last_write_ms >= p->interval_ms;
}

int sl_persist_begin(sl_buf_t *b)
{
    unsigned char hdr[SL_PERSIST_HEADER];
    memset(hdr, 0, sizeof(hdr));
    b->len = 0;
    return sl_buf_append(b, hdr, sizeof(hdr));
}

/* The file replaced atomically (common/file.h); why describes the step that failed. */
static int atomic_replace(const char *dir, const char *path, const char *tmp, const void *data, size_t len, int mode, char *why)
{
    const char *step;
    if (sl_file_replace(NULL, dir, path, tmp, data, len, (mode_t)mode, &step) == SL_OK)
        return SL_OK;
    if (step == sl_file_step_dir_fsync) /* the new file is in place; only its durability is in doubt */
        say(why, "%s: fsync of directory %s failed: %s", path, dir, strerror(errno));
    else
        say(why, "%s: %s of %s failed: %s", path, step, tmp, errno != 0 ? strerror(errno) : "short write");
    return SL_EIO;
}

int sl_persist_write(sl_persist_t *p, sl_buf_t *b, uint64_t now_ms, uint64_t wall_ms, char why[SL_PERSIST_WHY_MAX])
{
    if (p->path == NULL || b->len < SL_PERSIST_HEADER || b->len - SL_PERSIST_HEADER > SL_PERSIST_MAX_BYTES) {
        say(why, "invalid state payload");
        return SL_EINVAL;
    }
    if (p->blocked_private) {
        say(why, "%s: not written: an unreadable state file is still in place", p->path);
        p->failures++;
        SL_LOG(SL_LOG_ERROR, "persist", "%s", why);
        return SL_EIO;
    }
    unsigned char *h = (unsigned char *)b->data;
    size_t payload = b->len - SL_PERSIST_HEADER;
    memcpy(h, MAGIC, 4);
    put_le(h + 4, SL_PERSIST_VERSION, 2);
    put_le(h + 6, p->payload_version, 2);
    memset(h + 8, 0, 16);
    memcpy(h + 8, p->kind, strlen(p->kind));
    put_le(h + 24, wall_ms, 8);
    put_le(h + 32, payload, 8);
    unsigned char crc[SL_PERSIST_TRAILER];
    put_le(crc, sl_window_crc32c(b->data, b->len), 4);
    if (sl_buf_append(b, crc, sizeof(crc)) != SL_OK) {
        say(why, "%s: state larger than its buffer cap", p->path);
        return SL_ENOMEM;
    }
    char local[SL_PERSIST_WHY_MAX];
    errno = 0;
    int rc = atomic_replace(p->dir, p->path, p->tmp_path, b->data, b->len, 0600, local);
    b->len -= SL_PERSIST_TRAILER;
    if (rc != SL_OK) {
        p->failures++;
        SL_LOG(SL_LOG_ERROR, "persist", "%s", local);
        say(why, "%s", local);
        return rc;
    }
    p->last_write_ms = now_ms;
    p->writes++;
    return SL_OK;
}

/* Renames the state file to <path>.corrupt-<unix s>[.N]; fills aside. Returns 0 or -1 (errno set). */
static int rename_aside(const sl_persist_t *p, uint64_t wall_ms, char *aside, size_t asz)
{
    for (unsigned n = 0; n < 1000; n++) {
        if (n == 0)
            snprintf(aside, asz, "%s.corrupt-%" PRIu64, p->path, wall_ms / 1000);
        else
            snprintf(aside, asz, "%s.corrupt-%" PRIu64 ".%u", p->path, wall_ms / 1000, n);
        struct stat st;
        if (lstat(aside, &st) == 0)
            continue;
        if (rename(p->path, aside) != 0)
            return -1;
        sl_file_fsync_dir(p->dir);
        return 0;
    }
    errno = EEXIST;
    return -1;
}

int sl_persist_set_aside(sl_persist_t *p, const char *reason, uint64_t wall_ms, char why[SL_PERSIST_WHY_MAX])
{
    char aside[4096];
    struct stat st;
    if (lstat(p->path, &st) != 0 && errno == ENOENT)
        return SL_ENOENT;
    if (rename_aside(p, wall_ms, aside, sizeof(aside)) != 0) {
        p->blocked_private = 1;
        say(why, "%s: %s; could not set it aside (%s): writes disabled", p->path, reason, strerror(errno));
        SL_LOG(SL_LOG_ERROR, "persist", "%s: %s; could not set it aside (%s): writes disabled", p->path, reason,
               strerror(errno));
        return SL_EIO;
    }
    const char *base = strrchr(aside, '/');
    base = base != NULL ? base + 1 : aside;
    say(why, "%s; set aside as %s", reason, base);
    SL_LOG(SL_LOG_ERROR, "persist", "%s: %s; set aside as %s", p->path, reason, aside);
    return SL_OK;
}

/* Reads the whole file at path into buf; returns SL_OK, SL_ENOENT, SL_ERANGE (too large) or SL_EIO (errno). */
static int slurp(const char *path, sl_buf_t *buf, size_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? SL_ENOENT : SL_EIO;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return SL_EIO;
    }
    if ((uint64_t)st.st_size > SL_PERSIST_MAX_BYTES + SL_PERSIST_HEADER + SL_PERSIST_TRAILER) {
        *size = (size_t)st.st_size;
        close(fd);
        return SL_ERANGE;
    }
    buf->len = 0;
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            errno = e;
            return SL_EIO;
        }
        if (n == 0)
            break;
        if (sl_buf_append(buf, chunk, (size_t)n) != SL_OK) {
            *size = buf->len + (size_t)n;
            close(fd);
            return SL_ERANGE;
        }
    }
    close(fd);
    *size = buf->len;
    return SL_OK;
}

/* Checks the envelope; returns NULL when valid, else the reason (in msg). */
static const char *check_envelope(const sl_persist_t *p, const unsigned char *d, size_t n, char *msg, size_t msz)
{
    const size_t min = SL_PERSIST_HEADER + SL_PERSIST_TRAILER;
    if (n == 0)
        return "empty file";
    if (n < min) {
        snprintf(msg, msz, "truncated: %zu bytes, an envelope needs at least %zu", n, min);
        return msg;
    }
    if (memcmp(d, MAGIC, 4) != 0)
        return "not a sluice state file (bad magic)";
    uint64_t version = get_le(d + 4, 2), payload_version = get_le(d + 6, 2), len = get_le(d + 32, 8);
    if (version != SL_PERSIST_VERSION) {
        snprintf(msg, msz, "envelope version %" PRIu64 ", this build reads %u", version, SL_PERSIST_VERSION);
        return msg;
    }
    if (len != n - min) {
        snprintf(msg, msz, "%s: header declares %" PRIu64 " payload bytes, the file holds %zu",
                 len > n - min ? "truncated" : "length mismatch", len, n - min);
        return msg;
    }
    if ((uint32_t)get_le(d + n - SL_PERSIST_TRAILER, 4) != sl_window_crc32c(d, n - SL_PERSIST_TRAILER))
        return "checksum mismatch";
    char kind[SL_PERSIST_KIND_MAX + 2];
    memcpy(kind, d + 8, 16);
    kind[16] = '\0';
    if (strcmp(kind, p->kind) != 0 || memchr(d + 8, '\0', 16) == NULL) {
        char shown[64];
        size_t k = 0;
        for (size_t i = 0; i < 16 && d[8 + i] != '\0' && k + 1 < sizeof(shown); i++)
            shown[k++] = d[8 + i] >= 0x20 && d[8 + i] < 0x7f ? (char)d[8 + i] : '?';
        shown[k] = '\0';
        snprintf(msg, msz, "foreign state file: kind \"%s\", expected \"%s\"", shown, p->kind);
        return msg;
    }
    if (payload_version != p->payload_version) {
        snprintf(msg, msz, "payload version %" PRIu64 ", this build reads %u", payload_version, (unsigned)p->payload_version);
        return msg;
    }
    return NULL;
}

int sl_persist_read(sl_persist_t *p, sl_buf_t *buf, enum en_sl_persist_found_t *found, const void **payload, size_t *len,
                    uint64_t *written_wall_ms, uint64_t wall_ms, char why[SL_PERSIST_WHY_MAX])
{
    char msg[SL_PERSIST_WHY_MAX];
    const char *reason;
    size_t size = 0;
    errno = 0;
    int rc = slurp(p->path, buf, &size);
    if (rc == SL_ENOENT) {
        *found = SL_PERSIST_FOUND_NONE;
        say(why, "no state file");
        return SL_OK;
    }
    if (rc == SL_EIO) {
        snprintf(msg, sizeof(msg), "unreadable: %s", strerror(errno));
        reason = msg;
    } else if (rc == SL_ERANGE) {
        snprintf(msg, sizeof(msg), "too large: %zu bytes or more (the limit is %zu)", size,
                 (size_t)SL_PERSIST_MAX_BYTES + SL_PERSIST_HEADER + SL_PERSIST_TRAILER);
        reason = msg;
    } else {
        reason = check_envelope(p, (const unsigned char *)buf->data, buf->len, msg, sizeof(msg));
    }
    if (reason != NULL) {
        char local[SL_PERSIST_WHY_MAX];
        snprintf(local, sizeof(local), "%s", reason); /* reason may live in msg, which the callee may not see */
        buf->len = 0;
        rc = sl_persist_set_aside(p, local, wall_ms, why);
        *found = SL_PERSIST_FOUND_SET_ASIDE;
        return rc == SL_EIO ? SL_EIO : SL_OK;
    }
    const unsigned char *d = (const unsigned char *)buf->data;
    *found = SL_PERSIST_FOUND_OK;
    *payload = d + SL_PERSIST_HEADER;
    *len = buf->len - SL_PERSIST_HEADER - SL_PERSIST_TRAILER;
    *written_wall_ms = get_le(d + 24, 8);
    say(why, "restored");
    return SL_OK;
}

int sl_persist_write_file(const char *path, const void *data, size_t len, char why[SL_PERSIST_WHY_MAX])
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    size_t n = strlen(path) + 16;
    char *tmp = sl_malloc(n);
    snprintf(tmp, n, "%s.tmp", path);
    errno = 0;
    int rc = atomic_replace(dir, path, tmp, data, len, 0644, why);
    sl_free(tmp);
    return rc;
}
