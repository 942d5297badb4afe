/*
 * pg_slow_queries.c: pg.slow_queries, the guide's "Slowest queries"
 * (pg_stat_statements by mean_exec_time): the limit slowest statements
 * of the database by mean or total time. The slowest mean among them
 * against warn_ms/fail_ms gives the status; a database without the
 * extension ends ERROR saying how to install it.
 */
#include <stdio.h>

#include "pg_conn.h"
#include "pg_modules.h"
#include "pg_params.h"
#include "pg_report.h"

static const char *const pg_slow_orders[] = {"mean", "total", NULL};

static const struct param_spec pg_slow_queries_params[] = {
    PG_PARAM_DATABASE,
    {.name = "order",
        .type = PARAM_ENUM,
        .enums = pg_slow_orders,
        .def = "mean",
        .help = "rank statements by mean or total execution time"},
    PG_PARAM_LIMIT("10", 100),
    {.name = "warn_ms",
        .type = PARAM_INT,
        .min = 1,
        .max = 86400 * 1000,
        .def = "500",
        .help = "warn when a statement's mean time reaches this"},
    {.name = "fail_ms",
        .type = PARAM_INT,
        .min = 1,
        .max = 86400 * 1000,
        .def = "5000",
        .help = "fail when a statement's mean time reaches this"},
    {.name = NULL},
};

static int
pg_slow_queries_validate(
    struct task_ctx *ctx, const struct task_params *p, struct vsm_err *err)
{
	if (pg_params_check(ctx, p, err) == -1)
		return (-1);
	return (params_check_order(p, "warn_ms", "fail_ms", err));
}

/* The largest mean_ms of the statements. */
static double
pg_slow_worst(json_t *queries)
{
	json_t *q;
	size_t  i;
	double  worst = 0, v;

	json_array_foreach(queries, i, q)
	{
		v = json_number_value(json_object_get(q, "mean_ms"));
		if (v > worst)
			worst = v;
	}
	return (worst);
}

static int
pg_slow_queries_run(struct task_ctx *ctx, const struct task_params *p)
{
	struct vsm_err  err;
	PGconn         *conn = NULL;
	json_t         *queries = NULL, *res = NULL;
	Vsm__TaskStatus st;
	json_int_t      warn, fail;
	double          worst;
	char            summary[256];
	int             has, ret;

	warn = params_num(p, "warn_ms");
	fail = params_num(p, "fail_ms");
	if ((conn = pg_connect(ctx, params_str(p, "database"), &err)) == NULL ||
	    (has = pg_has_extension(conn, "pg_stat_statements", &err)) == -1) {
		ret = task_finish_error(ctx, "%s", err.msg);
		goto out;
	}
	if (!has) {
		ret = task_finish_error(ctx,
		    "the pg_stat_statements extension is not installed in "
		    "database %s: add pg_stat_statements to "
		    "shared_preload_libraries, restart PostgreSQL and run "
		    "CREATE EXTENSION pg_stat_statements",
		    PQdb(conn));
		goto out;
	}
	if ((queries = pg_top_queries(conn, params_num(p, "order") == 1,
	         params_num(p, "limit"), &err)) == NULL) {
		ret = task_finish_error(ctx, "%s", err.msg);
		goto out;
	}
	worst = pg_slow_worst(queries);
	st = task_threshold(worst, (double)warn, (double)fail);
	res = json_pack("{s:s, s:s, s:O, s:f, s:I, s:I}", "database",
	    PQdb(conn), "order", params_str(p, "order"), "queries", queries,
	    "worst_mean_ms", worst, "warn_ms", warn, "fail_ms", fail);
	snprintf(summary, sizeof(summary),
	    "%zu statements, slowest mean %.1f ms", json_array_size(queries),
	    worst);
	ret = task_finish(ctx, st, summary, res, 0, NULL);
out:
	json_decref(queries);
	json_decref(res);
	pg_close(conn);
	return (ret);
}

const struct task_module mod_pg_slow_queries = {
    .name = "pg.slow_queries",
    .params = pg_slow_queries_params,
    .validate = pg_slow_queries_validate,
    .run = pg_slow_queries_run,
    .cancel = pg_cancel,
};
