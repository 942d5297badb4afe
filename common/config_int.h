/*
 * config_int.h: the table-driven YAML reader shared by config_agent.c and
 * config_controller.c (config_util.c implements it). Not for use outside
 * the config loaders.
 */
#ifndef VSM_CONFIG_INT_H
#define VSM_CONFIG_INT_H

#include "config.h"

/*
 * The loader shared by config_agent.c and config_controller.c: a table of
 * keys per mapping, walked over a libyaml document tree (nodes carry their
 * line). Not for other callers.
 */
struct yaml_node_s;
struct yaml_document_s;

struct vsm_cfg_ctx {
	const char             *file;
	char                    dir[VSM_CFG_PATH_MAX]; /* of file, absolute */
	struct yaml_document_s *doc;
	struct vsm_err         *err;
	char                    where[256]; /* dotted key path being read */
	int                     secrets;    /* a secret value was read */
};

enum vsm_cfg_type {
	VSM_CFG_T_STR,      /* char[size] */
	VSM_CFG_T_PATH,     /* char[size], made absolute */
	VSM_CFG_T_URL,      /* char[size], vsm_url_check(flags in min) */
	VSM_CFG_T_DURATION, /* uint64_t ms in [min, max] */
	VSM_CFG_T_SIZE,     /* uint64_t bytes in [min, max] */
	VSM_CFG_T_UINT,     /* unsigned in [min, max] */
	VSM_CFG_T_U64,      /* uint64_t in [min, max] */
	VSM_CFG_T_INT,      /* int in [min, max] */
	VSM_CFG_T_BOOL,     /* int */
	VSM_CFG_T_LOGLEVEL, /* int */
	VSM_CFG_T_MAP,      /* a nested table in sub, same base */
	VSM_CFG_T_FN,       /* fn reads the node */
	VSM_CFG_T_LIST,     /* struct vsm_strlist: a sequence or one scalar
	                       of at most max strings of size bytes; each
	                       made absolute with VSM_CFG_LIST_PATHS, checked
	                       by check when set; replaces the default */
};

#define VSM_CFG_REQUIRED  0x1
#define VSM_CFG_SECRET    0x2 /* STR: a non-empty value is a secret */
#define VSM_CFG_UNLIMITED 0x4 /* numbers: "unlimited" reads as 0 */
#define VSM_CFG_NONEMPTY  0x8 /* STR/PATH: "" is refused */
#define VSM_CFG_LIST_PATHS 0x10 /* LIST: entries are paths */

/* Checks the text of a value: 0, or -1 with err set. */
typedef int vsm_cfg_check_fn(const char *, struct vsm_err *);

struct vsm_cfg_field {
	const char                 *key;
	enum vsm_cfg_type           type;
	size_t                      off;
	size_t                      size;
	long long                   min, max;
	int                         flags;
	const struct vsm_cfg_field *sub;
	int (*fn)(struct vsm_cfg_ctx *, struct yaml_node_s *, void *base);
	/* STR: an extra check of the text; 0 or -1 with err set. */
	vsm_cfg_check_fn *check;
};

int vsm_cfg_error(struct vsm_cfg_ctx *ctx, const struct yaml_node_s *node,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The text of a scalar node, or NULL with "expected WHAT" set. */
const char *vsm_cfg_scalar(
    struct vsm_cfg_ctx *ctx, struct yaml_node_s *node, const char *what);
/* 1 for an empty plain scalar or null / ~ (an absent list or map). */
int vsm_cfg_is_null(const struct yaml_node_s *node);
/* Read a mapping node into base by the table (NULL key ends it). */
int vsm_cfg_map(struct vsm_cfg_ctx *ctx, struct yaml_node_s *node,
    const struct vsm_cfg_field *fields, void *base);
/*
 * Read a mapping of free-form keys (labels, params) into a new array of
 * strdup'd pairs. keycheck/valcheck validate each; max caps the count.
 */
int vsm_cfg_pairs(struct vsm_cfg_ctx *ctx, struct yaml_node_s *node, size_t max,
    size_t valmax, vsm_cfg_check_fn *keycheck, vsm_cfg_check_fn *valcheck,
    struct vsm_label **out, size_t *nout);
void vsm_cfg_pairs_free(struct vsm_label *pairs, size_t n);
/* Push / pop one level of the dotted key path in ctx->where. */
size_t vsm_cfg_push(struct vsm_cfg_ctx *ctx, const char *key);
void   vsm_cfg_pop(struct vsm_cfg_ctx *ctx, size_t mark);
/* The value under key in mapping map, or NULL. */
struct yaml_node_s *vsm_cfg_find(
    struct vsm_cfg_ctx *ctx, struct yaml_node_s *map, const char *key);
/* Make a relative path absolute against ctx->dir, in place. */
int vsm_cfg_abspath(struct vsm_cfg_ctx *ctx, const struct yaml_node_s *node,
    char *path, size_t size);

/*
 * Read path, parse it, check that it is one mapping and run fields over
 * it into base, then post (may be NULL) while the tree is still there.
 * Sets *exposed when secrets were read and others can read the file.
 */
int vsm_cfg_load(const char *path, const struct vsm_cfg_field *fields,
    void *base, int (*post)(struct vsm_cfg_ctx *, struct yaml_node_s *, void *),
    int *exposed, struct vsm_err *err);

/*
 * Write text to path as vsm_*_config_write_default promise; check runs
 * on the temporary file first (0 or -1 with err set).
 */
int vsm_cfg_write_new(const char *path, const char *text,
    vsm_cfg_check_fn *check, struct vsm_err *err);

/* A host or agent name (vsm_name_valid), with the rule in the message. */
int vsm_cfg_check_name(const char *s, struct vsm_err *err);

/* Append s to buf as a YAML double-quoted scalar. 0 or -1 if too long. */
int vsm_cfg_quote(char *buf, size_t size, const char *s);
/* Append printf text to the string in buf; -1 once it does not fit. */
int vsm_cfg_put(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Append INDENT KEY: "VALUE" and a newline (quoted as above). */
int vsm_cfg_put_kv(char *buf, size_t size, const char *indent, const char *key,
    const char *val);

#endif /* VSM_CONFIG_INT_H */
