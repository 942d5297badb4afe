/*
 * config_agent.c: agent.yaml, its keys and defaults, and the commented
 * file `vsm-agent init` writes. docs/config.md documents every key.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <regex.h>
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
#define P(m)  offsetof(struct vsm_command_param, m)
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

/* A command parameter's name: 1-32 of a-z 0-9 _, starting with a letter. */
static int
check_param_name(const char *s, struct vsm_err *err)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i <= VSM_CFG_PARAM_NAME_MAX; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		        (i > 0 &&
		            ((s[i] >= '0' && s[i] <= '9') || s[i] == '_'))))
			break;
	if (i == 0 || i > VSM_CFG_PARAM_NAME_MAX || s[i] != '\0')
		return (vsm_err_set(err,
		    "'%s' is not a valid parameter name: 1-%d of a-z 0-9 _, "
		    "starting with a letter",
		    s, VSM_CFG_PARAM_NAME_MAX));
	return (0);
}

/*
 * pattern: a POSIX extended regular expression that a value must match
 * whole. It is compiled here, alone and as the runner anchors it
 * (^(pattern)$), so that a bad one is refused at load and never at run
 * time, and so that no pattern can close the anchoring group ("a)|(.*").
 */
static int
read_pattern(struct vsm_cfg_ctx *ctx, yaml_node_t *node, void *base)
{
	struct vsm_command_param *p = base;
	regex_t                   re;
	char                      anchored[VSM_CFG_PATTERN_MAX + 8], msg[128];
	const char               *v;
	int                       rc;

	if ((v = vsm_cfg_scalar(ctx, node, "a regular expression")) == NULL)
		return (-1);
	if (v[0] == '\0')
		return (vsm_cfg_error(ctx, node, "must not be empty"));
	if (strlen(v) >= VSM_CFG_PATTERN_MAX)
		return (vsm_cfg_error(ctx, node, "longer than %d characters",
		    VSM_CFG_PATTERN_MAX - 1));
	snprintf(anchored, sizeof(anchored), "^(%s)$", v);
	if ((rc = regcomp(&re, v, REG_EXTENDED | REG_NOSUB)) == 0) {
		regfree(&re);
		rc = regcomp(&re, anchored, REG_EXTENDED | REG_NOSUB);
	}
	if (rc != 0) {
		regerror(rc, &re, msg, sizeof(msg));
		return (vsm_cfg_error(ctx, node,
		    "'%s' is not a valid POSIX extended regular expression: "
		    "%s",
		    v, msg));
	}
	regfree(&re);
	if ((p->pattern = strdup(v)) == NULL)
		return (vsm_cfg_error(ctx, node, "out of memory"));
	return (0);
}

/* enum: [a, b, ...]: 1-64 distinct printable values, each 1-255 bytes. */
static int
read_enum(struct vsm_cfg_ctx *ctx, yaml_node_t *node, void *base)
{
	struct vsm_command_param *p = base;
	yaml_node_item_t         *item;
	yaml_node_t              *n;
	const char               *v;
	size_t                    count, i, j;

	if (node->type != YAML_SEQUENCE_NODE)
		return (vsm_cfg_error(
		    ctx, node, "expected a list of values: [a, b, ...]"));
	count = (size_t)(node->data.sequence.items.top -
	    node->data.sequence.items.start);
	if (count == 0)
		return (vsm_cfg_error(ctx, node, "the list is empty"));
	if (count > VSM_CFG_ENUM_MAX)
		return (vsm_cfg_error(
		    ctx, node, "more than %d values", VSM_CFG_ENUM_MAX));
	if ((p->enum_values = calloc(count + 1, sizeof(char *))) == NULL)
		return (vsm_cfg_error(ctx, node, "out of memory"));
	for (item = node->data.sequence.items.start;
	     item < node->data.sequence.items.top; item++) {
		if ((n = yaml_document_get_node(ctx->doc, *item)) == NULL)
			return (vsm_cfg_error(ctx, node, "broken document"));
		if ((v = vsm_cfg_scalar(ctx, n, "a string value")) == NULL)
			return (-1);
		if (v[0] == '\0' || strlen(v) >= VSM_CFG_STR_MAX)
			return (vsm_cfg_error(ctx, n,
			    "a value must be 1-%d characters",
			    VSM_CFG_STR_MAX - 1));
		for (j = 0; v[j] != '\0'; j++)
			if ((unsigned char)v[j] < 0x20 || v[j] == 0x7f)
				return (vsm_cfg_error(
				    ctx, n, "control character in a value"));
		for (i = 0; i < p->nenum; i++)
			if (strcmp(p->enum_values[i], v) == 0)
				return (vsm_cfg_error(
				    ctx, n, "'%s' is listed twice", v));
		if ((p->enum_values[p->nenum] = strdup(v)) == NULL)
			return (vsm_cfg_error(ctx, n, "out of memory"));
		p->nenum++;
	}
	return (0);
}

