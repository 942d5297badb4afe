/*
 * agent.c: the vsm-agent daemon (docs/agent.md): start-up, the link to
 * the controller with backoff and full jitter, the heartbeat thread and a
 * clean stop on SIGTERM or SIGINT.
 */

#include <sys/statvfs.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "agent.h"
#include "envelope.h"
#include "agent_backoff.h"
#include "log.h"

#define AGENT_CONNECT_MS  5000  /* one handshake attempt */
#define AGENT_BACKOFF_MIN 500   /* ms, reconnect backoff base */
#define AGENT_BACKOFF_MAX 30000 /* ms, its cap */
#define AGENT_SLOW_MIN    30000 /* ms, after REJECTED */
#define AGENT_SLOW_MAX    (5 * 60000)
#define AGENT_TICK        250 /* ms between looks at the signal flag */

static volatile sig_atomic_t agent_sig;

static void
agent_sighandler(int sig)
{
	agent_sig = sig;
}

uint64_t
agent_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

static void
deadline(struct timespec *ts, uint64_t ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

int
agent_stopping(struct agent *a)
{
	int stop;

	pthread_mutex_lock(&a->mtx);
	stop = a->stop;
	pthread_mutex_unlock(&a->mtx);
	return (stop);
}

int
agent_sleep(struct agent *a, uint64_t ms)
{
	struct timespec ts;
	int             stop;

	deadline(&ts, ms);
	pthread_mutex_lock(&a->mtx);
	while (!a->stop &&
	    pthread_cond_timedwait(&a->cond, &a->mtx, &ts) != ETIMEDOUT)
		;
	stop = a->stop;
	pthread_mutex_unlock(&a->mtx);
	return (stop ? -1 : 0);
}

void
agent_wait_change(
    struct agent *a, const uint64_t *v, uint64_t seen, uint64_t ms)
{
	struct timespec ts;

	deadline(&ts, ms);
	pthread_mutex_lock(&a->mtx);
	while (!a->stop && *v == seen &&
	    pthread_cond_timedwait(&a->cond, &a->mtx, &ts) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&a->mtx);
}

uint64_t
agent_wait_link(struct agent *a)
{
	uint64_t gen;

	pthread_mutex_lock(&a->mtx);
	while (!a->stop && !a->connected)
		pthread_cond_wait(&a->cond, &a->mtx);
	gen = a->stop ? 0 : a->link_gen;
	pthread_mutex_unlock(&a->mtx);
	return (gen);
}

void
agent_link_failed(struct agent *a, uint64_t gen)
{
	pthread_mutex_lock(&a->mtx);
	if (a->link_gen == gen && a->connected) {
		a->connected = 0;
		pthread_cond_broadcast(&a->cond);
	}
	pthread_mutex_unlock(&a->mtx);
}

int
agent_call(struct agent *a, const Vsm__Envelope *req, Vsm__Envelope **repp,
    int timeout_ms, struct vsm_err *err)
{
	return (vsm_client_call_env(a->client, req, repp, timeout_ms, err));
}

int
agent_spool_event(struct agent *a, const Vsm__TaskEvent *ev)
{
	struct vsm_err err;
	uint8_t       *buf;
	size_t         len;
	uint64_t       seq;
	int            rv;
	int            high = ev->kind_case == VSM__TASK_EVENT__KIND_RESULT;

	len = vsm__task_event__get_packed_size(ev);
	if ((buf = malloc(len + 1)) == NULL) {
		log_warnx("task %s: out of memory for an event", ev->task_id);
		return (-1);
	}
	vsm__task_event__pack(ev, buf);
	rv = spool_append(a->spool, high ? SPOOL_PRIO_HIGH : SPOOL_PRIO_LOW,
	    taskdb_hash(ev->task_id), buf, len, &seq, &err);
	free(buf);
	if (rv == -1)
		log_warnx(
		    "task %s: event not spooled: %s", ev->task_id, err.msg);
	else if (rv == 0) {
		pthread_mutex_lock(&a->mtx);
		a->spooled++;
		pthread_cond_broadcast(&a->cond);
		pthread_mutex_unlock(&a->mtx);
	}
	return (rv);
}

/* ------------------------------------------------------------------------ */
/* Heartbeat */

struct cpu_sample {
	unsigned long long busy, total;
};

static int
cpu_read(struct cpu_sample *s)
{
	unsigned long long v[8] = {0};
	FILE              *fp;
	int                n;

	if ((fp = fopen("/proc/stat", "r")) == NULL)
		return (-1);
	n = fscanf(fp, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
	    &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(fp);
	if (n < 4)
		return (-1);
	s->total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
	s->busy = s->total - v[3] - v[4]; /* idle and iowait */
	return (0);
}

static double
mem_pct(void)
{
	unsigned long long total = 0, avail = 0, v;
	char               line[256], key[64];
	FILE              *fp;

	if ((fp = fopen("/proc/meminfo", "r")) == NULL)
		return (0);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "%63[^:]: %llu", key, &v) == 2) {
			if (strcmp(key, "MemTotal") == 0)
				total = v;
			else if (strcmp(key, "MemAvailable") == 0)
				avail = v;
		}
	fclose(fp);
	return (total > 0 && avail <= total
	        ? 100.0 * (double)(total - avail) / (double)total
	        : 0);
}

