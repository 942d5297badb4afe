/*
 * test_ctl_sched.c: the scheduler's decisions with an injected clock.
 *
 * First sched_plan() (controller/scheduler_plan.c), a pure function of a
 * schedule, its state and "now": what is due, what was missed (late or
 * coalesced after an outage), the overlap policies, maintenance windows
 * (wait, skip, the window's end), a pending run, a disabled schedule, a
 * manual run; the splay and max_parallel arithmetic.
 *
 * Then the scheduler itself (controller/scheduler.c) over a real store
 * and registry, ticked at chosen instants: a run fires once with its job
 * (max_parallel, not_before from the splay), ticks at the same instant
 * and a restart (store closed and reopened, a new scheduler) neither lose
 * nor double it, an outage coalesces, overlap skip/queue/replace, a
 * window that makes a run wait and then fire with the window's end, and
 * schedule.fire.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <sqlite3.h>

#include "ctld.h"
#include "log.h"
#include "scheduler.h"
#include "testutil.h"
#include "tu_store.h"

/* 2026-01-02T00:00:00Z, a Friday. */
#define FRI   INT64_C(1767312000000)
#define MIN   INT64_C(60000)
#define HOUR  (60 * MIN)
#define SAT01 (FRI + 25 * HOUR) /* Saturday 01:00Z */
#define SAT05 (FRI + 29 * HOUR)

static const struct store_actor admin = {"alice", "admin"};

/* ------------------------------------------------------------------------ */
/* sched_plan */

struct pl {
	struct store_schedule s;
	struct vsm_cron       cron;
	struct vsm_window     win;
	struct sched_input    in;
	struct sched_plan     p;
};

/* A schedule on cron expr in UTC, next due at next_due. */
static void
pl_init(struct pl *x, const char *expr, int64_t next_due)
{
	struct vsm_err err;

	memset(x, 0, sizeof(*x));
	snprintf(x->s.name, sizeof(x->s.name), "s");
	snprintf(x->s.cron, sizeof(x->s.cron), "%s", expr);
	snprintf(x->s.tz, sizeof(x->s.tz), "UTC");
	x->s.enabled = 1;
	x->s.starting_deadline_ms = HOUR;
	x->s.next_due = next_due;
	if (vsm_cron_parse(expr, &x->cron, &err) == -1)
		fail_msg("%s: %s", expr, err.msg);
	x->in.s = &x->s;
	x->in.cron = &x->cron;
}

static void
pl_window(struct pl *x, const char *text, enum store_window_policy pol)
{
	struct vsm_err err;

	if (vsm_window_parse(text, &x->win, &err) == -1)
		fail_msg("%s: %s", text, err.msg);
	snprintf(x->s.window, sizeof(x->s.window), "%s", text);
	x->s.window_policy = pol;
	x->in.win = &x->win;
}

static void
pl_run(struct pl *x, int64_t now)
{
	struct vsm_err err;

	x->in.now = now;
	if (sched_plan(&x->in, &x->p, &err) == -1)
		fail_msg("plan: %s", err.msg);
}

static void
plan_fires_what_is_due_and_nothing_early(void **state)
{
	struct pl x;

	(void)state;
	pl_init(&x, "*/5 * * * *", FRI + 5 * MIN);
	pl_run(&x, FRI + 5 * MIN - 1);
	assert_int_equal(x.p.nd, 0);
	assert_int_equal(x.p.next_due, FRI + 5 * MIN);
	pl_run(&x, FRI + 5 * MIN + 800);
	assert_int_equal(x.p.nd, 1);
	assert_int_equal(x.p.d[0].act, SCHED_FIRE);
	assert_int_equal(x.p.d[0].due, FRI + 5 * MIN);
	assert_int_equal(x.p.d[0].next_due, FRI + 10 * MIN);
	assert_int_equal(x.p.nmissed_total, 0);
	/* A new schedule (next_due 0) starts from now, firing nothing. */
	x.s.next_due = 0;
	pl_run(&x, FRI + 7 * MIN);
	assert_int_equal(x.p.nd, 0);
	assert_int_equal(x.p.next_due, FRI + 10 * MIN);
	/* Disabled: nothing at all. */
	x.s.next_due = FRI;
	x.s.enabled = 0;
	pl_run(&x, FRI + HOUR);
	assert_int_equal(x.p.nd, 0);
	assert_int_equal(x.p.nmissed_total, 0);
}

