/*
 * artifacts.c: artifact uploads from agents (docs/artifacts.md).
 *
 * An upload is opened for one file of one task of the calling host. The
 * controller writes it to DATA_DIR/artifacts/WIRE_TASK_ID/.NAME.part,
 * accepts chunks anywhere inside a window past the contiguous prefix it
 * holds, hashes that prefix (BLAKE2b-256) as it grows, and every
 * ART_SYNC_EVERY bytes fdatasyncs the file and records the prefix in
 * .NAME.state, so a resumed upload (a dropped connection, an idle upload
 * closed, a controller restart) starts again from the last durable
 * prefix. Commit checks the hash against what Open announced, renames the
 * file to NAME and marks the store's row complete; a mismatch throws the
 * file away and the agent starts over.
 *
 * Locking: arts->mtx guards the list and each upload's refs; u->mtx
 * guards an upload's file and counters. An upload is freed when it is
 * dead (replaced, committed, expired) and nobody holds a reference.
 */
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "artifact.h"
#include "ctld.h"
#include "fileio.h"
#include "log.h"

#define ART_CHUNK       (1024 * 1024)
#define ART_CHUNK_MIN   (64 * 1024)
#define ART_WINDOW      8 /* chunks in flight past the prefix; <= 64 */
#define ART_UPLOADS_MAX 256
#define ART_SYNC_EVERY  (16ull << 20)
#define ART_IDLE_MS     (10 * 60 * 1000)
#define ART_STATE_MAX   512

struct upload {
	struct upload  *next;
	uint64_t        id;
	int64_t         host_id;
	int64_t         row; /* store artifact id */
	unsigned        refs;
	int             dead;
	int64_t         used_at; /* monotonic ms */
	pthread_mutex_t mtx;
	int             fd;
	uint64_t        size;
	uint8_t         want[VSM_ARTIFACT_HASH_LEN];
	uint64_t        held;    /* contiguous prefix written and hashed */
	uint64_t        durable; /* prefix synced and in the state file */
	uint64_t        mask;    /* bit i: chunk held/chunk + i written */
	crypto_generichash_state hash;
	char rel[PATH_MAX]; /* "artifacts/WIRE/NAME", the store's path */
	char dir[PATH_MAX]; /* DATA_DIR/artifacts/WIRE */
	char name[VSM_ARTIFACT_NAME_MAX + 1];
};

struct artifacts {
	struct ctld    *cd;
	pthread_mutex_t mtx;
	struct upload  *list;
	unsigned        n;
	uint32_t        chunk;
	uint64_t        max_size;
	uint64_t        min_free;
};

/* A path in u->dir: "" for NAME, ".NAME.part" or ".NAME.state". */
static int
art_path(const struct upload *u, const char *suffix, char *buf, size_t len)
{
	int n;

	if (suffix[0] == '\0')
		n = snprintf(buf, len, "%s/%s", u->dir, u->name);
	else
		n = snprintf(buf, len, "%s/.%s.%s", u->dir, u->name, suffix);
	return (n < 0 || (size_t)n >= len ? -1 : 0);
}

int
artifacts_new(struct ctld *cd, struct artifacts **out)
{
	struct artifacts *a;
	uint64_t          chunk = ART_CHUNK;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return (-1);
	/* A chunk and its envelope must fit the agent listener's cap. */
	while (chunk > ART_CHUNK_MIN && chunk + 4096 > cd->cfg->max_payload)
		chunk /= 2;
	a->cd = cd;
	a->chunk = (uint32_t)chunk;
	a->max_size = cd->cfg->artifact_max_size;
	a->min_free = cd->cfg->artifact_min_free;
	pthread_mutex_init(&a->mtx, NULL);
	*out = a;
	return (0);
}

static void art_free_expired(struct upload *dead);

static void
upload_free(struct upload *u)
{
	if (u == NULL)
		return;
	if (u->fd != -1)
		close(u->fd);
	pthread_mutex_destroy(&u->mtx);
	sodium_memzero(&u->hash, sizeof(u->hash));
	free(u);
}

void
artifacts_free(struct artifacts *a)
{
	if (a == NULL)
		return;
	art_free_expired(a->list);
	pthread_mutex_destroy(&a->mtx);
	free(a);
}

/* Unlink u from the list and mark it dead. Called with a->mtx held. */
static void
art_unlink(struct artifacts *a, struct upload *u)
{
	struct upload **pp;

	for (pp = &a->list; *pp != NULL; pp = &(*pp)->next)
		if (*pp == u) {
			*pp = u->next;
			a->n--;
			break;
		}
	u->dead = 1;
}

