/*
 * test_mod_services.c: sys.services with scripts standing in for
 * systemctl and docker compose (neither runs here) that print what the
 * real ones print: `systemctl show` blocks for the units appended to the
 * allowlisted argv, and `docker compose ps --format json` as one array
 * (older compose) or one object a line (compose 2.21+).
 */
#include <sys/stat.h>

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static void
run(const char *cfg, const char *const *kv, struct tu_task_result *r)
{
	assert_int_equal(
	    tu_task_run(VSM_TASK_PATH, cfg, "sys.services", kv, 0, r), 0);
}

/* systemctl show: a unit whose name has "down" is inactive. */
static const char systemctl_script[] =
    "#!/bin/sh\n"
    "echo \"$@\" > \"$0.args\"\n"
    "while [ \"$1\" != -- ]; do shift; done; shift\n"
    "first=1\n"
    "for u in \"$@\"; do\n"
    "  [ $first = 1 ] || echo\n"
    "  first=0\n"
    "  case \"$u\" in *down*) a=inactive s=dead;; *) a=active s=running;; "
    "esac\n"
    "  printf 'Id=%s\\nLoadState=loaded\\nActiveState=%s\\nSubState=%s\\n' "
    "\"$u\" \"$a\" \"$s\"\n"
    "done\n";

static const char compose_array[] =
    "#!/bin/sh\ncat <<'EOF'\n"
    "[{\"Name\":\"app-web-1\",\"Service\":\"web\",\"State\":\"running\","
    "\"Health\":\"healthy\",\"Status\":\"Up 2 hours (healthy)\"},"
    "{\"Name\":\"app-db-1\",\"Service\":\"db\",\"State\":\"running\","
    "\"Health\":\"\",\"Status\":\"Up 2 hours\"}]\n"
    "EOF\n";

static const char compose_lines[] =
    "#!/bin/sh\ncat <<'EOF'\n"
    "{\"Name\":\"app-web-1\",\"Service\":\"web\",\"State\":\"running\","
    "\"Health\":\"starting\"}\n"
    "{\"Name\":\"app-worker-1\",\"Service\":\"worker\",\"State\":"
    "\"exited\",\"Health\":\"\"}\n"
    "EOF\n";

static void
write_config(char *cfg, const char *units)
{
	char y[PATH_MAX * 4];

	snprintf(y, sizeof(y),
	    "commands:\n"
	    "  systemctl: [%s, show, "
	    "\"--property=Id,LoadState,ActiveState,SubState\", --]\n"
	    "  compose: [%s, compose, ps, --format, json]\n"
	    "services:\n"
	    "  units: [%s]\n"
	    "  systemctl_command: systemctl\n"
	    "  compose_command: compose\n",
	    P("systemctl"), P("compose"), units);
	config(y, cfg);
}

static void
test_services_units_and_compose(void **state)
{
	static const char *const one[] = {
	    "units", "nginx.service", "compose", "false", NULL};
	static const char *const other[] = {"units", "sshd.service", NULL};
	static const char *const none[] = {"compose", "false", NULL};
	struct tu_task_result    r;
	char                     cfg[PATH_MAX];
	json_t                  *u, *c;

	(void)state;
	tu_put(P("systemctl"), systemctl_script, 0755);
	tu_put(P("compose"), compose_array, 0755);
	write_config(cfg, "nginx.service, db-down.service");

	run(cfg, NULL, &r);
	assert_string_equal(tu_task_status(r.status), "fail");
	u = json_object_get(r.json, "units");
	assert_int_equal(json_array_size(u), 2);
	assert_true(json_is_true(json_object_get(json_array_get(u, 0), "ok")));
	assert_false(json_is_true(json_object_get(json_array_get(u, 1), "ok")));
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(u, 1), "ActiveState")),
	    "inactive");
	c = json_object_get(r.json, "compose");
	assert_int_equal(json_array_size(c), 2);
	assert_int_equal(
	    json_integer_value(json_object_get(r.json, "failed")), 1);
	tu_task_result_free(&r);

	/* One configured unit, appended after "--" as one argument. */
	run(cfg, one, &r);
	assert_string_equal(tu_task_status(r.status), "ok");
	assert_int_equal(json_array_size(json_object_get(r.json, "units")), 1);
	assert_int_equal(
	    json_array_size(json_object_get(r.json, "compose")), 0);
	tu_task_result_free(&r);
	{
		char  buf[512] = "";
		FILE *f = fopen(P("systemctl.args"), "r");

		assert_non_null(f);
		assert_non_null(fgets(buf, sizeof(buf), f));
		fclose(f);
		assert_string_equal(buf,
		    "show "
		    "--property=Id,LoadState,ActiveState,"
		    "SubState -- nginx.service\n");
	}

	/* A unit outside services.units is refused before anything runs. */
	unlink(P("systemctl.args"));
	tu_task_expect_error(
	    VSM_TASK_PATH, cfg, "sys.services", other, "'units'");
	assert_int_equal(access(P("systemctl.args"), F_OK), -1);

	/* Compose as one object a line: exited fails, starting warns. */
	tu_put(P("compose"), compose_lines, 0755);
	write_config(cfg, "nginx.service");
	run(cfg, NULL, &r);
	assert_string_equal(tu_task_status(r.status), "fail");
	c = json_object_get(r.json, "compose");
	assert_int_equal(json_array_size(c), 2);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(c, 1), "service")),
	    "worker");
	assert_int_equal(
	    json_integer_value(json_object_get(r.json, "starting")), 1);
	tu_task_result_free(&r);

	/* Not JSON: an error, not a clean bill. */
	tu_put(P("compose"), "#!/bin/sh\necho 'no such service'\n", 0755);
	tu_task_expect_error(
	    VSM_TASK_PATH, cfg, "sys.services", NULL, "compose output");
	/* systemctl failing: an error. */
	tu_put(P("systemctl"), "#!/bin/sh\nexit 4\n", 0755);
	tu_task_expect_error(
	    VSM_TASK_PATH, cfg, "sys.services", none, "exited 4");
	/* Nothing configured. */
	config(NULL, cfg);
	tu_task_expect_error(
	    VSM_TASK_PATH, cfg, "sys.services", NULL, "nothing to check");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_services_units_and_compose),
	};
	return (tu_task_main("modsvc", tests, sizeof(tests) / sizeof(tests[0]),
	    dir, sizeof(dir)));
}
