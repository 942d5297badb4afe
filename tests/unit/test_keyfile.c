/*
 * test_keyfile.c: identities on disk (keyfile.h), each test in its own
 * mkdtemp directory: the save/load round trip and file modes, and every
 * way a key file is refused. Tests run as root, so only the checks the
 * code makes itself (mode bits, file type, content) are exercised.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "keyfile.h"

struct tdir {
	char dir[256];
	char key[300]; /* dir/id */
	char pub[300]; /* dir/id.pub */
};

static int
setup(void **state)
{
	struct tdir *t;
	const char  *tmp = getenv("TMPDIR");

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return (-1);
	snprintf(t->dir, sizeof(t->dir), "%s/vsm-keyfile-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(t->dir) == NULL) {
		free(t);
		return (-1);
	}
	snprintf(t->key, sizeof(t->key), "%s/id", t->dir);
	snprintf(t->pub, sizeof(t->pub), "%s/id.pub", t->dir);
	*state = t;
	return (0);
}

/* Remove everything in the directory (one level deep), then it. */
static void
rm_tree(const char *dir)
{
	DIR           *d;
	struct dirent *de;
	char           p[600];
	struct stat    st;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			rm_tree(p);
		else
			unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static int
teardown(void **state)
{
	struct tdir *t = *state;

	rm_tree(t->dir);
	free(t);
	return (0);
}

/* Number of entries in dir, "." and ".." aside. */
static int
count_entries(const char *dir)
{
	DIR           *d;
	struct dirent *de;
	int            n = 0;

	assert_non_null(d = opendir(dir));
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return (n);
}

static unsigned
mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return ((unsigned)(st.st_mode & 07777));
}

/* Create path holding `len` bytes of data with mode `mode`. */
static void
write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd;

	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode)) != -1);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void
write_str(const char *path, const char *s)
{
	write_file(path, s, strlen(s), 0600);
}

static int
all_zero(const void *p, size_t len)
{
	const uint8_t *b = p;
	size_t         i;

	for (i = 0; i < len; i++)
		if (b[i] != 0)
			return (0);
	return (1);
}

/*
 * Load path expecting a refusal whose message contains `want` (when not
 * NULL); the keypair, dirty before, must come back wiped.
 */
static void
load_refused(const char *path, const char *want)
{
	struct vsm_keypair kp;
	struct vsm_err     err;

	memset(&kp, 0xa5, sizeof(kp));
	memset(&err, 0, sizeof(err));
	assert_int_equal(vsm_key_load(path, &kp, &err), -1);
	assert_true(err.msg[0] != '\0');
	if (want != NULL && strstr(err.msg, want) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", err.msg, want);
	assert_true(all_zero(&kp, sizeof(kp)));
}

static void
test_save_then_load_round_trips_with_modes(void **state)
{
	struct tdir       *t = *state;
	struct vsm_keypair kp, kp2;
	struct vsm_err     err;
	uint8_t            pub[VSM_KEY_LEN];
	char               buf[128], b64[VSM_KEY_B64LEN];
	FILE              *f;

	vsm_keypair_generate(&kp);
	assert_int_equal(vsm_key_save(t->key, &kp, &err), 0);
	assert_int_equal(mode_of(t->key), 0600);
	assert_int_equal(mode_of(t->pub), 0644);
	/* No temporary file is left behind. */
	assert_int_equal(count_entries(t->dir), 2);

	/* One line each: the base64 key and a newline. */
	assert_non_null(f = fopen(t->key, "r"));
	assert_int_equal(fread(buf, 1, sizeof(buf), f), VSM_KEY_B64LEN);
	fclose(f);
	vsm_key_encode(kp.priv, b64);
	assert_memory_equal(buf, b64, VSM_KEY_B64LEN - 1);
	assert_int_equal(buf[VSM_KEY_B64LEN - 1], '\n');

	memset(&kp2, 0, sizeof(kp2));
	assert_int_equal(vsm_key_load(t->key, &kp2, &err), 0);
	assert_memory_equal(kp2.priv, kp.priv, VSM_KEY_LEN);
	/* The public half is derived from the private key, and matches. */
	assert_memory_equal(kp2.pub, kp.pub, VSM_KEY_LEN);

	assert_int_equal(vsm_pubkey_load(t->pub, pub, &err), 0);
	assert_memory_equal(pub, kp.pub, VSM_KEY_LEN);
	vsm_keypair_wipe(&kp);
	vsm_keypair_wipe(&kp2);
}

static void
test_load_refuses_key_reachable_by_group_or_others(void **state)
{
	static const mode_t modes[] = {
	    0640, 0604, 0620, 0602, 0610, 0601, 0644, 0660};
	struct tdir       *t = *state;
	struct vsm_keypair kp;
	struct vsm_err     err;
	size_t             i;

	vsm_keypair_generate(&kp);
	assert_int_equal(vsm_key_save(t->key, &kp, &err), 0);
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		assert_int_equal(chmod(t->key, modes[i]), 0);
		load_refused(t->key, "chmod 600");
	}
	/* Owner-only modes are fine. */
	assert_int_equal(chmod(t->key, 0400), 0);
	assert_int_equal(vsm_key_load(t->key, &kp, &err), 0);
	assert_int_equal(chmod(t->key, 0600), 0);
	assert_int_equal(vsm_key_load(t->key, &kp, &err), 0);
	vsm_keypair_wipe(&kp);
}

