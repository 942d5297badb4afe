/*
 * test_agent_runner.c: the agent's task runner (agent/runner.h) and the
 * vsm-task modules: sys.* results, parameter refusal before anything
 * runs, exec of allowlisted commands (streaming, literal argv, exit codes,
 * line and output caps), timeout, cancel, a crashing module, limits and
 * the child's environment, the concurrency cap, `vsm-task --list-modules`.
 * Runs vsm-task-test (the build with test-only modules) and, twice, the
 * production vsm-task.
 * Timing bounds are generous: a busy 2-core machine must pass.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
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

#include "artifact.h"
#include "log.h"
#include "runner.h"
#include "testutil.h"

#ifndef VSM_TASK_TEST_PATH
#error "VSM_TASK_TEST_PATH must name the vsm-task-test binary"
#endif
#ifndef VSM_TASK_PATH
#error "VSM_TASK_PATH must name the vsm-task binary"
#endif

#define WAIT_S     60 /* upper bound for any task to end */
#define LINES_MAX  4096
#define OUTPUT_CAP (64 * 1024)
#define MARK       " [continued]"

struct collect {
	pthread_mutex_t mtx;
	pthread_cond_t  cv;
	int             started;
	uint32_t        pid;
	int             done;
	int             nresults;
	int             status;
	int             exit_code;
	char           *summary;
	char           *error;
	json_t         *json;
	char           *lines[LINES_MAX];
	int             streams[LINES_MAX];
	size_t          nlines;
	size_t          stdout_bytes;
	int             cap_noted; /* a MODULE line told of the output cap */
	int             nartifacts;
	char            art_name[160];
	uint64_t        art_size;
	uint8_t         art_hash[32];
};

static void
collect_init(struct collect *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->mtx, NULL);
	pthread_cond_init(&c->cv, NULL);
}

static void
collect_free(struct collect *c)
{
	size_t i;

	for (i = 0; i < c->nlines; i++)
		free(c->lines[i]);
	free(c->summary);
	free(c->error);
	json_decref(c->json);
	pthread_mutex_destroy(&c->mtx);
	pthread_cond_destroy(&c->cv);
}

static void
collect_cb(void *arg, const Vsm__TaskEvent *ev)
{
	struct collect *c = arg;

	pthread_mutex_lock(&c->mtx);
	switch (ev->kind_case) {
	case VSM__TASK_EVENT__KIND_STARTED:
		c->started = 1;
		c->pid = ev->started->pid;
		break;
	case VSM__TASK_EVENT__KIND_LOG:
		if (ev->log->stream == VSM__LOG_LINE__STREAM__STDOUT)
			c->stdout_bytes += strlen(ev->log->line);
		if (ev->log->stream == VSM__LOG_LINE__STREAM__MODULE &&
		    strstr(ev->log->line, "output cap") != NULL)
			c->cap_noted = 1;
		if (c->nlines < LINES_MAX) {
			c->streams[c->nlines] = ev->log->stream;
			c->lines[c->nlines++] = strdup(ev->log->line);
		}
		break;
	case VSM__TASK_EVENT__KIND_ARTIFACT:
		c->nartifacts++;
		snprintf(
		    c->art_name, sizeof(c->art_name), "%s", ev->artifact->name);
		c->art_size = ev->artifact->size;
		if (ev->artifact->blake2b.len == sizeof(c->art_hash))
			memcpy(c->art_hash, ev->artifact->blake2b.data,
			    sizeof(c->art_hash));
		break;
	case VSM__TASK_EVENT__KIND_RESULT:
		c->nresults++;
		c->status = ev->result->status;
		c->exit_code = ev->result->exit_code;
		c->summary = strdup(ev->result->summary);
		c->error = strdup(ev->result->error);
		c->json = json_loads(ev->result->result_json, 0, NULL);
		c->done = 1;
		pthread_cond_broadcast(&c->cv);
		break;
	default:
		break;
	}
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mtx);
}

