/*
 * sim.c: virtual agents on nng callbacks (sim.h).
 *
 * Each agent runs two chains of one aio each. The main chain on ctx:
 * handshake, then Poll / (Events) / Poll ... forever; every step is a
 * send then a receive on the same context, a request and its reply. The
 * heartbeat chain on hctx: sleep, Heartbeat, HeartbeatAck, sleep. A pipe
 * that goes cancels both; the main chain then closes the dialer, sleeps a
 * full-jitter backoff and dials again, as vsm_client does.
 *
 * Locking: a->mtx guards the agent; callbacks take it. nng calls that
 * may wait for a callback (aio_stop, close) are made without it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <sodium.h>

#include "backoff.h"
#include "keyfile.h"
#include "session.h"
#include "sim.h"

#define SIM_HB_MS         30000  /* until a Welcome says otherwise */
#define SIM_WINDOW_MS     10000u /* a dial with no pipe by then failed */
#define SIM_WINDOW_MIN_MS 1000u
#define SIM_MAX_EVENTS    128
#define SIM_MAX_PAY       (4u << 20)
#define SIM_RESEND_MS     1000 /* events refused: resend within this */
#define SIM_TICK_MS       20

enum sim_state {
	S_IDLE = 0,
	S_HS,      /* handshake sent or awaited */
	S_POLL,    /* poll sent or held */
	S_EVENTS,  /* events sent */
	S_BACKOFF, /* sleeping before a redial */
	S_RESEND,  /* events refused (controller busy): sleeping, resend */
	S_STOP,
};

struct sim_agent {
	struct sim          *s;
	unsigned             idx;
	pthread_mutex_t      mtx;
	struct vsm_keypair   key;
	uint8_t             *hello;
	size_t               hello_len;
	nng_socket           sock;
	nng_dialer           d;
	int                  dialing;
	nng_dialer           stale; /* closed by main_cb, unlocked */
	int                  have_stale;
	nng_ctx              ctx, hctx;
	nng_aio             *aio, *haio;
	enum sim_state       state;
	int                  recv; /* the main chain waits for a reply */
	int                  hrecv, hb_busy;
	uint64_t             hb_due, wake_at, hs_deadline; /* monotonic ms */
	struct vsm_noise_hs *hs;
	struct vsm_session  *sess;
	uint32_t             hb_ms;
	unsigned             attempt; /* failed dials in a row */
	uint64_t             seq, hb_seq;
	uint8_t             *pending; /* the packed Events not yet acked */
	size_t               pending_len;
	uint64_t             connected_at, result_at;
	int                  mark_seen;
};

struct sim {
	struct sim_config cfg;
	char              url[128];
	uint8_t           server_key[VSM_KEY_LEN];
	struct sim_agent *ag;
	unsigned          n;
	uint32_t          window_ms; /* connect window of a dial */
	atomic_uint       connected;
	/* Dialers to close, by the reaper thread (never on nng's threads). */
	pthread_t        reaper;
	int              reaper_up, reaper_stop;
	pthread_mutex_t  rmtx;
	pthread_cond_t   rcv;
	nng_dialer      *rq;
	size_t           rn, rcap;
	atomic_int       marking;
	_Atomic uint64_t handshakes, refused, lost, tasks, acks, heartbeats;
	_Atomic uint64_t refusals;
	pthread_t        ticker;
	int              ticker_up;
	atomic_int       ticker_stop;
};

uint64_t
sim_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/* Queue a dialer for the reaper. */
static void
reap(struct sim *s, nng_dialer d)
{
	nng_dialer *nq;

	pthread_mutex_lock(&s->rmtx);
	if (s->rn == s->rcap) {
		s->rcap = s->rcap ? 2 * s->rcap : 64;
		if ((nq = realloc(s->rq, s->rcap * sizeof(*nq))) == NULL)
			abort();
		s->rq = nq;
	}
	s->rq[s->rn++] = d;
	pthread_cond_signal(&s->rcv);
	pthread_mutex_unlock(&s->rmtx);
}

