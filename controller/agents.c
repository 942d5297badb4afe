/*
 * agents.c: the agent listener. authorize() decides on each handshake
 * from the key store; request() checks the Envelope and dispatches on its
 * body type, one place per type; closed() tells the registry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctld.h"
#include "envelope.h"
#include "log.h"
#include "selector.h"

#define AGENTS_ERR_BADREQ  400
#define AGENTS_ERR_UNKNOWN 404
#define AGENTS_ERR_STORE   503
#define AGENTS_CAPS_MAX    256 /* modules, and commands, in a Hello */
/* A number constant as a string literal, for fixed refusal messages. */
#define AGENTS_STR_(x) #x
#define AGENTS_STR(x)  AGENTS_STR_(x)

static const char agents_too_many_commands[] =
    "invalid capabilities: more than " AGENTS_STR(AGENTS_CAPS_MAX) " commands";
static const char agents_too_many_modules[] =
    "invalid capabilities: more than " AGENTS_STR(AGENTS_CAPS_MAX) " modules";
static const char agents_bad_command[] =
    "invalid capabilities: a command name is not exec.NAME (1-" AGENTS_STR(
        VSM_MODULE_NAME_MAX) " of A-Z a-z 0-9 . _ -)";
static const char agents_bad_module[] =
    "invalid capabilities: a module name is not 1-" AGENTS_STR(
        VSM_MODULE_NAME_MAX) " of A-Z a-z 0-9 . _ - (a family ends in .*)";

int
agents_reply(struct vsm_srv_req *req, const Vsm__Envelope *env)
{
	return (vsm_srv_reply_env(req, env));
}

void
agents_reply_error(struct vsm_srv_req *req, uint32_t code, const char *msg)
{
	Vsm__Envelope env = VSM__ENVELOPE__INIT;
	Vsm__Error    e = VSM__ERROR__INIT;

	e.code = code;
	e.message = (char *)msg;
	env.body_case = VSM__ENVELOPE__BODY_ERROR;
	env.error = &e;
	agents_reply(req, &env);
}

/* The Hello's labels as a JSON object; NULL when one is not valid. */
static char *
agents_labels(const Vsm__Hello *hello)
{
	json_t *o;
	char   *s = NULL;
	size_t  i;

	if (hello->n_labels > VSM_CFG_LABELS_MAX || (o = json_object()) == NULL)
		return (NULL);
	for (i = 0; i < hello->n_labels; i++) {
		const Vsm__Label *l = hello->labels[i];

		if (!vsm_label_key_valid(l->key) ||
		    !vsm_label_value_valid(l->value) ||
		    strcmp(l->key, "name") == 0)
			goto out;
		json_object_set_new(o, l->key, json_string(l->value));
	}
	s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
out:
	json_decref(o);
	return (s);
}

/* s for a log line: at most len - 1 bytes, unprintable bytes as '?'. */
static const char *
agents_printable(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < len; i++)
		buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	buf[i] = '\0';
	return (buf);
}

/*
 * One list of capability names as a JSON array into o under key: at most
 * AGENTS_CAPS_MAX, each a valid module name (vsm_module_name_valid)
 * listed once, commands exec.NAME. NULL, or a refusal reason (a string
 * constant) with the offending name logged.
 */
static const char *
agents_cap_list(json_t *o, const char *key, char *const *names, size_t n,
    int commands, const char *host)
{
	json_t     *a;
	const char *name;
	char        pr[100];
	size_t      i, j;

	if (n > AGENTS_CAPS_MAX)
		return (commands ? agents_too_many_commands
		                 : agents_too_many_modules);
	if ((a = json_array()) == NULL || json_object_set_new(o, key, a) == -1)
		return ("controller out of memory; retry");
	for (i = 0; i < n; i++) {
		name = names[i];
		if (!vsm_module_name_valid(name) ||
		    (commands &&
		        (strncmp(name, "exec.", 5) != 0 ||
		            strcmp(name, "exec.*") == 0))) {
			log_warnx("agent %s: hello refused: %s: '%s' is not "
			          "a valid %s",
			    host, key, agents_printable(name, pr, sizeof(pr)),
			    commands ? "exec.NAME" : "module name");
			return (
			    commands ? agents_bad_command : agents_bad_module);
		}
		for (j = 0; j < i; j++)
			if (strcmp(names[j], name) == 0) {
				log_warnx("agent %s: hello refused: %s '%s' "
				          "is listed twice",
				    host, key, name);
				return ("invalid capabilities: a name is "
				        "listed twice");
			}
		if (json_array_append_new(a, json_string(name)) == -1)
			return ("controller out of memory; retry");
	}
	return (NULL);
}

/*
 * The Hello's capabilities as {"modules": [...], "commands": [...]} in
 * the agent's order, into *out (the caller frees it). NULL on success;
 * else the reason the hello is refused (a string constant) and *out NULL.
 */
