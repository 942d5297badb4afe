/*
 * tu_store.h: the controller store fixture the store and scheduler unit
 * tests share (tests/unit/test_ctl_*.c): a fresh SQLite store in a
 * temporary directory, and accepted hosts made the way agents make them.
 */
#ifndef VSM_TU_STORE_H
#define VSM_TU_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct tu_store {
	char          dir[64];
	char          path[128]; /* DIR/store.db */
	struct store *st;
};

/*
 * cmocka setup and teardown around tu_store_open and tu_store_close:
 * *state is a new struct tu_store.
 */
int tu_store_setup(void **state);
int tu_store_teardown(void **state);
/* Make a directory (tu_mkdtemp) and open a new store in it. 0 or -1. */
int tu_store_open(struct tu_store *f, const char *tag);
/* Close the store and remove its files and directory. */
void tu_store_close(struct tu_store *f);
/* f->path with suffix ("-wal") into buf. */
void tu_store_path(
    const struct tu_store *f, char *buf, size_t cap, const char *suffix);
/*
 * A host called name whose key is accepted, after its Hello (role=db,
 * pg.vacuum among its modules), at time now: its id. Fails the running
 * test on any error.
 */
int64_t tu_store_host(struct store *st, const char *name, int64_t now);

#endif /* VSM_TU_STORE_H */
