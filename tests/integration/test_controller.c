/*
 * test_controller.c: the real vsm-controller process. `init --dir` in a
 * temporary directory, then `run` on loopback with a 1 s heartbeat. The
 * tests act as agents with the channel client and as the operator with
 * the admin key over the control socket: enrollment by token, pending
 * keys, revocation cutting a live session, duplicate names, fan-out on a
 * selector, held polls, events acked after commit and idempotent, down
 * detection, audit, cancel, and a kill -9 with events in flight.
 *
 * Timing bounds are generous (seconds) and only ever upper bounds.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "envelope.h"
#include "testutil.h"

extern char **environ;

#define CALL_MS 5000

struct agent {
	struct vsm_keypair key;
	struct vsm_client *cl;
	Vsm__Hello         hello;
	Vsm__Label         lab, *labp;
	char               name[64], token[80], lk[32], lv[32];
	int                status;
};

static struct {
	char               dir[64];
	char               cfg[128];
	char               cdir[96];
	char               url[64];
	char               ctlurl[128];
	char               token[80];
	uint8_t            srvkey[VSM_KEY_LEN];
	struct vsm_keypair admin;
	struct vsm_client *ctl;
	pid_t              pid;
	struct agent       web1, db1, db2;
	uint64_t           seq; /* agent event seqs, shared: monotonic */
} fx;

/* --- processes ----------------------------------------------------------- */

static pid_t
spawn(char *const argv[], const char *out)
{
	posix_spawn_file_actions_t fa;
	pid_t                      pid;

	posix_spawn_file_actions_init(&fa);
	if (out != NULL)
		posix_spawn_file_actions_addopen(
		    &fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0)
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	return (pid);
}

static int
run_wait(char *const argv[], const char *out)
{
	pid_t pid = spawn(argv, out);
	int   st;

	if (pid == -1 || waitpid(pid, &st, 0) == -1 || !WIFEXITED(st))
		return (-1);
	return (WEXITSTATUS(st));
}

static void
ctl_close(void)
{
	vsm_client_close(fx.ctl);
	fx.ctl = NULL;
}

static void
controller_start(void)
{
	char *argv[] = {VSM_CONTROLLER_PATH, "run", "--config", fx.cfg, NULL};
	char  log[128];
	int   fd;

	snprintf(log, sizeof(log), "%s/controller.log", fx.dir);
	/* stderr (the log) is appended to a file beside the store. */
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	assert_true(fd >= 0);
	{
		posix_spawn_file_actions_t fa;

		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, fd, 2);
		assert_int_equal(
		    posix_spawn(&fx.pid, argv[0], &fa, NULL, argv, environ), 0);
		posix_spawn_file_actions_destroy(&fa);
	}
	close(fd);
}

static void
controller_kill(int sig)
{
	int st;

	ctl_close();
	if (fx.pid > 0) {
		kill(fx.pid, sig);
		waitpid(fx.pid, &st, 0);
		if (sig == SIGTERM) {
			assert_true(WIFEXITED(st));
			assert_int_equal(WEXITSTATUS(st), 0);
		}
	}
	fx.pid = 0;
}

/* --- the control endpoint ----------------------------------------------- */

/*
 * Run a control command: args are "key", "value" pairs ending in NULL.
 * Returns the CtlResponse status (or -1 when the call failed) and the
 * parsed JSON document in *out (may be NULL).
 */
static int
ctl(json_t **out, const char *cmd, ...)
{
	Vsm__Envelope   env = VSM__ENVELOPE__INIT, *rep;
	Vsm__CtlRequest rq = VSM__CTL_REQUEST__INIT;
	Vsm__Param      pv[16], *pp[16];
	struct vsm_err  err;
	va_list         ap;
	uint8_t        *buf, *r = NULL;
	size_t          len, rlen, n = 0;
	const char     *k;
	int             status = -1, i;

	if (out != NULL)
		*out = NULL;
	if (fx.ctl == NULL) {
		struct vsm_client_config cc = {0};
		static Vsm__Hello        h = VSM__HELLO__INIT;

		h.name = "admin";
		cc.url = fx.ctlurl;
		cc.key = &fx.admin;
		cc.server_key = fx.srvkey;
		cc.hello = &h;
		cc.backoff_base_ms = 50;
		cc.backoff_cap_ms = 500;
		if (vsm_client_open(&fx.ctl, &cc, &err) == -1)
			return (-1);
	}
	va_start(ap, cmd);
	while (n < 16 && (k = va_arg(ap, const char *)) != NULL) {
		vsm__param__init(&pv[n]);
		pv[n].key = (char *)k;
		pv[n].value = va_arg(ap, char *);
		pp[n] = &pv[n];
		n++;
	}
	va_end(ap);
	rq.command = (char *)cmd;
	rq.args = pp;
	rq.n_args = n;
	env.body_case = VSM__ENVELOPE__BODY_CTL_REQUEST;
	env.ctl_request = &rq;
	len = vsm__envelope__get_packed_size(&env);
	buf = malloc(len);
	vsm__envelope__pack(&env, buf);
	for (i = 0; i < 3 && status == -1; i++) {
		if (vsm_client_call(
		        fx.ctl, buf, len, &r, &rlen, CALL_MS, &err) == -1)
			continue;
		rep = vsm__envelope__unpack(NULL, rlen, r);
		free(r);
		if (rep == NULL ||
		    rep->body_case != VSM__ENVELOPE__BODY_CTL_RESPONSE)
			break;
		status = (int)rep->ctl_response->status;
		if (out != NULL && rep->ctl_response->json[0] != '\0')
			*out = json_loads(rep->ctl_response->json, 0, NULL);
		if (status != 0)
			fprintf(stderr, "ctl %s: %s\n", cmd,
			    rep->ctl_response->error);
		vsm__envelope__free_unpacked(rep, NULL);
	}
	free(buf);
	return (status);
}

