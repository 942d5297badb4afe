/*
 * pg_conn.c: connecting to the local PostgreSQL server, the cancel hook
 * and the connection probe (pg_conn.h).
 */
#include <math.h>
#include <signal.h>
#include <string.h>

#include "pg_conn.h"
#include "pg_sql.h"

/*
 * The connection a SIGTERM cancels: its PGcancel is made when the
 * connection opens, so the handler only calls PQcancel, which is
 * async-signal-safe. Swapped with SIGTERM blocked.
 */
static PGcancel *volatile pg_armed;
static PGconn *pg_armed_conn;

static void
pg_arm(PGconn *conn, PGcancel *cancel)
{
	sigset_t  set, old;
	PGcancel *prev;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, &old);
	prev = pg_armed;
	pg_armed = cancel;
	pg_armed_conn = conn;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (prev != NULL)
		PQfreeCancel(prev);
}

void
pg_cancel(struct task_ctx *ctx)
{
	char errbuf[256];

	(void)ctx;
	if (pg_armed != NULL)
		(void)PQcancel(pg_armed, errbuf, sizeof(errbuf));
}

/* Server notices (WARNING, NOTICE, INFO) as MODULE log lines. */
static void
pg_notice(void *arg, const char *msg)
{
	struct task_ctx *ctx = arg;
	size_t           len = strlen(msg);

	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
		len--;
	(void)task_emit_log(ctx, "postgres: %.*s", (int)len, msg);
}

/*
 * Connect with cfg's postgres settings. Keywords are taken in array
 * order, the last value of a repeated one winning: the conninfo (the
 * first dbname, expanded by libpq) may override connect_timeout, and the
 * task's dbname and application_name come after it. Returns the
 * connection or NULL with err set.
 */
static PGconn *
pg_connect_cfg(struct task_ctx *ctx, const struct vsm_agent_config *cfg,
    const char *dbname, struct vsm_err *err)
{
	const char *keys[8], *vals[8];
	PGconn     *conn;
	PGcancel   *cancel;
	size_t      len;
	int         n = 0, expand = cfg->postgres.conninfo[0] != '\0';
	char        msg[256];

	keys[n] = "connect_timeout";
	vals[n++] = PG_CONNECT_TIMEOUT;
	if (expand) {
		keys[n] = "dbname";
		vals[n++] = cfg->postgres.conninfo;
	}
	if (dbname != NULL) {
		keys[n] = "dbname";
		vals[n++] = dbname;
	}
	if (cfg->postgres.passfile[0] != '\0') {
		keys[n] = "passfile";
		vals[n++] = cfg->postgres.passfile;
	}
	keys[n] = "application_name";
	vals[n++] = PG_APPLICATION;
	keys[n] = NULL;
	vals[n] = NULL;
	if ((conn = PQconnectdbParams(keys, vals, expand)) == NULL) {
		vsm_err_set(err, "postgres: out of memory");
		return (NULL);
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(conn));
		len = strcspn(msg, "\n");
		msg[len] = '\0';
		vsm_err_set(err, "postgres: cannot connect: %s", msg);
		PQfinish(conn);
		return (NULL);
	}
	if ((cancel = PQgetCancel(conn)) == NULL) {
		vsm_err_set(err, "postgres: cannot prepare a cancel request");
		PQfinish(conn);
		return (NULL);
	}
	PQsetNoticeProcessor(conn, pg_notice, ctx);
	pg_arm(conn, cancel);
	return (conn);
}

PGconn *
pg_connect(struct task_ctx *ctx, const char *dbname, struct vsm_err *err)
{
	const struct vsm_agent_config *cfg;

	if ((cfg = task_config(ctx, err)) == NULL)
		return (NULL);
	return (pg_connect_cfg(ctx, cfg, dbname, err));
}

void
pg_close(PGconn *conn)
{
	if (conn == NULL)
		return;
	if (conn == pg_armed_conn)
		pg_arm(NULL, NULL);
	PQfinish(conn);
}

static const char PG_PROBE_SETTINGS[] =
    "SELECT current_setting('max_connections')::int,"
    " current_setting('superuser_reserved_connections')::int,"
    " current_setting('server_version_num')::int";
/* One statement, one snapshot of pg_stat_activity. */
static const char PG_PROBE_ACTIVITY[] =
    "SELECT coalesce(state, 'unknown'), coalesce(datname, ''), count(*)"
    " FROM pg_stat_activity WHERE backend_type = 'client backend'"
    " GROUP BY 1, 2 ORDER BY 1, 2";

/* obj[key] += n, creating it at n. 0 or -1. */
static int
pg_count_add(json_t *obj, const char *key, json_int_t n)
{
	json_t *v = json_object_get(obj, key);

	if (v != NULL)
		return (json_integer_set(v, json_integer_value(v) + n));
	return (json_object_set_new(obj, key, json_integer(n)));
}

int
pg_probe_connections(struct task_ctx *ctx, const struct vsm_agent_config *cfg,
    json_t **out, struct vsm_err *err)
{
	PGconn    *conn = NULL;
	PGresult  *set = NULL, *act = NULL;
	json_t    *res = NULL, *by_state = NULL, *by_db = NULL;
	json_int_t total = 0, n, max;
	double     pct;
	int        i, ret = -1;

	*out = NULL;
	if ((conn = pg_connect_cfg(ctx, cfg, NULL, err)) == NULL)
		goto out;
	if ((set = pg_exec(conn, PG_PROBE_SETTINGS, 0, NULL, err)) == NULL ||
	    (act = pg_exec(conn, PG_PROBE_ACTIVITY, 0, NULL, err)) == NULL)
		goto out;
	if (PQntuples(set) != 1) {
		vsm_err_set(err, "postgres: no settings row");
		goto out;
	}
	if ((by_state = json_object()) == NULL ||
	    (by_db = json_object()) == NULL) {
		vsm_err_set(err, "out of memory");
		goto out;
	}
	for (i = 0; i < PQntuples(act); i++) {
		n = pg_int(act, i, 2);
		total += n;
		if (pg_count_add(by_state, PQgetvalue(act, i, 0), n) == -1 ||
		    pg_count_add(by_db, PQgetvalue(act, i, 1), n) == -1) {
			vsm_err_set(err, "out of memory");
			goto out;
		}
	}
	max = pg_int(set, 0, 0);
	pct = max > 0 ? round(1000.0 * (double)total / (double)max) / 10 : 0;
	res = json_pack("{s:I, s:I, s:I, s:f, s:O, s:O, s:I}", "connections",
	    total, "max_connections", max, "reserved_connections",
	    (json_int_t)pg_int(set, 0, 1), "used_pct", pct, "by_state",
	    by_state, "by_database", by_db, "server_version_num",
	    (json_int_t)pg_int(set, 0, 2));
	if (res == NULL) {
		vsm_err_set(err, "out of memory");
		goto out;
	}
	*out = res;
	ret = 0;
out:
	json_decref(by_state);
	json_decref(by_db);
	PQclear(set);
	PQclear(act);
	pg_close(conn);
	return (ret);
}
