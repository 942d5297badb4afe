/*
 * registry.c: what the controller knows of live hosts, in memory: the
 * session of each host, its held poll, when it was last heard from, and
 * the cancels waiting for its next PollReply. One timer thread answers
 * polls held for a heartbeat interval, marks hosts down after
 * missed_heartbeats intervals of silence and sweeps unacked tasks.
 * Durable state (up/down, last_seen, heartbeats) is the store's.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctld.h"
#include "log.h"
#include "map.h"

struct reg_host {
	int64_t             id;
	char                name[VSM_NAME_MAX + 1];
	uint8_t             key[VSM_KEY_LEN];
	uint64_t            session; /* 0: not connected */
	int                 up;
	int64_t             last_seen; /* monotonic ms */
	uint64_t            gen;       /* wake-ups so far */
	struct vsm_srv_req *poll;      /* held poll, or NULL */
	unsigned            slots;
	int64_t             poll_at; /* monotonic ms */
	char              **cancel;
	size_t              ncancel;
};

struct reg_retry {
	int64_t host_id;
	char    task_id[STORE_ID_LEN + 1];
};

#define REG_RETRY_MAX 4096

struct registry {
	struct ctld      *cd;
	struct reg_retry *retry;
	size_t            nretry;
	pthread_mutex_t   mtx;
	pthread_cond_t    cv;
	struct vsm_map    hosts; /* host id -> struct reg_host */
	pthread_t         thr;
	int               running;
	int               stop;
};

int
registry_new(struct ctld *cd, struct registry **out)
{
	struct registry *reg;

	if ((reg = calloc(1, sizeof(*reg))) == NULL)
		return (-1);
	reg->cd = cd;
	pthread_mutex_init(&reg->mtx, NULL);
	ctld_cond_init(&reg->cv);
	vsm_map_init(&reg->hosts);
	*out = reg;
	return (0);
}

/* The host entry, created when missing. Called locked; NULL on ENOMEM. */
static struct reg_host *
reg_get(struct registry *reg, int64_t id)
{
	struct reg_host *h;

	if ((h = vsm_map_get(&reg->hosts, (uint64_t)id)) != NULL)
		return (h);
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return (NULL);
	h->id = id;
	h->last_seen = ctld_mono();
	if (vsm_map_put(&reg->hosts, (uint64_t)id, h) == -1) {
		free(h);
		return (NULL);
	}
	return (h);
}

static void
reg_cancel_clear(struct reg_host *h)
{
	size_t i;

	for (i = 0; i < h->ncancel; i++)
		free(h->cancel[i]);
	free(h->cancel);
	h->cancel = NULL;
	h->ncancel = 0;
}

void
registry_free(struct registry *reg)
{
	size_t i;

	if (reg == NULL)
		return;
	for (i = 0; i < reg->hosts.cap; i++) {
		struct reg_host *h = reg->hosts.vals[i];

		if (h == NULL)
			continue;
		reg_cancel_clear(h);
		free(h);
	}
	vsm_map_clear(&reg->hosts);
	free(reg->retry);
	pthread_cond_destroy(&reg->cv);
	pthread_mutex_destroy(&reg->mtx);
	free(reg);
}

void
registry_forget(struct registry *reg)
{
	size_t i;

	pthread_mutex_lock(&reg->mtx);
	for (i = 0; i < reg->hosts.cap; i++)
		if (reg->hosts.vals[i] != NULL)
			((struct reg_host *)reg->hosts.vals[i])->poll = NULL;
	pthread_mutex_unlock(&reg->mtx);
}

int
registry_connect(struct registry *reg, int64_t host_id, const char *name,
    const uint8_t key[VSM_KEY_LEN], uint64_t session)
{
	struct reg_host *h;
	int              ret = -1;

	pthread_mutex_lock(&reg->mtx);
	if ((h = reg_get(reg, host_id)) == NULL)
		goto out;
	snprintf(h->name, sizeof(h->name), "%s", name);
	memcpy(h->key, key, VSM_KEY_LEN);
	h->session = session;
	h->up = 1;
	h->last_seen = ctld_mono();
	ret = 0;
out:
	pthread_mutex_unlock(&reg->mtx);
	return (ret);
}

void
registry_closed(struct registry *reg, int64_t host_id, uint64_t session)
{
	struct reg_host    *h;
	struct vsm_srv_req *req = NULL;

	pthread_mutex_lock(&reg->mtx);
	if ((h = vsm_map_get(&reg->hosts, (uint64_t)host_id)) != NULL) {
		/* A held poll of this session can never be answered. */
		if (h->poll != NULL &&
		    vsm_srv_req_peer(h->poll)->session_id == session) {
			req = h->poll;
			h->poll = NULL;
		}
		if (h->session == session)
			h->session = 0;
	}
	pthread_mutex_unlock(&reg->mtx);
	if (req != NULL)
		vsm_srv_drop(req);
}

