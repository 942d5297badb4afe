/*
 * redis_info.h: the INFO command's reply, read as untrusted text. A reply
 * over REDIS_INFO_MAX bytes is refused; lookups take the first line
 * "key:value" with that exact key and skip everything else (comments,
 * section headers, lines they do not know). A value longer than the
 * caller's buffer or not a number where one is wanted is an error, never
 * cut or guessed.
 */
#ifndef VSM_REDIS_INFO_H
#define VSM_REDIS_INFO_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "redis_conn.h"

#define REDIS_INFO_MAX (256 * 1024) /* bytes of one INFO reply */

/*
 * INFO section (e.g. "memory"). Returns a NUL-terminated copy of the
 * reply (free), or NULL with err set (no reply, not a bulk string, too
 * large).
 */
char *redis_info(redisContext *c, const char *section, struct vsm_err *err);

/* The value of key in info into out. 0, or -1 with err naming the key. */
int redis_info_str(const char *info, const char *key, char *out, size_t len,
    struct vsm_err *err);
/* A decimal unsigned value. 0 or -1 with err. */
int redis_info_u64(
    const char *info, const char *key, uint64_t *v, struct vsm_err *err);
/* A decimal value that may be signed or have a fraction. 0 or -1. */
int redis_info_double(
    const char *info, const char *key, double *v, struct vsm_err *err);

/* INFO memory, as the memory modules and the probe use it. */
struct redis_mem {
	uint64_t used, rss, peak, maxmemory; /* bytes */
	double   frag;       /* mem_fragmentation_ratio (rss/used if absent) */
	double   pct;        /* used of maxmemory, 0 when maxmemory is 0 */
	char     policy[64]; /* maxmemory_policy */
};

/* Read INFO memory into m. 0, or -1 with err set. */
int redis_mem_read(redisContext *c, struct redis_mem *m, struct vsm_err *err);
/* The fields of m as a new object (see redis_probe_memory); NULL: ENOMEM. */
json_t *redis_mem_json(const struct redis_mem *m);

#endif /* VSM_REDIS_INFO_H */
