/*
 * fuzz_transport.c: Transport frames into an established session.
 *
 * One IK session pair is built once with the fixed keys of fixture.c; each
 * input starts from fresh counters and replay windows, so that a crash
 * reproduces from its file alone. The first byte picks the direction (bit
 * 7, TR_REVERSE) and a mode (enum tr_mode in fixture.h):
 *
 * TR_MODE_RAW   the rest is a packed Transport, opened as it is.
 * TR_MODE_FLIP  [size][counter:8] then (pos:2, xor:1) triples: a valid
 *		 message is sealed at that counter, its Frame bytes are
 *		 xored, and the result is decoded and opened.
 * TR_MODE_SEQ   ops of [size | 0x08 replay][counter:8]: each seals a
 *		 message at that counter (or reopens the last one) and opens
 *		 it; the verdict must match a model of the replay window.
 *
 * Invariants that abort: an untouched message opens to its plaintext, a
 * touched one never opens to another plaintext, and the replay window
 * accepts exactly what the model accepts.
 */
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

#define SEQ_MAXOPS 64
#define SEQ_OPLEN  9
#define MAXCHUNKS  5
#define OVERSIZE   (MAXCHUNKS * VSM_CHUNK_MAX)

int LLVMFuzzerInitialize(int *, char ***);
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Plaintext sizes: empty, small, around one chunk, several, over the cap. */
static const size_t sizes[8] = {
    0, 1, 33, VSM_CHUNK_MAX - 1, VSM_CHUNK_MAX, VSM_CHUNK_MAX + 1,
    2 * VSM_CHUNK_MAX + 7, OVERSIZE, /* above FIXTURE_MAXLEN */
};

static struct vsm_session *agent, *ctl;
static uint8_t            *plain; /* sizes[7] bytes of a pattern */
static volatile size_t     sink;

/* What the replay window should do: every counter accepted so far. */
struct model {
	uint64_t top;
	uint64_t seen[SEQ_MAXOPS * MAXCHUNKS];
	size_t   nseen;
};

static uint64_t
get64(const uint8_t *p)
{
	uint64_t v = 0;
	int      i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return (v);
}

static size_t
nchunks(size_t len)
{
	return (len == 0 ? 1 : (len + VSM_CHUNK_MAX - 1) / VSM_CHUNK_MAX);
}

static void
reset(void)
{
	atomic_store(&agent->tx_next, 0);
	atomic_store(&ctl->tx_next, 0);
	vsm_replay_init(&agent->replay);
	vsm_replay_init(&ctl->replay);
}

/*
 * Seal sizes[idx] bytes of plain at `counter` into *msgp. Returns 0, or -1
 * when the counter leaves no room for the message (anything else aborts).
 */
static int
seal_at(struct vsm_session *s, uint64_t counter, size_t idx, nng_msg **msgp)
{
	uint64_t n = nchunks(sizes[idx]);

	atomic_store(&s->tx_next, counter);
	if (vsm_session_seal(s, plain, sizes[idx], msgp) == 0)
		return (0);
	if (counter <= VSM_NOISE_NONCE_MAX - 1 - n)
		fixture_fail("seal refused counter %llu with room left",
		    (unsigned long long)counter);
	return (-1);
}

/* Decode a Frame and open its Transport, as the channel does. */
static int
open_bytes(struct vsm_session *s, const uint8_t *buf, size_t len, uint8_t **ptp,
    size_t *lenp, enum vsm_drop *why)
{
	Vsm__Frame *f;
	int         ret = -1;

	*ptp = NULL;
	*lenp = 0;
	*why = VSM_DROP_MALFORMED;
	if ((f = vsm_frame_unpack(buf, len)) == NULL)
		return (-1);
	if (f->kind_case == VSM__FRAME__KIND_TRANSPORT)
		ret = vsm_session_open(
		    s, f->transport, FIXTURE_MAXLEN, ptp, lenp, why);
	else
		*why = VSM_DROP_UNEXPECTED;
	vsm_frame_free(f);
	return (ret);
}

static void
mode_raw(struct vsm_session *to, const uint8_t *data, size_t len)
{
	Vsm__Transport *t;
	enum vsm_drop   why;
	uint8_t        *pt;
	size_t          ptlen, i;

	if ((t = vsm__transport__unpack(NULL, len, data)) == NULL)
		return;
	sink += (size_t)(t->session_id ^ t->counter);
	for (i = 0; i < t->n_chunk; i++)
		sink += t->chunk[i].len;
	if (vsm_session_open(to, t, FIXTURE_MAXLEN, &pt, &ptlen, &why) == 0) {
		if (ptlen > FIXTURE_MAXLEN)
			fixture_fail("opened %zu bytes above the cap", ptlen);
		free(pt);
	} else if (pt != NULL || ptlen != 0)
		fixture_fail("failed open left a plaintext");
	vsm__transport__free_unpacked(t, NULL);
}

