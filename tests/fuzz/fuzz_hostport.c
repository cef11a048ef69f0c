/*
 * fuzz_hostport: libFuzzer target for hostport_parse() under every flag
 * combination: never reads past len, whatever it accepts is a slice of the
 * input with a port in 1..65535, and writing it back as "host:port" (IPv6
 * in brackets) parses to the same host and port.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataline/hostport.h"

static void check(const char *in, size_t size, unsigned flags)
{
	struct sockaddr_storage ss;
	struct hostport hp, again;
	char host[512], text[600];
	socklen_t len;
	int n;

	if (hostport_parse(in, size, flags, 5060, &hp) != 0)
		return;
	if (hp.port == 0 || hp.host < in || hp.host + hp.host_len > in + size)
		abort();
	if (hp.wildcard != (hp.host_len == 0))
		abort();
	if (!hp.has_port && !(flags & HOSTPORT_PORT_OPTIONAL))
		abort();
	if (hostport_host(&hp, host, sizeof(host)) != 0)
		abort(); /* size <= 256 */
	if (hostport_sockaddr(&hp, &ss, &len) == 0 &&
	    len > sizeof(struct sockaddr_storage))
		abort();
	if (hp.wildcard)
		n = snprintf(text, sizeof(text), ":%u", hp.port);
	else
		n = snprintf(text, sizeof(text),
			     hp.bracketed ? "[%s]:%u" : "%s:%u", host, hp.port);
	if (hostport_parse(text, (size_t)n, flags, 5060, &again) != 0 ||
	    again.port != hp.port || again.host_len != hp.host_len ||
	    memcmp(again.host, hp.host, hp.host_len) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned flags;

	if (size > 256)
		return 0;
	for (flags = 0; flags < 8; flags++)
		check((const char *)data, size, flags);
	return 0;
}