/* flag: "--since", "-n": a '-', then 1-62 of A-Z a-z 0-9 _ . - */
static int
read_flag(struct vsm_cfg_ctx *ctx, yaml_node_t *node, void *base)
{
	struct vsm_command_param *p = base;
	const char               *v;
	size_t                    i;

	if ((v = vsm_cfg_scalar(ctx, node, "an option such as --since")) ==
	    NULL)
		return (-1);
	for (i = 1; v[0] == '-' && v[i] != '\0'; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') ||
		        (v[i] >= 'A' && v[i] <= 'Z') ||
		        (v[i] >= '0' && v[i] <= '9') || v[i] == '_' ||
		        v[i] == '.' || v[i] == '-'))
			break;
	if (v[0] != '-' || i < 2 || v[i] != '\0' || i >= VSM_CFG_FLAG_MAX)
		return (vsm_cfg_error(ctx, node,
		    "'%s' is not an option: a '-', then 1-%d of A-Z a-z 0-9 _ "
		    ". -",
		    v, VSM_CFG_FLAG_MAX - 2));
	if ((p->flag = strdup(v)) == NULL)
		return (vsm_cfg_error(ctx, node, "out of memory"));
	return (0);
}

static const struct vsm_cfg_field param_fields[] = {
    {.key = "pattern", .type = VSM_CFG_T_FN, .fn = read_pattern},
    {.key = "enum", .type = VSM_CFG_T_FN, .fn = read_enum},
    {.key = "allow_dash", .type = VSM_CFG_T_BOOL, .off = P(allow_dash)},
    {.key = "required", .type = VSM_CFG_T_BOOL, .off = P(required)},
    {.key = "flag", .type = VSM_CFG_T_FN, .fn = read_flag},
    {.key = NULL},
};

/* One parameter's mapping, and the checks across its keys. */
static int
read_param(
    struct vsm_cfg_ctx *ctx, yaml_node_t *node, struct vsm_command_param *p)
{
	size_t i;

	if (vsm_cfg_map(ctx, node, param_fields, p) == -1)
		return (-1);
	if (p->pattern != NULL && p->enum_values != NULL)
		return (vsm_cfg_error(ctx, vsm_cfg_find(ctx, node, "enum"),
		    "give a pattern or an enum, not both"));
	if (p->pattern == NULL && p->enum_values == NULL)
		return (vsm_cfg_error(ctx, node,
		    "needs a pattern (a regular expression) or an enum (a "
		    "list of values)"));
	for (i = 0; i < p->nenum && !p->allow_dash; i++)
		if (p->enum_values[i][0] == '-')
			return (vsm_cfg_error(ctx,
			    vsm_cfg_find(ctx, node, "enum"),
			    "enum value '%s' starts with '-': set allow_dash: "
			    "true",
			    p->enum_values[i]));
	return (0);
}

/*
 * Read a mapping of named entries (NAME: value) into a new array *arr of
 * elements of `size` bytes, *n of them: at most max, each name checked by
 * check and unique. Each element gets a strdup of its name at name_off
 * (a char *), then one() reads the value with the key path pushed. what
 * names an entry in messages ("command"); expect says what the mapping
 * should be. 0, or -1 with the error set (what was read stays in *arr for
 * the config's free).
 */
