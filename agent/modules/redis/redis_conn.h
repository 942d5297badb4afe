/*
 * redis_conn.h: the redis.* modules' connection to the agent's Redis
 * (agent.yaml `redis`: socket, else host and port; password), commands
 * sent as separate bulk strings (never pasted command text), replies
 * checked for their type before use, and the memory probe sys.health
 * reuses.
 *
 * The password goes to the server in AUTH and nowhere else: no message
 * built here ever holds it. Text that came from the server (error
 * replies, key names) is passed through redis_text before it reaches a
 * message or a log line.
 */
#ifndef VSM_REDIS_CONN_H
#define VSM_REDIS_CONN_H

#include <stddef.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "config.h"
#include "err.h"

#define REDIS_CONNECT_MS 5000  /* connect, AUTH included */
#define REDIS_COMMAND_MS 30000 /* one command's reply */
#define REDIS_TEXT_MAX   256   /* server text quoted in a message */

/*
 * Connect to the Redis of cfg with the timeouts above, send AUTH when
 * redis.password is set and SELECT db when db is not 0. Returns the
 * context (redisFree), or NULL with err saying what failed (where, and
 * the server's own words for a refused AUTH or SELECT). Blocks up to
 * REDIS_CONNECT_MS for the connection, REDIS_COMMAND_MS per command.
 */
redisContext *redis_connect(
    const struct vsm_agent_config *cfg, int db, struct vsm_err *err);

/*
 * Send argv[0..argc) (lens may be NULL for NUL-terminated strings) and
 * read one reply. Returns the reply (freeReplyObject) when its type is
 * `type` (REDIS_REPLY_*), or NULL with err set: an
 * I/O error or timeout, an error reply (its text, made printable), or a
 * reply of another type. After an I/O error c cannot be used again.
 */
redisReply *redis_cmd_argv(redisContext *c, int type, int argc,
    const char **argv, const size_t *lens, struct vsm_err *err);
/* As redis_cmd_argv with NUL-terminated arguments and a NULL last. */
redisReply *redis_cmd(redisContext *c, int type, struct vsm_err *err,
    const char *arg0, ...) __attribute__((sentinel));

/*
 * Copy s[0..len) into out as printable ASCII: other bytes as \xNN,
 * cut with "..." when it does not fit. out is always NUL-terminated.
 */
void redis_text(const char *s, size_t len, char *out, size_t outlen);

/*
 * sys.health's Redis check: connect with cfg, read INFO memory and set
 * *out to a new object (json_decref) with used_memory, used_memory_rss,
 * used_memory_peak, maxmemory, maxmemory_policy,
 * mem_fragmentation_ratio and, when maxmemory is set, used_pct. 0, or
 * -1 with err set and *out NULL. Blocks as redis_connect.
 */
int redis_probe_memory(
    const struct vsm_agent_config *cfg, json_t **out, struct vsm_err *err);

#endif /* VSM_REDIS_CONN_H */
