/*
 * load.c - loading a config: reading the file, the top-level, `server` and `admin` blocks, the snapshot's life
 * cycle and lookups. Backends are in load_backends.c, routes in load_routes.c (their cascades in load_tiers.c and
 * load_conditions.c).
 *
 * A load builds a complete sl_conf_t in a fresh arena and hands it out only when the whole file is valid; a failed
 * load frees everything it made, so a bad reload can never disturb the running config. Relative paths in the file
 * (token_file, tls, access_log, state_dir) are resolved against the directory of the config file. The admin token
 * is read at load time, so a reload picks up a rotated token and a missing token fails the load, not a request.
 * Runs on the control thread or in `sluice check`; nothing here is on the request path.
 */
#include "conf/conf.h"
#include "common/alloc.h"
#include "common/status.h"
#include "conf/schema.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_TOKEN_BYTES 4096

static _Atomic uint64_t generation_counter;

/* threads, max_connections: "auto" (stored as 0) or key->min..key->max. */
static int p_auto_int(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    char buf[256];
    const char *err, *text = sl_conf_scalar(ctx, node);
    int64_t v;
    if (text == NULL)
        return SL_ECONFIG;
    if (strcmp(text, "auto") == 0) {
        *(uint32_t *)field = 0;
        return SL_OK;
    }
    if (sl_conf_parse_int(text, key->min, key->max, &v, &err) != SL_OK) {
        sl_conf_error(ctx, node, "must be \"auto\" or an integer between %" PRId64 " and %" PRId64 ", got %s", key->min,
                      key->max, sl_conf_quote(text, buf, sizeof(buf)));
        return SL_ECONFIG;
    }
    *(uint32_t *)field = (uint32_t)v;
    return SL_OK;
}

/* access_log: "-" for stderr, else a file path. */
static int p_access_log(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    if (node->kind == SL_YNODE_SCALAR && strcmp(node->text, "-") == 0) {
        *(const char **)field = "-";
        return SL_OK;
    }
    return sl_conf_p_path(ctx, node, field, key);
}

/* A file the gateway will open later: fail the load now if it cannot be read. */
static int p_readable_path(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    if (sl_conf_p_path(ctx, node, field, key) != SL_OK)
        return SL_ECONFIG;
    const char *path = *(const char **)field;
    if (access(path, R_OK) != 0) {
        sl_conf_error(ctx, node, "cannot read %s: %s", path, strerror(errno));
        return SL_ECONFIG;
    }
    return SL_OK;
}

/* token_file: reads the token now; surrounding whitespace is trimmed; it must be non-empty printable ASCII. */
static int p_token_file(sl_conf_ctx_t *ctx, const sl_ynode_t *node, void *field, const sl_conf_key_t *key)
{
    sl_conf_admin_t *admin = (sl_conf_admin_t *)((char *)field - key->offset);
    char buf[MAX_TOKEN_BYTES + 1];
    if (sl_conf_p_path(ctx, node, field, key) != SL_OK)
        return SL_ECONFIG;
    /* O_NONBLOCK and the regular-file check: a FIFO or a device named here must not block or flood the load */
    int fd = open(admin->token_file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        sl_conf_error(ctx, node, "cannot read %s: %s", admin->token_file, strerror(errno));
        if (fd >= 0)
            close(fd);
        return SL_ECONFIG;
    }
    if (!S_ISREG(st.st_mode)) {
        sl_conf_error(ctx, node, "cannot read %s: not a regular file", admin->token_file);
        close(fd);
        return SL_ECONFIG;
    }
    size_t len = 0;
    ssize_t n = 0;
    while (len < sizeof(buf) && ((n = read(fd, buf + len, sizeof(buf) - len)) > 0 || (n < 0 && errno == EINTR)))
        len += n > 0 ? (size_t)n : 0;
    int read_errno = n < 0 ? errno : 0;
    close(fd);
    if (read_errno != 0) {
        sl_conf_error(ctx, node, "cannot read %s: %s", admin->token_file, strerror(read_errno));
        return SL_ECONFIG;
    }
    if (len > MAX_TOKEN_BYTES) {
        sl_conf_error(ctx, node, "%s: the token is longer than %d bytes", admin->token_file, MAX_TOKEN_BYTES);
        return SL_ECONFIG;
    }
    size_t start = 0;
    while (len != 0 && strchr(" \t\r\n", buf[len - 1]) != NULL)
        --len;
    while (start != len && strchr(" \t\r\n", buf[start]) != NULL)
        ++start;
    if (start == len) {
        sl_conf_error(ctx, node, "%s: the token file is empty", admin->token_file);
        return SL_ECONFIG;
    }
    for (size_t i = start; i != len; ++i) {
        if (buf[i] <= 0x20 || buf[i] >= 0x7f) {
            sl_conf_error(ctx, node, "%s: the token must be printable ASCII without spaces", admin->token_file);
            return SL_ECONFIG;
        }
    }
    admin->token = sl_arena_strndup(ctx->arena, buf + start, len - start);
    return SL_OK;
}

