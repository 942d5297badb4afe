/*
 * services.h: the services check of sys.services, for sys.health too.
 */
#ifndef VSM_SERVICES_H
#define VSM_SERVICES_H

#include <stddef.h>

#include <jansson.h>

#include "module.h"

/*
 * Check every unit of services.units (through the allowlisted
 * services.systemctl_command) and the compose services (through
 * services.compose_command, when set): *detail gets a new object
 * {units, compose, failed, starting}, *st the status (fail when one is not
 * running, warn when one is starting), summary one line. 0, or -1 with
 * err set (nothing configured, a command that cannot run, output that
 * cannot be read) and *detail NULL.
 */
int services_probe(struct task_ctx *ctx, const struct vsm_agent_config *cfg,
    json_t **detail, Vsm__TaskStatus *st, char *summary, size_t len,
    struct vsm_err *err);

#endif /* VSM_SERVICES_H */
