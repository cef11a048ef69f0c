/*
 * cmd_probe: `probe HOST:PORT` (one train now) and `echo [ADDR:PORT]` (the
 * reflector) of dataline-netq. No RFCs.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "cli.h"

static volatile sig_atomic_t probe_stop;
static void on_sig_probe(int s) { probe_stop = 1; }
static void print_result(const char *target,
			 const struct netq_probe_result *r, int json);

int cmd_probe(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "count", required_argument, NULL, 'c' },
		{ "size", required_argument, NULL, 's' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "no-bpf", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "every", required_argument, NULL, 'e' },
		{ "over-budget", no_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct netq_probe_opts o = { .pin_dir = c->pin_dir };
	struct netq_probe_result r;
	struct sigaction sa;
	unsigned every = 0;
	int opt, err, json = 0, over = 0;
	double per_hour;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "c:s:t:njh", lo, NULL)) != -1) {
		switch (opt) {
		case 'c': o.count = (uint16_t)atoi(optarg); break;
		case 's': o.size = (uint16_t)atoi(optarg); break;
		case 't': o.timeout_ms = (uint32_t)atoi(optarg); break;
		case 'n': o.no_bpf = 1; break;
		case 'j': json = 1; break;
		case 'e': every = (unsigned)atoi(optarg); break;
		case 'o': over = 1; break;
		default:
			fprintf(stderr, "usage: dataline-netq probe HOST:PORT "
				"[--count N(2-%d)] [--size BYTES] "
				"[--timeout-ms MS] [--no-bpf] [--json] "
				"[--every SEC [--over-budget]]\n",
				NETQ_PROBE_MAX - NETQ_PROBE_RTT_PKTS);
			return opt == 'h' ? EX_NQ_OK : EX_NQ_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "dataline-netq probe: HOST:PORT missing\n");
		return EX_NQ_USAGE;
	}
	if (every) {
		/* background probing: keep within NETQ_PROBE_BUDGET bytes/h */
		per_hour = (double)netq_probe_cost(&o) * 3600.0 / every;
		if (per_hour > NETQ_PROBE_BUDGET && !over) {
			fprintf(stderr, "dataline-netq probe: every %u s costs "
				"%.0f bytes/hour, over the %u budget (longer "
				"--every, smaller train, or --over-budget)\n",
				every, per_hour, NETQ_PROBE_BUDGET);
			return EX_NQ_USAGE;
		}
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_sig_probe;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	for (;;) {
		err = netq_probe(argv[optind], &o, &r);
		if (err && !every)
			return cli_fail("probe", argv[optind], err);
		if (err)
			cli_fail("probe", argv[optind], err);
		else
			print_result(argv[optind], &r, json);
		if (!every || probe_stop || sleep(every) != 0 || probe_stop)
			break;
	}
	return EX_NQ_OK;
}

static void print_result(const char *target, const struct netq_probe_result *rp,
			 int json)
{
	struct netq_probe_result r = *rp;

	if (json) {
		json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:s}",
			"target", target, "ifindex", (json_int_t)r.ifindex,
			"rtt_us", (json_int_t)r.rtt_us,
			"kbps", (json_int_t)r.kbps, "sent", (json_int_t)r.sent,
			"recv", (json_int_t)r.recv, "bytes", (json_int_t)r.bytes,
			"timestamps", r.kernel_ts ? "kernel" : "user");
		json_dumpf(j, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(j);
	} else {
		printf("probe %s: rtt %u us, capacity %u kbit/s, %u/%u echoes, "
		       "%llu bytes, %s timestamps\n", target, r.rtt_us,
		       r.kbps, r.recv, r.sent, (unsigned long long)r.bytes,
		       r.kernel_ts ? "kernel" : "user-space");
	}
	fflush(stdout);
}

static volatile int echo_stop;
static void on_sig(int s) { echo_stop = 1; }

int cmd_echo(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "delay-ms", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sigaction sa;
	const char *addr = NULL;
	uint32_t delay = 0;
	int opt, err, fd;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "d:h", lo, NULL)) != -1) {
		switch (opt) {
		case 'd': delay = (uint32_t)atoi(optarg); break;
		default:
			fprintf(stderr, "usage: dataline-netq echo [ADDR:PORT] "
				"[--delay-ms N]\n");
			return opt == 'h' ? EX_NQ_OK : EX_NQ_USAGE;
		}
	}
	if (optind < argc)
		addr = argv[optind];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sig; /* no SA_RESTART: poll returns EINTR */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	err = netq_echo_open(addr, &fd);
	if (err)
		return cli_fail("echo", addr ? addr : "0.0.0.0:7010", err);
	/* only now: a script may wait for this line */
	fprintf(stderr, "dataline-netq: echo listening on %s, delay %u ms\n",
		addr ? addr : "0.0.0.0:7010", delay);
	err = netq_echo_serve(fd, delay, &echo_stop);
	close(fd);
	if (err)
		return cli_fail("echo", addr ? addr : "0.0.0.0:7010", err);
	return EX_NQ_OK;
}