static int is_loopback(const sl_conf_addr_t *a)
{
    if (a->family == AF_UNIX)
        return 1;
    if (a->family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)&a->sa)->sin_addr.s_addr) >> 24) == 127;
    if (a->family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)&a->sa)->sin6_addr);
    return 0;
}

static const sl_conf_key_t tls_keys[] = {{"cert", p_readable_path, offsetof(sl_conf_server_t, tls_cert_file), .required = 1},
                                         {"key", p_readable_path, offsetof(sl_conf_server_t, tls_key_file), .required = 1},
                                         {NULL}};
static const sl_conf_block_t tls_block = {tls_keys, NULL};

static const sl_conf_key_t server_keys[] = {
    {"listen", sl_conf_p_addr_list, offsetof(sl_conf_server_t, listen), .def = "127.0.0.1:8080", .min = 1,
     .max = SL_CONF_MAX_LISTEN, .fmin = 1, .count_offset = offsetof(sl_conf_server_t, num_listen)},
    {"threads", p_auto_int, offsetof(sl_conf_server_t, threads), .def = "auto", .min = 1, .max = 64},
    {"max_body", sl_conf_p_size, offsetof(sl_conf_server_t, max_body_bytes), .def = "8MiB", .min = 1, .max = (int64_t)1 << 30},
    {"header_timeout", sl_conf_p_duration, offsetof(sl_conf_server_t, header_timeout_ms), .def = "10s", .min = 1,
     .max = 3600000},
    {"shutdown_timeout", sl_conf_p_duration, offsetof(sl_conf_server_t, shutdown_timeout_ms), .def = "30s", .max = 3600000},
    {"tls", sl_conf_p_block, 0, .sub = &tls_block},
    {"access_log", p_access_log, offsetof(sl_conf_server_t, access_log)},
    {"routing_headers", sl_conf_p_bool, offsetof(sl_conf_server_t, routing_headers), .def = "true"},
    {"busy_poll", sl_conf_p_duration_us, offsetof(sl_conf_server_t, busy_poll_us), .def = "0", .max = 10000},
    {"max_connections", p_auto_int, offsetof(sl_conf_server_t, max_connections), .def = "auto", .min = 1, .max = 10000000},
    {NULL}};
static const sl_conf_block_t server_block = {server_keys, NULL};

static int check_admin(sl_conf_ctx_t *ctx, const sl_ynode_t *map, void *obj, uint64_t seen)
{
    sl_conf_admin_t *admin = obj;
    if (admin->enabled && admin->token_file == NULL && !is_loopback(&admin->listen)) {
        const sl_ynode_t *n = sl_conf_map_get(map, "listen");
        size_t saved = sl_conf_path_push_key(ctx, "listen");
        sl_conf_error(ctx, n, "an admin listener on a non-loopback address needs a token_file");
        sl_conf_path_pop(ctx, saved);
        return SL_ECONFIG;
    }
    return SL_OK;
}

