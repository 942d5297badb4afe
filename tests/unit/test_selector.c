/*
 * test_selector.c: host selectors (selector.h): a table of selectors
 * matched against hosts, bad selectors with the column of the error, the
 * caps, and the canonical form.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "selector.h"

static const struct vsm_label db_prod[] = {
    {"role", "db"},
    {"env", "prod"},
    {"backup", "yes"},
};
static const struct vsm_label cache_staging[] = {
    {"role", "cache"},
    {"env", "staging"},
    {"version", "1.2+b3"},
};
static const struct vsm_label web[] = {
    {"role", "web"},
};

struct host {
	const char             *name;
	const struct vsm_label *labels;
	size_t                  nlabels;
};

static const struct host h_db = {"db-01", db_prod, 3};
static const struct host h_cache = {"cache-1", cache_staging, 3};
static const struct host h_web = {"web-7", web, 1};
static const struct host h_bare = {"bare", NULL, 0};

static const struct match_case {
	const char        *sel;
	const struct host *host;
	int                want;
} match_cases[] = {
    {"all", &h_db, 1},
    {"all", &h_bare, 1},
    {" all ", &h_web, 1},
    {"name=db-*", &h_db, 1},
    {"name=db-*", &h_web, 0},
    {"name=db-0[12]", &h_db, 1},
    {"name=db-0[!1]", &h_db, 0},
    {"name=?ache-1", &h_cache, 1},
    {"name=db-01", &h_db, 1},
    {"name=db-0", &h_db, 0},
    {"name!=db-*", &h_web, 1},
    {"name!=db-*", &h_db, 0},
    {"name in (db-*, cache-*)", &h_cache, 1},
    {"name in (db-*, cache-*)", &h_web, 0},
    {"name notin (db-*)", &h_web, 1},
    {"role=db", &h_db, 1},
    {"role=db", &h_cache, 0},
    {"role=db", &h_bare, 0},
    {"role==db", &h_db, 1},
    {"role=db,env=prod", &h_db, 1},
    {"role=db,env=staging", &h_db, 0},
    {"role=cache,env=prod", &h_cache, 0},
    {"env!=prod", &h_db, 0},
    {"env!=prod", &h_cache, 1},
    {"env!=prod", &h_web, 1}, /* no env label: not prod */
    {"role in (db,cache)", &h_db, 1},
    {"role in (db,cache)", &h_cache, 1},
    {"role in (db,cache)", &h_web, 0},
    {"role in (db,cache)", &h_bare, 0},
    {"role notin (db,cache)", &h_web, 1},
    {"role notin (db,cache)", &h_bare, 1},
    {"role notin (db,cache)", &h_db, 0},
    {"backup", &h_db, 1},
    {"backup", &h_web, 0},
    {"!backup", &h_web, 1},
    {"!backup", &h_db, 0},
    {"  role = db ,  env in ( prod , staging ) ", &h_db, 1},
    {"role=db,name=db-*,env notin (staging),backup", &h_db, 1},
    {"role=db,name=db-*,env notin (prod),backup", &h_db, 0},
    {"version=1.2+b3", &h_cache, 1},
    {"k8s.io/zone=a", &h_db, 0},
};

static void
test_match_table(void **state)
{
	struct vsm_selector *sel;
	struct vsm_err       err;
	size_t               i;
	int                  got, bad = 0;

	for (i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
		const struct match_case *c = &match_cases[i];

		if (vsm_selector_parse(c->sel, &sel, &err) == -1) {
			print_error("'%s': %s\n", c->sel, err.msg);
			bad++;
			continue;
		}
		got = vsm_selector_match(
		    sel, c->host->name, c->host->labels, c->host->nlabels);
		if (got != c->want) {
			print_error("'%s' on %s: got %d, want %d\n", c->sel,
			    c->host->name, got, c->want);
			bad++;
		}
		vsm_selector_free(sel);
	}
	assert_int_equal(bad, 0);
}

