/*
 * store_migrate.c: versioned schema migrations of the SQLite store.
 *
 * Migrations are an ordered table of {version, description, sql}. The
 * versions applied are rows of schema_version; each migration runs in its
 * own IMMEDIATE transaction together with its row, so a crash leaves the
 * store at the previous version, never half-way. Two processes opening
 * the same store at once serialise on the write lock and the second finds
 * nothing left to do. A store newer than this binary is refused: an old
 * binary must not write to a schema it does not know.
 *
 * Policy (docs/store.md): a released migration is never edited; changes
 * are new rows. The SQL here is constant text, never built from data.
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <sqlite3.h>

#include "err.h"
#include "log.h"
#include "store.h"

struct migration {
	int         version;
	const char *description;
	const char *sql;
};

static const struct migration migrations[] = {
    {
        .version = 1,
        .description = "keys, tokens, hosts, jobs, tasks, events, "
                       "artifacts, audit",
        .sql =
            "CREATE TABLE agent_keys ("
            " id INTEGER PRIMARY KEY,"
            " name TEXT NOT NULL,"
            " pubkey BLOB NOT NULL UNIQUE CHECK (length(pubkey) = 32),"
            " state TEXT NOT NULL CHECK (state IN"
            "  ('pending', 'accepted', 'rejected', 'revoked')),"
            " created_at INTEGER NOT NULL,"
            " updated_at INTEGER NOT NULL);"
            /* One live key per host name: the backstop of key_add. */
            "CREATE UNIQUE INDEX agent_keys_live_name ON agent_keys (name)"
            " WHERE state IN ('pending', 'accepted');"
            "CREATE INDEX agent_keys_name ON agent_keys (name);"

            "CREATE TABLE enroll_tokens ("
            " id INTEGER PRIMARY KEY,"
            " hash BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),"
            " uses_total INTEGER NOT NULL CHECK (uses_total > 0),"
            " uses_left INTEGER NOT NULL CHECK (uses_left >= 0),"
            " revoked INTEGER NOT NULL DEFAULT 0,"
            " expires_at INTEGER NOT NULL,"
            " created_at INTEGER NOT NULL,"
            " created_by TEXT NOT NULL);"

            "CREATE TABLE hosts ("
            " id INTEGER PRIMARY KEY,"
            " name TEXT NOT NULL UNIQUE,"
            " key_id INTEGER NOT NULL REFERENCES agent_keys (id),"
            " labels TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(labels)),"
            " facts TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(facts)),"
            " capabilities TEXT NOT NULL DEFAULT '[]'"
            "  CHECK (json_valid(capabilities)),"
            " agent_version TEXT NOT NULL DEFAULT '',"
            " up INTEGER NOT NULL DEFAULT 0,"
            " first_seen INTEGER NOT NULL,"
            " last_seen INTEGER NOT NULL,"
            " cpu_pct REAL, mem_pct REAL, disk_pct REAL);"

            "CREATE TABLE jobs ("
            " id TEXT PRIMARY KEY,"
            " module TEXT NOT NULL,"
            " params TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(params)),"
            " target TEXT NOT NULL DEFAULT '',"
            " timeout_ms INTEGER NOT NULL,"
            " max_retries INTEGER NOT NULL DEFAULT 0,"
            " created_by TEXT NOT NULL,"
            " created_at INTEGER NOT NULL);"
            "CREATE INDEX jobs_created ON jobs (created_at);"

            "CREATE TABLE tasks ("
            " id TEXT PRIMARY KEY,"
            " job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,"
            " host_id INTEGER NOT NULL REFERENCES hosts (id),"
            " state TEXT NOT NULL CHECK (state IN ('queued', 'sent',"
            "  'running', 'ok', 'warn', 'fail', 'error', 'cancelled',"
            "  'timeout', 'lost')),"
            " attempt INTEGER NOT NULL DEFAULT 0,"
            " max_retries INTEGER NOT NULL DEFAULT 0,"
            " created_at INTEGER NOT NULL,"
            " sent_at INTEGER, acked_at INTEGER, deadline_at INTEGER,"
            " finished_at INTEGER,"
            " UNIQUE (job_id, host_id));"
            "CREATE INDEX tasks_host_state ON tasks (host_id, state,"
            " created_at);"
            "CREATE INDEX tasks_state_deadline ON tasks (state, deadline_at);"

            "CREATE TABLE task_events ("
            " task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,"
            " seq INTEGER NOT NULL,"
            " kind TEXT NOT NULL CHECK (kind IN"
            "  ('status', 'result', 'log', 'progress')),"
            " at INTEGER NOT NULL,"
            " status TEXT,"
            " progress INTEGER,"
            " text TEXT,"
            " CHECK (kind <> 'result' OR json_valid(text)),"
            " PRIMARY KEY (task_id, seq)) WITHOUT ROWID;"

            "CREATE TABLE artifacts ("
            " id INTEGER PRIMARY KEY,"
            " task_id TEXT NOT NULL REFERENCES tasks (id),"
            " path TEXT NOT NULL UNIQUE,"
            " size INTEGER NOT NULL DEFAULT 0,"
            " blake2b BLOB CHECK (blake2b IS NULL OR length(blake2b) = 32),"
            " complete INTEGER NOT NULL DEFAULT 0,"
            " created_at INTEGER NOT NULL,"
            " completed_at INTEGER);"
            "CREATE INDEX artifacts_task ON artifacts (task_id);"

            "CREATE TABLE audit ("
            " id INTEGER PRIMARY KEY,"
            " at INTEGER NOT NULL,"
            " who TEXT NOT NULL,"
            " role TEXT NOT NULL,"
            " action TEXT NOT NULL,"
            " target TEXT NOT NULL DEFAULT '',"
            " detail TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail)));",
    },
    {
        .version = 2,
        .description = "jobs.dry_run",
        .sql = "ALTER TABLE jobs ADD COLUMN dry_run INTEGER NOT NULL "
               "DEFAULT 0 CHECK (dry_run IN (0, 1));",
    },
    {
        .version = 3,
        .description = "schedules, schedule_runs, jobs.max_parallel, "
                       "jobs.window_end, jobs.schedule, tasks.not_before",
        .sql = "ALTER TABLE jobs ADD COLUMN max_parallel INTEGER NOT NULL "
               "DEFAULT 0 CHECK (max_parallel >= 0);"
               "ALTER TABLE jobs ADD COLUMN window_end INTEGER NOT NULL "
               "DEFAULT 0;"
               "ALTER TABLE jobs ADD COLUMN schedule TEXT NOT NULL DEFAULT '';"
               "ALTER TABLE tasks ADD COLUMN not_before INTEGER NOT NULL "
               "DEFAULT 0;"
               /* Held back by not_before or its job's max_parallel. */
               "ALTER TABLE tasks ADD COLUMN gated INTEGER NOT NULL "
               "DEFAULT 0 CHECK (gated IN (0, 1));"
               /*
                * What max_parallel counts, per job: every task of such a
                * job is gated, so other jobs' claims never touch it.
                */
               "CREATE INDEX tasks_inflight ON tasks (job_id) WHERE gated = 1 "
               "AND state IN ('sent', 'running');"
               /* What the scheduler's tick wakes hosts for. */
               "CREATE INDEX tasks_gated ON tasks (not_before) WHERE "
               "state = 'queued' AND gated = 1;"

               "CREATE TABLE schedules ("
               " name TEXT PRIMARY KEY,"
               " source TEXT NOT NULL CHECK (source IN ('api', 'config')),"
               " module TEXT NOT NULL,"
               " params TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(params)),"
               " target TEXT NOT NULL,"
               " cron TEXT NOT NULL,"
               " tz TEXT NOT NULL DEFAULT '',"
               " win TEXT NOT NULL DEFAULT '',"
               " window_policy TEXT NOT NULL DEFAULT 'wait' CHECK"
               "  (window_policy IN ('wait', 'skip')),"
               " overlap TEXT NOT NULL DEFAULT 'skip' CHECK (overlap IN"
               "  ('skip', 'queue', 'replace', 'allow')),"
               " max_parallel INTEGER NOT NULL DEFAULT 0,"
               " max_parallel_pct INTEGER NOT NULL DEFAULT 0,"
               " splay_ms INTEGER NOT NULL DEFAULT 0,"
               " timeout_ms INTEGER NOT NULL,"
               " run_timeout_ms INTEGER NOT NULL DEFAULT 0,"
               " starting_deadline_ms INTEGER NOT NULL,"
               " retries INTEGER NOT NULL DEFAULT 0,"
               " enabled INTEGER NOT NULL DEFAULT 1,"
               /* What the file said last: an operator's override stands
                * until the file changes it. */
               " cfg_enabled INTEGER NOT NULL DEFAULT 1,"
               " created_by TEXT NOT NULL,"
               " created_at INTEGER NOT NULL,"
               " updated_at INTEGER NOT NULL,"
               " next_due INTEGER NOT NULL DEFAULT 0,"
               " pending_due INTEGER NOT NULL DEFAULT 0,"
               " last_due INTEGER NOT NULL DEFAULT 0,"
               " last_at INTEGER NOT NULL DEFAULT 0,"
               " last_outcome TEXT NOT NULL DEFAULT '',"
               " last_reason TEXT NOT NULL DEFAULT '',"
               " last_job TEXT NOT NULL DEFAULT '');"

               /* One row per run: a restart never fires a due instant
                * twice. */
               "CREATE TABLE schedule_runs ("
               " id INTEGER PRIMARY KEY,"
               " schedule TEXT NOT NULL REFERENCES schedules (name)"
               "  ON DELETE CASCADE,"
               " due_at INTEGER NOT NULL,"
               " at INTEGER NOT NULL,"
               " outcome TEXT NOT NULL CHECK (outcome IN ('fired', 'queued',"
               "  'waiting', 'skipped', 'missed', 'replaced', 'failed')),"
               " reason TEXT NOT NULL DEFAULT '',"
               " job_id TEXT REFERENCES jobs (id),"
               " UNIQUE (schedule, due_at));"
               "CREATE INDEX schedule_runs_job ON schedule_runs (job_id);",
    },
};

