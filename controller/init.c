/*
 * init.c: `vsm-controller init --dir DIR`: the controller key, a config
 * file, the store, an admin operator key and a first enrollment token.
 * Nothing existing is ever overwritten.
 */
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "ctld.h"
#include "fileio.h"
#include "keyfile.h"
#include "log.h"

#define INIT_TTL_DEFAULT (24 * 3600 * 1000LL)

/*
 * Write the operators file with one admin, named "admin", whose key is
 * DIR/admin.key. 0 or -1 with err set.
 */
static int
init_admin(const char *dir, struct vsm_err *err)
{
	struct vsm_keypair kp;
	char               path[PATH_MAX], line[256], b64[VSM_KEY_B64LEN];
	int                ret = -1;

	vsm_keypair_generate(&kp);
	snprintf(path, sizeof(path), "%s/admin.key", dir);
	if (vsm_key_save(path, &kp, err) == -1)
		goto out;
	vsm_key_encode(kp.pub, b64);
	snprintf(line, sizeof(line),
	    "# vsm-controller operators: ROLE KEY NAME, one a line.\n"
	    "# ROLE is viewer, operator or admin; KEY the base64 public key.\n"
	    "admin %s admin\n",
	    b64);
	snprintf(path, sizeof(path), "%s/%s", dir, CTLD_OPERATORS_FILE);
	if (vsm_write_new_file(path, line, strlen(line), 0600, NULL, err) == -1)
		goto out;
	ret = 0;
out:
	vsm_keypair_wipe(&kp);
	return (ret);
}

int
init_main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"dir", required_argument, NULL, 'd'},
	    {"listen", required_argument, NULL, 'l'},
	    {"token-uses", required_argument, NULL, 'u'},
	    {"token-ttl", required_argument, NULL, 't'},
	    {NULL, 0, NULL, 0},
	};
	struct vsm_controller_init init = {0};
	struct store_actor         actor = {"local", "admin"};
	struct vsm_keypair         kp;
	struct store              *st = NULL;
	struct vsm_err             err;
	char                       path[PATH_MAX], store_uri[PATH_MAX + 8];
	char     tok[STORE_TOKEN_LEN + 1], b64[VSM_KEY_B64LEN];
	char     ttlbuf[32], *end;
	uint64_t ttl = INIT_TTL_DEFAULT;
	long     uses = 1;
	int64_t  tokid;
	int      c, ret = 1;

	memset(&kp, 0, sizeof(kp));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			init.dir = optarg;
			break;
		case 'l':
			init.listen = optarg;
			break;
		case 'u':
			errno = 0;
			uses = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || uses < 1 ||
			    uses > 100000) {
				fprintf(stderr,
				    "vsm-controller: --token-uses: "
				    "'%s' is not 1-100000\n",
				    optarg);
				return (2);
			}
			break;
		case 't':
			if (vsm_duration_parse(optarg, &ttl, &err) == -1) {
				fprintf(stderr,
				    "vsm-controller: --token-ttl: "
				    "%s\n",
				    err.msg);
				return (2);
			}
			break;
		default:
			fprintf(stderr,
			    "vsm-controller: init: unknown option "
			    "'%s'\n",
			    argv[optind - 1]);
			return (2);
		}
	}
	if (init.dir == NULL || optind != argc) {
		fprintf(stderr,
		    "usage: vsm-controller init --dir DIR "
		    "[--listen URL] [--token-uses N] [--token-ttl D]\n");
		return (2);
	}
	if (vsm_mkdirs(init.dir, 0700, &err) == -1) {
		fprintf(stderr, "vsm-controller: %s\n", err.msg);
		return (1);
	}
	vsm_log_init("vsm-controller", VSM_LOG_WARN, 0);
	snprintf(path, sizeof(path), "%s/controller.key", init.dir);
	vsm_keypair_generate(&kp);
	if (vsm_key_save(path, &kp, &err) == -1) {
		fprintf(stderr, "vsm-controller: %s\n", err.msg);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/controller.yaml", init.dir);
	if (vsm_controller_config_write_default(path, &init, &err) == -1) {
		fprintf(stderr, "vsm-controller: %s\n", err.msg);
		goto out;
	}
	if (init_admin(init.dir, &err) == -1) {
		fprintf(stderr, "vsm-controller: %s\n", err.msg);
		goto out;
	}
	snprintf(store_uri, sizeof(store_uri), "sqlite:%s/vsm.db", init.dir);
	if (store_open(store_uri, &st, &err) == -1 ||
	    store_token_create(st, &actor, (int)uses, (int64_t)ttl, ctld_now(),
	        tok, &tokid, &err) == -1) {
		fprintf(stderr, "vsm-controller: store: %s\n", err.msg);
		goto out;
	}
	vsm_key_encode(kp.pub, b64);
	vsm_duration_format(ttl, ttlbuf, sizeof(ttlbuf));
	printf("controller key: %s\n", b64);
	printf("enrollment token: %s\n", tok);
	printf("token uses: %ld, valid for %s\n", uses, ttlbuf);
	printf("config: %s\n", path);
	printf("admin key: %s/admin.key\n", init.dir);
	sodium_memzero(tok, sizeof(tok));
	ret = 0;
out:
	store_close(st);
	vsm_keypair_wipe(&kp);
	return (ret);
}
