/*
 * chan_server.c: the controller side of the channel. A REP socket served by
 * a pool of work items (nng context + aio), as in nng's demo/async: each
 * work item receives a request, checks and decrypts it, and either answers
 * at once (handshakes, errors) or hands it to ops->request, which answers
 * through vsm_srv_reply() now or later.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <sodium.h>

#include "chan.h"
#include "listen_backlog.h"
#include "log.h"
#include "map.h"

enum work_state {
	W_INIT,
	W_RECV,
	W_HELD, /* request with the application */
	W_SEND,
};

struct vsm_srv_req {
	struct work        *w;
	struct vsm_session *sess;
	struct vsm_peer     peer;
	uint8_t            *data;
	size_t              len;
};

struct work {
	struct vsm_server *srv;
	enum work_state    state;
	nng_aio           *aio;
	nng_ctx            ctx;
	struct vsm_srv_req req;
};

/* One connected pipe and the session opened on it, if any. */
struct conn {
	uint32_t            pipe;
	struct vsm_session *sess;
	struct vsm_peer     peer;
};

struct vsm_server {
	nng_socket                   sock;
	struct vsm_keypair           key;
	const struct vsm_server_ops *ops;
	void                        *arg;
	size_t                       max_payload;
	char                         version[32];
	struct work                 *works;
	unsigned                     nwork;

	pthread_mutex_t mtx;     /* guards the maps and conns */
	struct vsm_map  by_pipe; /* pipe id -> struct conn */
	struct vsm_map  by_sid;  /* session id -> struct conn */

	_Atomic uint64_t drops[VSM_DROP_MAX];
	_Atomic uint64_t handshakes, requests, pipes_open, sessions_open;
};

static void work_cb(void *);

static void
count_drop(struct vsm_server *srv, enum vsm_drop why, uint32_t pipe)
{
	atomic_fetch_add(&srv->drops[why], 1);
	log_debug("channel: dropped message on pipe %u: %s", pipe,
	    vsm_drop_name(why));
}

static void
work_recv(struct work *w)
{
	w->state = W_RECV;
	nng_ctx_recv(w->ctx, w->aio);
}

static void
work_send(struct work *w, nng_msg *msg)
{
	w->state = W_SEND;
	nng_aio_set_msg(w->aio, msg);
	nng_ctx_send(w->ctx, w->aio);
}

/* Forget the request a work item holds. */
static void
req_release(struct vsm_srv_req *req)
{
	if (req->data != NULL) {
		sodium_memzero(req->data, req->len);
		free(req->data);
	}
	vsm_session_unref(req->sess);
	memset(req, 0, sizeof(*req));
}

/* --- handshakes --------------------------------------------------------- */

static nng_msg *
hs_error_msg(Vsm__HandshakeError__Code code, const char *reason)
{
	Vsm__Frame          f = VSM__FRAME__INIT;
	Vsm__HandshakeError e = VSM__HANDSHAKE_ERROR__INIT;
	nng_msg            *msg;

	e.code = code;
	e.reason = (char *)reason;
	f.kind_case = VSM__FRAME__KIND_HS_ERROR;
	f.hs_error = &e;
	return (vsm_pack_msg(&f.base, &msg) == 0 ? msg : NULL);
}

static uint64_t
new_session_id(struct vsm_server *srv)
{
	uint64_t id;

	do
		randombytes_buf(&id, sizeof(id));
	while (id == 0 || vsm_map_get(&srv->by_sid, id) != NULL);
	return (id);
}

/*
 * Bind an accepted session to its pipe, replacing the session of an
 * earlier handshake by the same key on that pipe. Fails when the pipe is
 * gone or another key holds it. Takes the session reference on success.
 */
