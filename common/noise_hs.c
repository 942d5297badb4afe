/*
 * noise_hs.c: the SymmetricState and HandshakeState of the Noise spec
 * (sections 5.2 and 5.3), driven by the pattern table of noise_pattern.c.
 *
 * A message is checked against the length its tokens need before any state
 * changes; any failure marks the state failed, wipes its keys, and every
 * later call returns VSM_NOISE_ESTATE.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "noise.h"
#include "noise_int.h"

enum hs_phase {
	HS_RUNNING,
	HS_SPLIT, /* transport keys handed out */
	HS_FAILED,
};

struct noise_sym {
	const struct noise_hashfn *hf;
	struct vsm_noise_cipher    cs;
	uint8_t                    ck[VSM_NOISE_MAXHASHLEN];
	uint8_t                    h[VSM_NOISE_MAXHASHLEN];
};

struct vsm_noise_hs {
	struct noise_sym            sym;
	const struct noise_pattern *pat;
	uint8_t                     s[VSM_NOISE_DHLEN];
	uint8_t                     spub[VSM_NOISE_DHLEN];
	uint8_t                     e[VSM_NOISE_DHLEN];
	uint8_t                     epub[VSM_NOISE_DHLEN];
	uint8_t                     rs[VSM_NOISE_DHLEN];
	uint8_t                     re[VSM_NOISE_DHLEN];
	int                         has_s, has_e, has_rs, has_re;
	int                         initiator;
	size_t                      nmsgs;
	size_t                      msg; /* index of the next message */
	enum hs_phase               phase;
};

static void
sym_init(
    struct noise_sym *sym, const struct noise_hashfn *hf, const char *proto)
{
	size_t len = strlen(proto);

	memset(sym, 0, sizeof(*sym));
	sym->hf = hf;
	if (len <= hf->hashlen)
		memcpy(sym->h, proto, len);
	else
		noise_hash2(hf, sym->h, (const uint8_t *)proto, len, NULL, 0);
	memcpy(sym->ck, sym->h, hf->hashlen);
}

static void
sym_mixhash(struct noise_sym *sym, const uint8_t *data, size_t len)
{
	noise_hash2(sym->hf, sym->h, sym->h, sym->hf->hashlen, data, len);
}

static void
sym_mixkey(struct noise_sym *sym, const uint8_t *ikm, size_t len)
{
	uint8_t tk[VSM_NOISE_MAXHASHLEN];

	noise_hkdf(sym->hf, sym->ck, ikm, len, sym->ck, tk, NULL);
	noise_cipher_init(&sym->cs, tk);
	sodium_memzero(tk, sizeof(tk));
}

/* out gets ptlen (+ TAGLEN once keyed) bytes; h takes in the ciphertext. */
static enum vsm_noise_rc
sym_encrypt_hash(
    struct noise_sym *sym, const uint8_t *pt, size_t ptlen, uint8_t *out)
{
	enum vsm_noise_rc rc;
	size_t            ctlen = ptlen;

	rc = noise_cipher_seal(
	    &sym->cs, sym->cs.n, sym->h, sym->hf->hashlen, pt, ptlen, out);
	if (rc != VSM_NOISE_OK)
		return (rc);
	if (sym->cs.has_key) {
		sym->cs.n++;
		ctlen += VSM_NOISE_TAGLEN;
	}
	sym_mixhash(sym, out, ctlen);
	return (VSM_NOISE_OK);
}

/*
 * out gets ctlen (- TAGLEN once keyed) bytes; h takes in the ciphertext.
 * The new h is computed first, so out may equal ct.
 */
static enum vsm_noise_rc
sym_decrypt_hash(
    struct noise_sym *sym, const uint8_t *ct, size_t ctlen, uint8_t *out)
{
	enum vsm_noise_rc rc;
	uint8_t           h[VSM_NOISE_MAXHASHLEN];
	size_t            hl = sym->hf->hashlen;

