/*
 * bench_agent_idle.c: `vsm-bench agent-idle`, what one real vsm-agent
 * costs while it has nothing to do.
 *
 * A controller (`vsm-controller init` + `run`) and one agent enrolled with
 * its token, both on loopback in a directory of their own, with the
 * default config (heartbeat 30 s). Once the controller says the agent is
 * connected and has its facts (and, with --tasks N, has run N sys.disk
 * jobs one after the other: idle after work), and two settling seconds
 * have passed, the agent is watched for S seconds: its RSS (VmRSS,
 * sampled every second), its peak (VmHWM), anonymous and file-backed
 * RSS, PSS, its CPU time (utime + stime) over the wall time, its threads
 * and its wake-ups (context switches of all threads). The goals of the
 * issue are printed beside the figures; nothing passes or fails on them.
 * The agent is stopped with SIGTERM, and SIGKILL after STOP_GRACE_MS: a
 * clean stop waits for the held poll (heartbeat + 15 s).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "bench_json.h"
#include "bench_proc.h"

#define SECONDS_DEFAULT 60.0
#define SECONDS_MIN     1.0
#define SECONDS_MAX     86400.0
#define READY_MS        60000 /* connected and facts in, from the start */
#define SETTLE_MS       2000  /* the facts task's child and thread end */
#define SAMPLE_MS       1000
#define GOAL_RSS_KIB    4096
#define GOAL_CPU_PCT    0.1
#define AGENT_NAME      "h001"
#define TASKS_MAX       100000
#define JOB_MS          60000 /* one warm-up job, at most */
#define JOB_POLL_MS     20
#define STOP_GRACE_MS   3000

int bench_agent_idle(int, char **, struct vsm_err *);

struct opts {
	double   seconds;
	unsigned tasks; /* sys.disk jobs run before the window */
	int      json;
};

struct idle {
	char             cpu[128];
	long             nproc;
	pid_t            pid;
	double           ready_s; /* agent start to facts in */
	double           tasks_s; /* the warm-up jobs */
	double           wall_s;  /* measured */
	double           cpu_s;   /* utime + stime over wall_s */
	double           sched_s; /* the same from schedstat (ns) */
	uint64_t         wakeups; /* context switches over wall_s */
	uint64_t         rss_min, rss_max, rss_sum, samples;
	uint64_t         pss_kib;
	struct bp_status end; /* at the end of the window */
	json_t          *by_object;
};

/* Parse argv into o; 2 with err set on bad usage. */
static int
parse_opts(int argc, char **argv, struct opts *o, struct vsm_err *err)
{
	char *end;
	int   i;

	long l;

	o->seconds = SECONDS_DEFAULT;
	o->tasks = 0;
	o->json = 0;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			o->json = 1;
		else if (strcmp(argv[i], "--tasks") == 0) {
			if (++i == argc) {
				vsm_err_set(err, "--tasks wants a value");
				return (2);
			}
			errno = 0;
			l = strtol(argv[i], &end, 10);
			if (errno != 0 || end == argv[i] || *end != '\0' ||
			    l < 0 || l > TASKS_MAX) {
				vsm_err_set(err,
				    "--tasks wants an integer from 0 to %d, "
				    "not '%s'",
				    TASKS_MAX, argv[i]);
				return (2);
			}
			o->tasks = (unsigned)l;
		} else if (strcmp(argv[i], "--seconds") == 0) {
			if (++i == argc) {
				vsm_err_set(err, "--seconds wants a value");
				return (2);
			}
			errno = 0;
			o->seconds = strtod(argv[i], &end);
			if (errno != 0 || end == argv[i] || *end != '\0' ||
			    !(o->seconds >= SECONDS_MIN &&
			        o->seconds <= SECONDS_MAX)) {
				vsm_err_set(err,
				    "--seconds wants a number from %g to %g, "
				    "not '%s'",
				    SECONDS_MIN, SECONDS_MAX, argv[i]);
				return (2);
			}
		} else {
			vsm_err_set(err, "unknown argument '%s'", argv[i]);
			return (2);
		}
	}
	return (0);
}

/*
 * Wait until the controller shows the agent connected with its facts
 * (READY_MS at most). 0, or -1 with err set (timeout, the agent died,
 * the control call failed, interrupted).
 */