static int
bind_session(struct vsm_server *srv, struct vsm_session *s,
    const struct vsm_peer *peer, enum vsm_drop *why)
{
	struct conn        *c;
	struct vsm_session *old = NULL;
	int                 ret = -1;

	pthread_mutex_lock(&srv->mtx);
	if ((c = vsm_map_get(&srv->by_pipe, s->pipe)) == NULL) {
		*why = VSM_DROP_NO_SESSION;
		goto out;
	}
	if (c->sess != NULL &&
	    memcmp(c->sess->peer, s->peer, sizeof(s->peer)) != 0) {
		*why = VSM_DROP_HS_REKEY;
		goto out;
	}
	if (vsm_map_put(&srv->by_sid, s->id, c) == -1) {
		*why = VSM_DROP_OVERSIZE;
		goto out;
	}
	if ((old = c->sess) != NULL) {
		vsm_map_del(&srv->by_sid, old->id);
		atomic_store(&old->dead, 1);
	} else
		atomic_fetch_add(&srv->sessions_open, 1);
	c->sess = s;
	c->peer = *peer;
	ret = 0;
out:
	pthread_mutex_unlock(&srv->mtx);
	vsm_session_unref(old);
	return (ret);
}

/* Is a different key's session already bound to this pipe? */
static int
pipe_taken(struct vsm_server *srv, uint32_t pipe, const uint8_t *key)
{
	struct conn *c;
	int          taken;

	pthread_mutex_lock(&srv->mtx);
	c = vsm_map_get(&srv->by_pipe, pipe);
	taken = c != NULL && c->sess != NULL &&
	    memcmp(c->sess->peer, key, VSM_KEY_LEN) != 0;
	pthread_mutex_unlock(&srv->mtx);
	return (taken);
}

/*
 * Run the responder side of IK on message 1 and build the answer: message 2
 * carrying a Welcome, or a plaintext HandshakeError. Returns the reply (NULL
 * when even that could not be built) and counts any refusal.
 */
static nng_msg *
handle_handshake(
    struct vsm_server *srv, uint32_t pipe, const Vsm__HandshakeInit *init)
{
	struct vsm_noise_hs_config cfg = {
	    .protocol = VSM_CHAN_PROTOCOL,
	    .initiator = 0,
	    .prologue = (const uint8_t *)VSM_CHAN_PROLOGUE,
	    .prologue_len = sizeof(VSM_CHAN_PROLOGUE) - 1,
	    .s = srv->key.priv,
	    .spub = srv->key.pub,
	};
	struct vsm_noise_hs *hs = NULL;
	struct vsm_session  *s = NULL;
	struct vsm_peer      peer;
	Vsm__Hello          *hello = NULL;
	Vsm__Welcome         wel = VSM__WELCOME__INIT;
	Vsm__Frame           f = VSM__FRAME__INIT;
	Vsm__HandshakeResp   resp = VSM__HANDSHAKE_RESP__INIT;
	enum vsm_noise_rc    rc;
	enum vsm_drop        why;
	uint8_t              pl[VSM_HELLO_MAX], out[4096];
	size_t               pllen, wlen, outlen;
	nng_msg             *msg = NULL;

