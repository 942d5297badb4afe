/*
 * control.c: the control endpoint (docs/control.md). A second channel
 * server, on the control URL, that opens sessions only for operator keys
 * listed in DATA_DIR/operators, each with a role. A CtlRequest names a
 * command of the table below; the command checks its arguments and
 * answers a CtlResponse: status 0 (ok), 1 (failed), 2 (bad usage), one
 * error line, and a JSON document built with jansson. Changes are
 * audited by the store in the same transaction; refusals for a missing
 * role are audited here.
 */
#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "control_int.h"
#include "ctld.h"
#include "log.h"

typedef int ctl_fn(struct ctl_call *);

struct ctl_cmd {
	const char    *name;
	enum ctld_role role;
	ctl_fn        *fn;
	const char    *args; /* for the usage error */
};

static const char *const role_names[] = {"viewer", "operator", "admin"};

const char *
role_name(enum ctld_role r)
{
	return ((unsigned)r < 3 ? role_names[r] : "?");
}

int
role_parse(const char *s, enum ctld_role *out)
{
	int i;

	for (i = 0; i < 3; i++)
		if (strcmp(s, role_names[i]) == 0) {
			*out = (enum ctld_role)i;
			return (0);
		}
	return (-1);
}

/* --- arguments ---------------------------------------------------------- */

const char *
arg_get(const struct ctl_call *c, const char *key)
{
	size_t i;

	for (i = 0; i < c->rq->n_args; i++)
		if (strcmp(c->rq->args[i]->key, key) == 0)
			return (c->rq->args[i]->value);
	return (NULL);
}

int
ctl_fail(struct ctl_call *c, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->error, sizeof(c->error), fmt, ap);
	va_end(ap);
	return (status);
}

/* An optional non-negative integer argument; -1 with c->error when bad. */
int
arg_int(
    struct ctl_call *c, const char *key, int64_t def, int64_t max, int64_t *out)
{
	const char *s = arg_get(c, key);
	char       *end;
	long long   v;

	*out = def;
	if (s == NULL)
		return (0);
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > max) {
		ctl_fail(c, CTL_USAGE, "%s: '%s' is not 0-%lld", key, s,
		    (long long)max);
		return (-1);
	}
	*out = v;
	return (0);
}

json_t *
json_text(const char *s)
{
	json_t *j;

	if (s == NULL || (j = json_loads(s, 0, NULL)) == NULL)
		return (s == NULL ? json_null() : json_string(s));
	return (j);
}

/* --- hosts -------------------------------------------------------------- */

static json_t *
host_json(struct ctld *cd, const struct store_host *h)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(h->id));
	json_object_set_new(o, "name", json_string(h->name));
	json_object_set_new(o, "labels", json_text(h->labels));
	json_object_set_new(o, "facts", json_text(h->facts));
	json_object_set_new(o, "capabilities", json_text(h->capabilities));
	json_object_set_new(o, "agent_version", json_string(h->agent_version));
	json_object_set_new(o, "state", json_string(h->up ? "up" : "down"));
	json_object_set_new(
	    o, "connected", json_boolean(registry_connected(cd->reg, h->id)));
	json_object_set_new(o, "first_seen", json_integer(h->first_seen));
	json_object_set_new(o, "last_seen", json_integer(h->last_seen));
	json_object_set_new(
	    o, "cpu_pct", h->cpu_pct < 0 ? json_null() : json_real(h->cpu_pct));
	json_object_set_new(
	    o, "mem_pct", h->mem_pct < 0 ? json_null() : json_real(h->mem_pct));
	json_object_set_new(o, "disk_pct",
	    h->disk_pct < 0 ? json_null() : json_real(h->disk_pct));
	return (o);
}

static int
cmd_hosts(struct ctl_call *c)
{
	struct store_host *hv = NULL;
	struct vsm_err     err;
	size_t             i, n = 0;

	if (store_host_list(c->cd->st, &hv, &n, &err) == -1)
		return (ctl_fail(c, CTL_FAIL, "%s", err.msg));
	c->out = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(c->out, host_json(c->cd, &hv[i]));
	store_hosts_free(hv, n);
	return (CTL_OK);
}

