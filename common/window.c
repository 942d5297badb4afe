/*
 * window.c: maintenance windows ("sat,sun 22:00-02:00"; cron.h). A window
 * opens at its start on each of its days and closes at its end, the next
 * day when the end is not after the start. Both ends are wall times in
 * the schedule's zone, resolved as cron times are: a time skipped by
 * spring-forward becomes the end of the gap, a repeated one its first
 * occurrence. So a window is an hour shorter or longer on a DST day, and
 * one lying wholly in a skipped hour does not open that day.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cron.h"
#include "tz_int.h"

static const char *const win_days[] = {
    "sun", "mon", "tue", "wed", "thu", "fri", "sat"};

/* A day name at *p (three letters, any case), advancing *p; -1 if not. */
static int
win_day(const char **p)
{
	size_t len = 0;
	int    i;

	while (isalpha((unsigned char)(*p)[len]))
		len++;
	for (i = 0; i < 7 && len == 3; i++)
		if (strncasecmp(*p, win_days[i], 3) == 0) {
			*p += 3;
			return (i);
		}
	return (-1);
}

/* "sat", "mon-fri", "fri-mon" (wrapping), lists with ','; into *wdays. */
static int
win_days_parse(
    const char **p, uint8_t *wdays, const char *text, struct vsm_err *err)
{
	int a, b;

	*wdays = 0;
	for (;;) {
		if ((a = win_day(p)) == -1)
			goto bad;
		b = a;
		if (**p == '-') {
			(*p)++;
			if ((b = win_day(p)) == -1)
				goto bad;
		}
		for (;;) {
			*wdays |= 1u << a;
			if (a == b)
				break;
			a = (a + 1) % 7;
		}
		if (**p != ',')
			return (0);
		(*p)++;
	}
bad:
	return (vsm_err_set(err,
	    "window '%s': bad day at column %d (sun-sat, a range mon-fri, or a "
	    "list sat,sun)",
	    text, (int)(*p - text) + 1));
}

/* "H:MM" or "HH:MM" at *p into minutes after midnight; -1 if not. */
static int
win_time(const char **p)
{
	const char *s = *p;
	int         h = 0, m, n = 0;

	while (isdigit((unsigned char)s[n]) && n < 2)
		h = h * 10 + (s[n++] - '0');
	if (n == 0 || s[n] != ':' || !isdigit((unsigned char)s[n + 1]) ||
	    !isdigit((unsigned char)s[n + 2]) ||
	    isdigit((unsigned char)s[n + 3]))
		return (-1);
	m = (s[n + 1] - '0') * 10 + (s[n + 2] - '0');
	if (h > 23 || m > 59)
		return (-1);
	*p = s + n + 3;
	return (h * 60 + m);
}

int
vsm_window_parse(const char *text, struct vsm_window *w, struct vsm_err *err)
{
	const char *p, *t;

	memset(w, 0, sizeof(*w));
	if (text == NULL)
		return (vsm_err_set(err, "no window"));
	if (strlen(text) >= sizeof(w->text))
		return (vsm_err_set(
		    err, "window longer than %zu bytes", sizeof(w->text) - 1));
	p = text + strspn(text, " \t");
	w->wdays = 0x7f;
	if (isalpha((unsigned char)*p)) {
		if (win_days_parse(&p, &w->wdays, text, err) == -1)
			return (-1);
		if (*p != ' ' && *p != '\t')
			return (vsm_err_set(err,
			    "window '%s': expected a space after the days at "
			    "column %d",
			    text, (int)(p - text) + 1));
		p += strspn(p, " \t");
	}
	t = p;
	if ((w->start_min = win_time(&p)) == -1)
		return (vsm_err_set(err,
		    "window '%s': bad start time at column %d (HH:MM, "
		    "00:00-23:59)",
		    text, (int)(t - text) + 1));
	if (*p++ != '-')
		return (vsm_err_set(err,
		    "window '%s': expected '-' between the start and the end "
		    "at column %d",
		    text, (int)(p - 1 - text) + 1));
	t = p;
	if ((w->end_min = win_time(&p)) == -1)
		return (vsm_err_set(err,
		    "window '%s': bad end time at column %d (HH:MM, "
		    "00:00-23:59)",
		    text, (int)(t - text) + 1));
	p += strspn(p, " \t");
	if (*p != '\0')
		return (vsm_err_set(err,
		    "window '%s': unexpected text at column %d", text,
		    (int)(p - text) + 1));
	if (w->start_min == w->end_min)
		return (vsm_err_set(err,
		    "window '%s': the start and the end are the same time",
		    text));
	snprintf(w->text, sizeof(w->text), "%s", text);
	return (0);
}

/* Zone loaded: the instants the window opening on `day` opens, closes. */
static void
win_span(const struct vsm_window *w, int64_t day, int64_t *open, int64_t *close)
{
	int64_t end_day = day + (w->end_min <= w->start_min);

	*open = tz_resolve(day * TZ_DAY + (int64_t)w->start_min * 60);
	*close = tz_resolve(end_day * TZ_DAY + (int64_t)w->end_min * 60);
}

/*
 * A window lasts under a day of wall time, so an instant can only be in
 * the window opening on its own day or the day before; and some day of
 * the coming two weeks opens (a day whose window falls into a DST gap
 * is skipped).
 */
int
vsm_window_at(const struct vsm_window *w, const char *tz, int64_t t,
    int64_t *end, int64_t *next_open, struct vsm_err *err)
{
	struct tz_hold h;
	int64_t        wall, today, day, open, close;
	int            ret = -1;

	if (w->wdays == 0)
		return (vsm_err_set(err, "window opens on no day"));
	if (!tz_in_range(t))
		return (vsm_err_set(
		    err, "instant %lld is out of range", (long long)t));
	if (tz_enter(&h, tz, err) == -1)
		return (-1);
	wall = t + tz_offset_at(t);
	today = (wall - ((wall % TZ_DAY) + TZ_DAY) % TZ_DAY) / TZ_DAY;
	for (day = today - 1; day <= today; day++) {
		if (!(w->wdays & (1u << tz_weekday(day))))
			continue;
		win_span(w, day, &open, &close);
		if (open <= t && t < close) {
			*end = close;
			ret = 1;
			goto out;
		}
	}
	for (day = today; day <= today + 14; day++) {
		if (!(w->wdays & (1u << tz_weekday(day))))
			continue;
		win_span(w, day, &open, &close);
		if (open > t && close > open) {
			*next_open = open;
			ret = 0;
			goto out;
		}
	}
	vsm_err_set(
	    err, "window '%s' does not open in the next two weeks", w->text);
out:
	tz_leave(&h);
	return (ret);
}
