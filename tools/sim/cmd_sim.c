/*
 * cmd_sim.c - `sluice sim`: runs one or more simulated model servers until SIGTERM or SIGINT.
 *
 * Flags form groups: every `--listen ADDR` starts a simulated model of its own (own port, threads, parameters);
 * parameter flags before the first --listen are defaults for every group, those after a --listen apply to that group
 * only. Parameter flags are generated from the parameter table (params.c): `--name VALUE` or `--name=VALUE`, with
 * '-' or '_' in names. Once every listener accepts, the ready file (--ready-file) receives, atomically,
 * {"pid":..., "listen":["127.0.0.1:40123", ...], "models":[...], "protocols":[...]}.
 *
 * Signals: blocked in every thread and taken with sigwait on the main thread (gateway/server.h). SIGHUP and SIGUSR1
 * are ignored; SIGTERM and SIGINT drain and stop every group.
 */
#include "gateway/cmd.h"
#include "gateway/server.h"
#include "common/log.h"
#include "common/status.h"
#include "conf/addr.h"
#include "tools/sim/sim.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_GROUPS 16

typedef struct st_group_t {
    const char *listen_text;
    sl_conf_addr_t listen;
    sl_sim_params_t params;
    sl_sim_t *sim;
} group_t;

static void print_help(FILE *fp)
{
    size_t n;
    const sl_sim_param_def_t *t = sl_sim_params_table(&n);
    sl_sim_params_t defaults;
    sl_sim_params_init(&defaults);
    fprintf(fp, "usage: sluice sim [PARAMS] [--listen ADDR [PARAMS]]... [--ready-file PATH] [--log-level LEVEL]\n\n"
                "Simulated model servers (OpenAI-compatible or KServe v2) with queueing, token timing, faults,\n"
                "calibrated confidence and drift. Each --listen starts one simulated model; PARAMS before the first\n"
                "--listen apply to every model, PARAMS after a --listen to that model only. Without --listen one\n"
                "model listens on 127.0.0.1:8000. Parameters marked * can be changed at run time with\n"
                "POST /sim/config. See docs/SIM.md.\n\n"
                "options:\n"
                "  --listen ADDR          host:port (port 0 picks a free port) or unix:/path\n"
                "  --ready-file PATH      write {\"pid\",\"listen\",\"models\",\"protocols\"} once listening\n"
                "  --log-level LEVEL      error, warn, info (default) or debug\n"
                "  --help-markdown        print the parameter table in Markdown\n\n"
                "parameters:\n");
    for (size_t i = 0; i != n; ++i) {
        char flag[64], def[160];
        snprintf(flag, sizeof(flag), "--%s", t[i].name);
        for (char *c = flag + 2; *c != '\0'; ++c)
            if (*c == '_')
                *c = '-';
        sl_sim_params_format(&defaults, t + i, def, sizeof(def));
        fprintf(fp, "  %-22s %s%s\n  %-22s   (%s; default %s", flag, t[i].runtime ? "* " : "  ", t[i].help, "",
                t[i].type == SL_SIM_PT_PROTOCOL ? "openai or kserve_v2" : t[i].unit, def);
        if (t[i].type == SL_SIM_PT_UINT || t[i].type == SL_SIM_PT_DOUBLE)
            fprintf(fp, "; range %.15g..%.15g", t[i].min, t[i].max);
        fprintf(fp, ")\n");
    }
}

static void print_markdown(FILE *fp)
{
    size_t n;
    const sl_sim_param_def_t *t = sl_sim_params_table(&n);
    sl_sim_params_t defaults;
    sl_sim_params_init(&defaults);
    fprintf(fp, "| parameter | default | range / values | unit | run time | meaning |\n|---|---|---|---|---|---|\n");
    for (size_t i = 0; i != n; ++i) {
        char def[160], range[64] = "";
        sl_sim_params_format(&defaults, t + i, def, sizeof(def));
        if (t[i].type == SL_SIM_PT_UINT || t[i].type == SL_SIM_PT_DOUBLE)
            snprintf(range, sizeof(range), "%.15g .. %.15g", t[i].min, t[i].max);
        else if (t[i].type == SL_SIM_PT_PROTOCOL)
            snprintf(range, sizeof(range), "openai, kserve_v2");
        else if (t[i].type == SL_SIM_PT_U64)
            snprintf(range, sizeof(range), "0 .. 2^64-1");
        else
            snprintf(range, sizeof(range), "see meaning");
        fprintf(fp, "| `%s` | `%s` | %s | %s | %s | %s |\n", t[i].name, def, range, t[i].unit, t[i].runtime ? "yes" : "no",
                t[i].help);
    }
}

static int write_ready_file(const char *path, group_t *groups, size_t n)
{
    char tmp[4096], addr[128];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    FILE *fp = fopen(tmp, "w");
    if (fp == NULL)
        return SL_EIO;
    fprintf(fp, "{\"pid\": %d, \"listen\": [", (int)getpid());
    for (size_t i = 0; i != n; ++i)
        fprintf(fp, "%s\"%s\"", i == 0 ? "" : ", ", sl_sim_address(groups[i].sim, addr, sizeof(addr)));
    fprintf(fp, "], \"models\": [");
    for (size_t i = 0; i != n; ++i)
        fprintf(fp, "%s\"%s\"", i == 0 ? "" : ", ", groups[i].params.model);
    fprintf(fp, "], \"protocols\": [");
    for (size_t i = 0; i != n; ++i)
        fprintf(fp, "%s\"%s\"", i == 0 ? "" : ", ",
                groups[i].params.protocol == SL_SIM_PROTOCOL_KSERVE_V2 ? "kserve_v2" : "openai");
    fprintf(fp, "]}\n");
    if (fclose(fp) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return SL_EIO;
    }
    return SL_OK;
}