static void
plan_after_an_outage_fires_once_and_records_the_rest(void **state)
{
	struct pl x;
	size_t    i, late = 0, coalesced = 0;

	(void)state;
	/* Down from FRI to FRI+3h; every 5 minutes; deadline 1h. */
	pl_init(&x, "*/5 * * * *", FRI);
	pl_run(&x, FRI + 3 * HOUR + 1000);
	/* 37 instants: 25 over an hour late, 11 within it coalesced. */
	assert_int_equal(x.p.nmissed_total, 36);
	for (i = 0; i < x.p.nmissed; i++) {
		late += strcmp(x.p.missed[i].reason, "late") == 0;
		coalesced += strcmp(x.p.missed[i].reason, "coalesced") == 0;
	}
	assert_int_equal(late, 25);
	assert_int_equal(coalesced, 11);
	/* The latest within the deadline runs, once. */
	assert_int_equal(x.p.nd, 1);
	assert_int_equal(x.p.d[0].act, SCHED_FIRE);
	assert_int_equal(x.p.d[0].due, FRI + 3 * HOUR);
	/* The missed rows keep next_due; the run moves it on. */
	assert_int_equal(x.p.missed_next, FRI);
	assert_int_equal(x.p.d[0].next_due, FRI + 3 * HOUR + 5 * MIN);

	/* All older than the deadline: recorded, nothing runs. */
	pl_init(&x, "*/5 * * * *", FRI);
	x.s.starting_deadline_ms = 1000;
	pl_run(&x, FRI + 12 * MIN);
	assert_int_equal(x.p.nd, 0);
	assert_int_equal(x.p.nmissed_total, 3);
	assert_int_equal(x.p.missed_next, FRI + 15 * MIN);

	/* A week of minutes: capped rows, counted, still one run. */
	pl_init(&x, "* * * * *", FRI);
	pl_run(&x, FRI + 7 * 24 * HOUR);
	assert_int_equal(x.p.nmissed, SCHED_MISSED_MAX);
	assert_int_equal(x.p.nmissed_total, 7 * 24 * 60);
	assert_int_equal(x.p.nd, 1);
	assert_int_equal(x.p.d[0].due, FRI + 7 * 24 * HOUR);
}

static void
plan_overlap_policies(void **state)
{
	static const struct {
		enum store_overlap o;
		enum sched_act     act;
		int                pending;
	} cases[] = {
	    {STORE_OVERLAP_SKIP, SCHED_SKIP_OVERLAP, 0},
	    {STORE_OVERLAP_QUEUE, SCHED_QUEUE, 1},
	    {STORE_OVERLAP_REPLACE, SCHED_REPLACE, 0},
	    {STORE_OVERLAP_ALLOW, SCHED_FIRE, 0},
	};
	struct pl x;
	size_t    i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pl_init(&x, "0 * * * *", FRI + HOUR);
		x.s.overlap = cases[i].o;
		x.in.job_active = 1;
		pl_run(&x, FRI + HOUR + 10);
		assert_int_equal(x.p.nd, 1);
		assert_int_equal(x.p.d[0].act, cases[i].act);
		assert_int_equal(
		    x.p.pending_due, cases[i].pending ? FRI + HOUR : 0);
		assert_int_equal(
		    x.p.d[0].pending_due, cases[i].pending ? FRI + HOUR : 0);
		assert_int_equal(sched_act_outcome(cases[i].act),
		    cases[i].act == SCHED_QUEUE              ? STORE_RUN_QUEUED
		        : cases[i].act == SCHED_SKIP_OVERLAP ? STORE_RUN_SKIPPED
		                                             : STORE_RUN_FIRED);
	}
}

