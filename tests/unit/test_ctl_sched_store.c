/*
 * test_ctl_sched_store.c: what the store does for the scheduler
 * (controller/store.h, migration 3): claims that hold a task back until
 * its not_before and a job to max_parallel tasks in flight, on the
 * one-host and the batched path; the hosts to wake when either lets go;
 * schedules (add, remove, enable, config sync) and their runs, unique per
 * schedule and due instant and made in one transaction with their job,
 * across a close and reopen.
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

#include "store.h"
#include "tu_store.h"

#define NOW INT64_C(1700000000000)

static const struct store_actor admin = {"alice", "admin"};

static const struct store_actor sched = {"scheduler", "system"};

static void
reopen(struct tu_store *f)
{
	struct vsm_err err = {""};

	store_close(f->st);
	f->st = NULL;
	if (store_open(f->path, &f->st, &err) == -1)
		fail_msg("reopen: %s", err.msg);
}

/* SELECT count(*) ... on a connection of its own. */
static int64_t
raw_count(struct tu_store *f, const char *sql)
{
	sqlite3      *db = NULL;
	sqlite3_stmt *stmt;
	int64_t       v;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(
	    sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return (v);
}

static void
make_job(struct store *st, const int64_t *hosts, size_t n, int max_parallel,
    const int64_t *not_before, char id[STORE_ID_LEN + 1])
{
	struct vsm_err        err = {""};
	struct store_job_spec spec = {.module = "sys.ping",
	    .target = "all",
	    .timeout_ms = 60000,
	    .hosts = hosts,
	    .nhosts = n,
	    .max_parallel = max_parallel,
	    .not_before = not_before};

	if (store_job_create(st, &admin, &spec, NOW, id, &err) != 0)
		fail_msg("job: %s", err.msg);
}

/* Claim on the one-host path: how many tasks host got. */
static size_t
claim_one(struct store *st, int64_t host, int64_t now)
{
	struct vsm_err     err = {""};
	struct store_task *tv = NULL;
	size_t             n = 0;

	if (store_task_next(st, host, 8, 8, now, &tv, &n, &err) != 0)
		fail_msg("task_next: %s", err.msg);
	store_tasks_free(tv, n);
	return (n);
}

/* Claim on the batched path for hosts h[0..n); counts into got[]. */
static size_t
claim_many(struct store *st, const int64_t *h, size_t n, int64_t now,
    size_t *got, char task_ids[][STORE_ID_LEN + 1])
{
	struct vsm_err     err = {""};
	struct store_claim cv[16];
	size_t             i, total = 0;

	assert_true(n <= 16);
	memset(cv, 0, sizeof(cv));
	for (i = 0; i < n; i++) {
		cv[i].host_id = h[i];
		cv[i].max = 8;
	}
	if (store_task_next_many(st, cv, n, 8, now, &err) != 0)
		fail_msg("task_next_many: %s", err.msg);
	for (i = 0; i < n; i++) {
		assert_false(cv[i].failed);
		if (got != NULL)
			got[i] = cv[i].ntasks;
		if (task_ids != NULL && cv[i].ntasks > 0)
			memcpy(task_ids[total], cv[i].tasks[0].id,
			    STORE_ID_LEN + 1);
		total += cv[i].ntasks;
		store_tasks_free(cv[i].tasks, cv[i].ntasks);
	}
	return (total);
}

/* ------------------------------------------------------------------------ */
/* Claims */

static void
not_before_holds_a_task_back_on_both_paths(void **state)
{
	struct tu_store   *f = *state;
	struct store_task *tv = NULL;
	struct vsm_err     err = {""};
	int64_t            h[2], nb[2];
	char               job[STORE_ID_LEN + 1];
	size_t             got[2], n = 0;

	h[0] = tu_store_host(f->st, "db-1", NOW);
	h[1] = tu_store_host(f->st, "db-2", NOW);
	nb[0] = NOW + 10000;
	nb[1] = NOW + 20000;
	make_job(f->st, h, 2, 0, nb, job);
	/* Before either not_before: nothing, on either path. */
	assert_int_equal(claim_one(f->st, h[0], NOW), 0);
	assert_int_equal(claim_many(f->st, h, 2, NOW + 9999, got, NULL), 0);
	/* db-1's passes first. */
	assert_int_equal(claim_many(f->st, h, 2, NOW + 10000, got, NULL), 1);
	assert_int_equal(got[0], 1);
	assert_int_equal(got[1], 0);
	assert_int_equal(claim_one(f->st, h[1], NOW + 19999), 0);
	assert_int_equal(
	    store_task_next(f->st, h[1], 8, 8, NOW + 20000, &tv, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(tv[0].not_before, NOW + 20000);
	store_tasks_free(tv, n);
	/* A task without not_before goes at once, beside a held one. */
	nb[0] = 0;
	nb[1] = NOW + 60000;
	make_job(f->st, h, 2, 0, nb, job);
	assert_int_equal(claim_many(f->st, h, 2, NOW + 20000, got, NULL), 1);
	assert_int_equal(got[0], 1);
}

static void
max_parallel_caps_a_job_in_flight_on_both_paths(void **state)
{
	struct tu_store *f = *state;
	struct vsm_err   err = {""};
	int64_t          h[5];
	char             job[STORE_ID_LEN + 1], free_job[STORE_ID_LEN + 1];
	char             ids[16][STORE_ID_LEN + 1];
	size_t           got[5], i;

	for (i = 0; i < 5; i++) {
		char name[16];

		snprintf(name, sizeof(name), "db-%zu", i);
		h[i] = tu_store_host(f->st, name, NOW);
	}
	make_job(f->st, h, 5, 2, NULL, job);
	/* Five hosts claim in one batch: two get the job's tasks. */
	assert_int_equal(claim_many(f->st, h, 5, NOW, got, ids), 2);
	/* The others find nothing, one at a time or batched. */
	for (i = 0; i < 5; i++)
		if (got[i] == 0)
			assert_int_equal(claim_one(f->st, h[i], NOW), 0);
	assert_int_equal(claim_many(f->st, h, 5, NOW, NULL, NULL), 0);
	/* A job without the limit is not held by it. */
	make_job(f->st, h, 5, 0, NULL, free_job);
	assert_int_equal(claim_many(f->st, h, 5, NOW, NULL, NULL), 5);
	/* One of the two ends (acked, then ok): one more may go. */
	assert_int_equal(store_task_ack(f->st, 0, ids[0], NOW, &err), 0);
	assert_int_equal(
	    store_task_set_state(f->st, ids[0], STORE_TASK_OK, NOW, &err), 0);
	assert_int_equal(claim_many(f->st, h, 5, NOW, NULL, NULL), 1);
	assert_int_equal(claim_many(f->st, h, 5, NOW, NULL, NULL), 0);
	/* Sent but never acked counts as in flight too: still two. */
	assert_int_equal(raw_count(f,
	                     "SELECT count(*) FROM tasks t JOIN jobs j ON "
	                     "j.id = t.job_id WHERE j.max_parallel = 2 AND "
	                     "t.state IN ('sent', 'running')"),
	    2);
}

static void
wake_hosts_names_the_hosts_a_claim_would_now_serve(void **state)
{
	struct tu_store *f = *state;
	struct vsm_err   err = {""};
	int64_t          h[3], nb[3], *ids = NULL;
	char             job[STORE_ID_LEN + 1];
	size_t           n = 0;

	h[0] = tu_store_host(f->st, "a", NOW);
	h[1] = tu_store_host(f->st, "b", NOW);
	h[2] = tu_store_host(f->st, "c", NOW);
	nb[0] = NOW + 1000;
	nb[1] = NOW + 5000;
	nb[2] = 0;
	make_job(f->st, h, 3, 0, nb, job);
	/* Between NOW and NOW+1s only a's not_before passed. */
	assert_int_equal(
	    store_task_wake_hosts(f->st, NOW, NOW + 1000, 100, &ids, &n, &err),
	    0);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], h[0]);
	free(ids);
	/* Once passed and woken, not again. */
	assert_int_equal(store_task_wake_hosts(f->st, NOW + 1000, NOW + 2000,
	                     100, &ids, &n, &err),
	    0);
	assert_int_equal(n, 0);
	free(ids);
	/* A host that is down is not woken. */
	assert_int_equal(store_host_down(f->st, h[1], NOW, &err), 0);
	assert_int_equal(store_task_wake_hosts(f->st, NOW + 2000, NOW + 6000,
	                     100, &ids, &n, &err),
	    0);
	assert_int_equal(n, 0);
	free(ids);
	/* max_parallel 1 on three hosts: one host while it has room. */
	make_job(f->st, h, 3, 1, NULL, job);
	assert_int_equal(
	    store_task_wake_hosts(f->st, NOW, NOW, 100, &ids, &n, &err), 0);
	assert_int_equal(n, 1);
	free(ids);
	/* c's first task (no not_before) and one of the limited job. */
	assert_int_equal(claim_many(f->st, h, 3, NOW, NULL, NULL), 2);
	assert_int_equal(
	    store_task_wake_hosts(f->st, NOW, NOW, 100, &ids, &n, &err), 0);
	assert_int_equal(n, 0); /* no room */
	free(ids);
}

/* ------------------------------------------------------------------------ */
/* Schedules */

static void
sched_fill(struct store_schedule *s, const char *name)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->module, sizeof(s->module), "sys.ping");
	s->params = (char *)"{\"count\":\"1\"}";
	s->target = (char *)"all";
	snprintf(s->cron, sizeof(s->cron), "* * * * *");
	s->timeout_ms = 60000;
	s->starting_deadline_ms = 3600000;
	s->enabled = 1;
	s->next_due = NOW + 60000;
}

