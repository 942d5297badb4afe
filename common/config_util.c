/*
 * config_util.c: durations, sizes, URL and store checks, and the
 * table-driven YAML reader shared by config_agent.c and
 * config_controller.c.
 *
 * Why libyaml's document tree and not libcyaml's schemas: labels,
 * commands and schedule params are mappings with free-form keys, which a
 * libcyaml schema cannot describe, and libcyaml names the line of the
 * enclosing mapping, not of the offending key or value. Every node of a
 * libyaml document carries its own mark, so each error below points at
 * the exact line in one pass.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "config_int.h"
#include "fileio.h"
#include "log.h"

#define MS_S     UINT64_C(1000)
#define MS_MIN   (60 * MS_S)
#define MS_HOUR  (60 * MS_MIN)
#define MS_DAY   (24 * MS_HOUR)
#define MS_WEEK  (7 * MS_DAY)
#define IPC_PATH 107 /* sizeof(sun_path) - 1 */

/* Durations and sizes. */

int
vsm_duration_parse(const char *s, uint64_t *ms, struct vsm_err *err)
{
	uint64_t    total = 0, n, mul;
	const char *p = s;

	if (*p == '\0')
		return (vsm_err_set(
		    err, "expected a duration like 30s, 5m, 1h or 7d, got ''"));
	while (*p != '\0') {
		if (!isdigit((unsigned char)*p))
			return (vsm_err_set(err,
			    "expected a duration like 30s, 5m, 1h or 7d, "
			    "got '%s'",
			    s));
		for (n = 0; isdigit((unsigned char)*p); p++) {
			if (n > (UINT64_MAX - 9) / 10)
				return (vsm_err_set(
				    err, "duration '%s' is too large", s));
			n = n * 10 + (uint64_t)(*p - '0');
		}
		if (p[0] == 'm' && p[1] == 's') {
			mul = 1;
			p += 2;
		} else {
			switch (*p) {
			case 's':
				mul = MS_S;
				break;
			case 'm':
				mul = MS_MIN;
				break;
			case 'h':
				mul = MS_HOUR;
				break;
			case 'd':
				mul = MS_DAY;
				break;
			case 'w':
				mul = MS_WEEK;
				break;
			case '\0':
				return (vsm_err_set(err,
				    "duration '%s' needs a unit (ms, s, m, h, "
				    "d or w), e.g. '%ss'",
				    s, s));
			default:
				return (vsm_err_set(err,
				    "duration '%s': unknown unit '%c' (use ms, "
				    "s, m, h, d or w)",
				    s, *p));
			}
			p++;
		}
		if (n > UINT64_MAX / mul || total > UINT64_MAX - n * mul)
			return (
			    vsm_err_set(err, "duration '%s' is too large", s));
		total += n * mul;
	}
	*ms = total;
	return (0);
}

void
vsm_duration_format(uint64_t ms, char *buf, size_t len)
{
	static const struct {
		uint64_t    ms;
		const char *unit;
	} units[] = {
	    {MS_DAY, "d"},
	    {MS_HOUR, "h"},
	    {MS_MIN, "m"},
	    {MS_S, "s"},
	    {1, "ms"},
	};
	size_t i, off = 0;
	int    n;

	if (len == 0)
		return;
	buf[0] = '\0';
	if (ms == 0) {
		snprintf(buf, len, "0s");
		return;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]) && ms > 0; i++) {
		if (ms < units[i].ms)
			continue;
		n = snprintf(buf + off, len - off, "%llu%s",
		    (unsigned long long)(ms / units[i].ms), units[i].unit);
		if (n < 0 || (size_t)n >= len - off)
			return;
		off += (size_t)n;
		ms %= units[i].ms;
	}
}

static const struct {
	const char *unit;
	uint64_t    mul;
} size_units[] = {
    {"", 1},
    {"B", 1},
    {"KiB", UINT64_C(1) << 10},
    {"MiB", UINT64_C(1) << 20},
    {"GiB", UINT64_C(1) << 30},
    {"TiB", UINT64_C(1) << 40},
    {"kB", UINT64_C(1000)},
    {"KB", UINT64_C(1000)},
    {"MB", UINT64_C(1000000)},
    {"GB", UINT64_C(1000000000)},
    {"TB", UINT64_C(1000000000000)},
};

