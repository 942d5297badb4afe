/*
 * runner.h: the agent's task runner (docs/tasks.md).
 *
 * Every task runs in a `vsm-task` child started with posix_spawn (never
 * fork: nng is not fork-safe) in a process group of its own. The runner
 * writes one TaskSpawn frame on the child's stdin and reads TaskEvent
 * frames (4-byte big-endian length, then the packed message) from the
 * child's fd 3 (an ARTIFACT event is passed on only for a file that is
 * there, whole, in the task's artifact directory). It enforces the timeout and
 * cancels (SIGTERM to the group, SIGKILL after a grace period), reaps the
 * child, and turns a crash into an ERROR result naming the signal. One thread
 * per running task; the number of running tasks is capped.
 */
#ifndef VSM_RUNNER_H
#define VSM_RUNNER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "vsm.pb-c.h"

#define RUNNER_TASK_MAX        64            /* hard cap on max_tasks */
#define RUNNER_SPAWN_MAX       (60 * 1024)   /* bytes of a packed TaskSpawn */
#define RUNNER_FRAME_MAX       (1024 * 1024) /* bytes of one child frame */
#define RUNNER_LINE_DEFAULT    4096
#define RUNNER_OUTPUT_DEFAULT  (1024 * 1024)
#define RUNNER_TIMEOUT_DEFAULT 3600 /* s, when nothing else says */
#define RUNNER_GRACE_DEFAULT   5000 /* ms between SIGTERM and SIGKILL */
#define RUNNER_ENV_MAX         32
#define RUNNER_ARGV_MAX        64 /* argv entries / ok codes of a command */
#define RUNNER_PARAMS_MAX      32 /* extra params of a command */
#define RUNNER_PATH                                                            \
	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct runner_limits {
	int      nice;       /* added to the child's niceness; 0: none */
	uint64_t cpu_s;      /* RLIMIT_CPU; 0: unlimited */
	uint64_t mem_bytes;  /* RLIMIT_AS; 0: unlimited */
	uint64_t open_files; /* RLIMIT_NOFILE; 0: inherited */
};

struct runner_config {
	const char *task_path; /* vsm-task; NULL: next to this binary */
	/*
	 * Where the family binaries (vsm-task-pg, ...) are; NULL: next to
	 * this binary (docs/tasks.md, "Task binaries").
	 */
	const char *task_dir;
	/*
	 * Each task may leave artifacts in ARTIFACT_DIR/TASK_ID (the child
	 * creates it); NULL: tasks get no artifact directory.
	 */
	const char *artifact_dir;
	/* agent.yaml, handed to every child (TaskSpawn.config_path); NULL:
	 * none, and modules that need it end ERROR. */
	const char          *config_path;
	unsigned             max_tasks; /* 0: 4 */
	struct runner_limits limits;
	uint32_t             default_timeout_s; /* 0: RUNNER_TIMEOUT_DEFAULT */
	uint32_t             grace_ms;          /* 0: RUNNER_GRACE_DEFAULT */
	uint32_t             max_line;          /* 0: RUNNER_LINE_DEFAULT */
	uint64_t             max_output;        /* 0: RUNNER_OUTPUT_DEFAULT */
	/*
	 * Names of environment variables the children keep (NULL-terminated
	 * or NULL). Children get PATH=RUNNER_PATH, LANG=C and these only.
	 */
	const char *const *env_allow;
};

/* An extra typed parameter an allowlisted command accepts. */
struct runner_param {
	const char        *name;
	const char        *pattern;     /* POSIX ERE, anchored; or NULL */
	const char *const *enum_values; /* NULL-terminated; or NULL */
	int                allow_dash;  /* a value may start with '-' */
	int                required;
	const char        *flag; /* put before the value ("--since"); or NULL */
};

/* One entry of the agent's command allowlist (argv, never a shell). */
struct runner_cmd {
	const char                *name; /* NAME of the exec.NAME task */
	const char *const         *argv; /* NULL-terminated; argv[0] absolute */
	uint32_t                   timeout_s; /* caps the task's; 0: none */
	const struct runner_param *params;
	size_t                     nparams;
	const int                 *ok_codes; /* NULL: only 0 is ok */
	size_t                     nok_codes;
};

/*
 * Called from the task's runner thread for every event: STARTED, LOG,
 * PROGRESS and exactly one RESULT, always last. The event and everything
 * it points to belong to the runner and are valid only during the call;
 * copy what you keep. By the time RESULT is delivered the child has been
 * reaped, its process group killed and its slot freed (runner_start may be
 * called from the callback).
 */
typedef void runner_event_cb(void *arg, const Vsm__TaskEvent *ev);

struct runner;

/* A new runner; NULL with err set. Copies what it needs from cfg. */
struct runner *runner_new(const struct runner_config *cfg, struct vsm_err *err);
/*
 * Cancel every running task, wait for their threads (callbacks still run,
 * each task ends with its RESULT) and free the runner. NULL is a no-op.
 */
void runner_free(struct runner *r);

/*
 * Start a task. cmd is the allowlist entry for an exec.NAME task (NULL
 * otherwise, or when the name is not in the allowlist: the child then
 * refuses the task). Returns 0 when the task was started: its events,
 * ending with one RESULT, go to cb. Returns -1 with err set and cb never
 * called when the runner is full (errno EBUSY), the task is too large or
 * the child could not be started. Does not block on the child.
 */
int runner_start(struct runner *r, const Vsm__Task *task,
    const struct runner_cmd *cmd, runner_event_cb *cb, void *arg,
    struct vsm_err *err);

/*
 * Cancel a running task: SIGTERM to its process group, SIGKILL after the
 * grace period; it ends as CANCELLED unless its result was already in.
 * 0 when the task was running, -1 when no such task runs.
 */
int runner_cancel(struct runner *r, const char *task_id);

/*
 * The modules the task binaries offer ("sys.disk", "exec.*"), listed when
 * the runner was made; *names stays owned by the runner. Their count.
 */
size_t runner_modules(const struct runner *r, char *const **names);

/* How many more tasks runner_start will take now. */
unsigned runner_slots(struct runner *r);

/* "SIGSEGV" for SIGSEGV; "signal 77" for what has no name. */
const char *runner_signame(int sig, char *buf, size_t len);

#endif /* VSM_RUNNER_H */