void
registry_seen(struct registry *reg, int64_t host_id)
{
	struct reg_host *h;

	pthread_mutex_lock(&reg->mtx);
	if ((h = reg_get(reg, host_id)) != NULL) {
		h->last_seen = ctld_mono();
		h->up = 1;
	}
	pthread_mutex_unlock(&reg->mtx);
}

int
registry_connected(struct registry *reg, int64_t host_id)
{
	struct reg_host *h;
	int              c;

	pthread_mutex_lock(&reg->mtx);
	h = vsm_map_get(&reg->hosts, (uint64_t)host_id);
	c = h != NULL && h->session != 0;
	pthread_mutex_unlock(&reg->mtx);
	return (c);
}

uint64_t
registry_gen(struct registry *reg, int64_t host_id)
{
	struct reg_host *h;
	uint64_t         g = 0;

	pthread_mutex_lock(&reg->mtx);
	if ((h = vsm_map_get(&reg->hosts, (uint64_t)host_id)) != NULL)
		g = h->gen;
	pthread_mutex_unlock(&reg->mtx);
	return (g);
}

int
registry_hold(struct registry *reg, int64_t host_id, struct vsm_srv_req *req,
    unsigned slots, uint64_t gen, struct vsm_srv_req **prev)
{
	struct reg_host *h;
	int              ret = -1;

	*prev = NULL;
	pthread_mutex_lock(&reg->mtx);
	if ((h = reg_get(reg, host_id)) == NULL || h->gen != gen)
		goto out;
	*prev = h->poll;
	h->poll = req;
	h->slots = slots;
	h->poll_at = ctld_mono();
	ret = 0;
out:
	pthread_mutex_unlock(&reg->mtx);
	return (ret);
}

struct vsm_srv_req *
registry_take(struct registry *reg, int64_t host_id, unsigned *slots)
{
	struct reg_host    *h;
	struct vsm_srv_req *req = NULL;

	pthread_mutex_lock(&reg->mtx);
	if ((h = reg_get(reg, host_id)) != NULL) {
		h->gen++;
		req = h->poll;
		h->poll = NULL;
		*slots = h->slots;
	}
	pthread_mutex_unlock(&reg->mtx);
	return (req);
}

int
registry_cancel_add(struct registry *reg, int64_t host_id, const char *task_id)
{
	struct reg_host *h;
	char           **v;
	int              ret = -1;

	pthread_mutex_lock(&reg->mtx);
	if ((h = reg_get(reg, host_id)) == NULL ||
	    h->ncancel >= CTLD_CANCEL_MAX)
		goto out;
	if ((v = realloc(h->cancel, (h->ncancel + 1) * sizeof(*v))) == NULL)
		goto out;
	h->cancel = v;
	if ((v[h->ncancel] = strdup(task_id)) == NULL)
		goto out;
	h->ncancel++;
	ret = 0;
out:
	pthread_mutex_unlock(&reg->mtx);
	return (ret);
}

size_t
registry_cancel_take(struct registry *reg, int64_t host_id, char ***ids)
{
	struct reg_host *h;
	size_t           n = 0;

	*ids = NULL;
	pthread_mutex_lock(&reg->mtx);
	if ((h = vsm_map_get(&reg->hosts, (uint64_t)host_id)) != NULL) {
		*ids = h->cancel;
		n = h->ncancel;
		h->cancel = NULL;
		h->ncancel = 0;
	}
	pthread_mutex_unlock(&reg->mtx);
	return (n);
}

void
registry_retry_add(struct registry *reg, int64_t host_id, const char *task_id)
{
	struct reg_retry *v;

	pthread_mutex_lock(&reg->mtx);
	if (reg->nretry < REG_RETRY_MAX &&
	    (v = realloc(reg->retry, (reg->nretry + 1) * sizeof(*v))) != NULL) {
		reg->retry = v;
		v[reg->nretry].host_id = host_id;
		snprintf(
		    v[reg->nretry].task_id, sizeof(v->task_id), "%s", task_id);
		reg->nretry++;
	} else
		log_warnx("task %s: retry list full; not retried", task_id);
	pthread_mutex_unlock(&reg->mtx);
}

/* Retry the tasks noted since the last tick (outside the lock). */
static void
reg_retries(struct registry *reg)
{
	struct reg_retry *v;
	struct vsm_err    err;
	size_t            i, n;
	int               rc;

	pthread_mutex_lock(&reg->mtx);
	v = reg->retry;
	n = reg->nretry;
	reg->retry = NULL;
	reg->nretry = 0;
	pthread_mutex_unlock(&reg->mtx);
	for (i = 0; i < n; i++) {
		rc = store_task_retry(
		    reg->cd->st, v[i].task_id, ctld_now(), &err);
		if (rc == -1)
			log_warnx("task %s: retry: %s", v[i].task_id, err.msg);
		else if (rc == 0) {
			log_info("task %s: retried", v[i].task_id);
			dispatch_wake(reg->cd, v[i].host_id);
		}
	}
	free(v);
}

