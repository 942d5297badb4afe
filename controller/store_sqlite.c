/*
 * store_sqlite.c: the embedded SQLite backend of the store (store.h).
 *
 * Two connections to one database file in WAL mode: a write connection
 * behind a recursive mutex (every write, and every read that decides a
 * write, runs there inside BEGIN IMMEDIATE) and a query-only read
 * connection for lists and lookups, which WAL lets run beside a writer.
 * Nested transactions become savepoints, which is how the writer puts
 * many ops in one commit and still lets one op fail alone.
 *
 * Every statement is constant text in sq_sql[] and prepared once per
 * connection; every value is bound, none is pasted into SQL.
 *
 * Durability: synchronous=FULL. In WAL mode NORMAL does not sync the WAL
 * at COMMIT, so a power cut can roll back transactions that COMMIT had
 * already reported; the controller acks task events to agents after the
 * commit and the agents then drop them from their spools, so a rolled
 * back commit would lose results for good. FULL syncs the WAL on every
 * COMMIT; the writer's batching pays for that sync once per batch.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "err.h"
#include "log.h"
#include "map.h"
#include "store.h"

#define SQ_BUSY_MS 5000

enum sq_stmt {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_SAVEPOINT,
	S_RELEASE,
	S_ROLLBACK_TO,
	S_KEY_BY_ID,
	S_KEY_BY_PUB,
	S_KEY_LIVE_NAME,
	S_KEY_INSERT,
	S_KEY_SET_STATE,
	S_KEY_LIST,
	S_TOKEN_INSERT,
	S_TOKEN_USE,
	S_TOKEN_BY_HASH,
	S_TOKEN_LIST,
	S_TOKEN_REVOKE,
	S_AUDIT_INSERT,
	S_AUDIT_LIST,
	S_HOST_HELLO,
	S_HOST_HB,
	S_HOST_FACTS,
	S_HOST_DOWN,
	S_HOST_TASKS_LOST,
	S_HOST_TASKS_RETRY,
	S_HOST_GET,
	S_HOST_LIST,
	S_HOST_TARGETS,
	S_JOB_INSERT,
	S_TASK_INSERT,
	S_JOB_GET,
	S_JOB_COUNTS,
	S_JOB_LIST,
	S_JOB_CANCEL,
	S_TASK_GET,
	S_TASK_HOST,
	S_TASK_LIST,
	S_TASK_INFLIGHT,
	S_TASK_INFLIGHT_MANY,
	S_TASK_QUEUED_MANY,
	S_TASK_QUEUED,
	S_TASK_MARK_SENT,
	S_TASK_STATE,
	S_TASK_SET,
	S_TASK_RETRY,
	S_TASK_REQUEUE,
	S_TASK_TIMEOUT,
	S_EVENT_INSERT,
	S_EVENT_LIST,
	S_ART_INSERT,
	S_ART_BY_PATH,
	S_ART_COMPLETE,
	S_ART_LIST,
	S_TASK_WAKE,
	S_SCHED_INSERT,
	S_SCHED_GET,
	S_SCHED_LIST,
	S_SCHED_DELETE,
	S_SCHED_ENABLE,
	S_SCHED_REDEFINE,
	S_SCHED_CONFIG_NAMES,
	S_SCHED_STATE,
	S_SCHED_NEXT,
	S_SCHED_LAST,
	S_RUN_INSERT,
	S_RUN_UPDATE,
	S_RUN_REPLACED,
	S_RUN_DROP_PENDING,
	S_RUN_LIST,
	S__MAX
};

#define KEY_COLS "id, name, pubkey, state, created_at, updated_at"
#define HOST_COLS                                                              \
	"id, key_id, name, agent_version, labels, facts, capabilities, up, "   \
	"first_seen, last_seen, cpu_pct, mem_pct, disk_pct"
#define JOB_COLS                                                               \
	"id, module, params, target, timeout_ms, max_retries, created_by, "    \
	"created_at, dry_run, max_parallel, window_end, schedule"
#define TASK_COLS                                                              \
	"t.id, t.job_id, j.module, t.host_id, t.state, t.attempt, "            \
	"t.max_retries, j.timeout_ms, t.created_at, t.sent_at, "               \
	"t.deadline_at, "                                                      \
	"t.finished_at, j.dry_run, j.window_end, t.not_before"
#define TASK_PARAMS_COL 15 /* j.params, after TASK_COLS */
#define TASK_FROM       " FROM tasks t JOIN jobs j ON j.id = t.job_id"
/*
 * Tasks of t's job sent or running, for a job with max_parallel (all its
 * tasks are gated): the partial index tasks_inflight.
 */
#define JOB_INFLIGHT                                                           \
	"(SELECT count(*) FROM tasks x WHERE x.job_id = t.job_id AND "         \
	"x.gated = 1 AND x.state IN ('sent', 'running'))"
/* t's job may have one more task in flight. */
#define JOB_ROOM "(j.max_parallel = 0 OR " JOB_INFLIGHT " < j.max_parallel)"
#define SCHED_COLS                                                             \
	"name, source, module, params, target, cron, tz, win, window_policy, " \
	"overlap, max_parallel, max_parallel_pct, splay_ms, timeout_ms, "      \
	"run_timeout_ms, starting_deadline_ms, retries, enabled, created_by, " \
	"created_at, updated_at, next_due, pending_due, last_due, last_at, "   \
	"last_outcome, last_reason, last_job"

static const char *const sq_sql[S__MAX] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_SAVEPOINT] = "SAVEPOINT op",
    [S_RELEASE] = "RELEASE op",
    [S_ROLLBACK_TO] = "ROLLBACK TO op",
    [S_KEY_BY_ID] = "SELECT " KEY_COLS " FROM agent_keys WHERE id = ?",
    [S_KEY_BY_PUB] = "SELECT " KEY_COLS " FROM agent_keys WHERE pubkey = ?",
    [S_KEY_LIVE_NAME] = "SELECT id FROM agent_keys WHERE name = ?1 AND "
                        "state IN ('pending', 'accepted') AND id <> ?2",
    [S_KEY_INSERT] = "INSERT INTO agent_keys (name, pubkey, state, "
                     "created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
    [S_KEY_SET_STATE] = "UPDATE agent_keys SET state = ?, updated_at = ? "
                        "WHERE id = ?",
    [S_KEY_LIST] = "SELECT " KEY_COLS " FROM agent_keys WHERE ?1 IS NULL "
                   "OR state = ?1 ORDER BY id",
    [S_TOKEN_INSERT] = "INSERT INTO enroll_tokens (hash, uses_total, "
                       "uses_left, expires_at, created_at, created_by) "
                       "VALUES (?1, ?2, ?2, ?3, ?4, ?5)",
    [S_TOKEN_USE] = "UPDATE enroll_tokens SET uses_left = uses_left - 1 "
                    "WHERE hash = ?1 AND revoked = 0 AND uses_left > 0 AND "
                    "expires_at > ?2 RETURNING id",
    [S_TOKEN_BY_HASH] = "SELECT revoked, uses_left, expires_at FROM "
                        "enroll_tokens WHERE hash = ?",
    [S_TOKEN_LIST] = "SELECT id, uses_left, uses_total, revoked, "
                     "expires_at, created_at, created_by FROM "
                     "enroll_tokens ORDER BY id",
    [S_TOKEN_REVOKE] = "UPDATE enroll_tokens SET revoked = 1 WHERE id = ?",
    [S_AUDIT_INSERT] = "INSERT INTO audit (at, who, role, action, target, "
                       "detail) VALUES (?, ?, ?, ?, ?, ?)",
    [S_AUDIT_LIST] = "SELECT id, at, who, role, action, target, detail "
                     "FROM audit WHERE id < ? ORDER BY id DESC LIMIT ?",
    [S_HOST_HELLO] =
        "INSERT INTO hosts (name, key_id, labels, capabilities, "
        "agent_version, up, first_seen, last_seen) "
        "SELECT ?1, id, ?3, ?4, ?5, 1, ?6, ?6 FROM agent_keys "
        "WHERE id = ?2 AND name = ?1 AND state = 'accepted' "
        "ON CONFLICT (name) DO UPDATE SET key_id = excluded.key_id, "
        "labels = excluded.labels, capabilities = excluded.capabilities, "
        "agent_version = excluded.agent_version, up = 1, "
        "last_seen = max(last_seen, excluded.last_seen) RETURNING id",
    [S_HOST_HB] = "UPDATE hosts SET cpu_pct = ?, mem_pct = ?, disk_pct = "
                  "?, up = 1, last_seen = max(last_seen, ?) WHERE id = ?",
    [S_HOST_FACTS] = "UPDATE hosts SET facts = ?, last_seen = "
                     "max(last_seen, ?) WHERE id = ?",
    [S_HOST_DOWN] = "UPDATE hosts SET up = 0 WHERE id = ?",
    /* A host gone silent: what it had started is lost with it. */
    [S_HOST_TASKS_LOST] = "UPDATE tasks SET state = 'lost', finished_at = ? "
                          "WHERE host_id = ? AND state = 'running'",
    /* ...and runs again, on that host, where the job allows retries. */
    [S_HOST_TASKS_RETRY] = "UPDATE tasks SET state = 'queued', attempt = "
                           "attempt + 1, sent_at = NULL, acked_at = NULL, "
                           "deadline_at = NULL, finished_at = NULL WHERE "
                           "host_id = ? AND state = 'lost' AND "
                           "finished_at = ? AND attempt < max_retries",
    [S_HOST_GET] = "SELECT " HOST_COLS " FROM hosts WHERE name = ?",
    [S_HOST_LIST] = "SELECT " HOST_COLS " FROM hosts ORDER BY name",
    [S_HOST_TARGETS] = "SELECT h.id, h.key_id, h.name, h.labels FROM hosts h "
                       "JOIN agent_keys k ON k.id = h.key_id "
                       "WHERE k.state = 'accepted' ORDER BY h.name",
    [S_JOB_INSERT] = "INSERT INTO jobs (" JOB_COLS ") VALUES "
                     "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [S_TASK_INSERT] = "INSERT INTO tasks (id, job_id, host_id, state, "
                      "max_retries, created_at, not_before, gated) VALUES "
                      "(?, ?, ?, 'queued', ?, ?, ?, ?)",
    [S_JOB_GET] = "SELECT " JOB_COLS " FROM jobs WHERE id = ?",
    [S_JOB_COUNTS] = "SELECT state, count(*) FROM tasks WHERE job_id = ? "
                     "GROUP BY state",
    [S_JOB_LIST] = "SELECT " JOB_COLS " FROM jobs ORDER BY created_at "
                   "DESC, id LIMIT ?",
    [S_JOB_CANCEL] = "UPDATE tasks SET state = 'cancelled', finished_at = "
                     "?1 WHERE job_id = ?2 AND state IN ('queued', "
                     "'sent', 'running')",
    [S_TASK_GET] = "SELECT " TASK_COLS TASK_FROM " WHERE t.id = ?",
    [S_TASK_HOST] = "SELECT host_id FROM tasks WHERE id = ?",
    [S_TASK_LIST] = "SELECT " TASK_COLS TASK_FROM " WHERE t.job_id = ? "
                    "ORDER BY t.host_id",
    [S_TASK_INFLIGHT] = "SELECT count(*) FROM tasks WHERE host_id = ? AND "
                        "state IN ('sent', 'running')",
    /* ?1: a JSON array of host ids (a claim batch). */
    [S_TASK_INFLIGHT_MANY] =
        "SELECT host_id, count(*) FROM tasks WHERE host_id IN "
        "(SELECT value FROM json_each(?1)) AND state IN ('sent', "
        "'running') GROUP BY host_id",
    /*
     * ?1 as above; ?2 at most this many per host, oldest first; ?3 now:
     * not before a task's not_before, nor past its job's max_parallel.
     * After j.params: the job's max_parallel and what it has in flight.
     */
    [S_TASK_QUEUED_MANY] =
        "SELECT * FROM (SELECT " TASK_COLS ", j.params, j.max_parallel, "
        "CASE WHEN j.max_parallel > 0 THEN " JOB_INFLIGHT " ELSE 0 END, "
        "row_number() OVER (PARTITION BY t.host_id ORDER BY t.created_at, "
        "t.id) AS rn" TASK_FROM " WHERE t.host_id IN (SELECT value FROM "
        "json_each(?1)) AND t.state = 'queued' AND t.not_before <= ?3 "
        "AND " JOB_ROOM ") WHERE rn <= ?2",
    /* One host: each of its tasks is of another job (one per host). */
    [S_TASK_QUEUED] = "SELECT " TASK_COLS ", j.params" TASK_FROM
                      " WHERE t.host_id = ?1 AND t.state = 'queued' AND "
                      "t.not_before <= ?3 AND " JOB_ROOM
                      " ORDER BY t.created_at, t.id LIMIT ?2",
    [S_TASK_MARK_SENT] = "UPDATE tasks SET state = 'sent', sent_at = ?, "
                         "deadline_at = ? WHERE id = ? AND "
                         "state = 'queued'",
    [S_TASK_STATE] = "SELECT state, host_id FROM tasks WHERE id = ?",
    /* ?1 id, ?2 new state, ?3 now, ?4 terminal, ?5 old state */
    [S_TASK_SET] =
        "UPDATE tasks SET state = ?2, "
        "acked_at = CASE WHEN ?2 = 'running' THEN coalesce(acked_at, ?3) "
        "ELSE acked_at END, "
        "finished_at = CASE WHEN ?4 THEN ?3 ELSE finished_at END, "
        "sent_at = CASE WHEN ?2 = 'queued' THEN NULL ELSE sent_at END "
        "WHERE id = ?1 AND state = ?5",
    [S_TASK_RETRY] = "UPDATE tasks SET state = 'queued', attempt = "
                     "attempt + 1, sent_at = NULL, acked_at = NULL, "
                     "deadline_at = NULL, finished_at = NULL WHERE id = ? "
                     "AND state IN ('fail', 'error', 'timeout', 'lost') "
                     "AND attempt < max_retries",
    [S_TASK_REQUEUE] = "UPDATE tasks SET state = 'queued', sent_at = NULL, "
                       "deadline_at = NULL WHERE state = 'sent' AND "
                       "sent_at <= ?",
    [S_TASK_TIMEOUT] = "UPDATE tasks SET state = 'timeout', finished_at = "
                       "?1 WHERE state = 'running' AND deadline_at <= ?1",
    [S_EVENT_INSERT] = "INSERT INTO task_events (task_id, seq, kind, at, "
                       "status, progress, text) VALUES "
                       "(?, ?, ?, ?, ?, ?, ?) "
                       "ON CONFLICT (task_id, seq) DO NOTHING",
    [S_EVENT_LIST] = "SELECT task_id, seq, kind, at, status, progress, "
                     "text FROM task_events WHERE task_id = ? AND seq > ? "
                     "ORDER BY seq LIMIT ?",
    [S_ART_INSERT] = "INSERT INTO artifacts (task_id, path, created_at) "
                     "VALUES (?, ?, ?) ON CONFLICT (path) DO NOTHING",
    [S_ART_BY_PATH] = "SELECT id, task_id, path, size, blake2b, complete, "
                      "created_at, completed_at FROM artifacts WHERE "
                      "path = ?",
    [S_ART_COMPLETE] = "UPDATE artifacts SET size = ?, blake2b = ?, "
                       "complete = 1, completed_at = ? WHERE id = ? AND "
                       "complete = 0",
    [S_ART_LIST] = "SELECT id, task_id, path, size, blake2b, complete, "
                   "created_at, completed_at FROM artifacts WHERE "
                   "task_id = ? ORDER BY id",
    /*
     * ?1 since, ?2 now, ?3 limit: up hosts with a gated task a claim
     * would now hand out: not_before passed after ?1 (no max_parallel),
     * or among the first tasks of a job with room for them.
     */
    [S_TASK_WAKE] =
        "SELECT DISTINCT host_id FROM (SELECT t.host_id, j.max_parallel "
        "AS mp, t.not_before AS nb, CASE WHEN j.max_parallel > 0 "
        "THEN " JOB_INFLIGHT " ELSE 0 END AS inflight, row_number() OVER "
        "(PARTITION BY t.job_id ORDER BY t.not_before, t.created_at, t.id) "
        "AS rn FROM tasks t INDEXED BY tasks_gated JOIN jobs j ON j.id = "
        "t.job_id JOIN hosts h ON h.id = t.host_id WHERE "
        "t.state = 'queued' AND t.gated = 1 AND t.not_before <= ?2 AND "
        "h.up = 1) WHERE (mp = 0 AND nb > ?1) OR (mp > 0 AND rn <= mp - "
        "inflight) LIMIT ?3",
    [S_SCHED_INSERT] = "INSERT INTO schedules (" SCHED_COLS ", cfg_enabled) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
                       "?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, "
                       "?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?18)",
    [S_SCHED_GET] = "SELECT " SCHED_COLS ", cfg_enabled FROM schedules "
                    "WHERE name = ?",
    [S_SCHED_LIST] = "SELECT " SCHED_COLS ", cfg_enabled FROM schedules "
                     "ORDER BY name",
    [S_SCHED_DELETE] = "DELETE FROM schedules WHERE name = ?",
    /* ?1 name, ?2 enabled, ?3 next_due (when enabling), ?4 now */
    [S_SCHED_ENABLE] = "UPDATE schedules SET enabled = ?2, next_due = CASE "
                       "WHEN ?2 THEN ?3 ELSE next_due END, pending_due = 0, "
                       "updated_at = ?4 WHERE name = ?1",
    /*
     * The definition from the file; ?20: the cron or zone changed. A
     * disabled schedule keeps no pending run.
     */
    [S_SCHED_REDEFINE] =
        "UPDATE schedules SET source = 'config', module = ?2, params = ?3, "
        "target = ?4, cron = ?5, tz = ?6, win = ?7, window_policy = ?8, "
        "overlap = ?9, max_parallel = ?10, max_parallel_pct = ?11, "
        "splay_ms = ?12, timeout_ms = ?13, run_timeout_ms = ?14, "
        "starting_deadline_ms = ?15, retries = ?16, enabled = ?17, "
        "cfg_enabled = ?18, updated_at = ?19, next_due = CASE WHEN ?20 THEN "
        "0 ELSE next_due END, pending_due = CASE WHEN ?17 THEN pending_due "
        "ELSE 0 END WHERE name = ?1",
    [S_SCHED_CONFIG_NAMES] = "SELECT name FROM schedules WHERE source = "
                             "'config'",
    /* ?8 NULL keeps last_job (the last run that fired). */
    [S_SCHED_STATE] = "UPDATE schedules SET next_due = ?2, pending_due = "
                      "?3, last_due = ?4, last_at = ?5, last_outcome = ?6, "
                      "last_reason = ?7, last_job = coalesce(?8, last_job) "
                      "WHERE name = ?1",
    [S_SCHED_NEXT] = "UPDATE schedules SET next_due = ?2 WHERE name = ?1",
    [S_SCHED_LAST] = "UPDATE schedules SET last_due = ?2, last_at = ?3, "
                     "last_outcome = ?4, last_reason = ?5 WHERE name = ?1 "
                     "AND last_due < ?2",
    [S_RUN_INSERT] = "INSERT INTO schedule_runs (schedule, due_at, at, "
                     "outcome, reason, job_id) VALUES (?1, ?2, ?3, ?4, ?5, "
                     "?6) ON CONFLICT (schedule, due_at) DO NOTHING",
    /* Only a pending run changes: one decided before stays as it is. */
    [S_RUN_UPDATE] = "UPDATE schedule_runs SET at = ?3, outcome = ?4, "
                     "reason = ?5, job_id = coalesce(?6, job_id) WHERE "
                     "schedule = ?1 AND due_at = ?2 AND outcome IN "
                     "('queued', 'waiting')",
    [S_RUN_REPLACED] = "UPDATE schedule_runs SET outcome = 'replaced', "
                       "at = ?3 WHERE schedule = ?1 AND job_id = ?2 AND "
                       "outcome = 'fired'",
    [S_RUN_DROP_PENDING] = "UPDATE schedule_runs SET outcome = 'skipped', "
                           "reason = 'disabled', at = ?2 WHERE schedule = "
                           "?1 AND outcome IN ('queued', 'waiting')",
    [S_RUN_LIST] = "SELECT id, schedule, due_at, at, outcome, reason, "
                   "coalesce(job_id, '') FROM schedule_runs WHERE "
                   "schedule = ? ORDER BY due_at DESC LIMIT ?",
};

