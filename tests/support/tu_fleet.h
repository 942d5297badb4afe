/*
 * tu_fleet.h: a fleet of real processes on loopback for the integration
 * tests that need one (test_fleet.c, test_scheduler.c): a temporary
 * directory, `vsm-controller init` and `run` (1 s heartbeat), `vsm-agent
 * init` and `run` for a few agents, and the real vsmctl (`--json`, parsed
 * with jansson). Failures are cmocka assertions. The binaries' paths come
 * from the test (its CMake definitions).
 */
#ifndef VSM_TU_FLEET_H
#define VSM_TU_FLEET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#define TU_FLEET_WAIT_MS 60000   /* the bound for anything to happen */
#define TU_FLEET_OUT_CAP 1048576 /* vsmctl output: job logs of 50 tasks */
#define TU_FLEET_AGENTS  3
#define TU_FLEET_ORPHANS 32

struct tu_agent {
	char  name[32];
	char  dir[128];
	char  cfg[160];
	char  log[160];
	pid_t pid;
};

/* One vsmctl run: exit code and what it wrote. */
struct tu_out {
	int  rc;
	char out[TU_FLEET_OUT_CAP];
	char err[TU_FLEET_OUT_CAP];
};

struct tu_fleet {
	/* Set by the test before tu_fleet_init. */
	const char *controller_path;
	const char *agent_path;
	const char *vsmctl_path;
	const char *task_test_path; /* agents' task_binary, task_test */
	/* Filled by tu_fleet_init. */
	char            dir[64];
	char            cdir[96];
	char            ccfg[160];
	char            clog[128];
	char            url[64];
	char            key[64];
	char            token[80];
	pid_t           cpid;
	struct tu_agent ag[TU_FLEET_AGENTS];
	int             nag;
	pid_t           orphans[TU_FLEET_ORPHANS]; /* task process groups */
	int             norphans;
	int             task_test; /* agents run vsm-task-test (test modules) */
	struct tu_out  *ob;        /* the last tu_ctl_doc's output */
};

uint64_t tu_now_ms(void); /* monotonic */
void     tu_nap_ms(int ms);
/* Replace the first `from` in the file with `to` (asserts it is there). */
void tu_file_replace(const char *path, const char *from, const char *to);

/*
 * A directory (tu_mkdtemp: /tmp/vsm-PREFIX-<random>), a controller initialised
 * in it with a 1 s heartbeat, running and answering. The paths and `ob` (a
 * struct tu_out, large: keep it static) must be set; the rest is reset.
 */
void tu_fleet_init(struct tu_fleet *fl, const char *prefix);
/* Kill everything, remove the directory (VSM_KEEP_TMP=1 keeps it). */
void tu_fleet_teardown(struct tu_fleet *fl);
/* Start `vsm-controller run`; 0 once vsmctl gets an answer, or -1. */
int  tu_controller_start(struct tu_fleet *fl);
void tu_controller_kill9(struct tu_fleet *fl);
/*
 * `vsm-agent init` and `run` for NAME with the labels role=ROLE and
 * env=test and token (NULL: none), a 1 s heartbeat and the allowlist
 * sleeper (/bin/sleep 30) and nap (/bin/sleep 1).
 */
struct tu_agent *tu_agent_add(
    struct tu_fleet *fl, const char *name, const char *role, const char *token);
void tu_agent_start(struct tu_fleet *fl, struct tu_agent *a);
/* SIGKILL the agent, noting the task children it leaves behind. */
void tu_agent_kill9(struct tu_fleet *fl, struct tu_agent *a);
/* 1 once no task group an agent left behind is alive. */
int tu_task_groups_gone(void *fleet);

/* Run vsmctl --dir CDIR ARGS (NULL-terminated); fills o, returns o->rc. */
int tu_vsmctl_argv(struct tu_fleet *fl, struct tu_out *o, char *const args[]);
int tu_vsmctl(struct tu_fleet *fl, struct tu_out *o, const char *first, ...);
/*
 * vsmctl --json ARGS: the document (caller decrefs), or NULL when vsmctl
 * failed or printed no one JSON document (fl->ob holds what it said).
 */
json_t *tu_ctl_doc(struct tu_fleet *fl, const char *first, ...);

const char *tu_jstr(const json_t *obj, const char *key);
/* The element of the array whose "name" is name, or NULL. */
json_t *tu_by_name(json_t *arr, const char *name);
/* A task state that is final. */
int tu_is_final(const char *state);

/*
 * Wait until the first n agents are connected in `hosts` (and, when
 * facts, have facts); the hosts document (caller decrefs).
 */
json_t *tu_wait_connected(struct tu_fleet *fl, int n, int facts);
/* `job show ID` until cond(doc) holds; the document (caller decrefs). */
json_t *tu_wait_job(struct tu_fleet *fl, const char *id, int (*cond)(json_t *));
int     tu_first_task_running(json_t *job_show);
int     tu_all_tasks_final(json_t *job_show);

#endif /* VSM_TU_FLEET_H */
