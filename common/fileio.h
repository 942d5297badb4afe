/*
 * fileio.h: writing small files that must appear whole or not at all
 * (keys, configs).
 */
#ifndef VSM_FILEIO_H
#define VSM_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

#include "err.h"

/* A last look at the written temporary file before it is linked in. */
typedef int vsm_file_check_fn(const char *tmppath, struct vsm_err *err);

/*
 * Write `len` bytes to `path` with `mode`, never replacing an existing
 * file: the data goes to PATH.tmp.PID (O_EXCL), is fsync'd, passes `check`
 * (if given), and is then linked into place and the directory fsync'd, so
 * a reader sees either no file or the whole of it. Returns 0, or -1 with
 * err set and nothing left behind.
 */
int vsm_write_new_file(const char *path, const void *data, size_t len,
    mode_t mode, vsm_file_check_fn *check, struct vsm_err *err);

/*
 * Create `path` and any missing parents (as mkdir -p), each new one with
 * `mode`; an existing directory is fine. Returns 0, or -1 with err set.
 */
int vsm_mkdirs(const char *path, mode_t mode, struct vsm_err *err);

/* fsync a directory so that a rename or link in it is durable. 0 or -1. */
int vsm_fsync_dir(const char *dir);
/* vsm_fsync_dir of the directory holding path. 0 or -1. */
int vsm_fsync_parent(const char *path);

#endif /* VSM_FILEIO_H */
