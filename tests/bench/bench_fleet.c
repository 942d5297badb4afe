/*
 * bench_fleet.c: `vsm-bench fleet --agents N`: one real vsm-controller
 * and N virtual agents (sim.c) on loopback, against the bare nng floor
 * (bench_floor.c) for the same N, in one run (docs/benchmarks.md).
 *
 * Printed: the floor; the time for N agents to enroll, connect and
 * finish the handshake; controller RSS and CPU with N idle agents;
 * fan-out rounds of sys.ping to all N (job creation to each result
 * stored, as each agent sees its EventsAck, which the controller sends
 * only after the commit): p50, p99, max, results per second, and the
 * ratio to the floor; then a controller restart under N agents, with the
 * time until all are back and a histogram of when they came back.
 */
#include <sys/resource.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "bench_fleet.h"
#include "bench_proc.h"
#include "keyfile.h"
#include "sim.h"

#define FLEET_CONNECT_MS 300000
#define FLEET_FANOUT_MS  120000
#define FLEET_HIST_BINS  10

struct fleet_opts {
	unsigned n;
	unsigned rounds;
	unsigned idle_s;
	int      storm;
	int      json;
	int      keep;
	int      floor_only;
};

static int
u64cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x < y ? -1 : x > y);
}

/* p-th percentile (0-100) of v[0..n) sorted in place; 0 when empty. */
static uint64_t
pct(uint64_t *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return (0);
	qsort(v, n, sizeof(*v), u64cmp);
	i = (size_t)((p / 100.0) * (double)(n - 1) + 0.5);
	return (v[i < n ? i : n - 1]);
}

/* v[i] - base for the non-zero v[i], compacted; how many. */
static size_t
since(uint64_t *v, size_t n, uint64_t base)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		if (v[i] != 0)
			v[k++] = v[i] >= base ? v[i] - base : 0;
	return (k);
}

static json_t *
dist_json(uint64_t *v, size_t n)
{
	return (json_pack("{s:I, s:I, s:I, s:I}", "n", (json_int_t)n, "p50_ms",
	    (json_int_t)pct(v, n, 50), "p99_ms", (json_int_t)pct(v, n, 99),
	    "max_ms", (json_int_t)pct(v, n, 100)));
}

/*
 * The value after option argv[*i] as an integer from lo to hi into v;
 * -1 with err set when it is missing, not a number or out of range.
 */
static int
opt_uint(int argc, char **argv, int *i, unsigned lo, unsigned hi, unsigned *v,
    struct vsm_err *err)
{
	const char   *name = argv[*i];
	char         *end;
	unsigned long l;

	if (++*i == argc)
		return (vsm_err_set(err, "%s wants a value", name));
	errno = 0;
	l = strtoul(argv[*i], &end, 10);
	if (errno != 0 || end == argv[*i] || *end != '\0' ||
	    argv[*i][0] == '-' || l < lo || l > hi)
		return (vsm_err_set(err,
		    "%s wants an integer from %u to %u, not '%s'", name, lo, hi,
		    argv[*i]));
	*v = (unsigned)l;
	return (0);
}

static int
parse_opts(int argc, char **argv, struct fleet_opts *o, struct vsm_err *err)
{
	int i;

	o->n = 1000;
	o->rounds = 3;
	o->idle_s = 10;
	o->storm = 1;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--agents") == 0) {
			if (opt_uint(argc, argv, &i, 1, 100000, &o->n, err) ==
			    -1)
				return (-1);
		} else if (strcmp(argv[i], "--rounds") == 0) {
			if (opt_uint(argc, argv, &i, 1, 100, &o->rounds, err) ==
			    -1)
				return (-1);
		} else if (strcmp(argv[i], "--idle") == 0) {
			if (opt_uint(
			        argc, argv, &i, 1, 3600, &o->idle_s, err) == -1)
				return (-1);
		} else if (strcmp(argv[i], "--no-storm") == 0)
			o->storm = 0;
		else if (strcmp(argv[i], "--json") == 0)
			o->json = 1;
		else if (strcmp(argv[i], "--keep") == 0)
			o->keep = 1;
		else if (strcmp(argv[i], "--floor-only") == 0)
			o->floor_only = 1;
		else
			return (
			    vsm_err_set(err, "unknown option '%s'", argv[i]));
	}
	return (0);
}

