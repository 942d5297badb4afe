/*
 * table.c: the modules of vsm-task-http (libcurl, libcrypto).
 */
#include <stddef.h>

#include "module.h"

extern const struct task_module mod_http_check;
extern const struct task_module mod_cert_check;

const struct task_module *const task_modules[] = {
    &mod_http_check,
    &mod_cert_check,
    NULL,
};