/* Drop a reference; the last one frees a dead upload. */
static void
art_put(struct artifacts *a, struct upload *u)
{
	int last;

	pthread_mutex_lock(&a->mtx);
	last = --u->refs == 0 && u->dead;
	pthread_mutex_unlock(&a->mtx);
	if (last)
		upload_free(u);
}

/* Record u->held as durable: fdatasync, then the state file. 0 or -1. */
static int
art_checkpoint(struct upload *u, struct vsm_err *err)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8], text[ART_STATE_MAX];
	char hex[VSM_ARTIFACT_HEX_LEN];
	int  fd = -1, len, ret = -1;

	if (u->durable == u->held)
		return (0);
	if (fdatasync(u->fd) == -1)
		return (vsm_err_set(err, "fdatasync: %s", strerror(errno)));
	sodium_bin2hex(hex, sizeof(hex), u->want, sizeof(u->want));
	len = snprintf(text, sizeof(text),
	    "vsm-artifact-part 1\nsize %" PRIu64 "\nblake2b %s\nheld %" PRIu64
	    "\n",
	    u->size, hex, u->held);
	if (art_path(u, "state", path, sizeof(path)) == -1 ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return (vsm_err_set(err, "path too long"));
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) ==
	        -1 ||
	    write(fd, text, (size_t)len) != len || fsync(fd) == -1 ||
	    rename(tmp, path) == -1) {
		vsm_err_set(err, "%s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	u->durable = u->held;
	ret = 0;
out:
	if (fd != -1)
		close(fd);
	return (ret);
}

/*
 * The prefix a previous upload of u left durable (its state file), if it
 * is for the same size and hash and the part file holds it; else 0.
 */
static uint64_t
art_resume_point(struct upload *u)
{
	char        path[PATH_MAX], text[ART_STATE_MAX];
	char        hex[VSM_ARTIFACT_HEX_LEN], want[VSM_ARTIFACT_HEX_LEN];
	uint64_t    size, held;
	struct stat sb;
	ssize_t     n;
	int         fd;

	if (art_path(u, "state", path, sizeof(path)) == -1 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (0);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return (0);
	text[n] = '\0';
	sodium_bin2hex(want, sizeof(want), u->want, sizeof(u->want));
	if (sscanf(text,
	        "vsm-artifact-part 1\nsize %" SCNu64 "\nblake2b %64s\nheld "
	        "%" SCNu64,
	        &size, hex, &held) != 3 ||
	    size != u->size || strcmp(hex, want) != 0 || held > size ||
	    fstat(u->fd, &sb) == -1 || (uint64_t)sb.st_size < held)
		return (0);
	return (held);
}

/* Throw away the part and state files of u (a mismatch, a new upload). */
static void
art_discard_files(struct upload *u)
{
	char path[PATH_MAX];

	if (art_path(u, "part", path, sizeof(path)) == 0)
		unlink(path);
	if (art_path(u, "state", path, sizeof(path)) == 0)
		unlink(path);
}

static int
art_reply_state(struct vsm_srv_req *req, struct artifacts *a, struct upload *u,
    int complete)
{
	Vsm__Envelope      env = VSM__ENVELOPE__INIT;
	Vsm__ArtifactState st = VSM__ARTIFACT_STATE__INIT;

	if (u != NULL) {
		st.upload_id = u->id;
		st.offset = complete ? u->size : u->held;
	}
	st.chunk_size = a->chunk;
	st.window = ART_WINDOW;
	st.complete = complete;
	env.body_case = VSM__ENVELOPE__BODY_ARTIFACT_STATE;
	env.artifact_state = &st;
	return (agents_reply(req, &env));
}

/*
 * Open (or reopen) the part file of a fresh upload u and find where it
 * resumes; rehashes the durable prefix. 0, or -1 with err set.
 */
static int
art_start_file(struct artifacts *a, struct upload *u, struct vsm_err *err)
{
	char           path[PATH_MAX];
	struct statvfs vfs;
	uint64_t       need, avail;

	if (vsm_mkdirs(u->dir, 0700, err) == -1)
		return (-1);
	if (art_path(u, "part", path, sizeof(path)) == -1)
		return (vsm_err_set(err, "path too long"));
	if ((u->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return (vsm_err_set(err, "%s: %s", path, strerror(errno)));
	crypto_generichash_init(&u->hash, NULL, 0, VSM_ARTIFACT_HASH_LEN);
	u->held = art_resume_point(u);
	if (u->held > 0 &&
	    vsm_hash_range(u->fd, 0, u->held, &u->hash, err) == -1) {
		log_warnx("artifact %s: cannot resume (%s); starting over",
		    u->rel, err->msg);
		crypto_generichash_init(
		    &u->hash, NULL, 0, VSM_ARTIFACT_HASH_LEN);
		u->held = 0;
	}
	u->durable = u->held;
	if (u->held == 0 && ftruncate(u->fd, 0) == -1)
		return (vsm_err_set(err, "%s: %s", path, strerror(errno)));
	if (fstatvfs(u->fd, &vfs) == -1)
		return (vsm_err_set(err, "%s: %s", path, strerror(errno)));
	need = u->size - u->held + a->min_free;
	avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	if (avail < need) {
		errno = ENOSPC;
		return (vsm_err_set(err,
		    "controller disk full: %" PRIu64 " bytes free, %" PRIu64
		    " needed (%" PRIu64 " reserved)",
		    avail, need, a->min_free));
	}
	return (0);
}

/*
 * The final file of a complete-looking row or a crash after the rename:
 * 1 when NAME exists and hashes to u->want, else 0 (NAME removed).
 */
static int
art_final_matches(struct upload *u)
{
	char           path[PATH_MAX];
	uint8_t        got[VSM_ARTIFACT_HASH_LEN];
	struct stat    sb;
	struct vsm_err e;
	int            fd, ok = 0;

	if (art_path(u, "", path, sizeof(path)) == -1 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (0);
	ok = fstat(fd, &sb) == 0 && (uint64_t)sb.st_size == u->size &&
	    vsm_hash_file(fd, u->size, got, &e) == 0 &&
	    sodium_memcmp(got, u->want, sizeof(got)) == 0;
	close(fd);
	return (ok);
}

/* The live upload of rel, or NULL. Called with a->mtx held. */
static struct upload *
art_find_rel(struct artifacts *a, const char *rel)
{
	struct upload *u;

	for (u = a->list; u != NULL; u = u->next)
		if (strcmp(u->rel, rel) == 0)
			return (u);
	return (NULL);
}

/* Take a reference to the live upload `id` of host, or NULL. */
static struct upload *
art_get(struct artifacts *a, uint64_t id, int64_t host_id)
{
	struct upload *u;

	pthread_mutex_lock(&a->mtx);
	for (u = a->list; u != NULL; u = u->next)
		if (u->id == id && u->host_id == host_id) {
			u->refs++;
			break;
		}
	pthread_mutex_unlock(&a->mtx);
	return (u);
}

/*
 * Close uploads idle for ART_IDLE_MS (their durable prefix stays on disk
 * for a later Open). Called with a->mtx held; the victims are returned
 * in *dead for the caller to checkpoint and free unlocked.
 */
static void
art_expire(struct artifacts *a, struct upload **dead)
{
	struct upload *u, *next;
	int64_t        now = ctld_mono();

	for (u = a->list; u != NULL; u = next) {
		next = u->next;
		if (u->refs == 0 && now - u->used_at > ART_IDLE_MS) {
			art_unlink(a, u);
			u->next = *dead;
			*dead = u;
		}
	}
}

static void
art_free_expired(struct upload *dead)
{
	struct upload *u;
	struct vsm_err e;

	while ((u = dead) != NULL) {
		dead = u->next;
		if (art_checkpoint(u, &e) == -1)
			log_warnx("artifact %s: %s", u->rel, e.msg);
		log_info("artifact %s: upload closed at byte %" PRIu64, u->rel,
		    u->held);
		upload_free(u);
	}
}

/* Check an Open and fill the identity of its upload. 0 or an error code. */
static int
art_check_open(struct artifacts *a, int64_t host_id, const Vsm__ArtifactOpen *m,
    struct upload *u, char task[STORE_ID_LEN + 1], struct vsm_err *err)
{
	int64_t owner;
	int     rc;

	if (!vsm_artifact_name_valid(m->name) ||
	    m->blake2b.len != VSM_ARTIFACT_HASH_LEN ||
	    dispatch_store_id(m->task_id, task) == -1) {
		vsm_err_set(err, "artifact open: bad task id, name or hash");
		return (VSM_ART_ERR_BADREQ);
	}
	if (m->size > a->max_size) {
		vsm_err_set(err,
		    "artifact %s: %" PRIu64 " bytes is over the controller's "
		    "limit of %" PRIu64,
		    m->name, m->size, a->max_size);
		return (VSM_ART_ERR_TOOBIG);
	}
	if ((rc = store_task_host(a->cd->st, task, &owner, err)) == -1)
		return (VSM_ART_ERR_BUSY);
	if (rc == STORE_NOTFOUND || owner != host_id) {
		vsm_err_set(err, "task %s is not this host's", m->task_id);
		return (VSM_ART_ERR_FORBIDDEN);
	}
	u->host_id = host_id;
	u->size = m->size;
	memcpy(u->want, m->blake2b.data, VSM_ARTIFACT_HASH_LEN);
	snprintf(u->name, sizeof(u->name), "%s", m->name);
	if ((size_t)snprintf(u->rel, sizeof(u->rel), "artifacts/%s/%s",
	        m->task_id, m->name) >= sizeof(u->rel) ||
	    (size_t)snprintf(u->dir, sizeof(u->dir), "%s/artifacts/%s",
	        a->cd->cfg->data_dir, m->task_id) >= sizeof(u->dir)) {
		vsm_err_set(err, "artifact path too long");
		return (VSM_ART_ERR_BADREQ);
	}
	return (0);
}

void
artifacts_open(struct ctld *cd, int64_t host_id, struct vsm_srv_req *req,
    const Vsm__ArtifactOpen *m)
{
	struct artifacts     *a = cd->arts;
	struct upload        *u, *old, *dead = NULL;
	struct store_artifact row;
	struct vsm_err        err;
	char                  task[STORE_ID_LEN + 1], hex[VSM_ARTIFACT_HEX_LEN];
	int                   code, rc;

	if ((u = calloc(1, sizeof(*u))) == NULL) {
		vsm_srv_drop(req);
		return;
	}
	u->fd = -1;
	pthread_mutex_init(&u->mtx, NULL);
	if ((code = art_check_open(a, host_id, m, u, task, &err)) != 0)
		goto fail;

	/* A live upload of the same file resumes where it is. */
	pthread_mutex_lock(&a->mtx);
	art_expire(a, &dead);
	if ((old = art_find_rel(a, u->rel)) != NULL) {
		if (old->size == u->size &&
		    memcmp(old->want, u->want, sizeof(u->want)) == 0) {
			old->refs++;
			pthread_mutex_unlock(&a->mtx);
			art_free_expired(dead);
			upload_free(u);
			pthread_mutex_lock(&old->mtx);
			old->host_id = host_id;
			old->used_at = ctld_mono();
			art_reply_state(req, a, old, 0);
			pthread_mutex_unlock(&old->mtx);
			art_put(a, old);
			return;
		}
		/* The agent made the file again: the old upload is void. */
		art_unlink(a, old);
		old->refs++;
	}
	pthread_mutex_unlock(&a->mtx);
	art_free_expired(dead);
	if (old != NULL) {
		pthread_mutex_lock(&old->mtx);
		art_discard_files(old);
		pthread_mutex_unlock(&old->mtx);
		art_put(a, old);
	}

	if ((rc = store_artifact_add(
	         cd->st, task, u->rel, ctld_now(), &row, &err)) != 0) {
		/* Another task's path is a conflict; the rest is transient. */
		code = rc == STORE_EXISTS ? VSM_ART_ERR_CONFLICT
		                          : VSM_ART_ERR_BUSY;
		goto fail;
	}
	u->row = row.id;
	store_artifact_clear(&row);
	if (row.complete) {
		if (row.size == (int64_t)u->size &&
		    memcmp(row.blake2b, u->want, sizeof(u->want)) == 0) {
			art_reply_state(req, a, u, 1);
			upload_free(u);
			return;
		}
		code = VSM_ART_ERR_CONFLICT;
		vsm_err_set(
		    &err, "artifact %s is stored with other content", u->rel);
		goto fail;
	}
	/* A crash between the rename and the store: finish the commit. */
	if (art_final_matches(u)) {
		if (store_artifact_complete(cd->st, u->row, (int64_t)u->size,
		        u->want, ctld_now(), &err) == -1) {
			code = VSM_ART_ERR_BUSY;
			goto fail;
		}
		art_reply_state(req, a, u, 1);
		upload_free(u);
		return;
	}
	if (art_start_file(a, u, &err) == -1) {
		code = errno == ENOSPC ? VSM_ART_ERR_NOSPACE : VSM_ART_ERR_BUSY;
		goto fail;
	}
	randombytes_buf(&u->id, sizeof(u->id));
	u->used_at = ctld_mono();
	pthread_mutex_lock(&a->mtx);
	if (a->n >= ART_UPLOADS_MAX || art_find_rel(a, u->rel) != NULL) {
		pthread_mutex_unlock(&a->mtx);
		code = VSM_ART_ERR_BUSY;
		vsm_err_set(&err, "too many uploads at once; retry later");
		goto fail;
	}
	u->next = a->list;
	a->list = u;
	a->n++;
	u->refs++;
	pthread_mutex_unlock(&a->mtx);
	sodium_bin2hex(hex, sizeof(hex), u->want, sizeof(u->want));
	log_info("artifact %s: upload of %" PRIu64 " bytes (blake2b %.16s...) "
	         "%s at byte %" PRIu64,
	    u->rel, u->size, hex, u->held > 0 ? "resumes" : "starts", u->held);
	pthread_mutex_lock(&u->mtx);
	art_reply_state(req, a, u, 0);
	pthread_mutex_unlock(&u->mtx);
	art_put(a, u);
	return;
fail:
	log_warnx("host %lld: %s", (long long)host_id, err.msg);
	agents_reply_error(req, (uint32_t)code, err.msg);
	upload_free(u);
}

/* Write all of buf at off. 0, or -1 with errno set. */
static int
art_pwrite(int fd, const uint8_t *buf, size_t len, uint64_t off)
{
	ssize_t n;

	while (len > 0) {
		if ((n = pwrite(fd, buf, len, (off_t)off)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		buf += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return (0);
}

/*
 * Take chunk m into u (u->mtx held): write it, then hash forward over
 * every chunk now contiguous with the prefix. 0, or an error code with err.
 */
static int
art_take_chunk(struct artifacts *a, struct upload *u,
    const Vsm__ArtifactChunk *m, struct vsm_err *err)
{
	uint64_t idx, len;

	if (m->offset % a->chunk != 0 || m->offset >= u->size ||
	    m->data.len !=
	        (u->size - m->offset < a->chunk ? u->size - m->offset
	                                        : a->chunk)) {
		vsm_err_set(err,
		    "artifact %s: chunk at %" PRIu64 " of %zu bytes does not "
		    "fit chunks of %u in %" PRIu64 " bytes",
		    u->rel, m->offset, m->data.len, a->chunk, u->size);
		return (VSM_ART_ERR_BADREQ);
	}
	if (m->offset < u->held)
		return (0); /* a resend of what is held */
	idx = (m->offset - u->held) / a->chunk;
	if (idx >= ART_WINDOW) {
		vsm_err_set(err,
		    "artifact %s: chunk at %" PRIu64 " is past the window "
		    "(held %" PRIu64 ")",
		    u->rel, m->offset, u->held);
		return (VSM_ART_ERR_WINDOW);
	}
	if (u->mask & (1ull << idx))
		return (0);
	if (art_pwrite(u->fd, m->data.data, m->data.len, m->offset) == -1) {
		int nospace = errno == ENOSPC || errno == EDQUOT;

		vsm_err_set(
		    err, "artifact %s: write: %s", u->rel, strerror(errno));
		return (nospace ? VSM_ART_ERR_NOSPACE : VSM_ART_ERR_BUSY);
	}
	u->mask |= 1ull << idx;
	while (u->mask & 1) {
		len =
		    u->size - u->held < a->chunk ? u->size - u->held : a->chunk;
		if (u->held == m->offset)
			crypto_generichash_update(
			    &u->hash, m->data.data, m->data.len);
		else if (vsm_hash_range(u->fd, u->held, u->held + len, &u->hash,
		             err) == -1)
			return (VSM_ART_ERR_BUSY);
		u->held += len;
		u->mask >>= 1;
	}
	if (u->held - u->durable >= ART_SYNC_EVERY &&
	    art_checkpoint(u, err) == -1)
		return (VSM_ART_ERR_BUSY);
	return (0);
}

/*
 * The host's upload id, referenced and locked (u->mtx); NULL when there
 * is none, with req answered.
 */
static struct upload *
art_begin(
    struct artifacts *a, uint64_t id, int64_t host_id, struct vsm_srv_req *req)
{
	struct upload *u;

	if ((u = art_get(a, id, host_id)) == NULL) {
		agents_reply_error(
		    req, VSM_ART_ERR_UNKNOWN, "no such upload; open it again");
		return (NULL);
	}
	pthread_mutex_lock(&u->mtx);
	return (u);
}

/* Unlock and drop u; a non-zero code answers req with err. */
static void
art_end(struct artifacts *a, struct upload *u, int64_t host_id,
    struct vsm_srv_req *req, int code, const struct vsm_err *err)
{
	pthread_mutex_unlock(&u->mtx);
	if (code != 0) {
		log_warnx("host %lld: %s", (long long)host_id, err->msg);
		agents_reply_error(req, (uint32_t)code, err->msg);
	}
	art_put(a, u);
}

void
artifacts_chunk(struct ctld *cd, int64_t host_id, struct vsm_srv_req *req,
    const Vsm__ArtifactChunk *m)
{
	struct artifacts *a = cd->arts;
	struct upload    *u;
	struct vsm_err    err;
	int               code;

	if ((u = art_begin(a, m->upload_id, host_id, req)) == NULL)
		return;
	u->used_at = ctld_mono();
	if (u->dead)
		code = VSM_ART_ERR_UNKNOWN, vsm_err_set(&err, "upload closed");
	else
		code = art_take_chunk(a, u, m, &err);
	if (code == 0)
		art_reply_state(req, a, u, 0);
	art_end(a, u, host_id, req, code, &err);
}

/*
 * Check the whole file and keep it (u->mtx held). 0, or an error code
 * with err; a checksum mismatch has discarded the files.
 */
static int
art_finish(struct ctld *cd, struct upload *u, struct vsm_err *err)
{
	crypto_generichash_state h;
	uint8_t                  got[VSM_ARTIFACT_HASH_LEN];
	char                     part[PATH_MAX], final[PATH_MAX];

	if (u->held != u->size) {
		vsm_err_set(err,
		    "artifact %s: commit at byte %" PRIu64 " of %" PRIu64,
		    u->rel, u->held, u->size);
		return (VSM_ART_ERR_WINDOW);
	}
	h = u->hash; /* a copy: a failed commit may be retried */
	crypto_generichash_final(&h, got, sizeof(got));
	if (sodium_memcmp(got, u->want, sizeof(got)) != 0) {
		art_discard_files(u);
		vsm_err_set(err, "artifact %s: BLAKE2b mismatch; send it again",
		    u->rel);
		return (VSM_ART_ERR_CHECKSUM);
	}
	if (art_path(u, "part", part, sizeof(part)) == -1 ||
	    art_path(u, "", final, sizeof(final)) == -1)
		return (vsm_err_set(err, "path too long"), VSM_ART_ERR_BADREQ);
	if (fsync(u->fd) == -1 || rename(part, final) == -1) {
		vsm_err_set(
		    err, "artifact %s: keep: %s", u->rel, strerror(errno));
		return (VSM_ART_ERR_BUSY);
	}
	vsm_fsync_dir(u->dir);
	if (art_path(u, "state", part, sizeof(part)) == 0)
		unlink(part);
	if (store_artifact_complete(cd->st, u->row, (int64_t)u->size, u->want,
	        ctld_now(), err) == -1)
		return (VSM_ART_ERR_BUSY); /* a new Open finishes it */
	return (0);
}

void
artifacts_commit(struct ctld *cd, int64_t host_id, struct vsm_srv_req *req,
    const Vsm__ArtifactCommit *m)
{
	struct artifacts *a = cd->arts;
	struct upload    *u;
	struct vsm_err    err;
	int               code;

	if ((u = art_begin(a, m->upload_id, host_id, req)) == NULL)
		return;
	if (u->dead)
		code = VSM_ART_ERR_UNKNOWN, vsm_err_set(&err, "upload closed");
	else
		code = art_finish(cd, u, &err);
	if (code == 0 || code == VSM_ART_ERR_CHECKSUM ||
	    code == VSM_ART_ERR_BUSY) {
		/* Done, or void: a later Open starts from what is on disk. */
		pthread_mutex_lock(&a->mtx);
		if (!u->dead)
			art_unlink(a, u);
		pthread_mutex_unlock(&a->mtx);
	}
	if (code == 0) {
		log_info("artifact %s: %" PRIu64 " bytes stored and verified",
		    u->rel, u->size);
		art_reply_state(req, a, u, 1);
	}
	art_end(a, u, host_id, req, code, &err);
}
