/*
 * test_map.c: the 64-bit key hash map (map.h): lookups, replacement,
 * growth, backward-shift deletion and reuse after clearing, checked
 * against a plain array model under random traffic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "map.h"

/* A bijection on 64 bits (splitmix64's finaliser): distinct, spread keys. */
static uint64_t
mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return (z ^ (z >> 31));
}

/* A distinct non-NULL value for each key. */
static void *
val_of(uint64_t key)
{
	return ((void *)(uintptr_t)((key << 1) | 1));
}

static uint64_t
xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (*s);
}

/* The table stays a power of two and below its load limit. */
static void
assert_sane(const struct vsm_map *m)
{
	size_t i, used = 0;

	if (m->cap == 0) {
		assert_int_equal(m->len, 0);
		return;
	}
	assert_int_equal(m->cap & (m->cap - 1), 0);
	assert_true(m->len * 4 <= m->cap * 3);
	for (i = 0; i < m->cap; i++)
		if (m->keys[i] != 0)
			used++;
	assert_int_equal(used, m->len);
}

static void
test_empty_map_finds_nothing(void **state)
{
	struct vsm_map m;

	vsm_map_init(&m);
	assert_int_equal(m.len, 0);
	assert_null(vsm_map_get(&m, 1));
	assert_null(vsm_map_get(&m, UINT64_MAX));
	assert_null(vsm_map_del(&m, 1));
	assert_int_equal(m.len, 0);
	vsm_map_clear(&m);
}

static void
test_put_get_del_round_trip(void **state)
{
	struct vsm_map m;
	int            a, b;

	vsm_map_init(&m);
	assert_int_equal(vsm_map_put(&m, 7, &a), 0);
	assert_int_equal(vsm_map_put(&m, UINT64_MAX, &b), 0);
	assert_int_equal(m.len, 2);
	assert_ptr_equal(vsm_map_get(&m, 7), &a);
	assert_ptr_equal(vsm_map_get(&m, UINT64_MAX), &b);
	assert_null(vsm_map_get(&m, 8));
	assert_ptr_equal(vsm_map_del(&m, 7), &a);
	assert_int_equal(m.len, 1);
	assert_null(vsm_map_get(&m, 7));
	assert_ptr_equal(vsm_map_get(&m, UINT64_MAX), &b);
	assert_ptr_equal(vsm_map_del(&m, UINT64_MAX), &b);
	assert_int_equal(m.len, 0);
	assert_sane(&m);
	vsm_map_clear(&m);
}

static void
test_replace_updates_value_and_keeps_len(void **state)
{
	struct vsm_map m;
	int            a, b, c;

	vsm_map_init(&m);
	assert_int_equal(vsm_map_put(&m, 42, &a), 0);
	assert_int_equal(vsm_map_put(&m, 43, &c), 0);
	assert_int_equal(vsm_map_put(&m, 42, &b), 0);
	assert_int_equal(m.len, 2);
	assert_ptr_equal(vsm_map_get(&m, 42), &b);
	assert_ptr_equal(vsm_map_get(&m, 43), &c);
	assert_sane(&m);
	/* One deletion removes it: there was only ever one entry. */
	assert_ptr_equal(vsm_map_del(&m, 42), &b);
	assert_null(vsm_map_get(&m, 42));
	assert_null(vsm_map_del(&m, 42));
	assert_int_equal(m.len, 1);
	vsm_map_clear(&m);
}

/*
 * Nothing in map.h forbids a NULL value, so replacing one must not count
 * a second entry either.
 */
static void
test_replacing_a_null_value_keeps_len(void **state)
{
	struct vsm_map m;
	int            a;
	size_t         len[4];
	void          *got;

	vsm_map_init(&m);
	assert_int_equal(vsm_map_put(&m, 5, NULL), 0);
	len[0] = m.len;
	assert_int_equal(vsm_map_put(&m, 5, NULL), 0);
	len[1] = m.len;
	assert_int_equal(vsm_map_put(&m, 5, &a), 0);
	len[2] = m.len;
	got = vsm_map_del(&m, 5);
	len[3] = m.len;
	vsm_map_clear(&m);
	assert_ptr_equal(got, &a);
	assert_int_equal(len[0], 1);
	assert_int_equal(len[1], 1);
	assert_int_equal(len[2], 1);
	assert_int_equal(len[3], 0);
}

