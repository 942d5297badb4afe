/*
 * tu_time.h: ISO 8601 times for the cron and window tests (cron.h);
 * cmocka helpers that fail the running test on a bad time.
 */
#ifndef VSM_TU_TIME_H
#define VSM_TU_TIME_H

#include <stdint.h>

/* The instant of an ISO 8601 time with an offset. */
int64_t tu_at(const char *iso);
/* t in zone tz as ISO 8601, from a ring of 4 static buffers. */
const char *tu_iso(const char *tz, int64_t t);

#endif /* VSM_TU_TIME_H */
