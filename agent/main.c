/*
 * main.c: vsm-agent's command line. Subcommands are rows of one table;
 * the usage text is generated from it. Exit codes: 0 success, 1 failed
 * operation, 2 bad usage, with one line on stderr for every error.
 */
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "log.h"

struct agent_subcmd {
	const char *name;
	int (*fn)(int, char **);
	const char *usage;
};

static int cmd_help(int, char **);

static const struct agent_subcmd subcmds[] = {
    {"init", agent_cmd_init,
        "init --dir DIR --controller tcp://HOST:PORT --controller-key KEY\n"
        "\t    --token TOKEN --name NAME [--label k=v]..."},
    {"run", agent_cmd_run, "run --config FILE"},
    {"help", cmd_help, "help"},
};

#define NSUBCMDS (sizeof(subcmds) / sizeof(subcmds[0]))

static void
usage(FILE *fp)
{
	size_t i;

	fprintf(fp, "usage:\n");
	for (i = 0; i < NSUBCMDS; i++)
		fprintf(fp, "\tvsm-agent %s\n", subcmds[i].usage);
}

static int
cmd_help(int argc, char **argv)
{
	usage(stdout);
	return (0);
}

/*
 * One malloc arena for the whole daemon, set before any thread exists.
 * glibc gives every thread that allocates an arena of its own (up to 8
 * per core) and an arena keeps what its frees leave: the agent's threads
 * and nng's made about a dozen, tens of KiB resident each when idle, and
 * after an upload each kept its 1 MiB chunk buffers (20 MiB and more).
 * The agent allocates little and rarely at once, so one lock costs
 * nothing; and one arena is one heap that malloc_trim() empties: the
 * sender, the uploader and the heartbeat trim it when the agent goes
 * idle (docs/benchmarks.md, agent-idle).
 */
static void
agent_malloc_init(void)
{
	mallopt(M_ARENA_MAX, 1);
}

int
agent_cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct vsm_agent_config *cfg;
	struct vsm_err           err;
	const char              *path = NULL;
	int                      ch;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'h':
			printf("usage: vsm-agent run --config FILE\n");
			return (0);
		default:
			fprintf(stderr,
			    "vsm-agent run: bad option '%s'; usage: "
			    "vsm-agent run --config FILE\n",
			    argv[optind - 1]);
			return (2);
		}
	}
	if (path == NULL || optind != argc) {
		fprintf(stderr,
		    "vsm-agent run: %s; usage: vsm-agent run "
		    "--config FILE\n",
		    path == NULL ? "--config is required"
		                 : "unexpected argument");
		return (2);
	}
	agent_malloc_init();
	vsm_log_init("vsm-agent", VSM_LOG_INFO, 0);
	if (vsm_agent_config_load(path, &cfg, &err) == -1) {
		fprintf(stderr, "vsm-agent: %s\n", err.msg);
		return (1);
	}
	vsm_log_setlevel(cfg->log_level);
	if (agent_run(cfg, &err) == -1) {
		fprintf(stderr, "vsm-agent: %s\n", err.msg);
		return (1);
	}
	return (0);
}

int
main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		fprintf(stderr, "vsm-agent: a command is required\n");
		usage(stderr);
		return (2);
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return (cmd_help(argc - 1, argv + 1));
	if (strcmp(argv[1], "--version") == 0) {
		printf("vsm-agent %s\n", VSM_VERSION);
		return (0);
	}
	for (i = 0; i < NSUBCMDS; i++)
		if (strcmp(argv[1], subcmds[i].name) == 0)
			return (subcmds[i].fn(argc - 1, argv + 1));
	fprintf(stderr, "vsm-agent: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return (2);
}
