/*
 * task_artifact.c: writing an artifact from a module (module.h). The file
 * is created in the task's artifact directory with O_EXCL, hashed as it is
 * written, fsync'd with its directory, and only then announced: the agent
 * never sees a name before the whole file is on disk.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "module.h"

int
task_artifact_create(struct task_ctx *ctx, const char *name,
    struct task_artifact *a, struct vsm_err *err)
{
	const char *dir = ctx->spawn->artifact_dir;

	memset(a, 0, sizeof(*a));
	a->fd = -1;
	if (dir == NULL || dir[0] == '\0')
		return (vsm_err_set(err, "this agent keeps no artifacts"));
	if (!vsm_artifact_name_valid(name))
		return (vsm_err_set(err,
		    "artifact name '%s': use 1-%d of [A-Za-z0-9._-], not "
		    "starting with '.'",
		    name, VSM_ARTIFACT_NAME_MAX));
	if (vsm_mkdirs(dir, 0700, err) == -1)
		return (-1);
	if ((size_t)snprintf(a->path, sizeof(a->path), "%s/%s", dir, name) >=
	    sizeof(a->path))
		return (vsm_err_set(err, "artifact path too long"));
	if ((a->fd = open(a->path,
	         O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)) ==
	    -1)
		return (vsm_err_set(err, "%s: %s", a->path, strerror(errno)));
	snprintf(a->name, sizeof(a->name), "%s", name);
	crypto_generichash_init(&a->hash, NULL, 0, VSM_ARTIFACT_HASH_LEN);
	return (0);
}

int
task_artifact_write(
    struct task_artifact *a, const void *buf, size_t len, struct vsm_err *err)
{
	const uint8_t *p = buf;
	ssize_t        n;

	crypto_generichash_update(&a->hash, p, len);
	a->size += len;
	while (len > 0) {
		if ((n = write(a->fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return (vsm_err_set(
			    err, "%s: %s", a->path, strerror(errno)));
		}
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

void
task_artifact_abort(struct task_artifact *a)
{
	if (a->fd != -1) {
		close(a->fd);
		a->fd = -1;
	}
	if (a->path[0] != '\0')
		unlink(a->path);
}

int
task_artifact_finish(
    struct task_ctx *ctx, struct task_artifact *a, struct vsm_err *err)
{
	uint8_t hash[VSM_ARTIFACT_HASH_LEN];

	int rc;

	crypto_generichash_final(&a->hash, hash, sizeof(hash));
	rc = fsync(a->fd);
	if (close(a->fd) == -1)
		rc = -1;
	a->fd = -1;
	if (rc == -1) {
		vsm_err_set(err, "%s: %s", a->path, strerror(errno));
		task_artifact_abort(a);
		return (-1);
	}
	if (vsm_fsync_dir(ctx->spawn->artifact_dir) == -1 ||
	    task_emit_artifact(ctx, a->name, a->size, hash) == -1) {
		vsm_err_set(err, "%s: cannot announce it", a->path);
		task_artifact_abort(a);
		return (-1);
	}
	return (0);
}
