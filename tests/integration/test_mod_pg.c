/*
 * test_mod_pg.c: the PostgreSQL family (vsm-task-pg) against a real
 * PostgreSQL server (tests/support/tu_pg.c) with pg_stat_statements
 * preloaded: connections, bloat made on purpose and vacuumed away,
 * analyze, reindex, table sizes, slow statements, the monthly report,
 * hostile parameters refused or quoted, dry runs that change nothing,
 * and a VACUUM FULL stuck on a lock: given up after lock_timeout, and
 * cancelled through the module's hook.
 */
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>

#include "runner.h"
#include "testutil.h"
#include "tu_pg.h"
#include "tu_task.h"

#define DB        "vsm"
#define ODD_TABLE "Odd Name-1" /* valid, but only usable quoted */
#define ODD_INDEX "Odd Idx-1"
#define WAIT_MS   (120 * 1000)

static struct tu_pg pg;
static char         dir[256];
static char         cfg[PATH_MAX];
static char         bin[PATH_MAX];

/* Run module on vsm-task-pg with the test's agent.yaml. */
static void
run(const char *module, const char *const *kv, int dry_run,
    struct tu_task_result *r)
{
	size_t i;

	assert_int_equal(tu_task_run(bin, cfg, module, kv, dry_run, r), 0);
	if (strcmp(tu_task_status(r->status), "error") == 0)
		fprintf(stderr, "%s: error: %s\n", module, r->error);
	for (i = 0; i < r->nlines; i++)
		fprintf(stderr, "%s: %s\n", module, r->lines[i]);
}

/* Run module and expect it to end with status, returning its JSON. */
static void
expect(const char *module, const char *const *kv, int dry_run,
    const char *status, struct tu_task_result *r)
{
	run(module, kv, dry_run, r);
	assert_string_equal(tu_task_status(r->status), status);
	if (strcmp(status, "error") != 0)
		assert_non_null(r->json);
}

/* Run module and expect it refused with a message holding what. */
static void
refused(const char *module, const char *const *kv, const char *what)
{
	tu_task_expect_error(bin, cfg, module, kv, what);
}

/* A psql number to wait for: sql's value within [lo, hi]. */
struct numwait {
	const char *sql;
	long long   lo, hi, last;
};

static int
num_in_range(void *arg)
{
	struct numwait *w = arg;

	w->last = tu_pg_num(&pg, DB, w->sql);
	return (w->last >= w->lo && w->last <= w->hi);
}

static void
wait_num(const char *sql, long long lo, long long hi)
{
	struct numwait w = {sql, lo, hi, -1};

	if (!tu_wait(num_in_range, &w, WAIT_MS))
		fail_msg("%s: %lld, not in %lld-%lld", sql, w.last, lo, hi);
}

static void
sql_ok(const char *db, const char *sql)
{
	if (tu_pg_sql(&pg, db, sql, NULL, 0) != 0)
		fail_msg("psql failed: %s", sql);
}

#define DEAD_BLOATED                                                           \
	"SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'bloated'"
#define ROWS_T "SELECT count(*) FROM t"

