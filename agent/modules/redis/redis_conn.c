/*
 * redis_conn.c: connect to the agent's Redis and send checked commands
 * (redis_conn.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "redis_conn.h"
#include "redis_info.h"

#define REDIS_ARGV_MAX 16 /* arguments of one redis_cmd */

static struct timeval
redis_tv(int ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	return (tv);
}

void
redis_text(const char *s, size_t len, char *out, size_t outlen)
{
	size_t        i, o = 0;
	unsigned char ch;

	if (outlen == 0)
		return;
	for (i = 0; i < len; i++) {
		ch = (unsigned char)s[i];
		/* Room for this byte in its longest form and a "..." tail. */
		if (o + 4 + 4 > outlen) {
			snprintf(out + o, outlen - o, "...");
			return;
		}
		if (ch >= 0x20 && ch < 0x7f && ch != '\\')
			out[o++] = (char)ch;
		else
			o += (size_t)snprintf(
			    out + o, outlen - o, "\\x%02x", ch);
	}
	out[o] = '\0';
}

static const char *
redis_type_name(int type)
{
	switch (type) {
	case REDIS_REPLY_STRING:
		return ("bulk string");
	case REDIS_REPLY_ARRAY:
		return ("array");
	case REDIS_REPLY_INTEGER:
		return ("integer");
	case REDIS_REPLY_NIL:
		return ("nil");
	case REDIS_REPLY_STATUS:
		return ("status");
	case REDIS_REPLY_ERROR:
		return ("error");
	default:
		return ("unknown");
	}
}

redisReply *
redis_cmd_argv(redisContext *c, int type, int argc, const char **argv,
    const size_t *lens, struct vsm_err *err)
{
	redisReply *r;
	char        name[32], text[REDIS_TEXT_MAX];

	redis_text(argv[0], lens != NULL ? lens[0] : strlen(argv[0]), name,
	    sizeof(name));
	if (c->err != 0) {
		redis_text(c->errstr, strlen(c->errstr), text, sizeof(text));
		vsm_err_set(
		    err, "Redis %s: connection already failed: %s", name, text);
		return (NULL);
	}
	if ((r = redisCommandArgv(c, argc, argv, lens)) == NULL) {
		/* hiredis quotes a bad type byte in errstr: made printable. */
		redis_text(c->errstr, strlen(c->errstr), text, sizeof(text));
		if (c->err == REDIS_ERR_IO &&
		    (errno == EAGAIN || errno == EWOULDBLOCK))
			vsm_err_set(err, "Redis %s: no reply within %d ms",
			    name, REDIS_COMMAND_MS);
		else
			vsm_err_set(err, "Redis %s: %s", name,
			    text[0] != '\0' ? text : "no reply");
		return (NULL);
	}
	if (r->type == REDIS_REPLY_ERROR) {
		redis_text(r->str != NULL ? r->str : "",
		    r->str != NULL ? r->len : 0, text, sizeof(text));
		if (strncmp(text, "NOAUTH", 6) == 0)
			vsm_err_set(err,
			    "Redis %s: %s (set redis.password in agent.yaml)",
			    name, text);
		else
			vsm_err_set(err, "Redis %s: %s", name, text);
		freeReplyObject(r);
		return (NULL);
	}
	if (r->type != type) {
		vsm_err_set(err, "Redis %s: unexpected %s reply (wanted %s)",
		    name, redis_type_name(r->type), redis_type_name(type));
		freeReplyObject(r);
		return (NULL);
	}
	return (r);
}

redisReply *
redis_cmd(redisContext *c, int type, struct vsm_err *err, const char *arg0, ...)
{
	const char *argv[REDIS_ARGV_MAX];
	va_list     ap;
	int         argc = 0;
	const char *a;

	va_start(ap, arg0);
	for (a = arg0; a != NULL; a = va_arg(ap, const char *)) {
		if (argc == REDIS_ARGV_MAX) {
			va_end(ap);
			vsm_err_set(err, "Redis %s: too many arguments", arg0);
			return (NULL);
		}
		argv[argc++] = a;
	}
	va_end(ap);
	return (redis_cmd_argv(c, type, argc, argv, NULL, err));
}

/* AUTH with the configured password; the password is in no message. */
static int
redis_auth(redisContext *c, const char *password, struct vsm_err *err)
{
	const char    *argv[2] = {"AUTH", password};
	struct vsm_err e;
	redisReply    *r;

	if ((r = redis_cmd_argv(c, REDIS_REPLY_STATUS, 2, argv, NULL, &e)) ==
	    NULL) {
		/* A server that echoes the password gets no quote at all. */
		if (strstr(e.msg, password) != NULL)
			snprintf(e.msg, sizeof(e.msg), "Redis AUTH: refused");
		return (vsm_err_set(err,
		    "%s (the password is redis.password in agent.yaml)",
		    e.msg));
	}
	freeReplyObject(r);
	return (0);
}

redisContext *
redis_connect(const struct vsm_agent_config *cfg, int db, struct vsm_err *err)
{
	redisContext *c;
	redisReply   *r;
	char          where[VSM_CFG_PATH_MAX + 32], num[16];
	int           ok = 0;

	if (cfg->redis.socket[0] != '\0') {
		snprintf(
		    where, sizeof(where), "unix socket %s", cfg->redis.socket);
		c = redisConnectUnixWithTimeout(
		    cfg->redis.socket, redis_tv(REDIS_CONNECT_MS));
	} else {
		snprintf(where, sizeof(where), "%s:%u", cfg->redis.host,
		    cfg->redis.port);
		c = redisConnectWithTimeout(cfg->redis.host,
		    (int)cfg->redis.port, redis_tv(REDIS_CONNECT_MS));
	}
	if (c == NULL) {
		vsm_err_set(
		    err, "cannot connect to Redis at %s: out of memory", where);
		return (NULL);
	}
	if (c->err != 0) {
		vsm_err_set(
		    err, "cannot connect to Redis at %s: %s", where, c->errstr);
		goto out;
	}
	if (redisSetTimeout(c, redis_tv(REDIS_COMMAND_MS)) != REDIS_OK) {
		vsm_err_set(err, "Redis at %s: cannot set a timeout", where);
		goto out;
	}
	if (cfg->redis.password[0] != '\0' &&
	    redis_auth(c, cfg->redis.password, err) == -1)
		goto out;
	if (db != 0) {
		snprintf(num, sizeof(num), "%d", db);
		r = redis_cmd(c, REDIS_REPLY_STATUS, err, "SELECT", num, NULL);
		if (r == NULL)
			goto out;
		freeReplyObject(r);
	}
	ok = 1;
out:
	if (!ok) {
		redisFree(c);
		c = NULL;
	}
	return (c);
}

int
redis_probe_memory(
    const struct vsm_agent_config *cfg, json_t **out, struct vsm_err *err)
{
	redisContext    *c;
	struct redis_mem m;
	int              ret = -1;

	*out = NULL;
	if ((c = redis_connect(cfg, 0, err)) == NULL)
		return (-1);
	if (redis_mem_read(c, &m, err) == -1)
		goto out;
	if ((*out = redis_mem_json(&m)) == NULL) {
		vsm_err_set(err, "out of memory");
		goto out;
	}
	ret = 0;
out:
	redisFree(c);
	return (ret);
}
