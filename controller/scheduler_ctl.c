/*
 * scheduler_ctl.c: the schedule.* commands of the control endpoint
 * (docs/control.md): list and show for viewers; add, rm, enable and
 * disable for operators; fire ("run now") for admins. Every argument is
 * checked here, with the same rules as controller.yaml, before the store
 * sees it; the store audits each change in its transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "control_int.h"
#include "cron.h"
#include "log.h"
#include "scheduler.h"
#include "selector.h"

#define SCHED_RUNS_DEFAULT 20

/* The states of a job's tasks as {"ok": 2, ...}. */
static json_t *
states_json(const size_t *nstate)
{
	json_t *o = json_object();
	int     i;

	for (i = 0; i < STORE_TASK_NSTATES; i++)
		if (nstate[i] > 0)
			json_object_set_new(o,
			    store_task_state_str((enum store_task_state)i),
			    json_integer((json_int_t)nstate[i]));
	return (o);
}

static json_t *
schedule_json(struct ctld *cd, const struct store_schedule *s)
{
	json_t          *o = json_object(), *last = json_null();
	struct store_job j;
	struct vsm_err   err;

	json_object_set_new(o, "name", json_string(s->name));
	json_object_set_new(
	    o, "source", json_string(store_sched_source_str(s->source)));
	json_object_set_new(o, "module", json_string(s->module));
	json_object_set_new(o, "params", json_text(s->params));
	json_object_set_new(o, "target", json_string(s->target));
	json_object_set_new(o, "cron", json_string(s->cron));
	json_object_set_new(o, "tz", json_string(s->tz));
	json_object_set_new(o, "window", json_string(s->window));
	json_object_set_new(o, "window_policy",
	    json_string(store_window_policy_str(s->window_policy)));
	json_object_set_new(
	    o, "overlap", json_string(store_overlap_str(s->overlap)));
	json_object_set_new(o, "max_parallel", json_integer(s->max_parallel));
	json_object_set_new(
	    o, "max_parallel_pct", json_boolean(s->max_parallel_pct));
	json_object_set_new(o, "splay_ms", json_integer(s->splay_ms));
	json_object_set_new(o, "timeout_ms", json_integer(s->timeout_ms));
	json_object_set_new(
	    o, "run_timeout_ms", json_integer(s->run_timeout_ms));
	json_object_set_new(
	    o, "starting_deadline_ms", json_integer(s->starting_deadline_ms));
	json_object_set_new(o, "retries", json_integer(s->retries));
	json_object_set_new(o, "enabled", json_boolean(s->enabled));
	json_object_set_new(o, "created_by", json_string(s->created_by));
	json_object_set_new(o, "created_at", json_integer(s->created_at));
	json_object_set_new(o, "updated_at", json_integer(s->updated_at));
	json_object_set_new(o, "next_due",
	    s->enabled && s->next_due > 0 ? json_integer(s->next_due)
	                                  : json_null());
	json_object_set_new(o, "pending_due",
	    s->pending_due > 0 ? json_integer(s->pending_due) : json_null());
	if (s->last_due > 0) {
		last = json_object();
		json_object_set_new(last, "due_at", json_integer(s->last_due));
		json_object_set_new(last, "at", json_integer(s->last_at));
		json_object_set_new(last, "outcome",
		    json_string(store_run_outcome_str(s->last_outcome)));
		json_object_set_new(
		    last, "reason", json_string(s->last_reason));
	}
	json_object_set_new(o, "last", last);
	json_object_set_new(o, "last_job",
	    s->last_job[0] ? json_string(s->last_job) : json_null());
	if (s->last_job[0] != '\0' &&
	    store_job_get(cd->st, s->last_job, &j, &err) == 0) {
		json_object_set_new(
		    o, "last_job_states", states_json(j.nstate));
		store_job_clear(&j);
	}
	return (o);
}