static int
setup(void **state)
{
	char conninfo[256], yaml[512];

	(void)state;
	if (tu_pg_start(&pg,
	        "shared_preload_libraries = 'pg_stat_statements'\n") == -1) {
		fprintf(stderr,
		    "test_mod_pg: PostgreSQL is needed "
		    "(deploy/install-deps.sh)\n");
		return (-1);
	}
	if (tu_pg_sql(&pg, "postgres", "CREATE DATABASE " DB, NULL, 0) != 0 ||
	    tu_pg_sql(
	        &pg, DB, "CREATE EXTENSION pg_stat_statements", NULL, 0) != 0 ||
	    tu_pg_sql(&pg, DB,
	        "CREATE TABLE bloated (id int PRIMARY KEY, pad text)"
	        " WITH (autovacuum_enabled = false);"
	        "INSERT INTO bloated SELECT g, repeat('x', 100)"
	        " FROM generate_series(1, 10000) g;"
	        "DELETE FROM bloated WHERE id > 1000;"
	        "CREATE TABLE big (id int, pad text)"
	        " WITH (autovacuum_enabled = false);"
	        "INSERT INTO big SELECT g, repeat('y', 200)"
	        " FROM generate_series(1, 20000) g;"
	        "CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2), (3);"
	        "CREATE TABLE locked (id int); INSERT INTO locked VALUES (1);"
	        "CREATE TABLE \"" ODD_TABLE "\" (id int PRIMARY KEY);"
	        "INSERT INTO \"" ODD_TABLE "\" SELECT generate_series(1, 50);"
	        "CREATE INDEX \"" ODD_INDEX "\" ON \"" ODD_TABLE "\" (id);",
	        NULL, 0) != 0)
		return (-1);
	if (tu_mkdtemp(dir, sizeof(dir), "modpg") == -1)
		return (-1);
	tu_pg_conninfo(&pg, DB, conninfo, sizeof(conninfo));
	snprintf(
	    yaml, sizeof(yaml), "postgres:\n  conninfo: \"%s\"\n", conninfo);
	if (tu_task_config(dir, yaml, cfg, sizeof(cfg)) == -1)
		return (-1);
	tu_task_bin(VSM_TASK_DIR, "vsm-task-pg", bin, sizeof(bin));
	return (0);
}

static int
teardown(void **state)
{
	int rc = 0;

	(void)state;
	if (tu_pg_stop(&pg) == -1)
		rc = -1;
	if (dir[0] != '\0' && tu_rmtree(dir) == -1)
		rc = -1;
	return (rc);
}

static void
test_pg_connections(void **state)
{
	struct tu_task_result r;
	const char *warn[] = {"warn_pct", "1", "fail_pct", "100", NULL};
	const char *bad[] = {"warn_pct", "90", "fail_pct", "80", NULL};
	json_t     *by_db;

	(void)state;
	expect("pg.connections", NULL, 0, "ok", &r);
	assert_int_equal(tu_jint(r.json, "max_connections"), 40);
	assert_true(tu_jint(r.json, "connections") >= 1);
	assert_true(tu_jnum(r.json, "used_pct") > 0);
	by_db = json_object_get(r.json, "by_database");
	assert_true(tu_jint(by_db, DB) >= 1);
	assert_true(
	    tu_jint(json_object_get(r.json, "by_state"), "active") >= 1);
	assert_int_equal(tu_jint(r.json, "warn_pct"), 80);
	tu_task_result_free(&r);
	/* One connection of 40 is 2.5%: over a 1% warning. */
	expect("pg.connections", warn, 0, "warn", &r);
	tu_task_result_free(&r);
	refused("pg.connections", bad, "warn_pct");
}

static void
test_pg_server_down(void **state)
{
	struct tu_task_result r;
	char                  url[64], yaml[256], dcfg[PATH_MAX];
	char                  ddir[PATH_MAX];

	(void)state;
	snprintf(ddir, sizeof(ddir), "%s/down", dir);
	assert_int_equal(mkdir(ddir, 0700), 0);
	tu_loopback_url(url, sizeof(url));
	snprintf(yaml, sizeof(yaml),
	    "postgres:\n  conninfo: \"host=127.0.0.1 port=%s user=postgres "
	    "connect_timeout=5\"\n",
	    strrchr(url, ':') + 1);
	assert_int_equal(tu_task_config(ddir, yaml, dcfg, sizeof(dcfg)), 0);
	assert_int_equal(
	    tu_task_run(bin, dcfg, "pg.connections", NULL, 0, &r), 0);
	assert_string_equal(tu_task_status(r.status), "error");
	assert_non_null(strstr(r.error, "cannot connect"));
	tu_task_result_free(&r);
}