static int
cmd_host_show(struct ctl_call *c)
{
	struct store_host h;
	struct vsm_err    err;
	const char       *name = arg_get(c, "name");
	int               rc;

	if (name == NULL || !vsm_name_valid(name))
		return (ctl_fail(c, CTL_USAGE, "name: expected a host name"));
	memset(&h, 0, sizeof(h));
	if ((rc = store_host_get(c->cd->st, name, &h, &err)) == -1)
		return (ctl_fail(c, CTL_FAIL, "%s", err.msg));
	if (rc == STORE_NOTFOUND)
		return (ctl_fail(c, CTL_FAIL, "no host '%s'", name));
	c->out = host_json(c->cd, &h);
	store_host_clear(&h);
	return (CTL_OK);
}

/* --- keys --------------------------------------------------------------- */

static json_t *
key_json(const struct store_key *k)
{
	json_t *o = json_object();
	char    b64[VSM_KEY_B64LEN];

	vsm_key_encode(k->pubkey, b64);
	json_object_set_new(o, "id", json_integer(k->id));
	json_object_set_new(o, "name", json_string(k->name));
	json_object_set_new(o, "key", json_string(b64));
	json_object_set_new(
	    o, "state", json_string(store_key_state_str(k->state)));
	json_object_set_new(o, "created_at", json_integer(k->created_at));
	json_object_set_new(o, "updated_at", json_integer(k->updated_at));
	return (o);
}

static int
cmd_keys_list(struct ctl_call *c)
{
	struct store_key    *kv = NULL;
	struct vsm_err       err;
	enum store_key_state st;
	const char          *s = arg_get(c, "state");
	size_t               i, n = 0;

	if (s != NULL && store_key_state_parse(s, &st) == -1)
		return (ctl_fail(c, CTL_USAGE,
		    "state: '%s' is not pending, "
		    "accepted, rejected or revoked",
		    s));
	if (store_key_list(c->cd->st, s ? (int)st : -1, &kv, &n, &err) == -1)
		return (ctl_fail(c, CTL_FAIL, "%s", err.msg));
	c->out = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(c->out, key_json(&kv[i]));
	free(kv);
	return (CTL_OK);
}

/*
 * The key an operator names: a numeric id, or a host name (its newest
 * key that is not revoked). CTL_OK with *k set, else a status.
 */
static int
key_lookup(struct ctl_call *c, struct store_key *k)
{
	struct store_key *kv = NULL;
	struct vsm_err    err;
	const char       *s = arg_get(c, "id");
	char             *end;
	long long         id;
	size_t            i, n = 0;
	int               rc, found = 0;

	if (s == NULL || *s == '\0')
		return (ctl_fail(c, CTL_USAGE, "missing argument id"));
	errno = 0;
	id = strtoll(s, &end, 10);
	if (errno == 0 && *end == '\0' && id > 0) {
		if ((rc = store_key_get(c->cd->st, id, k, &err)) == -1)
			return (ctl_fail(c, CTL_FAIL, "%s", err.msg));
		if (rc == STORE_NOTFOUND)
			return (ctl_fail(c, CTL_FAIL, "no key %lld", id));
		return (CTL_OK);
	}
	if (store_key_list(c->cd->st, -1, &kv, &n, &err) == -1)
		return (ctl_fail(c, CTL_FAIL, "%s", err.msg));
	for (i = 0; i < n; i++)
		if (strcmp(kv[i].name, s) == 0 &&
		    kv[i].state != STORE_KEY_REVOKED) {
			*k = kv[i];
			found = 1;
		}
	free(kv);
	if (!found)
		return (ctl_fail(c, CTL_FAIL, "no key named '%s'", s));
	return (CTL_OK);
}

static int
keys_set(struct ctl_call *c, enum store_key_state to)
{
	struct store_key k;
	struct vsm_err   err;
	int              rc, kicked = 0;

	if ((rc = key_lookup(c, &k)) != CTL_OK)
		return (rc);
	if (store_key_set_state(
	        c->cd->st, &c->actor, k.id, to, ctld_now(), &err) == -1)
		return (ctl_fail(
		    c, CTL_FAIL, "key %lld: %s", (long long)k.id, err.msg));
	if (to != STORE_KEY_ACCEPTED)
		kicked = vsm_server_kick(c->cd->agents, k.pubkey);
	log_info("key %lld (%s): %s by %s%s", (long long)k.id, k.name,
	    store_key_state_str(to), c->actor.who,
	    kicked ? ", session cut" : "");
	if (store_key_get(c->cd->st, k.id, &k, &err) != 0)
		return (ctl_fail(c, CTL_FAIL, "%s", err.msg));
	c->out = key_json(&k);
	json_object_set_new(c->out, "sessions_closed", json_integer(kicked));
	return (CTL_OK);
}

