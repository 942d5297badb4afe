/*
 * auth_failed_logins.c: auth.failed_logins, failed logins per source
 * address in the auth log (logs.auth_log) over the last `since`
 * (docs/modules.md, "Security"). Counted, per address:
 *   failed        sshd "Failed <method> for [invalid user] U from A port N",
 *                 or an application's "Failed login ... from A"
 *   invalid_user  sshd "Invalid user U from A"
 *   pam           "authentication failure; ... rhost=A" from a service
 *                 other than sshd (whose failures its own lines count)
 * rsyslog's "message repeated N times: [ ... ]" counts N. The address is
 * taken after the last " from " of a line, so a user name holding
 * " from X" cannot pin the failure on X, and must parse as an IP address.
 * The most failures from one address against warn/fail give the status.
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "command.h"
#include "logs_read.h"
#include "module.h"

#define AUTH_SOURCES_MAX 10000 /* distinct addresses tracked */
#define AUTH_ADDR_MAX    64

static const struct param_spec auth_failed_logins_params[] = {
    {.name = "since",
        .type = PARAM_DURATION,
        .min = 60LL * 1000,
        .max = 366LL * 86400 * 1000,
        .def = "24h",
        .help = "only lines stamped this recently"},
    {.name = "top",
        .type = PARAM_INT,
        .min = 1,
        .max = 100,
        .def = "10",
        .help = "sources listed, most failures first"},
    {.name = "warn",
        .type = PARAM_INT,
        .min = 1,
        .max = 1000000000,
        .def = "10",
        .help = "failures from one source for warn"},
    {.name = "fail",
        .type = PARAM_INT,
        .min = 1,
        .max = 1000000000,
        .def = "50",
        .help = "failures from one source for fail"},
    {.name = "max_bytes",
        .type = PARAM_SIZE,
        .min = 1024,
        .max = 64LL * 1024 * 1024 * 1024,
        .def = "256MiB",
        .help = "bytes read at most, from the end of the log"},
    {.name = NULL},
};

enum auth_kind { AUTH_FAILED, AUTH_INVALID_USER, AUTH_PAM, AUTH_KINDS };
static const char *const auth_kind_names[AUTH_KINDS] = {
    "failed", "invalid_user", "pam"};

struct auth {
	json_t  *sources; /* address -> {failed, invalid_user, pam, total} */
	uint64_t events, lines, lines_old;
	int      sources_capped;
};

static int
auth_validate(
    struct task_ctx *ctx, const struct task_params *p, struct vsm_err *err)
{
	(void)ctx;
	return (params_check_order(p, "warn", "fail", err));
}

/* The last occurrence of needle in s, or NULL. */
static const char *
auth_last(const char *s, const char *needle)
{
	const char *p, *last = NULL;

	for (p = s; (p = strstr(p, needle)) != NULL; p++)
		last = p;
	return (last);
}

/* Copy the address token at s into addr; 1 when it is an IP address. */
static int
auth_addr(const char *s, char *addr)
{
	unsigned char bin[16];
	size_t        n = strcspn(s, " \t,;]");

	if (n == 0 || n >= AUTH_ADDR_MAX)
		return (0);
	memcpy(addr, s, n);
	addr[n] = '\0';
	if (strncmp(addr, "::ffff:", 7) == 0 &&
	    inet_pton(AF_INET, addr + 7, bin) == 1)
		memmove(addr, addr + 7, n - 7 + 1);
	return (inet_pton(AF_INET, addr, bin) == 1 ||
	    inet_pton(AF_INET6, addr, bin) == 1);
}

/*
 * What the text after a line's timestamp records: the kind, with the
 * source in addr, or -1 for a line that is no failed login.
 */
static int
auth_classify(const char *rest, char *addr)
{
	const char *p;

	if ((p = strstr(rest, "authentication failure;")) != NULL) {
		if (strstr(rest, "(sshd:auth)") != NULL ||
		    (p = strstr(p, " rhost=")) == NULL)
			return (-1);
		return (auth_addr(p + 7, addr) ? AUTH_PAM : -1);
	}
	if ((p = strstr(rest, "Failed ")) != NULL &&
	    (strstr(p, " for ") != NULL ||
	        strncmp(p, "Failed login", 12) == 0) &&
	    (p = auth_last(p, " from ")) != NULL)
		return (auth_addr(p + 6, addr) ? AUTH_FAILED : -1);
	if ((p = strstr(rest, "Invalid user ")) != NULL &&
	    (p = auth_last(p, " from ")) != NULL)
		return (auth_addr(p + 6, addr) ? AUTH_INVALID_USER : -1);
	return (-1);
}

/* Add n events of kind from addr. 0, or -1 when out of memory. */
static int
auth_count(struct auth *a, const char *addr, int kind, int64_t n)
{
	json_t *src, *v;
	size_t  i;

	if ((src = json_object_get(a->sources, addr)) == NULL) {
		if (json_object_size(a->sources) >= AUTH_SOURCES_MAX) {
			a->sources_capped = 1;
			return (0);
		}
		if ((src = json_pack("{s:I, s:I, s:I, s:I}", "failed",
		         (json_int_t)0, "invalid_user", (json_int_t)0, "pam",
		         (json_int_t)0, "total", (json_int_t)0)) == NULL ||
		    json_object_set_new(a->sources, addr, src) == -1)
			return (-1);
	}
	for (i = 0; i < 2; i++) {
		v = json_object_get(
		    src, i == 0 ? auth_kind_names[kind] : "total");
		json_integer_set(v, json_integer_value(v) + n);
	}
	a->events += (uint64_t)n;
	return (0);
}

/*
 * Read the auth log at fd through r, its last max_bytes at most (*capped
 * set when it is longer). 0, or -1 when out of memory; a read error ends
 * the reading with r->error set.
 */
