/*
 * tu_time.c: ISO 8601 times for the cron and window tests (tu_time.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cron.h"
#include "tu_time.h"

int64_t
tu_at(const char *iso)
{
	struct vsm_err err = {{0}};
	int64_t        t = 0;

	if (vsm_time_parse(iso, "UTC", &t, &err) == -1)
		fail_msg("%s: %s", iso, err.msg);
	return (t);
}

const char *
tu_iso(const char *tz, int64_t t)
{
	static char    buf[4][48];
	static int     n;
	struct vsm_err err = {{0}};
	char          *b = buf[n++ % 4];

	if (vsm_time_format(tz, t, b, sizeof(buf[0]), &err) == -1)
		fail_msg("%lld: %s", (long long)t, err.msg);
	return (b);
}
