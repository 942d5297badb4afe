/*
 * test_mod_security.c: auth.failed_logins on a generated auth log, and
 * security.audit with scripts standing in for cargo audit, npm audit and
 * trivy (none is installed) that print canned reports in each tool's
 * real JSON format; the module and its parsing are the real ones. The
 * hostile cases: a user name that names another address, thresholds
 * upside down, output that is not JSON, a tool not in the allowlist.
 */
#include <sys/stat.h>

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"
#include "tu_task.h"

static char dir[PATH_MAX];

#define P(...) tu_path(dir, __VA_ARGS__)

static void
config(const char *extra, char *cfg)
{
	assert_int_equal(tu_task_config(dir, extra, cfg, PATH_MAX), 0);
}

static void
run(const char *cfg, const char *module, const char *const *kv,
    struct tu_task_result *r)
{
	assert_int_equal(tu_task_run(VSM_TASK_PATH, cfg, module, kv, 0, r), 0);
}

/* A syslog ("May  1 12:00:00") or ISO 8601 UTC stamp, seconds ago. */
static const char *
stamp(long seconds, int iso)
{
	static char buf[4][48];
	static int  k;
	time_t      t = time(NULL) - seconds;
	struct tm   tm;

	k = (k + 1) % 4;
	if (iso) {
		gmtime_r(&t, &tm);
		strftime(buf[k], sizeof(buf[k]),
		    "%Y-%m-%dT%H:%M:%S.123456+00:00", &tm);
	} else {
		localtime_r(&t, &tm);
		strftime(buf[k], sizeof(buf[k]), "%b %e %H:%M:%S", &tm);
	}
	return (buf[k]);
}

static void
write_auth_log(void)
{
	FILE *f = fopen(P("auth.log"), "w");
	int   i;

	assert_non_null(f);
	for (i = 0; i < 5; i++) /* two days old: outside since */
		fprintf(f,
		    "%s host sshd[90]: Failed password for root from "
		    "10.0.0.9 port 22 ssh2\n",
		    stamp(2 * 86400, 0));
	fprintf(f,
	    "%s host sshd[100]: Invalid user admin from 203.0.113.5 "
	    "port 2222\n",
	    stamp(900, 0));
	for (i = 0; i < 12; i++)
		fprintf(f,
		    "%s host sshd[100]: Failed password for invalid user "
		    "admin from 203.0.113.5 port 2222 ssh2\n",
		    stamp(800 - i, 0));
	fprintf(f,
	    "%s host sshd[100]: pam_unix(sshd:auth): authentication "
	    "failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.5  "
	    "user=root\n",
	    stamp(700, 0));
	for (i = 0; i < 3; i++)
		fprintf(f,
		    "%s host sshd[200]: Failed password for root from "
		    "198.51.100.7 port 22 ssh2\n",
		    stamp(600, 1));
	fprintf(f,
	    "%s host sshd[200]: message repeated 4 times: [ Failed password "
	    "for root from 198.51.100.7 port 22 ssh2]\n",
	    stamp(590, 1));
	fprintf(f,
	    "%s host sshd[200]: Failed password for root from 198.51.100.7 "
	    "port 22 ssh2\n",
	    stamp(3 * 86400, 1));
	fprintf(f,
	    "%s host su: pam_unix(su:auth): authentication failure; "
	    "logname=bob uid=1000 euid=0 tty=pts/0 ruser=bob rhost=192.0.2.44  "
	    "user=root\n",
	    stamp(500, 0));
	/* The user name claims another address: the real one counts. */
	fprintf(f,
	    "%s host sshd[300]: Failed password for invalid user x from "
	    "6.6.6.6 port 1 from 192.0.2.99 port 22 ssh2\n",
	    stamp(400, 0));
	/* An application's own line (the guide's "Failed login"). */
	fprintf(f, "%s app[9]: Failed login attempt from 198.51.100.20\n",
	    stamp(360, 1));
	/* Not an address: not counted. */
	fprintf(f,
	    "%s host sshd[300]: Failed password for x from evil.example "
	    "port 22 ssh2\n",
	    stamp(350, 0));
	fprintf(f,
	    "%s host sshd[300]: Accepted publickey for deploy from "
	    "192.0.2.10 port 5000 ssh2\n",
	    stamp(300, 0));
	fclose(f);
}

