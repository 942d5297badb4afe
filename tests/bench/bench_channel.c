/*
 * bench_channel.c: `vsm-bench channel`, the cost of the encrypted channel.
 *
 * Three groups of figures, all on this machine and over tcp://127.0.0.1:
 *
 *  1. handshakes per second: the Noise IK engine alone on one thread (both
 *     sides, and the responder's share with message 1 prepared ahead), and
 *     full handshakes over loopback (vsm_client_open + _connect + _close),
 *     on one thread and on W threads;
 *  2. encrypted request/reply throughput, 1 KiB and 64 KiB requests answered
 *     by a short ack, W callers on one client, for S seconds each;
 *  3. the same shape on raw nng REQ/REP, and the ratio encrypted/raw.
 *
 * Every measurement is a job: N worker threads each run an untimed setup
 * (the warm-up), wait at a gate, then repeat one operation until the stop
 * flag is raised S seconds after the gate opened. The rate is the number of
 * operations that succeeded over the time from the gate to the last join.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <sodium.h>

#include "bench_json.h"
#include "chan.h"
#include "keyfile.h"
#include "noise.h"
#include "session.h"

#define SECONDS_DEFAULT 3.0
#define SECONDS_MIN     0.1
#define SECONDS_MAX     3600.0
#define WINDOW_DEFAULT  4
#define WINDOW_MAX      256
#define REF_SECONDS     1.0  /* cap on the X25519 reference figures */
#define CALL_TIMEOUT_MS 5000 /* bounds every wait on the network */
#define PORT_TRIES      32
#define SERVER_NCTX     VSM_SERVER_NCTX_DEFAULT
#define M1_POOL         64 /* prepared IK message 1s */
#define HS_BUFLEN       1024
#define ERRLEN          160 /* first error kept per figure */
#define ACK             "ok"
#define ACK_LEN         (sizeof(ACK) - 1)

static const size_t sizes[] = {1024, 65536};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

struct opts {
	double seconds;
	int    window;
	int    json;
};

/* What was measured: ops succeeded over secs, and the errors met. */
struct rate {
	uint64_t ops;
	uint64_t errors;
	double   secs;
	char     first_error[ERRLEN];
};

struct machine {
	long        nproc;
	char        cpu[128];
	const char *nng;
	const char *sodium;
};

struct results {
	struct machine          m;
	struct rate             engine_both, engine_resp, dh, dh_base;
	struct rate             hs_one, hs_many;
	struct rate             enc[NSIZES], raw[NSIZES];
	struct vsm_server_stats st;
	char                    enc_url[64], raw_url[64];
};

struct hs_msg {
	uint8_t buf[HS_BUFLEN];
	size_t  len;
};

/* Keys and prepared messages, shared read-only by every job. */
struct fixture {
	struct vsm_keypair         srv, cli;
	struct vsm_noise_hs_config icfg, rcfg;
	uint8_t                    hello[256], welcome[256];
	size_t                     hello_len, welcome_len;
	struct hs_msg              m1[M1_POOL];
	uint8_t                   *reqbuf; /* the largest request */
};

/* Workers report ready here, then start together. */
struct gate {
	pthread_mutex_t mtx;
	pthread_cond_t  cv;
	int             ready;
	int             go;
};

struct worker;

struct job {
	int (*setup)(struct worker *); /* untimed; -1 keeps it out */
	int (*once)(struct worker *);  /* one timed operation: 0 or -1 */
	void (*teardown)(struct worker *);
	const struct fixture           *fx;
	const struct vsm_client_config *ccfg;
	struct vsm_client              *client;
	nng_socket                      sock;
	size_t                          size;
	struct gate                     gate;
	atomic_int                      stop;
};

struct worker {
	pthread_t   tid;
	struct job *job;
	nng_ctx     ctx;
	nng_aio    *aio;
	size_t      idx;
	uint64_t    ops, errors;
	char        first_error[ERRLEN];
};

/* The raw nng REP server: a pool of contexts answering ACK. */
struct raw_work {
	nng_aio *aio;
	nng_ctx  ctx;
	int      sending;
};

struct raw_server {
	nng_socket      sock;
	struct raw_work works[SERVER_NCTX];
	int             nworks;
};

int bench_channel(int, char **, struct vsm_err *);

/* --- helpers ------------------------------------------------------------ */

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