	noise_hash2(sym->hf, h, sym->h, hl, ct, ctlen);
	rc = noise_cipher_open(&sym->cs, sym->cs.n, sym->h, hl, ct, ctlen, out);
	if (rc != VSM_NOISE_OK)
		return (rc);
	if (sym->cs.has_key)
		sym->cs.n++;
	memcpy(sym->h, h, hl);
	return (VSM_NOISE_OK);
}

static int
toks_have(const uint8_t *toks, enum noise_token tok)
{
	for (; *toks != NOISE_TOK_END; toks++) {
		if (*toks == tok)
			return (1);
	}
	return (0);
}

/* Whether this side sends a static key, and whether it must know the peer's
 * before the first message. */
static void
hs_needs(const struct noise_pattern *pat, int initiator, size_t nmsgs,
    int *need_s, int *need_rs)
{
	size_t i;

	*need_s = toks_have(initiator ? pat->pre_i : pat->pre_r, NOISE_TOK_S);
	*need_rs = toks_have(initiator ? pat->pre_r : pat->pre_i, NOISE_TOK_S);
	for (i = initiator ? 0 : 1; i < nmsgs; i += 2)
		*need_s |= toks_have(pat->msgs[i], NOISE_TOK_S);
}

/* MixHash the static keys of one pre-message, in order. */
static void
hs_premsg(struct vsm_noise_hs *hs, const uint8_t *toks, int local)
{
	for (; *toks != NOISE_TOK_END; toks++) {
		if (*toks == NOISE_TOK_S)
			sym_mixhash(&hs->sym, local ? hs->spub : hs->rs,
			    VSM_NOISE_DHLEN);
	}
}

/* Copy the keys of cfg in; EARG when one is missing or not a valid key. */
static enum vsm_noise_rc
hs_keys(struct vsm_noise_hs *hs, const struct vsm_noise_hs_config *cfg)
{
	int need_s, need_rs;

	hs_needs(hs->pat, hs->initiator, hs->nmsgs, &need_s, &need_rs);
	if ((need_s && cfg->s == NULL) || (need_rs && cfg->rs == NULL))
		return (VSM_NOISE_EARG);
	if (cfg->s != NULL) {
		memcpy(hs->s, cfg->s, VSM_NOISE_DHLEN);
		/* A daemon passes its public half: one X25519 saved per hs. */
		if (cfg->spub != NULL)
			memcpy(hs->spub, cfg->spub, VSM_NOISE_DHLEN);
		else if (vsm_noise_pubkey(hs->s, hs->spub) != 0)
			return (VSM_NOISE_EARG);
		hs->has_s = 1;
	}
	if (cfg->rs != NULL) {
		memcpy(hs->rs, cfg->rs, VSM_NOISE_DHLEN);
		hs->has_rs = 1;
	}
	if (cfg->e != NULL) {
		memcpy(hs->e, cfg->e, VSM_NOISE_DHLEN);
		if (vsm_noise_pubkey(hs->e, hs->epub) != 0)
			return (VSM_NOISE_EARG);
		hs->has_e = 1;
	}
	return (VSM_NOISE_OK);
}

/*
 * A pinned rs is checked against a static the peer sends; a mismatch is
 * VSM_NOISE_EDECRYPT, as it would be had rs been a pre-message.
 */
enum vsm_noise_rc
vsm_noise_hs_new(
    struct vsm_noise_hs **hsp, const struct vsm_noise_hs_config *cfg)
{
	enum vsm_noise_rc           rc;
	struct vsm_noise_hs        *hs = NULL;
	const struct noise_pattern *pat;
	const struct noise_hashfn  *hf;

