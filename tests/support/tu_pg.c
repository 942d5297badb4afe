/*
 * tu_pg.c: a throwaway PostgreSQL cluster for the module tests (tu_pg.h).
 */
#define _GNU_SOURCE /* posix_spawn_file_actions_addchdir_np */
#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <glob.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "tu_pg.h"

extern char **environ;

#define TU_PG_USER    "nobody"
#define TU_PG_GROUP   "nogroup"
#define TU_PG_SETPRIV "/usr/bin/setpriv"
#define TU_PG_RUNUSER "/usr/sbin/runuser"
#define TU_PG_ARGV    32

/* The newest /usr/lib/postgresql/N/bin holding initdb, into buf. */
static int
tu_pg_bindir(char *buf, size_t len)
{
	const char *env = getenv("TU_PG_BINDIR");
	glob_t      g;
	size_t      i;
	long        best = -1, v;
	char        path[PATH_MAX];
	int         ret = -1;

	if (env != NULL && env[0] != '\0') {
		snprintf(buf, len, "%s", env);
		snprintf(path, sizeof(path), "%s/initdb", buf);
		return (access(path, X_OK));
	}
	if (glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) != 0)
		return (-1);
	for (i = 0; i < g.gl_pathc; i++) {
		v = strtol(
		    g.gl_pathv[i] + strlen("/usr/lib/postgresql/"), NULL, 10);
		if (v <= best || access(g.gl_pathv[i], X_OK) != 0)
			continue;
		best = v;
		snprintf(buf, len, "%s", g.gl_pathv[i]);
		buf[strlen(buf) - strlen("/initdb")] = '\0';
		ret = 0;
	}
	globfree(&g);
	return (ret);
}

/*
 * Run argv (argv[0] a path) in the cluster's directory. as_user: as
 * nobody when we are root, stderr appended to DIR/tu_pg.log (else the
 * test's stderr); stdout to out (truncated) or that log. wait: wait for
 * it. The exit status (wait), the pid (not wait), or -1.
 */
static int
tu_pg_spawn(const struct tu_pg *pg, char *const argv[], int as_user, int wait,
    const char *out)
{
	posix_spawn_file_actions_t fa;
	char                       log[PATH_MAX];
	char                      *full[TU_PG_ARGV + 8];
	size_t                     n = 0, i;
	pid_t                      pid;
	int                        st, rc;

	if (as_user && geteuid() == 0) {
		if (access(TU_PG_SETPRIV, X_OK) == 0) {
			full[n++] = TU_PG_SETPRIV;
			full[n++] = "--reuid=" TU_PG_USER;
			full[n++] = "--regid=" TU_PG_GROUP;
			full[n++] = "--clear-groups";
		} else {
			full[n++] = TU_PG_RUNUSER;
			full[n++] = "-u";
			full[n++] = TU_PG_USER;
		}
		full[n++] = "--";
	}
	for (i = 0; argv[i] != NULL && i < TU_PG_ARGV; i++)
		full[n++] = argv[i];
	full[n] = NULL;
	snprintf(log, sizeof(log), "%s/tu_pg.log", pg->dir);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, out != NULL ? out : log,
	    O_WRONLY | O_CREAT | (out != NULL ? O_TRUNC : O_APPEND), 0644);
	if (as_user)
		posix_spawn_file_actions_addopen(
		    &fa, 2, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	posix_spawn_file_actions_addchdir_np(&fa, pg->dir);
	rc = posix_spawn(&pid, full[0], &fa, NULL, full, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		fprintf(stderr, "tu_pg: cannot run %s\n", full[0]);
		return (-1);
	}
	if (!wait)
		return ((int)pid);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return (-1);
	return (WEXITSTATUS(st));
}

