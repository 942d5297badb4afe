/*
 * poller.c: the long poll and the task lifecycle (docs/agent.md).
 *
 * One Poll is outstanding at a time, asking for runner_slots() tasks. The
 * controller holds it until it has work or a heartbeat interval passes.
 * Each task id is checked against the task record first: a task seen
 * before is never run again (its first result is re-reported), a new one
 * is recorded durably and then started. The runner's events go to the
 * spool before anything is sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "artifact.h"
#include "log.h"

static int
is_facts(const char *id)
{
	return (strncmp(id, AGENT_FACTS_PREFIX,
	            sizeof(AGENT_FACTS_PREFIX) - 1) == 0);
}

static void
running_add(struct agent *a, const char *id)
{
	pthread_mutex_lock(&a->mtx);
	if (a->nrunning < RUNNER_TASK_MAX)
		snprintf(
		    a->running[a->nrunning++], sizeof(a->running[0]), "%s", id);
	pthread_mutex_unlock(&a->mtx);
}

static void
running_del(struct agent *a, const char *id)
{
	unsigned i;

	pthread_mutex_lock(&a->mtx);
	for (i = 0; i < a->nrunning; i++)
		if (strcmp(a->running[i], id) == 0) {
			a->running[i][0] = '\0';
			if (i != a->nrunning - 1)
				memcpy(a->running[i],
				    a->running[a->nrunning - 1],
				    sizeof(a->running[i]));
			a->nrunning--;
			break;
		}
	pthread_mutex_unlock(&a->mtx);
}

static int
running_has(struct agent *a, const char *id)
{
	unsigned i;
	int      found = 0;

	pthread_mutex_lock(&a->mtx);
	for (i = 0; i < a->nrunning && !found; i++)
		found = strcmp(a->running[i], id) == 0;
	pthread_mutex_unlock(&a->mtx);
	return (found);
}

/*
 * Keep the final result of a controller task in the task record. A result
 * too large to keep whole is kept without its structured part.
 */
static void
record_result(struct agent *a, const char *id, const Vsm__TaskResult *res)
{
	Vsm__TaskResult small;
	struct vsm_err  err;
	uint8_t        *buf = NULL;
	size_t          len;

	len = vsm__task_result__get_packed_size(res);
	if (len > TASKDB_RESULT_MAX) {
		small = *res;
		small.result_json = "";
		small.error = "result too large to keep for re-reporting";
		res = &small;
		len = vsm__task_result__get_packed_size(res);
	}
	if (len > TASKDB_RESULT_MAX || (buf = malloc(len + 1)) == NULL) {
		log_warnx("task %s: cannot keep its result", id);
		return;
	}
	vsm__task_result__pack(res, buf);
	if (taskdb_finish(a->tdb, id, buf, len, agent_now_ms(), &err) == -1)
		log_warnx("task %s: %s", id, err.msg);
	free(buf);
}

void
poller_task_event(void *arg, const Vsm__TaskEvent *ev)
{
	struct agent *a = arg;
	const char   *id = ev->task_id;

	if (ev->kind_case == VSM__TASK_EVENT__KIND_RESULT) {
		log_info("task %s: %s%s%s", id,
		    protobuf_c_enum_descriptor_get_value(
		        &vsm__task_status__descriptor, ev->result->status)
		        ? protobuf_c_enum_descriptor_get_value(
		              &vsm__task_status__descriptor, ev->result->status)
		              ->name
		        : "?",
		    ev->result->error && *ev->result->error ? ": " : "",
		    ev->result->error ? ev->result->error : "");
		/*
		 * The record first, then the spool: a crash in between
		 * loses the spooled copy only, and the controller re-offers
		 * the task until acked, which re-reports the kept result.
		 */
		if (!is_facts(id))
			record_result(a, id, ev->result);
		agent_spool_event(a, ev);
		running_del(a, id);
		return;
	}
	if (ev->kind_case == VSM__TASK_EVENT__KIND_ARTIFACT) {
		struct vsm_err err;

		/* The manifest first: once spooled, the upload is owed. */
		if (uploader_announce(a, id, ev->artifact, &err) == -1) {
			Vsm__TaskEvent le = *ev;
			Vsm__LogLine   ll = VSM__LOG_LINE__INIT;
			char line[sizeof(err.msg) + VSM_ARTIFACT_NAME_MAX + 64];

			snprintf(line, sizeof(line),
			    "artifact %s cannot be queued for upload: %s",
			    ev->artifact->name, err.msg);
			log_warnx("task %s: %s", id, line);
			ll.stream = VSM__LOG_LINE__STREAM__MODULE;
			ll.line = line;
			le.kind_case = VSM__TASK_EVENT__KIND_LOG;
			le.log = &ll;
			agent_spool_event(a, &le);
			return;
		}
	}
	agent_spool_event(a, ev);
}

