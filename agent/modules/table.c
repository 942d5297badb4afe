/*
 * table.c: the modules of the core vsm-task. Adding a module is adding a
 * row here and a file. The test-only modules exist only in vsm-task-test
 * (built with -DVSM_TEST_MODULES), never in the production binary. The
 * families that link a heavy library have their own binary and table
 * (modules/FAMILY/table.c; docs/tasks.md).
 */
#include <stddef.h>

#include "module.h"

const struct task_module *const task_modules[] = {
    &mod_sys_ping,
    &mod_sys_facts,
    &mod_sys_disk,
    &mod_sys_memory,
    &mod_sys_load,
    &mod_exec,
    &mod_logs_scan,
    &mod_logs_rotate,
    &mod_logs_clean,
    &mod_cert_renew,
    &mod_auth_failed_logins,
    &mod_security_audit,
    &mod_sys_services,
#ifdef VSM_TEST_MODULES
    &mod_test_crash,
    &mod_test_limits,
    &mod_test_badframe,
    &mod_test_artifact,
#endif
    NULL,
};