static int
cmd_keys_accept(struct ctl_call *c)
{
	return (keys_set(c, STORE_KEY_ACCEPTED));
}

static int
cmd_keys_reject(struct ctl_call *c)
{
	return (keys_set(c, STORE_KEY_REJECTED));
}

static int
cmd_keys_revoke(struct ctl_call *c)
{
	return (keys_set(c, STORE_KEY_REVOKED));
}

static int
cmd_keys_token(struct ctl_call *c)
{
	struct vsm_err err;
	const char    *ttls = arg_get(c, "ttl");
	char           tok[STORE_TOKEN_LEN + 1];
	uint64_t       ttl = 24 * 3600 * 1000ULL;
	int64_t        uses, id, now = ctld_now();

	if (arg_int(c, "uses", 1, 100000, &uses) == -1)
		return (CTL_USAGE);
	if (uses == 0)
		return (ctl_fail(c, CTL_USAGE, "uses: must be at least 1"));
	if (ttls != NULL && vsm_duration_parse(ttls, &ttl, &err) == -1)
		return (ctl_fail(c, CTL_USAGE, "ttl: %s", err.msg));
	if (ttl == 0)
		return (ctl_fail(c, CTL_USAGE, "ttl: must be positive"));
	if (store_token_create(c->cd->st, &c->actor, (int)uses, (int64_t)ttl,
	        now, tok, &id, &err) == -1)
		return (ctl_fail(c, CTL_FAIL, "%s", err.msg));
	c->out = json_object();
	json_object_set_new(c->out, "id", json_integer(id));
	json_object_set_new(c->out, "token", json_string(tok));
	json_object_set_new(c->out, "uses", json_integer(uses));
	json_object_set_new(
	    c->out, "expires_at", json_integer(now + (int64_t)ttl));
	sodium_memzero(tok, sizeof(tok));
	return (CTL_OK);
}

/* --- jobs --------------------------------------------------------------- */

static int
cmd_run(struct ctl_call *c)
{
	const char    *module = arg_get(c, "module");
	const char    *target = arg_get(c, "target");
	const char    *tos = arg_get(c, "timeout");
	const char    *dry = arg_get(c, "dry_run");
	struct vsm_err err;
	json_t        *params;
	char           job[STORE_ID_LEN + 1], key[VSM_LABEL_MAX + 1];
	char          *ptext = NULL;
	uint64_t       timeout = 3600 * 1000ULL;
	int64_t        retries;
	size_t         i, n;
	int            usage, ret = CTL_USAGE;

	if (module == NULL || *module == '\0' ||
	    strlen(module) >= STORE_SHORT_MAX)
		return (ctl_fail(c, CTL_USAGE,
		    "missing or bad argument "
		    "module"));
	if (target == NULL)
		target = "all";
	if (tos != NULL && vsm_duration_parse(tos, &timeout, &err) == -1)
		return (ctl_fail(c, CTL_USAGE, "timeout: %s", err.msg));
	if (timeout == 0)
		return (ctl_fail(c, CTL_USAGE, "timeout: must be positive"));
	if (arg_int(c, "retries", 0, 100, &retries) == -1)
		return (CTL_USAGE);
	if (dry != NULL && strcmp(dry, "true") != 0 &&
	    strcmp(dry, "false") != 0)
		return (ctl_fail(c, CTL_USAGE, "dry_run: true or false"));
	params = json_object();
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
	if ((ptext = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS)) ==
	    NULL) {
		ret = ctl_fail(c, CTL_FAIL, "out of memory");
		goto out;
	}
	if (dispatch_job_create(c->cd, &c->actor, module, ptext, target,
	        (int64_t)timeout, (int)retries,
	        dry != NULL && strcmp(dry, "true") == 0, job, &n, &usage,
	        &err) == -1) {
		ret = ctl_fail(c, usage ? CTL_USAGE : CTL_FAIL, "%s", err.msg);
		goto out;
	}
	c->out = json_object();
	json_object_set_new(c->out, "job", json_string(job));
	json_object_set_new(c->out, "tasks", json_integer((json_int_t)n));
	ret = CTL_OK;