static double
disk_pct(const char *path)
{
	struct statvfs sv;
	double         used, avail;

	if (statvfs(path, &sv) == -1 || sv.f_blocks == 0)
		return (0);
	used = (double)(sv.f_blocks - sv.f_bfree);
	avail = (double)sv.f_bavail;
	return (used + avail > 0 ? 100.0 * used / (used + avail) : 0);
}

static void *
heartbeat_main(void *arg)
{
	struct agent     *a = arg;
	Vsm__Envelope     req = VSM__ENVELOPE__INIT, *rep = NULL;
	Vsm__Heartbeat    hb = VSM__HEARTBEAT__INIT;
	struct cpu_sample prev = {0, 0}, cur;
	struct vsm_err    err;
	uint64_t          gen, start = agent_now_ms(), seq = 0;

	cpu_read(&prev);
	while ((gen = agent_wait_link(a)) != 0) {
		hb.seq = ++seq;
		hb.uptime_s = (agent_now_ms() - start) / 1000;
		hb.cpu_pct = 0;
		if (cpu_read(&cur) == 0 && cur.total > prev.total) {
			hb.cpu_pct = 100.0 * (double)(cur.busy - prev.busy) /
			    (double)(cur.total - prev.total);
			prev = cur;
		}
		hb.mem_pct = mem_pct();
		hb.disk_pct = disk_pct(a->cfg->data_dir);
		req.body_case = VSM__ENVELOPE__BODY_HEARTBEAT;
		req.heartbeat = &hb;
		if (agent_call(a, &req, &rep, AGENT_CALL_MS, &err) == -1) {
			if (!agent_stopping(a))
				log_warnx("heartbeat: %s", err.msg);
			agent_link_failed(a, gen);
		} else {
			if (rep->body_case != VSM__ENVELOPE__BODY_HEARTBEAT_ACK)
				log_warnx("heartbeat: unexpected reply "
				          "(body %d)",
				    (int)rep->body_case);
			vsm__envelope__free_unpacked(rep, NULL);
			rep = NULL;
		}
		/* Give back the pages frees left in the arena (main.c). */
		malloc_trim(0);
		if (agent_sleep(a, a->cfg->heartbeat_ms) == -1)
			break;
	}
	return (NULL);
}

/* ------------------------------------------------------------------------ */
/* Start-up */

/*
 * The allowlist of the config as runner entries: argv, timeout, typed
 * params and ok codes. The entries borrow the config's strings; their
 * params arrays are the agent's (agent_close frees them). 0, or -1 with
 * err set.
 */
static int
agent_cmds(struct agent *a, struct vsm_err *err)
{
	const struct vsm_command       *c;
	const struct vsm_command_param *cp;
	struct runner_param            *rp;
	size_t                          i, j;

	if (a->cfg->ncommands == 0)
		return (0);
	if ((a->cmds = calloc(a->cfg->ncommands, sizeof(*a->cmds))) == NULL)
		return (vsm_err_set(err, "out of memory"));
	a->ncmds = a->cfg->ncommands;
	for (i = 0; i < a->cfg->ncommands; i++) {
		c = &a->cfg->commands[i];
		if (c->nparams > RUNNER_PARAMS_MAX ||
		    c->nok_codes > RUNNER_ARGV_MAX)
			return (vsm_err_set(err,
			    "command %s: more params or ok codes than the "
			    "runner takes",
			    c->name));
		a->cmds[i].name = c->name;
		a->cmds[i].argv = (const char *const *)c->argv;
		a->cmds[i].timeout_s = (uint32_t)((c->timeout_ms + 999) / 1000);
		a->cmds[i].ok_codes = c->ok_codes;
		a->cmds[i].nok_codes = c->nok_codes;
		if (c->nparams == 0)
			continue;
		if ((rp = calloc(c->nparams, sizeof(*rp))) == NULL)
			return (vsm_err_set(err, "out of memory"));
		a->cmds[i].params = rp;
		a->cmds[i].nparams = c->nparams;
		for (j = 0; j < c->nparams; j++) {
			cp = &c->params[j];
			rp[j].name = cp->name;
			rp[j].pattern = cp->pattern;
			rp[j].enum_values =
			    (const char *const *)cp->enum_values;
			rp[j].allow_dash = cp->allow_dash;
			rp[j].required = cp->required;
			rp[j].flag = cp->flag;
		}
	}
	return (0);
}

