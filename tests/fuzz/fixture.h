/*
 * fixture.h: what the fuzz targets and make_corpus share: fixed static and
 * ephemeral keys, the IK handshake of the channel run with them, and the
 * mode numbers that the first byte of an input selects.
 *
 * Everything is deterministic, so a seed written by make_corpus (a valid
 * message 1, a Transport sealed under the fixed session keys) is valid for
 * the targets too, and every crash reproduces from its file alone.
 *
 * A fixture that cannot be built is a broken test, not a finding: the
 * fixture_* calls print why and abort().
 */
#ifndef VSM_FUZZ_FIXTURE_H
#define VSM_FUZZ_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "session.h"

#define FIXTURE_SID  UINT64_C(0x76736d2d66757a7a) /* "vsm-fuzz" */
#define FIXTURE_PIPE 7
/* Handshake payload room, as handle_handshake() in chan_server.c. */
#define FIXTURE_PCAP 4096
/* Plaintext cap given to vsm_session_open(). */
#define FIXTURE_MAXLEN (256u << 10)

/* fuzz_handshake: the first byte of an input, modulo HS_MODE_MAX. */
enum hs_mode {
	HS_MODE_MSG1 = 0,  /* rest is message 1, to a responder */
	HS_MODE_MSG2,      /* rest is message 2, to an initiator */
	HS_MODE_MSG1_FLIP, /* rest is xored over a valid message 1 */
	HS_MODE_MSG2_FLIP, /* rest is xored over a valid message 2 */
	HS_MODE_HELLO,     /* rest is the payload of message 1 */
	HS_MODE_WELCOME,   /* rest is the payload of message 2 */
	HS_MODE_MAX
};

/* fuzz_transport: the low bits of the first byte, modulo TR_MODE_MAX. */
enum tr_mode {
	TR_MODE_RAW = 0, /* rest is a packed Transport */
	TR_MODE_FLIP,    /* a sealed Frame, mutated */
	TR_MODE_SEQ,     /* seal and open a sequence of counters */
	TR_MODE_MAX
};
/* Bit 7 of the first byte: the controller sends to the agent. */
#define TR_REVERSE 0x80

/* Keys and libsodium; call once before anything else here. */
void fixture_init(void);

/* A new IK handshake state with the fixed keys of that side. */
struct vsm_noise_hs *fixture_hs_new(int initiator);

/*
 * The Hello an agent sends and the Welcome a controller answers, packed
 * into buf[0..cap). Returns the length.
 */
size_t fixture_hello(uint8_t *buf, size_t cap);
size_t fixture_welcome(uint8_t *buf, size_t cap);

/*
 * Message 1 carrying pl[0..plen) into out[0..cap). Returns the initiator
 * that wrote it (caller frees), or NULL when the handshake refuses the
 * payload (too big); *outlen is then 0.
 */
struct vsm_noise_hs *fixture_msg1(
    const uint8_t *pl, size_t plen, uint8_t *out, size_t cap, size_t *outlen);

/*
 * A responder that has read the valid message m1 and written message 2
 * carrying pl[0..plen) into out[0..cap). Returns it (caller frees), or
 * NULL when the payload is refused.
 */
struct vsm_noise_hs *fixture_msg2(const uint8_t *m1, size_t m1len,
    const uint8_t *pl, size_t plen, uint8_t *out, size_t cap, size_t *outlen);

/*
 * The two ends of an established session (id FIXTURE_SID, pipe
 * FIXTURE_PIPE): the agent is the initiator, the controller the
 * responder. Each holds one reference for the caller.
 */
void fixture_pair(struct vsm_session **agent, struct vsm_session **ctl);

/* Print why and abort: a broken fixture or a violated invariant. */
void fixture_fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif /* VSM_FUZZ_FIXTURE_H */
