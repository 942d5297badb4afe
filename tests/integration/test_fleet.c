/*
 * test_fleet.c: a whole fleet of real processes on loopback. Each test
 * makes a temporary directory, runs `vsm-controller init` and `run` (1 s
 * heartbeat), `vsm-agent init` and `run` for two or three agents, and
 * drives the fleet with the real vsmctl (`--json`, parsed with jansson).
 * Nothing in the fleet is faked.
 *
 * Checked: agents enrolled by token are connected with their labels,
 * facts and capabilities (the modules of vsm-task, the commands of
 * agent.yaml; `host show`); an agent without a (valid) token is pending
 * until `keys accept`; `run --target role=db --wait` runs on the db hosts
 * only, all ok; an agent killed with SIGKILL mid-task takes its task child
 * and command down with it, and once restarted ends the task in error or
 * lost, never ok, and reconnects; a controller killed with SIGKILL with
 * ~50 tasks in flight and restarted finishes every job with exactly one
 * start and one result per task, and no task run twice.
 *
 * Timing bounds are generous upper bounds (a busy 2-core machine). Every
 * process (and any task child an agent killed with SIGKILL left behind)
 * is killed and the directory removed by the teardown, also on failure;
 * VSM_KEEP_TMP=1 keeps the directory.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
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
#include <sodium.h>

#include "testutil.h"
#include "tu_fleet.h"

#define WAIT_MS TU_FLEET_WAIT_MS
#define OUT_CAP TU_FLEET_OUT_CAP
#define NJOBS   17 /* x 3 agents: 51 tasks */

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

/* --- tests --------------------------------------------------------------- */

static void
test_token_enrolled_agents_connect_with_labels_and_facts(void **state)
{
	static const char *const roles[] = {"db", "db", "app"};
	json_t                  *doc, *h, *labels, *caps, *mods, *cmds;
	size_t                   j;
	int                      i, exec_family = 0;

	(void)state;
	tu_fleet_init(&fl, "fleet");
	tu_agent_add(&fl, "db-1", roles[0], fl.token);
	tu_agent_add(&fl, "db-2", roles[1], fl.token);
	tu_agent_add(&fl, "app-1", roles[2], fl.token);
	/* Each agent sends a sys.facts run after connecting. */
	doc = tu_wait_connected(&fl, 3, 1);
	assert_int_equal(json_array_size(doc), 3);
	for (i = 0; i < fl.nag; i++) {
		assert_non_null(h = tu_by_name(doc, fl.ag[i].name));
		assert_true(json_is_true(json_object_get(h, "connected")));
		assert_string_equal(tu_jstr(h, "state"), "up");
		labels = json_object_get(h, "labels");
		assert_string_equal(tu_jstr(labels, "role"), roles[i]);
		assert_string_equal(tu_jstr(labels, "env"), "test");
		assert_true(json_object_size(json_object_get(h, "facts")) > 0);
		/* What it can run: vsm-task's modules, its allowlist. */
		caps = json_object_get(h, "capabilities");
		mods = json_object_get(caps, "modules");
		assert_true(json_array_size(mods) >= 5);
		assert_string_equal(
		    json_string_value(json_array_get(mods, 0)), "sys.ping");
		for (j = 0; j < json_array_size(mods); j++)
			exec_family +=
			    strcmp(json_string_value(json_array_get(mods, j)),
			        "exec.*") == 0;
		cmds = json_object_get(caps, "commands");
		assert_int_equal(json_array_size(cmds), 2);
		assert_string_equal(
		    json_string_value(json_array_get(cmds, 0)), "exec.sleeper");
		assert_string_equal(
		    json_string_value(json_array_get(cmds, 1)), "exec.nap");
	}
	assert_int_equal(exec_family, 3);
	json_decref(doc);
	assert_int_equal(tu_vsmctl(&fl, &ob, "host", "show", "db-1", NULL), 0);
	assert_non_null(strstr(ob.out, "role=db"));
	assert_non_null(strstr(ob.out, "cpus"));
	assert_non_null(strstr(ob.out, "exec.sleeper exec.nap"));
	assert_non_null(strstr(ob.out, "sys.ping"));
	/* The token accepted their keys: none pending. */
	assert_non_null(doc = tu_ctl_doc(&fl, "keys", "list", NULL));
	assert_int_equal(json_array_size(doc), 3);
	for (i = 0; i < fl.nag; i++)
		assert_string_equal(
		    tu_jstr(tu_by_name(doc, fl.ag[i].name), "state"),
		    "accepted");
	json_decref(doc);
}