static void *
reaper_main(void *arg)
{
	struct sim *s = arg;
	nng_dialer  d;

	pthread_mutex_lock(&s->rmtx);
	for (;;) {
		while (s->rn == 0 && !s->reaper_stop)
			pthread_cond_wait(&s->rcv, &s->rmtx);
		if (s->rn == 0)
			break;
		d = s->rq[--s->rn];
		pthread_mutex_unlock(&s->rmtx);
		nng_dialer_close(d);
		pthread_mutex_lock(&s->rmtx);
	}
	pthread_mutex_unlock(&s->rmtx);
	return (NULL);
}

/*
 * Send msg on the main chain; the reply comes to main_cb. A handshake
 * must find a pipe within the connect window, as vsm_client's dials do
 * (the ticker cancels it after that); no other step has a timeout: a
 * lost pipe cancels it. Locked.
 */
static void
main_send(struct sim_agent *a, nng_msg *msg)
{
	a->recv = 0;
	if (a->state == S_HS)
		a->hs_deadline = sim_now_ms() + a->s->window_ms;
	nng_aio_set_msg(a->aio, msg);
	nng_ctx_send(a->ctx, a->aio);
}

/* Seal packed bytes with the session and send them. -1 when it cannot. */
static int
main_send_buf(struct sim_agent *a, const uint8_t *buf, size_t len)
{
	nng_msg *msg;

	if (a->sess == NULL || vsm_session_seal(a->sess, buf, len, &msg) == -1)
		return (-1);
	main_send(a, msg);
	return (0);
}

/* Pack an Envelope into *bufp (malloc'd, caller frees). -1 on ENOMEM. */
static int
pack_env(const Vsm__Envelope *env, uint8_t **bufp, size_t *lenp)
{
	*lenp = vsm__envelope__get_packed_size(env);
	if ((*bufp = malloc(*lenp + 1)) == NULL)
		return (-1);
	vsm__envelope__pack(env, *bufp);
	return (0);
}

static int
main_send_env(struct sim_agent *a, const Vsm__Envelope *env)
{
	uint8_t *buf;
	size_t   len;
	int      rc;

	if (pack_env(env, &buf, &len) == -1)
		return (-1);
	rc = main_send_buf(a, buf, len);
	free(buf);
	return (rc);
}

static int
send_poll(struct sim_agent *a)
{
	Vsm__Envelope env = VSM__ENVELOPE__INIT;
	Vsm__Poll     p = VSM__POLL__INIT;

	p.slots = 4;
	env.body_case = VSM__ENVELOPE__BODY_POLL;
	env.poll = &p;
	a->state = S_POLL;
	return (main_send_env(a, &env));
}

/* Answer each task with started and an ok result, in one request. */
static int
send_events(struct sim_agent *a, Vsm__PollReply *pr)
{
	Vsm__Envelope    env = VSM__ENVELOPE__INIT;
	Vsm__Events      evs = VSM__EVENTS__INIT;
	Vsm__TaskEvent   ev[SIM_MAX_EVENTS], *evp[SIM_MAX_EVENTS];
	Vsm__TaskStarted st = VSM__TASK_STARTED__INIT;
	Vsm__TaskResult  res = VSM__TASK_RESULT__INIT;
	size_t           i, n = 0;

	res.status = VSM__TASK_STATUS__TASK_OK;
	res.summary = "pong";
	res.result_json = "{\"pong\":true}";
	st.pid = 1;
	for (i = 0; i < pr->n_tasks && n + 2 <= SIM_MAX_EVENTS; i++) {
		vsm__task_event__init(&ev[n]);
		ev[n].seq = ++a->seq;
		ev[n].task_id = pr->tasks[i]->id;
		ev[n].time_ms = 1;
		ev[n].kind_case = VSM__TASK_EVENT__KIND_STARTED;
		ev[n].started = &st;
		evp[n] = &ev[n];
		n++;
		vsm__task_event__init(&ev[n]);
		ev[n].seq = ++a->seq;
		ev[n].task_id = pr->tasks[i]->id;
		ev[n].time_ms = 1;
		ev[n].kind_case = VSM__TASK_EVENT__KIND_RESULT;
		ev[n].result = &res;
		evp[n] = &ev[n];
		n++;
	}
	atomic_fetch_add(&a->s->tasks, pr->n_tasks);
	evs.events = evp;
	evs.n_events = n;
	env.body_case = VSM__ENVELOPE__BODY_EVENTS;
	env.events = &evs;
	a->state = S_EVENTS;
	/* Kept until acked: a refusal (store busy) is sent again later. */
	free(a->pending);
	if (pack_env(&env, &a->pending, &a->pending_len) == -1)
		return (-1);
	return (main_send_buf(a, a->pending, a->pending_len));
}