static void
sleep_for(double secs)
{
	struct timespec ts;

	ts.tv_sec = (time_t)secs;
	ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static double
per_sec(const struct rate *r)
{
	return (r->secs > 0 ? (double)r->ops / r->secs : 0);
}

static double
mib_per_sec(const struct rate *r, size_t size)
{
	return (per_sec(r) * (double)size / (1024.0 * 1024.0));
}

static double
ratio_pct(const struct rate *enc, const struct rate *raw)
{
	double d = per_sec(raw);

	return (d > 0 ? 100.0 * per_sec(enc) / d : 0);
}

static void
worker_error(struct worker *wk, const char *what)
{
	if (wk->errors++ == 0)
		snprintf(wk->first_error, sizeof(wk->first_error), "%.*s",
		    ERRLEN - 1, what);
}

static void
machine_facts(struct machine *m)
{
	FILE  *fp;
	char   line[256], *p;
	size_t n;

	m->nproc = sysconf(_SC_NPROCESSORS_ONLN);
	m->nng = nng_version();
	m->sodium = sodium_version_string();
	snprintf(m->cpu, sizeof(m->cpu), "unknown");
	if ((fp = fopen("/proc/cpuinfo", "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (strncmp(line, "model name", 10) != 0 ||
		    (p = strchr(line, ':')) == NULL)
			continue;
		p += strspn(p + 1, " \t") + 1;
		n = strcspn(p, "\n");
		snprintf(m->cpu, sizeof(m->cpu), "%.*s", (int)n, p);
		break;
	}
	fclose(fp);
}

static unsigned
random_port(void)
{
	return (20000 + randombytes_uniform(40001));
}

/* --- the gate and the job runner ---------------------------------------- */

static void
gate_arrive(struct gate *g)
{
	pthread_mutex_lock(&g->mtx);
	g->ready++;
	pthread_cond_broadcast(&g->cv);
	while (!g->go)
		pthread_cond_wait(&g->cv, &g->mtx);
	pthread_mutex_unlock(&g->mtx);
}

/* Wait until n workers are ready, then let them all go. */
static void
gate_open(struct gate *g, int n)
{
	pthread_mutex_lock(&g->mtx);
	while (g->ready < n)
		pthread_cond_wait(&g->cv, &g->mtx);
	g->go = 1;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mtx);
}

static void *
worker_main(void *arg)
{
	struct worker *wk = arg;
	struct job    *job = wk->job;
	int            ok;

	ok = job->setup == NULL || job->setup(wk) == 0;
	gate_arrive(&job->gate);
	while (ok && !atomic_load_explicit(&job->stop, memory_order_relaxed)) {
		if (job->once(wk) == 0)
			wk->ops++;
	}
	if (job->teardown != NULL)
		job->teardown(wk);
	return (NULL);
}

/*
 * Run `job` on n threads for `secs` seconds after their warm-up and sum
 * what they did into r. Blocks for about secs (plus one operation). Returns
 * 0, or -1 with err set when threads could not be started; whatever ran is
 * joined either way.
 */
static int
run_job(
    struct job *job, int n, double secs, struct rate *r, struct vsm_err *err)
{
	struct worker *wk;
	double         t0;
	int            i, started = 0, ret = -1;

	memset(r, 0, sizeof(*r));
	if ((wk = calloc((size_t)n, sizeof(*wk))) == NULL)
		return (vsm_err_set(err, "out of memory"));
	pthread_mutex_init(&job->gate.mtx, NULL);
	pthread_cond_init(&job->gate.cv, NULL);
	job->gate.ready = job->gate.go = 0;
	atomic_store(&job->stop, 0);
	for (i = 0; i < n; i++) {
		wk[i].job = job;
		if (pthread_create(&wk[i].tid, NULL, worker_main, &wk[i]) != 0)
			break;
		started++;
	}
	if (started < n)
		atomic_store(&job->stop, 1);
	gate_open(&job->gate, started);
	t0 = now();
	if (started == n)
		sleep_for(secs);
	atomic_store(&job->stop, 1);
	for (i = 0; i < started; i++) {
		pthread_join(wk[i].tid, NULL);
		r->ops += wk[i].ops;
		if (wk[i].errors > 0 && r->errors == 0)
			memcpy(r->first_error, wk[i].first_error,
			    sizeof(r->first_error));
		r->errors += wk[i].errors;
	}
	r->secs = now() - t0;
	if (started < n) {
		vsm_err_set(err, "cannot start %d threads", n);
		goto out;
	}
	ret = 0;
out:
	pthread_cond_destroy(&job->gate.cv);
	pthread_mutex_destroy(&job->gate.mtx);
	free(wk);
	return (ret);
}

/* --- the Noise engine alone --------------------------------------------- */

/* Write an IK message 1 carrying the Hello; the state is left in *hsp. */
static int
ik_msg1(const struct fixture *fx, struct vsm_noise_hs **hsp, uint8_t *m1,
    size_t *m1len)
{
	if (vsm_noise_hs_new(hsp, &fx->icfg) != VSM_NOISE_OK ||
	    vsm_noise_hs_write(*hsp, fx->hello, fx->hello_len, m1, HS_BUFLEN,
	        m1len) != VSM_NOISE_OK)
		return (-1);
	return (0);
}

/*
 * The responder's share of one IK handshake, as the controller runs it:
 * read message 1, write message 2 with the Welcome, split. The transport
 * keys go to send/recv.
 */
static int
ik_respond(const struct fixture *fx, const uint8_t *m1, size_t m1len,
    uint8_t *m2, size_t *m2len, struct vsm_noise_cipher *send,
    struct vsm_noise_cipher *recv)
{
	struct vsm_noise_hs *hs = NULL;
	uint8_t              pl[HS_BUFLEN];
	size_t               pllen;
	int                  ret = -1;

	if (vsm_noise_hs_new(&hs, &fx->rcfg) != VSM_NOISE_OK ||
	    vsm_noise_hs_read(hs, m1, m1len, pl, sizeof(pl), &pllen) !=
	        VSM_NOISE_OK ||
	    vsm_noise_hs_write(hs, fx->welcome, fx->welcome_len, m2, HS_BUFLEN,
	        m2len) != VSM_NOISE_OK ||
	    vsm_noise_hs_split(hs, send, recv) != VSM_NOISE_OK)
		goto out;
	ret = 0;
out:
	vsm_noise_hs_free(hs);
	return (ret);
}

/*
 * One whole IK handshake in memory. With `check`, also prove that the two
 * sides agree on the transport keys (done once before measuring).
 */
static int
ik_full(const struct fixture *fx, int check)
{
	struct vsm_noise_hs    *ini = NULL;
	struct vsm_noise_cipher is, ir, rs, rr;
	uint8_t                 m1[HS_BUFLEN], m2[HS_BUFLEN], pl[HS_BUFLEN];
	size_t                  m1len, m2len, pllen;
	int                     ret = -1;

	memset(&is, 0, sizeof(is));
	memset(&ir, 0, sizeof(ir));
	memset(&rs, 0, sizeof(rs));
	memset(&rr, 0, sizeof(rr));
	if (ik_msg1(fx, &ini, m1, &m1len) == -1 ||
	    ik_respond(fx, m1, m1len, m2, &m2len, &rs, &rr) == -1 ||
	    vsm_noise_hs_read(ini, m2, m2len, pl, sizeof(pl), &pllen) !=
	        VSM_NOISE_OK ||
	    vsm_noise_hs_split(ini, &is, &ir) != VSM_NOISE_OK)
		goto out;
	if (check &&
	    (pllen != fx->welcome_len || memcmp(pl, fx->welcome, pllen) != 0 ||
	        memcmp(is.k, rr.k, sizeof(is.k)) != 0 ||
	        memcmp(ir.k, rs.k, sizeof(ir.k)) != 0))
		goto out;
	ret = 0;
out:
	vsm_noise_cipher_wipe(&is);
	vsm_noise_cipher_wipe(&ir);
	vsm_noise_cipher_wipe(&rs);
	vsm_noise_cipher_wipe(&rr);
	vsm_noise_hs_free(ini);
	return (ret);
}

static int
once_engine_both(struct worker *wk)
{
	if (ik_full(wk->job->fx, 0) == -1) {
		worker_error(wk, "IK handshake failed in memory");
		return (-1);
	}
	return (0);
}

static int
once_engine_resp(struct worker *wk)
{
	const struct hs_msg    *m1 = &wk->job->fx->m1[wk->idx++ % M1_POOL];
	struct vsm_noise_cipher send, recv;
	uint8_t                 m2[HS_BUFLEN];
	size_t                  m2len;
	int                     ret;

	memset(&send, 0, sizeof(send));
	memset(&recv, 0, sizeof(recv));
	ret =
	    ik_respond(wk->job->fx, m1->buf, m1->len, m2, &m2len, &send, &recv);
	vsm_noise_cipher_wipe(&send);
	vsm_noise_cipher_wipe(&recv);
	if (ret == -1)
		worker_error(wk, "IK responder failed in memory");
	return (ret);
}

/* Reference costs: one X25519 DH, one X25519 base-point multiplication. */
static int
once_dh(struct worker *wk)
{
	const struct fixture *fx = wk->job->fx;
	uint8_t               out[VSM_NOISE_DHLEN];

	if (crypto_scalarmult(out, fx->cli.priv, fx->srv.pub) != 0)
		return (-1);
	return (0);
}

static int
once_dh_base(struct worker *wk)
{
	uint8_t out[VSM_NOISE_DHLEN];

	if (crypto_scalarmult_base(out, wk->job->fx->cli.priv) != 0)
		return (-1);
	return (0);
}

/* --- full handshakes over loopback -------------------------------------- */

static int
once_loopback_hs(struct worker *wk)
{
	struct vsm_client *c = NULL;
	struct vsm_err     err;
	int                ret = -1;

	memset(&err, 0, sizeof(err));
	if (vsm_client_open(&c, wk->job->ccfg, &err) == -1 ||
	    vsm_client_connect(c, CALL_TIMEOUT_MS, NULL, &err) == -1) {
		worker_error(wk, err.msg);
		goto out;
	}
	ret = 0;
out:
	vsm_client_close(c);
	return (ret);
}

/* --- encrypted request/reply -------------------------------------------- */

static int
once_enc_call(struct worker *wk)
{
	struct job    *job = wk->job;
	struct vsm_err err;
	uint8_t       *reply = NULL;
	size_t         rlen;
	int            ret = -1;

	if (vsm_client_call(job->client, job->fx->reqbuf, job->size, &reply,
	        &rlen, CALL_TIMEOUT_MS, &err) == -1) {
		worker_error(wk, err.msg);
		goto out;
	}
	if (rlen != ACK_LEN || memcmp(reply, ACK, ACK_LEN) != 0) {
		worker_error(wk, "unexpected reply");
		goto out;
	}
	ret = 0;
out:
	free(reply);
	return (ret);
}

static int
enc_authorize(
    void *arg, struct vsm_peer *peer, const Vsm__Hello *hello, Vsm__Welcome *w)
{
	w->status = VSM__WELCOME__STATUS__ACCEPTED;
	return (0);
}

static void
enc_request(void *arg, struct vsm_srv_req *req, const uint8_t *data, size_t len)
{
	vsm_srv_reply(req, (const uint8_t *)ACK, ACK_LEN);
}

static const struct vsm_server_ops enc_ops = {
    .authorize = enc_authorize,
    .request = enc_request,
};

/*
 * Start the channel server on a random free port of 127.0.0.1, trying
 * again while the port is taken. url gets the address it listens on.
 */
static int
enc_server_start(struct vsm_server **srvp, const struct fixture *fx, char *url,
    size_t urllen, struct vsm_err *err)
{
	struct vsm_server_config cfg = {
	    .key = &fx->srv,
	    .ops = &enc_ops,
	    .nctx = SERVER_NCTX,
	};
	int i;

	for (i = 0; i < PORT_TRIES; i++) {
		snprintf(url, urllen, "tcp://127.0.0.1:%u", random_port());
		cfg.url = url;
		if (vsm_server_start(srvp, &cfg, err) == 0)
			return (0);
		/* vsm_server_start() reports nng's error only as text. */
		if (strstr(err->msg, nng_strerror(NNG_EADDRINUSE)) == NULL)
			return (-1);
	}
	return (vsm_err_set(err, "no free port after %d tries", PORT_TRIES));
}

/* --- raw nng REQ/REP ---------------------------------------------------- */

/*
 * One work item of the raw REP server, as in nng's demo/async: receive,
 * answer ACK in a new message, receive again; stops when the socket closes.
 */
static void
raw_work_cb(void *arg)
{
	struct raw_work *w = arg;
	nng_msg         *msg, *ack;
	int              rv;

	rv = nng_aio_result(w->aio);
	if (w->sending) {
		w->sending = 0;
		if (rv != 0)
			nng_msg_free(nng_aio_get_msg(w->aio));
	} else if (rv == 0) {
		/* Answer as the channel server does: a new message. */
		msg = nng_aio_get_msg(w->aio);
		nng_msg_free(msg);
		if (nng_msg_alloc(&ack, ACK_LEN) == 0) {
			memcpy(nng_msg_body(ack), ACK, ACK_LEN);
			w->sending = 1;
			nng_aio_set_msg(w->aio, ack);
			nng_ctx_send(w->ctx, w->aio);
			return;
		}
	}
	if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
		return;
	nng_ctx_recv(w->ctx, w->aio);
}

static void
raw_server_stop(struct raw_server *rs)
{
	int i;

	nng_close(rs->sock);
	for (i = 0; i < rs->nworks; i++) {
		nng_aio_stop(rs->works[i].aio);
		nng_aio_free(rs->works[i].aio);
	}
	rs->nworks = 0;
}

static int
raw_server_start(
    struct raw_server *rs, char *url, size_t urllen, struct vsm_err *err)
{
	int i, rv = 0;

	memset(rs, 0, sizeof(*rs));
	if ((rv = nng_rep0_open(&rs->sock)) != 0)
		return (
		    vsm_err_set(err, "nng_rep0_open: %s", nng_strerror(rv)));
	nng_socket_set_size(rs->sock, NNG_OPT_RECVMAXSZ,
	    VSM_SERVER_MAX_PAYLOAD_DEFAULT + 65536);
	for (i = 0; i < SERVER_NCTX; i++) {
		struct raw_work *w = &rs->works[i];

		if ((rv = nng_aio_alloc(&w->aio, raw_work_cb, w)) != 0)
			goto fail;
		rs->nworks++;
		if ((rv = nng_ctx_open(&w->ctx, rs->sock)) != 0)
			goto fail;
	}
	for (i = 0; i < PORT_TRIES; i++) {
		snprintf(url, urllen, "tcp://127.0.0.1:%u", random_port());
		if ((rv = nng_listen(rs->sock, url, NULL, 0)) != NNG_EADDRINUSE)
			break;
	}
	if (rv != 0)
		goto fail;
	for (i = 0; i < rs->nworks; i++)
		nng_ctx_recv(rs->works[i].ctx, rs->works[i].aio);
	return (0);
fail:
	vsm_err_set(err, "raw nng server: %s", nng_strerror(rv));
	raw_server_stop(rs);
	return (-1);
}

static int
raw_client_open(nng_socket *sock, const char *url, struct vsm_err *err)
{
	int rv;

	if ((rv = nng_req0_open(sock)) != 0)
		return (
		    vsm_err_set(err, "nng_req0_open: %s", nng_strerror(rv)));
	/* As the channel client: never re-send a request. */
	nng_socket_set_ms(*sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	if ((rv = nng_dial(*sock, url, NULL, 0)) != 0) {
		nng_close(*sock);
		*sock = (nng_socket)NNG_SOCKET_INITIALIZER;
		return (vsm_err_set(err, "dial %s: %s", url, nng_strerror(rv)));
	}
	return (0);
}

static int
once_raw_call(struct worker *wk)
{
	struct job *job = wk->job;
	nng_msg    *msg;
	int         rv;

	if ((rv = nng_msg_alloc(&msg, job->size)) != 0)
		goto fail;
	memcpy(nng_msg_body(msg), job->fx->reqbuf, job->size);
	nng_aio_set_msg(wk->aio, msg);
	nng_ctx_send(wk->ctx, wk->aio);
	nng_aio_wait(wk->aio);
	if ((rv = nng_aio_result(wk->aio)) != 0) {
		nng_msg_free(nng_aio_get_msg(wk->aio));
		goto fail;
	}
	nng_ctx_recv(wk->ctx, wk->aio);
	nng_aio_wait(wk->aio);
	if ((rv = nng_aio_result(wk->aio)) != 0)
		goto fail;
	msg = nng_aio_get_msg(wk->aio);
	if (nng_msg_len(msg) != ACK_LEN ||
	    memcmp(nng_msg_body(msg), ACK, ACK_LEN) != 0)
		rv = NNG_EPROTO;
	nng_msg_free(msg);
	if (rv != 0)
		goto fail;
	return (0);
fail:
	worker_error(wk, nng_strerror(rv));
	return (-1);
}

/* A context and an aio of its own, then one untimed call. */
static int
setup_raw(struct worker *wk)
{
	int rv;

	if ((rv = nng_aio_alloc(&wk->aio, NULL, NULL)) != 0 ||
	    (rv = nng_ctx_open(&wk->ctx, wk->job->sock)) != 0) {
		worker_error(wk, nng_strerror(rv));
		return (-1);
	}
	nng_aio_set_timeout(wk->aio, CALL_TIMEOUT_MS);
	return (once_raw_call(wk));
}

static void
teardown_raw(struct worker *wk)
{
	if (wk->aio != NULL) {
		nng_ctx_close(wk->ctx);
		nng_aio_free(wk->aio);
	}
}

/* One untimed call, so that contexts exist before the clock starts. */
static int
setup_enc(struct worker *wk)
{
	return (once_enc_call(wk));
}

/* --- fixture ------------------------------------------------------------ */

static int
fixture_init(struct fixture *fx, struct vsm_err *err)
{
	Vsm__Hello           hello = VSM__HELLO__INIT;
	Vsm__Welcome         wel = VSM__WELCOME__INIT;
	struct vsm_noise_hs *hs;
	size_t               i;

	memset(fx, 0, sizeof(*fx));
	vsm_keypair_generate(&fx->srv);
	vsm_keypair_generate(&fx->cli);
	hello.name = "bench-agent";
	hello.agent_version = VSM_VERSION;
	hello.proto_version = VSM_CHAN_VERSION;
	wel.status = VSM__WELCOME__STATUS__ACCEPTED;
	wel.session_id = 0x0123456789abcdefULL;
	wel.controller_version = VSM_VERSION;
	wel.heartbeat_ms = 30000;
	if ((fx->hello_len = vsm__hello__get_packed_size(&hello)) >
	        sizeof(fx->hello) ||
	    (fx->welcome_len = vsm__welcome__get_packed_size(&wel)) >
	        sizeof(fx->welcome))
		return (vsm_err_set(err, "hello or welcome too large"));
	vsm__hello__pack(&hello, fx->hello);
	vsm__welcome__pack(&wel, fx->welcome);

	fx->icfg.protocol = fx->rcfg.protocol = VSM_CHAN_PROTOCOL;
	fx->icfg.prologue = fx->rcfg.prologue =
	    (const uint8_t *)VSM_CHAN_PROLOGUE;
	fx->icfg.prologue_len = fx->rcfg.prologue_len =
	    sizeof(VSM_CHAN_PROLOGUE) - 1;
	fx->icfg.initiator = 1;
	fx->icfg.s = fx->cli.priv;
	fx->icfg.spub = fx->cli.pub;
	fx->icfg.rs = fx->srv.pub;
	fx->rcfg.s = fx->srv.priv;
	fx->rcfg.spub = fx->srv.pub;

	if (ik_full(fx, 1) == -1)
		return (vsm_err_set(err,
		    "the Noise IK engine does not "
		    "complete a handshake in memory"));
	for (i = 0; i < M1_POOL; i++) {
		hs = NULL;
		if (ik_msg1(fx, &hs, fx->m1[i].buf, &fx->m1[i].len) == -1) {
			vsm_noise_hs_free(hs);
			return (vsm_err_set(err, "cannot write IK message 1"));
		}
		vsm_noise_hs_free(hs);
	}
	if ((fx->reqbuf = malloc(sizes[NSIZES - 1])) == NULL)
		return (vsm_err_set(err, "out of memory"));
	randombytes_buf(fx->reqbuf, sizes[NSIZES - 1]);
	return (0);
}

static void
fixture_free(struct fixture *fx)
{
	free(fx->reqbuf);
	vsm_keypair_wipe(&fx->srv);
	vsm_keypair_wipe(&fx->cli);
}

/* --- output ------------------------------------------------------------- */

static void
print_rate_line(const char *what, const struct rate *r, const char *note)
{
	printf("  %-46s %10.0f%s\n", what, per_sec(r), note);
}

static void
print_errors(const char *what, const struct rate *r)
{
	if (r->errors > 0)
		printf("  ! %s: %llu errors, first: %s\n", what,
		    (unsigned long long)r->errors, r->first_error);
}

static void
print_table(const struct opts *o, const struct results *res)
{
	char   what[64];
	size_t i;
	int    e;

	printf("vsm-bench channel: %ld x %s, nng %s, libsodium %s\n",
	    res->m.nproc, res->m.cpu, res->m.nng, res->m.sodium);
	printf("%s, %g s per figure, window %d; encrypted on %s, raw on %s\n",
	    VSM_CHAN_PROTOCOL, o->seconds, o->window, res->enc_url,
	    res->raw_url);
	printf("\n%-48s %10s\n", "Handshakes", "per second");
	print_rate_line(
	    "IK engine, both sides, one thread", &res->engine_both, "");
	print_rate_line("IK engine, responder share, one thread",
	    &res->engine_resp, "  (goal >= 5000)");
	print_rate_line(
	    "loopback open+connect+close, 1 thread", &res->hs_one, "");
	snprintf(what, sizeof(what), "loopback open+connect+close, %d threads",
	    o->window);
	print_rate_line(what, &res->hs_many, "");
	print_rate_line("reference: X25519 DH, one thread", &res->dh, "");
	print_rate_line(
	    "reference: X25519 base-point mult, one thread", &res->dh_base, "");
	print_errors("loopback, 1 thread", &res->hs_one);
	print_errors("loopback, W threads", &res->hs_many);

	printf("\nRequest/reply, %d callers, reply = %zu-byte ack\n", o->window,
	    ACK_LEN);
	printf("  %-8s %12s %10s %12s %10s %9s\n", "size", "enc msgs/s",
	    "enc MiB/s", "raw msgs/s", "raw MiB/s", "enc/raw");
	for (i = 0; i < NSIZES; i++) {
		printf("  %3zu KiB  %12.0f %10.1f %12.0f %10.1f %8.1f%%%s\n",
		    sizes[i] / 1024, per_sec(&res->enc[i]),
		    mib_per_sec(&res->enc[i], sizes[i]), per_sec(&res->raw[i]),
		    mib_per_sec(&res->raw[i], sizes[i]),
		    ratio_pct(&res->enc[i], &res->raw[i]),
		    i == NSIZES - 1 ? "  (goal >= 80%)" : "");
	}
	for (i = 0; i < NSIZES; i++) {
		snprintf(
		    what, sizeof(what), "encrypted %zu KiB", sizes[i] / 1024);
		print_errors(what, &res->enc[i]);
		snprintf(what, sizeof(what), "raw %zu KiB", sizes[i] / 1024);
		print_errors(what, &res->raw[i]);
	}
	for (i = 0, e = 0; i < VSM_DROP_MAX; i++)
		e += res->st.drops[i] > 0;
	printf("\nserver: %llu sessions opened, %llu requests, %s\n",
	    (unsigned long long)res->st.handshakes,
	    (unsigned long long)res->st.requests, e ? "drops:" : "no drops");
	for (i = 0; i < VSM_DROP_MAX; i++)
		if (res->st.drops[i] > 0)
			printf("  %s %llu\n", vsm_drop_name(i),
			    (unsigned long long)res->st.drops[i]);
}

static json_t *
rate_json(const struct rate *r, int *bad)
{
	json_t *o = json_object();

	bench_jset(o, "ops", json_integer((json_int_t)r->ops), bad);
	bench_jset(o, "seconds", json_real(r->secs), bad);
	bench_jset(o, "per_s", json_real(per_sec(r)), bad);
	bench_jset(o, "errors", json_integer((json_int_t)r->errors), bad);
	if (r->errors > 0)
		bench_jset(o, "first_error", json_string(r->first_error), bad);
	return (o);
}

static json_t *
machine_json(const struct machine *m, int *bad)
{
	json_t *o = json_object();

	bench_jset(o, "nproc", json_integer(m->nproc), bad);
	bench_jset(o, "cpu", json_string(m->cpu), bad);
	bench_jset(o, "nng", json_string(m->nng), bad);
	bench_jset(o, "libsodium", json_string(m->sodium), bad);
	return (o);
}

static json_t *
params_json(const struct opts *opt, const struct results *res, int *bad)
{
	json_t *o = json_object();

	bench_jset(o, "seconds", json_real(opt->seconds), bad);
	bench_jset(o, "window", json_integer(opt->window), bad);
	bench_jset(o, "protocol", json_string(VSM_CHAN_PROTOCOL), bad);
	bench_jset(o, "encrypted_url", json_string(res->enc_url), bad);
	bench_jset(o, "raw_url", json_string(res->raw_url), bad);
	bench_jset(o, "ack_bytes", json_integer(ACK_LEN), bad);
	return (o);
}

static json_t *
handshakes_json(const struct results *res, int *bad)
{
	json_t *o = json_object();

	bench_jset(o, "engine_both", rate_json(&res->engine_both, bad), bad);
	bench_jset(
	    o, "engine_responder", rate_json(&res->engine_resp, bad), bad);
	bench_jset(o, "loopback_1", rate_json(&res->hs_one, bad), bad);
	bench_jset(o, "loopback_w", rate_json(&res->hs_many, bad), bad);
	bench_jset(o, "x25519_dh", rate_json(&res->dh, bad), bad);
	bench_jset(o, "x25519_base", rate_json(&res->dh_base, bad), bad);
	return (o);
}

static json_t *
throughput_json(const struct results *res, int *bad)
{
	json_t *a = json_array(), *row;
	size_t  i;

	for (i = 0; i < NSIZES; i++) {
		row = json_object();
		bench_jset(
		    row, "size", json_integer((json_int_t)sizes[i]), bad);
		bench_jset(row, "encrypted", rate_json(&res->enc[i], bad), bad);
		bench_jset(row, "raw", rate_json(&res->raw[i], bad), bad);
		bench_jset(row, "encrypted_mib_per_s",
		    json_real(mib_per_sec(&res->enc[i], sizes[i])), bad);
		bench_jset(row, "raw_mib_per_s",
		    json_real(mib_per_sec(&res->raw[i], sizes[i])), bad);
		bench_jset(row, "ratio_pct",
		    json_real(ratio_pct(&res->enc[i], &res->raw[i])), bad);
		if (json_array_append_new(a, row) == -1)
			*bad = 1;
	}
	return (a);
}

static json_t *
server_json(const struct vsm_server_stats *st, int *bad)
{
	json_t *o = json_object(), *drops = json_object();
	size_t  i;

	bench_jset(o, "sessions_opened",
	    json_integer((json_int_t)st->handshakes), bad);
	bench_jset(o, "requests", json_integer((json_int_t)st->requests), bad);
	for (i = 0; i < VSM_DROP_MAX; i++)
		bench_jset(drops, vsm_drop_name(i),
		    json_integer((json_int_t)st->drops[i]), bad);
	bench_jset(o, "drops", drops, bad);
	return (o);
}

/* Write the whole run as one JSON document on stdout; 0 or -1 with err. */
static int
print_json(
    const struct opts *opt, const struct results *res, struct vsm_err *err)
{
	json_t *doc = json_object();
	int     bad = 0, ret = -1;

	bench_jset(doc, "benchmark", json_string("channel"), &bad);
	bench_jset(doc, "machine", machine_json(&res->m, &bad), &bad);
	bench_jset(doc, "params", params_json(opt, res, &bad), &bad);
	bench_jset(doc, "handshakes", handshakes_json(res, &bad), &bad);
	bench_jset(doc, "throughput", throughput_json(res, &bad), &bad);
	bench_jset(doc, "server", server_json(&res->st, &bad), &bad);
	if (bench_json_print(doc, bad, 10, err) == -1)
		goto out;
	ret = 0;
out:
	json_decref(doc);
	return (ret);
}

/* --- the subcommand ----------------------------------------------------- */

/* Parse argv into o; 2 with err set on bad usage. */
static int
parse_opts(int argc, char **argv, struct opts *o, struct vsm_err *err)
{
	char *end;
	long  l;
	int   i;

	o->seconds = SECONDS_DEFAULT;
	o->window = WINDOW_DEFAULT;
	o->json = 0;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			o->json = 1;
		} else if (strcmp(argv[i], "--seconds") == 0) {
			if (++i == argc)
				goto missing;
			errno = 0;
			o->seconds = strtod(argv[i], &end);
			if (errno != 0 || end == argv[i] || *end != '\0' ||
			    !(o->seconds >= SECONDS_MIN &&
			        o->seconds <= SECONDS_MAX)) {
				vsm_err_set(err,
				    "--seconds wants a number "
				    "from %g to %g, not '%s'",
				    SECONDS_MIN, SECONDS_MAX, argv[i]);
				return (2);
			}
		} else if (strcmp(argv[i], "--window") == 0) {
			if (++i == argc)
				goto missing;
			errno = 0;
			l = strtol(argv[i], &end, 10);
			if (errno != 0 || end == argv[i] || *end != '\0' ||
			    l < 1 || l > WINDOW_MAX) {
				vsm_err_set(err,
				    "--window wants an integer "
				    "from 1 to %d, not '%s'",
				    WINDOW_MAX, argv[i]);
				return (2);
			}
			o->window = (int)l;
		} else {
			vsm_err_set(err, "unknown argument '%s'", argv[i]);
			return (2);
		}
	}
	return (0);
missing:
	vsm_err_set(err, "%s wants a value", argv[i - 1]);
	return (2);
}

