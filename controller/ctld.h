/*
 * ctld.h: the parts of the vsm-controller daemon and how they meet
 * (docs/controller.md).
 *
 *	daemon.c	run: config, store, listeners, signals, clean stop
 *	agents.c	the agent listener: authorize, one switch per Envelope
 *	registry.c	live hosts: sessions, held polls, down detection
 *	dispatch.c	jobs from selectors, answering polls, cancels
 *	ingest.c	task events: store writer, then EventsAck
 *	control.c	the control endpoint and its command table
 *	scheduler*.c	schedules: the tick thread, plans, schedule.*
 *	init.c		init: keys, config, store, admin key, token
 */
#ifndef VSM_CTLD_H
#define VSM_CTLD_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "chan.h"
#include "config.h"
#include "store.h"

#define CTLD_OPERATORS_FILE "operators"
#define CTLD_OPERATORS_MAX  256
#define CTLD_CANCEL_MAX     1024 /* pending cancels kept per host */
#define CTLD_POLL_MAX       64   /* tasks handed out in one PollReply */

enum ctld_role {
	CTLD_ROLE_VIEWER = 0,
	CTLD_ROLE_OPERATOR,
	CTLD_ROLE_ADMIN,
};

struct ctld_operator {
	char           name[VSM_NAME_MAX + 1];
	uint8_t        key[VSM_KEY_LEN];
	enum ctld_role role;
};

struct registry;
struct artifacts;
struct scheduler;

struct ctld {
	struct vsm_controller_config *cfg;
	struct store                 *st;
	struct vsm_keypair            key;
	struct vsm_server            *agents;  /* agent listener */
	struct vsm_server            *control; /* control listener */
	struct registry              *reg;
	struct artifacts             *arts;
	struct scheduler             *sched;
	struct ctld_operator         *ops;
	size_t                        nops;
};

/* Wall clock and monotonic clock, milliseconds. */
int64_t ctld_now(void);
int64_t ctld_mono(void);

/*
 * monoclock.c: ctld_cond_init makes cv wait on CLOCK_MONOTONIC;
 * ctld_deadline_in sets ts to ms from now on that clock, for
 * pthread_cond_timedwait on such a cv.
 */
void ctld_cond_init(pthread_cond_t *cv);
void ctld_deadline_in(struct timespec *ts, unsigned ms);

/* init.c, daemon.c: the subcommands. Return the exit code 0/1/2. */
int init_main(int argc, char **argv);
int daemon_main(int argc, char **argv);

const char *role_name(enum ctld_role r);
int         role_parse(const char *s, enum ctld_role *out);

/* agents.c */
extern const struct vsm_server_ops agents_ops;
/* Pack an Envelope and answer req with it (req is released). 0 or -1. */
int agents_reply(struct vsm_srv_req *req, const Vsm__Envelope *env);
/* Answer req with an Error envelope. */
void agents_reply_error(
    struct vsm_srv_req *req, uint32_t code, const char *msg);

/* registry.c */
int  registry_new(struct ctld *cd, struct registry **out);
int  registry_start(struct registry *reg);
void registry_stop(struct registry *reg);
/* Forget held polls without answering them (the server is stopping). */
void registry_forget(struct registry *reg);
void registry_free(struct registry *reg);
int  registry_connect(struct registry *reg, int64_t host_id, const char *name,
     const uint8_t key[VSM_KEY_LEN], uint64_t session);
void registry_closed(struct registry *reg, int64_t host_id, uint64_t session);
void registry_seen(struct registry *reg, int64_t host_id);
/* 1 when the host has a live session now. */
int      registry_connected(struct registry *reg, int64_t host_id);
uint64_t registry_gen(struct registry *reg, int64_t host_id);
/*
 * Hold req as the host's poll unless a wake-up came after `gen`: 0 when
 * held (*prev gets an older held poll to answer, or NULL), -1 when the
 * caller must look for work again.
 */
int registry_hold(struct registry *reg, int64_t host_id,
    struct vsm_srv_req *req, unsigned slots, uint64_t gen,
    struct vsm_srv_req **prev);
/* Take the held poll of a host and bump its wake-up count; NULL if none. */
struct vsm_srv_req *registry_take(
    struct registry *reg, int64_t host_id, unsigned *slots);
