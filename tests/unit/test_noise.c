/*
 * test_noise.c: the error paths of the Noise engine (noise.h). The vectors
 * that pin the happy path byte for byte are in test_noise_vectors.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "noise.h"

#define IK          "Noise_IK_25519_ChaChaPoly_BLAKE2b"
#define IK_MSG1_LEN 96 /* e, encrypted s, empty encrypted payload */
#define BIG         (VSM_NOISE_MAXMSGLEN + 1024)

struct keys {
	uint8_t is[VSM_NOISE_DHLEN], ispub[VSM_NOISE_DHLEN];
	uint8_t rs[VSM_NOISE_DHLEN], rspub[VSM_NOISE_DHLEN];
};

static void
keys_new(struct keys *k)
{
	vsm_noise_keypair(k->is, k->ispub);
	vsm_noise_keypair(k->rs, k->rspub);
}

static struct vsm_noise_hs *
hs_new(const char *proto, int initiator, const uint8_t *s, const uint8_t *rs)
{
	struct vsm_noise_hs_config cfg = {
	    .protocol = proto, .initiator = initiator, .s = s, .rs = rs};
	struct vsm_noise_hs *hs = NULL;

	assert_int_equal(vsm_noise_hs_new(&hs, &cfg), VSM_NOISE_OK);
	assert_non_null(hs);
	return (hs);
}

/* An IK initiator that pins k->rspub, and the responder holding k->rs. */
static void
ik_pair(
    const struct keys *k, struct vsm_noise_hs **ini, struct vsm_noise_hs **resp)
{
	*ini = hs_new(IK, 1, k->is, k->rspub);
	*resp = hs_new(IK, 0, k->rs, NULL);
}

/* Write IK message 1 with an empty payload into msg. */
static void
ik_msg1(struct vsm_noise_hs *ini, uint8_t *msg, size_t *len)
{
	assert_int_equal(
	    vsm_noise_hs_write(ini, NULL, 0, msg, IK_MSG1_LEN, len),
	    VSM_NOISE_OK);
	assert_int_equal(*len, IK_MSG1_LEN);
}

static enum vsm_noise_rc
hs_new_rc(const char *proto, int initiator, const uint8_t *s, const uint8_t *rs)
{
	struct vsm_noise_hs_config cfg = {
	    .protocol = proto, .initiator = initiator, .s = s, .rs = rs};
	struct vsm_noise_hs *hs = (struct vsm_noise_hs *)&cfg;
	enum vsm_noise_rc    rc;

	rc = vsm_noise_hs_new(&hs, &cfg);
	if (rc != VSM_NOISE_OK)
		assert_null(hs);
	vsm_noise_hs_free(hs);
	return (rc);
}