static const sl_conf_key_t admin_keys[] = {
    {"enabled", sl_conf_p_bool, offsetof(sl_conf_admin_t, enabled), .def = "true"},
    {"listen", sl_conf_p_addr, offsetof(sl_conf_admin_t, listen), .def = "127.0.0.1:9901"},
    {"token_file", p_token_file, offsetof(sl_conf_admin_t, token_file)},
    {NULL}};
static const sl_conf_block_t admin_block = {admin_keys, check_admin};

static uint16_t port_of(const sl_conf_addr_t *a)
{
    if (a->family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&a->sa)->sin_port);
    if (a->family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&a->sa)->sin6_port);
    return 1; /* unix sockets have no port; the path is compared */
}

/* Across blocks: the admin listener must not take one of the server's addresses (port 0 picks distinct ports). */
static int check_root(sl_conf_ctx_t *ctx, const sl_ynode_t *map, void *obj, uint64_t seen)
{
    sl_conf_t *conf = obj;
    const sl_conf_addr_t *b = &conf->admin.listen;
    if (!conf->admin.enabled || port_of(b) == 0)
        return SL_OK;
    for (size_t i = 0; i != conf->server.num_listen; ++i) {
        const sl_conf_addr_t *a = &conf->server.listen[i];
        if (a->salen != b->salen || memcmp(&a->sa, &b->sa, a->salen) != 0)
            continue;
        const sl_ynode_t *n = sl_conf_map_get(sl_conf_map_get(map, "admin"), "listen");
        if (n == NULL)
            n = sl_conf_map_get(sl_conf_map_get(map, "server"), "listen");
        size_t saved = sl_conf_path_push_key(ctx, "admin.listen");
        sl_conf_error(ctx, n != NULL ? n : map, "same address as server.listen (%s)", a->text);
        sl_conf_path_pop(ctx, saved);
        return SL_ECONFIG;
    }
    return SL_OK;
}

static const sl_conf_key_t root_keys[] = {{"server", sl_conf_p_block, offsetof(sl_conf_t, server), .sub = &server_block},
                                          {"admin", sl_conf_p_block, offsetof(sl_conf_t, admin), .sub = &admin_block},
                                          {"state_dir", sl_conf_p_path, offsetof(sl_conf_t, state_dir)},
                                          {"state_interval", sl_conf_p_duration, offsetof(sl_conf_t, state_interval_ms),
                                           .def = "10s", .min = 1000, .max = 3600000},
                                          {"backends", sl_conf_p_backends, offsetof(sl_conf_t, backends), .required = 1,
                                           .sub = &sl_conf_backend_block, .sub_path = ".<name>"},
                                          {"routes", sl_conf_p_routes, offsetof(sl_conf_t, routes), .required = 1, .pass = 1,
                                           .sub = &sl_conf_route_block, .sub_path = "[]"},
                                          {NULL}};
const sl_conf_block_t sl_conf_root_block = {root_keys, check_root};

static void conf_dispose(sl_snapshot_t *snap)
{
    sl_conf_t *conf = (sl_conf_t *)snap;
    sl_arena_dispose(&conf->arena);
    sl_free(conf);
}

