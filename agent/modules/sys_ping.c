/*
 * sys_ping.c: sys.ping, the liveness check. No parameters; always ok.
 * Result: {"pong": true, "agent_version", "pid", "uptime_s"}.
 */
#include <stdio.h>
#include <unistd.h>

#include "hostinfo.h"
#include "module.h"

static int
sys_ping_run(struct task_ctx *ctx, const struct task_params *p)
{
	char    buf[128];
	double  up = 0;
	json_t *res;
	int     ret;

	if (hostinfo_read_file("/proc/uptime", buf, sizeof(buf)) > 0)
		sscanf(buf, "%lf", &up);
	res = json_pack("{s:b, s:s, s:I, s:I}", "pong", 1, "agent_version",
	    VSM_VERSION, "pid", (json_int_t)getpid(), "uptime_s",
	    (json_int_t)up);
	ret = task_finish(ctx, VSM__TASK_STATUS__TASK_OK, "pong", res, 0, NULL);
	json_decref(res);
	return (ret);
}

const struct task_module mod_sys_ping = {
    .name = "sys.ping",
    .run = sys_ping_run,
};