void
poller_task_fail(
    struct agent *a, const char *id, Vsm__TaskStatus status, const char *error)
{
	Vsm__TaskEvent  ev = VSM__TASK_EVENT__INIT;
	Vsm__TaskResult res = VSM__TASK_RESULT__INIT;

	res.status = status;
	res.summary = (char *)error;
	res.error = (char *)error;
	ev.task_id = (char *)id;
	ev.time_ms = agent_now_ms();
	ev.kind_case = VSM__TASK_EVENT__KIND_RESULT;
	ev.result = &res;
	poller_task_event(a, &ev);
}

/* Spool again the result the task record holds for id. */
static void
rereport(struct agent *a, const char *id)
{
	Vsm__TaskEvent   ev = VSM__TASK_EVENT__INIT;
	Vsm__TaskResult *res = NULL, lost = VSM__TASK_RESULT__INIT;
	uint8_t         *buf = NULL;
	size_t           len = 0;

	if (taskdb_get(a->tdb, id, &buf, &len) != TASKDB_DONE)
		return;
	ev.task_id = (char *)id;
	ev.time_ms = agent_now_ms();
	ev.kind_case = VSM__TASK_EVENT__KIND_RESULT;
	/*
	 * A result that cannot be read back still ends the task, as an
	 * error: said nothing, the controller would offer it again forever.
	 */
	if (buf == NULL ||
	    (res = vsm__task_result__unpack(NULL, len, buf)) == NULL) {
		log_warnx("task %s: its kept result is unreadable; reporting "
		          "an error",
		    id);
		lost.status = VSM__TASK_STATUS__TASK_ERROR;
		lost.summary = lost.error =
		    "the agent's kept result of this task is unreadable";
		ev.result = &lost;
	} else {
		log_info("task %s: seen before, not run again; re-reporting "
		         "its first result",
		    id);
		ev.result = res;
	}
	agent_spool_event(a, &ev);
	if (res != NULL)
		vsm__task_result__free_unpacked(res, NULL);
	free(buf);
}

static const struct runner_cmd *
find_cmd(struct agent *a, const char *module)
{
	size_t i;

	if (strncmp(module, "exec.", 5) != 0)
		return (NULL);
	for (i = 0; i < a->ncmds; i++)
		if (strcmp(a->cmds[i].name, module + 5) == 0)
			return (&a->cmds[i]);
	return (NULL);
}

/* One task from a PollReply: run it unless its id was seen before. */
static void
handle_task(struct agent *a, const Vsm__Task *t)
{
	struct vsm_err err;

	if (!taskdb_id_ok(t->id) || is_facts(t->id)) {
		log_warnx("task with an unusable id from the controller "
		          "ignored");
		return;
	}
	switch (taskdb_get(a->tdb, t->id, NULL, NULL)) {
	case TASKDB_DONE:
		rereport(a, t->id);
		return;
	case TASKDB_RUNNING:
		if (running_has(a, t->id))
			log_info("task %s: already running", t->id);
		else
			poller_task_fail(a, t->id, VSM__TASK_STATUS__TASK_ERROR,
			    "the agent stopped while the task ran");
		return;
	case TASKDB_NONE:
		break;
	}
	if (taskdb_start(a->tdb, t->id, agent_now_ms(), &err) == -1) {
		log_warnx("task %s: not started: %s", t->id, err.msg);
		return;
	}
	running_add(a, t->id);
	log_info("task %s: starting %s", t->id, t->module);
	if (runner_start(a->runner, t, find_cmd(a, t->module),
	        poller_task_event, a, &err) == -1) {
		log_warnx("task %s: %s", t->id, err.msg);
		poller_task_fail(
		    a, t->id, VSM__TASK_STATUS__TASK_ERROR, err.msg);
	}
}

