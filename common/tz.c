/*
 * tz.c: IANA time zones through the C library. glibc converts only in
 * "the" local zone, named by TZ, so a conversion in zone Z takes one
 * process-wide lock, sets TZ to Z's file under /usr/share/zoneinfo,
 * calls tzset(), converts with localtime_r(), then restores TZ and calls
 * tzset() again (tz_int.h). The only local-time call made is
 * localtime_r(), for tm_gmtoff: everything else is calendar arithmetic
 * on wall times (calendar.c).
 */
#include <sys/stat.h>

#include <ctype.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cron.h"
#include "tz_int.h"

#define TZ_SPAN (16 * 3600) /* beyond the widest UTC offset since 1900 */

static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;
/* The last zone name vsm_tz_check() passed in tz_enter(): under tz_lock. */
static char tz_checked[VSM_TZ_MAX];

void
vsm_tz_init(void)
{
	if (getenv("TZ") == NULL)
		setenv("TZ", ":/etc/localtime", 0);
	tzset();
}

/* Is tz's file under TZ_ZONEINFO a regular file starting "TZif"? */
static int
tz_file_ok(const char *tz)
{
	char        path[sizeof(TZ_ZONEINFO) + VSM_TZ_MAX + 1], magic[4];
	struct stat st;
	int         fd, ok = 0;

	snprintf(path, sizeof(path), "%s/%s", TZ_ZONEINFO, tz);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return (0);
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    read(fd, magic, sizeof(magic)) == (ssize_t)sizeof(magic) &&
	    memcmp(magic, "TZif", sizeof(magic)) == 0)
		ok = 1;
	close(fd);
	return (ok);
}

int
vsm_tz_check(const char *tz, struct vsm_err *err)
{
	size_t i, len;

	if (tz == NULL)
		return (vsm_err_set(err, "no time zone"));
	if (tz[0] == '\0')
		return (0);
	if ((len = strlen(tz)) >= VSM_TZ_MAX)
		return (vsm_err_set(err, "time zone name longer than %d bytes",
		    VSM_TZ_MAX - 1));
	if (tz[0] == '/')
		return (vsm_err_set(
		    err, "time zone '%s' must not start with '/'", tz));
	if (strstr(tz, "..") != NULL)
		return (
		    vsm_err_set(err, "time zone '%s' must not hold '..'", tz));
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)tz[i]) &&
		    strchr("/_+-", tz[i]) == NULL)
			return (vsm_err_set(err,
			    "time zone name has a bad character at column %zu "
			    "(letters, digits, '/', '_', '+' and '-' only)",
			    i + 1));
	if (!tz_file_ok(tz))
		return (vsm_err_set(err,
		    "unknown time zone '%s' (not a zone file in %s)", tz,
		    TZ_ZONEINFO));
	return (0);
}

int
tz_enter(struct tz_hold *h, const char *tz, struct vsm_err *err)
{
	char        val[sizeof(TZ_ZONEINFO) + VSM_TZ_MAX + 2];
	const char *old;

	h->saved = NULL;
	h->changed = 0;
	pthread_mutex_lock(&tz_lock);
	/* The zone file is read once per name in a row, not per call. */
	if (strcmp(tz, tz_checked) != 0) {
		if (vsm_tz_check(tz, err) == -1) {
			pthread_mutex_unlock(&tz_lock);
			return (-1);
		}
		snprintf(tz_checked, sizeof(tz_checked), "%s", tz);
	}
	if (tz[0] != '\0') {
		snprintf(val, sizeof(val), ":%s/%s", TZ_ZONEINFO, tz);
		old = getenv("TZ");
		if (old == NULL || strcmp(old, val) != 0) {
			if (old != NULL && (h->saved = strdup(old)) == NULL)
				goto fail;
			if (setenv("TZ", val, 1) == -1)
				goto fail;
			h->changed = 1;
		}
	}
	tzset();
	return (0);
fail:
	free(h->saved);
	h->saved = NULL;
	pthread_mutex_unlock(&tz_lock);
	return (vsm_err_set(err, "out of memory setting the time zone"));
}

void
tz_leave(struct tz_hold *h)
{
	if (h->changed) {
		if (h->saved != NULL)
			setenv("TZ", h->saved, 1);
		else
			unsetenv("TZ");
		tzset();
	}
	free(h->saved);
	h->saved = NULL;
	h->changed = 0;
	pthread_mutex_unlock(&tz_lock);
}

int
tz_offset_at(int64_t t)
{
	time_t    tt = (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL)
		return (0);
	return ((int)tm.tm_gmtoff);
}

/*
 * Every instant with wall time `wall` lies within TZ_SPAN of it, so the
 * offsets that matter are those at wall - TZ_SPAN and wall + TZ_SPAN
 * (zones change offset at most once in a day and a half). An offset o
 * gives an occurrence when the offset at wall - o is o; the earliest
 * occurrence wins (fall-back). With none, the wall time is in a
 * spring-forward gap: the answer is the transition, found by bisection
 * between the two candidates.
 */
int64_t
tz_resolve(int64_t wall)
{
	int     oa = tz_offset_at(wall - TZ_SPAN);
	int     ob = tz_offset_at(wall + TZ_SPAN);
	int64_t ta = wall - oa, tb = wall - ob, lo, hi, mid;
	int     va = tz_offset_at(ta) == oa, vb = tz_offset_at(tb) == ob;

	if (va && vb)
		return (ta < tb ? ta : tb);
	if (va)
		return (ta);
	if (vb)
		return (tb);
	/* The gap: wall(tb) < wall <= wall(ta), tb < ta. */
	if (oa >= ob)
		return (ta); /* not one transition: the old offset */
	lo = tb;
	hi = ta;
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (mid + tz_offset_at(mid) >= wall)
			hi = mid;
		else
			lo = mid;
	}
	return (hi);
}

int
vsm_tz_offset(const char *tz, int64_t t, int *offset_s, struct vsm_err *err)
{
	struct tz_hold h;

	if (!tz_in_range(t))
		return (vsm_err_set(
		    err, "instant %lld is out of range", (long long)t));
	if (tz_enter(&h, tz, err) == -1)
		return (-1);
	*offset_s = tz_offset_at(t);
	tz_leave(&h);
	return (0);
}
