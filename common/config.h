/*
 * config.h: agent.yaml and controller.yaml (docs/config.md lists every key).
 *
 * A config file is one YAML mapping read with libyaml's document loader
 * and checked against a table of keys. Every error is one line of the form
 * "FILE:LINE: key.path: message"; unknown keys, duplicate keys, wrong types
 * and out-of-range values are errors, never ignored. Relative paths in a
 * file are taken relative to the directory of that file.
 */
#ifndef VSM_CONFIG_H
#define VSM_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "keyfile.h"
#include "selector.h"

#define VSM_CFG_FILE_MAX        (1024 * 1024) /* bytes in a config file */
#define VSM_CFG_PATH_MAX        1024
#define VSM_CFG_URL_MAX         512
#define VSM_CFG_STR_MAX         256 /* tokens, host names, short strings */
#define VSM_CFG_CONNINFO_MAX    1024
#define VSM_CFG_CONTROLLERS_MAX 8
#define VSM_CFG_LABELS_MAX      64
#define VSM_CFG_COMMANDS_MAX    256
#define VSM_CFG_ARGV_MAX        64
#define VSM_CFG_ARG_MAX         4096
#define VSM_CFG_SCHEDULES_MAX   1024
#define VSM_CFG_PARAMS_MAX      64
#define VSM_CFG_PARAM_MAX       4096 /* bytes in one schedule param value */
#define VSM_CFG_CMD_PARAMS_MAX  32   /* typed params of one command */
#define VSM_CFG_PARAM_NAME_MAX  32   /* characters in a command param name */
#define VSM_CFG_PATTERN_MAX     1024 /* bytes in a param pattern, with NUL */
#define VSM_CFG_ENUM_MAX        64   /* values of one enum param */
#define VSM_CFG_FLAG_MAX        64   /* bytes in a param flag, with NUL */
#define VSM_CFG_OK_CODES_MAX    64   /* ok exit codes of one command */
#define VSM_CFG_COMMAND_BYTES   (32 * 1024) /* argv and params of one */

#define VSM_CFG_LIST_MAX     64  /* entries in a string list */
#define VSM_CFG_ENV_MAX      32  /* runner.env names */
#define VSM_CFG_ENV_NAME_MAX 128 /* bytes of one, with the NUL */

#define VSM_DEFAULT_PORT 4650

/* A list of strings read from a YAML sequence (or one scalar). */
struct vsm_strlist {
	char **v; /* n strdup'd strings */
	size_t n;
};

/* Append a copy of s. 0, or -1 when out of memory. */
int vsm_strlist_add(struct vsm_strlist *l, const char *s);
/* Free the strings and the array; the list is left empty. */
void vsm_strlist_clear(struct vsm_strlist *l);
/*
 * 1 when path, absolute and without "..", lies under one of the
 * directories of l (the directory itself counts): a purely textual test;
 * callers that open the file also check what it resolves to.
 */
int vsm_strlist_has_prefix_dir(const struct vsm_strlist *l, const char *path);

/* Durations and sizes (config_util.c). */

/*
 * "30s", "5m", "1h30m", "7d", "250ms", "2w": one or more NUMBER UNIT
 * groups, units ms s m h d w. A bare number is refused (the unit is never
 * guessed). 0 or -1 with err set.
 */
int vsm_duration_parse(const char *s, uint64_t *ms, struct vsm_err *err);
/* The shortest exact form of ms ("90s" -> "1m30s", 0 -> "0s"). */
void vsm_duration_format(uint64_t ms, char *buf, size_t len);

/*
 * "64MiB", "512KiB", "1GiB", "1TiB" (powers of 1024), "10MB", "1GB"
 * (powers of 1000), "4096" or "4096B" (bytes). 0 or -1 with err set.
 */
int vsm_size_parse(const char *s, uint64_t *bytes, struct vsm_err *err);
/* The exact IEC form of bytes ("64MiB"), or plain bytes ("1000B"). */
void vsm_size_format(uint64_t bytes, char *buf, size_t len);

#define VSM_URL_TCP    0x1 /* tcp://HOST:PORT */
#define VSM_URL_IPC    0x2 /* ipc:///absolute/path */
#define VSM_URL_LISTEN 0x4 /* a listener: HOST may be empty or '*' */
/*
 * Check an nng URL of one of the kinds in flags. HOST is a name, an IPv4
 * address or a bracketed IPv6 address; PORT is 1-65535. 0 or -1.
 */
int vsm_url_check(const char *url, int flags, struct vsm_err *err);

/* "sqlite:PATH" or "postgresql://..." / "postgres://...". 0 or -1. */
int vsm_store_check(const char *uri, struct vsm_err *err);

/*
 * 1 when a connection string carries a password: "password=" in a libpq
 * keyword string or "user:secret@" in a URI.
 */
