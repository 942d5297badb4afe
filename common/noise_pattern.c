/*
 * noise_pattern.c: every non-PSK handshake pattern of the Noise spec
 * (revision 34) as data, and the parser of protocol names.
 */
#include <string.h>

#include "noise.h"
#include "noise_int.h"

#define E  NOISE_TOK_E
#define S  NOISE_TOK_S
#define EE NOISE_TOK_EE
#define ES NOISE_TOK_ES
#define SE NOISE_TOK_SE
#define SS NOISE_TOK_SS

#define NOISE_PREFIX    "Noise_"
#define NOISE_DH_CIPHER "_25519_ChaChaPoly_"
#define NOISE_MAXNAME   255

/*
 * One row per pattern: name, initiator pre-message, responder pre-message,
 * then the messages (the first from the initiator, then alternating).
 */
static const struct noise_pattern patterns[] = {
    /* One-way (section 7.4). */
    {"N", {0}, {S}, {{E, ES}}},
    {"K", {S}, {S}, {{E, ES, SS}}},
    {"X", {0}, {S}, {{E, ES, S, SS}}},

    /* Fundamental interactive (section 7.5). */
    {"NN", {0}, {0}, {{E}, {E, EE}}},
    {"NK", {0}, {S}, {{E, ES}, {E, EE}}},
    {"NX", {0}, {0}, {{E}, {E, EE, S, ES}}},
    {"KN", {S}, {0}, {{E}, {E, EE, SE}}},
    {"KK", {S}, {S}, {{E, ES, SS}, {E, EE, SE}}},
    {"KX", {S}, {0}, {{E}, {E, EE, SE, S, ES}}},
    {"XN", {0}, {0}, {{E}, {E, EE}, {S, SE}}},
    {"XK", {0}, {S}, {{E, ES}, {E, EE}, {S, SE}}},
    {"XX", {0}, {0}, {{E}, {E, EE, S, ES}, {S, SE}}},
    {"IN", {0}, {0}, {{E, S}, {E, EE, SE}}},
    {"IK", {0}, {S}, {{E, ES, S, SS}, {E, EE, SE}}},
    {"IX", {0}, {0}, {{E, S}, {E, EE, SE, S, ES}}},

    /* Deferred (section 18). */
    {"NK1", {0}, {S}, {{E}, {E, EE, ES}}},
    {"NX1", {0}, {0}, {{E}, {E, EE, S}, {ES}}},
    {"X1N", {0}, {0}, {{E}, {E, EE}, {S}, {SE}}},
    {"X1K", {0}, {S}, {{E, ES}, {E, EE}, {S}, {SE}}},
    {"XK1", {0}, {S}, {{E}, {E, EE, ES}, {S, SE}}},
    {"X1K1", {0}, {S}, {{E}, {E, EE, ES}, {S}, {SE}}},
    {"X1X", {0}, {0}, {{E}, {E, EE, S, ES}, {S}, {SE}}},
    {"XX1", {0}, {0}, {{E}, {E, EE, S}, {ES, S, SE}}},
    {"X1X1", {0}, {0}, {{E}, {E, EE, S}, {ES, S}, {SE}}},
    {"K1N", {S}, {0}, {{E}, {E, EE}, {SE}}},
    {"K1K", {S}, {S}, {{E, ES}, {E, EE}, {SE}}},
    {"KK1", {S}, {S}, {{E}, {E, EE, SE, ES}}},
    {"K1K1", {S}, {S}, {{E}, {E, EE, ES}, {SE}}},
    {"K1X", {S}, {0}, {{E}, {E, EE, S, ES}, {SE}}},
    {"KX1", {S}, {0}, {{E}, {E, EE, SE, S}, {ES}}},
    {"K1X1", {S}, {0}, {{E}, {E, EE, S}, {SE, ES}}},
    {"I1N", {0}, {0}, {{E, S}, {E, EE}, {SE}}},
    {"I1K", {0}, {S}, {{E, ES, S}, {E, EE}, {SE}}},
    {"IK1", {0}, {S}, {{E, S}, {E, EE, SE, ES}}},
    {"I1K1", {0}, {S}, {{E, S}, {E, EE, ES}, {SE}}},
    {"I1X", {0}, {0}, {{E, S}, {E, EE, S, ES}, {SE}}},
    {"IX1", {0}, {0}, {{E, S}, {E, EE, SE, S}, {ES}}},
    {"I1X1", {0}, {0}, {{E, S}, {E, EE, S}, {SE, ES}}},
};

/* The pattern named name[0..len), or NULL. */
const struct noise_pattern *
noise_pattern_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
		if (strlen(patterns[i].name) == len &&
		    memcmp(patterns[i].name, name, len) == 0)
			return (&patterns[i]);
	}
	return (NULL);
}

/* How many messages the handshake of p has. */
size_t
noise_pattern_nmsgs(const struct noise_pattern *p)
{
	size_t n;

	for (n = 0; n < NOISE_MAXMSGS; n++) {
		if (p->msgs[n][0] == NOISE_TOK_END)
			break;
	}
	return (n);
}

/*
 * Parse "Noise_<pattern>_25519_ChaChaPoly_<SHA256|BLAKE2b>" into its pattern
 * and hash. Anything else (other DH or cipher, a modifier such as psk0, a
 * NULL name) is VSM_NOISE_EPROTO.
 */
enum vsm_noise_rc
noise_protocol_parse(const char *proto, const struct noise_pattern **patp,
    const struct noise_hashfn **hfp)
{
	const char *pat, *rest;
	size_t      len, patlen;

	*patp = NULL;
	*hfp = NULL;
	if (proto == NULL)
		return (VSM_NOISE_EPROTO);
	len = strnlen(proto, NOISE_MAXNAME + 1);
	if (len > NOISE_MAXNAME ||
	    strncmp(proto, NOISE_PREFIX, strlen(NOISE_PREFIX)) != 0)
		return (VSM_NOISE_EPROTO);
	pat = proto + strlen(NOISE_PREFIX);
	if ((rest = strchr(pat, '_')) == NULL)
		return (VSM_NOISE_EPROTO);
	patlen = (size_t)(rest - pat);
	if (strncmp(rest, NOISE_DH_CIPHER, strlen(NOISE_DH_CIPHER)) != 0)
		return (VSM_NOISE_EPROTO);
	rest += strlen(NOISE_DH_CIPHER);
	*patp = noise_pattern_find(pat, patlen);
	*hfp = noise_hashfn_find(rest, strlen(rest));
	if (*patp == NULL || *hfp == NULL) {
		*patp = NULL;
		*hfp = NULL;
		return (VSM_NOISE_EPROTO);
	}
	return (VSM_NOISE_OK);
}
