/*
 * noise.h: the Noise protocol framework (revision 34) on libsodium.
 *
 * A handshake engine generic over a table of patterns (every non-PSK
 * pattern of the spec, including the deferred ones), with DH 25519,
 * cipher ChaChaPoly (IETF ChaCha20-Poly1305) and hash SHA256 or BLAKE2b,
 * HMAC and HKDF built as section 4.3 of the spec defines them.
 *
 * vsm itself speaks Noise_IK_25519_ChaChaPoly_BLAKE2b; the other patterns
 * exist so that the engine reproduces every published test vector.
 *
 * Nothing here allocates except vsm_noise_hs_new(); every secret is wiped
 * with sodium_memzero before its memory is released.
 */
#ifndef VSM_NOISE_H
#define VSM_NOISE_H

#include <stddef.h>
#include <stdint.h>

#define VSM_NOISE_DHLEN      32
#define VSM_NOISE_KEYLEN     32
#define VSM_NOISE_TAGLEN     16
#define VSM_NOISE_MAXHASHLEN 64
#define VSM_NOISE_MAXMSGLEN  65535
/* Largest plaintext that fits one transport message. */
#define VSM_NOISE_MAXPLAIN (VSM_NOISE_MAXMSGLEN - VSM_NOISE_TAGLEN)
/* Nonce 2^64-1 is reserved by the spec. */
#define VSM_NOISE_NONCE_MAX UINT64_MAX

/* Why an operation failed; vsm_noise_strerror() names each one. */
enum vsm_noise_rc {
	VSM_NOISE_OK = 0,
	VSM_NOISE_EPROTO,   /* unknown or unsupported protocol name */
	VSM_NOISE_EARG,     /* a key the pattern needs is missing */
	VSM_NOISE_ESTATE,   /* not this side's turn, or handshake over */
	VSM_NOISE_ESHORT,   /* message shorter than its tokens need */
	VSM_NOISE_ETOOBIG,  /* message or buffer above a limit */
	VSM_NOISE_EDECRYPT, /* authentication tag did not verify */
	VSM_NOISE_EDH,      /* DH result all zero (low-order point) */
	VSM_NOISE_ENONCE,   /* nonce space exhausted */
};

const char *vsm_noise_strerror(enum vsm_noise_rc);

enum vsm_noise_hash {
	VSM_NOISE_SHA256,
	VSM_NOISE_BLAKE2B,
};

/*
 * CipherState. `n` is the implicit nonce used by vsm_noise_cipher_encrypt()
 * and _decrypt(); the explicit-nonce calls leave it alone, which is how the
 * transport layer carries its own 64-bit counter.
 */
struct vsm_noise_cipher {
	uint8_t  k[VSM_NOISE_KEYLEN];
	uint64_t n;
	int      has_key;
};

/*
 * Encrypt `ptlen` bytes into `out` (ptlen + VSM_NOISE_TAGLEN bytes; `out`
 * may equal `pt`). Without a key the plaintext is copied through, as the
 * spec says. The implicit forms use and then increment cs->n.
 */
enum vsm_noise_rc vsm_noise_cipher_encrypt(struct vsm_noise_cipher *cs,
    const uint8_t *ad, size_t adlen, const uint8_t *pt, size_t ptlen,
    uint8_t *out);
enum vsm_noise_rc vsm_noise_cipher_decrypt(struct vsm_noise_cipher *cs,
    const uint8_t *ad, size_t adlen, const uint8_t *ct, size_t ctlen,
    uint8_t *out);
enum vsm_noise_rc vsm_noise_cipher_encrypt_at(const struct vsm_noise_cipher *cs,
    uint64_t nonce, const uint8_t *ad, size_t adlen, const uint8_t *pt,
    size_t ptlen, uint8_t *out);
enum vsm_noise_rc vsm_noise_cipher_decrypt_at(const struct vsm_noise_cipher *cs,
    uint64_t nonce, const uint8_t *ad, size_t adlen, const uint8_t *ct,
    size_t ctlen, uint8_t *out);
void              vsm_noise_cipher_wipe(struct vsm_noise_cipher *cs);

/* Curve25519 helpers. */
void vsm_noise_keypair(
    uint8_t priv[VSM_NOISE_DHLEN], uint8_t pub[VSM_NOISE_DHLEN]);
int vsm_noise_pubkey(
    const uint8_t priv[VSM_NOISE_DHLEN], uint8_t pub[VSM_NOISE_DHLEN]);

struct vsm_noise_hs_config {
	const char    *protocol;  /* "Noise_IK_25519_ChaChaPoly_BLAKE2b" */
	int            initiator; /* 1 initiator, 0 responder */
	const uint8_t *prologue;  /* may be NULL when prologue_len is 0 */
	size_t         prologue_len;
	const uint8_t *s;    /* local static private key, or NULL */
	const uint8_t *spub; /* its public key, or NULL to derive it;
	                        must match s (the caller's promise) */
	const uint8_t *rs;   /* pinned remote static public key, or NULL */
	const uint8_t *e;    /* fixed ephemeral private key, tests only */
};

struct vsm_noise_hs;

/* What the handshake wants next. */
enum vsm_noise_action {
	VSM_NOISE_WRITE,
	VSM_NOISE_READ,
	VSM_NOISE_SPLIT,
};

/*
 * Start a handshake. On success *hsp owns a new state that the caller frees
 * with vsm_noise_hs_free(); keys are copied in. On error *hsp is NULL.
 */
enum vsm_noise_rc vsm_noise_hs_new(
    struct vsm_noise_hs **hsp, const struct vsm_noise_hs_config *cfg);
void vsm_noise_hs_free(struct vsm_noise_hs *hs); /* NULL is a no-op */

enum vsm_noise_action vsm_noise_hs_action(const struct vsm_noise_hs *hs);

/*
 * Write the next handshake message with `payload` into out[0..outcap),
 * setting *outlen. Fails with ETOOBIG when the message would exceed outcap
 * or VSM_NOISE_MAXMSGLEN. A failed write leaves the state unusable.
 */
enum vsm_noise_rc vsm_noise_hs_write(struct vsm_noise_hs *hs,
    const uint8_t *payload, size_t plen, uint8_t *out, size_t outcap,
    size_t *outlen);

/*
 * Read the next handshake message; its payload goes to
 * payload[0..pcap), length in *plen. A failed read (ESHORT, EDECRYPT, EDH)
 * leaves the state unusable: the caller drops it and starts over.
 */
enum vsm_noise_rc vsm_noise_hs_read(struct vsm_noise_hs *hs, const uint8_t *msg,
    size_t mlen, uint8_t *payload, size_t pcap, size_t *plen);

/*
 * Once the action is SPLIT: derive the transport keys. `send` is what this
 * side encrypts with (c1 for the initiator, c2 for the responder). For a
 * one-way pattern the responder's `send` gets no key.
 */
enum vsm_noise_rc vsm_noise_hs_split(struct vsm_noise_hs *hs,
    struct vsm_noise_cipher *send, struct vsm_noise_cipher *recv);

/* The handshake hash h (valid at any point; final after the last message). */
const uint8_t *vsm_noise_hs_hash(const struct vsm_noise_hs *hs, size_t *len);

/* The remote static public key once known (pinned or received), else NULL. */
const uint8_t *vsm_noise_hs_remote_static(const struct vsm_noise_hs *hs);

#endif /* VSM_NOISE_H */
