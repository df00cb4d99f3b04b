/*
 * cmd.h - subcommand entry points. Each takes (argc, argv) with argv[0] the subcommand name and returns the exit
 * status: 0 success, 1 failure, 2 usage error (with a one-line hint on stderr).
 */
#ifndef SL_GATEWAY_CMD_H
#define SL_GATEWAY_CMD_H

#include <stdio.h>

#include "conf/conf-t.h"

typedef struct st_sl_cmd_t {
    const char *name;
    const char *summary;
    int (*fn)(int argc, char **argv);
} sl_cmd_t;

/* What the subcommands share (gateway/cmd_common.c) ----------------------------------------------------------- */

/* An option that takes a value: --long_name VALUE, or -short_name VALUE when short_name is not 0. */
typedef struct st_sl_cmd_opt_t {
    const char *long_name; /* NULL ends a table */
    int short_name;
    const char **value; /* gets the value (borrowed from argv) */
} sl_cmd_opt_t;

/* Parses argv (argv[0] is the subcommand `name`) with getopt_long against opts, plus -h/--help. Returns -1 when every
 * argument was an option of opts (their values set); 0 after printing usage on stdout for --help; 2 after a one-line
 * usage error on stderr naming `sluice NAME --help`: an option without its value ("... needs WHAT"), an unknown
 * option, or an argument that is not an option. */
int sl_cmd_parse(const char *name, int argc, char **argv, const sl_cmd_opt_t *opts, const char *what,
                 void (*usage)(FILE *fp));

/* Prints "sluice NAME: missing WHAT; try `sluice NAME --help`" on stderr; returns 2. */
int sl_cmd_missing(const char *name, const char *what);

/* Prints every config error of errs on stderr, "(N more errors not shown)" when the list was cut and, when
 * summary_path is not NULL, a last line "SUMMARY_PATH: N error(s)". */
void sl_cmd_print_conf_errors(const sl_conf_errors_t *errs, const char *summary_path);

/* Loads and validates the config at path exactly as `sluice run` does. Returns it (the caller releases it), or NULL
 * after printing the errors (sl_cmd_print_conf_errors, with the summary line when summary is set). */
sl_conf_t *sl_cmd_load_config(const char *path, int summary);

/* --ready-file PATH and --log-level LEVEL of the serving commands, at argv[*i]: returns 1 when it took the option
 * and its value (*i moved to the value; the level is applied), 0 when argv[*i] is neither (or has no value after
 * it), 2 after a one-line error for an unknown level. */
int sl_cmd_serve_option(const char *name, int argc, char **argv, int *i, const char **ready);

/* The subcommands ---------------------------------------------------------------------------------------------- */

int sl_cmd_run(int argc, char **argv);   /* gateway/cmd_run.c */
int sl_cmd_check(int argc, char **argv); /* gateway/cmd_check.c */
int sl_cmd_reference(int argc, char **argv); /* gateway/cmd_reference.c */
int sl_cmd_rules(int argc, char **argv); /* gateway/cmd_rules.c */
int sl_cmd_sim(int argc, char **argv);   /* tools/sim/cmd_sim.c */
int sl_cmd_demo(int argc, char **argv);  /* gateway/cmd_demo.c */

#endif