static int
wait_ready(struct vsm_client *cl, struct bp_agent *ag, struct vsm_err *err)
{
	uint64_t end = bp_mono_ms() + READY_MS;
	json_t  *h = NULL, *facts;
	int      ready = 0;

	while (!ready) {
		if (bp_mono_ms() >= end)
			return (vsm_err_set(err,
			    "the agent was not connected with its facts "
			    "within %d s (%s)",
			    READY_MS / 1000, ag->log));
		if (!bp_alive(&ag->pid))
			return (
			    vsm_err_set(err, "the agent died (%s)", ag->log));
		if (bp_ctl(cl, &h, err, "host.show", "name", ag->name, NULL) ==
		    -1)
			return (-1);
		facts = json_object_get(h, "facts");
		ready = json_is_true(json_object_get(h, "connected")) &&
		    json_is_object(facts) && json_object_size(facts) > 0;
		json_decref(h);
		h = NULL;
		if (!ready && bp_nap_ms(100) == -1)
			return (vsm_err_set(err, "interrupted"));
	}
	return (0);
}

/*
 * Run n sys.disk jobs on the agent one after the other, each to its end
 * (JOB_MS at most). 0, or -1 with err set (a job failed or timed out).
 */
static int
warm_up(struct vsm_client *cl, unsigned n, struct vsm_err *err)
{
	json_t     *doc = NULL, *st;
	const char *id;
	char        job[64];
	uint64_t    end;
	unsigned    i;
	int         done;

	for (i = 0; i < n; i++) {
		if (bp_ctl(cl, &doc, err, "run", "module", "sys.disk", "target",
		        "all", NULL) != 0)
			return (-1);
		id = json_string_value(json_object_get(doc, "job"));
		snprintf(job, sizeof(job), "%s", id != NULL ? id : "");
		json_decref(doc);
		doc = NULL;
		end = bp_mono_ms() + JOB_MS;
		for (done = 0; !done;) {
			if (bp_ctl(cl, &doc, err, "job.show", "id", job,
			        NULL) != 0)
				return (-1);
			st = json_object_get(
			    json_array_get(json_object_get(doc, "tasks"), 0),
			    "state");
			done = json_is_string(st) &&
			    strcmp(json_string_value(st), "queued") != 0 &&
			    strcmp(json_string_value(st), "sent") != 0 &&
			    strcmp(json_string_value(st), "running") != 0;
			json_decref(doc);
			doc = NULL;
			if (!done && bp_mono_ms() >= end)
				return (vsm_err_set(err,
				    "warm-up job %u of %u not done in %d s",
				    i + 1, n, JOB_MS / 1000));
			if (!done && bp_nap_ms(JOB_POLL_MS) == -1)
				return (vsm_err_set(err, "interrupted"));
		}
	}
	return (0);
}

/*
 * Watch the agent for o->seconds into r. 0, or -1 with err set when it
 * died or the run was interrupted.
 */
static int
watch(const struct opts *o, pid_t pid, struct idle *r, struct vsm_err *err)
{
	struct bp_status st;
	uint64_t         t0, t, next, ctx0, ns0;
	double           cpu0, cpu1;

	t0 = bp_mono_ms();
	cpu0 = bp_cpu_s(pid);
	ns0 = bp_cpu_ns(pid);
	ctx0 = bp_ctxsw(pid);
	r->rss_min = UINT64_MAX;
	next = t0;
	for (;;) {
		if (bp_status(pid, &st) == -1)
			return (
			    vsm_err_set(err, "the agent died while watched"));
		if (st.rss_kib < r->rss_min)
			r->rss_min = st.rss_kib;
		if (st.rss_kib > r->rss_max)
			r->rss_max = st.rss_kib;
		r->rss_sum += st.rss_kib;
		r->samples++;
		next += SAMPLE_MS;
		t = bp_mono_ms();
		if (t >= t0 + (uint64_t)(o->seconds * 1000))
			break;
		if (next > t0 + (uint64_t)(o->seconds * 1000))
			next = t0 + (uint64_t)(o->seconds * 1000);
		if (next > t && bp_nap_ms((unsigned)(next - t)) == -1)
			return (vsm_err_set(err, "interrupted"));
	}
	cpu1 = bp_cpu_s(pid);
	r->wall_s = (double)(bp_mono_ms() - t0) / 1000.0;
	r->wakeups = bp_ctxsw(pid) - ctx0;
	r->sched_s = (double)(bp_cpu_ns(pid) - ns0) / 1e9;
	if (cpu0 < 0 || cpu1 < 0 || bp_status(pid, &r->end) == -1)
		return (vsm_err_set(err, "the agent died while watched"));
	r->cpu_s = cpu1 - cpu0;
	r->pss_kib = bp_pss_kib(pid);
	r->by_object = bp_rss_by_object(pid);
	return (0);
}

static double
mib(uint64_t kib)
{
	return ((double)kib / 1024.0);
}

static double
cpu_pct(const struct idle *r)
{
	return (r->wall_s > 0 ? 100.0 * r->cpu_s / r->wall_s : 0);
}

