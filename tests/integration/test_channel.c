/*
 * test_channel.c: the encrypted channel over real nng sockets on loopback.
 * A controller-side server and agent-side clients complete the IK
 * handshake and exchange 10,000 messages; then every kind of bad traffic
 * is sent, and each test checks that it was dropped for its own counted
 * reason while the server goes on serving.
 */
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <pthread.h>
#include <stdatomic.h>

#include <cmocka.h>
#include <sodium.h>

#include "testutil.h"

#include <nng/protocol/reqrep0/req.h>

extern char **environ;

#define MAX_KEYS 8

struct fixture {
	char                url[64];
	struct vsm_keypair  skey;  /* controller */
	struct vsm_keypair  agent; /* an accepted agent */
	uint8_t             allowed[MAX_KEYS][VSM_KEY_LEN];
	int                 nallowed;
	struct vsm_server  *srv;
	pthread_mutex_t     mtx;
	struct vsm_srv_req *held;   /* a request kept unanswered */
	atomic_int          closed; /* sessions ended */
};

static int
fx_authorize(
    void *arg, struct vsm_peer *peer, const Vsm__Hello *hello, Vsm__Welcome *w)
{
	struct fixture *fx = arg;
	int             i;

	for (i = 0; i < fx->nallowed; i++)
		if (memcmp(fx->allowed[i], peer->key, VSM_KEY_LEN) == 0) {
			w->status = VSM__WELCOME__STATUS__ACCEPTED;
			return (0);
		}
	w->status = VSM__WELCOME__STATUS__UNKNOWN_KEY;
	w->reason = "no such key";
	return (0);
}

/* Echo the request reversed; the request "Hold" is kept unanswered. */
static void
fx_request(void *arg, struct vsm_srv_req *req, const uint8_t *data, size_t len)
{
	struct fixture *fx = arg;
	uint8_t        *out;
	size_t          i;

	if (len == 4 && memcmp(data, "Hold", 4) == 0) {
		pthread_mutex_lock(&fx->mtx);
		fx->held = req;
		pthread_mutex_unlock(&fx->mtx);
		return;
	}
	if ((out = malloc(len + 1)) == NULL) {
		vsm_srv_drop(req);
		return;
	}
	for (i = 0; i < len; i++)
		out[i] = data[len - 1 - i];
	vsm_srv_reply(req, out, len);
	free(out);
}

static void
fx_closed(void *arg, struct vsm_peer *peer)
{
	struct fixture *fx = arg;

	atomic_fetch_add(&fx->closed, 1);
}

static const struct vsm_server_ops fx_ops = {
    .authorize = fx_authorize,
    .request = fx_request,
    .closed = fx_closed,
};

static int
setup(void **state)
{
	struct fixture          *fx = calloc(1, sizeof(*fx));
	struct vsm_server_config cfg = {0};
	struct vsm_err           err;
	int                      tries;

	assert_non_null(fx);
	pthread_mutex_init(&fx->mtx, NULL);
	vsm_keypair_generate(&fx->skey);
	vsm_keypair_generate(&fx->agent);
	memcpy(fx->allowed[fx->nallowed++], fx->agent.pub, VSM_KEY_LEN);
	cfg.key = &fx->skey;
	cfg.ops = &fx_ops;
	cfg.arg = fx;
	cfg.nctx = 16;
	cfg.max_payload = 1 << 20;
	for (tries = 0; tries < 5; tries++) {
		tu_loopback_url(fx->url, sizeof(fx->url));
		cfg.url = fx->url;
		if (vsm_server_start(&fx->srv, &cfg, &err) == 0)
			break;
	}
	if (fx->srv == NULL)
		fail_msg("server: %s", err.msg);
	*state = fx;
	return (0);
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	vsm_server_stop(fx->srv);
	pthread_mutex_destroy(&fx->mtx);
	free(fx);
	return (0);
}

static struct vsm_client *
client_for(
    struct fixture *fx, const struct vsm_keypair *key, const uint8_t *pin)
{
	struct vsm_client_config cfg = {0};
	Vsm__Hello               hello = VSM__HELLO__INIT;
	struct vsm_client       *c;
	struct vsm_err           err;