static const struct bad_case {
	const char *sel;
	int         column;
	const char *needle;
} bad_cases[] = {
    {"", 1, "empty selector"},
    {"   ", 4, "empty selector"},
    {"role=", 6, "expected a value after '='"},
    {"role!= ", 8, "expected a value after '!='"},
    {"role=db,", 9, "expected a term after ','"},
    {"role=db, ", 10, "expected a term after ','"},
    {"role=db env=prod", 9, "expected ',' or the end"},
    {"role in db", 9, "expected '(' after 'in'"},
    {"role notin db", 12, "expected '(' after 'notin'"},
    {"role in (db,cache", 18, "unterminated list"},
    {"role in (db cache)", 13, "expected ',' or ')'"},
    {"role in ()", 10, "expected a value"},
    {"role in (db,)", 13, "expected a value"},
    {"role in (db;cache)", 12, "invalid character ';'"},
    {"role ~ db", 6, "expected '=', '!=', 'in' or 'notin' after 'role'"},
    {"role db", 6, "after 'role'"},
    {"all,role=db", 1, "'all' cannot be combined"},
    {"role=db,all", 9, "'all' cannot be combined"},
    {"=db", 1, "unexpected '='"},
    {",role=db", 1, "unexpected ','"},
    {"name", 5, "after 'name'"},
    {"!name", 6, "after 'name'"},
    {"!role=db", 6, "expected ',' or the end after '!role'"},
    {"role=d*", 7, "invalid character '*' in label value"},
    {"role=a=b", 7, "invalid character '='"},
    {"-role=db", 1, "starts with a letter or digit"},
    {"name=db-*)", 10, "expected ',' or the end"},
};

/* err.msg is "column N: ..." with N as expected and the needle in it. */
static int
check_bad(const char *sel, int column, const char *needle)
{
	struct vsm_selector *s = (struct vsm_selector *)(uintptr_t)1;
	struct vsm_err       err;
	char                 prefix[32];

	memset(&err, 0, sizeof(err));
	if (vsm_selector_parse(sel, &s, &err) != -1 || s != NULL) {
		print_error("'%s': parsed, want an error\n", sel);
		vsm_selector_free(s);
		return (1);
	}
	snprintf(prefix, sizeof(prefix), "column %d: ", column);
	if (strncmp(err.msg, prefix, strlen(prefix)) != 0 ||
	    strstr(err.msg, needle) == NULL) {
		print_error("'%s': got '%s', want '%s...%s'\n", sel, err.msg,
		    prefix, needle);
		return (1);
	}
	return (0);
}

static void
test_bad_selectors_name_the_column(void **state)
{
	size_t i;
	int    bad = 0;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++)
		bad += check_bad(
		    bad_cases[i].sel, bad_cases[i].column, bad_cases[i].needle);
	assert_int_equal(bad, 0);
}

static void
test_caps(void **state)
{
	char   buf[4 * VSM_SELECTOR_MAX], key[VSM_LABEL_MAX + 2];
	size_t i, off = 0;

	/* Too long as a whole. */
	memset(buf, 'a', VSM_SELECTOR_MAX + 1);
	buf[VSM_SELECTOR_MAX + 1] = '\0';
	assert_int_equal(
	    check_bad(buf, VSM_SELECTOR_MAX + 1, "longer than 1024"), 0);

	/* A label key of 64 characters; 63 is fine. */
	memset(key, 'k', VSM_LABEL_MAX + 1);
	key[VSM_LABEL_MAX + 1] = '\0';
	snprintf(buf, sizeof(buf), "%s=v", key);
	assert_int_equal(check_bad(buf, 1, "longer than 63"), 0);
	key[VSM_LABEL_MAX] = '\0';
	snprintf(buf, sizeof(buf), "%s=v", key);
	{
		struct vsm_selector *s;
		struct vsm_err       err;

		assert_int_equal(vsm_selector_parse(buf, &s, &err), 0);
		vsm_selector_free(s);
	}

	/* 33 terms: the error is at the 33rd. */
	for (i = 0; i < VSM_SELECTOR_TERMS + 1; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off,
		    "%sk%02zu=v", i ? "," : "", i);
	assert_int_equal(check_bad(buf, (int)(VSM_SELECTOR_TERMS * 6 + 1),
	                     "more than 32 terms"),
	    0);

	/* More than 128 values in lists. */
	off = (size_t)snprintf(buf, sizeof(buf), "k in (");
	for (i = 0; i < VSM_SELECTOR_VALUES + 1; i++)
		off += (size_t)snprintf(
		    buf + off, sizeof(buf) - off, "%s%zu", i ? "," : "", i);
	snprintf(buf + off, sizeof(buf) - off, ")");
	{
		struct vsm_selector *s;
		struct vsm_err       err;

		assert_int_equal(vsm_selector_parse(buf, &s, &err), -1);
		assert_non_null(strstr(err.msg, "more than 128 values"));
	}
}

