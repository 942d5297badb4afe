/*
 * bench_proc.c: real vsm processes for the benchmarks (bench_proc.h).
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_proc.h"
#include "envelope.h"
#include "keyfile.h"
#include "testutil.h"

#define BP_FILE_MAX 65536
#define BP_START_MS 30000 /* a controller answers within this */
#define BP_CALL_MS  60000
#define BP_ARGS_MAX 32
#define BP_PROBE_MS 2000  /* one look at a controller that is starting */
#define BP_STOP_MS  60000 /* a clean stop; then SIGKILL */

extern char **environ;

uint64_t
bp_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

int64_t
bp_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

int
bp_bin(const char *name, char *buf, size_t len, struct vsm_err *err)
{
	char    self[PATH_MAX], *slash;
	ssize_t n;

	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0)
		return (vsm_err_set(err, "cannot find vsm-bench's own path"));
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) != NULL)
		*slash = '\0';
	if ((size_t)snprintf(buf, len, "%s/%s", self, name) >= len)
		return (vsm_err_set(err, "path too long"));
	if (access(buf, X_OK) == -1)
		return (vsm_err_set(
		    err, "%s: %s (build it first)", buf, strerror(errno)));
	return (0);
}

int
bp_file_replace(
    const char *path, const char *from, const char *to, struct vsm_err *err)
{
	char  *buf = NULL, *out = NULL, *p;
	FILE  *fp;
	size_t n;
	int    ret = -1;

	if ((buf = malloc(BP_FILE_MAX)) == NULL ||
	    (out = malloc(BP_FILE_MAX)) == NULL) {
		vsm_err_set(err, "out of memory");
		goto out;
	}
	if ((fp = fopen(path, "r")) == NULL) {
		vsm_err_set(err, "%s: %s", path, strerror(errno));
		goto out;
	}
	n = fread(buf, 1, BP_FILE_MAX - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	if ((p = strstr(buf, from)) == NULL) {
		vsm_err_set(err, "%s: no '%s' to replace", path, from);
		goto out;
	}
	if ((size_t)snprintf(out, BP_FILE_MAX, "%.*s%s%s", (int)(p - buf), buf,
	        to, p + strlen(from)) >= BP_FILE_MAX) {
		vsm_err_set(err, "%s: too large", path);
		goto out;
	}
	if ((fp = fopen(path, "w")) == NULL) {
		vsm_err_set(err, "%s: %s", path, strerror(errno));
		goto out;
	}
	fputs(out, fp);
	ret = fclose(fp) == 0 ? 0 : vsm_err_set(err, "%s: write", path);
out:
	free(buf);
	free(out);
	return (ret);
}

int
bp_tmpdir(const char *what, char *buf, size_t len, struct vsm_err *err)
{
	char tag[24];

	snprintf(tag, sizeof(tag), "bench-%s", what);
	if (tu_mkdtemp(buf, len, tag) == -1)
		return (vsm_err_set(err, "mkdtemp: %s", strerror(errno)));
	return (0);
}

void
bp_rmdir(const char *dir)
{
	if (strncmp(dir, "/tmp/vsm-bench-", 15) != 0)
		return;
	if (getenv("VSM_BENCH_KEEP") != NULL) {
		fprintf(stderr, "vsm-bench: kept %s (VSM_BENCH_KEEP)\n", dir);
		return;
	}
	if (tu_rmtree(dir) == -1)
		fprintf(stderr, "vsm-bench: cannot remove all of %s: %s\n", dir,
		    strerror(errno));
}

int
bp_nap_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
	return (bp_interrupted() ? -1 : 0);
}

