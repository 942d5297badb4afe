/*
 * pg_bloat.c: pg.bloat, dead tuples per table (pg_stat_user_tables): the
 * share of a table's tuples that are dead, dead_pct = n_dead_tup /
 * (n_live_tup + n_dead_tup), and the table bytes they hold by that
 * share. Tables with fewer than min_rows tuples are left out; the worst
 * dead_pct against warn_pct/fail_pct gives the status.
 */
#include <stdio.h>

#include "pg_conn.h"
#include "pg_modules.h"
#include "pg_params.h"

static const struct param_spec pg_bloat_params[] = {
    PG_PARAM_DATABASE,
    PG_PARAM_IDENT("schema", NULL, "only this schema (default: all)"),
    PG_PARAM_LIMIT("20", 1000),
    {.name = "min_rows",
        .type = PARAM_INT,
        .min = 0,
        .max = INT64_C(1000000000000),
        .def = "1000",
        .help = "leave out tables with fewer live and dead tuples"},
    PARAM_THRESHOLDS(100, "20", "50", "percent of dead tuples"),
    {.name = NULL},
};

#define PG_UTC(col)                                                            \
	"to_char(s." col " AT TIME ZONE 'UTC',"                                \
	" 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS " col

static const char PG_BLOAT[] =
    "SELECT s.schemaname AS schema, s.relname AS table,"
    " s.n_live_tup, s.n_dead_tup,"
    " round(100.0 * s.n_dead_tup"
    "  / greatest(s.n_live_tup + s.n_dead_tup, 1), 1)::float8 AS dead_pct,"
    " pg_relation_size(s.relid) AS table_bytes,"
    " (pg_relation_size(s.relid)::numeric * s.n_dead_tup"
    "  / greatest(s.n_live_tup + s.n_dead_tup, 1))::bigint"
    "  AS dead_bytes_estimate,"
    " " PG_UTC("last_vacuum") ", " PG_UTC(
        "last_autovacuum") ","
                           " " PG_UTC("last_analyze") ", " PG_UTC(
                               "last_autoanalyze") " FROM pg_stat_user_tables s"
                                                   " WHERE ($1::text IS NULL "
                                                   "OR s.schemaname = $1)"
                                                   " AND s.n_live_tup + "
                                                   "s.n_dead_tup >= $2::bigint"
                                                   " ORDER BY 5 DESC, 4 DESC, "
                                                   "1, 2 LIMIT $3::bigint";

static int
pg_bloat_run(struct task_ctx *ctx, const struct task_params *p)
{
	const char     *args[3];
	struct vsm_err  err;
	PGconn         *conn = NULL;
	PGresult       *rows = NULL;
	json_t         *tables = NULL, *res = NULL;
	Vsm__TaskStatus st;
	double          worst = 0;
	json_int_t      warn, fail;
	char            minr[32], lim[32], summary[256];
	int             ret;

	warn = params_num(p, "warn_pct");
	fail = params_num(p, "fail_pct");
	snprintf(
	    minr, sizeof(minr), "%lld", (long long)params_num(p, "min_rows"));
	snprintf(lim, sizeof(lim), "%lld", (long long)params_num(p, "limit"));
	args[0] = params_str(p, "schema");
	args[1] = minr;
	args[2] = lim;
	if ((conn = pg_connect(ctx, params_str(p, "database"), &err)) == NULL ||
	    (rows = pg_exec(conn, PG_BLOAT, 3, args, &err)) == NULL) {
		ret = task_finish_error(ctx, "%s", err.msg);
		goto out;
	}
	if ((tables = pg_rows_json(rows)) == NULL) {
		ret = task_finish_error(ctx, "out of memory");
		goto out;
	}
	if (PQntuples(rows) > 0)
		worst = pg_double(rows, 0, 4);
	st = task_threshold(worst, (double)warn, (double)fail);
	res = json_pack("{s:s, s:O, s:f, s:o, s:I, s:I, s:I}", "database",
	    PQdb(conn), "tables", tables, "worst_pct", worst, "worst_table",
	    PQntuples(rows) > 0 ? json_string(PQgetvalue(rows, 0, 1))
	                        : json_null(),
	    "min_rows", (json_int_t)params_num(p, "min_rows"), "warn_pct", warn,
	    "fail_pct", fail);
	snprintf(summary, sizeof(summary), "%d tables, worst %.1f%% dead%s%s",
	    PQntuples(rows), worst, PQntuples(rows) > 0 ? " in " : "",
	    PQntuples(rows) > 0 ? PQgetvalue(rows, 0, 1) : "");
	ret = task_finish(ctx, st, summary, res, 0, NULL);
out:
	json_decref(tables);
	json_decref(res);
	PQclear(rows);
	pg_close(conn);
	return (ret);
}

const struct task_module mod_pg_bloat = {
    .name = "pg.bloat",
    .params = pg_bloat_params,
    .validate = pg_params_check_thresholds,
    .run = pg_bloat_run,
    .cancel = pg_cancel,
};
