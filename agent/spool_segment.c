/*
 * spool_segment.c: the byte layout of spool segment files (docs/spool.md):
 * CRC32C, the segment header and the record framing. No I/O here.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "spool.h"

#define SEG_MAGIC   "VSMSPOOL"
#define SEG_VERSION 1
#define REC_MAGIC   0x31525356u /* "VSR1" little-endian */

static uint32_t       crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void
crc_init(void)
{
	uint32_t c;
	int      i, k;

	/* CRC-32C (Castagnoli), reflected polynomial 0x82f63b78. */
	for (i = 0; i < 256; i++) {
		c = (uint32_t)i;
		for (k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_table[i] = c;
	}
}

/* Continue a CRC32C: start with crc 0. */
uint32_t
spool_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	pthread_once(&crc_once, crc_init);
	crc = ~crc;
	while (len-- > 0)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return (~crc);
}

void
spool_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

uint32_t
spool_get32(const uint8_t *p)
{
	return ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24);
}

void
spool_put64(uint8_t *p, uint64_t v)
{
	spool_put32(p, (uint32_t)v);
	spool_put32(p + 4, (uint32_t)(v >> 32));
}

uint64_t
spool_get64(const uint8_t *p)
{
	return ((uint64_t)spool_get32(p) | (uint64_t)spool_get32(p + 4) << 32);
}

void
spool_seg_hdr_encode(uint8_t *buf, uint64_t base)
{
	memset(buf, 0, SPOOL_SEG_HDR);
	memcpy(buf, SEG_MAGIC, 8);
	spool_put32(buf + 8, SEG_VERSION);
	spool_put32(buf + 12, SPOOL_SEG_HDR);
	spool_put64(buf + 16, base);
	spool_put32(buf + 28, spool_crc32c(0, buf, 28));
}

/* Returns 0 with *base, or -1 if the header is not a valid one. */
int
spool_seg_hdr_decode(const uint8_t *buf, uint64_t *base)
{
	if (memcmp(buf, SEG_MAGIC, 8) != 0 ||
	    spool_get32(buf + 8) != SEG_VERSION ||
	    spool_get32(buf + 12) != SPOOL_SEG_HDR ||
	    spool_get32(buf + 28) != spool_crc32c(0, buf, 28))
		return (-1);
	*base = spool_get64(buf + 16);
	return (0);
}

/*
 * Record header: crc32c(4) len(4) type(1) prio(1) zero(2) magic(4) seq(8)
 * task_id(8), then len payload bytes. The CRC covers everything after it.
 */
void
spool_rec_encode(uint8_t *buf, const struct spool_rhdr *h, const void *payload)
{
	spool_put32(buf + 4, h->len);
	buf[8] = h->type;
	buf[9] = h->prio;
	buf[10] = buf[11] = 0;
	spool_put32(buf + 12, REC_MAGIC);
	spool_put64(buf + 16, h->seq);
	spool_put64(buf + 24, h->task_id);
	if (h->len > 0)
		memcpy(buf + SPOOL_REC_HDR, payload, h->len);
	spool_put32(buf, spool_crc32c(0, buf + 4, SPOOL_REC_HDR - 4 + h->len));
}

long
spool_rec_decode(
    const uint8_t *buf, size_t avail, uint32_t maxlen, struct spool_rhdr *h)
{
	uint32_t len;

	if (avail < SPOOL_REC_HDR)
		return (0);
	len = spool_get32(buf + 4);
	if (spool_get32(buf + 12) != REC_MAGIC || len > maxlen ||
	    buf[8] < SPOOL_R_EVENT || buf[8] > SPOOL_R_PAD || buf[10] != 0 ||
	    buf[11] != 0)
		return (-1);
	if (avail - SPOOL_REC_HDR < len)
		return (0);
	if (spool_get32(buf) !=
	    spool_crc32c(0, buf + 4, SPOOL_REC_HDR - 4 + len))
		return (-1);
	h->len = len;
	h->type = buf[8];
	h->prio = buf[9];
	h->seq = spool_get64(buf + 16);
	h->task_id = spool_get64(buf + 24);
	return ((long)(SPOOL_REC_HDR + len));
}

void
spool_rec_pad(uint8_t *buf, size_t total)
{
	struct spool_rhdr h = {
	    .len = (uint32_t)(total - SPOOL_REC_HDR), .type = SPOOL_R_PAD};

	spool_put32(buf + 4, h.len);
	buf[8] = h.type;
	buf[9] = 0;
	buf[10] = buf[11] = 0;
	spool_put32(buf + 12, REC_MAGIC);
	spool_put64(buf + 16, 0);
	spool_put64(buf + 24, 0);
	spool_put32(buf, spool_crc32c(0, buf + 4, total - 4));
}
