/*
 * sys_services.c: sys.services, the state of the host's services
 * (docs/modules.md, "Health"): the systemd units of services.units (or a
 * `units` parameter naming some of them) through the allowlisted command
 * services.systemctl_command, which gets the unit names appended and
 * prints `systemctl show` blocks (Id, LoadState, ActiveState, SubState;
 * one block a unit, in argument order, blank lines between), and the
 * compose services through services.compose_command, which prints
 * `docker compose ps --format json`: one JSON array, or one object a
 * line. A unit not active, or a container not running or unhealthy,
 * fails; a container whose health check is still starting warns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "module.h"
#include "services.h"

#define SERVICES_OUT_MAX (4 * 1024 * 1024) /* bytes of output read */
#define SERVICES_UNITS   VSM_CFG_LIST_MAX

static const struct param_spec sys_services_params[] = {
    {.name = "units",
        .type = PARAM_STRING,
        .min = 1,
        .max = 4096,
        .help = "comma-separated units, each one of services.units "
                "(default: all of them)"},
    {.name = "compose",
        .type = PARAM_BOOL,
        .def = "true",
        .help = "check the compose services too"},
    {.name = NULL},
};

/*
 * Split the units parameter (copied into buf) into names, each checked
 * against services.units. The count, or -1 with err.
 */
static int
services_units_param(const struct vsm_agent_config *cfg, const char *param,
    char *buf, size_t len, const char **names, struct vsm_err *err)
{
	char  *tok, *save = NULL;
	size_t i;
	int    n = 0;

	snprintf(buf, len, "%s", param);
	for (tok = strtok_r(buf, ", ", &save); tok != NULL;
	     tok = strtok_r(NULL, ", ", &save)) {
		for (i = 0; i < cfg->services.units.n; i++)
			if (strcmp(cfg->services.units.v[i], tok) == 0)
				break;
		if (i == cfg->services.units.n)
			return (vsm_err_set(err,
			    "parameter 'units': '%.64s' is not in "
			    "services.units",
			    tok));
		if (n == SERVICES_UNITS)
			return (vsm_err_set(
			    err, "parameter 'units': too many units"));
		names[n++] = tok;
	}
	if (n == 0)
		return (vsm_err_set(err, "parameter 'units': no unit named"));
	return (n);
}

static int
services_validate(
    struct task_ctx *ctx, const struct task_params *p, struct vsm_err *err)
{
	const struct vsm_agent_config *cfg;
	const char                    *names[SERVICES_UNITS];
	const char                    *units = params_str(p, "units");
	char                           buf[PARAM_VALUE_MAX + 1];

	if ((cfg = task_config(ctx, err)) == NULL)
		return (-1);
	if (units != NULL &&
	    services_units_param(cfg, units, buf, sizeof(buf), names, err) ==
	        -1)
		return (-1);
	return (0);
}

/*
 * Run the allowlisted command name with extra args appended (argv: room
 * for COMMAND_ARGV_MAX), its stdout captured into cr->out (the caller
 * frees it). 0 when it ran and exited ok, or -1 with err.
 */
static int
services_capture(struct task_ctx *ctx, const char *name,
    const char *const *extra, size_t nextra, char **argv,
    struct command_run *cr, struct vsm_err *err)
{
	const struct vsm_command *c;

	if ((c = command_find(ctx, name, err)) == NULL ||
	    command_argv(c, extra, nextra, argv, COMMAND_ARGV_MAX, err) == -1)
		return (-1);
	command_init(cr, c, argv);
	cr->out_max = SERVICES_OUT_MAX;
	if ((cr->out = malloc(cr->out_max + 1)) == NULL)
		return (vsm_err_set(err, "out of memory"));
	if (command_run(ctx, cr, err) == -1)
		return (-1);
	if (cr->timed_out)
		return (vsm_err_set(err, "%s timed out", name));
	if (cr->signal[0] != '\0')
		return (vsm_err_set(err, "%s killed by %s", name, cr->signal));
	if (!cr->ok)
		return (vsm_err_set(err, "%s exited %d", name, cr->exit_code));
	if (cr->out_truncated)
		return (vsm_err_set(err, "%s printed more than %d bytes", name,
		    SERVICES_OUT_MAX));
	return (0);
}

/*
 * The systemctl show blocks in out (blank lines between), one per name
 * in order, into units. The number of units not active, or -1 with err
 * when the output does not match the names.
 */