static const char *const ev_kind_names[] = {
    [STORE_EV_STATUS] = "status",
    [STORE_EV_RESULT] = "result",
    [STORE_EV_LOG] = "log",
    [STORE_EV_PROGRESS] = "progress",
};

struct sq_conn {
	sqlite3        *db;
	sqlite3_stmt   *stmt[S__MAX];
	pthread_mutex_t lock;
};

struct sq {
	struct sq_conn w;     /* recursive lock */
	struct sq_conn r;     /* query_only */
	int            depth; /* transaction nesting on w, under w.lock */
};

static int
sq_fail(struct sq_conn *c, struct vsm_err *err, const char *what)
{
	return (vsm_err_set(err, "store: %s: %s", what, sqlite3_errmsg(c->db)));
}

/* The cached statement, reset with no bindings; NULL with err set. */
static sqlite3_stmt *
sq_prep(struct sq_conn *c, enum sq_stmt id, struct vsm_err *err)
{
	if (c->stmt[id] == NULL &&
	    sqlite3_prepare_v3(c->db, sq_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
	        &c->stmt[id], NULL) != SQLITE_OK) {
		sq_fail(c, err, "prepare");
		c->stmt[id] = NULL;
		return (NULL);
	}
	sqlite3_reset(c->stmt[id]);
	sqlite3_clear_bindings(c->stmt[id]);
	return (c->stmt[id]);
}

static void
sq_done(sqlite3_stmt *stmt)
{
	if (stmt != NULL) {
		sqlite3_reset(stmt);
		sqlite3_clear_bindings(stmt);
	}
}

/* Run a statement that returns no rows. */
static int
sq_run(struct sq_conn *c, sqlite3_stmt *stmt, const char *what,
    struct vsm_err *err)
{
	int rc = sqlite3_step(stmt);

	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		sq_fail(c, err, what);
		sq_done(stmt);
		return (-1);
	}
	sq_done(stmt);
	return (0);
}

static int
sq_exec(struct sq_conn *c, enum sq_stmt id, struct vsm_err *err)
{
	sqlite3_stmt *stmt;

	if ((stmt = sq_prep(c, id, err)) == NULL)
		return (-1);
	return (sq_run(c, stmt, sq_sql[id], err));
}

static void
bind_text(sqlite3_stmt *stmt, int i, const char *s)
{
	if (s == NULL)
		sqlite3_bind_null(stmt, i);
	else
		sqlite3_bind_text(stmt, i, s, -1, SQLITE_TRANSIENT);
}

static void
col_copy(sqlite3_stmt *stmt, int i, char *buf, size_t cap)
{
	const unsigned char *s = sqlite3_column_text(stmt, i);

	snprintf(buf, cap, "%s", s != NULL ? (const char *)s : "");
}

/* A copy of a text column ("" for NULL); NULL only when out of memory. */
static char *
col_dup(sqlite3_stmt *stmt, int i)
{
	const unsigned char *s = sqlite3_column_text(stmt, i);

	return (strdup(s != NULL ? (const char *)s : ""));
}

static int
col_blob(sqlite3_stmt *stmt, int i, uint8_t *buf, size_t len)
{
	const void *p = sqlite3_column_blob(stmt, i);

	if (p == NULL || (size_t)sqlite3_column_bytes(stmt, i) != len)
		return (-1);
	memcpy(buf, p, len);
	return (0);
}

/* Make room for one more row in *v (capped at max rows). */
static int
grow(void **v, size_t *cap, size_t n, size_t size, size_t max,
    struct vsm_err *err)
{
	void  *nv;
	size_t ncap;

	if (n < *cap)
		return (0);
	if (n >= max)
		return (vsm_err_set(err, "store: more than %zu rows", max));
	ncap = *cap == 0 ? 16 : *cap * 2;
	if (ncap > max)
		ncap = max;
	if ((nv = reallocarray(*v, ncap, size)) == NULL)
		return (vsm_err_set(err, "store: out of memory"));
	memset((char *)nv + *cap * size, 0, (ncap - *cap) * size);
	*v = nv;
	*cap = ncap;
	return (0);
}

/*
 * Decode the current row of stmt into the zeroed element `elem`: 0, or -1
 * with err set after freeing what the element already holds.
 */
typedef int sq_row_fn(struct sq_conn *c, sqlite3_stmt *stmt, void *elem,
    const void *arg, struct vsm_err *err);
/* Free the first n elements of an array, and the array. */
typedef void sq_free_fn(void *v, size_t n);

/*
 * Step stmt (prepared and bound, c's lock held) to its end, decoding each
 * row with row() into a growing array of `size`-byte elements, at most
 * `max`. Returns 0 with *out (the caller frees it with freev) and *n, or
 * -1 with err set, what was decoded freed, *out NULL and *n 0.
 */
static int
sq_collect(struct sq_conn *c, sqlite3_stmt *stmt, size_t size, size_t max,
    sq_row_fn *row, const void *arg, sq_free_fn *freev, const char *what,
    void **out, size_t *n, struct vsm_err *err)
{
	void  *v = NULL;
	size_t cap = 0, len = 0;
	int    rc;

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (grow(&v, &cap, len, size, max, err) == -1 ||
		    row(c, stmt, (char *)v + len * size, arg, err) == -1)
			goto fail;
		len++;
	}
	if (rc != SQLITE_DONE) {
		sq_fail(c, err, what);
		goto fail;
	}
	*out = v;
	*n = len;
	return (0);
fail:
	freev(v, len);
	*out = NULL;
	*n = 0;
	return (-1);
}

/*
 * Every row of the parameterless read statement id, on the read
 * connection under its lock: as sq_collect, into *out (the caller frees
 * it with freev) and *n.
 */
static int
sq_list_all(struct sq *s, enum sq_stmt id, size_t size, sq_row_fn *row,
    sq_free_fn *freev, const char *what, void **out, size_t *n,
    struct vsm_err *err)
{
	sqlite3_stmt *stmt;
	int           ret = -1;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&s->r.lock);
	if ((stmt = sq_prep(&s->r, id, err)) != NULL)
		ret = sq_collect(&s->r, stmt, size, STORE_FANOUT_MAX, row, NULL,
		    freev, what, out, n, err);
	sq_done(stmt);
	pthread_mutex_unlock(&s->r.lock);
	return (ret);
}

/* For rows that own no memory. */
static void
sq_free_plain(void *v, size_t n)
{
	free(v);
}

/* ------------------------------------------------------------------------ */
/* Transactions on the write connection */

/*
 * Take the write lock and open a transaction, or a savepoint when one is
 * open already (inside a writer batch or another op). Every tx_begin is
 * paired with one tx_end, which commits (ok) or rolls back and unlocks.
 */
static int
tx_begin(struct sq *s, struct vsm_err *err)
{
	pthread_mutex_lock(&s->w.lock);
	if (sq_exec(&s->w, s->depth == 0 ? S_BEGIN : S_SAVEPOINT, err) == -1) {
		pthread_mutex_unlock(&s->w.lock);
		return (-1);
	}
	s->depth++;
	return (0);
}

static int
tx_end(struct sq *s, int ok, struct vsm_err *err)
{
	int ret = ok ? 0 : -1;

	if (--s->depth == 0) {
		if (ok && sq_exec(&s->w, S_COMMIT, err) == -1)
			ret = -1;
		if (ret == -1 && !sqlite3_get_autocommit(s->w.db))
			sq_exec(&s->w, S_ROLLBACK, NULL);
	} else {
		if (!ok)
			sq_exec(&s->w, S_ROLLBACK_TO, NULL);
		if (sq_exec(&s->w, S_RELEASE, err) == -1)
			ret = -1;
	}
	pthread_mutex_unlock(&s->w.lock);
	return (ret);
}

static int
audit_insert(struct sq *s, const struct store_actor *who, const char *action,
    const char *target, const char *detail, int64_t now, struct vsm_err *err)
{
	sqlite3_stmt *stmt;

	if ((stmt = sq_prep(&s->w, S_AUDIT_INSERT, err)) == NULL)
		return (-1);
	sqlite3_bind_int64(stmt, 1, now);
	bind_text(stmt, 2, who->who);
	bind_text(stmt, 3, who->role);
	bind_text(stmt, 4, action);
	bind_text(stmt, 5, target != NULL ? target : "");
	bind_text(stmt, 6, detail != NULL ? detail : "{}");
	return (sq_run(&s->w, stmt, "audit", err));
}

/* ------------------------------------------------------------------------ */
/* Open, close, batches */

static void
conn_close(struct sq_conn *c)
{
	size_t i;

	for (i = 0; i < S__MAX; i++)
		sqlite3_finalize(c->stmt[i]);
	sqlite3_close(c->db);
	c->db = NULL;
}

/* Open one connection and set the pragmas both connections need. */
static int
conn_open(struct sq_conn *c, const char *path, struct vsm_err *err)
{
	char *msg = NULL;

	if (sqlite3_open_v2(path, &c->db,
	        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	            SQLITE_OPEN_FULLMUTEX,
	        NULL) != SQLITE_OK) {
		vsm_err_set(err, "store %s: %s", path,
		    c->db != NULL ? sqlite3_errmsg(c->db) : "out of memory");
		return (-1);
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, SQ_BUSY_MS);
	/* Constant pragmas only. */
	if (sqlite3_exec(c->db,
	        "PRAGMA foreign_keys = ON;"
	        "PRAGMA synchronous = FULL;",
	        NULL, NULL, &msg) != SQLITE_OK) {
		vsm_err_set(err, "store %s: %s", path, msg);
		sqlite3_free(msg);
		return (-1);
	}
	return (0);
}

