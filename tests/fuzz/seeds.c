/*
 * seeds.c - writes every YAML text of the bad-config table (tests/unit/conf/bad_configs.h) into a directory, one
 * file per case, as part of the fuzzer's seed corpus. Usage: fuzz_conf_seeds DIR. Exit 0, or 1 on an I/O error.
 */
#include <stdio.h>
#include <string.h>

#include "../unit/conf/bad_configs.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_conf_seeds DIR\n");
        return 2;
    }
    for (size_t i = 0; i != NUM_BAD_CASES; ++i) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/bad-%s.yaml", argv[1], bad_cases[i].name);
        FILE *f = fopen(path, "wb");
        if (f == NULL || fwrite(bad_cases[i].yaml, 1, strlen(bad_cases[i].yaml), f) != strlen(bad_cases[i].yaml) ||
            fclose(f) != 0) {
            perror(path);
            return 1;
        }
    }
    return 0;
}
