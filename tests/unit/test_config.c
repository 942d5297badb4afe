/*
 * test_config.c: agent.yaml and controller.yaml (config.h): the shipped
 * examples load, defaults apply, every kind of bad file is refused with
 * the right FILE:LINE, write_default round-trips and never overwrites,
 * and the duration, size and URL syntaxes.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"

#define KEY_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

/* The three keys every agent.yaml needs, on lines 1-3. */
#define AGENT_MIN                                                              \
	"name: h1\n"                                                           \
	"controllers: [\"tcp://127.0.0.1:4650\"]\n"                            \
	"controller_key: \"" KEY_B64 "\"\n"

static char tmpdir[PATH_MAX];
static char path[PATH_MAX + 64];

static int
rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return (remove(p));
}

static int
setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vsm-test-config.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return (-1);
	vsm_log_init("test_config", VSM_LOG_ERROR, 0);
	return (0);
}

static int
teardown(void **state)
{
	return (nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS));
}

/* Write text to tmpdir/name with mode; returns the path (static). */
static const char *
put_file(const char *name, const char *text, mode_t mode)
{
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	unlink(path);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
	return (path);
}

/* The source tree, from this file's path. */
static const char *
example(const char *name)
{
	static char buf[PATH_MAX];
	const char *p = strstr(__FILE__, "tests/unit/test_config.c");

	assert_non_null(p);
	snprintf(buf, sizeof(buf), "%.*sdeploy/examples/%s",
	    (int)(p - __FILE__), __FILE__, name);
	return (buf);
}

/* err is "FILE:LINE: ..." and holds needle. */
static int
check_err(
    const char *file, const struct vsm_err *err, int line, const char *needle)
{
	char prefix[PATH_MAX + 32];

	snprintf(prefix, sizeof(prefix), "%s:%d: ", file, line);
	if (strncmp(err->msg, prefix, strlen(prefix)) != 0 ||
	    strstr(err->msg, needle) == NULL) {
		print_error(
		    "got  '%s'\nwant '%s...%s'\n", err->msg, prefix, needle);
		return (1);
	}
	return (0);
}

static int
agent_fails(const char *text, int line, const char *needle)
{
	struct vsm_agent_config *cfg = (void *)1;
	struct vsm_err           err;
	const char              *p = put_file("agent.yaml", text, 0600);

	memset(&err, 0, sizeof(err));
	if (vsm_agent_config_load(p, &cfg, &err) != -1 || cfg != NULL) {
		print_error(
		    "loaded, want '%s' at line %d:\n%s\n", needle, line, text);
		vsm_agent_config_free(cfg);
		return (1);
	}
	return (check_err(p, &err, line, needle));
}

static int
controller_fails(const char *text, int line, const char *needle)
{
	struct vsm_controller_config *cfg = (void *)1;
	struct vsm_err                err;
	const char *p = put_file("controller.yaml", text, 0600);

	memset(&err, 0, sizeof(err));
	if (vsm_controller_config_load(p, &cfg, &err) != -1 || cfg != NULL) {
		print_error(
		    "loaded, want '%s' at line %d:\n%s\n", needle, line, text);
		vsm_controller_config_free(cfg);
		return (1);
	}
	return (check_err(p, &err, line, needle));
}

static void
test_examples_load(void **state)
{
	struct vsm_agent_config      *a;
	struct vsm_controller_config *c;
	const struct vsm_command     *cmd;
	struct vsm_err                err;

	if (vsm_agent_config_load(example("agent.yaml"), &a, &err) == -1)
		fail_msg("%s", err.msg);
	assert_string_equal(a->name, "db-01");
	assert_int_equal(a->nlabels, 3);
	assert_string_equal(a->labels[0].key, "role");
	assert_string_equal(a->labels[0].value, "db");
	assert_int_equal(a->ncontrollers, 2);
	assert_string_equal(a->controllers[1], "tcp://ctl-2.example.net:4650");
	assert_string_equal(a->controller_key_b64, KEY_B64);
	assert_int_equal(a->controller_key[31], 31);
	assert_int_equal(a->ncommands, 5);
	assert_non_null(cmd = vsm_agent_command_find(a, "logrotate"));
	assert_int_equal(cmd->argc, 2);
	assert_string_equal(cmd->argv[0], "/usr/sbin/logrotate");
	assert_null(cmd->argv[2]);
	assert_int_equal(cmd->nparams, 0);
	assert_null(cmd->ok_codes);
	assert_non_null(cmd = vsm_agent_command_find(a, "certbot-renew"));
	assert_int_equal(cmd->timeout_ms, 600000);
	assert_int_equal(cmd->nparams, 0);
	assert_non_null(cmd = vsm_agent_command_find(a, "journal"));
	assert_int_equal(cmd->nparams, 3);
	assert_string_equal(cmd->params[0].name, "unit");
	assert_int_equal(cmd->params[0].required, 1);
	assert_string_equal(cmd->params[1].flag, "--since");
	assert_non_null(cmd->params[1].pattern);
	assert_null(cmd->params[1].enum_values);
	assert_int_equal(cmd->params[2].nenum, 8);
	assert_null(cmd->params[2].pattern);
	assert_non_null(cmd = vsm_agent_command_find(a, "cargo-audit"));
	assert_int_equal(cmd->nok_codes, 2);
	assert_int_equal(cmd->ok_codes[1], 1);
	assert_null(vsm_agent_command_find(a, "sh"));
	assert_int_equal(a->runner.cpu_ms, 0);
	assert_int_equal(a->runner.mem_bytes, UINT64_C(4) << 30);
	assert_int_equal(a->secrets_exposed, 0);
	vsm_agent_config_free(a);

	/* The VitalStream hosts of docs/modules.md. */
	if (vsm_agent_config_load(
	        example("agent-vitalstream-db.yaml"), &a, &err) == -1)
		fail_msg("%s", err.msg);
	assert_true(a->has_postgres && a->has_redis && a->has_mongo);
	assert_int_equal(a->services.units.n, 3);
	assert_non_null(vsm_agent_command_find(a, "logrotate"));
	vsm_agent_config_free(a);
	if (vsm_agent_config_load(
	        example("agent-vitalstream-app.yaml"), &a, &err) == -1)
		fail_msg("%s", err.msg);
	assert_false(a->has_postgres || a->has_redis || a->has_mongo);
	assert_string_equal(a->services.compose_command, "compose-ps");
	assert_int_equal(a->http.allow.n, 2);
	assert_non_null(vsm_agent_command_find(a, "certbot"));
	assert_non_null(vsm_agent_command_find(a, "npm-audit"));
	vsm_agent_config_free(a);

	if (vsm_controller_config_load(example("controller.yaml"), &c, &err) ==
	    -1)
		fail_msg("%s", err.msg);
	assert_string_equal(c->listen, "tcp://0.0.0.0:4650");
	/* Three of its own, fourteen from schedules.yaml. */
	assert_int_equal(c->nschedules, 3 + 14);
	assert_string_equal(c->schedules[0].name, "nightly-vacuum");
	assert_int_equal(c->schedules[0].splay_ms, 5 * 60 * 1000);
	assert_int_equal(c->schedules[0].starting_deadline_ms, 3600 * 1000);
	assert_int_equal(c->schedules[0].window_policy, VSM_WINDOW_WAIT);
	assert_int_equal(c->schedules[0].in_schedules_file, 0);
	assert_string_equal(c->schedules[3].name, "daily-health");
	assert_int_equal(c->schedules[3].in_schedules_file, 1);
	assert_string_equal(c->schedules[3].module, "sys.health");
	assert_string_equal(c->schedules[16].name, "quarterly-vacuum-full");
	assert_string_equal(c->schedules[16].window, "Sat 01:00-05:00");
	assert_string_equal(c->schedules[16].params[0].value, "full");
	assert_int_equal(c->schedules[16].run_timeout_ms, 4 * 3600 * 1000);
	assert_int_equal(c->schedules[0].nparams, 2);
	assert_string_equal(c->schedules[0].params[1].key, "min_dead_ratio");
	assert_string_equal(c->schedules[0].params[1].value, "0.2");
	assert_int_equal(c->schedules[0].max_parallel, 25);
	assert_int_equal(c->schedules[0].max_parallel_pct, 1);
	assert_int_equal(c->schedules[0].timeout_ms, 2 * 3600 * 1000);
	assert_int_equal(c->schedules[1].max_parallel, 2);
	assert_int_equal(c->schedules[1].max_parallel_pct, 0);
	assert_int_equal(c->schedules[1].enabled, 1);
	assert_int_equal(c->schedules[2].overlap, VSM_OVERLAP_QUEUE);
	assert_string_equal(c->schedules[2].target, "all");
	assert_true(c->schedules[2].line > c->schedules[1].line);
	vsm_controller_config_free(c);
}

