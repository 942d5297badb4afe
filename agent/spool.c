/*
 * spool.c: the agent's durable event spool (spool.h, docs/spool.md).
 *
 * The log is a directory of segment files named by the first seq they may
 * hold. Records are appended to the last (active) segment under sp->mtx and
 * made durable by group commit: the first waiter becomes the leader,
 * fdatasync()s without the lock and wakes everyone its sync covered.
 * An in-memory index (sp->ents, ordered by seq) says where each unacked
 * record lives; removed records are flagged, trimmed from the front and
 * compacted away when they pile up.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"

#define DEF_MAX_BYTES    (64ull << 20)
#define DEF_MAX_RECORDS  50000
#define DEF_SEGMENT_SIZE (4u << 20)
#define DEF_MAX_RECORD   (1u << 20)
#define ABS_MAX_RECORD   (16u << 20)  /* no limit may exceed this */
#define MAX_SEG_FILE     (256u << 20) /* a segment larger is refused */
#define PEND_MAX         64           /* tasks with pending drop summaries */
#define REMOVE_CHUNK     4096         /* seqs per REMOVE record */
#define SUM_LEN          24           /* payload of a DROPPED record */
#define SUM_REC          (SPOOL_REC_HDR + SUM_LEN)
#define SEG_NAME_LEN     21 /* 16 hex digits + ".seg" + NUL */

struct spool_seg {
	uint64_t base; /* first seq it may hold; names the file */
	int      fd;
	uint64_t size; /* bytes in the file */
	uint64_t live; /* unacked records in it */
};

struct spool_ent {
	uint64_t          seq;
	uint64_t          task_id;
	struct spool_seg *seg;
	uint32_t          off; /* of the record header in seg */
	uint32_t          len; /* payload bytes */
	uint8_t           kind;
	uint8_t           prio;
	uint8_t           gone; /* acked or evicted */
	uint8_t           mark; /* scratch: chosen for eviction */
};

struct spool_pend {
	uint64_t task_id;
	uint64_t count;
	uint64_t bytes;
	uint32_t reasons;
	int      force; /* scratch: must be stored in this batch */
};

struct spool_pendtab {
	struct spool_pend e[PEND_MAX];
	size_t            n;
};

/* A batch of records written with one pwrite; capped by its builder. */
struct spool_batch {
	uint8_t *buf;
	size_t   len;
	size_t   cap;
	uint64_t seq; /* next seq to hand out */
};

struct spool {
	pthread_mutex_t     mtx;
	pthread_cond_t      cv;
	char               *dir;
	int                 dirfd;
	int                 lockfd;
	struct spool_limits lim;
	uint64_t            rsv_bytes;   /* kept free of low-priority */
	uint64_t            rsv_records; /* events, for summaries */

	struct spool_seg **segs; /* by base; the last one is active */
	size_t             nsegs;
	struct spool_ent  *ents;
	size_t             nents;
	size_t             entcap;
	size_t             ngone; /* flagged entries in ents */
	uint64_t           live_records;
	uint64_t           live_bytes;

	uint64_t next_seq;
	uint64_t acked_upto;
	uint64_t wticket; /* writes done */
	uint64_t sticket; /* writes known durable */
	uint64_t written_seq;
	uint64_t durable_seq;
	int      syncing;
	int      broken; /* errno of a failed fsync, or 0 */
	int      ready;  /* opened: close may write */

	struct spool_pendtab pend;
	struct spool_stats   st;
};

static void
spool_seg_name(char *buf, uint64_t base)
{
	snprintf(buf, SEG_NAME_LEN, "%016" PRIx64 ".seg", base);
}

static struct spool_seg *
spool_active(struct spool *sp)
{
	return (sp->segs[sp->nsegs - 1]);
}

