/*
 * tu_pg.h: a real PostgreSQL server for the module tests: a fresh
 * cluster (initdb) in a temporary directory, the postmaster run as the
 * test's child (so that it is reaped) on a free loopback port, trust
 * authentication for the user postgres, and removed at the end. As root,
 * initdb, postgres and pg_ctl run as the user nobody (initdb refuses root).
 * Statements for the test's own setup and checks go through the real psql.
 */
#ifndef VSM_TU_PG_H
#define VSM_TU_PG_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

struct tu_pg {
	char  dir[256];    /* the temporary directory: data/, logs */
	char  bindir[256]; /* initdb, pg_ctl, psql */
	int   port;
	pid_t pid; /* the postmaster, our child; 0: not running */
};

/*
 * Find the PostgreSQL binaries (TU_PG_BINDIR in the environment, else the
 * newest /usr/lib/postgresql/N/bin), create and start a cluster with
 * conf (postgresql.conf lines, may be NULL) appended to its settings.
 * 0, or -1 with the reason on stderr (binaries missing: install them with
 * deploy/install-deps.sh) and nothing left behind.
 */
int tu_pg_start(struct tu_pg *pg, const char *conf);
/*
 * Stop the server (pg_ctl stop -m fast; SIGKILL if that fails), reap it
 * and remove the directory. 0 or -1.
 */
int tu_pg_stop(struct tu_pg *pg);

/* A libpq keyword conninfo for database db as postgres, into buf. */
void tu_pg_conninfo(
    const struct tu_pg *pg, const char *db, char *buf, size_t len);

/*
 * Run sql (one or more statements, one implicit transaction) in database
 * db with psql -At, stopping at the first error. Its output, trailing
 * newline removed, goes into out (may be NULL; cut at len). Returns
 * psql's exit status (0: every statement succeeded) or -1.
 */
int tu_pg_sql(const struct tu_pg *pg, const char *db, const char *sql,
    char *out, size_t len);
/* The first line of sql's output as a number; -1 on any failure. */
long long tu_pg_num(const struct tu_pg *pg, const char *db, const char *sql);
/*
 * Start psql running sql in db in the background (its output to the
 * server's directory); the pid (waitpid it), or -1.
 */
pid_t tu_pg_sql_bg(const struct tu_pg *pg, const char *db, const char *sql);

#endif /* VSM_TU_PG_H */