	hello.name = "test-agent";
	hello.proto_version = VSM_CHAN_VERSION;
	cfg.url = fx->url;
	cfg.key = key;
	cfg.server_key = pin;
	cfg.hello = &hello;
	cfg.max_payload = 1 << 21;
	if (vsm_client_open(&c, &cfg, &err) != 0)
		fail_msg("client: %s", err.msg);
	return (c);
}

static uint64_t
drops(struct fixture *fx, enum vsm_drop why)
{
	struct vsm_server_stats st;

	vsm_server_stats(fx->srv, &st);
	return (st.drops[why]);
}

static uint64_t
total_drops(struct fixture *fx)
{
	struct vsm_server_stats st;
	uint64_t                n = 0;
	int                     i;

	vsm_server_stats(fx->srv, &st);
	for (i = 0; i < VSM_DROP_MAX; i++)
		n += st.drops[i];
	return (n);
}

/* One good round trip through a fresh client: the server still serves. */
static void
assert_still_serving(struct fixture *fx)
{
	struct vsm_client *c = client_for(fx, &fx->agent, fx->skey.pub);
	struct vsm_err     err;
	uint8_t           *rep;
	size_t             rlen;

	if (vsm_client_call(
	        c, (const uint8_t *)"abc", 3, &rep, &rlen, 5000, &err) != 0)
		fail_msg("server stopped serving: %s", err.msg);
	assert_int_equal(rlen, 3);
	assert_memory_equal(rep, "cba", 3);
	free(rep);
	vsm_client_close(c);
}

static int
no_sessions(void *arg)
{
	struct fixture         *fx = arg;
	struct vsm_server_stats st;

	vsm_server_stats(fx->srv, &st);
	return (st.sessions_open == 0);
}

static void
check_echo(const uint8_t *req, size_t len, const uint8_t *rep, size_t rlen)
{
	size_t i;

	assert_int_equal(rlen, len);
	for (i = 0; i < len; i++)
		if (rep[i] != req[len - 1 - i])
			fail_msg("echo differs at byte %zu", i);
}

static void
test_handshake_then_10000_messages_both_ways(void **state)
{
	struct fixture         *fx = *state;
	struct vsm_client      *c = client_for(fx, &fx->agent, fx->skey.pub);
	struct vsm_server_stats st;
	struct vsm_client_stats cst;
	struct vsm_err          err;
	uint8_t                *buf, *rep;
	size_t                  len, rlen;
	int                     i, status;

	if (vsm_client_connect(c, 5000, &status, &err) != 0)
		fail_msg("connect: %s", err.msg);
	assert_int_equal(status, VSM__WELCOME__STATUS__ACCEPTED);
	buf = malloc(200000);
	assert_non_null(buf);
	for (i = 0; i < 10000; i++) {
		/* Mostly small, with chunked payloads every 500th message. */
		len = i % 500 == 0 ? 150000 + (size_t)i : (size_t)(i % 1500);
		randombytes_buf(buf, len);
		if (vsm_client_call(c, buf, len, &rep, &rlen, 10000, &err) !=
		    0) {
			vsm_server_stats(fx->srv, &st);
			for (int j = 0; j < VSM_DROP_MAX; j++)
				fprintf(stderr, "%s=%lu ", vsm_drop_name(j),
				    (unsigned long)st.drops[j]);
			fprintf(
			    stderr, "req=%lu\n", (unsigned long)st.requests);
			fail_msg("message %d: %s", i, err.msg);
		}
		check_echo(buf, len, rep, rlen);
		free(rep);
	}
	vsm_server_stats(fx->srv, &st);
	assert_int_equal(st.requests, 10000);
	assert_int_equal(st.handshakes, 1);
	assert_int_equal(total_drops(fx), 0);
	vsm_client_stats(c, &cst);
	for (i = 0; i < VSM_DROP_MAX; i++)
		assert_int_equal(cst.drops[i], 0);
	free(buf);
	vsm_client_close(c);
}

