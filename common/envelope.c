#include <stdlib.h>

#include "envelope.h"

int
vsm_client_call_env(struct vsm_client *c, const Vsm__Envelope *req,
    Vsm__Envelope **repp, int timeout_ms, struct vsm_err *err)
{
	uint8_t *buf, *reply = NULL;
	size_t   len, rlen;
	int      ret = -1;

	*repp = NULL;
	len = vsm__envelope__get_packed_size(req);
	if ((buf = malloc(len + 1)) == NULL)
		return (vsm_err_set(err, "out of memory"));
	vsm__envelope__pack(req, buf);
	if (vsm_client_call(c, buf, len, &reply, &rlen, timeout_ms, err) == -1)
		goto out;
	if ((*repp = vsm__envelope__unpack(NULL, rlen, reply)) == NULL) {
		vsm_err_set(err, "malformed reply: not an Envelope");
		goto out;
	}
	ret = 0;
out:
	free(buf);
	free(reply);
	return (ret);
}

int
vsm_srv_reply_env(struct vsm_srv_req *req, const Vsm__Envelope *env)
{
	uint8_t *buf;
	size_t   len;
	int      ret;

	len = vsm__envelope__get_packed_size(env);
	if ((buf = malloc(len + 1)) == NULL) {
		vsm_srv_drop(req);
		return (-1);
	}
	vsm__envelope__pack(env, buf);
	ret = vsm_srv_reply(req, buf, len);
	free(buf);
	return (ret);
}
