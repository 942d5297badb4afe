/*
 * command.c: run one allowlisted command for a module (command.h): spawn
 * without a shell, read stdout and stderr as they come, wait with the
 * entry's timeout and the task's cancellation in view.
 */
#define _GNU_SOURCE /* pipe2, sigabbrev_np */

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "command.h"

extern char **environ;

#define COMMAND_DRAIN_MS 2000 /* read on this long after the command ends */
#define COMMAND_CHUNK    8192

struct command_stream {
	int                  fd;
	Vsm__LogLine__Stream kind;
	int                  capture; /* stdout into cr->out */
	char                *buf;     /* max_line bytes, streaming only */
	size_t               len;
	uint64_t             lines;
};

const struct vsm_command *
command_find(struct task_ctx *ctx, const char *name, struct vsm_err *err)
{
	const struct vsm_agent_config *cfg;
	const struct vsm_command      *c;

	if ((cfg = task_config(ctx, err)) == NULL)
		return (NULL);
	if ((c = vsm_agent_command_find(cfg, name)) == NULL) {
		vsm_err_set(err,
		    "no command '%s' in the agent's allowlist (commands: in "
		    "agent.yaml)",
		    name);
		return (NULL);
	}
	if (c->argc == 0 || c->argv[0][0] != '/') {
		vsm_err_set(err,
		    "command '%s': argv[0] must be an absolute path", name);
		return (NULL);
	}
	return (c);
}

int
command_argv(const struct vsm_command *c, const char *const *extra,
    size_t nextra, char **argv, size_t max, struct vsm_err *err)
{
	size_t n = 0, i;

	if (c->argc + nextra + 1 > max)
		return (
		    vsm_err_set(err, "command '%s': argv too long", c->name));
	for (i = 0; i < c->argc; i++)
		argv[n++] = c->argv[i];
	for (i = 0; i < nextra; i++)
		argv[n++] = (char *)extra[i];
	argv[n] = NULL;
	return (0);
}

void
command_init(
    struct command_run *cr, const struct vsm_command *c, char *const *argv)
{
	memset(cr, 0, sizeof(*cr));
	cr->name = c->name;
	cr->argv = argv;
	cr->ok_codes = c->ok_codes;
	cr->nok_codes = c->nok_codes;
	cr->timeout_ms = c->timeout_ms;
}

/* Emit the complete lines in s->buf; a full buffer goes out as a piece. */
static int
command_lines(struct task_ctx *ctx, struct command_stream *s, int flush)
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

/*
 * Read what s->fd has. 0, 1 at end of file (the fd is closed), -1 when a
 * frame could not be sent.
 */
static int
command_read(
    struct task_ctx *ctx, struct command_run *cr, struct command_stream *s)
{
	char    chunk[COMMAND_CHUNK];
	size_t  room, i;
	ssize_t r;

	if (s->capture)
		r = read(s->fd, chunk, sizeof(chunk));
	else
		r = read(s->fd, s->buf + s->len, ctx->max_line - s->len);
	if (r == -1 && (errno == EINTR || errno == EAGAIN))
		return (0);
	if (r <= 0) {
		close(s->fd);
		s->fd = -1;
		return (1);
	}
	if (!s->capture) {
		s->len += (size_t)r;
		return (command_lines(ctx, s, 0));
	}
	for (i = 0; i < (size_t)r; i++)
		if (chunk[i] == '\n')
			s->lines++;
	room = cr->out_max - cr->out_len;
	if ((size_t)r > room)
		cr->out_truncated = 1;
	else
		room = (size_t)r;
	memcpy(cr->out + cr->out_len, chunk, room);
	cr->out_len += room;
	cr->out[cr->out_len] = '\0';
	return (0);
}

static pid_t
command_spawn(char *const *argv, int out, int err, struct vsm_err *e)
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
command_ok_code(const struct command_run *cr, int code)
{
	size_t i;

	if (cr->nok_codes == 0)
		return (code == 0);
	for (i = 0; i < cr->nok_codes; i++)
		if (cr->ok_codes[i] == code)
			return (1);
	return (0);
}

/*
 * Kill the command at its timeout, or some time after a cancellation it
 * ignored (the runner's SIGTERM reached it through the process group).
 */
