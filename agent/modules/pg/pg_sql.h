/*
 * pg_sql.h: statements of the PostgreSQL family. Identifiers a task names
 * (database, schema, table, index) are checked (pg_ident_check) and then
 * quoted by libpq (pg_ident_quote); values always travel as statement
 * parameters. Nothing a task sends is pasted into SQL.
 */
#ifndef VSM_PG_SQL_H
#define VSM_PG_SQL_H

#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "err.h"

#define PG_IDENT_MAX 63   /* NAMEDATALEN - 1 */
#define PG_STMT_MAX  1024 /* a statement built from quoted identifiers */

/*
 * 0 when name is an identifier a task may use: 1-63 bytes, a letter or
 * '_' first, then letters, digits, '_', '$', '-' or spaces. -1 with err
 * naming the parameter what otherwise.
 */
int pg_ident_check(const char *what, const char *name, struct vsm_err *err);
/*
 * "schema"."name" (schema may be NULL: "name" alone) quoted by
 * PQescapeIdentifier into buf. 0, or -1 with err set.
 */
int pg_ident_quote(PGconn *conn, const char *schema, const char *name,
    char *buf, size_t len, struct vsm_err *err);

/*
 * Run sql with n text parameters (NULL entries are SQL NULL). Returns the
 * result (PQclear) when it is COMMAND_OK or TUPLES_OK, else NULL with err
 * holding the server's message. Once the task is cancelled nothing more
 * is sent: NULL, err "cancelled".
 */
PGresult *pg_exec(PGconn *conn, const char *sql, int n,
    const char *const *params, struct vsm_err *err);
/* Run a statement that returns nothing; 0, or -1 with err set. */
int pg_exec_cmd(PGconn *conn, const char *sql, int n, const char *const *params,
    struct vsm_err *err);

/* SET lock_timeout to ms for the session (a parameter value). 0 or -1. */
int pg_set_lock_timeout(PGconn *conn, int64_t ms, struct vsm_err *err);

/* Row as a new object keyed by column names; NULL on allocation failure. */
json_t *pg_row_json(const PGresult *res, int row);
/* Every row as a new array of objects; NULL on allocation failure. */
json_t *pg_rows_json(const PGresult *res);
/* Field (row, col) as an integer (0 when NULL or not a number). */
int64_t pg_int(const PGresult *res, int row, int col);
/* Field (row, col) as a double (0 when NULL or not a number). */
double pg_double(const PGresult *res, int row, int col);

#endif /* VSM_PG_SQL_H */
