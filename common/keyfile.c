#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "fileio.h"
#include "keyfile.h"
#include "noise.h"

#define KEYFILE_MAX 256 /* a key file is one short line */
#define B64_VARIANT sodium_base64_VARIANT_ORIGINAL

void
vsm_keypair_generate(struct vsm_keypair *kp)
{
	vsm_noise_keypair(kp->priv, kp->pub);
}

void
vsm_keypair_wipe(struct vsm_keypair *kp)
{
	if (kp != NULL)
		sodium_memzero(kp, sizeof(*kp));
}

void
vsm_key_encode(const uint8_t key[VSM_KEY_LEN], char out[VSM_KEY_B64LEN])
{
	sodium_bin2base64(out, VSM_KEY_B64LEN, key, VSM_KEY_LEN, B64_VARIANT);
}

int
vsm_key_decode(const char *s, uint8_t key[VSM_KEY_LEN], struct vsm_err *err)
{
	size_t      len, binlen = 0;
	const char *end;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	len = strcspn(s, " \t\r\n");
	if (s[len + strspn(s + len, " \t\r\n")] != '\0')
		return (vsm_err_set(err, "key has trailing data"));
	if (len != VSM_KEY_B64LEN - 1 ||
	    sodium_base642bin(key, VSM_KEY_LEN, s, len, NULL, &binlen, &end,
	        B64_VARIANT) != 0 ||
	    binlen != VSM_KEY_LEN || end != s + len)
		return (vsm_err_set(
		    err, "not a key: expected 44 characters of base64"));
	return (0);
}

int
vsm_key_save(
    const char *path, const struct vsm_keypair *kp, struct vsm_err *err)
{
	char line[VSM_KEY_B64LEN + 1], pubpath[4096];
	int  ret = -1;

	if (snprintf(pubpath, sizeof(pubpath), "%s.pub", path) >=
	    (int)sizeof(pubpath))
		return (vsm_err_set(err, "%s: path too long", path));
	vsm_key_encode(kp->priv, line);
	strcat(line, "\n");
	if (vsm_write_new_file(path, line, strlen(line), 0600, NULL, err) == -1)
		goto out;
	vsm_key_encode(kp->pub, line);
	strcat(line, "\n");
	if (vsm_write_new_file(pubpath, line, strlen(line), 0644, NULL, err) ==
	    -1) {
		unlink(path);
		goto out;
	}
	ret = 0;
out:
	sodium_memzero(line, sizeof(line));
	return (ret);
}

/*
 * Read a small key file into buf (NUL-terminated). With `private` set the
 * file must be a regular file that neither group nor others can reach.
 */
static int
read_key_file(
    const char *path, int private, char *buf, size_t cap, struct vsm_err *err)
{
	struct stat st;
	ssize_t     n;
	int         fd, ret = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return (vsm_err_set(err, "%s: %s", path, strerror(errno)));
	if (fstat(fd, &st) == -1) {
		vsm_err_set(err, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		vsm_err_set(err, "%s: not a regular file", path);
		goto out;
	}
	if (private && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		vsm_err_set(err,
		    "%s: private key file has mode %04o; it must not be "
		    "accessible by group or others (chmod 600 %s)",
		    path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	if ((n = read(fd, buf, cap - 1)) < 0) {
		vsm_err_set(err, "%s: %s", path, strerror(errno));
		goto out;
	}
	if ((size_t)n == cap - 1) {
		vsm_err_set(err, "%s: too large for a key file", path);
		goto out;
	}
	buf[n] = '\0';
	ret = 0;
out:
	close(fd);
	return (ret);
}

int
vsm_key_load(const char *path, struct vsm_keypair *kp, struct vsm_err *err)
{
	char           buf[KEYFILE_MAX];
	struct vsm_err derr;
	int            ret = -1;

	if (read_key_file(path, 1, buf, sizeof(buf), err) == -1)
		goto out;
	if (vsm_key_decode(buf, kp->priv, &derr) == -1) {
		vsm_err_set(err, "%s: %s", path, derr.msg);
		goto out;
	}
	if (vsm_noise_pubkey(kp->priv, kp->pub) == -1) {
		vsm_err_set(err, "%s: not a usable Curve25519 key", path);
		goto out;
	}
	ret = 0;
out:
	sodium_memzero(buf, sizeof(buf));
	if (ret == -1)
		vsm_keypair_wipe(kp);
	return (ret);
}

int
vsm_pubkey_load(const char *path, uint8_t pub[VSM_KEY_LEN], struct vsm_err *err)
{
	char           buf[KEYFILE_MAX];
	struct vsm_err derr;

	if (read_key_file(path, 0, buf, sizeof(buf), err) == -1)
		return (-1);
	if (vsm_key_decode(buf, pub, &derr) == -1)
		return (vsm_err_set(err, "%s: %s", path, derr.msg));
	return (0);
}
