/*
 * ctl_jobs.c: `vsmctl jobs` and `job show|logs|cancel`, and the follow
 * loop that `job logs --follow` and `run --wait` share.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

/* Task states that count as a host not doing what it was asked. */
static int
jobs_bad_state(const char *s)
{
	return (strcmp(s, "fail") == 0 || strcmp(s, "error") == 0 ||
	    strcmp(s, "timeout") == 0 || strcmp(s, "lost") == 0);
}

/* {"ok":1,"running":1} as "ok=1 running=1". */
static void
jobs_states(json_t *states, char *buf, size_t len)
{
	const char *k;
	json_t     *v;
	size_t      off = 0;
	int         n;

	buf[0] = '\0';
	json_object_foreach(states, k, v)
	{
		n = snprintf(buf + off, len - off, "%s%s=%lld", off ? " " : "",
		    k, (long long)json_integer_value(v));
		if (n < 0 || (size_t)n >= len - off)
			break;
		off += (size_t)n;
	}
}

/* {"count":"3"} as "count=3". */
static void
jobs_params(json_t *params, char *buf, size_t len)
{
	const char *k;
	json_t     *v;
	size_t      off = 0;
	int         n;

	buf[0] = '\0';
	json_object_foreach(params, k, v)
	{
		n = snprintf(buf + off, len - off, "%s%s=%s", off ? " " : "", k,
		    json_is_string(v) ? json_string_value(v) : "?");
		if (n < 0 || (size_t)n >= len - off)
			break;
		off += (size_t)n;
	}
}

/* The summary (or the error) of a task's result document; "" if none. */
static const char *
jobs_summary(json_t *result)
{
	const char *s = ctl_str(result, "summary");

	return (s[0] != '\0' ? s : ctl_str(result, "error"));
}

/* One ID argument into a request for `command`; CTL_* and *docp. */
static int
jobs_by_id(
    struct ctl *c, int argc, char **argv, const char *command, json_t **docp)
{
	struct ctl_args args = {0};
	const char     *id;
	int             ret;

	*docp = NULL;
	if ((ret = ctl_parse(c, argc, argv, NULL, &id, 1)) != CTL_OK)
		return (ret);
	if (id[0] == '\0')
		return (ctl_usage(c, "empty ID"));
	if (ctl_arg(c, &args, "id", id) != CTL_OK)
		return (CTL_USAGE);
	return (ctl_call(c, command, &args, docp));
}