static void
test_agent_defaults_apply(void **state)
{
	struct vsm_agent_config *cfg;
	struct vsm_err           err;
	const char              *p = put_file("agent.yaml", AGENT_MIN, 0600);

	if (vsm_agent_config_load(p, &cfg, &err) == -1)
		fail_msg("%s", err.msg);
	assert_string_equal(cfg->path, p);
	assert_int_equal(cfg->nlabels, 0);
	assert_int_equal(cfg->ncommands, 0);
	assert_string_equal(cfg->data_dir, "/var/lib/vsm/agent");
	assert_string_equal(cfg->key_file, "/var/lib/vsm/agent/agent.key");
	assert_string_equal(cfg->spool_dir, "/var/lib/vsm/agent/spool");
	assert_int_equal(cfg->spool_max, 256 << 20);
	assert_int_equal(cfg->heartbeat_ms, 30000);
	assert_int_equal(cfg->log_level, VSM_LOG_INFO);
	assert_int_equal(cfg->runner.max_tasks, 4);
	assert_int_equal(cfg->runner.nice, 10);
	assert_int_equal(cfg->runner.open_files, 1024);
	assert_string_equal(cfg->redis.host, "127.0.0.1");
	assert_int_equal(cfg->redis.port, 6379);
	assert_string_equal(cfg->enroll_token, "");
	vsm_agent_config_free(cfg);
	vsm_agent_config_free(NULL);
}

/* The sections the task modules read (docs/config.md, docs/modules.md). */
static void
test_agent_module_sections(void **state)
{
	static const struct {
		const char *yaml, *msg;
	} bad[] = {
	    {"http:\n  allow: [\"ftp://x/\"]\n", "http://"},
	    {"http:\n  allow: [\"http://a b/\"]\n", "spaces"},
	    {"logs:\n  dirs: [\"\"]\n", "empty"},
	    {"logs:\n  dirs: {a: b}\n", "list of paths"},
	    {"services:\n  units: [\"a;b\"]\n", "unit name"},
	    {"services:\n  compose_command: nope\n", "no command 'nope'"},
	    {"services:\n  systemctl_command: nope\n", "no command 'nope'"},
	    {"health:\n  alarms_pointer: active\n", "JSON pointer"},
	    {"health:\n  alarms_url: \"file:///etc/passwd\"\n", "http://"},
	    {"runner:\n  env: [\"LD_PRELOAD=x\"]\n", "variable name"},
	    {"runner:\n  env: [PATH]\n", "set by the agent"},
	};
	struct vsm_agent_config *cfg;
	struct vsm_err           err;
	char        text[1024], real[PATH_MAX], want[PATH_MAX + 16];
	const char *p;
	size_t      i;

	(void)state;
	p = put_file("agent.yaml", AGENT_MIN, 0600);
	if (vsm_agent_config_load(p, &cfg, &err) == -1)
		fail_msg("%s", err.msg);
	assert_false(cfg->has_postgres || cfg->has_redis || cfg->has_mongo);
	assert_int_equal(cfg->http.allow.n, 0);
	assert_int_equal(cfg->logs.dirs.n, 1);
	assert_string_equal(cfg->logs.dirs.v[0], "/var/log");
	assert_int_equal(cfg->logs.clean_dirs.n, 0);
	assert_int_equal(cfg->certs.dirs.n, 2);
	assert_string_equal(cfg->logs.auth_log, "/var/log/auth.log");
	vsm_agent_config_free(cfg);

	p = put_file("agent.yaml",
	    AGENT_MIN
	    "redis: {}\n"
	    "http:\n  allow: \"http://127.0.0.1:8081/\"\n"
	    "logs:\n  dirs: [app/logs, /srv/log]\n  clean_dirs: []\n"
	    "commands:\n  compose-ps: [/usr/bin/docker, compose, ps]\n"
	    "services:\n  units: [redis-server.service]\n"
	    "  compose_command: compose-ps\n"
	    "runner:\n  env: [PGPASSWORD, PGSSLMODE]\n",
	    0600);
	if (vsm_agent_config_load(p, &cfg, &err) == -1)
		fail_msg("%s", err.msg);
	assert_true(cfg->has_redis);
	assert_false(cfg->has_postgres);
	assert_int_equal(cfg->redis.port, 6379);
	assert_int_equal(cfg->http.allow.n, 1);
	assert_int_equal(cfg->logs.dirs.n, 2); /* replaces the default */
	assert_non_null(realpath(tmpdir, real));
	snprintf(want, sizeof(want), "%s/app/logs", real);
	assert_string_equal(cfg->logs.dirs.v[0], want);
	assert_true(vsm_strlist_has_prefix_dir(&cfg->logs.dirs, "/srv/log"));
	assert_true(vsm_strlist_has_prefix_dir(&cfg->logs.dirs, "/srv/log/a"));
	assert_false(
	    vsm_strlist_has_prefix_dir(&cfg->logs.dirs, "/srv/logbook"));
	assert_false(
	    vsm_strlist_has_prefix_dir(&cfg->logs.dirs, "/srv/log/../etc"));
	assert_false(vsm_strlist_has_prefix_dir(&cfg->logs.dirs, "srv/log"));
	assert_string_equal(cfg->services.compose_command, "compose-ps");
	assert_int_equal(cfg->runner.env.n, 2);
	assert_string_equal(cfg->runner.env.v[1], "PGSSLMODE");
	vsm_agent_config_free(cfg);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), AGENT_MIN "%s", bad[i].yaml);
		p = put_file("agent.yaml", text, 0600);
		assert_int_equal(vsm_agent_config_load(p, &cfg, &err), -1);
		assert_null(cfg);
		if (strstr(err.msg, bad[i].msg) == NULL)
			fail_msg(
			    "%zu: '%s' lacks '%s'", i, err.msg, bad[i].msg);
	}
}

static void
test_agent_relative_paths_follow_the_file(void **state)
{
	struct vsm_agent_config *cfg;
	struct vsm_err           err;
	char                     want[PATH_MAX + 32], real[PATH_MAX];
	const char              *p;

	/* controllers twice: a duplicate, line 5. */
	assert_int_equal(
	    agent_fails(AGENT_MIN "data_dir: state\n"
	                          "controllers: tcp://[::1]:9\n",
	        5, "duplicate key 'controllers' (first at line 2)"),
	    0);
	p = put_file("agent.yaml", AGENT_MIN "data_dir: state\n", 0600);
	if (vsm_agent_config_load(p, &cfg, &err) == -1)
		fail_msg("%s", err.msg);
	assert_non_null(realpath(tmpdir, real));
	snprintf(want, sizeof(want), "%s/state", real);
	assert_string_equal(cfg->data_dir, want);
	snprintf(want, sizeof(want), "%s/state/agent.key", real);
	assert_string_equal(cfg->key_file, want);
	vsm_agent_config_free(cfg);
}

