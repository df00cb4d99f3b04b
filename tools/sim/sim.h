/*
 * sim.h - the model-server simulator as a library: `sluice sim` is a thin command around it, and `sluice demo` and
 * the benchmarks start simulators in-process with it.
 *
 * One sl_sim_t is one simulated model: one listen address, one protocol, one model name, N worker threads. Run
 * several models in one process by starting several sl_sim_t (the command does this for each --listen group).
 *
 * Signals are the caller's: sl_sim_start/sl_sim_stop never wait for, block or handle a signal. Worker threads inherit
 * the caller's signal mask, so a caller that handles signals with sigwait blocks them before sl_sim_start.
 * SIGPIPE must be ignored in the process (sockets are written with writev); sl_sim_start ignores it when its
 * disposition is still the default.
 */
#ifndef SL_TOOLS_SIM_H
#define SL_TOOLS_SIM_H

#include <stdint.h>

#include "conf/conf-t.h"
#include "tools/sim/sim-t.h"

typedef struct st_sl_sim_t sl_sim_t;

/* Fills p with the defaults of the parameter table. Never fails. Any thread. */
void sl_sim_params_init(sl_sim_params_t *p);

/* Sets one parameter from text, as a flag or POST /sim/config does. key is the table name; '-' is accepted for '_'.
 * Returns SL_OK; SL_ENOENT for an unknown key (err suggests a close name); SL_ESYNTAX when value does not parse;
 * SL_ERANGE when it is outside the table's range. err receives a one-line reason; p is untouched on failure. */
int sl_sim_params_set(sl_sim_params_t *p, const char *key, const char *value, char *err, size_t errlen);

/* Checks rules that involve several parameters (drift_label < number of labels, output_tokens_mean <=
 * output_tokens_max). Returns SL_OK or SL_EINVAL with the reason in err. */
int sl_sim_params_check(const sl_sim_params_t *p, char *err, size_t errlen);

/* The parameter table (borrowed, static) and its length. */
const sl_sim_param_def_t *sl_sim_params_table(size_t *num);

/* Looks a parameter up by name ('-' accepted for '_'); NULL if unknown. */
const sl_sim_param_def_t *sl_sim_params_find(const char *key);

/* Formats the value of parameter d in p as text (the same syntax sl_sim_params_set accepts) into buf; returns buf. */
const char *sl_sim_params_format(const sl_sim_params_t *p, const sl_sim_param_def_t *d, char *buf, size_t bufsz);

/* Writes the values of p as one JSON object (numbers as numbers, the rest as strings) into buf, NUL-terminated.
 * Returns the length, or SL_ENOMEM when bufsz is too small. */
int sl_sim_params_to_json(const sl_sim_params_t *p, char *buf, size_t bufsz);

/* Starts a simulator with a copy of *params on *listen (port 0 picks a free port). Returns after every worker is
 * accepting. Returns SL_OK with *out set, or SL_EINVAL (bad parameters) / SL_EIO (listen failed) with a message in
 * err and *out untouched. Main (controlling) thread; params and listen are borrowed for the call only. */
int sl_sim_start(const sl_sim_params_t *params, const sl_conf_addr_t *listen, sl_sim_t **out, char *err,
                 size_t errlen);

/* The TCP port the simulator listens on (0 for a unix socket). */
uint16_t sl_sim_port(sl_sim_t *sim);

/* The address it listens on, formatted ("127.0.0.1:40123") into buf; returns buf. */
const char *sl_sim_address(sl_sim_t *sim, char *buf, size_t bufsz);

/* Copies the parameters in force into *out. Any thread. */
void sl_sim_get_params(sl_sim_t *sim, sl_sim_params_t *out);

/* Applies a set of changes atomically, as POST /sim/config does: keys[i] = values[i] for i < n, then publishes the
 * result to every worker. All or nothing: on any error nothing changes and err lists every bad key. Returns SL_OK,
 * or the first failure code. Any thread. */
int sl_sim_configure(sl_sim_t *sim, const char *const *keys, const char *const *values, size_t n, char *err,
                     size_t errlen);

/* Graceful stop: stops accepting, answers hung requests with 503, lets in-flight and queued answers finish until
 * drain_ms passes, closes idle connections, joins the workers and frees everything. sim is invalid afterwards.
 * The thread that called sl_sim_start. */
void sl_sim_stop(sl_sim_t *sim);

#endif