struct reg_due {
	int64_t             host_id;
	struct vsm_srv_req *req; /* a poll to answer, or NULL: host down */
	unsigned            slots;
};

/*
 * One tick: collect held polls older than a heartbeat interval and hosts
 * silent for missed_heartbeats intervals (under the lock), then answer
 * and mark down (outside it), then sweep task deadlines.
 */
static void
reg_tick(struct registry *reg)
{
	struct ctld    *cd = reg->cd;
	struct reg_due *due = NULL;
	struct vsm_err  err;
	int64_t         now = ctld_mono(), hb = (int64_t)cd->cfg->heartbeat_ms;
	int64_t         downafter = hb * cd->cfg->missed_heartbeats;
	size_t          i, n = 0, cap, requeued = 0, timedout = 0;

	pthread_mutex_lock(&reg->mtx);
	cap = reg->hosts.len * 2;
	if (cap > 0 && (due = calloc(cap, sizeof(*due))) == NULL)
		cap = 0;
	for (i = 0; i < reg->hosts.cap && n + 2 <= cap; i++) {
		struct reg_host *h = reg->hosts.vals[i];

		if (h == NULL)
			continue;
		if (h->poll != NULL && now - h->poll_at >= hb) {
			due[n].host_id = h->id;
			due[n].req = h->poll;
			due[n++].slots = h->slots;
			h->poll = NULL;
		}
		if (h->up && now - h->last_seen > downafter) {
			h->up = 0;
			due[n++].host_id = h->id;
		}
	}
	pthread_mutex_unlock(&reg->mtx);
	for (i = 0; i < n; i++) {
		if (due[i].req != NULL) {
			dispatch_answer(
			    cd, due[i].host_id, due[i].req, due[i].slots, 1);
			continue;
		}
		log_info("host %lld: down (no heartbeat for %lld ms)",
		    (long long)due[i].host_id, (long long)downafter);
		if (store_host_down(cd->st, due[i].host_id, ctld_now(), &err) ==
		    -1)
			log_warnx("host %lld: %s", (long long)due[i].host_id,
			    err.msg);
	}
	free(due);
	reg_retries(reg);
	if (store_task_sweep(
	        cd->st, ctld_now(), hb * 3, &requeued, &timedout, &err) == -1)
		log_warnx("sweep: %s", err.msg);
	else if (requeued + timedout > 0)
		log_info("sweep: %zu tasks offered again, %zu timed out",
		    requeued, timedout);
}

static void *
reg_main(void *arg)
{
	struct registry *reg = arg;
	struct timespec  ts;
	int64_t          period = (int64_t)reg->cd->cfg->heartbeat_ms / 4;

	if (period > 1000)
		period = 1000;
	if (period < 50)
		period = 50;
	pthread_mutex_lock(&reg->mtx);
	while (!reg->stop) {
		ctld_deadline_in(&ts, (unsigned)period);
		pthread_cond_timedwait(&reg->cv, &reg->mtx, &ts);
		if (reg->stop)
			break;
		pthread_mutex_unlock(&reg->mtx);
		reg_tick(reg);
		pthread_mutex_lock(&reg->mtx);
	}
	pthread_mutex_unlock(&reg->mtx);
	return (NULL);
}

/*
 * Load the hosts the store knows (so that a host that never comes back
 * after a restart is marked down too) and start the timer thread.
 */
int
registry_start(struct registry *reg)
{
	struct store_host *hv = NULL;
	struct vsm_err     err;
	size_t             i, n = 0;

	if (store_host_list(reg->cd->st, &hv, &n, &err) == -1)
		log_warnx("registry: %s", err.msg);
	pthread_mutex_lock(&reg->mtx);
	for (i = 0; i < n; i++) {
		struct reg_host *h = reg_get(reg, hv[i].id);

		if (h == NULL)
			continue;
		snprintf(h->name, sizeof(h->name), "%.63s", hv[i].name);
		h->up = hv[i].up;
	}
	pthread_mutex_unlock(&reg->mtx);
	store_hosts_free(hv, n);
	if (pthread_create(&reg->thr, NULL, reg_main, reg) != 0)
		return (-1);
	reg->running = 1;
	return (0);
}

void
registry_stop(struct registry *reg)
{
	if (reg == NULL || !reg->running)
		return;
	pthread_mutex_lock(&reg->mtx);
	reg->stop = 1;
	pthread_cond_signal(&reg->cv);
	pthread_mutex_unlock(&reg->mtx);
	pthread_join(reg->thr, NULL);
	reg->running = 0;
}