static void
test_ik_round_trip_with_random_keys(void **state)
{
	struct keys             k;
	struct vsm_noise_hs    *ini, *resp;
	struct vsm_noise_cipher is, ir, rsend, rrecv;
	uint8_t                 msg[256], pt[64];
	const uint8_t          *hi, *hr;
	size_t                  len, plen, hli, hlr;

	keys_new(&k);
	ik_pair(&k, &ini, &resp);
	assert_int_equal(vsm_noise_hs_action(ini), VSM_NOISE_WRITE);
	assert_int_equal(vsm_noise_hs_action(resp), VSM_NOISE_READ);
	assert_int_equal(vsm_noise_hs_write(ini, (const uint8_t *)"hello", 5,
	                     msg, sizeof(msg), &len),
	    VSM_NOISE_OK);
	assert_int_equal(len, IK_MSG1_LEN + 5);
	assert_int_equal(
	    vsm_noise_hs_read(resp, msg, len, pt, sizeof(pt), &plen),
	    VSM_NOISE_OK);
	assert_int_equal(plen, 5);
	assert_memory_equal(pt, "hello", 5);
	assert_memory_equal(
	    vsm_noise_hs_remote_static(resp), k.ispub, VSM_NOISE_DHLEN);

	assert_int_equal(vsm_noise_hs_write(resp, (const uint8_t *)"hi", 2, msg,
	                     sizeof(msg), &len),
	    VSM_NOISE_OK);
	assert_int_equal(
	    vsm_noise_hs_read(ini, msg, len, pt, sizeof(pt), &plen),
	    VSM_NOISE_OK);
	assert_int_equal(plen, 2);
	assert_memory_equal(pt, "hi", 2);
	assert_int_equal(vsm_noise_hs_action(ini), VSM_NOISE_SPLIT);
	assert_int_equal(vsm_noise_hs_action(resp), VSM_NOISE_SPLIT);

	hi = vsm_noise_hs_hash(ini, &hli);
	hr = vsm_noise_hs_hash(resp, &hlr);
	assert_int_equal(hli, 64);
	assert_int_equal(hlr, 64);
	assert_memory_equal(hi, hr, 64);

	assert_int_equal(vsm_noise_hs_split(ini, &is, &ir), VSM_NOISE_OK);
	assert_int_equal(
	    vsm_noise_hs_split(resp, &rsend, &rrecv), VSM_NOISE_OK);
	assert_memory_equal(is.k, rrecv.k, VSM_NOISE_KEYLEN);
	assert_memory_equal(ir.k, rsend.k, VSM_NOISE_KEYLEN);
	assert_memory_not_equal(is.k, ir.k, VSM_NOISE_KEYLEN);

	assert_int_equal(vsm_noise_cipher_encrypt(
	                     &is, NULL, 0, (const uint8_t *)"ping", 4, msg),
	    VSM_NOISE_OK);
	assert_int_equal(vsm_noise_cipher_decrypt(
	                     &rrecv, NULL, 0, msg, 4 + VSM_NOISE_TAGLEN, pt),
	    VSM_NOISE_OK);
	assert_memory_equal(pt, "ping", 4);
	assert_int_equal(vsm_noise_cipher_encrypt(
	                     &rsend, NULL, 0, (const uint8_t *)"pong", 4, msg),
	    VSM_NOISE_OK);
	assert_int_equal(vsm_noise_cipher_decrypt(
	                     &ir, NULL, 0, msg, 4 + VSM_NOISE_TAGLEN, pt),
	    VSM_NOISE_OK);
	assert_memory_equal(pt, "pong", 4);

	vsm_noise_hs_free(ini);
	vsm_noise_hs_free(resp);
}

/* Flip one byte of message 1 at `at`: the responder must refuse it. */
static void
tampered_msg1(size_t at)
{
	struct keys          k;
	struct vsm_noise_hs *ini, *resp;
	uint8_t              msg[IK_MSG1_LEN], pt[16];
	size_t               len, plen;

	keys_new(&k);
	ik_pair(&k, &ini, &resp);
	ik_msg1(ini, msg, &len);
	msg[at] ^= 0x01;
	assert_int_equal(
	    vsm_noise_hs_read(resp, msg, len, pt, sizeof(pt), &plen),
	    VSM_NOISE_EDECRYPT);
	vsm_noise_hs_free(ini);
	vsm_noise_hs_free(resp);
}

static void
test_tampered_msg1_fails_decrypt_at_responder(void **state)
{
	tampered_msg1(40);              /* inside the encrypted static */
	tampered_msg1(IK_MSG1_LEN - 1); /* the payload tag */
	tampered_msg1(5);               /* the ephemeral, fed to h */
}

