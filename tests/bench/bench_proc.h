/*
 * bench_proc.h: real vsm processes for the benchmarks. A controller made
 * with `vsm-controller init` in a directory of its own and run on
 * loopback, real agents enrolled with its token, the control channel with
 * its admin key, and what /proc says about a process. The binaries are
 * the ones beside vsm-bench (build/bin).
 */
#ifndef VSM_BENCH_PROC_H
#define VSM_BENCH_PROC_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "chan.h"
#include "err.h"

#define BP_PATH 512

struct bp_controller {
	char  dir[BP_PATH / 2]; /* its data dir */
	char  cfg[BP_PATH];
	char  log[BP_PATH];
	char  url[64];
	char  key_b64[64];
	char  token[80];
	pid_t pid;
};

struct bp_agent {
	char  name[64];
	char  dir[BP_PATH / 2];
	char  cfg[BP_PATH];
	char  log[BP_PATH];
	pid_t pid;
};

/* A binary beside vsm-bench ("vsm-agent") into buf. 0 or -1 with err. */
int bp_bin(const char *name, char *buf, size_t len, struct vsm_err *err);

/* Replace the first `from` in a (small) file with `to`. 0 or -1 + err. */
int bp_file_replace(
    const char *path, const char *from, const char *to, struct vsm_err *err);

/*
 * `vsm-controller init` in TOP/controller with a token good for
 * token_uses agents, on a free loopback port. Then each "FROM=>TO" of
 * edits (NULL-terminated, or NULL) is applied to its config. 0 or -1.
 */
int bp_controller_init(struct bp_controller *c, const char *top,
    unsigned token_uses, const char *const *edits, struct vsm_err *err);
/* `run` it (stderr to c->log) and wait until the control socket answers. */
int bp_controller_start(struct bp_controller *c, struct vsm_err *err);
/* Stop it with sig (SIGTERM waits for a clean exit, up to 60 s, then
 * SIGKILL) and reap it. */
void bp_controller_stop(struct bp_controller *c, int sig);

/* The control channel with the controller's admin key. 0 or -1. */
int bp_ctl_open(const struct bp_controller *c, struct vsm_client **out,
    struct vsm_err *err);
/*
 * One control command with "key", "value" pairs ending in NULL. Returns
 * the CtlResponse status (0 ok) with the JSON document in *out (caller
 * decrefs; may be NULL), or -1 with err set when the call failed.
 */
int bp_ctl(struct vsm_client *cl, json_t **out, struct vsm_err *err,
    const char *cmd, ...) __attribute__((sentinel));

/*
 * `vsm-agent init` (in TOP/NAME, enrolled with the controller's token,
 * labels "k=v" NULL-terminated or NULL) and `run`. 0 or -1.
 */
int bp_agent_start(struct bp_agent *a, const struct bp_controller *c,
    const char *top, const char *name, const char *const *labels,
    struct vsm_err *err);
/*
 * Stop it with sig (SIGTERM: a clean stop, which can take up to one held
 * poll, heartbeat + 15 s) and reap it; SIGKILL after 60 s.
 */
void bp_agent_stop(struct bp_agent *a, int sig);
/*
 * Signal all n agents at once, then reap them; those still running after
 * grace_ms get SIGKILL. Never blocks much longer than grace_ms.
 */
void bp_agents_stop(struct bp_agent *a, size_t n, int sig, unsigned grace_ms);

/*
 * 1 while the child *pid runs; 0 once it has exited (it is reaped here
 * and *pid set to 0, so that no later kill can reach a reused pid).
 */
int bp_alive(pid_t *pid);
/* Resident set size in KiB, or 0 when unknown. */
uint64_t bp_rss_kib(pid_t pid);
/* User plus system CPU time in seconds, or -1 when unknown. */
double bp_cpu_s(pid_t pid);
/* What /proc/PID/status says about memory and threads. */
struct bp_status {
	uint64_t rss_kib;  /* VmRSS */
	uint64_t hwm_kib;  /* VmHWM, the peak RSS */
	uint64_t anon_kib; /* RssAnon */
	uint64_t file_kib; /* RssFile */
	unsigned threads;
};
/* Fill st from /proc/PID/status; 0, or -1 when the process is gone. */
int bp_status(pid_t pid, struct bp_status *st);
/* Proportional set size (smaps_rollup) in KiB, or 0 when unknown. */
uint64_t bp_pss_kib(pid_t pid);
/*
 * CPU time of all its live threads so far in ns (schedstat: finer than
 * the clock ticks of bp_cpu_s, but threads that have ended are not in
 * it), or 0.
 */
uint64_t bp_cpu_ns(pid_t pid);
/* Context switches of all its live threads so far (wake-ups), or 0. */
uint64_t bp_ctxsw(pid_t pid);
/*
 * RSS in KiB by what is mapped ("libc.so.6", "[heap]", "[stack]",
 * "[anon]" for anonymous memory: thread stacks, malloc arenas), from
 * /proc/PID/smaps. A new object (caller decrefs), or NULL.
 */
json_t *bp_rss_by_object(pid_t pid);
/*
 * SIGINT, SIGTERM and SIGHUP set a flag instead of killing vsm-bench, so
 * that a run interrupted by hand still stops its processes and removes
 * its directories: long waits look at bp_interrupted() (the signal, or 0).
 */
void bp_catch_signals(void);
int  bp_interrupted(void);
/* Sleep ms; -1 when vsm-bench was interrupted (bp_interrupted). */
int bp_nap_ms(unsigned ms);
/*
 * Raise a soft limit (RLIMIT_NOFILE, RLIMIT_NPROC) towards want, up to
 * the hard limit; returns the soft limit now. Children inherit it.
 */
unsigned long bp_raise_limit(int resource, unsigned long want);
/* The CPU's model name from /proc/cpuinfo into buf. */
void bp_cpu_model(char *buf, size_t len);
/* Monotonic and wall clocks, ms. */
uint64_t bp_mono_ms(void);
int64_t  bp_wall_ms(void);
/* A fresh directory /tmp/vsm-bench-WHAT-<random> into buf. 0 or -1. */
int bp_tmpdir(const char *what, char *buf, size_t len, struct vsm_err *err);
/*
 * rm -rf dir (a directory bp_tmpdir made), unless VSM_BENCH_KEEP is set
 * in the environment: then it is kept, for its logs, and said so.
 */
void bp_rmdir(const char *dir);

#endif /* VSM_BENCH_PROC_H */
