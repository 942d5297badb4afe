/*
 * store.h: the controller's durable store (DESIGN.md sections 4-7,
 * docs/store.md).
 *
 * A narrow, typed interface over one backend chosen by URI scheme:
 * "sqlite:PATH" or a bare PATH (embedded SQLite, WAL), and later
 * "postgresql://..." (shared by several controllers). Backends are rows of
 * struct store_backend; callers only ever see struct store.
 *
 * Conventions:
 * - Every function returns 0 on success and -1 on error with a message in
 *   err; lookups return STORE_NOTFOUND (1) when there is no such row.
 * - Times are int64 milliseconds since the Unix epoch, passed in by the
 *   caller (`now`) so that expiry and deadlines are testable.
 * - JSON columns are UTF-8 JSON text, checked by the store, at most
 *   STORE_JSON_MAX bytes. Lists return at most STORE_LIST_MAX rows.
 * - Every call that changes state commits before it returns: a return of
 *   0 means the change is durable (synchronous=FULL). High-rate writes
 *   (events, heartbeats) go through the writer (store_write_*), which
 *   batches them and calls back after the commit that holds them.
 * - Operator actions take a struct store_actor and write their audit row
 *   in the same transaction as the change itself.
 * - Thread-safe: any thread may call any function. Writes are serialised
 *   on one write connection; reads use a separate connection.
 */
#ifndef VSM_STORE_H
#define VSM_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define STORE_NOTFOUND   1
#define STORE_EXISTS     2           /* the row was recorded before */
#define STORE_NAME_MAX   256         /* host, key and actor names, + NUL */
#define STORE_SHORT_MAX  64          /* role, action, module, version */
#define STORE_ID_LEN     32          /* hex characters of a job or task id */
#define STORE_TOKEN_LEN  64          /* hex characters of a token */
#define STORE_PUBKEY_LEN 32          /* Curve25519 public key */
#define STORE_HASH_LEN   32          /* BLAKE2b-256 */
#define STORE_JSON_MAX   (64 * 1024) /* labels, facts, params, results */
#define STORE_TEXT_MAX   (16 * 1024) /* a log line, a target, a path */
#define STORE_LIST_MAX   1000        /* rows returned by one list call */
#define STORE_FANOUT_MAX 100000      /* tasks in one job */

struct store;

/* Who did it: the operator's key name (or "local") and role. */
struct store_actor {
	const char *who;
	const char *role;
};

/* ------------------------------------------------------------------------ */
/* Opening */

/*
 * Open the store named by uri ("sqlite:/var/lib/vsm/store.db", a bare
 * path, or "postgresql://..."), creating and migrating it to the latest
 * schema. A store whose schema is newer than this binary is refused.
 * On success *out owns the store (store_close it); on error *out is NULL.
 */
int store_open(const char *uri, struct store **out, struct vsm_err *err);
/* Stop the writer (draining what it accepted), then close. NULL is ok. */
void store_close(struct store *st);
/* The backend's name ("sqlite") and the schema versions in use. */
const char *store_backend_name(const struct store *st);
int         store_schema_version(
            struct store *st, int *current, int *latest, struct vsm_err *err);

/* ------------------------------------------------------------------------ */
/* Agent keys (like salt-key) and enrollment tokens */

enum store_key_state {
	STORE_KEY_PENDING = 0,
	STORE_KEY_ACCEPTED,
	STORE_KEY_REJECTED,
	STORE_KEY_REVOKED,
};
const char *store_key_state_str(enum store_key_state s);
int         store_key_state_parse(const char *s, enum store_key_state *out);

struct store_key {
	int64_t              id;
	char                 name[STORE_NAME_MAX];
	uint8_t              pubkey[STORE_PUBKEY_LEN];
	enum store_key_state state;
	int64_t              created_at;
	int64_t              updated_at;
};

/*
 * Record the key an agent presented under a host name. A new key is
 * pending, or accepted when token is a valid enrollment token (one use of
 * it is consumed in the same transaction; an invalid token refuses the
 * key and stores nothing). A key already known under the same name is
 * returned as it is (its token is not consumed). Refused: a key known
 * under another name, and a name held by another pending or accepted key
 * (revoke or reject the old one first). *out receives the row.
 */
int store_key_add(struct store *st, const char *name,
    const uint8_t pubkey[STORE_PUBKEY_LEN], const char *token, int64_t now,
    struct store_key *out, struct vsm_err *err);
