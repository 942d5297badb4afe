/*
 * noise_crypto.c: the crypto functions of the Noise spec on libsodium:
 * HASH (SHA256, BLAKE2b), HMAC and HKDF (spec section 4.3), DH 25519 and
 * the CipherState with ChaChaPoly (IETF ChaCha20-Poly1305).
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "noise.h"
#include "noise_int.h"

#define NOISE_MAXBLOCKLEN 128
#define NOISE_NONCELEN    crypto_aead_chacha20poly1305_ietf_NPUBBYTES

static void
sha256_init(union noise_hashst *st)
{
	crypto_hash_sha256_init(&st->sha256);
}

static void
sha256_update(union noise_hashst *st, const uint8_t *in, size_t len)
{
	crypto_hash_sha256_update(&st->sha256, in, len);
}

static void
sha256_final(union noise_hashst *st, uint8_t *out)
{
	crypto_hash_sha256_final(&st->sha256, out);
}

static void
blake2b_init(union noise_hashst *st)
{
	crypto_generichash_init(&st->b2b, NULL, 0, 64);
}

static void
blake2b_update(union noise_hashst *st, const uint8_t *in, size_t len)
{
	crypto_generichash_update(&st->b2b, in, len);
}

static void
blake2b_final(union noise_hashst *st, uint8_t *out)
{
	crypto_generichash_final(&st->b2b, out, 64);
}

static const struct noise_hashfn hashfns[] = {
    {"SHA256", 32, 64, sha256_init, sha256_update, sha256_final},
    {"BLAKE2b", 64, 128, blake2b_init, blake2b_update, blake2b_final},
};

/*
 * libsodium must be initialised before its randomness is used. A failure
 * here is a broken start-up, not something a peer can cause: abort.
 */
void
noise_sodium_init(void)
{
	if (sodium_init() < 0)
		abort();
}

/* The hash named name[0..len), or NULL. */
const struct noise_hashfn *
noise_hashfn_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(hashfns) / sizeof(hashfns[0]); i++) {
		if (strlen(hashfns[i].name) == len &&
		    memcmp(hashfns[i].name, name, len) == 0)
			return (&hashfns[i]);
	}
	return (NULL);
}

