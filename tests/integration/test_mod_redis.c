/*
 * test_mod_redis.c: the redis.* modules (vsm-task-redis) against real
 * redis-servers (tests/support/tu_redis.c): one plain server on TCP and a
 * unix socket, one with a password whose dump file cannot be written.
 * The last tests use a hostile "server" that answers with replies a
 * real Redis never sends, to show that replies are checked.
 */
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"
#include "tu_redis.h"
#include "tu_task.h"

#define PASSWORD "s3cret-Pa55"

static char            dir[64];
static char            bin[PATH_MAX];
static struct tu_redis srv;  /* plain, TCP and unix socket */
static struct tu_redis asrv; /* password; dump file blocked */
static char            cfg_main[PATH_MAX], cfg_auth[PATH_MAX];

/* DIR/NAME/agent.yaml with the given redis section; path into out. */
static void
mkcfg(const char *name, const char *yaml, char *out, size_t len)
{
	char sub[PATH_MAX];

	snprintf(sub, sizeof(sub), "%s/%s", dir, name);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(tu_task_config(sub, yaml, out, len), 0);
}

static void
run(const char *cfg, const char *module, const char *const *kv, int dry,
    struct tu_task_result *r)
{
	assert_int_equal(tu_task_run(bin, cfg, module, kv, dry, r), 0);
}

static void
expect(const struct tu_task_result *r, const char *status)
{
	if (strcmp(tu_task_status(r->status), status) != 0)
		fprintf(stderr, "got %s: summary '%s' error '%s'\n",
		    tu_task_status(r->status), r->summary, r->error);
	assert_string_equal(tu_task_status(r->status), status);
}

/* The task ended error and its message has needle. */
static void
expect_error(const struct tu_task_result *r, const char *needle)
{
	expect(r, "error");
	if (strstr(r->error, needle) == NULL)
		fprintf(stderr, "error '%s' lacks '%s'\n", r->error, needle);
	assert_non_null(strstr(r->error, needle));
}

static long long
dbsize(int db)
{
	return (tu_redis_int(&srv, db, "DBSIZE", NULL));
}

static void
flushall(void)
{
	char out[64];

	assert_int_equal(
	    tu_redis_cmd(&srv, out, sizeof(out), "FLUSHALL", NULL), '+');
}

static void
config_set(const char *key, const char *value)
{
	char out[256];

	if (tu_redis_cmd(&srv, out, sizeof(out), "CONFIG", "SET", key, value,
	        NULL) != '+')
		fprintf(stderr, "CONFIG SET %s: %s\n", key, out);
	assert_string_equal(out, "OK");
}

static void
test_redis_memory_figures(void **state)
{
	struct tu_task_result r;

	(void)state;
	run(cfg_main, "redis.memory", NULL, 0, &r);
	expect(&r, "ok");
	assert_true(tu_jint(r.json, "used_memory") > 0);
	assert_true(tu_jint(r.json, "used_memory_rss") > 0);
	assert_true(tu_jint(r.json, "used_memory_peak") > 0);
	assert_int_equal(tu_jint(r.json, "maxmemory"), 0);
	assert_true(
	    json_is_number(json_object_get(r.json, "mem_fragmentation_ratio")));
	assert_string_equal(tu_jtext(r.json, "maxmemory_policy"), "noeviction");
	assert_null(json_object_get(r.json, "used_pct"));
	/* A small Redis wastes far less than the default 100MiB. */
	assert_false(tu_jbool(r.json, "fragmentation_checked"));
	tu_task_result_free(&r);
}

static void
test_redis_memory_maxmemory_thresholds(void **state)
{
	struct tu_task_result r;
	const char *warn[] = {"warn_pct", "1", "fail_pct", "99", NULL};
	const char *fail[] = {"warn_pct", "1", "fail_pct", "2", NULL};
	char        max[32];
	long long   used;
	double      pct;

	(void)state;
	run(cfg_main, "redis.memory", NULL, 0, &r);
	used = tu_jint(r.json, "used_memory");
	tu_task_result_free(&r);
	/* About 25% used. */
	snprintf(max, sizeof(max), "%lld", used * 4);
	config_set("maxmemory", max);

	run(cfg_main, "redis.memory", NULL, 0, &r);
	expect(&r, "ok");
	assert_true(json_is_number(json_object_get(r.json, "used_pct")));
	pct = json_number_value(json_object_get(r.json, "used_pct"));
	assert_true(pct > 2 && pct < 80);
	tu_task_result_free(&r);
	run(cfg_main, "redis.memory", warn, 0, &r);
	expect(&r, "warn");
	tu_task_result_free(&r);
	run(cfg_main, "redis.memory", fail, 0, &r);
	expect(&r, "fail");
	tu_task_result_free(&r);
	config_set("maxmemory", "0");
}

