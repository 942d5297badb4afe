/*
 * exec.c: exec.NAME, a command of the agent's own allowlist (docs/tasks.md).
 *
 * The controller only names the command: argv, the extra parameters it
 * may take (each with an anchored pattern or an enum), its ok exit codes
 * and time limit come from the agent's config through TaskSpawn.exec.
 * Parameter values are checked before anything runs and appended as whole
 * argv elements; there is never a shell. stdout and stderr are streamed
 * line by line.
 */
#define _GNU_SOURCE /* pipe2 */

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "module.h"

extern char **environ;

#define EXEC_ARGV_MAX    160
#define EXEC_PATTERN_MAX 1024
#define EXEC_DRAIN_MS    2000 /* read on this long after the command ends */
#define EXEC_PREFIX      "exec."

struct exec_stream {
	int                  fd;
	Vsm__LogLine__Stream kind;
	char                *buf; /* max_line bytes */
	size_t               len;
	uint64_t             lines;
};

static const Vsm__ExecParam *
exec_param_find(const Vsm__ExecSpec *spec, const char *name)
{
	size_t i;

	for (i = 0; i < spec->n_params; i++)
		if (strcmp(spec->params[i]->name, name) == 0)
			return (spec->params[i]);
	return (NULL);
}

/* Does value match the anchored ERE pat? 1, 0, or -1 when pat is bad. */
static int
exec_match(const char *pat, const char *value)
{
	regex_t re;
	char    anchored[EXEC_PATTERN_MAX + 8];
	int     rc;

	if ((size_t)snprintf(anchored, sizeof(anchored), "^(%s)$", pat) >=
	    sizeof(anchored))
		return (-1);
	if (regcomp(&re, anchored, REG_EXTENDED | REG_NOSUB) != 0)
		return (-1);
	rc = regexec(&re, value, 0, NULL, 0);
	regfree(&re);
	return (rc == 0);
}

/* Check one value against its allowlist entry. 0 or -1 with err. */
static int
exec_check_value(
    const Vsm__ExecParam *ep, const char *value, struct vsm_err *err)
{
	size_t i;
	int    m;

	if (strlen(value) > PARAM_VALUE_MAX)
		return (vsm_err_set(err, "parameter '%s': longer than %d bytes",
		    ep->name, PARAM_VALUE_MAX));
	if (params_has_ctl(value))
		return (vsm_err_set(err,
		    "parameter '%s': control characters are not allowed",
		    ep->name));
	if (value[0] == '-' && !ep->allow_dash)
		return (vsm_err_set(err,
		    "parameter '%s': a value may not start with '-'",
		    ep->name));
	if (ep->n_enum_values > 0) {
		for (i = 0; i < ep->n_enum_values; i++)
			if (strcmp(ep->enum_values[i], value) == 0)
				return (0);
		return (vsm_err_set(err,
		    "parameter '%s': '%.64s' is not one of the allowed values",
		    ep->name, value));
	}
	if (ep->pattern == NULL || ep->pattern[0] == '\0')
		return (vsm_err_set(err,
		    "parameter '%s': the allowlist gives it no pattern or enum",
		    ep->name));
	if ((m = exec_match(ep->pattern, value)) == -1)
		return (vsm_err_set(err,
		    "parameter '%s': bad pattern in the "
		    "allowlist",
		    ep->name));
	if (m == 0)
		return (vsm_err_set(err,
		    "parameter '%s': '%.64s' does not match the allowed "
		    "pattern",
		    ep->name, value));
	return (0);
}

static int
exec_validate(
    struct task_ctx *ctx, const struct task_params *tp, struct vsm_err *err)
{
	const Vsm__Task      *t = ctx->task;
	const Vsm__ExecSpec  *spec = ctx->spawn->exec;
	const Vsm__ExecParam *ep;
	const char           *name = t->module + strlen(EXEC_PREFIX);
	size_t                i, j;

	if (spec == NULL || strcmp(spec->name, name) != 0)
		return (vsm_err_set(
		    err, "%s: not in the agent's allowlist", t->module));
	if (spec->n_argv == 0 || spec->argv[0][0] != '/')
		return (vsm_err_set(
		    err, "%s: argv[0] must be an absolute path", t->module));
	if (spec->n_argv + 2 * spec->n_params >= EXEC_ARGV_MAX)
		return (vsm_err_set(err, "%s: argv too long", t->module));
	for (i = 0; i < t->n_params; i++) {
		const Vsm__Param *p = t->params[i];

		if ((ep = exec_param_find(spec, p->key)) == NULL)
			return (vsm_err_set(
			    err, "unknown parameter '%.64s'", p->key));
		for (j = 0; j < i; j++)
			if (strcmp(t->params[j]->key, p->key) == 0)
				return (vsm_err_set(
				    err, "parameter '%s' given twice", p->key));
		if (exec_check_value(ep, p->value, err) == -1)
			return (-1);
	}
	for (i = 0; i < spec->n_params; i++) {
		if (!spec->params[i]->required)
			continue;
		for (j = 0; j < t->n_params; j++)
			if (strcmp(t->params[j]->key, spec->params[i]->name) ==
			    0)
				break;
		if (j == t->n_params)
			return (vsm_err_set(err, "parameter '%s' is required",
			    spec->params[i]->name));
	}
	return (0);
}