/* The row of `name` in hosts (borrowed from *doc, which the caller frees). */
static json_t *
host_row(json_t **doc, const char *name)
{
	size_t  i;
	json_t *h;

	if (ctl(doc, "hosts", NULL) != 0)
		return (NULL);
	json_array_foreach(*doc, i, h)
	{
		if (strcmp(json_string_value(json_object_get(h, "name")),
		        name) == 0)
			return (h);
	}
	return (NULL);
}

/* --- agents -------------------------------------------------------------- */

static void
agent_init(struct agent *a, const char *name, const char *token, const char *lk,
    const char *lv)
{
	memset(a, 0, sizeof(*a));
	vsm_keypair_generate(&a->key);
	snprintf(a->name, sizeof(a->name), "%s", name);
	snprintf(a->token, sizeof(a->token), "%s", token ? token : "");
	snprintf(a->lk, sizeof(a->lk), "%s", lk);
	snprintf(a->lv, sizeof(a->lv), "%s", lv);
}

/* (Re)open the agent's client and run the handshake; the Welcome status. */
static int
agent_connect(struct agent *a)
{
	struct vsm_client_config cc = {0};
	struct vsm_err           err;

	vsm_client_close(a->cl);
	a->cl = NULL;
	vsm__hello__init(&a->hello);
	vsm__label__init(&a->lab);
	a->hello.name = a->name;
	a->hello.agent_version = "test";
	a->hello.proto_version = 1;
	a->hello.token = a->token;
	a->lab.key = a->lk;
	a->lab.value = a->lv;
	a->labp = &a->lab;
	a->hello.labels = &a->labp;
	a->hello.n_labels = 1;
	cc.url = fx.url;
	cc.key = &a->key;
	cc.server_key = fx.srvkey;
	cc.hello = &a->hello;
	cc.backoff_base_ms = 50;
	cc.backoff_cap_ms = 500;
	if (vsm_client_open(&a->cl, &cc, &err) == -1)
		return (-1);
	a->status = 0;
	vsm_client_connect(a->cl, CALL_MS, &a->status, &err);
	return (a->status);
}

static void
agent_close(struct agent *a)
{
	vsm_client_close(a->cl);
	a->cl = NULL;
}

/* One request, one reply; NULL when the call failed. */
static Vsm__Envelope *
agent_call(struct agent *a, Vsm__Envelope *env, int ms)
{
	struct vsm_err err;
	Vsm__Envelope *rep;

	return (
	    vsm_client_call_env(a->cl, env, &rep, ms, &err) == 0 ? rep : NULL);
}

static int
agent_heartbeat(struct agent *a, double cpu)
{
	Vsm__Envelope  env = VSM__ENVELOPE__INIT, *rep;
	Vsm__Heartbeat hb = VSM__HEARTBEAT__INIT;
	int            ok;

	hb.seq = 1;
	hb.cpu_pct = cpu;
	hb.mem_pct = 50;
	hb.disk_pct = 70;
	env.body_case = VSM__ENVELOPE__BODY_HEARTBEAT;
	env.heartbeat = &hb;
	if ((rep = agent_call(a, &env, CALL_MS)) == NULL)
		return (-1);
	ok = rep->body_case == VSM__ENVELOPE__BODY_HEARTBEAT_ACK ? 0 : -1;
	vsm__envelope__free_unpacked(rep, NULL);
	return (ok);
}

/* Poll; the PollReply (caller frees the envelope) or NULL. */
static Vsm__Envelope *
agent_poll(struct agent *a, unsigned slots)
{
	Vsm__Envelope env = VSM__ENVELOPE__INIT, *rep;
	Vsm__Poll     p = VSM__POLL__INIT;

	p.slots = slots;
	env.body_case = VSM__ENVELOPE__BODY_POLL;
	env.poll = &p;
	rep = agent_call(a, &env, 3 * CALL_MS);
	if (rep != NULL && rep->body_case != VSM__ENVELOPE__BODY_POLL_REPLY) {
		vsm__envelope__free_unpacked(rep, NULL);
		rep = NULL;
	}
	return (rep);
}

/* Poll until a task arrives (up to ~20 s); its id into id, 0 or -1. */
static int
agent_poll_task(struct agent *a, char *id, size_t len)
{
	Vsm__Envelope *rep;
	int            i;

	for (i = 0; i < 10; i++) {
		if ((rep = agent_poll(a, 4)) == NULL)
			continue;
		if (rep->poll_reply->n_tasks > 0) {
			snprintf(id, len, "%s", rep->poll_reply->tasks[0]->id);
			vsm__envelope__free_unpacked(rep, NULL);
			return (0);
		}
		vsm__envelope__free_unpacked(rep, NULL);
	}
	return (-1);
}