static int
send_handshake(struct sim_agent *a)
{
	struct vsm_noise_hs_config cfg = {
	    .protocol = VSM_CHAN_PROTOCOL,
	    .initiator = 1,
	    .prologue = (const uint8_t *)VSM_CHAN_PROLOGUE,
	    .prologue_len = sizeof(VSM_CHAN_PROLOGUE) - 1,
	    .s = a->key.priv,
	    .spub = a->key.pub,
	    .rs = a->s->server_key,
	};
	Vsm__Frame         f = VSM__FRAME__INIT;
	Vsm__HandshakeInit init = VSM__HANDSHAKE_INIT__INIT;
	uint8_t            m1[1024];
	size_t             m1len;
	nng_msg           *msg;

	vsm_noise_hs_free(a->hs);
	a->hs = NULL;
	if (vsm_noise_hs_new(&a->hs, &cfg) != VSM_NOISE_OK ||
	    vsm_noise_hs_write(a->hs, a->hello, a->hello_len, m1, sizeof(m1),
	        &m1len) != VSM_NOISE_OK)
		return (-1);
	init.version = VSM_CHAN_VERSION;
	init.noise.data = m1;
	init.noise.len = m1len;
	f.kind_case = VSM__FRAME__KIND_HS_INIT;
	f.hs_init = &init;
	if (vsm_pack_msg(&f.base, &msg) == -1)
		return (-1);
	a->state = S_HS;
	main_send(a, msg);
	return (0);
}

/* Start a non-blocking dial (nng's own redials pushed out). Locked. */
static void
dial(struct sim_agent *a)
{
	if (nng_dial(a->sock, a->s->url, &a->d, NNG_FLAG_NONBLOCK) == 0)
		a->dialing = 1;
}

/*
 * The session or the attempt failed: drop the session, close the dialer
 * and sleep a full-jitter backoff before the next dial. Locked.
 */
static void
lost(struct sim_agent *a, int was_up)
{
	uint32_t delay;

	if (a->state == S_STOP)
		return;
	atomic_fetch_add(&a->s->lost, 1);
	if (a->sess != NULL) {
		atomic_store(&a->sess->dead, 1);
		vsm_session_unref(a->sess);
		a->sess = NULL;
		atomic_fetch_sub(&a->s->connected, 1);
	}
	a->connected_at = 0;
	if (a->dialing) {
		/* nng_dialer_close waits on nng's task threads: not here. */
		reap(a->s, a->d);
		a->dialing = 0;
	}
	if (was_up)
		a->attempt = 0;
	else if (a->attempt < 32)
		a->attempt++;
	delay = vsm_backoff_delay(
	    a->s->cfg.backoff_base_ms, a->s->cfg.backoff_cap_ms, a->attempt);
	a->state = S_BACKOFF;
	a->wake_at = sim_now_ms() + delay;
}

/* Open a sealed reply into an Envelope; NULL when it does not open. */
static Vsm__Envelope *
open_reply(struct sim_agent *a, nng_msg *msg)
{
	Vsm__Frame    *f;
	Vsm__Envelope *env = NULL;
	enum vsm_drop  why;
	uint8_t       *pt;
	size_t         len;

	f = vsm_frame_unpack(nng_msg_body(msg), nng_msg_len(msg));
	if (f == NULL || f->kind_case != VSM__FRAME__KIND_TRANSPORT ||
	    a->sess == NULL ||
	    vsm_session_open(
	        a->sess, f->transport, SIM_MAX_PAY, &pt, &len, &why) == -1) {
		vsm_frame_free(f);
		return (NULL);
	}
	env = vsm__envelope__unpack(NULL, len, pt);
	free(pt);
	vsm_frame_free(f);
	return (env);
}

