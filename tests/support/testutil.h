/*
 * testutil.h: helpers shared by the integration tests: free loopback
 * ports, a channel server with counting handlers, and a "raw" agent that
 * runs the IK handshake by hand so that tests can forge, replay and move
 * messages below the client API.
 */
#ifndef VSM_TESTUTIL_H
#define VSM_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <nng/nng.h>

#include "chan.h"

/* A tcp://127.0.0.1:PORT URL with a port nothing listens on right now. */
void tu_loopback_url(char *buf, size_t cap);

/*
 * Spawn argv (argv[0] a path) with stdin /dev/null and stdout and stderr
 * appended to log; the pid, or -1.
 */
pid_t tu_spawn_logged(char *const argv[], const char *log);
/* Run argv to its end, output appended to log; its exit code or -1. */
int tu_run_wait(char *const argv[], const char *log);

/*
 * Make a new private directory /tmp/vsm-TAG-<random> into dir (len
 * bytes, the tag cut to 16 characters). 0, or -1 with errno set.
 */
int tu_mkdtemp(char *dir, size_t len, const char *tag);
/*
 * tu_file.c: write text to path, then chmod it to mode unless mode is 0;
 * fails the running cmocka test on any error.
 */
void tu_put(const char *path, const char *text, int mode);
/* Remove dir and everything under it (symlinks not followed). 0 or -1. */
int tu_rmtree(const char *dir);

/* Poll `cond(arg)` every 10 ms for up to ms; returns its last value. */
int tu_wait(int (*cond)(void *), void *arg, int ms);

/* A raw agent: its own REQ socket, one session opened by hand. */
struct tu_raw {
	nng_socket          sock;
	struct vsm_session *sess;
	int                 status; /* Welcome status, 0 if none */
};

/*
 * Dial `url` and run the IK handshake with `key`, pinning `server_key`.
 * Returns 0 with raw->sess set when accepted; -1 otherwise (raw->status
 * says what the controller answered). raw->sock is open either way.
 */
int tu_raw_connect(struct tu_raw *raw, const char *url,
    const struct vsm_keypair *key, const uint8_t *server_key);
/* Dial only: a connection with no handshake yet. 0 or -1. */
int tu_raw_dial(struct tu_raw *raw, const char *url);
/* Run (another) handshake on raw's connection; as tu_raw_connect(). */
int  tu_raw_handshake(struct tu_raw *raw, const struct vsm_keypair *key,
     const uint8_t *server_key);
void tu_raw_close(struct tu_raw *raw);
/*
 * Send the bytes as one request and wait up to ms for a reply. Returns 0
 * with *replyp (nng_msg, caller frees) set, or the nng error.
 */
int tu_raw_send(
    struct tu_raw *raw, const void *buf, size_t len, int ms, nng_msg **replyp);
/* Seal `len` bytes with the raw session; returns a copy of the frame. */
uint8_t *tu_raw_seal(
    struct tu_raw *raw, const void *pt, size_t len, size_t *framelen);
/* Open a reply frame with the raw session; 0 and *ptp (malloc'd) or -1. */
int tu_raw_open(
    struct tu_raw *raw, nng_msg *reply, uint8_t **ptp, size_t *lenp);

#endif /* VSM_TESTUTIL_H */
