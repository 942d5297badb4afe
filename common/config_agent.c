/*
 * config_agent.c: agent.yaml, its keys and defaults, and the commented
 * file `vsm-agent init` writes. docs/config.md documents every key.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>
#include <yaml.h>

#include "config_int.h"
#include "log.h"

#define A(m)  offsetof(struct vsm_agent_config, m)
#define C(m)  offsetof(struct vsm_command, m)
#define SZ(m) sizeof(((struct vsm_agent_config *)0)->m)
#define MS_S  1000LL
#define MIB   (1024LL * 1024)
#define GIB   (1024LL * MIB)
#define TIB   (1024LL * GIB)

#define AGENT_DATA_DIR "/var/lib/vsm/agent"

static int
check_label_key(const char *s, struct vsm_err *err)
{
	if (strcmp(s, "name") == 0)
		return (vsm_err_set(err,
		    "'name' is reserved: selectors use "
		    "name=GLOB for the host name"));
	if (!vsm_label_key_valid(s))
		return (vsm_err_set(err,
		    "'%s' is not a valid label key: 1-%d of A-Z a-z 0-9 . _ "
		    "- /, starting with a letter or digit",
		    s, VSM_LABEL_MAX));
	return (0);
}

static int
check_label_value(const char *s, struct vsm_err *err)
{
	if (!vsm_label_value_valid(s))
		return (vsm_err_set(err,
		    "'%s' is not a valid label value: 0-%d of A-Z a-z 0-9 "
		    ". _ - / : + @",
		    s, VSM_LABEL_MAX));
	return (0);
}

static int
check_host(const char *s, struct vsm_err *err)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!(s[i] == '.' || s[i] == '-' || s[i] == ':' ||
		        (s[i] >= '0' && s[i] <= '9') ||
		        (s[i] >= 'a' && s[i] <= 'z') ||
		        (s[i] >= 'A' && s[i] <= 'Z')))
			return (vsm_err_set(err, "'%s' is not a host name", s));
	return (0);
}

static int
check_mongo_uri(const char *s, struct vsm_err *err)
{
	if (s[0] != '\0' && strncmp(s, "mongodb://", 10) != 0 &&
	    strncmp(s, "mongodb+srv://", 14) != 0)
		return (vsm_err_set(
		    err, "expected mongodb://... or mongodb+srv://..."));
	return (0);
}

static int
read_labels(struct vsm_cfg_ctx *ctx, yaml_node_t *node, void *base)
{
	struct vsm_agent_config *cfg = base;

	return (vsm_cfg_pairs(ctx, node, VSM_CFG_LABELS_MAX, VSM_LABEL_MAX,
	    check_label_key, check_label_value, &cfg->labels, &cfg->nlabels));
}

static int
add_controller(
    struct vsm_cfg_ctx *ctx, yaml_node_t *node, struct vsm_agent_config *cfg)
{
	struct vsm_err e;
	const char    *v;
	size_t         i;

	if ((v = vsm_cfg_scalar(ctx, node, "a tcp:// URL")) == NULL)
		return (-1);
	if (vsm_url_check(v, VSM_URL_TCP, &e) == -1)
		return (vsm_cfg_error(ctx, node, "%s", e.msg));
	for (i = 0; i < cfg->ncontrollers; i++)
		if (strcmp(cfg->controllers[i], v) == 0)
			return (vsm_cfg_error(
			    ctx, node, "'%s' is listed twice", v));
	if ((cfg->controllers[cfg->ncontrollers] = strdup(v)) == NULL)
		return (vsm_cfg_error(ctx, node, "out of memory"));
	cfg->ncontrollers++;
	return (0);
}

/* A list of tcp:// URLs, or one URL as a plain string. */
static int
read_controllers(struct vsm_cfg_ctx *ctx, yaml_node_t *node, void *base)
{
	struct vsm_agent_config *cfg = base;
	yaml_node_item_t        *item;
	yaml_node_t             *n;
	size_t                   count, mark;
	char                     idx[24];

	if (node->type == YAML_SEQUENCE_NODE)
		count = (size_t)(node->data.sequence.items.top -
		    node->data.sequence.items.start);
	else if (node->type == YAML_SCALAR_NODE && !vsm_cfg_is_null(node))
		count = 1;
	else
		return (vsm_cfg_error(
		    ctx, node, "expected a list of tcp://HOST:PORT URLs"));
	if (count == 0)
		return (vsm_cfg_error(
		    ctx, node, "at least one controller is needed"));
	if (count > VSM_CFG_CONTROLLERS_MAX)
		return (vsm_cfg_error(ctx, node, "more than %d controllers",
		    VSM_CFG_CONTROLLERS_MAX));
	if ((cfg->controllers = calloc(count, sizeof(char *))) == NULL)
		return (vsm_cfg_error(ctx, node, "out of memory"));
	if (node->type == YAML_SCALAR_NODE)
		return (add_controller(ctx, node, cfg));
	for (item = node->data.sequence.items.start;
	     item < node->data.sequence.items.top; item++) {
		if ((n = yaml_document_get_node(ctx->doc, *item)) == NULL)
			return (vsm_cfg_error(ctx, node, "broken document"));
		snprintf(idx, sizeof(idx), "[%zu]", cfg->ncontrollers);
		mark = vsm_cfg_push(ctx, idx);
		if (add_controller(ctx, n, cfg) == -1)
			return (-1);
		vsm_cfg_pop(ctx, mark);
	}
	return (0);
}

