/*
 * cmd_common.c - what the subcommands share (see cmd.h): options that take a value, parsed by one getopt_long
 * loop with the same one-line usage errors everywhere; the config loaded and validated exactly as `sluice run` loads
 * it, with the same error printing; the --ready-file and --log-level options of the commands that serve.
 * Main thread, before anything starts.
 */
#include "common/log.h"
#include "common/status.h"
#include "conf/conf.h"
#include "gateway/cmd.h"

#include <assert.h>
#include <getopt.h>
#include <string.h>

#define MAX_OPTS 8
#define LONG_ONLY 256 /* getopt_long values of options without a short name: LONG_ONLY + their index */

int sl_cmd_parse(const char *name, int argc, char **argv, const sl_cmd_opt_t *opts, const char *what,
                 void (*usage)(FILE *fp))
{
    struct option longopts[MAX_OPTS + 2];
    char shorts[2 * MAX_OPTS + 3] = ":";
    size_t n = 0, s = 1;
    for (; opts[n].long_name != NULL; ++n) {
        assert(n != MAX_OPTS);
        longopts[n] = (struct option){opts[n].long_name, required_argument, NULL,
                                      opts[n].short_name != 0 ? opts[n].short_name : LONG_ONLY + (int)n};
        if (opts[n].short_name != 0) {
            shorts[s++] = (char)opts[n].short_name;
            shorts[s++] = ':';
        }
    }
    longopts[n] = (struct option){"help", no_argument, NULL, 'h'};
    longopts[n + 1] = (struct option){NULL, 0, NULL, 0};
    shorts[s++] = 'h';
    shorts[s] = '\0';

    int ch;
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, shorts, longopts, NULL)) != -1) {
        if (ch == 'h') {
            usage(stdout);
            return 0;
        }
        if (ch == ':') {
            fprintf(stderr, "sluice %s: %s needs %s; try `sluice %s --help`\n", name, argv[optind - 1], what, name);
            return 2;
        }
        size_t i = 0;
        while (i != n && (opts[i].short_name != 0 ? opts[i].short_name : LONG_ONLY + (int)i) != ch)
            ++i;
        if (i == n) {
            fprintf(stderr, "sluice %s: unknown option '%s'; try `sluice %s --help`\n", name, argv[optind - 1], name);
            return 2;
        }
        *opts[i].value = optarg;
    }
    if (optind != argc) {
        fprintf(stderr, "sluice %s: unexpected argument '%s'; try `sluice %s --help`\n", name, argv[optind], name);
        return 2;
    }
    return -1;
}

int sl_cmd_missing(const char *name, const char *what)
{
    fprintf(stderr, "sluice %s: missing %s; try `sluice %s --help`\n", name, what, name);
    return 2;
}

void sl_cmd_print_conf_errors(const sl_conf_errors_t *errs, const char *summary_path)
{
    for (size_t i = 0; i != sl_conf_errors_count(errs); ++i)
        fprintf(stderr, "%s\n", sl_conf_errors_get(errs, i));
    if (errs->dropped != 0)
        fprintf(stderr, "(%zu more errors not shown)\n", errs->dropped);
    if (summary_path != NULL) {
        size_t total = errs->count + errs->dropped;
        fprintf(stderr, "%s: %zu error%s\n", summary_path, total, total == 1 ? "" : "s");
    }
}

sl_conf_t *sl_cmd_load_config(const char *path, int summary)
{
    sl_conf_errors_t errs;
    sl_conf_t *conf = NULL;
    sl_conf_errors_init(&errs);
    if (sl_conf_load_file(path, &conf, &errs) != SL_OK) {
        sl_cmd_print_conf_errors(&errs, summary ? path : NULL);
        conf = NULL;
    }
    sl_conf_errors_dispose(&errs);
    return conf;
}

int sl_cmd_serve_option(const char *name, int argc, char **argv, int *i, const char **ready)
{
    const char *a = argv[*i];
    if (*i + 1 >= argc)
        return 0;
    if (strcmp(a, "--ready-file") == 0) {
        *ready = argv[++*i];
        return 1;
    }
    if (strcmp(a, "--log-level") == 0) {
        if (sl_log_parse_level(argv[++*i], &sl_log_level) != SL_OK) {
            fprintf(stderr, "sluice %s: unknown log level '%s'; try `sluice %s --help`\n", name, argv[*i], name);
            return 2;
        }
        return 1;
    }
    return 0;
}
