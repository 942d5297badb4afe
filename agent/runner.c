/*
 * runner.c: run each task in a vsm-task child (runner.h, docs/tasks.md).
 *
 * runner_start packs a TaskSpawn into the child's stdin pipe before the
 * child exists (the frame fits in the pipe buffer, so no write can block or
 * raise SIGPIPE), spawns vsm-task in a new process group with fd 3 as its
 * event pipe, and hands the child to a thread. The thread forwards events,
 * enforces the timeout and cancels, waits for the group leader to exit
 * without reaping it (waitid WNOWAIT, so the group id cannot be reused),
 * kills what is left of the group, reaps the leader and delivers the one
 * RESULT.
 */
#define _GNU_SOURCE /* sigabbrev_np, pipe2, addclosefrom_np */

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "artifact.h"
#include "log.h"
#include "runner.h"
#include "task_bins.h"

#define RUNNER_READ_CHUNK (64 * 1024)
#define RUNNER_FD_MIN     10 /* pipe ends are moved at or above this */

enum runner_end {
	RUNNER_END_NONE = 0,
	RUNNER_END_TIMEOUT,
	RUNNER_END_CANCEL,
	RUNNER_END_PROTO,
	RUNNER_END_LATE, /* the deadline had passed before the start */
};

struct runner_task {
	struct runner      *r;
	struct runner_task *next;
	char               *id;
	pthread_t           thread;
	int                 running; /* counted in nrunning (r->mtx) */
	int                 cancel;  /* runner_cancel asked (r->mtx) */
	int                 done;    /* thread finished: join it (r->mtx) */
	int                 wake[2]; /* runner_cancel writes a byte */
	pid_t               pid;     /* also the process group id */
	int                 evfd;
	uint64_t            timeout_ms;
	runner_event_cb    *cb;
	void               *arg;

	/* Owned by the thread. */
	enum runner_end end;
	Vsm__TaskEvent *result;       /* the child's RESULT, kept unpacked */
	int             result_final; /* arrived before any kill */
	char            proto_err[128];
	uint8_t        *buf;
	size_t          len, cap;
};

struct runner {
	pthread_mutex_t      mtx;
	char                 task_path[PATH_MAX];
	struct task_bins     bins; /* which binary runs which module */
	char                 artifact_dir[PATH_MAX]; /* "" : none */
	char                 config_path[PATH_MAX];  /* "" : none */
	unsigned             max_tasks;
	unsigned             nrunning;
	struct runner_limits limits;
	uint32_t             default_timeout_s;
	uint32_t             grace_ms;
	uint32_t             max_line;
	uint64_t             max_output;
	char                *env[RUNNER_ENV_MAX + 3];
	struct runner_task  *tasks;

	/*
	 * Every vsm-task is spawned by this one thread, which lives as long
	 * as the runner: a child's parent-death signal (PR_SET_PDEATHSIG,
	 * tied to the spawning thread) then fires only when the agent dies.
	 */
	pthread_t                spawner;
	int                      spawner_up, spawner_stop;
	pthread_mutex_t          spawn_mtx;
	pthread_cond_t           spawn_cv;
	struct runner_spawn_req *spawn_req;
};

/* One spawn handed to the spawner thread. */
struct runner_spawn_req {
	const char     *path;
	int             in_r, ev_w;
	pid_t           pid;
	int             done;
	struct vsm_err *err;
};

static void *runner_spawner(void *);

static uint64_t
runner_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

static uint64_t
runner_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

const char *
runner_signame(int sig, char *buf, size_t len)
{
	const char *abbrev = sigabbrev_np(sig);

	if (abbrev != NULL)
		snprintf(buf, len, "SIG%s", abbrev);
	else
		snprintf(buf, len, "signal %d", sig);
	return (buf);
}

static void
runner_close(int *fd)
{
	if (*fd != -1) {
		close(*fd);
		*fd = -1;
	}
}

/* Move fd to RUNNER_FD_MIN or above, close-on-exec. -1 on error. */
static int
runner_fd_high(int *fd)
{
	int nfd;

	if ((nfd = fcntl(*fd, F_DUPFD_CLOEXEC, RUNNER_FD_MIN)) == -1)
		return (-1);
	close(*fd);
	*fd = nfd;
	return (0);
}

static int
runner_env_add(struct runner *r, size_t *n, const char *name, const char *value)
{
	size_t len = strlen(name) + strlen(value) + 2;

	if (*n >= RUNNER_ENV_MAX + 2)
		return (-1);
	if ((r->env[*n] = malloc(len)) == NULL)
		return (-1);
	snprintf(r->env[*n], len, "%s=%s", name, value);
	(*n)++;
	return (0);
}

