/*
 * uploader.c: artifacts from the agent's disk to the controller
 * (docs/artifacts.md).
 *
 * A task leaves NAME in DATA_DIR/artifacts/TASK and announces it; the
 * poller then writes the manifest .NAME.ready beside it (size and
 * BLAKE2b). This thread takes one manifest at a time: Open tells it where
 * the controller's copy ends, a window of worker threads sends the rest
 * in chunks (each worker one request in flight, never past the window the
 * controller allows), and Commit has the controller check the whole file.
 * Only a complete, verified copy lets the agent delete its own. A lost
 * connection, a controller restart or a full controller disk just means
 * trying again later from where the controller's copy ends; what the
 * controller refuses for good is kept as .NAME.failed and reported in
 * the task's log.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "agent_backoff.h"
#include "artifact.h"
#include "fileio.h"
#include "log.h"

#define UP_WINDOW_MAX  8
#define UP_IDLE_MS     30000 /* look at the directory again anyway */
#define UP_RETRY_BASE  1000
#define UP_RETRY_CAP   60000
#define UP_REOPEN_MAX  8 /* reopens in a row before backing off */
#define UP_MANIFEST    "ready"
#define UP_FAILED      "failed"
#define UP_MANIFEST_SZ 256
#define UP_CHUNK_MAX   (VSM_SERVER_MAX_PAYLOAD_DEFAULT - 4096)

enum up_rc {
	UP_DONE = 0, /* the controller holds it: delete ours */
	UP_REOPEN,   /* open again now (expired upload, window, checksum) */
	UP_RETRY,    /* try again later (link, busy, disk full) */
	UP_GIVEUP,   /* refused for good */
	UP_STOP,     /* the agent is stopping */
};

struct up_file {
	char     dir[PATH_MAX]; /* DATA_DIR/artifacts/TASK */
	char     task[TASKDB_ID_MAX + 1];
	char     name[VSM_ARTIFACT_NAME_MAX + 1];
	uint64_t size;
	uint8_t  hash[VSM_ARTIFACT_HASH_LEN];
	int      fd;
};

/* What the workers of one pass share. */
struct up_pass {
	struct agent   *a;
	struct up_file *f;
	uint64_t        gen;
	uint64_t        id;
	uint32_t        chunk;
	uint64_t        span; /* window * chunk */
	pthread_mutex_t mtx;
	pthread_cond_t  cv;
	uint64_t        next;  /* next offset to send */
	uint64_t        acked; /* highest prefix the controller reported */
	enum up_rc      rc;    /* first failure, UP_DONE while none */
	char            why[sizeof(((struct vsm_err *)0)->msg)];
};

int
uploader_dir(const struct agent *a, char *buf, size_t len)
{
	return (
	    (size_t)snprintf(buf, len, "%s/artifacts", a->cfg->data_dir) >= len
	        ? -1
	        : 0);
}

/* ".NAME.SUFFIX" in f->dir, into buf. 0 or -1. */
static int
up_side(const struct up_file *f, const char *suffix, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/.%s.%s", f->dir, f->name, suffix);

	return (n < 0 || (size_t)n >= len ? -1 : 0);
}

int
uploader_announce(struct agent *a, const char *task_id,
    const Vsm__ArtifactReady *r, struct vsm_err *err)
{
	struct up_file f;
	char           path[PATH_MAX], hex[VSM_ARTIFACT_HEX_LEN];
	char           text[UP_MANIFEST_SZ];
	int            n;

	if (!vsm_artifact_name_valid(task_id) ||
	    !vsm_artifact_name_valid(r->name) ||
	    r->blake2b.len != VSM_ARTIFACT_HASH_LEN)
		return (vsm_err_set(err, "bad artifact announcement"));
	memset(&f, 0, sizeof(f));
	snprintf(f.name, sizeof(f.name), "%s", r->name);
	if (uploader_dir(a, path, sizeof(path)) == -1 ||
	    (size_t)snprintf(f.dir, sizeof(f.dir), "%s/%s", path, task_id) >=
	        sizeof(f.dir) ||
	    up_side(&f, UP_MANIFEST, path, sizeof(path)) == -1)
		return (vsm_err_set(err, "artifact path too long"));
	sodium_bin2hex(hex, sizeof(hex), r->blake2b.data, r->blake2b.len);
	n = snprintf(text, sizeof(text),
	    "vsm-artifact 1\nsize %" PRIu64 "\nblake2b %s\n", r->size, hex);
	if (vsm_write_new_file(path, text, (size_t)n, 0600, NULL, err) == -1)
		return (-1);
	pthread_mutex_lock(&a->mtx);
	a->artifacts++;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->mtx);
	return (0);
}

