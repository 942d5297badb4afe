/*
 * pg_report.c: the shared report queries (pg_report.h).
 */
#include <stdio.h>

#include "pg_report.h"
#include "pg_sql.h"

#define PG_EXEC_TIME_MIN 130000 /* mean_exec_time replaced mean_time */

static const char PG_TOP_TABLES[] =
    "SELECT n.nspname AS schema, c.relname AS table,"
    " pg_total_relation_size(c.oid) AS total_bytes,"
    " pg_relation_size(c.oid) AS table_bytes,"
    " pg_indexes_size(c.oid) AS index_bytes,"
    " pg_total_relation_size(c.oid) - pg_relation_size(c.oid)"
    "  - pg_indexes_size(c.oid) AS toast_bytes,"
    " greatest(c.reltuples, 0)::bigint AS rows_estimate"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relkind IN ('r', 'm')"
    " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
    " AND n.nspname NOT LIKE 'pg\\_toast%'"
    " AND n.nspname NOT LIKE 'pg\\_temp%'"
    " AND ($1::text IS NULL OR n.nspname = $1)"
    " ORDER BY 3 DESC, 1, 2 LIMIT $2::bigint";

/* The slowest statements; MEAN and TOTAL name the server's columns. */
#define PG_TOP_QUERIES(MEAN, TOTAL)                                            \
	"SELECT queryid, left(query, " PG_QUERY_TEXT_MAX ") AS query,"         \
	" calls, round(" MEAN "::numeric, 3)::float8 AS mean_ms,"              \
	" round(" TOTAL "::numeric, 3)::float8 AS total_ms, rows"              \
	" FROM pg_stat_statements WHERE dbid = (SELECT oid FROM"               \
	" pg_database WHERE datname = current_database())"                     \
	" ORDER BY CASE WHEN $1 = 'total' THEN " TOTAL " ELSE " MEAN           \
	" END DESC LIMIT $2::bigint"

json_t *
pg_top_tables(
    PGconn *conn, const char *schema, int64_t limit, struct vsm_err *err)
{
	const char *args[2];
	PGresult   *res;
	json_t     *arr;
	char        lim[32];

	snprintf(lim, sizeof(lim), "%lld", (long long)limit);
	args[0] = schema;
	args[1] = lim;
	if ((res = pg_exec(conn, PG_TOP_TABLES, 2, args, err)) == NULL)
		return (NULL);
	if ((arr = pg_rows_json(res)) == NULL)
		vsm_err_set(err, "out of memory");
	PQclear(res);
	return (arr);
}

int
pg_has_extension(PGconn *conn, const char *name, struct vsm_err *err)
{
	const char *args[1] = {name};
	PGresult   *res;
	int         n;

	if ((res = pg_exec(conn,
	         "SELECT 1 FROM pg_extension WHERE extname = $1", 1, args,
	         err)) == NULL)
		return (-1);
	n = PQntuples(res) > 0;
	PQclear(res);
	return (n);
}

json_t *
pg_top_queries(PGconn *conn, int by_total, int64_t limit, struct vsm_err *err)
{
	const char *args[2];
	PGresult   *res;
	json_t     *arr;
	char        lim[32];

	snprintf(lim, sizeof(lim), "%lld", (long long)limit);
	args[0] = by_total ? "total" : "mean";
	args[1] = lim;
	res = pg_exec(conn,
	    PQserverVersion(conn) >= PG_EXEC_TIME_MIN
	        ? PG_TOP_QUERIES("mean_exec_time", "total_exec_time")
	        : PG_TOP_QUERIES("mean_time", "total_time"),
	    2, args, err);
	if (res == NULL)
		return (NULL);
	if ((arr = pg_rows_json(res)) == NULL)
		vsm_err_set(err, "out of memory");
	PQclear(res);
	return (arr);
}