int
bp_controller_init(struct bp_controller *c, const char *top,
    unsigned token_uses, const char *const *edits, struct vsm_err *err)
{
	char   bin[PATH_MAX], uses[16], out[BP_PATH + 16], line[512];
	char   from[256], *arrow;
	char  *argv[] = {bin, "init", "--dir", c->dir, "--listen", c->url,
	     "--token-uses", uses, NULL};
	FILE  *fp;
	size_t i;

	memset(c, 0, sizeof(*c));
	if (bp_bin("vsm-controller", bin, sizeof(bin), err) == -1)
		return (-1);
	snprintf(c->dir, sizeof(c->dir), "%.200s/controller", top);
	snprintf(c->cfg, sizeof(c->cfg), "%s/controller.yaml", c->dir);
	snprintf(c->log, sizeof(c->log), "%.200s/controller.log", top);
	snprintf(uses, sizeof(uses), "%u", token_uses);
	tu_loopback_url(c->url, sizeof(c->url));
	snprintf(out, sizeof(out), "%.200s/init.out", top);
	if (tu_run_wait(argv, out) != 0)
		return (
		    vsm_err_set(err, "vsm-controller init failed (%s)", out));
	if ((fp = fopen(out, "r")) == NULL)
		return (vsm_err_set(err, "%s: %s", out, strerror(errno)));
	while (fgets(line, sizeof(line), fp) != NULL) {
		sscanf(line, "controller key: %63s", c->key_b64);
		sscanf(line, "enrollment token: %79s", c->token);
	}
	fclose(fp);
	if (strlen(c->key_b64) != 44 || strlen(c->token) != 64)
		return (
		    vsm_err_set(err, "cannot read key and token from %s", out));
	for (i = 0; edits != NULL && edits[i] != NULL; i++) {
		if ((arrow = strstr(edits[i], "=>")) == NULL ||
		    (size_t)(arrow - edits[i]) >= sizeof(from))
			return (vsm_err_set(err, "bad edit '%s'", edits[i]));
		snprintf(from, sizeof(from), "%.*s", (int)(arrow - edits[i]),
		    edits[i]);
		if (bp_file_replace(c->cfg, from, arrow + 2, err) == -1)
			return (-1);
	}
	return (0);
}

int
bp_ctl_open(
    const struct bp_controller *c, struct vsm_client **out, struct vsm_err *err)
{
	static Vsm__Hello        hello = VSM__HELLO__INIT;
	struct vsm_client_config cc = {0};
	struct vsm_keypair       admin;
	uint8_t                  srvkey[VSM_KEY_LEN];
	char                     path[BP_PATH + 16], url[BP_PATH + 16];
	int                      rc;

	snprintf(path, sizeof(path), "%s/admin.key", c->dir);
	snprintf(url, sizeof(url), "ipc://%s/control.sock", c->dir);
	if (vsm_key_load(path, &admin, err) == -1 ||
	    vsm_key_decode(c->key_b64, srvkey, err) == -1)
		return (-1);
	hello.name = "bench";
	cc.url = url;
	cc.key = &admin;
	cc.server_key = srvkey;
	cc.hello = &hello;
	cc.max_payload = 64u << 20;
	cc.backoff_base_ms = 50;
	cc.backoff_cap_ms = 500;
	rc = vsm_client_open(out, &cc, err);
	vsm_keypair_wipe(&admin);
	return (rc);
}

/* bp_ctl with a timeout for the whole call and the args as a va_list. */
static int
bp_ctl_va(struct vsm_client *cl, json_t **out, struct vsm_err *err,
    int timeout_ms, const char *cmd, va_list ap)
{
	Vsm__Envelope   env = VSM__ENVELOPE__INIT, *rep = NULL;
	Vsm__CtlRequest rq = VSM__CTL_REQUEST__INIT;
	Vsm__Param      pv[BP_ARGS_MAX], *pp[BP_ARGS_MAX];
	const char     *k;
	size_t          n = 0;
	int             status;

	if (out != NULL)
		*out = NULL;
	while (n < BP_ARGS_MAX && (k = va_arg(ap, const char *)) != NULL) {
		vsm__param__init(&pv[n]);
		pv[n].key = (char *)k;
		if ((pv[n].value = va_arg(ap, char *)) == NULL)
			return (
			    vsm_err_set(err, "%s: %s has no value", cmd, k));
		pp[n] = &pv[n];
		n++;
	}
	rq.command = (char *)cmd;
	rq.args = pp;
	rq.n_args = n;
	env.body_case = VSM__ENVELOPE__BODY_CTL_REQUEST;
	env.ctl_request = &rq;
	if (vsm_client_call_env(cl, &env, &rep, timeout_ms, err) == -1)
		return (-1);
	if (rep->body_case != VSM__ENVELOPE__BODY_CTL_RESPONSE) {
		vsm__envelope__free_unpacked(rep, NULL);
		return (vsm_err_set(err, "%s: not a control response", cmd));
	}
	status = (int)rep->ctl_response->status;
	if (status != 0)
		vsm_err_set(err, "%s: %s", cmd, rep->ctl_response->error);
	if (out != NULL && rep->ctl_response->json[0] != '\0')
		*out = json_loads(rep->ctl_response->json, 0, NULL);
	vsm__envelope__free_unpacked(rep, NULL);
	return (status);
}

