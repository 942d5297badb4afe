/*
 * security_audit.c: security.audit, a dependency audit through the
 * agent's allowlisted command named for the tool (docs/modules.md,
 * "Security"): `cargo-audit` (cargo audit --json), `npm-audit` (npm audit
 * --json) or `trivy` (trivy ... -f json). The entry's argv says what to
 * audit (npm audit --json --prefix /srv/app). Its stdout is captured and
 * the findings counted by severity:
 *   npm    metadata.vulnerabilities {info, low, moderate, high, critical};
 *          names and severities from vulnerabilities (npm 7+) or
 *          advisories (npm 6)
 *   cargo  vulnerabilities.list[]: advisory.severity when there is one,
 *          else the CVSS v3 base score of advisory.cvss, else unknown
 *   trivy  Results[].Vulnerabilities[].Severity
 * The tools exit non-zero when they find something, so the status comes
 * from the counts: a finding at fail_on or above fails, one at warn_on or
 * above warns. An unknown severity counts as high.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "command.h"
#include "module.h"

#define AUDIT_OUT_MAX  (32 * 1024 * 1024) /* bytes of JSON read */
#define AUDIT_FINDINGS 20                 /* listed in the result */

enum audit_sev {
	SEV_INFO,
	SEV_LOW,
	SEV_MODERATE,
	SEV_HIGH,
	SEV_CRITICAL,
	SEV_UNKNOWN,
	SEV_N
};
static const char *const audit_sev_names[SEV_N] = {
    "info", "low", "moderate", "high", "critical", "unknown"};

static const char *const audit_tools[] = {
    "cargo-audit", "npm-audit", "trivy", NULL};
enum { TOOL_CARGO, TOOL_NPM, TOOL_TRIVY };
static const char *const audit_levels[] = {
    "low", "moderate", "medium", "high", "critical", NULL};

static const struct param_spec security_audit_params[] = {
    {.name = "tool",
        .type = PARAM_ENUM,
        .required = 1,
        .enums = audit_tools,
        .help = "the allowlisted command to run and whose JSON to read"},
    {.name = "fail_on",
        .type = PARAM_ENUM,
        .enums = audit_levels,
        .def = "high",
        .help = "a finding this severe or worse fails"},
    {.name = "warn_on",
        .type = PARAM_ENUM,
        .enums = audit_levels,
        .def = "low",
        .help = "a finding this severe or worse warns"},
    {.name = NULL},
};

struct audit {
	int64_t counts[SEV_N];
	json_t *findings; /* the first AUDIT_FINDINGS */
};

/* An audit_levels index as a severity ("medium" is npm's "moderate"). */
static enum audit_sev
audit_level(int64_t idx)
{
	static const enum audit_sev map[] = {
	    SEV_LOW, SEV_MODERATE, SEV_MODERATE, SEV_HIGH, SEV_CRITICAL};

	return (map[idx]);
}

static int
audit_validate(
    struct task_ctx *ctx, const struct task_params *p, struct vsm_err *err)
{
	(void)ctx;
	if (audit_level(params_num(p, "warn_on")) >
	    audit_level(params_num(p, "fail_on")))
		return (vsm_err_set(err,
		    "parameter 'warn_on': more severe than parameter "
		    "'fail_on'"));
	return (0);
}

static enum audit_sev
audit_sev_parse(const char *s)
{
	int i;

	if (s == NULL)
		return (SEV_UNKNOWN);
	if (strcasecmp(s, "medium") == 0)
		return (SEV_MODERATE);
	if (strcasecmp(s, "none") == 0)
		return (SEV_INFO);
	for (i = 0; i < SEV_UNKNOWN; i++)
		if (strcasecmp(s, audit_sev_names[i]) == 0)
			return ((enum audit_sev)i);
	return (SEV_UNKNOWN);
}

/* One finding: counted, and listed while there is room. */
static void
audit_add(struct audit *a, const char *id, const char *pkg, enum audit_sev s)
{
	a->counts[s]++;
	if (json_array_size(a->findings) < AUDIT_FINDINGS)
		json_array_append_new(a->findings,
		    json_pack("{s:s?, s:s?, s:s}", "id", id, "package", pkg,
		        "severity", audit_sev_names[s]));
}

/* The value of metric m in a CVSS v3 vector ("AV:N"), or '\0'. */
static char
audit_cvss_metric(const char *v, const char *m)
{
	char        key[8];
	const char *p;

	snprintf(key, sizeof(key), "/%s:", m);
	if ((p = strstr(v, key)) == NULL)
		return ('\0');
	return (p[strlen(key)]);
}

/* Round up to one decimal, as CVSS v3.1 specifies. */
static double
audit_roundup(double x)
{
	long i = (long)(x * 100000.0 + 0.5);

	if (i % 10000 == 0)
		return ((double)i / 100000.0);
	return ((double)(i / 10000 + 1) / 10.0);
}

