/*
 * redis_delete_pattern.c: redis.delete_pattern, the guide's
 * `redis-cli --scan --pattern "cache:*" | xargs redis-cli del` made safe.
 *
 * The keyspace is walked with SCAN MATCH pattern COUNT batch (never KEYS,
 * which blocks the server), and the keys found are removed with UNLINK
 * (freed in the background) in batches of at most `batch`. Counting is
 * the default: the task reports how many keys match and a few samples.
 * Keys are deleted only with execute=true and not dry_run, and never more
 * than max_keys. A pattern that matches everything ("*", "**", ...) needs
 * allow_all=true. The pattern travels as one bulk string, so spaces,
 * quotes or protocol text in it are matched literally, never run.
 *
 * SCAN returns every key present for the whole walk at least once, and
 * may return one twice while the table resizes: `matched` can count a
 * key twice, `deleted` is what UNLINK reports and is exact.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_modules.h"

#define REDIS_CURSOR_MAX 32 /* digits of a SCAN cursor, with NUL */

static const struct param_spec redis_delete_params[] = {
    {.name = "pattern",
        .type = PARAM_STRING,
        .required = 1,
        .min = 1,
        .max = 256,
        .help = "SCAN MATCH glob of the keys, e.g. cache:*"},
    {.name = "db",
        .type = PARAM_INT,
        .min = 0,
        .max = 1023,
        .def = "0",
        .help = "database number (SELECT)"},
    {.name = "execute",
        .type = PARAM_BOOL,
        .def = "false",
        .help = "delete the keys; without it they are only counted"},
    {.name = "allow_all",
        .type = PARAM_BOOL,
        .def = "false",
        .help = "accept a pattern that matches every key"},
    {.name = "max_keys",
        .type = PARAM_INT,
        .min = 1,
        .max = 1000000,
        .def = "10000",
        .help = "stop after this many keys"},
    {.name = "batch",
        .type = PARAM_INT,
        .min = 1,
        .max = 1000,
        .def = "500",
        .help = "SCAN COUNT and keys per UNLINK"},
    {.name = "samples",
        .type = PARAM_INT,
        .min = 0,
        .max = 100,
        .def = "10",
        .help = "matching keys shown"},
    {.name = NULL},
};

struct redis_del {
	redisContext *c;
	int           execute;
	int64_t       max_keys, batch, nsamples;
	int64_t       matched, deleted, scans, unlinks;
	int           truncated;
	const char  **argv; /* "UNLINK" and up to batch keys */
	size_t       *lens;
	int           argc;
	json_t       *samples;
};

/*
 * A pattern made of '*' alone matches every key. The pattern goes into
 * the JSON result, so it must be UTF-8.
 */
static int
redis_delete_validate(
    struct task_ctx *ctx, const struct task_params *p, struct vsm_err *err)
{
	const char *pat = params_str(p, "pattern");
	json_t     *j;

	(void)ctx;
	if ((j = json_string(pat)) == NULL)
		return (
		    vsm_err_set(err, "parameter 'pattern': not valid UTF-8"));
	json_decref(j);
	if (pat[strspn(pat, "*")] == '\0' && params_num(p, "allow_all") == 0)
		return (vsm_err_set(err,
		    "parameter 'pattern': '%s' matches every key; "
		    "allow_all=true is needed for that",
		    pat));
	return (0);
}

/* UNLINK the keys gathered in d->argv. 0 or -1 with err. */
static int
redis_delete_flush(struct redis_del *d, struct vsm_err *err)
{
	redisReply *r;

	if (d->argc <= 1)
		return (0);
	r = redis_cmd_argv(
	    d->c, REDIS_REPLY_INTEGER, d->argc, d->argv, d->lens, err);
	d->argc = 1;
	if (r == NULL)
		return (-1);
	if (r->integer > 0)
		d->deleted += r->integer;
	d->unlinks++;
	freeReplyObject(r);
	return (0);
}

/*
 * Take the keys of one SCAN reply: count them, keep samples, and in
 * execute mode UNLINK them in batches before the reply is freed. Sets
 * d->truncated when a key beyond max_keys shows up. 0 or -1 with err.
 */
static int
redis_delete_keys(struct redis_del *d, const redisReply *keys,
    struct task_ctx *ctx, struct vsm_err *err)
{
	const redisReply *k;
	char              text[REDIS_TEXT_MAX];
	size_t            i;

	for (i = 0; i < keys->elements; i++) {
		k = keys->element[i];
		if (k->type != REDIS_REPLY_STRING)
			return (vsm_err_set(err,
			    "Redis SCAN: a key that is "
			    "not a bulk string"));
		if (d->matched == d->max_keys) {
			d->truncated = 1;
			break;
		}
		d->matched++;
		if ((int64_t)json_array_size(d->samples) < d->nsamples) {
			redis_text(k->str, k->len, text, sizeof(text));
			if (json_array_append_new(
			        d->samples, json_string(text)) == -1)
				return (vsm_err_set(err, "out of memory"));
			task_emit_log(ctx, "match: %s", text);
		}
		if (!d->execute)
			continue;
		d->argv[d->argc] = k->str;
		d->lens[d->argc] = k->len;
		if (++d->argc > d->batch && redis_delete_flush(d, err) == -1)
			return (-1);
	}
	return (d->execute ? redis_delete_flush(d, err) : 0);
}

