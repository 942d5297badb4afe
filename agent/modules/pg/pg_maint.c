/*
 * pg_maint.c: one maintenance statement over one table or a schema's
 * tables (pg_maint.h).
 */
#include <stdio.h>

#include "pg_conn.h"
#include "pg_maint.h"
#include "pg_params.h"
#include "pg_sql.h"

#define PG_MAINT_LIST_MAX 1000 /* tables listed in the result */

/* The target tables (or the one named $2) with their dead tuples. */
static const char PG_MAINT_LIST[] =
    "SELECT n.nspname, c.relname, coalesce(s.n_dead_tup, 0)"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid"
    " WHERE c.relkind IN ('r', 'm') AND n.nspname = $1"
    " AND ($2::text IS NULL OR c.relname = $2) ORDER BY c.relname";

/* Dead tuples of schema.table now; -1 when unknown. */
static int64_t
pg_maint_dead(PGconn *conn, const char *schema, const char *table)
{
	const char    *args[2] = {schema, table};
	struct vsm_err err;
	PGresult      *res;
	int64_t        n = -1;

	if ((res = pg_exec(conn, PG_MAINT_LIST, 2, args, &err)) == NULL)
		return (-1);
	if (PQntuples(res) == 1)
		n = pg_int(res, 0, 2);
	PQclear(res);
	return (n);
}

/*
 * Run (or, dry, only name) m on row i of list; entry gets what happened.
 * 0 when the statement ran, -1 when it failed.
 */
static int
pg_maint_one(struct task_ctx *ctx, PGconn *conn, const struct pg_maint *m,
    const PGresult *list, int i, json_t *entry)
{
	const char    *schema = PQgetvalue(list, i, 0);
	const char    *table = PQgetvalue(list, i, 1);
	struct vsm_err err;
	char           qname[PG_STMT_MAX / 2], stmt[PG_STMT_MAX];
	int64_t        t0;
	int            ret = -1;

	if (pg_ident_quote(conn, schema, table, qname, sizeof(qname), &err) ==
	    -1)
		goto out;
	snprintf(stmt, sizeof(stmt), "%s %s", m->verb, qname);
	if (ctx->task->dry_run) {
		task_emit_log(ctx, "dry run: would run %s", stmt);
		json_object_set_new(entry, "would_run", json_string(stmt));
		ret = 0;
		goto out;
	}
	task_emit_log(ctx, "%s", stmt);
	t0 = (int64_t)task_mono_ms();
	ret = pg_exec_cmd(conn, stmt, 0, NULL, &err);
	json_object_set_new(
	    entry, "duration_ms", json_integer((int64_t)task_mono_ms() - t0));
	json_object_set_new(entry, "dead_after",
	    json_integer(pg_maint_dead(conn, schema, table)));
out:
	if (ret == -1) {
		task_emit_log(ctx, "%s.%s: %s", schema, table, err.msg);
		json_object_set_new(entry, "error", json_string(err.msg));
	}
	return (ret);
}

int
pg_maint_run(
    struct task_ctx *ctx, const struct task_params *p, const struct pg_maint *m)
{
	const char     *schema = params_str(p, "schema");
	const char     *table = params_str(p, "table");
	const char     *args[2] = {schema, table};
	struct vsm_err  err;
	PGconn         *conn = NULL;
	PGresult       *list = NULL;
	json_t         *tables = NULL, *res = NULL, *entry;
	Vsm__TaskStatus st;
	char            summary[256];
	int             i, n = 0, failed = 0, ret;

	if ((conn = pg_connect(ctx, params_str(p, "database"), &err)) == NULL ||
	    pg_set_lock_timeout(conn, m->lock_timeout_ms, &err) == -1 ||
	    (list = pg_exec(conn, PG_MAINT_LIST, 2, args, &err)) == NULL) {
		ret = task_finish_error(ctx, "%s", err.msg);
		goto out;
	}
	if (table != NULL && PQntuples(list) == 0) {
		ret = task_finish_error(ctx, "table %s.%s not found in %s",
		    schema, table, PQdb(conn));
		goto out;
	}
	if ((tables = json_array()) == NULL) {
		ret = task_finish_error(ctx, "out of memory");
		goto out;
	}
	for (i = 0; i < PQntuples(list) && !task_cancelled(); i++, n++) {
		task_emit_progress(ctx, (unsigned)(100 * i / PQntuples(list)),
		    PQgetvalue(list, i, 1));
		entry = json_pack("{s:s, s:s, s:I}", "schema",
		    PQgetvalue(list, i, 0), "table", PQgetvalue(list, i, 1),
		    "dead_before", (json_int_t)pg_int(list, i, 2));
		if (entry == NULL) {
			ret = task_finish_error(ctx, "out of memory");
			goto out;
		}
		if (pg_maint_one(ctx, conn, m, list, i, entry) == -1)
			failed++;
		if (json_array_size(tables) < PG_MAINT_LIST_MAX)
			json_array_append(tables, entry);
		json_decref(entry);
	}
	res = json_pack("{s:s, s:s, s:s, s:b, s:O, s:i, s:i, s:i, s:b}",
	    "database", PQdb(conn), "schema", schema, "statement", m->verb,
	    "dry_run", ctx->task->dry_run, "tables", tables, "tables_total",
	    PQntuples(list), "done", n - failed, "failed", failed, "cancelled",
	    task_cancelled());
	if (task_cancelled()) {
		snprintf(summary, sizeof(summary),
		    "%s cancelled after %d of %d tables", m->what, n,
		    PQntuples(list));
		ret = task_finish(ctx, VSM__TASK_STATUS__TASK_ERROR, summary,
		    res, 0, "cancelled");
		goto out;
	}
	st = failed > 0 ? VSM__TASK_STATUS__TASK_FAIL
	                : VSM__TASK_STATUS__TASK_OK;
	snprintf(summary, sizeof(summary), "%s%s: %d tables, %d failed",
	    m->what, ctx->task->dry_run ? " (dry run)" : "", n, failed);
	ret = task_finish(ctx, st, summary, res, 0, NULL);
out:
	json_decref(tables);
	json_decref(res);
	PQclear(list);
	pg_close(conn);
	return (ret);
}