static void
command_police(struct command_run *cr, pid_t pid, uint64_t start,
    uint64_t *cancel_at, int *killed)
{
	uint64_t now = task_mono_ms();

	if (*killed)
		return;
	if (cr->timeout_ms != 0 && now - start >= cr->timeout_ms) {
		kill(pid, SIGKILL);
		cr->timed_out = 1;
		*killed = 1;
	} else if (task_cancelled()) {
		cr->cancelled = 1;
		if (*cancel_at == 0)
			*cancel_at = now;
		else if (now - *cancel_at > COMMAND_DRAIN_MS) {
			kill(pid, SIGKILL);
			*killed = 1;
		}
	}
}

/* Fill the outcome fields from a wait status. */
static void
command_outcome(struct command_run *cr, int status)
{
	const char *abbrev;

	cr->signal[0] = '\0';
	if (WIFSIGNALED(status)) {
		cr->exit_code = 128 + WTERMSIG(status);
		abbrev = sigabbrev_np(WTERMSIG(status));
		snprintf(cr->signal, sizeof(cr->signal), "SIG%s",
		    abbrev != NULL ? abbrev : "?");
		cr->ok = 0;
	} else {
		cr->exit_code = WEXITSTATUS(status);
		cr->ok = command_ok_code(cr, cr->exit_code);
	}
	if (cr->timed_out)
		cr->ok = 0;
	if (task_cancelled())
		cr->cancelled = 1;
}

