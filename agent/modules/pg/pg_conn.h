/*
 * pg_conn.h: the PostgreSQL family's connection to the local server
 * (docs/modules.md, "PostgreSQL"). Where to connect comes from the
 * agent's config (postgres.conninfo, postgres.passfile), never from the
 * task; a task may only name the database, which goes to libpq as the
 * dbname keyword, never pasted into a connection string.
 */
#ifndef VSM_PG_CONN_H
#define VSM_PG_CONN_H

#include <jansson.h>
#include <libpq-fe.h>

#include "module.h"

#define PG_CONNECT_TIMEOUT "10" /* seconds; the conninfo may override */
#define PG_APPLICATION     "vsm"

/*
 * Connect with the agent's postgres.conninfo (expanded by libpq), its
 * passfile, connect_timeout and application_name=vsm; dbname (NULL: the
 * conninfo's) overrides the conninfo's database. Server notices become
 * MODULE log lines of ctx, and the connection is armed for the cancel
 * hook (pg_cancel). Returns the connection (pg_close), or NULL with err
 * set.
 */
PGconn *pg_connect(
    struct task_ctx *ctx, const char *dbname, struct vsm_err *err);
/* Disarm the cancel hook and close. NULL is a no-op. */
void pg_close(PGconn *conn);

/*
 * The modules' cancel hook, run from the SIGTERM handler: asks the server
 * to cancel the statement running on the armed connection (PQcancel is
 * async-signal-safe). The module then sees its statement fail and, with
 * task_cancelled() set, reports and ends.
 */
void pg_cancel(struct task_ctx *ctx);

/*
 * The connection figures pg.connections and sys.health report, read
 * with the agent's postgres settings (default database): *out gets a new
 * object {"connections", "max_connections", "reserved_connections",
 * "used_pct", "by_state": {STATE: N}, "by_database": {DB: N},
 * "server_version_num"} counting client backends against
 * max_connections. 0, or -1 with err set (server down, refused) and *out
 * NULL. Blocks for at most the connect timeout plus the queries.
 */
int pg_probe_connections(struct task_ctx *ctx,
    const struct vsm_agent_config *cfg, json_t **out, struct vsm_err *err);

#endif /* VSM_PG_CONN_H */
