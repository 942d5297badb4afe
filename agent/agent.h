/*
 * agent.h: the vsm-agent daemon's parts (docs/agent.md).
 *
 * agent.c owns the process: it loads the config and the key, opens the
 * spool, the task record and the runner, keeps the channel up (handshake
 * with backoff and full jitter) and runs three threads:
 *
 *	poller.c	one long Poll outstanding; starts and cancels tasks
 *	sender.c	sends unacked spool events in windows, acks the spool
 *	uploader.c	uploads the artifacts tasks leave, resumably
 *	agent.c		heartbeat: cpu, memory and disk use every interval
 *
 * Every TaskEvent goes to the spool (fsync'd) before it is sent.
 */
#ifndef VSM_AGENT_AGENT_H
#define VSM_AGENT_AGENT_H

#include <pthread.h>
#include <stdint.h>

#include "chan.h"
#include "config.h"
#include "runner.h"
#include "spool.h"
#include "taskdb.h"
#include "vsm.pb-c.h"

#define AGENT_FACTS_PREFIX VSM_FACTS_TASK_PREFIX
#define AGENT_CALL_MS      30000 /* a request other than the poll */

struct agent {
	struct vsm_agent_config *cfg;
	struct vsm_keypair       key;
	struct vsm_client       *client;
	struct spool            *spool;
	struct taskdb           *tdb;
	struct runner           *runner;
	struct runner_cmd       *cmds; /* the allowlist, from cfg->commands */
	size_t                   ncmds;
	char                     boot_id[17]; /* random, per process */

	pthread_mutex_t mtx;
	pthread_cond_t  cond; /* stop, link and spool changes */
	int             stop;
	int             connected; /* a session is believed open */
	uint64_t        link_gen;  /* bumped on every connect */
	uint64_t        spooled;   /* events appended so far */
	uint64_t        artifacts; /* artifacts announced so far */
	/* Controller task ids running now (for Poll.running). */
	char     running[RUNNER_TASK_MAX][TASKDB_ID_MAX + 1];
	unsigned nrunning;
};

uint64_t agent_now_ms(void);

/*
 * Block until the channel is believed up; returns its generation, or 0
 * when the agent is stopping.
 */
uint64_t agent_wait_link(struct agent *a);
/* A call on generation gen failed: let the connector look at the link. */
void agent_link_failed(struct agent *a, uint64_t gen);
/* Sleep up to ms, waking early on stop. Returns -1 when stopping. */
int agent_sleep(struct agent *a, uint64_t ms);
/*
 * Wait up to ms for the counter *v (guarded by a->mtx, bumped with a
 * broadcast on a->cond) to move past seen, or the agent to stop.
 */
void agent_wait_change(
    struct agent *a, const uint64_t *v, uint64_t seen, uint64_t ms);
int agent_stopping(struct agent *a);

/*
 * Send one Envelope and unpack the reply Envelope. Returns 0 with *repp
 * (caller frees with vsm__envelope__free_unpacked), or -1 with err set.
 */
int agent_call(struct agent *a, const Vsm__Envelope *req, Vsm__Envelope **repp,
    int timeout_ms, struct vsm_err *err);

/*
 * Store one task event durably in the spool (packed TaskEvent, seq 0: the
 * spool's seq is filled in when it is sent) and wake the sender. A RESULT
 * is stored with high priority. 0, 1 (a low-priority event refused: the
 * spool is full and counts it) or -1 (logged).
 */
int agent_spool_event(struct agent *a, const Vsm__TaskEvent *ev);

/*
 * Run the daemon until SIGTERM or SIGINT (agent.c). Owns cfg. Returns 0
 * after a clean stop, -1 with err set when it could not start.
 */
int agent_run(struct vsm_agent_config *cfg, struct vsm_err *err);

/* init.c and main.c: the subcommands; each returns an exit code. */
int agent_cmd_init(int argc, char **argv);
int agent_cmd_run(int argc, char **argv);

/* poller.c */
void *poller_main(void *arg);
/* The runner's event callback (arg: the agent). */
void poller_task_event(void *arg, const Vsm__TaskEvent *ev);
/*
 * Report a task that ends without running: record result in the task
 * record (unless a facts task) and spool it as its only RESULT.
 */
void poller_task_fail(
    struct agent *a, const char *id, Vsm__TaskStatus status, const char *error);
/* Start sys.facts as the pseudo task "facts:<boot-id>-<n>". */
void poller_run_facts(struct agent *a, unsigned n);

/* sender.c */
void *sender_main(void *arg);

/* uploader.c */
void *uploader_main(void *arg);
/* DATA_DIR/artifacts into buf; -1 when too long. */
int uploader_dir(const struct agent *a, char *buf, size_t len);
/*
 * A task announced an artifact: write its manifest (durably) so the
 * uploader takes it, and wake the uploader. 0 or -1 with err set.
 */
int uploader_announce(struct agent *a, const char *task_id,
    const Vsm__ArtifactReady *r, struct vsm_err *err);
/*
 * At start, before any task runs: remove artifact files that were never
 * announced (their task died while writing them) and empty task dirs.
 */
void uploader_sweep(struct agent *a);

#endif /* VSM_AGENT_AGENT_H */