/* The objects of by_object, largest first, on lines of 76 columns. */
static void
print_objects(json_t *by)
{
	const char *names[64], *k, *tmp;
	json_t     *v;
	char        item[160];
	size_t      n = 0, i, j, col = 0;
	int         w;

	json_object_foreach(by, k, v)
	{
		if (n < 64)
			names[n++] = k;
	}
	for (i = 1; i < n; i++)
		for (j = i; j > 0 &&
		     json_integer_value(json_object_get(by, names[j])) >
		         json_integer_value(json_object_get(by, names[j - 1]));
		     j--) {
			tmp = names[j];
			names[j] = names[j - 1];
			names[j - 1] = tmp;
		}
	for (i = 0; i < n; i++) {
		w = snprintf(item, sizeof(item), " %s %lld%s", names[i],
		    (long long)json_integer_value(
		        json_object_get(by, names[i])),
		    i + 1 < n ? "," : "");
		if (w < 0)
			continue;
		if (col > 0 && col + (size_t)w > 76) {
			printf("\n");
			col = 0;
		}
		if (col == 0)
			col = (size_t)printf("   ");
		col += (size_t)printf("%s", item);
	}
	printf("\n");
}

static void
print_table(const struct opts *o, const struct idle *r)
{
	printf("vsm-bench agent-idle: %ld x %s, vsm-agent %s (pid %d)\n",
	    r->nproc, r->cpu, VSM_VERSION, (int)r->pid);
	printf("default config (heartbeat 30s); connected with its facts "
	       "%.1f s after start\n",
	    r->ready_s);
	if (o->tasks > 0)
		printf(
		    "then %u sys.disk jobs, one after the other, in %.1f s\n",
		    o->tasks, r->tasks_s);
	printf("watched for %.1f s\n\n", r->wall_s);
	printf("  RSS (VmRSS)    %6.2f MiB %5llu KiB  min %llu, max %llu KiB; "
	       "goal < 4 MiB\n",
	    mib(r->end.rss_kib), (unsigned long long)r->end.rss_kib,
	    (unsigned long long)r->rss_min, (unsigned long long)r->rss_max);
	printf("  peak (VmHWM)   %6.2f MiB %5llu KiB\n", mib(r->end.hwm_kib),
	    (unsigned long long)r->end.hwm_kib);
	printf("  anon + file               %llu + %llu KiB\n",
	    (unsigned long long)r->end.anon_kib,
	    (unsigned long long)r->end.file_kib);
	printf("  PSS            %6.2f MiB %5llu KiB  shared pages split among "
	       "their users\n",
	    mib(r->pss_kib), (unsigned long long)r->pss_kib);
	printf(
	    "  CPU            %8.4f %%        %.0f ms (schedstat %.1f ms) in "
	    "%.1f s; goal < %.1f %%\n",
	    cpu_pct(r), r->cpu_s * 1000, r->sched_s * 1000, r->wall_s,
	    GOAL_CPU_PCT);
	printf("  threads        %6u\n", r->end.threads);
	printf("  wake-ups       %8.1f /s      context switches of all "
	       "threads\n",
	    r->wall_s > 0 ? (double)r->wakeups / r->wall_s : 0);
	if (r->by_object != NULL) {
		printf(
		    "\nRSS by mapping, KiB ([anon]: thread stacks and malloc "
		    "arenas):\n");
		print_objects(r->by_object);
	}
}

