/*
 * isotime.c: instants as ISO 8601 with their UTC offset in a zone, and
 * back ("2026-03-29T03:00:00+02:00"; cron.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "cron.h"
#include "tz_int.h"

int
vsm_time_format(
    const char *tz, int64_t t, char *buf, size_t len, struct vsm_err *err)
{
	struct tz_civil c;
	int             off, a;
	char            sec[4] = "";

	if (len < 32)
		return (vsm_err_set(err, "time buffer too small"));
	if (vsm_tz_offset(tz, t, &off, err) == -1)
		return (-1);
	tz_wall_split(t + off, &c);
	a = off < 0 ? -off : off;
	if (a % 60 != 0) /* the local mean times before 1900-ish */
		snprintf(sec, sizeof(sec), ":%02d", a % 60);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d%s", c.year,
	    c.mon, c.mday, c.hour, c.min, c.sec, off < 0 ? '-' : '+', a / 3600,
	    a / 60 % 60, sec);
	return (0);
}

/* n digits at *p into *v, advancing *p; -1 when they are not there. */
static int
iso_digits(const char **p, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return (-1);
		*v = *v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return (0);
}

/* "Z", "+HH", "+HH:MM", "+HHMM" (or '-') at p, the whole rest. */
static int
iso_offset(const char *p, int *off)
{
	int sign, hh, mm = 0;

	if ((p[0] == 'Z' || p[0] == 'z') && p[1] == '\0') {
		*off = 0;
		return (0);
	}
	if (p[0] != '+' && p[0] != '-')
		return (-1);
	sign = p[0] == '-' ? -1 : 1;
	p++;
	if (iso_digits(&p, 2, &hh) == -1)
		return (-1);
	if (*p == ':')
		p++;
	if (*p != '\0' && iso_digits(&p, 2, &mm) == -1)
		return (-1);
	if (*p != '\0' || hh > 23 || mm > 59)
		return (-1);
	*off = sign * (hh * 3600 + mm * 60);
	return (0);
}

int
vsm_time_parse(const char *s, const char *tz, int64_t *t, struct vsm_err *err)
{
	struct tz_civil c = {0};
	struct tz_hold  h;
	const char     *p = s;
	int             off = 0, has_off = 0;

	if (s == NULL || strlen(s) > 40)
		goto bad;
	if (iso_digits(&p, 4, &c.year) == -1 || *p++ != '-' ||
	    iso_digits(&p, 2, &c.mon) == -1 || *p++ != '-' ||
	    iso_digits(&p, 2, &c.mday) == -1)
		goto bad;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (iso_digits(&p, 2, &c.hour) == -1 || *p++ != ':' ||
		    iso_digits(&p, 2, &c.min) == -1)
			goto bad;
		if (*p == ':' && (p++, iso_digits(&p, 2, &c.sec) == -1))
			goto bad;
		if (*p != '\0') {
			if (iso_offset(p, &off) == -1)
				goto bad;
			has_off = 1;
		}
	} else if (*p != '\0')
		goto bad;
	if (c.year < TZ_YEAR_MIN || c.mon < 1 || c.mon > 12 || c.mday < 1 ||
	    c.mday > tz_days_in_month(c.year, c.mon) || c.hour > 23 ||
	    c.min > 59 || c.sec > 59)
		return (
		    vsm_err_set(err, "'%s' is not a valid date and time", s));
	if (has_off) {
		*t = tz_wall_make(&c) - off;
		return (0);
	}
	if (tz_enter(&h, tz, err) == -1)
		return (-1);
	*t = tz_resolve(tz_wall_make(&c));
	tz_leave(&h);
	return (0);
bad:
	return (vsm_err_set(err,
	    "'%.40s' is not an ISO 8601 time (YYYY-MM-DD, or "
	    "YYYY-MM-DDTHH:MM[:SS] with an optional Z or +HH:MM)",
	    s != NULL ? s : ""));
}
