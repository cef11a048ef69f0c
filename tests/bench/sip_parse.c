/*
 * sip_parse: parse-rate benchmark of lib/sip's zero-copy parser on the
 * messages of sip_parse_msgs.h (RFC 3261). Per message kind it prints
 *   NAME <messages/s> <ns/message>
 * the best of 5 timed runs of ITER parses each. A "parse" here is
 * sip_msg_parse (which validates Via, From, To, Call-ID, CSeq,
 * Max-Forwards, Expires, Content-Length, Contact) plus decoding the
 * Contact list -- the work a registrar needs before it looks anything up.
 * Usage: sip_parse [ITER]   (default 200000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "dataline/sip.h"
#include "sip_parse_msgs.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int one(const char *msg, size_t len)
{
	struct sip_msg m;
	struct sip_list_iter it;
	struct sip_str v;
	struct sip_contact c;
	int n = 0;

	if (sip_msg_parse(msg, len, SIP_PARSE_STREAM, &m, NULL))
		return -1;
	sip_list_init(&it, &m, SIP_HDR_CONTACT);
	while (sip_list_next(&it, &v) == 0)
		if (sip_contact_decode(v, &c) == 0)
			n++;
	return n + (int)m.nvia;
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
	run("REGISTER", bench_register, sizeof(bench_register) - 1, iter);
	run("INVITE", bench_invite, sizeof(bench_invite) - 1, iter);
	return 0;
}
