/*
 * test_agent_spool.c: the agent's durable event spool (agent/spool.h):
 * round trips, restarts, torn and corrupt segments, acks and segment
 * deletion, the full-spool policy and its drop reports, a full disk, and
 * concurrent appenders.
 */
#define _XOPEN_SOURCE 700 /* nftw */

#include <sys/mount.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "spool.h"

struct fixture {
	char dir[64];   /* the test's temporary directory */
	char spool[96]; /* the spool directory inside it */
	int  mounted;
};

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return (remove(path));
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/vsm-spool.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->spool, sizeof(f->spool), "%s/spool", f->dir);
	*state = f;
	return (0);
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	if (f->mounted)
		umount(f->dir);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return (0);
}

static struct spool *
xopen(const char *dir, const struct spool_limits *lim)
{
	struct spool  *sp = NULL;
	struct vsm_err err = {""};

	if (spool_open(dir, lim, &sp, &err) == -1)
		fail_msg("spool_open: %s", err.msg);
	return (sp);
}

static uint64_t
xappend(struct spool *sp, enum spool_prio prio, uint64_t task, const void *data,
    size_t len)
{
	struct vsm_err err = {""};
	uint64_t       seq = 0;

	if (spool_append(sp, prio, task, data, len, &seq, &err) != 0)
		fail_msg("spool_append: %s", err.msg);
	return (seq);
}

/* Append an event whose payload is len bytes of (seq-independent) tag. */
static uint64_t
xappend_n(
    struct spool *sp, enum spool_prio prio, uint64_t task, int tag, size_t len)
{
	uint8_t buf[4096];

	assert_true(len <= sizeof(buf));
	memset(buf, tag, len);
	return (xappend(sp, prio, task, buf, len));
}

/* Read every record from seq `from` into recs (up to max); returns count. */
static size_t
collect(struct spool *sp, uint64_t from, struct spool_rec *recs, size_t max)
{
	struct spool_iter it;
	struct vsm_err    err = {""};
	size_t            n = 0;
	int               r;

	spool_iter_init(&it, sp, from);
	while ((r = spool_iter_next(&it, &recs[n], &err)) == 1) {
		if (n > 0)
			assert_true(recs[n].seq > recs[n - 1].seq);
		if (++n == max)
			break;
	}
	if (r == -1)
		fail_msg("spool_iter_next: %s", err.msg);
	return (n);
}

static void
free_recs(struct spool_rec *recs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		spool_rec_free(&recs[i]);
}

static int
name_cmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

/* The n-th (0-based; -1: last) segment file's path; returns the count. */
static int
seg_path(const char *dir, int n, char *path, size_t sz)
{
	DIR           *d;
	struct dirent *de;
	char          *names[256];
	int            cnt = 0, i;

	assert_non_null(d = opendir(dir));
	while ((de = readdir(d)) != NULL && cnt < 256)
		if (strstr(de->d_name, ".seg") != NULL)
			names[cnt++] = strdup(de->d_name);
	closedir(d);
	qsort(names, (size_t)cnt, sizeof(*names), name_cmp);
	if (path != NULL && cnt > 0) {
		i = n < 0 ? cnt - 1 : n;
		assert_true(i < cnt);
		snprintf(path, sz, "%s/%s", dir, names[i]);
	}
	for (i = 0; i < cnt; i++)
		free(names[i]);
	return (cnt);
}

static off_t
file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (st.st_size);
}