/* Wait until the task ended (or started, with started_only). */
static void
collect_wait(struct collect *c, int started_only)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += WAIT_S;
	pthread_mutex_lock(&c->mtx);
	while (!(started_only ? c->started : c->done))
		if (pthread_cond_timedwait(&c->cv, &c->mtx, &ts) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&c->mtx);
	assert_true(started_only ? c->started : c->done);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/* The test's allowlist. */
static const struct runner_param echo_params[] = {
    {.name = "word", .pattern = ".*"},
    {.name = "mode",
        .enum_values = (const char *const[]){"fast", "slow", NULL}},
    {.name = "num", .pattern = "[0-9]+", .flag = "-n"},
};
static const struct runner_cmd cmd_echo = {.name = "echo",
    .argv = (const char *const[]){"/bin/echo", "hello", NULL},
    .params = echo_params,
    .nparams = 3};
static const struct runner_cmd cmd_sleep = {.name = "sleep",
    .argv = (const char *const[]){"/bin/sleep", "30", NULL},
    .timeout_s = 1};
static const struct runner_cmd cmd_sleep_long = {
    .name = "sleep", .argv = (const char *const[]){"/bin/sleep", "30", NULL}};
static const struct runner_cmd cmd_false = {
    .name = "false", .argv = (const char *const[]){"/bin/false", NULL}};
static const int               ok_one[] = {1};
static const struct runner_cmd cmd_false_ok = {.name = "false",
    .argv = (const char *const[]){"/bin/false", NULL},
    .ok_codes = ok_one,
    .nok_codes = 1};
static const struct runner_cmd cmd_seq = {.name = "seq",
    .argv = (const char *const[]){"/usr/bin/seq", "1", "100000", NULL}};
static const struct runner_cmd cmd_long = {.name = "long",
    .argv = (const char *const[]){"/usr/bin/printf", "%010000d\n", "0", NULL}};

static struct runner *
new_runner(const char *path, unsigned max_tasks)
{
	static const char *const env_allow[] = {"ASAN_OPTIONS", "UBSAN_OPTIONS",
	    "LSAN_OPTIONS", "VSM_TEST_ALLOWED", NULL};
	struct runner_config     cfg;
	struct vsm_err           err;
	struct runner           *r;

	memset(&cfg, 0, sizeof(cfg));
	cfg.task_path = path;
	cfg.max_tasks = max_tasks;
	cfg.limits.open_files = 64;
	cfg.limits.nice = 3;
	cfg.grace_ms = 1000;
	cfg.max_output = OUTPUT_CAP;
	cfg.env_allow = env_allow;
	r = runner_new(&cfg, &err);
	if (r == NULL)
		fprintf(stderr, "runner_new: %s\n", err.msg);
	assert_non_null(r);
	return (r);
}

static int
setup(void **state)
{
	*state = new_runner(VSM_TASK_TEST_PATH, 4);
	return (0);
}

static int
teardown(void **state)
{
	runner_free(*state);
	return (0);
}

/*
 * The artifact test's directory: made by setup_art, removed by
 * teardown_art whether or not the test passed.
 */
static char art_dir[] = "/tmp/vsm-art-XXXXXX";

static int
setup_art(void **state)
{
	if (mkdtemp(art_dir) == NULL)
		return (-1);
	return (setup(state));
}

static int
teardown_art(void **state)
{
	int ret = 0;

	if (tu_rmtree(art_dir) == -1)
		ret = -1;
	return (teardown(state) == -1 ? -1 : ret);
}

/* Start module with params "k=v"... (NULL-terminated) and wait. */
static void
run_task(struct runner *r, struct collect *c, const char *module,
    const struct runner_cmd *cmd, const char *const *kv)
{
	Vsm__Task      t = VSM__TASK__INIT;
	Vsm__Param     p[8], *pp[8];
	char           keys[8][64];
	struct vsm_err err;
	size_t         n = 0;

	for (; kv != NULL && kv[n] != NULL; n++) {
		const char *eq = strchr(kv[n], '=');

		assert_true(n < 8 && eq != NULL);
		vsm__param__init(&p[n]);
		snprintf(
		    keys[n], sizeof(keys[n]), "%.*s", (int)(eq - kv[n]), kv[n]);
		p[n].key = keys[n];
		p[n].value = (char *)eq + 1;
		pp[n] = &p[n];
	}
	t.id = "task-1";
	t.module = (char *)module;
	t.params = pp;
	t.n_params = n;
	collect_init(c);
	if (runner_start(r, &t, cmd, collect_cb, c, &err) == -1)
		fail_msg("runner_start: %s", err.msg);
	collect_wait(c, 0);
	assert_int_equal(c->nresults, 1);
}

