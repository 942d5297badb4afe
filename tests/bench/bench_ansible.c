/*
 * bench_ansible.c: `vsm-bench ansible`, one fleet-wide chore done both
 * ways on this machine: the disk usage of every host.
 *
 * For each N of --hosts:
 *
 *  - Ansible: an inventory of N hosts h001... all with
 *    ansible_connection=local, and the ad-hoc command
 *    `ansible all -i INV -m ansible.builtin.command -a "df -P" -f F`,
 *    timed from spawn to exit, its JSON output (the json callback) to a
 *    file, checked host by host. `df -P` is the closest equivalent of
 *    sys.disk (the use of every mounted filesystem) and the cheapest one
 *    Ansible has: the setup module's mounts gather far more.
 *  - vsm: a controller and N real vsm-agents on loopback, each in a
 *    directory of its own, all started at once and waited for until all
 *    are connected with their facts. Then `run` of sys.disk on target
 *    all over the control channel, timed from the call until `jobs` shows
 *    all N tasks final (polled every 10 ms), and checked task by task
 *    with job.show. Also given: the same span by the controller's own
 *    clock (the job's created_at to the last task's finished_at), and a
 *    second job through the vsmctl process (`run --wait`).
 *
 * Ansible (Debian's ansible-core) is installed with apt-get when missing;
 * when that cannot be done the Ansible side is skipped and the run ends
 * with status 1. Every process started is stopped and every directory
 * removed, also on failure or SIGINT.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "bench_json.h"
#include "bench_proc.h"

#define HOSTS_DEFAULT  "20,100"
#define HOSTS_MAX      500 /* per run */
#define RUNS_MAX       8
#define FORKS_DEFAULT  20
#define FORKS_MAX      500
#define UP_MS_BASE     60000 /* every agent connected with its facts */
#define UP_MS_PER_HOST 500
#define UP_POLL_MS     500
#define SETTLE_MS      1000 /* the facts tasks' children end */
#define JOB_POLL_MS    10
#define JOB_MS         120000 /* the vsm job, at most */
#define ANSIBLE_MS     900000 /* one ansible run, at most */
#define STOP_GRACE_MS  5000   /* SIGTERM, then SIGKILL */
#define SPAWN_BATCH    10     /* agents started before a pause */
#define SPAWN_PAUSE_MS 50
#define DF_ARGS        "df -P"
#define APT_PACKAGE    "ansible-core"

extern char **environ;

int bench_ansible(int, char **, struct vsm_err *);

struct opts {
	unsigned hosts[RUNS_MAX];
	size_t   nruns;
	unsigned forks;
	int      json;
};

struct ans_result {
	int      ran;  /* 0: skipped (no ansible) */
	int      exit; /* ansible's exit status */
	double   secs; /* spawn to exit */
	unsigned ok;   /* hosts whose df succeeded */
	char     out[BP_PATH + 64];
	char     error[BP_PATH + 512];
};

struct vsm_result {
	int      ran;
	double   up_s;     /* agents started to all connected with facts */
	double   run_ms;   /* run call to all N final, seen by polling */
	double   store_ms; /* job created_at to the last finished_at */
	double   first_ms; /* job created_at to the first finished_at */
	double   vsmctl_ms;
	int      vsmctl_exit;
	unsigned tasks, ok, warn, fail, other;
	char     error[sizeof(((struct vsm_err *)0)->msg)];
};

struct run {
	unsigned          n;
	struct ans_result ans;
	struct vsm_result vsm;
};

struct bench {
	struct opts   o;
	char          top[BP_PATH / 2];
	char          ansible[PATH_MAX]; /* its path, "" when not there */
	char          ansible_version[256];
	char          python[PATH_MAX];
	char          no_ansible[BP_PATH + 256]; /* why Ansible is skipped */
	char          cpu[128];
	long          nproc;
	unsigned long nofile, nproc_limit;
	struct run    runs[RUNS_MAX];
};

/* --- options ------------------------------------------------------------ */

/* "20,100" into o->hosts; 2 with err set when malformed. */
static int
parse_hosts(const char *s, struct opts *o, struct vsm_err *err)
{
	const char *p = s;
	char       *end;
	long        v;

	o->nruns = 0;
	for (;;) {
		errno = 0;
		v = strtol(p, &end, 10);
		if (errno != 0 || end == p || v < 1 || v > HOSTS_MAX ||
		    (*end != ',' && *end != '\0') || o->nruns == RUNS_MAX) {
			vsm_err_set(err,
			    "--hosts wants up to %d numbers from 1 to %d "
			    "separated by commas, not '%s'",
			    RUNS_MAX, HOSTS_MAX, s);
			return (2);
		}
		o->hosts[o->nruns++] = (unsigned)v;
		if (*end == '\0')
			return (0);
		p = end + 1;
	}
}

