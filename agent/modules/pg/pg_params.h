/*
 * pg_params.h: the parameters the PostgreSQL modules share. A database,
 * schema, table or index a task names is an identifier: bounded by the
 * param table, then checked by pg_params_check (pg_ident_check) and
 * quoted with PQescapeIdentifier when a statement uses it.
 */
#ifndef VSM_PG_PARAMS_H
#define VSM_PG_PARAMS_H

#include "module.h"
#include "pg_sql.h"

#define PG_PARAM_IDENT(pname, pdef, phelp)                                     \
	{                                                                      \
		.name = (pname), .type = PARAM_STRING, .min = 1,               \
		.max = PG_IDENT_MAX, .def = (pdef), .help = (phelp)            \
	}

#define PG_PARAM_DATABASE                                                      \
	PG_PARAM_IDENT("database", NULL,                                       \
	    "database to connect to (default: postgres.conninfo's)")

#define PG_PARAM_LIMIT(pdef, pmax)                                             \
	{                                                                      \
		.name = "limit", .type = PARAM_INT, .min = 1, .max = (pmax),   \
		.def = (pdef), .help = "number of rows reported"               \
	}

#define PG_PARAM_LOCK_TIMEOUT                                                  \
	{                                                                      \
		.name = "lock_timeout", .type = PARAM_DURATION, .min = 1,      \
		.max = 3600 * 1000, .def = "5s",                               \
		.help = "give up on a table whose lock is not granted in time" \
	}

/*
 * The family's validate: every identifier parameter given (database,
 * schema, table, index) passes pg_ident_check. 0 or -1 with err naming
 * the parameter.
 */
int pg_params_check(
    struct task_ctx *ctx, const struct task_params *p, struct vsm_err *err);
/* pg_params_check, then the warn_pct/fail_pct pair. */
int pg_params_check_thresholds(
    struct task_ctx *ctx, const struct task_params *p, struct vsm_err *err);

#endif /* VSM_PG_PARAMS_H */
