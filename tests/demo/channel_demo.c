/*
 * channel_demo.c: vsm-channel-demo, the README's main job until the
 * controller and agent daemons land. In one process it writes a
 * controller key and two agent keys to a directory (mode 0600), starts the
 * controller side of the channel on loopback, lets an enrolled agent
 * complete the Noise IK handshake and exchange heartbeats and echoes, and
 * shows a stranger's key being refused. Exits 0 when all of that worked.
 *
 *	vsm-channel-demo [--dir DIR] [--messages N]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>

#include "chan.h"
#include "envelope.h"
#include "log.h"

struct demo {
	uint8_t enrolled[VSM_KEY_LEN];
};

static int
demo_authorize(
    void *arg, struct vsm_peer *peer, const Vsm__Hello *hello, Vsm__Welcome *w)
{
	struct demo *d = arg;
	char         key[VSM_KEY_B64LEN];

	vsm_key_encode(peer->key, key);
	if (sodium_memcmp(peer->key, d->enrolled, VSM_KEY_LEN) != 0) {
		printf("  controller: refused %s (%s): key not enrolled\n",
		    hello->name, key);
		w->status = VSM__WELCOME__STATUS__UNKNOWN_KEY;
		w->reason = "key not enrolled";
		return (0);
	}
	printf("  controller: accepted %s (%s), session %016llx\n", hello->name,
	    key, (unsigned long long)peer->session_id);
	w->status = VSM__WELCOME__STATUS__ACCEPTED;
	w->heartbeat_ms = 5000;
	return (0);
}

/* Answer heartbeats with an ack and echoes with their data. */
static void
demo_request(
    void *arg, struct vsm_srv_req *req, const uint8_t *data, size_t len)
{
	Vsm__Envelope    *in, out = VSM__ENVELOPE__INIT;
	Vsm__HeartbeatAck ack = VSM__HEARTBEAT_ACK__INIT;
	Vsm__Error        err = VSM__ERROR__INIT;

	if ((in = vsm__envelope__unpack(NULL, len, data)) == NULL) {
		vsm_srv_drop(req);
		return;
	}
	switch (in->body_case) {
	case VSM__ENVELOPE__BODY_HEARTBEAT:
		ack.seq = in->heartbeat->seq;
		ack.controller_time_ms = (uint64_t)time(NULL) * 1000;
		out.body_case = VSM__ENVELOPE__BODY_HEARTBEAT_ACK;
		out.heartbeat_ack = &ack;
		break;
	case VSM__ENVELOPE__BODY_ECHO:
		out.body_case = VSM__ENVELOPE__BODY_ECHO;
		out.echo = in->echo;
		break;
	default:
		err.code = 1;
		err.message = "unsupported request";
		out.body_case = VSM__ENVELOPE__BODY_ERROR;
		out.error = &err;
		break;
	}
	vsm_srv_reply_env(req, &out);
	vsm__envelope__free_unpacked(in, NULL);
}

static const struct vsm_server_ops demo_ops = {
    .authorize = demo_authorize,
    .request = demo_request,
};

/* Send one envelope and decode the answer; NULL with err set on failure. */
static Vsm__Envelope *
call(struct vsm_client *c, const Vsm__Envelope *env, struct vsm_err *err)
{
	Vsm__Envelope *reply;

	return (
	    vsm_client_call_env(c, env, &reply, 5000, err) == 0 ? reply : NULL);
}

static int
make_key(const char *dir, const char *name, struct vsm_keypair *kp)
{
	char           path[4096], pub[VSM_KEY_B64LEN];
	struct vsm_err err;

	snprintf(path, sizeof(path), "%s/%s.key", dir, name);
	vsm_keypair_generate(kp);
	if (vsm_key_save(path, kp, &err) == -1 ||
	    vsm_key_load(path, kp, &err) == -1) {
		fprintf(stderr, "vsm-channel-demo: %s\n", err.msg);
		return (-1);
	}
	vsm_key_encode(kp->pub, pub);
	printf("  %-10s %s (private key in %s, mode 0600)\n", name, pub, path);
	return (0);
}

static struct vsm_client *
agent(const char *url, const char *name, const struct vsm_keypair *kp,
    const uint8_t *pin)
{
	struct vsm_client_config cfg = {0};
	Vsm__Hello               hello = VSM__HELLO__INIT;
	struct vsm_client       *c;
	struct vsm_err           err;

	hello.name = (char *)name;
	hello.agent_version = VSM_VERSION;
	hello.proto_version = VSM_CHAN_VERSION;
	cfg.url = url;
	cfg.key = kp;
	cfg.server_key = pin;
	cfg.hello = &hello;
	if (vsm_client_open(&c, &cfg, &err) == -1) {
		fprintf(stderr, "vsm-channel-demo: %s\n", err.msg);
		return (NULL);
	}
	return (c);
}

