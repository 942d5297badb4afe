/*
 * selector.h: which hosts a piece of work targets.
 *
 *	all				every host
 *	name=db-*			the host name matches a glob (fnmatch)
 *	role=db,env=prod		label equality; terms are and-ed
 *	env!=prod			a missing label also satisfies !=
 *	role in (db,cache)		one of several values
 *	role notin (db,cache)		none of them (or no such label)
 *	backup				the label exists
 *	!backup				the label does not exist
 *
 * Whitespace around tokens is ignored. For the key `name` every value is a
 * glob matched against the host name; for any other key values are
 * compared for equality with the host's label. Errors name the 1-based
 * column of the offending token ("column 6: ...").
 */
#ifndef VSM_SELECTOR_H
#define VSM_SELECTOR_H

#include <stddef.h>

#include "err.h"

#define VSM_SELECTOR_MAX    1024 /* characters in a selector string */
#define VSM_SELECTOR_TERMS  32   /* and-ed terms */
#define VSM_SELECTOR_VALUES 128  /* values in all in (...) lists together */
#define VSM_LABEL_MAX       63   /* characters in a label key or value */
#define VSM_NAME_MAX        63   /* characters in a host name */
#define VSM_GLOB_MAX        255  /* characters in a name glob */
#define VSM_MODULE_NAME_MAX 80   /* characters in a task module name */

/* One label of a host. The selector never keeps these pointers. */
struct vsm_label {
	const char *key;
	const char *value;
};

struct vsm_selector;

/*
 * Compile `str`. On success *out owns the compiled selector (free it with
 * vsm_selector_free) and 0 is returned; on error *out is NULL, err holds
 * "column N: message", and -1 is returned.
 */
int vsm_selector_parse(
    const char *str, struct vsm_selector **out, struct vsm_err *err);

/* 1 when a host with this name and these labels is selected, else 0. */
int vsm_selector_match(const struct vsm_selector *sel, const char *name,
    const struct vsm_label *labels, size_t nlabels);

/* 1 for the selector `all`. */
int vsm_selector_is_all(const struct vsm_selector *sel);

/*
 * The canonical text of sel ("role=db,env in (a,b)") into buf. Returns 0,
 * or -1 when buf is too small (buf then holds a truncated string).
 */
int vsm_selector_format(const struct vsm_selector *sel, char *buf, size_t len);

void vsm_selector_free(struct vsm_selector *sel);

/*
 * Syntax of the parts, shared with the config loader: a label key is 1-63
 * of [A-Za-z0-9._/-] starting with a letter or digit; a label value is 0-63
 * of [A-Za-z0-9._/:+@-]; a host name is 1-63 of [A-Za-z0-9._-] starting
 * with a letter or digit. Each returns 1 when valid.
 */
int vsm_label_key_valid(const char *key);
int vsm_label_value_valid(const char *value);
int vsm_name_valid(const char *name);
/*
 * A task module name as an agent reports it: 1-80 characters, dot-separated
 * words of [A-Za-z0-9_-], the first starting with a letter ("sys.disk",
 * "exec.certbot-renew"); a family is its prefix and '*' ("exec.*"). 1 when
 * valid.
 */
int vsm_module_name_valid(const char *name);

#endif /* VSM_SELECTOR_H */
