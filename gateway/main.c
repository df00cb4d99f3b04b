/*
 * main.c - the `sluice` binary: one program, several subcommands. Parses nothing but the subcommand name; each
 * subcommand parses its own flags and returns its exit status (0 ok, 1 failure, 2 usage error).
 */
#include <stdio.h>
#include <string.h>

#include "gateway/cmd.h"

static const sl_cmd_t commands[] = {
    {"run", "run the gateway with a config file", sl_cmd_run},
    {"check", "validate a config file and print a summary", sl_cmd_check},
    {"reference", "build a drift reference from a sample of requests", sl_cmd_reference},
    {"rules", "write Prometheus recording and alerting rules for the SLOs", sl_cmd_rules},
    {"sim", "run a simulated model server (openai or kserve_v2)", sl_cmd_sim},
    {"demo", "start simulators and the gateway on a built-in config", sl_cmd_demo},
};

static void usage(FILE *fp)
{
    fprintf(fp, "sluice %s - a model-cascade routing gateway\n\n"
                "usage: sluice <command> [options]\n\ncommands:\n",
            SL_VERSION);
    for (size_t i = 0; i != sizeof(commands) / sizeof(commands[0]); ++i)
        fprintf(fp, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(fp, "\n`sluice <command> --help` describes each command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "sluice: missing command; try `sluice --help`\n");
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("sluice %s\n", SL_VERSION);
        return 0;
    }
    for (size_t i = 0; i != sizeof(commands) / sizeof(commands[0]); ++i)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "sluice: unknown command '%s'; try `sluice --help`\n", argv[1]);
    return 2;
}