static void
test_key_zero_is_refused(void **state)
{
	struct vsm_map m;
	int            a;

	vsm_map_init(&m);
	assert_int_equal(vsm_map_put(&m, 0, &a), -1);
	assert_int_equal(m.len, 0);
	assert_null(vsm_map_get(&m, 0));
	/* Zero marks an empty slot: it never matches one. */
	assert_int_equal(vsm_map_put(&m, 1, &a), 0);
	assert_int_equal(vsm_map_put(&m, 0, &a), -1);
	assert_null(vsm_map_get(&m, 0));
	assert_null(vsm_map_del(&m, 0));
	assert_int_equal(m.len, 1);
	assert_ptr_equal(vsm_map_get(&m, 1), &a);
	assert_sane(&m);
	vsm_map_clear(&m);
}

static void
grow_and_check(uint64_t (*keyf)(uint64_t), uint64_t n)
{
	struct vsm_map m;
	uint64_t       i;

	vsm_map_init(&m);
	for (i = 1; i <= n; i++) {
		assert_int_equal(vsm_map_put(&m, keyf(i), val_of(keyf(i))), 0);
		if ((i & (i - 1)) == 0)
			assert_sane(&m);
	}
	assert_int_equal(m.len, n);
	assert_sane(&m);
	for (i = 1; i <= n; i++)
		assert_ptr_equal(vsm_map_get(&m, keyf(i)), val_of(keyf(i)));
	assert_null(vsm_map_get(&m, keyf(n + 1)));
	vsm_map_clear(&m);
}

static uint64_t
ident(uint64_t i)
{
	return (i);
}

static uint64_t
spaced(uint64_t i)
{
	/* Multiples of a large power of two: low bits all equal. */
	return (i << 32);
}

static void
test_growth_keeps_every_sequential_key(void **state)
{
	grow_and_check(ident, 100000);
}

static void
test_growth_keeps_every_random_key(void **state)
{
	grow_and_check(mix, 100000);
}

static void
test_growth_keeps_keys_differing_only_in_high_bits(void **state)
{
	grow_and_check(spaced, 20000);
}

static void
test_delete_every_third_keeps_the_rest_findable(void **state)
{
	struct vsm_map m;
	uint64_t       i, n = 10000, k;

	vsm_map_init(&m);
	for (i = 1; i <= n; i++)
		assert_int_equal(vsm_map_put(&m, mix(i), val_of(mix(i))), 0);
	for (i = 3; i <= n; i += 3)
		assert_ptr_equal(vsm_map_del(&m, mix(i)), val_of(mix(i)));
	assert_int_equal(m.len, n - n / 3);
	assert_sane(&m);
	for (i = 1; i <= n; i++) {
		k = mix(i);
		if (i % 3 == 0)
			assert_null(vsm_map_get(&m, k));
		else
			assert_ptr_equal(vsm_map_get(&m, k), val_of(k));
	}
	/* The same with dense sequential keys. */
	vsm_map_clear(&m);
	for (i = 1; i <= n; i++)
		assert_int_equal(vsm_map_put(&m, i, val_of(i)), 0);
	for (i = 3; i <= n; i += 3)
		assert_ptr_equal(vsm_map_del(&m, i), val_of(i));
	for (i = 1; i <= n; i++)
		if (i % 3 == 0)
			assert_null(vsm_map_get(&m, i));
		else
			assert_ptr_equal(vsm_map_get(&m, i), val_of(i));
	vsm_map_clear(&m);
}

