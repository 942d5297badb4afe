/*
 * hostinfo.c: host facts for the sys.* modules (hostinfo.h).
 */
#define _GNU_SOURCE /* pipe2 */

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <mntent.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hostinfo.h"
#include "module.h"

extern char **environ;

#define HOSTINFO_DEVS_MAX 256

/* Filesystems that hold no operator data. */
static const char *const hostinfo_pseudo[] = {"autofs", "binfmt_misc", "bpf",
    "cgroup", "cgroup2", "configfs", "debugfs", "devpts", "devtmpfs",
    "efivarfs", "fusectl", "hugetlbfs", "mqueue", "nsfs", "proc", "pstore",
    "ramfs", "rpc_pipefs", "securityfs", "squashfs", "sysfs", "tmpfs",
    "tracefs", "fuse.gvfsd-fuse", "fuse.lxcfs", "fuse.portal", "nfsd",
    "selinuxfs", NULL};

double
hostinfo_round1(double v)
{
	return (round(v * 10.0) / 10.0);
}

ssize_t
hostinfo_read_file(const char *path, char *buf, size_t len)
{
	ssize_t n, total = 0;
	int     fd;

	if (len == 0 || (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	while ((size_t)total < len - 1) {
		n = read(fd, buf + total, len - 1 - (size_t)total);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += n;
	}
	close(fd);
	buf[total] = '\0';
	return (total);
}

int
hostinfo_meminfo(struct hostinfo_mem *m)
{
	static const struct {
		const char *key;
		size_t      off;
	} keys[] = {
	    {"MemTotal:", offsetof(struct hostinfo_mem, total)},
	    {"MemAvailable:", offsetof(struct hostinfo_mem, available)},
	    {"MemFree:", offsetof(struct hostinfo_mem, free)},
	    {"Buffers:", offsetof(struct hostinfo_mem, buffers)},
	    {"Cached:", offsetof(struct hostinfo_mem, cached)},
	    {"SwapTotal:", offsetof(struct hostinfo_mem, swap_total)},
	    {"SwapFree:", offsetof(struct hostinfo_mem, swap_free)},
	};
	char               buf[8192], *line, *save = NULL;
	size_t             i;
	unsigned long long kb;

	memset(m, 0, sizeof(*m));
	if (hostinfo_read_file("/proc/meminfo", buf, sizeof(buf)) <= 0)
		return (-1);
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			size_t kl = strlen(keys[i].key);

			if (strncmp(line, keys[i].key, kl) != 0)
				continue;
			if (sscanf(line + kl, "%llu", &kb) == 1)
				*(uint64_t *)((char *)m + keys[i].off) =
				    (uint64_t)kb * 1024;
		}
	}
	if (m->total == 0)
		return (-1);
	if (m->available == 0) /* kernels before 3.14 */
		m->available = m->free + m->buffers + m->cached;
	return (0);
}

long
hostinfo_ncpu(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return (n < 1 ? 1 : n);
}

static int
hostinfo_is_pseudo(const char *type)
{
	size_t i;

	for (i = 0; hostinfo_pseudo[i] != NULL; i++)
		if (strcmp(hostinfo_pseudo[i], type) == 0)
			return (1);
	return (0);
}

static json_t *
hostinfo_mount_json(
    const struct mntent *me, const struct statvfs *vfs, double *pct)
{
	uint64_t size, avail, used, ifiles, iused;
	double   ipct = 0;
	json_t  *o;

	size = (uint64_t)vfs->f_blocks * vfs->f_frsize;
	avail = (uint64_t)vfs->f_bavail * vfs->f_frsize;
	used = (uint64_t)(vfs->f_blocks - vfs->f_bfree) * vfs->f_frsize;
	/* As df: used of what a user can have. */
	*pct = used + avail > 0 ? 100.0 * (double)used / (double)(used + avail)
	                        : 0;
	ifiles = vfs->f_files;
	iused = vfs->f_files - vfs->f_ffree;
	if (ifiles > 0)
		ipct = 100.0 * (double)iused / (double)ifiles;
	o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:f, s:I, s:I, s:f}",
	    "mount", me->mnt_dir, "device", me->mnt_fsname, "fstype",
	    me->mnt_type, "size_bytes", (json_int_t)size, "used_bytes",
	    (json_int_t)used, "avail_bytes", (json_int_t)avail, "used_pct",
	    hostinfo_round1(*pct), "inodes", (json_int_t)ifiles, "inodes_used",
	    (json_int_t)iused, "inodes_pct", hostinfo_round1(ipct));
	return (o);
}

