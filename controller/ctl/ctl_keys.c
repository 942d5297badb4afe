/*
 * ctl_keys.c: `vsmctl keys ...`, agent keys and enrollment tokens.
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

int
cmd_keys_list(struct ctl *c, int argc, char **argv)
{
	struct ctl_args args = {0};
	const char     *state = NULL;
	struct ctl_opt  opts[] = {
	     {"--state", CTL_OPT_STR, &state, NULL},
	     {NULL, 0, NULL, NULL},
        };
	struct ctl_table *t = NULL;
	json_t           *doc = NULL, *k;
	char              id[24], created[32], updated[32], key[16];
	size_t            i;
	int               ret;

	if ((ret = ctl_parse(c, argc, argv, opts, NULL, 0)) != CTL_OK)
		return (ret);
	if (state != NULL && ctl_arg(c, &args, "state", state) != CTL_OK)
		return (CTL_USAGE);
	if (!ctl_call_list(c, "keys.list", &args, "keys list", &doc, &ret))
		goto out;
	ret = CTL_FAIL;
	if ((t = ctl_table_new(6)) == NULL ||
	    ctl_table_add(
	        t, "ID", "NAME", "STATE", "KEY", "CREATED", "UPDATED") == -1)
		goto nomem;
	json_array_foreach(doc, i, k)
	{
		snprintf(id, sizeof(id), "%lld", (long long)ctl_int(k, "id"));
		snprintf(key, sizeof(key), "%.10s...", ctl_str(k, "key"));
		ctl_ago(ctl_int(k, "created_at"), created, sizeof(created));
		ctl_ago(ctl_int(k, "updated_at"), updated, sizeof(updated));
		if (ctl_table_add(t, id, ctl_str(k, "name"),
		        ctl_str(k, "state"), key, created, updated) == -1)
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

/* keys accept|reject|revoke ID: one state change. */
static int
keys_state(
    struct ctl *c, int argc, char **argv, const char *command, const char *done)
{
	struct ctl_args args = {0};
	const char     *id;
	json_t         *doc = NULL;
	int64_t         closed;
	int             ret;

	if ((ret = ctl_parse(c, argc, argv, NULL, &id, 1)) != CTL_OK)
		return (ret);
	if (id[0] == '\0')
		return (ctl_usage(c, "empty ID"));
	if (ctl_arg(c, &args, "id", id) != CTL_OK)
		return (CTL_USAGE);
	if ((ret = ctl_call(c, command, &args, &doc)) != CTL_OK)
		goto out;
	if (c->json) {
		ret = ctl_print_json(c, doc);
		goto out;
	}
	closed = ctl_int(doc, "sessions_closed");
	printf("key %lld (%s) %s", (long long)ctl_int(doc, "id"),
	    ctl_str(doc, "name"), done);
	if (closed > 0)
		printf(", %lld session%s closed", (long long)closed,
		    closed == 1 ? "" : "s");
	printf("\n");
out:
	json_decref(doc);
	return (ret);
}

int
cmd_keys_accept(struct ctl *c, int argc, char **argv)
{
	return (keys_state(c, argc, argv, "keys.accept", "accepted"));
}

int
cmd_keys_reject(struct ctl *c, int argc, char **argv)
{
	return (keys_state(c, argc, argv, "keys.reject", "rejected"));
}

int
cmd_keys_revoke(struct ctl *c, int argc, char **argv)
{
	return (keys_state(c, argc, argv, "keys.revoke", "revoked"));
}

int
cmd_keys_token(struct ctl *c, int argc, char **argv)
{
	struct ctl_args args = {0};
	const char     *uses = NULL, *ttl = NULL;
	struct ctl_opt  opts[] = {
	     {"--uses", CTL_OPT_STR, &uses, NULL},
	     {"--ttl", CTL_OPT_STR, &ttl, NULL},
	     {NULL, 0, NULL, NULL},
        };
	json_t *doc = NULL;
	char    exp[32];
	int     ret;

	if ((ret = ctl_parse(c, argc, argv, opts, NULL, 0)) != CTL_OK)
		return (ret);
	if ((uses != NULL && ctl_arg(c, &args, "uses", uses) != CTL_OK) ||
	    (ttl != NULL && ctl_arg(c, &args, "ttl", ttl) != CTL_OK))
		return (CTL_USAGE);
	if ((ret = ctl_call(c, "keys.token", &args, &doc)) != CTL_OK)
		goto out;
	if (c->json) {
		ret = ctl_print_json(c, doc);
		goto out;
	}
	ctl_when(ctl_int(doc, "expires_at"), exp, sizeof(exp));
	printf("token: %s\nuses: %lld\nexpires: %s\n", ctl_str(doc, "token"),
	    (long long)ctl_int(doc, "uses"), exp);
out:
	json_decref(doc);
	return (ret);
}