/* The weight of metric m in v: letters[i] gives w[i]; -1 when absent. */
static double
audit_cvss_weight(
    const char *v, const char *m, const char *letters, const double *w)
{
	const char *p;
	char        c = audit_cvss_metric(v, m);

	if (c == '\0' || (p = strchr(letters, c)) == NULL)
		return (-1);
	return (w[p - letters]);
}

/*
 * The severity of a CVSS v3 base vector from its base score (the v3.1
 * specification's formula); SEV_UNKNOWN when it cannot be read.
 */
static enum audit_sev
audit_cvss(const char *v)
{
	static const double av_w[] = {0.85, 0.62, 0.55, 0.2};
	static const double ac_w[] = {0.77, 0.44};
	static const double pr_u[] = {0.85, 0.62, 0.27};
	static const double pr_c[] = {0.85, 0.68, 0.5};
	static const double ui_w[] = {0.85, 0.62};
	static const double cia_w[] = {0.56, 0.22, 0};
	double av, ac, pr, ui, c, in, av2, iss, imp, expl, score, t = 1;
	char   s;
	int    changed, k;

	if (v == NULL || strncmp(v, "CVSS:3", 6) != 0)
		return (SEV_UNKNOWN);
	if ((s = audit_cvss_metric(v, "S")) != 'U' && s != 'C')
		return (SEV_UNKNOWN);
	changed = s == 'C';
	av = audit_cvss_weight(v, "AV", "NALP", av_w);
	ac = audit_cvss_weight(v, "AC", "LH", ac_w);
	pr = audit_cvss_weight(v, "PR", "NLH", changed ? pr_c : pr_u);
	ui = audit_cvss_weight(v, "UI", "NR", ui_w);
	c = audit_cvss_weight(v, "C", "HLN", cia_w);
	in = audit_cvss_weight(v, "I", "HLN", cia_w);
	av2 = audit_cvss_weight(v, "A", "HLN", cia_w);
	if (av < 0 || ac < 0 || pr < 0 || ui < 0 || c < 0 || in < 0 || av2 < 0)
		return (SEV_UNKNOWN);
	iss = 1 - (1 - c) * (1 - in) * (1 - av2);
	if (changed) {
		for (k = 0; k < 15; k++)
			t *= iss - 0.02;
		imp = 7.52 * (iss - 0.029) - 3.25 * t;
	} else
		imp = 6.42 * iss;
	expl = 8.22 * av * ac * pr * ui;
	if (imp <= 0)
		score = 0;
	else if (changed)
		score = audit_roundup(
		    1.08 * (imp + expl) < 10 ? 1.08 * (imp + expl) : 10);
	else
		score = audit_roundup(imp + expl < 10 ? imp + expl : 10);
	if (score >= 9.0)
		return (SEV_CRITICAL);
	if (score >= 7.0)
		return (SEV_HIGH);
	if (score >= 4.0)
		return (SEV_MODERATE);
	return (score > 0 ? SEV_LOW : SEV_INFO);
}

/* cargo audit --json. 0, or -1 when the shape is not cargo audit's. */
static int
audit_cargo(struct audit *a, json_t *root)
{
	json_t     *list, *v, *adv;
	const char *sev;
	size_t      i;

	list =
	    json_object_get(json_object_get(root, "vulnerabilities"), "list");
	if (!json_is_array(list))
		return (-1);
	json_array_foreach(list, i, v)
	{
		adv = json_object_get(v, "advisory");
		sev = json_string_value(json_object_get(adv, "severity"));
		audit_add(a, json_string_value(json_object_get(adv, "id")),
		    json_string_value(
		        json_object_get(json_object_get(v, "package"), "name")),
		    sev != NULL ? audit_sev_parse(sev)
		                : audit_cvss(json_string_value(
		                      json_object_get(adv, "cvss"))));
	}
	return (0);
}

/* npm audit --json (6 and 7+). 0, or -1 when not npm's shape. */
static int
audit_npm(struct audit *a, json_t *root)
{
	const char *name;
	json_t     *meta, *vulns, *v;
	int         i;

	meta = json_object_get(
	    json_object_get(root, "metadata"), "vulnerabilities");
	if (!json_is_object(meta))
		return (-1);
	for (i = 0; i < SEV_UNKNOWN; i++)
		a->counts[i] = (int64_t)json_integer_value(
		    json_object_get(meta, audit_sev_names[i]));
	vulns = json_object_get(root, "vulnerabilities");
	if (!json_is_object(vulns))
		vulns = json_object_get(root, "advisories");
	json_object_foreach(vulns, name, v)
	{
		if (json_array_size(a->findings) >= AUDIT_FINDINGS)
			break;
		json_array_append_new(a->findings,
		    json_pack("{s:s, s:s}", "package",
		        json_string_value(json_object_get(v, "module_name"))
		            ? json_string_value(
		                  json_object_get(v, "module_name"))
		            : name,
		        "severity",
		        audit_sev_names[audit_sev_parse(json_string_value(
		            json_object_get(v, "severity")))]));
	}
	return (0);
}

