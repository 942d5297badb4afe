/*
 * main.c: vsm-controller, the subcommand table. Usage text is generated
 * from the table; exit codes are 0 (ok), 1 (failed), 2 (bad usage).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "cron.h"
#include "ctld.h"
#include "log.h"

struct ctld_cmd {
	const char *name;
	int (*fn)(int, char **);
	const char *usage;
	const char *help;
};

static int main_help(int, char **);

static const struct ctld_cmd cmds[] = {
    {"init", init_main,
        "init --dir DIR [--listen URL] [--token-uses N] [--token-ttl D]",
        "create keys, config and store; print the key and a token"},
    {"run", daemon_main, "run --config FILE", "run the controller"},
    {"help", main_help, "help", "show this text"},
};

static void
main_usage(FILE *fp)
{
	size_t i;

	fprintf(fp, "usage: vsm-controller COMMAND [ARGS]\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(fp, "  %-62s %s\n", cmds[i].usage, cmds[i].help);
}

static int
main_help(int argc, char **argv)
{
	main_usage(stdout);
	return (0);
}

int64_t
ctld_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

int64_t
ctld_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

int
main(int argc, char **argv)
{
	size_t i;

	if (sodium_init() < 0) {
		fprintf(stderr, "vsm-controller: libsodium failed to start\n");
		return (1);
	}
	/* Before any thread starts: the scheduler's zone conversions. */
	vsm_tz_init();
	if (argc < 2) {
		main_usage(stderr);
		return (2);
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return (main_help(argc, argv));
	if (strcmp(argv[1], "--version") == 0) {
		printf("vsm-controller %s\n", VSM_VERSION);
		return (0);
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name) != 0)
			continue;
		if (argc > 2 && strcmp(argv[2], "--help") == 0) {
			printf("usage: vsm-controller %s\n  %s\n",
			    cmds[i].usage, cmds[i].help);
			return (0);
		}
		return (cmds[i].fn(argc - 1, argv + 1));
	}
	fprintf(stderr,
	    "vsm-controller: unknown command '%s' (try "
	    "vsm-controller help)\n",
	    argv[1]);
	return (2);
}