static void
test_controller_defaults_apply(void **state)
{
	struct vsm_controller_config *cfg;
	struct vsm_err                err;
	char                          want[PATH_MAX + 32], real[PATH_MAX];
	const char                   *p = put_file("controller.yaml",
	                      "# nothing but defaults\nlog_level: debug\n", 0600);

	if (vsm_controller_config_load(p, &cfg, &err) == -1)
		fail_msg("%s", err.msg);
	assert_string_equal(cfg->listen, "tcp://0.0.0.0:4650");
	assert_string_equal(
	    cfg->control, "ipc:///var/lib/vsm/controller/control.sock");
	assert_string_equal(
	    cfg->key_file, "/var/lib/vsm/controller/controller.key");
	assert_string_equal(
	    cfg->store, "sqlite:/var/lib/vsm/controller/vsm.db");
	assert_string_equal(cfg->backup_dir, "/var/lib/vsm/controller/backups");
	assert_int_equal(cfg->heartbeat_ms, 30000);
	assert_int_equal(cfg->missed_heartbeats, 3);
	assert_int_equal(cfg->agent_concurrency, 2);
	assert_int_equal(cfg->contexts, 1024);
	assert_int_equal(cfg->max_payload, 4 << 20);
	assert_int_equal(cfg->log_level, VSM_LOG_DEBUG);
	assert_int_equal(cfg->nschedules, 0);
	vsm_controller_config_free(cfg);
	vsm_controller_config_free(NULL);

	/* A relative sqlite path is relative to the file, too. */
	p = put_file("controller.yaml", "store: sqlite:db/vsm.db\n", 0600);
	if (vsm_controller_config_load(p, &cfg, &err) == -1)
		fail_msg("%s", err.msg);
	assert_non_null(realpath(tmpdir, real));
	snprintf(want, sizeof(want), "sqlite:%s/db/vsm.db", real);
	assert_string_equal(cfg->store, want);
	vsm_controller_config_free(cfg);
}

static const struct bad {
	const char *text;
	int         line;
	const char *needle;
} agent_bad[] = {
    /* wrong type */
    {AGENT_MIN "heartbeat: [1]\n", 4,
        "heartbeat: expected a duration, got a list"},
    {AGENT_MIN "labels: [a, b]\n", 4, "labels: expected a mapping"},
    {AGENT_MIN "runner:\n  max_tasks: \"4\"\n", 5,
        "runner.max_tasks: expected a number, got a quoted string"},
    {AGENT_MIN "runner:\n  max_tasks: four\n", 5,
        "expected a number, got 'four'"},
    {AGENT_MIN "commands:\n  x:\n    argv: [\"/bin/x\"]\n    params:\n"
               "      p: {pattern: a, required: yes}\n",
        8, "commands.x.params.p.required: expected true or false, got 'yes'"},
    {AGENT_MIN "runner: 4\n", 4, "runner: expected a mapping, got a string"},
    {"name: {a: b}\n", 1, "name: expected a string, got a mapping"},
    {"- name\n", 1, "expected a mapping of settings, got a list"},
    /* unknown keys, with a suggestion when one is close */
    {AGENT_MIN "heartbeet: 30s\n", 4,
        "unknown key 'heartbeet' (did you mean 'heartbeat'?)"},
    {AGENT_MIN "runner:\n  limits:\n    memroy: 1GiB\n", 6,
        "runner.limits: unknown key 'memroy' (did you mean 'memory'?)"},
    {AGENT_MIN "\n\nfrobnicate: 1\n", 6, "unknown key 'frobnicate'"},
    {AGENT_MIN "runner:\n  limits:\n  cpu: 1h\n", 6,
        "runner: unknown key 'cpu' (indent it under 'limits')"},
    {AGENT_MIN "commands:\n  x:\n    argv: [\"/bin/x\"]\n    tmeout: 1s\n", 7,
        "commands.x: unknown key 'tmeout' (did you mean 'timeout'?)"},
    /* bad durations and sizes */
    {AGENT_MIN "heartbeat: 30x\n", 4, "unknown unit 'x'"},
    {AGENT_MIN "heartbeat: 30\n", 4, "needs a unit"},
    {AGENT_MIN "heartbeat: -5s\n", 4, "expected a duration like 30s"},
    {AGENT_MIN "spool:\n  max_size: 10 MiB\n", 5,
        "spool.max_size: size '10 MiB': unknown unit ' MiB'"},
    {AGENT_MIN "runner:\n  limits:\n    cpu: 1500ms\n", 6,
        "must be whole seconds"},
    /* bad URLs */
    {AGENT_MIN "controllers:\n  - tcp://a:1\n  - tcp://b\n", 4,
        "duplicate key 'controllers' (first at line 2)"},
    {"name: h1\ncontroller_key: \"" KEY_B64 "\"\ncontrollers:\n"
     "  - tcp://a:1\n  - tcp://b\n",
        5,
        "controllers[1]: 'tcp://b': expected tcp://HOST:PORT (the port "
        "is required)"},
    {"name: h1\ncontroller_key: \"" KEY_B64 "\"\n"
     "controllers: [\"http://a:1\"]\n",
        3, "expected tcp://HOST:PORT"},
    {"name: h1\ncontroller_key: \"" KEY_B64 "\"\n"
     "controllers: [\"tcp://a:0\"]\n",
        3, "port 0 is out of range 1-65535"},
    {"name: h1\ncontroller_key: \"" KEY_B64 "\"\n"
     "controllers: [\"tcp://a b:1\"]\n",
        3, "bad character ' ' in host"},
    {"name: h1\ncontroller_key: \"" KEY_B64 "\"\n"
     "controllers: []\n",
        3, "at least one controller"},
    {"name: h1\ncontroller_key: \"" KEY_B64 "\"\n"
     "controllers: [tcp://a:1, tcp://a:1]\n",
        3, "'tcp://a:1' is listed twice"},
    /* bad keys */
    {"name: h1\ncontrollers: [\"tcp://a:1\"]\ncontroller_key: abc\n", 3,
        "controller_key: not a key: expected 44 characters of base64"},
    {"name: h1\ncontrollers: [\"tcp://a:1\"]\n"
     "controller_key: \"!AECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"\n",
        3, "not a key"},
    /* out of range */
    {AGENT_MIN "redis:\n  port: 70000\n", 5,
        "redis.port: 70000 is out of range 1-65535"},
    {AGENT_MIN "heartbeat: 2h\n", 4, "heartbeat: '2h' is out of range 1s-1h"},
    {AGENT_MIN "heartbeat: 0s\n", 4, "'0s' is out of range 1s-1h"},
    {AGENT_MIN "runner:\n  nice: -21\n", 5, "-21 is out of range -20-19"},
    {AGENT_MIN "runner:\n  max_tasks: 0\n", 5, "0 is out of range 1-256"},
    {AGENT_MIN "spool:\n  max_size: 2TiB\n", 5,
        "'2TiB' is out of range 1MiB-1TiB"},
    {AGENT_MIN "runner:\n  limits:\n    memory: 1MiB\n", 6,
        "out of range 16MiB-1TiB (or 'unlimited')"},
    {AGENT_MIN "runner:\n  max_tasks: 99999999999999999999\n", 5,
        "expected a number"},
    /* missing required keys: the line of the mapping */
    {"# c\nname: h1\ncontrollers: [\"tcp://a:1\"]\n", 2,
        "missing required key 'controller_key'"},
    {AGENT_MIN "commands:\n  x:\n    timeout: 1s\n", 6,
        "commands.x: missing required key 'argv'"},
    {"", 1, "empty config"},
    {"# only a comment\n", 1, "empty config"},
    /* duplicate keys */
    {AGENT_MIN "name: h2\n", 4, "duplicate key 'name' (first at line 1)"},
    {AGENT_MIN "labels:\n  a: b\n  a: c\n", 6, "duplicate key 'a'"},
    {AGENT_MIN "commands:\n  x: [\"/bin/x\"]\n  x: [\"/bin/y\"]\n", 6,
        "duplicate command 'x'"},
    /* tabs and broken YAML */
    {AGENT_MIN "runner:\n\tmax_tasks: 2\n", 5, "tab character"},
    {AGENT_MIN "labels: {a: b\n", 4, "flow mapping"},
    {AGENT_MIN "name: 'open\n", 4, "quoted scalar"},
    {AGENT_MIN "labels:\n  a: b\n   c: d\n", 6,
        "mapping values are not allowed"},
    {AGENT_MIN "labels:\n  a: b\n x: y\n", 6, ""},
    {AGENT_MIN "---\nname: h2\n", 4, "a second YAML document"},
    /* other values */
    {AGENT_MIN "labels:\n  name: x\n", 5, "'name' is reserved"},
    {AGENT_MIN "labels:\n  role: \"a b\"\n", 5,
        "labels.role: 'a b' is not a valid label value"},
    {AGENT_MIN "labels:\n  \"-x\": a\n", 5, "not a valid label key"},
    {"name: \"db 1\"\n", 1, "'db 1' is not a valid name"},
    {AGENT_MIN "commands:\n  x: [\"logrotate\"]\n", 5,
        "must be an absolute path"},
    {AGENT_MIN "commands:\n  x: []\n", 5, "argv is empty"},
    {AGENT_MIN "commands:\n  x: /bin/x\n", 5,
        "expected an argv list or a mapping"},
    {AGENT_MIN "commands:\n  \"a b\": [\"/bin/x\"]\n", 5, "not a valid name"},
    {AGENT_MIN "log_level: loud\n", 4,
        "expected error, warn, info or debug, got 'loud'"},
    {AGENT_MIN "mongo:\n  uri: \"http://x\"\n", 5, "expected mongodb://"},
    {AGENT_MIN "key_file: \"\"\n", 4, "must not be empty"},
    {AGENT_MIN "name2: \"a\\0b\"\n", 4, "unknown key 'name2'"},
    {AGENT_MIN "enroll_token: \"a\\0b\"\n", 4, "NUL character"},
};

