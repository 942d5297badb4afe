/*
 * cron.h: cron expressions, time zones and maintenance windows for the
 * scheduler (docs/scheduler.md).
 *
 * An expression is five fields, minute hour day-of-month month
 * day-of-week, each `*`, a number, a name (jan-dec, sun-sat, any case), a
 * range `a-b`, a step `*\/n` or `a-b/n` or `a/n`, or a list of those
 * separated by commas; or one of @hourly, @daily (@midnight), @weekly,
 * @monthly, @yearly (@annually). Day-of-week 0 and 7 are Sunday. Standard
 * cron semantics: when both day-of-month and day-of-week are restricted
 * (neither is `*`), a day matches when either does.
 *
 * Times are Unix seconds (UTC); an expression is matched against the
 * wall clock of an IANA zone ("" is the controller's own zone). Across
 * DST changes:
 *   - a wall time skipped by spring-forward fires once, at the first
 *     valid minute after the gap;
 *   - a wall time repeated by fall-back fires once, at its first
 *     occurrence.
 *
 * Nothing here keeps state between calls; every function is safe to call
 * from several threads (zone conversions are serialised inside: they set
 * TZ under a process-wide lock and restore it, so nothing else in the
 * process may use local-time functions or change TZ; tz_int.h).
 */
#ifndef VSM_CRON_H
#define VSM_CRON_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define VSM_CRON_EXPR_MAX 256 /* bytes of an expression, with the NUL */
#define VSM_TZ_MAX        64  /* bytes of a zone name, with the NUL */

struct vsm_cron {
	uint64_t minutes;   /* bit m: minute m, 0-59 */
	uint32_t hours;     /* bit h: 0-23 */
	uint32_t mdays;     /* bit d: day of month d, 1-31 */
	uint16_t months;    /* bit m: month m, 1-12 */
	uint8_t  wdays;     /* bit d: day of week d, 0-6 (Sunday 0) */
	int      mday_star; /* day-of-month was `*` (or a step of it) */
	int      wday_star; /* day-of-week was `*` (or a step of it) */
	char     text[VSM_CRON_EXPR_MAX]; /* as written */
};

/*
 * Parse expr into c. 0, or -1 with err naming the field and the column of
 * the bad token: "field 3 (day of month) at column 7: 32 is out of range
 * 1-31". An expression that can never fire because its day of month is
 * in none of its months (`0 0 30 2 *`) is refused too.
 */
int vsm_cron_parse(const char *expr, struct vsm_cron *c, struct vsm_err *err);

/*
 * Make the process's own zone explicit (TZ=":/etc/localtime" when TZ is
 * unset) so that zone conversions only ever replace TZ's value and never
 * add or remove it: adding or removing a variable moves the environment
 * under a getenv() in another thread (libpq, libcurl and SQLite call it).
 * A multi-threaded process calls this once, before its threads start.
 */
void vsm_tz_init(void);

/*
 * Check an IANA zone name ("Europe/Berlin"; "" for the controller's zone,
 * "UTC"): it must name a file under /usr/share/zoneinfo, without "..".
 * 0 or -1 with err.
 */
int vsm_tz_check(const char *tz, struct vsm_err *err);

/*
 * The first fire time of c in zone tz strictly after `after`, into *next.
 * 0, or -1 with err when the zone is bad, `after` is outside the years
 * 1900-9999, or nothing matches within eight years (only a hand-built
 * vsm_cron: the parser refuses `0 0 30 2 *`) or before the year 10000.
 */
int vsm_cron_next(const struct vsm_cron *c, const char *tz, int64_t after,
    int64_t *next, struct vsm_err *err);

/*
 * The first n fire times after `after`, in order, into next[0..n-1]
 * (each strictly after the one before): vsm_cron_next() n times with the
 * zone loaded once. 0, or -1 with err (next[] then partly filled).
 */
int vsm_cron_next_n(const struct vsm_cron *c, const char *tz, int64_t after,
    int64_t *next, size_t n, struct vsm_err *err);

/*
 * The UTC offset, in seconds east, of zone tz at instant t (for printing
 * instants as ISO 8601 with their offset). 0 or -1 with err.
 */
int vsm_tz_offset(
    const char *tz, int64_t t, int *offset_s, struct vsm_err *err);

/*
 * t as ISO 8601 in zone tz with its offset ("2026-03-29T03:00:00+02:00")
 * into buf (at least 32 bytes). 0 or -1 with err.
 */
int vsm_time_format(
    const char *tz, int64_t t, char *buf, size_t len, struct vsm_err *err);

/*
 * Parse ISO 8601 ("2026-03-29T01:30:00Z", "...+02:00", "+0200", "+02";
 * seconds optional; 'T' or a space; or a date alone, "2026-03-29", its
 * midnight), years 1900-9999. Without an offset it is a wall time in zone
 * tz, resolved as vsm_cron_next resolves gaps and repeats. 0 or -1 with
 * err.
 */
int vsm_time_parse(
    const char *s, const char *tz, int64_t *t, struct vsm_err *err);

/*
 * A maintenance window: the days it opens on and the wall-clock span,
 * "Sat 01:00-05:00", "sat,sun 22:00-02:00" (crossing midnight: it closes
 * the next day), "mon-fri 02:00-04:00" ("fri-mon" wraps), or
 * "01:00-05:00" (every day). Under 24 hours long; start and end differ.
 * Both ends are wall times resolved as cron times are across DST: a
 * window is an hour shorter or longer on a DST day, and one wholly inside
 * a skipped hour does not open that day.
 */
struct vsm_window {
	uint8_t wdays;     /* bit d: opens on day of week d (0 Sunday) */
	int     start_min; /* minutes after midnight, 0-1439 */
	int     end_min;   /* the same; <= start_min: ends the next day */
	char    text[64];
};

/* Parse text into w. 0, or -1 with err naming the bad part. */
int vsm_window_parse(
    const char *text, struct vsm_window *w, struct vsm_err *err);

/*
 * Is instant t inside window w in zone tz? 1 with *end (the instant the
 * window closes), 0 with *next_open (the next instant it opens), or -1
 * with err.
 */
int vsm_window_at(const struct vsm_window *w, const char *tz, int64_t t,
    int64_t *end, int64_t *next_open, struct vsm_err *err);

#endif /* VSM_CRON_H */
