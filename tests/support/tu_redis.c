/*
 * tu_redis.c: a real redis-server for the tests and a tiny RESP client
 * (tu_redis.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "tu_redis.h"

#define TU_REDIS_START_MS 60000
#define TU_REDIS_STOP_MS  10000
#define TU_REDIS_IO_S     60
#define TU_REDIS_ARGS_MAX 32
#define TU_REDIS_DEPTH    4 /* nested arrays read */

struct tu_rd {
	int    fd;
	char   buf[16384];
	size_t pos, len;
};

static void
tu_redis_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static int
tu_rd_byte(struct tu_rd *rd)
{
	ssize_t n;

	if (rd->pos == rd->len) {
		do
			n = read(rd->fd, rd->buf, sizeof(rd->buf));
		while (n == -1 && errno == EINTR);
		if (n <= 0)
			return (-1);
		rd->pos = 0;
		rd->len = (size_t)n;
	}
	return ((unsigned char)rd->buf[rd->pos++]);
}

/* One CRLF-terminated line, without the CRLF, cut to len-1. 0 or -1. */
static int
tu_rd_line(struct tu_rd *rd, char *line, size_t len)
{
	size_t o = 0;
	int    ch;

	while ((ch = tu_rd_byte(rd)) != -1) {
		if (ch == '\n') {
			if (o > 0 && line[o - 1] == '\r')
				o--;
			line[o] = '\0';
			return (0);
		}
		if (o + 1 < len)
			line[o++] = (char)ch;
	}
	return (-1);
}

static void
tu_out_add(char *out, size_t outlen, size_t *o, const char *s, size_t n)
{
	if (*o + 1 >= outlen)
		return;
	if (n > outlen - *o - 1)
		n = outlen - *o - 1;
	memcpy(out + *o, s, n);
	*o += n;
	out[*o] = '\0';
}

/* Read one reply into out at *o; its type byte or -1. */
static int
tu_rd_reply(struct tu_rd *rd, char *out, size_t outlen, size_t *o, int depth)
{
	char      line[512];
	long long n, i;
	int       ch;

	if (tu_rd_line(rd, line, sizeof(line)) == -1 || line[0] == '\0')
		return (-1);
	switch (line[0]) {
	case '+':
	case ':':
		tu_out_add(out, outlen, o, line + 1, strlen(line + 1));
		return (line[0]);
	case '-':
		tu_out_add(out, outlen, o, line, strlen(line));
		return ('-');
	case '$':
		if ((n = atoll(line + 1)) < 0) {
			tu_out_add(out, outlen, o, "(nil)", 5);
			return ('$');
		}
		for (i = 0; i < n + 2; i++) {
			if ((ch = tu_rd_byte(rd)) == -1)
				return (-1);
			if (i < n) {
				line[0] = (char)ch;
				tu_out_add(out, outlen, o, line, 1);
			}
		}
		return ('$');
	case '*':
		n = atoll(line + 1);
		for (i = 0; i < n; i++) {
			if (i > 0)
				tu_out_add(out, outlen, o, "\n", 1);
			if (depth >= TU_REDIS_DEPTH ||
			    tu_rd_reply(rd, out, outlen, o, depth + 1) == -1)
				return (-1);
		}
		return ('*');
	default:
		return (-1);
	}
}

static int
tu_write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		buf += n;
		len -= (size_t)n;
	}
	return (0);
}

/* Send one command as a RESP array of bulk strings. 0 or -1. */
static int
tu_send(int fd, int argc, const char *const *argv)
{
	char   hdr[64];
	size_t len;
	int    i;

	snprintf(hdr, sizeof(hdr), "*%d\r\n", argc);
	if (tu_write_all(fd, hdr, strlen(hdr)) == -1)
		return (-1);
	for (i = 0; i < argc; i++) {
		len = strlen(argv[i]);
		snprintf(hdr, sizeof(hdr), "$%zu\r\n", len);
		if (tu_write_all(fd, hdr, strlen(hdr)) == -1 ||
		    tu_write_all(fd, argv[i], len) == -1 ||
		    tu_write_all(fd, "\r\n", 2) == -1)
			return (-1);
	}
	return (0);
}