/* Parse argv into o; 2 with err set on bad usage. */
static int
parse_opts(int argc, char **argv, struct opts *o, struct vsm_err *err)
{
	char *end;
	long  v;
	int   i;

	memset(o, 0, sizeof(*o));
	o->forks = FORKS_DEFAULT;
	if (parse_hosts(HOSTS_DEFAULT, o, err) != 0)
		return (2);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			o->json = 1;
			continue;
		}
		if (strcmp(argv[i], "--hosts") != 0 &&
		    strcmp(argv[i], "--forks") != 0) {
			vsm_err_set(err, "unknown argument '%s'", argv[i]);
			return (2);
		}
		if (i + 1 == argc) {
			vsm_err_set(err, "%s wants a value", argv[i]);
			return (2);
		}
		if (strcmp(argv[i++], "--hosts") == 0) {
			if (parse_hosts(argv[i], o, err) != 0)
				return (2);
			continue;
		}
		errno = 0;
		v = strtol(argv[i], &end, 10);
		if (errno != 0 || end == argv[i] || *end != '\0' || v < 1 ||
		    v > FORKS_MAX) {
			vsm_err_set(err,
			    "--forks wants an integer from 1 to %d, not '%s'",
			    FORKS_MAX, argv[i]);
			return (2);
		}
		o->forks = (unsigned)v;
	}
	return (0);
}

/* --- processes ---------------------------------------------------------- */

/*
 * posix_spawnp argv in a process group of its own (so that all its
 * children can be killed together), stdin /dev/null, stdout to out and
 * stderr to errlog (both appended). The pid, or -1.
 */
static pid_t
spawn_group(char *const argv[], const char *out, const char *errlog)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t          attr;
	pid_t                      pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(
	    &fa, 1, out, O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_addopen(
	    &fa, 2, errlog, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ) != 0)
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return (pid);
}

/*
 * Wait for pid (a group leader from spawn_group) for up to ms. Returns
 * its exit status, or -1 when it was killed by a signal, ran out of time
 * or vsm-bench was interrupted; then its whole group gets SIGKILL.
 */
static int
wait_group(pid_t pid, uint64_t ms)
{
	uint64_t end = bp_mono_ms() + ms;
	pid_t    w;
	int      st;

	while ((w = waitpid(pid, &st, WNOHANG)) == 0) {
		if (bp_interrupted() || bp_mono_ms() >= end) {
			kill(-pid, SIGKILL);
			waitpid(pid, &st, 0);
			return (-1);
		}
		usleep(5000);
	}
	if (w == -1 || !WIFEXITED(st))
		return (-1);
	/* What it left behind in its group (workers) goes too. */
	kill(-pid, SIGKILL);
	return (WEXITSTATUS(st));
}

/* Run argv to its end (up to ms); its exit status or -1. */
static int
run_cmd(char *const argv[], const char *out, const char *errlog, uint64_t ms)
{
	pid_t pid;

	if ((pid = spawn_group(argv, out, errlog)) == -1)
		return (-1);
	return (wait_group(pid, ms));
}

/* The first executable NAME in $PATH into buf; 0 or -1. */
static int
which(const char *name, char *buf, size_t len)
{
	const char *path = getenv("PATH"), *p, *q;

	if (path == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; *p != '\0'; p = *q ? q + 1 : q) {
		q = p + strcspn(p, ":");
		if ((size_t)snprintf(
		        buf, len, "%.*s/%s", (int)(q - p), p, name) < len &&
		    q > p && access(buf, X_OK) == 0)
			return (0);
	}
	buf[0] = '\0';
	return (-1);
}

/* The last line of a log that is not empty into buf ("" if none). */
static void
last_line(const char *path, char *buf, size_t len)
{
	char  line[512];
	FILE *fp;

	buf[0] = '\0';
	if ((fp = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] != '\0')
			snprintf(buf, len, "%.150s", line);
	}
	fclose(fp);
}

/* --- Ansible ------------------------------------------------------------ */

/*
 * The Python ansible itself runs on (its #! line), for the hosts too: no
 * interpreter discovery per host, which would only slow Ansible down.
 * "auto_silent" (discovery) when that cannot be read.
 */
