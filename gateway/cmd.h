/*
 * cmd.h - subcommand entry points. Each takes (argc, argv) with argv[0] the subcommand name and returns the exit
 * status: 0 success, 1 failure, 2 usage error (with a one-line hint on stderr).
 */
#ifndef SL_GATEWAY_CMD_H
#define SL_GATEWAY_CMD_H

typedef struct st_sl_cmd_t {
    const char *name;
    const char *summary;
    int (*fn)(int argc, char **argv);
} sl_cmd_t;

int sl_cmd_run(int argc, char **argv);   /* gateway/cmd_run.c */
int sl_cmd_check(int argc, char **argv); /* gateway/cmd_check.c */
int sl_cmd_reference(int argc, char **argv); /* gateway/cmd_reference.c */
int sl_cmd_rules(int argc, char **argv); /* gateway/cmd_rules.c */
int sl_cmd_sim(int argc, char **argv);   /* tools/sim/cmd_sim.c */
int sl_cmd_demo(int argc, char **argv);  /* gateway/cmd_demo.c */

#endif
