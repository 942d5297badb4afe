/*
 * bench_floor.c: what nng alone does on this machine, the floor every
 * `vsm-bench fleet` figure is divided by. N plain REQ sockets each hold
 * a one-byte poll on a REP context pool; the server answers all of them
 * with a one-byte task; each answers with a one-byte result, which the
 * server acks. The time from the first task out to the last result in is
 * the floor of a fan-out.
 *
 * The server runs in a child (`vsm-bench floor-serve URL N`) so that each
 * side has its own file-descriptor limit, as the controller does.
 */
#include <sys/resource.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "bench_fleet.h"
#include "bench_proc.h"
#include "listen_backlog.h"
#include "testutil.h"

#define FLOOR_DIAL_BATCH    100
#define FLOOR_DIAL_PAUSE_US 10000
/*
 * The bound for each wait of the server (all polls in, all results in);
 * the client side waits for both and a margin, so that the server's own
 * message comes first. A client that never got through fails the run
 * instead of hanging it.
 */
#define FLOOR_WAIT_S   60
#define FLOOR_FIGURE_S (2 * FLOOR_WAIT_S + 15)

extern char **environ;

/* --- the server (child) --------------------------------------------------- */

struct fs_ctx {
	struct fs *fs;
	nng_ctx    ctx;
	nng_aio   *aio;
	int        phase; /* 0 poll awaited, 1 poll held, 2 task sent, ... */
};

struct fs {
	unsigned        n;
	struct fs_ctx  *c;
	pthread_mutex_t mtx;
	pthread_cond_t  cv;
	unsigned        held, results;
	uint64_t        t0, *at;
};

/* One byte out on a context (both sides of the floor). */
static void
send_byte(nng_ctx ctx, nng_aio *aio, char what)
{
	nng_msg *m;

	if (nng_msg_alloc(&m, 0) != 0 || nng_msg_append(m, &what, 1) != 0)
		abort();
	nng_aio_set_msg(aio, m);
	nng_ctx_send(ctx, aio);
}

/* Phases: 0 recv poll, 1 poll in (held), 2 task sent, 3 result in, 4 ack. */
static void
fs_cb(void *arg)
{
	struct fs_ctx *c = arg;
	struct fs     *fs = c->fs;
	nng_msg       *m;

	if (nng_aio_result(c->aio) != 0)
		return;
	switch (c->phase) {
	case 0:
		nng_msg_free(nng_aio_get_msg(c->aio));
		c->phase = 1;
		pthread_mutex_lock(&fs->mtx);
		if (++fs->held == fs->n)
			pthread_cond_broadcast(&fs->cv);
		pthread_mutex_unlock(&fs->mtx);
		return;
	case 2:
		c->phase = 3;
		nng_ctx_recv(c->ctx, c->aio);
		return;
	case 3:
		m = nng_aio_get_msg(c->aio);
		nng_msg_free(m);
		pthread_mutex_lock(&fs->mtx);
		fs->at[fs->results++] = bp_mono_ms() - fs->t0;
		if (fs->results == fs->n)
			pthread_cond_broadcast(&fs->cv);
		pthread_mutex_unlock(&fs->mtx);
		c->phase = 4;
		send_byte(c->ctx, c->aio, 'A');
		return;
	default:
		return;
	}
}

/*
 * Wait on fs->cv until *count reaches fs->n or FLOOR_WAIT_S pass (fs->mtx
 * held). 0, or -1 after saying on stderr how far it got.
 */
static int
fs_wait(struct fs *fs, unsigned *count, const char *what)
{
	struct timespec end;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += FLOOR_WAIT_S;
	while (*count < fs->n)
		if (pthread_cond_timedwait(&fs->cv, &fs->mtx, &end) ==
		    ETIMEDOUT) {
			if (*count >= fs->n)
				break;
			fprintf(stderr,
			    "vsm-bench floor-serve: %u of %u %s after %d s\n",
			    *count, fs->n, what, FLOOR_WAIT_S);
			return (-1);
		}
	return (0);
}

