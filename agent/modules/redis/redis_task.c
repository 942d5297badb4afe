/*
 * redis_task.c: a redis.* task's connection, from the agent's config
 * (redis_modules.h).
 */
#include "redis_modules.h"

redisContext *
redis_task_connect(struct task_ctx *ctx, int db, struct vsm_err *err)
{
	const struct vsm_agent_config *cfg;

	if ((cfg = task_config(ctx, err)) == NULL)
		return (NULL);
	return (redis_connect(cfg, db, err));
}
