/*
 * table.c: the modules of vsm-task-health (docs/tasks.md, "Task
 * binaries").
 */
#include <stddef.h>

#include "health.h"

const struct task_module *const task_modules[] = {
    &mod_sys_health,
    NULL,
};