/* Run every measurement in order into res; -1 with err at the first hard
 * failure (a server or client that cannot start). */
static int
measure(const struct opts *o, struct fixture *fx, struct results *res,
    struct vsm_err *err)
{
	Vsm__Hello               hello = VSM__HELLO__INIT;
	struct vsm_client_config ccfg;
	struct vsm_server       *srv = NULL;
	struct raw_server        raw;
	struct job               job;
	double ref = o->seconds < REF_SECONDS ? o->seconds : REF_SECONDS;
	size_t i;
	int    raw_up = 0, ret = -1;

	memset(&raw, 0, sizeof(raw));
	memset(&job, 0, sizeof(job));
	job.fx = fx;

	/* 1a. The engine alone, and the X25519 costs it is made of. */
	job.once = once_engine_both;
	if (run_job(&job, 1, o->seconds, &res->engine_both, err) == -1)
		goto out;
	job.once = once_engine_resp;
	if (run_job(&job, 1, o->seconds, &res->engine_resp, err) == -1)
		goto out;
	job.once = once_dh;
	if (run_job(&job, 1, ref, &res->dh, err) == -1)
		goto out;
	job.once = once_dh_base;
	if (run_job(&job, 1, ref, &res->dh_base, err) == -1)
		goto out;

	if (enc_server_start(
	        &srv, fx, res->enc_url, sizeof(res->enc_url), err) == -1)
		goto out;
	if (raw_server_start(&raw, res->raw_url, sizeof(res->raw_url), err) ==
	    -1)
		goto out;
	raw_up = 1;
	hello.name = "bench-agent";
	hello.agent_version = VSM_VERSION;
	hello.proto_version = VSM_CHAN_VERSION;
	memset(&ccfg, 0, sizeof(ccfg));
	ccfg.url = res->enc_url;
	ccfg.key = &fx->cli;
	ccfg.server_key = fx->srv.pub;
	ccfg.hello = &hello;
	job.ccfg = &ccfg;