static void
plan_a_queued_run_waits_then_fires_and_newer_ones_are_skipped(void **state)
{
	struct pl x;

	(void)state;
	pl_init(&x, "0 * * * *", FRI + 2 * HOUR);
	x.s.overlap = STORE_OVERLAP_QUEUE;
	x.s.pending_due = FRI + HOUR;
	/* The last run still going: the queued one keeps waiting. */
	x.in.job_active = 1;
	pl_run(&x, FRI + HOUR + 30 * MIN);
	assert_int_equal(x.p.nd, 0);
	assert_int_equal(x.p.pending_due, FRI + HOUR);
	/* A newer due meanwhile is skipped: one run waits at most. */
	pl_run(&x, FRI + 2 * HOUR + 5);
	assert_int_equal(x.p.nd, 1);
	assert_int_equal(x.p.d[0].act, SCHED_SKIP_PENDING);
	assert_int_equal(x.p.d[0].due, FRI + 2 * HOUR);
	assert_int_equal(x.p.pending_due, FRI + HOUR);
	/* The last run ended: the queued one fires (its row is updated). */
	x.in.job_active = 0;
	pl_run(&x, FRI + HOUR + 40 * MIN);
	assert_int_equal(x.p.nd, 1);
	assert_int_equal(x.p.d[0].act, SCHED_FIRE);
	assert_int_equal(x.p.d[0].due, FRI + HOUR);
	assert_true(x.p.d[0].pending);
	assert_int_equal(x.p.d[0].pending_due, 0);
	/* ... and a due in the same tick meets it as the last run. */
	pl_run(&x, FRI + 2 * HOUR + 5);
	assert_int_equal(x.p.nd, 2);
	assert_int_equal(x.p.d[0].act, SCHED_FIRE);
	assert_int_equal(x.p.d[0].next_due, FRI + 2 * HOUR); /* not yet */
	assert_int_equal(x.p.d[1].act, SCHED_QUEUE);
	assert_int_equal(x.p.d[1].next_due, FRI + 3 * HOUR);
	assert_int_equal(x.p.pending_due, FRI + 2 * HOUR);
}

static void
plan_windows_wait_or_skip_and_fire_with_the_end(void **state)
{
	struct pl x;

	(void)state;
	/* Daily at midnight; the window is Saturday 01:00-05:00 UTC. */
	pl_init(&x, "0 0 * * *", FRI);
	pl_window(&x, "Sat 01:00-05:00", STORE_WINDOW_WAIT);
	pl_run(&x, FRI + 1000);
	assert_int_equal(x.p.nd, 1);
	assert_int_equal(x.p.d[0].act, SCHED_WAIT);
	assert_int_equal(x.p.pending_due, FRI);
	assert_int_equal(sched_act_outcome(SCHED_WAIT), STORE_RUN_WAITING);
	/* Still closed: keeps waiting, nothing recorded. */
	x.s.pending_due = FRI;
	x.s.next_due = FRI + 24 * HOUR;
	pl_run(&x, FRI + 12 * HOUR);
	assert_int_equal(x.p.nd, 0);
	/* It opens: the waiting run fires, with the instant it closes. */
	x.s.next_due = FRI + 48 * HOUR; /* Saturday's due went by */
	pl_run(&x, SAT01 + 1000);
	assert_int_equal(x.p.nd, 1);
	assert_int_equal(x.p.d[0].act, SCHED_FIRE);
	assert_int_equal(x.p.d[0].due, FRI);
	assert_int_equal(x.p.d[0].window_end, SAT05);
	/* window_policy skip: outside, the run is skipped. */
	pl_init(&x, "0 0 * * *", FRI);
	pl_window(&x, "Sat 01:00-05:00", STORE_WINDOW_SKIP);
	pl_run(&x, FRI + 1000);
	assert_int_equal(x.p.nd, 1);
	assert_int_equal(x.p.d[0].act, SCHED_SKIP_WINDOW);
	assert_int_equal(x.p.pending_due, 0);
	/* Inside, it fires with the end. */
	pl_init(&x, "30 1 * * *", SAT01 + 30 * MIN);
	pl_window(&x, "Sat 01:00-05:00", STORE_WINDOW_SKIP);
	pl_run(&x, SAT01 + 30 * MIN + 10);
	assert_int_equal(x.p.d[0].act, SCHED_FIRE);
	assert_int_equal(x.p.d[0].window_end, SAT05);
}

static void
plan_manual_runs_follow_the_same_policies(void **state)
{
	struct pl x;

	(void)state;
	pl_init(&x, "0 0 1 1 *", FRI + 300 * 24 * HOUR);
	x.in.fire_now = FRI + 123;
	pl_run(&x, FRI + 123);
	assert_int_equal(x.p.nd, 1);
	assert_int_equal(x.p.d[0].act, SCHED_FIRE);
	assert_true(x.p.d[0].manual);
	assert_int_equal(x.p.d[0].due, FRI + 123);
	assert_int_equal(x.p.next_due, FRI + 300 * 24 * HOUR);
	x.in.job_active = 1;
	pl_run(&x, FRI + 123);
	assert_int_equal(x.p.d[0].act, SCHED_SKIP_OVERLAP);
}