/*
 * Send n log events seq0..seq0+n-1 (and a result ok when `result`) for a
 * task. Returns EventsAck.upto_seq, 0 for an Error reply, -1 when the
 * call failed.
 */
static int64_t
agent_events(
    struct agent *a, const char *task, uint64_t seq0, size_t n, int result)
{
	Vsm__Envelope   env = VSM__ENVELOPE__INIT, *rep;
	Vsm__Events     evs = VSM__EVENTS__INIT;
	Vsm__TaskEvent  ev[64], *evp[64];
	Vsm__LogLine    ll[64];
	Vsm__TaskResult res = VSM__TASK_RESULT__INIT;
	char            line[64][32];
	size_t          i;
	int64_t         ret;

	assert_true(n <= 64);
	for (i = 0; i < n; i++) {
		vsm__task_event__init(&ev[i]);
		vsm__log_line__init(&ll[i]);
		ev[i].seq = seq0 + i;
		ev[i].task_id = (char *)task;
		ev[i].time_ms = 1;
		snprintf(line[i], sizeof(line[i]), "line %llu",
		    (unsigned long long)(seq0 + i));
		ll[i].line = line[i];
		ev[i].kind_case = VSM__TASK_EVENT__KIND_LOG;
		ev[i].log = &ll[i];
		evp[i] = &ev[i];
	}
	if (result) {
		res.status = VSM__TASK_STATUS__TASK_OK;
		res.summary = "fine";
		res.result_json = "{\"answer\":42}";
		ev[n - 1].kind_case = VSM__TASK_EVENT__KIND_RESULT;
		ev[n - 1].result = &res;
	}
	evs.events = evp;
	evs.n_events = n;
	env.body_case = VSM__ENVELOPE__BODY_EVENTS;
	env.events = &evs;
	if ((rep = agent_call(a, &env, CALL_MS)) == NULL)
		return (-1);
	ret = rep->body_case == VSM__ENVELOPE__BODY_EVENTS_ACK
	    ? (int64_t)rep->events_ack->upto_seq
	    : 0;
	vsm__envelope__free_unpacked(rep, NULL);
	return (ret);
}

/* --- setup --------------------------------------------------------------- */

/* The test config: init's files, a 1 s heartbeat, then `extra` lines. */
static int
write_config(const char *extra)
{
	FILE *fp;

	if ((fp = fopen(fx.cfg, "w")) == NULL)
		return (-1);
	fchmod(fileno(fp), 0600);
	fprintf(fp,
	    "listen: %s\ncontrol: %s\nkey_file: %s/controller.key\n"
	    "data_dir: %s\nstore: sqlite:%s/vsm.db\nheartbeat: 1s\n"
	    "missed_heartbeats: 3\nagent_concurrency: 2\nlog_level: debug\n"
	    "artifact_max_size: 64MiB\n%s",
	    fx.url, fx.ctlurl, fx.cdir, fx.cdir, fx.cdir, extra);
	return (fclose(fp) == 0 ? 0 : -1);
}

static int
setup(void **state)
{
	char  cdir[96], out[128], line[256], path[160], keyb64[64] = "";
	char *argv[] = {VSM_CONTROLLER_PATH, "init", "--dir", cdir, "--listen",
	    fx.url, NULL};
	struct vsm_err err;
	FILE          *fp;

	if (sodium_init() < 0)
		return (-1);
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/vsmctlXXXXXX");
	if (mkdtemp(fx.dir) == NULL)
		return (-1);
	snprintf(cdir, sizeof(cdir), "%s/c", fx.dir);
	tu_loopback_url(fx.url, sizeof(fx.url));
	snprintf(out, sizeof(out), "%s/init.out", fx.dir);
	if (run_wait(argv, out) != 0)
		return (-1);
	if ((fp = fopen(out, "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof(line), fp) != NULL) {
		sscanf(line, "controller key: %63s", keyb64);
		sscanf(line, "enrollment token: %79s", fx.token);
	}
	fclose(fp);
	if (vsm_key_decode(keyb64, fx.srvkey, &err) == -1 ||
	    strlen(fx.token) != 64)
		return (-1);
	snprintf(path, sizeof(path), "%s/admin.key", cdir);
	if (vsm_key_load(path, &fx.admin, &err) == -1)
		return (-1);
	snprintf(fx.cdir, sizeof(fx.cdir), "%s", cdir);
	snprintf(fx.cfg, sizeof(fx.cfg), "%s/test.yaml", cdir);
	snprintf(fx.ctlurl, sizeof(fx.ctlurl), "ipc://%s/control.sock", cdir);
	if (write_config("") == -1)
		return (-1);
	controller_start();
	return (0);
}

static int
teardown(void **state)
{
	char *argv[] = {"/bin/rm", "-rf", fx.dir, NULL};

	agent_close(&fx.web1);
	agent_close(&fx.db1);
	agent_close(&fx.db2);
	controller_kill(SIGTERM);
	vsm_keypair_wipe(&fx.admin);
	if (getenv("VSM_KEEP_TMP") == NULL && fx.dir[0] != '\0')
		run_wait(argv, NULL);
	return (0);
}

/* --- tests --------------------------------------------------------------- */

static void
test_cli_usage_and_errors(void **state)
{
	char *noargs[] = {VSM_CONTROLLER_PATH, NULL};
	char *help[] = {VSM_CONTROLLER_PATH, "--help", NULL};
	char *bad[] = {VSM_CONTROLLER_PATH, "frobnicate", NULL};
	char *nocfg[] = {VSM_CONTROLLER_PATH, "run", "--config",
	    "/nonexistent/x.yaml", NULL};
	char  d[128];
	char *again[] = {VSM_CONTROLLER_PATH, "init", "--dir", d, NULL};

	assert_int_equal(run_wait(noargs, "/dev/null"), 2);
	assert_int_equal(run_wait(help, "/dev/null"), 0);
	assert_int_equal(run_wait(bad, "/dev/null"), 2);
	assert_int_equal(run_wait(nocfg, "/dev/null"), 1);
	/* init never overwrites an existing controller. */
	snprintf(d, sizeof(d), "%s/c", fx.dir);
	assert_int_equal(run_wait(again, "/dev/null"), 1);
}

static void
test_enroll_by_token(void **state)
{
	json_t *doc, *h;

	agent_init(&fx.web1, "web-1", fx.token, "role", "web");
	assert_int_equal(
	    agent_connect(&fx.web1), VSM__WELCOME__STATUS__ACCEPTED);
	assert_int_equal(agent_heartbeat(&fx.web1, 12.5), 0);
	h = host_row(&doc, "web-1");
	assert_non_null(h);
	assert_string_equal(
	    json_string_value(json_object_get(h, "state")), "up");
	assert_true(json_is_true(json_object_get(h, "connected")));
	assert_true(json_real_value(json_object_get(h, "cpu_pct")) == 12.5);
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(h, "labels"), "role")),
	    "web");
	json_decref(doc);
}