static void
ansible_python(struct bench *b)
{
	char  line[PATH_MAX + 8], *p;
	FILE *fp;

	snprintf(b->python, sizeof(b->python), "auto_silent");
	if ((fp = fopen(b->ansible, "r")) == NULL)
		return;
	if (fgets(line, sizeof(line), fp) != NULL &&
	    strncmp(line, "#!", 2) == 0) {
		p = line + 2 + strspn(line + 2, " \t");
		p[strcspn(p, " \t\n")] = '\0';
		if (*p == '/' && access(p, X_OK) == 0)
			snprintf(b->python, sizeof(b->python), "%s", p);
	}
	fclose(fp);
}

/*
 * Find ansible, installing Debian's ansible-core with apt-get (as root,
 * or through password-less sudo) when it is missing. Sets b->ansible, or
 * b->no_ansible saying why the Ansible side is skipped.
 */
static void
ansible_find(struct bench *b)
{
	char  log[BP_PATH], sudo[PATH_MAX], vfile[BP_PATH], line[256];
	char  last[200];
	char *upd[8], *inst[10];
	int   n = 0, m = 0, root = geteuid() == 0;
	FILE *fp;

	if (which("ansible", b->ansible, sizeof(b->ansible)) == -1) {
		snprintf(log, sizeof(log), "%s/apt.log", b->top);
		if (!root && which("sudo", sudo, sizeof(sudo)) == 0) {
			char *probe[] = {sudo, "-n", "true", NULL};

			if (run_cmd(probe, log, log, 30000) != 0)
				sudo[0] = '\0';
		} else
			sudo[0] = '\0';
		if (!root && sudo[0] == '\0') {
			snprintf(b->no_ansible, sizeof(b->no_ansible),
			    "ansible is not installed and vsm-bench cannot "
			    "install it (not root, no password-less sudo); "
			    "run apt-get install %s",
			    APT_PACKAGE);
			return;
		}
		if (!root) {
			upd[n++] = inst[m++] = sudo;
			upd[n++] = inst[m++] = "-n";
		}
		upd[n++] = inst[m++] = "env";
		upd[n++] = inst[m++] = "DEBIAN_FRONTEND=noninteractive";
		upd[n++] = inst[m++] = "apt-get";
		upd[n++] = "-qq";
		upd[n++] = "update";
		upd[n] = NULL;
		inst[m++] = "-qq";
		inst[m++] = "-y";
		inst[m++] = "install";
		inst[m++] = APT_PACKAGE;
		inst[m] = NULL;
		fprintf(stderr,
		    "vsm-bench ansible: ansible is missing; installing %s "
		    "with apt-get (log: %s)\n",
		    APT_PACKAGE, log);
		if (run_cmd(inst, log, log, ANSIBLE_MS) != 0 &&
		    (run_cmd(upd, log, log, ANSIBLE_MS) != 0 ||
		        run_cmd(inst, log, log, ANSIBLE_MS) != 0)) {
			last_line(log, last, sizeof(last));
			snprintf(b->no_ansible, sizeof(b->no_ansible),
			    "ansible is not installed and apt-get install %s "
			    "failed%s%s",
			    APT_PACKAGE, last[0] ? ": " : "", last);
			b->ansible[0] = '\0';
			return;
		}
		if (which("ansible", b->ansible, sizeof(b->ansible)) == -1) {
			snprintf(b->no_ansible, sizeof(b->no_ansible),
			    "%s was installed but ansible is not in PATH",
			    APT_PACKAGE);
			return;
		}
	}
	snprintf(vfile, sizeof(vfile), "%s/ansible-version", b->top);
	{
		char *argv[] = {b->ansible, "--version", NULL};

		run_cmd(argv, vfile, "/dev/null", 60000);
	}
	snprintf(b->ansible_version, sizeof(b->ansible_version), "?");
	if ((fp = fopen(vfile, "r")) != NULL) {
		if (fgets(line, sizeof(line), fp) != NULL) {
			line[strcspn(line, "\n")] = '\0';
			/* "ansible [core 2.14.18]" */
			snprintf(b->ansible_version, sizeof(b->ansible_version),
			    "%s", line);
		}
		fclose(fp);
	}
	ansible_python(b);
}

/*
 * The inventory (N local hosts) and an ansible.cfg of our own in dir,
 * so that no user or system ansible.cfg changes what is measured. 0 or
 * -1 with err.
 */
