/*
 * mongo.h: the mongo family (vsm-task-mongo: mongo.status, mongo.compact,
 * mongo.reindex) and what it shares: the connection from agent.yaml, name
 * checks, the serverStatus result builder and a probe for sys.health.
 */
#ifndef VSM_MONGO_H
#define VSM_MONGO_H

#include <stdint.h>

#include <jansson.h>
#include <mongoc/mongoc.h>

#include "err.h"
#include "params.h"

#define MONGO_SELECT_MS 5000 /* serverSelectionTimeoutMS unless set */

/*
 * mongo_conn.c. A client for uri (mongo.uri of agent.yaml) with
 * serverSelectionTimeoutMS and connectTimeoutMS set to select_ms unless
 * the URI sets them, error API 2, appname vsm-agent. No I/O happens yet:
 * the first command selects a server. NULL with err set (the URI itself
 * is never copied into err: it may hold a password). Free with
 * mongo_client_free, which also ends libmongoc.
 */
mongoc_client_t *mongo_client_new(
    const char *uri, int32_t select_ms, struct vsm_err *err);
void mongo_client_free(mongoc_client_t *client);

struct task_ctx;
/* mongo_client_new on the agent's mongo.uri (task_config). */
mongoc_client_t *mongo_task_client(struct task_ctx *ctx, struct vsm_err *err);

/*
 * Run cmd on db; 0 with reply filled (bson_destroy it either way), or -1
 * with err "MongoDB: ..." and berr the driver's error (domain
 * MONGOC_ERROR_SERVER when the server answered with an error, code its
 * code).
 */
int mongo_command(mongoc_client_t *client, const char *db, const bson_t *cmd,
    bson_t *reply, bson_error_t *berr, struct vsm_err *err);

/*
 * The parameters of the modules that act on one collection (mongo.compact,
 * mongo.reindex): database and collection, both required, and their
 * validate, which checks both names before any connection is made.
 */
extern const struct param_spec mongo_collection_params[];
int                            mongo_collection_validate(
                               struct task_ctx *ctx, const struct task_params *p, struct vsm_err *err);

/*
 * mongo_result.c: the essentials of a serverStatus reply as a new JSON
 * object (version, process, uptime_s, connections, conn_used_pct,
 * opcounters, mem_mb, role, set_name). *conn_pct gets the percentage of
 * connections in use. NULL with err set when the document has no
 * connections section or memory runs out. Depends on libbson and
 * jansson only, so a test can link it alone.
 */
json_t *mongo_status_result(
    const bson_t *status, double *conn_pct, struct vsm_err *err);
/*
 * mongo_result.c: a new JSON integer for the number (int32, int64 or
 * finite double) at dotted path in doc, or JSON null when there is none.
 * NULL only when out of memory.
 */
json_t *mongo_json_num(const bson_t *doc, const char *path);
/* "standalone", "primary", "secondary", "arbiter", "mongos" or "other". */
const char *mongo_role(const bson_t *status);

#endif /* VSM_MONGO_H */