static void
flip_byte(const char *path, off_t off)
{
	uint8_t b;
	int     fd;

	assert_true((fd = open(path, O_RDWR)) != -1);
	assert_int_equal(pread(fd, &b, 1, off), 1);
	b ^= 0x40;
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

static void
test_append_iterate_ack_round_trip(void **state)
{
	struct fixture    *f = *state;
	struct spool      *sp = xopen(f->spool, NULL);
	struct spool_rec   recs[8];
	struct spool_stats st;
	struct vsm_err     err;

	assert_int_equal(xappend(sp, SPOOL_PRIO_LOW, 7, "one", 3), 1);
	assert_int_equal(xappend(sp, SPOOL_PRIO_LOW, 7, "two", 3), 2);
	assert_int_equal(xappend(sp, SPOOL_PRIO_HIGH, 7, "three!", 6), 3);

	assert_int_equal(collect(sp, 0, recs, 8), 3);
	assert_int_equal(recs[0].seq, 1);
	assert_int_equal(recs[0].task_id, 7);
	assert_int_equal(recs[0].kind, SPOOL_KIND_EVENT);
	assert_int_equal(recs[0].prio, SPOOL_PRIO_LOW);
	assert_memory_equal(recs[0].data, "one", 3);
	assert_int_equal(recs[2].prio, SPOOL_PRIO_HIGH);
	assert_int_equal(recs[2].len, 6);
	assert_memory_equal(recs[2].data, "three!", 6);
	free_recs(recs, 3);

	/* A window from seq 2 on. */
	assert_int_equal(collect(sp, 2, recs, 8), 2);
	assert_int_equal(recs[0].seq, 2);
	free_recs(recs, 2);

	assert_int_equal(spool_ack_one(sp, 2, &err), 0);
	assert_int_equal(collect(sp, 0, recs, 8), 2);
	assert_int_equal(recs[0].seq, 1);
	assert_int_equal(recs[1].seq, 3);
	free_recs(recs, 2);

	assert_int_equal(spool_ack(sp, 3, &err), 0);
	assert_int_equal(collect(sp, 0, recs, 8), 0);
	spool_stats(sp, &st);
	assert_int_equal(st.records, 0);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.acked_upto, 3);
	assert_int_equal(st.next_seq, 4);
	/* Acking again or beyond what exists is harmless. */
	assert_int_equal(spool_ack(sp, 3, &err), 0);
	assert_int_equal(spool_ack(sp, 1000, &err), 0);
	assert_int_equal(spool_ack_one(sp, 2, &err), 0);
	spool_close(sp);
}

static void
test_reopen_keeps_unacked_and_seq_continues(void **state)
{
	struct fixture  *f = *state;
	struct spool    *sp = xopen(f->spool, NULL);
	struct spool_rec recs[8];
	struct vsm_err   err;
	int              i;

	for (i = 1; i <= 5; i++)
		assert_int_equal(xappend_n(sp, SPOOL_PRIO_LOW, 1, i, 10), i);
	assert_int_equal(spool_ack(sp, 2, &err), 0);
	assert_int_equal(spool_ack_one(sp, 4, &err), 0);
	spool_close(sp);

	sp = xopen(f->spool, NULL);
	assert_int_equal(collect(sp, 0, recs, 8), 2);
	assert_int_equal(recs[0].seq, 3);
	assert_int_equal(recs[0].data[0], 3);
	assert_int_equal(recs[1].seq, 5);
	assert_int_equal(recs[1].data[9], 5);
	free_recs(recs, 2);
	assert_int_equal(xappend_n(sp, SPOOL_PRIO_HIGH, 1, 6, 10), 6);
	spool_close(sp);

	/* Even with everything acked, seqs continue. */
	sp = xopen(f->spool, NULL);
	assert_int_equal(spool_ack(sp, 6, &err), 0);
	spool_close(sp);
	sp = xopen(f->spool, NULL);
	assert_int_equal(collect(sp, 0, recs, 8), 0);
	assert_int_equal(xappend_n(sp, SPOOL_PRIO_LOW, 1, 7, 10), 7);
	spool_close(sp);
}

static void
test_second_open_of_same_dir_is_refused(void **state)
{
	struct fixture *f = *state;
	struct spool   *sp = xopen(f->spool, NULL), *sp2 = NULL;
	struct vsm_err  err = {""};

	assert_int_equal(spool_open(f->spool, NULL, &sp2, &err), -1);
	assert_null(sp2);
	assert_non_null(strstr(err.msg, "in use"));
	spool_close(sp);
}

