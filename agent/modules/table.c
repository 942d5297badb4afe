/*
 * table.c: every module vsm-task can run. Adding a module is adding a row
 * here and a file. The test-only modules exist only in vsm-task-test (built
 * with -DVSM_TEST_MODULES), never in the production binary.
 */
#include <string.h>

#include "module.h"

static const struct task_module *const task_modules[] = {
    &mod_sys_ping,
    &mod_sys_facts,
    &mod_sys_disk,
    &mod_sys_memory,
    &mod_sys_load,
    &mod_exec,
#ifdef VSM_TEST_MODULES
    &mod_test_crash,
    &mod_test_limits,
    &mod_test_badframe,
    &mod_test_artifact,
#endif
    NULL,
};

const struct task_module *
task_module_find(const char *name)
{
	const struct task_module *const *m;
	size_t                           len;

	for (m = task_modules; *m != NULL; m++) {
		len = strlen((*m)->name);
		if ((*m)->family ? strncmp(name, (*m)->name, len) == 0 &&
		            name[len] != '\0'
		                 : strcmp(name, (*m)->name) == 0)
			return (*m);
	}
	return (NULL);
}

const struct task_module *const *
task_module_all(void)
{
	return (task_modules);
}