static int
services_units_parse(char *out, const char *const *names, int n, json_t *units,
    struct vsm_err *err)
{
	const char *active;
	json_t     *u = NULL;
	char       *p = out, *line, *nl, *eq;
	int         i = 0, failed = 0;

	while (*p != '\0' || u != NULL) {
		line = p;
		if ((nl = strchr(p, '\n')) != NULL) {
			*nl = '\0';
			p = nl + 1;
		} else
			p += strlen(p);
		if (line[0] == '\0') { /* a block ends */
			if (u != NULL && json_array_append_new(units, u) == -1)
				return (vsm_err_set(err, "out of memory"));
			u = NULL;
			continue;
		}
		if ((eq = strchr(line, '=')) == NULL)
			continue;
		if (u == NULL) {
			if (i == n)
				return (vsm_err_set(err,
				    "systemctl printed more blocks than "
				    "units"));
			if ((u = json_pack("{s:s}", "unit", names[i++])) ==
			    NULL)
				return (vsm_err_set(err, "out of memory"));
		}
		*eq = '\0';
		json_object_set_new(u, line, json_string(eq + 1));
	}
	if (json_array_size(units) != (size_t)n)
		return (vsm_err_set(err,
		    "systemctl printed %zu blocks for %d units",
		    json_array_size(units), n));
	for (i = 0; i < n; i++) {
		u = json_array_get(units, (size_t)i);
		active = json_string_value(json_object_get(u, "ActiveState"));
		if (active == NULL || strcmp(active, "active") != 0) {
			json_object_set_new(u, "ok", json_false());
			failed++;
		} else
			json_object_set_new(u, "ok", json_true());
	}
	return (failed);
}

/* One compose service: kept with ok; counts what fails or warns. */
static int
services_compose_one(json_t *svc, json_t *list, int *failed, int *warned)
{
	const char *state = json_string_value(json_object_get(svc, "State"));
	const char *health = json_string_value(json_object_get(svc, "Health"));
	const char *name = json_string_value(json_object_get(svc, "Service"));
	int         ok;

	if (name == NULL)
		name = json_string_value(json_object_get(svc, "Name"));
	ok = state != NULL && strcmp(state, "running") == 0 &&
	    (health == NULL || health[0] == '\0' ||
	        strcmp(health, "healthy") == 0 ||
	        strcmp(health, "starting") == 0);
	if (!ok)
		(*failed)++;
	else if (health != NULL && strcmp(health, "starting") == 0)
		(*warned)++;
	return (json_array_append_new(list,
	    json_pack("{s:s?, s:s?, s:s?, s:s?, s:b}", "service", name, "name",
	        json_string_value(json_object_get(svc, "Name")), "state", state,
	        "health", health, "ok", ok)));
}

/*
 * docker compose ps --format json in out: one array, or one object a
 * line. 0 with the services in list, or -1 with err.
 */
static int
services_compose_parse(
    char *out, json_t *list, int *failed, int *warned, struct vsm_err *err)
{
	json_error_t jerr;
	json_t      *root, *v;
	char        *line, *save = NULL;
	size_t       i;

	out += strspn(out, " \t\r\n");
	if (*out == '[') {
		if ((root = json_loads(out, 0, &jerr)) == NULL)
			return (vsm_err_set(
			    err, "compose output is not JSON: %s", jerr.text));
		json_array_foreach(root, i, v)
		{
			if (!json_is_object(v) ||
			    services_compose_one(v, list, failed, warned) ==
			        -1) {
				json_decref(root);
				return (vsm_err_set(
				    err, "compose output: not a service"));
			}
		}
		json_decref(root);
		return (0);
	}
	for (line = strtok_r(out, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[strspn(line, " \t\r")] == '\0')
			continue;
		if ((root = json_loads(line, 0, &jerr)) == NULL ||
		    !json_is_object(root) ||
		    services_compose_one(root, list, failed, warned) == -1) {
			json_decref(root);
			return (vsm_err_set(err,
			    "compose output: a line is not a JSON object"));
		}
		json_decref(root);
	}
	return (0);
}

/*
 * Check the units names[0..n) and, with do_compose, the compose
 * services: *detail gets a new object {units, compose, failed, starting},
 * *st the status, summary one line. 0, or -1 with err set (nothing to
 * check, a command that cannot run or prints what cannot be read).
 */