static void
test_torn_tail_is_truncated_and_reported(void **state)
{
	struct fixture    *f = *state;
	struct spool      *sp = xopen(f->spool, NULL);
	struct spool_rec   recs[8];
	struct spool_stats st;
	char               path[256];
	off_t              size;

	xappend_n(sp, SPOOL_PRIO_LOW, 1, 1, 100);
	xappend_n(sp, SPOOL_PRIO_LOW, 1, 2, 100);
	xappend_n(sp, SPOOL_PRIO_HIGH, 1, 3, 100);
	spool_close(sp);

	/* Cut the last record in the middle, as a crash mid-write would. */
	seg_path(f->spool, -1, path, sizeof(path));
	size = file_size(path);
	assert_int_equal(truncate(path, size - 50), 0);

	sp = xopen(f->spool, NULL);
	spool_stats(sp, &st);
	assert_int_equal(st.torn_bytes, SPOOL_REC_HDR + 100 - 50);
	assert_int_equal(st.records, 2);
	assert_int_equal(file_size(path), size - SPOOL_REC_HDR - 100);
	assert_int_equal(collect(sp, 0, recs, 8), 2);
	assert_int_equal(recs[1].seq, 2);
	free_recs(recs, 2);
	/* The torn record was never durable, never sent: its seq is free. */
	assert_int_equal(xappend_n(sp, SPOOL_PRIO_HIGH, 1, 3, 100), 3);
	spool_close(sp);

	/* Repaired for good: the next open finds nothing to discard. */
	sp = xopen(f->spool, NULL);
	spool_stats(sp, &st);
	assert_int_equal(st.torn_bytes, 0);
	assert_int_equal(st.records, 3);
	spool_close(sp);
}

static void
test_flipped_byte_in_last_record_is_detected(void **state)
{
	struct fixture    *f = *state;
	struct spool      *sp = xopen(f->spool, NULL);
	struct spool_rec   recs[8];
	struct spool_stats st;
	char               path[256];

	xappend_n(sp, SPOOL_PRIO_LOW, 1, 1, 100);
	xappend_n(sp, SPOOL_PRIO_LOW, 1, 2, 100);
	xappend_n(sp, SPOOL_PRIO_LOW, 1, 3, 100);
	spool_close(sp);

	seg_path(f->spool, -1, path, sizeof(path));
	flip_byte(path, file_size(path) - 5);

	sp = xopen(f->spool, NULL);
	spool_stats(sp, &st);
	assert_int_equal(st.torn_bytes, SPOOL_REC_HDR + 100);
	assert_int_equal(collect(sp, 0, recs, 8), 2);
	assert_int_equal(recs[0].data[0], 1);
	assert_int_equal(recs[1].data[0], 2);
	free_recs(recs, 2);
	spool_close(sp);
}

static const struct spool_limits small_segs = {
    .segment_size = 4096,
    .max_record = 1024,
    .max_bytes = 1 << 20,
};

static void
test_corruption_in_older_segment_is_refused_unless_skipped(void **state)
{
	struct fixture      *f = *state;
	struct spool        *sp = xopen(f->spool, &small_segs), *sp2 = NULL;
	struct spool_limits  skip = small_segs;
	struct spool_rec     recs[40];
	struct spool_stats   st;
	struct spool_dropped d;
	struct vsm_err       err = {""};
	char                 path[256];
	size_t               n, i, nev = 0, nsum = 0;

	/* 332-byte records: 12 per 4 KiB segment, 30 records: 3 segments. */
	for (i = 1; i <= 30; i++)
		xappend_n(sp, SPOOL_PRIO_LOW, 5, (int)i, 300);
	spool_close(sp);
	assert_int_equal(seg_path(f->spool, 0, path, sizeof(path)), 3);
	/* The payload of seq 3, the third record of the first segment. */
	flip_byte(path,
	    SPOOL_SEG_HDR + 2 * (SPOOL_REC_HDR + 300) + SPOOL_REC_HDR + 10);

	assert_int_equal(spool_open(f->spool, &small_segs, &sp2, &err), -1);
	assert_null(sp2);
	assert_non_null(strstr(err.msg, "corrupt record"));
	assert_non_null(strstr(err.msg, "skip_corrupt"));

	skip.skip_corrupt = 1;
	sp = xopen(f->spool, &skip);
	spool_stats(sp, &st);
	assert_int_equal(st.corrupt_records, 1);
	assert_int_equal(st.corrupt_bytes, SPOOL_REC_HDR + 300);
	spool_close(sp);

	/* The skip was made durable: a normal open now works. */
	sp = xopen(f->spool, &small_segs);
	n = collect(sp, 0, recs, 40);
	for (i = 0; i < n; i++) {
		if (recs[i].kind == SPOOL_KIND_EVENT) {
			assert_true(recs[i].seq != 3);
			nev++;
			continue;
		}
		assert_int_equal(spool_dropped_decode(&recs[i], &d), 0);
		assert_int_equal(d.task_id, 0);
		assert_int_equal(d.count, 1);
		assert_int_equal(d.bytes, SPOOL_REC_HDR + 300);
		assert_int_equal(d.reasons, SPOOL_DROP_CORRUPT);
		nsum++;
	}
	assert_int_equal(nev, 29);
	assert_int_equal(nsum, 1);
	free_recs(recs, n);
	spool_close(sp);
}