int store_key_get(
    struct store *st, int64_t id, struct store_key *out, struct vsm_err *err);
int store_key_find(struct store *st, const uint8_t pubkey[STORE_PUBKEY_LEN],
    struct store_key *out, struct vsm_err *err);
/* Audited. A revoked key stays revoked; a name clash is refused. */
int store_key_set_state(struct store *st, const struct store_actor *who,
    int64_t id, enum store_key_state state, int64_t now, struct vsm_err *err);
/* All keys (state < 0) or those in one state, by id. free(*out). */
int store_key_list(struct store *st, int state, struct store_key **out,
    size_t *n, struct vsm_err *err);

struct store_token {
	int64_t id;
	int     uses_left;
	int     uses_total;
	int     revoked;
	int64_t expires_at;
	int64_t created_at;
	char    created_by[STORE_NAME_MAX];
};

/*
 * Make an enrollment token good for `uses` keys (0 means 1) until
 * now + ttl_ms. The plaintext is written to tok (NUL-terminated) and is
 * never stored: the store keeps its BLAKE2b-256 hash. Audited.
 */
int store_token_create(struct store *st, const struct store_actor *who,
    int uses, int64_t ttl_ms, int64_t now, char tok[STORE_TOKEN_LEN + 1],
    int64_t *id, struct vsm_err *err);
/*
 * Atomically check a token (known, not revoked, not expired, uses left)
 * and consume one use. -1 with the reason in err when refused.
 */
int store_token_redeem(struct store *st, const char *tok, int64_t now,
    int64_t *id, struct vsm_err *err);
int store_token_list(
    struct store *st, struct store_token **out, size_t *n, struct vsm_err *err);
int store_token_revoke(struct store *st, const struct store_actor *who,
    int64_t id, int64_t now, struct vsm_err *err);

/* ------------------------------------------------------------------------ */
/* Registry */

struct store_host {
	int64_t id;
	int64_t key_id;
	char    name[STORE_NAME_MAX];
	char    agent_version[STORE_SHORT_MAX];
	char   *labels;       /* JSON object */
	char   *facts;        /* JSON object */
	char   *capabilities; /* JSON object {"modules":[],"commands":[]} */
	int     up;           /* connection state */
	int64_t first_seen;
	int64_t last_seen;
	double  cpu_pct; /* last heartbeat; -1 when none yet */
	double  mem_pct;
	double  disk_pct;
};
/* Free what a row owns (not the row); NULL is ok. */
void store_host_clear(struct store_host *h);
void store_hosts_free(struct store_host *v, size_t n);

struct store_hello {
	const char *name;
	int64_t     key_id; /* must be accepted and carry `name` */
	const char *labels; /* JSON object, NULL for {} */
	const char *agent_version;
	const char *capabilities; /* JSON object, NULL for {} */
};
/* Create or update the host on an agent's hello; marks it up. */
int store_host_hello(struct store *st, const struct store_hello *h, int64_t now,
    int64_t *host_id, struct vsm_err *err);

struct store_heartbeat {
	int64_t host_id;
	int64_t at;
	double  cpu_pct;
	double  mem_pct;
	double  disk_pct;
};
int store_host_heartbeat(
    struct store *st, const struct store_heartbeat *hb, struct vsm_err *err);
int store_host_set_facts(struct store *st, int64_t host_id, const char *facts,
    int64_t now, struct vsm_err *err);
int store_host_down(
    struct store *st, int64_t host_id, int64_t now, struct vsm_err *err);
int store_host_get(struct store *st, const char *name, struct store_host *out,
    struct vsm_err *err);
/* All hosts by name. store_hosts_free(*out, *n). */
int store_host_list(
    struct store *st, struct store_host **out, size_t *n, struct vsm_err *err);
/*
 * The hosts a job may target (their key is accepted), by name, with only
 * id, key_id, name and labels set: what a selector needs, without the
 * facts. store_hosts_free(*out, *n).
 */
int store_host_targets(
    struct store *st, struct store_host **out, size_t *n, struct vsm_err *err);

/* ------------------------------------------------------------------------ */
/* Jobs and tasks */