static double
jnum(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	assert_non_null(v);
	assert_true(json_is_number(v));
	return (json_number_value(v));
}

static void
test_ping_ok(void **state)
{
	struct collect c;

	run_task(*state, &c, "sys.ping", NULL, NULL);
	assert_int_equal(c.status, VSM__TASK_STATUS__TASK_OK);
	assert_true(c.started && c.pid > 0);
	assert_true(json_is_true(json_object_get(c.json, "pong")));
	assert_string_equal(
	    json_string_value(json_object_get(c.json, "agent_version")),
	    VSM_VERSION);
	collect_free(&c);
}

static void
test_sys_modules_return_numbers(void **state)
{
	struct collect c;
	json_t        *m;

	run_task(*state, &c, "sys.disk", NULL, NULL);
	assert_true(c.status == VSM__TASK_STATUS__TASK_OK ||
	    c.status == VSM__TASK_STATUS__TASK_WARN ||
	    c.status == VSM__TASK_STATUS__TASK_FAIL);
	assert_true(json_array_size(json_object_get(c.json, "mounts")) > 0);
	m = json_array_get(json_object_get(c.json, "mounts"), 0);
	assert_true(jnum(m, "size_bytes") > 0);
	assert_true(json_is_integer(json_object_get(m, "used_bytes")));
	assert_true(jnum(m, "used_pct") >= 0 && jnum(m, "used_pct") <= 100);
	assert_true(jnum(c.json, "warn_pct") == 80);
	collect_free(&c);

	run_task(*state, &c, "sys.disk", NULL,
	    (const char *const[]){
	        "path=/", "warn_pct=99", "fail_pct=100", NULL});
	assert_int_equal(json_array_size(json_object_get(c.json, "mounts")), 1);
	collect_free(&c);

	run_task(*state, &c, "sys.memory", NULL, NULL);
	assert_true(c.status != VSM__TASK_STATUS__TASK_ERROR);
	assert_true(json_is_integer(json_object_get(c.json, "total_bytes")));
	assert_true(jnum(c.json, "total_bytes") > 0);
	assert_true(jnum(c.json, "used_pct") >= 0);
	collect_free(&c);

	run_task(*state, &c, "sys.load", NULL, NULL);
	assert_true(c.status != VSM__TASK_STATUS__TASK_ERROR);
	assert_true(jnum(c.json, "load1") >= 0);
	assert_true(jnum(c.json, "cpus") >= 1);
	assert_true(jnum(c.json, "load5_pct") >= 0);
	collect_free(&c);
}

static void
test_facts_fields_present(void **state)
{
	struct collect c;
	json_t        *j;

	run_task(*state, &c, "sys.facts", NULL, NULL);
	assert_int_equal(c.status, VSM__TASK_STATUS__TASK_OK);
	j = c.json;
	assert_true(json_is_object(json_object_get(j, "os")));
	assert_non_null(json_string_value(
	    json_object_get(json_object_get(j, "kernel"), "release")));
	assert_true(jnum(j, "cpus") >= 1);
	assert_true(jnum(json_object_get(j, "memory"), "total_bytes") > 0);
	assert_true(json_is_array(json_object_get(j, "disks")));
	assert_true(json_is_object(json_object_get(j, "services")));
	assert_string_equal(
	    json_string_value(json_object_get(j, "agent_version")),
	    VSM_VERSION);
	/* A server found on this host reports a version. */
	if (access("/usr/bin/redis-server", X_OK) == 0)
		assert_non_null(json_string_value(json_object_get(
		    json_object_get(json_object_get(j, "services"), "redis"),
		    "version")));
	collect_free(&c);
}

