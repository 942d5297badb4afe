/*
 * table.c: the modules of vsm-task-redis, the family that links hiredis
 * (docs/modules.md, "Task binaries").
 */
#include <stddef.h>

#include "redis_modules.h"

const struct task_module *const task_modules[] = {
    &mod_redis_memory,
    &mod_redis_persistence,
    &mod_redis_bgsave,
    &mod_redis_purge,
    &mod_redis_delete_pattern,
    NULL,
};
