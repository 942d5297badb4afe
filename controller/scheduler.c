/*
 * scheduler.c: the scheduler's thread and how a plan is carried out
 * (scheduler.h, docs/scheduler.md). Each tick lists the schedules from
 * the store, plans each one (scheduler_plan.c) and records every
 * decision with store_sched_step, which makes the job in the same
 * transaction as the run row; then it wakes the hosts whose held-back
 * tasks (splay, max_parallel) may now go. Ticks and schedule.fire are
 * serialised on one mutex, so a run is decided by one of them only.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ctld.h"
#include "log.h"
#include "scheduler.h"

#define SCHED_DONE_SLOTS 256

struct scheduler {
	struct ctld    *cd;
	sched_clock_fn *clock;
	void           *clock_arg;
	pthread_mutex_t mtx;        /* one tick or fire at a time */
	int64_t         wake_since; /* the last tick: not_before after it */
	pthread_mutex_t lk;         /* stop, cv */
	pthread_cond_t  cv;
	pthread_t       thr;
	int             running;
	int             stop;
	/* Last jobs seen finished, by a hash of their id (a miss asks). */
	char done[SCHED_DONE_SLOTS][STORE_ID_LEN + 1];
};

static const struct store_actor sched_actor = {"scheduler", "system"};
static const struct store_actor config_actor = {"controller.yaml", "system"};

static int64_t
sched_wall(void *arg)
{
	(void)arg;
	return (ctld_now());
}

/* The clock the scheduler runs on, ms. */
static int64_t
scheduler_now(struct scheduler *sc)
{
	return (sc->clock(sc->clock_arg));
}

int
scheduler_new(struct ctld *cd, sched_clock_fn *clock, void *clock_arg,
    struct scheduler **out)
{
	struct scheduler *sc;

	*out = NULL;
	if ((sc = calloc(1, sizeof(*sc))) == NULL)
		return (-1);
	sc->cd = cd;
	sc->clock = clock != NULL ? clock : sched_wall;
	sc->clock_arg = clock_arg;
	pthread_mutex_init(&sc->mtx, NULL);
	pthread_mutex_init(&sc->lk, NULL);
	ctld_cond_init(&sc->cv);
	*out = sc;
	return (0);
}

void
scheduler_free(struct scheduler *sc)
{
	if (sc == NULL)
		return;
	scheduler_stop(sc);
	pthread_cond_destroy(&sc->cv);
	pthread_mutex_destroy(&sc->lk);
	pthread_mutex_destroy(&sc->mtx);
	free(sc);
}

/* --- config ------------------------------------------------------------- */

/* A config schedule's params as a JSON object text (caller frees). */
static char *
sched_params_json(const struct vsm_schedule_config *c)
{
	json_t *o = json_object();
	char   *s;
	size_t  i;

	if (o == NULL)
		return (NULL);
	for (i = 0; i < c->nparams; i++)
		json_object_set_new(
		    o, c->params[i].key, json_string(c->params[i].value));
	s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return (s);
}

/* A config schedule as a store row (params and target are owned). */
static int
sched_from_config(const struct vsm_schedule_config *c, struct store_schedule *s,
    struct vsm_err *err)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", c->name);
	s->source = STORE_SCHED_CONFIG;
	snprintf(s->module, sizeof(s->module), "%s", c->module);
	if ((s->params = sched_params_json(c)) == NULL ||
	    (s->target = strdup(c->target)) == NULL) {
		store_schedule_clear(s);
		return (vsm_err_set(err, "out of memory"));
	}
	snprintf(s->cron, sizeof(s->cron), "%s", c->cron);
	/* The loader kept them within these sizes (cron.h). */
	snprintf(s->tz, sizeof(s->tz), "%.*s", (int)sizeof(s->tz) - 1, c->tz);
	snprintf(s->window, sizeof(s->window), "%.*s",
	    (int)sizeof(s->window) - 1, c->window);
	s->window_policy = c->window_policy == VSM_WINDOW_SKIP
	    ? STORE_WINDOW_SKIP
	    : STORE_WINDOW_WAIT;
	switch (c->overlap) {
	case VSM_OVERLAP_QUEUE:
		s->overlap = STORE_OVERLAP_QUEUE;
		break;
	case VSM_OVERLAP_REPLACE:
		s->overlap = STORE_OVERLAP_REPLACE;
		break;
	case VSM_OVERLAP_ALLOW:
		s->overlap = STORE_OVERLAP_ALLOW;
		break;
	default:
		s->overlap = STORE_OVERLAP_SKIP;
	}
	s->max_parallel = (int)c->max_parallel;
	s->max_parallel_pct = c->max_parallel_pct;
	s->splay_ms = (int64_t)c->splay_ms;
	s->timeout_ms =
	    c->timeout_ms > 0 ? (int64_t)c->timeout_ms : SCHED_TIMEOUT_MS;
	s->run_timeout_ms = (int64_t)c->run_timeout_ms;
	s->starting_deadline_ms = c->starting_deadline_ms > 0
	    ? (int64_t)c->starting_deadline_ms
	    : SCHED_DEADLINE_MS;
	s->retries = (int)c->retries;
	s->enabled = c->enabled;
	return (0);
}

