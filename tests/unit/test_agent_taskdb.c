/*
 * test_agent_taskdb.c: the record of task ids seen survives a reopen,
 * keeps the first result, prunes by age and count, and skips a torn line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "taskdb.h"

#define DAY (86400ull * 1000)
#define T0  (1700000000000ull)

struct fx {
	char dir[64];
	char path[128];
};

static int
setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/vsm-taskdb-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/tasks.log", fx->dir);
	*state = fx;
	return (0);
}

static int
teardown(void **state)
{
	struct fx *fx = *state;
	char       tmp[160];

	unlink(fx->path);
	snprintf(tmp, sizeof(tmp), "%s.tmp", fx->path);
	unlink(tmp);
	rmdir(fx->dir);
	free(fx);
	return (0);
}

static void
test_result_survives_reopen_and_first_one_wins(void **state)
{
	struct fx     *fx = *state;
	struct taskdb *db;
	uint8_t       *res;
	size_t         len;

	assert_int_equal(taskdb_open(fx->path, NULL, T0, &db, NULL), 0);
	assert_int_equal(taskdb_get(db, "abc1", NULL, NULL), TASKDB_NONE);
	assert_int_equal(taskdb_start(db, "abc1", T0, NULL), 0);
	assert_int_equal(taskdb_start(db, "abc1", T0, NULL), -1);
	assert_int_equal(taskdb_get(db, "abc1", NULL, NULL), TASKDB_RUNNING);
	assert_int_equal(
	    taskdb_finish(db, "abc1", (const uint8_t *)"\x01\x02", 2, T0, NULL),
	    0);
	assert_int_equal(
	    taskdb_finish(db, "abc1", (const uint8_t *)"zz", 2, T0, NULL), 0);
	taskdb_close(db);

	assert_int_equal(taskdb_open(fx->path, NULL, T0 + 1000, &db, NULL), 0);
	assert_int_equal(taskdb_get(db, "abc1", &res, &len), TASKDB_DONE);
	assert_int_equal(len, 2);
	assert_memory_equal(res, "\x01\x02", 2);
	free(res);
	taskdb_close(db);
}

static void
count_cb(void *arg, const char *id)
{
	(*(int *)arg)++;
}

static void
test_started_without_result_is_unfinished_after_reopen(void **state)
{
	struct fx     *fx = *state;
	struct taskdb *db;
	int            n = 0;

	assert_int_equal(taskdb_open(fx->path, NULL, T0, &db, NULL), 0);
	assert_int_equal(taskdb_start(db, "t1", T0, NULL), 0);
	assert_int_equal(taskdb_start(db, "t2", T0, NULL), 0);
	assert_int_equal(
	    taskdb_finish(db, "t2", (const uint8_t *)"x", 1, T0, NULL), 0);
	taskdb_close(db);
	assert_int_equal(taskdb_open(fx->path, NULL, T0, &db, NULL), 0);
	assert_int_equal(taskdb_unfinished(db, count_cb, &n), 1);
	assert_int_equal(n, 1);
	taskdb_close(db);
}

static void
test_old_entries_are_pruned(void **state)
{
	struct fx           *fx = *state;
	struct taskdb       *db;
	struct taskdb_limits lim = {.max_age_ms = 7 * DAY};

	assert_int_equal(taskdb_open(fx->path, &lim, T0, &db, NULL), 0);
	assert_int_equal(taskdb_start(db, "old", T0, NULL), 0);
	assert_int_equal(taskdb_start(db, "new", T0 + 6 * DAY, NULL), 0);
	taskdb_close(db);
	assert_int_equal(
	    taskdb_open(fx->path, &lim, T0 + 8 * DAY, &db, NULL), 0);
	assert_int_equal(taskdb_get(db, "old", NULL, NULL), TASKDB_NONE);
	assert_int_equal(taskdb_get(db, "new", NULL, NULL), TASKDB_RUNNING);
	assert_int_equal(taskdb_count(db), 1);
	taskdb_close(db);
}

static void
test_count_is_bounded_oldest_first(void **state)
{
	struct fx           *fx = *state;
	struct taskdb       *db;
	struct taskdb_limits lim = {.max_entries = 100};
	char                 id[32];
	int                  i;

	assert_int_equal(taskdb_open(fx->path, &lim, T0, &db, NULL), 0);
	for (i = 0; i < 3000; i++) {
		snprintf(id, sizeof(id), "task-%d", i);
		assert_int_equal(
		    taskdb_start(db, id, T0 + (uint64_t)i, NULL), 0);
	}
	assert_int_equal(taskdb_count(db), 100);
	assert_int_equal(taskdb_get(db, "task-0", NULL, NULL), TASKDB_NONE);
	assert_int_equal(
	    taskdb_get(db, "task-2999", NULL, NULL), TASKDB_RUNNING);
	taskdb_close(db);
	assert_int_equal(taskdb_open(fx->path, &lim, T0, &db, NULL), 0);
	assert_int_equal(taskdb_count(db), 100);
	assert_int_equal(
	    taskdb_get(db, "task-2900", NULL, NULL), TASKDB_RUNNING);
	taskdb_close(db);
}

/* Results live in the file: they must be found again after compactions. */
static void
test_results_are_read_back_after_compaction(void **state)
{
	struct fx           *fx = *state;
	struct taskdb       *db;
	struct taskdb_limits lim = {.max_entries = 100};
	char                 id[32], want[64];
	uint8_t             *res;
	size_t               len;
	int                  i, round;

	assert_int_equal(taskdb_open(fx->path, &lim, T0, &db, NULL), 0);
	/* 3000 lines for 100 entries: the file is rewritten as it goes. */
	for (i = 0; i < 1500; i++) {
		snprintf(id, sizeof(id), "task-%d", i);
		snprintf(want, sizeof(want), "result of task %d", i);
		assert_int_equal(
		    taskdb_start(db, id, T0 + (uint64_t)i, NULL), 0);
		assert_int_equal(taskdb_finish(db, id, (const uint8_t *)want,
		                     strlen(want), T0 + (uint64_t)i, NULL),
		    0);
	}
	for (round = 0; round < 2; round++) {
		for (i = 1400; i < 1500; i++) {
			snprintf(id, sizeof(id), "task-%d", i);
			snprintf(want, sizeof(want), "result of task %d", i);
			assert_int_equal(
			    taskdb_get(db, id, &res, &len), TASKDB_DONE);
			assert_non_null(res);
			assert_int_equal(len, strlen(want));
			assert_memory_equal(res, want, len);
			free(res);
		}
		assert_int_equal(
		    taskdb_get(db, "task-0", NULL, NULL), TASKDB_NONE);
		taskdb_close(db);
		assert_int_equal(
		    taskdb_open(fx->path, &lim, T0 + 1500, &db, NULL), 0);
	}
	taskdb_close(db);
}

