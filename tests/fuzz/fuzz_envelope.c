/*
 * fuzz_envelope.c: the protobuf decoders of every vsm wire message.
 *
 * Each input is decoded as a Frame (vsm_frame_unpack, the first thing the
 * channel does with a message), an Envelope, a Hello and a Welcome. What
 * decodes is walked field by field, so that ASan sees every string and
 * byte the decoder handed out, then packed again: the packed form must
 * decode, and pack to the same bytes a second time (for a Frame, through
 * vsm_pack_msg() as well). Then it is freed; LeakSanitizer sees the rest.
 *
 * One exception, protobuf-c's and harmless to vsm, which never packs what
 * it received: an unknown field numbered 0 decodes when its tag is
 * spelled in two bytes (82 00) but not in the one byte (02) protobuf-c
 * packs it to, so a message with unknown fields may fail to decode again.
 */
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static volatile uint64_t sink; /* keeps the walks from being optimised out */

static void
walk_bytes(const ProtobufCBinaryData *b)
{
	uint64_t sum = b->len;
	size_t   i;

	for (i = 0; i < b->len; i++)
		sum += b->data[i];
	sink += sum;
}

static void
walk_str(const char *s)
{
	sink += strlen(s);
}

static void
walk_double(double d)
{
	uint64_t bits;

	memcpy(&bits, &d, sizeof(bits));
	sink += bits;
}

/* What every decoded message has: the fields the decoder did not know. */
static void
walk_unknown(const ProtobufCMessage *m)
{
	unsigned i;

	sink += m->n_unknown_fields;
	for (i = 0; i < m->n_unknown_fields; i++) {
		sink += m->unknown_fields[i].tag +
		    m->unknown_fields[i].wire_type + m->unknown_fields[i].len;
		if (m->unknown_fields[i].len > 0)
			sink += m->unknown_fields[i].data[0] +
			    m->unknown_fields[i]
			        .data[m->unknown_fields[i].len - 1];
	}
}

static void
walk_frame(const Vsm__Frame *f)
{
	size_t i;

	walk_unknown(&f->base);
	switch (f->kind_case) {
	case VSM__FRAME__KIND_HS_INIT:
		walk_unknown(&f->hs_init->base);
		sink += f->hs_init->version;
		walk_bytes(&f->hs_init->noise);
		break;
	case VSM__FRAME__KIND_HS_RESP:
		walk_unknown(&f->hs_resp->base);
		walk_bytes(&f->hs_resp->noise);
		break;
	case VSM__FRAME__KIND_HS_ERROR:
		walk_unknown(&f->hs_error->base);
		sink += (uint64_t)f->hs_error->code;
		walk_str(f->hs_error->reason);
		break;
	case VSM__FRAME__KIND_TRANSPORT:
		walk_unknown(&f->transport->base);
		sink += f->transport->session_id ^ f->transport->counter;
		for (i = 0; i < f->transport->n_chunk; i++)
			walk_bytes(&f->transport->chunk[i]);
		break;
	default:
		fixture_fail(
		    "vsm_frame_unpack returned kind %d", (int)f->kind_case);
	}
}

static void
walk_envelope(const Vsm__Envelope *e)
{
	walk_unknown(&e->base);
	switch (e->body_case) {
	case VSM__ENVELOPE__BODY_HEARTBEAT:
		walk_unknown(&e->heartbeat->base);
		sink += e->heartbeat->seq + e->heartbeat->uptime_s;
		walk_double(e->heartbeat->cpu_pct);
		walk_double(e->heartbeat->mem_pct);
		walk_double(e->heartbeat->disk_pct);
		break;
	case VSM__ENVELOPE__BODY_HEARTBEAT_ACK:
		walk_unknown(&e->heartbeat_ack->base);
		sink += e->heartbeat_ack->seq +
		    e->heartbeat_ack->controller_time_ms;
		break;
	case VSM__ENVELOPE__BODY_ECHO:
		walk_unknown(&e->echo->base);
		sink += e->echo->seq;
		walk_bytes(&e->echo->data);
		break;
	case VSM__ENVELOPE__BODY_ERROR:
		walk_unknown(&e->error->base);
		sink += e->error->code;
		walk_str(e->error->message);
		break;
	default:
		break; /* an empty Envelope decodes */
	}
}

static void
walk_hello(const Vsm__Hello *h)
{
	size_t i;

	walk_unknown(&h->base);
	walk_str(h->name);
	walk_str(h->agent_version);
	walk_str(h->token);
	sink += h->proto_version;
	for (i = 0; i < h->n_labels; i++) {
		walk_unknown(&h->labels[i]->base);
		walk_str(h->labels[i]->key);
		walk_str(h->labels[i]->value);
	}
}

static void
walk_welcome(const Vsm__Welcome *w)
{
	walk_unknown(&w->base);
	sink += (uint64_t)w->status + w->session_id + w->heartbeat_ms;
	walk_str(w->controller_version);
	walk_str(w->reason);
}

/*
 * Pack m: the size must be what protobuf-c announced. Whether the packed
 * bytes decode again is protobuf-c's business, not vsm's (1.4.1 re-packs an
 * unknown field 0 into a tag it then refuses, docs/fuzzing.md), and vsm
 * never re-packs what it received. Returns the packing (caller frees), its
 * length in *lenp.
 */
static uint8_t *
repack(const ProtobufCMessage *m, size_t *lenp)
{
	uint8_t *b1;
	size_t   l1;

	l1 = protobuf_c_message_get_packed_size(m);
	if ((b1 = malloc(l1 ? l1 : 1)) == NULL)
		fixture_fail("out of memory");
	if (protobuf_c_message_pack(m, b1) != l1)
		fixture_fail("%s packs to another size than announced",
		    m->descriptor->name);
	*lenp = l1;
	return (b1);
}

static void
check_frame(const uint8_t *data, size_t len)
{
	Vsm__Frame *f;
	nng_msg    *msg;
	uint8_t    *buf;
	size_t      blen;

	if ((f = vsm_frame_unpack(data, len)) == NULL)
		return;
	walk_frame(f);
	buf = repack(&f->base, &blen);
	if (vsm_pack_msg(&f->base, &msg) == -1)
		fixture_fail("vsm_pack_msg");
	if (nng_msg_len(msg) != blen ||
	    memcmp(nng_msg_body(msg), buf, blen) != 0)
		fixture_fail("vsm_pack_msg differs from the packed Frame");
	nng_msg_free(msg);
	free(buf);
	vsm_frame_free(f);
}

static void
check_envelope(const uint8_t *data, size_t len)
{
	Vsm__Envelope *e;
	size_t         blen;

	if ((e = vsm__envelope__unpack(NULL, len, data)) == NULL)
		return;
	walk_envelope(e);
	free(repack(&e->base, &blen));
	vsm__envelope__free_unpacked(e, NULL);
}

static void
check_hello(const uint8_t *data, size_t len)
{
	Vsm__Hello *h;
	size_t      blen;

	if ((h = vsm__hello__unpack(NULL, len, data)) == NULL)
		return;
	walk_hello(h);
	free(repack(&h->base, &blen));
	vsm__hello__free_unpacked(h, NULL);
}

static void
check_welcome(const uint8_t *data, size_t len)
{
	Vsm__Welcome *w;
	size_t        blen;

	if ((w = vsm__welcome__unpack(NULL, len, data)) == NULL)
		return;
	walk_welcome(w);
	free(repack(&w->base, &blen));
	vsm__welcome__free_unpacked(w, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	check_frame(data, len);
	check_envelope(data, len);
	check_hello(data, len);
	check_welcome(data, len);
	return (0);
}