static int
pending_both(void)
{
	json_t *doc = tu_ctl_doc(&fl, "keys", "list", NULL);
	int     ok;

	ok = doc != NULL &&
	    strcmp(tu_jstr(tu_by_name(doc, "web-1"), "state"), "pending") ==
	        0 &&
	    strcmp(tu_jstr(tu_by_name(doc, "web-2"), "state"), "pending") == 0;
	json_decref(doc);
	return (ok);
}

static void
test_agent_without_valid_token_is_pending_until_accepted(void **state)
{
	uint64_t end;
	json_t  *doc, *h, *k;
	char     id[32];
	int      ok;

	(void)state;
	tu_fleet_init(&fl, "fleet");
	tu_agent_add(&fl, "web-1", "web", NULL);
	tu_agent_add(&fl, "web-2", "web",
	    "0000000000000000000000000000000000000000000000000000000000000000");
	end = tu_now_ms() + WAIT_MS;
	while (!(ok = pending_both()) && tu_now_ms() < end)
		tu_nap_ms(250);
	assert_true(ok);
	/* Pending hosts are not connected. */
	assert_non_null(doc = tu_ctl_doc(&fl, "hosts", NULL));
	h = tu_by_name(doc, "web-1");
	assert_true(
	    h == NULL || !json_is_true(json_object_get(h, "connected")));
	h = tu_by_name(doc, "web-2");
	assert_true(
	    h == NULL || !json_is_true(json_object_get(h, "connected")));
	json_decref(doc);

	/* Accept web-1 by name: it gets in, web-2 stays pending. */
	assert_int_equal(
	    tu_vsmctl(&fl, &ob, "keys", "accept", "web-1", NULL), 0);
	assert_non_null(strstr(ob.out, "accepted"));
	json_decref(tu_wait_connected(&fl, 1, 0));
	assert_non_null(doc = tu_ctl_doc(&fl, "keys", "list", NULL));
	assert_string_equal(
	    tu_jstr(tu_by_name(doc, "web-1"), "state"), "accepted");
	assert_non_null(k = tu_by_name(doc, "web-2"));
	assert_string_equal(tu_jstr(k, "state"), "pending");
	snprintf(id, sizeof(id), "%lld",
	    (long long)json_integer_value(json_object_get(k, "id")));
	json_decref(doc);

	/* Accept web-2 by key id: both connected. */
	assert_int_equal(tu_vsmctl(&fl, &ob, "keys", "accept", id, NULL), 0);
	json_decref(tu_wait_connected(&fl, 2, 0));
}

static void
test_run_on_selector_runs_on_matching_hosts_only(void **state)
{
	json_t *doc, *t;
	size_t  i;
	int     db1 = 0, db2 = 0;

	(void)state;
	tu_fleet_init(&fl, "fleet");
	tu_agent_add(&fl, "db-1", "db", fl.token);
	tu_agent_add(&fl, "db-2", "db", fl.token);
	tu_agent_add(&fl, "app-1", "app", fl.token);
	json_decref(tu_wait_connected(&fl, fl.nag, 0));

	doc = tu_ctl_doc(
	    &fl, "run", "sys.ping", "--target", "role=db", "--wait", NULL);
	assert_non_null(doc);
	assert_string_equal(
	    tu_jstr(json_object_get(doc, "job"), "target"), "role=db");
	assert_int_equal(json_array_size(json_object_get(doc, "tasks")), 2);
	json_array_foreach(json_object_get(doc, "tasks"), i, t)
	{
		db1 += strcmp(tu_jstr(t, "host"), "db-1") == 0;
		db2 += strcmp(tu_jstr(t, "host"), "db-2") == 0;
		assert_string_equal(tu_jstr(t, "state"), "ok");
		assert_true(json_is_object(json_object_get(t, "result")));
	}
	assert_int_equal(db1, 1);
	assert_int_equal(db2, 1);
	/* The job's state counts: two ok, nothing else. */
	t = json_object_get(json_object_get(doc, "job"), "states");
	assert_int_equal(json_object_size(t), 1);
	assert_int_equal(json_integer_value(json_object_get(t, "ok")), 2);
	json_decref(doc);

	/* --dry-run reaches the module: exec reports the argv, runs nothing. */
	doc = tu_ctl_doc(&fl, "run", "exec.nap", "--target", "role=app",
	    "--dry-run", "--wait", NULL);
	assert_non_null(doc);
	assert_true(json_is_true(
	    json_object_get(json_object_get(doc, "job"), "dry_run")));
	assert_int_equal(json_array_size(json_object_get(doc, "tasks")), 1);
	t = json_array_get(json_object_get(doc, "tasks"), 0);
	assert_string_equal(tu_jstr(t, "state"), "ok");
	t = json_object_get(json_object_get(t, "result"), "result");
	assert_true(json_is_true(json_object_get(t, "dry_run")));
	assert_null(json_object_get(t, "exit_code"));
	json_decref(doc);
}

