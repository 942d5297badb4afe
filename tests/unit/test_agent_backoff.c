/*
 * test_agent_backoff.c: reconnect delays grow exponentially up to the cap
 * and are drawn uniformly from [0, ceiling] (full jitter).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent_backoff.h"

static void
test_ceiling_doubles_up_to_the_cap(void **state)
{
	struct backoff b;
	uint64_t       want[] = {100, 200, 400, 800, 1000, 1000, 1000};
	size_t         i;

	backoff_init(&b, 100, 1000);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(backoff_ceiling(&b), want[i]);
		backoff_next(&b);
	}
}

static void
test_delay_never_exceeds_the_ceiling(void **state)
{
	struct backoff b;
	uint64_t       ceil, d;
	int            i;

	backoff_init(&b, 50, 30000);
	for (i = 0; i < 10000; i++) {
		ceil = backoff_ceiling(&b);
		d = backoff_next(&b);
		assert_true(d <= ceil);
	}
	assert_int_equal(backoff_ceiling(&b), 30000);
}

static void
test_delays_are_jittered_over_the_whole_range(void **state)
{
	struct backoff b;
	uint64_t       d, lo = UINT64_MAX, hi = 0;
	int            i;

	backoff_init(&b, 10000, 10000);
	for (i = 0; i < 2000; i++) {
		d = backoff_next(&b);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	/* Full jitter: close to 0 and close to the cap both happen. */
	assert_true(lo < 1000);
	assert_true(hi > 9000);
}

static void
test_reset_starts_again_at_base(void **state)
{
	struct backoff b;
	int            i;

	backoff_init(&b, 100, 100000);
	for (i = 0; i < 8; i++)
		backoff_next(&b);
	assert_true(backoff_ceiling(&b) > 100);
	backoff_reset(&b);
	assert_int_equal(backoff_ceiling(&b), 100);
}

static void
test_huge_attempts_do_not_overflow(void **state)
{
	struct backoff b;
	int            i;

	backoff_init(&b, 1000, UINT32_MAX);
	for (i = 0; i < 200; i++)
		assert_true(backoff_next(&b) <= UINT32_MAX);
	assert_true(backoff_ceiling(&b) == UINT32_MAX);
	assert_true(backoff_ceiling(&b) >= 1000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ceiling_doubles_up_to_the_cap),
	    cmocka_unit_test(test_delay_never_exceeds_the_ceiling),
	    cmocka_unit_test(test_delays_are_jittered_over_the_whole_range),
	    cmocka_unit_test(test_reset_starts_again_at_base),
	    cmocka_unit_test(test_huge_attempts_do_not_overflow),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
