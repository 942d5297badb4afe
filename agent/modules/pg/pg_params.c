/*
 * pg_params.c: checks of the parameters the PostgreSQL modules share
 * (pg_params.h).
 */
#include <time.h>

#include "pg_params.h"

int
pg_params_check(
    struct task_ctx *ctx, const struct task_params *p, struct vsm_err *err)
{
	static const char *const idents[] = {
	    "database", "schema", "table", "index", NULL};
	const char *v;
	size_t      i;

	(void)ctx;
	for (i = 0; idents[i] != NULL; i++) {
		if ((v = params_str(p, idents[i])) != NULL &&
		    pg_ident_check(idents[i], v, err) == -1)
			return (-1);
	}
	return (0);
}

int
pg_params_check_thresholds(
    struct task_ctx *ctx, const struct task_params *p, struct vsm_err *err)
{
	if (pg_params_check(ctx, p, err) == -1)
		return (-1);
	return (params_check_thresholds(ctx, p, err));
}
