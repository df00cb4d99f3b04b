/* Build scaffolding; replaced by the simulator. */
#include <stdio.h>
#include "gateway/cmd.h"
int sl_cmd_sim(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "sluice sim: unavailable in this build\n"); return 1; }
