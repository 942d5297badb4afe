/*
 * test_listen_backlog.c: nng's TCP listening socket is found by its bound
 * address and its accept queue deepened (listen_backlog.h); an IPC
 * listener is left alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "listen_backlog.h"

static void
test_tcp_listener_is_found_and_deepened(void **state)
{
	nng_socket   s;
	nng_listener l;

	(void)state;
	assert_int_equal(nng_rep0_open(&s), 0);
	assert_int_equal(nng_listen(s, "tcp://127.0.0.1:0", &l, 0), 0);
	assert_int_equal(vsm_listen_backlog(l, VSM_LISTEN_BACKLOG), 1);
	/* Again, smaller: still the one socket. */
	assert_int_equal(vsm_listen_backlog(l, 64), 1);
	nng_close(s);
}

static void
test_ipc_listener_is_left_alone(void **state)
{
	nng_socket   s;
	nng_listener l;
	char         url[64];

	(void)state;
	snprintf(
	    url, sizeof(url), "ipc:///tmp/vsm-backlog-%d.sock", (int)getpid());
	assert_int_equal(nng_rep0_open(&s), 0);
	assert_int_equal(nng_listen(s, url, &l, 0), 0);
	assert_int_equal(vsm_listen_backlog(l, VSM_LISTEN_BACKLOG), 0);
	nng_close(s);
	unlink(url + 6);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tcp_listener_is_found_and_deepened),
	    cmocka_unit_test(test_ipc_listener_is_left_alone),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