static int
sq_wal(struct sq_conn *c, const char *path, struct vsm_err *err)
{
	sqlite3_stmt *stmt = NULL;
	int           ret = -1;

	if (sqlite3_prepare_v2(c->db, "PRAGMA journal_mode = WAL", -1, &stmt,
	        NULL) != SQLITE_OK ||
	    sqlite3_step(stmt) != SQLITE_ROW) {
		vsm_err_set(
		    err, "store %s: WAL: %s", path, sqlite3_errmsg(c->db));
		goto out;
	}
	if (strcmp((const char *)sqlite3_column_text(stmt, 0), "wal") != 0) {
		vsm_err_set(err, "store %s: cannot use WAL mode (got %s)", path,
		    sqlite3_column_text(stmt, 0));
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(stmt);
	return (ret);
}

static void sq_close(void *);

static int
sq_open(const char *path, void **out, struct vsm_err *err)
{
	struct sq          *s;
	pthread_mutexattr_t ma;
	int                 fd;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return (vsm_err_set(err, "store: out of memory"));
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&s->w.lock, &ma);
	pthread_mutexattr_destroy(&ma);
	pthread_mutex_init(&s->r.lock, NULL);

	/* Create the file 0600 ourselves; -wal and -shm inherit the mode. */
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		vsm_err_set(err, "store %s: %s", path, strerror(errno));
		goto fail;
	}
	close(fd);
	if (conn_open(&s->w, path, err) == -1 ||
	    sq_wal(&s->w, path, err) == -1 ||
	    store_sqlite_migrate(s->w.db, err) == -1)
		goto fail;
	if (conn_open(&s->r, path, err) == -1)
		goto fail;
	if (sqlite3_exec(s->r.db, "PRAGMA query_only = ON", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		sq_fail(&s->r, err, "query_only");
		goto fail;
	}
	*out = s;
	return (0);
fail:
	sq_close(s);
	return (-1);
}

static void
sq_close(void *db)
{
	struct sq *s = db;

	if (s == NULL)
		return;
	conn_close(&s->r);
	conn_close(&s->w);
	pthread_mutex_destroy(&s->r.lock);
	pthread_mutex_destroy(&s->w.lock);
	free(s);
}

static int
sq_schema(void *db, int *current, int *latest, struct vsm_err *err)
{
	struct sq *s = db;
	int        ret;

	pthread_mutex_lock(&s->w.lock);
	ret = store_sqlite_schema(s->w.db, current, latest, err);
	pthread_mutex_unlock(&s->w.lock);
	return (ret);
}

/* A writer batch: the lock stays held until commit or abort. */
static int
sq_batch_begin(void *db, struct vsm_err *err)
{
	return (tx_begin(db, err));
}

static int
sq_batch_commit(void *db, struct vsm_err *err)
{
	return (tx_end(db, 1, err));
}

static void
sq_batch_abort(void *db)
{
	tx_end(db, 0, NULL);
}

/* ------------------------------------------------------------------------ */
/* Keys and tokens */

static int
key_row(sqlite3_stmt *stmt, struct store_key *k)
{
	memset(k, 0, sizeof(*k));
	k->id = sqlite3_column_int64(stmt, 0);
	col_copy(stmt, 1, k->name, sizeof(k->name));
	if (col_blob(stmt, 2, k->pubkey, sizeof(k->pubkey)) == -1)
		return (-1);
	if (store_key_state_parse(
	        (const char *)sqlite3_column_text(stmt, 3), &k->state) == -1)
		return (-1);
	k->created_at = sqlite3_column_int64(stmt, 4);
	k->updated_at = sqlite3_column_int64(stmt, 5);
	return (0);
}

/* Look a key up on connection c (whose lock the caller holds). */
static int
key_lookup(struct sq_conn *c, int64_t id, const uint8_t *pubkey,
    struct store_key *out, struct vsm_err *err)
{
	sqlite3_stmt *stmt;
	int           rc, ret = -1;

	if ((stmt = sq_prep(
	         c, pubkey != NULL ? S_KEY_BY_PUB : S_KEY_BY_ID, err)) == NULL)
		return (-1);
	if (pubkey != NULL)
		sqlite3_bind_blob(
		    stmt, 1, pubkey, STORE_PUBKEY_LEN, SQLITE_TRANSIENT);
	else
		sqlite3_bind_int64(stmt, 1, id);
	if ((rc = sqlite3_step(stmt)) == SQLITE_DONE)
		ret = STORE_NOTFOUND;
	else if (rc != SQLITE_ROW)
		sq_fail(c, err, "key");
	else if (key_row(stmt, out) == -1)
		vsm_err_set(err, "store: key: malformed row");
	else
		ret = 0;
	sq_done(stmt);
	return (ret);
}

/* Is name held by a live key other than id? 1 yes, 0 no, -1 error. */
static int
key_name_taken(struct sq *s, const char *name, int64_t id, struct vsm_err *err)
{
	sqlite3_stmt *stmt;
	int           rc;

	if ((stmt = sq_prep(&s->w, S_KEY_LIVE_NAME, err)) == NULL)
		return (-1);
	bind_text(stmt, 1, name);
	sqlite3_bind_int64(stmt, 2, id);
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sq_fail(&s->w, err, "key name");
		sq_done(stmt);
		return (-1);
	}
	sq_done(stmt);
	return (rc == SQLITE_ROW);
}

/* Consume one use of the token with this hash; -1 says why it cannot. */
static int
token_use(struct sq *s, const uint8_t *hash, int64_t now, int64_t *id,
    struct vsm_err *err)
{
	sqlite3_stmt *stmt;
	int           rc;

	if ((stmt = sq_prep(&s->w, S_TOKEN_USE, err)) == NULL)
		return (-1);
	sqlite3_bind_blob(stmt, 1, hash, STORE_HASH_LEN, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 2, now);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		if (id != NULL)
			*id = sqlite3_column_int64(stmt, 0);
		sq_done(stmt);
		return (0);
	}
	if (rc != SQLITE_DONE) {
		sq_fail(&s->w, err, "token");
		sq_done(stmt);
		return (-1);
	}
	sq_done(stmt);

	/* Refused: find the reason an operator can act on. */
	if ((stmt = sq_prep(&s->w, S_TOKEN_BY_HASH, err)) == NULL)
		return (-1);
	sqlite3_bind_blob(stmt, 1, hash, STORE_HASH_LEN, SQLITE_TRANSIENT);
	if ((rc = sqlite3_step(stmt)) != SQLITE_ROW)
		vsm_err_set(err, "enrollment token unknown");
	else if (sqlite3_column_int(stmt, 0))
		vsm_err_set(err, "enrollment token revoked");
	else if (sqlite3_column_int(stmt, 1) <= 0)
		vsm_err_set(err, "enrollment token used up");
	else
		vsm_err_set(err, "enrollment token expired");
	sq_done(stmt);
	return (-1);
}

static int
sq_key_add(void *db, const char *name, const uint8_t *pubkey,
    const uint8_t *token_hash, int64_t now, struct store_key *out,
    struct vsm_err *err)
{
	struct sq           *s = db;
	sqlite3_stmt        *stmt;
	enum store_key_state state = STORE_KEY_PENDING;
	int                  rc, ret = -1;

	if (tx_begin(s, err) == -1)
		return (-1);
	if ((rc = key_lookup(&s->w, 0, pubkey, out, err)) == -1)
		goto out;
	if (rc == 0) {
		if (strcmp(out->name, name) != 0) {
			vsm_err_set(
			    err, "key already enrolled as host %s", out->name);
			goto out;
		}
		ret = 0;
		goto out;
	}
	if ((rc = key_name_taken(s, name, 0, err)) == -1)
		goto out;
	if (rc) {
		vsm_err_set(err,
		    "host name %s already has a pending or accepted key "
		    "(revoke or reject it first)",
		    name);
		goto out;
	}
	if (token_hash != NULL) {
		if (token_use(s, token_hash, now, NULL, err) == -1)
			goto out;
		state = STORE_KEY_ACCEPTED;
	}
	if ((stmt = sq_prep(&s->w, S_KEY_INSERT, err)) == NULL)
		goto out;
	bind_text(stmt, 1, name);
	sqlite3_bind_blob(stmt, 2, pubkey, STORE_PUBKEY_LEN, SQLITE_TRANSIENT);
	bind_text(stmt, 3, store_key_state_str(state));
	sqlite3_bind_int64(stmt, 4, now);
	if (sq_run(&s->w, stmt, "key insert", err) == -1)
		goto out;
	if (key_lookup(
	        &s->w, sqlite3_last_insert_rowid(s->w.db), NULL, out, err) != 0)
		goto out;
	ret = 0;
out:
	if (tx_end(s, ret == 0, err) == -1)
		ret = -1;
	return (ret);
}

static int
sq_key_get(void *db, int64_t id, const uint8_t *pubkey, struct store_key *out,
    struct vsm_err *err)
{
	struct sq *s = db;
	int        ret;

	pthread_mutex_lock(&s->r.lock);
	ret = key_lookup(&s->r, id, pubkey, out, err);
	pthread_mutex_unlock(&s->r.lock);
	return (ret);
}

static int
sq_key_set_state(void *db, const struct store_actor *who, int64_t id,
    enum store_key_state state, int64_t now, struct vsm_err *err)
{
	struct sq       *s = db;
	struct store_key k;
	sqlite3_stmt    *stmt;
	char             target[64], detail[128];
	int              rc, ret = -1;

	if (tx_begin(s, err) == -1)
		return (-1);
	if ((rc = key_lookup(&s->w, id, NULL, &k, err)) != 0) {
		if (rc == STORE_NOTFOUND)
			vsm_err_set(err, "no key %lld", (long long)id);
		goto out;
	}
	if (k.state == STORE_KEY_REVOKED && state != STORE_KEY_REVOKED) {
		vsm_err_set(err, "key %lld (%s) is revoked; enroll a new key",
		    (long long)id, k.name);
		goto out;
	}
	if (state == STORE_KEY_PENDING || state == STORE_KEY_ACCEPTED) {
		if ((rc = key_name_taken(s, k.name, id, err)) == -1)
			goto out;
		if (rc) {
			vsm_err_set(err,
			    "host name %s already has a pending or accepted "
			    "key",
			    k.name);
			goto out;
		}
	}
	if ((stmt = sq_prep(&s->w, S_KEY_SET_STATE, err)) == NULL)
		goto out;
	bind_text(stmt, 1, store_key_state_str(state));
	sqlite3_bind_int64(stmt, 2, now);
	sqlite3_bind_int64(stmt, 3, id);
	if (sq_run(&s->w, stmt, "key state", err) == -1)
		goto out;
	snprintf(target, sizeof(target), "key:%lld", (long long)id);
	snprintf(detail, sizeof(detail), "{\"from\":\"%s\",\"to\":\"%s\"}",
	    store_key_state_str(k.state), store_key_state_str(state));
	if (audit_insert(s, who, "key.state", target, detail, now, err) == -1)
		goto out;
	ret = 0;
out:
	if (tx_end(s, ret == 0, err) == -1)
		ret = -1;
	return (ret);
}

static int
key_row_fn(struct sq_conn *c, sqlite3_stmt *stmt, void *elem, const void *arg,
    struct vsm_err *err)
{
	if (key_row(stmt, elem) == -1)
		return (vsm_err_set(err, "store: key: malformed row"));
	return (0);
}

static int
sq_key_list(
    void *db, int state, struct store_key **out, size_t *n, struct vsm_err *err)
{
	struct sq    *s = db;
	sqlite3_stmt *stmt;
	void         *v = NULL;
	int           ret = -1;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&s->r.lock);
	if ((stmt = sq_prep(&s->r, S_KEY_LIST, err)) != NULL) {
		if (state >= 0)
			bind_text(stmt, 1, store_key_state_str(state));
		ret = sq_collect(&s->r, stmt, sizeof(struct store_key),
		    STORE_FANOUT_MAX, key_row_fn, NULL, sq_free_plain, "keys",
		    &v, n, err);
	}
	sq_done(stmt);
	pthread_mutex_unlock(&s->r.lock);
	*out = v;
	return (ret);
}

static int
sq_token_create(void *db, const struct store_actor *who, int uses,
    int64_t expires_at, int64_t now, const uint8_t *hash, int64_t *id,
    struct vsm_err *err)
{
	struct sq    *s = db;
	sqlite3_stmt *stmt;
	char          target[64], detail[96];
	int           ret = -1;

	if (tx_begin(s, err) == -1)
		return (-1);
	if ((stmt = sq_prep(&s->w, S_TOKEN_INSERT, err)) == NULL)
		goto out;
	sqlite3_bind_blob(stmt, 1, hash, STORE_HASH_LEN, SQLITE_TRANSIENT);
	sqlite3_bind_int(stmt, 2, uses);
	sqlite3_bind_int64(stmt, 3, expires_at);
	sqlite3_bind_int64(stmt, 4, now);
	bind_text(stmt, 5, who->who);
	if (sq_run(&s->w, stmt, "token insert", err) == -1)
		goto out;
	*id = sqlite3_last_insert_rowid(s->w.db);
	snprintf(target, sizeof(target), "token:%lld", (long long)*id);
	snprintf(detail, sizeof(detail), "{\"uses\":%d,\"expires_at\":%lld}",
	    uses, (long long)expires_at);
	if (audit_insert(s, who, "token.create", target, detail, now, err) ==
	    -1)
		goto out;
	ret = 0;
out:
	if (tx_end(s, ret == 0, err) == -1)
		ret = -1;
	return (ret);
}

static int
sq_token_redeem(void *db, const uint8_t *hash, int64_t now, int64_t *id,
    struct vsm_err *err)
{
	struct sq *s = db;
	int        ret;

	if (tx_begin(s, err) == -1)
		return (-1);
	ret = token_use(s, hash, now, id, err);
	if (tx_end(s, ret == 0, err) == -1)
		ret = -1;
	return (ret);
}

static int
token_row_fn(struct sq_conn *c, sqlite3_stmt *stmt, void *elem, const void *arg,
    struct vsm_err *err)
{
	struct store_token *t = elem;

	t->id = sqlite3_column_int64(stmt, 0);
	t->uses_left = sqlite3_column_int(stmt, 1);
	t->uses_total = sqlite3_column_int(stmt, 2);
	t->revoked = sqlite3_column_int(stmt, 3);
	t->expires_at = sqlite3_column_int64(stmt, 4);
	t->created_at = sqlite3_column_int64(stmt, 5);
	col_copy(stmt, 6, t->created_by, sizeof(t->created_by));
	return (0);
}

static int
sq_token_list(
    void *db, struct store_token **out, size_t *n, struct vsm_err *err)
{
	void *v = NULL;
	int   ret;

	ret = sq_list_all(db, S_TOKEN_LIST, sizeof(struct store_token),
	    token_row_fn, sq_free_plain, "tokens", &v, n, err);
	*out = v;
	return (ret);
}

