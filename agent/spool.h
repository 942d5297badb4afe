/*
 * spool.h: the agent's durable event spool (docs/spool.md).
 *
 * Every task event is written to disk and fsync'd before it is sent, and is
 * dropped only when the controller acks it. Each stored event gets the next
 * 64-bit sequence number of this agent; the sender walks the unacked events
 * in seq order with spool_iter_next() and acks them cumulatively
 * (spool_ack) or one by one (spool_ack_one). A restart keeps every unacked
 * event and sequence numbers continue.
 *
 * The spool is bounded. When it is full, low-priority events (log lines,
 * progress) are refused and counted per task; a high-priority event (a final
 * result) gets in by evicting the oldest low-priority events. What was
 * refused or evicted is stored as a SPOOL_KIND_DROPPED summary record that
 * is sent like any event, so nothing is lost silently.
 *
 * All functions are thread-safe; spool_append() and the ack functions block
 * until what they wrote is durable (appends from several threads share one
 * fsync).
 */
#ifndef VSM_AGENT_SPOOL_H
#define VSM_AGENT_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct spool;

enum spool_prio {
	SPOOL_PRIO_LOW = 0,  /* log lines, progress: refused when full */
	SPOOL_PRIO_HIGH = 1, /* final results: evict low-priority ones */
};

enum spool_kind {
	SPOOL_KIND_EVENT = 1,   /* the caller's opaque bytes */
	SPOOL_KIND_DROPPED = 2, /* a summary made by the spool (below) */
};

/* Why events were dropped: bits of spool_dropped.reasons. */
#define SPOOL_DROP_REFUSED 0x1u /* low priority, spool full */
#define SPOOL_DROP_EVICTED 0x2u /* evicted to make room for a result */
#define SPOOL_DROP_CORRUPT 0x4u /* lost to on-disk corruption */

/* Zero fields take the defaults shown. */
struct spool_limits {
	uint64_t max_bytes;    /* stored bytes of unacked records: 64 MiB */
	uint64_t max_records;  /* unacked records: 50000 */
	uint32_t segment_size; /* bytes per segment file: 4 MiB */
	uint32_t max_record;   /* largest event payload: 1 MiB */
	int      skip_corrupt; /* open: skip corruption in the middle of the
	                        * log (and report the loss) instead of
	                        * refusing to open */
};

/* The payload of a SPOOL_KIND_DROPPED record, decoded. */
struct spool_dropped {
	uint64_t task_id; /* 0: not known (corruption) */
	uint64_t count;   /* events dropped */
	uint64_t bytes;   /* their payload bytes */
	uint32_t reasons; /* SPOOL_DROP_* bits */
};

/* One record handed out by spool_iter_next(); data is owned by the rec. */
struct spool_rec {
	uint64_t        seq;
	uint64_t        task_id;
	enum spool_kind kind;
	enum spool_prio prio;
	uint8_t        *data;
	size_t          len;
};

struct spool_iter {
	struct spool *sp;
	uint64_t      next; /* the next seq to look at */
};

struct spool_stats {
	uint64_t records;         /* unacked records held */
	uint64_t bytes;           /* their stored size */
	uint64_t disk_bytes;      /* size of all segment files */
	uint64_t segments;        /* segment files */
	uint64_t next_seq;        /* seq of the next record */
	uint64_t acked_upto;      /* cumulative ack mark */
	uint64_t dropped_refused; /* events refused since open */
	uint64_t dropped_evicted; /* events evicted since open */
	uint64_t dropped_bytes;   /* their payload bytes */
	uint64_t dropped_pending; /* dropped events whose summary is not yet
	                           * stored (no room yet) */
	uint64_t summaries;       /* summary records written since open */
	uint64_t torn_bytes;      /* torn tail discarded at open */
	uint64_t corrupt_bytes;   /* corrupt data skipped at open */
	uint64_t corrupt_records; /* records known lost to corruption */
	uint64_t syncs;           /* fsyncs of appended data */
	uint64_t appends;         /* records appended since open */
};

/*
 * Open (creating if needed) the spool in dir with the given limits (NULL:
 * defaults). Repairs a torn tail of the last segment (logged, counted in
 * torn_bytes); refuses corruption elsewhere unless limits->skip_corrupt.
 * Only one spool may have dir open at a time. Returns 0 and *spp, or -1
 * with err set.
 */
