/*
 * mongo_status.c: mongo.status, the essentials of serverStatus (version,
 * uptime, connections, opcounters, memory, replication role) with a
 * threshold on the share of connections in use (docs/modules.md,
 * "MongoDB").
 */
#include <stdio.h>

#include "module.h"
#include "mongo.h"

static const struct param_spec mongo_status_params[] = {
    PARAM_THRESHOLDS(100, "80", "90", "connections in use, percent"),
    {.name = NULL},
};

static int
mongo_status_run(struct task_ctx *ctx, const struct task_params *p)
{
	mongoc_client_t *client = NULL;
	struct vsm_err   err;
	bson_t           reply = BSON_INITIALIZER, *cmd = NULL;
	json_t          *res = NULL;
	bson_error_t     berr;
	double           pct;
	char             summary[256];
	int              ret = -1;

	if ((client = mongo_task_client(ctx, &err)) == NULL) {
		ret = task_finish_error(ctx, "%s", err.msg);
		goto out;
	}
	cmd = BCON_NEW("serverStatus", BCON_INT32(1));
	if (mongo_command(client, "admin", cmd, &reply, &berr, &err) == -1 ||
	    (res = mongo_status_result(&reply, &pct, &err)) == NULL) {
		ret = task_finish_error(ctx, "%s", err.msg);
		goto out;
	}
	json_object_set_new(
	    res, "warn_pct", json_integer(params_num(p, "warn_pct")));
	json_object_set_new(
	    res, "fail_pct", json_integer(params_num(p, "fail_pct")));
	snprintf(summary, sizeof(summary),
	    "MongoDB %s (%s), up %llds, %lld connections (%.1f%% of the limit)",
	    json_string_value(json_object_get(res, "version")) != NULL
	        ? json_string_value(json_object_get(res, "version"))
	        : "?",
	    json_string_value(json_object_get(res, "role")),
	    (long long)json_integer_value(json_object_get(res, "uptime_s")),
	    (long long)json_integer_value(json_object_get(
	        json_object_get(res, "connections"), "current")),
	    pct);
	ret = task_finish(ctx,
	    task_threshold(pct, (double)params_num(p, "warn_pct"),
	        (double)params_num(p, "fail_pct")),
	    summary, res, 0, NULL);
out:
	bson_destroy(&reply);
	bson_destroy(cmd);
	json_decref(res);
	mongo_client_free(client);
	return (ret);
}

const struct task_module mod_mongo_status = {
    .name = "mongo.status",
    .params = mongo_status_params,
    .validate = params_check_thresholds,
    .run = mongo_status_run,
};