int vsm_conninfo_has_secret(const char *s);

/* The agent. */

/*
 * A typed parameter an allowlisted command accepts. Exactly one of pattern
 * and enum_values is set. A value goes into argv as one element, after
 * flag when there is one.
 */
struct vsm_command_param {
	char  *name;        /* 1-32 of a-z 0-9 _, starting with a letter */
	char  *pattern;     /* POSIX ERE, matched whole: ^(pattern)$ */
	char **enum_values; /* nenum entries and a NULL */
	size_t nenum;
	int    allow_dash; /* a value may start with '-' */
	int    required;
	char  *flag; /* "--since", put before the value; NULL: none */
};

/* One entry of the command allowlist: run with argv, never a shell. */
struct vsm_command {
	char                     *name; /* as the controller names it */
	char                    **argv; /* argc entries and a NULL */
	size_t                    argc;
	uint64_t                  timeout_ms; /* 0: the task's deadline alone */
	struct vsm_command_param *params;     /* in argv order */
	size_t                    nparams;
	int                      *ok_codes; /* 0-255; NULL: only 0 is ok */
	size_t                    nok_codes;
};

struct vsm_agent_config {
	char              path[VSM_CFG_PATH_MAX]; /* the file loaded */
	char              name[VSM_NAME_MAX + 1];
	struct vsm_label *labels; /* strings owned by the config */
	size_t            nlabels;
	char            **controllers; /* tcp:// URLs, tried in order */
	size_t            ncontrollers;
	uint8_t           controller_key[VSM_KEY_LEN];
	char              controller_key_b64[VSM_KEY_B64LEN];
	char              enroll_token[VSM_CFG_STR_MAX]; /* "" when none */
	char              key_file[VSM_CFG_PATH_MAX];
	char              data_dir[VSM_CFG_PATH_MAX];
	char              spool_dir[VSM_CFG_PATH_MAX];
	uint64_t          spool_max; /* bytes */
	uint64_t          heartbeat_ms;
	int               log_level; /* enum vsm_log_level */
	struct {
		char task_binary[VSM_CFG_PATH_MAX]; /* "": beside the agent */
		unsigned max_tasks;
		int      nice;
		uint64_t cpu_ms;     /* RLIMIT_CPU (whole s); 0: unlimited */
		uint64_t mem_bytes;  /* RLIMIT_AS; 0: unlimited */
		uint64_t open_files; /* RLIMIT_NOFILE */
		/* Names of environment variables task children keep
		 * (PGPASSWORD, PGSSLMODE, ...); at most 32. */
		struct vsm_strlist env;
	} runner;
	struct vsm_command *commands;
	size_t              ncommands;
	struct {
		char conninfo[VSM_CFG_CONNINFO_MAX]; /* "" : libpq defaults */
		char passfile[VSM_CFG_PATH_MAX];     /* "" : ~/.pgpass */
	} postgres;
	struct {
		char     socket[VSM_CFG_PATH_MAX]; /* "" : use host and port */
		char     host[VSM_CFG_STR_MAX];
		unsigned port;
		char     password[VSM_CFG_STR_MAX]; /* "" : none */
	} redis;
	struct {
		char uri[VSM_CFG_CONNINFO_MAX];
	} mongo;
	/*
	 * What the host runs: 1 when agent.yaml has the section, so
	 * sys.health checks PostgreSQL, Redis and MongoDB only where they
	 * are (docs/modules.md).
	 */
	int has_postgres, has_redis, has_mongo;
	struct {
		/* URL prefixes http.check and cert.check may reach. */
		struct vsm_strlist allow;
	} http;
	struct {
		struct vsm_strlist dirs;       /* logs.scan reads under these */
		struct vsm_strlist clean_dirs; /* logs.clean deletes under */
		char auth_log[VSM_CFG_PATH_MAX]; /* auth.failed_logins */
	} logs;
	struct {
		struct vsm_strlist dirs; /* cert.check reads PEM files under */
	} certs;
	struct {
		struct vsm_strlist
		    units; /* systemd units sys.services checks */
		/* Allowlisted command that prints the state of the units
		 * appended to its argv (systemctl show ...); "": none. */
		char systemctl_command[VSM_CFG_STR_MAX];
		/* Allowlisted command that prints `docker compose ps
		 * --format json`; "": none. */
		char compose_command[VSM_CFG_STR_MAX];
	} services;
	struct {
		char alarms_url[VSM_CFG_URL_MAX];     /* "": no alarm check */
		char alarms_pointer[VSM_CFG_STR_MAX]; /* JSON pointer */
	} health;
	/* Secrets are in the file and group or others can read it. */
	int secrets_exposed;
};