static void
test_agent_killed_mid_task_never_reports_ok(void **state)
{
	struct tu_agent *a;
	json_t          *doc, *t, *e;
	char             job[64];
	size_t           i;

	(void)state;
	tu_fleet_init(&fl, "fleet");
	tu_agent_add(&fl, "db-1", "db", fl.token);
	a = tu_agent_add(&fl, "app-1", "app", fl.token);
	json_decref(tu_wait_connected(&fl, fl.nag, 0));

	assert_non_null(doc = tu_ctl_doc(&fl, "run", "exec.sleeper", "--target",
	                    "name=app-1", NULL));
	assert_int_equal(json_integer_value(json_object_get(doc, "tasks")), 1);
	snprintf(job, sizeof(job), "%s", tu_jstr(doc, "job"));
	json_decref(doc);
	assert_int_equal(strlen(job), 32);
	json_decref(tu_wait_job(&fl, job, tu_first_task_running));

	/* SIGKILL mid-task, then start it again on the same directory. */
	tu_agent_kill9(&fl, a);
	/* The task child and its command die with the agent (no orphan). */
	assert_true(fl.norphans >= 1);
	assert_true(tu_wait(tu_task_groups_gone, &fl, 20000));
	tu_agent_start(&fl, a);
	doc = tu_wait_job(&fl, job, tu_all_tasks_final);
	t = json_array_get(json_object_get(doc, "tasks"), 0);
	fprintf(stderr, "# after kill -9: %s\n", tu_jstr(t, "state"));
	assert_true(strcmp(tu_jstr(t, "state"), "error") == 0 ||
	    strcmp(tu_jstr(t, "state"), "lost") == 0);
	json_decref(doc);
	/* Nothing ever said ok. */
	assert_non_null(doc = tu_ctl_doc(&fl, "job", "logs", job, NULL));
	json_array_foreach(json_object_get(doc, "events"), i, e)
	{
		assert_string_not_equal(tu_jstr(e, "status"), "ok");
	}
	json_decref(doc);
	/* And the agent is back. */
	json_decref(tu_wait_connected(&fl, fl.nag, 0));
}

/* Every job's tasks final, by the jobs document. */
static int
jobs_done(char jobs[][64], int n)
{
	json_t     *doc = tu_ctl_doc(&fl, "jobs", NULL), *j, *st, *v;
	const char *k;
	int         i, ok = doc != NULL;
	size_t      x;
	json_int_t  sum;

	for (i = 0; ok && i < n; i++) {
		ok = 0;
		json_array_foreach(doc, x, j)
		{
			if (strcmp(tu_jstr(j, "id"), jobs[i]) != 0)
				continue;
			sum = 0;
			st = json_object_get(j, "states");
			ok = 1;
			json_object_foreach(st, k, v)
			{
				if (!tu_is_final(k))
					ok = 0;
				sum += json_integer_value(v);
			}
			ok = ok &&
			    sum ==
			        json_integer_value(json_object_get(j, "tasks"));
			break;
		}
	}
	json_decref(doc);
	return (ok);
}

