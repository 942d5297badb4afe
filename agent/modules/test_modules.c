/*
 * test_modules.c: modules for the runner's tests, linked into vsm-task-test
 * only (agent/CMakeLists.txt). test.crash dies of SIGSEGV; test.limits
 * reports the limits and environment the child runs with; test.badframe
 * sends a frame over the runner's cap; test.artifact leaves a file of
 * `size` reproducible bytes (from `seed`) as an artifact.
 */
#include <sys/resource.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static const struct param_spec test_artifact_params[] = {
    {.name = "size", .type = PARAM_SIZE, .max = 64LL << 30, .def = "1MiB"},
    {.name = "seed", .type = PARAM_INT, .max = 1000000, .def = "1"},
    {.name = "name",
        .type = PARAM_STRING,
        .min = 1,
        .max = 128,
        .def = "test.bin"},
    {.name = "count", .type = PARAM_INT, .min = 1, .max = 16, .def = "1"},
    {.name = "lie",
        .type = PARAM_BOOL,
        .def = "false",
        .help = "announce one byte more than was written"},
    {.name = NULL},
};

#define TEST_BLOCK (1024 * 1024)

/* Block i of the stream of seed: a fixed random block, i in front. */
static int
test_artifact_one(struct task_ctx *ctx, const char *name, uint64_t size,
    int lie, uint8_t *buf, struct vsm_err *err)
{
	struct task_artifact a;
	uint64_t             i, left;
	size_t               n;

	if (task_artifact_create(ctx, name, &a, err) == -1)
		return (-1);
	for (i = 0, left = size; left > 0; i++, left -= n) {
		n = left < TEST_BLOCK ? (size_t)left : TEST_BLOCK;
		memcpy(buf, &i, sizeof(i));
		if (task_artifact_write(&a, buf, n, err) == -1) {
			task_artifact_abort(&a);
			return (-1);
		}
	}
	if (lie) {
		uint8_t h[VSM_ARTIFACT_HASH_LEN] = {0};

		close(a.fd);
		return (task_emit_artifact(ctx, name, size + 1, h));
	}
	return (task_artifact_finish(ctx, &a, err));
}

static int
test_artifact_run(struct task_ctx *ctx, const struct task_params *p)
{
	uint8_t        seed[randombytes_SEEDBYTES] = {0}, *buf;
	uint64_t       size = (uint64_t)params_num(p, "size");
	int64_t        i, count = params_num(p, "count"), s;
	char           name[VSM_ARTIFACT_NAME_MAX + 1];
	struct vsm_err err;
	int            ret;

	s = params_num(p, "seed");
	memcpy(seed, &s, sizeof(s));
	if ((buf = malloc(TEST_BLOCK)) == NULL)
		return (-1);
	randombytes_buf_deterministic(buf, TEST_BLOCK, seed);
	for (i = 0; i < count; i++) {
		if (count == 1)
			snprintf(
			    name, sizeof(name), "%s", params_str(p, "name"));
		else
			snprintf(name, sizeof(name), "%lld-%s", (long long)i,
			    params_str(p, "name"));
		if (test_artifact_one(ctx, name, size,
		        (int)params_num(p, "lie"), buf, &err) == -1) {
			free(buf);
			return (task_finish_error(ctx, "%s", err.msg));
		}
	}
	free(buf);
	ret = task_finish(
	    ctx, VSM__TASK_STATUS__TASK_OK, "artifact written", NULL, 0, NULL);
	return (ret);
}

const struct task_module mod_test_artifact = {
    .name = "test.artifact",
    .params = test_artifact_params,
    .run = test_artifact_run,
};
