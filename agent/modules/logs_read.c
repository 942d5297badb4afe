/*
 * logs_read.c: log lines through a fixed buffer and the timestamps that
 * open them (logs_read.h).
 */
#define _GNU_SOURCE /* timegm */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "logs_read.h"

void
logs_reader_init(struct logs_reader *r, int fd, uint64_t max_bytes)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->max_bytes = max_bytes;
}

uint64_t
logs_reader_tail(
    struct logs_reader *r, int fd, uint64_t size, uint64_t max_bytes)
{
	logs_reader_init(r, fd, max_bytes);
	if (max_bytes == 0 || size <= max_bytes ||
	    lseek(fd, (off_t)(size - max_bytes), SEEK_SET) == -1)
		return (0);
	r->skip = 1;
	return (size - max_bytes);
}

/* Read more into the buffer (compacted first). Sets eof at the end. */
static void
logs_reader_fill(struct logs_reader *r)
{
	size_t  room;
	ssize_t n;

	memmove(r->buf, r->buf + r->start, r->len);
	r->start = 0;
	room = LOGS_LINE_MAX - r->len;
	if (r->max_bytes != 0) {
		if (r->bytes >= r->max_bytes) {
			r->capped = 1;
			r->eof = 1;
			return;
		}
		if (room > r->max_bytes - r->bytes)
			room = (size_t)(r->max_bytes - r->bytes);
	}
	while ((n = read(r->fd, r->buf + r->len, room)) == -1 && errno == EINTR)
		continue;
	if (n <= 0) {
		if (n == -1)
			r->error = errno;
		r->eof = 1;
		return;
	}
	r->bytes += (uint64_t)n;
	r->len += (size_t)n;
}

int
logs_reader_next(struct logs_reader *r, char **line, size_t *len)
{
	char  *p, *nl;
	size_t n;

	for (;;) {
		p = r->buf + r->start;
		if ((nl = memchr(p, '\n', r->len)) != NULL) {
			n = (size_t)(nl - p);
			*nl = '\0';
			r->start += n + 1;
			r->len -= n + 1;
			if (r->skip) {
				r->skip = 0;
				continue;
			}
			*line = p;
			*len = n;
			return (1);
		}
		if (r->len == LOGS_LINE_MAX || (r->eof && r->len > 0)) {
			/* A full buffer (start is 0) or the unended last line.
			 */
			n = r->len;
			p[n] = '\0';
			r->start = r->len = 0;
			if (r->skip) {
				r->skip = n == LOGS_LINE_MAX;
				continue;
			}
			r->skip = n == LOGS_LINE_MAX;
			*line = p;
			*len = n;
			return (1);
		}
		if (r->eof)
			return (0);
		logs_reader_fill(r);
	}
}

static const char logs_months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

/* "May  1 12:00:00": 1 with *t and *rest, else 0. */
static int
logs_time_syslog(const char *s, time_t now, time_t *t, const char **rest)
{
	struct tm   tm, cur;
	const char *m;
	int         day, hh, mm, ss, used = 0;

	if (strlen(s) < 15 || s[3] != ' ')
		return (0);
	for (m = logs_months; *m != '\0'; m += 3)
		if (strncmp(s, m, 3) == 0)
			break;
	if (*m == '\0')
		return (0);
	if (sscanf(s + 4, "%2d %2d:%2d:%2d%n", &day, &hh, &mm, &ss, &used) !=
	        4 ||
	    used == 0 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 ||
	    hh < 0 || mm < 0 || ss < 0 || s[4 + used - 3] != ':')
		return (0);
	localtime_r(&now, &cur);
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = cur.tm_year;
	tm.tm_mon = (int)((m - logs_months) / 3);
	tm.tm_mday = day;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	tm.tm_isdst = -1;
	*t = mktime(&tm);
	if (*t > now + 86400) { /* December's lines read in January */
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = cur.tm_year - 1;
		tm.tm_mon = (int)((m - logs_months) / 3);
		tm.tm_mday = day;
		tm.tm_hour = hh;
		tm.tm_min = mm;
		tm.tm_sec = ss;
		tm.tm_isdst = -1;
		*t = mktime(&tm);
	}
	*rest = s + 4 + used;
	return (1);
}

/* "2024-05-01T12:00:00.123456+02:00": 1 with *t and *rest, else 0. */
static int
logs_time_iso(const char *s, time_t *t, const char **rest)
{
	struct tm   tm;
	const char *p;
	int         y, mo, d, hh, mm, ss, oh, om, used = 0, sign;
	long        off = 0;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &hh, &mm, &ss,
	        &used) != 6 ||
	    used != 19 || mo < 1 || mo > 12 || d < 1 || d > 31 || hh < 0 ||
	    hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60)
		return (0);
	p = s + used;
	if (*p == '.' || *p == ',')
		for (p++; *p >= '0' && *p <= '9'; p++)
			continue;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	if (*p == 'Z') {
		*t = timegm(&tm);
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		used = 0;
		if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &used) != 2 &&
		    sscanf(p + 1, "%2d%2d%n", &oh, &om, &used) != 2)
			return (0);
		if (oh < 0 || oh > 23 || om < 0 || om > 59)
			return (0);
		off = sign * (oh * 3600L + om * 60L);
		*t = timegm(&tm) - off;
		p += 1 + used;
	} else {
		tm.tm_isdst = -1;
		*t = mktime(&tm);
	}
	*rest = p;
	return (1);
}

int
logs_line_time(const char *line, time_t now, time_t *t, const char **rest)
{
	if (line[0] >= '0' && line[0] <= '9')
		return (logs_time_iso(line, t, rest));
	return (logs_time_syslog(line, now, t, rest));
}
