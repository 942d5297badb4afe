/*
 * sys_load.c: sys.load, from /proc/loadavg. The 5-minute load divided by
 * the online CPUs, in percent, against warn_pct/fail_pct (100 = one
 * runnable task per CPU).
 */
#include <stdio.h>

#include "hostinfo.h"
#include "module.h"

static const struct param_spec sys_load_params[] = {
    PARAM_THRESHOLDS(10000, "100", "200", "per-CPU 5 min load, percent,"),
    {.name = NULL},
};

static int
sys_load_run(struct task_ctx *ctx, const struct task_params *p)
{
	char     buf[256], summary[128];
	double   l1, l5, l15, pct;
	unsigned running, total;
	long     ncpu = hostinfo_ncpu();
	json_t  *res;
	int      ret;

	if (hostinfo_read_file("/proc/loadavg", buf, sizeof(buf)) <= 0 ||
	    sscanf(buf, "%lf %lf %lf %u/%u", &l1, &l5, &l15, &running,
	        &total) != 5)
		return (task_finish_error(ctx, "cannot read /proc/loadavg"));
	pct = 100.0 * l5 / (double)ncpu;
	res = json_pack("{s:f, s:f, s:f, s:I, s:f, s:f, s:f, s:f, s:I, s:I, "
	                "s:I, s:I}",
	    "load1", l1, "load5", l5, "load15", l15, "cpus", (json_int_t)ncpu,
	    "load1_per_cpu", hostinfo_round1(l1 / (double)ncpu * 100) / 100,
	    "load5_per_cpu", hostinfo_round1(l5 / (double)ncpu * 100) / 100,
	    "load15_per_cpu", hostinfo_round1(l15 / (double)ncpu * 100) / 100,
	    "load5_pct", hostinfo_round1(pct), "running", (json_int_t)running,
	    "tasks", (json_int_t)total, "warn_pct",
	    (json_int_t)params_num(p, "warn_pct"), "fail_pct",
	    (json_int_t)params_num(p, "fail_pct"));
	snprintf(summary, sizeof(summary), "load %.2f %.2f %.2f on %ld CPUs",
	    l1, l5, l15, ncpu);
	ret = task_finish(ctx,
	    task_threshold(pct, (double)params_num(p, "warn_pct"),
	        (double)params_num(p, "fail_pct")),
	    summary, res, 0, NULL);
	json_decref(res);
	return (ret);
}

const struct task_module mod_sys_load = {
    .name = "sys.load",
    .params = sys_load_params,
    .validate = params_check_thresholds,
    .run = sys_load_run,
};