/* The run as one JSON document on stdout; 0 or -1 with err. */
static int
print_json(const struct opts *o, const struct idle *r, struct vsm_err *err)
{
	json_t *doc = json_object(), *m = json_object(), *p = json_object();
	json_t *a = json_object();
	int     bad = doc == NULL || m == NULL || p == NULL || a == NULL;
	int     ret = -1;

	bench_jset(m, "nproc", json_integer(r->nproc), &bad);
	bench_jset(m, "cpu", json_string(r->cpu), &bad);
	bench_jset(p, "seconds", json_real(o->seconds), &bad);
	bench_jset(p, "tasks", json_integer(o->tasks), &bad);
	bench_jset(p, "heartbeat_s", json_integer(30), &bad);
	bench_jset(a, "version", json_string(VSM_VERSION), &bad);
	bench_jset(a, "ready_s", json_real(r->ready_s), &bad);
	bench_jset(a, "tasks_s", json_real(r->tasks_s), &bad);
	bench_jset(a, "watched_s", json_real(r->wall_s), &bad);
	bench_jset(
	    a, "rss_kib", json_integer((json_int_t)r->end.rss_kib), &bad);
	bench_jset(
	    a, "rss_min_kib", json_integer((json_int_t)r->rss_min), &bad);
	bench_jset(
	    a, "rss_max_kib", json_integer((json_int_t)r->rss_max), &bad);
	bench_jset(a, "rss_mean_kib",
	    json_real(r->samples ? (double)r->rss_sum / (double)r->samples : 0),
	    &bad);
	bench_jset(
	    a, "hwm_kib", json_integer((json_int_t)r->end.hwm_kib), &bad);
	bench_jset(
	    a, "anon_kib", json_integer((json_int_t)r->end.anon_kib), &bad);
	bench_jset(
	    a, "file_kib", json_integer((json_int_t)r->end.file_kib), &bad);
	bench_jset(a, "pss_kib", json_integer((json_int_t)r->pss_kib), &bad);
	bench_jset(a, "cpu_s", json_real(r->cpu_s), &bad);
	bench_jset(a, "cpu_pct", json_real(cpu_pct(r)), &bad);
	bench_jset(a, "cpu_schedstat_s", json_real(r->sched_s), &bad);
	bench_jset(a, "threads", json_integer(r->end.threads), &bad);
	bench_jset(a, "wakeups", json_integer((json_int_t)r->wakeups), &bad);
	bench_jset(a, "rss_by_object",
	    r->by_object != NULL ? json_incref(r->by_object) : json_null(),
	    &bad);
	bench_jset(doc, "benchmark", json_string("agent-idle"), &bad);
	bench_jset(doc, "machine", m, &bad);
	bench_jset(doc, "params", p, &bad);
	bench_jset(doc, "agent", a, &bad);
	bench_jset(doc, "goals",
	    json_pack("{s:i, s:f}", "rss_kib_below", GOAL_RSS_KIB,
	        "cpu_pct_below", GOAL_CPU_PCT),
	    &bad);
	if (bench_json_print(doc, bad, 6, err) == -1)
		goto out;
	ret = 0;
out:
	json_decref(doc);
	return (ret);
}

/*
 * vsm-bench agent-idle [--seconds S] [--tasks N] [--json]: about S + 5
 * seconds, and the N jobs (about 0.1 s each). The
 * controller, the agent and the directory are gone when it returns,
 * whatever happened. Returns 0, 1 or 2 (see bench_main.c).
 */
int
bench_agent_idle(int argc, char **argv, struct vsm_err *err)
{
	struct opts          o;
	struct idle          r;
	struct bp_controller c;
	struct bp_agent      ag;
	struct vsm_client   *cl = NULL;
	char                 top[BP_PATH / 2] = "";
	uint64_t             t0;
	int                  rc, ret = 1;

	if ((rc = parse_opts(argc, argv, &o, err)) != 0)
		return (rc);
	memset(&r, 0, sizeof(r));
	memset(&c, 0, sizeof(c));
	memset(&ag, 0, sizeof(ag));
	bp_catch_signals();
	bp_cpu_model(r.cpu, sizeof(r.cpu));
	r.nproc = sysconf(_SC_NPROCESSORS_ONLN);
	if (bp_tmpdir("idle", top, sizeof(top), err) == -1)
		return (1);
	if (bp_controller_init(&c, top, 1, NULL, err) == -1 ||
	    bp_controller_start(&c, err) == -1 ||
	    bp_ctl_open(&c, &cl, err) == -1)
		goto out;
	t0 = bp_mono_ms();
	if (bp_agent_start(&ag, &c, top, AGENT_NAME, NULL, err) == -1 ||
	    wait_ready(cl, &ag, err) == -1)
		goto out;
	r.ready_s = (double)(bp_mono_ms() - t0) / 1000.0;
	r.pid = ag.pid;
	t0 = bp_mono_ms();
	if (warm_up(cl, o.tasks, err) == -1)
		goto out;
	r.tasks_s = (double)(bp_mono_ms() - t0) / 1000.0;
	if (bp_nap_ms(SETTLE_MS) == -1) {
		vsm_err_set(err, "interrupted");
		goto out;
	}
	if (watch(&o, ag.pid, &r, err) == -1)
		goto out;
	if (o.json) {
		if (print_json(&o, &r, err) == -1)
			goto out;
	} else
		print_table(&o, &r);
	if (fflush(stdout) == EOF) {
		vsm_err_set(err, "writing the results: %s", strerror(errno));
		goto out;
	}
	ret = 0;
out:
	vsm_client_close(cl);
	bp_agents_stop(&ag, 1, SIGTERM, STOP_GRACE_MS);
	bp_controller_stop(&c, SIGTERM);
	if (top[0] != '\0')
		bp_rmdir(top);
	json_decref(r.by_object);
	return (ret);
}
