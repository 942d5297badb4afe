/*
 * backoff.c: the agent's reconnect state (agent_backoff.h); the delays
 * come from vsm_backoff_delay() (common/backoff.c), full jitter.
 */
#include "agent_backoff.h"
#include "backoff.h"

void
backoff_init(struct backoff *b, uint32_t base_ms, uint32_t cap_ms)
{
	b->base_ms = base_ms > 0 ? base_ms : 1;
	b->cap_ms = cap_ms >= b->base_ms ? cap_ms : b->base_ms;
	b->attempt = 0;
}

uint64_t
backoff_ceiling(const struct backoff *b)
{
	uint64_t ceil = b->base_ms;
	unsigned i;

	for (i = 0; i < b->attempt && ceil < b->cap_ms; i++)
		ceil *= 2;
	return (ceil < b->cap_ms ? ceil : b->cap_ms);
}

uint64_t
backoff_next(struct backoff *b)
{
	uint64_t d = vsm_backoff_delay(b->base_ms, b->cap_ms, b->attempt);

	if (b->attempt < 64)
		b->attempt++;
	return (d);
}

void
backoff_reset(struct backoff *b)
{
	b->attempt = 0;
}