out:
	free(ptext);
	json_decref(params);
	return (ret);
}

static json_t *
job_json(const struct store_job *j)
{
	json_t *o = json_object(), *st = json_object();
	int     i;

	json_object_set_new(o, "id", json_string(j->id));
	json_object_set_new(o, "module", json_string(j->module));
	json_object_set_new(o, "params", json_text(j->params));
	json_object_set_new(o, "target", json_string(j->target));
	json_object_set_new(o, "created_by", json_string(j->created_by));
	json_object_set_new(o, "created_at", json_integer(j->created_at));
	json_object_set_new(o, "timeout_ms", json_integer(j->timeout_ms));
	json_object_set_new(o, "max_retries", json_integer(j->max_retries));
	json_object_set_new(o, "dry_run", json_boolean(j->dry_run));
	json_object_set_new(o, "max_parallel", json_integer(j->max_parallel));
	json_object_set_new(o, "window_end",
	    j->window_end > 0 ? json_integer(j->window_end) : json_null());
	json_object_set_new(o, "schedule", json_string(j->schedule));
	json_object_set_new(o, "tasks", json_integer((json_int_t)j->ntasks));
	for (i = 0; i < STORE_TASK_NSTATES; i++)
		if (j->nstate[i] > 0)
			json_object_set_new(st,
			    store_task_state_str((enum store_task_state)i),
			    json_integer((json_int_t)j->nstate[i]));
	json_object_set_new(o, "states", st);
	return (o);
}

static int
cmd_jobs(struct ctl_call *c)
{
	struct store_job *jv = NULL;
	struct vsm_err    err;
	int64_t           limit;
	size_t            i, n = 0;

	if (arg_int(c, "limit", CTL_LIST_DEFAULT, STORE_LIST_MAX, &limit) == -1)
		return (CTL_USAGE);
	if (store_job_list(c->cd->st, (size_t)limit, &jv, &n, &err) == -1)
		return (ctl_fail(c, CTL_FAIL, "%s", err.msg));
	c->out = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(c->out, job_json(&jv[i]));
	store_jobs_free(jv, n);
	return (CTL_OK);
}

/* The job named by the "id" argument; CTL_OK with *j set, else a status. */
static int
job_lookup(struct ctl_call *c, struct store_job *j)
{
	const char    *id = arg_get(c, "id");
	struct vsm_err err;
	int            rc;

	if (id == NULL || strlen(id) != STORE_ID_LEN)
		return (ctl_fail(c, CTL_USAGE,
		    "id: expected a job id (%d hex "
		    "characters)",
		    STORE_ID_LEN));
	if ((rc = store_job_get(c->cd->st, id, j, &err)) == -1)
		return (ctl_fail(c, CTL_FAIL, "%s", err.msg));
	if (rc == STORE_NOTFOUND)
		return (ctl_fail(c, CTL_FAIL, "no job %s", id));
	return (CTL_OK);
}

/* Host names by id, for task listings; json object "id" -> name. */
static json_t *
host_names(struct ctld *cd)
{
	struct store_host *hv = NULL;
	struct vsm_err     err;
	json_t            *o = json_object();
	char               k[32];
	size_t             i, n = 0;

	if (store_host_list(cd->st, &hv, &n, &err) == -1)
		return (o);
	for (i = 0; i < n; i++) {
		snprintf(k, sizeof(k), "%lld", (long long)hv[i].id);
		json_object_set_new(o, k, json_string(hv[i].name));
	}
	store_hosts_free(hv, n);
	return (o);
}

static const char *
host_name(json_t *names, int64_t id)
{
	char        k[32];
	const char *s;

	snprintf(k, sizeof(k), "%lld", (long long)id);
	s = json_string_value(json_object_get(names, k));
	return (s ? s : "");
}

/*
 * The artifacts of a task: name (the path under DATA_DIR), size, BLAKE2b
 * and whether the controller holds it whole. An empty array on error.
 */