int
bp_ctl(struct vsm_client *cl, json_t **out, struct vsm_err *err,
    const char *cmd, ...)
{
	va_list ap;
	int     rc;

	va_start(ap, cmd);
	rc = bp_ctl_va(cl, out, err, BP_CALL_MS, cmd, ap);
	va_end(ap);
	return (rc);
}

/* One short `hosts` call, to see whether a starting controller answers. */
static int
bp_ctl_probe(struct vsm_client *cl, struct vsm_err *err, ...)
{
	va_list ap;
	int     rc;

	va_start(ap, err);
	rc = bp_ctl_va(cl, NULL, err, BP_PROBE_MS, "hosts", ap);
	va_end(ap);
	return (rc);
}

int
bp_controller_start(struct bp_controller *c, struct vsm_err *err)
{
	char               bin[PATH_MAX];
	char              *argv[] = {bin, "run", "--config", c->cfg, NULL};
	struct vsm_client *cl = NULL;
	uint64_t           end = bp_mono_ms() + BP_START_MS;
	int                st, rc = -1;

	if (bp_bin("vsm-controller", bin, sizeof(bin), err) == -1)
		return (-1);
	if ((c->pid = tu_spawn_logged(argv, c->log)) == -1)
		return (vsm_err_set(err, "cannot start vsm-controller"));
	while (bp_mono_ms() < end) {
		/* It exits when the port is not free yet: start it again. */
		if (waitpid(c->pid, &st, WNOHANG) == c->pid) {
			usleep(200000);
			if ((c->pid = tu_spawn_logged(argv, c->log)) == -1)
				return (vsm_err_set(err, "cannot start it"));
			continue;
		}
		if (cl == NULL && bp_ctl_open(c, &cl, err) == -1)
			break;
		if ((rc = bp_ctl_probe(cl, err, NULL)) == 0)
			break;
		usleep(100000);
	}
	vsm_client_close(cl);
	if (rc != 0)
		return (vsm_err_set(
		    err, "the controller did not answer (%s)", c->log));
	return (0);
}

/*
 * Reap pid, waiting until end_ms (monotonic) and then killing it with
 * SIGKILL. Never blocks for long past end_ms.
 */
static void
bp_reap(pid_t pid, uint64_t end_ms)
{
	int st;

	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (bp_mono_ms() >= end_ms) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return;
		}
		usleep(20000);
	}
}

void
bp_controller_stop(struct bp_controller *c, int sig)
{
	if (c->pid <= 0)
		return;
	kill(c->pid, sig);
	bp_reap(c->pid, bp_mono_ms() + BP_STOP_MS);
	c->pid = 0;
}

int
bp_agent_start(struct bp_agent *a, const struct bp_controller *c,
    const char *top, const char *name, const char *const *labels,
    struct vsm_err *err)
{
	char   bin[PATH_MAX];
	char  *argv[BP_ARGS_MAX];
	int    n = 0;
	size_t i;

