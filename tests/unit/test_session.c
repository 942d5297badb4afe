/*
 * test_session.c: Noise IK sessions and their Transport framing
 * (session.h). Each test runs a real IK handshake in memory and builds the
 * two ends of one session from it; frames are sealed by one end, decoded
 * as they would be off the wire, tampered with, and opened by the other.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "session.h"

#define SID   UINT64_C(0x1122334455667788)
#define FULL  (VSM_CHUNK_MAX + VSM_NOISE_TAGLEN) /* a full chunk's length */
#define NOCAP SIZE_MAX                           /* no payload cap */

struct pair {
	struct vsm_session *a; /* the initiator's end (an agent) */
	struct vsm_session *b; /* the responder's end (the controller) */
	uint8_t             apub[VSM_NOISE_DHLEN], bpub[VSM_NOISE_DHLEN];
};

static struct vsm_noise_hs *
hs_start(int initiator, const uint8_t *s, const uint8_t *rs)
{
	struct vsm_noise_hs_config cfg = {
	    .protocol = VSM_CHAN_PROTOCOL,
	    .initiator = initiator,
	    .prologue = (const uint8_t *)VSM_CHAN_PROLOGUE,
	    .prologue_len = strlen(VSM_CHAN_PROLOGUE),
	    .s = s,
	    .rs = rs,
	};
	struct vsm_noise_hs *hs = NULL;

	assert_int_equal(vsm_noise_hs_new(&hs, &cfg), VSM_NOISE_OK);
	assert_non_null(hs);
	return (hs);
}

/* Run IK between fresh keys and make both ends of session `id`. */
static void
pair_make(struct pair *p, uint64_t id)
{
	uint8_t              apriv[VSM_NOISE_DHLEN], bpriv[VSM_NOISE_DHLEN];
	uint8_t              msg[512], pl[64];
	size_t               len, plen;
	struct vsm_noise_hs *ini, *resp;

	vsm_noise_keypair(apriv, p->apub);
	vsm_noise_keypair(bpriv, p->bpub);
	ini = hs_start(1, apriv, p->bpub);
	resp = hs_start(0, bpriv, NULL);
	assert_int_equal(vsm_noise_hs_write(ini, (const uint8_t *)"hello", 5,
	                     msg, sizeof(msg), &len),
	    VSM_NOISE_OK);
	assert_int_equal(
	    vsm_noise_hs_read(resp, msg, len, pl, sizeof(pl), &plen),
	    VSM_NOISE_OK);
	assert_int_equal(vsm_noise_hs_write(resp, (const uint8_t *)"welcome", 7,
	                     msg, sizeof(msg), &len),
	    VSM_NOISE_OK);
	assert_int_equal(
	    vsm_noise_hs_read(ini, msg, len, pl, sizeof(pl), &plen),
	    VSM_NOISE_OK);
	assert_int_equal(vsm_noise_hs_action(ini), VSM_NOISE_SPLIT);
	assert_int_equal(vsm_noise_hs_action(resp), VSM_NOISE_SPLIT);
	assert_non_null(p->a = vsm_session_new(ini, id, 1));
	assert_non_null(p->b = vsm_session_new(resp, id, 2));
	vsm_noise_hs_free(ini);
	vsm_noise_hs_free(resp);
	sodium_memzero(apriv, sizeof(apriv));
	sodium_memzero(bpriv, sizeof(bpriv));
}

static int
setup(void **state)
{
	struct pair *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return (-1);
	pair_make(p, SID);
	*state = p;
	return (0);
}

static int
teardown(void **state)
{
	struct pair *p = *state;

	vsm_session_unref(p->a);
	vsm_session_unref(p->b);
	free(p);
	return (0);
}

/* `len` random bytes (malloc'd; at least one byte is allocated). */
static uint8_t *
payload(size_t len)
{
	uint8_t *pt;

	assert_non_null(pt = malloc(len ? len : 1));
	randombytes_buf(pt, len);
	return (pt);
}

static Vsm__Frame *
unpack_msg(nng_msg *msg)
{
	Vsm__Frame *f;

	assert_non_null(
	    f = vsm_frame_unpack(nng_msg_body(msg), nng_msg_len(msg)));
	assert_int_equal(f->kind_case, VSM__FRAME__KIND_TRANSPORT);
	assert_non_null(f->transport);
	return (f);
}