static int
sq_token_revoke(void *db, const struct store_actor *who, int64_t id,
    int64_t now, struct vsm_err *err)
{
	struct sq    *s = db;
	sqlite3_stmt *stmt;
	char          target[64];
	int           ret = -1;

	if (tx_begin(s, err) == -1)
		return (-1);
	if ((stmt = sq_prep(&s->w, S_TOKEN_REVOKE, err)) == NULL)
		goto out;
	sqlite3_bind_int64(stmt, 1, id);
	if (sq_run(&s->w, stmt, "token revoke", err) == -1)
		goto out;
	if (sqlite3_changes(s->w.db) == 0) {
		vsm_err_set(err, "no token %lld", (long long)id);
		goto out;
	}
	snprintf(target, sizeof(target), "token:%lld", (long long)id);
	if (audit_insert(s, who, "token.revoke", target, NULL, now, err) == -1)
		goto out;
	ret = 0;
out:
	if (tx_end(s, ret == 0, err) == -1)
		ret = -1;
	return (ret);
}

/* ------------------------------------------------------------------------ */
/* Hosts */

static int
host_row(sqlite3_stmt *stmt, struct store_host *h, struct vsm_err *err)
{
	memset(h, 0, sizeof(*h));
	h->id = sqlite3_column_int64(stmt, 0);
	h->key_id = sqlite3_column_int64(stmt, 1);
	col_copy(stmt, 2, h->name, sizeof(h->name));
	col_copy(stmt, 3, h->agent_version, sizeof(h->agent_version));
	h->labels = col_dup(stmt, 4);
	h->facts = col_dup(stmt, 5);
	h->capabilities = col_dup(stmt, 6);
	h->up = sqlite3_column_int(stmt, 7);
	h->first_seen = sqlite3_column_int64(stmt, 8);
	h->last_seen = sqlite3_column_int64(stmt, 9);
	h->cpu_pct = sqlite3_column_type(stmt, 10) == SQLITE_NULL
	    ? -1
	    : sqlite3_column_double(stmt, 10);
	h->mem_pct = sqlite3_column_type(stmt, 11) == SQLITE_NULL
	    ? -1
	    : sqlite3_column_double(stmt, 11);
	h->disk_pct = sqlite3_column_type(stmt, 12) == SQLITE_NULL
	    ? -1
	    : sqlite3_column_double(stmt, 12);
	if (h->labels == NULL || h->facts == NULL || h->capabilities == NULL) {
		store_host_clear(h);
		return (vsm_err_set(err, "store: out of memory"));
	}
	return (0);
}

static int
sq_host_hello(void *db, const struct store_hello *h, int64_t now, int64_t *id,
    struct vsm_err *err)
{
	struct sq    *s = db;
	sqlite3_stmt *stmt;
	int           rc, ret = -1;

	if (tx_begin(s, err) == -1)
		return (-1);
	if ((stmt = sq_prep(&s->w, S_HOST_HELLO, err)) == NULL)
		goto out;
	bind_text(stmt, 1, h->name);
	sqlite3_bind_int64(stmt, 2, h->key_id);
	bind_text(stmt, 3, h->labels != NULL ? h->labels : "{}");
	bind_text(stmt, 4, h->capabilities != NULL ? h->capabilities : "{}");
	bind_text(stmt, 5, h->agent_version != NULL ? h->agent_version : "");
	sqlite3_bind_int64(stmt, 6, now);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(stmt, 0);
		ret = 0;
	} else if (rc == SQLITE_DONE)
		vsm_err_set(err, "host %s: key %lld is not accepted for it",
		    h->name, (long long)h->key_id);
	else
		sq_fail(&s->w, err, "host hello");
	sq_done(stmt);
out:
	if (tx_end(s, ret == 0, err) == -1)
		ret = -1;
	return (ret);
}

/* Run an UPDATE of one host by id; an unknown id is an error. */
static int
host_update(struct sq *s, sqlite3_stmt *stmt, int64_t id, const char *what,
    struct vsm_err *err)
{
	if (sq_run(&s->w, stmt, what, err) == -1)
		return (-1);
	if (sqlite3_changes(s->w.db) == 0)
		return (
		    vsm_err_set(err, "%s: no host %lld", what, (long long)id));
	return (0);
}

static int
sq_host_heartbeat(
    void *db, const struct store_heartbeat *hb, struct vsm_err *err)
{
	struct sq    *s = db;
	sqlite3_stmt *stmt;
	int           ret = -1;

	if (tx_begin(s, err) == -1)
		return (-1);
	if ((stmt = sq_prep(&s->w, S_HOST_HB, err)) == NULL)
		goto out;
	sqlite3_bind_double(stmt, 1, hb->cpu_pct);
	sqlite3_bind_double(stmt, 2, hb->mem_pct);
	sqlite3_bind_double(stmt, 3, hb->disk_pct);
	sqlite3_bind_int64(stmt, 4, hb->at);
	sqlite3_bind_int64(stmt, 5, hb->host_id);
	ret = host_update(s, stmt, hb->host_id, "heartbeat", err);
out:
	if (tx_end(s, ret == 0, err) == -1)
		ret = -1;
	return (ret);
}

static int
sq_host_set_facts(
    void *db, int64_t id, const char *facts, int64_t now, struct vsm_err *err)
{
	struct sq    *s = db;
	sqlite3_stmt *stmt;
	int           ret = -1;

	if (tx_begin(s, err) == -1)
		return (-1);
	if ((stmt = sq_prep(&s->w, S_HOST_FACTS, err)) == NULL)
		goto out;
	bind_text(stmt, 1, facts);
	sqlite3_bind_int64(stmt, 2, now);
	sqlite3_bind_int64(stmt, 3, id);
	ret = host_update(s, stmt, id, "facts", err);
out:
	if (tx_end(s, ret == 0, err) == -1)
		ret = -1;
	return (ret);
}

static int
sq_host_down(void *db, int64_t id, int64_t now, struct vsm_err *err)
{
	struct sq    *s = db;
	sqlite3_stmt *stmt;
	int           ret = -1;

	if (tx_begin(s, err) == -1)
		return (-1);
	if ((stmt = sq_prep(&s->w, S_HOST_DOWN, err)) == NULL)
		goto out;
	sqlite3_bind_int64(stmt, 1, id);
	if (host_update(s, stmt, id, "host down", err) == -1)
		goto out;
	if ((stmt = sq_prep(&s->w, S_HOST_TASKS_LOST, err)) == NULL)
		goto out;
	sqlite3_bind_int64(stmt, 1, now);
	sqlite3_bind_int64(stmt, 2, id);
	if (sq_run(&s->w, stmt, "tasks lost", err) == -1)
		goto out;
	if ((stmt = sq_prep(&s->w, S_HOST_TASKS_RETRY, err)) == NULL)
		goto out;
	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_int64(stmt, 2, now);
	ret = sq_run(&s->w, stmt, "tasks retried", err);
out:
	if (tx_end(s, ret == 0, err) == -1)
		ret = -1;
	return (ret);
}

static int
sq_host_get(
    void *db, const char *name, struct store_host *out, struct vsm_err *err)
{
	struct sq    *s = db;
	sqlite3_stmt *stmt;
	int           rc, ret = -1;

	pthread_mutex_lock(&s->r.lock);
	if ((stmt = sq_prep(&s->r, S_HOST_GET, err)) == NULL)
		goto out;
	bind_text(stmt, 1, name);
	if ((rc = sqlite3_step(stmt)) == SQLITE_DONE)
		ret = STORE_NOTFOUND;
	else if (rc != SQLITE_ROW)
		sq_fail(&s->r, err, "host");
	else
		ret = host_row(stmt, out, err);
out:
	sq_done(stmt);
	pthread_mutex_unlock(&s->r.lock);
	return (ret);
}

static int
host_row_fn(struct sq_conn *c, sqlite3_stmt *stmt, void *elem, const void *arg,
    struct vsm_err *err)
{
	return (host_row(stmt, elem, err));
}

static void
hosts_free(void *v, size_t n)
{
	store_hosts_free(v, n);
}

static int
sq_host_list(void *db, struct store_host **out, size_t *n, struct vsm_err *err)
{
	void *v = NULL;
	int   ret;

	ret = sq_list_all(db, S_HOST_LIST, sizeof(struct store_host),
	    host_row_fn, hosts_free, "hosts", &v, n, err);
	*out = v;
	return (ret);
}

/* A target row: id, key_id, name and labels only. */
static int
target_row_fn(struct sq_conn *c, sqlite3_stmt *stmt, void *elem,
    const void *arg, struct vsm_err *err)
{
	struct store_host *h = elem;

	(void)c;
	(void)arg;
	memset(h, 0, sizeof(*h));
	h->id = sqlite3_column_int64(stmt, 0);
	h->key_id = sqlite3_column_int64(stmt, 1);
	col_copy(stmt, 2, h->name, sizeof(h->name));
	if ((h->labels = col_dup(stmt, 3)) == NULL)
		return (vsm_err_set(err, "store: out of memory"));
	return (0);
}

static int
sq_host_targets(
    void *db, struct store_host **out, size_t *n, struct vsm_err *err)
{
	void *v = NULL;
	int   ret;

	ret = sq_list_all(db, S_HOST_TARGETS, sizeof(struct store_host),
	    target_row_fn, hosts_free, "hosts", &v, n, err);
	*out = v;
	return (ret);
}

/* ------------------------------------------------------------------------ */
/* Jobs and tasks */

static int
job_row(struct sq_conn *c, sqlite3_stmt *stmt, struct store_job *j,
    struct vsm_err *err)
{
	sqlite3_stmt         *cnt;
	enum store_task_state ts;
	int                   rc;

	memset(j, 0, sizeof(*j));
	col_copy(stmt, 0, j->id, sizeof(j->id));
	col_copy(stmt, 1, j->module, sizeof(j->module));
	j->params = col_dup(stmt, 2);
	j->target = col_dup(stmt, 3);
	j->timeout_ms = sqlite3_column_int64(stmt, 4);
	j->max_retries = sqlite3_column_int(stmt, 5);
	col_copy(stmt, 6, j->created_by, sizeof(j->created_by));
	j->created_at = sqlite3_column_int64(stmt, 7);
	j->dry_run = sqlite3_column_int(stmt, 8);
	j->max_parallel = sqlite3_column_int(stmt, 9);
	j->window_end = sqlite3_column_int64(stmt, 10);
	col_copy(stmt, 11, j->schedule, sizeof(j->schedule));
	if (j->params == NULL || j->target == NULL) {
		store_job_clear(j);
		return (vsm_err_set(err, "store: out of memory"));
	}
	if ((cnt = sq_prep(c, S_JOB_COUNTS, err)) == NULL) {
		store_job_clear(j);
		return (-1);
	}
	bind_text(cnt, 1, j->id);
	while ((rc = sqlite3_step(cnt)) == SQLITE_ROW) {
		if (store_task_state_parse(
		        (const char *)sqlite3_column_text(cnt, 0), &ts) == 0) {
			j->nstate[ts] = (size_t)sqlite3_column_int64(cnt, 1);
			j->ntasks += j->nstate[ts];
		}
	}
	sq_done(cnt);
	if (rc != SQLITE_DONE) {
		store_job_clear(j);
		return (sq_fail(c, err, "job tasks"));
	}
	return (0);
}

/*
 * Insert a job, its tasks and its audit row inside the caller's
 * transaction; job_id gets a new id. 0 or -1 with err set.
 */
static int
job_insert(struct sq *s, const struct store_actor *who,
    const struct store_job_spec *spec, int64_t now, char *job_id,
    struct vsm_err *err)
{
	sqlite3_stmt *stmt;
	char          tid[STORE_ID_LEN + 1], detail[128];
	size_t        i;
	int64_t       nb;
	int           gated;

	store_new_id(job_id);
	if ((stmt = sq_prep(&s->w, S_JOB_INSERT, err)) == NULL)
		return (-1);
	bind_text(stmt, 1, job_id);
	bind_text(stmt, 2, spec->module);
	bind_text(stmt, 3, spec->params != NULL ? spec->params : "{}");
	bind_text(stmt, 4, spec->target != NULL ? spec->target : "");
	sqlite3_bind_int64(stmt, 5, spec->timeout_ms);
	sqlite3_bind_int(stmt, 6, spec->max_retries);
	bind_text(stmt, 7, who->who);
	sqlite3_bind_int64(stmt, 8, now);
	sqlite3_bind_int(stmt, 9, spec->dry_run != 0);
	sqlite3_bind_int(stmt, 10, spec->max_parallel);
	sqlite3_bind_int64(stmt, 11, spec->window_end);
	bind_text(stmt, 12, spec->schedule != NULL ? spec->schedule : "");
	if (sq_run(&s->w, stmt, "job insert", err) == -1)
		return (-1);
	for (i = 0; i < spec->nhosts; i++) {
		if ((stmt = sq_prep(&s->w, S_TASK_INSERT, err)) == NULL)
			return (-1);
		nb = spec->not_before != NULL ? spec->not_before[i] : 0;
		gated = spec->max_parallel > 0 || nb > 0;
		store_new_id(tid);
		bind_text(stmt, 1, tid);
		bind_text(stmt, 2, job_id);
		sqlite3_bind_int64(stmt, 3, spec->hosts[i]);
		sqlite3_bind_int(stmt, 4, spec->max_retries);
		sqlite3_bind_int64(stmt, 5, now);
		sqlite3_bind_int64(stmt, 6, nb);
		sqlite3_bind_int(stmt, 7, gated);
		if (sqlite3_step(stmt) != SQLITE_DONE) {
			vsm_err_set(err, "job: task for host %lld: %s",
			    (long long)spec->hosts[i],
			    sqlite3_extended_errcode(s->w.db) ==
			            SQLITE_CONSTRAINT_FOREIGNKEY
			        ? "no such host"
			        : sqlite3_errmsg(s->w.db));
			sq_done(stmt);
			return (-1);
		}
		sq_done(stmt);
	}
	snprintf(detail, sizeof(detail),
	    "{\"tasks\":%zu,\"dry_run\":%s,\"max_parallel\":%d}", spec->nhosts,
	    spec->dry_run ? "true" : "false", spec->max_parallel);
	/* The module and the target go in as they are, bound, not pasted. */
	return (audit_insert(s, who, "job.create", job_id, detail, now, err));
}

static int
sq_job_create(void *db, const struct store_actor *who,
    const struct store_job_spec *spec, int64_t now, char *job_id,
    struct vsm_err *err)
{
	struct sq *s = db;
	int        ret;

	if (tx_begin(s, err) == -1)
		return (-1);
	ret = job_insert(s, who, spec, now, job_id, err);
	if (tx_end(s, ret == 0, err) == -1)
		ret = -1;
	return (ret);
}

static int
sq_job_get(void *db, const char *id, struct store_job *out, struct vsm_err *err)
{
	struct sq    *s = db;
	sqlite3_stmt *stmt;
	int           rc, ret = -1;

	pthread_mutex_lock(&s->r.lock);
	if ((stmt = sq_prep(&s->r, S_JOB_GET, err)) == NULL)
		goto out;
	bind_text(stmt, 1, id);
	if ((rc = sqlite3_step(stmt)) == SQLITE_DONE)
		ret = STORE_NOTFOUND;
	else if (rc != SQLITE_ROW)
		sq_fail(&s->r, err, "job");
	else
		ret = job_row(&s->r, stmt, out, err);
out:
	sq_done(stmt);
	pthread_mutex_unlock(&s->r.lock);
	return (ret);
}

