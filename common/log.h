/*
 * log.h: logging as in OpenBSD daemons. log_warn() appends strerror(errno),
 * log_warnx() does not; fatal()/fatalx() log and exit(1) and are only for
 * start-up failures and broken invariants, never for what a peer sent.
 *
 * Lines go to stderr with an ISO 8601 UTC timestamp, or to syslog. The
 * functions are thread-safe (one write(2) per line).
 */
#ifndef VSM_LOG_H
#define VSM_LOG_H

enum vsm_log_level {
	VSM_LOG_ERROR = 0,
	VSM_LOG_WARN,
	VSM_LOG_INFO,
	VSM_LOG_DEBUG,
};

/* `ident` names the process in every line; to_syslog selects syslog. */
void vsm_log_init(const char *ident, enum vsm_log_level level, int to_syslog);
void vsm_log_setlevel(enum vsm_log_level level);
enum vsm_log_level vsm_log_getlevel(void);
/* "error", "warn", "info", "debug" -> level; -1 when unknown. */
int vsm_log_parse_level(const char *name);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif /* VSM_LOG_H */