int
vsm_size_parse(const char *s, uint64_t *bytes, struct vsm_err *err)
{
	uint64_t    n = 0;
	const char *p = s;
	size_t      i;

	if (!isdigit((unsigned char)*p))
		return (vsm_err_set(
		    err, "expected a size like 64MiB or 1GiB, got '%s'", s));
	for (; isdigit((unsigned char)*p); p++) {
		if (n > (UINT64_MAX - 9) / 10)
			return (vsm_err_set(err, "size '%s' is too large", s));
		n = n * 10 + (uint64_t)(*p - '0');
	}
	for (i = 0; i < sizeof(size_units) / sizeof(size_units[0]); i++) {
		if (strcmp(p, size_units[i].unit) != 0)
			continue;
		if (n > UINT64_MAX / size_units[i].mul)
			return (vsm_err_set(err, "size '%s' is too large", s));
		*bytes = n * size_units[i].mul;
		return (0);
	}
	return (vsm_err_set(err,
	    "size '%s': unknown unit '%s' (use B, KiB, MiB, GiB, TiB, kB, "
	    "MB, GB or TB)",
	    s, p));
}

void
vsm_size_format(uint64_t bytes, char *buf, size_t len)
{
	static const char *const iec[] = {"TiB", "GiB", "MiB", "KiB"};
	int                      i;

	for (i = 0; i < 4; i++) {
		uint64_t mul = UINT64_C(1) << (10 * (4 - i));

		if (bytes != 0 && bytes % mul == 0) {
			snprintf(buf, len, "%llu%s",
			    (unsigned long long)(bytes / mul), iec[i]);
			return;
		}
	}
	snprintf(buf, len, "%lluB", (unsigned long long)bytes);
}

/* URLs and connection strings. */

static int
host_char(int c)
{
	return (isalnum((unsigned char)c) || c == '.' || c == '-' || c == '_');
}

static int
check_tcp(const char *url, const char *rest, int listen, struct vsm_err *err)
{
	const char   *host = rest, *port;
	size_t        hlen, i;
	unsigned long p;
	char         *end;

	if (*rest == '[') {
		if ((port = strchr(rest, ']')) == NULL)
			return (
			    vsm_err_set(err, "'%s': unterminated '['", url));
		host = rest + 1;
		hlen = (size_t)(port - host);
		for (i = 0; i < hlen; i++)
			if (!isxdigit((unsigned char)host[i]) &&
			    host[i] != ':' && host[i] != '.')
				return (vsm_err_set(
				    err, "'%s': bad IPv6 address", url));
		if (hlen == 0)
			return (
			    vsm_err_set(err, "'%s': empty IPv6 address", url));
		port++;
	} else {
		port = rest + strcspn(rest, ":/");
		hlen = (size_t)(port - host);
		if (hlen == 1 && host[0] == '*' && listen)
			;
		else {
			for (i = 0; i < hlen; i++)
				if (!host_char(host[i]))
					return (vsm_err_set(err,
					    "'%s': bad character '%c' in host",
					    url, host[i]));
			if (hlen == 0 && !listen)
				return (vsm_err_set(err,
				    "'%s': expected tcp://HOST:PORT", url));
		}
	}
	if (hlen > 253)
		return (vsm_err_set(err, "'%s': host name too long", url));
	if (*port != ':' || !isdigit((unsigned char)port[1]))
		return (vsm_err_set(err,
		    "'%s': expected tcp://HOST:PORT (the port is required)",
		    url));
	errno = 0;
	p = strtoul(port + 1, &end, 10);
	if (*end != '\0')
		return (vsm_err_set(
		    err, "'%s': unexpected '%s' after the port", url, end));
	if (errno != 0 || p < 1 || p > 65535)
		return (vsm_err_set(err,
		    "'%s': port %s is out of range 1-65535", url, port + 1));
	return (0);
}

int
vsm_url_check(const char *url, int flags, struct vsm_err *err)
{
	const char *want = (flags & VSM_URL_TCP) && (flags & VSM_URL_IPC)
	    ? "a tcp:// or ipc:// URL"
	    : (flags & VSM_URL_TCP) ? "tcp://HOST:PORT"
	                            : "ipc:///PATH";
	size_t      len;

	if (strnlen(url, VSM_CFG_URL_MAX) >= VSM_CFG_URL_MAX)
		return (vsm_err_set(
		    err, "URL longer than %d characters", VSM_CFG_URL_MAX - 1));
	if (strncmp(url, "tcp://", 6) == 0 && (flags & VSM_URL_TCP))
		return (check_tcp(url, url + 6, flags & VSM_URL_LISTEN, err));
	if (strncmp(url, "ipc://", 6) == 0 && (flags & VSM_URL_IPC)) {
		len = strlen(url + 6);
		if (url[6] != '/')
			return (vsm_err_set(err,
			    "'%s': an ipc:// URL needs an absolute path "
			    "(ipc:///run/vsm/control.sock)",
			    url));
		if (len > IPC_PATH)
			return (vsm_err_set(err,
			    "'%s': socket path longer than %d characters", url,
			    IPC_PATH));
		return (0);
	}
	return (vsm_err_set(err, "'%s': expected %s", url, want));
}