static void
expect_refused(struct runner *r, const char *module,
    const struct runner_cmd *cmd, const char *const *kv, const char *needle)
{
	struct collect c;
	size_t         i;

	run_task(r, &c, module, cmd, kv);
	assert_int_equal(c.status, VSM__TASK_STATUS__TASK_ERROR);
	if (strstr(c.error, needle) == NULL)
		fail_msg("error '%s' does not name '%s'", c.error, needle);
	/* Nothing ran: no output from a command. */
	for (i = 0; i < c.nlines; i++)
		assert_int_equal(c.streams[i], VSM__LOG_LINE__STREAM__MODULE);
	collect_free(&c);
}

static void
test_bad_params_refused_before_running(void **state)
{
	struct runner *r = *state;

	expect_refused(r, "sys.disk", NULL,
	    (const char *const[]){"bogus=1", NULL}, "'bogus'");
	expect_refused(r, "sys.disk", NULL,
	    (const char *const[]){"warn_pct=lots", NULL}, "'warn_pct'");
	expect_refused(r, "sys.disk", NULL,
	    (const char *const[]){"warn_pct=150", NULL}, "out of range");
	expect_refused(r, "sys.disk", NULL,
	    (const char *const[]){"warn_pct=95", "fail_pct=90", NULL},
	    "'warn_pct'");
	expect_refused(r, "sys.disk", NULL,
	    (const char *const[]){"path=relative", NULL}, "'path'");
	expect_refused(r, "sys.ping", NULL, (const char *const[]){"x=1", NULL},
	    "unknown parameter 'x'");
	expect_refused(r, "no.such", NULL, NULL, "unknown module");
	/* exec: the allowlist's rules. */
	expect_refused(r, "exec.echo", &cmd_echo,
	    (const char *const[]){"bogus=1", NULL}, "'bogus'");
	expect_refused(r, "exec.echo", &cmd_echo,
	    (const char *const[]){"word=-n", NULL}, "'-'");
	expect_refused(r, "exec.echo", &cmd_echo,
	    (const char *const[]){"mode=medium", NULL}, "'mode'");
	expect_refused(r, "exec.echo", &cmd_echo,
	    (const char *const[]){"num=12x", NULL}, "'num'");
	expect_refused(r, "exec.echo", &cmd_echo,
	    (const char *const[]){"word=a\nb", NULL}, "control");
	expect_refused(r, "exec.nope", NULL, NULL, "not in the agent");
	expect_refused(r, "exec.sleep", &cmd_echo, NULL, "not in the agent");
}

static int
has_line(const struct collect *c, int stream, const char *line)
{
	size_t i;

	for (i = 0; i < c->nlines; i++)
		if (c->streams[i] == stream && strcmp(c->lines[i], line) == 0)
			return (1);
	return (0);
}

static void
test_exec_streams_output(void **state)
{
	struct collect c;

	run_task(*state, &c, "exec.echo", &cmd_echo,
	    (const char *const[]){"word=world", "num=3", "mode=fast", NULL});
	assert_int_equal(c.status, VSM__TASK_STATUS__TASK_OK);
	assert_int_equal(c.exit_code, 0);
	/* Params go in the allowlist's order: word, mode, then -n NUM. */
	assert_true(has_line(
	    &c, VSM__LOG_LINE__STREAM__STDOUT, "hello world fast -n 3"));
	assert_int_equal(json_array_size(json_object_get(c.json, "argv")), 6);
	collect_free(&c);
}

static void
test_exec_metacharacters_stay_literal(void **state)
{
	struct collect c;
	char           path[64], word[160], line[200];

	snprintf(path, sizeof(path), "/tmp/vsm-pwned.%ld", (long)getpid());
	unlink(path);
	snprintf(
	    word, sizeof(word), "word=$(touch %s); touch %s `id`", path, path);
	run_task(*state, &c, "exec.echo", &cmd_echo,
	    (const char *const[]){word, NULL});
	assert_int_equal(c.status, VSM__TASK_STATUS__TASK_OK);
	snprintf(line, sizeof(line), "hello %s", word + 5);
	assert_true(has_line(&c, VSM__LOG_LINE__STREAM__STDOUT, line));
	assert_int_equal(access(path, F_OK), -1);
	collect_free(&c);
}

