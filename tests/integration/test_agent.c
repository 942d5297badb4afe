/*
 * test_agent.c: a real `vsm-agent run` process against a fake controller
 * built from the real channel server (vsm_server_start with the ops
 * below): enrollment by token after PENDING answers, a task whose events
 * arrive in order with one RESULT, a task id that is never run twice
 * (also across an agent restart), unacked events re-sent to a restarted
 * controller, an agent killed with SIGKILL mid-task, a wrong pinned
 * controller key, and an allowlisted command whose typed params come from
 * agent.yaml (a value with shell metacharacters is refused, a good one is
 * passed) with the Hello listing the modules and commands. Every process
 * is killed and every temp dir removed.
 */
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "envelope.h"
#include "testutil.h"
#include "tu_fleet.h"

extern char **environ;

#define FK_EVENTS 4096
#define FK_TASKS  16
#define TOKEN     "tok-0123456789"
#define WAIT_MS   60000 /* generous: a busy 2-core machine */

struct fk_event {
	uint64_t seq;
	char     task[64];
	int      kind; /* Vsm__TaskEvent__KindCase */
	int      status;
	char     summary[256]; /* a RESULT's summary, a LOG's line */
	uint32_t pid;
};

struct fake {
	char                url[64];
	struct vsm_keypair  key;
	struct vsm_server  *srv;
	pthread_mutex_t     mtx;
	int                 pending_left; /* PENDING answers before accepting */
	int                 pendings;     /* PENDING answers given */
	int                 accepted;     /* sessions accepted */
	int                 ack;          /* ack events */
	int                 heartbeats;
	struct vsm_srv_req *held; /* the held poll */
	uint64_t            held_at;
	unsigned            held_slots;
	char tasks[FK_TASKS][4][64]; /* id, module, param key, param value */
	int  ntasks;
	char hello_modules[1024]; /* the last Hello's, space-separated */
	char hello_commands[4096];
	int  hello_ncommands;
	struct fk_event ev[FK_EVENTS];
	int             nev;
	pthread_t       ticker;
	int             stop;
	int             hold; /* keep a poll held: never answer it */
};

/* What a failed test leaves behind, for the teardown to clean. */
static pid_t        live_pid;
static char         live_dir[64];
static struct fake *live_fk;

/* names[0..n) joined by spaces into buf (truncated to fit). */
static void
fk_join(char *buf, size_t len, char **names, size_t n)
{
	size_t i, off = 0;
	int    r;

	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		r = snprintf(
		    buf + off, len - off, "%s%s", i ? " " : "", names[i]);
		if (r < 0 || (size_t)r >= len - off)
			break;
		off += (size_t)r;
	}
}

static int
fk_authorize(
    void *arg, struct vsm_peer *peer, const Vsm__Hello *hello, Vsm__Welcome *w)
{
	struct fake *fk = arg;

	pthread_mutex_lock(&fk->mtx);
	fk_join(fk->hello_modules, sizeof(fk->hello_modules), hello->modules,
	    hello->n_modules);
	fk_join(fk->hello_commands, sizeof(fk->hello_commands), hello->commands,
	    hello->n_commands);
	fk->hello_ncommands = (int)hello->n_commands;
	if (fk->pending_left > 0) {
		fk->pending_left--;
		fk->pendings++;
		w->status = VSM__WELCOME__STATUS__PENDING;
		w->reason = "waiting for an operator";
	} else if (hello->token != NULL && strcmp(hello->token, TOKEN) == 0) {
		fk->accepted++;
		w->status = VSM__WELCOME__STATUS__ACCEPTED;
		w->heartbeat_ms = 1000;
	} else {
		w->status = VSM__WELCOME__STATUS__UNKNOWN_KEY;
		w->reason = "bad token";
	}
	pthread_mutex_unlock(&fk->mtx);
	return (0);
}

static void
fk_reply(struct vsm_srv_req *req, const Vsm__Envelope *env)
{
	vsm_srv_reply_env(req, env);
}

/* Answer the held poll with up to slots queued tasks. Locked. */
static void
fk_answer_poll(struct fake *fk)
{
	Vsm__Envelope  env = VSM__ENVELOPE__INIT;
	Vsm__PollReply pr = VSM__POLL_REPLY__INIT;
	Vsm__Task      t[FK_TASKS], *tp[FK_TASKS];
	Vsm__Param     p[FK_TASKS], *pp[FK_TASKS];
	int            i, n = 0;

	for (i = 0; i < fk->ntasks && (unsigned)n < fk->held_slots; i++) {
		vsm__task__init(&t[n]);
		t[n].id = fk->tasks[i][0];
		t[n].module = fk->tasks[i][1];
		t[n].timeout_s = 120;
		if (fk->tasks[i][2][0] != '\0') {
			vsm__param__init(&p[n]);
			p[n].key = fk->tasks[i][2];
			p[n].value = fk->tasks[i][3];
			pp[n] = &p[n];
			t[n].params = &pp[n];
			t[n].n_params = 1;
		}
		tp[n] = &t[n];
		n++;
	}
	pr.n_tasks = n;
	pr.tasks = tp;
	env.body_case = VSM__ENVELOPE__BODY_POLL_REPLY;
	env.poll_reply = &pr;
	fk_reply(fk->held, &env);
	fk->held = NULL;
	memmove(fk->tasks, fk->tasks[n],
	    sizeof(fk->tasks[0]) * (size_t)(fk->ntasks - n));
	fk->ntasks -= n;
}

