/*
 * make_corpus.c: write the seed inputs of the fuzz targets.
 *
 *	make_corpus DIR
 *
 * writes DIR/fuzz_handshake/, DIR/fuzz_transport/ and DIR/fuzz_envelope/,
 * a few small files each: valid messages built with the fixed keys of
 * fixture.c, so that the targets start from inputs that get through the
 * crypto. The output is deterministic; tests/fuzz/corpus/ holds it.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

#define BUFCAP 4096

struct seed {
	uint8_t buf[BUFCAP];
	size_t  len;
};

static const char *outdir;

static void
seed_reset(struct seed *sd, int mode)
{
	sd->len = 0;
	if (mode >= 0)
		sd->buf[sd->len++] = (uint8_t)mode;
}

static void
seed_add(struct seed *sd, const void *p, size_t len)
{
	if (len > sizeof(sd->buf) - sd->len)
		fixture_fail("seed too big");
	memcpy(sd->buf + sd->len, p, len);
	sd->len += len;
}

static void
seed_add64(struct seed *sd, uint64_t v)
{
	uint8_t b[8];
	int     i;

	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	seed_add(sd, b, sizeof(b));
}

/* One op of TR_MODE_SEQ or the header of TR_MODE_FLIP. */
static void
seed_op(struct seed *sd, uint8_t op, uint64_t counter)
{
	seed_add(sd, &op, 1);
	seed_add64(sd, counter);
}

/* Append a packed message. */
static void
seed_msg(struct seed *sd, const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);

	if (len > sizeof(sd->buf) - sd->len)
		fixture_fail("seed too big");
	sd->len += protobuf_c_message_pack(m, sd->buf + sd->len);
}

static void
seed_write(const struct seed *sd, const char *target, const char *name)
{
	char  path[1024];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", outdir, target);
	if (mkdir(path, 0755) == -1 && errno != EEXIST)
		fixture_fail("mkdir %s: %s", path, strerror(errno));
	snprintf(path, sizeof(path), "%s/%s/%s", outdir, target, name);
	if ((fp = fopen(path, "wb")) == NULL)
		fixture_fail("%s: %s", path, strerror(errno));
	if (fwrite(sd->buf, 1, sd->len, fp) != sd->len || fclose(fp) != 0)
		fixture_fail("write %s", path);
}

static void
handshake_seeds(void)
{
	Vsm__Frame           f = VSM__FRAME__INIT;
	Vsm__HandshakeInit   init = VSM__HANDSHAKE_INIT__INIT;
	struct vsm_noise_hs *ini, *resp;
	struct seed          sd;
	uint8_t              m1[BUFCAP], m2[BUFCAP], pl[BUFCAP];
	uint8_t              zero[8] = {0};
	size_t               m1len, m2len, plen;

	plen = fixture_hello(pl, sizeof(pl));
	if ((ini = fixture_msg1(pl, plen, m1, sizeof(m1), &m1len)) == NULL)
		fixture_fail("message 1");
	seed_reset(&sd, HS_MODE_MSG1);
	seed_add(&sd, m1, m1len);
	seed_write(&sd, "fuzz_handshake", "msg1_valid");
	seed_reset(&sd, HS_MODE_MSG1);
	seed_add(&sd, m1, 40);
	seed_write(&sd, "fuzz_handshake", "msg1_short");
	seed_reset(&sd, HS_MODE_HELLO);
	seed_add(&sd, pl, plen);
	seed_write(&sd, "fuzz_handshake", "hello");

	plen = fixture_welcome(pl, sizeof(pl));
	if ((resp = fixture_msg2(
	         m1, m1len, pl, plen, m2, sizeof(m2), &m2len)) == NULL)
		fixture_fail("message 2");
	seed_reset(&sd, HS_MODE_MSG2);
	seed_add(&sd, m2, m2len);
	seed_write(&sd, "fuzz_handshake", "msg2_valid");
	seed_reset(&sd, HS_MODE_WELCOME);
	seed_add(&sd, pl, plen);
	seed_write(&sd, "fuzz_handshake", "welcome");

	seed_reset(&sd, HS_MODE_MSG1_FLIP);
	seed_add(&sd, zero, sizeof(zero));
	seed_write(&sd, "fuzz_handshake", "msg1_flip_none");
	seed_reset(&sd, HS_MODE_MSG2_FLIP);
	seed_add(&sd, zero, sizeof(zero));
	seed_write(&sd, "fuzz_handshake", "msg2_flip_none");

	init.version = VSM_CHAN_VERSION;
	init.noise.data = m1;
	init.noise.len = m1len;
	f.kind_case = VSM__FRAME__KIND_HS_INIT;
	f.hs_init = &init;
	seed_reset(&sd, -1);
	seed_msg(&sd, &f.base);
	seed_write(&sd, "fuzz_handshake", "frame_hs_init");
	seed_write(&sd, "fuzz_envelope", "frame_hs_init");

	vsm_noise_hs_free(resp);
	vsm_noise_hs_free(ini);
}

