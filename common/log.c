#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *log_ident = "vsm";
static atomic_int  log_level = VSM_LOG_INFO;
static int         log_syslog;

static const char *const level_names[] = {
    [VSM_LOG_ERROR] = "error",
    [VSM_LOG_WARN] = "warn",
    [VSM_LOG_INFO] = "info",
    [VSM_LOG_DEBUG] = "debug",
};

static const int syslog_prio[] = {
    [VSM_LOG_ERROR] = LOG_ERR,
    [VSM_LOG_WARN] = LOG_WARNING,
    [VSM_LOG_INFO] = LOG_INFO,
    [VSM_LOG_DEBUG] = LOG_DEBUG,
};

void
vsm_log_init(const char *ident, enum vsm_log_level level, int to_syslog)
{
	log_ident = ident;
	atomic_store(&log_level, level);
	log_syslog = to_syslog;
	if (to_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
vsm_log_setlevel(enum vsm_log_level level)
{
	atomic_store(&log_level, level);
}

enum vsm_log_level
vsm_log_getlevel(void)
{
	return ((enum vsm_log_level)atomic_load(&log_level));
}

int
vsm_log_parse_level(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(name, level_names[i]) == 0)
			return ((int)i);
	return (-1);
}

/*
 * Format one line and emit it with a single write so that lines from
 * several threads never interleave. `err` is an errno to append, or 0.
 */
static void vlog(enum vsm_log_level, int, const char *, va_list)
    __attribute__((format(printf, 3, 0)));

static void
vlog(enum vsm_log_level level, int err, const char *fmt, va_list ap)
{
	char            line[2048];
	struct timespec ts;
	struct tm       tm;
	size_t          off = 0;
	int             n;

	if ((int)level > atomic_load(&log_level))
		return;
	if (!log_syslog) {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		off = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		n = snprintf(line + off, sizeof(line) - off,
		    ".%03ldZ %s %s: ", ts.tv_nsec / 1000000, log_ident,
		    level_names[level]);
		if (n > 0)
			off += (size_t)n;
	}
	if (off < sizeof(line)) {
		n = vsnprintf(line + off, sizeof(line) - off, fmt, ap);
		if (n > 0)
			off += (size_t)n;
	}
	if (off >= sizeof(line))
		off = sizeof(line) - 1;
	if (err != 0 && off < sizeof(line) - 1) {
		n = snprintf(
		    line + off, sizeof(line) - off, ": %s", strerror(err));
		if (n > 0)
			off += (size_t)n;
		if (off >= sizeof(line))
			off = sizeof(line) - 1;
	}
	if (log_syslog) {
		syslog(syslog_prio[level], "%s", line);
		return;
	}
	if (off >= sizeof(line) - 1)
		off = sizeof(line) - 2;
	line[off++] = '\n';
	(void)!write(STDERR_FILENO, line, off);
}

#define LOGFN(fn, level, witherr)                                              \
	void fn(const char *fmt, ...)                                          \
	{                                                                      \
		va_list ap;                                                    \
		int     saved = errno;                                         \
		va_start(ap, fmt);                                             \
		vlog(level, witherr ? saved : 0, fmt, ap);                     \
		va_end(ap);                                                    \
		errno = saved;                                                 \
	}

LOGFN(log_warn, VSM_LOG_WARN, 1)
LOGFN(log_warnx, VSM_LOG_WARN, 0)
LOGFN(log_info, VSM_LOG_INFO, 0)
LOGFN(log_debug, VSM_LOG_DEBUG, 0)

void
fatal(const char *fmt, ...)
{
	va_list ap;
	int     saved = errno;

	va_start(ap, fmt);
	vlog(VSM_LOG_ERROR, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(VSM_LOG_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
