/*
 * tz_int.h: what cron.c, cron_next.c and window.c share with tz.c: the
 * proleptic Gregorian calendar, and conversions between instants and the
 * wall clock of one zone.
 *
 * A "wall time" is a wall-clock reading counted in seconds as if it were
 * UTC (days_from_civil * 86400 + seconds of the day); an instant is Unix
 * seconds. In a zone, wall(t) = t + offset(t).
 *
 * Conversions need the zone loaded into the C library (glibc has no
 * per-zone API): tz_enter() takes the process-wide zone lock, points TZ at
 * the zone and calls tzset(); tz_leave() restores TZ and drops the lock.
 * tz_offset_at() and tz_resolve() may only be called in between. Nothing
 * else in vsm may use local-time functions (localtime, mktime, strftime
 * %Z): vsm logs in UTC (docs/scheduler.md, "Time zones and DST").
 */
#ifndef VSM_TZ_INT_H
#define VSM_TZ_INT_H

#include <stdint.h>

#include "err.h"

#define TZ_DAY      86400
#define TZ_YEAR_MIN 1900 /* the instants and wall times handled */
#define TZ_YEAR_MAX 9999
#define TZ_ZONEINFO "/usr/share/zoneinfo"

/* A wall time broken down. */
struct tz_civil {
	int year, mon, mday; /* mon 1-12, mday 1-31 */
	int hour, min, sec;
	int wday; /* 0 Sunday */
};

/* Days since 1970-01-01 of y-m-d (m 1-12; d may run past the month). */
int64_t tz_days_from_civil(int y, int m, int d);
/* The date of a day number. */
void tz_civil_from_days(int64_t days, int *y, int *m, int *d);
/* Day of week (0 Sunday) of a day number. */
int tz_weekday(int64_t days);
int tz_days_in_month(int y, int m);
/* Wall seconds of c's date and time (c->wday ignored), and back. */
int64_t tz_wall_make(const struct tz_civil *c);
void    tz_wall_split(int64_t wall, struct tz_civil *c);
/* Is the wall time or instant within years TZ_YEAR_MIN..TZ_YEAR_MAX? */
int tz_in_range(int64_t s);

/* The zone held between tz_enter() and tz_leave(). */
struct tz_hold {
	char *saved;   /* TZ before (owned), NULL when it was unset */
	int   changed; /* TZ was set for the zone */
};

/*
 * Check tz (vsm_tz_check()), take the zone lock and load the zone. 0 with
 * the lock held (tz_leave() must follow), or -1 with err and no lock.
 */
int tz_enter(struct tz_hold *h, const char *tz, struct vsm_err *err);
/* Restore TZ as it was and release the lock. */
void tz_leave(struct tz_hold *h);

/* Lock held: the offset (seconds east) of the loaded zone at instant t. */
int tz_offset_at(int64_t t);
/*
 * Lock held: the earliest instant whose wall time is at least `wall`:
 * the wall time itself, its first occurrence when fall-back repeats it,
 * or the end of the gap when spring-forward skips it.
 */
int64_t tz_resolve(int64_t wall);

#endif /* VSM_TZ_INT_H */
