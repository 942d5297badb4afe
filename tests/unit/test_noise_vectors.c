/*
 * test_noise_vectors.c: replay the cacophony Noise test vectors (argv[1])
 * through an initiator and a responder, checking every ciphertext byte for
 * byte, every decrypted payload and the handshake hash on both sides.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "noise.h"

#define NVECTORS 76
#define MAXBUF   (VSM_NOISE_MAXMSGLEN + 1)

struct side {
	struct vsm_noise_hs    *hs;
	struct vsm_noise_cipher send, recv;
	uint8_t                 s[VSM_NOISE_DHLEN], rs[VSM_NOISE_DHLEN];
	uint8_t                 e[VSM_NOISE_DHLEN];
	uint8_t                *prologue;
	size_t                  prologue_len;
};

struct vec {
	const char *name;
	json_t     *v;
	struct side init, resp;
	uint8_t     buf[MAXBUF], out[MAXBUF];
	uint8_t    *pt, *ct;
	size_t      ptlen, ctlen;
};

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/* Decode the hex string field `key` of o into a new buffer; NULL if absent
 * or malformed (*ok cleared when malformed). */
static uint8_t *
hexfield(json_t *o, const char *key, size_t *lenp, int *ok)
{
	const char *hex;
	uint8_t    *buf;
	size_t      i, len;
	int         hi, lo;

	*lenp = 0;
	if ((hex = json_string_value(json_object_get(o, key))) == NULL)
		return (NULL);
	len = strlen(hex);
	if (len % 2 != 0 || (buf = malloc(len / 2 + 1)) == NULL) {
		*ok = 0;
		return (NULL);
	}
	for (i = 0; i < len / 2; i++) {
		hi = hexval(hex[2 * i]);
		lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			free(buf);
			*ok = 0;
			return (NULL);
		}
		buf[i] = (uint8_t)(hi << 4 | lo);
	}
	*lenp = len / 2;
	return (buf);
}

/* A 32-byte key field into key; returns key, NULL if absent. */
static const uint8_t *
keyfield(json_t *o, const char *key, uint8_t out[VSM_NOISE_DHLEN], int *ok)
{
	uint8_t *buf;
	size_t   len;

	if ((buf = hexfield(o, key, &len, ok)) == NULL)
		return (NULL);
	if (len != VSM_NOISE_DHLEN)
		*ok = 0;
	else
		memcpy(out, buf, len);
	free(buf);
	return (len == VSM_NOISE_DHLEN ? out : NULL);
}

static int
fail(const struct vec *vec, const char *what, size_t i)
{
	printf("FAIL %s: %s (message %zu)\n", vec->name, what, i);
	return (-1);
}

static int
side_new(struct vec *vec, struct side *sd, int initiator)
{
	struct vsm_noise_hs_config cfg;
	const char                *p = initiator ? "init_" : "resp_";
	char                       key[64];
	int                        ok = 1;
	enum vsm_noise_rc          rc;

	memset(&cfg, 0, sizeof(cfg));
	cfg.protocol = vec->name;
	cfg.initiator = initiator;
	snprintf(key, sizeof(key), "%sprologue", p);
	sd->prologue = hexfield(vec->v, key, &sd->prologue_len, &ok);
	cfg.prologue = sd->prologue;
	cfg.prologue_len = sd->prologue_len;
	snprintf(key, sizeof(key), "%sstatic", p);
	cfg.s = keyfield(vec->v, key, sd->s, &ok);
	snprintf(key, sizeof(key), "%sremote_static", p);
	cfg.rs = keyfield(vec->v, key, sd->rs, &ok);
	snprintf(key, sizeof(key), "%sephemeral", p);
	cfg.e = keyfield(vec->v, key, sd->e, &ok);
	if (!ok)
		return (fail(vec, "malformed key or prologue", 0));
	if ((rc = vsm_noise_hs_new(&sd->hs, &cfg)) != VSM_NOISE_OK) {
		printf("FAIL %s: %s handshake: %s\n", vec->name, p,
		    vsm_noise_strerror(rc));
		return (-1);
	}
	return (0);
}

static void
side_free(struct side *sd)
{
	vsm_noise_hs_free(sd->hs);
	vsm_noise_cipher_wipe(&sd->send);
	vsm_noise_cipher_wipe(&sd->recv);
	free(sd->prologue);
}

/* Load message i's payload and ciphertext into vec->pt and vec->ct. */
static int
load_msg(struct vec *vec, json_t *m, size_t i)
{
	int ok = 1;

	free(vec->pt);
	free(vec->ct);
	vec->pt = hexfield(m, "payload", &vec->ptlen, &ok);
	vec->ct = hexfield(m, "ciphertext", &vec->ctlen, &ok);
	if (!ok || vec->ct == NULL)
		return (fail(vec, "malformed message", i));
	return (0);
}

/* Does out[0..len) hold exactly the bytes of want[0..wantlen)? */
static int
same(const uint8_t *out, size_t len, const uint8_t *want, size_t wantlen)
{
	return (len == wantlen && (len == 0 || memcmp(out, want, len) == 0));
}

static int
hs_step(struct vec *vec, struct side *from, struct side *to, size_t i)
{
	size_t len;

	if (vsm_noise_hs_action(from->hs) != VSM_NOISE_WRITE ||
	    vsm_noise_hs_action(to->hs) != VSM_NOISE_READ)
		return (fail(vec, "wrong turn", i));
	if (vsm_noise_hs_write(from->hs, vec->pt, vec->ptlen, vec->buf,
	        sizeof(vec->buf), &len) != VSM_NOISE_OK)
		return (fail(vec, "write failed", i));
	if (!same(vec->buf, len, vec->ct, vec->ctlen))
		return (fail(vec, "handshake ciphertext differs", i));
	if (vsm_noise_hs_read(to->hs, vec->buf, len, vec->out, sizeof(vec->out),
	        &len) != VSM_NOISE_OK)
		return (fail(vec, "read failed", i));
	if (!same(vec->out, len, vec->pt, vec->ptlen))
		return (fail(vec, "handshake payload differs", i));
	return (0);
}

