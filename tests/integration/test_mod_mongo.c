/*
 * test_mod_mongo.c: mongo.status, mongo.compact and mongo.reindex
 * (vsm-task-mongo) through the real runner. No MongoDB server is
 * installed here: what needs no server (parameter checks before any
 * connection, an unreachable server, the serverStatus result builder on
 * canned documents) always runs; the rest runs against the server named
 * by VSM_TEST_MONGO_URI and is skipped, saying so, without it.
 *
 * The result builder test links agent/modules/mongo/mongo_result.c and
 * libmongoc (tests/CMakeLists.txt).
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "mongo.h"
#include "testutil.h"
#include "tu_task.h"

static char        dir[64], bin[PATH_MAX];
static char        cfg_down[PATH_MAX], cfg_real[PATH_MAX];
static const char *real_uri;

static void
run(const char *cfg, const char *module, const char *const *kv, int dry_run,
    struct tu_task_result *r)
{
	assert_int_equal(tu_task_run(bin, cfg, module, kv, dry_run, r), 0);
	if (r->status != 1)
		fprintf(stderr, "%s: %s: %s [%s]\n", module,
		    tu_task_status(r->status), r->summary, r->error);
}

/* Run module against the port nothing listens on: refused with needle. */
static void
expect_error(const char *module, const char *const *kv, const char *needle)
{
	tu_task_expect_error(bin, cfg_down, module, kv, needle);
}

/*
 * Bad names are refused before any connection: the config points at a
 * port nothing listens on, so a module that connected first would end
 * with a server selection error instead of naming the parameter.
 */
static void
test_mongo_names_refused(void **state)
{
	const char *dollar[] = {"database", "app", "collection", "a$b", NULL};
	const char *quote[] = {"database", "app\"", "collection", "c", NULL};
	const char *dots[] = {"database", "app", "collection", "a..b", NULL};
	const char *sys[] = {
	    "database", "app", "collection", "system.users", NULL};
	const char *slash[] = {"database", "../admin", "collection", "c", NULL};
	const char *space[] = {
	    "database", "app", "collection", "c; drop", NULL};
	const char *missing[] = {"database", "app", NULL};
	const char *order[] = {"warn_pct", "95", "fail_pct", "90", NULL};

	(void)state;
	expect_error("mongo.compact", dollar, "parameter 'collection'");
	expect_error("mongo.compact", quote, "parameter 'database'");
	expect_error("mongo.compact", dots, "parameter 'collection'");
	expect_error("mongo.compact", sys, "system collections");
	expect_error("mongo.reindex", slash, "parameter 'database'");
	expect_error("mongo.reindex", space, "parameter 'collection'");
	expect_error("mongo.reindex", missing, "collection");
	expect_error("mongo.status", order, "warn_pct");
}

/* An unreachable server: a clear error, within the selection timeout. */
static void
test_mongo_unreachable(void **state)
{
	const char *kv[] = {"database", "app", "collection", "events", NULL};

	(void)state;
	expect_error("mongo.status", NULL, "No suitable servers");
	expect_error("mongo.compact", kv, "No suitable servers");
	expect_error("mongo.reindex", kv, "No suitable servers");
}

/* serverStatus of a replica set primary, trimmed to what is read. */
static const char status_primary[] =
    "{\"host\": \"db1:27017\", \"version\": \"6.0.14\", \"process\": "
    "\"mongod\", \"uptime\": 86400.5, \"connections\": {\"current\": 90, "
    "\"available\": 10, \"totalCreated\": {\"$numberLong\": \"1234\"}}, "
    "\"opcounters\": {\"insert\": 5, \"query\": {\"$numberLong\": "
    "\"70000000000\"}, \"update\": 7, \"delete\": 0, \"getmore\": 2, "
    "\"command\": 99}, \"mem\": {\"resident\": 512, \"virtual\": 2048}, "
    "\"repl\": {\"setName\": \"rs0\", \"isWritablePrimary\": true, "
    "\"secondary\": false}, \"ok\": 1.0}";

static void
test_mongo_result_builder(void **state)
{
	struct vsm_err err;
	bson_error_t   berr;
	bson_t        *doc;
	json_t        *res;
	double         pct;

	(void)state;
	assert_non_null(doc = bson_new_from_json(
	                    (const uint8_t *)status_primary, -1, &berr));
	assert_non_null(res = mongo_status_result(doc, &pct, &err));
	assert_true(pct > 89.9 && pct < 90.1);
	assert_string_equal(
	    json_string_value(json_object_get(res, "version")), "6.0.14");
	assert_string_equal(
	    json_string_value(json_object_get(res, "role")), "primary");
	assert_string_equal(
	    json_string_value(json_object_get(res, "set_name")), "rs0");
	assert_int_equal(
	    json_integer_value(json_object_get(res, "uptime_s")), 86400);
	assert_int_equal(json_integer_value(json_object_get(
	                     json_object_get(res, "connections"), "available")),
	    10);
	assert_int_equal(
	    json_integer_value(json_object_get(
	        json_object_get(res, "connections"), "total_created")),
	    1234);
	assert_int_equal(json_integer_value(json_object_get(
	                     json_object_get(res, "opcounters"), "query")),
	    70000000000LL);
	assert_int_equal(json_integer_value(json_object_get(
	                     json_object_get(res, "mem_mb"), "resident")),
	    512);
	json_decref(res);
	bson_destroy(doc);

	/* A standalone without mem or opcounters: nulls, not errors. */
	assert_non_null(
	    doc = bson_new_from_json(
	        (const uint8_t *)"{\"version\": \"4.4.0\", "
	                         "\"connections\": {\"current\": 1, "
	                         "\"available\": 799}}",
	        -1, &berr));
	assert_non_null(res = mongo_status_result(doc, &pct, &err));
	assert_string_equal(
	    json_string_value(json_object_get(res, "role")), "standalone");
	assert_true(json_is_null(json_object_get(res, "uptime_s")));
	assert_true(json_is_null(
	    json_object_get(json_object_get(res, "opcounters"), "insert")));
	assert_true(json_is_null(json_object_get(res, "set_name")));
	assert_true(pct > 0.0 && pct < 0.2);
	json_decref(res);
	bson_destroy(doc);

	/* mongos, and a secondary. */
	assert_non_null(
	    doc = bson_new_from_json(
	        (const uint8_t *)"{\"process\": \"mongos\", "
	                         "\"connections\": {\"current\": 0, "
	                         "\"available\": 0}}",
	        -1, &berr));
	assert_string_equal(mongo_role(doc), "mongos");
	bson_destroy(doc);
	assert_non_null(
	    doc = bson_new_from_json(
	        (const uint8_t *)"{\"repl\": {\"secondary\": true}}", -1,
	        &berr));
	assert_string_equal(mongo_role(doc), "secondary");
	/* No connections section: an error, not zeros. */
	assert_null(mongo_status_result(doc, &pct, &err));
	assert_non_null(strstr(err.msg, "no connections section"));
	bson_destroy(doc);
}