static int
job_row_fn(struct sq_conn *c, sqlite3_stmt *stmt, void *elem, const void *arg,
    struct vsm_err *err)
{
	return (job_row(c, stmt, elem, err));
}

static void
jobs_free(void *v, size_t n)
{
	store_jobs_free(v, n);
}

static int
sq_job_list(void *db, size_t limit, struct store_job **out, size_t *n,
    struct vsm_err *err)
{
	struct sq    *s = db;
	sqlite3_stmt *stmt;
	void         *v = NULL;
	int           ret = -1;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&s->r.lock);
	if ((stmt = sq_prep(&s->r, S_JOB_LIST, err)) != NULL) {
		sqlite3_bind_int64(stmt, 1, (int64_t)limit);
		ret = sq_collect(&s->r, stmt, sizeof(struct store_job),
		    STORE_LIST_MAX, job_row_fn, NULL, jobs_free, "jobs", &v, n,
		    err);
	}
	sq_done(stmt);
	pthread_mutex_unlock(&s->r.lock);
	*out = v;
	return (ret);
}

static int
sq_job_cancel(void *db, const struct store_actor *who, const char *id,
    int64_t now, size_t *ncancelled, struct vsm_err *err)
{
	struct sq    *s = db;
	sqlite3_stmt *stmt;
	char          detail[64];
	int           rc, ret = -1;

	if (tx_begin(s, err) == -1)
		return (-1);
	if ((stmt = sq_prep(&s->w, S_JOB_GET, err)) == NULL)
		goto out;
	bind_text(stmt, 1, id);
	rc = sqlite3_step(stmt);
	sq_done(stmt);
	if (rc != SQLITE_ROW) {
		if (rc == SQLITE_DONE)
			vsm_err_set(err, "no job %s", id);
		else
			sq_fail(&s->w, err, "job");
		goto out;
	}
	if ((stmt = sq_prep(&s->w, S_JOB_CANCEL, err)) == NULL)
		goto out;
	sqlite3_bind_int64(stmt, 1, now);
	bind_text(stmt, 2, id);
	if (sq_run(&s->w, stmt, "job cancel", err) == -1)
		goto out;
	*ncancelled = (size_t)sqlite3_changes(s->w.db);
	snprintf(detail, sizeof(detail), "{\"cancelled\":%zu}", *ncancelled);
	if (audit_insert(s, who, "job.cancel", id, detail, now, err) == -1)
		goto out;
	ret = 0;
out:
	if (tx_end(s, ret == 0, err) == -1)
		ret = -1;
	return (ret);
}

/* A task row of TASK_COLS (and, when with_params, j.params after them). */
static int
task_row(sqlite3_stmt *stmt, struct store_task *t, int with_params,
    struct vsm_err *err)
{
	memset(t, 0, sizeof(*t));
	col_copy(stmt, 0, t->id, sizeof(t->id));
	col_copy(stmt, 1, t->job_id, sizeof(t->job_id));
	col_copy(stmt, 2, t->module, sizeof(t->module));
	t->host_id = sqlite3_column_int64(stmt, 3);
	if (store_task_state_parse(
	        (const char *)sqlite3_column_text(stmt, 4), &t->state) == -1)
		return (vsm_err_set(err, "store: task: malformed state"));
	t->attempt = sqlite3_column_int(stmt, 5);
	t->max_retries = sqlite3_column_int(stmt, 6);
	t->timeout_ms = sqlite3_column_int64(stmt, 7);
	t->created_at = sqlite3_column_int64(stmt, 8);
	t->sent_at = sqlite3_column_int64(stmt, 9);
	t->deadline_at = sqlite3_column_int64(stmt, 10);
	t->finished_at = sqlite3_column_int64(stmt, 11);
	t->dry_run = sqlite3_column_int(stmt, 12);
	t->window_end = sqlite3_column_int64(stmt, 13);
	t->not_before = sqlite3_column_int64(stmt, 14);
	if (with_params && (t->params = col_dup(stmt, TASK_PARAMS_COL)) == NULL)
		return (vsm_err_set(err, "store: out of memory"));
	return (0);
}

static int
sq_task_get(
    void *db, const char *id, struct store_task *out, struct vsm_err *err)
{
	struct sq    *s = db;
	sqlite3_stmt *stmt;
	int           rc, ret = -1;

	pthread_mutex_lock(&s->r.lock);
	if ((stmt = sq_prep(&s->r, S_TASK_GET, err)) == NULL)
		goto out;
	bind_text(stmt, 1, id);
	if ((rc = sqlite3_step(stmt)) == SQLITE_DONE)
		ret = STORE_NOTFOUND;
	else if (rc != SQLITE_ROW)
		sq_fail(&s->r, err, "task");
	else
		ret = task_row(stmt, out, 0, err);
out:
	sq_done(stmt);
	pthread_mutex_unlock(&s->r.lock);
	return (ret);
}

static int
sq_task_host(void *db, const char *id, int64_t *host_id, struct vsm_err *err)
{
	struct sq    *s = db;
	sqlite3_stmt *stmt;
	int           rc, ret = -1;

	pthread_mutex_lock(&s->r.lock);
	if ((stmt = sq_prep(&s->r, S_TASK_HOST, err)) == NULL)
		goto out;
	bind_text(stmt, 1, id);
	if ((rc = sqlite3_step(stmt)) == SQLITE_DONE)
		ret = STORE_NOTFOUND;
	else if (rc != SQLITE_ROW)
		sq_fail(&s->r, err, "task");
	else {
		*host_id = sqlite3_column_int64(stmt, 0);
		ret = 0;
	}
out:
	sq_done(stmt);
	pthread_mutex_unlock(&s->r.lock);
	return (ret);
}

static int
task_row_fn(struct sq_conn *c, sqlite3_stmt *stmt, void *elem, const void *arg,
    struct vsm_err *err)
{
	struct store_task *t = elem;

	if (task_row(stmt, t, *(const int *)arg, err) == -1) {
		free(t->params);
		return (-1);
	}
	return (0);
}

static void
tasks_free(void *v, size_t n)
{
	store_tasks_free(v, n);
}

/* Collect task rows from a prepared statement into *out. */
static int
task_rows(struct sq_conn *c, sqlite3_stmt *stmt, int with_params,
    struct store_task **out, size_t *n, struct vsm_err *err)
{
	void *v = NULL;
	int   ret;

	ret = sq_collect(c, stmt, sizeof(struct store_task), STORE_FANOUT_MAX,
	    task_row_fn, &with_params, tasks_free, "tasks", &v, n, err);
	*out = v;
	return (ret);
}

static int
sq_task_list(void *db, const char *job_id, struct store_task **out, size_t *n,
    struct vsm_err *err)
{
	struct sq    *s = db;
	sqlite3_stmt *stmt;
	int           ret = -1;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&s->r.lock);
	if ((stmt = sq_prep(&s->r, S_TASK_LIST, err)) != NULL) {
		bind_text(stmt, 1, job_id);
		ret = task_rows(&s->r, stmt, 0, out, n, err);
		sq_done(stmt);
	}
	pthread_mutex_unlock(&s->r.lock);
	return (ret);
}

static int
sq_task_next(void *db, int64_t host_id, unsigned limit, unsigned max,
    int64_t now, struct store_task **out, size_t *n, struct vsm_err *err)
{
	struct sq         *s = db;
	sqlite3_stmt      *stmt;
	struct store_task *v = NULL;
	size_t             len = 0, i;
	int64_t            inflight, room;
	int                ret = -1;

	if (tx_begin(s, err) == -1)
		return (-1);
	if ((stmt = sq_prep(&s->w, S_TASK_INFLIGHT, err)) == NULL)
		goto out;
	sqlite3_bind_int64(stmt, 1, host_id);
	if (sqlite3_step(stmt) != SQLITE_ROW) {
		sq_fail(&s->w, err, "tasks in flight");
		sq_done(stmt);
		goto out;
	}
	inflight = sqlite3_column_int64(stmt, 0);
	sq_done(stmt);
	room = (int64_t)limit - inflight;
	if (room > (int64_t)max)
		room = max;
	if (room <= 0) {
		ret = 0;
		goto out;
	}
	if ((stmt = sq_prep(&s->w, S_TASK_QUEUED, err)) == NULL)
		goto out;
	sqlite3_bind_int64(stmt, 1, host_id);
	sqlite3_bind_int64(stmt, 2, room);
	sqlite3_bind_int64(stmt, 3, now);
	ret = task_rows(&s->w, stmt, 1, &v, &len, err);
	sq_done(stmt);
	if (ret == -1)
		goto out;
	ret = -1;
	for (i = 0; i < len; i++) {
		if ((stmt = sq_prep(&s->w, S_TASK_MARK_SENT, err)) == NULL)
			goto out;
		v[i].state = STORE_TASK_SENT;
		v[i].sent_at = now;
		v[i].deadline_at = now + v[i].timeout_ms;
		sqlite3_bind_int64(stmt, 1, now);
		sqlite3_bind_int64(stmt, 2, v[i].deadline_at);
		bind_text(stmt, 3, v[i].id);
		if (sq_run(&s->w, stmt, "task sent", err) == -1)
			goto out;
	}
	ret = 0;
out:
	if (tx_end(s, ret == 0, err) == -1)
		ret = -1;
	if (ret == -1) {
		store_tasks_free(v, len);
		v = NULL;
		len = 0;
	}
	*out = v;
	*n = len;
	return (ret);
}

/* The claims' host ids as a JSON array ("[1,2]") for json_each. */
static char *
claim_ids_json(const struct store_claim *cv, size_t n)
{
	char  *buf;
	size_t cap = 2 + n * 21, len = 0, i;

	if ((buf = malloc(cap + 1)) == NULL)
		return (NULL);
	buf[len++] = '[';
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%s%lld",
		    len > 1 ? "," : "", (long long)cv[i].host_id);
	buf[len++] = ']';
	buf[len] = '\0';
	return (buf);
}

/* Append the current row of stmt to claim c (its tasks array). */
static int
claim_add_row(struct store_claim *c, sqlite3_stmt *stmt, struct vsm_err *err)
{
	struct store_task *v;

	if ((v = realloc(c->tasks, (c->ntasks + 1) * sizeof(*v))) == NULL)
		return (vsm_err_set(err, "store: out of memory"));
	c->tasks = v;
	if (task_row(stmt, &c->tasks[c->ntasks], 1, err) == -1)
		return (-1);
	c->ntasks++;
	return (0);
}

/* What a job with max_parallel has left to hand out in one batch. */
struct job_room {
	char    id[STORE_ID_LEN + 1];
	int64_t left;
};

/*
 * May the current row of S_TASK_QUEUED_MANY go out, as far as its job's
 * max_parallel goes? The first row of a job sets its room (max_parallel
 * less what it has in flight); each row handed out takes one. 1 yes (and
 * taken), 0 no, -1 out of memory.
 */
static int
claim_job_room(struct job_room **v, size_t *n, sqlite3_stmt *stmt)
{
	const char      *id = (const char *)sqlite3_column_text(stmt, 1);
	struct job_room *nv;
	size_t           i;

	if (sqlite3_column_int64(stmt, TASK_PARAMS_COL + 1) <= 0)
		return (1);
	for (i = 0; i < *n; i++)
		if (strcmp((*v)[i].id, id != NULL ? id : "") == 0)
			break;
	if (i == *n) {
		if ((nv = reallocarray(*v, *n + 1, sizeof(**v))) == NULL)
			return (-1);
		*v = nv;
		snprintf(nv[i].id, sizeof(nv[i].id), "%s", id ? id : "");
		nv[i].left = sqlite3_column_int64(stmt, TASK_PARAMS_COL + 1) -
		    sqlite3_column_int64(stmt, TASK_PARAMS_COL + 2);
		(*n)++;
	}
	if ((*v)[i].left <= 0)
		return (0);
	(*v)[i].left--;
	return (1);
}

/*
 * Hand out the queued tasks of many hosts in one transaction: one query
 * for what each host has in flight, one for the oldest queued tasks of
 * all of them that may go now (not_before passed, their job below its
 * max_parallel), then the rows marked sent. Each host gets at most its
 * max and what limit leaves room for; a job with max_parallel no more
 * than it has room for across the batch. Any failure fails the whole
 * batch: every claim comes back empty and failed, and nothing changes.
 */
static int
sq_task_next_many(void *db, struct store_claim *cv, size_t n, unsigned limit,
    int64_t now, struct vsm_err *err)
{
	struct sq          *s = db;
	struct vsm_map      byhost;
	struct store_claim *c;
	struct job_room    *jobs = NULL;
	sqlite3_stmt       *stmt = NULL;
	int64_t            *room = NULL;
	char               *ids = NULL;
	size_t              i, j, njobs = 0;
	unsigned            maxmax = 0;
	int                 rc, ret = -1;

	vsm_map_init(&byhost);
	if (n == 0)
		return (0);
	if ((room = calloc(n, sizeof(*room))) == NULL ||
	    (ids = claim_ids_json(cv, n)) == NULL) {
		free(room);
		return (vsm_err_set(err, "store: out of memory"));
	}
	for (i = 0; i < n; i++) {
		room[i] = cv[i].max < limit ? cv[i].max : limit;
		if (cv[i].max > maxmax)
			maxmax = cv[i].max;
		if (vsm_map_put(&byhost, (uint64_t)cv[i].host_id, &cv[i]) ==
		    -1) {
			vsm_err_set(err, "store: out of memory");
			goto done;
		}
	}
	if (tx_begin(s, err) == -1)
		goto done;
	if ((stmt = sq_prep(&s->w, S_TASK_INFLIGHT_MANY, err)) == NULL)
		goto out;
	bind_text(stmt, 1, ids);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if ((c = vsm_map_get(&byhost,
		         (uint64_t)sqlite3_column_int64(stmt, 0))) == NULL)
			continue;
		j = (size_t)(c - cv);
		room[j] = (int64_t)limit - sqlite3_column_int64(stmt, 1);
		if (room[j] > (int64_t)c->max)
			room[j] = c->max;
	}
	sq_done(stmt);
	if (rc != SQLITE_DONE) {
		sq_fail(&s->w, err, "tasks in flight");
		goto out;
	}
	if ((stmt = sq_prep(&s->w, S_TASK_QUEUED_MANY, err)) == NULL)
		goto out;
	bind_text(stmt, 1, ids);
	sqlite3_bind_int64(stmt, 2, maxmax);
	sqlite3_bind_int64(stmt, 3, now);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if ((c = vsm_map_get(&byhost,
		         (uint64_t)sqlite3_column_int64(stmt, 3))) == NULL ||
		    (int64_t)c->ntasks >= room[c - cv])
			continue;
		if ((rc = claim_job_room(&jobs, &njobs, stmt)) == 0)
			continue;
		if (rc == -1) {
			vsm_err_set(err, "store: out of memory");
			sq_done(stmt);
			goto out;
		}
		if (claim_add_row(c, stmt, err) == -1) {
			sq_done(stmt);
			goto out;
		}
	}
	sq_done(stmt);
	if (rc != SQLITE_DONE) {
		sq_fail(&s->w, err, "queued tasks");
		goto out;
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < cv[i].ntasks; j++) {
			struct store_task *t = &cv[i].tasks[j];

			if ((stmt = sq_prep(&s->w, S_TASK_MARK_SENT, err)) ==
			    NULL)
				goto out;
			t->state = STORE_TASK_SENT;
			t->sent_at = now;
			t->deadline_at = now + t->timeout_ms;
			sqlite3_bind_int64(stmt, 1, now);
			sqlite3_bind_int64(stmt, 2, t->deadline_at);
			bind_text(stmt, 3, t->id);
			if (sq_run(&s->w, stmt, "task sent", err) == -1)
				goto out;
		}
	ret = 0;