/* Seal pt[0..len) and decode the result as a receiver would. */
static Vsm__Frame *
seal(struct vsm_session *s, const uint8_t *pt, size_t len)
{
	nng_msg    *msg = NULL;
	Vsm__Frame *f;

	assert_int_equal(vsm_session_seal(s, pt, len, &msg), 0);
	assert_non_null(msg);
	f = unpack_msg(msg);
	nng_msg_free(msg);
	return (f);
}

/* Open t and expect exactly pt[0..len). */
static void
open_ok(struct vsm_session *s, const Vsm__Transport *t, size_t maxlen,
    const uint8_t *pt, size_t len)
{
	uint8_t      *got = NULL;
	size_t        glen = 12345;
	enum vsm_drop why = VSM_DROP_MAX;
	int           rc;

	rc = vsm_session_open(s, t, maxlen, &got, &glen, &why);
	if (rc != 0)
		fail_msg("open refused: %s", vsm_drop_name(why));
	assert_non_null(got);
	assert_int_equal(glen, len);
	if (len > 0)
		assert_memory_equal(got, pt, len);
	free(got);
}

/* Open t, expect a refusal with nothing handed back, and return why. */
static enum vsm_drop
open_refused(struct vsm_session *s, const Vsm__Transport *t, size_t maxlen)
{
	uint8_t      *got = (uint8_t *)&got;
	size_t        glen = 12345;
	enum vsm_drop why = VSM_DROP_MAX;

	assert_int_equal(vsm_session_open(s, t, maxlen, &got, &glen, &why), -1);
	assert_null(got);
	assert_int_equal(glen, 0);
	assert_true(why < VSM_DROP_MAX);
	return (why);
}

static void
swap_chunks(ProtobufCBinaryData *x, ProtobufCBinaryData *y)
{
	ProtobufCBinaryData tmp = *x;

	*x = *y;
	*y = tmp;
}

static void
test_round_trip_of_every_size_class(void **state)
{
	static const size_t sizes[] = {0, 1, VSM_CHUNK_MAX - 1, VSM_CHUNK_MAX,
	    VSM_CHUNK_MAX + 1, 3 * VSM_CHUNK_MAX + 7};
	static const size_t chunks[] = {1, 1, 1, 1, 2, 4};
	struct pair        *p = *state;
	struct vsm_session *from, *to;
	Vsm__Frame         *f;
	uint8_t            *pt;
	uint64_t            next[2] = {0, 0};
	size_t              i, j, dir;

	for (dir = 0; dir < 2; dir++) {
		from = dir == 0 ? p->a : p->b;
		to = dir == 0 ? p->b : p->a;
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			pt = payload(sizes[i]);
			f = seal(from, pt, sizes[i]);
			assert_int_equal(f->transport->session_id, SID);
			assert_int_equal(f->transport->counter, next[dir]);
			assert_int_equal(f->transport->n_chunk, chunks[i]);
			for (j = 0; j + 1 < chunks[i]; j++)
				assert_int_equal(
				    f->transport->chunk[j].len, FULL);
			assert_int_equal(f->transport->chunk[j].len,
			    sizes[i] - j * VSM_CHUNK_MAX + VSM_NOISE_TAGLEN);
			next[dir] += chunks[i];
			open_ok(to, f->transport, sizes[i], pt, sizes[i]);
			vsm_frame_free(f);
			free(pt);
		}
	}
}

static void
test_replayed_frame_is_refused_as_replay(void **state)
{
	struct pair *p = *state;
	Vsm__Frame  *f;
	uint8_t     *pt = payload(100);

	f = seal(p->a, pt, 100);
	open_ok(p->b, f->transport, NOCAP, pt, 100);
	assert_int_equal(
	    open_refused(p->b, f->transport, NOCAP), VSM_DROP_REPLAY);
	assert_int_equal(
	    open_refused(p->b, f->transport, NOCAP), VSM_DROP_REPLAY);
	vsm_frame_free(f);
	free(pt);
}