int
scheduler_sync_config(struct scheduler *sc, struct vsm_err *err)
{
	const struct vsm_controller_config *cfg = sc->cd->cfg;
	struct store_schedule              *v = NULL;
	size_t                              i, n = 0, changed = 0;
	int                                 ret = -1;

	if (cfg->nschedules > 0 &&
	    (v = calloc(cfg->nschedules, sizeof(*v))) == NULL)
		return (vsm_err_set(err, "out of memory"));
	for (; n < cfg->nschedules; n++)
		if (sched_from_config(&cfg->schedules[n], &v[n], err) == -1)
			goto out;
	pthread_mutex_lock(&sc->mtx);
	ret = store_sched_sync(
	    sc->cd->st, &config_actor, v, n, scheduler_now(sc), &changed, err);
	pthread_mutex_unlock(&sc->mtx);
	if (ret == 0)
		log_info("scheduler: %zu schedules from the config, %zu "
		         "changed",
		    n, changed);
out:
	for (i = 0; i < n; i++)
		store_schedule_clear(&v[i]);
	free(v);
	return (ret);
}

/* --- carrying a plan out ------------------------------------------------ */

/* t as ISO 8601 in the schedule's zone, for the log. */
static const char *
sched_when(const struct store_schedule *s, int64_t t, char *buf, size_t len)
{
	struct vsm_err err;

	if (vsm_time_format(s->tz, t / 1000, buf, len, &err) == -1)
		snprintf(buf, len, "@%lld", (long long)(t / 1000));
	return (buf);
}

/* The slot of sc->done that job would be remembered in. */
static char *
sched_done_slot(struct scheduler *sc, const char *job)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *job != '\0'; job++)
		h = (h ^ (uint8_t)*job) * 16777619u;
	return (sc->done[h % SCHED_DONE_SLOTS]);
}

/*
 * Is the schedule's last job unfinished? Cancels it first when it has run
 * longer than run_timeout. With cached, a job seen finished before is
 * taken as finished without asking the store (for the run-timeout check
 * of a schedule with nothing due). 1 yes, 0 no (or no job), -1 store
 * error.
 */
static int
sched_job_active(struct scheduler *sc, const struct store_schedule *s,
    int64_t now, int cached, struct vsm_err *err)
{
	struct store_job j;
	char            *slot;
	size_t           left, n;
	int              rc;

	if (s->last_job[0] == '\0')
		return (0);
	slot = sched_done_slot(sc, s->last_job);
	if (cached && strcmp(slot, s->last_job) == 0)
		return (0);
	if ((rc = store_job_get(sc->cd->st, s->last_job, &j, err)) != 0)
		return (rc == STORE_NOTFOUND ? 0 : -1);
	left = j.nstate[STORE_TASK_QUEUED] + j.nstate[STORE_TASK_SENT] +
	    j.nstate[STORE_TASK_RUNNING];
	if (left > 0 && s->run_timeout_ms > 0 &&
	    now - j.created_at > s->run_timeout_ms) {
		if (dispatch_job_cancel(sc->cd, &sched_actor, j.id, &n, err) ==
		    -1) {
			store_job_clear(&j);
			return (-1);
		}
		log_warnx("schedule %s: job %s ran past run_timeout: %zu "
		          "tasks cancelled",
		    s->name, j.id, n);
		left = 0;
	}
	if (left == 0)
		snprintf(slot, STORE_ID_LEN + 1, "%s", s->last_job);
	store_job_clear(&j);
	return (left > 0);
}