/* Queue a cancel for the host's next PollReply. */
int registry_cancel_add(
    struct registry *reg, int64_t host_id, const char *task_id);
/* Move the host's pending cancels to *ids (caller frees each and *ids). */
size_t registry_cancel_take(struct registry *reg, int64_t host_id, char ***ids);

/*
 * Note a task that ended in fail/error/timeout: the timer thread retries
 * it if its job allows (store_task_retry) and wakes the host.
 */
void registry_retry_add(
    struct registry *reg, int64_t host_id, const char *task_id);

/* dispatch.c */
/* Serve a Poll: answer now with work, or hold it. Owns req. */
void dispatch_poll(struct ctld *cd, int64_t host_id, struct vsm_srv_req *req,
    const Vsm__Poll *poll);
/*
 * Answer a held poll of host_id if there is work for it; with `force`
 * answer it even when empty (the heartbeat interval passed). Owns req.
 */
void dispatch_answer(struct ctld *cd, int64_t host_id, struct vsm_srv_req *req,
    unsigned slots, int force);
/* Wake the host's held poll, if any. */
void dispatch_wake(struct ctld *cd, int64_t host_id);
/*
 * Wake the held polls of many hosts, claiming their work in batched
 * store transactions (a new job, or the scheduler's tick).
 */
void dispatch_wake_many(struct ctld *cd, const int64_t *ids, size_t n);
/*
 * The accepted hosts the selector matches: 0 with *ids (free it) and
 * *n >= 1; 1 with err set when the selector is bad (*usage set) or
 * matches no host; -1 with err set on a store error or out of memory
 * (worth trying again).
 */
int dispatch_targets(struct ctld *cd, const char *target, int64_t **ids,
    size_t *n, int *usage, struct vsm_err *err);
/*
 * Create a job on every accepted host the selector matches and wake them;
 * with dry_run its tasks report what they would do and change nothing.
 * 0 with job_id set and *nhosts >= 1; -1 with err set (bad selector, no
 * host matches, store error). *usage is set when the fault is the
 * caller's.
 */
int dispatch_job_create(struct ctld *cd, const struct store_actor *who,
    const char *module, const char *params, const char *target,
    int64_t timeout_ms, int retries, int dry_run, char job_id[STORE_ID_LEN + 1],
    size_t *nhosts, int *usage, struct vsm_err *err);
/* Cancel a job and tell the agents running its tasks. */
int dispatch_job_cancel(struct ctld *cd, const struct store_actor *who,
    const char *job_id, size_t *n, struct vsm_err *err);
/* "ID" for attempt 1, "ID.N" after: what the agent sees. */
void dispatch_wire_id(const struct store_task *t, char *buf, size_t len);
/* The store's task id of a wire id, into buf. 0 or -1. */
int dispatch_store_id(const char *wire, char buf[STORE_ID_LEN + 1]);

/* ingest.c: Events -> store -> EventsAck. Owns req. */
void ingest_events(struct ctld *cd, int64_t host_id, struct vsm_srv_req *req,
    const Vsm__Events *evs);

/* artifacts.c: uploads into DATA_DIR/artifacts (docs/artifacts.md). */
int  artifacts_new(struct ctld *cd, struct artifacts **out);
void artifacts_free(struct artifacts *a); /* NULL is ok */
/* Each answers req with an ArtifactState or an Error. Owns req. */
void artifacts_open(struct ctld *cd, int64_t host_id, struct vsm_srv_req *req,
    const Vsm__ArtifactOpen *m);
void artifacts_chunk(struct ctld *cd, int64_t host_id, struct vsm_srv_req *req,
    const Vsm__ArtifactChunk *m);
void artifacts_commit(struct ctld *cd, int64_t host_id, struct vsm_srv_req *req,
    const Vsm__ArtifactCommit *m);

/* control.c */
extern const struct vsm_server_ops control_ops;
/* Read DATA_DIR/operators. 0 or -1 with err set. */
int control_load_operators(struct ctld *cd, struct vsm_err *err);
/* Make the control socket reachable only by its owner. */
int control_secure_socket(const char *url, struct vsm_err *err);

#endif /* VSM_CTLD_H */