static void
test_save_refuses_to_overwrite_existing_key(void **state)
{
	struct tdir       *t = *state;
	struct vsm_keypair kp1, kp2, got;
	struct vsm_err     err;
	uint8_t            pub[VSM_KEY_LEN];

	vsm_keypair_generate(&kp1);
	vsm_keypair_generate(&kp2);
	assert_int_equal(vsm_key_save(t->key, &kp1, &err), 0);
	memset(&err, 0, sizeof(err));
	assert_int_equal(vsm_key_save(t->key, &kp2, &err), -1);
	if (strstr(err.msg, strerror(EEXIST)) == NULL ||
	    strstr(err.msg, "refusing") == NULL)
		fail_msg("unexpected error \"%s\"", err.msg);
	/* The first identity is intact and nothing was left behind. */
	assert_int_equal(vsm_key_load(t->key, &got, &err), 0);
	assert_memory_equal(got.priv, kp1.priv, VSM_KEY_LEN);
	assert_int_equal(vsm_pubkey_load(t->pub, pub, &err), 0);
	assert_memory_equal(pub, kp1.pub, VSM_KEY_LEN);
	assert_int_equal(count_entries(t->dir), 2);
	vsm_keypair_wipe(&kp1);
	vsm_keypair_wipe(&kp2);
	vsm_keypair_wipe(&got);
}

static void
test_save_with_stale_pub_leaves_no_private_key(void **state)
{
	struct tdir       *t = *state;
	struct vsm_keypair kp;
	struct vsm_err     err;

	write_str(t->pub, "stale\n");
	vsm_keypair_generate(&kp);
	assert_int_equal(vsm_key_save(t->key, &kp, &err), -1);
	assert_non_null(strstr(err.msg, "refusing"));
	/* The half-written identity is removed again. */
	assert_int_equal(access(t->key, F_OK), -1);
	assert_int_equal(count_entries(t->dir), 1);
	vsm_keypair_wipe(&kp);
}

static void
test_load_refuses_symlink(void **state)
{
	struct tdir       *t = *state;
	struct vsm_keypair kp;
	struct vsm_err     err;
	char               link[320];

	vsm_keypair_generate(&kp);
	assert_int_equal(vsm_key_save(t->key, &kp, &err), 0);
	snprintf(link, sizeof(link), "%s/link", t->dir);
	assert_int_equal(symlink(t->key, link), 0);
	load_refused(link, strerror(ELOOP));
	vsm_keypair_wipe(&kp);
}

static void
test_load_refuses_directory(void **state)
{
	struct tdir *t = *state;

	assert_int_equal(mkdir(t->key, 0700), 0);
	load_refused(t->key, "not a regular file");
}

static void
test_load_refuses_missing_file(void **state)
{
	struct tdir *t = *state;

	load_refused(t->key, strerror(ENOENT));
}