/* How many "S ... ID" lines the agents' task records hold for id. */
static int
starts_recorded(const char *id)
{
	char  path[192], line[512], ms[32], tid[160];
	FILE *fp;
	int   i, n = 0;

	for (i = 0; i < fl.nag; i++) {
		snprintf(path, sizeof(path), "%s/tasks.log", fl.ag[i].dir);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		while (fgets(line, sizeof(line), fp) != NULL)
			if (sscanf(line, "S %31s %159s", ms, tid) == 2 &&
			    strcmp(tid, id) == 0)
				n++;
		fclose(fp);
	}
	return (n);
}

static void
test_controller_killed_with_tasks_in_flight_runs_each_once(void **state)
{
	static char jobs[NJOBS][64];
	uint64_t    end;
	json_t     *doc, *show, *t, *e, *tasks;
	const char *tid;
	size_t      i, k;
	int         j, ok, started, results, total = 0, unfinished = 0;
	int         n, out = 0;

	(void)state;
	tu_fleet_init(&fl, "fleet");
	tu_agent_add(&fl, "db-1", "db", fl.token);
	tu_agent_add(&fl, "db-2", "db", fl.token);
	tu_agent_add(&fl, "app-1", "app", fl.token);
	json_decref(tu_wait_connected(&fl, fl.nag, 0));

	/* 17 jobs of a 1 s command on 3 hosts: 51 tasks, 2 at a time each. */
	for (j = 0; j < NJOBS; j++) {
		assert_non_null(doc = tu_ctl_doc(&fl, "run", "exec.nap",
		                    "--target", "all", NULL));
		assert_int_equal(
		    json_integer_value(json_object_get(doc, "tasks")), 3);
		snprintf(jobs[j], sizeof(jobs[j]), "%s", tu_jstr(doc, "job"));
		json_decref(doc);
	}
	assert_non_null(doc = tu_ctl_doc(&fl, "jobs", NULL));
	json_array_foreach(doc, i, e)
	{
		t = json_object_get(e, "states");
		n = (int)(json_integer_value(json_object_get(t, "sent")) +
		    json_integer_value(json_object_get(t, "running")));
		out += n;
		unfinished +=
		    n + (int)json_integer_value(json_object_get(t, "queued"));
	}
	json_decref(doc);
	fprintf(stderr, "# at the kill: %d tasks unfinished, %d at agents\n",
	    unfinished, out);
	assert_true(unfinished > 0);

	tu_controller_kill9(&fl);
	assert_int_equal(tu_controller_start(&fl), 0);
	end = tu_now_ms() + 2 * WAIT_MS;
	while (!(ok = jobs_done(jobs, NJOBS)) && tu_now_ms() < end)
		tu_nap_ms(500);
	assert_true(ok);

	for (j = 0; j < NJOBS; j++) {
		assert_non_null(
		    show = tu_ctl_doc(&fl, "job", "show", jobs[j], NULL));
		tasks = json_object_get(show, "tasks");
		assert_int_equal(json_array_size(tasks), 3);
		/* Exactly one start and one result event per task. */
		assert_non_null(
		    doc = tu_ctl_doc(&fl, "job", "logs", jobs[j], NULL));
		assert_true(json_is_true(json_object_get(doc, "done")));
		json_array_foreach(tasks, i, t)
		{
			tid = tu_jstr(t, "id");
			assert_string_equal(tu_jstr(t, "state"), "ok");
			assert_true(
			    json_is_object(json_object_get(t, "result")));
			/* Started by one agent, once. */
			assert_int_equal(starts_recorded(tid), 1);
			started = results = 0;
			json_array_foreach(json_object_get(doc, "events"), k, e)
			{
				if (strcmp(tu_jstr(e, "task"), tid) != 0 ||
				    strcmp(tu_jstr(e, "kind"), "status") != 0)
					continue;
				started += strcmp(tu_jstr(e, "status"),
				               "running") == 0;
				results += tu_is_final(tu_jstr(e, "status"));
			}
			assert_int_equal(started, 1);
			assert_int_equal(results, 1);
			total++;
		}
		json_decref(doc);
		json_decref(show);
	}
	assert_int_equal(total, 3 * NJOBS);
}

/* --- artifacts ----------------------------------------------------------- */

#define ART_SIZE  (1024ULL * 1024 * 1024) /* the 1 GiB of the issue */
#define ART_BLOCK (1024 * 1024)

