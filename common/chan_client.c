/*
 * chan_client.c: the agent side of the channel. A REQ socket dialing the
 * controller; one IK session per pipe, opened by the first request after
 * the pipe comes up. When the pipe goes away the session dies with it and
 * every request still in flight is cancelled, so that REQ never re-sends
 * an old session's ciphertext on the next connection (DESIGN.md 4).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <sodium.h>

#include "backoff.h"
#include "chan.h"
#include "log.h"
#include "map.h"

#define MAX_INFLIGHT 1024
/* How long one connect attempt may take to bring its pipe up. */
#define DIAL_WINDOW_MIN_MS 1000
#define DIAL_WINDOW_MAX_MS 10000

struct call {
	nng_aio *aio;
	nng_ctx  ctx;
	uint32_t pipe; /* the session's pipe when the call started */
};

struct vsm_client {
	nng_socket         sock;
	char               url[256];
	struct vsm_keypair key;
	uint8_t            server_key[VSM_KEY_LEN];
	uint8_t           *hello; /* packed Hello */
	size_t             hello_len;
	size_t             max_payload;

	pthread_mutex_t     hs_mtx;  /* one handshake at a time */
	pthread_mutex_t     mtx;     /* guards what follows */
	pthread_cond_t      dial_cv; /* a pipe went, or closing */
	pthread_t           dial_thr;
	int                 dial_started;
	int                 closing;
	int                 cancelled; /* vsm_client_cancel: no new calls */
	uint32_t            backoff_base_ms, backoff_cap_ms;
	struct vsm_session *sess;
	struct vsm_map      pipes; /* live pipe ids -> (void *)1 */
	struct call        *inflight[MAX_INFLIGHT];
	struct call        *idle[MAX_INFLIGHT]; /* reusable calls */
	size_t              nidle;

	_Atomic uint64_t drops[VSM_DROP_MAX];
	_Atomic uint64_t handshakes, pipes_lost, dials, dial_failures;
};

static void
count_drop(struct vsm_client *c, enum vsm_drop why)
{
	atomic_fetch_add(&c->drops[why], 1);
	log_debug("channel: dropped reply: %s", vsm_drop_name(why));
}

/*
 * Pipe events. On removal the session bound to the pipe dies and every
 * call in flight on it is cancelled before REQ can re-send it elsewhere.
 */
static void
pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct vsm_client  *c = arg;
	struct vsm_session *dead = NULL;
	uint32_t            id = nng_pipe_id(p);
	size_t              i;

	pthread_mutex_lock(&c->mtx);
	if (ev == NNG_PIPE_EV_ADD_PRE) {
		if (vsm_map_put(&c->pipes, id, (void *)1) == -1)
			nng_pipe_close(p);
		pthread_cond_broadcast(&c->dial_cv);
		pthread_mutex_unlock(&c->mtx);
		return;
	}
	vsm_map_del(&c->pipes, id);
	atomic_fetch_add(&c->pipes_lost, 1);
	pthread_cond_broadcast(&c->dial_cv);
	if (c->sess != NULL && c->sess->pipe == id) {
		dead = c->sess;
		c->sess = NULL;
		atomic_store(&dead->dead, 1);
	}
	/*
	 * Handshakes (pipe 0) are left alone: one sent on this pipe fails by
	 * itself, one still queued goes out on the next pipe, which is right.
	 */
	for (i = 0; i < MAX_INFLIGHT; i++)
		if (c->inflight[i] != NULL && c->inflight[i]->pipe == id)
			nng_aio_cancel(c->inflight[i]->aio);
	pthread_mutex_unlock(&c->mtx);
	vsm_session_unref(dead);
}

static struct call *
call_get(struct vsm_client *c)
{
	struct call *k = NULL;

	pthread_mutex_lock(&c->mtx);
	if (c->nidle > 0)
		k = c->idle[--c->nidle];
	pthread_mutex_unlock(&c->mtx);
	if (k != NULL)
		return (k);
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return (NULL);
	if (nng_aio_alloc(&k->aio, NULL, NULL) != 0) {
		free(k);
		return (NULL);
	}
	if (nng_ctx_open(&k->ctx, c->sock) != 0) {
		nng_aio_free(k->aio);
		free(k);
		return (NULL);
	}
	return (k);
}

static void
call_destroy(struct call *k)
{
	if (k == NULL)
		return;
	nng_aio_free(k->aio);
	nng_ctx_close(k->ctx);
	free(k);
}