void
poller_run_facts(struct agent *a, unsigned n)
{
	Vsm__Task      t = VSM__TASK__INIT;
	struct vsm_err err;
	char           id[64];

	snprintf(id, sizeof(id), AGENT_FACTS_PREFIX "%s-%u", a->boot_id, n);
	t.id = id;
	t.module = "sys.facts";
	t.timeout_s = 60;
	if (runner_start(a->runner, &t, NULL, poller_task_event, a, &err) == -1)
		log_warnx("facts: not gathered: %s", err.msg);
	else
		log_info("facts: gathering as task %s", id);
}

/* One Poll round trip. Returns 0, or -1 when the call failed. */
static int
poll_once(struct agent *a, uint64_t gen)
{
	Vsm__Envelope  req = VSM__ENVELOPE__INIT, *rep = NULL;
	Vsm__Poll      poll = VSM__POLL__INIT;
	struct vsm_err err;
	char          *ids[RUNNER_TASK_MAX];
	char           names[RUNNER_TASK_MAX][TASKDB_ID_MAX + 1];
	unsigned       slots, i, n = 0;
	size_t         k;
	int            ret = -1;

	slots = runner_slots(a->runner);
	pthread_mutex_lock(&a->mtx);
	for (i = 0; i < a->nrunning; i++) {
		memcpy(names[n], a->running[i], sizeof(names[n]));
		ids[n] = names[n];
		n++;
	}
	pthread_mutex_unlock(&a->mtx);
	poll.slots = slots;
	poll.n_running = n;
	poll.running = ids;
	req.body_case = VSM__ENVELOPE__BODY_POLL;
	req.poll = &poll;
	if (agent_call(a, &req, &rep, (int)(a->cfg->heartbeat_ms + 15000),
	        &err) == -1) {
		if (!agent_stopping(a))
			log_warnx("poll: %s", err.msg);
		agent_link_failed(a, gen);
		goto out;
	}
	ret = 0;
	switch (rep->body_case) {
	case VSM__ENVELOPE__BODY_POLL_REPLY:
		break;
	case VSM__ENVELOPE__BODY_ERROR:
		log_warnx("poll refused: %s", rep->error->message);
		agent_sleep(a, 1000);
		goto out;
	default:
		log_warnx("poll: unexpected reply (body %d) dropped",
		    (int)rep->body_case);
		agent_sleep(a, 1000);
		goto out;
	}
	for (k = 0; k < rep->poll_reply->n_cancel; k++) {
		if (runner_cancel(a->runner, rep->poll_reply->cancel[k]) == 0)
			log_info("task %s: cancelled by the controller",
			    rep->poll_reply->cancel[k]);
	}
	for (k = 0; k < rep->poll_reply->n_tasks; k++) {
		if (k >= slots) {
			/* Work is pulled: never more than we asked for. */
			log_warnx("poll: the controller sent %zu tasks for %u "
			          "slots; task %s ignored",
			    rep->poll_reply->n_tasks, slots,
			    rep->poll_reply->tasks[k]->id);
			continue;
		}
		handle_task(a, rep->poll_reply->tasks[k]);
	}
out:
	if (rep != NULL)
		vsm__envelope__free_unpacked(rep, NULL);
	return (ret);
}

void *
poller_main(void *arg)
{
	struct agent *a = arg;
	uint64_t      gen;

	while ((gen = agent_wait_link(a)) != 0) {
		if (poll_once(a, gen) == -1)
			agent_sleep(a, 200);
	}
	return (NULL);
}
