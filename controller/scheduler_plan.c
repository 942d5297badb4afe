/*
 * scheduler_plan.c: what a schedule has due and what each run comes to,
 * as a pure function of the schedule, its state and "now" (scheduler.h).
 * Nothing here touches the store or the clock; scheduler.c carries the
 * plan out, and the unit tests drive it with any instant they like.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler.h"

int
sched_next_due(const struct vsm_cron *c, const char *tz, int64_t after,
    int64_t *next, struct vsm_err *err)
{
	int64_t s;

	/* Cron instants are whole seconds; "after" rounds down. */
	if (vsm_cron_next(c, tz, after / 1000, &s, err) == -1)
		return (-1);
	*next = s * 1000;
	return (0);
}

int64_t
sched_splay(const char *name, int64_t host_id, int64_t splay_ms)
{
	uint64_t h = 14695981039346656037ULL, id = (uint64_t)host_id;
	size_t   i;

	if (splay_ms <= 0)
		return (0);
	for (i = 0; name[i] != '\0'; i++) {
		h ^= (unsigned char)name[i];
		h *= 1099511628211ULL;
	}
	h *= 1099511628211ULL; /* the zero byte between name and id */
	for (i = 0; i < 8; i++) {
		h ^= (id >> (8 * i)) & 0xff;
		h *= 1099511628211ULL;
	}
	return ((int64_t)(h % (uint64_t)splay_ms));
}

int
sched_max_parallel(const struct store_schedule *s, size_t ntargets)
{
	size_t n;

	if (!s->max_parallel_pct)
		return (s->max_parallel);
	n = (ntargets * (size_t)s->max_parallel + 99) / 100;
	return (n < 1 ? 1 : (int)n);
}

int
sched_parse_max_parallel(
    const char *text, int *n, int *pct, struct vsm_err *err)
{
	char         *end;
	unsigned long v;

	errno = 0;
	if (text == NULL || text[0] < '0' || text[0] > '9')
		goto bad;
	v = strtoul(text, &end, 10);
	if (errno != 0)
		goto bad;
	if (end[0] == '%' && end[1] == '\0') {
		if (v < 1 || v > 100)
			return (vsm_err_set(err,
			    "max_parallel '%s' is out of range 1%%-100%%",
			    text));
		*n = (int)v;
		*pct = 1;
		return (0);
	}
	if (*end != '\0')
		goto bad;
	if (v > STORE_FANOUT_MAX)
		return (
		    vsm_err_set(err, "max_parallel %lu is out of range 0-%d", v,
		        STORE_FANOUT_MAX));
	*n = (int)v;
	*pct = 0;
	return (0);
bad:
	return (vsm_err_set(err,
	    "max_parallel: expected a count (0: no limit) or a percentage "
	    "like 25%%, got '%s'",
	    text != NULL ? text : ""));
}

enum store_run_outcome
sched_act_outcome(enum sched_act a)
{
	switch (a) {
	case SCHED_FIRE:
	case SCHED_REPLACE:
		return (STORE_RUN_FIRED);
	case SCHED_QUEUE:
		return (STORE_RUN_QUEUED);
	case SCHED_WAIT:
		return (STORE_RUN_WAITING);
	default:
		return (STORE_RUN_SKIPPED);
	}
}

const char *
sched_act_reason(enum sched_act a)
{
	switch (a) {
	case SCHED_REPLACE:
		return ("replaced the last run");
	case SCHED_QUEUE:
	case SCHED_SKIP_OVERLAP:
		return ("overlap");
	case SCHED_WAIT:
	case SCHED_SKIP_WINDOW:
		return ("window");
	case SCHED_SKIP_PENDING:
		return ("pending");
	default:
		return ("");
	}
}

/*
 * What the run due at `due` comes to now: the window first (outside it:
 * wait or skip), then the last run (still going: the overlap policy).
 * A pending run that would wait again keeps waiting (SCHED_KEEP).
 */
static int
plan_one(const struct sched_input *in, int64_t due, int pending, int active,
    struct sched_decision *d, struct vsm_err *err)
{
	const struct store_schedule *s = in->s;
	int64_t                      end = 0, open = 0;
	int                          rc;

	memset(d, 0, sizeof(*d));
	d->due = due;
	d->pending = pending;
	if (in->win != NULL) {
		if ((rc = vsm_window_at(in->win, s->tz, in->now / 1000, &end,
		         &open, err)) == -1)
			return (-1);
		if (rc == 0) {
			if (s->window_policy == STORE_WINDOW_SKIP)
				d->act = SCHED_SKIP_WINDOW;
			else
				d->act = pending ? SCHED_KEEP : SCHED_WAIT;
			return (0);
		}
		d->window_end = end * 1000;
	}
	if (active) {
		switch (s->overlap) {
		case STORE_OVERLAP_SKIP:
			d->act = SCHED_SKIP_OVERLAP;
			return (0);
		case STORE_OVERLAP_QUEUE:
			d->act = pending ? SCHED_KEEP : SCHED_QUEUE;
			return (0);
		case STORE_OVERLAP_REPLACE:
			d->act = SCHED_REPLACE;
			return (0);
		case STORE_OVERLAP_ALLOW:
			break;
		}
	}
	d->act = SCHED_FIRE;
	return (0);
}

