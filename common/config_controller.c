/*
 * config_controller.c: controller.yaml, its keys and defaults, the
 * schedules kept as config-as-code, and the commented file
 * `vsm-controller init` writes. docs/config.md documents every key.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>
#include <yaml.h>

#include "config_int.h"
#include "cron.h"
#include "log.h"

#define K(m)   offsetof(struct vsm_controller_config, m)
#define S(m)   offsetof(struct vsm_schedule_config, m)
#define SZ(m)  sizeof(((struct vsm_controller_config *)0)->m)
#define SSZ(m) sizeof(((struct vsm_schedule_config *)0)->m)
#define MS_S   1000LL
#define KIB    1024LL
#define MIB    (1024LL * KIB)
#define GIB    (1024LL * MIB)
#define TIB    (1024LL * GIB)

#define CONTROLLER_DATA_DIR "/var/lib/vsm/controller"

static int
check_param_key(const char *s, struct vsm_err *err)
{
	if (!vsm_label_key_valid(s))
		return (vsm_err_set(err,
		    "'%s' is not a valid parameter name: 1-%d of A-Z a-z 0-9 "
		    ". _ - /",
		    s, VSM_LABEL_MAX));
	return (0);
}

static int
check_selector(const char *s, struct vsm_err *err)
{
	struct vsm_selector *sel;
	struct vsm_err       e;

	if (vsm_selector_parse(s, &sel, &e) == -1)
		return (vsm_err_set(err, "bad selector '%s': %s", s, e.msg));
	vsm_selector_free(sel);
	return (0);
}

static int
check_store(const char *s, struct vsm_err *err)
{
	return (vsm_store_check(s, err));
}

/* A cron expression that parses and fires at least once. */
static int
check_cron(const char *s, struct vsm_err *err)
{
	struct vsm_cron c;
	struct vsm_err  e;
	int64_t         next;

	if (vsm_cron_parse(s, &c, &e) == -1)
		return (vsm_err_set(err, "'%s': %s", s, e.msg));
	if (vsm_cron_next(&c, "UTC", (int64_t)time(NULL), &next, &e) == -1)
		return (vsm_err_set(err, "'%s' never fires: %s", s, e.msg));
	return (0);
}

static int
check_tz(const char *s, struct vsm_err *err)
{
	return (vsm_tz_check(s, err));
}

static int
check_window(const char *s, struct vsm_err *err)
{
	struct vsm_window w;

	if (s[0] == '\0')
		return (0);
	return (vsm_window_parse(s, &w, err));
}

static int
read_params(struct vsm_cfg_ctx *ctx, yaml_node_t *node, void *base)
{
	struct vsm_schedule_config *sc = base;

	return (
	    vsm_cfg_pairs(ctx, node, VSM_CFG_PARAMS_MAX, VSM_CFG_PARAM_MAX - 1,
	        check_param_key, NULL, &sc->params, &sc->nparams));
}