out:
	if (tx_end(s, ret == 0, err) == -1)
		ret = -1;
done:
	if (ret == -1)
		for (i = 0; i < n; i++) {
			store_tasks_free(cv[i].tasks, cv[i].ntasks);
			cv[i].tasks = NULL;
			cv[i].ntasks = 0;
			cv[i].failed = 1;
		}
	vsm_map_clear(&byhost);
	free(jobs);
	free(room);
	free(ids);
	return (ret);
}

/*
 * The state of task id, on the write connection inside the caller's
 * transaction. host_id > 0 also checks that the task is that host's.
 */
static int
task_check(struct sq *s, const char *id, int64_t host_id,
    enum store_task_state *cur, struct vsm_err *err)
{
	sqlite3_stmt *stmt;
	int           rc, ret = -1;

	if ((stmt = sq_prep(&s->w, S_TASK_STATE, err)) == NULL)
		return (-1);
	bind_text(stmt, 1, id);
	if ((rc = sqlite3_step(stmt)) == SQLITE_DONE)
		vsm_err_set(err, "no task %s", id);
	else if (rc != SQLITE_ROW)
		sq_fail(&s->w, err, "task");
	else if (host_id > 0 && sqlite3_column_int64(stmt, 1) != host_id)
		vsm_err_set(err, "task %s is not this host's", id);
	else if (store_task_state_parse(
	             (const char *)sqlite3_column_text(stmt, 0), cur) == -1)
		vsm_err_set(err, "task %s: malformed state", id);
	else
		ret = 0;
	sq_done(stmt);
	return (ret);
}

/*
 * Move task id, found in state cur inside the caller's transaction, to
 * `to` if store_task_transition_ok() allows it. 0 moved, 1 not allowed
 * (the task is left as it is), -1 error.
 */
static int
task_move_from(struct sq *s, const char *id, enum store_task_state cur,
    enum store_task_state to, int64_t now, struct vsm_err *err)
{
	sqlite3_stmt *stmt;

	if (!store_task_transition_ok(cur, to))
		return (1);
	if ((stmt = sq_prep(&s->w, S_TASK_SET, err)) == NULL)
		return (-1);
	bind_text(stmt, 1, id);
	bind_text(stmt, 2, store_task_state_str(to));
	sqlite3_bind_int64(stmt, 3, now);
	sqlite3_bind_int(stmt, 4, store_task_state_terminal(to));
	bind_text(stmt, 5, store_task_state_str(cur));
	return (sq_run(&s->w, stmt, "task state", err));
}

/* task_check, then task_move_from; *from says where the task was. */
static int
task_move(struct sq *s, const char *id, int64_t host_id,
    enum store_task_state to, int64_t now, enum store_task_state *from,
    struct vsm_err *err)
{
	if (task_check(s, id, host_id, from, err) == -1)
		return (-1);
	return (task_move_from(s, id, *from, to, now, err));
}

static int
sq_task_ack(
    void *db, int64_t host_id, const char *id, int64_t now, struct vsm_err *err)
{
	struct sq            *s = db;
	enum store_task_state from;
	int                   rc, ret = -1;

	if (tx_begin(s, err) == -1)
		return (-1);
	rc = task_move(s, id, host_id, STORE_TASK_RUNNING, now, &from, err);
	/* A repeated ack, or an ack after the result: nothing to do. */
	if (rc == 0 || (rc == 1 && from != STORE_TASK_QUEUED))
		ret = 0;
	else if (rc == 1)
		vsm_err_set(err, "task %s was not sent", id);
	if (tx_end(s, ret == 0, err) == -1)
		ret = -1;
	return (ret);
}

static int
sq_task_set_state(void *db, const char *id, enum store_task_state to,
    int64_t now, struct vsm_err *err)
{
	struct sq            *s = db;
	enum store_task_state from;
	int                   rc, ret = -1;

	if (tx_begin(s, err) == -1)
		return (-1);
	rc = task_move(s, id, 0, to, now, &from, err);
	if (rc == 0)
		ret = 0;
	else if (rc == 1)
		vsm_err_set(err, "task %s: %s -> %s is not allowed", id,
		    store_task_state_str(from), store_task_state_str(to));
	if (tx_end(s, ret == 0, err) == -1)
		ret = -1;
	return (ret);
}

static int
sq_task_retry(void *db, const char *id, int64_t now, struct vsm_err *err)
{
	struct sq    *s = db;
	sqlite3_stmt *stmt;
	int           ret = -1;

	if (tx_begin(s, err) == -1)
		return (-1);
	if ((stmt = sq_prep(&s->w, S_TASK_RETRY, err)) == NULL)
		goto out;
	bind_text(stmt, 1, id);
	if (sq_run(&s->w, stmt, "task retry", err) == -1)
		goto out;
	ret = sqlite3_changes(s->w.db) == 1 ? 0 : STORE_NOTFOUND;
out:
	if (tx_end(s, ret != -1, err) == -1)
		ret = -1;
	return (ret);
}

static int
sq_task_sweep(void *db, int64_t now, int64_t ack_ms, size_t *requeued,
    size_t *timedout, struct vsm_err *err)
{
	struct sq    *s = db;
	sqlite3_stmt *stmt;
	int           ret = -1;

	if (tx_begin(s, err) == -1)
		return (-1);
	if ((stmt = sq_prep(&s->w, S_TASK_REQUEUE, err)) == NULL)
		goto out;
	sqlite3_bind_int64(stmt, 1, now - ack_ms);
	if (sq_run(&s->w, stmt, "task requeue", err) == -1)
		goto out;
	*requeued = (size_t)sqlite3_changes(s->w.db);
	if ((stmt = sq_prep(&s->w, S_TASK_TIMEOUT, err)) == NULL)
		goto out;
	sqlite3_bind_int64(stmt, 1, now);
	if (sq_run(&s->w, stmt, "task timeout", err) == -1)
		goto out;
	*timedout = (size_t)sqlite3_changes(s->w.db);
	ret = 0;
out:
	if (tx_end(s, ret == 0, err) == -1)
		ret = -1;
	return (ret);
}

/* ------------------------------------------------------------------------ */
/* Events */

static int
sq_event_append(void *db, int64_t host_id, const struct store_event *ev,
    struct vsm_err *err)
{
	struct sq            *s = db;
	sqlite3_stmt         *stmt;
	enum store_task_state from;
	int                   rc, ret = -1;

	if (tx_begin(s, err) == -1)
		return (-1);
	/* The task must exist and be this host's. */
	if (task_check(s, ev->task_id, host_id, &from, err) == -1)
		goto out;
	if ((stmt = sq_prep(&s->w, S_EVENT_INSERT, err)) == NULL)
		goto out;
	bind_text(stmt, 1, ev->task_id);
	sqlite3_bind_int64(stmt, 2, ev->seq);
	bind_text(stmt, 3, ev_kind_names[ev->kind]);
	sqlite3_bind_int64(stmt, 4, ev->at);
	if (ev->kind == STORE_EV_STATUS)
		bind_text(stmt, 5, store_task_state_str(ev->status));
	if (ev->kind == STORE_EV_PROGRESS)
		sqlite3_bind_int(stmt, 6, ev->progress);
	bind_text(stmt, 7, ev->text);
	if (sq_run(&s->w, stmt, "event", err) == -1)
		goto out;
	if (sqlite3_changes(s->w.db) == 0) {
		ret = 1; /* seen before: stored once, ack again */
		goto out;
	}
	if (ev->kind == STORE_EV_STATUS) {
		/* task_check above found the task in state `from`. */
		rc = task_move_from(
		    s, ev->task_id, from, ev->status, ev->at, err);
		if (rc == -1)
			goto out;
		if (rc == 1)
			log_debug("store: task %s: late status %s kept, state "
			          "stays %s",
			    ev->task_id, store_task_state_str(ev->status),
			    store_task_state_str(from));
	}
	ret = 0;
out:
	if (tx_end(s, ret != -1, err) == -1)
		ret = -1;
	return (ret);
}

static int
event_row_fn(struct sq_conn *c, sqlite3_stmt *stmt, void *elem, const void *arg,
    struct vsm_err *err)
{
	struct store_event *e = elem;
	const char         *kind;
	size_t              k;

	col_copy(stmt, 0, e->task_id, sizeof(e->task_id));
	e->seq = sqlite3_column_int64(stmt, 1);
	kind = (const char *)sqlite3_column_text(stmt, 2);
	for (k = 0; k < 4; k++)
		if (kind != NULL && strcmp(kind, ev_kind_names[k]) == 0)
			e->kind = (enum store_event_kind)k;
	e->at = sqlite3_column_int64(stmt, 3);
	if (sqlite3_column_type(stmt, 4) != SQLITE_NULL)
		store_task_state_parse(
		    (const char *)sqlite3_column_text(stmt, 4), &e->status);
	e->progress = sqlite3_column_int(stmt, 5);
	if (sqlite3_column_type(stmt, 6) != SQLITE_NULL &&
	    (e->text = col_dup(stmt, 6)) == NULL)
		return (vsm_err_set(err, "store: out of memory"));
	return (0);
}

static void
events_free(void *v, size_t n)
{
	store_events_free(v, n);
}

static int
sq_event_list(void *db, const char *task_id, int64_t after_seq, size_t limit,
    struct store_event **out, size_t *n, struct vsm_err *err)
{
	struct sq    *s = db;
	sqlite3_stmt *stmt;
	void         *v = NULL;
	int           ret = -1;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&s->r.lock);
	if ((stmt = sq_prep(&s->r, S_EVENT_LIST, err)) != NULL) {
		bind_text(stmt, 1, task_id);
		sqlite3_bind_int64(stmt, 2, after_seq);
		sqlite3_bind_int64(stmt, 3, (int64_t)limit);
		ret = sq_collect(&s->r, stmt, sizeof(struct store_event),
		    STORE_LIST_MAX, event_row_fn, NULL, events_free, "events",
		    &v, n, err);
	}
	sq_done(stmt);
	pthread_mutex_unlock(&s->r.lock);
	*out = v;
	return (ret);
}

/* ------------------------------------------------------------------------ */
/* Artifacts */

static int artifact_row_fn(struct sq_conn *c, sqlite3_stmt *stmt, void *elem,
    const void *arg, struct vsm_err *err);

static int
sq_artifact_add(void *db, const char *task_id, const char *path, int64_t now,
    struct store_artifact *out, struct vsm_err *err)
{
	struct sq    *s = db;
	sqlite3_stmt *stmt;
	int           ret = -1, rc;

	if (tx_begin(s, err) == -1)
		return (-1);
	if ((stmt = sq_prep(&s->w, S_ART_INSERT, err)) == NULL)
		goto out;
	bind_text(stmt, 1, task_id);
	bind_text(stmt, 2, path);
	sqlite3_bind_int64(stmt, 3, now);
	if (sq_run(&s->w, stmt, "artifact", err) == -1)
		goto out;
	if ((stmt = sq_prep(&s->w, S_ART_BY_PATH, err)) == NULL)
		goto out;
	bind_text(stmt, 1, path);
	if ((rc = sqlite3_step(stmt)) != SQLITE_ROW) {
		sq_fail(&s->w, err, "artifact");
		sq_done(stmt);
		goto out;
	}
	rc = artifact_row_fn(&s->w, stmt, out, NULL, err);
	sq_done(stmt);
	if (rc == -1)
		goto out;
	if (strcmp(out->task_id, task_id) != 0) {
		vsm_err_set(
		    err, "artifact %s belongs to task %s", path, out->task_id);
		store_artifact_clear(out); /* out->task_id names the owner */
		ret = STORE_EXISTS;
		goto out;
	}
	ret = 0;
out:
	/* tx_end() of a refusal rolls back and says -1: keep the reason. */
	if (tx_end(s, ret == 0, err) == -1 && ret == 0)
		ret = -1;
	if (ret == -1)
		store_artifact_clear(out);
	return (ret);
}

static int
sq_artifact_complete(void *db, int64_t id, int64_t size, const uint8_t *hash,
    int64_t now, struct vsm_err *err)
{
	struct sq    *s = db;
	sqlite3_stmt *stmt;
	int           ret = -1;

	if (tx_begin(s, err) == -1)
		return (-1);
	if ((stmt = sq_prep(&s->w, S_ART_COMPLETE, err)) == NULL)
		goto out;
	sqlite3_bind_int64(stmt, 1, size);
	sqlite3_bind_blob(stmt, 2, hash, STORE_HASH_LEN, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 3, now);
	sqlite3_bind_int64(stmt, 4, id);
	if (sq_run(&s->w, stmt, "artifact", err) == -1)
		goto out;
	if (sqlite3_changes(s->w.db) == 0) {
		vsm_err_set(err, "artifact %lld: unknown or already complete",
		    (long long)id);
		goto out;
	}
	ret = 0;
out:
	if (tx_end(s, ret == 0, err) == -1)
		ret = -1;
	return (ret);
}

static int
artifact_row_fn(struct sq_conn *c, sqlite3_stmt *stmt, void *elem,
    const void *arg, struct vsm_err *err)
{
	struct store_artifact *a = elem;

	a->id = sqlite3_column_int64(stmt, 0);
	col_copy(stmt, 1, a->task_id, sizeof(a->task_id));
	if ((a->path = col_dup(stmt, 2)) == NULL)
		return (vsm_err_set(err, "store: out of memory"));
	a->size = sqlite3_column_int64(stmt, 3);
	col_blob(stmt, 4, a->blake2b, sizeof(a->blake2b));
	a->complete = sqlite3_column_int(stmt, 5);
	a->created_at = sqlite3_column_int64(stmt, 6);
	a->completed_at = sqlite3_column_int64(stmt, 7);
	return (0);
}

static void
artifacts_free(void *v, size_t n)
{
	store_artifacts_free(v, n);
}

static int
sq_artifact_list(void *db, const char *task_id, struct store_artifact **out,
    size_t *n, struct vsm_err *err)
{
	struct sq    *s = db;
	sqlite3_stmt *stmt;
	void         *v = NULL;
	int           ret = -1;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&s->r.lock);
	if ((stmt = sq_prep(&s->r, S_ART_LIST, err)) != NULL) {
		bind_text(stmt, 1, task_id);
		ret = sq_collect(&s->r, stmt, sizeof(struct store_artifact),
		    STORE_FANOUT_MAX, artifact_row_fn, NULL, artifacts_free,
		    "artifacts", &v, n, err);
	}
	sq_done(stmt);
	pthread_mutex_unlock(&s->r.lock);
	*out = v;
	return (ret);
}

/* ------------------------------------------------------------------------ */
/* Audit */

