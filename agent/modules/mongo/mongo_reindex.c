/*
 * mongo_reindex.c: mongo.reindex, the reIndex command on one collection.
 * MongoDB runs it only on a standalone mongod (replica set members and
 * mongos refuse it; later releases deprecate it), so the type of the
 * server is checked first (from the driver's own handshake) and anything
 * else ends `error` with what to do instead; a server without the command
 * ends `error` too (docs/modules.md, "MongoDB").
 */
#include <stdio.h>
#include <string.h>

#include "module.h"
#include "mongo.h"

#define MONGO_COMMAND_NOT_FOUND 59

/*
 * The type of the server writes go to ("Standalone", "RSPrimary",
 * "Mongos", ...: libmongoc's names) into type. 0, or -1 with err set.
 */
static int
mongo_reindex_server_type(
    mongoc_client_t *client, char *type, size_t len, struct vsm_err *err)
{
	mongoc_server_description_t *sd;
	bson_error_t                 berr;

	if ((sd = mongoc_client_select_server(client, true, NULL, &berr)) ==
	    NULL)
		return (vsm_err_set(err, "MongoDB: %s", berr.message));
	snprintf(type, len, "%s", mongoc_server_description_type(sd));
	mongoc_server_description_destroy(sd);
	return (0);
}

/* The number of indexes of db.coll into *n. 0, or -1 with err set. */
static int
mongo_reindex_count(mongoc_client_t *client, const char *db, const char *coll,
    int64_t *n, struct vsm_err *err)
{
	mongoc_collection_t *c;
	mongoc_cursor_t     *cur;
	const bson_t        *doc;
	bson_error_t         berr;
	int                  ret = 0;

	*n = 0;
	c = mongoc_client_get_collection(client, db, coll);
	cur = mongoc_collection_find_indexes_with_opts(c, NULL);
	while (mongoc_cursor_next(cur, &doc))
		(*n)++;
	if (mongoc_cursor_error(cur, &berr))
		ret = vsm_err_set(err, "MongoDB: %s", berr.message);
	mongoc_cursor_destroy(cur);
	mongoc_collection_destroy(c);
	return (ret);
}

static int
mongo_reindex_run(struct task_ctx *ctx, const struct task_params *p)
{
	const char      *db = params_str(p, "database");
	const char      *coll = params_str(p, "collection");
	mongoc_client_t *client = NULL;
	struct vsm_err   err;
	bson_t           reply = BSON_INITIALIZER;
	bson_t          *cmd = NULL;
	json_t          *res = NULL, *jafter;
	bson_error_t     berr;
	int64_t          n = 0, after = 0;
	char             summary[512], type[64];
	int              ret = -1;

	if ((client = mongo_task_client(ctx, &err)) == NULL) {
		ret = task_finish_error(ctx, "%s", err.msg);
		goto out;
	}
	if (mongo_reindex_server_type(client, type, sizeof(type), &err) == -1) {
		ret = task_finish_error(ctx, "%s", err.msg);
		goto out;
	}
	if (strcmp(type, "Standalone") != 0) {
		ret = task_finish_error(ctx,
		    "reIndex runs only on a standalone mongod and this server "
		    "is %s: rebuild the indexes member by member (drop and "
		    "create them, or resync the member) instead",
		    type);
		goto out;
	}
	if (mongo_reindex_count(client, db, coll, &n, &err) == -1) {
		ret = task_finish_error(ctx, "%s.%s: %s", db, coll, err.msg);
		goto out;
	}
	res = json_pack("{s:s, s:s, s:b, s:I}", "database", db, "collection",
	    coll, "dry_run", ctx->task->dry_run, "indexes", (json_int_t)n);
	if (res == NULL) {
		ret = task_finish_error(ctx, "out of memory");
		goto out;
	}
	if (ctx->task->dry_run) {
		snprintf(summary, sizeof(summary),
		    "dry run: would rebuild %lld indexes of %s.%s",
		    (long long)n, db, coll);
		ret = task_finish(
		    ctx, VSM__TASK_STATUS__TASK_OK, summary, res, 0, NULL);
		goto out;
	}
	cmd = BCON_NEW("reIndex", BCON_UTF8(coll));
	task_emit_log(
	    ctx, "rebuilding %lld indexes of %s.%s", (long long)n, db, coll);
	if (mongo_command(client, db, cmd, &reply, &berr, &err) == -1) {
		if (berr.domain == MONGOC_ERROR_SERVER &&
		    berr.code == MONGO_COMMAND_NOT_FOUND)
			snprintf(err.msg, sizeof(err.msg),
			    "this MongoDB server has no reIndex command: "
			    "rebuild the indexes by dropping and creating "
			    "them");
		ret = task_finish(ctx, VSM__TASK_STATUS__TASK_ERROR, err.msg,
		    res, 0, err.msg);
		goto out;
	}
	/* null when the server did not say. */
	jafter = mongo_json_num(&reply, "nIndexes");
	after = json_integer_value(jafter);
	json_object_set_new(res, "indexes_after", jafter);
	snprintf(summary, sizeof(summary), "rebuilt %lld indexes of %s.%s",
	    (long long)after, db, coll);
	ret =
	    task_finish(ctx, VSM__TASK_STATUS__TASK_OK, summary, res, 0, NULL);
out:
	bson_destroy(&reply);
	bson_destroy(cmd);
	json_decref(res);
	mongo_client_free(client);
	return (ret);
}

const struct task_module mod_mongo_reindex = {
    .name = "mongo.reindex",
    .params = mongo_collection_params,
    .validate = mongo_collection_validate,
    .run = mongo_reindex_run,
};