static json_t *
artifacts_json(struct ctld *cd, const char *task_id)
{
	struct store_artifact *av = NULL;
	struct vsm_err         err;
	json_t                *arr = json_array(), *o;
	char                   hex[2 * STORE_HASH_LEN + 1];
	size_t                 i, n = 0;

	if (store_artifact_list(cd->st, task_id, &av, &n, &err) == -1)
		return (arr);
	for (i = 0; i < n; i++) {
		o = json_object();
		json_object_set_new(o, "path", json_string(av[i].path));
		json_object_set_new(
		    o, "complete", json_boolean(av[i].complete));
		if (av[i].complete) {
			sodium_bin2hex(
			    hex, sizeof(hex), av[i].blake2b, STORE_HASH_LEN);
			json_object_set_new(
			    o, "size", json_integer(av[i].size));
			json_object_set_new(o, "blake2b", json_string(hex));
		}
		json_array_append_new(arr, o);
	}
	store_artifacts_free(av, n);
	return (arr);
}

static int
cmd_job_show(struct ctl_call *c)
{
	struct store_job    j;
	struct store_task  *tv = NULL;
	struct store_event *ev;
	struct vsm_err      err;
	json_t             *tasks, *names;
	size_t              i, k, nt = 0, ne;
	int                 rc;

	if ((rc = job_lookup(c, &j)) != CTL_OK)
		return (rc);
	if (store_task_list(c->cd->st, j.id, &tv, &nt, &err) == -1) {
		store_job_clear(&j);
		return (ctl_fail(c, CTL_FAIL, "%s", err.msg));
	}
	names = host_names(c->cd);
	c->out = json_object();
	json_object_set_new(c->out, "job", job_json(&j));
	tasks = json_array();
	for (i = 0; i < nt; i++) {
		json_t *t = json_object(), *res = json_null();

		json_object_set_new(t, "id", json_string(tv[i].id));
		json_object_set_new(t, "host_id", json_integer(tv[i].host_id));
		json_object_set_new(
		    t, "host", json_string(host_name(names, tv[i].host_id)));
		json_object_set_new(
		    t, "state", json_string(store_task_state_str(tv[i].state)));
		json_object_set_new(t, "attempt", json_integer(tv[i].attempt));
		json_object_set_new(t, "sent_at", json_integer(tv[i].sent_at));
		json_object_set_new(
		    t, "deadline_at", json_integer(tv[i].deadline_at));
		json_object_set_new(
		    t, "finished_at", json_integer(tv[i].finished_at));
		ev = NULL;
		ne = 0;
		if (store_event_list(c->cd->st, tv[i].id, 0, STORE_LIST_MAX,
		        &ev, &ne, &err) == 0) {
			for (k = 0; k < ne; k++)
				if (ev[k].kind == STORE_EV_STATUS &&
				    ev[k].text != NULL) {
					json_decref(res);
					res = json_text(ev[k].text);
				}
			store_events_free(ev, ne);
		}
		json_object_set_new(t, "result", res);
		json_object_set_new(
		    t, "artifacts", artifacts_json(c->cd, tv[i].id));
		json_array_append_new(tasks, t);
	}
	json_object_set_new(c->out, "tasks", tasks);
	json_decref(names);
	store_tasks_free(tv, nt);
	store_job_clear(&j);
	return (CTL_OK);
}

static const char *const ev_kinds[] = {"status", "result", "log", "progress"};

/*
 * job.logs: events of every task of a job after a cursor. The cursor is
 * a JSON object {task id: last seq seen}, passed back as returned.
 */
