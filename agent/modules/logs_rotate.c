/*
 * logs_rotate.c: logs.rotate, the agent's allowlisted command `logrotate`
 * run exactly as allowlisted (docs/modules.md, "Logs"); its output is
 * streamed and its exit code gives the status. A dry run reports the
 * argv and runs nothing.
 */
#include "command.h"
#include "module.h"

static int
logs_rotate_run(struct task_ctx *ctx, const struct task_params *p)
{
	(void)p;
	return (command_task(ctx, "logrotate"));
}

const struct task_module mod_logs_rotate = {
    .name = "logs.rotate",
    .run = logs_rotate_run,
    .cancel = command_cancel,
};
