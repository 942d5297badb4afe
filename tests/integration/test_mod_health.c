/*
 * test_mod_health.c: sys.health (vsm-task-health) against a real
 * PostgreSQL, a real Redis, an HTTP endpoint for the alarm count and a
 * stand-in systemctl (no systemd runs here), each check adapted to what
 * agent.yaml says the host runs: checks that do not apply are skipped
 * with a reason, a configured service that is down fails its check, and
 * the task's status is the worst check's.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "testutil.h"
#include "tu_http.h"
#include "tu_pg.h"
#include "tu_redis.h"
#include "tu_task.h"

static char            dir[PATH_MAX];
static char            bin[PATH_MAX + 32];
static struct tu_pg    pg;
static struct tu_redis rd;
static struct tu_http *web;

static const struct tu_http_route routes[] = {
    {.path = "/api/alarms/active/count",
        .status = 200,
        .body = "{\"alarms\": {\"active\": 3}}"},
    {.path = "/broken", .status = 500, .body = "oops"},
};

/* systemctl show for the units appended after "--": all active. */
static const char systemctl_script[] =
    "#!/bin/sh\n"
    "while [ \"$1\" != -- ]; do shift; done; shift\n"
    "first=1\n"
    "for u in \"$@\"; do\n"
    "  [ $first = 1 ] || echo\n"
    "  first=0\n"
    "  case \"$u\" in *down*) a=inactive;; *) a=active;; esac\n"
    "  printf 'Id=%s\\nLoadState=loaded\\nActiveState=%s\\nSubState=x\\n' "
    "\"$u\" \"$a\"\n"
    "done\n";

/* agent.yaml with the sections given (each a YAML fragment or ""). */
static void
config(char *cfg, const char *extra)
{
	assert_int_equal(tu_task_config(dir, extra, cfg, PATH_MAX), 0);
}

static void
run(const char *cfg, const char *const *kv, struct tu_task_result *r)
{
	assert_int_equal(tu_task_run(bin, cfg, "sys.health", kv, 0, r), 0);
	if (r->json == NULL)
		fail_msg("sys.health: no result (%s)", r->error);
}

static const char *
check_status(const struct tu_task_result *r, const char *name)
{
	json_t *c = json_object_get(json_object_get(r->json, "checks"), name);

	return (
	    c != NULL ? json_string_value(json_object_get(c, "status")) : NULL);
}

/* A host with nothing configured: disk and memory only, rest skipped. */
static void
test_health_bare_host(void **state)
{
	struct tu_task_result r;
	char                  cfg[PATH_MAX];
	json_t               *sk;

	(void)state;
	config(cfg, "");
	run(cfg, NULL, &r);
	assert_non_null(check_status(&r, "disk"));
	assert_non_null(check_status(&r, "memory"));
	assert_null(check_status(&r, "postgres"));
	sk = json_object_get(r.json, "skipped");
	assert_non_null(json_object_get(sk, "postgres"));
	assert_non_null(json_object_get(sk, "redis"));
	assert_non_null(json_object_get(sk, "alarms"));
	assert_non_null(json_object_get(sk, "services"));
	tu_task_result_free(&r);
}

/*
 * A database host: PostgreSQL and Redis up, 3 active alarms (warn at 1),
 * units active. Then the alarm threshold moved above 3: ok everywhere.
 */
static void
test_health_db_host(void **state)
{
	static const char *const calm[] = {"alarms_warn", "5", "alarms_fail",
	    "10", "disk_warn_pct", "100", "disk_fail_pct", "100",
	    "mem_warn_pct", "100", "mem_fail_pct", "100", NULL};
	struct tu_task_result    r;
	char                     cfg[PATH_MAX], ci[256], y[PATH_MAX * 3];
	char                     sc[PATH_MAX + 16];
	json_t                  *pgd;

	(void)state;
	snprintf(sc, sizeof(sc), "%s/systemctl", dir);
	tu_put(sc, systemctl_script, 0755);
	tu_pg_conninfo(&pg, "postgres", ci, sizeof(ci));
	snprintf(y, sizeof(y),
	    "postgres:\n  conninfo: \"%s\"\n"
	    "redis:\n  host: 127.0.0.1\n  port: %u\n"
	    "http:\n  allow: [\"http://127.0.0.1:%d/api/\"]\n"
	    "health:\n  alarms_url: \"http://127.0.0.1:%d/api/alarms/active/"
	    "count\"\n  alarms_pointer: /alarms/active\n"
	    "commands:\n  systemctl: [%s, show, --property=Id,ActiveState, "
	    "--]\n"
	    "services:\n  units: [postgresql.service, redis-server.service]\n"
	    "  systemctl_command: systemctl\n",
	    ci, rd.port, tu_http_port(web), tu_http_port(web), sc);
	config(cfg, y);
	run(cfg, NULL, &r);
	assert_string_equal(check_status(&r, "postgres"), "ok");
	assert_string_equal(check_status(&r, "redis"), "ok");
	assert_string_equal(check_status(&r, "services"), "ok");
	assert_string_equal(check_status(&r, "alarms"), "warn");
	pgd = json_object_get(
	    json_object_get(json_object_get(r.json, "checks"), "postgres"),
	    "detail");
	assert_true(
	    json_integer_value(json_object_get(pgd, "connections")) >= 1);
	assert_true(json_is_integer(json_object_get(pgd, "max_connections")));
	assert_string_equal(tu_task_status(r.status), "warn");
	tu_task_result_free(&r);

	run(cfg, calm, &r);
	assert_string_equal(check_status(&r, "alarms"), "ok");
	assert_string_equal(tu_task_status(r.status), "ok");
	tu_task_result_free(&r);
}

