/*
 * err.h: an error message buffer handed down to functions that can fail
 * for reasons an operator must read (a bad config line, a refused key).
 */
#ifndef VSM_ERR_H
#define VSM_ERR_H

#include <stddef.h>

struct vsm_err {
	char msg[512];
};

/* Format into err (a NULL err is allowed and ignored). Returns -1. */
int vsm_err_set(struct vsm_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif /* VSM_ERR_H */
