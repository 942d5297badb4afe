/*
 * ctl_util.c: what every vsmctl command shares: the one-line errors, the
 * option parser, JSON output, times and percentages for people, and
 * aligned text tables.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

#define CTL_TABLE_MAX_ROWS 1000000 /* a cap on what a table holds */
#define CTL_TABLE_MAX_COLS 16

static void ctl_errline(const char *, const char *, va_list)
    __attribute__((format(printf, 2, 0)));

/* Print "vsmctl: MSG[ (usage: vsmctl USAGE)]" as one line. */
static void
ctl_errline(const char *usage, const char *fmt, va_list ap)
{
	char   msg[1024];
	size_t i;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	for (i = 0; msg[i] != '\0'; i++)
		if (msg[i] == '\n' || msg[i] == '\r')
			msg[i] = ' ';
	if (usage != NULL)
		fprintf(stderr, "vsmctl: %s (usage: vsmctl %s)\n", msg, usage);
	else
		fprintf(stderr, "vsmctl: %s\n", msg);
}

/* The operation failed: one line on stderr; returns CTL_FAIL. */
int
ctl_fail(struct ctl *c, const char *fmt, ...)
{
	va_list ap;

	(void)c;
	va_start(ap, fmt);
	ctl_errline(NULL, fmt, ap);
	va_end(ap);
	return (CTL_FAIL);
}

/* Bad usage: one line on stderr with the command's usage; CTL_USAGE. */
int
ctl_usage(struct ctl *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ctl_errline(c->cmd != NULL ? c->cmd->usage : NULL, fmt, ap);
	va_end(ap);
	return (CTL_USAGE);
}

/*
 * The name of the n-th positional argument, from the command's usage
 * ("job show ID" -> "ID"); "argument" when there is none.
 */
static const char *
ctl_posname(struct ctl *c, size_t n)
{
	static char name[64];
	const char *p;
	size_t      len;

	if (c->cmd == NULL)
		return ("argument");
	p = c->cmd->usage + strlen(c->cmd->name);
	for (;;) {
		p += strspn(p, " ");
		if (*p == '\0')
			return ("argument");
		len = strcspn(p, " ");
		if (*p != '[' && *p != '-' && n-- == 0)
			break;
		p += len;
	}
	snprintf(name, sizeof(name), "%.*s", (int)len, p);
	return (name);
}

/* Append one request argument; CTL_OK, or CTL_USAGE when full. */
int
ctl_arg(struct ctl *c, struct ctl_args *a, const char *key, const char *val)
{
	if (a->n >= CTL_MAX_ARGS)
		return (ctl_usage(c, "too many arguments"));
	a->key[a->n] = key;
	a->val[a->n] = val;
	a->n++;
	return (CTL_OK);
}

/*
 * Parse a command's arguments: the options in `opts` (ending with a NULL
 * name; "--opt VALUE" or "--opt=VALUE"), `--json` anywhere, and exactly
 * npos positional arguments into pos[]. "--" ends the options. Returns
 * CTL_OK, or CTL_USAGE with the line printed.
 */
int
ctl_parse(struct ctl *c, int argc, char **argv, const struct ctl_opt *opts,
    const char **pos, size_t npos)
{
	const struct ctl_opt *o;
	const char           *a, *eq, *val;
	size_t                n = 0, len;
	int                   i, dash = 0;

	for (i = 0; i < argc; i++) {
		a = argv[i];
		if (dash || a[0] != '-' || a[1] == '\0') {
			if (n >= npos)
				return (ctl_usage(
				    c, "unexpected argument '%s'", a));
			pos[n++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			dash = 1;
			continue;
		}
		if (strcmp(a, "--json") == 0) {
			c->json = 1;
			continue;
		}
		eq = strchr(a, '=');
		len = eq != NULL ? (size_t)(eq - a) : strlen(a);
		for (o = opts; o != NULL && o->name != NULL; o++)
			if (strlen(o->name) == len &&
			    strncmp(o->name, a, len) == 0)
				break;
		if (o == NULL || o->name == NULL)
			return (
			    ctl_usage(c, "unknown option '%.*s'", (int)len, a));
		if (o->kind == CTL_OPT_FLAG) {
			if (eq != NULL)
				return (
				    ctl_usage(c, "%s takes no value", o->name));
			*(int *)o->p = 1;
			continue;
		}
		if (eq != NULL)
			val = eq + 1;
		else if (i + 1 < argc)
			val = argv[++i];
		else
			return (ctl_usage(c, "%s needs a value", o->name));
		if (o->kind == CTL_OPT_STR)
			*(const char **)o->p = val;
		else if (ctl_arg(c, o->p, o->arg, val) != CTL_OK)
			return (CTL_USAGE);
	}
	if (n < npos)
		return (ctl_usage(c, "missing %s", ctl_posname(c, n)));
	return (CTL_OK);
}

/* The document as one compact line on stdout; CTL_OK or CTL_FAIL. */
int
ctl_print_json(struct ctl *c, json_t *doc)
{
	if (doc == NULL)
		return (ctl_fail(c, "no document to print"));
	if (json_dumpf(doc, stdout,
	        JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER) == -1)
		return (ctl_fail(c, "cannot write the JSON document"));
	putchar('\n');
	return (CTL_OK);
}

int64_t
ctl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

void
ctl_sleep_ms(int ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) == -1)
		;
}

