/*
 * tu_fleet.c: a fleet of real processes for the integration tests
 * (tu_fleet.h). Moved here from test_fleet.c so that test_scheduler.c
 * drives its fleet the same way.
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

#include "testutil.h"
#include "tu_fleet.h"

extern char **environ;

uint64_t
tu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

void
tu_nap_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* --- processes ----------------------------------------------------------- */

/*
 * The process groups of pid's children (the agent's vsm-task children
 * run in their own groups) into fl->orphans, for the teardown to kill:
 * an agent killed with SIGKILL leaves them running.
 */
static void
note_task_groups(struct tu_fleet *fl, pid_t pid)
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
		if (fl->norphans < TU_FLEET_ORPHANS)
			fl->orphans[fl->norphans++] = pgrp;
	}
	closedir(d);
}

/* Kill the noted task groups whose leader is still a task or its child. */
static void
kill_task_groups(struct tu_fleet *fl)
{
	char  path[64], comm[64] = "";
	FILE *fp;
	int   i;

	for (i = 0; i < fl->norphans; i++) {
		snprintf(
		    path, sizeof(path), "/proc/%d/comm", (int)fl->orphans[i]);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		if (fgets(comm, sizeof(comm), fp) != NULL &&
		    (strncmp(comm, "vsm-task", 8) == 0 ||
		        strncmp(comm, "sleep", 5) == 0))
			kill(-fl->orphans[i], SIGKILL);
		fclose(fp);
	}
	fl->norphans = 0;
}

void
tu_file_replace(const char *path, const char *from, const char *to)
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
	assert_true(
	    (size_t)snprintf(res, sizeof(res), "%.*s%s%s", (int)(p - buf), buf,
	        to, p + strlen(from)) < sizeof(res));
	assert_non_null(fp = fopen(path, "w"));
	fputs(res, fp);
	fclose(fp);
}

/* --- vsmctl -------------------------------------------------------------- */