/* out = HASH(a || b); out may alias a or b. */
void
noise_hash2(const struct noise_hashfn *hf, uint8_t *out, const uint8_t *a,
    size_t alen, const uint8_t *b, size_t blen)
{
	union noise_hashst st;

	hf->init(&st);
	hf->update(&st, a, alen);
	hf->update(&st, b, blen);
	hf->final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

/*
 * out = HMAC-HASH(key, a || b), with the construction of RFC 2104 over any
 * HASH (libsodium has no HMAC-BLAKE2b). out (hashlen bytes) is written
 * last, so it may alias the key or the data.
 */
static void
noise_hmac(const struct noise_hashfn *hf, const uint8_t *key, size_t keylen,
    const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, uint8_t *out)
{
	union noise_hashst st;
	uint8_t            pad[NOISE_MAXBLOCKLEN];
	uint8_t            inner[VSM_NOISE_MAXHASHLEN];
	size_t             i;

	memset(pad, 0, sizeof(pad));
	if (keylen > hf->blocklen)
		noise_hash2(hf, pad, key, keylen, NULL, 0);
	else
		memcpy(pad, key, keylen);

	for (i = 0; i < hf->blocklen; i++)
		pad[i] ^= 0x36;
	hf->init(&st);
	hf->update(&st, pad, hf->blocklen);
	hf->update(&st, a, alen);
	hf->update(&st, b, blen);
	hf->final(&st, inner);

	for (i = 0; i < hf->blocklen; i++)
		pad[i] ^= 0x36 ^ 0x5c;
	hf->init(&st);
	hf->update(&st, pad, hf->blocklen);
	hf->update(&st, inner, hf->hashlen);
	hf->final(&st, out);

	sodium_memzero(&st, sizeof(st));
	sodium_memzero(pad, sizeof(pad));
	sodium_memzero(inner, sizeof(inner));
}

/*
 * HKDF(ck, ikm) of the spec: two or three outputs of hashlen bytes each
 * (o3 may be NULL). o1 may alias ck.
 */
void
noise_hkdf(const struct noise_hashfn *hf, const uint8_t *ck, const uint8_t *ikm,
    size_t ikmlen, uint8_t *o1, uint8_t *o2, uint8_t *o3)
{
	uint8_t       tk[VSM_NOISE_MAXHASHLEN];
	const uint8_t one = 1, two = 2, three = 3;
	size_t        hl = hf->hashlen;

	noise_hmac(hf, ck, hl, ikm, ikmlen, NULL, 0, tk);
	noise_hmac(hf, tk, hl, &one, 1, NULL, 0, o1);
	noise_hmac(hf, tk, hl, o1, hl, &two, 1, o2);
	if (o3 != NULL)
		noise_hmac(hf, tk, hl, o2, hl, &three, 1, o3);
	sodium_memzero(tk, sizeof(tk));
}

/* out = DH(priv, pub); VSM_NOISE_EDH (and out zeroed) on a low-order pub. */
enum vsm_noise_rc
noise_dh(uint8_t out[VSM_NOISE_DHLEN], const uint8_t priv[VSM_NOISE_DHLEN],
    const uint8_t pub[VSM_NOISE_DHLEN])
{
	if (crypto_scalarmult(out, priv, pub) != 0) {
		sodium_memzero(out, VSM_NOISE_DHLEN);
		return (VSM_NOISE_EDH);
	}
	return (VSM_NOISE_OK);
}

void
vsm_noise_keypair(uint8_t priv[VSM_NOISE_DHLEN], uint8_t pub[VSM_NOISE_DHLEN])
{
	noise_sodium_init();
	do {
		randombytes_buf(priv, VSM_NOISE_DHLEN);
	} while (vsm_noise_pubkey(priv, pub) != 0);
}

/* pub = the public key of priv. Returns 0, or -1 if libsodium refuses. */
int
vsm_noise_pubkey(
    const uint8_t priv[VSM_NOISE_DHLEN], uint8_t pub[VSM_NOISE_DHLEN])
{
	if (crypto_scalarmult_base(pub, priv) != 0) {
		sodium_memzero(pub, VSM_NOISE_DHLEN);
		return (-1);
	}
	return (0);
}

void
noise_cipher_init(struct vsm_noise_cipher *cs, const uint8_t *k)
{
	memcpy(cs->k, k, VSM_NOISE_KEYLEN);
	cs->n = 0;
	cs->has_key = 1;
}

/* The ChaChaPoly nonce: 4 zero bytes, then n as 64-bit little-endian. */
static void
noise_nonce(uint8_t nonce[NOISE_NONCELEN], uint64_t n)
{
	size_t i;

	memset(nonce, 0, 4);
	for (i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(n >> (8 * i));
}

/*
 * EncryptWithAd at nonce n, without the limits of the public calls: out
 * gets ptlen (+ TAGLEN with a key) bytes. Nonce 2^64-1 is ENONCE.
 */
enum vsm_noise_rc
noise_cipher_seal(const struct vsm_noise_cipher *cs, uint64_t n,
    const uint8_t *ad, size_t adlen, const uint8_t *pt, size_t ptlen,
    uint8_t *out)
{
	uint8_t nonce[NOISE_NONCELEN];

	if (!cs->has_key) {
		if (ptlen > 0)
			memmove(out, pt, ptlen);
		return (VSM_NOISE_OK);
	}
	if (n == VSM_NOISE_NONCE_MAX)
		return (VSM_NOISE_ENONCE);
	noise_nonce(nonce, n);
	crypto_aead_chacha20poly1305_ietf_encrypt(
	    out, NULL, pt, ptlen, ad, adlen, NULL, nonce, cs->k);
	return (VSM_NOISE_OK);
}

/* DecryptWithAd at nonce n: out gets ctlen (- TAGLEN with a key) bytes. */
enum vsm_noise_rc
noise_cipher_open(const struct vsm_noise_cipher *cs, uint64_t n,
    const uint8_t *ad, size_t adlen, const uint8_t *ct, size_t ctlen,
    uint8_t *out)
{
	uint8_t nonce[NOISE_NONCELEN];

	if (!cs->has_key) {
		if (ctlen > 0)
			memmove(out, ct, ctlen);
		return (VSM_NOISE_OK);
	}
	if (n == VSM_NOISE_NONCE_MAX)
		return (VSM_NOISE_ENONCE);
	if (ctlen < VSM_NOISE_TAGLEN)
		return (VSM_NOISE_ESHORT);
	noise_nonce(nonce, n);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(
	        out, NULL, NULL, ct, ctlen, ad, adlen, nonce, cs->k) != 0)
		return (VSM_NOISE_EDECRYPT);
	return (VSM_NOISE_OK);
}

enum vsm_noise_rc
vsm_noise_cipher_encrypt_at(const struct vsm_noise_cipher *cs, uint64_t nonce,
    const uint8_t *ad, size_t adlen, const uint8_t *pt, size_t ptlen,
    uint8_t *out)
{
	if (ptlen > VSM_NOISE_MAXPLAIN)
		return (VSM_NOISE_ETOOBIG);
	return (noise_cipher_seal(cs, nonce, ad, adlen, pt, ptlen, out));
}

enum vsm_noise_rc
vsm_noise_cipher_decrypt_at(const struct vsm_noise_cipher *cs, uint64_t nonce,
    const uint8_t *ad, size_t adlen, const uint8_t *ct, size_t ctlen,
    uint8_t *out)
{
	if (ctlen > VSM_NOISE_MAXMSGLEN)
		return (VSM_NOISE_ETOOBIG);
	return (noise_cipher_open(cs, nonce, ad, adlen, ct, ctlen, out));
}

/* As _encrypt_at() with cs->n, which goes up by one on success. */
enum vsm_noise_rc
vsm_noise_cipher_encrypt(struct vsm_noise_cipher *cs, const uint8_t *ad,
    size_t adlen, const uint8_t *pt, size_t ptlen, uint8_t *out)
{
	enum vsm_noise_rc rc;

	rc = vsm_noise_cipher_encrypt_at(cs, cs->n, ad, adlen, pt, ptlen, out);
	if (rc == VSM_NOISE_OK && cs->has_key)
		cs->n++;
	return (rc);
}

/* As _decrypt_at() with cs->n, which goes up by one on success only. */
enum vsm_noise_rc
vsm_noise_cipher_decrypt(struct vsm_noise_cipher *cs, const uint8_t *ad,
    size_t adlen, const uint8_t *ct, size_t ctlen, uint8_t *out)
{
	enum vsm_noise_rc rc;

	rc = vsm_noise_cipher_decrypt_at(cs, cs->n, ad, adlen, ct, ctlen, out);
	if (rc == VSM_NOISE_OK && cs->has_key)
		cs->n++;
	return (rc);
}

void
vsm_noise_cipher_wipe(struct vsm_noise_cipher *cs)
{
	sodium_memzero(cs, sizeof(*cs));
}

const char *
vsm_noise_strerror(enum vsm_noise_rc rc)
{
	switch (rc) {
	case VSM_NOISE_OK:
		return ("success");
	case VSM_NOISE_EPROTO:
		return ("unknown or unsupported Noise protocol");
	case VSM_NOISE_EARG:
		return ("a key the handshake pattern needs is missing");
	case VSM_NOISE_ESTATE:
		return ("handshake state does not allow this call");
	case VSM_NOISE_ESHORT:
		return ("message too short");
	case VSM_NOISE_ETOOBIG:
		return ("message or buffer too large");
	case VSM_NOISE_EDECRYPT:
		return ("decryption failed");
	case VSM_NOISE_EDH:
		return ("Diffie-Hellman result is zero (low-order key)");
	case VSM_NOISE_ENONCE:
		return ("nonce space exhausted");
	}
	return ("unknown Noise error");
}