/* Wait until all n agents have a session; the ms it took, or -1. */
static int64_t
wait_connected(struct sim *s, unsigned n, uint64_t t0, int quiet)
{
	uint64_t end = t0 + FLEET_CONNECT_MS, next = t0 + 5000, now;
	unsigned c;

	while ((c = sim_connected(s)) < n) {
		now = sim_now_ms();
		if (now >= end)
			return (-1);
		if (!quiet && now >= next) {
			fprintf(stderr,
			    "  ... %u of %u connected after %.1f s\n", c, n,
			    (double)(now - t0) / 1000);
			next += 5000;
		}
		usleep(20000);
	}
	return ((int64_t)(sim_now_ms() - t0));
}

/* The floor for n, as a distribution; adds it to doc. -1 with err. */
static int
run_floor(unsigned n, json_t *doc, uint64_t *total, struct vsm_err *err)
{
	struct floor_result fr;

	if (bench_floor_run(n, &fr, err) == -1)
		return (-1);
	*total = pct(fr.at, fr.n, 100);
	json_object_set_new(doc, "floor", dist_json(fr.at, fr.n));
	json_object_set_new(json_object_get(doc, "floor"), "server_rss_kib",
	    json_integer((json_int_t)fr.server_rss_kib));
	free(fr.at);
	return (0);
}

/* One fan-out of sys.ping to all; adds a round to doc. -1 with err. */
static int
fanout(struct sim *s, struct vsm_client *ctl, unsigned n, uint64_t floor,
    json_t *rounds, struct vsm_err *err)
{
	uint64_t *at;
	uint64_t  t0, call_ms, end;
	size_t    k;
	json_t   *r, *doc = NULL;
	unsigned  got;

	if ((at = calloc(n, sizeof(*at))) == NULL)
		return (vsm_err_set(err, "out of memory"));
	sim_mark(s);
	t0 = sim_now_ms();
	if (bp_ctl(ctl, &doc, err, "run", "module", "sys.ping", "target", "all",
	        NULL) != 0) {
		free(at);
		return (-1);
	}
	call_ms = sim_now_ms() - t0;
	json_decref(doc);
	end = t0 + FLEET_FANOUT_MS;
	while ((got = sim_results(s, at)) < n && sim_now_ms() < end)
		usleep(5000);
	k = since(at, n, t0);
	r = dist_json(at, k);
	json_object_set_new(
	    r, "job_create_ms", json_integer((json_int_t)call_ms));
	json_object_set_new(r, "results_per_s",
	    json_real(pct(at, k, 100) > 0
	            ? (double)k * 1000.0 / (double)pct(at, k, 100)
	            : 0));
	json_object_set_new(r, "vs_floor",
	    json_real(floor > 0 ? (double)pct(at, k, 100) / (double)floor : 0));
	json_array_append_new(rounds, r);
	free(at);
	if (got < n)
		return (vsm_err_set(err, "fan-out: %u of %u results in %d s",
		    got, n, FLEET_FANOUT_MS / 1000));
	return (0);
}

/* Restart the controller under n agents; adds "storm" to doc. */
static int
storm(struct sim *s, struct bp_controller *c, unsigned n, json_t *doc,
    struct vsm_err *err)
{
	uint64_t *at, t0, width;
	size_t    k, i, b;
	int64_t   all;
	json_t   *st, *hist;
	unsigned  bins[FLEET_HIST_BINS] = {0};

	if ((at = calloc(n, sizeof(*at))) == NULL)
		return (vsm_err_set(err, "out of memory"));
	bp_controller_stop(c, SIGTERM);
	t0 = sim_now_ms();
	if (bp_controller_start(c, err) == -1) {
		free(at);
		return (-1);
	}
	all = wait_connected(s, n, t0, 0);
	sim_connect_times(s, at);
	k = since(at, n, t0);
	st = dist_json(at, k);
	json_object_set_new(st, "all_back_ms", json_integer(all));
	width = (pct(at, k, 100) / FLEET_HIST_BINS) + 1;
	for (i = 0; i < k; i++) {
		b = (size_t)(at[i] / width);
		bins[b < FLEET_HIST_BINS ? b : FLEET_HIST_BINS - 1]++;
	}
	hist = json_array();
	for (i = 0; i < FLEET_HIST_BINS; i++)
		json_array_append_new(hist,
		    json_pack("{s:I, s:I, s:i}", "from_ms",
		        (json_int_t)(i * width), "to_ms",
		        (json_int_t)((i + 1) * width), "agents", (int)bins[i]));
	json_object_set_new(st, "histogram", hist);
	json_object_set_new(doc, "storm", st);
	free(at);
	if (all < 0)
		return (vsm_err_set(err, "storm: not all agents came back"));
	return (0);
}