static void
test_frame_below_replay_window_is_too_old(void **state)
{
	struct pair *p = *state;
	Vsm__Frame  *old, *f;
	uint8_t     *pt = payload(10);

	old = seal(p->a, pt, 10);
	atomic_store(&p->a->tx_next, VSM_REPLAY_WINDOW + 10);
	f = seal(p->a, pt, 10);
	open_ok(p->b, f->transport, NOCAP, pt, 10);
	assert_int_equal(
	    open_refused(p->b, old->transport, NOCAP), VSM_DROP_TOO_OLD);
	vsm_frame_free(old);
	vsm_frame_free(f);
	free(pt);
}

/* Seal once and decode twice: two copies of one frame off the wire. */
static void
seal_twice(struct vsm_session *s, const uint8_t *pt, size_t len,
    Vsm__Frame **f1, Vsm__Frame **f2)
{
	nng_msg *msg = NULL;

	assert_int_equal(vsm_session_seal(s, pt, len, &msg), 0);
	*f1 = unpack_msg(msg);
	*f2 = unpack_msg(msg);
	nng_msg_free(msg);
}

static void
test_flipped_byte_is_decrypt_and_commits_nothing(void **state)
{
	struct pair         *p = *state;
	Vsm__Frame          *bad, *good;
	size_t               len = 2 * VSM_CHUNK_MAX + 50, pos[4], i;
	uint8_t             *pt = payload(len);
	ProtobufCBinaryData *c;

	/* The first byte, a tag byte, and bytes of the later chunks. */
	pos[0] = 0;
	pos[1] = FULL - 1;
	pos[2] = FULL + 1000;
	pos[3] = 2 * FULL + 50 + VSM_NOISE_TAGLEN - 1;
	for (i = 0; i < 4; i++) {
		seal_twice(p->a, pt, len, &bad, &good);
		c = &bad->transport->chunk[pos[i] / FULL];
		c->data[pos[i] % FULL] ^= 0x01;
		assert_int_equal(open_refused(p->b, bad->transport, NOCAP),
		    VSM_DROP_DECRYPT);
		/* The counters were not burnt: the genuine copy opens. */
		open_ok(p->b, good->transport, NOCAP, pt, len);
		vsm_frame_free(bad);
		vsm_frame_free(good);
	}
	free(pt);
}

static void
test_swapped_chunks_are_decrypt(void **state)
{
	struct pair         *p = *state;
	Vsm__Frame          *f;
	size_t               len = 3 * VSM_CHUNK_MAX + 7;
	uint8_t             *pt = payload(len);
	ProtobufCBinaryData *c;

	f = seal(p->a, pt, len);
	c = f->transport->chunk;
	swap_chunks(&c[0], &c[1]);
	assert_int_equal(
	    open_refused(p->b, f->transport, NOCAP), VSM_DROP_DECRYPT);
	swap_chunks(&c[0], &c[1]);
	swap_chunks(&c[1], &c[2]);
	assert_int_equal(
	    open_refused(p->b, f->transport, NOCAP), VSM_DROP_DECRYPT);
	swap_chunks(&c[1], &c[2]);
	open_ok(p->b, f->transport, NOCAP, pt, len);
	vsm_frame_free(f);
	free(pt);
}

/*
 * Without its last chunk a 3-chunk message still has well-formed sizes
 * (the new last chunk is full, which a last chunk may be), so it is the
 * chunk count in the associated data that refuses it: DECRYPT.
 */
static void
test_dropped_last_chunk_is_decrypt(void **state)
{
	struct pair *p = *state;
	Vsm__Frame  *f;
	size_t       len = 2 * VSM_CHUNK_MAX + 100;
	uint8_t     *pt = payload(len);

	f = seal(p->a, pt, len);
	assert_int_equal(f->transport->n_chunk, 3);
	f->transport->n_chunk = 2;
	assert_int_equal(
	    open_refused(p->b, f->transport, NOCAP), VSM_DROP_DECRYPT);
	f->transport->n_chunk = 1;
	assert_int_equal(
	    open_refused(p->b, f->transport, NOCAP), VSM_DROP_DECRYPT);
	f->transport->n_chunk = 3;
	open_ok(p->b, f->transport, NOCAP, pt, len);
	vsm_frame_free(f);
	free(pt);
}

/*
 * Chunks moved between messages. The hardest case lines the nonces up: a
 * 2-chunk message at counter c followed by a 1-chunk message at c+2 can be
 * glued into one 3-chunk frame at c whose nonces are all right; only the
 * associated data (first counter, chunk count) tells them apart.
 */