/* A count (0: no limit) or a percentage of the targets, "25%". */
static int
read_max_parallel(struct vsm_cfg_ctx *ctx, yaml_node_t *node, void *base)
{
	struct vsm_schedule_config *sc = base;
	const char                 *v;
	char                       *end;
	unsigned long               n;

	if ((v = vsm_cfg_scalar(ctx, node, "a count or a percentage")) == NULL)
		return (-1);
	errno = 0;
	n = strtoul(v, &end, 10);
	if (v[0] < '0' || v[0] > '9' || errno != 0)
		goto bad;
	if (*end == '%' && end[1] == '\0') {
		if (n < 1 || n > 100)
			return (vsm_cfg_error(
			    ctx, node, "'%s' is out of range 1%%-100%%", v));
		sc->max_parallel = (unsigned)n;
		sc->max_parallel_pct = 1;
		return (0);
	}
	if (*end != '\0' || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		goto bad;
	if (n > 100000)
		return (vsm_cfg_error(
		    ctx, node, "%lu is out of range 0-100000", n));
	sc->max_parallel = (unsigned)n;
	sc->max_parallel_pct = 0;
	return (0);
bad:
	return (vsm_cfg_error(ctx, node,
	    "expected a count (0: no limit) or a percentage like 25%%, got "
	    "'%s'",
	    v));
}

static int
read_overlap(struct vsm_cfg_ctx *ctx, yaml_node_t *node, void *base)
{
	struct vsm_schedule_config *sc = base;
	const char                 *v;

	if ((v = vsm_cfg_scalar(ctx, node, "skip, queue, replace or allow")) ==
	    NULL)
		return (-1);
	if (strcmp(v, "skip") == 0)
		sc->overlap = VSM_OVERLAP_SKIP;
	else if (strcmp(v, "queue") == 0)
		sc->overlap = VSM_OVERLAP_QUEUE;
	else if (strcmp(v, "replace") == 0)
		sc->overlap = VSM_OVERLAP_REPLACE;
	else if (strcmp(v, "allow") == 0)
		sc->overlap = VSM_OVERLAP_ALLOW;
	else
		return (vsm_cfg_error(ctx, node,
		    "expected skip, queue, replace or allow, got '%s'", v));
	return (0);
}

static int
read_window_policy(struct vsm_cfg_ctx *ctx, yaml_node_t *node, void *base)
{
	struct vsm_schedule_config *sc = base;
	const char                 *v;

	if ((v = vsm_cfg_scalar(ctx, node, "wait or skip")) == NULL)
		return (-1);
	if (strcmp(v, "wait") == 0)
		sc->window_policy = VSM_WINDOW_WAIT;
	else if (strcmp(v, "skip") == 0)
		sc->window_policy = VSM_WINDOW_SKIP;
	else
		return (vsm_cfg_error(
		    ctx, node, "expected wait or skip, got '%s'", v));
	return (0);
}

static const struct vsm_cfg_field schedule_fields[] = {
    {.key = "name",
        .type = VSM_CFG_T_STR,
        .off = S(name),
        .size = SSZ(name),
        .flags = VSM_CFG_REQUIRED,
        .check = vsm_cfg_check_name},
    {.key = "module",
        .type = VSM_CFG_T_STR,
        .off = S(module),
        .size = SSZ(module),
        .flags = VSM_CFG_REQUIRED,
        .check = vsm_cfg_check_name},
    {.key = "params", .type = VSM_CFG_T_FN, .fn = read_params},
    {.key = "target",
        .type = VSM_CFG_T_STR,
        .off = S(target),
        .size = SSZ(target),
        .flags = VSM_CFG_REQUIRED,
        .check = check_selector},
    {.key = "cron",
        .type = VSM_CFG_T_STR,
        .off = S(cron),
        .size = VSM_CRON_EXPR_MAX,
        .flags = VSM_CFG_REQUIRED | VSM_CFG_NONEMPTY,
        .check = check_cron},
    {.key = "tz",
        .type = VSM_CFG_T_STR,
        .off = S(tz),
        .size = VSM_TZ_MAX,
        .check = check_tz},
    {.key = "window",
        .type = VSM_CFG_T_STR,
        .off = S(window),
        .size = sizeof(((struct vsm_window *)0)->text),
        .check = check_window},
    {.key = "window_policy", .type = VSM_CFG_T_FN, .fn = read_window_policy},
    {.key = "max_parallel", .type = VSM_CFG_T_FN, .fn = read_max_parallel},
    {.key = "overlap", .type = VSM_CFG_T_FN, .fn = read_overlap},
    {.key = "timeout",
        .type = VSM_CFG_T_DURATION,
        .off = S(timeout_ms),
        .min = MS_S,
        .max = 30 * 24 * 3600 * MS_S},
    {.key = "run_timeout",
        .type = VSM_CFG_T_DURATION,
        .off = S(run_timeout_ms),
        .min = 0,
        .max = 30 * 24 * 3600 * MS_S},
    {.key = "splay",
        .type = VSM_CFG_T_DURATION,
        .off = S(splay_ms),
        .min = 0,
        .max = 24 * 3600 * MS_S},
    {.key = "starting_deadline",
        .type = VSM_CFG_T_DURATION,
        .off = S(starting_deadline_ms),
        .min = MS_S,
        .max = 30 * 24 * 3600 * MS_S},
    {.key = "retries",
        .type = VSM_CFG_T_UINT,
        .off = S(retries),
        .min = 0,
        .max = 100},
    {.key = "enabled", .type = VSM_CFG_T_BOOL, .off = S(enabled)},
    {.key = NULL},
};

static int
read_schedules(struct vsm_cfg_ctx *ctx, yaml_node_t *node, void *base)
{
	struct vsm_controller_config *cfg = base;
	struct vsm_schedule_config   *sc;
	yaml_node_item_t             *item;
	yaml_node_t                  *n;
	size_t                        count, i, mark;
	char                          idx[24];

	if (vsm_cfg_is_null(node))
		return (0);
	if (node->type != YAML_SEQUENCE_NODE)
		return (vsm_cfg_error(
		    ctx, node, "expected a list of schedules (- name: ...)"));
	count = (size_t)(node->data.sequence.items.top -
	    node->data.sequence.items.start);
	if (count > VSM_CFG_SCHEDULES_MAX)
		return (vsm_cfg_error(ctx, node, "more than %d schedules",
		    VSM_CFG_SCHEDULES_MAX));
	if (count == 0)
		return (0);
	if ((cfg->schedules = calloc(count, sizeof(*sc))) == NULL)
		return (vsm_cfg_error(ctx, node, "out of memory"));
	for (item = node->data.sequence.items.start;
	     item < node->data.sequence.items.top; item++) {
		if ((n = yaml_document_get_node(ctx->doc, *item)) == NULL)
			return (vsm_cfg_error(ctx, node, "broken document"));
		sc = &cfg->schedules[cfg->nschedules++];
		sc->enabled = 1;
		sc->overlap = VSM_OVERLAP_SKIP;
		sc->window_policy = VSM_WINDOW_WAIT;
		sc->line = n->start_mark.line + 1;
		snprintf(idx, sizeof(idx), "[%zu]", cfg->nschedules - 1);
		mark = vsm_cfg_push(ctx, idx);
		if (vsm_cfg_map(ctx, n, schedule_fields, sc) == -1)
			return (-1);
		for (i = 0; i + 1 < cfg->nschedules; i++)
			if (strcmp(cfg->schedules[i].name, sc->name) == 0)
				return (vsm_cfg_error(ctx, n,
				    "schedule '%s' is defined twice (first at "
				    "line %zu)",
				    sc->name, cfg->schedules[i].line));
		vsm_cfg_pop(ctx, mark);
	}
	return (0);
}

static const struct vsm_cfg_field controller_fields[] = {
    {.key = "listen",
        .type = VSM_CFG_T_URL,
        .off = K(listen),
        .size = SZ(listen),
        .min = VSM_URL_TCP | VSM_URL_LISTEN},
    {.key = "control",
        .type = VSM_CFG_T_URL,
        .off = K(control),
        .size = SZ(control),
        .min = VSM_URL_IPC},
    {.key = "key_file",
        .type = VSM_CFG_T_PATH,
        .off = K(key_file),
        .size = SZ(key_file),
        .flags = VSM_CFG_NONEMPTY},
    {.key = "data_dir",
        .type = VSM_CFG_T_PATH,
        .off = K(data_dir),
        .size = SZ(data_dir),
        .flags = VSM_CFG_NONEMPTY},
    {.key = "store",
        .type = VSM_CFG_T_STR,
        .off = K(store),
        .size = SZ(store),
        .flags = VSM_CFG_NONEMPTY,
        .check = check_store},
    {.key = "backup_dir",
        .type = VSM_CFG_T_PATH,
        .off = K(backup_dir),
        .size = SZ(backup_dir),
        .flags = VSM_CFG_NONEMPTY},
    {.key = "heartbeat",
        .type = VSM_CFG_T_DURATION,
        .off = K(heartbeat_ms),
        .min = MS_S,
        .max = 3600 * MS_S},
    {.key = "missed_heartbeats",
        .type = VSM_CFG_T_UINT,
        .off = K(missed_heartbeats),
        .min = 1,
        .max = 100},
    {.key = "agent_concurrency",
        .type = VSM_CFG_T_UINT,
        .off = K(agent_concurrency),
        .min = 1,
        .max = 256},
    {.key = "contexts",
        .type = VSM_CFG_T_UINT,
        .off = K(contexts),
        .min = 16,
        .max = 65536},
    {.key = "max_payload",
        .type = VSM_CFG_T_SIZE,
        .off = K(max_payload),
        .min = 64 * KIB,
        .max = GIB},
    {.key = "artifact_max_size",
        .type = VSM_CFG_T_SIZE,
        .off = K(artifact_max_size),
        .min = MIB,
        .max = 64 * TIB},
    {.key = "artifact_min_free",
        .type = VSM_CFG_T_SIZE,
        .off = K(artifact_min_free),
        .min = 0,
        .max = TIB},
    {.key = "log_level", .type = VSM_CFG_T_LOGLEVEL, .off = K(log_level)},
    {.key = "schedules", .type = VSM_CFG_T_FN, .fn = read_schedules},
    {.key = "schedules_file",
        .type = VSM_CFG_T_PATH,
        .off = K(schedules_file),
        .size = SZ(schedules_file)},
    {.key = NULL},
};

/* A schedules_file holds one key: schedules. */
static const struct vsm_cfg_field schedules_file_fields[] = {
    {.key = "schedules", .type = VSM_CFG_T_FN, .fn = read_schedules},
    {.key = NULL},
};

/*
 * Append the schedules of cfg->schedules_file to cfg's own. Errors in
 * that file are FILE:LINE of it; a name defined in both is refused.
 */
static int
load_schedules_file(struct vsm_controller_config *cfg, struct vsm_err *err)
{
	struct vsm_controller_config *more;
	struct vsm_schedule_config   *v;
	size_t                        i, j;
	int                           exposed, ret = -1;

	if ((more = calloc(1, sizeof(*more))) == NULL)
		return (vsm_err_set(err, "out of memory"));
	if (vsm_cfg_load(cfg->schedules_file, schedules_file_fields, more, NULL,
	        &exposed, err) == -1)
		goto out;
	if (cfg->nschedules + more->nschedules > VSM_CFG_SCHEDULES_MAX) {
		vsm_err_set(err, "%s: more than %d schedules with those of %s",
		    cfg->schedules_file, VSM_CFG_SCHEDULES_MAX, cfg->path);
		goto out;
	}
	for (i = 0; i < more->nschedules; i++)
		for (j = 0; j < cfg->nschedules; j++)
			if (strcmp(more->schedules[i].name,
			        cfg->schedules[j].name) == 0) {
				vsm_err_set(err,
				    "%s:%zu: schedules[%zu]: schedule '%s' is "
				    "also defined in %s:%zu",
				    cfg->schedules_file,
				    more->schedules[i].line, i,
				    more->schedules[i].name, cfg->path,
				    cfg->schedules[j].line);
				goto out;
			}
	if (more->nschedules == 0) {
		ret = 0;
		goto out;
	}
	if ((v = reallocarray(cfg->schedules,
	         cfg->nschedules + more->nschedules, sizeof(*v))) == NULL) {
		vsm_err_set(err, "out of memory");
		goto out;
	}
	cfg->schedules = v;
	for (i = 0; i < more->nschedules; i++) {
		v[cfg->nschedules] = more->schedules[i];
		v[cfg->nschedules++].in_schedules_file = 1;
	}
	/* The params now belong to cfg. */
	more->nschedules = 0;
	ret = 0;
out:
	vsm_controller_config_free(more);
	return (ret);
}

static void
controller_defaults(struct vsm_controller_config *cfg)
{
	snprintf(cfg->listen, sizeof(cfg->listen), "tcp://0.0.0.0:%d",
	    VSM_DEFAULT_PORT);
	snprintf(
	    cfg->data_dir, sizeof(cfg->data_dir), "%s", CONTROLLER_DATA_DIR);
	cfg->heartbeat_ms = 30 * MS_S;
	cfg->missed_heartbeats = 3;
	cfg->agent_concurrency = 2;
	cfg->contexts = 1024;
	cfg->max_payload = 4 * MIB;
	cfg->artifact_max_size = TIB;
	cfg->artifact_min_free = GIB;
	cfg->log_level = VSM_LOG_INFO;
}

/* Fill dst with DATA_DIR/rest when it was not set; -1 when too long. */
static int
derive(char *dst, size_t size, const char *prefix, const char *dir,
    const char *rest)
{
	if (dst[0] != '\0')
		return (0);
	if ((size_t)snprintf(dst, size, "%s%s/%s", prefix, dir, rest) >= size)
		return (-1);
	return (0);
}

static int
controller_post(struct vsm_cfg_ctx *ctx, yaml_node_t *root, void *base)
{
	struct vsm_controller_config *cfg = base;
	yaml_node_t                  *n;
	struct vsm_err                e;
	struct stat                   st;
	char                          path[VSM_CFG_PATH_MAX];

	n = vsm_cfg_find(ctx, root, "data_dir");
	if (derive(cfg->key_file, sizeof(cfg->key_file), "", cfg->data_dir,
	        "controller.key") == -1 ||
	    derive(cfg->backup_dir, sizeof(cfg->backup_dir), "", cfg->data_dir,
	        "backups") == -1 ||
	    derive(cfg->store, sizeof(cfg->store), "sqlite:", cfg->data_dir,
	        "vsm.db") == -1)
		return (vsm_cfg_error(ctx, n, "data_dir: path too long"));
	if (cfg->control[0] == '\0') {
		if (derive(cfg->control, sizeof(cfg->control), "ipc://",
		        cfg->data_dir, "control.sock") == -1 ||
		    vsm_url_check(cfg->control, VSM_URL_IPC, &e) == -1)
			return (vsm_cfg_error(ctx, n,
			    "data_dir: too long for the control socket; set "
			    "control: ipc:///SHORT/PATH"));
	}
	/* sqlite:relative is relative to this file, as other paths. */
	if (strncmp(cfg->store, "sqlite:", 7) == 0 && cfg->store[7] != '/') {
		snprintf(path, sizeof(path), "%s", cfg->store + 7);
		n = vsm_cfg_find(ctx, root, "store");
		if (vsm_cfg_abspath(ctx, n, path, sizeof(path)) == -1 ||
		    (size_t)snprintf(cfg->store, sizeof(cfg->store),
		        "sqlite:%s", path) >= sizeof(cfg->store))
			return (vsm_cfg_error(ctx, n, "store: path too long"));
	}
	if (vsm_conninfo_has_secret(cfg->store))
		ctx->secrets = 1;
	if (cfg->schedules_file[0] != '\0' &&
	    load_schedules_file(cfg, ctx->err) == -1)
		return (-1);
	if (stat(cfg->key_file, &st) == 0 &&
	    (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		return (vsm_cfg_error(ctx, vsm_cfg_find(ctx, root, "key_file"),
		    "key_file: %s has mode %04o; it must be 0600 (chmod 600 "
		    "%s)",
		    cfg->key_file, (unsigned)(st.st_mode & 07777),
		    cfg->key_file));
	return (0);
}

int
vsm_controller_config_load(
    const char *path, struct vsm_controller_config **out, struct vsm_err *err)
{
	struct vsm_controller_config *cfg;
	int                           exposed;

	*out = NULL;
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL)
		return (vsm_err_set(err, "out of memory"));
	controller_defaults(cfg);
	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	if (vsm_cfg_load(path, controller_fields, cfg, controller_post,
	        &exposed, err) == -1) {
		vsm_controller_config_free(cfg);
		return (-1);
	}
	cfg->secrets_exposed = exposed;
	*out = cfg;
	return (0);
}

void
vsm_controller_config_free(struct vsm_controller_config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->nschedules; i++)
		vsm_cfg_pairs_free(
		    cfg->schedules[i].params, cfg->schedules[i].nparams);
	free(cfg->schedules);
	/* store may hold a PostgreSQL password. */
	sodium_memzero(cfg, sizeof(*cfg));
	free(cfg);
}

static int
check_controller_file(const char *path, struct vsm_err *err)
{
	struct vsm_controller_config *cfg;

	if (vsm_controller_config_load(path, &cfg, err) == -1)
		return (-1);
	vsm_controller_config_free(cfg);
	return (0);
}

static const char controller_head[] =
    "# vsm-controller configuration, written by `vsm-controller init`.\n"
    "#\n"
    "# Every key is described in docs/config.md. Durations are written\n"
    "# 30s, 5m, 1h, 7d (units ms s m h d w); sizes 64MiB, 1GiB (or kB, MB,\n"
    "# GB). Relative paths are taken relative to this file. Keep this\n"
    "# file mode 0600: a PostgreSQL store URI may hold a password.\n"
    "\n"
    "# Where agents (and remote vsmctl) connect: tcp://HOST:PORT.\n";

static const char controller_tail[] =
    "\n"
    "# Agents send a heartbeat this often; after missed_heartbeats\n"
    "# intervals without one a host is shown as down.\n"
    "heartbeat: 30s\n"
    "missed_heartbeats: 3\n"
    "\n"
    "# Tasks one agent runs at once unless a job says otherwise.\n"
    "agent_concurrency: 2\n"
    "\n"
    "# Receive contexts: one held poll per agent plus upload windows.\n"
    "contexts: 1024\n"
    "\n"
    "# The largest message accepted from a peer (reassembled).\n"
    "max_payload: 4MiB\n"
    "\n"
    "# Artifacts (files tasks leave, such as backups) are uploaded to\n"
    "# DATA_DIR/artifacts. An upload over artifact_max_size is refused;\n"
    "# one that would leave less than artifact_min_free on that disk waits.\n"
    "artifact_max_size: 1TiB\n"
    "artifact_min_free: 1GiB\n"
    "\n"
    "# error, warn, info or debug.\n"
    "log_level: info\n"
    "\n"
    "# Schedules kept as code; `vsmctl schedule add` adds more at run time.\n"
    "schedules: []\n"
    "#  - name: nightly-vacuum\n"
    "#    module: pg.vacuum\n"
    "#    params: { analyze: true }\n"
    "#    target: \"role=db\"\n"
    "#    cron: \"30 2 * * *\"\n"
    "#    tz: Europe/Berlin\n"
    "#    window: \"Sat 01:00-05:00\"\n"
    "#    max_parallel: 25%\n"
    "#    overlap: skip\n"
    "#    splay: 5m\n"
    "#    starting_deadline: 1h\n"
    "#    timeout: 2h\n"
    "# More schedules from a file (docs/scheduler.md):\n"
    "# schedules_file: schedules.yaml\n";

int
vsm_controller_config_write_default(const char *path,
    const struct vsm_controller_init *init, struct vsm_err *err)
{
	char   dir[PATH_MAX], tmp[PATH_MAX + 32], listen[VSM_CFG_URL_MAX];
	char  *buf = NULL;
	size_t size = 32 * 1024;
	struct vsm_err e;
	int            ret = -1;

	if (init->listen != NULL) {
		if (vsm_url_check(
		        init->listen, VSM_URL_TCP | VSM_URL_LISTEN, &e) == -1)
			return (vsm_err_set(err, "listen: %s", e.msg));
		snprintf(listen, sizeof(listen), "%s", init->listen);
	} else
		snprintf(listen, sizeof(listen), "tcp://0.0.0.0:%d",
		    VSM_DEFAULT_PORT);
	if (init->dir == NULL || realpath(init->dir, dir) == NULL)
		return (
		    vsm_err_set(err, "%s: %s", init->dir ? init->dir : "dir",
		        init->dir ? strerror(errno) : "missing"));
	if ((buf = calloc(1, size)) == NULL)
		return (vsm_err_set(err, "out of memory"));
	if (vsm_cfg_put(buf, size, "%s", controller_head) == -1 ||
	    vsm_cfg_put_kv(buf, size, "", "listen", listen) == -1 ||
	    vsm_cfg_put(buf, size,
	        "\n# The local control socket for vsmctl; its file mode is "
	        "the access\n# control.\n") == -1)
		goto toolong;
	snprintf(tmp, sizeof(tmp), "ipc://%s/control.sock", dir);
	if (vsm_url_check(tmp, VSM_URL_IPC, &e) == -1) {
		vsm_err_set(err, "control: %s", e.msg);
		goto out;
	}
	if (vsm_cfg_put_kv(buf, size, "", "control", tmp) == -1 ||
	    vsm_cfg_put(buf, size,
	        "\n# The controller's private key (0600); controller.key.pub "
	        "beside it.\n") == -1)
		goto toolong;
	snprintf(tmp, sizeof(tmp), "%s/controller.key", dir);
	if (vsm_cfg_put_kv(buf, size, "", "key_file", tmp) == -1 ||
	    vsm_cfg_put(buf, size,
	        "\n# Where the controller keeps its state.\n") == -1 ||
	    vsm_cfg_put_kv(buf, size, "", "data_dir", dir) == -1 ||
	    vsm_cfg_put(buf, size,
	        "\n# The store: sqlite:PATH (one controller) or "
	        "postgresql://... (several).\n") == -1)
		goto toolong;
	snprintf(tmp, sizeof(tmp), "sqlite:%s/vsm.db", dir);
	if (vsm_cfg_put_kv(buf, size, "", "store", tmp) == -1 ||
	    vsm_cfg_put(buf, size,
	        "\n# Where backups are kept when no S3 target is set.\n") == -1)
		goto toolong;
	snprintf(tmp, sizeof(tmp), "%s/backups", dir);
	if (vsm_cfg_put_kv(buf, size, "", "backup_dir", tmp) == -1 ||
	    vsm_cfg_put(buf, size, "%s", controller_tail) == -1)
		goto toolong;
	ret = vsm_cfg_write_new(path, buf, check_controller_file, err);
	goto out;
toolong:
	vsm_err_set(err, "%s: config text too long", path);
out:
	free(buf);
	return (ret);
}