static int
read_named(struct vsm_cfg_ctx *ctx, yaml_node_t *node, size_t max, size_t size,
    size_t name_off, vsm_cfg_check_fn *check, const char *what,
    const char *expect, void **arr, size_t *n,
    int (*one)(struct vsm_cfg_ctx *, yaml_node_t *, yaml_node_t *, void *))
{
	yaml_node_pair_t *pair;
	yaml_node_t      *k, *v;
	struct vsm_err    e;
	const char       *name;
	char              scalar[64], **np;
	size_t            count, i, mark;

	if (vsm_cfg_is_null(node))
		return (0);
	if (node->type != YAML_MAPPING_NODE)
		return (vsm_cfg_error(ctx, node, "expected %s", expect));
	count = (size_t)(node->data.mapping.pairs.top -
	    node->data.mapping.pairs.start);
	if (count > max)
		return (
		    vsm_cfg_error(ctx, node, "more than %zu %ss", max, what));
	if (count == 0)
		return (0);
	if ((*arr = calloc(count, size)) == NULL)
		return (vsm_cfg_error(ctx, node, "out of memory"));
	snprintf(scalar, sizeof(scalar), "a %s name", what);
	for (pair = node->data.mapping.pairs.start;
	     pair < node->data.mapping.pairs.top; pair++) {
		k = yaml_document_get_node(ctx->doc, pair->key);
		v = yaml_document_get_node(ctx->doc, pair->value);
		if (k == NULL || v == NULL)
			return (vsm_cfg_error(ctx, node, "broken document"));
		if ((name = vsm_cfg_scalar(ctx, k, scalar)) == NULL)
			return (-1);
		if (check(name, &e) == -1)
			return (vsm_cfg_error(ctx, k, "%s", e.msg));
		for (i = 0; i < *n; i++) {
			np = (char **)(void *)((char *)*arr + i * size +
			    name_off);
			if (strcmp(*np, name) == 0)
				return (vsm_cfg_error(
				    ctx, k, "duplicate %s '%s'", what, name));
		}
		np = (char **)(void *)((char *)*arr + *n * size + name_off);
		if ((*np = strdup(name)) == NULL)
			return (vsm_cfg_error(ctx, k, "out of memory"));
		(*n)++;
		mark = vsm_cfg_push(ctx, name);
		if (one(ctx, k, v, (char *)*arr + (*n - 1) * size) == -1)
			return (-1);
		vsm_cfg_pop(ctx, mark);
	}
	return (0);
}

static int
read_param_one(
    struct vsm_cfg_ctx *ctx, yaml_node_t *k, yaml_node_t *v, void *elem)
{
	(void)k;
	return (read_param(ctx, v, elem));
}

/* params: { NAME: {pattern: ERE | enum: [...], ...}, ... } in argv order. */
static int
read_params(struct vsm_cfg_ctx *ctx, yaml_node_t *node, void *base)
{
	struct vsm_command *cmd = base;
	void               *arr = NULL;
	int                 rc;

	rc = read_named(ctx, node, VSM_CFG_CMD_PARAMS_MAX,
	    sizeof(struct vsm_command_param),
	    offsetof(struct vsm_command_param, name), check_param_name,
	    "parameter",
	    "a mapping of NAME: {pattern: REGEX} or NAME: {enum: [...]}", &arr,
	    &cmd->nparams, read_param_one);
	cmd->params = arr;
	return (rc);
}