static void
fk_request(void *arg, struct vsm_srv_req *req, const uint8_t *data, size_t len)
{
	struct fake      *fk = arg;
	Vsm__Envelope    *in, out = VSM__ENVELOPE__INIT;
	Vsm__HeartbeatAck hba = VSM__HEARTBEAT_ACK__INIT;
	Vsm__EventsAck    ea = VSM__EVENTS_ACK__INIT;
	Vsm__TaskEvent   *e;
	struct fk_event  *f;
	size_t            i;

	if ((in = vsm__envelope__unpack(NULL, len, data)) == NULL) {
		vsm_srv_drop(req);
		return;
	}
	pthread_mutex_lock(&fk->mtx);
	switch (in->body_case) {
	case VSM__ENVELOPE__BODY_HEARTBEAT:
		fk->heartbeats++;
		hba.seq = in->heartbeat->seq;
		out.body_case = VSM__ENVELOPE__BODY_HEARTBEAT_ACK;
		out.heartbeat_ack = &hba;
		fk_reply(req, &out);
		break;
	case VSM__ENVELOPE__BODY_POLL:
		if (fk->held != NULL)
			vsm_srv_drop(fk->held);
		fk->held = req;
		fk->held_at = tu_now_ms();
		fk->held_slots = in->poll->slots;
		break;
	case VSM__ENVELOPE__BODY_EVENTS:
		for (i = 0; i < in->events->n_events; i++) {
			e = in->events->events[i];
			if (fk->nev >= FK_EVENTS)
				break;
			f = &fk->ev[fk->nev++];
			memset(f, 0, sizeof(*f));
			f->seq = e->seq;
			snprintf(f->task, sizeof(f->task), "%s", e->task_id);
			f->kind = e->kind_case;
			if (e->kind_case == VSM__TASK_EVENT__KIND_RESULT) {
				f->status = e->result->status;
				snprintf(f->summary, sizeof(f->summary), "%s",
				    e->result->summary);
			}
			if (e->kind_case == VSM__TASK_EVENT__KIND_LOG)
				snprintf(f->summary, sizeof(f->summary), "%s",
				    e->log->line);
			if (e->kind_case == VSM__TASK_EVENT__KIND_STARTED)
				f->pid = e->started->pid;
			if (fk->ack && e->seq > ea.upto_seq)
				ea.upto_seq = e->seq;
		}
		out.body_case = VSM__ENVELOPE__BODY_EVENTS_ACK;
		out.events_ack = &ea;
		fk_reply(req, &out);
		break;
	default:
		vsm_srv_drop(req);
		break;
	}
	pthread_mutex_unlock(&fk->mtx);
	vsm__envelope__free_unpacked(in, NULL);
}

/* As the controller's registry: a held poll dies with its session. */
static void
fk_closed(void *arg, struct vsm_peer *peer)
{
	struct fake *fk = arg;

	pthread_mutex_lock(&fk->mtx);
	if (fk->held != NULL &&
	    vsm_srv_req_peer(fk->held)->session_id == peer->session_id) {
		vsm_srv_drop(fk->held);
		fk->held = NULL;
	}
	pthread_mutex_unlock(&fk->mtx);
}

static const struct vsm_server_ops fk_ops = {
    .authorize = fk_authorize,
    .request = fk_request,
    .closed = fk_closed,
};

/* Answer a held poll when there is work, or after 500 ms. */
static void *
fk_tick(void *arg)
{
	struct fake    *fk = arg;
	struct timespec ts = {0, 20 * 1000 * 1000};

	for (;;) {
		pthread_mutex_lock(&fk->mtx);
		if (fk->stop) {
			pthread_mutex_unlock(&fk->mtx);
			break;
		}
		if (fk->held != NULL && !fk->hold &&
		    ((fk->ntasks > 0 && fk->held_slots > 0) ||
		        tu_now_ms() - fk->held_at > 500))
			fk_answer_poll(fk);
		pthread_mutex_unlock(&fk->mtx);
		nanosleep(&ts, NULL);
	}
	return (NULL);
}

static void
fk_start(struct fake *fk)
{
	struct vsm_server_config cfg = {0};
	struct vsm_err           err;
	int                      i;

	cfg.url = fk->url;
	cfg.key = &fk->key;
	cfg.ops = &fk_ops;
	cfg.arg = fk;
	cfg.nctx = 16;
	cfg.max_payload = 1 << 20;
	cfg.version = "fake";
	fk->stop = 0;
	/* The port may take a moment to be free again after a stop. */
	for (i = 0; i < 100; i++) {
		if (vsm_server_start(&fk->srv, &cfg, &err) == 0)
			break;
		usleep(100 * 1000);
	}
	assert_non_null(fk->srv);
	assert_int_equal(pthread_create(&fk->ticker, NULL, fk_tick, fk), 0);
}