static int
read_controller_key(struct vsm_cfg_ctx *ctx, yaml_node_t *node, void *base)
{
	struct vsm_agent_config *cfg = base;
	struct vsm_err           e;
	const char              *v;

	if ((v = vsm_cfg_scalar(ctx, node, "a base64 public key")) == NULL)
		return (-1);
	if (vsm_key_decode(v, cfg->controller_key, &e) == -1)
		return (vsm_cfg_error(ctx, node, "%s", e.msg));
	vsm_key_encode(cfg->controller_key, cfg->controller_key_b64);
	return (0);
}

static int
read_argv(struct vsm_cfg_ctx *ctx, yaml_node_t *node, void *base)
{
	struct vsm_command *cmd = base;
	yaml_node_item_t   *item;
	yaml_node_t        *n;
	const char         *v;
	size_t              count;

	if (node->type != YAML_SEQUENCE_NODE)
		return (vsm_cfg_error(ctx, node,
		    "expected a list: [\"/usr/sbin/logrotate\", \"ARG\", "
		    "...]"));
	if (cmd->argv != NULL)
		return (vsm_cfg_error(ctx, node, "argv given twice"));
	count = (size_t)(node->data.sequence.items.top -
	    node->data.sequence.items.start);
	if (count == 0)
		return (vsm_cfg_error(ctx, node, "argv is empty"));
	if (count > VSM_CFG_ARGV_MAX)
		return (vsm_cfg_error(
		    ctx, node, "more than %d arguments", VSM_CFG_ARGV_MAX));
	if ((cmd->argv = calloc(count + 1, sizeof(char *))) == NULL)
		return (vsm_cfg_error(ctx, node, "out of memory"));
	for (item = node->data.sequence.items.start;
	     item < node->data.sequence.items.top; item++) {
		if ((n = yaml_document_get_node(ctx->doc, *item)) == NULL)
			return (vsm_cfg_error(ctx, node, "broken document"));
		if ((v = vsm_cfg_scalar(ctx, n, "a string argument")) == NULL)
			return (-1);
		if (strlen(v) >= VSM_CFG_ARG_MAX)
			return (vsm_cfg_error(ctx, n,
			    "argument longer than %d characters",
			    VSM_CFG_ARG_MAX - 1));
		if (cmd->argc == 0 && v[0] != '/')
			return (vsm_cfg_error(ctx, n,
			    "'%s': the program must be an absolute path (no "
			    "PATH search)",
			    v));
		if ((cmd->argv[cmd->argc] = strdup(v)) == NULL)
			return (vsm_cfg_error(ctx, n, "out of memory"));
		cmd->argc++;
	}
	return (0);
}