static void
test_pg_bloat_then_vacuum(void **state)
{
	struct tu_task_result r;
	const char *vac[] = {"table", "bloated", "mode", "plain", NULL};
	json_t     *row;

	(void)state;
	/* The deleting session's counts reach the statistics when it ends. */
	wait_num(DEAD_BLOATED, 9000, 9000);
	expect("pg.bloat", NULL, 0, "fail", &r);
	assert_string_equal(tu_jtext(r.json, "worst_table"), "bloated");
	assert_true(tu_jnum(r.json, "worst_pct") >= 89.9);
	row = json_array_get(json_object_get(r.json, "tables"), 0);
	assert_int_equal(tu_jint(row, "n_dead_tup"), 9000);
	assert_int_equal(tu_jint(row, "n_live_tup"), 1000);
	assert_true(tu_jint(row, "table_bytes") > 0);
	assert_true(tu_jint(row, "dead_bytes_estimate") > 0);
	tu_task_result_free(&r);

	/* A dry run names the statement and leaves the dead tuples. */
	expect("pg.vacuum", vac, 1, "ok", &r);
	row = json_array_get(json_object_get(r.json, "tables"), 0);
	assert_non_null(strstr(tu_jtext(row, "would_run"), "VACUUM"));
	assert_true(json_is_true(json_object_get(r.json, "dry_run")));
	tu_task_result_free(&r);
	assert_int_equal(tu_pg_num(&pg, DB, DEAD_BLOATED), 9000);

	expect("pg.vacuum", vac, 0, "ok", &r);
	assert_string_equal(tu_jtext(r.json, "statement"), "VACUUM");
	assert_int_equal(tu_jint(r.json, "done"), 1);
	row = json_array_get(json_object_get(r.json, "tables"), 0);
	assert_int_equal(tu_jint(row, "dead_before"), 9000);
	assert_true(tu_jint(row, "duration_ms") >= 0);
	tu_task_result_free(&r);
	wait_num(DEAD_BLOATED, 0, 0);
	/* Nothing bloated is left (t is under min_rows). */
	expect("pg.bloat", NULL, 0, "ok", &r);
	tu_task_result_free(&r);
}

static void
test_pg_vacuum_schema(void **state)
{
	struct tu_task_result r;
	const char           *kv[] = {"lock_timeout", "30s", NULL};
	json_t               *t;
	size_t                i;
	int                   odd = 0;

	(void)state;
	/* Every table of public, the oddly named one quoted. */
	expect("pg.vacuum", kv, 0, "ok", &r);
	assert_string_equal(tu_jtext(r.json, "statement"), "VACUUM (ANALYZE)");
	assert_int_equal(tu_jint(r.json, "failed"), 0);
	assert_int_equal(tu_jint(r.json, "tables_total"), 5);
	json_array_foreach(json_object_get(r.json, "tables"), i, t)
	{
		assert_null(json_object_get(t, "error"));
		odd += strcmp(tu_jtext(t, "table"), ODD_TABLE) == 0;
	}
	assert_int_equal(odd, 1);
	tu_task_result_free(&r);
}

#define FILENODE(rel) "SELECT pg_relation_filenode('" rel "')"

static void
test_pg_vacuum_full(void **state)
{
	struct tu_task_result r;
	const char           *noforce[] = {"table", "t", "mode", "full", NULL};
	const char           *force[] = {
	              "table", "t", "mode", "full", "force", "true", NULL};
	long long before;

	(void)state;
	refused("pg.vacuum", noforce, "force=true");
	before = tu_pg_num(&pg, DB, FILENODE("t"));
	assert_true(before > 0);
	expect("pg.vacuum", force, 1, "ok", &r);
	tu_task_result_free(&r);
	assert_int_equal(tu_pg_num(&pg, DB, FILENODE("t")), before);
	/* VACUUM FULL rewrites the table into a new file. */
	expect("pg.vacuum", force, 0, "ok", &r);
	assert_string_equal(tu_jtext(r.json, "statement"), "VACUUM (FULL)");
	tu_task_result_free(&r);
	assert_true(tu_pg_num(&pg, DB, FILENODE("t")) != before);
	assert_int_equal(tu_pg_num(&pg, DB, ROWS_T), 3);
}