static const char *
agents_capabilities(const Vsm__Hello *hello, char **out)
{
	const char *why;
	json_t     *o;

	*out = NULL;
	if ((o = json_object()) == NULL)
		return ("controller out of memory; retry");
	if ((why = agents_cap_list(o, "modules", hello->modules,
	         hello->n_modules, 0, hello->name)) == NULL &&
	    (why = agents_cap_list(o, "commands", hello->commands,
	         hello->n_commands, 1, hello->name)) == NULL &&
	    (*out = json_dumps(o, JSON_COMPACT)) == NULL)
		why = "controller out of memory; retry";
	json_decref(o);
	return (why);
}

/*
 * Decide on a handshake from the store: an accepted key under the same
 * name opens a session; an unknown key is added (accepted with a valid
 * token, else pending); pending, rejected and revoked keys and name
 * clashes open nothing. An accepted agent's host row is upserted (labels,
 * version, capabilities) and the registry told; bad labels or
 * capabilities refuse the hello. Called on an nng thread; does a few
 * store calls.
 */
static int
agents_authorize(
    void *arg, struct vsm_peer *peer, const Vsm__Hello *hello, Vsm__Welcome *w)
{
	struct ctld       *cd = arg;
	struct store_key   k;
	struct store_hello sh;
	struct vsm_err     err;
	char               b64[VSM_KEY_B64LEN], *labels = NULL, *caps = NULL;
	const char        *why;
	int64_t            host_id, now = ctld_now();
	int                rc;

	vsm_key_encode(peer->key, b64);
	w->status = VSM__WELCOME__STATUS__REJECTED;
	if (!vsm_name_valid(hello->name)) {
		w->reason = "invalid host name";
		goto out;
	}
	rc = store_key_find(cd->st, peer->key, &k, &err);
	if (rc == -1) {
		log_warnx("agent %s: %s", hello->name, err.msg);
		w->status = VSM__WELCOME__STATUS__UNKNOWN_KEY;
		w->reason = "controller store unavailable; retry";
		goto out;
	}
	if (rc == STORE_NOTFOUND) {
		const char *tok = hello->token[0] != '\0' ? hello->token : NULL;

		if (store_key_add(cd->st, hello->name, peer->key, tok, now, &k,
		        &err) == -1 &&
		    (tok == NULL ||
		        store_key_add(cd->st, hello->name, peer->key, NULL, now,
		            &k, &err) == -1)) {
			log_warnx("agent %s (%s): refused: %s", hello->name,
			    b64, err.msg);
			w->reason = "key refused: the name belongs to another "
			            "key";
			goto out;
		}
		log_info("agent %s (%s): new key, %s", hello->name, b64,
		    store_key_state_str(k.state));
	}
	switch (k.state) {
	case STORE_KEY_PENDING:
		w->status = VSM__WELCOME__STATUS__PENDING;
		w->reason = "key pending: waiting for an operator";
		goto out;
	case STORE_KEY_REJECTED:
	case STORE_KEY_REVOKED:
		w->reason = "key rejected or revoked";
		goto out;
	case STORE_KEY_ACCEPTED:
		break;
	}
	if (strcmp(k.name, hello->name) != 0) {
		w->reason = "key enrolled under another name";
		goto out;
	}
	if ((labels = agents_labels(hello)) == NULL) {
		w->reason = "invalid labels";
		goto out;
	}
	if ((why = agents_capabilities(hello, &caps)) != NULL) {
		w->reason = (char *)why;
		goto out;
	}
	memset(&sh, 0, sizeof(sh));
	sh.name = hello->name;
	sh.key_id = k.id;
	sh.labels = labels;
	sh.agent_version = hello->agent_version;
	sh.capabilities = caps;
	if (store_host_hello(cd->st, &sh, now, &host_id, &err) == -1) {
		log_warnx("agent %s: hello: %s", hello->name, err.msg);
		w->status = VSM__WELCOME__STATUS__UNKNOWN_KEY;
		w->reason = "controller store unavailable; retry";
		goto out;
	}
	if (registry_connect(cd->reg, host_id, hello->name, peer->key,
	        peer->session_id) == -1) {
		w->status = VSM__WELCOME__STATUS__UNKNOWN_KEY;
		w->reason = "controller out of memory; retry";
		goto out;
	}
	peer->udata = (void *)(intptr_t)host_id;
	w->status = VSM__WELCOME__STATUS__ACCEPTED;
	w->heartbeat_ms = (uint32_t)cd->cfg->heartbeat_ms;
	log_info("agent %s: session open (host %lld)", hello->name,
	    (long long)host_id);
out:
	free(labels);
	free(caps);
	return (0);
}