static void
test_segments_are_deleted_once_fully_acked(void **state)
{
	struct fixture    *f = *state;
	struct spool      *sp = xopen(f->spool, &small_segs);
	struct spool_stats st;
	struct vsm_err     err;
	int                i;

	for (i = 1; i <= 40; i++)
		xappend_n(sp, SPOOL_PRIO_LOW, 1, i, 300);
	assert_int_equal(seg_path(f->spool, 0, NULL, 0), 4);

	/* The first segment holds seqs 1..12: 11 acked keep it. */
	assert_int_equal(spool_ack(sp, 11, &err), 0);
	assert_int_equal(seg_path(f->spool, 0, NULL, 0), 4);
	assert_int_equal(spool_ack(sp, 12, &err), 0);
	assert_int_equal(seg_path(f->spool, 0, NULL, 0), 3);

	/* Selective acks free a segment too (13..24 is the second). */
	for (i = 13; i <= 24; i++)
		assert_int_equal(spool_ack_one(sp, (uint64_t)i, &err), 0);
	assert_int_equal(seg_path(f->spool, 0, NULL, 0), 2);

	/* All acked: only the active segment is left. */
	assert_int_equal(spool_ack(sp, 40, &err), 0);
	assert_int_equal(seg_path(f->spool, 0, NULL, 0), 1);
	spool_stats(sp, &st);
	assert_int_equal(st.segments, 1);
	assert_int_equal(st.records, 0);
	spool_close(sp);

	sp = xopen(f->spool, &small_segs);
	assert_int_equal(xappend_n(sp, SPOOL_PRIO_LOW, 1, 1, 10), 41);
	spool_close(sp);
}

/* 8 records: low-priority events may use 7, the last is for summaries. */
static const struct spool_limits eight = {
    .max_records = 8,
    .segment_size = 4096,
    .max_record = 1024,
    .max_bytes = 1 << 20,
};

static void
test_low_priority_refused_when_full_and_drop_summary_spooled(void **state)
{
	struct fixture      *f = *state;
	struct spool        *sp = xopen(f->spool, &eight);
	struct spool_rec     recs[16];
	struct spool_stats   st;
	struct spool_dropped d;
	struct vsm_err       err = {""};
	uint64_t             seq = 0;
	int                  i;

	for (i = 1; i <= 7; i++)
		xappend_n(sp, SPOOL_PRIO_LOW, 10, i, 20);
	assert_int_equal(
	    spool_append(sp, SPOOL_PRIO_LOW, 10, "x", 1, &seq, &err), 1);
	assert_non_null(strstr(err.msg, "full"));
	assert_int_equal(
	    spool_append(sp, SPOOL_PRIO_LOW, 11, "yy", 2, &seq, &err), 1);
	assert_int_equal(
	    spool_append(sp, SPOOL_PRIO_LOW, 11, "zzz", 3, &seq, &err), 1);
	spool_stats(sp, &st);
	assert_int_equal(st.records, 7);
	assert_int_equal(st.dropped_refused, 3);
	assert_int_equal(st.dropped_bytes, 6);
	assert_int_equal(st.dropped_pending, 3);

	/* Acking makes room: the summaries are stored at once. */
	assert_int_equal(spool_ack(sp, 2, &err), 0);
	spool_stats(sp, &st);
	assert_int_equal(st.dropped_pending, 0);
	assert_int_equal(st.summaries, 2);
	assert_int_equal(collect(sp, 0, recs, 16), 7);
	for (i = 0; i < 5; i++)
		assert_int_equal(recs[i].kind, SPOOL_KIND_EVENT);
	for (i = 5; i < 7; i++) {
		assert_int_equal(recs[i].kind, SPOOL_KIND_DROPPED);
		assert_int_equal(spool_dropped_decode(&recs[i], &d), 0);
		assert_int_equal(d.reasons, SPOOL_DROP_REFUSED);
		if (d.task_id == 10) {
			assert_int_equal(d.count, 1);
			assert_int_equal(d.bytes, 1);
		} else {
			assert_int_equal(d.task_id, 11);
			assert_int_equal(d.count, 2);
			assert_int_equal(d.bytes, 5);
		}
	}
	/* An event is not a summary. */
	assert_int_equal(spool_dropped_decode(&recs[0], &d), -1);
	free_recs(recs, 7);
	spool_close(sp);
}

