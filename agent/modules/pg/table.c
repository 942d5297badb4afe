/*
 * table.c: the modules of vsm-task-pg, the PostgreSQL family
 * (docs/modules.md, "PostgreSQL"). Adding a module is a row and a file.
 */
#include <stddef.h>

#include "pg_modules.h"

const struct task_module *const task_modules[] = {
    &mod_pg_connections,
    &mod_pg_vacuum,
    &mod_pg_analyze,
    &mod_pg_reindex,
    &mod_pg_table_sizes,
    &mod_pg_bloat,
    &mod_pg_slow_queries,
    &mod_pg_stats,
    NULL,
};
