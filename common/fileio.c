#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"

int
vsm_write_new_file(const char *path, const void *data, size_t len, mode_t mode,
    vsm_file_check_fn *check, struct vsm_err *err)
{
	char           tmp[PATH_MAX];
	const uint8_t *p = data;
	struct stat    st;
	size_t         off = 0;
	ssize_t        n;
	int            fd = -1, ret = -1;

	if (lstat(path, &st) == 0)
		return (vsm_err_set(err,
		    "%s: already exists (%s); refusing to replace it", path,
		    strerror(EEXIST)));
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >=
	    (int)sizeof(tmp))
		return (vsm_err_set(err, "%s: path too long", path));
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)) ==
	    -1)
		return (vsm_err_set(err, "%s: %s", tmp, strerror(errno)));
	/* The umask may have narrowed the mode; never widened it. */
	if (fchmod(fd, mode) == -1) {
		vsm_err_set(err, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	while (off < len) {
		if ((n = write(fd, p + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			vsm_err_set(err, "%s: %s", tmp, strerror(errno));
			goto out;
		}
		off += (size_t)n;
	}
	if (fsync(fd) == -1) {
		vsm_err_set(err, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	if (check != NULL && check(tmp, err) == -1)
		goto out;
	if (link(tmp, path) == -1) {
		vsm_err_set(err, "%s: %s%s", path, strerror(errno),
		    errno == EEXIST ? " (refusing to replace it)" : "");
		goto out;
	}
	(void)vsm_fsync_parent(path);
	ret = 0;
out:
	close(fd);
	unlink(tmp);
	return (ret);
}

int
vsm_mkdirs(const char *path, mode_t mode, struct vsm_err *err)
{
	char        buf[PATH_MAX];
	char       *p;
	struct stat st;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return (vsm_err_set(err, "%s: path too long", path));
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) == -1 && errno != EEXIST)
			return (
			    vsm_err_set(err, "%s: %s", buf, strerror(errno)));
		*p = '/';
	}
	if (mkdir(buf, mode) == -1 && errno != EEXIST)
		return (vsm_err_set(err, "%s: %s", buf, strerror(errno)));
	if (stat(buf, &st) == -1 || !S_ISDIR(st.st_mode))
		return (vsm_err_set(err, "%s: not a directory", buf));
	return (0);
}

int
vsm_fsync_dir(const char *dir)
{
	int fd, rc;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return (-1);
	rc = fsync(fd);
	close(fd);
	return (rc);
}

int
vsm_fsync_parent(const char *path)
{
	char dir[PATH_MAX];

	if ((size_t)snprintf(dir, sizeof(dir), "%s", path) >= sizeof(dir))
		return (-1);
	return (vsm_fsync_dir(dirname(dir)));
}
