/*
 * test_modules.c: modules for the runner's tests, linked into vsm-task-test
 * only (agent/CMakeLists.txt). test.crash dies of SIGSEGV; test.limits
 * reports the limits and environment the child runs with; test.badframe
 * sends a frame over the runner's cap.
 */
#include <sys/resource.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "module.h"

extern char **environ;

static int
test_crash_run(struct task_ctx *ctx, const struct task_params *p)
{
	task_emit_log(ctx, "about to crash");
	signal(SIGSEGV, SIG_DFL); /* past any sanitizer's handler */
	raise(SIGSEGV);
	return (-1);
}

const struct task_module mod_test_crash = {
    .name = "test.crash",
    .run = test_crash_run,
};

static json_int_t
test_lim(int res, int hard)
{
	struct rlimit rl;
	rlim_t        v;

	if (getrlimit(res, &rl) == -1)
		return (-2);
	v = hard ? rl.rlim_max : rl.rlim_cur;
	return (v == RLIM_INFINITY ? -1 : (json_int_t)v);
}

static int
test_limits_run(struct task_ctx *ctx, const struct task_params *p)
{
	json_t *res, *env;
	char  **e;
	int     ret, prio;

	errno = 0;
	prio = getpriority(PRIO_PROCESS, 0);
	if ((env = json_array()) == NULL)
		return (-1);
	for (e = environ; *e != NULL; e++)
		json_array_append_new(env, json_string(*e));
	res = json_pack("{s:I, s:I, s:I, s:I, s:I, s:i, s:o}", "nofile",
	    test_lim(RLIMIT_NOFILE, 0), "nofile_hard",
	    test_lim(RLIMIT_NOFILE, 1), "core", test_lim(RLIMIT_CORE, 0), "cpu",
	    test_lim(RLIMIT_CPU, 0), "as", test_lim(RLIMIT_AS, 0), "nice", prio,
	    "env", env);
	ret =
	    task_finish(ctx, VSM__TASK_STATUS__TASK_OK, "limits", res, 0, NULL);
	json_decref(res);
	return (ret);
}

const struct task_module mod_test_limits = {
    .name = "test.limits",
    .run = test_limits_run,
};

/* A frame header over the runner's cap, then silence: a protocol error. */
static int
test_badframe_run(struct task_ctx *ctx, const struct task_params *p)
{
	static const unsigned char hdr[4] = {0x7f, 0xff, 0xff, 0xff};

	if (write(ctx->fd, hdr, sizeof(hdr)) != sizeof(hdr))
		return (-1);
	pause(); /* the runner kills the group */
	return (-1);
}

const struct task_module mod_test_badframe = {
    .name = "test.badframe",
    .run = test_badframe_run,
};
