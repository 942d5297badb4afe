/*
 * pg_analyze.c: pg.analyze, the guide's "Update Statistics" (`ANALYZE
 * vital_signs; ...`) on one table or every table of a schema.
 */
#include <string.h>

#include "pg_conn.h"
#include "pg_maint.h"
#include "pg_modules.h"
#include "pg_params.h"

static const struct param_spec pg_analyze_params[] = {
    PG_PARAM_DATABASE,
    PG_PARAM_IDENT("schema", "public", "schema of the tables"),
    PG_PARAM_IDENT("table", NULL, "one table (default: every table)"),
    PG_PARAM_LOCK_TIMEOUT,
    {.name = NULL},
};

static int
pg_analyze_run(struct task_ctx *ctx, const struct task_params *p)
{
	struct pg_maint m;

	memset(&m, 0, sizeof(m));
	m.what = "analyze";
	m.verb = "ANALYZE";
	m.lock_timeout_ms = params_num(p, "lock_timeout");
	return (pg_maint_run(ctx, p, &m));
}

const struct task_module mod_pg_analyze = {
    .name = "pg.analyze",
    .params = pg_analyze_params,
    .validate = pg_params_check,
    .run = pg_analyze_run,
    .cancel = pg_cancel,
};
