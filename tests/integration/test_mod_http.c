/*
 * test_mod_http.c: http.check and cert.check (vsm-task-http) through the
 * real runner: libcurl against a canned HTTP server on loopback
 * (tests/support/tu_http.c), certificates made with the openssl command
 * line, and a real TLS endpoint (openssl s_server).
 */
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"
#include "tu_http.h"
#include "tu_task.h"

#define OPENSSL "/usr/bin/openssl"

static char dir[64], bin[PATH_MAX], log_path[PATH_MAX];
static char cfg_main[PATH_MAX], cfg_none[PATH_MAX], cfg_bare[PATH_MAX];
static char cfg_tls[PATH_MAX], cfg_path[PATH_MAX];
static struct tu_http *srv;
static int             port, tls_port;
static pid_t           tls_pid = -1;
static char            bigjson[16384]; /* [1,1,...]: filled by setup */

static const struct tu_http_route routes[] = {
    {.path = "/ok/alarms",
        .status = 200,
        .headers = "Content-Type: application/json\r\n",
        .body = "{\"alarms\":{\"active\":3}}"},
    {.path = "/ok/escaped",
        .status = 200,
        .headers = "Content-Type: application/json\r\n",
        .body = "{\"a/b\":{\"m~n\":7},\"list\":[1,2,{\"x\":5}],\"s\":\"up\"}"},
    {.path = "/ok/count", .status = 200, .body = "4\n"},
    {.path = "/ok/bigjson", .status = 200, .body = bigjson},
    {.path = "/ok/html", .status = 200, .body = "<html>up</html>"},
    {.path = "/ok/error", .status = 500, .body = "oops"},
    {.path = "/ok/slow", .status = 200, .body = "late", .delay_ms = 1500},
    {.path = "/ok/stuck", .status = 200, .body = "never", .delay_ms = 6000},
    {.path = "/ok/huge", .status = 200, .fill = 2 * 1024 * 1024},
    {.path = "/ok/stream", .status = 200, .fill = 512 * 1024, .no_length = 1},
    {.path = "/ok/moved", .status = 302, .headers = "Location: /ok/alarms\r\n"},
    {.path = "/ok/away",
        .status = 302,
        .headers = "Location: http://127.0.0.1:{port}/secret\r\n"},
    {.path = "/secret", .status = 200, .body = "secret"},
};

/* Run module on vsm-task-http with kv, config cfg; the result in r. */
static void
run(const char *cfg, const char *module, const char *const *kv,
    struct tu_task_result *r)
{
	assert_int_equal(tu_task_run(bin, cfg, module, kv, 0, r), 0);
	if (r->status != 1)
		fprintf(stderr, "%s: %s: %s [%s]\n", module,
		    tu_task_status(r->status), r->summary, r->error);
}

/* URL of path on the canned server (one of 32 rotating buffers). */
static const char *
url(const char *path)
{
	static char buf[32][256];
	static int  i;

	i = (i + 1) % 32;
	snprintf(buf[i], sizeof(buf[i]), "http://127.0.0.1:%d%s", port, path);
	return (buf[i]);
}

static void
test_http_json_value_ok(void **state)
{
	struct tu_task_result r;
	const char           *kv[] = {"url", url("/ok/alarms"), "json_pointer",
	              "/alarms/active", "warn_value", "5", "fail_value", "10", "warn_ms",
	              "600000", "fail_ms", "600000", NULL};

	(void)state;
	run(cfg_main, "http.check", kv, &r);
	assert_string_equal(tu_task_status(r.status), "ok");
	assert_int_equal(
	    json_integer_value(json_object_get(r.json, "status_code")), 200);
	assert_int_equal(
	    json_integer_value(json_object_get(r.json, "value")), 3);
	assert_int_equal(json_integer_value(json_object_get(r.json, "bytes")),
	    strlen(routes[0].body));
	assert_string_equal(
	    json_string_value(json_object_get(r.json, "content_type")),
	    "application/json");
	assert_true(json_is_integer(json_object_get(r.json, "latency_ms")));
	tu_task_result_free(&r);
}