int
bench_floor_serve(int argc, char **argv, struct vsm_err *err)
{
	struct fs          fs;
	pthread_condattr_t ca;
	nng_socket         sock;
	nng_listener       l;
	unsigned           i;
	int                rv;

	if (argc != 3 || (fs.n = (unsigned)atoi(argv[2])) == 0)
		return (vsm_err_set(err, "usage: floor-serve URL N"), 2);
	memset(&fs, 0, sizeof(fs));
	fs.n = (unsigned)atoi(argv[2]);
	bp_raise_limit(RLIMIT_NOFILE, BENCH_NOFILE_WANT);
	pthread_mutex_init(&fs.mtx, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&fs.cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((fs.c = calloc(fs.n, sizeof(*fs.c))) == NULL ||
	    (fs.at = calloc(fs.n, sizeof(*fs.at))) == NULL)
		return (vsm_err_set(err, "out of memory"), 1);
	if ((rv = nng_rep0_open(&sock)) != 0 ||
	    (rv = nng_listen(sock, argv[1], &l, 0)) != 0)
		return (vsm_err_set(err, "listen: %s", nng_strerror(rv)), 1);
	/* The controller's accept queue, so the floor compares like. */
	vsm_listen_backlog(l, VSM_LISTEN_BACKLOG);
	for (i = 0; i < fs.n; i++) {
		fs.c[i].fs = &fs;
		if (nng_ctx_open(&fs.c[i].ctx, sock) != 0 ||
		    nng_aio_alloc(&fs.c[i].aio, fs_cb, &fs.c[i]) != 0)
			return (vsm_err_set(err, "context %u", i), 1);
		nng_ctx_recv(fs.c[i].ctx, fs.c[i].aio);
	}
	printf("ready\n");
	fflush(stdout);
	pthread_mutex_lock(&fs.mtx);
	if (fs_wait(&fs, &fs.held, "clients polled") == -1)
		_exit(1); /* the parent sees the pipe end */
	fs.t0 = bp_mono_ms();
	pthread_mutex_unlock(&fs.mtx);
	for (i = 0; i < fs.n; i++) {
		fs.c[i].phase = 2;
		send_byte(fs.c[i].ctx, fs.c[i].aio, 'T');
	}
	pthread_mutex_lock(&fs.mtx);
	if (fs_wait(&fs, &fs.results, "results in") == -1)
		_exit(1);
	pthread_mutex_unlock(&fs.mtx);
	/* The result times, in arrival order, one line. */
	printf("floor %u rss_kib %llu", fs.n,
	    (unsigned long long)bp_rss_kib(getpid()));
	for (i = 0; i < fs.n; i++)
		printf(" %llu", (unsigned long long)fs.at[i]);
	printf("\n");
	fflush(stdout);
	/* Stay up until the clients have closed (stdin ends): a server gone
	 * first would leave them all redialing. */
	while (getchar() != EOF)
		;
	_exit(0); /* no orderly teardown needed */
}

/* --- the clients (parent) --------------------------------------------------
 */

struct fc {
	nng_socket sock;
	nng_ctx    ctx;
	nng_aio   *aio;
	int        phase;
};

static atomic_uint fc_done;

/* Phases: 0 poll sent, 1 task awaited, 2 result sent, 3 ack awaited. */
static void
fc_cb(void *arg)
{
	struct fc *c = arg;

	if (nng_aio_result(c->aio) != 0)
		return;
	switch (c->phase++) {
	case 0:
	case 2:
		nng_ctx_recv(c->ctx, c->aio);
		return;
	case 1:
		nng_msg_free(nng_aio_get_msg(c->aio));
		send_byte(c->ctx, c->aio, 'R');
		return;
	case 3:
		nng_msg_free(nng_aio_get_msg(c->aio));
		atomic_fetch_add(&fc_done, 1);
		return;
	}
}

/*
 * The next line from the floor server (fp, on descriptor fd) into *line,
 * waiting at most s seconds for it to begin. Its length, or -1 on end of
 * file or timeout. The server writes nothing between its lines until the
 * parent acts, so fp holds no buffered data when this is called.
 */
static ssize_t
fs_line(FILE *fp, int fd, int s, char **line, size_t *cap)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	int           rv;

	while ((rv = poll(&pfd, 1, s * 1000)) == -1 && errno == EINTR)
		;
	if (rv <= 0)
		return (-1);
	return (getline(line, cap, fp));
}

