/*
 * cron_next.c: the next fire times of a cron expression in a zone.
 *
 * The search runs on the zone's wall clock, field by field: the first
 * month in the set at or after the current one, then the first matching
 * day in it (a bit mask per month), hour, minute; a field with nothing
 * left carries into the next larger one. A call takes a few dozen steps
 * at most, whatever the expression. The wall time found is then turned
 * into an instant by tz_resolve(): a time skipped by spring-forward
 * becomes the end of the gap, a time repeated by fall-back its first
 * occurrence. Since that mapping never goes backwards, the first matching
 * wall time whose instant lies after `after` is the answer.
 */
#include <stdint.h>
#include <string.h>

#include "cron.h"
#include "tz_int.h"

#define CRON_YEARS 8 /* how far a search looks ("eight years") */

/* The bits of mask at positions >= from. */
static uint64_t
cron_from(uint64_t mask, int from)
{
	return (from >= 64 ? 0 : mask & (~0ULL << from));
}

/* The days (bits 1-31) of month m of year y that c matches. */
static uint64_t
cron_day_mask(const struct vsm_cron *c, int y, int m)
{
	int      dim = tz_days_in_month(y, m);
	int      wd1 = tz_weekday(tz_days_from_civil(y, m, 1));
	uint64_t valid = ((1ULL << dim) - 1) << 1, week = 0, wdays;
	int      k;

	/* Bit k of `week`: day k + 1 has a matching weekday; then tile. */
	for (k = 0; k < 7; k++)
		if (c->wdays & (1u << ((wd1 + k) % 7)))
			week |= 1ULL << k;
	wdays = (week | week << 7 | week << 14 | week << 21 | week << 28) << 1;
	if (c->mday_star || c->wday_star)
		return ((uint64_t)c->mdays & wdays & valid);
	return (((uint64_t)c->mdays | wdays) & valid);
}

/*
 * The first wall minute at or after `from` (wall seconds, a whole
 * minute) that c matches, into *wall; -1 when there is none before the
 * end of year ylimit.
 */
static int
cron_match(const struct vsm_cron *c, int64_t from, int ylimit, int64_t *wall)
{
	struct tz_civil t;
	uint64_t        bits;
	int             n;

	tz_wall_split(from, &t);
	for (;;) {
		if (t.year > ylimit)
			return (-1);
		if ((bits = cron_from(c->months, t.mon)) == 0) {
			t.year++;
			t.mon = 1;
			t.mday = 1;
			t.hour = t.min = 0;
			continue;
		}
		if ((n = __builtin_ctzll(bits)) != t.mon) {
			t.mon = n;
			t.mday = 1;
			t.hour = t.min = 0;
		}
		bits = cron_from(cron_day_mask(c, t.year, t.mon), t.mday);
		if (bits == 0) {
			t.mon++; /* 13 finds no month bit: the next year */
			t.mday = 1;
			t.hour = t.min = 0;
			continue;
		}
		if ((n = __builtin_ctzll(bits)) != t.mday) {
			t.mday = n;
			t.hour = t.min = 0;
		}
		if ((bits = cron_from(c->hours, t.hour)) == 0) {
			t.mday++; /* past the month's end: no day bit */
			t.hour = t.min = 0;
			continue;
		}
		if ((n = __builtin_ctzll(bits)) != t.hour) {
			t.hour = n;
			t.min = 0;
		}
		if ((bits = cron_from(c->minutes, t.min)) == 0) {
			t.hour++; /* 24 finds no hour bit: the next day */
			t.min = 0;
			continue;
		}
		t.min = __builtin_ctzll(bits);
		t.sec = 0;
		*wall = tz_wall_make(&t);
		return (0);
	}
}

/* Zone loaded: the first fire time after `after`, or -1 with err. */
static int
cron_next_held(
    const struct vsm_cron *c, int64_t after, int64_t *next, struct vsm_err *err)
{
	struct tz_civil t;
	int64_t         wall, from, t1;
	int             ylimit, capped = 0;

	if (!tz_in_range(after))
		return (vsm_err_set(
		    err, "instant %lld is out of range", (long long)after));
	wall = after + tz_offset_at(after);
	from = wall - ((wall % 60) + 60) % 60 + 60;
	tz_wall_split(from, &t);
	ylimit = t.year + CRON_YEARS;
	if (ylimit > TZ_YEAR_MAX) {
		ylimit = TZ_YEAR_MAX;
		capped = 1;
	}
	for (;;) {
		if (cron_match(c, from, ylimit, &wall) == -1)
			return (vsm_err_set(err,
			    capped
			        ? "'%s' matches no time before the year 10000"
			        : "'%s' matches no time within eight years",
			    c->text));
		/* Only an earlier occurrence of a repeated hour is <= after. */
		if ((t1 = tz_resolve(wall)) > after) {
			*next = t1;
			return (0);
		}
		from = wall + 60;
	}
}

int
vsm_cron_next(const struct vsm_cron *c, const char *tz, int64_t after,
    int64_t *next, struct vsm_err *err)
{
	return (vsm_cron_next_n(c, tz, after, next, 1, err));
}

int
vsm_cron_next_n(const struct vsm_cron *c, const char *tz, int64_t after,
    int64_t *next, size_t n, struct vsm_err *err)
{
	struct tz_hold h;
	size_t         i;
	int            ret = 0;

	if (tz_enter(&h, tz, err) == -1)
		return (-1);
	for (i = 0; i < n; i++) {
		if ((ret = cron_next_held(c, after, &next[i], err)) == -1)
			break;
		after = next[i];
	}
	tz_leave(&h);
	return (ret);
}