/* Note a missed due instant (up to the cap; all are counted). */
static void
plan_missed(struct sched_plan *p, int64_t due, const char *reason)
{
	if (p->nmissed < SCHED_MISSED_MAX) {
		p->missed[p->nmissed].due_at = due;
		p->missed[p->nmissed].reason = reason;
		p->nmissed++;
	}
	p->nmissed_total++;
}

/*
 * The cron instants from s->next_due up to now: those later than the
 * starting deadline are missed ("late"), every one within it but the
 * latest too ("coalesced"); the latest within it into *run (0: none).
 * p->next_due gets the first instant after now.
 */
static int
plan_dues(const struct sched_input *in, struct sched_plan *p, int64_t *run,
    struct vsm_err *err)
{
	const struct store_schedule *s = in->s;
	int64_t                      d = s->next_due, late;
	size_t                       scanned = 0;

	*run = 0;
	late = in->now - s->starting_deadline_ms;
	while (d <= in->now) {
		if (d < late) {
			plan_missed(p, d, "late");
			/* A long outage: jump to the deadline's edge. */
			if (++scanned >= SCHED_SCAN_MAX) {
				if (sched_next_due(in->cron, s->tz, late - 1000,
				        &d, err) == -1)
					return (-1);
				scanned = 0;
				continue;
			}
		} else {
			if (*run != 0)
				plan_missed(p, *run, "coalesced");
			*run = d;
		}
		if (sched_next_due(in->cron, s->tz, d, &d, err) == -1)
			return (-1);
	}
	p->next_due = d;
	return (0);
}

/* Append decision d with the state after it. */
static void
plan_add(struct sched_plan *p, const struct sched_decision *d, int64_t next_due,
    int64_t pending_due)
{
	p->d[p->nd] = *d;
	p->d[p->nd].next_due = next_due;
	p->d[p->nd].pending_due = pending_due;
	p->nd++;
}

/* Does act start a run (so that the last run is going from here on)? */
static int
plan_starts(enum sched_act a)
{
	return (a == SCHED_FIRE || a == SCHED_REPLACE);
}

/* Does act leave the run waiting? */
static int
plan_waits(enum sched_act a)
{
	return (a == SCHED_KEEP || a == SCHED_QUEUE || a == SCHED_WAIT);
}

int
sched_plan(
    const struct sched_input *in, struct sched_plan *p, struct vsm_err *err)
{
	const struct store_schedule *s = in->s;
	struct sched_decision        d;
	int64_t                      run = 0, pending = s->pending_due;
	int                          active = in->job_active;

	memset(p, 0, sizeof(*p));
	p->next_due = s->next_due;
	if (s->enabled && s->next_due == 0) {
		/* New, re-enabled or redefined: from now on. */
		if (sched_next_due(
		        in->cron, s->tz, in->now, &p->next_due, err) == -1)
			return (-1);
	} else if (s->enabled && plan_dues(in, p, &run, err) == -1)
		return (-1);
	/* Missed rows keep next_due where it was when a run follows. */
	p->missed_next = run != 0 ? s->next_due : p->next_due;
	/* Disabled: nothing (scheduler_fire refuses a manual run). */
	if (!s->enabled) {
		p->pending_due = s->pending_due;
		return (0);
	}
	/* The pending run first: it has waited longest. */
	if (pending != 0) {
		if (plan_one(in, pending, 1, active, &d, err) == -1)
			return (-1);
		if (!plan_waits(d.act))
			pending = 0;
		active |= plan_starts(d.act);
		if (d.act != SCHED_KEEP)
			plan_add(p, &d, s->next_due, pending);
	}
	if (run != 0) {
		if (pending != 0) {
			memset(&d, 0, sizeof(d));
			d.due = run;
			d.act = SCHED_SKIP_PENDING;
		} else if (plan_one(in, run, 0, active, &d, err) == -1)
			return (-1);
		if (d.act == SCHED_QUEUE || d.act == SCHED_WAIT)
			pending = run;
		active |= plan_starts(d.act);
		plan_add(p, &d, p->next_due, pending);
	}
	if (in->fire_now != 0) {
		if (pending != 0) {
			memset(&d, 0, sizeof(d));
			d.due = in->fire_now;
			d.act = SCHED_SKIP_PENDING;
		} else if (plan_one(in, in->fire_now, 0, active, &d, err) == -1)
			return (-1);
		d.manual = 1;
		if (d.act == SCHED_QUEUE || d.act == SCHED_WAIT)
			pending = in->fire_now;
		plan_add(p, &d, p->next_due, pending);
	}
	p->pending_due = pending;
	return (0);
}
