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

int main(int argc, char **argv)
{
	parser_init();
	return bench_main(argc, argv, one);
}