int
vsm_store_check(const char *uri, struct vsm_err *err)
{
	if (strncmp(uri, "sqlite:", 7) == 0) {
		if (uri[7] == '\0')
			return (vsm_err_set(err,
			    "'sqlite:' needs a path "
			    "(sqlite:/var/lib/vsm/vsm.db)"));
		return (0);
	}
	if ((strncmp(uri, "postgresql://", 13) == 0 && uri[13] != '\0') ||
	    (strncmp(uri, "postgres://", 11) == 0 && uri[11] != '\0'))
		return (0);
	return (vsm_err_set(
	    err, "'%s': expected sqlite:PATH or postgresql://...", uri));
}

int
vsm_conninfo_has_secret(const char *s)
{
	const char *p, *at, *end;
	size_t      i;

	for (p = s; *p != '\0'; p++) {
		for (i = 0; i < 9 && p[i] != '\0'; i++)
			if (tolower((unsigned char)p[i]) != "password="[i])
				break;
		if (i == 9)
			return (1);
	}
	/* scheme://user:secret@host */
	if ((p = strstr(s, "://")) != NULL) {
		p += 3;
		end = p + strcspn(p, "/?");
		if ((at = memchr(p, '@', (size_t)(end - p))) != NULL &&
		    memchr(p, ':', (size_t)(at - p)) != NULL)
			return (1);
	}
	return (0);
}

/* The YAML walker. */

static const char *
node_kind(const yaml_node_t *node)
{
	switch (node->type) {
	case YAML_SCALAR_NODE:
		return (vsm_cfg_is_null(node) ? "nothing" : "a string");
	case YAML_SEQUENCE_NODE:
		return ("a list");
	case YAML_MAPPING_NODE:
		return ("a mapping");
	default:
		return ("nothing");
	}
}

int
vsm_cfg_error(
    struct vsm_cfg_ctx *ctx, const yaml_node_t *node, const char *fmt, ...)
{
	char    msg[400];
	va_list ap;
	size_t  line = node != NULL ? node->start_mark.line + 1 : 1;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ctx->where[0] != '\0')
		return (vsm_err_set(ctx->err, "%s:%zu: %s: %s", ctx->file, line,
		    ctx->where, msg));
	return (vsm_err_set(ctx->err, "%s:%zu: %s", ctx->file, line, msg));
}

int
vsm_cfg_is_null(const yaml_node_t *node)
{
	const char *v;

	if (node == NULL)
		return (1);
	if (node->type != YAML_SCALAR_NODE ||
	    node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return (0);
	v = (const char *)node->data.scalar.value;
	return (v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	    strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0);
}

const char *
vsm_cfg_scalar(struct vsm_cfg_ctx *ctx, yaml_node_t *node, const char *what)
{
	const char *v;

	if (node->type != YAML_SCALAR_NODE) {
		vsm_cfg_error(
		    ctx, node, "expected %s, got %s", what, node_kind(node));
		return (NULL);
	}
	v = (const char *)node->data.scalar.value;
	if (strlen(v) != node->data.scalar.length) {
		vsm_cfg_error(ctx, node, "NUL character in value");
		return (NULL);
	}
	return (v);
}

size_t
vsm_cfg_push(struct vsm_cfg_ctx *ctx, const char *key)
{
	size_t mark = strlen(ctx->where);

	snprintf(ctx->where + mark, sizeof(ctx->where) - mark, "%s%s",
	    mark > 0 && key[0] != '[' ? "." : "", key);
	return (mark);
}

void
vsm_cfg_pop(struct vsm_cfg_ctx *ctx, size_t mark)
{
	ctx->where[mark] = '\0';
}

int
vsm_cfg_abspath(
    struct vsm_cfg_ctx *ctx, const yaml_node_t *node, char *path, size_t size)
{
	char tmp[VSM_CFG_PATH_MAX];

	if (path[0] == '\0' || path[0] == '/')
		return (0);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/%s", ctx->dir, path) >=
	        sizeof(tmp) ||
	    strlen(tmp) >= size)
		return (vsm_cfg_error(
		    ctx, node, "path too long once made absolute"));
	memcpy(path, tmp, strlen(tmp) + 1);
	return (0);
}

/* Edit distance of two short strings (capped at 64 characters). */
static size_t
distance(const char *a, const char *b)
{
	size_t la = strnlen(a, 64), lb = strnlen(b, 64), i, j, prev, cur, t;
	size_t row[65];

	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			cur = row[j];
			t = prev + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < t)
				t = row[j] + 1;
			if (row[j - 1] + 1 < t)
				t = row[j - 1] + 1;
			row[j] = t;
			prev = cur;
		}
	}
	return (row[lb]);
}

