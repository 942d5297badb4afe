/*
 * params.c: check task parameters against a module's table (params.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "params.h"

int
params_has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return (1);
	return (0);
}

static int
params_bounded(const struct param_spec *sp)
{
	return (sp->min != 0 || sp->max != 0);
}

/* Convert one value. 0, or -1 with err naming the parameter. */
static int
params_convert(const struct param_spec *sp, const char *s,
    struct param_value *v, struct vsm_err *err)
{
	struct vsm_err e;
	uint64_t       u;
	long long      ll;
	char          *end;
	size_t         i, len = strlen(s);

	if (len > PARAM_VALUE_MAX)
		return (vsm_err_set(err, "parameter '%s': longer than %d bytes",
		    sp->name, PARAM_VALUE_MAX));
	if (params_has_ctl(s))
		return (vsm_err_set(err,
		    "parameter '%s': control characters are not allowed",
		    sp->name));
	v->str = s;
	switch (sp->type) {
	case PARAM_STRING:
	case PARAM_PATH:
		if (params_bounded(sp) &&
		    ((int64_t)len < sp->min || (int64_t)len > sp->max))
			return (vsm_err_set(err,
			    "parameter '%s': length must be %lld-%lld",
			    sp->name, (long long)sp->min, (long long)sp->max));
		if (sp->type == PARAM_PATH &&
		    (s[0] != '/' || strstr(s, "/../") != NULL ||
		        (len >= 3 && strcmp(s + len - 3, "/..") == 0)))
			return (vsm_err_set(err,
			    "parameter '%s': not an absolute path without '..'",
			    sp->name));
		v->num = (int64_t)len;
		break;
	case PARAM_INT:
		errno = 0;
		ll = strtoll(s, &end, 10);
		if (*s == '\0' || *end != '\0' || errno != 0)
			return (vsm_err_set(err,
			    "parameter '%s': '%s' is not an integer", sp->name,
			    s));
		v->num = ll;
		break;
	case PARAM_BOOL:
		if (strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0 ||
		    strcasecmp(s, "on") == 0 || strcmp(s, "1") == 0)
			v->num = 1;
		else if (strcasecmp(s, "false") == 0 ||
		    strcasecmp(s, "no") == 0 || strcasecmp(s, "off") == 0 ||
		    strcmp(s, "0") == 0)
			v->num = 0;
		else
			return (vsm_err_set(err,
			    "parameter '%s': '%s' is not a boolean", sp->name,
			    s));
		break;
	case PARAM_DURATION:
	case PARAM_SIZE:
		if ((sp->type == PARAM_DURATION
		            ? vsm_duration_parse(s, &u, &e)
		            : vsm_size_parse(s, &u, &e)) == -1)
			return (vsm_err_set(
			    err, "parameter '%s': %s", sp->name, e.msg));
		if (u > INT64_MAX)
			return (vsm_err_set(
			    err, "parameter '%s': too large", sp->name));
		v->num = (int64_t)u;
		break;
	case PARAM_ENUM:
		for (i = 0; sp->enums != NULL && sp->enums[i] != NULL; i++)
			if (strcmp(sp->enums[i], s) == 0)
				break;
		if (sp->enums == NULL || sp->enums[i] == NULL)
			return (vsm_err_set(err,
			    "parameter '%s': '%s' is not one of the allowed "
			    "values",
			    sp->name, s));
		v->num = (int64_t)i;
		break;
	default:
		return (vsm_err_set(err, "parameter '%s': bad type", sp->name));
	}
	if ((sp->type == PARAM_INT || sp->type == PARAM_DURATION ||
	        sp->type == PARAM_SIZE) &&
	    params_bounded(sp) && (v->num < sp->min || v->num > sp->max))
		return (vsm_err_set(err,
		    "parameter '%s': %s is out of range (%lld-%lld)", sp->name,
		    s, (long long)sp->min, (long long)sp->max));
	v->set = 1;
	return (0);
}

static const struct param_spec params_none[] = {{.name = NULL}};

int
params_parse(const struct param_spec *specs, Vsm__Param *const *in, size_t nin,
    struct task_params *out, struct vsm_err *err)
{
	size_t i, j;

	memset(out, 0, sizeof(*out));
	out->specs = specs != NULL ? specs : params_none;
	while (out->specs[out->n].name != NULL)
		out->n++;
	if (out->n > PARAMS_MAX)
		return (
		    vsm_err_set(err, "module declares too many parameters"));
	for (i = 0; i < nin; i++) {
		const char *key = in[i]->key, *val = in[i]->value;

		for (j = 0; j < out->n; j++)
			if (strcmp(out->specs[j].name, key) == 0)
				break;
		if (j == out->n)
			return (
			    vsm_err_set(err, "unknown parameter '%.64s'", key));
		if (out->v[j].set)
			return (vsm_err_set(
			    err, "parameter '%s' given twice", key));
		if (params_convert(&out->specs[j], val, &out->v[j], err) == -1)
			return (-1);
	}
	for (j = 0; j < out->n; j++) {
		const struct param_spec *sp = &out->specs[j];

		if (out->v[j].set)
			continue;
		if (sp->required)
			return (vsm_err_set(
			    err, "parameter '%s' is required", sp->name));
		if (sp->def != NULL &&
		    params_convert(sp, sp->def, &out->v[j], err) == -1)
			return (-1);
	}
	return (0);
}

const struct param_value *
params_get(const struct task_params *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (strcmp(p->specs[i].name, name) == 0)
			return (&p->v[i]);
	return (NULL);
}

int64_t
params_num(const struct task_params *p, const char *name)
{
	const struct param_value *v = params_get(p, name);

	return (v != NULL && v->set ? v->num : 0);
}

const char *
params_str(const struct task_params *p, const char *name)
{
	const struct param_value *v = params_get(p, name);

	return (v != NULL && v->set ? v->str : NULL);
}

int
params_check_order(const struct task_params *p, const char *lo, const char *hi,
    struct vsm_err *err)
{
	const struct param_value *l = params_get(p, lo), *h = params_get(p, hi);

	if (l == NULL || h == NULL || !l->set || !h->set || l->num <= h->num)
		return (0);
	return (vsm_err_set(err,
	    "parameter '%s' (%lld) is above parameter '%s' (%lld)", lo,
	    (long long)l->num, hi, (long long)h->num));
}

int
params_check_thresholds(
    struct task_ctx *ctx, const struct task_params *p, struct vsm_err *err)
{
	(void)ctx;
	return (params_check_order(p, "warn_pct", "fail_pct", err));
}
