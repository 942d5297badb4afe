/*
 * tu_http.c: the canned HTTP server of the module tests (tu_http.h).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "tu_http.h"

#define TU_HTTP_REQ_MAX   8192
#define TU_HTTP_ROUTE_MAX 32

struct tu_http {
	int                         fd;
	int                         port;
	const struct tu_http_route *routes;
	size_t                      n;
	unsigned                    hits[TU_HTTP_ROUTE_MAX];
	unsigned                    misses;
	atomic_int                  stop;
	pthread_mutex_t             mtx;
	pthread_t                   thr;
};

/* Write all of buf; 0 or -1 (the client went away). */
static int
tu_http_send(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = send(fd, buf, len, MSG_NOSIGNAL)) <= 0)
			return (-1);
		buf += n;
		len -= (size_t)n;
	}
	return (0);
}

/* Sleep ms in small steps, returning early when the server stops. */
static void
tu_http_sleep(struct tu_http *h, unsigned ms)
{
	struct timespec ts = {0, 20 * 1000000L};
	unsigned        slept;

	for (slept = 0; slept < ms && !h->stop; slept += 20)
		nanosleep(&ts, NULL);
}

/* headers with "{port}" replaced, into buf. */
static void
tu_http_headers(const struct tu_http *h, const char *in, char *buf, size_t len)
{
	const char *p;
	size_t      o = 0;

	buf[0] = '\0';
	for (p = in != NULL ? in : ""; *p != '\0' && o + 8 < len; p++) {
		if (strncmp(p, "{port}", 6) == 0) {
			o += (size_t)snprintf(buf + o, len - o, "%d", h->port);
			p += 5;
			continue;
		}
		buf[o++] = *p;
		buf[o] = '\0';
	}
}

/* Read one request head from fd and answer it. */
static void
tu_http_serve(struct tu_http *h, int fd)
{
	const struct tu_http_route *r = NULL;
	char    req[TU_HTTP_REQ_MAX], path[1024], method[16], head[2048];
	char    extra[1024], chunk[4096];
	size_t  got = 0, blen, left, i;
	ssize_t n;
	int     head_only;

	while (got + 1 < sizeof(req)) {
		if ((n = recv(fd, req + got, sizeof(req) - 1 - got, 0)) <= 0)
			return;
		got += (size_t)n;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL)
			break;
	}
	if (sscanf(req, "%15s %1023s", method, path) != 2)
		return;
	head_only = strcmp(method, "HEAD") == 0;
	pthread_mutex_lock(&h->mtx);
	for (i = 0; i < h->n && i < TU_HTTP_ROUTE_MAX; i++)
		if (strcmp(h->routes[i].path, path) == 0) {
			r = &h->routes[i];
			h->hits[i]++;
			break;
		}
	if (r == NULL)
		h->misses++;
	pthread_mutex_unlock(&h->mtx);
	if (r == NULL) {
		snprintf(head, sizeof(head),
		    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
		    "Connection: close\r\n\r\n");
		tu_http_send(fd, head, strlen(head));
		return;
	}
	tu_http_sleep(h, r->delay_ms);
	blen = r->fill > 0 ? r->fill : r->body != NULL ? strlen(r->body) : 0;
	tu_http_headers(h, r->headers, extra, sizeof(extra));
	if (r->no_length)
		snprintf(head, sizeof(head),
		    "HTTP/1.1 %d Canned\r\nConnection: close\r\n%s\r\n",
		    r->status, extra);
	else
		snprintf(head, sizeof(head),
		    "HTTP/1.1 %d Canned\r\nContent-Length: %zu\r\n"
		    "Connection: close\r\n%s\r\n",
		    r->status, blen, extra);
	if (tu_http_send(fd, head, strlen(head)) == -1 || head_only)
		return;
	if (r->fill == 0) {
		tu_http_send(fd, r->body != NULL ? r->body : "", blen);
		return;
	}
	memset(chunk, 'x', sizeof(chunk));
	for (left = blen; left > 0 && !h->stop;) {
		i = left < sizeof(chunk) ? left : sizeof(chunk);
		if (tu_http_send(fd, chunk, i) == -1)
			return;
		left -= i;
	}
}

static void *
tu_http_main(void *arg)
{
	struct tu_http *h = arg;
	struct pollfd   pfd;
	struct timeval  tv = {10, 0};
	int             c;

	while (!h->stop) {
		pfd.fd = h->fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		if ((c = accept(h->fd, NULL, NULL)) == -1)
			continue;
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		tu_http_serve(h, c);
		shutdown(c, SHUT_WR);
		close(c);
	}
	return (NULL);
}

struct tu_http *
tu_http_start(const struct tu_http_route *routes, size_t n)
{
	struct sockaddr_in sin;
	socklen_t          slen = sizeof(sin);
	struct tu_http    *h;
	int                one = 1;

	if (n > TU_HTTP_ROUTE_MAX || (h = calloc(1, sizeof(*h))) == NULL)
		return (NULL);
	h->routes = routes;
	h->n = n;
	pthread_mutex_init(&h->mtx, NULL);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((h->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(h->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ==
	        -1 ||
	    bind(h->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(h->fd, 16) == -1 ||
	    getsockname(h->fd, (struct sockaddr *)&sin, &slen) == -1)
		goto fail;
	h->port = ntohs(sin.sin_port);
	if (pthread_create(&h->thr, NULL, tu_http_main, h) != 0)
		goto fail;
	return (h);
fail:
	if (h->fd != -1)
		close(h->fd);
	pthread_mutex_destroy(&h->mtx);
	free(h);
	return (NULL);
}

int
tu_http_port(const struct tu_http *h)
{
	return (h->port);
}

unsigned
tu_http_hits(struct tu_http *h, const char *path)
{
	unsigned v = 0;
	size_t   i;

	pthread_mutex_lock(&h->mtx);
	for (i = 0; i < h->n; i++)
		if (strcmp(h->routes[i].path, path) == 0)
			v = h->hits[i];
	pthread_mutex_unlock(&h->mtx);
	return (v);
}

void
tu_http_stop(struct tu_http *h)
{
	if (h == NULL)
		return;
	h->stop = 1;
	pthread_join(h->thr, NULL);
	close(h->fd);
	pthread_mutex_destroy(&h->mtx);
	free(h);
}