static void
test_pending_then_accept(void **state)
{
	json_t *doc;

	agent_init(&fx.db1, "db-1", NULL, "role", "db");
	assert_int_equal(agent_connect(&fx.db1), VSM__WELCOME__STATUS__PENDING);
	assert_int_equal(ctl(&doc, "keys.list", "state", "pending", NULL), 0);
	assert_int_equal(json_array_size(doc), 1);
	json_decref(doc);
	assert_int_equal(ctl(NULL, "keys.accept", "id", "db-1", NULL), 0);
	assert_int_equal(
	    agent_connect(&fx.db1), VSM__WELCOME__STATUS__ACCEPTED);
	/* A bad token leaves the key pending, it does not accept it. */
	agent_init(&fx.db2, "db-2", "00", "role", "db");
	assert_int_equal(agent_connect(&fx.db2), VSM__WELCOME__STATUS__PENDING);
}

static void
test_duplicate_name_refused(void **state)
{
	struct agent a;
	json_t      *doc;
	const char  *tok;

	assert_int_equal(
	    ctl(&doc, "keys.token", "uses", "2", "ttl", "1h", NULL), 0);
	tok = json_string_value(json_object_get(doc, "token"));
	agent_init(&a, "web-1", tok, "role", "web");
	assert_int_equal(agent_connect(&a), VSM__WELCOME__STATUS__REJECTED);
	agent_close(&a);
	json_decref(doc);
	/* Usage errors are status 2. */
	assert_int_equal(ctl(NULL, "keys.token", "uses", "x", NULL), 2);
	assert_int_equal(ctl(NULL, "no.such.command", NULL), 2);
}

static void
test_fanout_and_events(void **state)
{
	json_t        *doc, *t;
	char           job[64], t1[64], t2[64];
	size_t         i;
	Vsm__Envelope *rep;

	assert_int_equal(ctl(NULL, "keys.accept", "id", "db-2", NULL), 0);
	assert_int_equal(
	    agent_connect(&fx.db2), VSM__WELCOME__STATUS__ACCEPTED);
	assert_int_equal(ctl(NULL, "run", "module", "sys.ping", "target",
	                     "role in (db", NULL),
	    2);
	assert_int_equal(ctl(NULL, "run", "module", "sys.ping", "target",
	                     "role=nothing", NULL),
	    1);
	assert_int_equal(ctl(&doc, "run", "module", "sys.ping", "target",
	                     "role=db", "param", "count=3", NULL),
	    0);
	assert_int_equal(json_integer_value(json_object_get(doc, "tasks")), 2);
	snprintf(job, sizeof(job), "%s",
	    json_string_value(json_object_get(doc, "job")));
	json_decref(doc);
	assert_int_equal(agent_poll_task(&fx.db1, t1, sizeof(t1)), 0);
	assert_int_equal(agent_poll_task(&fx.db2, t2, sizeof(t2)), 0);
	assert_string_not_equal(t1, t2);
	/* web-1 is not a target: its poll is held, then answered empty. */
	rep = agent_poll(&fx.web1, 4);
	assert_non_null(rep);
	assert_int_equal(rep->poll_reply->n_tasks, 0);
	vsm__envelope__free_unpacked(rep, NULL);
	/*
	 * Events of another host's task are never stored: acked and dropped
	 * (with a warning), so that they cannot block that agent's spool.
	 */
	assert_int_equal(agent_events(&fx.web1, t1, 1, 1, 0), 1);
	/* Acked after commit; sent again, acked again, stored once. */
	assert_int_equal(agent_events(&fx.db1, t1, 1, 3, 1), 3);
	assert_int_equal(agent_events(&fx.db1, t1, 1, 3, 1), 3);
	assert_int_equal(agent_events(&fx.db2, t2, 4, 2, 1), 5);
	assert_int_equal(ctl(&doc, "job.logs", "id", job, NULL), 0);
	assert_int_equal(json_array_size(json_object_get(doc, "events")), 5);
	assert_true(json_is_true(json_object_get(doc, "done")));
	json_decref(doc);
	assert_int_equal(ctl(&doc, "job.show", "id", job, NULL), 0);
	json_array_foreach(json_object_get(doc, "tasks"), i, t)
	{
		assert_string_equal(
		    json_string_value(json_object_get(t, "state")), "ok");
		assert_int_equal(
		    json_integer_value(json_object_get(
		        json_object_get(json_object_get(t, "result"), "result"),
		        "answer")),
		    42);
	}
	json_decref(doc);
}

