/*
 * store.c: the store's front end. It picks a backend by URI scheme, checks
 * every argument once (sizes, JSON, enum ranges) so that no backend has to,
 * and dispatches through the backend's ops table (store.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "err.h"
#include "log.h"
#include "store.h"
#include "store_int.h"

static const struct store_backend *const backends[] = {
    &store_backend_sqlite,
    /* &store_backend_pg, when the HA issue lands */
};

static const char *const key_states[] = {
    [STORE_KEY_PENDING] = "pending",
    [STORE_KEY_ACCEPTED] = "accepted",
    [STORE_KEY_REJECTED] = "rejected",
    [STORE_KEY_REVOKED] = "revoked",
};

static const char *const task_states[STORE_TASK_NSTATES] = {
    [STORE_TASK_QUEUED] = "queued",
    [STORE_TASK_SENT] = "sent",
    [STORE_TASK_RUNNING] = "running",
    [STORE_TASK_OK] = "ok",
    [STORE_TASK_WARN] = "warn",
    [STORE_TASK_FAIL] = "fail",
    [STORE_TASK_ERROR] = "error",
    [STORE_TASK_CANCELLED] = "cancelled",
    [STORE_TASK_TIMEOUT] = "timeout",
    [STORE_TASK_LOST] = "lost",
};

static const char *const sched_sources[] = {
    [STORE_SCHED_API] = "api",
    [STORE_SCHED_CONFIG] = "config",
};

static const char *const overlaps[] = {
    [STORE_OVERLAP_SKIP] = "skip",
    [STORE_OVERLAP_QUEUE] = "queue",
    [STORE_OVERLAP_REPLACE] = "replace",
    [STORE_OVERLAP_ALLOW] = "allow",
};

static const char *const window_policies[] = {
    [STORE_WINDOW_WAIT] = "wait",
    [STORE_WINDOW_SKIP] = "skip",
};