/* Read the manifest of f (dir, task and name set). 0 or -1. */
static int
up_manifest(struct up_file *f)
{
	char    path[PATH_MAX], text[UP_MANIFEST_SZ], hex[VSM_ARTIFACT_HEX_LEN];
	ssize_t n;
	size_t  hlen;
	int     fd;

	if (up_side(f, UP_MANIFEST, path, sizeof(path)) == -1 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return (-1);
	text[n] = '\0';
	if (sscanf(text, "vsm-artifact 1\nsize %" SCNu64 "\nblake2b %64s",
	        &f->size, hex) != 2 ||
	    sodium_hex2bin(f->hash, sizeof(f->hash), hex, strlen(hex), NULL,
	        &hlen, NULL) != 0 ||
	    hlen != sizeof(f->hash))
		return (-1);
	return (0);
}

/* The manifest in dir/task, if any: 1 with f filled, else 0. */
static int
up_find_in(const char *dir, const char *task, struct up_file *f)
{
	struct dirent *de;
	DIR           *d;
	char           mpath[PATH_MAX], fpath[PATH_MAX];
	size_t         len, sl = sizeof(UP_MANIFEST);
	int            found = 0;

	if ((size_t)snprintf(f->dir, sizeof(f->dir), "%s/%s", dir, task) >=
	        sizeof(f->dir) ||
	    (d = opendir(f->dir)) == NULL)
		return (0);
	while (!found && (de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (de->d_name[0] != '.' || len <= sl + 1 ||
		    strcmp(de->d_name + len - sl, "." UP_MANIFEST) != 0 ||
		    len - sl - 1 > VSM_ARTIFACT_NAME_MAX)
			continue;
		memcpy(f->name, de->d_name + 1, len - sl - 1);
		f->name[len - sl - 1] = '\0';
		snprintf(f->task, sizeof(f->task), "%.*s", TASKDB_ID_MAX, task);
		if (!vsm_artifact_name_valid(f->name))
			continue;
		if (up_manifest(f) == -1) {
			/* Parked once, not found (and logged) on every scan. */
			log_warnx("artifact %s/%s: unreadable manifest; kept "
			          "on the host as ." UP_FAILED,
			    task, f->name);
			if (up_side(f, UP_MANIFEST, mpath, sizeof(mpath)) ==
			        0 &&
			    up_side(f, UP_FAILED, fpath, sizeof(fpath)) == 0)
				rename(mpath, fpath);
			continue;
		}
		found = 1;
	}
	closedir(d);
	return (found);
}

/* The next artifact waiting: 1 with f filled, 0 when none. */
static int
up_find(struct agent *a, struct up_file *f)
{
	char           dir[PATH_MAX];
	struct dirent *de;
	DIR           *d;
	int            found = 0;

	if (uploader_dir(a, dir, sizeof(dir)) == -1 ||
	    (d = opendir(dir)) == NULL)
		return (0);
	while (!found && (de = readdir(d)) != NULL)
		if (vsm_artifact_name_valid(de->d_name))
			found = up_find_in(dir, de->d_name, f);
	closedir(d);
	return (found);
}

/* The Error code of a refused request, as what to do next. */
static enum up_rc
up_code(uint32_t code)
{
	switch (code) {
	case VSM_ART_ERR_UNKNOWN:
	case VSM_ART_ERR_WINDOW:
	case VSM_ART_ERR_CHECKSUM:
		return (UP_REOPEN);
	case VSM_ART_ERR_BUSY:
	case VSM_ART_ERR_NOSPACE:
		return (UP_RETRY);
	default:
		return (UP_GIVEUP);
	}
}

/*
 * One request of the upload. UP_DONE with *st (the reply's ArtifactState,
 * caller frees *rep) or a failure with why filled.
 */
static enum up_rc
up_call(struct agent *a, uint64_t gen, Vsm__Envelope *req, Vsm__Envelope **rep,
    char *why, size_t wlen)
{
	struct vsm_err err;

	*rep = NULL;
	if (agent_call(a, req, rep, AGENT_CALL_MS, &err) == -1) {
		if (agent_stopping(a))
			return (UP_STOP);
		snprintf(why, wlen, "%s", err.msg);
		agent_link_failed(a, gen);
		return (UP_RETRY);
	}
	if ((*rep)->body_case == VSM__ENVELOPE__BODY_ARTIFACT_STATE)
		return (UP_DONE);
	if ((*rep)->body_case == VSM__ENVELOPE__BODY_ERROR) {
		snprintf(why, wlen, "%s", (*rep)->error->message);
		return (up_code((*rep)->error->code));
	}
	snprintf(why, wlen, "unexpected reply %d", (int)(*rep)->body_case);
	return (UP_RETRY);
}

/* Record the first failure of a pass and wake the other workers. */
static void
up_fail(struct up_pass *p, enum up_rc rc, const char *why)
{
	pthread_mutex_lock(&p->mtx);
	if (p->rc == UP_DONE) {
		p->rc = rc;
		snprintf(p->why, sizeof(p->why), "%s", why);
	}
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mtx);
}

/* A worker: take the next chunk the window allows, send it, repeat. */
static void *
up_worker(void *arg)
{
	struct up_pass    *p = arg;
	Vsm__Envelope      req = VSM__ENVELOPE__INIT, *rep;
	Vsm__ArtifactChunk ch = VSM__ARTIFACT_CHUNK__INIT;
	char               why[sizeof(p->why)];
	uint8_t           *buf;
	uint64_t           off, len;
	ssize_t            n;
	enum up_rc         rc;

	if ((buf = malloc(p->chunk)) == NULL) {
		up_fail(p, UP_RETRY, "out of memory");
		return (NULL);
	}
	req.body_case = VSM__ENVELOPE__BODY_ARTIFACT_CHUNK;
	req.artifact_chunk = &ch;
	ch.upload_id = p->id;
	for (;;) {
		pthread_mutex_lock(&p->mtx);
		while (p->rc == UP_DONE && p->next < p->f->size &&
		    p->next >= p->acked + p->span)
			pthread_cond_wait(&p->cv, &p->mtx);
		if (p->rc != UP_DONE || p->next >= p->f->size) {
			pthread_mutex_unlock(&p->mtx);
			break;
		}
		off = p->next;
		len = p->f->size - off < p->chunk ? p->f->size - off : p->chunk;
		p->next += len;
		pthread_mutex_unlock(&p->mtx);

		n = pread(p->f->fd, buf, (size_t)len, (off_t)off);
		if (n != (ssize_t)len) {
			snprintf(why, sizeof(why), "read at %" PRIu64 ": %s",
			    off, n == -1 ? strerror(errno) : "file shrank");
			up_fail(p, UP_GIVEUP, why);
			break;
		}
		ch.offset = off;
		ch.data.data = buf;
		ch.data.len = (size_t)len;
		if ((rc = up_call(p->a, p->gen, &req, &rep, why,
		         sizeof(why))) != UP_DONE) {
			up_fail(p, rc, why);
			if (rep != NULL)
				vsm__envelope__free_unpacked(rep, NULL);
			break;
		}
		pthread_mutex_lock(&p->mtx);
		if (rep->artifact_state->offset > p->acked)
			p->acked = rep->artifact_state->offset;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mtx);
		vsm__envelope__free_unpacked(rep, NULL);
	}
	free(buf);
	return (NULL);
}