static void
fk_stop(struct fake *fk)
{
	pthread_mutex_lock(&fk->mtx);
	fk->stop = 1;
	pthread_mutex_unlock(&fk->mtx);
	pthread_join(fk->ticker, NULL);
	vsm_server_stop(fk->srv);
	fk->srv = NULL;
	fk->held = NULL; /* freed with the server */
}

static struct fake *
fk_new(int pending, int ack)
{
	struct fake *fk = calloc(1, sizeof(*fk));

	assert_non_null(fk);
	pthread_mutex_init(&fk->mtx, NULL);
	vsm_keypair_generate(&fk->key);
	tu_loopback_url(fk->url, sizeof(fk->url));
	fk->pending_left = pending;
	fk->ack = ack;
	fk_start(fk);
	live_fk = fk;
	return (fk);
}

static void
fk_free(struct fake *fk)
{
	if (fk->srv != NULL)
		fk_stop(fk);
	vsm_keypair_wipe(&fk->key);
	free(fk);
	live_fk = NULL;
}

/* Queue a task with one param (key NULL: none). */
static void
fk_queue_param(struct fake *fk, const char *id, const char *module,
    const char *key, const char *value)
{
	pthread_mutex_lock(&fk->mtx);
	assert_true(fk->ntasks < FK_TASKS);
	assert_true(strlen(id) < 64 && strlen(module) < 64);
	assert_true(
	    (!key || strlen(key) < 64) && (!value || strlen(value) < 64));
	snprintf(fk->tasks[fk->ntasks][0], 64, "%.63s", id);
	snprintf(fk->tasks[fk->ntasks][1], 64, "%.63s", module);
	snprintf(fk->tasks[fk->ntasks][2], 64, "%.63s", key ? key : "");
	snprintf(fk->tasks[fk->ntasks][3], 64, "%.63s", value ? value : "");
	fk->ntasks++;
	pthread_mutex_unlock(&fk->mtx);
}

static void
fk_queue(struct fake *fk, const char *id, const char *module)
{
	fk_queue_param(fk, id, module, NULL, NULL);
}

/*
 * The status of task's RESULT (-1 when none yet), and its summary into
 * buf; with line != NULL, whether a LOG of the task held it (in *seen).
 */
static int
fk_result(struct fake *fk, const char *task, char *buf, size_t len,
    const char *line, int *seen)
{
	int i, status = -1;

	pthread_mutex_lock(&fk->mtx);
	if (seen != NULL)
		*seen = 0;
	for (i = 0; i < fk->nev; i++) {
		if (strcmp(fk->ev[i].task, task) != 0)
			continue;
		if (fk->ev[i].kind == VSM__TASK_EVENT__KIND_RESULT) {
			status = fk->ev[i].status;
			snprintf(buf, len, "%s", fk->ev[i].summary);
		}
		if (fk->ev[i].kind == VSM__TASK_EVENT__KIND_LOG &&
		    line != NULL && strstr(fk->ev[i].summary, line) != NULL)
			*seen = 1;
	}
	pthread_mutex_unlock(&fk->mtx);
	return (status);
}

/* How many events of task (kind 0: any) the fake has received. */
static int
fk_count(struct fake *fk, const char *task, int kind)
{
	int i, n = 0;

	pthread_mutex_lock(&fk->mtx);
	for (i = 0; i < fk->nev; i++)
		if (strcmp(fk->ev[i].task, task) == 0 &&
		    (kind == 0 || fk->ev[i].kind == kind))
			n++;
	pthread_mutex_unlock(&fk->mtx);
	return (n);
}

static int
fk_count_prefix(struct fake *fk, const char *prefix, int kind)
{
	int i, n = 0;

	pthread_mutex_lock(&fk->mtx);
	for (i = 0; i < fk->nev; i++)
		if (strncmp(fk->ev[i].task, prefix, strlen(prefix)) == 0 &&
		    fk->ev[i].kind == kind)
			n++;
	pthread_mutex_unlock(&fk->mtx);
	return (n);
}

/* Poll cond for up to ms; 1 when it held. */
#define WAIT_FOR(cond, ms)                                                     \
	({                                                                     \
		uint64_t end_ = tu_now_ms() + (ms);                            \
		int      ok_ = 0;                                              \
		while (!(ok_ = (cond)) && tu_now_ms() < end_)                  \
			usleep(20 * 1000);                                     \
		ok_;                                                           \
	})

/* ------------------------------------------------------------------------ */
/* The agent process */

struct ag {
	char  dir[64];
	char  cfg[128];
	char  log[128];
	char  bin[PATH_MAX];
	pid_t pid;
};

