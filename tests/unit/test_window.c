/*
 * test_window.c: maintenance windows (cron.h): parsing and refusing,
 * inside and outside, windows crossing midnight, DST days in
 * Europe/Berlin (a shorter and a longer window, one starting in the
 * skipped hour, one lying wholly in it, one ending in the repeated hour),
 * and the next opening.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cron.h"
#include "tu_time.h"

#define SUN (1 << 0)
#define MON (1 << 1)
#define TUE (1 << 2)
#define WED (1 << 3)
#define THU (1 << 4)
#define FRI (1 << 5)
#define SAT (1 << 6)

static void
test_windows_parse(void **state)
{
	static const struct {
		const char *text;
		int         wdays, start, end;
	} ok[] = {
	    {"Sat 01:00-05:00", SAT, 60, 300},
	    {"sat,sun 22:00-02:00", SAT | SUN, 1320, 120},
	    {"mon-fri 02:00-04:00", MON | TUE | WED | THU | FRI, 120, 240},
	    {"01:00-05:00", 0x7f, 60, 300},
	    {"fri-mon 23:00-01:00", FRI | SAT | SUN | MON, 1380, 60},
	    {"  SAT  1:00-5:30 ", SAT, 60, 330},
	    {"sun,wed-thu 00:00-23:59", SUN | WED | THU, 0, 1439},
	    {"00:01-00:00", 0x7f, 1, 0},
	};
	struct vsm_window w;
	struct vsm_err    err;
	size_t            i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (vsm_window_parse(ok[i].text, &w, &err) == -1)
			fail_msg("'%s': %s", ok[i].text, err.msg);
		assert_int_equal(w.wdays, ok[i].wdays);
		assert_int_equal(w.start_min, ok[i].start);
		assert_int_equal(w.end_min, ok[i].end);
		assert_string_equal(w.text, ok[i].text);
	}
}

static void
test_bad_windows_are_refused(void **state)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
	    {"", "bad start time at column 1"},
	    {"Sat", "expected a space after the days at column 4"},
	    {"Funday 01:00-02:00", "bad day at column 1"},
	    {"saturday 01:00-02:00", "bad day at column 1"},
	    {"sat,,sun 01:00-02:00", "bad day at column 5"},
	    {"sat- 01:00-02:00", "bad day at column 5"},
	    {"sat, 01:00-02:00", "bad day at column 5"},
	    {"sat 25:00-02:00", "bad start time at column 5"},
	    {"sat 1:5-02:00", "bad start time at column 5"},
	    {"sat 100:00-02:00", "bad start time at column 5"},
	    {"sat 01:00 02:00",
	        "expected '-' between the start and the end at "
	        "column 10"},
	    {"sat 01:00-02:60", "bad end time at column 11"},
	    {"sat 01:00-24:00", "bad end time at column 11"},
	    {"sat 01:00-02:000", "bad end time at column 11"},
	    {"sat 01:00-", "bad end time at column 11"},
	    {"01:00-01:00", "the start and the end are the same time"},
	    {"sat 01:00-02:00 extra", "unexpected text at column 17"},
	    {"sat 01:00-02:00;rm", "unexpected text at column 16"},
	    {"sat 01:00-02:00 sun 03:00-04:00", "unexpected text at column 17"},
	    {"mon,tue,wed,thu,fri,sat,sun,mon,tue,wed,thu,fri,sat,sun "
	     "01:00-02:00",
	        "longer than 63 bytes"},
	};
	struct vsm_window w;
	struct vsm_err    err;
	size_t            i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		if (vsm_window_parse(bad[i].text, &w, &err) != -1)
			fail_msg("'%s' was accepted", bad[i].text);
		if (strstr(err.msg, bad[i].msg) == NULL)
			fail_msg("'%s': got \"%s\", want \"%s\"", bad[i].text,
			    err.msg, bad[i].msg);
	}
	assert_int_equal(vsm_window_parse(NULL, &w, &err), -1);
}

static const struct at_case {
	const char *window;
	const char *tz;
	const char *t;
	int         inside;
	const char *when; /* inside: when it closes; outside: next opening */
} at_cases[] = {
    /* 2026-01-03 is a Saturday. */
    {"sat 01:00-05:00", "UTC", "2026-01-03T03:00:00Z", 1,
        "2026-01-03T05:00:00+00:00"},
    {"sat 01:00-05:00", "UTC", "2026-01-03T01:00:00Z", 1,
        "2026-01-03T05:00:00+00:00"},
    {"sat 01:00-05:00", "UTC", "2026-01-03T00:59:59Z", 0,
        "2026-01-03T01:00:00+00:00"},
    {"sat 01:00-05:00", "UTC", "2026-01-03T05:00:00Z", 0,
        "2026-01-10T01:00:00+00:00"},
    {"sat 01:00-05:00", "UTC", "2026-01-02T12:00:00Z", 0,
        "2026-01-03T01:00:00+00:00"},
    /* Crossing midnight: Saturday's window closes on Sunday. */
    {"sat,sun 22:00-02:00", "UTC", "2026-01-03T21:00:00Z", 0,
        "2026-01-03T22:00:00+00:00"},
    {"sat,sun 22:00-02:00", "UTC", "2026-01-03T23:00:00Z", 1,
        "2026-01-04T02:00:00+00:00"},
    {"sat,sun 22:00-02:00", "UTC", "2026-01-04T01:00:00Z", 1,
        "2026-01-04T02:00:00+00:00"},
    {"sat,sun 22:00-02:00", "UTC", "2026-01-04T02:00:00Z", 0,
        "2026-01-04T22:00:00+00:00"},
    {"sat,sun 22:00-02:00", "UTC", "2026-01-05T01:59:00Z", 1,
        "2026-01-05T02:00:00+00:00"},
    {"sat,sun 22:00-02:00", "UTC", "2026-01-05T03:00:00Z", 0,
        "2026-01-10T22:00:00+00:00"},
    /* A day not in the set does not open, even though it follows one. */
    {"sun 22:00-02:00", "UTC", "2026-01-05T23:00:00Z", 0,
        "2026-01-11T22:00:00+00:00"},
    /* Every day; a wall clock with an offset. */
    {"01:00-05:00", "Asia/Kolkata", "2025-12-31T20:00:00Z", 1,
        "2026-01-01T05:00:00+05:30"},
    {"01:00-05:00", "Asia/Kolkata", "2026-01-01T00:00:00+05:30", 0,
        "2026-01-01T01:00:00+05:30"},
    /* Berlin, spring-forward 2026-03-29: 01:00-05:00 lasts 3 hours. */
    {"01:00-05:00", "Europe/Berlin", "2026-03-29T01:00:00+01:00", 1,
        "2026-03-29T05:00:00+02:00"},
    {"01:00-05:00", "Europe/Berlin", "2026-03-29T04:59:00+02:00", 1,
        "2026-03-29T05:00:00+02:00"},
    /* A window starting in the skipped hour opens at its end. */
    {"02:30-04:00", "Europe/Berlin", "2026-03-29T01:59:00+01:00", 0,
        "2026-03-29T03:00:00+02:00"},
    {"02:30-04:00", "Europe/Berlin", "2026-03-29T03:10:00+02:00", 1,
        "2026-03-29T04:00:00+02:00"},
    /* One wholly inside the skipped hour does not open that day. */
    {"02:00-02:30", "Europe/Berlin", "2026-03-29T00:00:00+01:00", 0,
        "2026-03-30T02:00:00+02:00"},
    {"sun 02:00-02:30", "Europe/Berlin", "2026-03-29T00:00:00+01:00", 0,
        "2026-04-05T02:00:00+02:00"},
    /* Fall-back 2026-10-25: 01:00-05:00 lasts 5 hours. */
    {"01:00-05:00", "Europe/Berlin", "2026-10-25T02:30:00+01:00", 1,
        "2026-10-25T05:00:00+01:00"},
    {"01:00-05:00", "Europe/Berlin", "2026-10-25T00:59:00+02:00", 0,
        "2026-10-25T01:00:00+02:00"},
    /* A window ending in the repeated hour closes at its first
     * occurrence. */
    {"00:00-02:30", "Europe/Berlin", "2026-10-25T02:29:00+02:00", 1,
        "2026-10-25T02:30:00+02:00"},
    {"00:00-02:30", "Europe/Berlin", "2026-10-25T02:10:00+01:00", 0,
        "2026-10-26T00:00:00+01:00"},
    /* Crossing midnight into the DST change. */
    {"sat 22:00-03:30", "Europe/Berlin", "2026-03-29T03:15:00+02:00", 1,
        "2026-03-29T03:30:00+02:00"},
    {"sat 22:00-03:30", "America/New_York", "2026-11-01T01:30:00-05:00", 1,
        "2026-11-01T03:30:00-05:00"},
};

