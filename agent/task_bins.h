/*
 * task_bins.h: the agent's task binaries and the modules each one runs
 * (docs/tasks.md, "Task binaries"). The core vsm-task holds the cheap
 * modules; each family that links a heavy library (libpq, hiredis,
 * libmongoc, libcurl) is its own vsm-task-FAMILY beside it, so starting a
 * sys.* task never loads them. Each binary says what it runs with
 * `--list-modules`; the runner starts a task with the binary that has it.
 */
#ifndef VSM_TASK_BINS_H
#define VSM_TASK_BINS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define TASK_BINS_MAX    8     /* the core and the families */
#define TASK_MODULES_MAX 256   /* modules across all binaries */
#define TASK_LIST_MS     5000  /* --list-modules, start to exit */
#define TASK_LIST_BYTES  16384 /* cap on what one binary prints */

struct task_bins {
	char   *paths[TASK_BINS_MAX]; /* [0] is the core binary */
	size_t  npaths;
	char   *modules[TASK_MODULES_MAX]; /* "sys.disk", "exec.*" */
	uint8_t bin[TASK_MODULES_MAX];     /* index into paths */
	size_t  nmodules;
};

/*
 * Fill tb: core (always paths[0], even when it cannot be listed), then
 * every family binary of the table that exists in dir. A binary that
 * cannot be listed is logged and its modules left out; a module name
 * seen twice keeps its first binary. 0, or -1 when out of memory.
 */
int task_bins_load(struct task_bins *tb, const char *core, const char *dir,
    struct vsm_err *err);
/* The binary that runs module: its family's, else the core's. */
const char *task_bins_path(const struct task_bins *tb, const char *module);
/* Free what tb holds; tb is left empty. NULL is a no-op. */
void task_bins_free(struct task_bins *tb);

#endif /* VSM_TASK_BINS_H */