struct poller {
	struct agent *a;
	char          id[64];
	int           rc;
};

static void *
poller_main(void *arg)
{
	struct poller *p = arg;

	p->rc = agent_poll_task(p->a, p->id, sizeof(p->id));
	return (NULL);
}

static void
test_held_poll_answered_by_job(void **state)
{
	struct poller   p = {.a = &fx.db2, .rc = -1};
	pthread_t       thr;
	json_t         *doc;
	struct timespec ts = {0, 300 * 1000000};

	assert_int_equal(pthread_create(&thr, NULL, poller_main, &p), 0);
	nanosleep(&ts, NULL);
	assert_int_equal(
	    ctl(&doc, "run", "module", "sys.ping", "target", "name=db-2", NULL),
	    0);
	pthread_join(thr, NULL);
	assert_int_equal(p.rc, 0);
	json_decref(doc);
	/* Cancel: the agent hears of it on its next poll. */
	assert_int_equal(ctl(&doc, "jobs", "limit", "1", NULL), 0);
	{
		const char *job = json_string_value(
		    json_object_get(json_array_get(doc, 0), "id"));
		Vsm__Envelope *rep;
		json_t        *c;

		assert_int_equal(ctl(&c, "job.cancel", "id", job, NULL), 0);
		assert_int_equal(
		    json_integer_value(json_object_get(c, "cancelled")), 1);
		json_decref(c);
		rep = agent_poll(&fx.db2, 0);
		assert_non_null(rep);
		assert_int_equal(rep->poll_reply->n_cancel, 1);
		assert_string_equal(rep->poll_reply->cancel[0], p.id);
		vsm__envelope__free_unpacked(rep, NULL);
	}
	json_decref(doc);
}

static void
cut_off(const char *cmd)
{
	struct agent    a;
	json_t         *doc;
	const char     *tok;
	char            name[32];
	struct timespec t0, t1;

	snprintf(name, sizeof(name), "tmp-%s", cmd);
	assert_int_equal(ctl(&doc, "keys.token", NULL), 0);
	tok = json_string_value(json_object_get(doc, "token"));
	agent_init(&a, name, tok, "role", "tmp");
	json_decref(doc);
	assert_int_equal(agent_connect(&a), VSM__WELCOME__STATUS__ACCEPTED);
	assert_int_equal(agent_heartbeat(&a, 1), 0);
	assert_int_equal(ctl(&doc, cmd, "id", name, NULL), 0);
	assert_int_equal(
	    json_integer_value(json_object_get(doc, "sessions_closed")), 1);
	json_decref(doc);
	/* The session is gone: the next call fails, and quickly. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_not_equal(agent_heartbeat(&a, 1), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 2 * CALL_MS / 1000);
	assert_int_not_equal(agent_connect(&a), VSM__WELCOME__STATUS__ACCEPTED);
	agent_close(&a);
}

static void
test_revoke_cuts_session(void **state)
{
	cut_off("keys.revoke");
}

static void
test_reject_cuts_session(void **state)
{
	cut_off("keys.reject");
}

static int
web1_down(void *arg)
{
	json_t *doc, *h = host_row(&doc, "web-1");
	int     down = h != NULL &&
	    strcmp(json_string_value(json_object_get(h, "state")), "down") == 0;

	json_decref(doc);
	return (down);
}

static void
test_down_after_missed_heartbeats(void **state)
{
	assert_int_equal(agent_heartbeat(&fx.web1, 3), 0);
	assert_false(web1_down(NULL));
	/* 3 missed 1 s heartbeats; allow far more on a busy machine. */
	assert_true(tu_wait(web1_down, NULL, 30000));
	/* A heartbeat brings it back. */
	assert_int_equal(agent_heartbeat(&fx.web1, 3), 0);
	assert_false(web1_down(NULL));
}