static void
test_redis_memory_fragmentation(void **state)
{
	struct tu_task_result r;
	const char *kv[] = {"frag_ignore", "0", "frag_warn_pct", "100",
	    "frag_fail_pct", "100", NULL};

	(void)state;
	/* Nothing ignored: a small Redis's rss is well above its data. */
	run(cfg_main, "redis.memory", kv, 0, &r);
	assert_true(tu_jbool(r.json, "fragmentation_checked"));
	assert_true(json_number_value(json_object_get(
	                r.json, "mem_fragmentation_ratio")) >= 1.0);
	expect(&r, "fail");
	tu_task_result_free(&r);
}

static void
test_redis_memory_bad_params(void **state)
{
	struct tu_task_result r;
	const char *inv[] = {"warn_pct", "90", "fail_pct", "80", NULL};
	const char *finv[] = {
	    "frag_warn_pct", "400", "frag_fail_pct", "300", NULL};
	const char *low[] = {"frag_warn_pct", "50", NULL};
	const char *unk[] = {"host", "10.0.0.1", NULL};

	(void)state;
	run(cfg_main, "redis.memory", inv, 0, &r);
	expect_error(&r, "warn_pct");
	tu_task_result_free(&r);
	run(cfg_main, "redis.memory", finv, 0, &r);
	expect_error(&r, "frag_warn_pct");
	tu_task_result_free(&r);
	run(cfg_main, "redis.memory", low, 0, &r);
	expect_error(&r, "frag_warn_pct");
	tu_task_result_free(&r);
	/* The connection comes from agent.yaml, never from the task. */
	run(cfg_main, "redis.memory", unk, 0, &r);
	expect_error(&r, "host");
	tu_task_result_free(&r);
}

static void
test_redis_persistence_and_bgsave(void **state)
{
	struct tu_task_result r;
	const char *age_warn[] = {"warn_age", "1s", "fail_age", "1h", NULL};
	const char *age_fail[] = {"warn_age", "1s", "fail_age", "1s", NULL};
	const char *age_bad[] = {"warn_age", "2h", "fail_age", "1h", NULL};
	char        dump[PATH_MAX + 16], out[64];
	struct stat st;

	(void)state;
	flushall();
	snprintf(dump, sizeof(dump), "%s/dump.rdb", srv.dir);
	unlink(dump);
	run(cfg_main, "redis.persistence", NULL, 0, &r);
	expect(&r, "ok");
	assert_string_equal(tu_jtext(r.json, "rdb_last_bgsave_status"), "ok");
	assert_false(tu_jbool(r.json, "aof_enabled"));
	assert_false(tu_jbool(r.json, "rdb_bgsave_in_progress"));
	assert_true(tu_jint(r.json, "last_save_age_s") >= 0);
	assert_true(tu_jint(r.json, "last_save") > 0);
	tu_task_result_free(&r);

	/* Unsaved changes older than warn_age. */
	assert_int_equal(
	    tu_redis_cmd(&srv, out, sizeof(out), "SET", "p:1", "x", NULL), '+');
	sleep(2);
	run(cfg_main, "redis.persistence", age_warn, 0, &r);
	expect(&r, "warn");
	assert_true(tu_jbool(r.json, "age_checked"));
	assert_true(tu_jint(r.json, "rdb_changes_since_last_save") >= 1);
	assert_true(tu_jint(r.json, "last_save_age_s") >= 1);
	tu_task_result_free(&r);
	run(cfg_main, "redis.persistence", age_fail, 0, &r);
	expect(&r, "fail");
	tu_task_result_free(&r);
	run(cfg_main, "redis.persistence", age_bad, 0, &r);
	expect_error(&r, "warn_age");
	tu_task_result_free(&r);

	/* dry_run starts nothing. */
	run(cfg_main, "redis.bgsave", NULL, 1, &r);
	expect(&r, "ok");
	assert_true(tu_jbool(r.json, "dry_run"));
	tu_task_result_free(&r);
	assert_int_equal(stat(dump, &st), -1);

	run(cfg_main, "redis.bgsave", NULL, 0, &r);
	expect(&r, "ok");
	assert_true(tu_jbool(r.json, "completed"));
	assert_false(tu_jbool(r.json, "already_running"));
	assert_string_equal(tu_jtext(r.json, "rdb_last_bgsave_status"), "ok");
	assert_true(tu_jint(r.json, "duration_ms") >= 0);
	tu_task_result_free(&r);
	/* The save really reached the disk. */
	assert_int_equal(stat(dump, &st), 0);
	assert_true(st.st_size > 0);

	/* Nothing unsaved now: the age no longer matters. */
	run(cfg_main, "redis.persistence", age_fail, 0, &r);
	expect(&r, "ok");
	assert_int_equal(tu_jint(r.json, "rdb_changes_since_last_save"), 0);
	assert_false(tu_jbool(r.json, "age_checked"));
	tu_task_result_free(&r);
}