/* argv: the allowlisted argv, then each given parameter in spec order. */
static size_t
exec_argv(const struct task_ctx *ctx, char **argv)
{
	const Vsm__ExecSpec *spec = ctx->spawn->exec;
	const Vsm__Task     *t = ctx->task;
	size_t               n = 0, i, j;

	for (i = 0; i < spec->n_argv; i++)
		argv[n++] = spec->argv[i];
	for (i = 0; i < spec->n_params; i++) {
		for (j = 0; j < t->n_params; j++) {
			if (strcmp(t->params[j]->key, spec->params[i]->name) !=
			    0)
				continue;
			if (spec->params[i]->flag[0] != '\0')
				argv[n++] = spec->params[i]->flag;
			argv[n++] = t->params[j]->value;
		}
	}
	argv[n] = NULL;
	return (n);
}

static uint64_t
exec_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/* Emit the complete lines in s->buf; a full buffer goes out as a piece. */
static int
exec_lines(struct task_ctx *ctx, struct exec_stream *s, int flush)
{
	char  *nl;
	size_t used;

	while ((nl = memchr(s->buf, '\n', s->len)) != NULL) {
		used = (size_t)(nl - s->buf);
		if (task_emit_line(ctx, s->kind, s->buf, used) == -1)
			return (-1);
		s->lines++;
		memmove(s->buf, nl + 1, s->len - used - 1);
		s->len -= used + 1;
	}
	if (s->len == ctx->max_line) {
		if (task_emit_partial(ctx, s->kind, s->buf, s->len) == -1)
			return (-1);
		s->len = 0;
	} else if (flush && s->len > 0) {
		if (task_emit_line(ctx, s->kind, s->buf, s->len) == -1)
			return (-1);
		s->lines++;
		s->len = 0;
	}
	return (0);
}

static pid_t
exec_spawn(char **argv, int out, int err, struct vsm_err *e)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t          attr;
	sigset_t                   mask;
	pid_t                      pid = -1;
	int                        rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	sigemptyset(&mask);
	posix_spawnattr_setsigmask(&attr, &mask);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out, 1);
	posix_spawn_file_actions_adddup2(&fa, err, 2);
	/* Same process group as vsm-task: a kill of the task reaches it. */
	if ((rc = posix_spawn(&pid, argv[0], &fa, &attr, argv, environ)) != 0) {
		vsm_err_set(e, "cannot run %s: %s", argv[0], strerror(rc));
		pid = -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return (pid);
}

static int
exec_ok_code(const Vsm__ExecSpec *spec, int code)
{
	size_t i;

	if (spec->n_ok_codes == 0)
		return (code == 0);
	for (i = 0; i < spec->n_ok_codes; i++)
		if (spec->ok_codes[i] == code)
			return (1);
	return (0);
}