static void
test_torn_last_line_is_ignored(void **state)
{
	struct fx     *fx = *state;
	struct taskdb *db;
	FILE          *fp;

	fp = fopen(fx->path, "w");
	assert_non_null(fp);
	fprintf(fp, "S %llu good\nR %llu good 0a\nS %llu torn",
	    (unsigned long long)T0, (unsigned long long)T0,
	    (unsigned long long)T0);
	fclose(fp);
	assert_int_equal(taskdb_open(fx->path, NULL, T0, &db, NULL), 0);
	assert_int_equal(taskdb_get(db, "good", NULL, NULL), TASKDB_DONE);
	assert_int_equal(taskdb_get(db, "torn", NULL, NULL), TASKDB_NONE);
	taskdb_close(db);
}

static void
test_bad_ids_are_refused(void **state)
{
	struct fx     *fx = *state;
	struct taskdb *db;
	char           longid[TASKDB_ID_MAX + 2];

	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	assert_int_equal(taskdb_open(fx->path, NULL, T0, &db, NULL), 0);
	assert_int_equal(taskdb_start(db, "", T0, NULL), -1);
	assert_int_equal(taskdb_start(db, "a b", T0, NULL), -1);
	assert_int_equal(taskdb_start(db, "a\nS 1 x", T0, NULL), -1);
	assert_int_equal(taskdb_start(db, longid, T0, NULL), -1);
	taskdb_close(db);
}

static void
test_hash_maps_back_to_the_id(void **state)
{
	struct fx     *fx = *state;
	struct taskdb *db;
	char           buf[TASKDB_ID_MAX + 1];

	assert_int_equal(taskdb_open(fx->path, NULL, T0, &db, NULL), 0);
	assert_int_equal(taskdb_start(db, "9f3c", T0, NULL), 0);
	assert_int_not_equal(taskdb_hash("9f3c"), 0);
	assert_int_equal(
	    taskdb_id_of(db, taskdb_hash("9f3c"), buf, sizeof(buf)), 0);
	assert_string_equal(buf, "9f3c");
	assert_int_equal(taskdb_id_of(db, 12345, buf, sizeof(buf)), -1);
	taskdb_close(db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_result_survives_reopen_and_first_one_wins, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        test_started_without_result_is_unfinished_after_reopen, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        test_old_entries_are_pruned, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_count_is_bounded_oldest_first, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_results_are_read_back_after_compaction, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_torn_last_line_is_ignored, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_bad_ids_are_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_hash_maps_back_to_the_id, setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