static void
splay_and_max_parallel_arithmetic(void **state)
{
	struct store_schedule s;
	struct vsm_err        err;
	int64_t               h, o, first = sched_splay("a", 1, 60000);
	int                   n, pct, differ = 0;

	(void)state;
	assert_int_equal(sched_splay("a", 1, 0), 0);
	for (h = 1; h <= 200; h++) {
		o = sched_splay("nightly", h, 60000);
		assert_true(o >= 0 && o < 60000);
		assert_int_equal(o, sched_splay("nightly", h, 60000));
		differ += o != sched_splay("nightly", 1, 60000);
	}
	assert_true(differ > 150); /* spread, not one second for all */
	assert_int_equal(first, sched_splay("a", 1, 60000));
	assert_true(sched_splay("a", 1, 60000) != sched_splay("b", 1, 60000));
	memset(&s, 0, sizeof(s));
	s.max_parallel = 25;
	s.max_parallel_pct = 1;
	assert_int_equal(sched_max_parallel(&s, 10), 3); /* rounded up */
	assert_int_equal(sched_max_parallel(&s, 1), 1);
	assert_int_equal(sched_max_parallel(&s, 100), 25);
	s.max_parallel_pct = 0;
	s.max_parallel = 2;
	assert_int_equal(sched_max_parallel(&s, 100), 2);
	assert_int_equal(sched_parse_max_parallel("25%", &n, &pct, &err), 0);
	assert_true(n == 25 && pct == 1);
	assert_int_equal(sched_parse_max_parallel("7", &n, &pct, &err), 0);
	assert_true(n == 7 && pct == 0);
	assert_int_equal(sched_parse_max_parallel("0%", &n, &pct, &err), -1);
	assert_int_equal(sched_parse_max_parallel("101%", &n, &pct, &err), -1);
	assert_int_equal(
	    sched_parse_max_parallel("100001", &n, &pct, &err), -1);
	assert_int_equal(sched_parse_max_parallel("-1", &n, &pct, &err), -1);
	assert_int_equal(sched_parse_max_parallel("3x", &n, &pct, &err), -1);
	assert_int_equal(sched_parse_max_parallel("", &n, &pct, &err), -1);
}

/* ------------------------------------------------------------------------ */
/* The scheduler over a real store */

struct fx {
	char                         dir[64];
	char                         path[128];
	struct vsm_controller_config cfg;
	struct ctld                  cd;
	struct scheduler            *sc;
	int64_t                      now;
	int64_t                      hosts[3];
};

static int64_t
fx_clock(void *arg)
{
	return (((struct fx *)arg)->now);
}

/* The daemon's clocks (main.c), here the test's instant. */
static int64_t test_now = FRI;

int64_t
ctld_now(void)
{
	return (test_now);
}

int64_t
ctld_mono(void)
{
	return (test_now);
}

static int
setup(void **state)
{
	struct fx     *f;
	struct vsm_err err = {""};

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return (-1);
	if (tu_mkdtemp(f->dir, sizeof(f->dir), "sched") == -1)
		return (-1);
	snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
	f->cfg.agent_concurrency = 2;
	f->cd.cfg = &f->cfg;
	if (store_open(f->path, &f->cd.st, &err) == -1 ||
	    registry_new(&f->cd, &f->cd.reg) == -1 ||
	    scheduler_new(&f->cd, fx_clock, f, &f->sc) == -1) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return (-1);
	}
	f->cd.sched = f->sc;
	f->hosts[0] = tu_store_host(f->cd.st, "db-1", FRI);
	f->hosts[1] = tu_store_host(f->cd.st, "db-2", FRI);
	f->hosts[2] = tu_store_host(f->cd.st, "db-3", FRI);
	*state = f;
	return (0);
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char       p[160];

	scheduler_free(f->sc);
	registry_free(f->cd.reg);
	store_close(f->cd.st);
	unlink(f->path);
	snprintf(p, sizeof(p), "%s-wal", f->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->path);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return (0);
}