static const struct vsm_cfg_field command_fields[] = {
    {.key = "argv",
        .type = VSM_CFG_T_FN,
        .fn = read_argv,
        .flags = VSM_CFG_REQUIRED},
    {.key = "timeout",
        .type = VSM_CFG_T_DURATION,
        .off = C(timeout_ms),
        .min = MS_S,
        .max = 7 * 24 * 3600 * MS_S},
    {.key = "allow_params", .type = VSM_CFG_T_BOOL, .off = C(allow_params)},
    {.key = NULL},
};

/* name: [argv...] or name: { argv: [...], timeout: D, allow_params: B } */
static int
read_commands(struct vsm_cfg_ctx *ctx, yaml_node_t *node, void *base)
{
	struct vsm_agent_config *cfg = base;
	struct vsm_command      *cmd;
	yaml_node_pair_t        *pair;
	yaml_node_t             *k, *v;
	struct vsm_err           e;
	const char              *name;
	size_t                   count, i, mark;

	if (vsm_cfg_is_null(node))
		return (0);
	if (node->type != YAML_MAPPING_NODE)
		return (vsm_cfg_error(
		    ctx, node, "expected a mapping of NAME: [ARGV...]"));
	count = (size_t)(node->data.mapping.pairs.top -
	    node->data.mapping.pairs.start);
	if (count > VSM_CFG_COMMANDS_MAX)
		return (vsm_cfg_error(
		    ctx, node, "more than %d commands", VSM_CFG_COMMANDS_MAX));
	if (count == 0)
		return (0);
	if ((cfg->commands = calloc(count, sizeof(*cfg->commands))) == NULL)
		return (vsm_cfg_error(ctx, node, "out of memory"));
	for (pair = node->data.mapping.pairs.start;
	     pair < node->data.mapping.pairs.top; pair++) {
		k = yaml_document_get_node(ctx->doc, pair->key);
		v = yaml_document_get_node(ctx->doc, pair->value);
		if (k == NULL || v == NULL)
			return (vsm_cfg_error(ctx, node, "broken document"));
		if ((name = vsm_cfg_scalar(ctx, k, "a command name")) == NULL)
			return (-1);
		if (vsm_cfg_check_name(name, &e) == -1)
			return (vsm_cfg_error(ctx, k, "%s", e.msg));
		for (i = 0; i < cfg->ncommands; i++)
			if (strcmp(cfg->commands[i].name, name) == 0)
				return (vsm_cfg_error(
				    ctx, k, "duplicate command '%s'", name));
		cmd = &cfg->commands[cfg->ncommands++];
		if ((cmd->name = strdup(name)) == NULL)
			return (vsm_cfg_error(ctx, k, "out of memory"));
		mark = vsm_cfg_push(ctx, name);
		if (v->type == YAML_SEQUENCE_NODE) {
			if (read_argv(ctx, v, cmd) == -1)
				return (-1);
		} else if (v->type == YAML_MAPPING_NODE) {
			if (vsm_cfg_map(ctx, v, command_fields, cmd) == -1)
				return (-1);
		} else
			return (vsm_cfg_error(ctx, v,
			    "expected an argv list or a mapping with argv"));
		vsm_cfg_pop(ctx, mark);
	}
	return (0);
}

static const struct vsm_cfg_field spool_fields[] = {
    {.key = "dir",
        .type = VSM_CFG_T_PATH,
        .off = A(spool_dir),
        .size = SZ(spool_dir),
        .flags = VSM_CFG_NONEMPTY},
    {.key = "max_size",
        .type = VSM_CFG_T_SIZE,
        .off = A(spool_max),
        .min = MIB,
        .max = TIB},
    {.key = NULL},
};

static const struct vsm_cfg_field limits_fields[] = {
    {.key = "cpu",
        .type = VSM_CFG_T_DURATION,
        .off = A(runner.cpu_ms),
        .min = MS_S,
        .max = 30 * 24 * 3600 * MS_S,
        .flags = VSM_CFG_UNLIMITED},
    {.key = "memory",
        .type = VSM_CFG_T_SIZE,
        .off = A(runner.mem_bytes),
        .min = 16 * MIB,
        .max = TIB,
        .flags = VSM_CFG_UNLIMITED},
    {.key = "open_files",
        .type = VSM_CFG_T_U64,
        .off = A(runner.open_files),
        .min = 16,
        .max = 1048576},
    {.key = NULL},
};

