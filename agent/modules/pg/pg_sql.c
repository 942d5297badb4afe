/*
 * pg_sql.c: identifiers, statements and result values of the PostgreSQL
 * family (pg_sql.h).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "module.h"
#include "pg_sql.h"

/* Type oids (catalog/pg_type.h is a server header). */
#define PG_BOOLOID    16
#define PG_INT8OID    20
#define PG_INT2OID    21
#define PG_INT4OID    23
#define PG_OIDOID     26
#define PG_FLOAT4OID  700
#define PG_FLOAT8OID  701
#define PG_NUMERICOID 1700

/* ASCII letters only, whatever the locale. */
static int
pg_ident_alpha(char c)
{
	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
}

int
pg_ident_check(const char *what, const char *name, struct vsm_err *err)
{
	size_t i, len = strlen(name);

	if (len == 0 || len > PG_IDENT_MAX)
		return (vsm_err_set(err,
		    "parameter '%s': an identifier of 1-%d bytes is needed",
		    what, PG_IDENT_MAX));
	if (!pg_ident_alpha(name[0]) && name[0] != '_')
		return (vsm_err_set(err,
		    "parameter '%s': must start with a letter or '_'", what));
	for (i = 0; i < len; i++) {
		if (pg_ident_alpha(name[i]) ||
		    (name[i] >= '0' && name[i] <= '9') || name[i] == '_' ||
		    name[i] == '$' || name[i] == '-' || name[i] == ' ')
			continue;
		return (vsm_err_set(err,
		    "parameter '%s': character %zu is not allowed in an "
		    "identifier (letters, digits, '_', '$', '-', space)",
		    what, i + 1));
	}
	return (0);
}

int
pg_ident_quote(PGconn *conn, const char *schema, const char *name, char *buf,
    size_t len, struct vsm_err *err)
{
	char *qs = NULL, *qn = NULL;
	int   n, ret = -1;

	if ((schema != NULL &&
	        (qs = PQescapeIdentifier(conn, schema, strlen(schema))) ==
	            NULL) ||
	    (qn = PQescapeIdentifier(conn, name, strlen(name))) == NULL) {
		vsm_err_set(err, "postgres: cannot quote an identifier: %s",
		    PQerrorMessage(conn));
		goto out;
	}
	if (qs != NULL)
		n = snprintf(buf, len, "%s.%s", qs, qn);
	else
		n = snprintf(buf, len, "%s", qn);
	if (n < 0 || (size_t)n >= len) {
		vsm_err_set(err, "postgres: identifier too long");
		goto out;
	}
	ret = 0;
out:
	PQfreemem(qs);
	PQfreemem(qn);
	return (ret);
}

/* The server's message for a failed statement, one line, into err. */
static void
pg_error(PGconn *conn, const PGresult *res, struct vsm_err *err)
{
	const char *prim = NULL;
	char        msg[400];

	if (res != NULL)
		prim = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	snprintf(
	    msg, sizeof(msg), "%s", prim != NULL ? prim : PQerrorMessage(conn));
	msg[strcspn(msg, "\n")] = '\0';
	vsm_err_set(err, "postgres: %s", msg[0] != '\0' ? msg : "no answer");
}

PGresult *
pg_exec(PGconn *conn, const char *sql, int n, const char *const *params,
    struct vsm_err *err)
{
	PGresult *res;

	if (task_cancelled()) {
		vsm_err_set(err, "cancelled");
		return (NULL);
	}
	res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
	if (res != NULL &&
	    (PQresultStatus(res) == PGRES_COMMAND_OK ||
	        PQresultStatus(res) == PGRES_TUPLES_OK))
		return (res);
	pg_error(conn, res, err);
	PQclear(res);
	return (NULL);
}

int
pg_exec_cmd(PGconn *conn, const char *sql, int n, const char *const *params,
    struct vsm_err *err)
{
	PGresult *res;

	if ((res = pg_exec(conn, sql, n, params, err)) == NULL)
		return (-1);
	PQclear(res);
	return (0);
}

int
pg_set_lock_timeout(PGconn *conn, int64_t ms, struct vsm_err *err)
{
	const char *params[1];
	char        val[32];

	snprintf(val, sizeof(val), "%lldms", (long long)ms);
	params[0] = val;
	return (pg_exec_cmd(conn,
	    "SELECT set_config('lock_timeout', $1, false)", 1, params, err));
}

/*
 * A JSON value for field (row, col) by its type: integers and oids as
 * integers, float and numeric as reals, bool as a boolean, NULL as null,
 * anything else as a string. A new reference, or NULL on allocation
 * failure.
 */
static json_t *
pg_value_json(const PGresult *res, int row, int col)
{
	const char *s;
	char       *end;
	double      d;
	long long   ll;

	if (PQgetisnull(res, row, col))
		return (json_null());
	s = PQgetvalue(res, row, col);
	switch (PQftype(res, col)) {
	case PG_BOOLOID:
		return (json_boolean(s[0] == 't'));
	case PG_INT2OID:
	case PG_INT4OID:
	case PG_INT8OID:
	case PG_OIDOID:
		errno = 0;
		ll = strtoll(s, &end, 10);
		if (errno == 0 && end != s && *end == '\0')
			return (json_integer((json_int_t)ll));
		break;
	case PG_FLOAT4OID:
	case PG_FLOAT8OID:
	case PG_NUMERICOID:
		d = strtod(s, &end);
		if (end != s && *end == '\0' && isfinite(d))
			return (json_real(d));
		return (json_null());
	default:
		break;
	}
	return (json_string(s));
}

json_t *
pg_row_json(const PGresult *res, int row)
{
	json_t *obj, *v;
	int     col;

	if ((obj = json_object()) == NULL)
		return (NULL);
	for (col = 0; col < PQnfields(res); col++) {
		if ((v = pg_value_json(res, row, col)) == NULL ||
		    json_object_set_new(obj, PQfname(res, col), v) == -1) {
			json_decref(obj);
			return (NULL);
		}
	}
	return (obj);
}

json_t *
pg_rows_json(const PGresult *res)
{
	json_t *arr, *obj;
	int     row;

	if ((arr = json_array()) == NULL)
		return (NULL);
	for (row = 0; row < PQntuples(res); row++) {
		if ((obj = pg_row_json(res, row)) == NULL ||
		    json_array_append_new(arr, obj) == -1) {
			json_decref(arr);
			return (NULL);
		}
	}
	return (arr);
}

int64_t
pg_int(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return (0);
	return ((int64_t)strtoll(PQgetvalue(res, row, col), NULL, 10));
}

double
pg_double(const PGresult *res, int row, int col)
{
	double d;

	if (PQgetisnull(res, row, col))
		return (0);
	d = strtod(PQgetvalue(res, row, col), NULL);
	return (isfinite(d) ? d : 0);
}
