/*
 * facts.h - evaluating pre-routing conditions (skip_when) on request facts. Pure: no allocation, no I/O; any thread.
 *
 * A condition holds only when its fact is present and comparable and the comparison is true; a missing fact (no
 * such header, nothing at the JSON pointer, no body) makes every comparison false, `ne` included. Only `exists`
 * tests presence.
 *   prompt_tokens   the adapter's estimate (ceil(prompt text bytes / 4)); always present (0 without a body).
 *   header:<name>   the first header of that name, blanks around it trimmed. As a number it must be a JSON-grammar
 *                   number ("12", "-0.5", "1e3"); anything else is not comparable with a number.
 *   json:<pointer>  the value at that RFC 6901 pointer of the body. As a number: a JSON number (strings holding
 *                   digits are not numbers). As a string: a JSON string compares by its unescaped text, any other
 *                   value by its JSON text (true, null, 12.50, {"a":1}).
 * Numbers compare as doubles; strings compare byte for byte (eq / ne only: the config admits no order on strings).
 */
#ifndef SL_ROUTER_FACTS_H
#define SL_ROUTER_FACTS_H

#include "conf/conf-t.h"
#include "router/facts-t.h"

/* Initializes facts with the HTTP facts (copied: a few pointers) and no body facts (root type SL_JSON_INVALID).
 * The gateway then sets f->body from the route adapter's inspect(). */
void sl_facts_init(sl_facts_t *f, const sl_router_facts_t *http);

/* Reads fact `fact` (with its arg) as a number. Returns SL_OK with *out set, SL_ENOENT when the fact is missing,
 * SL_EINVAL when it is present but not a number (or out of a double's range). *out untouched on failure. */
int sl_facts_number(const sl_facts_t *f, enum en_sl_fact_t fact, const char *arg, double *out);

/* Returns 1 when condition c holds for f, else 0. */
int sl_facts_cond_holds(const sl_facts_t *f, const sl_conf_cond_t *c);

#endif