/* The BLAKE2b of what test.artifact writes for seed 1, as hex. */
static void
art_expected(uint64_t size, char hex[65])
{
	crypto_generichash_state st;
	uint8_t                  seed[randombytes_SEEDBYTES] = {1}, h[32], *buf;
	uint64_t                 i, left;
	size_t                   n;

	assert_non_null(buf = malloc(ART_BLOCK));
	randombytes_buf_deterministic(buf, ART_BLOCK, seed);
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	for (i = 0, left = size; left > 0; i++, left -= n) {
		n = left < ART_BLOCK ? (size_t)left : ART_BLOCK;
		memcpy(buf, &i, sizeof(i));
		crypto_generichash_update(&st, buf, n);
	}
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2hex(hex, 65, h, sizeof(h));
	free(buf);
}

static off_t
file_size(const char *path)
{
	struct stat sb;

	return (stat(path, &sb) == 0 ? sb.st_size : -1);
}

/* Does the file hold the text? */
static int
file_has(const char *path, const char *text)
{
	char  *buf;
	FILE  *fp;
	size_t n;
	int    found;

	if ((fp = fopen(path, "r")) == NULL)
		return (0);
	buf = calloc(1, OUT_CAP + 1);
	n = fread(buf, 1, OUT_CAP, fp);
	fclose(fp);
	buf[n] = '\0';
	found = strstr(buf, text) != NULL;
	free(buf);
	return (found);
}

static int
first_artifact_complete(json_t *doc)
{
	json_t *t = json_array_get(json_object_get(doc, "tasks"), 0);
	json_t *a = json_array_get(json_object_get(t, "artifacts"), 0);

	return (json_is_true(json_object_get(a, "complete")));
}

/*
 * A task leaves a 1 GiB artifact; the controller is killed with SIGKILL
 * while it arrives and started again. The upload resumes from the prefix
 * the controller made durable (not from 0), the stored file's BLAKE2b is
 * the one computed here independently, and the agent deletes its copy.
 */
static void
test_artifact_upload_survives_controller_kill(void **state)
{
	struct tu_agent *a;
	json_t          *doc, *t, *art;
	char             job[64], tid[64], part[256], mine[256], want[65];
	uint64_t         t0, end;
	off_t            sz;

	(void)state;
	tu_fleet_init(&fl, "fleet");
	fl.task_test = 1;
	a = tu_agent_add(&fl, "db-1", "db", fl.token);
	json_decref(tu_wait_connected(&fl, 1, 0));
	art_expected(ART_SIZE, want);

	t0 = tu_now_ms();
	assert_non_null(doc = tu_ctl_doc(&fl, "run", "test.artifact",
	                    "--target", "all", "--param", "size=1GiB", NULL));
	snprintf(job, sizeof(job), "%s", tu_jstr(doc, "job"));
	json_decref(doc);
	assert_non_null(doc = tu_ctl_doc(&fl, "job", "show", job, NULL));
	t = json_array_get(json_object_get(doc, "tasks"), 0);
	snprintf(tid, sizeof(tid), "%s", tu_jstr(t, "id"));
	json_decref(doc);
	snprintf(
	    part, sizeof(part), "%s/artifacts/%s/.test.bin.part", fl.cdir, tid);
	snprintf(mine, sizeof(mine), "%s/artifacts/%s/test.bin", a->dir, tid);

	/* Kill the controller once a third has arrived. */
	end = tu_now_ms() + 4 * WAIT_MS;
	while (
	    (sz = file_size(part)) < (off_t)(ART_SIZE / 3) && tu_now_ms() < end)
		tu_nap_ms(20);
	fprintf(stderr, "# controller killed with %lld bytes received\n",
	    (long long)sz);
	assert_true(sz >= (off_t)(ART_SIZE / 3));
	tu_controller_kill9(&fl);
	assert_int_equal(tu_controller_start(&fl), 0);

	doc = tu_wait_job(&fl, job, first_artifact_complete);
	fprintf(stderr,
	    "# 1 GiB artifact stored and verified %.1f s after "
	    "the job started\n",
	    (double)(tu_now_ms() - t0) / 1000);
	t = json_array_get(json_object_get(doc, "tasks"), 0);
	assert_string_equal(tu_jstr(t, "state"), "ok");
	art = json_array_get(json_object_get(t, "artifacts"), 0);
	assert_int_equal(json_integer_value(json_object_get(art, "size")),
	    (json_int_t)ART_SIZE);
	assert_string_equal(tu_jstr(art, "blake2b"), want);
	json_decref(doc);
	/* It resumed: not from byte 0. */
	assert_true(file_has(a->log, "resuming at byte"));
	assert_true(file_has(fl.clog, "resumes at byte"));
	/* The agent's copy goes once the controller has it. */
	end = tu_now_ms() + WAIT_MS;
	while (file_size(mine) >= 0 && tu_now_ms() < end)
		tu_nap_ms(100);
	assert_int_equal(file_size(mine), -1);
	snprintf(part, sizeof(part), "%s/artifacts/%s/test.bin", fl.cdir, tid);
	assert_int_equal(file_size(part), (off_t)ART_SIZE);
}