/* The Welcome: 0 with a session, -1 otherwise. Locked. */
static int
take_welcome(struct sim_agent *a, nng_msg *msg)
{
	Vsm__Frame   *f;
	Vsm__Welcome *w = NULL;
	uint8_t       pl[4096];
	size_t        pllen;
	int           ret = -1;

	f = vsm_frame_unpack(nng_msg_body(msg), nng_msg_len(msg));
	if (f == NULL || f->kind_case != VSM__FRAME__KIND_HS_RESP ||
	    vsm_noise_hs_read(a->hs, f->hs_resp->noise.data,
	        f->hs_resp->noise.len, pl, sizeof(pl),
	        &pllen) != VSM_NOISE_OK ||
	    (w = vsm__welcome__unpack(NULL, pllen, pl)) == NULL)
		goto out;
	if (w->status != VSM__WELCOME__STATUS__ACCEPTED || w->session_id == 0) {
		atomic_fetch_add(&a->s->refused, 1);
		goto out;
	}
	a->sess = vsm_session_new(
	    a->hs, w->session_id, nng_pipe_id(nng_msg_get_pipe(msg)));
	if (a->sess == NULL)
		goto out;
	a->hb_ms = w->heartbeat_ms ? w->heartbeat_ms : SIM_HB_MS;
	a->hb_due = sim_now_ms() + randombytes_uniform(a->hb_ms) + 1;
	a->connected_at = sim_now_ms();
	atomic_fetch_add(&a->s->connected, 1);
	atomic_fetch_add(&a->s->handshakes, 1);
	ret = 0;
out:
	if (w != NULL)
		vsm__welcome__free_unpacked(w, NULL);
	vsm_frame_free(f);
	vsm_noise_hs_free(a->hs);
	a->hs = NULL;
	return (ret);
}

/* A reply on the main chain, by state. 0 to go on, -1 to start over. */
static int
main_reply(struct sim_agent *a, nng_msg *msg)
{
	Vsm__Envelope *env;
	int            rc = -1;

	if (a->state == S_HS) {
		if (take_welcome(a, msg) == -1)
			return (-1);
		a->attempt = 0;
		return (send_poll(a));
	}
	if ((env = open_reply(a, msg)) == NULL)
		return (-1);
	if (a->state == S_POLL &&
	    env->body_case == VSM__ENVELOPE__BODY_POLL_REPLY) {
		rc = env->poll_reply->n_tasks > 0
		    ? send_events(a, env->poll_reply)
		    : send_poll(a);
	} else if (a->state == S_EVENTS &&
	    env->body_case == VSM__ENVELOPE__BODY_ERROR) {
		/* As vsm-agent's sender: wait, then offer the same again. */
		atomic_fetch_add(&a->s->refusals, 1);
		a->state = S_RESEND;
		a->wake_at = sim_now_ms() +
		    vsm_backoff_delay(SIM_RESEND_MS, SIM_RESEND_MS, 0);
		rc = 0;
	} else if (a->state == S_EVENTS &&
	    env->body_case == VSM__ENVELOPE__BODY_EVENTS_ACK) {
		free(a->pending);
		a->pending = NULL;
		atomic_fetch_add(&a->s->acks, 1);
		if (atomic_load(&a->s->marking) && !a->mark_seen) {
			a->mark_seen = 1;
			a->result_at = sim_now_ms();
		}
		rc = send_poll(a);
	}
	vsm__envelope__free_unpacked(env, NULL);
	return (rc);
}

static void
main_cb(void *arg)
{
	struct sim_agent *a = arg;
	nng_msg          *msg;
	int               rv, was_up;

	pthread_mutex_lock(&a->mtx);
	rv = nng_aio_result(a->aio);
	if (a->state == S_STOP) {
		if ((msg = nng_aio_get_msg(a->aio)) != NULL && rv != 0)
			nng_msg_free(msg);
		goto out;
	}
	if (a->state == S_BACKOFF || a->state == S_RESEND)
		goto out; /* a cancel that came late: the ticker has it */
	if (rv != 0) {
		if (!a->recv && (msg = nng_aio_get_msg(a->aio)) != NULL)
			nng_msg_free(msg);
		lost(a, a->sess != NULL);
		goto out;
	}
	if (!a->recv) {
		a->recv = 1;
		nng_ctx_recv(a->ctx, a->aio);
		goto out;
	}
	msg = nng_aio_get_msg(a->aio);
	was_up = a->sess != NULL || a->state == S_HS;
	rv = main_reply(a, msg);
	nng_msg_free(msg);
	if (rv == -1)
		lost(a, was_up && a->sess != NULL);
out:
	pthread_mutex_unlock(&a->mtx);
}

