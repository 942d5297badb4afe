/*
 * json_pointer.c: RFC 6901 JSON pointers over jansson values (http.h).
 * Jansson has no pointer function of its own.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define JSON_POINTER_TOKEN_MAX 1024

/*
 * Unescape the reference token at s (up to the next '/' or the end) into
 * tok: "~1" is '/', "~0" is '~', any other '~' is an error. *end is set
 * past the token. 0, or -1 with err set.
 */
static int
json_pointer_token(
    const char *s, const char **end, char *tok, size_t cap, struct vsm_err *err)
{
	size_t n = 0;

	for (; *s != '\0' && *s != '/'; s++) {
		if (n + 1 >= cap)
			return (
			    vsm_err_set(err, "JSON pointer token too long"));
		if (*s != '~') {
			tok[n++] = *s;
			continue;
		}
		if (s[1] == '0')
			tok[n++] = '~';
		else if (s[1] == '1')
			tok[n++] = '/';
		else
			return (vsm_err_set(err,
			    "bad escape in JSON pointer: '~' must be followed "
			    "by 0 or 1"));
		s++;
	}
	tok[n] = '\0';
	*end = s;
	return (0);
}

/* The array index tok names: digits, no leading zero. -1 if none. */
static long
json_pointer_index(const char *tok)
{
	char *end;
	long  v;

	if (tok[0] < '0' || tok[0] > '9' || (tok[0] == '0' && tok[1] != '\0'))
		return (-1);
	errno = 0;
	v = strtol(tok, &end, 10);
	if (errno != 0 || *end != '\0')
		return (-1);
	return (v);
}

json_t *
http_json_pointer(json_t *root, const char *ptr, struct vsm_err *err)
{
	char        tok[JSON_POINTER_TOKEN_MAX];
	const char *s = ptr;
	json_t     *cur = root;
	long        idx;

	if (*s != '\0' && *s != '/') {
		vsm_err_set(err, "JSON pointer '%s' must start with '/'", ptr);
		return (NULL);
	}
	while (*s == '/') {
		if (json_pointer_token(s + 1, &s, tok, sizeof(tok), err) == -1)
			return (NULL);
		if (json_is_object(cur)) {
			if ((cur = json_object_get(cur, tok)) == NULL) {
				vsm_err_set(err,
				    "JSON pointer %s: no member '%s'", ptr,
				    tok);
				return (NULL);
			}
		} else if (json_is_array(cur)) {
			idx = json_pointer_index(tok);
			if (idx < 0 || (size_t)idx >= json_array_size(cur)) {
				vsm_err_set(err,
				    "JSON pointer %s: no element '%s' in an "
				    "array of %zu",
				    ptr, tok, json_array_size(cur));
				return (NULL);
			}
			cur = json_array_get(cur, (size_t)idx);
		} else {
			vsm_err_set(err,
			    "JSON pointer %s: '%s' goes into a scalar", ptr,
			    tok);
			return (NULL);
		}
	}
	return (cur);
}