/* Returns the flag's value: the text after '=' in arg, or the next argument (advancing *i); NULL if missing. */
static const char *flag_value(int argc, char **argv, int *i, const char *eq)
{
    if (eq != NULL)
        return eq + 1;
    if (*i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

int sl_cmd_sim(int argc, char **argv)
{
    static group_t groups[MAX_GROUPS];
    sl_sim_params_t base;
    size_t num_groups = 0;
    const char *ready_file = NULL;
    char err[512];
    sl_sim_params_init(&base);

    for (int i = 1; i < argc; ++i) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_help(stdout);
            return 0;
        }
        if (strcmp(arg, "--help-markdown") == 0) {
            print_markdown(stdout);
            return 0;
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "sluice sim: unexpected argument '%s'; try `sluice sim --help`\n", arg);
            return 2;
        }
        char name[64];
        const char *eq = strchr(arg, '=');
        size_t len = eq != NULL ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        snprintf(name, sizeof(name), "%.*s", (int)len, arg + 2);
        if (strcmp(name, "ready-file") != 0 && strcmp(name, "log-level") != 0 && strcmp(name, "listen") != 0 &&
            sl_sim_params_find(name) == NULL) {
            sl_sim_params_t scratch = base;
            sl_sim_params_set(&scratch, name, "", err, sizeof(err)); /* words the error, with a suggestion */
            fprintf(stderr, "sluice sim: --%s: %s; try `sluice sim --help`\n", name, err);
            return 2;
        }
        const char *value = flag_value(argc, argv, &i, eq);
        if (value == NULL) {
            fprintf(stderr, "sluice sim: %s needs a value\n", arg);
            return 2;
        }
        if (strcmp(name, "ready-file") == 0) {
            ready_file = value;
        } else if (strcmp(name, "log-level") == 0) {
            if (sl_log_parse_level(value, &sl_log_level) != SL_OK) {
                fprintf(stderr, "sluice sim: --log-level: expected error, warn, info or debug\n");
                return 2;
            }
        } else if (strcmp(name, "listen") == 0) {
            if (num_groups == MAX_GROUPS) {
                fprintf(stderr, "sluice sim: at most %d --listen groups\n", MAX_GROUPS);
                return 2;
            }
            const char *why;
            group_t *g = groups + num_groups++;
            g->listen_text = value;
            g->params = base;
            if (sl_conf_parse_addr(value, 1, NULL, &g->listen, &why) != SL_OK) {
                fprintf(stderr, "sluice sim: --listen %s: %s\n", value, why);
                return 2;
            }
        } else {
            sl_sim_params_t *p = num_groups == 0 ? &base : &groups[num_groups - 1].params;
            if (sl_sim_params_set(p, name, value, err, sizeof(err)) != SL_OK) {
                fprintf(stderr, "sluice sim: --%s: %s\n", name, err);
                return 2;
            }
        }
    }
    if (num_groups == 0) {
        const char *why;
        groups[0].listen_text = "127.0.0.1:8000";
        groups[0].params = base;
        if (sl_conf_parse_addr(groups[0].listen_text, 1, NULL, &groups[0].listen, &why) != SL_OK)
            return 1;
        num_groups = 1;
    }
    for (size_t g = 0; g != num_groups; ++g) {
        if (sl_sim_params_check(&groups[g].params, err, sizeof(err)) != SL_OK) {
            fprintf(stderr, "sluice sim: --listen %s: %s\n", groups[g].listen_text, err);
            return 2;
        }
    }

    sl_server_block_signals();
    int rc = 0;
    size_t started = 0;
    for (; started != num_groups; ++started) {
        group_t *g = groups + started;
        if (sl_sim_start(&g->params, &g->listen, &g->sim, err, sizeof(err)) != SL_OK) {
            fprintf(stderr, "sluice sim: %s\n", err);
            rc = 1;
            goto Stop;
        }
        char addr[128];
        SL_LOG(SL_LOG_INFO, "sim", "model %s (%s) listening on %s with %u thread(s)", g->params.model,
               g->params.protocol == SL_SIM_PROTOCOL_KSERVE_V2 ? "kserve_v2" : "openai",
               sl_sim_address(g->sim, addr, sizeof(addr)), g->params.threads);
    }
    if (ready_file != NULL && write_ready_file(ready_file, groups, num_groups) != SL_OK) {
        fprintf(stderr, "sluice sim: cannot write the ready file %s\n", ready_file);
        rc = 1;
        goto Stop;
    }
    for (;;) {
        int sig = sl_server_wait_signal();
        if (sig == SIGTERM || sig == SIGINT)
            break;
        SL_LOG(SL_LOG_INFO, "sim", "signal %d ignored (SIGTERM or SIGINT stops)", sig);
    }
Stop:
    SL_LOG(SL_LOG_INFO, "sim", "stopping: draining %zu simulated model(s)", started);
    for (size_t g = 0; g != started; ++g)
        sl_sim_stop(groups[g].sim);
    return rc;
}
