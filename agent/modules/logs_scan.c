/*
 * logs_scan.c: logs.scan, lines matching a POSIX extended regular
 * expression in the files of a log file or directory under logs.dirs
 * (docs/modules.md, "Logs"). Files last written before `since` are
 * skipped; in the others a line that opens with a syslog or ISO 8601
 * timestamp before `since` is not counted. At most max_bytes are read in
 * all, from the end of a file that has more (the newest lines). The total
 * count against warn/fail gives the status.
 */
#define _GNU_SOURCE /* O_NOFOLLOW */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "command.h"
#include "logs_fs.h"
#include "logs_read.h"
#include "module.h"

#define SCAN_PATTERN_MAX 512
#define SCAN_SAMPLE_MAX  256 /* bytes of a sample line */
#define SCAN_FILES_MAX   10000
#define SCAN_LIST_MAX    200 /* files listed in the result; all counted */

static const struct param_spec logs_scan_params[] = {
    {.name = "path",
        .type = PARAM_PATH,
        .min = 1,
        .max = 4096,
        .help = "a log file or directory under logs.dirs (default: all of "
                "logs.dirs)"},
    {.name = "pattern",
        .type = PARAM_STRING,
        .min = 1,
        .max = SCAN_PATTERN_MAX,
        .def = "error|fatal|panic|critical",
        .help = "POSIX extended regular expression a line must match"},
    {.name = "case_sensitive",
        .type = PARAM_BOOL,
        .def = "false",
        .help = "match case exactly"},
    {.name = "since",
        .type = PARAM_DURATION,
        .min = 1000,
        .max = 366LL * 86400 * 1000,
        .def = "24h",
        .help = "only files written and lines stamped this recently"},
    {.name = "depth",
        .type = PARAM_INT,
        .min = 0,
        .max = LOGS_DEPTH_MAX,
        .def = "0",
        .help = "subdirectory levels to descend"},
    {.name = "max_bytes",
        .type = PARAM_SIZE,
        .min = 1024,
        .max = 64LL * 1024 * 1024 * 1024,
        .def = "256MiB",
        .help = "bytes read in all"},
    {.name = "samples",
        .type = PARAM_INT,
        .min = 0,
        .max = 20,
        .def = "3",
        .help = "matching lines kept per file"},
    {.name = "warn",
        .type = PARAM_INT,
        .min = 1,
        .max = 1000000000,
        .def = "1",
        .help = "matching lines for warn"},
    {.name = "fail",
        .type = PARAM_INT,
        .min = 1,
        .max = 1000000000,
        .def = "100",
        .help = "matching lines for fail"},
    {.name = NULL},
};

struct scan {
	regex_t  re;
	time_t   now, cutoff;
	int64_t  nsamples;
	uint64_t max_bytes, bytes;
	uint64_t matches, lines, lines_old;
	uint64_t files, files_old, files_compressed, files_matched;
	int      capped, files_capped, list_capped;
	json_t  *list; /* files with matches */
};

/* Compile the task's pattern into re. 0, or -1 with err. */
static int
logs_scan_compile(const struct task_params *p, regex_t *re, struct vsm_err *err)
{
	const char *pat = params_str(p, "pattern");
	char        msg[128];
	int         flags = REG_EXTENDED | REG_NOSUB, rc;
	size_t      i;

	/* glibc's back-references can take exponential time. */
	for (i = 0; pat[i] != '\0'; i++)
		if (pat[i] == '\\' && pat[i + 1] >= '1' && pat[i + 1] <= '9')
			return (vsm_err_set(err,
			    "parameter 'pattern': back-references are not "
			    "allowed"));
	if (!params_num(p, "case_sensitive"))
		flags |= REG_ICASE;
	if ((rc = regcomp(re, pat, flags)) != 0) {
		regerror(rc, re, msg, sizeof(msg));
		return (vsm_err_set(err,
		    "parameter 'pattern': not a POSIX extended regular "
		    "expression: %s",
		    msg));
	}
	return (0);
}

static int
logs_scan_validate(
    struct task_ctx *ctx, const struct task_params *p, struct vsm_err *err)
{
	regex_t re;

	(void)ctx;
	if (params_check_order(p, "warn", "fail", err) == -1)
		return (-1);
	if (logs_scan_compile(p, &re, err) == -1)
		return (-1);
	regfree(&re);
	return (0);
}

/*
 * Bytes of s cut to SCAN_SAMPLE_MAX and cleaned (task_text_clean), as JSON;
 * NULL when out of memory.
 */
