/*
 * scheduler.h: the controller's scheduler (docs/scheduler.md).
 *
 *	scheduler_plan.c	what is due and what to do with it: pure,
 *				given the schedule, its state and "now"
 *	scheduler.c		the tick thread, carrying plans out through
 *				the store and the dispatcher; config sync
 *	scheduler_ctl.c		the schedule.* control commands
 *
 * Schedules and their state live in the store (store_sched_*); the
 * scheduler keeps nothing of its own between ticks but the instant of the
 * last one, so a restart resumes from the store. Every decision about a
 * run is one store transaction (store_sched_step), unique per schedule
 * and due instant.
 */
#ifndef VSM_SCHEDULER_H
#define VSM_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>

#include "cron.h"
#include "err.h"
#include "store.h"

#define SCHED_TICK_MS      1000
#define SCHED_MISSED_MAX   100     /* missed runs recorded per catch-up */
#define SCHED_SCAN_MAX     100000  /* due instants looked at per catch-up */
#define SCHED_WAKE_MAX     10000   /* hosts woken per tick */
#define SCHED_TIMEOUT_MS   3600000 /* a task's run time, by default */
#define SCHED_DEADLINE_MS  3600000 /* starting_deadline by default */
#define SCHED_SPLAY_MAX_MS (24 * 3600000LL)
#define SCHED_DURATION_MAX (30 * 24 * 3600000LL)

struct ctld;
struct scheduler;

/* ------------------------------------------------------------------------ */
/* Decisions (scheduler_plan.c) */

enum sched_act {
	SCHED_KEEP = 0,     /* the pending run goes on waiting */
	SCHED_FIRE,         /* make the job */
	SCHED_REPLACE,      /* cancel the last run's job, then fire */
	SCHED_QUEUE,        /* wait for the last run to end (queued) */
	SCHED_WAIT,         /* wait for the window to open (waiting) */
	SCHED_SKIP_OVERLAP, /* the last run is still going */
	SCHED_SKIP_WINDOW,  /* outside the window, window_policy skip */
	SCHED_SKIP_PENDING, /* another run of the schedule already waits */
};

/* What one run comes to, and the schedule's state after it. */
struct sched_decision {
	int64_t        due; /* the run's instant, ms */
	enum sched_act act;
	int            pending;    /* it is the pending run (its row exists) */
	int            manual;     /* made due by schedule.fire */
	int64_t        window_end; /* fired inside the window: it closes, ms */
	int64_t        next_due;   /* the state to record with it */
	int64_t        pending_due;
};

struct sched_input {
	const struct store_schedule *s;
	const struct vsm_cron       *cron;
	const struct vsm_window     *win;        /* NULL: none */
	int                          job_active; /* s->last_job unfinished */
	int64_t                      now;        /* ms */
	int64_t                      fire_now;   /* schedule.fire: due, or 0 */
};

struct sched_plan {
	struct store_missed   missed[SCHED_MISSED_MAX];
	size_t                nmissed;       /* recorded */
	size_t                nmissed_total; /* with those over the cap */
	int64_t               missed_next;   /* next_due to record with them */
	struct sched_decision d[3];          /* pending, cron due, manual */
	size_t                nd;
	int64_t               next_due; /* after the whole plan */
	int64_t               pending_due;
};

/*
 * Decide what is due for in->s at in->now: runs missed (later than
 * starting_deadline, or coalesced: only the latest due within the
 * deadline runs), the pending run, the run due now and a manual one, in
 * that order; each decision carries the state to record with it so that
 * a crash between two of them loses and doubles nothing. A disabled
 * schedule plans nothing, not even a manual run (scheduler_fire refuses
 * one). 0, or -1 with err
 * set (a zone or an expression that cannot be evaluated).
 */
int sched_plan(
    const struct sched_input *in, struct sched_plan *p, struct vsm_err *err);

/* The first instant (ms) of the schedule strictly after `after` (ms). */
int sched_next_due(const struct vsm_cron *c, const char *tz, int64_t after,
    int64_t *next, struct vsm_err *err);

/*
 * A host's place in the splay: FNV-1a 64 of the schedule's name, a zero
 * byte and the host id (8 bytes, little-endian), modulo splay_ms. The
 * same host always gets the same offset; 0 when splay_ms <= 0.
 */
int64_t sched_splay(const char *name, int64_t host_id, int64_t splay_ms);

/* max_parallel for a run on ntargets hosts (a percentage rounds up). */
int sched_max_parallel(const struct store_schedule *s, size_t ntargets);

/* "10" or "25%" into *n, *pct. 0, or -1 with err naming the range. */
int sched_parse_max_parallel(
    const char *text, int *n, int *pct, struct vsm_err *err);

/* What a decision is recorded as. */
enum store_run_outcome sched_act_outcome(enum sched_act a);
const char            *sched_act_reason(enum sched_act a);

/* ------------------------------------------------------------------------ */
/* The scheduler (scheduler.c) */

/* The wall clock, ms; tests pass their own. */
typedef int64_t sched_clock_fn(void *arg);

/* What one run came to (schedule.fire). */
struct sched_result {
	int64_t                due;
	enum store_run_outcome outcome;
	char                   reason[STORE_SHORT_MAX];
	char                   job_id[STORE_ID_LEN + 1];
	size_t                 ntasks;
};

/*
 * A scheduler for cd (its st, reg and cfg). clock NULL: the wall clock.
 * scheduler_free(NULL) is a no-op.
 */
int  scheduler_new(struct ctld *cd, sched_clock_fn *clock, void *clock_arg,
     struct scheduler **out);
void scheduler_free(struct scheduler *sc);
/*
 * Bring the store's config schedules in line with cd->cfg (its
 * schedules and schedules_file). 0 or -1 with err set.
 */
int scheduler_sync_config(struct scheduler *sc, struct vsm_err *err);
/* Start and stop the tick thread (stop is safe when not started). */
int  scheduler_start(struct scheduler *sc);
void scheduler_stop(struct scheduler *sc);
/*
 * One tick at `now` (ms): every schedule's plan carried out, then the
 * hosts whose held-back tasks may now go are woken. What the thread does
 * each SCHED_TICK_MS; tests call it with their own clock.
 */
void scheduler_tick(struct scheduler *sc, int64_t now);
/*
 * Make schedule `name` due now (schedule.fire) and decide that run as
 * any other (window, overlap); the job is made by who. 0 with *res set,
 * STORE_NOTFOUND, or -1 with err set (a disabled schedule is refused).
 */
int scheduler_fire(struct scheduler *sc, const struct store_actor *who,
    const char *name, struct sched_result *res, struct vsm_err *err);

#endif /* VSM_SCHEDULER_H */
