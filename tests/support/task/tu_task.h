/*
 * tu_task.h: run one task the way the agent does, for the module tests
 * (tests/integration/test_mod_*.c): a real runner (agent/runner.h), a real
 * vsm-task binary and an agent.yaml written for the test. Nothing is
 * mocked; the task's events are collected and handed back.
 */
#ifndef VSM_TU_TASK_H
#define VSM_TU_TASK_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "testutil.h"

#define TU_TASK_LINES_MAX 1024

struct tu_task_result {
	int     status; /* Vsm__TaskStatus */
	int     exit_code;
	char   *summary;
	char   *error;
	json_t *json; /* the result JSON; NULL when there was none */
	char   *lines[TU_TASK_LINES_MAX]; /* log lines, in order */
	size_t  nlines;
};

/*
 * Write DIR/agent.yaml (mode 0600): the keys every agent.yaml needs, then
 * extra_yaml (may be NULL) verbatim. path gets the file's path. 0 or -1.
 */
int tu_task_config(
    const char *dir, const char *extra_yaml, char *path, size_t len);

/*
 * Run module with params kv ("key", "value", ..., NULL; may be NULL)
 * through a runner started on binary bin (a vsm-task or vsm-task-FAMILY
 * path) with config_path as the agent's config (may be NULL), and wait
 * for its result (up to 180 s). 0 with out filled (tu_task_result_free),
 * or -1 when the task could not be started or never ended.
 */
int  tu_task_run(const char *bin, const char *config_path, const char *module,
     const char *const *kv, int dry_run, struct tu_task_result *out);
void tu_task_result_free(struct tu_task_result *r);
/*
 * tu_task_run for a task the controller fired inside a maintenance
 * window that closes at window_end_ms (Unix ms; Task.window_end_ms).
 */
int tu_task_run_window(const char *bin, const char *config_path,
    const char *module, const char *const *kv, int dry_run,
    uint64_t window_end_ms, struct tu_task_result *out);

/* "ok", "warn", "fail", "error", ... for a result status. */
const char *tu_task_status(int status);

/*
 * The path of binary name (e.g. "vsm-task-pg") in dir, into buf. Returns
 * buf.
 */
const char *tu_task_bin(
    const char *dir, const char *name, char *buf, size_t len);

/*
 * tu_task_assert.c: cmocka helpers (they fail the running test).
 */
struct CMUnitTest;

/* DIR/FMT..., from a ring of 16 buffers: a few can be used at once. */
const char *tu_path(const char *dir, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * The integer, number, boolean or string at key of o (o may be NULL); the
 * test fails when there is none or it has another type. tu_jtext's string
 * belongs to o.
 */
int64_t     tu_jint(json_t *o, const char *key);
double      tu_jnum(json_t *o, const char *key);
int         tu_jbool(json_t *o, const char *key);
const char *tu_jtext(json_t *o, const char *key);
/* Run module on bin: it must end error with a message holding needle. */
void tu_task_expect_error(const char *bin, const char *cfg, const char *module,
    const char *const *kv, const char *needle);
/*
 * Make dir a new directory (tu_mkdtemp), run the n tests as group name and
 * remove dir when they all passed (kept for a look when one failed).
 * The group's status, 1 when the directory cannot be made.
 */
int tu_task_main(const char *name, const struct CMUnitTest *tests, size_t n,
    char *dir, size_t len);
/* The same with the group's setup and teardown (cmocka fixtures). */
typedef int (*tu_fixture_fn)(void **);
int tu_task_main_fx(const char *name, const struct CMUnitTest *tests, size_t n,
    tu_fixture_fn setup, tu_fixture_fn teardown, char *dir, size_t len);

#endif /* VSM_TU_TASK_H */
