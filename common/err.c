#include <stdarg.h>
#include <stdio.h>

#include "err.h"

int
vsm_err_set(struct vsm_err *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return (-1);
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return (-1);
}