/* The Transport of one message sealed by s, appended to sd. */
static void
seed_sealed(struct seed *sd, struct vsm_session *s, const char *text)
{
	nng_msg    *msg;
	Vsm__Frame *f;

	if (vsm_session_seal(s, (const uint8_t *)text, strlen(text), &msg) ==
	    -1)
		fixture_fail("seal");
	if ((f = vsm_frame_unpack(nng_msg_body(msg), nng_msg_len(msg))) == NULL)
		fixture_fail("sealed Frame does not decode");
	seed_msg(sd, &f->transport->base);
	vsm_frame_free(f);
	nng_msg_free(msg);
}

static void
transport_seeds(void)
{
	struct vsm_session *agent, *ctl;
	struct seed         sd;
	nng_msg            *msg;

	fixture_pair(&agent, &ctl);
	seed_reset(&sd, TR_MODE_RAW);
	seed_sealed(&sd, agent, "hello controller");
	seed_write(&sd, "fuzz_transport", "raw_valid");
	seed_reset(&sd, TR_MODE_RAW | TR_REVERSE);
	seed_sealed(&sd, ctl, "hello agent");
	seed_write(&sd, "fuzz_transport", "raw_valid_reverse");

	seed_reset(&sd, TR_MODE_FLIP);
	seed_op(&sd, 2, 0);
	seed_write(&sd, "fuzz_transport", "flip_none");
	seed_reset(&sd, TR_MODE_FLIP);
	seed_op(&sd, 1, 5);
	seed_add(&sd, "\x0a\x00\x01", 3);
	seed_write(&sd, "fuzz_transport", "flip_one");
	seed_reset(&sd, TR_MODE_FLIP | TR_REVERSE);
	seed_op(&sd, 6, 1000);
	seed_write(&sd, "fuzz_transport", "flip_multi");

	seed_reset(&sd, TR_MODE_SEQ);
	seed_op(&sd, 2, 0);
	seed_op(&sd, 2 | 0x08, 0); /* the same again: a replay */
	seed_op(&sd, 1, 5000);
	seed_op(&sd, 2, 5000 - VSM_REPLAY_WINDOW);
	seed_op(&sd, 2, 5000 - VSM_REPLAY_WINDOW - 1);
	seed_op(&sd, 5, 4999);
	seed_op(&sd, 7, 6000);
	seed_write(&sd, "fuzz_transport", "seq_window");
	seed_reset(&sd, TR_MODE_SEQ | TR_REVERSE);
	seed_op(&sd, 0, 1);
	seed_op(&sd, 3, 64 * 64);
	seed_op(&sd, 0, 0);
	seed_op(&sd, 4, 64 * 64 * 3);
	seed_write(&sd, "fuzz_transport", "seq_ring");

	/* A Transport Frame for the decoders. */
	if (vsm_session_seal(agent, (const uint8_t *)"x", 1, &msg) == -1)
		fixture_fail("seal");
	seed_reset(&sd, -1);
	seed_add(&sd, nng_msg_body(msg), nng_msg_len(msg));
	seed_write(&sd, "fuzz_envelope", "frame_transport");
	nng_msg_free(msg);
	vsm_session_unref(agent);
	vsm_session_unref(ctl);
}