	if (init->version != VSM_CHAN_VERSION) {
		count_drop(srv, VSM_DROP_HS_VERSION, pipe);
		return (hs_error_msg(VSM__HANDSHAKE_ERROR__CODE__VERSION,
		    "unsupported channel version"));
	}
	if (vsm_noise_hs_new(&hs, &cfg) != VSM_NOISE_OK) {
		log_warnx("channel: cannot start a handshake");
		goto out;
	}
	rc = vsm_noise_hs_read(
	    hs, init->noise.data, init->noise.len, pl, sizeof(pl), &pllen);
	if (rc == VSM_NOISE_EDECRYPT) {
		count_drop(srv, VSM_DROP_HS_DECRYPT, pipe);
		msg = hs_error_msg(VSM__HANDSHAKE_ERROR__CODE__DECRYPT,
		    "handshake did not authenticate: the agent's pinned "
		    "controller key does not match this controller");
		goto out;
	}
	if (rc != VSM_NOISE_OK ||
	    (hello = vsm__hello__unpack(NULL, pllen, pl)) == NULL) {
		count_drop(srv, VSM_DROP_HS_MALFORMED, pipe);
		msg = hs_error_msg(VSM__HANDSHAKE_ERROR__CODE__MALFORMED,
		    "malformed handshake");
		goto out;
	}
	memset(&peer, 0, sizeof(peer));
	memcpy(peer.key, vsm_noise_hs_remote_static(hs), VSM_KEY_LEN);
	peer.pipe = pipe;
	if (pipe_taken(srv, pipe, peer.key)) {
		count_drop(srv, VSM_DROP_HS_REKEY, pipe);
		msg = hs_error_msg(VSM__HANDSHAKE_ERROR__CODE__MALFORMED,
		    "this connection belongs to another key");
		goto out;
	}
	pthread_mutex_lock(&srv->mtx);
	peer.session_id = new_session_id(srv);
	pthread_mutex_unlock(&srv->mtx);
	wel.status = VSM__WELCOME__STATUS__UNKNOWN_KEY;
	wel.session_id = peer.session_id;
	wel.controller_version = srv->version;
	if (srv->ops->authorize(srv->arg, &peer, hello, &wel) != 0 ||
	    wel.status != VSM__WELCOME__STATUS__ACCEPTED) {
		if (wel.status == VSM__WELCOME__STATUS__ACCEPTED)
			wel.status = VSM__WELCOME__STATUS__REJECTED;
		wel.session_id = 0;
		count_drop(srv, VSM_DROP_HS_DENIED, pipe);
	}
	if ((wlen = vsm__welcome__get_packed_size(&wel)) > sizeof(pl)) {
		log_warnx("channel: welcome too large");
		goto out;
	}
	vsm__welcome__pack(&wel, pl);
	if ((rc = vsm_noise_hs_write(
	         hs, pl, wlen, out, sizeof(out), &outlen)) != VSM_NOISE_OK) {
		log_warnx(
		    "channel: handshake write: %s", vsm_noise_strerror(rc));
		goto out;
	}
	if (wel.status == VSM__WELCOME__STATUS__ACCEPTED) {
		if ((s = vsm_session_new(hs, peer.session_id, pipe)) == NULL) {
			log_warnx("channel: cannot create a session");
			goto out;
		}
		if (bind_session(srv, s, &peer, &why) == -1) {
			count_drop(srv, why, pipe);
			vsm_session_unref(s);
			goto out;
		}
		atomic_fetch_add(&srv->handshakes, 1);
	}
	resp.noise.data = out;
	resp.noise.len = outlen;
	f.kind_case = VSM__FRAME__KIND_HS_RESP;
	f.hs_resp = &resp;
	if (vsm_pack_msg(&f.base, &msg) == -1)
		msg = NULL;
out:
	/* Never leave an agent waiting: say the handshake failed. */
	if (msg == NULL)
		msg = hs_error_msg(VSM__HANDSHAKE_ERROR__CODE__BUSY,
		    "controller could not complete the handshake; retry");
	if (hello != NULL)
		vsm__hello__free_unpacked(hello, NULL);
	vsm_noise_hs_free(hs);
	sodium_memzero(pl, sizeof(pl));
	return (msg);
}

/* --- transport ---------------------------------------------------------- */

/*
 * Find the session a Transport frame must belong to: the one bound to the
 * pipe it came on. Returns it referenced, or NULL with *why set.
 */
static struct vsm_session *
lookup_session(struct vsm_server *srv, uint32_t pipe, uint64_t sid,
    struct vsm_peer *peer, enum vsm_drop *why)
{
	struct conn        *c;
	struct vsm_session *s = NULL;