/*
 * The controller refuses an artifact for good (over artifact_max_size):
 * the agent keeps the file, parks its manifest as .failed, and says so in
 * the task's log; nothing is retried in a loop, nothing is deleted.
 */
static void
test_artifact_refused_for_good_is_kept_and_reported(void **state)
{
	struct tu_agent *a;
	json_t          *doc, *e;
	char             job[64], tid[64], path[256];
	uint64_t         end;
	size_t           i;
	int              found = 0;

	(void)state;
	tu_fleet_init(&fl, "fleet");
	tu_controller_kill9(&fl);
	tu_file_replace(
	    fl.ccfg, "artifact_max_size: 1TiB", "artifact_max_size: 1MiB");
	assert_int_equal(tu_controller_start(&fl), 0);
	fl.task_test = 1;
	a = tu_agent_add(&fl, "db-1", "db", fl.token);
	json_decref(tu_wait_connected(&fl, 1, 0));
	assert_non_null(doc = tu_ctl_doc(&fl, "run", "test.artifact",
	                    "--target", "all", "--param", "size=2MiB", NULL));
	snprintf(job, sizeof(job), "%s", tu_jstr(doc, "job"));
	json_decref(doc);
	doc = tu_wait_job(&fl, job, tu_all_tasks_final);
	snprintf(tid, sizeof(tid), "%s",
	    tu_jstr(json_array_get(json_object_get(doc, "tasks"), 0), "id"));
	json_decref(doc);
	end = tu_now_ms() + WAIT_MS;
	while (!found && tu_now_ms() < end) {
		assert_non_null(
		    doc = tu_ctl_doc(&fl, "job", "logs", job, NULL));
		json_array_foreach(json_object_get(doc, "events"), i, e)
		{
			found |=
			    strstr(tu_jstr(e, "text"), "not uploaded") != NULL;
		}
		json_decref(doc);
		if (!found)
			tu_nap_ms(250);
	}
	assert_true(found);
	snprintf(path, sizeof(path), "%s/artifacts/%s/test.bin", a->dir, tid);
	assert_int_equal(file_size(path), 2 * 1024 * 1024);
	snprintf(path, sizeof(path), "%s/artifacts/%s/.test.bin.failed", a->dir,
	    tid);
	assert_true(file_size(path) > 0);
	snprintf(
	    path, sizeof(path), "%s/artifacts/%s/.test.bin.ready", a->dir, tid);
	assert_int_equal(file_size(path), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(
	        test_token_enrolled_agents_connect_with_labels_and_facts,
	        fleet_teardown),
	    cmocka_unit_test_teardown(
	        test_agent_without_valid_token_is_pending_until_accepted,
	        fleet_teardown),
	    cmocka_unit_test_teardown(
	        test_run_on_selector_runs_on_matching_hosts_only,
	        fleet_teardown),
	    cmocka_unit_test_teardown(
	        test_agent_killed_mid_task_never_reports_ok, fleet_teardown),
	    cmocka_unit_test_teardown(
	        test_controller_killed_with_tasks_in_flight_runs_each_once,
	        fleet_teardown),
	    cmocka_unit_test_teardown(
	        test_artifact_upload_survives_controller_kill, fleet_teardown),
	    cmocka_unit_test_teardown(
	        test_artifact_refused_for_good_is_kept_and_reported,
	        fleet_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