static void
test_truncated_msg1_is_short(void **state)
{
	struct keys          k;
	struct vsm_noise_hs *ini, *resp;
	uint8_t              msg[IK_MSG1_LEN], pt[16], h[64];
	size_t               len, plen;

	keys_new(&k);
	ik_pair(&k, &ini, &resp);
	ik_msg1(ini, msg, &len);
	memcpy(h, vsm_noise_hs_hash(resp, NULL), sizeof(h));
	assert_int_equal(
	    vsm_noise_hs_read(resp, msg, len - 1, pt, sizeof(pt), &plen),
	    VSM_NOISE_ESHORT);
	/* The length is checked before the hash takes anything in. */
	assert_memory_equal(vsm_noise_hs_hash(resp, NULL), h, sizeof(h));
	vsm_noise_hs_free(resp);

	resp = hs_new(IK, 0, k.rs, NULL);
	assert_int_equal(
	    vsm_noise_hs_read(resp, msg, 20, pt, sizeof(pt), &plen),
	    VSM_NOISE_ESHORT);
	vsm_noise_hs_free(ini);
	vsm_noise_hs_free(resp);
}

static void
test_responder_with_other_static_fails_decrypt(void **state)
{
	struct keys          k;
	struct vsm_noise_hs *ini, *resp;
	uint8_t              other[VSM_NOISE_DHLEN], otherpub[VSM_NOISE_DHLEN];
	uint8_t              msg[IK_MSG1_LEN], pt[16];
	size_t               len, plen;

	keys_new(&k);
	vsm_noise_keypair(other, otherpub);
	ini = hs_new(IK, 1, k.is, k.rspub);
	resp = hs_new(IK, 0, other, NULL);
	ik_msg1(ini, msg, &len);
	assert_int_equal(
	    vsm_noise_hs_read(resp, msg, len, pt, sizeof(pt), &plen),
	    VSM_NOISE_EDECRYPT);
	assert_null(vsm_noise_hs_remote_static(resp));
	vsm_noise_hs_free(ini);
	vsm_noise_hs_free(resp);
}

/* Message 1 with its ephemeral replaced by `pub` must fail with EDH. */
static void
low_order_e(const uint8_t pub[VSM_NOISE_DHLEN])
{
	struct keys          k;
	struct vsm_noise_hs *ini, *resp;
	uint8_t              msg[IK_MSG1_LEN], pt[16];
	size_t               len, plen;

	keys_new(&k);
	ik_pair(&k, &ini, &resp);
	ik_msg1(ini, msg, &len);
	memcpy(msg, pub, VSM_NOISE_DHLEN);
	assert_int_equal(
	    vsm_noise_hs_read(resp, msg, len, pt, sizeof(pt), &plen),
	    VSM_NOISE_EDH);
	vsm_noise_hs_free(ini);
	vsm_noise_hs_free(resp);
}

static void
test_low_order_ephemeral_is_edh(void **state)
{
	uint8_t pub[VSM_NOISE_DHLEN];

	memset(pub, 0, sizeof(pub));
	low_order_e(pub);
	pub[0] = 1; /* u = 1, a point of order 4 */
	low_order_e(pub);
}

static void
test_low_order_pinned_static_is_edh(void **state)
{
	struct keys          k;
	struct vsm_noise_hs *ini;
	uint8_t              zero[VSM_NOISE_DHLEN], msg[IK_MSG1_LEN];
	size_t               len;

	keys_new(&k);
	memset(zero, 0, sizeof(zero));
	ini = hs_new(IK, 1, k.is, zero);
	assert_int_equal(
	    vsm_noise_hs_write(ini, NULL, 0, msg, sizeof(msg), &len),
	    VSM_NOISE_EDH);
	vsm_noise_hs_free(ini);
}

