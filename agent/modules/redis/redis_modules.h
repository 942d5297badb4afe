/*
 * redis_modules.h: the modules of vsm-task-redis (table.c), one file
 * each. Their connection is redis_conn.h; INFO parsing redis_info.h.
 */
#ifndef VSM_REDIS_MODULES_H
#define VSM_REDIS_MODULES_H

#include "module.h"
#include "redis_conn.h"

/*
 * redis_task.c: the task's connection: the agent's config (task_config)
 * then redis_connect with db. NULL with err set.
 */
redisContext *redis_task_connect(
    struct task_ctx *ctx, int db, struct vsm_err *err);

extern const struct task_module mod_redis_memory;
extern const struct task_module mod_redis_persistence;
extern const struct task_module mod_redis_bgsave;
extern const struct task_module mod_redis_purge;
extern const struct task_module mod_redis_delete_pattern;

#endif /* VSM_REDIS_MODULES_H */