static void
test_agent_bad_files_name_the_line(void **state)
{
	size_t i;
	int    bad = 0;

	for (i = 0; i < sizeof(agent_bad) / sizeof(agent_bad[0]); i++)
		bad += agent_fails(
		    agent_bad[i].text, agent_bad[i].line, agent_bad[i].needle);
	assert_int_equal(bad, 0);
}

/* AGENT_MIN and a command x; what follows starts on line 7. */
#define AGENT_CMD                                                              \
	AGENT_MIN "commands:\n"                                                \
	          "  x:\n"                                                     \
	          "    argv: [\"/bin/x\"]\n"

static void
test_agent_command_params_load(void **state)
{
	struct vsm_agent_config        *cfg;
	const struct vsm_command       *cmd;
	const struct vsm_command_param *p;
	struct vsm_err                  err;
	const char                     *file = put_file("agent.yaml",
	                        AGENT_CMD "    timeout: 1m\n"
	                                                      "    params:\n"
	                                                      "      unit:\n"
	                                                      "        pattern: \"[a-z0-9@.-]{1,64}\"\n"
	                                                      "        flag: \"--unit\"\n"
	                                                      "        required: true\n"
	                                                      "      level: {enum: [err, \"-v\"], "
	                                                      "allow_dash: true}\n"
	                                                      "      lines: {pattern: \"[0-9]+\"}\n"
	                                                      "    ok_codes: [0, 1, 255]\n"
	                                                      "  y: [\"/bin/y\"]\n",
	                        0600);

	if (vsm_agent_config_load(file, &cfg, &err) == -1)
		fail_msg("%s", err.msg);
	assert_non_null(cmd = vsm_agent_command_find(cfg, "x"));
	assert_int_equal(cmd->timeout_ms, 60000);
	assert_int_equal(cmd->nparams, 3);
	/* In the order of the file: the order they go into argv. */
	p = &cmd->params[0];
	assert_string_equal(p->name, "unit");
	assert_string_equal(p->pattern, "[a-z0-9@.-]{1,64}");
	assert_null(p->enum_values);
	assert_string_equal(p->flag, "--unit");
	assert_int_equal(p->required, 1);
	assert_int_equal(p->allow_dash, 0);
	p = &cmd->params[1];
	assert_string_equal(p->name, "level");
	assert_null(p->pattern);
	assert_int_equal(p->nenum, 2);
	assert_string_equal(p->enum_values[1], "-v");
	assert_null(p->enum_values[2]);
	assert_int_equal(p->allow_dash, 1);
	assert_int_equal(p->required, 0);
	assert_null(p->flag);
	assert_string_equal(cmd->params[2].name, "lines");
	assert_int_equal(cmd->nok_codes, 3);
	assert_int_equal(cmd->ok_codes[0], 0);
	assert_int_equal(cmd->ok_codes[2], 255);
	/* The short form has neither. */
	assert_non_null(cmd = vsm_agent_command_find(cfg, "y"));
	assert_int_equal(cmd->nparams, 0);
	assert_null(cmd->params);
	assert_int_equal(cmd->nok_codes, 0);
	assert_null(cmd->ok_codes);
	vsm_agent_config_free(cfg);
}

static const struct bad params_bad[] = {
    /* patterns are compiled at load */
    {AGENT_CMD "    params:\n      since: {pattern: \"[0-9\"}\n", 8,
        "commands.x.params.since.pattern: '[0-9' is not a valid POSIX "
        "extended regular expression: "},
    {AGENT_CMD "    params:\n      since: {pattern: \"a{2,1}\"}\n", 8,
        "commands.x.params.since.pattern: 'a{2,1}' is not a valid"},
    /* no pattern can close the anchoring ^( )$ */
    {AGENT_CMD "    params:\n      since: {pattern: \"[0-9]+)|(.*\"}\n", 8,
        "commands.x.params.since.pattern: '[0-9]+)|(.*' is not a valid"},
    {AGENT_CMD "    params:\n      since: {pattern: \"\"}\n", 8,
        "commands.x.params.since.pattern: must not be empty"},
    {AGENT_CMD "    params:\n      since: {pattern: [a]}\n", 8,
        "params.since.pattern: expected a regular expression, got a list"},
    /* exactly one of pattern and enum */
    {AGENT_CMD "    params:\n      p:\n        pattern: a\n"
               "        enum: [a, b]\n",
        10, "commands.x.params.p: give a pattern or an enum, not both"},
    {AGENT_CMD "    params:\n      p: {flag: \"--p\"}\n", 8,
        "commands.x.params.p: needs a pattern (a regular expression) or "
        "an enum"},
    {AGENT_CMD "    params:\n      p: {}\n", 8,
        "commands.x.params.p: needs a pattern"},
    {AGENT_CMD "    params:\n      p: abc\n", 8,
        "commands.x.params.p: expected a mapping, got a string"},
    /* enums */
    {AGENT_CMD "    params:\n      p: {enum: []}\n", 8,
        "commands.x.params.p.enum: the list is empty"},
    {AGENT_CMD "    params:\n      p: {enum: [a, b, a]}\n", 8,
        "commands.x.params.p.enum: 'a' is listed twice"},
    {AGENT_CMD "    params:\n      p: {enum: [-v]}\n", 8,
        "commands.x.params.p: enum value '-v' starts with '-': set "
        "allow_dash: true"},
    {AGENT_CMD "    params:\n      p: {enum: a}\n", 8,
        "commands.x.params.p.enum: expected a list of values"},
    /* names, keys, flags */
    {AGENT_CMD "    params:\n      Since: {pattern: a}\n", 8,
        "commands.x.params: 'Since' is not a valid parameter name"},
    {AGENT_CMD "    params:\n      1st: {pattern: a}\n", 8,
        "'1st' is not a valid parameter name"},
    {AGENT_CMD "    params:\n      "
               "a23456789012345678901234567890123: {pattern: a}\n",
        8, "is not a valid parameter name: 1-32 of a-z 0-9 _"},
    {AGENT_CMD "    params:\n      p: {pattern: a}\n      p: {pattern: b}\n", 9,
        "commands.x.params: duplicate parameter 'p'"},
    {AGENT_CMD "    params:\n      p: {pattern: a, requird: true}\n", 8,
        "commands.x.params.p: unknown key 'requird' (did you mean "
        "'required'?)"},
    {AGENT_CMD "    params:\n      p: {pattern: a, type: int}\n", 8,
        "commands.x.params.p: unknown key 'type'"},
    {AGENT_CMD "    params:\n      p: {pattern: a, flag: \"--a b\"}\n", 8,
        "commands.x.params.p.flag: '--a b' is not an option"},
    {AGENT_CMD "    params:\n      p: {pattern: a, flag: since}\n", 8,
        "'since' is not an option"},
    {AGENT_CMD "    params: [since]\n", 7,
        "commands.x.params: expected a mapping of NAME: {pattern: REGEX}"},
    {AGENT_CMD "    allow_params: true\n", 7,
        "commands.x: unknown key 'allow_params'"},
    /* ok codes */
    {AGENT_CMD "    ok_codes: [0, 256]\n", 7,
        "commands.x.ok_codes: '256' is not an exit code: expected 0-255"},
    {AGENT_CMD "    ok_codes: [-1]\n", 7, "'-1' is not an exit code"},
    {AGENT_CMD "    ok_codes: [\"1\"]\n", 7, "'1' is not an exit code"},
    {AGENT_CMD "    ok_codes: [one]\n", 7, "'one' is not an exit code"},
    {AGENT_CMD "    ok_codes: [0, 1, 0]\n", 7,
        "commands.x.ok_codes: 0 is listed twice"},
    {AGENT_CMD "    ok_codes: []\n", 7,
        "commands.x.ok_codes: the list is empty"},
    {AGENT_CMD "    ok_codes: 0\n", 7,
        "commands.x.ok_codes: expected a list of exit codes"},
    {AGENT_CMD "    ok_codes:\n      - 0\n      - 300\n", 9,
        "'300' is not an exit code"},
};

