/*
 * sys_health.c: sys.health, the guide's daily health check in one task
 * (docs/modules.md, "Health"), adapted to what the host runs:
 *
 *   disk      every filesystem's use           (df -h)
 *   memory    MemAvailable against MemTotal     (free -h)
 *   services  the units and compose services    (docker-compose ps)
 *             of agent.yaml's services section
 *   postgres  client connections against        (psql ... pg_stat_activity)
 *             max_connections, when agent.yaml has a postgres section
 *   redis     used memory against maxmemory,    (redis-cli info memory)
 *             when agent.yaml has a redis section
 *   alarms    the active-alarm count read from  (curl .../alarms/active/count)
 *             health.alarms_url
 *
 * Each check gets a status; the task's status is the worst of them. A
 * service that is configured but cannot be reached fails its check (the
 * host is not healthy); a check that does not apply is left out and
 * listed under "skipped" with the reason.
 */
#include <stdio.h>
#include <string.h>

#include "health.h"
#include "hostinfo.h"
#include "http.h"
#include "module.h"
#include "pg_conn.h"
#include "redis_conn.h"

#define HEALTH_ALARMS_MS   10000 /* the alarm endpoint's time limit */
#define HEALTH_ALARMS_BODY (64 * 1024)

static const struct param_spec sys_health_params[] = {
    {.name = "disk_warn_pct",
        .type = PARAM_INT,
        .min = 1,
        .max = 100,
        .def = "80",
        .help = "disk used percent for warn"},
    {.name = "disk_fail_pct",
        .type = PARAM_INT,
        .min = 1,
        .max = 100,
        .def = "90",
        .help = "disk used percent for fail"},
    {.name = "mem_warn_pct",
        .type = PARAM_INT,
        .min = 1,
        .max = 100,
        .def = "85",
        .help = "memory used percent for warn"},
    {.name = "mem_fail_pct",
        .type = PARAM_INT,
        .min = 1,
        .max = 100,
        .def = "95",
        .help = "memory used percent for fail"},
    {.name = "pg_warn_pct",
        .type = PARAM_INT,
        .min = 1,
        .max = 100,
        .def = "80",
        .help = "PostgreSQL connections, percent of "
                "max_connections, for warn"},
    {.name = "pg_fail_pct",
        .type = PARAM_INT,
        .min = 1,
        .max = 100,
        .def = "95",
        .help = "the same for fail"},
    {.name = "redis_warn_pct",
        .type = PARAM_INT,
        .min = 1,
        .max = 100,
        .def = "80",
        .help = "Redis used memory, percent of maxmemory, "
                "for warn"},
    {.name = "redis_fail_pct",
        .type = PARAM_INT,
        .min = 1,
        .max = 100,
        .def = "95",
        .help = "the same for fail"},
    {.name = "alarms_warn",
        .type = PARAM_INT,
        .min = 1,
        .max = 1000000000,
        .def = "1",
        .help = "active alarms for warn"},
    {.name = "alarms_fail",
        .type = PARAM_INT,
        .min = 1,
        .max = 1000000000,
        .def = "10",
        .help = "active alarms for fail"},
    {.name = NULL},
};

/* Each warn threshold must not be above its fail threshold. */
static int
sys_health_validate(
    struct task_ctx *ctx, const struct task_params *p, struct vsm_err *err)
{
	static const char *const pairs[][2] = {
	    {"disk_warn_pct", "disk_fail_pct"},
	    {"mem_warn_pct", "mem_fail_pct"},
	    {"pg_warn_pct", "pg_fail_pct"},
	    {"redis_warn_pct", "redis_fail_pct"},
	    {"alarms_warn", "alarms_fail"},
	};
	size_t i;

	(void)ctx;
	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
		if (params_check_order(p, pairs[i][0], pairs[i][1], err) == -1)
			return (-1);
	return (0);
}

/*
 * Add check `name` to res.checks with status st, a one-line summary and
 * detail (stolen; may be NULL), and fold st into *worst.
 */
static void
health_add(json_t *res, const char *name, Vsm__TaskStatus st,
    const char *summary, json_t *detail, Vsm__TaskStatus *worst)
{
	json_t *c;

	c = json_pack(
	    "{s:s, s:s}", "status", task_status_name(st), "summary", summary);
	if (c != NULL && detail != NULL)
		json_object_set(c, "detail", detail);
	json_decref(detail);
	json_object_set_new(json_object_get(res, "checks"), name, c);
	*worst = task_status_worse(*worst, st);
}

static void
health_skip(json_t *res, const char *name, const char *why)
{
	json_object_set_new(
	    json_object_get(res, "skipped"), name, json_string(why));
}

