/*
 * command.h: run one command of the agent's allowlist for a module
 * (docs/modules.md, "Common rules"; docs/tasks.md, exec.NAME).
 *
 * The argv is the allowlisted one with whole elements a module appends
 * (never a shell). The command gets stdin /dev/null, the task's
 * environment and vsm-task's process group, so a kill of the task reaches
 * it. Its stdout is streamed as log lines or captured into a capped
 * buffer; stderr is always streamed. The entry's timeout and the task's
 * cancellation end it.
 */
#ifndef VSM_COMMAND_H
#define VSM_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "module.h"

#define COMMAND_ARGV_MAX 160

struct command_run {
	/* What to run; set by the caller (command_init does it). */
	const char  *name;       /* the allowlist name, for messages */
	char *const *argv;       /* NULL-terminated; argv[0] absolute */
	const int   *ok_codes;   /* exit codes meaning ok; none: only 0 */
	size_t       nok_codes;  /* 0: only 0 is ok */
	uint64_t     timeout_ms; /* 0: the task's deadline alone */
	char        *out;        /* NULL: stream stdout; else capture it */
	size_t       out_max;    /* bytes kept; out holds out_max + 1 */

	/* What happened; set by command_run. */
	size_t   out_len;       /* bytes in out, NUL-terminated */
	int      out_truncated; /* stdout had more than out_max */
	int      exit_code;     /* 128 + N when killed by signal N */
	char     signal[24];    /* "SIGKILL"; "" when it exited */
	int      timed_out;     /* killed at timeout_ms */
	int      cancelled;     /* the task was cancelled meanwhile */
	int      ok;            /* exited with an ok code, in time */
	uint64_t duration_ms;
	uint64_t stdout_lines, stderr_lines;
};

/*
 * The allowlist entry called name from the agent's config, or NULL with
 * err saying that agent.yaml must declare it under commands:.
 */
const struct vsm_command *command_find(
    struct task_ctx *ctx, const char *name, struct vsm_err *err);

/*
 * Fill argv (room for max pointers) with the entry's argv, then extra[0..
 * nextra), then NULL. The strings are borrowed. 0, or -1 with err when
 * it does not fit.
 */
int command_argv(const struct vsm_command *c, const char *const *extra,
    size_t nextra, char **argv, size_t max, struct vsm_err *err);

/* Set cr to run argv with the entry's ok codes and timeout, streaming. */
void command_init(
    struct command_run *cr, const struct vsm_command *c, char *const *argv);

/*
 * Run cr->argv and wait for it (blocks until it ends, times out or the
 * task is cancelled and it dies). 0 when it ran, whatever its exit (see
 * cr->ok); -1 with err when it could not be started or a frame could
 * not be sent.
 */
int command_run(
    struct task_ctx *ctx, struct command_run *cr, struct vsm_err *err);

/*
 * End the task with a run's outcome: ok when cr->ok, else fail, with
 * the run's result (command, argv, exit_code, duration_ms, ...) and a
 * summary. Returns task_finish's value.
 */
int command_finish(struct task_ctx *ctx, const struct command_run *cr);

/* End a dry run: ok, {command, argv, dry_run: true}, nothing run. */
int command_finish_dry(
    struct task_ctx *ctx, const char *name, char *const *argv);

/*
 * The whole of a module that runs allowlist entry name as it is
 * (logs.rotate, cert.renew): a clear error when the agent has no such
 * entry; in a dry run its argv, not run; else run, streamed, and ended
 * with command_finish.
 */
int command_task(struct task_ctx *ctx, const char *name);

/*
 * The module's cancel hook: keeps vsm-task alive on SIGTERM (the command
 * got it too) so that command_run sees the cancellation and reports it.
 */
void command_cancel(struct task_ctx *ctx);

#endif /* VSM_COMMAND_H */