static void
test_inside_outside_and_next_open(void **state)
{
	const struct at_case *ac;
	struct vsm_window     w;
	struct vsm_err        err = {{0}};
	int64_t               end, next;
	size_t                i;
	int                   r;

	(void)state;
	for (i = 0; i < sizeof(at_cases) / sizeof(at_cases[0]); i++) {
		ac = &at_cases[i];
		if (vsm_window_parse(ac->window, &w, &err) == -1)
			fail_msg("'%s': %s", ac->window, err.msg);
		end = next = -1;
		if ((r = vsm_window_at(
		         &w, ac->tz, tu_at(ac->t), &end, &next, &err)) == -1)
			fail_msg("'%s' at %s: %s", ac->window, ac->t, err.msg);
		if (r != ac->inside)
			fail_msg("'%s' %s at %s: inside %d, want %d",
			    ac->window, ac->tz, ac->t, r, ac->inside);
		if (strcmp(tu_iso(ac->tz, r ? end : next), ac->when) != 0)
			fail_msg("'%s' %s at %s: got %s, want %s", ac->window,
			    ac->tz, ac->t, tu_iso(ac->tz, r ? end : next),
			    ac->when);
	}
}

/* Walking a week by "next open" and "end" visits every opening once. */
static void
test_walking_a_week_of_openings(void **state)
{
	static const char *const opens[] = {"2026-03-27T22:00:00+01:00",
	    "2026-03-28T22:00:00+01:00", "2026-03-29T22:00:00+02:00",
	    "2026-04-03T22:00:00+02:00"};
	static const char *const ends[] = {"2026-03-28T02:00:00+01:00",
	    "2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00",
	    "2026-04-04T02:00:00+02:00"};
	struct vsm_window        w;
	struct vsm_err           err;
	int64_t                  t = tu_at("2026-03-27T12:00:00Z"), end, next;
	size_t                   i;

	(void)state;
	/* 02:00 on 2026-03-29 is skipped: Saturday's window closes at 03:00. */
	assert_int_equal(vsm_window_parse("fri-sun 22:00-02:00", &w, &err), 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(
		    vsm_window_at(&w, "Europe/Berlin", t, &end, &next, &err),
		    0);
		assert_string_equal(tu_iso("Europe/Berlin", next), opens[i]);
		assert_int_equal(
		    vsm_window_at(&w, "Europe/Berlin", next, &end, &t, &err),
		    1);
		assert_string_equal(tu_iso("Europe/Berlin", end), ends[i]);
		t = end;
	}
}

static void
test_window_errors(void **state)
{
	struct vsm_window w;
	struct vsm_err    err;
	int64_t           end, next;

	(void)state;
	assert_int_equal(vsm_window_parse("sat 01:00-05:00", &w, &err), 0);
	assert_int_equal(
	    vsm_window_at(&w, "Nowhere/Land", 0, &end, &next, &err), -1);
	assert_non_null(strstr(err.msg, "unknown time zone"));
	assert_int_equal(
	    vsm_window_at(&w, "UTC", INT64_MAX / 4, &end, &next, &err), -1);
	w.wdays = 0;
	assert_int_equal(vsm_window_at(&w, "UTC", 0, &end, &next, &err), -1);
	assert_non_null(strstr(err.msg, "no day"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_windows_parse),
	    cmocka_unit_test(test_bad_windows_are_refused),
	    cmocka_unit_test(test_inside_outside_and_next_open),
	    cmocka_unit_test(test_walking_a_week_of_openings),
	    cmocka_unit_test(test_window_errors),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