struct hb_ack {
	struct vsm_srv_req *req;
	uint64_t            seq;
};

/* Writer thread, after the commit: answer the heartbeat. */
static void
agents_hb_done(void *arg, int rc, const char *msg)
{
	struct hb_ack    *a = arg;
	Vsm__Envelope     env = VSM__ENVELOPE__INIT;
	Vsm__HeartbeatAck ack = VSM__HEARTBEAT_ACK__INIT;

	if (rc == -1) {
		agents_reply_error(a->req, AGENTS_ERR_STORE, msg);
	} else {
		ack.seq = a->seq;
		ack.controller_time_ms = (uint64_t)ctld_now();
		env.body_case = VSM__ENVELOPE__BODY_HEARTBEAT_ACK;
		env.heartbeat_ack = &ack;
		agents_reply(a->req, &env);
	}
	free(a);
}

static void
agents_heartbeat(struct ctld *cd, int64_t host_id, struct vsm_srv_req *req,
    const Vsm__Heartbeat *hb)
{
	struct store_heartbeat sh;
	struct hb_ack         *a;
	struct vsm_err         err;

	if ((a = calloc(1, sizeof(*a))) == NULL) {
		vsm_srv_drop(req);
		return;
	}
	a->req = req;
	a->seq = hb->seq;
	sh.host_id = host_id;
	sh.at = ctld_now();
	sh.cpu_pct = hb->cpu_pct;
	sh.mem_pct = hb->mem_pct;
	sh.disk_pct = hb->disk_pct;
	if (sh.cpu_pct < 0 || sh.cpu_pct > 100 || sh.mem_pct < 0 ||
	    sh.mem_pct > 100 || sh.disk_pct < 0 || sh.disk_pct > 100) {
		free(a);
		agents_reply_error(req, AGENTS_ERR_BADREQ,
		    "heartbeat: percentages must be 0-100");
		return;
	}
	if (store_write_heartbeat(cd->st, &sh, agents_hb_done, a, &err) == -1) {
		free(a);
		agents_reply_error(req, AGENTS_ERR_STORE, err.msg);
	}
}

static void
agents_echo(struct vsm_srv_req *req, Vsm__Echo *echo)
{
	Vsm__Envelope env = VSM__ENVELOPE__INIT;

	env.body_case = VSM__ENVELOPE__BODY_ECHO;
	env.echo = echo;
	agents_reply(req, &env);
}

/* Check, then switch: one place per Envelope body an agent may send. */
static void
agents_request(
    void *arg, struct vsm_srv_req *req, const uint8_t *data, size_t len)
{
	struct ctld   *cd = arg;
	int64_t        host_id;
	Vsm__Envelope *env;

	host_id = (int64_t)(intptr_t)vsm_srv_req_peer(req)->udata;
	if (host_id <= 0 ||
	    (env = vsm__envelope__unpack(NULL, len, data)) == NULL) {
		agents_reply_error(
		    req, AGENTS_ERR_BADREQ, "malformed envelope");
		return;
	}
	registry_seen(cd->reg, host_id);
	switch (env->body_case) {
	case VSM__ENVELOPE__BODY_HEARTBEAT:
		agents_heartbeat(cd, host_id, req, env->heartbeat);
		break;
	case VSM__ENVELOPE__BODY_POLL:
		dispatch_poll(cd, host_id, req, env->poll);
		break;
	case VSM__ENVELOPE__BODY_EVENTS:
		ingest_events(cd, host_id, req, env->events);
		break;
	case VSM__ENVELOPE__BODY_ECHO:
		agents_echo(req, env->echo);
		break;
	case VSM__ENVELOPE__BODY_ARTIFACT_OPEN:
		artifacts_open(cd, host_id, req, env->artifact_open);
		break;
	case VSM__ENVELOPE__BODY_ARTIFACT_CHUNK:
		artifacts_chunk(cd, host_id, req, env->artifact_chunk);
		break;
	case VSM__ENVELOPE__BODY_ARTIFACT_COMMIT:
		artifacts_commit(cd, host_id, req, env->artifact_commit);
		break;
	default:
		log_debug("host %lld: envelope body %d not served",
		    (long long)host_id, (int)env->body_case);
		agents_reply_error(req, AGENTS_ERR_UNKNOWN,
		    "request type not served by the agent listener");
		break;
	}
	vsm__envelope__free_unpacked(env, NULL);
}

static void
agents_closed(void *arg, struct vsm_peer *peer)
{
	struct ctld *cd = arg;
	int64_t      host_id = (int64_t)(intptr_t)peer->udata;

	if (host_id > 0)
		registry_closed(cd->reg, host_id, peer->session_id);
}

const struct vsm_server_ops agents_ops = {
    .authorize = agents_authorize,
    .request = agents_request,
    .closed = agents_closed,
};
