#define _XOPEN_SOURCE 700 /* nftw */
#include <sys/wait.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <spawn.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "testutil.h"

extern char **environ;

#include <nng/protocol/reqrep0/req.h>

void
tu_loopback_url(char *buf, size_t cap)
{
	struct sockaddr_in sin;
	socklen_t          len = sizeof(sin);
	int                fd;

	/* Let the kernel pick a free port, then hand it to the test. */
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		perror("tu_loopback_url");
		abort();
	}
	close(fd);
	snprintf(buf, cap, "tcp://127.0.0.1:%u", ntohs(sin.sin_port));
}

pid_t
tu_spawn_logged(char *const argv[], const char *log)
{
	posix_spawn_file_actions_t fa;
	pid_t                      pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(
	    &fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0)
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	return (pid);
}

int
tu_run_wait(char *const argv[], const char *log)
{
	pid_t pid;
	int   st;

	if ((pid = tu_spawn_logged(argv, log)) == -1 ||
	    waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return (-1);
	return (WEXITSTATUS(st));
}

int
tu_wait(int (*cond)(void *), void *arg, int ms)
{
	struct timespec ts = {0, 10 * 1000 * 1000};
	int             i, v = 0;

	for (i = 0; i <= ms / 10; i++) {
		if ((v = cond(arg)) != 0)
			return (v);
		nanosleep(&ts, NULL);
	}
	return (cond(arg));
}

int
tu_raw_send(
    struct tu_raw *raw, const void *buf, size_t len, int ms, nng_msg **replyp)
{
	nng_msg *msg;
	int      rv;

	*replyp = NULL;
	nng_socket_set_ms(raw->sock, NNG_OPT_RECVTIMEO, ms);
	nng_socket_set_ms(raw->sock, NNG_OPT_SENDTIMEO, ms);
	if ((rv = nng_msg_alloc(&msg, 0)) != 0)
		return (rv);
	if ((rv = nng_msg_append(msg, buf, len)) != 0 ||
	    (rv = nng_sendmsg(raw->sock, msg, 0)) != 0) {
		nng_msg_free(msg);
		return (rv);
	}
	return (nng_recvmsg(raw->sock, replyp, 0));
}

int
tu_raw_handshake(struct tu_raw *raw, const struct vsm_keypair *key,
    const uint8_t *server_key)
{
	struct vsm_noise_hs_config cfg = {
	    .protocol = VSM_CHAN_PROTOCOL,
	    .initiator = 1,
	    .prologue = (const uint8_t *)VSM_CHAN_PROLOGUE,
	    .prologue_len = sizeof(VSM_CHAN_PROLOGUE) - 1,
	    .s = key->priv,
	    .rs = server_key,
	};
	struct vsm_noise_hs *hs = NULL;
	Vsm__Hello           hello = VSM__HELLO__INIT;
	Vsm__HandshakeInit   init = VSM__HANDSHAKE_INIT__INIT;
	Vsm__Frame           f = VSM__FRAME__INIT, *rf = NULL;
	Vsm__Welcome        *wel = NULL;
	uint8_t              hb[512], m1[1024], fb[2048], pl[1024];
	size_t               hlen, m1len, flen, pllen;
	nng_msg             *reply = NULL;
	int                  ret = -1;

	raw->status = 0;
	hello.name = "raw-agent";
	hello.proto_version = VSM_CHAN_VERSION;
	hlen = vsm__hello__pack(&hello, hb);
	if (vsm_noise_hs_new(&hs, &cfg) != VSM_NOISE_OK ||
	    vsm_noise_hs_write(hs, hb, hlen, m1, sizeof(m1), &m1len) !=
	        VSM_NOISE_OK)
		goto out;
	init.version = VSM_CHAN_VERSION;
	init.noise.data = m1;
	init.noise.len = m1len;
	f.kind_case = VSM__FRAME__KIND_HS_INIT;
	f.hs_init = &init;
	flen = vsm__frame__pack(&f, fb);
	if (tu_raw_send(raw, fb, flen, 5000, &reply) != 0)
		goto out;
	rf = vsm_frame_unpack(nng_msg_body(reply), nng_msg_len(reply));
	if (rf == NULL || rf->kind_case != VSM__FRAME__KIND_HS_RESP)
		goto out;
	if (vsm_noise_hs_read(hs, rf->hs_resp->noise.data,
	        rf->hs_resp->noise.len, pl, sizeof(pl), &pllen) != VSM_NOISE_OK)
		goto out;
	if ((wel = vsm__welcome__unpack(NULL, pllen, pl)) == NULL)
		goto out;
	raw->status = wel->status;
	if (wel->status != VSM__WELCOME__STATUS__ACCEPTED)
		goto out;
	vsm_session_unref(raw->sess);
	raw->sess = vsm_session_new(hs, wel->session_id,
	    (uint32_t)nng_pipe_id(nng_msg_get_pipe(reply)));
	ret = raw->sess != NULL ? 0 : -1;
out:
	if (wel != NULL)
		vsm__welcome__free_unpacked(wel, NULL);
	vsm_frame_free(rf);
	if (reply != NULL)
		nng_msg_free(reply);
	vsm_noise_hs_free(hs);
	return (ret);
}

int
tu_raw_dial(struct tu_raw *raw, const char *url)
{
	memset(raw, 0, sizeof(*raw));
	if (nng_req0_open(&raw->sock) != 0)
		return (-1);
	nng_socket_set_ms(
	    raw->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	return (nng_dial(raw->sock, url, NULL, 0) == 0 ? 0 : -1);
}

int
tu_raw_connect(struct tu_raw *raw, const char *url,
    const struct vsm_keypair *key, const uint8_t *server_key)
{
	if (tu_raw_dial(raw, url) == -1)
		return (-1);
	return (tu_raw_handshake(raw, key, server_key));
}

void
tu_raw_close(struct tu_raw *raw)
{
	nng_close(raw->sock);
	vsm_session_unref(raw->sess);
	raw->sess = NULL;
}

uint8_t *
tu_raw_seal(struct tu_raw *raw, const void *pt, size_t len, size_t *framelen)
{
	nng_msg *msg;
	uint8_t *copy;

	if (vsm_session_seal(raw->sess, pt, len, &msg) != 0)
		return (NULL);
	*framelen = nng_msg_len(msg);
	if ((copy = malloc(*framelen)) != NULL)
		memcpy(copy, nng_msg_body(msg), *framelen);
	nng_msg_free(msg);
	return (copy);
}

int
tu_raw_open(struct tu_raw *raw, nng_msg *reply, uint8_t **ptp, size_t *lenp)
{
	Vsm__Frame   *f;
	enum vsm_drop why;
	int           ret = -1;

	f = vsm_frame_unpack(nng_msg_body(reply), nng_msg_len(reply));
	if (f != NULL && f->kind_case == VSM__FRAME__KIND_TRANSPORT)
		ret = vsm_session_open(
		    raw->sess, f->transport, 1 << 24, ptp, lenp, &why);
	vsm_frame_free(f);
	return (ret);
}

static int
tu_rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return (remove(p));
}

int
tu_rmtree(const char *dir)
{
	return (nftw(dir, tu_rm_cb, 16, FTW_DEPTH | FTW_PHYS));
}

int
tu_mkdtemp(char *dir, size_t len, const char *tag)
{
	if ((size_t)snprintf(dir, len, "/tmp/vsm-%.16s-XXXXXX", tag) >= len) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	return (mkdtemp(dir) == NULL ? -1 : 0);
}
