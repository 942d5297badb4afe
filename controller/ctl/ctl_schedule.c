/*
 * ctl_schedule.c: `vsmctl schedule list|show|add|rm|enable|disable|fire`,
 * the schedules kept by the controller (docs/scheduler.md). `schedule
 * next` (ctl_schedule_next.c) computes fire times locally instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* {"ok":2,"fail":1} as "ok=2 fail=1"; "-" when empty. */
static void
sched_states(json_t *states, char *buf, size_t len)
{
	const char *k;
	json_t     *v;
	size_t      off = 0;
	int         n;

	snprintf(buf, len, "-");
	json_object_foreach(states, k, v)
	{
		n = snprintf(buf + off, len - off, "%s%s=%lld", off ? " " : "",
		    k, (long long)json_integer_value(v));
		if (n < 0 || (size_t)n >= len - off)
			break;
		off += (size_t)n;
	}
}

/* A schedule's max_parallel as typed: "-" (none), "3" or "25%". */
static void
sched_parallel(json_t *s, char *buf, size_t len)
{
	int64_t n = ctl_int(s, "max_parallel");

	if (n == 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%lld%s", (long long)n,
		    json_is_true(json_object_get(s, "max_parallel_pct")) ? "%"
		                                                         : "");
}

/* The last run as "OUTCOME (REASON)", "-" when none. */
static void
sched_last(json_t *last, char *buf, size_t len)
{
	const char *reason = ctl_str(last, "reason");

	if (!json_is_object(last))
		snprintf(buf, len, "-");
	else if (reason[0] != '\0')
		snprintf(buf, len, "%s (%s)", ctl_str(last, "outcome"), reason);
	else
		snprintf(buf, len, "%s", ctl_str(last, "outcome"));
}

int
cmd_schedule_list(struct ctl *c, int argc, char **argv)
{
	struct ctl_table *t = NULL;
	json_t           *doc = NULL, *s, *last;
	char              next[32], lastat[32], outcome[96], states[256];
	char              par[24];
	size_t            i;
	int               ret;

	if ((ret = ctl_parse(c, argc, argv, NULL, NULL, 0)) != CTL_OK)
		return (ret);
	if (!ctl_call_list(c, "schedule.list", NULL, "schedules", &doc, &ret))
		goto out;
	ret = CTL_FAIL;
	if ((t = ctl_table_new(10)) == NULL ||
	    ctl_table_add(t, "NAME", "SOURCE", "MODULE", "CRON", "TARGET",
	        "PARALLEL", "NEXT", "LAST", "OUTCOME", "LAST JOB") == -1)
		goto nomem;
	json_array_foreach(doc, i, s)
	{
		last = json_object_get(s, "last");
		if (!json_is_true(json_object_get(s, "enabled")))
			snprintf(next, sizeof(next), "disabled");
		else
			ctl_when(ctl_int(s, "next_due"), next, sizeof(next));
		ctl_when(ctl_int(last, "due_at"), lastat, sizeof(lastat));
		sched_last(last, outcome, sizeof(outcome));
		sched_states(json_object_get(s, "last_job_states"), states,
		    sizeof(states));
		sched_parallel(s, par, sizeof(par));
		if (ctl_table_add(t, ctl_str(s, "name"), ctl_str(s, "source"),
		        ctl_str(s, "module"), ctl_str(s, "cron"),
		        ctl_str(s, "target"), par, next, lastat, outcome,
		        states) == -1)
			goto nomem;
	}
	ctl_table_print(t);
	ret = CTL_OK;
	goto out;
nomem:
	ctl_fail(c, "out of memory");
out:
	ctl_table_free(t);
	json_decref(doc);
	return (ret);
}

/* One NAME argument into a request for `command`; CTL_* and *docp. */
static int
sched_by_name(struct ctl *c, int argc, char **argv, const char *command,
    struct ctl_args *args, json_t **docp)
{
	const char *name;
	int         ret;

	*docp = NULL;
	if ((ret = ctl_parse(c, argc, argv, NULL, &name, 1)) != CTL_OK)
		return (ret);
	if (name[0] == '\0')
		return (ctl_usage(c, "empty NAME"));
	if (ctl_arg(c, args, "name", name) != CTL_OK)
		return (CTL_USAGE);
	return (ctl_call(c, command, args, docp));
}

