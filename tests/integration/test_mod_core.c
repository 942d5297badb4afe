/*
 * test_mod_core.c: the module plumbing every family builds on: the agent's
 * config reaches the task child (TaskSpawn.config_path, task_config) and
 * the module tests' harness (tests/support/task) runs a real task.
 */
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

static char dir[PATH_MAX];

static void
test_core_task_runs(void **state)
{
	struct tu_task_result r;
	char                  cfg[PATH_MAX];
	const char *kv[] = {"warn_pct", "99", "fail_pct", "100", NULL};

	(void)state;
	assert_int_equal(tu_task_config(dir, NULL, cfg, sizeof(cfg)), 0);
	assert_int_equal(
	    tu_task_run(VSM_TASK_PATH, cfg, "sys.disk", kv, 0, &r), 0);
	assert_string_equal(tu_task_status(r.status), "ok");
	assert_non_null(r.json);
	assert_non_null(json_object_get(r.json, "mounts"));
	tu_task_result_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_core_task_runs),
	};
	int rc;

	snprintf(dir, sizeof(dir), "/tmp/vsm-modcore-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return (1);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (rc == 0 && tu_rmtree(dir) == -1)
		rc = 1;
	return (rc);
}
