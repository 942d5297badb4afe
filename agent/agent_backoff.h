/*
 * agent_backoff.h: the agent's reconnect state over vsm_backoff_delay()
 * (common/backoff.h): reconnect delays with exponential backoff and full jitter
 * (DESIGN.md 6): attempt n waits a uniformly random time in
 * [0, min(cap, base * 2^n)], so a controller restart does not bring every
 * agent back in the same instant.
 */
#ifndef VSM_AGENT_AGENT_BACKOFF_H
#define VSM_AGENT_AGENT_BACKOFF_H

#include <stdint.h>

struct backoff {
	uint32_t base_ms;
	uint32_t cap_ms;
	unsigned attempt;
};

void backoff_init(struct backoff *b, uint32_t base_ms, uint32_t cap_ms);
/* The ceiling of the next delay: min(cap, base * 2^attempt). */
uint64_t backoff_ceiling(const struct backoff *b);
/* The next delay in ms (at most backoff_ceiling()); counts an attempt. */
uint64_t backoff_next(struct backoff *b);
/* Success: the next failure starts again at attempt 0. */
void backoff_reset(struct backoff *b);

#endif /* VSM_AGENT_BACKOFF_H */
