/*
 * store_int.h: what the store's front end (store.c) and its writer
 * (store_writer.c) share. Not for use outside the store.
 */
#ifndef VSM_STORE_INT_H
#define VSM_STORE_INT_H

#include <pthread.h>

#include "store.h"

struct wop;

struct store_writer {
	pthread_t       thread;
	pthread_mutex_t lock;
	pthread_cond_t  cond; /* an op arrived, or stop */
	struct wop    **q;    /* ring of qcap */
	size_t          qcap, qhead, qlen;
	unsigned        batch_max, batch_ms;
	int             running, stopping;
};

struct store {
	const struct store_backend *be;
	void                       *db;
	struct store_writer         w;
};

void store_writer_init(struct store_writer *w);
/* Argument checks shared by the direct calls and the writer's queue. */
int store_check_event(const struct store_event *ev, struct vsm_err *err);
int store_check_heartbeat(
    const struct store_heartbeat *hb, struct vsm_err *err);

#endif /* VSM_STORE_INT_H */