/* write(2) all of buf at off; -1 with errno on error or a short write. */
static int
spool_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	const uint8_t *p = buf;
	ssize_t        n;

	while (len > 0) {
		if ((n = pwrite(fd, p, len, off)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		if (n == 0) {
			errno = ENOSPC;
			return (-1);
		}
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return (0);
}

static int
spool_pread(int fd, void *buf, size_t len, off_t off)
{
	uint8_t *p = buf;
	ssize_t  n;

	while (len > 0) {
		if ((n = pread(fd, p, len, off)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		if (n == 0) {
			errno = EIO;
			return (-1);
		}
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return (0);
}

static const char *
spool_errstr(int e)
{
	if (e == ENOSPC || e == EDQUOT)
		return ("disk full");
	return (strerror(e));
}

/* First index in ents with seq >= seq (nents if none). */
static size_t
spool_find(struct spool *sp, uint64_t seq)
{
	size_t lo = 0, hi = sp->nents, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (sp->ents[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (lo);
}

/* Flag one entry removed and release what it holds. */
static void
spool_ent_remove(struct spool *sp, struct spool_ent *e)
{
	if (e->gone)
		return;
	e->gone = 1;
	sp->ngone++;
	sp->live_records--;
	sp->live_bytes -= SPOOL_REC_HDR + (uint64_t)e->len;
	e->seg->live--;
}

/*
 * Drop flagged entries from the front of the index, compact it when more
 * than half of it is flagged, and delete the oldest segment files while they
 * hold nothing unacked (never the active one). Only a prefix of segments is
 * deleted, so a REMOVE or ACK record never outlives what it refers to.
 */
static void
spool_gc(struct spool *sp)
{
	size_t            i, j, ndel = 0;
	struct spool_seg *sg;
	char              name[SEG_NAME_LEN];

	for (i = 0; i < sp->nents && sp->ents[i].gone; i++)
		;
	if (i > 0) {
		memmove(sp->ents, sp->ents + i,
		    (sp->nents - i) * sizeof(*sp->ents));
		sp->nents -= i;
		sp->ngone -= i;
	}
	if (sp->ngone > 64 && sp->ngone > sp->nents / 2) {
		for (i = j = 0; i < sp->nents; i++)
			if (!sp->ents[i].gone)
				sp->ents[j++] = sp->ents[i];
		sp->nents = j;
		sp->ngone = 0;
	}
	/* A sync leader may be using an old segment's fd: retry later. */
	while (!sp->syncing && sp->nsegs > 1 && sp->segs[0]->live == 0) {
		sg = sp->segs[0];
		spool_seg_name(name, sg->base);
		if (unlinkat(sp->dirfd, name, 0) == -1 && errno != ENOENT) {
			log_warn("spool %s: unlink %s", sp->dir, name);
			break;
		}
		close(sg->fd);
		free(sg);
		memmove(sp->segs, sp->segs + 1,
		    (sp->nsegs - 1) * sizeof(*sp->segs));
		sp->nsegs--;
		ndel++;
	}
	if (ndel > 0 && fsync(sp->dirfd) == -1)
		log_warn("spool %s: fsync", sp->dir);
}

/* Make room for n more index entries (the count is capped by the caps). */
static int
spool_ents_reserve(struct spool *sp, size_t n, struct vsm_err *err)
{
	struct spool_ent *ne;
	size_t            cap;

	if (sp->nents + n <= sp->entcap)
		return (0);
	cap = sp->entcap ? sp->entcap : 256;
	while (cap < sp->nents + n)
		cap *= 2;
	if ((ne = reallocarray(sp->ents, cap, sizeof(*ne))) == NULL)
		return (vsm_err_set(err, "spool %s: out of memory", sp->dir));
	sp->ents = ne;
	sp->entcap = cap;
	return (0);
}

static int
spool_ent_push(struct spool *sp, const struct spool_rhdr *h,
    struct spool_seg *sg, uint64_t off, struct vsm_err *err)
{
	struct spool_ent *e;

	if (spool_ents_reserve(sp, 1, err) == -1)
		return (-1);
	e = &sp->ents[sp->nents++];
	memset(e, 0, sizeof(*e));
	e->seq = h->seq;
	e->task_id = h->task_id;
	e->seg = sg;
	e->off = (uint32_t)off;
	e->len = h->len;
	e->kind =
	    h->type == SPOOL_R_EVENT ? SPOOL_KIND_EVENT : SPOOL_KIND_DROPPED;
	e->prio = h->prio;
	sg->live++;
	sp->live_records++;
	sp->live_bytes += SPOOL_REC_HDR + (uint64_t)h->len;
	return (0);
}

/* Add a dropped event to a table; a full table folds into task 0. */
static struct spool_pend *
spool_pend_add(struct spool_pendtab *t, uint64_t task_id, uint64_t count,
    uint64_t bytes, uint32_t reason)
{
	struct spool_pend *p = NULL;
	size_t             i;

	for (i = 0; i < t->n; i++)
		if (t->e[i].task_id == task_id)
			p = &t->e[i];
	if (p == NULL && t->n >= PEND_MAX - 1) {
		for (i = 0; i < t->n; i++)
			if (t->e[i].task_id == 0)
				p = &t->e[i];
	}
	if (p == NULL) {
		p = &t->e[t->n++];
		memset(p, 0, sizeof(*p));
		p->task_id = t->n == PEND_MAX ? 0 : task_id;
	}
	p->count += count;
	p->bytes += bytes;
	p->reasons |= reason;
	return (p);
}

static int
spool_batch_add(
    struct spool_batch *b, const struct spool_rhdr *h, const void *payload)
{
	size_t   need = SPOOL_REC_HDR + (size_t)h->len, cap;
	uint8_t *nb;

	if (b->len + need > b->cap) {
		cap = b->cap ? b->cap : 4096;
		while (cap < b->len + need)
			cap *= 2;
		if ((nb = realloc(b->buf, cap)) == NULL)
			return (-1);
		b->buf = nb;
		b->cap = cap;
	}
	spool_rec_encode(b->buf + b->len, h, payload);
	b->len += need;
	return (0);
}

static int
spool_batch_summary(struct spool_batch *b, const struct spool_pend *p)
{
	struct spool_rhdr h = {.len = SUM_LEN,
	    .type = SPOOL_R_DROPPED,
	    .prio = SPOOL_PRIO_HIGH,
	    .task_id = p->task_id};
	uint8_t           pl[SUM_LEN];

	spool_put32(pl, 1);
	spool_put32(pl + 4, p->reasons);
	spool_put64(pl + 8, p->count);
	spool_put64(pl + 16, p->bytes);
	h.seq = b->seq++;
	return (spool_batch_add(b, &h, pl));
}

static int
spool_batch_remove(struct spool_batch *b, const uint64_t *seqs, size_t n)
{
	struct spool_rhdr h = {.type = SPOOL_R_REMOVE};
	uint8_t           pl[REMOVE_CHUNK * 8];
	size_t            i, k;

	for (i = 0; i < n; i += k) {
		for (k = 0; k < REMOVE_CHUNK && i + k < n; k++)
			spool_put64(pl + 8 * k, seqs[i + k]);
		h.len = (uint32_t)(8 * k);
		if (spool_batch_add(b, &h, pl) == -1)
			return (-1);
	}
	return (0);
}

/*
 * Create segment file base and make it the active one. The old active
 * segment is synced first, so everything before the new file is durable.
 * On error nothing changes (a partial file is removed).
 */
static int
spool_seg_create(struct spool *sp, uint64_t base, struct vsm_err *err)
{
	struct spool_seg *sg = NULL, **ns;
	uint8_t           hdr[SPOOL_SEG_HDR];
	char              name[SEG_NAME_LEN];
	int               fd = -1, e;

	if (sp->nsegs > 0) {
		if (fdatasync(spool_active(sp)->fd) == -1) {
			sp->broken = errno;
			log_warn("spool %s: fsync", sp->dir);
			pthread_cond_broadcast(&sp->cv);
			return (vsm_err_set(err, "spool %s: fsync: %s", sp->dir,
			    spool_errstr(sp->broken)));
		}
		sp->sticket = sp->wticket;
		sp->durable_seq = sp->written_seq;
		pthread_cond_broadcast(&sp->cv);
	}
	spool_seg_name(name, base);
	spool_seg_hdr_encode(hdr, base);
	if ((ns = reallocarray(sp->segs, sp->nsegs + 1, sizeof(*ns))) == NULL) {
		vsm_err_set(err, "spool %s: out of memory", sp->dir);
		goto fail;
	}
	sp->segs = ns;
	if ((sg = calloc(1, sizeof(*sg))) == NULL) {
		vsm_err_set(err, "spool %s: out of memory", sp->dir);
		goto fail;
	}
	if ((fd = openat(sp->dirfd, name,
	         O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) == -1 ||
	    spool_pwrite(fd, hdr, sizeof(hdr), 0) == -1 ||
	    fdatasync(fd) == -1 || fsync(sp->dirfd) == -1) {
		e = errno;
		vsm_err_set(err, "spool %s: create segment %s: %s", sp->dir,
		    name, spool_errstr(e));
		if (fd != -1) {
			close(fd);
			unlinkat(sp->dirfd, name, 0);
		}
		errno = e;
		goto fail;
	}
	sg->base = base;
	sg->fd = fd;
	sg->size = SPOOL_SEG_HDR;
	sp->segs[sp->nsegs++] = sg;
	return (0);
fail:
	free(sg);
	return (-1);
}

/*
 * Wait, with sp->mtx held, until write ticket is durable; the first waiter
 * syncs for everyone. Returns 0, or -1 with err if an fsync failed (the
 * spool is broken from then on: the page cache can no longer be trusted).
 */
static int
spool_sync(struct spool *sp, uint64_t ticket, struct vsm_err *err)
{
	uint64_t target, tseq;
	int      fd, r, e;

	while (sp->sticket < ticket) {
		if (sp->broken)
			return (vsm_err_set(err,
			    "spool %s: fsync failed (%s); close and reopen it",
			    sp->dir, spool_errstr(sp->broken)));
		if (sp->syncing) {
			pthread_cond_wait(&sp->cv, &sp->mtx);
			continue;
		}
		sp->syncing = 1;
		target = sp->wticket;
		tseq = sp->written_seq;
		fd = spool_active(sp)->fd;
		pthread_mutex_unlock(&sp->mtx);
		r = fdatasync(fd);
		e = errno;
		pthread_mutex_lock(&sp->mtx);
		sp->syncing = 0;
		if (r == -1) {
			sp->broken = e;
			errno = e;
			log_warn("spool %s: fsync", sp->dir);
		} else {
			sp->st.syncs++;
			if (target > sp->sticket)
				sp->sticket = target;
			if (tseq > sp->durable_seq)
				sp->durable_seq = tseq;
		}
		pthread_cond_broadcast(&sp->cv);
	}
	return (0);
}

/*
 * Append batch b (its records numbered from sp->next_seq) to the active
 * segment, rotating first if it would overflow. On a write error the file
 * is cut back to where it was, so a partial record never stays. Returns the
 * offset where b starts, or -1 with err.
 */
static int64_t
spool_write(struct spool *sp, const struct spool_batch *b, struct vsm_err *err)
{
	struct spool_seg *sg = spool_active(sp);
	uint64_t          off;
	int               e;

	if (sg->size > SPOOL_SEG_HDR &&
	    sg->size + b->len > sp->lim.segment_size) {
		if (spool_seg_create(sp, sp->next_seq, err) == -1)
			return (-1);
		sg = spool_active(sp);
	}
	off = sg->size;
	if (spool_pwrite(sg->fd, b->buf, b->len, (off_t)off) == -1) {
		e = errno;
		if (ftruncate(sg->fd, (off_t)off) == -1) {
			sp->broken = errno;
			log_warn(
			    "spool %s: truncate after a failed write", sp->dir);
		}
		vsm_err_set(
		    err, "spool %s: write: %s", sp->dir, spool_errstr(e));
		errno = e;
		return (-1);
	}
	sg->size += b->len;
	sp->wticket++;
	return ((int64_t)off);
}

/* Index the records of a batch just written at off of the active segment. */
static void
spool_index_batch(struct spool *sp, const struct spool_batch *b, uint64_t off)
{
	struct spool_seg *sg = spool_active(sp);
	struct spool_rhdr h;
	size_t            pos = 0;
	long              n;

	while (pos < b->len) {
		n = spool_rec_decode(
		    b->buf + pos, b->len - pos, ABS_MAX_RECORD, &h);
		if (n <= 0)
			break; /* cannot happen: we encoded it */
		if (h.type == SPOOL_R_EVENT || h.type == SPOOL_R_DROPPED) {
			/* Room was reserved by the caller: cannot fail. */
			(void)spool_ent_push(sp, &h, sg, off + pos, NULL);
			sp->written_seq = h.seq;
			sp->st.appends++;
			if (h.type == SPOOL_R_DROPPED)
				sp->st.summaries++;
		}
		pos += (size_t)n;
	}
}

static int
spool_fits(struct spool *sp, uint64_t bytes, uint64_t recs, int low)
{
	uint64_t mb = sp->lim.max_bytes, mr = sp->lim.max_records;

	if (low) {
		mb -= sp->rsv_bytes;
		mr -= sp->rsv_records;
	}
	return (bytes <= mb && recs <= mr);
}

/*
 * Store the pending drop summaries that fit under the caps (all of them if
 * force) and wait until they are durable. Called with sp->mtx held.
 */
static int
spool_flush_pend(struct spool *sp, int force, struct vsm_err *err)
{
	struct spool_batch   b = {.seq = sp->next_seq};
	struct spool_pendtab keep = {.n = 0};
	uint64_t             vb = sp->live_bytes, vr = sp->live_records;
	int64_t              off;
	size_t               i, nsum = 0;
	int                  ret = -1;

	if (sp->broken)
		return (vsm_err_set(err, "spool %s: fsync failed (%s)", sp->dir,
		    spool_errstr(sp->broken)));
	if (sp->pend.n == 0)
		return (0);
	for (i = 0; i < sp->pend.n; i++) {
		if (force || spool_fits(sp, vb + SUM_REC, vr + 1, 0)) {
			if (spool_batch_summary(&b, &sp->pend.e[i]) == -1) {
				vsm_err_set(err, "spool: out of memory");
				goto out;
			}
			vb += SUM_REC;
			vr++;
			nsum++;
		} else
			keep.e[keep.n++] = sp->pend.e[i];
	}
	if (nsum == 0) {
		ret = 0;
		goto out;
	}
	if (spool_ents_reserve(sp, nsum, err) == -1 ||
	    (off = spool_write(sp, &b, err)) == -1)
		goto out;
	spool_index_batch(sp, &b, (uint64_t)off);
	sp->next_seq = b.seq;
	sp->pend = keep;
	ret = spool_sync(sp, sp->wticket, err);
out:
	free(b.buf);
	return (ret);
}

/*
 * Plan and write one append: for a high-priority event, evict the oldest
 * low-priority events until the event and the summaries that must precede
 * it fit. Nothing changes in memory unless the write succeeded.
 */
int
spool_append(struct spool *sp, enum spool_prio prio, uint64_t task_id,
    const void *data, size_t len, uint64_t *seq, struct vsm_err *err)
{
	struct spool_batch   b = {0};
	struct spool_pendtab pt;
	struct spool_pend   *p;
	struct spool_rhdr    h;
	struct spool_ent    *e;
	uint64_t             need = SPOOL_REC_HDR + (uint64_t)len, vb, vr;
	uint64_t            *ev = NULL, nforce, ticket;
	size_t               nev = 0, evcap = 0, cur = 0, i, nsum = 0;
	uint64_t            *nv;
	int64_t              off;
	int                  ret = -1;

	pthread_mutex_lock(&sp->mtx);
	if (sp->broken) {
		vsm_err_set(err,
		    "spool %s: fsync failed (%s); close and "
		    "reopen it",
		    sp->dir, spool_errstr(sp->broken));
		goto out;
	}
	if (len > sp->lim.max_record) {
		vsm_err_set(err,
		    "spool %s: event of %zu bytes exceeds the "
		    "limit of %" PRIu32,
		    sp->dir, len, sp->lim.max_record);
		goto out;
	}
	vb = sp->live_bytes;
	vr = sp->live_records;
	pt = sp->pend;
	for (i = 0; i < pt.n; i++)
		pt.e[i].force = 0;

	if (prio == SPOOL_PRIO_LOW) {
		if (!spool_fits(sp, vb + need, vr + 1, 1)) {
			spool_pend_add(
			    &sp->pend, task_id, 1, len, SPOOL_DROP_REFUSED);
			sp->st.dropped_refused++;
			sp->st.dropped_bytes += len;
			vsm_err_set(err,
			    "spool %s: full; low-priority event of task "
			    "%" PRIu64 " dropped (counted and reported)",
			    sp->dir, task_id);
			ret = 1;
			goto out;
		}
	} else {
		/* This task's summary goes before its result. */
		for (i = 0; i < pt.n; i++)
			if (pt.e[i].task_id == task_id)
				pt.e[i].force = 1;
		for (;;) {
			for (i = 0, nforce = 0; i < pt.n; i++)
				nforce += pt.e[i].force;
			if (spool_fits(sp, vb + need + nforce * SUM_REC,
			        vr + 1 + nforce, 0))
				break;
			while (cur < sp->nents &&
			    (sp->ents[cur].gone ||
			        sp->ents[cur].prio != SPOOL_PRIO_LOW ||
			        sp->ents[cur].kind != SPOOL_KIND_EVENT))
				cur++;
			if (cur == sp->nents) {
				vsm_err_set(err,
				    "spool %s: full (%" PRIu64
				    " records, %" PRIu64
				    " bytes unacked) and no low-priority event "
				    "left to evict; result not stored",
				    sp->dir, sp->live_records, sp->live_bytes);
				goto out;
			}
			e = &sp->ents[cur++];
			if (nev == evcap) {
				evcap = evcap ? evcap * 2 : 64;
				if ((nv = reallocarray(
				         ev, evcap, sizeof(*ev))) == NULL) {
					vsm_err_set(
					    err, "spool: out of memory");
					goto out;
				}
				ev = nv;
			}
			ev[nev++] = e->seq;
			p = spool_pend_add(
			    &pt, e->task_id, 1, e->len, SPOOL_DROP_EVICTED);
			p->force = 1;
			vb -= SPOOL_REC_HDR + (uint64_t)e->len;
			vr--;
		}
	}
	vb += need;
	vr++;

	/* The batch: tombstones, summaries, then the event. */
	b.seq = sp->next_seq;
	if (spool_batch_remove(&b, ev, nev) == -1)
		goto nomem;
	for (i = 0; i < pt.n;) {
		if (!pt.e[i].force &&
		    !spool_fits(sp, vb + SUM_REC, vr + 1, 0)) {
			i++;
			continue;
		}
		vb += SUM_REC;
		vr++;
		if (spool_batch_summary(&b, &pt.e[i]) == -1)
			goto nomem;
		nsum++;
		pt.e[i] = pt.e[--pt.n];
	}
	h = (struct spool_rhdr){.len = (uint32_t)len,
	    .type = SPOOL_R_EVENT,
	    .prio = (uint8_t)prio,
	    .seq = b.seq++,
	    .task_id = task_id};
	if (spool_batch_add(&b, &h, data) == -1)
		goto nomem;
	if (spool_ents_reserve(sp, nsum + 1, err) == -1)
		goto out;
	if ((off = spool_write(sp, &b, err)) == -1)
		goto out;

	/* Written: apply the plan. */
	for (i = 0; i < nev; i++) {
		cur = spool_find(sp, ev[i]);
		spool_ent_remove(sp, &sp->ents[cur]);
		sp->st.dropped_evicted++;
		sp->st.dropped_bytes += sp->ents[cur].len;
	}
	spool_index_batch(sp, &b, (uint64_t)off);
	sp->next_seq = b.seq;
	sp->pend = pt;
	ticket = sp->wticket;
	if (spool_sync(sp, ticket, err) == -1)
		goto out;
	spool_gc(sp);
	if (seq != NULL)
		*seq = h.seq;
	ret = 0;
	goto out;
nomem:
	vsm_err_set(err, "spool %s: out of memory", sp->dir);
out:
	pthread_mutex_unlock(&sp->mtx);
	free(b.buf);
	free(ev);
	return (ret);
}

void
spool_iter_init(struct spool_iter *it, struct spool *sp, uint64_t from)
{
	it->sp = sp;
	it->next = from;
}

int
spool_iter_next(
    struct spool_iter *it, struct spool_rec *rec, struct vsm_err *err)
{
	struct spool     *sp = it->sp;
	struct spool_ent *e = NULL;
	struct spool_rhdr h;
	uint8_t          *buf = NULL;
	size_t            i, tot;
	int               ret = -1;

	memset(rec, 0, sizeof(*rec));
	pthread_mutex_lock(&sp->mtx);
	for (i = spool_find(sp, it->next); i < sp->nents; i++)
		if (!sp->ents[i].gone) {
			e = &sp->ents[i];
			break;
		}
	if (e == NULL || e->seq > sp->durable_seq) {
		ret = 0;
		goto out;
	}
	tot = SPOOL_REC_HDR + (size_t)e->len;
	if ((buf = malloc(tot)) == NULL) {
		vsm_err_set(err, "spool: out of memory");
		goto out;
	}
	if (spool_pread(e->seg->fd, buf, tot, e->off) == -1) {
		vsm_err_set(err, "spool %s: read seq %" PRIu64 ": %s", sp->dir,
		    e->seq, strerror(errno));
		goto out;
	}
	if (spool_rec_decode(buf, tot, ABS_MAX_RECORD, &h) != (long)tot ||
	    h.seq != e->seq) {
		vsm_err_set(err,
		    "spool %s: record seq %" PRIu64 " is corrupt on disk",
		    sp->dir, e->seq);
		goto out;
	}
	memmove(buf, buf + SPOOL_REC_HDR, e->len);
	rec->seq = e->seq;
	rec->task_id = e->task_id;
	rec->kind = (enum spool_kind)e->kind;
	rec->prio = (enum spool_prio)e->prio;
	rec->data = buf;
	rec->len = e->len;
	buf = NULL;
	it->next = e->seq + 1;
	ret = 1;
out:
	pthread_mutex_unlock(&sp->mtx);
	free(buf);
	return (ret);
}

void
spool_rec_free(struct spool_rec *rec)
{
	if (rec == NULL)
		return;
	free(rec->data);
	rec->data = NULL;
}

int
spool_dropped_decode(const struct spool_rec *rec, struct spool_dropped *d)
{
	if (rec->kind != SPOOL_KIND_DROPPED || rec->len != SUM_LEN ||
	    spool_get32(rec->data) != 1)
		return (-1);
	d->task_id = rec->task_id;
	d->reasons = spool_get32(rec->data + 4);
	d->count = spool_get64(rec->data + 8);
	d->bytes = spool_get64(rec->data + 16);
	return (0);
}

/*
 * Write one ACK or REMOVE record, wait until it is durable, then apply it.
 * upto != 0: cumulative ack; else remove the single record one.
 */
static int
spool_ack_common(
    struct spool *sp, uint64_t upto, uint64_t one, struct vsm_err *err)
{
	struct spool_batch b = {0};
	struct spool_rhdr  h = {.type = SPOOL_R_ACK};
	size_t             i;
	int                ret = -1;

	pthread_mutex_lock(&sp->mtx);
	if (sp->broken) {
		vsm_err_set(err,
		    "spool %s: fsync failed (%s); close and "
		    "reopen it",
		    sp->dir, spool_errstr(sp->broken));
		goto out;
	}
	if (upto > sp->durable_seq)
		upto = sp->durable_seq; /* nothing beyond was ever sent */
	if (upto != 0) {
		if (upto <= sp->acked_upto) {
			ret = 0;
			goto out;
		}
		h.seq = upto;
		if (spool_batch_add(&b, &h, NULL) == -1)
			goto nomem;
	} else {
		i = spool_find(sp, one);
		if (one <= sp->acked_upto || one > sp->durable_seq ||
		    i == sp->nents || sp->ents[i].seq != one ||
		    sp->ents[i].gone) {
			ret = 0;
			goto out;
		}
		if (spool_batch_remove(&b, &one, 1) == -1)
			goto nomem;
	}
	b.seq = sp->next_seq;
	if (spool_write(sp, &b, err) == -1) {
		/*
		 * The controller has what was acked, so it may go even if
		 * the mark could not be stored (a full disk): at worst it is
		 * sent again after a restart. This is how a full disk frees.
		 */
		if (sp->broken || (errno != ENOSPC && errno != EDQUOT))
			goto out;
		log_warnx("spool %s: ack mark not stored (disk full); "
		          "records up to it may be sent again after a restart",
		    sp->dir);
	} else if (spool_sync(sp, sp->wticket, err) == -1)
		goto out;
	if (upto != 0) {
		if (upto > sp->acked_upto)
			sp->acked_upto = upto;
		for (i = 0; i < sp->nents && sp->ents[i].seq <= upto; i++)
			spool_ent_remove(sp, &sp->ents[i]);
	} else {
		i = spool_find(sp, one);
		if (i < sp->nents && sp->ents[i].seq == one)
			spool_ent_remove(sp, &sp->ents[i]);
	}
	spool_gc(sp);
	/* Room was freed: report what was dropped meanwhile. */
	if (spool_flush_pend(sp, 0, err) == -1)
		log_warnx("spool %s: drop summaries: %s", sp->dir,
		    err ? err->msg : "error");
	ret = 0;
	goto out;
nomem:
	vsm_err_set(err, "spool %s: out of memory", sp->dir);
out:
	pthread_mutex_unlock(&sp->mtx);
	free(b.buf);
	return (ret);
}

int
spool_ack(struct spool *sp, uint64_t upto, struct vsm_err *err)
{
	if (upto == 0)
		return (0);
	return (spool_ack_common(sp, upto, 0, err));
}

int
spool_ack_one(struct spool *sp, uint64_t seq, struct vsm_err *err)
{
	if (seq == 0)
		return (0);
	return (spool_ack_common(sp, 0, seq, err));
}

void
spool_stats(struct spool *sp, struct spool_stats *st)
{
	size_t i;

	pthread_mutex_lock(&sp->mtx);
	*st = sp->st;
	st->records = sp->live_records;
	st->bytes = sp->live_bytes;
	st->segments = sp->nsegs;
	st->next_seq = sp->next_seq;
	st->acked_upto = sp->acked_upto;
	st->disk_bytes = 0;
	for (i = 0; i < sp->nsegs; i++)
		st->disk_bytes += sp->segs[i]->size;
	st->dropped_pending = 0;
	for (i = 0; i < sp->pend.n; i++)
		st->dropped_pending += sp->pend.e[i].count;
	pthread_mutex_unlock(&sp->mtx);
}

/* ---- open: scan, repair, index ---- */

static int
spool_seg_cmp(const void *a, const void *b)
{
	const struct spool_seg *x = *(struct spool_seg *const *)a;
	const struct spool_seg *y = *(struct spool_seg *const *)b;

	return (x->base < y->base ? -1 : x->base > y->base);
}

/* Collect the segment files of the directory into sp->segs, sorted. */
static int
spool_list(struct spool *sp, struct vsm_err *err)
{
	DIR               *d = NULL;
	struct dirent     *de;
	struct spool_seg  *sg, **ns;
	char               name[SEG_NAME_LEN];
	unsigned long long base;
	int                fd, ret = -1;

	if ((fd = dup(sp->dirfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		vsm_err_set(err, "spool %s: %s", sp->dir, strerror(errno));
		if (fd != -1)
			close(fd);
		goto out;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (strlen(de->d_name) != SEG_NAME_LEN - 1 ||
		    sscanf(de->d_name, "%16llx", &base) != 1)
			continue;
		spool_seg_name(name, base);
		if (strcmp(name, de->d_name) != 0)
			continue;
		if ((ns = reallocarray(sp->segs, sp->nsegs + 1, sizeof(*ns))) ==
		        NULL ||
		    (sg = calloc(1, sizeof(*sg))) == NULL) {
			if (ns != NULL)
				sp->segs = ns;
			vsm_err_set(err, "spool %s: out of memory", sp->dir);
			goto out;
		}
		sp->segs = ns;
		sg->base = base;
		if ((sg->fd = openat(sp->dirfd, name, O_RDWR | O_CLOEXEC)) ==
		    -1) {
			vsm_err_set(err, "spool %s: open %s: %s", sp->dir, name,
			    strerror(errno));
			free(sg);
			goto out;
		}
		sp->segs[sp->nsegs++] = sg;
	}
	if (sp->nsegs > 1)
		qsort(sp->segs, sp->nsegs, sizeof(*sp->segs), spool_seg_cmp);
	ret = 0;
out:
	if (d != NULL)
		closedir(d);
	return (ret);
}

/* Cut segment sg to len bytes durably. */
static int
spool_truncate(
    struct spool *sp, struct spool_seg *sg, uint64_t len, struct vsm_err *err)
{
	if (ftruncate(sg->fd, (off_t)len) == -1 || fdatasync(sg->fd) == -1)
		return (vsm_err_set(err,
		    "spool %s: truncate segment %016" PRIx64 ": %s", sp->dir,
		    sg->base, strerror(errno)));
	sg->size = len;
	return (0);
}

/* Apply one valid record found at open. */
static int
spool_replay(struct spool *sp, struct spool_seg *sg, const uint8_t *rec,
    const struct spool_rhdr *h, uint64_t off, struct vsm_err *err)
{
	uint32_t i;
	size_t   k;

	switch (h->type) {
	case SPOOL_R_EVENT:
	case SPOOL_R_DROPPED:
		if (spool_ent_push(sp, h, sg, off, err) == -1)
			return (-1);
		sp->next_seq = h->seq + 1;
		break;
	case SPOOL_R_ACK:
		if (h->seq > sp->acked_upto)
			sp->acked_upto = h->seq;
		break;
	case SPOOL_R_REMOVE:
		for (i = 0; i + 8 <= h->len; i += 8) {
			k = spool_find(
			    sp, spool_get64(rec + SPOOL_REC_HDR + i));
			if (k < sp->nents &&
			    sp->ents[k].seq ==
			        spool_get64(rec + SPOOL_REC_HDR + i))
				spool_ent_remove(sp, &sp->ents[k]);
		}
		break;
	default: /* PAD */
		break;
	}
	return (0);
}

/*
 * Scan one segment and index its records. A bad record at the end of the
 * last segment is a torn write: it is cut off and logged. A bad record
 * anywhere else is refused unless skip_corrupt, in which case it is padded
 * over (if the next record is intact) or the rest of the segment is cut,
 * and the loss is counted and queued as a summary for the controller.
 */
static int
spool_scan(struct spool *sp, size_t si, struct vsm_err *err)
{
	struct spool_seg *sg = sp->segs[si];
	int               last = si + 1 == sp->nsegs;
	uint8_t          *buf = NULL;
	struct spool_rhdr h, h2;
	struct stat       st;
	uint64_t          off, lost, next_base;
	uint32_t          l;
	long              n;
	int               next_ok, ret = -1;

	if (fstat(sg->fd, &st) == -1) {
		vsm_err_set(
		    err, "spool %s: stat: %s", sp->dir, strerror(errno));
		goto out;
	}
	if ((uint64_t)st.st_size > MAX_SEG_FILE) {
		vsm_err_set(err,
		    "spool %s: segment %016" PRIx64 " is too large (%jd bytes)",
		    sp->dir, sg->base, (intmax_t)st.st_size);
		goto out;
	}
	sg->size = (uint64_t)st.st_size;
	if ((buf = malloc(sg->size + 1)) == NULL) {
		vsm_err_set(err, "spool %s: out of memory", sp->dir);
		goto out;
	}
	if (spool_pread(sg->fd, buf, sg->size, 0) == -1) {
		vsm_err_set(
		    err, "spool %s: read: %s", sp->dir, strerror(errno));
		goto out;
	}
	if (sg->size < SPOOL_SEG_HDR || spool_seg_hdr_decode(buf, &off) == -1 ||
	    off != sg->base) {
		if (!last && !sp->lim.skip_corrupt) {
			vsm_err_set(err,
			    "spool %s: segment %016" PRIx64
			    " has a bad header; refusing to open (set "
			    "skip_corrupt to skip it)",
			    sp->dir, sg->base);
			goto out;
		}
		/* A torn creation (last) or a skipped segment: start over. */
		if (last)
			log_warnx("spool %s: segment %016" PRIx64
			          " has a torn header; discarded %" PRIu64
			          " bytes",
			    sp->dir, sg->base, sg->size);
		if (last)
			sp->st.torn_bytes += sg->size;
		else {
			sp->st.corrupt_bytes += sg->size;
			lost = sp->segs[si + 1]->base - sg->base;
			sp->st.corrupt_records += lost;
			spool_pend_add(
			    &sp->pend, 0, lost, sg->size, SPOOL_DROP_CORRUPT);
			log_warnx("spool %s: segment %016" PRIx64
			          " has a bad header; skipped %" PRIu64
			          " bytes",
			    sp->dir, sg->base, sg->size);
		}
		spool_seg_hdr_encode(buf, sg->base);
		if (ftruncate(sg->fd, 0) == -1 ||
		    spool_pwrite(sg->fd, buf, SPOOL_SEG_HDR, 0) == -1 ||
		    fdatasync(sg->fd) == -1) {
			vsm_err_set(err, "spool %s: rewrite header: %s",
			    sp->dir, strerror(errno));
			goto out;
		}
		sg->size = SPOOL_SEG_HDR;
		if (sp->next_seq < sg->base)
			sp->next_seq = sg->base;
		ret = 0;
		goto out;
	}
	if (sp->next_seq < sg->base)
		sp->next_seq = sg->base;
	off = SPOOL_SEG_HDR;
	while (off < sg->size) {
		n = spool_rec_decode(
		    buf + off, sg->size - off, ABS_MAX_RECORD, &h);
		if (n > 0 &&
		    ((h.type != SPOOL_R_EVENT && h.type != SPOOL_R_DROPPED) ||
		        (h.seq >= sp->next_seq && h.seq >= sg->base))) {
			if (spool_replay(sp, sg, buf + off, &h, off, err) == -1)
				goto out;
			off += (uint64_t)n;
			continue;
		}
		/* Bad: is it followed by an intact record? */
		next_ok = 0;
		if (sg->size - off >= SPOOL_REC_HDR) {
			l = spool_get32(buf + off + 4);
			if (l <= ABS_MAX_RECORD &&
			    off + SPOOL_REC_HDR + l < sg->size &&
			    spool_rec_decode(buf + off + SPOOL_REC_HDR + l,
			        sg->size - off - SPOOL_REC_HDR - l,
			        ABS_MAX_RECORD, &h2) > 0)
				next_ok = 1;
		}
		if (last && !next_ok) {
			log_warnx("spool %s: torn record at offset %" PRIu64
			          " of segment %016" PRIx64
			          ": discarded %" PRIu64 " bytes",
			    sp->dir, off, sg->base, sg->size - off);
			sp->st.torn_bytes += sg->size - off;
			if (spool_truncate(sp, sg, off, err) == -1)
				goto out;
			break;
		}
		if (!sp->lim.skip_corrupt) {
			vsm_err_set(err,
			    "spool %s: corrupt record at offset %" PRIu64
			    " of segment %016" PRIx64
			    " (not a torn tail); refusing to open (set "
			    "skip_corrupt to skip it and report the loss)",
			    sp->dir, off, sg->base);
			goto out;
		}
		if (next_ok) {
			l = spool_get32(buf + off + 4);
			spool_rec_pad(buf + off, SPOOL_REC_HDR + l);
			if (spool_pwrite(sg->fd, buf + off, SPOOL_REC_HDR,
			        (off_t)off) == -1 ||
			    fdatasync(sg->fd) == -1) {
				vsm_err_set(err, "spool %s: pad: %s", sp->dir,
				    strerror(errno));
				goto out;
			}
			log_warnx("spool %s: skipped a corrupt record of %u "
			          "bytes at offset %" PRIu64
			          " of segment %016" PRIx64,
			    sp->dir, SPOOL_REC_HDR + l, off, sg->base);
			sp->st.corrupt_records++;
			sp->st.corrupt_bytes += SPOOL_REC_HDR + l;
			spool_pend_add(&sp->pend, 0, 1, SPOOL_REC_HDR + l,
			    SPOOL_DROP_CORRUPT);
			off += SPOOL_REC_HDR + l;
			continue;
		}
		/* Lose the rest of this segment. */
		next_base = sp->segs[si + 1]->base;
		lost = next_base > sp->next_seq ? next_base - sp->next_seq : 0;
		log_warnx("spool %s: skipped %" PRIu64
		          " corrupt bytes at offset %" PRIu64
		          " of segment %016" PRIx64 " (about %" PRIu64
		          " records)",
		    sp->dir, sg->size - off, off, sg->base, lost);
		sp->st.corrupt_records += lost;
		sp->st.corrupt_bytes += sg->size - off;
		spool_pend_add(
		    &sp->pend, 0, lost, sg->size - off, SPOOL_DROP_CORRUPT);
		if (spool_truncate(sp, sg, off, err) == -1)
			goto out;
		break;
	}
	/* What a crashed process left in the page cache is made durable. */
	if (fdatasync(sg->fd) == -1) {
		vsm_err_set(
		    err, "spool %s: fsync: %s", sp->dir, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	free(buf);
	return (ret);
}

static int
spool_limits_init(
    struct spool *sp, const struct spool_limits *l, struct vsm_err *err)
{
	struct spool_limits *s = &sp->lim;

	if (l != NULL)
		*s = *l;
	if (s->max_bytes == 0)
		s->max_bytes = DEF_MAX_BYTES;
	if (s->max_records == 0)
		s->max_records = DEF_MAX_RECORDS;
	if (s->segment_size == 0)
		s->segment_size = DEF_SEGMENT_SIZE;
	if (s->max_record == 0)
		s->max_record = DEF_MAX_RECORD;
	sp->rsv_records = s->max_records / 16 ? s->max_records / 16 : 1;
	sp->rsv_bytes =
	    s->max_bytes / 16 > 4 * SUM_REC ? s->max_bytes / 16 : 4 * SUM_REC;
	if (s->max_record > ABS_MAX_RECORD ||
	    s->segment_size > MAX_SEG_FILE / 2 ||
	    s->segment_size < SPOOL_SEG_HDR + SPOOL_REC_HDR + s->max_record ||
	    s->max_records < 2 ||
	    s->max_bytes < sp->rsv_bytes + SPOOL_REC_HDR + s->max_record)
		return (vsm_err_set(err,
		    "spool: bad limits (max_record %" PRIu32
		    " must fit in segment_size %" PRIu32
		    " and max_bytes %" PRIu64
		    " with room to spare; max_records >= 2)",
		    s->max_record, s->segment_size, s->max_bytes));
	return (0);
}

int
spool_open(const char *dir, const struct spool_limits *lim, struct spool **spp,
    struct vsm_err *err)
{
	struct spool *sp;
	size_t        i;
	int           r;

	*spp = NULL;
	if ((sp = calloc(1, sizeof(*sp))) == NULL)
		return (vsm_err_set(err, "spool: out of memory"));
	pthread_mutex_init(&sp->mtx, NULL);
	pthread_cond_init(&sp->cv, NULL);
	sp->dirfd = sp->lockfd = -1;
	sp->next_seq = 1;
	if ((sp->dir = strdup(dir)) == NULL) {
		vsm_err_set(err, "spool: out of memory");
		goto fail;
	}
	if (spool_limits_init(sp, lim, err) == -1)
		goto fail;
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		vsm_err_set(err, "spool %s: mkdir: %s", dir, strerror(errno));
		goto fail;
	}
	if ((sp->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		vsm_err_set(err, "spool %s: %s", dir, strerror(errno));
		goto fail;
	}
	if ((sp->lockfd = openat(sp->dirfd, "lock",
	         O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		vsm_err_set(err, "spool %s: lock: %s", dir, strerror(errno));
		goto fail;
	}
	if (flock(sp->lockfd, LOCK_EX | LOCK_NB) == -1) {
		vsm_err_set(err, "spool %s: %s", dir,
		    errno == EWOULDBLOCK ? "in use by another spool"
		                         : strerror(errno));
		goto fail;
	}
	if (spool_list(sp, err) == -1)
		goto fail;
	for (i = 0; i < sp->nsegs; i++)
		if (spool_scan(sp, i, err) == -1)
			goto fail;
	for (i = 0; i < sp->nents && sp->ents[i].seq <= sp->acked_upto; i++)
		spool_ent_remove(sp, &sp->ents[i]);
	if (sp->acked_upto >= sp->next_seq)
		sp->next_seq = sp->acked_upto + 1;
	if (sp->nsegs == 0 && spool_seg_create(sp, sp->next_seq, err) == -1)
		goto fail;
	sp->written_seq = sp->durable_seq = sp->next_seq - 1;
	spool_gc(sp);
	sp->ready = 1;
	/* Losses found by the scan are reported to the controller. */
	pthread_mutex_lock(&sp->mtx);
	r = spool_flush_pend(sp, 0, err);
	pthread_mutex_unlock(&sp->mtx);
	if (r == -1)
		goto fail;
	log_debug("spool %s: %" PRIu64 " unacked records, next seq %" PRIu64,
	    dir, sp->live_records, sp->next_seq);
	*spp = sp;
	return (0);
fail:
	spool_close(sp);
	return (-1);
}

void
spool_close(struct spool *sp)
{
	struct vsm_err err;
	uint64_t       n = 0;
	size_t         i;

	if (sp == NULL)
		return;
	if (sp->ready) {
		pthread_mutex_lock(&sp->mtx);
		for (i = 0; i < sp->pend.n; i++)
			n += sp->pend.e[i].count;
		/* Summaries may exceed the cap here (at most PEND_MAX). */
		if (n > 0 && spool_flush_pend(sp, 1, &err) == -1)
			log_warnx("spool %s: %" PRIu64 " dropped events of %zu "
			          "tasks could not be reported",
			    sp->dir, n, sp->pend.n);
		while (sp->syncing)
			pthread_cond_wait(&sp->cv, &sp->mtx);
		if (!sp->broken && fdatasync(spool_active(sp)->fd) == -1)
			log_warn("spool %s: fsync", sp->dir);
		pthread_mutex_unlock(&sp->mtx);
	}
	for (i = 0; i < sp->nsegs; i++) {
		close(sp->segs[i]->fd);
		free(sp->segs[i]);
	}
	free(sp->segs);
	free(sp->ents);
	if (sp->lockfd != -1)
		close(sp->lockfd);
	if (sp->dirfd != -1)
		close(sp->dirfd);
	pthread_cond_destroy(&sp->cv);
	pthread_mutex_destroy(&sp->mtx);
	free(sp->dir);
	free(sp);
}
