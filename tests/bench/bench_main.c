/*
 * bench_main.c: vsm-bench, the benchmarks of vsm. One subcommand per file
 * of tests/bench/, dispatched from one table; the usage text is generated
 * from that table. Benchmarks print figures and never pass or fail on
 * time (docs/benchmarks.md).
 */
#include <stdio.h>
#include <string.h>

#include "bench_fleet.h"
#include "err.h"
#include "log.h"

/*
 * A subcommand runs with argv[0] its own name. It returns 0 when done, 1
 * when the run failed and 2 on bad usage, with err saying why in both
 * cases; that number is the exit status of vsm-bench.
 */
struct bench_cmd {
	const char *name;
	int (*fn)(int, char **, struct vsm_err *);
	const char *usage;
};

/* bench_channel.c */
int bench_channel(int, char **, struct vsm_err *);
/* bench_agent_idle.c */
int bench_agent_idle(int, char **, struct vsm_err *);
/* bench_ansible.c */
int bench_ansible(int, char **, struct vsm_err *);

static int bench_all(int, char **, struct vsm_err *);

static const struct bench_cmd cmds[] = {
    {"all", bench_all, "all [--agents N] (every figure of docs/benchmarks.md)"},
    {"channel", bench_channel, "channel [--seconds S] [--window W] [--json]"},
    {"agent-idle", bench_agent_idle,
        "agent-idle [--seconds S] [--tasks N] [--json]"},
    {"ansible", bench_ansible,
        "ansible [--hosts N[,N]...] [--forks F] [--json]"},
    {"fleet", bench_fleet,
        "fleet [--agents N] [--rounds R] [--idle S] [--no-storm] [--json] "
        "[--keep]"},
    {"floor-serve", bench_floor_serve,
        "floor-serve URL N (the floor's server, started by fleet)"},
};

#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

/*
 * vsm-bench all: the runs docs/benchmarks.md records, one after the other,
 * each with the arguments of its table there (--agents N scales the fleet
 * run down from 10,000). Stops at the first run that fails.
 */
static int
bench_all(int argc, char **argv, struct vsm_err *err)
{
	char  agents[16] = "10000";
	char *runs[][9] = {
	    {"channel", NULL},
	    {"fleet", "--agents", agents, "--rounds", "3", "--idle", "10",
	        NULL},
	    {"agent-idle", NULL},
	    {"ansible", NULL},
	};
	size_t i, j, n;
	int    rc;

	if (argc == 3 && strcmp(argv[1], "--agents") == 0 &&
	    strspn(argv[2], "0123456789") == strlen(argv[2]) &&
	    strlen(argv[2]) < sizeof(agents) && argv[2][0] != '\0')
		snprintf(agents, sizeof(agents), "%s", argv[2]);
	else if (argc != 1)
		return (vsm_err_set(err, "only --agents N is accepted"), 2);
	for (i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		for (n = 0; runs[i][n] != NULL; n++)
			continue;
		printf("\n=== vsm-bench");
		for (j = 0; j < n; j++)
			printf(" %s", runs[i][j]);
		printf("\n");
		fflush(stdout);
		for (j = 0; j < NCMDS; j++)
			if (strcmp(cmds[j].name, runs[i][0]) == 0)
				break;
		if ((rc = cmds[j].fn((int)n, runs[i], err)) != 0)
			return (rc == 2 ? 1 : rc);
	}
	return (0);
}

static void
usage(FILE *fp)
{
	size_t i;

	for (i = 0; i < NCMDS; i++)
		fprintf(fp, "%s vsm-bench %s\n", i == 0 ? "usage:" : "      ",
		    cmds[i].usage);
}

/* The names of every subcommand, "a, b, c", for an error line. */
static void
cmd_names(char *buf, size_t len)
{
	size_t i, off = 0;
	int    n;

	buf[0] = '\0';
	for (i = 0; i < NCMDS && off < len; i++) {
		n = snprintf(
		    buf + off, len - off, "%s%s", i ? ", " : "", cmds[i].name);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

int
main(int argc, char *argv[])
{
	const struct bench_cmd *cmd = NULL;
	struct vsm_err          err;
	char                    names[256];
	size_t                  i;
	int                     rc;

	vsm_log_init("vsm-bench", VSM_LOG_WARN, 0);
	if (argc < 2) {
		cmd_names(names, sizeof(names));
		fprintf(stderr, "vsm-bench: no subcommand given (one of: %s)\n",
		    names);
		return (2);
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return (0);
	}
	for (i = 0; i < NCMDS; i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			cmd = &cmds[i];
	if (cmd == NULL) {
		cmd_names(names, sizeof(names));
		fprintf(stderr,
		    "vsm-bench: unknown subcommand '%s' (one of: "
		    "%s)\n",
		    argv[1], names);
		return (2);
	}
	if (argc > 2 &&
	    (strcmp(argv[2], "-h") == 0 || strcmp(argv[2], "--help") == 0)) {
		printf("usage: vsm-bench %s\n", cmd->usage);
		return (0);
	}
	memset(&err, 0, sizeof(err));
	rc = cmd->fn(argc - 1, argv + 1, &err);
	if (rc == 2)
		fprintf(stderr, "vsm-bench %s: %s; usage: vsm-bench %s\n",
		    cmd->name, err.msg, cmd->usage);
	else if (rc != 0)
		fprintf(stderr, "vsm-bench %s: %s\n", cmd->name, err.msg);
	return (rc == 0 ? 0 : rc == 2 ? 2 : 1);
}