static int load(const char *name, const char *base_dir, const char *yaml, size_t len, sl_conf_t **out, sl_conf_errors_t *errs)
{
    sl_conf_t *conf = sl_calloc(1, sizeof(*conf));
    sl_conf_ctx_t ctx;
    const sl_ynode_t *root = NULL;
    int rc = SL_OK;

    sl_snapshot_init(&conf->super, conf_dispose);
    sl_arena_init(&conf->arena);
    conf->path = sl_arena_strdup(&conf->arena, name);
    sl_conf_ctx_init(&ctx, name, base_dir, conf);
    if (len > SL_CONF_MAX_FILE_BYTES) {
        sl_conf_error_at(&ctx, 1, 1, "the file is larger than %u MiB", (unsigned)(SL_CONF_MAX_FILE_BYTES >> 20));
        rc = SL_ECONFIG;
    } else if (sl_conf_tree_parse(&ctx, yaml, len, &root) != SL_OK) {
        rc = SL_ECONFIG;
    } else if (root == NULL) {
        sl_conf_error_at(&ctx, 1, 1, "the file is empty; a config needs at least \"backends\" and \"routes\"");
        rc = SL_ECONFIG;
    } else if (root->kind != SL_YNODE_MAP) {
        char buf[256];
        sl_conf_error_at(&ctx, root->line, root->col, "the top level must be a mapping, got %s",
                         sl_conf_describe(root, buf, sizeof(buf)));
        rc = SL_ECONFIG;
    } else {
        sl_conf_apply_defaults(&ctx, &sl_conf_root_block, conf);
        rc = sl_conf_walk(&ctx, root, &sl_conf_root_block, conf);
    }
    if (rc == SL_OK && ctx.num_errors != 0)
        rc = SL_ECONFIG; /* an error reported by a check that did not fail its block; never leave it unreported */
    if (rc != SL_OK) {
        sl_conf_ctx_flush_errors(&ctx, errs);
        sl_conf_ctx_dispose(&ctx);
        sl_snapshot_release(&conf->super);
        return SL_ECONFIG;
    }
    sl_conf_ctx_dispose(&ctx);
    conf->generation = atomic_fetch_add(&generation_counter, 1) + 1;
    *out = conf;
    return SL_OK;
}

int sl_conf_load_string(const char *name, const char *yaml, size_t len, sl_conf_t **out, sl_conf_errors_t *errs)
{
    return load(name, NULL, yaml, len, out, errs);
}

int sl_conf_load_file(const char *path, sl_conf_t **out, sl_conf_errors_t *errs)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        sl_conf_errors_addf(errs, "%s: cannot open: %s", path, strerror(errno));
        return SL_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        sl_conf_errors_addf(errs, "%s: cannot read: %s", path, strerror(errno));
        close(fd);
        return SL_EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        sl_conf_errors_addf(errs, "%s: cannot read: %s", path, S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
        close(fd);
        return SL_EIO;
    }
    if ((uint64_t)st.st_size > SL_CONF_MAX_FILE_BYTES) {
        sl_conf_errors_addf(errs, "%s:1:1: the file is larger than %u MiB", path, (unsigned)(SL_CONF_MAX_FILE_BYTES >> 20));
        close(fd);
        return SL_ECONFIG;
    }
    size_t cap = (size_t)st.st_size + 1, len = 0;
    char *buf = sl_malloc(cap);
    for (;;) {
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            sl_conf_errors_addf(errs, "%s: cannot read: %s", path, strerror(errno));
            sl_free(buf);
            close(fd);
            return SL_EIO;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len == cap) { /* the file grew while we read it */
            if (cap > SL_CONF_MAX_FILE_BYTES)
                break;
            cap *= 2;
            buf = sl_realloc(buf, cap);
        }
    }
    close(fd);
    const char *slash = strrchr(path, '/');
    char *dir = slash == NULL ? NULL : sl_strndup(path, slash == path ? 1 : (size_t)(slash - path));
    int rc = load(path, dir, buf, len, out, errs);
    sl_free(dir);
    sl_free(buf);
    return rc;
}

void sl_conf_retain(sl_conf_t *conf)
{
    sl_snapshot_retain(&conf->super);
}

void sl_conf_release(sl_conf_t *conf)
{
    if (conf != NULL)
        sl_snapshot_release(&conf->super);
}

const sl_conf_backend_t *sl_conf_find_backend(const sl_conf_t *conf, const char *name)
{
    for (size_t i = 0; i != conf->num_backends; ++i)
        if (strcmp(conf->backends[i].name, name) == 0)
            return &conf->backends[i];
    return NULL;
}

const sl_conf_route_t *sl_conf_find_route(const sl_conf_t *conf, const char *name)
{
    for (size_t i = 0; i != conf->num_routes; ++i)
        if (strcmp(conf->routes[i].name, name) == 0)
            return &conf->routes[i];
    return NULL;
}