/* The allowlisted commands the Hello names; every string is owned here. */
struct agent_caps {
	char  *commands[VSM_CFG_COMMANDS_MAX];
	size_t ncommands;
};

static void
agent_caps_free(struct agent_caps *caps)
{
	size_t i;

	for (i = 0; i < caps->ncommands; i++)
		free(caps->commands[i]);
	caps->ncommands = 0;
}

/* The allowlisted commands as exec.NAME; names that cannot be are left out. */
static void
agent_caps_commands(const struct agent *a, struct agent_caps *caps)
{
	char   name[VSM_MODULE_NAME_MAX + 8];
	size_t i;

	for (i = 0; i < a->cfg->ncommands; i++) {
		snprintf(
		    name, sizeof(name), "exec.%s", a->cfg->commands[i].name);
		if (!vsm_module_name_valid(name)) {
			log_warnx("command %s: not reported to the controller "
			          "('%s' is not a valid module name)",
			    a->cfg->commands[i].name, name);
			continue;
		}
		if ((caps->commands[caps->ncommands] = strdup(name)) == NULL)
			return;
		caps->ncommands++;
	}
}

/*
 * Keep the Hello within what the channel takes: drop commands from the
 * end, then modules, until it packs into VSM_HELLO_MAX bytes (logged).
 */
static void
agent_hello_fit(Vsm__Hello *hello)
{
	size_t nmod = hello->n_modules, ncmd = hello->n_commands;

	while (vsm__hello__get_packed_size(hello) > VSM_HELLO_MAX &&
	    (hello->n_commands > 0 || hello->n_modules > 0)) {
		if (hello->n_commands > 0)
			hello->n_commands--;
		else
			hello->n_modules--;
	}
	if (hello->n_modules != nmod || hello->n_commands != ncmd)
		log_warnx("the Hello has room for %zu of %zu commands and %zu "
		          "of %zu modules; the controller sees only those",
		    hello->n_commands, ncmd, hello->n_modules, nmod);
}

/*
 * Open the channel client with this agent's Hello: its name, version,
 * token, labels and capabilities (the modules the task binaries list,
 * runner_modules, and the allowlisted commands as exec.NAME). 0, or -1
 * with err set.
 */
static int
agent_client_open(struct agent *a, struct vsm_err *err)
{
	struct vsm_client_config cc = {0};
	struct agent_caps        caps;
	char *const             *mods;
	size_t                   nmods;
	Vsm__Hello               hello = VSM__HELLO__INIT;
	Vsm__Label lab[VSM_CFG_LABELS_MAX], *labp[VSM_CFG_LABELS_MAX];
	size_t     i;
	int        ret;

	memset(&caps, 0, sizeof(caps));
	nmods = runner_modules(a->runner, &mods);
	agent_caps_commands(a, &caps);
	log_debug(
	    "capabilities: %zu modules, %zu commands", nmods, caps.ncommands);

	hello.name = a->cfg->name;
	hello.agent_version = VSM_VERSION;
	hello.proto_version = 1;
	hello.token = a->cfg->enroll_token;
	for (i = 0; i < a->cfg->nlabels; i++) {
		vsm__label__init(&lab[i]);
		lab[i].key = (char *)a->cfg->labels[i].key;
		lab[i].value = (char *)a->cfg->labels[i].value;
		labp[i] = &lab[i];
	}
	hello.n_labels = a->cfg->nlabels;
	hello.labels = labp;
	hello.n_modules = nmods;
	hello.modules = (char **)(uintptr_t)mods;
	hello.n_commands = caps.ncommands;
	hello.commands = caps.commands;
	agent_hello_fit(&hello);
	cc.url = a->cfg->controllers[0];
	cc.key = &a->key;
	cc.server_key = a->cfg->controller_key;
	cc.hello = &hello;
	cc.backoff_base_ms = 100;
	cc.backoff_cap_ms = 5000;
	ret = vsm_client_open(&a->client, &cc, err);
	agent_caps_free(&caps);
	return (ret);
}