	/* 1b. Full handshakes over loopback. */
	job.once = once_loopback_hs;
	if (run_job(&job, 1, o->seconds, &res->hs_one, err) == -1 ||
	    run_job(&job, o->window, o->seconds, &res->hs_many, err) == -1)
		goto out;

	/* 2. and 3. Request/reply, encrypted then raw, size by size. */
	if (vsm_client_open(&job.client, &ccfg, err) == -1)
		goto out;
	if (vsm_client_connect(job.client, CALL_TIMEOUT_MS, NULL, err) == -1)
		goto out;
	if (raw_client_open(&job.sock, res->raw_url, err) == -1)
		goto out;
	for (i = 0; i < NSIZES; i++) {
		job.size = sizes[i];
		job.setup = setup_enc;
		job.once = once_enc_call;
		job.teardown = NULL;
		if (run_job(&job, o->window, o->seconds, &res->enc[i], err) ==
		    -1)
			goto out;
		job.setup = setup_raw;
		job.once = once_raw_call;
		job.teardown = teardown_raw;
		if (run_job(&job, o->window, o->seconds, &res->raw[i], err) ==
		    -1)
			goto out;
	}
	ret = 0;
out:
	if (nng_socket_id(job.sock) > 0)
		nng_close(job.sock);
	vsm_client_close(job.client);
	if (srv != NULL)
		vsm_server_stats(srv, &res->st);
	vsm_server_stop(srv);
	if (raw_up)
		raw_server_stop(&raw);
	return (ret);
}

