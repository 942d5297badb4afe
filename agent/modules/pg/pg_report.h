/*
 * pg_report.h: the queries of the guide's performance report that more
 * than one module runs: the biggest tables (pg.table_sizes, pg.stats) and
 * the slowest statements (pg.slow_queries, pg.stats).
 */
#ifndef VSM_PG_REPORT_H
#define VSM_PG_REPORT_H

#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "err.h"

#define PG_QUERY_TEXT_MAX "1000" /* characters of a statement reported */

/*
 * The limit biggest tables by total size (schema NULL: every schema but
 * the system ones) as a new array of {"schema", "table", "total_bytes",
 * "table_bytes", "index_bytes", "toast_bytes", "rows_estimate"}, biggest
 * first. NULL with err set.
 */
json_t *pg_top_tables(
    PGconn *conn, const char *schema, int64_t limit, struct vsm_err *err);

/* 1 when the extension is installed in the database, 0 when not, -1. */
int pg_has_extension(PGconn *conn, const char *name, struct vsm_err *err);

/*
 * The limit slowest statements of the database from pg_stat_statements,
 * by mean (by_total 0) or total time, as a new array of {"queryid",
 * "query" (its first PG_QUERY_TEXT_MAX characters), "calls", "mean_ms",
 * "total_ms", "rows"}. NULL with err set (the server's message when the
 * library is not preloaded).
 */
json_t *pg_top_queries(
    PGconn *conn, int by_total, int64_t limit, struct vsm_err *err);

#endif /* VSM_PG_REPORT_H */