static void
test_high_priority_evicts_oldest_low_priority(void **state)
{
	struct fixture      *f = *state;
	struct spool        *sp = xopen(f->spool, &eight);
	struct spool_rec     recs[16];
	struct spool_stats   st;
	struct spool_dropped d;
	size_t               n;
	int                  i, round;

	for (i = 1; i <= 7; i++)
		xappend_n(sp, SPOOL_PRIO_LOW, 1, i, 20);
	/* The eighth record fits: results may use the whole spool. */
	assert_int_equal(xappend_n(sp, SPOOL_PRIO_HIGH, 2, 8, 30), 8);
	/* Full: evict seqs 1 and 2 (one for the result, one for the
	 * summary of task 1 that reports them). */
	assert_int_equal(xappend_n(sp, SPOOL_PRIO_HIGH, 2, 9, 30), 10);
	spool_stats(sp, &st);
	assert_int_equal(st.dropped_evicted, 2);
	assert_int_equal(st.dropped_bytes, 40);
	assert_int_equal(st.records, 8);

	for (round = 0; round < 2; round++) {
		n = collect(sp, 0, recs, 16);
		assert_int_equal(n, 8);
		assert_int_equal(recs[0].seq, 3);
		assert_int_equal(recs[5].seq, 8);
		assert_int_equal(recs[6].seq, 9);
		assert_int_equal(spool_dropped_decode(&recs[6], &d), 0);
		assert_int_equal(d.task_id, 1);
		assert_int_equal(d.count, 2);
		assert_int_equal(d.bytes, 40);
		assert_int_equal(d.reasons, SPOOL_DROP_EVICTED);
		assert_int_equal(recs[7].seq, 10);
		assert_int_equal(recs[7].prio, SPOOL_PRIO_HIGH);
		free_recs(recs, n);
		/* The eviction survives a restart. */
		spool_close(sp);
		sp = xopen(f->spool, &eight);
	}
	spool_close(sp);
}

static void
test_result_is_preceded_by_its_drop_summary(void **state)
{
	struct fixture      *f = *state;
	struct spool        *sp = xopen(f->spool, &eight);
	struct spool_rec     recs[16];
	struct spool_dropped d;
	uint64_t             seq;
	size_t               n;
	int                  i;

	for (i = 1; i <= 7; i++)
		xappend_n(sp, SPOOL_PRIO_LOW, 1, i, 20);
	assert_int_equal(
	    spool_append(sp, SPOOL_PRIO_LOW, 1, "x", 1, &seq, NULL), 1);
	seq = xappend_n(sp, SPOOL_PRIO_HIGH, 1, 9, 30);
	n = collect(sp, 0, recs, 16);
	assert_int_equal(recs[n - 1].seq, seq);
	assert_int_equal(recs[n - 2].seq, seq - 1);
	assert_int_equal(spool_dropped_decode(&recs[n - 2], &d), 0);
	assert_int_equal(d.task_id, 1);
	assert_int_equal(d.count, 2); /* one refused, one evicted */
	assert_int_equal(d.bytes, 21);
	assert_int_equal(d.reasons, SPOOL_DROP_REFUSED | SPOOL_DROP_EVICTED);
	free_recs(recs, n);
	spool_close(sp);
}

