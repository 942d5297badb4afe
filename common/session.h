/*
 * session.h: one Noise IK session, bound to one nng pipe, and the framing
 * of its transport messages (docs/protocol.md).
 *
 * Every transport Frame carries the session id, a first counter and one or
 * more chunks; chunk i is sealed with nonce counter+i and associated data
 * (session id, first counter, chunk count, index), so chunks can be neither
 * reordered, dropped nor moved to another message. Received counters pass
 * a sliding replay window.
 *
 * A session is reference counted: the channel's tables hold one reference
 * and each request in flight holds one. Sealing and opening are thread-safe.
 */
#ifndef VSM_SESSION_H
#define VSM_SESSION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

#include "noise.h"
#include "replay.h"
#include "vsm.pb-c.h"

/* Why a message was dropped; counted per reason, named by vsm_drop_name(). */
enum vsm_drop {
	VSM_DROP_MALFORMED = 0, /* frame does not decode */
	VSM_DROP_UNEXPECTED,    /* frame kind not valid here */
	VSM_DROP_NO_SESSION,    /* transport on a pipe before its handshake */
	VSM_DROP_CROSS_PIPE,    /* transport of a session bound elsewhere */
	VSM_DROP_BAD_SESSION,   /* session id unknown */
	VSM_DROP_DECRYPT,       /* a chunk failed authentication */
	VSM_DROP_REPLAY,        /* counter already seen */
	VSM_DROP_TOO_OLD,       /* counter below the replay window */
	VSM_DROP_OVERSIZE,      /* payload above the configured cap */
	VSM_DROP_HS_MALFORMED,  /* handshake message not well formed */
	VSM_DROP_HS_DECRYPT,    /* handshake failed authentication */
	VSM_DROP_HS_VERSION,    /* unsupported channel version */
	VSM_DROP_HS_DENIED,     /* key unknown, pending or rejected */
	VSM_DROP_HS_REKEY,      /* new handshake on a pipe by another key */
	VSM_DROP_MAX
};

const char *vsm_drop_name(enum vsm_drop);

#define VSM_CHAN_VERSION  1
#define VSM_CHAN_PROLOGUE "vsm channel v1"
#define VSM_CHAN_PROTOCOL "Noise_IK_25519_ChaChaPoly_BLAKE2b"
/* The Transport chunk size: the largest plaintext one Noise message holds. */
#define VSM_CHUNK_MAX VSM_NOISE_MAXPLAIN

struct vsm_session {
	uint64_t                id;   /* random, nonzero */
	uint32_t                pipe; /* the nng pipe it is bound to */
	uint8_t                 peer[VSM_NOISE_DHLEN];
	struct vsm_noise_cipher tx, rx;
	_Atomic uint64_t        tx_next; /* next counter to send */
	pthread_mutex_t         rx_mtx;  /* guards replay */
	struct vsm_replay       replay;
	atomic_int              refs;
	atomic_int              dead;  /* pipe gone: refuse to seal */
	void                   *udata; /* owner's per-session data */
};

/*
 * Create a session from a completed handshake (split is done here); the
 * returned session holds one reference. NULL on failure; hs is untouched.
 */
struct vsm_session *vsm_session_new(
    struct vsm_noise_hs *hs, uint64_t id, uint32_t pipe);
void vsm_session_ref(struct vsm_session *s);
/* Drop one reference; the last one wipes the keys. NULL is a no-op. */
void vsm_session_unref(struct vsm_session *s);

/*
 * Seal `len` bytes into a new nng message holding a Transport Frame.
 * Returns 0 with *msgp owned by the caller, or -1 (nonce space exhausted,
 * out of memory, session dead).
 */
int vsm_session_seal(
    struct vsm_session *s, const uint8_t *pt, size_t len, nng_msg **msgp);

/*
 * Open a Transport: check the replay window, decrypt every chunk, commit
 * the counters. Returns 0 with *ptp (malloc'd, caller frees) and *lenp
 * set, or -1 with *why set and nothing allocated. `maxlen` caps the
 * plaintext.
 */
int vsm_session_open(struct vsm_session *s, const Vsm__Transport *t,
    size_t maxlen, uint8_t **ptp, size_t *lenp, enum vsm_drop *why);

/* Frame helpers. */
/* Decode a Frame; NULL when malformed. Free with vsm_frame_free(). */
Vsm__Frame *vsm_frame_unpack(const uint8_t *buf, size_t len);
void        vsm_frame_free(Vsm__Frame *f);
/* Pack any protobuf message into a new nng message. 0 or -1. */
int vsm_pack_msg(const ProtobufCMessage *m, nng_msg **msgp);

#endif /* VSM_SESSION_H */
