/*
 * test_scheduler.c: the scheduler on a running controller with real
 * agents, driven by the real vsmctl (tests/support/tu_fleet.c).
 *
 * Checked: `schedule add|show|rm|enable|disable|fire` refuse bad input
 * (cron, zone, window, policies, max_parallel, selector, unknown names)
 * and config schedules cannot be removed; max_parallel 1 runs a job's
 * tasks one host at a time; a run fired inside its window carries the
 * window's end, one outside waits or is skipped; overlap skip and queue
 * with a run still going; an every-minute schedule fires by itself, and a
 * controller killed with SIGKILL right after a run and kept down across the
 * next due instant fires that instant once on restart (starting_deadline 1h),
 * records it missed where the deadline is 1s, and never fires a run twice.
 *
 * Deterministic on a busy machine: runs are made due with `schedule
 * fire` where the test needs one now; the cron test waits for minute
 * boundaries with generous bounds and checks instants, not durations.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "testutil.h"
#include "tu_fleet.h"

#define WAIT_MS TU_FLEET_WAIT_MS

static struct tu_out   ob;
static struct tu_fleet fl = {
    .controller_path = VSM_CONTROLLER_PATH,
    .agent_path = VSM_AGENT_PATH,
    .vsmctl_path = VSMCTL_PATH,
    .task_test_path = VSM_TASK_TEST_PATH,
    .ob = &ob,
};

static int
fleet_teardown(void **state)
{
	(void)state;
	tu_fleet_teardown(&fl);
	return (0);
}

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* vsmctl ARGS must exit with rc and say `needle` on stderr. */
static void
refused(int rc, const char *needle, const char *first, ...)
{
	va_list ap;
	char   *args[40];
	int     n = 0;

	args[n++] = (char *)first;
	va_start(ap, first);
	while (n < 39 && (args[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	args[n] = NULL;
	tu_vsmctl_argv(&fl, &ob, args);
	if (ob.rc != rc || strstr(ob.err, needle) == NULL)
		fail_msg("vsmctl %s: exit %d, want %d with '%s': %s", first,
		    ob.rc, rc, needle, ob.err);
}

/* `schedule show NAME --json`: the document (caller decrefs). */
static json_t *
show(const char *name)
{
	json_t *doc =
	    tu_ctl_doc(&fl, "schedule", "show", name, "--runs", "100", NULL);

	assert_non_null(doc);
	return (doc);
}

/* How many runs of the show document came to outcome. */
static int
runs_with(json_t *doc, const char *outcome)
{
	json_t *r;
	size_t  i;
	int     n = 0;

	json_array_foreach(json_object_get(doc, "runs"), i, r)
	{
		n += strcmp(tu_jstr(r, "outcome"), outcome) == 0;
	}
	return (n);
}

/* `schedule fire NAME --json`: the document (caller decrefs). */
static json_t *
fire(const char *name)
{
	json_t *doc = tu_ctl_doc(&fl, "schedule", "fire", name, NULL);

	assert_non_null(doc);
	return (doc);
}

static void
test_schedule_commands_refuse_bad_input(void **state)
{
	json_t *doc, *s;
	size_t  i;
	int     audited = 0;

	(void)state;
	tu_fleet_init(&fl, "sched");
	/* A schedule kept in controller.yaml, loaded at start. */
	tu_controller_kill9(&fl);
	tu_file_replace(fl.ccfg, "schedules: []",
	    "schedules:\n  - name: from-file\n    module: sys.ping\n"
	    "    target: all\n    cron: \"0 3 * * *\"\n    tz: UTC\n");
	assert_int_equal(tu_controller_start(&fl), 0);

	refused(2, "cron '61 * * * *': field 1", "schedule", "add", "x",
	    "sys.ping", "--cron", "61 * * * *", NULL);
	refused(2, "cron '0 0 30 2 *'", "schedule", "add", "x", "sys.ping",
	    "--cron", "0 0 30 2 *", NULL);
	refused(2, "missing --cron", "schedule", "add", "x", "sys.ping", NULL);
	refused(2, "tz: ", "schedule", "add", "x", "sys.ping", "--cron",
	    "@daily", "--tz", "Mars/Olympus", NULL);
	refused(2, "tz: ", "schedule", "add", "x", "sys.ping", "--cron",
	    "@daily", "--tz", "../../../etc/passwd", NULL);
	refused(2, "window 'Sat 25:00-05:00'", "schedule", "add", "x",
	    "sys.ping", "--cron", "@daily", "--window", "Sat 25:00-05:00",
	    NULL);
	refused(2, "window_policy: 'later'", "schedule", "add", "x", "sys.ping",
	    "--cron", "@daily", "--window-policy", "later", NULL);
	refused(2, "overlap: 'sometimes'", "schedule", "add", "x", "sys.ping",
	    "--cron", "@daily", "--overlap", "sometimes", NULL);
	refused(2, "out of range 1%-100%", "schedule", "add", "x", "sys.ping",
	    "--cron", "@daily", "--max-parallel", "101%", NULL);
	refused(2, "out of range 0-100000", "schedule", "add", "x", "sys.ping",
	    "--cron", "@daily", "--max-parallel", "100001", NULL);
	refused(2, "max_parallel: expected a count", "schedule", "add", "x",
	    "sys.ping", "--cron", "@daily", "--max-parallel", "lots", NULL);
	refused(2, "splay: ", "schedule", "add", "x", "sys.ping", "--cron",
	    "@daily", "--splay", "2d", NULL);
	refused(2, "target 'role in (db'", "schedule", "add", "x", "sys.ping",
	    "--cron", "@daily", "--target", "role in (db", NULL);
	refused(2, "name: expected a schedule name", "schedule", "add",
	    "bad name!", "sys.ping", "--cron", "@daily", NULL);
	refused(2, "--param 'nokv' is not k=v", "schedule", "add", "x",
	    "sys.ping", "--cron", "@daily", "--param", "nokv", NULL);
	/* Unknown schedules. */
	refused(1, "no schedule 'nope'", "schedule", "show", "nope", NULL);
	refused(1, "no schedule 'nope'", "schedule", "rm", "nope", NULL);
	refused(1, "no schedule 'nope'", "schedule", "enable", "nope", NULL);
	refused(1, "no schedule 'nope'", "schedule", "disable", "nope", NULL);
	refused(1, "no schedule 'nope'", "schedule", "fire", "nope", NULL);

	/* A good one, then its name again. */
	assert_int_equal(
	    tu_vsmctl(&fl, &ob, "schedule", "add", "nightly", "pg.vacuum",
	        "--cron", "30 2 * * *", "--tz", "Europe/Berlin", "--target",
	        "role=db", "--param", "mode=analyze", "--max-parallel", "25%",
	        "--window", "Sat 01:00-05:00", "--overlap", "queue", "--splay",
	        "5m", NULL),
	    0);
	assert_non_null(strstr(ob.out, "schedule nightly added"));
	refused(1, "exists", "schedule", "add", "nightly", "sys.ping", "--cron",
	    "@daily", NULL);
	assert_non_null(doc = tu_ctl_doc(&fl, "schedule", "list", NULL));
	assert_int_equal(json_array_size(doc), 2);
	assert_non_null(s = tu_by_name(doc, "from-file"));
	assert_string_equal(tu_jstr(s, "source"), "config");
	assert_non_null(s = tu_by_name(doc, "nightly"));
	assert_string_equal(tu_jstr(s, "source"), "api");
	assert_string_equal(tu_jstr(s, "overlap"), "queue");
	assert_string_equal(tu_jstr(s, "window"), "Sat 01:00-05:00");
	assert_string_equal(tu_jstr(s, "tz"), "Europe/Berlin");
	assert_int_equal(
	    json_integer_value(json_object_get(s, "splay_ms")), 300000);
	assert_true(json_is_true(json_object_get(s, "max_parallel_pct")));
	assert_true(
	    json_integer_value(json_object_get(s, "next_due")) > wall_ms());
	json_decref(doc);
	/* The text listing. */
	assert_int_equal(tu_vsmctl(&fl, &ob, "schedule", "list", NULL), 0);
	assert_non_null(strstr(ob.out, "nightly"));
	assert_non_null(strstr(ob.out, "25%"));
	/* A config schedule stays; disable and enable work on it. */
	refused(1, "config file", "schedule", "rm", "from-file", NULL);
	assert_int_equal(
	    tu_vsmctl(&fl, &ob, "schedule", "disable", "from-file", NULL), 0);
	doc = show("from-file");
	assert_false(json_is_true(
	    json_object_get(json_object_get(doc, "schedule"), "enabled")));
	json_decref(doc);
	refused(1, "disabled", "schedule", "fire", "from-file", NULL);
	assert_int_equal(
	    tu_vsmctl(&fl, &ob, "schedule", "enable", "from-file", NULL), 0);
	assert_int_equal(
	    tu_vsmctl(&fl, &ob, "schedule", "rm", "nightly", NULL), 0);
	refused(
	    1, "no schedule 'nightly'", "schedule", "show", "nightly", NULL);
	/* Every change is audited. */
	assert_non_null(doc = tu_ctl_doc(&fl, "audit", NULL));
	json_array_foreach(doc, i, s)
	{
		const char *a = tu_jstr(s, "action");

		audited |= strcmp(a, "schedule.add") == 0 ? 1
		    : strcmp(a, "schedule.remove") == 0   ? 2
		    : strcmp(a, "schedule.disable") == 0  ? 4
		    : strcmp(a, "schedule.enable") == 0   ? 8
		    : strcmp(a, "schedule.config") == 0   ? 16
		                                          : 0;
	}
	assert_int_equal(audited, 31);
	json_decref(doc);
}

/* The job's tasks, by sent_at: none was sent before the last one ended. */
static void
assert_one_at_a_time(json_t *job)
{
	json_t *tasks = json_object_get(job, "tasks"), *t, *u;
	size_t  i, k;

	json_array_foreach(tasks, i, t)
	{
		int64_t s1 = json_integer_value(json_object_get(t, "sent_at"));
		int64_t f1 =
		    json_integer_value(json_object_get(t, "finished_at"));

		assert_string_equal(tu_jstr(t, "state"), "ok");
		json_array_foreach(tasks, k, u)
		{
			int64_t s2, f2;

			if (k == i)
				continue;
			s2 = json_integer_value(json_object_get(u, "sent_at"));
			f2 = json_integer_value(
			    json_object_get(u, "finished_at"));
			/* [s1, f1) and [s2, f2) do not overlap. */
			if (s1 < f2 && s2 < f1)
				fail_msg("tasks %s and %s ran at once",
				    tu_jstr(t, "host"), tu_jstr(u, "host"));
		}
	}
}

/* The job id of a fire's document that fired; asserts it did. */
static void
fired_job(json_t *doc, char job[64])
{
	assert_string_equal(tu_jstr(doc, "outcome"), "fired");
	snprintf(job, 64, "%s", tu_jstr(doc, "job"));
	assert_int_equal(strlen(job), 32);
}

/*
 * Fire schedules whose UTC window is open now (it closes in one to two
 * hours: the job's window_end) and one that opens in three hours, with
 * window_policy wait and skip. job: scratch space.
 */
static void
windows_now(char job[64])
{
	char    open[32], shut[32];
	json_t *doc;
	int64_t now = wall_ms(), end;
	int     h = (int)((now / 3600000) % 24);

	snprintf(open, sizeof(open), "%02d:00-%02d:00", h, (h + 2) % 24);
	snprintf(
	    shut, sizeof(shut), "%02d:00-%02d:00", (h + 3) % 24, (h + 4) % 24);
	assert_int_equal(tu_vsmctl(&fl, &ob, "schedule", "add", "inwin",
	                     "sys.ping", "--cron", "0 0 1 1 *", "--tz", "UTC",
	                     "--target", "name=db-1", "--window", open, NULL),
	    0);
	doc = fire("inwin");
	fired_job(doc, job);
	json_decref(doc);
	doc = tu_wait_job(&fl, job, tu_all_tasks_final);
	end = json_integer_value(
	    json_object_get(json_object_get(doc, "job"), "window_end"));
	assert_true(end > now + 3600000 - 60000 && end <= now + 2 * 3600000);
	assert_int_equal(end % 3600000, 0);
	json_decref(doc);
	assert_int_equal(
	    tu_vsmctl(&fl, &ob, "schedule", "add", "waitwin", "sys.ping",
	        "--cron", "0 0 1 1 *", "--tz", "UTC", "--window", shut, NULL),
	    0);
	doc = fire("waitwin");
	assert_string_equal(tu_jstr(doc, "outcome"), "waiting");
	json_decref(doc);
	doc = show("waitwin");
	assert_true(json_is_integer(
	    json_object_get(json_object_get(doc, "schedule"), "pending_due")));
	json_decref(doc);
	assert_int_equal(tu_vsmctl(&fl, &ob, "schedule", "add", "skipwin",
	                     "sys.ping", "--cron", "0 0 1 1 *", "--tz", "UTC",
	                     "--window", shut, "--window-policy", "skip", NULL),
	    0);
	doc = fire("skipwin");
	assert_string_equal(tu_jstr(doc, "outcome"), "skipped");
	assert_string_equal(tu_jstr(doc, "reason"), "window");
	json_decref(doc);
}

static void
test_max_parallel_and_overlap_on_real_agents(void **state)
{
	json_t  *doc;
	char     job[64], job2[64];
	uint64_t end;
	int      ok;

	(void)state;
	tu_fleet_init(&fl, "sched");
	tu_agent_add(&fl, "db-1", "db", fl.token);
	tu_agent_add(&fl, "db-2", "db", fl.token);
	tu_agent_add(&fl, "db-3", "db", fl.token);
	json_decref(tu_wait_connected(&fl, fl.nag, 0));

	/* max_parallel 1: three 1 s naps, one host at a time. */
	assert_int_equal(tu_vsmctl(&fl, &ob, "schedule", "add", "naps",
	                     "exec.nap", "--cron", "0 0 1 1 *", "--target",
	                     "role=db", "--max-parallel", "1", NULL),
	    0);
	doc = fire("naps");
	fired_job(doc, job);
	assert_int_equal(json_integer_value(json_object_get(doc, "tasks")), 3);
	json_decref(doc);
	doc = tu_wait_job(&fl, job, tu_all_tasks_final);
	assert_int_equal(json_integer_value(json_object_get(
	                     json_object_get(doc, "job"), "max_parallel")),
	    1);
	assert_string_equal(
	    tu_jstr(json_object_get(doc, "job"), "schedule"), "naps");
	assert_one_at_a_time(doc);
	json_decref(doc);
	/* The run's outcome counts its job's tasks. */
	doc = show("naps");
	assert_int_equal(runs_with(doc, "fired"), 1);
	assert_int_equal(
	    json_integer_value(json_object_get(
	        json_object_get(
	            json_array_get(json_object_get(doc, "runs"), 0), "states"),
	        "ok")),
	    3);
	json_decref(doc);

	/* A window open now: the job knows when it closes; one that is not
	 * open makes the run wait, or skips it. */
	windows_now(job);

	/* overlap skip: a 30 s sleeper still going when fired again. */
	assert_int_equal(tu_vsmctl(&fl, &ob, "schedule", "add", "sleepy",
	                     "exec.sleeper", "--cron", "0 0 1 1 *", "--target",
	                     "name=db-1", "--overlap", "skip", NULL),
	    0);
	doc = fire("sleepy");
	fired_job(doc, job);
	json_decref(doc);
	json_decref(tu_wait_job(&fl, job, tu_first_task_running));
	doc = fire("sleepy");
	assert_string_equal(tu_jstr(doc, "outcome"), "skipped");
	assert_string_equal(tu_jstr(doc, "reason"), "overlap");
	json_decref(doc);
	assert_int_equal(tu_vsmctl(&fl, &ob, "job", "cancel", job, NULL), 0);

	/* overlap queue: the second run waits for the first to end. */
	assert_int_equal(tu_vsmctl(&fl, &ob, "schedule", "add", "queued",
	                     "exec.sleeper", "--cron", "0 0 1 1 *", "--target",
	                     "name=db-2", "--overlap", "queue", NULL),
	    0);
	doc = fire("queued");
	fired_job(doc, job);
	json_decref(doc);
	json_decref(tu_wait_job(&fl, job, tu_first_task_running));
	doc = fire("queued");
	assert_string_equal(tu_jstr(doc, "outcome"), "queued");
	json_decref(doc);
	doc = fire("queued"); /* one waits at most */
	assert_string_equal(tu_jstr(doc, "outcome"), "skipped");
	assert_string_equal(tu_jstr(doc, "reason"), "pending");
	json_decref(doc);
	assert_int_equal(tu_vsmctl(&fl, &ob, "job", "cancel", job, NULL), 0);
	/* The scheduler's tick fires the queued run on its own. */
	end = tu_now_ms() + WAIT_MS;
	job2[0] = '\0';
	while (!(ok = (doc = show("queued")) != NULL &&
	               runs_with(doc, "fired") == 2 &&
	               runs_with(doc, "queued") == 0) &&
	    tu_now_ms() < end) {
		json_decref(doc);
		tu_nap_ms(250);
	}
	assert_true(ok);
	snprintf(job2, sizeof(job2), "%s",
	    tu_jstr(json_object_get(doc, "schedule"), "last_job"));
	json_decref(doc);
	assert_string_not_equal(job2, job);
	json_decref(tu_wait_job(&fl, job2, tu_first_task_running));
	assert_int_equal(tu_vsmctl(&fl, &ob, "job", "cancel", job2, NULL), 0);
}

/* Wait until schedule name has a run due at `due` with outcome. */
static json_t *
wait_run(const char *name, int64_t due, const char *outcome, int ms)
{
	uint64_t end = tu_now_ms() + (uint64_t)ms;
	json_t  *doc, *r;
	size_t   i;
	int      ok;

	for (;;) {
		doc = show(name);
		ok = 0;
		json_array_foreach(json_object_get(doc, "runs"), i, r)
		{
			ok |= (due == 0 ||
			          json_integer_value(
			              json_object_get(r, "due_at")) == due) &&
			    strcmp(tu_jstr(r, "outcome"), outcome) == 0;
		}
		if (ok || tu_now_ms() >= end)
			break;
		json_decref(doc);
		tu_nap_ms(250);
	}
	if (!ok)
		fail_msg("schedule %s: no %s run due at %lld", name, outcome,
		    (long long)due);
	return (doc);
}

/* Every due instant of the document's runs once; jobs as many as fired. */
static int
check_once(json_t *doc)
{
	json_t *runs = json_object_get(doc, "runs"), *r, *q;
	size_t  i, k;
	int     fired = 0;

	json_array_foreach(runs, i, r)
	{
		fired += strcmp(tu_jstr(r, "outcome"), "fired") == 0;
		json_array_foreach(runs, k, q)
		{
			if (k != i)
				assert_true(json_integer_value(
				                json_object_get(r, "due_at")) !=
				    json_integer_value(
				        json_object_get(q, "due_at")));
		}
	}
	return (fired);
}

/* Jobs made by schedule `name`, from `jobs`. */
static int
jobs_of(const char *name)
{
	json_t *doc, *j;
	size_t  i;
	int     n = 0;

	assert_non_null(doc = tu_ctl_doc(&fl, "jobs", "--limit", "1000", NULL));
	json_array_foreach(doc, i, j)
	{
		n += strcmp(tu_jstr(j, "schedule"), name) == 0;
	}
	json_decref(doc);
	return (n);
}

static void
test_cron_fires_and_a_controller_kill_neither_loses_nor_doubles(void **state)
{
	json_t *doc, *r;
	int64_t d1, d2;
	char    job[64];
	int     fired;

	(void)state;
	tu_fleet_init(&fl, "sched");
	tu_agent_add(&fl, "db-1", "db", fl.token);
	json_decref(tu_wait_connected(&fl, 1, 0));
	assert_int_equal(tu_vsmctl(&fl, &ob, "schedule", "add", "minutely",
	                     "sys.ping", "--cron", "* * * * *", "--tz", "UTC",
	                     "--overlap", "allow", NULL),
	    0);
	assert_int_equal(
	    tu_vsmctl(&fl, &ob, "schedule", "add", "strict", "sys.ping",
	        "--cron", "* * * * *", "--starting-deadline", "1s", "--overlap",
	        "allow", NULL),
	    0);
	/* It fires by itself at the next minute, on the real agent. */
	doc = wait_run("minutely", 0, "fired", 2 * WAIT_MS);
	r = json_array_get(json_object_get(doc, "runs"), 0);
	d1 = json_integer_value(json_object_get(r, "due_at"));
	snprintf(job, sizeof(job), "%s", tu_jstr(r, "job"));
	json_decref(doc);
	assert_int_equal(d1 % 60000, 0);
	/* Killed right after that run, and kept down past the next one. */
	tu_controller_kill9(&fl);
	d2 = d1 + 60000;
	while (wall_ms() < d2 + 3000)
		tu_nap_ms(200);
	assert_int_equal(tu_controller_start(&fl), 0);
	/* The first run's job still finishes, on the agent. */
	doc = tu_wait_job(&fl, job, tu_all_tasks_final);
	assert_string_equal(
	    tu_jstr(json_array_get(json_object_get(doc, "tasks"), 0), "state"),
	    "ok");
	json_decref(doc);
	/* The instant missed while down fires once, within its deadline; */
	json_decref(wait_run("minutely", d2, "fired", WAIT_MS));
	/* with a 1 s deadline it is recorded as missed, not run. */
	json_decref(wait_run("strict", d2, "missed", WAIT_MS));
	/* Nothing twice: one run per instant, one job per fired run. */
	doc = show("minutely");
	fired = check_once(doc);
	json_decref(doc);
	assert_true(fired >= 2);
	assert_int_equal(jobs_of("minutely"), fired);
	doc = show("strict");
	fired = check_once(doc);
	json_decref(doc);
	assert_int_equal(jobs_of("strict"), fired);
	/* `schedule list` shows the outcome of the last run. */
	assert_int_equal(tu_vsmctl(&fl, &ob, "schedule", "list", NULL), 0);
	assert_non_null(strstr(ob.out, "minutely"));
	assert_true(strstr(ob.out, "fired") != NULL ||
	    strstr(ob.out, "missed") != NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(
	        test_schedule_commands_refuse_bad_input, fleet_teardown),
	    cmocka_unit_test_teardown(
	        test_max_parallel_and_overlap_on_real_agents, fleet_teardown),
	    cmocka_unit_test_teardown(
	        test_cron_fires_and_a_controller_kill_neither_loses_nor_doubles,
	        fleet_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
