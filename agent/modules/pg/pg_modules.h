/*
 * pg_modules.h: the modules of vsm-task-pg (table.c), one file each.
 */
#ifndef VSM_PG_MODULES_H
#define VSM_PG_MODULES_H

#include "module.h"

extern const struct task_module mod_pg_connections;  /* pg_connections.c */
extern const struct task_module mod_pg_vacuum;       /* pg_vacuum.c */
extern const struct task_module mod_pg_analyze;      /* pg_analyze.c */
extern const struct task_module mod_pg_reindex;      /* pg_reindex.c */
extern const struct task_module mod_pg_table_sizes;  /* pg_table_sizes.c */
extern const struct task_module mod_pg_bloat;        /* pg_bloat.c */
extern const struct task_module mod_pg_slow_queries; /* pg_slow_queries.c */
extern const struct task_module mod_pg_stats;        /* pg_stats.c */

#endif /* VSM_PG_MODULES_H */
