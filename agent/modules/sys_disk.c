/*
 * sys_disk.c: sys.disk, use of every mounted filesystem (pseudo
 * filesystems skipped) or of the one holding `path`. The worst used_pct
 * against warn_pct/fail_pct gives the status.
 */
#include <stdio.h>

#include "hostinfo.h"
#include "module.h"

static const struct param_spec sys_disk_params[] = {
    {.name = "path",
        .type = PARAM_PATH,
        .min = 1,
        .max = 4096,
        .help = "only the filesystem holding this path"},
    PARAM_THRESHOLDS(100, "80", "90", "used percent"),
    {.name = NULL},
};

static int
sys_disk_run(struct task_ctx *ctx, const struct task_params *p)
{
	const char     *path = params_str(p, "path");
	double          worst, warn, fail;
	json_t         *mounts, *res = NULL;
	Vsm__TaskStatus st;
	char            summary[256];
	int             ret = -1;

	warn = (double)params_num(p, "warn_pct");
	fail = (double)params_num(p, "fail_pct");
	if ((mounts = json_array()) == NULL)
		goto out;
	if (hostinfo_mounts(mounts, path, &worst) == -1) {
		ret = task_finish_error(ctx, "%s: no filesystem found",
		    path != NULL ? path : "mount table");
		goto out;
	}
	st = task_threshold(worst, warn, fail);
	res = json_pack("{s:O, s:f, s:I, s:I}", "mounts", mounts, "worst_pct",
	    hostinfo_round1(worst), "warn_pct", (json_int_t)warn, "fail_pct",
	    (json_int_t)fail);
	snprintf(summary, sizeof(summary), "%zu filesystems, fullest %.1f%%",
	    json_array_size(mounts), worst);
	ret = task_finish(ctx, st, summary, res, 0, NULL);
out:
	json_decref(mounts);
	json_decref(res);
	return (ret);
}

const struct task_module mod_sys_disk = {
    .name = "sys.disk",
    .params = sys_disk_params,
    .validate = params_check_thresholds,
    .run = sys_disk_run,
};
