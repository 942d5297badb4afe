/*
 * ingest.c: task events from agents. Every event of an Events request is
 * checked (the task must be this host's), queued on the store writer,
 * and the request is answered with EventsAck only once the commits that
 * hold them have returned: upto_seq covers the leading run of events
 * that are durable (stored now or before). A store failure is not acked;
 * the agent sends again from its spool. An event the controller will
 * never take (malformed, another host's task) is acked and dropped with a
 * warning, so that it cannot block the agent's spool; the agent's own
 * sys.facts runs (VSM_FACTS_TASK_PREFIX) become the host's facts.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "artifact.h"
#include "ctld.h"
#include "log.h"

#define INGEST_MAX        1024 /* events in one request */
#define INGEST_ERR_BADREQ 400
#define INGEST_ERR_FORBID 403
#define INGEST_ERR_STORE  503

struct ingest_batch {
	struct ctld        *cd;
	struct vsm_srv_req *req;
	pthread_mutex_t     mtx;
	size_t              n, left;
	uint64_t           *seq;
	int                *rc;
	char                why[600];
};

struct ingest_op {
	struct ingest_batch *b;
	size_t               i;
	int                  retry; /* a failed status: retry if allowed */
	int64_t              host_id;
	char                 task_id[STORE_ID_LEN + 1];
};

static void
ingest_batch_free(struct ingest_batch *b)
{
	pthread_mutex_destroy(&b->mtx);
	free(b->seq);
	free(b->rc);
	free(b);
}

/* Answer once every op of the batch is settled; frees the batch. */
static void
ingest_finish(struct ingest_batch *b)
{
	Vsm__Envelope  env = VSM__ENVELOPE__INIT;
	Vsm__EventsAck ack = VSM__EVENTS_ACK__INIT;
	size_t         i;

	for (i = 0; i < b->n && b->rc[i] >= 0; i++)
		ack.upto_seq = b->seq[i];
	if (i == 0 && b->n > 0) {
		agents_reply_error(b->req, INGEST_ERR_STORE, b->why);
	} else {
		env.body_case = VSM__ENVELOPE__BODY_EVENTS_ACK;
		env.events_ack = &ack;
		agents_reply(b->req, &env);
	}
	ingest_batch_free(b);
}

/* Writer thread, after the commit holding the event. */
static void
ingest_done(void *arg, int rc, const char *msg)
{
	struct ingest_op    *op = arg;
	struct ingest_batch *b = op->b;
	int                  last;

	if (rc == 0 && op->retry)
		registry_retry_add(b->cd->reg, op->host_id, op->task_id);
	pthread_mutex_lock(&b->mtx);
	b->rc[op->i] = rc;
	if (rc < 0 && b->why[0] == '\0')
		snprintf(
		    b->why, sizeof(b->why), "%s", msg ? msg : "not stored");
	last = --b->left == 0;
	pthread_mutex_unlock(&b->mtx);
	free(op);
	if (last)
		ingest_finish(b);
}

static enum store_task_state
ingest_status(Vsm__TaskStatus s)
{
	switch (s) {
	case VSM__TASK_STATUS__TASK_OK:
		return (STORE_TASK_OK);
	case VSM__TASK_STATUS__TASK_WARN:
		return (STORE_TASK_WARN);
	case VSM__TASK_STATUS__TASK_FAIL:
		return (STORE_TASK_FAIL);
	case VSM__TASK_STATUS__TASK_CANCELLED:
		return (STORE_TASK_CANCELLED);
	case VSM__TASK_STATUS__TASK_TIMEOUT:
		return (STORE_TASK_TIMEOUT);
	default:
		return (STORE_TASK_ERROR);
	}
}

/* The result document of a TaskResult; malloc'd JSON or NULL. */
static char *
ingest_result(const Vsm__TaskResult *r)
{
	json_t *o, *res = NULL;
	char   *s;

	if ((o = json_object()) == NULL)
		return (NULL);
	if (r->result_json[0] != '\0' &&
	    (res = json_loads(r->result_json, 0, NULL)) == NULL)
		res = json_string(r->result_json);
	json_object_set_new(o, "summary", json_string(r->summary));
	json_object_set_new(o, "result", res ? res : json_object());
	json_object_set_new(o, "exit_code", json_integer(r->exit_code));
	json_object_set_new(o, "error", json_string(r->error));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (s != NULL && strlen(s) > STORE_TEXT_MAX) {
		free(s);
		s = NULL;
	}
	return (s);
}

