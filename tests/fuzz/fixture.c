/*
 * fixture.c: fixed keys and the channel's IK handshake for the fuzz
 * targets and make_corpus (see fixture.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fixture.h"

/* Private keys, derived from these labels; public keys computed. */
static const char *const key_labels[] = {
    "vsm fuzz agent static",
    "vsm fuzz agent ephemeral",
    "vsm fuzz controller static",
    "vsm fuzz controller ephemeral",
};

enum { K_AGENT_S, K_AGENT_E, K_CTL_S, K_CTL_E, K_MAX };

static uint8_t priv[K_MAX][VSM_NOISE_DHLEN];
static uint8_t pub[K_MAX][VSM_NOISE_DHLEN];
static int     ready;

/*
 * UBSan reports and goes on by default, which libFuzzer does not see as a
 * crash: stop at the first report instead, in every binary linking this.
 */
const char *__ubsan_default_options(void);

const char *
__ubsan_default_options(void)
{
	return ("halt_on_error=1:print_stacktrace=1");
}

void
fixture_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("fuzz fixture: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

void
fixture_init(void)
{
	int i;

	if (ready)
		return;
	if (sodium_init() < 0)
		fixture_fail("sodium_init");
	for (i = 0; i < K_MAX; i++) {
		crypto_generichash(priv[i], sizeof(priv[i]),
		    (const uint8_t *)key_labels[i], strlen(key_labels[i]), NULL,
		    0);
		if (vsm_noise_pubkey(priv[i], pub[i]) != 0)
			fixture_fail("public key of \"%s\"", key_labels[i]);
	}
	ready = 1;
}

struct vsm_noise_hs *
fixture_hs_new(int initiator)
{
	struct vsm_noise_hs_config cfg = {
	    .protocol = VSM_CHAN_PROTOCOL,
	    .initiator = initiator,
	    .prologue = (const uint8_t *)VSM_CHAN_PROLOGUE,
	    .prologue_len = sizeof(VSM_CHAN_PROLOGUE) - 1,
	    .s = priv[initiator ? K_AGENT_S : K_CTL_S],
	    .rs = initiator ? pub[K_CTL_S] : NULL,
	    .e = priv[initiator ? K_AGENT_E : K_CTL_E],
	};
	struct vsm_noise_hs *hs;
	enum vsm_noise_rc    rc;

	fixture_init();
	if ((rc = vsm_noise_hs_new(&hs, &cfg)) != VSM_NOISE_OK)
		fixture_fail("vsm_noise_hs_new: %s", vsm_noise_strerror(rc));
	return (hs);
}

size_t
fixture_hello(uint8_t *buf, size_t cap)
{
	Vsm__Hello  h = VSM__HELLO__INIT;
	Vsm__Label  l0 = VSM__LABEL__INIT, l1 = VSM__LABEL__INIT;
	Vsm__Label *labels[] = {&l0, &l1};
	size_t      len;

	h.name = "db-01.example";
	h.agent_version = "0.1.0";
	h.proto_version = VSM_CHAN_VERSION;
	h.token = "enroll-token";
	l0.key = "role";
	l0.value = "postgres";
	l1.key = "site";
	l1.value = "par1";
	h.n_labels = 2;
	h.labels = labels;
	if ((len = vsm__hello__get_packed_size(&h)) > cap)
		fixture_fail("Hello does not fit");
	return (vsm__hello__pack(&h, buf));
}

size_t
fixture_welcome(uint8_t *buf, size_t cap)
{
	Vsm__Welcome w = VSM__WELCOME__INIT;
	size_t       len;

	w.status = VSM__WELCOME__STATUS__ACCEPTED;
	w.session_id = FIXTURE_SID;
	w.controller_version = "0.1.0";
	w.heartbeat_ms = 15000;
	w.reason = "welcome";
	if ((len = vsm__welcome__get_packed_size(&w)) > cap)
		fixture_fail("Welcome does not fit");
	return (vsm__welcome__pack(&w, buf));
}

struct vsm_noise_hs *
fixture_msg1(
    const uint8_t *pl, size_t plen, uint8_t *out, size_t cap, size_t *outlen)
{
	struct vsm_noise_hs *hs = fixture_hs_new(1);

	*outlen = 0;
	if (vsm_noise_hs_write(hs, pl, plen, out, cap, outlen) !=
	    VSM_NOISE_OK) {
		vsm_noise_hs_free(hs);
		*outlen = 0;
		return (NULL);
	}
	return (hs);
}

struct vsm_noise_hs *
fixture_msg2(const uint8_t *m1, size_t m1len, const uint8_t *pl, size_t plen,
    uint8_t *out, size_t cap, size_t *outlen)
{
	struct vsm_noise_hs *hs = fixture_hs_new(0);
	uint8_t              buf[FIXTURE_PCAP];
	size_t               blen;
	enum vsm_noise_rc    rc;

	*outlen = 0;
	if ((rc = vsm_noise_hs_read(hs, m1, m1len, buf, sizeof(buf), &blen)) !=
	    VSM_NOISE_OK)
		fixture_fail("responder refuses a valid message 1: %s",
		    vsm_noise_strerror(rc));
	if (vsm_noise_hs_write(hs, pl, plen, out, cap, outlen) !=
	    VSM_NOISE_OK) {
		vsm_noise_hs_free(hs);
		*outlen = 0;
		return (NULL);
	}
	return (hs);
}

void
fixture_pair(struct vsm_session **agent, struct vsm_session **ctl)
{
	struct vsm_noise_hs *ini, *resp;
	uint8_t              m1[512], m2[512], pl[FIXTURE_PCAP];
	size_t               m1len, m2len, plen;
	enum vsm_noise_rc    rc;

	plen = fixture_hello(pl, sizeof(pl));
	if ((ini = fixture_msg1(pl, plen, m1, sizeof(m1), &m1len)) == NULL)
		fixture_fail("message 1");
	plen = fixture_welcome(pl, sizeof(pl));
	if ((resp = fixture_msg2(
	         m1, m1len, pl, plen, m2, sizeof(m2), &m2len)) == NULL)
		fixture_fail("message 2");
	if ((rc = vsm_noise_hs_read(ini, m2, m2len, pl, sizeof(pl), &plen)) !=
	    VSM_NOISE_OK)
		fixture_fail("initiator refuses a valid message 2: %s",
		    vsm_noise_strerror(rc));
	*agent = vsm_session_new(ini, FIXTURE_SID, FIXTURE_PIPE);
	*ctl = vsm_session_new(resp, FIXTURE_SID, FIXTURE_PIPE);
	if (*agent == NULL || *ctl == NULL)
		fixture_fail("vsm_session_new");
	vsm_noise_hs_free(ini);
	vsm_noise_hs_free(resp);
}
