/*
 * ctl_hosts.c: `vsmctl hosts`, the host registry as a table.
 */
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