static void
test_format_is_canonical_and_reparses(void **state)
{
	static const char *const cases[][2] = {
	    {"  role = db ,  env in ( prod , staging ) ",
	        "role=db,env in (prod,staging)"},
	    {"all", "all"},
	    {"name=db-*,env!=prod,!backup,x notin (a),y",
	        "name=db-*,env!=prod,!backup,x notin (a),y"},
	    {"role==db", "role=db"},
	};
	struct vsm_selector *s, *s2;
	struct vsm_err       err;
	char                 buf[256], buf2[256];
	size_t               i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(vsm_selector_parse(cases[i][0], &s, &err), 0);
		assert_int_equal(vsm_selector_format(s, buf, sizeof(buf)), 0);
		assert_string_equal(buf, cases[i][1]);
		assert_int_equal(vsm_selector_parse(buf, &s2, &err), 0);
		assert_int_equal(
		    vsm_selector_format(s2, buf2, sizeof(buf2)), 0);
		assert_string_equal(buf, buf2);
		assert_int_equal(
		    vsm_selector_is_all(s), strcmp(cases[i][0], "all") == 0);
		vsm_selector_free(s);
		vsm_selector_free(s2);
	}
	/* A buffer too small is reported, and still terminated. */
	assert_int_equal(vsm_selector_parse("role=db,env=prod", &s, &err), 0);
	assert_int_equal(vsm_selector_format(s, buf, 8), -1);
	assert_true(strlen(buf) < 8);
	vsm_selector_free(s);
}

static void
test_syntax_helpers(void **state)
{
	assert_true(vsm_name_valid("db-01"));
	assert_true(vsm_name_valid("a.b_c-d"));
	assert_false(vsm_name_valid(""));
	assert_false(vsm_name_valid("-db"));
	assert_false(vsm_name_valid("db 1"));
	assert_false(vsm_name_valid("db/1"));
	assert_true(vsm_label_key_valid("k8s.io/zone"));
	assert_false(vsm_label_key_valid(""));
	assert_false(vsm_label_key_valid("a=b"));
	assert_true(vsm_label_value_valid(""));
	assert_true(vsm_label_value_valid("1.2+b3"));
	assert_false(vsm_label_value_valid("a,b"));
	assert_false(vsm_label_value_valid("a b"));
	vsm_selector_free(NULL);
}

static void
test_module_names(void **state)
{
	char long_name[VSM_MODULE_NAME_MAX + 2];

	assert_true(vsm_module_name_valid("sys.disk"));
	assert_true(vsm_module_name_valid("exec.*"));
	assert_true(vsm_module_name_valid("exec.certbot-renew"));
	assert_true(vsm_module_name_valid("exec.1x_y"));
	assert_true(vsm_module_name_valid("ping"));
	assert_false(vsm_module_name_valid(""));
	assert_false(vsm_module_name_valid("1sys.disk"));
	assert_false(vsm_module_name_valid(".sys"));
	assert_false(vsm_module_name_valid("sys."));
	assert_false(vsm_module_name_valid("sys..disk"));
	assert_false(vsm_module_name_valid("exec*"));
	assert_false(vsm_module_name_valid("exec.*.x"));
	assert_false(vsm_module_name_valid("exec.a*"));
	assert_false(vsm_module_name_valid("*"));
	assert_false(vsm_module_name_valid("sys disk"));
	assert_false(vsm_module_name_valid("sys;rm"));
	assert_false(vsm_module_name_valid("sys/disk"));
	assert_false(vsm_module_name_valid("sys.d\xc3\xa9"));
	/* 80 characters at most. */
	memset(long_name, 'a', VSM_MODULE_NAME_MAX);
	long_name[VSM_MODULE_NAME_MAX] = '\0';
	assert_true(vsm_module_name_valid(long_name));
	long_name[VSM_MODULE_NAME_MAX] = 'a';
	long_name[VSM_MODULE_NAME_MAX + 1] = '\0';
	assert_false(vsm_module_name_valid(long_name));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_match_table),
	    cmocka_unit_test(test_bad_selectors_name_the_column),
	    cmocka_unit_test(test_caps),
	    cmocka_unit_test(test_format_is_canonical_and_reparses),
	    cmocka_unit_test(test_syntax_helpers),
	    cmocka_unit_test(test_module_names),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
