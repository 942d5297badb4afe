/*
 * health.h: the health family (vsm-task-health: sys.health), which links
 * the probes of the pg, redis and http families and the core's services
 * check.
 */
#ifndef VSM_HEALTH_H
#define VSM_HEALTH_H

#include "module.h"
#include "services.h"

extern const struct task_module mod_sys_health;

#endif /* VSM_HEALTH_H */
