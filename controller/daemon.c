/*
 * daemon.c: `vsm-controller run --config FILE`: load the config, open the
 * store, start the agent and control listeners and the registry timer,
 * then wait for a signal. SIGTERM and SIGINT stop cleanly (held polls are
 * forgotten, the store writer drains, listeners close); SIGHUP is logged
 * and ignored (logs go to stderr, nothing to reopen).
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ctld.h"
#include "log.h"
#include "scheduler.h"

/* Start everything in order; 0 or -1 with err set. */
static int
daemon_start(struct ctld *cd, struct vsm_err *err)
{
	struct vsm_server_config sc;
	/*
	 * A fan-out to 10,000 agents brings 20,000 events in about a second:
	 * the queue holds them (about 200 bytes each), commits take 1024.
	 */
	struct store_writer_conf wc = {
	    .batch_max = 1024, .batch_ms = 2, .queue_max = 65536};
	struct vsm_err e;

	if (vsm_key_load(cd->cfg->key_file, &cd->key, &e) == -1)
		return (vsm_err_set(err, "%s", e.msg));
	if (store_open(cd->cfg->store, &cd->st, &e) == -1)
		return (vsm_err_set(err, "store: %s", e.msg));
	if (store_writer_start(cd->st, &wc, &e) == -1)
		return (vsm_err_set(err, "store writer: %s", e.msg));
	if (control_load_operators(cd, err) == -1)
		return (-1);
	if (registry_new(cd, &cd->reg) == -1)
		return (vsm_err_set(err, "registry: out of memory"));
	if (artifacts_new(cd, &cd->arts) == -1)
		return (vsm_err_set(err, "artifacts: out of memory"));

	memset(&sc, 0, sizeof(sc));
	sc.url = cd->cfg->listen;
	sc.key = &cd->key;
	sc.ops = &agents_ops;
	sc.arg = cd;
	sc.nctx = cd->cfg->contexts;
	sc.max_payload = cd->cfg->max_payload;
	sc.version = VSM_VERSION;
	if (vsm_server_start(&cd->agents, &sc, &e) == -1)
		return (vsm_err_set(err, "listen %s: %s", sc.url, e.msg));

	sc.url = cd->cfg->control;
	sc.ops = &control_ops;
	sc.nctx = 16;
	sc.max_payload = VSM_SERVER_MAX_PAYLOAD_DEFAULT;
	if (vsm_server_start(&cd->control, &sc, &e) == -1)
		return (vsm_err_set(err, "control %s: %s", sc.url, e.msg));
	if (control_secure_socket(cd->cfg->control, err) == -1)
		return (-1);
	if (registry_start(cd->reg) == -1)
		return (vsm_err_set(err, "registry: cannot start the timer"));
	/* Schedules from the config file, then the tick thread. */
	if (scheduler_new(cd, NULL, NULL, &cd->sched) == -1)
		return (vsm_err_set(err, "scheduler: out of memory"));
	if (scheduler_sync_config(cd->sched, &e) == -1)
		return (vsm_err_set(err, "schedules: %s", e.msg));
	if (scheduler_start(cd->sched) == -1)
		return (vsm_err_set(err, "scheduler: cannot start its thread"));
	return (0);
}

/* Stop what daemon_start started, in reverse; safe on a partial start. */
static void
daemon_stop(struct ctld *cd)
{
	/* No new runs while the rest stops. */
	scheduler_stop(cd->sched);
	if (cd->reg != NULL) {
		registry_stop(cd->reg);
		registry_forget(cd->reg);
	}
	vsm_server_stop(cd->control);
	cd->control = NULL;
	scheduler_free(cd->sched); /* schedule.fire came by control */
	cd->sched = NULL;
	/* Replies still in the writer go out before the listener closes. */
	if (cd->st != NULL)
		store_writer_stop(cd->st);
	vsm_server_stop(cd->agents);
	cd->agents = NULL;
	artifacts_free(cd->arts); /* uploads keep their durable prefix */
	cd->arts = NULL;
	registry_free(cd->reg);
	cd->reg = NULL;
	store_close(cd->st);
	cd->st = NULL;
	vsm_keypair_wipe(&cd->key);
	if (cd->ops != NULL)
		sodium_memzero(cd->ops, cd->nops * sizeof(*cd->ops));
	free(cd->ops);
	cd->ops = NULL;
	vsm_controller_config_free(cd->cfg);
	cd->cfg = NULL;
}

int
daemon_main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {NULL, 0, NULL, 0},
	};
	struct ctld    cd;
	struct vsm_err err;
	const char    *path = NULL;
	sigset_t       set;
	int            c, sig, ret = 1;

	memset(&cd, 0, sizeof(cd));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'c') {
			fprintf(stderr,
			    "vsm-controller: run: unknown option "
			    "'%s'\n",
			    argv[optind - 1]);
			return (2);
		}
		path = optarg;
	}
	if (path == NULL || optind != argc) {
		fprintf(stderr, "usage: vsm-controller run --config FILE\n");
		return (2);
	}
	if (vsm_controller_config_load(path, &cd.cfg, &err) == -1) {
		fprintf(stderr, "vsm-controller: %s\n", err.msg);
		return (1);
	}
	vsm_log_init("vsm-controller", cd.cfg->log_level, 0);

	/* Every thread started from here on inherits the blocked set. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if (daemon_start(&cd, &err) == -1) {
		fprintf(stderr, "vsm-controller: %s\n", err.msg);
		goto out;
	}
	log_info(
	    "listening on %s, control on %s", cd.cfg->listen, cd.cfg->control);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			log_info("SIGHUP: nothing to reopen (logging to "
			         "stderr)");
			continue;
		}
		if (sig == SIGPIPE)
			continue;
		log_info("signal %d: stopping", sig);
		break;
	}
	ret = 0;
out:
	daemon_stop(&cd);
	return (ret);
}
