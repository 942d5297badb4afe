/*
 * calendar.c: the proleptic Gregorian calendar in day numbers (days since
 * 1970-01-01), and wall times in seconds (tz_int.h). Pure arithmetic on
 * 64-bit integers, valid far beyond TZ_YEAR_MIN..TZ_YEAR_MAX; the day
 * algorithms are Howard Hinnant's ("chrono-compatible low-level date
 * algorithms").
 */
#include <stdint.h>

#include "tz_int.h"

/* Floor division and modulo for a positive divisor. */
static int64_t
cal_fdiv(int64_t a, int64_t b)
{
	return (a >= 0 ? a / b : -((-a + b - 1) / b));
}

static int64_t
cal_fmod(int64_t a, int64_t b)
{
	return (a - cal_fdiv(a, b) * b);
}

int64_t
tz_days_from_civil(int y, int m, int d)
{
	int64_t yy = (int64_t)y - (m <= 2);
	int64_t era = cal_fdiv(yy, 400);
	int64_t yoe = yy - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return (era * 146097 + doe - 719468 + (int64_t)d - 1);
}

void
tz_civil_from_days(int64_t days, int *y, int *m, int *d)
{
	int64_t z = days + 719468;
	int64_t era = cal_fdiv(z, 146097);
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;

	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

int
tz_weekday(int64_t days)
{
	return ((int)cal_fmod(days + 4, 7)); /* 1970-01-01 was a Thursday */
}

int
tz_days_in_month(int y, int m)
{
	static const int dim[12] = {
	    31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return (29);
	return (dim[(m - 1) % 12]);
}

int64_t
tz_wall_make(const struct tz_civil *c)
{
	return (tz_days_from_civil(c->year, c->mon, c->mday) * TZ_DAY +
	    (int64_t)c->hour * 3600 + c->min * 60 + c->sec);
}

void
tz_wall_split(int64_t wall, struct tz_civil *c)
{
	int64_t days = cal_fdiv(wall, TZ_DAY);
	int     s = (int)(wall - days * TZ_DAY);

	tz_civil_from_days(days, &c->year, &c->mon, &c->mday);
	c->hour = s / 3600;
	c->min = s / 60 % 60;
	c->sec = s % 60;
	c->wday = tz_weekday(days);
}

int
tz_in_range(int64_t s)
{
	return (s >= tz_days_from_civil(TZ_YEAR_MIN, 1, 1) * TZ_DAY &&
	    s < tz_days_from_civil(TZ_YEAR_MAX + 1, 1, 1) * TZ_DAY);
}