static const struct vsm_cfg_field runner_fields[] = {
    {.key = "max_tasks",
        .type = VSM_CFG_T_UINT,
        .off = A(runner.max_tasks),
        .min = 1,
        .max = 256},
    {.key = "nice",
        .type = VSM_CFG_T_INT,
        .off = A(runner.nice),
        .min = -20,
        .max = 19},
    {.key = "limits", .type = VSM_CFG_T_MAP, .sub = limits_fields},
    {.key = NULL},
};

static const struct vsm_cfg_field postgres_fields[] = {
    {.key = "conninfo",
        .type = VSM_CFG_T_STR,
        .off = A(postgres.conninfo),
        .size = SZ(postgres.conninfo)},
    {.key = "passfile",
        .type = VSM_CFG_T_PATH,
        .off = A(postgres.passfile),
        .size = SZ(postgres.passfile)},
    {.key = NULL},
};

static const struct vsm_cfg_field redis_fields[] = {
    {.key = "socket",
        .type = VSM_CFG_T_PATH,
        .off = A(redis.socket),
        .size = SZ(redis.socket)},
    {.key = "host",
        .type = VSM_CFG_T_STR,
        .off = A(redis.host),
        .size = SZ(redis.host),
        .flags = VSM_CFG_NONEMPTY,
        .check = check_host},
    {.key = "port",
        .type = VSM_CFG_T_UINT,
        .off = A(redis.port),
        .min = 1,
        .max = 65535},
    {.key = "password",
        .type = VSM_CFG_T_STR,
        .off = A(redis.password),
        .size = SZ(redis.password),
        .flags = VSM_CFG_SECRET},
    {.key = NULL},
};

static const struct vsm_cfg_field mongo_fields[] = {
    {.key = "uri",
        .type = VSM_CFG_T_STR,
        .off = A(mongo.uri),
        .size = SZ(mongo.uri),
        .check = check_mongo_uri},
    {.key = NULL},
};

static const struct vsm_cfg_field agent_fields[] = {
    {.key = "name",
        .type = VSM_CFG_T_STR,
        .off = A(name),
        .size = SZ(name),
        .flags = VSM_CFG_REQUIRED,
        .check = vsm_cfg_check_name},
    {.key = "labels", .type = VSM_CFG_T_FN, .fn = read_labels},
    {.key = "controllers",
        .type = VSM_CFG_T_FN,
        .fn = read_controllers,
        .flags = VSM_CFG_REQUIRED},
    {.key = "controller_key",
        .type = VSM_CFG_T_FN,
        .fn = read_controller_key,
        .flags = VSM_CFG_REQUIRED},
    {.key = "enroll_token",
        .type = VSM_CFG_T_STR,
        .off = A(enroll_token),
        .size = SZ(enroll_token),
        .flags = VSM_CFG_SECRET},
    {.key = "key_file",
        .type = VSM_CFG_T_PATH,
        .off = A(key_file),
        .size = SZ(key_file),
        .flags = VSM_CFG_NONEMPTY},
    {.key = "data_dir",
        .type = VSM_CFG_T_PATH,
        .off = A(data_dir),
        .size = SZ(data_dir),
        .flags = VSM_CFG_NONEMPTY},
    {.key = "spool", .type = VSM_CFG_T_MAP, .sub = spool_fields},
    {.key = "heartbeat",
        .type = VSM_CFG_T_DURATION,
        .off = A(heartbeat_ms),
        .min = MS_S,
        .max = 3600 * MS_S},
    {.key = "log_level", .type = VSM_CFG_T_LOGLEVEL, .off = A(log_level)},
    {.key = "runner", .type = VSM_CFG_T_MAP, .sub = runner_fields},
    {.key = "commands", .type = VSM_CFG_T_FN, .fn = read_commands},
    {.key = "postgres", .type = VSM_CFG_T_MAP, .sub = postgres_fields},
    {.key = "redis", .type = VSM_CFG_T_MAP, .sub = redis_fields},
    {.key = "mongo", .type = VSM_CFG_T_MAP, .sub = mongo_fields},
    {.key = NULL},
};