enum store_task_state {
	STORE_TASK_QUEUED = 0,
	STORE_TASK_SENT,
	STORE_TASK_RUNNING,
	STORE_TASK_OK,
	STORE_TASK_WARN,
	STORE_TASK_FAIL,
	STORE_TASK_ERROR,
	STORE_TASK_CANCELLED,
	STORE_TASK_TIMEOUT,
	STORE_TASK_LOST,
};
#define STORE_TASK_NSTATES (STORE_TASK_LOST + 1)
const char *store_task_state_str(enum store_task_state s);
int         store_task_state_parse(const char *s, enum store_task_state *out);
int         store_task_state_terminal(enum store_task_state s);
/* May a task go from one state to the other? (A retry is separate.) */
int store_task_transition_ok(
    enum store_task_state from, enum store_task_state to);

struct store_job_spec {
	const char    *module;      /* "pg.vacuum" */
	const char    *params;      /* JSON object, NULL for {} */
	const char    *target;      /* the selector as typed */
	int64_t        timeout_ms;  /* run time of one task */
	int            max_retries; /* extra attempts after fail/error/... */
	int            dry_run;     /* tasks report, change nothing */
	const int64_t *hosts;       /* one task per host id */
	size_t         nhosts;
	int            max_parallel; /* tasks sent or running at once; 0 none */
	const int64_t *not_before;   /* per host: not handed out before; NULL */
	int64_t        window_end;   /* its maintenance window closes; 0 none */
	const char    *schedule;     /* the schedule that fired it, or NULL */
};

struct store_job {
	char    id[STORE_ID_LEN + 1];
	char    module[STORE_SHORT_MAX];
	char    created_by[STORE_NAME_MAX];
	char   *params;
	char   *target;
	int64_t created_at;
	int64_t timeout_ms;
	int     max_retries;
	int     dry_run;
	int     max_parallel;
	int64_t window_end;
	char    schedule[STORE_NAME_MAX]; /* "" when an operator ran it */
	size_t  ntasks;
	size_t  nstate[STORE_TASK_NSTATES]; /* tasks per state */
};
void store_job_clear(struct store_job *j);
void store_jobs_free(struct store_job *v, size_t n);

struct store_task {
	char                  id[STORE_ID_LEN + 1];
	char                  job_id[STORE_ID_LEN + 1];
	char                  module[STORE_SHORT_MAX];
	char                 *params; /* set by store_task_next only */
	int64_t               host_id;
	enum store_task_state state;
	int                   attempt;
	int                   max_retries;
	int64_t               timeout_ms;
	int64_t               created_at;
	int64_t               sent_at;     /* 0 when not yet */
	int64_t               deadline_at; /* 0 when not yet */
	int64_t               finished_at; /* 0 when not yet */
	int                   dry_run;     /* its job's */
	int64_t               window_end;  /* its job's; 0 none */
	int64_t               not_before;  /* 0 none (splay) */
};
void store_tasks_free(struct store_task *v, size_t n);

/* Create a job and its tasks (state queued) in one transaction. Audited. */
int store_job_create(struct store *st, const struct store_actor *who,
    const struct store_job_spec *spec, int64_t now,
    char job_id[STORE_ID_LEN + 1], struct vsm_err *err);
int store_job_get(struct store *st, const char *job_id, struct store_job *out,
    struct vsm_err *err);
/* The newest jobs first, at most limit. store_jobs_free(*out, *n). */
int store_job_list(struct store *st, size_t limit, struct store_job **out,
    size_t *n, struct vsm_err *err);
/* Cancel a job's tasks that have not finished. Audited. */
int store_job_cancel(struct store *st, const struct store_actor *who,
    const char *job_id, int64_t now, size_t *ncancelled, struct vsm_err *err);
int store_task_get(struct store *st, const char *task_id,
    struct store_task *out, struct vsm_err *err);
/* The host a task was made for: 0, STORE_NOTFOUND, or -1 with err. */
int store_task_host(struct store *st, const char *task_id, int64_t *host_id,
    struct vsm_err *err);
int store_task_list(struct store *st, const char *job_id,
    struct store_task **out, size_t *n, struct vsm_err *err);

/* One host's part of store_task_next_many. */
struct store_claim {
	int64_t            host_id;
	unsigned           max;    /* as store_task_next's max */
	struct store_task *tasks;  /* out: store_tasks_free(tasks, ntasks) */
	size_t             ntasks; /* out */
	int                failed; /* out: this host's claim was refused */
};
/*
 * store_task_next for many hosts in one transaction, so a fan-out to
 * thousands of polls commits once. A host whose claim fails is marked
 * failed and claims nothing; the others go on. -1 (err set, nothing
 * claimed) only when the transaction itself fails.
 */
