/*
 * hostinfo.h: facts about the host shared by the sys.* modules: files of
 * /proc, mounted filesystems, and version probes of server binaries.
 */
#ifndef VSM_HOSTINFO_H
#define VSM_HOSTINFO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#define HOSTINFO_PROBE_MS 3000 /* a --version probe's time limit */

struct hostinfo_mem {
	uint64_t total, available, free, buffers, cached; /* bytes */
	uint64_t swap_total, swap_free;
};

/* Read up to len-1 bytes of path into buf, NUL-terminated. -1 on error. */
ssize_t hostinfo_read_file(const char *path, char *buf, size_t len);
/* /proc/meminfo. 0 or -1. */
int hostinfo_meminfo(struct hostinfo_mem *m);
/* Online CPUs, at least 1. */
long hostinfo_ncpu(void);
/*
 * Append an object per real mounted filesystem to arr (pseudo filesystems,
 * duplicates of one device and empty ones skipped). With path, only the
 * filesystem holding path. *worst gets the highest used_pct. 0, or -1 when
 * the mount table cannot be read or path is on no filesystem.
 */
int hostinfo_mounts(json_t *arr, const char *path, double *worst);
/*
 * Run argv (argv[0] absolute; no shell) with a minimal environment for
 * at most timeout_ms and copy the first line of its output to out. 0, or
 * -1 when it could not run, failed or timed out (it is killed).
 */
int hostinfo_probe(
    const char *const *argv, int timeout_ms, char *out, size_t len);
/* The first N.N[.N...] in s copied to out; -1 when there is none. */
int hostinfo_version(const char *s, char *out, size_t len);
/* Round to one decimal. */
double hostinfo_round1(double v);

#endif /* VSM_HOSTINFO_H */
