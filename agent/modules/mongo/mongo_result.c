/*
 * mongo_result.c: the serverStatus essentials as JSON (mongo.h). Only
 * libbson and jansson, so the builder is tested on canned documents.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mongo.h"

/* The number at dotted path in doc (int32, int64 or double). 0 or -1. */
static int
mongo_num(const bson_t *doc, const char *path, double *v)
{
	bson_iter_t it, child;

	if (!bson_iter_init(&it, doc) ||
	    !bson_iter_find_descendant(&it, path, &child))
		return (-1);
	switch (bson_iter_type(&child)) {
	case BSON_TYPE_INT32:
		*v = (double)bson_iter_int32(&child);
		return (0);
	case BSON_TYPE_INT64:
		*v = (double)bson_iter_int64(&child);
		return (0);
	case BSON_TYPE_DOUBLE:
		*v = bson_iter_double(&child);
		return (isfinite(*v) ? 0 : -1);
	default:
		return (-1);
	}
}

/* The string at dotted path, or NULL. Borrowed from doc. */
static const char *
mongo_str(const bson_t *doc, const char *path)
{
	bson_iter_t it, child;

	if (!bson_iter_init(&it, doc) ||
	    !bson_iter_find_descendant(&it, path, &child) ||
	    !BSON_ITER_HOLDS_UTF8(&child))
		return (NULL);
	return (bson_iter_utf8(&child, NULL));
}

/* 1 when the boolean at path is true. */
static int
mongo_true(const bson_t *doc, const char *path)
{
	bson_iter_t it, child;

	return (bson_iter_init(&it, doc) &&
	    bson_iter_find_descendant(&it, path, &child) &&
	    bson_iter_as_bool(&child));
}

json_t *
mongo_json_num(const bson_t *doc, const char *path)
{
	double v;

	if (mongo_num(doc, path, &v) == -1)
		return (json_null());
	return (json_integer((json_int_t)v));
}

const char *
mongo_role(const bson_t *status)
{
	const char *proc = mongo_str(status, "process");
	bson_iter_t it;

	if (proc != NULL && strstr(proc, "mongos") != NULL)
		return ("mongos");
	if (!bson_iter_init_find(&it, status, "repl"))
		return ("standalone");
	if (mongo_true(status, "repl.isWritablePrimary") ||
	    mongo_true(status, "repl.ismaster"))
		return ("primary");
	if (mongo_true(status, "repl.secondary"))
		return ("secondary");
	if (mongo_true(status, "repl.arbiterOnly"))
		return ("arbiter");
	return ("other");
}

json_t *
mongo_status_result(const bson_t *status, double *conn_pct, struct vsm_err *err)
{
	static const char *const ops[] = {
	    "insert", "query", "update", "delete", "getmore", "command", NULL};
	const char *set = mongo_str(status, "repl.setName");
	json_t     *res = NULL, *opc = NULL;
	double      cur, avail;
	char        path[64];
	size_t      i;

	if (mongo_num(status, "connections.current", &cur) == -1 ||
	    mongo_num(status, "connections.available", &avail) == -1 ||
	    cur < 0 || avail < 0) {
		vsm_err_set(err, "serverStatus has no connections section");
		return (NULL);
	}
	*conn_pct =
	    cur + avail > 0 ? round(cur * 1000 / (cur + avail)) / 10 : 0;
	if ((opc = json_object()) == NULL)
		goto out;
	for (i = 0; ops[i] != NULL; i++) {
		snprintf(path, sizeof(path), "opcounters.%s", ops[i]);
		if (json_object_set_new(
		        opc, ops[i], mongo_json_num(status, path)) == -1)
			goto out;
	}
	res = json_pack("{s:s?, s:s?, s:s?, s:o, s:{s:I, s:I, s:o}, s:f, s:O, "
	                "s:{s:o, s:o}, s:s, s:s?}",
	    "version", mongo_str(status, "version"), "process",
	    mongo_str(status, "process"), "host", mongo_str(status, "host"),
	    "uptime_s", mongo_json_num(status, "uptime"), "connections",
	    "current", (json_int_t)cur, "available", (json_int_t)avail,
	    "total_created", mongo_json_num(status, "connections.totalCreated"),
	    "conn_used_pct", *conn_pct, "opcounters", opc, "mem_mb", "resident",
	    mongo_json_num(status, "mem.resident"), "virtual",
	    mongo_json_num(status, "mem.virtual"), "role", mongo_role(status),
	    "set_name", set);
out:
	json_decref(opc);
	if (res == NULL)
		vsm_err_set(err, "out of memory");
	return (res);
}