/* ok_codes: [0, 1]: the exit codes that mean ok, 0-255, each once. */
static int
read_ok_codes(struct vsm_cfg_ctx *ctx, yaml_node_t *node, void *base)
{
	struct vsm_command *cmd = base;
	yaml_node_item_t   *item;
	yaml_node_t        *n;
	const char         *v;
	char               *end;
	long                code;
	size_t              count, i;

	if (node->type != YAML_SEQUENCE_NODE)
		return (vsm_cfg_error(
		    ctx, node, "expected a list of exit codes: [0, 1]"));
	count = (size_t)(node->data.sequence.items.top -
	    node->data.sequence.items.start);
	if (count == 0)
		return (vsm_cfg_error(
		    ctx, node, "the list is empty (leave it out for [0])"));
	if (count > VSM_CFG_OK_CODES_MAX)
		return (vsm_cfg_error(
		    ctx, node, "more than %d codes", VSM_CFG_OK_CODES_MAX));
	if ((cmd->ok_codes = calloc(count, sizeof(int))) == NULL)
		return (vsm_cfg_error(ctx, node, "out of memory"));
	for (item = node->data.sequence.items.start;
	     item < node->data.sequence.items.top; item++) {
		if ((n = yaml_document_get_node(ctx->doc, *item)) == NULL)
			return (vsm_cfg_error(ctx, node, "broken document"));
		if ((v = vsm_cfg_scalar(ctx, n, "an exit code")) == NULL)
			return (-1);
		errno = 0;
		code = strtol(v, &end, 10);
		if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
		    v[0] < '0' || v[0] > '9' || *end != '\0' || errno != 0 ||
		    code > 255)
			return (vsm_cfg_error(ctx, n,
			    "'%s' is not an exit code: expected 0-255", v));
		for (i = 0; i < cmd->nok_codes; i++)
			if (cmd->ok_codes[i] == (int)code)
				return (vsm_cfg_error(
				    ctx, n, "%ld is listed twice", code));
		cmd->ok_codes[cmd->nok_codes++] = (int)code;
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
    {.key = "params", .type = VSM_CFG_T_FN, .fn = read_params},
    {.key = "ok_codes", .type = VSM_CFG_T_FN, .fn = read_ok_codes},
    {.key = NULL},
};

/* The bytes of an entry's strings: what it adds to every TaskSpawn. */
static size_t
command_bytes(const struct vsm_command *cmd)
{
	const struct vsm_command_param *p;
	size_t                          n = 0, i, j;

	for (i = 0; i < cmd->argc; i++)
		n += strlen(cmd->argv[i]) + 1;
	for (i = 0; i < cmd->nparams; i++) {
		p = &cmd->params[i];
		n += strlen(p->name) + 1;
		n += p->pattern != NULL ? strlen(p->pattern) + 1 : 0;
		n += p->flag != NULL ? strlen(p->flag) + 1 : 0;
		for (j = 0; j < p->nenum; j++)
			n += strlen(p->enum_values[j]) + 1;
	}
	return (n + cmd->nok_codes * sizeof(int));
}

/*
 * name: [argv...] or name: { argv: [...], timeout: D, params: {...},
 * ok_codes: [...] }
 */
static int
read_command_one(
    struct vsm_cfg_ctx *ctx, yaml_node_t *k, yaml_node_t *v, void *elem)
{
	struct vsm_command *cmd = elem;

	if (v->type == YAML_SEQUENCE_NODE) {
		if (read_argv(ctx, v, cmd) == -1)
			return (-1);
	} else if (v->type == YAML_MAPPING_NODE) {
		if (vsm_cfg_map(ctx, v, command_fields, cmd) == -1)
			return (-1);
	} else
		return (vsm_cfg_error(
		    ctx, v, "expected an argv list or a mapping with argv"));
	if (command_bytes(cmd) > VSM_CFG_COMMAND_BYTES)
		return (vsm_cfg_error(ctx, k,
		    "argv and params take %zu bytes, more than %d",
		    command_bytes(cmd), VSM_CFG_COMMAND_BYTES));
	return (0);
}

static int
read_commands(struct vsm_cfg_ctx *ctx, yaml_node_t *node, void *base)
{
	struct vsm_agent_config *cfg = base;
	void                    *arr = NULL;
	int                      rc;

	rc = read_named(ctx, node, VSM_CFG_COMMANDS_MAX,
	    sizeof(struct vsm_command), offsetof(struct vsm_command, name),
	    vsm_cfg_check_name, "command", "a mapping of NAME: [ARGV...]", &arr,
	    &cfg->ncommands, read_command_one);
	cfg->commands = arr;
	return (rc);
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

/* runner.env: an environment variable name (not PATH or LANG). */
static int
check_env_name(const char *s, struct vsm_err *err)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!(isupper((unsigned char)s[i]) || s[i] == '_' ||
		        (i > 0 && isdigit((unsigned char)s[i]))))
			return (vsm_err_set(err,
			    "'%s' is not a variable name (A-Z, 0-9, _)", s));
	if (strcmp(s, "PATH") == 0 || strcmp(s, "LANG") == 0)
		return (vsm_err_set(err, "%s is set by the agent", s));
	return (0);
}

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
    {.key = "task_binary",
        .type = VSM_CFG_T_PATH,
        .off = A(runner.task_binary),
        .size = SZ(runner.task_binary)},
    {.key = "env",
        .type = VSM_CFG_T_LIST,
        .off = A(runner.env),
        .size = VSM_CFG_ENV_NAME_MAX,
        .max = VSM_CFG_ENV_MAX,
        .check = check_env_name},
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

