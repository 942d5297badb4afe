/*
 * pg_vacuum.c: pg.vacuum, the guide's weekly `VACUUM ANALYZE` and
 * quarterly `VACUUM FULL`, on one table or every table of a schema.
 * FULL rewrites the table under an ACCESS EXCLUSIVE lock: it runs only
 * inside a maintenance window (the controller sets Task.window_end_ms on
 * tasks of a schedule fired in its window, and it has not closed yet) or
 * when the task says force=true (the operator's statement that this is a
 * maintenance window).
 */
#include <string.h>
#include <time.h>

#include "pg_conn.h"
#include "pg_maint.h"
#include "pg_modules.h"
#include "pg_params.h"

static const char *const pg_vacuum_modes[] = {"plain", "analyze", "full", NULL};
/* The statement for each mode, in pg_vacuum_modes' order. */
static const char *const pg_vacuum_verbs[] = {
    "VACUUM", "VACUUM (ANALYZE)", "VACUUM (FULL)"};
#define PG_VACUUM_FULL 2

static const struct param_spec pg_vacuum_params[] = {
    PG_PARAM_DATABASE,
    PG_PARAM_IDENT("schema", "public", "schema of the tables"),
    PG_PARAM_IDENT("table", NULL, "one table (default: every table)"),
    {.name = "mode",
        .type = PARAM_ENUM,
        .enums = pg_vacuum_modes,
        .def = "analyze",
        .help = "plain, analyze (VACUUM ANALYZE) or full (VACUUM FULL)"},
    {.name = "force",
        .type = PARAM_BOOL,
        .def = "false",
        .help = "allow mode=full (it locks each table while it runs)"},
    PG_PARAM_LOCK_TIMEOUT,
    {.name = NULL},
};

/* Is the task inside the maintenance window it was fired in? */
static int
pg_vacuum_in_window(const struct task_ctx *ctx)
{
	if (ctx->task == NULL || ctx->task->window_end_ms == 0)
		return (0);
	return (task_now_ms() < ctx->task->window_end_ms);
}

static int
pg_vacuum_validate(
    struct task_ctx *ctx, const struct task_params *p, struct vsm_err *err)
{
	if (pg_params_check(ctx, p, err) == -1)
		return (-1);
	if (params_num(p, "mode") == PG_VACUUM_FULL &&
	    !params_num(p, "force") && !pg_vacuum_in_window(ctx))
		return (vsm_err_set(err,
		    "parameter 'mode': full locks every table it rewrites; "
		    "it runs inside a maintenance window (a schedule with a "
		    "window) or with force=true"));
	return (0);
}

static int
pg_vacuum_run(struct task_ctx *ctx, const struct task_params *p)
{
	struct pg_maint m;

	memset(&m, 0, sizeof(m));
	m.what = "vacuum";
	m.verb = pg_vacuum_verbs[params_num(p, "mode")];
	m.lock_timeout_ms = params_num(p, "lock_timeout");
	return (pg_maint_run(ctx, p, &m));
}

const struct task_module mod_pg_vacuum = {
    .name = "pg.vacuum",
    .params = pg_vacuum_params,
    .validate = pg_vacuum_validate,
    .run = pg_vacuum_run,
    .cancel = pg_cancel,
};