/* Add an api schedule (UTC) on every host, due first at next_due. */
static void
add_sched(struct fx *f, const char *name, const char *cron,
    enum store_overlap overlap, int64_t next_due, struct store_schedule *s)
{
	(void)f;
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->module, sizeof(s->module), "sys.ping");
	s->target = (char *)"all";
	snprintf(s->cron, sizeof(s->cron), "%s", cron);
	snprintf(s->tz, sizeof(s->tz), "UTC");
	s->overlap = overlap;
	s->timeout_ms = MIN;
	s->starting_deadline_ms = HOUR;
	s->enabled = 1;
	s->next_due = next_due;
}

static void
add(struct fx *f, const struct store_schedule *s)
{
	struct vsm_err err = {""};

	if (store_sched_add(f->cd.st, &admin, s, f->now, &err) != 0)
		fail_msg("add %s: %s", s->name, err.msg);
}

static void
tick(struct fx *f, int64_t now)
{
	f->now = test_now = now;
	scheduler_tick(f->sc, now);
}

/* The runs of a schedule, latest first (caller frees). */
static struct store_sched_run *
runs(struct fx *f, const char *name, size_t *n)
{
	struct store_sched_run *rv = NULL;
	struct vsm_err          err = {""};

	if (store_sched_runs(f->cd.st, name, 100, &rv, n, &err) != 0)
		fail_msg("runs: %s", err.msg);
	return (rv);
}

/* How many runs of name came to outcome (with reason, when not NULL). */
static size_t
count_runs(struct fx *f, const char *name, enum store_run_outcome o,
    const char *reason)
{
	struct store_sched_run *rv;
	size_t                  i, n, c = 0;

	rv = runs(f, name, &n);
	for (i = 0; i < n; i++)
		c += rv[i].outcome == o &&
		    (reason == NULL || strcmp(rv[i].reason, reason) == 0);
	free(rv);
	return (c);
}

static size_t
count_jobs(struct fx *f, const char *sched)
{
	struct store_job *jv = NULL;
	struct vsm_err    err = {""};
	size_t            i, n = 0, c = 0;

	if (store_job_list(f->cd.st, 0, &jv, &n, &err) != 0)
		fail_msg("jobs: %s", err.msg);
	for (i = 0; i < n; i++)
		c += strcmp(jv[i].schedule, sched) == 0;
	store_jobs_free(jv, n);
	return (c);
}

static void
restart(struct fx *f)
{
	struct vsm_err err = {""};

	scheduler_free(f->sc);
	registry_free(f->cd.reg);
	store_close(f->cd.st);
	if (store_open(f->path, &f->cd.st, &err) == -1 ||
	    registry_new(&f->cd, &f->cd.reg) == -1 ||
	    scheduler_new(&f->cd, fx_clock, f, &f->sc) == -1)
		fail_msg("restart: %s", err.msg);
	f->cd.sched = f->sc;
}

static void
a_run_fires_once_across_ticks_and_restarts(void **state)
{
	struct fx            *f = *state;
	struct store_schedule s, got;
	struct store_task    *tv = NULL;
	struct store_job      j;
	struct vsm_err        err = {""};
	size_t                n = 0, i;

	add_sched(f, "ping", "* * * * *", STORE_OVERLAP_ALLOW, FRI + MIN, &s);
	s.max_parallel = 1;
	s.splay_ms = 30000;
	f->now = FRI;
	add(f, &s);
	tick(f, FRI + MIN - 1);
	assert_int_equal(count_jobs(f, "ping"), 0);
	tick(f, FRI + MIN + 500);
	assert_int_equal(count_jobs(f, "ping"), 1);
	tick(f, FRI + MIN + 700);
	assert_int_equal(count_jobs(f, "ping"), 1);
	/* The job: max_parallel, every host, each not before its splay. */
	assert_int_equal(store_sched_get(f->cd.st, "ping", &got, &err), 0);
	assert_int_equal(got.next_due, FRI + 2 * MIN);
	assert_int_equal(store_job_get(f->cd.st, got.last_job, &j, &err), 0);
	assert_int_equal(j.max_parallel, 1);
	assert_string_equal(j.schedule, "ping");
	assert_string_equal(j.created_by, "scheduler");
	assert_int_equal(store_task_list(f->cd.st, j.id, &tv, &n, &err), 0);
	assert_int_equal(n, 3);
	for (i = 0; i < n; i++) {
		assert_true(tv[i].not_before >= FRI + MIN + 500);
		assert_true(tv[i].not_before < FRI + MIN + 500 + 30000);
		assert_int_equal(tv[i].not_before - (FRI + MIN + 500),
		    sched_splay("ping", tv[i].host_id, 30000));
	}
	store_tasks_free(tv, n);
	store_job_clear(&j);
	store_schedule_clear(&got);
	/* A restart at the same instant: nothing twice. */
	restart(f);
	tick(f, FRI + MIN + 900);
	assert_int_equal(count_jobs(f, "ping"), 1);
	assert_int_equal(count_runs(f, "ping", STORE_RUN_FIRED, NULL), 1);
	/* Down for four minutes: the latest due fires, the rest coalesce. */
	restart(f);
	tick(f, FRI + 5 * MIN + 1000);
	assert_int_equal(count_jobs(f, "ping"), 2);
	assert_int_equal(count_runs(f, "ping", STORE_RUN_FIRED, NULL), 2);
	assert_int_equal(
	    count_runs(f, "ping", STORE_RUN_MISSED, "coalesced"), 3);
	tick(f, FRI + 5 * MIN + 2000);
	assert_int_equal(count_jobs(f, "ping"), 2);
	/* Down two hours: the first hour late, the latest due fires. */
	restart(f);
	tick(f, FRI + 5 * MIN + 2 * HOUR);
	assert_int_equal(count_jobs(f, "ping"), 3);
	assert_true(count_runs(f, "ping", STORE_RUN_MISSED, "late") > 0);
}