static void
test_agent_bad_command_params_name_the_line(void **state)
{
	char   text[64 * 1024], *p;
	size_t i, off;
	int    bad = 0;

	for (i = 0; i < sizeof(params_bad) / sizeof(params_bad[0]); i++)
		bad += agent_fails(params_bad[i].text, params_bad[i].line,
		    params_bad[i].needle);
	assert_int_equal(bad, 0);

	/* More than 32 params. */
	off = (size_t)snprintf(text, sizeof(text), AGENT_CMD "    params:\n");
	for (i = 0; i < 33; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
		    "      p%zu: {pattern: a}\n", i);
	assert_int_equal(agent_fails(text, 8, "more than 32 parameters"), 0);
	/* A pattern of 1024 characters or more. */
	off = (size_t)snprintf(
	    text, sizeof(text), AGENT_CMD "    params:\n      p: {pattern: ");
	memset(text + off, 'a', 1024);
	snprintf(text + off + 1024, sizeof(text) - off - 1024, "}\n");
	assert_int_equal(agent_fails(text, 8,
	                     "commands.x.params.p.pattern: longer than 1023 "
	                     "characters"),
	    0);
	/* An entry larger than a TaskSpawn should carry. */
	off = (size_t)snprintf(
	    text, sizeof(text), AGENT_MIN "commands:\n  x:\n    argv:\n");
	for (i = 0; i < 9; i++) {
		off += (size_t)snprintf(
		    text + off, sizeof(text) - off, "      - /");
		p = text + off;
		memset(p, 'a', 4000);
		off += 4000;
		off += (size_t)snprintf(text + off, sizeof(text) - off, "\n");
	}
	assert_int_equal(
	    agent_fails(text, 5, "commands.x: argv and params take"), 0);
}

static const struct bad controller_bad[] = {
    {"listen: ipc:///tmp/x\n", 1,
        "listen: 'ipc:///tmp/x': expected "
        "tcp://HOST:PORT"},
    {"listen: tcp://0.0.0.0:99999\n", 1, "out of range 1-65535"},
    {"control: tcp://127.0.0.1:1\n", 1, "expected ipc:///PATH"},
    {"control: ipc://relative.sock\n", 1, "needs an absolute path"},
    {"store: mysql://x\n", 1, "expected sqlite:PATH or postgresql://"},
    {"store: \"sqlite:\"\n", 1, "'sqlite:' needs a path"},
    {"missed_heartbeats: 0\n", 1, "0 is out of range 1-100"},
    {"contexts: 8\n", 1, "8 is out of range 16-65536"},
    {"max_payload: 1KiB\n", 1, "'1KiB' is out of range 64KiB-1GiB"},
    {"\nheartbeat: 1d\n", 2, "out of range 1s-1h"},
    {"schedules: {a: b}\n", 1, "expected a list of schedules"},
    {"schedules:\n  - name: a\n    module: m\n    target: all\n", 2,
        "schedules[0]: missing required key 'cron'"},
    {"schedules:\n  - name: a\n    module: m\n    cron: \"* * * * *\"\n"
     "    target: \"role in (db\"\n",
        5,
        "schedules[0].target: bad selector 'role in (db': column 12: "
        "unterminated list"},
    {"schedules:\n  - name: a\n    module: m\n    cron: \"* * * * *\"\n    "
     "target: all\n"
     "    max_parallel: 150%\n",
        6, "'150%' is out of range 1%-100%"},
    {"schedules:\n  - name: a\n    module: m\n    cron: \"* * * * *\"\n    "
     "target: all\n"
     "    max_parallel: lots\n",
        6, "expected a count (0: no limit) or a percentage"},
    {"schedules:\n  - name: a\n    module: m\n    cron: \"* * * * *\"\n    "
     "target: all\n"
     "    overlap: sometimes\n",
        6, "expected skip, queue, replace or allow, got 'sometimes'"},
    {"schedules:\n  - name: a\n    module: m\n    cron: \"* * * * *\"\n    "
     "target: all\n"
     "    params: [1]\n",
        6, "schedules[0].params: expected a mapping"},
    {"schedules:\n  - name: a\n    module: m\n    cron: \"* * * * *\"\n    "
     "target: all\n"
     "    params: {a: {b: c}}\n",
        6, "schedules[0].params.a: expected a string, got a mapping"},
    {"schedules:\n  - name: a\n    module: m\n    cron: \"* * * * *\"\n    "
     "target: all\n"
     "    timeout: soon\n",
        6, "expected a duration like 30s"},
    {"schedules:\n  - name: a\n    module: m\n    cron: \"* * * * *\"\n    "
     "target: all\n"
     "    enabled: 1\n",
        6, "expected true or false, got '1'"},
    {"schedules:\n  - name: a\n    module: m\n    cron: \"* * * * *\"\n    "
     "target: all\n"
     "    cronn: x\n",
        6, "schedules[0]: unknown key 'cronn' (did you mean 'cron'?)"},
    {"schedules:\n  - name: a\n    module: m\n    cron: \"* * * * *\"\n    "
     "target: all\n"
     "  - name: a\n    module: m\n    cron: \"* * * * *\"\n    target: all\n",
        6, "schedule 'a' is defined twice (first at line 2)"},
    {"schedules:\n  - name: a\n    module: m\n    cron: \"\"\n"
     "    target: all\n",
        4, "schedules[0].cron: must not be empty"},
    /* cron, tz and window are checked with cron.h at load. */
    {"schedules:\n  - name: a\n    module: m\n    cron: \"61 * * * *\"\n"
     "    target: all\n",
        4, "schedules[0].cron: '61 * * * *': field 1 (minute)"},
    {"schedules:\n  - name: a\n    module: m\n    cron: \"0 0 30 2 *\"\n"
     "    target: all\n",
        4, "schedules[0].cron: '0 0 30 2 *': "},
    {"schedules:\n  - name: a\n    module: m\n    cron: \"* * * * *\"\n"
     "    target: all\n    tz: Mars/Olympus\n",
        6, "schedules[0].tz: "},
    {"schedules:\n  - name: a\n    module: m\n    cron: \"* * * * *\"\n"
     "    target: all\n    tz: ../../etc/passwd\n",
        6, "schedules[0].tz: "},
    {"schedules:\n  - name: a\n    module: m\n    cron: \"* * * * *\"\n"
     "    target: all\n    window: \"Sat 25:00-05:00\"\n",
        6, "schedules[0].window: "},
    {"schedules:\n  - name: a\n    module: m\n    cron: \"* * * * *\"\n"
     "    target: all\n    window_policy: later\n",
        6, "expected wait or skip, got 'later'"},
    {"schedules:\n  - name: a\n    module: m\n    cron: \"* * * * *\"\n"
     "    target: all\n    max_parallel: 100001\n",
        6, "100001 is out of range 0-100000"},
    {"schedules:\n  - name: a\n    module: m\n    cron: \"* * * * *\"\n"
     "    target: all\n    splay: 2d\n",
        6, "schedules[0].splay: "},
    {"schedules:\n  - name: a\n    module: m\n    cron: \"* * * * *\"\n"
     "    target: all\n    starting_deadline: 0s\n",
        6, "schedules[0].starting_deadline: "},
    {"schedules:\n  - name: a\n    module: m\n    cron: \"* * * * *\"\n"
     "    target: all\n    retries: 101\n",
        6, "101 is out of range 0-100"},
};

