/*
 * redis_persistence.c: redis.persistence, whether what Redis holds is on
 * disk (the guide's `redis-cli LASTSAVE`). Age of the last save on the
 * server's own clock (TIME - LASTSAVE) against warn_age/fail_age, taken
 * only while there are changes since that save: an idle Redis saves
 * nothing and loses nothing. Fail when the last background save or the
 * last AOF write failed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_info.h"
#include "redis_modules.h"

#define REDIS_DAY_MS (24LL * 3600 * 1000)

static const struct param_spec redis_persistence_params[] = {
    {.name = "warn_age",
        .type = PARAM_DURATION,
        .min = 1000,
        .max = 365 * REDIS_DAY_MS,
        .def = "1h",
        .help = "unsaved changes older than this: warn"},
    {.name = "fail_age",
        .type = PARAM_DURATION,
        .min = 1000,
        .max = 365 * REDIS_DAY_MS,
        .def = "6h",
        .help = "unsaved changes older than this: fail"},
    {.name = NULL},
};

static int
redis_persistence_validate(
    struct task_ctx *ctx, const struct task_params *p, struct vsm_err *err)
{
	(void)ctx;
	return (params_check_order(p, "warn_age", "fail_age", err));
}

/* The server's clock in seconds (TIME). 0 or -1 with err. */
static int
redis_server_time(redisContext *c, long long *now, struct vsm_err *err)
{
	redisReply *r;
	char        buf[32], *end;
	int         ret = -1;

	if ((r = redis_cmd(c, REDIS_REPLY_ARRAY, err, "TIME", NULL)) == NULL)
		return (-1);
	if (r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[0]->len == 0 || r->element[0]->len >= sizeof(buf)) {
		vsm_err_set(err, "Redis TIME: malformed reply");
		goto out;
	}
	memcpy(buf, r->element[0]->str, r->element[0]->len);
	buf[r->element[0]->len] = '\0';
	*now = strtoll(buf, &end, 10);
	if (*end != '\0' || *now <= 0) {
		vsm_err_set(err, "Redis TIME: malformed reply");
		goto out;
	}
	ret = 0;
out:
	freeReplyObject(r);
	return (ret);
}

/* LASTSAVE in seconds. 0 or -1 with err. */
static int
redis_lastsave(redisContext *c, long long *t, struct vsm_err *err)
{
	redisReply *r;

	if ((r = redis_cmd(c, REDIS_REPLY_INTEGER, err, "LASTSAVE", NULL)) ==
	    NULL)
		return (-1);
	*t = r->integer;
	freeReplyObject(r);
	return (0);
}

static int
redis_persistence_run(struct task_ctx *ctx, const struct task_params *p)
{
	redisContext   *c;
	struct vsm_err  err;
	Vsm__TaskStatus st = VSM__TASK_STATUS__TASK_OK;
	json_t         *res = NULL;
	char           *info = NULL, bgsave[32], aofw[32] = "";
	char            summary[256], why[128] = "";
	long long       now, last, age;
	uint64_t        changes, inprog, aof;
	int             age_checked, ret = -1;

	if ((c = redis_task_connect(ctx, 0, &err)) == NULL)
		return (task_finish_error(ctx, "%s", err.msg));
	if (redis_server_time(c, &now, &err) == -1 ||
	    redis_lastsave(c, &last, &err) == -1 ||
	    (info = redis_info(c, "persistence", &err)) == NULL ||
	    redis_info_str(info, "rdb_last_bgsave_status", bgsave,
	        sizeof(bgsave), &err) == -1 ||
	    redis_info_u64(
	        info, "rdb_changes_since_last_save", &changes, &err) == -1 ||
	    redis_info_u64(info, "rdb_bgsave_in_progress", &inprog, &err) ==
	        -1 ||
	    redis_info_u64(info, "aof_enabled", &aof, &err) == -1 ||
	    (aof != 0 &&
	        redis_info_str(info, "aof_last_write_status", aofw,
	            sizeof(aofw), &err) == -1)) {
		ret = task_finish_error(ctx, "%s", err.msg);
		goto out;
	}
	age = now > last ? now - last : 0;
	age_checked = changes > 0;
	if (age_checked) {
		st = task_threshold((double)age * 1000.0,
		    (double)params_num(p, "warn_age"),
		    (double)params_num(p, "fail_age"));
		if (st != VSM__TASK_STATUS__TASK_OK)
			snprintf(why, sizeof(why), "; unsaved for over %s",
			    st == VSM__TASK_STATUS__TASK_FAIL
			        ? params_str(p, "fail_age")
			        : params_str(p, "warn_age"));
	}
	if (strcmp(bgsave, "ok") != 0) {
		st = VSM__TASK_STATUS__TASK_FAIL;
		snprintf(why, sizeof(why), "; last bgsave: %s", bgsave);
	}
	if (aof != 0 && strcmp(aofw, "ok") != 0) {
		st = VSM__TASK_STATUS__TASK_FAIL;
		snprintf(why, sizeof(why), "; last AOF write: %s", aofw);
	}
	res = json_pack("{s:I, s:I, s:s, s:b, s:I, s:b, s:b}", "last_save",
	    (json_int_t)last, "last_save_age_s", (json_int_t)age,
	    "rdb_last_bgsave_status", bgsave, "rdb_bgsave_in_progress",
	    inprog != 0, "rdb_changes_since_last_save", (json_int_t)changes,
	    "aof_enabled", aof != 0, "age_checked", age_checked);
	if (res == NULL ||
	    (aof != 0 &&
	        json_object_set_new(
	            res, "aof_last_write_status", json_string(aofw)) == -1)) {
		ret = task_finish_error(ctx, "out of memory");
		goto out;
	}
	snprintf(summary, sizeof(summary),
	    "last save %llds ago, %" PRIu64 " changes since%s", age, changes,
	    why);
	ret = task_finish(ctx, st, summary, res, 0, NULL);
out:
	free(info);
	json_decref(res);
	redisFree(c);
	return (ret);
}

const struct task_module mod_redis_persistence = {
    .name = "redis.persistence",
    .params = redis_persistence_params,
    .validate = redis_persistence_validate,
    .run = redis_persistence_run,
};
