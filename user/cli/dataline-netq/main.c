/*
 * dataline-netq: command line of netq, the in-kernel network-quality
 * module (attach, detach, status, show, probe, echo, decide). No RFCs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

static const char usage[] =
"usage: dataline-netq [--pin-dir DIR] [-v] COMMAND [ARGS]\n"
"\n"
"Measures each interface's rate, TCP RTT/loss and an active probe in the\n"
"kernel (eBPF, tcx or clsact) and decides whether the data network is good\n"
"enough for a call or a text.\n"
"\n"
"commands:\n"
"  attach [--clsact] [IFACE...]\n"
"                        attach to IFACEs (default: those of the default\n"
"                        routes); idempotent; cleans stale pins first;\n"
"                        tcx where the kernel has it (--clsact forces tc)\n"
"  detach [IFACE...]     detach (default: everything, pins removed)\n"
"  status                what is attached where, and how (tcx/clsact)\n"
"  show [--json] [--watch] [--interval MS] [IFACE]\n"
"                        counters, rates, RTT, loss, probe per interface\n"
"  probe HOST:PORT [--count N] [--size BYTES] [--timeout-ms MS] [--json]\n"
"                [--every SEC [--over-budget]] [--no-bpf]\n"
"                        send a probe train now (or every SEC seconds,\n"
"                        refused above 1 MB/hour); print RTT and capacity\n"
"  echo [ADDR:PORT] [--delay-ms N]\n"
"                        the reflector (default 0.0.0.0:7010); holds each\n"
"                        reply N ms; answers only netq probe packets\n"
"  decide voice|text [--min-kbps N] [--max-rtt-ms N] [--max-loss-pct N]\n"
"                    [--probe-max-age-s N] [--json]\n"
"                        decision, reason, figures used, time taken (ns)\n"
"\n"
"global options:\n"
"  --pin-dir DIR   where maps and links are pinned (default $DATALINE_PIN_DIR\n"
"                  or /sys/fs/bpf/dataline; must be on a bpffs)\n"
"  -v              libbpf debug output\n"
"  -h, --help      this text\n"
"\n"
"exit status:\n"
"  0 success (decide: data)      1 other error        2 usage\n"
"  3 decide: fallback (ask: carrier network or quit)\n"
"  4 no BPF permission           5 unknown interface\n"
"  6 not attached                7 bpffs: pin dir not on bpffs / mount failed\n"
"  8 probe: no echo / host unreachable\n"
"\n"
"EXAMPLES\n"
"  dataline-netq attach                      # default-route interfaces\n"
"  dataline-netq attach eth0 wlan0\n"
"  dataline-netq --pin-dir /sys/fs/bpf/test1 attach veth0\n"
"  dataline-netq status\n"
"  dataline-netq show\n"
"  dataline-netq show --json eth0 | jq .interfaces[0].rx_bps\n"
"  dataline-netq show --watch --interval 500\n"
"  dataline-netq echo 0.0.0.0:7010 --delay-ms 50\n"
"  dataline-netq probe 192.0.2.1:7010 --count 48 --size 1200\n"
"  dataline-netq probe 192.0.2.1:7010 --every 300   # 808 kB/hour\n"
"  dataline-netq decide text\n"
"  dataline-netq decide voice --min-kbps 100 --max-rtt-ms 300 --json\n"
"  dataline-netq detach eth0\n"
"  dataline-netq detach                      # everything, pins removed\n";

int cli_fail(const char *what, const char *arg, int err)
{
	const char *a = arg ? arg : "";
	const char *sep = arg ? ": " : "";

	switch (-err) {
	case EPERM: case EACCES:
		fprintf(stderr, "dataline-netq: %s%s%s: no BPF permission (run "
			"as root, or with CAP_BPF, CAP_NET_ADMIN and "
			"CAP_PERFMON)\n", what, sep, a);
		return EX_NQ_PERM;
	case ENODEV:
		fprintf(stderr, "dataline-netq: %s: unknown interface '%s'\n",
			what, a);
		return EX_NQ_NODEV;
	case ENOENT:
		fprintf(stderr, "dataline-netq: %s%s%s: not attached (run "
			"'dataline-netq attach' first)\n", what, sep, a);
		return EX_NQ_NOTATT;
	case EXDEV:
		fprintf(stderr, "dataline-netq: %s%s%s: the pin dir is not on "
			"a bpffs (use a dir under /sys/fs/bpf)\n", what, sep, a);
		return EX_NQ_BPFFS;
	case ETIMEDOUT:
		fprintf(stderr, "dataline-netq: %s%s%s: no echo came back\n",
			what, sep, a);
		return EX_NQ_PROBE;
	case EHOSTUNREACH: case ENETUNREACH: case ECONNREFUSED:
		fprintf(stderr, "dataline-netq: %s%s%s: %s\n", what, sep, a,
			strerror(-err));
		return EX_NQ_PROBE;
	case EINVAL:
		fprintf(stderr, "dataline-netq: %s%s%s: invalid argument\n",
			what, sep, a);
		return EX_NQ_USAGE;
	default:
		fprintf(stderr, "dataline-netq: %s%s%s: %s\n", what, sep, a,
			strerror(-err));
		return EX_NQ_ERR;
	}
}

static const struct {
	const char *name;
	int (*fn)(struct cli *, int, char **);
} cmds[] = {
	{ "attach", cmd_attach }, { "detach", cmd_detach },
	{ "status", cmd_status }, { "show", cmd_show },
	{ "probe", cmd_probe },   { "echo", cmd_echo },
	{ "decide", cmd_decide },
};

int main(int argc, char **argv)
{
	struct cli c = { NULL, 0 };
	size_t k;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--pin-dir") && i + 1 < argc) {
			c.pin_dir = argv[++i];
		} else if (!strncmp(argv[i], "--pin-dir=", 10)) {
			c.pin_dir = argv[i] + 10;
		} else if (!strcmp(argv[i], "-v")) {
			c.verbose++;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(usage, stdout);
			return EX_NQ_OK;
		} else {
			break;
		}
	}
	if (i >= argc) {
		fputs(usage, stderr);
		return EX_NQ_USAGE;
	}
	for (k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++)
		if (!strcmp(argv[i], cmds[k].name))
			return cmds[k].fn(&c, argc - i, argv + i);
	fprintf(stderr, "dataline-netq: unknown command '%s' (see --help)\n",
		argv[i]);
	return EX_NQ_USAGE;
}