	pthread_mutex_lock(&srv->mtx);
	c = vsm_map_get(&srv->by_pipe, pipe);
	if (c == NULL || c->sess == NULL || c->sess->id != sid) {
		if (vsm_map_get(&srv->by_sid, sid) != NULL)
			*why = VSM_DROP_CROSS_PIPE;
		else if (c == NULL || c->sess == NULL)
			*why = VSM_DROP_NO_SESSION;
		else
			*why = VSM_DROP_BAD_SESSION;
		goto out;
	}
	s = c->sess;
	vsm_session_ref(s);
	*peer = c->peer;
out:
	pthread_mutex_unlock(&srv->mtx);
	return (s);
}

/* Decrypt a request and give it to the application; 0 if handed over. */
static int
handle_transport(struct work *w, uint32_t pipe, const Vsm__Transport *t)
{
	struct vsm_server  *srv = w->srv;
	struct vsm_srv_req *req = &w->req;
	enum vsm_drop       why;

	if ((req->sess = lookup_session(
	         srv, pipe, t->session_id, &req->peer, &why)) == NULL) {
		count_drop(srv, why, pipe);
		return (-1);
	}
	if (vsm_session_open(req->sess, t, srv->max_payload, &req->data,
	        &req->len, &why) == -1) {
		count_drop(srv, why, pipe);
		req_release(req);
		return (-1);
	}
	req->w = w;
	atomic_fetch_add(&srv->requests, 1);
	w->state = W_HELD;
	srv->ops->request(srv->arg, req, req->data, req->len);
	return (0);
}

/* Check, then switch: one place per frame kind. */
static void
handle_msg(struct work *w, nng_msg *msg)
{
	struct vsm_server *srv = w->srv;
	uint32_t           pipe = nng_pipe_id(nng_msg_get_pipe(msg));
	Vsm__Frame        *f;
	nng_msg           *reply = NULL;

	f = vsm_frame_unpack(nng_msg_body(msg), nng_msg_len(msg));
	nng_msg_free(msg);
	if (f == NULL) {
		count_drop(srv, VSM_DROP_MALFORMED, pipe);
		work_recv(w);
		return;
	}
	switch (f->kind_case) {
	case VSM__FRAME__KIND_HS_INIT:
		reply = handle_handshake(srv, pipe, f->hs_init);
		break;
	case VSM__FRAME__KIND_TRANSPORT:
		if (handle_transport(w, pipe, f->transport) == 0) {
			vsm_frame_free(f);
			return; /* the application holds the request */
		}
		break;
	default:
		count_drop(srv, VSM_DROP_UNEXPECTED, pipe);
		break;
	}
	vsm_frame_free(f);
	if (reply != NULL)
		work_send(w, reply);
	else
		work_recv(w);
}

static void
work_cb(void *arg)
{
	struct work *w = arg;
	int          rv;

	switch (w->state) {
	case W_INIT:
		work_recv(w);
		break;
	case W_RECV:
		if ((rv = nng_aio_result(w->aio)) != 0) {
			if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
				return;
			work_recv(w);
			break;
		}
		handle_msg(w, nng_aio_get_msg(w->aio));
		break;
	case W_SEND:
		if ((rv = nng_aio_result(w->aio)) != 0) {
			nng_msg_free(nng_aio_get_msg(w->aio));
			if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
				return;
		}
		work_recv(w);
		break;
	case W_HELD:
		/* Only vsm_srv_reply()/vsm_srv_drop() leave this state. */
		break;
	}
}

int
vsm_srv_reply(struct vsm_srv_req *req, const uint8_t *data, size_t len)
{
	struct work *w = req->w;
	nng_msg     *msg;
	int          rv;

	rv = vsm_session_seal(req->sess, data, len, &msg);
	req_release(req);
	if (rv == -1) {
		work_recv(w);
		return (-1);
	}
	work_send(w, msg);
	return (0);
}

void
vsm_srv_drop(struct vsm_srv_req *req)
{
	struct work *w = req->w;

	req_release(req);
	work_recv(w);
}

