/*
 * sip_parse_osip: the same parse-rate benchmark as ../sip_parse.c, with
 * GNU oSIP2's parser (libosipparser2, Debian libosip2-dev) as the
 * contender: osip_message_init + osip_message_parse (which parses every
 * known header into allocated structures, Contacts included) +
 * osip_message_free. Built and run by ../sip_parse.sh, not by the
 * Makefile (it needs -losipparser2).
 * Usage: sip_parse_osip [ITER]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <osipparser2/osip_parser.h>

#include "../sip_parse_msgs.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int one(const char *msg, size_t len)
{
	osip_message_t *m;
	int n;

	if (osip_message_init(&m) != 0)
		return -1;
	if (osip_message_parse(m, msg, len) != 0) {
		osip_message_free(m);
		return -1;
	}
	n = osip_list_size(&m->contacts) + osip_list_size(&m->vias);
	osip_message_free(m);
	return n;
}

static void run(const char *name, const char *msg, size_t len, long iter)
{
	double best = 1e99;
	volatile long sink = 0;

	if (one(msg, len) < 0) {
		fprintf(stderr, "%s does not parse\n", name);
		exit(1);
	}
	for (int r = 0; r < 5; r++) {
		double t0 = now();
		for (long i = 0; i < iter; i++)
			sink += one(msg, len);
		double dt = now() - t0;
		if (dt < best)
			best = dt;
	}
	printf("%s %.0f %.1f\n", name, (double)iter / best, best / (double)iter * 1e9);
	(void)sink;
}

int main(int argc, char **argv)
{
	long iter = argc > 1 ? atol(argv[1]) : 200000;
	parser_init();
	run("REGISTER", bench_register, sizeof(bench_register) - 1, iter);
	run("INVITE", bench_invite, sizeof(bench_invite) - 1, iter);
	return 0;
}
