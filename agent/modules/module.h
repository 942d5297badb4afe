/*
 * module.h: the task modules of vsm-task and their context (docs/tasks.md).
 *
 * A module is one row in the table of table.c. vsm-task looks the task's
 * module up, parses its parameters against the module's param table,
 * calls validate (refuse before anything runs), then run. run reports
 * through the task_ctx helpers and ends with exactly one task_finish.
 */
#ifndef VSM_MODULE_H
#define VSM_MODULE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "artifact.h"
#include "config.h"
#include "err.h"
#include "params.h"
#include "vsm.pb-c.h"

#define TASK_FRAME_MAX (1024 * 1024)  /* as RUNNER_FRAME_MAX */
#define TASK_LINE_MARK " [continued]" /* ends every piece of a split line */

struct task_ctx {
	int                      fd; /* events out: fd 3 */
	const Vsm__TaskSpawn    *spawn;
	const Vsm__Task         *task;
	size_t                   max_line;
	uint64_t                 max_output;
	uint64_t                 out_bytes;     /* LogLine bytes sent */
	uint64_t                 dropped_bytes; /* over max_output, not sent */
	uint64_t                 dropped_lines;
	int                      capped; /* max_output reached */
	int                      finished;
	struct vsm_agent_config *cfg; /* task_config() loads it once */
};

struct task_module {
	const char              *name;   /* "sys.disk", or "exec." for family */
	int                      family; /* name is a prefix */
	const struct param_spec *params; /* NULL: none accepted */
	int                      raw_params; /* validate reads task->params */
	/* Extra checks after params_parse; NULL: none. 0 or -1 with err. */
	int (*validate)(
	    struct task_ctx *, const struct task_params *, struct vsm_err *);
	/* Do the work; ends with task_finish (0) or returns -1. */
	int (*run)(struct task_ctx *, const struct task_params *);
	/*
	 * Called from the SIGTERM handler (async-signal-safe only) when the
	 * runner cancels or times out. NULL: SIGTERM kills vsm-task.
	 */
	void (*cancel)(struct task_ctx *);
};

/*
 * The binary's module table, NULL-terminated: modules/table.c for vsm-task,
 * modules/FAMILY/table.c for vsm-task-FAMILY.
 */
extern const struct task_module *const task_modules[];

/* task_lookup.c */
const struct task_module        *task_module_find(const char *name);
const struct task_module *const *task_module_all(void);

/* task_ctx.c: frames to the runner. All return 0, or -1 on a write error. */
int task_emit_line(struct task_ctx *ctx, Vsm__LogLine__Stream stream,
    const char *buf, size_t len);
/* The first len bytes of a line longer than the caller can hold. */
int task_emit_partial(struct task_ctx *ctx, Vsm__LogLine__Stream stream,
    const char *buf, size_t len);
int task_emit_log(struct task_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int task_emit_progress(
    struct task_ctx *ctx, unsigned percent, const char *note);
/*
 * Send the one result. result (borrowed; may be NULL) gets the output
 * counters added when output was dropped. summary and error may be NULL.
 */
int task_finish(struct task_ctx *ctx, Vsm__TaskStatus status,
    const char *summary, json_t *result, int exit_code, const char *error);
int task_finish_error(struct task_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * Artifacts (task_artifact.c): a file the task leaves for the controller,
 * written through task_artifact_write (which hashes it as it goes) into
 * the task's artifact directory. task_artifact_finish makes it durable
 * and announces it; the agent then uploads it and deletes it once the
 * controller holds it whole. On any error the file is removed.
 */
struct task_artifact {
	int                      fd;
	uint64_t                 size;
	crypto_generichash_state hash;
	char                     name[VSM_ARTIFACT_NAME_MAX + 1];
	char                     path[4096];
};
/* Create NAME (0600, never replacing a file). 0 or -1 with err set. */
int task_artifact_create(struct task_ctx *ctx, const char *name,
    struct task_artifact *a, struct vsm_err *err);
int task_artifact_write(
    struct task_artifact *a, const void *buf, size_t len, struct vsm_err *err);
/* fsync, close and announce. 0, or -1 with err set and the file gone. */
int task_artifact_finish(
    struct task_ctx *ctx, struct task_artifact *a, struct vsm_err *err);
/* Close and remove a file that will not be finished. */
void task_artifact_abort(struct task_artifact *a);
/* task_ctx.c: the ARTIFACT event itself. */
int task_emit_artifact(struct task_ctx *ctx, const char *name, uint64_t size,
    const uint8_t hash[VSM_ARTIFACT_HASH_LEN]);

/*
 * task_config.c: the agent's agent.yaml (TaskSpawn.config_path), loaded
 * on first use and kept for the task's life. Connections, passwords,
 * allowed directories and URL prefixes come from here, never from the
 * task. NULL with err set when the agent sent no path or the file does
 * not load.
 */
const struct vsm_agent_config *task_config(
    struct task_ctx *ctx, struct vsm_err *err);

/* task_ctx.c: the wall clock (Unix ms) and a monotonic clock (ms). */
uint64_t task_now_ms(void);
uint64_t task_mono_ms(void);

/* 1 once SIGTERM arrived (cancel or timeout). */
int  task_cancelled(void);
void task_set_cancelled(void);

/*
 * task_ctx.c: copy len bytes of in to out (which may be in; len bytes, not
 * terminated): bytes of invalid UTF-8 and controls other than tab become
 * '?'. Never fails.
 */
void task_text_clean(const char *in, size_t len, char *out);

/* Status for a value against warn and fail thresholds (value >= t). */
Vsm__TaskStatus task_threshold(double value, double warn, double fail);
/* The worse of a and b: ok < warn < fail < error < any other; a on a tie. */
Vsm__TaskStatus task_status_worse(Vsm__TaskStatus a, Vsm__TaskStatus b);
const char     *task_status_name(Vsm__TaskStatus s);

extern const struct task_module mod_sys_ping;
extern const struct task_module mod_sys_facts;
extern const struct task_module mod_sys_disk;
extern const struct task_module mod_sys_memory;
extern const struct task_module mod_sys_load;
extern const struct task_module mod_exec;
extern const struct task_module mod_logs_scan;
extern const struct task_module mod_logs_rotate;
extern const struct task_module mod_logs_clean;
extern const struct task_module mod_cert_renew;
extern const struct task_module mod_auth_failed_logins;
extern const struct task_module mod_security_audit;
extern const struct task_module mod_sys_services;
#ifdef VSM_TEST_MODULES
extern const struct task_module mod_test_crash;
extern const struct task_module mod_test_limits;
extern const struct task_module mod_test_badframe;
extern const struct task_module mod_test_artifact;
#endif

#endif /* VSM_MODULE_H */