/* 1 (after saying so) when no real server is configured. */
static int
no_server(void)
{
	if (real_uri != NULL && real_uri[0] != '\0')
		return (0);
	fprintf(stderr, "SKIPPED: MongoDB tests need VSM_TEST_MONGO_URI\n");
	return (1);
}

static void
test_mongo_status_real(void **state)
{
	struct tu_task_result r;
	const char *low[] = {"warn_pct", "1", "fail_pct", "100", NULL};

	(void)state;
	if (no_server())
		skip();
	run(cfg_real, "mongo.status", NULL, 0, &r);
	assert_string_equal(tu_task_status(r.status), "ok");
	assert_non_null(json_string_value(json_object_get(r.json, "version")));
	assert_true(
	    json_integer_value(json_object_get(
	        json_object_get(r.json, "connections"), "current")) >= 1);
	assert_non_null(json_string_value(json_object_get(r.json, "role")));
	tu_task_result_free(&r);
	/* Our own connection is in use: at 1 percent it warns at most. */
	run(cfg_real, "mongo.status", low, 0, &r);
	assert_int_not_equal(r.status, 4);
	tu_task_result_free(&r);
}

static void
test_mongo_compact_real(void **state)
{
	struct tu_task_result r;
	const char           *kv[] = {
	              "database", "vsm_test", "collection", "events", NULL};

	(void)state;
	if (no_server())
		skip();
	run(cfg_real, "mongo.compact", kv, 1, &r);
	assert_string_equal(tu_task_status(r.status), "ok");
	assert_true(json_is_true(json_object_get(r.json, "dry_run")));
	assert_non_null(strstr(r.summary, "dry run"));
	tu_task_result_free(&r);
	run(cfg_real, "mongo.compact", kv, 0, &r);
	/* ok, or error from a server that refuses compact (a primary of an
	 * old release); never a crash or a silent success. */
	assert_true(r.status == 1 || r.status == 4);
	if (r.status == 1)
		assert_non_null(json_object_get(r.json, "bytes_freed"));
	tu_task_result_free(&r);
}

static void
test_mongo_reindex_real(void **state)
{
	struct tu_task_result r;
	const char           *kv[] = {
	              "database", "vsm_test", "collection", "events", NULL};

	(void)state;
	if (no_server())
		skip();
	run(cfg_real, "mongo.reindex", kv, 1, &r);
	/* A standalone answers the dry run; a replica set refuses clearly. */
	if (r.status == 4)
		assert_non_null(strstr(r.error, "standalone"));
	else
		assert_string_equal(tu_task_status(r.status), "ok");
	tu_task_result_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mongo_names_refused),
	    cmocka_unit_test(test_mongo_unreachable),
	    cmocka_unit_test(test_mongo_result_builder),
	    cmocka_unit_test(test_mongo_status_real),
	    cmocka_unit_test(test_mongo_compact_real),
	    cmocka_unit_test(test_mongo_reindex_real),
	};
	char yaml[2048], sub[PATH_MAX];
	int  rc;

	real_uri = getenv("VSM_TEST_MONGO_URI");
	if (tu_mkdtemp(dir, sizeof(dir), "modmongo") == -1)
		return (1);
	tu_task_bin(VSM_TASK_DIR, "vsm-task-mongo", bin, sizeof(bin));
	snprintf(sub, sizeof(sub), "%s/down", dir);
	if (mkdir(sub, 0700) == -1 ||
	    tu_task_config(sub,
	        "mongo:\n  uri: "
	        "\"mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=500\"\n",
	        cfg_down, sizeof(cfg_down)) == -1)
		return (1);
	if (real_uri != NULL && real_uri[0] != '\0') {
		snprintf(
		    yaml, sizeof(yaml), "mongo:\n  uri: \"%s\"\n", real_uri);
		snprintf(sub, sizeof(sub), "%s/real", dir);
		if (mkdir(sub, 0700) == -1 ||
		    tu_task_config(sub, yaml, cfg_real, sizeof(cfg_real)) == -1)
			return (1);
	} else
		fprintf(
		    stderr, "SKIPPED: MongoDB tests need VSM_TEST_MONGO_URI\n");
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (rc == 0 && tu_rmtree(dir) == -1)
		rc = 1;
	return (rc);
}
