#include <stdlib.h>
#include <string.h>

#include "map.h"

void
vsm_map_init(struct vsm_map *m)
{
	memset(m, 0, sizeof(*m));
}

void
vsm_map_clear(struct vsm_map *m)
{
	free(m->keys);
	free(m->vals);
	vsm_map_init(m);
}

static size_t
slot_of(uint64_t key, size_t cap)
{
	/* Fibonacci hashing spreads sequential ids (pipe ids) well. */
	return (
	    (size_t)((key * UINT64_C(0x9E3779B97F4A7C15)) >> 32) & (cap - 1));
}

void *
vsm_map_get(const struct vsm_map *m, uint64_t key)
{
	size_t i;

	if (m->cap == 0 || key == 0)
		return (NULL);
	for (i = slot_of(key, m->cap); m->keys[i] != 0;
	     i = (i + 1) & (m->cap - 1))
		if (m->keys[i] == key)
			return (m->vals[i]);
	return (NULL);
}

/* Store key in its slot; returns 1 if the key was new, 0 if replaced. */
static int
insert(uint64_t *keys, void **vals, size_t cap, uint64_t key, void *val)
{
	size_t i = slot_of(key, cap);
	int    fresh;

	while (keys[i] != 0 && keys[i] != key)
		i = (i + 1) & (cap - 1);
	fresh = keys[i] == 0;
	keys[i] = key;
	vals[i] = val;
	return (fresh);
}

static int
grow(struct vsm_map *m)
{
	size_t    ncap = m->cap ? m->cap * 2 : 16, i;
	uint64_t *nkeys;
	void    **nvals;

	if ((nkeys = calloc(ncap, sizeof(*nkeys))) == NULL)
		return (-1);
	if ((nvals = calloc(ncap, sizeof(*nvals))) == NULL) {
		free(nkeys);
		return (-1);
	}
	for (i = 0; i < m->cap; i++)
		if (m->keys[i] != 0)
			(void)insert(
			    nkeys, nvals, ncap, m->keys[i], m->vals[i]);
	free(m->keys);
	free(m->vals);
	m->keys = nkeys;
	m->vals = nvals;
	m->cap = ncap;
	return (0);
}

int
vsm_map_put(struct vsm_map *m, uint64_t key, void *val)
{
	if (key == 0)
		return (-1);
	if ((m->len + 1) * 4 > m->cap * 3 && grow(m) == -1)
		return (-1);
	m->len += (size_t)insert(m->keys, m->vals, m->cap, key, val);
	return (0);
}

void *
vsm_map_del(struct vsm_map *m, uint64_t key)
{
	size_t i, j, home;
	void  *val;

	if (m->cap == 0 || key == 0)
		return (NULL);
	for (i = slot_of(key, m->cap); m->keys[i] != key;
	     i = (i + 1) & (m->cap - 1))
		if (m->keys[i] == 0)
			return (NULL);
	val = m->vals[i];
	/* Backward-shift the run after i so probes never meet a hole. */
	for (j = (i + 1) & (m->cap - 1); m->keys[j] != 0;
	     j = (j + 1) & (m->cap - 1)) {
		home = slot_of(m->keys[j], m->cap);
		if (((j - home) & (m->cap - 1)) >= ((j - i) & (m->cap - 1))) {
			m->keys[i] = m->keys[j];
			m->vals[i] = m->vals[j];
			i = j;
		}
	}
	m->keys[i] = 0;
	m->vals[i] = NULL;
	m->len--;
	return (val);
}