/*
 * Load and check an agent config. On success *out is owned by the caller
 * (vsm_agent_config_free) and 0 is returned; on error *out is NULL and err
 * holds "FILE:LINE: message". A file that holds secrets and is readable
 * by group or others loads, with a warning logged and secrets_exposed set.
 */
int vsm_agent_config_load(
    const char *path, struct vsm_agent_config **out, struct vsm_err *err);
void vsm_agent_config_free(struct vsm_agent_config *cfg);
/* The allowlisted command called name, or NULL. */
const struct vsm_command *vsm_agent_command_find(
    const struct vsm_agent_config *cfg, const char *name);

/* What `vsm-agent init` knows; the rest of the file gets the defaults. */
struct vsm_agent_init {
	const char             *dir;            /* data directory; must exist */
	const char             *name;           /* host name */
	const char             *controller;     /* tcp://HOST:PORT */
	const char             *controller_key; /* base64, 44 characters */
	const char             *token;          /* enrollment token or NULL */
	const struct vsm_label *labels;
	size_t                  nlabels;
};

/*
 * Write a commented agent.yaml to path: atomically (temporary file, fsync,
 * link), mode 0600, never over an existing file, and only after the new
 * file has loaded cleanly. Paths in it are absolute (dir is resolved).
 * 0 or -1 with err set.
 */
int vsm_agent_config_write_default(
    const char *path, const struct vsm_agent_init *init, struct vsm_err *err);

/* The controller. */

enum vsm_overlap {
	VSM_OVERLAP_SKIP = 0, /* a run still going: skip this one */
	VSM_OVERLAP_QUEUE,    /* start it when the previous run ends */
	VSM_OVERLAP_ALLOW,    /* run both */
	VSM_OVERLAP_REPLACE,  /* cancel the previous run, start this one */
};

enum vsm_window_policy {
	VSM_WINDOW_WAIT = 0, /* outside the window: wait for it to open */
	VSM_WINDOW_SKIP,     /* outside the window: skip the run */
};

/* A schedule as config-as-code; the scheduler gives it meaning. */
struct vsm_schedule_config {
	char              name[VSM_NAME_MAX + 1];
	char              module[VSM_NAME_MAX + 1];
	struct vsm_label *params; /* strings owned by the config */
	size_t            nparams;
	char              target[VSM_SELECTOR_MAX + 1]; /* a valid selector */
	char              cron[VSM_CFG_STR_MAX];
	char              tz[VSM_CFG_STR_MAX];     /* "" : the controller's */
	char              window[VSM_CFG_STR_MAX]; /* "" : none */
	enum vsm_window_policy window_policy;
	unsigned               max_parallel;     /* 0 : no limit */
	int                    max_parallel_pct; /* max_parallel is a % */
	enum vsm_overlap       overlap;
	uint64_t               timeout_ms;     /* one task; 0 : 1h */
	uint64_t               run_timeout_ms; /* the whole run; 0 : none */
	uint64_t               splay_ms;       /* hosts start over this span */
	uint64_t               starting_deadline_ms; /* 0 : 1h */
	unsigned               retries;
	int                    enabled;
	size_t                 line; /* where it starts in its file */
	int                    in_schedules_file; /* from schedules_file */
};

struct vsm_controller_config {
	char     path[VSM_CFG_PATH_MAX];
	char     listen[VSM_CFG_URL_MAX];
	char     control[VSM_CFG_URL_MAX];
	char     key_file[VSM_CFG_PATH_MAX];
	char     data_dir[VSM_CFG_PATH_MAX];
	char     store[VSM_CFG_CONNINFO_MAX];
	char     backup_dir[VSM_CFG_PATH_MAX];
	uint64_t heartbeat_ms;
	unsigned missed_heartbeats;
	unsigned agent_concurrency;
	unsigned contexts;
	uint64_t max_payload;       /* bytes */
	uint64_t artifact_max_size; /* largest artifact an agent may upload */
	uint64_t artifact_min_free; /* disk kept free under uploads */
	int      log_level;
	struct vsm_schedule_config *schedules;
	size_t                      nschedules;
	char schedules_file[VSM_CFG_PATH_MAX]; /* more schedules; "" */
	int  secrets_exposed;
};

/* As vsm_agent_config_load. */
int vsm_controller_config_load(
    const char *path, struct vsm_controller_config **out, struct vsm_err *err);
void vsm_controller_config_free(struct vsm_controller_config *cfg);

struct vsm_controller_init {
	const char *dir;    /* data directory; must exist */
	const char *listen; /* NULL: tcp://0.0.0.0:4650 */
};

/* As vsm_agent_config_write_default. */
int vsm_controller_config_write_default(const char *path,
    const struct vsm_controller_init *init, struct vsm_err *err);

#endif /* VSM_CONFIG_H */
