/*
 * test_mod_logs.c: logs.scan, logs.rotate, logs.clean and cert.renew in
 * the real vsm-task on real files in a temporary directory, with the real
 * /usr/sbin/logrotate; certbot is a script standing in (none installed).
 * The hostile cases: "..", symlinks out of the allowed directories (named
 * and found while walking), a directory swapped for a symlink, huge and
 * bad patterns, logs.clean with no clean_dirs, a dry run that deletes.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"
#include "tu_task.h"

static char dir[PATH_MAX];

#define P(...) tu_path(dir, __VA_ARGS__)

/*
 * Set path's access and modification times to `seconds` ago (a symlink
 * itself, not its target); the test fails when it cannot.
 */
static void
age(const char *path, long seconds)
{
	struct timespec ts[2];

	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= seconds;
	ts[1] = ts[0];
	assert_int_equal(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static int
exists(const char *path)
{
	struct stat st;

	return (lstat(path, &st) == 0);
}

/* A syslog timestamp seconds ago: "May  1 12:00:00". */
static const char *
stamp(long seconds)
{
	static char buf[4][32];
	static int  k;
	time_t      t = time(NULL) - seconds;
	struct tm   tm;

	k = (k + 1) % 4;
	localtime_r(&t, &tm);
	strftime(buf[k], sizeof(buf[k]), "%b %e %H:%M:%S", &tm);
	return (buf[k]);
}

/* Run module with config cfg; the result in r. */
static void
run(const char *cfg, const char *module, const char *const *kv, int dry,
    struct tu_task_result *r)
{
	assert_int_equal(
	    tu_task_run(VSM_TASK_PATH, cfg, module, kv, dry, r), 0);
}

static void
config(const char *extra, char *cfg)
{
	assert_int_equal(tu_task_config(dir, extra, cfg, PATH_MAX), 0);
}

/* logs/ (allowed) and outside/ (not), with lines to find in both. */
static void
scan_tree(void)
{
	char text[2048];

	mkdir(P("logs"), 0700);
	mkdir(P("logs/sub"), 0700);
	mkdir(P("outside"), 0700);
	snprintf(text, sizeof(text),
	    "%s host app[1]: ERROR old, before since\n"
	    "%s host app[1]: started\n"
	    "%s host app[1]: error: disk\n"
	    "%s host app[1]: kernel panic\n"
	    "no timestamp, Fatal thing\n"
	    "all fine\n",
	    stamp(3 * 86400), stamp(600), stamp(500), stamp(400));
	tu_put(P("logs/app.log"), text, 0);
	tu_put(P("logs/old.log"), "error in a file nobody wrote lately\n", 0);
	age(P("logs/old.log"), 3 * 86400);
	tu_put(P("logs/sub/deep.log"), "error one level down\n", 0);
	tu_put(P("logs/app.log.2.gz"), "error, compressed\n", 0);
	tu_put(P("outside/secret.log"), "error\nerror\nerror\n", 0);
	unlink(P("logs/link.log"));
	assert_int_equal(
	    symlink(P("outside/secret.log"), P("logs/link.log")), 0);
}

static void
test_scan_counts_recent_matches(void **state)
{
	static const char *const kv[] = {"warn", "2", "fail", "10", NULL};
	static const char *const cs[] = {"case_sensitive", "true", NULL};
	static const char *const deep[] = {"depth", "1", NULL};
	struct tu_task_result    r;
	char                     cfg[PATH_MAX], y[PATH_MAX * 2];
	json_t                  *f;

	(void)state;
	scan_tree();
	snprintf(y, sizeof(y), "logs:\n  dirs: [%s]\n", P("logs"));
	config(y, cfg);
	run(cfg, "logs.scan", kv, 0, &r);
	assert_string_equal(tu_task_status(r.status), "warn");
	assert_non_null(r.json);
	/* error: disk, panic, Fatal; not the stale line, not old.log. */
	assert_int_equal(tu_jint(r.json, "matches"), 3);
	assert_int_equal(tu_jint(r.json, "files_scanned"), 1);
	assert_int_equal(tu_jint(r.json, "files_skipped_old"), 1);
	assert_int_equal(tu_jint(r.json, "lines_before_since"), 1);
	assert_int_equal(tu_jint(r.json, "files_skipped_compressed"), 1);
	/* The symlink out was seen and not followed. */
	assert_int_equal(tu_jint(r.json, "symlinks_skipped"), 1);
	f = json_array_get(json_object_get(r.json, "files"), 0);
	assert_non_null(f);
	assert_int_equal(json_array_size(json_object_get(f, "samples")), 3);
	tu_task_result_free(&r);

	run(cfg, "logs.scan", cs, 0, &r);
	assert_int_equal(tu_jint(r.json, "matches"), 2); /* not "Fatal" */
	tu_task_result_free(&r);

	run(cfg, "logs.scan", deep, 0, &r);
	assert_int_equal(tu_jint(r.json, "matches"), 4); /* + sub/deep.log */
	tu_task_result_free(&r);
}

static void
test_scan_refuses_paths_out(void **state)
{
	char cfg[PATH_MAX], y[PATH_MAX * 2], up[PATH_MAX];

	(void)state;
	scan_tree();
	snprintf(y, sizeof(y), "logs:\n  dirs: [%s]\n", P("logs"));
	config(y, cfg);
	{
		const char *kv[] = {"path", P("outside/secret.log"), NULL};
		tu_task_expect_error(
		    VSM_TASK_PATH, cfg, "logs.scan", kv, "not under");
	}
	{ /* a symlink inside pointing out */
		const char *kv[] = {"path", P("logs/link.log"), NULL};
		tu_task_expect_error(
		    VSM_TASK_PATH, cfg, "logs.scan", kv, "not under");
	}
	{ /* ".." is refused as a parameter */
		snprintf(up, sizeof(up), "%s/../outside/secret.log", P("logs"));
		const char *kv[] = {"path", up, NULL};
		tu_task_expect_error(
		    VSM_TASK_PATH, cfg, "logs.scan", kv, "'path'");
	}
	{ /* a directory swapped for a symlink out */
		unlink(P("logs/swapped"));
		assert_int_equal(symlink(P("outside"), P("logs/swapped")), 0);
		const char *kv[] = {"path", P("logs/swapped"), NULL};
		tu_task_expect_error(
		    VSM_TASK_PATH, cfg, "logs.scan", kv, "not under");
		const char           *kv2[] = {"depth", "2", NULL};
		struct tu_task_result r;
		run(cfg, "logs.scan", kv2, 0, &r);
		assert_string_equal(tu_task_status(r.status), "warn");
		/* Neither link is followed: outside's 3 errors not seen. */
		assert_int_equal(tu_jint(r.json, "matches"), 4);
		assert_int_equal(tu_jint(r.json, "symlinks_skipped"), 2);
		tu_task_result_free(&r);
		unlink(P("logs/swapped"));
	}
}

static void
test_scan_refuses_bad_patterns(void **state)
{
	static const char *const bad[] = {"pattern", "(unclosed", NULL};
	static const char *const backref[] = {"pattern", "(a*)*\\1", NULL};
	static const char *const thr[] = {"warn", "10", "fail", "5", NULL};
	char                     cfg[PATH_MAX], y[PATH_MAX * 2], huge[2000];

	(void)state;
	scan_tree();
	snprintf(y, sizeof(y), "logs:\n  dirs: [%s]\n", P("logs"));
	config(y, cfg);
	tu_task_expect_error(
	    VSM_TASK_PATH, cfg, "logs.scan", bad, "parameter 'pattern'");
	tu_task_expect_error(
	    VSM_TASK_PATH, cfg, "logs.scan", backref, "back-references");
	tu_task_expect_error(VSM_TASK_PATH, cfg, "logs.scan", thr, "'warn'");
	memset(huge, 'a', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	{
		const char *kv[] = {"pattern", huge, NULL};
		tu_task_expect_error(
		    VSM_TASK_PATH, cfg, "logs.scan", kv, "'pattern'");
	}
}

/* A file over max_bytes: only its newest bytes are read, and it says so. */
static void
test_scan_byte_cap_reads_the_tail(void **state)
{
	static const char *const kv[] = {
	    "max_bytes", "4KiB", "path", NULL, NULL};
	struct tu_task_result r;
	const char           *k2[5];
	char                  cfg[PATH_MAX], y[PATH_MAX * 2];
	FILE                 *f;
	int                   i;

	(void)state;
	mkdir(P("big"), 0700);
	assert_non_null(f = fopen(P("big/big.log"), "w"));
	for (i = 0; i < 20000; i++)
		fprintf(f, "line %05d ok\n", i);
	fprintf(f, "the last line is an error\n");
	fclose(f);
	snprintf(y, sizeof(y), "logs:\n  dirs: [%s]\n", P("big"));
	config(y, cfg);
	memcpy(k2, kv, sizeof(k2));
	k2[3] = P("big/big.log");
	run(cfg, "logs.scan", k2, 0, &r);
	assert_string_equal(tu_task_status(r.status), "warn");
	assert_int_equal(tu_jint(r.json, "matches"), 1);
	assert_true(json_is_true(json_object_get(r.json, "capped")));
	assert_true(tu_jint(r.json, "bytes_read") <= 4096);
	tu_task_result_free(&r);
}

static void
test_rotate_runs_logrotate(void **state)
{
	struct tu_task_result r;
	char                  cfg[PATH_MAX], y[PATH_MAX * 4], conf[1024];

	(void)state;
	mkdir(P("rot"), 0700);
	tu_put(P("rot/app.log"), "some lines\nto rotate\n", 0);
	snprintf(conf, sizeof(conf),
	    "%s {\n  rotate 2\n  size 1\n  missingok\n}\n", P("rot/app.log"));
	tu_put(P("rot.conf"), conf, 0644);

	/* No allowlist entry: a clear error. */
	config(NULL, cfg);
	tu_task_expect_error(
	    VSM_TASK_PATH, cfg, "logs.rotate", NULL, "no command 'logrotate'");

	snprintf(y, sizeof(y),
	    "commands:\n  logrotate: [/usr/sbin/logrotate, -s, %s, %s]\n",
	    P("rot.state"), P("rot.conf"));
	config(y, cfg);
	run(cfg, "logs.rotate", NULL, 1, &r);
	assert_string_equal(tu_task_status(r.status), "ok");
	assert_true(json_is_true(json_object_get(r.json, "dry_run")));
	assert_int_equal(json_array_size(json_object_get(r.json, "argv")), 4);
	assert_false(exists(P("rot/app.log.1")));
	tu_task_result_free(&r);

	run(cfg, "logs.rotate", NULL, 0, &r);
	assert_string_equal(tu_task_status(r.status), "ok");
	assert_int_equal(tu_jint(r.json, "exit_code"), 0);
	assert_true(exists(P("rot/app.log.1")));
	tu_task_result_free(&r);

	/* A config logrotate rejects: exit 1, fail. */
	tu_put(P("rot.conf"), "rotate x\n", 0644);
	run(cfg, "logs.rotate", NULL, 0, &r);
	assert_string_equal(tu_task_status(r.status), "fail");
	assert_int_not_equal(tu_jint(r.json, "exit_code"), 0);
	tu_task_result_free(&r);
}

static void
clean_tree(void)
{
	mkdir(P("clean"), 0700);
	mkdir(P("clean/sub"), 0700);
	mkdir(P("keep"), 0700);
	tu_put(P("clean/old.log"), "0123456789", 0);
	tu_put(P("clean/old.txt"), "x", 0);
	tu_put(P("clean/new.log"), "x", 0);
	tu_put(P("clean/sub/older.log"), "01234", 0);
	tu_put(P("keep/precious.log"), "x", 0);
	tu_put(P("keep/other.log"), "x", 0);
	age(P("clean/old.log"), 40 * 86400);
	age(P("clean/old.txt"), 40 * 86400);
	age(P("clean/sub/older.log"), 50 * 86400);
	age(P("keep/precious.log"), 40 * 86400);
	age(P("keep/other.log"), 40 * 86400);
	/* A symlink to an old file outside, and a directory out. */
	unlink(P("clean/link.log"));
	unlink(P("clean/outdir"));
	assert_int_equal(
	    symlink(P("keep/precious.log"), P("clean/link.log")), 0);
	assert_int_equal(symlink(P("keep"), P("clean/outdir")), 0);
}

static void
test_clean_deletes_only_old_files_inside(void **state)
{
	static const char *const kv[] = {"glob", "*.log", NULL};
	struct tu_task_result    r;
	char                     cfg[PATH_MAX], y[PATH_MAX * 2];

	(void)state;
	clean_tree();
	/* No clean_dirs: refused, nothing touched. */
	config(NULL, cfg);
	tu_task_expect_error(
	    VSM_TASK_PATH, cfg, "logs.clean", NULL, "clean_dirs is empty");
	assert_true(exists(P("clean/old.log")));

	snprintf(y, sizeof(y), "logs:\n  clean_dirs: [%s]\n", P("clean"));
	config(y, cfg);
	/* A dry run lists and deletes nothing. */
	run(cfg, "logs.clean", kv, 1, &r);
	assert_string_equal(tu_task_status(r.status), "ok");
	assert_int_equal(tu_jint(r.json, "files"), 2);
	assert_int_equal(tu_jint(r.json, "bytes"), 15);
	assert_int_equal(
	    json_array_size(json_object_get(r.json, "samples")), 2);
	assert_true(exists(P("clean/old.log")));
	assert_true(exists(P("clean/sub/older.log")));
	tu_task_result_free(&r);

	run(cfg, "logs.clean", kv, 0, &r);
	assert_string_equal(tu_task_status(r.status), "ok");
	assert_int_equal(tu_jint(r.json, "files"), 2);
	assert_int_equal(tu_jint(r.json, "bytes"), 15);
	assert_int_equal(tu_jint(r.json, "symlinks_skipped"), 2);
	tu_task_result_free(&r);
	assert_false(exists(P("clean/old.log")));
	assert_false(exists(P("clean/sub/older.log")));
	assert_true(exists(P("clean/old.txt")));  /* glob */
	assert_true(exists(P("clean/new.log")));  /* recent */
	assert_true(exists(P("clean/link.log"))); /* symlinks left */
	assert_true(exists(P("keep/precious.log")));
	assert_true(exists(P("keep/other.log")));

	/* max_files caps a run. */
	tu_put(P("clean/a.old"), "x", 0);
	tu_put(P("clean/b.old"), "x", 0);
	age(P("clean/a.old"), 40 * 86400);
	age(P("clean/b.old"), 40 * 86400);
	{
		static const char *const one[] = {"max_files", "1", NULL};
		run(cfg, "logs.clean", one, 0, &r);
		assert_int_equal(tu_jint(r.json, "files"), 1);
		assert_true(json_is_true(json_object_get(r.json, "capped")));
		tu_task_result_free(&r);
		assert_int_equal(exists(P("clean/old.txt")) +
		        exists(P("clean/a.old")) + exists(P("clean/b.old")),
		    2);
	}
}

static void
test_clean_refuses_paths_out(void **state)
{
	static const char *const young[] = {"older_than", "1h", NULL};
	static const char *const slash[] = {"glob", "sub/*.log", NULL};
	char                     cfg[PATH_MAX], y[PATH_MAX * 2];

	(void)state;
	clean_tree();
	snprintf(y, sizeof(y), "logs:\n  clean_dirs: [%s]\n", P("clean"));
	config(y, cfg);
	tu_task_expect_error(
	    VSM_TASK_PATH, cfg, "logs.clean", young, "'older_than'");
	tu_task_expect_error(VSM_TASK_PATH, cfg, "logs.clean", slash, "'glob'");
	{
		const char *kv[] = {"path", P("keep"), NULL};
		tu_task_expect_error(
		    VSM_TASK_PATH, cfg, "logs.clean", kv, "not under");
	}
	{ /* the directory inside that is a symlink out */
		const char *kv[] = {"path", P("clean/outdir"), NULL};
		tu_task_expect_error(
		    VSM_TASK_PATH, cfg, "logs.clean", kv, "not under");
	}
	assert_true(exists(P("keep/precious.log")));
	assert_true(exists(P("keep/other.log")));
}

static void
test_cert_renew_runs_certbot(void **state)
{
	struct tu_task_result r;
	char                  cfg[PATH_MAX], y[PATH_MAX * 2];

	(void)state;
	tu_put(P("certbot"),
	    "#!/bin/sh\necho \"certbot $*\"\ntouch \"$0.ran\"\n"
	    "[ \"$1\" = renew ] || exit 1\n",
	    0755);
	config(NULL, cfg);
	tu_task_expect_error(
	    VSM_TASK_PATH, cfg, "cert.renew", NULL, "no command 'certbot'");

	snprintf(
	    y, sizeof(y), "commands:\n  certbot: [%s, renew]\n", P("certbot"));
	config(y, cfg);
	run(cfg, "cert.renew", NULL, 1, &r);
	assert_string_equal(tu_task_status(r.status), "ok");
	assert_true(json_is_true(json_object_get(r.json, "dry_run")));
	assert_false(exists(P("certbot.ran")));
	tu_task_result_free(&r);

	run(cfg, "cert.renew", NULL, 0, &r);
	assert_string_equal(tu_task_status(r.status), "ok");
	assert_true(exists(P("certbot.ran")));
	assert_true(r.nlines >= 1);
	assert_string_equal(r.lines[0], "certbot renew");
	tu_task_result_free(&r);

	snprintf(y, sizeof(y), "commands:\n  certbot: [%s, certonly]\n",
	    P("certbot"));
	config(y, cfg);
	run(cfg, "cert.renew", NULL, 0, &r);
	assert_string_equal(tu_task_status(r.status), "fail");
	assert_int_equal(tu_jint(r.json, "exit_code"), 1);
	tu_task_result_free(&r);
}

/* The entry's timeout ends a command that hangs; the task says so. */
static void
test_command_timeout(void **state)
{
	struct tu_task_result r;
	char                  cfg[PATH_MAX], y[PATH_MAX * 2];
	time_t                t0 = time(NULL);

	(void)state;
	tu_put(P("slow"), "#!/bin/sh\necho starting\nexec sleep 60\n", 0755);
	snprintf(y, sizeof(y),
	    "commands:\n  certbot:\n    argv: [%s, renew]\n    timeout: 1s\n",
	    P("slow"));
	config(y, cfg);
	run(cfg, "cert.renew", NULL, 0, &r);
	assert_string_equal(tu_task_status(r.status), "fail");
	assert_true(json_is_true(json_object_get(r.json, "timed_out")));
	assert_string_equal(
	    json_string_value(json_object_get(r.json, "signal")), "SIGKILL");
	assert_true(time(NULL) - t0 < 50); /* not the whole sleep */
	tu_task_result_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scan_counts_recent_matches),
	    cmocka_unit_test(test_scan_refuses_paths_out),
	    cmocka_unit_test(test_scan_refuses_bad_patterns),
	    cmocka_unit_test(test_scan_byte_cap_reads_the_tail),
	    cmocka_unit_test(test_rotate_runs_logrotate),
	    cmocka_unit_test(test_clean_deletes_only_old_files_inside),
	    cmocka_unit_test(test_clean_refuses_paths_out),
	    cmocka_unit_test(test_cert_renew_runs_certbot),
	    cmocka_unit_test(test_command_timeout),
	};
	return (tu_task_main("modlogs", tests, sizeof(tests) / sizeof(tests[0]),
	    dir, sizeof(dir)));
}