/*
 * One SCAN step: cursor in, next cursor out. 0 or -1 with err (the reply
 * must be [cursor digits, [bulk strings]]).
 */
static int
redis_delete_scan(struct redis_del *d, const char *pattern, char *cursor,
    struct task_ctx *ctx, struct vsm_err *err)
{
	redisReply *r, *cur, *keys;
	char        count[24];
	int         ret = -1;

	snprintf(count, sizeof(count), "%lld", (long long)d->batch);
	if ((r = redis_cmd(d->c, REDIS_REPLY_ARRAY, err, "SCAN", cursor,
	         "MATCH", pattern, "COUNT", count, NULL)) == NULL)
		return (-1);
	d->scans++;
	if (r->elements != 2 ||
	    (cur = r->element[0])->type != REDIS_REPLY_STRING ||
	    cur->len == 0 || cur->len >= REDIS_CURSOR_MAX ||
	    strspn(cur->str, "0123456789") != cur->len ||
	    (keys = r->element[1])->type != REDIS_REPLY_ARRAY) {
		vsm_err_set(err, "Redis SCAN: malformed reply");
		goto out;
	}
	memcpy(cursor, cur->str, cur->len);
	cursor[cur->len] = '\0';
	ret = redis_delete_keys(d, keys, ctx, err);
out:
	freeReplyObject(r);
	return (ret);
}

static int
redis_delete_run(struct task_ctx *ctx, const struct task_params *p)
{
	struct redis_del d;
	struct vsm_err   err;
	const char      *pattern = params_str(p, "pattern");
	char             cursor[REDIS_CURSOR_MAX] = "0", summary[512];
	int              db = (int)params_num(p, "db"), ret = -1;
	json_t          *res = NULL;
	Vsm__TaskStatus  st;

	memset(&d, 0, sizeof(d));
	d.execute = params_num(p, "execute") != 0 && !ctx->task->dry_run;
	d.max_keys = params_num(p, "max_keys");
	d.batch = params_num(p, "batch");
	d.nsamples = params_num(p, "samples");
	d.argc = 1;
	d.argv = calloc((size_t)d.batch + 2, sizeof(*d.argv));
	d.lens = calloc((size_t)d.batch + 2, sizeof(*d.lens));
	if (d.argv == NULL || d.lens == NULL ||
	    (d.samples = json_array()) == NULL) {
		ret = task_finish_error(ctx, "out of memory");
		goto out;
	}
	d.argv[0] = "UNLINK";
	d.lens[0] = strlen("UNLINK");
	if ((d.c = redis_task_connect(ctx, db, &err)) == NULL) {
		ret = task_finish_error(ctx, "%s", err.msg);
		goto out;
	}
	do {
		if (redis_delete_scan(&d, pattern, cursor, ctx, &err) == -1) {
			ret = task_finish_error(ctx, "%s (%lld keys deleted)",
			    err.msg, (long long)d.deleted);
			goto out;
		}
	} while (!d.truncated && strcmp(cursor, "0") != 0);
	res = json_pack("{s:s, s:i, s:s, s:b, s:I, s:I, s:b, s:I, s:I, s:O}",
	    "pattern", pattern, "db", db, "mode",
	    d.execute ? "delete" : "count", "dry_run", ctx->task->dry_run != 0,
	    "matched", (json_int_t)d.matched, "deleted", (json_int_t)d.deleted,
	    "truncated", d.truncated, "max_keys", (json_int_t)d.max_keys,
	    "scan_calls", (json_int_t)d.scans, "samples", d.samples);
	if (res == NULL ||
	    json_object_set_new(res, "unlink_calls",
	        json_integer((json_int_t)d.unlinks)) == -1) {
		ret = task_finish_error(ctx, "out of memory");
		goto out;
	}
	st = d.truncated ? VSM__TASK_STATUS__TASK_WARN
	                 : VSM__TASK_STATUS__TASK_OK;
	if (d.execute)
		snprintf(summary, sizeof(summary),
		    "deleted %lld keys matching '%s' in db %d%s",
		    (long long)d.deleted, pattern, db,
		    d.truncated ? " (stopped at max_keys; more match)" : "");
	else
		snprintf(summary, sizeof(summary),
		    "%s%lld keys match '%s' in db %d; nothing deleted (%s)",
		    d.truncated ? "at least " : "", (long long)d.matched,
		    pattern, db,
		    ctx->task->dry_run ? "dry run"
		                       : "execute=true deletes them");
	ret = task_finish(ctx, st, summary, res, 0, NULL);
out:
	json_decref(res);
	json_decref(d.samples);
	free(d.argv);
	free(d.lens);
	if (d.c != NULL)
		redisFree(d.c);
	return (ret);
}

const struct task_module mod_redis_delete_pattern = {
    .name = "redis.delete_pattern",
    .params = redis_delete_params,
    .validate = redis_delete_validate,
    .run = redis_delete_run,
};