static void
test_high_priority_fails_when_nothing_can_be_evicted(void **state)
{
	struct fixture    *f = *state;
	struct spool      *sp = xopen(f->spool, &eight);
	struct spool_stats st;
	struct vsm_err     err = {""};
	uint64_t           seq = 0;
	char               big[2048];
	int                i;

	for (i = 1; i <= 8; i++)
		xappend_n(sp, SPOOL_PRIO_HIGH, 1, i, 20);
	assert_int_equal(
	    spool_append(sp, SPOOL_PRIO_HIGH, 1, "x", 1, &seq, &err), -1);
	assert_non_null(strstr(err.msg, "no low-priority event left"));
	spool_stats(sp, &st);
	assert_int_equal(st.records, 8);
	assert_int_equal(st.next_seq, 9);

	/* Too large is refused whatever the priority. */
	memset(big, 0, sizeof(big));
	assert_int_equal(
	    spool_append(sp, SPOOL_PRIO_HIGH, 1, big, sizeof(big), &seq, &err),
	    -1);
	assert_non_null(strstr(err.msg, "exceeds"));
	spool_close(sp);
}

static uint64_t
segs_on_disk(const char *dir)
{
	char     path[256];
	uint64_t sum = 0;
	int      i, n = seg_path(dir, 0, NULL, 0);

	for (i = 0; i < n; i++) {
		seg_path(dir, i, path, sizeof(path));
		sum += (uint64_t)file_size(path);
	}
	return (sum);
}

static void
test_disk_full_append_fails_and_spool_stays_consistent(void **state)
{
	struct fixture     *f = *state;
	struct spool_limits lim = {
	    .segment_size = 64 << 10,
	    .max_record = 8 << 10,
	    .max_bytes = 4 << 20,
	};
	struct spool      *sp;
	struct spool_rec   recs[128];
	struct spool_stats before, after;
	struct vsm_err     err = {""};
	uint8_t            buf[4000];
	uint64_t           seq, last = 0;
	size_t             n;
	int                i, r = 0;

	if (mount("tmpfs", f->dir, "tmpfs", 0, "size=256k") == -1) {
		print_message("skipped: cannot mount a tmpfs on %s (%s); "
		              "the disk-full test needs root\n",
		    f->dir, strerror(errno));
		skip();
	}
	f->mounted = 1;
	sp = xopen(f->spool, &lim);
	memset(buf, 0xab, sizeof(buf));
	for (i = 0; i < 100; i++) {
		spool_stats(sp, &before);
		r = spool_append(
		    sp, SPOOL_PRIO_HIGH, 1, buf, sizeof(buf), &seq, &err);
		if (r != 0)
			break;
		last = seq;
	}
	assert_int_equal(r, -1);
	assert_non_null(strstr(err.msg, "disk full"));
	/* Nothing of the failed record stays, on disk or in memory. */
	spool_stats(sp, &after);
	assert_int_equal(after.records, before.records);
	assert_int_equal(after.next_seq, before.next_seq);
	assert_int_equal(after.disk_bytes, segs_on_disk(f->spool));
	assert_int_equal(after.records, last);

	/* Acks free whole segments even on a full disk. */
	assert_int_equal(spool_ack(sp, last - 2, &err), 0);
	assert_int_equal(
	    xappend(sp, SPOOL_PRIO_HIGH, 1, buf, sizeof(buf)), last + 1);
	spool_close(sp);

	sp = xopen(f->spool, &lim);
	spool_stats(sp, &after);
	assert_int_equal(after.torn_bytes, 0);
	n = collect(sp, 0, recs, 128);
	assert_true(n >= 3);
	assert_int_equal(recs[n - 1].seq, last + 1);
	assert_memory_equal(recs[n - 1].data, buf, sizeof(buf));
	free_recs(recs, n);
	spool_close(sp);
}

#define NTHREADS 4
#define NPER     150

struct worker {
	struct spool *sp;
	int           id;
	uint64_t      seqs[NPER];
	int           failed;
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	struct vsm_err err;
	char           buf[64];
	int            i, len;