static void
test_http_json_value_thresholds(void **state)
{
	struct tu_task_result r;
	const char *warn[] = {"url", url("/ok/alarms"), "json_pointer",
	    "/alarms/active", "warn_value", "3", "fail_ms", "600000", "warn_ms",
	    "600000", NULL};
	const char *failv[] = {"url", url("/ok/alarms"), "json_pointer",
	    "/alarms/active", "warn_value", "1", "fail_value", "2.5", "fail_ms",
	    "600000", "warn_ms", "600000", NULL};

	(void)state;
	run(cfg_main, "http.check", warn, &r);
	assert_string_equal(tu_task_status(r.status), "warn");
	tu_task_result_free(&r);
	run(cfg_main, "http.check", failv, &r);
	assert_string_equal(tu_task_status(r.status), "fail");
	tu_task_result_free(&r);
}

static void
test_http_json_pointer_escapes(void **state)
{
	struct tu_task_result r;
	const char *esc[] = {"url", url("/ok/escaped"), "json_pointer",
	    "/a~1b/m~0n", "warn_ms", "600000", "fail_ms", "600000", NULL};
	const char *idx[] = {"url", url("/ok/escaped"), "json_pointer",
	    "/list/2/x", "warn_ms", "600000", "fail_ms", "600000", NULL};
	const char *lead0[] = {
	    "url", url("/ok/escaped"), "json_pointer", "/list/02", NULL};
	const char *past[] = {
	    "url", url("/ok/escaped"), "json_pointer", "/list/3", NULL};
	const char *tilde[] = {
	    "url", url("/ok/escaped"), "json_pointer", "/a~2b", NULL};
	const char *str[] = {"url", url("/ok/escaped"), "json_pointer", "/s",
	    "fail_value", "1", NULL};
	const char *html[] = {
	    "url", url("/ok/html"), "json_pointer", "/a", NULL};
	const char *whole[] = {"url", url("/ok/bigjson"), "json_pointer", "",
	    "warn_ms", "600000", "fail_ms", "600000", NULL};
	const char *bare[] = {"url", url("/ok/count"), "json_pointer", "",
	    "warn_value", "1", "fail_value", "10", "warn_ms", "600000",
	    "fail_ms", "600000", NULL};

	(void)state;
	run(cfg_main, "http.check", esc, &r);
	assert_string_equal(tu_task_status(r.status), "ok");
	assert_int_equal(
	    json_integer_value(json_object_get(r.json, "value")), 7);
	tu_task_result_free(&r);
	run(cfg_main, "http.check", idx, &r);
	assert_int_equal(
	    json_integer_value(json_object_get(r.json, "value")), 5);
	tu_task_result_free(&r);
	tu_task_expect_error(
	    bin, cfg_main, "http.check", lead0, "no element '02'");
	tu_task_expect_error(
	    bin, cfg_main, "http.check", past, "no element '3'");
	tu_task_expect_error(
	    bin, cfg_main, "http.check", tilde, "'~' must be followed");
	tu_task_expect_error(
	    bin, cfg_main, "http.check", str, "a string, not a number");
	tu_task_expect_error(bin, cfg_main, "http.check", html, "not JSON");
	/* A large pick is described, not copied into the result. */
	run(cfg_main, "http.check", whole, &r);
	assert_string_equal(tu_task_status(r.status), "ok");
	assert_true(json_is_null(json_object_get(r.json, "value")));
	assert_non_null(
	    strstr(json_string_value(json_object_get(r.json, "value_omitted")),
	        "an array of"));
	tu_task_result_free(&r);
	/* A bare number, the whole document: the empty pointer. */
	run(cfg_main, "http.check", bare, &r);
	assert_string_equal(tu_task_status(r.status), "warn");
	assert_int_equal(
	    json_integer_value(json_object_get(r.json, "value")), 4);
	tu_task_result_free(&r);
}

