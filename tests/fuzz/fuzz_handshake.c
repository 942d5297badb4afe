/*
 * fuzz_handshake.c: the channel's IK handshake fed by a hostile peer.
 *
 * The first byte of an input picks a mode (enum hs_mode in fixture.h); the
 * rest is message 1 for the controller's responder, message 2 for an agent
 * that wrote a valid message 1, a mask xored over a valid message, or the
 * Hello or Welcome carried behind valid crypto. Independently, the whole
 * input is decoded as a Frame, and a HandshakeInit in it is served as
 * handle_handshake() in chan_server.c serves one.
 *
 * Besides what ASan and UBSan catch, three invariants abort: a valid
 * message is accepted, a message changed in any byte is refused, and the
 * two ends of a completed handshake can talk.
 */
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

#define MSGCAP 4096 /* message 1 buffer of chan_client.c */

enum resp_rc {
	RESP_REFUSED,   /* message 1 did not read */
	RESP_MALFORMED, /* it read, but its Hello did not decode */
	RESP_ACCEPTED,  /* message 2 written and the session opened */
};

int LLVMFuzzerInitialize(int *, char ***);
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static volatile size_t sink; /* keeps the walks from being optimised out */

static void
walk_hello(const Vsm__Hello *h)
{
	size_t i, n;

	n = strlen(h->name) + strlen(h->agent_version) + strlen(h->token) +
	    h->proto_version;
	for (i = 0; i < h->n_labels; i++)
		n += strlen(h->labels[i]->key) + strlen(h->labels[i]->value);
	sink += n;
}

static void
walk_welcome(const Vsm__Welcome *w)
{
	sink += (size_t)w->status + (size_t)w->session_id +
	    strlen(w->controller_version) + w->heartbeat_ms + strlen(w->reason);
}

/*
 * Copy msg with mask xored over it into a new buffer; mask bytes past the
 * end of msg are appended. *changed says whether the copy differs.
 */
static uint8_t *
flip(const uint8_t *msg, size_t len, const uint8_t *mask, size_t mlen,
    size_t *outlen, int *changed)
{
	uint8_t *out;
	size_t   i;

	*outlen = len > mlen ? len : mlen;
	if ((out = calloc(1, *outlen ? *outlen : 1)) == NULL)
		fixture_fail("out of memory");
	memcpy(out, msg, len);
	for (i = 0; i < mlen; i++)
		out[i] ^= mask[i];
	*changed = *outlen != len || memcmp(out, msg, len) != 0;
	return (out);
}

/* Seal on one end, open on the other, in both directions. */
static void
check_pair(struct vsm_session *agent, struct vsm_session *ctl)
{
	static const uint8_t ping[] = "ping";
	struct vsm_session  *from[] = {agent, ctl}, *to[] = {ctl, agent};
	nng_msg             *msg;
	Vsm__Frame          *f;
	uint8_t             *pt;
	size_t               len, i;
	enum vsm_drop        why;

	for (i = 0; i < 2; i++) {
		if (vsm_session_seal(from[i], ping, sizeof(ping), &msg) == -1)
			fixture_fail("seal after a handshake");
		f = vsm_frame_unpack(nng_msg_body(msg), nng_msg_len(msg));
		nng_msg_free(msg);
		if (f == NULL || f->kind_case != VSM__FRAME__KIND_TRANSPORT)
			fixture_fail("sealed Frame does not decode");
		if (vsm_session_open(to[i], f->transport, FIXTURE_MAXLEN, &pt,
		        &len, &why) == -1)
			fixture_fail("the ends of a handshake cannot talk: %s",
			    vsm_drop_name(why));
		if (len != sizeof(ping) || memcmp(pt, ping, len) != 0)
			fixture_fail("opened plaintext differs");
		free(pt);
		vsm_frame_free(f);
	}
}

/*
 * Serve message 1 as the controller does: read it, decode the Hello,
 * answer with a Welcome in message 2 (into m2, MSGCAP bytes) and open a
 * session, returned in *sessp (NULL unless RESP_ACCEPTED).
 */
static enum resp_rc
respond(const uint8_t *m1, size_t m1len, uint8_t *m2, size_t *m2len,
    struct vsm_session **sessp)
{
	struct vsm_noise_hs *hs = fixture_hs_new(0);
	Vsm__Hello          *hello = NULL;
	uint8_t              pl[FIXTURE_PCAP], wel[256];
	size_t               plen, wlen;
	enum resp_rc         ret = RESP_REFUSED;