static void
print_dist(const char *what, json_t *d)
{
	printf("%-34s p50 %6lld ms  p99 %6lld ms  max %6lld ms\n", what,
	    (long long)json_integer_value(json_object_get(d, "p50_ms")),
	    (long long)json_integer_value(json_object_get(d, "p99_ms")),
	    (long long)json_integer_value(json_object_get(d, "max_ms")));
}

static void
print_human(json_t *doc)
{
	json_t *r, *h;
	size_t  i;

	printf("vsm-bench fleet: %lld agents (file limit %lld)\n",
	    (long long)json_integer_value(json_object_get(doc, "agents")),
	    (long long)json_integer_value(json_object_get(doc, "nofile")));
	print_dist("floor: bare nng round", json_object_get(doc, "floor"));
	print_dist(
	    "connect + handshake (enrolling)", json_object_get(doc, "connect"));
	printf("controller idle with all connected: RSS %.1f MiB, CPU %.2f%% "
	       "(over %lld s)\n",
	    (double)json_integer_value(json_object_get(doc, "idle_rss_kib")) /
	        1024,
	    json_real_value(json_object_get(doc, "idle_cpu_pct")),
	    (long long)json_integer_value(json_object_get(doc, "idle_s")));
	json_array_foreach(json_object_get(doc, "fanout"), i, r)
	{
		char what[64];

		snprintf(
		    what, sizeof(what), "fan-out sys.ping, round %zu", i + 1);
		print_dist(what, r);
		printf("%-34s %.0f results/s stored, %.2f x the floor, job "
		       "created in %lld ms\n",
		    "", json_real_value(json_object_get(r, "results_per_s")),
		    json_real_value(json_object_get(r, "vs_floor")),
		    (long long)json_integer_value(
		        json_object_get(r, "job_create_ms")));
	}
	if ((r = json_object_get(doc, "storm")) != NULL) {
		print_dist("controller restart: reconnects", r);
		printf("%-34s all back %lld ms after the restart began\n", "",
		    (long long)json_integer_value(
		        json_object_get(r, "all_back_ms")));
		json_array_foreach(json_object_get(r, "histogram"), i, h)
		{
			printf("  %6lld-%6lld ms %6lld ",
			    (long long)json_integer_value(
			        json_object_get(h, "from_ms")),
			    (long long)json_integer_value(
			        json_object_get(h, "to_ms")),
			    (long long)json_integer_value(
			        json_object_get(h, "agents")));
			for (int j = 0; j <
			     json_integer_value(json_object_get(h, "agents")) *
			         60 /
			         (json_integer_value(
			              json_object_get(doc, "agents")) +
			             1);
			     j++)
				putchar('#');
			putchar('\n');
		}
	}
}