	memset(a, 0, sizeof(*a));
	if (bp_bin("vsm-agent", bin, sizeof(bin), err) == -1)
		return (-1);
	snprintf(a->name, sizeof(a->name), "%s", name);
	snprintf(a->dir, sizeof(a->dir), "%.160s/%.63s", top, name);
	snprintf(a->cfg, sizeof(a->cfg), "%s/agent.yaml", a->dir);
	snprintf(a->log, sizeof(a->log), "%.200s/%.63s.log", top, name);
	argv[n++] = bin;
	argv[n++] = "init";
	argv[n++] = "--dir";
	argv[n++] = a->dir;
	argv[n++] = "--controller";
	argv[n++] = (char *)c->url;
	argv[n++] = "--controller-key";
	argv[n++] = (char *)c->key_b64;
	argv[n++] = "--token";
	argv[n++] = (char *)c->token;
	argv[n++] = "--name";
	argv[n++] = a->name;
	for (i = 0; labels != NULL && labels[i] != NULL && n < BP_ARGS_MAX - 3;
	     i++) {
		argv[n++] = "--label";
		argv[n++] = (char *)labels[i];
	}
	argv[n] = NULL;
	if (tu_run_wait(argv, a->log) != 0)
		return (vsm_err_set(err, "vsm-agent init failed (%s)", a->log));
	argv[1] = "run";
	argv[2] = "--config";
	argv[3] = a->cfg;
	argv[4] = NULL;
	if ((a->pid = tu_spawn_logged(argv, a->log)) == -1)
		return (vsm_err_set(err, "cannot start vsm-agent"));
	return (0);
}

void
bp_agent_stop(struct bp_agent *a, int sig)
{
	bp_agents_stop(a, 1, sig, BP_STOP_MS);
}

void
bp_agents_stop(struct bp_agent *a, size_t n, int sig, unsigned grace_ms)
{
	uint64_t end = bp_mono_ms() + grace_ms;
	size_t   i;

	for (i = 0; i < n; i++)
		if (a[i].pid > 0)
			kill(a[i].pid, sig);
	for (i = 0; i < n; i++)
		if (a[i].pid > 0) {
			bp_reap(a[i].pid, end);
			a[i].pid = 0;
		}
}

int
bp_alive(pid_t *pid)
{
	int st;

	if (*pid <= 0)
		return (0);
	if (waitpid(*pid, &st, WNOHANG) == *pid) {
		*pid = 0;
		return (0);
	}
	return (1);
}

uint64_t
bp_rss_kib(pid_t pid)
{
	char               path[64], line[256];
	unsigned long long kib = 0;
	FILE              *fp;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return (0);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "VmRSS: %llu kB", &kib) == 1)
			break;
	fclose(fp);
	return (kib);
}

double
bp_cpu_s(pid_t pid)
{
	char               path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE              *fp;
	size_t             n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return (-1);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	/* Fields 14 and 15, counted after the ")" that ends the name. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2,
	        "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
	        &st) != 2)
		return (-1);
	return ((double)(ut + st) / (double)sysconf(_SC_CLK_TCK));
}

int
bp_status(pid_t pid, struct bp_status *st)
{
	char               path[64], line[256];
	unsigned long long v;
	FILE              *fp;

	memset(st, 0, sizeof(*st));
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (sscanf(line, "VmRSS: %llu kB", &v) == 1)
			st->rss_kib = v;
		else if (sscanf(line, "VmHWM: %llu kB", &v) == 1)
			st->hwm_kib = v;
		else if (sscanf(line, "RssAnon: %llu kB", &v) == 1)
			st->anon_kib = v;
		else if (sscanf(line, "RssFile: %llu kB", &v) == 1)
			st->file_kib = v;
		else if (sscanf(line, "Threads: %llu", &v) == 1)
			st->threads = (unsigned)v;
	}
	fclose(fp);
	return (st->rss_kib > 0 ? 0 : -1);
}

uint64_t
bp_pss_kib(pid_t pid)
{
	char               path[64], line[256];
	unsigned long long kib = 0;
	FILE              *fp;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return (0);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "Pss: %llu kB", &kib) == 1)
			break;
	fclose(fp);
	return (kib);
}

/* What one thread's /proc file says (its open stream); 0 if nothing. */
typedef unsigned long long bp_task_fn(FILE *fp);

/* The sum of fn over every thread's /proc/PID/task/TID/FILE. */
static uint64_t
bp_task_sum(pid_t pid, const char *file, bp_task_fn *fn)
{
	char               path[128];
	unsigned long long sum = 0;
	struct dirent     *de;
	DIR               *d;
	FILE              *fp;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if ((d = opendir(path)) == NULL)
		return (0);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.20s/%s", (int)pid,
		    de->d_name, file);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		sum += fn(fp);
		fclose(fp);
	}
	closedir(d);
	return (sum);
}

