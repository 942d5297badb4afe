/*
 * listen_backlog.h: a deeper accept queue for nng's TCP listeners.
 *
 * nng 1.5 listens with a fixed backlog of 128. When thousands of agents
 * reconnect within a second (a controller restart), the queue overflows,
 * the kernel drops their handshakes, and they come back seconds later on
 * SYN retransmits (measured in docs/benchmarks.md). Linux lets listen()
 * be called again on a listening socket to change its backlog; nng does
 * not hand out its descriptor, so it is found by its bound address.
 */
#ifndef VSM_LISTEN_BACKLOG_H
#define VSM_LISTEN_BACKLOG_H

#include <nng/nng.h>

#define VSM_LISTEN_BACKLOG 4096 /* capped by net.core.somaxconn */

/*
 * Give the TCP listener l a backlog of `backlog`. Returns how many
 * listening sockets were changed (0 for a non-TCP listener or when none
 * was found, which leaves nng's own backlog in place).
 */
int vsm_listen_backlog(nng_listener l, int backlog);

#endif /* VSM_LISTEN_BACKLOG_H */