/*
 * Make the job of a run that fires and record it, with the run, in one
 * store transaction; wake its hosts. A selector that is bad or matches
 * nothing records the run as failed; a store error while finding the
 * hosts records nothing (-1), so the next tick plans the run again.
 * 0, STORE_EXISTS, or -1 with err set.
 */
static int
sched_fire(struct scheduler *sc, const struct store_actor *who,
    const struct store_schedule *s, const struct sched_decision *d, int64_t now,
    struct sched_result *res, struct vsm_err *err)
{
	struct store_sched_step step;
	struct store_job_spec   spec;
	struct vsm_err          e;
	int64_t                *ids = NULL, *nb = NULL;
	size_t                  i, n = 0, nc, nw;
	int                     usage, rc = -1;

	memset(&step, 0, sizeof(step));
	step.schedule = s->name;
	step.due_at = d->due;
	step.update = d->pending;
	step.next_due = d->next_due;
	step.pending_due = d->pending_due;
	rc = dispatch_targets(sc->cd, s->target, &ids, &n, &usage, &e);
	if (rc == -1) {
		/* Transient: record nothing, the next tick plans it again. */
		vsm_err_set(err, "%s", e.msg);
		goto out;
	}
	if (rc == 1) {
		step.outcome = STORE_RUN_FAILED;
		step.reason = e.msg[0] != '\0' ? e.msg : "no host";
		if (strlen(e.msg) >= STORE_SHORT_MAX)
			e.msg[STORE_SHORT_MAX - 1] = '\0';
		rc = store_sched_step(
		    sc->cd->st, who, &step, now, res->job_id, err);
		res->outcome = STORE_RUN_FAILED;
		snprintf(res->reason, sizeof(res->reason), "%s", step.reason);
		goto out;
	}
	if (s->splay_ms > 0) {
		if ((nb = calloc(n, sizeof(*nb))) == NULL) {
			vsm_err_set(err, "out of memory");
			goto out;
		}
		for (i = 0; i < n; i++)
			nb[i] = now + sched_splay(s->name, ids[i], s->splay_ms);
	}
	memset(&spec, 0, sizeof(spec));
	spec.module = s->module;
	spec.params = s->params;
	spec.target = s->target;
	spec.timeout_ms = s->timeout_ms;
	spec.max_retries = s->retries;
	spec.hosts = ids;
	spec.nhosts = n;
	spec.max_parallel = sched_max_parallel(s, n);
	spec.not_before = nb;
	spec.window_end = d->window_end;
	spec.schedule = s->name;
	step.outcome = STORE_RUN_FIRED;
	step.reason = sched_act_reason(d->act);
	step.job = &spec;
	if (d->act == SCHED_REPLACE && s->last_job[0] != '\0')
		step.replaced_job = s->last_job;
	rc = store_sched_step(sc->cd->st, who, &step, now, res->job_id, err);
	if (rc == 0) {
		res->outcome = STORE_RUN_FIRED;
		res->ntasks = n;
		snprintf(res->reason, sizeof(res->reason), "%s", step.reason);
		/*
		 * The old job is cancelled only once the new one is stored
		 * (the step marked its run replaced): a failed step leaves
		 * it running, and the next tick plans again.
		 */
		if (step.replaced_job != NULL) {
			if (dispatch_job_cancel(
			        sc->cd, who, step.replaced_job, &nc, &e) == -1)
				log_warnx("schedule %s: job %s not cancelled "
				          "(%s)",
				    s->name, step.replaced_job, e.msg);
			else
				log_info("schedule %s: job %s replaced (%zu "
				         "tasks cancelled)",
				    s->name, step.replaced_job, nc);
		}
		/*
		 * Wake only the hosts whose task may start now; sched_wake
		 * wakes the others when their splay is over.
		 */
		if (nb != NULL) {
			for (i = 0, nw = 0; i < n; i++)
				if (nb[i] <= now)
					ids[nw++] = ids[i];
		} else
			nw = n;
		if (nw > 0)
			dispatch_wake_many(sc->cd, ids, nw);
	}
out:
	free(nb);
	free(ids);
	return (rc);
}