static void
health_disk(json_t *res, const struct task_params *p, Vsm__TaskStatus *w)
{
	json_t *mounts = json_array();
	double  worst = 0;
	char    sum[128];

	if (mounts == NULL || hostinfo_mounts(mounts, NULL, &worst) == -1) {
		json_decref(mounts);
		health_add(res, "disk", VSM__TASK_STATUS__TASK_ERROR,
		    "cannot read the mount table", NULL, w);
		return;
	}
	snprintf(sum, sizeof(sum), "%zu filesystems, fullest %.1f%%",
	    json_array_size(mounts), worst);
	health_add(res, "disk",
	    task_threshold(worst, (double)params_num(p, "disk_warn_pct"),
	        (double)params_num(p, "disk_fail_pct")),
	    sum, mounts, w);
}

static void
health_memory(json_t *res, const struct task_params *p, Vsm__TaskStatus *w)
{
	struct hostinfo_mem m;
	double              pct;
	char                sum[128];

	if (hostinfo_meminfo(&m) == -1 || m.total == 0) {
		health_add(res, "memory", VSM__TASK_STATUS__TASK_ERROR,
		    "cannot read /proc/meminfo", NULL, w);
		return;
	}
	pct = 100.0 * (double)(m.total - m.available) / (double)m.total;
	snprintf(sum, sizeof(sum), "%.1f%% used", pct);
	health_add(res, "memory",
	    task_threshold(pct, (double)params_num(p, "mem_warn_pct"),
	        (double)params_num(p, "mem_fail_pct")),
	    sum,
	    json_pack("{s:I, s:I, s:f}", "total_bytes", (json_int_t)m.total,
	        "available_bytes", (json_int_t)m.available, "used_pct",
	        hostinfo_round1(pct)),
	    w);
}

static void
health_services(struct task_ctx *ctx, const struct vsm_agent_config *cfg,
    json_t *res, Vsm__TaskStatus *w)
{
	struct vsm_err  err;
	Vsm__TaskStatus st;
	json_t         *detail = NULL;
	char            sum[1024];

	if (cfg->services.systemctl_command[0] == '\0' &&
	    cfg->services.compose_command[0] == '\0') {
		health_skip(res, "services",
		    "no services.systemctl_command or "
		    "services.compose_command in agent.yaml");
		return;
	}
	if (services_probe(ctx, cfg, &detail, &st, sum, sizeof(sum), &err) ==
	    -1) {
		health_add(res, "services", VSM__TASK_STATUS__TASK_FAIL,
		    err.msg, NULL, w);
		return;
	}
	health_add(res, "services", st, sum, detail, w);
}

static void
health_postgres(struct task_ctx *ctx, const struct vsm_agent_config *cfg,
    json_t *res, const struct task_params *p, Vsm__TaskStatus *w)
{
	struct vsm_err err;
	json_t        *d = NULL;
	double         pct;
	char           sum[1024];

	if (!cfg->has_postgres) {
		health_skip(
		    res, "postgres", "no postgres section in agent.yaml");
		return;
	}
	if (pg_probe_connections(ctx, cfg, &d, &err) == -1) {
		snprintf(sum, sizeof(sum), "PostgreSQL: %s", err.msg);
		health_add(
		    res, "postgres", VSM__TASK_STATUS__TASK_FAIL, sum, NULL, w);
		return;
	}
	pct = json_number_value(json_object_get(d, "used_pct"));
	snprintf(sum, sizeof(sum), "%lld of %lld connections (%.1f%%)",
	    (long long)json_integer_value(json_object_get(d, "connections")),
	    (long long)json_integer_value(
	        json_object_get(d, "max_connections")),
	    pct);
	health_add(res, "postgres",
	    task_threshold(pct, (double)params_num(p, "pg_warn_pct"),
	        (double)params_num(p, "pg_fail_pct")),
	    sum, d, w);
}

static void
health_redis(const struct vsm_agent_config *cfg, json_t *res,
    const struct task_params *p, Vsm__TaskStatus *w)
{
	struct vsm_err  err;
	json_t         *d = NULL, *pctv;
	Vsm__TaskStatus st = VSM__TASK_STATUS__TASK_OK;
	char            sum[1024];

	if (!cfg->has_redis) {
		health_skip(res, "redis", "no redis section in agent.yaml");
		return;
	}
	if (redis_probe_memory(cfg, &d, &err) == -1) {
		snprintf(sum, sizeof(sum), "Redis: %s", err.msg);
		health_add(
		    res, "redis", VSM__TASK_STATUS__TASK_FAIL, sum, NULL, w);
		return;
	}
	/* Without maxmemory there is no ceiling to measure against. */
	if ((pctv = json_object_get(d, "used_pct")) != NULL) {
		st = task_threshold(json_number_value(pctv),
		    (double)params_num(p, "redis_warn_pct"),
		    (double)params_num(p, "redis_fail_pct"));
		snprintf(sum, sizeof(sum),
		    "%lld bytes used, %.1f%% of "
		    "maxmemory",
		    (long long)json_integer_value(
		        json_object_get(d, "used_memory")),
		    json_number_value(pctv));
	} else
		snprintf(sum, sizeof(sum), "%lld bytes used, no maxmemory",
		    (long long)json_integer_value(
		        json_object_get(d, "used_memory")));
	health_add(res, "redis", st, sum, d, w);
}