static int
sq_audit_append(void *db, const struct store_actor *who, const char *action,
    const char *target, const char *detail, int64_t now, struct vsm_err *err)
{
	struct sq *s = db;
	int        ret;

	if (tx_begin(s, err) == -1)
		return (-1);
	ret = audit_insert(s, who, action, target, detail, now, err);
	if (tx_end(s, ret == 0, err) == -1)
		ret = -1;
	return (ret);
}

static int
audit_row_fn(struct sq_conn *c, sqlite3_stmt *stmt, void *elem, const void *arg,
    struct vsm_err *err)
{
	struct store_audit *a = elem;

	a->id = sqlite3_column_int64(stmt, 0);
	a->at = sqlite3_column_int64(stmt, 1);
	col_copy(stmt, 2, a->who, sizeof(a->who));
	col_copy(stmt, 3, a->role, sizeof(a->role));
	col_copy(stmt, 4, a->action, sizeof(a->action));
	a->target = col_dup(stmt, 5);
	a->detail = col_dup(stmt, 6);
	if (a->target == NULL || a->detail == NULL) {
		free(a->target);
		free(a->detail);
		return (vsm_err_set(err, "store: out of memory"));
	}
	return (0);
}

static void
audit_free(void *v, size_t n)
{
	store_audit_free(v, n);
}

static int
sq_audit_list(void *db, int64_t before_id, size_t limit,
    struct store_audit **out, size_t *n, struct vsm_err *err)
{
	struct sq    *s = db;
	sqlite3_stmt *stmt;
	void         *v = NULL;
	int           ret = -1;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&s->r.lock);
	if ((stmt = sq_prep(&s->r, S_AUDIT_LIST, err)) != NULL) {
		sqlite3_bind_int64(
		    stmt, 1, before_id > 0 ? before_id : INT64_MAX);
		sqlite3_bind_int64(stmt, 2, (int64_t)limit);
		ret = sq_collect(&s->r, stmt, sizeof(struct store_audit),
		    STORE_LIST_MAX, audit_row_fn, NULL, audit_free, "audit", &v,
		    n, err);
	}
	sq_done(stmt);
	pthread_mutex_unlock(&s->r.lock);
	*out = v;
	return (ret);
}

/* ------------------------------------------------------------------------ */
/* Wake-ups and schedules */

static int
sq_task_wake_hosts(void *db, int64_t since, int64_t now, size_t max,
    int64_t **ids, size_t *n, struct vsm_err *err)
{
	struct sq    *s = db;
	sqlite3_stmt *stmt;
	int64_t      *v = NULL, *nv;
	size_t        cap = 0, len = 0;
	int           rc = SQLITE_ERROR, ret = -1;

	pthread_mutex_lock(&s->r.lock);
	if ((stmt = sq_prep(&s->r, S_TASK_WAKE, err)) == NULL)
		goto out;
	sqlite3_bind_int64(stmt, 1, since);
	sqlite3_bind_int64(stmt, 2, now);
	sqlite3_bind_int64(stmt, 3, (int64_t)max);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			if ((nv = reallocarray(v, cap, sizeof(*v))) == NULL) {
				vsm_err_set(err, "store: out of memory");
				goto out;
			}
			v = nv;
		}
		v[len++] = sqlite3_column_int64(stmt, 0);
	}
	if (rc != SQLITE_DONE) {
		sq_fail(&s->r, err, "hosts to wake");
		goto out;
	}
	ret = 0;
out:
	sq_done(stmt);
	pthread_mutex_unlock(&s->r.lock);
	if (ret == -1) {
		free(v);
		v = NULL;
		len = 0;
	}
	*ids = v;
	*n = len;
	return (ret);
}

/* A row of SCHED_COLS into the zeroed *o; 0 or -1 with err set. */
static int
sched_row(sqlite3_stmt *stmt, struct store_schedule *o, struct vsm_err *err)
{
	const char *t;

	memset(o, 0, sizeof(*o));
	col_copy(stmt, 0, o->name, sizeof(o->name));
	t = (const char *)sqlite3_column_text(stmt, 1);
	o->source = t != NULL && strcmp(t, "config") == 0 ? STORE_SCHED_CONFIG
	                                                  : STORE_SCHED_API;
	col_copy(stmt, 2, o->module, sizeof(o->module));
	o->params = col_dup(stmt, 3);
	o->target = col_dup(stmt, 4);
	col_copy(stmt, 5, o->cron, sizeof(o->cron));
	col_copy(stmt, 6, o->tz, sizeof(o->tz));
	col_copy(stmt, 7, o->window, sizeof(o->window));
	if (store_window_policy_parse(
	        (const char *)sqlite3_column_text(stmt, 8),
	        &o->window_policy) == -1 ||
	    store_overlap_parse((const char *)sqlite3_column_text(stmt, 9),
	        &o->overlap) == -1) {
		store_schedule_clear(o);
		return (vsm_err_set(err, "store: schedule: malformed row"));
	}
	o->max_parallel = sqlite3_column_int(stmt, 10);
	o->max_parallel_pct = sqlite3_column_int(stmt, 11);
	o->splay_ms = sqlite3_column_int64(stmt, 12);
	o->timeout_ms = sqlite3_column_int64(stmt, 13);
	o->run_timeout_ms = sqlite3_column_int64(stmt, 14);
	o->starting_deadline_ms = sqlite3_column_int64(stmt, 15);
	o->retries = sqlite3_column_int(stmt, 16);
	o->enabled = sqlite3_column_int(stmt, 17);
	col_copy(stmt, 18, o->created_by, sizeof(o->created_by));
	o->created_at = sqlite3_column_int64(stmt, 19);
	o->updated_at = sqlite3_column_int64(stmt, 20);
	o->next_due = sqlite3_column_int64(stmt, 21);
	o->pending_due = sqlite3_column_int64(stmt, 22);
	o->last_due = sqlite3_column_int64(stmt, 23);
	o->last_at = sqlite3_column_int64(stmt, 24);
	store_run_outcome_parse(
	    (const char *)sqlite3_column_text(stmt, 25), &o->last_outcome);
	col_copy(stmt, 26, o->last_reason, sizeof(o->last_reason));
	col_copy(stmt, 27, o->last_job, sizeof(o->last_job));
	if (o->params == NULL || o->target == NULL) {
		store_schedule_clear(o);
		return (vsm_err_set(err, "store: out of memory"));
	}
	return (0);
}

/* The schedule named name on connection c (lock held): 0, NOTFOUND, -1. */
static int
sched_lookup(struct sq_conn *c, const char *name, struct store_schedule *out,
    int *cfg_enabled, struct vsm_err *err)
{
	sqlite3_stmt *stmt;
	int           rc, ret = -1;

	if ((stmt = sq_prep(c, S_SCHED_GET, err)) == NULL)
		return (-1);
	bind_text(stmt, 1, name);
	if ((rc = sqlite3_step(stmt)) == SQLITE_DONE)
		ret = STORE_NOTFOUND;
	else if (rc != SQLITE_ROW)
		sq_fail(c, err, "schedule");
	else if ((ret = sched_row(stmt, out, err)) == 0 && cfg_enabled != NULL)
		*cfg_enabled = sqlite3_column_int(stmt, 28);
	sq_done(stmt);
	return (ret);
}

/*
 * Bind a schedule's definition as ?at..?at+14, in the order of
 * S_SCHED_INSERT (at 3) and S_SCHED_REDEFINE (at 2).
 */
static void
sched_bind_def(sqlite3_stmt *stmt, int at, const struct store_schedule *v)
{
	bind_text(stmt, at, v->module);
	bind_text(stmt, at + 1, v->params != NULL ? v->params : "{}");
	bind_text(stmt, at + 2, v->target);
	bind_text(stmt, at + 3, v->cron);
	bind_text(stmt, at + 4, v->tz);
	bind_text(stmt, at + 5, v->window);
	bind_text(stmt, at + 6, store_window_policy_str(v->window_policy));
	bind_text(stmt, at + 7, store_overlap_str(v->overlap));
	sqlite3_bind_int(stmt, at + 8, v->max_parallel);
	sqlite3_bind_int(stmt, at + 9, v->max_parallel_pct);
	sqlite3_bind_int64(stmt, at + 10, v->splay_ms);
	sqlite3_bind_int64(stmt, at + 11, v->timeout_ms);
	sqlite3_bind_int64(stmt, at + 12, v->run_timeout_ms);
	sqlite3_bind_int64(stmt, at + 13, v->starting_deadline_ms);
	sqlite3_bind_int(stmt, at + 14, v->retries);
}

/* Insert schedule v as source src inside the caller's transaction. */
static int
sched_insert(struct sq *s, const struct store_schedule *v,
    enum store_sched_source src, const char *by, int64_t now,
    struct vsm_err *err)
{
	sqlite3_stmt *stmt;

	if ((stmt = sq_prep(&s->w, S_SCHED_INSERT, err)) == NULL)
		return (-1);
	bind_text(stmt, 1, v->name);
	bind_text(stmt, 2, store_sched_source_str(src));
	sched_bind_def(stmt, 3, v);
	sqlite3_bind_int(stmt, 18, v->enabled != 0);
	bind_text(stmt, 19, by);
	sqlite3_bind_int64(stmt, 20, now);
	sqlite3_bind_int64(stmt, 21, now);
	sqlite3_bind_int64(stmt, 22, v->next_due);
	sqlite3_bind_int64(stmt, 23, 0);
	sqlite3_bind_int64(stmt, 24, 0);
	sqlite3_bind_int64(stmt, 25, 0);
	bind_text(stmt, 26, "");
	bind_text(stmt, 27, "");
	bind_text(stmt, 28, "");
	return (sq_run(&s->w, stmt, "schedule insert", err));
}

static int
sq_sched_add(void *db, const struct store_actor *who,
    const struct store_schedule *v, int64_t now, struct vsm_err *err)
{
	struct sq            *s = db;
	struct store_schedule old;
	int                   rc, ret = -1;

	if (tx_begin(s, err) == -1)
		return (-1);
	if ((rc = sched_lookup(&s->w, v->name, &old, NULL, err)) == -1)
		goto out;
	if (rc == 0) {
		vsm_err_set(err, "schedule '%s' exists (%s)", v->name,
		    store_sched_source_str(old.source));
		store_schedule_clear(&old);
		goto out;
	}
	if (sched_insert(s, v, STORE_SCHED_API, who->who, now, err) == -1 ||
	    audit_insert(s, who, "schedule.add", v->name,
	        "{\"source\":\"api\"}", now, err) == -1)
		goto out;
	ret = 0;
out:
	if (tx_end(s, ret == 0, err) == -1)
		ret = -1;
	return (ret);
}

static int
sq_sched_remove(void *db, const struct store_actor *who, const char *name,
    int64_t now, struct vsm_err *err)
{
	struct sq            *s = db;
	struct store_schedule old;
	sqlite3_stmt         *stmt;
	int                   rc, ret = -1;

	if (tx_begin(s, err) == -1)
		return (-1);
	if ((rc = sched_lookup(&s->w, name, &old, NULL, err)) != 0) {
		if (rc == STORE_NOTFOUND) {
			vsm_err_set(err, "no schedule '%s'", name);
			ret = STORE_NOTFOUND;
		}
		goto out;
	}
	rc = old.source == STORE_SCHED_CONFIG;
	store_schedule_clear(&old);
	if (rc) {
		vsm_err_set(err,
		    "schedule '%s' is kept in the controller's config file: "
		    "remove it there (or disable it)",
		    name);
		goto out;
	}
	if ((stmt = sq_prep(&s->w, S_SCHED_DELETE, err)) == NULL)
		goto out;
	bind_text(stmt, 1, name);
	if (sq_run(&s->w, stmt, "schedule delete", err) == -1 ||
	    audit_insert(s, who, "schedule.remove", name, NULL, now, err) == -1)
		goto out;
	ret = 0;
out:
	if (tx_end(s, ret == 0, err) == -1 && ret == 0)
		ret = -1;
	return (ret);
}

static int
sq_sched_enable(void *db, const struct store_actor *who, const char *name,
    int enabled, int64_t next_due, int64_t now, struct vsm_err *err)
{
	struct sq            *s = db;
	struct store_schedule old;
	sqlite3_stmt         *stmt;
	int                   rc, ret = -1;

	if (tx_begin(s, err) == -1)
		return (-1);
	if ((rc = sched_lookup(&s->w, name, &old, NULL, err)) != 0) {
		if (rc == STORE_NOTFOUND) {
			vsm_err_set(err, "no schedule '%s'", name);
			ret = STORE_NOTFOUND;
		}
		goto out;
	}
	store_schedule_clear(&old);
	if ((stmt = sq_prep(&s->w, S_SCHED_ENABLE, err)) == NULL)
		goto out;
	bind_text(stmt, 1, name);
	sqlite3_bind_int(stmt, 2, enabled);
	sqlite3_bind_int64(stmt, 3, next_due);
	sqlite3_bind_int64(stmt, 4, now);
	if (sq_run(&s->w, stmt, "schedule enable", err) == -1)
		goto out;
	if ((stmt = sq_prep(&s->w, S_RUN_DROP_PENDING, err)) == NULL)
		goto out;
	bind_text(stmt, 1, name);
	sqlite3_bind_int64(stmt, 2, now);
	if (sq_run(&s->w, stmt, "schedule pending run", err) == -1 ||
	    audit_insert(s, who,
	        enabled ? "schedule.enable" : "schedule.disable", name, NULL,
	        now, err) == -1)
		goto out;
	ret = 0;
out:
	if (tx_end(s, ret == 0, err) == -1 && ret == 0)
		ret = -1;
	return (ret);
}

/* Does the file's definition b differ from the stored schedule a? */
static int
sched_differs(const struct store_schedule *a, const struct store_schedule *b)
{
	return (a->source != STORE_SCHED_CONFIG ||
	    strcmp(a->module, b->module) != 0 ||
	    strcmp(a->params != NULL ? a->params : "{}",
	        b->params != NULL ? b->params : "{}") != 0 ||
	    strcmp(a->target, b->target) != 0 ||
	    strcmp(a->cron, b->cron) != 0 || strcmp(a->tz, b->tz) != 0 ||
	    strcmp(a->window, b->window) != 0 ||
	    a->window_policy != b->window_policy || a->overlap != b->overlap ||
	    a->max_parallel != b->max_parallel ||
	    a->max_parallel_pct != b->max_parallel_pct ||
	    a->splay_ms != b->splay_ms || a->timeout_ms != b->timeout_ms ||
	    a->run_timeout_ms != b->run_timeout_ms ||
	    a->starting_deadline_ms != b->starting_deadline_ms ||
	    a->retries != b->retries);
}

/* Bring one config schedule in (the caller's transaction); *changed++. */
static int
sched_sync_one(struct sq *s, const struct store_actor *who,
    const struct store_schedule *v, int64_t now, size_t *changed,
    struct vsm_err *err)
{
	struct store_schedule old;
	sqlite3_stmt         *stmt;
	int                   rc, cfg_enabled = 1, enabled, ret = -1;