static void
test_controller_bad_files_name_the_line(void **state)
{
	size_t i;
	int    bad = 0;

	for (i = 0; i < sizeof(controller_bad) / sizeof(controller_bad[0]); i++)
		bad += controller_fails(controller_bad[i].text,
		    controller_bad[i].line, controller_bad[i].needle);
	assert_int_equal(bad, 0);
}

/*
 * The scheduler's keys and their defaults; schedules_file adds the
 * schedules of another file, whose errors name that file and line, and a
 * name defined in both files is refused.
 */
static void
test_controller_schedule_keys_and_schedules_file(void **state)
{
	struct vsm_controller_config *c;
	struct vsm_err                err;
	char                          want[PATH_MAX + 64], p[PATH_MAX];

	(void)state;
	snprintf(p, sizeof(p), "%s",
	    put_file("controller.yaml",
	        "schedules:\n"
	        "  - name: a\n    module: m\n    cron: \"*/5 * * * *\"\n"
	        "    target: all\n"
	        "  - name: b\n    module: m\n    cron: \"0 1 * * 6\"\n"
	        "    target: all\n    tz: Europe/Berlin\n"
	        "    window: \"Sat 01:00-05:00\"\n    window_policy: skip\n"
	        "    overlap: replace\n    splay: 90s\n"
	        "    starting_deadline: 10m\n    run_timeout: 2h\n"
	        "    retries: 2\n",
	        0600));
	if (vsm_controller_config_load(p, &c, &err) == -1)
		fail_msg("%s", err.msg);
	assert_int_equal(c->nschedules, 2);
	/* Defaults: wait, skip, no splay; 0 deadline and timeout mean 1h. */
	assert_int_equal(c->schedules[0].window_policy, VSM_WINDOW_WAIT);
	assert_int_equal(c->schedules[0].overlap, VSM_OVERLAP_SKIP);
	assert_int_equal(c->schedules[0].splay_ms, 0);
	assert_int_equal(c->schedules[0].starting_deadline_ms, 0);
	assert_int_equal(c->schedules[0].run_timeout_ms, 0);
	assert_int_equal(c->schedules[0].retries, 0);
	assert_int_equal(c->schedules[1].window_policy, VSM_WINDOW_SKIP);
	assert_int_equal(c->schedules[1].overlap, VSM_OVERLAP_REPLACE);
	assert_int_equal(c->schedules[1].splay_ms, 90000);
	assert_int_equal(c->schedules[1].starting_deadline_ms, 600000);
	assert_int_equal(c->schedules[1].run_timeout_ms, 7200000);
	assert_int_equal(c->schedules[1].retries, 2);
	assert_string_equal(c->schedules[1].tz, "Europe/Berlin");
	vsm_controller_config_free(c);

	/* schedules_file: relative to controller.yaml, appended. */
	put_file("more.yaml",
	    "# more\nschedules:\n"
	    "  - name: c\n    module: m\n    cron: \"@daily\"\n"
	    "    target: all\n",
	    0600);
	snprintf(p, sizeof(p), "%s",
	    put_file("controller.yaml",
	        "schedules:\n"
	        "  - name: a\n    module: m\n    cron: \"@hourly\"\n"
	        "    target: all\n"
	        "schedules_file: more.yaml\n",
	        0600));
	if (vsm_controller_config_load(p, &c, &err) == -1)
		fail_msg("%s", err.msg);
	assert_int_equal(c->nschedules, 2);
	assert_string_equal(c->schedules[1].name, "c");
	assert_int_equal(c->schedules[1].line, 3);
	assert_int_equal(c->schedules[1].in_schedules_file, 1);
	vsm_controller_config_free(c);

	/* An error in it is that file's FILE:LINE. */
	put_file("more.yaml",
	    "schedules:\n"
	    "  - name: c\n    module: m\n    cron: \"* * * 13 *\"\n"
	    "    target: all\n",
	    0600);
	snprintf(p, sizeof(p), "%s",
	    put_file("controller.yaml", "schedules_file: more.yaml\n", 0600));
	assert_int_equal(vsm_controller_config_load(p, &c, &err), -1);
	snprintf(
	    want, sizeof(want), "%s/more.yaml:4: schedules[0].cron: ", tmpdir);
	if (strncmp(err.msg, want, strlen(want)) != 0)
		fail_msg("got '%s', want '%s...'", err.msg, want);
	/* Only `schedules:` is in such a file. */
	put_file("more.yaml", "listen: tcp://0.0.0.0:1\n", 0600);
	assert_int_equal(vsm_controller_config_load(p, &c, &err), -1);
	assert_non_null(strstr(err.msg, "more.yaml:1: "));
	assert_non_null(strstr(err.msg, "unknown key 'listen'"));
	/* A name in both files. */
	put_file("more.yaml",
	    "schedules:\n"
	    "  - name: a\n    module: m\n    cron: \"@daily\"\n"
	    "    target: all\n",
	    0600);
	snprintf(p, sizeof(p), "%s",
	    put_file("controller.yaml",
	        "schedules:\n"
	        "  - name: a\n    module: m\n    cron: \"@hourly\"\n"
	        "    target: all\n"
	        "schedules_file: more.yaml\n",
	        0600));
	assert_int_equal(vsm_controller_config_load(p, &c, &err), -1);
	assert_non_null(strstr(err.msg,
	    "more.yaml:2: schedules[0]: "
	    "schedule 'a' is also defined in "));
	/* A file that is not there. */
	snprintf(p, sizeof(p), "%s",
	    put_file(
	        "controller.yaml", "schedules_file: nowhere.yaml\n", 0600));
	assert_int_equal(vsm_controller_config_load(p, &c, &err), -1);
	assert_non_null(strstr(err.msg, "nowhere.yaml"));
}