static void
bin_path(char *out, size_t len, const char *name)
{
	char    exe[PATH_MAX];
	ssize_t n;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	/* build/tests/test_agent -> build/bin/NAME */
	snprintf(out, len, "%s/../bin/%s", dirname(exe), name);
}

static void
ag_init(struct ag *ag, const char *url, const struct vsm_keypair *ckey)
{
	char  b64[VSM_KEY_B64LEN], dir[96];
	char *argv[] = {ag->bin, "init", "--dir", dir, "--controller",
	    (char *)url, "--controller-key", b64, "--token", TOKEN, "--name",
	    "db-1", "--label", "role=db", NULL};

	memset(ag, 0, sizeof(*ag));
	snprintf(ag->dir, sizeof(ag->dir), "/tmp/vsm-agent-test-XXXXXX");
	assert_non_null(mkdtemp(ag->dir));
	snprintf(live_dir, sizeof(live_dir), "%s", ag->dir);
	snprintf(dir, sizeof(dir), "%s/data", ag->dir);
	snprintf(ag->cfg, sizeof(ag->cfg), "%s/agent.yaml", dir);
	snprintf(ag->log, sizeof(ag->log), "%s/agent.log", ag->dir);
	bin_path(ag->bin, sizeof(ag->bin), "vsm-agent");
	vsm_key_encode(ckey->pub, b64);
	assert_int_equal(tu_run_wait(argv, ag->log), 0);
	tu_file_replace(ag->cfg, "heartbeat: 30s", "heartbeat: 1s");
	/* AddressSanitizer builds of vsm-task need a large address space. */
	tu_file_replace(ag->cfg, "memory: 4GiB", "memory: unlimited");
	tu_file_replace(ag->cfg, "commands: {}",
	    "commands:\n  sleeper: [\"/bin/sleep\", \"60\"]");
}