static void
test_redis_bgsave_already_running(void **state)
{
	struct tu_task_result r;
	const char           *shortwait[] = {"timeout", "1s", NULL};
	char                  out[128];

	(void)state;
	flushall();
	/* 15 keys at 1 s each: a save that runs for 15 s. */
	assert_int_equal(tu_redis_fill(&srv, 0, "slow:", 15), 0);
	config_set("rdb-key-save-delay", "1000000");
	assert_int_equal(
	    tu_redis_cmd(&srv, out, sizeof(out), "BGSAVE", NULL), '+');

	run(cfg_main, "redis.bgsave", shortwait, 0, &r);
	expect(&r, "fail");
	assert_true(tu_jbool(r.json, "already_running"));
	assert_false(tu_jbool(r.json, "completed"));
	tu_task_result_free(&r);

	run(cfg_main, "redis.bgsave", NULL, 0, &r);
	expect(&r, "ok");
	assert_true(tu_jbool(r.json, "already_running"));
	assert_true(tu_jbool(r.json, "completed"));
	tu_task_result_free(&r);
	config_set("rdb-key-save-delay", "0");
	flushall();
}

static void
test_redis_bgsave_failure(void **state)
{
	struct tu_task_result r;
	char                  blocker[PATH_MAX + 16], out[64];
	const char           *argv[] = {"SET", "k", "v"};

	(void)state;
	/* The dump file's name is a directory: the rename fails. */
	snprintf(blocker, sizeof(blocker), "%s/blocker.rdb", asrv.dir);
	assert_int_equal(mkdir(blocker, 0700), 0);
	assert_int_equal(
	    tu_redis_cmdv(&asrv, 0, 3, argv, out, sizeof(out)), '+');
	run(cfg_auth, "redis.bgsave", NULL, 0, &r);
	expect(&r, "fail");
	assert_true(tu_jbool(r.json, "completed"));
	assert_string_equal(tu_jtext(r.json, "rdb_last_bgsave_status"), "err");
	tu_task_result_free(&r);
	run(cfg_auth, "redis.persistence", NULL, 0, &r);
	expect(&r, "fail");
	assert_string_equal(tu_jtext(r.json, "rdb_last_bgsave_status"), "err");
	tu_task_result_free(&r);
}

static void
test_redis_purge(void **state)
{
	struct tu_task_result r;

	(void)state;
	run(cfg_main, "redis.purge", NULL, 1, &r);
	expect(&r, "ok");
	assert_true(tu_jbool(r.json, "dry_run"));
	assert_false(tu_jbool(r.json, "purged"));
	assert_true(tu_jint(r.json, "rss_before") > 0);
	tu_task_result_free(&r);
	run(cfg_main, "redis.purge", NULL, 0, &r);
	expect(&r, "ok");
	assert_true(tu_jbool(r.json, "purged"));
	assert_true(tu_jint(r.json, "rss_before") > 0);
	assert_true(tu_jint(r.json, "rss_after") > 0);
	assert_true(tu_jint(r.json, "used_memory_after") > 0);
	(void)tu_jint(r.json, "rss_freed");
	tu_task_result_free(&r);
}