static int
ansible_files(const struct bench *b, const char *dir, unsigned n, char *inv,
    size_t invlen, struct vsm_err *err)
{
	char     cfg[BP_PATH];
	FILE    *fp;
	unsigned i;
	int      bad;

	snprintf(inv, invlen, "%.300s/hosts.ini", dir);
	snprintf(cfg, sizeof(cfg), "%.300s/ansible.cfg", dir);
	if ((fp = fopen(inv, "w")) == NULL)
		return (vsm_err_set(err, "%s: %s", inv, strerror(errno)));
	fprintf(fp, "[fleet]\n");
	for (i = 1; i <= n; i++)
		fprintf(fp, "h%03u\n", i);
	fprintf(fp,
	    "\n[fleet:vars]\nansible_connection=local\n"
	    "ansible_python_interpreter=%s\n",
	    b->python);
	bad = fclose(fp) != 0;
	if (bad || (fp = fopen(cfg, "w")) == NULL)
		return (vsm_err_set(err, "%s: cannot write", bad ? inv : cfg));
	fprintf(fp,
	    "[defaults]\n"
	    "stdout_callback = json\n"
	    "bin_ansible_callbacks = True\n"
	    "host_key_checking = False\n"
	    "retry_files_enabled = False\n"
	    "deprecation_warnings = False\n"
	    "nocolor = True\n"
	    "local_tmp = %s/tmp\n"
	    "remote_tmp = %s/remote-tmp\n",
	    dir, dir);
	if (fclose(fp) != 0)
		return (vsm_err_set(err, "%s: cannot write", cfg));
	setenv("ANSIBLE_CONFIG", cfg, 1);
	setenv("ANSIBLE_HOME", dir, 1);
	return (0);
}

/* Hosts in the json callback's "stats" with ok and no failure. */
static unsigned
ansible_count_ok(const char *path, unsigned n)
{
	json_t     *doc, *stats, *h;
	const char *name;
	unsigned    ok = 0;

	if ((doc = json_load_file(path, 0, NULL)) == NULL)
		return (0);
	stats = json_object_get(doc, "stats");
	json_object_foreach(stats, name, h)
	{
		if (json_integer_value(json_object_get(h, "ok")) >= 1 &&
		    json_integer_value(json_object_get(h, "failures")) == 0 &&
		    json_integer_value(json_object_get(h, "unreachable")) == 0)
			ok++;
	}
	json_decref(doc);
	return (ok > n ? n : ok);
}

/* The Ansible side for r->n hosts into r->ans. */
static void
ansible_run(struct bench *b, struct run *r)
{
	struct ans_result *a = &r->ans;
	struct vsm_err     err;
	char     dir[BP_PATH], inv[BP_PATH + 16], errlog[BP_PATH + 16];
	char     forks[16];
	char    *argv[] = {b->ansible, "all", "-i", inv, "-m",
	       "ansible.builtin.command", "-a", DF_ARGS, "-f", forks, NULL};
	uint64_t t0;

	snprintf(dir, sizeof(dir), "%.200s/ansible-%u", b->top, r->n);
	snprintf(a->out, sizeof(a->out), "%.300s/out.json", dir);
	snprintf(errlog, sizeof(errlog), "%.300s/stderr.log", dir);
	snprintf(forks, sizeof(forks), "%u", b->o.forks);
	if (mkdir(dir, 0700) == -1) {
		snprintf(
		    a->error, sizeof(a->error), "%s: %s", dir, strerror(errno));
		return;
	}
	if (ansible_files(b, dir, r->n, inv, sizeof(inv), &err) == -1) {
		snprintf(a->error, sizeof(a->error), "%s", err.msg);
		return;
	}
	a->ran = 1;
	t0 = bp_mono_ms();
	a->exit = run_cmd(argv, a->out, errlog, ANSIBLE_MS);
	a->secs = (double)(bp_mono_ms() - t0) / 1000.0;
	a->ok = ansible_count_ok(a->out, r->n);
	if (a->exit == -1)
		snprintf(a->error, sizeof(a->error),
		    "ansible was killed or interrupted (%s)", errlog);
	else if (a->ok != r->n)
		snprintf(a->error, sizeof(a->error),
		    "ansible: %u of %u hosts ok, exit status %d (%.300s, "
		    "%.300s)",
		    a->ok, r->n, a->exit, a->out, errlog);
}

/* --- vsm ---------------------------------------------------------------- */

/*
 * Start n agents, SPAWN_BATCH at a time, and wait until the controller
 * shows all of them connected with their facts. 0 or -1 with err.
 */
