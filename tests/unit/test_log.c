/*
 * test_log.c: logging to stderr (log.h): level names and filtering, the
 * line format (UTC ISO 8601 timestamp, ident, level), strerror appended by
 * log_warn only, errno preserved, long lines cut to one line, and fatal
 * exiting. stderr is redirected to a temporary file around each call.
 */
#include <errno.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

#define IDENT "testlog"

struct capture {
	int saved; /* the real stderr */
	int fd;    /* the temporary file standing in for it */
};

static void
capture_start(struct capture *c)
{
	char path[] = "/tmp/vsm-log-XXXXXX";

	assert_true((c->fd = mkstemp(path)) != -1);
	unlink(path);
	fflush(stderr);
	assert_true((c->saved = dup(STDERR_FILENO)) != -1);
	assert_true(dup2(c->fd, STDERR_FILENO) != -1);
}

/* Restore stderr and return what was written (malloc'd, NUL-terminated). */
static char *
capture_end(struct capture *c)
{
	char   *buf;
	off_t   len;
	ssize_t n;

	assert_true(dup2(c->saved, STDERR_FILENO) != -1);
	close(c->saved);
	assert_true((len = lseek(c->fd, 0, SEEK_END)) != -1);
	assert_non_null(buf = malloc((size_t)len + 1));
	assert_int_equal(lseek(c->fd, 0, SEEK_SET), 0);
	n = read(c->fd, buf, (size_t)len);
	assert_int_equal(n, len);
	buf[n] = '\0';
	close(c->fd);
	return (buf);
}

static size_t
count_char(const char *s, char ch)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (*s == ch)
			n++;
	return (n);
}

/* `out` is exactly one line matching the extended regex `re` plus "\n". */
static void
assert_one_line(const char *out, const char *re)
{
	regex_t rx;
	char   *line;
	size_t  len = strlen(out);
	int     rc;

	if (len == 0 || out[len - 1] != '\n' || count_char(out, '\n') != 1)
		fail_msg("not one line: \"%s\"", out);
	assert_non_null(line = strndup(out, len - 1));
	assert_int_equal(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB), 0);
	rc = regexec(&rx, line, 0, NULL, 0);
	regfree(&rx);
	if (rc != 0)
		fail_msg("\"%s\" does not match /%s/", line, re);
	free(line);
}

#define TS                                                                     \
	"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?Z "

static void
test_parse_level_knows_the_four_names(void **state)
{
	assert_int_equal(vsm_log_parse_level("error"), VSM_LOG_ERROR);
	assert_int_equal(vsm_log_parse_level("warn"), VSM_LOG_WARN);
	assert_int_equal(vsm_log_parse_level("info"), VSM_LOG_INFO);
	assert_int_equal(vsm_log_parse_level("debug"), VSM_LOG_DEBUG);
	assert_int_equal(vsm_log_parse_level("verbose"), -1);
	assert_int_equal(vsm_log_parse_level(""), -1);
	assert_int_equal(vsm_log_parse_level("debugx"), -1);
}

static void
test_init_and_setlevel_set_the_level(void **state)
{
	vsm_log_init(IDENT, VSM_LOG_WARN, 0);
	assert_int_equal(vsm_log_getlevel(), VSM_LOG_WARN);
	vsm_log_setlevel(VSM_LOG_DEBUG);
	assert_int_equal(vsm_log_getlevel(), VSM_LOG_DEBUG);
	vsm_log_setlevel(VSM_LOG_ERROR);
	assert_int_equal(vsm_log_getlevel(), VSM_LOG_ERROR);
}

static void
test_info_level_drops_debug_lines(void **state)
{
	struct capture c;
	char          *out;

	vsm_log_init(IDENT, VSM_LOG_INFO, 0);
	capture_start(&c);
	log_debug("hidden %d", 1);
	log_info("visible %d", 2);
	log_debug("hidden %d", 3);
	out = capture_end(&c);
	assert_one_line(out, TS IDENT " info: visible 2$");
	free(out);
}

