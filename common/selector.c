#include <ctype.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "selector.h"

enum sel_op {
	OP_EQ,
	OP_NE,
	OP_IN,
	OP_NOTIN,
	OP_EXISTS,
	OP_ABSENT,
};

struct sel_term {
	const char *key;
	enum sel_op op;
	size_t      first; /* index of the first value in vals */
	size_t      nvals;
};

/* One allocation: the terms, the value table and the token text. */
struct vsm_selector {
	int             all;
	size_t          nterms;
	size_t          nvals;
	size_t          used; /* bytes of strs in use */
	struct sel_term terms[VSM_SELECTOR_TERMS];
	const char     *vals[VSM_SELECTOR_VALUES];
	char            strs[2 * VSM_SELECTOR_MAX + 2];
};

struct sel_parser {
	const char          *s;
	size_t               pos;
	struct vsm_selector *sel;
	struct vsm_err      *err;
};

static int sel_error(struct sel_parser *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* Set err to "column N: message" for the 0-based offset `at`; -1. */
static int
sel_error(struct sel_parser *p, size_t at, const char *fmt, ...)
{
	char    msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return (vsm_err_set(p->err, "column %zu: %s", at + 1, msg));
}

static int
key_char(int c)
{
	return (isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-' ||
	    c == '/');
}

static int
value_char(int c)
{
	return (key_char(c) || c == ':' || c == '+' || c == '@');
}

static int
glob_char(int c)
{
	return (value_char(c) || c == '*' || c == '?' || c == '[' || c == ']' ||
	    c == '!' || c == '^');
}

/* A value ends at a delimiter; anything else in it is checked later. */
static int
value_end(int c)
{
	return (c == '\0' || c == ',' || c == '(' || c == ')' ||
	    isspace((unsigned char)c));
}

int
vsm_label_key_valid(const char *key)
{
	size_t i;

	if (!isalnum((unsigned char)key[0]))
		return (0);
	for (i = 0; key[i] != '\0'; i++)
		if (i >= VSM_LABEL_MAX || !key_char(key[i]))
			return (0);
	return (1);
}

int
vsm_label_value_valid(const char *value)
{
	size_t i;

	for (i = 0; value[i] != '\0'; i++)
		if (i >= VSM_LABEL_MAX || !value_char(value[i]))
			return (0);
	return (1);
}

int
vsm_name_valid(const char *name)
{
	size_t i;

	if (!isalnum((unsigned char)name[0]))
		return (0);
	for (i = 0; name[i] != '\0'; i++)
		if (i >= VSM_NAME_MAX ||
		    !(isalnum((unsigned char)name[i]) || name[i] == '.' ||
		        name[i] == '_' || name[i] == '-'))
			return (0);
	return (1);
}

/* ASCII only, whatever the locale. */
static int
module_char(int c)
{
	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-');
}

int
vsm_module_name_valid(const char *name)
{
	size_t i;

	if (!((name[0] >= 'a' && name[0] <= 'z') ||
	        (name[0] >= 'A' && name[0] <= 'Z')))
		return (0);
	for (i = 1; name[i] != '\0'; i++) {
		if (i >= VSM_MODULE_NAME_MAX)
			return (0);
		if (name[i] == '.' && name[i - 1] != '.')
			continue;
		if (name[i] == '*' && name[i - 1] == '.' && name[i + 1] == '\0')
			continue;
		if (!module_char((unsigned char)name[i]))
			return (0);
	}
	return (name[i - 1] != '.');
}

static void
skip_ws(struct sel_parser *p)
{
	while (isspace((unsigned char)p->s[p->pos]))
		p->pos++;
}

/* Copy len bytes at start into the selector's string area. */
static const char *
sel_store(struct sel_parser *p, size_t start, size_t len)
{
	struct vsm_selector *sel = p->sel;
	char                *dst = sel->strs + sel->used;

	/* Tokens never overlap and the input is capped: this always fits. */
	memcpy(dst, p->s + start, len);
	dst[len] = '\0';
	sel->used += len + 1;
	return (dst);
}

/* One value after =, != or inside a list. */
static int
parse_value(struct sel_parser *p, int isname, const char *after)
{
	size_t start, len, i, max = isname ? VSM_GLOB_MAX : VSM_LABEL_MAX;

	skip_ws(p);
	start = p->pos;
	while (!value_end(p->s[p->pos]))
		p->pos++;
	len = p->pos - start;
	if (len == 0)
		return (
		    sel_error(p, start, "expected a value after %s", after));
	for (i = start; i < p->pos; i++)
		if (!(isname ? glob_char(p->s[i]) : value_char(p->s[i])))
			return (sel_error(p, i, "invalid character '%c' in %s",
			    p->s[i], isname ? "name pattern" : "label value"));
	if (len > max)
		return (sel_error(
		    p, start, "value longer than %zu characters", max));
	if (p->sel->nvals == VSM_SELECTOR_VALUES)
		return (sel_error(
		    p, start, "more than %d values", VSM_SELECTOR_VALUES));
	p->sel->vals[p->sel->nvals++] = sel_store(p, start, len);
	return (0);
}

/* "(V1, V2, ...)" after in / notin. */
static int
parse_list(struct sel_parser *p, int isname, const char *op)
{
	skip_ws(p);
	if (p->s[p->pos] != '(')
		return (sel_error(p, p->pos, "expected '(' after '%s'", op));
	p->pos++;
	for (;;) {
		if (parse_value(p, isname, "'(' or ','") == -1)
			return (-1);
		skip_ws(p);
		if (p->s[p->pos] == ')')
			break;
		if (p->s[p->pos] == '\0')
			return (sel_error(
			    p, p->pos, "unterminated list: expected ')'"));
		if (p->s[p->pos] != ',')
			return (sel_error(p, p->pos, "expected ',' or ')'"));
		p->pos++;
	}
	p->pos++;
	return (0);
}

/* The length of the run of key characters at s. */
static size_t
word_len(const char *s)
{
	size_t n = 0;

	while (key_char(s[n]))
		n++;
	return (n);
}

static int
parse_term(struct sel_parser *p)
{
	struct vsm_selector *sel = p->sel;
	struct sel_term     *t;
	size_t               start, len, oppos;
	int                  absent = 0, isname;
	char                 c;

	skip_ws(p);
	start = p->pos;
	if (p->s[p->pos] == '!' && p->s[p->pos + 1] != '=') {
		absent = 1;
		p->pos++;
		skip_ws(p);
	}
	len = word_len(p->s + p->pos);
	if (len == 0) {
		if (p->s[p->pos] == '\0')
			return (sel_error(p, p->pos, "expected a term"));
		return (sel_error(p, p->pos,
		    "unexpected '%c': expected a label key", p->s[p->pos]));
	}
	if (!isalnum((unsigned char)p->s[p->pos]))
		return (sel_error(
		    p, p->pos, "a label key starts with a letter or digit"));
	if (len > VSM_LABEL_MAX)
		return (sel_error(p, p->pos,
		    "label key longer than %d characters", VSM_LABEL_MAX));
	if (sel->nterms == VSM_SELECTOR_TERMS)
		return (sel_error(
		    p, start, "more than %d terms", VSM_SELECTOR_TERMS));
	t = &sel->terms[sel->nterms];
	t->key = sel_store(p, p->pos, len);
	t->first = sel->nvals;
	t->nvals = 0;
	p->pos += len;
	isname = strcmp(t->key, "name") == 0;
	skip_ws(p);
	c = p->s[p->pos];
	oppos = p->pos;

	if (!absent && strcmp(t->key, "all") == 0 && (c == '\0' || c == ',')) {
		if (sel->nterms > 0 || c == ',')
			return (sel_error(p, start,
			    "'all' cannot be combined with other terms"));
		sel->all = 1;
		return (0);
	}
	if (absent || c == '\0' || c == ',') {
		if (isname)
			return (sel_error(p, oppos,
			    "expected '=', '!=', 'in' or 'notin' after "
			    "'name'"));
		if (absent && c != '\0' && c != ',')
			return (sel_error(p, oppos,
			    "expected ',' or the end after '!%s'", t->key));
		t->op = absent ? OP_ABSENT : OP_EXISTS;
	} else if (c == '=') {
		p->pos++;
		if (p->s[p->pos] == '=')
			p->pos++;
		t->op = OP_EQ;
		if (parse_value(p, isname, "'='") == -1)
			return (-1);
	} else if (c == '!' && p->s[p->pos + 1] == '=') {
		p->pos += 2;
		t->op = OP_NE;
		if (parse_value(p, isname, "'!='") == -1)
			return (-1);
	} else if ((len = word_len(p->s + p->pos)) == 2 &&
	    strncmp(p->s + p->pos, "in", 2) == 0) {
		p->pos += 2;
		t->op = OP_IN;
		if (parse_list(p, isname, "in") == -1)
			return (-1);
	} else if (len == 5 && strncmp(p->s + p->pos, "notin", 5) == 0) {
		p->pos += 5;
		t->op = OP_NOTIN;
		if (parse_list(p, isname, "notin") == -1)
			return (-1);
	} else
		return (sel_error(p, oppos,
		    "expected '=', '!=', 'in' or 'notin' after '%s'", t->key));
	t->nvals = sel->nvals - t->first;
	sel->nterms++;
	return (0);
}

int
vsm_selector_parse(
    const char *str, struct vsm_selector **out, struct vsm_err *err)
{
	struct sel_parser p = {.s = str, .pos = 0, .err = err};
	int               ret = -1;

	*out = NULL;
	if (strnlen(str, VSM_SELECTOR_MAX + 1) > VSM_SELECTOR_MAX)
		return (vsm_err_set(err,
		    "column %d: selector longer than %d characters",
		    VSM_SELECTOR_MAX + 1, VSM_SELECTOR_MAX));
	if ((p.sel = calloc(1, sizeof(*p.sel))) == NULL)
		return (vsm_err_set(err, "out of memory"));
	skip_ws(&p);
	if (str[p.pos] == '\0') {
		sel_error(&p, p.pos,
		    "empty selector (use 'all' for every "
		    "host)");
		goto out;
	}
	for (;;) {
		if (parse_term(&p) == -1)
			goto out;
		skip_ws(&p);
		if (str[p.pos] == '\0')
			break;
		if (str[p.pos] != ',') {
			sel_error(&p, p.pos,
			    "expected ',' or the end of the "
			    "selector");
			goto out;
		}
		p.pos++;
		skip_ws(&p);
		if (str[p.pos] == '\0') {
			sel_error(&p, p.pos, "expected a term after ','");
			goto out;
		}
	}
	*out = p.sel;
	p.sel = NULL;
	ret = 0;
out:
	free(p.sel);
	return (ret);
}

static const char *
label_get(const struct vsm_label *labels, size_t nlabels, const char *key)
{
	size_t i;

	for (i = 0; i < nlabels; i++)
		if (labels[i].key != NULL && strcmp(labels[i].key, key) == 0)
			return (labels[i].value != NULL ? labels[i].value : "");
	return (NULL);
}

/* Does any value of t match: a glob for `name`, equality otherwise. */
static int
term_any(const struct vsm_selector *sel, const struct sel_term *t, int isname,
    const char *have)
{
	size_t i;

	if (have == NULL)
		return (0);
	for (i = t->first; i < t->first + t->nvals; i++) {
		if (isname ? fnmatch(sel->vals[i], have, 0) == 0
		           : strcmp(sel->vals[i], have) == 0)
			return (1);
	}
	return (0);
}

int
vsm_selector_match(const struct vsm_selector *sel, const char *name,
    const struct vsm_label *labels, size_t nlabels)
{
	const struct sel_term *t;
	const char            *have;
	size_t                 i;
	int                    isname, ok = 0;

	if (sel->all)
		return (1);
	for (i = 0; i < sel->nterms; i++) {
		t = &sel->terms[i];
		isname = strcmp(t->key, "name") == 0;
		have = isname ? (name != NULL ? name : "")
		              : label_get(labels, nlabels, t->key);
		switch (t->op) {
		case OP_EQ:
		case OP_IN:
			ok = term_any(sel, t, isname, have);
			break;
		case OP_NE:
		case OP_NOTIN:
			ok = !term_any(sel, t, isname, have);
			break;
		case OP_EXISTS:
			ok = have != NULL;
			break;
		case OP_ABSENT:
			ok = have == NULL;
			break;
		}
		if (!ok)
			return (0);
	}
	return (1);
}

int
vsm_selector_is_all(const struct vsm_selector *sel)
{
	return (sel->all);
}

/* Append to buf at *off; -1 once it no longer fits. */
static int
append(char *buf, size_t len, size_t *off, const char *s)
{
	int n;

	if (*off >= len)
		return (-1);
	n = snprintf(buf + *off, len - *off, "%s", s);
	if (n < 0 || (size_t)n >= len - *off) {
		*off = len;
		return (-1);
	}
	*off += (size_t)n;
	return (0);
}

int
vsm_selector_format(const struct vsm_selector *sel, char *buf, size_t len)
{
	static const char *const ops[] = {
	    [OP_EQ] = "=",
	    [OP_NE] = "!=",
	    [OP_IN] = " in (",
	    [OP_NOTIN] = " notin (",
	    [OP_EXISTS] = "",
	    [OP_ABSENT] = "",
	};
	const struct sel_term *t;
	size_t                 i, j, off = 0;
	int                    rc = 0;

	if (len == 0)
		return (-1);
	buf[0] = '\0';
	if (sel->all)
		return (append(buf, len, &off, "all"));
	for (i = 0; i < sel->nterms; i++) {
		t = &sel->terms[i];
		if (i > 0)
			rc |= append(buf, len, &off, ",");
		if (t->op == OP_ABSENT)
			rc |= append(buf, len, &off, "!");
		rc |= append(buf, len, &off, t->key);
		rc |= append(buf, len, &off, ops[t->op]);
		for (j = 0; j < t->nvals; j++) {
			if (j > 0)
				rc |= append(buf, len, &off, ",");
			rc |= append(buf, len, &off, sel->vals[t->first + j]);
		}
		if (t->op == OP_IN || t->op == OP_NOTIN)
			rc |= append(buf, len, &off, ")");
	}
	return (rc == 0 ? 0 : -1);
}

void
vsm_selector_free(struct vsm_selector *sel)
{
	free(sel);
}