/* Send everything past *st with a window of workers. */
static enum up_rc
up_send(struct up_pass *p, const Vsm__ArtifactState *st, char *why, size_t wlen)
{
	pthread_t th[UP_WINDOW_MAX];
	unsigned  i, nw, started = 0;

	/* A chunk must fit one request of the channel, with its envelope. */
	if (st->chunk_size == 0 || st->chunk_size > UP_CHUNK_MAX ||
	    st->window == 0 || st->offset > p->f->size) {
		snprintf(why, wlen, "controller sent a bad upload state");
		return (UP_RETRY);
	}
	p->id = st->upload_id;
	p->chunk = st->chunk_size;
	nw = st->window < UP_WINDOW_MAX ? st->window : UP_WINDOW_MAX;
	p->span = (uint64_t)nw * p->chunk;
	p->next = p->acked = st->offset;
	p->rc = UP_DONE;
	for (i = 1; i < nw; i++)
		if (pthread_create(&th[started], NULL, up_worker, p) == 0)
			started++;
	up_worker(p);
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	snprintf(why, wlen, "%s", p->why);
	return (p->rc);
}

/* One Open, send, Commit pass over f. */
static enum up_rc
up_pass(
    struct agent *a, struct up_file *f, uint64_t gen, char *why, size_t wlen)
{
	Vsm__Envelope       req = VSM__ENVELOPE__INIT, *rep = NULL;
	Vsm__ArtifactOpen   op = VSM__ARTIFACT_OPEN__INIT;
	Vsm__ArtifactCommit cm = VSM__ARTIFACT_COMMIT__INIT;
	struct up_pass      p;
	enum up_rc          rc;

