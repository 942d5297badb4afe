/*
 * pg_stats.c: pg.stats, the guide's monthly performance report for one
 * database: its size, cache hit ratio, commits and rollbacks, deadlocks,
 * temporary files, connections, the biggest tables and (where
 * pg_stat_statements is installed) the slowest statements. The cache hit
 * ratio below warn_hit_pct/fail_hit_pct gives the status.
 */
#include <stdio.h>

#include "pg_conn.h"
#include "pg_modules.h"
#include "pg_params.h"
#include "pg_report.h"

#define PG_STATS_QUERIES 5 /* slowest statements in the report */

static const struct param_spec pg_stats_params[] = {
    PG_PARAM_DATABASE,
    PG_PARAM_LIMIT("10", 100),
    {.name = "warn_hit_pct",
        .type = PARAM_INT,
        .min = 0,
        .max = 100,
        .def = "95",
        .help = "warn when the cache hit ratio is below this"},
    {.name = "fail_hit_pct",
        .type = PARAM_INT,
        .min = 0,
        .max = 100,
        .def = "90",
        .help = "fail when the cache hit ratio is below this"},
    {.name = NULL},
};

static const char PG_STATS_DB[] =
    "SELECT current_database() AS database,"
    " current_setting('server_version') AS server_version,"
    " pg_database_size(current_database()) AS size_bytes,"
    " d.numbackends AS connections,"
    " current_setting('max_connections')::int AS max_connections,"
    " d.xact_commit AS commits, d.xact_rollback AS rollbacks,"
    " d.deadlocks, d.conflicts, d.temp_files, d.temp_bytes,"
    " d.blks_hit, d.blks_read,"
    " CASE WHEN d.blks_hit + d.blks_read > 0 THEN round(100.0 * d.blks_hit"
    "  / (d.blks_hit + d.blks_read), 2)::float8 END AS cache_hit_pct,"
    " d.tup_returned, d.tup_fetched, d.tup_inserted, d.tup_updated,"
    " d.tup_deleted,"
    " to_char(d.stats_reset AT TIME ZONE 'UTC',"
    "  'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS stats_reset"
    " FROM pg_stat_database d WHERE d.datname = current_database()";

static int
pg_stats_validate(
    struct task_ctx *ctx, const struct task_params *p, struct vsm_err *err)
{
	if (pg_params_check(ctx, p, err) == -1)
		return (-1);
	/* Hit rates: lower is worse, so fail_hit_pct is the lower one. */
	return (params_check_order(p, "fail_hit_pct", "warn_hit_pct", err));
}

/*
 * res["slow_queries"]: the slowest statements, or null and a note when
 * the extension is missing or unreadable (the report goes on without).
 */
static int
pg_stats_queries(PGconn *conn, json_t *res)
{
	struct vsm_err err;
	json_t        *q = NULL;
	int            has;

	if ((has = pg_has_extension(conn, "pg_stat_statements", &err)) == 1)
		q = pg_top_queries(conn, 0, PG_STATS_QUERIES, &err);
	else if (has == 0)
		vsm_err_set(&err, "pg_stat_statements is not installed");
	if (q != NULL)
		return (json_object_set_new(res, "slow_queries", q));
	if (json_object_set_new(res, "slow_queries", json_null()) == -1 ||
	    json_object_set_new(
	        res, "slow_queries_note", json_string(err.msg)) == -1)
		return (-1);
	return (0);
}

static int
pg_stats_run(struct task_ctx *ctx, const struct task_params *p)
{
	struct vsm_err  err;
	PGconn         *conn = NULL;
	PGresult       *db = NULL;
	json_t         *res = NULL, *tables = NULL, *hit;
	Vsm__TaskStatus st = VSM__TASK_STATUS__TASK_OK;
	char            summary[256];
	int             ret;

	if ((conn = pg_connect(ctx, params_str(p, "database"), &err)) == NULL ||
	    (db = pg_exec(conn, PG_STATS_DB, 0, NULL, &err)) == NULL ||
	    (tables = pg_top_tables(
	         conn, NULL, params_num(p, "limit"), &err)) == NULL) {
		ret = task_finish_error(ctx, "%s", err.msg);
		goto out;
	}
	if (PQntuples(db) != 1) {
		ret = task_finish_error(
		    ctx, "no statistics for database %s", PQdb(conn));
		goto out;
	}
	if ((res = pg_row_json(db, 0)) == NULL ||
	    json_object_set(res, "top_tables", tables) == -1 ||
	    pg_stats_queries(conn, res) == -1) {
		ret = task_finish_error(ctx, "out of memory");
		goto out;
	}
	json_object_set_new(
	    res, "warn_hit_pct", json_integer(params_num(p, "warn_hit_pct")));
	json_object_set_new(
	    res, "fail_hit_pct", json_integer(params_num(p, "fail_hit_pct")));
	hit = json_object_get(res, "cache_hit_pct");
	if (json_is_number(hit) &&
	    json_number_value(hit) < (double)params_num(p, "warn_hit_pct"))
		st = VSM__TASK_STATUS__TASK_WARN;
	if (json_is_number(hit) &&
	    json_number_value(hit) < (double)params_num(p, "fail_hit_pct"))
		st = VSM__TASK_STATUS__TASK_FAIL;
	snprintf(summary, sizeof(summary),
	    "%s: %lld bytes, cache hit %.2f%%, %lld deadlocks", PQdb(conn),
	    (long long)pg_int(db, 0, 2), json_number_value(hit),
	    (long long)pg_int(db, 0, 7));
	ret = task_finish(ctx, st, summary, res, 0, NULL);
out:
	json_decref(tables);
	json_decref(res);
	PQclear(db);
	pg_close(conn);
	return (ret);
}

const struct task_module mod_pg_stats = {
    .name = "pg.stats",
    .params = pg_stats_params,
    .validate = pg_stats_validate,
    .run = pg_stats_run,
    .cancel = pg_cancel,
};
