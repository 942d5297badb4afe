/*
 * noise_int.h: private to the Noise engine (noise_crypto.c, noise_pattern.c,
 * noise_hs.c). Nothing here is part of the vsm API.
 */
#ifndef VSM_NOISE_INT_H
#define VSM_NOISE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "noise.h"

/* Handshake tokens; NOISE_TOK_END terminates every token list. */
enum noise_token {
	NOISE_TOK_END = 0,
	NOISE_TOK_E,
	NOISE_TOK_S,
	NOISE_TOK_EE,
	NOISE_TOK_ES,
	NOISE_TOK_SE,
	NOISE_TOK_SS,
};

#define NOISE_MAXPRE    1 /* tokens in one pre-message */
#define NOISE_MAXMSGS   4 /* messages in one handshake */
#define NOISE_MAXTOKENS 5 /* tokens in one message */

/*
 * One handshake pattern. Message i is sent by the initiator when i is even.
 * Every list keeps a NOISE_TOK_END after its last token; the message list
 * ends at NOISE_MAXMSGS or at the first empty message.
 */
struct noise_pattern {
	const char *name;
	uint8_t     pre_i[NOISE_MAXPRE + 1];
	uint8_t     pre_r[NOISE_MAXPRE + 1];
	uint8_t     msgs[NOISE_MAXMSGS][NOISE_MAXTOKENS + 1];
};

union noise_hashst {
	crypto_hash_sha256_state sha256;
	crypto_generichash_state b2b;
};

/* HASH() of the spec, as an incremental hash. */
struct noise_hashfn {
	const char *name; /* "SHA256" */
	size_t      hashlen;
	size_t      blocklen;
	void (*init)(union noise_hashst *);
	void (*update)(union noise_hashst *, const uint8_t *, size_t);
	void (*final)(union noise_hashst *, uint8_t *);
};

/* noise_crypto.c */
void                       noise_sodium_init(void);
const struct noise_hashfn *noise_hashfn_find(const char *, size_t);
void noise_hash2(const struct noise_hashfn *, uint8_t *, const uint8_t *,
    size_t, const uint8_t *, size_t);
void noise_hkdf(const struct noise_hashfn *, const uint8_t *, const uint8_t *,
    size_t, uint8_t *, uint8_t *, uint8_t *);
enum vsm_noise_rc noise_dh(uint8_t[VSM_NOISE_DHLEN],
    const uint8_t[VSM_NOISE_DHLEN], const uint8_t[VSM_NOISE_DHLEN]);
void              noise_cipher_init(struct vsm_noise_cipher *, const uint8_t *);
enum vsm_noise_rc noise_cipher_seal(const struct vsm_noise_cipher *, uint64_t,
    const uint8_t *, size_t, const uint8_t *, size_t, uint8_t *);
enum vsm_noise_rc noise_cipher_open(const struct vsm_noise_cipher *, uint64_t,
    const uint8_t *, size_t, const uint8_t *, size_t, uint8_t *);

/* noise_pattern.c */
const struct noise_pattern *noise_pattern_find(const char *, size_t);
size_t                      noise_pattern_nmsgs(const struct noise_pattern *);
enum vsm_noise_rc           noise_protocol_parse(
              const char *, const struct noise_pattern **, const struct noise_hashfn **);

#endif /* VSM_NOISE_INT_H */