/* http.allow: URL prefixes, http:// or https:// only. */
static int
check_url_prefix(const char *s, struct vsm_err *err)
{
	size_t i;

	if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0)
		return (vsm_err_set(
		    err, "expected a prefix starting http:// or https://"));
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
			return (vsm_err_set(err,
			    "spaces and control characters are "
			    "not allowed in a URL"));
	return (0);
}

/* health.alarms_url: one http:// or https:// URL. */
static int
check_http_url(const char *s, struct vsm_err *err)
{
	if (s[0] == '\0')
		return (0);
	return (check_url_prefix(s, err));
}

/* A JSON pointer (RFC 6901): "" or "/a/b". */
static int
check_json_pointer(const char *s, struct vsm_err *err)
{
	if (s[0] != '\0' && s[0] != '/')
		return (vsm_err_set(
		    err, "expected a JSON pointer such as /alarms/active"));
	return (0);
}

/* services.units: a systemd unit name. */
static int
check_unit(const char *s, struct vsm_err *err)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!isalnum((unsigned char)s[i]) &&
		    strchr(":-_.@\\", s[i]) == NULL)
			return (vsm_err_set(
			    err, "'%s' is not a systemd unit name", s));
	if (s[0] == '-' || i > 255)
		return (vsm_err_set(err, "'%s' is not a systemd unit name", s));
	return (0);
}

static const struct vsm_cfg_field http_fields[] = {
    {.key = "allow",
        .type = VSM_CFG_T_LIST,
        .off = A(http.allow),
        .size = VSM_CFG_URL_MAX,
        .max = VSM_CFG_LIST_MAX,
        .check = check_url_prefix},
    {.key = NULL},
};

static const struct vsm_cfg_field logs_fields[] = {
    {.key = "dirs",
        .type = VSM_CFG_T_LIST,
        .off = A(logs.dirs),
        .size = VSM_CFG_PATH_MAX,
        .max = VSM_CFG_LIST_MAX,
        .flags = VSM_CFG_LIST_PATHS},
    {.key = "clean_dirs",
        .type = VSM_CFG_T_LIST,
        .off = A(logs.clean_dirs),
        .size = VSM_CFG_PATH_MAX,
        .max = VSM_CFG_LIST_MAX,
        .flags = VSM_CFG_LIST_PATHS},
    {.key = "auth_log",
        .type = VSM_CFG_T_PATH,
        .off = A(logs.auth_log),
        .size = SZ(logs.auth_log),
        .flags = VSM_CFG_NONEMPTY},
    {.key = NULL},
};

static const struct vsm_cfg_field certs_fields[] = {
    {.key = "dirs",
        .type = VSM_CFG_T_LIST,
        .off = A(certs.dirs),
        .size = VSM_CFG_PATH_MAX,
        .max = VSM_CFG_LIST_MAX,
        .flags = VSM_CFG_LIST_PATHS},
    {.key = NULL},
};

static const struct vsm_cfg_field services_fields[] = {
    {.key = "units",
        .type = VSM_CFG_T_LIST,
        .off = A(services.units),
        .size = 256,
        .max = VSM_CFG_LIST_MAX,
        .check = check_unit},
    {.key = "systemctl_command",
        .type = VSM_CFG_T_STR,
        .off = A(services.systemctl_command),
        .size = SZ(services.systemctl_command)},
    {.key = "compose_command",
        .type = VSM_CFG_T_STR,
        .off = A(services.compose_command),
        .size = SZ(services.compose_command)},
    {.key = NULL},
};