/*
 * mode=full without force runs inside the maintenance window its task
 * was fired in (Task.window_end_ms not yet passed), and is refused once
 * that window has closed, with the message naming both ways out.
 */
static void
test_pg_vacuum_full_in_window(void **state)
{
	struct tu_task_result r;
	const char           *kv[] = {"table", "t", "mode", "full", NULL};
	struct timespec       ts;
	uint64_t              now;
	long long             before;

	(void)state;
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	/* The window closed a minute ago: refused. */
	assert_int_equal(
	    tu_task_run_window(bin, cfg, "pg.vacuum", kv, 0, now - 60000, &r),
	    0);
	assert_string_equal(tu_task_status(r.status), "error");
	assert_non_null(strstr(r.error, "maintenance window"));
	assert_non_null(strstr(r.error, "force=true"));
	tu_task_result_free(&r);
	/* Inside the window (an hour left): it rewrites the table. */
	before = tu_pg_num(&pg, DB, FILENODE("t"));
	assert_int_equal(
	    tu_task_run_window(bin, cfg, "pg.vacuum", kv, 0, now + 3600000, &r),
	    0);
	assert_string_equal(tu_task_status(r.status), "ok");
	assert_string_equal(tu_jtext(r.json, "statement"), "VACUUM (FULL)");
	tu_task_result_free(&r);
	assert_true(tu_pg_num(&pg, DB, FILENODE("t")) != before);
	assert_int_equal(tu_pg_num(&pg, DB, ROWS_T), 3);
}

static void
test_pg_analyze(void **state)
{
	struct tu_task_result r;
	const char           *kv[] = {"table", ODD_TABLE, NULL};

	(void)state;
	expect("pg.analyze", kv, 0, "ok", &r);
	assert_string_equal(tu_jtext(r.json, "statement"), "ANALYZE");
	assert_int_equal(tu_jint(r.json, "done"), 1);
	tu_task_result_free(&r);
	wait_num("SELECT count(*) FROM pg_stat_user_tables WHERE relname = "
	         "'" ODD_TABLE "' AND last_analyze IS NOT NULL",
	    1, 1);
}

static void
test_pg_reindex(void **state)
{
	struct tu_task_result r;
	const char           *idx[] = {"index", ODD_INDEX, NULL};
	const char *tbl[] = {"table", "bloated", "concurrently", "false", NULL};
	const char *both[] = {"table", "t", "index", ODD_INDEX, NULL};
	const char *missing[] = {"table", "nosuch", NULL};
	long long   before;

	(void)state;
	before = tu_pg_num(&pg, DB, FILENODE("\"" ODD_INDEX "\""));
	assert_true(before > 0);
	expect("pg.reindex", idx, 1, "ok", &r);
	tu_task_result_free(&r);
	assert_int_equal(
	    tu_pg_num(&pg, DB, FILENODE("\"" ODD_INDEX "\"")), before);

	/* A new index file; CONCURRENTLY on PostgreSQL 12 and later. */
	expect("pg.reindex", idx, 0, "ok", &r);
	assert_string_equal(tu_jtext(r.json, "target"), "index");
	assert_true(json_is_true(json_object_get(r.json, "concurrently")));
	assert_string_equal(tu_jtext(r.json, "statement"),
	    "REINDEX INDEX CONCURRENTLY \"public\".\"" ODD_INDEX "\"");
	tu_task_result_free(&r);
	assert_true(
	    tu_pg_num(&pg, DB, FILENODE("\"" ODD_INDEX "\"")) != before);

	expect("pg.reindex", tbl, 0, "ok", &r);
	assert_true(json_is_false(json_object_get(r.json, "concurrently")));
	assert_string_equal(tu_jtext(r.json, "statement"),
	    "REINDEX TABLE \"public\".\"bloated\"");
	tu_task_result_free(&r);

	expect("pg.reindex", NULL, 0, "ok", &r);
	assert_string_equal(tu_jtext(r.json, "target"), "database");
	assert_string_equal(tu_jtext(r.json, "name"), DB);
	tu_task_result_free(&r);

	refused("pg.reindex", both, "not both");
	refused("pg.reindex", missing, "not found");
}