const struct vsm_peer *
vsm_srv_req_peer(const struct vsm_srv_req *req)
{
	return (&req->peer);
}

/* --- pipes -------------------------------------------------------------- */

static void
pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct vsm_server *srv = arg;
	struct conn       *c;
	uint32_t           id = nng_pipe_id(p);

	switch (ev) {
	case NNG_PIPE_EV_ADD_PRE:
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			nng_pipe_close(p);
			return;
		}
		c->pipe = id;
		pthread_mutex_lock(&srv->mtx);
		if (vsm_map_put(&srv->by_pipe, id, c) == -1) {
			free(c);
			c = NULL;
		}
		pthread_mutex_unlock(&srv->mtx);
		if (c == NULL) {
			nng_pipe_close(p);
			return;
		}
		atomic_fetch_add(&srv->pipes_open, 1);
		break;
	case NNG_PIPE_EV_REM_POST:
		pthread_mutex_lock(&srv->mtx);
		if ((c = vsm_map_del(&srv->by_pipe, id)) != NULL &&
		    c->sess != NULL)
			vsm_map_del(&srv->by_sid, c->sess->id);
		pthread_mutex_unlock(&srv->mtx);
		if (c == NULL)
			return;
		atomic_fetch_sub(&srv->pipes_open, 1);
		if (c->sess != NULL) {
			atomic_store(&c->sess->dead, 1);
			atomic_fetch_sub(&srv->sessions_open, 1);
			if (srv->ops->closed != NULL)
				srv->ops->closed(srv->arg, &c->peer);
			vsm_session_unref(c->sess);
		}
		free(c);
		break;
	default:
		break;
	}
}

int
vsm_server_kick(struct vsm_server *srv, const uint8_t key[VSM_KEY_LEN])
{
	struct conn *c;
	uint32_t    *pipes = NULL;
	size_t       i, n = 0;
	nng_pipe     p = NNG_PIPE_INITIALIZER;

	pthread_mutex_lock(&srv->mtx);
	if (srv->by_pipe.len > 0)
		pipes = calloc(srv->by_pipe.len, sizeof(*pipes));
	for (i = 0; pipes != NULL && i < srv->by_pipe.cap; i++) {
		if ((c = srv->by_pipe.vals[i]) == NULL || c->sess == NULL ||
		    sodium_memcmp(c->sess->peer, key, VSM_KEY_LEN) != 0)
			continue;
		atomic_store(&c->sess->dead, 1);
		pipes[n++] = c->pipe;
	}
	pthread_mutex_unlock(&srv->mtx);
	for (i = 0; i < n; i++) {
		p.id = pipes[i];
		nng_pipe_close(p);
	}
	free(pipes);
	return ((int)n);
}

/* --- life cycle --------------------------------------------------------- */

/*
 * Free a server whose socket is closed: stop every work item (waiting for
 * callbacks in progress), release requests the application still held,
 * and drop every connection. The application must not touch its held
 * requests once vsm_server_stop() has been called.
 */
static void
server_free(struct vsm_server *srv)
{
	struct conn *c;
	unsigned     i;

	for (i = 0; srv->works != NULL && i < srv->nwork; i++) {
		struct work *w = &srv->works[i];

		if (w->aio != NULL) {
			nng_aio_stop(w->aio);
			nng_aio_free(w->aio);
		}
		req_release(&w->req);
	}
	free(srv->works);
	for (i = 0; i < srv->by_pipe.cap; i++) {
		if ((c = srv->by_pipe.vals[i]) == NULL)
			continue;
		vsm_session_unref(c->sess);
		free(c);
	}
	vsm_map_clear(&srv->by_pipe);
	vsm_map_clear(&srv->by_sid);
	pthread_mutex_destroy(&srv->mtx);
	sodium_memzero(&srv->key, sizeof(srv->key));
	free(srv);
}