int store_task_next_many(struct store *st, struct store_claim *cv, size_t n,
    unsigned limit, int64_t now, struct vsm_err *err);
/*
 * Claim work for a host: at most `max` queued tasks, oldest first, and no
 * more than `limit` sent or running at once. A task is not handed out
 * before its not_before, nor while its job has max_parallel tasks sent or
 * running. The tasks become sent (with deadline now + timeout) in one
 * transaction. store_tasks_free(*out, *n).
 */
int store_task_next(struct store *st, int64_t host_id, unsigned limit,
    unsigned max, int64_t now, struct store_task **out, size_t *n,
    struct vsm_err *err);
/* The agent acknowledged a task it was sent: sent -> running. */
int store_task_ack(struct store *st, int64_t host_id, const char *task_id,
    int64_t now, struct vsm_err *err);
/* Move a task, if store_task_transition_ok() allows it. */
int store_task_set_state(struct store *st, const char *task_id,
    enum store_task_state state, int64_t now, struct vsm_err *err);
/* Requeue a fail/error/timeout/lost task with attempts left, attempt+1.
 * Returns STORE_NOTFOUND when there is nothing to retry. */
int store_task_retry(
    struct store *st, const char *task_id, int64_t now, struct vsm_err *err);
/*
 * Sweep deadlines: sent tasks not acked within ack_ms are requeued (they
 * are offered again; the task id keeps a second run from happening), and
 * running tasks past their deadline become timeout.
 */
int store_task_sweep(struct store *st, int64_t now, int64_t ack_ms,
    size_t *requeued, size_t *timedout, struct vsm_err *err);
/*
 * Hosts to wake: up hosts with a queued task that a claim would now hand
 * out although it was held back, either by its not_before (which passed
 * after `since`) or by its job's max_parallel (at most as many hosts per
 * job as the job has room for). At most max ids; free(*ids).
 */
int store_task_wake_hosts(struct store *st, int64_t since, int64_t now,
    size_t max, int64_t **ids, size_t *n, struct vsm_err *err);

/* ------------------------------------------------------------------------ */
/* Task events: appended exactly once, keyed by (task id, agent seq) */

enum store_event_kind {
	STORE_EV_STATUS = 0, /* status: the task's new state */
	STORE_EV_RESULT,     /* text: a JSON object */
	STORE_EV_LOG,        /* text: one log line */
	STORE_EV_PROGRESS,   /* progress: 0..100 */
};

struct store_event {
	char                  task_id[STORE_ID_LEN + 1];
	int64_t               seq; /* the agent spool's sequence number */
	enum store_event_kind kind;
	int64_t               at;
	enum store_task_state status;
	int                   progress;
	char                 *text;
};
void store_events_free(struct store_event *v, size_t n);

/*
 * Append an event sent by host_id (the task must be that host's). Returns
 * 0 when stored, 1 when (task, seq) was already stored (safe to ack
 * again), -1 on error. A status event also moves the task's state when
 * the transition is allowed.
 */
int store_event_append(struct store *st, int64_t host_id,
    const struct store_event *ev, struct vsm_err *err);
/* Events of a task with seq > after_seq, by seq; at most limit. */
int store_event_list(struct store *st, const char *task_id, int64_t after_seq,
    size_t limit, struct store_event **out, size_t *n, struct vsm_err *err);

/* ------------------------------------------------------------------------ */
/* Artifacts (backup files and other uploads) */

struct store_artifact {
	int64_t id;
	char    task_id[STORE_ID_LEN + 1];
	char   *path;
	int64_t size;
	uint8_t blake2b[STORE_HASH_LEN];
	int     complete; /* only complete artifacts may be catalogued */
	int64_t created_at;
	int64_t completed_at;
};
void store_artifacts_free(struct store_artifact *v, size_t n);
/*
 * The artifact at path, created (incomplete) if there is none yet: an
 * upload that resumes finds its row again. 0 with *out (free out->path:
 * store_artifact_clear); STORE_EXISTS with err set when the path belongs
 * to another task (out->task_id names it); or -1 with err set.
 */
int  store_artifact_add(struct store *st, const char *task_id, const char *path,
     int64_t now, struct store_artifact *out, struct vsm_err *err);
