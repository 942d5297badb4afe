/*
 * tu_task.c: one task through the real runner (tu_task.h).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runner.h"
#include "tu_task.h"

#define TU_TASK_WAIT_S 180
#define TU_KEY_B64     "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

struct tu_collect {
	pthread_mutex_t        mtx;
	pthread_cond_t         cv;
	int                    done;
	struct tu_task_result *out;
};

static char *
tu_strdup0(const char *s)
{
	return (strdup(s != NULL ? s : ""));
}

static void
tu_collect_cb(void *arg, const Vsm__TaskEvent *ev)
{
	struct tu_collect     *c = arg;
	struct tu_task_result *r = c->out;

	pthread_mutex_lock(&c->mtx);
	if (ev->kind_case == VSM__TASK_EVENT__KIND_LOG &&
	    r->nlines < TU_TASK_LINES_MAX)
		r->lines[r->nlines++] = tu_strdup0(ev->log->line);
	if (ev->kind_case == VSM__TASK_EVENT__KIND_RESULT) {
		r->status = ev->result->status;
		r->exit_code = ev->result->exit_code;
		r->summary = tu_strdup0(ev->result->summary);
		r->error = tu_strdup0(ev->result->error);
		if (ev->result->result_json != NULL &&
		    ev->result->result_json[0] != '\0')
			r->json = json_loads(ev->result->result_json, 0, NULL);
		c->done = 1;
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->mtx);
}

int
tu_task_config(const char *dir, const char *extra_yaml, char *path, size_t len)
{
	FILE *f;
	int   fd;

	if ((size_t)snprintf(path, len, "%s/agent.yaml", dir) >= len)
		return (-1);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		return (-1);
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		return (-1);
	}
	fprintf(f,
	    "name: test-host\n"
	    "controllers: [\"tcp://127.0.0.1:4650\"]\n"
	    "controller_key: \"" TU_KEY_B64 "\"\n"
	    "data_dir: %s\n"
	    "%s",
	    dir, extra_yaml != NULL ? extra_yaml : "");
	return (fclose(f) == 0 ? 0 : -1);
}

int
tu_task_run(const char *bin, const char *config_path, const char *module,
    const char *const *kv, int dry_run, struct tu_task_result *out)
{
	return (
	    tu_task_run_window(bin, config_path, module, kv, dry_run, 0, out));
}

int
tu_task_run_window(const char *bin, const char *config_path, const char *module,
    const char *const *kv, int dry_run, uint64_t window_end_ms,
    struct tu_task_result *out)
{
	struct runner_config cfg;
	struct tu_collect    c;
	struct runner       *r = NULL;
	struct vsm_err       err;
	struct timespec      until;
	Vsm__Task            task = VSM__TASK__INIT;
	Vsm__Param           pv[32], *pp[32];
	static unsigned      seq;
	char                 id[64];
	size_t               n = 0;
	int                  ret = -1;

	memset(out, 0, sizeof(*out));
	memset(&cfg, 0, sizeof(cfg));
	memset(&c, 0, sizeof(c));
	pthread_mutex_init(&c.mtx, NULL);
	pthread_cond_init(&c.cv, NULL);
	c.out = out;
	cfg.task_path = bin;
	cfg.config_path = config_path;
	cfg.max_tasks = 1;
	if ((r = runner_new(&cfg, &err)) == NULL) {
		fprintf(stderr, "tu_task_run: %s\n", err.msg);
		goto out;
	}
	for (; kv != NULL && kv[2 * n] != NULL && n < 32; n++) {
		vsm__param__init(&pv[n]);
		pv[n].key = (char *)kv[2 * n];
		pv[n].value =
		    (char *)(kv[2 * n + 1] != NULL ? kv[2 * n + 1] : "");
		pp[n] = &pv[n];
	}
	snprintf(id, sizeof(id), "t-%ld-%u", (long)getpid(), ++seq);
	task.id = id;
	task.module = (char *)module;
	task.params = pp;
	task.n_params = n;
	task.dry_run = dry_run != 0;
	task.window_end_ms = window_end_ms;
	task.timeout_s = TU_TASK_WAIT_S - 10;
	if (runner_start(r, &task, NULL, tu_collect_cb, &c, &err) == -1) {
		fprintf(stderr, "tu_task_run: %s\n", err.msg);
		goto out;
	}
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += TU_TASK_WAIT_S;
	pthread_mutex_lock(&c.mtx);
	while (!c.done && pthread_cond_timedwait(&c.cv, &c.mtx, &until) == 0)
		continue;
	ret = c.done ? 0 : -1;
	pthread_mutex_unlock(&c.mtx);
out:
	/* Cancels a task that did not end; its callback still runs. */
	runner_free(r);
	pthread_mutex_destroy(&c.mtx);
	pthread_cond_destroy(&c.cv);
	return (ret);
}

void
tu_task_result_free(struct tu_task_result *r)
{
	size_t i;

	if (r == NULL)
		return;
	free(r->summary);
	free(r->error);
	json_decref(r->json);
	for (i = 0; i < r->nlines; i++)
		free(r->lines[i]);
	memset(r, 0, sizeof(*r));
}

const char *
tu_task_status(int status)
{
	switch (status) {
	case VSM__TASK_STATUS__TASK_OK:
		return ("ok");
	case VSM__TASK_STATUS__TASK_WARN:
		return ("warn");
	case VSM__TASK_STATUS__TASK_FAIL:
		return ("fail");
	case VSM__TASK_STATUS__TASK_ERROR:
		return ("error");
	case VSM__TASK_STATUS__TASK_CANCELLED:
		return ("cancelled");
	case VSM__TASK_STATUS__TASK_TIMEOUT:
		return ("timeout");
	default:
		return ("unknown");
	}
}

const char *
tu_task_bin(const char *dir, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", dir, name);
	return (buf);
}