/* trivy -f json. 0, or -1 when not trivy's shape. */
static int
audit_trivy(struct audit *a, json_t *root)
{
	json_t *results = json_object_get(root, "Results"), *r, *v;
	size_t  i, j;

	if (!json_is_array(results) && json_object_get(root, "SchemaVersion"))
		return (0); /* nothing scanned had findings */
	if (!json_is_array(results))
		return (-1);
	json_array_foreach(results, i, r)
	{
		json_array_foreach(json_object_get(r, "Vulnerabilities"), j, v)
		{
			audit_add(a,
			    json_string_value(
			        json_object_get(v, "VulnerabilityID")),
			    json_string_value(json_object_get(v, "PkgName")),
			    audit_sev_parse(json_string_value(
			        json_object_get(v, "Severity"))));
		}
	}
	return (0);
}

/* The status: the worst finding against warn_on and fail_on. */
static Vsm__TaskStatus
audit_status(const struct audit *a, enum audit_sev warn, enum audit_sev fail)
{
	int worst = -1, i;

	for (i = SEV_LOW; i < SEV_N; i++)
		if (a->counts[i] > 0) {
			int rank = i == SEV_UNKNOWN ? SEV_HIGH : i;

			if (rank > worst)
				worst = rank;
		}
	if (worst >= (int)fail)
		return (VSM__TASK_STATUS__TASK_FAIL);
	if (worst >= (int)warn)
		return (VSM__TASK_STATUS__TASK_WARN);
	return (VSM__TASK_STATUS__TASK_OK);
}

static int
audit_run(struct task_ctx *ctx, const struct task_params *p)
{
	static int (*const parse[])(struct audit *, json_t *) = {
	    audit_cargo, audit_npm, audit_trivy};
	const char               *tool = params_str(p, "tool");
	const struct vsm_command *c;
	struct command_run        cr;
	struct vsm_err            err;
	struct audit              a;
	json_error_t              jerr;
	json_t                   *root = NULL, *counts = NULL, *res = NULL;
	char                     *argv[COMMAND_ARGV_MAX], summary[256];
	enum audit_sev            warn, fail;
	int64_t                   total = 0;
	int                       i, ret = -1;

	memset(&a, 0, sizeof(a));
	memset(&cr, 0, sizeof(cr));
	warn = audit_level(params_num(p, "warn_on"));
	fail = audit_level(params_num(p, "fail_on"));
	if ((c = command_find(ctx, tool, &err)) == NULL ||
	    command_argv(c, NULL, 0, argv, COMMAND_ARGV_MAX, &err) == -1) {
		ret = task_finish_error(ctx, "%s", err.msg);
		goto out;
	}
	if ((a.findings = json_array()) == NULL)
		goto out;
	command_init(&cr, c, argv);
	cr.out_max = AUDIT_OUT_MAX;
	if ((cr.out = malloc(cr.out_max + 1)) == NULL)
		goto out;
	if (command_run(ctx, &cr, &err) == -1) {
		ret = task_finish_error(ctx, "%s", err.msg);
		goto out;
	}
	if (cr.timed_out || cr.signal[0] != '\0' || cr.cancelled) {
		ret = command_finish(ctx, &cr);
		goto out;
	}
	if (cr.out_truncated) {
		ret = task_finish_error(
		    ctx, "%s printed more than %d bytes", tool, AUDIT_OUT_MAX);
		goto out;
	}
	if ((root = json_loadb(cr.out, cr.out_len, 0, &jerr)) == NULL ||
	    parse[params_num(p, "tool")](&a, root) == -1) {
		ret = task_finish_error(ctx,
		    "%s (exit %d) printed no %s JSON report%s%s", tool,
		    cr.exit_code, tool, root == NULL ? ": " : "",
		    root == NULL ? jerr.text : "");
		goto out;
	}
	if ((counts = json_object()) == NULL)
		goto out;
	for (i = 0; i < SEV_N; i++) {
		json_object_set_new(
		    counts, audit_sev_names[i], json_integer(a.counts[i]));
		total += a.counts[i];
	}
	res = json_pack("{s:s, s:O, s:I, s:O, s:s, s:s, s:i, s:I}", "tool",
	    tool, "counts", counts, "total", (json_int_t)total, "findings",
	    a.findings, "fail_on", audit_sev_names[fail], "warn_on",
	    audit_sev_names[warn], "exit_code", cr.exit_code, "duration_ms",
	    (json_int_t)cr.duration_ms);
	snprintf(summary, sizeof(summary),
	    "%s: %lld findings (%lld critical, %lld high)", tool,
	    (long long)total, (long long)a.counts[SEV_CRITICAL],
	    (long long)a.counts[SEV_HIGH]);
	ret = task_finish(ctx, audit_status(&a, warn, fail), summary, res,
	    cr.exit_code, NULL);
out:
	free(cr.out);
	json_decref(root);
	json_decref(counts);
	json_decref(a.findings);
	json_decref(res);
	return (ret);
}

const struct task_module mod_security_audit = {
    .name = "security.audit",
    .params = security_audit_params,
    .validate = audit_validate,
    .run = audit_run,
    .cancel = command_cancel,
};