static void
test_chunk_spliced_from_another_message_is_decrypt(void **state)
{
	struct pair        *p = *state;
	Vsm__Frame         *f1, *f2, *f3, *f4;
	Vsm__Transport      forged = VSM__TRANSPORT__INIT;
	ProtobufCBinaryData glued[3];
	size_t              len1 = 2 * VSM_CHUNK_MAX, len3 = VSM_CHUNK_MAX + 9;
	uint8_t            *pt1 = payload(len1), *pt2 = payload(10);
	uint8_t            *pt3 = payload(len3), *pt4 = payload(len3);

	f1 = seal(p->a, pt1, len1);
	f2 = seal(p->a, pt2, 10);
	assert_int_equal(f2->transport->counter, f1->transport->counter + 2);
	glued[0] = f1->transport->chunk[0];
	glued[1] = f1->transport->chunk[1];
	glued[2] = f2->transport->chunk[0];
	forged.session_id = SID;
	forged.counter = f1->transport->counter;
	forged.n_chunk = 3;
	forged.chunk = glued;
	assert_int_equal(open_refused(p->b, &forged, NOCAP), VSM_DROP_DECRYPT);

	/* The second chunk of f1 alone, at its own nonce. */
	forged.counter = f1->transport->counter + 1;
	forged.n_chunk = 1;
	forged.chunk = &f1->transport->chunk[1];
	assert_int_equal(open_refused(p->b, &forged, NOCAP), VSM_DROP_DECRYPT);

	/* Same-shaped messages trading their last chunks. */
	f3 = seal(p->a, pt3, len3);
	f4 = seal(p->a, pt4, len3);
	swap_chunks(&f3->transport->chunk[1], &f4->transport->chunk[1]);
	assert_int_equal(
	    open_refused(p->b, f3->transport, NOCAP), VSM_DROP_DECRYPT);
	assert_int_equal(
	    open_refused(p->b, f4->transport, NOCAP), VSM_DROP_DECRYPT);
	swap_chunks(&f3->transport->chunk[1], &f4->transport->chunk[1]);

	/* Nothing was committed: every genuine message still opens. */
	open_ok(p->b, f1->transport, NOCAP, pt1, len1);
	open_ok(p->b, f2->transport, NOCAP, pt2, 10);
	open_ok(p->b, f3->transport, NOCAP, pt3, len3);
	open_ok(p->b, f4->transport, NOCAP, pt4, len3);
	vsm_frame_free(f1);
	vsm_frame_free(f2);
	vsm_frame_free(f3);
	vsm_frame_free(f4);
	free(pt1);
	free(pt2);
	free(pt3);
	free(pt4);
}

static void
test_short_non_last_chunk_is_malformed(void **state)
{
	struct pair *p = *state;
	Vsm__Frame  *f;
	size_t       len = VSM_CHUNK_MAX + 1;
	uint8_t     *pt = payload(len);

	f = seal(p->a, pt, len);
	f->transport->chunk[0].len = FULL - 1;
	assert_int_equal(
	    open_refused(p->b, f->transport, NOCAP), VSM_DROP_MALFORMED);
	f->transport->chunk[0].len = VSM_NOISE_TAGLEN;
	assert_int_equal(
	    open_refused(p->b, f->transport, NOCAP), VSM_DROP_MALFORMED);
	f->transport->chunk[0].len = FULL;
	open_ok(p->b, f->transport, NOCAP, pt, len);
	vsm_frame_free(f);
	free(pt);
}

static void
test_zero_chunks_is_malformed(void **state)
{
	struct pair *p = *state;
	Vsm__Frame  *f;
	uint8_t     *pt = payload(10);

	f = seal(p->a, pt, 10);
	f->transport->n_chunk = 0;
	assert_int_equal(
	    open_refused(p->b, f->transport, NOCAP), VSM_DROP_MALFORMED);
	f->transport->n_chunk = 1;
	open_ok(p->b, f->transport, NOCAP, pt, 10);
	vsm_frame_free(f);
	free(pt);
}