static void
test_tampered_ciphertext_is_dropped(void **state)
{
	struct fixture *fx = *state;
	struct tu_raw   raw;
	nng_msg        *reply;
	uint8_t        *frame, *pt;
	size_t          flen, len;

	assert_int_equal(
	    tu_raw_connect(&raw, fx->url, &fx->agent, fx->skey.pub), 0);
	frame = tu_raw_seal(&raw, "hello", 5, &flen);
	frame[flen - 3] ^= 0x01; /* inside the tag of the last chunk */
	assert_int_equal(
	    tu_raw_send(&raw, frame, flen, 300, &reply), NNG_ETIMEDOUT);
	assert_int_equal(drops(fx, VSM_DROP_DECRYPT), 1);
	free(frame);
	/* The same session still works with an honest message. */
	frame = tu_raw_seal(&raw, "xy", 2, &flen);
	assert_int_equal(tu_raw_send(&raw, frame, flen, 5000, &reply), 0);
	assert_int_equal(tu_raw_open(&raw, reply, &pt, &len), 0);
	assert_memory_equal(pt, "yx", 2);
	free(pt);
	nng_msg_free(reply);
	free(frame);
	tu_raw_close(&raw);
	assert_int_equal(drops(fx, VSM_DROP_DECRYPT), 1);
	assert_still_serving(fx);
}

static void
test_replayed_counter_is_dropped(void **state)
{
	struct fixture *fx = *state;
	struct tu_raw   raw;
	nng_msg        *reply;
	uint8_t        *frame, *frame2, *pt;
	size_t          flen, flen2, len;

	assert_int_equal(
	    tu_raw_connect(&raw, fx->url, &fx->agent, fx->skey.pub), 0);
	frame = tu_raw_seal(&raw, "once", 4, &flen);
	assert_int_equal(tu_raw_send(&raw, frame, flen, 5000, &reply), 0);
	nng_msg_free(reply);
	/* The very same bytes again: a replay. */
	assert_int_equal(
	    tu_raw_send(&raw, frame, flen, 300, &reply), NNG_ETIMEDOUT);
	assert_int_equal(drops(fx, VSM_DROP_REPLAY), 1);
	/* A fresh message on the same session is served. */
	frame2 = tu_raw_seal(&raw, "again", 5, &flen2);
	assert_int_equal(tu_raw_send(&raw, frame2, flen2, 5000, &reply), 0);
	assert_int_equal(tu_raw_open(&raw, reply, &pt, &len), 0);
	assert_memory_equal(pt, "niaga", 5);
	free(pt);
	nng_msg_free(reply);
	free(frame);
	free(frame2);
	tu_raw_close(&raw);
	assert_still_serving(fx);
}

static void
test_message_moved_to_another_pipe_is_dropped(void **state)
{
	struct fixture *fx = *state;
	struct tu_raw   a, b, bare;
	nng_msg        *reply;
	uint8_t        *frame;
	size_t          flen;

	assert_int_equal(
	    tu_raw_connect(&a, fx->url, &fx->agent, fx->skey.pub), 0);
	assert_int_equal(
	    tu_raw_connect(&b, fx->url, &fx->agent, fx->skey.pub), 0);
	/* Sealed for a's session, sent over b's connection. */
	frame = tu_raw_seal(&a, "moved", 5, &flen);
	assert_int_equal(
	    tu_raw_send(&b, frame, flen, 300, &reply), NNG_ETIMEDOUT);
	assert_int_equal(drops(fx, VSM_DROP_CROSS_PIPE), 1);
	/* ...and over a connection that never shook hands. */
	assert_int_equal(tu_raw_dial(&bare, fx->url), 0);
	assert_int_equal(
	    tu_raw_send(&bare, frame, flen, 300, &reply), NNG_ETIMEDOUT);
	assert_int_equal(drops(fx, VSM_DROP_CROSS_PIPE), 2);
	nng_close(bare.sock);
	/* The message is still good on its own pipe. */
	assert_int_equal(tu_raw_send(&a, frame, flen, 5000, &reply), 0);
	nng_msg_free(reply);
	free(frame);
	tu_raw_close(&a);
	tu_raw_close(&b);
	assert_still_serving(fx);
}