static void
test_audit_rows(void **state)
{
	json_t     *doc, *r;
	size_t      i;
	int         accept = 0, token = 0, create = 0, cancel = 0;
	const char *a;

	assert_int_equal(ctl(&doc, "audit", "limit", "1000", NULL), 0);
	json_array_foreach(doc, i, r)
	{
		a = json_string_value(json_object_get(r, "action"));
		if (strcmp(json_string_value(json_object_get(r, "who")),
		        "admin") != 0)
			continue;
		accept += strcmp(a, "key.state") == 0;
		token += strcmp(a, "token.create") == 0;
		create += strcmp(a, "job.create") == 0;
		cancel += strcmp(a, "job.cancel") == 0;
	}
	assert_int_equal(accept, 4); /* 2 accepts, a revoke, a reject */
	assert_int_equal(token, 3);
	assert_int_equal(create, 2);
	assert_int_equal(cancel, 1);
	json_decref(doc);
}

struct pump {
	struct agent *a;
	char          task[64];
	uint64_t      next;  /* next seq to send */
	int64_t       acked; /* highest acked */
	int           stop;
};

static void *
pump_main(void *arg)
{
	struct pump *p = arg;
	int64_t      r;

	while (!__atomic_load_n(&p->stop, __ATOMIC_SEQ_CST) && p->next < 1800) {
		r = agent_events(p->a, p->task, p->next, 10, 0);
		if (r <= 0)
			break;
		__atomic_store_n(&p->acked, r, __ATOMIC_SEQ_CST);
		p->next = (uint64_t)r + 1;
	}
	return (NULL);
}

static int
pump_going(void *arg)
{
	return (__atomic_load_n(
	            &((struct pump *)arg)->acked, __ATOMIC_SEQ_CST) >= 300);
}

