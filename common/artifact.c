/*
 * artifact.c: artifact names and file hashing (artifact.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "artifact.h"

#define HASH_BUF (256 * 1024)

int
vsm_artifact_name_valid(const char *name)
{
	size_t i, len;

	if (name == NULL || (len = strlen(name)) == 0 ||
	    len > VSM_ARTIFACT_NAME_MAX || name[0] == '.')
		return (0);
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		        (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		        c == '-'))
			return (0);
	}
	return (1);
}

int
vsm_hash_range(int fd, uint64_t from, uint64_t to, crypto_generichash_state *st,
    struct vsm_err *err)
{
	uint8_t *buf;
	ssize_t  n;
	size_t   want;
	int      ret = -1;

	if ((buf = malloc(HASH_BUF)) == NULL)
		return (vsm_err_set(err, "out of memory"));
	while (from < to) {
		want = to - from > HASH_BUF ? HASH_BUF : (size_t)(to - from);
		n = pread(fd, buf, want, (off_t)from);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			vsm_err_set(err, "read: %s", strerror(errno));
			goto out;
		}
		if (n == 0) {
			vsm_err_set(err,
			    "file ends at byte %llu, %llu bytes short",
			    (unsigned long long)from,
			    (unsigned long long)(to - from));
			goto out;
		}
		crypto_generichash_update(st, buf, (size_t)n);
		from += (uint64_t)n;
	}
	ret = 0;
out:
	free(buf);
	return (ret);
}

int
vsm_hash_file(int fd, uint64_t len, uint8_t out[VSM_ARTIFACT_HASH_LEN],
    struct vsm_err *err)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, VSM_ARTIFACT_HASH_LEN);
	if (vsm_hash_range(fd, 0, len, &st, err) == -1)
		return (-1);
	crypto_generichash_final(&st, out, VSM_ARTIFACT_HASH_LEN);
	return (0);
}