int
cmd_schedule_list(struct ctl_call *c)
{
	struct store_schedule *v = NULL;
	struct vsm_err         err;
	size_t                 i, n = 0;

	if (store_sched_list(c->cd->st, &v, &n, &err) == -1)
		return (ctl_fail(c, CTL_FAIL, "%s", err.msg));
	c->out = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(c->out, schedule_json(c->cd, &v[i]));
	store_schedules_free(v, n);
	return (CTL_OK);
}

/* The "name" argument: CTL_OK, or a usage status. */
static int
sched_name_arg(struct ctl_call *c, const char **name)
{
	*name = arg_get(c, "name");
	if (*name == NULL || !vsm_name_valid(*name))
		return (ctl_fail(c, CTL_USAGE,
		    "name: expected a schedule name (1-%d of A-Z a-z 0-9 . _ "
		    "-)",
		    VSM_NAME_MAX));
	return (CTL_OK);
}

/* The schedule named by the "name" argument into *s; a status. */
static int
sched_lookup(struct ctl_call *c, struct store_schedule *s)
{
	struct vsm_err err;
	const char    *name;
	int            rc;

	if ((rc = sched_name_arg(c, &name)) != CTL_OK)
		return (rc);
	if ((rc = store_sched_get(c->cd->st, name, s, &err)) == -1)
		return (ctl_fail(c, CTL_FAIL, "%s", err.msg));
	if (rc == STORE_NOTFOUND)
		return (ctl_fail(c, CTL_FAIL, "no schedule '%s'", name));
	return (CTL_OK);
}

int
cmd_schedule_show(struct ctl_call *c)
{
	struct store_schedule   s;
	struct store_sched_run *rv = NULL;
	struct vsm_err          err;
	json_t                 *runs;
	int64_t                 limit;
	size_t                  i, n = 0;
	int                     rc;

	if (arg_int(c, "limit", SCHED_RUNS_DEFAULT, STORE_LIST_MAX, &limit) ==
	    -1)
		return (CTL_USAGE);
	if ((rc = sched_lookup(c, &s)) != CTL_OK)
		return (rc);
	if (store_sched_runs(c->cd->st, s.name, (size_t)limit, &rv, &n, &err) ==
	    -1) {
		store_schedule_clear(&s);
		return (ctl_fail(c, CTL_FAIL, "%s", err.msg));
	}
	c->out = json_object();
	json_object_set_new(c->out, "schedule", schedule_json(c->cd, &s));
	runs = json_array();
	for (i = 0; i < n; i++) {
		json_t *r = json_object();

		json_object_set_new(r, "due_at", json_integer(rv[i].due_at));
		json_object_set_new(r, "at", json_integer(rv[i].at));
		json_object_set_new(r, "outcome",
		    json_string(store_run_outcome_str(rv[i].outcome)));
		json_object_set_new(r, "reason", json_string(rv[i].reason));
		json_object_set_new(r, "job",
		    rv[i].job_id[0] ? json_string(rv[i].job_id) : json_null());
		json_object_set_new(
		    r, "tasks", json_integer((json_int_t)rv[i].ntasks));
		json_object_set_new(r, "states", states_json(rv[i].nstate));
		json_array_append_new(runs, r);
	}
	json_object_set_new(c->out, "runs", runs);
	free(rv);
	store_schedule_clear(&s);
	return (CTL_OK);
}

/* An optional duration argument in [min, max] ms; -1 with c->error. */
static int
arg_duration(struct ctl_call *c, const char *key, int64_t def, int64_t min,
    int64_t max, int64_t *out)
{
	const char    *v = arg_get(c, key);
	struct vsm_err err;
	uint64_t       ms;

	*out = def;
	if (v == NULL)
		return (0);
	if (vsm_duration_parse(v, &ms, &err) == -1) {
		ctl_fail(c, CTL_USAGE, "%s: %s", key, err.msg);
		return (-1);
	}
	if ((int64_t)ms < min || (int64_t)ms > max) {
		ctl_fail(c, CTL_USAGE, "%s: '%s' is out of range", key, v);
		return (-1);
	}
	*out = (int64_t)ms;
	return (0);
}