	*hsp = NULL;
	if (cfg == NULL)
		return (VSM_NOISE_EARG);
	if ((rc = noise_protocol_parse(cfg->protocol, &pat, &hf)) !=
	    VSM_NOISE_OK)
		goto out;
	rc = VSM_NOISE_EARG;
	if (cfg->prologue == NULL && cfg->prologue_len > 0)
		goto out;
	noise_sodium_init();
	/* The API has no ENOMEM: a handshake that cannot start is ESTATE. */
	rc = VSM_NOISE_ESTATE;
	if ((hs = calloc(1, sizeof(*hs))) == NULL)
		goto out;
	hs->pat = pat;
	hs->nmsgs = noise_pattern_nmsgs(pat);
	hs->initiator = cfg->initiator != 0;
	if ((rc = hs_keys(hs, cfg)) != VSM_NOISE_OK)
		goto out;

	sym_init(&hs->sym, hf, cfg->protocol);
	sym_mixhash(&hs->sym, cfg->prologue, cfg->prologue_len);
	hs_premsg(hs, pat->pre_i, hs->initiator);
	hs_premsg(hs, pat->pre_r, !hs->initiator);
	*hsp = hs;
	hs = NULL;
out:
	vsm_noise_hs_free(hs);
	return (rc);
}

void
vsm_noise_hs_free(struct vsm_noise_hs *hs)
{
	if (hs == NULL)
		return;
	sodium_memzero(hs, sizeof(*hs));
	free(hs);
}

/* Wipe the secrets the handshake no longer needs once over or failed. */
static void
hs_wipe(struct vsm_noise_hs *hs)
{
	sodium_memzero(hs->sym.ck, sizeof(hs->sym.ck));
	vsm_noise_cipher_wipe(&hs->sym.cs);
	sodium_memzero(hs->s, sizeof(hs->s));
	sodium_memzero(hs->e, sizeof(hs->e));
}

static void
hs_fail(struct vsm_noise_hs *hs)
{
	hs->phase = HS_FAILED;
	hs_wipe(hs);
}

enum vsm_noise_action
vsm_noise_hs_action(const struct vsm_noise_hs *hs)
{
	if (hs->msg >= hs->nmsgs)
		return (VSM_NOISE_SPLIT);
	if ((hs->msg % 2 == 0) == hs->initiator)
		return (VSM_NOISE_WRITE);
	return (VSM_NOISE_READ);
}

/* The length a message with tokens toks needs beyond its payload. */
static size_t
hs_overhead(const struct vsm_noise_hs *hs, const uint8_t *toks)
{
	int    keyed = hs->sym.cs.has_key;
	size_t len = 0;

	for (; *toks != NOISE_TOK_END; toks++) {
		if (*toks == NOISE_TOK_E)
			len += VSM_NOISE_DHLEN;
		else if (*toks == NOISE_TOK_S)
			len += VSM_NOISE_DHLEN + (keyed ? VSM_NOISE_TAGLEN : 0);
		else
			keyed = 1;
	}
	return (len + (keyed ? VSM_NOISE_TAGLEN : 0));
}

/* MixKey(DH(...)) for one of ee, es, se, ss. */
static enum vsm_noise_rc
hs_dh(struct vsm_noise_hs *hs, enum noise_token tok)
{
	enum vsm_noise_rc rc;
	uint8_t           dh[VSM_NOISE_DHLEN];
	const uint8_t    *priv, *pub;
	int               lpriv_e, rpub_e, ok;

	/* es is DH(e, rs) at the initiator, DH(s, re) at the responder. */
	lpriv_e = tok == NOISE_TOK_EE ||
	    tok == (hs->initiator ? NOISE_TOK_ES : NOISE_TOK_SE);
	rpub_e = tok == NOISE_TOK_EE ||
	    tok == (hs->initiator ? NOISE_TOK_SE : NOISE_TOK_ES);
	priv = lpriv_e ? hs->e : hs->s;
	pub = rpub_e ? hs->re : hs->rs;
	ok = (lpriv_e ? hs->has_e : hs->has_s) &&
	    (rpub_e ? hs->has_re : hs->has_rs);
	if (!ok)
		return (VSM_NOISE_ESTATE); /* a bad pattern row */
	if ((rc = noise_dh(dh, priv, pub)) == VSM_NOISE_OK)
		sym_mixkey(&hs->sym, dh, sizeof(dh));
	sodium_memzero(dh, sizeof(dh));
	return (rc);
}

