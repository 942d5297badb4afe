/*
 * sys_facts.c: sys.facts, what the controller's registry keeps about a
 * host: OS, kernel, CPUs, memory, disks, the database servers installed
 * and the agent version. Server versions come from the server binaries in
 * the standard Debian paths, asked `--version` with a fixed argv and a
 * short time limit; a server that is absent is not reported.
 */
#include <sys/utsname.h>

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostinfo.h"
#include "module.h"

struct sys_facts_server {
	const char *name;    /* key under "services" */
	const char *pattern; /* glob of the binary; the last match wins */
};

static const struct sys_facts_server sys_facts_servers[] = {
    {"postgresql", "/usr/lib/postgresql/*/bin/postgres"},
    {"redis", "/usr/bin/redis-server"},
    {"mongodb", "/usr/bin/mongod"},
    {NULL, NULL},
};

/* Copy the value of KEY= in os-release text, unquoted. */
static void
sys_facts_osval(const char *text, const char *key, char *out, size_t len)
{
	const char *p = text, *v, *e;
	size_t      kl = strlen(key);

	out[0] = '\0';
	while (p != NULL && *p != '\0') {
		if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
			v = p + kl + 1;
			if ((e = strchr(v, '\n')) == NULL)
				e = v + strlen(v);
			if (e > v && (*v == '"' || *v == '\'') && e[-1] == *v &&
			    e - v >= 2) {
				v++;
				e--;
			}
			snprintf(out, len, "%.*s", (int)(e - v), v);
			return;
		}
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
}

static json_t *
sys_facts_os(void)
{
	static const char *const keys[][2] = {{"ID", "id"},
	    {"VERSION_ID", "version_id"}, {"PRETTY_NAME", "pretty_name"},
	    {"VERSION_CODENAME", "codename"}};
	char                     text[8192], val[256];
	json_t                  *o = json_object();
	size_t                   i;

	if (o == NULL)
		return (NULL);
	if (hostinfo_read_file("/etc/os-release", text, sizeof(text)) <= 0 &&
	    hostinfo_read_file("/usr/lib/os-release", text, sizeof(text)) <= 0)
		return (o);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		sys_facts_osval(text, keys[i][0], val, sizeof(val));
		if (val[0] != '\0')
			json_object_set_new(o, keys[i][1], json_string(val));
	}
	return (o);
}

/* Version of one server, or NULL when absent or it does not answer. */
static json_t *
sys_facts_server(const struct sys_facts_server *s)
{
	const char *argv[3];
	char        line[512], ver[64];
	glob_t      g;
	json_t     *o = NULL;

	if (glob(s->pattern, 0, NULL, &g) != 0)
		return (NULL);
	argv[0] = g.gl_pathv[g.gl_pathc - 1];
	argv[1] = "--version";
	argv[2] = NULL;
	if (hostinfo_probe(argv, HOSTINFO_PROBE_MS, line, sizeof(line)) == 0 &&
	    hostinfo_version(line, ver, sizeof(ver)) == 0)
		o = json_pack("{s:s, s:s, s:s}", "version", ver, "path",
		    argv[0], "raw", line);
	globfree(&g);
	return (o);
}

static int
sys_facts_run(struct task_ctx *ctx, const struct task_params *p)
{
	struct utsname      u;
	struct hostinfo_mem m;
	json_t             *res = NULL, *disks = NULL, *svc = NULL, *o;
	double              worst;
	char                summary[256];
	const char         *pretty;
	size_t              i;
	int                 ret = -1;

	if (uname(&u) == -1)
		return (task_finish_error(ctx, "uname failed"));
	if ((disks = json_array()) == NULL || (svc = json_object()) == NULL)
		goto out;
	if (hostinfo_mounts(disks, NULL, &worst) == -1)
		task_emit_log(ctx, "cannot read the mount table");
	if (hostinfo_meminfo(&m) == -1)
		memset(&m, 0, sizeof(m));
	for (i = 0; sys_facts_servers[i].name != NULL; i++)
		if ((o = sys_facts_server(&sys_facts_servers[i])) != NULL)
			json_object_set_new(svc, sys_facts_servers[i].name, o);
	res = json_pack("{s:o, s:{s:s, s:s, s:s, s:s}, s:s, s:I, s:{s:I, s:I},"
	                " s:O, s:O, s:s}",
	    "os", sys_facts_os(), "kernel", "sysname", u.sysname, "release",
	    u.release, "version", u.version, "machine", u.machine, "hostname",
	    u.nodename, "cpus", (json_int_t)hostinfo_ncpu(), "memory",
	    "total_bytes", (json_int_t)m.total, "swap_total_bytes",
	    (json_int_t)m.swap_total, "disks", disks, "services", svc,
	    "agent_version", VSM_VERSION);
	if (res == NULL) {
		ret = task_finish_error(ctx, "cannot build the facts");
		goto out;
	}
	pretty = json_string_value(
	    json_object_get(json_object_get(res, "os"), "pretty_name"));
	snprintf(summary, sizeof(summary), "%s, kernel %s, %ld CPUs",
	    pretty != NULL ? pretty : u.sysname, u.release, hostinfo_ncpu());
	ret =
	    task_finish(ctx, VSM__TASK_STATUS__TASK_OK, summary, res, 0, NULL);
out:
	json_decref(res);
	json_decref(disks);
	json_decref(svc);
	return (ret);
}

const struct task_module mod_sys_facts = {
    .name = "sys.facts",
    .run = sys_facts_run,
};
