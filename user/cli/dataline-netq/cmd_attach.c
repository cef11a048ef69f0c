/*
 * cmd_attach: `attach`, `detach` and `status` of dataline-netq. No RFCs.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "cli.h"

static void opts_of(const struct cli *c, struct netq_attach_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->pin_dir = c->pin_dir;
	o->verbose = c->verbose;
}

int cmd_attach(struct cli *c, int argc, char **argv)
{
	struct netq_attach_opts o;
	enum netq_attach_mode mode;
	char defs[NETQ_MAX_IFACES][16], dir[512];
	char **names = argv + 1;
	char *dp[NETQ_MAX_IFACES];
	int n = argc - 1, i, err, rc = EX_NQ_OK, clsact = 0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--clsact")) {
			clsact = 1;
			names++;
			n--;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "dataline-netq attach: unknown option "
				"'%s'\n", argv[i]);
			return EX_NQ_USAGE;
		}
	}
	opts_of(c, &o);
	o.force_clsact = clsact;
	netq_pin_dir(c->pin_dir, dir, sizeof(dir));
	err = netq_bpffs_ensure(dir);
	if (err == 1)
		fprintf(stderr, "dataline-netq: bpffs was not mounted; mounted "
			"it on /sys/fs/bpf\n");
	else if (err < 0)
		return cli_fail("attach", dir, err);
	err = netq_clean_stale(&o);
	if (err > 0)
		fprintf(stderr, "dataline-netq: removed %d stale pinned "
			"object(s) of an earlier run\n", err);
	if (n <= 0) {
		n = netq_default_ifaces(defs, NETQ_MAX_IFACES);
		if (n <= 0) {
			fprintf(stderr, "dataline-netq attach: no default "
				"route; name the interfaces\n");
			return EX_NQ_USAGE;
		}
		for (i = 0; i < n; i++)
			dp[i] = defs[i];
		names = dp;
	}
	for (i = 0; i < n; i++) {
		int was;

		if (names[i][0] == '-')
			continue;
		was = netq_attached(c->pin_dir, names[i]);
		err = netq_attach(&o, names[i], &mode);
		if (err) {
			rc = cli_fail("attach", names[i], err);
			continue;
		}
		printf("%s: %s (%s), pins in %s\n", names[i],
		       was == 1 ? "already attached" : "attached",
		       mode == NETQ_MODE_TCX ? "tcx" : "clsact", dir);
	}
	return rc;
}

int cmd_detach(struct cli *c, int argc, char **argv)
{
	struct netq_attach_opts o;
	int i, err, rc = EX_NQ_OK;

	opts_of(c, &o);
	if (argc < 2) {
		err = netq_detach(&o, NULL);
		if (err == -ENOENT) {
			fprintf(stderr, "dataline-netq: detach: not attached "
				"(nothing to do)\n");
			return EX_NQ_NOTATT;
		}
		if (err)
			return cli_fail("detach", NULL, err);
		printf("detached everything\n");
		return EX_NQ_OK;
	}
	for (i = 1; i < argc; i++) {
		err = netq_detach(&o, argv[i]);
		if (err == -ENOENT) {
			fprintf(stderr, "dataline-netq: detach: %s: not "
				"attached\n", argv[i]);
			rc = EX_NQ_NOTATT;
		} else if (err)
			rc = cli_fail("detach", argv[i], err);
		else
			printf("%s: detached\n", argv[i]);
	}
	return rc;
}

int cmd_status(struct cli *c, int argc, char **argv)
{
	struct netq_snapshot s[NETQ_MAX_IFACES];
	struct netq *q;
	char dir[512], path[600];
	int n, i, err, fd;

	netq_pin_dir(c->pin_dir, dir, sizeof(dir));
	err = netq_open(c->pin_dir, NETQ_OPEN_LINKSTATE, &q);
	if (err)
		return cli_fail("status", dir, err);
	n = netq_snapshot_all(q, s, NETQ_MAX_IFACES);
	snprintf(path, sizeof(path), "%s/link_tcp_probe", dir);
	fd = bpf_obj_get(path);
	printf("pin dir: %s\n", dir);
	printf("tcp hooks: %s\n", fd >= 0 ? "attached (tcp_probe, "
	       "tcp_retransmit_skb)" : "not attached");
	if (fd >= 0)
		close(fd);
	printf("interfaces: %d\n", n);
	for (i = 0; i < n; i++)
		printf("  %-15s ifindex %-4u %-6s %-4s %-8s %s\n", s[i].ifname,
		       s[i].ifindex, s[i].attach_mode == NETQ_MODE_TCX ? "tcx" :
		       "clsact", s[i].up ? "up" : "down",
		       netq_kind_str(s[i].kind),
		       s[i].default_route ? "default-route" : "");
	netq_close(q);
	return n ? EX_NQ_OK : EX_NQ_NOTATT;
}
