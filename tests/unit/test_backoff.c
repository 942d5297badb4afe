/* test_backoff.c: full-jitter backoff bounds and spread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sodium.h>

#include "backoff.h"

static void
test_delay_stays_within_base_times_two_to_the_attempt(void **state)
{
	unsigned attempt;
	int      i;

	for (attempt = 0; attempt < 6; attempt++)
		for (i = 0; i < 2000; i++)
			assert_true(vsm_backoff_delay(100, 60000, attempt) <=
			    (100u << attempt));
}

static void
test_delay_never_exceeds_the_cap(void **state)
{
	int i;

	for (i = 0; i < 2000; i++) {
		assert_true(vsm_backoff_delay(1000, 5000, 30) <= 5000);
		assert_true(vsm_backoff_delay(1000, 5000, 1000) <= 5000);
	}
}

/* Full jitter: delays spread over the whole window, from near 0 up. */
static void
test_delays_spread_over_the_whole_window(void **state)
{
	unsigned buckets[10] = {0};
	uint32_t d;
	int      i;

	for (i = 0; i < 10000; i++) {
		d = vsm_backoff_delay(1000, 60000, 0);
		assert_true(d <= 1000);
		buckets[d >= 1000 ? 9 : d / 100]++;
	}
	/* Each tenth of the window gets a fair share (expected 1000). */
	for (i = 0; i < 10; i++)
		assert_true(buckets[i] > 700);
}

static void
test_zero_base_means_no_wait(void **state)
{
	assert_int_equal(vsm_backoff_delay(0, 0, 5), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
	        test_delay_stays_within_base_times_two_to_the_attempt),
	    cmocka_unit_test(test_delay_never_exceeds_the_cap),
	    cmocka_unit_test(test_delays_spread_over_the_whole_window),
	    cmocka_unit_test(test_zero_base_means_no_wait),
	};

	if (sodium_init() < 0)
		return (1);
	return (cmocka_run_group_tests_name("backoff", tests, NULL, NULL));
}
