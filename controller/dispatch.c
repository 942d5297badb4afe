/*
 * dispatch.c: work for agents. A job fans out to one task per matching
 * host in one store transaction; each target's held poll is woken. A
 * Poll is answered at once when the host has queued tasks (claimed with
 * store_task_next within the per-agent limit) or cancels waiting, and is
 * otherwise held until a wake-up or a heartbeat interval passes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctld.h"
#include "log.h"
#include "selector.h"

#define DISPATCH_ERR_STORE 503
#define DISPATCH_BATCH     512 /* held polls claimed in one transaction */

void
dispatch_wire_id(const struct store_task *t, char *buf, size_t len)
{
	if (t->attempt > 1)
		snprintf(buf, len, "%s.%d", t->id, t->attempt);
	else
		snprintf(buf, len, "%s", t->id);
}

int
dispatch_store_id(const char *wire, char buf[STORE_ID_LEN + 1])
{
	size_t n = strcspn(wire, ".");

	if (n != STORE_ID_LEN)
		return (-1);
	memcpy(buf, wire, n);
	buf[n] = '\0';
	return (0);
}

/* The task's JSON params as Param messages; 0 or -1. Frees with task. */
static int
dispatch_params(const struct store_task *t, Vsm__Task *pt)
{
	json_t     *o, *v;
	const char *k;
	size_t      i = 0;
	int         ret = -1;

	if (t->params == NULL || (o = json_loads(t->params, 0, NULL)) == NULL)
		return (t->params == NULL ? 0 : -1);
	if (!json_is_object(o))
		goto out;
	if ((pt->params = calloc(
	         json_object_size(o) + 1, sizeof(*pt->params))) == NULL)
		goto out;
	json_object_foreach(o, k, v)
	{
		Vsm__Param *p;

		if ((p = calloc(1, sizeof(*p))) == NULL)
			goto out;
		vsm__param__init(p);
		pt->params[i++] = p;
		pt->n_params = i;
		p->key = strdup(k);
		p->value = json_is_string(v)
		    ? strdup(json_string_value(v))
		    : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		if (p->key == NULL || p->value == NULL)
			goto out;
	}
	ret = 0;
out:
	json_decref(o);
	return (ret);
}

static void
dispatch_task_free(Vsm__Task *pt)
{
	size_t i;

	if (pt == NULL)
		return;
	for (i = 0; i < pt->n_params; i++) {
		free(pt->params[i]->key);
		free(pt->params[i]->value);
		free(pt->params[i]);
	}
	free(pt->params);
	free(pt->id);
	free(pt);
}

/*
 * Answer req with the tasks tv[0..nt) and the cancels (whose strings this
 * frees); req is gone afterwards. Borrows tv.
 */
static void
dispatch_reply(struct vsm_srv_req *req, int64_t host_id,
    const struct store_task *tv, size_t nt, char **cancel, size_t nc)
{
	Vsm__Envelope  env = VSM__ENVELOPE__INIT;
	Vsm__PollReply pr = VSM__POLL_REPLY__INIT;
	char           wire[STORE_ID_LEN + 16];
	size_t         i;

	if (nt > 0 && (pr.tasks = calloc(nt, sizeof(*pr.tasks))) == NULL)
		nt = 0; /* not acked: the sweep offers them again */
	for (i = 0; i < nt; i++) {
		Vsm__Task *pt;

		if ((pt = calloc(1, sizeof(*pt))) == NULL)
			break;
		vsm__task__init(pt);
		pr.tasks[pr.n_tasks++] = pt;
		dispatch_wire_id(&tv[i], wire, sizeof(wire));
		pt->id = strdup(wire);
		pt->job_id = (char *)tv[i].job_id;
		pt->module = (char *)tv[i].module;
		pt->deadline_ms = (uint64_t)tv[i].deadline_at;
		pt->timeout_s = (uint32_t)((tv[i].timeout_ms + 999) / 1000);
		pt->dry_run = tv[i].dry_run != 0;
		pt->window_end_ms = (uint64_t)tv[i].window_end;
		if (pt->id == NULL || dispatch_params(&tv[i], pt) == -1)
			log_warnx("task %s: params not sent", tv[i].id);
		log_debug("host %lld: task %s (%s) sent", (long long)host_id,
		    wire, tv[i].module);
	}
	pr.cancel = cancel;
	pr.n_cancel = nc;
	env.body_case = VSM__ENVELOPE__BODY_POLL_REPLY;
	env.poll_reply = &pr;
	agents_reply(req, &env);
	for (i = 0; i < pr.n_tasks; i++)
		dispatch_task_free(pr.tasks[i]);
	free(pr.tasks);
	for (i = 0; i < nc; i++)
		free(cancel[i]);
	free(cancel);
}

