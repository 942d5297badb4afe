/*
 * mongo_names.c: database and collection names a task may give (mongo.h).
 * Stricter than MongoDB itself: only what an operator types.
 */
#include <ctype.h>
#include <string.h>

#include "module.h"
#include "mongo.h"

/* 1 when every byte of s is a letter, a digit, '_', '-' or one of extra. */
static int
mongo_name_chars(const char *s, const char *extra)
{
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' &&
		    strchr(extra, *s) == NULL)
			return (0);
	return (1);
}

/*
 * A database name (1-63 of A-Z a-z 0-9 _ -) or a collection name (1-120
 * of those and '.', not "system.*", no empty segment). 0, or -1 with err
 * naming the parameter.
 */
static int
mongo_check_database(const char *param, const char *s, struct vsm_err *err)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63 || !mongo_name_chars(s, ""))
		return (vsm_err_set(err,
		    "parameter '%s': '%s' is not a database name (1-63 of A-Z "
		    "a-z 0-9 _ -)",
		    param, s));
	return (0);
}

static int
mongo_check_collection(const char *param, const char *s, struct vsm_err *err)
{
	size_t n = strlen(s);

	if (n == 0 || n > 120 || !mongo_name_chars(s, ".") || s[0] == '.' ||
	    s[n - 1] == '.' || strstr(s, "..") != NULL)
		return (vsm_err_set(err,
		    "parameter '%s': '%s' is not a collection name (1-120 of "
		    "A-Z a-z 0-9 _ - and inner dots)",
		    param, s));
	if (strncmp(s, "system.", 7) == 0)
		return (vsm_err_set(err,
		    "parameter '%s': system collections are not maintained "
		    "here",
		    param));
	return (0);
}

const struct param_spec mongo_collection_params[] = {
    {.name = "database",
        .type = PARAM_STRING,
        .required = 1,
        .min = 1,
        .max = 63,
        .help = "database holding the collection"},
    {.name = "collection",
        .type = PARAM_STRING,
        .required = 1,
        .min = 1,
        .max = 120,
        .help = "the collection"},
    {.name = NULL},
};

int
mongo_collection_validate(
    struct task_ctx *ctx, const struct task_params *p, struct vsm_err *err)
{
	(void)ctx;
	if (mongo_check_database("database", params_str(p, "database"), err) ==
	        -1 ||
	    mongo_check_collection(
	        "collection", params_str(p, "collection"), err) == -1)
		return (-1);
	return (0);
}
