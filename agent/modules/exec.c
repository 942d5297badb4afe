/*
 * exec.c: exec.NAME, a command of the agent's own allowlist (docs/tasks.md).
 *
 * The controller only names the command: argv, the extra parameters it
 * may take (each with an anchored pattern or an enum), its ok exit codes
 * and time limit come from the agent's config through TaskSpawn.exec.
 * Parameter values are checked before anything runs and appended as whole
 * argv elements; there is never a shell. stdout and stderr are streamed
 * line by line (command.c).
 */
#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "command.h"
#include "module.h"

#define EXEC_ARGV_MAX    COMMAND_ARGV_MAX
#define EXEC_PATTERN_MAX 1024
#define EXEC_PREFIX      "exec."

static const Vsm__ExecParam *
exec_param_find(const Vsm__ExecSpec *spec, const char *name)
{
	size_t i;

	for (i = 0; i < spec->n_params; i++)
		if (strcmp(spec->params[i]->name, name) == 0)
			return (spec->params[i]);
	return (NULL);
}

/* Does value match the anchored ERE pat? 1, 0, or -1 when pat is bad. */
static int
exec_match(const char *pat, const char *value)
{
	regex_t re;
	char    anchored[EXEC_PATTERN_MAX + 8];
	int     rc;

	if ((size_t)snprintf(anchored, sizeof(anchored), "^(%s)$", pat) >=
	    sizeof(anchored))
		return (-1);
	if (regcomp(&re, anchored, REG_EXTENDED | REG_NOSUB) != 0)
		return (-1);
	rc = regexec(&re, value, 0, NULL, 0);
	regfree(&re);
	return (rc == 0);
}

/* Check one value against its allowlist entry. 0 or -1 with err. */
static int
exec_check_value(
    const Vsm__ExecParam *ep, const char *value, struct vsm_err *err)
{
	size_t i;
	int    m;

	if (strlen(value) > PARAM_VALUE_MAX)
		return (vsm_err_set(err, "parameter '%s': longer than %d bytes",
		    ep->name, PARAM_VALUE_MAX));
	if (params_has_ctl(value))
		return (vsm_err_set(err,
		    "parameter '%s': control characters are not allowed",
		    ep->name));
	if (value[0] == '-' && !ep->allow_dash)
		return (vsm_err_set(err,
		    "parameter '%s': a value may not start with '-'",
		    ep->name));
	if (ep->n_enum_values > 0) {
		for (i = 0; i < ep->n_enum_values; i++)
			if (strcmp(ep->enum_values[i], value) == 0)
				return (0);
		return (vsm_err_set(err,
		    "parameter '%s': '%.64s' is not one of the allowed values",
		    ep->name, value));
	}
	if (ep->pattern == NULL || ep->pattern[0] == '\0')
		return (vsm_err_set(err,
		    "parameter '%s': the allowlist gives it no pattern or enum",
		    ep->name));
	if ((m = exec_match(ep->pattern, value)) == -1)
		return (vsm_err_set(err,
		    "parameter '%s': bad pattern in the "
		    "allowlist",
		    ep->name));
	if (m == 0)
		return (vsm_err_set(err,
		    "parameter '%s': '%.64s' does not match the allowed "
		    "pattern",
		    ep->name, value));
	return (0);
}

static int
exec_validate(
    struct task_ctx *ctx, const struct task_params *tp, struct vsm_err *err)
{
	const Vsm__Task      *t = ctx->task;
	const Vsm__ExecSpec  *spec = ctx->spawn->exec;
	const Vsm__ExecParam *ep;
	const char           *name = t->module + strlen(EXEC_PREFIX);
	size_t                i, j;

	if (spec == NULL || strcmp(spec->name, name) != 0)
		return (vsm_err_set(
		    err, "%s: not in the agent's allowlist", t->module));
	if (spec->n_argv == 0 || spec->argv[0][0] != '/')
		return (vsm_err_set(
		    err, "%s: argv[0] must be an absolute path", t->module));
	if (spec->n_argv + 2 * spec->n_params >= EXEC_ARGV_MAX)
		return (vsm_err_set(err, "%s: argv too long", t->module));
	for (i = 0; i < t->n_params; i++) {
		const Vsm__Param *p = t->params[i];

		if ((ep = exec_param_find(spec, p->key)) == NULL)
			return (vsm_err_set(
			    err, "unknown parameter '%.64s'", p->key));
		for (j = 0; j < i; j++)
			if (strcmp(t->params[j]->key, p->key) == 0)
				return (vsm_err_set(
				    err, "parameter '%s' given twice", p->key));
		if (exec_check_value(ep, p->value, err) == -1)
			return (-1);
	}
	for (i = 0; i < spec->n_params; i++) {
		if (!spec->params[i]->required)
			continue;
		for (j = 0; j < t->n_params; j++)
			if (strcmp(t->params[j]->key, spec->params[i]->name) ==
			    0)
				break;
		if (j == t->n_params)
			return (vsm_err_set(err, "parameter '%s' is required",
			    spec->params[i]->name));
	}
	return (0);
}

/* argv: the allowlisted argv, then each given parameter in spec order. */
static void
exec_argv(const struct task_ctx *ctx, char **argv)
{
	const Vsm__ExecSpec *spec = ctx->spawn->exec;
	const Vsm__Task     *t = ctx->task;
	size_t               n = 0, i, j;

	for (i = 0; i < spec->n_argv; i++)
		argv[n++] = spec->argv[i];
	for (i = 0; i < spec->n_params; i++) {
		for (j = 0; j < t->n_params; j++) {
			if (strcmp(t->params[j]->key, spec->params[i]->name) !=
			    0)
				continue;
			if (spec->params[i]->flag[0] != '\0')
				argv[n++] = spec->params[i]->flag;
			argv[n++] = t->params[j]->value;
		}
	}
	argv[n] = NULL;
}

/*
 * Run the command (command.c streams its output) or, in a dry run, only
 * report its argv. Ends the task.
 */
static int
exec_run(struct task_ctx *ctx, const struct task_params *tp)
{
	const Vsm__ExecSpec *spec = ctx->spawn->exec;
	struct command_run   cr;
	struct vsm_err       err;
	char                *argv[EXEC_ARGV_MAX + 1];

	(void)tp;
	exec_argv(ctx, argv);
	if (ctx->task->dry_run)
		return (command_finish_dry(ctx, spec->name, argv));
	memset(&cr, 0, sizeof(cr));
	cr.name = spec->name;
	cr.argv = argv;
	cr.ok_codes = spec->ok_codes;
	cr.nok_codes = spec->n_ok_codes;
	/* The runner holds the task to the entry's timeout itself. */
	if (command_run(ctx, &cr, &err) == -1)
		return (task_finish_error(ctx, "%s", err.msg));
	return (command_finish(ctx, &cr));
}

const struct task_module mod_exec = {
    .name = EXEC_PREFIX,
    .family = 1,
    .raw_params = 1,
    .validate = exec_validate,
    .run = exec_run,
    .cancel = command_cancel,
};