static void
test_debug_level_shows_debug_lines(void **state)
{
	struct capture c;
	char          *out;

	vsm_log_init(IDENT, VSM_LOG_DEBUG, 0);
	capture_start(&c);
	log_debug("details %s", "here");
	out = capture_end(&c);
	assert_one_line(out, TS IDENT " debug: details here$");
	free(out);
}

static void
test_warn_level_drops_info_lines(void **state)
{
	struct capture c;
	char          *out;

	vsm_log_init(IDENT, VSM_LOG_WARN, 0);
	capture_start(&c);
	log_info("hidden");
	log_debug("hidden");
	log_warnx("shown");
	out = capture_end(&c);
	assert_one_line(out, TS IDENT " warn: shown$");
	free(out);

	vsm_log_init(IDENT, VSM_LOG_ERROR, 0);
	capture_start(&c);
	log_warnx("hidden");
	errno = EIO;
	log_warn("hidden");
	out = capture_end(&c);
	assert_string_equal(out, "");
	free(out);
}

static void
test_timestamp_is_utc_whatever_the_timezone(void **state)
{
	struct capture c;
	char          *out, before[32], after[32];
	const char    *oldtz = getenv("TZ");
	char          *saved = oldtz != NULL ? strdup(oldtz) : NULL;
	struct tm      tm;
	time_t         t;

	/* Five hours west of UTC, no tzdata needed. */
	setenv("TZ", "EST5", 1);
	tzset();
	vsm_log_init(IDENT, VSM_LOG_INFO, 0);
	t = time(NULL);
	strftime(before, sizeof(before), "%Y-%m-%dT%H:", gmtime_r(&t, &tm));
	capture_start(&c);
	log_info("tick");
	out = capture_end(&c);
	t = time(NULL);
	strftime(after, sizeof(after), "%Y-%m-%dT%H:", gmtime_r(&t, &tm));
	if (saved != NULL)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved);
	assert_one_line(out, TS IDENT " info: tick$");
	if (strncmp(out, before, strlen(before)) != 0 &&
	    strncmp(out, after, strlen(after)) != 0)
		fail_msg("\"%s\" is not UTC (%s)", out, before);
	free(out);
}

static void
test_log_warn_appends_strerror_and_warnx_does_not(void **state)
{
	struct capture c;
	char          *out, re[256];

	vsm_log_init(IDENT, VSM_LOG_INFO, 0);
	capture_start(&c);
	errno = ENOENT;
	log_warn("open %s", "/x");
	out = capture_end(&c);
	snprintf(
	    re, sizeof(re), TS IDENT " warn: open /x: %s$", strerror(ENOENT));
	assert_one_line(out, re);
	free(out);

	capture_start(&c);
	errno = ENOENT;
	log_warnx("open %s", "/x");
	out = capture_end(&c);
	assert_one_line(out, TS IDENT " warn: open /x$");
	free(out);
}

/*
 * errno survives every logging call, even one whose write fails (stderr
 * closed), which is when the write itself would clobber it.
 */
static void
test_logging_preserves_errno(void **state)
{
	int saved, got[4];

	vsm_log_init(IDENT, VSM_LOG_DEBUG, 0);
	fflush(stderr);
	assert_true((saved = dup(STDERR_FILENO)) != -1);
	close(STDERR_FILENO);
	errno = ENOENT;
	log_warn("a");
	got[0] = errno;
	errno = EACCES;
	log_warnx("b");
	got[1] = errno;
	errno = EEXIST;
	log_info("c");
	got[2] = errno;
	errno = EINTR;
	log_debug("d");
	got[3] = errno;
	assert_true(dup2(saved, STDERR_FILENO) != -1);
	close(saved);
	assert_int_equal(got[0], ENOENT);
	assert_int_equal(got[1], EACCES);
	assert_int_equal(got[2], EEXIST);
	assert_int_equal(got[3], EINTR);
}