static void
overlap_skip_queue_replace_with_a_job_still_going(void **state)
{
	struct fx            *f = *state;
	struct store_schedule s, got;
	struct store_job      j;
	struct vsm_err        err = {""};
	char                  first_replace[STORE_ID_LEN + 1];
	size_t                n;

	f->now = FRI;
	add_sched(f, "skip", "0 * * * *", STORE_OVERLAP_SKIP, FRI + HOUR, &s);
	add(f, &s);
	add_sched(f, "queue", "0 * * * *", STORE_OVERLAP_QUEUE, FRI + HOUR, &s);
	add(f, &s);
	add_sched(
	    f, "replace", "0 * * * *", STORE_OVERLAP_REPLACE, FRI + HOUR, &s);
	add(f, &s);
	tick(f, FRI + HOUR + 100);
	assert_int_equal(count_jobs(f, "skip"), 1);
	assert_int_equal(count_jobs(f, "queue"), 1);
	assert_int_equal(count_jobs(f, "replace"), 1);
	assert_int_equal(store_sched_get(f->cd.st, "replace", &got, &err), 0);
	memcpy(first_replace, got.last_job, sizeof(first_replace));
	store_schedule_clear(&got);
	/* Nobody ran the tasks: the next hour meets them unfinished. */
	tick(f, FRI + 2 * HOUR + 100);
	assert_int_equal(count_jobs(f, "skip"), 1);
	assert_int_equal(
	    count_runs(f, "skip", STORE_RUN_SKIPPED, "overlap"), 1);
	assert_int_equal(count_jobs(f, "queue"), 1);
	assert_int_equal(
	    count_runs(f, "queue", STORE_RUN_QUEUED, "overlap"), 1);
	assert_int_equal(count_jobs(f, "replace"), 2);
	assert_int_equal(count_runs(f, "replace", STORE_RUN_REPLACED, NULL), 1);
	assert_int_equal(store_job_get(f->cd.st, first_replace, &j, &err), 0);
	assert_int_equal(j.nstate[STORE_TASK_CANCELLED], 3);
	store_job_clear(&j);
	/* The queue schedule's job ends: its queued run fires, once. */
	assert_int_equal(store_sched_get(f->cd.st, "queue", &got, &err), 0);
	assert_int_equal(got.pending_due, FRI + 2 * HOUR);
	assert_int_equal(store_job_cancel(f->cd.st, &admin, got.last_job,
	                     FRI + 2 * HOUR, &n, &err),
	    0);
	store_schedule_clear(&got);
	tick(f, FRI + 2 * HOUR + 2000);
	assert_int_equal(count_jobs(f, "queue"), 2);
	assert_int_equal(count_runs(f, "queue", STORE_RUN_QUEUED, NULL), 0);
	assert_int_equal(count_runs(f, "queue", STORE_RUN_FIRED, NULL), 2);
	tick(f, FRI + 2 * HOUR + 3000);
	assert_int_equal(count_jobs(f, "queue"), 2);
	assert_int_equal(store_sched_get(f->cd.st, "queue", &got, &err), 0);
	assert_int_equal(got.pending_due, 0);
	store_schedule_clear(&got);
}