static void
agent_defaults(struct vsm_agent_config *cfg)
{
	snprintf(cfg->data_dir, sizeof(cfg->data_dir), "%s", AGENT_DATA_DIR);
	cfg->spool_max = 256 * MIB;
	cfg->heartbeat_ms = 30 * MS_S;
	cfg->log_level = VSM_LOG_INFO;
	cfg->runner.max_tasks = 4;
	cfg->runner.nice = 10;
	cfg->runner.cpu_ms = 0;
	cfg->runner.mem_bytes = 4 * GIB;
	cfg->runner.open_files = 1024;
	snprintf(cfg->redis.host, sizeof(cfg->redis.host), "127.0.0.1");
	cfg->redis.port = 6379;
	snprintf(cfg->mongo.uri, sizeof(cfg->mongo.uri),
	    "mongodb://127.0.0.1:27017");
}

/* Derived defaults and checks across keys, while lines are known. */
static int
agent_post(struct vsm_cfg_ctx *ctx, yaml_node_t *root, void *base)
{
	struct vsm_agent_config *cfg = base;
	struct stat              st;
	yaml_node_t             *n;

	if (cfg->key_file[0] == '\0' &&
	    snprintf(cfg->key_file, sizeof(cfg->key_file), "%s/agent.key",
	        cfg->data_dir) >= (int)sizeof(cfg->key_file))
		return (vsm_cfg_error(ctx, vsm_cfg_find(ctx, root, "data_dir"),
		    "data_dir: path too long"));
	if (cfg->spool_dir[0] == '\0' &&
	    snprintf(cfg->spool_dir, sizeof(cfg->spool_dir), "%s/spool",
	        cfg->data_dir) >= (int)sizeof(cfg->spool_dir))
		return (vsm_cfg_error(ctx, vsm_cfg_find(ctx, root, "data_dir"),
		    "data_dir: path too long"));
	if (cfg->runner.cpu_ms % MS_S != 0) {
		n = vsm_cfg_find(ctx,
		    vsm_cfg_find(
		        ctx, vsm_cfg_find(ctx, root, "runner"), "limits"),
		    "cpu");
		return (vsm_cfg_error(
		    ctx, n, "runner.limits.cpu: must be whole seconds"));
	}
	/* A key file that exists must be private; a missing one is init's. */
	if (stat(cfg->key_file, &st) == 0 &&
	    (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		return (vsm_cfg_error(ctx, vsm_cfg_find(ctx, root, "key_file"),
		    "key_file: %s has mode %04o; it must be 0600 (chmod 600 "
		    "%s)",
		    cfg->key_file, (unsigned)(st.st_mode & 07777),
		    cfg->key_file));
	if (vsm_conninfo_has_secret(cfg->postgres.conninfo) ||
	    vsm_conninfo_has_secret(cfg->mongo.uri))
		ctx->secrets = 1;
	return (0);
}

int
vsm_agent_config_load(
    const char *path, struct vsm_agent_config **out, struct vsm_err *err)
{
	struct vsm_agent_config *cfg;
	int                      exposed;

	*out = NULL;
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL)
		return (vsm_err_set(err, "out of memory"));
	agent_defaults(cfg);
	snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	if (vsm_cfg_load(path, agent_fields, cfg, agent_post, &exposed, err) ==
	    -1) {
		vsm_agent_config_free(cfg);
		return (-1);
	}
	cfg->secrets_exposed = exposed;
	*out = cfg;
	return (0);
}

void
vsm_agent_config_free(struct vsm_agent_config *cfg)
{
	size_t i, j;

	if (cfg == NULL)
		return;
	vsm_cfg_pairs_free(cfg->labels, cfg->nlabels);
	for (i = 0; i < cfg->ncontrollers; i++)
		free(cfg->controllers[i]);
	free(cfg->controllers);
	for (i = 0; i < cfg->ncommands; i++) {
		free(cfg->commands[i].name);
		for (j = 0; j < cfg->commands[i].argc; j++)
			free(cfg->commands[i].argv[j]);
		free(cfg->commands[i].argv);
	}
	free(cfg->commands);
	/* The token and passwords are secrets. */
	sodium_memzero(cfg, sizeof(*cfg));
	free(cfg);
}

const struct vsm_command *
vsm_agent_command_find(const struct vsm_agent_config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->ncommands; i++)
		if (strcmp(cfg->commands[i].name, name) == 0)
			return (&cfg->commands[i]);
	return (NULL);
}