static void
schedule_add_get_list_remove(void **state)
{
	struct tu_store      *f = *state;
	struct vsm_err        err = {""};
	struct store_schedule s, got, *v = NULL;
	size_t                n = 0;

	sched_fill(&s, "ping");
	s.overlap = STORE_OVERLAP_REPLACE;
	s.window_policy = STORE_WINDOW_SKIP;
	snprintf(s.window, sizeof(s.window), "Sat 01:00-05:00");
	s.max_parallel = 25;
	s.max_parallel_pct = 1;
	s.splay_ms = 30000;
	assert_int_equal(store_sched_add(f->st, &admin, &s, NOW, &err), 0);
	/* The name is taken. */
	assert_int_equal(store_sched_add(f->st, &admin, &s, NOW, &err), -1);
	assert_non_null(strstr(err.msg, "exists"));
	assert_int_equal(store_sched_get(f->st, "ping", &got, &err), 0);
	assert_int_equal(got.source, STORE_SCHED_API);
	assert_int_equal(got.overlap, STORE_OVERLAP_REPLACE);
	assert_int_equal(got.window_policy, STORE_WINDOW_SKIP);
	assert_string_equal(got.window, "Sat 01:00-05:00");
	assert_int_equal(got.max_parallel, 25);
	assert_int_equal(got.max_parallel_pct, 1);
	assert_int_equal(got.splay_ms, 30000);
	assert_int_equal(got.next_due, NOW + 60000);
	assert_string_equal(got.params, "{\"count\":\"1\"}");
	assert_string_equal(got.created_by, "alice");
	store_schedule_clear(&got);
	assert_int_equal(
	    store_sched_get(f->st, "nope", &got, &err), STORE_NOTFOUND);
	assert_int_equal(store_sched_list(f->st, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	store_schedules_free(v, n);
	/* Out of range is refused before the backend. */
	s.max_parallel = 101;
	assert_int_equal(store_sched_add(f->st, &admin, &s, NOW, &err), -1);
	assert_non_null(strstr(err.msg, "max_parallel 101%"));
	s.max_parallel_pct = 0;
	s.max_parallel = STORE_FANOUT_MAX + 1;
	assert_int_equal(store_sched_add(f->st, &admin, &s, NOW, &err), -1);
	assert_int_equal(
	    store_sched_remove(f->st, &admin, "ping", NOW, &err), 0);
	assert_int_equal(store_sched_remove(f->st, &admin, "ping", NOW, &err),
	    STORE_NOTFOUND);
	assert_int_equal(raw_count(f,
	                     "SELECT count(*) FROM audit WHERE action IN "
	                     "('schedule.add', 'schedule.remove')"),
	    2);
}

static void
runs_are_unique_per_due_instant_and_made_with_their_job(void **state)
{
	struct tu_store        *f = *state;
	struct vsm_err          err = {""};
	struct store_schedule   s, got;
	struct store_sched_step st;
	struct store_sched_run *rv = NULL;
	struct store_job_spec   spec;
	struct store_missed     m[2] = {{NOW, "late"}, {NOW + 60000, "late"}};
	int64_t                 h[2];
	char                    job[STORE_ID_LEN + 1], job2[STORE_ID_LEN + 1];
	size_t                  n = 0;

	h[0] = tu_store_host(f->st, "db-1", NOW);
	h[1] = tu_store_host(f->st, "db-2", NOW);
	sched_fill(&s, "ping");
	assert_int_equal(store_sched_add(f->st, &admin, &s, NOW, &err), 0);
	memset(&spec, 0, sizeof(spec));
	spec.module = "sys.ping";
	spec.target = "all";
	spec.timeout_ms = 60000;
	spec.hosts = h;
	spec.nhosts = 2;
	spec.max_parallel = 1;
	spec.schedule = "ping";
	memset(&st, 0, sizeof(st));
	st.schedule = "ping";
	st.due_at = NOW + 120000;
	st.outcome = STORE_RUN_FIRED;
	st.job = &spec;
	st.next_due = NOW + 180000;
	assert_int_equal(
	    store_sched_step(f->st, &sched, &st, NOW + 120500, job, &err), 0);
	assert_int_equal(strlen(job), STORE_ID_LEN);
	/* The same due instant again (a restart): refused, no second job. */
	assert_int_equal(
	    store_sched_step(f->st, &sched, &st, NOW + 121000, job2, &err),
	    STORE_EXISTS);
	assert_string_equal(job2, "");
	assert_int_equal(raw_count(f, "SELECT count(*) FROM jobs"), 1);
	assert_int_equal(raw_count(f,
	                     "SELECT count(*) FROM jobs WHERE schedule = "
	                     "'ping' AND max_parallel = 1"),
	    1);
	/* Missed runs: recorded once however often they are reported. */
	assert_int_equal(
	    store_sched_missed(f->st, "ping", m, 2, NOW + 180000, NOW, &err),
	    0);
	assert_int_equal(
	    store_sched_missed(f->st, "ping", m, 2, NOW + 180000, NOW, &err),
	    0);
	assert_int_equal(raw_count(f, "SELECT count(*) FROM schedule_runs"), 3);
	/* The state went with the run; it outlives a reopen. */
	reopen(f);
	assert_int_equal(store_sched_get(f->st, "ping", &got, &err), 0);
	assert_int_equal(got.next_due, NOW + 180000);
	assert_int_equal(got.last_due, NOW + 120000);
	assert_int_equal(got.last_outcome, STORE_RUN_FIRED);
	assert_string_equal(got.last_job, job);
	store_schedule_clear(&got);
	assert_int_equal(store_sched_runs(f->st, "ping", 10, &rv, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(rv[0].due_at, NOW + 120000); /* latest first */
	assert_int_equal(rv[0].outcome, STORE_RUN_FIRED);
	assert_string_equal(rv[0].job_id, job);
	assert_int_equal(rv[0].ntasks, 2);
	assert_int_equal(rv[0].nstate[STORE_TASK_QUEUED], 2);
	assert_int_equal(rv[1].outcome, STORE_RUN_MISSED);
	assert_string_equal(rv[1].reason, "late");
	free(rv);
	/* A step for a schedule that is gone. */
	st.schedule = "gone";
	assert_int_equal(store_sched_step(f->st, &sched, &st, NOW, job2, &err),
	    STORE_NOTFOUND);
	/* A fired run needs its job; only a fired one has one. */
	st.schedule = "ping";
	st.due_at = NOW + 240000;
	st.job = NULL;
	assert_int_equal(
	    store_sched_step(f->st, &sched, &st, NOW, job2, &err), -1);
}

static void
a_pending_run_is_decided_once(void **state)
{
	struct tu_store        *f = *state;
	struct vsm_err          err = {""};
	struct store_schedule   s, got;
	struct store_sched_step st;
	struct store_job_spec   spec;
	int64_t                 h = tu_store_host(f->st, "db-1", NOW);
	char                    job[STORE_ID_LEN + 1];

	sched_fill(&s, "w");
	assert_int_equal(store_sched_add(f->st, &admin, &s, NOW, &err), 0);
	memset(&st, 0, sizeof(st));
	st.schedule = "w";
	st.due_at = NOW;
	st.outcome = STORE_RUN_WAITING;
	st.reason = "window";
	st.next_due = NOW + 60000;
	st.pending_due = NOW;
	assert_int_equal(
	    store_sched_step(f->st, &sched, &st, NOW, job, &err), 0);
	assert_int_equal(store_sched_get(f->st, "w", &got, &err), 0);
	assert_int_equal(got.pending_due, NOW);
	store_schedule_clear(&got);
	/* The window opens: the pending run fires, with its window's end. */
	memset(&spec, 0, sizeof(spec));
	spec.module = "pg.vacuum";
	spec.timeout_ms = 60000;
	spec.hosts = &h;
	spec.nhosts = 1;
	spec.window_end = NOW + 3600000;
	st.outcome = STORE_RUN_FIRED;
	st.reason = NULL;
	st.update = 1;
	st.job = &spec;
	st.pending_due = 0;
	assert_int_equal(
	    store_sched_step(f->st, &sched, &st, NOW + 5000, job, &err), 0);
	/* Twice: no. */
	assert_int_equal(
	    store_sched_step(f->st, &sched, &st, NOW + 6000, job, &err),
	    STORE_EXISTS);
	assert_int_equal(raw_count(f,
	                     "SELECT count(*) FROM jobs WHERE "
	                     "window_end = 1700003600000"),
	    1);
	assert_int_equal(raw_count(f,
	                     "SELECT count(*) FROM schedule_runs "
	                     "WHERE outcome = 'fired' AND job_id "
	                     "IS NOT NULL"),
	    1);
}

static void
config_sync_adds_updates_removes_and_keeps_overrides(void **state)
{
	struct tu_store      *f = *state;
	struct vsm_err        err = {""};
	struct store_schedule v[2], got, api;
	size_t                changed;

	sched_fill(&v[0], "a");
	sched_fill(&v[1], "b");
	v[0].next_due = v[1].next_due = 0;
	/* An api schedule named like a config one becomes a config one. */
	sched_fill(&api, "b");
	assert_int_equal(store_sched_add(f->st, &admin, &api, NOW, &err), 0);
	assert_int_equal(
	    store_sched_sync(f->st, &admin, v, 2, NOW, &changed, &err), 0);
	assert_int_equal(changed, 2);
	assert_int_equal(store_sched_get(f->st, "b", &got, &err), 0);
	assert_int_equal(got.source, STORE_SCHED_CONFIG);
	store_schedule_clear(&got);
	/* The same file again: nothing changes. */
	assert_int_equal(
	    store_sched_sync(f->st, &admin, v, 2, NOW, &changed, &err), 0);
	assert_int_equal(changed, 0);
	/* A config schedule cannot be removed through the API. */
	assert_int_equal(store_sched_remove(f->st, &admin, "a", NOW, &err), -1);
	assert_non_null(strstr(err.msg, "config file"));
	/* Disabled by an operator: a restart with the same file keeps it. */
	assert_int_equal(
	    store_sched_enable(f->st, &admin, "a", 0, 0, NOW, &err), 0);
	assert_int_equal(
	    store_sched_sync(f->st, &admin, v, 2, NOW, &changed, &err), 0);
	assert_int_equal(store_sched_get(f->st, "a", &got, &err), 0);
	assert_int_equal(got.enabled, 0);
	store_schedule_clear(&got);
	/* The file says enabled: false, then true again: the file wins. */
	v[0].enabled = 0;
	assert_int_equal(
	    store_sched_sync(f->st, &admin, v, 2, NOW, &changed, &err), 0);
	v[0].enabled = 1;
	assert_int_equal(
	    store_sched_sync(f->st, &admin, v, 2, NOW, &changed, &err), 0);
	assert_int_equal(store_sched_get(f->st, "a", &got, &err), 0);
	assert_int_equal(got.enabled, 1);
	store_schedule_clear(&got);
	/* A new cron resets next_due; a schedule gone from the file goes. */
	assert_int_equal(
	    store_sched_missed(f->st, "a", NULL, 0, NOW + 60000, NOW, &err), 0);
	snprintf(v[0].cron, sizeof(v[0].cron), "*/5 * * * *");
	assert_int_equal(
	    store_sched_sync(f->st, &admin, v, 1, NOW, &changed, &err), 0);
	assert_int_equal(changed, 2);
	assert_int_equal(store_sched_get(f->st, "a", &got, &err), 0);
	assert_int_equal(got.next_due, 0);
	assert_string_equal(got.cron, "*/5 * * * *");
	store_schedule_clear(&got);
	assert_int_equal(
	    store_sched_get(f->st, "b", &got, &err), STORE_NOTFOUND);
	assert_int_equal(
	    store_sched_enable(f->st, &admin, "b", 1, NOW, NOW, &err),
	    STORE_NOTFOUND);
}

static void
config_sync_disabling_drops_the_pending_run(void **state)
{
	struct tu_store        *f = *state;
	struct vsm_err          err = {""};
	struct store_schedule   v, got;
	struct store_sched_step st;
	size_t                  changed;
	char                    job[STORE_ID_LEN + 1];

	sched_fill(&v, "c");
	assert_int_equal(
	    store_sched_sync(f->st, &admin, &v, 1, NOW, &changed, &err), 0);
	/* A run waits for its window. */
	memset(&st, 0, sizeof(st));
	st.schedule = "c";
	st.due_at = NOW;
	st.outcome = STORE_RUN_WAITING;
	st.reason = "window";
	st.next_due = NOW + 60000;
	st.pending_due = NOW;
	assert_int_equal(
	    store_sched_step(f->st, &sched, &st, NOW, job, &err), 0);
	/* The file disables it: the waiting run goes, as on disable. */
	v.enabled = 0;
	assert_int_equal(
	    store_sched_sync(f->st, &admin, &v, 1, NOW + 1000, &changed, &err),
	    0);
	assert_int_equal(changed, 1);
	assert_int_equal(store_sched_get(f->st, "c", &got, &err), 0);
	assert_int_equal(got.enabled, 0);
	assert_int_equal(got.pending_due, 0);
	store_schedule_clear(&got);
	assert_int_equal(raw_count(f,
	                     "SELECT count(*) FROM schedule_runs WHERE "
	                     "schedule = 'c' AND outcome IN ('queued', "
	                     "'waiting')"),
	    0);
	assert_int_equal(raw_count(f,
	                     "SELECT count(*) FROM schedule_runs WHERE "
	                     "schedule = 'c' AND outcome = 'skipped' AND "
	                     "reason = 'disabled'"),
	    1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        not_before_holds_a_task_back_on_both_paths, tu_store_setup,
	        tu_store_teardown),
	    cmocka_unit_test_setup_teardown(
	        max_parallel_caps_a_job_in_flight_on_both_paths, tu_store_setup,
	        tu_store_teardown),
	    cmocka_unit_test_setup_teardown(
	        wake_hosts_names_the_hosts_a_claim_would_now_serve,
	        tu_store_setup, tu_store_teardown),
	    cmocka_unit_test_setup_teardown(schedule_add_get_list_remove,
	        tu_store_setup, tu_store_teardown),
	    cmocka_unit_test_setup_teardown(
	        runs_are_unique_per_due_instant_and_made_with_their_job,
	        tu_store_setup, tu_store_teardown),
	    cmocka_unit_test_setup_teardown(a_pending_run_is_decided_once,
	        tu_store_setup, tu_store_teardown),
	    cmocka_unit_test_setup_teardown(
	        config_sync_adds_updates_removes_and_keeps_overrides,
	        tu_store_setup, tu_store_teardown),
	    cmocka_unit_test_setup_teardown(
	        config_sync_disabling_drops_the_pending_run, tu_store_setup,
	        tu_store_teardown),
	};

	if (sodium_init() < 0)
		return (1);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
