/*
 * test_mod_core.c: the module plumbing every family builds on: the agent's
 * config reaches the task child (TaskSpawn.config_path, task_config) and
 * the module tests' harness (tests/support/task) runs a real task, and the
 * runner starts each module with the task binary that lists it.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "runner.h"
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

struct one_result {
	int  done;
	int  status;
	char error[256];
};

static void
one_cb(void *arg, const Vsm__TaskEvent *ev)
{
	struct one_result *r = arg;

	if (ev->kind_case != VSM__TASK_EVENT__KIND_RESULT)
		return;
	r->status = ev->result->status;
	snprintf(r->error, sizeof(r->error), "%s", ev->result->error);
	__atomic_store_n(&r->done, 1, __ATOMIC_SEQ_CST);
}

/*
 * A family binary beside the core (here vsm-task-test under the name
 * vsm-task-http) runs the modules only it lists; the core runs the rest,
 * and runner_modules offers both.
 */
static void
test_family_binary_runs_its_modules(void **state)
{
	struct runner_config cfg;
	struct one_result    res;
	struct runner       *r;
	struct vsm_err       err;
	Vsm__Task            t = VSM__TASK__INIT;
	char                 fam[PATH_MAX + 8], link[PATH_MAX + 32];
	char *const         *mods;
	size_t               n, i;
	int                  seen = 0, k;

	(void)state;
	snprintf(fam, sizeof(fam), "%s/fam", dir);
	assert_int_equal(mkdir(fam, 0700), 0);
	snprintf(link, sizeof(link), "%s/vsm-task-http", fam);
	assert_int_equal(symlink(VSM_TASK_TEST_PATH, link), 0);
	memset(&cfg, 0, sizeof(cfg));
	cfg.task_path = VSM_TASK_PATH;
	cfg.task_dir = fam;
	r = runner_new(&cfg, &err);
	assert_non_null(r);
	n = runner_modules(r, &mods);
	for (i = 0; i < n; i++)
		seen += strcmp(mods[i], "test.limits") == 0 ||
		    strcmp(mods[i], "sys.ping") == 0;
	assert_int_equal(seen, 2);
	/* test.limits exists only in the family binary: it must run there. */
	t.id = "fam-1";
	t.module = "test.limits";
	memset(&res, 0, sizeof(res));
	assert_int_equal(runner_start(r, &t, NULL, one_cb, &res, &err), 0);
	for (k = 0; k < 6000 && !__atomic_load_n(&res.done, __ATOMIC_SEQ_CST);
	     k++)
		usleep(10000);
	assert_true(res.done);
	assert_null(strstr(res.error, "unknown module"));
	runner_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_core_task_runs),
	    cmocka_unit_test(test_family_binary_runs_its_modules),
	};
	return (tu_task_main("modcore", tests, sizeof(tests) / sizeof(tests[0]),
	    dir, sizeof(dir)));
}
