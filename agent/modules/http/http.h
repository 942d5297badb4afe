/*
 * http.h: the http family (vsm-task-http: http.check, cert.check) and
 * the pieces sys.health reuses: the http.allow test, one capped fetch with
 * libcurl, a JSON pointer walker and the certificate reader.
 */
#ifndef VSM_HTTP_H
#define VSM_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config.h"
#include "err.h"
#include "vsm.pb-c.h"

#define HTTP_URL_MAX       2048 /* bytes in a URL, with the NUL */
#define HTTP_REDIRECTS_MAX 5
#define HTTP_CTYPE_MAX     128

/*
 * http_allow.c. Check url against the http.allow prefixes: http:// or
 * https:// only, no user name or password in it, parsed and normalised by
 * libcurl (dot segments removed, so what is matched is what is fetched),
 * then matched against each prefix (normalised the same way; scheme and
 * host compared without case). A prefix matches up to a boundary: it ends
 * with '/', or the URL goes on with '/', '?', '#' or ends there. On 0 norm
 * holds the URL to fetch; -1 with err saying why (an empty list says to
 * add http.allow to agent.yaml).
 */
int http_url_allowed(const struct vsm_strlist *allow, const char *url,
    char *norm, size_t len, struct vsm_err *err);

/*
 * 1 when one of the http.allow prefixes is https:// on host and port (the
 * origin of the prefix, whatever its path): cert.check's remote test.
 */
int http_origin_allowed(
    const struct vsm_strlist *allow, const char *host, unsigned port);

/* http_fetch.c */
enum http_fetch_rc {
	HTTP_FETCH_OK = 0,  /* a response came; resp is filled */
	HTTP_FETCH_REFUSED, /* policy: URL, redirect or body size refused */
	HTTP_FETCH_FAILED,  /* network, TLS or timeout: no response */
};

struct http_fetch_opts {
	const struct vsm_strlist *allow;
	const char               *url; /* checked again here */
	int                       head;
	uint64_t                  timeout_ms; /* whole exchange */
	size_t                    max_body;   /* bytes kept and allowed */
	int                       follow;     /* redirects inside allow */
};

struct http_response {
	long     status;
	uint64_t latency_ms; /* all hops together */
	size_t   bytes;      /* body bytes received */
	char    *body;       /* NUL-terminated copy (owned), "" for HEAD */
	unsigned redirects;
	char     ctype[HTTP_CTYPE_MAX]; /* Content-Type, "" when none */
	char     url[HTTP_URL_MAX];     /* the URL that answered */
};

/*
 * GET (or HEAD) o->url with TLS verification on, http/https only, the
 * body capped at o->max_body, redirects followed by hand (each target
 * checked against o->allow) when o->follow. resp is always initialised;
 * free it with http_response_clear. Blocks up to o->timeout_ms per hop.
 */
enum http_fetch_rc http_fetch(const struct http_fetch_opts *o,
    struct http_response *resp, struct vsm_err *err);
void               http_response_clear(struct http_response *resp);

/*
 * json_pointer.c: the value root names by the RFC 6901 pointer ptr ("" is
 * root; "~1" is '/', "~0" is '~'). Borrowed from root; NULL with err
 * saying which token failed.
 */
json_t *http_json_pointer(json_t *root, const char *ptr, struct vsm_err *err);

/*
 * cert_x509.c: every PEM certificate in buf[0..len) as a JSON object
 * (subject, issuer, not_before, not_after, days_left, sans, status) with
 * status from warn_days/fail_days: fail when expired, not yet valid or
 * days_left <= fail_days, warn when days_left <= warn_days. host (may be
 * NULL) adds name_match. Returns a new array, or NULL with err set (no
 * certificate found, a broken one, out of memory); *worst gets the worst
 * status, *worst_idx its index.
 */
json_t *cert_pem_list(const char *buf, size_t len, const char *host,
    int64_t warn_days, int64_t fail_days, Vsm__TaskStatus *worst,
    size_t *worst_idx, struct vsm_err *err);

/*
 * cert_remote.c: the leaf certificate host:port presents, as PEM text in
 * pem (owned, NUL-terminated). A TLS handshake only, without peer
 * verification: only the certificate's dates and names are read. 0, or
 * -1 with err set.
 */
int cert_remote_pem(const char *host, unsigned port, uint64_t timeout_ms,
    char **pem, struct vsm_err *err);

#endif /* VSM_HTTP_H */