static void
test_http_status_and_latency(void **state)
{
	struct tu_task_result r;
	const char *err500[] = {"url", url("/ok/error"), "warn_ms", "600000",
	    "fail_ms", "600000", NULL};
	const char *want500[] = {"url", url("/ok/error"), "expect_status",
	    "500", "warn_ms", "600000", "fail_ms", "600000", NULL};
	const char *slow[] = {"url", url("/ok/slow"), "warn_ms", "1000",
	    "fail_ms", "600000", NULL};
	const char *stuck[] = {"url", url("/ok/stuck"), "timeout", "1s", NULL};
	const char *head[] = {"url", url("/ok/alarms"), "method", "HEAD",
	    "warn_ms", "600000", "fail_ms", "600000", NULL};

	(void)state;
	run(cfg_main, "http.check", err500, &r);
	assert_string_equal(tu_task_status(r.status), "fail");
	assert_int_equal(
	    json_integer_value(json_object_get(r.json, "status_code")), 500);
	tu_task_result_free(&r);
	run(cfg_main, "http.check", want500, &r);
	assert_string_equal(tu_task_status(r.status), "ok");
	tu_task_result_free(&r);
	/* The server waits 1.5 s: the latency cannot be under warn_ms. */
	run(cfg_main, "http.check", slow, &r);
	assert_string_equal(tu_task_status(r.status), "warn");
	assert_true(
	    json_integer_value(json_object_get(r.json, "latency_ms")) >= 1400);
	tu_task_result_free(&r);
	run(cfg_main, "http.check", stuck, &r);
	assert_string_equal(tu_task_status(r.status), "fail");
	assert_non_null(strstr(r.error, "imed out"));
	tu_task_result_free(&r);
	run(cfg_main, "http.check", head, &r);
	assert_string_equal(tu_task_status(r.status), "ok");
	assert_int_equal(
	    json_integer_value(json_object_get(r.json, "bytes")), 0);
	tu_task_result_free(&r);
}

static void
test_http_body_cap(void **state)
{
	const char *huge[] = {"url", url("/ok/huge"), NULL};
	const char *stream[] = {
	    "url", url("/ok/stream"), "max_body", "64KiB", NULL};
	struct tu_task_result r;
	const char *fits[] = {"url", url("/ok/stream"), "max_body", "1MiB",
	    "warn_ms", "600000", "fail_ms", "600000", NULL};

	(void)state;
	/* Announced by Content-Length, and found while reading. */
	tu_task_expect_error(
	    bin, cfg_main, "http.check", huge, "over max_body");
	tu_task_expect_error(
	    bin, cfg_main, "http.check", stream, "over max_body");
	run(cfg_main, "http.check", fits, &r);
	assert_string_equal(tu_task_status(r.status), "ok");
	assert_int_equal(
	    json_integer_value(json_object_get(r.json, "bytes")), 512 * 1024);
	tu_task_result_free(&r);
}

static void
test_http_redirects(void **state)
{
	struct tu_task_result r;
	const char *moved[] = {"url", url("/ok/moved"), "json_pointer",
	    "/alarms/active", "warn_ms", "600000", "fail_ms", "600000", NULL};
	const char *away[] = {"url", url("/ok/away"), NULL};
	const char *nofollow[] = {"url", url("/ok/away"), "follow_redirects",
	    "false", "expect_status", "302", "warn_ms", "600000", "fail_ms",
	    "600000", NULL};

	(void)state;
	run(cfg_main, "http.check", moved, &r);
	assert_string_equal(tu_task_status(r.status), "ok");
	assert_int_equal(
	    json_integer_value(json_object_get(r.json, "redirects")), 1);
	assert_int_equal(
	    json_integer_value(json_object_get(r.json, "value")), 3);
	tu_task_result_free(&r);
	tu_task_expect_error(
	    bin, cfg_main, "http.check", away, "redirect from");
	assert_int_equal(tu_http_hits(srv, "/secret"), 0);
	run(cfg_main, "http.check", nofollow, &r);
	assert_string_equal(tu_task_status(r.status), "ok");
	assert_int_equal(tu_http_hits(srv, "/secret"), 0);
	tu_task_result_free(&r);
}