/* The param=k=v arguments as a JSON object text (caller frees). */
static int
sched_params(struct ctl_call *c, char **out)
{
	json_t *params = json_object();
	char    key[VSM_LABEL_MAX + 1];
	size_t  i;
	int     ret = CTL_USAGE;

	*out = NULL;
	for (i = 0; i < c->rq->n_args; i++) {
		const Vsm__Param *p = c->rq->args[i];
		const char       *eq;

		if (strcmp(p->key, "param") != 0)
			continue;
		eq = strchr(p->value, '=');
		if (eq == NULL || eq == p->value ||
		    (size_t)(eq - p->value) > VSM_LABEL_MAX) {
			ret = ctl_fail(
			    c, CTL_USAGE, "param: '%s' is not k=v", p->value);
			goto out;
		}
		memcpy(key, p->value, (size_t)(eq - p->value));
		key[eq - p->value] = '\0';
		json_object_set_new(params, key, json_string(eq + 1));
	}
	if ((*out = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		ret = ctl_fail(c, CTL_FAIL, "out of memory");
	else
		ret = CTL_OK;
out:
	json_decref(params);
	return (ret);
}

/* A short text argument into buf (cap bytes with the NUL); a status. */
static int
arg_text(
    struct ctl_call *c, const char *key, const char *def, char *buf, size_t cap)
{
	const char *v = arg_get(c, key);

	if (v == NULL)
		v = def;
	if (strlen(v) >= cap)
		return (ctl_fail(
		    c, CTL_USAGE, "%s: longer than %zu bytes", key, cap - 1));
	snprintf(buf, cap, "%s", v);
	return (CTL_OK);
}

/* Check the schedule's policies, limits and durations into s. */
static int
sched_args_policies(struct ctl_call *c, struct store_schedule *s)
{
	const char    *v;
	struct vsm_err err;
	int64_t        retries;

	if ((v = arg_get(c, "window_policy")) != NULL &&
	    store_window_policy_parse(v, &s->window_policy) == -1)
		return (ctl_fail(c, CTL_USAGE,
		    "window_policy: '%s' is not wait or skip", v));
	if ((v = arg_get(c, "overlap")) != NULL &&
	    store_overlap_parse(v, &s->overlap) == -1)
		return (ctl_fail(c, CTL_USAGE,
		    "overlap: '%s' is not skip, queue, replace or allow", v));
	if ((v = arg_get(c, "max_parallel")) != NULL &&
	    sched_parse_max_parallel(
	        v, &s->max_parallel, &s->max_parallel_pct, &err) == -1)
		return (ctl_fail(c, CTL_USAGE, "%s", err.msg));
	if (arg_duration(c, "splay", 0, 0, SCHED_SPLAY_MAX_MS, &s->splay_ms) ==
	        -1 ||
	    arg_duration(c, "timeout", SCHED_TIMEOUT_MS, 1000,
	        SCHED_DURATION_MAX, &s->timeout_ms) == -1 ||
	    arg_duration(c, "run_timeout", 0, 0, SCHED_DURATION_MAX,
	        &s->run_timeout_ms) == -1 ||
	    arg_duration(c, "starting_deadline", SCHED_DEADLINE_MS, 1000,
	        SCHED_DURATION_MAX, &s->starting_deadline_ms) == -1 ||
	    arg_int(c, "retries", 0, 100, &retries) == -1)
		return (CTL_USAGE);
	s->retries = (int)retries;
	if ((v = arg_get(c, "enabled")) != NULL && strcmp(v, "true") != 0 &&
	    strcmp(v, "false") != 0)
		return (ctl_fail(c, CTL_USAGE, "enabled: true or false"));
	s->enabled = v == NULL || strcmp(v, "true") == 0;
	return (CTL_OK);
}

/*
 * A schedule from the request's arguments into *s (s->params and
 * s->target are owned): every check that controller.yaml makes.
 */
static int
sched_from_args(struct ctl_call *c, struct store_schedule *s)
{
	struct vsm_selector *sel;
	struct vsm_cron      cron;
	struct vsm_window    win;
	struct vsm_err       err;
	const char          *name, *module, *target;
	int                  rc;

	memset(s, 0, sizeof(*s));
	if ((rc = sched_name_arg(c, &name)) != CTL_OK)
		return (rc);
	snprintf(s->name, sizeof(s->name), "%s", name);
	module = arg_get(c, "module");
	if (module == NULL || !vsm_name_valid(module) ||
	    strlen(module) >= STORE_SHORT_MAX)
		return (ctl_fail(c, CTL_USAGE,
		    "module: expected a module name (pg.vacuum)"));
	snprintf(s->module, sizeof(s->module), "%s", module);
	if ((rc = arg_text(c, "cron", "", s->cron, sizeof(s->cron))) !=
	        CTL_OK ||
	    (rc = arg_text(c, "tz", "", s->tz, sizeof(s->tz))) != CTL_OK ||
	    (rc = arg_text(c, "window", "", s->window, sizeof(s->window))) !=
	        CTL_OK)
		return (rc);
	if (vsm_cron_parse(s->cron, &cron, &err) == -1)
		return (
		    ctl_fail(c, CTL_USAGE, "cron '%s': %s", s->cron, err.msg));
	if (vsm_tz_check(s->tz, &err) == -1)
		return (ctl_fail(c, CTL_USAGE, "tz: %s", err.msg));
	if (s->window[0] != '\0' &&
	    vsm_window_parse(s->window, &win, &err) == -1)
		return (ctl_fail(
		    c, CTL_USAGE, "window '%s': %s", s->window, err.msg));
	if ((target = arg_get(c, "target")) == NULL)
		target = "all";
	if (vsm_selector_parse(target, &sel, &err) == -1)
		return (
		    ctl_fail(c, CTL_USAGE, "target '%s': %s", target, err.msg));
	vsm_selector_free(sel);
	if ((rc = sched_args_policies(c, s)) != CTL_OK)
		return (rc);
	if (sched_next_due(&cron, s->tz, ctld_now(), &s->next_due, &err) == -1)
		return (ctl_fail(c, CTL_USAGE, "cron '%s': never fires: %s",
		    s->cron, err.msg));
	if ((s->target = strdup(target)) == NULL)
		return (ctl_fail(c, CTL_FAIL, "out of memory"));
	return (sched_params(c, &s->params));
}

int
cmd_schedule_add(struct ctl_call *c)
{
	struct store_schedule s, got;
	struct vsm_err        err;
	int                   rc;

	if ((rc = sched_from_args(c, &s)) != CTL_OK)
		goto out;
	s.source = STORE_SCHED_API;
	if (store_sched_add(c->cd->st, &c->actor, &s, ctld_now(), &err) == -1) {
		rc = ctl_fail(c, CTL_FAIL, "%s", err.msg);
		goto out;
	}
	log_info("schedule %s: added by %s (%s, %s)", s.name, c->actor.who,
	    s.module, s.cron);
	if (store_sched_get(c->cd->st, s.name, &got, &err) != 0) {
		rc = ctl_fail(c, CTL_FAIL, "%s", err.msg);
		goto out;
	}
	c->out = schedule_json(c->cd, &got);
	store_schedule_clear(&got);
	rc = CTL_OK;
out:
	store_schedule_clear(&s);
	return (rc);
}

int
cmd_schedule_rm(struct ctl_call *c)
{
	struct vsm_err err;
	const char    *name;
	int            rc;

	if ((rc = sched_name_arg(c, &name)) != CTL_OK)
		return (rc);
	if (store_sched_remove(c->cd->st, &c->actor, name, ctld_now(), &err) !=
	    0)
		return (ctl_fail(c, CTL_FAIL, "%s", err.msg));
	log_info("schedule %s: removed by %s", name, c->actor.who);
	c->out = json_object();
	json_object_set_new(c->out, "removed", json_string(name));
	return (CTL_OK);
}

/* schedule.enable and schedule.disable. */
static int
sched_enable(struct ctl_call *c, int enabled)
{
	struct store_schedule s;
	struct vsm_cron       cron;
	struct vsm_err        err;
	int64_t               next = 0;
	int                   rc;

	if ((rc = sched_lookup(c, &s)) != CTL_OK)
		return (rc);
	rc = CTL_FAIL;
	/* Enabled again: from now on, nothing made up. */
	if (enabled &&
	    (vsm_cron_parse(s.cron, &cron, &err) == -1 ||
	        sched_next_due(&cron, s.tz, ctld_now(), &next, &err) == -1)) {
		ctl_fail(c, CTL_FAIL, "schedule '%s': %s", s.name, err.msg);
		goto out;
	}
	if (store_sched_enable(c->cd->st, &c->actor, s.name, enabled, next,
	        ctld_now(), &err) != 0) {
		ctl_fail(c, CTL_FAIL, "%s", err.msg);
		goto out;
	}
	log_info("schedule %s: %s by %s", s.name,
	    enabled ? "enabled" : "disabled", c->actor.who);
	store_schedule_clear(&s);
	if (store_sched_get(c->cd->st, arg_get(c, "name"), &s, &err) != 0) {
		ctl_fail(c, CTL_FAIL, "%s", err.msg);
		goto out;
	}
	c->out = schedule_json(c->cd, &s);
	rc = CTL_OK;
out:
	store_schedule_clear(&s);
	return (rc);
}

int
cmd_schedule_enable(struct ctl_call *c)
{
	return (sched_enable(c, 1));
}

int
cmd_schedule_disable(struct ctl_call *c)
{
	return (sched_enable(c, 0));
}

int
cmd_schedule_fire(struct ctl_call *c)
{
	struct sched_result res;
	struct vsm_err      err;
	const char         *name;
	json_t             *detail;
	char               *text;
	int                 rc;

	if ((rc = sched_name_arg(c, &name)) != CTL_OK)
		return (rc);
	if (c->cd->sched == NULL)
		return (ctl_fail(c, CTL_FAIL, "the scheduler is not running"));
	if ((rc = scheduler_fire(c->cd->sched, &c->actor, name, &res, &err)) ==
	    -1)
		return (ctl_fail(c, CTL_FAIL, "%s", err.msg));
	if (rc == STORE_NOTFOUND)
		return (ctl_fail(c, CTL_FAIL, "no schedule '%s'", name));
	c->out = json_object();
	json_object_set_new(c->out, "schedule", json_string(name));
	json_object_set_new(c->out, "due_at", json_integer(res.due));
	json_object_set_new(
	    c->out, "outcome", json_string(store_run_outcome_str(res.outcome)));
	json_object_set_new(c->out, "reason", json_string(res.reason));
	json_object_set_new(c->out, "job",
	    res.job_id[0] ? json_string(res.job_id) : json_null());
	json_object_set_new(
	    c->out, "tasks", json_integer((json_int_t)res.ntasks));
	/* The audit row: who made it due, and what it came to. */
	detail = json_pack("{s:I,s:s,s:s}", "due_at", (json_int_t)res.due,
	    "outcome", store_run_outcome_str(res.outcome), "job", res.job_id);
	text = detail != NULL ? json_dumps(detail, JSON_COMPACT) : NULL;
	if (store_audit_append(c->cd->st, &c->actor, "schedule.fire", name,
	        text, ctld_now(), &err) == -1)
		log_warnx("audit: %s", err.msg);
	free(text);
	json_decref(detail);
	return (CTL_OK);
}
