/*
 * hostport: "host:port", "[v6]:port", "*:port", "host" (hostport.h).
 * One parser for the four the tree had (sipd, the HTTP API, netq, the
 * handset's server URI), each of which took a slightly different set of
 * inputs; the differences that were deliberate are flags now.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "dataline/hostport.h"

/* A host byte outside brackets: printable ASCII but space, '[' and ']'
 * (bytes >= 0x80 pass: IDNs are the resolver's business). */
static int host_byte_ok(unsigned char c)
{
	return c > 0x20 && c != 0x7f && c != '[' && c != ']';
}

/* P[0..N): 1 to 5 digits, 1..65535. */
static int parse_port(const char *p, size_t n, uint16_t *out)
{
	unsigned v = 0;
	size_t i;

	if (n == 0 || n > 5)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

int hostport_parse(const char *s, size_t len, unsigned flags,
		   uint16_t defport, struct hostport *out)
{
	struct hostport hp = { 0 };
	const char *end = s + len, *h, *he, *colon = NULL, *q;
	size_t colons = 0;

	if (!s || len == 0 || memchr(s, '\0', len))
		return -EINVAL;
	if (*s == '[') {
		h = s + 1;
		he = memchr(h, ']', (size_t)(end - h));
		if (!he || !memchr(h, ':', (size_t)(he - h)))
			return -EINVAL; /* unbalanced, or not an IPv6 literal */
		for (q = h; q < he; q++)
			if (!host_byte_ok((unsigned char)*q))
				return -EINVAL;
		hp.bracketed = 1;
		if (he + 1 < end) {
			if (he[1] != ':')
				return -EINVAL;
			colon = he + 1;
		}
	} else {
		h = s;
		for (q = s; q < end; q++) {
			if (*q == ':') {
				colons++;
				colon = q;
			} else if (!host_byte_ok((unsigned char)*q)) {
				return -EINVAL;
			}
		}
		/* two or more colons: an IPv6 address without brackets */
		if (colons > 1 && !(flags & HOSTPORT_BARE_V6))
			return -EINVAL;
		he = colon ? colon : end;
	}
	if (colon) {
		if (parse_port(colon + 1, (size_t)(end - colon - 1), &hp.port))
			return -EINVAL;
		hp.has_port = 1;
	} else {
		if (!(flags & HOSTPORT_PORT_OPTIONAL) || defport == 0)
			return -EINVAL;
		hp.port = defport;
	}
	if (!hp.bracketed &&
	    (he == h || (he - h == 1 && *h == '*'))) {
		if (!(flags & HOSTPORT_WILDCARD) || !hp.has_port)
			return -EINVAL;
		hp.wildcard = 1;
		he = h;
	}
	hp.host = h;
	hp.host_len = (size_t)(he - h);
	*out = hp;
	return 0;
}

int hostport_host(const struct hostport *hp, char *buf, size_t cap)
{
	if (hp->host_len >= cap)
		return -EINVAL;
	memcpy(buf, hp->host, hp->host_len);
	buf[hp->host_len] = '\0';
	return 0;
}

int hostport_sockaddr(const struct hostport *hp, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	struct sockaddr_storage a;
	struct sockaddr_in *sin = (struct sockaddr_in *)&a;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a;
	char host[INET6_ADDRSTRLEN];

	memset(&a, 0, sizeof(a));
	if (hp->wildcard) {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		sin->sin_port = htons(hp->port);
		*len = sizeof(*sin);
		goto out;
	}
	if (hostport_host(hp, host, sizeof(host)))
		return -EINVAL;
	if (!hp->bracketed && inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(hp->port);
		*len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(hp->port);
		*len = sizeof(*sin6);
	} else {
		return -EINVAL;
	}
out:
	*ss = a;
	return 0;
}