static void
test_load_refuses_empty_file(void **state)
{
	struct tdir *t = *state;

	write_str(t->key, "");
	load_refused(t->key, "44 characters");
}

static void
test_load_refuses_trailing_garbage(void **state)
{
	struct tdir       *t = *state;
	struct vsm_keypair kp;
	char               b64[VSM_KEY_B64LEN], line[200], p2[320];

	vsm_keypair_generate(&kp);
	vsm_key_encode(kp.priv, b64);
	snprintf(line, sizeof(line), "%s\n%s\n", b64, b64);
	write_str(t->key, line);
	load_refused(t->key, "trailing");

	snprintf(p2, sizeof(p2), "%s/id2", t->dir);
	snprintf(line, sizeof(line), "%s x\n", b64);
	write_str(p2, line);
	load_refused(p2, "trailing");
	vsm_keypair_wipe(&kp);
}

static void
test_load_refuses_key_of_43_or_45_characters(void **state)
{
	struct tdir       *t = *state;
	struct vsm_keypair kp;
	char               b64[VSM_KEY_B64LEN], line[100], p2[320];

	vsm_keypair_generate(&kp);
	vsm_key_encode(kp.priv, b64);
	snprintf(line, sizeof(line), "%.43s\n", b64);
	write_str(t->key, line);
	load_refused(t->key, "44 characters");

	snprintf(p2, sizeof(p2), "%s/id2", t->dir);
	snprintf(line, sizeof(line), "%sA\n", b64);
	write_str(p2, line);
	load_refused(p2, "44 characters");
	vsm_keypair_wipe(&kp);
}

static void
test_load_refuses_non_base64(void **state)
{
	struct tdir *t = *state;
	char         line[46], p2[320];

	memset(line, '*', 44);
	line[44] = '\n';
	line[45] = '\0';
	write_str(t->key, line);
	load_refused(t->key, "44 characters");

	/* 44 characters, but padding in the middle. */
	snprintf(p2, sizeof(p2), "%s/id2", t->dir);
	write_str(p2, "AAAAAAAAAAAAAAAAAAAA=AAAAAAAAAAAAAAAAAAAAAA=\n");
	load_refused(p2, "44 characters");
}

static void
test_load_refuses_oversized_file(void **state)
{
	struct tdir       *t = *state;
	struct vsm_keypair kp;
	char               b64[VSM_KEY_B64LEN], big[1024];

	/* A valid key padded with whitespace, too long for a key file. */
	vsm_keypair_generate(&kp);
	vsm_key_encode(kp.priv, b64);
	memset(big, ' ', sizeof(big));
	memcpy(big, b64, VSM_KEY_B64LEN - 1);
	big[sizeof(big) - 1] = '\n';
	write_file(t->key, big, sizeof(big), 0600);
	load_refused(t->key, "too large");
	vsm_keypair_wipe(&kp);
}

static void
test_failed_load_wipes_keypair(void **state)
{
	struct tdir       *t = *state;
	struct vsm_keypair kp;
	struct vsm_err     err;
	char               b64[VSM_KEY_B64LEN], line[100];

	/* Decoding fails only at the end: 44 characters, one bad. */
	vsm_keypair_generate(&kp);
	vsm_key_encode(kp.priv, b64);
	b64[42] = '*';
	snprintf(line, sizeof(line), "%s\n", b64);
	write_str(t->key, line);
	memset(&kp, 0x5a, sizeof(kp));
	assert_int_equal(vsm_key_load(t->key, &kp, &err), -1);
	assert_true(all_zero(&kp, sizeof(kp)));

	/* And when the file cannot be opened at all. */
	memset(&kp, 0x5a, sizeof(kp));
	assert_int_equal(vsm_key_load("/nonexistent/vsm/id", &kp, &err), -1);
	assert_true(all_zero(&kp, sizeof(kp)));
}