/* The runs of schedule.show as a table. */
static int
sched_print_runs(struct ctl *c, json_t *runs)
{
	struct ctl_table *t;
	json_t           *r;
	char              due[32], at[32], outcome[96], states[256];
	size_t            i;
	int               ret = CTL_FAIL;

	if ((t = ctl_table_new(5)) == NULL ||
	    ctl_table_add(t, "DUE", "DECIDED", "OUTCOME", "JOB", "TASKS") == -1)
		goto out;
	json_array_foreach(runs, i, r)
	{
		ctl_when(ctl_int(r, "due_at"), due, sizeof(due));
		ctl_when(ctl_int(r, "at"), at, sizeof(at));
		sched_last(r, outcome, sizeof(outcome));
		sched_states(
		    json_object_get(r, "states"), states, sizeof(states));
		if (ctl_table_add(t, due, at, outcome,
		        ctl_str(r, "job")[0] ? ctl_str(r, "job") : "-",
		        states) == -1)
			goto out;
	}
	ctl_table_print(t);
	ret = CTL_OK;
out:
	if (ret != CTL_OK)
		ctl_fail(c, "out of memory");
	ctl_table_free(t);
	return (ret);
}

int
cmd_schedule_show(struct ctl *c, int argc, char **argv)
{
	struct ctl_args args = {0};
	const char     *runs = NULL;
	struct ctl_opt  opts[] = {
	     {"--runs", CTL_OPT_STR, &runs, NULL},
	     {NULL, 0, NULL, NULL},
        };
	json_t     *doc = NULL, *s;
	char        next[32], par[24], params[512], *p;
	const char *name, *tz;
	int         ret;

	if ((ret = ctl_parse(c, argc, argv, opts, &name, 1)) != CTL_OK)
		return (ret);
	if (name[0] == '\0')
		return (ctl_usage(c, "empty NAME"));
	if (ctl_arg(c, &args, "name", name) != CTL_OK ||
	    (runs != NULL && ctl_arg(c, &args, "limit", runs) != CTL_OK))
		return (CTL_USAGE);
	if ((ret = ctl_call(c, "schedule.show", &args, &doc)) != CTL_OK)
		goto out;
	if (c->json) {
		ret = ctl_print_json(c, doc);
		goto out;
	}
	s = json_object_get(doc, "schedule");
	tz = ctl_str(s, "tz");
	ctl_when(ctl_int(s, "next_due"), next, sizeof(next));
	sched_parallel(s, par, sizeof(par));
	p = json_dumps(json_object_get(s, "params"), JSON_COMPACT);
	snprintf(params, sizeof(params), "%s", p != NULL ? p : "{}");
	free(p);
	printf("schedule  %s (%s, %s)\n", ctl_str(s, "name"),
	    ctl_str(s, "source"),
	    json_is_true(json_object_get(s, "enabled")) ? "enabled"
	                                                : "disabled");
	printf("module    %s %s\n", ctl_str(s, "module"), params);
	printf("target    %s\n", ctl_str(s, "target"));
	printf("cron      %s (%s)\n", ctl_str(s, "cron"),
	    tz[0] ? tz : "the controller's zone");
	printf("window    %s",
	    ctl_str(s, "window")[0] ? ctl_str(s, "window") : "-");
	if (ctl_str(s, "window")[0])
		printf(" (outside it: %s)", ctl_str(s, "window_policy"));
	printf("\noverlap   %s, max_parallel %s, splay %llds\n",
	    ctl_str(s, "overlap"), par,
	    (long long)(ctl_int(s, "splay_ms") / 1000));
	printf("timeout   %llds a task, run %llds, starting deadline %llds, "
	       "retries %lld\n",
	    (long long)(ctl_int(s, "timeout_ms") / 1000),
	    (long long)(ctl_int(s, "run_timeout_ms") / 1000),
	    (long long)(ctl_int(s, "starting_deadline_ms") / 1000),
	    (long long)ctl_int(s, "retries"));
	printf("next      %s\n\n",
	    json_is_true(json_object_get(s, "enabled")) ? next : "disabled");
	ret = sched_print_runs(c, json_object_get(doc, "runs"));
out:
	json_decref(doc);
	return (ret);
}

