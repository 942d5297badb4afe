/*
 * logs_fs.c: the paths the logs modules may touch, and directory walks
 * that never follow a symlink (logs_fs.h).
 */
#define _GNU_SOURCE /* O_NOFOLLOW, O_DIRECTORY */

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "logs_fs.h"
#include "module.h"

int
logs_real_under(const struct vsm_strlist *dirs, const char *real)
{
	char   rd[PATH_MAX];
	size_t i, n;

	for (i = 0; i < dirs->n; i++) {
		if (realpath(dirs->v[i], rd) == NULL)
			continue;
		n = strlen(rd);
		if (strncmp(real, rd, n) == 0 &&
		    (real[n] == '\0' || real[n] == '/' || n == 1))
			return (1);
	}
	return (0);
}

int
logs_path_under(const struct vsm_strlist *dirs, const char *path,
    const char *what, char *real, struct vsm_err *err)
{
	if (realpath(path, real) == NULL)
		return (vsm_err_set(err, "parameter '%s': %s: %s", what, path,
		    strerror(errno)));
	if (!logs_real_under(dirs, real))
		return (vsm_err_set(err,
		    "parameter '%s': %s is not under the agent's allowed "
		    "directories",
		    what, path));
	return (0);
}

int
logs_open_under(const struct vsm_strlist *dirs, const char *real,
    const char *what, struct stat *st, struct vsm_err *err)
{
	char    link[64], now[PATH_MAX];
	ssize_t n;
	int     fd;

	fd = open(real, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1)
		return (vsm_err_set(err, "parameter '%s': %s: %s", what, real,
		    strerror(errno)));
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, now, sizeof(now) - 1)) == -1 ||
	    (size_t)n >= sizeof(now) - 1) {
		vsm_err_set(err, "parameter '%s': %s: cannot tell where it is",
		    what, real);
		goto fail;
	}
	now[n] = '\0';
	/* A component swapped for a symlink since realpath: refused. */
	if (!logs_real_under(dirs, now)) {
		vsm_err_set(err,
		    "parameter '%s': %s is not under the agent's allowed "
		    "directories",
		    what, real);
		goto fail;
	}
	if (fstat(fd, st) == -1 ||
	    (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode))) {
		vsm_err_set(err,
		    "parameter '%s': %s is not a regular file or a directory",
		    what, real);
		goto fail;
	}
	return (fd);
fail:
	close(fd);
	return (-1);
}

/* One level of the walk; dfd is taken. */
static int
logs_walk_level(struct logs_walk *w, int dfd, const char *path, int depth,
    struct vsm_err *err)
{
	struct dirent *de;
	struct stat    st;
	DIR           *d;
	char           sub[PATH_MAX];
	int            sfd, rc, ret = -1;

	if ((d = fdopendir(dfd)) == NULL) {
		vsm_err_set(err, "%s: %s", path, strerror(errno));
		close(dfd);
		return (-1);
	}
	while (!w->stopped) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			if (errno != 0) {
				vsm_err_set(
				    err, "%s: %s", path, strerror(errno));
				goto out;
			}
			break;
		}
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (task_cancelled()) {
			w->stopped = 1;
			break;
		}
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s",
		        strcmp(path, "/") == 0 ? "" : path,
		        de->d_name) >= sizeof(sub))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
		    -1)
			continue; /* gone meanwhile */
		if (S_ISLNK(st.st_mode)) {
			w->symlinks++;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			if (depth >= w->max_depth) {
				w->too_deep++;
				continue;
			}
			/* A directory swapped for a symlink fails here. */
			sfd = openat(dirfd(d), de->d_name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sfd == -1) {
				w->unopened++;
				continue;
			}
			if (logs_walk_level(w, sfd, sub, depth + 1, err) == -1)
				goto out;
			continue;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		if ((rc = w->file(w->arg, dirfd(d), de->d_name, sub, &st)) ==
		    -1) {
			vsm_err_set(err, "%s: %s", sub, strerror(errno));
			goto out;
		}
		if (rc == 1)
			w->stopped = 1;
	}
	ret = 0;
out:
	closedir(d);
	return (ret);
}

int
logs_walk_dir(
    struct logs_walk *w, int dfd, const char *path, struct vsm_err *err)
{
	return (logs_walk_level(w, dfd, path, 0, err));
}