/* Start a heartbeat (the ticker found it due). Locked. */
static void
hb_send(struct sim_agent *a)
{
	Vsm__Envelope  env = VSM__ENVELOPE__INIT;
	Vsm__Heartbeat hb = VSM__HEARTBEAT__INIT;
	nng_msg       *msg;
	uint8_t        buf[128];
	size_t         len;

	a->hb_due = sim_now_ms() + a->hb_ms;
	hb.seq = ++a->hb_seq;
	hb.cpu_pct = 1;
	hb.mem_pct = 10;
	hb.disk_pct = 20;
	env.body_case = VSM__ENVELOPE__BODY_HEARTBEAT;
	env.heartbeat = &hb;
	len = vsm__envelope__pack(&env, buf);
	if (vsm_session_seal(a->sess, buf, len, &msg) == -1)
		return;
	a->hb_busy = 1;
	a->hrecv = 0;
	nng_aio_set_msg(a->haio, msg);
	nng_ctx_send(a->hctx, a->haio);
}

/* The heartbeat chain: Heartbeat out, HeartbeatAck in, idle. */
static void
hb_cb(void *arg)
{
	struct sim_agent *a = arg;
	Vsm__Envelope    *rep;
	nng_msg          *msg;
	int               rv;

	pthread_mutex_lock(&a->mtx);
	rv = nng_aio_result(a->haio);
	if (rv != 0) {
		if (!a->hrecv && (msg = nng_aio_get_msg(a->haio)) != NULL)
			nng_msg_free(msg);
		a->hb_busy = 0;
		goto out;
	}
	if (!a->hrecv) {
		a->hrecv = 1;
		nng_ctx_recv(a->hctx, a->haio);
		goto out;
	}
	msg = nng_aio_get_msg(a->haio);
	if ((rep = open_reply(a, msg)) != NULL) {
		if (rep->body_case == VSM__ENVELOPE__BODY_HEARTBEAT_ACK)
			atomic_fetch_add(&a->s->heartbeats, 1);
		vsm__envelope__free_unpacked(rep, NULL);
	}
	nng_msg_free(msg);
	a->hb_busy = 0;
out:
	pthread_mutex_unlock(&a->mtx);
}

/*
 * What one agent's timers owe now (backoff over, events to resend, a
 * heartbeat due, a dial out of its window). Locked. 1 when its main aio
 * must be cancelled (by the caller, unlocked).
 */
static int
tick_one(struct sim_agent *a, uint64_t now)
{
	if (a->state == S_STOP)
		return (0);
	if (a->state == S_BACKOFF && now >= a->wake_at) {
		dial(a);
		if (send_handshake(a) == -1)
			lost(a, 0);
		return (0);
	}
	if (a->state == S_RESEND && now >= a->wake_at) {
		a->state = S_EVENTS;
		if (a->pending == NULL ||
		    main_send_buf(a, a->pending, a->pending_len) == -1)
			lost(a, a->sess != NULL);
		return (0);
	}
	if (a->sess != NULL && !a->hb_busy && now >= a->hb_due)
		hb_send(a);
	/* A dial that found no pipe in its window has failed. */
	return (a->state == S_HS && !a->recv && now >= a->hs_deadline);
}

/*
 * The one timer of the simulator: nng keeps aio timeouts and sleeps in a
 * list it walks on every change, which at 10,000 agents costs more than
 * the whole protocol, so every timer here is a field scanned each tick.
 */
static void *
ticker_main(void *arg)
{
	struct sim     *s = arg;
	struct timespec ts = {0, SIM_TICK_MS * 1000000L};
	unsigned        i;
	int             cancel;

	while (!atomic_load(&s->ticker_stop)) {
		uint64_t now = sim_now_ms();

		for (i = 0; i < s->n; i++) {
			pthread_mutex_lock(&s->ag[i].mtx);
			cancel = tick_one(&s->ag[i], now);
			pthread_mutex_unlock(&s->ag[i].mtx);
			if (cancel)
				nng_aio_cancel(s->ag[i].aio);
		}
		nanosleep(&ts, NULL);
	}
	return (NULL);
}

