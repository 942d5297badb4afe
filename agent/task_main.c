/*
 * task_main.c: vsm-task, the child that runs one task (docs/tasks.md).
 *
 * Started by the agent's runner only: stdin carries one length-delimited
 * TaskSpawn, fd 3 takes the TaskEvent frames. The child applies its
 * niceness and resource limits, looks the module up in the table, checks
 * the parameters (refusing before anything runs) and runs the module,
 * which ends with exactly one result. Exit status: 0 when a result was
 * sent, 1 when the runner could not be told, 2 on a bad start.
 *
 * `vsm-task --list-modules` prints the module table instead, one name a
 * line; a family prints as its prefix and '*' ("exec.*"). The agent runs
 * it once at start to tell the controller what it can run.
 */
#include <sys/prctl.h>
#include <sys/resource.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "modules/module.h"

#define TASK_SPAWN_MAX (64 * 1024)
#define TASK_EVENT_FD  3

static struct task_ctx           task_main_ctx;
static const struct task_module *task_main_mod;

static int
task_read_full(int fd, uint8_t *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = read(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		if (n == 0)
			return (-1);
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

/* The TaskSpawn on stdin; NULL when it is missing or malformed. */
static Vsm__TaskSpawn *
task_read_spawn(void)
{
	Vsm__TaskSpawn *sp = NULL;
	uint8_t         hdr[4], *buf = NULL;
	uint32_t        len;

	if (task_read_full(0, hdr, sizeof(hdr)) == -1)
		goto out;
	len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	    (uint32_t)hdr[2] << 8 | hdr[3];
	if (len > TASK_SPAWN_MAX || (buf = malloc(len ? len : 1)) == NULL ||
	    task_read_full(0, buf, len) == -1)
		goto out;
	sp = vsm__task_spawn__unpack(NULL, len, buf);
out:
	free(buf);
	return (sp);
}

static int
task_setlimit(int res, uint64_t soft, uint64_t hard, const char *name,
    struct vsm_err *err)
{
	struct rlimit rl;

	rl.rlim_cur = (rlim_t)soft;
	rl.rlim_max = (rlim_t)hard;
	if (setrlimit(res, &rl) == -1)
		return (vsm_err_set(err, "setrlimit %s %llu: %s", name,
		    (unsigned long long)soft, strerror(errno)));
	return (0);
}

/* Niceness and rlimits from the spawn request. 0 or -1 with err. */
static int
task_apply_limits(const Vsm__TaskLimits *l, struct vsm_err *err)
{
	if (task_setlimit(RLIMIT_CORE, 0, 0, "RLIMIT_CORE", err) == -1)
		return (-1);
	if (l == NULL)
		return (0);
	if (l->nice != 0) {
		errno = 0;
		if (nice(l->nice) == -1 && errno != 0)
			return (vsm_err_set(
			    err, "nice %d: %s", l->nice, strerror(errno)));
	}
	/* SIGXCPU at the soft limit, SIGKILL a few seconds later. */
	if (l->cpu_s != 0 &&
	    task_setlimit(
	        RLIMIT_CPU, l->cpu_s, l->cpu_s + 5, "RLIMIT_CPU", err) == -1)
		return (-1);
	if (l->mem_bytes != 0 &&
	    task_setlimit(
	        RLIMIT_AS, l->mem_bytes, l->mem_bytes, "RLIMIT_AS", err) == -1)
		return (-1);
	if (l->open_files != 0 &&
	    task_setlimit(RLIMIT_NOFILE, l->open_files, l->open_files,
	        "RLIMIT_NOFILE", err) == -1)
		return (-1);
	return (0);
}

static void
task_on_term(int sig)
{
	int saved = errno;

	task_set_cancelled();
	if (task_main_mod != NULL && task_main_mod->cancel != NULL)
		task_main_mod->cancel(&task_main_ctx);
	else {
		signal(SIGTERM, SIG_DFL);
		raise(SIGTERM);
	}
	errno = saved;
}

/*
 * The agent died (even by SIGKILL): take the whole process group, this
 * child and the command it runs, down with it rather than leave them
 * running unsupervised. The restarted agent reports the task as failed.
 */
static void
task_on_orphan(int sig)
{
	kill(0, SIGKILL);
	_exit(1);
}

/*
 * Ask for SIGHUP when the agent goes (its runner spawns every task from
 * one long-lived thread, which is what the parent-death signal follows).
 */
static void
task_watch_parent(void)
{
	struct sigaction sa;
	pid_t            parent = getppid();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = task_on_orphan;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
	if (prctl(PR_SET_PDEATHSIG, SIGHUP) == -1)
		log_warn("prctl(PR_SET_PDEATHSIG)");
	/* The agent may have died before the prctl took effect. */
	if (getppid() != parent)
		task_on_orphan(SIGHUP);
}

/* Print the module table, one name a line. 0, or 1 when stdout fails. */
static int
task_list_modules(void)
{
	const struct task_module *const *m;

	for (m = task_module_all(); *m != NULL; m++)
		printf("%s%s\n", (*m)->name, (*m)->family ? "*" : "");
	return (fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1);
}

int
main(int argc, char *argv[])
{
	struct task_ctx          *ctx = &task_main_ctx;
	struct task_params        tp;
	struct sigaction          sa;
	struct vsm_err            err;
	Vsm__TaskSpawn           *sp;
	const struct task_module *mod;
	int                       fd, rc;

	vsm_log_init("vsm-task", VSM_LOG_WARN, 0);
	if (argc == 2 && strcmp(argv[1], "--list-modules") == 0)
		return (task_list_modules());
	if (argc > 1) {
		fprintf(stderr, "usage: vsm-task [--list-modules]\n");
		return (2);
	}
	task_watch_parent();
	if (fcntl(TASK_EVENT_FD, F_SETFD, FD_CLOEXEC) == -1) {
		fprintf(stderr, "vsm-task: started by vsm-agent only\n");
		return (2);
	}
	if ((sp = task_read_spawn()) == NULL || sp->task == NULL) {
		log_warnx("bad spawn request");
		return (2);
	}
	if ((fd = open("/dev/null", O_RDONLY)) != -1) {
		dup2(fd, 0);
		if (fd != 0)
			close(fd);
	}
	ctx->fd = TASK_EVENT_FD;
	ctx->spawn = sp;
	ctx->task = sp->task;
	ctx->max_line = sp->max_line >= 64 ? sp->max_line : 64;
	ctx->max_output = sp->max_output;

	if (task_apply_limits(sp->limits, &err) == -1) {
		rc = task_finish_error(ctx, "cannot apply limits: %s", err.msg);
		goto out;
	}
	if ((mod = task_module_find(ctx->task->module)) == NULL) {
		rc = task_finish_error(
		    ctx, "unknown module '%.64s'", ctx->task->module);
		goto out;
	}
	if (params_parse(mod->raw_params ? NULL : mod->params,
	        mod->raw_params ? NULL : ctx->task->params,
	        mod->raw_params ? 0 : ctx->task->n_params, &tp, &err) == -1 ||
	    (mod->validate != NULL && mod->validate(ctx, &tp, &err) == -1)) {
		rc = task_finish_error(
		    ctx, "%s: %s", ctx->task->module, err.msg);
		goto out;
	}

	task_main_mod = mod;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = task_on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);

	rc = mod->run(ctx, &tp);
	if (!ctx->finished)
		rc = task_finish_error(
		    ctx, "%s ended without a result", ctx->task->module);
out:
	vsm_agent_config_free(ctx->cfg);
	vsm__task_spawn__free_unpacked(sp, NULL);
	return (rc == 0 || ctx->finished ? 0 : 1);
}
