/*
 * replay.h: a sliding replay window over 64-bit message counters, as in
 * RFC 6479 and WireGuard: a ring of 64-bit words of which all but one are
 * usable, so the last VSM_REPLAY_WINDOW counters below the highest seen can
 * still arrive out of order; anything older, or seen before, is refused.
 *
 * Check before decrypting (cheap, no change), commit after the message
 * authenticated. The caller serialises access (the session holds a lock).
 */
#ifndef VSM_REPLAY_H
#define VSM_REPLAY_H

#include <stdint.h>

#define VSM_REPLAY_WORDS  64 /* 4096 bits */
#define VSM_REPLAY_WINDOW ((VSM_REPLAY_WORDS - 1) * 64)

struct vsm_replay {
	uint64_t top; /* highest counter committed */
	uint64_t bitmap[VSM_REPLAY_WORDS];
};

enum vsm_replay_rc {
	VSM_REPLAY_OK = 0,
	VSM_REPLAY_SEEN,    /* counter already committed */
	VSM_REPLAY_TOO_OLD, /* counter below the window */
	VSM_REPLAY_LIMIT,   /* counter space exhausted */
};

void vsm_replay_init(struct vsm_replay *r);
/* May the `n` counters first..first+n-1 be accepted? */
enum vsm_replay_rc vsm_replay_check(
    const struct vsm_replay *r, uint64_t first, uint64_t n);
/*
 * Mark first..first+n-1 as seen. Re-checks under the same lock, so that
 * two racing copies of one message cannot both be committed; on any refusal
 * nothing is marked.
 */
enum vsm_replay_rc vsm_replay_commit(
    struct vsm_replay *r, uint64_t first, uint64_t n);

#endif /* VSM_REPLAY_H */
