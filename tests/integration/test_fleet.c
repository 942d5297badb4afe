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

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
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
#include <sodium.h>

#include "testutil.h"

extern char **environ;

#define WAIT_MS     60000   /* the bound for anything to happen */
#define OUT_CAP     1048576 /* vsmctl output: job logs of 50 tasks */
#define MAX_AGENTS  3
#define MAX_ORPHANS 32
#define NJOBS       17 /* x 3 agents: 51 tasks */

struct agent {
	char  name[32];
	char  dir[128];
	char  cfg[160];
	char  log[160];
	pid_t pid;
};

/* One vsmctl run: exit code and what it wrote. */
struct out {
	int  rc;
	char out[OUT_CAP];
	char err[OUT_CAP];
};

static struct {
	char         dir[64];
	char         cdir[96];
	char         ccfg[160];
	char         clog[128];
	char         url[64];
	char         key[64];
	char         token[80];
	pid_t        cpid;
	struct agent ag[MAX_AGENTS];
	int          nag;
	pid_t        orphans[MAX_ORPHANS]; /* task process groups */
	int          norphans;
	int          task_test; /* agents run vsm-task-test (test modules) */
} fl;

static struct out ob;

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

static void
nap_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* --- processes ----------------------------------------------------------- */

/*
 * The process groups of pid's children (the agent's vsm-task children
 * run in their own groups) into fl.orphans, for the teardown to kill:
 * an agent killed with SIGKILL leaves them running.
 */
