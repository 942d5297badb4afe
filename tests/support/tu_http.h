/*
 * tu_http.h: a small HTTP/1.1 server on 127.0.0.1 for the module tests
 * (http.check, sys.health): one thread, one connection at a time, canned
 * answers by exact path, a hit counter per path. Real sockets, so the
 * client under test (libcurl) runs unchanged.
 */
#ifndef VSM_TU_HTTP_H
#define VSM_TU_HTTP_H

#include <stddef.h>

struct tu_http_route {
	const char *path;      /* exact request path, query included */
	int         status;    /* 200, 302, 500, ... */
	const char *headers;   /* extra header lines, each ending "\r\n";
	                          "{port}" is replaced by the server's port */
	const char *body;      /* NULL: empty */
	size_t      fill;      /* > 0: a body of this many 'x' instead */
	int         no_length; /* no Content-Length: the body ends at close */
	unsigned    delay_ms;  /* wait before answering */
};

struct tu_http;

/*
 * Listen on 127.0.0.1 (a free port) and serve routes (borrowed, n rows)
 * from a thread; an unknown path gets 404. NULL on error.
 */
struct tu_http *tu_http_start(const struct tu_http_route *routes, size_t n);
int             tu_http_port(const struct tu_http *h);
/* Requests seen for path so far. */
unsigned tu_http_hits(struct tu_http *h, const char *path);
/* Stop the thread, close the socket, free h. NULL is a no-op. */
void tu_http_stop(struct tu_http *h);

#endif /* VSM_TU_HTTP_H */