static void
test_write_on_peer_turn_is_estate(void **state)
{
	struct keys          k;
	struct vsm_noise_hs *ini, *resp;
	uint8_t              msg[256], pt[16];
	size_t               len, plen;

	keys_new(&k);
	ik_pair(&k, &ini, &resp);
	assert_int_equal(
	    vsm_noise_hs_write(resp, NULL, 0, msg, sizeof(msg), &len),
	    VSM_NOISE_ESTATE);
	assert_int_equal(
	    vsm_noise_hs_read(ini, msg, IK_MSG1_LEN, pt, sizeof(pt), &plen),
	    VSM_NOISE_ESTATE);
	vsm_noise_hs_free(ini);
	vsm_noise_hs_free(resp);

	/* NN has no DH in message 1 that could fail on its own. */
	ini = hs_new("Noise_NN_25519_ChaChaPoly_SHA256", 1, NULL, NULL);
	resp = hs_new("Noise_NN_25519_ChaChaPoly_SHA256", 0, NULL, NULL);
	assert_int_equal(
	    vsm_noise_hs_write(resp, NULL, 0, msg, sizeof(msg), &len),
	    VSM_NOISE_ESTATE);
	assert_int_equal(vsm_noise_hs_read(ini, msg, 32, pt, sizeof(pt), &plen),
	    VSM_NOISE_ESTATE);
	vsm_noise_hs_free(ini);
	vsm_noise_hs_free(resp);

	/* Nor may the initiator write twice in a row. */
	ik_pair(&k, &ini, &resp);
	ik_msg1(ini, msg, &len);
	assert_int_equal(
	    vsm_noise_hs_write(ini, NULL, 0, msg, sizeof(msg), &len),
	    VSM_NOISE_ESTATE);
	vsm_noise_hs_free(ini);
	vsm_noise_hs_free(resp);
}

static void
test_write_after_last_message_is_estate(void **state)
{
	struct keys          k;
	struct vsm_noise_hs *ini, *resp;
	uint8_t              msg[256], pt[16];
	size_t               len, plen;

	keys_new(&k);
	ik_pair(&k, &ini, &resp);
	ik_msg1(ini, msg, &len);
	assert_int_equal(
	    vsm_noise_hs_read(resp, msg, len, pt, sizeof(pt), &plen),
	    VSM_NOISE_OK);
	assert_int_equal(
	    vsm_noise_hs_write(resp, NULL, 0, msg, sizeof(msg), &len),
	    VSM_NOISE_OK);
	assert_int_equal(vsm_noise_hs_action(resp), VSM_NOISE_SPLIT);
	assert_int_equal(
	    vsm_noise_hs_write(resp, NULL, 0, msg, sizeof(msg), &len),
	    VSM_NOISE_ESTATE);
	vsm_noise_hs_free(ini);
	vsm_noise_hs_free(resp);
}

static void
test_use_after_failure_is_estate(void **state)
{
	struct keys             k;
	struct vsm_noise_hs    *ini, *resp;
	struct vsm_noise_cipher send, recv;
	uint8_t                 msg[IK_MSG1_LEN], bad[IK_MSG1_LEN], pt[16];
	uint8_t                 out[256];
	size_t                  len, plen;

	keys_new(&k);
	ik_pair(&k, &ini, &resp);
	ik_msg1(ini, msg, &len);
	memcpy(bad, msg, sizeof(bad));
	bad[IK_MSG1_LEN - 1] ^= 0x80;
	assert_int_equal(
	    vsm_noise_hs_read(resp, bad, len, pt, sizeof(pt), &plen),
	    VSM_NOISE_EDECRYPT);
	/* The genuine message no longer gets through. */
	assert_int_equal(
	    vsm_noise_hs_read(resp, msg, len, pt, sizeof(pt), &plen),
	    VSM_NOISE_ESTATE);
	assert_int_equal(
	    vsm_noise_hs_write(resp, NULL, 0, out, sizeof(out), &len),
	    VSM_NOISE_ESTATE);
	assert_int_equal(
	    vsm_noise_hs_split(resp, &send, &recv), VSM_NOISE_ESTATE);
	vsm_noise_hs_free(ini);
	vsm_noise_hs_free(resp);
}

static void
test_split_before_last_message_is_estate(void **state)
{
	struct keys             k;
	struct vsm_noise_hs    *ini, *resp;
	struct vsm_noise_cipher send, recv;

	keys_new(&k);
	ik_pair(&k, &ini, &resp);
	assert_int_equal(
	    vsm_noise_hs_split(ini, &send, &recv), VSM_NOISE_ESTATE);
	vsm_noise_hs_free(ini);
	vsm_noise_hs_free(resp);
}

