/*
 * taskdb.h: the agent's record of task ids seen (DESIGN.md 6: task ids
 * are idempotency keys).
 *
 * An append-only file of text lines in the data dir, fsync'd on every
 * write; its ids are loaded into a hash map at start, while the results
 * stay in the file and are read back when asked for:
 *
 *	S <unix-ms> <task-id>			the task was started
 *	R <unix-ms> <task-id> <hex>		its final TaskResult (packed)
 *
 * A task id seen again is never run again: when its result is known it is
 * re-reported, when it is still running it is ignored. The record is
 * bounded: entries older than max_age or beyond max_entries (oldest first)
 * are pruned, and the file is rewritten (temporary file, fsync, rename)
 * at open and whenever it holds more than twice the live entries. A torn
 * last line (a crash mid-write) is ignored. Thread-safe.
 */
#ifndef VSM_AGENT_TASKDB_H
#define VSM_AGENT_TASKDB_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define TASKDB_ID_MAX      128                   /* bytes in a task id */
#define TASKDB_RESULT_MAX  (32 * 1024)           /* bytes of a packed result */
#define TASKDB_AGE_DEFAULT (7ull * 86400 * 1000) /* ms */
#define TASKDB_MAX_DEFAULT 100000

enum taskdb_state {
	TASKDB_NONE = 0, /* never seen (or pruned) */
	TASKDB_RUNNING,  /* started, no result recorded */
	TASKDB_DONE,     /* finished: the result is kept */
};

struct taskdb_limits {
	uint64_t max_age_ms;  /* 0: TASKDB_AGE_DEFAULT */
	size_t   max_entries; /* 0: TASKDB_MAX_DEFAULT */
};

struct taskdb;

/*
 * Open (creating) the record at path and load it, pruning by the limits
 * as of now_ms. Returns 0 and *dbp, or -1 with err set.
 */
int  taskdb_open(const char *path, const struct taskdb_limits *lim,
     uint64_t now_ms, struct taskdb **dbp, struct vsm_err *err);
void taskdb_close(struct taskdb *db); /* NULL is a no-op */

/* 1 when id is usable as a key (1-128 printable bytes, no space). */
int taskdb_id_ok(const char *id);

/*
 * The state of id. With TASKDB_DONE and resp non-NULL, *resp gets a
 * malloc'd copy of the packed result (caller frees) and *lenp its size.
 */
enum taskdb_state taskdb_get(
    struct taskdb *db, const char *id, uint8_t **resp, size_t *lenp);

/*
 * Record durably that id starts now. Returns 0, or -1 with err set (bad
 * id, I/O error, already known): the task must not run then.
 */
int taskdb_start(
    struct taskdb *db, const char *id, uint64_t now_ms, struct vsm_err *err);

/*
 * Record durably the final result of id (len <= TASKDB_RESULT_MAX). An id
 * with a result keeps its first one: a second is ignored (returns 0).
 */
int taskdb_finish(struct taskdb *db, const char *id, const uint8_t *res,
    size_t len, uint64_t now_ms, struct vsm_err *err);

/*
 * Call fn for every id started but never finished (a task the last run
 * of the agent did not see to its end). Returns how many.
 */
size_t taskdb_unfinished(
    struct taskdb *db, void (*fn)(void *arg, const char *id), void *arg);

/* The spool's 64-bit task id of a task id string: nonzero. */
uint64_t taskdb_hash(const char *id);
/* Copy the id whose taskdb_hash is h into buf; 0, or -1 when unknown. */
int taskdb_id_of(struct taskdb *db, uint64_t h, char *buf, size_t len);

size_t taskdb_count(struct taskdb *db);

#endif /* VSM_AGENT_TASKDB_H */