static void
test_transport_before_handshake_is_dropped(void **state)
{
	struct fixture *fx = *state;
	struct tu_raw   a, bare;
	nng_msg        *reply;
	uint8_t        *frame;
	size_t          flen;

	/* A session that is gone: its id is known nowhere any more. */
	assert_int_equal(
	    tu_raw_connect(&a, fx->url, &fx->agent, fx->skey.pub), 0);
	frame = tu_raw_seal(&a, "late", 4, &flen);
	tu_raw_close(&a);
	assert_true(tu_wait(no_sessions, fx, 5000));
	assert_int_equal(tu_raw_dial(&bare, fx->url), 0);
	assert_int_equal(
	    tu_raw_send(&bare, frame, flen, 300, &reply), NNG_ETIMEDOUT);
	nng_close(bare.sock);
	free(frame);
	assert_int_equal(drops(fx, VSM_DROP_NO_SESSION), 1);
	assert_still_serving(fx);
}

static void
test_unknown_agent_key_is_refused(void **state)
{
	struct fixture    *fx = *state;
	struct vsm_keypair stranger;
	struct vsm_client *c;
	struct vsm_err     err;
	uint8_t           *rep;
	size_t             rlen;
	int                status;

	vsm_keypair_generate(&stranger);
	c = client_for(fx, &stranger, fx->skey.pub);
	assert_int_equal(vsm_client_connect(c, 5000, &status, &err), -1);
	assert_int_equal(status, VSM__WELCOME__STATUS__UNKNOWN_KEY);
	assert_non_null(strstr(err.msg, "does not know our key"));
	assert_int_equal(vsm_client_call(c, (const uint8_t *)"x", 1, &rep,
	                     &rlen, 2000, &err),
	    -1);
	assert_int_equal(drops(fx, VSM_DROP_HS_DENIED), 2);
	assert_int_equal(no_sessions(fx), 1);
	vsm_client_close(c);
	assert_still_serving(fx);
}

static void
test_wrong_controller_key_is_refused_by_agent(void **state)
{
	struct fixture    *fx = *state;
	struct vsm_keypair other;
	struct vsm_client *c;
	struct vsm_err     err;
	int                status;

	vsm_keypair_generate(&other);
	c = client_for(fx, &fx->agent, other.pub);
	assert_int_equal(vsm_client_connect(c, 5000, &status, &err), -1);
	assert_int_equal(status, 0);
	assert_non_null(strstr(err.msg, "pinned controller key"));
	assert_int_equal(drops(fx, VSM_DROP_HS_DECRYPT), 1);
	vsm_client_close(c);
	assert_still_serving(fx);
}

static void
test_truncated_handshake_is_refused(void **state)
{
	struct fixture    *fx = *state;
	Vsm__Frame         f = VSM__FRAME__INIT, *rf;
	Vsm__HandshakeInit init = VSM__HANDSHAKE_INIT__INIT;
	struct tu_raw      raw;
	uint8_t            noise[40], buf[128];
	size_t             len;
	nng_msg           *reply;

	assert_int_equal(tu_raw_dial(&raw, fx->url), 0);
	/* 40 bytes: less than one ephemeral key and an encrypted static. */
	randombytes_buf(noise, sizeof(noise));
	init.version = VSM_CHAN_VERSION;
	init.noise.data = noise;
	init.noise.len = sizeof(noise);
	f.kind_case = VSM__FRAME__KIND_HS_INIT;
	f.hs_init = &init;
	len = vsm__frame__pack(&f, buf);
	assert_int_equal(tu_raw_send(&raw, buf, len, 5000, &reply), 0);
	rf = vsm_frame_unpack(nng_msg_body(reply), nng_msg_len(reply));
	assert_non_null(rf);
	assert_int_equal(rf->kind_case, VSM__FRAME__KIND_HS_ERROR);
	assert_int_equal(
	    rf->hs_error->code, VSM__HANDSHAKE_ERROR__CODE__MALFORMED);
	vsm_frame_free(rf);
	nng_msg_free(reply);
	assert_int_equal(drops(fx, VSM_DROP_HS_MALFORMED), 1);
	/* A frame cut in the middle does not even decode. */
	assert_int_equal(
	    tu_raw_send(&raw, buf, len / 2, 300, &reply), NNG_ETIMEDOUT);
	assert_int_equal(drops(fx, VSM_DROP_MALFORMED), 1);
	nng_close(raw.sock);
	assert_still_serving(fx);
}