static void
test_exec_exit_codes(void **state)
{
	struct collect c;

	run_task(*state, &c, "exec.false", &cmd_false, NULL);
	assert_int_equal(c.status, VSM__TASK_STATUS__TASK_FAIL);
	assert_int_equal(c.exit_code, 1);
	collect_free(&c);
	run_task(*state, &c, "exec.false", &cmd_false_ok, NULL);
	assert_int_equal(c.status, VSM__TASK_STATUS__TASK_OK);
	assert_int_equal(c.exit_code, 1);
	collect_free(&c);
}

static void
test_exec_dry_run_does_not_run(void **state)
{
	Vsm__Task      t = VSM__TASK__INIT;
	struct collect c;
	struct vsm_err err;

	t.id = "dry";
	t.module = "exec.echo";
	t.dry_run = 1;
	collect_init(&c);
	assert_int_equal(
	    runner_start(*state, &t, &cmd_echo, collect_cb, &c, &err), 0);
	collect_wait(&c, 0);
	assert_int_equal(c.status, VSM__TASK_STATUS__TASK_OK);
	assert_int_equal(c.nlines, 0);
	assert_true(json_is_true(json_object_get(c.json, "dry_run")));
	collect_free(&c);
}

static void
assert_group_gone(uint32_t pgid)
{
	int i;

	for (i = 0; i < 200; i++) {
		if (kill(-(pid_t)pgid, 0) == -1 && errno == ESRCH)
			return;
		usleep(50 * 1000);
	}
	fail_msg("process group %u still exists", pgid);
}

static void
test_timeout_kills_the_group(void **state)
{
	struct collect c;
	double         t0 = now_s();

	run_task(*state, &c, "exec.sleep", &cmd_sleep, NULL);
	assert_int_equal(c.status, VSM__TASK_STATUS__TASK_TIMEOUT);
	assert_non_null(strstr(c.error, "timed out"));
	assert_true(now_s() - t0 < 25.0); /* sleep 30 did not run out */
	assert_group_gone(c.pid);
	collect_free(&c);
}

static void
test_cancel_ends_cancelled(void **state)
{
	Vsm__Task      t = VSM__TASK__INIT;
	struct collect c;
	struct vsm_err err;
	double         t0 = now_s();

	t.id = "to-cancel";
	t.module = "exec.sleep";
	collect_init(&c);
	assert_int_equal(
	    runner_start(*state, &t, &cmd_sleep_long, collect_cb, &c, &err), 0);
	collect_wait(&c, 1);
	assert_int_equal(runner_cancel(*state, "no-such-task"), -1);
	assert_int_equal(runner_cancel(*state, "to-cancel"), 0);
	collect_wait(&c, 0);
	assert_int_equal(c.nresults, 1);
	assert_int_equal(c.status, VSM__TASK_STATUS__TASK_CANCELLED);
	assert_true(now_s() - t0 < 25.0);
	assert_group_gone(c.pid);
	collect_free(&c);
}

/*
 * test.artifact writes a file into the task's artifact directory and
 * announces it with its BLAKE2b; the runner passes the announcement on.
 * A child that announces a file that is not there as said is a protocol
 * error; a name that climbs out is refused by the module; a runner with
 * no artifact directory gives the task none.
 */