static void
a_window_makes_a_run_wait_then_fire_with_its_end(void **state)
{
	struct fx            *f = *state;
	struct store_schedule s, got;
	struct store_job      j;
	struct vsm_err        err = {""};

	f->now = FRI - MIN;
	add_sched(f, "full", "0 0 * * *", STORE_OVERLAP_SKIP, FRI, &s);
	snprintf(s.window, sizeof(s.window), "Sat 01:00-05:00");
	add(f, &s);
	add_sched(f, "skipper", "0 0 * * *", STORE_OVERLAP_SKIP, FRI, &s);
	snprintf(s.window, sizeof(s.window), "Sat 01:00-05:00");
	s.window_policy = STORE_WINDOW_SKIP;
	add(f, &s);
	tick(f, FRI + 1000);
	assert_int_equal(count_runs(f, "full", STORE_RUN_WAITING, "window"), 1);
	assert_int_equal(
	    count_runs(f, "skipper", STORE_RUN_SKIPPED, "window"), 1);
	assert_int_equal(count_jobs(f, "full") + count_jobs(f, "skipper"), 0);
	/* Saturday's own due, before the window: skipped, one waits. */
	tick(f, FRI + 24 * HOUR + 1000);
	assert_int_equal(
	    count_runs(f, "full", STORE_RUN_SKIPPED, "pending"), 1);
	/* The window opens: the waiting run fires, knowing when it closes. */
	tick(f, SAT01 + 1500);
	assert_int_equal(count_jobs(f, "full"), 1);
	assert_int_equal(count_runs(f, "full", STORE_RUN_FIRED, "window"), 0);
	assert_int_equal(count_runs(f, "full", STORE_RUN_FIRED, NULL), 1);
	assert_int_equal(store_sched_get(f->cd.st, "full", &got, &err), 0);
	assert_int_equal(got.pending_due, 0);
	assert_int_equal(store_job_get(f->cd.st, got.last_job, &j, &err), 0);
	assert_int_equal(j.window_end, SAT05);
	store_job_clear(&j);
	store_schedule_clear(&got);
	assert_int_equal(count_jobs(f, "skipper"), 0);
}

static void
fire_makes_a_run_due_now(void **state)
{
	struct fx            *f = *state;
	struct store_schedule s;
	struct sched_result   res;
	struct store_job      j;
	struct vsm_err        err = {""};

	f->now = FRI;
	add_sched(f, "yearly", "0 0 1 1 *", STORE_OVERLAP_SKIP,
	    FRI + 300 * 24 * HOUR, &s);
	add(f, &s);
	f->now = FRI + 1234;
	assert_int_equal(
	    scheduler_fire(f->sc, &admin, "yearly", &res, &err), 0);
	assert_int_equal(res.outcome, STORE_RUN_FIRED);
	assert_int_equal(res.due, FRI + 1234);
	assert_int_equal(res.ntasks, 3);
	assert_int_equal(store_job_get(f->cd.st, res.job_id, &j, &err), 0);
	assert_string_equal(j.created_by, "alice");
	store_job_clear(&j);
	/* Its job is still going: overlap skip says no. */
	f->now = FRI + 2000;
	assert_int_equal(
	    scheduler_fire(f->sc, &admin, "yearly", &res, &err), 0);
	assert_int_equal(res.outcome, STORE_RUN_SKIPPED);
	assert_string_equal(res.reason, "overlap");
	assert_int_equal(count_jobs(f, "yearly"), 1);
	assert_int_equal(
	    scheduler_fire(f->sc, &admin, "nope", &res, &err), STORE_NOTFOUND);
	/* A disabled schedule is not fired. */
	assert_int_equal(
	    store_sched_enable(f->cd.st, &admin, "yearly", 0, 0, f->now, &err),
	    0);
	assert_int_equal(
	    scheduler_fire(f->sc, &admin, "yearly", &res, &err), -1);
	assert_non_null(strstr(err.msg, "disabled"));
}

