/* Build scaffolding while the subcommands are written; each entry is removed when its real file lands. */
#include <stdio.h>
#include "gateway/cmd.h"
int sl_cmd_demo(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "sluice demo: unavailable in this build\n"); return 1; }