static void
test_artifacts_announced_only_when_true(void **state)
{
	static const char *const good[] = {"size=100000", "name=a.bin", NULL};
	static const char *const lie[] = {
	    "size=1000", "name=b.bin", "lie=true", NULL};
	static const char *const climb[] = {"name=../c.bin", NULL};
	struct runner_config     cfg;
	struct runner           *r;
	struct collect           c;
	struct vsm_err           err;
	const char              *dir = art_dir;
	char                     path[128];
	uint8_t                  h[32];
	int                      fd;

	memset(&cfg, 0, sizeof(cfg));
	cfg.task_path = VSM_TASK_TEST_PATH;
	cfg.artifact_dir = dir;
	cfg.grace_ms = 1000;
	assert_non_null(r = runner_new(&cfg, &err));

	run_task(r, &c, "test.artifact", NULL, good);
	assert_int_equal(c.status, VSM__TASK_STATUS__TASK_OK);
	assert_int_equal(c.nartifacts, 1);
	assert_string_equal(c.art_name, "a.bin");
	assert_int_equal(c.art_size, 100000);
	snprintf(path, sizeof(path), "%s/task-1/a.bin", dir);
	assert_true((fd = open(path, O_RDONLY)) >= 0);
	assert_int_equal(vsm_hash_file(fd, 100000, h, &err), 0);
	close(fd);
	assert_memory_equal(h, c.art_hash, sizeof(h));
	collect_free(&c);

	run_task(r, &c, "test.artifact", NULL, lie);
	assert_int_equal(c.status, VSM__TASK_STATUS__TASK_ERROR);
	assert_non_null(strstr(c.error, "protocol error"));
	assert_int_equal(c.nartifacts, 0);
	collect_free(&c);

	run_task(r, &c, "test.artifact", NULL, climb);
	assert_int_equal(c.status, VSM__TASK_STATUS__TASK_ERROR);
	assert_non_null(strstr(c.error, "artifact name"));
	assert_int_equal(c.nartifacts, 0);
	collect_free(&c);
	runner_free(r);

	/* The fixture's runner has no artifact directory. */
	run_task(*state, &c, "test.artifact", NULL, good);
	assert_int_equal(c.status, VSM__TASK_STATUS__TASK_ERROR);
	assert_non_null(strstr(c.error, "keeps no artifacts"));
	collect_free(&c);
}

static void
test_crash_reports_signal_and_runner_survives(void **state)
{
	struct collect c;

	run_task(*state, &c, "test.crash", NULL, NULL);
	assert_int_equal(c.status, VSM__TASK_STATUS__TASK_ERROR);
	if (strstr(c.error, "SIGSEGV") == NULL)
		fail_msg("error '%s' does not name SIGSEGV", c.error);
	collect_free(&c);
	run_task(*state, &c, "sys.ping", NULL, NULL);
	assert_int_equal(c.status, VSM__TASK_STATUS__TASK_OK);
	collect_free(&c);
}

static void
test_bad_frame_is_a_protocol_error(void **state)
{
	struct collect c;

	run_task(*state, &c, "test.badframe", NULL, NULL);
	assert_int_equal(c.status, VSM__TASK_STATUS__TASK_ERROR);
	assert_non_null(strstr(c.error, "protocol error"));
	assert_group_gone(c.pid);
	collect_free(&c);
	run_task(*state, &c, "sys.ping", NULL, NULL);
	assert_int_equal(c.status, VSM__TASK_STATUS__TASK_OK);
	collect_free(&c);
}

static int
env_has(json_t *env, const char *entry, int prefix)
{
	size_t i;

	for (i = 0; i < json_array_size(env); i++) {
		const char *e = json_string_value(json_array_get(env, i));

		if (prefix ? strncmp(e, entry, strlen(entry)) == 0
		           : strcmp(e, entry) == 0)
			return (1);
	}
	return (0);
}

static void
test_limits_and_environment_applied(void **state)
{
	struct collect c;
	json_t        *env;

	setenv("VSM_TEST_SECRET", "leak", 1);
	setenv("VSM_TEST_ALLOWED", "kept", 1);
	run_task(*state, &c, "test.limits", NULL, NULL);
	assert_int_equal(c.status, VSM__TASK_STATUS__TASK_OK);
	assert_int_equal((int)jnum(c.json, "nofile"), 64);
	assert_int_equal((int)jnum(c.json, "core"), 0);
	assert_true(jnum(c.json, "nice") >= 3);
	env = json_object_get(c.json, "env");
	assert_true(env_has(env, "PATH=" RUNNER_PATH, 0));
	assert_true(env_has(env, "LANG=C", 0));
	assert_false(env_has(env, "VSM_TEST_SECRET=", 1));
	assert_false(env_has(env, "HOME=", 1));
	collect_free(&c);
	unsetenv("VSM_TEST_SECRET");
	unsetenv("VSM_TEST_ALLOWED");
}