static void
test_del_of_absent_key_returns_null_and_keeps_len(void **state)
{
	struct vsm_map m;
	uint64_t       i;

	vsm_map_init(&m);
	for (i = 1; i <= 100; i++)
		assert_int_equal(vsm_map_put(&m, i, val_of(i)), 0);
	assert_null(vsm_map_del(&m, 101));
	assert_null(vsm_map_del(&m, mix(12345)));
	assert_int_equal(m.len, 100);
	assert_ptr_equal(vsm_map_del(&m, 50), val_of(50));
	assert_null(vsm_map_del(&m, 50));
	assert_int_equal(m.len, 99);
	for (i = 1; i <= 100; i++)
		if (i != 50)
			assert_ptr_equal(vsm_map_get(&m, i), val_of(i));
	vsm_map_clear(&m);
}

static void
test_clear_then_reuse(void **state)
{
	struct vsm_map m;
	uint64_t       i;

	vsm_map_init(&m);
	for (i = 1; i <= 1000; i++)
		assert_int_equal(vsm_map_put(&m, i, val_of(i)), 0);
	vsm_map_clear(&m);
	assert_int_equal(m.len, 0);
	assert_int_equal(m.cap, 0);
	assert_null(m.keys);
	assert_null(m.vals);
	assert_null(vsm_map_get(&m, 1));
	assert_null(vsm_map_del(&m, 1));
	for (i = 1; i <= 1000; i++)
		assert_int_equal(vsm_map_put(&m, i + 5000, val_of(i)), 0);
	assert_int_equal(m.len, 1000);
	assert_null(vsm_map_get(&m, 1));
	assert_ptr_equal(vsm_map_get(&m, 5001), val_of(1));
	vsm_map_clear(&m);
	vsm_map_clear(&m); /* clearing an empty map is fine */
}

/*
 * Random puts, replacements and deletions over a small key set at a high
 * load factor, so that probe runs are long and wrap around the table end;
 * the map must agree with an array after every step.
 */
static void
random_traffic(uint64_t nkeys, uint64_t ops, unsigned put_pct)
{
	struct vsm_map m;
	void         **model;
	uint64_t       s = 0x2545f4914f6cdd1d, x, i, k, len = 0, op;

	assert_non_null(model = calloc(nkeys + 1, sizeof(*model)));
	vsm_map_init(&m);
	for (op = 0; op < ops; op++) {
		x = xorshift(&s);
		i = 1 + (x >> 16) % nkeys;
		k = mix(i);
		if (x % 100 < put_pct) {
			assert_int_equal(
			    vsm_map_put(&m, k, (void *)(x | 1)), 0);
			if (model[i] == NULL)
				len++;
			model[i] = (void *)(x | 1);
		} else {
			assert_ptr_equal(vsm_map_del(&m, k), model[i]);
			if (model[i] != NULL)
				len--;
			model[i] = NULL;
		}
		assert_int_equal(m.len, len);
		if (op % 997 == 0) {
			assert_sane(&m);
			for (i = 1; i <= nkeys; i++)
				assert_ptr_equal(
				    vsm_map_get(&m, mix(i)), model[i]);
		}
	}
	vsm_map_clear(&m);
	free(model);
}

static void
test_random_traffic_matches_model(void **state)
{
	random_traffic(2000, 300000, 70);
	random_traffic(12, 20000, 50);
	random_traffic(20000, 200000, 55);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty_map_finds_nothing),
	    cmocka_unit_test(test_put_get_del_round_trip),
	    cmocka_unit_test(test_replace_updates_value_and_keeps_len),
	    cmocka_unit_test(test_replacing_a_null_value_keeps_len),
	    cmocka_unit_test(test_key_zero_is_refused),
	    cmocka_unit_test(test_growth_keeps_every_sequential_key),
	    cmocka_unit_test(test_growth_keeps_every_random_key),
	    cmocka_unit_test(
	        test_growth_keeps_keys_differing_only_in_high_bits),
	    cmocka_unit_test(test_delete_every_third_keeps_the_rest_findable),
	    cmocka_unit_test(test_del_of_absent_key_returns_null_and_keeps_len),
	    cmocka_unit_test(test_clear_then_reuse),
	    cmocka_unit_test(test_random_traffic_matches_model),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
