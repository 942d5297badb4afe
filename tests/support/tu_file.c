/*
 * tu_file.c: files written by the tests (testutil.h); a failure fails the
 * running cmocka test.
 */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "testutil.h"

void
tu_put(const char *path, const char *text, int mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
	if (mode != 0)
		assert_int_equal(chmod(path, (mode_t)mode), 0);
}
