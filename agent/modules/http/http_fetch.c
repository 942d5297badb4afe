/*
 * http_fetch.c: one capped HTTP exchange with libcurl (http.h). Redirects
 * are never followed by libcurl: each Location is checked against
 * http.allow before it is fetched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "http.h"

struct http_sink {
	char  *buf;
	size_t len, cap, max;
	int    over; /* the body went past max */
};

/* libcurl write callback: keep up to max bytes, stop the transfer past. */
static size_t
http_sink_write(char *data, size_t size, size_t n, void *arg)
{
	struct http_sink *s = arg;
	size_t            len = size * n, ncap;
	char             *nb;

	if (len > s->max - s->len) {
		s->over = 1;
		return (0);
	}
	if (s->len + len + 1 > s->cap) {
		ncap = s->cap == 0 ? 16384 : s->cap;
		while (ncap < s->len + len + 1)
			ncap *= 2;
		if (ncap > s->max + 1)
			ncap = s->max + 1;
		if ((nb = realloc(s->buf, ncap)) == NULL)
			return (0);
		s->buf = nb;
		s->cap = ncap;
	}
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	s->buf[s->len] = '\0';
	return (len);
}

/* A libcurl handle for one hop of o, writing into sink. NULL: no memory. */
static CURL *
http_handle(const struct http_fetch_opts *o, const char *url,
    struct http_sink *sink, char *ebuf)
{
	CURL *c;

	if ((c = curl_easy_init()) == NULL)
		return (NULL);
	if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") !=
	        CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") !=
	        CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms) !=
	        CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
	        (curl_off_t)o->max_body) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOBODY, o->head ? 1L : 0L) !=
	        CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_USERAGENT, "vsm-agent http.check") !=
	        CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_sink_write) !=
	        CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, sink) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf) != CURLE_OK) {
		curl_easy_cleanup(c);
		return (NULL);
	}
	return (c);
}

void
http_response_clear(struct http_response *resp)
{
	if (resp == NULL)
		return;
	free(resp->body);
	memset(resp, 0, sizeof(*resp));
}

/*
 * One hop: fetch url into resp (body replaced). On a redirect the
 * absolute target goes to next ("" when none). As http_fetch.
 */
static enum http_fetch_rc
http_hop(const struct http_fetch_opts *o, const char *url,
    struct http_response *resp, char *next, size_t nlen, struct vsm_err *err)
{
	struct http_sink   sink = {.max = o->max_body};
	enum http_fetch_rc rc = HTTP_FETCH_FAILED;
	char               ebuf[CURL_ERROR_SIZE] = "";
	char              *ct = NULL, *loc = NULL;
	curl_off_t         us = 0;
	CURLcode           cc;
	CURL              *c;

	next[0] = '\0';
	if ((c = http_handle(o, url, &sink, ebuf)) == NULL) {
		vsm_err_set(err, "cannot set up libcurl");
		goto out;
	}
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_TOTAL_TIME_T, &us);
	resp->latency_ms += (uint64_t)us / 1000;
	if (sink.over || cc == CURLE_FILESIZE_EXCEEDED) {
		rc = HTTP_FETCH_REFUSED;
		vsm_err_set(err, "%s: the body is over max_body (%zu bytes)",
		    url, o->max_body);
		goto out;
	}
	if (cc != CURLE_OK) {
		vsm_err_set(err, "%s: %s", url,
		    ebuf[0] != '\0' ? ebuf : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK &&
	    ct != NULL)
		snprintf(resp->ctype, sizeof(resp->ctype), "%s", ct);
	else
		resp->ctype[0] = '\0';
	if (resp->status >= 300 && resp->status < 400 &&
	    curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK &&
	    loc != NULL)
		snprintf(next, nlen, "%s", loc);
	free(resp->body);
	resp->body = sink.buf != NULL ? sink.buf : strdup("");
	sink.buf = NULL;
	resp->bytes = sink.len;
	snprintf(resp->url, sizeof(resp->url), "%s", url);
	if (resp->body == NULL) {
		vsm_err_set(err, "out of memory");
		goto out;
	}
	rc = HTTP_FETCH_OK;
out:
	free(sink.buf);
	curl_easy_cleanup(c);
	return (rc);
}

enum http_fetch_rc
http_fetch(const struct http_fetch_opts *o, struct http_response *resp,
    struct vsm_err *err)
{
	enum http_fetch_rc rc;
	char               url[HTTP_URL_MAX], next[HTTP_URL_MAX];
	unsigned           hops;

	memset(resp, 0, sizeof(*resp));
	if (http_url_allowed(o->allow, o->url, url, sizeof(url), err) == -1)
		return (HTTP_FETCH_REFUSED);
	for (hops = 0;; hops++) {
		rc = http_hop(o, url, resp, next, sizeof(next), err);
		if (rc != HTTP_FETCH_OK || !o->follow || next[0] == '\0')
			return (rc);
		if (hops == HTTP_REDIRECTS_MAX) {
			vsm_err_set(err, "%s: more than %d redirects", o->url,
			    HTTP_REDIRECTS_MAX);
			return (HTTP_FETCH_FAILED);
		}
		if (http_url_allowed(o->allow, next, url, sizeof(url), err) ==
		    -1) {
			char why[sizeof(err->msg)];

			snprintf(why, sizeof(why), "%s", err->msg);
			vsm_err_set(err, "redirect from %s refused: %s",
			    resp->url, why);
			return (HTTP_FETCH_REFUSED);
		}
		resp->redirects++;
	}
}
