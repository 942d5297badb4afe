/*
 * task_bins.c: which task binary runs which module (task_bins.h).
 */
#define _GNU_SOURCE /* pipe2 */

#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "runner.h"
#include "selector.h"
#include "task_bins.h"

/* The families, beside the core binary (agent/modules/FAMILY/). */
static const char *const task_families[] = {
    "vsm-task-pg",
    "vsm-task-redis",
    "vsm-task-mongo",
    "vsm-task-http",
    "vsm-task-health",
    NULL,
};

static uint64_t
task_bins_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/*
 * Run `path --list-modules` (posix_spawn, no shell, stdin /dev/null, a
 * bare environment) and put what it prints, NUL-terminated, into a new
 * buffer *out (caller frees). Blocks for at most TASK_LIST_MS; a child
 * still running then is killed. 0, or -1 with err set.
 */
static int
task_bins_list(const char *path, char **out, struct vsm_err *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t          attr;
	sigset_t                   mask, def;
	struct pollfd              pfd;
	char    *argv[] = {(char *)path, "--list-modules", NULL};
	char    *envp[] = {"PATH=" RUNNER_PATH, "LANG=C", NULL};
	char    *buf = NULL;
	size_t   len = 0;
	uint64_t end = task_bins_mono_ms() + TASK_LIST_MS, now;
	ssize_t  r;
	pid_t    pid = -1, w;
	int      fds[2] = {-1, -1}, st = 0, rc, eof = 0, ret = -1;

	if ((buf = malloc(TASK_LIST_BYTES + 1)) == NULL) {
		vsm_err_set(err, "out of memory");
		goto out;
	}
	if (pipe2(fds, O_CLOEXEC) == -1) {
		vsm_err_set(err, "pipe: %s", strerror(errno));
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	sigemptyset(&mask);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	posix_spawnattr_setsigmask(&attr, &mask);
	posix_spawnattr_setsigdefault(&attr, &def);
	posix_spawnattr_setflags(
	    &attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	rc = posix_spawn(&pid, path, &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rc != 0) {
		pid = -1;
		vsm_err_set(err, "%s: %s", path, strerror(rc));
		goto out;
	}
	close(fds[1]);
	fds[1] = -1;
	while (!eof) {
		if ((now = task_bins_mono_ms()) >= end) {
			vsm_err_set(err,
			    "%s --list-modules: no answer in %d ms", path,
			    TASK_LIST_MS);
			goto out;
		}
		pfd.fd = fds[0];
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, (int)(end - now)) <= 0)
			continue;
		r = read(fds[0], buf + len, TASK_LIST_BYTES - len);
		if (r == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r == -1) {
			vsm_err_set(err, "read: %s", strerror(errno));
			goto out;
		}
		eof = r == 0;
		len += (size_t)r;
		if (len == TASK_LIST_BYTES) {
			vsm_err_set(err,
			    "%s --list-modules: more than %d bytes", path,
			    TASK_LIST_BYTES);
			goto out;
		}
	}
	while ((w = waitpid(pid, &st, WNOHANG)) != pid) {
		if (w == -1 && errno != EINTR) {
			vsm_err_set(err, "waitpid: %s", strerror(errno));
			pid = -1;
			goto out;
		}
		if (task_bins_mono_ms() >= end) {
			vsm_err_set(err,
			    "%s --list-modules: did not exit in %d ms", path,
			    TASK_LIST_MS);
			goto out;
		}
		poll(NULL, 0, 10);
	}
	pid = -1;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		vsm_err_set(err, "%s --list-modules: %s %d", path,
		    WIFEXITED(st) ? "exit status" : "killed by signal",
		    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		goto out;
	}
	buf[len] = '\0';
	*out = buf;
	buf = NULL;
	ret = 0;
out:
	if (pid > 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			continue;
	}
	if (fds[0] != -1)
		close(fds[0]);
	if (fds[1] != -1)
		close(fds[1]);
	free(buf);
	return (ret);
}

/* Add the names in text (one a line) for binary idx; bad ones left out. */
static int
task_bins_parse(struct task_bins *tb, char *text, uint8_t idx)
{
	char  *line, *save = NULL;
	size_t i;

	for (line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!vsm_module_name_valid(line)) {
			log_warnx("%s --list-modules: '%.80s' is not a module "
			          "name; left out",
			    tb->paths[idx], line);
			continue;
		}
		for (i = 0; i < tb->nmodules; i++)
			if (strcmp(tb->modules[i], line) == 0)
				break;
		if (i < tb->nmodules) {
			log_warnx("module %s is in %s and %s; %s runs it", line,
			    tb->paths[tb->bin[i]], tb->paths[idx],
			    tb->paths[tb->bin[i]]);
			continue;
		}
		if (tb->nmodules == TASK_MODULES_MAX) {
			log_warnx("more than %d task modules; the rest are "
			          "left out",
			    TASK_MODULES_MAX);
			return (0);
		}
		if ((tb->modules[tb->nmodules] = strdup(line)) == NULL)
			return (-1);
		tb->bin[tb->nmodules++] = idx;
	}
	return (0);
}

/* Add path as binary tb->npaths and list its modules. 0, or -1 on OOM. */
static int
task_bins_add(struct task_bins *tb, const char *path)
{
	struct vsm_err e;
	char          *text = NULL;
	uint8_t        idx = (uint8_t)tb->npaths;
	int            rc;

	if ((tb->paths[idx] = strdup(path)) == NULL)
		return (-1);
	tb->npaths++;
	if (task_bins_list(path, &text, &e) == -1) {
		log_warnx("cannot list the modules of %s: %s; they are not "
		          "offered",
		    path, e.msg);
		return (0);
	}
	rc = task_bins_parse(tb, text, idx);
	free(text);
	return (rc);
}

int
task_bins_load(struct task_bins *tb, const char *core, const char *dir,
    struct vsm_err *err)
{
	char   path[PATH_MAX];
	size_t i;

	memset(tb, 0, sizeof(*tb));
	if (task_bins_add(tb, core) == -1)
		goto nomem;
	for (i = 0; task_families[i] != NULL && tb->npaths < TASK_BINS_MAX;
	     i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
		        task_families[i]) >= sizeof(path) ||
		    access(path, X_OK) == -1)
			continue;
		if (task_bins_add(tb, path) == -1)
			goto nomem;
	}
	return (0);
nomem:
	task_bins_free(tb);
	return (vsm_err_set(err, "out of memory"));
}

const char *
task_bins_path(const struct task_bins *tb, const char *module)
{
	size_t i, len;

	for (i = 0; i < tb->nmodules; i++) {
		len = strlen(tb->modules[i]);
		/* "exec.*" runs every exec.NAME. */
		if (len >= 2 && strcmp(tb->modules[i] + len - 2, ".*") == 0
		        ? strncmp(module, tb->modules[i], len - 1) == 0 &&
		            module[len - 1] != '\0'
		        : strcmp(module, tb->modules[i]) == 0)
			return (tb->paths[tb->bin[i]]);
	}
	return (tb->paths[0]);
}

void
task_bins_free(struct task_bins *tb)
{
	size_t i;

	if (tb == NULL)
		return;
	for (i = 0; i < tb->npaths; i++)
		free(tb->paths[i]);
	for (i = 0; i < tb->nmodules; i++)
		free(tb->modules[i]);
	memset(tb, 0, sizeof(*tb));
}
