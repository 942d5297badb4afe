/*
 * ctl_schedule_next.c: `vsmctl schedule next EXPR [--tz ZONE] [--from
 * TIME] [--count N]`, the next fire times of a cron expression, computed
 * here with common/cron.c: no controller, no side effects. One ISO 8601
 * time with its offset a line, or with --json an array of them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron.h"
#include "ctl.h"

#define SCHED_COUNT_DEFAULT 5
#define SCHED_COUNT_MAX     1000
#define SCHED_TIME_LEN      48 /* vsm_time_format() needs 32 */

/* "N", 1 to SCHED_COUNT_MAX, into *n; -1 when it is not. */
static int
sched_count(const char *s, size_t *n)
{
	char         *end;
	unsigned long v;

	if (s[0] < '0' || s[0] > '9')
		return (-1);
	v = strtoul(s, &end, 10);
	if (*end != '\0' || v < 1 || v > SCHED_COUNT_MAX)
		return (-1);
	*n = (size_t)v;
	return (0);
}

int
cmd_schedule_next(struct ctl *c, int argc, char **argv)
{
	const char    *pos[1], *tz = "", *from = NULL, *count = NULL;
	struct ctl_opt opts[] = {
	    {"--tz", CTL_OPT_STR, &tz, NULL},
	    {"--from", CTL_OPT_STR, &from, NULL},
	    {"--count", CTL_OPT_STR, &count, NULL},
	    {NULL, 0, NULL, NULL},
	};
	struct vsm_cron cron;
	struct vsm_err  err;
	int64_t        *at = NULL, after;
	char(*txt)[SCHED_TIME_LEN] = NULL;
	json_t *doc = NULL, *s;
	size_t  i, n = SCHED_COUNT_DEFAULT;
	int     ret;

	if ((ret = ctl_parse(c, argc, argv, opts, pos, 1)) != CTL_OK)
		return (ret);
	if (count != NULL && sched_count(count, &n) == -1)
		return (ctl_usage(c, "--count must be a number from 1 to %d",
		    SCHED_COUNT_MAX));
	if (vsm_cron_parse(pos[0], &cron, &err) == -1)
		return (ctl_usage(c, "%s", err.msg));
	if (vsm_tz_check(tz, &err) == -1)
		return (ctl_usage(c, "--tz: %s", err.msg));
	/* --from is inclusive: a fire time at exactly TIME is listed. */
	if (from == NULL)
		after = (int64_t)time(NULL);
	else if (vsm_time_parse(from, tz, &after, &err) == -1)
		return (ctl_usage(c, "--from: %s", err.msg));
	else
		after--;
	if ((at = calloc(n, sizeof(*at))) == NULL ||
	    (txt = calloc(n, sizeof(*txt))) == NULL)
		goto nomem;
	/* Everything is computed before anything is printed. */
	ret = CTL_FAIL;
	if (vsm_cron_next_n(&cron, tz, after, at, n, &err) == -1) {
		ctl_fail(c, "%s", err.msg);
		goto out;
	}
	for (i = 0; i < n; i++)
		if (vsm_time_format(tz, at[i], txt[i], sizeof(txt[i]), &err) ==
		    -1) {
			ctl_fail(c, "%s", err.msg);
			goto out;
		}
	if (c->json) {
		if ((doc = json_array()) == NULL)
			goto nomem;
		for (i = 0; i < n; i++)
			if ((s = json_string(txt[i])) == NULL ||
			    json_array_append_new(doc, s) == -1)
				goto nomem;
		ret = ctl_print_json(c, doc);
		goto out;
	}
	for (i = 0; i < n; i++)
		printf("%s\n", txt[i]);
	ret = CTL_OK;
	goto out;
nomem:
	ret = ctl_fail(c, "out of memory");
out:
	json_decref(doc);
	free(txt);
	free(at);
	return (ret);
}
