/*
 * test_ctl_store.c: the controller store (controller/store.h) on its
 * SQLite backend: migrations, enrollment keys and tokens, the registry,
 * job fan-out and task claims, idempotent events, the batching writer,
 * the audit log and durability across close/reopen.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>
#include <sqlite3.h>

#include "store.h"
#include "tu_store.h"

#define NOW INT64_C(1700000000000)

static const struct store_actor admin = {"alice", "admin"};

static void
reopen(struct tu_store *f)
{
	struct vsm_err err = {""};

	store_close(f->st);
	f->st = NULL;
	if (store_open(f->path, &f->st, &err) == -1)
		fail_msg("reopen: %s", err.msg);
}

static sqlite3 *
raw_open(struct tu_store *f)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return (db);
}

static int64_t
raw_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *stmt;
	int64_t       v;

	assert_int_equal(
	    sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return (v);
}

static void
make_job(
    struct store *st, const int64_t *hosts, size_t n, char id[STORE_ID_LEN + 1])
{
	struct vsm_err        err = {""};
	struct store_job_spec spec = {.module = "sys.ping",
	    .params = "{\"count\":1}",
	    .target = "all",
	    .timeout_ms = 60000,
	    .max_retries = 1,
	    .hosts = hosts,
	    .nhosts = n};

	if (store_job_create(st, &admin, &spec, NOW, id, &err) != 0)
		fail_msg("job: %s", err.msg);
}

/* ------------------------------------------------------------------------ */

static void
fresh_store_migrates_to_latest(void **state)
{
	struct tu_store *f = *state;
	struct vsm_err   err = {""};
	sqlite3         *db;
	int              cur, latest;
	sqlite3_stmt    *stmt;

	assert_string_equal(store_backend_name(f->st), "sqlite");
	assert_int_equal(store_schema_version(f->st, &cur, &latest, &err), 0);
	assert_true(latest >= 1);
	assert_int_equal(cur, latest);
	db = raw_open(f);
	assert_int_equal(
	    raw_int(db, "SELECT count(*) FROM schema_version"), latest);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "wal");
	sqlite3_finalize(stmt);
	sqlite3_close(db);
}

static void
reopen_is_idempotent(void **state)
{
	struct tu_store *f = *state;
	struct vsm_err   err = {""};
	sqlite3         *db;
	int              cur, latest;

	reopen(f);
	reopen(f);
	assert_int_equal(store_schema_version(f->st, &cur, &latest, &err), 0);
	assert_int_equal(cur, latest);
	db = raw_open(f);
	assert_int_equal(
	    raw_int(db, "SELECT count(*) FROM schema_version"), latest);
	sqlite3_close(db);
}

static void
future_schema_is_refused(void **state)
{
	struct tu_store *f = *state;
	struct vsm_err   err = {""};
	struct store    *st2 = (struct store *)1;
	sqlite3         *db;

	store_close(f->st);
	f->st = NULL;
	db = raw_open(f);
	assert_int_equal(sqlite3_exec(db,
	                     "INSERT INTO schema_version VALUES "
	                     "(999, 'from the future', 0)",
	                     NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(f->path, &st2, &err), -1);
	assert_null(st2);
	assert_non_null(strstr(err.msg, "newer"));
	assert_non_null(strstr(err.msg, "999"));
	/* Let teardown close something valid: remove the future row. */
	db = raw_open(f);
	sqlite3_exec(db, "DELETE FROM schema_version WHERE version = 999", NULL,
	    NULL, NULL);
	sqlite3_close(db);
	reopen(f);
}

static void
uri_schemes_pick_the_backend(void **state)
{
	struct tu_store *f = *state;
	struct vsm_err   err = {""};
	struct store    *st2 = NULL;
	char             uri[200];

	assert_int_equal(store_open("postgresql://db/vsm", &st2, &err), -1);
	assert_non_null(strstr(err.msg, "not built yet"));
	assert_int_equal(store_open("mysql://db/vsm", &st2, &err), -1);
	assert_non_null(strstr(err.msg, "unknown scheme"));
	assert_int_equal(store_open("sqlite:", &st2, &err), -1);
	/* A second process-level handle on the same file works (WAL). */
	snprintf(uri, sizeof(uri), "sqlite:%s", f->path);
	assert_int_equal(store_open(uri, &st2, &err), 0);
	assert_string_equal(store_backend_name(st2), "sqlite");
	store_close(st2);
}

static void
token_hash_stored_not_plaintext(void **state)
{
	struct tu_store *f = *state;
	struct vsm_err   err = {""};
	char             tok[STORE_TOKEN_LEN + 1];
	uint8_t          want[STORE_HASH_LEN];
	int64_t          id, rid;
	sqlite3         *db;
	sqlite3_stmt    *stmt;
	int              i;

	assert_int_equal(
	    store_token_create(f->st, &admin, 0, 3600000, NOW, tok, &id, &err),
	    0);
	assert_int_equal(strlen(tok), STORE_TOKEN_LEN);
	crypto_generichash(want, sizeof(want), (const unsigned char *)tok,
	    strlen(tok), NULL, 0);
	db = raw_open(f);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "SELECT * FROM enroll_tokens WHERE id = ?",
	        -1, &stmt, NULL),
	    SQLITE_OK);
	sqlite3_bind_int64(stmt, 1, id);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	for (i = 0; i < sqlite3_column_count(stmt); i++) {
		const void *b = sqlite3_column_blob(stmt, i);
		int         len = sqlite3_column_bytes(stmt, i);

		if (strcmp(sqlite3_column_name(stmt, i), "hash") == 0) {
			assert_int_equal(len, STORE_HASH_LEN);
			assert_memory_equal(b, want, STORE_HASH_LEN);
		}
		/* The plaintext is nowhere in the row. */
		assert_false(b != NULL && len == STORE_TOKEN_LEN &&
		    memcmp(b, tok, STORE_TOKEN_LEN) == 0);
	}
	assert_int_equal(sqlite3_column_int(stmt, 2), 1); /* uses_total */
	sqlite3_finalize(stmt);
	sqlite3_close(db);

	/* One use by default. */
	assert_int_equal(
	    store_token_redeem(f->st, tok, NOW + 1, &rid, &err), 0);
	assert_int_equal(rid, id);
	assert_int_equal(
	    store_token_redeem(f->st, tok, NOW + 2, &rid, &err), -1);
	assert_non_null(strstr(err.msg, "used up"));
}