static json_t *
logs_scan_sample(const char *s, size_t len)
{
	char buf[SCAN_SAMPLE_MAX + 1];

	if (len > SCAN_SAMPLE_MAX)
		len = SCAN_SAMPLE_MAX;
	task_text_clean(s, len, buf);
	buf[len] = '\0';
	return (json_string(buf));
}

/* path cleaned (task_text_clean) as JSON; NULL when out of memory. */
static json_t *
logs_scan_name(const char *path)
{
	json_t *j;
	size_t  len = strlen(path);
	char   *buf;

	if ((buf = malloc(len + 1)) == NULL)
		return (NULL);
	task_text_clean(path, len, buf);
	buf[len] = '\0';
	j = json_string(buf);
	free(buf);
	return (j);
}

static int
logs_scan_compressed(const char *name)
{
	static const char *const ext[] = {
	    ".gz", ".xz", ".bz2", ".zst", ".lz4", ".zip", NULL};
	size_t n = strlen(name), e, i;

	for (i = 0; ext[i] != NULL; i++) {
		e = strlen(ext[i]);
		if (n > e && strcmp(name + n - e, ext[i]) == 0)
			return (1);
	}
	return (0);
}

/*
 * Scan the open regular file fd (borrowed), named path. 0, 1 when the
 * byte cap or a cancellation ends the scan, -1 when out of memory.
 */
static int
logs_scan_fd(struct scan *s, int fd, const char *path, const struct stat *st)
{
	struct logs_reader *r = NULL;
	const char         *rest;
	uint64_t            budget, from = 0, n = 0, lines = 0;
	json_t             *samples = NULL, *f, *name;
	time_t              t;
	size_t              len;
	char               *line;
	int                 ret = -1;

	if (st->st_mtime < s->cutoff) {
		s->files_old++;
		return (0);
	}
	if (logs_scan_compressed(path)) {
		s->files_compressed++;
		return (0);
	}
	if (s->files >= SCAN_FILES_MAX) {
		s->files_capped = 1;
		return (1);
	}
	if (s->bytes >= s->max_bytes) {
		s->capped = 1;
		return (1);
	}
	s->files++;
	budget = s->max_bytes - s->bytes;
	if ((r = malloc(sizeof(*r))) == NULL ||
	    (samples = json_array()) == NULL)
		goto out;
	/* More than the budget: its newest lines, from a line start. */
	from = logs_reader_tail(r, fd, (uint64_t)st->st_size, budget);
	if ((uint64_t)st->st_size > budget)
		s->capped = 1;
	while (logs_reader_next(r, &line, &len) == 1) {
		if ((++lines & 4095) == 0 && task_cancelled())
			break;
		if (logs_line_time(line, s->now, &t, &rest) && t < s->cutoff) {
			s->lines_old++;
			continue;
		}
		if (regexec(&s->re, line, 0, NULL, 0) != 0)
			continue;
		if ((int64_t)n++ < s->nsamples)
			json_array_append_new(
			    samples, logs_scan_sample(line, len));
	}
	s->bytes += r->bytes;
	s->lines += lines;
	s->matches += n;
	if (n > 0)
		s->files_matched++;
	if (n > 0 && json_array_size(s->list) >= SCAN_LIST_MAX)
		s->list_capped = 1;
	else if (n > 0) {
		if ((name = logs_scan_name(path)) == NULL)
			goto out;
		/* json_pack takes name, also on failure. */
		f = json_pack("{s:o, s:I, s:I, s:O}", "path", name, "matches",
		    (json_int_t)n, "bytes_read", (json_int_t)r->bytes,
		    "samples", samples);
		if (f != NULL && from > 0)
			json_object_set_new(
			    f, "from_offset", json_integer(from));
		if (f != NULL && r->error != 0)
			json_object_set_new(
			    f, "read_error", json_string(strerror(r->error)));
		if (f == NULL || json_array_append_new(s->list, f) == -1)
			goto out;
	}
	ret = task_cancelled() ? 1 : 0;
out:
	free(r);
	json_decref(samples);
	return (ret);
}

/* logs_walk callback: open the entry without following a symlink. */
static int
logs_scan_entry(void *arg, int dfd, const char *name, const char *path,
    const struct stat *st)
{
	struct scan *s = arg;
	struct stat  fst;
	int          fd, rc;

	(void)st;
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1)
		return (0); /* swapped or unreadable: skipped */
	if (fstat(fd, &fst) == -1 || !S_ISREG(fst.st_mode)) {
		close(fd);
		return (0);
	}
	rc = logs_scan_fd(s, fd, path, &fst);
	close(fd);
	if (rc == -1)
		errno = ENOMEM;
	return (rc);
}