int
bench_fleet(int argc, char **argv, struct vsm_err *err)
{
	struct fleet_opts    o = {0};
	struct bp_controller c = {0};
	struct sim_config    sc = {0};
	struct sim          *s = NULL;
	struct vsm_client   *ctl = NULL;
	struct sim_stats     ss;
	uint8_t              srvkey[VSM_KEY_LEN];
	uint64_t             t0, floor = 0, *at = NULL;
	char          top[BP_PATH] = "", ctxs[64], *edits[2] = {ctxs, NULL};
	double        cpu0;
	int64_t       ms;
	unsigned long limit;
	int           ret = 1;
	size_t        k;
	unsigned      r;
	json_t       *doc = json_object(), *rounds = json_array();

	if (parse_opts(argc, argv, &o, err) == -1) {
		ret = 2;
		goto out;
	}
	if (sodium_init() < 0) {
		vsm_err_set(err, "libsodium");
		goto out;
	}
	if ((limit = bp_raise_limit(RLIMIT_NOFILE, BENCH_NOFILE_WANT)) <
	    o.n + 256UL) {
		vsm_err_set(err,
		    "the file limit is %lu, %u agents need %u: raise the hard "
		    "limit (ulimit -Hn, /etc/security/limits.conf)",
		    limit, o.n, o.n + 256);
		goto out;
	}
	json_object_set_new(doc, "agents", json_integer(o.n));
	json_object_set_new(doc, "nofile", json_integer((json_int_t)limit));
	fprintf(stderr, "== floor: %u bare nng REQ sockets\n", o.n);
	if (run_floor(o.n, doc, &floor, err) == -1)
		goto out;
	if (o.floor_only) {
		print_dist(
		    "floor: bare nng round", json_object_get(doc, "floor"));
		ret = 0;
		o.json = -1;
		goto out;
	}

	fprintf(stderr, "== controller\n");
	if (bp_tmpdir("fleet", top, sizeof(top), err) == -1)
		goto out;
	snprintf(
	    ctxs, sizeof(ctxs), "contexts: 1024=>contexts: %u", 2 * o.n + 1024);
	if (bp_controller_init(
	        &c, top, o.n + 16, (const char *const *)edits, err) == -1 ||
	    bp_controller_start(&c, err) == -1 ||
	    bp_ctl_open(&c, &ctl, err) == -1)
		goto out;
	json_object_set_new(doc, "controller_rss_kib_empty",
	    json_integer((json_int_t)bp_rss_kib(c.pid)));

	fprintf(stderr, "== %u virtual agents enroll and connect\n", o.n);
	if (vsm_key_decode(c.key_b64, srvkey, err) == -1)
		goto out;
	sc.url = c.url;
	sc.server_key = srvkey;
	sc.token = c.token;
	sc.prefix = "sim";
	sc.n = o.n;
	sc.backoff_base_ms = VSM_CLIENT_BACKOFF_BASE;
	sc.backoff_cap_ms = VSM_CLIENT_BACKOFF_CAP;
	if (sim_new(&sc, &s, err) == -1)
		goto out;
	t0 = sim_now_ms();
	sim_start(s);
	if ((ms = wait_connected(s, o.n, t0, 0)) < 0) {
		vsm_err_set(err, "only %u of %u agents connected",
		    sim_connected(s), o.n);
		goto out;
	}
	if ((at = calloc(o.n, sizeof(*at))) == NULL)
		goto out;
	sim_connect_times(s, at);
	k = since(at, o.n, t0);
	json_object_set_new(doc, "connect", dist_json(at, k));

	fprintf(stderr, "== idle for %u s\n", o.idle_s);
	cpu0 = bp_cpu_s(c.pid);
	sleep(o.idle_s);
	json_object_set_new(doc, "idle_s", json_integer(o.idle_s));
	json_object_set_new(doc, "idle_cpu_pct",
	    json_real((bp_cpu_s(c.pid) - cpu0) * 100.0 / o.idle_s));
	json_object_set_new(
	    doc, "idle_rss_kib", json_integer((json_int_t)bp_rss_kib(c.pid)));

	for (r = 0; r < o.rounds; r++) {
		fprintf(stderr, "== fan-out %u of %u\n", r + 1, o.rounds);
		if (fanout(s, ctl, o.n, floor, rounds, err) == -1)
			goto out;
		sleep(1);
	}
	json_object_set_new(doc, "fanout", rounds);
	rounds = NULL;
	json_object_set_new(doc, "controller_rss_kib_after",
	    json_integer((json_int_t)bp_rss_kib(c.pid)));
	if (o.storm) {
		fprintf(stderr, "== controller restart under %u agents\n", o.n);
		vsm_client_close(ctl);
		ctl = NULL;
		if (storm(s, &c, o.n, doc, err) == -1)
			goto out;
	}
	sim_stats(s, &ss);
	json_object_set_new(doc, "sim",
	    json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "handshakes",
	        (json_int_t)ss.handshakes, "refusals", (json_int_t)ss.refusals,
	        "refused", (json_int_t)ss.refused, "lost", (json_int_t)ss.lost,
	        "tasks", (json_int_t)ss.tasks, "acks", (json_int_t)ss.acks,
	        "heartbeats", (json_int_t)ss.heartbeats));
	ret = 0;
out:
	if (ret == 0 && o.json >= 0) {
		if (o.json) {
			json_dumpf(doc, stdout, JSON_INDENT(2));
			putchar('\n');
		} else
			print_human(doc);
	}
	vsm_client_close(ctl);
	sim_free(s);
	bp_controller_stop(&c, SIGTERM);
	if (top[0] != '\0' && !o.keep)
		bp_rmdir(top);
	else if (top[0] != '\0')
		fprintf(stderr, "kept %s\n", top);
	free(at);
	json_decref(rounds);
	json_decref(doc);
	return (ret);
}
