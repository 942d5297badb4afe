/*
 * test_replay.c: the sliding replay window (replay.h): what it accepts,
 * what it refuses and why, at the window's edge, across jumps, and near the
 * end of the counter space.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "replay.h"

#define W VSM_REPLAY_WINDOW

/* Accept one counter: check, then commit, both must say OK. */
static void
accept_one(struct vsm_replay *r, uint64_t ctr)
{
	assert_int_equal(vsm_replay_check(r, ctr, 1), VSM_REPLAY_OK);
	assert_int_equal(vsm_replay_commit(r, ctr, 1), VSM_REPLAY_OK);
}

/* Both check and commit refuse ctr with rc (and commit changes nothing). */
static void
refuse_one(struct vsm_replay *r, uint64_t ctr, enum vsm_replay_rc rc)
{
	struct vsm_replay before = *r;

	assert_int_equal(vsm_replay_check(r, ctr, 1), rc);
	assert_int_equal(vsm_replay_commit(r, ctr, 1), rc);
	assert_memory_equal(&before, r, sizeof(before));
}

static uint64_t
xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (*s);
}

static void
test_init_clears_a_dirty_window(void **state)
{
	struct vsm_replay r;

	memset(&r, 0xff, sizeof(r));
	vsm_replay_init(&r);
	assert_int_equal(r.top, 0);
	accept_one(&r, 0);
	accept_one(&r, 1);
}

static void
test_in_order_counters_are_accepted(void **state)
{
	struct vsm_replay r;
	uint64_t          i;

	vsm_replay_init(&r);
	for (i = 0; i < 3 * W; i++)
		accept_one(&r, i);
	assert_int_equal(r.top, 3 * W - 1);
}

static void
test_replayed_counter_is_refused_as_seen(void **state)
{
	struct vsm_replay r;

	vsm_replay_init(&r);
	accept_one(&r, 5);
	refuse_one(&r, 5, VSM_REPLAY_SEEN);
	accept_one(&r, 6);
	refuse_one(&r, 5, VSM_REPLAY_SEEN);
	refuse_one(&r, 6, VSM_REPLAY_SEEN);
}

static void
test_out_of_order_within_window_is_accepted_once(void **state)
{
	struct vsm_replay r;
	uint64_t          i;

	vsm_replay_init(&r);
	accept_one(&r, 1000);
	/* Everything below the top that the window covers, in reverse. */
	for (i = 999; i >= 1000 - 200; i--)
		accept_one(&r, i);
	for (i = 999; i >= 1000 - 200; i--)
		refuse_one(&r, i, VSM_REPLAY_SEEN);
	/* Untouched counters between stay acceptable. */
	accept_one(&r, 10);
	refuse_one(&r, 10, VSM_REPLAY_SEEN);
	assert_int_equal(r.top, 1000);
}

static void
test_counter_below_window_is_too_old(void **state)
{
	struct vsm_replay r;

	vsm_replay_init(&r);
	accept_one(&r, 10000);
	refuse_one(&r, 10000 - W - 1, VSM_REPLAY_TOO_OLD);
	refuse_one(&r, 10000 - W - 64, VSM_REPLAY_TOO_OLD);
	refuse_one(&r, 0, VSM_REPLAY_TOO_OLD);
}

static void
test_exact_window_edge_is_accepted_one_below_is_not(void **state)
{
	/* Tops at every offset in a word, so the edge falls everywhere. */
	static const uint64_t tops[] = {
	    W, W + 1, 64 * 100, 64 * 100 + 1, 64 * 100 + 63, 100000 + 17};
	struct vsm_replay r;
	size_t            i;
	uint64_t          t, j;

	for (i = 0; i < sizeof(tops) / sizeof(tops[0]); i++) {
		t = tops[i];
		vsm_replay_init(&r);
		accept_one(&r, t);
		if (t > W)
			refuse_one(&r, t - W - 1, VSM_REPLAY_TOO_OLD);
		accept_one(&r, t - W);
		refuse_one(&r, t - W, VSM_REPLAY_SEEN);
		/* The whole window is usable, each counter once. */
		for (j = t - W + 1; j < t; j++)
			accept_one(&r, j);
		for (j = t - W; j <= t; j++)
			refuse_one(&r, j, VSM_REPLAY_SEEN);
		assert_int_equal(r.top, t);
		/* One step up and the old edge falls out. */
		accept_one(&r, t + 1);
		refuse_one(&r, t - W, VSM_REPLAY_TOO_OLD);
		refuse_one(&r, t + 1 - W, VSM_REPLAY_SEEN);
	}
}