int
main(int argc, char *argv[])
{
	struct option      opts[] = {{"dir", required_argument, NULL, 'd'},
	         {"messages", required_argument, NULL, 'n'}, {NULL, 0, NULL, 0}};
	char               tmpl[] = "/tmp/vsm-demo.XXXXXX", url[64];
	const char        *dir = NULL;
	struct vsm_keypair ctl, db1, stranger;
	struct vsm_server_config scfg = {0};
	struct vsm_server       *srv = NULL;
	struct vsm_server_stats  st;
	struct vsm_client       *c = NULL, *bad = NULL;
	struct vsm_err           err;
	struct demo              d;
	Vsm__Envelope            env = VSM__ENVELOPE__INIT, *rep;
	Vsm__Heartbeat           hb = VSM__HEARTBEAT__INIT;
	Vsm__Echo                echo = VSM__ECHO__INIT;
	uint8_t                  data[1024];
	long                     n = 1000, i;
	int                      ch, ret = 1, status, j;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		case 'n':
			n = strtol(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr,
			    "usage: vsm-channel-demo [--dir DIR] [--messages "
			    "N]\n");
			return (2);
		}
	}
	if (n < 1 || n > 10000000) {
		fprintf(
		    stderr, "vsm-channel-demo: --messages must be 1..1e7\n");
		return (2);
	}
	if (sodium_init() < 0)
		return (1);
	vsm_log_init("vsm-channel-demo", VSM_LOG_WARN, 0);
	if (dir == NULL && (dir = mkdtemp(tmpl)) == NULL) {
		perror("mkdtemp");
		return (1);
	}
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		perror(dir);
		return (1);
	}
	printf("1. identities (Curve25519, base64):\n");
	if (make_key(dir, "controller", &ctl) == -1 ||
	    make_key(dir, "db-1", &db1) == -1 ||
	    make_key(dir, "stranger", &stranger) == -1)
		goto out;
	memcpy(d.enrolled, db1.pub, VSM_KEY_LEN);

	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d",
	    20000 + (int)randombytes_uniform(40000));
	scfg.url = url;
	scfg.key = &ctl;
	scfg.ops = &demo_ops;
	scfg.arg = &d;
	if (vsm_server_start(&srv, &scfg, &err) == -1) {
		fprintf(stderr, "vsm-channel-demo: %s\n", err.msg);
		goto out;
	}
	printf("2. controller listening on %s (%s)\n", url, VSM_CHAN_PROTOCOL);

	printf("3. agent db-1 dials, pinning the controller key:\n");
	if ((c = agent(url, "db-1", &db1, ctl.pub)) == NULL)
		goto out;
	if (vsm_client_connect(c, 5000, &status, &err) == -1) {
		fprintf(stderr, "vsm-channel-demo: %s\n", err.msg);
		goto out;
	}
	hb.seq = 1;
	hb.cpu_pct = 3.5;
	env.body_case = VSM__ENVELOPE__BODY_HEARTBEAT;
	env.heartbeat = &hb;
	if ((rep = call(c, &env, &err)) == NULL) {
		fprintf(stderr, "vsm-channel-demo: heartbeat: %s\n", err.msg);
		goto out;
	}
	printf("  agent: heartbeat %llu acknowledged\n",
	    (unsigned long long)rep->heartbeat_ack->seq);
	vsm__envelope__free_unpacked(rep, NULL);

	env.body_case = VSM__ENVELOPE__BODY_ECHO;
	env.echo = &echo;
	echo.data.data = data;
	echo.data.len = sizeof(data);
	for (i = 0; i < n; i++) {
		randombytes_buf(data, sizeof(data));
		echo.seq = (uint64_t)i;
		if ((rep = call(c, &env, &err)) == NULL ||
		    rep->body_case != VSM__ENVELOPE__BODY_ECHO ||
		    rep->echo->data.len != sizeof(data) ||
		    memcmp(rep->echo->data.data, data, sizeof(data)) != 0) {
			fprintf(stderr,
			    "vsm-channel-demo: echo %ld failed%s%s\n", i,
			    rep ? "" : ": ", rep ? "" : err.msg);
			vsm__envelope__free_unpacked(rep, NULL);
			goto out;
		}
		vsm__envelope__free_unpacked(rep, NULL);
	}
	printf("  agent: %ld encrypted 1 KiB echoes verified\n", n);

	printf("4. a stranger dials with an unknown key:\n");
	if ((bad = agent(url, "stranger", &stranger, ctl.pub)) == NULL)
		goto out;
	if (vsm_client_connect(bad, 5000, &status, &err) == 0) {
		fprintf(stderr, "vsm-channel-demo: stranger was let in!\n");
		goto out;
	}
	printf("  stranger: %s\n", err.msg);

	vsm_server_stats(srv, &st);
	printf("5. controller counters: sessions=%llu requests=%llu",
	    (unsigned long long)st.handshakes, (unsigned long long)st.requests);
	for (j = 0; j < VSM_DROP_MAX; j++)
		if (st.drops[j] != 0)
			printf(" %s=%llu", vsm_drop_name(j),
			    (unsigned long long)st.drops[j]);
	printf("\nchannel demo: ok (keys kept in %s)\n", dir);
	ret = 0;
out:
	vsm_client_close(bad);
	vsm_client_close(c);
	vsm_server_stop(srv);
	vsm_keypair_wipe(&ctl);
	vsm_keypair_wipe(&db1);
	vsm_keypair_wipe(&stranger);
	return (ret);
}