static int
cmd_job_logs(struct ctl_call *c)
{
	struct store_job    j;
	struct store_task  *tv = NULL;
	struct store_event *ev;
	struct vsm_err      err;
	const char         *cs = arg_get(c, "cursor");
	json_t             *cur = NULL, *events, *names;
	size_t              i, k, nt = 0, ne;
	int                 rc, done = 1;

	if ((rc = job_lookup(c, &j)) != CTL_OK)
		return (rc);
	if (cs != NULL && *cs != '\0' &&
	    ((cur = json_loads(cs, 0, NULL)) == NULL || !json_is_object(cur))) {
		json_decref(cur);
		store_job_clear(&j);
		return (ctl_fail(c, CTL_USAGE,
		    "cursor: not a cursor that "
		    "job.logs returned"));
	}
	if (cur == NULL)
		cur = json_object();
	if (store_task_list(c->cd->st, j.id, &tv, &nt, &err) == -1) {
		json_decref(cur);
		store_job_clear(&j);
		return (ctl_fail(c, CTL_FAIL, "%s", err.msg));
	}
	names = host_names(c->cd);
	events = json_array();
	for (i = 0; i < nt; i++) {
		int64_t after =
		    json_integer_value(json_object_get(cur, tv[i].id));

		if (!store_task_state_terminal(tv[i].state))
			done = 0;
		ev = NULL;
		ne = 0;
		if (store_event_list(c->cd->st, tv[i].id, after, STORE_LIST_MAX,
		        &ev, &ne, &err) == -1)
			continue;
		for (k = 0; k < ne; k++) {
			json_t *e = json_object();

			json_object_set_new(
			    e, "task", json_string(ev[k].task_id));
			json_object_set_new(e, "host",
			    json_string(host_name(names, tv[i].host_id)));
			json_object_set_new(e, "seq", json_integer(ev[k].seq));
			json_object_set_new(
			    e, "kind", json_string(ev_kinds[ev[k].kind & 3]));
			json_object_set_new(e, "at", json_integer(ev[k].at));
			if (ev[k].kind == STORE_EV_STATUS)
				json_object_set_new(e, "status",
				    json_string(
				        store_task_state_str(ev[k].status)));
			if (ev[k].kind == STORE_EV_PROGRESS)
				json_object_set_new(e, "progress",
				    json_integer(ev[k].progress));
			if (ev[k].text != NULL)
				json_object_set_new(
				    e, "text", json_string(ev[k].text));
			json_array_append_new(events, e);
			json_object_set_new(
			    cur, tv[i].id, json_integer(ev[k].seq));
		}
		if (ne == STORE_LIST_MAX)
			done = 0;
		store_events_free(ev, ne);
	}
	c->out = json_object();
	json_object_set_new(c->out, "events", events);
	cs = json_dumps(cur, JSON_COMPACT);
	json_object_set_new(c->out, "cursor", json_string(cs ? cs : "{}"));
	free((char *)cs);
	json_object_set_new(c->out, "done", json_boolean(done));
	json_decref(cur);
	json_decref(names);
	store_tasks_free(tv, nt);
	store_job_clear(&j);
	return (CTL_OK);
}

static int
cmd_job_cancel(struct ctl_call *c)
{
	struct store_job j;
	struct vsm_err   err;
	size_t           n = 0;
	int              rc;

	if ((rc = job_lookup(c, &j)) != CTL_OK)
		return (rc);
	rc = dispatch_job_cancel(c->cd, &c->actor, j.id, &n, &err);
	if (rc == 0) {
		c->out = json_object();
		json_object_set_new(c->out, "job", json_string(j.id));
		json_object_set_new(
		    c->out, "cancelled", json_integer((json_int_t)n));
	}
	store_job_clear(&j);
	if (rc == -1)
		return (ctl_fail(c, CTL_FAIL, "%s", err.msg));
	return (CTL_OK);
}

/* --- audit -------------------------------------------------------------- */

static int
cmd_audit(struct ctl_call *c)
{
	struct store_audit *av = NULL;
	struct vsm_err      err;
	int64_t             limit, before;
	size_t              i, n = 0;

	if (arg_int(c, "limit", CTL_LIST_DEFAULT, STORE_LIST_MAX, &limit) ==
	        -1 ||
	    arg_int(c, "before", 0, INT64_MAX, &before) == -1)
		return (CTL_USAGE);
	if (store_audit_list(c->cd->st, before, (size_t)limit, &av, &n, &err) ==
	    -1)
		return (ctl_fail(c, CTL_FAIL, "%s", err.msg));
	c->out = json_array();
	for (i = 0; i < n; i++) {
		json_t *o = json_object();

		json_object_set_new(o, "id", json_integer(av[i].id));
		json_object_set_new(o, "at", json_integer(av[i].at));
		json_object_set_new(o, "who", json_string(av[i].who));
		json_object_set_new(o, "role", json_string(av[i].role));
		json_object_set_new(o, "action", json_string(av[i].action));
		json_object_set_new(o, "target",
		    av[i].target ? json_string(av[i].target) : json_null());
		json_object_set_new(o, "detail", json_text(av[i].detail));
		json_array_append_new(c->out, o);
	}
	store_audit_free(av, n);
	return (CTL_OK);
}

/* --- the table ---------------------------------------------------------- */

