/*
 * ctl_audit.c: `vsmctl audit`, the audit log newest first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

int
cmd_audit(struct ctl *c, int argc, char **argv)
{
	struct ctl_args args = {0};
	const char     *limit = NULL, *before = NULL;
	struct ctl_opt  opts[] = {
	     {"--limit", CTL_OPT_STR, &limit, NULL},
	     {"--before", CTL_OPT_STR, &before, NULL},
	     {NULL, 0, NULL, NULL},
        };
	struct ctl_table *t = NULL;
	json_t           *doc = NULL, *a;
	char              id[24], at[32], *detail;
	size_t            i;
	int               ret;

	if ((ret = ctl_parse(c, argc, argv, opts, NULL, 0)) != CTL_OK)
		return (ret);
	if ((limit != NULL && ctl_arg(c, &args, "limit", limit) != CTL_OK) ||
	    (before != NULL && ctl_arg(c, &args, "before", before) != CTL_OK))
		return (CTL_USAGE);
	if (!ctl_call_list(c, "audit", &args, "audit", &doc, &ret))
		goto out;
	ret = CTL_FAIL;
	if ((t = ctl_table_new(7)) == NULL ||
	    ctl_table_add(t, "ID", "TIME", "WHO", "ROLE", "ACTION", "TARGET",
	        "DETAIL") == -1)
		goto nomem;
	json_array_foreach(doc, i, a)
	{
		snprintf(id, sizeof(id), "%lld", (long long)ctl_int(a, "id"));
		ctl_when(ctl_int(a, "at"), at, sizeof(at));
		detail = json_dumps(json_object_get(a, "detail"),
		    JSON_COMPACT | JSON_ENCODE_ANY);
		ret = ctl_table_add(t, id, at, ctl_str(a, "who"),
		    ctl_str(a, "role"), ctl_str(a, "action"),
		    ctl_str(a, "target"),
		    detail != NULL && strcmp(detail, "{}") != 0 ? detail : "");
		free(detail);
		if (ret == -1)
			goto nomem;
	}
	ctl_table_print(t);
	ret = CTL_OK;
	goto out;
nomem:
	ret = ctl_fail(c, "out of memory");
out:
	ctl_table_free(t);
	json_decref(doc);
	return (ret);
}