static void
test_chunk_shorter_than_tag_is_malformed(void **state)
{
	struct pair *p = *state;
	Vsm__Frame  *f;
	uint8_t     *pt = payload(10);
	size_t       len;

	f = seal(p->a, pt, 10);
	for (len = 0; len < VSM_NOISE_TAGLEN; len++) {
		f->transport->chunk[0].len = len;
		assert_int_equal(open_refused(p->b, f->transport, NOCAP),
		    VSM_DROP_MALFORMED);
	}
	f->transport->chunk[0].len = 10 + VSM_NOISE_TAGLEN;
	open_ok(p->b, f->transport, NOCAP, pt, 10);
	vsm_frame_free(f);
	free(pt);
}

static void
test_chunk_above_noise_limit_is_malformed(void **state)
{
	struct pair        *p = *state;
	Vsm__Transport      t = VSM__TRANSPORT__INIT;
	ProtobufCBinaryData c;

	c.len = FULL + 1;
	assert_non_null(c.data = calloc(1, c.len));
	t.session_id = SID;
	t.n_chunk = 1;
	t.chunk = &c;
	assert_int_equal(open_refused(p->b, &t, NOCAP), VSM_DROP_MALFORMED);
	free(c.data);
}

static void
test_payload_above_maxlen_is_oversize(void **state)
{
	struct pair *p = *state;
	Vsm__Frame  *f;
	size_t       len = 3 * VSM_CHUNK_MAX + 7;
	uint8_t     *pt = payload(len);

	f = seal(p->a, pt, 100);
	assert_int_equal(
	    open_refused(p->b, f->transport, 99), VSM_DROP_OVERSIZE);
	assert_int_equal(
	    open_refused(p->b, f->transport, 0), VSM_DROP_OVERSIZE);
	open_ok(p->b, f->transport, 100, pt, 100);
	vsm_frame_free(f);

	f = seal(p->a, pt, len);
	assert_int_equal(
	    open_refused(p->b, f->transport, len - 1), VSM_DROP_OVERSIZE);
	open_ok(p->b, f->transport, len, pt, len);
	vsm_frame_free(f);
	free(pt);
}

static void
test_frame_opened_under_other_session_id_is_decrypt(void **state)
{
	struct pair *p = *state;
	Vsm__Frame  *f;
	uint8_t     *pt = payload(300);

	f = seal(p->a, pt, 300);
	/* Same keys, another id: the id is bound by the associated data. */
	p->b->id = SID ^ 1;
	assert_int_equal(
	    open_refused(p->b, f->transport, NOCAP), VSM_DROP_DECRYPT);
	p->b->id = SID;
	open_ok(p->b, f->transport, NOCAP, pt, 300);
	vsm_frame_free(f);
	free(pt);
}

static void
test_frame_for_other_keys_is_decrypt(void **state)
{
	struct pair *p = *state, q;
	Vsm__Frame  *f;
	uint8_t     *pt = payload(64);

	pair_make(&q, SID);
	f = seal(p->a, pt, 64);
	assert_int_equal(
	    open_refused(q.b, f->transport, NOCAP), VSM_DROP_DECRYPT);
	/* Reflected back to its sender: each direction has its own key. */
	assert_int_equal(
	    open_refused(p->a, f->transport, NOCAP), VSM_DROP_DECRYPT);
	open_ok(p->b, f->transport, NOCAP, pt, 64);
	vsm_frame_free(f);
	vsm_session_unref(q.a);
	vsm_session_unref(q.b);
	free(pt);
}

static void
test_out_of_order_frames_are_all_accepted_once(void **state)
{
	struct pair *p = *state;
	Vsm__Frame  *f[3];
	uint8_t     *pt[3];
	size_t       len[3] = {10, VSM_CHUNK_MAX + 3, 0};
	int          order[3] = {2, 0, 1}, i, k;

	for (i = 0; i < 3; i++) {
		pt[i] = payload(len[i]);
		f[i] = seal(p->a, pt[i], len[i]);
	}
	for (i = 0; i < 3; i++) {
		k = order[i];
		open_ok(p->b, f[k]->transport, NOCAP, pt[k], len[k]);
	}
	for (i = 0; i < 3; i++) {
		assert_int_equal(open_refused(p->b, f[i]->transport, NOCAP),
		    VSM_DROP_REPLAY);
		vsm_frame_free(f[i]);
		free(pt[i]);
	}
}