static int
agents_up(struct bp_agent *ag, unsigned n, const struct bp_controller *c,
    struct vsm_client *cl, const char *dir, struct vsm_err *err)
{
	uint64_t end;
	json_t  *hosts = NULL, *h, *facts;
	char     name[16];
	size_t   i, ready = 0;

	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "h%03zu", i + 1);
		if (bp_agent_start(&ag[i], c, dir, name, NULL, err) == -1)
			return (-1);
		if ((i + 1) % SPAWN_BATCH == 0 &&
		    bp_nap_ms(SPAWN_PAUSE_MS) == -1)
			return (vsm_err_set(err, "interrupted"));
	}
	end = bp_mono_ms() + UP_MS_BASE + (uint64_t)n * UP_MS_PER_HOST;
	for (;;) {
		for (i = 0; i < n; i++)
			if (!bp_alive(&ag[i].pid))
				return (vsm_err_set(err, "agent %s died (%s)",
				    ag[i].name, ag[i].log));
		if (bp_ctl(cl, &hosts, err, "hosts", NULL) == -1)
			return (-1);
		ready = 0;
		json_array_foreach(hosts, i, h)
		{
			facts = json_object_get(h, "facts");
			ready +=
			    json_is_true(json_object_get(h, "connected")) &&
			    json_is_object(facts) &&
			    json_object_size(facts) > 0;
		}
		json_decref(hosts);
		hosts = NULL;
		if (ready == n)
			return (0);
		if (bp_mono_ms() >= end)
			return (vsm_err_set(err,
			    "%zu of %u agents connected with facts after %llu "
			    "s (logs in %s)",
			    ready, n,
			    (unsigned long long)(UP_MS_BASE +
			        (uint64_t)n * UP_MS_PER_HOST) /
			        1000,
			    dir));
		if (bp_nap_ms(UP_POLL_MS) == -1)
			return (vsm_err_set(err, "interrupted"));
	}
}

/* Tasks of a `jobs` row in a final state. */
static unsigned
final_tasks(json_t *job)
{
	static const char *const finals[] = {
	    "ok", "warn", "fail", "error", "cancelled", "timeout", "lost"};
	json_t  *st = json_object_get(job, "states");
	unsigned n = 0;
	size_t   i;

	for (i = 0; i < sizeof(finals) / sizeof(finals[0]); i++)
		n += (unsigned)json_integer_value(
		    json_object_get(st, finals[i]));
	return (n);
}

/*
 * One `run sys.disk --target all` over the control channel, timed to the
 * moment `jobs` shows all N tasks final; then job.show for the states
 * and the controller's own times. 0 or -1 with err.
 */
static int
vsm_job(struct vsm_client *cl, unsigned n, struct vsm_result *v,
    struct vsm_err *err)
{
	json_t     *doc = NULL, *jobs = NULL, *t;
	const char *st;
	char        job[64];
	uint64_t    t0, end;
	json_int_t  created, fin, first = 0, last = 0;
	size_t      i;
	int         ret = -1;

	t0 = bp_mono_ms();
	end = t0 + JOB_MS;
	if (bp_ctl(cl, &doc, err, "run", "module", "sys.disk", "target", "all",
	        NULL) != 0)
		goto out;
	snprintf(job, sizeof(job), "%s",
	    json_string_value(json_object_get(doc, "job")) != NULL
	        ? json_string_value(json_object_get(doc, "job"))
	        : "");
	v->tasks = (unsigned)json_integer_value(json_object_get(doc, "tasks"));
	json_decref(doc);
	doc = NULL;
	if (job[0] == '\0' || v->tasks != n) {
		vsm_err_set(err, "run: %u tasks for %u hosts", v->tasks, n);
		goto out;
	}
	for (;;) {
		if (bp_ctl(cl, &jobs, err, "jobs", "limit", "1", NULL) != 0)
			goto out;
		t = json_array_get(jobs, 0);
		if (t != NULL &&
		    strcmp(json_string_value(json_object_get(t, "id"))
		            ? json_string_value(json_object_get(t, "id"))
		            : "",
		        job) == 0 &&
		    final_tasks(t) == n)
			break;
		json_decref(jobs);
		jobs = NULL;
		if (bp_mono_ms() >= end) {
			vsm_err_set(
			    err, "job %s not done in %d s", job, JOB_MS / 1000);
			goto out;
		}
		if (bp_nap_ms(JOB_POLL_MS) == -1) {
			vsm_err_set(err, "interrupted");
			goto out;
		}
	}
	v->run_ms = (double)(bp_mono_ms() - t0);
	if (bp_ctl(cl, &doc, err, "job.show", "id", job, NULL) != 0)
		goto out;
	created = json_integer_value(
	    json_object_get(json_object_get(doc, "job"), "created_at"));
	json_array_foreach(json_object_get(doc, "tasks"), i, t)
	{
		st = json_string_value(json_object_get(t, "state"));
		st = st != NULL ? st : "";
		fin = json_integer_value(json_object_get(t, "finished_at"));
		if (first == 0 || fin < first)
			first = fin;
		if (fin > last)
			last = fin;
		if (strcmp(st, "ok") == 0)
			v->ok++;
		else if (strcmp(st, "warn") == 0)
			v->warn++;
		else if (strcmp(st, "fail") == 0)
			v->fail++;
		else
			v->other++;
	}
	v->store_ms = (double)(last - created);
	v->first_ms = (double)(first - created);
	if (v->ok + v->warn + v->fail != n) {
		vsm_err_set(err,
		    "job %s: %u of %u tasks answered by sys.disk (ok %u, warn "
		    "%u, fail %u, other %u)",
		    job, v->ok + v->warn + v->fail, n, v->ok, v->warn, v->fail,
		    v->other);
		goto out;
	}
	ret = 0;
out:
	json_decref(doc);
	json_decref(jobs);
	return (ret);
}