int
cmd_jobs(struct ctl *c, int argc, char **argv)
{
	struct ctl_args args = {0};
	const char     *limit = NULL;
	struct ctl_opt  opts[] = {
	     {"--limit", CTL_OPT_STR, &limit, NULL},
	     {NULL, 0, NULL, NULL},
        };
	struct ctl_table *t = NULL;
	json_t           *doc = NULL, *j;
	char              tasks[24], states[256], created[32];
	size_t            i;
	int               ret;

	if ((ret = ctl_parse(c, argc, argv, opts, NULL, 0)) != CTL_OK)
		return (ret);
	if (limit != NULL && ctl_arg(c, &args, "limit", limit) != CTL_OK)
		return (CTL_USAGE);
	if (!ctl_call_list(c, "jobs", &args, "jobs", &doc, &ret))
		goto out;
	ret = CTL_FAIL;
	if ((t = ctl_table_new(7)) == NULL ||
	    ctl_table_add(t, "ID", "MODULE", "TARGET", "TASKS", "STATES",
	        "CREATED", "BY") == -1)
		goto nomem;
	json_array_foreach(doc, i, j)
	{
		snprintf(tasks, sizeof(tasks), "%lld",
		    (long long)ctl_int(j, "tasks"));
		jobs_states(
		    json_object_get(j, "states"), states, sizeof(states));
		ctl_ago(ctl_int(j, "created_at"), created, sizeof(created));
		if (ctl_table_add(t, ctl_str(j, "id"), ctl_str(j, "module"),
		        ctl_str(j, "target"), tasks, states, created,
		        ctl_str(j, "created_by")) == -1)
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

/* The tasks of a job.show document as a table; CTL_OK or CTL_FAIL. */
static int
jobs_print_tasks(struct ctl *c, json_t *tasks)
{
	struct ctl_table *t;
	json_t           *k;
	char              attempt[16], fin[32];
	size_t            i;
	int               ret = CTL_FAIL;

	if ((t = ctl_table_new(5)) == NULL ||
	    ctl_table_add(
	        t, "HOST", "STATE", "ATTEMPT", "FINISHED", "SUMMARY") == -1)
		goto out;
	json_array_foreach(tasks, i, k)
	{
		snprintf(attempt, sizeof(attempt), "%lld",
		    (long long)ctl_int(k, "attempt"));
		ctl_ago(ctl_int(k, "finished_at"), fin, sizeof(fin));
		if (ctl_int(k, "finished_at") <= 0)
			snprintf(fin, sizeof(fin), "-");
		if (ctl_table_add(t, ctl_str(k, "host"), ctl_str(k, "state"),
		        attempt, fin,
		        jobs_summary(json_object_get(k, "result"))) == -1)
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

/* One line per artifact of the job.show document, if any. */
static void
jobs_print_artifacts(json_t *tasks)
{
	json_t *k, *a;
	size_t  i, j, n = 0;

	json_array_foreach(tasks, i, k)
	{
		json_array_foreach(json_object_get(k, "artifacts"), j, a)
		{
			if (n++ == 0)
				printf("\nartifacts (under the controller's "
				       "data_dir)\n");
			if (json_is_true(json_object_get(a, "complete")))
				printf(
				    "  %s  %s  %lld bytes  blake2b %.16s...\n",
				    ctl_str(k, "host"), ctl_str(a, "path"),
				    (long long)ctl_int(a, "size"),
				    ctl_str(a, "blake2b"));
			else
				printf("  %s  %s  uploading\n",
				    ctl_str(k, "host"), ctl_str(a, "path"));
		}
	}
}

int
cmd_job_show(struct ctl *c, int argc, char **argv)
{
	json_t *doc = NULL, *job;
	char    created[32], params[512], states[256], tmo[32];
	int     ret;

	if ((ret = jobs_by_id(c, argc, argv, "job.show", &doc)) != CTL_OK)
		goto out;
	if (c->json) {
		ret = ctl_print_json(c, doc);
		goto out;
	}
	job = json_object_get(doc, "job");
	ctl_when(ctl_int(job, "created_at"), created, sizeof(created));
	jobs_params(json_object_get(job, "params"), params, sizeof(params));
	jobs_states(json_object_get(job, "states"), states, sizeof(states));
	snprintf(tmo, sizeof(tmo), "%llds",
	    (long long)(ctl_int(job, "timeout_ms") / 1000));
	printf("job      %s\n", ctl_str(job, "id"));
	printf("module   %s\n", ctl_str(job, "module"));
	printf("target   %s\n", ctl_str(job, "target"));
	printf("params   %s\n", params[0] ? params : "-");
	printf("created  %s by %s\n", created, ctl_str(job, "created_by"));
	printf("timeout  %s, retries %lld\n", tmo,
	    (long long)ctl_int(job, "max_retries"));
	printf(
	    "tasks    %lld (%s)\n\n", (long long)ctl_int(job, "tasks"), states);
	ret = jobs_print_tasks(c, json_object_get(doc, "tasks"));
	if (ret == CTL_OK)
		jobs_print_artifacts(json_object_get(doc, "tasks"));
out:
	json_decref(doc);
	return (ret);
}

/* One event of job.logs as a line. */
static void
jobs_print_event(json_t *ev)
{
	const char *kind = ctl_str(ev, "kind"), *host = ctl_str(ev, "host");
	const char *st, *sum;
	json_t     *res;

	if (strcmp(kind, "log") == 0)
		printf("%s: %s\n", host, ctl_str(ev, "text"));
	else if (strcmp(kind, "progress") == 0)
		printf("%s: progress %lld%%\n", host,
		    (long long)ctl_int(ev, "progress"));
	else if (strcmp(kind, "status") == 0) {
		st = ctl_str(ev, "status");
		res = json_loads(ctl_str(ev, "text"), 0, NULL);
		sum = jobs_summary(res);
		printf("%s: %s%s%s\n", host, st, sum[0] ? ": " : "", sum);
		json_decref(res);
	} else
		printf("%s: %s %s\n", host, kind, ctl_str(ev, "text"));
}

/*
 * Fetch a job's events with job.logs; with `follow`, poll (every
 * CTL_POLL_MS while nothing new came) until the answer says done.
 * Events are printed as they come, or appended to `collect` when it is
 * not NULL. Returns CTL_OK or the failed call's status (line printed).
 */
int
ctl_job_follow(struct ctl *c, const char *id, int follow, json_t *collect)
{
	struct ctl_args args;
	json_t         *doc = NULL, *evs, *ev;
	char           *cursor = NULL;
	size_t          i;
	int             ret, done;

	for (;;) {
		memset(&args, 0, sizeof(args));
		ctl_arg(c, &args, "id", id);
		if (cursor != NULL)
			ctl_arg(c, &args, "cursor", cursor);
		if ((ret = ctl_call(c, "job.logs", &args, &doc)) != CTL_OK)
			break;
		evs = json_object_get(doc, "events");
		json_array_foreach(evs, i, ev)
		{
			if (collect != NULL)
				json_array_append(collect, ev);
			else
				jobs_print_event(ev);
		}
		fflush(stdout);
		done = json_is_true(json_object_get(doc, "done"));
		if (json_is_string(json_object_get(doc, "cursor"))) {
			free(cursor);
			if ((cursor = strdup(ctl_str(doc, "cursor"))) == NULL) {
				ret = ctl_fail(c, "out of memory");
				break;
			}
		}
		if (!follow || done)
			break;
		if (json_array_size(evs) == 0)
			ctl_sleep_ms(CTL_POLL_MS);
		json_decref(doc);
		doc = NULL;
	}
	json_decref(doc);
	free(cursor);
	return (ret);
}

/*
 * run --wait: follow the job to its end, then sum its tasks up (or print
 * job.show with --json). CTL_FAIL when any host failed, errored, timed
 * out or was lost.
 */
int
ctl_job_wait(struct ctl *c, const char *id)
{
	struct ctl_args          args = {0};
	json_t                  *evs = NULL, *doc = NULL, *k;
	const char              *st;
	size_t                   i, bad = 0, n[7] = {0};
	static const char *const names[7] = {
	    "ok", "warn", "fail", "error", "timeout", "cancelled", "lost"};
	int ret, j;

	if (c->json && (evs = json_array()) == NULL)
		return (ctl_fail(c, "out of memory"));
	if ((ret = ctl_job_follow(c, id, 1, evs)) != CTL_OK)
		goto out;
	ctl_arg(c, &args, "id", id);
	if ((ret = ctl_call(c, "job.show", &args, &doc)) != CTL_OK)
		goto out;
	json_array_foreach(json_object_get(doc, "tasks"), i, k)
	{
		st = ctl_str(k, "state");
		for (j = 0; j < 7; j++)
			if (strcmp(st, names[j]) == 0)
				n[j]++;
		bad += jobs_bad_state(st);
	}
	if (c->json)
		ret = ctl_print_json(c, doc);
	else
		printf("ok %zu, warn %zu, fail %zu, error %zu, timeout %zu, "
		       "cancelled %zu, lost %zu\n",
		    n[0], n[1], n[2], n[3], n[4], n[5], n[6]);
	if (ret == CTL_OK && bad > 0)
		ret = ctl_fail(c, "job %s: %zu of %zu hosts did not succeed",
		    id, bad, json_array_size(json_object_get(doc, "tasks")));
out:
	json_decref(evs);
	json_decref(doc);
	return (ret);
}

int
cmd_job_logs(struct ctl *c, int argc, char **argv)
{
	const char    *id;
	int            follow = 0;
	struct ctl_opt opts[] = {
	    {"--follow", CTL_OPT_FLAG, &follow, NULL},
	    {NULL, 0, NULL, NULL},
	};
	struct ctl_args args;
	json_t         *evs = NULL, *doc = NULL;
	int             ret;

	if ((ret = ctl_parse(c, argc, argv, opts, &id, 1)) != CTL_OK)
		return (ret);
	if (id[0] == '\0')
		return (ctl_usage(c, "empty ID"));
	if (c->json && !follow) {
		/* The controller's document as it is. */
		memset(&args, 0, sizeof(args));
		ctl_arg(c, &args, "id", id);
		if ((ret = ctl_call(c, "job.logs", &args, &doc)) == CTL_OK)
			ret = ctl_print_json(c, doc);
		goto out;
	}
	if (c->json && (evs = json_array()) == NULL)
		return (ctl_fail(c, "out of memory"));
	if ((ret = ctl_job_follow(c, id, follow, evs)) != CTL_OK)
		goto out;
	if (c->json) {
		/* One document however many calls it took. */
		if ((doc = json_pack("{s:O,s:b}", "events", evs, "done", 1)) ==
		    NULL) {
			ret = ctl_fail(c, "out of memory");
			goto out;
		}
		ret = ctl_print_json(c, doc);
	}
out:
	json_decref(doc);
	json_decref(evs);
	return (ret);
}

int
cmd_job_cancel(struct ctl *c, int argc, char **argv)
{
	json_t *doc = NULL;
	int     ret;

	if ((ret = jobs_by_id(c, argc, argv, "job.cancel", &doc)) != CTL_OK)
		goto out;
	if (c->json)
		ret = ctl_print_json(c, doc);
	else
		printf("job %s: %lld task%s cancelled\n", ctl_str(doc, "job"),
		    (long long)ctl_int(doc, "cancelled"),
		    ctl_int(doc, "cancelled") == 1 ? "" : "s");
out:
	json_decref(doc);
	return (ret);
}
