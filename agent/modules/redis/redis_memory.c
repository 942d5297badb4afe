/*
 * redis_memory.c: redis.memory, the figures of INFO memory (the guide's
 * `redis-cli info memory`). Status: used percent of maxmemory against
 * warn_pct/fail_pct when maxmemory is set, and the fragmentation ratio
 * (in percent) against frag_warn_pct/frag_fail_pct once the bytes it
 * wastes (rss - used) reach frag_ignore: a small Redis always shows a
 * high ratio that means nothing, as Redis's own active-defrag-ignore-bytes
 * knows. The worse of the two wins.
 */
#include <stdio.h>

#include "redis_info.h"
#include "redis_modules.h"

static const struct param_spec redis_memory_params[] = {
    PARAM_THRESHOLDS(100, "80", "90", "used percent of maxmemory"),
    {.name = "frag_warn_pct",
        .type = PARAM_INT,
        .min = 100,
        .max = 10000,
        .def = "150",
        .help = "fragmentation ratio in percent for warn"},
    {.name = "frag_fail_pct",
        .type = PARAM_INT,
        .min = 100,
        .max = 10000,
        .def = "300",
        .help = "fragmentation ratio in percent for fail"},
    {.name = "frag_ignore",
        .type = PARAM_SIZE,
        .max = (int64_t)1 << 50,
        .def = "100MiB",
        .help = "fragmentation below this many wasted bytes is ignored"},
    {.name = NULL},
};

/* The used-percent pair, then the fragmentation pair. */
static int
redis_memory_validate(
    struct task_ctx *ctx, const struct task_params *p, struct vsm_err *err)
{
	if (params_check_thresholds(ctx, p, err) == -1)
		return (-1);
	return (params_check_order(p, "frag_warn_pct", "frag_fail_pct", err));
}

static int
redis_memory_run(struct task_ctx *ctx, const struct task_params *p)
{
	redisContext    *c;
	struct redis_mem m;
	struct vsm_err   err;
	Vsm__TaskStatus  st = VSM__TASK_STATUS__TASK_OK, fst;
	json_t          *res = NULL;
	char             summary[256], pct[32];
	int              frag_checked, ret = -1;

	if ((c = redis_task_connect(ctx, 0, &err)) == NULL)
		return (task_finish_error(ctx, "%s", err.msg));
	if (redis_mem_read(c, &m, &err) == -1) {
		ret = task_finish_error(ctx, "%s", err.msg);
		goto out;
	}
	if (m.maxmemory > 0)
		st = task_threshold(m.pct, (double)params_num(p, "warn_pct"),
		    (double)params_num(p, "fail_pct"));
	frag_checked = m.used > 0 && m.rss > m.used &&
	    m.rss - m.used >= (uint64_t)params_num(p, "frag_ignore");
	if (frag_checked) {
		fst = task_threshold(m.frag * 100.0,
		    (double)params_num(p, "frag_warn_pct"),
		    (double)params_num(p, "frag_fail_pct"));
		st = task_status_worse(st, fst);
	}
	if ((res = redis_mem_json(&m)) == NULL ||
	    json_object_set_new(res, "fragmentation_checked",
	        json_boolean(frag_checked)) == -1) {
		ret = task_finish_error(ctx, "out of memory");
		goto out;
	}
	if (m.maxmemory > 0)
		snprintf(pct, sizeof(pct), "%.1f%% of maxmemory", m.pct);
	else
		snprintf(pct, sizeof(pct), "no maxmemory");
	snprintf(summary, sizeof(summary),
	    "used %llu bytes (%s), rss %llu, fragmentation %.2f",
	    (unsigned long long)m.used, pct, (unsigned long long)m.rss, m.frag);
	ret = task_finish(ctx, st, summary, res, 0, NULL);
out:
	json_decref(res);
	redisFree(c);
	return (ret);
}

const struct task_module mod_redis_memory = {
    .name = "redis.memory",
    .params = redis_memory_params,
    .validate = redis_memory_validate,
    .run = redis_memory_run,
};