static void
test_http_refused_urls(void **state)
{
	char        up[256], bare[256];
	const char *outside[] = {"url", url("/secret"), NULL};
	const char *file[] = {"url", "file:///etc/passwd", NULL};
	const char *gopher[] = {"url", "gopher://127.0.0.1:70/", NULL};
	const char *dots[] = {"url", up, NULL};
	const char *enc[] = {"url", url("/ok/%2E%2e/secret"), NULL};
	const char *user[] = {"url", bare, NULL};
	const char *ok[] = {"url", url("/ok/alarms"), NULL};
	const char *badnum[] = {"url", url("/ok/alarms"), "json_pointer", "/a",
	    "warn_value", "3;rm", NULL};
	const char *noptr[] = {
	    "url", url("/ok/alarms"), "fail_value", "3", NULL};
	const char *order[] = {
	    "url", url("/ok/alarms"), "warn_ms", "900", "fail_ms", "100", NULL};

	(void)state;
	snprintf(up, sizeof(up), "http://127.0.0.1:%d/ok/../secret", port);
	snprintf(bare, sizeof(bare), "http://127.0.0.1:%d@localhost:%d/secret",
	    port, port);
	tu_task_expect_error(bin, cfg_main, "http.check", outside,
	    "not under any "
	    "http.allow prefix");
	tu_task_expect_error(
	    bin, cfg_main, "http.check", file, "only http:// and https://");
	tu_task_expect_error(
	    bin, cfg_main, "http.check", gopher, "only http:// and https://");
	/* Dot segments are resolved before the prefix is matched. */
	tu_task_expect_error(
	    bin, cfg_main, "http.check", dots, "/secret is not under");
	/* Encoded dots could become a dot segment on the server. */
	tu_task_expect_error(
	    bin, cfg_main, "http.check", enc, "an encoded '.'");
	/* The prefix without a path still ends at the host and port. */
	tu_task_expect_error(
	    bin, cfg_bare, "http.check", user, "user name or password");
	tu_task_expect_error(bin, cfg_none, "http.check", ok,
	    "add the prefixes this host "
	    "may reach to http.allow");
	tu_task_expect_error(bin, cfg_main, "http.check", badnum,
	    "parameter 'warn_value': '3;rm' is not a number");
	tu_task_expect_error(bin, cfg_main, "http.check", noptr,
	    "'fail_value': needs json_pointer");
	tu_task_expect_error(
	    bin, cfg_main, "http.check", order, "parameter 'warn_ms'");
	assert_int_equal(tu_http_hits(srv, "/secret"), 0);
}

/* A prefix matches up to a path boundary, not inside a segment. */
static void
test_http_prefix_boundary(void **state)
{
	struct tu_task_result r;
	const char           *okay[] = {"url", url("/okay"), NULL};
	const char *ok[] = {"url", url("/ok/alarms"), "warn_ms", "600000",
	    "fail_ms", "600000", NULL};

	(void)state;
	tu_task_expect_error(
	    bin, cfg_path, "http.check", okay, "/okay is not under");
	run(cfg_path, "http.check", ok, &r);
	assert_string_equal(tu_task_status(r.status), "ok");
	tu_task_result_free(&r);
}

/* https with a self-signed certificate: verification stays on. */
static void
test_http_tls_verified(void **state)
{
	struct tu_task_result r;
	char                  u[128];
	const char           *kv[] = {"url", u, NULL};

	(void)state;
	snprintf(u, sizeof(u), "https://127.0.0.1:%d/", tls_port);
	run(cfg_tls, "http.check", kv, &r);
	assert_string_equal(tu_task_status(r.status), "fail");
	assert_non_null(strstr(r.error, "certificate"));
	tu_task_result_free(&r);
}

