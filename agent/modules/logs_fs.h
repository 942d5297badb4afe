/*
 * logs_fs.h: the files the logs modules (and cert.check) may touch. A path a
 * task names is resolved (realpath) and must lie under one of the configured
 * directories (each resolved too), so ".." and symlinks out are refused; what
 * is then opened is checked again through /proc/self/fd. Directories are walked
 * relative to directory fds, never following a symlink (fstatat with
 * AT_SYMLINK_NOFOLLOW, openat with O_NOFOLLOW), to a bounded depth.
 */
#ifndef VSM_LOGS_FS_H
#define VSM_LOGS_FS_H

#include <sys/stat.h>

#include <limits.h>
#include <stdint.h>

#include "config.h"
#include "err.h"

#define LOGS_DEPTH_MAX 8 /* directory levels below the one named */

/* 1 when real (resolved) lies under one of dirs (each resolved), else 0. */
int logs_real_under(const struct vsm_strlist *dirs, const char *real);

/*
 * Resolve path into real (PATH_MAX bytes) and check that it lies under
 * one of dirs. 0, or -1 with err naming the parameter what.
 */
int logs_path_under(const struct vsm_strlist *dirs, const char *path,
    const char *what, char *real, struct vsm_err *err);

/*
 * Open the file or directory real (from logs_path_under) without
 * following a symlink or blocking on a FIFO, check that what was opened
 * is still under dirs, and fill st. The fd, or -1 with err set.
 */
int logs_open_under(const struct vsm_strlist *dirs, const char *real,
    const char *what, struct stat *st, struct vsm_err *err);

struct logs_walk {
	int max_depth; /* levels below the first directory */
	/*
	 * Called for each regular file: dfd is its directory, name its
	 * entry, path its full path, st from fstatat (no symlink followed).
	 * 0 to go on, 1 to stop the walk, -1 on an error that ends it.
	 */
	int (*file)(void *arg, int dfd, const char *name, const char *path,
	    const struct stat *st);
	void    *arg;
	uint64_t symlinks; /* entries skipped: symlinks */
	uint64_t unopened; /* subdirectories that could not be opened */
	uint64_t too_deep; /* subdirectories below max_depth */
	int      stopped;  /* file returned 1, or cancelled */
};

/*
 * Walk the directory open at dfd (taken: closed before returning), named
 * path in messages. 0, or -1 when a callback failed or the directory
 * could not be read, with err set.
 */
int logs_walk_dir(
    struct logs_walk *w, int dfd, const char *path, struct vsm_err *err);

#endif /* VSM_LOGS_FS_H */
