/*
 * envelope.h: the channel carrying Envelopes (proto/vsm.proto), the unit
 * every vsm peer speaks once the session is open.
 */
#ifndef VSM_ENVELOPE_H
#define VSM_ENVELOPE_H

#include "chan.h"
#include "err.h"
#include "vsm.pb-c.h"

/*
 * One Envelope out, one back (vsm_client_call). Returns 0 with *repp set
 * (free with vsm__envelope__free_unpacked), or -1 with err set and *repp
 * NULL: no answer, or an answer that is not an Envelope.
 */
int vsm_client_call_env(struct vsm_client *c, const Vsm__Envelope *req,
    Vsm__Envelope **repp, int timeout_ms, struct vsm_err *err);

/*
 * Answer a held request with an Envelope (vsm_srv_reply); the request is
 * gone afterwards, answered or, when out of memory, dropped. 0 or -1.
 */
int vsm_srv_reply_env(struct vsm_srv_req *req, const Vsm__Envelope *env);

#endif /* VSM_ENVELOPE_H */
