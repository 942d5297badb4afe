/*
 * task_ctx.c: how a module reports to the runner (module.h). Each event is
 * one frame on fd 3: a 4-byte big-endian length, then a packed TaskEvent.
 * Log lines are made valid, printable UTF-8, split at max_line and
 * counted against max_output; what is over the cap is counted, reported
 * in the result, and never silently lost.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "module.h"

static volatile sig_atomic_t task_sigterm;

int
task_cancelled(void)
{
	return (task_sigterm != 0);
}

void
task_set_cancelled(void)
{
	task_sigterm = 1;
}

uint64_t
task_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

uint64_t
task_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

static int
task_write_full(int fd, const uint8_t *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

/* Frame and write ev. -1 when it is too large or the pipe is gone. */
static int
task_send(struct task_ctx *ctx, Vsm__TaskEvent *ev)
{
	uint8_t *buf;
	size_t   len;
	int      ret;

	ev->task_id = ctx->task->id;
	ev->time_ms = task_now_ms();
	len = vsm__task_event__get_packed_size(ev);
	if (len > TASK_FRAME_MAX)
		return (-1);
	if ((buf = malloc(len + 4)) == NULL)
		return (-1);
	buf[0] = (uint8_t)(len >> 24);
	buf[1] = (uint8_t)(len >> 16);
	buf[2] = (uint8_t)(len >> 8);
	buf[3] = (uint8_t)len;
	vsm__task_event__pack(ev, buf + 4);
	ret = task_write_full(ctx->fd, buf, len + 4);
	free(buf);
	return (ret);
}

/* Length of the valid UTF-8 sequence at p (max n bytes), 0 if invalid. */
static size_t
task_utf8_len(const unsigned char *p, size_t n)
{
	size_t need, i;

	if (p[0] < 0x80)
		return (1);
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		need = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		need = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		need = 4;
	else
		return (0);
	if (n < need)
		return (0);
	for (i = 1; i < need; i++)
		if ((p[i] & 0xc0) != 0x80)
			return (0);
	if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) ||
	    (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
		return (0);
	return (need);
}

void
task_text_clean(const char *in, size_t len, char *out)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t               i = 0, n;

	while (i < len) {
		n = task_utf8_len(p + i, len - i);
		if (n == 0 ||
		    (n == 1 &&
		        ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f))) {
			out[i++] = '?';
			continue;
		}
		memmove(out + i, p + i, n);
		i += n;
	}
}

static int
task_send_line(struct task_ctx *ctx, Vsm__LogLine__Stream stream, char *line)
{
	Vsm__TaskEvent ev = VSM__TASK_EVENT__INIT;
	Vsm__LogLine   ll = VSM__LOG_LINE__INIT;

	ll.stream = stream;
	ll.line = line;
	ev.kind_case = VSM__TASK_EVENT__KIND_LOG;
	ev.log = &ll;
	return (task_send(ctx, &ev));
}

/*
 * Send one line (more == 0) or the start of a longer one (more == 1: the
 * last piece is marked too). Lines over max_line are split into marked
 * pieces; bytes over max_output are counted, not sent.
 */
static int
task_emit_chunk(struct task_ctx *ctx, Vsm__LogLine__Stream stream,
    const char *buf, size_t len, int more)
{
	char  *clean = NULL, *piece = NULL, note[160];
	size_t off = 0, room, take, marklen = strlen(TASK_LINE_MARK);
	int    ret = -1, mark;

	if (!more && len > 0 && buf[len - 1] == '\r')
		len--;
	if (ctx->capped || ctx->out_bytes + len > ctx->max_output) {
		ctx->dropped_bytes += len;
		if (!more)
			ctx->dropped_lines++;
		if (ctx->capped)
			return (0);
		ctx->capped = 1;
		snprintf(note, sizeof(note),
		    "output cap of %llu bytes reached: the rest is counted in "
		    "the result, not sent",
		    (unsigned long long)ctx->max_output);
		return (
		    task_send_line(ctx, VSM__LOG_LINE__STREAM__MODULE, note));
	}
	ctx->out_bytes += len;
	if ((clean = malloc(len + 1)) == NULL ||
	    (piece = malloc(ctx->max_line + marklen + 1)) == NULL)
		goto out;
	task_text_clean(buf, len, clean);
	room = ctx->max_line > marklen + 4 ? ctx->max_line - marklen : 4;
	do {
		take = len - off;
		mark = more;
		if (take > ctx->max_line ||
		    (more && take + marklen > ctx->max_line)) {
			/* Split, but never inside a UTF-8 sequence. */
			take = room;
			while (take > 1 &&
			    ((unsigned char)clean[off + take] & 0xc0) == 0x80)
				take--;
			mark = 1;
		}
		memcpy(piece, clean + off, take);
		if (mark)
			memcpy(piece + take, TASK_LINE_MARK, marklen + 1);
		else
			piece[take] = '\0';
		if (task_send_line(ctx, stream, piece) == -1)
			goto out;
		off += take;
	} while (off < len);
	ret = 0;
out:
	free(clean);
	free(piece);
	return (ret);
}

int
task_emit_line(struct task_ctx *ctx, Vsm__LogLine__Stream stream,
    const char *buf, size_t len)
{
	return (task_emit_chunk(ctx, stream, buf, len, 0));
}

int
task_emit_partial(struct task_ctx *ctx, Vsm__LogLine__Stream stream,
    const char *buf, size_t len)
{
	return (task_emit_chunk(ctx, stream, buf, len, 1));
}