static void
token_expired_exhausted_revoked_refused(void **state)
{
	struct tu_store    *f = *state;
	struct vsm_err      err = {""};
	char                tok[STORE_TOKEN_LEN + 1], tok2[STORE_TOKEN_LEN + 1];
	int64_t             id, id2;
	struct store_token *tl;
	size_t              n;

	assert_int_equal(
	    store_token_create(f->st, &admin, 2, 1000, NOW, tok, &id, &err), 0);
	assert_int_equal(
	    store_token_redeem(f->st, tok, NOW + 1000, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "expired"));
	assert_int_equal(
	    store_token_redeem(f->st, tok, NOW + 1, NULL, &err), 0);
	assert_int_equal(
	    store_token_redeem(f->st, tok, NOW + 2, NULL, &err), 0);
	assert_int_equal(
	    store_token_redeem(f->st, tok, NOW + 3, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "used up"));
	assert_int_equal(store_token_redeem(f->st,
	                     "0000000000000000000000000000000000000000000000"
	                     "000000000000000000",
	                     NOW, NULL, &err),
	    -1);
	assert_non_null(strstr(err.msg, "unknown"));

	assert_int_equal(
	    store_token_create(f->st, &admin, 5, 60000, NOW, tok2, &id2, &err),
	    0);
	assert_int_equal(store_token_revoke(f->st, &admin, id2, NOW, &err), 0);
	assert_int_equal(
	    store_token_redeem(f->st, tok2, NOW + 1, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "revoked"));

	assert_int_equal(store_token_list(f->st, &tl, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(tl[0].uses_left, 0);
	assert_int_equal(tl[0].uses_total, 2);
	assert_int_equal(tl[1].revoked, 1);
	assert_string_equal(tl[1].created_by, "alice");
	free(tl);
}

static void
key_states_and_duplicate_names(void **state)
{
	struct tu_store *f = *state;
	struct vsm_err   err = {""};
	uint8_t          k1[32], k2[32], k3[32];
	struct store_key a, b, c, *kl;
	char             tok[STORE_TOKEN_LEN + 1];
	int64_t          tid;
	size_t           n;

	memset(k1, 1, 32);
	memset(k2, 2, 32);
	memset(k3, 3, 32);
	assert_int_equal(
	    store_key_add(f->st, "db-1", k1, NULL, NOW, &a, &err), 0);
	assert_int_equal(a.state, STORE_KEY_PENDING);
	/* The same key again: the same row, no change. */
	assert_int_equal(
	    store_key_add(f->st, "db-1", k1, NULL, NOW + 1, &b, &err), 0);
	assert_int_equal(b.id, a.id);
	/* The same key under another name, another key under the name. */
	assert_int_equal(
	    store_key_add(f->st, "db-2", k1, NULL, NOW, &b, &err), -1);
	assert_non_null(strstr(err.msg, "already enrolled as host db-1"));
	assert_int_equal(
	    store_key_add(f->st, "db-1", k2, NULL, NOW, &b, &err), -1);
	assert_non_null(strstr(err.msg, "db-1"));

	assert_int_equal(store_key_set_state(f->st, &admin, a.id,
	                     STORE_KEY_ACCEPTED, NOW, &err),
	    0);
	assert_int_equal(store_key_find(f->st, k1, &b, &err), 0);
	assert_int_equal(b.state, STORE_KEY_ACCEPTED);
	/* Revoke; the name is then free for a new key, which a token
	 * accepts at once. A bad token stores nothing. */
	assert_int_equal(store_key_set_state(
	                     f->st, &admin, a.id, STORE_KEY_REVOKED, NOW, &err),
	    0);
	assert_int_equal(
	    store_key_add(f->st, "db-1", k2, "nope", NOW, &b, &err), -1);
	assert_non_null(strstr(err.msg, "token"));
	assert_int_equal(store_key_find(f->st, k2, &b, &err), STORE_NOTFOUND);
	assert_int_equal(
	    store_token_create(f->st, &admin, 1, 60000, NOW, tok, &tid, &err),
	    0);
	assert_int_equal(
	    store_key_add(f->st, "db-1", k2, tok, NOW, &b, &err), 0);
	assert_int_equal(b.state, STORE_KEY_ACCEPTED);
	/* The token's one use is gone. */
	assert_int_equal(
	    store_key_add(f->st, "db-3", k3, tok, NOW, &c, &err), -1);
	assert_non_null(strstr(err.msg, "used up"));
	/* A revoked key stays revoked, and cannot take the name back. */
	assert_int_equal(store_key_set_state(f->st, &admin, a.id,
	                     STORE_KEY_ACCEPTED, NOW, &err),
	    -1);
	assert_non_null(strstr(err.msg, "revoked"));

	assert_int_equal(store_key_list(f->st, -1, &kl, &n, &err), 0);
	assert_int_equal(n, 2);
	free(kl);
	assert_int_equal(
	    store_key_list(f->st, STORE_KEY_REVOKED, &kl, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(kl[0].id, a.id);
	assert_memory_equal(kl[0].pubkey, k1, 32);
	free(kl);
}

static void
host_hello_needs_accepted_key(void **state)
{
	struct tu_store       *f = *state;
	struct vsm_err         err = {""};
	uint8_t                k[32];
	struct store_key       key;
	struct store_hello     h = {.name = "app-1"};
	struct store_heartbeat hb = {0, NOW + 5, 12.5, 40, 77};
	struct store_host      host, *hl;
	int64_t                hid;
	size_t                 n;

	memset(k, 9, 32);
	assert_int_equal(
	    store_key_add(f->st, "app-1", k, NULL, NOW, &key, &err), 0);
	h.key_id = key.id;
	assert_int_equal(store_host_hello(f->st, &h, NOW, &hid, &err), -1);
	assert_non_null(strstr(err.msg, "not accepted"));
	assert_int_equal(store_key_set_state(f->st, &admin, key.id,
	                     STORE_KEY_ACCEPTED, NOW, &err),
	    0);
	h.labels = "[1]";
	assert_int_equal(store_host_hello(f->st, &h, NOW, &hid, &err), -1);
	assert_non_null(strstr(err.msg, "labels"));
	h.labels = "{\"env\":\"prod\"}";
	/* Capabilities are an object of lists, no longer a bare list. */
	h.capabilities = "[\"pg\"]";
	assert_int_equal(store_host_hello(f->st, &h, NOW, &hid, &err), -1);
	assert_non_null(strstr(err.msg, "capabilities is not a JSON object"));
	h.capabilities = NULL;
	assert_int_equal(store_host_hello(f->st, &h, NOW, &hid, &err), 0);
	hb.host_id = hid;
	assert_int_equal(store_host_heartbeat(f->st, &hb, &err), 0);
	assert_int_equal(store_host_set_facts(
	                     f->st, hid, "{\"os\":\"debian\"}", NOW + 6, &err),
	    0);
	assert_int_equal(store_host_get(f->st, "app-1", &host, &err), 0);
	assert_int_equal(host.up, 1);
	assert_true(host.cpu_pct == 12.5);
	assert_true(host.disk_pct == 77);
	assert_int_equal(host.last_seen, NOW + 6);
	assert_string_equal(host.facts, "{\"os\":\"debian\"}");
	assert_string_equal(host.labels, "{\"env\":\"prod\"}");
	assert_string_equal(host.capabilities, "{}");
	store_host_clear(&host);
	assert_int_equal(store_host_down(f->st, hid, NOW + 7, &err), 0);
	assert_int_equal(store_host_list(f->st, &hl, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(hl[0].up, 0);
	store_hosts_free(hl, n);
	assert_int_equal(
	    store_host_get(f->st, "nope", &host, &err), STORE_NOTFOUND);
}

static void
job_fans_out_in_one_transaction(void **state)
{
	struct tu_store      *f = *state;
	struct vsm_err        err = {""};
	int64_t               hosts[4];
	char                  jid[STORE_ID_LEN + 1], bad[STORE_ID_LEN + 1];
	struct store_job      job;
	struct store_task    *tl;
	size_t                n, i;
	sqlite3              *db;
	struct store_job_spec spec = {.module = "pg.vacuum",
	    .timeout_ms = 1000,
	    .hosts = hosts,
	    .nhosts = 4};

	hosts[0] = tu_store_host(f->st, "db-1", NOW);
	hosts[1] = tu_store_host(f->st, "db-2", NOW);
	hosts[2] = tu_store_host(f->st, "db-3", NOW);
	make_job(f->st, hosts, 3, jid);
	assert_int_equal(store_job_get(f->st, jid, &job, &err), 0);
	assert_int_equal(job.ntasks, 3);
	assert_int_equal(job.nstate[STORE_TASK_QUEUED], 3);
	assert_string_equal(job.module, "sys.ping");
	assert_string_equal(job.created_by, "alice");
	store_job_clear(&job);
	assert_int_equal(store_task_list(f->st, jid, &tl, &n, &err), 0);
	assert_int_equal(n, 3);
	for (i = 0; i < n; i++) {
		assert_int_equal(strlen(tl[i].id), STORE_ID_LEN);
		assert_int_equal(tl[i].state, STORE_TASK_QUEUED);
	}
	store_tasks_free(tl, n);

	/* One unknown host: no job, no task, no audit row is left. */
	hosts[3] = 9999;
	db = raw_open(f);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM tasks"), 3);
	assert_int_equal(
	    store_job_create(f->st, &admin, &spec, NOW, bad, &err), -1);
	assert_non_null(strstr(err.msg, "9999"));
	assert_int_equal(raw_int(db, "SELECT count(*) FROM jobs"), 1);
	assert_int_equal(raw_int(db, "SELECT count(*) FROM tasks"), 3);
	assert_int_equal(raw_int(db,
	                     "SELECT count(*) FROM audit WHERE "
	                     "action = 'job.create'"),
	    1);
	sqlite3_close(db);
}

/*
 * A fan-out claims for many hosts in one transaction: each host gets at
 * most its max and at most `limit` in flight, a host with nothing queued
 * gets nothing, and what was claimed is sent (a second claim finds only
 * what is left).
 */
static void
task_next_many_claims_per_host_in_one_go(void **state)
{
	struct tu_store   *f = *state;
	struct vsm_err     err = {""};
	int64_t            h[3];
	char               j[3][STORE_ID_LEN + 1];
	struct store_claim cv[3];
	int                i;

	h[0] = tu_store_host(f->st, "db-1", NOW);
	h[1] = tu_store_host(f->st, "db-2", NOW);
	h[2] = tu_store_host(f->st, "app-1", NOW);
	for (i = 0; i < 3; i++)
		make_job(f->st, h, 2, j[i]); /* 3 tasks each on db-1, db-2 */
	memset(cv, 0, sizeof(cv));
	for (i = 0; i < 3; i++) {
		cv[i].host_id = h[i];
		cv[i].max = 4;
	}
	cv[1].max = 1;
	assert_int_equal(store_task_next_many(f->st, cv, 3, 2, NOW, &err), 0);
	assert_int_equal(cv[0].ntasks, 2); /* the limit */
	assert_int_equal(cv[1].ntasks, 1); /* its max */
	assert_int_equal(cv[2].ntasks, 0); /* nothing queued */
	/* Two different jobs' tasks, with the job's params. */
	assert_string_not_equal(cv[0].tasks[0].job_id, cv[0].tasks[1].job_id);
	assert_string_equal(cv[0].tasks[0].params, "{\"count\":1}");
	for (i = 0; i < 3; i++) {
		assert_false(cv[i].failed);
		if (cv[i].ntasks > 0) {
			assert_int_equal(cv[i].tasks[0].state, STORE_TASK_SENT);
			assert_int_equal(
			    cv[i].tasks[0].deadline_at, NOW + 60000);
		}
		store_tasks_free(cv[i].tasks, cv[i].ntasks);
	}
	assert_int_equal(store_task_next_many(f->st, cv, 3, 2, NOW, &err), 0);
	assert_int_equal(cv[0].ntasks, 0); /* two in flight already */
	assert_int_equal(cv[1].ntasks, 1);
	for (i = 0; i < 3; i++)
		store_tasks_free(cv[i].tasks, cv[i].ntasks);
}

static void
task_next_respects_limit_and_states(void **state)
{
	struct tu_store   *f = *state;
	struct vsm_err     err = {""};
	int64_t            h;
	char               j[3][STORE_ID_LEN + 1];
	struct store_task *sent, *tl, t;
	size_t             n, ns, rq, to, nc, total = 0;
	int                i;

	h = tu_store_host(f->st, "db-1", NOW);
	for (i = 0; i < 3; i++)
		make_job(f->st, &h, 1, j[i]);
	assert_int_equal(
	    store_task_next(f->st, h, 2, 10, NOW, &sent, &ns, &err), 0);
	assert_int_equal(ns, 2);
	assert_int_equal(sent[0].state, STORE_TASK_SENT);
	assert_string_equal(sent[0].module, "sys.ping");
	assert_string_equal(sent[0].params, "{\"count\":1}");
	assert_int_equal(sent[0].deadline_at, NOW + 60000);
	/* Two in flight: nothing more until one finishes. */
	assert_int_equal(
	    store_task_next(f->st, h, 2, 10, NOW, &tl, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_null(tl);
	assert_int_equal(
	    store_task_ack(f->st, h, sent[0].id, NOW + 1, &err), 0);
	assert_int_equal(
	    store_task_ack(f->st, h, sent[0].id, NOW + 2, &err), 0);
	assert_int_equal(
	    store_task_ack(f->st, h + 1, sent[0].id, NOW, &err), -1);
	assert_int_equal(store_task_set_state(
	                     f->st, sent[0].id, STORE_TASK_FAIL, NOW + 3, &err),
	    0);
	assert_int_equal(store_task_set_state(f->st, sent[0].id,
	                     STORE_TASK_RUNNING, NOW + 3, &err),
	    -1);
	assert_non_null(strstr(err.msg, "not allowed"));
	/* A retry requeues it once (max_retries 1), with attempt 1. */
	assert_int_equal(store_task_retry(f->st, sent[0].id, NOW + 4, &err), 0);
	assert_int_equal(store_task_get(f->st, sent[0].id, &t, &err), 0);
	assert_int_equal(t.state, STORE_TASK_QUEUED);
	assert_int_equal(t.attempt, 1);
	assert_int_equal(t.sent_at, 0);

	/* The sweep requeues the unacked sent task, times out running. */
	assert_int_equal(
	    store_task_sweep(f->st, NOW + 30000, 10000, &rq, &to, &err), 0);
	assert_int_equal(rq, 1);
	assert_int_equal(to, 0);
	assert_int_equal(
	    store_task_next(f->st, h, 2, 10, NOW + 30000, &tl, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(
	    store_task_ack(f->st, h, tl[0].id, NOW + 30001, &err), 0);
	store_tasks_free(tl, n);
	assert_int_equal(
	    store_task_sweep(f->st, NOW + 100000, 1000000, &rq, &to, &err), 0);
	assert_int_equal(rq, 0);
	assert_int_equal(to, 1);
	/* Cancel: one task still sent, one still queued. */
	for (i = 0; i < 3; i++) {
		assert_int_equal(
		    store_job_cancel(f->st, &admin, j[i], NOW, &nc, &err), 0);
		total += nc;
	}
	assert_int_equal(total, 2);
	store_tasks_free(sent, ns);
}

/*
 * A host marked down takes its started tasks with it: lost, and queued
 * again where the job allows a retry. Tasks it never started stay put.
 */
static void
host_down_loses_started_tasks(void **state)
{
	struct tu_store   *f = *state;
	struct vsm_err     err = {""};
	int64_t            h;
	char               j[2][STORE_ID_LEN + 1], id[STORE_ID_LEN + 1];
	struct store_task *tl, t;
	size_t             n, k, other = 0;

	h = tu_store_host(f->st, "db-1", NOW);
	make_job(f->st, &h, 1, j[0]);
	make_job(f->st, &h, 1, j[1]);
	assert_int_equal(
	    store_task_next(f->st, h, 1, 1, NOW, &tl, &n, &err), 0);
	assert_int_equal(n, 1);
	snprintf(id, sizeof(id), "%s", tl[0].id);
	store_tasks_free(tl, n);
	assert_int_equal(store_task_ack(f->st, h, id, NOW + 1, &err), 0);
	/* Down: the running task is lost and, with a retry left, queued. */
	assert_int_equal(store_host_down(f->st, h, NOW + 3, &err), 0);
	assert_int_equal(store_task_get(f->st, id, &t, &err), 0);
	assert_int_equal(t.state, STORE_TASK_QUEUED);
	assert_int_equal(t.attempt, 1);
	/* The other task was never sent: still queued, attempt 0. */
	for (k = 0; k < 2; k++) {
		assert_int_equal(
		    store_task_list(f->st, j[k], &tl, &n, &err), 0);
		assert_int_equal(n, 1);
		if (strcmp(tl[0].id, id) != 0) {
			assert_int_equal(tl[0].state, STORE_TASK_QUEUED);
			assert_int_equal(tl[0].attempt, 0);
			other++;
		}
		store_tasks_free(tl, n);
	}
	assert_int_equal(other, 1);
	/* The retried task runs again and is lost again: no retry left. */
	assert_int_equal(store_task_ack(f->st, h, id, NOW + 4, &err), -1);
	assert_int_equal(
	    store_task_next(f->st, h, 2, 2, NOW + 4, &tl, &n, &err), 0);
	store_tasks_free(tl, n);
	assert_int_equal(store_task_ack(f->st, h, id, NOW + 5, &err), 0);
	assert_int_equal(store_host_down(f->st, h, NOW + 6, &err), 0);
	assert_int_equal(store_task_get(f->st, id, &t, &err), 0);
	assert_int_equal(t.state, STORE_TASK_LOST);
	assert_int_equal(t.attempt, 1);
}

static void
event_append_is_idempotent(void **state)
{
	struct tu_store   *f = *state;
	struct vsm_err     err = {""};
	int64_t            h, h2;
	char               jid[STORE_ID_LEN + 1];
	struct store_task *tl, t;
	struct store_event ev, *el;
	size_t             n, ne;

	h = tu_store_host(f->st, "db-1", NOW);
	h2 = tu_store_host(f->st, "db-2", NOW);
	make_job(f->st, &h, 1, jid);
	assert_int_equal(
	    store_task_next(f->st, h, 4, 4, NOW, &tl, &n, &err), 0);
	assert_int_equal(n, 1);
	memset(&ev, 0, sizeof(ev));
	snprintf(ev.task_id, sizeof(ev.task_id), "%s", tl[0].id);
	ev.seq = 7;
	ev.kind = STORE_EV_LOG;
	ev.at = NOW;
	ev.text = "vacuum started";
	assert_int_equal(store_event_append(f->st, h, &ev, &err), 0);
	assert_int_equal(store_event_append(f->st, h, &ev, &err), 1);
	/* Another host may not write this task's events. */
	ev.seq = 8;
	assert_int_equal(store_event_append(f->st, h2, &ev, &err), -1);
	assert_non_null(strstr(err.msg, "not this host's"));
	ev.kind = STORE_EV_RESULT;
	ev.text = "not json";
	assert_int_equal(store_event_append(f->st, h, &ev, &err), -1);
	ev.text = "{\"reclaimed\":1024}";
	assert_int_equal(store_event_append(f->st, h, &ev, &err), 0);
	ev.seq = 9;
	ev.kind = STORE_EV_STATUS;
	ev.status = STORE_TASK_OK;
	ev.text = NULL;
	assert_int_equal(store_event_append(f->st, h, &ev, &err), 0);
	assert_int_equal(store_event_append(f->st, h, &ev, &err), 1);
	assert_int_equal(store_task_get(f->st, tl[0].id, &t, &err), 0);
	assert_int_equal(t.state, STORE_TASK_OK);
	assert_true(t.finished_at > 0);

	assert_int_equal(
	    store_event_list(f->st, tl[0].id, 0, 100, &el, &ne, &err), 0);
	assert_int_equal(ne, 3);
	assert_int_equal(el[0].seq, 7);
	assert_int_equal(el[0].kind, STORE_EV_LOG);
	assert_string_equal(el[0].text, "vacuum started");
	assert_int_equal(el[1].kind, STORE_EV_RESULT);
	assert_int_equal(el[2].status, STORE_TASK_OK);
	store_events_free(el, ne);
	/* Pagination by seq. */
	assert_int_equal(
	    store_event_list(f->st, tl[0].id, 7, 1, &el, &ne, &err), 0);
	assert_int_equal(ne, 1);
	assert_int_equal(el[0].seq, 8);
	store_events_free(el, ne);
	store_tasks_free(tl, n);
}

/* What the writer's callbacks saw. */
struct cbs {
	pthread_mutex_t lock;
	pthread_cond_t  cond;
	int             done, ok, failed, visible;
	sqlite3        *db; /* a second connection, as another process */
	char            task_id[STORE_ID_LEN + 1];
	char            msg[256];
};

static void
cb_done(void *arg, int rc, const char *msg)
{
	struct cbs   *c = arg;
	sqlite3_stmt *stmt;
	int           seen = 0;

	if (c->db != NULL &&
	    sqlite3_prepare_v2(c->db,
	        "SELECT count(*) FROM task_events WHERE task_id = ?", -1, &stmt,
	        NULL) == SQLITE_OK) {
		sqlite3_bind_text(stmt, 1, c->task_id, -1, SQLITE_STATIC);
		if (sqlite3_step(stmt) == SQLITE_ROW)
			seen = sqlite3_column_int(stmt, 0);
		sqlite3_finalize(stmt);
	}
	pthread_mutex_lock(&c->lock);
	c->done++;
	if (rc >= 0)
		c->ok++;
	else {
		c->failed++;
		snprintf(c->msg, sizeof(c->msg), "%s", msg);
	}
	if (seen > c->visible)
		c->visible = seen;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void
cbs_wait(struct cbs *c, int n)
{
	pthread_mutex_lock(&c->lock);
	while (c->done < n)
		pthread_cond_wait(&c->cond, &c->lock);
	pthread_mutex_unlock(&c->lock);
}

static void
writer_callback_runs_after_commit(void **state)
{
	struct tu_store         *f = *state;
	struct vsm_err           err = {""};
	struct store_writer_conf conf = {.batch_max = 8, .batch_ms = 20};
	struct cbs               c = {.lock = PTHREAD_MUTEX_INITIALIZER,
	                  .cond = PTHREAD_COND_INITIALIZER};
	struct store_heartbeat   hb = {0, NOW, 1, 2, 3};
	struct store_event       ev;
	struct store_task       *tl;
	char                     jid[STORE_ID_LEN + 1];
	size_t                   n;
	int64_t                  h;
	int                      i;

	h = tu_store_host(f->st, "db-1", NOW);
	make_job(f->st, &h, 1, jid);
	assert_int_equal(
	    store_task_next(f->st, h, 1, 1, NOW, &tl, &n, &err), 0);
	snprintf(c.task_id, sizeof(c.task_id), "%s", tl[0].id);
	c.db = raw_open(f);
	memset(&ev, 0, sizeof(ev));
	snprintf(ev.task_id, sizeof(ev.task_id), "%s", tl[0].id);
	ev.kind = STORE_EV_PROGRESS;
	ev.at = NOW;
	ev.seq = 1;
	assert_int_equal(
	    store_write_event(f->st, h, &ev, cb_done, &c, &err), -1);
	assert_non_null(strstr(err.msg, "not running"));
	assert_int_equal(store_writer_start(f->st, &conf, &err), 0);
	for (i = 1; i <= 5; i++) {
		ev.seq = i;
		ev.progress = i * 20;
		assert_int_equal(
		    store_write_event(f->st, h, &ev, cb_done, &c, &err), 0);
	}
	/* The same seq again is stored once and still settles ok. */
	ev.seq = 1;
	assert_int_equal(
	    store_write_event(f->st, h, &ev, cb_done, &c, &err), 0);
	hb.host_id = h;
	assert_int_equal(
	    store_write_heartbeat(f->st, &hb, cb_done, &c, &err), 0);
	cbs_wait(&c, 7);
	assert_int_equal(c.ok, 7);
	assert_int_equal(c.failed, 0);
	/* Every callback saw its event from the other connection. */
	assert_true(c.visible >= 1);
	pthread_mutex_lock(&c.lock);
	c.visible = 0;
	pthread_mutex_unlock(&c.lock);
	ev.seq = 6;
	assert_int_equal(
	    store_write_event(f->st, h, &ev, cb_done, &c, &err), 0);
	cbs_wait(&c, 8);
	assert_int_equal(c.visible, 6);

	/* An op the store refuses fails alone, with a reason. */
	snprintf(ev.task_id, sizeof(ev.task_id), "%s",
	    "0123456789abcdef0123456789abcdef");
	assert_int_equal(
	    store_write_event(f->st, h, &ev, cb_done, &c, &err), 0);
	cbs_wait(&c, 9);
	assert_int_equal(c.failed, 1);
	assert_non_null(strstr(c.msg, "no task"));

	store_writer_stop(f->st);
	assert_int_equal(
	    store_write_heartbeat(f->st, &hb, NULL, NULL, &err), -1);
	sqlite3_close(c.db);
	store_tasks_free(tl, n);
}

static void
writer_full_queue_refuses(void **state)
{
	struct tu_store         *f = *state;
	struct vsm_err           err = {""};
	struct store_writer_conf conf = {.batch_max = 1, .queue_max = 2};
	struct cbs               c = {.lock = PTHREAD_MUTEX_INITIALIZER,
	                  .cond = PTHREAD_COND_INITIALIZER};
	struct store_heartbeat   hb = {0, NOW, 1, 2, 3};
	sqlite3                 *db;
	int                      i, accepted = 0, refused = 0;

	hb.host_id = tu_store_host(f->st, "db-1", NOW);
	assert_int_equal(store_writer_start(f->st, &conf, &err), 0);
	/* Another connection holds the write lock: the writer stalls. */
	db = raw_open(f);
	assert_int_equal(
	    sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	for (i = 0; i < 10; i++) {
		err.msg[0] = '\0';
		if (store_write_heartbeat(f->st, &hb, cb_done, &c, &err) == 0)
			accepted++;
		else {
			refused++;
			assert_non_null(strstr(err.msg, "queue full"));
		}
	}
	/* At most the queue plus the batch the writer holds. */
	assert_true(accepted >= 2);
	assert_true(accepted <= 3);
	assert_int_equal(refused, 10 - accepted);
	assert_int_equal(
	    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	cbs_wait(&c, accepted);
	assert_int_equal(c.ok, accepted);
	/* Room again once drained. */
	assert_int_equal(
	    store_write_heartbeat(f->st, &hb, cb_done, &c, &err), 0);
	cbs_wait(&c, accepted + 1);
	store_writer_stop(f->st);
}

static void
audit_append_and_list(void **state)
{
	struct tu_store    *f = *state;
	struct vsm_err      err = {""};
	struct store_audit *al;
	struct store_actor  bob = {"bob", "operator"};
	size_t              n;
	char                target[16];
	int                 i;

	for (i = 0; i < 5; i++) {
		snprintf(target, sizeof(target), "host-%d", i);
		assert_int_equal(
		    store_audit_append(f->st, &bob, "host.drain", target,
		        "{\"why\":\"kernel\"}", NOW + i, &err),
		    0);
	}
	assert_int_equal(
	    store_audit_append(f->st, &bob, "x", NULL, "[]", NOW, &err), -1);
	assert_int_equal(
	    store_audit_append(f->st, NULL, "x", NULL, NULL, NOW, &err), -1);
	assert_int_equal(store_audit_list(f->st, 0, 2, &al, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(al[0].target, "host-4");
	assert_string_equal(al[0].who, "bob");
	assert_string_equal(al[0].role, "operator");
	assert_string_equal(al[0].action, "host.drain");
	assert_string_equal(al[0].detail, "{\"why\":\"kernel\"}");
	assert_int_equal(al[0].at, NOW + 4);
	assert_string_equal(al[1].target, "host-3");
	i = (int)al[1].id;
	store_audit_free(al, n);
	assert_int_equal(store_audit_list(f->st, i, 100, &al, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(al[2].target, "host-0");
	store_audit_free(al, n);
}

static void
store_survives_close_and_reopen(void **state)
{
	struct tu_store       *f = *state;
	struct vsm_err         err = {""};
	char                   jid[STORE_ID_LEN + 1], tok[STORE_TOKEN_LEN + 1];
	struct store_task     *tl;
	struct store_event     ev, *el;
	struct store_key      *kl;
	struct store_host      host;
	struct store_audit    *al;
	struct store_artifact *art, a1;
	struct store_job       job;
	uint8_t                hash[STORE_HASH_LEN];
	int64_t                h, tid, aid;
	size_t                 n, ne;

	h = tu_store_host(f->st, "db-1", NOW);
	make_job(f->st, &h, 1, jid);
	assert_int_equal(
	    store_token_create(f->st, &admin, 3, 60000, NOW, tok, &tid, &err),
	    0);
	assert_int_equal(
	    store_task_next(f->st, h, 1, 1, NOW, &tl, &n, &err), 0);
	memset(&ev, 0, sizeof(ev));
	snprintf(ev.task_id, sizeof(ev.task_id), "%s", tl[0].id);
	ev.seq = 1;
	ev.kind = STORE_EV_LOG;
	ev.text = "line";
	assert_int_equal(store_event_append(f->st, h, &ev, &err), 0);
	assert_int_equal(store_artifact_add(f->st, tl[0].id,
	                     "backups/db-1/base.tar.zst", NOW, &a1, &err),
	    0);
	aid = a1.id;
	assert_int_equal(a1.complete, 0);
	store_artifact_clear(&a1);
	/* Add again: the same row, for a resumed upload. */
	assert_int_equal(store_artifact_add(f->st, tl[0].id,
	                     "backups/db-1/base.tar.zst", NOW, &a1, &err),
	    0);
	assert_int_equal(a1.id, aid);
	store_artifact_clear(&a1);
	/* The path of another task's artifact is refused. */
	assert_int_equal(
	    store_artifact_add(f->st, "0123456789abcdef0123456789abcdef",
	        "backups/db-1/base.tar.zst", NOW, &a1, &err),
	    STORE_EXISTS);
	assert_non_null(strstr(err.msg, "belongs to task"));
	memset(hash, 0xab, sizeof(hash));
	assert_int_equal(
	    store_artifact_complete(f->st, aid, 4096, hash, NOW, &err), 0);
	assert_int_equal(
	    store_artifact_complete(f->st, aid, 4096, hash, NOW, &err), -1);

	reopen(f);
	assert_int_equal(
	    store_key_list(f->st, STORE_KEY_ACCEPTED, &kl, &n, &err), 0);
	assert_int_equal(n, 1);
	free(kl);
	assert_int_equal(store_host_get(f->st, "db-1", &host, &err), 0);
	assert_int_equal(host.id, h);
	assert_string_equal(
	    host.capabilities, "{\"modules\":[\"pg.vacuum\"],\"commands\":[]}");
	store_host_clear(&host);
	assert_int_equal(store_job_get(f->st, jid, &job, &err), 0);
	assert_int_equal(job.nstate[STORE_TASK_SENT], 1);
	store_job_clear(&job);
	assert_int_equal(
	    store_event_list(f->st, tl[0].id, 0, 0, &el, &ne, &err), 0);
	assert_int_equal(ne, 1);
	assert_string_equal(el[0].text, "line");
	store_events_free(el, ne);
	assert_int_equal(
	    store_artifact_list(f->st, tl[0].id, &art, &ne, &err), 0);
	assert_int_equal(ne, 1);
	assert_int_equal(art[0].complete, 1);
	assert_int_equal(art[0].size, 4096);
	assert_memory_equal(art[0].blake2b, hash, sizeof(hash));
	store_artifacts_free(art, ne);
	assert_int_equal(
	    store_token_redeem(f->st, tok, NOW + 1, NULL, &err), 0);
	assert_int_equal(store_audit_list(f->st, 0, 0, &al, &ne, &err), 0);
	/* key accept, job create, token create */
	assert_int_equal(ne, 3);
	store_audit_free(al, ne);
	store_tasks_free(tl, n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(fresh_store_migrates_to_latest,
	        tu_store_setup, tu_store_teardown),
	    cmocka_unit_test_setup_teardown(
	        reopen_is_idempotent, tu_store_setup, tu_store_teardown),
	    cmocka_unit_test_setup_teardown(
	        future_schema_is_refused, tu_store_setup, tu_store_teardown),
	    cmocka_unit_test_setup_teardown(uri_schemes_pick_the_backend,
	        tu_store_setup, tu_store_teardown),
	    cmocka_unit_test_setup_teardown(token_hash_stored_not_plaintext,
	        tu_store_setup, tu_store_teardown),
	    cmocka_unit_test_setup_teardown(
	        token_expired_exhausted_revoked_refused, tu_store_setup,
	        tu_store_teardown),
	    cmocka_unit_test_setup_teardown(key_states_and_duplicate_names,
	        tu_store_setup, tu_store_teardown),
	    cmocka_unit_test_setup_teardown(host_hello_needs_accepted_key,
	        tu_store_setup, tu_store_teardown),
	    cmocka_unit_test_setup_teardown(job_fans_out_in_one_transaction,
	        tu_store_setup, tu_store_teardown),
	    cmocka_unit_test_setup_teardown(
	        task_next_many_claims_per_host_in_one_go, tu_store_setup,
	        tu_store_teardown),
	    cmocka_unit_test_setup_teardown(task_next_respects_limit_and_states,
	        tu_store_setup, tu_store_teardown),
	    cmocka_unit_test_setup_teardown(host_down_loses_started_tasks,
	        tu_store_setup, tu_store_teardown),
	    cmocka_unit_test_setup_teardown(
	        event_append_is_idempotent, tu_store_setup, tu_store_teardown),
	    cmocka_unit_test_setup_teardown(writer_callback_runs_after_commit,
	        tu_store_setup, tu_store_teardown),
	    cmocka_unit_test_setup_teardown(
	        writer_full_queue_refuses, tu_store_setup, tu_store_teardown),
	    cmocka_unit_test_setup_teardown(
	        audit_append_and_list, tu_store_setup, tu_store_teardown),
	    cmocka_unit_test_setup_teardown(store_survives_close_and_reopen,
	        tu_store_setup, tu_store_teardown),
	};

	if (sodium_init() == -1)
		return (1);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