static void
test_unknown_protocol_is_eproto(void **state)
{
	static const char *const bad[] = {
	    "",
	    "Noise",
	    "Noise_",
	    "Noise_ZZ_25519_ChaChaPoly_BLAKE2b",
	    "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b",
	    "Noise_IK_448_ChaChaPoly_BLAKE2b",
	    "Noise_IK_25519_AESGCM_BLAKE2b",
	    "Noise_IK_25519_ChaChaPoly_SHA512",
	    "Noise_IK_25519_ChaChaPoly_BLAKE2s",
	    "Noise_IK_25519_ChaChaPoly_BLAKE2b_",
	    "Noise_IK_25519_ChaChaPoly_",
	    "Noise_ik_25519_ChaChaPoly_BLAKE2b",
	    "noise_IK_25519_ChaChaPoly_BLAKE2b",
	    "Noise_IK_25519_ChaChaPoly_BLAKE2bX",
	    NULL,
	};
	struct keys k;
	size_t      i;

	keys_new(&k);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(
		    hs_new_rc(bad[i], 1, k.is, k.rspub), VSM_NOISE_EPROTO);
	/* The same keys with a known name do start. */
	assert_int_equal(hs_new_rc(IK, 1, k.is, k.rspub), VSM_NOISE_OK);
	assert_int_equal(
	    hs_new_rc("Noise_IK_25519_ChaChaPoly_SHA256", 1, k.is, k.rspub),
	    VSM_NOISE_OK);
}

static void
test_missing_static_is_earg(void **state)
{
	struct keys k;

	keys_new(&k);
	assert_int_equal(hs_new_rc(IK, 1, NULL, k.rspub), VSM_NOISE_EARG);
	assert_int_equal(hs_new_rc(IK, 1, k.is, NULL), VSM_NOISE_EARG);
	assert_int_equal(hs_new_rc(IK, 0, NULL, NULL), VSM_NOISE_EARG);
	assert_int_equal(
	    hs_new_rc("Noise_XX_25519_ChaChaPoly_SHA256", 0, NULL, NULL),
	    VSM_NOISE_EARG);
	assert_int_equal(
	    hs_new_rc("Noise_K_25519_ChaChaPoly_SHA256", 0, k.rs, NULL),
	    VSM_NOISE_EARG);
	/* Only the keys a pattern uses are required. */
	assert_int_equal(hs_new_rc(IK, 0, k.rs, NULL), VSM_NOISE_OK);
	assert_int_equal(
	    hs_new_rc("Noise_NN_25519_ChaChaPoly_SHA256", 1, NULL, NULL),
	    VSM_NOISE_OK);
	assert_int_equal(
	    hs_new_rc("Noise_XX_25519_ChaChaPoly_SHA256", 0, k.rs, NULL),
	    VSM_NOISE_OK);
}

