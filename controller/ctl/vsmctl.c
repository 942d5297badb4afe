/*
 * vsmctl.c: the operator's command-line tool. Global options, the command
 * table and the dispatch; usage and `help` are generated from the table.
 * Exit codes: 0 ok, 1 the operation failed, 2 bad usage, with one line on
 * stderr for every error (DESIGN.md section 8, docs/vsmctl.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ctl.h"
#include "log.h"

static int cmd_help(struct ctl *, int, char **);

/*
 * The commands. A later family (schedule, backup, restore, rollout) is a
 * file of cmd_* functions declared in ctl.h and its rows here.
 */
static const struct ctl_cmd ctl_cmds[] = {
    {"hosts", cmd_hosts, "hosts", "list the hosts"},
    {"host show", cmd_host_show, "host show NAME",
        "show a host: labels, facts, capabilities"},
    {"keys list", cmd_keys_list, "keys list [--state STATE]",
        "list agent keys"},
    {"keys accept", cmd_keys_accept, "keys accept ID",
        "accept a key (ID or host name)"},
    {"keys reject", cmd_keys_reject, "keys reject ID",
        "reject a key, closing its sessions"},
    {"keys revoke", cmd_keys_revoke, "keys revoke ID",
        "revoke a key for good, closing its sessions"},
    {"keys token", cmd_keys_token, "keys token [--uses N] [--ttl D]",
        "make an enrollment token"},
    {"run", cmd_run,
        "run MODULE [--target SEL] [--param k=v]... [--timeout D] "
        "[--retries N] [--dry-run] [--wait]",
        "run a task module on the matching hosts"},
    {"jobs", cmd_jobs, "jobs [--limit N]", "list jobs, newest first"},
    {"job show", cmd_job_show, "job show ID", "show a job and its tasks"},
    {"job logs", cmd_job_logs, "job logs ID [--follow]", "show a job's events"},
    {"job cancel", cmd_job_cancel, "job cancel ID",
        "cancel a job's unfinished tasks"},
    {"audit", cmd_audit, "audit [--limit N] [--before ID]",
        "show the audit log, newest first"},
    {"schedule list", cmd_schedule_list, "schedule list",
        "list schedules: next run, last run and its outcome"},
    {"schedule show", cmd_schedule_show, "schedule show NAME [--runs N]",
        "show a schedule and its latest runs"},
    {"schedule add", cmd_schedule_add,
        "schedule add NAME MODULE --cron EXPR [--target SEL] "
        "[--param k=v]... [--tz ZONE] [--window W] [--window-policy "
        "wait|skip] [--overlap skip|queue|replace|allow] [--max-parallel "
        "N|N%] [--splay D] [--timeout D] [--run-timeout D] "
        "[--starting-deadline D] [--retries N] [--disabled]",
        "add a schedule"},
    {"schedule rm", cmd_schedule_rm, "schedule rm NAME",
        "remove a schedule added with schedule add"},
    {"schedule enable", cmd_schedule_enable, "schedule enable NAME",
        "enable a schedule (from now on: no catch-up)"},
    {"schedule disable", cmd_schedule_disable, "schedule disable NAME",
        "disable a schedule"},
    {"schedule fire", cmd_schedule_fire, "schedule fire NAME",
        "make a schedule due now (run now; admin)"},
    {"schedule next", cmd_schedule_next,
        "schedule next EXPR [--tz ZONE] [--from TIME] [--count N]",
        "the next fire times of a cron expression (computed here)"},
    {"help", cmd_help, "help", "show this text"},
};

#define NCMDS (sizeof(ctl_cmds) / sizeof(ctl_cmds[0]))

static void
ctl_usage_all(FILE *fp)
{
	size_t i;

	fprintf(fp,
	    "usage: vsmctl [--control URL] [--key FILE] "
	    "[--controller-key KEY|FILE]\n"
	    "              [--dir DIR] [--json] COMMAND [ARGS]\n"
	    "commands:\n");
	for (i = 0; i < NCMDS; i++) {
		if (strlen(ctl_cmds[i].usage) <= 34)
			fprintf(fp, "  %-34s  %s\n", ctl_cmds[i].usage,
			    ctl_cmds[i].help);
		else
			fprintf(fp, "  %s\n  %-34s  %s\n", ctl_cmds[i].usage,
			    "", ctl_cmds[i].help);
	}
	fprintf(fp, "exit codes: 0 ok, 1 the operation failed, 2 bad usage\n");
}

static int
cmd_help(struct ctl *c, int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		return (ctl_usage(c, "unexpected argument '%s'", argv[0]));
	ctl_usage_all(stdout);
	return (CTL_OK);
}

/* Words of `name` ("job show") matched against argv; how many, or 0. */
static int
ctl_match(const char *name, int argc, char **argv)
{
	const char *p = name, *sp;
	size_t      len;
	int         n = 0;

	for (;;) {
		sp = strchr(p, ' ');
		len = sp != NULL ? (size_t)(sp - p) : strlen(p);
		if (n >= argc || strlen(argv[n]) != len ||
		    strncmp(argv[n], p, len) != 0)
			return (0);
		n++;
		if (sp == NULL)
			return (n);
		p = sp + 1;
	}
}

/*
 * A global option at argv[*ip]: 1 when taken (with its value), 0 when
 * argv[*ip] is not one, -1 (usage printed) when its value is missing.
 */