static void
test_pg_table_sizes(void **state)
{
	struct tu_task_result r;
	const char           *two[] = {"limit", "2", NULL};
	const char *warn[] = {"warn_bytes", "1KiB", "fail_bytes", "1TiB", NULL};
	const char *bad[] = {"warn_bytes", "2MiB", "fail_bytes", "1MiB", NULL};
	const char *huge[] = {"limit", "100000", NULL};
	json_t     *tables, *row;

	(void)state;
	expect("pg.table_sizes", two, 0, "ok", &r);
	tables = json_object_get(r.json, "tables");
	assert_int_equal(json_array_size(tables), 2);
	row = json_array_get(tables, 0);
	assert_string_equal(tu_jtext(row, "table"), "big");
	assert_string_equal(tu_jtext(row, "schema"), "public");
	assert_true(tu_jint(row, "total_bytes") > 1000000);
	assert_true(tu_jint(row, "total_bytes") >= tu_jint(row, "table_bytes"));
	assert_true(tu_jint(row, "index_bytes") >= 0);
	assert_int_equal(tu_jint(row, "rows_estimate"), 20000);
	assert_int_equal(
	    tu_jint(r.json, "largest_bytes"), tu_jint(row, "total_bytes"));
	tu_task_result_free(&r);
	expect("pg.table_sizes", warn, 0, "warn", &r);
	tu_task_result_free(&r);
	refused("pg.table_sizes", bad, "warn_bytes");
	refused("pg.table_sizes", huge, "limit");
}

static void
test_pg_slow_queries(void **state)
{
	struct tu_task_result r;
	const char *kv[] = {"warn_ms", "100", "fail_ms", "100000", NULL};
	const char *total[] = {"order", "total", "limit", "3", NULL};
	const char *other[] = {"database", "postgres", NULL};
	json_t     *q;

	(void)state;
	sql_ok(DB, "SELECT pg_sleep(0.3)");
	expect("pg.slow_queries", kv, 0, "warn", &r);
	q = json_array_get(json_object_get(r.json, "queries"), 0);
	assert_non_null(strstr(tu_jtext(q, "query"), "pg_sleep"));
	assert_true(tu_jnum(q, "mean_ms") >= 300);
	assert_true(tu_jint(q, "calls") >= 1);
	assert_true(tu_jnum(r.json, "worst_mean_ms") >= 300);
	tu_task_result_free(&r);
	expect("pg.slow_queries", total, 0, "ok", &r);
	assert_string_equal(tu_jtext(r.json, "order"), "total");
	assert_true(json_array_size(json_object_get(r.json, "queries")) <= 3);
	tu_task_result_free(&r);
	/* Preloaded, but not created in that database. */
	refused(
	    "pg.slow_queries", other, "CREATE EXTENSION pg_stat_statements");
}

static void
test_pg_stats(void **state)
{
	struct tu_task_result r;
	const char *kv[] = {"warn_hit_pct", "0", "fail_hit_pct", "0", NULL};
	const char *other[] = {"database", "postgres", "warn_hit_pct", "0",
	    "fail_hit_pct", "0", NULL};
	const char *bad[] = {"warn_hit_pct", "80", "fail_hit_pct", "90", NULL};

	(void)state;
	expect("pg.stats", kv, 0, "ok", &r);
	assert_string_equal(tu_jtext(r.json, "database"), DB);
	assert_true(tu_jint(r.json, "size_bytes") > 1000000);
	assert_int_equal(tu_jint(r.json, "max_connections"), 40);
	assert_true(tu_jint(r.json, "commits") > 0);
	assert_true(tu_jint(r.json, "deadlocks") >= 0);
	assert_true(tu_jint(r.json, "temp_files") >= 0);
	assert_true(tu_jnum(r.json, "cache_hit_pct") > 0);
	assert_true(json_array_size(json_object_get(r.json, "top_tables")) > 0);
	assert_true(json_is_array(json_object_get(r.json, "slow_queries")));
	tu_task_result_free(&r);
	expect("pg.stats", other, 0, "ok", &r);
	assert_true(json_is_null(json_object_get(r.json, "slow_queries")));
	assert_non_null(json_object_get(r.json, "slow_queries_note"));
	tu_task_result_free(&r);
	refused("pg.stats", bad, "fail_hit_pct");
}