static void
test_failed_logins_per_source(void **state)
{
	static const char *const kv[] = {"top", "2", NULL};
	static const char *const strict[] = {"fail", "13", NULL};
	static const char *const upside[] = {"warn", "9", "fail", "3", NULL};
	struct tu_task_result    r;
	char                     cfg[PATH_MAX], y[PATH_MAX * 2];
	json_t                  *top, *first;

	(void)state;
	write_auth_log();
	snprintf(y, sizeof(y), "logs:\n  auth_log: %s\n", P("auth.log"));
	config(y, cfg);
	run(cfg, "auth.failed_logins", kv, &r);
	assert_string_equal(tu_task_status(r.status), "warn");
	assert_int_equal(tu_jint(r.json, "max_per_source"), 13);
	assert_int_equal(tu_jint(r.json, "sources"), 5);
	/* 12 + 1 + 7 + 1 + 1 + 1 */
	assert_int_equal(tu_jint(r.json, "events"), 23);
	assert_int_equal(tu_jint(r.json, "lines_before_since"), 6);
	top = json_object_get(r.json, "top");
	assert_int_equal(json_array_size(top), 2);
	first = json_array_get(top, 0);
	assert_string_equal(
	    json_string_value(json_object_get(first, "address")),
	    "203.0.113.5");
	assert_int_equal(tu_jint(first, "failed"), 12);
	assert_int_equal(tu_jint(first, "invalid_user"), 1);
	assert_int_equal(tu_jint(first, "pam"), 0); /* sshd's own pam line */
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(top, 1), "address")),
	    "198.51.100.7");
	assert_int_equal(tu_jint(json_array_get(top, 1), "total"), 7);
	tu_task_result_free(&r);

	run(cfg, "auth.failed_logins", strict, &r);
	assert_string_equal(tu_task_status(r.status), "fail");
	top = json_object_get(r.json, "top");
	{
		size_t i;
		int    seen = 0;

		for (i = 0; i < json_array_size(top); i++) {
			const char *a = json_string_value(
			    json_object_get(json_array_get(top, i), "address"));
			assert_string_not_equal(a, "6.6.6.6");
			seen += strcmp(a, "192.0.2.99") == 0;
		}
		assert_int_equal(seen, 1);
	}
	tu_task_result_free(&r);

	tu_task_expect_error(
	    VSM_TASK_PATH, cfg, "auth.failed_logins", upside, "'warn'");
	snprintf(y, sizeof(y), "logs:\n  auth_log: %s\n", P("no-such.log"));
	config(y, cfg);
	tu_task_expect_error(
	    VSM_TASK_PATH, cfg, "auth.failed_logins", NULL, "no-such.log");
}

static const char npm_report[] =
    "{\"auditReportVersion\": 2, \"vulnerabilities\": {\"lodash\": "
    "{\"name\": \"lodash\", \"severity\": \"high\", \"isDirect\": true, "
    "\"via\": [], \"range\": \"<4.17.21\", \"fixAvailable\": true}, "
    "\"minimist\": {\"name\": \"minimist\", \"severity\": \"critical\", "
    "\"via\": [], \"fixAvailable\": true}}, \"metadata\": "
    "{\"vulnerabilities\": {\"info\": 0, \"low\": 1, \"moderate\": 0, "
    "\"high\": 1, \"critical\": 1, \"total\": 3}, \"dependencies\": "
    "{\"prod\": 10, \"dev\": 0, \"total\": 10}}}";

static const char cargo_report[] =
    "{\"database\": {\"advisory-count\": 500}, \"lockfile\": "
    "{\"dependency-count\": 42}, \"settings\": {}, \"vulnerabilities\": "
    "{\"found\": true, \"count\": 2, \"list\": [{\"advisory\": {\"id\": "
    "\"RUSTSEC-2020-0071\", \"package\": \"time\", \"title\": "
    "\"Potential segfault\", \"cvss\": "
    "\"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H\"}, \"package\": "
    "{\"name\": \"time\", \"version\": \"0.1.43\"}}, {\"advisory\": "
    "{\"id\": \"RUSTSEC-2020-0159\", \"package\": \"chrono\", \"cvss\": "
    "\"CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:L/I:N/A:N\"}, \"package\": "
    "{\"name\": \"chrono\", \"version\": \"0.4.19\"}}]}, \"warnings\": {}}";

static const char trivy_report[] =
    "{\"SchemaVersion\": 2, \"ArtifactName\": \"/srv/app\", "
    "\"ArtifactType\": \"filesystem\", \"Results\": [{\"Target\": "
    "\"package-lock.json\", \"Class\": \"lang-pkgs\", \"Type\": \"npm\", "
    "\"Vulnerabilities\": [{\"VulnerabilityID\": \"CVE-2019-1549\", "
    "\"PkgName\": \"openssl\", \"Severity\": \"MEDIUM\"}, "
    "{\"VulnerabilityID\": \"CVE-2019-1563\", \"PkgName\": \"openssl\", "
    "\"Severity\": \"LOW\"}]}, {\"Target\": \"Cargo.lock\"}]}";

/* DIR/NAME: a script that prints report and exits code. */
static void
stand_in(const char *name, const char *report, int code)
{
	char text[8192];

	snprintf(text, sizeof(text),
	    "#!/bin/sh\ncat <<'EOF'\n%s\nEOF\nexit %d\n", report, code);
	tu_put(P("%s", name), text, 0755);
}