static void
test_env_allowlist_is_read_at_new(void **state)
{
	struct runner *r;
	struct collect c;

	setenv("VSM_TEST_ALLOWED", "kept", 1);
	r = new_runner(VSM_TASK_TEST_PATH, 1);
	run_task(r, &c, "test.limits", NULL, NULL);
	assert_true(env_has(
	    json_object_get(c.json, "env"), "VSM_TEST_ALLOWED=kept", 0));
	collect_free(&c);
	runner_free(r);
	unsetenv("VSM_TEST_ALLOWED");
}

static void
test_output_cap_counts_excess(void **state)
{
	struct collect c;

	run_task(*state, &c, "exec.seq", &cmd_seq, NULL);
	assert_int_equal(c.status, VSM__TASK_STATUS__TASK_OK);
	assert_true(c.stdout_bytes <= OUTPUT_CAP);
	/* seq 1 100000 prints 588895 bytes in 100000 lines. */
	assert_true(jnum(c.json, "output_dropped_bytes") > 0);
	assert_int_equal((int64_t)jnum(c.json, "output_dropped_bytes") +
	        (int64_t)jnum(c.json, "output_bytes"),
	    588895 - 100000);
	assert_true(jnum(c.json, "output_dropped_lines") > 0);
	assert_true(c.cap_noted);
	collect_free(&c);
}

static void
test_long_lines_are_split_and_marked(void **state)
{
	struct collect c;
	size_t         i, total = 0, n = 0, mlen = strlen(MARK);

	run_task(*state, &c, "exec.long", &cmd_long, NULL);
	assert_int_equal(c.status, VSM__TASK_STATUS__TASK_OK);
	for (i = 0; i < c.nlines; i++) {
		size_t len = strlen(c.lines[i]);

		if (c.streams[i] != VSM__LOG_LINE__STREAM__STDOUT)
			continue;
		assert_true(len <= RUNNER_LINE_DEFAULT);
		n++;
		if (len >= mlen && strcmp(c.lines[i] + len - mlen, MARK) == 0)
			total += len - mlen;
		else {
			total += len;
			assert_int_equal(i, c.nlines - 1); /* only the last */
		}
	}
	assert_true(n >= 3);
	assert_int_equal(total, 10000);
	collect_free(&c);
}

static void
test_concurrency_cap(void **state)
{
	struct runner *r = new_runner(VSM_TASK_TEST_PATH, 2);
	struct collect c[2];
	Vsm__Task      t = VSM__TASK__INIT;
	struct vsm_err err;
	char           id[16];
	int            i;

	t.module = "exec.sleep";
	for (i = 0; i < 2; i++) {
		snprintf(id, sizeof(id), "busy-%d", i);
		t.id = id;
		collect_init(&c[i]);
		assert_int_equal(runner_start(r, &t, &cmd_sleep_long,
		                     collect_cb, &c[i], &err),
		    0);
	}
	assert_int_equal(runner_slots(r), 0);
	t.id = "one-too-many";
	errno = 0;
	assert_int_equal(
	    runner_start(r, &t, &cmd_sleep_long, collect_cb, &c[0], &err), -1);
	assert_int_equal(errno, EBUSY);
	for (i = 0; i < 2; i++)
		collect_wait(&c[i], 1);
	/* runner_free cancels what runs; each task still ends once. */
	runner_free(r);
	for (i = 0; i < 2; i++) {
		assert_int_equal(c[i].nresults, 1);
		assert_int_equal(c[i].status, VSM__TASK_STATUS__TASK_CANCELLED);
		collect_free(&c[i]);
	}
}

