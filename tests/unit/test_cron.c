/*
 * test_cron.c: cron expressions, zones and ISO 8601 times (cron.h).
 *
 * A table of expression x zone x instant -> the next fire time, written
 * as ISO 8601 with the offset: fields, names, lists, steps, the @macros,
 * the day-of-month / day-of-week OR rule, leap days, short months, and
 * the DST rules in Europe/Berlin, America/New_York, Australia/Sydney and
 * Australia/Lord_Howe (a 30-minute shift), plus the day Samoa skipped.
 * Bad expressions with the field and column of the error; zone names
 * that must be refused; formatting and parsing of times; that TZ is
 * restored; that threads in different zones do not disturb each other;
 * runs of 1000 fire times. Nothing depends on the machine's own zone
 * except the test that sets TZ itself.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cron.h"
#include "tu_time.h"

static const struct next_case {
	const char *expr;
	const char *tz;
	const char *after; /* the next fire time strictly after this */
	const char *want;  /* in tz */
} next_cases[] = {
    /* Minutes: every, steps, ranges with steps, "A/STEP", lists. */
    {"* * * * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T00:01:00+00:00"},
    {"* * * * *", "UTC", "2026-01-01T00:00:30Z", "2026-01-01T00:01:00+00:00"},
    {"* * * * *", "UTC", "2026-12-31T23:59:00Z", "2027-01-01T00:00:00+00:00"},
    {"*/15 * * * *", "UTC", "2026-01-01T00:14:59Z",
        "2026-01-01T00:15:00+00:00"},
    {"*/15 * * * *", "UTC", "2026-01-01T00:45:00Z",
        "2026-01-01T01:00:00+00:00"},
    {"1-10/3 * * * *", "UTC", "2026-01-01T00:05:00Z",
        "2026-01-01T00:07:00+00:00"},
    {"1-10/3 * * * *", "UTC", "2026-01-01T00:10:00Z",
        "2026-01-01T01:01:00+00:00"},
    {"5/20 * * * *", "UTC", "2026-01-01T00:26:00Z",
        "2026-01-01T00:45:00+00:00"},
    {"5/20 * * * *", "UTC", "2026-01-01T00:45:00Z",
        "2026-01-01T01:05:00+00:00"},
    {"7,3,59 * * * *", "UTC", "2026-01-01T00:03:00Z",
        "2026-01-01T00:07:00+00:00"},
    {"7,3,59 * * * *", "UTC", "2026-01-01T00:59:00Z",
        "2026-01-01T01:03:00+00:00"},
    {"0-4,50-52/2 * * * *", "UTC", "2026-01-01T00:04:00Z",
        "2026-01-01T00:50:00+00:00"},
    {"  0  0  *  *  *  ", "UTC", "2026-01-01T00:00:00Z",
        "2026-01-02T00:00:00+00:00"},
    /* Hours. */
    {"0 */6 * * *", "UTC", "2026-01-01T06:00:00Z", "2026-01-01T12:00:00+00:00"},
    {"0 22-23 * * *", "UTC", "2026-01-01T23:00:00Z",
        "2026-01-02T22:00:00+00:00"},
    {"59 23 31 12 *", "UTC", "2026-12-31T23:59:00Z",
        "2027-12-31T23:59:00+00:00"},
    /* Names, any case; 0 and 7 are Sunday. 2026-01-01 is a Thursday. */
    {"30 9 * * mon-fri", "UTC", "2026-01-02T10:00:00Z",
        "2026-01-05T09:30:00+00:00"},
    {"0 0 * * 7", "UTC", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00+00:00"},
    {"0 0 * * 0", "UTC", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00+00:00"},
    {"0 0 * * SUN", "UTC", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00+00:00"},
    {"0 0 * * 5-7", "UTC", "2026-01-03T12:00:00Z", "2026-01-04T00:00:00+00:00"},
    {"0 0 * * Sat,sun", "UTC", "2026-01-04T00:00:00Z",
        "2026-01-10T00:00:00+00:00"},
    {"0 0 * * tue-thu/2", "UTC", "2026-01-01T00:00:00Z",
        "2026-01-06T00:00:00+00:00"},
    {"0 12 * JAN,Jul *", "UTC", "2026-02-01T00:00:00Z",
        "2026-07-01T12:00:00+00:00"},
    {"0 0 1 mar-may/2 *", "UTC", "2026-03-01T00:00:00Z",
        "2026-05-01T00:00:00+00:00"},
    /* Days of month: the 31st skips short months, Feb 29 leap years. */
    {"0 0 1 * *", "UTC", "2026-01-31T12:00:00Z", "2026-02-01T00:00:00+00:00"},
    {"0 0 31 * *", "UTC", "2026-01-31T00:00:00Z", "2026-03-31T00:00:00+00:00"},
    {"0 0 31 * *", "UTC", "2026-03-31T00:00:00Z", "2026-05-31T00:00:00+00:00"},
    {"0 0 30 * *", "UTC", "2026-01-30T00:00:00Z", "2026-03-30T00:00:00+00:00"},
    {"0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z", "2028-02-29T00:00:00+00:00"},
    {"0 0 29 2 *", "UTC", "2028-02-29T00:00:00Z", "2032-02-29T00:00:00+00:00"},
    {"0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z",
        "2104-02-29T00:00:00+00:00"}, /* 2100 is no leap year */
    {"0 0 29 feb *", "UTC", "1999-01-01T00:00:00Z",
        "2000-02-29T00:00:00+00:00"}, /* 2000 is one */
    /* Both days restricted: either matches. */
    {"0 0 13 * 5", "UTC", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00+00:00"},
    {"0 0 13 * 5", "UTC", "2026-01-10T00:00:00Z", "2026-01-13T00:00:00+00:00"},
    {"0 0 13 * fri", "UTC", "2026-01-13T00:00:00Z",
        "2026-01-16T00:00:00+00:00"},
    {"0 0 1,15 * mon", "UTC", "2026-01-02T00:00:00Z",
        "2026-01-05T00:00:00+00:00"},
    /* Only one restricted (`*` or `*\/N` in the other): both must. */
    {"0 0 */2 * 1", "UTC", "2026-01-01T00:00:00Z", "2026-01-05T00:00:00+00:00"},
    {"0 0 */2 * 1", "UTC", "2026-01-05T00:00:00Z", "2026-01-19T00:00:00+00:00"},
    {"0 0 13 * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-13T00:00:00+00:00"},
    {"0 0 * * 1", "UTC", "2026-01-01T00:00:00Z", "2026-01-05T00:00:00+00:00"},
    /* Macros. */
    {"@hourly", "UTC", "2026-01-01T00:59:59Z", "2026-01-01T01:00:00+00:00"},
    {"@daily", "UTC", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00+00:00"},
    {"@midnight", "UTC", "2026-01-01T23:59:00Z", "2026-01-02T00:00:00+00:00"},
    {"@weekly", "UTC", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00+00:00"},
    {"@monthly", "UTC", "2026-01-15T00:00:00Z", "2026-02-01T00:00:00+00:00"},
    {"@yearly", "UTC", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00+00:00"},
    {"@annually", "UTC", "2026-06-01T00:00:00Z", "2027-01-01T00:00:00+00:00"},
    {" @DAILY ", "UTC", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00+00:00"},
    /* A zone without DST; the wall clock decides, not UTC. */
    {"0 9 * * *", "Asia/Kolkata", "2026-01-01T03:30:00Z",
        "2026-01-02T09:00:00+05:30"},
    {"0 9 * * *", "Asia/Kolkata", "2026-01-01T03:29:59Z",
        "2026-01-01T09:00:00+05:30"},
    {"0 0 * * *", "America/St_Johns", "2026-01-01T00:00:00Z",
        "2026-01-01T00:00:00-03:30"},

    /* Europe/Berlin, spring-forward 2026-03-29 02:00 -> 03:00: a skipped
     * time fires once, at 03:00. */
    {"30 2 * * *", "Europe/Berlin", "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:00:00+02:00"},
    {"30 2 * * *", "Europe/Berlin", "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:30:00+02:00"},
    {"15,45 2 * * *", "Europe/Berlin", "2026-03-29T01:59:00+01:00",
        "2026-03-29T03:00:00+02:00"},
    {"15,45 2 * * *", "Europe/Berlin", "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:15:00+02:00"},
    {"0 3 * * *", "Europe/Berlin", "2026-03-29T01:59:00+01:00",
        "2026-03-29T03:00:00+02:00"},
    {"*/30 * * * *", "Europe/Berlin", "2026-03-29T01:30:00+01:00",
        "2026-03-29T03:00:00+02:00"},
    {"*/30 * * * *", "Europe/Berlin", "2026-03-29T03:00:00+02:00",
        "2026-03-29T03:30:00+02:00"},
    {"0 9 * * *", "Europe/Berlin", "2026-03-28T09:00:00+01:00",
        "2026-03-29T09:00:00+02:00"},
    /* Fall-back 2026-10-25 03:00 -> 02:00: a repeated time fires once,
     * at its first occurrence; second occurrences are skipped. */
    {"30 2 * * *", "Europe/Berlin", "2026-10-24T02:30:00+02:00",
        "2026-10-25T02:30:00+02:00"},
    {"30 2 * * *", "Europe/Berlin", "2026-10-25T02:30:00+02:00",
        "2026-10-26T02:30:00+01:00"},
    {"*/30 * * * *", "Europe/Berlin", "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:30:00+02:00"},
    {"*/30 * * * *", "Europe/Berlin", "2026-10-25T02:30:00+02:00",
        "2026-10-25T03:00:00+01:00"},
    {"*/30 * * * *", "Europe/Berlin", "2026-10-25T02:10:00+01:00",
        "2026-10-25T03:00:00+01:00"},
    {"0 * * * *", "Europe/Berlin", "2026-10-25T02:00:00+02:00",
        "2026-10-25T03:00:00+01:00"},
    {"59 2 * * *", "Europe/Berlin", "2026-10-25T02:58:00+01:00",
        "2026-10-26T02:59:00+01:00"},

    /* America/New_York: 2026-03-08 02:00 -> 03:00, 2026-11-01
     * 02:00 -> 01:00. */
    {"30 2 * * *", "America/New_York", "2026-03-07T02:30:00-05:00",
        "2026-03-08T03:00:00-04:00"},
    {"0 9 * * *", "America/New_York", "2026-03-07T09:00:00-05:00",
        "2026-03-08T09:00:00-04:00"},
    {"30 1 * * *", "America/New_York", "2026-10-31T01:30:00-04:00",
        "2026-11-01T01:30:00-04:00"},
    {"30 1 * * *", "America/New_York", "2026-11-01T01:30:00-04:00",
        "2026-11-02T01:30:00-05:00"},
    {"*/20 1 * * *", "America/New_York", "2026-11-01T01:40:00-04:00",
        "2026-11-02T01:00:00-05:00"},
    {"0 2 * * *", "America/New_York", "2026-11-01T01:00:00-05:00",
        "2026-11-01T02:00:00-05:00"},

    /* Australia/Sydney: fall-back 2026-04-05 03:00 -> 02:00,
     * spring-forward 2026-10-04 02:00 -> 03:00. */
    {"30 2 * * *", "Australia/Sydney", "2026-04-04T02:30:00+11:00",
        "2026-04-05T02:30:00+11:00"},
    {"30 2 * * *", "Australia/Sydney", "2026-04-05T02:30:00+11:00",
        "2026-04-06T02:30:00+10:00"},
    {"30 2 * * *", "Australia/Sydney", "2026-10-03T02:30:00+10:00",
        "2026-10-04T03:00:00+11:00"},
    /* Lord Howe shifts by 30 minutes: 2026-10-04 02:00 -> 02:30. */
    {"15 2 * * *", "Australia/Lord_Howe", "2026-10-03T02:15:00+10:30",
        "2026-10-04T02:30:00+11:00"},
    {"45 2 * * *", "Australia/Lord_Howe", "2026-10-03T02:45:00+10:30",
        "2026-10-04T02:45:00+11:00"},
    /* Samoa skipped all of 2011-12-30: noon fires once, at midnight. */
    {"0 12 * * *", "Pacific/Apia", "2011-12-29T12:00:00-10:00",
        "2011-12-31T00:00:00+14:00"},
    {"0 12 * * *", "Pacific/Apia", "2011-12-31T00:00:00+14:00",
        "2011-12-31T12:00:00+14:00"},
};

static void
test_next_fire_times_table(void **state)
{
	const struct next_case *nc;
	struct vsm_cron         c;
	struct vsm_err          err = {{0}};
	int64_t                 next;
	size_t                  i;

	(void)state;
	for (i = 0; i < sizeof(next_cases) / sizeof(next_cases[0]); i++) {
		nc = &next_cases[i];
		if (vsm_cron_parse(nc->expr, &c, &err) == -1)
			fail_msg("'%s': %s", nc->expr, err.msg);
		if (vsm_cron_next(&c, nc->tz, tu_at(nc->after), &next, &err) ==
		    -1)
			fail_msg("'%s' %s after %s: %s", nc->expr, nc->tz,
			    nc->after, err.msg);
		if (strcmp(tu_iso(nc->tz, next), nc->want) != 0)
			fail_msg("'%s' %s after %s: got %s, want %s", nc->expr,
			    nc->tz, nc->after, tu_iso(nc->tz, next), nc->want);
		assert_string_equal(c.text, nc->expr);
	}
}

/* A whole DST day in Berlin, every 30 minutes: each wall time once. */
static void
test_dst_days_fire_once_per_wall_time(void **state)
{
	static const char *const spring[] = {"2026-03-29T01:00:00+01:00",
	    "2026-03-29T01:30:00+01:00", "2026-03-29T03:00:00+02:00",
	    "2026-03-29T03:30:00+02:00", "2026-03-29T04:00:00+02:00"};
	static const char *const fall[] = {"2026-10-25T01:30:00+02:00",
	    "2026-10-25T02:00:00+02:00", "2026-10-25T02:30:00+02:00",
	    "2026-10-25T03:00:00+01:00", "2026-10-25T03:30:00+01:00"};
	struct vsm_cron          c;
	struct vsm_err           err = {{0}};
	int64_t                  next[5], day[49];
	size_t                   i;

	(void)state;
	assert_int_equal(vsm_cron_parse("*/30 * * * *", &c, &err), 0);
	assert_int_equal(vsm_cron_next_n(&c, "Europe/Berlin",
	                     tu_at("2026-03-29T00:59:00+01:00"), next, 5, &err),
	    0);
	for (i = 0; i < 5; i++)
		assert_string_equal(
		    tu_iso("Europe/Berlin", next[i]), spring[i]);
	assert_int_equal(vsm_cron_next_n(&c, "Europe/Berlin",
	                     tu_at("2026-10-25T01:00:00+02:00"), next, 5, &err),
	    0);
	for (i = 0; i < 5; i++)
		assert_string_equal(tu_iso("Europe/Berlin", next[i]), fall[i]);
	/* The fall-back day has 25 hours but 48 half-hour fire times. */
	assert_int_equal(vsm_cron_next_n(&c, "Europe/Berlin",
	                     tu_at("2026-10-24T23:59:00+02:00"), day, 49, &err),
	    0);
	assert_string_equal(
	    tu_iso("Europe/Berlin", day[47]), "2026-10-25T23:30:00+01:00");
	assert_string_equal(
	    tu_iso("Europe/Berlin", day[48]), "2026-10-26T00:00:00+01:00");
}

static const struct bad_case {
	const char *expr;
	const char *msg; /* a part of the message */
} bad_cases[] = {
    {"", "empty cron expression"},
    {"   ", "empty cron expression"},
    {"* * * *", "field 5 (day of week) at column 8: missing"},
    {"*", "field 2 (hour) at column 2: missing"},
    {"* * * * * *", "field 6 at column 11: too many fields"},
    {"0 0 * * 1 junk", "field 6 at column 11: too many fields"},
    {"60 * * * *", "field 1 (minute) at column 1: 60 is out of range 0-59"},
    {"* 24 * * *", "field 2 (hour) at column 3: 24 is out of range 0-23"},
    {"0 0 0 * *", "field 3 (day of month) at column 5: 0 is out of range 1-31"},
    {"0 0 32 * *", "field 3 (day of month) at column 5: 32 is out of range"},
    {"0 0 * 13 *", "field 4 (month) at column 7: 13 is out of range 1-12"},
    {"0 0 * * 8", "field 5 (day of week) at column 9: 8 is out of range 0-7"},
    {"1,2,99 * * * *", "field 1 (minute) at column 5: 99 is out of range"},
    {"99999999999999999999 * * * *",
        "field 1 (minute) at column 1: 999999999999 is out of range"},
    {"*/0 * * * *", "field 1 (minute) at column 3: step 0 is out of range"},
    {"0 */25 * * *", "field 2 (hour) at column 5: step 25 is out of range"},
    {"0 0 * * mon/0", "field 5 (day of week) at column 13: step 0"},
    {"*/ * * * *", "field 1 (minute) at column 3: unexpected end of field"},
    {"*/x * * * *", "field 1 (minute) at column 3: unexpected 'x'"},
    {"0 0 * foo *", "field 4 (month) at column 7: 'foo' is not a month name"},
    {"0 0 * january *", "field 4 (month) at column 7: 'january' is not"},
    {"0 0 * * funday", "field 5 (day of week) at column 9: 'funday' is not"},
    {"jan * * * *", "field 1 (minute) at column 1: 'jan' is not a number"},
    {"0 0 * * mon-sun",
        "field 5 (day of week) at column 9: range mon-sun is "
        "reversed"},
    {"0 0 10-5 * *",
        "field 3 (day of month) at column 5: range 10-5 is "
        "reversed"},
    {"0 0 1x * *", "field 3 (day of month) at column 6: unexpected 'x'"},
    {"0 0 * * 1-", "field 5 (day of week) at column 11: unexpected end"},
    {"5,,6 * * * *", "field 1 (minute) at column 3: empty list item"},
    {"5, * * * *", "field 1 (minute) at column 3: empty list item"},
    {",5 * * * *", "field 1 (minute) at column 1: empty list item"},
    {"*-5 * * * *", "field 1 (minute) at column 2: unexpected '-'"},
    {"-5 * * * *", "field 1 (minute) at column 1: unexpected '-'"},
    {"0 0 * * 1\x01",
        "field 5 (day of week) at column 10: unexpected byte "
        "0x01"},
    {"0 0 30 2 *", "field 3 (day of month) at column 5: no month"},
    {"0 0 31 4,6,9,11 *", "field 3 (day of month) at column 5: no month"},
    {"@reboot", "column 1: unknown macro '@reboot'"},
    {"@daily x", "column 8: unexpected text after @daily"},
    {"@", "unknown macro"},
};

static void
test_bad_expressions_name_field_and_column(void **state)
{
	struct vsm_cron c;
	struct vsm_err  err;
	char            longexpr[VSM_CRON_EXPR_MAX + 8];
	size_t          i;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		memset(&err, 0, sizeof(err));
		if (vsm_cron_parse(bad_cases[i].expr, &c, &err) != -1)
			fail_msg("'%s' was accepted", bad_cases[i].expr);
		if (strstr(err.msg, bad_cases[i].msg) == NULL)
			fail_msg("'%s': got \"%s\", want \"%s\"",
			    bad_cases[i].expr, err.msg, bad_cases[i].msg);
	}
	memset(longexpr, ' ', sizeof(longexpr) - 1);
	longexpr[sizeof(longexpr) - 1] = '\0';
	memcpy(longexpr, "* * * * *", 9);
	assert_int_equal(vsm_cron_parse(longexpr, &c, &err), -1);
	assert_non_null(strstr(err.msg, "longer than 255 bytes"));
	assert_int_equal(vsm_cron_parse(NULL, &c, &err), -1);
}

/* The bit sets the parser builds, and the "star" flags of the day fields. */
static void
test_parse_sets_bits_and_star_flags(void **state)
{
	struct vsm_cron c;
	struct vsm_err  err;

	(void)state;
	assert_int_equal(vsm_cron_parse("*/20 1-3 */10 * sun,7", &c, &err), 0);
	assert_true(c.minutes == (1ULL << 0 | 1ULL << 20 | 1ULL << 40));
	assert_int_equal(c.hours, 1u << 1 | 1u << 2 | 1u << 3);
	assert_int_equal(c.mdays, 1u << 1 | 1u << 11 | 1u << 21 | 1u << 31);
	assert_int_equal(c.months, 0x1ffe);
	assert_int_equal(c.wdays, 1);
	assert_int_equal(c.mday_star, 1);
	assert_int_equal(c.wday_star, 0);
	assert_int_equal(vsm_cron_parse("0 0 1 * *", &c, &err), 0);
	assert_int_equal(c.mday_star, 0);
	assert_int_equal(c.wday_star, 1);
	assert_int_equal(c.wdays, 0x7f);
	assert_int_equal(vsm_cron_parse("@weekly", &c, &err), 0);
	assert_int_equal(c.wdays, 1);
	assert_string_equal(c.text, "@weekly");
}

/*
 * A hand-made expression that never fires (the parser refuses those it
 * can see) ends the search after eight years, and searches stop before
 * the year 10000.
 */
static void
test_search_gives_up(void **state)
{
	struct vsm_cron c;
	struct vsm_err  err;
	int64_t         next;

	(void)state;
	assert_int_equal(vsm_cron_parse("0 0 1 2 *", &c, &err), 0);
	c.mdays = 1u << 30; /* February 30th */
	assert_int_equal(vsm_cron_next(&c, "UTC", tu_at("2026-01-01T00:00:00Z"),
	                     &next, &err),
	    -1);
	assert_non_null(strstr(err.msg, "within eight years"));
	assert_int_equal(vsm_cron_parse("0 0 29 2 *", &c, &err), 0);
	assert_int_equal(vsm_cron_next(&c, "UTC", tu_at("9996-03-01T00:00:00Z"),
	                     &next, &err),
	    -1);
	assert_non_null(strstr(err.msg, "before the year 10000"));
	assert_int_equal(
	    vsm_cron_next(&c, "UTC", INT64_MAX / 2, &next, &err), -1);
	assert_non_null(strstr(err.msg, "out of range"));
}

/* 1000 fire times in one call: every minute, and every leap day. */
static void
test_a_thousand_fire_times(void **state)
{
	struct vsm_cron c;
	struct vsm_err  err;
	int64_t        *next = calloc(1000, sizeof(*next));
	int64_t         t0 = tu_at("2026-01-01T00:00:00Z");
	size_t          i;

	(void)state;
	assert_non_null(next);
	assert_int_equal(vsm_cron_parse("* * * * *", &c, &err), 0);
	assert_int_equal(vsm_cron_next_n(&c, "UTC", t0, next, 1000, &err), 0);
	for (i = 0; i < 1000; i++)
		assert_true(next[i] == t0 + 60 * (int64_t)(i + 1));
	/* Berlin: 1000 minutes from 2026-03-29 00:00 cross the gap. */
	t0 = tu_at("2026-03-29T00:00:00+01:00");
	assert_int_equal(
	    vsm_cron_next_n(&c, "Europe/Berlin", t0, next, 1000, &err), 0);
	for (i = 0; i < 1000; i++)
		assert_true(next[i] == t0 + 60 * (int64_t)(i + 1));
	assert_int_equal(vsm_cron_parse("0 0 29 2 *", &c, &err), 0);
	assert_int_equal(vsm_cron_next_n(&c, "America/New_York",
	                     tu_at("2026-01-01T00:00:00Z"), next, 1000, &err),
	    0);
	assert_string_equal(
	    tu_iso("America/New_York", next[0]), "2028-02-29T00:00:00-05:00");
	assert_string_equal(
	    tu_iso("America/New_York", next[18]), "2104-02-29T00:00:00-05:00");
	assert_string_equal(
	    tu_iso("America/New_York", next[999]), "6148-02-29T00:00:00-05:00");
	for (i = 1; i < 1000; i++)
		assert_true(next[i] > next[i - 1]);
	free(next);
}

static void
test_zone_names_are_checked(void **state)
{
	static const char *const good[] = {"", "UTC", "Europe/Berlin",
	    "America/Argentina/Buenos_Aires", "Etc/GMT+5", "Etc/GMT-14"};
	static const struct {
		const char *tz, *msg;
	} bad[] = {
	    {"../etc/passwd", "must not hold '..'"},
	    {"Europe/../../etc/passwd", "must not hold '..'"},
	    {"/etc/localtime", "must not start with '/'"},
	    {"Europe/Nowhere", "unknown time zone"},
	    {"Europe", "unknown time zone"}, /* a directory */
	    {"zone.tab", "bad character"},   /* not a zone */
	    {"iso3166_tab", "unknown time zone"},
	    {"Europe/Berlin;rm", "bad character at column 14"},
	    {"Europe/Berlin ", "bad character at column 14"},
	    {"Europe/Ber\nlin", "bad character at column 11"},
	    {"Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	     "aa",
	        "longer than 63 bytes"},
	};
	struct vsm_cron c;
	struct vsm_err  err;
	int64_t         next;
	int             off;
	size_t          i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (vsm_tz_check(good[i], &err) == -1)
			fail_msg("'%s': %s", good[i], err.msg);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		if (vsm_tz_check(bad[i].tz, &err) != -1)
			fail_msg("'%s' was accepted", bad[i].tz);
		if (strstr(err.msg, bad[i].msg) == NULL)
			fail_msg("'%s': got \"%s\"", bad[i].tz, err.msg);
	}
	assert_int_equal(vsm_tz_check(NULL, &err), -1);
	/* The other entry points refuse them too. */
	assert_int_equal(vsm_cron_parse("* * * * *", &c, &err), 0);
	assert_int_equal(vsm_cron_next(&c, "Mars/Olympus", 0, &next, &err), -1);
	assert_non_null(strstr(err.msg, "unknown time zone"));
	assert_int_equal(vsm_tz_offset("../x", 0, &off, &err), -1);
	assert_int_equal(vsm_tz_offset("Europe/Berlin",
	                     tu_at("2026-07-01T00:00:00Z"), &off, &err),
	    0);
	assert_int_equal(off, 7200);
	assert_int_equal(vsm_tz_offset("America/New_York",
	                     tu_at("2026-01-01T00:00:00Z"), &off, &err),
	    0);
	assert_int_equal(off, -5 * 3600);
}

static void
test_iso_times_format_and_parse(void **state)
{
	static const struct {
		const char *s, *tz, *want; /* want: in UTC */
	} ok[] = {
	    {"2026-03-29T01:30:00Z", "UTC", "2026-03-29T01:30:00+00:00"},
	    {"2026-03-29t01:30:00z", "UTC", "2026-03-29T01:30:00+00:00"},
	    {"2026-03-29T03:30:00+02:00", "UTC", "2026-03-29T01:30:00+00:00"},
	    {"2026-03-29T03:30:00+0200", "UTC", "2026-03-29T01:30:00+00:00"},
	    {"2026-03-29T03:30+02", "UTC", "2026-03-29T01:30:00+00:00"},
	    {"2026-03-28T22:00:00-03:30", "UTC", "2026-03-29T01:30:00+00:00"},
	    {"2026-03-29 01:30", "UTC", "2026-03-29T01:30:00+00:00"},
	    {"2026-03-29", "UTC", "2026-03-29T00:00:00+00:00"},
	    /* Without an offset: a wall time in the zone, a gap resolved
	     * to its end, a repeat to its first occurrence. */
	    {"2026-03-29", "Europe/Berlin", "2026-03-28T23:00:00+00:00"},
	    {"2026-03-29T02:30", "Europe/Berlin", "2026-03-29T01:00:00+00:00"},
	    {"2026-10-25T02:30", "Europe/Berlin", "2026-10-25T00:30:00+00:00"},
	    {"2026-10-25T03:00", "Europe/Berlin", "2026-10-25T02:00:00+00:00"},
	    {"2024-02-29T12:00:00", "Asia/Kolkata",
	        "2024-02-29T06:30:00+00:00"},
	};
	static const char *const bad[] = {"", "yesterday", "2026-1-1",
	    "2026-13-01", "2026-00-10", "2026-02-29", "2026-04-31",
	    "2026-01-01T24:00", "2026-01-01T00:60", "2026-01-01T00:00:60",
	    "2026-01-01T00:00:00+25:00", "2026-01-01T00:00:00.5Z",
	    "2026-01-01T00:00:00Zjunk", "2026-01-01T00", "2026-01-01X00:00",
	    "1899-12-31T00:00:00Z", "2026-01-01T00:00:00+02:0"};
	struct vsm_err           err;
	int64_t                  t;
	char                     small[16], buf[48];
	size_t                   i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (vsm_time_parse(ok[i].s, ok[i].tz, &t, &err) == -1)
			fail_msg("'%s': %s", ok[i].s, err.msg);
		if (strcmp(tu_iso("UTC", t), ok[i].want) != 0)
			fail_msg("'%s' in %s: got %s, want %s", ok[i].s,
			    ok[i].tz, tu_iso("UTC", t), ok[i].want);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (vsm_time_parse(bad[i], "UTC", &t, &err) != -1)
			fail_msg("'%s' was accepted", bad[i]);
	assert_int_equal(vsm_time_parse(NULL, "UTC", &t, &err), -1);
	assert_int_equal(
	    vsm_time_parse("2026-01-01T00:00", "No/Such_Zone", &t, &err), -1);

	assert_string_equal(tu_iso("UTC", 0), "1970-01-01T00:00:00+00:00");
	assert_string_equal(
	    tu_iso("Europe/Berlin", tu_at("2026-03-29T01:00:00Z")),
	    "2026-03-29T03:00:00+02:00");
	assert_string_equal(
	    tu_iso("Europe/Berlin", tu_at("2026-03-29T00:59:59Z")),
	    "2026-03-29T01:59:59+01:00");
	assert_string_equal(
	    tu_iso("America/St_Johns", tu_at("2026-01-01T12:00:00Z")),
	    "2026-01-01T08:30:00-03:30");
	assert_string_equal(
	    tu_iso("Pacific/Chatham", tu_at("2026-01-01T12:00:00Z")),
	    "2026-01-02T01:45:00+13:45");
	/* Local mean time: an offset with seconds. */
	assert_string_equal(
	    tu_iso("Africa/Monrovia", tu_at("1960-01-01T00:00:00Z")),
	    "1959-12-31T23:15:30-00:44:30");
	assert_int_equal(
	    vsm_time_format("UTC", 0, small, sizeof(small), &err), -1);
	assert_int_equal(
	    vsm_time_format("UTC", INT64_MAX, buf, sizeof(buf), &err), -1);
}

/*
 * "" is the process's own zone (TZ), and every call leaves TZ as it
 * found it: set or unset.
 */
static void
test_own_zone_and_tz_restored(void **state)
{
	const char     *old = getenv("TZ");
	char           *saved = old != NULL ? strdup(old) : NULL;
	struct vsm_cron c;
	struct vsm_err  err;
	struct tm       tm;
	time_t          now = (time_t)tu_at("2026-01-01T00:00:00Z");
	int64_t         next;
	int             off;

	(void)state;
	assert_int_equal(setenv("TZ", "Asia/Tokyo", 1), 0);
	tzset();
	assert_int_equal(vsm_cron_parse("0 9 * * *", &c, &err), 0);
	assert_int_equal(vsm_cron_next(&c, "", now, &next, &err), 0);
	assert_string_equal(tu_iso("", next), "2026-01-02T09:00:00+09:00");
	assert_int_equal(vsm_tz_offset("", now, &off, &err), 0);
	assert_int_equal(off, 9 * 3600);
	/* A named zone, then TZ and localtime are Tokyo's again. */
	assert_int_equal(
	    vsm_cron_next(&c, "Europe/Berlin", now, &next, &err), 0);
	assert_string_equal(getenv("TZ"), "Asia/Tokyo");
	assert_non_null(localtime_r(&now, &tm));
	assert_int_equal(tm.tm_gmtoff, 9 * 3600);
	/* Unset stays unset. */
	assert_int_equal(unsetenv("TZ"), 0);
	tzset();
	assert_int_equal(
	    vsm_cron_next(&c, "Europe/Berlin", now, &next, &err), 0);
	assert_null(getenv("TZ"));

	if (saved != NULL)
		setenv("TZ", saved, 1);
	tzset();
	free(saved);
}

/*
 * vsm_tz_init() makes an unset TZ explicit (the process's own zone,
 * unchanged), so conversions in other zones only ever replace TZ's value:
 * the variable is never removed, nor added, under other threads' getenv.
 */
static void
test_tz_init_keeps_tz_set(void **state)
{
	const char     *old = getenv("TZ");
	char           *saved = old != NULL ? strdup(old) : NULL;
	struct vsm_cron c;
	struct vsm_err  err;
	int64_t         now = tu_at("2026-01-01T00:00:00Z"), next;
	int             off, off_init;

	(void)state;
	assert_int_equal(unsetenv("TZ"), 0);
	tzset();
	assert_int_equal(vsm_tz_offset("", now, &off, &err), 0);
	vsm_tz_init();
	assert_string_equal(getenv("TZ"), ":/etc/localtime");
	assert_int_equal(vsm_tz_offset("", now, &off_init, &err), 0);
	assert_int_equal(off_init, off);
	assert_int_equal(vsm_cron_parse("0 9 * * *", &c, &err), 0);
	assert_int_equal(vsm_cron_next(&c, "Asia/Tokyo", now, &next, &err), 0);
	assert_string_equal(getenv("TZ"), ":/etc/localtime");
	/* A TZ already set is left as it is. */
	assert_int_equal(setenv("TZ", "Asia/Tokyo", 1), 0);
	vsm_tz_init();
	assert_string_equal(getenv("TZ"), "Asia/Tokyo");

	if (saved != NULL)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved);
}

/* Threads in four zones at once each get their own zone's answers. */
struct zone_run {
	const char *tz;
	const char *want; /* the 3rd fire time of "30 2 * * *" */
	int         bad;
};

static void *
zone_thread(void *arg)
{
	struct zone_run *z = arg;
	struct vsm_cron  c;
	struct vsm_err   err;
	int64_t          next[3];
	char             buf[48];
	int              i;

	z->bad = 1; /* a parse failure must fail the test */
	if (vsm_cron_parse("30 2 * * *", &c, &err) == -1)
		return (NULL);
	z->bad = 0;
	for (i = 0; i < 300; i++)
		if (vsm_cron_next_n(&c, z->tz, 1774656000 /* 03-28 00:00Z */,
		        next, 3, &err) == -1 ||
		    vsm_time_format(z->tz, next[2], buf, sizeof(buf), &err) ==
		        -1 ||
		    strcmp(buf, z->want) != 0)
			z->bad++;
	return (NULL);
}

static void
test_threads_in_different_zones(void **state)
{
	struct zone_run z[4] = {
	    {"Europe/Berlin", "2026-03-30T02:30:00+02:00", 0},
	    {"America/New_York", "2026-03-30T02:30:00-04:00", 0},
	    {"Asia/Kolkata", "2026-03-31T02:30:00+05:30", 0},
	    {"UTC", "2026-03-30T02:30:00+00:00", 0},
	};
	pthread_t th[4];
	int       i;

	(void)state;
	for (i = 0; i < 4; i++)
		assert_int_equal(
		    pthread_create(&th[i], NULL, zone_thread, &z[i]), 0);
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(z[i].bad, 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_next_fire_times_table),
	    cmocka_unit_test(test_dst_days_fire_once_per_wall_time),
	    cmocka_unit_test(test_bad_expressions_name_field_and_column),
	    cmocka_unit_test(test_parse_sets_bits_and_star_flags),
	    cmocka_unit_test(test_search_gives_up),
	    cmocka_unit_test(test_a_thousand_fire_times),
	    cmocka_unit_test(test_zone_names_are_checked),
	    cmocka_unit_test(test_iso_times_format_and_parse),
	    cmocka_unit_test(test_own_zone_and_tz_restored),
	    cmocka_unit_test(test_tz_init_keeps_tz_set),
	    cmocka_unit_test(test_threads_in_different_zones),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