/*
 * Answer req now if there is work (or force): 1 when answered (req is
 * gone), 0 when there is nothing to send (req untouched).
 */
static int
dispatch_try(struct ctld *cd, int64_t host_id, struct vsm_srv_req *req,
    unsigned slots, int force)
{
	struct store_task *tv = NULL;
	struct vsm_err     err;
	char             **cancel = NULL;
	size_t             nt = 0, nc;

	nc = registry_cancel_take(cd->reg, host_id, &cancel);
	if (slots > CTLD_POLL_MAX)
		slots = CTLD_POLL_MAX;
	if (slots > 0 &&
	    store_task_next(cd->st, host_id, cd->cfg->agent_concurrency, slots,
	        ctld_now(), &tv, &nt, &err) == -1) {
		log_warnx(
		    "host %lld: task_next: %s", (long long)host_id, err.msg);
		nt = 0;
		if (!force && nc == 0) {
			agents_reply_error(req, DISPATCH_ERR_STORE, err.msg);
			return (1);
		}
	}
	if (nt == 0 && nc == 0 && !force)
		return (0);
	dispatch_reply(req, host_id, tv, nt, cancel, nc);
	store_tasks_free(tv, nt);
	return (1);
}

void
dispatch_answer(struct ctld *cd, int64_t host_id, struct vsm_srv_req *req,
    unsigned slots, int force)
{
	struct vsm_srv_req *prev;
	uint64_t            gen;

	for (;;) {
		gen = registry_gen(cd->reg, host_id);
		if (dispatch_try(cd, host_id, req, slots, force) == 1)
			return;
		if (registry_hold(cd->reg, host_id, req, slots, gen, &prev) ==
		    0)
			break;
		/* Woken meanwhile: look again. */
	}
	if (prev != NULL)
		dispatch_try(cd, host_id, prev, 0, 1);
}

void
dispatch_poll(struct ctld *cd, int64_t host_id, struct vsm_srv_req *req,
    const Vsm__Poll *poll)
{
	struct vsm_err err;
	char           id[STORE_ID_LEN + 1];
	size_t         i;

	/* Tasks the agent says it runs are acked: sent -> running. */
	for (i = 0; i < poll->n_running; i++) {
		if (dispatch_store_id(poll->running[i], id) == -1)
			continue;
		if (store_task_ack(cd->st, host_id, id, ctld_now(), &err) == -1)
			log_debug("host %lld: ack %s: %s", (long long)host_id,
			    id, err.msg);
	}
	dispatch_answer(cd, host_id, req, poll->slots, 0);
}

void
dispatch_wake(struct ctld *cd, int64_t host_id)
{
	struct vsm_srv_req *req;
	unsigned            slots = 0;

	if ((req = registry_take(cd->reg, host_id, &slots)) != NULL)
		dispatch_answer(cd, host_id, req, slots, 0);
}

/*
 * Wake the held polls of hosts ids[0..n) (a new job): their claims go to
 * the store DISPATCH_BATCH at a time, one transaction each, instead of
 * one commit per host. A host whose claim fails, or that has nothing
 * after all, takes the one-host path (which holds the poll again).
 */
void
dispatch_wake_many(struct ctld *cd, const int64_t *ids, size_t n)
{
	struct store_claim  cv[DISPATCH_BATCH];
	struct vsm_srv_req *req[DISPATCH_BATCH];
	unsigned            slots[DISPATCH_BATCH];
	struct vsm_err      err;
	char              **cancel;
	size_t              i, k, nc, off;

	for (off = 0; off < n; off += DISPATCH_BATCH) {
		k = 0;
		for (i = off; i < n && i < off + DISPATCH_BATCH; i++) {
			if ((req[k] = registry_take(
			         cd->reg, ids[i], &slots[k])) == NULL)
				continue;
			memset(&cv[k], 0, sizeof(cv[k]));
			cv[k].host_id = ids[i];
			cv[k].max =
			    slots[k] > CTLD_POLL_MAX ? CTLD_POLL_MAX : slots[k];
			k++;
		}
		if (store_task_next_many(cd->st, cv, k,
		        cd->cfg->agent_concurrency, ctld_now(), &err) == -1)
			log_warnx("dispatch: %s", err.msg);
		for (i = 0; i < k; i++) {
			if (cv[i].failed || cv[i].ntasks == 0) {
				dispatch_answer(
				    cd, cv[i].host_id, req[i], slots[i], 0);
				continue;
			}
			nc = registry_cancel_take(
			    cd->reg, cv[i].host_id, &cancel);
			dispatch_reply(req[i], cv[i].host_id, cv[i].tasks,
			    cv[i].ntasks, cancel, nc);
			store_tasks_free(cv[i].tasks, cv[i].ntasks);
		}
	}
}