int
tu_vsmctl_argv(struct tu_fleet *fl, struct tu_out *o, char *const args[])
{
	posix_spawn_file_actions_t fa;
	char                      *argv[48];
	struct pollfd              pfd[2];
	size_t                     len[2] = {0, 0};
	char                      *buf[2] = {o->out, o->err};
	int                        po[2], pe[2], n = 0, i, open = 2, st;
	int                        full = 0;
	ssize_t                    r;
	pid_t                      pid;

	argv[n++] = (char *)fl->vsmctl_path;
	argv[n++] = "--dir";
	argv[n++] = fl->cdir;
	for (i = 0; n < 47 && args[i] != NULL; i++)
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
		if (poll(pfd, 2, TU_FLEET_WAIT_MS) <= 0) {
			kill(pid, SIGKILL); /* stuck: fail, do not hang */
			break;
		}
		for (i = 0; i < 2; i++) {
			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			if (len[i] == TU_FLEET_OUT_CAP - 1) {
				/* read(..., 0) would look like EOF */
				full = 1;
				kill(pid, SIGKILL);
				close(pfd[i].fd);
				pfd[i].fd = -1;
				open--;
				continue;
			}
			r = read(pfd[i].fd, buf[i] + len[i],
			    TU_FLEET_OUT_CAP - 1 - len[i]);
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
	if (full)
		fail_msg("vsmctl: output over %d bytes", TU_FLEET_OUT_CAP - 1);
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

int
tu_vsmctl(struct tu_fleet *fl, struct tu_out *o, const char *first, ...)
{
	va_list ap;
	char   *args[40];

	va_start(ap, first);
	collect(args, 40, first, ap);
	va_end(ap);
	return (tu_vsmctl_argv(fl, o, args));
}

json_t *
tu_ctl_doc(struct tu_fleet *fl, const char *first, ...)
{
	va_list ap;
	char   *args[40];

	args[0] = "--json";
	va_start(ap, first);
	collect(args + 1, 39, first, ap);
	va_end(ap);
	if (tu_vsmctl_argv(fl, fl->ob, args) != 0) {
		fprintf(stderr, "# vsmctl %s: exit %d: %s", first, fl->ob->rc,
		    fl->ob->err);
		return (NULL);
	}
	return (json_loads(fl->ob->out, 0, NULL));
}

const char *
tu_jstr(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return (s != NULL ? s : "");
}

json_t *
tu_by_name(json_t *arr, const char *name)
{
	json_t *e;
	size_t  i;

	json_array_foreach(arr, i, e)
	{
		if (strcmp(tu_jstr(e, "name"), name) == 0)
			return (e);
	}
	return (NULL);
}

int
tu_is_final(const char *state)
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

int
tu_controller_start(struct tu_fleet *fl)
{
	char *argv[] = {
	    (char *)fl->controller_path, "run", "--config", fl->ccfg, NULL};
	uint64_t end = tu_now_ms() + TU_FLEET_WAIT_MS;
	int      st;

	if ((fl->cpid = tu_spawn_logged(argv, fl->clog)) == -1)
		return (-1);
	while (tu_now_ms() < end) {
		/* It exits when the port is not free yet: start it again. */
		if (waitpid(fl->cpid, &st, WNOHANG) == fl->cpid) {
			tu_nap_ms(200);
			if ((fl->cpid = tu_spawn_logged(argv, fl->clog)) == -1)
				return (-1);
			continue;
		}
		if (tu_vsmctl(fl, fl->ob, "hosts", NULL) == 0)
			return (0);
		tu_nap_ms(200);
	}
	return (-1);
}

void
tu_controller_kill9(struct tu_fleet *fl)
{
	int st;

	if (fl->cpid <= 0)
		return;
	kill(fl->cpid, SIGKILL);
	waitpid(fl->cpid, &st, 0);
	fl->cpid = 0;
}

void
tu_fleet_init(struct tu_fleet *fl, const char *prefix)
{
	const char    *cp = fl->controller_path, *ap = fl->agent_path;
	const char    *vp = fl->vsmctl_path, *tp = fl->task_test_path;
	struct tu_out *ob = fl->ob;
	char           out[128], line[512];
	char *argv[] = {(char *)cp, "init", "--dir", fl->cdir, "--listen",
	    fl->url, "--token-uses", "8", NULL};
	FILE *fp;

	memset(fl, 0, sizeof(*fl));
	fl->controller_path = cp;
	fl->agent_path = ap;
	fl->vsmctl_path = vp;
	fl->task_test_path = tp;
	fl->ob = ob;
	assert_non_null(fl->ob);
	assert_int_equal(tu_mkdtemp(fl->dir, sizeof(fl->dir), prefix), 0);
	snprintf(fl->cdir, sizeof(fl->cdir), "%s/controller", fl->dir);
	snprintf(fl->ccfg, sizeof(fl->ccfg), "%s/controller.yaml", fl->cdir);
	snprintf(fl->clog, sizeof(fl->clog), "%s/controller.log", fl->dir);
	tu_loopback_url(fl->url, sizeof(fl->url));
	snprintf(out, sizeof(out), "%s/init.out", fl->dir);
	assert_int_equal(tu_run_wait(argv, out), 0);
	assert_non_null(fp = fopen(out, "r"));
	while (fgets(line, sizeof(line), fp) != NULL) {
		sscanf(line, "controller key: %63s", fl->key);
		sscanf(line, "enrollment token: %79s", fl->token);
	}
	fclose(fp);
	assert_int_equal(strlen(fl->key), 44);
	assert_int_equal(strlen(fl->token), 64);
	tu_file_replace(fl->ccfg, "heartbeat: 30s", "heartbeat: 1s");
	assert_int_equal(tu_controller_start(fl), 0);
}

void
tu_agent_start(struct tu_fleet *fl, struct tu_agent *a)
{
	char *argv[] = {
	    (char *)fl->agent_path, "run", "--config", a->cfg, NULL};

	assert_true((a->pid = tu_spawn_logged(argv, a->log)) > 0);
}

struct tu_agent *
tu_agent_add(
    struct tu_fleet *fl, const char *name, const char *role, const char *token)
{
	struct tu_agent *a;
	char             label[64], top[sizeof(fl->dir)];
	char             dir[sizeof(fl->ag[0].dir)], line[512];
	char            *argv[20];
	int              n = 0;

	assert_true(fl->nag < TU_FLEET_AGENTS);
	memcpy(top, fl->dir, sizeof(top));
	a = &fl->ag[fl->nag++];
	snprintf(a->name, sizeof(a->name), "%s", name);
	snprintf(dir, sizeof(dir), "%s/%s", top, name);
	memcpy(a->dir, dir, sizeof(a->dir));
	snprintf(a->cfg, sizeof(a->cfg), "%s/agent.yaml", dir);
	snprintf(a->log, sizeof(a->log), "%s/%s.log", top, name);
	snprintf(label, sizeof(label), "role=%s", role);
	argv[n++] = (char *)fl->agent_path;
	argv[n++] = "init";
	argv[n++] = "--dir";
	argv[n++] = a->dir;
	argv[n++] = "--controller";
	argv[n++] = fl->url;
	argv[n++] = "--controller-key";
	argv[n++] = fl->key;
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
	tu_file_replace(a->cfg, "heartbeat: 30s", "heartbeat: 1s");
	/* AddressSanitizer builds of vsm-task need a large address space. */
	tu_file_replace(a->cfg, "memory: 4GiB", "memory: unlimited");
	tu_file_replace(a->cfg, "commands: {}",
	    "commands:\n  sleeper: [\"/bin/sleep\", \"30\"]\n"
	    "  nap: [\"/bin/sleep\", \"1\"]");
	if (fl->task_test) {
		snprintf(line, sizeof(line), "runner:\n  task_binary: %s\n",
		    fl->task_test_path);
		tu_file_replace(a->cfg, "runner:\n", line);
	}
	tu_agent_start(fl, a);
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

int
tu_task_groups_gone(void *arg)
{
	struct tu_fleet *fl = arg;
	int              i;

	for (i = 0; i < fl->norphans; i++)
		if (group_alive(fl->orphans[i]))
			return (0);
	return (1);
}

void
tu_agent_kill9(struct tu_fleet *fl, struct tu_agent *a)
{
	int st;

	if (a->pid <= 0)
		return;
	kill(a->pid, SIGSTOP); /* no new task child from here on */
	note_task_groups(fl, a->pid);
	kill(a->pid, SIGKILL);
	waitpid(a->pid, &st, 0);
	a->pid = 0;
}

void
tu_fleet_teardown(struct tu_fleet *fl)
{
	char *argv[] = {"/bin/rm", "-rf", fl->dir, NULL};
	int   i, st;

	for (i = 0; i < fl->nag; i++)
		tu_agent_kill9(fl, &fl->ag[i]);
	kill_task_groups(fl);
	if (fl->cpid > 0) {
		kill(fl->cpid, SIGTERM);
		for (i = 0; i < 100; i++) {
			if (waitpid(fl->cpid, &st, WNOHANG) == fl->cpid)
				break;
			tu_nap_ms(100);
		}
		if (i == 100)
			tu_controller_kill9(fl);
		fl->cpid = 0;
	}
	if (fl->dir[0] != '\0') {
		if (getenv("VSM_KEEP_TMP") != NULL)
			fprintf(stderr, "# kept %s\n", fl->dir);
		else
			tu_run_wait(argv, "/dev/null");
	}
	fl->dir[0] = '\0';
	fl->nag = 0;
	fl->norphans = 0;
}

json_t *
tu_wait_connected(struct tu_fleet *fl, int n, int facts)
{
	uint64_t end = tu_now_ms() + TU_FLEET_WAIT_MS;
	json_t  *doc, *h;
	int      i, ok;

	for (;;) {
		ok = (doc = tu_ctl_doc(fl, "hosts", NULL)) != NULL;
		for (i = 0; ok && i < n; i++) {
			h = tu_by_name(doc, fl->ag[i].name);
			ok = h != NULL &&
			    json_is_true(json_object_get(h, "connected")) &&
			    (!facts ||
			        json_object_size(json_object_get(h, "facts")) >
			            0);
		}
		if (ok || tu_now_ms() >= end)
			break;
		json_decref(doc);
		tu_nap_ms(250);
	}
	assert_true(ok);
	return (doc);
}

json_t *
tu_wait_job(struct tu_fleet *fl, const char *id, int (*cond)(json_t *))
{
	uint64_t end = tu_now_ms() + TU_FLEET_WAIT_MS;
	json_t  *doc;
	int      ok;

	for (;;) {
		doc = tu_ctl_doc(fl, "job", "show", id, NULL);
		ok = doc != NULL && cond(doc);
		if (ok || tu_now_ms() >= end)
			break;
		json_decref(doc);
		tu_nap_ms(250);
	}
	assert_true(ok);
	return (doc);
}

int
tu_first_task_running(json_t *doc)
{
	json_t *t = json_array_get(json_object_get(doc, "tasks"), 0);

	return (strcmp(tu_jstr(t, "state"), "running") == 0);
}

int
tu_all_tasks_final(json_t *doc)
{
	json_t *t;
	size_t  i;

	json_array_foreach(json_object_get(doc, "tasks"), i, t)
	{
		if (!tu_is_final(tu_jstr(t, "state")))
			return (0);
	}
	return (1);
}