static void
test_redis_delete_count_then_execute(void **state)
{
	struct tu_task_result r;
	const char           *count[] = {"pattern", "cache:*", NULL};
	const char           *exec[] = {
	              "pattern", "cache:*", "execute", "true", "batch", "100", NULL};
	const char *capped[] = {"pattern", "cache:*", "execute", "true",
	    "batch", "100", "max_keys", "1000", NULL};
	json_t     *samples;
	size_t      i;

	(void)state;
	flushall();
	assert_int_equal(tu_redis_fill(&srv, 0, "cache:", 5000), 0);
	assert_int_equal(tu_redis_fill(&srv, 0, "keep:", 300), 0);
	assert_int_equal(dbsize(0), 5300);

	/* Counting is the default. */
	run(cfg_main, "redis.delete_pattern", count, 0, &r);
	expect(&r, "ok");
	assert_string_equal(tu_jtext(r.json, "mode"), "count");
	assert_int_equal(tu_jint(r.json, "matched"), 5000);
	assert_int_equal(tu_jint(r.json, "deleted"), 0);
	assert_false(tu_jbool(r.json, "truncated"));
	samples = json_object_get(r.json, "samples");
	assert_int_equal(json_array_size(samples), 10);
	for (i = 0; i < json_array_size(samples); i++)
		assert_memory_equal(
		    json_string_value(json_array_get(samples, i)), "cache:", 6);
	tu_task_result_free(&r);
	assert_int_equal(dbsize(0), 5300);

	/* execute=true under dry_run still only counts. */
	run(cfg_main, "redis.delete_pattern", exec, 1, &r);
	expect(&r, "ok");
	assert_string_equal(tu_jtext(r.json, "mode"), "count");
	assert_int_equal(tu_jint(r.json, "deleted"), 0);
	tu_task_result_free(&r);
	assert_int_equal(dbsize(0), 5300);

	/* max_keys caps the deletion and says more match. */
	run(cfg_main, "redis.delete_pattern", capped, 0, &r);
	expect(&r, "warn");
	assert_true(tu_jbool(r.json, "truncated"));
	assert_int_equal(tu_jint(r.json, "deleted"), 1000);
	tu_task_result_free(&r);
	assert_int_equal(dbsize(0), 4300);

	run(cfg_main, "redis.delete_pattern", exec, 0, &r);
	expect(&r, "ok");
	assert_string_equal(tu_jtext(r.json, "mode"), "delete");
	assert_int_equal(tu_jint(r.json, "deleted"), 4000);
	/* In batches of at most 100. */
	assert_true(tu_jint(r.json, "unlink_calls") >= 40);
	tu_task_result_free(&r);
	assert_int_equal(dbsize(0), 300);
	assert_int_equal(
	    tu_redis_int(&srv, 0, "EXISTS", "keep:0", "keep:299", NULL), 2);
}

static void
test_redis_delete_db_and_allow_all(void **state)
{
	struct tu_task_result r;
	const char           *in5[] = {
	              "pattern", "x:*", "db", "5", "execute", "true", NULL};
	const char *all[] = {
	    "pattern", "*", "db", "6", "execute", "true", NULL};
	const char *allok[] = {"pattern", "*", "db", "6", "execute", "true",
	    "allow_all", "true", NULL};

	(void)state;
	flushall();
	assert_int_equal(tu_redis_fill(&srv, 0, "x:", 100), 0);
	assert_int_equal(tu_redis_fill(&srv, 5, "x:", 200), 0);
	assert_int_equal(tu_redis_fill(&srv, 6, "y:", 50), 0);

	run(cfg_main, "redis.delete_pattern", in5, 0, &r);
	expect(&r, "ok");
	assert_int_equal(tu_jint(r.json, "db"), 5);
	assert_int_equal(tu_jint(r.json, "deleted"), 200);
	tu_task_result_free(&r);
	assert_int_equal(dbsize(5), 0);
	assert_int_equal(dbsize(0), 100);

	/* A bare '*' needs allow_all. */
	run(cfg_main, "redis.delete_pattern", all, 0, &r);
	expect_error(&r, "allow_all");
	tu_task_result_free(&r);
	assert_int_equal(dbsize(6), 50);
	run(cfg_main, "redis.delete_pattern", allok, 0, &r);
	expect(&r, "ok");
	assert_int_equal(tu_jint(r.json, "deleted"), 50);
	tu_task_result_free(&r);
	assert_int_equal(dbsize(6), 0);
	assert_int_equal(dbsize(0), 100);
}

