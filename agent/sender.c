/*
 * sender.c: from the spool to the controller (docs/agent.md).
 *
 * One window at a time: up to SENDER_WINDOW events (and SENDER_BYTES
 * bytes) of the unacked spool, in seq order, go out as one Events
 * request; the EventsAck names the highest seq the controller stored, and
 * the spool is acked up to it. Anything not acked is sent again in the
 * next window, so after a lost connection, a controller restart or an
 * agent restart everything still in the spool is re-sent.
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "log.h"

#define SENDER_WINDOW 256
#define SENDER_BYTES  (1024 * 1024)
#define SENDER_IDLE   1000 /* ms between looks at an idle spool */

/*
 * Turn one spool record into a TaskEvent with the record's seq. Returns
 * the event (caller frees with vsm__task_event__free_unpacked) or NULL
 * when the record is unreadable (it is acked away with a warning).
 */
static Vsm__TaskEvent *
rec_event(struct agent *a, const struct spool_rec *rec)
{
	Vsm__TaskEvent      *ev = NULL, tmp = VSM__TASK_EVENT__INIT;
	Vsm__DropReport      dr = VSM__DROP_REPORT__INIT;
	struct spool_dropped d;
	char                 id[TASKDB_ID_MAX + 1] = "";
	uint8_t             *buf;
	size_t               len;

	if (rec->kind == SPOOL_KIND_EVENT) {
		ev = vsm__task_event__unpack(NULL, rec->len, rec->data);
		if (ev == NULL)
			log_warnx("spool: event %llu unreadable: skipped",
			    (unsigned long long)rec->seq);
		else
			ev->seq = rec->seq;
		return (ev);
	}
	if (spool_dropped_decode(rec, &d) == -1) {
		log_warnx("spool: drop summary %llu unreadable: skipped",
		    (unsigned long long)rec->seq);
		return (NULL);
	}
	/* The spool knows tasks by hash; the task record knows the name. */
	taskdb_id_of(a->tdb, d.task_id, id, sizeof(id));
	dr.events = d.count;
	dr.bytes = d.bytes;
	tmp.seq = rec->seq;
	tmp.task_id = id;
	tmp.time_ms = agent_now_ms();
	tmp.kind_case = VSM__TASK_EVENT__KIND_DROPPED;
	tmp.dropped = &dr;
	log_warnx("spool: %llu events (%llu bytes) of task %s were dropped",
	    (unsigned long long)d.count, (unsigned long long)d.bytes,
	    *id ? id : "(unknown)");
	/* Round-trip through the wire form so every event frees alike. */
	len = vsm__task_event__get_packed_size(&tmp);
	if ((buf = malloc(len + 1)) == NULL)
		return (NULL);
	vsm__task_event__pack(&tmp, buf);
	ev = vsm__task_event__unpack(NULL, len, buf);
	free(buf);
	return (ev);
}

/*
 * Send one window of unacked events. Returns 1 when something was sent
 * and acked, 0 when the spool had nothing to send, -1 on failure.
 */
static int
send_window(struct agent *a, uint64_t gen)
{
	Vsm__TaskEvent   *evs[SENDER_WINDOW];
	Vsm__Events       events = VSM__EVENTS__INIT;
	Vsm__Envelope     req = VSM__ENVELOPE__INIT, *rep = NULL;
	struct spool_iter it;
	struct spool_rec  rec;
	struct vsm_err    err;
	size_t            n = 0, bytes = 0, i;
	uint64_t          last = 0;
	int               rv, ret = -1;

	spool_iter_init(&it, a->spool, 0);
	while (n < SENDER_WINDOW && bytes < SENDER_BYTES) {
		if ((rv = spool_iter_next(&it, &rec, &err)) == 0)
			break;
		if (rv == -1) {
			log_warnx("spool: %s", err.msg);
			break;
		}
		last = rec.seq;
		bytes += rec.len;
		if ((evs[n] = rec_event(a, &rec)) != NULL)
			n++;
		spool_rec_free(&rec);
	}
	if (last == 0) {
		ret = 0;
		goto out;
	}
	if (n == 0) {
		/* Only unreadable records: nothing to send, drop them. */
		spool_ack(a->spool, last, &err);
		ret = 1;
		goto out;
	}
	events.n_events = n;
	events.events = evs;
	req.body_case = VSM__ENVELOPE__BODY_EVENTS;
	req.events = &events;
	if (agent_call(a, &req, &rep, AGENT_CALL_MS, &err) == -1) {
		if (!agent_stopping(a))
			log_warnx("events: %s", err.msg);
		agent_link_failed(a, gen);
		goto out;
	}
	if (rep->body_case != VSM__ENVELOPE__BODY_EVENTS_ACK) {
		log_warnx(
		    "events: not acked (reply body %d)", (int)rep->body_case);
		goto out;
	}
	log_debug("events: %zu sent (seq %llu-%llu), acked up to %llu", n,
	    (unsigned long long)evs[0]->seq, (unsigned long long)last,
	    (unsigned long long)rep->events_ack->upto_seq);
	if (rep->events_ack->upto_seq > 0 &&
	    spool_ack(a->spool, rep->events_ack->upto_seq, &err) == -1) {
		log_warnx("spool: %s", err.msg);
		goto out;
	}
	/* Nothing acked: wait before offering the same window again. */
	ret = rep->events_ack->upto_seq >= evs[0]->seq ? 1 : -1;
out:
	for (i = 0; i < n; i++)
		vsm__task_event__free_unpacked(evs[i], NULL);
	if (rep != NULL)
		vsm__envelope__free_unpacked(rep, NULL);
	return (ret);
}

void *
sender_main(void *arg)
{
	struct agent *a = arg;
	uint64_t      gen, seen;
	int           rv, sent = 0;

	while ((gen = agent_wait_link(a)) != 0) {
		pthread_mutex_lock(&a->mtx);
		seen = a->spooled;
		pthread_mutex_unlock(&a->mtx);
		if ((rv = send_window(a, gen)) == 1) {
			sent = 1;
			continue;
		}
		if (rv == -1) {
			agent_sleep(a, 1000);
			continue;
		}
		/*
		 * The spool has drained: the tasks that filled it are over.
		 * Give the pages their buffers used back (main.c).
		 */
		if (sent) {
			malloc_trim(0);
			sent = 0;
		}
		/* Idle: wait for an append (or look again in a while). */
		agent_wait_change(a, &a->spooled, seen, SENDER_IDLE);
	}
	return (NULL);
}
