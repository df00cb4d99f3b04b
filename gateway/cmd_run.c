/*
 * cmd_run.c - `sluice run -c FILE [--ready-file F] [--log-level L]`: the gateway.
 *
 * The main thread blocks the signals before any thread exists, loads the config, starts the gateway and then only
 * waits for signals (sigwait, never a handler): SIGHUP reloads, SIGINT/SIGTERM stop gracefully (drain up to
 * server.shutdown_timeout), SIGUSR1 is ignored. Exit status: 0 after a clean stop, 1 when the config or a listener
 * fails, 2 on a usage error.
 */
#include "common/alloc.h"
#include "common/log.h"
#include "common/status.h"
#include "conf/conf.h"
#include "gateway/cmd.h"
#include "gateway/gw.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *fp)
{
    fprintf(fp, "usage: sluice run -c FILE [--ready-file PATH] [--log-level error|warn|info|debug]\n"
                "\n"
                "Runs the gateway with the config FILE (see docs/CONFIG.md and docs/OPERATIONS.md).\n"
                "  -c, --config FILE    the YAML config\n"
                "  --ready-file PATH    once every listener accepts, write {\"pid\",\"listen\",\"admin\"} there\n"
                "  --log-level LEVEL    default info\n"
                "Signals: SIGHUP reloads the config, SIGTERM/SIGINT drain and stop.\n");
}

/* Runs a started gateway until SIGINT/SIGTERM; shared with `sluice demo`. */
int sl_gw_run_until_signal(sl_gw_t *gw)
{
    for (;;) {
        int sig = sl_server_wait_signal();
        if (sig == SIGHUP) {
            SL_LOG(SL_LOG_INFO, "run", "SIGHUP: reloading %s", gw->conf_path != NULL ? gw->conf_path : "the config");
            sl_gw_request_reload(gw);
        } else if (sig == SIGINT || sig == SIGTERM) {
            SL_LOG(SL_LOG_INFO, "run", "%s: draining (at most %u ms)", sig == SIGINT ? "SIGINT" : "SIGTERM",
                   gw->server.drain_timeout_ms);
            sl_gw_stop(gw);
            SL_LOG(SL_LOG_INFO, "run", "stopped");
            return 0;
        }
    }
}

int sl_cmd_run(int argc, char **argv)
{
    const char *path = NULL, *ready = NULL;
    int taken;
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && i + 1 < argc) {
            path = argv[++i];
        } else if ((taken = sl_cmd_serve_option("run", argc, argv, &i, &ready)) != 0) {
            if (taken == 2)
                return 2;
        } else {
            fprintf(stderr, "sluice run: unexpected argument '%s'; try `sluice run --help`\n", a);
            return 2;
        }
    }
    if (path == NULL)
        return sl_cmd_missing("run", "-c FILE");

    sl_server_block_signals();
    sl_conf_t *conf = sl_cmd_load_config(path, 0);
    if (conf == NULL)
        return 1;

    static sl_gw_t gw; /* lives until exit: workers may still reference it while the process ends */
    char err[512];
    if (sl_gw_init(&gw, conf, path, err, sizeof(err)) != SL_OK) {
        fprintf(stderr, "sluice run: %s\n", err);
        return 1;
    }
    sl_gw_start(&gw);
    char addr[256], admin[256], cap[64] = "";
    uint64_t max_connections = sl_server_max_connections(&gw.server);
    if (max_connections != 0)
        snprintf(cap, sizeof(cap), ", at most %llu connections", (unsigned long long)max_connections);
    for (size_t i = 0; i != gw.server.num_listen; ++i)
        SL_LOG(SL_LOG_INFO, "run", "listening on %s (%zu workers%s%s)", sl_gw_listen_text(&gw, i, addr, sizeof(addr)),
               gw.server.num_threads, cap, gw.ssl_ctx != NULL ? ", TLS" : "");
    if (sl_gw_admin_text(&gw, admin, sizeof(admin))[0] != '\0')
        SL_LOG(SL_LOG_INFO, "run", "admin on %s", admin);
    if (ready != NULL && sl_gw_write_ready(&gw, ready) != SL_OK) {
        sl_gw_stop(&gw);
        return 1;
    }
    return sl_gw_run_until_signal(&gw);
}
