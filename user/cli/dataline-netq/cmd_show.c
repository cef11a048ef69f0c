/*
 * cmd_show: `show` of dataline-netq: a table (or JSON, via jansson) of each
 * monitored interface's counters, one-read rates, TCP RTT/loss and latest
 * probe; --watch refreshes it like top. No RFCs.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "cli.h"

static volatile sig_atomic_t stop_flag;
static void on_sig(int s) { stop_flag = 1; }

json_t *cli_snapshot_json(const struct netq_snapshot *s);

json_t *cli_snapshot_json(const struct netq_snapshot *s)
{
	return json_pack("{s:s, s:I, s:b, s:b, s:s, s:I, s:I, s:I, s:I, s:I, "
			 "s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:I, s:I, s:I, "
			 "s:I, s:I, s:I}",
		"ifname", s->ifname, "ifindex", (json_int_t)s->ifindex,
		"up", s->up, "default_route", s->default_route,
		"kind", netq_kind_str(s->kind),
		"speed_mbps", (json_int_t)s->speed_mbps,
		"rx_bps", (json_int_t)s->rx_bps,
		"tx_bps", (json_int_t)s->tx_bps,
		"rx_bytes", (json_int_t)s->rx_bytes,
		"tx_bytes", (json_int_t)s->tx_bytes,
		"rx_packets", (json_int_t)s->rx_packets,
		"tx_packets", (json_int_t)s->tx_packets,
		"srtt_us", (json_int_t)(s->have_tcp ? s->srtt_us : 0),
		"min_rtt_us", (json_int_t)s->min_rtt_us,
		"retrans", (json_int_t)s->retrans,
		"segs_out", (json_int_t)s->segs_out,
		"loss_pct", s->have_loss ? s->loss_pct : 0.0,
		"probe_rtt_us", (json_int_t)s->probe_rtt_us,
		"probe_kbps", (json_int_t)s->probe_kbps,
		"probe_age_ms", (json_int_t)(s->have_probe ? s->probe_age_ms : 0),
		"age_ms", (json_int_t)s->age_ms,
		"rx_wire_packets", (json_int_t)s->rx_wire_packets,
		"tx_wire_packets", (json_int_t)s->tx_wire_packets);
}

static void print_table(const struct netq_snapshot *s, int n)
{
	int i;

	printf("%-12s %5s %-4s %9s %9s %12s %12s %9s %9s %8s %8s %6s %6s "
	       "%8s %8s %7s\n", "IFACE", "IDX", "UP", "RX_kbps", "TX_kbps",
	       "RX_BYTES", "TX_BYTES", "RX_PKTS", "TX_PKTS", "SRTT_us",
	       "MINRTT", "RETR", "LOSS%", "PRTT_us", "P_kbps", "AGE_ms");
	for (i = 0; i < n; i++)
		printf("%-12s %5u %-4s %9llu %9llu %12llu %12llu %9llu %9llu "
		       "%8u %8u %6llu %6.2f %8u %8u %7llu\n", s[i].ifname,
		       s[i].ifindex, s[i].up ? "up" : "down",
		       (unsigned long long)s[i].rx_bps / 1000,
		       (unsigned long long)s[i].tx_bps / 1000,
		       (unsigned long long)s[i].rx_bytes,
		       (unsigned long long)s[i].tx_bytes,
		       (unsigned long long)s[i].rx_packets,
		       (unsigned long long)s[i].tx_packets,
		       s[i].have_tcp ? s[i].srtt_us : 0, s[i].min_rtt_us,
		       (unsigned long long)s[i].retrans,
		       s[i].have_loss ? s[i].loss_pct : 0.0,
		       s[i].probe_rtt_us, s[i].probe_kbps,
		       (unsigned long long)s[i].age_ms);
}

int cmd_show(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "watch", no_argument, NULL, 'w' },
		{ "interval", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct netq_snapshot all[NETQ_MAX_IFACES], sel[NETQ_MAX_IFACES];
	struct netq *q;
	const char *only = NULL;
	int json = 0, watch = 0, interval = 1000, opt, err, n, m, i;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "jwi:h", lo, NULL)) != -1) {
		switch (opt) {
		case 'j': json = 1; break;
		case 'w': watch = 1; break;
		case 'i': interval = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: dataline-netq show [--json] "
				"[--watch] [--interval MS] [IFACE]\n");
			return opt == 'h' ? EX_NQ_OK : EX_NQ_USAGE;
		}
	}
	if (optind < argc)
		only = argv[optind];
	if (interval < 50)
		interval = 50;
	err = netq_open(c->pin_dir, NETQ_OPEN_LINKSTATE, &q);
	if (err)
		return cli_fail("show", NULL, err);
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);
	do {
		n = netq_snapshot_all(q, all, NETQ_MAX_IFACES);
		for (i = 0, m = 0; i < n; i++)
			if (!only || !strcmp(only, all[i].ifname))
				sel[m++] = all[i];
		if (only && !m) {
			netq_close(q);
			fprintf(stderr, "dataline-netq show: '%s' is not "
				"monitored\n", only);
			return EX_NQ_NODEV;
		}
		if (json) {
			json_t *arr = json_array(), *root;

			for (i = 0; i < m; i++)
				json_array_append_new(arr,
						cli_snapshot_json(&sel[i]));
			root = json_pack("{s:o}", "interfaces", arr);
			json_dumpf(root, stdout, watch ? JSON_COMPACT :
				   JSON_INDENT(2));
			json_decref(root);
			putchar('\n');
		} else {
			if (watch)
				printf("\033[H\033[2J");
			print_table(sel, m);
		}
		fflush(stdout);
		if (!watch)
			break;
		{
			/* sleep, but follow link events meanwhile */
			struct pollfd p = { .fd = netq_linkstate_fd(q),
					    .events = POLLIN };
			if (poll(&p, 1, interval) > 0)
				netq_linkstate_update(q);
		}
	} while (!stop_flag);
	netq_close(q);
	return EX_NQ_OK;
}