static void
test_deadline_passed_is_timeout(void **state)
{
	Vsm__Task      t = VSM__TASK__INIT;
	struct collect c;
	struct vsm_err err;

	t.id = "late";
	t.module = "sys.ping";
	t.deadline_ms = 1000; /* 1970 */
	collect_init(&c);
	assert_int_equal(
	    runner_start(*state, &t, NULL, collect_cb, &c, &err), 0);
	collect_wait(&c, 0);
	assert_int_equal(c.status, VSM__TASK_STATUS__TASK_TIMEOUT);
	assert_false(c.started);
	collect_free(&c);
}

static void
test_production_binary_has_no_test_modules(void **state)
{
	struct runner *r = new_runner(VSM_TASK_PATH, 1);
	struct collect c;

	run_task(r, &c, "test.crash", NULL, NULL);
	assert_int_equal(c.status, VSM__TASK_STATUS__TASK_ERROR);
	assert_non_null(strstr(c.error, "unknown module"));
	collect_free(&c);
	run_task(r, &c, "sys.ping", NULL, NULL);
	assert_int_equal(c.status, VSM__TASK_STATUS__TASK_OK);
	collect_free(&c);
	runner_free(r);
}

extern char **environ;

/* `path --list-modules`: what it prints into buf; its exit status. */
static int
list_modules(const char *path, char *buf, size_t len)
{
	posix_spawn_file_actions_t fa;
	char   *argv[] = {(char *)path, "--list-modules", NULL};
	int     p[2], st;
	pid_t   pid;
	size_t  off = 0;
	ssize_t r;

	assert_int_equal(pipe(p), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addclose(&fa, p[0]);
	assert_int_equal(posix_spawn(&pid, path, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	while (off + 1 < len && (r = read(p[0], buf + off, len - 1 - off)) > 0)
		off += (size_t)r;
	buf[off] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return (WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static void
test_list_modules_prints_the_table(void **state)
{
	char buf[4096];

	/* One name a line, the exec family as exec.*, in table order. */
	assert_int_equal(list_modules(VSM_TASK_PATH, buf, sizeof(buf)), 0);
	assert_true(strncmp(buf, "sys.ping\n", 9) == 0);
	assert_non_null(strstr(buf, "\nsys.facts\n"));
	assert_non_null(strstr(buf, "\nexec.*\n"));
	assert_null(strstr(buf, "test."));
	assert_int_equal(list_modules(VSM_TASK_TEST_PATH, buf, sizeof(buf)), 0);
	assert_non_null(strstr(buf, "\ntest.crash\n"));
}

static void
test_missing_binary_refused(void **state)
{
	struct runner_config cfg;
	struct vsm_err       err;

	memset(&cfg, 0, sizeof(cfg));
	cfg.task_path = "/nonexistent/vsm-task";
	assert_null(runner_new(&cfg, &err));
	assert_non_null(strstr(err.msg, "/nonexistent/vsm-task"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_list_modules_prints_the_table),
	    cmocka_unit_test_setup_teardown(
	        test_artifacts_announced_only_when_true, setup_art,
	        teardown_art),
	    cmocka_unit_test_setup_teardown(test_ping_ok, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_sys_modules_return_numbers, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_facts_fields_present, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_bad_params_refused_before_running, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_exec_streams_output, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_exec_metacharacters_stay_literal, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_exec_exit_codes, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_exec_dry_run_does_not_run, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_timeout_kills_the_group, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_cancel_ends_cancelled, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_crash_reports_signal_and_runner_survives, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_bad_frame_is_a_protocol_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_limits_and_environment_applied, setup, teardown),
	    cmocka_unit_test(test_env_allowlist_is_read_at_new),
	    cmocka_unit_test_setup_teardown(
	        test_output_cap_counts_excess, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_long_lines_are_split_and_marked, setup, teardown),
	    cmocka_unit_test(test_concurrency_cap),
	    cmocka_unit_test_setup_teardown(
	        test_deadline_passed_is_timeout, setup, teardown),
	    cmocka_unit_test(test_production_binary_has_no_test_modules),
	    cmocka_unit_test(test_missing_binary_refused),
	};

	vsm_log_init("test_agent_runner", VSM_LOG_WARN, 0);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
