/*
 * control_int.h: what the control endpoint (control.c) shares with the
 * files that hold a family of its commands (scheduler_ctl.c). Not for
 * use elsewhere.
 */
#ifndef VSM_CONTROL_INT_H
#define VSM_CONTROL_INT_H

#include <stdint.h>

#include <jansson.h>

#include "ctld.h"

#define CTL_OK           0
#define CTL_FAIL         1
#define CTL_USAGE        2
#define CTL_LINE_MAX     1024
#define CTL_LIST_DEFAULT 100

/* One CtlRequest being served. */
struct ctl_call {
	struct ctld                *cd;
	const struct ctld_operator *op;
	struct store_actor          actor;
	const Vsm__CtlRequest      *rq;
	json_t                     *out; /* the result document */
	char                        error[512];
};

/* The value of argument key, or NULL. */
const char *arg_get(const struct ctl_call *c, const char *key);
/* Set c->error from fmt; returns status. */
int ctl_fail(struct ctl_call *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An optional integer argument in 0..max; -1 with c->error when bad. */
int arg_int(struct ctl_call *c, const char *key, int64_t def, int64_t max,
    int64_t *out);
/* JSON text as a value (a string when it does not parse; null for NULL). */
json_t *json_text(const char *s);

/* scheduler_ctl.c: schedule.list, show, add, rm, enable, disable, fire. */
int cmd_schedule_list(struct ctl_call *c);
int cmd_schedule_show(struct ctl_call *c);
int cmd_schedule_add(struct ctl_call *c);
int cmd_schedule_rm(struct ctl_call *c);
int cmd_schedule_enable(struct ctl_call *c);
int cmd_schedule_disable(struct ctl_call *c);
int cmd_schedule_fire(struct ctl_call *c);

#endif /* VSM_CONTROL_INT_H */