static int
tu_redis_dial(const struct tu_redis *r)
{
	struct sockaddr_in sin;
	struct timeval     tv = {TU_REDIS_IO_S, 0};
	int                fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)r->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return (-1);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1 ||
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(fd);
		return (-1);
	}
	return (fd);
}

int
tu_redis_cmdv(struct tu_redis *r, int db, int argc, const char *const *argv,
    char *out, size_t outlen)
{
	struct tu_rd *rd;
	const char   *pre[2];
	char          num[16], tmp[256];
	size_t        o = 0;
	int           ret = -1;

	if (outlen > 0)
		out[0] = '\0';
	if ((rd = calloc(1, sizeof(*rd))) == NULL)
		return (-1);
	rd->fd = -1;
	if ((rd->fd = tu_redis_dial(r)) == -1)
		goto out;
	if (r->password[0] != '\0') {
		pre[0] = "AUTH";
		pre[1] = r->password;
		if (tu_send(rd->fd, 2, pre) == -1 ||
		    tu_rd_reply(rd, tmp, sizeof(tmp), &o, 0) != '+')
			goto out;
		o = 0;
	}
	if (db != 0) {
		snprintf(num, sizeof(num), "%d", db);
		pre[0] = "SELECT";
		pre[1] = num;
		if (tu_send(rd->fd, 2, pre) == -1 ||
		    tu_rd_reply(rd, tmp, sizeof(tmp), &o, 0) != '+')
			goto out;
		o = 0;
	}
	if (tu_send(rd->fd, argc, argv) == -1)
		goto out;
	ret = tu_rd_reply(rd, out, outlen, &o, 0);
out:
	if (rd->fd != -1)
		close(rd->fd);
	free(rd);
	return (ret);
}

/* Gather NULL-terminated arguments; argc or -1 when there are too many. */
static int
tu_redis_args(const char **argv, int max, const char *arg0, va_list ap)
{
	int argc = 0;

	for (; arg0 != NULL; arg0 = va_arg(ap, const char *)) {
		if (argc == max)
			return (-1);
		argv[argc++] = arg0;
	}
	return (argc);
}

int
tu_redis_cmd(
    struct tu_redis *r, char *out, size_t outlen, const char *arg0, ...)
{
	const char *argv[32];
	va_list     ap;
	int         argc;

	va_start(ap, arg0);
	argc = tu_redis_args(argv, 32, arg0, ap);
	va_end(ap);
	if (argc == -1)
		return (-1);
	return (tu_redis_cmdv(r, 0, argc, argv, out, outlen));
}

long long
tu_redis_int(struct tu_redis *r, int db, const char *arg0, ...)
{
	const char *argv[32];
	char        out[64];
	va_list     ap;
	int         argc;

	va_start(ap, arg0);
	argc = tu_redis_args(argv, 32, arg0, ap);
	va_end(ap);
	if (argc == -1 ||
	    tu_redis_cmdv(r, db, argc, argv, out, sizeof(out)) != ':')
		return (-1);
	return (atoll(out));
}

int
tu_redis_fill(struct tu_redis *r, int db, const char *prefix, int n)
{
	const char **argv;
	char        *names, *name, out[64];
	int          i, argc, ret = -1;

	argv = calloc(1 + 2 * 500, sizeof(*argv));
	names = calloc(500, 128);
	if (argv == NULL || names == NULL)
		goto out;
	for (i = 0; i < n;) {
		argv[0] = "MSET";
		for (argc = 1; argc < 1 + 2 * 500 && i < n; i++) {
			name = names + (size_t)(argc / 2) * 128;
			snprintf(name, 128, "%s%d", prefix, i);
			argv[argc++] = name;
			argv[argc++] = "v";
		}
		if (tu_redis_cmdv(r, db, argc, argv, out, sizeof(out)) != '+')
			goto out;
	}
	ret = 0;
out:
	free(argv);
	free(names);
	return (ret);
}