static int
transport_step(struct vec *vec, struct side *from, struct side *to, size_t i)
{
	if (vsm_noise_cipher_encrypt(&from->send, NULL, 0, vec->pt, vec->ptlen,
	        vec->buf) != VSM_NOISE_OK)
		return (fail(vec, "encrypt failed", i));
	if (!same(vec->buf, vec->ptlen + VSM_NOISE_TAGLEN, vec->ct, vec->ctlen))
		return (fail(vec, "transport ciphertext differs", i));
	if (vsm_noise_cipher_decrypt(&to->recv, NULL, 0, vec->buf, vec->ctlen,
	        vec->out) != VSM_NOISE_OK)
		return (fail(vec, "decrypt failed", i));
	if (!same(vec->out, vec->ctlen - VSM_NOISE_TAGLEN, vec->pt, vec->ptlen))
		return (fail(vec, "transport payload differs", i));
	return (0);
}

static int
check_hash(struct vec *vec, size_t nhs)
{
	const uint8_t *hi, *hr;
	uint8_t       *want;
	size_t         li, lr, wlen;
	int            ok = 1, ret;

	hi = vsm_noise_hs_hash(vec->init.hs, &li);
	hr = vsm_noise_hs_hash(vec->resp.hs, &lr);
	want = hexfield(vec->v, "handshake_hash", &wlen, &ok);
	ret = 0;
	if (want == NULL || !same(hi, li, want, wlen) ||
	    !same(hr, lr, want, wlen))
		ret = fail(vec, "handshake hash differs", nhs);
	free(want);
	return (ret);
}

/* Both sides are done after message i: split, then compare the hashes. */
static int
finish(struct vec *vec, size_t i)
{
	struct side *sd[2] = {&vec->init, &vec->resp};
	size_t       j;

	for (j = 0; j < 2; j++) {
		if (vsm_noise_hs_action(sd[j]->hs) != VSM_NOISE_SPLIT)
			return (fail(vec, "handshake not over", i));
		if (vsm_noise_hs_split(sd[j]->hs, &sd[j]->send, &sd[j]->recv) !=
		    VSM_NOISE_OK)
			return (fail(vec, "split failed", i));
	}
	return (check_hash(vec, i));
}

/*
 * Handshake messages alternate from the initiator; transport messages go
 * on alternating, except that a one-way pattern (one handshake message)
 * only ever sends from the initiator.
 */
static int
run_messages(struct vec *vec, json_t *msgs)
{
	struct side *from, *to;
	size_t       i, nhs = 0;

	for (i = 0; i < json_array_size(msgs); i++) {
		if (load_msg(vec, json_array_get(msgs, i), i) == -1)
			return (-1);
		from = i % 2 == 0 || nhs == 1 ? &vec->init : &vec->resp;
		to = from == &vec->init ? &vec->resp : &vec->init;
		if (nhs > 0) {
			if (transport_step(vec, from, to, i) == -1)
				return (-1);
			continue;
		}
		if (hs_step(vec, from, to, i) == -1)
			return (-1);
		if (vsm_noise_hs_action(vec->init.hs) == VSM_NOISE_SPLIT) {
			nhs = i + 1;
			if (finish(vec, i) == -1)
				return (-1);
		}
	}
	if (nhs == 0)
		return (fail(vec, "handshake never completed", i));
	return (0);
}

static int
run_vector(json_t *v)
{
	struct vec *vec;
	int         ret = -1;

	if ((vec = calloc(1, sizeof(*vec))) == NULL)
		return (-1);
	vec->v = v;
	vec->name = json_string_value(json_object_get(v, "protocol_name"));
	if (vec->name == NULL) {
		printf("FAIL vector without protocol_name\n");
		goto out;
	}
	if (side_new(vec, &vec->init, 1) == -1 ||
	    side_new(vec, &vec->resp, 0) == -1)
		goto out;
	ret = run_messages(vec, json_object_get(v, "messages"));
out:
	side_free(&vec->init);
	side_free(&vec->resp);
	free(vec->pt);
	free(vec->ct);
	free(vec);
	return (ret);
}

int
main(int argc, char *argv[])
{
	json_t      *root, *vectors;
	json_error_t jerr;
	size_t       i, n, passed = 0, failed = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s vectors.json\n", argv[0]);
		return (2);
	}
	if ((root = json_load_file(argv[1], 0, &jerr)) == NULL) {
		fprintf(stderr, "%s: cannot read %s: %s (line %d)\n", argv[0],
		    argv[1], jerr.text, jerr.line);
		return (2);
	}
	vectors = json_object_get(root, "vectors");
	n = json_array_size(vectors);
	for (i = 0; i < n; i++) {
		if (run_vector(json_array_get(vectors, i)) == 0)
			passed++;
		else
			failed++;
	}
	json_decref(root);
	printf("noise vectors: %zu passed, %zu failed\n", passed, failed);
	if (n != NVECTORS) {
		fprintf(stderr, "%s: %zu vectors in %s, expected %d\n", argv[0],
		    n, argv[1], NVECTORS);
		return (1);
	}
	return (failed == 0 ? 0 : 1);
}