static void
test_oversized_payload_is_etoobig(void **state)
{
	struct keys          k;
	struct vsm_noise_hs *ini, *resp;
	uint8_t             *payload, *msg, *pt;
	size_t               max = VSM_NOISE_MAXMSGLEN - IK_MSG1_LEN;
	size_t               len, plen;

	keys_new(&k);
	assert_non_null(payload = calloc(1, BIG));
	assert_non_null(msg = calloc(1, BIG));
	assert_non_null(pt = calloc(1, BIG));

	/* One byte past 65535, with room to spare in the buffer. */
	ini = hs_new(IK, 1, k.is, k.rspub);
	assert_int_equal(
	    vsm_noise_hs_write(ini, payload, max + 1, msg, BIG, &len),
	    VSM_NOISE_ETOOBIG);
	vsm_noise_hs_free(ini);

	/* Exactly 65535 fits, but not in a buffer one byte short. */
	ini = hs_new(IK, 1, k.is, k.rspub);
	assert_int_equal(vsm_noise_hs_write(ini, payload, max, msg,
	                     VSM_NOISE_MAXMSGLEN - 1, &len),
	    VSM_NOISE_ETOOBIG);
	vsm_noise_hs_free(ini);
	ini = hs_new(IK, 1, k.is, k.rspub);
	assert_int_equal(vsm_noise_hs_write(
	                     ini, payload, max, msg, VSM_NOISE_MAXMSGLEN, &len),
	    VSM_NOISE_OK);
	assert_int_equal(len, VSM_NOISE_MAXMSGLEN);

	/* The reader refuses a payload buffer too small, then a message
	 * longer than 65535, and takes the message that fits. */
	resp = hs_new(IK, 0, k.rs, NULL);
	assert_int_equal(vsm_noise_hs_read(resp, msg, len, pt, max - 1, &plen),
	    VSM_NOISE_ETOOBIG);
	vsm_noise_hs_free(resp);
	resp = hs_new(IK, 0, k.rs, NULL);
	assert_int_equal(vsm_noise_hs_read(resp, msg, len + 1, pt, BIG, &plen),
	    VSM_NOISE_ETOOBIG);
	vsm_noise_hs_free(resp);
	resp = hs_new(IK, 0, k.rs, NULL);
	assert_int_equal(
	    vsm_noise_hs_read(resp, msg, len, pt, max, &plen), VSM_NOISE_OK);
	assert_int_equal(plen, max);

	vsm_noise_hs_free(ini);
	vsm_noise_hs_free(resp);
	free(payload);
	free(msg);
	free(pt);
}

static void
test_cipher_at_round_trip_and_wrong_nonce_or_ad(void **state)
{
	struct vsm_noise_cipher cs;
	uint8_t                 ct[64], pt[64];
	const uint8_t          *ad = (const uint8_t *)"ad";

	memset(&cs, 0, sizeof(cs));
	randombytes_buf(cs.k, sizeof(cs.k));
	cs.has_key = 1;
	assert_int_equal(vsm_noise_cipher_encrypt_at(
	                     &cs, 7, ad, 2, (const uint8_t *)"message", 7, ct),
	    VSM_NOISE_OK);
	assert_int_equal(vsm_noise_cipher_decrypt_at(
	                     &cs, 7, ad, 2, ct, 7 + VSM_NOISE_TAGLEN, pt),
	    VSM_NOISE_OK);
	assert_memory_equal(pt, "message", 7);
	assert_int_equal(vsm_noise_cipher_decrypt_at(
	                     &cs, 8, ad, 2, ct, 7 + VSM_NOISE_TAGLEN, pt),
	    VSM_NOISE_EDECRYPT);
	assert_int_equal(
	    vsm_noise_cipher_decrypt_at(
	        &cs, 7, (const uint8_t *)"AD", 2, ct, 7 + VSM_NOISE_TAGLEN, pt),
	    VSM_NOISE_EDECRYPT);
	/* A high nonce still round-trips, and the explicit form leaves the
	 * implicit counter alone. */
	assert_int_equal(vsm_noise_cipher_encrypt_at(&cs, UINT64_MAX - 1, ad, 2,
	                     (const uint8_t *)"x", 1, ct),
	    VSM_NOISE_OK);
	assert_int_equal(vsm_noise_cipher_decrypt_at(&cs, UINT64_MAX - 1, ad, 2,
	                     ct, 1 + VSM_NOISE_TAGLEN, pt),
	    VSM_NOISE_OK);
	assert_int_equal(cs.n, 0);
	vsm_noise_cipher_wipe(&cs);
}