/* A host's labels (JSON object text) as vsm_label pointers into *o. */
static size_t
dispatch_labels(const char *text, json_t **o, struct vsm_label *lv, size_t cap)
{
	const char *k;
	json_t     *v;
	size_t      n = 0;

	if (text == NULL || (*o = json_loads(text, 0, NULL)) == NULL)
		return (0);
	json_object_foreach(*o, k, v)
	{
		if (n == cap || !json_is_string(v))
			continue;
		lv[n].key = k;
		lv[n++].value = json_string_value(v);
	}
	return (n);
}

int
dispatch_targets(struct ctld *cd, const char *target, int64_t **idsp,
    size_t *np, int *usage, struct vsm_err *err)
{
	struct vsm_selector *sel = NULL;
	struct store_host   *hv = NULL;
	struct vsm_label     lv[VSM_CFG_LABELS_MAX];
	struct vsm_err       e;
	int64_t             *ids = NULL;
	size_t               i, nh = 0, n = 0;
	int                  ret = -1;

	*usage = 0;
	*idsp = NULL;
	*np = 0;
	if (vsm_selector_parse(target, &sel, &e) == -1) {
		*usage = 1;
		vsm_err_set(err, "target '%s': %s", target, e.msg);
		ret = 1;
		goto out;
	}
	/* Only hosts whose key is accepted: revoked ones get nothing. */
	if (store_host_targets(cd->st, &hv, &nh, err) == -1)
		goto out;
	if (nh > 0 && (ids = calloc(nh, sizeof(*ids))) == NULL) {
		vsm_err_set(err, "out of memory");
		goto out;
	}
	for (i = 0; i < nh; i++) {
		json_t *o = NULL;
		size_t  nl;

		nl = dispatch_labels(hv[i].labels, &o, lv, VSM_CFG_LABELS_MAX);
		if (vsm_selector_match(sel, hv[i].name, lv, nl))
			ids[n++] = hv[i].id;
		json_decref(o);
	}
	if (n == 0) {
		vsm_err_set(err, "no host matches '%s'", target);
		ret = 1;
		goto out;
	}
	*idsp = ids;
	*np = n;
	ids = NULL;
	ret = 0;
out:
	vsm_selector_free(sel);
	store_hosts_free(hv, nh);
	free(ids);
	return (ret);
}

int
dispatch_job_create(struct ctld *cd, const struct store_actor *who,
    const char *module, const char *params, const char *target,
    int64_t timeout_ms, int retries, int dry_run, char job_id[STORE_ID_LEN + 1],
    size_t *nhosts, int *usage, struct vsm_err *err)
{
	struct store_job_spec spec;
	int64_t              *ids = NULL, t0 = ctld_mono(), t1, t2;
	size_t                n = 0;
	int                   ret = -1;

	*nhosts = 0;
	if (dispatch_targets(cd, target, &ids, &n, usage, err) != 0)
		goto out;
	memset(&spec, 0, sizeof(spec));
	spec.module = module;
	spec.params = params;
	spec.target = target;
	spec.timeout_ms = timeout_ms;
	spec.max_retries = retries;
	spec.dry_run = dry_run;
	spec.hosts = ids;
	spec.nhosts = n;
	t1 = ctld_mono();
	if (store_job_create(cd->st, who, &spec, ctld_now(), job_id, err) == -1)
		goto out;
	t2 = ctld_mono();
	dispatch_wake_many(cd, ids, n);
	log_info("job %s: %s on %zu hosts (%s) by %s: targets %lld ms, "
	         "stored %lld ms, handed out %lld ms",
	    job_id, module, n, target, who->who, (long long)(t1 - t0),
	    (long long)(t2 - t1), (long long)(ctld_mono() - t2));
	*nhosts = n;
	ret = 0;
out:
	free(ids);
	return (ret);
}

int
dispatch_job_cancel(struct ctld *cd, const struct store_actor *who,
    const char *job_id, size_t *n, struct vsm_err *err)
{
	struct store_task *tv = NULL;
	char               wire[STORE_ID_LEN + 16];
	size_t             i, nt = 0;
	int                ret = -1;

	if (store_task_list(cd->st, job_id, &tv, &nt, err) == -1)
		goto out;
	if (store_job_cancel(cd->st, who, job_id, ctld_now(), n, err) == -1)
		goto out;
	for (i = 0; i < nt; i++) {
		if (tv[i].state != STORE_TASK_SENT &&
		    tv[i].state != STORE_TASK_RUNNING)
			continue;
		dispatch_wire_id(&tv[i], wire, sizeof(wire));
		if (registry_cancel_add(cd->reg, tv[i].host_id, wire) == -1)
			log_warnx("task %s: cancel not queued", wire);
		dispatch_wake(cd, tv[i].host_id);
	}
	ret = 0;
out:
	store_tasks_free(tv, nt);
	return (ret);
}
