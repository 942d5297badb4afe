/*
 * http_allow.c: which URLs http.check and cert.check may reach: the
 * agent's http.allow prefixes (http.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "http.h"

/*
 * 1 when the path of URL u (up to '?' or '#') has a backslash or an
 * encoded '.', '/' or '\\': a server may decode them into segments that
 * the prefix match never saw ("/ok/%2e%2e/secret").
 */
static int
http_path_tricky(const char *u)
{
	const char *p = strstr(u, "://");
	size_t      n;

	p = p != NULL ? p + 3 : u;
	n = strcspn(p, "?#");
	for (; n > 0; p++, n--) {
		if (*p == '\\')
			return (1);
		if (*p == '%' && n >= 3 &&
		    (strncasecmp(p, "%2e", 3) == 0 ||
		        strncasecmp(p, "%2f", 3) == 0 ||
		        strncasecmp(p, "%5c", 3) == 0))
			return (1);
	}
	return (0);
}

/*
 * Parse s with libcurl and write its normalised form to out, with scheme
 * and host lowered. Only http and https, no user or password. 0 or -1
 * with err set.
 */
static int
http_normalise(const char *s, char *out, size_t len, struct vsm_err *err)
{
	CURLU    *u = NULL;
	CURLUcode uc;
	char     *full = NULL, *user = NULL, *scheme = NULL;
	size_t    i, end;
	int       ret = -1;

	if (strncasecmp(s, "http://", 7) != 0 &&
	    strncasecmp(s, "https://", 8) != 0) {
		vsm_err_set(err, "only http:// and https:// URLs are allowed");
		goto out;
	}
	if ((u = curl_url()) == NULL) {
		vsm_err_set(err, "out of memory");
		goto out;
	}
	if ((uc = curl_url_set(u, CURLUPART_URL, s, 0)) != CURLUE_OK) {
		vsm_err_set(err, "bad URL: %s", curl_url_strerror(uc));
		goto out;
	}
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
		vsm_err_set(err, "only http:// and https:// URLs are allowed");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
		vsm_err_set(
		    err, "a user name or password in the URL is not allowed");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK) {
		vsm_err_set(err, "bad URL");
		goto out;
	}
	if (http_path_tricky(full)) {
		vsm_err_set(err,
		    "a backslash, or an encoded '.', '/' or "
		    "backslash, in the URL path is not allowed");
		goto out;
	}
	if (strlen(full) >= len) {
		vsm_err_set(err, "URL longer than %zu bytes", len - 1);
		goto out;
	}
	snprintf(out, len, "%s", full);
	end = strcspn(out + strlen(scheme) + 3, "/?#") + strlen(scheme) + 3;
	for (i = 0; i < end; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
	ret = 0;
out:
	curl_free(full);
	curl_free(user);
	curl_free(scheme);
	curl_url_cleanup(u);
	return (ret);
}

/* 1 when prefix p (normalised) covers URL u (normalised) at a boundary. */
static int
http_prefix_covers(const char *p, const char *u)
{
	size_t len = strlen(p);

	if (len == 0 || strncmp(u, p, len) != 0)
		return (0);
	return (p[len - 1] == '/' || u[len] == '\0' ||
	    strchr("/?#", u[len]) != NULL);
}

int
http_url_allowed(const struct vsm_strlist *allow, const char *url, char *norm,
    size_t len, struct vsm_err *err)
{
	struct vsm_err perr;
	char           p[HTTP_URL_MAX];
	size_t         i;

	if (allow->n == 0)
		return (vsm_err_set(err,
		    "no URL is allowed: add the prefixes this host may reach "
		    "to http.allow in agent.yaml"));
	if (http_normalise(url, norm, len, err) == -1)
		return (-1);
	for (i = 0; i < allow->n; i++) {
		/* A prefix libcurl cannot parse is compared as written. */
		if (http_normalise(allow->v[i], p, sizeof(p), &perr) == -1)
			snprintf(p, sizeof(p), "%s", allow->v[i]);
		if (http_prefix_covers(p, norm))
			return (0);
	}
	return (
	    vsm_err_set(err, "%s is not under any http.allow prefix", norm));
}

/*
 * Scheme, lowered host and port (the default one when absent) of URL s.
 * 0 or -1.
 */
static int
http_origin(const char *s, char *scheme, size_t slen, char *host, size_t hlen,
    unsigned *port)
{
	CURLU *u = NULL;
	char  *sc = NULL, *h = NULL, *pt = NULL;
	size_t i;
	int    ret = -1;

	if ((u = curl_url()) == NULL ||
	    curl_url_set(u, CURLUPART_URL, s, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &sc, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &pt, CURLU_DEFAULT_PORT) !=
	        CURLUE_OK)
		goto out;
	snprintf(scheme, slen, "%s", sc);
	snprintf(host, hlen, "%s", h);
	for (i = 0; host[i] != '\0'; i++)
		host[i] = (char)tolower((unsigned char)host[i]);
	*port = (unsigned)strtoul(pt, NULL, 10);
	ret = 0;
out:
	curl_free(sc);
	curl_free(h);
	curl_free(pt);
	curl_url_cleanup(u);
	return (ret);
}

int
http_origin_allowed(
    const struct vsm_strlist *allow, const char *host, unsigned port)
{
	char     scheme[16], h[256];
	unsigned p;
	size_t   i;

	for (i = 0; i < allow->n; i++) {
		if (http_origin(allow->v[i], scheme, sizeof(scheme), h,
		        sizeof(h), &p) == -1)
			continue;
		if (strcmp(scheme, "https") == 0 && strcasecmp(h, host) == 0 &&
		    p == port)
			return (1);
	}
	return (0);
}
