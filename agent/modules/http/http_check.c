/*
 * http_check.c: http.check, GET (or HEAD) a URL under http.allow and
 * judge the status code, the latency and, with json_pointer, one number
 * picked out of a JSON body (docs/modules.md, "HTTP").
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "http.h"
#include "module.h"

#define HTTP_VALUE_MAX 4096 /* bytes of the picked value put in the result */

static const char *const http_methods[] = {"GET", "HEAD", NULL};

static const struct param_spec http_check_params[] = {
    {.name = "url",
        .type = PARAM_STRING,
        .required = 1,
        .min = 8,
        .max = HTTP_URL_MAX - 1,
        .help = "http:// or https:// URL under http.allow"},
    {.name = "method",
        .type = PARAM_ENUM,
        .enums = http_methods,
        .def = "GET",
        .help = "GET or HEAD"},
    {.name = "expect_status",
        .type = PARAM_INT,
        .min = 100,
        .max = 599,
        .def = "200",
        .help = "status code that is ok; any other fails"},
    {.name = "timeout",
        .type = PARAM_DURATION,
        .min = 100,
        .max = 300000,
        .def = "10s",
        .help = "limit for the whole exchange (each redirect hop)"},
    {.name = "warn_ms",
        .type = PARAM_INT,
        .min = 1,
        .max = 3600000,
        .def = "1000",
        .help = "latency in ms for warn"},
    {.name = "fail_ms",
        .type = PARAM_INT,
        .min = 1,
        .max = 3600000,
        .def = "5000",
        .help = "latency in ms for fail"},
    {.name = "json_pointer",
        .type = PARAM_STRING,
        .min = 0,
        .max = 1024,
        .help = "RFC 6901 pointer to a value in a JSON body"},
    {.name = "warn_value",
        .type = PARAM_STRING,
        .min = 1,
        .max = 64,
        .help = "the picked number at or above this warns"},
    {.name = "fail_value",
        .type = PARAM_STRING,
        .min = 1,
        .max = 64,
        .help = "the picked number at or above this fails"},
    {.name = "max_body",
        .type = PARAM_SIZE,
        .min = 1,
        .max = 64 * 1024 * 1024,
        .def = "1MiB",
        .help = "largest body accepted; a larger one is an error"},
    {.name = "follow_redirects",
        .type = PARAM_BOOL,
        .def = "true",
        .help = "follow up to 5 redirects, each inside http.allow"},
    {.name = NULL},
};

/* A finite number from a threshold parameter. 0 or -1 with err set. */
static int
http_check_number(
    const char *name, const char *s, double *v, struct vsm_err *err)
{
	char *end;

	*v = strtod(s, &end);
	if (end == s || *end != '\0' || !isfinite(*v))
		return (vsm_err_set(
		    err, "parameter '%s': '%s' is not a number", name, s));
	return (0);
}

/* Thresholds in order, a pointer for the value ones, the URL allowed. */
static int
http_check_validate(
    struct task_ctx *ctx, const struct task_params *p, struct vsm_err *err)
{
	const struct vsm_agent_config *cfg;
	const char                    *ptr = params_str(p, "json_pointer");
	const char                    *wv = params_str(p, "warn_value");
	const char                    *fv = params_str(p, "fail_value");
	char                           norm[HTTP_URL_MAX];
	double                         w = 0, f = 0;

	if (params_check_order(p, "warn_ms", "fail_ms", err) == -1)
		return (-1);
	if (ptr != NULL && ptr[0] != '\0' && ptr[0] != '/')
		return (vsm_err_set(err,
		    "parameter 'json_pointer': '%s' must start with '/' (RFC "
		    "6901)",
		    ptr));
	if ((wv != NULL || fv != NULL) && ptr == NULL)
		return (vsm_err_set(err, "parameter '%s': needs json_pointer",
		    wv != NULL ? "warn_value" : "fail_value"));
	if ((wv != NULL &&
	        http_check_number("warn_value", wv, &w, err) == -1) ||
	    (fv != NULL && http_check_number("fail_value", fv, &f, err) == -1))
		return (-1);
	if (wv != NULL && fv != NULL && w > f)
		return (vsm_err_set(err,
		    "parameter 'warn_value': %s is above fail_value (%s)", wv,
		    fv));
	if (ptr != NULL && params_num(p, "method") == 1)
		return (vsm_err_set(err,
		    "parameter 'json_pointer': a HEAD request has no body"));
	if ((cfg = task_config(ctx, err)) == NULL)
		return (-1);
	if (http_url_allowed(&cfg->http.allow, params_str(p, "url"), norm,
	        sizeof(norm), err) == -1) {
		char why[sizeof(err->msg)];

		snprintf(why, sizeof(why), "%s", err->msg);
		return (vsm_err_set(err, "parameter 'url': %s", why));
	}
	return (0);
}

/* What v is, for a message or in place of a large value. */
static const char *
http_json_kind(const json_t *v)
{
	if (json_is_object(v))
		return ("an object");
	if (json_is_array(v))
		return ("an array");
	if (json_is_string(v))
		return ("a string");
	if (json_is_boolean(v))
		return ("a boolean");
	return ("null");
}

/*
 * Pick json_pointer out of resp's body into res ("value") and judge it.
 * *st gets the worse status; 0, or -1 with err set (not JSON, no such
 * value, or a threshold on something that is not a number).
 */