void store_artifact_clear(struct store_artifact *a);
int  store_artifact_complete(struct store *st, int64_t id, int64_t size,
     const uint8_t hash[STORE_HASH_LEN], int64_t now, struct vsm_err *err);
int  store_artifact_list(struct store *st, const char *task_id,
     struct store_artifact **out, size_t *n, struct vsm_err *err);

/* ------------------------------------------------------------------------ */
/* Schedules and their runs (docs/scheduler.md) */

#define STORE_CRON_MAX   256 /* bytes of a cron expression, with the NUL */
#define STORE_TZ_MAX     64
#define STORE_WINDOW_MAX 64

enum store_sched_source {
	STORE_SCHED_API = 0, /* vsmctl schedule add */
	STORE_SCHED_CONFIG,  /* controller.yaml: removed only by editing it */
};
enum store_overlap {
	STORE_OVERLAP_SKIP = 0, /* the previous run still going: skip */
	STORE_OVERLAP_QUEUE,    /* start when the previous run ends */
	STORE_OVERLAP_REPLACE,  /* cancel the previous run, start this one */
	STORE_OVERLAP_ALLOW,    /* run both */
};
enum store_window_policy {
	STORE_WINDOW_WAIT = 0, /* outside the window: wait for it to open */
	STORE_WINDOW_SKIP,     /* outside the window: skip the run */
};
enum store_run_outcome {
	STORE_RUN_FIRED = 0, /* a job was made (job_id) */
	STORE_RUN_QUEUED,    /* waits for the previous run to end */
	STORE_RUN_WAITING,   /* waits for its window to open */
	STORE_RUN_SKIPPED,   /* reason: overlap, window, pending */
	STORE_RUN_MISSED,    /* the controller was down: late or coalesced */
	STORE_RUN_REPLACED,  /* fired, then cancelled by a later run */
	STORE_RUN_FAILED,    /* not fired: reason says why */
};
#define STORE_RUN_NOUTCOMES (STORE_RUN_FAILED + 1)
const char *store_sched_source_str(enum store_sched_source s);
const char *store_overlap_str(enum store_overlap o);
int         store_overlap_parse(const char *s, enum store_overlap *out);
const char *store_window_policy_str(enum store_window_policy p);
int store_window_policy_parse(const char *s, enum store_window_policy *out);
const char *store_run_outcome_str(enum store_run_outcome o);
int         store_run_outcome_parse(const char *s, enum store_run_outcome *out);

struct store_schedule {
	char                     name[STORE_NAME_MAX];
	enum store_sched_source  source;
	char                     module[STORE_SHORT_MAX];
	char                    *params; /* JSON object */
	char                    *target; /* a selector */
	char                     cron[STORE_CRON_MAX];
	char                     tz[STORE_TZ_MAX];         /* "": local */
	char                     window[STORE_WINDOW_MAX]; /* "": none */
	enum store_window_policy window_policy;
	enum store_overlap       overlap;
	int                      max_parallel;     /* 0: no limit */
	int                      max_parallel_pct; /* of the targets */
	int64_t                  splay_ms;         /* 0: none */
	int64_t                  timeout_ms;       /* of one task */
	int64_t                  run_timeout_ms;   /* of a run; 0 none */
	int64_t                  starting_deadline_ms;
	int                      retries;
	int                      enabled;
	char                     created_by[STORE_NAME_MAX];
	int64_t                  created_at;
	int64_t                  updated_at;
	/* The scheduler's state. */
	int64_t                next_due;    /* next instant to decide; 0 new */
	int64_t                pending_due; /* a queued/waiting run; 0 none */
	int64_t                last_due;    /* the last run decided; 0 none */
	int64_t                last_at;     /* when it was decided */
	enum store_run_outcome last_outcome;
	char                   last_reason[STORE_SHORT_MAX];
	char last_job[STORE_ID_LEN + 1]; /* the last run that fired; "" */
};
/* Free what a row owns (not the row); NULL is ok. */
void store_schedule_clear(struct store_schedule *s);
void store_schedules_free(struct store_schedule *v, size_t n);

/*
 * Add a schedule made through the API (source api, state from s: the
 * caller sets next_due). Refused when the name is taken. Audited.
 */
int store_sched_add(struct store *st, const struct store_actor *who,
    const struct store_schedule *s, int64_t now, struct vsm_err *err);