/*
 * Return a call to the idle list. A call that failed is closed instead: its
 * context may still hold a request that REQ would re-send.
 */
static void
call_put(struct vsm_client *c, struct call *k, int failed)
{
	pthread_mutex_lock(&c->mtx);
	if (!failed && c->nidle < MAX_INFLIGHT) {
		c->idle[c->nidle++] = k;
		k = NULL;
	}
	pthread_mutex_unlock(&c->mtx);
	call_destroy(k);
}

/* Register a call so that a pipe loss can cancel it; -1 when full. */
static int
inflight_add(struct vsm_client *c, struct call *k, uint32_t pipe)
{
	size_t i;
	int    ret = -1;

	pthread_mutex_lock(&c->mtx);
	k->pipe = pipe;
	/* The session's pipe already went, or the client stops: do not
	 * start. */
	if (c->cancelled || (pipe != 0 && vsm_map_get(&c->pipes, pipe) == NULL))
		goto out;
	for (i = 0; i < MAX_INFLIGHT; i++)
		if (c->inflight[i] == NULL) {
			c->inflight[i] = k;
			ret = 0;
			break;
		}
out:
	pthread_mutex_unlock(&c->mtx);
	return (ret);
}

static void
inflight_del(struct vsm_client *c, struct call *k)
{
	size_t i;

	pthread_mutex_lock(&c->mtx);
	for (i = 0; i < MAX_INFLIGHT; i++)
		if (c->inflight[i] == k)
			c->inflight[i] = NULL;
	pthread_mutex_unlock(&c->mtx);
}

/*
 * Send `msg` (consumed) and wait for the reply on one context. `pipe` is
 * the session's pipe, or 0 for a handshake. Returns the reply or NULL with
 * err set.
 */
static nng_msg *
roundtrip(struct vsm_client *c, nng_msg *msg, uint32_t pipe, int timeout_ms,
    struct vsm_err *err)
{
	struct call *k;
	nng_msg     *reply = NULL;
	int          rv, failed = 1;

	if ((k = call_get(c)) == NULL) {
		nng_msg_free(msg);
		vsm_err_set(err, "out of memory");
		return (NULL);
	}
	if (inflight_add(c, k, pipe) == -1) {
		nng_msg_free(msg);
		vsm_err_set(err, "connection to %s lost", c->url);
		call_put(c, k, 0);
		return (NULL);
	}
	nng_aio_set_timeout(k->aio, timeout_ms);
	nng_aio_set_msg(k->aio, msg);
	nng_ctx_send(k->ctx, k->aio);
	nng_aio_wait(k->aio);
	if ((rv = nng_aio_result(k->aio)) != 0) {
		nng_msg_free(nng_aio_get_msg(k->aio));
		goto out;
	}
	nng_ctx_recv(k->ctx, k->aio);
	nng_aio_wait(k->aio);
	if ((rv = nng_aio_result(k->aio)) != 0)
		goto out;
	reply = nng_aio_get_msg(k->aio);
	failed = 0;
out:
	inflight_del(c, k);
	call_put(c, k, failed);
	if (reply == NULL) {
		if (rv == NNG_ETIMEDOUT)
			vsm_err_set(err, "no answer from %s within %d ms",
			    c->url, timeout_ms);
		else if (rv == NNG_ECANCELED || rv == NNG_ECONNRESET ||
		    rv == NNG_ECONNSHUT)
			vsm_err_set(err, "connection to %s lost", c->url);
		else
			vsm_err_set(err, "%s: %s", c->url, nng_strerror(rv));
	}
	return (reply);
}

static const char *
welcome_status_text(Vsm__Welcome__Status st)
{
	switch (st) {
	case VSM__WELCOME__STATUS__PENDING:
		return ("our key is pending: an operator must accept it");
	case VSM__WELCOME__STATUS__REJECTED:
		return ("our key was rejected by the controller");
	case VSM__WELCOME__STATUS__UNKNOWN_KEY:
		return ("the controller does not know our key and no valid "
		        "enrollment token was given");
	default:
		return ("the controller refused the session");
	}
}

/* Read the controller's plaintext refusal into a clear error. */
static int
hs_refused(
    struct vsm_client *c, const Vsm__HandshakeError *e, struct vsm_err *err)
{
	char pin[VSM_KEY_B64LEN];