static int
http_check_value(const struct task_params *p, const struct http_response *resp,
    json_t *res, Vsm__TaskStatus *st, char *note, size_t nlen,
    struct vsm_err *err)
{
	const char  *wv = params_str(p, "warn_value");
	const char  *fv = params_str(p, "fail_value");
	json_error_t jerr;
	json_t      *doc = NULL, *v;
	double       num, w, f;
	size_t       big;
	char         omitted[64];
	int          ret = -1;

	if ((doc = json_loadb(
	         resp->body, resp->bytes, JSON_DECODE_ANY, &jerr)) == NULL) {
		vsm_err_set(err, "%s: the body is not JSON: %s (line %d)",
		    resp->url, jerr.text, jerr.line);
		goto out;
	}
	if ((v = http_json_pointer(doc, params_str(p, "json_pointer"), err)) ==
	    NULL)
		goto out;
	/* A large pick (the whole body, say) is named, not copied. */
	if ((big = json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY)) >
	    HTTP_VALUE_MAX) {
		json_object_set_new(res, "value", json_null());
		snprintf(omitted, sizeof(omitted), "%s of %zu bytes",
		    http_json_kind(v), big);
		json_object_set_new(res, "value_omitted", json_string(omitted));
	} else
		json_object_set(res, "value", v);
	if (wv == NULL && fv == NULL) {
		ret = 0;
		goto out;
	}
	if (!json_is_number(v)) {
		vsm_err_set(err, "%s: the value is %s, not a number",
		    params_str(p, "json_pointer"), http_json_kind(v));
		goto out;
	}
	num = json_number_value(v);
	w = wv != NULL ? strtod(wv, NULL) : INFINITY;
	f = fv != NULL ? strtod(fv, NULL) : INFINITY;
	*st = task_status_worse(*st, task_threshold(num, w, f));
	snprintf(note, nlen, ", %s = %g",
	    params_str(p, "json_pointer")[0] != '\0'
	        ? params_str(p, "json_pointer")
	        : "body",
	    num);
	ret = 0;
out:
	json_decref(doc);
	return (ret);
}

static int
http_check_run(struct task_ctx *ctx, const struct task_params *p)
{
	const struct vsm_agent_config *cfg;
	struct http_fetch_opts         o;
	struct http_response           resp;
	struct vsm_err                 err;
	enum http_fetch_rc             rc;
	Vsm__TaskStatus                st = VSM__TASK_STATUS__TASK_OK;
	json_t                        *res = NULL;
	char summary[HTTP_URL_MAX + 256], note[128] = "";
	long expect = (long)params_num(p, "expect_status");
	int  ret = -1;

	memset(&resp, 0, sizeof(resp));
	if ((cfg = task_config(ctx, &err)) == NULL) {
		ret = task_finish_error(ctx, "%s", err.msg);
		goto out;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		ret = task_finish_error(ctx, "cannot initialise libcurl");
		goto out;
	}
	memset(&o, 0, sizeof(o));
	o.allow = &cfg->http.allow;
	o.url = params_str(p, "url");
	o.head = params_num(p, "method") == 1;
	o.timeout_ms = (uint64_t)params_num(p, "timeout");
	o.max_body = (size_t)params_num(p, "max_body");
	o.follow = params_num(p, "follow_redirects") != 0;
	rc = http_fetch(&o, &resp, &err);
	if (rc == HTTP_FETCH_REFUSED) {
		ret = task_finish_error(ctx, "%s", err.msg);
		goto out;
	}
	if (rc == HTTP_FETCH_FAILED) {
		res = json_pack("{s:s, s:I}", "url", o.url, "latency_ms",
		    (json_int_t)resp.latency_ms);
		ret = task_finish(
		    ctx, VSM__TASK_STATUS__TASK_FAIL, err.msg, res, 0, err.msg);
		goto out;
	}
	res = json_pack("{s:s, s:I, s:I, s:I, s:s, s:I}", "url", resp.url,
	    "status_code", (json_int_t)resp.status, "latency_ms",
	    (json_int_t)resp.latency_ms, "bytes", (json_int_t)resp.bytes,
	    "content_type", resp.ctype, "redirects",
	    (json_int_t)resp.redirects);
	if (res == NULL) {
		ret = task_finish_error(ctx, "out of memory");
		goto out;
	}
	if (resp.status != expect)
		st = VSM__TASK_STATUS__TASK_FAIL;
	st = task_status_worse(st,
	    task_threshold((double)resp.latency_ms,
	        (double)params_num(p, "warn_ms"),
	        (double)params_num(p, "fail_ms")));
	/* The value is read only from the expected answer. */
	if (params_str(p, "json_pointer") != NULL && resp.status == expect &&
	    http_check_value(p, &resp, res, &st, note, sizeof(note), &err) ==
	        -1) {
		ret = task_finish(ctx, VSM__TASK_STATUS__TASK_ERROR, err.msg,
		    res, 0, err.msg);
		goto out;
	}
	if (resp.status != expect)
		snprintf(note + strlen(note), sizeof(note) - strlen(note),
		    ", expected %ld", expect);
	snprintf(summary, sizeof(summary), "%s: %ld in %llu ms%s", resp.url,
	    resp.status, (unsigned long long)resp.latency_ms, note);
	ret = task_finish(ctx, st, summary, res, 0, NULL);
out:
	json_decref(res);
	http_response_clear(&resp);
	return (ret);
}

const struct task_module mod_http_check = {
    .name = "http.check",
    .params = http_check_params,
    .validate = http_check_validate,
    .run = http_check_run,
};