static void
test_decode_accepts_surrounding_whitespace(void **state)
{
	uint8_t        key[VSM_KEY_LEN], got[VSM_KEY_LEN];
	char           b64[VSM_KEY_B64LEN], s[100];
	struct vsm_err err;
	size_t         i;

	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 37 + 11);
	vsm_key_encode(key, b64);
	assert_int_equal(strlen(b64), VSM_KEY_B64LEN - 1);

	assert_int_equal(vsm_key_decode(b64, got, &err), 0);
	assert_memory_equal(got, key, sizeof(key));
	snprintf(s, sizeof(s), " \t\r\n%s \t\r\n", b64);
	memset(got, 0, sizeof(got));
	assert_int_equal(vsm_key_decode(s, got, &err), 0);
	assert_memory_equal(got, key, sizeof(key));

	/* Whitespace inside the key is not surrounding. */
	snprintf(s, sizeof(s), "%.20s %s", b64, b64 + 20);
	assert_int_equal(vsm_key_decode(s, got, &err), -1);
	assert_int_equal(vsm_key_decode("", got, &err), -1);
	assert_int_equal(vsm_key_decode(" \n", got, &err), -1);
}

static void
test_pubkey_load_round_trip_and_refusals(void **state)
{
	struct tdir   *t = *state;
	uint8_t        key[VSM_KEY_LEN], got[VSM_KEY_LEN];
	char           b64[VSM_KEY_B64LEN], line[100], p2[320];
	struct vsm_err err;
	size_t         i;

	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(255 - i);
	vsm_key_encode(key, b64);
	snprintf(line, sizeof(line), "%s\n", b64);
	/* A public key may be world-readable. */
	write_file(t->pub, line, strlen(line), 0644);
	assert_int_equal(vsm_pubkey_load(t->pub, got, &err), 0);
	assert_memory_equal(got, key, sizeof(key));

	snprintf(p2, sizeof(p2), "%s/bad.pub", t->dir);
	write_file(p2, "nope\n", 5, 0644);
	memset(&err, 0, sizeof(err));
	assert_int_equal(vsm_pubkey_load(p2, got, &err), -1);
	assert_non_null(strstr(err.msg, "44 characters"));
	assert_int_equal(vsm_pubkey_load(t->dir, got, &err), -1);
	assert_non_null(strstr(err.msg, "not a regular file"));
}

/* Save under `mask`; both files must get their modes regardless. */
static void
save_under_umask(const struct tdir *t, mode_t mask)
{
	struct vsm_keypair kp, got;
	struct vsm_err     err;
	mode_t             old;

	vsm_keypair_generate(&kp);
	old = umask(mask);
	assert_int_equal(vsm_key_save(t->key, &kp, &err), 0);
	umask(old);
	assert_int_equal(mode_of(t->key), 0600);
	assert_int_equal(mode_of(t->pub), 0644);
	assert_int_equal(vsm_key_load(t->key, &got, &err), 0);
	assert_memory_equal(got.pub, kp.pub, VSM_KEY_LEN);
	vsm_keypair_wipe(&kp);
	vsm_keypair_wipe(&got);
}

static void
test_save_under_restrictive_umask_keeps_pub_0644(void **state)
{
	save_under_umask(*state, 077);
}

static void
test_save_under_permissive_umask_keeps_private_0600(void **state)
{
	save_under_umask(*state, 000);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_save_then_load_round_trips_with_modes),
	    T(test_load_refuses_key_reachable_by_group_or_others),
	    T(test_save_refuses_to_overwrite_existing_key),
	    T(test_save_with_stale_pub_leaves_no_private_key),
	    T(test_load_refuses_symlink),
	    T(test_load_refuses_directory),
	    T(test_load_refuses_missing_file),
	    T(test_load_refuses_empty_file),
	    T(test_load_refuses_trailing_garbage),
	    T(test_load_refuses_key_of_43_or_45_characters),
	    T(test_load_refuses_non_base64),
	    T(test_load_refuses_oversized_file),
	    T(test_failed_load_wipes_keypair),
	    T(test_decode_accepts_surrounding_whitespace),
	    T(test_pubkey_load_round_trip_and_refusals),
	    T(test_save_under_restrictive_umask_keeps_pub_0644),
	    T(test_save_under_permissive_umask_keeps_private_0600),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