/* Scan one named path (resolved, under dirs). 0 or -1 with err. */
static int
logs_scan_path(struct scan *s, const struct vsm_strlist *dirs, const char *path,
    int depth, struct logs_walk *w, struct vsm_err *err)
{
	struct stat st;
	char        real[PATH_MAX];
	int         fd, rc;

	if (logs_path_under(dirs, path, "path", real, err) == -1)
		return (-1);
	if ((fd = logs_open_under(dirs, real, "path", &st, err)) == -1)
		return (-1);
	if (S_ISDIR(st.st_mode)) {
		w->max_depth = depth;
		return (logs_walk_dir(w, fd, real, err));
	}
	rc = logs_scan_fd(s, fd, real, &st);
	close(fd);
	if (rc == -1)
		return (vsm_err_set(err, "out of memory"));
	return (0);
}

static int
logs_scan_run(struct task_ctx *ctx, const struct task_params *p)
{
	const struct vsm_agent_config *cfg;
	const char                    *path = params_str(p, "path");
	struct logs_walk               w;
	struct vsm_err                 err;
	struct scan                    s;
	Vsm__TaskStatus                st;
	json_t                        *res = NULL;
	char                           summary[256];
	int64_t                        warn, fail;
	size_t                         i;
	int                            compiled = 0, ret = -1;

	memset(&s, 0, sizeof(s));
	memset(&w, 0, sizeof(w));
	s.now = time(NULL);
	s.cutoff = s.now - (time_t)(params_num(p, "since") / 1000);
	s.max_bytes = (uint64_t)params_num(p, "max_bytes");
	s.nsamples = params_num(p, "samples");
	warn = params_num(p, "warn");
	fail = params_num(p, "fail");
	w.file = logs_scan_entry;
	w.arg = &s;
	if ((cfg = task_config(ctx, &err)) == NULL) {
		ret = task_finish_error(ctx, "%s", err.msg);
		goto out;
	}
	if (logs_scan_compile(p, &s.re, &err) == -1) {
		ret = task_finish_error(ctx, "%s", err.msg);
		goto out;
	}
	compiled = 1;
	if ((s.list = json_array()) == NULL)
		goto out;
	if (path != NULL) {
		if (logs_scan_path(&s, &cfg->logs.dirs, path,
		        (int)params_num(p, "depth"), &w, &err) == -1) {
			ret = task_finish_error(ctx, "%s", err.msg);
			goto out;
		}
	} else
		for (i = 0; i < cfg->logs.dirs.n && !w.stopped; i++)
			if (logs_scan_path(&s, &cfg->logs.dirs,
			        cfg->logs.dirs.v[i],
			        (int)params_num(p, "depth"), &w, &err) == -1) {
				ret = task_finish_error(ctx, "%s", err.msg);
				goto out;
			}
	if (task_cancelled()) {
		ret = task_finish_error(ctx, "cancelled");
		goto out;
	}
	st = task_threshold((double)s.matches, (double)warn, (double)fail);
	res = json_pack("{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	                "s:b, s:b, s:b, s:I, s:I, s:O, s:I, s:I}",
	    "pattern", params_str(p, "pattern"), "case_sensitive",
	    (int)params_num(p, "case_sensitive"), "since_s",
	    (json_int_t)(params_num(p, "since") / 1000), "matches",
	    (json_int_t)s.matches, "files_scanned", (json_int_t)s.files,
	    "files_matched", (json_int_t)s.files_matched, "files_skipped_old",
	    (json_int_t)s.files_old, "files_skipped_compressed",
	    (json_int_t)s.files_compressed, "lines_scanned",
	    (json_int_t)s.lines, "lines_before_since", (json_int_t)s.lines_old,
	    "capped", s.capped, "files_capped", s.files_capped,
	    "files_listed_capped", s.list_capped, "bytes_read",
	    (json_int_t)s.bytes, "symlinks_skipped", (json_int_t)w.symlinks,
	    "files", s.list, "warn", (json_int_t)warn, "fail",
	    (json_int_t)fail);
	snprintf(summary, sizeof(summary),
	    "%llu matching lines in %llu of %llu files%s",
	    (unsigned long long)s.matches, (unsigned long long)s.files_matched,
	    (unsigned long long)s.files, s.capped ? " (byte cap reached)" : "");
	ret = task_finish(ctx, st, summary, res, 0, NULL);
out:
	if (compiled)
		regfree(&s.re);
	json_decref(s.list);
	json_decref(res);
	return (ret);
}

const struct task_module mod_logs_scan = {
    .name = "logs.scan",
    .params = logs_scan_params,
    .validate = logs_scan_validate,
    .run = logs_scan_run,
    .cancel = command_cancel,
};
