/*
 * redis_bgsave.c: redis.bgsave, the guide's `redis-cli BGSAVE`, waited
 * for. BGSAVE forks before it replies, so rdb_bgsave_in_progress is 1
 * from its reply until the child is done; the module polls it until it
 * drops to 0 (or `timeout` passes: fail, the save goes on in the server)
 * and reports how the save ended. A save already running ("Background
 * save already in progress") is waited for instead. dry_run reports the
 * state and starts nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "redis_info.h"
#include "redis_modules.h"

#define REDIS_BGSAVE_POLL_MS 100
#define REDIS_BGSAVE_LOG_MS  10000 /* a "still saving" line this often */

static const struct param_spec redis_bgsave_params[] = {
    {.name = "timeout",
        .type = PARAM_DURATION,
        .min = 1000,
        .max = 24LL * 3600 * 1000,
        .def = "10m",
        .help = "how long to wait for the save to finish"},
    {.name = NULL},
};

struct redis_bgsave_state {
	long long lastsave;
	uint64_t  inprog;
	char      status[32]; /* rdb_last_bgsave_status */
	double    took_s;     /* rdb_last_bgsave_time_sec, -1: none yet */
};

/* LASTSAVE and the save fields of INFO persistence. 0 or -1 with err. */
static int
redis_bgsave_state(
    redisContext *c, struct redis_bgsave_state *s, struct vsm_err *err)
{
	redisReply *r;
	char       *info;
	int         ret = -1;

	if ((r = redis_cmd(c, REDIS_REPLY_INTEGER, err, "LASTSAVE", NULL)) ==
	    NULL)
		return (-1);
	s->lastsave = r->integer;
	freeReplyObject(r);
	if ((info = redis_info(c, "persistence", err)) == NULL)
		return (-1);
	if (redis_info_u64(info, "rdb_bgsave_in_progress", &s->inprog, err) ==
	        -1 ||
	    redis_info_str(info, "rdb_last_bgsave_status", s->status,
	        sizeof(s->status), err) == -1)
		goto out;
	if (redis_info_double(
	        info, "rdb_last_bgsave_time_sec", &s->took_s, NULL) == -1)
		s->took_s = -1;
	ret = 0;
out:
	free(info);
	return (ret);
}

/*
 * Start BGSAVE: 0 started, 1 one was already running, -1 with err for
 * any other answer.
 */
static int
redis_bgsave_start(redisContext *c, struct vsm_err *err)
{
	redisReply *r;

	if ((r = redis_cmd(c, REDIS_REPLY_STATUS, err, "BGSAVE", NULL)) !=
	    NULL) {
		freeReplyObject(r);
		return (0);
	}
	if (strstr(err->msg, "already in progress") != NULL)
		return (1);
	return (-1);
}

/*
 * Poll until rdb_bgsave_in_progress is 0 or timeout_ms passed; s holds
 * the last state read. 0 done, 1 timed out, -1 with err.
 */
static int
redis_bgsave_wait(struct task_ctx *ctx, redisContext *c, int64_t timeout_ms,
    struct redis_bgsave_state *s, struct vsm_err *err)
{
	struct timespec pause = {0, REDIS_BGSAVE_POLL_MS * 1000000L};
	int64_t         start = (int64_t)task_mono_ms(), next_log, now;

	next_log = start + REDIS_BGSAVE_LOG_MS;
	for (;;) {
		if (redis_bgsave_state(c, s, err) == -1)
			return (-1);
		if (s->inprog == 0)
			return (0);
		now = (int64_t)task_mono_ms();
		if (now - start >= timeout_ms)
			return (1);
		if (now >= next_log) {
			task_emit_log(ctx, "still saving after %llds",
			    (long long)((now - start) / 1000));
			next_log = now + REDIS_BGSAVE_LOG_MS;
		}
		nanosleep(&pause, NULL);
	}
}

static int
redis_bgsave_run(struct task_ctx *ctx, const struct task_params *p)
{
	redisContext             *c;
	struct redis_bgsave_state before, after;
	struct vsm_err            err;
	Vsm__TaskStatus           st;
	json_t                   *res = NULL;
	char                      summary[256];
	int64_t                   start, timeout_ms = params_num(p, "timeout");
	int                       already, waited, ret = -1;

	if ((c = redis_task_connect(ctx, 0, &err)) == NULL)
		return (task_finish_error(ctx, "%s", err.msg));
	if (redis_bgsave_state(c, &before, &err) == -1) {
		ret = task_finish_error(ctx, "%s", err.msg);
		goto out;
	}
	if (ctx->task->dry_run) {
		res = json_pack("{s:b, s:I, s:b, s:s}", "dry_run", 1,
		    "last_save", (json_int_t)before.lastsave,
		    "rdb_bgsave_in_progress", before.inprog != 0,
		    "rdb_last_bgsave_status", before.status);
		ret = task_finish(ctx, VSM__TASK_STATUS__TASK_OK,
		    before.inprog != 0
		        ? "dry run: a save is in progress; would wait for it"
		        : "dry run: would run BGSAVE and wait for it",
		    res, 0, NULL);
		goto out;
	}
	start = (int64_t)task_mono_ms();
	if ((already = redis_bgsave_start(c, &err)) == -1) {
		ret = task_finish_error(ctx, "%s", err.msg);
		goto out;
	}
	task_emit_log(ctx, "%s",
	    already != 0 ? "a background save is already in "
	                   "progress; waiting for it"
	                 : "BGSAVE started");
	if ((waited = redis_bgsave_wait(ctx, c, timeout_ms, &after, &err)) ==
	    -1) {
		ret = task_finish_error(ctx, "%s", err.msg);
		goto out;
	}
	res = json_pack("{s:b, s:b, s:b, s:I, s:I, s:b, s:s, s:I}", "dry_run",
	    0, "already_running", already != 0, "completed", waited == 0,
	    "duration_ms", (json_int_t)((int64_t)task_mono_ms() - start),
	    "last_save", (json_int_t)after.lastsave, "last_save_changed",
	    after.lastsave != before.lastsave, "rdb_last_bgsave_status",
	    after.status, "timeout_ms", (json_int_t)timeout_ms);
	if (res == NULL ||
	    (waited == 0 && after.took_s >= 0 &&
	        json_object_set_new(res, "rdb_last_bgsave_time_sec",
	            json_integer((json_int_t)after.took_s)) == -1)) {
		ret = task_finish_error(ctx, "out of memory");
		goto out;
	}
	if (waited == 1) {
		st = VSM__TASK_STATUS__TASK_FAIL;
		snprintf(summary, sizeof(summary),
		    "the save was still running after %llds (it goes on in "
		    "the server)",
		    (long long)(timeout_ms / 1000));
	} else if (strcmp(after.status, "ok") != 0) {
		st = VSM__TASK_STATUS__TASK_FAIL;
		snprintf(summary, sizeof(summary),
		    "the background save failed (rdb_last_bgsave_status: %s)",
		    after.status);
	} else {
		st = VSM__TASK_STATUS__TASK_OK;
		snprintf(summary, sizeof(summary), "%s in %lld ms",
		    already != 0 ? "the running save finished" : "saved",
		    (long long)((int64_t)task_mono_ms() - start));
	}
	ret = task_finish(ctx, st, summary, res, 0, NULL);
out:
	json_decref(res);
	redisFree(c);
	return (ret);
}

const struct task_module mod_redis_bgsave = {
    .name = "redis.bgsave",
    .params = redis_bgsave_params,
    .run = redis_bgsave_run,
};