/*
 * vsm-bench channel [--seconds S] [--window W] [--json]: runs for about
 * 8 S seconds plus two reference figures of at most 1 s, then prints the
 * table or the JSON document. Returns 0, 1 or 2 (see bench_main.c).
 */
int
bench_channel(int argc, char **argv, struct vsm_err *err)
{
	struct opts     o;
	struct fixture  fx;
	struct results *res = NULL;
	int             rc, ret = 1;

	if ((rc = parse_opts(argc, argv, &o, err)) != 0)
		return (rc);
	if (sodium_init() < 0) {
		vsm_err_set(err, "libsodium failed to initialise");
		return (1);
	}
	if (fixture_init(&fx, err) == -1)
		goto out;
	if ((res = calloc(1, sizeof(*res))) == NULL) {
		vsm_err_set(err, "out of memory");
		goto out;
	}
	machine_facts(&res->m);
	if (measure(&o, &fx, res, err) == -1)
		goto out;
	if (o.json) {
		if (print_json(&o, res, err) == -1)
			goto out;
	} else
		print_table(&o, res);
	if (fflush(stdout) == EOF) {
		vsm_err_set(err, "writing the results: %s", strerror(errno));
		goto out;
	}
	ret = 0;
out:
	free(res);
	fixture_free(&fx);
	return (ret);
}