/* The same job through the vsmctl process: `run ... --wait`, timed. */
static void
vsm_job_vsmctl(
    const struct bp_controller *c, const char *dir, struct vsm_result *v)
{
	char  bin[PATH_MAX], out[BP_PATH];
	char *argv[] = {bin, "--dir", (char *)c->dir, "run", "sys.disk",
	    "--target", "all", "--wait", NULL};
	struct vsm_err err;
	uint64_t       t0;

	v->vsmctl_exit = -1;
	if (bp_bin("vsmctl", bin, sizeof(bin), &err) == -1)
		return;
	snprintf(out, sizeof(out), "%.200s/vsmctl.out", dir);
	t0 = bp_mono_ms();
	v->vsmctl_exit = run_cmd(argv, out, out, JOB_MS);
	v->vsmctl_ms = (double)(bp_mono_ms() - t0);
}

/* The vsm side for r->n hosts into r->vsm. */
static void
vsm_run(struct bench *b, struct run *r)
{
	struct vsm_result   *v = &r->vsm;
	struct bp_controller c;
	struct bp_agent     *ag = NULL;
	struct vsm_client   *cl = NULL;
	struct vsm_err       err;
	char                 dir[BP_PATH / 2];
	uint64_t             t0;

	memset(&c, 0, sizeof(c));
	memset(&err, 0, sizeof(err));
	snprintf(dir, sizeof(dir), "%.200s/vsm-%u", b->top, r->n);
	if (mkdir(dir, 0700) == -1) {
		vsm_err_set(&err, "%s: %s", dir, strerror(errno));
		goto out;
	}
	if ((ag = calloc(r->n, sizeof(*ag))) == NULL) {
		vsm_err_set(&err, "out of memory");
		goto out;
	}
	if (bp_controller_init(&c, dir, r->n, NULL, &err) == -1 ||
	    bp_controller_start(&c, &err) == -1 ||
	    bp_ctl_open(&c, &cl, &err) == -1)
		goto out;
	t0 = bp_mono_ms();
	if (agents_up(ag, r->n, &c, cl, dir, &err) == -1)
		goto out;
	v->up_s = (double)(bp_mono_ms() - t0) / 1000.0;
	if (bp_nap_ms(SETTLE_MS) == -1) {
		vsm_err_set(&err, "interrupted");
		goto out;
	}
	v->ran = 1;
	if (vsm_job(cl, r->n, v, &err) == -1) {
		v->ran = 0;
		goto out;
	}
	vsm_job_vsmctl(&c, dir, v);
out:
	if (err.msg[0] != '\0')
		snprintf(v->error, sizeof(v->error), "%s", err.msg);
	vsm_client_close(cl);
	if (ag != NULL)
		bp_agents_stop(ag, r->n, SIGTERM, STOP_GRACE_MS);
	bp_controller_stop(&c, SIGTERM);
	free(ag);
}

/* --- output ------------------------------------------------------------- */

static double
ratio(const struct run *r)
{
	return (r->ans.ran && r->ans.error[0] == '\0' && r->vsm.ran &&
	            r->vsm.run_ms > 0
	        ? r->ans.secs * 1000.0 / r->vsm.run_ms
	        : 0);
}