static void
test_pg_hostile(void **state)
{
	char        long_name[80], huge[5000];
	const char *inj[] = {"table", "x\"; DROP TABLE t; --", NULL};
	const char *inj_schema[] = {"schema", "public; DROP TABLE t", NULL};
	const char *inj_db[] = {"database", "host=127.0.0.2 dbname=x", NULL};
	const char *inj_idx[] = {"index", "i'; DROP TABLE t; --", NULL};
	const char *lng[] = {"table", long_name, NULL};
	const char *hg[] = {"table", huge, NULL};
	const char *unknown[] = {"foo", "1", NULL};
	const char *lock[] = {"lock_timeout", "100h", NULL};
	const char *pct[] = {"warn_pct", "150", NULL};
	const char *nodb[] = {"database", "nosuchdb", NULL};

	(void)state;
	memset(long_name, 'a', 64);
	long_name[64] = '\0';
	memset(huge, 'b', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	refused("pg.vacuum", inj, "parameter 'table'");
	refused("pg.analyze", inj, "parameter 'table'");
	refused("pg.analyze", inj_schema, "parameter 'schema'");
	refused("pg.bloat", inj_schema, "parameter 'schema'");
	refused("pg.table_sizes", inj_db, "parameter 'database'");
	refused("pg.reindex", inj_idx, "parameter 'index'");
	refused("pg.vacuum", lng, "table");
	refused("pg.vacuum", hg, "table");
	refused("pg.vacuum", unknown, "foo");
	refused("pg.vacuum", lock, "lock_timeout");
	refused("pg.bloat", pct, "warn_pct");
	refused("pg.stats", nodb, "cannot connect");
	assert_int_equal(tu_pg_num(&pg, DB, ROWS_T), 3);
}

/* The cancel test's task: its events, collected by the runner's thread. */
struct cancel_wait {
	pthread_mutex_t mtx;
	pthread_cond_t  cv;
	int             done, status;
	char            summary[256];
};

static void
cancel_cb(void *arg, const Vsm__TaskEvent *ev)
{
	struct cancel_wait *w = arg;

	if (ev->kind_case != VSM__TASK_EVENT__KIND_RESULT)
		return;
	pthread_mutex_lock(&w->mtx);
	w->status = ev->result->status;
	snprintf(w->summary, sizeof(w->summary), "%s",
	    ev->result->summary != NULL ? ev->result->summary : "");
	w->done = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mtx);
}

#define LOCK_HELD                                                              \
	"SELECT count(*) FROM pg_locks l JOIN pg_class c"                      \
	" ON c.oid = l.relation WHERE c.relname = 'locked'"                    \
	" AND l.mode = 'AccessExclusiveLock' AND l.granted"
#define VSM_WAITING                                                            \
	"SELECT count(*) FROM pg_stat_activity WHERE application_name = "      \
	"'vsm' AND wait_event_type = 'Lock'"

/* With the lock held elsewhere, lock_timeout gives up on the table. */
static void
test_pg_lock_timeout(void)
{
	struct tu_task_result r;
	const char *kv[] = {"table", "locked", "mode", "full", "force", "true",
	    "lock_timeout", "1s", NULL};
	json_t     *row;

	expect("pg.vacuum", kv, 0, "fail", &r);
	assert_int_equal(tu_jint(r.json, "failed"), 1);
	row = json_array_get(json_object_get(r.json, "tables"), 0);
	assert_non_null(strstr(tu_jtext(row, "error"), "lock timeout"));
	tu_task_result_free(&r);
}