int
command_run(struct task_ctx *ctx, struct command_run *cr, struct vsm_err *err)
{
	struct command_stream st[2];
	struct pollfd         pfd[2];
	uint64_t              start, exited_at = 0, cancel_at = 0;
	int                   op[2] = {-1, -1}, ep[2] = {-1, -1};
	int                   status = 0, reaped = 0, killed = 0, ret = -1;
	int                   i, open;
	pid_t                 pid = -1;

	memset(st, 0, sizeof(st));
	st[0].fd = st[1].fd = -1;
	cr->out_len = 0;
	cr->out_truncated = 0;
	if (cr->out != NULL)
		cr->out[0] = '\0';
	st[0].kind = VSM__LOG_LINE__STREAM__STDOUT;
	st[0].capture = cr->out != NULL;
	st[1].kind = VSM__LOG_LINE__STREAM__STDERR;
	for (i = 0; i < 2; i++)
		if (!st[i].capture &&
		    (st[i].buf = malloc(ctx->max_line)) == NULL) {
			vsm_err_set(err, "out of memory");
			goto out;
		}
	if (pipe2(op, O_CLOEXEC) == -1 || pipe2(ep, O_CLOEXEC) == -1) {
		vsm_err_set(err, "pipe: %s", strerror(errno));
		goto out;
	}
	st[0].fd = op[0];
	st[1].fd = ep[0];
	op[0] = ep[0] = -1;
	start = task_mono_ms();
	if ((pid = command_spawn(cr->argv, op[1], ep[1], err)) == -1)
		goto out;
	close(op[1]);
	close(ep[1]);
	op[1] = ep[1] = -1;

	for (;;) {
		if (!reaped && waitpid(pid, &status, WNOHANG) == pid) {
			reaped = 1;
			exited_at = task_mono_ms();
		}
		open = st[0].fd != -1 || st[1].fd != -1;
		/* Something it left behind holds the pipes: stop reading. */
		if (reaped &&
		    (!open || task_mono_ms() - exited_at > COMMAND_DRAIN_MS))
			break;
		if (!reaped)
			command_police(cr, pid, start, &cancel_at, &killed);
		for (i = 0; i < 2; i++) {
			pfd[i].fd = st[i].fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		if (poll(pfd, 2, open ? 200 : 20) == -1) {
			if (errno == EINTR)
				continue;
			vsm_err_set(err, "poll: %s", strerror(errno));
			goto out;
		}
		for (i = 0; i < 2; i++) {
			if (st[i].fd == -1 ||
			    !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (command_read(ctx, cr, &st[i]) == -1) {
				vsm_err_set(err, "cannot send output");
				goto out;
			}
		}
	}
	for (i = 0; i < 2; i++)
		if (!st[i].capture && command_lines(ctx, &st[i], 1) == -1) {
			vsm_err_set(err, "cannot send output");
			goto out;
		}
	pid = -1;
	cr->duration_ms = task_mono_ms() - start;
	cr->stdout_lines = st[0].lines;
	cr->stderr_lines = st[1].lines;
	command_outcome(cr, status);
	ret = 0;
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
		if (op[i] != -1)
			close(op[i]);
		if (ep[i] != -1)
			close(ep[i]);
	}
	return (ret);
}

/* A new JSON array of argv's strings, or NULL when out of memory. */
static json_t *
command_argv_json(char *const *argv)
{
	json_t *a;
	size_t  i;

	if ((a = json_array()) == NULL)
		return (NULL);
	for (i = 0; argv[i] != NULL; i++)
		if (json_array_append_new(a, json_string(argv[i])) == -1) {
			json_decref(a);
			return (NULL);
		}
	return (a);
}

/*
 * The result of a run: command, argv, exit_code, duration_ms,
 * stdout_lines, stderr_lines, and signal / timed_out when so. New
 * reference, or NULL when out of memory.
 */
static json_t *
command_result(const struct command_run *cr)
{
	json_t *res;

	res = json_pack("{s:s, s:o, s:i, s:I, s:I, s:I}", "command", cr->name,
	    "argv", command_argv_json(cr->argv), "exit_code", cr->exit_code,
	    "duration_ms", (json_int_t)cr->duration_ms, "stdout_lines",
	    (json_int_t)cr->stdout_lines, "stderr_lines",
	    (json_int_t)cr->stderr_lines);
	if (res == NULL)
		return (NULL);
	if (cr->signal[0] != '\0')
		json_object_set_new(res, "signal", json_string(cr->signal));
	if (cr->timed_out)
		json_object_set_new(res, "timed_out", json_true());
	if (cr->out != NULL && cr->out_truncated)
		json_object_set_new(res, "output_truncated", json_true());
	return (res);
}

int
command_finish(struct task_ctx *ctx, const struct command_run *cr)
{
	json_t *res = command_result(cr);
	char    summary[256], error[128];
	int     ret;

	error[0] = '\0';
	if (cr->timed_out) {
		snprintf(summary, sizeof(summary), "%s timed out after %llu ms",
		    cr->name, (unsigned long long)cr->timeout_ms);
		snprintf(error, sizeof(error), "command timed out");
	} else if (cr->signal[0] != '\0') {
		snprintf(summary, sizeof(summary), "%s killed by %s", cr->name,
		    cr->signal);
		snprintf(
		    error, sizeof(error), "command killed by %s", cr->signal);
	} else
		snprintf(summary, sizeof(summary), "%s exited %d", cr->name,
		    cr->exit_code);
	ret = task_finish(ctx,
	    cr->ok ? VSM__TASK_STATUS__TASK_OK : VSM__TASK_STATUS__TASK_FAIL,
	    summary, res, cr->exit_code, error[0] != '\0' ? error : NULL);
	json_decref(res);
	return (ret);
}

int
command_finish_dry(struct task_ctx *ctx, const char *name, char *const *argv)
{
	json_t *res;
	int     ret;

	res = json_pack("{s:s, s:o, s:b}", "command", name, "argv",
	    command_argv_json(argv), "dry_run", 1);
	ret = task_finish(ctx, VSM__TASK_STATUS__TASK_OK,
	    "dry run: not executed", res, 0, NULL);
	json_decref(res);
	return (ret);
}

int
command_task(struct task_ctx *ctx, const char *name)
{
	const struct vsm_command *c;
	struct command_run        cr;
	struct vsm_err            err;
	char                     *argv[COMMAND_ARGV_MAX];

	if ((c = command_find(ctx, name, &err)) == NULL ||
	    command_argv(c, NULL, 0, argv, COMMAND_ARGV_MAX, &err) == -1)
		return (task_finish_error(ctx, "%s", err.msg));
	if (ctx->task->dry_run)
		return (command_finish_dry(ctx, name, argv));
	command_init(&cr, c, argv);
	if (command_run(ctx, &cr, &err) == -1)
		return (task_finish_error(ctx, "%s", err.msg));
	return (command_finish(ctx, &cr));
}

void
command_cancel(struct task_ctx *ctx)
{
	(void)ctx;
}
