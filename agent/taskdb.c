/*
 * taskdb.c: the record of task ids seen and their results (taskdb.h).
 *
 * Only the ids are held in memory; a result stays in the file, and an
 * entry knows where its hex starts. The agent keeps a week of tasks: with
 * the results in memory its heap grew by a kilobyte or more per task run.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "map.h"
#include "taskdb.h"

/* The longest line: "R", ms, id, hex of the largest result, spaces. */
#define TASKDB_LINE_MAX (2 * TASKDB_RESULT_MAX + TASKDB_ID_MAX + 64)

struct tdb_ent {
	uint64_t        h;
	uint64_t        ms;   /* time of the last record about it */
	off_t           roff; /* done: where its result's hex is in the file */
	uint32_t        rlen; /* done: bytes of the result (hex is twice) */
	int             done;
	struct tdb_ent *prev, *next; /* oldest first */
	char            id[];        /* TASKDB_ID_MAX bytes at most, + NUL */
};

struct taskdb {
	pthread_mutex_t mtx;
	char            path[PATH_MAX];
	int             fd;   /* the file: appends, and reads of results */
	off_t           size; /* its length: where the next line starts */
	struct vsm_map  map;  /* taskdb_hash(id) -> struct tdb_ent */
	struct tdb_ent *head, *tail;
	size_t          count;
	size_t          lines; /* records in the file */
	uint64_t        max_age_ms;
	size_t          max_entries;
};

uint64_t
taskdb_hash(const char *id)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 */

	for (; *id != '\0'; id++) {
		h ^= (unsigned char)*id;
		h *= 0x100000001b3ull;
	}
	/* A final mix (splitmix64) so short ids spread over the map. */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 31;
	return (h != 0 ? h : 1);
}

int
taskdb_id_ok(const char *id)
{
	size_t n = 0;

	if (id == NULL)
		return (0);
	for (; id[n] != '\0'; n++)
		if (n >= TASKDB_ID_MAX || !isgraph((unsigned char)id[n]))
			return (0);
	return (n > 0);
}

static void
tdb_unlink(struct taskdb *db, struct tdb_ent *e)
{
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		db->head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		db->tail = e->prev;
	e->prev = e->next = NULL;
}

static void
tdb_append(struct taskdb *db, struct tdb_ent *e)
{
	e->prev = db->tail;
	e->next = NULL;
	if (db->tail != NULL)
		db->tail->next = e;
	else
		db->head = e;
	db->tail = e;
}

static void
tdb_remove(struct taskdb *db, struct tdb_ent *e)
{
	tdb_unlink(db, e);
	vsm_map_del(&db->map, e->h);
	db->count--;
	free(e);
}

/* The entry of id, or NULL. A hash shared by another id counts as absent. */
static struct tdb_ent *
tdb_find(struct taskdb *db, const char *id)
{
	struct tdb_ent *e = vsm_map_get(&db->map, taskdb_hash(id));

	return (e != NULL && strcmp(e->id, id) == 0 ? e : NULL);
}

/* A new entry at the young end; replaces one that shares its hash. */
static struct tdb_ent *
tdb_add(struct taskdb *db, const char *id, uint64_t ms)
{
	struct tdb_ent *e, *old;
	size_t          len = strlen(id);

	if ((e = calloc(1, sizeof(*e) + len + 1)) == NULL)
		return (NULL);
	e->h = taskdb_hash(id);
	e->ms = ms;
	memcpy(e->id, id, len + 1);
	if ((old = vsm_map_get(&db->map, e->h)) != NULL) {
		log_warnx("taskdb: ids %s and %s share a hash; forgetting "
		          "the first",
		    old->id, id);
		tdb_remove(db, old);
	}
	if (vsm_map_put(&db->map, e->h, e) == -1) {
		free(e);
		return (NULL);
	}
	tdb_append(db, e);
	db->count++;
	return (e);
}

static void
tdb_prune(struct taskdb *db, uint64_t now_ms)
{
	while (db->head != NULL &&
	    (db->count > db->max_entries ||
	        (now_ms > db->max_age_ms &&
	            db->head->ms < now_ms - db->max_age_ms)))
		tdb_remove(db, db->head);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	return (-1);
}

/* 1 when the n bytes at hex are lowercase hex digits. */
static int
hex_ok(const char *hex, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (hexval((unsigned char)hex[i]) == -1)
			return (0);
	return (1);
}

/*
 * Apply one line of the file, which starts at byte off of it; a result
 * is checked but left in the file. A malformed line is skipped (-1).
 */