static void
test_secrets_readable_by_others_are_flagged(void **state)
{
	struct vsm_agent_config      *a;
	struct vsm_controller_config *c;
	struct vsm_err                err;
	const char                   *p;

	p = put_file("agent.yaml", AGENT_MIN "enroll_token: t0k3n\n", 0644);
	assert_int_equal(vsm_agent_config_load(p, &a, &err), 0);
	assert_int_equal(a->secrets_exposed, 1);
	assert_string_equal(a->enroll_token, "t0k3n");
	vsm_agent_config_free(a);

	p = put_file("agent.yaml", AGENT_MIN "enroll_token: t0k3n\n", 0600);
	assert_int_equal(vsm_agent_config_load(p, &a, &err), 0);
	assert_int_equal(a->secrets_exposed, 0);
	vsm_agent_config_free(a);

	/* No secret: a readable file is fine. */
	p = put_file("agent.yaml", AGENT_MIN, 0644);
	assert_int_equal(vsm_agent_config_load(p, &a, &err), 0);
	assert_int_equal(a->secrets_exposed, 0);
	vsm_agent_config_free(a);

	p = put_file("agent.yaml",
	    AGENT_MIN "postgres:\n  conninfo: \"host=x password=s\"\n", 0640);
	assert_int_equal(vsm_agent_config_load(p, &a, &err), 0);
	assert_int_equal(a->secrets_exposed, 1);
	vsm_agent_config_free(a);

	p = put_file(
	    "controller.yaml", "store: postgresql://vsm:pw@db/vsm\n", 0644);
	assert_int_equal(vsm_controller_config_load(p, &c, &err), 0);
	assert_int_equal(c->secrets_exposed, 1);
	vsm_controller_config_free(c);
}

static void
test_key_file_open_to_others_is_refused(void **state)
{
	char text[PATH_MAX * 2];

	put_file("agent.key", KEY_B64 "\n", 0644);
	snprintf(text, sizeof(text), AGENT_MIN "\nkey_file: agent.key\n");
	assert_int_equal(
	    agent_fails(text, 5, "has mode 0644; it must be 0600"), 0);
	put_file("agent.key", KEY_B64 "\n", 0600);
	{
		struct vsm_agent_config *cfg;
		struct vsm_err           err;
		const char              *p = put_file("agent.yaml", text, 0600);

		if (vsm_agent_config_load(p, &cfg, &err) == -1)
			fail_msg("%s", err.msg);
		vsm_agent_config_free(cfg);
	}
	snprintf(path, sizeof(path), "%s/agent.key", tmpdir);
	unlink(path);
}

static void
test_agent_write_default_round_trips(void **state)
{
	static const struct vsm_label labels[] = {
	    {"role", "db"},
	    {"env", "prod"},
	};
	struct vsm_agent_init init = {
	    .dir = tmpdir,
	    .name = "db-07",
	    .controller = "tcp://ctl.example.net:4650",
	    .controller_key = KEY_B64,
	    .token = "tok\"en\\x",
	    .labels = labels,
	    .nlabels = 2,
	};
	struct vsm_agent_config *cfg;
	struct vsm_err           err;
	struct stat              st;
	char                     p[PATH_MAX + 32], want[PATH_MAX + 32];
	char                     real[PATH_MAX];

	snprintf(p, sizeof(p), "%s/agent-init.yaml", tmpdir);
	if (vsm_agent_config_write_default(p, &init, &err) == -1)
		fail_msg("%s", err.msg);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	if (vsm_agent_config_load(p, &cfg, &err) == -1)
		fail_msg("%s", err.msg);
	assert_string_equal(cfg->name, "db-07");
	assert_int_equal(cfg->nlabels, 2);
	assert_string_equal(cfg->labels[1].key, "env");
	assert_string_equal(cfg->labels[1].value, "prod");
	assert_int_equal(cfg->ncontrollers, 1);
	assert_string_equal(cfg->controllers[0], init.controller);
	assert_string_equal(cfg->controller_key_b64, KEY_B64);
	assert_string_equal(cfg->enroll_token, init.token);
	assert_non_null(realpath(tmpdir, real));
	snprintf(want, sizeof(want), "%s/agent.key", real);
	assert_string_equal(cfg->key_file, want);
	assert_string_equal(cfg->data_dir, real);
	assert_int_equal(cfg->ncommands, 0);
	assert_int_equal(cfg->heartbeat_ms, 30000);
	assert_int_equal(cfg->secrets_exposed, 0);
	/* A new host runs no database until its file says so. */
	assert_false(cfg->has_postgres);
	assert_false(cfg->has_redis);
	assert_false(cfg->has_mongo);
	vsm_agent_config_free(cfg);

	/* Never over an existing file, which stays as it was. */
	init.name = "other";
	assert_int_equal(vsm_agent_config_write_default(p, &init, &err), -1);
	assert_non_null(strstr(err.msg, "already exists"));
	assert_int_equal(vsm_agent_config_load(p, &cfg, &err), 0);
	assert_string_equal(cfg->name, "db-07");
	vsm_agent_config_free(cfg);

	/* Bad input is refused before anything is written. */
	snprintf(p, sizeof(p), "%s/agent-bad.yaml", tmpdir);
	init.name = "bad name";
	assert_int_equal(vsm_agent_config_write_default(p, &init, &err), -1);
	assert_non_null(strstr(err.msg, "not a valid name"));
	init.name = "ok";
	init.controller_key = "short";
	assert_int_equal(vsm_agent_config_write_default(p, &init, &err), -1);
	assert_non_null(strstr(err.msg, "not a key"));
	init.controller_key = KEY_B64;
	init.controller = "tcp://x";
	assert_int_equal(vsm_agent_config_write_default(p, &init, &err), -1);
	assert_int_equal(access(p, F_OK), -1);

	/* No labels, no token. */
	init.controller = "tcp://x:1";
	init.nlabels = 0;
	init.token = NULL;
	if (vsm_agent_config_write_default(p, &init, &err) == -1)
		fail_msg("%s", err.msg);
	assert_int_equal(vsm_agent_config_load(p, &cfg, &err), 0);
	assert_int_equal(cfg->nlabels, 0);
	assert_string_equal(cfg->enroll_token, "");
	vsm_agent_config_free(cfg);
}

static void
test_controller_write_default_round_trips(void **state)
{
	struct vsm_controller_init    init = {.dir = tmpdir};
	struct vsm_controller_config *cfg;
	struct vsm_err                err;
	struct stat                   st;
	char                          p[PATH_MAX + 32], want[PATH_MAX + 64];
	char                          real[PATH_MAX];

	snprintf(p, sizeof(p), "%s/controller-init.yaml", tmpdir);
	if (vsm_controller_config_write_default(p, &init, &err) == -1)
		fail_msg("%s", err.msg);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	if (vsm_controller_config_load(p, &cfg, &err) == -1)
		fail_msg("%s", err.msg);
	assert_non_null(realpath(tmpdir, real));
	assert_string_equal(cfg->listen, "tcp://0.0.0.0:4650");
	snprintf(want, sizeof(want), "ipc://%s/control.sock", real);
	assert_string_equal(cfg->control, want);
	snprintf(want, sizeof(want), "sqlite:%s/vsm.db", real);
	assert_string_equal(cfg->store, want);
	snprintf(want, sizeof(want), "%s/controller.key", real);
	assert_string_equal(cfg->key_file, want);
	assert_string_equal(cfg->data_dir, real);
	assert_int_equal(cfg->missed_heartbeats, 3);
	assert_int_equal(cfg->nschedules, 0);
	vsm_controller_config_free(cfg);

	assert_int_equal(
	    vsm_controller_config_write_default(p, &init, &err), -1);
	assert_non_null(strstr(err.msg, "already exists"));

	snprintf(p, sizeof(p), "%s/controller-2.yaml", tmpdir);
	init.listen = "tcp://:7000";
	if (vsm_controller_config_write_default(p, &init, &err) == -1)
		fail_msg("%s", err.msg);
	assert_int_equal(vsm_controller_config_load(p, &cfg, &err), 0);
	assert_string_equal(cfg->listen, "tcp://:7000");
	vsm_controller_config_free(cfg);

	snprintf(p, sizeof(p), "%s/controller-3.yaml", tmpdir);
	init.listen = "udp://x:1";
	assert_int_equal(
	    vsm_controller_config_write_default(p, &init, &err), -1);
	init.listen = NULL;
	init.dir = "/nonexistent/vsm";
	assert_int_equal(
	    vsm_controller_config_write_default(p, &init, &err), -1);
	assert_int_equal(access(p, F_OK), -1);
}