static const struct ctl_cmd ctl_cmds[] = {
    {"hosts", CTLD_ROLE_VIEWER, cmd_hosts, ""},
    {"host.show", CTLD_ROLE_VIEWER, cmd_host_show, "name"},
    {"keys.list", CTLD_ROLE_VIEWER, cmd_keys_list, "[state]"},
    {"keys.accept", CTLD_ROLE_ADMIN, cmd_keys_accept, "id"},
    {"keys.reject", CTLD_ROLE_ADMIN, cmd_keys_reject, "id"},
    {"keys.revoke", CTLD_ROLE_ADMIN, cmd_keys_revoke, "id"},
    {"keys.token", CTLD_ROLE_ADMIN, cmd_keys_token, "[uses] [ttl]"},
    {"run", CTLD_ROLE_OPERATOR, cmd_run,
        "module [target] [param=k=v]... [timeout] [retries]"},
    {"jobs", CTLD_ROLE_VIEWER, cmd_jobs, "[limit]"},
    {"job.show", CTLD_ROLE_VIEWER, cmd_job_show, "id"},
    {"job.logs", CTLD_ROLE_VIEWER, cmd_job_logs, "id [cursor]"},
    {"job.cancel", CTLD_ROLE_OPERATOR, cmd_job_cancel, "id"},
    {"audit", CTLD_ROLE_VIEWER, cmd_audit, "[limit] [before]"},
    {"schedule.list", CTLD_ROLE_VIEWER, cmd_schedule_list, ""},
    {"schedule.show", CTLD_ROLE_VIEWER, cmd_schedule_show, "name [limit]"},
    {"schedule.add", CTLD_ROLE_OPERATOR, cmd_schedule_add,
        "name module cron [target] [param=k=v]... [tz] [window] "
        "[window_policy] [overlap] [max_parallel] [splay] [timeout] "
        "[run_timeout] [starting_deadline] [retries] [enabled]"},
    {"schedule.rm", CTLD_ROLE_OPERATOR, cmd_schedule_rm, "name"},
    {"schedule.enable", CTLD_ROLE_OPERATOR, cmd_schedule_enable, "name"},
    {"schedule.disable", CTLD_ROLE_OPERATOR, cmd_schedule_disable, "name"},
    {"schedule.fire", CTLD_ROLE_ADMIN, cmd_schedule_fire, "name"},
};