/* Run nngcat as a REQ client sending `data`; returns its exit status. */
static int
run_nngcat(const char *url, const char *data)
{
	char *argv[] = {"nngcat", "--req0", "--dial", (char *)url, "--data",
	    (char *)data, "--recv-timeout", "1", "--send-timeout", "2",
	    "--silent", NULL};
	pid_t pid;
	int   st;

	if (posix_spawnp(&pid, "nngcat", NULL, NULL, argv, environ) != 0)
		fail_msg("nngcat not found: install nng-utils");
	if (waitpid(pid, &st, 0) == -1)
		return (-1);
	return (st);
}

static int
garbage_counted(void *arg)
{
	return (drops(arg, VSM_DROP_MALFORMED) >= 1);
}

static void
test_nngcat_garbage_is_dropped(void **state)
{
	struct fixture *fx = *state;

	run_nngcat(fx->url, "this is not a vsm frame \x01\x02\xff");
	assert_true(tu_wait(garbage_counted, fx, 5000));
	assert_int_equal(drops(fx, VSM_DROP_MALFORMED), 1);
	assert_int_equal(total_drops(fx), 1);
	assert_still_serving(fx);
}

struct held_call {
	struct vsm_client *c;
	int                rc;
	struct vsm_err     err;
};

static void *
held_call_main(void *arg)
{
	struct held_call *hc = arg;
	uint8_t          *rep;
	size_t            rlen;

	hc->rc = vsm_client_call(
	    hc->c, (const uint8_t *)"Hold", 4, &rep, &rlen, 30000, &hc->err);
	if (hc->rc == 0)
		free(rep);
	return (NULL);
}

static int
request_held(void *arg)
{
	struct fixture *fx = arg;
	int             held;

	pthread_mutex_lock(&fx->mtx);
	held = fx->held != NULL;
	pthread_mutex_unlock(&fx->mtx);
	return (held);
}

static int
client_lost_pipe(void *arg)
{
	struct vsm_client_stats cst;

	vsm_client_stats(arg, &cst);
	return (cst.pipes_lost >= 1);
}

/*
 * Kicking a key closes its pipe: the agent's call in flight ends at once
 * instead of being re-sent on the next connection, and the next call opens
 * a fresh session on a fresh pipe.
 */
static void
test_kick_ends_session_and_cancels_inflight(void **state)
{
	struct fixture         *fx = *state;
	struct held_call        hc = {0};
	pthread_t               th;
	struct vsm_err          err;
	uint8_t                *rep;
	size_t                  rlen;
	struct vsm_client_stats cst;

	hc.c = client_for(fx, &fx->agent, fx->skey.pub);
	assert_int_equal(vsm_client_connect(hc.c, 5000, NULL, &err), 0);
	pthread_create(&th, NULL, held_call_main, &hc);
	assert_true(tu_wait(request_held, fx, 5000));
	assert_int_equal(vsm_server_kick(fx->srv, fx->agent.pub), 1);
	pthread_join(th, NULL);
	assert_int_equal(hc.rc, -1);
	if (strstr(hc.err.msg, "lost") == NULL)
		fail_msg("unexpected error: %s", hc.err.msg);
	assert_true(tu_wait(no_sessions, fx, 5000));
	assert_int_equal(atomic_load(&fx->closed), 1);
	/* The held request is answered into the void: nothing breaks. */
	assert_int_equal(vsm_srv_reply(fx->held, (const uint8_t *)"z", 1), -1);
	fx->held = NULL;
	/* Reconnects with a new handshake; the old ciphertext never shows. */
	assert_true(tu_wait(client_lost_pipe, hc.c, 5000));
	if (vsm_client_call(
	        hc.c, (const uint8_t *)"ab", 2, &rep, &rlen, 10000, &err) != 0)
		fail_msg("after kick: %s", err.msg);
	free(rep);
	vsm_client_stats(hc.c, &cst);
	assert_int_equal(cst.handshakes, 2);
	assert_int_equal(total_drops(fx), 0);
	vsm_client_close(hc.c);
}

static void
test_oversized_payload_is_dropped(void **state)
{
	struct fixture    *fx = *state;
	struct vsm_client *c = client_for(fx, &fx->agent, fx->skey.pub);
	struct vsm_err     err;
	uint8_t           *big, *rep;
	size_t             rlen, len = (1 << 20) + 1;

	big = calloc(1, len);
	assert_non_null(big);
	assert_int_equal(
	    vsm_client_call(c, big, len, &rep, &rlen, 500, &err), -1);
	assert_int_equal(drops(fx, VSM_DROP_OVERSIZE), 1);
	free(big);
	vsm_client_close(c);
	assert_still_serving(fx);
}

