/*
 * pg_connections.c: pg.connections, client connections against
 * max_connections (the guide's `SELECT count(*) FROM pg_stat_activity`),
 * by state and by database. used_pct against warn_pct/fail_pct gives the
 * status.
 */
#include <stdio.h>

#include "pg_conn.h"
#include "pg_params.h"

static const struct param_spec pg_connections_params[] = {
    PARAM_THRESHOLDS(100, "80", "90", "percent of max_connections"),
    {.name = NULL},
};

static int
pg_connections_run(struct task_ctx *ctx, const struct task_params *p)
{
	const struct vsm_agent_config *cfg;
	struct vsm_err                 err;
	json_t                        *res = NULL;
	Vsm__TaskStatus                st;
	json_int_t                     warn, fail;
	char                           summary[256];
	int                            ret;

	warn = params_num(p, "warn_pct");
	fail = params_num(p, "fail_pct");
	if ((cfg = task_config(ctx, &err)) == NULL ||
	    pg_probe_connections(ctx, cfg, &res, &err) == -1) {
		ret = task_finish_error(ctx, "%s", err.msg);
		goto out;
	}
	st = task_threshold(json_real_value(json_object_get(res, "used_pct")),
	    (double)warn, (double)fail);
	if (json_object_set_new(res, "warn_pct", json_integer(warn)) == -1 ||
	    json_object_set_new(res, "fail_pct", json_integer(fail)) == -1) {
		ret = task_finish_error(ctx, "out of memory");
		goto out;
	}
	snprintf(summary, sizeof(summary), "%lld of %lld connections (%.1f%%)",
	    (long long)json_integer_value(json_object_get(res, "connections")),
	    (long long)json_integer_value(
	        json_object_get(res, "max_connections")),
	    json_real_value(json_object_get(res, "used_pct")));
	ret = task_finish(ctx, st, summary, res, 0, NULL);
out:
	json_decref(res);
	return (ret);
}

const struct task_module mod_pg_connections = {
    .name = "pg.connections",
    .params = pg_connections_params,
    .validate = params_check_thresholds,
    .run = pg_connections_run,
    .cancel = pg_cancel,
};