/* Run one CtlRequest; fills resp (strings owned by the caller after). */
static void
ctl_run(struct ctld *cd, const struct ctld_operator *op,
    const Vsm__CtlRequest *rq, Vsm__CtlResponse *resp, char **json, char *error,
    size_t errlen)
{
	struct ctl_call       c;
	const struct ctl_cmd *cmd = NULL;
	struct vsm_err        err;
	char                  detail[128];
	size_t                i;
	int                   status;

	memset(&c, 0, sizeof(c));
	c.cd = cd;
	c.op = op;
	c.actor.who = op->name;
	c.actor.role = role_name(op->role);
	c.rq = rq;
	for (i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++)
		if (strcmp(ctl_cmds[i].name, rq->command) == 0)
			cmd = &ctl_cmds[i];
	if (cmd == NULL) {
		status = ctl_fail(
		    &c, CTL_USAGE, "unknown command '%.64s'", rq->command);
	} else if (op->role < cmd->role) {
		status = ctl_fail(&c, CTL_FAIL,
		    "permission denied: %s needs "
		    "the %s role",
		    cmd->name, role_name(cmd->role));
		snprintf(detail, sizeof(detail), "{\"needs\":\"%s\"}",
		    role_name(cmd->role));
		if (store_audit_append(cd->st, &c.actor, "denied", cmd->name,
		        detail, ctld_now(), &err) == -1)
			log_warnx("audit: %s", err.msg);
	} else
		status = cmd->fn(&c);
	if (status == CTL_USAGE && cmd != NULL && c.error[0] != '\0') {
		size_t l = strlen(c.error);

		snprintf(c.error + l, sizeof(c.error) - l, " (usage: %s %s)",
		    cmd->name, cmd->args);
	}
	resp->status = (uint32_t)status;
	if (status != CTL_OK) {
		snprintf(error, errlen, "%s", c.error[0] ? c.error : "failed");
		resp->error = error;
		log_info("control: %s by %s: %s", rq->command, op->name, error);
	}
	*json =
	    c.out ? json_dumps(c.out, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	resp->json = *json ? *json : (char *)"";
	json_decref(c.out);
}

static void
control_request(
    void *arg, struct vsm_srv_req *req, const uint8_t *data, size_t len)
{
	struct ctld                *cd = arg;
	const struct ctld_operator *op = vsm_srv_req_peer(req)->udata;
	Vsm__Envelope              *env, out = VSM__ENVELOPE__INIT;
	Vsm__CtlResponse            resp = VSM__CTL_RESPONSE__INIT;
	char                        error[CTL_LINE_MAX], *json = NULL;

	if (op == NULL ||
	    (env = vsm__envelope__unpack(NULL, len, data)) == NULL) {
		agents_reply_error(req, 400, "malformed envelope");
		return;
	}
	if (env->body_case != VSM__ENVELOPE__BODY_CTL_REQUEST) {
		vsm__envelope__free_unpacked(env, NULL);
		agents_reply_error(req, 404,
		    "the control endpoint serves "
		    "CtlRequest only");
		return;
	}
	ctl_run(cd, op, env->ctl_request, &resp, &json, error, sizeof(error));
	out.body_case = VSM__ENVELOPE__BODY_CTL_RESPONSE;
	out.ctl_response = &resp;
	agents_reply(req, &out);
	free(json);
	vsm__envelope__free_unpacked(env, NULL);
}

/* Open a session only for a listed operator key. */
static int
control_authorize(
    void *arg, struct vsm_peer *peer, const Vsm__Hello *hello, Vsm__Welcome *w)
{
	struct ctld *cd = arg;
	size_t       i;

	for (i = 0; i < cd->nops; i++)
		if (sodium_memcmp(cd->ops[i].key, peer->key, VSM_KEY_LEN) ==
		    0) {
			peer->udata = &cd->ops[i];
			w->status = VSM__WELCOME__STATUS__ACCEPTED;
			return (0);
		}
	w->status = VSM__WELCOME__STATUS__REJECTED;
	w->reason = "not an operator key";
	return (0);
}

const struct vsm_server_ops control_ops = {
    .authorize = control_authorize,
    .request = control_request,
};

int
control_load_operators(struct ctld *cd, struct vsm_err *err)
{
	char                  path[VSM_CFG_PATH_MAX + 32], line[512];
	char                  role[32], key[64], name[VSM_NAME_MAX + 1];
	struct ctld_operator *v = NULL;
	struct vsm_err        e;
	struct stat           sb;
	FILE                 *fp;
	size_t                n = 0, lineno = 0;
	int                   ret = -1;

	snprintf(path, sizeof(path), "%s/%s", cd->cfg->data_dir,
	    CTLD_OPERATORS_FILE);
	if ((fp = fopen(path, "r")) == NULL) {
		if (errno == ENOENT) {
			log_warnx("%s: no operators: the control endpoint "
			          "accepts no one",
			    path);
			return (0);
		}
		return (vsm_err_set(err, "%s: %s", path, strerror(errno)));
	}
	if (fstat(fileno(fp), &sb) == -1 || (sb.st_mode & 022) != 0) {
		vsm_err_set(err, "%s: writable by group or others", path);
		goto out;
	}
	if ((v = calloc(CTLD_OPERATORS_MAX, sizeof(*v))) == NULL) {
		vsm_err_set(err, "out of memory");
		goto out;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		if (line[0] == '#' || line[strspn(line, " \t\r\n")] == '\0')
			continue;
		if (n == CTLD_OPERATORS_MAX) {
			vsm_err_set(err, "%s: more than %d operators", path,
			    CTLD_OPERATORS_MAX);
			goto out;
		}
		if (sscanf(line, "%31s %63s %63s", role, key, name) != 3 ||
		    role_parse(role, &v[n].role) == -1 ||
		    vsm_key_decode(key, v[n].key, &e) == -1 ||
		    !vsm_name_valid(name)) {
			vsm_err_set(err, "%s:%zu: expected ROLE KEY NAME", path,
			    lineno);
			goto out;
		}
		snprintf(v[n].name, sizeof(v[n].name), "%s", name);
		n++;
	}
	cd->ops = v;
	cd->nops = n;
	v = NULL;
	ret = 0;
out:
	free(v);
	fclose(fp);
	return (ret);
}

int
control_secure_socket(const char *url, struct vsm_err *err)
{
	if (strncmp(url, "ipc://", 6) != 0)
		return (0);
	if (chmod(url + 6, 0600) == -1)
		return (vsm_err_set(err, "%s: %s", url + 6, strerror(errno)));
	return (0);
}