int
vsm_server_start(struct vsm_server **srvp, const struct vsm_server_config *cfg,
    struct vsm_err *err)
{
	struct vsm_server *srv;
	nng_listener       l;
	size_t             maxmsg;
	unsigned           i;
	int                rv;

	*srvp = NULL;
	if (sodium_init() < 0)
		return (vsm_err_set(err, "libsodium failed to initialise"));
	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		return (vsm_err_set(err, "out of memory"));
	srv->key = *cfg->key;
	srv->ops = cfg->ops;
	srv->arg = cfg->arg;
	srv->max_payload = cfg->max_payload ? cfg->max_payload
	                                    : VSM_SERVER_MAX_PAYLOAD_DEFAULT;
	snprintf(srv->version, sizeof(srv->version), "%s",
	    cfg->version ? cfg->version : VSM_VERSION);
	srv->nwork = cfg->nctx ? cfg->nctx : VSM_SERVER_NCTX_DEFAULT;
	pthread_mutex_init(&srv->mtx, NULL);
	vsm_map_init(&srv->by_pipe);
	vsm_map_init(&srv->by_sid);

	if ((rv = nng_rep0_open(&srv->sock)) != 0) {
		vsm_err_set(err, "nng_rep0_open: %s", nng_strerror(rv));
		goto fail_nosock;
	}
	/* Room for the payload, its tags and the framing around them. */
	maxmsg = srv->max_payload +
	    (srv->max_payload / VSM_CHUNK_MAX + 1) * (VSM_NOISE_TAGLEN + 8) +
	    4096;
	nng_socket_set_size(srv->sock, NNG_OPT_RECVMAXSZ, maxmsg);
	nng_pipe_notify(srv->sock, NNG_PIPE_EV_ADD_PRE, pipe_cb, srv);
	nng_pipe_notify(srv->sock, NNG_PIPE_EV_REM_POST, pipe_cb, srv);
	if ((srv->works = calloc(srv->nwork, sizeof(*srv->works))) == NULL) {
		vsm_err_set(err, "out of memory");
		goto fail;
	}
	for (i = 0; i < srv->nwork; i++) {
		struct work *w = &srv->works[i];

		w->srv = srv;
		if ((rv = nng_aio_alloc(&w->aio, work_cb, w)) != 0 ||
		    (rv = nng_ctx_open(&w->ctx, srv->sock)) != 0) {
			vsm_err_set(err, "nng context: %s", nng_strerror(rv));
			goto fail;
		}
	}
	if ((rv = nng_listen(srv->sock, cfg->url, &l, 0)) != 0) {
		vsm_err_set(
		    err, "listen on %s: %s", cfg->url, nng_strerror(rv));
		goto fail;
	}
	/* nng's 128 overflows when a fleet reconnects at once. */
	if (strncmp(cfg->url, "tcp", 3) == 0 &&
	    vsm_listen_backlog(l, VSM_LISTEN_BACKLOG) == 0)
		log_warnx(
		    "channel: %s: accept queue left at nng's 128", cfg->url);
	for (i = 0; i < srv->nwork; i++)
		work_cb(&srv->works[i]);
	*srvp = srv;
	return (0);
fail:
	nng_close(srv->sock);
fail_nosock:
	server_free(srv);
	return (-1);
}

void
vsm_server_stop(struct vsm_server *srv)
{
	if (srv == NULL)
		return;
	nng_close(srv->sock);
	server_free(srv);
}

void
vsm_server_stats(struct vsm_server *srv, struct vsm_server_stats *st)
{
	int i;

	for (i = 0; i < VSM_DROP_MAX; i++)
		st->drops[i] = atomic_load(&srv->drops[i]);
	st->handshakes = atomic_load(&srv->handshakes);
	st->requests = atomic_load(&srv->requests);
	st->pipes_open = atomic_load(&srv->pipes_open);
	st->sessions_open = atomic_load(&srv->sessions_open);
}