static void
test_redis_delete_hostile(void **state)
{
	struct tu_task_result r;
	char                  longpat[300], out[64];
	const char           *oddkey[] = {"SET", "odd key\r\nwith crlf", "v"};
	const char *stars[] = {"pattern", "***", "execute", "true", NULL};
	const char *empty[] = {"pattern", "", "execute", "true", NULL};
	const char *crlf[] = {
	    "pattern", "keep:*\r\nFLUSHALL\r\n", "execute", "true", NULL};
	const char *spaced[] = {
	    "pattern", "keep:* FLUSHALL", "execute", "true", NULL};
	const char *quoted[] = {
	    "pattern", "keep:\" \"*\" ; FLUSHDB", "execute", "true", NULL};
	const char *odd[] = {"pattern", "odd key*", NULL};
	const char *oddx[] = {"pattern", "odd key*", "execute", "true", NULL};
	const char *hugemax[] = {
	    "pattern", "keep:*", "max_keys", "100000000", NULL};
	const char *hugebatch[] = {
	    "pattern", "keep:*", "batch", "100000", NULL};
	const char *hugedb[] = {"pattern", "keep:*", "db", "99999", NULL};
	const char *negdb[] = {"pattern", "keep:*", "db", "-1", NULL};
	const char *longp[] = {"pattern", longpat, NULL};
	const char *nopat[] = {"execute", "true", NULL};
	const char *notutf8[] = {"pattern", "keep:\xff*", NULL};

	(void)state;
	flushall();
	assert_int_equal(tu_redis_fill(&srv, 0, "keep:", 100), 0);
	memset(longpat, 'a', sizeof(longpat) - 1);
	longpat[sizeof(longpat) - 1] = '\0';

	run(cfg_main, "redis.delete_pattern", stars, 0, &r);
	expect_error(&r, "allow_all");
	tu_task_result_free(&r);
	run(cfg_main, "redis.delete_pattern", empty, 0, &r);
	expect_error(&r, "pattern");
	tu_task_result_free(&r);
	run(cfg_main, "redis.delete_pattern", nopat, 0, &r);
	expect_error(&r, "pattern");
	tu_task_result_free(&r);
	run(cfg_main, "redis.delete_pattern", crlf, 0, &r);
	expect_error(&r, "pattern");
	tu_task_result_free(&r);
	run(cfg_main, "redis.delete_pattern", longp, 0, &r);
	expect_error(&r, "pattern");
	tu_task_result_free(&r);
	run(cfg_main, "redis.delete_pattern", notutf8, 0, &r);
	expect_error(&r, "UTF-8");
	tu_task_result_free(&r);
	assert_int_equal(dbsize(0), 100);

	/* Protocol-looking text is one literal pattern: it matches nothing. */
	run(cfg_main, "redis.delete_pattern", spaced, 0, &r);
	expect(&r, "ok");
	assert_int_equal(tu_jint(r.json, "matched"), 0);
	tu_task_result_free(&r);
	run(cfg_main, "redis.delete_pattern", quoted, 0, &r);
	expect(&r, "ok");
	assert_int_equal(tu_jint(r.json, "matched"), 0);
	tu_task_result_free(&r);
	assert_int_equal(dbsize(0), 100);

	run(cfg_main, "redis.delete_pattern", hugemax, 0, &r);
	expect_error(&r, "max_keys");
	tu_task_result_free(&r);
	run(cfg_main, "redis.delete_pattern", hugebatch, 0, &r);
	expect_error(&r, "batch");
	tu_task_result_free(&r);
	run(cfg_main, "redis.delete_pattern", hugedb, 0, &r);
	expect_error(&r, "db");
	tu_task_result_free(&r);
	run(cfg_main, "redis.delete_pattern", negdb, 0, &r);
	expect_error(&r, "db");
	tu_task_result_free(&r);

	/* A key with control bytes shows escaped and is deleted whole. */
	assert_int_equal(
	    tu_redis_cmdv(&srv, 0, 3, oddkey, out, sizeof(out)), '+');
	run(cfg_main, "redis.delete_pattern", odd, 0, &r);
	expect(&r, "ok");
	assert_int_equal(tu_jint(r.json, "matched"), 1);
	assert_string_equal(json_string_value(json_array_get(
	                        json_object_get(r.json, "samples"), 0)),
	    "odd key\\x0d\\x0awith crlf");
	tu_task_result_free(&r);
	run(cfg_main, "redis.delete_pattern", oddx, 0, &r);
	expect(&r, "ok");
	assert_int_equal(tu_jint(r.json, "deleted"), 1);
	tu_task_result_free(&r);
	assert_int_equal(dbsize(0), 100);
}