static void
ag_start(struct ag *ag)
{
	posix_spawn_file_actions_t fa;
	char *argv[] = {ag->bin, "run", "--config", ag->cfg, NULL};

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(
	    &fa, 1, ag->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_addopen(
	    &fa, 2, ag->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	assert_int_equal(
	    posix_spawn(&ag->pid, ag->bin, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	live_pid = ag->pid;
}

/* Stop with sig; returns the exit status (or -1 if killed). */
static int
ag_stop(struct ag *ag, int sig)
{
	int st = 0, i;

	if (ag->pid <= 0)
		return (0);
	kill(ag->pid, sig);
	for (i = 0; i < 600; i++) {
		if (waitpid(ag->pid, &st, WNOHANG) == ag->pid)
			break;
		usleep(100 * 1000);
	}
	if (i == 600) {
		kill(ag->pid, SIGKILL);
		waitpid(ag->pid, &st, 0);
	}
	ag->pid = 0;
	live_pid = 0;
	return (WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static void
ag_free(struct ag *ag)
{
	ag_stop(ag, SIGKILL);
	if (getenv("VSM_TEST_KEEP") == NULL)
		tu_rmtree(ag->dir);
	live_dir[0] = '\0';
}

static int
teardown(void **state)
{
	int st;

	if (live_pid > 0) {
		kill(live_pid, SIGKILL);
		waitpid(live_pid, &st, 0);
		live_pid = 0;
	}
	if (live_dir[0] != '\0' && getenv("VSM_TEST_KEEP") == NULL)
		tu_rmtree(live_dir);
	live_dir[0] = '\0';
	if (live_fk != NULL)
		fk_free(live_fk);
	return (0);
}

static int
log_has(struct ag *ag, const char *s)
{
	char   buf[1 << 16];
	FILE  *fp;
	size_t n;

	if ((fp = fopen(ag->log, "r")) == NULL)
		return (0);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	return (strstr(buf, s) != NULL);
}

/* ------------------------------------------------------------------------ */

/* Events of task in order of seq: STARTED first, one RESULT, last. */
static void
check_task_events(struct fake *fk, const char *task, int want_status)
{
	uint64_t last = 0;
	int      i, n = 0, results = 0, started = 0;

	pthread_mutex_lock(&fk->mtx);
	for (i = 0; i < fk->nev; i++) {
		if (strcmp(fk->ev[i].task, task) != 0)
			continue;
		assert_true(fk->ev[i].seq > last); /* in order, no repeat */
		last = fk->ev[i].seq;
		if (n++ == 0)
			assert_int_equal(
			    fk->ev[i].kind, VSM__TASK_EVENT__KIND_STARTED);
		if (fk->ev[i].kind == VSM__TASK_EVENT__KIND_STARTED)
			started++;
		if (fk->ev[i].kind == VSM__TASK_EVENT__KIND_RESULT) {
			results++;
			assert_int_equal(fk->ev[i].status, want_status);
		} else
			assert_int_equal(results, 0); /* RESULT is last */
	}
	pthread_mutex_unlock(&fk->mtx);
	assert_int_equal(started, 1);
	assert_int_equal(results, 1);
}

static void
test_enroll_pending_then_task_runs_once_even_after_restart(void **state)
{
	struct fake *fk = fk_new(2, 1);
	struct ag    ag;

	ag_init(&ag, fk->url, &fk->key);
	ag_start(&ag);
	assert_true(WAIT_FOR(fk->accepted >= 1, WAIT_MS));
	assert_int_equal(fk->pendings, 2);
	assert_true(log_has(&ag, "enrollment pending"));
	/* Facts are gathered as the pseudo task facts:<boot-id>-1. */
	assert_true(WAIT_FOR(
	    fk_count_prefix(fk, "facts:", VSM__TASK_EVENT__KIND_RESULT) >= 1,
	    WAIT_MS));
	assert_true(WAIT_FOR(fk->heartbeats >= 2, WAIT_MS));

	fk_queue(fk, "a1b2c3", "sys.ping");
	assert_true(
	    WAIT_FOR(fk_count(fk, "a1b2c3", VSM__TASK_EVENT__KIND_RESULT) == 1,
	        WAIT_MS));
	check_task_events(fk, "a1b2c3", VSM__TASK_STATUS__TASK_OK);

	/* The same id again: not run, its first result re-reported. */
	fk_queue(fk, "a1b2c3", "sys.ping");
	assert_true(
	    WAIT_FOR(fk_count(fk, "a1b2c3", VSM__TASK_EVENT__KIND_RESULT) == 2,
	        WAIT_MS));
	assert_int_equal(
	    fk_count(fk, "a1b2c3", VSM__TASK_EVENT__KIND_STARTED), 1);

	/* And after a restart of the agent (a clean stop exits 0). */
	assert_int_equal(ag_stop(&ag, SIGTERM), 0);
	assert_true(log_has(&ag, "stopped"));
	ag_start(&ag);
	fk_queue(fk, "a1b2c3", "sys.ping");
	assert_true(
	    WAIT_FOR(fk_count(fk, "a1b2c3", VSM__TASK_EVENT__KIND_RESULT) == 3,
	        WAIT_MS));
	assert_int_equal(
	    fk_count(fk, "a1b2c3", VSM__TASK_EVENT__KIND_STARTED), 1);
	assert_true(log_has(&ag, "not run again"));
	ag_free(&ag);
	fk_free(fk);
}

/* Every seq from 1 to the highest seen was received at least once. */
static void
check_no_gap(struct fake *fk)
{
	uint64_t max = 0, s;
	int      i, found;

	pthread_mutex_lock(&fk->mtx);
	for (i = 0; i < fk->nev; i++)
		max = fk->ev[i].seq > max ? fk->ev[i].seq : max;
	for (s = 1; s <= max; s++) {
		found = 0;
		for (i = 0; i < fk->nev && !found; i++)
			found = fk->ev[i].seq == s;
		assert_true(found);
	}
	pthread_mutex_unlock(&fk->mtx);
}

static void
test_unacked_events_resent_after_controller_restart(void **state)
{
	struct fake *fk = fk_new(0, 0);
	struct ag    ag;

	ag_init(&ag, fk->url, &fk->key);
	ag_start(&ag);
	fk_queue(fk, "beef01", "sys.ping");
	assert_true(
	    WAIT_FOR(fk_count(fk, "beef01", VSM__TASK_EVENT__KIND_RESULT) >= 1,
	        WAIT_MS));
	/* The controller "loses" everything: restart it, now acking. */
	fk_stop(fk);
	pthread_mutex_lock(&fk->mtx);
	fk->nev = 0;
	fk->ack = 1;
	pthread_mutex_unlock(&fk->mtx);
	fk_start(fk);
	assert_true(
	    WAIT_FOR(fk_count(fk, "beef01", VSM__TASK_EVENT__KIND_RESULT) >= 1,
	        WAIT_MS));
	assert_true(fk_count(fk, "beef01", VSM__TASK_EVENT__KIND_STARTED) >= 1);
	check_no_gap(fk);
	ag_free(&ag);
	fk_free(fk);
}

static void
test_kill9_mid_task_then_restart_resends_and_reports(void **state)
{
	struct fake *fk = fk_new(0, 0);
	struct ag    ag;
	uint32_t     pid = 0;
	int          i;

	ag_init(&ag, fk->url, &fk->key);
	ag_start(&ag);
	fk_queue(fk, "cafe01", "exec.sleeper");
	assert_true(
	    WAIT_FOR(fk_count(fk, "cafe01", VSM__TASK_EVENT__KIND_STARTED) >= 1,
	        WAIT_MS));
	pthread_mutex_lock(&fk->mtx);
	for (i = 0; i < fk->nev; i++)
		if (fk->ev[i].pid != 0)
			pid = fk->ev[i].pid;
	fk->nev = 0;
	fk->ack = 1;
	pthread_mutex_unlock(&fk->mtx);
	ag_stop(&ag, SIGKILL);
	/* The orphaned task runs in a process group of its own. */
	if (pid != 0)
		kill(-(pid_t)pid, SIGKILL);
	ag_start(&ag);
	/* Its STARTED is re-sent, and it ends as an error, once. */
	assert_true(
	    WAIT_FOR(fk_count(fk, "cafe01", VSM__TASK_EVENT__KIND_RESULT) >= 1,
	        WAIT_MS));
	check_task_events(fk, "cafe01", VSM__TASK_STATUS__TASK_ERROR);
	check_no_gap(fk);
	ag_free(&ag);
	fk_free(fk);
}

static void
test_wrong_controller_key_is_named_in_the_log(void **state)
{
	struct fake       *fk = fk_new(0, 1);
	struct vsm_keypair other;
	struct ag          ag;
	char               b64[VSM_KEY_B64LEN];

	vsm_keypair_generate(&other);
	vsm_key_encode(other.pub, b64);
	ag_init(&ag, fk->url, &other);
	ag_start(&ag);
	assert_true(WAIT_FOR(log_has(&ag, b64), WAIT_MS));
	assert_true(log_has(&ag, "pinned controller key"));
	assert_int_equal(fk->accepted, 0);
	ag_free(&ag);
	vsm_keypair_wipe(&other);
	fk_free(fk);
}

/* Wait for task's RESULT; its status, the summary in buf. */
static int
wait_result(struct fake *fk, const char *task, char *buf, size_t len)
{
	assert_true(WAIT_FOR(
	    fk_count(fk, task, VSM__TASK_EVENT__KIND_RESULT) >= 1, WAIT_MS));
	return (fk_result(fk, task, buf, len, NULL, NULL));
}

static void
test_yaml_command_params_are_enforced(void **state)
{
	struct fake *fk = fk_new(0, 1);
	struct ag    ag;
	struct stat  sb;
	char         sum[256], marker[128], evil[96];
	int          seen;

	ag_init(&ag, fk->url, &fk->key);
	/* Shell metacharacters that would create marker, were there a shell. */
	snprintf(marker, sizeof(marker), "%s/pwned", ag.dir);
	snprintf(evil, sizeof(evil), "2024-01-01;touch %.40s", marker);
	tu_file_replace(ag.cfg, "  sleeper: [\"/bin/sleep\", \"60\"]",
	    "  sleeper: [\"/bin/sleep\", \"60\"]\n"
	    "  show:\n"
	    "    argv: [\"/bin/echo\", \"args:\"]\n"
	    "    params:\n"
	    "      since:\n"
	    "        pattern: \"[0-9]{4}-[0-9]{2}-[0-9]{2}\"\n"
	    "        flag: \"--since\"\n"
	    "      level: {enum: [err, info]}\n"
	    "  grepish:\n"
	    "    argv: [\"/bin/sh\", \"-c\", \"exit 1\"]\n"
	    "    ok_codes: [0, 1]");
	ag_start(&ag);

	fk_queue_param(fk, "bad001", "exec.show", "since", evil);
	assert_int_equal(wait_result(fk, "bad001", sum, sizeof(sum)),
	    VSM__TASK_STATUS__TASK_ERROR);
	assert_non_null(strstr(sum, "parameter 'since'"));
	assert_non_null(strstr(sum, "does not match the allowed pattern"));
	fk_queue_param(fk, "bad002", "exec.show", "since", "$(touch /x)");
	assert_int_equal(wait_result(fk, "bad002", sum, sizeof(sum)),
	    VSM__TASK_STATUS__TASK_ERROR);
	assert_non_null(strstr(sum, "does not match"));
	fk_queue_param(fk, "bad003", "exec.show", "level", "debug");
	assert_int_equal(wait_result(fk, "bad003", sum, sizeof(sum)),
	    VSM__TASK_STATUS__TASK_ERROR);
	assert_non_null(strstr(sum, "not one of the allowed values"));
	fk_queue_param(fk, "bad004", "exec.show", "until", "2024-01-01");
	assert_int_equal(wait_result(fk, "bad004", sum, sizeof(sum)),
	    VSM__TASK_STATUS__TASK_ERROR);
	assert_non_null(strstr(sum, "unknown parameter 'until'"));
	/* Nothing ran for them. */
	fk_result(fk, "bad001", sum, sizeof(sum), "args:", &seen);
	assert_int_equal(seen, 0);
	assert_int_equal(stat(marker, &sb), -1);

	/* A good value goes in as one argument, after its flag. */
	fk_queue_param(fk, "good01", "exec.show", "since", "2024-01-01");
	assert_int_equal(wait_result(fk, "good01", sum, sizeof(sum)),
	    VSM__TASK_STATUS__TASK_OK);
	assert_true(WAIT_FOR((fk_result(fk, "good01", sum, sizeof(sum),
	                          "args: --since "
	                          "2024-01-01",
	                          &seen),
	                         seen),
	    WAIT_MS));
	/* ok_codes from the file: exit 1 is ok. */
	fk_queue(fk, "okc001", "exec.grepish");
	assert_int_equal(wait_result(fk, "okc001", sum, sizeof(sum)),
	    VSM__TASK_STATUS__TASK_OK);
	assert_non_null(strstr(sum, "exited 1"));

	/* The Hello told the controller what this agent can run. */
	pthread_mutex_lock(&fk->mtx);
	assert_non_null(strstr(fk->hello_modules, "sys.ping"));
	assert_non_null(strstr(fk->hello_modules, "sys.facts"));
	assert_non_null(strstr(fk->hello_modules, "exec.*"));
	assert_string_equal(
	    fk->hello_commands, "exec.sleeper exec.show exec.grepish");
	pthread_mutex_unlock(&fk->mtx);
	ag_free(&ag);
	fk_free(fk);
}

/* More commands than a Hello holds: the agent still starts, says so. */
static void
test_hello_keeps_the_commands_that_fit(void **state)
{
	struct fake *fk = fk_new(0, 1);
	struct ag    ag;
	static char  cmds[40000];
	size_t       off = 0;
	int          i, n;

	ag_init(&ag, fk->url, &fk->key);
	off += (size_t)snprintf(cmds, sizeof(cmds), "commands:");
	for (i = 0; i < 250; i++)
		off += (size_t)snprintf(cmds + off, sizeof(cmds) - off,
		    "\n  c%03d-%054d: [\"/bin/true\"]", i, 0);
	tu_file_replace(ag.cfg, "commands:", cmds);
	ag_start(&ag);
	assert_true(WAIT_FOR(fk->accepted >= 1, WAIT_MS));
	assert_true(WAIT_FOR(log_has(&ag, "the Hello has room for"), WAIT_MS));
	pthread_mutex_lock(&fk->mtx);
	n = fk->hello_ncommands;
	pthread_mutex_unlock(&fk->mtx);
	/* 250 names of some 64 characters do not fit in 16 KiB. */
	assert_true(n > 100 && n < 250);
	assert_non_null(strstr(fk->hello_modules, "sys.ping"));
	ag_free(&ag);
	fk_free(fk);
}

static void
test_usage_errors_exit_2(void **state)
{
	char  bin[PATH_MAX], out[] = "/tmp/vsm-agent-usage-XXXXXX";
	char *a1[] = {bin, NULL};
	char *a2[] = {bin, "frobnicate", NULL};
	char *a3[] = {bin, "run", NULL};
	char *a4[] = {bin, "init", "--dir", "/tmp/x", NULL};
	char *a5[] = {bin, "run", "--config", "/nonexistent/agent.yaml", NULL};
	char *a6[] = {bin, "--help", NULL};
	int   fd;

	bin_path(bin, sizeof(bin), "vsm-agent");
	assert_true((fd = mkstemp(out)) != -1);
	close(fd);
	assert_int_equal(tu_run_wait(a1, out), 2);
	assert_int_equal(tu_run_wait(a2, out), 2);
	assert_int_equal(tu_run_wait(a3, out), 2);
	assert_int_equal(tu_run_wait(a4, out), 2);
	assert_int_equal(tu_run_wait(a5, out), 1);
	assert_int_equal(tu_run_wait(a6, out), 0);
	unlink(out);
}

/*
 * SIGTERM while the controller holds the agent's poll: the agent cancels
 * its calls and exits cleanly at once, instead of waiting out the poll's
 * heartbeat + 15 s (16 s here, with a 1 s heartbeat).
 */
static void
test_stop_with_a_poll_held_is_prompt(void **state)
{
	struct fake *fk = fk_new(0, 1);
	struct ag    ag;
	uint64_t     t0;
	int          held;

	(void)state;
	pthread_mutex_lock(&fk->mtx);
	fk->hold = 1;
	pthread_mutex_unlock(&fk->mtx);
	ag_init(&ag, fk->url, &fk->key);
	ag_start(&ag);
	assert_true(WAIT_FOR(fk->accepted >= 1, WAIT_MS));
	assert_true(WAIT_FOR(fk->held != NULL, WAIT_MS));
	pthread_mutex_lock(&fk->mtx);
	held = fk->held != NULL;
	pthread_mutex_unlock(&fk->mtx);
	assert_true(held);
	t0 = tu_now_ms();
	assert_int_equal(ag_stop(&ag, SIGTERM), 0);
	/* Generous for a busy machine; the poll alone would take 16 s. */
	assert_true(tu_now_ms() - t0 < 10000);
	assert_true(log_has(&ag, "stopped"));
	ag_free(&ag);
}

/* The status of the n-th (from 1) RESULT of task, or -1. */
static int
fk_result_status(struct fake *fk, const char *task, int n)
{
	int i, st = -1;

	pthread_mutex_lock(&fk->mtx);
	for (i = 0; i < fk->nev && n > 0; i++)
		if (fk->ev[i].kind == VSM__TASK_EVENT__KIND_RESULT &&
		    strcmp(fk->ev[i].task, task) == 0 && --n == 0)
			st = fk->ev[i].status;
	pthread_mutex_unlock(&fk->mtx);
	return (st);
}

/*
 * Overwrite the hex of task's result in the agent's task record with
 * 'f's, the same length: the record still loads, the result no longer
 * unpacks.
 */
static void
corrupt_kept_result(struct ag *ag, const char *task)
{
	char        path[160], line[8192], needle[80];
	FILE       *fp;
	long        at = -1, pos;
	size_t      len;
	const char *hex;

	snprintf(path, sizeof(path), "%s/data/tasks.log", ag->dir);
	snprintf(needle, sizeof(needle), " %s ", task);
	assert_non_null(fp = fopen(path, "r+"));
	for (pos = ftell(fp); fgets(line, sizeof(line), fp) != NULL;
	     pos = ftell(fp))
		if (line[0] == 'R' && strstr(line, needle) != NULL)
			at = pos;
	assert_true(at >= 0);
	assert_int_equal(fseek(fp, at, SEEK_SET), 0);
	assert_non_null(fgets(line, sizeof(line), fp));
	hex = strstr(line, needle) + strlen(needle);
	len = strcspn(hex, "\n");
	assert_true(len > 0);
	memset((char *)hex, 'f', len);
	assert_int_equal(fseek(fp, at, SEEK_SET), 0);
	assert_int_equal(fputs(line, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

/*
 * A task seen before whose kept result cannot be read back is not run
 * again and not left unanswered either: it ends as an error.
 */
static void
test_unreadable_kept_result_reports_an_error(void **state)
{
	struct fake *fk = fk_new(0, 1);
	struct ag    ag;

	(void)state;
	ag_init(&ag, fk->url, &fk->key);
	ag_start(&ag);
	fk_queue(fk, "c0ffee", "sys.ping");
	assert_true(
	    WAIT_FOR(fk_count(fk, "c0ffee", VSM__TASK_EVENT__KIND_RESULT) == 1,
	        WAIT_MS));
	assert_int_equal(
	    fk_result_status(fk, "c0ffee", 1), VSM__TASK_STATUS__TASK_OK);
	assert_int_equal(ag_stop(&ag, SIGTERM), 0);
	corrupt_kept_result(&ag, "c0ffee");
	ag_start(&ag);
	fk_queue(fk, "c0ffee", "sys.ping");
	assert_true(
	    WAIT_FOR(fk_count(fk, "c0ffee", VSM__TASK_EVENT__KIND_RESULT) == 2,
	        WAIT_MS));
	assert_int_equal(
	    fk_result_status(fk, "c0ffee", 2), VSM__TASK_STATUS__TASK_ERROR);
	assert_int_equal(
	    fk_count(fk, "c0ffee", VSM__TASK_EVENT__KIND_STARTED), 1);
	assert_true(log_has(&ag, "kept result is unreadable"));
	ag_free(&ag);
}

/*
 * An artifact manifest that does not parse is parked as .NAME.failed once
 * (kept on the host), not met and logged again on every scan.
 */
static void
test_unreadable_manifest_is_parked(void **state)
{
	struct fake *fk = fk_new(0, 1);
	struct ag    ag;
	struct stat  st;
	char         dir[160], path[224];

	(void)state;
	ag_init(&ag, fk->url, &fk->key);
	snprintf(dir, sizeof(dir), "%s/data/artifacts", ag.dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(dir, sizeof(dir), "%s/data/artifacts/deadbeef", ag.dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/dump.bin", dir);
	tu_put(path, "data", 0);
	snprintf(path, sizeof(path), "%s/.dump.bin.ready", dir);
	tu_put(path, "not a manifest\n", 0);
	ag_start(&ag);
	assert_true(WAIT_FOR(log_has(&ag, "unreadable manifest"), WAIT_MS));
	assert_int_equal(stat(path, &st), -1);
	snprintf(path, sizeof(path), "%s/.dump.bin.failed", dir);
	assert_int_equal(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/dump.bin", dir);
	assert_int_equal(stat(path, &st), 0);
	ag_free(&ag);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_usage_errors_exit_2),
	    cmocka_unit_test_teardown(
	        test_enroll_pending_then_task_runs_once_even_after_restart,
	        teardown),
	    cmocka_unit_test_teardown(
	        test_unacked_events_resent_after_controller_restart, teardown),
	    cmocka_unit_test_teardown(
	        test_kill9_mid_task_then_restart_resends_and_reports, teardown),
	    cmocka_unit_test_teardown(
	        test_wrong_controller_key_is_named_in_the_log, teardown),
	    cmocka_unit_test_teardown(
	        test_yaml_command_params_are_enforced, teardown),
	    cmocka_unit_test_teardown(
	        test_hello_keeps_the_commands_that_fit, teardown),
	    cmocka_unit_test_teardown(
	        test_stop_with_a_poll_held_is_prompt, teardown),
	    cmocka_unit_test_teardown(
	        test_unreadable_kept_result_reports_an_error, teardown),
	    cmocka_unit_test_teardown(
	        test_unreadable_manifest_is_parked, teardown),
	};

	if (sodium_init() < 0)
		return (1);
	signal(SIGPIPE, SIG_IGN);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
