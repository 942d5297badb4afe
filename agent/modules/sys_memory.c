/*
 * sys_memory.c: sys.memory, from /proc/meminfo. used_pct is
 * (MemTotal - MemAvailable) / MemTotal; against warn_pct/fail_pct.
 */
#include <stdio.h>

#include "hostinfo.h"
#include "module.h"

static const struct param_spec sys_memory_params[] = {
    PARAM_THRESHOLDS(100, "85", "95", "used percent"),
    {.name = NULL},
};

static int
sys_memory_run(struct task_ctx *ctx, const struct task_params *p)
{
	struct hostinfo_mem m;
	double              pct, swap_pct = 0;
	json_t             *res;
	char                summary[128];
	int                 ret;

	if (hostinfo_meminfo(&m) == -1)
		return (task_finish_error(ctx, "cannot read /proc/meminfo"));
	pct = 100.0 * (double)(m.total - m.available) / (double)m.total;
	if (m.swap_total > 0)
		swap_pct = 100.0 * (double)(m.swap_total - m.swap_free) /
		    (double)m.swap_total;
	res = json_pack("{s:I, s:I, s:I, s:f, s:I, s:I, s:f, s:I, s:I}",
	    "total_bytes", (json_int_t)m.total, "available_bytes",
	    (json_int_t)m.available, "used_bytes",
	    (json_int_t)(m.total - m.available), "used_pct",
	    hostinfo_round1(pct), "swap_total_bytes", (json_int_t)m.swap_total,
	    "swap_used_bytes", (json_int_t)(m.swap_total - m.swap_free),
	    "swap_used_pct", hostinfo_round1(swap_pct), "warn_pct",
	    (json_int_t)params_num(p, "warn_pct"), "fail_pct",
	    (json_int_t)params_num(p, "fail_pct"));
	snprintf(summary, sizeof(summary), "memory %.1f%% used", pct);
	ret = task_finish(ctx,
	    task_threshold(pct, (double)params_num(p, "warn_pct"),
	        (double)params_num(p, "fail_pct")),
	    summary, res, 0, NULL);
	json_decref(res);
	return (ret);
}

const struct task_module mod_sys_memory = {
    .name = "sys.memory",
    .params = sys_memory_params,
    .validate = params_check_thresholds,
    .run = sys_memory_run,
};