/* "12s ago", "5m ago", "3h ago", "2d ago"; "never" for 0. */
void
ctl_ago(int64_t ms, char *buf, size_t len)
{
	int64_t d;

	if (ms <= 0) {
		snprintf(buf, len, "never");
		return;
	}
	d = (ctl_now() - ms) / 1000;
	if (d < 0)
		d = 0;
	if (d < 120)
		snprintf(buf, len, "%llds ago", (long long)d);
	else if (d < 2 * 3600)
		snprintf(buf, len, "%lldm ago", (long long)(d / 60));
	else if (d < 2 * 86400)
		snprintf(buf, len, "%lldh ago", (long long)(d / 3600));
	else
		snprintf(buf, len, "%lldd ago", (long long)(d / 86400));
}

/* Unix ms as "2024-01-02 15:04:05Z" (UTC); "-" for 0. */
void
ctl_when(int64_t ms, char *buf, size_t len)
{
	struct tm tm;
	time_t    t = (time_t)(ms / 1000);

	if (ms <= 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "-");
}

/* A percentage (null before the first heartbeat: "-"). */
void
ctl_pct(json_t *v, char *buf, size_t len)
{
	if (json_is_number(v))
		snprintf(buf, len, "%.0f%%", json_number_value(v));
	else
		snprintf(buf, len, "-");
}

/* A string member, "" when missing or not a string (borrowed). */
const char *
ctl_str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return (s != NULL ? s : "");
}

/* An integer member, 0 when missing. */
int64_t
ctl_int(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		return ((int64_t)json_integer_value(v));
	if (json_is_real(v))
		return ((int64_t)json_real_value(v));
	return (0);
}

/* --- tables --------------------------------------------------------------- */

struct ctl_table {
	size_t ncol;
	size_t nrow, cap; /* rows */
	char **cell;      /* nrow * ncol, owned */
};

/* A table of ncol columns (at most 16); NULL when out of memory. */
struct ctl_table *
ctl_table_new(size_t ncol)
{
	struct ctl_table *t;

	if (ncol == 0 || ncol > CTL_TABLE_MAX_COLS ||
	    (t = calloc(1, sizeof(*t))) == NULL)
		return (NULL);
	t->ncol = ncol;
	return (t);
}

/*
 * Add a row of ncol strings (copied; control characters become '?').
 * NULL cells print as "-". Returns 0, or -1 when out of memory or full.
 */
int
ctl_table_add(struct ctl_table *t, ...)
{
	va_list     ap;
	const char *s;
	char      **cell;
	size_t      i, j, ncap;
	int         ret = 0;

	if (t->nrow == t->cap) {
		if (t->cap >= CTL_TABLE_MAX_ROWS)
			return (-1);
		ncap = t->cap ? t->cap * 2 : 16;
		if ((cell = reallocarray(
		         t->cell, ncap * t->ncol, sizeof(*cell))) == NULL)
			return (-1);
		t->cell = cell;
		t->cap = ncap;
	}
	cell = t->cell + t->nrow * t->ncol;
	va_start(ap, t);
	for (i = 0; i < t->ncol; i++) {
		s = va_arg(ap, const char *);
		if ((cell[i] = strdup(s != NULL && s[0] ? s : "-")) == NULL) {
			ret = -1;
			continue;
		}
		for (j = 0; cell[i][j] != '\0'; j++)
			if (iscntrl((unsigned char)cell[i][j]))
				cell[i][j] = '?';
	}
	va_end(ap);
	if (ret == -1) {
		for (i = 0; i < t->ncol; i++)
			free(cell[i]);
		return (-1);
	}
	t->nrow++;
	return (0);
}

/* Print with each column as wide as its widest cell, two spaces apart. */
void
ctl_table_print(struct ctl_table *t)
{
	size_t w[CTL_TABLE_MAX_COLS] = {0}, r, i, l;

	for (r = 0; r < t->nrow; r++)
		for (i = 0; i < t->ncol; i++)
			if ((l = strlen(t->cell[r * t->ncol + i])) > w[i])
				w[i] = l;
	for (r = 0; r < t->nrow; r++) {
		for (i = 0; i < t->ncol; i++) {
			if (i + 1 == t->ncol)
				printf("%s\n", t->cell[r * t->ncol + i]);
			else
				printf("%-*s  ", (int)w[i],
				    t->cell[r * t->ncol + i]);
		}
	}
}

void
ctl_table_free(struct ctl_table *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nrow * t->ncol; i++)
		free(t->cell[i]);
	free(t->cell);
	free(t);
}