static void
print_table(const struct bench *b)
{
	const struct run *r;
	size_t            i;

	printf("vsm-bench ansible: disk usage of every host; %ld x %s\n",
	    b->nproc, b->cpu);
	if (b->ansible[0] != '\0')
		printf("ansible: %s: ansible all -i INV -m "
		       "ansible.builtin.command -a \"%s\" -f %u\n"
		       "         (every host ansible_connection=local, "
		       "ansible_python_interpreter=%s)\n",
		    b->ansible_version, DF_ARGS, b->o.forks, b->python);
	else
		printf("ansible: skipped: %s\n", b->no_ansible);
	printf("vsm:     run sys.disk --target all over the control channel, "
	       "N vsm-agents on\n         tcp://127.0.0.1; polled every %d "
	       "ms until all N tasks are final\n\n",
	    JOB_POLL_MS);
	printf("hosts  ansible s  vsm ms  (controller ms, first)  "
	       "vsmctl --wait ms  ansible/vsm\n");
	for (i = 0; i < b->o.nruns; i++) {
		r = &b->runs[i];
		printf("%5u", r->n);
		if (r->ans.ran && r->ans.error[0] == '\0')
			printf("  %9.2f", r->ans.secs);
		else
			printf("  %9s", "-");
		if (r->vsm.ran)
			printf("  %6.0f  (%6.0f, %5.0f)          %8.0f%s",
			    r->vsm.run_ms, r->vsm.store_ms, r->vsm.first_ms,
			    r->vsm.vsmctl_ms,
			    r->vsm.vsmctl_exit == 0 ? " " : "!");
		else
			printf("  %6s  %24s  %16s", "-", "", "-");
		if (ratio(r) > 0)
			printf("  %10.0fx\n", ratio(r));
		else
			printf("  %11s\n", "-");
	}
	printf("\n");
	for (i = 0; i < b->o.nruns; i++) {
		r = &b->runs[i];
		if (r->vsm.ran)
			printf("%u hosts: %u agents connected with facts in "
			       "%.1f s; sys.disk ok %u, warn %u, fail %u\n",
			    r->n, r->n, r->vsm.up_s, r->vsm.ok, r->vsm.warn,
			    r->vsm.fail);
		if (r->ans.ran)
			printf("%u hosts: ansible ok on %u, exit status %d\n",
			    r->n, r->ans.ok, r->ans.exit);
		if (r->ans.error[0] != '\0')
			printf("! %u hosts, ansible: %s\n", r->n, r->ans.error);
		if (r->vsm.error[0] != '\0')
			printf("! %u hosts, vsm: %s\n", r->n, r->vsm.error);
		if (r->vsm.ran && r->vsm.vsmctl_exit != 0)
			printf("! %u hosts, vsmctl run --wait: exit status "
			       "%d\n",
			    r->n, r->vsm.vsmctl_exit);
	}
}

static json_t *
run_json(const struct bench *b, const struct run *r, int *bad)
{
	json_t *o = json_object(), *a = json_object(), *v = json_object();

	bench_jset(o, "hosts", json_integer(r->n), bad);
	bench_jset(a, "ran", json_boolean(r->ans.ran), bad);
	if (r->ans.ran) {
		bench_jset(a, "seconds", json_real(r->ans.secs), bad);
		bench_jset(a, "exit", json_integer(r->ans.exit), bad);
		bench_jset(a, "hosts_ok", json_integer(r->ans.ok), bad);
	}
	if (r->ans.error[0] != '\0' || !r->ans.ran)
		bench_jset(a, "error",
		    json_string(r->ans.ran ? r->ans.error : b->no_ansible),
		    bad);
	bench_jset(v, "ran", json_boolean(r->vsm.ran), bad);
	if (r->vsm.ran) {
		bench_jset(v, "agents_up_s", json_real(r->vsm.up_s), bad);
		bench_jset(v, "run_to_final_ms", json_real(r->vsm.run_ms), bad);
		bench_jset(v, "controller_ms", json_real(r->vsm.store_ms), bad);
		bench_jset(
		    v, "controller_first_ms", json_real(r->vsm.first_ms), bad);
		bench_jset(
		    v, "vsmctl_wait_ms", json_real(r->vsm.vsmctl_ms), bad);
		bench_jset(
		    v, "vsmctl_exit", json_integer(r->vsm.vsmctl_exit), bad);
		bench_jset(v, "states",
		    json_pack("{s:i, s:i, s:i, s:i}", "ok", r->vsm.ok, "warn",
		        r->vsm.warn, "fail", r->vsm.fail, "other",
		        r->vsm.other),
		    bad);
	}
	if (r->vsm.error[0] != '\0')
		bench_jset(v, "error", json_string(r->vsm.error), bad);
	bench_jset(o, "ansible", a, bad);
	bench_jset(o, "vsm", v, bad);
	bench_jset(
	    o, "ratio", ratio(r) > 0 ? json_real(ratio(r)) : json_null(), bad);
	return (o);
}