int
cmd_schedule_add(struct ctl *c, int argc, char **argv)
{
	struct ctl_args args = {0}, params = {0};
	const char     *pos[2], *cron = NULL, *target = NULL, *tz = NULL;
	const char     *window = NULL, *wpol = NULL, *overlap = NULL;
	const char     *par = NULL, *splay = NULL, *timeout = NULL;
	const char     *rtimeout = NULL, *deadline = NULL, *retries = NULL;
	int             disabled = 0;
	struct ctl_opt  opts[] = {
	     {"--cron", CTL_OPT_STR, &cron, NULL},
	     {"--target", CTL_OPT_STR, &target, NULL},
	     {"--param", CTL_OPT_LIST, &params, "param"},
	     {"--tz", CTL_OPT_STR, &tz, NULL},
	     {"--window", CTL_OPT_STR, &window, NULL},
	     {"--window-policy", CTL_OPT_STR, &wpol, NULL},
	     {"--overlap", CTL_OPT_STR, &overlap, NULL},
	     {"--max-parallel", CTL_OPT_STR, &par, NULL},
	     {"--splay", CTL_OPT_STR, &splay, NULL},
	     {"--timeout", CTL_OPT_STR, &timeout, NULL},
	     {"--run-timeout", CTL_OPT_STR, &rtimeout, NULL},
	     {"--starting-deadline", CTL_OPT_STR, &deadline, NULL},
	     {"--retries", CTL_OPT_STR, &retries, NULL},
	     {"--disabled", CTL_OPT_FLAG, &disabled, NULL},
	     {NULL, 0, NULL, NULL},
        };
	const struct {
		const char  *key;
		const char **val;
	} kv[] = {
	    {"cron", &cron},
	    {"target", &target},
	    {"tz", &tz},
	    {"window", &window},
	    {"window_policy", &wpol},
	    {"overlap", &overlap},
	    {"max_parallel", &par},
	    {"splay", &splay},
	    {"timeout", &timeout},
	    {"run_timeout", &rtimeout},
	    {"starting_deadline", &deadline},
	    {"retries", &retries},
	};
	json_t *doc = NULL;
	size_t  i;
	int     ret;

	if ((ret = ctl_parse(c, argc, argv, opts, pos, 2)) != CTL_OK)
		return (ret);
	if (cron == NULL)
		return (ctl_usage(c, "missing --cron"));
	for (i = 0; i < params.n; i++)
		if (strchr(params.val[i], '=') == NULL ||
		    params.val[i][0] == '=')
			return (ctl_usage(
			    c, "--param '%s' is not k=v", params.val[i]));
	if (ctl_arg(c, &args, "name", pos[0]) != CTL_OK ||
	    ctl_arg(c, &args, "module", pos[1]) != CTL_OK ||
	    (disabled && ctl_arg(c, &args, "enabled", "false") != CTL_OK))
		return (CTL_USAGE);
	for (i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
		if (*kv[i].val != NULL &&
		    ctl_arg(c, &args, kv[i].key, *kv[i].val) != CTL_OK)
			return (CTL_USAGE);
	for (i = 0; i < params.n; i++)
		if (ctl_arg(c, &args, "param", params.val[i]) != CTL_OK)
			return (CTL_USAGE);
	if ((ret = ctl_call(c, "schedule.add", &args, &doc)) != CTL_OK)
		goto out;
	if (c->json)
		ret = ctl_print_json(c, doc);
	else {
		char next[32];

		ctl_when(ctl_int(doc, "next_due"), next, sizeof(next));
		printf("schedule %s added; next run %s\n", ctl_str(doc, "name"),
		    json_is_true(json_object_get(doc, "enabled")) ? next
		                                                  : "disabled");
	}
out:
	json_decref(doc);
	return (ret);
}

/* rm, enable, disable: NAME, then one line. */
static int
sched_simple(
    struct ctl *c, int argc, char **argv, const char *command, const char *done)
{
	struct ctl_args args = {0};
	json_t         *doc = NULL;
	const char     *name;
	int             ret;

	if ((ret = sched_by_name(c, argc, argv, command, &args, &doc)) !=
	    CTL_OK)
		goto out;
	if (c->json)
		ret = ctl_print_json(c, doc);
	else {
		name = args.val[0];
		printf("schedule %s %s\n", name, done);
	}
out:
	json_decref(doc);
	return (ret);
}

int
cmd_schedule_rm(struct ctl *c, int argc, char **argv)
{
	return (sched_simple(c, argc, argv, "schedule.rm", "removed"));
}

int
cmd_schedule_enable(struct ctl *c, int argc, char **argv)
{
	return (sched_simple(c, argc, argv, "schedule.enable", "enabled"));
}

int
cmd_schedule_disable(struct ctl *c, int argc, char **argv)
{
	return (sched_simple(c, argc, argv, "schedule.disable", "disabled"));
}

int
cmd_schedule_fire(struct ctl *c, int argc, char **argv)
{
	struct ctl_args args = {0};
	json_t         *doc = NULL;
	const char     *reason;
	int             ret;

	if ((ret = sched_by_name(
	         c, argc, argv, "schedule.fire", &args, &doc)) != CTL_OK)
		goto out;
	if (c->json) {
		ret = ctl_print_json(c, doc);
		goto out;
	}
	reason = ctl_str(doc, "reason");
	if (ctl_str(doc, "job")[0] != '\0')
		printf("schedule %s: fired job %s (%lld task%s)\n",
		    ctl_str(doc, "schedule"), ctl_str(doc, "job"),
		    (long long)ctl_int(doc, "tasks"),
		    ctl_int(doc, "tasks") == 1 ? "" : "s");
	else
		printf("schedule %s: %s%s%s\n", ctl_str(doc, "schedule"),
		    ctl_str(doc, "outcome"), reason[0] ? ": " : "", reason);
out:
	json_decref(doc);
	return (ret);
}