static unsigned long long
bp_task_ctxsw(FILE *fp)
{
	char               line[256];
	unsigned long long v, sum = 0;

	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "voluntary_ctxt_switches: %llu", &v) == 1 ||
		    sscanf(line, "nonvoluntary_ctxt_switches: %llu", &v) == 1)
			sum += v;
	return (sum);
}

static unsigned long long
bp_task_ns(FILE *fp)
{
	unsigned long long ns;

	return (fscanf(fp, "%llu", &ns) == 1 ? ns : 0);
}

uint64_t
bp_ctxsw(pid_t pid)
{
	return (bp_task_sum(pid, "status", bp_task_ctxsw));
}

uint64_t
bp_cpu_ns(pid_t pid)
{
	return (bp_task_sum(pid, "schedstat", bp_task_ns));
}

json_t *
bp_rss_by_object(pid_t pid)
{
	char               path[64], line[512], name[256], *slash;
	unsigned long long kib;
	json_t            *o, *cur;
	FILE              *fp;
	int                off;

	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	if ((fp = fopen(path, "r")) == NULL || (o = json_object()) == NULL) {
		if (fp != NULL)
			fclose(fp);
		return (NULL);
	}
	snprintf(name, sizeof(name), "[anon]");
	while (fgets(line, sizeof(line), fp) != NULL) {
		/* A header: "start-end perms offset dev inode path". */
		off = -1;
		if (sscanf(line, "%*x-%*x %*s %*x %*s %*u %n", &off) >= 0 &&
		    off > 0) {
			line[strcspn(line, "\n")] = '\0';
			slash = strrchr(line + off, '/');
			snprintf(name, sizeof(name), "%s",
			    line[off] == '\0'   ? "[anon]"
			        : slash != NULL ? slash + 1
			                        : line + off);
			continue;
		}
		if (sscanf(line, "Rss: %llu kB", &kib) != 1 || kib == 0)
			continue;
		cur = json_object_get(o, name);
		json_object_set_new(o, name,
		    json_integer((cur != NULL ? json_integer_value(cur) : 0) +
		        (json_int_t)kib));
	}
	fclose(fp);
	return (o);
}

static volatile sig_atomic_t bp_sig;

static void
bp_on_signal(int sig)
{
	bp_sig = sig;
}

void
bp_catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = bp_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

int
bp_interrupted(void)
{
	return (bp_sig);
}

unsigned long
bp_raise_limit(int resource, unsigned long want)
{
	struct rlimit rl;

	if (getrlimit(resource, &rl) == -1)
		return (0);
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want
		    ? want
		    : rl.rlim_max;
		setrlimit(resource, &rl);
		getrlimit(resource, &rl);
	}
	return (
	    rl.rlim_cur == RLIM_INFINITY ? ~0UL : (unsigned long)rl.rlim_cur);
}

void
bp_cpu_model(char *buf, size_t len)
{
	char  line[256], *p;
	FILE *fp;

	snprintf(buf, len, "unknown CPU");
	if ((fp = fopen("/proc/cpuinfo", "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, "model name", 10) == 0 &&
		    (p = strchr(line, ':')) != NULL) {
			p += strspn(p + 1, " \t") + 1;
			p[strcspn(p, "\n")] = '\0';
			snprintf(buf, len, "%s", p);
			break;
		}
	fclose(fp);
}