static void
test_cipher_refuses_oversized_or_short_input(void **state)
{
	struct vsm_noise_cipher cs;
	uint8_t                *buf;

	memset(&cs, 0, sizeof(cs));
	randombytes_buf(cs.k, sizeof(cs.k));
	cs.has_key = 1;
	assert_non_null(buf = calloc(1, BIG));
	assert_int_equal(vsm_noise_cipher_encrypt(
	                     &cs, NULL, 0, buf, VSM_NOISE_MAXPLAIN + 1, buf),
	    VSM_NOISE_ETOOBIG);
	assert_int_equal(vsm_noise_cipher_decrypt(
	                     &cs, NULL, 0, buf, VSM_NOISE_MAXMSGLEN + 1, buf),
	    VSM_NOISE_ETOOBIG);
	assert_int_equal(vsm_noise_cipher_decrypt(
	                     &cs, NULL, 0, buf, VSM_NOISE_TAGLEN - 1, buf),
	    VSM_NOISE_ESHORT);
	assert_true(cs.n == 0);
	/* The largest message round-trips, in place. */
	assert_int_equal(vsm_noise_cipher_encrypt(
	                     &cs, NULL, 0, buf, VSM_NOISE_MAXPLAIN, buf),
	    VSM_NOISE_OK);
	cs.n = 0;
	assert_int_equal(vsm_noise_cipher_decrypt(
	                     &cs, NULL, 0, buf, VSM_NOISE_MAXMSGLEN, buf),
	    VSM_NOISE_OK);
	vsm_noise_cipher_wipe(&cs);
	free(buf);
}

static void
test_implicit_nonce_max_is_enonce(void **state)
{
	struct vsm_noise_cipher cs;
	uint8_t                 ct[64], pt[64];

	memset(&cs, 0, sizeof(cs));
	randombytes_buf(cs.k, sizeof(cs.k));
	cs.has_key = 1;
	cs.n = VSM_NOISE_NONCE_MAX - 1;
	assert_int_equal(
	    vsm_noise_cipher_encrypt(&cs, NULL, 0, (const uint8_t *)"x", 1, ct),
	    VSM_NOISE_OK);
	assert_true(cs.n == VSM_NOISE_NONCE_MAX);
	assert_int_equal(
	    vsm_noise_cipher_encrypt(&cs, NULL, 0, (const uint8_t *)"x", 1, ct),
	    VSM_NOISE_ENONCE);
	assert_int_equal(vsm_noise_cipher_decrypt(
	                     &cs, NULL, 0, ct, 1 + VSM_NOISE_TAGLEN, pt),
	    VSM_NOISE_ENONCE);
	assert_true(cs.n == VSM_NOISE_NONCE_MAX);
	vsm_noise_cipher_wipe(&cs);
}

static void
test_one_way_split_keys_only_initiator_to_responder(void **state)
{
	struct keys             k;
	struct vsm_noise_hs    *ini, *resp;
	struct vsm_noise_cipher is, ir, rsend, rrecv;
	uint8_t                 msg[128], pt[16];
	size_t                  len, plen;

	keys_new(&k);
	ini = hs_new("Noise_N_25519_ChaChaPoly_SHA256", 1, NULL, k.rspub);
	resp = hs_new("Noise_N_25519_ChaChaPoly_SHA256", 0, k.rs, NULL);
	assert_int_equal(
	    vsm_noise_hs_write(ini, NULL, 0, msg, sizeof(msg), &len),
	    VSM_NOISE_OK);
	assert_int_equal(
	    vsm_noise_hs_read(resp, msg, len, pt, sizeof(pt), &plen),
	    VSM_NOISE_OK);
	assert_int_equal(vsm_noise_hs_split(ini, &is, &ir), VSM_NOISE_OK);
	assert_int_equal(
	    vsm_noise_hs_split(resp, &rsend, &rrecv), VSM_NOISE_OK);
	assert_true(is.has_key && rrecv.has_key);
	assert_false(ir.has_key || rsend.has_key);
	assert_memory_equal(is.k, rrecv.k, VSM_NOISE_KEYLEN);
	vsm_noise_hs_free(ini);
	vsm_noise_hs_free(resp);
}