static int
ctl_global(struct ctl *c, int argc, char **argv, int *ip)
{
	static const struct {
		const char *name;
		size_t      off;
	} opts[] = {
	    {"--control", offsetof(struct ctl, control)},
	    {"--key", offsetof(struct ctl, keyfile)},
	    {"--controller-key", offsetof(struct ctl, ctlkey)},
	    {"--dir", offsetof(struct ctl, dir)},
	};
	const char *a = argv[*ip], *eq;
	size_t      i, len;

	if (strcmp(a, "--json") == 0) {
		c->json = 1;
		return (1);
	}
	eq = strchr(a, '=');
	len = eq != NULL ? (size_t)(eq - a) : strlen(a);
	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		if (strlen(opts[i].name) != len ||
		    strncmp(a, opts[i].name, len) != 0)
			continue;
		if (eq == NULL && *ip + 1 >= argc)
			return (
			    ctl_usage(c, "%s needs a value", opts[i].name), -1);
		*(const char **)((char *)c + opts[i].off) =
		    eq != NULL ? eq + 1 : argv[++*ip];
		return (1);
	}
	return (0);
}

/* Whether `name` ("keys list") is in the family `word` ("keys"). */
static int
ctl_family(const char *name, const char *word)
{
	size_t len = strlen(word);

	return (strncmp(name, word, len) == 0 && name[len] == ' ');
}

static const char *
ctl_env(const char *name)
{
	const char *v = getenv(name);

	return (v != NULL && v[0] != '\0' ? v : NULL);
}

int
main(int argc, char **argv)
{
	static char           control[4200], keyfile[4200], ctlkey[4200];
	struct ctl            c;
	const struct ctl_cmd *cmd = NULL;
	size_t                i;
	int                   ai, n, best = 0, ret;

	memset(&c, 0, sizeof(c));
	vsm_log_init("vsmctl", VSM_LOG_ERROR, 0);
	if (sodium_init() < 0) {
		fprintf(stderr, "vsmctl: libsodium failed to start\n");
		return (CTL_FAIL);
	}
	for (ai = 1; ai < argc && argv[ai][0] == '-'; ai++) {
		if (strcmp(argv[ai], "--help") == 0 ||
		    strcmp(argv[ai], "-h") == 0) {
			ctl_usage_all(stdout);
			return (CTL_OK);
		}
		if (strcmp(argv[ai], "--") == 0) {
			ai++;
			break;
		}
		if ((n = ctl_global(&c, argc, argv, &ai)) == -1)
			return (CTL_USAGE);
		if (n == 0) {
			fprintf(stderr,
			    "vsmctl: unknown option '%s' (try vsmctl --help)\n",
			    argv[ai]);
			return (CTL_USAGE);
		}
	}
	if (ai >= argc) {
		fprintf(
		    stderr, "vsmctl: missing command (try vsmctl --help)\n");
		return (CTL_USAGE);
	}
	for (i = 0; i < NCMDS; i++) {
		n = ctl_match(ctl_cmds[i].name, argc - ai, argv + ai);
		if (n > best) {
			best = n;
			cmd = &ctl_cmds[i];
		}
	}
	if (cmd == NULL) {
		/* "keys frob": a family with no such subcommand. */
		for (i = 0; i < NCMDS; i++)
			if (ctl_family(ctl_cmds[i].name, argv[ai]))
				break;
		if (i < NCMDS && ai + 1 >= argc)
			fprintf(stderr,
			    "vsmctl: '%s' needs a subcommand "
			    "(try vsmctl --help)\n",
			    argv[ai]);
		else if (i < NCMDS)
			fprintf(stderr,
			    "vsmctl: unknown command '%s %s' "
			    "(try vsmctl --help)\n",
			    argv[ai], argv[ai + 1]);
		else
			fprintf(stderr,
			    "vsmctl: unknown command '%s' "
			    "(try vsmctl --help)\n",
			    argv[ai]);
		return (CTL_USAGE);
	}
	c.cmd = cmd;
	ai += best;
	for (n = ai; n < argc && strcmp(argv[n], "--") != 0; n++)
		if (strcmp(argv[n], "--help") == 0 ||
		    strcmp(argv[n], "-h") == 0) {
			printf(
			    "usage: vsmctl %s\n  %s\n", cmd->usage, cmd->help);
			return (CTL_OK);
		}

	/* Defaults: the flags, then the environment, then the data dir. */
	if (c.dir == NULL && (c.dir = ctl_env("VSM_DIR")) == NULL)
		c.dir = CTL_DATA_DIR;
	if (c.control == NULL && (c.control = ctl_env("VSM_CONTROL")) == NULL) {
		snprintf(
		    control, sizeof(control), "ipc://%s/control.sock", c.dir);
		c.control = control;
	}
	if (c.keyfile == NULL && (c.keyfile = ctl_env("VSM_KEY")) == NULL) {
		snprintf(keyfile, sizeof(keyfile), "%s/admin.key", c.dir);
		c.keyfile = keyfile;
	}
	if (c.ctlkey == NULL &&
	    (c.ctlkey = ctl_env("VSM_CONTROLLER_KEY")) == NULL) {
		snprintf(
		    ctlkey, sizeof(ctlkey), "%s/controller.key.pub", c.dir);
		c.ctlkey = ctlkey;
	}

	ret = cmd->fn(&c, argc - ai, argv + ai);
	ctl_close(&c);
	if (fflush(stdout) == EOF && ret == CTL_OK) {
		fprintf(stderr, "vsmctl: cannot write the output\n");
		ret = CTL_FAIL;
	}
	return (ret);
}
