/*
 * hostport: the one parser for "host:port", "[v6]:port", "*:port" and a
 * bare "host" with a default port, as given on command lines and in
 * configuration (--sip-udp, --http, netq targets, the handset's server
 * URI). The host part follows RFC 3986 s.3.2.2 loosely: an IPv6 literal
 * in brackets, anything else up to the port's colon.
 *
 * Pure: (pointer, length) in, a slice of the input out, no allocation,
 * no DNS. hostport_sockaddr() turns a numeric host into an address for
 * callers that bind; names are left to the caller (getaddrinfo).
 * Junk is -EINVAL: no port where one is required, a port that is not 1 to
 * 5 digits or is 0 or above 65535, unbalanced or stray brackets, an empty
 * host where no wildcard is allowed, control bytes, NULs, spaces.
 */
#ifndef DATALINE_HOSTPORT_H
#define DATALINE_HOSTPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Flags for hostport_parse(). */
enum {
	/* "host" with no ":port" takes the default port */
	HOSTPORT_PORT_OPTIONAL = 1 << 0,
	/* "*:port" and ":port" mean any address (wildcard set, host "") */
	HOSTPORT_WILDCARD = 1 << 1,
	/* "::1:5060": an unbracketed IPv6 host, split at the last colon
	 * (what sipd always took; ambiguous, so only on request) */
	HOSTPORT_BARE_V6 = 1 << 2,
};

struct hostport {
	const char *host;      /* borrowed slice of the input, no brackets */
	size_t host_len;       /* 0 for a wildcard */
	uint16_t port;
	unsigned bracketed : 1; /* written "[...]" */
	unsigned wildcard : 1;  /* "*" or empty: any address */
	unsigned has_port : 1;  /* the port was written, not the default */
};

/* Parses S[0..LEN). DEFPORT is used only with HOSTPORT_PORT_OPTIONAL
 * (and must then be 1..65535). Returns 0 (OUT set) or -EINVAL. */
int hostport_parse(const char *s, size_t len, unsigned flags,
		   uint16_t defport, struct hostport *out);

/* Copies the host, NUL-terminated, into BUF. -EINVAL if it does not fit
 * (BUF untouched then). */
int hostport_host(const struct hostport *hp, char *buf, size_t cap);

/* The numeric address: a wildcard is 0.0.0.0, a bracketed host must be
 * IPv6, another IPv4 or (with HOSTPORT_BARE_V6 input) IPv6. *LEN is set
 * to the address's size. -EINVAL for names and bad literals. */
int hostport_sockaddr(const struct hostport *hp, struct sockaddr_storage *ss,
		      socklen_t *len);

#endif