static void
test_redis_auth(void **state)
{
	struct tu_task_result r;
	char                  yaml[512], nopw[PATH_MAX], badpw[PATH_MAX];

	(void)state;
	snprintf(yaml, sizeof(yaml), "redis:\n  host: 127.0.0.1\n  port: %u\n",
	    asrv.port);
	mkcfg("nopw", yaml, nopw, sizeof(nopw));
	snprintf(yaml, sizeof(yaml),
	    "redis:\n  host: 127.0.0.1\n  port: %u\n"
	    "  password: wrong-pw-XYZ\n",
	    asrv.port);
	mkcfg("badpw", yaml, badpw, sizeof(badpw));

	run(nopw, "redis.memory", NULL, 0, &r);
	expect_error(&r, "NOAUTH");
	assert_non_null(strstr(r.error, "redis.password"));
	tu_task_result_free(&r);

	run(badpw, "redis.memory", NULL, 0, &r);
	expect_error(&r, "AUTH");
	assert_non_null(strstr(r.error, "redis.password"));
	/* The password itself is never repeated. */
	assert_null(strstr(r.error, "wrong-pw-XYZ"));
	assert_null(strstr(r.summary, "wrong-pw-XYZ"));
	tu_task_result_free(&r);

	run(cfg_auth, "redis.memory", NULL, 0, &r);
	expect(&r, "ok");
	tu_task_result_free(&r);
}

static void
test_redis_unix_socket(void **state)
{
	struct tu_task_result r;
	char                  yaml[PATH_MAX + 128], cfg[PATH_MAX], url[64];

	(void)state;
	/* host and port lead nowhere: only the socket can answer. */
	tu_loopback_url(url, sizeof(url));
	snprintf(yaml, sizeof(yaml),
	    "redis:\n  socket: %s\n  host: 127.0.0.1\n  port: %s\n", srv.socket,
	    strrchr(url, ':') + 1);
	mkcfg("sock", yaml, cfg, sizeof(cfg));
	run(cfg, "redis.memory", NULL, 0, &r);
	expect(&r, "ok");
	assert_true(tu_jint(r.json, "used_memory") > 0);
	tu_task_result_free(&r);
}

static void
test_redis_server_down(void **state)
{
	struct tu_task_result r;
	char                  yaml[PATH_MAX + 128], cfg[PATH_MAX], url[64];
	char                  gone[PATH_MAX];

	(void)state;
	tu_loopback_url(url, sizeof(url));
	snprintf(yaml, sizeof(yaml), "redis:\n  host: 127.0.0.1\n  port: %s\n",
	    strrchr(url, ':') + 1);
	mkcfg("down", yaml, cfg, sizeof(cfg));
	run(cfg, "redis.persistence", NULL, 0, &r);
	expect_error(&r, "cannot connect to Redis at 127.0.0.1:");
	assert_non_null(strstr(r.error, "refused"));
	tu_task_result_free(&r);

	snprintf(gone, sizeof(gone), "%s/nosuch.sock", dir);
	snprintf(yaml, sizeof(yaml), "redis:\n  socket: %s\n", gone);
	mkcfg("nosock", yaml, cfg, sizeof(cfg));
	run(cfg, "redis.memory", NULL, 0, &r);
	expect_error(&r, "unix socket");
	tu_task_result_free(&r);
}

/*
 * A hostile server: answers every read on a connection with reply, the
 * bytes a real Redis never sends.
 */
struct hostile {
	int         lfd;
	unsigned    port;
	const char *reply;
	size_t      len;
	pthread_t   th;
};

static void *
hostile_main(void *arg)
{
	struct hostile *h = arg;
	char            buf[4096];
	int             fd;
	size_t          off;
	ssize_t         n;

	while ((fd = accept(h->lfd, NULL, NULL)) != -1) {
		while (read(fd, buf, sizeof(buf)) > 0) {
			for (off = 0; off < h->len; off += (size_t)n)
				if ((n = write(fd, h->reply + off,
				         h->len - off)) <= 0)
					break;
		}
		close(fd);
	}
	return (NULL);
}