/* Send a plaintext frame on raw and decode the answer (a handshake one). */
static Vsm__Frame *
send_frame(struct tu_raw *raw, Vsm__Frame *f)
{
	uint8_t     buf[1024];
	size_t      len = vsm__frame__pack(f, buf);
	nng_msg    *reply;
	Vsm__Frame *rf;

	assert_int_equal(tu_raw_send(raw, buf, len, 5000, &reply), 0);
	rf = vsm_frame_unpack(nng_msg_body(reply), nng_msg_len(reply));
	nng_msg_free(reply);
	assert_non_null(rf);
	return (rf);
}

static void
test_unsupported_channel_version_is_refused(void **state)
{
	struct fixture    *fx = *state;
	Vsm__Frame         f = VSM__FRAME__INIT, *rf;
	Vsm__HandshakeInit init = VSM__HANDSHAKE_INIT__INIT;
	struct tu_raw      raw;
	uint8_t            noise[96] = {0};

	assert_int_equal(tu_raw_dial(&raw, fx->url), 0);
	init.version = VSM_CHAN_VERSION + 1;
	init.noise.data = noise;
	init.noise.len = sizeof(noise);
	f.kind_case = VSM__FRAME__KIND_HS_INIT;
	f.hs_init = &init;
	rf = send_frame(&raw, &f);
	assert_int_equal(rf->kind_case, VSM__FRAME__KIND_HS_ERROR);
	assert_int_equal(
	    rf->hs_error->code, VSM__HANDSHAKE_ERROR__CODE__VERSION);
	vsm_frame_free(rf);
	assert_int_equal(drops(fx, VSM_DROP_HS_VERSION), 1);
	nng_close(raw.sock);
	assert_still_serving(fx);
}

static void
test_frame_of_the_wrong_direction_is_dropped(void **state)
{
	struct fixture     *fx = *state;
	Vsm__Frame          f = VSM__FRAME__INIT;
	Vsm__HandshakeError e = VSM__HANDSHAKE_ERROR__INIT;
	struct tu_raw       raw;
	uint8_t             buf[64];
	size_t              len;
	nng_msg            *reply;

	assert_int_equal(tu_raw_dial(&raw, fx->url), 0);
	e.reason = "agents do not send this";
	f.kind_case = VSM__FRAME__KIND_HS_ERROR;
	f.hs_error = &e;
	len = vsm__frame__pack(&f, buf);
	assert_int_equal(
	    tu_raw_send(&raw, buf, len, 300, &reply), NNG_ETIMEDOUT);
	assert_int_equal(drops(fx, VSM_DROP_UNEXPECTED), 1);
	nng_close(raw.sock);
	assert_still_serving(fx);
}

/*
 * A second handshake on a pipe: by the same key it replaces the session
 * (the old session's messages are refused from then on); by another key
 * it is refused and the first session stays.
 */
static void
test_second_handshake_on_a_pipe(void **state)
{
	struct fixture    *fx = *state;
	struct vsm_keypair other;
	struct tu_raw      raw;
	nng_msg           *reply;
	uint8_t           *old_frame, *frame;
	size_t             oldlen, flen;

	vsm_keypair_generate(&other);
	memcpy(fx->allowed[fx->nallowed++], other.pub, VSM_KEY_LEN);
	assert_int_equal(
	    tu_raw_connect(&raw, fx->url, &fx->agent, fx->skey.pub), 0);
	old_frame = tu_raw_seal(&raw, "old", 3, &oldlen);
	/* Another key on the same pipe: refused, counted. */
	assert_int_equal(tu_raw_handshake(&raw, &other, fx->skey.pub), -1);
	assert_int_equal(drops(fx, VSM_DROP_HS_REKEY), 1);
	/* The same key again: a re-key; the old session is gone. */
	assert_int_equal(tu_raw_handshake(&raw, &fx->agent, fx->skey.pub), 0);
	assert_int_equal(
	    tu_raw_send(&raw, old_frame, oldlen, 300, &reply), NNG_ETIMEDOUT);
	assert_int_equal(drops(fx, VSM_DROP_BAD_SESSION), 1);
	frame = tu_raw_seal(&raw, "new", 3, &flen);
	assert_int_equal(tu_raw_send(&raw, frame, flen, 5000, &reply), 0);
	nng_msg_free(reply);
	free(frame);
	free(old_frame);
	tu_raw_close(&raw);
	assert_still_serving(fx);
}

