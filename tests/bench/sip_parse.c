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

int main(int argc, char **argv)
{
	return bench_main(argc, argv, one);
}