/* A pipe went: cancel what waits on it (its session is dead). */
static void
pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct sim_agent *a = arg;
	int               mine;

	if (ev != NNG_PIPE_EV_REM_POST)
		return;
	pthread_mutex_lock(&a->mtx);
	mine = a->state != S_BACKOFF && a->state != S_STOP &&
	    (a->sess == NULL || a->sess->pipe == (uint32_t)nng_pipe_id(p));
	if (mine && a->sess != NULL)
		atomic_store(&a->sess->dead, 1);
	pthread_mutex_unlock(&a->mtx);
	if (mine) {
		nng_aio_cancel(a->aio);
		nng_aio_cancel(a->haio);
	}
}

static int
agent_init(struct sim *s, unsigned i, struct vsm_err *err)
{
	struct sim_agent *a = &s->ag[i];
	Vsm__Hello        h = VSM__HELLO__INIT;
	Vsm__Label        lab = VSM__LABEL__INIT, *labp = &lab;
	char              name[64], *mods[] = {"sys.ping"};
	int               rv;

	a->s = s;
	a->idx = i;
	pthread_mutex_init(&a->mtx, NULL);
	vsm_keypair_generate(&a->key);
	snprintf(name, sizeof(name), "%s-%05u", s->cfg.prefix, i + 1);
	h.name = name;
	h.agent_version = "sim";
	h.proto_version = 1;
	h.token = (char *)s->cfg.token;
	lab.key = "role";
	lab.value = "sim";
	h.labels = &labp;
	h.n_labels = 1;
	h.modules = mods;
	h.n_modules = 1;
	a->hello_len = vsm__hello__get_packed_size(&h);
	if ((a->hello = malloc(a->hello_len + 1)) == NULL)
		return (vsm_err_set(err, "out of memory"));
	vsm__hello__pack(&h, a->hello);
	if ((rv = nng_req0_open(&a->sock)) != 0)
		return (vsm_err_set(err, "agent %u: %s (file limit?)", i + 1,
		    nng_strerror(rv)));
	/*
	 * Before the contexts open (they copy it): no resend timer. Every
	 * nng timer sits in one list nng walks, which at 10,000 agents
	 * costs more than the whole protocol.
	 */
	nng_socket_set_ms(
	    a->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_size(a->sock, NNG_OPT_RECVMAXSZ, SIM_MAX_PAY + 65536);
	nng_socket_set_ms(a->sock, NNG_OPT_RECONNMINT, 3600 * 1000);
	nng_socket_set_ms(a->sock, NNG_OPT_RECONNMAXT, 3600 * 1000);
	if ((rv = nng_ctx_open(&a->ctx, a->sock)) != 0 ||
	    (rv = nng_ctx_open(&a->hctx, a->sock)) != 0 ||
	    (rv = nng_aio_alloc(&a->aio, main_cb, a)) != 0 ||
	    (rv = nng_aio_alloc(&a->haio, hb_cb, a)) != 0)
		return (vsm_err_set(err, "agent %u: %s (file limit?)", i + 1,
		    nng_strerror(rv)));
	nng_pipe_notify(a->sock, NNG_PIPE_EV_REM_POST, pipe_cb, a);
	return (0);
}

int
sim_new(const struct sim_config *cfg, struct sim **out, struct vsm_err *err)
{
	struct sim *s;
	unsigned    i;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->ag = calloc(cfg->n, sizeof(*s->ag))) == NULL) {
		free(s);
		return (vsm_err_set(err, "out of memory"));
	}
	s->cfg = *cfg;
	snprintf(s->url, sizeof(s->url), "%s", cfg->url);
	memcpy(s->server_key, cfg->server_key, VSM_KEY_LEN);
	s->cfg.url = s->url;
	s->cfg.server_key = s->server_key;
	/* vsm_client's window: 4 x base, 1 to 10 s. */
	s->window_ms = cfg->backoff_base_ms * 4;
	if (s->window_ms < SIM_WINDOW_MIN_MS)
		s->window_ms = SIM_WINDOW_MIN_MS;
	if (s->window_ms > SIM_WINDOW_MS)
		s->window_ms = SIM_WINDOW_MS;
	for (i = 0; i < cfg->n; i++) {
		if (agent_init(s, i, err) == -1) {
			s->n = i + 1;
			sim_free(s);
			return (-1);
		}
	}
	s->n = cfg->n;
	pthread_mutex_init(&s->rmtx, NULL);
	pthread_cond_init(&s->rcv, NULL);
	if (pthread_create(&s->reaper, NULL, reaper_main, s) != 0) {
		sim_free(s);
		return (vsm_err_set(err, "cannot start the reaper thread"));
	}
	s->reaper_up = 1;
	*out = s;
	return (0);
}

