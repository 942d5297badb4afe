/*
 * redis_info.c: INFO replies read as untrusted text, and the memory
 * figures (redis_info.h).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "redis_info.h"

#define REDIS_NUM_MAX 32 /* characters of a number in INFO */

char *
redis_info(redisContext *c, const char *section, struct vsm_err *err)
{
	redisReply *r;
	char       *s = NULL;

	if ((r = redis_cmd(
	         c, REDIS_REPLY_STRING, err, "INFO", section, NULL)) == NULL)
		return (NULL);
	if (r->str == NULL || r->len > REDIS_INFO_MAX) {
		vsm_err_set(err,
		    "Redis INFO %s: reply of %zu bytes (the cap "
		    "is %d)",
		    section, r->len, REDIS_INFO_MAX);
		goto out;
	}
	if ((s = malloc(r->len + 1)) == NULL) {
		vsm_err_set(err, "out of memory");
		goto out;
	}
	memcpy(s, r->str, r->len);
	s[r->len] = '\0';
out:
	freeReplyObject(r);
	return (s);
}

/*
 * The value of the first line "key:value" in info: *vlen bytes at the
 * returned pointer (up to the line's end, a '\r' excluded); NULL when no
 * line has the key.
 */
static const char *
redis_info_find(const char *info, const char *key, size_t *vlen)
{
	size_t      klen = strlen(key);
	const char *line, *end, *v;

	for (line = info; *line != '\0'; line = end + (*end == '\n')) {
		end = line + strcspn(line, "\n");
		if ((size_t)(end - line) <= klen ||
		    strncmp(line, key, klen) != 0 || line[klen] != ':')
			continue;
		v = line + klen + 1;
		*vlen = (size_t)(end - v);
		if (*vlen > 0 && v[*vlen - 1] == '\r')
			(*vlen)--;
		return (v);
	}
	return (NULL);
}

int
redis_info_str(const char *info, const char *key, char *out, size_t len,
    struct vsm_err *err)
{
	const char *v;
	size_t      i, vlen;

	if ((v = redis_info_find(info, key, &vlen)) == NULL)
		return (vsm_err_set(err, "Redis INFO: no %s", key));
	if (vlen >= len)
		return (vsm_err_set(
		    err, "Redis INFO: %s longer than %zu bytes", key, len - 1));
	for (i = 0; i < vlen; i++)
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] >= 0x7f)
			return (vsm_err_set(
			    err, "Redis INFO: %s is not printable text", key));
	memcpy(out, v, vlen);
	out[vlen] = '\0';
	return (0);
}

int
redis_info_u64(
    const char *info, const char *key, uint64_t *v, struct vsm_err *err)
{
	char               buf[REDIS_NUM_MAX], *end;
	unsigned long long u;

	if (redis_info_str(info, key, buf, sizeof(buf), err) == -1)
		return (-1);
	errno = 0;
	u = strtoull(buf, &end, 10);
	if (buf[0] < '0' || buf[0] > '9' || *end != '\0' || errno != 0 ||
	    u > INT64_MAX)
		return (
		    vsm_err_set(err, "Redis INFO: %s is not a number", key));
	*v = (uint64_t)u;
	return (0);
}

int
redis_info_double(
    const char *info, const char *key, double *v, struct vsm_err *err)
{
	char   buf[REDIS_NUM_MAX], *end;
	double d;

	if (redis_info_str(info, key, buf, sizeof(buf), err) == -1)
		return (-1);
	errno = 0;
	d = strtod(buf, &end);
	if (buf[0] == '\0' || *end != '\0' || errno != 0 || !isfinite(d))
		return (
		    vsm_err_set(err, "Redis INFO: %s is not a number", key));
	*v = d;
	return (0);
}

int
redis_mem_read(redisContext *c, struct redis_mem *m, struct vsm_err *err)
{
	char *info;
	int   ret = -1;

	memset(m, 0, sizeof(*m));
	if ((info = redis_info(c, "memory", err)) == NULL)
		return (-1);
	if (redis_info_u64(info, "used_memory", &m->used, err) == -1 ||
	    redis_info_u64(info, "used_memory_rss", &m->rss, err) == -1 ||
	    redis_info_u64(info, "used_memory_peak", &m->peak, err) == -1 ||
	    redis_info_u64(info, "maxmemory", &m->maxmemory, err) == -1 ||
	    redis_info_str(info, "maxmemory_policy", m->policy,
	        sizeof(m->policy), err) == -1)
		goto out;
	/* Redis before 2.6 has no ratio; it is rss over used either way. */
	if (redis_info_double(
	        info, "mem_fragmentation_ratio", &m->frag, NULL) == -1)
		m->frag = m->used > 0 ? (double)m->rss / (double)m->used : 0;
	if (m->maxmemory > 0)
		m->pct = 100.0 * (double)m->used / (double)m->maxmemory;
	ret = 0;
out:
	free(info);
	return (ret);
}

static double
redis_round2(double v)
{
	return (round(v * 100.0) / 100.0);
}

json_t *
redis_mem_json(const struct redis_mem *m)
{
	json_t *o;

	o = json_pack("{s:I, s:I, s:I, s:I, s:s, s:f}", "used_memory",
	    (json_int_t)m->used, "used_memory_rss", (json_int_t)m->rss,
	    "used_memory_peak", (json_int_t)m->peak, "maxmemory",
	    (json_int_t)m->maxmemory, "maxmemory_policy", m->policy,
	    "mem_fragmentation_ratio", redis_round2(m->frag));
	if (o != NULL && m->maxmemory > 0 &&
	    json_object_set_new(
	        o, "used_pct", json_real(redis_round2(m->pct))) == -1) {
		json_decref(o);
		o = NULL;
	}
	return (o);
}
