/*
 * ctl_hosts.c: `vsmctl hosts`, the host registry as a table, and
 * `vsmctl host show NAME`, one host in full.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

/* Labels as "k=v,k=v" into buf (truncated to fit). */
static void
hosts_labels(json_t *labels, char *buf, size_t len)
{
	const char *k;
	json_t     *v;
	size_t      off = 0;
	int         n;

	buf[0] = '\0';
	json_object_foreach(labels, k, v)
	{
		n = snprintf(buf + off, len - off, "%s%s=%s", off ? "," : "", k,
		    json_is_string(v) ? json_string_value(v) : "?");
		if (n < 0 || (size_t)n >= len - off)
			break;
		off += (size_t)n;
	}
}

int
cmd_hosts(struct ctl *c, int argc, char **argv)
{
	struct ctl_table *t = NULL;
	json_t           *doc = NULL, *h;
	char              seen[32], cpu[16], mem[16], disk[16], labels[512];
	size_t            i;
	int               ret;

	if ((ret = ctl_parse(c, argc, argv, NULL, NULL, 0)) != CTL_OK)
		return (ret);
	if (!ctl_call_list(c, "hosts", NULL, "hosts", &doc, &ret))
		goto out;
	ret = CTL_FAIL;
	if ((t = ctl_table_new(9)) == NULL ||
	    ctl_table_add(t, "NAME", "STATE", "CONNECTED", "LAST SEEN", "CPU",
	        "MEM", "DISK", "VERSION", "LABELS") == -1)
		goto nomem;
	json_array_foreach(doc, i, h)
	{
		ctl_ago(ctl_int(h, "last_seen"), seen, sizeof(seen));
		ctl_pct(json_object_get(h, "cpu_pct"), cpu, sizeof(cpu));
		ctl_pct(json_object_get(h, "mem_pct"), mem, sizeof(mem));
		ctl_pct(json_object_get(h, "disk_pct"), disk, sizeof(disk));
		hosts_labels(
		    json_object_get(h, "labels"), labels, sizeof(labels));
		if (ctl_table_add(t, ctl_str(h, "name"), ctl_str(h, "state"),
		        json_is_true(json_object_get(h, "connected")) ? "yes"
		                                                      : "no",
		        seen, cpu, mem, disk, ctl_str(h, "agent_version"),
		        labels) == -1)
			goto nomem;
	}
	ctl_table_print(t);
	ret = CTL_OK;
	goto out;
nomem:
	ctl_fail(c, "out of memory");
out:
	ctl_table_free(t);
	json_decref(doc);
	return (ret);
}