/* Remove an api schedule and its runs; a config one is refused. Audited. */
int store_sched_remove(struct store *st, const struct store_actor *who,
    const char *name, int64_t now, struct vsm_err *err);
/*
 * Enable or disable a schedule of either source. Enabling sets next_due
 * (runs due while it was disabled are not made up) and drops a pending
 * run (skipped, reason disabled). Audited. STORE_NOTFOUND when unknown.
 */
int store_sched_enable(struct store *st, const struct store_actor *who,
    const char *name, int enabled, int64_t next_due, int64_t now,
    struct vsm_err *err);
/*
 * Make the config schedules those of v[0..n), in one transaction: new
 * ones are added; changed ones updated, their next_due reset to 0 when
 * the cron or the zone changed; those no longer listed removed with
 * their runs. `enabled` follows v only when v's value differs from what
 * the file said at the previous sync (an operator's enable/disable
 * otherwise stands). An api schedule of the same name becomes a config
 * one. Audited when anything changed.
 */
int store_sched_sync(struct store *st, const struct store_actor *who,
    const struct store_schedule *v, size_t n, int64_t now, size_t *changed,
    struct vsm_err *err);
int store_sched_get(struct store *st, const char *name,
    struct store_schedule *out, struct vsm_err *err);
/* Every schedule by name. store_schedules_free(*out, *n). */
int store_sched_list(struct store *st, struct store_schedule **out, size_t *n,
    struct vsm_err *err);

struct store_sched_run {
	int64_t                id;
	char                   schedule[STORE_NAME_MAX];
	int64_t                due_at; /* the instant it was due */
	int64_t                at;     /* when it was last decided */
	enum store_run_outcome outcome;
	char                   reason[STORE_SHORT_MAX];
	char                   job_id[STORE_ID_LEN + 1]; /* "" none */
	size_t                 ntasks; /* the job's tasks now */
	size_t                 nstate[STORE_TASK_NSTATES];
};
/* The runs of a schedule, the latest due first, at most limit. free(*out). */
int store_sched_runs(struct store *st, const char *name, size_t limit,
    struct store_sched_run **out, size_t *n, struct vsm_err *err);

/* One decision of the scheduler about one run. */
struct store_sched_step {
	const char                  *schedule;
	int64_t                      due_at;
	enum store_run_outcome       outcome;
	const char                  *reason; /* NULL: none */
	int                          update; /* the run exists (pending) */
	const struct store_job_spec *job;    /* fired: made with the run */
	const char *replaced_job; /* overlap replace: its run is replaced */
	int64_t     next_due;     /* the schedule's state after the step */
	int64_t     pending_due;
};
/*
 * Record a step in one transaction: the run row (inserted, unique per
 * schedule and due_at, or updated when `update`), the job when it fires
 * (audited as job.create by who), the replaced run, and the schedule's
 * state (next_due, pending_due, last_*). STORE_EXISTS with nothing
 * changed when the run was recorded before (so a restart never fires it
 * twice); STORE_NOTFOUND when the schedule is gone. job_id gets the new
 * job's id ("" when none).
 */
int store_sched_step(struct store *st, const struct store_actor *who,
    const struct store_sched_step *step, int64_t now,
    char job_id[STORE_ID_LEN + 1], struct vsm_err *err);

struct store_missed {
	int64_t     due_at;
	const char *reason; /* "late", "coalesced" */
};
/*
 * Record runs the controller missed (outcome missed; rows recorded
 * before are left as they are) and set next_due, in one transaction.
 */
int store_sched_missed(struct store *st, const char *name,
    const struct store_missed *v, size_t n, int64_t next_due, int64_t now,
    struct vsm_err *err);

/* ------------------------------------------------------------------------ */
/* Audit */

struct store_audit {
	int64_t id;
	int64_t at;
	char    who[STORE_NAME_MAX];
	char    role[STORE_SHORT_MAX];
	char    action[STORE_SHORT_MAX];
	char   *target;
	char   *detail; /* JSON object */
};
void store_audit_free(struct store_audit *v, size_t n);
int  store_audit_append(struct store *st, const struct store_actor *who,
     const char *action, const char *target, const char *detail, int64_t now,
     struct vsm_err *err);
/* Newest first, ids below before_id (0: from the newest). */
int store_audit_list(struct store *st, int64_t before_id, size_t limit,
    struct store_audit **out, size_t *n, struct vsm_err *err);