static void
recover_one(void *arg, const char *id)
{
	log_warnx("task %s: the agent stopped while it ran; reporting it "
	          "as an error",
	    id);
	poller_task_fail(arg, id, VSM__TASK_STATUS__TASK_ERROR,
	    "the agent stopped while the task ran");
}

static int
agent_open(struct agent *a, struct vsm_err *err)
{
	struct runner_config rc = {0};
	struct spool_limits  sl = {0};
	char                 path[VSM_CFG_PATH_MAX + 16];
	char                 adir[VSM_CFG_PATH_MAX + 16];
	const char          *envv[VSM_CFG_ENV_MAX + 1];
	uint8_t              rnd[8];
	size_t               i;

	randombytes_buf(rnd, sizeof(rnd));
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(a->boot_id + 2 * i, 3, "%02x", rnd[i]);
	if (vsm_key_load(a->cfg->key_file, &a->key, err) == -1)
		return (-1);
	sl.max_bytes = a->cfg->spool_max;
	if (spool_open(a->cfg->spool_dir, &sl, &a->spool, err) == -1)
		return (-1);
	snprintf(path, sizeof(path), "%s/tasks.log", a->cfg->data_dir);
	if (taskdb_open(path, NULL, agent_now_ms(), &a->tdb, err) == -1)
		return (-1);
	if (agent_cmds(a, err) == -1)
		return (-1);
	rc.max_tasks = a->cfg->runner.max_tasks;
	if (rc.max_tasks > RUNNER_TASK_MAX) {
		log_warnx("runner.max_tasks %u above %d: using %d",
		    rc.max_tasks, RUNNER_TASK_MAX, RUNNER_TASK_MAX);
		rc.max_tasks = RUNNER_TASK_MAX;
	}
	rc.limits.nice = a->cfg->runner.nice;
	rc.limits.cpu_s = a->cfg->runner.cpu_ms / 1000;
	rc.limits.mem_bytes = a->cfg->runner.mem_bytes;
	rc.limits.open_files = a->cfg->runner.open_files;
	if (a->cfg->runner.task_binary[0] != '\0')
		rc.task_path = a->cfg->runner.task_binary;
	/* runner_new copies the values: a stack array of names will do. */
	for (i = 0; i < a->cfg->runner.env.n && i < VSM_CFG_ENV_MAX; i++)
		envv[i] = a->cfg->runner.env.v[i];
	envv[i] = NULL;
	rc.env_allow = envv;
	if (uploader_dir(a, adir, sizeof(adir)) == -1)
		return (vsm_err_set(err, "data_dir too long"));
	rc.artifact_dir = adir;
	rc.config_path = a->cfg->path;
	uploader_sweep(a);
	if ((a->runner = runner_new(&rc, err)) == NULL)
		return (-1);
	/* Tasks the last run left without a result end as errors. */
	taskdb_unfinished(a->tdb, recover_one, a);
	return (agent_client_open(a, err));
}

static void
agent_close(struct agent *a)
{
	size_t i;

	/* Running tasks are cancelled; their results reach the spool. */
	runner_free(a->runner);
	vsm_client_close(a->client);
	taskdb_close(a->tdb);
	spool_close(a->spool);
	for (i = 0; i < a->ncmds; i++)
		free((void *)(uintptr_t)a->cmds[i].params);
	free(a->cmds);
	vsm_keypair_wipe(&a->key);
}

/* ------------------------------------------------------------------------ */
/* The link */

static void
set_stop(struct agent *a)
{
	pthread_mutex_lock(&a->mtx);
	a->stop = 1;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->mtx);
}

/* Wait up to ms for the link to drop or a signal. -1 when stopping. */
static int
link_wait(struct agent *a, uint64_t ms, int until_down)
{
	struct timespec ts;
	uint64_t        end = agent_now_ms() + ms;
	int             stop;

	for (;;) {
		if (agent_sig != 0)
			set_stop(a);
		deadline(&ts, AGENT_TICK);
		pthread_mutex_lock(&a->mtx);
		if (!a->stop && (!until_down || a->connected))
			pthread_cond_timedwait(&a->cond, &a->mtx, &ts);
		stop = a->stop;
		if (until_down && !a->connected) {
			pthread_mutex_unlock(&a->mtx);
			return (stop ? -1 : 0);
		}
		pthread_mutex_unlock(&a->mtx);
		if (stop)
			return (-1);
		if (!until_down && agent_now_ms() >= end)
			return (0);
	}
}