static void
envelope_seeds(void)
{
	Vsm__Frame          f = VSM__FRAME__INIT;
	Vsm__HandshakeResp  hr = VSM__HANDSHAKE_RESP__INIT;
	Vsm__HandshakeError he = VSM__HANDSHAKE_ERROR__INIT;
	Vsm__Envelope       e = VSM__ENVELOPE__INIT;
	Vsm__Heartbeat      hb = VSM__HEARTBEAT__INIT;
	Vsm__HeartbeatAck   ack = VSM__HEARTBEAT_ACK__INIT;
	Vsm__Echo           echo = VSM__ECHO__INIT;
	Vsm__Error          err = VSM__ERROR__INIT;
	struct seed         sd;

	hr.noise.data = (uint8_t *)"0123456789abcdef0123456789abcdef";
	hr.noise.len = 32;
	f.kind_case = VSM__FRAME__KIND_HS_RESP;
	f.hs_resp = &hr;
	seed_reset(&sd, -1);
	seed_msg(&sd, &f.base);
	seed_write(&sd, "fuzz_envelope", "frame_hs_resp");

	he.code = VSM__HANDSHAKE_ERROR__CODE__DECRYPT;
	he.reason = "handshake did not authenticate";
	f.kind_case = VSM__FRAME__KIND_HS_ERROR;
	f.hs_error = &he;
	seed_reset(&sd, -1);
	seed_msg(&sd, &f.base);
	seed_write(&sd, "fuzz_envelope", "frame_hs_error");

	hb.seq = 42;
	hb.uptime_s = 86400;
	hb.cpu_pct = 12.5;
	hb.mem_pct = 50.25;
	hb.disk_pct = 99.9;
	e.body_case = VSM__ENVELOPE__BODY_HEARTBEAT;
	e.heartbeat = &hb;
	seed_reset(&sd, -1);
	seed_msg(&sd, &e.base);
	seed_write(&sd, "fuzz_envelope", "env_heartbeat");

	ack.seq = 42;
	ack.controller_time_ms = UINT64_C(1700000000000);
	e.body_case = VSM__ENVELOPE__BODY_HEARTBEAT_ACK;
	e.heartbeat_ack = &ack;
	seed_reset(&sd, -1);
	seed_msg(&sd, &e.base);
	seed_write(&sd, "fuzz_envelope", "env_heartbeat_ack");

	echo.seq = 7;
	echo.data.data = (uint8_t *)"echo echo";
	echo.data.len = 9;
	e.body_case = VSM__ENVELOPE__BODY_ECHO;
	e.echo = &echo;
	seed_reset(&sd, -1);
	seed_msg(&sd, &e.base);
	seed_write(&sd, "fuzz_envelope", "env_echo");

	err.code = 404;
	err.message = "no such module";
	e.body_case = VSM__ENVELOPE__BODY_ERROR;
	e.error = &err;
	seed_reset(&sd, -1);
	seed_msg(&sd, &e.base);
	seed_write(&sd, "fuzz_envelope", "env_error");

	seed_reset(&sd, -1);
	sd.len = fixture_hello(sd.buf, sizeof(sd.buf));
	seed_write(&sd, "fuzz_envelope", "hello");
	seed_reset(&sd, -1);
	sd.len = fixture_welcome(sd.buf, sizeof(sd.buf));
	seed_write(&sd, "fuzz_envelope", "welcome");
}

int
main(int argc, char *argv[])
{
	if (argc != 2) {
		fprintf(stderr, "usage: make_corpus DIR\n");
		return (2);
	}
	outdir = argv[1];
	if (mkdir(outdir, 0755) == -1 && errno != EEXIST)
		fixture_fail("mkdir %s: %s", outdir, strerror(errno));
	fixture_init();
	handshake_seeds();
	transport_seeds();
	envelope_seeds();
	return (0);
}
