/*
 * ctl_run.c: `vsmctl run`, a job on the hosts a selector matches; with
 * --wait, follow it to the end and sum it up.
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

int
cmd_run(struct ctl *c, int argc, char **argv)
{
	struct ctl_args args = {0}, params = {0};
	const char     *module, *target = NULL, *timeout = NULL;
	const char     *retries = NULL, *eq;
	int             wait = 0, dry = 0;
	struct ctl_opt  opts[] = {
	     {"--target", CTL_OPT_STR, &target, NULL},
	     {"--param", CTL_OPT_LIST, &params, "param"},
	     {"--timeout", CTL_OPT_STR, &timeout, NULL},
	     {"--retries", CTL_OPT_STR, &retries, NULL},
	     {"--wait", CTL_OPT_FLAG, &wait, NULL},
	     {"--dry-run", CTL_OPT_FLAG, &dry, NULL},
	     {NULL, 0, NULL, NULL},
        };
	json_t *doc = NULL;
	char    job[80];
	size_t  i;
	int     ret;

	if ((ret = ctl_parse(c, argc, argv, opts, &module, 1)) != CTL_OK)
		return (ret);
	if (module[0] == '\0')
		return (ctl_usage(c, "empty MODULE"));
	for (i = 0; i < params.n; i++) {
		eq = strchr(params.val[i], '=');
		if (eq == NULL || eq == params.val[i])
			return (ctl_usage(
			    c, "--param '%s' is not k=v", params.val[i]));
	}
	if (ctl_arg(c, &args, "module", module) != CTL_OK ||
	    (target != NULL && ctl_arg(c, &args, "target", target) != CTL_OK) ||
	    (timeout != NULL &&
	        ctl_arg(c, &args, "timeout", timeout) != CTL_OK) ||
	    (retries != NULL &&
	        ctl_arg(c, &args, "retries", retries) != CTL_OK) ||
	    (dry && ctl_arg(c, &args, "dry_run", "true") != CTL_OK))
		return (CTL_USAGE);
	for (i = 0; i < params.n; i++)
		if (ctl_arg(c, &args, "param", params.val[i]) != CTL_OK)
			return (CTL_USAGE);
	if ((ret = ctl_call(c, "run", &args, &doc)) != CTL_OK)
		goto out;
	snprintf(job, sizeof(job), "%s", ctl_str(doc, "job"));
	if (job[0] == '\0') {
		ret = ctl_fail(c, "run: the answer names no job");
		goto out;
	}
	if (!wait) {
		if (c->json)
			ret = ctl_print_json(c, doc);
		else
			printf("job %s: %lld task%s\n", job,
			    (long long)ctl_int(doc, "tasks"),
			    ctl_int(doc, "tasks") == 1 ? "" : "s");
		goto out;
	}
	if (!c->json)
		printf("job %s: %lld task%s\n", job,
		    (long long)ctl_int(doc, "tasks"),
		    ctl_int(doc, "tasks") == 1 ? "" : "s");
	fflush(stdout);
	ret = ctl_job_wait(c, job);
out:
	json_decref(doc);
	return (ret);
}