/* Append printf text to buf at *off; stops quietly once it is full. */
static void hosts_put(char *buf, size_t len, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
hosts_put(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int     n;

	if (*off >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len - *off)
		*off = len;
	else
		*off += (size_t)n;
}

/*
 * The facts of sys.facts in one line: OS, kernel, CPUs, memory, disks and
 * the services found ("-" when there are none yet).
 */
static void
hosts_facts(json_t *facts, char *buf, size_t len)
{
	json_t     *os = json_object_get(facts, "os");
	json_t     *k = json_object_get(facts, "kernel");
	json_t     *svc = json_object_get(facts, "services"), *v;
	const char *name, *sep = "";
	size_t      off = 0;
	int64_t     mem;

	buf[0] = '\0';
	if (ctl_str(os, "pretty_name")[0] != '\0') {
		hosts_put(buf, len, &off, "%s", ctl_str(os, "pretty_name"));
		sep = ", ";
	}
	if (ctl_str(k, "release")[0] != '\0') {
		hosts_put(buf, len, &off, "%s%s %s %s", sep,
		    ctl_str(k, "sysname"), ctl_str(k, "release"),
		    ctl_str(k, "machine"));
		sep = ", ";
	}
	if (ctl_int(facts, "cpus") > 0) {
		hosts_put(buf, len, &off, "%s%lld cpus", sep,
		    (long long)ctl_int(facts, "cpus"));
		sep = ", ";
	}
	if ((mem = ctl_int(json_object_get(facts, "memory"), "total_bytes")) >
	    0) {
		hosts_put(buf, len, &off, "%s%.1f GiB memory", sep,
		    (double)mem / (1024.0 * 1024 * 1024));
		sep = ", ";
	}
	if (json_is_array(json_object_get(facts, "disks"))) {
		hosts_put(buf, len, &off, "%s%zu disks", sep,
		    json_array_size(json_object_get(facts, "disks")));
		sep = ", ";
	}
	json_object_foreach(svc, name, v)
	{
		hosts_put(buf, len, &off, "%s%s %s", sep, name,
		    ctl_str(v, "version"));
		sep = ", ";
	}
	if (off == 0)
		snprintf(buf, len, "-");
}

/* "label   a b c ...", the names wrapped under each other; "-" if none. */
static void
hosts_print_list(const char *label, json_t *list)
{
	json_t *v;
	size_t  i, col = 0, w;

	printf("%-10s", label);
	if (json_array_size(list) == 0) {
		printf(" -\n");
		return;
	}
	json_array_foreach(list, i, v)
	{
		w = strlen(json_is_string(v) ? json_string_value(v) : "?") + 1;
		if (col > 0 && 10 + col + w > 78) {
			printf("\n%-10s", "");
			col = 0;
		}
		printf(" %s", json_is_string(v) ? json_string_value(v) : "?");
		col += w;
	}
	printf("\n");
}

int
cmd_host_show(struct ctl *c, int argc, char **argv)
{
	struct ctl_args args = {0};
	const char     *name;
	json_t         *doc = NULL, *caps;
	char            seen[32], first[32], cpu[16], mem[16], disk[16];
	char            labels[512], facts[1024];
	int             ret;

	if ((ret = ctl_parse(c, argc, argv, NULL, &name, 1)) != CTL_OK)
		return (ret);
	if (name[0] == '\0')
		return (ctl_usage(c, "empty NAME"));
	if (ctl_arg(c, &args, "name", name) != CTL_OK)
		return (CTL_USAGE);
	if ((ret = ctl_call(c, "host.show", &args, &doc)) != CTL_OK)
		goto out;
	if (c->json) {
		ret = ctl_print_json(c, doc);
		goto out;
	}
	if (!json_is_object(doc)) {
		ret = ctl_fail(c, "host show: the answer is not a host");
		goto out;
	}
	ctl_ago(ctl_int(doc, "last_seen"), seen, sizeof(seen));
	ctl_when(ctl_int(doc, "first_seen"), first, sizeof(first));
	ctl_pct(json_object_get(doc, "cpu_pct"), cpu, sizeof(cpu));
	ctl_pct(json_object_get(doc, "mem_pct"), mem, sizeof(mem));
	ctl_pct(json_object_get(doc, "disk_pct"), disk, sizeof(disk));
	hosts_labels(json_object_get(doc, "labels"), labels, sizeof(labels));
	hosts_facts(json_object_get(doc, "facts"), facts, sizeof(facts));
	printf("%-10s %s (id %lld)\n", "host", ctl_str(doc, "name"),
	    (long long)ctl_int(doc, "id"));
	printf("%-10s %s, %s\n", "state", ctl_str(doc, "state"),
	    json_is_true(json_object_get(doc, "connected")) ? "connected"
	                                                    : "not connected");
	printf("%-10s %s (first seen %s)\n", "seen", seen, first);
	printf("%-10s %s\n", "version", ctl_str(doc, "agent_version"));
	printf("%-10s cpu %s, mem %s, disk %s\n", "usage", cpu, mem, disk);
	printf("%-10s %s\n", "labels", labels[0] != '\0' ? labels : "-");
	printf("%-10s %s\n", "facts", facts);
	caps = json_object_get(doc, "capabilities");
	hosts_print_list("modules", json_object_get(caps, "modules"));
	hosts_print_list("commands", json_object_get(caps, "commands"));
	ret = CTL_OK;
out:
	json_decref(doc);
	return (ret);
}
