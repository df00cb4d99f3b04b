/*
 * addr.c - see addr.h.
 */
#include "conf/addr.h"
#include "common/status.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

static int parse_port(const char *s, int allow_zero, uint16_t *port)
{
    if (*s == '\0')
        return SL_EINVAL;
    unsigned long v = 0;
    for (const char *p = s; *p != '\0'; ++p) {
        if (*p < '0' || *p > '9' || v > 65535)
            return SL_EINVAL;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v > 65535 || (v == 0 && !allow_zero))
        return SL_ERANGE;
    *port = (uint16_t)v;
    return SL_OK;
}

int sl_conf_parse_addr(const char *text, int allow_port_zero, sl_arena_t *arena, sl_conf_addr_t *out,
                       const char **err)
{
    sl_conf_addr_t a;
    memset(&a, 0, sizeof(a));
    char host[64];

    if (strncmp(text, "unix:", 5) == 0) {
        const char *path = text + 5;
        struct sockaddr_un *sun = (struct sockaddr_un *)&a.sa;
        if (*path == '\0') {
            *err = "unix socket path is empty";
            return SL_EINVAL;
        }
        if (strlen(path) >= sizeof(sun->sun_path)) {
            *err = "unix socket path is longer than 107 bytes";
            return SL_EINVAL;
        }
        sun->sun_family = AF_UNIX;
        strcpy(sun->sun_path, path);
        a.family = AF_UNIX;
        a.salen = (socklen_t)sizeof(*sun);
    } else {
        const char *colon;
        size_t hlen;
        if (text[0] == '[') {
            const char *close = strchr(text, ']');
            if (close == NULL || close[1] != ':') {
                *err = "expected [ipv6]:port";
                return SL_EINVAL;
            }
            hlen = (size_t)(close - text - 1);
            if (hlen >= sizeof(host)) {
                *err = "address is too long";
                return SL_EINVAL;
            }
            memcpy(host, text + 1, hlen);
            colon = close + 1;
        } else {
            colon = strrchr(text, ':');
            if (colon == NULL) {
                *err = "expected host:port, [ipv6]:port or unix:/path";
                return SL_EINVAL;
            }
            hlen = (size_t)(colon - text);
            if (hlen >= sizeof(host)) {
                *err = "address is too long";
                return SL_EINVAL;
            }
            memcpy(host, text, hlen);
        }
        host[hlen] = '\0';
        uint16_t port;
        int r = parse_port(colon + 1, allow_port_zero, &port);
        if (r != SL_OK) {
            *err = r == SL_ERANGE ? "port must be between 1 and 65535" : "port must be a number";
            return SL_EINVAL;
        }
        if (strcmp(host, "localhost") == 0)
            strcpy(host, "127.0.0.1");
        struct sockaddr_in *sin = (struct sockaddr_in *)&a.sa;
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a.sa;
        if (hlen != 0 && text[0] != '[' && inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
            sin->sin_family = AF_INET;
            sin->sin_port = htons(port);
            a.family = AF_INET;
            a.salen = (socklen_t)sizeof(*sin);
        } else if (text[0] == '[' && inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
            sin6->sin6_family = AF_INET6;
            sin6->sin6_port = htons(port);
            a.family = AF_INET6;
            a.salen = (socklen_t)sizeof(*sin6);
        } else {
            *err = hlen == 0 ? "host is empty" : "host must be an IPv4 address, [IPv6] address or localhost";
            return SL_EINVAL;
        }
    }
    a.text = arena != NULL ? sl_arena_strdup(arena, text) : text;
    *out = a;
    return SL_OK;
}

const char *sl_conf_addr_format(const struct sockaddr *sa, socklen_t salen, char *buf, size_t bufsz)
{
    char h[INET6_ADDRSTRLEN];
    (void)salen;
    switch (sa->sa_family) {
    case AF_INET: {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &sin->sin_addr, h, sizeof(h));
        snprintf(buf, bufsz, "%s:%u", h, ntohs(sin->sin_port));
        break;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &sin6->sin6_addr, h, sizeof(h));
        snprintf(buf, bufsz, "[%s]:%u", h, ntohs(sin6->sin6_port));
        break;
    }
    case AF_UNIX:
        snprintf(buf, bufsz, "unix:%s", ((const struct sockaddr_un *)sa)->sun_path);
        break;
    default:
        snprintf(buf, bufsz, "?");
    }
    return buf;
}