/*
 * Fill the whole window below `base`, then move the top up by `jump`:
 * counters above the old top were never seen and must be accepted even
 * though their bitmap words held old counters; old ones are refused.
 */
static void
jump_and_check(uint64_t base, uint64_t jump)
{
	struct vsm_replay r;
	uint64_t          j, top = base + jump;

	vsm_replay_init(&r);
	for (j = base - W; j <= base; j++)
		accept_one(&r, j);
	accept_one(&r, top);
	for (j = top - 1; j > base && top - j <= W; j--)
		assert_int_equal(vsm_replay_check(&r, j, 1), VSM_REPLAY_OK);
	for (j = base - W; j <= base; j++)
		assert_int_equal(vsm_replay_check(&r, j, 1),
		    top - j > W ? VSM_REPLAY_TOO_OLD : VSM_REPLAY_SEEN);
	/* And the accepted ones really commit, once. */
	for (j = top - 1; j > base && top - j <= W; j--)
		accept_one(&r, j);
	for (j = top - 1; j > base && top - j <= W; j--)
		refuse_one(&r, j, VSM_REPLAY_SEEN);
}

static void
test_jump_beyond_top_clears_old_bits(void **state)
{
	static const uint64_t jumps[] = {1, 63, 64, 65, 200, 64 * 62, 64 * 63,
	    64 * 63 + 1, 64 * 64, 64 * 64 + 1, 64 * 65, 64 * 200};
	size_t                i;

	for (i = 0; i < sizeof(jumps) / sizeof(jumps[0]); i++) {
		jump_and_check(10000, jumps[i]);
		jump_and_check(10000 + 63, jumps[i]);
	}
}

static void
test_far_jump_leaves_no_old_counter_seen(void **state)
{
	struct vsm_replay r;
	uint64_t          j, top = UINT64_C(1) << 40;

	vsm_replay_init(&r);
	for (j = 0; j < 5000; j++)
		accept_one(&r, j);
	accept_one(&r, top);
	/* Counters just below the new top were never seen. */
	for (j = top - W; j < top; j++)
		assert_int_equal(vsm_replay_check(&r, j, 1), VSM_REPLAY_OK);
	refuse_one(&r, 4999, VSM_REPLAY_TOO_OLD);
	refuse_one(&r, 0, VSM_REPLAY_TOO_OLD);
	refuse_one(&r, top - W - 1, VSM_REPLAY_TOO_OLD);
	accept_one(&r, top - 1);
	accept_one(&r, top - W);
}

static void
test_range_is_checked_and_committed_whole(void **state)
{
	struct vsm_replay r;
	uint64_t          j;

	vsm_replay_init(&r);
	assert_int_equal(vsm_replay_check(&r, 100, 5), VSM_REPLAY_OK);
	assert_int_equal(vsm_replay_commit(&r, 100, 5), VSM_REPLAY_OK);
	assert_int_equal(r.top, 104);
	for (j = 100; j < 105; j++)
		refuse_one(&r, j, VSM_REPLAY_SEEN);
	assert_int_equal(vsm_replay_check(&r, 100, 5), VSM_REPLAY_SEEN);
	assert_int_equal(vsm_replay_check(&r, 104, 2), VSM_REPLAY_SEEN);
	accept_one(&r, 99);
	accept_one(&r, 105);

	/* A range wider than the window, in one go. */
	assert_int_equal(vsm_replay_commit(&r, 1000, 2 * W), VSM_REPLAY_OK);
	assert_int_equal(r.top, 1000 + 2 * W - 1);
	refuse_one(&r, 1000 + 2 * W - 1 - W, VSM_REPLAY_SEEN);
	refuse_one(&r, 1000 + 2 * W - 2 - W, VSM_REPLAY_TOO_OLD);
}