#define NMIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

static int64_t
migrate_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* The highest applied version into *v (0 for a new store). */
static int
migrate_current(sqlite3 *db, int *v, struct vsm_err *err)
{
	sqlite3_stmt *stmt = NULL;
	int           ret = -1;

	if (sqlite3_prepare_v2(db,
	        "SELECT coalesce(max(version), 0) FROM schema_version", -1,
	        &stmt, NULL) != SQLITE_OK ||
	    sqlite3_step(stmt) != SQLITE_ROW) {
		vsm_err_set(
		    err, "store schema version: %s", sqlite3_errmsg(db));
		goto out;
	}
	*v = sqlite3_column_int(stmt, 0);
	ret = 0;
out:
	sqlite3_finalize(stmt);
	return (ret);
}

static int
migrate_exec(
    sqlite3 *db, const char *sql, const char *what, struct vsm_err *err)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		vsm_err_set(err, "store %s: %s", what,
		    msg != NULL ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return (-1);
	}
	return (0);
}

/* Apply one migration and its schema_version row in one transaction. */
static int
migrate_one(sqlite3 *db, const struct migration *m, struct vsm_err *err)
{
	sqlite3_stmt *stmt = NULL;
	char          what[64];
	int           cur = 0, ret = -1;

	if (migrate_exec(db, "BEGIN IMMEDIATE", "migration", err) == -1)
		return (-1);
	/* Another process may have got here first. */
	if (migrate_current(db, &cur, err) == -1)
		goto out;
	if (cur >= m->version) {
		ret = 0;
		goto out;
	}
	snprintf(what, sizeof(what), "migration %d", m->version);
	if (migrate_exec(db, m->sql, what, err) == -1)
		goto out;
	if (sqlite3_prepare_v2(db,
	        "INSERT INTO schema_version (version, description, "
	        "applied_at) VALUES (?, ?, ?)",
	        -1, &stmt, NULL) != SQLITE_OK) {
		vsm_err_set(err, "store %s: %s", what, sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_bind_int(stmt, 1, m->version);
	sqlite3_bind_text(stmt, 2, m->description, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, migrate_now());
	if (sqlite3_step(stmt) != SQLITE_DONE) {
		vsm_err_set(err, "store %s: %s", what, sqlite3_errmsg(db));
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(stmt);
	if (ret == 0 && migrate_exec(db, "COMMIT", "migration", err) == -1)
		ret = -1;
	if (ret == -1)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	else if (cur < m->version)
		log_info("store: applied migration %d (%s)", m->version,
		    m->description);
	return (ret);
}

/*
 * Bring db to the latest schema. Refuses a store newer than this binary
 * and a broken migration table. Leaves no transaction open.
 */
int
store_sqlite_migrate(sqlite3 *db, struct vsm_err *err)
{
	size_t i;
	int    cur, latest = migrations[NMIGRATIONS - 1].version;

	for (i = 0; i < NMIGRATIONS; i++)
		if (migrations[i].version != (int)i + 1)
			return (vsm_err_set(err,
			    "store: migration table out of order at %zu", i));
	if (migrate_exec(db,
	        "CREATE TABLE IF NOT EXISTS schema_version ("
	        " version INTEGER PRIMARY KEY,"
	        " description TEXT NOT NULL,"
	        " applied_at INTEGER NOT NULL)",
	        "schema_version", err) == -1)
		return (-1);
	if (migrate_current(db, &cur, err) == -1)
		return (-1);
	if (cur > latest)
		return (vsm_err_set(err,
		    "store schema version %d is newer than this vsm-controller "
		    "supports (%d): upgrade vsm-controller or restore a "
		    "matching backup",
		    cur, latest));
	for (i = (size_t)cur; i < NMIGRATIONS; i++)
		if (migrate_one(db, &migrations[i], err) == -1)
			return (-1);
	return (0);
}

int
store_sqlite_schema(sqlite3 *db, int *current, int *latest, struct vsm_err *err)
{
	*latest = migrations[NMIGRATIONS - 1].version;
	return (migrate_current(db, current, err));
}