static int
tdb_apply(struct taskdb *db, char *line, off_t off)
{
	char           *type, *ms_s, *id, *hex, *end, *save = NULL;
	struct tdb_ent *e;
	uint64_t        ms;
	size_t          n = 0;

	type = strtok_r(line, " ", &save);
	ms_s = strtok_r(NULL, " ", &save);
	id = strtok_r(NULL, " ", &save);
	hex = strtok_r(NULL, " ", &save);
	if (type == NULL || ms_s == NULL || !taskdb_id_ok(id))
		return (-1);
	errno = 0;
	ms = strtoull(ms_s, &end, 10);
	if (errno != 0 || *end != '\0')
		return (-1);
	if (strcmp(type, "R") == 0) {
		if (hex == NULL || (n = strlen(hex)) % 2 != 0 ||
		    n / 2 > TASKDB_RESULT_MAX || !hex_ok(hex, n))
			return (-1);
	} else if (strcmp(type, "S") != 0 || hex != NULL)
		return (-1);
	if ((e = tdb_find(db, id)) == NULL && (e = tdb_add(db, id, ms)) == NULL)
		return (-1);
	if (hex != NULL && !e->done) {
		e->roff = off + (hex - line);
		e->rlen = (uint32_t)(n / 2);
		e->done = 1;
	}
	e->ms = ms;
	tdb_unlink(db, e);
	tdb_append(db, e);
	return (0);
}

static int
tdb_load(struct taskdb *db, struct vsm_err *err)
{
	FILE   *fp;
	char   *line = NULL;
	size_t  cap = 0;
	ssize_t n;
	size_t  bad = 0;
	off_t   off = 0;

	if ((fp = fopen(db->path, "r")) == NULL) {
		if (errno == ENOENT)
			return (0);
		return (vsm_err_set(err, "%s: %s", db->path, strerror(errno)));
	}
	while ((n = getline(&line, &cap, fp)) != -1) {
		/* A line without its newline is torn by a crash: ignored. */
		if (n == 0 || line[n - 1] != '\n' || n > TASKDB_LINE_MAX) {
			bad++;
			off += n;
			continue;
		}
		line[n - 1] = '\0';
		if (tdb_apply(db, line, off) == -1)
			bad++;
		off += n;
	}
	free(line);
	fclose(fp);
	if (bad > 0)
		log_warnx(
		    "taskdb %s: %zu unreadable lines skipped", db->path, bad);
	return (0);
}

/*
 * The start of e's line into buf: "S ms id\n", or "R ms id " when it has
 * a result (its hex and the newline follow). Returns its length.
 */
static size_t
tdb_head(const struct tdb_ent *e, int done, char *buf, size_t cap)
{
	return ((size_t)snprintf(buf, cap, "%c %llu %s%c", done ? 'R' : 'S',
	    (unsigned long long)e->ms, e->id, done ? ' ' : '\n'));
}

/* Bytes of e's line with a result of rlen bytes (or none). */
static size_t
tdb_line_len(const struct tdb_ent *e, size_t rlen, int done)
{
	return (2 + 20 + 1 + strlen(e->id) + 1 + (done ? 2 * rlen : 0) + 1);
}

static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		buf += n;
		len -= (size_t)n;
	}
	return (0);
}

/*
 * Rewrite the file with one line per live entry (temporary file, fsync,
 * rename, fsync of the directory) and reopen it. Results are copied from
 * the old file; their new places are taken only once the new file is in
 * place, so a failure leaves the record as it was. Called with the lock
 * held (or before the db is shared).
 */
static int
tdb_compact(struct taskdb *db, struct vsm_err *err)
{
	char            tmp[PATH_MAX + 8];
	char           *buf = NULL;
	off_t          *noff = NULL, size = 0;
	struct tdb_ent *e;
	int             fd = -1, rfd = -1, ret = -1;
	size_t          n, hexlen, i;

	snprintf(tmp, sizeof(tmp), "%s.tmp", db->path);
	if ((buf = malloc(TASKDB_LINE_MAX + 1)) == NULL ||
	    (noff = calloc(db->count + 1, sizeof(*noff))) == NULL) {
		vsm_err_set(err, "out of memory");
		goto out;
	}
	if ((rfd = open(db->path, O_RDONLY | O_CLOEXEC)) == -1 &&
	    errno != ENOENT)
		goto fail;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) ==
	    -1)
		goto fail;
	for (e = db->head, i = 0; e != NULL; e = e->next, i++) {
		n = tdb_head(e, e->done, buf, TASKDB_LINE_MAX + 1);
		if (e->done) {
			hexlen = 2 * (size_t)e->rlen;
			if (rfd == -1 ||
			    pread(rfd, buf + n, hexlen, e->roff) !=
			        (ssize_t)hexlen ||
			    !hex_ok(buf + n, hexlen)) {
				vsm_err_set(err,
				    "taskdb %s: the result of %s cannot be "
				    "read back",
				    db->path, e->id);
				unlink(tmp);
				goto out;
			}
			noff[i] = size + (off_t)n;
			n += hexlen;
			buf[n++] = '\n';
		}
		if (write_all(fd, buf, n) == -1)
			goto fail;
		size += (off_t)n;
	}
	if (fsync(fd) == -1 || close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, db->path) == -1)
		goto fail;
	/* The new file is the record now, whatever fails next. */
	for (e = db->head, i = 0; e != NULL; e = e->next, i++)
		e->roff = noff[i];
	db->size = size;
	db->lines = db->count;
	if (db->fd != -1)
		close(db->fd);
	if ((db->fd = open(db->path, O_RDWR | O_APPEND | O_CLOEXEC)) == -1 ||
	    vsm_fsync_parent(db->path) == -1)
		goto fail;
	ret = 0;
	goto out;