static int
client_dial_failed(void *arg)
{
	struct vsm_client_stats cst;

	vsm_client_stats(arg, &cst);
	return (cst.dial_failures >= 2);
}

/*
 * The controller goes away and comes back on the same address: the client
 * redials on its own (full-jitter backoff, failures counted), opens a new
 * session, and the next call goes through.
 */
static void
test_client_redials_after_controller_restart(void **state)
{
	struct fixture          *fx = *state;
	struct vsm_client_config ccfg = {0};
	struct vsm_server_config scfg = {0};
	Vsm__Hello               hello = VSM__HELLO__INIT;
	struct vsm_client       *c;
	struct vsm_client_stats  cst;
	struct vsm_err           err;
	uint8_t                 *rep;
	size_t                   rlen;

	hello.name = "redial";
	ccfg.url = fx->url;
	ccfg.key = &fx->agent;
	ccfg.server_key = fx->skey.pub;
	ccfg.hello = &hello;
	ccfg.backoff_base_ms = 50;
	ccfg.backoff_cap_ms = 400;
	assert_int_equal(vsm_client_open(&c, &ccfg, &err), 0);
	assert_int_equal(vsm_client_call(c, (const uint8_t *)"a", 1, &rep,
	                     &rlen, 5000, &err),
	    0);
	free(rep);
	vsm_server_stop(fx->srv);
	fx->srv = NULL;
	assert_true(tu_wait(client_lost_pipe, c, 5000));
	assert_true(tu_wait(client_dial_failed, c, 10000));
	scfg.url = fx->url;
	scfg.key = &fx->skey;
	scfg.ops = &fx_ops;
	scfg.arg = fx;
	if (vsm_server_start(&fx->srv, &scfg, &err) != 0)
		fail_msg("restart: %s", err.msg);
	if (vsm_client_call(
	        c, (const uint8_t *)"bc", 2, &rep, &rlen, 10000, &err) != 0)
		fail_msg("after restart: %s", err.msg);
	assert_memory_equal(rep, "cb", 2);
	free(rep);
	vsm_client_stats(c, &cst);
	assert_int_equal(cst.handshakes, 2);
	assert_true(cst.dials >= 3);
	vsm_client_close(c);
}

/*
 * Clients opened, connected and closed in a quick loop: closing while the
 * dialer thread is between a dial and its dialer_close must be safe (nng
 * 1.5 panics if nng_dialer_close and nng_close run at once).
 */
static void
test_clients_open_and_close_in_a_loop(void **state)
{
	struct fixture         *fx = *state;
	struct vsm_client      *c;
	struct vsm_server_stats st;
	struct vsm_err          err;
	int                     i;

	for (i = 0; i < 200; i++) {
		c = client_for(fx, &fx->agent, fx->skey.pub);
		if (i % 2 == 0 && vsm_client_connect(c, 5000, NULL, &err) != 0)
			fail_msg("connect %d: %s", i, err.msg);
		vsm_client_close(c);
	}
	vsm_server_stats(fx->srv, &st);
	assert_int_equal(st.handshakes, 100);
	assert_still_serving(fx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_handshake_then_10000_messages_both_ways, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_tampered_ciphertext_is_dropped, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_replayed_counter_is_dropped, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_message_moved_to_another_pipe_is_dropped, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_transport_before_handshake_is_dropped, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_unknown_agent_key_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_wrong_controller_key_is_refused_by_agent, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_truncated_handshake_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_nngcat_garbage_is_dropped, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_kick_ends_session_and_cancels_inflight, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_oversized_payload_is_dropped, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_unsupported_channel_version_is_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_frame_of_the_wrong_direction_is_dropped, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_second_handshake_on_a_pipe, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_client_redials_after_controller_restart, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_clients_open_and_close_in_a_loop, setup, teardown),
	};

	if (sodium_init() < 0)
		return (1);
	return (cmocka_run_group_tests_name("channel", tests, NULL, NULL));
}
