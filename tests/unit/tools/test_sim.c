/*
 * Unit tests of the in-process simulator API (tools/sim/sim.h): start on port 0, answer over a real loopback socket,
 * change parameters with sl_sim_configure (all or nothing), stop, and start again in the same process (which is what
 * `sluice demo` does, and under ASan proves that a stop frees everything).
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/status.h"
#include "conf/addr.h"
#include "tools/sim/sim.h"

/* Sends one HTTP/1.1 request with "connection: close" and returns the whole answer in buf. */
static size_t exchange(uint16_t port, const char *request, char *buf, size_t bufsz)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    cr_assert_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    cr_assert_eq(write(fd, request, strlen(request)), (ssize_t)strlen(request));
    size_t len = 0;
    ssize_t n;
    while (len + 1 < bufsz && (n = read(fd, buf + len, bufsz - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    close(fd);
    return len;
}

static sl_sim_t *start(const sl_sim_params_t *p)
{
    sl_conf_addr_t addr;
    const char *why;
    char err[256];
    sl_sim_t *sim = NULL;
    cr_assert_eq(sl_conf_parse_addr("127.0.0.1:0", 1, NULL, &addr, &why), SL_OK);
    cr_assert_eq(sl_sim_start(p, &addr, &sim, err, sizeof(err)), SL_OK, "%s", err);
    cr_assert_not_null(sim);
    cr_assert_neq(sl_sim_port(sim), 0);
    return sim;
}

Test(sim, start_answer_configure_stop_twice)
{
    sl_sim_params_t p;
    sl_sim_params_init(&p);
    p.threads = 2;
    p.ttft_ms = p.ttft_jitter_ms = p.tpot_ms = p.tpot_jitter_ms = 0;
    for (int round = 0; round != 2; ++round) {
        sl_sim_t *sim = start(&p);
        char buf[8192], err[512];
        exchange(sl_sim_port(sim), "GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n", buf, sizeof(buf));
        cr_assert(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", buf);
        cr_assert_not_null(strstr(buf, "\r\n\r\n{\"status\":\"ok\"}"));

        const char *bad_keys[] = {"slots", "threads", "nope"}, *bad_values[] = {"2", "4", "1"};
        cr_assert_neq(sl_sim_configure(sim, bad_keys, bad_values, 3, err, sizeof(err)), SL_OK);
        cr_assert_str_eq(err, "threads: can only be set at start-up; unknown parameter 'nope'");
        sl_sim_params_t now;
        sl_sim_get_params(sim, &now);
        cr_assert_eq(now.slots, 64); /* nothing changed */

        const char *keys[] = {"slots", "model"}, *values[] = {"2", "small"};
        cr_assert_eq(sl_sim_configure(sim, keys, values, 2, err, sizeof(err)), SL_OK, "%s", err);
        sl_sim_get_params(sim, &now);
        cr_assert_eq(now.slots, 2);
        cr_assert_str_eq(now.model, "small");
        exchange(sl_sim_port(sim),
                 "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: 61\r\n\r\n"
                 "{\"model\":\"small\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
                 buf, sizeof(buf));
        cr_assert(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", buf);
        cr_assert_not_null(strstr(buf, "\"model\":\"small\""));
        sl_sim_stop(sim);
    }
}

Test(sim, start_rejects_inconsistent_parameters)
{
    sl_sim_params_t p;
    sl_sim_params_init(&p);
    p.drift_label = 5;
    sl_conf_addr_t addr;
    const char *why;
    char err[256];
    sl_sim_t *sim = NULL;
    cr_assert_eq(sl_conf_parse_addr("127.0.0.1:0", 1, NULL, &addr, &why), SL_OK);
    cr_assert_eq(sl_sim_start(&p, &addr, &sim, err, sizeof(err)), SL_EINVAL);
    cr_assert_null(sim);
    cr_assert_str_eq(err, "drift_label: 5 is not the index of a label (there are 2)");
}