int
hostinfo_mounts(json_t *arr, const char *path, double *worst)
{
	FILE          *fp;
	struct mntent  me, *mp;
	struct statvfs vfs;
	struct stat    st, pst;
	char           buf[4096];
	dev_t          devs[HOSTINFO_DEVS_MAX];
	size_t         ndevs = 0, i;
	double         pct;
	json_t        *o;
	int            found = 0;

	*worst = 0;
	if (path != NULL && stat(path, &pst) == -1)
		return (-1);
	if ((fp = setmntent("/proc/self/mounts", "re")) == NULL)
		return (-1);
	while ((mp = getmntent_r(fp, &me, buf, sizeof(buf))) != NULL) {
		if (hostinfo_is_pseudo(mp->mnt_type))
			continue;
		if (stat(mp->mnt_dir, &st) == -1 ||
		    statvfs(mp->mnt_dir, &vfs) == -1 || vfs.f_blocks == 0)
			continue;
		if (path != NULL && st.st_dev != pst.st_dev)
			continue;
		for (i = 0; i < ndevs; i++)
			if (devs[i] == st.st_dev)
				break;
		if (i < ndevs)
			continue; /* a bind mount of one already listed */
		if (ndevs < HOSTINFO_DEVS_MAX)
			devs[ndevs++] = st.st_dev;
		if ((o = hostinfo_mount_json(mp, &vfs, &pct)) == NULL)
			continue;
		json_array_append_new(arr, o);
		if (pct > *worst)
			*worst = pct;
		found = 1;
	}
	endmntent(fp);
	if (path != NULL && !found)
		return (-1);
	return (0);
}

int
hostinfo_probe(const char *const *argv, int timeout_ms, char *out, size_t len)
{
	posix_spawn_file_actions_t fa;
	struct pollfd              pfd;
	char                       buf[4096];
	size_t                     have = 0;
	ssize_t                    n;
	uint64_t                   end;
	pid_t                      pid = -1;
	int                        p[2] = {-1, -1}, status, ret = -1, left;
	char                      *nl;

	if (access(argv[0], X_OK) == -1 || pipe2(p, O_CLOEXEC) == -1)
		return (-1);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	if (posix_spawn(
	        &pid, argv[0], &fa, NULL, (char *const *)argv, environ) != 0)
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (pid == -1)
		goto out;
	end = task_mono_ms() + (uint64_t)timeout_ms;
	for (;;) {
		uint64_t now = task_mono_ms();

		if (now >= end)
			break;
		left = (int)(end - now);
		pfd.fd = p[0];
		pfd.events = POLLIN;
		if (poll(&pfd, 1, left) <= 0)
			continue;
		n = read(p[0], buf + have, sizeof(buf) - 1 - have);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		if (have == sizeof(buf) - 1)
			break;
	}
	buf[have] = '\0';
	kill(pid, SIGKILL); /* done reading, or too slow */
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		continue;
	if (have == 0)
		goto out;
	if ((nl = strchr(buf, '\n')) != NULL)
		*nl = '\0';
	snprintf(out, len, "%s", buf);
	ret = 0;
out:
	close(p[0]);
	return (ret);
}

int
hostinfo_version(const char *s, char *out, size_t len)
{
	const char *p, *q;

	for (p = s; *p != '\0'; p++) {
		if (!isdigit((unsigned char)*p))
			continue;
		if (p > s && (isalnum((unsigned char)p[-1]) && p[-1] != 'v'))
			continue;
		for (q = p; isdigit((unsigned char)*q) || *q == '.'; q++)
			continue;
		while (q > p && q[-1] == '.')
			q--;
		if (memchr(p, '.', (size_t)(q - p)) == NULL) {
			p = q - 1;
			continue;
		}
		snprintf(out, len, "%.*s", (int)(q - p), p);
		return (0);
	}
	return (-1);
}
