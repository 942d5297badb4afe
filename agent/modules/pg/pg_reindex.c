/*
 * pg_reindex.c: pg.reindex, the guide's weekly `REINDEX TABLE ...`: one
 * table's indexes, one index, or (neither named) the whole database.
 * CONCURRENTLY (writes go on while it runs) where the server has it
 * (PostgreSQL 12) unless concurrently=false.
 */
#include <stdio.h>

#include "pg_conn.h"
#include "pg_modules.h"
#include "pg_params.h"

#define PG_REINDEX_CONCURRENT_MIN 120000 /* server_version_num */

static const struct param_spec pg_reindex_params[] = {
    PG_PARAM_DATABASE,
    PG_PARAM_IDENT("schema", "public", "schema of the table or index"),
    PG_PARAM_IDENT("table", NULL, "reindex this table's indexes"),
    PG_PARAM_IDENT("index", NULL, "reindex this index"),
    {.name = "concurrently",
        .type = PARAM_BOOL,
        .def = "true",
        .help = "REINDEX CONCURRENTLY where the server has it"},
    PG_PARAM_LOCK_TIMEOUT,
    {.name = NULL},
};

/* The relation exists with one of the relkinds (pg_class.relkind). */
static const char PG_REINDEX_FIND[] =
    "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = $1 AND c.relname = $2"
    " AND strpos($3, c.relkind::text) > 0";

static int
pg_reindex_validate(
    struct task_ctx *ctx, const struct task_params *p, struct vsm_err *err)
{
	if (pg_params_check(ctx, p, err) == -1)
		return (-1);
	if (params_str(p, "table") != NULL && params_str(p, "index") != NULL)
		return (vsm_err_set(err,
		    "parameter 'index': name a table or an index, not both"));
	return (0);
}

/*
 * The statement for the task's target into stmt, after checking that the
 * target exists; *kind ("table", "index", "database") and *namep (borrowed
 * from p or conn) say what it is. 0, or -1 with err set.
 */
static int
pg_reindex_stmt(PGconn *conn, const struct task_params *p, int conc,
    const char **kind, const char **namep, char *stmt, size_t len,
    struct vsm_err *err)
{
	const char *schema = params_str(p, "schema");
	const char *name = params_str(p, "table");
	const char *args[3];
	PGresult   *res;
	char        qname[PG_STMT_MAX / 2];
	int         found;

	*kind = "table";
	args[2] = "rm";
	if (name == NULL && (name = params_str(p, "index")) != NULL) {
		*kind = "index";
		args[2] = "i";
	}
	if (name == NULL) {
		*kind = "database";
		*namep = PQdb(conn);
		if (pg_ident_quote(conn, NULL, PQdb(conn), qname, sizeof(qname),
		        err) == -1)
			return (-1);
		snprintf(stmt, len, "REINDEX DATABASE%s %s",
		    conc ? " CONCURRENTLY" : "", qname);
		return (0);
	}
	*namep = name;
	args[0] = schema;
	args[1] = name;
	if ((res = pg_exec(conn, PG_REINDEX_FIND, 3, args, err)) == NULL)
		return (-1);
	found = PQntuples(res) > 0;
	PQclear(res);
	if (!found)
		return (vsm_err_set(err, "%s %s.%s not found in %s", *kind,
		    schema, name, PQdb(conn)));
	if (pg_ident_quote(conn, schema, name, qname, sizeof(qname), err) == -1)
		return (-1);
	snprintf(stmt, len, "REINDEX %s%s %s",
	    (*kind)[0] == 't' ? "TABLE" : "INDEX", conc ? " CONCURRENTLY" : "",
	    qname);
	return (0);
}

static int
pg_reindex_run(struct task_ctx *ctx, const struct task_params *p)
{
	struct vsm_err err;
	PGconn        *conn = NULL;
	json_t        *res = NULL;
	const char    *kind, *name;
	char           stmt[PG_STMT_MAX], summary[256];
	int64_t        t0, dur = 0;
	int            conc, ret;

	if ((conn = pg_connect(ctx, params_str(p, "database"), &err)) == NULL ||
	    pg_set_lock_timeout(conn, params_num(p, "lock_timeout"), &err) ==
	        -1) {
		ret = task_finish_error(ctx, "%s", err.msg);
		goto out;
	}
	conc = params_num(p, "concurrently") &&
	    PQserverVersion(conn) >= PG_REINDEX_CONCURRENT_MIN;
	if (pg_reindex_stmt(
	        conn, p, conc, &kind, &name, stmt, sizeof(stmt), &err) == -1) {
		ret = task_finish_error(ctx, "%s", err.msg);
		goto out;
	}
	if (ctx->task->dry_run)
		task_emit_log(ctx, "dry run: would run %s", stmt);
	else {
		task_emit_log(ctx, "%s", stmt);
		task_emit_progress(ctx, 0, kind);
		t0 = (int64_t)task_mono_ms();
		if (pg_exec_cmd(conn, stmt, 0, NULL, &err) == -1) {
			ret = task_finish_error(ctx, "%s", err.msg);
			goto out;
		}
		dur = (int64_t)task_mono_ms() - t0;
	}
	res = json_pack("{s:s, s:s, s:s, s:b, s:s, s:b, s:I, s:i}", "database",
	    PQdb(conn), "target", kind, "name", name, "concurrently", conc,
	    "statement", stmt, "dry_run", ctx->task->dry_run, "duration_ms",
	    (json_int_t)dur, "server_version_num", PQserverVersion(conn));
	snprintf(summary, sizeof(summary), "%s%.240s",
	    ctx->task->dry_run ? "dry run: " : "", stmt);
	ret =
	    task_finish(ctx, VSM__TASK_STATUS__TASK_OK, summary, res, 0, NULL);
out:
	json_decref(res);
	pg_close(conn);
	return (ret);
}

const struct task_module mod_pg_reindex = {
    .name = "pg.reindex",
    .params = pg_reindex_params,
    .validate = pg_reindex_validate,
    .run = pg_reindex_run,
    .cancel = pg_cancel,
};