static int
exec_run(struct task_ctx *ctx, const struct task_params *tp)
{
	const Vsm__ExecSpec *spec = ctx->spawn->exec;
	struct exec_stream   st[2];
	struct pollfd        pfd[2];
	struct vsm_err       err;
	char                *argv[EXEC_ARGV_MAX + 1], sig[32], summary[256];
	char                 error[128];
	int                  op[2] = {-1, -1}, ep[2] = {-1, -1};
	int                  status = 0, reaped = 0, code, ret = -1, i;
	Vsm__TaskStatus      ts;
	uint64_t             start, exited_at = 0;
	json_t              *res = NULL, *jargv;
	pid_t                pid = -1;
	size_t               n, k;
	ssize_t              r;

	memset(st, 0, sizeof(st));
	st[0].fd = st[1].fd = -1;
	n = exec_argv(ctx, argv);
	if ((jargv = json_array()) == NULL)
		goto out;
	for (k = 0; k < n; k++)
		json_array_append_new(jargv, json_string(argv[k]));
	if (ctx->task->dry_run) {
		res = json_pack("{s:s, s:O, s:b}", "command", spec->name,
		    "argv", jargv, "dry_run", 1);
		ret = task_finish(ctx, VSM__TASK_STATUS__TASK_OK,
		    "dry run: not executed", res, 0, NULL);
		goto out;
	}
	if (pipe2(op, O_CLOEXEC) == -1 || pipe2(ep, O_CLOEXEC) == -1) {
		ret = task_finish_error(ctx, "pipe: %s", strerror(errno));
		goto out;
	}
	st[0].fd = op[0];
	st[1].fd = ep[0];
	op[0] = ep[0] = -1;
	start = exec_mono_ms();
	if ((pid = exec_spawn(argv, op[1], ep[1], &err)) == -1) {
		ret = task_finish_error(ctx, "%s", err.msg);
		goto out;
	}
	close(op[1]);
	close(ep[1]);
	op[1] = ep[1] = -1;
	st[0].kind = VSM__LOG_LINE__STREAM__STDOUT;
	st[1].kind = VSM__LOG_LINE__STREAM__STDERR;
	for (i = 0; i < 2; i++)
		if ((st[i].buf = malloc(ctx->max_line)) == NULL)
			goto out;

	while (st[0].fd != -1 || st[1].fd != -1) {
		if (!reaped && waitpid(pid, &status, WNOHANG) == pid) {
			reaped = 1;
			exited_at = exec_mono_ms();
		}
		/* Something it left behind holds the pipes: stop reading. */
		if (reaped && exec_mono_ms() - exited_at > EXEC_DRAIN_MS)
			break;
		for (i = 0; i < 2; i++) {
			pfd[i].fd = st[i].fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		if (poll(pfd, 2, 200) == -1 && errno != EINTR)
			break;
		for (i = 0; i < 2; i++) {
			if (st[i].fd == -1 ||
			    !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(st[i].fd, st[i].buf + st[i].len,
			    ctx->max_line - st[i].len);
			if (r == -1 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (r <= 0) {
				close(st[i].fd);
				st[i].fd = -1;
				continue;
			}
			st[i].len += (size_t)r;
			if (exec_lines(ctx, &st[i], 0) == -1)
				goto out;
		}
	}
	for (i = 0; i < 2; i++)
		if (exec_lines(ctx, &st[i], 1) == -1)
			goto out;
	while (!reaped && waitpid(pid, &status, 0) == -1 && errno == EINTR)
		continue;
	pid = -1;

	error[0] = '\0';
	if (WIFSIGNALED(status)) {
		code = 128 + WTERMSIG(status);
		snprintf(sig, sizeof(sig), "SIG%s",
		    sigabbrev_np(WTERMSIG(status))
		        ? sigabbrev_np(WTERMSIG(status))
		        : "?");
		snprintf(error, sizeof(error), "command killed by %s", sig);
		ts = VSM__TASK_STATUS__TASK_FAIL;
		snprintf(summary, sizeof(summary), "%s killed by %s",
		    spec->name, sig);
	} else {
		code = WEXITSTATUS(status);
		sig[0] = '\0';
		ts = exec_ok_code(spec, code) ? VSM__TASK_STATUS__TASK_OK
		                              : VSM__TASK_STATUS__TASK_FAIL;
		snprintf(
		    summary, sizeof(summary), "%s exited %d", spec->name, code);
	}
	res = json_pack("{s:s, s:O, s:i, s:I, s:I, s:I}", "command", spec->name,
	    "argv", jargv, "exit_code", code, "duration_ms",
	    (json_int_t)(exec_mono_ms() - start), "stdout_lines",
	    (json_int_t)st[0].lines, "stderr_lines", (json_int_t)st[1].lines);
	if (res != NULL && sig[0] != '\0')
		json_object_set_new(res, "signal", json_string(sig));
	ret = task_finish(
	    ctx, ts, summary, res, code, error[0] != '\0' ? error : NULL);
out:
	if (pid > 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			continue;
	}
	for (i = 0; i < 2; i++) {
		if (st[i].fd != -1)
			close(st[i].fd);
		free(st[i].buf);
	}
	for (i = 0; i < 2; i++) {
		if (op[i] != -1)
			close(op[i]);
		if (ep[i] != -1)
			close(ep[i]);
	}
	json_decref(jargv);
	json_decref(res);
	return (ret);
}

/* Keep vsm-task alive on SIGTERM: the command got it too; report it. */
static void
exec_cancel(struct task_ctx *ctx)
{
}

const struct task_module mod_exec = {
    .name = EXEC_PREFIX,
    .family = 1,
    .raw_params = 1,
    .validate = exec_validate,
    .run = exec_run,
    .cancel = exec_cancel,
};
