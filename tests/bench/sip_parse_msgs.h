/*
 * sip_parse_msgs.h: the messages both SIP parse benchmarks (ours in
 * sip_parse.c, osip2's in osip/sip_parse_osip.c) parse, so the two
 * contenders see the same bytes: a REGISTER with a digest Authorization
 * as baresip sends it, and an INVITE with an SDP offer.
 */
#ifndef SIP_PARSE_MSGS_H
#define SIP_PARSE_MSGS_H

static const char bench_register[] =
	"REGISTER sip:dataline.local SIP/2.0\r\n"
	"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK3b1e2f0a9c;rport\r\n"
	"Contact: <sip:8613800138000-ab12cd34@192.0.2.10:5060;transport=udp>;expires=3600;+sip.instance=\"<urn:uuid:5a6f8e9c-1d2b-4c3a-9e8f-7a6b5c4d3e2f>\"\r\n"
	"Max-Forwards: 70\r\n"
	"To: <sip:+8613800138000@dataline.local>\r\n"
	"From: <sip:+8613800138000@dataline.local>;tag=6a1c0e5f3b2d\r\n"
	"Call-ID: 4f6e2a1b9c8d7e6f@192.0.2.10\r\n"
	"CSeq: 2 REGISTER\r\n"
	"User-Agent: baresip v2.9.0 (x86_64/linux)\r\n"
	"Authorization: Digest username=\"8613800138000-ab12cd34\", realm=\"dataline.local\", "
	"nonce=\"00000000656f1a2b9f8e7d6c5b4a39281716151413121110f0e0d0c0b0a09080\", "
	"uri=\"sip:dataline.local\", response=\"2c7a4f0d8e1b3a5c6d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c\", "
	"algorithm=SHA-256, cnonce=\"8f7e6d5c4b3a2910\", qop=auth, nc=00000001\r\n"
	"Allow: INVITE,ACK,BYE,CANCEL,OPTIONS,NOTIFY,SUBSCRIBE,INFO,MESSAGE,UPDATE,REFER\r\n"
	"Supported: replaces,norefersub,gruu,outbound,path\r\n"
	"Expires: 3600\r\n"
	"Content-Length: 0\r\n"
	"\r\n";

static const char bench_invite[] =
	"INVITE sip:+8613900139000@dataline.local SIP/2.0\r\n"
	"Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bK776asdhds;rport\r\n"
	"Via: SIP/2.0/TLS 198.51.100.1:5061;branch=z9hG4bK4b43c2ff8.1;received=198.51.100.1\r\n"
	"Record-Route: <sip:198.51.100.1:5061;transport=tls;lr>\r\n"
	"Max-Forwards: 69\r\n"
	"To: <sip:+8613900139000@dataline.local>\r\n"
	"From: \"Zhang Wei\" <sip:+8613800138000@dataline.local>;tag=1928301774\r\n"
	"Call-ID: a84b4c76e66710@pc33.dataline.local\r\n"
	"CSeq: 314159 INVITE\r\n"
	"Contact: <sip:8613800138000-ab12cd34@192.0.2.10:5061;transport=tls>\r\n"
	"Allow: INVITE,ACK,BYE,CANCEL,OPTIONS,MESSAGE,UPDATE\r\n"
	"Supported: 100rel,timer,replaces\r\n"
	"Session-Expires: 1800\r\n"
	"User-Agent: dataline/0.1\r\n"
	"Content-Type: application/sdp\r\n"
	"Content-Length: 355\r\n"
	"\r\n"
	"v=0\r\n"
	"o=- 3911580316 3911580316 IN IP4 192.0.2.10\r\n"
	"s=dataline\r\n"
	"c=IN IP4 192.0.2.10\r\n"
	"t=0 0\r\n"
	"m=audio 40000 RTP/SAVP 111 0 8 101\r\n"
	"a=rtpmap:111 opus/48000/2\r\n"
	"a=fmtp:111 useinbandfec=1\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n"
	"a=sendrecv\r\n";


/*
 * The timing loop both contenders share, so they are measured by the same
 * code: best of 5 runs of ITER calls of ONE (which returns < 0 when the
 * message does not parse); prints "NAME <messages/s> <ns/message>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void bench_run(const char *name, const char *msg, size_t len,
		      long iter, int (*one)(const char *, size_t))
{
	double best = 1e99;
	volatile long sink = 0;

	if (one(msg, len) < 0) {
		fprintf(stderr, "%s does not parse\n", name);
		exit(1);
	}
	for (int r = 0; r < 5; r++) {
		double t0 = bench_now();
		for (long i = 0; i < iter; i++)
			sink += one(msg, len);
		double dt = bench_now() - t0;
		if (dt < best)
			best = dt;
	}
	printf("%s %.0f %.1f\n", name, (double)iter / best, best / (double)iter * 1e9);
	(void)sink;
}

/* main() of both benchmarks: [ITER] (default 200000). */
static int bench_main(int argc, char **argv, int (*one)(const char *, size_t))
{
	long iter = argc > 1 ? atol(argv[1]) : 200000;

	bench_run("REGISTER", bench_register, sizeof(bench_register) - 1, iter, one);
	bench_run("INVITE", bench_invite, sizeof(bench_invite) - 1, iter, one);
	return 0;
}

#endif