static int
unknown_key(struct vsm_cfg_ctx *ctx, yaml_node_t *knode, const char *key,
    const struct vsm_cfg_field *fields)
{
	const char *best = NULL;
	size_t      d, bestd = 3, i;

	for (i = 0; fields[i].key != NULL; i++) {
		d = distance(key, fields[i].key);
		if (d < bestd) {
			bestd = d;
			best = fields[i].key;
		}
	}
	if (best != NULL)
		return (vsm_cfg_error(ctx, knode,
		    "unknown key '%s' (did you mean '%s'?)", key, best));
	/* A key of a nested table written one level too far left. */
	for (i = 0; fields[i].key != NULL; i++) {
		const struct vsm_cfg_field *sub = fields[i].sub;

		for (; fields[i].type == VSM_CFG_T_MAP && sub->key != NULL;
		     sub++)
			if (strcmp(sub->key, key) == 0)
				return (vsm_cfg_error(ctx, knode,
				    "unknown key '%s' (indent it under '%s')",
				    key, fields[i].key));
	}
	return (vsm_cfg_error(ctx, knode, "unknown key '%s'", key));
}

/* A plain (unquoted) integer scalar, or "unlimited" when allowed. */
static int
read_number(struct vsm_cfg_ctx *ctx, yaml_node_t *node,
    const struct vsm_cfg_field *f, long long *out)
{
	const char *v;
	char       *end;

	if ((v = vsm_cfg_scalar(ctx, node, "a number")) == NULL)
		return (-1);
	if ((f->flags & VSM_CFG_UNLIMITED) && strcmp(v, "unlimited") == 0) {
		*out = 0;
		return (0);
	}
	if (node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return (vsm_cfg_error(
		    ctx, node, "expected a number, got a quoted string"));
	errno = 0;
	*out = strtoll(v, &end, 10);
	if (v[0] == '\0' || *end != '\0' || errno != 0)
		return (vsm_cfg_error(ctx, node, "expected %s, got '%s'",
		    (f->flags & VSM_CFG_UNLIMITED) ? "a number or 'unlimited'"
		                                   : "a number",
		    v));
	if (*out < f->min || *out > f->max)
		return (vsm_cfg_error(ctx, node,
		    "%lld is out of range %lld-%lld", *out, f->min, f->max));
	return (0);
}

static int
read_measure(struct vsm_cfg_ctx *ctx, yaml_node_t *node,
    const struct vsm_cfg_field *f, uint64_t *out)
{
	struct vsm_err e;
	const char    *v;
	char           lo[32], hi[32];
	int            dur = f->type == VSM_CFG_T_DURATION;

	if ((v = vsm_cfg_scalar(ctx, node, dur ? "a duration" : "a size")) ==
	    NULL)
		return (-1);
	if ((f->flags & VSM_CFG_UNLIMITED) && strcmp(v, "unlimited") == 0) {
		*out = 0;
		return (0);
	}
	if ((dur ? vsm_duration_parse(v, out, &e)
	         : vsm_size_parse(v, out, &e)) == -1)
		return (vsm_cfg_error(ctx, node, "%s", e.msg));
	if (*out < (uint64_t)f->min || *out > (uint64_t)f->max) {
		if (dur) {
			vsm_duration_format((uint64_t)f->min, lo, sizeof(lo));
			vsm_duration_format((uint64_t)f->max, hi, sizeof(hi));
		} else {
			vsm_size_format((uint64_t)f->min, lo, sizeof(lo));
			vsm_size_format((uint64_t)f->max, hi, sizeof(hi));
		}
		return (vsm_cfg_error(ctx, node, "'%s' is out of range %s-%s%s",
		    v, lo, hi,
		    (f->flags & VSM_CFG_UNLIMITED) ? " (or 'unlimited')" : ""));
	}
	return (0);
}

static int
read_string(struct vsm_cfg_ctx *ctx, yaml_node_t *node,
    const struct vsm_cfg_field *f, char *dst)
{
	struct vsm_err e;
	const char    *v;

	if ((v = vsm_cfg_scalar(ctx, node, "a string")) == NULL)
		return (-1);
	if (strlen(v) >= f->size)
		return (vsm_cfg_error(
		    ctx, node, "longer than %zu characters", f->size - 1));
	if (v[0] == '\0' && (f->flags & VSM_CFG_NONEMPTY))
		return (vsm_cfg_error(ctx, node, "must not be empty"));
	if (f->type == VSM_CFG_T_URL && vsm_url_check(v, (int)f->min, &e) == -1)
		return (vsm_cfg_error(ctx, node, "%s", e.msg));
	if (f->check != NULL && f->check(v, &e) == -1)
		return (vsm_cfg_error(ctx, node, "%s", e.msg));
	memcpy(dst, v, strlen(v) + 1);
	if ((f->flags & VSM_CFG_SECRET) && v[0] != '\0')
		ctx->secrets = 1;
	if (f->type == VSM_CFG_T_PATH)
		return (vsm_cfg_abspath(ctx, node, dst, f->size));
	return (0);
}

int
vsm_strlist_add(struct vsm_strlist *l, const char *s)
{
	char **v;
	char  *d;

	if ((d = strdup(s)) == NULL)
		return (-1);
	if ((v = realloc(l->v, (l->n + 1) * sizeof(*v))) == NULL) {
		free(d);
		return (-1);
	}
	l->v = v;
	l->v[l->n++] = d;
	return (0);
}

void
vsm_strlist_clear(struct vsm_strlist *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int
vsm_strlist_has_prefix_dir(const struct vsm_strlist *l, const char *path)
{
	size_t i, len;

	if (path[0] != '/' || strstr(path, "/../") != NULL ||
	    (strlen(path) >= 3 && strcmp(path + strlen(path) - 3, "/..") == 0))
		return (0);
	for (i = 0; i < l->n; i++) {
		len = strlen(l->v[i]);
		while (len > 1 && l->v[i][len - 1] == '/')
			len--;
		if (strncmp(path, l->v[i], len) == 0 &&
		    (path[len] == '\0' || path[len] == '/' || len == 1))
			return (1);
	}
	return (0);
}

/* A LIST field: a sequence (or one scalar) replacing the default. */
static int
read_list(struct vsm_cfg_ctx *ctx, yaml_node_t *node,
    const struct vsm_cfg_field *f, struct vsm_strlist *l)
{
	struct vsm_cfg_field one = *f;
	yaml_node_item_t    *item;
	yaml_node_t         *n;
	size_t               count, mark;
	char                 buf[VSM_CFG_PATH_MAX], idx[24];

	vsm_strlist_clear(l);
	if (vsm_cfg_is_null(node))
		return (0);
	if (node->type == YAML_SCALAR_NODE)
		count = 1;
	else if (node->type == YAML_SEQUENCE_NODE)
		count = (size_t)(node->data.sequence.items.top -
		    node->data.sequence.items.start);
	else
		return (vsm_cfg_error(ctx, node, "expected a list of %s",
		    (f->flags & VSM_CFG_LIST_PATHS) ? "paths" : "strings"));
	if (count > (size_t)f->max)
		return (
		    vsm_cfg_error(ctx, node, "more than %lld entries", f->max));
	one.type =
	    (f->flags & VSM_CFG_LIST_PATHS) ? VSM_CFG_T_PATH : VSM_CFG_T_STR;
	one.flags = VSM_CFG_NONEMPTY;
	if (one.size > sizeof(buf))
		one.size = sizeof(buf);
	for (item = node->type == YAML_SCALAR_NODE
	         ? NULL
	         : node->data.sequence.items.start;
	     count > 0; count--) {
		n = item == NULL ? node
		                 : yaml_document_get_node(ctx->doc, *item++);
		if (n == NULL)
			return (vsm_cfg_error(ctx, node, "broken document"));
		snprintf(idx, sizeof(idx), "[%zu]", l->n);
		mark = vsm_cfg_push(ctx, idx);
		if (read_string(ctx, n, &one, buf) == -1)
			return (-1);
		if (vsm_strlist_add(l, buf) == -1)
			return (vsm_cfg_error(ctx, n, "out of memory"));
		vsm_cfg_pop(ctx, mark);
	}
	return (0);
}

static int
read_field(struct vsm_cfg_ctx *ctx, yaml_node_t *node,
    const struct vsm_cfg_field *f, void *base)
{
	char       *p = (char *)base + f->off;
	const char *v;
	long long   n;
	int         lvl;

	switch (f->type) {
	case VSM_CFG_T_STR:
	case VSM_CFG_T_PATH:
	case VSM_CFG_T_URL:
		return (read_string(ctx, node, f, p));
	case VSM_CFG_T_DURATION:
	case VSM_CFG_T_SIZE:
		return (read_measure(ctx, node, f, (uint64_t *)(void *)p));
	case VSM_CFG_T_UINT:
		if (read_number(ctx, node, f, &n) == -1)
			return (-1);
		*(unsigned *)(void *)p = (unsigned)n;
		return (0);
	case VSM_CFG_T_U64:
		if (read_number(ctx, node, f, &n) == -1)
			return (-1);
		*(uint64_t *)(void *)p = (uint64_t)n;
		return (0);
	case VSM_CFG_T_INT:
		if (read_number(ctx, node, f, &n) == -1)
			return (-1);
		*(int *)(void *)p = (int)n;
		return (0);
	case VSM_CFG_T_BOOL:
		if ((v = vsm_cfg_scalar(ctx, node, "true or false")) == NULL)
			return (-1);
		if (node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		    strcmp(v, "true") == 0)
			*(int *)(void *)p = 1;
		else if (node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		    strcmp(v, "false") == 0)
			*(int *)(void *)p = 0;
		else
			return (vsm_cfg_error(
			    ctx, node, "expected true or false, got '%s'", v));
		return (0);
	case VSM_CFG_T_LOGLEVEL:
		if ((v = vsm_cfg_scalar(ctx, node, "a log level")) == NULL)
			return (-1);
		if ((lvl = vsm_log_parse_level(v)) == -1)
			return (vsm_cfg_error(ctx, node,
			    "expected error, warn, info or debug, got '%s'",
			    v));
		*(int *)(void *)p = lvl;
		return (0);
	case VSM_CFG_T_MAP:
		if (vsm_cfg_is_null(node))
			return (0);
		return (vsm_cfg_map(ctx, node, f->sub, base));
	case VSM_CFG_T_FN:
		return (f->fn(ctx, node, base));
	case VSM_CFG_T_LIST:
		return (
		    read_list(ctx, node, f, (struct vsm_strlist *)(void *)p));
	}
	return (vsm_cfg_error(ctx, node, "internal: bad field type"));
}

int
vsm_cfg_map(struct vsm_cfg_ctx *ctx, yaml_node_t *node,
    const struct vsm_cfg_field *fields, void *base)
{
	yaml_node_pair_t *pair;
	yaml_node_t      *k, *v;
	size_t            seen[64] = {0}, i, mark;
	const char       *key;

	if (node->type != YAML_MAPPING_NODE)
		return (vsm_cfg_error(
		    ctx, node, "expected a mapping, got %s", node_kind(node)));
	for (pair = node->data.mapping.pairs.start;
	     pair < node->data.mapping.pairs.top; pair++) {
		k = yaml_document_get_node(ctx->doc, pair->key);
		v = yaml_document_get_node(ctx->doc, pair->value);
		if (k == NULL || v == NULL)
			return (vsm_cfg_error(ctx, node, "broken document"));
		if (k->type != YAML_SCALAR_NODE)
			return (vsm_cfg_error(ctx, k,
			    "a key must be a string, got %s", node_kind(k)));
		key = (const char *)k->data.scalar.value;
		for (i = 0; fields[i].key != NULL; i++)
			if (strcmp(fields[i].key, key) == 0)
				break;
		if (fields[i].key == NULL)
			return (unknown_key(ctx, k, key, fields));
		if (i >= 64)
			return (vsm_cfg_error(ctx, k, "internal: table"));
		if (seen[i] != 0)
			return (vsm_cfg_error(ctx, k,
			    "duplicate key '%s' (first at line %zu)", key,
			    seen[i]));
		seen[i] = k->start_mark.line + 1;
		mark = vsm_cfg_push(ctx, key);
		if (read_field(ctx, v, &fields[i], base) == -1)
			return (-1);
		vsm_cfg_pop(ctx, mark);
	}
	for (i = 0; fields[i].key != NULL; i++)
		if ((fields[i].flags & VSM_CFG_REQUIRED) && seen[i] == 0)
			return (vsm_cfg_error(ctx, node,
			    "missing required key '%s'", fields[i].key));
	return (0);
}

void
vsm_cfg_pairs_free(struct vsm_label *pairs, size_t n)
{
	size_t i;

	if (pairs == NULL)
		return;
	for (i = 0; i < n; i++) {
		free((void *)(uintptr_t)pairs[i].key);
		free((void *)(uintptr_t)pairs[i].value);
	}
	free(pairs);
}

int
vsm_cfg_pairs(struct vsm_cfg_ctx *ctx, yaml_node_t *node, size_t max,
    size_t valmax, vsm_cfg_check_fn *keycheck, vsm_cfg_check_fn *valcheck,
    struct vsm_label **out, size_t *nout)
{
	yaml_node_pair_t *pair;
	yaml_node_t      *k, *v;
	struct vsm_label *pairs = NULL;
	struct vsm_err    e;
	const char       *key, *val;
	size_t            n = 0, count, i, mark = 0;
	int               ret = -1, pushed = 0;

	*out = NULL;
	*nout = 0;
	if (vsm_cfg_is_null(node))
		return (0);
	if (node->type != YAML_MAPPING_NODE)
		return (vsm_cfg_error(
		    ctx, node, "expected a mapping, got %s", node_kind(node)));
	count = (size_t)(node->data.mapping.pairs.top -
	    node->data.mapping.pairs.start);
	if (count > max)
		return (vsm_cfg_error(ctx, node, "more than %zu entries", max));
	if (count == 0)
		return (0);
	if ((pairs = calloc(count, sizeof(*pairs))) == NULL)
		return (vsm_cfg_error(ctx, node, "out of memory"));
	for (pair = node->data.mapping.pairs.start;
	     pair < node->data.mapping.pairs.top; pair++) {
		k = yaml_document_get_node(ctx->doc, pair->key);
		v = yaml_document_get_node(ctx->doc, pair->value);
		if (k == NULL || v == NULL) {
			vsm_cfg_error(ctx, node, "broken document");
			goto out;
		}
		if ((key = vsm_cfg_scalar(ctx, k, "a string key")) == NULL)
			goto out;
		if (keycheck != NULL && keycheck(key, &e) == -1) {
			vsm_cfg_error(ctx, k, "%s", e.msg);
			goto out;
		}
		for (i = 0; i < n; i++)
			if (strcmp(pairs[i].key, key) == 0)
				break;
		if (i < n) {
			vsm_cfg_error(ctx, k, "duplicate key '%s'", key);
			goto out;
		}
		mark = vsm_cfg_push(ctx, key);
		pushed = 1;
		if ((val = vsm_cfg_scalar(ctx, v, "a string")) == NULL)
			goto out;
		if (strlen(val) > valmax) {
			vsm_cfg_error(
			    ctx, v, "longer than %zu characters", valmax);
			goto out;
		}
		if (valcheck != NULL && valcheck(val, &e) == -1) {
			vsm_cfg_error(ctx, v, "%s", e.msg);
			goto out;
		}
		vsm_cfg_pop(ctx, mark);
		pushed = 0;
		if ((pairs[n].key = strdup(key)) == NULL ||
		    (pairs[n].value = strdup(val)) == NULL) {
			n++;
			vsm_cfg_error(ctx, v, "out of memory");
			goto out;
		}
		n++;
	}
	*out = pairs;
	*nout = n;
	pairs = NULL;
	ret = 0;
out:
	if (pushed)
		vsm_cfg_pop(ctx, mark);
	vsm_cfg_pairs_free(pairs, n);
	return (ret);
}

yaml_node_t *
vsm_cfg_find(struct vsm_cfg_ctx *ctx, yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *pair;
	yaml_node_t      *k;

	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return (NULL);
	for (pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		k = yaml_document_get_node(ctx->doc, pair->key);
		if (k != NULL && k->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)k->data.scalar.value, key) == 0)
			return (yaml_document_get_node(ctx->doc, pair->value));
	}
	return (NULL);
}