/*
 * Carry out one decision: fire (replace cancels the last job once the
 * new one is stored), or record the run as queued, waiting or skipped.
 * Logs what it did. 0, or -1 with err set (the plan stops there: the
 * next tick plans again).
 */
static int
sched_do(struct scheduler *sc, const struct store_actor *who,
    const struct store_schedule *s, const struct sched_decision *d, int64_t now,
    struct sched_result *res, struct vsm_err *err)
{
	struct store_sched_step step;
	char                    when[48];
	int                     rc;

	memset(res, 0, sizeof(*res));
	res->due = d->due;
	sched_when(s, d->due, when, sizeof(when));
	if (d->act == SCHED_FIRE || d->act == SCHED_REPLACE) {
		rc = sched_fire(sc, who, s, d, now, res, err);
	} else {
		memset(&step, 0, sizeof(step));
		step.schedule = s->name;
		step.due_at = d->due;
		step.outcome = sched_act_outcome(d->act);
		step.reason = sched_act_reason(d->act);
		step.update = d->pending;
		step.next_due = d->next_due;
		step.pending_due = d->pending_due;
		res->outcome = step.outcome;
		snprintf(res->reason, sizeof(res->reason), "%s", step.reason);
		rc = store_sched_step(
		    sc->cd->st, who, &step, now, res->job_id, err);
	}
	if (rc == STORE_EXISTS) {
		log_info("schedule %s: the run due %s was decided before; "
		         "left as it is",
		    s->name, when);
		return (0);
	}
	if (rc != 0)
		return (-1);
	if (res->job_id[0] != '\0')
		log_info("schedule %s: run due %s%s: fired job %s on %zu "
		         "hosts",
		    s->name, when, d->manual ? " (fire)" : "", res->job_id,
		    res->ntasks);
	else
		log_info("schedule %s: run due %s%s: %s%s%s", s->name, when,
		    d->manual ? " (fire)" : "",
		    store_run_outcome_str(res->outcome),
		    res->reason[0] ? ": " : "", res->reason);
	return (0);
}

/*
 * Plan schedule s at now and carry the plan out: missed runs, then each
 * decision in order, then next_due if nothing recorded it. fire_now
 * makes a manual run (its result into *manual). 0 or -1 with err set.
 */
static int
sched_one(struct scheduler *sc, const struct store_actor *who,
    const struct store_schedule *s, int64_t now, int64_t fire_now,
    struct sched_result *manual, struct vsm_err *err)
{
	struct sched_input  in;
	struct sched_plan  *p = NULL;
	struct sched_result res;
	struct vsm_cron     cron;
	struct vsm_window   win;
	int64_t             recorded = s->next_due;
	size_t              i;
	int                 active = 0, ret = -1;

	/*
	 * Nothing can be due (the plan would be empty): parse and plan
	 * nothing; only a last job still going may need its run timeout.
	 */
	if (fire_now == 0 &&
	    (!s->enabled ||
	        (s->next_due != 0 && s->next_due > now &&
	            s->pending_due == 0))) {
		if (s->run_timeout_ms > 0 &&
		    sched_job_active(sc, s, now, 1, err) == -1)
			return (-1);
		return (0);
	}
	if (vsm_cron_parse(s->cron, &cron, err) == -1 ||
	    (s->window[0] != '\0' &&
	        vsm_window_parse(s->window, &win, err) == -1))
		return (-1);
	/* A run may be due: it needs the last job's state. */
	if ((active = sched_job_active(sc, s, now, 0, err)) == -1)
		return (-1);
	memset(&in, 0, sizeof(in));
	in.s = s;
	in.cron = &cron;
	in.win = s->window[0] != '\0' ? &win : NULL;
	in.job_active = active;
	in.now = now;
	in.fire_now = fire_now;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return (vsm_err_set(err, "out of memory"));
	if (sched_plan(&in, p, err) == -1)
		goto out;
	if (p->nmissed_total > 0) {
		log_warnx("schedule %s: %zu runs missed while the controller "
		          "was down%s",
		    s->name, p->nmissed_total,
		    p->nmissed_total > p->nmissed ? " (the oldest not recorded)"
		                                  : "");
		if (store_sched_missed(sc->cd->st, s->name, p->missed,
		        p->nmissed, p->missed_next, now, err) != 0)
			goto out;
		recorded = p->missed_next;
	}
	for (i = 0; i < p->nd; i++) {
		if (sched_do(sc,
		        who != NULL && p->d[i].manual ? who : &sched_actor, s,
		        &p->d[i], now, &res, err) == -1)
			goto out;
		recorded = p->d[i].next_due;
		if (p->d[i].manual && manual != NULL)
			*manual = res;
	}
	if (recorded != p->next_due && s->enabled &&
	    store_sched_missed(
	        sc->cd->st, s->name, NULL, 0, p->next_due, now, err) != 0)
		goto out;
	ret = 0;
out:
	free(p);
	return (ret);
}

