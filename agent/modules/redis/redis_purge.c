/*
 * redis_purge.c: redis.purge, the guide's `redis-cli MEMORY PURGE`: ask
 * the allocator to hand dirty pages back to the system, with INFO memory
 * read before and after. dry_run reads the figures and purges nothing.
 */
#include <stdio.h>

#include "redis_info.h"
#include "redis_modules.h"

static int
redis_purge_run(struct task_ctx *ctx, const struct task_params *p)
{
	redisContext    *c;
	redisReply      *r;
	struct redis_mem before, after;
	struct vsm_err   err;
	json_t          *res = NULL;
	char             summary[256];
	long long        freed;
	int              ret = -1;

	(void)p;
	if ((c = redis_task_connect(ctx, 0, &err)) == NULL)
		return (task_finish_error(ctx, "%s", err.msg));
	if (redis_mem_read(c, &before, &err) == -1) {
		ret = task_finish_error(ctx, "%s", err.msg);
		goto out;
	}
	if (ctx->task->dry_run) {
		res = json_pack("{s:b, s:b, s:I, s:I}", "dry_run", 1, "purged",
		    0, "used_memory_before", (json_int_t)before.used,
		    "rss_before", (json_int_t)before.rss);
		snprintf(summary, sizeof(summary),
		    "dry run: would run MEMORY PURGE (rss %llu bytes)",
		    (unsigned long long)before.rss);
		ret = task_finish(
		    ctx, VSM__TASK_STATUS__TASK_OK, summary, res, 0, NULL);
		goto out;
	}
	if ((r = redis_cmd(c, REDIS_REPLY_STATUS, &err, "MEMORY", "PURGE",
	         NULL)) == NULL) {
		ret = task_finish_error(ctx, "%s", err.msg);
		goto out;
	}
	freeReplyObject(r);
	if (redis_mem_read(c, &after, &err) == -1) {
		ret = task_finish_error(ctx, "%s", err.msg);
		goto out;
	}
	/* rss may grow meanwhile: the difference is signed. */
	freed = (long long)before.rss - (long long)after.rss;
	res = json_pack("{s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:f}", "dry_run",
	    0, "purged", 1, "used_memory_before", (json_int_t)before.used,
	    "used_memory_after", (json_int_t)after.used, "rss_before",
	    (json_int_t)before.rss, "rss_after", (json_int_t)after.rss,
	    "rss_freed", (json_int_t)freed, "mem_fragmentation_ratio_after",
	    after.frag);
	snprintf(summary, sizeof(summary),
	    "MEMORY PURGE: rss %llu -> %llu bytes",
	    (unsigned long long)before.rss, (unsigned long long)after.rss);
	ret =
	    task_finish(ctx, VSM__TASK_STATUS__TASK_OK, summary, res, 0, NULL);
out:
	json_decref(res);
	redisFree(c);
	return (ret);
}

const struct task_module mod_redis_purge = {
    .name = "redis.purge",
    .run = redis_purge_run,
};
