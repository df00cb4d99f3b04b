/*
 * cmd_rules.c - `sluice rules -c FILE [-o OUT]`: load a config as `sluice run` would and write the Prometheus
 * recording and alerting rules of its SLOs (policies/rules.h) to stdout or, atomically, to OUT. Exit 0 on success
 * (a config without SLOs gives a valid file with no groups, and a note on stderr), 1 when the config has errors or
 * OUT cannot be written, 2 on usage errors.
 */
#include "common/status.h"
#include "common/str.h"
#include "conf/conf.h"
#include "gateway/cmd.h"
#include "policies/persist.h"
#include "policies/rules.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *fp)
{
    fprintf(fp, "usage: sluice rules -c FILE [-o OUT]\n\n"
                "Writes Prometheus recording and alerting rules for every SLO the config declares: error and SLI\n"
                "ratios over each burn window, burn rates, budget remaining, and multi-window multi-burn-rate page\n"
                "and ticket alerts with the exact thresholds of each SLO window; and for every monitored route, alerts\n"
                "on drift, missing values, accuracy and concept drift. Check them with `promtool check rules`;\n"
                "docs/SLO.md and docs/MONITORING.md explain them.\n\n"
                "options:\n"
                "  -c, --config FILE   the config file\n"
                "  -o, --output OUT    write the rules to OUT (atomically) instead of stdout\n"
                "  -h, --help          show this help\n");
}

int sl_cmd_rules(int argc, char **argv)
{
    const char *path = NULL, *outpath = NULL;
    const sl_cmd_opt_t opts[] = {{"config", 'c', &path}, {"output", 'o', &outpath}, {NULL}};
    int parsed = sl_cmd_parse("rules", argc, argv, opts, "a file", usage);
    if (parsed >= 0)
        return parsed;
    if (path == NULL)
        return sl_cmd_missing("rules", "-c FILE");
    sl_conf_t *conf = sl_cmd_load_config(path, 0);
    if (conf == NULL)
        return 1;

    sl_buf_t out;
    size_t n = 0;
    int status = 1;
    sl_buf_init(&out, 0);
    int rc = sl_rules_render(conf, &out, &n);
    if (rc != SL_OK) {
        fprintf(stderr, "sluice rules: %s: %s\n", path, sl_strerror(rc));
        goto Exit;
    }
    if (n == 0 && sl_rules_monitored_routes(conf) == 0)
        fprintf(stderr, "sluice rules: %s declares no SLO; the rule file has no groups\n", path);
    if (outpath != NULL) {
        char why[SL_PERSIST_WHY_MAX];
        if (sl_persist_write_file(outpath, out.data, out.len, why) != SL_OK) {
            fprintf(stderr, "sluice rules: %s\n", why);
            goto Exit;
        }
    } else if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
        fprintf(stderr, "sluice rules: writing to stdout failed\n");
        goto Exit;
    }
    status = 0;

Exit:
    sl_buf_dispose(&out);
    sl_conf_release(conf);
    return status;
}
