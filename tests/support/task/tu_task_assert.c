/*
 * tu_task_assert.c: the cmocka helpers the module tests share (tu_task.h):
 * files in a test's directory, result fields, expected refusals, and the
 * main that runs a group in a temporary directory.
 */
#include <sys/stat.h>

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"
#include "tu_task.h"

const char *
tu_path(const char *dir, const char *fmt, ...)
{
	static char buf[16][PATH_MAX];
	static int  k;
	char        rel[PATH_MAX / 2];
	va_list     ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	k = (k + 1) % 16;
	if ((size_t)snprintf(buf[k], sizeof(buf[k]), "%.*s/%s", PATH_MAX / 4,
	        dir, rel) >= sizeof(buf[k]))
		fail_msg("path too long");
	return (buf[k]);
}

/* The value at key of o; the test fails when there is none. */
static json_t *
tu_jget(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL)
		fail_msg("no '%s' in the result", key);
	return (v);
}

int64_t
tu_jint(json_t *o, const char *key)
{
	json_t *v = tu_jget(o, key);

	if (!json_is_integer(v))
		fail_msg("'%s' is not an integer", key);
	return ((int64_t)json_integer_value(v));
}

double
tu_jnum(json_t *o, const char *key)
{
	json_t *v = tu_jget(o, key);

	if (!json_is_number(v))
		fail_msg("'%s' is not a number", key);
	return (json_number_value(v));
}

int
tu_jbool(json_t *o, const char *key)
{
	json_t *v = tu_jget(o, key);

	if (!json_is_boolean(v))
		fail_msg("'%s' is not a boolean", key);
	return (json_is_true(v));
}

const char *
tu_jtext(json_t *o, const char *key)
{
	json_t *v = tu_jget(o, key);

	if (!json_is_string(v))
		fail_msg("'%s' is not a string", key);
	return (json_string_value(v));
}

void
tu_task_expect_error(const char *bin, const char *cfg, const char *module,
    const char *const *kv, const char *needle)
{
	struct tu_task_result r;

	assert_int_equal(tu_task_run(bin, cfg, module, kv, 0, &r), 0);
	assert_string_equal(tu_task_status(r.status), "error");
	assert_non_null(r.error);
	if (strstr(r.error, needle) == NULL)
		fail_msg("error '%s' lacks '%s'", r.error, needle);
	tu_task_result_free(&r);
}

int
tu_task_main(const char *name, const struct CMUnitTest *tests, size_t n,
    char *dir, size_t len)
{
	return (tu_task_main_fx(name, tests, n, NULL, NULL, dir, len));
}

int
tu_task_main_fx(const char *name, const struct CMUnitTest *tests, size_t n,
    tu_fixture_fn setup, tu_fixture_fn teardown, char *dir, size_t len)
{
	int rc;

	if (tu_mkdtemp(dir, len, name) == -1)
		return (1);
	rc = _cmocka_run_group_tests(name, tests, n, setup, teardown);
	if (rc == 0 && tu_rmtree(dir) == -1)
		rc = 1;
	return (rc);
}