/* An artifact announcement, kept as a log line of its task. */
static char *
ingest_artifact_line(const Vsm__ArtifactReady *r)
{
	char hex[VSM_ARTIFACT_HEX_LEN];
	char line[VSM_ARTIFACT_NAME_MAX + VSM_ARTIFACT_HEX_LEN + 64];

	if (!vsm_artifact_name_valid(r->name) ||
	    r->blake2b.len != VSM_ARTIFACT_HASH_LEN)
		return (NULL);
	sodium_bin2hex(hex, sizeof(hex), r->blake2b.data, r->blake2b.len);
	snprintf(line, sizeof(line), "artifact %s: %llu bytes, blake2b %s",
	    r->name, (unsigned long long)r->size, hex);
	return (strdup(line));
}

/*
 * Fill a store event from a TaskEvent. 0 when there is something to
 * store, 1 when the event has nothing for the store (a drop report),
 * -1 when malformed. ev->text is malloc'd when set.
 */
static int
ingest_convert(const Vsm__TaskEvent *te, struct store_event *ev, int *retry)
{
	*retry = 0;
	memset(ev, 0, sizeof(*ev));
	if (te->kind_case == VSM__TASK_EVENT__KIND_DROPPED)
		return (1);
	if (te->seq == 0 || te->seq > INT64_MAX ||
	    dispatch_store_id(te->task_id, ev->task_id) == -1)
		return (-1);
	ev->seq = (int64_t)te->seq;
	ev->at = te->time_ms ? (int64_t)te->time_ms : ctld_now();
	switch (te->kind_case) {
	case VSM__TASK_EVENT__KIND_STARTED:
		ev->kind = STORE_EV_STATUS;
		ev->status = STORE_TASK_RUNNING;
		return (0);
	case VSM__TASK_EVENT__KIND_LOG:
		ev->kind = STORE_EV_LOG;
		ev->text = strndup(te->log->line, STORE_TEXT_MAX);
		return (ev->text == NULL ? -1 : 0);
	case VSM__TASK_EVENT__KIND_PROGRESS:
		ev->kind = STORE_EV_PROGRESS;
		ev->progress = te->progress->percent > 100
		    ? 100
		    : (int)te->progress->percent;
		return (0);
	case VSM__TASK_EVENT__KIND_RESULT:
		ev->kind = STORE_EV_STATUS;
		ev->status = ingest_status(te->result->status);
		ev->text = ingest_result(te->result);
		*retry = ev->status == STORE_TASK_FAIL ||
		    ev->status == STORE_TASK_ERROR ||
		    ev->status == STORE_TASK_TIMEOUT;
		return (0);
	case VSM__TASK_EVENT__KIND_ARTIFACT:
		ev->kind = STORE_EV_LOG;
		ev->text = ingest_artifact_line(te->artifact);
		return (ev->text == NULL ? -1 : 0);
	default:
		return (-1);
	}
}

/*
 * May this host report on the event's task? 0 yes, 1 never (malformed id,
 * unknown task or another host's: a permanent refusal), -1 not now (the
 * store failed; err set). `last` caches the last task id found good.
 */
static int
ingest_check(struct ctld *cd, int64_t host_id, const Vsm__TaskEvent *te,
    char last[STORE_ID_LEN + 1], struct vsm_err *err)
{
	char    id[STORE_ID_LEN + 1];
	int64_t owner = 0;
	int     rc;

	if (dispatch_store_id(te->task_id, id) == -1) {
		vsm_err_set(err, "bad task id");
		return (1);
	}
	if (strcmp(id, last) == 0)
		return (0);
	if ((rc = store_task_host(cd->st, id, &owner, err)) == -1)
		return (-1);
	if (rc == STORE_NOTFOUND || owner != host_id) {
		vsm_err_set(err, "task %s is not this host's", id);
		return (1);
	}
	memcpy(last, id, STORE_ID_LEN + 1);
	return (0);
}

/*
 * The agent's own sys.facts run: its result becomes the host's facts.
 * Other events of such a run carry nothing to keep. 0 settled, -1 not
 * stored (the agent sends it again).
 */
static int
ingest_facts(struct ctld *cd, int64_t host_id, const Vsm__TaskEvent *te,
    struct vsm_err *err)
{
	const Vsm__TaskResult *r;