/*
 * Keep a session open until a signal: handshake, and on failure wait a
 * full-jitter backoff (slow after REJECTED). Logs every state change.
 */
static void
agent_link(struct agent *a)
{
	struct backoff          bo, slow;
	struct vsm_client_stats st;
	struct vsm_err          err;
	uint64_t                delay, handshakes = 0;
	unsigned                nfacts = 0;
	int                     status, was = -1;

	backoff_init(&bo, AGENT_BACKOFF_MIN, AGENT_BACKOFF_MAX);
	backoff_init(&slow, AGENT_SLOW_MIN, AGENT_SLOW_MAX);
	while (!agent_stopping(a) && agent_sig == 0) {
		if (vsm_client_connect(
		        a->client, AGENT_CONNECT_MS, &status, &err) == 0) {
			vsm_client_stats(a->client, &st);
			if (st.handshakes != handshakes) {
				handshakes = st.handshakes;
				log_info("connected to %s as %s",
				    a->cfg->controllers[0], a->cfg->name);
				poller_run_facts(a, ++nfacts);
			}
			backoff_reset(&bo);
			backoff_reset(&slow);
			was = VSM__WELCOME__STATUS__ACCEPTED;
			pthread_mutex_lock(&a->mtx);
			a->connected = 1;
			a->link_gen++;
			pthread_cond_broadcast(&a->cond);
			pthread_mutex_unlock(&a->mtx);
			if (link_wait(a, 0, 1) == -1)
				break;
			continue;
		}
		if (agent_stopping(a) || agent_sig != 0)
			break;
		switch (status) {
		case VSM__WELCOME__STATUS__PENDING:
			delay = backoff_next(&bo);
			if (was != status)
				log_info("enrollment pending: an operator must "
				         "accept this agent's key (vsmctl keys "
				         "accept %s)",
				    a->cfg->name);
			log_info("%s; asking again in %llu ms", err.msg,
			    (unsigned long long)delay);
			break;
		case VSM__WELCOME__STATUS__REJECTED:
			delay = backoff_next(&slow);
			log_warnx("%s; asking again in %llu ms", err.msg,
			    (unsigned long long)delay);
			break;
		default:
			delay = backoff_next(&bo);
			log_warnx("cannot connect: %s; retrying in %llu ms",
			    err.msg, (unsigned long long)delay);
			break;
		}
		was = status;
		if (link_wait(a, delay, 0) == -1)
			break;
	}
	set_stop(a);
}

int
agent_run(struct vsm_agent_config *cfg, struct vsm_err *err)
{
	struct agent    *a;
	struct sigaction sa;
	pthread_t        th[4];
	void *(*const fns[4])(void *) = {
	    poller_main, sender_main, heartbeat_main, uploader_main};
	int nth = 0, ret = -1, i;

	if ((a = calloc(1, sizeof(*a))) == NULL) {
		vsm_agent_config_free(cfg);
		return (vsm_err_set(err, "out of memory"));
	}
	a->cfg = cfg;
	pthread_mutex_init(&a->mtx, NULL);
	pthread_cond_init(&a->cond, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = agent_sighandler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (agent_open(a, err) == -1)
		goto out;
	log_info("vsm-agent %s starting as %s, controller %s", VSM_VERSION,
	    cfg->name, cfg->controllers[0]);
	for (i = 0; i < 4; i++) {
		if (pthread_create(&th[i], NULL, fns[i], a) != 0) {
			vsm_err_set(err, "pthread_create: %s", strerror(errno));
			set_stop(a);
			goto join;
		}
		nth++;
	}
	agent_link(a);
	log_info("stopping (%s)", agent_sig == SIGINT ? "SIGINT" : "SIGTERM");
	/* A held poll would keep the poller for up to heartbeat + 15 s. */
	vsm_client_cancel(a->client);
	ret = 0;
join:
	for (i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
out:
	agent_close(a);
	if (ret == 0)
		log_info("stopped");
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->mtx);
	sodium_memzero(a, sizeof(*a));
	free(a);
	vsm_agent_config_free(cfg);
	return (ret);
}
