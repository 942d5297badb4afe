/*
 * store_writer.c: the store's one writer thread.
 *
 * The writer takes high-rate writes (task events, heartbeats) from any
 * thread into a bounded queue and applies them on one thread, many to a
 * transaction: it waits for up to batch_max ops or batch_ms after the
 * first, runs each op in a savepoint, commits once, and only then calls
 * each op's callback. With synchronous=FULL a returned COMMIT is on disk,
 * so a callback with rc 0 or 1 is the signal that lets the channel ack an
 * agent. A full queue refuses at once (back-pressure): the caller does not
 * ack and the agent, which keeps the event in its spool, sends it again.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "ctld.h"
#include "err.h"
#include "log.h"
#include "store.h"
#include "store_int.h"

#define WRITER_BATCH_MAX 256
#define WRITER_QUEUE_MAX 4096

enum wop_kind {
	WOP_EVENT,
	WOP_HEARTBEAT,
};

/* One queued write; owns a copy of its data. */
struct wop {
	enum wop_kind          kind;
	int64_t                host_id;
	struct store_event     ev;
	struct store_heartbeat hb;
	store_done_fn         *cb;
	void                  *arg;
	int                    rc;
	struct vsm_err         err;
};

/* ------------------------------------------------------------------------ */
/* The writer */

static void
wop_free(struct wop *op)
{
	if (op == NULL)
		return;
	free(op->ev.text);
	free(op);
}

/* Run one op inside the open batch; the result goes into op. */
static void
wop_run(struct store *st, struct wop *op)
{
	switch (op->kind) {
	case WOP_EVENT:
		op->rc = st->be->event_append(
		    st->db, op->host_id, &op->ev, &op->err);
		break;
	case WOP_HEARTBEAT:
		op->rc = st->be->host_heartbeat(st->db, &op->hb, &op->err);
		break;
	default:
		op->rc = vsm_err_set(
		    &op->err, "writer op %d unknown", (int)op->kind);
		break;
	}
}

/* Apply a batch in one transaction, then settle every op's callback. */
static void
writer_batch(struct store *st, struct wop **ops, size_t n)
{
	struct vsm_err err;
	size_t         i;

	err.msg[0] = '\0';
	if (st->be->batch_begin(st->db, &err) == -1) {
		for (i = 0; i < n; i++)
			ops[i]->rc = vsm_err_set(&ops[i]->err, "%s", err.msg);
		goto done;
	}
	for (i = 0; i < n; i++)
		wop_run(st, ops[i]);
	if (st->be->batch_commit(st->db, &err) == -1) {
		log_warnx(
		    "store writer: commit of %zu ops failed: %s", n, err.msg);
		for (i = 0; i < n; i++)
			if (ops[i]->rc != -1)
				ops[i]->rc = vsm_err_set(
				    &ops[i]->err, "not stored: %s", err.msg);
	}
done:
	for (i = 0; i < n; i++) {
		if (ops[i]->cb != NULL)
			ops[i]->cb(ops[i]->arg, ops[i]->rc,
			    ops[i]->rc == -1 ? ops[i]->err.msg : NULL);
		wop_free(ops[i]);
		ops[i] = NULL;
	}
}

static void *
writer_main(void *arg)
{
	struct store        *st = arg;
	struct store_writer *w = &st->w;
	struct wop         **batch;
	struct timespec      until;
	size_t               n;

	if ((batch = calloc(w->batch_max, sizeof(*batch))) == NULL)
		fatalx("store writer: out of memory");
	for (;;) {
		pthread_mutex_lock(&w->lock);
		while (w->qlen == 0 && !w->stopping)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->qlen == 0) { /* stopping, and drained */
			pthread_mutex_unlock(&w->lock);
			break;
		}
		/* Gather: up to batch_max ops or batch_ms after the first. */
		if (w->batch_ms > 0 && w->qlen < w->batch_max && !w->stopping) {
			ctld_deadline_in(&until, w->batch_ms);
			while (w->qlen < w->batch_max && !w->stopping &&
			    pthread_cond_timedwait(
			        &w->cond, &w->lock, &until) != ETIMEDOUT)
				;
		}
		for (n = 0; n < w->batch_max && w->qlen > 0; n++) {
			batch[n] = w->q[w->qhead];
			w->q[w->qhead] = NULL;
			w->qhead = (w->qhead + 1) % w->qcap;
			w->qlen--;
		}
		pthread_mutex_unlock(&w->lock);
		writer_batch(st, batch, n);
	}
	free(batch);
	return (NULL);
}

