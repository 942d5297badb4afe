/*
 * task_lookup.c: finding a module in the table of the binary it is linked
 * into (task_modules, from table.c or modules/FAMILY/table.c).
 */
#include <string.h>

#include "module.h"

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