static void
test_pinned_static_must_match_received_one(void **state)
{
	const char          *xx = "Noise_XX_25519_ChaChaPoly_BLAKE2b";
	struct keys          k;
	struct vsm_noise_hs *ini, *resp;
	uint8_t              other[VSM_NOISE_DHLEN], otherpub[VSM_NOISE_DHLEN];
	uint8_t              msg[256], pt[16];
	size_t               len, plen;

	keys_new(&k);
	vsm_noise_keypair(other, otherpub);
	ini = hs_new(xx, 1, k.is, otherpub);
	resp = hs_new(xx, 0, k.rs, NULL);
	assert_int_equal(
	    vsm_noise_hs_write(ini, NULL, 0, msg, sizeof(msg), &len),
	    VSM_NOISE_OK);
	assert_int_equal(
	    vsm_noise_hs_read(resp, msg, len, pt, sizeof(pt), &plen),
	    VSM_NOISE_OK);
	assert_int_equal(
	    vsm_noise_hs_write(resp, NULL, 0, msg, sizeof(msg), &len),
	    VSM_NOISE_OK);
	assert_int_equal(
	    vsm_noise_hs_read(ini, msg, len, pt, sizeof(pt), &plen),
	    VSM_NOISE_EDECRYPT);
	assert_memory_equal(
	    vsm_noise_hs_remote_static(ini), otherpub, VSM_NOISE_DHLEN);
	vsm_noise_hs_free(ini);
	vsm_noise_hs_free(resp);
}

static void
test_pubkey_matches_keypair(void **state)
{
	uint8_t priv[VSM_NOISE_DHLEN], pub[VSM_NOISE_DHLEN];
	uint8_t pub2[VSM_NOISE_DHLEN];

	vsm_noise_keypair(priv, pub);
	assert_int_equal(vsm_noise_pubkey(priv, pub2), 0);
	assert_memory_equal(pub, pub2, VSM_NOISE_DHLEN);
}

static void
test_hs_free_null_is_noop(void **state)
{
	vsm_noise_hs_free(NULL);
}

static void
test_strerror_names_every_code(void **state)
{
	int rc;

	for (rc = VSM_NOISE_OK; rc <= VSM_NOISE_ENONCE; rc++)
		assert_string_not_equal(
		    vsm_noise_strerror(rc), "unknown Noise error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ik_round_trip_with_random_keys),
	    cmocka_unit_test(test_tampered_msg1_fails_decrypt_at_responder),
	    cmocka_unit_test(test_truncated_msg1_is_short),
	    cmocka_unit_test(test_responder_with_other_static_fails_decrypt),
	    cmocka_unit_test(test_low_order_ephemeral_is_edh),
	    cmocka_unit_test(test_low_order_pinned_static_is_edh),
	    cmocka_unit_test(test_write_on_peer_turn_is_estate),
	    cmocka_unit_test(test_write_after_last_message_is_estate),
	    cmocka_unit_test(test_use_after_failure_is_estate),
	    cmocka_unit_test(test_split_before_last_message_is_estate),
	    cmocka_unit_test(test_unknown_protocol_is_eproto),
	    cmocka_unit_test(test_missing_static_is_earg),
	    cmocka_unit_test(test_oversized_payload_is_etoobig),
	    cmocka_unit_test(test_cipher_at_round_trip_and_wrong_nonce_or_ad),
	    cmocka_unit_test(test_cipher_refuses_oversized_or_short_input),
	    cmocka_unit_test(test_implicit_nonce_max_is_enonce),
	    cmocka_unit_test(
	        test_one_way_split_keys_only_initiator_to_responder),
	    cmocka_unit_test(test_pinned_static_must_match_received_one),
	    cmocka_unit_test(test_pubkey_matches_keypair),
	    cmocka_unit_test(test_hs_free_null_is_noop),
	    cmocka_unit_test(test_strerror_names_every_code),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
