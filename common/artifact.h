/*
 * artifact.h: what the agent and the controller agree on about artifacts,
 * the files a task leaves for the controller (docs/artifacts.md).
 */
#ifndef VSM_ARTIFACT_H
#define VSM_ARTIFACT_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "err.h"

#define VSM_ARTIFACT_NAME_MAX 128
#define VSM_ARTIFACT_HASH_LEN 32 /* BLAKE2b-256 */
#define VSM_ARTIFACT_HEX_LEN  (2 * VSM_ARTIFACT_HASH_LEN + 1)

/*
 * Why the controller refused an upload request (Error.code), and what
 * the agent does about it.
 */
enum vsm_artifact_err {
	VSM_ART_ERR_BADREQ = 400,    /* malformed: give up on the artifact */
	VSM_ART_ERR_FORBIDDEN = 403, /* not this host's task: give up */
	VSM_ART_ERR_UNKNOWN = 404,   /* no such upload (expired): open again */
	VSM_ART_ERR_CONFLICT = 409, /* stored already, other content: give up */
	VSM_ART_ERR_TOOBIG = 413,   /* over the controller's limit: give up */
	VSM_ART_ERR_WINDOW = 416,   /* chunk outside the window: open again */
	VSM_ART_ERR_CHECKSUM = 422, /* whole file did not match: start over */
	VSM_ART_ERR_BUSY = 503,     /* store or upload slots: retry later */
	VSM_ART_ERR_NOSPACE = 507,  /* controller disk full: retry later */
};

/*
 * 1 when name may name an artifact: 1-128 characters of [A-Za-z0-9._-],
 * not starting with '.' (so never "." or ".." and never one of the hidden
 * files kept beside it), 0 otherwise.
 */
int vsm_artifact_name_valid(const char *name);

/*
 * Feed bytes [from, to) of fd to st, with pread: the file offset is left
 * alone. 0, or -1 with err set (a read error, or the file shorter than to).
 */
int vsm_hash_range(int fd, uint64_t from, uint64_t to,
    crypto_generichash_state *st, struct vsm_err *err);

/* The BLAKE2b-256 of the first `len` bytes of fd. 0 or -1 with err set. */
int vsm_hash_file(int fd, uint64_t len, uint8_t out[VSM_ARTIFACT_HASH_LEN],
    struct vsm_err *err);

#endif /* VSM_ARTIFACT_H */
