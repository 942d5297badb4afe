/*
 * mongo_conn.c: the client the mongo modules use (mongo.h).
 */
#include <stdio.h>
#include <string.h>

#include "module.h"
#include "mongo.h"

mongoc_client_t *
mongo_client_new(const char *uri, int32_t select_ms, struct vsm_err *err)
{
	mongoc_client_t *client = NULL;
	mongoc_uri_t    *u = NULL;
	bson_error_t     berr;

	mongoc_init();
	if ((u = mongoc_uri_new_with_error(uri, &berr)) == NULL) {
		vsm_err_set(err, "mongo.uri in agent.yaml: %s", berr.message);
		goto out;
	}
	if (!mongoc_uri_has_option(u, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
		mongoc_uri_set_option_as_int32(
		    u, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, select_ms);
	if (!mongoc_uri_has_option(u, MONGOC_URI_CONNECTTIMEOUTMS))
		mongoc_uri_set_option_as_int32(
		    u, MONGOC_URI_CONNECTTIMEOUTMS, select_ms);
	mongoc_uri_set_appname(u, "vsm-agent");
	if ((client = mongoc_client_new_from_uri_with_error(u, &berr)) ==
	    NULL) {
		vsm_err_set(err, "MongoDB: %s", berr.message);
		goto out;
	}
	mongoc_client_set_error_api(client, MONGOC_ERROR_API_VERSION_2);
out:
	mongoc_uri_destroy(u);
	if (client == NULL)
		mongoc_cleanup();
	return (client);
}

mongoc_client_t *
mongo_task_client(struct task_ctx *ctx, struct vsm_err *err)
{
	const struct vsm_agent_config *cfg;

	if ((cfg = task_config(ctx, err)) == NULL)
		return (NULL);
	return (mongo_client_new(cfg->mongo.uri, MONGO_SELECT_MS, err));
}

void
mongo_client_free(mongoc_client_t *client)
{
	if (client == NULL)
		return;
	mongoc_client_destroy(client);
	mongoc_cleanup();
}

int
mongo_command(mongoc_client_t *client, const char *db, const bson_t *cmd,
    bson_t *reply, bson_error_t *berr, struct vsm_err *err)
{
	memset(berr, 0, sizeof(*berr));
	if (!mongoc_client_command_simple(client, db, cmd, NULL, reply, berr))
		return (vsm_err_set(err, "MongoDB: %s", berr->message));
	return (0);
}
