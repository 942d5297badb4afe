/*
 * listen_backlog.c: find nng's listening socket by address and deepen its
 * accept queue (listen_backlog.h).
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "listen_backlog.h"

/* 1 when fd is a listening socket bound to the family and port given. */
static int
is_listener(int fd, int family, uint16_t port_be)
{
	struct sockaddr_storage ss;
	socklen_t               len = sizeof(ss);
	struct stat             sb;
	int                     acc = 0;
	socklen_t               alen = sizeof(acc);

	if (fstat(fd, &sb) == -1 || !S_ISSOCK(sb.st_mode) ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &alen) == -1 ||
	    !acc || getsockname(fd, (struct sockaddr *)&ss, &len) == -1 ||
	    ss.ss_family != family)
		return (0);
	if (family == AF_INET)
		return (((struct sockaddr_in *)&ss)->sin_port == port_be);
	return (((struct sockaddr_in6 *)&ss)->sin6_port == port_be);
}

int
vsm_listen_backlog(nng_listener l, int backlog)
{
	nng_sockaddr   sa;
	struct dirent *de;
	DIR           *d;
	int            family, fd, n = 0;
	uint16_t       port;

	if (nng_listener_get_addr(l, NNG_OPT_LOCADDR, &sa) != 0)
		return (0);
	if (sa.s_family == NNG_AF_INET) {
		family = AF_INET;
		port = sa.s_in.sa_port; /* network order, as the kernel's */
	} else if (sa.s_family == NNG_AF_INET6) {
		family = AF_INET6;
		port = sa.s_in6.sa_port;
	} else
		return (0);
	if ((d = opendir("/proc/self/fd")) == NULL)
		return (0);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		fd = atoi(de->d_name);
		if (fd != dirfd(d) && is_listener(fd, family, port) &&
		    listen(fd, backlog) == 0)
			n++;
	}
	closedir(d);
	return (n);
}
