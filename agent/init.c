/*
 * init.c: `vsm-agent init`: a new identity (DIR/agent.key, 0600, and
 * DIR/agent.key.pub) and a commented DIR/agent.yaml. Nothing existing is
 * ever replaced. Prints the agent's public key on stdout.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "fileio.h"
#include "log.h"

#define INIT_USAGE                                                             \
	"usage: vsm-agent init --dir DIR --controller tcp://HOST:PORT "        \
	"--controller-key KEY --token TOKEN --name NAME [--label k=v]..."

static int
init_bad(const char *msg, const char *arg)
{
	fprintf(stderr, "vsm-agent init: %s%s%s\n", msg, arg ? ": " : "",
	    arg ? arg : "");
	fprintf(stderr, "%s\n", INIT_USAGE);
	return (2);
}

int
agent_cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"dir", required_argument, NULL, 'd'},
	    {"controller", required_argument, NULL, 'c'},
	    {"controller-key", required_argument, NULL, 'k'},
	    {"token", required_argument, NULL, 't'},
	    {"name", required_argument, NULL, 'n'},
	    {"label", required_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct vsm_agent_init init = {0};
	struct vsm_label      labels[VSM_CFG_LABELS_MAX];
	char                  lbuf[VSM_CFG_LABELS_MAX][VSM_CFG_STR_MAX];
	char               keypath[VSM_CFG_PATH_MAX], cfgpath[VSM_CFG_PATH_MAX];
	char               pubpath[VSM_CFG_PATH_MAX + 8], b64[VSM_KEY_B64LEN];
	struct vsm_keypair kp;
	struct vsm_err     err;
	struct stat        sb;
	uint8_t            key[VSM_KEY_LEN];
	char              *eq;
	int                ch, ret = 1;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			init.dir = optarg;
			break;
		case 'c':
			init.controller = optarg;
			break;
		case 'k':
			init.controller_key = optarg;
			break;
		case 't':
			init.token = optarg;
			break;
		case 'n':
			init.name = optarg;
			break;
		case 'l':
			if (init.nlabels >= VSM_CFG_LABELS_MAX)
				return (init_bad("too many labels", NULL));
			if (strlen(optarg) >= sizeof(lbuf[0]) ||
			    (eq = strchr(optarg, '=')) == NULL || eq == optarg)
				return (init_bad("a label is k=v", optarg));
			snprintf(
			    lbuf[init.nlabels], sizeof(lbuf[0]), "%s", optarg);
			lbuf[init.nlabels][eq - optarg] = '\0';
			labels[init.nlabels].key = lbuf[init.nlabels];
			labels[init.nlabels].value =
			    lbuf[init.nlabels] + (eq - optarg) + 1;
			init.nlabels++;
			break;
		case 'h':
			printf("%s\n", INIT_USAGE);
			return (0);
		default:
			return (init_bad("bad option", argv[optind - 1]));
		}
	}
	init.labels = labels;
	if (optind != argc)
		return (init_bad("unexpected argument", argv[optind]));
	if (init.dir == NULL)
		return (init_bad("--dir is required", NULL));
	if (init.controller == NULL)
		return (init_bad("--controller is required", NULL));
	if (init.controller_key == NULL)
		return (init_bad("--controller-key is required", NULL));
	if (init.name == NULL)
		return (init_bad("--name is required", NULL));
	if (vsm_url_check(init.controller, VSM_URL_TCP, &err) == -1)
		return (init_bad(err.msg, NULL));
	if (vsm_key_decode(init.controller_key, key, &err) == -1)
		return (init_bad("--controller-key", err.msg));

	if (vsm_mkdirs(init.dir, 0700, &err) == -1) {
		fprintf(stderr, "vsm-agent init: %s\n", err.msg);
		return (1);
	}
	snprintf(keypath, sizeof(keypath), "%s/agent.key", init.dir);
	snprintf(pubpath, sizeof(pubpath), "%s.pub", keypath);
	snprintf(cfgpath, sizeof(cfgpath), "%s/agent.yaml", init.dir);
	if (stat(cfgpath, &sb) == 0) {
		fprintf(stderr,
		    "vsm-agent init: %s already exists: not "
		    "replaced\n",
		    cfgpath);
		return (1);
	}
	vsm_keypair_generate(&kp);
	if (vsm_key_save(keypath, &kp, &err) == -1) {
		fprintf(stderr, "vsm-agent init: %s\n", err.msg);
		goto out;
	}
	if (vsm_agent_config_write_default(cfgpath, &init, &err) == -1) {
		fprintf(stderr, "vsm-agent init: %s\n", err.msg);
		/* Leave nothing half made. */
		unlink(keypath);
		unlink(pubpath);
		goto out;
	}
	vsm_key_encode(kp.pub, b64);
	printf("%s\n", b64);
	fprintf(stderr, "vsm-agent: wrote %s and %s; public key %s\n", cfgpath,
	    keypath, b64);
	ret = 0;
out:
	vsm_keypair_wipe(&kp);
	return (ret);
}