/* The writer's lock and condition live as long as the store. */
void
store_writer_init(struct store_writer *w)
{
	pthread_mutex_init(&w->lock, NULL);
	ctld_cond_init(&w->cond);
}

int
store_writer_start(
    struct store *st, const struct store_writer_conf *conf, struct vsm_err *err)
{
	struct store_writer *w = &st->w;
	unsigned             bmax, bms, qmax;
	int                  rc, ret = -1;

	bmax = conf != NULL && conf->batch_max > 0 ? conf->batch_max
	                                           : WRITER_BATCH_MAX;
	bms = conf != NULL ? conf->batch_ms : 0;
	qmax = conf != NULL && conf->queue_max > 0 ? conf->queue_max
	                                           : WRITER_QUEUE_MAX;
	if (bms > 10000 || qmax > 1000000 || bmax > 100000)
		return (vsm_err_set(err, "store writer settings out of range"));
	pthread_mutex_lock(&w->lock);
	if (w->running) {
		vsm_err_set(err, "store writer already running");
		goto out;
	}
	if ((w->q = calloc(qmax, sizeof(*w->q))) == NULL) {
		vsm_err_set(err, "store writer: out of memory");
		goto out;
	}
	w->qcap = qmax;
	w->qhead = w->qlen = 0;
	w->batch_max = bmax;
	w->batch_ms = bms;
	w->stopping = 0;
	if ((rc = pthread_create(&w->thread, NULL, writer_main, st)) != 0) {
		free(w->q);
		w->q = NULL;
		vsm_err_set(err, "store writer: %s", strerror(rc));
		goto out;
	}
	w->running = 1;
	ret = 0;
out:
	pthread_mutex_unlock(&w->lock);
	return (ret);
}

void
store_writer_stop(struct store *st)
{
	struct store_writer *w = &st->w;

	pthread_mutex_lock(&w->lock);
	if (!w->running || w->stopping) {
		pthread_mutex_unlock(&w->lock);
		return;
	}
	w->stopping = 1;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	/* The thread drains the queue before it returns. */
	pthread_join(w->thread, NULL);
	pthread_mutex_lock(&w->lock);
	free(w->q);
	w->q = NULL;
	w->running = 0;
	w->stopping = 0;
	pthread_mutex_unlock(&w->lock);
}

/* Queue op or refuse it (full, stopped); on refusal op is freed. */
static int
writer_push(struct store *st, struct wop *op, struct vsm_err *err)
{
	struct store_writer *w = &st->w;
	int                  ret = -1;

	pthread_mutex_lock(&w->lock);
	if (!w->running)
		vsm_err_set(err, "store writer is not running");
	else if (w->stopping)
		vsm_err_set(err, "store writer is stopping");
	else if (w->qlen == w->qcap)
		vsm_err_set(err,
		    "store writer queue full (%zu ops): not "
		    "stored, send again later",
		    w->qcap);
	else {
		w->q[(w->qhead + w->qlen) % w->qcap] = op;
		w->qlen++;
		pthread_cond_signal(&w->cond);
		ret = 0;
	}
	pthread_mutex_unlock(&w->lock);
	if (ret == -1)
		wop_free(op);
	return (ret);
}

int
store_write_event(struct store *st, int64_t host_id,
    const struct store_event *ev, store_done_fn *cb, void *arg,
    struct vsm_err *err)
{
	struct wop *op;

	if (store_check_event(ev, err) == -1)
		return (-1);
	if ((op = calloc(1, sizeof(*op))) == NULL)
		return (vsm_err_set(err, "store writer: out of memory"));
	op->kind = WOP_EVENT;
	op->host_id = host_id;
	op->ev = *ev;
	op->ev.text = NULL;
	if (ev->text != NULL && (op->ev.text = strdup(ev->text)) == NULL) {
		wop_free(op);
		return (vsm_err_set(err, "store writer: out of memory"));
	}
	op->cb = cb;
	op->arg = arg;
	return (writer_push(st, op, err));
}

int
store_write_heartbeat(struct store *st, const struct store_heartbeat *hb,
    store_done_fn *cb, void *arg, struct vsm_err *err)
{
	struct wop *op;

	if (store_check_heartbeat(hb, err) == -1)
		return (-1);
	if ((op = calloc(1, sizeof(*op))) == NULL)
		return (vsm_err_set(err, "store writer: out of memory"));
	op->kind = WOP_HEARTBEAT;
	op->hb = *hb;
	op->cb = cb;
	op->arg = arg;
	return (writer_push(st, op, err));
}
