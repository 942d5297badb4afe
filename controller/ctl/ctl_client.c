/*
 * ctl_client.c: the session with the controller's control endpoint
 * (docs/control.md). The operator key and the pinned controller key are
 * loaded on the first call; each call sends one CtlRequest and decodes
 * the CtlResponse. Status maps to the exit code: 0 ok, 1 failed, 2 bad
 * usage; the controller's error line is printed as it is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ctl.h"
#include "envelope.h"
#include "vsm.pb-c.h"

/* Load the keys and open the session; CTL_OK or CTL_FAIL (line printed). */
static int
ctl_open(struct ctl *c)
{
	static Vsm__Hello        hello = VSM__HELLO__INIT;
	struct vsm_client_config cc;
	struct vsm_err           err, derr;
	int                      status = 0;

	if (vsm_key_load(c->keyfile, &c->key, &err) == -1)
		return (ctl_fail(c, "operator key: %s", err.msg));
	/* --controller-key is a base64 key or a file holding one. */
	if (vsm_key_decode(c->ctlkey, c->srvkey, &derr) == -1 &&
	    vsm_pubkey_load(c->ctlkey, c->srvkey, &err) == -1)
		return (ctl_fail(c, "controller key: %s", err.msg));
	hello.name = "vsmctl";
	hello.agent_version = "vsmctl";
	hello.proto_version = 1;
	memset(&cc, 0, sizeof(cc));
	cc.url = c->control;
	cc.key = &c->key;
	cc.server_key = c->srvkey;
	cc.hello = &hello;
	cc.backoff_base_ms = 100;
	cc.backoff_cap_ms = 1000;
	if (vsm_client_open(&c->cl, &cc, &err) == -1)
		return (ctl_fail(c, "%s: %s", c->control, err.msg));
	if (vsm_client_connect(c->cl, CTL_CONNECT_MS, &status, &err) == -1) {
		vsm_client_close(c->cl);
		c->cl = NULL;
		return (ctl_fail(c, "cannot reach the controller at %s: %s",
		    c->control, err.msg));
	}
	return (CTL_OK);
}

/* Close the session and wipe the operator key. Safe to call twice. */
void
ctl_close(struct ctl *c)
{
	vsm_client_close(c->cl);
	c->cl = NULL;
	sodium_memzero(&c->key, sizeof(c->key));
}

/*
 * Send `command` with `args` (NULL for none) and wait for the answer.
 * Returns the CtlResponse status (CTL_OK, CTL_FAIL, CTL_USAGE) with the
 * error line printed when it is not CTL_OK, or CTL_FAIL when the call
 * itself failed. On CTL_OK and docp != NULL, *docp is the parsed
 * document (caller decrefs; json null when the answer had none).
 * Blocks up to CTL_CONNECT_MS + CTL_CALL_MS.
 */
int
ctl_call(struct ctl *c, const char *command, const struct ctl_args *args,
    json_t **docp)
{
	Vsm__Envelope     env = VSM__ENVELOPE__INIT, *rep = NULL;
	Vsm__CtlRequest   rq = VSM__CTL_REQUEST__INIT;
	Vsm__Param        pv[CTL_MAX_ARGS], *pp[CTL_MAX_ARGS];
	Vsm__CtlResponse *resp;
	struct vsm_err    err;
	json_error_t      jerr;
	size_t            i;
	char             *p;
	json_t           *doc = NULL;
	int               ret = CTL_FAIL;

	if (docp != NULL)
		*docp = NULL;
	if (c->cl == NULL && ctl_open(c) != CTL_OK)
		return (CTL_FAIL);
	for (i = 0; args != NULL && i < args->n; i++) {
		vsm__param__init(&pv[i]);
		pv[i].key = (char *)args->key[i];
		pv[i].value = (char *)args->val[i];
		pp[i] = &pv[i];
	}
	rq.command = (char *)command;
	rq.args = pp;
	rq.n_args = args != NULL ? args->n : 0;
	env.body_case = VSM__ENVELOPE__BODY_CTL_REQUEST;
	env.ctl_request = &rq;
	if (vsm_client_call_env(c->cl, &env, &rep, CTL_CALL_MS, &err) == -1) {
		ctl_fail(c, "%s: %s", command, err.msg);
		goto out;
	}
	if (rep->body_case != VSM__ENVELOPE__BODY_CTL_RESPONSE) {
		ctl_fail(
		    c, "%s: the controller sent a malformed answer", command);
		goto out;
	}
	resp = rep->ctl_response;
	if (resp->status != CTL_OK) {
		ret = resp->status == CTL_USAGE ? CTL_USAGE : CTL_FAIL;
		if (resp->error[0] == '\0')
			ctl_fail(c, "%s: the controller refused it", command);
		else if (ret == CTL_USAGE) {
			/* Our usage line, not the protocol's. */
			if ((p = strstr(resp->error, " (usage: ")) != NULL)
				*p = '\0';
			ctl_usage(c, "%s", resp->error);
		} else
			ctl_fail(c, "%s", resp->error);
		goto out;
	}
	if (resp->json[0] == '\0')
		doc = json_null();
	else if ((doc = json_loads(resp->json, JSON_DECODE_ANY, &jerr)) ==
	    NULL) {
		ctl_fail(c, "%s: the controller sent bad JSON: %s", command,
		    jerr.text);
		goto out;
	}
	if (docp != NULL) {
		*docp = doc;
		doc = NULL;
	}
	ret = CTL_OK;
out:
	json_decref(doc);
	if (rep != NULL)
		vsm__envelope__free_unpacked(rep, NULL);
	return (ret);
}

/*
 * A listing command: call it, print the document with --json, and check
 * that it is a list. Returns 1 with *docp (the caller decrefs it) when the
 * caller prints a table; 0 when done, with the exit code in *retp.
 */
int
ctl_call_list(struct ctl *c, const char *command, const struct ctl_args *args,
    const char *what, json_t **docp, int *retp)
{
	json_t *doc = NULL;

	*docp = NULL;
	if ((*retp = ctl_call(c, command, args, &doc)) != CTL_OK)
		goto done;
	if (c->json) {
		*retp = ctl_print_json(c, doc);
		goto done;
	}
	if (!json_is_array(doc)) {
		ctl_fail(c, "%s: the answer is not a list", what);
		*retp = CTL_FAIL;
		goto done;
	}
	*docp = doc;
	return (1);
done:
	json_decref(doc);
	return (0);
}
