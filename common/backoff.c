#include <sodium.h>

#include "backoff.h"

uint32_t
vsm_backoff_delay(uint32_t base_ms, uint32_t cap_ms, unsigned attempt)
{
	uint64_t ceil = base_ms;

	while (attempt-- > 0 && ceil < cap_ms)
		ceil *= 2;
	if (ceil > cap_ms)
		ceil = cap_ms;
	if (ceil == 0)
		return (0);
	/* randombytes_uniform is unbiased and thread-safe. */
	return (randombytes_uniform((uint32_t)ceil + 1));
}