static const char *const run_outcomes[STORE_RUN_NOUTCOMES] = {
    [STORE_RUN_FIRED] = "fired",
    [STORE_RUN_QUEUED] = "queued",
    [STORE_RUN_WAITING] = "waiting",
    [STORE_RUN_SKIPPED] = "skipped",
    [STORE_RUN_MISSED] = "missed",
    [STORE_RUN_REPLACED] = "replaced",
    [STORE_RUN_FAILED] = "failed",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

#define B(s) (1u << (s))
#define TERMINAL                                                               \
	(B(STORE_TASK_OK) | B(STORE_TASK_WARN) | B(STORE_TASK_FAIL) |          \
	    B(STORE_TASK_ERROR) | B(STORE_TASK_CANCELLED) |                    \
	    B(STORE_TASK_TIMEOUT) | B(STORE_TASK_LOST))

/* The states a task may move to from each state. */
static const unsigned task_next[STORE_TASK_NSTATES] = {
    [STORE_TASK_QUEUED] = B(STORE_TASK_SENT) | B(STORE_TASK_CANCELLED),
    /* sent -> queued: not acked in time, offered again */
    [STORE_TASK_SENT] = B(STORE_TASK_QUEUED) | B(STORE_TASK_RUNNING) | TERMINAL,
    [STORE_TASK_RUNNING] = TERMINAL,
};

/* ------------------------------------------------------------------------ */
/* Names and small helpers */

const char *
store_key_state_str(enum store_key_state s)
{
	if ((unsigned)s >= sizeof(key_states) / sizeof(key_states[0]))
		return ("unknown");
	return (key_states[s]);
}

int
store_key_state_parse(const char *s, enum store_key_state *out)
{
	size_t i;

	for (i = 0; s != NULL && i < sizeof(key_states) / sizeof(key_states[0]);
	     i++)
		if (strcmp(s, key_states[i]) == 0) {
			*out = (enum store_key_state)i;
			return (0);
		}
	return (-1);
}

const char *
store_task_state_str(enum store_task_state s)
{
	if ((unsigned)s >= STORE_TASK_NSTATES)
		return ("unknown");
	return (task_states[s]);
}

int
store_task_state_parse(const char *s, enum store_task_state *out)
{
	size_t i;

	for (i = 0; s != NULL && i < STORE_TASK_NSTATES; i++)
		if (strcmp(s, task_states[i]) == 0) {
			*out = (enum store_task_state)i;
			return (0);
		}
	return (-1);
}

/* The index of s in names[0..n), or -1. */
static int
name_index(const char *const *names, size_t n, const char *s)
{
	size_t i;

	for (i = 0; s != NULL && i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return ((int)i);
	return (-1);
}

const char *
store_sched_source_str(enum store_sched_source s)
{
	return (
	    (unsigned)s < NELEM(sched_sources) ? sched_sources[s] : "unknown");
}

const char *
store_overlap_str(enum store_overlap o)
{
	return ((unsigned)o < NELEM(overlaps) ? overlaps[o] : "unknown");
}

int
store_overlap_parse(const char *s, enum store_overlap *out)
{
	int i = name_index(overlaps, NELEM(overlaps), s);

	if (i >= 0)
		*out = (enum store_overlap)i;
	return (i >= 0 ? 0 : -1);
}

const char *
store_window_policy_str(enum store_window_policy p)
{
	return ((unsigned)p < NELEM(window_policies) ? window_policies[p]
	                                             : "unknown");
}

int
store_window_policy_parse(const char *s, enum store_window_policy *out)
{
	int i = name_index(window_policies, NELEM(window_policies), s);

	if (i >= 0)
		*out = (enum store_window_policy)i;
	return (i >= 0 ? 0 : -1);
}

const char *
store_run_outcome_str(enum store_run_outcome o)
{
	return (
	    (unsigned)o < STORE_RUN_NOUTCOMES ? run_outcomes[o] : "unknown");
}

int
store_run_outcome_parse(const char *s, enum store_run_outcome *out)
{
	int i = name_index(run_outcomes, STORE_RUN_NOUTCOMES, s);

	if (i >= 0)
		*out = (enum store_run_outcome)i;
	return (i >= 0 ? 0 : -1);
}

int
store_task_state_terminal(enum store_task_state s)
{
	return ((unsigned)s < STORE_TASK_NSTATES && (TERMINAL & B(s)) != 0);
}

int
store_task_transition_ok(enum store_task_state from, enum store_task_state to)
{
	if ((unsigned)from >= STORE_TASK_NSTATES ||
	    (unsigned)to >= STORE_TASK_NSTATES)
		return (0);
	return ((task_next[from] & B(to)) != 0);
}

void
store_new_id(char id[STORE_ID_LEN + 1])
{
	uint8_t raw[STORE_ID_LEN / 2];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(id, STORE_ID_LEN + 1, raw, sizeof(raw));
}

void
store_token_hash(const char *tok, uint8_t hash[STORE_HASH_LEN])
{
	crypto_generichash(hash, STORE_HASH_LEN, (const unsigned char *)tok,
	    strlen(tok), NULL, 0);
}

/* A required string of 1..max-1 bytes. */
static int
check_str(const char *s, size_t max, const char *what, struct vsm_err *err)
{
	size_t len;

	if (s == NULL || (len = strnlen(s, max)) == 0)
		return (vsm_err_set(err, "%s is empty", what));
	if (len >= max)
		return (vsm_err_set(
		    err, "%s is longer than %zu bytes", what, max - 1));
	return (0);
}

/* Optional JSON text of the given type (JSON_OBJECT, JSON_ARRAY). */
static int
check_json(const char *s, json_type type, const char *what, struct vsm_err *err)
{
	json_error_t jerr;
	json_t      *j;
	int          ret = -1;

	if (s == NULL)
		return (0);
	if (strnlen(s, STORE_JSON_MAX + 1) > STORE_JSON_MAX)
		return (vsm_err_set(
		    err, "%s is larger than %d bytes", what, STORE_JSON_MAX));
	if ((j = json_loads(s, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
		return (
		    vsm_err_set(err, "%s is not JSON: %s", what, jerr.text));
	if (json_typeof(j) != type)
		vsm_err_set(err, "%s is not a JSON %s", what,
		    type == JSON_OBJECT ? "object" : "array");
	else
		ret = 0;
	json_decref(j);
	return (ret);
}

static int
check_actor(const struct store_actor *who, struct vsm_err *err)
{
	if (who == NULL)
		return (vsm_err_set(err, "audited call without an actor"));
	if (check_str(who->who, STORE_NAME_MAX, "actor", err) == -1 ||
	    check_str(who->role, STORE_SHORT_MAX, "role", err) == -1)
		return (-1);
	return (0);
}

static int
check_id(const char *id, const char *what, struct vsm_err *err)
{
	return (check_str(id, STORE_ID_LEN + 1, what, err));
}

int
store_check_event(const struct store_event *ev, struct vsm_err *err)
{
	if (check_id(ev->task_id, "task id", err) == -1)
		return (-1);
	if (ev->seq <= 0)
		return (vsm_err_set(
		    err, "event seq %lld is not positive", (long long)ev->seq));
	switch (ev->kind) {
	case STORE_EV_STATUS:
		if (ev->status < STORE_TASK_RUNNING ||
		    ev->status >= STORE_TASK_NSTATES)
			return (vsm_err_set(err,
			    "event status %d is not one "
			    "an agent reports",
			    (int)ev->status));
		break;
	case STORE_EV_RESULT:
		if (ev->text == NULL)
			return (vsm_err_set(err, "result event without JSON"));
		return (check_json(ev->text, JSON_OBJECT, "result", err));
	case STORE_EV_LOG:
		if (ev->text == NULL)
			return (vsm_err_set(err, "log event without a line"));
		break;
	case STORE_EV_PROGRESS:
		if (ev->progress < 0 || ev->progress > 100)
			return (vsm_err_set(
			    err, "progress %d is not 0..100", ev->progress));
		break;
	default:
		return (
		    vsm_err_set(err, "event kind %d unknown", (int)ev->kind));
	}
	if (ev->text != NULL &&
	    strnlen(ev->text, STORE_TEXT_MAX + 1) > STORE_TEXT_MAX)
		return (vsm_err_set(
		    err, "event text is longer than %d bytes", STORE_TEXT_MAX));
	return (0);
}

static size_t
clamp_limit(size_t limit)
{
	return (limit == 0 || limit > STORE_LIST_MAX ? STORE_LIST_MAX : limit);
}

/* ------------------------------------------------------------------------ */
/* Open and close */

int
store_open(const char *uri, struct store **out, struct vsm_err *err)
{
	const struct store_backend *be = NULL;
	struct store               *st;
	const char                 *target = uri, *colon;
	size_t                      i, slen;

	*out = NULL;
	if (check_str(uri, 4096, "store URI", err) == -1)
		return (-1);
	if (sodium_init() == -1)
		return (vsm_err_set(err, "store: libsodium failed to start"));
	if (strncmp(uri, "postgresql://", 13) == 0 ||
	    strncmp(uri, "postgres://", 11) == 0)
		return (vsm_err_set(err,
		    "store %s: the PostgreSQL backend is not built yet; "
		    "use sqlite:PATH",
		    uri));
	colon = strchr(uri, ':');
	for (i = 0; colon != NULL && i < sizeof(backends) / sizeof(backends[0]);
	     i++) {
		slen = strlen(backends[i]->scheme);
		if ((size_t)(colon - uri) == slen &&
		    strncmp(uri, backends[i]->scheme, slen) == 0) {
			be = backends[i];
			target = colon + 1;
			/* sqlite:///var/x and sqlite:/var/x are the same */
			if (strncmp(target, "//", 2) == 0)
				target += 2;
		}
	}
	if (be == NULL) {
		if (strstr(uri, "://") != NULL)
			return (vsm_err_set(err,
			    "store %s: unknown scheme (use sqlite:PATH)", uri));
		be = &store_backend_sqlite; /* a bare path */
	}
	if (*target == '\0')
		return (vsm_err_set(err, "store %s: no path", uri));
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return (vsm_err_set(err, "store: out of memory"));
	st->be = be;
	if (be->open(target, &st->db, err) == -1) {
		free(st);
		return (-1);
	}
	store_writer_init(&st->w);
	*out = st;
	return (0);
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	store_writer_stop(st);
	pthread_cond_destroy(&st->w.cond);
	pthread_mutex_destroy(&st->w.lock);
	st->be->close(st->db);
	free(st);
}

const char *
store_backend_name(const struct store *st)
{
	return (st->be->name);
}

int
store_schema_version(
    struct store *st, int *current, int *latest, struct vsm_err *err)
{
	return (st->be->schema(st->db, current, latest, err));
}

/* ------------------------------------------------------------------------ */
/* Keys and tokens */

int
store_key_add(struct store *st, const char *name,
    const uint8_t pubkey[STORE_PUBKEY_LEN], const char *token, int64_t now,
    struct store_key *out, struct vsm_err *err)
{
	uint8_t hash[STORE_HASH_LEN];

	if (check_str(name, STORE_NAME_MAX, "host name", err) == -1)
		return (-1);
	if (pubkey == NULL)
		return (vsm_err_set(err, "no public key"));
	if (token != NULL) {
		if (check_str(token, STORE_TOKEN_LEN + 1, "token", err) == -1)
			return (-1);
		store_token_hash(token, hash);
	}
	return (st->be->key_add(
	    st->db, name, pubkey, token != NULL ? hash : NULL, now, out, err));
}

int
store_key_get(
    struct store *st, int64_t id, struct store_key *out, struct vsm_err *err)
{
	return (st->be->key_get(st->db, id, NULL, out, err));
}

int
store_key_find(struct store *st, const uint8_t pubkey[STORE_PUBKEY_LEN],
    struct store_key *out, struct vsm_err *err)
{
	if (pubkey == NULL)
		return (vsm_err_set(err, "no public key"));
	return (st->be->key_get(st->db, 0, pubkey, out, err));
}

int
store_key_set_state(struct store *st, const struct store_actor *who, int64_t id,
    enum store_key_state state, int64_t now, struct vsm_err *err)
{
	if (check_actor(who, err) == -1)
		return (-1);
	if ((unsigned)state > STORE_KEY_REVOKED)
		return (vsm_err_set(err, "key state %d unknown", (int)state));
	return (st->be->key_set_state(st->db, who, id, state, now, err));
}

int
store_key_list(struct store *st, int state, struct store_key **out, size_t *n,
    struct vsm_err *err)
{
	*out = NULL;
	*n = 0;
	if (state > (int)STORE_KEY_REVOKED)
		return (vsm_err_set(err, "key state %d unknown", state));
	return (st->be->key_list(st->db, state, out, n, err));
}

int
store_token_create(struct store *st, const struct store_actor *who, int uses,
    int64_t ttl_ms, int64_t now, char tok[STORE_TOKEN_LEN + 1], int64_t *id,
    struct vsm_err *err)
{
	uint8_t raw[STORE_TOKEN_LEN / 2], hash[STORE_HASH_LEN];
	int     ret;

	tok[0] = '\0';
	if (check_actor(who, err) == -1)
		return (-1);
	if (uses == 0)
		uses = 1;
	if (uses < 0 || uses > 100000)
		return (
		    vsm_err_set(err, "token uses %d not in 1..100000", uses));
	if (ttl_ms <= 0)
		return (vsm_err_set(err, "token lifetime must be positive"));
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(tok, STORE_TOKEN_LEN + 1, raw, sizeof(raw));
	sodium_memzero(raw, sizeof(raw));
	store_token_hash(tok, hash);
	ret = st->be->token_create(
	    st->db, who, uses, now + ttl_ms, now, hash, id, err);
	if (ret == -1)
		sodium_memzero(tok, STORE_TOKEN_LEN + 1);
	return (ret);
}

int
store_token_redeem(struct store *st, const char *tok, int64_t now, int64_t *id,
    struct vsm_err *err)
{
	uint8_t hash[STORE_HASH_LEN];

	if (check_str(tok, STORE_TOKEN_LEN + 1, "token", err) == -1)
		return (-1);
	store_token_hash(tok, hash);
	return (st->be->token_redeem(st->db, hash, now, id, err));
}

int
store_token_list(
    struct store *st, struct store_token **out, size_t *n, struct vsm_err *err)
{
	*out = NULL;
	*n = 0;
	return (st->be->token_list(st->db, out, n, err));
}

int
store_token_revoke(struct store *st, const struct store_actor *who, int64_t id,
    int64_t now, struct vsm_err *err)
{
	if (check_actor(who, err) == -1)
		return (-1);
	return (st->be->token_revoke(st->db, who, id, now, err));
}

/* ------------------------------------------------------------------------ */
/* Hosts */

void
store_host_clear(struct store_host *h)
{
	if (h == NULL)
		return;
	free(h->labels);
	free(h->facts);
	free(h->capabilities);
	h->labels = h->facts = h->capabilities = NULL;
}

void
store_hosts_free(struct store_host *v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		store_host_clear(&v[i]);
	free(v);
}

int
store_host_hello(struct store *st, const struct store_hello *h, int64_t now,
    int64_t *host_id, struct vsm_err *err)
{
	if (check_str(h->name, STORE_NAME_MAX, "host name", err) == -1 ||
	    check_json(h->labels, JSON_OBJECT, "labels", err) == -1 ||
	    check_json(h->capabilities, JSON_OBJECT, "capabilities", err) == -1)
		return (-1);
	if (h->agent_version != NULL &&
	    strnlen(h->agent_version, STORE_SHORT_MAX) >= STORE_SHORT_MAX)
		return (vsm_err_set(err, "agent version is too long"));
	return (st->be->host_hello(st->db, h, now, host_id, err));
}

static int
check_pct(double v, const char *what, struct vsm_err *err)
{
	if (!(v >= 0 && v <= 100))
		return (vsm_err_set(err, "%s %g is not 0..100", what, v));
	return (0);
}

int
store_check_heartbeat(const struct store_heartbeat *hb, struct vsm_err *err)
{
	if (check_pct(hb->cpu_pct, "cpu", err) == -1 ||
	    check_pct(hb->mem_pct, "mem", err) == -1 ||
	    check_pct(hb->disk_pct, "disk", err) == -1)
		return (-1);
	return (0);
}

int
store_host_heartbeat(
    struct store *st, const struct store_heartbeat *hb, struct vsm_err *err)
{
	if (store_check_heartbeat(hb, err) == -1)
		return (-1);
	return (st->be->host_heartbeat(st->db, hb, err));
}

int
store_host_set_facts(struct store *st, int64_t host_id, const char *facts,
    int64_t now, struct vsm_err *err)
{
	if (facts == NULL)
		facts = "{}";
	if (check_json(facts, JSON_OBJECT, "facts", err) == -1)
		return (-1);
	return (st->be->host_set_facts(st->db, host_id, facts, now, err));
}

int
store_host_down(
    struct store *st, int64_t host_id, int64_t now, struct vsm_err *err)
{
	return (st->be->host_down(st->db, host_id, now, err));
}

int
store_host_get(struct store *st, const char *name, struct store_host *out,
    struct vsm_err *err)
{
	if (check_str(name, STORE_NAME_MAX, "host name", err) == -1)
		return (-1);
	return (st->be->host_get(st->db, name, out, err));
}

int
store_host_list(
    struct store *st, struct store_host **out, size_t *n, struct vsm_err *err)
{
	*out = NULL;
	*n = 0;
	return (st->be->host_list(st->db, out, n, err));
}

int
store_host_targets(
    struct store *st, struct store_host **out, size_t *n, struct vsm_err *err)
{
	*out = NULL;
	*n = 0;
	return (st->be->host_targets(st->db, out, n, err));
}

/* ------------------------------------------------------------------------ */
/* Jobs and tasks */

void
store_job_clear(struct store_job *j)
{
	if (j == NULL)
		return;
	free(j->params);
	free(j->target);
	j->params = j->target = NULL;
}

void
store_jobs_free(struct store_job *v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		store_job_clear(&v[i]);
	free(v);
}

void
store_tasks_free(struct store_task *v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i].params);
	free(v);
}

/* The parts of a job spec past its module, params and target. */
static int
check_job_spec(const struct store_job_spec *spec, struct vsm_err *err)
{
	size_t i;

	if (spec->nhosts == 0 || spec->hosts == NULL)
		return (
		    vsm_err_set(err, "job %s matches no host", spec->module));
	if (spec->nhosts > STORE_FANOUT_MAX)
		return (
		    vsm_err_set(err, "job over %d hosts", STORE_FANOUT_MAX));
	if (spec->timeout_ms <= 0 || spec->max_retries < 0 ||
	    spec->max_retries > 100)
		return (
		    vsm_err_set(err, "job timeout or retries out of range"));
	if (spec->max_parallel < 0 || spec->max_parallel > STORE_FANOUT_MAX)
		return (vsm_err_set(err, "job max_parallel %d not in 0..%d",
		    spec->max_parallel, STORE_FANOUT_MAX));
	if (spec->window_end < 0)
		return (vsm_err_set(err, "job window end is negative"));
	if (spec->schedule != NULL &&
	    strnlen(spec->schedule, STORE_NAME_MAX) >= STORE_NAME_MAX)
		return (vsm_err_set(err, "job schedule name is too long"));
	for (i = 0; spec->not_before != NULL && i < spec->nhosts; i++)
		if (spec->not_before[i] < 0)
			return (
			    vsm_err_set(err, "task not_before is negative"));
	return (0);
}

int
store_job_create(struct store *st, const struct store_actor *who,
    const struct store_job_spec *spec, int64_t now,
    char job_id[STORE_ID_LEN + 1], struct vsm_err *err)
{
	job_id[0] = '\0';
	if (check_actor(who, err) == -1 ||
	    check_str(spec->module, STORE_SHORT_MAX, "module", err) == -1 ||
	    check_json(spec->params, JSON_OBJECT, "params", err) == -1)
		return (-1);
	if (spec->target != NULL &&
	    strnlen(spec->target, STORE_TEXT_MAX + 1) > STORE_TEXT_MAX)
		return (vsm_err_set(err, "target is too long"));
	if (check_job_spec(spec, err) == -1)
		return (-1);
	return (st->be->job_create(st->db, who, spec, now, job_id, err));
}

int
store_job_get(struct store *st, const char *job_id, struct store_job *out,
    struct vsm_err *err)
{
	if (check_id(job_id, "job id", err) == -1)
		return (-1);
	return (st->be->job_get(st->db, job_id, out, err));
}

int
store_job_list(struct store *st, size_t limit, struct store_job **out,
    size_t *n, struct vsm_err *err)
{
	*out = NULL;
	*n = 0;
	return (st->be->job_list(st->db, clamp_limit(limit), out, n, err));
}

int
store_job_cancel(struct store *st, const struct store_actor *who,
    const char *job_id, int64_t now, size_t *ncancelled, struct vsm_err *err)
{
	*ncancelled = 0;
	if (check_actor(who, err) == -1 ||
	    check_id(job_id, "job id", err) == -1)
		return (-1);
	return (st->be->job_cancel(st->db, who, job_id, now, ncancelled, err));
}

int
store_task_get(struct store *st, const char *task_id, struct store_task *out,
    struct vsm_err *err)
{
	if (check_id(task_id, "task id", err) == -1)
		return (-1);
	return (st->be->task_get(st->db, task_id, out, err));
}

int
store_task_host(struct store *st, const char *task_id, int64_t *host_id,
    struct vsm_err *err)
{
	if (check_id(task_id, "task id", err) == -1)
		return (-1);
	return (st->be->task_host(st->db, task_id, host_id, err));
}

int
store_task_list(struct store *st, const char *job_id, struct store_task **out,
    size_t *n, struct vsm_err *err)
{
	*out = NULL;
	*n = 0;
	if (check_id(job_id, "job id", err) == -1)
		return (-1);
	return (st->be->task_list(st->db, job_id, out, n, err));
}

int
store_task_next(struct store *st, int64_t host_id, unsigned limit, unsigned max,
    int64_t now, struct store_task **out, size_t *n, struct vsm_err *err)
{
	*out = NULL;
	*n = 0;
	if (max > STORE_LIST_MAX)
		max = STORE_LIST_MAX;
	if (limit == 0 || max == 0)
		return (0);
	return (
	    st->be->task_next(st->db, host_id, limit, max, now, out, n, err));
}

int
store_task_next_many(struct store *st, struct store_claim *cv, size_t n,
    unsigned limit, int64_t now, struct vsm_err *err)
{
	size_t i;

	for (i = 0; i < n; i++) {
		cv[i].tasks = NULL;
		cv[i].ntasks = 0;
		cv[i].failed = 0;
		if (cv[i].max > STORE_LIST_MAX)
			cv[i].max = STORE_LIST_MAX;
	}
	if (limit == 0 || n == 0)
		return (0);
	return (st->be->task_next_many(st->db, cv, n, limit, now, err));
}

int
store_task_ack(struct store *st, int64_t host_id, const char *task_id,
    int64_t now, struct vsm_err *err)
{
	if (check_id(task_id, "task id", err) == -1)
		return (-1);
	return (st->be->task_ack(st->db, host_id, task_id, now, err));
}

int
store_task_set_state(struct store *st, const char *task_id,
    enum store_task_state state, int64_t now, struct vsm_err *err)
{
	if (check_id(task_id, "task id", err) == -1)
		return (-1);
	if ((unsigned)state >= STORE_TASK_NSTATES)
		return (vsm_err_set(err, "task state %d unknown", (int)state));
	return (st->be->task_set_state(st->db, task_id, state, now, err));
}

int
store_task_retry(
    struct store *st, const char *task_id, int64_t now, struct vsm_err *err)
{
	if (check_id(task_id, "task id", err) == -1)
		return (-1);
	return (st->be->task_retry(st->db, task_id, now, err));
}

int
store_task_sweep(struct store *st, int64_t now, int64_t ack_ms,
    size_t *requeued, size_t *timedout, struct vsm_err *err)
{
	*requeued = *timedout = 0;
	return (
	    st->be->task_sweep(st->db, now, ack_ms, requeued, timedout, err));
}

int
store_task_wake_hosts(struct store *st, int64_t since, int64_t now, size_t max,
    int64_t **ids, size_t *n, struct vsm_err *err)
{
	*ids = NULL;
	*n = 0;
	if (max == 0)
		return (0);
	if (max > STORE_FANOUT_MAX)
		max = STORE_FANOUT_MAX;
	return (st->be->task_wake_hosts(st->db, since, now, max, ids, n, err));
}

/* ------------------------------------------------------------------------ */
/* Schedules */

void
store_schedule_clear(struct store_schedule *s)
{
	if (s == NULL)
		return;
	free(s->params);
	free(s->target);
	s->params = s->target = NULL;
}

void
store_schedules_free(struct store_schedule *v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		store_schedule_clear(&v[i]);
	free(v);
}

/* A schedule's definition, as every writer of one needs it checked. */
static int
check_schedule(const struct store_schedule *s, struct vsm_err *err)
{
	if (check_str(s->name, STORE_NAME_MAX, "schedule name", err) == -1 ||
	    check_str(s->module, STORE_SHORT_MAX, "module", err) == -1 ||
	    check_json(s->params, JSON_OBJECT, "params", err) == -1 ||
	    check_str(s->target, STORE_TEXT_MAX, "target", err) == -1 ||
	    check_str(s->cron, STORE_CRON_MAX, "cron", err) == -1)
		return (-1);
	if (strnlen(s->tz, STORE_TZ_MAX) >= STORE_TZ_MAX ||
	    strnlen(s->window, STORE_WINDOW_MAX) >= STORE_WINDOW_MAX)
		return (vsm_err_set(err, "tz or window is too long"));
	if ((unsigned)s->source >= NELEM(sched_sources) ||
	    (unsigned)s->overlap >= NELEM(overlaps) ||
	    (unsigned)s->window_policy >= NELEM(window_policies))
		return (
		    vsm_err_set(err, "schedule %s: unknown policy", s->name));
	if (s->max_parallel_pct
	        ? s->max_parallel < 1 || s->max_parallel > 100
	        : s->max_parallel < 0 || s->max_parallel > STORE_FANOUT_MAX)
		return (vsm_err_set(err,
		    "max_parallel %d%s is out of range (0-%d, or 1%%-100%%)",
		    s->max_parallel, s->max_parallel_pct ? "%" : "",
		    STORE_FANOUT_MAX));
	if (s->timeout_ms <= 0 || s->starting_deadline_ms <= 0 ||
	    s->splay_ms < 0 || s->run_timeout_ms < 0)
		return (vsm_err_set(err,
		    "schedule %s: timeout and starting_deadline must be "
		    "positive, splay and run_timeout not negative",
		    s->name));
	if (s->retries < 0 || s->retries > 100)
		return (
		    vsm_err_set(err, "retries %d not in 0..100", s->retries));
	return (0);
}

int
store_sched_add(struct store *st, const struct store_actor *who,
    const struct store_schedule *s, int64_t now, struct vsm_err *err)
{
	if (check_actor(who, err) == -1 || check_schedule(s, err) == -1)
		return (-1);
	return (st->be->sched_add(st->db, who, s, now, err));
}

int
store_sched_remove(struct store *st, const struct store_actor *who,
    const char *name, int64_t now, struct vsm_err *err)
{
	if (check_actor(who, err) == -1 ||
	    check_str(name, STORE_NAME_MAX, "schedule name", err) == -1)
		return (-1);
	return (st->be->sched_remove(st->db, who, name, now, err));
}

int
store_sched_enable(struct store *st, const struct store_actor *who,
    const char *name, int enabled, int64_t next_due, int64_t now,
    struct vsm_err *err)
{
	if (check_actor(who, err) == -1 ||
	    check_str(name, STORE_NAME_MAX, "schedule name", err) == -1)
		return (-1);
	return (st->be->sched_enable(
	    st->db, who, name, enabled != 0, next_due, now, err));
}

int
store_sched_sync(struct store *st, const struct store_actor *who,
    const struct store_schedule *v, size_t n, int64_t now, size_t *changed,
    struct vsm_err *err)
{
	size_t i;

	*changed = 0;
	if (check_actor(who, err) == -1)
		return (-1);
	for (i = 0; i < n; i++)
		if (check_schedule(&v[i], err) == -1)
			return (-1);
	return (st->be->sched_sync(st->db, who, v, n, now, changed, err));
}

int
store_sched_get(struct store *st, const char *name, struct store_schedule *out,
    struct vsm_err *err)
{
	memset(out, 0, sizeof(*out));
	if (check_str(name, STORE_NAME_MAX, "schedule name", err) == -1)
		return (-1);
	return (st->be->sched_get(st->db, name, out, err));
}

int
store_sched_list(struct store *st, struct store_schedule **out, size_t *n,
    struct vsm_err *err)
{
	*out = NULL;
	*n = 0;
	return (st->be->sched_list(st->db, out, n, err));
}

int
store_sched_runs(struct store *st, const char *name, size_t limit,
    struct store_sched_run **out, size_t *n, struct vsm_err *err)
{
	*out = NULL;
	*n = 0;
	if (check_str(name, STORE_NAME_MAX, "schedule name", err) == -1)
		return (-1);
	return (
	    st->be->sched_runs(st->db, name, clamp_limit(limit), out, n, err));
}

int
store_sched_step(struct store *st, const struct store_actor *who,
    const struct store_sched_step *step, int64_t now,
    char job_id[STORE_ID_LEN + 1], struct vsm_err *err)
{
	const struct store_job_spec *spec = step->job;

	job_id[0] = '\0';
	if (check_actor(who, err) == -1 ||
	    check_str(step->schedule, STORE_NAME_MAX, "schedule name", err) ==
	        -1)
		return (-1);
	if ((unsigned)step->outcome >= STORE_RUN_NOUTCOMES)
		return (vsm_err_set(
		    err, "run outcome %d unknown", (int)step->outcome));
	if ((spec != NULL) != (step->outcome == STORE_RUN_FIRED))
		return (
		    vsm_err_set(err, "a run fires with a job, and only then"));
	if (step->reason != NULL &&
	    strnlen(step->reason, STORE_SHORT_MAX) >= STORE_SHORT_MAX)
		return (vsm_err_set(err, "run reason is too long"));
	if (step->replaced_job != NULL &&
	    check_id(step->replaced_job, "replaced job", err) == -1)
		return (-1);
	if (spec != NULL &&
	    (check_str(spec->module, STORE_SHORT_MAX, "module", err) == -1 ||
	        check_json(spec->params, JSON_OBJECT, "params", err) == -1 ||
	        check_job_spec(spec, err) == -1))
		return (-1);
	return (st->be->sched_step(st->db, who, step, now, job_id, err));
}

int
store_sched_missed(struct store *st, const char *name,
    const struct store_missed *v, size_t n, int64_t next_due, int64_t now,
    struct vsm_err *err)
{
	size_t i;

	if (check_str(name, STORE_NAME_MAX, "schedule name", err) == -1)
		return (-1);
	if (n > STORE_LIST_MAX)
		return (vsm_err_set(
		    err, "more than %d missed runs at once", STORE_LIST_MAX));
	for (i = 0; i < n; i++)
		if (v[i].reason == NULL ||
		    strnlen(v[i].reason, STORE_SHORT_MAX) >= STORE_SHORT_MAX)
			return (
			    vsm_err_set(err, "missed run without a reason"));
	return (st->be->sched_missed(st->db, name, v, n, next_due, now, err));
}

/* ------------------------------------------------------------------------ */
/* Events, artifacts, audit */

void
store_events_free(struct store_event *v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i].text);
	free(v);
}

int
store_event_append(struct store *st, int64_t host_id,
    const struct store_event *ev, struct vsm_err *err)
{
	if (store_check_event(ev, err) == -1)
		return (-1);
	return (st->be->event_append(st->db, host_id, ev, err));
}

int
store_event_list(struct store *st, const char *task_id, int64_t after_seq,
    size_t limit, struct store_event **out, size_t *n, struct vsm_err *err)
{
	*out = NULL;
	*n = 0;
	if (check_id(task_id, "task id", err) == -1)
		return (-1);
	return (st->be->event_list(
	    st->db, task_id, after_seq, clamp_limit(limit), out, n, err));
}

void
store_artifacts_free(struct store_artifact *v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i].path);
	free(v);
}