static int
check_agent_file(const char *path, struct vsm_err *err)
{
	struct vsm_agent_config *cfg;

	if (vsm_agent_config_load(path, &cfg, err) == -1)
		return (-1);
	vsm_agent_config_free(cfg);
	return (0);
}

static const char agent_head[] =
    "# vsm-agent configuration, written by `vsm-agent init`.\n"
    "#\n"
    "# Every key is described in docs/config.md. Durations are written\n"
    "# 30s, 5m, 1h, 7d (units ms s m h d w); sizes 64MiB, 1GiB (or kB, MB,\n"
    "# GB). Relative paths are taken relative to this file. This file may\n"
    "# hold secrets (the enrollment token, database passwords): keep it\n"
    "# mode 0600.\n"
    "\n"
    "# This host's name, as the controller and selectors see it\n"
    "# (name=db-*).\n";

static const char agent_tail[] =
    "\n"
    "# Task events wait in the spool until the controller has stored them.\n"
    "spool:\n"
    "  # dir: DATA_DIR/spool\n"
    "  max_size: 256MiB\n"
    "\n"
    "# How often the agent reports in while idle.\n"
    "heartbeat: 30s\n"
    "\n"
    "# error, warn, info or debug.\n"
    "log_level: info\n"
    "\n"
    "# Limits for every task child (vsm-task and the commands it runs).\n"
    "runner:\n"
    "  max_tasks: 4           # tasks running at once\n"
    "  nice: 10               # -20 (first) .. 19 (last)\n"
    "  limits:\n"
    "    cpu: unlimited       # CPU time per task (RLIMIT_CPU), e.g. 1h\n"
    "    memory: 4GiB         # address space per task (RLIMIT_AS)\n"
    "    open_files: 1024     # RLIMIT_NOFILE\n"
    "\n"
    "# The only commands the controller may ask for, by name. Each runs\n"
    "# with exec and this argv, never through a shell.\n"
    "commands: {}\n"
    "#  logrotate: [\"/usr/sbin/logrotate\", \"/etc/logrotate.conf\"]\n"
    "#  certbot-renew:\n"
    "#    argv: [\"/usr/bin/certbot\", \"renew\", \"--quiet\"]\n"
    "#    timeout: 10m\n"
    "#    allow_params: false\n"
    "\n"
    "# Connection settings for the database task modules. Prefer\n"
    "# ~/.pgpass and the environment to passwords in this file.\n"
    "postgres:\n"
    "  conninfo: \"\"           # libpq keywords; \"\" uses PG* and the "
    "socket\n"
    "  # passfile: /var/lib/postgresql/.pgpass\n"
    "redis:\n"
    "  # socket: /run/redis/redis-server.sock\n"
    "  host: 127.0.0.1\n"
    "  port: 6379\n"
    "  # password: \"\"\n"
    "mongo:\n"
    "  uri: \"mongodb://127.0.0.1:27017\"\n";