static void
test_counter_max_is_refused_before_decrypt(void **state)
{
	struct pair *p = *state;
	Vsm__Frame  *f;
	uint8_t     *pt = payload(5);

	f = seal(p->a, pt, 5);
	/* The window's LIMIT is counted as too_old. */
	f->transport->counter = UINT64_MAX;
	assert_int_equal(
	    open_refused(p->b, f->transport, NOCAP), VSM_DROP_TOO_OLD);
	f->transport->counter = 0;
	open_ok(p->b, f->transport, NOCAP, pt, 5);
	vsm_frame_free(f);
	free(pt);
}

static void
test_counters_near_2_64_still_seal_and_open(void **state)
{
	struct pair *p = *state;
	Vsm__Frame  *f;
	uint8_t     *pt = payload(20);

	atomic_store(&p->a->tx_next, UINT64_MAX - 20);
	f = seal(p->a, pt, 20);
	assert_int_equal(f->transport->counter, UINT64_MAX - 20);
	open_ok(p->b, f->transport, NOCAP, pt, 20);
	vsm_frame_free(f);
	f = seal(p->a, pt, 20);
	open_ok(p->b, f->transport, NOCAP, pt, 20);
	vsm_frame_free(f);
	free(pt);
}

static void
test_seal_refuses_a_range_reaching_counter_max(void **state)
{
	struct pair *p = *state;
	nng_msg     *msg = (nng_msg *)&msg;
	uint8_t     *pt = payload(2 * VSM_CHUNK_MAX);

	atomic_store(&p->a->tx_next, UINT64_MAX);
	assert_int_equal(vsm_session_seal(p->a, pt, 1, &msg), -1);
	assert_null(msg);
	atomic_store(&p->a->tx_next, UINT64_MAX - 1);
	msg = (nng_msg *)&msg;
	assert_int_equal(
	    vsm_session_seal(p->a, pt, 2 * VSM_CHUNK_MAX, &msg), -1);
	assert_null(msg);
	free(pt);
}

/*
 * Once the counter space is used up, sealing must keep failing: a
 * refusal must not let the counter wrap to 0 and reuse a nonce that
 * already sealed a message under the same key.
 */
static void
test_seal_keeps_refusing_after_counters_run_out(void **state)
{
	struct pair *p = *state;
	nng_msg     *msg = NULL;
	uint8_t     *pt = payload(3 * VSM_CHUNK_MAX);
	Vsm__Frame  *f;
	int          i, reused = 0;
	uint64_t     ctr = 0;

	f = seal(p->a, pt, 10); /* counter 0 is used */
	vsm_frame_free(f);
	atomic_store(&p->a->tx_next, UINT64_MAX - 2);
	/* Three chunks would need 2^64-1, the reserved nonce: refused. */
	assert_int_equal(
	    vsm_session_seal(p->a, pt, 3 * VSM_CHUNK_MAX, &msg), -1);
	/* Whatever is sealed from now on must use a counter not used yet. */
	for (i = 0; i < 4; i++) {
		msg = NULL;
		if (vsm_session_seal(p->a, pt, 10, &msg) != 0)
			continue;
		f = unpack_msg(msg);
		if (f->transport->counter < UINT64_MAX - 2 && !reused) {
			reused = 1;
			ctr = f->transport->counter;
		}
		vsm_frame_free(f);
		nng_msg_free(msg);
	}
	free(pt);
	if (reused)
		fail_msg("sealed again after running out, at counter %llu",
		    (unsigned long long)ctr);
}

static void
test_dead_session_refuses_to_seal(void **state)
{
	struct pair *p = *state;
	nng_msg     *msg = (nng_msg *)&msg;
	Vsm__Frame  *f;
	uint8_t     *pt = payload(10);

	atomic_store(&p->a->dead, 1);
	assert_int_equal(vsm_session_seal(p->a, pt, 10, &msg), -1);
	assert_null(msg);
	/* The other end still works. */
	f = seal(p->b, pt, 10);
	open_ok(p->a, f->transport, NOCAP, pt, 10);
	vsm_frame_free(f);
	free(pt);
}

struct racer {
	struct vsm_session   *s;
	const Vsm__Transport *t;
	pthread_barrier_t    *go;
	int                   ok;
};

static void *
racer_run(void *arg)
{
	struct racer *r = arg;
	uint8_t      *pt = NULL;
	size_t        len;
	enum vsm_drop why;

	pthread_barrier_wait(r->go);
	r->ok = vsm_session_open(r->s, r->t, NOCAP, &pt, &len, &why) == 0;
	free(pt);
	return (NULL);
}