fail:
	vsm_err_set(err, "taskdb %s: %s", db->path, strerror(errno));
	unlink(tmp);
out:
	if (fd != -1)
		close(fd);
	if (rfd != -1)
		close(rfd);
	free(noff);
	free(buf);
	return (ret);
}

int
taskdb_open(const char *path, const struct taskdb_limits *lim, uint64_t now_ms,
    struct taskdb **dbp, struct vsm_err *err)
{
	struct taskdb *db;

	*dbp = NULL;
	if ((db = calloc(1, sizeof(*db))) == NULL)
		return (vsm_err_set(err, "out of memory"));
	pthread_mutex_init(&db->mtx, NULL);
	vsm_map_init(&db->map);
	db->fd = -1;
	db->max_age_ms = lim != NULL && lim->max_age_ms ? lim->max_age_ms
	                                                : TASKDB_AGE_DEFAULT;
	db->max_entries = lim != NULL && lim->max_entries ? lim->max_entries
	                                                  : TASKDB_MAX_DEFAULT;
	if ((size_t)snprintf(db->path, sizeof(db->path), "%s", path) >=
	    sizeof(db->path)) {
		vsm_err_set(err, "%s: path too long", path);
		goto fail;
	}
	if (tdb_load(db, err) == -1)
		goto fail;
	tdb_prune(db, now_ms);
	if (tdb_compact(db, err) == -1)
		goto fail;
	*dbp = db;
	return (0);
fail:
	taskdb_close(db);
	return (-1);
}

void
taskdb_close(struct taskdb *db)
{
	if (db == NULL)
		return;
	while (db->head != NULL)
		tdb_remove(db, db->head);
	vsm_map_clear(&db->map);
	if (db->fd != -1)
		close(db->fd);
	pthread_mutex_destroy(&db->mtx);
	free(db);
}

/*
 * Read e's result back from the file into *resp (malloc'd, caller frees).
 * 0, or -1 (logged) with *resp NULL. Locked.
 */
static int
tdb_read_result(struct taskdb *db, const struct tdb_ent *e, uint8_t **resp)
{
	size_t   hexlen = 2 * (size_t)e->rlen, i;
	char    *hex = NULL;
	uint8_t *res = NULL;
	int      ret = -1;

	*resp = NULL;
	if ((hex = malloc(hexlen + 1)) == NULL ||
	    (res = malloc((size_t)e->rlen + 1)) == NULL)
		goto out;
	if (pread(db->fd, hex, hexlen, e->roff) != (ssize_t)hexlen ||
	    !hex_ok(hex, hexlen)) {
		log_warnx("taskdb %s: the result of %s cannot be read back",
		    db->path, e->id);
		goto out;
	}
	for (i = 0; i < e->rlen; i++)
		res[i] = (uint8_t)(hexval((unsigned char)hex[2 * i]) << 4 |
		    hexval((unsigned char)hex[2 * i + 1]));
	*resp = res;
	res = NULL;
	ret = 0;
out:
	free(hex);
	free(res);
	return (ret);
}

enum taskdb_state
taskdb_get(struct taskdb *db, const char *id, uint8_t **resp, size_t *lenp)
{
	struct tdb_ent   *e;
	enum taskdb_state st = TASKDB_NONE;

	if (resp != NULL)
		*resp = NULL;
	if (lenp != NULL)
		*lenp = 0;
	pthread_mutex_lock(&db->mtx);
	if ((e = tdb_find(db, id)) != NULL) {
		st = e->done ? TASKDB_DONE : TASKDB_RUNNING;
		if (e->done && resp != NULL &&
		    tdb_read_result(db, e, resp) == 0 && lenp != NULL)
			*lenp = e->rlen;
	}
	pthread_mutex_unlock(&db->mtx);
	return (st);
}

/*
 * Append e's record durably: "S", or "R" with the result res of len bytes
 * when res is not NULL, which on success makes e done with its result in
 * the file. Compacts when the file has grown. 0, or -1 with err set and e
 * unchanged. Locked.
 */