static void
hostile_start(struct hostile *h, const char *reply, size_t len)
{
	struct sockaddr_in sin;
	socklen_t          sl = sizeof(sin);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	h->reply = reply;
	h->len = len;
	assert_true((h->lfd = socket(AF_INET, SOCK_STREAM, 0)) != -1);
	assert_int_equal(bind(h->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(h->lfd, 8), 0);
	assert_int_equal(getsockname(h->lfd, (struct sockaddr *)&sin, &sl), 0);
	h->port = ntohs(sin.sin_port);
	assert_int_equal(pthread_create(&h->th, NULL, hostile_main, h), 0);
}

static void
hostile_stop(struct hostile *h)
{
	shutdown(h->lfd, SHUT_RDWR);
	close(h->lfd);
	pthread_join(h->th, NULL);
}

/*
 * Run module (redis.memory when NULL) with params kv against a server
 * that answers with reply, with redis.password set to password when it
 * is not NULL.
 */
static void
hostile_run_mod(const char *name, const char *reply, size_t len,
    const char *password, const char *module, const char *const *kv,
    struct tu_task_result *r)
{
	struct hostile h;
	char           yaml[256], cfg[PATH_MAX];

	hostile_start(&h, reply, len);
	snprintf(yaml, sizeof(yaml),
	    "redis:\n  host: 127.0.0.1\n  port: %u\n%s%s%s", h.port,
	    password != NULL ? "  password: " : "",
	    password != NULL ? password : "", password != NULL ? "\n" : "");
	mkcfg(name, yaml, cfg, sizeof(cfg));
	run(cfg, module != NULL ? module : "redis.memory", kv, 0, r);
	hostile_stop(&h);
}

static void
hostile_run(const char *name, const char *reply, size_t len,
    const char *password, struct tu_task_result *r)
{
	hostile_run_mod(name, reply, len, password, NULL, NULL, r);
}

/* body as a RESP bulk string (free). */
static char *
bulk(const char *body, size_t *len)
{
	size_t blen = strlen(body);
	char  *s;

	assert_non_null(s = malloc(blen + 32));
	*len = (size_t)snprintf(s, 32, "$%zu\r\n", blen);
	memcpy(s + *len, body, blen);
	memcpy(s + *len + blen, "\r\n", 2);
	*len += blen + 2;
	return (s);
}

static void
test_redis_hostile_replies(void **state)
{
	struct tu_task_result r;
	const char           *notnum = "# Memory\r\nused_memory:12ab\r\n"
	                               "used_memory_rss:1\r\nused_memory_peak:1"
	                               "\r\nmaxmemory:0\r\nmaxmemory_policy:x\r\n";
	const char           *unknown =
	    "# Memory\r\nwhat is this\r\n:::\r\nused_memory:100\r\n"
	    "used_memory_rss:200\r\nused_memory_peak:300\r\nmaxmemory:0\r\n"
	    "maxmemory_policy:noeviction\r\nnew_field:7\r\n";
	const char *echo = "-ERR no such password: hunter2-XYZ\r\n";
	char       *reply, *huge;
	size_t      len, i, hlen = 1024 * 1024;

	(void)state;
	/* An integer where INFO sends a bulk string. */
	hostile_run("h-type", ":42\r\n", 5, NULL, &r);
	expect_error(&r, "unexpected integer reply");
	tu_task_result_free(&r);

	/* A figure that is not a number. */
	reply = bulk(notnum, &len);
	hostile_run("h-num", reply, len, NULL, &r);
	expect_error(&r, "used_memory is not a number");
	tu_task_result_free(&r);
	free(reply);

	/* A figure beyond what a signed 64-bit number holds. */
	reply = bulk("used_memory:18446744073709551615\r\n", &len);
	hostile_run("h-big", reply, len, NULL, &r);
	expect_error(&r, "used_memory is not a number");
	tu_task_result_free(&r);
	free(reply);

	/* A text value with a control byte. */
	reply = bulk("used_memory:1\r\nused_memory_rss:1\r\n"
	             "used_memory_peak:1\r\nmaxmemory:0\r\n"
	             "maxmemory_policy:no\x1b[2Jeviction\r\n",
	    &len);
	hostile_run("h-ctl", reply, len, NULL, &r);
	expect_error(&r, "maxmemory_policy is not printable");
	tu_task_result_free(&r);
	free(reply);

	/* Lines it does not know are skipped. */
	reply = bulk(unknown, &len);
	hostile_run("h-unknown", reply, len, NULL, &r);
	expect(&r, "ok");
	assert_int_equal(tu_jint(r.json, "used_memory"), 100);
	assert_int_equal(tu_jint(r.json, "used_memory_rss"), 200);
	tu_task_result_free(&r);
	free(reply);

	/* A reply type byte Redis never sends, control byte and all. */
	hostile_run("h-proto", "\x01junk\r\n", 7, NULL, &r);
	expect_error(&r, "Protocol error");
	assert_null(strchr(r.error, '\x01'));
	tu_task_result_free(&r);

	/* A server that never answers: the command times out. */
	hostile_run("h-mute", "", 0, NULL, &r);
	expect_error(&r, "no reply within");
	tu_task_result_free(&r);

	/* An error reply that repeats the password is not quoted. */
	hostile_run("h-echo", echo, strlen(echo), "hunter2-XYZ", &r);
	expect_error(&r, "AUTH");
	assert_null(strstr(r.error, "hunter2-XYZ"));
	assert_null(strstr(r.summary, "hunter2-XYZ"));
	tu_task_result_free(&r);

	/* An INFO reply over the cap (1 MiB of lines) is refused. */
	assert_non_null(huge = malloc(hlen + 1));
	for (i = 0; i < hlen; i++)
		huge[i] = i % 64 == 63 ? '\n' : 'a';
	huge[hlen] = '\0';
	reply = bulk(huge, &len);
	hostile_run("h-huge", reply, len, NULL, &r);
	expect_error(&r, "the cap is");
	tu_task_result_free(&r);
	free(reply);
	free(huge);
}

static void
test_redis_hostile_scan(void **state)
{
	struct tu_task_result r;
	const char           *kv[] = {"pattern", "a*", "execute", "true", NULL};
	const char           *intcur = "*2\r\n:5\r\n*0\r\n";
	const char           *badcur = "*2\r\n$2\r\nab\r\n*0\r\n";
	const char           *one = "*1\r\n$1\r\n0\r\n";
	const char           *intkey = "*2\r\n$1\r\n0\r\n*1\r\n:7\r\n";

	(void)state;
	hostile_run_mod("s-intcur", intcur, strlen(intcur), NULL,
	    "redis.delete_pattern", kv, &r);
	expect_error(&r, "SCAN: malformed reply");
	tu_task_result_free(&r);
	hostile_run_mod("s-badcur", badcur, strlen(badcur), NULL,
	    "redis.delete_pattern", kv, &r);
	expect_error(&r, "SCAN: malformed reply");
	tu_task_result_free(&r);
	hostile_run_mod(
	    "s-one", one, strlen(one), NULL, "redis.delete_pattern", kv, &r);
	expect_error(&r, "SCAN: malformed reply");
	tu_task_result_free(&r);
	hostile_run_mod("s-intkey", intkey, strlen(intkey), NULL,
	    "redis.delete_pattern", kv, &r);
	expect_error(&r, "not a bulk string");
	tu_task_result_free(&r);
}

static int
setup(void **state)
{
	struct tu_redis_opts plain = {.unixsocket = 1};
	struct tu_redis_opts locked = {
	    .password = PASSWORD, .dbfilename = "blocker.rdb"};
	char yaml[512];

	(void)state;
	if (tu_redis_start(&srv, &plain) == -1)
		return (-1);
	if (tu_redis_start(&asrv, &locked) == -1)
		return (-1);
	snprintf(yaml, sizeof(yaml), "redis:\n  host: 127.0.0.1\n  port: %u\n",
	    srv.port);
	mkcfg("main", yaml, cfg_main, sizeof(cfg_main));
	snprintf(yaml, sizeof(yaml),
	    "redis:\n  host: 127.0.0.1\n  port: %u\n  password: %s\n",
	    asrv.port, PASSWORD);
	mkcfg("auth", yaml, cfg_auth, sizeof(cfg_auth));
	return (0);
}

static int
teardown(void **state)
{
	(void)state;
	tu_redis_stop(&srv);
	tu_redis_stop(&asrv);
	return (0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_redis_memory_figures),
	    cmocka_unit_test(test_redis_memory_maxmemory_thresholds),
	    cmocka_unit_test(test_redis_memory_fragmentation),
	    cmocka_unit_test(test_redis_memory_bad_params),
	    cmocka_unit_test(test_redis_persistence_and_bgsave),
	    cmocka_unit_test(test_redis_bgsave_already_running),
	    cmocka_unit_test(test_redis_bgsave_failure),
	    cmocka_unit_test(test_redis_purge),
	    cmocka_unit_test(test_redis_delete_count_then_execute),
	    cmocka_unit_test(test_redis_delete_db_and_allow_all),
	    cmocka_unit_test(test_redis_delete_hostile),
	    cmocka_unit_test(test_redis_auth),
	    cmocka_unit_test(test_redis_unix_socket),
	    cmocka_unit_test(test_redis_server_down),
	    cmocka_unit_test(test_redis_hostile_replies),
	    cmocka_unit_test(test_redis_hostile_scan),
	};
	tu_task_bin(VSM_TASK_DIR, "vsm-task-redis", bin, sizeof(bin));
	return (
	    tu_task_main_fx("modredis", tests, sizeof(tests) / sizeof(tests[0]),
	        setup, teardown, dir, sizeof(dir)));
}