/* Run openssl with the arguments given (NULL-terminated); exit 0. */
static void
openssl(const char *a0, ...)
{
	char   *argv[40];
	va_list ap;
	size_t  n = 0;

	argv[n++] = (char *)OPENSSL;
	argv[n++] = (char *)a0;
	va_start(ap, a0);
	while (n < 39 && (argv[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	if (tu_run_wait(argv, log_path) != 0)
		fail_msg("openssl %s failed (see %s)", a0, log_path);
}

/* A certificate of `days` days for CN=localhost, key and cert in certs/. */
static void
make_self_signed(const char *name, const char *days)
{
	char key[PATH_MAX], crt[PATH_MAX];

	snprintf(key, sizeof(key), "%s/certs/%s.key", dir, name);
	snprintf(crt, sizeof(crt), "%s/certs/%s.pem", dir, name);
	openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
	    "ec_paramgen_curve:prime256v1", "-days", days, "-nodes", "-subj",
	    "/CN=localhost", "-addext",
	    "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out",
	    crt, NULL);
}

/* A certificate for cn valid from start to end (openssl ca dates). */
static void
make_dated(const char *name, const char *cn, const char *start, const char *end)
{
	char subj[128], csr[PATH_MAX], key[PATH_MAX], crt[PATH_MAX];
	char cnf[4 * PATH_MAX];

	snprintf(subj, sizeof(subj), "/CN=%s", cn);
	snprintf(csr, sizeof(csr), "%s/ca/%s.csr", dir, name);
	snprintf(key, sizeof(key), "%s/ca/%s.key", dir, name);
	snprintf(crt, sizeof(crt), "%s/certs/%s.pem", dir, name);
	if (access(tu_path(dir, "ca/ca.cnf"), F_OK) != 0) {
		assert_int_equal(mkdir(tu_path(dir, "ca"), 0700), 0);
		tu_put(tu_path(dir, "ca/index.txt"), "", 0);
		tu_put(tu_path(dir, "ca/serial"), "01\n", 0);
		assert_true((size_t)snprintf(cnf, sizeof(cnf),
		                "[ca]\ndefault_ca = tca\n[tca]\ndatabase = "
		                "%s/ca/index.txt\n"
		                "new_certs_dir = %s/ca\nserial = %s/ca/serial\n"
		                "default_md = sha256\npolicy = pol\n"
		                "unique_subject = no\n"
		                "[pol]\ncommonName = supplied\n",
		                dir, dir, dir) < sizeof(cnf));
		tu_put(tu_path(dir, "ca/ca.cnf"), cnf, 0);
	}
	openssl("req", "-new", "-newkey", "ec", "-pkeyopt",
	    "ec_paramgen_curve:prime256v1", "-nodes", "-subj", subj, "-keyout",
	    key, "-out", csr, NULL);
	openssl("ca", "-batch", "-config", tu_path(dir, "ca/ca.cnf"),
	    "-selfsign", "-keyfile", key, "-in", csr, "-out", crt, "-startdate",
	    start, "-enddate", end, "-notext", NULL);
}

/* Concatenate files a and b into out. */
static void
concat(const char *out, const char *a, const char *b)
{
	const char *in[] = {a, b};
	char        buf[4096];
	size_t      n, i;
	FILE       *o, *f;

	assert_non_null(o = fopen(out, "w"));
	for (i = 0; i < 2; i++) {
		assert_non_null(f = fopen(in[i], "r"));
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
			fwrite(buf, 1, n, o);
		fclose(f);
	}
	fclose(o);
}

static void
test_cert_file_days(void **state)
{
	struct tu_task_result r;
	json_t               *c;
	const char *kv[] = {"file", tu_path(dir, "certs/ten.pem"), NULL};
	const char *loose[] = {"file", tu_path(dir, "certs/ten.pem"),
	    "warn_days", "5", "fail_days", "2", NULL};
	const char *tight[] = {"file", tu_path(dir, "certs/ten.pem"),
	    "warn_days", "60", "fail_days", "10", NULL};

	(void)state;
	run(cfg_main, "cert.check", kv, &r);
	assert_string_equal(tu_task_status(r.status), "warn");
	c = json_array_get(json_object_get(r.json, "certificates"), 0);
	/* 10 days from when it was made, seconds ago: 9 whole days. */
	assert_in_range(
	    json_integer_value(json_object_get(c, "days_left")), 9, 10);
	assert_string_equal(
	    json_string_value(json_object_get(c, "subject")), "CN=localhost");
	assert_string_equal(
	    json_string_value(json_array_get(json_object_get(c, "sans"), 0)),
	    "localhost");
	assert_string_equal(
	    json_string_value(json_array_get(json_object_get(c, "sans"), 1)),
	    "127.0.0.1");
	assert_int_equal(
	    strlen(json_string_value(json_object_get(c, "sha256"))), 64);
	tu_task_result_free(&r);
	run(cfg_main, "cert.check", loose, &r);
	assert_string_equal(tu_task_status(r.status), "ok");
	tu_task_result_free(&r);
	run(cfg_main, "cert.check", tight, &r);
	assert_string_equal(tu_task_status(r.status), "fail");
	tu_task_result_free(&r);
}

static void
test_cert_file_expired_and_future(void **state)
{
	struct tu_task_result r;
	json_t               *c;
	const char *exp[] = {"file", tu_path(dir, "certs/expired.pem"), NULL};
	const char *fut[] = {"file", tu_path(dir, "certs/future.pem"), NULL};
	const char *both[] = {"file", tu_path(dir, "certs/bundle.pem"), NULL};

	(void)state;
	run(cfg_main, "cert.check", exp, &r);
	assert_string_equal(tu_task_status(r.status), "fail");
	c = json_array_get(json_object_get(r.json, "certificates"), 0);
	assert_string_equal(
	    json_string_value(json_object_get(c, "reason")), "expired");
	assert_string_equal(json_string_value(json_object_get(c, "not_after")),
	    "2020-01-02T00:00:00Z");
	assert_true(json_integer_value(json_object_get(c, "days_left")) < 0);
	tu_task_result_free(&r);
	run(cfg_main, "cert.check", fut, &r);
	assert_string_equal(tu_task_status(r.status), "fail");
	c = json_array_get(json_object_get(r.json, "certificates"), 0);
	assert_string_equal(
	    json_string_value(json_object_get(c, "reason")), "not yet valid");
	tu_task_result_free(&r);
	/* Two certificates: each reported, the worst (second) decides. */
	run(cfg_main, "cert.check", both, &r);
	assert_string_equal(tu_task_status(r.status), "fail");
	assert_int_equal(
	    json_array_size(json_object_get(r.json, "certificates")), 2);
	assert_int_equal(
	    json_integer_value(json_object_get(r.json, "worst")), 1);
	assert_non_null(strstr(r.summary, "CN=expired.test"));
	tu_task_result_free(&r);
}

static void
test_cert_file_refused(void **state)
{
	const char *outside[] = {"file", tu_path(dir, "outside/ten.pem"), NULL};
	const char *link[] = {"file", tu_path(dir, "certs/link.pem"), NULL};
	const char *dirlink[] = {
	    "file", tu_path(dir, "certs/out/ten.pem"), NULL};
	const char *dots[] = {
	    "file", tu_path(dir, "certs/../outside/ten.pem"), NULL};
	const char *rel[] = {"file", "certs/ten.pem", NULL};
	const char *junk[] = {"file", tu_path(dir, "certs/junk.pem"), NULL};
	const char *broken[] = {"file", tu_path(dir, "certs/broken.pem"), NULL};
	const char *missing[] = {"file", tu_path(dir, "certs/none.pem"), NULL};
	const char *two[] = {
	    "file", tu_path(dir, "certs/ten.pem"), "host", "localhost", NULL};
	const char *order[] = {"file", tu_path(dir, "certs/ten.pem"),
	    "warn_days", "5", "fail_days", "9", NULL};

	(void)state;
	tu_task_expect_error(
	    bin, cfg_main, "cert.check", outside, "not under certs.dirs");
	tu_task_expect_error(
	    bin, cfg_main, "cert.check", link, "outside certs.dirs");
	tu_task_expect_error(
	    bin, cfg_main, "cert.check", dirlink, "outside certs.dirs");
	tu_task_expect_error(
	    bin, cfg_main, "cert.check", dots, "parameter 'file'");
	tu_task_expect_error(
	    bin, cfg_main, "cert.check", rel, "parameter 'file'");
	tu_task_expect_error(
	    bin, cfg_main, "cert.check", junk, "no PEM certificate found");
	tu_task_expect_error(
	    bin, cfg_main, "cert.check", broken, "does not parse");
	tu_task_expect_error(
	    bin, cfg_main, "cert.check", missing, "No such file");
	tu_task_expect_error(
	    bin, cfg_main, "cert.check", two, "either parameter 'file'");
	tu_task_expect_error(
	    bin, cfg_main, "cert.check", order, "parameter 'fail_days'");
}

static void
test_cert_remote(void **state)
{
	struct tu_task_result r;
	json_t               *c;
	char                  p[16], other[16];
	const char           *kv[] = {"host", "127.0.0.1", "port", p, NULL};
	const char *denied[] = {"host", "127.0.0.1", "port", other, NULL};
	const char *evil[] = {"host", "127.0.0.1/x?", "port", p, NULL};
	const char *down[] = {"host", "localhost", "port", p, NULL};

	(void)state;
	snprintf(p, sizeof(p), "%d", tls_port);
	snprintf(other, sizeof(other), "%d", port);
	run(cfg_tls, "cert.check", kv, &r);
	assert_string_equal(tu_task_status(r.status), "warn");
	c = json_array_get(json_object_get(r.json, "certificates"), 0);
	/* 10 days from when it was made, seconds ago: 9 whole days. */
	assert_in_range(
	    json_integer_value(json_object_get(c, "days_left")), 9, 10);
	assert_true(json_is_true(json_object_get(c, "name_match")));
	assert_string_equal(
	    json_string_value(json_object_get(c, "subject")), "CN=localhost");
	tu_task_result_free(&r);
	tu_task_expect_error(
	    bin, cfg_tls, "cert.check", denied, "to http.allow");
	tu_task_expect_error(
	    bin, cfg_tls, "cert.check", evil, "parameter 'host'");
	/* localhost is allowed only as 127.0.0.1 here. */
	tu_task_expect_error(
	    bin, cfg_tls, "cert.check", down, "is not allowed");
}

/* 1 when something accepts on 127.0.0.1:tls_port. */
static int
tls_up(void *arg)
{
	struct sockaddr_in sin;
	int                fd, ok;

	(void)arg;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)tls_port);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return (0);
	ok = connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
	close(fd);
	return (ok);
}

