/*
 * cert_renew.c: cert.renew, the agent's allowlisted command `certbot`
 * (e.g. [/usr/bin/certbot, renew, --quiet]) run exactly as allowlisted
 * (docs/modules.md, "Certificates"); its output is streamed and its exit
 * code gives the status. A dry run reports the argv and runs nothing.
 */
#include "command.h"
#include "module.h"

static int
cert_renew_run(struct task_ctx *ctx, const struct task_params *p)
{
	(void)p;
	return (command_task(ctx, "certbot"));
}

const struct task_module mod_cert_renew = {
    .name = "cert.renew",
    .run = cert_renew_run,
    .cancel = command_cancel,
};