	*sessp = NULL;
	*m2len = 0;
	if (vsm_noise_hs_read(hs, m1, m1len, pl, sizeof(pl), &plen) !=
	    VSM_NOISE_OK)
		goto out;
	ret = RESP_MALFORMED;
	if (vsm_noise_hs_remote_static(hs) == NULL)
		fixture_fail("message 1 read without a remote static key");
	if ((hello = vsm__hello__unpack(NULL, plen, pl)) == NULL)
		goto out;
	walk_hello(hello);
	wlen = fixture_welcome(wel, sizeof(wel));
	if (vsm_noise_hs_write(hs, wel, wlen, m2, MSGCAP, m2len) !=
	    VSM_NOISE_OK)
		fixture_fail("responder cannot write message 2");
	if ((*sessp = vsm_session_new(hs, FIXTURE_SID, FIXTURE_PIPE)) == NULL)
		fixture_fail("vsm_session_new after message 2");
	ret = RESP_ACCEPTED;
out:
	if (hello != NULL)
		vsm__hello__free_unpacked(hello, NULL);
	vsm_noise_hs_free(hs);
	return (ret);
}

/*
 * Read message 2 as the agent does, and open its session when the Welcome
 * accepts. Returns whether message 2 read; *sessp is NULL or the session,
 * under the id of the Welcome (stored in *sidp).
 */
static int
finish(struct vsm_noise_hs *ini, const uint8_t *m2, size_t m2len,
    struct vsm_session **sessp, uint64_t *sidp)
{
	Vsm__Welcome *wel;
	uint8_t       pl[FIXTURE_PCAP];
	size_t        plen;

	*sessp = NULL;
	*sidp = 0;
	if (vsm_noise_hs_read(ini, m2, m2len, pl, sizeof(pl), &plen) !=
	    VSM_NOISE_OK)
		return (0);
	if (vsm_noise_hs_action(ini) != VSM_NOISE_SPLIT)
		fixture_fail("handshake not over after message 2");
	if ((wel = vsm__welcome__unpack(NULL, plen, pl)) == NULL)
		return (1);
	walk_welcome(wel);
	if (wel->status == VSM__WELCOME__STATUS__ACCEPTED &&
	    wel->session_id != 0) {
		*sidp = wel->session_id;
		if ((*sessp = vsm_session_new(ini, *sidp, FIXTURE_PIPE)) ==
		    NULL)
			fixture_fail("vsm_session_new after message 2");
	}
	vsm__welcome__free_unpacked(wel, NULL);
	return (1);
}

/* An agent, from message 1 with payload pl to a live session or not. */
static void
run_agent(const uint8_t *pl, size_t plen, int must_accept)
{
	struct vsm_noise_hs *ini;
	struct vsm_session  *ctl, *agent;
	uint8_t              m1[MSGCAP], m2[MSGCAP];
	size_t               m1len, m2len;
	uint64_t             sid;
	enum resp_rc         rc;

	if ((ini = fixture_msg1(pl, plen, m1, sizeof(m1), &m1len)) == NULL)
		return; /* payload too big to send */
	rc = respond(m1, m1len, m2, &m2len, &ctl);
	if (rc == RESP_REFUSED && must_accept)
		fixture_fail("responder refused a valid message 1");
	if (rc == RESP_ACCEPTED) {
		if (!finish(ini, m2, m2len, &agent, &sid) || agent == NULL)
			fixture_fail("agent refused a valid message 2");
		check_pair(agent, ctl);
		vsm_session_unref(agent);
		vsm_session_unref(ctl);
	}
	vsm_noise_hs_free(ini);
}

static void
mode_msg1(const uint8_t *data, size_t len)
{
	struct vsm_session *ctl;
	uint8_t             m2[MSGCAP];
	size_t              m2len;

	respond(data, len, m2, &m2len, &ctl);
	vsm_session_unref(ctl);
}

static void
mode_msg1_flip(const uint8_t *data, size_t len)
{
	struct vsm_noise_hs *ini;
	struct vsm_session  *ctl, *agent;
	uint8_t              m1[MSGCAP], m2[MSGCAP], pl[FIXTURE_PCAP], *mut;
	size_t               m1len, m2len, mutlen, plen;
	uint64_t             sid;
	enum resp_rc         rc;
	int                  changed;

	plen = fixture_hello(pl, sizeof(pl));
	if ((ini = fixture_msg1(pl, plen, m1, sizeof(m1), &m1len)) == NULL)
		fixture_fail("message 1");
	mut = flip(m1, m1len, data, len, &mutlen, &changed);
	rc = respond(mut, mutlen, m2, &m2len, &ctl);
	if (changed && rc != RESP_REFUSED)
		fixture_fail("responder accepted a modified message 1");
	if (!changed && rc != RESP_ACCEPTED)
		fixture_fail("responder refused a valid message 1");
	if (ctl != NULL) {
		if (!finish(ini, m2, m2len, &agent, &sid) || agent == NULL)
			fixture_fail("agent refused a valid message 2");
		check_pair(agent, ctl);
		vsm_session_unref(agent);
		vsm_session_unref(ctl);
	}
	free(mut);
	vsm_noise_hs_free(ini);
}

