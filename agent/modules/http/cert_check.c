/*
 * cert_check.c: cert.check, days until a certificate expires, from a PEM
 * file under certs.dirs or from the leaf a TLS endpoint allowed by
 * http.allow presents (docs/modules.md, "Certificates").
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "http.h"
#include "logs_fs.h"
#include "module.h"

#define CERT_FILE_MAX (1024 * 1024) /* bytes read from a PEM file */

static const struct param_spec cert_check_params[] = {
    {.name = "file",
        .type = PARAM_PATH,
        .min = 1,
        .max = 4095,
        .help = "PEM file under certs.dirs"},
    {.name = "host",
        .type = PARAM_STRING,
        .min = 1,
        .max = 253,
        .help = "TLS endpoint; https://HOST:PORT must be in http.allow"},
    {.name = "port",
        .type = PARAM_INT,
        .min = 1,
        .max = 65535,
        .def = "443",
        .help = "port of host"},
    {.name = "warn_days",
        .type = PARAM_INT,
        .min = 0,
        .max = 3650,
        .def = "30",
        .help = "days left at or below this warn"},
    {.name = "fail_days",
        .type = PARAM_INT,
        .min = 0,
        .max = 3650,
        .def = "7",
        .help = "days left at or below this fail"},
    {.name = "timeout",
        .type = PARAM_DURATION,
        .min = 100,
        .max = 300000,
        .def = "10s",
        .help = "limit for the TLS handshake"},
    {.name = NULL},
};

/*
 * Resolve file and check it against certs.dirs twice: as given (no "..",
 * under a directory) and as it resolves (symlinks followed, against the
 * resolved directories), so nothing outside the directories is read.
 * resolved gets the real path (PATH_MAX). 0, or -1 with err set.
 */
static int
cert_file_resolve(const struct vsm_agent_config *cfg, const char *file,
    char *resolved, struct vsm_err *err)
{
	if (!vsm_strlist_has_prefix_dir(&cfg->certs.dirs, file))
		return (vsm_err_set(
		    err, "parameter 'file': %s is not under certs.dirs", file));
	if (realpath(file, resolved) == NULL)
		return (vsm_err_set(
		    err, "parameter 'file': %s: %s", file, strerror(errno)));
	if (logs_real_under(&cfg->certs.dirs, resolved))
		return (0);
	return (vsm_err_set(err,
	    "parameter 'file': %s resolves to %s, outside certs.dirs", file,
	    resolved));
}

/* A host name or address: letters, digits, '.', '-', or [IPv6]. */
static int
cert_host_ok(const char *h)
{
	size_t i, n = strlen(h);

	if (h[0] == '[' && n > 2 && h[n - 1] == ']') {
		for (i = 1; i + 1 < n; i++)
			if (!isxdigit((unsigned char)h[i]) && h[i] != ':' &&
			    h[i] != '.')
				return (0);
		return (1);
	}
	if (h[0] == '-' || h[0] == '.')
		return (0);
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)h[i]) && h[i] != '.' && h[i] != '-')
			return (0);
	return (1);
}

/* One source, thresholds in order, the file or endpoint allowed. */
static int
cert_check_validate(
    struct task_ctx *ctx, const struct task_params *p, struct vsm_err *err)
{
	const struct vsm_agent_config *cfg;
	const char                    *file = params_str(p, "file");
	const char                    *host = params_str(p, "host");
	unsigned                       port = (unsigned)params_num(p, "port");
	char                           resolved[PATH_MAX];

	if ((file == NULL) == (host == NULL))
		return (vsm_err_set(
		    err, "give either parameter 'file' or parameter 'host'"));
	/* Days left: fewer is worse, so fail_days is the lower one. */
	if (params_check_order(p, "fail_days", "warn_days", err) == -1)
		return (-1);
	if (host != NULL && !cert_host_ok(host))
		return (vsm_err_set(err,
		    "parameter 'host': '%s' is not a host name or address",
		    host));
	if ((cfg = task_config(ctx, err)) == NULL)
		return (-1);
	if (file != NULL)
		return (cert_file_resolve(cfg, file, resolved, err));
	if (!http_origin_allowed(&cfg->http.allow, host, port))
		return (vsm_err_set(err,
		    "parameter 'host': %s:%u is not allowed: add "
		    "https://%s:%u/ to http.allow in agent.yaml",
		    host, port, host, port));
	return (0);
}

/*
 * The PEM text of file (checked again, then opened as resolved through
 * logs_open_under: no symlink followed, no FIFO waited on, re-checked
 * where it is once open), up to CERT_FILE_MAX bytes, into *buf (owned).
 * 0, or -1 with err set.
 */