static void
test_range_overlapping_seen_counter_marks_nothing(void **state)
{
	struct vsm_replay r, before;
	uint64_t          j;

	vsm_replay_init(&r);
	accept_one(&r, 10);
	before = r;
	assert_int_equal(vsm_replay_check(&r, 8, 5), VSM_REPLAY_SEEN);
	assert_int_equal(vsm_replay_commit(&r, 8, 5), VSM_REPLAY_SEEN);
	assert_memory_equal(&before, &r, sizeof(r));
	assert_int_equal(r.top, 10);
	for (j = 8; j < 13; j++)
		if (j != 10)
			accept_one(&r, j);

	/* The same for a range whose start fell below the window. */
	vsm_replay_init(&r);
	accept_one(&r, 10000);
	before = r;
	assert_int_equal(
	    vsm_replay_commit(&r, 10000 - W - 1, 3), VSM_REPLAY_TOO_OLD);
	assert_memory_equal(&before, &r, sizeof(r));
	accept_one(&r, 10000 - W);
	accept_one(&r, 10000 - W + 1);
}

static void
test_counter_max_is_refused_as_limit(void **state)
{
	struct vsm_replay r, before;

	vsm_replay_init(&r);
	refuse_one(&r, UINT64_MAX, VSM_REPLAY_LIMIT);
	/* A range that ends on UINT64_MAX marks nothing. */
	before = r;
	assert_int_equal(
	    vsm_replay_check(&r, UINT64_MAX - 2, 3), VSM_REPLAY_LIMIT);
	assert_int_equal(
	    vsm_replay_commit(&r, UINT64_MAX - 2, 3), VSM_REPLAY_LIMIT);
	assert_memory_equal(&before, &r, sizeof(r));
	accept_one(&r, 7);
	/* Still refused with the top just below it. */
	accept_one(&r, UINT64_MAX - 1);
	refuse_one(&r, UINT64_MAX, VSM_REPLAY_LIMIT);
}

static void
test_range_overflow_and_empty_range_are_refused(void **state)
{
	struct vsm_replay r, before;

	vsm_replay_init(&r);
	accept_one(&r, 3);
	before = r;
	/* 2..2+UINT64_MAX-1 wraps; refused as a whole, not walked. */
	assert_int_equal(vsm_replay_check(&r, 2, UINT64_MAX), VSM_REPLAY_LIMIT);
	assert_int_equal(
	    vsm_replay_commit(&r, 2, UINT64_MAX), VSM_REPLAY_LIMIT);
	assert_int_equal(
	    vsm_replay_check(&r, UINT64_MAX - 1, 3), VSM_REPLAY_LIMIT);
	assert_int_equal(vsm_replay_check(&r, 4, 0), VSM_REPLAY_LIMIT);
	assert_int_equal(vsm_replay_commit(&r, 4, 0), VSM_REPLAY_LIMIT);
	assert_memory_equal(&before, &r, sizeof(r));
	accept_one(&r, 4);
}

static void
test_window_near_2_64_accepts_counters_below_top(void **state)
{
	struct vsm_replay r;
	uint64_t          top = UINT64_MAX - 10; /* 2^64 - 11 */

	vsm_replay_init(&r);
	accept_one(&r, top);
	accept_one(&r, top - 10); /* 2^64 - 21 */
	refuse_one(&r, top - 10, VSM_REPLAY_SEEN);
	accept_one(&r, top - 1);
	accept_one(&r, top - W);
	refuse_one(&r, top - W - 1, VSM_REPLAY_TOO_OLD);
	refuse_one(&r, 0, VSM_REPLAY_TOO_OLD);
	refuse_one(&r, top, VSM_REPLAY_SEEN);
	accept_one(&r, UINT64_MAX - 1);
	refuse_one(&r, UINT64_MAX, VSM_REPLAY_LIMIT);
	refuse_one(&r, top - 10, VSM_REPLAY_SEEN);
}