int
task_emit_log(struct task_ctx *ctx, const char *fmt, ...)
{
	char    buf[1024];
	va_list ap;
	int     n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return (-1);
	return (task_emit_line(
	    ctx, VSM__LOG_LINE__STREAM__MODULE, buf, strlen(buf)));
}

int
task_emit_progress(struct task_ctx *ctx, unsigned percent, const char *note)
{
	Vsm__TaskEvent ev = VSM__TASK_EVENT__INIT;
	Vsm__Progress  pr = VSM__PROGRESS__INIT;

	pr.percent = percent > 100 ? 100 : percent;
	if (note != NULL)
		pr.note = (char *)note;
	ev.kind_case = VSM__TASK_EVENT__KIND_PROGRESS;
	ev.progress = &pr;
	return (task_send(ctx, &ev));
}

int
task_finish(struct task_ctx *ctx, Vsm__TaskStatus status, const char *summary,
    json_t *result, int exit_code, const char *error)
{
	Vsm__TaskEvent  ev = VSM__TASK_EVENT__INIT;
	Vsm__TaskResult res = VSM__TASK_RESULT__INIT;
	json_t         *obj = result;
	char           *js = NULL;
	int             ret = -1;

	if (ctx->finished)
		return (-1);
	ctx->finished = 1;
	if (obj == NULL)
		obj = json_object();
	else
		json_incref(obj);
	if (obj == NULL)
		goto out;
	if (ctx->dropped_bytes > 0) {
		json_object_set_new(obj, "output_bytes",
		    json_integer((json_int_t)ctx->out_bytes));
		json_object_set_new(obj, "output_dropped_bytes",
		    json_integer((json_int_t)ctx->dropped_bytes));
		json_object_set_new(obj, "output_dropped_lines",
		    json_integer((json_int_t)ctx->dropped_lines));
	}
	if ((js = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		goto out;
	res.status = status;
	if (summary != NULL)
		res.summary = (char *)summary;
	if (error != NULL)
		res.error = (char *)error;
	res.result_json = js;
	res.exit_code = exit_code;
	ev.kind_case = VSM__TASK_EVENT__KIND_RESULT;
	ev.result = &res;
	if (vsm__task_event__get_packed_size(&ev) > TASK_FRAME_MAX - 16) {
		res.status = VSM__TASK_STATUS__TASK_ERROR;
		res.result_json = "{}";
		res.error = "result too large";
	}
	ret = task_send(ctx, &ev);
out:
	free(js);
	json_decref(obj);
	return (ret);
}

int
task_finish_error(struct task_ctx *ctx, const char *fmt, ...)
{
	char    buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return (
	    task_finish(ctx, VSM__TASK_STATUS__TASK_ERROR, buf, NULL, 0, buf));
}

Vsm__TaskStatus
task_threshold(double value, double warn, double fail)
{
	if (value >= fail)
		return (VSM__TASK_STATUS__TASK_FAIL);
	if (value >= warn)
		return (VSM__TASK_STATUS__TASK_WARN);
	return (VSM__TASK_STATUS__TASK_OK);
}

/* Rank for task_status_worse: ok < warn < fail < error < the rest. */
static int
task_status_rank(Vsm__TaskStatus s)
{
	switch (s) {
	case VSM__TASK_STATUS__TASK_OK:
		return (0);
	case VSM__TASK_STATUS__TASK_WARN:
		return (1);
	case VSM__TASK_STATUS__TASK_FAIL:
		return (2);
	case VSM__TASK_STATUS__TASK_ERROR:
		return (3);
	default:
		return (4);
	}
}

Vsm__TaskStatus
task_status_worse(Vsm__TaskStatus a, Vsm__TaskStatus b)
{
	return (task_status_rank(a) >= task_status_rank(b) ? a : b);
}

const char *
task_status_name(Vsm__TaskStatus s)
{
	static const char *const names[] = {
	    [VSM__TASK_STATUS__TASK_OK] = "ok",
	    [VSM__TASK_STATUS__TASK_WARN] = "warn",
	    [VSM__TASK_STATUS__TASK_FAIL] = "fail",
	    [VSM__TASK_STATUS__TASK_ERROR] = "error",
	    [VSM__TASK_STATUS__TASK_CANCELLED] = "cancelled",
	    [VSM__TASK_STATUS__TASK_TIMEOUT] = "timeout",
	    [VSM__TASK_STATUS__TASK_LOST] = "lost",
	};

	if ((int)s < 0 || (size_t)s >= sizeof(names) / sizeof(names[0]) ||
	    names[s] == NULL)
		return ("unknown");
	return (names[s]);
}

int
task_emit_artifact(struct task_ctx *ctx, const char *name, uint64_t size,
    const uint8_t hash[VSM_ARTIFACT_HASH_LEN])
{
	Vsm__TaskEvent     ev = VSM__TASK_EVENT__INIT;
	Vsm__ArtifactReady ar = VSM__ARTIFACT_READY__INIT;

	ar.name = (char *)name;
	ar.size = size;
	ar.blake2b.data = (uint8_t *)hash;
	ar.blake2b.len = VSM_ARTIFACT_HASH_LEN;
	ev.kind_case = VSM__TASK_EVENT__KIND_ARTIFACT;
	ev.artifact = &ar;
	return (task_send(ctx, &ev));
}