static int
cert_file_read(const struct vsm_agent_config *cfg, const char *file, char **buf,
    size_t *len, struct vsm_err *err)
{
	char        resolved[PATH_MAX];
	struct stat st;
	ssize_t     n;
	size_t      got = 0;
	int         fd = -1, ret = -1;

	*buf = NULL;
	if (cert_file_resolve(cfg, file, resolved, err) == -1)
		goto out;
	if ((fd = logs_open_under(
	         &cfg->certs.dirs, resolved, "file", &st, err)) == -1)
		goto out;
	if (!S_ISREG(st.st_mode) || st.st_size > CERT_FILE_MAX) {
		vsm_err_set(err, "%s: not a regular file of at most %d bytes",
		    file, CERT_FILE_MAX);
		goto out;
	}
	if ((*buf = malloc((size_t)st.st_size + 1)) == NULL) {
		vsm_err_set(err, "out of memory");
		goto out;
	}
	while (got < (size_t)st.st_size &&
	    (n = read(fd, *buf + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	(*buf)[got] = '\0';
	*len = got;
	ret = 0;
out:
	if (ret == -1) {
		free(*buf);
		*buf = NULL;
	}
	if (fd != -1)
		close(fd);
	return (ret);
}

static int
cert_check_run(struct task_ctx *ctx, const struct task_params *p)
{
	const struct vsm_agent_config *cfg;
	const char                    *file = params_str(p, "file");
	const char                    *host = params_str(p, "host");
	unsigned                       port = (unsigned)params_num(p, "port");
	struct vsm_err                 err;
	Vsm__TaskStatus                worst;
	json_t                        *certs = NULL, *res = NULL, *w;
	char                          *pem = NULL, source[320], summary[1024];
	size_t                         len = 0, wi;
	int                            ret = -1;

	if ((cfg = task_config(ctx, &err)) == NULL) {
		ret = task_finish_error(ctx, "%s", err.msg);
		goto out;
	}
	if (file != NULL) {
		snprintf(source, sizeof(source), "%s", file);
		if (cert_file_read(cfg, file, &pem, &len, &err) == -1) {
			ret = task_finish_error(ctx, "%s", err.msg);
			goto out;
		}
	} else {
		snprintf(source, sizeof(source), "%s:%u", host, port);
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			ret = task_finish_error(ctx, "cannot start libcurl");
			goto out;
		}
		if (cert_remote_pem(host, port,
		        (uint64_t)params_num(p, "timeout"), &pem, &err) == -1) {
			res = json_pack("{s:s}", "source", source);
			ret = task_finish(ctx, VSM__TASK_STATUS__TASK_FAIL,
			    err.msg, res, 0, err.msg);
			goto out;
		}
		len = strlen(pem);
	}
	if ((certs = cert_pem_list(pem, len, host, params_num(p, "warn_days"),
	         params_num(p, "fail_days"), &worst, &wi, &err)) == NULL) {
		ret = task_finish_error(ctx, "%s: %s", source, err.msg);
		goto out;
	}
	w = json_array_get(certs, wi);
	res = json_pack("{s:s, s:O, s:I, s:O, s:I, s:I}", "source", source,
	    "certificates", certs, "worst", (json_int_t)wi, "days_left",
	    json_object_get(w, "days_left"), "warn_days",
	    (json_int_t)params_num(p, "warn_days"), "fail_days",
	    (json_int_t)params_num(p, "fail_days"));
	if (res == NULL) {
		ret = task_finish_error(ctx, "out of memory");
		goto out;
	}
	snprintf(summary, sizeof(summary),
	    "%s: %zu certificate%s, %s expires in %lld days (%s)%s%s", source,
	    json_array_size(certs), json_array_size(certs) == 1 ? "" : "s",
	    json_string_value(json_object_get(w, "subject")),
	    (long long)json_integer_value(json_object_get(w, "days_left")),
	    json_string_value(json_object_get(w, "not_after")),
	    json_object_get(w, "reason") != NULL ? ": " : "",
	    json_object_get(w, "reason") != NULL
	        ? json_string_value(json_object_get(w, "reason"))
	        : "");
	ret = task_finish(ctx, worst, summary, res, 0, NULL);
out:
	free(pem);
	json_decref(certs);
	json_decref(res);
	return (ret);
}

const struct task_module mod_cert_check = {
    .name = "cert.check",
    .params = cert_check_params,
    .validate = cert_check_validate,
    .run = cert_check_run,
};
