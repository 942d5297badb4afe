/*
 * test_mod_edges.c: edge cases of the task modules through the real
 * runner: logs.scan on a file whose name is not UTF-8 and on more
 * matching files than the result lists, cert.check on a FIFO under
 * certs.dirs (must end promptly, not wait for a writer).
 */
#include <sys/stat.h>

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

static void
config(const char *extra, char *cfg)
{
	assert_int_equal(tu_task_config(dir, extra, cfg, PATH_MAX), 0);
}

/* A file named "bad\xff.log": counted, its name cleaned, no error. */
static void
test_scan_name_not_utf8(void **state)
{
	struct tu_task_result r;
	char                  cfg[PATH_MAX], y[PATH_MAX * 2];
	const char           *name;
	json_t               *f;

	(void)state;
	assert_int_equal(mkdir(P("utf"), 0700), 0);
	tu_put(P("utf/bad\xff.log"), "all fine\nan error here\n", 0);
	snprintf(y, sizeof(y), "logs:\n  dirs: [%s]\n", P("utf"));
	config(y, cfg);
	assert_int_equal(
	    tu_task_run(VSM_TASK_PATH, cfg, "logs.scan", NULL, 0, &r), 0);
	assert_true(strcmp(tu_task_status(r.status), "ok") == 0 ||
	    strcmp(tu_task_status(r.status), "warn") == 0);
	assert_non_null(r.json);
	assert_int_equal(tu_jint(r.json, "matches"), 1);
	assert_int_equal(tu_jint(r.json, "files_matched"), 1);
	f = json_array_get(json_object_get(r.json, "files"), 0);
	assert_non_null(f);
	name = tu_jtext(f, "path");
	assert_non_null(strstr(name, "bad?.log"));
	assert_int_equal(tu_jint(f, "matches"), 1);
	tu_task_result_free(&r);
}

/* 300 matching files: all counted, the list capped and saying so. */
static void
test_scan_many_files_listed_capped(void **state)
{
	static const char *const kv[] = {"fail", "1000", NULL};
	struct tu_task_result    r;
	char                     cfg[PATH_MAX], y[PATH_MAX * 2];
	size_t                   listed;
	int                      i;

	(void)state;
	assert_int_equal(mkdir(P("many"), 0700), 0);
	for (i = 0; i < 300; i++)
		tu_put(P("many/f%03d.log", i), "error\n", 0);
	tu_put(P("many/quiet.log"), "all fine\n", 0);
	snprintf(y, sizeof(y), "logs:\n  dirs: [%s]\n", P("many"));
	config(y, cfg);
	assert_int_equal(
	    tu_task_run(VSM_TASK_PATH, cfg, "logs.scan", kv, 0, &r), 0);
	assert_string_equal(tu_task_status(r.status), "warn");
	assert_non_null(r.json);
	assert_int_equal(tu_jint(r.json, "matches"), 300);
	assert_int_equal(tu_jint(r.json, "files_scanned"), 301);
	assert_int_equal(tu_jint(r.json, "files_matched"), 300);
	assert_true(tu_jbool(r.json, "files_listed_capped"));
	listed = json_array_size(json_object_get(r.json, "files"));
	assert_true(listed > 0 && listed < 300);
	assert_non_null(strstr(r.summary, "300"));
	tu_task_result_free(&r);

	/* Under the cap: not capped. */
	for (i = 10; i < 300; i++)
		assert_int_equal(unlink(P("many/f%03d.log", i)), 0);
	assert_int_equal(
	    tu_task_run(VSM_TASK_PATH, cfg, "logs.scan", kv, 0, &r), 0);
	assert_int_equal(tu_jint(r.json, "matches"), 10);
	assert_false(tu_jbool(r.json, "files_listed_capped"));
	assert_int_equal(json_array_size(json_object_get(r.json, "files")), 10);
	tu_task_result_free(&r);
}

/* A FIFO under certs.dirs: an error at once, not a wait for a writer. */
static void
test_cert_fifo_ends_promptly(void **state)
{
	struct tu_task_result r;
	char                  cfg[PATH_MAX], y[PATH_MAX * 2], bin[PATH_MAX];
	const char           *kv[] = {"file", NULL, NULL};
	time_t                t0;

	(void)state;
	tu_task_bin(VSM_TASK_DIR, "vsm-task-http", bin, sizeof(bin));
	assert_int_equal(mkdir(P("certs"), 0700), 0);
	assert_int_equal(mkfifo(P("certs/pipe.pem"), 0600), 0);
	kv[1] = P("certs/pipe.pem");
	snprintf(y, sizeof(y), "certs:\n  dirs: [\"%s\"]\n", P("certs"));
	config(y, cfg);
	t0 = time(NULL);
	assert_int_equal(tu_task_run(bin, cfg, "cert.check", kv, 0, &r), 0);
	assert_string_equal(tu_task_status(r.status), "error");
	assert_non_null(r.error);
	assert_non_null(strstr(r.error, "not a regular file"));
	assert_true(time(NULL) - t0 < 10);
	tu_task_result_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scan_name_not_utf8),
	    cmocka_unit_test(test_scan_many_files_listed_capped),
	    cmocka_unit_test(test_cert_fifo_ends_promptly),
	};
	return (tu_task_main("modedges", tests,
	    sizeof(tests) / sizeof(tests[0]), dir, sizeof(dir)));
}