	for (i = 0; i < NPER; i++) {
		len = snprintf(buf, sizeof(buf), "w%d-%d", w->id, i);
		if (spool_append(w->sp,
		        i % 3 ? SPOOL_PRIO_LOW : SPOOL_PRIO_HIGH,
		        (uint64_t)w->id, buf, (size_t)len, &w->seqs[i],
		        &err) != 0)
			w->failed++;
	}
	return (NULL);
}

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x < y ? -1 : x > y);
}

static void
test_concurrent_appends_get_unique_seqs_and_are_durable(void **state)
{
	struct fixture         *f = *state;
	struct spool           *sp = xopen(f->spool, &small_segs);
	static struct worker    w[NTHREADS];
	static uint64_t         all[NTHREADS * NPER];
	static struct spool_rec recs[NTHREADS * NPER + 1];
	pthread_t               th[NTHREADS];
	char                    want[64];
	size_t                  n, i;
	int                     t, k;

	for (t = 0; t < NTHREADS; t++) {
		memset(&w[t], 0, sizeof(w[t]));
		w[t].sp = sp;
		w[t].id = t + 1;
		assert_int_equal(
		    pthread_create(&th[t], NULL, worker_run, &w[t]), 0);
	}
	for (t = 0; t < NTHREADS; t++) {
		pthread_join(th[t], NULL);
		assert_int_equal(w[t].failed, 0);
		memcpy(all + t * NPER, w[t].seqs, sizeof(w[t].seqs));
	}
	qsort(all, NTHREADS * NPER, sizeof(*all), u64_cmp);
	for (i = 0; i < NTHREADS * NPER; i++)
		assert_int_equal(all[i], i + 1);
	spool_close(sp);

	sp = xopen(f->spool, &small_segs);
	n = collect(sp, 0, recs, NTHREADS * NPER + 1);
	assert_int_equal(n, NTHREADS * NPER);
	for (t = 0; t < NTHREADS; t++)
		for (k = 0; k < NPER; k++) {
			i = (size_t)(w[t].seqs[k] - 1);
			snprintf(want, sizeof(want), "w%d-%d", t + 1, k);
			assert_int_equal(recs[i].seq, w[t].seqs[k]);
			assert_int_equal(recs[i].task_id, t + 1);
			assert_int_equal(recs[i].len, strlen(want));
			assert_memory_equal(recs[i].data, want, strlen(want));
		}
	free_recs(recs, n);
	spool_close(sp);
}

static void
test_close_null_is_a_no_op(void **state)
{
	spool_close(NULL);
	spool_rec_free(NULL);
}

static void
test_bad_limits_are_refused(void **state)
{
	struct fixture     *f = *state;
	struct spool       *sp = NULL;
	struct spool_limits lim = {.segment_size = 4096, .max_record = 8192};
	struct vsm_err      err = {""};

	assert_int_equal(spool_open(f->spool, &lim, &sp, &err), -1);
	assert_null(sp);
	assert_non_null(strstr(err.msg, "bad limits"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	    T(test_append_iterate_ack_round_trip),
	    T(test_reopen_keeps_unacked_and_seq_continues),
	    T(test_second_open_of_same_dir_is_refused),
	    T(test_torn_tail_is_truncated_and_reported),
	    T(test_flipped_byte_in_last_record_is_detected),
	    T(test_corruption_in_older_segment_is_refused_unless_skipped),
	    T(test_segments_are_deleted_once_fully_acked),
	    T(test_low_priority_refused_when_full_and_drop_summary_spooled),
	    T(test_high_priority_evicts_oldest_low_priority),
	    T(test_result_is_preceded_by_its_drop_summary),
	    T(test_high_priority_fails_when_nothing_can_be_evicted),
	    T(test_disk_full_append_fails_and_spool_stays_consistent),
	    T(test_concurrent_appends_get_unique_seqs_and_are_durable),
	    T(test_close_null_is_a_no_op),
	    T(test_bad_limits_are_refused),
#undef T
	};

	/* The spool's warnings (torn tails, skips) are expected here. */
	vsm_log_init("test_agent_spool", VSM_LOG_ERROR, 0);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
