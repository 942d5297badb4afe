#include <string.h>

#include "replay.h"

void
vsm_replay_init(struct vsm_replay *r)
{
	memset(r, 0, sizeof(*r));
}

static enum vsm_replay_rc
check_one(const struct vsm_replay *r, uint64_t ctr)
{
	uint64_t word = (ctr >> 6) % VSM_REPLAY_WORDS;

	if (ctr == UINT64_MAX)
		return (VSM_REPLAY_LIMIT);
	if (ctr > r->top)
		return (VSM_REPLAY_OK);
	if (r->top - ctr > VSM_REPLAY_WINDOW)
		return (VSM_REPLAY_TOO_OLD);
	if (r->bitmap[word] & (UINT64_C(1) << (ctr & 63)))
		return (VSM_REPLAY_SEEN);
	return (VSM_REPLAY_OK);
}

enum vsm_replay_rc
vsm_replay_check(const struct vsm_replay *r, uint64_t first, uint64_t n)
{
	enum vsm_replay_rc rc;
	uint64_t           i;

	if (n == 0 || first > UINT64_MAX - n)
		return (VSM_REPLAY_LIMIT);
	for (i = 0; i < n; i++)
		if ((rc = check_one(r, first + i)) != VSM_REPLAY_OK)
			return (rc);
	return (VSM_REPLAY_OK);
}

static void
commit_one(struct vsm_replay *r, uint64_t ctr)
{
	uint64_t cur, idx, i, steps;

	if (ctr > r->top) {
		cur = r->top >> 6;
		idx = ctr >> 6;
		steps = idx - cur;
		if (steps > VSM_REPLAY_WORDS)
			steps = VSM_REPLAY_WORDS;
		for (i = 1; i <= steps; i++)
			r->bitmap[(cur + i) % VSM_REPLAY_WORDS] = 0;
		r->top = ctr;
	}
	r->bitmap[(ctr >> 6) % VSM_REPLAY_WORDS] |= UINT64_C(1) << (ctr & 63);
}

enum vsm_replay_rc
vsm_replay_commit(struct vsm_replay *r, uint64_t first, uint64_t n)
{
	enum vsm_replay_rc rc;
	uint64_t           i;

	if ((rc = vsm_replay_check(r, first, n)) != VSM_REPLAY_OK)
		return (rc);
	for (i = 0; i < n; i++)
		commit_one(r, first + i);
	return (VSM_REPLAY_OK);
}
