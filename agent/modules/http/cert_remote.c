/*
 * cert_remote.c: the leaf certificate of a TLS endpoint, read with
 * libcurl's CURLOPT_CERTINFO on a connection that does the handshake and
 * nothing else (http.h, cert_remote_pem). Peer verification is off on
 * purpose: cert.check reads the dates of what is presented, which is
 * exactly what an expired or self-signed certificate would make a
 * verifying client refuse to show.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "http.h"

int
cert_remote_pem(const char *host, unsigned port, uint64_t timeout_ms,
    char **pem, struct vsm_err *err)
{
	struct curl_certinfo *ci = NULL;
	struct curl_slist    *s;
	char                  url[512], ebuf[CURL_ERROR_SIZE] = "";
	CURLcode              cc;
	CURL                 *c = NULL;
	int                   ret = -1;

	*pem = NULL;
	if ((size_t)snprintf(url, sizeof(url), "https://%s:%u/", host, port) >=
	    sizeof(url)) {
		vsm_err_set(err, "host name too long");
		goto out;
	}
	if ((c = curl_easy_init()) == NULL ||
	    curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CERTINFO, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms) !=
	        CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf) != CURLE_OK) {
		vsm_err_set(err, "cannot set up libcurl");
		goto out;
	}
	if ((cc = curl_easy_perform(c)) != CURLE_OK) {
		vsm_err_set(err, "%s:%u: %s", host, port,
		    ebuf[0] != '\0' ? ebuf : curl_easy_strerror(cc));
		goto out;
	}
	if (curl_easy_getinfo(c, CURLINFO_CERTINFO, &ci) != CURLE_OK ||
	    ci == NULL || ci->num_of_certs < 1) {
		vsm_err_set(err, "%s:%u: no certificate presented", host, port);
		goto out;
	}
	for (s = ci->certinfo[0]; s != NULL; s = s->next)
		if (strncmp(s->data, "Cert:", 5) == 0)
			break;
	if (s == NULL || (*pem = strdup(s->data + 5)) == NULL) {
		vsm_err_set(err, "%s:%u: the certificate could not be read",
		    host, port);
		goto out;
	}
	ret = 0;
out:
	curl_easy_cleanup(c);
	return (ret);
}