/* Two copies of one frame opened at once: exactly one gets through. */
static void
test_racing_copies_of_one_frame_open_once(void **state)
{
	struct pair      *p = *state;
	size_t            len = 3 * VSM_CHUNK_MAX + 7;
	uint8_t          *pt = payload(len);
	Vsm__Frame       *f1, *f2;
	pthread_barrier_t go;
	pthread_t         th[2];
	struct racer      r[2];
	int               round, i;

	for (round = 0; round < 50; round++) {
		seal_twice(p->a, pt, len, &f1, &f2);
		assert_int_equal(pthread_barrier_init(&go, NULL, 2), 0);
		for (i = 0; i < 2; i++) {
			r[i].s = p->b;
			r[i].t = i == 0 ? f1->transport : f2->transport;
			r[i].go = &go;
			r[i].ok = 0;
			assert_int_equal(
			    pthread_create(&th[i], NULL, racer_run, &r[i]), 0);
		}
		for (i = 0; i < 2; i++)
			pthread_join(th[i], NULL);
		pthread_barrier_destroy(&go);
		assert_int_equal(r[0].ok + r[1].ok, 1);
		vsm_frame_free(f1);
		vsm_frame_free(f2);
	}
	free(pt);
}

static void
test_session_new_takes_peer_id_and_pipe(void **state)
{
	struct pair *p = *state;

	assert_memory_equal(p->a->peer, p->bpub, VSM_NOISE_DHLEN);
	assert_memory_equal(p->b->peer, p->apub, VSM_NOISE_DHLEN);
	assert_int_equal(p->a->id, SID);
	assert_int_equal(p->b->id, SID);
	assert_int_equal(p->a->pipe, 1);
	assert_int_equal(p->b->pipe, 2);
	assert_int_equal(atomic_load(&p->a->refs), 1);
	assert_int_equal(atomic_load(&p->a->dead), 0);
}

static void
test_session_new_refuses_unfinished_handshake(void **state)
{
	uint8_t              ipriv[VSM_NOISE_DHLEN], ipub[VSM_NOISE_DHLEN];
	uint8_t              rpriv[VSM_NOISE_DHLEN], rpub[VSM_NOISE_DHLEN];
	struct vsm_noise_hs *ini, *resp;

	vsm_noise_keypair(ipriv, ipub);
	vsm_noise_keypair(rpriv, rpub);
	ini = hs_start(1, ipriv, rpub);
	resp = hs_start(0, rpriv, NULL);
	/* The initiator knows its peer, but no keys are agreed yet. */
	assert_null(vsm_session_new(ini, SID, 1));
	/* The responder does not even know its peer. */
	assert_null(vsm_session_new(resp, SID, 2));
	vsm_noise_hs_free(ini);
	vsm_noise_hs_free(resp);
}

static void
test_ref_keeps_session_until_last_unref(void **state)
{
	struct pair *p = *state;
	Vsm__Frame  *f;
	uint8_t     *pt = payload(10);

	vsm_session_ref(p->a);
	assert_int_equal(atomic_load(&p->a->refs), 2);
	vsm_session_unref(p->a);
	assert_int_equal(atomic_load(&p->a->refs), 1);
	f = seal(p->a, pt, 10);
	open_ok(p->b, f->transport, NOCAP, pt, 10);
	vsm_frame_free(f);
	free(pt);
	/* teardown drops the last reference */
}

static void
test_unref_null_is_noop(void **state)
{
	vsm_session_unref(NULL);
	vsm_frame_free(NULL);
}

static void
test_drop_name_names_every_reason_distinctly(void **state)
{
	int         d, e;
	const char *n;

	for (d = 0; d < VSM_DROP_MAX; d++) {
		n = vsm_drop_name((enum vsm_drop)d);
		assert_non_null(n);
		assert_true(n[0] != '\0');
		assert_string_not_equal(n, "?");
		for (e = 0; e < d; e++)
			assert_string_not_equal(
			    n, vsm_drop_name((enum vsm_drop)e));
	}
	assert_string_equal(vsm_drop_name(VSM_DROP_MAX), "?");
	assert_string_equal(vsm_drop_name((enum vsm_drop)1000), "?");
	assert_string_equal(vsm_drop_name(VSM_DROP_REPLAY), "replay");
	assert_string_equal(vsm_drop_name(VSM_DROP_DECRYPT), "decrypt");
}