	if ((rc = sched_lookup(&s->w, v->name, &old, &cfg_enabled, err)) == -1)
		return (-1);
	if (rc == STORE_NOTFOUND) {
		(*changed)++;
		return (
		    sched_insert(s, v, STORE_SCHED_CONFIG, who->who, now, err));
	}
	/* The operator's enable/disable stands until the file changes. */
	enabled = (v->enabled != 0) != (cfg_enabled != 0) ? v->enabled != 0
	                                                  : old.enabled;
	if (!sched_differs(&old, v) && enabled == old.enabled &&
	    cfg_enabled == (v->enabled != 0)) {
		ret = 0;
		goto out;
	}
	if ((stmt = sq_prep(&s->w, S_SCHED_REDEFINE, err)) == NULL)
		goto out;
	bind_text(stmt, 1, v->name);
	sched_bind_def(stmt, 2, v);
	sqlite3_bind_int(stmt, 17, enabled);
	sqlite3_bind_int(stmt, 18, v->enabled != 0);
	sqlite3_bind_int64(stmt, 19, now);
	sqlite3_bind_int(stmt, 20,
	    strcmp(old.cron, v->cron) != 0 || strcmp(old.tz, v->tz) != 0 ||
	        (enabled && !old.enabled));
	if (sq_run(&s->w, stmt, "schedule update", err) == -1)
		goto out;
	/* Disabled: its queued or waiting run is dropped, as on disable. */
	if (!enabled) {
		if ((stmt = sq_prep(&s->w, S_RUN_DROP_PENDING, err)) == NULL)
			goto out;
		bind_text(stmt, 1, v->name);
		sqlite3_bind_int64(stmt, 2, now);
		if (sq_run(&s->w, stmt, "schedule pending run", err) == -1)
			goto out;
	}
	(*changed)++;
	ret = 0;
out:
	store_schedule_clear(&old);
	return (ret);
}

/* Is name one of v[0..n)? */
static int
sched_listed(const struct store_schedule *v, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return (1);
	return (0);
}

static int
sq_sched_sync(void *db, const struct store_actor *who,
    const struct store_schedule *v, size_t n, int64_t now, size_t *changed,
    struct vsm_err *err)
{
	struct sq    *s = db;
	sqlite3_stmt *stmt;
	char        **gone = NULL, **ng, detail[64];
	size_t        i, ngone = 0;
	int           rc, ret = -1;

	if (tx_begin(s, err) == -1)
		return (-1);
	for (i = 0; i < n; i++)
		if (sched_sync_one(s, who, &v[i], now, changed, err) == -1)
			goto out;
	/* Config schedules no longer in the file go, with their runs. */
	if ((stmt = sq_prep(&s->w, S_SCHED_CONFIG_NAMES, err)) == NULL)
		goto out;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(stmt, 0);

		if (name == NULL || sched_listed(v, n, name))
			continue;
		if ((ng = reallocarray(gone, ngone + 1, sizeof(*ng))) == NULL ||
		    (ng[ngone] = strdup(name)) == NULL) {
			if (ng != NULL)
				gone = ng;
			vsm_err_set(err, "store: out of memory");
			sq_done(stmt);
			goto out;
		}
		gone = ng;
		ngone++;
	}
	sq_done(stmt);
	if (rc != SQLITE_DONE) {
		sq_fail(&s->w, err, "config schedules");
		goto out;
	}
	for (i = 0; i < ngone; i++) {
		if ((stmt = sq_prep(&s->w, S_SCHED_DELETE, err)) == NULL)
			goto out;
		bind_text(stmt, 1, gone[i]);
		if (sq_run(&s->w, stmt, "schedule delete", err) == -1)
			goto out;
		(*changed)++;
	}
	if (*changed > 0) {
		snprintf(detail, sizeof(detail),
		    "{\"schedules\":%zu,\"changed\":%zu}", n, *changed);
		if (audit_insert(
		        s, who, "schedule.config", "", detail, now, err) == -1)
			goto out;
	}
	ret = 0;
out:
	for (i = 0; i < ngone; i++)
		free(gone[i]);
	free(gone);
	if (tx_end(s, ret == 0, err) == -1)
		ret = -1;
	if (ret == -1)
		*changed = 0;
	return (ret);
}

static int
sq_sched_get(
    void *db, const char *name, struct store_schedule *out, struct vsm_err *err)
{
	struct sq *s = db;
	int        ret;

	pthread_mutex_lock(&s->r.lock);
	ret = sched_lookup(&s->r, name, out, NULL, err);
	pthread_mutex_unlock(&s->r.lock);
	return (ret);
}

static int
sched_row_fn(struct sq_conn *c, sqlite3_stmt *stmt, void *elem, const void *arg,
    struct vsm_err *err)
{
	(void)c;
	(void)arg;
	return (sched_row(stmt, elem, err));
}

static void
schedules_free(void *v, size_t n)
{
	store_schedules_free(v, n);
}

static int
sq_sched_list(
    void *db, struct store_schedule **out, size_t *n, struct vsm_err *err)
{
	void *v = NULL;
	int   ret;

	ret = sq_list_all(db, S_SCHED_LIST, sizeof(struct store_schedule),
	    sched_row_fn, schedules_free, "schedules", &v, n, err);
	*out = v;
	return (ret);
}

/* A run row, and its job's task counts (on the same connection). */
static int
run_row_fn(struct sq_conn *c, sqlite3_stmt *stmt, void *elem, const void *arg,
    struct vsm_err *err)
{
	struct store_sched_run *r = elem;
	enum store_task_state   ts;
	sqlite3_stmt           *cnt;
	int                     rc;

	(void)arg;
	r->id = sqlite3_column_int64(stmt, 0);
	col_copy(stmt, 1, r->schedule, sizeof(r->schedule));
	r->due_at = sqlite3_column_int64(stmt, 2);
	r->at = sqlite3_column_int64(stmt, 3);
	if (store_run_outcome_parse(
	        (const char *)sqlite3_column_text(stmt, 4), &r->outcome) == -1)
		return (vsm_err_set(err, "store: run: malformed outcome"));
	col_copy(stmt, 5, r->reason, sizeof(r->reason));
	col_copy(stmt, 6, r->job_id, sizeof(r->job_id));
	if (r->job_id[0] == '\0')
		return (0);
	if ((cnt = sq_prep(c, S_JOB_COUNTS, err)) == NULL)
		return (-1);
	bind_text(cnt, 1, r->job_id);
	while ((rc = sqlite3_step(cnt)) == SQLITE_ROW)
		if (store_task_state_parse(
		        (const char *)sqlite3_column_text(cnt, 0), &ts) == 0) {
			r->nstate[ts] = (size_t)sqlite3_column_int64(cnt, 1);
			r->ntasks += r->nstate[ts];
		}
	sq_done(cnt);
	if (rc != SQLITE_DONE)
		return (sq_fail(c, err, "run tasks"));
	return (0);
}

static int
sq_sched_runs(void *db, const char *name, size_t limit,
    struct store_sched_run **out, size_t *n, struct vsm_err *err)
{
	struct sq    *s = db;
	sqlite3_stmt *stmt;
	void         *v = NULL;
	int           ret = -1;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&s->r.lock);
	if ((stmt = sq_prep(&s->r, S_RUN_LIST, err)) != NULL) {
		bind_text(stmt, 1, name);
		sqlite3_bind_int64(stmt, 2, (int64_t)limit);
		ret = sq_collect(&s->r, stmt, sizeof(struct store_sched_run),
		    STORE_LIST_MAX, run_row_fn, NULL, sq_free_plain, "runs", &v,
		    n, err);
	}
	sq_done(stmt);
	pthread_mutex_unlock(&s->r.lock);
	*out = v;
	return (ret);
}

static int
sq_sched_step(void *db, const struct store_actor *who,
    const struct store_sched_step *st, int64_t now, char *job_id,
    struct vsm_err *err)
{
	struct sq            *s = db;
	struct store_schedule old;
	sqlite3_stmt         *stmt;
	int                   rc, ret = -1;

	job_id[0] = '\0';
	if (tx_begin(s, err) == -1)
		return (-1);
	if ((rc = sched_lookup(&s->w, st->schedule, &old, NULL, err)) != 0) {
		if (rc == STORE_NOTFOUND) {
			vsm_err_set(err, "no schedule '%s'", st->schedule);
			ret = STORE_NOTFOUND;
		}
		goto out;
	}
	store_schedule_clear(&old);
	if (st->job != NULL &&
	    job_insert(s, who, st->job, now, job_id, err) == -1)
		goto out;
	if ((stmt = sq_prep(
	         &s->w, st->update ? S_RUN_UPDATE : S_RUN_INSERT, err)) == NULL)
		goto out;
	bind_text(stmt, 1, st->schedule);
	sqlite3_bind_int64(stmt, 2, st->due_at);
	sqlite3_bind_int64(stmt, 3, now);
	bind_text(stmt, 4, store_run_outcome_str(st->outcome));
	bind_text(stmt, 5, st->reason != NULL ? st->reason : "");
	bind_text(stmt, 6, st->job != NULL ? job_id : NULL);
	if (sq_run(&s->w, stmt, "schedule run", err) == -1)
		goto out;
	if (sqlite3_changes(s->w.db) == 0) {
		vsm_err_set(err,
		    "schedule '%s': the run due at %lld was "
		    "recorded before",
		    st->schedule, (long long)st->due_at);
		ret = STORE_EXISTS;
		goto out;
	}
	if (st->replaced_job != NULL) {
		if ((stmt = sq_prep(&s->w, S_RUN_REPLACED, err)) == NULL)
			goto out;
		bind_text(stmt, 1, st->schedule);
		bind_text(stmt, 2, st->replaced_job);
		sqlite3_bind_int64(stmt, 3, now);
		if (sq_run(&s->w, stmt, "replaced run", err) == -1)
			goto out;
	}
	if ((stmt = sq_prep(&s->w, S_SCHED_STATE, err)) == NULL)
		goto out;
	bind_text(stmt, 1, st->schedule);
	sqlite3_bind_int64(stmt, 2, st->next_due);
	sqlite3_bind_int64(stmt, 3, st->pending_due);
	sqlite3_bind_int64(stmt, 4, st->due_at);
	sqlite3_bind_int64(stmt, 5, now);
	bind_text(stmt, 6, store_run_outcome_str(st->outcome));
	bind_text(stmt, 7, st->reason != NULL ? st->reason : "");
	bind_text(stmt, 8, st->job != NULL ? job_id : NULL);
	if (sq_run(&s->w, stmt, "schedule state", err) == -1)
		goto out;
	ret = 0;
out:
	if (ret != 0) {
		tx_end(s, 0, NULL);
		job_id[0] = '\0';
		return (ret);
	}
	if (tx_end(s, 1, err) == -1) {
		job_id[0] = '\0';
		return (-1);
	}
	return (0);
}

static int
sq_sched_missed(void *db, const char *name, const struct store_missed *v,
    size_t n, int64_t next_due, int64_t now, struct vsm_err *err)
{
	struct sq            *s = db;
	struct store_schedule old;
	sqlite3_stmt         *stmt;
	size_t                i, newest = 0;
	int                   rc, ret = -1;

	if (tx_begin(s, err) == -1)
		return (-1);
	if ((rc = sched_lookup(&s->w, name, &old, NULL, err)) != 0) {
		if (rc == STORE_NOTFOUND) {
			vsm_err_set(err, "no schedule '%s'", name);
			ret = STORE_NOTFOUND;
		}
		goto out;
	}
	store_schedule_clear(&old);
	for (i = 0; i < n; i++) {
		if ((stmt = sq_prep(&s->w, S_RUN_INSERT, err)) == NULL)
			goto out;
		bind_text(stmt, 1, name);
		sqlite3_bind_int64(stmt, 2, v[i].due_at);
		sqlite3_bind_int64(stmt, 3, now);
		bind_text(stmt, 4, store_run_outcome_str(STORE_RUN_MISSED));
		bind_text(stmt, 5, v[i].reason);
		bind_text(stmt, 6, NULL);
		if (sq_run(&s->w, stmt, "missed run", err) == -1)
			goto out;
		if (v[i].due_at > v[newest].due_at)
			newest = i;
	}
	if ((stmt = sq_prep(&s->w, S_SCHED_NEXT, err)) == NULL)
		goto out;
	bind_text(stmt, 1, name);
	sqlite3_bind_int64(stmt, 2, next_due);
	if (sq_run(&s->w, stmt, "schedule next", err) == -1)
		goto out;
	if (n > 0) {
		if ((stmt = sq_prep(&s->w, S_SCHED_LAST, err)) == NULL)
			goto out;
		bind_text(stmt, 1, name);
		sqlite3_bind_int64(stmt, 2, v[newest].due_at);
		sqlite3_bind_int64(stmt, 3, now);
		bind_text(stmt, 4, store_run_outcome_str(STORE_RUN_MISSED));
		bind_text(stmt, 5, v[newest].reason);
		if (sq_run(&s->w, stmt, "schedule last", err) == -1)
			goto out;
	}
	ret = 0;
out:
	if (ret != 0) {
		tx_end(s, 0, NULL);
		return (ret);
	}
	return (tx_end(s, 1, err));
}

const struct store_backend store_backend_sqlite = {
    .name = "sqlite",
    .scheme = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .schema = sq_schema,
    .batch_begin = sq_batch_begin,
    .batch_commit = sq_batch_commit,
    .batch_abort = sq_batch_abort,
    .key_add = sq_key_add,
    .key_get = sq_key_get,
    .key_set_state = sq_key_set_state,
    .key_list = sq_key_list,
    .token_create = sq_token_create,
    .token_redeem = sq_token_redeem,
    .token_list = sq_token_list,
    .token_revoke = sq_token_revoke,
    .host_hello = sq_host_hello,
    .host_heartbeat = sq_host_heartbeat,
    .host_set_facts = sq_host_set_facts,
    .host_down = sq_host_down,
    .host_get = sq_host_get,
    .host_list = sq_host_list,
    .host_targets = sq_host_targets,
    .job_create = sq_job_create,
    .job_get = sq_job_get,
    .job_list = sq_job_list,
    .job_cancel = sq_job_cancel,
    .task_get = sq_task_get,
    .task_host = sq_task_host,
    .task_list = sq_task_list,
    .task_next = sq_task_next,
    .task_next_many = sq_task_next_many,
    .task_ack = sq_task_ack,
    .task_set_state = sq_task_set_state,
    .task_retry = sq_task_retry,
    .task_sweep = sq_task_sweep,
    .event_append = sq_event_append,
    .event_list = sq_event_list,
    .artifact_add = sq_artifact_add,
    .artifact_complete = sq_artifact_complete,
    .artifact_list = sq_artifact_list,
    .audit_append = sq_audit_append,
    .audit_list = sq_audit_list,
    .task_wake_hosts = sq_task_wake_hosts,
    .sched_add = sq_sched_add,
    .sched_remove = sq_sched_remove,
    .sched_enable = sq_sched_enable,
    .sched_sync = sq_sched_sync,
    .sched_get = sq_sched_get,
    .sched_list = sq_sched_list,
    .sched_runs = sq_sched_runs,
    .sched_step = sq_sched_step,
    .sched_missed = sq_sched_missed,
};
