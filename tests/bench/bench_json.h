/*
 * bench_json.h: what every vsm-bench subcommand does with its --json
 * document.
 */
#ifndef VSM_BENCH_JSON_H
#define VSM_BENCH_JSON_H

#include <jansson.h>

#include "err.h"

/* Set o[k] = v (stealing v); a failure sets *bad instead of returning. */
void bench_jset(json_t *o, const char *k, json_t *v, int *bad);

/*
 * Print doc on stdout, indented, reals with `precision` digits; `bad`
 * (from bench_jset) means the document is incomplete: refused. 0 or -1
 * with err set.
 */
int bench_json_print(json_t *doc, int bad, int precision, struct vsm_err *err);

#endif /* VSM_BENCH_JSON_H */