	if (te->kind_case != VSM__TASK_EVENT__KIND_RESULT)
		return (0);
	r = te->result;
	if (r->status != VSM__TASK_STATUS__TASK_OK ||
	    r->result_json[0] == '\0') {
		log_warnx("host %lld: facts not gathered: %s",
		    (long long)host_id, r->error[0] ? r->error : r->summary);
		return (0);
	}
	return (store_host_set_facts(
	    cd->st, host_id, r->result_json, ctld_now(), err));
}

/* Settle event i of the batch without the writer: rc 0 acked, -1 not. */
static void
ingest_settle(struct ingest_batch *b, size_t i, int rc, const char *why)
{
	pthread_mutex_lock(&b->mtx);
	b->rc[i] = rc;
	if (rc < 0 && b->why[0] == '\0')
		snprintf(b->why, sizeof(b->why), "%s", why);
	b->left--;
	pthread_mutex_unlock(&b->mtx);
}

void
ingest_events(struct ctld *cd, int64_t host_id, struct vsm_srv_req *req,
    const Vsm__Events *evs)
{
	struct ingest_batch *b = NULL;
	struct store_event   ev;
	struct vsm_err       err;
	char                 good[STORE_ID_LEN + 1] = "";
	size_t               i;
	int                  rc, retry, last;

	if (evs->n_events == 0 || evs->n_events > INGEST_MAX) {
		agents_reply_error(req, INGEST_ERR_BADREQ,
		    "events: 1 to 1024 events a request");
		return;
	}
	if ((b = calloc(1, sizeof(*b))) == NULL ||
	    (b->seq = calloc(evs->n_events, sizeof(*b->seq))) == NULL ||
	    (b->rc = calloc(evs->n_events, sizeof(*b->rc))) == NULL) {
		if (b != NULL) {
			free(b->seq);
			free(b);
		}
		vsm_srv_drop(req);
		return;
	}
	pthread_mutex_init(&b->mtx, NULL);
	b->cd = cd;
	b->req = req;
	b->n = evs->n_events;
	b->left = b->n + 1; /* one for this loop: no finish while queueing */
	for (i = 0; i < b->n; i++) {
		const Vsm__TaskEvent *te = evs->events[i];
		struct ingest_op     *op;

		b->seq[i] = te->seq;
		if (strncmp(te->task_id, VSM_FACTS_TASK_PREFIX,
		        sizeof(VSM_FACTS_TASK_PREFIX) - 1) == 0) {
			rc = ingest_facts(cd, host_id, te, &err);
			ingest_settle(b, i, rc, err.msg);
			continue;
		}
		if (te->kind_case != VSM__TASK_EVENT__KIND_DROPPED &&
		    (rc = ingest_check(cd, host_id, te, good, &err)) != 0) {
			/*
			 * A task this host may never report on is acked and
			 * dropped, loudly: kept, it would block the agent's
			 * spool for good. A store failure is not acked.
			 */
			if (rc == 1)
				log_warnx("host %lld: event seq %llu refused "
				          "and dropped: %s",
				    (long long)host_id,
				    (unsigned long long)te->seq, err.msg);
			ingest_settle(b, i, rc == 1 ? 0 : -1, err.msg);
			continue;
		}
		rc = ingest_convert(te, &ev, &retry);
		if (rc == 1) {
			log_warnx("host %lld: agent spool dropped %llu events",
			    (long long)host_id,
			    (unsigned long long)te->dropped->events);
			ingest_settle(b, i, 0, NULL);
			continue;
		}
		if (rc == -1 || (op = calloc(1, sizeof(*op))) == NULL) {
			free(ev.text);
			log_warnx("host %lld: event seq %llu malformed",
			    (long long)host_id, (unsigned long long)te->seq);
			ingest_settle(b, i, rc == -1 ? 0 : -1, "out of memory");
			continue;
		}
		op->b = b;
		op->i = i;
		op->retry = retry;
		op->host_id = host_id;
		memcpy(op->task_id, ev.task_id, sizeof(op->task_id));
		if (store_write_event(
		        cd->st, host_id, &ev, ingest_done, op, &err) == -1) {
			free(op);
			ingest_settle(b, i, -1, err.msg);
		}
		free(ev.text);
	}
	pthread_mutex_lock(&b->mtx);
	last = --b->left == 0;
	pthread_mutex_unlock(&b->mtx);
	if (last)
		ingest_finish(b);
}