struct runner *
runner_new(const struct runner_config *cfg, struct vsm_err *err)
{
	struct runner *r;
	size_t         n = 0, i;
	const char    *v;
	char           self[PATH_MAX], *slash;
	ssize_t        len;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		vsm_err_set(err, "runner: out of memory");
		return (NULL);
	}
	pthread_mutex_init(&r->mtx, NULL);
	pthread_mutex_init(&r->spawn_mtx, NULL);
	pthread_cond_init(&r->spawn_cv, NULL);
	r->max_tasks = cfg->max_tasks ? cfg->max_tasks : 4;
	if (r->max_tasks > RUNNER_TASK_MAX)
		r->max_tasks = RUNNER_TASK_MAX;
	r->limits = cfg->limits;
	r->default_timeout_s = cfg->default_timeout_s ? cfg->default_timeout_s
	                                              : RUNNER_TIMEOUT_DEFAULT;
	r->grace_ms = cfg->grace_ms ? cfg->grace_ms : RUNNER_GRACE_DEFAULT;
	r->max_line = cfg->max_line ? cfg->max_line : RUNNER_LINE_DEFAULT;
	r->max_output =
	    cfg->max_output ? cfg->max_output : RUNNER_OUTPUT_DEFAULT;

	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0) {
		vsm_err_set(
		    err, "runner: cannot find own binary: %s", strerror(errno));
		goto fail;
	}
	self[len] = '\0';
	if ((slash = strrchr(self, '/')) != NULL)
		*slash = '\0';
	if ((size_t)(cfg->task_path != NULL
	            ? snprintf(r->task_path, sizeof(r->task_path), "%s",
	                  cfg->task_path)
	            : snprintf(r->task_path, sizeof(r->task_path),
	                  "%s/vsm-task", self)) >= sizeof(r->task_path)) {
		vsm_err_set(err, "runner: task path too long");
		goto fail;
	}
	if (cfg->artifact_dir != NULL &&
	    (size_t)snprintf(r->artifact_dir, sizeof(r->artifact_dir), "%s",
	        cfg->artifact_dir) >= sizeof(r->artifact_dir) - 64) {
		vsm_err_set(err, "runner: artifact directory path too long");
		goto fail;
	}
	if (cfg->config_path != NULL &&
	    (size_t)snprintf(r->config_path, sizeof(r->config_path), "%s",
	        cfg->config_path) >= sizeof(r->config_path)) {
		vsm_err_set(err, "runner: config path too long");
		goto fail;
	}
	if (access(r->task_path, X_OK) == -1) {
		vsm_err_set(
		    err, "runner: %s: %s", r->task_path, strerror(errno));
		goto fail;
	}
	if (task_bins_load(&r->bins, r->task_path,
	        cfg->task_dir != NULL ? cfg->task_dir : self, err) == -1)
		goto fail;

	if (runner_env_add(r, &n, "PATH", RUNNER_PATH) == -1 ||
	    runner_env_add(r, &n, "LANG", "C") == -1)
		goto nomem;
	for (i = 0; cfg->env_allow != NULL && cfg->env_allow[i] != NULL; i++) {
		const char *name = cfg->env_allow[i];

		if (strcmp(name, "PATH") == 0 || strcmp(name, "LANG") == 0 ||
		    *name == '\0' || strchr(name, '=') != NULL)
			continue;
		if ((v = getenv(name)) == NULL)
			continue;
		if (n >= RUNNER_ENV_MAX + 2) {
			vsm_err_set(err, "runner: more than %d env variables",
			    RUNNER_ENV_MAX);
			goto fail;
		}
		if (runner_env_add(r, &n, name, v) == -1)
			goto nomem;
	}
	if (pthread_create(&r->spawner, NULL, runner_spawner, r) != 0) {
		vsm_err_set(err, "runner: cannot start the spawner thread");
		goto fail;
	}
	r->spawner_up = 1;
	return (r);
nomem:
	vsm_err_set(err, "runner: out of memory");
fail:
	runner_free(r);
	return (NULL);
}

static void
runner_task_free(struct runner_task *t)
{
	if (t == NULL)
		return;
	runner_close(&t->wake[0]);
	runner_close(&t->wake[1]);
	runner_close(&t->evfd);
	if (t->result != NULL)
		vsm__task_event__free_unpacked(t->result, NULL);
	free(t->buf);
	free(t->id);
	free(t);
}

