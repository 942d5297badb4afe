/*
 * backoff.h: exponential backoff with full jitter (as in the AWS
 * architecture note "Exponential Backoff And Jitter"): the n-th retry
 * waits a uniformly random time in [0, min(cap, base * 2^n)], so that a
 * fleet cut off at the same moment comes back spread out, not in a storm.
 */
#ifndef VSM_BACKOFF_H
#define VSM_BACKOFF_H

#include <stdint.h>

/* The delay in ms before retry `attempt` (0 for the first). */
uint32_t vsm_backoff_delay(uint32_t base_ms, uint32_t cap_ms, unsigned attempt);

#endif /* VSM_BACKOFF_H */