void
store_artifact_clear(struct store_artifact *a)
{
	if (a == NULL)
		return;
	free(a->path);
	a->path = NULL;
}

int
store_artifact_add(struct store *st, const char *task_id, const char *path,
    int64_t now, struct store_artifact *out, struct vsm_err *err)
{
	memset(out, 0, sizeof(*out));
	if (check_id(task_id, "task id", err) == -1 ||
	    check_str(path, STORE_TEXT_MAX, "artifact path", err) == -1)
		return (-1);
	return (st->be->artifact_add(st->db, task_id, path, now, out, err));
}

int
store_artifact_complete(struct store *st, int64_t id, int64_t size,
    const uint8_t hash[STORE_HASH_LEN], int64_t now, struct vsm_err *err)
{
	if (size < 0 || hash == NULL)
		return (vsm_err_set(
		    err, "artifact %lld: bad size or hash", (long long)id));
	return (st->be->artifact_complete(st->db, id, size, hash, now, err));
}

int
store_artifact_list(struct store *st, const char *task_id,
    struct store_artifact **out, size_t *n, struct vsm_err *err)
{
	*out = NULL;
	*n = 0;
	if (check_id(task_id, "task id", err) == -1)
		return (-1);
	return (st->be->artifact_list(st->db, task_id, out, n, err));
}

void
store_audit_free(struct store_audit *v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(v[i].target);
		free(v[i].detail);
	}
	free(v);
}

int
store_audit_append(struct store *st, const struct store_actor *who,
    const char *action, const char *target, const char *detail, int64_t now,
    struct vsm_err *err)
{
	if (check_actor(who, err) == -1 ||
	    check_str(action, STORE_SHORT_MAX, "audit action", err) == -1 ||
	    check_json(detail, JSON_OBJECT, "audit detail", err) == -1)
		return (-1);
	if (target != NULL &&
	    strnlen(target, STORE_TEXT_MAX + 1) > STORE_TEXT_MAX)
		return (vsm_err_set(err, "audit target is too long"));
	return (st->be->audit_append(
	    st->db, who, action, target, detail, now, err));
}

int
store_audit_list(struct store *st, int64_t before_id, size_t limit,
    struct store_audit **out, size_t *n, struct vsm_err *err)
{
	*out = NULL;
	*n = 0;
	return (st->be->audit_list(
	    st->db, before_id, clamp_limit(limit), out, n, err));
}
