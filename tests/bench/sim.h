/*
 * sim.h: a fleet of virtual agents in one process, for `vsm-bench fleet`.
 *
 * Each virtual agent has its own key, its own nng REQ socket and dialer,
 * runs the real IK handshake (common/noise, common/session) with a Hello
 * that carries the enrollment token, then behaves as vsm-agent does on
 * the wire: one long Poll outstanding; a task is answered with its
 * started and result events in one Events request (sys.ping: ok);
 * heartbeats every interval the Welcome names, on a second context. A
 * lost pipe cancels what is in flight, and the agent redials after a
 * full-jitter backoff as vsm_client does, so a controller restart shows
 * the real reconnect spread.
 *
 * Everything runs on nng's callbacks: no thread per agent.
 */
#ifndef VSM_BENCH_SIM_H
#define VSM_BENCH_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct sim;

struct sim_config {
	const char    *url;        /* the controller's agent listener */
	const uint8_t *server_key; /* 32 bytes */
	const char    *token;      /* enrollment token */
	const char    *prefix;     /* host names PREFIX-00001... */
	unsigned       n;
	uint32_t       backoff_base_ms; /* redial after a lost pipe */
	uint32_t       backoff_cap_ms;
};

struct sim_stats {
	uint64_t handshakes; /* sessions opened */
	uint64_t refused;    /* Welcomes other than ACCEPTED */
	uint64_t lost;       /* sessions or attempts that failed */
	uint64_t tasks;      /* tasks received */
	uint64_t acks;       /* EventsAcks received */
	uint64_t heartbeats; /* HeartbeatAcks received */
	uint64_t refusals;   /* Events refused (store busy) and sent again */
};

/* Make the agents (keys, sockets); nothing dials yet. 0 or -1 + err. */
int sim_new(
    const struct sim_config *cfg, struct sim **out, struct vsm_err *err);
/* Every agent dials and runs its handshake. */
void sim_start(struct sim *s);
/* How many agents have a session open now. */
unsigned sim_connected(struct sim *s);
/*
 * Copy, per agent, the monotonic ms at which its current session opened
 * (0: none) into out[0..n).
 */
void sim_connect_times(struct sim *s, uint64_t *out);
/*
 * Forget earlier results; from now on each agent notes the monotonic ms
 * at which the controller acked (stored) its first result.
 */
void sim_mark(struct sim *s);
/* The result times since sim_mark into out[0..n) (0: none); how many. */
unsigned sim_results(struct sim *s, uint64_t *out);
void     sim_stats(struct sim *s, struct sim_stats *st);
/* Stop every agent, close every socket, free. NULL is ok. */
void sim_free(struct sim *s);

/* Monotonic ms, the clock of every time above. */
uint64_t sim_now_ms(void);

#endif /* VSM_BENCH_SIM_H */