/* Fail unless the handshake runs and the next message is this side's. */
static enum vsm_noise_rc
hs_turn(const struct vsm_noise_hs *hs, enum vsm_noise_action want)
{
	if (hs->phase != HS_RUNNING || vsm_noise_hs_action(hs) != want)
		return (VSM_NOISE_ESTATE);
	return (VSM_NOISE_OK);
}

/* The tokens of a message to write into out (room already checked). */
static enum vsm_noise_rc
hs_write_toks(
    struct vsm_noise_hs *hs, const uint8_t *toks, uint8_t *out, size_t *offp)
{
	enum vsm_noise_rc rc = VSM_NOISE_OK;
	size_t            off = 0;

	for (; *toks != NOISE_TOK_END && rc == VSM_NOISE_OK; toks++) {
		switch (*toks) {
		case NOISE_TOK_E:
			if (!hs->has_e) {
				vsm_noise_keypair(hs->e, hs->epub);
				hs->has_e = 1;
			}
			memcpy(out + off, hs->epub, VSM_NOISE_DHLEN);
			sym_mixhash(&hs->sym, hs->epub, VSM_NOISE_DHLEN);
			off += VSM_NOISE_DHLEN;
			break;
		case NOISE_TOK_S:
			rc = sym_encrypt_hash(
			    &hs->sym, hs->spub, VSM_NOISE_DHLEN, out + off);
			off += VSM_NOISE_DHLEN +
			    (hs->sym.cs.has_key ? VSM_NOISE_TAGLEN : 0);
			break;
		default:
			rc = hs_dh(hs, *toks);
			break;
		}
	}
	*offp = off;
	return (rc);
}

enum vsm_noise_rc
vsm_noise_hs_write(struct vsm_noise_hs *hs, const uint8_t *payload, size_t plen,
    uint8_t *out, size_t outcap, size_t *outlen)
{
	enum vsm_noise_rc rc;
	const uint8_t    *toks;
	size_t            need, off;

	if (hs == NULL)
		return (VSM_NOISE_EARG);
	if ((rc = hs_turn(hs, VSM_NOISE_WRITE)) != VSM_NOISE_OK)
		goto out;
	rc = VSM_NOISE_ETOOBIG;
	toks = hs->pat->msgs[hs->msg];
	need = hs_overhead(hs, toks);
	if (plen > VSM_NOISE_MAXMSGLEN - need || need + plen > outcap)
		goto out;
	if ((rc = hs_write_toks(hs, toks, out, &off)) != VSM_NOISE_OK)
		goto out;
	if ((rc = sym_encrypt_hash(&hs->sym, payload, plen, out + off)) !=
	    VSM_NOISE_OK)
		goto out;
	*outlen = need + plen;
	hs->msg++;
out:
	if (rc != VSM_NOISE_OK)
		hs_fail(hs);
	return (rc);
}

/* The tokens of a message read from msg (length already checked). */
static enum vsm_noise_rc
hs_read_toks(struct vsm_noise_hs *hs, const uint8_t *toks, const uint8_t *msg,
    size_t *offp)
{
	enum vsm_noise_rc rc = VSM_NOISE_OK;
	uint8_t           rs[VSM_NOISE_DHLEN];
	size_t            off = 0, len;

	for (; *toks != NOISE_TOK_END && rc == VSM_NOISE_OK; toks++) {
		switch (*toks) {
		case NOISE_TOK_E:
			memcpy(hs->re, msg + off, VSM_NOISE_DHLEN);
			hs->has_re = 1;
			sym_mixhash(&hs->sym, hs->re, VSM_NOISE_DHLEN);
			off += VSM_NOISE_DHLEN;
			break;
		case NOISE_TOK_S:
			len = VSM_NOISE_DHLEN +
			    (hs->sym.cs.has_key ? VSM_NOISE_TAGLEN : 0);
			rc = sym_decrypt_hash(&hs->sym, msg + off, len, rs);
			off += len;
			if (rc != VSM_NOISE_OK)
				break;
			/* A pinned key must be the one received. */
			if (hs->has_rs &&
			    sodium_memcmp(rs, hs->rs, VSM_NOISE_DHLEN) != 0) {
				rc = VSM_NOISE_EDECRYPT;
				break;
			}
			memcpy(hs->rs, rs, VSM_NOISE_DHLEN);
			hs->has_rs = 1;
			break;
		default:
			rc = hs_dh(hs, *toks);
			break;
		}
	}
	*offp = off;
	return (rc);
}