/* The run as one JSON document on stdout; 0 or -1 with err. */
static int
print_json(const struct bench *b, struct vsm_err *err)
{
	json_t *doc = json_object(), *runs = json_array(), *p, *m;
	char    cmd[256];
	size_t  i;
	int     bad = doc == NULL || runs == NULL, ret = -1;

	snprintf(cmd, sizeof(cmd),
	    "ansible all -i INV -m ansible.builtin.command -a \"%s\" -f %u",
	    DF_ARGS, b->o.forks);
	m = json_pack("{s:i, s:s}", "nproc", (int)b->nproc, "cpu", b->cpu);
	p = json_pack("{s:i, s:s, s:s, s:s, s:s, s:i, s:i}", "forks",
	    (int)b->o.forks, "ansible_command", cmd, "ansible_version",
	    b->ansible_version, "python", b->python, "vsm_job",
	    "run module=sys.disk target=all", "job_poll_ms", JOB_POLL_MS,
	    "nofile", (int)(b->nofile > INT_MAX ? INT_MAX : b->nofile));
	for (i = 0; i < b->o.nruns; i++)
		if (json_array_append_new(runs, run_json(b, &b->runs[i], &bad)))
			bad = 1;
	bench_jset(doc, "benchmark", json_string("ansible"), &bad);
	bench_jset(doc, "machine", m, &bad);
	bench_jset(doc, "params", p, &bad);
	bench_jset(doc, "runs", runs, &bad);
	if (bench_json_print(doc, bad, 6, err) == -1)
		goto out;
	ret = 0;
out:
	json_decref(doc);
	return (ret);
}

/* --- the subcommand ----------------------------------------------------- */

/*
 * vsm-bench ansible [--hosts N[,N]...] [--forks F] [--json]: each N in
 * turn, Ansible then vsm. Prints what was measured even when a side
 * failed; returns 0 when both sides ran for every N, 1 otherwise (err
 * says the first failure), 2 on bad usage.
 */
int
bench_ansible(int argc, char **argv, struct vsm_err *err)
{
	struct bench *b;
	unsigned      most = 0;
	size_t        i;
	int           rc, ret = 1;

	if ((b = calloc(1, sizeof(*b))) == NULL) {
		vsm_err_set(err, "out of memory");
		return (1);
	}
	if ((rc = parse_opts(argc, argv, &b->o, err)) != 0) {
		free(b);
		return (rc);
	}
	bp_catch_signals();
	bp_cpu_model(b->cpu, sizeof(b->cpu));
	b->nproc = sysconf(_SC_NPROCESSORS_ONLN);
	for (i = 0; i < b->o.nruns; i++)
		if (b->o.hosts[i] > most)
			most = b->o.hosts[i];
	/* The controller holds a connection per agent; each agent ~20
	 * threads. */
	b->nofile = bp_raise_limit(RLIMIT_NOFILE, 4096 + 16UL * most);
	b->nproc_limit = bp_raise_limit(RLIMIT_NPROC, 1024 + 64UL * most);
	if (bp_tmpdir("ansible", b->top, sizeof(b->top), err) == -1)
		goto out;
	ansible_find(b);
	for (i = 0; i < b->o.nruns && !bp_interrupted(); i++) {
		b->runs[i].n = b->o.hosts[i];
		if (b->ansible[0] != '\0')
			ansible_run(b, &b->runs[i]);
		if (!bp_interrupted())
			vsm_run(b, &b->runs[i]);
	}
	if (b->o.json) {
		if (print_json(b, err) == -1)
			goto out;
	} else
		print_table(b);
	if (fflush(stdout) == EOF) {
		vsm_err_set(err, "writing the results: %s", strerror(errno));
		goto out;
	}
	if (bp_interrupted()) {
		vsm_err_set(err, "interrupted");
		goto out;
	}
	if (b->ansible[0] == '\0') {
		vsm_err_set(err, "%s", b->no_ansible);
		goto out;
	}
	for (i = 0; i < b->o.nruns; i++) {
		if (b->runs[i].ans.error[0] != '\0') {
			vsm_err_set(err, "%u hosts: %s", b->runs[i].n,
			    b->runs[i].ans.error);
			goto out;
		}
		if (b->runs[i].vsm.error[0] != '\0') {
			vsm_err_set(err, "%u hosts: %s", b->runs[i].n,
			    b->runs[i].vsm.error);
			goto out;
		}
	}
	ret = 0;
out:
	if (b->top[0] != '\0')
		bp_rmdir(b->top);
	free(b);
	return (ret);
}