static const struct vsm_cfg_field health_fields[] = {
    {.key = "alarms_url",
        .type = VSM_CFG_T_STR,
        .off = A(health.alarms_url),
        .size = SZ(health.alarms_url),
        .check = check_http_url},
    {.key = "alarms_pointer",
        .type = VSM_CFG_T_STR,
        .off = A(health.alarms_pointer),
        .size = SZ(health.alarms_pointer),
        .check = check_json_pointer},
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
    {.key = "http", .type = VSM_CFG_T_MAP, .sub = http_fields},
    {.key = "logs", .type = VSM_CFG_T_MAP, .sub = logs_fields},
    {.key = "certs", .type = VSM_CFG_T_MAP, .sub = certs_fields},
    {.key = "services", .type = VSM_CFG_T_MAP, .sub = services_fields},
    {.key = "health", .type = VSM_CFG_T_MAP, .sub = health_fields},
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
	snprintf(cfg->logs.auth_log, sizeof(cfg->logs.auth_log),
	    "/var/log/auth.log");
	snprintf(cfg->health.alarms_pointer, sizeof(cfg->health.alarms_pointer),
	    "/active");
}

/* The list defaults; 0 or -1 when out of memory. */
static int
agent_list_defaults(struct vsm_agent_config *cfg)
{
	if (vsm_strlist_add(&cfg->logs.dirs, "/var/log") == -1 ||
	    vsm_strlist_add(&cfg->certs.dirs, "/etc/ssl") == -1 ||
	    vsm_strlist_add(&cfg->certs.dirs, "/etc/letsencrypt") == -1)
		return (-1);
	return (0);
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
	cfg->has_postgres = vsm_cfg_find(ctx, root, "postgres") != NULL;
	cfg->has_redis = vsm_cfg_find(ctx, root, "redis") != NULL;
	cfg->has_mongo = vsm_cfg_find(ctx, root, "mongo") != NULL;
	n = vsm_cfg_find(ctx, root, "services");
	if (cfg->services.compose_command[0] != '\0' &&
	    vsm_agent_command_find(cfg, cfg->services.compose_command) == NULL)
		return (
		    vsm_cfg_error(ctx, vsm_cfg_find(ctx, n, "compose_command"),
		        "services.compose_command: no command '%s' in commands",
		        cfg->services.compose_command));
	if (cfg->services.systemctl_command[0] != '\0' &&
	    vsm_agent_command_find(cfg, cfg->services.systemctl_command) ==
	        NULL)
		return (vsm_cfg_error(ctx,
		    vsm_cfg_find(ctx, n, "systemctl_command"),
		    "services.systemctl_command: no command '%s' in commands",
		    cfg->services.systemctl_command));
	return (0);
}

int
vsm_agent_config_load(
    const char *path, struct vsm_agent_config **out, struct vsm_err *err)
{
	struct vsm_agent_config *cfg;
	char                     abs[PATH_MAX];
	const char              *src;
	int                      exposed;

	*out = NULL;
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL)
		return (vsm_err_set(err, "out of memory"));
	agent_defaults(cfg);
	if (agent_list_defaults(cfg) == -1) {
		vsm_agent_config_free(cfg);
		return (vsm_err_set(err, "out of memory"));
	}
	/* Absolute: the task children get this path (TaskSpawn). */
	src = realpath(path, abs) != NULL ? abs : path;
	if (strlen(src) >= sizeof(cfg->path)) {
		vsm_agent_config_free(cfg);
		return (vsm_err_set(err, "%s: path too long", path));
	}
	memcpy(cfg->path, src, strlen(src) + 1);
	if (vsm_cfg_load(path, agent_fields, cfg, agent_post, &exposed, err) ==
	    -1) {
		vsm_agent_config_free(cfg);
		return (-1);
	}
	cfg->secrets_exposed = exposed;
	*out = cfg;
	return (0);
}

static void
command_params_free(struct vsm_command_param *params, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		free(params[i].name);
		free(params[i].pattern);
		free(params[i].flag);
		for (j = 0; j < params[i].nenum; j++)
			free(params[i].enum_values[j]);
		free(params[i].enum_values);
	}
	free(params);
}