/* Run bindir/prog with args (NULL-terminated) as the cluster's owner. */
static int
tu_pg_tool(const struct tu_pg *pg, const char *prog, char *const args[])
{
	char  path[PATH_MAX];
	char *argv[TU_PG_ARGV];
	int   n = 0, i;

	snprintf(path, sizeof(path), "%s/%s", pg->bindir, prog);
	argv[n++] = path;
	for (i = 0; args[i] != NULL && n < TU_PG_ARGV - 1; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return (tu_pg_spawn(pg, argv, 1, 1, NULL));
}

/* Append the test's settings to DATA/postgresql.conf. */
static int
tu_pg_configure(const struct tu_pg *pg, const char *conf)
{
	char  path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/data/postgresql.conf", pg->dir);
	if ((f = fopen(path, "a")) == NULL)
		return (-1);
	fprintf(f,
	    "\n# tu_pg\n"
	    "listen_addresses = '127.0.0.1'\n"
	    "port = %d\n"
	    "unix_socket_directories = '%s'\n"
	    "fsync = off\n"
	    "synchronous_commit = off\n"
	    "full_page_writes = off\n"
	    "max_connections = 40\n"
	    "shared_buffers = 16MB\n"
	    "%s\n",
	    pg->port, pg->dir, conf != NULL ? conf : "");
	return (fclose(f) == 0 ? 0 : -1);
}

/* Copy DIR/name to stderr, for a failed start. */
static void
tu_pg_dump(const struct tu_pg *pg, const char *name)
{
	char   path[PATH_MAX], buf[4096];
	FILE  *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", pg->dir, name);
	if ((f = fopen(path, "r")) == NULL)
		return;
	fprintf(stderr, "--- %s\n", path);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stderr);
	fclose(f);
}

/* 1 once the server accepts connections (pg_isready). */
static int
tu_pg_ready(const struct tu_pg *pg)
{
	char        port[16];
	char *const args[] = {"-q", "-h", "127.0.0.1", "-p", port, NULL};

	snprintf(port, sizeof(port), "%d", pg->port);
	return (tu_pg_tool(pg, "pg_isready", args) == 0);
}

/*
 * Start the postmaster as our child (so that we reap it) and wait up to
 * two minutes for it to accept connections. 0 or -1.
 */
static int
tu_pg_run_server(struct tu_pg *pg, char *data)
{
	struct timespec ts = {0, 100 * 1000 * 1000};
	char            path[PATH_MAX];
	char           *argv[] = {path, "-D", data, NULL};
	int             i, st;

	snprintf(path, sizeof(path), "%s/postgres", pg->bindir);
	if ((pg->pid = tu_pg_spawn(pg, argv, 1, 0, NULL)) == -1)
		return (-1);
	for (i = 0; i < 1200; i++) {
		if (waitpid(pg->pid, &st, WNOHANG) == pg->pid) {
			pg->pid = 0;
			return (-1);
		}
		if (tu_pg_ready(pg))
			return (0);
		nanosleep(&ts, NULL);
	}
	return (-1);
}

int
tu_pg_start(struct tu_pg *pg, const char *conf)
{
	struct passwd *pw = NULL;
	char           url[64], data[PATH_MAX], *p;
	char *const    initdb[] = {"-D", data, "-U", "postgres", "--auth=trust",
	       "--encoding=UTF8", "--locale=C", "--no-sync", NULL};

	memset(pg, 0, sizeof(*pg));
	if (tu_pg_bindir(pg->bindir, sizeof(pg->bindir)) == -1) {
		fprintf(stderr,
		    "tu_pg: no PostgreSQL binaries (initdb) under "
		    "/usr/lib/postgresql/*/bin: install them with "
		    "deploy/install-deps.sh\n");
		return (-1);
	}
	if (tu_mkdtemp(pg->dir, sizeof(pg->dir), "pg") == -1) {
		perror("tu_pg: mkdtemp");
		return (-1);
	}
	if (geteuid() == 0 &&
	    ((pw = getpwnam(TU_PG_USER)) == NULL ||
	        chown(pg->dir, pw->pw_uid, pw->pw_gid) == -1)) {
		fprintf(stderr, "tu_pg: cannot hand %s to %s\n", pg->dir,
		    TU_PG_USER);
		goto fail;
	}
	chmod(pg->dir, 0755);
	tu_loopback_url(url, sizeof(url));
	p = strrchr(url, ':');
	pg->port = atoi(p + 1);
	snprintf(data, sizeof(data), "%s/data", pg->dir);
	if (tu_pg_tool(pg, "initdb", initdb) != 0) {
		fprintf(stderr, "tu_pg: initdb failed\n");
		goto fail;
	}
	if (tu_pg_configure(pg, conf) == -1 ||
	    tu_pg_run_server(pg, data) == -1) {
		fprintf(stderr, "tu_pg: the server did not start\n");
		goto fail;
	}
	return (0);
fail:
	tu_pg_dump(pg, "tu_pg.log");
	tu_pg_stop(pg);
	return (-1);
}