/* Run sql on the store's file over a second connection. */
static void
raw_sql(struct fx *f, const char *sql)
{
	sqlite3 *db = NULL;
	char    *msg = NULL;

	if (sqlite3_open(f->path, &db) != SQLITE_OK ||
	    sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg != NULL ? msg : sqlite3_errmsg(db));
	sqlite3_close(db);
}

static void
a_store_error_finding_hosts_records_nothing_and_fires_later(void **state)
{
	struct fx            *f = *state;
	struct store_schedule s;

	add_sched(f, "ping", "* * * * *", STORE_OVERLAP_ALLOW, FRI + MIN, &s);
	f->now = FRI;
	add(f, &s);
	/* The hosts cannot be read: a store error, not "no host". */
	raw_sql(f, "ALTER TABLE agent_keys RENAME TO agent_keys_gone");
	tick(f, FRI + MIN + 500);
	assert_int_equal(count_jobs(f, "ping"), 0);
	assert_int_equal(count_runs(f, "ping", STORE_RUN_FAILED, NULL), 0);
	/* The store is back: the same due instant fires at the next tick. */
	raw_sql(f, "ALTER TABLE agent_keys_gone RENAME TO agent_keys");
	tick(f, FRI + MIN + 1500);
	assert_int_equal(count_jobs(f, "ping"), 1);
	assert_int_equal(count_runs(f, "ping", STORE_RUN_FIRED, NULL), 1);
	assert_int_equal(count_runs(f, "ping", STORE_RUN_FAILED, NULL), 0);
}

static void
a_run_past_its_run_timeout_is_cancelled_between_dues(void **state)
{
	struct fx            *f = *state;
	struct store_schedule s, got;
	struct store_job      j;
	struct vsm_err        err = {""};

	add_sched(
	    f, "hourly", "0 * * * *", STORE_OVERLAP_ALLOW, FRI + HOUR, &s);
	s.run_timeout_ms = 10 * MIN;
	f->now = FRI;
	add(f, &s);
	tick(f, FRI + HOUR + 500);
	assert_int_equal(count_jobs(f, "hourly"), 1);
	assert_int_equal(store_sched_get(f->cd.st, "hourly", &got, &err), 0);
	assert_int_equal(got.next_due, FRI + 2 * HOUR);
	/* Nothing is due until the next hour; the job still may run. */
	tick(f, FRI + HOUR + 5 * MIN);
	assert_int_equal(store_job_get(f->cd.st, got.last_job, &j, &err), 0);
	assert_int_equal(j.nstate[STORE_TASK_QUEUED], 3);
	store_job_clear(&j);
	/* Past run_timeout, still before the next due: cancelled. */
	tick(f, FRI + HOUR + 11 * MIN);
	assert_int_equal(store_job_get(f->cd.st, got.last_job, &j, &err), 0);
	assert_int_equal(j.nstate[STORE_TASK_QUEUED], 0);
	assert_int_equal(j.nstate[STORE_TASK_CANCELLED], 3);
	store_job_clear(&j);
	tick(f, FRI + HOUR + 12 * MIN);
	assert_int_equal(count_jobs(f, "hourly"), 1);
	store_schedule_clear(&got);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(plan_fires_what_is_due_and_nothing_early),
	    cmocka_unit_test(
	        plan_after_an_outage_fires_once_and_records_the_rest),
	    cmocka_unit_test(plan_overlap_policies),
	    cmocka_unit_test(
	        plan_a_queued_run_waits_then_fires_and_newer_ones_are_skipped),
	    cmocka_unit_test(plan_windows_wait_or_skip_and_fire_with_the_end),
	    cmocka_unit_test(plan_manual_runs_follow_the_same_policies),
	    cmocka_unit_test(splay_and_max_parallel_arithmetic),
	    cmocka_unit_test_setup_teardown(
	        a_run_fires_once_across_ticks_and_restarts, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        overlap_skip_queue_replace_with_a_job_still_going, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        a_window_makes_a_run_wait_then_fire_with_its_end, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        fire_makes_a_run_due_now, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        a_store_error_finding_hosts_records_nothing_and_fires_later,
	        setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        a_run_past_its_run_timeout_is_cancelled_between_dues, setup,
	        teardown),
	};

	vsm_log_init("test_ctl_sched", VSM_LOG_ERROR, 0);
	if (sodium_init() < 0)
		return (1);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