/* Unlink finished tasks; the caller joins and frees them unlocked. */
static struct runner_task *
runner_collect(struct runner *r)
{
	struct runner_task **pp = &r->tasks, *t, *done = NULL;

	while ((t = *pp) != NULL) {
		if (t->done) {
			*pp = t->next;
			t->next = done;
			done = t;
		} else
			pp = &t->next;
	}
	return (done);
}

static void
runner_reap_list(struct runner_task *t)
{
	struct runner_task *next;

	for (; t != NULL; t = next) {
		next = t->next;
		pthread_join(t->thread, NULL);
		runner_task_free(t);
	}
}

void
runner_free(struct runner *r)
{
	struct runner_task *t, *list;
	size_t              i;
	char                c = 'c';

	if (r == NULL)
		return;
	/* Cancel what runs, then join every thread. */
	pthread_mutex_lock(&r->mtx);
	for (t = r->tasks; t != NULL; t = t->next) {
		if (t->running && !t->cancel) {
			t->cancel = 1;
			if (write(t->wake[1], &c, 1) == -1)
				log_debug("runner: wake %s", t->id);
		}
	}
	list = r->tasks;
	r->tasks = NULL;
	pthread_mutex_unlock(&r->mtx);
	runner_reap_list(list);
	if (r->spawner_up) {
		pthread_mutex_lock(&r->spawn_mtx);
		r->spawner_stop = 1;
		pthread_cond_broadcast(&r->spawn_cv);
		pthread_mutex_unlock(&r->spawn_mtx);
		pthread_join(r->spawner, NULL);
	}
	for (i = 0; i < sizeof(r->env) / sizeof(r->env[0]); i++)
		free(r->env[i]);
	pthread_cond_destroy(&r->spawn_cv);
	pthread_mutex_destroy(&r->spawn_mtx);
	pthread_mutex_destroy(&r->mtx);
	task_bins_free(&r->bins);
	free(r);
}

unsigned
runner_slots(struct runner *r)
{
	unsigned n;

	pthread_mutex_lock(&r->mtx);
	n = r->max_tasks - r->nrunning;
	pthread_mutex_unlock(&r->mtx);
	return (n);
}

int
runner_cancel(struct runner *r, const char *task_id)
{
	struct runner_task *t;
	int                 ret = -1;
	char                c = 'c';

	pthread_mutex_lock(&r->mtx);
	for (t = r->tasks; t != NULL; t = t->next) {
		if (!t->running || strcmp(t->id, task_id) != 0)
			continue;
		t->cancel = 1;
		if (write(t->wake[1], &c, 1) == -1 && errno != EAGAIN)
			log_warn("runner: cancel %s", task_id);
		ret = 0;
		break;
	}
	pthread_mutex_unlock(&r->mtx);
	return (ret);
}

static void
runner_emit(struct runner_task *t, Vsm__TaskEvent *ev)
{
	ev->task_id = t->id;
	if (ev->time_ms == 0)
		ev->time_ms = runner_wall_ms();
	ev->seq = 0;
	t->cb(t->arg, ev);
}

static void
runner_kill(struct runner_task *t, int sig)
{
	if (kill(-t->pid, sig) == -1 && errno != ESRCH)
		log_warn("runner: task %s: kill", t->id);
}

static void
runner_proto_error(struct runner_task *t, const char *what)
{
	if (t->end == RUNNER_END_NONE) {
		t->end = RUNNER_END_PROTO;
		snprintf(t->proto_err, sizeof(t->proto_err),
		    "protocol error from vsm-task: %s", what);
	}
	log_warnx("runner: task %s: %s", t->id, what);
	runner_kill(t, SIGKILL);
}

/*
 * An ARTIFACT event names a file the child finished in its artifact
 * directory: a good name, a 32-byte hash, and a regular file of the size
 * it claims. 0 or -1.
 */