static void
test_durations(void **state)
{
	static const struct {
		const char *s;
		uint64_t    ms;
	} good[] = {
	    {"0s", 0},
	    {"250ms", 250},
	    {"30s", 30000},
	    {"5m", 300000},
	    {"1h", 3600000},
	    {"1h30m", 5400000},
	    {"7d", 604800000},
	    {"2w", 1209600000},
	    {"1m1s1ms", 61001},
	};
	static const char *const bad[] = {"", "30", "s", "5x", "1.5h", "-1s",
	    " 1s", "1s ", "1 s", "99999999999999999999s",
	    "18446744073709551615d"};
	struct vsm_err           err;
	uint64_t                 ms;
	char                     buf[64];
	size_t                   i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (vsm_duration_parse(good[i].s, &ms, &err) == -1)
			fail_msg("%s: %s", good[i].s, err.msg);
		assert_int_equal(ms, good[i].ms);
		vsm_duration_format(ms, buf, sizeof(buf));
		assert_int_equal(vsm_duration_parse(buf, &ms, &err), 0);
		assert_int_equal(ms, good[i].ms);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (vsm_duration_parse(bad[i], &ms, &err) != -1)
			fail_msg("'%s' parsed", bad[i]);
	vsm_duration_format(5400000, buf, sizeof(buf));
	assert_string_equal(buf, "1h30m");
	vsm_duration_format(604800000, buf, sizeof(buf));
	assert_string_equal(buf, "7d");
	vsm_duration_format(0, buf, sizeof(buf));
	assert_string_equal(buf, "0s");
}

static void
test_sizes(void **state)
{
	static const struct {
		const char *s;
		uint64_t    b;
	} good[] = {
	    {"0", 0},
	    {"4096", 4096},
	    {"4096B", 4096},
	    {"1KiB", 1024},
	    {"64MiB", 64ULL << 20},
	    {"1GiB", 1ULL << 30},
	    {"2TiB", 2ULL << 40},
	    {"10MB", 10000000},
	    {"1kB", 1000},
	    {"1GB", 1000000000},
	};
	static const char *const bad[] = {"", "MiB", "64mib", "64 MiB",
	    "1.5GiB", "-1", "64M", "99999999999TiB"};
	struct vsm_err           err;
	uint64_t                 b;
	char                     buf[64];
	size_t                   i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (vsm_size_parse(good[i].s, &b, &err) == -1)
			fail_msg("%s: %s", good[i].s, err.msg);
		assert_int_equal(b, good[i].b);
		vsm_size_format(b, buf, sizeof(buf));
		assert_int_equal(vsm_size_parse(buf, &b, &err), 0);
		assert_int_equal(b, good[i].b);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (vsm_size_parse(bad[i], &b, &err) != -1)
			fail_msg("'%s' parsed", bad[i]);
	vsm_size_format(64ULL << 20, buf, sizeof(buf));
	assert_string_equal(buf, "64MiB");
	vsm_size_format(1000, buf, sizeof(buf));
	assert_string_equal(buf, "1000B");
}

static void
test_urls_and_stores(void **state)
{
	static const struct {
		const char *url;
		int         flags;
		int         ok;
	} cases[] = {
	    {"tcp://127.0.0.1:4650", VSM_URL_TCP, 1},
	    {"tcp://ctl.example.net:1", VSM_URL_TCP, 1},
	    {"tcp://[::1]:4650", VSM_URL_TCP, 1},
	    {"tcp://[fe80::1]:65535", VSM_URL_TCP, 1},
	    {"tcp://:4650", VSM_URL_TCP, 0},
	    {"tcp://:4650", VSM_URL_TCP | VSM_URL_LISTEN, 1},
	    {"tcp://*:4650", VSM_URL_TCP | VSM_URL_LISTEN, 1},
	    {"tcp://*:4650", VSM_URL_TCP, 0},
	    {"tcp://h", VSM_URL_TCP, 0},
	    {"tcp://h:", VSM_URL_TCP, 0},
	    {"tcp://h:65536", VSM_URL_TCP, 0},
	    {"tcp://h:1/path", VSM_URL_TCP, 0},
	    {"tcp://[::1:1", VSM_URL_TCP, 0},
	    {"tcp://[zz]:1", VSM_URL_TCP, 0},
	    {"ipc:///run/vsm.sock", VSM_URL_IPC, 1},
	    {"ipc:///run/vsm.sock", VSM_URL_TCP, 0},
	    {"tcp://h:1", VSM_URL_IPC, 0},
	    {"ipc://run/vsm.sock", VSM_URL_IPC, 0},
	    {"tls+tcp://h:1", VSM_URL_TCP, 0},
	};
	struct vsm_err err;
	char           longipc[200];
	size_t         i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if ((vsm_url_check(cases[i].url, cases[i].flags, &err) == 0) !=
		    cases[i].ok)
			fail_msg("%s: want %s", cases[i].url,
			    cases[i].ok ? "ok" : "an error");
	snprintf(longipc, sizeof(longipc), "ipc:///%0120d", 0);
	assert_int_equal(vsm_url_check(longipc, VSM_URL_IPC, &err), -1);

	assert_int_equal(vsm_store_check("sqlite:/x.db", &err), 0);
	assert_int_equal(vsm_store_check("postgresql://h/db", &err), 0);
	assert_int_equal(vsm_store_check("postgres://h/db", &err), 0);
	assert_int_equal(vsm_store_check("postgresql://", &err), -1);
	assert_int_equal(vsm_store_check("sqlite3:/x", &err), -1);

	assert_true(vsm_conninfo_has_secret("host=x PASSWORD=y"));
	assert_true(vsm_conninfo_has_secret("mongodb://u:p@h/db"));
	assert_true(vsm_conninfo_has_secret("postgresql://h/db?password=x"));
	assert_false(vsm_conninfo_has_secret("mongodb://u@h/db"));
	assert_false(vsm_conninfo_has_secret("host=/run/postgresql user=vsm"));
	assert_false(vsm_conninfo_has_secret("mongodb://h:27017/a@b"));
}

static void
test_missing_file_is_an_error(void **state)
{
	struct vsm_agent_config *cfg;
	struct vsm_err           err;
	char                     p[PATH_MAX + 32];

	snprintf(p, sizeof(p), "%s/nope.yaml", tmpdir);
	assert_int_equal(vsm_agent_config_load(p, &cfg, &err), -1);
	assert_null(cfg);
	assert_non_null(strstr(err.msg, "No such file"));
	assert_int_equal(vsm_agent_config_load(tmpdir, &cfg, &err), -1);
	assert_non_null(strstr(err.msg, "not a regular file"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_examples_load),
	    cmocka_unit_test(test_agent_defaults_apply),
	    cmocka_unit_test(test_agent_module_sections),
	    cmocka_unit_test(test_agent_relative_paths_follow_the_file),
	    cmocka_unit_test(test_controller_defaults_apply),
	    cmocka_unit_test(test_agent_bad_files_name_the_line),
	    cmocka_unit_test(test_agent_command_params_load),
	    cmocka_unit_test(test_agent_bad_command_params_name_the_line),
	    cmocka_unit_test(test_controller_bad_files_name_the_line),
	    cmocka_unit_test(test_controller_schedule_keys_and_schedules_file),
	    cmocka_unit_test(test_secrets_readable_by_others_are_flagged),
	    cmocka_unit_test(test_key_file_open_to_others_is_refused),
	    cmocka_unit_test(test_agent_write_default_round_trips),
	    cmocka_unit_test(test_controller_write_default_round_trips),
	    cmocka_unit_test(test_durations),
	    cmocka_unit_test(test_sizes),
	    cmocka_unit_test(test_urls_and_stores),
	    cmocka_unit_test(test_missing_file_is_an_error),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