void
sim_start(struct sim *s)
{
	unsigned i;

	for (i = 0; i < s->n; i++) {
		struct sim_agent *a = &s->ag[i];

		pthread_mutex_lock(&a->mtx);
		dial(a);
		if (send_handshake(a) == -1)
			lost(a, 0);
		pthread_mutex_unlock(&a->mtx);
	}
	if (pthread_create(&s->ticker, NULL, ticker_main, s) == 0)
		s->ticker_up = 1;
}

unsigned
sim_connected(struct sim *s)
{
	return (atomic_load(&s->connected));
}

void
sim_connect_times(struct sim *s, uint64_t *out)
{
	unsigned i;

	for (i = 0; i < s->n; i++) {
		pthread_mutex_lock(&s->ag[i].mtx);
		out[i] = s->ag[i].connected_at;
		pthread_mutex_unlock(&s->ag[i].mtx);
	}
}

void
sim_mark(struct sim *s)
{
	unsigned i;

	atomic_store(&s->marking, 0);
	for (i = 0; i < s->n; i++) {
		pthread_mutex_lock(&s->ag[i].mtx);
		s->ag[i].mark_seen = 0;
		s->ag[i].result_at = 0;
		pthread_mutex_unlock(&s->ag[i].mtx);
	}
	atomic_store(&s->marking, 1);
}

unsigned
sim_results(struct sim *s, uint64_t *out)
{
	unsigned i, n = 0;

	for (i = 0; i < s->n; i++) {
		pthread_mutex_lock(&s->ag[i].mtx);
		out[i] = s->ag[i].result_at;
		n += out[i] != 0;
		pthread_mutex_unlock(&s->ag[i].mtx);
	}
	return (n);
}

void
sim_stats(struct sim *s, struct sim_stats *st)
{
	st->handshakes = atomic_load(&s->handshakes);
	st->refused = atomic_load(&s->refused);
	st->lost = atomic_load(&s->lost);
	st->tasks = atomic_load(&s->tasks);
	st->acks = atomic_load(&s->acks);
	st->heartbeats = atomic_load(&s->heartbeats);
	st->refusals = atomic_load(&s->refusals);
}

void
sim_free(struct sim *s)
{
	unsigned i;

	if (s == NULL)
		return;
	if (s->ticker_up) {
		atomic_store(&s->ticker_stop, 1);
		pthread_join(s->ticker, NULL);
	}
	for (i = 0; i < s->n; i++) {
		pthread_mutex_lock(&s->ag[i].mtx);
		s->ag[i].state = S_STOP;
		pthread_mutex_unlock(&s->ag[i].mtx);
	}
	for (i = 0; i < s->n; i++) {
		if (s->ag[i].aio != NULL)
			nng_aio_stop(s->ag[i].aio);
		if (s->ag[i].haio != NULL)
			nng_aio_stop(s->ag[i].haio);
	}
	/* The reaper drains its queue before any socket closes. */
	if (s->reaper_up) {
		pthread_mutex_lock(&s->rmtx);
		s->reaper_stop = 1;
		pthread_cond_signal(&s->rcv);
		pthread_mutex_unlock(&s->rmtx);
		pthread_join(s->reaper, NULL);
		pthread_mutex_destroy(&s->rmtx);
		pthread_cond_destroy(&s->rcv);
	}
	for (i = 0; i < s->n; i++) {
		struct sim_agent *a = &s->ag[i];

		nng_close(a->sock);
		nng_aio_free(a->aio);
		nng_aio_free(a->haio);
		vsm_noise_hs_free(a->hs);
		vsm_session_unref(a->sess);
		vsm_keypair_wipe(&a->key);
		free(a->hello);
		free(a->pending);
		pthread_mutex_destroy(&a->mtx);
	}
	free(s->rq);
	free(s->ag);
	free(s);
}