int
tu_pg_stop(struct tu_pg *pg)
{
	char        data[PATH_MAX];
	char *const stop[] = {
	    "-D", data, "-m", "fast", "-w", "-t", "120", "stop", NULL};
	int ret = 0, st;

	if (pg->dir[0] == '\0')
		return (0);
	snprintf(data, sizeof(data), "%s/data", pg->dir);
	if (pg->pid > 0) {
		if (tu_pg_tool(pg, "pg_ctl", stop) != 0) {
			ret = -1;
			kill(pg->pid, SIGKILL);
		}
		waitpid(pg->pid, &st, 0);
	}
	pg->pid = 0;
	if (tu_rmtree(pg->dir) == -1)
		ret = -1;
	pg->dir[0] = '\0';
	return (ret);
}

void
tu_pg_conninfo(const struct tu_pg *pg, const char *db, char *buf, size_t len)
{
	snprintf(buf, len, "host=127.0.0.1 port=%d user=postgres dbname=%s",
	    pg->port, db);
}

/* psql's argv for sql in db into argv (strings in port). */
static void
tu_pg_psql_argv(const struct tu_pg *pg, const char *db, const char *sql,
    char *psql, size_t plen, char *port, size_t portlen, char **argv)
{
	int n = 0;

	snprintf(psql, plen, "%s/psql", pg->bindir);
	snprintf(port, portlen, "%d", pg->port);
	argv[n++] = psql;
	argv[n++] = "-X";
	argv[n++] = "-q";
	argv[n++] = "-A";
	argv[n++] = "-t";
	argv[n++] = "-v";
	argv[n++] = "ON_ERROR_STOP=1";
	argv[n++] = "-h";
	argv[n++] = "127.0.0.1";
	argv[n++] = "-p";
	argv[n++] = port;
	argv[n++] = "-U";
	argv[n++] = "postgres";
	argv[n++] = "-d";
	argv[n++] = (char *)db;
	argv[n++] = "-c";
	argv[n++] = (char *)sql;
	argv[n] = NULL;
}

int
tu_pg_sql(const struct tu_pg *pg, const char *db, const char *sql, char *out,
    size_t len)
{
	char   psql[PATH_MAX], port[16], path[PATH_MAX], *argv[TU_PG_ARGV];
	FILE  *f;
	size_t n;
	int    rc;

	tu_pg_psql_argv(
	    pg, db, sql, psql, sizeof(psql), port, sizeof(port), argv);
	snprintf(path, sizeof(path), "%s/psql.out", pg->dir);
	rc = tu_pg_spawn(pg, argv, 0, 1, path);
	if (out == NULL || len == 0)
		return (rc);
	out[0] = '\0';
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	n = fread(out, 1, len - 1, f);
	fclose(f);
	out[n] = '\0';
	while (n > 0 && out[n - 1] == '\n')
		out[--n] = '\0';
	return (rc);
}

long long
tu_pg_num(const struct tu_pg *pg, const char *db, const char *sql)
{
	char      out[256], *end;
	long long v;

	if (tu_pg_sql(pg, db, sql, out, sizeof(out)) != 0 || out[0] == '\0')
		return (-1);
	v = strtoll(out, &end, 10);
	return (end != out && (*end == '\0' || *end == '\n') ? v : -1);
}

pid_t
tu_pg_sql_bg(const struct tu_pg *pg, const char *db, const char *sql)
{
	char psql[PATH_MAX], port[16], *argv[TU_PG_ARGV];

	tu_pg_psql_argv(
	    pg, db, sql, psql, sizeof(psql), port, sizeof(port), argv);
	return ((pid_t)tu_pg_spawn(pg, argv, 0, 0, NULL));
}
