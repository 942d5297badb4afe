#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "session.h"

#define AD_LEN 24

static const char *const drop_names[VSM_DROP_MAX] = {
    [VSM_DROP_MALFORMED] = "malformed",
    [VSM_DROP_UNEXPECTED] = "unexpected",
    [VSM_DROP_NO_SESSION] = "no_session",
    [VSM_DROP_CROSS_PIPE] = "cross_pipe",
    [VSM_DROP_BAD_SESSION] = "bad_session",
    [VSM_DROP_DECRYPT] = "decrypt",
    [VSM_DROP_REPLAY] = "replay",
    [VSM_DROP_TOO_OLD] = "too_old",
    [VSM_DROP_OVERSIZE] = "oversize",
    [VSM_DROP_HS_MALFORMED] = "hs_malformed",
    [VSM_DROP_HS_DECRYPT] = "hs_decrypt",
    [VSM_DROP_HS_VERSION] = "hs_version",
    [VSM_DROP_HS_DENIED] = "hs_denied",
    [VSM_DROP_HS_REKEY] = "hs_rekey",
};

const char *
vsm_drop_name(enum vsm_drop d)
{
	if ((unsigned)d >= VSM_DROP_MAX)
		return ("?");
	return (drop_names[d]);
}

struct vsm_session *
vsm_session_new(struct vsm_noise_hs *hs, uint64_t id, uint32_t pipe)
{
	struct vsm_session *s;
	const uint8_t      *rs;

	if ((rs = vsm_noise_hs_remote_static(hs)) == NULL)
		return (NULL);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return (NULL);
	if (vsm_noise_hs_split(hs, &s->tx, &s->rx) != VSM_NOISE_OK) {
		free(s);
		return (NULL);
	}
	s->id = id;
	s->pipe = pipe;
	memcpy(s->peer, rs, sizeof(s->peer));
	pthread_mutex_init(&s->rx_mtx, NULL);
	vsm_replay_init(&s->replay);
	atomic_init(&s->tx_next, 0);
	atomic_init(&s->refs, 1);
	atomic_init(&s->dead, 0);
	return (s);
}

void
vsm_session_ref(struct vsm_session *s)
{
	atomic_fetch_add(&s->refs, 1);
}

void
vsm_session_unref(struct vsm_session *s)
{
	if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	pthread_mutex_destroy(&s->rx_mtx);
	sodium_memzero(s, sizeof(*s));
	free(s);
}

