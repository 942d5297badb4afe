/*
 * test_vsmctl.c: the real vsmctl against the real vsm-controller.
 * `vsm-controller init --dir` in a temporary directory, `run` on loopback
 * with a 1 s heartbeat, then vsmctl run as a process (stdout and stderr
 * captured through pipes) with `--dir` pointing at the data directory.
 * The tests act as agents with the channel client.
 *
 * Checked: --help lists every command; bad usage exits 2 and a failed
 * operation 1, each with exactly one line on stderr; --json is one JSON
 * document; a token from `keys token` enrolls an agent that `hosts` and
 * `keys list` show and `keys reject` cuts off; `run` on no host fails;
 * `run --wait` follows a job to its summary; `audit --json` has the
 * token; the modules and commands of a Hello reach `hosts --json` and
 * `host show`, and a Hello with a bad module or command name is refused;
 * `schedule next` prints fire times computed locally.
 * Timing bounds are generous and only ever upper bounds.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "envelope.h"
#include "testutil.h"
#include "tu_fleet.h"

extern char **environ;

#define CALL_MS 5000
#define OUT_CAP 65536

struct agent {
	struct vsm_keypair key;
	struct vsm_client *cl;
	Vsm__Hello         hello;
	Vsm__Label         lab, *labp;
	char               name[64], token[80];
	char             **modules, **commands; /* for the Hello */
	size_t             nmodules, ncommands;
	int                status;
};

/* One vsmctl run: exit code and what it wrote. */
struct out {
	int  rc;
	char out[OUT_CAP];
	char err[OUT_CAP];
};

static struct {
	char    dir[64];
	char    cdir[96];
	char    cfg[160];
	char    url[64];
	uint8_t srvkey[VSM_KEY_LEN];
	pid_t   pid;
	char    job[80];
} fx;

/* --- processes ----------------------------------------------------------- */

static int
run_wait(char *const argv[], const char *out)
{
	posix_spawn_file_actions_t fa;
	pid_t                      pid;
	int                        st;

	posix_spawn_file_actions_init(&fa);
	if (out != NULL)
		posix_spawn_file_actions_addopen(
		    &fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0)
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	if (pid == -1 || waitpid(pid, &st, 0) == -1 || !WIFEXITED(st))
		return (-1);
	return (WEXITSTATUS(st));
}

/*
 * Start vsmctl --dir CDIR ARGS... (a NULL-terminated list) with its
 * stdout and stderr on pipes; the pid, the read ends in fds[0..1].
 */