int
vsm_agent_config_write_default(
    const char *path, const struct vsm_agent_init *init, struct vsm_err *err)
{
	char           dir[PATH_MAX], keypath[PATH_MAX + 16];
	char          *buf = NULL;
	size_t         size = 64 * 1024, i;
	uint8_t        key[VSM_KEY_LEN];
	struct vsm_err e;
	int            ret = -1;

	if (init->name == NULL || vsm_cfg_check_name(init->name, &e) == -1)
		return (vsm_err_set(
		    err, "name: %s", init->name ? e.msg : "missing"));
	if (init->controller == NULL ||
	    vsm_url_check(init->controller, VSM_URL_TCP, &e) == -1)
		return (vsm_err_set(err, "controller: %s",
		    init->controller ? e.msg : "missing"));
	if (init->controller_key == NULL ||
	    vsm_key_decode(init->controller_key, key, &e) == -1)
		return (vsm_err_set(err, "controller key: %s",
		    init->controller_key ? e.msg : "missing"));
	if (init->nlabels > VSM_CFG_LABELS_MAX)
		return (vsm_err_set(
		    err, "more than %d labels", VSM_CFG_LABELS_MAX));
	for (i = 0; i < init->nlabels; i++)
		if (check_label_key(init->labels[i].key, &e) == -1 ||
		    check_label_value(init->labels[i].value, &e) == -1)
			return (vsm_err_set(err, "label: %s", e.msg));
	if (init->token != NULL && strlen(init->token) >= VSM_CFG_STR_MAX)
		return (vsm_err_set(err, "token: too long"));
	if (init->dir == NULL || realpath(init->dir, dir) == NULL)
		return (
		    vsm_err_set(err, "%s: %s", init->dir ? init->dir : "dir",
		        init->dir ? strerror(errno) : "missing"));
	snprintf(keypath, sizeof(keypath), "%s/agent.key", dir);
	if ((buf = calloc(1, size)) == NULL)
		return (vsm_err_set(err, "out of memory"));
	if (vsm_cfg_put(buf, size, "%s", agent_head) == -1 ||
	    vsm_cfg_put_kv(buf, size, "", "name", init->name) == -1 ||
	    vsm_cfg_put(buf, size,
	        "\n# Labels for selectors such as role=db,env=prod.\n") == -1)
		goto toolong;
	if (init->nlabels == 0 && vsm_cfg_put(buf, size, "labels: {}\n") == -1)
		goto toolong;
	if (init->nlabels > 0 && vsm_cfg_put(buf, size, "labels:\n") == -1)
		goto toolong;
	for (i = 0; i < init->nlabels; i++)
		if (vsm_cfg_put_kv(buf, size, "  ", init->labels[i].key,
		        init->labels[i].value) == -1)
			goto toolong;
	if (vsm_cfg_put(buf, size,
	        "\n# Controller addresses, tried in order (several for HA).\n"
	        "controllers:\n  - ") == -1 ||
	    vsm_cfg_quote(buf, size, init->controller) == -1 ||
	    vsm_cfg_put(buf, size,
	        "\n\n# The controller's public key, pinned: the agent talks "
	        "to no other.\n") == -1 ||
	    vsm_cfg_put_kv(
	        buf, size, "", "controller_key", init->controller_key) == -1 ||
	    vsm_cfg_put(buf, size,
	        "\n# One-time token that has the controller accept this "
	        "agent's key.\n") == -1)
		goto toolong;
	if (init->token != NULL && init->token[0] != '\0') {
		if (vsm_cfg_put_kv(
		        buf, size, "", "enroll_token", init->token) == -1)
			goto toolong;
	} else if (vsm_cfg_put(buf, size, "# enroll_token: \"\"\n") == -1)
		goto toolong;
	if (vsm_cfg_put(buf, size,
	        "\n# This agent's private key (0600); agent.key.pub beside "
	        "it.\n") == -1 ||
	    vsm_cfg_put_kv(buf, size, "", "key_file", keypath) == -1 ||
	    vsm_cfg_put(buf, size, "\n# Where the agent keeps its state.\n") ==
	        -1 ||
	    vsm_cfg_put_kv(buf, size, "", "data_dir", dir) == -1 ||
	    vsm_cfg_put(buf, size, "%s", agent_tail) == -1)
		goto toolong;
	ret = vsm_cfg_write_new(path, buf, check_agent_file, err);
	goto out;
toolong:
	vsm_err_set(err, "%s: config text too long", path);
out:
	if (buf != NULL)
		sodium_memzero(buf, size);
	free(buf);
	return (ret);
}