static json_t *
counts(struct tu_task_result *r)
{
	json_t *c = json_object_get(r->json, "counts");

	assert_non_null(c);
	return (c);
}

static void
test_audit_counts_by_severity(void **state)
{
	static const char *const npm[] = {"tool", "npm-audit", NULL};
	static const char *const cargo[] = {"tool", "cargo-audit", NULL};
	static const char *const cargo_crit[] = {
	    "tool", "cargo-audit", "fail_on", "critical", NULL};
	static const char *const trivy[] = {"tool", "trivy", NULL};
	static const char *const trivy_med[] = {
	    "tool", "trivy", "fail_on", "medium", NULL};
	struct tu_task_result r;
	char                  cfg[PATH_MAX], y[PATH_MAX * 4];

	(void)state;
	stand_in("npm", npm_report, 1); /* npm exits 1 on findings */
	stand_in("cargo", cargo_report, 1);
	stand_in("trivy", trivy_report, 0);
	snprintf(y, sizeof(y),
	    "commands:\n"
	    "  npm-audit: [%s, audit, --json, --prefix, /srv/app]\n"
	    "  cargo-audit: [%s, audit, --json]\n"
	    "  trivy: [%s, fs, -f, json, /srv/app]\n",
	    P("npm"), P("cargo"), P("trivy"));
	config(y, cfg);

	run(cfg, "security.audit", npm, &r);
	assert_string_equal(tu_task_status(r.status), "fail");
	assert_int_equal(tu_jint(counts(&r), "critical"), 1);
	assert_int_equal(tu_jint(counts(&r), "high"), 1);
	assert_int_equal(tu_jint(counts(&r), "low"), 1);
	assert_int_equal(tu_jint(r.json, "total"), 3);
	assert_int_equal(
	    json_array_size(json_object_get(r.json, "findings")), 2);
	tu_task_result_free(&r);

	/* CVSS 7.5 (high) and 2.5 (low), from the vectors. */
	run(cfg, "security.audit", cargo, &r);
	assert_string_equal(tu_task_status(r.status), "fail");
	assert_int_equal(tu_jint(counts(&r), "high"), 1);
	assert_int_equal(tu_jint(counts(&r), "low"), 1);
	tu_task_result_free(&r);
	run(cfg, "security.audit", cargo_crit, &r);
	assert_string_equal(tu_task_status(r.status), "warn");
	tu_task_result_free(&r);

	run(cfg, "security.audit", trivy, &r);
	assert_string_equal(tu_task_status(r.status), "warn");
	assert_int_equal(tu_jint(counts(&r), "moderate"), 1);
	assert_int_equal(tu_jint(counts(&r), "low"), 1);
	tu_task_result_free(&r);
	run(cfg, "security.audit", trivy_med, &r);
	assert_string_equal(tu_task_status(r.status), "fail");
	tu_task_result_free(&r);

	/* A clean report. */
	stand_in("trivy",
	    "{\"SchemaVersion\": 2, \"Results\": [{\"Target\": \"x\"}]}", 0);
	run(cfg, "security.audit", trivy, &r);
	assert_string_equal(tu_task_status(r.status), "ok");
	assert_int_equal(tu_jint(r.json, "total"), 0);
	tu_task_result_free(&r);
}

static void
test_audit_refusals(void **state)
{
	static const char *const npm[] = {"tool", "npm-audit", NULL};
	static const char *const trivy[] = {"tool", "trivy", NULL};
	static const char *const bogus[] = {"tool", "sh", NULL};
	static const char *const upside[] = {
	    "tool", "npm-audit", "warn_on", "critical", "fail_on", "low", NULL};
	char cfg[PATH_MAX], y[PATH_MAX * 2];

	(void)state;
	stand_in("garbage", "npm ERR! this is not JSON", 1);
	snprintf(y, sizeof(y), "commands:\n  npm-audit: [%s, audit, --json]\n",
	    P("garbage"));
	config(y, cfg);
	tu_task_expect_error(
	    VSM_TASK_PATH, cfg, "security.audit", npm, "no npm-audit JSON");
	tu_task_expect_error(
	    VSM_TASK_PATH, cfg, "security.audit", trivy, "no command 'trivy'");
	tu_task_expect_error(
	    VSM_TASK_PATH, cfg, "security.audit", bogus, "'tool'");
	tu_task_expect_error(
	    VSM_TASK_PATH, cfg, "security.audit", upside, "'warn_on'");
	/* JSON of another shape is not taken for a clean report. */
	stand_in("garbage", "{\"ok\": true}", 0);
	tu_task_expect_error(
	    VSM_TASK_PATH, cfg, "security.audit", npm, "no npm-audit JSON");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_failed_logins_per_source),
	    cmocka_unit_test(test_audit_counts_by_severity),
	    cmocka_unit_test(test_audit_refusals),
	};
	return (tu_task_main("modsec", tests, sizeof(tests) / sizeof(tests[0]),
	    dir, sizeof(dir)));
}