int spool_open(const char *dir, const struct spool_limits *, struct spool **spp,
    struct vsm_err *err);

/*
 * Store one event durably. Returns 0 once the record is on disk (with its
 * seq in *seq), 1 when a low-priority event was refused because the spool
 * is full (it is counted for its task and reported in a summary record), or
 * -1 with err set (too large, no room even after evicting every
 * low-priority event, disk full, I/O error): nothing was stored then, and
 * the spool stays usable unless an fsync failed (then every call fails
 * until the spool is closed and opened again).
 */
int spool_append(struct spool *sp, enum spool_prio prio, uint64_t task_id,
    const void *data, size_t len, uint64_t *seq, struct vsm_err *err);

/* Start walking unacked, durable records with seq >= from. */
void spool_iter_init(struct spool_iter *it, struct spool *sp, uint64_t from);

/*
 * The next unacked record at or after it->next: returns 1 and fills rec
 * (free it with spool_rec_free), 0 at the end, -1 on a read error. Records
 * appended, acked or evicted meanwhile are seen or skipped as they are at
 * the time of the call.
 */
int spool_iter_next(
    struct spool_iter *it, struct spool_rec *rec, struct vsm_err *err);
void spool_rec_free(struct spool_rec *rec);

/* Decode a SPOOL_KIND_DROPPED record. Returns 0 or -1 if malformed. */
int spool_dropped_decode(const struct spool_rec *rec, struct spool_dropped *d);

/*
 * Remove every record with seq <= upto (spool_ack) or the record seq
 * (spool_ack_one), durably, and delete segment files left with nothing
 * unacked. Acking what is not held is a no-op. Returns 0 or -1 with err.
 */
int spool_ack(struct spool *sp, uint64_t upto, struct vsm_err *err);
int spool_ack_one(struct spool *sp, uint64_t seq, struct vsm_err *err);

void spool_stats(struct spool *sp, struct spool_stats *st);

/* Store pending drop summaries if there is room, sync, and free. NULL: no-op.
 */
void spool_close(struct spool *sp);

/*
 * The segment file layer (spool_segment.c), used only by spool.c.
 *
 * A segment starts with a SPOOL_SEG_HDR-byte header and holds records of a
 * SPOOL_REC_HDR-byte header and a payload, each checked by CRC32C.
 */
#define SPOOL_SEG_HDR 32
#define SPOOL_REC_HDR 32

enum spool_rtype {
	SPOOL_R_EVENT = 1,   /* seq, task, prio, payload: the caller's bytes */
	SPOOL_R_DROPPED = 2, /* seq, task: a struct spool_dropped, encoded */
	SPOOL_R_ACK = 3,     /* seq: cumulative ack mark */
	SPOOL_R_REMOVE = 4,  /* payload: seqs acked one by one or evicted */
	SPOOL_R_PAD = 5,     /* a corrupt record skipped at open */
};

struct spool_rhdr {
	uint32_t len; /* payload bytes */
	uint8_t  type;
	uint8_t  prio;
	uint64_t seq;
	uint64_t task_id;
};

uint32_t spool_crc32c(uint32_t crc, const void *buf, size_t len);
void     spool_seg_hdr_encode(uint8_t *buf, uint64_t base);
int      spool_seg_hdr_decode(const uint8_t *buf, uint64_t *base);
/* Encode a record into buf (SPOOL_REC_HDR + h->len bytes). */
void spool_rec_encode(
    uint8_t *buf, const struct spool_rhdr *h, const void *payload);
/*
 * Check the record at buf, avail bytes long, whose payload may be at most
 * maxlen. Returns its total size and fills h, 0 if it is cut short by the
 * end of avail, or -1 if it is corrupt.
 */
long spool_rec_decode(
    const uint8_t *buf, size_t avail, uint32_t maxlen, struct spool_rhdr *h);
/* Rewrite the record header at buf (total bytes) as a valid PAD record. */
void     spool_rec_pad(uint8_t *buf, size_t total);
void     spool_put64(uint8_t *p, uint64_t v);
uint64_t spool_get64(const uint8_t *p);
void     spool_put32(uint8_t *p, uint32_t v);
uint32_t spool_get32(const uint8_t *p);

#endif /* VSM_AGENT_SPOOL_H */