void
vsm_agent_config_free(struct vsm_agent_config *cfg)
{
	size_t i, j;

	if (cfg == NULL)
		return;
	vsm_strlist_clear(&cfg->runner.env);
	vsm_strlist_clear(&cfg->http.allow);
	vsm_strlist_clear(&cfg->logs.dirs);
	vsm_strlist_clear(&cfg->logs.clean_dirs);
	vsm_strlist_clear(&cfg->certs.dirs);
	vsm_strlist_clear(&cfg->services.units);
	vsm_cfg_pairs_free(cfg->labels, cfg->nlabels);
	for (i = 0; i < cfg->ncontrollers; i++)
		free(cfg->controllers[i]);
	free(cfg->controllers);
	for (i = 0; i < cfg->ncommands; i++) {
		free(cfg->commands[i].name);
		for (j = 0; j < cfg->commands[i].argc; j++)
			free(cfg->commands[i].argv[j]);
		free(cfg->commands[i].argv);
		command_params_free(
		    cfg->commands[i].params, cfg->commands[i].nparams);
		free(cfg->commands[i].ok_codes);
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
    "# The only commands the controller may ask for, by name (task\n"
    "# exec.NAME). Each runs with exec and this argv, never through a\n"
    "# shell. A task may add only the params declared here: each value\n"
    "# must match its pattern (a POSIX ERE matched whole) or be one of its\n"
    "# enum values, and goes in as one argument, after its flag if any.\n"
    "commands: {}\n"
    "#  logrotate: [\"/usr/sbin/logrotate\", \"/etc/logrotate.conf\"]\n"
    "#  certbot-renew:\n"
    "#    argv: [\"/usr/bin/certbot\", \"renew\", \"--quiet\"]\n"
    "#    timeout: 10m\n"
    "#  journal:\n"
    "#    argv: [\"/usr/bin/journalctl\", \"--no-pager\", \"-n\", "
    "\"1000\"]\n"
    "#    params:\n"
    "#      unit: {pattern: \"[A-Za-z0-9@_.-]{1,64}\", flag: \"--unit\", "
    "required: true}\n"
    "#      since:\n"
    "#        pattern: \"[0-9]{4}-[0-9]{2}-[0-9]{2}( [0-9]{2}:[0-9]{2})?\"\n"
    "#        flag: \"--since\"\n"
    "#      priority: {enum: [err, warning, info], flag: \"--priority\"}\n"
    "#    ok_codes: [0, 1]          # exit codes that mean ok; default [0]\n"
    "\n"
    "# What this host runs, for the task modules (docs/modules.md). A\n"
    "# section that is present says the host runs that server: sys.health\n"
    "# checks it. Prefer ~/.pgpass and the environment to passwords here.\n"
    "# postgres:\n"
    "#   conninfo: \"\"         # libpq keywords; \"\" uses PG* and the "
    "socket\n"
    "#   passfile: /var/lib/postgresql/.pgpass\n"
    "# redis:\n"
    "#   socket: /run/redis/redis-server.sock\n"
    "#   host: 127.0.0.1\n"
    "#   port: 6379\n"
    "# mongo:\n"
    "#   uri: \"mongodb://127.0.0.1:27017\"\n"
    "#\n"
    "# What the modules may read, delete and reach.\n"
    "# logs:\n"
    "#   dirs: [/var/log]            # logs.scan\n"
    "#   clean_dirs: []              # logs.clean; empty: refused\n"
    "#   auth_log: /var/log/auth.log # auth.failed_logins\n"
    "# certs:\n"
    "#   dirs: [/etc/ssl, /etc/letsencrypt]   # cert.check on files\n"
    "# http:\n"
    "#   allow: [\"http://127.0.0.1:8081/\"] # http.check, cert.check\n"
    "# services:\n"
    "#   units: [postgresql.service]\n"
    "#   systemctl_command: systemctl   # an entry of commands:\n"
    "#   compose_command: compose-ps    # an entry of commands:\n"
    "# health:\n"
    "#   alarms_url: \"http://127.0.0.1:8081/api/alarms/active/count\"\n"
    "#   alarms_pointer: /active\n";

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
