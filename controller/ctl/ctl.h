/*
 * ctl.h: vsmctl, the operator's command-line tool (docs/vsmctl.md).
 *
 * Every command is one row of the table in vsmctl.c: { name, fn, usage,
 * help }. A name may be two words ("keys accept", "job show"); the usage
 * text and `help` are generated from the table. A family of commands
 * lives in its own file (ctl_hosts.c, ctl_keys.c, ...); adding a command
 * is adding a row and a function, adding a family is adding a file.
 *
 * A command function returns the exit status: CTL_OK, CTL_FAIL (the
 * operation failed) or CTL_USAGE (bad usage), having printed exactly one
 * line on stderr for any error (ctl_fail(), ctl_usage()).
 */
#ifndef VSM_CTL_H
#define VSM_CTL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "chan.h"
#include "keyfile.h"

#define CTL_OK    0
#define CTL_FAIL  1
#define CTL_USAGE 2

#define CTL_DATA_DIR   "/var/lib/vsm/controller"
#define CTL_CALL_MS    30000 /* one request and its answer */
#define CTL_CONNECT_MS 15000 /* the handshake */
#define CTL_MAX_ARGS   64    /* arguments in one CtlRequest */
#define CTL_POLL_MS    500   /* run --wait, job logs --follow */

struct ctl;

struct ctl_cmd {
	const char *name; /* "keys accept" */
	int (*fn)(struct ctl *, int, char **);
	const char *usage; /* "keys accept ID" */
	const char *help;
};

/* What main() parsed, and the session once one is open. */
struct ctl {
	const char           *dir;     /* data dir: defaults come from it */
	const char           *control; /* URL */
	const char           *keyfile; /* operator key */
	const char           *ctlkey;  /* controller key: base64 or a file */
	int                   json;    /* --json */
	const struct ctl_cmd *cmd;     /* the command running */
	struct vsm_client    *cl;
	struct vsm_keypair    key;
	uint8_t               srvkey[VSM_KEY_LEN];
};

/* A CtlRequest's arguments: pointers into argv or literals, never owned. */
struct ctl_args {
	const char *key[CTL_MAX_ARGS];
	const char *val[CTL_MAX_ARGS];
	size_t      n;
};

/* Command-line options of one command (ctl_parse()). */
enum ctl_opt_kind {
	CTL_OPT_FLAG, /* int *: set to 1 */
	CTL_OPT_STR,  /* const char **: the value */
	CTL_OPT_LIST, /* struct ctl_args *: appended under `arg` */
};

struct ctl_opt {
	const char       *name; /* "--uses" */
	enum ctl_opt_kind kind;
	void             *p;
	const char       *arg; /* CTL_OPT_LIST: the request argument name */
};

/* ctl_util.c */
int ctl_fail(struct ctl *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
int ctl_usage(struct ctl *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
int ctl_parse(
    struct ctl *, int, char **, const struct ctl_opt *, const char **, size_t);
int  ctl_arg(struct ctl *, struct ctl_args *, const char *, const char *);
int  ctl_print_json(struct ctl *, json_t *);
void ctl_ago(int64_t, char *, size_t);
void ctl_when(int64_t, char *, size_t);
void ctl_pct(json_t *, char *, size_t);
const char *ctl_str(json_t *, const char *);
int64_t     ctl_int(json_t *, const char *);
int64_t     ctl_now(void);
void        ctl_sleep_ms(int);

/* A text table: rows of cells, printed with aligned columns. */
struct ctl_table;
struct ctl_table *ctl_table_new(size_t);
int               ctl_table_add(struct ctl_table *, ...);
void              ctl_table_print(struct ctl_table *);
void              ctl_table_free(struct ctl_table *);

/* ctl_client.c */
int  ctl_call(struct ctl *, const char *, const struct ctl_args *, json_t **);
int  ctl_call_list(struct ctl *, const char *, const struct ctl_args *,
     const char *, json_t **, int *);
void ctl_close(struct ctl *);

/* ctl_hosts.c */
int cmd_hosts(struct ctl *, int, char **);
int cmd_host_show(struct ctl *, int, char **);

/* ctl_keys.c */
int cmd_keys_list(struct ctl *, int, char **);
int cmd_keys_accept(struct ctl *, int, char **);
int cmd_keys_reject(struct ctl *, int, char **);
int cmd_keys_revoke(struct ctl *, int, char **);
int cmd_keys_token(struct ctl *, int, char **);

/* ctl_run.c */
int cmd_run(struct ctl *, int, char **);

/* ctl_jobs.c */
int cmd_jobs(struct ctl *, int, char **);
int cmd_job_show(struct ctl *, int, char **);
int cmd_job_logs(struct ctl *, int, char **);
int cmd_job_cancel(struct ctl *, int, char **);
int ctl_job_follow(struct ctl *, const char *, int, json_t *);
int ctl_job_wait(struct ctl *, const char *);

/* ctl_audit.c */
int cmd_audit(struct ctl *, int, char **);

/* ctl_schedule_next.c */
int cmd_schedule_next(struct ctl *, int, char **);

/* ctl_schedule.c */
int cmd_schedule_list(struct ctl *, int, char **);
int cmd_schedule_show(struct ctl *, int, char **);
int cmd_schedule_add(struct ctl *, int, char **);
int cmd_schedule_rm(struct ctl *, int, char **);
int cmd_schedule_enable(struct ctl *, int, char **);
int cmd_schedule_disable(struct ctl *, int, char **);
int cmd_schedule_fire(struct ctl *, int, char **);

#endif /* VSM_CTL_H */