int
bench_floor_run(unsigned n, struct floor_result *out, struct vsm_err *err)
{
	char  self[PATH_MAX], url[64], nbuf[16], *line = NULL;
	char *argv[] = {self, "floor-serve", url, nbuf, NULL};
	posix_spawn_file_actions_t fa;
	struct fc                 *c = NULL;
	FILE                      *fp = NULL;
	size_t                     cap = 0, i;
	pid_t                      pid = -1;
	int   p[2] = {-1, -1}, in[2] = {-1, -1}, st, ret = -1;
	char *tok, *save;

	memset(out, 0, sizeof(*out));
	if (bp_bin("vsm-bench", self, sizeof(self), err) == -1)
		return (-1);
	tu_loopback_url(url, sizeof(url));
	snprintf(nbuf, sizeof(nbuf), "%u", n);
	if (pipe(p) == -1 || pipe(in) == -1)
		return (vsm_err_set(err, "pipe: %s", strerror(errno)));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_addclose(&fa, p[0]);
	posix_spawn_file_actions_addclose(&fa, in[1]);
	if (posix_spawn(&pid, self, &fa, NULL, argv, environ) != 0)
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	close(in[0]);
	if (pid == -1 || (fp = fdopen(p[0], "r")) == NULL) {
		vsm_err_set(err, "cannot start the floor server");
		goto out;
	}
	if (fs_line(fp, p[0], FLOOR_WAIT_S, &line, &cap) <= 0 ||
	    strcmp(line, "ready\n") != 0) {
		vsm_err_set(err, "the floor server did not start within %d s",
		    FLOOR_WAIT_S);
		goto out;
	}
	if ((c = calloc(n, sizeof(*c))) == NULL) {
		vsm_err_set(err, "out of memory");
		goto out;
	}
	atomic_store(&fc_done, 0);
	for (i = 0; i < n; i++) {
		if (nng_req0_open(&c[i].sock) != 0) {
			vsm_err_set(err,
			    "client %zu: cannot open (file limit?)", i + 1);
			goto out;
		}
		/* No resends, no nng redials: one round, one pipe each. */
		nng_socket_set_ms(
		    c[i].sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
		nng_socket_set_ms(c[i].sock, NNG_OPT_RECONNMINT, 3600 * 1000);
		nng_socket_set_ms(c[i].sock, NNG_OPT_RECONNMAXT, 3600 * 1000);
		if (nng_ctx_open(&c[i].ctx, c[i].sock) != 0 ||
		    nng_aio_alloc(&c[i].aio, fc_cb, &c[i]) != 0 ||
		    nng_dial(c[i].sock, url, NULL, NNG_FLAG_NONBLOCK) != 0) {
			vsm_err_set(err,
			    "client %zu: cannot open (file limit?)", i + 1);
			goto out;
		}
		send_byte(c[i].ctx, c[i].aio, 'P');
		/* Paced, as a fleet is: a burst overflows the listen queue. */
		if (i % FLOOR_DIAL_BATCH == FLOOR_DIAL_BATCH - 1)
			usleep(FLOOR_DIAL_PAUSE_US);
	}
	if (fs_line(fp, p[0], FLOOR_FIGURE_S, &line, &cap) <= 0 ||
	    sscanf(line, "floor %*u rss_kib %llu",
	        (unsigned long long *)&out->server_rss_kib) != 1) {
		vsm_err_set(err,
		    "the floor server gave no figures within %d s (a client "
		    "that failed to dial? see its message above)",
		    FLOOR_FIGURE_S);
		goto out;
	}
	if ((out->at = calloc(n, sizeof(*out->at))) == NULL) {
		vsm_err_set(err, "out of memory");
		goto out;
	}
	/* "floor N rss_kib KIB" and then the times. */
	tok = strtok_r(line, " \n", &save);
	for (i = 0; tok != NULL && i < 4; i++)
		tok = strtok_r(NULL, " \n", &save);
	for (i = 0; tok != NULL && i < n; i++) {
		out->at[i] = strtoull(tok, NULL, 10);
		tok = strtok_r(NULL, " \n", &save);
	}
	out->n = i;
	ret = 0;
out:
	/* Clients first, while the server is up; then the server. */
	for (i = 0; c != NULL && i < n; i++) {
		if (c[i].aio != NULL)
			nng_aio_stop(c[i].aio);
		nng_close(c[i].sock);
		nng_aio_free(c[i].aio);
	}
	free(c);
	if (in[1] != -1)
		close(in[1]);
	if (pid > 0) {
		if (ret == -1)
			kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	free(line);
	if (fp != NULL)
		fclose(fp);
	else if (p[0] != -1)
		close(p[0]);
	return (ret);
}