static int
tdb_write(struct taskdb *db, struct tdb_ent *e, const uint8_t *res, size_t len,
    struct vsm_err *err)
{
	static const char hx[] = "0123456789abcdef";
	char             *buf;
	size_t            n, cap = tdb_line_len(e, len, res != NULL), i, head;
	int               ret = -1;

	if ((buf = malloc(cap + 1)) == NULL)
		return (vsm_err_set(err, "out of memory"));
	n = head = tdb_head(e, res != NULL, buf, cap + 1);
	if (res != NULL) {
		for (i = 0; i < len; i++) {
			buf[n++] = hx[res[i] >> 4];
			buf[n++] = hx[res[i] & 0xf];
		}
		buf[n++] = '\n';
	}
	if (write_all(db->fd, buf, n) == -1 || fdatasync(db->fd) == -1) {
		vsm_err_set(err, "taskdb %s: %s", db->path, strerror(errno));
		/* Where the next line goes, whatever reached the file. */
		db->size = lseek(db->fd, 0, SEEK_END);
		goto out;
	}
	if (res != NULL) {
		e->roff = db->size + (off_t)head;
		e->rlen = (uint32_t)len;
		e->done = 1;
	}
	db->size += (off_t)n;
	db->lines++;
	ret = 0;
	if (db->lines > 2 * db->count + 1024 && tdb_compact(db, err) == -1)
		log_warnx("%s", err->msg);
out:
	free(buf);
	return (ret);
}

int
taskdb_start(
    struct taskdb *db, const char *id, uint64_t now_ms, struct vsm_err *err)
{
	struct tdb_ent *e;
	int             ret = -1;

	if (!taskdb_id_ok(id))
		return (vsm_err_set(err, "unusable task id"));
	pthread_mutex_lock(&db->mtx);
	if (tdb_find(db, id) != NULL) {
		vsm_err_set(err, "task %s already seen", id);
		goto out;
	}
	if ((e = tdb_add(db, id, now_ms)) == NULL) {
		vsm_err_set(err, "out of memory");
		goto out;
	}
	if (tdb_write(db, e, NULL, 0, err) == -1) {
		tdb_remove(db, e);
		goto out;
	}
	tdb_prune(db, now_ms);
	ret = 0;
out:
	pthread_mutex_unlock(&db->mtx);
	return (ret);
}

int
taskdb_finish(struct taskdb *db, const char *id, const uint8_t *res, size_t len,
    uint64_t now_ms, struct vsm_err *err)
{
	struct tdb_ent *e;
	int             ret = -1;

	if (!taskdb_id_ok(id))
		return (vsm_err_set(err, "unusable task id"));
	if (len > TASKDB_RESULT_MAX)
		return (vsm_err_set(err, "result of %zu bytes too large", len));
	pthread_mutex_lock(&db->mtx);
	if ((e = tdb_find(db, id)) == NULL &&
	    (e = tdb_add(db, id, now_ms)) == NULL) {
		vsm_err_set(err, "out of memory");
		goto out;
	}
	if (e->done) {
		ret = 0;
		goto out;
	}
	e->ms = now_ms;
	tdb_unlink(db, e);
	tdb_append(db, e);
	/* Not durable: it stays running so a restart reports it. */
	if (tdb_write(db, e, res, len, err) == -1)
		goto out;
	ret = 0;
out:
	pthread_mutex_unlock(&db->mtx);
	return (ret);
}

size_t
taskdb_unfinished(
    struct taskdb *db, void (*fn)(void *, const char *), void *arg)
{
	struct tdb_ent *e;
	char          **ids = NULL;
	size_t          n = 0, i;

	pthread_mutex_lock(&db->mtx);
	if (db->count > 0 && (ids = calloc(db->count, sizeof(*ids))) != NULL)
		for (e = db->head; e != NULL; e = e->next)
			if (!e->done && (ids[n] = strdup(e->id)) != NULL)
				n++;
	pthread_mutex_unlock(&db->mtx);
	/* fn runs unlocked: it may call taskdb_finish. */
	for (i = 0; i < n; i++) {
		fn(arg, ids[i]);
		free(ids[i]);
	}
	free(ids);
	return (n);
}

int
taskdb_id_of(struct taskdb *db, uint64_t h, char *buf, size_t len)
{
	struct tdb_ent *e;
	int             ret = -1;

	pthread_mutex_lock(&db->mtx);
	if (h != 0 && (e = vsm_map_get(&db->map, h)) != NULL) {
		snprintf(buf, len, "%s", e->id);
		ret = 0;
	}
	pthread_mutex_unlock(&db->mtx);
	return (ret);
}

size_t
taskdb_count(struct taskdb *db)
{
	size_t n;

	pthread_mutex_lock(&db->mtx);
	n = db->count;
	pthread_mutex_unlock(&db->mtx);
	return (n);
}