/*
 * The active-alarm count: GET health.alarms_url (inside http.allow like
 * any URL the agent fetches), the number at health.alarms_pointer.
 */
static void
health_alarms(const struct vsm_agent_config *cfg, json_t *res,
    const struct task_params *p, Vsm__TaskStatus *w)
{
	struct http_fetch_opts o;
	struct http_response   r;
	struct vsm_err         err;
	json_t                *doc = NULL, *v;
	double                 n;
	char                   sum[1024];

	if (cfg->health.alarms_url[0] == '\0') {
		health_skip(
		    res, "alarms", "no health.alarms_url in agent.yaml");
		return;
	}
	memset(&o, 0, sizeof(o));
	o.allow = &cfg->http.allow;
	o.url = cfg->health.alarms_url;
	o.timeout_ms = HEALTH_ALARMS_MS;
	o.max_body = HEALTH_ALARMS_BODY;
	if (http_fetch(&o, &r, &err) != HTTP_FETCH_OK) {
		snprintf(sum, sizeof(sum), "alarms: %s", err.msg);
		goto fail;
	}
	if (r.status != 200) {
		snprintf(sum, sizeof(sum), "alarms: %s answered %ld",
		    cfg->health.alarms_url, r.status);
		goto fail;
	}
	if ((doc = json_loads(r.body, JSON_DECODE_ANY, NULL)) == NULL) {
		snprintf(sum, sizeof(sum), "alarms: the answer is not JSON");
		goto fail;
	}
	if ((v = http_json_pointer(doc, cfg->health.alarms_pointer, &err)) ==
	        NULL ||
	    !json_is_number(v)) {
		snprintf(sum, sizeof(sum), "alarms: no number at '%s'%s%s",
		    cfg->health.alarms_pointer, v == NULL ? ": " : "",
		    v == NULL ? err.msg : "");
		goto fail;
	}
	n = json_number_value(v);
	snprintf(sum, sizeof(sum), "%.0f active alarms", n);
	health_add(res, "alarms",
	    task_threshold(n, (double)params_num(p, "alarms_warn"),
	        (double)params_num(p, "alarms_fail")),
	    sum,
	    json_pack("{s:f, s:I}", "active", n, "latency_ms",
	        (json_int_t)r.latency_ms),
	    w);
	json_decref(doc);
	http_response_clear(&r);
	return;
fail:
	health_add(res, "alarms", VSM__TASK_STATUS__TASK_FAIL, sum, NULL, w);
	json_decref(doc);
	http_response_clear(&r);
}

static int
sys_health_run(struct task_ctx *ctx, const struct task_params *p)
{
	const struct vsm_agent_config *cfg;
	struct vsm_err                 err;
	Vsm__TaskStatus                worst = VSM__TASK_STATUS__TASK_OK;
	json_t                        *res, *c;
	const char                    *name;
	char                           summary[256];
	size_t                         nbad = 0;
	int                            ret;

	if ((cfg = task_config(ctx, &err)) == NULL)
		return (task_finish_error(ctx, "agent config: %s", err.msg));
	if ((res = json_pack("{s:{}, s:{}}", "checks", "skipped")) == NULL)
		return (task_finish_error(ctx, "out of memory"));
	health_services(ctx, cfg, res, &worst);
	health_disk(res, p, &worst);
	health_memory(res, p, &worst);
	health_postgres(ctx, cfg, res, p, &worst);
	health_redis(cfg, res, p, &worst);
	health_alarms(cfg, res, p, &worst);
	json_object_foreach(json_object_get(res, "checks"), name, c)
	{
		if (strcmp(json_string_value(json_object_get(c, "status")),
		        "ok") != 0) {
			nbad++;
			task_emit_log(ctx, "%s: %s: %s", name,
			    json_string_value(json_object_get(c, "status")),
			    json_string_value(json_object_get(c, "summary")));
		}
	}
	json_object_set_new(
	    res, "status", json_string(task_status_name(worst)));
	snprintf(summary, sizeof(summary), "%zu checks, %zu not ok",
	    json_object_size(json_object_get(res, "checks")), nbad);
	ret = task_finish(ctx, worst, summary, res, 0, NULL);
	json_decref(res);
	return (ret);
}

const struct task_module mod_sys_health = {
    .name = "sys.health",
    .params = sys_health_params,
    .validate = sys_health_validate,
    .run = sys_health_run,
};
