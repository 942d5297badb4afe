/*
 * mongo_compact.c: mongo.compact, the compact command on one collection
 * (the guide's monthly compaction). The collection's storage comes from
 * collStats first; dry_run reports it and compacts nothing (docs/modules.md,
 * "MongoDB").
 */
#include <stdio.h>

#include "module.h"
#include "mongo.h"

static int
mongo_compact_run(struct task_ctx *ctx, const struct task_params *p)
{
	const char      *db = params_str(p, "database");
	const char      *coll = params_str(p, "collection");
	mongoc_client_t *client = NULL;
	struct vsm_err   err;
	bson_t           stats = BSON_INITIALIZER, reply = BSON_INITIALIZER;
	bson_t          *cmd = NULL;
	json_t          *res = NULL, *freed;
	bson_error_t     berr;
	char             summary[512];
	int              ret = -1;

	if ((client = mongo_task_client(ctx, &err)) == NULL) {
		ret = task_finish_error(ctx, "%s", err.msg);
		goto out;
	}
	cmd = BCON_NEW("collStats", BCON_UTF8(coll));
	/*
	 * The sizes are a report: a server that refuses collStats (newer
	 * releases deprecate it) still gets the compact, unless this is a
	 * dry run or the server did not answer at all.
	 */
	if (mongo_command(client, db, cmd, &stats, &berr, &err) == -1) {
		if (ctx->task->dry_run || berr.domain != MONGOC_ERROR_SERVER) {
			ret = task_finish_error(
			    ctx, "%s.%s: %s", db, coll, err.msg);
			goto out;
		}
		task_emit_log(ctx, "collStats %s.%s: %s", db, coll, err.msg);
	}
	res = json_pack("{s:s, s:s, s:b, s:o, s:o, s:o, s:o}", "database", db,
	    "collection", coll, "dry_run", ctx->task->dry_run, "count",
	    mongo_json_num(&stats, "count"), "size_bytes",
	    mongo_json_num(&stats, "size"), "storage_bytes",
	    mongo_json_num(&stats, "storageSize"), "free_storage_bytes",
	    mongo_json_num(&stats, "freeStorageSize"));
	if (res == NULL) {
		ret = task_finish_error(ctx, "out of memory");
		goto out;
	}
	if (ctx->task->dry_run) {
		snprintf(summary, sizeof(summary),
		    "dry run: would compact %s.%s (%lld bytes of storage)", db,
		    coll,
		    (long long)json_integer_value(
		        json_object_get(res, "storage_bytes")));
		ret = task_finish(
		    ctx, VSM__TASK_STATUS__TASK_OK, summary, res, 0, NULL);
		goto out;
	}
	bson_destroy(cmd);
	cmd = BCON_NEW("compact", BCON_UTF8(coll));
	task_emit_log(ctx, "compacting %s.%s", db, coll);
	if (mongo_command(client, db, cmd, &reply, &berr, &err) == -1) {
		ret = task_finish(ctx, VSM__TASK_STATUS__TASK_ERROR, err.msg,
		    res, 0, err.msg);
		goto out;
	}
	freed = mongo_json_num(&reply, "bytesFreed");
	json_object_set_new(res, "bytes_freed", freed);
	snprintf(summary, sizeof(summary), "compacted %s.%s, %lld bytes freed",
	    db, coll, (long long)json_integer_value(freed));
	ret =
	    task_finish(ctx, VSM__TASK_STATUS__TASK_OK, summary, res, 0, NULL);
out:
	bson_destroy(&stats);
	bson_destroy(&reply);
	bson_destroy(cmd);
	json_decref(res);
	mongo_client_free(client);
	return (ret);
}

const struct task_module mod_mongo_compact = {
    .name = "mongo.compact",
    .params = mongo_collection_params,
    .validate = mongo_collection_validate,
    .run = mongo_compact_run,
};
