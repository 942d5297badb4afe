/*
 * cron.c: parsing cron expressions (cron.h). Five fields, each a list of
 * `*`, N, NAME, A-B, with an optional /STEP (`*` and `A/STEP` run to the
 * field's end), or an @macro. Errors name the field and the column
 * (1-based, in the expression as written) of the bad token. The search
 * for fire times is in cron_next.c.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cron.h"
#include "tz_int.h"

#define CRON_NFIELDS 5

struct cron_field {
	const char        *name; /* "day of month" */
	int                lo, hi;
	const char *const *names; /* names[i] is value lo + i, or NULL */
	const char        *names_help;
};

static const char *const cron_months[] = {"jan", "feb", "mar", "apr", "may",
    "jun", "jul", "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const cron_days[] = {
    "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

/* Day of week runs 0-7: 7 is Sunday again. */
static const struct cron_field cron_fields[CRON_NFIELDS] = {
    {"minute", 0, 59, NULL, NULL},
    {"hour", 0, 23, NULL, NULL},
    {"day of month", 1, 31, NULL, NULL},
    {"month", 1, 12, cron_months, "jan-dec"},
    {"day of week", 0, 7, cron_days, "sun-sat"},
};

static const struct {
	const char *name;
	const char *expr;
} cron_macros[] = {
    {"@yearly", "0 0 1 1 *"},
    {"@annually", "0 0 1 1 *"},
    {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},
    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* Where a field is being parsed, for the error messages. */
struct cron_pos {
	const char *expr;  /* the whole expression, as written */
	int         field; /* 0-4 */
	int         macro; /* expanding an @macro: columns are meaningless */
};

static int cron_fail(const struct cron_pos *, const char *, struct vsm_err *,
    const char *, ...) __attribute__((format(printf, 4, 5)));

/* "field 3 (day of month) at column 7: MSG"; returns -1. */
static int
cron_fail(const struct cron_pos *ps, const char *at, struct vsm_err *err,
    const char *fmt, ...)
{
	char    msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ps->macro)
		return (vsm_err_set(err, "field %d (%s): %s", ps->field + 1,
		    cron_fields[ps->field].name, msg));
	return (
	    vsm_err_set(err, "field %d (%s) at column %d: %s", ps->field + 1,
	        cron_fields[ps->field].name, (int)(at - ps->expr) + 1, msg));
}

/* A printable rendering of the character at p, for "unexpected X". */
static void
cron_char(const char *p, char *buf, size_t len)
{
	if (*p == '\0' || *p == ' ' || *p == '\t')
		snprintf(buf, len, "end of field");
	else if (isprint((unsigned char)*p))
		snprintf(buf, len, "'%c'", *p);
	else
		snprintf(buf, len, "byte 0x%02x", (unsigned char)*p);
}

/*
 * One value (a number or, in month and day of week, a name) at *p,
 * advancing *p. 0 or -1 with err.
 */
static int
cron_value(
    const struct cron_pos *ps, const char **p, int *v, struct vsm_err *err)
{
	const struct cron_field *f = &cron_fields[ps->field];
	const char              *s = *p;
	size_t                   len = 0;
	int                      i;
	char                     c[24];

	if (isdigit((unsigned char)*s)) {
		*v = 0;
		while (isdigit((unsigned char)s[len])) {
			if (*v < 100000)
				*v = *v * 10 + (s[len] - '0');
			len++;
		}
		if (*v < f->lo || *v > f->hi)
			return (
			    cron_fail(ps, s, err, "%.*s is out of range %d-%d",
			        (int)(len > 12 ? 12 : len), s, f->lo, f->hi));
		*p = s + len;
		return (0);
	}
	if (!isalpha((unsigned char)*s)) {
		cron_char(s, c, sizeof(c));
		return (cron_fail(ps, s, err, "unexpected %s", c));
	}
	while (isalpha((unsigned char)s[len]))
		len++;
	if (f->names == NULL)
		return (cron_fail(ps, s, err, "'%.*s' is not a number",
		    (int)(len > 12 ? 12 : len), s));
	for (i = 0; f->names[i] != NULL; i++)
		if (len == 3 && strncasecmp(s, f->names[i], 3) == 0) {
			*v = f->lo + i;
			*p = s + len;
			return (0);
		}
	return (cron_fail(ps, s, err, "'%.*s' is not a %s name (%s)",
	    (int)(len > 12 ? 12 : len), s, ps->field == 3 ? "month" : "day",
	    f->names_help));
}

/* The number after '/' at *p, 1 to the field's span. */
static int
cron_step(
    const struct cron_pos *ps, const char **p, int *step, struct vsm_err *err)
{
	const struct cron_field *f = &cron_fields[ps->field];
	const char              *s = *p;
	int    span = f->hi - f->lo + (ps->field == 4 ? 0 : 1);
	size_t len = 0;
	char   c[24];

	if (!isdigit((unsigned char)*s)) {
		cron_char(s, c, sizeof(c));
		return (cron_fail(ps, s, err,
		    "unexpected %s after '/' (a step is a number)", c));
	}
	*step = 0;
	while (isdigit((unsigned char)s[len])) {
		if (*step < 100000)
			*step = *step * 10 + (s[len] - '0');
		len++;
	}
	if (*step < 1 || *step > span)
		return (cron_fail(ps, s, err, "step %.*s is out of range 1-%d",
		    (int)(len > 12 ? 12 : len), s, span));
	*p = s + len;
	return (0);
}

/*
 * One field, from `s` to `end`, into *bits (bit v for value v; day of
 * week 7 folded onto 0). *star is set when the field begins with '*'.
 */
static int
cron_field(const struct cron_pos *ps, const char *s, const char *end,
    uint64_t *bits, int *star, struct vsm_err *err)
{
	const struct cron_field *f = &cron_fields[ps->field];
	const char              *p = s, *item;
	int                      a, b, step, v, range, last;
	char                     c[24];

	/* `*` and "A/STEP" in day of week stop at 6: Sunday is 0. */
	last = ps->field == 4 ? 6 : f->hi;
	*bits = 0;
	*star = *s == '*';
	for (;;) {
		item = p;
		if (p == end || *p == ',')
			return (cron_fail(ps, p, err, "empty list item"));
		step = 1;
		range = 0;
		if (*p == '*') {
			a = f->lo;
			b = last;
			p++;
		} else {
			if (cron_value(ps, &p, &a, err) == -1)
				return (-1);
			b = a;
			if (p < end && *p == '-') {
				range = 1;
				p++;
				if (cron_value(ps, &p, &b, err) == -1)
					return (-1);
				if (b < a)
					return (cron_fail(ps, item, err,
					    "range %.*s is reversed",
					    (int)(p - item), item));
			}
		}
		if (p < end && *p == '/') {
			p++;
			if (cron_step(ps, &p, &step, err) == -1)
				return (-1);
			if (item[0] != '*' && !range && a < last)
				b = last; /* "5/20": from 5 to the end */
		}
		for (v = a; v <= b; v += step)
			*bits |= 1ULL << (ps->field == 4 && v == 7 ? 0 : v);
		if (p == end)
			return (0);
		if (*p != ',') {
			cron_char(p, c, sizeof(c));
			return (cron_fail(ps, p, err, "unexpected %s", c));
		}
		p++;
	}
}

/* A day of month in mdays that some month in months has, or -1. */
static int
cron_days_possible(uint32_t mdays, uint16_t months)
{
	int m, longest = 0, d;

	for (m = 1; m <= 12; m++)
		if (months & (1u << m) && tz_days_in_month(2000, m) > longest)
			longest = tz_days_in_month(2000, m);
	for (d = 1; d <= longest; d++)
		if (mdays & (1u << d))
			return (d);
	return (-1);
}

/* Parse the five fields of `text` (an expression or a macro's). */
static int
cron_fields_parse(const char *expr, const char *text, int macro,
    struct vsm_cron *c, struct vsm_err *err)
{
	struct cron_pos ps = {expr, 0, macro};
	const char     *start[CRON_NFIELDS + 1], *end[CRON_NFIELDS];
	const char     *p = text;
	uint64_t        bits[CRON_NFIELDS];
	int             star[CRON_NFIELDS], n = 0;

	for (;;) {
		p += strspn(p, " \t");
		if (*p == '\0')
			break;
		start[n] = p;
		if (n == CRON_NFIELDS)
			return (vsm_err_set(err,
			    "field 6 at column %d: too many fields (an "
			    "expression has five: minute hour day-of-month "
			    "month day-of-week)",
			    (int)(p - expr) + 1));
		p += strcspn(p, " \t");
		end[n++] = p;
	}
	if (n == 0)
		return (vsm_err_set(err, "empty cron expression"));
	if (n < CRON_NFIELDS)
		return (vsm_err_set(err,
		    "field %d (%s) at column %d: missing (an expression has "
		    "five fields: minute hour day-of-month month day-of-week)",
		    n + 1, cron_fields[n].name, (int)(p - expr) + 1));
	for (n = 0; n < CRON_NFIELDS; n++) {
		ps.field = n;
		if (cron_field(
		        &ps, start[n], end[n], &bits[n], &star[n], err) == -1)
			return (-1);
	}
	c->minutes = bits[0];
	c->hours = (uint32_t)bits[1];
	c->mdays = (uint32_t)bits[2];
	c->months = (uint16_t)bits[3];
	c->wdays = (uint8_t)bits[4];
	c->mday_star = star[2];
	c->wday_star = star[4];
	if (!c->mday_star && c->wday_star &&
	    cron_days_possible(c->mdays, c->months) == -1) {
		ps.field = 2;
		return (cron_fail(&ps, start[2], err,
		    "no month of field 4 has such a day, so it never fires"));
	}
	return (0);
}

int
vsm_cron_parse(const char *expr, struct vsm_cron *c, struct vsm_err *err)
{
	const char *p, *e;
	size_t      i, len;

	memset(c, 0, sizeof(*c));
	if (expr == NULL)
		return (vsm_err_set(err, "no cron expression"));
	if (strlen(expr) >= sizeof(c->text))
		return (
		    vsm_err_set(err, "cron expression longer than %zu bytes",
		        sizeof(c->text) - 1));
	p = expr + strspn(expr, " \t");
	if (*p == '@') {
		len = strcspn(p, " \t");
		e = p + len + strspn(p + len, " \t");
		for (i = 0; i < sizeof(cron_macros) / sizeof(cron_macros[0]);
		     i++)
			if (strlen(cron_macros[i].name) == len &&
			    strncasecmp(p, cron_macros[i].name, len) == 0)
				break;
		if (i == sizeof(cron_macros) / sizeof(cron_macros[0]))
			return (vsm_err_set(err,
			    "column %d: unknown macro '%.*s' (@hourly, @daily, "
			    "@weekly, @monthly, @yearly)",
			    (int)(p - expr) + 1, (int)(len > 16 ? 16 : len),
			    p));
		if (*e != '\0')
			return (vsm_err_set(err,
			    "column %d: unexpected text after %s",
			    (int)(e - expr) + 1, cron_macros[i].name));
		if (cron_fields_parse(expr, cron_macros[i].expr, 1, c, err) ==
		    -1)
			return (-1);
	} else if (cron_fields_parse(expr, expr, 0, c, err) == -1)
		return (-1);
	snprintf(c->text, sizeof(c->text), "%s", expr);
	return (0);
}
