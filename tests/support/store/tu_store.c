/*
 * tu_store.c: the store fixture of the controller unit tests (tu_store.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "testutil.h"
#include "tu_store.h"

int
tu_store_open(struct tu_store *f, const char *tag)
{
	struct vsm_err err = {""};

	if (tu_mkdtemp(f->dir, sizeof(f->dir), tag) == -1)
		return (-1);
	snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
	if (store_open(f->path, &f->st, &err) == -1) {
		fprintf(stderr, "store_open: %s\n", err.msg);
		return (-1);
	}
	return (0);
}

void
tu_store_path(
    const struct tu_store *f, char *buf, size_t cap, const char *suffix)
{
	snprintf(buf, cap, "%s%s", f->path, suffix);
}

void
tu_store_close(struct tu_store *f)
{
	char p[160];

	store_close(f->st);
	f->st = NULL;
	unlink(f->path);
	tu_store_path(f, p, sizeof(p), "-wal");
	unlink(p);
	tu_store_path(f, p, sizeof(p), "-shm");
	unlink(p);
	rmdir(f->dir);
}

int64_t
tu_store_host(struct store *st, const char *name, int64_t now)
{
	static const struct store_actor admin = {"alice", "admin"};
	struct vsm_err                  err = {""};
	struct store_key                k;
	uint8_t                         pub[STORE_PUBKEY_LEN];
	int64_t                         hid;
	struct store_hello              h = {.name = name,
	                 .labels = "{\"role\":\"db\"}",
	                 .agent_version = "0.1.0",
	                 .capabilities = "{\"modules\":[\"pg.vacuum\"],"
	                                              "\"commands\":[]}"};

	randombytes_buf(pub, sizeof(pub));
	if (store_key_add(st, name, pub, NULL, now, &k, &err) != 0 ||
	    store_key_set_state(
	        st, &admin, k.id, STORE_KEY_ACCEPTED, now, &err) != 0)
		fail_msg("host %s: %s", name, err.msg);
	h.key_id = k.id;
	if (store_host_hello(st, &h, now, &hid, &err) != 0)
		fail_msg("hello %s: %s", name, err.msg);
	return (hid);
}

int
tu_store_setup(void **state)
{
	struct tu_store *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return (-1);
	if (tu_store_open(f, "store") == -1) {
		free(f);
		return (-1);
	}
	*state = f;
	return (0);
}

int
tu_store_teardown(void **state)
{
	tu_store_close(*state);
	free(*state);
	return (0);
}
