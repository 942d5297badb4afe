/*
 * bench_json.c: the --json document of a benchmark (bench_json.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bench_json.h"

void
bench_jset(json_t *o, const char *k, json_t *v, int *bad)
{
	if (json_object_set_new(o, k, v) == -1)
		*bad = 1;
}

int
bench_json_print(json_t *doc, int bad, int precision, struct vsm_err *err)
{
	if (bad)
		return (vsm_err_set(
		    err, "out of memory building the JSON document"));
	if (json_dumpf(doc, stdout,
	        JSON_INDENT(2) | JSON_REAL_PRECISION(precision)) == -1 ||
	    fputc('\n', stdout) == EOF)
		return (vsm_err_set(
		    err, "writing the JSON document: %s", strerror(errno)));
	return (0);
}