	vsm_key_encode(c->server_key, pin);
	if (e->code == VSM__HANDSHAKE_ERROR__CODE__DECRYPT)
		return (vsm_err_set(err,
		    "%s could not authenticate our handshake: it does not "
		    "hold the private key of the pinned controller key %s "
		    "(wrong --controller-key, or a different controller)",
		    c->url, pin));
	return (vsm_err_set(err, "%s refused the handshake: %.200s", c->url,
	    e->reason ? e->reason : "no reason given"));
}

/*
 * Run the initiator side of IK: message 1 with our Hello out, message 2
 * with the Welcome back. On ACCEPTED the new session becomes current.
 * Called with hs_mtx held.
 */
static int
handshake(
    struct vsm_client *c, int timeout_ms, int *status, struct vsm_err *err)
{
	struct vsm_noise_hs_config cfg = {
	    .protocol = VSM_CHAN_PROTOCOL,
	    .initiator = 1,
	    .prologue = (const uint8_t *)VSM_CHAN_PROLOGUE,
	    .prologue_len = sizeof(VSM_CHAN_PROLOGUE) - 1,
	    .s = c->key.priv,
	    .spub = c->key.pub,
	    .rs = c->server_key,
	};
	struct vsm_noise_hs *hs = NULL;
	struct vsm_session  *s, *old;
	Vsm__Frame           f = VSM__FRAME__INIT, *rf = NULL;
	Vsm__HandshakeInit   init = VSM__HANDSHAKE_INIT__INIT;
	Vsm__Welcome        *wel = NULL;
	uint8_t              m1[VSM_HELLO_MAX + 256], pl[4096];
	size_t               m1len, pllen;
	nng_msg             *msg, *reply = NULL;
	uint32_t             pipe;
	int                  ret = -1;

	if (vsm_noise_hs_new(&hs, &cfg) != VSM_NOISE_OK ||
	    vsm_noise_hs_write(hs, c->hello, c->hello_len, m1, sizeof(m1),
	        &m1len) != VSM_NOISE_OK) {
		vsm_err_set(err, "cannot start a handshake");
		goto out;
	}
	init.version = VSM_CHAN_VERSION;
	init.noise.data = m1;
	init.noise.len = m1len;
	f.kind_case = VSM__FRAME__KIND_HS_INIT;
	f.hs_init = &init;
	if (vsm_pack_msg(&f.base, &msg) == -1) {
		vsm_err_set(err, "out of memory");
		goto out;
	}
	if ((reply = roundtrip(c, msg, 0, timeout_ms, err)) == NULL)
		goto out;
	pipe = nng_pipe_id(nng_msg_get_pipe(reply));
	rf = vsm_frame_unpack(nng_msg_body(reply), nng_msg_len(reply));
	if (rf == NULL) {
		count_drop(c, VSM_DROP_HS_MALFORMED);
		vsm_err_set(
		    err, "%s answered the handshake with garbage", c->url);
		goto out;
	}
	switch (rf->kind_case) {
	case VSM__FRAME__KIND_HS_ERROR:
		hs_refused(c, rf->hs_error, err);
		goto out;
	case VSM__FRAME__KIND_HS_RESP:
		break;
	default:
		count_drop(c, VSM_DROP_UNEXPECTED);
		vsm_err_set(
		    err, "%s answered the handshake out of turn", c->url);
		goto out;
	}
	if (vsm_noise_hs_read(hs, rf->hs_resp->noise.data,
	        rf->hs_resp->noise.len, pl, sizeof(pl),
	        &pllen) != VSM_NOISE_OK) {
		count_drop(c, VSM_DROP_HS_DECRYPT);
		vsm_err_set(err,
		    "%s failed to prove the pinned controller key: refusing "
		    "to talk to it",
		    c->url);
		goto out;
	}
	if ((wel = vsm__welcome__unpack(NULL, pllen, pl)) == NULL) {
		count_drop(c, VSM_DROP_HS_MALFORMED);
		vsm_err_set(err, "%s sent a malformed welcome", c->url);
		goto out;
	}
	if (status != NULL)
		*status = wel->status;
	if (wel->status != VSM__WELCOME__STATUS__ACCEPTED) {
		vsm_err_set(err, "%s: %s%s%.200s", c->url,
		    welcome_status_text(wel->status),
		    wel->reason && *wel->reason ? ": " : "",
		    wel->reason ? wel->reason : "");
		goto out;
	}
	if (wel->session_id == 0 ||
	    (s = vsm_session_new(hs, wel->session_id, pipe)) == NULL) {
		vsm_err_set(err, "%s sent an unusable welcome", c->url);
		goto out;
	}
	pthread_mutex_lock(&c->mtx);
	if (vsm_map_get(&c->pipes, pipe) == NULL) {
		/* The pipe went away while we handshook. */
		pthread_mutex_unlock(&c->mtx);
		vsm_session_unref(s);
		vsm_err_set(err, "connection to %s lost", c->url);
		goto out;
	}
	old = c->sess;
	c->sess = s;
	pthread_mutex_unlock(&c->mtx);
	vsm_session_unref(old);
	atomic_fetch_add(&c->handshakes, 1);
	ret = 0;
out:
	if (wel != NULL)
		vsm__welcome__free_unpacked(wel, NULL);
	vsm_frame_free(rf);
	if (reply != NULL)
		nng_msg_free(reply);
	vsm_noise_hs_free(hs);
	sodium_memzero(pl, sizeof(pl));
	return (ret);
}