/* ------------------------------------------------------------------------ */
/* The writer: one thread, batched commits */

struct store_writer_conf {
	unsigned batch_max; /* ops per commit (0: 256) */
	unsigned batch_ms;  /* wait for more ops after the first (0: none) */
	unsigned queue_max; /* queued ops before enqueue refuses (0: 4096) */
};

/*
 * Called on the writer thread once the op is settled: rc 0 (stored), 1
 * (already stored: an event seen before) or -1 (msg says why). For 0 and
 * 1 the commit holding the op is durable, so the caller may ack. Must
 * not block or call store_close; it may enqueue more writes.
 */
typedef void store_done_fn(void *arg, int rc, const char *msg);

int store_writer_start(struct store *st, const struct store_writer_conf *conf,
    struct vsm_err *err);
/*
 * Queue a write; the op's data is copied. Returns -1 without queueing
 * when the queue is full (back-pressure: the caller must not ack, the
 * agent resends) or the writer is not running; cb is then never called.
 */
int store_write_event(struct store *st, int64_t host_id,
    const struct store_event *ev, store_done_fn *cb, void *arg,
    struct vsm_err *err);
int store_write_heartbeat(struct store *st, const struct store_heartbeat *hb,
    store_done_fn *cb, void *arg, struct vsm_err *err);
/* Drain the queue and join the thread. store_close does this too. */
void store_writer_stop(struct store *st);

/* ------------------------------------------------------------------------ */
/* Backends */

/*
 * One row per backend. `db` is the backend's own handle. The batch calls
 * let the writer put many ops in one transaction: inside a batch every
 * op runs in a savepoint, so a refused op does not undo the others.
 * Every op commits on its own when called outside a batch.
 */
struct store_backend {
	const char *name;
	const char *scheme; /* "sqlite" matches "sqlite:..." */
	int (*open)(const char *target, void **db, struct vsm_err *);
	void (*close)(void *db);
	int (*schema)(void *db, int *current, int *latest, struct vsm_err *);
	int (*batch_begin)(void *db, struct vsm_err *);
	int (*batch_commit)(void *db, struct vsm_err *);
	void (*batch_abort)(void *db);

	/* token_hash: BLAKE2b-256 of the token, or NULL */
	int (*key_add)(void *db, const char *name, const uint8_t *pubkey,
	    const uint8_t *token_hash, int64_t now, struct store_key *,
	    struct vsm_err *);
	int (*key_get)(void *db, int64_t id, const uint8_t *pubkey,
	    struct store_key *, struct vsm_err *);
	int (*key_set_state)(void *db, const struct store_actor *, int64_t id,
	    enum store_key_state, int64_t now, struct vsm_err *);
	int (*key_list)(void *db, int state, struct store_key **, size_t *,
	    struct vsm_err *);
	int (*token_create)(void *db, const struct store_actor *, int uses,
	    int64_t expires_at, int64_t now, const uint8_t *hash, int64_t *id,
	    struct vsm_err *);
	int (*token_redeem)(void *db, const uint8_t *hash, int64_t now,
	    int64_t *id, struct vsm_err *);
	int (*token_list)(
	    void *db, struct store_token **, size_t *, struct vsm_err *);
	int (*token_revoke)(void *db, const struct store_actor *, int64_t id,
	    int64_t now, struct vsm_err *);

	int (*host_hello)(void *db, const struct store_hello *, int64_t now,
	    int64_t *id, struct vsm_err *);
	int (*host_heartbeat)(
	    void *db, const struct store_heartbeat *, struct vsm_err *);
	int (*host_set_facts)(void *db, int64_t id, const char *facts,
	    int64_t now, struct vsm_err *);
	int (*host_down)(void *db, int64_t id, int64_t now, struct vsm_err *);
	int (*host_get)(
	    void *db, const char *name, struct store_host *, struct vsm_err *);
	int (*host_list)(
	    void *db, struct store_host **, size_t *, struct vsm_err *);
	int (*host_targets)(
	    void *db, struct store_host **, size_t *, struct vsm_err *);