static void
mode_flip(struct vsm_session *from, struct vsm_session *to, const uint8_t *data,
    size_t len)
{
	nng_msg      *msg;
	uint8_t      *body, *orig, *pt;
	size_t        blen, ptlen, idx, pos;
	enum vsm_drop why;
	int           changed, rc;

	if (len < 9)
		return;
	idx = data[0] % 8;
	if (seal_at(from, get64(data + 1), idx, &msg) == -1)
		return;
	data += 9;
	len -= 9;
	body = nng_msg_body(msg);
	blen = nng_msg_len(msg);
	if ((orig = malloc(blen)) == NULL)
		fixture_fail("out of memory");
	memcpy(orig, body, blen);
	for (; len >= 3; data += 3, len -= 3) {
		pos = (size_t)(data[0] | data[1] << 8) % blen;
		body[pos] ^= data[2];
	}
	changed = memcmp(orig, body, blen) != 0;
	rc = open_bytes(to, body, blen, &pt, &ptlen, &why);
	if (rc == 0 && (ptlen != sizes[idx] || memcmp(pt, plain, ptlen) != 0))
		fixture_fail(
		    "a modified Transport opened to another plaintext");
	if (!changed && sizes[idx] <= FIXTURE_MAXLEN && rc == -1)
		fixture_fail(
		    "a valid Transport was dropped: %s", vsm_drop_name(why));
	if (sizes[idx] > FIXTURE_MAXLEN && rc == 0)
		fixture_fail("a Transport above the cap opened");
	free(pt);
	free(orig);
	nng_msg_free(msg);
}

static int
model_seen(const struct model *m, uint64_t c)
{
	size_t i;

	for (i = 0; i < m->nseen; i++)
		if (m->seen[i] == c)
			return (1);
	return (0);
}

/* The contract of replay.h: refuse what was seen or is below the window. */
static int
model_accepts(const struct model *m, uint64_t first, uint64_t n)
{
	uint64_t i, c;

	if (n == 0 || first > UINT64_MAX - n)
		return (0);
	for (i = 0; i < n; i++) {
		c = first + i;
		if (c == UINT64_MAX || model_seen(m, c))
			return (0);
		if (c < m->top && m->top - c > VSM_REPLAY_WINDOW)
			return (0);
	}
	return (1);
}

static void
model_commit(struct model *m, uint64_t first, uint64_t n)
{
	uint64_t i;

	for (i = 0; i < n; i++) {
		if (m->nseen == sizeof(m->seen) / sizeof(m->seen[0]))
			fixture_fail("model full");
		m->seen[m->nseen++] = first + i;
		if (first + i > m->top)
			m->top = first + i;
	}
}

static void
mode_seq(struct vsm_session *from, struct vsm_session *to, const uint8_t *data,
    size_t len)
{
	struct model *m;
	nng_msg      *msg = NULL;
	uint8_t      *pt;
	uint64_t      first = 0, n = 0;
	size_t        ptlen, idx = 0, ops;
	enum vsm_drop why;
	int           rc, want;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		fixture_fail("out of memory");
	for (ops = 0; ops < SEQ_MAXOPS && len >= SEQ_OPLEN;
	     ops++, data += SEQ_OPLEN, len -= SEQ_OPLEN) {
		if (!(data[0] & 0x08) || msg == NULL) {
			nng_msg_free(msg);
			msg = NULL;
			idx = data[0] % 8;
			first = get64(data + 1);
			n = nchunks(sizes[idx]);
			if (seal_at(from, first, idx, &msg) == -1)
				continue;
		}
		rc = open_bytes(
		    to, nng_msg_body(msg), nng_msg_len(msg), &pt, &ptlen, &why);
		if (sizes[idx] > FIXTURE_MAXLEN) {
			if (rc == 0 || why != VSM_DROP_OVERSIZE)
				fixture_fail("oversize Transport not dropped "
				             "as such");
			continue;
		}
		want = model_accepts(m, first, n);
		if (rc == 0 && !want)
			fixture_fail("replay window accepted counters "
			             "%llu+%llu (top %llu)",
			    (unsigned long long)first, (unsigned long long)n,
			    (unsigned long long)m->top);
		if (rc == -1 && want)
			fixture_fail("replay window refused counters "
			             "%llu+%llu (top %llu): %s",
			    (unsigned long long)first, (unsigned long long)n,
			    (unsigned long long)m->top, vsm_drop_name(why));
		if (rc == 0) {
			if (ptlen != sizes[idx] ||
			    memcmp(pt, plain, ptlen) != 0)
				fixture_fail("opened plaintext differs");
			model_commit(m, first, n);
			free(pt);
		}
	}
	nng_msg_free(msg);
	free(m);
}

/* Let LeakSanitizer find nothing of ours at exit. */
static void
cleanup(void)
{
	vsm_session_unref(agent);
	vsm_session_unref(ctl);
	free(plain);
	agent = ctl = NULL;
	plain = NULL;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	size_t i;

	fixture_pair(&agent, &ctl);
	atexit(cleanup);
	if ((plain = malloc(sizes[7])) == NULL)
		fixture_fail("out of memory");
	for (i = 0; i < sizes[7]; i++)
		plain[i] = (uint8_t)(i ^ i >> 8 ^ i >> 16);
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct vsm_session *from = agent, *to = ctl;

	if (len == 0)
		return (0);
	reset();
	if (data[0] & TR_REVERSE) {
		from = ctl;
		to = agent;
	}
	switch ((enum tr_mode)((data[0] & 0x7f) % TR_MODE_MAX)) {
	case TR_MODE_RAW:
		mode_raw(to, data + 1, len - 1);
		break;
	case TR_MODE_FLIP:
		mode_flip(from, to, data + 1, len - 1);
		break;
	case TR_MODE_SEQ:
		mode_seq(from, to, data + 1, len - 1);
		break;
	case TR_MODE_MAX:
		break;
	}
	return (0);
}