	op.task_id = f->task;
	op.name = f->name;
	op.size = f->size;
	op.blake2b.data = f->hash;
	op.blake2b.len = sizeof(f->hash);
	req.body_case = VSM__ENVELOPE__BODY_ARTIFACT_OPEN;
	req.artifact_open = &op;
	if ((rc = up_call(a, gen, &req, &rep, why, wlen)) != UP_DONE)
		goto out;
	if (rep->artifact_state->complete)
		goto out;
	if (rep->artifact_state->offset > 0)
		log_info("artifact %s/%s: resuming at byte %" PRIu64
		         " of %" PRIu64,
		    f->task, f->name, rep->artifact_state->offset, f->size);
	memset(&p, 0, sizeof(p));
	p.a = a;
	p.f = f;
	p.gen = gen;
	pthread_mutex_init(&p.mtx, NULL);
	pthread_cond_init(&p.cv, NULL);
	rc = up_send(&p, rep->artifact_state, why, wlen);
	pthread_cond_destroy(&p.cv);
	pthread_mutex_destroy(&p.mtx);
	vsm__envelope__free_unpacked(rep, NULL);
	rep = NULL;
	if (rc != UP_DONE)
		goto out;
	cm.upload_id = p.id;
	req.body_case = VSM__ENVELOPE__BODY_ARTIFACT_COMMIT;
	req.artifact_commit = &cm;
	if ((rc = up_call(a, gen, &req, &rep, why, wlen)) == UP_DONE &&
	    !rep->artifact_state->complete) {
		snprintf(why, wlen, "commit not complete");
		rc = UP_REOPEN;
	}
out:
	if (rep != NULL)
		vsm__envelope__free_unpacked(rep, NULL);
	return (rc);
}

/*
 * The controller has it: remove its manifest, then our copy, then an
 * empty dir. In that order a crash in between leaves an unannounced file,
 * which uploader_sweep() removes, never a manifest without its file
 * (which would be reported as not uploaded).
 */
static void
up_delete(struct up_file *f)
{
	char path[PATH_MAX];

	if (up_side(f, UP_MANIFEST, path, sizeof(path)) == 0)
		unlink(path);
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", f->dir, f->name) <
	    sizeof(path))
		unlink(path);
	rmdir(f->dir); /* fails while other artifacts remain */
}

/* Refused for good: keep the file, park the manifest, tell the task. */
static void
up_give_up(struct agent *a, struct up_file *f, const char *why)
{
	Vsm__TaskEvent ev = VSM__TASK_EVENT__INIT;
	Vsm__LogLine   ll = VSM__LOG_LINE__INIT;
	char           from[PATH_MAX], to[PATH_MAX], line[PATH_MAX + 1024];

	/* Parked, or at least never picked again. */
	if (up_side(f, UP_MANIFEST, from, sizeof(from)) == 0 &&
	    (up_side(f, UP_FAILED, to, sizeof(to)) == -1 ||
	        rename(from, to) == -1))
		unlink(from);
	log_warnx("artifact %s/%s: not uploaded, kept in %s: %s", f->task,
	    f->name, f->dir, why);
	snprintf(line, sizeof(line),
	    "artifact %s not uploaded (kept on the host in %s): %s", f->name,
	    f->dir, why);
	ll.stream = VSM__LOG_LINE__STREAM__MODULE;
	ll.line = line;
	ev.task_id = f->task;
	ev.time_ms = agent_now_ms();
	ev.kind_case = VSM__TASK_EVENT__KIND_LOG;
	ev.log = &ll;
	agent_spool_event(a, &ev);
}