/* The current live session, referenced, or NULL. */
static struct vsm_session *
current_session(struct vsm_client *c)
{
	struct vsm_session *s;

	pthread_mutex_lock(&c->mtx);
	if ((s = c->sess) != NULL)
		vsm_session_ref(s);
	pthread_mutex_unlock(&c->mtx);
	return (s);
}

int
vsm_client_connect(
    struct vsm_client *c, int timeout_ms, int *status, struct vsm_err *err)
{
	struct vsm_session *s;
	int                 ret = 0;

	if (status != NULL)
		*status = 0;
	pthread_mutex_lock(&c->hs_mtx);
	if ((s = current_session(c)) == NULL)
		ret = handshake(c, timeout_ms, status, err);
	else if (status != NULL)
		*status = VSM__WELCOME__STATUS__ACCEPTED;
	pthread_mutex_unlock(&c->hs_mtx);
	vsm_session_unref(s);
	return (ret);
}

/* Open a reply: it must be a Transport of our session on its pipe. */
static int
open_reply(struct vsm_client *c, struct vsm_session *s, nng_msg *reply,
    uint8_t **ptp, size_t *lenp, struct vsm_err *err)
{
	Vsm__Frame   *f;
	enum vsm_drop why = VSM_DROP_MALFORMED;
	int           ret = -1;

	if ((uint32_t)nng_pipe_id(nng_msg_get_pipe(reply)) != s->pipe)
		why = VSM_DROP_CROSS_PIPE;
	else if ((f = vsm_frame_unpack(
	              nng_msg_body(reply), nng_msg_len(reply))) != NULL) {
		if (f->kind_case != VSM__FRAME__KIND_TRANSPORT)
			why = VSM_DROP_UNEXPECTED;
		else if (f->transport->session_id != s->id)
			why = VSM_DROP_BAD_SESSION;
		else
			ret = vsm_session_open(
			    s, f->transport, c->max_payload, ptp, lenp, &why);
		vsm_frame_free(f);
	}
	if (ret == -1) {
		count_drop(c, why);
		vsm_err_set(err, "reply from %s dropped: %s", c->url,
		    vsm_drop_name(why));
	}
	return (ret);
}

int
vsm_client_call(struct vsm_client *c, const uint8_t *req, size_t len,
    uint8_t **replyp, size_t *rlenp, int timeout_ms, struct vsm_err *err)
{
	struct vsm_session *s = NULL;
	nng_msg            *msg, *reply = NULL;
	int                 ret = -1;

	*replyp = NULL;
	*rlenp = 0;
	pthread_mutex_lock(&c->mtx);
	if (c->cancelled) {
		pthread_mutex_unlock(&c->mtx);
		return (vsm_err_set(err, "client to %s stopping", c->url));
	}
	pthread_mutex_unlock(&c->mtx);
	if (len > c->max_payload)
		return (vsm_err_set(err,
		    "request of %zu bytes above the "
		    "%zu-byte cap",
		    len, c->max_payload));
	if ((s = current_session(c)) == NULL) {
		if (vsm_client_connect(c, timeout_ms, NULL, err) == -1)
			return (-1);
		if ((s = current_session(c)) == NULL)
			return (
			    vsm_err_set(err, "connection to %s lost", c->url));
	}
	if (vsm_session_seal(s, req, len, &msg) == -1) {
		vsm_err_set(err, "cannot seal a request to %s", c->url);
		goto out;
	}
	if ((reply = roundtrip(c, msg, s->pipe, timeout_ms, err)) == NULL)
		goto out;
	ret = open_reply(c, s, reply, replyp, rlenp, err);
out:
	if (reply != NULL)
		nng_msg_free(reply);
	vsm_session_unref(s);
	return (ret);
}

