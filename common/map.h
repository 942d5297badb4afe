/*
 * map.h: a hash map from nonzero 64-bit keys to pointers (linear probing,
 * backward-shift deletion). Not thread-safe: the owner locks. The map does
 * not own the values.
 */
#ifndef VSM_MAP_H
#define VSM_MAP_H

#include <stddef.h>
#include <stdint.h>

struct vsm_map {
	uint64_t *keys;
	void    **vals;
	size_t    cap; /* a power of two, or 0 */
	size_t    len;
};

void  vsm_map_init(struct vsm_map *m);
void  vsm_map_clear(struct vsm_map *m); /* frees the table, not the values */
void *vsm_map_get(const struct vsm_map *m, uint64_t key);
/* Insert or replace; key must be nonzero. Returns 0, or -1 on ENOMEM. */
int vsm_map_put(struct vsm_map *m, uint64_t key, void *val);
/* Remove and return the value, or NULL when absent. */
void *vsm_map_del(struct vsm_map *m, uint64_t key);

#endif /* VSM_MAP_H */