static int
tu_redis_pong(void *arg)
{
	struct tu_redis *r = arg;
	char             out[64];
	int              st;

	if (waitpid(r->pid, &st, WNOHANG) == r->pid) {
		r->pid = -1;
		return (-1);
	}
	return (tu_redis_cmd(r, out, sizeof(out), "PING", NULL) == '+' &&
	    strcmp(out, "PONG") == 0);
}

/* Print the server's log to stderr (why it did not start). */
static void
tu_redis_show_log(const struct tu_redis *r)
{
	char  path[PATH_MAX + 16], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/redis.log", r->dir);
	if ((f = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		fprintf(stderr, "redis-server: %s", line);
	fclose(f);
}

int
tu_redis_start(struct tu_redis *r, const struct tu_redis_opts *opts)
{
	const char *argv[TU_REDIS_ARGS_MAX];
	char        url[64], port[16], log[PATH_MAX + 16];
	const char *colon;
	int         argc = 0, up;

	memset(r, 0, sizeof(*r));
	r->pid = -1;
	if (access(TU_REDIS_SERVER, X_OK) == -1) {
		fprintf(stderr,
		    "tu_redis: %s not found: these tests need a real Redis "
		    "(apt-get install redis-server)\n",
		    TU_REDIS_SERVER);
		return (-1);
	}
	if (tu_mkdtemp(r->dir, sizeof(r->dir), "redis") == -1) {
		perror("tu_redis: mkdtemp");
		return (-1);
	}
	tu_loopback_url(url, sizeof(url));
	colon = strrchr(url, ':');
	r->port = (unsigned)atoi(colon + 1);
	snprintf(port, sizeof(port), "%u", r->port);
	snprintf(log, sizeof(log), "%s/redis.log", r->dir);
	argv[argc++] = TU_REDIS_SERVER;
	argv[argc++] = "--port";
	argv[argc++] = port;
	argv[argc++] = "--bind";
	argv[argc++] = "127.0.0.1";
	argv[argc++] = "--dir";
	argv[argc++] = r->dir;
	argv[argc++] = "--save";
	argv[argc++] = "";
	argv[argc++] = "--appendonly";
	argv[argc++] = "no";
	argv[argc++] = "--daemonize";
	argv[argc++] = "no";
	if (opts != NULL && opts->password != NULL) {
		snprintf(
		    r->password, sizeof(r->password), "%s", opts->password);
		argv[argc++] = "--requirepass";
		argv[argc++] = opts->password;
	}
	if (opts != NULL && opts->unixsocket) {
		snprintf(r->socket, sizeof(r->socket), "%s/redis.sock", r->dir);
		argv[argc++] = "--unixsocket";
		argv[argc++] = r->socket;
		argv[argc++] = "--unixsocketperm";
		argv[argc++] = "700";
	}
	if (opts != NULL && opts->dbfilename != NULL) {
		argv[argc++] = "--dbfilename";
		argv[argc++] = opts->dbfilename;
	}
	argv[argc] = NULL;
	if ((r->pid = tu_spawn_logged((char *const *)argv, log)) == -1) {
		fprintf(stderr, "tu_redis: cannot spawn %s\n", TU_REDIS_SERVER);
		goto out;
	}
	if ((up = tu_wait(tu_redis_pong, r, TU_REDIS_START_MS)) == 1)
		return (0);
	fprintf(stderr, "tu_redis: redis-server on port %u %s\n", r->port,
	    up == -1 ? "exited" : "never answered PING");
	tu_redis_show_log(r);
out:
	tu_redis_stop(r);
	return (-1);
}

void
tu_redis_stop(struct tu_redis *r)
{
	int st, waited;

	if (r->pid > 0) {
		kill(r->pid, SIGTERM);
		for (waited = 0; waited < TU_REDIS_STOP_MS; waited += 50) {
			if (waitpid(r->pid, &st, WNOHANG) == r->pid)
				break;
			tu_redis_sleep_ms(50);
		}
		if (waited >= TU_REDIS_STOP_MS) {
			kill(r->pid, SIGKILL);
			waitpid(r->pid, &st, 0);
		}
		r->pid = -1;
	}
	if (r->dir[0] != '\0')
		tu_rmtree(r->dir);
	r->dir[0] = '\0';
}