static pid_t
vsmctl_start(int fds[2], va_list ap)
{
	posix_spawn_file_actions_t fa;
	char                      *argv[32];
	int                        po[2], pe[2], n = 0;
	pid_t                      pid;

	argv[n++] = VSMCTL_PATH;
	argv[n++] = "--dir";
	argv[n++] = fx.cdir;
	while (n < 31 && (argv[n] = va_arg(ap, char *)) != NULL)
		n++;
	argv[n] = NULL;
	assert_int_equal(pipe(po), 0);
	assert_int_equal(pipe(pe), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	posix_spawn_file_actions_addclose(&fa, po[0]);
	posix_spawn_file_actions_addclose(&fa, pe[0]);
	assert_int_equal(
	    posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(po[1]);
	close(pe[1]);
	fds[0] = po[0];
	fds[1] = pe[0];
	return (pid);
}

/* Read both pipes to EOF (capped), reap the process, fill o. */
static void
vsmctl_finish(pid_t pid, int fds[2], struct out *o)
{
	struct pollfd pfd[2];
	size_t        len[2] = {0, 0};
	char         *buf[2] = {o->out, o->err};
	ssize_t       r;
	int           i, open = 2, st;

	for (i = 0; i < 2; i++) {
		pfd[i].fd = fds[i];
		pfd[i].events = POLLIN;
	}
	while (open > 0) {
		if (poll(pfd, 2, 60000) <= 0) {
			kill(pid, SIGKILL); /* stuck: fail, do not hang */
			break;
		}
		for (i = 0; i < 2; i++) {
			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			r = read(
			    pfd[i].fd, buf[i] + len[i], OUT_CAP - 1 - len[i]);
			if (r <= 0) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
				open--;
			} else
				len[i] += (size_t)r;
		}
	}
	o->out[len[0]] = '\0';
	o->err[len[1]] = '\0';
	assert_int_equal(waitpid(pid, &st, 0), pid);
	o->rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Start vsmctl with the NULL-terminated args; finish with vsmctl_finish. */
static pid_t
vsmctl_bg(int fds[2], ...)
{
	va_list ap;
	pid_t   pid;

	va_start(ap, fds);
	pid = vsmctl_start(fds, ap);
	va_end(ap);
	return (pid);
}

/* Run vsmctl with the NULL-terminated args; returns its exit code. */
static int
vsmctl(struct out *o, ...)
{
	va_list ap;
	pid_t   pid;
	int     fds[2];

	va_start(ap, o);
	pid = vsmctl_start(fds, ap);
	va_end(ap);
	vsmctl_finish(pid, fds, o);
	if (o->err[0] != '\0')
		fprintf(stderr, "# vsmctl stderr: %s", o->err);
	return (o->rc);
}

/* How many lines s has (each ending in '\n'); -1 if the last does not. */
static int
lines(const char *s)
{
	size_t len = strlen(s), i;
	int    n = 0;

	for (i = 0; i < len; i++)
		n += s[i] == '\n';
	return (len > 0 && s[len - 1] != '\n' ? -1 : n);
}

static void
assert_one_error_line(const struct out *o)
{
	assert_int_equal(lines(o->err), 1);
	assert_non_null(strstr(o->err, "vsmctl: "));
	assert_string_equal(o->out, "");
}

/* --- agents -------------------------------------------------------------- */

/*
 * Connect as name with token and these capabilities in the Hello (name
 * NULL: again, as before); the Welcome status.
 */
static int
agent_connect_caps(struct agent *a, const char *name, const char *token,
    char **modules, size_t nmodules, char **commands, size_t ncommands)
{
	struct vsm_client_config cc = {0};
	struct vsm_err           err;

	vsm_client_close(a->cl);
	a->cl = NULL;
	if (name != NULL) {
		memset(a, 0, sizeof(*a));
		vsm_keypair_generate(&a->key);
		snprintf(a->name, sizeof(a->name), "%s", name);
		snprintf(a->token, sizeof(a->token), "%s", token);
		a->modules = modules;
		a->nmodules = nmodules;
		a->commands = commands;
		a->ncommands = ncommands;
	}
	vsm__hello__init(&a->hello);
	vsm__label__init(&a->lab);
	a->hello.name = a->name;
	a->hello.agent_version = "test";
	a->hello.proto_version = 1;
	a->hello.token = a->token;
	a->lab.key = "role";
	a->lab.value = "web";
	a->labp = &a->lab;
	a->hello.labels = &a->labp;
	a->hello.n_labels = 1;
	a->hello.modules = a->modules;
	a->hello.n_modules = a->nmodules;
	a->hello.commands = a->commands;
	a->hello.n_commands = a->ncommands;
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

static int
agent_connect(struct agent *a, const char *name, const char *token)
{
	return (agent_connect_caps(a, name, token, NULL, 0, NULL, 0));
}

static void
agent_close(struct agent *a)
{
	vsm_client_close(a->cl);
	a->cl = NULL;
	vsm_keypair_wipe(&a->key);
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

/* Poll until a task arrives (up to ~75 s); its id into id, 0 or -1. */
static int
agent_poll_task(struct agent *a, char *id, size_t len)
{
	Vsm__Envelope env = VSM__ENVELOPE__INIT, *rep;
	Vsm__Poll     p = VSM__POLL__INIT;
	int           i;

	p.slots = 4;
	env.body_case = VSM__ENVELOPE__BODY_POLL;
	env.poll = &p;
	for (i = 0; i < 5; i++) {
		if ((rep = agent_call(a, &env, 3 * CALL_MS)) == NULL)
			continue;
		if (rep->body_case == VSM__ENVELOPE__BODY_POLL_REPLY &&
		    rep->poll_reply->n_tasks > 0) {
			snprintf(id, len, "%s", rep->poll_reply->tasks[0]->id);
			vsm__envelope__free_unpacked(rep, NULL);
			return (0);
		}
		vsm__envelope__free_unpacked(rep, NULL);
	}
	return (-1);
}

/* A log line then a result for task; EventsAck.upto_seq or -1. */
static int64_t
agent_finish(struct agent *a, const char *task, int status)
{
	Vsm__Envelope   env = VSM__ENVELOPE__INIT, *rep;
	Vsm__Events     evs = VSM__EVENTS__INIT;
	Vsm__TaskEvent  ev[2], *evp[2] = {&ev[0], &ev[1]};
	Vsm__LogLine    ll = VSM__LOG_LINE__INIT;
	Vsm__TaskResult res = VSM__TASK_RESULT__INIT;
	int64_t         ret = -1;

	vsm__task_event__init(&ev[0]);
	vsm__task_event__init(&ev[1]);
	ev[0].seq = 1;
	ev[0].task_id = (char *)task;
	ev[0].time_ms = 1;
	ll.line = "pinging";
	ev[0].kind_case = VSM__TASK_EVENT__KIND_LOG;
	ev[0].log = &ll;
	ev[1].seq = 2;
	ev[1].task_id = (char *)task;
	ev[1].time_ms = 2;
	res.status = status;
	res.summary = "fine";
	res.result_json = "{\"answer\":42}";
	ev[1].kind_case = VSM__TASK_EVENT__KIND_RESULT;
	ev[1].result = &res;
	evs.events = evp;
	evs.n_events = 2;
	env.body_case = VSM__ENVELOPE__BODY_EVENTS;
	env.events = &evs;
	if ((rep = agent_call(a, &env, CALL_MS)) == NULL)
		return (-1);
	if (rep->body_case == VSM__ENVELOPE__BODY_EVENTS_ACK)
		ret = (int64_t)rep->events_ack->upto_seq;
	vsm__envelope__free_unpacked(rep, NULL);
	return (ret);
}

/* --- setup --------------------------------------------------------------- */

static int
setup(void **state)
{
	char  out[128], line[256], keyb64[64] = "", log[160];
	char *argv[] = {VSM_CONTROLLER_PATH, "init", "--dir", fx.cdir,
	    "--listen", fx.url, NULL};
	char *run[] = {VSM_CONTROLLER_PATH, "run", "--config", fx.cfg, NULL};
	posix_spawn_file_actions_t fa;
	struct vsm_err             err;
	struct out                *o;
	FILE                      *fp;
	int                        fd, i;

	(void)state;
	if (sodium_init() < 0)
		return (-1);
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/vsmctlXXXXXX");
	if (mkdtemp(fx.dir) == NULL)
		return (-1);
	snprintf(fx.cdir, sizeof(fx.cdir), "%s/c", fx.dir);
	tu_loopback_url(fx.url, sizeof(fx.url));
	snprintf(out, sizeof(out), "%s/init.out", fx.dir);
	if (run_wait(argv, out) != 0)
		return (-1);
	if ((fp = fopen(out, "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof(line), fp) != NULL)
		sscanf(line, "controller key: %63s", keyb64);
	fclose(fp);
	if (vsm_key_decode(keyb64, fx.srvkey, &err) == -1)
		return (-1);
	/* The init config with a 1 s heartbeat. */
	snprintf(fx.cfg, sizeof(fx.cfg), "%s/test.yaml", fx.cdir);
	if ((fp = fopen(fx.cfg, "w")) == NULL)
		return (-1);
	fchmod(fileno(fp), 0600);
	fprintf(fp,
	    "listen: %s\ncontrol: ipc://%s/control.sock\n"
	    "key_file: %s/controller.key\ndata_dir: %s\n"
	    "store: sqlite:%s/vsm.db\nheartbeat: 1s\n"
	    "missed_heartbeats: 3\nlog_level: debug\n",
	    fx.url, fx.cdir, fx.cdir, fx.cdir, fx.cdir);
	fclose(fp);
	snprintf(log, sizeof(log), "%s/controller.log", fx.dir);
	if ((fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600)) == -1)
		return (-1);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd, 2);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (posix_spawn(&fx.pid, run[0], &fa, NULL, run, environ) != 0)
		fx.pid = 0;
	posix_spawn_file_actions_destroy(&fa);
	close(fd);
	if (fx.pid == 0)
		return (-1);
	/* Up when vsmctl gets an answer (up to ~50 s). */
	o = malloc(sizeof(*o));
	for (i = 0; i < 10; i++)
		if (vsmctl(o, "hosts", NULL) == 0)
			break;
	free(o);
	return (i < 10 ? 0 : -1);
}

static int
teardown(void **state)
{
	char *argv[] = {"/bin/rm", "-rf", fx.dir, NULL};
	int   st;

	(void)state;
	if (fx.pid > 0) {
		kill(fx.pid, SIGTERM);
		waitpid(fx.pid, &st, 0);
	}
	if (getenv("VSM_KEEP_TMP") == NULL && fx.dir[0] != '\0')
		run_wait(argv, NULL);
	return (0);
}

/* --- tests --------------------------------------------------------------- */

static void
test_help_lists_every_command(void **state)
{
	static const char *const cmds[] = {"hosts", "host show NAME",
	    "keys list", "keys accept ID", "keys reject ID", "keys revoke ID",
	    "keys token", "run MODULE", "jobs", "job show ID", "job logs ID",
	    "job cancel ID", "audit", "help"};
	struct out              *o = malloc(sizeof(*o));
	size_t                   i;

	(void)state;
	assert_int_equal(vsmctl(o, "--help", NULL), 0);
	assert_string_equal(o->err, "");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		assert_non_null(strstr(o->out, cmds[i]));
	assert_int_equal(vsmctl(o, "help", NULL), 0);
	assert_non_null(strstr(o->out, "job cancel ID"));
	/* A command's --help is its usage line. */
	assert_int_equal(vsmctl(o, "job", "logs", "--help", NULL), 0);
	assert_non_null(strstr(o->out, "job logs ID [--follow]"));
	free(o);
}

static void
test_bad_usage_exits_2_with_one_line(void **state)
{
	struct out *o = malloc(sizeof(*o));

	(void)state;
	assert_int_equal(vsmctl(o, "frobnicate", NULL), 2);
	assert_one_error_line(o);
	assert_non_null(strstr(o->err, "unknown command"));
	assert_int_equal(vsmctl(o, "keys", "frob", NULL), 2);
	assert_one_error_line(o);
	assert_int_equal(vsmctl(o, "keys", NULL), 2);
	assert_one_error_line(o);
	assert_int_equal(vsmctl(o, "job", "show", NULL), 2);
	assert_one_error_line(o);
	assert_non_null(strstr(o->err, "missing ID"));
	assert_int_equal(vsmctl(o, "keys", "accept", NULL), 2);
	assert_one_error_line(o);
	assert_int_equal(
	    vsmctl(o, "run", "sys.ping", "--param", "novalue", NULL), 2);
	assert_one_error_line(o);
	assert_non_null(strstr(o->err, "novalue"));
	assert_int_equal(vsmctl(o, "run", "sys.ping", "--param", NULL), 2);
	assert_one_error_line(o);
	assert_int_equal(vsmctl(o, "hosts", "--bogus", NULL), 2);
	assert_one_error_line(o);
	assert_int_equal(vsmctl(o, "hosts", "extra", NULL), 2);
	assert_one_error_line(o);
	assert_int_equal(vsmctl(o, NULL), 2);
	assert_one_error_line(o);
	assert_int_equal(vsmctl(o, "--control", NULL), 2);
	assert_one_error_line(o);
	/* The controller's usage errors (a malformed job id) are 2 too. */
	assert_int_equal(vsmctl(o, "job", "show", "abc", NULL), 2);
	assert_one_error_line(o);
	/* A bad selector is bad usage. */
	assert_int_equal(
	    vsmctl(o, "run", "sys.ping", "--target", "role in (", NULL), 2);
	assert_one_error_line(o);
	assert_int_equal(vsmctl(o, "keys", "token", "--uses", "x", NULL), 2);
	assert_one_error_line(o);
	free(o);
}

static void
test_failed_operation_exits_1_with_one_line(void **state)
{
	struct out *o = malloc(sizeof(*o));

	(void)state;
	assert_int_equal(
	    vsmctl(o, "job", "show", "00000000000000000000000000000000", NULL),
	    1);
	assert_one_error_line(o);
	assert_int_equal(vsmctl(o, "job", "cancel",
	                     "00000000000000000000000000000000", NULL),
	    1);
	assert_one_error_line(o);
	assert_int_equal(vsmctl(o, "keys", "accept", "no-such-host", NULL), 1);
	assert_one_error_line(o);
	/* No controller there: one line, exit 1. */
	assert_int_equal(
	    vsmctl(o, "--control", "ipc:///nonexistent/x.sock", "hosts", NULL),
	    1);
	assert_one_error_line(o);
	/* A missing operator key. */
	assert_int_equal(
	    vsmctl(o, "--key", "/nonexistent/admin.key", "hosts", NULL), 1);
	assert_one_error_line(o);
	/* A run that matches no host fails (exit 1), it is not empty. */
	assert_int_equal(
	    vsmctl(o, "run", "sys.ping", "--target", "name=nomatch", NULL), 1);
	assert_one_error_line(o);
	assert_non_null(strstr(o->err, "no host"));
	free(o);
}

static void
test_hosts_json_is_one_document(void **state)
{
	struct out  *o = malloc(sizeof(*o));
	json_t      *doc;
	json_error_t jerr;

	(void)state;
	assert_int_equal(vsmctl(o, "hosts", "--json", NULL), 0);
	assert_string_equal(o->err, "");
	/* One document, nothing after it (json_loads refuses trailers). */
	doc = json_loads(o->out, 0, &jerr);
	assert_non_null(doc);
	assert_true(json_is_array(doc));
	json_decref(doc);
	/* --json before the command too, with explicit flags. */
	{
		char url[160], key[160], pub[160];

		snprintf(url, sizeof(url), "ipc://%s/control.sock", fx.cdir);
		snprintf(key, sizeof(key), "%s/admin.key", fx.cdir);
		snprintf(pub, sizeof(pub), "%s/controller.key.pub", fx.cdir);
		assert_int_equal(
		    vsmctl(o, "--json", "--control", url, "--key", key,
		        "--controller-key", pub, "jobs", NULL),
		    0);
		assert_non_null(doc = json_loads(o->out, 0, &jerr));
		json_decref(doc);
	}
	/* A wrong pinned controller key is refused. */
	assert_int_equal(
	    vsmctl(o, "--controller-key",
	        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "hosts", NULL),
	    1);
	assert_one_error_line(o);
	free(o);
}

static void
test_token_enroll_list_reject(void **state)
{
	struct out  *o = malloc(sizeof(*o));
	struct agent a;
	json_t      *doc, *k;
	const char  *tok;
	char         task[80];
	size_t       i;
	int          found = 0;

	(void)state;
	memset(&a, 0, sizeof(a));
	assert_int_equal(
	    vsmctl(o, "keys", "token", "--uses", "2", "--json", NULL), 0);
	assert_non_null(doc = json_loads(o->out, 0, NULL));
	tok = json_string_value(json_object_get(doc, "token"));
	assert_non_null(tok);
	assert_int_equal(strlen(tok), 64);
	assert_int_equal(json_integer_value(json_object_get(doc, "uses")), 2);
	assert_int_equal(
	    agent_connect(&a, "web-1", tok), VSM__WELCOME__STATUS__ACCEPTED);
	json_decref(doc);

	/* hosts shows it, as a table and as JSON. */
	assert_int_equal(vsmctl(o, "hosts", NULL), 0);
	assert_non_null(strstr(o->out, "NAME"));
	assert_non_null(strstr(o->out, "web-1"));
	assert_non_null(strstr(o->out, "role=web"));
	assert_int_equal(vsmctl(o, "hosts", "--json", NULL), 0);
	assert_non_null(doc = json_loads(o->out, 0, NULL));
	json_array_foreach(doc, i, k) found +=
	    strcmp(json_string_value(json_object_get(k, "name")), "web-1") == 0;
	assert_int_equal(found, 1);
	json_decref(doc);
	assert_int_equal(vsmctl(o, "keys", "list", NULL), 0);
	assert_non_null(strstr(o->out, "web-1"));
	assert_non_null(strstr(o->out, "accepted"));
	assert_int_equal(
	    vsmctl(o, "keys", "list", "--state", "pending", "--json", NULL), 0);
	assert_non_null(doc = json_loads(o->out, 0, NULL));
	assert_int_equal(json_array_size(doc), 0);
	json_decref(doc);

	/* A job on it, followed to the end with --wait. */
	{
		int   fds[2];
		pid_t pid;

		pid = vsmctl_bg(fds, "run", "sys.ping", "--target",
		    "name=web-*", "--param", "count=1", "--wait", NULL);
		assert_int_equal(agent_poll_task(&a, task, sizeof(task)), 0);
		assert_int_equal(
		    agent_finish(&a, task, VSM__TASK_STATUS__TASK_OK), 2);
		vsmctl_finish(pid, fds, o);
		fprintf(stderr, "# run --wait: %s", o->out);
		assert_int_equal(o->rc, 0);
		assert_string_equal(o->err, "");
		assert_non_null(strstr(o->out, "web-1: pinging"));
		assert_non_null(strstr(o->out, "web-1: ok: fine"));
		assert_non_null(
		    strstr(o->out, "ok 1, warn 0, fail 0, error 0, timeout 0"));
		assert_true(sscanf(o->out, "job %79[0-9a-f]:", fx.job) == 1);
	}
	/* The job in jobs, job show, job logs. */
	assert_int_equal(vsmctl(o, "jobs", NULL), 0);
	assert_non_null(strstr(o->out, fx.job));
	assert_non_null(strstr(o->out, "ok=1"));
	assert_int_equal(vsmctl(o, "job", "show", fx.job, NULL), 0);
	assert_non_null(strstr(o->out, "sys.ping"));
	assert_non_null(strstr(o->out, "fine"));
	assert_int_equal(vsmctl(o, "job", "show", fx.job, "--json", NULL), 0);
	assert_non_null(doc = json_loads(o->out, 0, NULL));
	assert_int_equal(json_array_size(json_object_get(doc, "tasks")), 1);
	json_decref(doc);
	assert_int_equal(vsmctl(o, "job", "logs", fx.job, "--follow", NULL), 0);
	assert_non_null(strstr(o->out, "web-1: pinging"));
	assert_int_equal(
	    vsmctl(o, "job", "logs", fx.job, "--follow", "--json", NULL), 0);
	assert_non_null(doc = json_loads(o->out, 0, NULL));
	assert_true(json_array_size(json_object_get(doc, "events")) >= 2);
	json_decref(doc);

	/* A failing host makes run --wait exit 1 with one line. */
	{
		int   fds[2];
		pid_t pid;

		pid = vsmctl_bg(fds, "run", "sys.ping", "--wait", NULL);
		assert_int_equal(agent_poll_task(&a, task, sizeof(task)), 0);
		assert_int_equal(
		    agent_finish(&a, task, VSM__TASK_STATUS__TASK_FAIL), 2);
		vsmctl_finish(pid, fds, o);
		assert_int_equal(o->rc, 1);
		assert_int_equal(lines(o->err), 1);
		assert_non_null(strstr(o->out, "fail 1"));
	}

	/* keys reject cuts the live session; the next handshake fails. */
	assert_int_equal(vsmctl(o, "keys", "reject", "web-1", NULL), 0);
	assert_non_null(strstr(o->out, "rejected"));
	assert_non_null(strstr(o->out, "1 session closed"));
	assert_int_equal(
	    agent_connect(&a, NULL, NULL), VSM__WELCOME__STATUS__REJECTED);
	assert_int_equal(vsmctl(o, "keys", "list", "--json", NULL), 0);
	assert_non_null(doc = json_loads(o->out, 0, NULL));
	json_array_foreach(
	    doc, i, k) if (strcmp(json_string_value(json_object_get(k, "name")),
	                       "web-1") == 0)
	    assert_string_equal(
	        json_string_value(json_object_get(k, "state")), "rejected");
	json_decref(doc);
	free(o);
	agent_close(&a);
}

static void
test_audit_json_has_the_token(void **state)
{
	struct out *o = malloc(sizeof(*o));
	json_t     *doc, *row;
	size_t      i;
	int         tokens = 0, jobs = 0;

	(void)state;
	assert_int_equal(vsmctl(o, "keys", "token", NULL), 0);
	assert_non_null(strstr(o->out, "token: "));
	assert_int_equal(vsmctl(o, "audit", "--json", NULL), 0);
	assert_non_null(doc = json_loads(o->out, 0, NULL));
	json_array_foreach(doc, i, row)
	{
		const char *a =
		    json_string_value(json_object_get(row, "action"));

		tokens += strcmp(a, "token.create") == 0;
		jobs += strcmp(a, "job.create") == 0;
	}
	json_decref(doc);
	/* init's token, keys token --uses 2, and the one above. */
	assert_true(tokens >= 3);
	assert_true(jobs >= 2);
	assert_int_equal(vsmctl(o, "audit", "--limit", "2", "--json", NULL), 0);
	assert_non_null(doc = json_loads(o->out, 0, NULL));
	assert_int_equal(json_array_size(doc), 2);
	json_decref(doc);
	assert_int_equal(vsmctl(o, "audit", NULL), 0);
	assert_non_null(strstr(o->out, "token.create"));
	assert_non_null(strstr(o->out, "key.state"));
	free(o);
}

/* 1 when the JSON array a holds the string s. */
static int
has_str(json_t *a, const char *s)
{
	json_t *v;
	size_t  i;

	json_array_foreach(a, i, v) if (json_is_string(v) &&
	    strcmp(json_string_value(v), s) == 0) return (1);
	return (0);
}

static void
test_capabilities_reach_hosts_and_host_show(void **state)
{
	char        *mods[] = {"sys.ping", "sys.disk", "exec.*"};
	char        *cmds[] = {"exec.logrotate", "exec.certbot-renew"};
	char        *badmod[] = {"sys.ping", "sys;rm -rf /"};
	char        *badcmd[] = {"logrotate"};
	char        *dupmod[] = {"sys.ping", "sys.ping"};
	struct out  *o = malloc(sizeof(*o));
	struct agent a, b;
	json_t      *doc, *h, *caps = NULL;
	const char  *tok;
	char         token[80];

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	assert_int_equal(
	    vsmctl(o, "keys", "token", "--uses", "4", "--json", NULL), 0);
	assert_non_null(doc = json_loads(o->out, 0, NULL));
	assert_non_null(tok = json_string_value(json_object_get(doc, "token")));
	snprintf(token, sizeof(token), "%s", tok);
	json_decref(doc);

	assert_int_equal(
	    agent_connect_caps(&a, "cap-1", token, mods, 3, cmds, 2),
	    VSM__WELCOME__STATUS__ACCEPTED);
	assert_int_equal(vsmctl(o, "hosts", "--json", NULL), 0);
	assert_non_null(doc = json_loads(o->out, 0, NULL));
	assert_non_null(h = tu_by_name(doc, "cap-1"));
	assert_non_null(caps = json_object_get(h, "capabilities"));
	assert_int_equal(json_array_size(json_object_get(caps, "modules")), 3);
	assert_true(has_str(json_object_get(caps, "modules"), "exec.*"));
	assert_true(
	    has_str(json_object_get(caps, "commands"), "exec.logrotate"));
	assert_int_equal(json_array_size(json_object_get(caps, "commands")), 2);
	json_decref(doc);

	/* host show: the same document with --json, readable without. */
	assert_int_equal(vsmctl(o, "host", "show", "cap-1", "--json", NULL), 0);
	assert_non_null(doc = json_loads(o->out, 0, NULL));
	assert_string_equal(
	    json_string_value(json_object_get(doc, "name")), "cap-1");
	assert_true(has_str(
	    json_object_get(json_object_get(doc, "capabilities"), "commands"),
	    "exec.certbot-renew"));
	json_decref(doc);
	assert_int_equal(vsmctl(o, "host", "show", "cap-1", NULL), 0);
	assert_string_equal(o->err, "");
	assert_non_null(strstr(o->out, "cap-1"));
	assert_non_null(strstr(o->out, "role=web"));
	assert_non_null(strstr(o->out, "sys.ping sys.disk exec.*"));
	assert_non_null(strstr(o->out, "exec.logrotate exec.certbot-renew"));
	assert_int_equal(vsmctl(o, "host", "show", "no-such-host", NULL), 1);
	assert_one_error_line(o);
	assert_non_null(strstr(o->err, "no host 'no-such-host'"));
	assert_int_equal(vsmctl(o, "host", "show", NULL), 2);
	assert_one_error_line(o);

	/* A Hello with a bad name in either list is refused. */
	assert_int_equal(
	    agent_connect_caps(&b, "cap-2", token, badmod, 2, NULL, 0),
	    VSM__WELCOME__STATUS__REJECTED);
	agent_close(&b);
	assert_int_equal(
	    agent_connect_caps(&b, "cap-3", token, mods, 3, badcmd, 1),
	    VSM__WELCOME__STATUS__REJECTED);
	agent_close(&b);
	assert_int_equal(
	    agent_connect_caps(&b, "cap-4", token, dupmod, 2, NULL, 0),
	    VSM__WELCOME__STATUS__REJECTED);
	agent_close(&b);
	/* None of them made a host. */
	assert_int_equal(vsmctl(o, "host", "show", "cap-2", NULL), 1);
	assert_int_equal(vsmctl(o, "host", "show", "cap-3", NULL), 1);
	assert_int_equal(vsmctl(o, "host", "show", "cap-4", NULL), 1);
	free(o);
	agent_close(&a);
}

/*
 * `schedule next` computes locally: the exact ISO 8601 lines and JSON
 * array across Berlin's spring-forward, --from inclusive, the default
 * count, and bad input refused with exit 2 and nothing on stdout.
 */
static void
test_schedule_next_prints_iso_times(void **state)
{
	struct out *o = malloc(sizeof(*o));

	(void)state;
	assert_int_equal(
	    vsmctl(o, "schedule", "next", "30 2 * * *", "--tz", "Europe/Berlin",
	        "--from", "2026-03-28", "--count", "3", NULL),
	    0);
	assert_string_equal(o->out,
	    "2026-03-28T02:30:00+01:00\n"
	    "2026-03-29T03:00:00+02:00\n"
	    "2026-03-30T02:30:00+02:00\n");
	assert_string_equal(o->err, "");
	assert_int_equal(
	    vsmctl(o, "schedule", "next", "30 2 * * *", "--tz", "Europe/Berlin",
	        "--from", "2026-03-28T02:31", "--count=2", "--json", NULL),
	    0);
	assert_string_equal(o->out,
	    "[\"2026-03-29T03:00:00+02:00\","
	    "\"2026-03-30T02:30:00+02:00\"]\n");
	assert_int_equal(vsmctl(o, "schedule", "next", "@daily", "--tz", "UTC",
	                     "--from", "2026-01-01T00:00:00Z", NULL),
	    0);
	assert_string_equal(o->out,
	    "2026-01-01T00:00:00+00:00\n"
	    "2026-01-02T00:00:00+00:00\n"
	    "2026-01-03T00:00:00+00:00\n"
	    "2026-01-04T00:00:00+00:00\n"
	    "2026-01-05T00:00:00+00:00\n");
	/* Without --from: five lines from now. */
	assert_int_equal(vsmctl(o, "schedule", "next", "* * * * *", NULL), 0);
	assert_int_equal(lines(o->out), 5);
	assert_int_equal(vsmctl(o, "schedule", "next", "0 0 32 * *", NULL), 2);
	assert_one_error_line(o);
	assert_non_null(
	    strstr(o->err, "field 3 (day of month) at column 5: 32 is out"));
	assert_string_equal(o->out, "");
	assert_int_equal(vsmctl(o, "schedule", "next", "* * * * *", "--tz",
	                     "../../etc/passwd", NULL),
	    2);
	assert_one_error_line(o);
	assert_int_equal(vsmctl(o, "schedule", "next", "* * * * *", "--from",
	                     "tomorrow", NULL),
	    2);
	assert_one_error_line(o);
	assert_int_equal(
	    vsmctl(o, "schedule", "next", "* * * * *", "--count", "1001", NULL),
	    2);
	assert_one_error_line(o);
	assert_int_equal(
	    vsmctl(o, "schedule", "next", "* * * * *", "--count", "0", NULL),
	    2);
	assert_one_error_line(o);
	assert_int_equal(vsmctl(o, "schedule", "next", NULL), 2);
	assert_one_error_line(o);
	/* Past the year 9999 the search fails: exit 1. */
	assert_int_equal(vsmctl(o, "schedule", "next", "0 0 29 2 *", "--tz",
	                     "UTC", "--from", "9997-01-01", NULL),
	    1);
	assert_one_error_line(o);
	assert_string_equal(o->out, "");
	free(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_help_lists_every_command),
	    cmocka_unit_test(test_bad_usage_exits_2_with_one_line),
	    cmocka_unit_test(test_failed_operation_exits_1_with_one_line),
	    cmocka_unit_test(test_hosts_json_is_one_document),
	    cmocka_unit_test(test_token_enroll_list_reject),
	    cmocka_unit_test(test_audit_json_has_the_token),
	    cmocka_unit_test(test_capabilities_reach_hosts_and_host_show),
	    cmocka_unit_test(test_schedule_next_prints_iso_times),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