static int
auth_read(struct auth *a, int fd, const struct stat *st, time_t now,
    time_t cutoff, uint64_t max_bytes, struct logs_reader *r, int *capped)
{
	const char *rest, *rep;
	char        addr[AUTH_ADDR_MAX], *line;
	int64_t     n;
	size_t      len;
	time_t      t;
	int         kind;

	(void)logs_reader_tail(r, fd, (uint64_t)st->st_size, max_bytes);
	if ((uint64_t)st->st_size > max_bytes)
		*capped = 1;
	while (logs_reader_next(r, &line, &len) == 1) {
		if ((++a->lines & 4095) == 0 && task_cancelled())
			break;
		if (!logs_line_time(line, now, &t, &rest))
			rest = line;
		else if (t < cutoff) {
			a->lines_old++;
			continue;
		}
		if ((kind = auth_classify(rest, addr)) == -1)
			continue;
		n = 1;
		if ((rep = strstr(rest, "message repeated ")) != NULL &&
		    (n = strtoll(rep + 17, NULL, 10)) < 1)
			n = 1;
		if (auth_count(a, addr, kind, n) == -1)
			return (-1);
	}
	return (0);
}

static int
auth_cmp(const void *x, const void *y)
{
	json_int_t a =
	    json_integer_value(json_object_get(*(json_t *const *)x, "total"));
	json_int_t b =
	    json_integer_value(json_object_get(*(json_t *const *)y, "total"));

	return (a < b ? 1 : a > b ? -1 : 0);
}

/* The top sources as a new array, most first; *max gets the first's. */
static json_t *
auth_top(struct auth *a, size_t top, int64_t *max)
{
	const char *addr;
	json_t     *src, **v, *out = NULL;
	size_t      n = 0, i;

	*max = 0;
	if ((v = calloc(json_object_size(a->sources) + 1, sizeof(*v))) == NULL)
		return (NULL);
	json_object_foreach(a->sources, addr, src)
	{
		json_object_set_new(src, "address", json_string(addr));
		v[n++] = src;
	}
	qsort(v, n, sizeof(*v), auth_cmp);
	if ((out = json_array()) == NULL)
		goto out;
	for (i = 0; i < n && i < top; i++)
		json_array_append(out, v[i]);
	if (n > 0)
		*max = json_integer_value(json_object_get(v[0], "total"));
out:
	free(v);
	return (out);
}

static int
auth_run(struct task_ctx *ctx, const struct task_params *p)
{
	const struct vsm_agent_config *cfg;
	struct logs_reader            *r = NULL;
	struct vsm_err                 err;
	struct auth                    a;
	struct stat                    st;
	Vsm__TaskStatus                ts;
	json_t                        *top = NULL, *res = NULL;
	char                           summary[256];
	int64_t                        warn, fail, max;
	time_t                         now = time(NULL);
	int                            fd = -1, capped = 0, ret = -1;

	memset(&a, 0, sizeof(a));
	warn = params_num(p, "warn");
	fail = params_num(p, "fail");
	if ((cfg = task_config(ctx, &err)) == NULL) {
		ret = task_finish_error(ctx, "%s", err.msg);
		goto out;
	}
	fd = open(cfg->logs.auth_log, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		ret = task_finish_error(ctx, "logs.auth_log %s: %s",
		    cfg->logs.auth_log,
		    fd == -1 ? strerror(errno) : "not a regular file");
		goto out;
	}
	if ((a.sources = json_object()) == NULL ||
	    (r = malloc(sizeof(*r))) == NULL)
		goto out;
	if (auth_read(&a, fd, &st, now,
	        now - (time_t)(params_num(p, "since") / 1000),
	        (uint64_t)params_num(p, "max_bytes"), r, &capped) == -1)
		goto out;
	if (task_cancelled()) {
		ret = task_finish_error(ctx, "cancelled");
		goto out;
	}
	if ((top = auth_top(&a, (size_t)params_num(p, "top"), &max)) == NULL)
		goto out;
	ts = task_threshold((double)max, (double)warn, (double)fail);
	/* As logs.scan: counts up to a read error, named, and at least warn. */
	if (r->error != 0)
		ts = task_status_worse(ts, VSM__TASK_STATUS__TASK_WARN);
	res = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:b, s:O, "
	                "s:I, s:I}",
	    "log", cfg->logs.auth_log, "since_s",
	    (json_int_t)(params_num(p, "since") / 1000), "events",
	    (json_int_t)a.events, "sources",
	    (json_int_t)json_object_size(a.sources), "max_per_source",
	    (json_int_t)max, "lines_scanned", (json_int_t)a.lines,
	    "lines_before_since", (json_int_t)a.lines_old, "capped", capped,
	    "sources_capped", a.sources_capped, "top", top, "warn",
	    (json_int_t)warn, "fail", (json_int_t)fail);
	if (res != NULL && r->error != 0 &&
	    json_object_set_new(
	        res, "read_error", json_string(strerror(r->error))) == -1)
		goto out;
	snprintf(summary, sizeof(summary),
	    "%llu failed logins from %zu sources, at most %lld from one%s",
	    (unsigned long long)a.events, json_object_size(a.sources),
	    (long long)max, r->error != 0 ? " (read error)" : "");
	ret = task_finish(ctx, ts, summary, res, 0, NULL);
out:
	if (fd != -1)
		close(fd);
	free(r);
	json_decref(a.sources);
	json_decref(top);
	json_decref(res);
	return (ret);
}

const struct task_module mod_auth_failed_logins = {
    .name = "auth.failed_logins",
    .params = auth_failed_logins_params,
    .validate = auth_validate,
    .run = auth_run,
    .cancel = command_cancel,
};