static int
setup(void **state)
{
	char  yaml[2048], sub[PATH_MAX], u[128];
	char *argv[16], acc[16];

	(void)state;
	memset(bigjson, 0, sizeof(bigjson));
	bigjson[0] = '[';
	for (size_t i = 1; i + 3 < sizeof(bigjson); i += 2)
		memcpy(bigjson + i, "1,", 2);
	bigjson[strlen(bigjson) - 1] = ']';
	snprintf(log_path, sizeof(log_path), "%s/openssl.log", dir);
	tu_task_bin(VSM_TASK_DIR, "vsm-task-http", bin, sizeof(bin));
	if ((srv = tu_http_start(routes, sizeof(routes) / sizeof(routes[0]))) ==
	    NULL)
		return (-1);
	port = tu_http_port(srv);
	tu_loopback_url(u, sizeof(u));
	tls_port = atoi(strrchr(u, ':') + 1);
	if (mkdir(tu_path(dir, "certs"), 0700) == -1 ||
	    mkdir(tu_path(dir, "outside"), 0700) == -1)
		return (-1);
	make_self_signed("ten", "10");
	make_dated(
	    "expired", "expired.test", "20200101000000Z", "20200102000000Z");
	make_dated(
	    "future", "future.test", "20990101000000Z", "20991231000000Z");
	concat(tu_path(dir, "certs/bundle.pem"), tu_path(dir, "certs/ten.pem"),
	    tu_path(dir, "certs/expired.pem"));
	concat(tu_path(dir, "outside/ten.pem"), tu_path(dir, "certs/ten.pem"),
	    tu_path(dir, "certs/ten.pem"));
	tu_put(tu_path(dir, "certs/junk.pem"), "not a certificate\n", 0);
	tu_put(tu_path(dir, "certs/broken.pem"),
	    "-----BEGIN CERTIFICATE-----\nAAAA!!!!\n"
	    "-----END CERTIFICATE-----\n",
	    0);
	if (symlink(tu_path(dir, "outside/ten.pem"),
	        tu_path(dir, "certs/link.pem")) == -1 ||
	    symlink(tu_path(dir, "outside"), tu_path(dir, "certs/out")) == -1)
		return (-1);
	/* Configs: main (a prefix with a path), none, bare (host only). */
	snprintf(yaml, sizeof(yaml),
	    "http:\n  allow: [\"http://127.0.0.1:%d/ok/\"]\n"
	    "certs:\n  dirs: [\"%s/certs\"]\n",
	    port, dir);
	snprintf(sub, sizeof(sub), "%s/main", dir);
	if (mkdir(sub, 0700) == -1 ||
	    tu_task_config(sub, yaml, cfg_main, sizeof(cfg_main)) == -1)
		return (-1);
	snprintf(sub, sizeof(sub), "%s/none", dir);
	if (mkdir(sub, 0700) == -1 ||
	    tu_task_config(sub, NULL, cfg_none, sizeof(cfg_none)) == -1)
		return (-1);
	snprintf(yaml, sizeof(yaml),
	    "http:\n  allow: [\"http://127.0.0.1:%d\"]\n", port);
	snprintf(sub, sizeof(sub), "%s/bare", dir);
	if (mkdir(sub, 0700) == -1 ||
	    tu_task_config(sub, yaml, cfg_bare, sizeof(cfg_bare)) == -1)
		return (-1);
	snprintf(yaml, sizeof(yaml),
	    "http:\n  allow: [\"http://127.0.0.1:%d/ok\"]\n", port);
	snprintf(sub, sizeof(sub), "%s/path", dir);
	if (mkdir(sub, 0700) == -1 ||
	    tu_task_config(sub, yaml, cfg_path, sizeof(cfg_path)) == -1)
		return (-1);
	snprintf(yaml, sizeof(yaml),
	    "http:\n  allow: [\"https://127.0.0.1:%d/\"]\n", tls_port);
	snprintf(sub, sizeof(sub), "%s/tls", dir);
	if (mkdir(sub, 0700) == -1 ||
	    tu_task_config(sub, yaml, cfg_tls, sizeof(cfg_tls)) == -1)
		return (-1);
	/* A real TLS endpoint with the ten-day certificate. */
	snprintf(acc, sizeof(acc), "%d", tls_port);
	argv[0] = (char *)OPENSSL;
	argv[1] = (char *)"s_server";
	argv[2] = (char *)"-accept";
	argv[3] = acc;
	argv[4] = (char *)"-cert";
	argv[5] = (char *)tu_path(dir, "certs/ten.pem");
	argv[6] = (char *)"-key";
	argv[7] = (char *)tu_path(dir, "certs/ten.key");
	argv[8] = (char *)"-www";
	argv[9] = (char *)"-quiet";
	argv[10] = NULL;
	if ((tls_pid = tu_spawn_logged(argv, log_path)) == -1 ||
	    !tu_wait(tls_up, NULL, 20000))
		return (-1);
	return (0);
}

static int
teardown(void **state)
{
	(void)state;
	if (tls_pid > 0) {
		kill(tls_pid, SIGTERM);
		waitpid(tls_pid, NULL, 0);
	}
	tu_http_stop(srv);
	return (0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_http_json_value_ok),
	    cmocka_unit_test(test_http_json_value_thresholds),
	    cmocka_unit_test(test_http_json_pointer_escapes),
	    cmocka_unit_test(test_http_status_and_latency),
	    cmocka_unit_test(test_http_body_cap),
	    cmocka_unit_test(test_http_redirects),
	    cmocka_unit_test(test_http_refused_urls),
	    cmocka_unit_test(test_http_prefix_boundary),
	    cmocka_unit_test(test_http_tls_verified),
	    cmocka_unit_test(test_cert_file_days),
	    cmocka_unit_test(test_cert_file_expired_and_future),
	    cmocka_unit_test(test_cert_file_refused),
	    cmocka_unit_test(test_cert_remote),
	};
	return (
	    tu_task_main_fx("modhttp", tests, sizeof(tests) / sizeof(tests[0]),
	        setup, teardown, dir, sizeof(dir)));
}