/*
 * Wait up to ms on dial_cv, with c->mtx held. With `for_pipe` set, until a
 * pipe is up (closing or not: a dialer closed mid-connect makes nng 1.5
 * leak, so a connect in progress is given its window); otherwise until the
 * time is up or the client closes.
 */
static void
dial_wait(struct vsm_client *c, uint32_t ms, int for_pipe)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while ((for_pipe ? c->pipes.len == 0 : !c->closing) &&
	    pthread_cond_timedwait(&c->dial_cv, &c->mtx, &ts) == 0)
		;
}

/*
 * The dialer thread. Each attempt starts one non-blocking dial (nng's own
 * retries are pushed an hour out) and gives it a window to bring a pipe
 * up; it then waits until that pipe goes, closes the dialer, and waits a
 * full-jitter backoff before the next attempt. An attempt that brought no
 * pipe grows the backoff; one that did resets it. So a fleet that loses
 * its controller at one moment comes back spread over the backoff window.
 *
 * nng 1.5 deadlocks when nng_close() meets a blocking nng_dial() in
 * another thread, and leaks when the socket closes under a dial still in
 * progress: hence the non-blocking dial, and vsm_client_close() joining
 * this thread (which closes its dialer on the way out) before it closes
 * the socket.
 */
static void *
dial_main(void *arg)
{
	struct vsm_client *c = arg;
	nng_dialer         d;
	unsigned           attempt = 0;
	uint32_t           window;
	int                rv, up;

	window = c->backoff_base_ms * 4;
	if (window < DIAL_WINDOW_MIN_MS)
		window = DIAL_WINDOW_MIN_MS;
	if (window > DIAL_WINDOW_MAX_MS)
		window = DIAL_WINDOW_MAX_MS;
	pthread_mutex_lock(&c->mtx);
	while (!c->closing) {
		pthread_mutex_unlock(&c->mtx);
		atomic_fetch_add(&c->dials, 1);
		rv = nng_dial(c->sock, c->url, &d, NNG_FLAG_NONBLOCK);
		pthread_mutex_lock(&c->mtx);
		up = 0;
		if (rv == 0) {
			dial_wait(c, window, 1);
			up = c->pipes.len > 0;
			while (!c->closing && c->pipes.len > 0)
				pthread_cond_wait(&c->dial_cv, &c->mtx);
			pthread_mutex_unlock(&c->mtx);
			nng_dialer_close(d);
			pthread_mutex_lock(&c->mtx);
		} else if (rv != NNG_ECLOSED)
			log_debug(
			    "channel: dial %s: %s", c->url, nng_strerror(rv));
		if (up)
			attempt = 0;
		else {
			atomic_fetch_add(&c->dial_failures, 1);
			if (attempt < 32)
				attempt++;
		}
		if (!c->closing)
			dial_wait(c,
			    vsm_backoff_delay(
			        c->backoff_base_ms, c->backoff_cap_ms, attempt),
			    0);
	}
	pthread_mutex_unlock(&c->mtx);
	return (NULL);
}

int
vsm_client_open(struct vsm_client **cp, const struct vsm_client_config *cfg,
    struct vsm_err *err)
{
	struct vsm_client *c;
	nng_dialer         probe;
	int                rv;