static void
put64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void
put32(uint8_t *p, uint32_t v)
{
	int i;

	for (i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The associated data that binds a chunk to its message and position. */
static void
chunk_ad(
    uint8_t ad[AD_LEN], uint64_t sid, uint64_t first, uint32_t n, uint32_t idx)
{
	put64(ad, sid);
	put64(ad + 8, first);
	put32(ad + 16, n);
	put32(ad + 20, idx);
}

static size_t
chunk_count(size_t len)
{
	return (len == 0 ? 1 : (len + VSM_CHUNK_MAX - 1) / VSM_CHUNK_MAX);
}

/* A ProtobufCBuffer that appends to an nng message. */
struct msgbuf {
	ProtobufCBuffer base;
	nng_msg        *msg;
	int             failed;
};

static void
msgbuf_append(ProtobufCBuffer *b, size_t len, const uint8_t *data)
{
	struct msgbuf *mb = (struct msgbuf *)b;

	if (!mb->failed && nng_msg_append(mb->msg, data, len) != 0)
		mb->failed = 1;
}

int
vsm_pack_msg(const ProtobufCMessage *m, nng_msg **msgp)
{
	struct msgbuf mb = {.base = {.append = msgbuf_append}};
	size_t        len = protobuf_c_message_get_packed_size(m);

	*msgp = NULL;
	if (nng_msg_alloc(&mb.msg, 0) != 0)
		return (-1);
	if (nng_msg_reserve(mb.msg, len) != 0) {
		nng_msg_free(mb.msg);
		return (-1);
	}
	protobuf_c_message_pack_to_buffer(m, &mb.base);
	if (mb.failed) {
		nng_msg_free(mb.msg);
		return (-1);
	}
	*msgp = mb.msg;
	return (0);
}

int
vsm_session_seal(
    struct vsm_session *s, const uint8_t *pt, size_t len, nng_msg **msgp)
{
	Vsm__Frame          frame = VSM__FRAME__INIT;
	Vsm__Transport      tr = VSM__TRANSPORT__INIT;
	ProtobufCBinaryData chunks_small[4], *chunks = chunks_small;
	uint8_t            *ct = NULL, ad[AD_LEN];
	size_t              n = chunk_count(len), i, off, clen;
	uint64_t            first;
	int                 ret = -1;

	*msgp = NULL;
	if (atomic_load(&s->dead) || n > UINT32_MAX)
		return (-1);
	/* Take n counters only if they all fit below the reserved nonce. */
	first = atomic_load(&s->tx_next);
	do {
		if (first > VSM_NOISE_NONCE_MAX - n)
			return (-1);
	} while (!atomic_compare_exchange_weak(&s->tx_next, &first, first + n));
	if (n > 4 && (chunks = calloc(n, sizeof(*chunks))) == NULL)
		goto out;
	if ((ct = malloc(len + n * VSM_NOISE_TAGLEN)) == NULL)
		goto out;
	for (i = 0, off = 0; i < n; i++) {
		clen = len - off < VSM_CHUNK_MAX ? len - off : VSM_CHUNK_MAX;
		chunk_ad(ad, s->id, first, (uint32_t)n, (uint32_t)i);
		chunks[i].data = ct + off + i * VSM_NOISE_TAGLEN;
		chunks[i].len = clen + VSM_NOISE_TAGLEN;
		if (vsm_noise_cipher_encrypt_at(&s->tx, first + i, ad, AD_LEN,
		        pt + off, clen, chunks[i].data) != VSM_NOISE_OK)
			goto out;
		off += clen;
	}
	tr.session_id = s->id;
	tr.counter = first;
	tr.n_chunk = n;
	tr.chunk = chunks;
	frame.kind_case = VSM__FRAME__KIND_TRANSPORT;
	frame.transport = &tr;
	ret = vsm_pack_msg(&frame.base, msgp);
out:
	if (chunks != chunks_small)
		free(chunks);
	free(ct);
	return (ret);
}

static enum vsm_drop
replay_drop(enum vsm_replay_rc rc)
{
	return (rc == VSM_REPLAY_SEEN ? VSM_DROP_REPLAY : VSM_DROP_TOO_OLD);
}

int
vsm_session_open(struct vsm_session *s, const Vsm__Transport *t, size_t maxlen,
    uint8_t **ptp, size_t *lenp, enum vsm_drop *why)
{
	enum vsm_replay_rc rc;
	uint8_t           *pt = NULL, ad[AD_LEN];
	size_t             i, total = 0, off = 0, clen;

	*ptp = NULL;
	*lenp = 0;
	if (t->n_chunk == 0 || t->n_chunk > UINT32_MAX) {
		*why = VSM_DROP_MALFORMED;
		return (-1);
	}
	/* Sizes first: every chunk but the last is full, none is empty. */
	for (i = 0; i < t->n_chunk; i++) {
		clen = t->chunk[i].len;
		if (clen < VSM_NOISE_TAGLEN ||
		    clen - VSM_NOISE_TAGLEN > VSM_CHUNK_MAX ||
		    (i + 1 < t->n_chunk &&
		        clen - VSM_NOISE_TAGLEN != VSM_CHUNK_MAX)) {
			*why = VSM_DROP_MALFORMED;
			return (-1);
		}
		total += clen - VSM_NOISE_TAGLEN;
	}
	if (total > maxlen) {
		*why = VSM_DROP_OVERSIZE;
		return (-1);
	}
	pthread_mutex_lock(&s->rx_mtx);
	rc = vsm_replay_check(&s->replay, t->counter, t->n_chunk);
	pthread_mutex_unlock(&s->rx_mtx);
	if (rc != VSM_REPLAY_OK) {
		*why = replay_drop(rc);
		return (-1);
	}
	if ((pt = malloc(total ? total : 1)) == NULL) {
		*why = VSM_DROP_OVERSIZE;
		return (-1);
	}
	for (i = 0; i < t->n_chunk; i++) {
		clen = t->chunk[i].len - VSM_NOISE_TAGLEN;
		chunk_ad(
		    ad, s->id, t->counter, (uint32_t)t->n_chunk, (uint32_t)i);
		if (vsm_noise_cipher_decrypt_at(&s->rx, t->counter + i, ad,
		        AD_LEN, t->chunk[i].data, t->chunk[i].len,
		        pt + off) != VSM_NOISE_OK) {
			*why = VSM_DROP_DECRYPT;
			goto fail;
		}
		off += clen;
	}
	/* Commit re-checks: of two racing copies only one gets through. */
	pthread_mutex_lock(&s->rx_mtx);
	rc = vsm_replay_commit(&s->replay, t->counter, t->n_chunk);
	pthread_mutex_unlock(&s->rx_mtx);
	if (rc != VSM_REPLAY_OK) {
		*why = replay_drop(rc);
		goto fail;
	}
	*ptp = pt;
	*lenp = total;
	return (0);
fail:
	sodium_memzero(pt, total);
	free(pt);
	return (-1);
}

Vsm__Frame *
vsm_frame_unpack(const uint8_t *buf, size_t len)
{
	Vsm__Frame *f;

	if ((f = vsm__frame__unpack(NULL, len, buf)) == NULL)
		return (NULL);
	if (f->kind_case == VSM__FRAME__KIND__NOT_SET) {
		vsm__frame__free_unpacked(f, NULL);
		return (NULL);
	}
	return (f);
}

void
vsm_frame_free(Vsm__Frame *f)
{
	if (f != NULL)
		vsm__frame__free_unpacked(f, NULL);
}
