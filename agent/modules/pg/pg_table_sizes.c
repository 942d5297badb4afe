/*
 * pg_table_sizes.c: pg.table_sizes, the guide's "Table sizes" and "Check
 * for Bloat" listings (pg_total_relation_size of every table): the limit
 * biggest tables, sizes in bytes. The biggest table against the optional
 * warn_bytes/fail_bytes gives the status.
 */
#include <stdio.h>

#include "pg_conn.h"
#include "pg_modules.h"
#include "pg_params.h"
#include "pg_report.h"

#define PG_SIZE_MAX (INT64_C(1) << 50) /* 1 PiB */

static const struct param_spec pg_table_sizes_params[] = {
    PG_PARAM_DATABASE,
    PG_PARAM_IDENT("schema", NULL, "only this schema (default: all)"),
    PG_PARAM_LIMIT("20", 1000),
    {.name = "warn_bytes",
        .type = PARAM_SIZE,
        .min = 1,
        .max = PG_SIZE_MAX,
        .help = "warn when a table is this big (default: never)"},
    {.name = "fail_bytes",
        .type = PARAM_SIZE,
        .min = 1,
        .max = PG_SIZE_MAX,
        .help = "fail when a table is this big (default: never)"},
    {.name = NULL},
};

static int
pg_table_sizes_validate(
    struct task_ctx *ctx, const struct task_params *p, struct vsm_err *err)
{
	if (pg_params_check(ctx, p, err) == -1)
		return (-1);
	return (params_check_order(p, "warn_bytes", "fail_bytes", err));
}

static int
pg_table_sizes_run(struct task_ctx *ctx, const struct task_params *p)
{
	struct vsm_err  err;
	PGconn         *conn = NULL;
	json_t         *tables = NULL, *res = NULL;
	json_int_t      biggest = 0;
	Vsm__TaskStatus st = VSM__TASK_STATUS__TASK_OK;
	char            summary[256];
	int             ret;

	if ((conn = pg_connect(ctx, params_str(p, "database"), &err)) == NULL ||
	    (tables = pg_top_tables(conn, params_str(p, "schema"),
	         params_num(p, "limit"), &err)) == NULL) {
		ret = task_finish_error(ctx, "%s", err.msg);
		goto out;
	}
	if (json_array_size(tables) > 0)
		biggest = json_integer_value(
		    json_object_get(json_array_get(tables, 0), "total_bytes"));
	if (params_str(p, "warn_bytes") != NULL &&
	    biggest >= params_num(p, "warn_bytes"))
		st = VSM__TASK_STATUS__TASK_WARN;
	if (params_str(p, "fail_bytes") != NULL &&
	    biggest >= params_num(p, "fail_bytes"))
		st = VSM__TASK_STATUS__TASK_FAIL;
	res = json_pack("{s:s, s:O, s:I}", "database", PQdb(conn), "tables",
	    tables, "largest_bytes", biggest);
	if (res != NULL && params_str(p, "warn_bytes") != NULL)
		json_object_set_new(res, "warn_bytes",
		    json_integer(params_num(p, "warn_bytes")));
	if (res != NULL && params_str(p, "fail_bytes") != NULL)
		json_object_set_new(res, "fail_bytes",
		    json_integer(params_num(p, "fail_bytes")));
	snprintf(summary, sizeof(summary), "%zu tables, largest %lld bytes",
	    json_array_size(tables), (long long)biggest);
	ret = task_finish(ctx, st, summary, res, 0, NULL);
out:
	json_decref(tables);
	json_decref(res);
	pg_close(conn);
	return (ret);
}

const struct task_module mod_pg_table_sizes = {
    .name = "pg.table_sizes",
    .params = pg_table_sizes_params,
    .validate = pg_table_sizes_validate,
    .run = pg_table_sizes_run,
    .cancel = pg_cancel,
};
