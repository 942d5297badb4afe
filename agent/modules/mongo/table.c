/*
 * table.c: the modules of vsm-task-mongo (libmongoc).
 */
#include <stddef.h>

#include "module.h"

extern const struct task_module mod_mongo_status;
extern const struct task_module mod_mongo_compact;
extern const struct task_module mod_mongo_reindex;

const struct task_module *const task_modules[] = {
    &mod_mongo_status,
    &mod_mongo_compact,
    &mod_mongo_reindex,
    NULL,
};
