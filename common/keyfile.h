/*
 * keyfile.h: Curve25519 identities on disk.
 *
 * A private key file holds one line, the base64 of the 32-byte private
 * key, and has mode 0600: a key file that group or others can read or
 * write is refused. Its public half sits beside it in NAME.pub (0644).
 * Public keys are shown and pinned as 44-character base64 strings.
 */
#ifndef VSM_KEYFILE_H
#define VSM_KEYFILE_H

#include <stdint.h>

#include "err.h"

#define VSM_KEY_LEN    32
#define VSM_KEY_B64LEN 45 /* 44 characters and the NUL */

struct vsm_keypair {
	uint8_t priv[VSM_KEY_LEN];
	uint8_t pub[VSM_KEY_LEN];
};

void vsm_keypair_generate(struct vsm_keypair *kp);
void vsm_keypair_wipe(struct vsm_keypair *kp);

/*
 * Write kp->priv to `path` (0600) and kp->pub to `path`.pub, each
 * atomically (temporary file, fsync, link). An existing file is never
 * overwritten: an identity is not replaced by accident. Returns 0 or -1
 * with err set.
 */
int vsm_key_save(
    const char *path, const struct vsm_keypair *kp, struct vsm_err *err);

/*
 * Read a private key file into kp and derive its public half. Refuses a
 * file that is not a regular file, is reachable by group or others, or
 * does not hold exactly one key. Returns 0 or -1 with err set.
 */
int vsm_key_load(const char *path, struct vsm_keypair *kp, struct vsm_err *err);

/* Read a public key file (base64, one line). Returns 0 or -1. */
int vsm_pubkey_load(
    const char *path, uint8_t pub[VSM_KEY_LEN], struct vsm_err *err);

void vsm_key_encode(const uint8_t key[VSM_KEY_LEN], char out[VSM_KEY_B64LEN]);
/* Decode a base64 key; surrounding whitespace is ignored. 0 or -1. */
int vsm_key_decode(
    const char *s, uint8_t key[VSM_KEY_LEN], struct vsm_err *err);

#endif /* VSM_KEYFILE_H */
