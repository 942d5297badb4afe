/*
 * pg_maint.h: the loop pg.vacuum and pg.analyze share: one statement
 * (VACUUM ..., ANALYZE) run table by table over one table or every table
 * of a schema, with progress, a lock timeout, dry_run and cancel.
 */
#ifndef VSM_PG_MAINT_H
#define VSM_PG_MAINT_H

#include "module.h"

struct pg_maint {
	const char *what; /* "vacuum", for the summary */
	const char *verb; /* the statement before the table: "VACUUM (FULL)" */
	int64_t     lock_timeout_ms; /* SET lock_timeout; at least 1 */
};

/*
 * Run m over the task's target: parameters database, schema and table
 * (none: every table of schema). Tables are listed first; a named table
 * that does not exist ends the task ERROR before anything runs. Each
 * table gets its dead tuples before and after, its duration and, if the
 * statement failed, its error; any failure makes the task FAIL. Ends the
 * task (task_finish) and returns its result.
 */
int pg_maint_run(struct task_ctx *ctx, const struct task_params *p,
    const struct pg_maint *m);

#endif /* VSM_PG_MAINT_H */