/*
 * Upload f until it is done, refused or the agent stops; transient
 * failures back off with full jitter. f->fd is open.
 */
static void
up_one(struct agent *a, struct up_file *f)
{
	struct backoff bo;
	struct stat    sb;
	char           why[sizeof(((struct vsm_err *)0)->msg)] = "";
	unsigned       reopens = 0;
	uint64_t       gen;
	enum up_rc     rc;

	backoff_init(&bo, UP_RETRY_BASE, UP_RETRY_CAP);
	if (fstat(f->fd, &sb) == -1 || (uint64_t)sb.st_size != f->size) {
		up_give_up(a, f, "the file changed size since it was written");
		return;
	}
	while ((gen = agent_wait_link(a)) != 0) {
		rc = up_pass(a, f, gen, why, sizeof(why));
		if (rc == UP_DONE) {
			log_info("artifact %s/%s: %" PRIu64 " bytes uploaded "
			         "and verified",
			    f->task, f->name, f->size);
			up_delete(f);
			return;
		}
		if (rc == UP_STOP)
			return;
		if (rc == UP_GIVEUP) {
			up_give_up(a, f, why);
			return;
		}
		if (rc == UP_REOPEN && ++reopens < UP_REOPEN_MAX) {
			log_info("artifact %s/%s: %s; opening again", f->task,
			    f->name, why);
			continue;
		}
		reopens = 0;
		log_warnx("artifact %s/%s: %s; retrying later", f->task,
		    f->name, why);
		if (agent_sleep(a, backoff_next(&bo)) == -1)
			return;
	}
}

void
uploader_sweep(struct agent *a)
{
	char           dir[PATH_MAX], sub[PATH_MAX], path[PATH_MAX * 2];
	struct dirent *de, *fe;
	struct up_file f;
	DIR           *d, *fd;

	if (uploader_dir(a, dir, sizeof(dir)) == -1 ||
	    (d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!vsm_artifact_name_valid(de->d_name) ||
		    (size_t)snprintf(sub, sizeof(sub), "%s/%s", dir,
		        de->d_name) >= sizeof(sub) ||
		    (fd = opendir(sub)) == NULL)
			continue;
		while ((fe = readdir(fd)) != NULL) {
			if (!vsm_artifact_name_valid(fe->d_name))
				continue;
			memset(&f, 0, sizeof(f));
			snprintf(f.dir, sizeof(f.dir), "%s", sub);
			snprintf(f.name, sizeof(f.name), "%.128s", fe->d_name);
			if (up_side(&f, UP_MANIFEST, path, sizeof(path)) == 0 &&
			    access(path, F_OK) == 0)
				continue;
			if (up_side(&f, UP_FAILED, path, sizeof(path)) == 0 &&
			    access(path, F_OK) == 0)
				continue;
			/* Never announced: its task died writing it. */
			snprintf(path, sizeof(path), "%s/%s", sub, fe->d_name);
			log_warnx("artifact %s: unfinished, removed", path);
			unlink(path);
		}
		closedir(fd);
		rmdir(sub);
	}
	closedir(d);
}

void *
uploader_main(void *arg)
{
	struct agent  *a = arg;
	struct up_file f;
	char           path[PATH_MAX];
	uint64_t       seen;

	while (!agent_stopping(a)) {
		pthread_mutex_lock(&a->mtx);
		seen = a->artifacts;
		pthread_mutex_unlock(&a->mtx);
		memset(&f, 0, sizeof(f));
		if (up_find(a, &f)) {
			if ((size_t)snprintf(path, sizeof(path), "%s/%s", f.dir,
			        f.name) < sizeof(path) &&
			    (f.fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
				up_one(a, &f);
				close(f.fd);
				/* Give back the chunks' memory (main.c). */
				malloc_trim(0);
			} else {
				f.fd = -1;
				up_give_up(a, &f, "the file is gone");
			}
			continue;
		}
		agent_wait_change(a, &a->artifacts, seen, UP_IDLE_MS);
	}
	return (NULL);
}