static void
test_counter_zero_is_accepted_once_on_fresh_window(void **state)
{
	struct vsm_replay r;

	vsm_replay_init(&r);
	accept_one(&r, 0);
	refuse_one(&r, 0, VSM_REPLAY_SEEN);
	accept_one(&r, 1);
	refuse_one(&r, 0, VSM_REPLAY_SEEN);

	/* Zero arriving after a later counter is still fresh. */
	vsm_replay_init(&r);
	accept_one(&r, 3);
	accept_one(&r, 0);
	refuse_one(&r, 0, VSM_REPLAY_SEEN);
}

/*
 * Random counters and ranges against a plain model of the contract: a
 * counter is accepted when above the top, or within W below it and unseen.
 */
#define MODEL_SPAN (UINT64_C(1) << 23)

static uint8_t model_seen[MODEL_SPAN / 8];

static enum vsm_replay_rc
model_one(uint64_t top, uint64_t ctr)
{
	if (ctr > top)
		return (VSM_REPLAY_OK);
	if (top - ctr > W)
		return (VSM_REPLAY_TOO_OLD);
	if (model_seen[ctr / 8] & (1 << (ctr % 8)))
		return (VSM_REPLAY_SEEN);
	return (VSM_REPLAY_OK);
}

static void
test_random_traffic_matches_model(void **state)
{
	struct vsm_replay  r;
	enum vsm_replay_rc want;
	uint64_t           s = 0x9e3779b97f4a7c15, top = 0, ctr, n, i, k, x;
	int                ok = 0, seen = 0, old = 0;

	memset(model_seen, 0, sizeof(model_seen));
	vsm_replay_init(&r);
	for (k = 0; k < 400000; k++) {
		x = xorshift(&s);
		if (x % 1000 == 0)
			ctr = top + 1 + x % 9000; /* jump */
		else if (top > W + 200)
			ctr = top - W - 200 + (x >> 20) % (W + 400);
		else
			ctr = (x >> 20) % (W + 400);
		n = (x >> 8) % 8 == 0 ? 1 + (x >> 12) % 6 : 1;
		if (ctr + n >= MODEL_SPAN)
			break;
		want = VSM_REPLAY_OK;
		for (i = 0; i < n && want == VSM_REPLAY_OK; i++)
			want = model_one(top, ctr + i);
		assert_int_equal(vsm_replay_check(&r, ctr, n), want);
		assert_int_equal(vsm_replay_commit(&r, ctr, n), want);
		if (want == VSM_REPLAY_OK) {
			for (i = 0; i < n; i++)
				model_seen[(ctr + i) / 8] |=
				    (uint8_t)(1 << ((ctr + i) % 8));
			if (ctr + n - 1 > top)
				top = ctr + n - 1;
			ok++;
		} else if (want == VSM_REPLAY_SEEN)
			seen++;
		else
			old++;
		assert_int_equal(r.top, top);
	}
	/* The walk exercised every outcome, many times. */
	assert_true(ok > 1000 && seen > 1000 && old > 1000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init_clears_a_dirty_window),
	    cmocka_unit_test(test_in_order_counters_are_accepted),
	    cmocka_unit_test(test_replayed_counter_is_refused_as_seen),
	    cmocka_unit_test(test_out_of_order_within_window_is_accepted_once),
	    cmocka_unit_test(test_counter_below_window_is_too_old),
	    cmocka_unit_test(
	        test_exact_window_edge_is_accepted_one_below_is_not),
	    cmocka_unit_test(test_jump_beyond_top_clears_old_bits),
	    cmocka_unit_test(test_far_jump_leaves_no_old_counter_seen),
	    cmocka_unit_test(test_range_is_checked_and_committed_whole),
	    cmocka_unit_test(test_range_overlapping_seen_counter_marks_nothing),
	    cmocka_unit_test(test_counter_max_is_refused_as_limit),
	    cmocka_unit_test(test_range_overflow_and_empty_range_are_refused),
	    cmocka_unit_test(test_window_near_2_64_accepts_counters_below_top),
	    cmocka_unit_test(
	        test_counter_zero_is_accepted_once_on_fresh_window),
	    cmocka_unit_test(test_random_traffic_matches_model),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