/* Configured but unreachable: each such check fails, the task fails. */
static void
test_health_down_services_fail(void **state)
{
	struct tu_task_result r;
	char                  cfg[PATH_MAX], y[1024];

	(void)state;
	/* Nothing listens on port 1; the alarm URL answers 500. */
	snprintf(y, sizeof(y),
	    "postgres:\n  conninfo: \"host=127.0.0.1 port=1 user=x "
	    "connect_timeout=2\"\n"
	    "redis:\n  host: 127.0.0.1\n  port: 1\n"
	    "http:\n  allow: [\"http://127.0.0.1:%d/\"]\n"
	    "health:\n  alarms_url: \"http://127.0.0.1:%d/broken\"\n",
	    tu_http_port(web), tu_http_port(web));
	config(cfg, y);
	run(cfg, NULL, &r);
	assert_string_equal(check_status(&r, "postgres"), "fail");
	assert_string_equal(check_status(&r, "redis"), "fail");
	assert_string_equal(check_status(&r, "alarms"), "fail");
	assert_string_equal(tu_task_status(r.status), "fail");
	tu_task_result_free(&r);
}

/* An alarm URL outside http.allow is never fetched. */
static void
test_health_alarm_url_must_be_allowed(void **state)
{
	struct tu_task_result r;
	char                  cfg[PATH_MAX], y[512];
	unsigned              before = tu_http_hits(web, "/broken");

	(void)state;
	snprintf(y, sizeof(y),
	    "http:\n  allow: [\"http://127.0.0.1:%d/api/\"]\n"
	    "health:\n  alarms_url: \"http://127.0.0.1:%d/broken\"\n",
	    tu_http_port(web), tu_http_port(web));
	config(cfg, y);
	run(cfg, NULL, &r);
	assert_string_equal(check_status(&r, "alarms"), "fail");
	assert_int_equal(tu_http_hits(web, "/broken"), before);
	tu_task_result_free(&r);
}

/* Upside-down thresholds are refused before anything runs. */
static void
test_health_bad_thresholds_refused(void **state)
{
	static const char *const bad[] = {
	    "pg_warn_pct", "90", "pg_fail_pct", "80", NULL};
	static const char *const huge[] = {"disk_warn_pct", "1000", NULL};
	char                     cfg[PATH_MAX];

	(void)state;
	config(cfg, "");
	tu_task_expect_error(bin, cfg, "sys.health", bad, "pg_warn_pct");
	tu_task_expect_error(bin, cfg, "sys.health", huge, "disk_warn_pct");
}

static int
setup(void **state)
{
	(void)state;
	snprintf(bin, sizeof(bin), "%s/vsm-task-health", VSM_TASK_DIR);
	if (tu_mkdtemp(dir, sizeof(dir), "modhealth") == -1)
		return (-1);
	if (tu_pg_start(&pg, NULL) == -1) {
		fprintf(stderr,
		    "test_mod_health: PostgreSQL is needed "
		    "(deploy/install-deps.sh)\n");
		return (-1);
	}
	if (tu_redis_start(&rd, NULL) == -1) {
		fprintf(stderr,
		    "test_mod_health: redis-server is needed "
		    "(deploy/install-deps.sh)\n");
		return (-1);
	}
	if ((web = tu_http_start(routes, sizeof(routes) / sizeof(routes[0]))) ==
	    NULL)
		return (-1);
	return (0);
}

static int
teardown(void **state)
{
	(void)state;
	tu_http_stop(web);
	tu_redis_stop(&rd);
	tu_pg_stop(&pg);
	return (tu_rmtree(dir) == 0 ? 0 : -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_health_bare_host),
	    cmocka_unit_test(test_health_db_host),
	    cmocka_unit_test(test_health_down_services_fail),
	    cmocka_unit_test(test_health_alarm_url_must_be_allowed),
	    cmocka_unit_test(test_health_bad_thresholds_refused),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