	*cp = NULL;
	if (sodium_init() < 0)
		return (vsm_err_set(err, "libsodium failed to initialise"));
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return (vsm_err_set(err, "out of memory"));
	snprintf(c->url, sizeof(c->url), "%s", cfg->url);
	c->key = *cfg->key;
	memcpy(c->server_key, cfg->server_key, VSM_KEY_LEN);
	c->max_payload = cfg->max_payload ? cfg->max_payload
	                                  : VSM_SERVER_MAX_PAYLOAD_DEFAULT;
	pthread_mutex_init(&c->hs_mtx, NULL);
	pthread_mutex_init(&c->mtx, NULL);
	pthread_cond_init(&c->dial_cv, NULL);
	c->backoff_base_ms = cfg->backoff_base_ms > 0 ? cfg->backoff_base_ms
	                                              : VSM_CLIENT_BACKOFF_BASE;
	c->backoff_cap_ms = cfg->backoff_cap_ms > 0 ? cfg->backoff_cap_ms
	                                            : VSM_CLIENT_BACKOFF_CAP;
	vsm_map_init(&c->pipes);
	c->hello_len = vsm__hello__get_packed_size(cfg->hello);
	if (c->hello_len > VSM_HELLO_MAX ||
	    (c->hello = malloc(c->hello_len + 1)) == NULL) {
		vsm_err_set(err, "hello too large");
		goto fail_nosock;
	}
	vsm__hello__pack(cfg->hello, c->hello);
	if ((rv = nng_req0_open(&c->sock)) != 0) {
		vsm_err_set(err, "nng_req0_open: %s", nng_strerror(rv));
		goto fail_nosock;
	}
	/* A held request must never be re-sent to a second context. */
	nng_socket_set_ms(
	    c->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ,
	    c->max_payload +
	        (c->max_payload / VSM_CHUNK_MAX + 1) * (VSM_NOISE_TAGLEN + 8) +
	        4096);
	/* Redialing is ours (dial_main), never nng's own schedule. */
	nng_socket_set_ms(c->sock, NNG_OPT_RECONNMINT, 3600 * 1000);
	nng_socket_set_ms(c->sock, NNG_OPT_RECONNMAXT, 3600 * 1000);
	nng_pipe_notify(c->sock, NNG_PIPE_EV_ADD_PRE, pipe_cb, c);
	nng_pipe_notify(c->sock, NNG_PIPE_EV_REM_POST, pipe_cb, c);
	/* Check the URL now, so that a typo is an error of open(). */
	if ((rv = nng_dialer_create(&probe, c->sock, c->url)) != 0) {
		vsm_err_set(err, "dial %s: %s", c->url, nng_strerror(rv));
		goto fail;
	}
	nng_dialer_close(probe);
	if (pthread_create(&c->dial_thr, NULL, dial_main, c) != 0) {
		vsm_err_set(err, "cannot start the dialer thread");
		goto fail;
	}
	c->dial_started = 1;
	*cp = c;
	return (0);
fail:
	nng_close(c->sock);
fail_nosock:
	free(c->hello);
	vsm_map_clear(&c->pipes);
	pthread_cond_destroy(&c->dial_cv);
	pthread_mutex_destroy(&c->mtx);
	pthread_mutex_destroy(&c->hs_mtx);
	sodium_memzero(&c->key, sizeof(c->key));
	free(c);
	return (-1);
}

void
vsm_client_cancel(struct vsm_client *c)
{
	size_t i;

	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mtx);
	c->cancelled = 1;
	for (i = 0; i < MAX_INFLIGHT; i++)
		if (c->inflight[i] != NULL)
			nng_aio_cancel(c->inflight[i]->aio);
	pthread_mutex_unlock(&c->mtx);
}

void
vsm_client_close(struct vsm_client *c)
{
	size_t i;

	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mtx);
	c->closing = 1;
	pthread_cond_broadcast(&c->dial_cv);
	pthread_mutex_unlock(&c->mtx);
	/* The dialer thread closes its dialer and ends; then the socket. */
	if (c->dial_started)
		pthread_join(c->dial_thr, NULL);
	nng_close(c->sock);
	for (i = 0; i < c->nidle; i++)
		call_destroy(c->idle[i]);
	vsm_session_unref(c->sess);
	vsm_map_clear(&c->pipes);
	pthread_cond_destroy(&c->dial_cv);
	pthread_mutex_destroy(&c->mtx);
	pthread_mutex_destroy(&c->hs_mtx);
	free(c->hello);
	sodium_memzero(&c->key, sizeof(c->key));
	free(c);
}

void
vsm_client_stats(struct vsm_client *c, struct vsm_client_stats *st)
{
	int i;

	for (i = 0; i < VSM_DROP_MAX; i++)
		st->drops[i] = atomic_load(&c->drops[i]);
	st->handshakes = atomic_load(&c->handshakes);
	st->pipes_lost = atomic_load(&c->pipes_lost);
	st->dials = atomic_load(&c->dials);
	st->dial_failures = atomic_load(&c->dial_failures);
}