static void
test_pg_cancel(void **state)
{
	struct runner_config rc;
	struct cancel_wait   w;
	struct runner       *r;
	struct vsm_err       err;
	struct timespec      until;
	Vsm__Task            task = VSM__TASK__INIT;
	Vsm__Param           pv[4], *pp[4];
	const char *kv[] = {"table", "locked", "mode", "full", "force", "true",
	    "lock_timeout", "30m"};
	pid_t       holder;
	int         i, st;

	(void)state;
	holder = tu_pg_sql_bg(&pg, DB,
	    "BEGIN; LOCK TABLE locked IN ACCESS EXCLUSIVE MODE;"
	    " SELECT pg_sleep(600); COMMIT;");
	assert_true(holder > 0);
	wait_num(LOCK_HELD, 1, 1);
	test_pg_lock_timeout();

	memset(&rc, 0, sizeof(rc));
	memset(&w, 0, sizeof(w));
	pthread_mutex_init(&w.mtx, NULL);
	pthread_cond_init(&w.cv, NULL);
	rc.task_path = bin;
	rc.config_path = cfg;
	rc.max_tasks = 1;
	rc.grace_ms = 120 * 1000; /* the module ends long before SIGKILL */
	r = runner_new(&rc, &err);
	assert_non_null(r);
	for (i = 0; i < 4; i++) {
		vsm__param__init(&pv[i]);
		pv[i].key = (char *)kv[2 * i];
		pv[i].value = (char *)kv[2 * i + 1];
		pp[i] = &pv[i];
	}
	task.id = "pg-cancel";
	task.module = "pg.vacuum";
	task.params = pp;
	task.n_params = 4;
	task.timeout_s = 600;
	assert_int_equal(runner_start(r, &task, NULL, cancel_cb, &w, &err), 0);
	/* VACUUM FULL waits for the lock the holder keeps. */
	wait_num(VSM_WAITING, 1, 1);
	assert_int_equal(runner_cancel(r, "pg-cancel"), 0);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 180;
	pthread_mutex_lock(&w.mtx);
	while (!w.done && pthread_cond_timedwait(&w.cv, &w.mtx, &until) == 0)
		continue;
	pthread_mutex_unlock(&w.mtx);
	assert_true(w.done);
	assert_string_equal(tu_task_status(w.status), "cancelled");
	/* The module's own summary: PQcancel ended the statement. */
	if (strstr(w.summary, "cancelled after") == NULL)
		fail_msg("summary '%s'", w.summary);
	runner_free(r);
	pthread_mutex_destroy(&w.mtx);
	pthread_cond_destroy(&w.cv);
	/* Nothing of vsm's is left waiting; release the holder. */
	wait_num(VSM_WAITING, 0, 0);
	sql_ok(DB,
	    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
	    " WHERE query LIKE '%pg_sleep(600)%'"
	    " AND pid <> pg_backend_pid()");
	assert_int_equal(waitpid(holder, &st, 0), holder);
	assert_int_equal(tu_pg_num(&pg, DB, "SELECT count(*) FROM locked"), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pg_connections),
	    cmocka_unit_test(test_pg_server_down),
	    cmocka_unit_test(test_pg_bloat_then_vacuum),
	    cmocka_unit_test(test_pg_vacuum_schema),
	    cmocka_unit_test(test_pg_vacuum_full),
	    cmocka_unit_test(test_pg_vacuum_full_in_window),
	    cmocka_unit_test(test_pg_analyze),
	    cmocka_unit_test(test_pg_reindex),
	    cmocka_unit_test(test_pg_table_sizes),
	    cmocka_unit_test(test_pg_slow_queries),
	    cmocka_unit_test(test_pg_stats),
	    cmocka_unit_test(test_pg_hostile),
	    cmocka_unit_test(test_pg_cancel),
	};

	signal(SIGPIPE, SIG_IGN);
	return (cmocka_run_group_tests(tests, setup, teardown));
}