/*
 * The agent's side of message 2: an agent that sent a valid message 1
 * reads m2 from a responder that answered it with resp.
 */
static void
agent_reads(struct vsm_noise_hs *ini, struct vsm_noise_hs *resp,
    const uint8_t *m2, size_t m2len, int valid)
{
	struct vsm_session *agent, *ctl;
	uint64_t            sid;
	int                 ok;

	ok = finish(ini, m2, m2len, &agent, &sid);
	if (ok && !valid)
		fixture_fail("agent accepted a modified message 2");
	if (!ok && valid)
		fixture_fail("agent refused a valid message 2");
	if (agent != NULL) {
		if ((ctl = vsm_session_new(resp, sid, FIXTURE_PIPE)) == NULL)
			fixture_fail("vsm_session_new after message 2");
		check_pair(agent, ctl);
		vsm_session_unref(agent);
		vsm_session_unref(ctl);
	}
}

/* Message 2 from data: raw, xored over a valid one, or as its payload. */
static void
mode_msg2(const uint8_t *data, size_t len, enum hs_mode mode)
{
	struct vsm_noise_hs *ini, *resp;
	uint8_t              m1[MSGCAP], m2[MSGCAP], pl[FIXTURE_PCAP], *mut;
	size_t               m1len, m2len, mutlen, plen;
	int                  changed;

	plen = fixture_hello(pl, sizeof(pl));
	if ((ini = fixture_msg1(pl, plen, m1, sizeof(m1), &m1len)) == NULL)
		fixture_fail("message 1");
	if (mode == HS_MODE_WELCOME) {
		resp =
		    fixture_msg2(m1, m1len, data, len, m2, sizeof(m2), &m2len);
		if (resp != NULL)
			agent_reads(ini, resp, m2, m2len, len <= FIXTURE_PCAP);
	} else {
		plen = fixture_welcome(pl, sizeof(pl));
		if ((resp = fixture_msg2(
		         m1, m1len, pl, plen, m2, sizeof(m2), &m2len)) == NULL)
			fixture_fail("message 2");
		if (mode == HS_MODE_MSG2)
			agent_reads(ini, resp, data, len,
			    len == m2len && memcmp(data, m2, len) == 0);
		else {
			mut = flip(m2, m2len, data, len, &mutlen, &changed);
			agent_reads(ini, resp, mut, mutlen, !changed);
			free(mut);
		}
	}
	vsm_noise_hs_free(resp);
	vsm_noise_hs_free(ini);
}

/* The controller's path: a Frame, and the handshake if it is one. */
static void
serve_frame(const uint8_t *data, size_t len)
{
	Vsm__Frame         *f;
	struct vsm_session *ctl;
	uint8_t             m2[MSGCAP];
	size_t              m2len;

	if ((f = vsm_frame_unpack(data, len)) == NULL)
		return;
	if (f->kind_case == VSM__FRAME__KIND_HS_INIT) {
		sink += f->hs_init->version;
		respond(f->hs_init->noise.data, f->hs_init->noise.len, m2,
		    &m2len, &ctl);
		vsm_session_unref(ctl);
	}
	vsm_frame_free(f);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fixture_init();
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	enum hs_mode mode;

	if (len == 0)
		return (0);
	serve_frame(data, len);
	mode = (enum hs_mode)(data[0] % HS_MODE_MAX);
	data++;
	len--;
	switch (mode) {
	case HS_MODE_MSG1:
		mode_msg1(data, len);
		break;
	case HS_MODE_MSG1_FLIP:
		mode_msg1_flip(data, len);
		break;
	case HS_MODE_HELLO:
		run_agent(data, len, len <= FIXTURE_PCAP);
		break;
	case HS_MODE_MSG2:
	case HS_MODE_MSG2_FLIP:
	case HS_MODE_WELCOME:
		mode_msg2(data, len, mode);
		break;
	case HS_MODE_MAX:
		break;
	}
	return (0);
}