static void
test_long_message_is_truncated_to_one_line(void **state)
{
	struct capture c;
	char          *out, *msg;
	size_t         len = 10000;

	assert_non_null(msg = malloc(len + 1));
	memset(msg, 'x', len);
	msg[len] = '\0';
	vsm_log_init(IDENT, VSM_LOG_INFO, 0);
	capture_start(&c);
	log_info("%s", msg);
	out = capture_end(&c);
	assert_one_line(out, TS IDENT " info: x+$");
	assert_true(strlen(out) < len);
	free(out);

	capture_start(&c);
	errno = ENOENT;
	log_warn("%s", msg);
	out = capture_end(&c);
	assert_one_line(out, TS IDENT " warn: x+$");
	assert_true(strlen(out) < len);
	free(out);
	free(msg);
}

/* Every length around the line buffer's size gives one whole line. */
static void
test_messages_around_line_limit_stay_one_line(void **state)
{
	struct capture c;
	char          *out, *msg, tail[256];
	size_t         len, prev = 0, xs;

	assert_non_null(msg = malloc(2201));
	vsm_log_init(IDENT, VSM_LOG_INFO, 0);
	snprintf(tail, sizeof(tail), "x: %s\n", strerror(EIO));
	for (len = 1; len <= 2200; len++) {
		memset(msg, 'x', len);
		msg[len] = '\0';
		capture_start(&c);
		errno = EIO;
		log_warn("%s", msg);
		out = capture_end(&c);
		/* A cut line may end inside the appended error text. */
		assert_one_line(out, TS IDENT " warn: x+(:( .*)?)?$");
		/* Short lines are whole; longer ones are cut, not shrunk. */
		xs = count_char(out, 'x');
		if (len <= 1024) {
			assert_int_equal(xs, len);
			assert_true(strlen(out) > strlen(tail));
			assert_string_equal(
			    out + strlen(out) - strlen(tail), tail);
		}
		assert_true(xs >= prev);
		prev = xs;
		free(out);
	}
	free(msg);
}

static void
test_fatal_logs_error_and_exits_1(void **state)
{
	struct capture c;
	char          *out;
	pid_t          pid1, pid2;
	int            st1 = -1, st2 = -1;

	vsm_log_init(IDENT, VSM_LOG_ERROR, 0);
	fflush(stdout);
	capture_start(&c);
	if ((pid1 = fork()) == 0) {
		errno = ENOENT;
		fatal("cannot start %d", 7);
	}
	if (pid1 > 0)
		(void)waitpid(pid1, &st1, 0);
	if ((pid2 = fork()) == 0)
		fatalx("broken %s", "invariant");
	if (pid2 > 0)
		(void)waitpid(pid2, &st2, 0);
	out = capture_end(&c);
	assert_true(pid1 > 0 && pid2 > 0);
	assert_true(WIFEXITED(st1) && WIFEXITED(st2));
	assert_int_equal(WEXITSTATUS(st1), 1);
	assert_int_equal(WEXITSTATUS(st2), 1);
	assert_int_equal(count_char(out, '\n'), 2);
	assert_non_null(strstr(out, IDENT " error: cannot start 7: "));
	assert_non_null(strstr(out, strerror(ENOENT)));
	assert_non_null(strstr(out, IDENT " error: broken invariant\n"));
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_level_knows_the_four_names),
	    cmocka_unit_test(test_init_and_setlevel_set_the_level),
	    cmocka_unit_test(test_info_level_drops_debug_lines),
	    cmocka_unit_test(test_debug_level_shows_debug_lines),
	    cmocka_unit_test(test_warn_level_drops_info_lines),
	    cmocka_unit_test(test_timestamp_is_utc_whatever_the_timezone),
	    cmocka_unit_test(test_log_warn_appends_strerror_and_warnx_does_not),
	    cmocka_unit_test(test_logging_preserves_errno),
	    cmocka_unit_test(test_long_message_is_truncated_to_one_line),
	    cmocka_unit_test(test_messages_around_line_limit_stay_one_line),
	    cmocka_unit_test(test_fatal_logs_error_and_exits_1),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
