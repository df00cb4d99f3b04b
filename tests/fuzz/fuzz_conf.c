/*
 * fuzz_conf.c - libFuzzer target for the config loader: any byte string fed to sl_conf_load_string() must yield
 * either a valid snapshot (released again) or at least one error, with no crash, leak, hang or sanitizer report.
 * Run by scripts/fuzz, built only with -Dfuzz=true.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/status.h"
#include "conf/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sl_conf_errors_t errs;
    sl_conf_t *conf = NULL;
    sl_conf_errors_init(&errs);
    int rc = sl_conf_load_string("fuzz.yaml", (const char *)data, size, &conf, &errs);
    if (rc == SL_OK) {
        /* a valid snapshot has what the loader promises: at least one backend and route, resolved tiers */
        if (conf == NULL || conf->num_backends == 0 || conf->num_routes == 0 || errs.count != 0)
            abort();
        for (size_t i = 0; i != conf->num_routes; ++i)
            for (size_t j = 0; j != conf->routes[i].num_tiers; ++j)
                if (conf->routes[i].tiers[j].backend != sl_conf_find_backend(conf, conf->routes[i].tiers[j].backend->name))
                    abort();
        sl_conf_release(conf);
    } else if (rc != SL_ECONFIG || conf != NULL || errs.count + errs.dropped == 0) {
        abort();
    }
    sl_conf_errors_dispose(&errs);
    return 0;
}