static void
test_frame_unpack_refuses_garbage(void **state)
{
	static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	/* Field 4 (transport) announcing 100 bytes but holding 2. */
	static const uint8_t cut[] = {0x22, 0x64, 0x09, 0x01};
	struct pair         *p = *state;
	nng_msg             *msg = NULL;
	uint8_t              pt[10] = {0};

	assert_null(vsm_frame_unpack(junk, sizeof(junk)));
	assert_null(vsm_frame_unpack(cut, sizeof(cut)));
	/* A real frame cut short by one byte. */
	assert_int_equal(vsm_session_seal(p->a, pt, sizeof(pt), &msg), 0);
	assert_null(vsm_frame_unpack(nng_msg_body(msg), nng_msg_len(msg) - 1));
	nng_msg_free(msg);
}

static void
test_frame_unpack_refuses_frame_without_kind(void **state)
{
	static const uint8_t unknown_only[] = {0x48, 0x01}; /* field 9 = 1 */
	Vsm__Frame           empty = VSM__FRAME__INIT;
	Vsm__Frame           err = VSM__FRAME__INIT, *f;
	Vsm__HandshakeError  he = VSM__HANDSHAKE_ERROR__INIT;
	nng_msg             *msg = NULL;

	assert_int_equal(vsm_pack_msg(&empty.base, &msg), 0);
	assert_int_equal(nng_msg_len(msg), 0);
	assert_null(vsm_frame_unpack(nng_msg_body(msg), nng_msg_len(msg)));
	nng_msg_free(msg);
	assert_null(vsm_frame_unpack(unknown_only, sizeof(unknown_only)));

	/* Any kind that is set does decode. */
	he.code = VSM__HANDSHAKE_ERROR__CODE__BUSY;
	he.reason = "busy";
	err.kind_case = VSM__FRAME__KIND_HS_ERROR;
	err.hs_error = &he;
	assert_int_equal(vsm_pack_msg(&err.base, &msg), 0);
	assert_non_null(
	    f = vsm_frame_unpack(nng_msg_body(msg), nng_msg_len(msg)));
	assert_int_equal(f->kind_case, VSM__FRAME__KIND_HS_ERROR);
	assert_string_equal(f->hs_error->reason, "busy");
	vsm_frame_free(f);
	nng_msg_free(msg);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_round_trip_of_every_size_class),
	    T(test_replayed_frame_is_refused_as_replay),
	    T(test_frame_below_replay_window_is_too_old),
	    T(test_flipped_byte_is_decrypt_and_commits_nothing),
	    T(test_swapped_chunks_are_decrypt),
	    T(test_dropped_last_chunk_is_decrypt),
	    T(test_chunk_spliced_from_another_message_is_decrypt),
	    T(test_short_non_last_chunk_is_malformed),
	    T(test_zero_chunks_is_malformed),
	    T(test_chunk_shorter_than_tag_is_malformed),
	    T(test_chunk_above_noise_limit_is_malformed),
	    T(test_payload_above_maxlen_is_oversize),
	    T(test_frame_opened_under_other_session_id_is_decrypt),
	    T(test_frame_for_other_keys_is_decrypt),
	    T(test_out_of_order_frames_are_all_accepted_once),
	    T(test_counter_max_is_refused_before_decrypt),
	    T(test_counters_near_2_64_still_seal_and_open),
	    T(test_seal_refuses_a_range_reaching_counter_max),
	    T(test_seal_keeps_refusing_after_counters_run_out),
	    T(test_dead_session_refuses_to_seal),
	    T(test_racing_copies_of_one_frame_open_once),
	    T(test_session_new_takes_peer_id_and_pipe),
	    T(test_session_new_refuses_unfinished_handshake),
	    T(test_ref_keeps_session_until_last_unref),
	    T(test_unref_null_is_noop),
	    T(test_drop_name_names_every_reason_distinctly),
	    T(test_frame_unpack_refuses_garbage),
	    T(test_frame_unpack_refuses_frame_without_kind),
	};

	if (sodium_init() < 0)
		return (1);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