	int (*job_create)(void *db, const struct store_actor *,
	    const struct store_job_spec *, int64_t now, char *job_id,
	    struct vsm_err *);
	int (*job_get)(
	    void *db, const char *id, struct store_job *, struct vsm_err *);
	int (*job_list)(void *db, size_t limit, struct store_job **, size_t *,
	    struct vsm_err *);
	int (*job_cancel)(void *db, const struct store_actor *, const char *id,
	    int64_t now, size_t *, struct vsm_err *);
	int (*task_get)(
	    void *db, const char *id, struct store_task *, struct vsm_err *);
	int (*task_host)(
	    void *db, const char *id, int64_t *host_id, struct vsm_err *);
	int (*task_list)(void *db, const char *job_id, struct store_task **,
	    size_t *, struct vsm_err *);
	int (*task_next)(void *db, int64_t host_id, unsigned limit,
	    unsigned max, int64_t now, struct store_task **, size_t *,
	    struct vsm_err *);
	int (*task_next_many)(void *db, struct store_claim *, size_t n,
	    unsigned limit, int64_t now, struct vsm_err *);
	int (*task_ack)(void *db, int64_t host_id, const char *id, int64_t now,
	    struct vsm_err *);
	int (*task_set_state)(void *db, const char *id, enum store_task_state,
	    int64_t now, struct vsm_err *);
	int (*task_retry)(
	    void *db, const char *id, int64_t now, struct vsm_err *);
	int (*task_sweep)(void *db, int64_t now, int64_t ack_ms, size_t *,
	    size_t *, struct vsm_err *);

	int (*event_append)(void *db, int64_t host_id,
	    const struct store_event *, struct vsm_err *);
	int (*event_list)(void *db, const char *task_id, int64_t after_seq,
	    size_t limit, struct store_event **, size_t *, struct vsm_err *);

	int (*artifact_add)(void *db, const char *task_id, const char *path,
	    int64_t now, struct store_artifact *, struct vsm_err *);
	int (*artifact_complete)(void *db, int64_t id, int64_t size,
	    const uint8_t *hash, int64_t now, struct vsm_err *);
	int (*artifact_list)(void *db, const char *task_id,
	    struct store_artifact **, size_t *, struct vsm_err *);

	int (*task_wake_hosts)(void *db, int64_t since, int64_t now, size_t max,
	    int64_t **ids, size_t *n, struct vsm_err *);

	int (*sched_add)(void *db, const struct store_actor *,
	    const struct store_schedule *, int64_t now, struct vsm_err *);
	int (*sched_remove)(void *db, const struct store_actor *,
	    const char *name, int64_t now, struct vsm_err *);
	int (*sched_enable)(void *db, const struct store_actor *,
	    const char *name, int enabled, int64_t next_due, int64_t now,
	    struct vsm_err *);
	int (*sched_sync)(void *db, const struct store_actor *,
	    const struct store_schedule *, size_t n, int64_t now, size_t *,
	    struct vsm_err *);
	int (*sched_get)(void *db, const char *name, struct store_schedule *,
	    struct vsm_err *);
	int (*sched_list)(
	    void *db, struct store_schedule **, size_t *, struct vsm_err *);
	int (*sched_runs)(void *db, const char *name, size_t limit,
	    struct store_sched_run **, size_t *, struct vsm_err *);
	int (*sched_step)(void *db, const struct store_actor *,
	    const struct store_sched_step *, int64_t now, char *job_id,
	    struct vsm_err *);
	int (*sched_missed)(void *db, const char *name,
	    const struct store_missed *, size_t n, int64_t next_due,
	    int64_t now, struct vsm_err *);

	int (*audit_append)(void *db, const struct store_actor *,
	    const char *action, const char *target, const char *detail,
	    int64_t now, struct vsm_err *);
	int (*audit_list)(void *db, int64_t before_id, size_t limit,
	    struct store_audit **, size_t *, struct vsm_err *);
};

extern const struct store_backend store_backend_sqlite;

/* For backends: a fresh random job or task id (32 hex characters). */
void store_new_id(char id[STORE_ID_LEN + 1]);
/* For backends: BLAKE2b-256 of a token's text. */
void store_token_hash(const char *tok, uint8_t hash[STORE_HASH_LEN]);

/* Shared by the SQLite backend and its migrations (store_migrate.c). */
struct sqlite3;
int store_sqlite_migrate(struct sqlite3 *db, struct vsm_err *err);
int store_sqlite_schema(
    struct sqlite3 *db, int *current, int *latest, struct vsm_err *err);

#endif /* VSM_STORE_H */