static void
note_task_groups(pid_t pid)
{
	DIR           *d;
	struct dirent *de;
	char           path[300], buf[512], *p;
	FILE          *fp;
	int            ppid, pgrp;

	if ((d = opendir("/proc")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		p = fgets(buf, sizeof(buf), fp);
		fclose(fp);
		/* PID (COMM) STATE PPID PGRP ...; COMM may hold anything. */
		if (p == NULL || (p = strrchr(buf, ')')) == NULL ||
		    sscanf(p + 1, " %*c %d %d", &ppid, &pgrp) != 2 ||
		    ppid != pid || pgrp == pid || pgrp <= 1)
			continue;
		if (fl.norphans < MAX_ORPHANS)
			fl.orphans[fl.norphans++] = pgrp;
	}
	closedir(d);
}

/* Kill the noted task groups whose leader is still a task or its child. */
static void
kill_task_groups(void)
{
	char  path[64], comm[64] = "";
	FILE *fp;
	int   i;

	for (i = 0; i < fl.norphans; i++) {
		snprintf(
		    path, sizeof(path), "/proc/%d/comm", (int)fl.orphans[i]);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		if (fgets(comm, sizeof(comm), fp) != NULL &&
		    (strncmp(comm, "vsm-task", 8) == 0 ||
		        strncmp(comm, "sleep", 5) == 0))
			kill(-fl.orphans[i], SIGKILL);
		fclose(fp);
	}
	fl.norphans = 0;
}

/* Replace the first `from` in the file with `to`. */
static void
file_replace(const char *path, const char *from, const char *to)
{
	static char buf[65536], res[65536];
	char       *p;
	FILE       *fp;
	size_t      n;

	assert_non_null(fp = fopen(path, "r"));
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	assert_non_null(p = strstr(buf, from));
	snprintf(res, sizeof(res), "%.*s%s%s", (int)(p - buf), buf, to,
	    p + strlen(from));
	assert_non_null(fp = fopen(path, "w"));
	fputs(res, fp);
	fclose(fp);
}

/* --- vsmctl -------------------------------------------------------------- */

/* Run vsmctl --dir CDIR ARGS (NULL-terminated); fills o, returns o->rc. */
static int
vsmctl_argv(struct out *o, char *const args[])
{
	posix_spawn_file_actions_t fa;
	char                      *argv[32];
	struct pollfd              pfd[2];
	size_t                     len[2] = {0, 0};
	char                      *buf[2] = {o->out, o->err};
	int                        po[2], pe[2], n = 0, i, open = 2, st;
	ssize_t                    r;
	pid_t                      pid;

	argv[n++] = VSMCTL_PATH;
	argv[n++] = "--dir";
	argv[n++] = fl.cdir;
	for (i = 0; n < 31 && args[i] != NULL; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	assert_int_equal(pipe(po), 0);
	assert_int_equal(pipe(pe), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	posix_spawn_file_actions_addclose(&fa, po[0]);
	posix_spawn_file_actions_addclose(&fa, pe[0]);
	assert_int_equal(
	    posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(po[1]);
	close(pe[1]);
	pfd[0].fd = po[0];
	pfd[1].fd = pe[0];
	pfd[0].events = pfd[1].events = POLLIN;
	while (open > 0) {
		if (poll(pfd, 2, WAIT_MS) <= 0) {
			kill(pid, SIGKILL); /* stuck: fail, do not hang */
			break;
		}
		for (i = 0; i < 2; i++) {
			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			r = read(
			    pfd[i].fd, buf[i] + len[i], OUT_CAP - 1 - len[i]);
			if (r <= 0) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
				open--;
			} else
				len[i] += (size_t)r;
		}
	}
	for (i = 0; i < 2; i++)
		if (pfd[i].fd >= 0)
			close(pfd[i].fd);
	o->out[len[0]] = '\0';
	o->err[len[1]] = '\0';
	assert_int_equal(waitpid(pid, &st, 0), pid);
	o->rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return (o->rc);
}

/* Collect the NULL-terminated arguments after `first` into args[1..]. */
static void
collect(char *args[], int cap, const char *first, va_list ap)
{
	int n = 0;

	args[n++] = (char *)first;
	while (n < cap - 1 && (args[n] = va_arg(ap, char *)) != NULL)
		n++;
	args[n] = NULL;
}

static int
vsmctl(struct out *o, const char *first, ...)
{
	va_list ap;
	char   *args[24];

	va_start(ap, first);
	collect(args, 24, first, ap);
	va_end(ap);
	return (vsmctl_argv(o, args));
}

/*
 * vsmctl --json ARGS (NULL-terminated): the document (caller decrefs), or
 * NULL when vsmctl failed or printed no one JSON document.
 */
static json_t *
ctl_doc(const char *first, ...)
{
	va_list ap;
	char   *args[24];

	args[0] = "--json";
	va_start(ap, first);
	collect(args + 1, 23, first, ap);
	va_end(ap);
	if (vsmctl_argv(&ob, args) != 0) {
		fprintf(
		    stderr, "# vsmctl %s: exit %d: %s", first, ob.rc, ob.err);
		return (NULL);
	}
	return (json_loads(ob.out, 0, NULL));
}

static const char *
jstr(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return (s != NULL ? s : "");
}

/* The element of the array whose "name" is name, or NULL. */
static json_t *
by_name(json_t *arr, const char *name)
{
	json_t *e;
	size_t  i;

	json_array_foreach(arr, i, e)
	{
		if (strcmp(jstr(e, "name"), name) == 0)
			return (e);
	}
	return (NULL);
}

static int
is_final(const char *state)
{
	static const char *const fin[] = {
	    "ok", "warn", "fail", "error", "cancelled", "timeout", "lost"};
	size_t i;

	for (i = 0; i < sizeof(fin) / sizeof(fin[0]); i++)
		if (strcmp(state, fin[i]) == 0)
			return (1);
	return (0);
}

/* --- the fleet ----------------------------------------------------------- */

/* Start `vsm-controller run`; 0 once vsmctl gets an answer, or -1. */
static int
controller_start(void)
{
	char *argv[] = {VSM_CONTROLLER_PATH, "run", "--config", fl.ccfg, NULL};
	uint64_t end = now_ms() + WAIT_MS;
	int      st;

	if ((fl.cpid = tu_spawn_logged(argv, fl.clog)) == -1)
		return (-1);
	while (now_ms() < end) {
		/* It exits when the port is not free yet: start it again. */
		if (waitpid(fl.cpid, &st, WNOHANG) == fl.cpid) {
			nap_ms(200);
			if ((fl.cpid = tu_spawn_logged(argv, fl.clog)) == -1)
				return (-1);
			continue;
		}
		if (vsmctl(&ob, "hosts", NULL) == 0)
			return (0);
		nap_ms(200);
	}
	return (-1);
}

static void
controller_kill9(void)
{
	int st;

	if (fl.cpid <= 0)
		return;
	kill(fl.cpid, SIGKILL);
	waitpid(fl.cpid, &st, 0);
	fl.cpid = 0;
}

/* A directory, a controller with a 1 s heartbeat, running and answering. */
static void
fleet_init(void)
{
	char  out[128], line[512];
	char *argv[] = {VSM_CONTROLLER_PATH, "init", "--dir", fl.cdir,
	    "--listen", fl.url, "--token-uses", "8", NULL};
	FILE *fp;

	memset(&fl, 0, sizeof(fl));
	snprintf(fl.dir, sizeof(fl.dir), "/tmp/vsm-fleet-XXXXXX");
	assert_non_null(mkdtemp(fl.dir));
	snprintf(fl.cdir, sizeof(fl.cdir), "%s/controller", fl.dir);
	snprintf(fl.ccfg, sizeof(fl.ccfg), "%s/controller.yaml", fl.cdir);
	snprintf(fl.clog, sizeof(fl.clog), "%s/controller.log", fl.dir);
	tu_loopback_url(fl.url, sizeof(fl.url));
	snprintf(out, sizeof(out), "%s/init.out", fl.dir);
	assert_int_equal(tu_run_wait(argv, out), 0);
	assert_non_null(fp = fopen(out, "r"));
	while (fgets(line, sizeof(line), fp) != NULL) {
		sscanf(line, "controller key: %63s", fl.key);
		sscanf(line, "enrollment token: %79s", fl.token);
	}
	fclose(fp);
	assert_int_equal(strlen(fl.key), 44);
	assert_int_equal(strlen(fl.token), 64);
	file_replace(fl.ccfg, "heartbeat: 30s", "heartbeat: 1s");
	assert_int_equal(controller_start(), 0);
}

static void
agent_start(struct agent *a)
{
	char *argv[] = {VSM_AGENT_PATH, "run", "--config", a->cfg, NULL};

	assert_true((a->pid = tu_spawn_logged(argv, a->log)) > 0);
}

/*
 * `vsm-agent init` and `run` for NAME with the labels role=ROLE and
 * env=test and token (NULL: none), a 1 s heartbeat and the allowlist
 * sleeper (/bin/sleep 30) and nap (/bin/sleep 1).
 */
static struct agent *
agent_add(const char *name, const char *role, const char *token)
{
	struct agent *a;
	char          label[64], top[sizeof(fl.dir)];
	char          dir[sizeof(fl.ag[0].dir)];
	char         *argv[20];
	int           n = 0;

	assert_true(fl.nag < MAX_AGENTS);
	memcpy(top, fl.dir, sizeof(top));
	a = &fl.ag[fl.nag++];
	snprintf(a->name, sizeof(a->name), "%s", name);
	snprintf(dir, sizeof(dir), "%s/%s", top, name);
	memcpy(a->dir, dir, sizeof(a->dir));
	snprintf(a->cfg, sizeof(a->cfg), "%s/agent.yaml", dir);
	snprintf(a->log, sizeof(a->log), "%s/%s.log", top, name);
	snprintf(label, sizeof(label), "role=%s", role);
	argv[n++] = VSM_AGENT_PATH;
	argv[n++] = "init";
	argv[n++] = "--dir";
	argv[n++] = a->dir;
	argv[n++] = "--controller";
	argv[n++] = fl.url;
	argv[n++] = "--controller-key";
	argv[n++] = fl.key;
	argv[n++] = "--name";
	argv[n++] = a->name;
	argv[n++] = "--label";
	argv[n++] = label;
	argv[n++] = "--label";
	argv[n++] = "env=test";
	if (token != NULL) {
		argv[n++] = "--token";
		argv[n++] = (char *)token;
	}
	argv[n] = NULL;
	assert_int_equal(tu_run_wait(argv, a->log), 0);
	file_replace(a->cfg, "heartbeat: 30s", "heartbeat: 1s");
	/* AddressSanitizer builds of vsm-task need a large address space. */
	file_replace(a->cfg, "memory: 4GiB", "memory: unlimited");
	file_replace(a->cfg, "commands: {}",
	    "commands:\n  sleeper: [\"/bin/sleep\", \"30\"]\n"
	    "  nap: [\"/bin/sleep\", \"1\"]");
	if (fl.task_test)
		file_replace(a->cfg, "runner:\n",
		    "runner:\n  task_binary: " VSM_TASK_TEST_PATH "\n");
	agent_start(a);
	return (a);
}

/* 1 while any process of group pgrp is alive (not a zombie). */
static int
group_alive(pid_t pgrp)
{
	DIR           *d;
	struct dirent *de;
	char           path[300], buf[512], *p, state;
	FILE          *fp;
	int            ppid, pg, alive = 0;

	if ((d = opendir("/proc")) == NULL)
		return (0);
	while (!alive && (de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		p = fgets(buf, sizeof(buf), fp);
		fclose(fp);
		if (p != NULL && (p = strrchr(buf, ')')) != NULL &&
		    sscanf(p + 1, " %c %d %d", &state, &ppid, &pg) == 3 &&
		    pg == pgrp && state != 'Z')
			alive = 1;
	}
	closedir(d);
	return (alive);
}

static int
task_groups_gone(void *arg)
{
	int i;

	for (i = 0; i < fl.norphans; i++)
		if (group_alive(fl.orphans[i]))
			return (0);
	return (1);
}

/* SIGKILL the agent, noting the task children it leaves behind. */
static void
agent_kill9(struct agent *a)
{
	int st;

	if (a->pid <= 0)
		return;
	kill(a->pid, SIGSTOP); /* no new task child from here on */
	note_task_groups(a->pid);
	kill(a->pid, SIGKILL);
	waitpid(a->pid, &st, 0);
	a->pid = 0;
}

static int
fleet_teardown(void **state)
{
	char *argv[] = {"/bin/rm", "-rf", fl.dir, NULL};
	int   i, st;

	(void)state;
	for (i = 0; i < fl.nag; i++)
		agent_kill9(&fl.ag[i]);
	kill_task_groups();
	if (fl.cpid > 0) {
		kill(fl.cpid, SIGTERM);
		for (i = 0; i < 100; i++) {
			if (waitpid(fl.cpid, &st, WNOHANG) == fl.cpid)
				break;
			nap_ms(100);
		}
		if (i == 100)
			controller_kill9();
		fl.cpid = 0;
	}
	if (fl.dir[0] != '\0') {
		if (getenv("VSM_KEEP_TMP") != NULL)
			fprintf(stderr, "# kept %s\n", fl.dir);
		else
			tu_run_wait(argv, "/dev/null");
	}
	memset(&fl, 0, sizeof(fl));
	return (0);
}

/*
 * Wait until the first n agents of the fleet are connected in `hosts` (and,
 * when facts, has non-empty facts); the hosts document (caller decrefs).
 */
static json_t *
wait_connected(int n, int facts)
{
	uint64_t end = now_ms() + WAIT_MS;
	json_t  *doc, *h;
	int      i, ok;

	for (;;) {
		ok = (doc = ctl_doc("hosts", NULL)) != NULL;
		for (i = 0; ok && i < n; i++) {
			h = by_name(doc, fl.ag[i].name);
			ok = h != NULL &&
			    json_is_true(json_object_get(h, "connected")) &&
			    (!facts ||
			        json_object_size(json_object_get(h, "facts")) >
			            0);
		}
		if (ok || now_ms() >= end)
			break;
		json_decref(doc);
		nap_ms(250);
	}
	assert_true(ok);
	return (doc);
}

/* `job show ID` until cond(doc) holds; the document (caller decrefs). */
static json_t *
wait_job(const char *id, int (*cond)(json_t *))
{
	uint64_t end = now_ms() + WAIT_MS;
	json_t  *doc;
	int      ok;

	for (;;) {
		doc = ctl_doc("job", "show", id, NULL);
		ok = doc != NULL && cond(doc);
		if (ok || now_ms() >= end)
			break;
		json_decref(doc);
		nap_ms(250);
	}
	assert_true(ok);
	return (doc);
}

static int
first_task_running(json_t *doc)
{
	json_t *t = json_array_get(json_object_get(doc, "tasks"), 0);

	return (strcmp(jstr(t, "state"), "running") == 0);
}

static int
all_tasks_final(json_t *doc)
{
	json_t *t;
	size_t  i;

	json_array_foreach(json_object_get(doc, "tasks"), i, t)
	{
		if (!is_final(jstr(t, "state")))
			return (0);
	}
	return (1);
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
	fleet_init();
	agent_add("db-1", roles[0], fl.token);
	agent_add("db-2", roles[1], fl.token);
	agent_add("app-1", roles[2], fl.token);
	/* Each agent sends a sys.facts run after connecting. */
	doc = wait_connected(3, 1);
	assert_int_equal(json_array_size(doc), 3);
	for (i = 0; i < fl.nag; i++) {
		assert_non_null(h = by_name(doc, fl.ag[i].name));
		assert_true(json_is_true(json_object_get(h, "connected")));
		assert_string_equal(jstr(h, "state"), "up");
		labels = json_object_get(h, "labels");
		assert_string_equal(jstr(labels, "role"), roles[i]);
		assert_string_equal(jstr(labels, "env"), "test");
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
	assert_int_equal(vsmctl(&ob, "host", "show", "db-1", NULL), 0);
	assert_non_null(strstr(ob.out, "role=db"));
	assert_non_null(strstr(ob.out, "cpus"));
	assert_non_null(strstr(ob.out, "exec.sleeper exec.nap"));
	assert_non_null(strstr(ob.out, "sys.ping"));
	/* The token accepted their keys: none pending. */
	assert_non_null(doc = ctl_doc("keys", "list", NULL));
	assert_int_equal(json_array_size(doc), 3);
	for (i = 0; i < fl.nag; i++)
		assert_string_equal(
		    jstr(by_name(doc, fl.ag[i].name), "state"), "accepted");
	json_decref(doc);
}

static int
pending_both(void)
{
	json_t *doc = ctl_doc("keys", "list", NULL);
	int     ok;

	ok = doc != NULL &&
	    strcmp(jstr(by_name(doc, "web-1"), "state"), "pending") == 0 &&
	    strcmp(jstr(by_name(doc, "web-2"), "state"), "pending") == 0;
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
	fleet_init();
	agent_add("web-1", "web", NULL);
	agent_add("web-2", "web",
	    "0000000000000000000000000000000000000000000000000000000000000000");
	end = now_ms() + WAIT_MS;
	while (!(ok = pending_both()) && now_ms() < end)
		nap_ms(250);
	assert_true(ok);
	/* Pending hosts are not connected. */
	assert_non_null(doc = ctl_doc("hosts", NULL));
	h = by_name(doc, "web-1");
	assert_true(
	    h == NULL || !json_is_true(json_object_get(h, "connected")));
	h = by_name(doc, "web-2");
	assert_true(
	    h == NULL || !json_is_true(json_object_get(h, "connected")));
	json_decref(doc);

	/* Accept web-1 by name: it gets in, web-2 stays pending. */
	assert_int_equal(vsmctl(&ob, "keys", "accept", "web-1", NULL), 0);
	assert_non_null(strstr(ob.out, "accepted"));
	json_decref(wait_connected(1, 0));
	assert_non_null(doc = ctl_doc("keys", "list", NULL));
	assert_string_equal(jstr(by_name(doc, "web-1"), "state"), "accepted");
	assert_non_null(k = by_name(doc, "web-2"));
	assert_string_equal(jstr(k, "state"), "pending");
	snprintf(id, sizeof(id), "%lld",
	    (long long)json_integer_value(json_object_get(k, "id")));
	json_decref(doc);

	/* Accept web-2 by key id: both connected. */
	assert_int_equal(vsmctl(&ob, "keys", "accept", id, NULL), 0);
	json_decref(wait_connected(2, 0));
}

static void
test_run_on_selector_runs_on_matching_hosts_only(void **state)
{
	json_t *doc, *t;
	size_t  i;
	int     db1 = 0, db2 = 0;

	(void)state;
	fleet_init();
	agent_add("db-1", "db", fl.token);
	agent_add("db-2", "db", fl.token);
	agent_add("app-1", "app", fl.token);
	json_decref(wait_connected(fl.nag, 0));

	doc = ctl_doc("run", "sys.ping", "--target", "role=db", "--wait", NULL);
	assert_non_null(doc);
	assert_string_equal(
	    jstr(json_object_get(doc, "job"), "target"), "role=db");
	assert_int_equal(json_array_size(json_object_get(doc, "tasks")), 2);
	json_array_foreach(json_object_get(doc, "tasks"), i, t)
	{
		db1 += strcmp(jstr(t, "host"), "db-1") == 0;
		db2 += strcmp(jstr(t, "host"), "db-2") == 0;
		assert_string_equal(jstr(t, "state"), "ok");
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
	doc = ctl_doc("run", "exec.nap", "--target", "role=app", "--dry-run",
	    "--wait", NULL);
	assert_non_null(doc);
	assert_true(json_is_true(
	    json_object_get(json_object_get(doc, "job"), "dry_run")));
	assert_int_equal(json_array_size(json_object_get(doc, "tasks")), 1);
	t = json_array_get(json_object_get(doc, "tasks"), 0);
	assert_string_equal(jstr(t, "state"), "ok");
	t = json_object_get(json_object_get(t, "result"), "result");
	assert_true(json_is_true(json_object_get(t, "dry_run")));
	assert_null(json_object_get(t, "exit_code"));
	json_decref(doc);
}

static void
test_agent_killed_mid_task_never_reports_ok(void **state)
{
	struct agent *a;
	json_t       *doc, *t, *e;
	char          job[64];
	size_t        i;

	(void)state;
	fleet_init();
	agent_add("db-1", "db", fl.token);
	a = agent_add("app-1", "app", fl.token);
	json_decref(wait_connected(fl.nag, 0));

	assert_non_null(doc = ctl_doc("run", "exec.sleeper", "--target",
	                    "name=app-1", NULL));
	assert_int_equal(json_integer_value(json_object_get(doc, "tasks")), 1);
	snprintf(job, sizeof(job), "%s", jstr(doc, "job"));
	json_decref(doc);
	assert_int_equal(strlen(job), 32);
	json_decref(wait_job(job, first_task_running));

	/* SIGKILL mid-task, then start it again on the same directory. */
	agent_kill9(a);
	/* The task child and its command die with the agent (no orphan). */
	assert_true(fl.norphans >= 1);
	assert_true(tu_wait(task_groups_gone, NULL, 20000));
	agent_start(a);
	doc = wait_job(job, all_tasks_final);
	t = json_array_get(json_object_get(doc, "tasks"), 0);
	fprintf(stderr, "# after kill -9: %s\n", jstr(t, "state"));
	assert_true(strcmp(jstr(t, "state"), "error") == 0 ||
	    strcmp(jstr(t, "state"), "lost") == 0);
	json_decref(doc);
	/* Nothing ever said ok. */
	assert_non_null(doc = ctl_doc("job", "logs", job, NULL));
	json_array_foreach(json_object_get(doc, "events"), i, e)
	{
		assert_string_not_equal(jstr(e, "status"), "ok");
	}
	json_decref(doc);
	/* And the agent is back. */
	json_decref(wait_connected(fl.nag, 0));
}

/* Every job's tasks final, by the jobs document. */
static int
jobs_done(char jobs[][64], int n)
{
	json_t     *doc = ctl_doc("jobs", NULL), *j, *st, *v;
	const char *k;
	int         i, ok = doc != NULL;
	size_t      x;
	json_int_t  sum;

	for (i = 0; ok && i < n; i++) {
		ok = 0;
		json_array_foreach(doc, x, j)
		{
			if (strcmp(jstr(j, "id"), jobs[i]) != 0)
				continue;
			sum = 0;
			st = json_object_get(j, "states");
			ok = 1;
			json_object_foreach(st, k, v)
			{
				if (!is_final(k))
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
	fleet_init();
	agent_add("db-1", "db", fl.token);
	agent_add("db-2", "db", fl.token);
	agent_add("app-1", "app", fl.token);
	json_decref(wait_connected(fl.nag, 0));

	/* 17 jobs of a 1 s command on 3 hosts: 51 tasks, 2 at a time each. */
	for (j = 0; j < NJOBS; j++) {
		assert_non_null(
		    doc = ctl_doc("run", "exec.nap", "--target", "all", NULL));
		assert_int_equal(
		    json_integer_value(json_object_get(doc, "tasks")), 3);
		snprintf(jobs[j], sizeof(jobs[j]), "%s", jstr(doc, "job"));
		json_decref(doc);
	}
	assert_non_null(doc = ctl_doc("jobs", NULL));
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

	controller_kill9();
	assert_int_equal(controller_start(), 0);
	end = now_ms() + 2 * WAIT_MS;
	while (!(ok = jobs_done(jobs, NJOBS)) && now_ms() < end)
		nap_ms(500);
	assert_true(ok);

	for (j = 0; j < NJOBS; j++) {
		assert_non_null(show = ctl_doc("job", "show", jobs[j], NULL));
		tasks = json_object_get(show, "tasks");
		assert_int_equal(json_array_size(tasks), 3);
		/* Exactly one start and one result event per task. */
		assert_non_null(doc = ctl_doc("job", "logs", jobs[j], NULL));
		assert_true(json_is_true(json_object_get(doc, "done")));
		json_array_foreach(tasks, i, t)
		{
			tid = jstr(t, "id");
			assert_string_equal(jstr(t, "state"), "ok");
			assert_true(
			    json_is_object(json_object_get(t, "result")));
			/* Started by one agent, once. */
			assert_int_equal(starts_recorded(tid), 1);
			started = results = 0;
			json_array_foreach(json_object_get(doc, "events"), k, e)
			{
				if (strcmp(jstr(e, "task"), tid) != 0 ||
				    strcmp(jstr(e, "kind"), "status") != 0)
					continue;
				started +=
				    strcmp(jstr(e, "status"), "running") == 0;
				results += is_final(jstr(e, "status"));
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
	struct agent *a;
	json_t       *doc, *t, *art;
	char          job[64], tid[64], part[256], mine[256], want[65];
	uint64_t      t0, end;
	off_t         sz;

	(void)state;
	fleet_init();
	fl.task_test = 1;
	a = agent_add("db-1", "db", fl.token);
	json_decref(wait_connected(1, 0));
	art_expected(ART_SIZE, want);

	t0 = now_ms();
	assert_non_null(doc = ctl_doc("run", "test.artifact", "--target", "all",
	                    "--param", "size=1GiB", NULL));
	snprintf(job, sizeof(job), "%s", jstr(doc, "job"));
	json_decref(doc);
	assert_non_null(doc = ctl_doc("job", "show", job, NULL));
	t = json_array_get(json_object_get(doc, "tasks"), 0);
	snprintf(tid, sizeof(tid), "%s", jstr(t, "id"));
	json_decref(doc);
	snprintf(
	    part, sizeof(part), "%s/artifacts/%s/.test.bin.part", fl.cdir, tid);
	snprintf(mine, sizeof(mine), "%s/artifacts/%s/test.bin", a->dir, tid);

	/* Kill the controller once a third has arrived. */
	end = now_ms() + 4 * WAIT_MS;
	while ((sz = file_size(part)) < (off_t)(ART_SIZE / 3) && now_ms() < end)
		nap_ms(20);
	fprintf(stderr, "# controller killed with %lld bytes received\n",
	    (long long)sz);
	assert_true(sz >= (off_t)(ART_SIZE / 3));
	controller_kill9();
	assert_int_equal(controller_start(), 0);

	doc = wait_job(job, first_artifact_complete);
	fprintf(stderr,
	    "# 1 GiB artifact stored and verified %.1f s after "
	    "the job started\n",
	    (double)(now_ms() - t0) / 1000);
	t = json_array_get(json_object_get(doc, "tasks"), 0);
	assert_string_equal(jstr(t, "state"), "ok");
	art = json_array_get(json_object_get(t, "artifacts"), 0);
	assert_int_equal(json_integer_value(json_object_get(art, "size")),
	    (json_int_t)ART_SIZE);
	assert_string_equal(jstr(art, "blake2b"), want);
	json_decref(doc);
	/* It resumed: not from byte 0. */
	assert_true(file_has(a->log, "resuming at byte"));
	assert_true(file_has(fl.clog, "resumes at byte"));
	/* The agent's copy goes once the controller has it. */
	end = now_ms() + WAIT_MS;
	while (file_size(mine) >= 0 && now_ms() < end)
		nap_ms(100);
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
	struct agent *a;
	json_t       *doc, *e;
	char          job[64], tid[64], path[256];
	uint64_t      end;
	size_t        i;
	int           found = 0;

	(void)state;
	fleet_init();
	controller_kill9();
	file_replace(
	    fl.ccfg, "artifact_max_size: 1TiB", "artifact_max_size: 1MiB");
	assert_int_equal(controller_start(), 0);
	fl.task_test = 1;
	a = agent_add("db-1", "db", fl.token);
	json_decref(wait_connected(1, 0));
	assert_non_null(doc = ctl_doc("run", "test.artifact", "--target", "all",
	                    "--param", "size=2MiB", NULL));
	snprintf(job, sizeof(job), "%s", jstr(doc, "job"));
	json_decref(doc);
	doc = wait_job(job, all_tasks_final);
	snprintf(tid, sizeof(tid), "%s",
	    jstr(json_array_get(json_object_get(doc, "tasks"), 0), "id"));
	json_decref(doc);
	end = now_ms() + WAIT_MS;
	while (!found && now_ms() < end) {
		assert_non_null(doc = ctl_doc("job", "logs", job, NULL));
		json_array_foreach(json_object_get(doc, "events"), i, e)
		{
			found |=
			    strstr(jstr(e, "text"), "not uploaded") != NULL;
		}
		json_decref(doc);
		if (!found)
			nap_ms(250);
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
