/*
 * chan.h: the encrypted agent channel over nng REQ/REP (DESIGN.md section
 * 4, docs/protocol.md).
 *
 * The controller side is a REP listener served by a pool of nng contexts;
 * each request is decrypted and handed to ops->request, which answers at
 * once or holds the request (a long poll) and answers later from any
 * thread. The agent side is a REQ dialer that opens one IK session per
 * pipe and sends requests through as many contexts as its callers use.
 *
 * Nothing that arrives before a handshake, on another pipe, replayed,
 * forged or malformed ever reaches ops->request: it is dropped and counted
 * per reason (enum vsm_drop), and the server goes on serving.
 */
#ifndef VSM_CHAN_H
#define VSM_CHAN_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "keyfile.h"
#include "session.h"

/*
 * Task ids the agent gives its own sys.facts runs (after every new
 * session); the controller keeps their result as the host's facts.
 */
#define VSM_FACTS_TASK_PREFIX "facts:"

/*
 * The largest packed Hello (IK message 1's payload): room for a host's
 * labels and its capabilities (256 modules and 256 commands of ordinary
 * length). The client refuses a larger one, the server cannot read one.
 */
#define VSM_HELLO_MAX 16384

/* ------------------------------------------------------------------------ */
/* Controller side */

struct vsm_server;
struct vsm_srv_req;

/* What a peer is, as the handlers see it. */
struct vsm_peer {
	uint8_t  key[VSM_KEY_LEN];
	uint64_t session_id;
	uint32_t pipe;
	void    *udata; /* set by ops->authorize, passed back to handlers */
};

struct vsm_server_ops {
	/*
	 * Decide on an authenticated handshake: the peer's key is proven,
	 * `hello` is what it said. Fill `w` (status, reason, heartbeat) and
	 * return 0 to open a session when w->status is ACCEPTED; any other
	 * status answers the agent and opens nothing. Called on an nng
	 * thread; must not block for long.
	 */
	int (*authorize)(void *arg, struct vsm_peer *peer,
	    const Vsm__Hello *hello, Vsm__Welcome *w);
	/*
	 * A decrypted request. `data` is owned by the server and valid until
	 * the request is answered. Answer with vsm_srv_reply() now or later.
	 */
	void (*request)(void *arg, struct vsm_srv_req *req, const uint8_t *data,
	    size_t len);
	/* The session of `peer` ended (pipe closed, kicked). Optional. */
	void (*closed)(void *arg, struct vsm_peer *peer);
};

struct vsm_server_config {
	const char                  *url; /* "tcp://127.0.0.1:4650" */
	const struct vsm_keypair    *key; /* copied */
	const struct vsm_server_ops *ops;
	void                        *arg;
	unsigned                     nctx;        /* contexts in the pool */
	size_t                       max_payload; /* plaintext cap */
	const char                  *version;     /* sent in Welcome */
};

#define VSM_SERVER_NCTX_DEFAULT        64
#define VSM_SERVER_MAX_PAYLOAD_DEFAULT (4u << 20)

/* Start listening. Returns 0 with *srvp set, or -1 with err set. */
int vsm_server_start(struct vsm_server **srvp,
    const struct vsm_server_config *cfg, struct vsm_err *err);
/* Stop listening, close every pipe, free everything. NULL is a no-op. */
void vsm_server_stop(struct vsm_server *srv);

/*
 * Answer a request (encrypting `data`) and release it; after this `req`
 * is gone. Callable from any thread. If the peer has gone the reply is
 * dropped quietly and -1 is returned.
 */
int vsm_srv_reply(struct vsm_srv_req *req, const uint8_t *data, size_t len);
/* Release a request without an answer (the peer will time out). */
void                   vsm_srv_drop(struct vsm_srv_req *req);
const struct vsm_peer *vsm_srv_req_peer(const struct vsm_srv_req *req);

/* Close every session of this key now (revocation). Returns how many. */
int vsm_server_kick(struct vsm_server *srv, const uint8_t key[VSM_KEY_LEN]);

struct vsm_server_stats {
	uint64_t drops[VSM_DROP_MAX];
	uint64_t handshakes;    /* sessions opened */
	uint64_t requests;      /* requests handed to ops->request */
	uint64_t pipes_open;    /* currently connected pipes */
	uint64_t sessions_open; /* currently open sessions */
};

void vsm_server_stats(struct vsm_server *srv, struct vsm_server_stats *st);

/* ------------------------------------------------------------------------ */
/* Agent side */

struct vsm_client;

struct vsm_client_config {
	const char               *url;
	const struct vsm_keypair *key;        /* copied */
	const uint8_t            *server_key; /* pinned, VSM_KEY_LEN */
	const Vsm__Hello         *hello;      /* sent in every handshake */
	size_t                    max_payload;
	/*
	 * Redial backoff with full jitter: the n-th redial after a failed
	 * connect waits a random time in [0, min(cap, base * 2^n)]; after a
	 * lost connection, in [0, base].
	 */
	uint32_t backoff_base_ms;
	uint32_t backoff_cap_ms;
};

#define VSM_CLIENT_BACKOFF_BASE 1000
#define VSM_CLIENT_BACKOFF_CAP  60000

/* Create the socket and start dialing (non-blocking). 0 or -1 + err. */
int vsm_client_open(struct vsm_client **cp, const struct vsm_client_config *cfg,
    struct vsm_err *err);
/*
 * Cancel every call in flight (each returns -1, "connection ... lost") and
 * refuse new ones, so that threads blocked in a long poll return at once
 * when a daemon stops; close with vsm_client_close. NULL is a no-op.
 */
void vsm_client_cancel(struct vsm_client *c);
void vsm_client_close(struct vsm_client *c); /* NULL is a no-op */

/*
 * Make sure a session is open, running the handshake if needed; blocks up
 * to timeout_ms. Returns 0, or -1 with err saying why (no answer, wrong
 * controller key, key pending or rejected). *status, if given, gets the
 * Welcome status or 0 when none arrived.
 */
int vsm_client_connect(
    struct vsm_client *c, int timeout_ms, int *status, struct vsm_err *err);

/*
 * One request and its reply over the session, connecting first if needed.
 * Thread-safe: concurrent calls use separate contexts. On success *replyp
 * (malloc'd, caller frees) and *rlenp are set. On error returns -1: a
 * lost pipe, a timeout or a reply that failed to open all end the call.
 */
int vsm_client_call(struct vsm_client *c, const uint8_t *req, size_t len,
    uint8_t **replyp, size_t *rlenp, int timeout_ms, struct vsm_err *err);

struct vsm_client_stats {
	uint64_t drops[VSM_DROP_MAX];
	uint64_t handshakes;
	uint64_t pipes_lost;
	uint64_t dials;         /* connect attempts */
	uint64_t dial_failures; /* of which failed */
};

void vsm_client_stats(struct vsm_client *c, struct vsm_client_stats *st);

#endif /* VSM_CHAN_H */