/* payload must not overlap msg (libsodium decrypts in place only exactly). */
enum vsm_noise_rc
vsm_noise_hs_read(struct vsm_noise_hs *hs, const uint8_t *msg, size_t mlen,
    uint8_t *payload, size_t pcap, size_t *plen)
{
	enum vsm_noise_rc rc;
	const uint8_t    *toks;
	size_t            need, off;

	if (hs == NULL)
		return (VSM_NOISE_EARG);
	if ((rc = hs_turn(hs, VSM_NOISE_READ)) != VSM_NOISE_OK)
		goto out;
	toks = hs->pat->msgs[hs->msg];
	need = hs_overhead(hs, toks);
	rc = VSM_NOISE_ESHORT;
	if (mlen < need)
		goto out;
	rc = VSM_NOISE_ETOOBIG;
	if (mlen > VSM_NOISE_MAXMSGLEN || mlen - need > pcap)
		goto out;
	if ((rc = hs_read_toks(hs, toks, msg, &off)) != VSM_NOISE_OK)
		goto out;
	if ((rc = sym_decrypt_hash(&hs->sym, msg + off, mlen - off, payload)) !=
	    VSM_NOISE_OK)
		goto out;
	*plen = mlen - need;
	hs->msg++;
out:
	if (rc != VSM_NOISE_OK)
		hs_fail(hs);
	return (rc);
}

/*
 * Split() of the spec. The chaining key is wiped; the state then only
 * answers vsm_noise_hs_hash() and vsm_noise_hs_remote_static().
 */
enum vsm_noise_rc
vsm_noise_hs_split(struct vsm_noise_hs *hs, struct vsm_noise_cipher *send,
    struct vsm_noise_cipher *recv)
{
	uint8_t k1[VSM_NOISE_MAXHASHLEN], k2[VSM_NOISE_MAXHASHLEN];

	if (hs == NULL || send == NULL || recv == NULL)
		return (VSM_NOISE_EARG);
	if (hs->phase != HS_RUNNING || hs->msg < hs->nmsgs) {
		hs_fail(hs);
		return (VSM_NOISE_ESTATE);
	}
	noise_hkdf(hs->sym.hf, hs->sym.ck, NULL, 0, k1, k2, NULL);
	noise_cipher_init(send, hs->initiator ? k1 : k2);
	noise_cipher_init(recv, hs->initiator ? k2 : k1);
	/* A one-way pattern only ever sends from initiator to responder. */
	if (hs->nmsgs == 1)
		vsm_noise_cipher_wipe(hs->initiator ? recv : send);
	sodium_memzero(k1, sizeof(k1));
	sodium_memzero(k2, sizeof(k2));
	hs_wipe(hs);
	hs->phase = HS_SPLIT;
	return (VSM_NOISE_OK);
}

const uint8_t *
vsm_noise_hs_hash(const struct vsm_noise_hs *hs, size_t *len)
{
	if (len != NULL)
		*len = hs->sym.hf->hashlen;
	return (hs->sym.h);
}

const uint8_t *
vsm_noise_hs_remote_static(const struct vsm_noise_hs *hs)
{
	return (hs->has_rs ? hs->rs : NULL);
}