static int
runner_artifact_ok(struct runner_task *t, const Vsm__ArtifactReady *a)
{
	char        path[PATH_MAX];
	struct stat sb;

	if (a == NULL || t->r->artifact_dir[0] == '\0' ||
	    !vsm_artifact_name_valid(t->id) ||
	    !vsm_artifact_name_valid(a->name) ||
	    a->blake2b.len != VSM_ARTIFACT_HASH_LEN)
		return (-1);
	if ((size_t)snprintf(path, sizeof(path), "%s/%s/%s", t->r->artifact_dir,
	        t->id, a->name) >= sizeof(path) ||
	    lstat(path, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    (uint64_t)sb.st_size != a->size)
		return (-1);
	return (0);
}

/*
 * Take every complete frame out of t->buf. Forwards LOG and PROGRESS,
 * keeps the first RESULT. -1 on a protocol error (already handled).
 */
static int
runner_frames(struct runner_task *t)
{
	Vsm__TaskEvent *ev, out;
	size_t          off = 0;
	uint32_t        flen;

	while (t->len - off >= 4) {
		flen = (uint32_t)t->buf[off] << 24 |
		    (uint32_t)t->buf[off + 1] << 16 |
		    (uint32_t)t->buf[off + 2] << 8 | t->buf[off + 3];
		if (flen > RUNNER_FRAME_MAX) {
			runner_proto_error(t, "frame too large");
			return (-1);
		}
		if (t->len - off - 4 < flen)
			break;
		ev = vsm__task_event__unpack(NULL, flen, t->buf + off + 4);
		off += 4 + flen;
		if (ev == NULL) {
			runner_proto_error(t, "malformed frame");
			return (-1);
		}
		out = (Vsm__TaskEvent)VSM__TASK_EVENT__INIT;
		out.time_ms = ev->time_ms;
		switch (ev->kind_case) {
		case VSM__TASK_EVENT__KIND_LOG:
			out.kind_case = ev->kind_case;
			out.log = ev->log;
			if (t->result == NULL && out.log != NULL)
				runner_emit(t, &out);
			break;
		case VSM__TASK_EVENT__KIND_PROGRESS:
			out.kind_case = ev->kind_case;
			out.progress = ev->progress;
			if (t->result == NULL && out.progress != NULL)
				runner_emit(t, &out);
			break;
		case VSM__TASK_EVENT__KIND_ARTIFACT:
			out.kind_case = ev->kind_case;
			out.artifact = ev->artifact;
			if (runner_artifact_ok(t, ev->artifact) == -1) {
				vsm__task_event__free_unpacked(ev, NULL);
				runner_proto_error(t, "bad artifact event");
				return (-1);
			}
			if (t->result == NULL)
				runner_emit(t, &out);
			break;
		case VSM__TASK_EVENT__KIND_RESULT:
			if (t->result == NULL && ev->result != NULL) {
				t->result = ev;
				t->result_final = t->end == RUNNER_END_NONE;
				ev = NULL;
			}
			break;
		default:
			vsm__task_event__free_unpacked(ev, NULL);
			runner_proto_error(t, "unexpected event kind");
			return (-1);
		}
		if (ev != NULL)
			vsm__task_event__free_unpacked(ev, NULL);
	}
	memmove(t->buf, t->buf + off, t->len - off);
	t->len -= off;
	return (0);
}

/* Read what the child sent. 1 at EOF, 0 to go on, -1 on error. */
static int
runner_read(struct runner_task *t)
{
	ssize_t  n;
	size_t   want;
	uint8_t *nbuf;

	if (t->cap - t->len < RUNNER_READ_CHUNK &&
	    t->cap < 4 + RUNNER_FRAME_MAX) {
		want = t->cap ? t->cap * 2 : RUNNER_READ_CHUNK;
		if (want > 4 + RUNNER_FRAME_MAX)
			want = 4 + RUNNER_FRAME_MAX;
		if ((nbuf = realloc(t->buf, want)) == NULL) {
			runner_proto_error(t, "out of memory");
			return (-1);
		}
		t->buf = nbuf;
		t->cap = want;
	}
	n = read(t->evfd, t->buf + t->len, t->cap - t->len);
	if (n == -1) {
		if (errno == EINTR || errno == EAGAIN)
			return (0);
		runner_proto_error(t, strerror(errno));
		return (-1);
	}
	if (n == 0)
		return (1);
	t->len += (size_t)n;
	return (runner_frames(t));
}

/* Start ending the task: SIGTERM now, SIGKILL at *kill_at. */
static void
runner_term(struct runner_task *t, enum runner_end why, uint64_t *kill_at)
{
	if (t->end != RUNNER_END_NONE)
		return;
	t->end = why;
	runner_kill(t, SIGTERM);
	*kill_at = runner_mono_ms() + t->r->grace_ms;
}

/*
 * Watch the child until its leader has exited, then kill the rest of its
 * group and reap it. Returns the wait status.
 */
static int
runner_supervise(struct runner_task *t)
{
	struct pollfd pfd[2];
	siginfo_t     si;
	uint64_t      now, deadline, kill_at = 0;
	int           killed = 0, eof = 0, status = 0, timeout, cancel, n;
	char          drain[16];

	deadline = runner_mono_ms() + t->timeout_ms;
	for (;;) {
		if (eof) {
			memset(&si, 0, sizeof(si));
			if (waitid(P_PID, (id_t)t->pid, &si,
			        WEXITED | WNOHANG | WNOWAIT) == 0 &&
			    si.si_pid == t->pid)
				break;
		}
		now = runner_mono_ms();
		if (now >= deadline)
			runner_term(t, RUNNER_END_TIMEOUT, &kill_at);
		if (kill_at != 0 && !killed && now >= kill_at) {
			runner_kill(t, SIGKILL);
			killed = 1;
		}
		if (eof)
			timeout = 20;
		else if (kill_at != 0 && !killed)
			timeout = (int)(kill_at > now ? kill_at - now : 0);
		else if (t->end == RUNNER_END_NONE)
			timeout =
			    (int)(deadline - now > 60000 ? 60000
			                                 : deadline - now);
		else
			timeout = 1000;
		pfd[0].fd = eof ? -1 : t->evfd;
		pfd[0].events = POLLIN;
		pfd[0].revents = 0;
		pfd[1].fd = t->wake[0];
		pfd[1].events = POLLIN;
		pfd[1].revents = 0;
		if (poll(pfd, 2, timeout) == -1 && errno != EINTR) {
			log_warn("runner: poll");
			runner_kill(t, SIGKILL);
			killed = 1;
		}
		if (pfd[1].revents & POLLIN) {
			while (read(t->wake[0], drain, sizeof(drain)) > 0)
				continue;
			pthread_mutex_lock(&t->r->mtx);
			cancel = t->cancel;
			pthread_mutex_unlock(&t->r->mtx);
			if (cancel)
				runner_term(t, RUNNER_END_CANCEL, &kill_at);
		}
		if (!eof && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			if ((n = runner_read(t)) != 0) {
				if (n == -1)
					killed = 1;
				eof = 1;
				runner_close(&t->evfd);
			}
		}
	}
	/* The leader is a zombie: its group id is still ours to kill. */
	runner_kill(t, SIGKILL);
	while (waitpid(t->pid, &status, 0) == -1 && errno == EINTR)
		continue;
	return (status);
}

static int
runner_status_ok(int s)
{
	return (s >= VSM__TASK_STATUS__TASK_OK &&
	    s <= VSM__TASK_STATUS__TASK_TIMEOUT);
}

/* Build and deliver the one RESULT. */
static void
runner_finish(struct runner_task *t, int wstatus)
{
	Vsm__TaskEvent   ev = VSM__TASK_EVENT__INIT;
	Vsm__TaskResult  res = VSM__TASK_RESULT__INIT;
	Vsm__TaskResult *got = t->result ? t->result->result : NULL;
	char             error[256], sig[32];

	error[0] = '\0';
	if (got != NULL) {
		res.summary = got->summary;
		res.result_json = got->result_json;
		res.exit_code = got->exit_code;
	}
	if (got != NULL && t->result_final) {
		res.status = got->status;
		res.error = got->error;
		if (!runner_status_ok(got->status)) {
			res.status = VSM__TASK_STATUS__TASK_ERROR;
			snprintf(error, sizeof(error),
			    "vsm-task sent an invalid status %d", got->status);
		}
	} else if (t->end == RUNNER_END_TIMEOUT) {
		res.status = VSM__TASK_STATUS__TASK_TIMEOUT;
		snprintf(error, sizeof(error), "timed out after %llu ms",
		    (unsigned long long)t->timeout_ms);
	} else if (t->end == RUNNER_END_LATE) {
		res.status = VSM__TASK_STATUS__TASK_TIMEOUT;
		snprintf(error, sizeof(error),
		    "deadline passed before the task started");
	} else if (t->end == RUNNER_END_CANCEL) {
		res.status = VSM__TASK_STATUS__TASK_CANCELLED;
		snprintf(error, sizeof(error), "cancelled");
	} else if (t->end == RUNNER_END_PROTO) {
		res.status = VSM__TASK_STATUS__TASK_ERROR;
		snprintf(error, sizeof(error), "%s", t->proto_err);
	} else if (WIFSIGNALED(wstatus)) {
		res.status = VSM__TASK_STATUS__TASK_ERROR;
		snprintf(error, sizeof(error), "module crashed: %s",
		    runner_signame(WTERMSIG(wstatus), sig, sizeof(sig)));
	} else {
		res.status = VSM__TASK_STATUS__TASK_ERROR;
		snprintf(error, sizeof(error),
		    "vsm-task exited with status %d without a result",
		    WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1);
	}
	if (error[0] != '\0')
		res.error = error;
	if (res.summary == NULL || res.summary[0] == '\0')
		res.summary = res.error;
	ev.kind_case = VSM__TASK_EVENT__KIND_RESULT;
	ev.result = &res;
	runner_emit(t, &ev);
}

static void *
runner_thread(void *arg)
{
	struct runner_task *t = arg;
	struct runner      *r = t->r;
	Vsm__TaskEvent      ev = VSM__TASK_EVENT__INIT;
	Vsm__TaskStarted    st = VSM__TASK_STARTED__INIT;
	int                 wstatus = 0;

	if (t->pid > 0) {
		st.pid = (uint32_t)t->pid;
		ev.kind_case = VSM__TASK_EVENT__KIND_STARTED;
		ev.started = &st;
		runner_emit(t, &ev);
		wstatus = runner_supervise(t);
	}
	pthread_mutex_lock(&r->mtx);
	t->running = 0;
	r->nrunning--;
	pthread_mutex_unlock(&r->mtx);
	runner_finish(t, wstatus);
	pthread_mutex_lock(&r->mtx);
	t->done = 1;
	pthread_mutex_unlock(&r->mtx);
	return (NULL);
}

/* Pack spawn as one frame into fd (a fresh pipe). 0 or -1 with err. */
static int
runner_write_spawn(int fd, const Vsm__TaskSpawn *spawn, struct vsm_err *err)
{
	uint8_t *buf = NULL;
	size_t   len;
	ssize_t  n;
	int      ret = -1;

	len = vsm__task_spawn__get_packed_size(spawn);
	if (len > RUNNER_SPAWN_MAX) {
		vsm_err_set(err, "task too large (%zu bytes, max %d)", len,
		    RUNNER_SPAWN_MAX);
		goto out;
	}
	if ((buf = malloc(len + 4)) == NULL) {
		vsm_err_set(err, "out of memory");
		goto out;
	}
	buf[0] = (uint8_t)(len >> 24);
	buf[1] = (uint8_t)(len >> 16);
	buf[2] = (uint8_t)(len >> 8);
	buf[3] = (uint8_t)len;
	vsm__task_spawn__pack(spawn, buf + 4);
	/* Non-blocking: the frame must fit the pipe buffer in one go. */
	if (fcntl(fd, F_SETFL, O_NONBLOCK) == -1 ||
	    (n = write(fd, buf, len + 4)) == -1 || (size_t)n != len + 4) {
		vsm_err_set(err, "cannot hand the task to vsm-task: %s",
		    strerror(errno));
		goto out;
	}
	ret = 0;
out:
	free(buf);
	return (ret);
}

/* The TaskSpawn's ExecSpec for cmd; pointers into cmd, arrays in *mem. */
struct runner_exec_mem {
	Vsm__ExecSpec   spec;
	Vsm__ExecParam  params[RUNNER_PARAMS_MAX];
	Vsm__ExecParam *pparams[RUNNER_PARAMS_MAX];
	char           *argv[RUNNER_ARGV_MAX];
	int32_t         ok[RUNNER_ARGV_MAX];
};

static int
runner_exec_spec(const struct runner_cmd *cmd, struct runner_exec_mem *m,
    struct vsm_err *err)
{
	size_t i, n;

	vsm__exec_spec__init(&m->spec);
	m->spec.name = (char *)cmd->name;
	for (n = 0; cmd->argv != NULL && cmd->argv[n] != NULL; n++) {
		if (n >= RUNNER_ARGV_MAX)
			return (
			    vsm_err_set(err, "%s: argv too long", cmd->name));
		m->argv[n] = (char *)cmd->argv[n];
	}
	if (n == 0)
		return (vsm_err_set(err, "%s: empty argv", cmd->name));
	m->spec.argv = m->argv;
	m->spec.n_argv = n;
	if (cmd->nparams > RUNNER_PARAMS_MAX ||
	    cmd->nok_codes > RUNNER_ARGV_MAX)
		return (vsm_err_set(err, "%s: too many params", cmd->name));
	for (i = 0; i < cmd->nparams; i++) {
		const struct runner_param *p = &cmd->params[i];
		Vsm__ExecParam            *e = &m->params[i];

		vsm__exec_param__init(e);
		e->name = (char *)p->name;
		if (p->pattern != NULL)
			e->pattern = (char *)p->pattern;
		if (p->flag != NULL)
			e->flag = (char *)p->flag;
		e->allow_dash = p->allow_dash;
		e->required = p->required;
		if (p->enum_values != NULL) {
			for (n = 0; p->enum_values[n] != NULL; n++)
				continue;
			e->enum_values = (char **)p->enum_values;
			e->n_enum_values = n;
		}
		m->pparams[i] = e;
	}
	m->spec.params = m->pparams;
	m->spec.n_params = cmd->nparams;
	for (i = 0; i < cmd->nok_codes; i++)
		m->ok[i] = cmd->ok_codes[i];
	m->spec.ok_codes = m->ok;
	m->spec.n_ok_codes = cmd->nok_codes;
	return (0);
}

/* The effective run-time limit in ms; 0 when the deadline has passed. */
static uint64_t
runner_timeout_ms(
    struct runner *r, const Vsm__Task *task, const struct runner_cmd *cmd)
{
	uint64_t s = task->timeout_s, ms, now;

	if (cmd != NULL && cmd->timeout_s != 0 &&
	    (s == 0 || s > cmd->timeout_s))
		s = cmd->timeout_s;
	if (s == 0)
		s = r->default_timeout_s;
	ms = s * 1000;
	if (task->deadline_ms != 0) {
		now = runner_wall_ms();
		if (task->deadline_ms <= now)
			return (0);
		if (task->deadline_ms - now < ms)
			ms = task->deadline_ms - now;
	}
	return (ms);
}

size_t
runner_modules(const struct runner *r, char *const **names)
{
	*names = r->bins.modules;
	return (r->bins.nmodules);
}

static pid_t
runner_spawn_now(
    struct runner *r, const char *path, int in_r, int ev_w, struct vsm_err *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t          attr;
	sigset_t                   mask, def;
	pid_t                      pid = -1;
	char                      *argv[] = {(char *)path, NULL};
	int                        rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	sigemptyset(&mask);
	sigfillset(&def);
	sigdelset(&def, SIGKILL);
	sigdelset(&def, SIGSTOP);
	if (posix_spawn_file_actions_adddup2(&fa, in_r, 0) != 0 ||
	    posix_spawn_file_actions_adddup2(&fa, ev_w, 3) != 0 ||
	    posix_spawn_file_actions_addopen(
	        &fa, 1, "/dev/null", O_WRONLY, 0) != 0 ||
	    posix_spawn_file_actions_addclosefrom_np(&fa, 4) != 0 ||
	    posix_spawnattr_setpgroup(&attr, 0) != 0 ||
	    posix_spawnattr_setsigmask(&attr, &mask) != 0 ||
	    posix_spawnattr_setsigdefault(&attr, &def) != 0 ||
	    posix_spawnattr_setflags(&attr,
	        POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
	            POSIX_SPAWN_SETSIGDEF) != 0) {
		vsm_err_set(err, "posix_spawn setup failed");
		goto out;
	}
	rc = posix_spawn(&pid, path, &fa, &attr, argv, r->env);
	if (rc != 0) {
		vsm_err_set(err, "spawn %s: %s", path, strerror(rc));
		pid = -1;
	}
out:
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return (pid);
}

static void *
runner_spawner(void *arg)
{
	struct runner           *r = arg;
	struct runner_spawn_req *q;

	pthread_mutex_lock(&r->spawn_mtx);
	for (;;) {
		while (
		    !r->spawner_stop && ((q = r->spawn_req) == NULL || q->done))
			pthread_cond_wait(&r->spawn_cv, &r->spawn_mtx);
		if (r->spawner_stop)
			break;
		pthread_mutex_unlock(&r->spawn_mtx);
		q->pid = runner_spawn_now(r, q->path, q->in_r, q->ev_w, q->err);
		pthread_mutex_lock(&r->spawn_mtx);
		q->done = 1;
		pthread_cond_broadcast(&r->spawn_cv);
	}
	pthread_mutex_unlock(&r->spawn_mtx);
	return (NULL);
}

/*
 * Spawn the task binary path on the spawner thread and wait for it: the
 * pid, or -1 with err set. Callers take turns.
 */
static pid_t
runner_spawn(
    struct runner *r, const char *path, int in_r, int ev_w, struct vsm_err *err)
{
	struct runner_spawn_req q = {
	    .path = path, .in_r = in_r, .ev_w = ev_w, .pid = -1, .err = err};

	pthread_mutex_lock(&r->spawn_mtx);
	while (r->spawn_req != NULL)
		pthread_cond_wait(&r->spawn_cv, &r->spawn_mtx);
	r->spawn_req = &q;
	pthread_cond_broadcast(&r->spawn_cv);
	while (!q.done)
		pthread_cond_wait(&r->spawn_cv, &r->spawn_mtx);
	r->spawn_req = NULL;
	pthread_cond_broadcast(&r->spawn_cv);
	pthread_mutex_unlock(&r->spawn_mtx);
	return (q.pid);
}

int
runner_start(struct runner *r, const Vsm__Task *task,
    const struct runner_cmd *cmd, runner_event_cb *cb, void *arg,
    struct vsm_err *err)
{
	struct runner_task    *t = NULL, *done;
	struct runner_exec_mem mem;
	Vsm__TaskSpawn         spawn = VSM__TASK_SPAWN__INIT;
	Vsm__TaskLimits        lim = VSM__TASK_LIMITS__INIT;
	char                   adir[PATH_MAX + VSM_ARTIFACT_NAME_MAX + 2];
	int                    in[2] = {-1, -1}, ev[2] = {-1, -1};
	int                    reserved = 0, ret = -1, rc;

	pthread_mutex_lock(&r->mtx);
	done = runner_collect(r);
	if (r->nrunning < r->max_tasks) {
		r->nrunning++;
		reserved = 1;
	}
	pthread_mutex_unlock(&r->mtx);
	runner_reap_list(done);
	if (!reserved) {
		vsm_err_set(err, "runner busy: %u tasks running", r->max_tasks);
		errno = EBUSY;
		return (-1);
	}

	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->id = strdup(task->id ? task->id : "")) == NULL) {
		vsm_err_set(err, "out of memory");
		goto out;
	}
	t->r = r;
	t->wake[0] = t->wake[1] = t->evfd = -1;
	t->pid = -1;
	t->cb = cb;
	t->arg = arg;
	t->timeout_ms = runner_timeout_ms(r, task, cmd);
	if (pipe2(t->wake, O_CLOEXEC | O_NONBLOCK) == -1) {
		vsm_err_set(err, "pipe: %s", strerror(errno));
		goto out;
	}

	if (t->timeout_ms == 0) {
		t->end = RUNNER_END_LATE; /* no child: the thread reports */
	} else {
		spawn.task = (Vsm__Task *)task;
		spawn.timeout_s = (uint32_t)((t->timeout_ms + 999) / 1000);
		lim.cpu_s = r->limits.cpu_s;
		lim.mem_bytes = r->limits.mem_bytes;
		lim.open_files = r->limits.open_files;
		lim.nice = r->limits.nice;
		spawn.limits = &lim;
		spawn.max_line = r->max_line;
		spawn.max_output = r->max_output;
		if (r->config_path[0] != '\0')
			spawn.config_path = r->config_path;
		/* Ids safe as a file name only ("facts:..." is not). */
		if (r->artifact_dir[0] != '\0' &&
		    vsm_artifact_name_valid(t->id)) {
			snprintf(adir, sizeof(adir), "%s/%s", r->artifact_dir,
			    t->id);
			spawn.artifact_dir = adir;
		}
		if (cmd != NULL) {
			if (runner_exec_spec(cmd, &mem, err) == -1)
				goto out;
			spawn.exec = &mem.spec;
		}
		if (pipe2(in, O_CLOEXEC) == -1 || pipe2(ev, O_CLOEXEC) == -1) {
			vsm_err_set(err, "pipe: %s", strerror(errno));
			goto out;
		}
		if (runner_fd_high(&in[0]) == -1 ||
		    runner_fd_high(&ev[1]) == -1) {
			vsm_err_set(err, "fcntl: %s", strerror(errno));
			goto out;
		}
		if (runner_write_spawn(in[1], &spawn, err) == -1)
			goto out;
		runner_close(&in[1]);
		if ((t->pid = runner_spawn(r,
		         task_bins_path(&r->bins, task->module), in[0], ev[1],
		         err)) == -1)
			goto out;
		t->evfd = ev[0];
		ev[0] = -1;
	}

	pthread_mutex_lock(&r->mtx);
	t->running = 1;
	t->next = r->tasks;
	r->tasks = t;
	rc = pthread_create(&t->thread, NULL, runner_thread, t);
	if (rc != 0)
		r->tasks = t->next;
	pthread_mutex_unlock(&r->mtx);
	if (rc != 0) {
		vsm_err_set(err, "pthread_create: %s", strerror(rc));
		if (t->pid > 0) {
			kill(-t->pid, SIGKILL);
			while (waitpid(t->pid, NULL, 0) == -1 && errno == EINTR)
				continue;
		}
		goto out;
	}
	t = NULL;
	ret = 0;
out:
	runner_close(&in[0]);
	runner_close(&in[1]);
	runner_close(&ev[0]);
	runner_close(&ev[1]);
	runner_task_free(t);
	if (ret == -1) {
		pthread_mutex_lock(&r->mtx);
		r->nrunning--;
		pthread_mutex_unlock(&r->mtx);
	}
	return (ret);
}