/* Wake the hosts whose held-back tasks may go now. */
static void
sched_wake(struct scheduler *sc, int64_t now)
{
	struct vsm_err err;
	int64_t       *ids = NULL;
	size_t         n = 0;

	if (store_task_wake_hosts(sc->cd->st, sc->wake_since, now,
	        SCHED_WAKE_MAX, &ids, &n, &err) == -1) {
		log_warnx("scheduler: %s", err.msg);
		return;
	}
	sc->wake_since = now;
	if (n > 0) {
		log_debug("scheduler: waking %zu hosts", n);
		dispatch_wake_many(sc->cd, ids, n);
	}
	free(ids);
}

void
scheduler_tick(struct scheduler *sc, int64_t now)
{
	struct store_schedule *v = NULL;
	struct vsm_err         err;
	size_t                 i, n = 0;

	pthread_mutex_lock(&sc->mtx);
	if (store_sched_list(sc->cd->st, &v, &n, &err) == -1)
		log_warnx("scheduler: %s", err.msg);
	for (i = 0; i < n; i++)
		if (sched_one(sc, NULL, &v[i], now, 0, NULL, &err) == -1)
			log_warnx("schedule %s: %s", v[i].name, err.msg);
	store_schedules_free(v, n);
	sched_wake(sc, now);
	pthread_mutex_unlock(&sc->mtx);
}

int
scheduler_fire(struct scheduler *sc, const struct store_actor *who,
    const char *name, struct sched_result *res, struct vsm_err *err)
{
	struct store_schedule s;
	int64_t               now;
	int                   rc;

	memset(res, 0, sizeof(*res));
	pthread_mutex_lock(&sc->mtx);
	now = scheduler_now(sc);
	if ((rc = store_sched_get(sc->cd->st, name, &s, err)) != 0)
		goto out;
	if (!s.enabled) {
		rc = vsm_err_set(err,
		    "schedule '%s' is disabled (schedule enable %s first)",
		    name, name);
		goto out;
	}
	res->due = now;
	res->outcome = STORE_RUN_SKIPPED;
	rc = sched_one(sc, who, &s, now, now, res, err);
out:
	store_schedule_clear(&s);
	pthread_mutex_unlock(&sc->mtx);
	return (rc);
}

/* --- the thread --------------------------------------------------------- */

static void *
sched_main(void *arg)
{
	struct scheduler *sc = arg;
	struct timespec   ts;

	pthread_mutex_lock(&sc->lk);
	while (!sc->stop) {
		pthread_mutex_unlock(&sc->lk);
		scheduler_tick(sc, scheduler_now(sc));
		pthread_mutex_lock(&sc->lk);
		ctld_deadline_in(&ts, SCHED_TICK_MS);
		if (!sc->stop)
			pthread_cond_timedwait(&sc->cv, &sc->lk, &ts);
	}
	pthread_mutex_unlock(&sc->lk);
	return (NULL);
}

int
scheduler_start(struct scheduler *sc)
{
	if (pthread_create(&sc->thr, NULL, sched_main, sc) != 0)
		return (-1);
	sc->running = 1;
	return (0);
}

void
scheduler_stop(struct scheduler *sc)
{
	if (sc == NULL || !sc->running)
		return;
	pthread_mutex_lock(&sc->lk);
	sc->stop = 1;
	pthread_cond_signal(&sc->cv);
	pthread_mutex_unlock(&sc->lk);
	pthread_join(sc->thr, NULL);
	sc->running = 0;
}