static void
test_kill9_keeps_every_acked_event_once(void **state)
{
	struct pump p = {.a = &fx.db1, .next = 1000};
	pthread_t   thr;
	json_t     *doc, *e;
	char        job[64];
	int64_t     acked, seq;
	size_t      i, n;
	char       *seen;

	assert_int_equal(
	    ctl(&doc, "run", "module", "sys.ping", "target", "name=db-1", NULL),
	    0);
	snprintf(job, sizeof(job), "%s",
	    json_string_value(json_object_get(doc, "job")));
	json_decref(doc);
	assert_int_equal(agent_poll_task(&fx.db1, p.task, sizeof(p.task)), 0);
	assert_int_equal(pthread_create(&thr, NULL, pump_main, &p), 0);
	assert_true(tu_wait(pump_going, &p, 60000));
	controller_kill(SIGKILL);
	__atomic_store_n(&p.stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(thr, NULL);
	acked = __atomic_load_n(&p.acked, __ATOMIC_SEQ_CST);
	assert_true(acked >= 1000);

	controller_start();
	/* Every acked event is there after the restart. */
	assert_int_equal(ctl(&doc, "job.logs", "id", job, NULL), 0);
	n = json_array_size(json_object_get(doc, "events"));
	assert_true((int64_t)n >= acked - 1000 + 1);
	json_decref(doc);
	/* The agent's spool sends everything again: each stored once. */
	assert_int_equal(
	    agent_connect(&fx.db1), VSM__WELCOME__STATUS__ACCEPTED);
	for (seq = 1000; seq < (int64_t)p.next + 10; seq += 10)
		assert_int_equal(
		    agent_events(&fx.db1, p.task, (uint64_t)seq, 10, 0),
		    seq + 9);
	assert_int_equal(ctl(&doc, "job.logs", "id", job, NULL), 0);
	seen = calloc((size_t)(p.next + 20 - 1000), 1);
	json_array_foreach(json_object_get(doc, "events"), i, e)
	{
		seq = json_integer_value(json_object_get(e, "seq"));
		assert_true(seq >= 1000 && seq < (int64_t)p.next + 20);
		assert_int_equal(seen[seq - 1000], 0);
		seen[seq - 1000] = 1;
	}
	/* Contiguous from 1000 to the last seq sent: nothing lost, no twins. */
	assert_int_equal(json_array_size(json_object_get(doc, "events")),
	    (size_t)(seq - 1000 + 1));
	free(seen);
	json_decref(doc);
}

/* --- artifacts ----------------------------------------------------------- */

#define ART_MIB  (1024 * 1024)
#define ART_SIZE (10 * ART_MIB + 123) /* 11 chunks of 1 MiB */

struct art_reply {
	uint32_t error; /* Error.code, 0 for an ArtifactState */
	uint64_t id;
	uint64_t offset;
	uint32_t chunk, window;
	int      complete;
};

/* Send one artifact request; -1 when the call failed. */
static int
art_call(struct agent *a, Vsm__Envelope *env, struct art_reply *r)
{
	Vsm__Envelope *rep;

	memset(r, 0, sizeof(*r));
	if ((rep = agent_call(a, env, CALL_MS)) == NULL)
		return (-1);
	if (rep->body_case == VSM__ENVELOPE__BODY_ERROR) {
		r->error = rep->error->code;
	} else {
		assert_int_equal(
		    rep->body_case, VSM__ENVELOPE__BODY_ARTIFACT_STATE);
		r->id = rep->artifact_state->upload_id;
		r->offset = rep->artifact_state->offset;
		r->chunk = rep->artifact_state->chunk_size;
		r->window = rep->artifact_state->window;
		r->complete = rep->artifact_state->complete;
	}
	vsm__envelope__free_unpacked(rep, NULL);
	return (0);
}

static void
art_open(struct agent *a, const char *task, const char *name, uint64_t size,
    const uint8_t *hash, struct art_reply *r)
{
	Vsm__Envelope     env = VSM__ENVELOPE__INIT;
	Vsm__ArtifactOpen op = VSM__ARTIFACT_OPEN__INIT;

	op.task_id = (char *)task;
	op.name = (char *)name;
	op.size = size;
	op.blake2b.data = (uint8_t *)hash;
	op.blake2b.len = 32;
	env.body_case = VSM__ENVELOPE__BODY_ARTIFACT_OPEN;
	env.artifact_open = &op;
	assert_int_equal(art_call(a, &env, r), 0);
}

/* Chunk at off of data (len bytes, or the natural chunk when 0). */
static void
art_chunk(struct agent *a, uint64_t id, const uint8_t *data, uint64_t off,
    size_t len, struct art_reply *r)
{
	Vsm__Envelope      env = VSM__ENVELOPE__INIT;
	Vsm__ArtifactChunk ch = VSM__ARTIFACT_CHUNK__INIT;

	if (len == 0)
		len = ART_SIZE - off < ART_MIB ? ART_SIZE - off : ART_MIB;
	ch.upload_id = id;
	ch.offset = off;
	ch.data.data = (uint8_t *)data + off;
	ch.data.len = len;
	env.body_case = VSM__ENVELOPE__BODY_ARTIFACT_CHUNK;
	env.artifact_chunk = &ch;
	assert_int_equal(art_call(a, &env, r), 0);
}

static void
art_commit(struct agent *a, uint64_t id, struct art_reply *r)
{
	Vsm__Envelope       env = VSM__ENVELOPE__INIT;
	Vsm__ArtifactCommit cm = VSM__ARTIFACT_COMMIT__INIT;

	cm.upload_id = id;
	env.body_case = VSM__ENVELOPE__BODY_ARTIFACT_COMMIT;
	env.artifact_commit = &cm;
	assert_int_equal(art_call(a, &env, r), 0);
}

/* The controller's copy of task/name equals data (1) or not (0). */
static int
art_stored(const char *task, const char *name, const uint8_t *data)
{
	char        path[256];
	uint8_t    *buf;
	struct stat sb;
	int         fd, ok;

	snprintf(path, sizeof(path), "%s/artifacts/%s/%s", fx.cdir, task, name);
	if ((fd = open(path, O_RDONLY)) == -1)
		return (0);
	buf = malloc(ART_SIZE);
	ok = fstat(fd, &sb) == 0 && sb.st_size == ART_SIZE &&
	    (sb.st_mode & 077) == 0 && read(fd, buf, ART_SIZE) == ART_SIZE &&
	    memcmp(buf, data, ART_SIZE) == 0;
	free(buf);
	close(fd);
	return (ok);
}

static void
controller_restart(const char *extra)
{
	controller_kill(SIGTERM);
	assert_int_equal(write_config(extra), 0);
	controller_start();
	assert_int_equal(
	    agent_connect(&fx.db1), VSM__WELCOME__STATUS__ACCEPTED);
}

/*
 * One artifact upload by hand: refusals first (name, size, another host's
 * task, chunk shape, window, early commit), chunks out of order, a resume
 * after a dropped connection (same upload, same offset) and after a
 * controller restart (the prefix it made durable), then commit, an
 * idempotent re-open, a checksum mismatch that throws the copy away, and
 * a full disk that refuses to start.
 */
static void
test_artifact_upload_resumes_and_refuses(void **state)
{
	static uint8_t   data[ART_SIZE];
	uint8_t          hash[32], bad[32];
	uint8_t          seed[randombytes_SEEDBYTES] = {7};
	struct art_reply r;
	uint64_t         id, off;
	json_t          *doc;
	char             task[64], other[64], path[256];

	randombytes_buf_deterministic(data, sizeof(data), seed);
	crypto_generichash(hash, sizeof(hash), data, sizeof(data), NULL, 0);
	memcpy(bad, hash, sizeof(bad));
	bad[0] ^= 1;
	assert_int_equal(
	    ctl(&doc, "run", "module", "sys.ping", "target", "role=db", NULL),
	    0);
	json_decref(doc);
	assert_int_equal(agent_poll_task(&fx.db1, task, sizeof(task)), 0);
	assert_int_equal(agent_poll_task(&fx.db2, other, sizeof(other)), 0);

	/* Refused before anything is written. */
	art_open(&fx.db1, task, "../escape", ART_SIZE, hash, &r);
	assert_int_equal(r.error, 400);
	art_open(&fx.db1, task, ".hidden", ART_SIZE, hash, &r);
	assert_int_equal(r.error, 400);
	art_open(&fx.db1, task, "big.bin", 65 * ART_MIB, hash, &r);
	assert_int_equal(r.error, 413);
	art_open(&fx.db1, other, "dump.bin", ART_SIZE, hash, &r);
	assert_int_equal(r.error, 403);
	art_open(&fx.db1, "facts:x", "dump.bin", ART_SIZE, hash, &r);
	assert_int_equal(r.error, 400);

	art_open(&fx.db1, task, "dump.bin", ART_SIZE, hash, &r);
	assert_int_equal(r.error, 0);
	assert_int_equal(r.offset, 0);
	assert_int_equal(r.chunk, ART_MIB);
	assert_int_equal(r.window, 8);
	assert_false(r.complete);
	id = r.id;
	/* Another host cannot use this upload. */
	art_chunk(&fx.db2, id, data, 0, 0, &r);
	assert_int_equal(r.error, 404);
	/* Bad shapes: short chunk, unaligned, past the end, past the window. */
	art_chunk(&fx.db1, id, data, 0, 1000, &r);
	assert_int_equal(r.error, 400);
	art_chunk(&fx.db1, id, data, 4096, ART_MIB, &r);
	assert_int_equal(r.error, 400);
	art_chunk(&fx.db1, id, data, 9 * (uint64_t)ART_MIB, 0, &r);
	assert_int_equal(r.error, 416);
	/* Out of order inside the window: held from 0 once the gap closes. */
	art_chunk(&fx.db1, id, data, 2 * (uint64_t)ART_MIB, 0, &r);
	assert_int_equal(r.error, 0);
	assert_int_equal(r.offset, 0);
	art_chunk(&fx.db1, id, data, 0, 0, &r);
	assert_int_equal(r.offset, ART_MIB);
	art_chunk(&fx.db1, id, data, ART_MIB, 0, &r);
	assert_int_equal(r.offset, 3 * (uint64_t)ART_MIB);
	/* A resend of a held chunk is harmless. */
	art_chunk(&fx.db1, id, data, 0, 0, &r);
	assert_int_equal(r.error, 0);
	assert_int_equal(r.offset, 3 * (uint64_t)ART_MIB);
	art_commit(&fx.db1, id, &r);
	assert_int_equal(r.error, 416);

	/* A dropped connection: the same upload resumes where it was. */
	assert_int_equal(
	    agent_connect(&fx.db1), VSM__WELCOME__STATUS__ACCEPTED);
	art_open(&fx.db1, task, "dump.bin", ART_SIZE, hash, &r);
	assert_int_equal(r.id, id);
	assert_int_equal(r.offset, 3 * (uint64_t)ART_MIB);

	/* A controller restart: it resumes from the prefix it kept. */
	controller_restart("");
	art_chunk(&fx.db1, id, data, 3 * (uint64_t)ART_MIB, 0, &r);
	assert_int_equal(r.error, 404);
	art_open(&fx.db1, task, "dump.bin", ART_SIZE, hash, &r);
	assert_int_equal(r.error, 0);
	assert_int_equal(r.offset, 3 * (uint64_t)ART_MIB);
	id = r.id;
	for (off = r.offset; off < ART_SIZE; off += ART_MIB) {
		art_chunk(&fx.db1, id, data, off, 0, &r);
		assert_int_equal(r.error, 0);
	}
	assert_int_equal(r.offset, ART_SIZE);
	art_commit(&fx.db1, id, &r);
	assert_int_equal(r.error, 0);
	assert_true(r.complete);
	assert_true(art_stored(task, "dump.bin", data));
	/* Open again (a lost commit answer): complete at once. */
	art_open(&fx.db1, task, "dump.bin", ART_SIZE, hash, &r);
	assert_int_equal(r.error, 0);
	assert_true(r.complete);
	/* The same path with other content is a conflict. */
	art_open(&fx.db1, task, "dump.bin", ART_SIZE, bad, &r);
	assert_int_equal(r.error, 409);

	/* The wrong hash: refused at commit, the copy thrown away. */
	art_open(&fx.db1, task, "bad.bin", ART_SIZE, bad, &r);
	assert_int_equal(r.error, 0);
	id = r.id;
	for (off = 0; off < ART_SIZE; off += ART_MIB)
		art_chunk(&fx.db1, id, data, off, 0, &r);
	art_commit(&fx.db1, id, &r);
	assert_int_equal(r.error, 422);
	snprintf(
	    path, sizeof(path), "%s/artifacts/%s/.bad.bin.part", fx.cdir, task);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/artifacts/%s/bad.bin", fx.cdir, task);
	assert_int_equal(access(path, F_OK), -1);

	/* A disk that would fall below artifact_min_free: retry later. */
	controller_restart("artifact_min_free: 1TiB\n");
	art_open(&fx.db1, task, "later.bin", ART_SIZE, hash, &r);
	assert_int_equal(r.error, 507);
	controller_restart("");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cli_usage_and_errors),
	    cmocka_unit_test(test_enroll_by_token),
	    cmocka_unit_test(test_pending_then_accept),
	    cmocka_unit_test(test_duplicate_name_refused),
	    cmocka_unit_test(test_fanout_and_events),
	    cmocka_unit_test(test_held_poll_answered_by_job),
	    cmocka_unit_test(test_revoke_cuts_session),
	    cmocka_unit_test(test_reject_cuts_session),
	    cmocka_unit_test(test_down_after_missed_heartbeats),
	    cmocka_unit_test(test_audit_rows),
	    cmocka_unit_test(test_kill9_keeps_every_acked_event_once),
	    cmocka_unit_test(test_artifact_upload_resumes_and_refuses),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
