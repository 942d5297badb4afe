/*
 * params.h: typed task parameters (docs/tasks.md). A module declares a
 * table of param_spec; params_parse checks a task's parameters against it
 * before anything runs and hands out typed values. Unknown, duplicate,
 * missing required, malformed and out-of-range parameters are refused with
 * a message that names the parameter.
 */
#ifndef VSM_PARAMS_H
#define VSM_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "vsm.pb-c.h"

#define PARAMS_MAX      32
#define PARAM_VALUE_MAX 4096 /* bytes in one value */

enum param_type {
	PARAM_STRING,   /* printable text */
	PARAM_INT,      /* decimal, min..max */
	PARAM_BOOL,     /* true/false, yes/no, on/off, 1/0 */
	PARAM_DURATION, /* "30s", "5m" (vsm_duration_parse), in ms */
	PARAM_SIZE,     /* "64MiB" (vsm_size_parse), in bytes */
	PARAM_ENUM,     /* one of enums; num is its index */
	PARAM_PATH,     /* absolute, no "..", printable */
};

struct param_spec {
	const char     *name;
	enum param_type type;
	int             required;
	int64_t         min, max; /* INT/DURATION/SIZE bounds, STRING/PATH
	                             length; both 0: unbounded */
	const char *const *enums; /* ENUM: NULL-terminated */
	const char        *def;   /* default in text form, or NULL */
	const char        *help;  /* one line for docs and errors */
};

struct param_value {
	int         set; /* given or defaulted */
	const char *str; /* the text (owned by the task or the spec) */
	int64_t     num; /* INT, BOOL, DURATION, SIZE, ENUM index */
};

struct task_params {
	const struct param_spec *specs; /* terminated by a NULL name */
	size_t                   n;
	struct param_value       v[PARAMS_MAX];
};

/*
 * Check in[0..nin) against specs (terminated by a spec with a NULL name;
 * NULL specs: no parameter is accepted) and fill out. 0, or -1 with err
 * naming the parameter. Values point into in and specs.
 */
int params_parse(const struct param_spec *specs, Vsm__Param *const *in,
    size_t nin, struct task_params *out, struct vsm_err *err);

/* The value of a declared parameter; NULL for a name not in the table. */
const struct param_value *params_get(
    const struct task_params *p, const char *name);
/* num of a parameter; 0 when unset. */
int64_t params_num(const struct task_params *p, const char *name);
/* str of a parameter; NULL when unset. */
const char *params_str(const struct task_params *p, const char *name);

/*
 * The warn_pct/fail_pct pair that threshold modules share: integers from 1
 * to maxv with the given defaults (strings), `what` opening the help text.
 * Pair it with params_check_thresholds as the module's validate.
 */
#define PARAM_THRESHOLDS(maxv, warn, fail, what)                               \
	{.name = "warn_pct",                                                   \
	    .type = PARAM_INT,                                                 \
	    .min = 1,                                                          \
	    .max = (maxv),                                                     \
	    .def = (warn),                                                     \
	    .help = what " for warn"},                                         \
	{                                                                      \
		.name = "fail_pct", .type = PARAM_INT, .min = 1,               \
		.max = (maxv), .def = (fail), .help = what " for fail"         \
	}

/*
 * Refuse parameter lo above parameter hi (numbers); nothing is checked when
 * either is unset. 0, or -1 with err naming both.
 */
int params_check_order(const struct task_params *p, const char *lo,
    const char *hi, struct vsm_err *err);

struct task_ctx;
/* A validate for PARAM_THRESHOLDS: refuses warn_pct above fail_pct. */
int params_check_thresholds(
    struct task_ctx *ctx, const struct task_params *p, struct vsm_err *err);

/* 1 when s has a byte below 0x20 or 0x7f (NUL cannot travel at all). */
int params_has_ctl(const char *s);

#endif /* VSM_PARAMS_H */
