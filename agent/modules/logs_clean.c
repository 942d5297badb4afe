/*
 * logs_clean.c: logs.clean, delete the regular files last written more
 * than older_than ago (and whose name matches an optional glob) under
 * logs.clean_dirs (docs/modules.md, "Logs"). Nothing is touched when the
 * agent configures no clean_dirs. The walk never follows a symlink: each
 * directory is opened with O_NOFOLLOW relative to its parent's fd and
 * each file removed with unlinkat relative to that fd, so a directory
 * swapped for a symlink cannot redirect a delete. Symlinks themselves
 * are left alone. A dry run reports what would go.
 */
#define _GNU_SOURCE /* O_NOFOLLOW, O_DIRECTORY */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "command.h"
#include "logs_fs.h"
#include "module.h"

#define CLEAN_SAMPLES 20 /* paths listed in the result */

static const struct param_spec logs_clean_params[] = {
    {.name = "older_than",
        .type = PARAM_DURATION,
        .min = 86400LL * 1000,
        .max = 3650LL * 86400 * 1000,
        .def = "30d",
        .help = "delete files last written longer ago than this (>= 1d)"},
    {.name = "glob",
        .type = PARAM_STRING,
        .min = 1,
        .max = 255,
        .help = "only file names matching this fnmatch pattern (no '/')"},
    {.name = "path",
        .type = PARAM_PATH,
        .min = 1,
        .max = 4096,
        .help = "one directory under logs.clean_dirs (default: all)"},
    {.name = "depth",
        .type = PARAM_INT,
        .min = 0,
        .max = LOGS_DEPTH_MAX,
        .def = "2",
        .help = "subdirectory levels to descend"},
    {.name = "max_files",
        .type = PARAM_INT,
        .min = 1,
        .max = 1000000,
        .def = "1000",
        .help = "files deleted at most in one run"},
    {.name = NULL},
};

struct clean {
	const char *glob; /* NULL: every name */
	time_t      cutoff;
	int         dry_run;
	uint64_t    max_files;
	uint64_t    files, bytes, failed, kept;
	int         capped;
	json_t     *samples;
	char        first_error[256];
};

static int
logs_clean_validate(
    struct task_ctx *ctx, const struct task_params *p, struct vsm_err *err)
{
	const char *g = params_str(p, "glob");

	(void)ctx;
	if (g != NULL && strchr(g, '/') != NULL)
		return (vsm_err_set(
		    err, "parameter 'glob': a file name pattern has no '/'"));
	return (0);
}

/* logs_walk callback: delete (or count, in a dry run) one old file. */
static int
logs_clean_entry(void *arg, int dfd, const char *name, const char *path,
    const struct stat *st)
{
	struct clean *c = arg;

	if (st->st_mtime >= c->cutoff ||
	    (c->glob != NULL && fnmatch(c->glob, name, FNM_PERIOD) != 0)) {
		c->kept++;
		return (0);
	}
	if (c->files >= c->max_files) {
		c->capped = 1;
		return (1);
	}
	/* Relative to the directory fd: only this entry can go. */
	if (!c->dry_run && unlinkat(dfd, name, 0) == -1) {
		if (c->failed++ == 0)
			snprintf(c->first_error, sizeof(c->first_error),
			    "%s: %s", path, strerror(errno));
		return (0);
	}
	c->files++;
	c->bytes += (uint64_t)st->st_size;
	if (json_array_size(c->samples) < CLEAN_SAMPLES)
		json_array_append_new(c->samples, json_string(path));
	return (0);
}

/* Clean one directory (resolved, under clean_dirs). 0 or -1 with err. */
static int
logs_clean_dir(const struct vsm_strlist *dirs, const char *path, int depth,
    struct logs_walk *w, struct vsm_err *err)
{
	struct stat st;
	char        real[PATH_MAX];
	int         fd;

	if (logs_path_under(dirs, path, "path", real, err) == -1)
		return (-1);
	if ((fd = logs_open_under(dirs, real, "path", &st, err)) == -1)
		return (-1);
	if (!S_ISDIR(st.st_mode)) {
		close(fd);
		return (vsm_err_set(
		    err, "parameter 'path': %s is not a directory", real));
	}
	w->max_depth = depth;
	return (logs_walk_dir(w, fd, real, err));
}

static int
logs_clean_run(struct task_ctx *ctx, const struct task_params *p)
{
	const struct vsm_agent_config *cfg;
	const char                    *path = params_str(p, "path");
	struct logs_walk               w;
	struct vsm_err                 err;
	struct clean                   c;
	Vsm__TaskStatus                st;
	json_t                        *res = NULL;
	char                           summary[256], size[32];
	int                            depth = (int)params_num(p, "depth");
	size_t                         i;
	int                            ret = -1;

	memset(&c, 0, sizeof(c));
	memset(&w, 0, sizeof(w));
	c.glob = params_str(p, "glob");
	c.cutoff = time(NULL) - (time_t)(params_num(p, "older_than") / 1000);
	c.dry_run = ctx->task->dry_run;
	c.max_files = (uint64_t)params_num(p, "max_files");
	w.file = logs_clean_entry;
	w.arg = &c;
	if ((cfg = task_config(ctx, &err)) == NULL) {
		ret = task_finish_error(ctx, "%s", err.msg);
		goto out;
	}
	if (cfg->logs.clean_dirs.n == 0) {
		ret = task_finish_error(ctx,
		    "logs.clean_dirs is empty in the agent's config: nothing "
		    "may be deleted");
		goto out;
	}
	if ((c.samples = json_array()) == NULL)
		goto out;
	for (i = 0;
	     i < (path != NULL ? 1 : cfg->logs.clean_dirs.n) && !w.stopped; i++)
		if (logs_clean_dir(&cfg->logs.clean_dirs,
		        path != NULL ? path : cfg->logs.clean_dirs.v[i], depth,
		        &w, &err) == -1) {
			ret = task_finish_error(ctx, "%s", err.msg);
			goto out;
		}
	if (task_cancelled()) {
		ret = task_finish_error(ctx, "cancelled after %llu files",
		    (unsigned long long)c.files);
		goto out;
	}
	st = c.failed > 0 ? VSM__TASK_STATUS__TASK_WARN
	                  : VSM__TASK_STATUS__TASK_OK;
	res = json_pack("{s:b, s:I, s:I, s:I, s:I, s:b, s:I, s:O}", "dry_run",
	    c.dry_run, "files", (json_int_t)c.files, "bytes",
	    (json_int_t)c.bytes, "failed", (json_int_t)c.failed, "kept",
	    (json_int_t)c.kept, "capped", c.capped, "symlinks_skipped",
	    (json_int_t)w.symlinks, "samples", c.samples);
	if (res != NULL && c.failed > 0)
		json_object_set_new(
		    res, "first_error", json_string(c.first_error));
	vsm_size_format(c.bytes, size, sizeof(size));
	snprintf(summary, sizeof(summary), "%s%llu files, %s%s%s",
	    c.dry_run ? "dry run: would delete " : "deleted ",
	    (unsigned long long)c.files, size,
	    c.capped ? " (max_files reached)" : "",
	    c.failed > 0 ? ", some could not be deleted" : "");
	ret = task_finish(ctx, st, summary, res, 0, NULL);
out:
	json_decref(c.samples);
	json_decref(res);
	return (ret);
}

const struct task_module mod_logs_clean = {
    .name = "logs.clean",
    .params = logs_clean_params,
    .validate = logs_clean_validate,
    .run = logs_clean_run,
    .cancel = command_cancel,
};