/* Read at most VSM_CFG_FILE_MAX bytes of a regular file. */
static int
read_file(const char *path, char **buf, size_t *len, mode_t *mode,
    struct vsm_err *err)
{
	struct stat st;
	ssize_t     n;
	size_t      off = 0;
	int         fd, ret = -1;

	*buf = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (vsm_err_set(err, "%s: %s", path, strerror(errno)));
	if (fstat(fd, &st) == -1) {
		vsm_err_set(err, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		vsm_err_set(err, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > VSM_CFG_FILE_MAX) {
		vsm_err_set(
		    err, "%s: larger than %d bytes", path, VSM_CFG_FILE_MAX);
		goto out;
	}
	*mode = st.st_mode;
	if ((*buf = malloc((size_t)st.st_size + 1)) == NULL) {
		vsm_err_set(err, "%s: out of memory", path);
		goto out;
	}
	while (off < (size_t)st.st_size) {
		n = read(fd, *buf + off, (size_t)st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			vsm_err_set(err, "%s: %s", path,
			    n == 0 ? "file shrank while read"
			           : strerror(errno));
			goto out;
		}
		off += (size_t)n;
	}
	(*buf)[off] = '\0';
	*len = off;
	ret = 0;
out:
	if (ret == -1) {
		free(*buf);
		*buf = NULL;
	}
	close(fd);
	return (ret);
}

/* A libyaml parse error as FILE:LINE: message. */
static int
parse_error(const char *path, const yaml_parser_t *parser, const char *buf,
    size_t len, struct vsm_err *err)
{
	const yaml_mark_t *m = &parser->problem_mark;

	if (m->index < len && buf[m->index] == '\t')
		return (vsm_err_set(err,
		    "%s:%zu: tab character: YAML indents with spaces only",
		    path, m->line + 1));
	/*
	 * Something left open to the end of the file (a quote, a flow
	 * mapping): the line where it was opened is the one to fix.
	 */
	if (parser->context != NULL && m->index >= len)
		return (vsm_err_set(err,
		    "%s:%zu: %s %s: not closed before "
		    "the end of the file",
		    path, parser->context_mark.line + 1, parser->context,
		    parser->problem ? parser->problem : "error"));
	if (parser->context != NULL)
		return (vsm_err_set(err, "%s:%zu: %s %s (from line %zu)", path,
		    m->line + 1, parser->problem ? parser->problem : "error",
		    parser->context, parser->context_mark.line + 1));
	return (vsm_err_set(err, "%s:%zu: %s", path, m->line + 1,
	    parser->problem ? parser->problem : "invalid YAML"));
}

int
vsm_cfg_load(const char *path, const struct vsm_cfg_field *fields, void *base,
    int (*post)(struct vsm_cfg_ctx *, yaml_node_t *, void *), int *exposed,
    struct vsm_err *err)
{
	struct vsm_cfg_ctx ctx;
	yaml_parser_t      parser;
	yaml_document_t    doc, doc2;
	yaml_node_t       *root, *root2;
	char              *buf = NULL, real[PATH_MAX];
	size_t             len = 0;
	mode_t             mode = 0;
	int                ret = -1, parser_ok = 0, doc_ok = 0;

	memset(&ctx, 0, sizeof(ctx));
	ctx.file = path;
	ctx.err = err;
	ctx.doc = &doc;
	*exposed = 0;
	if (read_file(path, &buf, &len, &mode, err) == -1)
		goto out;
	if (realpath(path, real) == NULL) {
		vsm_err_set(err, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (snprintf(ctx.dir, sizeof(ctx.dir), "%s", dirname(real)) >=
	    (int)sizeof(ctx.dir)) {
		vsm_err_set(err, "%s: path too long", path);
		goto out;
	}
	if (!yaml_parser_initialize(&parser)) {
		vsm_err_set(err, "%s: out of memory", path);
		goto out;
	}
	parser_ok = 1;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		parse_error(path, &parser, buf, len, err);
		goto out;
	}
	doc_ok = 1;
	if ((root = yaml_document_get_root_node(&doc)) == NULL ||
	    vsm_cfg_is_null(root)) {
		vsm_err_set(err,
		    "%s:1: empty config: expected a mapping of "
		    "settings",
		    path);
		goto out;
	}
	/* Anything after the first document is an error too. */
	if (!yaml_parser_load(&parser, &doc2)) {
		parse_error(path, &parser, buf, len, err);
		goto out;
	}
	root2 = yaml_document_get_root_node(&doc2);
	if (root2 != NULL) {
		vsm_err_set(err,
		    "%s:%zu: a second YAML document; a config "
		    "file holds one",
		    path, doc2.start_mark.line + 1);
		yaml_document_delete(&doc2);
		goto out;
	}
	yaml_document_delete(&doc2);
	if (root->type != YAML_MAPPING_NODE) {
		vsm_cfg_error(&ctx, root,
		    "expected a mapping of settings, got "
		    "%s",
		    node_kind(root));
		goto out;
	}
	if (vsm_cfg_map(&ctx, root, fields, base) == -1)
		goto out;
	if (post != NULL && post(&ctx, root, base) == -1)
		goto out;
	if (ctx.secrets && (mode & (S_IRGRP | S_IROTH)) != 0) {
		*exposed = 1;
		log_warnx("%s holds secrets but has mode %04o: group or others "
		          "can read them (chmod 600 %s)",
		    path, (unsigned)(mode & 07777), path);
	}
	ret = 0;
out:
	if (doc_ok)
		yaml_document_delete(&doc);
	if (parser_ok)
		yaml_parser_delete(&parser);
	free(buf);
	return (ret);
}

int
vsm_cfg_check_name(const char *s, struct vsm_err *err)
{
	if (!vsm_name_valid(s))
		return (vsm_err_set(err,
		    "'%s' is not a valid name: 1-%d of A-Z a-z 0-9 . _ -, "
		    "starting with a letter or digit",
		    s, VSM_NAME_MAX));
	return (0);
}

int
vsm_cfg_write_new(const char *path, const char *text, vsm_cfg_check_fn *check,
    struct vsm_err *err)
{
	return (vsm_write_new_file(path, text, strlen(text), 0600, check, err));
}

int
vsm_cfg_quote(char *buf, size_t size, const char *s)
{
	size_t off = strlen(buf);
	char   esc[8];

	if (off + 1 >= size)
		return (-1);
	buf[off++] = '"';
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			snprintf(esc, sizeof(esc), "\\%c", *s);
		else if ((unsigned char)*s < 0x20 || *s == 0x7f)
			snprintf(esc, sizeof(esc), "\\x%02x",
			    (unsigned)(unsigned char)*s);
		else {
			esc[0] = *s;
			esc[1] = '\0';
		}
		if (off + strlen(esc) + 2 >= size)
			return (-1);
		memcpy(buf + off, esc, strlen(esc));
		off += strlen(esc);
	}
	buf[off++] = '"';
	buf[off] = '\0';
	return (0);
}

int
vsm_cfg_put(char *buf, size_t size, const char *fmt, ...)
{
	size_t  off = strlen(buf);
	va_list ap;
	int     n;

	va_start(ap, fmt);
	n = vsnprintf(buf + off, size - off, fmt, ap);
	va_end(ap);
	return (n < 0 || (size_t)n >= size - off ? -1 : 0);
}

int
vsm_cfg_put_kv(char *buf, size_t size, const char *indent, const char *key,
    const char *val)
{
	if (vsm_cfg_put(buf, size, "%s%s: ", indent, key) == -1 ||
	    vsm_cfg_quote(buf, size, val) == -1)
		return (-1);
	return (vsm_cfg_put(buf, size, "\n"));
}
