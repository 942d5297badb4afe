/*
 * tu_redis.h: a real redis-server for the tests (/usr/bin/redis-server),
 * on 127.0.0.1 at a free port, in its own temporary directory (--dir,
 * its log, its unix socket), and a tiny RESP client the tests use to set
 * the scene (keys, CONFIG SET, DBSIZE). The client sends every argument
 * as its own bulk string and opens one connection per command.
 */
#ifndef VSM_TU_REDIS_H
#define VSM_TU_REDIS_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#define TU_REDIS_SERVER "/usr/bin/redis-server"

struct tu_redis_opts {
	const char *password;   /* --requirepass; NULL: none */
	int         unixsocket; /* also listen on DIR/redis.sock */
	const char *dbfilename; /* --dbfilename; NULL: dump.rdb */
};

struct tu_redis {
	pid_t    pid;
	unsigned port;
	char     dir[64];          /* --dir, removed by tu_redis_stop */
	char     socket[PATH_MAX]; /* "" unless opts.unixsocket */
	char     password[128];    /* "" unless opts.password */
};

/*
 * Start a server (opts may be NULL) with --save "" and --appendonly no
 * and wait (up to 60 s) until it answers PING. 0, or -1 with the reason
 * (redis-server missing, died, never answered: its log) on stderr and
 * nothing left behind.
 */
int tu_redis_start(struct tu_redis *r, const struct tu_redis_opts *opts);
/* SIGTERM (SIGKILL after 10 s), reap, remove the directory. */
void tu_redis_stop(struct tu_redis *r);

/*
 * Send argv[0..argc) to database db (SELECT first when not 0; AUTH first
 * when the server has a password) and read the reply into out as text:
 * a status, error ("-ERR ..."), bulk string or integer as is, nil as
 * "(nil)", an array as its elements joined by '\n'. Returns the reply's
 * RESP type byte ('+', '-', ':', '$', '*') or -1 on an I/O error.
 */
int tu_redis_cmdv(struct tu_redis *r, int db, int argc, const char *const *argv,
    char *out, size_t outlen);
/* As tu_redis_cmdv on db 0, arguments NULL-terminated. */
int tu_redis_cmd(struct tu_redis *r, char *out, size_t outlen, const char *arg0,
    ...) __attribute__((sentinel));
/* An integer reply (DBSIZE, EXISTS, ...); -1 on any other reply. */
long long tu_redis_int(struct tu_redis *r, int db, const char *arg0, ...)
    __attribute__((sentinel));
/*
 * SET prefix0..prefix(n-1) to "v" in db, with MSET in chunks of 500.
 * 0 or -1.
 */
int tu_redis_fill(struct tu_redis *r, int db, const char *prefix, int n);

#endif /* VSM_TU_REDIS_H */