static int
services_check(struct task_ctx *ctx, const struct vsm_agent_config *cfg,
    const char *const *names, int n, int do_compose, json_t **detail,
    Vsm__TaskStatus *st, char *summary, size_t len, struct vsm_err *err)
{
	struct command_run cr;
	json_t            *units = NULL, *compose = NULL;
	char              *argv[COMMAND_ARGV_MAX];
	int                failed = 0, warned = 0, f, ret = -1;

	memset(&cr, 0, sizeof(cr));
	*detail = NULL;
	if (n == 0 && !do_compose) {
		vsm_err_set(err,
		    "nothing to check: services.units and "
		    "services.compose_command are not set");
		goto out;
	}
	if (n > 0 && cfg->services.systemctl_command[0] == '\0') {
		vsm_err_set(err,
		    "services.units needs "
		    "services.systemctl_command in agent.yaml");
		goto out;
	}
	if ((units = json_array()) == NULL ||
	    (compose = json_array()) == NULL) {
		vsm_err_set(err, "out of memory");
		goto out;
	}
	if (n > 0) {
		if (services_capture(ctx, cfg->services.systemctl_command,
		        names, (size_t)n, argv, &cr, err) == -1 ||
		    (f = services_units_parse(cr.out, names, n, units, err)) ==
		        -1)
			goto out;
		failed += f;
		free(cr.out);
		cr.out = NULL;
	}
	if (do_compose &&
	    (services_capture(ctx, cfg->services.compose_command, NULL, 0, argv,
	         &cr, err) == -1 ||
	        services_compose_parse(
	            cr.out, compose, &failed, &warned, err) == -1))
		goto out;
	*st = failed > 0 ? VSM__TASK_STATUS__TASK_FAIL
	    : warned > 0 ? VSM__TASK_STATUS__TASK_WARN
	                 : VSM__TASK_STATUS__TASK_OK;
	if ((*detail = json_pack("{s:O, s:O, s:i, s:i}", "units", units,
	         "compose", compose, "failed", failed, "starting", warned)) ==
	    NULL) {
		vsm_err_set(err, "out of memory");
		goto out;
	}
	snprintf(summary, len,
	    "%zu units, %zu compose services: %d not running",
	    json_array_size(units), json_array_size(compose), failed);
	ret = 0;
out:
	free(cr.out);
	json_decref(units);
	json_decref(compose);
	return (ret);
}

int
services_probe(struct task_ctx *ctx, const struct vsm_agent_config *cfg,
    json_t **detail, Vsm__TaskStatus *st, char *summary, size_t len,
    struct vsm_err *err)
{
	const char *names[SERVICES_UNITS];
	int         n = 0;
	size_t      i;

	for (i = 0; i < cfg->services.units.n && n < SERVICES_UNITS; i++)
		names[n++] = cfg->services.units.v[i];
	return (services_check(ctx, cfg, names, n,
	    cfg->services.compose_command[0] != '\0', detail, st, summary, len,
	    err));
}

static int
services_run(struct task_ctx *ctx, const struct task_params *p)
{
	const struct vsm_agent_config *cfg;
	const char                    *names[SERVICES_UNITS];
	const char                    *param = params_str(p, "units");
	struct vsm_err                 err;
	Vsm__TaskStatus                st;
	json_t                        *res = NULL;
	char                           buf[PARAM_VALUE_MAX + 1], summary[256];
	int                            n = 0, i, ret;

	if ((cfg = task_config(ctx, &err)) == NULL)
		return (task_finish_error(ctx, "%s", err.msg));
	if (param != NULL) {
		if ((n = services_units_param(
		         cfg, param, buf, sizeof(buf), names, &err)) == -1)
			return (task_finish_error(ctx, "%s", err.msg));
	} else
		for (i = 0;
		     i < (int)cfg->services.units.n && n < SERVICES_UNITS; i++)
			names[n++] = cfg->services.units.v[i];
	if (services_check(ctx, cfg, names, n,
	        params_num(p, "compose") &&
	            cfg->services.compose_command[0] != '\0',
	        &res, &st, summary, sizeof(summary), &err) == -1)
		return (task_finish_error(ctx, "%s", err.msg));
	ret = task_finish(ctx, st, summary, res, 0, NULL);
	json_decref(res);
	return (ret);
}

const struct task_module mod_sys_services = {
    .name = "sys.services",
    .params = sys_services_params,
    .validate = services_validate,
    .run = services_run,
    .cancel = command_cancel,
};
