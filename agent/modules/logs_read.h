/*
 * logs_read.h: reading log files for logs.scan and auth.failed_logins:
 * lines through a fixed buffer (an overlong line is cut, the rest of it
 * skipped), a cap on the bytes read, and the timestamp that opens a
 * syslog line.
 */
#ifndef VSM_LOGS_READ_H
#define VSM_LOGS_READ_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define LOGS_LINE_MAX 4096 /* bytes of a line looked at; the rest skipped */

struct logs_reader {
	int      fd;        /* borrowed */
	uint64_t max_bytes; /* stop after this many; 0: no cap */
	uint64_t bytes;     /* read so far */
	int      capped;    /* stopped at max_bytes */
	int      error;     /* errno of a failed read, else 0 */
	int      eof;
	int      skip; /* dropping the rest of an overlong line */
	size_t   start, len;
	char     buf[LOGS_LINE_MAX + 1];
};

/* Start reading fd (borrowed), at most max_bytes (0: no cap). */
void logs_reader_init(struct logs_reader *r, int fd, uint64_t max_bytes);

/*
 * logs_reader_init, then for a file of size bytes longer than max_bytes
 * (not 0): seek fd to its last max_bytes and drop the partial line there.
 * The offset reading starts from; 0 when it is the start (also when the
 * seek failed).
 */
uint64_t logs_reader_tail(
    struct logs_reader *r, int fd, uint64_t size, uint64_t max_bytes);

/*
 * The next line, without its newline, NUL-terminated, in r's buffer
 * (valid until the next call), cut to LOGS_LINE_MAX bytes. 1 with a
 * line, 0 at the end (or the cap, or a read error: see r).
 */
int logs_reader_next(struct logs_reader *r, char **line, size_t *len);

/*
 * The time a log line opens with: "May  1 12:00:00" (syslog, local time,
 * the year inferred from now: a date more than a day ahead of now is last
 * year's) or ISO 8601 "2024-05-01T12:00:00[.frac][Z|+HH:MM]" (rsyslog's
 * high-precision format; no offset: local time). 1 with *t and *rest
 * (the text after the timestamp), 0 when the line has neither.
 */
int logs_line_time(const char *line, time_t now, time_t *t, const char **rest);

#endif /* VSM_LOGS_READ_H */
