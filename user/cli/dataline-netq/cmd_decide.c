/*
 * cmd_decide: `decide voice|text` of dataline-netq: the decision from the
 * memory-mapped maps and the netlink link-state cache, with the figures it
 * used and the time it took. Exit 0 = data, 3 = fallback. No RFCs.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "cli.h"

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int cmd_decide(struct cli *c, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "min-kbps", required_argument, NULL, 'k' },
		{ "max-rtt-ms", required_argument, NULL, 'r' },
		{ "max-loss-pct", required_argument, NULL, 'l' },
		{ "probe-max-age-s", required_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct netq_thresholds t;
	struct netq_decision d;
	enum netq_service svc;
	struct netq *q;
	uint64_t t0, t1;
	int opt, err, json = 0;
	char *end;

	if (argc < 2 || (strcmp(argv[1], "voice") && strcmp(argv[1], "text")))
		goto usage;
	svc = !strcmp(argv[1], "voice") ? NETQ_VOICE : NETQ_TEXT;
	netq_thresholds_default(svc, &t);
	optind = 2;
	while ((opt = getopt_long(argc, argv, "jh", lo, NULL)) != -1) {
		switch (opt) {
		case 'k': t.min_kbps = (uint32_t)strtoul(optarg, &end, 10);
			  if (*end) goto usage;
			  break;
		case 'r': t.max_rtt_ms = (uint32_t)strtoul(optarg, &end, 10);
			  if (*end) goto usage;
			  break;
		case 'l': t.max_loss_pct = strtod(optarg, &end);
			  if (*end) goto usage;
			  break;
		case 'a': t.probe_max_age_s = (uint32_t)strtoul(optarg, &end,
								 10);
			  if (*end) goto usage;
			  break;
		case 'j': json = 1; break;
		case 'h':
			fprintf(stdout, "usage: dataline-netq decide voice|text "
				"[--min-kbps N] [--max-rtt-ms N] "
				"[--max-loss-pct N] [--probe-max-age-s N] "
				"[--json]\n");
			return EX_NQ_OK;
		default: goto usage;
		}
	}
	err = netq_open(c->pin_dir, NETQ_OPEN_LINKSTATE, &q);
	if (err)
		return cli_fail("decide", NULL, err);
	netq_decide(q, svc, &t, &d);   /* warm the caches once */
	t0 = mono_ns();
	netq_decide(q, svc, &t, &d);
	t1 = mono_ns();
	netq_close(q);
	if (json) {
		json_t *j = json_pack("{s:s, s:s, s:s, s:i, s:s, s:I, s:I, s:s, "
				      "s:I, s:f, s:{s:I, s:I, s:f, s:I}, s:I}",
			"service", svc == NETQ_VOICE ? "voice" : "text",
			"decision", netq_verdict_str(d.verdict),
			"reason", netq_reason_str(d.reason),
			"reason_code", (int)d.reason,
			"ifname", d.ifname, "ifindex", (json_int_t)d.ifindex,
			"rate_kbps", (json_int_t)d.rate_kbps,
			"rate_source", d.rate_from_probe ? "probe" : "traffic",
			"rtt_us", (json_int_t)d.rtt_us,
			"loss_pct", d.loss_pct,
			"thresholds", "min_kbps", (json_int_t)t.min_kbps,
			"max_rtt_ms", (json_int_t)t.max_rtt_ms,
			"max_loss_pct", t.max_loss_pct,
			"probe_max_age_s", (json_int_t)t.probe_max_age_s,
			"decide_ns", (json_int_t)(t1 - t0));
		json_dumpf(j, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(j);
	} else {
		printf("%s: %s (%s)\n", svc == NETQ_VOICE ? "voice" : "text",
		       netq_verdict_str(d.verdict), netq_reason_str(d.reason));
		printf("  interface %s (ifindex %u)\n",
		       d.ifname[0] ? d.ifname : "-", d.ifindex);
		printf("  rate %llu kbit/s (%s; min %u)\n",
		       (unsigned long long)d.rate_kbps,
		       d.rate_from_probe ? "probe capacity" : "traffic",
		       t.min_kbps);
		printf("  rtt %u us (max %u ms)\n", d.rtt_us, t.max_rtt_ms);
		if (d.loss_pct >= 0)
			printf("  loss %.2f %% (max %.2f)\n", d.loss_pct,
			       t.max_loss_pct);
		else
			printf("  loss unknown (max %.2f)\n", t.max_loss_pct);
		printf("  decided in %llu ns\n",
		       (unsigned long long)(t1 - t0));
	}
	return d.verdict == NETQ_DATA ? EX_NQ_OK : EX_NQ_FALLBACK;
usage:
	fprintf(stderr, "usage: dataline-netq decide voice|text [--min-kbps N]"
		" [--max-rtt-ms N] [--max-loss-pct N] [--probe-max-age-s N] "
		"[--json]\n");
	return EX_NQ_USAGE;
}
